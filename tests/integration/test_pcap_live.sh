#!/bin/bash
# Live capture on the loopback interface with our pmacctd.
#
# 1. As an unprivileged user (uid/gid 65534 via setpriv, no groups, no
#    capabilities), `pcap_interface: lo` must stop start-up with a non-zero
#    exit code (not a signal) and a message naming the permission problem
#    (permission / CAP_NET_RAW).  The daemon and the modules are copied into
#    the temp dir first, so the build tree's own permissions don't matter.
# 2. As root: a print CSV pipeline with `pcap_filter: udp and port P`
#    captures UDP datagrams the test sends to 127.0.0.1:P (bash /dev/udp),
#    one per poll until the row shows up in the output file (deadline),
#    then SIGINT stops the daemon cleanly (exit 0) and the final file holds
#    the row with its packet count.
. "$top_srcdir/tests/lib.sh"

need_ours
need_module pcap
need_module print
need_tool setpriv "util-linux"
[ "$(id -u)" = 0 ] || skip "needs root (capture on lo and dropping to uid 65534)"

PORT=$((40000 + $$ % 20000))

# ---- 1. unprivileged -----------------------------------------------------
chmod 755 "$T"
mkdir -p "$T/bin" "$T/mods"
cp "$PM_OUR_PMACCTD" "$T/bin/pmacctd" || fail "cannot copy $PM_OUR_PMACCTD"
IFS=: read -r -a dirs <<<"$PMACCT_MODULE_DIR"
for d in "${dirs[@]}"; do
    [ -n "$d" ] && [ -d "$d" ] && cp "$d"/*.so "$T/mods/" 2>/dev/null
done
[ -e "$T/mods/pcap.so" ] || fail "pcap.so not found in $PMACCT_MODULE_DIR"
chmod -R a+rX "$T/bin" "$T/mods"

cat >"$T/user.conf" <<EOF
daemonize: false
pcap_interface: lo
plugins: print
print_output: csv
print_output_file: /nonexistent/out.csv
EOF
chmod 644 "$T/user.conf"

PMACCT_MODULE_DIR="$T/mods" timeout -k 5 30 \
    setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
    "$T/bin/pmacctd" -f "$T/user.conf" >"$T/user.log" 2>&1 </dev/null
rc=$?
user_rc=$rc
cat "$T/user.log" >&2
[ $rc -ne 0 ] || fail "unprivileged capture on lo exited 0"
[ $rc -lt 124 ] || fail "unprivileged capture on lo: exit $rc (timeout or signal, not a clean refusal)"
grep -qiE 'permission|CAP_NET_RAW' "$T/user.log" ||
    fail "unprivileged capture on lo: no message about permission/CAP_NET_RAW"
grep -qiE 'segmentation|sanitizer|core dumped|assert' "$T/user.log" &&
    fail "unprivileged capture on lo: crashed"

# ---- 2. root: live capture -------------------------------------------------
pm_conf "$T/live.conf" <<EOF
pcap_interface: lo
pcap_filter: udp and port $PORT
plugins: print
aggregate: src_host, dst_host, dst_port, proto
print_output: csv
print_output_file: $T/out.csv
print_refresh_time: 1
EOF
# pm_conf adds a savefile-oriented pcap_filter: drop it, ours is above.
sed -i '/^pcap_filter: not ether proto 0x88a8$/d' "$T/live.conf"

start_our_pmacctd "$T/live.conf"

sent=0
send_one() {
    echo "pmacct-live-test" >"/dev/udp/127.0.0.1/$PORT" 2>/dev/null
    sent=$((sent + 1))
}
row_seen() { [ -f "$T/out.csv" ] && grep -q "^127.0.0.1,127.0.0.1,$PORT,udp," "$T/out.csv"; }

wait_for "daemon_alive && { send_one; row_seen; }" 30 || {
    cat "$T/live.conf.log" >&2
    [ -f "$T/out.csv" ] && cat "$T/out.csv" >&2
    fail "no row for udp port $PORT in $T/out.csv after $sent datagrams"
}

kill -INT "$PM_BG_PID"
wait_for "! daemon_alive" 15 || fail "pmacctd did not stop on SIGINT"
wait "$PM_BG_PID"
rc=$?
PM_BG_PID=
cat "$T/live.conf.log" >&2
[ $rc = 0 ] || fail "pmacctd exited $rc after SIGINT"

head -n 1 "$T/out.csv" | grep -q '^SRC_IP,DST_IP,DST_PORT,PROTOCOL,PACKETS' ||
    fail "unexpected CSV header: $(head -n 1 "$T/out.csv")"
row=$(grep "^127.0.0.1,127.0.0.1,$PORT,udp," "$T/out.csv")
[ -n "$row" ] || fail "row for port $PORT missing from the final output"
pk=$(echo "$row" | cut -d, -f5)
[ "$pk" -ge 1 ] && [ "$pk" -le "$sent" ] ||
    fail "row '$row': packets $pk not in 1..$sent (sent $sent datagrams)"
# only the test's port was captured
if grep -v '^SRC_IP' "$T/out.csv" | grep -qv ",$PORT,udp,"; then
    cat "$T/out.csv" >&2
    fail "rows outside pcap_filter 'udp and port $PORT'"
fi
echo "ok: unprivileged start refused (exit $user_rc), live capture counted $pk of $sent datagrams"
exit 0
