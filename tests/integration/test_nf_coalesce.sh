#!/bin/bash
# Receive coalescing (modules/common/rxloop.c): with a large socket buffer
# a receiver that read less than half a vector pauses before the next
# read, so a trickle of datagrams costs one wake-up per several
# datagrams, and nothing is lost when a burst follows a pause.
#  1. trickle: 1,500 datagrams sent one by one at 1,000/s; the daemon's
#     threads together must sleep (voluntary context switches) fewer than
#     one time per two datagrams (without the pause: one per datagram);
#  2. burst: right after, 20,000 datagrams as fast as one core sends;
#  3. every record of both phases counted (print CSV = what nfsend sent),
#     no socket_drops.
. "$top_srcdir/tests/lib.sh"

need_ours
need_our_client
need_module netflow
NFSEND=$top_builddir/bench/nfsend
[ -x "$NFSEND" ] || skip "bench/nfsend is not built (make check builds it)"

PIPE=$T/m.pipe
start_on() { # start_on PORT: 0 when the daemon listens on PORT
    pm_conf "$T/nf.conf" <<CONF
nfacctd_port: $1
nfacctd_ip: 127.0.0.1
nfacctd_pipe_size: 67108864
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
port=$((20000 + ($$ + 7) % 20000))
for try in 1 2 3 4 5; do
    start_on $port && break
    stop_daemon
    [ $try = 5 ] && { cat "$T/nf.conf.log" >&2; fail "daemon did not start"; }
    port=$((port + 1))
done
grep -q 'receive buffer 134217728' "$T/nf.conf.log" ||
    fail "the 64 MB buffer was not granted (SO_RCVBUFFORCE needs root): $(grep waiting "$T/nf.conf.log")"

vcsw() { # voluntary context switches of all the daemon's threads
    cat /proc/"$PM_BG_PID"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ { s += $2 } END { print s + 0 }'
}
stat() { "$PM_OUR_PMACCT" -p "$PIPE" --stats 2>/dev/null | awk -v k="netflow.default.$1" '$1 == k { print $2 }'; }

# 1. trickle (one source port: -k 1; -i: a source id of its own per phase)
c0=$(vcsw)
"$NFSEND" -d 127.0.0.1 -p $port -y 1500 -f 10 -k 1 -i 1 -r 1000 -b 1 >"$T/send1" 2>&1 ||
    fail "nfsend: $(cat "$T/send1")"
c1=$(vcsw)
sw=$((c1 - c0))
note "trickle: 1500 datagrams, $sw voluntary context switches"
[ $sw -lt 750 ] || fail "trickle of 1500 datagrams woke the daemon $sw times (coalescing: < 750)"

# 2. burst
"$NFSEND" -d 127.0.0.1 -p $port -y 20000 -f 10 -k 1 -i 2 -r 0 >"$T/send2" 2>&1 ||
    fail "nfsend: $(cat "$T/send2")"

# 3. everything counted
sent_r=0 sent_p=0
for f in "$T/send1" "$T/send2"; do
    read -r r p < <(awk '{gsub(",", ""); print $4, $6}' "$f")
    sent_r=$((sent_r + r))
    sent_p=$((sent_p + p))
done
wait_for "[ \"\$(stat records)\" = $sent_r ] || ! daemon_alive" 30 ||
    fail "records counted: $(stat records), sent: $sent_r"
[ "$(stat socket_drops)" = 0 ] || fail "socket_drops = $(stat socket_drops)"
stop_daemon
got=$(awk -F, 'NR > 1 { s += $2 } END { print s + 0 }' "$T/out.csv")
[ "$got" = "$sent_p" ] || fail "print CSV: $got packets, sent $sent_p"
echo "ok: trickle of 1500 datagrams in $sw wake-ups, then a burst of 20000: all $sent_r records counted"
