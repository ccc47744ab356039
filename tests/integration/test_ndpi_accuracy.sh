#!/bin/bash
# test_ndpi_accuracy.sh - the nDPI classifier against Debian's ndpiReader on
# a few hundred real streams, with a pass mark of 99% of flows agreeing.
#
# Starts, on loopback high ports in a temp dir: nginx serving HTTP and HTTPS
# (its own self-signed certificate), dnsmasq (UDP and TCP DNS), openssl
# s_server (TLS with an SNI), sshd with a temp host key.  The clients open
# one stream each: curl (HTTP GET/HEAD/POST, HTTPS), dig (UDP and +tcp),
# openssl s_client, ssh; tcpdump captures all of it (PM_NDPI_N scales the
# counts: default 60 HTTP, 40 HTTPS, 60 DNS/UDP, 15 DNS/TCP, 20 TLS, 10 SSH
# = 205 streams).  Then our pmacctd with the nDPI classifier only
# (`classifiers:` = a directory holding ndpi.so) prints class per 5-tuple,
# `ndpiReader -i CAP -v 2` lists its flows, and every flow is compared:
# each disagreement is printed, with the percentage.  Also run on
# PM_NDPI_EXTRA_PCAPS (space-separated) when set.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/cls_servers.sh"

need_ours
need_module classify
for t in tcpdump nginx curl dig dnsmasq openssl ssh ssh-keygen python3 ndpiReader; do
    need_tool $t
done
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
need_tool "$SSHD" "openssh-server"
CLS_SO="$top_builddir/classifiers/.libs"
[ -f "$CLS_SO/ndpi.so" ] || skip "nDPI classifier not built in $CLS_SO (libndpi-dev missing)"

N=${PM_NDPI_N:-1}
base=$((20000 + $$ % 20000))
HP=$base HSP=$((base + 1)) DP=$((base + 2)) SP=$((base + 3)) SSHP=$((base + 4))
# nDPI 4.2 recognises DNS on port 53 only (elsewhere both sides say
# "unknown", an agreement that proves nothing): as root, dnsmasq listens on
# 127.0.0.<unused>:53, an address of its own, so no other resolver is hit.
DA=127.0.0.1
if [ "$(id -u)" = 0 ]; then
    DP=53 DA=127.0.$((base % 200 + 20)).$((base % 250 + 2))
fi
CAP=$T/cap.pcap

tcpdump -i lo --immediate-mode -U -s 0 -w "$CAP" \
    "tcp port $HP or tcp port $HSP or (host $DA and port $DP) or tcp port $SP or tcp port $SSHP" \
    2>"$T/tcpdump.err" &
TD=$!
on_exit "kill $TD 2>/dev/null"
wait_for "grep -q 'listening on' '$T/tcpdump.err'" 10 ||
    skip "tcpdump cannot capture on lo: $(cat "$T/tcpdump.err")"

# ---- servers ---------------------------------------------------------------
cls_cert
CLS_PAGE="hello ndpi"
cls_nginx "$HP" "$HSP"
cls_dnsmasq "$DA" "$DP"
NTLS=$((20 * N))
cls_s_server "$SP" $((NTLS + 1))
cls_sshd "$SSHP"

# ---- clients: one stream each --------------------------------------------
wait_for "curl -s -o /dev/null http://127.0.0.1:$HP/" 10 || skip "nginx did not answer"
wait_for "curl -sk -o /dev/null https://127.0.0.1:$HSP/" 10 || skip "nginx (TLS) did not answer"
wait_for "dig +short +tries=1 +time=1 -p $DP @$DA example.test | grep -q 192.0.2.1" 10 ||
    skip "dnsmasq did not answer: $(cat "$T/dnsmasq.err")"
wait_for "echo | timeout 5 openssl s_client -connect 127.0.0.1:$SP -servername www.example.test >'$T/s_client.out' 2>&1" 10 ||
    skip "openssl s_server did not answer: $(cat "$T/s_server.out")"
ssh_once() {
    timeout 5 ssh -p "$SSHP" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
        -o BatchMode=yes -o ConnectTimeout=3 nobody@127.0.0.1 true 2>"$T/ssh.err"
    grep -q 'Permission denied\|Connection closed\|Host key' "$T/ssh.err"
}
wait_for ssh_once 10 || skip "sshd did not answer: $(cat "$T/sshd.err" "$T/ssh.err")"

i=0
while [ $i -lt $((60 * N)) ]; do
    case $((i % 3)) in
    0) curl -s -o /dev/null "http://127.0.0.1:$HP/index.html?q=$i" ;;
    1) curl -s -I -o /dev/null "http://127.0.0.1:$HP/" ;;
    2) curl -s -o /dev/null -d "k=$i" "http://127.0.0.1:$HP/index.html" ;;
    esac || fail "curl http #$i"
    i=$((i + 1))
done
for i in $(seq $((40 * N))); do
    curl -sk -o /dev/null "https://127.0.0.1:$HSP/index.html?q=$i" || fail "curl https #$i"
done
for i in $(seq $((60 * N))); do
    dig +tries=1 +time=2 -p "$DP" @"$DA" "h$i.example.test" >/dev/null || fail "dig #$i"
done
for i in $(seq $((15 * N))); do
    dig +tcp +tries=1 +time=2 -p "$DP" @"$DA" "t$i.example.test" >/dev/null || fail "dig +tcp #$i"
done
for i in $(seq "$NTLS"); do
    echo | timeout 5 openssl s_client -connect "127.0.0.1:$SP" \
        -servername "s$i.example.test" >/dev/null 2>&1 || fail "s_client #$i"
done
for i in $(seq $((10 * N))); do
    ssh_once || fail "ssh #$i: $(cat "$T/ssh.err")"
done
# the last ssh stream closed: stop the capture once its FIN is in
wait_for "[ \$(tcpdump -r '$CAP' -nn 'tcp port $SSHP and tcp[tcpflags] & tcp-fin != 0' 2>/dev/null | wc -l) -ge $((20 * N)) ]" 10 ||
    note "fewer ssh FINs captured than expected"
kill -INT $TD
wait_for "! kill -0 $TD 2>/dev/null" 10 || fail "tcpdump did not stop"
[ -s "$CAP" ] || fail "empty capture"

# ---- compare ---------------------------------------------------------------
mkdir -p "$T/ndpi"
cp "$CLS_SO/ndpi.so" "$T/ndpi/"
MIN_FLOWS=${PM_NDPI_MIN_FLOWS:-200}
ndpi_compare() { # CAP TAG MIN_FLOWS
    local cap=$1 tag=$2 min=$3
    cat >"$T/n$tag.conf" <<EOF
daemonize: false
pcap_savefile: $cap
snaplen: 65535
plugins: print[n]
aggregate[n]: src_host, dst_host, src_port, dst_port, proto, class
print_output[n]: csv
print_output_file[n]: $T/n$tag.csv
classifiers: $T/ndpi
classifier_tentatives: 32
classifier_table_num: 65536
EOF
    run_our_pmacctd "$T/n$tag.conf" || fail "pmacctd (nDPI) failed on $cap"
    ndpiReader -i "$cap" -v 2 >"$T/r$tag.txt" 2>&1 || fail "ndpiReader failed on $cap"
    python3 "$top_srcdir/tests/integration/ndpi_agree.py" "$T/n$tag.csv" "$T/r$tag.txt" "$cap" "$min"
}
ndpi_compare "$CAP" 0 "$MIN_FLOWS" || fail "nDPI agreement below 99% (or too few flows)"
i=1
for extra in ${PM_NDPI_EXTRA_PCAPS:-}; do
    ndpi_compare "$extra" $i 1 || fail "nDPI agreement below 99% on $extra"
    i=$((i + 1))
done
exit 0
