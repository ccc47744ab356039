#!/bin/bash
# nfacctd_threads: 2 — several receiver threads on one port, steered by
# exporter address.  Three synthetic NetFlow v9 exporters (127.0.0.2,
# .3, .4 on lo; bench/nfsend binds its sockets to them) each send one
# template then data, every datagram from one of 6 source ports in turn:
# only a steering by source *address* (not the kernel's 4-tuple hash) keeps
# data on the thread that holds its template.  Checks: every record
# accounted (print CSV per exporter = what was sent), no unknown_template,
# no sequence gaps, no kernel drops, per-exporter counters of all three in
# `pmacct --stats`, both receiver threads used.
. "$top_srcdir/tests/lib.sh"

need_ours
need_our_client
need_module netflow
NFSEND=$top_builddir/bench/nfsend
[ -x "$NFSEND" ] || skip "bench/nfsend is not built (make check builds it)"

EXPORTERS="127.0.0.2 127.0.0.3 127.0.0.4"
DGRAMS=400 # per exporter: 1 template + 399 data datagrams
PER=20     # records per data datagram
PIPE=$T/m.pipe

start_on() { # start_on PORT: 0 when the daemon listens on PORT
    pm_conf "$T/nf.conf" <<CONF
nfacctd_port: $1
nfacctd_ip: 127.0.0.1
nfacctd_threads: 2
nfacctd_pipe_size: 4194304
plugins: print[p], memory[m]
aggregate: peer_src_ip
print_output[p]: csv
print_output_file[p]: $T/out.csv
print_refresh_time[p]: 3600
imt_path[m]: $PIPE
CONF
    start_our_pmacctd "$T/nf.conf" --daemon nfacctd
    wait_for "grep -q 'waiting for NetFlow' '$T/nf.conf.log' || ! daemon_alive" 20 || return 1
    daemon_alive
}

port=$((20000 + $$ % 20000))
for try in 1 2 3 4 5; do
    start_on $port && break
    stop_daemon
    [ $try = 5 ] && { cat "$T/nf.conf.log" >&2; fail "daemon did not start"; }
    port=$((port + 1))
done
grep -q '2 receiver threads' "$T/nf.conf.log" || fail "not 2 receiver threads: $(cat "$T/nf.conf.log")"

# send from the three exporters at once
declare -A SENT
pids=()
for e in $EXPORTERS; do
    "$NFSEND" -d 127.0.0.1 -p $port -s $e -y $DGRAMS -f $PER -k 6 -r 20000 >"$T/send.$e" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "nfsend failed: $(cat "$T"/send.*)"; done
total=0
for e in $EXPORTERS; do
    # sent 400 datagrams, 7980 records, 31920 packets, 3238... bytes in ...
    read -r d r p b < <(awk '{gsub(",", ""); print $2, $4, $6, $8}' "$T/send.$e")
    [ "$d" = $DGRAMS ] || fail "nfsend $e: $(cat "$T/send.$e")"
    SENT[$e]="$p,$b"
    SENT_R[${e##*.}]=$r
    total=$((total + r))
done

stat() { "$PM_OUR_PMACCT" -p "$PIPE" --stats 2>/dev/null | awk -v k="netflow.default.$1" '$1 == k { print $2 }'; }
wait_for "[ \"\$(stat records)\" = $total ] || ! daemon_alive" 30 ||
    fail "records counted: $(stat records), sent: $total; $("$PM_OUR_PMACCT" -p "$PIPE" --stats 2>&1 | grep netflow)"
"$PM_OUR_PMACCT" -p "$PIPE" --stats >"$T/stats" 2>&1
# per-exporter counters are published when a receiver is idle
for e in $EXPORTERS; do
    k=$(echo "$e" | tr . _)
    wait_for "[ \"\$(stat exporter_${k}_records)\" = ${SENT_R[${e##*.}]} ]" 10 ||
        fail "exporter $e: records counter '$(stat exporter_${k}_records)', sent ${SENT_R[${e##*.}]}"
    [ "$(stat exporter_${k}_datagrams)" = $DGRAMS ] || fail "exporter $e: datagrams $(stat exporter_${k}_datagrams)"
    [ "$(stat exporter_${k}_unknown_template)" = 0 ] || fail "exporter $e: unknown_template $(stat exporter_${k}_unknown_template)"
    [ "$(stat exporter_${k}_seq_gaps)" = 0 ] || fail "exporter $e: seq_gaps $(stat exporter_${k}_seq_gaps)"
done
for k in unknown_template seq_gaps malformed socket_drops dropped_pending; do
    [ "$(stat $k)" = 0 ] || fail "$k = $(stat $k) (expected 0)"
done
[ "$(stat datagrams)" = $((3 * DGRAMS)) ] || fail "datagrams $(stat datagrams)"
grep -q 'receiver thread 0' "$T/nf.conf.log" && grep -q 'receiver thread 1' "$T/nf.conf.log" ||
    fail "exporters not spread over both threads: $(grep 'new exporter' "$T/nf.conf.log")"

stop_daemon
for e in $EXPORTERS; do
    got=$(awk -F, -v e="$e" '$1 == e { print $2 "," $3 }' "$T/out.csv")
    [ "$got" = "${SENT[$e]}" ] || fail "exporter $e: print CSV packets,bytes '$got', sent '${SENT[$e]}'; $(cat "$T/out.csv")"
done
[ "$(grep -c 'exporter 127.0.0.[234]: 400 datagrams' "$T/nf.conf.log")" = 3 ] ||
    fail "exporter summary missing in the log: $(grep exporter "$T/nf.conf.log")"
echo "ok: 3 exporters x $DGRAMS datagrams over 2 threads, $total records, all counted"
