#!/bin/bash
# IPFIX over TCP (RFC 7011 10.4) and SCTP (10.2): `nfacctd_ipfix_tcp_port`
# / `nfacctd_ipfix_sctp_port`.  The exporter is
# tests/data/exporters/ipfix_stream_send.py writing the IPFIX messages of
# softflowd's capture (softflowd-ipfix.pcap) as one byte stream, cut into
# pieces of random sizes so messages straddle reads.  Checks:
#  1. what arrives over TCP is accounted exactly as the same messages read
#     from the capture (print CSV, 5-tuple, equal row by row);
#  2. templates are scoped per connection: a second connection sending
#     the same data without its templates decodes nothing (unknown_template
#     counted, records unchanged);
#  3. broken streams (length 0, length below the header, version 9, a
#     length that lies then EOF) close that connection with a warning
#     naming the peer and count `stream_errors`; the collector keeps
#     serving (a last good connection is accounted);
#  4. SCTP: the same exchange when the kernel has SCTP; otherwise the
#     daemon must refuse to start with a message saying the kernel has none.
. "$top_srcdir/tests/lib.sh"

need_ours
need_our_client
need_module netflow
need_module print
need_module memory
[ -x "$PM_PY" ] || skip "needs $PM_PY"
SEND="$PM_PY $top_srcdir/tests/data/exporters/ipfix_stream_send.py"
CAP=$top_srcdir/tests/data/exporters/softflowd-ipfix.pcap
AGG="src_host, dst_host, src_port, dst_port, proto"
PIPE=$T/m.pipe

# 1. reference for the comparison: the capture read as UDP datagrams
nf_savefile_csv "$CAP" "$T/file.csv" "$AGG" || fail "savefile run failed"
[ "$(wc -l <"$T/file.csv")" -gt 10 ] || fail "savefile run accounted almost nothing: $(cat "$T/file.csv")"

free_port() { "$PM_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_on() { # start_on EXTRA-KEY-LINE
    local udp
    udp=$(free_port)
    pm_conf "$T/tcp.conf" <<CONF
nfacctd_ip: 127.0.0.1
nfacctd_port: $udp
$1
plugins: print[p], memory[m]
aggregate: $AGG
print_output[p]: csv
print_output_file[p]: $T/tcp.csv
print_refresh_time[p]: 3600
imt_path[m]: $PIPE
CONF
    start_our_pmacctd "$T/tcp.conf" --daemon nfacctd
    wait_for "grep -q 'waiting for NetFlow' '$T/tcp.conf.log' || ! daemon_alive" 20
}
stat() { "$PM_OUR_PMACCT" -p "$PIPE" --stats 2>/dev/null | awk -v k="netflow.default.$1" '$1 == k { print $2 }'; }

started=0
for try in 1 2 3 4 5; do
    TCP=$(free_port)
    start_on "nfacctd_ipfix_tcp_port: $TCP"
    daemon_alive && { started=1; break; }
    stop_daemon
done
[ $started = 1 ] || fail "daemon did not start: $(cat "$T/tcp.conf.log")"
grep -q "waiting for IPFIX over TCP on \[127.0.0.1\]:$TCP" "$T/tcp.conf.log" ||
    fail "no TCP listener in the log: $(cat "$T/tcp.conf.log")"
wait_for "[ -S '$PIPE' ] || [ -p '$PIPE' ] || [ -e '$PIPE' ]" 10 || fail "memory plugin pipe missing"

$SEND send --chunks 7 "$CAP" 127.0.0.1 "$TCP" >"$T/send1" 2>&1 || fail "sender: $(cat "$T/send1")"
read -r _ nmsg _ < "$T/send1"
[ "${nmsg:-0}" -gt 10 ] || fail "sender sent too few messages: $(cat "$T/send1")"
wait_for "[ \"\$(stat datagrams_ipfix)\" = $nmsg ]" 20 ||
    fail "IPFIX messages decoded: $(stat datagrams_ipfix), sent $nmsg"
wait_for "grep -q 'IPFIX/TCP from \[127.0.0.1\]:[0-9]*: closed by the peer after $nmsg messages' '$T/tcp.conf.log'" 10 ||
    fail "no close line: $(grep IPFIX "$T/tcp.conf.log")"
records=$(stat records)
[ "$(stat unknown_template)" = 0 ] || fail "unknown_template $(stat unknown_template) on a full stream"
[ "$(stat stream_connections)" = 1 ] || fail "stream_connections $(stat stream_connections)"

# 2. same data on a new connection, templates removed: nothing decodable
$SEND send --strip-templates "$CAP" 127.0.0.1 "$TCP" >"$T/send2" 2>&1 || fail "sender: $(cat "$T/send2")"
wait_for "[ \"\$(stat datagrams_ipfix)\" = $((2 * nmsg)) ]" 20 ||
    fail "second connection: IPFIX messages $(stat datagrams_ipfix), want $((2 * nmsg))"
[ "$(stat records)" = "$records" ] ||
    fail "templates leaked across connections: records $(stat records), were $records"
[ "$(stat unknown_template)" -gt 0 ] || fail "unknown_template not counted without templates"

# 3. broken streams
bad() { # bad HEX WHAT-IN-LOG
    local before out
    before=$(stat stream_errors)
    out=$($SEND raw 127.0.0.1 "$TCP" "$1" 2>&1)
    [ "$out" = "closed by the collector" ] || fail "stream $1: $out"
    wait_for "[ \"\$(stat stream_errors)\" = $((before + 1)) ]" 10 ||
        fail "stream $1: stream_errors $(stat stream_errors), was $before"
    grep -q "WARN.*IPFIX/TCP from \[127.0.0.1\]:[0-9]*: .*$2" "$T/tcp.conf.log" ||
        fail "stream $1: no warning with '$2': $(grep IPFIX "$T/tcp.conf.log" | tail -3)"
}
bad 000a0000000000000000000000000000 "length 0 is shorter than its 16-byte header"
bad 000a000c0000000000000000 "length 12 is shorter"
bad 0009001400000000000000000000000000000000 "version 9 where an IPFIX message"
bad 000affff00000000000000000000000000000000 "closed by the peer inside a message"
daemon_alive || fail "daemon died on broken streams: $(tail "$T/tcp.conf.log")"
# still serving: a good stream after the bad ones (its records count)
$SEND send "$CAP" 127.0.0.1 "$TCP" >"$T/send3" 2>&1 || fail "sender after errors: $(cat "$T/send3")"
wait_for "[ \"\$(stat records)\" = $((2 * records)) ]" 20 ||
    fail "good stream after errors: records $(stat records), want $((2 * records))"
stop_daemon

# 1. (output) TCP accounted twice what the file gives: compare file x 2
awk -F, 'NR == 1 { print; next } { $(NF-1) *= 2; $NF *= 2; print }' OFS=, "$T/file.csv" >"$T/file2.csv"
compare_tables "$T/file2.csv" "$T/tcp.csv" "IPFIX over TCP (2 good connections) vs the capture read twice" ||
    fail "TCP accounting differs from the capture's"

# 4. SCTP
if "$PM_PY" -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)' 2>/dev/null; then
    SCTP=$(free_port)
    rm -f "$T/tcp.csv"
    start_on "nfacctd_ipfix_sctp_port: $SCTP"
    daemon_alive || fail "daemon with SCTP did not start: $(cat "$T/tcp.conf.log")"
    $SEND send --sctp "$CAP" 127.0.0.1 "$SCTP" >"$T/send4" 2>&1 || fail "SCTP sender: $(cat "$T/send4")"
    wait_for "[ \"\$(stat datagrams_ipfix)\" = $nmsg ]" 20 || fail "SCTP: IPFIX messages $(stat datagrams_ipfix)"
    stop_daemon
    compare_tables "$T/file.csv" "$T/tcp.csv" "IPFIX over SCTP vs the capture" || fail "SCTP accounting differs"
    echo "ok: SCTP"
else
    SCTP=$(free_port)
    start_on "nfacctd_ipfix_sctp_port: $SCTP"
    wait_for "! daemon_alive" 10 || fail "daemon started an SCTP listener on a kernel without SCTP"
    stop_daemon
    grep -q "nfacctd_ipfix_sctp_port $SCTP: this kernel has no SCTP" "$T/tcp.conf.log" ||
        fail "no clear error without kernel SCTP: $(cat "$T/tcp.conf.log")"
    note "this kernel has no SCTP (socket(IPPROTO_SCTP) refused): checked the clear refusal only"
fi
echo "ok: IPFIX over TCP: $nmsg messages in random pieces = the capture, templates per connection, 4 broken streams closed and counted"
