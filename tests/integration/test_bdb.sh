#!/bin/bash
# Integration test of the bdb output (docs/BDB.md) with our pmacctd and
# our pmacct client on tests/data/sample.pcap:
#  1. one daemon with memory[m] and bdb[b] on the same aggregates (the
#     5-tuple, and MACs + VLAN + ToS): every client query (-s formatted,
#     CSV, JSON, -T, -M, -N, -n all, -S, -t) gives identical answers on
#     both; bdb_refresh_time: 1 writes bl2's file while it runs, b5's
#     (bdb_refresh_time: 0) is written at exit only;
#  2. stopped (SIGTERM) and started again on the same capture: every bdb
#     row's packets/bytes are twice the memory table's (persistence);
#  3. pmacct -e on b5 (no refresh), then SIGKILL (no exit save): restarted
#     on an empty capture, b5 is empty (the clear reached the file at
#     once) and bl2 kept its rows (written by its refresh);
#  4. a garbage file and a truncated one: pmacctd exits 1 (no crash) with
#     an error naming bdb_file.
. "$top_srcdir/tests/lib.sh"

PCAP=$(sample_pcap)
PCAPGEN=$top_builddir/tests/gen/pcapgen
need_ours
need_our_client
need_module bdb
need_module memory
[ -x "$PCAPGEN" ] || skip "pcapgen not built ($PCAPGEN)"

A5="src_host, dst_host, src_port, dst_port, proto"
AL2="src_mac, dst_mac, vlan, tos"
C=$PM_OUR_PMACCT

# npackets PCAP: records in a classic pcap file
npackets() {
    "$PM_PY" - "$1" <<'EOF'
import struct, sys
d = open(sys.argv[1], 'rb').read()
e = '<' if d[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
off, n = 24, 0
while off + 16 <= len(d):
    off += 16 + struct.unpack(e + 'I', d[off + 8:off + 12])[0]
    n += 1
print(n)
EOF
}

# write_conf FILE PCAP: memory + bdb, two aggregates each (no pcap_filter:
# no reference daemon runs here)
write_conf() {
    NPKTS=$(npackets "$2")
    cat >"$1" <<CONF
daemonize: false
pcap_savefile: $2
pcap_savefile_wait: true
plugins: memory[m5], bdb[b5], memory[ml2], bdb[bl2]
aggregate[m5]: $A5
aggregate[b5]: $A5
aggregate[ml2]: $AL2
aggregate[bl2]: $AL2
imt_path[m5]: $T/m5.pipe
imt_path[b5]: $T/b5.pipe
imt_path[ml2]: $T/ml2.pipe
imt_path[bl2]: $T/bl2.pipe
bdb_file[b5]: $T/b5.db
bdb_file[bl2]: $T/bl2.db
bdb_refresh_time[b5]: 0
bdb_refresh_time[bl2]: 1
CONF
}

# entries PIPE: the "For a total of" count, or -1
entries() {
    "$C" -p "$1" -s 2>/dev/null | sed -n 's/^For a total of: \([0-9]*\) entries$/\1/p' | grep . || echo -1
}

# settled: the capture read all NPKTS packets, every pipeline received them
# and has nothing queued, and the four tables accounted the same records
settled() {
    local p s
    for p in m5 b5 ml2 bl2; do [ -S "$T/$p.pipe" ] || return 1; done
    s=$("$C" -p "$T/m5.pipe" --stats 2>/dev/null) || return 1
    echo "$s" | awk -v n="$NPKTS" '
        $1 == "pcap.default.packets" { pk = $2 }
        $1 ~ /^pipeline\..*\.received$/ { if ($2 != n) bad = 1 }
        $1 ~ /^pipeline\..*\.queue_depth$/ { if ($2 != 0) bad = 1 }
        $1 ~ /^(memory|bdb)\..*\.records$/ { r[$2] = 1; nr++ }
        END { k = 0; for (v in r) { k++; if (v == 0 && n > 0) bad = 1 }
              exit !(pk == n && !bad && nr == 4 && k == 1) }'
}

start_and_settle() {
    start_our_pmacctd "$1"
    wait_for "settled || ! daemon_alive" 60
    daemon_alive || { tail -n 30 "$1.log" >&2; fail "daemon exited early"; }
    settled || fail "tables never settled (log: $1.log)"
}

# ask PIPE OUT ARGS...: one query, answer and exit code in OUT
ask() {
    local pipe=$1 out=$2
    shift 2
    "$C" -p "$pipe" "$@" >"$out" 2>&1
    echo "rc=$?" >>"$out"
}

# queries of one table pair: name|args (';' inside -M/-N kept as is)
QUERIES5=(
    "show|-s"
    "csv|-s -O csv"
    "json|-s -O json"
    "top|-s -T bytes,5"
    "match|-M 10.0.0.1,10.0.0.2,12345,80,tcp -c src_host,dst_host,src_port,dst_port,proto"
    "match6|-M 2001:db8::1 -c src_host"
    "nomatch|-M 203.0.113.99 -c src_host"
    "count|-N 10.0.0.1 -c src_host"
    "counts|-N 10.0.0.1;10.0.0.2;2001:db8::1 -c src_host -n all"
    "sum|-N 10.0.0.1;10.0.0.2 -c dst_host -S -n packets"
    "status|-t"
)
QUERIESL2=(
    "show|-s"
    "csv|-s -O csv"
    "vlan|-N 10;20;30;4094 -c vlan -n all"
)

# compare_pair M B NAME QUERIES...: same answers from both tables
compare_pair() {
    local m=$1 b=$2 name=$3 q n args bad=0
    shift 3
    mkdir -p "$T/$name"
    for q in "$@"; do
        n=${q%%|*}
        args=${q#*|}
        # shellcheck disable=SC2086
        ask "$T/$m.pipe" "$T/$name/$n.mem" $args
        # shellcheck disable=SC2086
        ask "$T/$b.pipe" "$T/$name/$n.bdb" $args
        case $n in
        show | csv | top) compare_tables "$T/$name/$n.mem" "$T/$name/$n.bdb" "$name: pmacct $args" || bad=1 ;;
        json) grep -v '^rc=' "$T/$name/$n.mem" >"$T/$name/$n.mem.j"
            grep -v '^rc=' "$T/$name/$n.bdb" >"$T/$name/$n.bdb.j"
            compare_json "$T/$name/$n.mem.j" "$T/$name/$n.bdb.j" "$name: pmacct $args" || bad=1 ;;
        *) if cmp -s "$T/$name/$n.mem" "$T/$name/$n.bdb"; then
               echo "ok: $name: pmacct $args"
           else
               echo "MISMATCH: $name: pmacct $args" >&2
               diff -u "$T/$name/$n.mem" "$T/$name/$n.bdb" | head -n 20 >&2
               bad=1
           fi ;;
        esac
    done
    return $bad
}

# ---- 1. bdb answers as memory does -----------------------------------------
write_conf "$T/run.conf" "$PCAP"
start_and_settle "$T/run.conf"
bad=0
compare_pair m5 b5 first "${QUERIES5[@]}" || bad=1
compare_pair ml2 bl2 first-l2 "${QUERIESL2[@]}" || bad=1
[ $bad = 0 ] || fail "bdb answers differ from memory's (temp dir: $T)"
grep -q "rc=0" "$T/first/count.bdb" || fail "-N on bdb failed"
[ "$(entries "$T/b5.pipe")" -gt 100 ] || fail "bdb table unexpectedly small"
# the refresh writes bl2's file while the daemon runs; b5 (refresh 0)
# writes only at exit
wait_for "[ -s '$T/bl2.db' ]" 15 ||
    fail "bdb_refresh_time: 1 wrote no bdb_file within 15 s"
echo "ok: refresh wrote $T/bl2.db while running"
[ -e "$T/b5.db" ] && fail "bdb_refresh_time: 0 wrote $T/b5.db before exit"
stop_daemon
[ -s "$T/b5.db" ] || fail "no $T/b5.db written at exit"
grep -E "ERR|WARN" "$T/run.conf.log" && fail "errors or warnings in the first run's log"
[ -e "$T/b5.pipe" ] && fail "imt_path left behind"

# ---- 2. persistence: counters double ----------------------------------------
start_and_settle "$T/run.conf"
grep -q "loaded [0-9]* aggregates" "$T/run.conf.log" || fail "no load logged"
# doubled PIPE_M PIPE_B: every bdb row = 2 x the memory row
doubled() {
    "$C" -p "$T/$1.pipe" -s -O csv | sed 1d >"$T/$1.csv"
    "$C" -p "$T/$2.pipe" -s -O csv | sed 1d >"$T/$2.csv"
    awk -F, 'BEGIN { OFS = "," } { $(NF-1) *= 2; $NF *= 2; print }' "$T/$1.csv" | LC_ALL=C sort >"$T/$1.x2"
    LC_ALL=C sort "$T/$2.csv" >"$T/$2.sorted"
    if cmp -s "$T/$1.x2" "$T/$2.sorted"; then
        echo "ok: $2 holds twice $1 after a restart ($(wc -l <"$T/$2.sorted") rows)"
        return 0
    fi
    echo "MISMATCH: $2 is not twice $1 after a restart" >&2
    diff -u "$T/$1.x2" "$T/$2.sorted" | head -n 20 >&2
    return 1
}
doubled m5 b5 || bad=1
doubled ml2 bl2 || bad=1
[ $bad = 0 ] || fail "counters did not continue across the restart (temp dir: $T)"
n1=$("$C" -p "$T/m5.pipe" -N 10.0.0.1 -c src_host)
n2=$("$C" -p "$T/b5.pipe" -N 10.0.0.1 -c src_host)
[ "$n1" -gt 0 ] && [ "$n2" = $((2 * n1)) ] || fail "-N 10.0.0.1: bdb $n2, memory $n1 (want twice)"
echo "ok: -N after restart: $n2 = 2 x $n1"

# ---- 3. -e clears the file at once --------------------------------------------
"$C" -p "$T/b5.pipe" -e >"$T/clear.out" || fail "pmacct -e failed: $(cat "$T/clear.out")"
[ "$(entries "$T/b5.pipe")" = 0 ] || fail "table not empty after -e"
kill -KILL "$PM_BG_PID"
wait "$PM_BG_PID" 2>/dev/null
stop_daemon
"$PCAPGEN" empty "$T/empty.pcap" || fail "pcapgen empty failed"
write_conf "$T/empty.conf" "$T/empty.pcap"
start_our_pmacctd "$T/empty.conf"
wait_for "[ -S '$T/bl2.pipe' ] && [ -S '$T/b5.pipe' ] || ! daemon_alive" 30
daemon_alive || { tail -n 20 "$T/empty.conf.log" >&2; fail "daemon exited on the empty capture"; }
wait_for "[ \"\$(entries '$T/b5.pipe')\" = 0 ]" 10 ||
    fail "after -e and a crash, bdb_file still holds $(entries "$T/b5.pipe") rows"
echo "ok: -e reached bdb_file before the crash"
# bl2 was not cleared: its rows survived the SIGKILL through the refresh
[ "$(entries "$T/bl2.pipe")" -gt 0 ] || fail "bl2 lost its rows on SIGKILL"
echo "ok: refresh kept bl2's rows across SIGKILL"
stop_daemon

# ---- 4. damaged files: a clear error, exit 1, no crash ---------------------------
damaged() {
    local what=$1 rc
    PM_RUN_TIMEOUT=30 timeout -k 5 30 "$PM_OUR_PMACCTD" -f "$T/empty.conf" >"$T/bad.log" 2>&1 </dev/null
    rc=$?
    [ $rc = 1 ] || { cat "$T/bad.log" >&2; fail "$what: exit $rc, expected 1"; }
    grep -q "bdb_file '$T/b5.db'.*move it away" "$T/bad.log" ||
        { cat "$T/bad.log" >&2; fail "$what: no error naming bdb_file"; }
    echo "ok: $what: $(grep -m1 "bdb_file '$T/b5.db'" "$T/bad.log")"
}
cp "$T/bl2.db" "$T/good.db"
head -c 3000 /dev/urandom >"$T/b5.db"
damaged "garbage bdb_file"
head -c $(($(stat -c %s "$T/good.db") / 2)) "$T/good.db" >"$T/b5.db"
damaged "truncated bdb_file"
cp "$T/good.db" "$T/b5.db"
damaged "bdb_file of another aggregate"
exit 0
