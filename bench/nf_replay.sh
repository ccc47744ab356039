#!/bin/bash
# bench/nf_replay.sh [BUILD_DIR] - flow collector benchmark: Debian's
# nfacctd (sfacctd) 1.7.7 against ours (nfacctd_threads 1, then 2), same
# config (print CSV, 5-tuple aggregation), same datagrams replayed over
# loopback UDP.
#
#  1. tests/gen/pcapgen bench: NPKTS packets over NFLOWS flows;
#  2. EXPORT=v9 (default), v5 or ipfix: softflowd -r exports it as NetFlow
#     v9 / v5 / IPFIX to 127.0.0.1:EPORT; EXPORT=sflow: the reference
#     pmacctd's sfprobe plugin exports it as sFlow v5 (every packet
#     sampled); tcpdump captures the datagrams on lo (once);
#  3. the export's truth: sum of the flows' packet counters (bench/
#     nf_truth.py, every flowset to the end of each datagram: tshark stops
#     at the v9 header's count, which softflowd sets to 1 where it
#     refreshes its templates with data after them, and reported 999,999
#     of the 1,000,000 packets softflowd exported), for sFlow the number of
#     flow samples (tshark; one packet each, not renormalised);
#  4. per daemon: bench/nfsend replays the capture LOOPS times with
#     sendmmsg (SENDERS processes, RATE datagrams/s each, 0 = as fast as
#     one core can), then we wait until the daemon's CPU time stops
#     growing, read utime+stime of its processes (/proc/PID/stat, the
#     reference's plugin children included), stop it and sum the packets
#     of its CSV.
# Prints packets counted vs sent, % counted, CPU seconds, CPU per counted
# packet and the ratio reference / ours.  Not a test: no assertion.
#
# Environment: EXPORT (v9), NPKTS (1000000; sflow: 200000), NFLOWS (10000),
# LOOPS (20), RATE (0), BURST (64: datagrams per sendmmsg; 1 spreads them
# evenly at RATE as a router does),
# SENDERS (1), EXPORTERS (1: every sender from 127.0.0.1; N: sender s sends
# from 127.0.0.((s-1) % N + 1), so nfacctd_threads 2 spreads them over its
# sockets), PIPE_SIZE (nfacctd_pipe_size, 67108864), ROUNDS (1: the
# daemons run ROUNDS times, interleaved, and the medians of their CPU per
# counted packet are compared too), KEEP=1 keeps the work dir.  Takes the
# reference lock (/tmp/pmacct-ref.lock) while the reference runs.  Needs softflowd, tcpdump, tshark, pmacct, cc, awk, python3.
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-}
if [ -z "$B" ]; then
    for d in "$SRC/_build" /tmp/build-*; do [ -x "$d/pmacctd" ] && { B=$d; break; }; done
fi
[ -n "$B" ] && [ -x "$B/pmacctd" ] || { echo "usage: $0 BUILD_DIR (with pmacctd built)" >&2; exit 2; }
B=$(cd "$B" && pwd)
EXPORT=${EXPORT:-v9}
case $EXPORT in
v5 | v9 | ipfix) DAEMON=nfacctd; KP=nfacctd ;;
sflow) DAEMON=sfacctd; KP=sfacctd; NPKTS=${NPKTS:-200000} ;;
*) echo "EXPORT: v5, v9, ipfix or sflow" >&2; exit 2 ;;
esac
NPKTS=${NPKTS:-1000000}
NFLOWS=${NFLOWS:-10000}
LOOPS=${LOOPS:-20}
RATE=${RATE:-0}
SENDERS=${SENDERS:-1}
BURST=${BURST:-64}
PIPE_SIZE=${PIPE_SIZE:-67108864}
REF=${REF:-/usr/sbin/$DAEMON}
LOCK=${PM_REF_LOCK:-/tmp/pmacct-ref.lock}
for t in softflowd tcpdump tshark cc awk flock python3; do
    command -v $t >/dev/null || { echo "needs $t" >&2; exit 2; }
done
[ -x "$REF" ] || { echo "needs $REF (apt-get install pmacct)" >&2; exit 2; }

W=$(mktemp -d /tmp/nf_replay.XXXXXX)
# The reference sets SO_RCVBUF, which the kernel caps at net.core.rmem_max;
# ours uses SO_RCVBUFFORCE as root.  Raise the cap for the run (restored at
# exit) so both get PIPE_SIZE: "the reference tuned with large buffers".
RMEM_OLD=$(sysctl -n net.core.rmem_max 2>/dev/null || echo 0)
if [ "$RMEM_OLD" -lt "$PIPE_SIZE" ] && sysctl -qw net.core.rmem_max="$PIPE_SIZE" 2>/dev/null; then
    echo "net.core.rmem_max raised from $RMEM_OLD to $PIPE_SIZE for the run"
else
    [ "$RMEM_OLD" -lt "$PIPE_SIZE" ] && echo "warning: net.core.rmem_max is $RMEM_OLD (< $PIPE_SIZE) and cannot be raised: the reference gets the smaller buffer"
    RMEM_OLD=
fi
cleanup() {
    [ -n "$RMEM_OLD" ] && sysctl -qw net.core.rmem_max="$RMEM_OLD"
    [ "${KEEP:-}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT
export PMACCT_MODULE_DIR=$(ls -d "$B"/modules/*/.libs | tr '\n' ':')

NFSEND=$B/bench/nfsend
[ -x "$NFSEND" ] || { NFSEND=$W/nfsend; cc -O2 -o "$NFSEND" "$SRC/bench/nfsend.c" || exit 1; }
PCAPGEN=$B/tests/gen/pcapgen
[ -x "$PCAPGEN" ] || { PCAPGEN=$W/pcapgen; cc -O2 -o "$PCAPGEN" "$SRC/tests/gen/pcapgen.c" || exit 1; }

wait_until() { # wait_until 'COND' SECONDS
    local end=$((SECONDS + $2))
    until eval "$1"; do [ $SECONDS -ge $end ] && return 1; sleep 0.1; done
}

# ---- the export -----------------------------------------------------------
EPORT=$((30000 + $$ % 10000))
"$PCAPGEN" bench "$W/in.pcap" "$NPKTS" "$NFLOWS" >/dev/null || exit 1
tcpdump -i lo -U -w "$W/export.pcap" udp dst port $EPORT >"$W/tcpdump.log" 2>&1 &
TD=$!
wait_until "grep -q listening '$W/tcpdump.log'" 20 || { cat "$W/tcpdump.log"; exit 1; }
if [ "$EXPORT" = sflow ]; then
    cat >"$W/sfprobe.conf" <<CONF
daemonize: false
pcap_savefile: $W/in.pcap
plugins: sfprobe
sfprobe_receiver: 127.0.0.1:$EPORT
sampling_rate: 1
plugin_pipe_size: 10240000
plugin_buffer_size: 10240
CONF
    exec 9>>"$LOCK"
    flock -w 600 9 || { echo "cannot take $LOCK"; exit 1; }
    /usr/sbin/pmacctd -f "$W/sfprobe.conf" >"$W/sfprobe.log" 2>&1
    # its plugin process may still be sending
    while pgrep -f "sfprobe.*$W" >/dev/null 2>&1 || pgrep -f "pmacctd: sFlow Probe" >/dev/null 2>&1; do sleep 0.2; done
    flock -u 9
else
    v=${EXPORT#v}
    [ "$EXPORT" = ipfix ] && v=10
    softflowd -r "$W/in.pcap" -n 127.0.0.1:$EPORT -v $v -d >"$W/softflowd.log" 2>&1
fi
# all datagrams reached tcpdump when the file stops growing
prev=-1
while :; do
    sleep 0.3
    cur=$(stat -c %s "$W/export.pcap")
    [ "$cur" = "$prev" ] && break
    prev=$cur
done
kill -INT $TD; wait $TD 2>/dev/null
if [ "$EXPORT" = sflow ]; then
    read -r EXP_PKTS EXP_RECS < <(tshark -r "$W/export.pcap" -d udp.port==$EPORT,sflow -T fields -e sflow.flow_sample.sequence_number 2>/dev/null |
        tr ',' '\n' | awk '$1 != "" {n++} END {print n + 0, n + 0}')
else
    read -r EXP_PKTS EXP_RECS < <(python3 "$(dirname "$0")/nf_truth.py" "$W/export.pcap")
fi
EXP_DG=$(tshark -r "$W/export.pcap" 2>/dev/null | wc -l)
echo "export: $NPKTS packets in, $EXPORT: $EXP_DG datagrams, $EXP_RECS flow records/samples, $EXP_PKTS packets (x $LOOPS loops)"

# ---- one daemon ------------------------------------------------------------
tree_pids() { # the pid and its descendants
    local p=$1 c
    echo "$p"
    for c in $(cat /proc/$p/task/*/children 2>/dev/null); do tree_pids "$c"; done
}
cpu_of() { # utime+stime (seconds) of a process tree
    local t=0 p v hz
    hz=$(getconf CLK_TCK)
    for p in $(tree_pids "$1"); do
        v=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' /proc/$p/stat 2>/dev/null) || continue
        t=$((t + ${v:-0}))
    done
    awk -v t=$t -v hz=$hz 'BEGIN { printf "%.3f", t / hz }'
}

# run_one NAME CMD...: prints "NAME counted pct cpu"
run_one() {
    local name=$1
    shift
    local port=$((EPORT + 1)) conf=$W/$name.conf out=$W/$name.csv pid c0 c1 prev_c i
    rm -f "$out"
    cat >"$conf" <<CONF
daemonize: false
${KP}_ip: 127.0.0.1
${KP}_port: $port
${KP}_pipe_size: $PIPE_SIZE
plugin_pipe_size: 10240000
plugin_buffer_size: 10240
plugins: print
print_output: csv
print_output_file: $out
print_refresh_time: 3600
aggregate: src_host, dst_host, src_port, dst_port, proto
${EXTRA:-}
CONF
    "$@" -f "$conf" >"$W/$name.log" 2>&1 &
    pid=$!
    wait_until "ss -Hunl 'sport = :$port' | grep -q ." 30 || { echo "$name did not start"; cat "$W/$name.log"; return 1; }
    sleep 0.5 # the reference's plugins start after the socket is bound
    c0=$(cpu_of $pid)
    local spids=() s t0 t1
    t0=$(date +%s.%N)
    for s in $(seq "$SENDERS"); do
        "$NFSEND" -s 127.0.0.$(((s - 1) % ${EXPORTERS:-1} + 1)) -d 127.0.0.1 -p $port -l "$LOOPS" -r "$RATE" -b "$BURST" "$W/export.pcap" >"$W/$name.send.$s" 2>&1 &
        spids+=($!)
    done
    for s in "${spids[@]}"; do wait "$s"; done
    t1=$(date +%s.%N)
    # the daemon is done when its CPU time stops growing
    prev_c=-1
    for i in $(seq 600); do
        sleep 0.5
        c1=$(cpu_of $pid)
        [ "$c1" = "$prev_c" ] && break
        prev_c=$c1
    done
    kill -INT $pid
    wait_until "[ -s '$out' ] && ! kill -0 $pid 2>/dev/null" 60
    kill -KILL $pid 2>/dev/null
    wait $pid 2>/dev/null
    local counted
    counted=$(awk -F, 'NR > 1 { s += $(NF - 1) } END { print s + 0 }' "$out")
    local drops
    drops=$(grep -ho 'dropped [0-9]*' "$W/$name.log" | head -1)
    echo "$name $counted $(awk -v a=$c1 -v b=$c0 'BEGIN { printf "%.3f", a - b }') $(awk -v a=$t1 -v b=$t0 'BEGIN { printf "%.2f", a - b }') $(awk '{print $9}' "$W"/$name.send.* | paste -sd+ | bc 2>/dev/null || echo -)"
}

SENT_PKTS=$((EXP_PKTS * LOOPS * SENDERS))
echo "replay: $SENDERS sender(s) x $LOOPS loops, rate ${RATE:-0}/s each (0: max); packets in the export x loops x senders = $SENT_PKTS"
printf "%-16s %14s %9s %9s %9s %14s\n" daemon "pkts counted" "% counted" "cpu s" "send s" "cpu ns/pkt"
results=()
report() { # NAME COUNTED CPU SEND_S
    local pct nsp
    pct=$(awk -v c=$2 -v s=$SENT_PKTS 'BEGIN { printf "%.4f", 100 * c / s }')
    nsp=$(awk -v c=$2 -v t=$3 'BEGIN { if (c > 0) printf "%.3f", t * 1e9 / c; else print "-" }')
    printf "%-16s %14s %9s %9s %9s %14s\n" "$1" "$2" "$pct" "$3" "$4" "$nsp"
    results+=("$1 $nsp")
}

ROUNDS=${ROUNDS:-1}
for round in $(seq "$ROUNDS"); do
    sfx=
    [ "$ROUNDS" -gt 1 ] && sfx=.$round
    exec 9>>"$LOCK"
    flock -w 600 9 || { echo "cannot take $LOCK"; exit 1; }
    r=$(run_one ref$sfx "$REF") || { echo "$r"; exit 1; }
    flock -u 9
    set -- $r; report "$1" "$2" "$3" "$4"
    if [ "$DAEMON" = sfacctd ]; then
        # one receiver thread (sfacctd_threads does not exist)
        r=$(run_one ours$sfx "$B/pmacctd" --daemon sfacctd) || { echo "$r"; exit 1; }
        set -- $r; report "$1" "$2" "$3" "$4"
    else
        EXTRA="nfacctd_threads: 1"
        r=$(run_one ours_t1$sfx "$B/pmacctd" --daemon nfacctd) || { echo "$r"; exit 1; }
        set -- $r; report "$1" "$2" "$3" "$4"
        EXTRA="nfacctd_threads: 2"
        r=$(run_one ours_t2$sfx "$B/pmacctd" --daemon nfacctd) || { echo "$r"; exit 1; }
        set -- $r; report "$1" "$2" "$3" "$4"
    fi
done

# per round: reference / ours; with ROUNDS > 1 also the medians of each
# daemon's CPU per counted packet over the rounds and their ratio (rounds
# interleave the daemons, so a slow spell of the machine hits every side)
printf '%s\n' "${results[@]}" | awk '
    { split($1, a, "."); name = a[1]; rnd = (a[2] == "" ? 1 : a[2]); v[name, rnd] = $2
      if (!(name in seen)) { seen[name] = 1; order[++nn] = name }; if (rnd > nr) nr = rnd }
    function median(name,   i, n, x, j, t) {
        n = 0
        for (i = 1; i <= nr; i++) if (v[name, i] != "-" && v[name, i] > 0) x[++n] = v[name, i]
        for (i = 2; i <= n; i++) { t = x[i]; for (j = i - 1; j >= 1 && x[j] > t; j--) x[j + 1] = x[j]; x[j + 1] = t }
        if (!n) return 0
        return n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
    }
    END {
        for (k = 2; k <= nn; k++) {
            lo = 1e9; hi = 0; below = 0
            for (i = 1; i <= nr; i++) {
                r = v[order[1], i]; o = v[order[k], i]
                if (o <= 0) continue
                x = r / o
                if (nr == 1) printf "%s: reference CPU per counted packet / ours = %.1fx\n", order[k], x
                else printf "%s round %d: %.1fx\n", order[k], i, x
                if (x < lo) lo = x; if (x > hi) hi = x; if (x < 5) below++
            }
            if (nr > 1)
                printf "%s: median reference / median ours = %.3f / %.3f ns = %.1fx (rounds %.1fx .. %.1fx, %d of %d below 5x)\n",
                    order[k], median(order[1]), median(order[k]), median(order[1]) / median(order[k]), lo, hi, below, nr
        }
    }'
[ "${KEEP:-}" = 1 ] && echo "work dir: $W"
exit 0
