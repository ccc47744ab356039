#!/bin/bash
# sfacctd_threads: 2 - several sFlow receiver threads on one port, steered
# by agent (source) address as nfacctd_threads is.  pmacctd's sfprobe
# capture (tests/data/exporters/pmacctd-sfprobe.pcap, 257 datagrams of one
# agent) is replayed at once by three agents, 127.0.0.2/.3/.4 on lo
# (tests/data/exporters/sflow_send.py rewrites the agent address), each
# datagram from the next of 6 source ports: only a steering by address (not
# the kernel's 4-tuple hash) keeps each agent's datagrams in order on one
# thread.  Checks: every agent accounted exactly as the capture read from
# the file (print CSV packets/bytes per agent), no sequence gap beyond the
# capture's own (sfprobe skipped 5 numbers), nothing
# malformed, no kernel drop, per-agent counters in `pmacct --stats`, both
# receiver threads used.
. "$top_srcdir/tests/lib.sh"

need_ours
need_our_client
need_module sflow
need_module print
need_module memory
[ -x "$PM_PY" ] || skip "needs $PM_PY"
CAP=$top_srcdir/tests/data/exporters/pmacctd-sfprobe.pcap
SEND="$PM_PY $top_srcdir/tests/data/exporters/sflow_send.py"
AGENTS="127.0.0.2 127.0.0.3 127.0.0.4"
PIPE=$T/m.pipe

# what one agent must account: the capture read from the file
pm_conf "$T/file.conf" <<CONF
pcap_savefile: $CAP
plugins: print[p]
aggregate: peer_src_ip
print_output[p]: csv
print_output_file[p]: $T/file.csv
print_refresh_time[p]: 3600
CONF
run_our_pmacctd "$T/file.conf" --daemon sfacctd || fail "savefile run failed"
want=$(awk -F, 'NR == 2 { print $2 "," $3 }' "$T/file.csv")
[ -n "$want" ] && [ "$(wc -l <"$T/file.csv")" = 2 ] || fail "savefile run: $(cat "$T/file.csv")"
# datagrams of the capture and the sequence gaps it holds itself (sfprobe
# skipped some numbers): "N GAPS"
read -r ndg gaps < <("$PM_PY" - "$top_srcdir/tests/data/exporters" "$CAP" <<'PY'
import struct, sys
sys.path.insert(0, sys.argv[1])
import importlib.util
spec = importlib.util.spec_from_file_location("s", sys.argv[1] + "/ipfix_stream_send.py")
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
n = gaps = 0
prev = None
for pl in m.pcap_payloads(sys.argv[2]):
    seq = struct.unpack("!I", pl[16:20])[0]  # v5, IPv4 agent
    gaps += prev is not None and seq != prev + 1
    prev, n = seq, n + 1
print(n, gaps)
PY
)
[ "${ndg:-0}" -gt 100 ] || fail "cannot read the capture's datagrams: '$ndg'"

start_on() {
    pm_conf "$T/sf.conf" <<CONF
sfacctd_port: $1
sfacctd_ip: 127.0.0.1
sfacctd_threads: 2
sfacctd_pipe_size: 4194304
plugins: print[p], memory[m]
aggregate: peer_src_ip
print_output[p]: csv
print_output_file[p]: $T/out.csv
print_refresh_time[p]: 3600
imt_path[m]: $PIPE
CONF
    start_our_pmacctd "$T/sf.conf" --daemon sfacctd
    wait_for "grep -q 'waiting for sFlow' '$T/sf.conf.log' || ! daemon_alive" 20 || return 1
    daemon_alive
}
port=$((20000 + ($$ + 7919) % 20000))
for try in 1 2 3 4 5; do
    start_on $port && break
    stop_daemon
    [ $try = 5 ] && { cat "$T/sf.conf.log" >&2; fail "daemon did not start"; }
    port=$((port + 1))
done
grep -q '2 receiver threads' "$T/sf.conf.log" || fail "not 2 receiver threads: $(cat "$T/sf.conf.log")"

pids=()
for a in $AGENTS; do
    $SEND "$CAP" 127.0.0.1 $port $a 6 >"$T/send.$a" 2>&1 &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "sflow_send failed: $(cat "$T"/send.*)"; done
for a in $AGENTS; do
    [ "$(cat "$T/send.$a")" = "sent $ndg datagrams" ] || fail "sender $a: $(cat "$T/send.$a")"
done

stat() { "$PM_OUR_PMACCT" -p "$PIPE" --stats 2>/dev/null | awk -v k="sflow.default.$1" '$1 == k { print $2 }'; }
wait_for "[ \"\$(stat datagrams)\" = $((3 * ndg)) ] || ! daemon_alive" 30 ||
    fail "datagrams counted: $(stat datagrams), sent $((3 * ndg)); $("$PM_OUR_PMACCT" -p "$PIPE" --stats 2>&1 | grep sflow)"
for a in $AGENTS; do
    k=$(echo "$a" | tr . _)
    wait_for "[ \"\$(stat exporter_${k}_datagrams)\" = $ndg ]" 10 ||
        fail "agent $a: datagrams counter '$(stat exporter_${k}_datagrams)', sent $ndg"
    [ "$(stat exporter_${k}_seq_gaps)" = "$gaps" ] ||
        fail "agent $a: seq_gaps $(stat exporter_${k}_seq_gaps), the capture holds $gaps"
done
[ "$(stat seq_gaps)" = $((3 * gaps)) ] || fail "seq_gaps $(stat seq_gaps), want $((3 * gaps))"
for k in malformed socket_drops; do
    [ "$(stat $k)" = 0 ] || fail "$k = $(stat $k) (expected 0)"
done
grep -q 'receiver thread 0' "$T/sf.conf.log" && grep -q 'receiver thread 1' "$T/sf.conf.log" ||
    fail "agents not spread over both threads: $(grep 'new exporter' "$T/sf.conf.log")"
stop_daemon
for a in $AGENTS; do
    got=$(awk -F, -v a="$a" '$1 == a { print $2 "," $3 }' "$T/out.csv")
    [ "$got" = "$want" ] || fail "agent $a: packets,bytes '$got', the capture gives '$want'; $(cat "$T/out.csv")"
done
echo "ok: 3 agents x $ndg sFlow datagrams over 2 receiver threads, each accounted as the capture ($want)"
