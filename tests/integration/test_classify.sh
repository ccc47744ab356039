#!/bin/bash
# test_classify.sh - stream classification end to end on real traffic.
#
# Starts, on loopback high ports in a temp dir: nginx (curl fetches a page),
# dnsmasq (dig asks it), openssl s_server (s_client connects with an SNI),
# sshd with a temp host key (ssh exchanges identification strings); tcpdump
# captures all of it into a pcap.  Then:
#   1. our pmacctd, `classifiers:` = the built .so classifiers + the .pat
#      files, print csv by src_host,dst_host,src_port,dst_port,proto,class:
#      each stream must get http / dns / tls / ssh;
#   2. the same capture with the nDPI classifier only: per flow, our class
#      must agree with `ndpiReader -i CAP -v 2` for >= 99% of its flows
#      (the percentage is printed).  Also on PM_NDPI_EXTRA_PCAPS if set.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "${top_srcdir:-$(dirname "$0")/../..}/tests/integration/cls_servers.sh"

need_ours
need_module classify
for t in tcpdump nginx curl dig dnsmasq openssl ssh ssh-keygen python3; do
    need_tool $t
done
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
need_tool "$SSHD" "openssh-server"
CLS_SO="$top_builddir/classifiers/.libs"
[ -f "$CLS_SO/dns.so" ] || skip "classifier .so files not built in $CLS_SO"

base=$((20000 + $$ % 20000))
HP=$base DP=$((base + 1)) SP=$((base + 2)) SSHP=$((base + 3))
CAP=$T/cap.pcap

# ---- capture ---------------------------------------------------------------
tcpdump -i lo --immediate-mode -U -s 0 -w "$CAP" \
    "tcp port $HP or udp port $DP or tcp port $SP or tcp port $SSHP" \
    2>"$T/tcpdump.err" &
TD=$!
on_exit "kill $TD 2>/dev/null"
wait_for "grep -q 'listening on' '$T/tcpdump.err'" 10 ||
    skip "tcpdump cannot capture on lo: $(cat "$T/tcpdump.err")"

# ---- servers ---------------------------------------------------------------
CLS_PAGE="hello classify"
cls_nginx "$HP"
cls_dnsmasq 127.0.0.1 "$DP"
cls_cert
cls_s_server "$SP" 1
cls_sshd "$SSHP"

# ---- clients (each first waits until its server answers) -----------------
wait_for "curl -s -o /dev/null http://127.0.0.1:$HP/" 10 || skip "nginx did not answer"
curl -s -o "$T/page" "http://127.0.0.1:$HP/index.html" || fail "curl"
grep -q "hello classify" "$T/page" || fail "nginx served $(cat "$T/page")"
wait_for "dig +short +tries=1 +time=1 -p $DP @127.0.0.1 example.test | grep -q 192.0.2.1" 10 ||
    skip "dnsmasq did not answer: $(cat "$T/dnsmasq.err")"
dig +tries=1 -p "$DP" @127.0.0.1 www.example.test >/dev/null || fail "dig"
wait_for "echo | timeout 5 openssl s_client -connect 127.0.0.1:$SP -servername www.example.test >'$T/s_client.out' 2>&1" 10 ||
    skip "openssl s_server did not answer: $(cat "$T/s_server.out")"
wait_for "timeout 5 ssh -p $SSHP -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=3 nobody@127.0.0.1 true 2>'$T/ssh.err'; grep -q 'Permission denied\|Connection closed\|Host key' '$T/ssh.err'" 10 ||
    skip "sshd did not answer: $(cat "$T/sshd.err" "$T/ssh.err")"

# stop the capture once the last stream (ssh) is in it
wait_for "tcpdump -r '$CAP' -nn 'tcp port $SSHP and tcp[tcpflags] & tcp-fin != 0' 2>/dev/null | grep -q ." 10 ||
    fail "the capture lacks the ssh stream"
kill -INT $TD
wait_for "! kill -0 $TD 2>/dev/null" 10 || fail "tcpdump did not stop"
[ -s "$CAP" ] || fail "empty capture"

# ---- 1. .so classifiers + .pat files -------------------------------------
mkdir -p "$T/cls" "$T/ndpi"
for c in dns tls ssh bittorrent; do cp "$CLS_SO/$c.so" "$T/cls/"; done
cp "$top_srcdir"/classifiers/patterns/*.pat "$T/cls/"

cat >"$T/a.conf" <<EOF
daemonize: false
pcap_savefile: $CAP
snaplen: 1500
plugins: print[c]
aggregate[c]: src_host, dst_host, src_port, dst_port, proto, class
print_output[c]: csv
print_output_file[c]: $T/a.csv
classifiers: $T/cls
EOF
run_our_pmacctd "$T/a.conf" || fail "pmacctd failed"

# expected: every stream touching the server port has the class (the rows
# before the decision are "unknown")
check() {
    local port=$1 want=$2
    awk -F, -v p="$port" -v w="$want" 'NR > 1 && ($4 == p || $5 == p) && $1 != "unknown" { print $1 }' \
        "$T/a.csv" | sort -u >"$T/got.$port"
    [ "$(cat "$T/got.$port")" = "$want" ] ||
        fail "port $port: expected class $want, got '$(tr '\n' ' ' <"$T/got.$port")'; table:
$(cat "$T/a.csv")"
    note "port $port: $want"
}
check "$HP" http
check "$DP" dns
check "$SP" tls
check "$SSHP" ssh

# ---- 2. nDPI against ndpiReader ------------------------------------------
if [ ! -f "$CLS_SO/ndpi.so" ]; then
    skip "nDPI classifier not built (libndpi-dev missing); .so/.pat checks passed"
fi
need_tool ndpiReader "libndpi-bin"
cp "$CLS_SO/ndpi.so" "$T/ndpi/"

ndpi_compare() {
    local cap=$1 tag=$2
    cat >"$T/n$tag.conf" <<EOF
daemonize: false
pcap_savefile: $cap
snaplen: 1500
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
    python3 "$top_srcdir/tests/integration/ndpi_agree.py" "$T/n$tag.csv" "$T/r$tag.txt" "$cap"
}
ndpi_compare "$CAP" 0 || fail "nDPI agreement below 99%"
i=1
for extra in ${PM_NDPI_EXTRA_PCAPS:-} $(ls /usr/share/ndpi/*.pcap /usr/share/doc/libndpi*/*.pcap 2>/dev/null); do
    ndpi_compare "$extra" $i || fail "nDPI agreement below 99% on $extra"
    i=$((i + 1))
done
exit 0
