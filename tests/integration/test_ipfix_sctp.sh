#!/bin/bash
# IPFIX over SCTP (RFC 7011 10.2, `nfacctd_ipfix_sctp_port`) with a real
# exporter and a real kernel SCTP stack.  When the kernel the tests run on
# has no SCTP (socket(IPPROTO_SCTP) refused, no modules to load), the test
# runs itself inside User-mode Linux (tests/uml_lib.sh: Debian's
# user-mode-linux kernel, sctp + hmac modules, the host's / as root).
# Checks:
#  1. softflowd 1.1.0 reading the bundled capture and exporting IPFIX over
#     SCTP (-P sctp) to our nfacctd is accounted exactly as the same
#     softflowd run exporting over UDP (print CSV, 5-tuple, equal row by
#     row); the message and record counts match softflowd's own report;
#     one association counted (stream_connections);
#  2. tests/data/exporters/ipfix_stream_send.py --sctp writing softflowd's
#     IPFIX capture (one IPFIX message per SCTP message, as 10.2 requires)
#     is accounted as the capture read from the file.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/uml_lib.sh"

need_ours
need_our_client
need_module netflow
need_module print
need_module memory
need_tool softflowd "softflowd, the IPFIX exporter"
[ -x "$PM_PY" ] || skip "needs $PM_PY"
if ! "$PM_PY" -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)' 2>/dev/null; then
    [ -n "${PM_IN_UML:-}" ] && fail "no SCTP in the UML guest either"
    uml_reexec "this kernel has no SCTP" sctp hmac
fi
[ -n "${PM_IN_UML:-}" ] && note "running in a User-mode Linux guest ($(uname -r)): this kernel has no SCTP"

SEND="$PM_PY $top_srcdir/tests/data/exporters/ipfix_stream_send.py"
SAMPLE=$(sample_pcap)
CAP=$top_srcdir/tests/data/exporters/softflowd-ipfix.pcap
AGG="src_host, dst_host, src_port, dst_port, proto"
PIPE=$T/m.pipe
free_port() { "$PM_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
stat() { "$PM_OUR_PMACCT" -p "$PIPE" --stats 2>/dev/null | awk -v k="netflow.default.$1" '$1 == k { print $2 }'; }

# start NAME EXTRA-KEY-LINE: our nfacctd on loopback, print CSV to $T/NAME.csv
start() {
    pm_conf "$T/$1.conf" <<CONF
nfacctd_ip: 127.0.0.1
nfacctd_port: ${UDP:-$(free_port)}
$2
plugins: print[p], memory[m]
aggregate: $AGG
print_output[p]: csv
print_output_file[p]: $T/$1.csv
print_refresh_time[p]: 3600
imt_path[m]: $PIPE
CONF
    rm -f "$PIPE"
    start_our_pmacctd "$T/$1.conf" --daemon nfacctd
    wait_for "grep -q 'waiting for NetFlow' '$T/$1.conf.log' || ! daemon_alive" 60
    daemon_alive || fail "$1: daemon did not start: $(cat "$T/$1.conf.log")"
    wait_for "[ -e '$PIPE' ]" 20 || fail "$1: memory plugin pipe missing"
}
# softflowd_to NAME PROTO PORT: softflowd reads the sample, exports IPFIX
softflowd_to() {
    softflowd -d -r "$SAMPLE" -v 10 -P "$2" -n "127.0.0.1:$3" -c none \
        -p "$T/sf.pid" >"$T/$1.softflowd" 2>&1 ||
        fail "$1: softflowd -P $2 failed: $(tail -5 "$T/$1.softflowd")"
    sed -n 's/^Flows exported: [0-9]* (\([0-9]*\) records) in \([0-9]*\) packets.*/\1 \2/p' "$T/$1.softflowd"
}

# 1. softflowd over SCTP ...
SCTP=$(free_port)
UDP=
start sctp "nfacctd_ipfix_sctp_port: $SCTP"
grep -q "waiting for IPFIX over SCTP on \[127.0.0.1\]:$SCTP" "$T/sctp.conf.log" ||
    fail "no SCTP listener in the log: $(cat "$T/sctp.conf.log")"
read -r recs msgs < <(softflowd_to sctp sctp "$SCTP")
[ "${msgs:-0}" -gt 10 ] || fail "softflowd over SCTP sent ${msgs:-no} messages: $(cat "$T/sctp.softflowd")"
wait_for "[ \"\$(stat datagrams_ipfix)\" = $msgs ]" 30 ||
    fail "SCTP: IPFIX messages decoded $(stat datagrams_ipfix), softflowd sent $msgs"
[ "$(stat records)" = "$recs" ] || fail "SCTP: records $(stat records), softflowd exported $recs"
[ "$(stat stream_connections)" = 1 ] || fail "SCTP: stream_connections $(stat stream_connections)"
[ "$(stat unknown_template)" = 0 ] || fail "SCTP: unknown_template $(stat unknown_template)"
stop_daemon
grep -q "IPFIX/SCTP from \[127.0.0.1\]:[0-9]*: closed by the peer after $msgs messages" "$T/sctp.conf.log" ||
    fail "no close line for the association: $(grep IPFIX "$T/sctp.conf.log")"

# ... accounted as softflowd over UDP
UDP=$(free_port)
start udp ""
read -r urecs umsgs < <(softflowd_to udp udp "$UDP")
wait_for "[ \"\$(stat datagrams_ipfix)\" = $umsgs ]" 30 ||
    fail "UDP: IPFIX datagrams $(stat datagrams_ipfix), softflowd sent $umsgs"
stop_daemon
[ "$urecs" = "$recs" ] || fail "softflowd exported $recs records over SCTP, $urecs over UDP"
[ "$(wc -l <"$T/sctp.csv")" -gt 100 ] || fail "SCTP run accounted almost nothing: $(head "$T/sctp.csv")"
compare_tables "$T/udp.csv" "$T/sctp.csv" "softflowd IPFIX over UDP vs over SCTP" ||
    fail "SCTP accounting differs from UDP's"

# 2. the IPFIX messages of softflowd's capture, one per SCTP message
nf_savefile_csv "$CAP" "$T/file.csv" "$AGG" || fail "savefile run failed"
SCTP=$(free_port)
UDP=
start sent "nfacctd_ipfix_sctp_port: $SCTP"
$SEND send --sctp "$CAP" 127.0.0.1 "$SCTP" >"$T/send" 2>&1 || fail "SCTP sender: $(cat "$T/send")"
read -r _ nmsg _ <"$T/send"
wait_for "[ \"\$(stat datagrams_ipfix)\" = $nmsg ]" 30 ||
    fail "sent: IPFIX messages $(stat datagrams_ipfix), sent $nmsg"
stop_daemon
compare_tables "$T/file.csv" "$T/sent.csv" "softflowd's capture sent over SCTP vs read from the file" ||
    fail "SCTP accounting differs from the capture's"
echo "ok: IPFIX over SCTP: softflowd $msgs messages / $recs records = over UDP; the capture's $nmsg messages sent over SCTP = read from the file"
