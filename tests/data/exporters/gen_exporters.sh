#!/bin/bash
# tests/data/exporters/gen_exporters.sh - regenerate the captures of real
# exporters in this folder (run as root on Debian 12; needs softflowd, fprobe,
# tcpreplay, tcpdump, iproute2 and Debian's pmacct 1.7.7):
#
#   bash tests/data/exporters/gen_exporters.sh [OUTDIR]
#
# Every exporter sends to 127.0.0.1 (lo of the host, or lo of a network
# namespace this script creates) and tcpdump writes what arrives on that lo to
# OUTDIR/<name>.pcap.  The exporters stamp datagrams with the wall clock, so a
# new run gives different bytes; the tests only ever read the committed files.
# The UDP destination port of each capture is part of its name's entry in
# PORTS below (tshark needs it to decode NetFlow on a non-standard port).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
out=${1:-$here}
sample=$top/tests/data/sample.pcap
mkdir -p "$out"
work=$(mktemp -d /tmp/gen-exporters.XXXXXX)
NS=pmgenexp$$
cleanup() {
    [ -n "${TCPDUMP_PID:-}" ] && kill "$TCPDUMP_PID" 2>/dev/null
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# capture_start NAME PORT [NETNS]: tcpdump on lo for UDP to PORT.
capture_start() {
    local name=$1 port=$2 ns=${3:-} pre=()
    [ -n "$ns" ] && pre=(ip netns exec "$ns")
    "${pre[@]}" tcpdump -i lo -U --immediate-mode -n -s 0 -w "$out/$name.pcap" "udp and dst port $port" \
        2>"$work/$name.tcpdump" &
    TCPDUMP_PID=$!
    for _ in $(seq 100); do
        grep -q "listening on" "$work/$name.tcpdump" && return 0
        sleep 0.1
    done
    echo "tcpdump did not start" >&2
    exit 1
}
capture_stop() {
    sleep 1 # let the last datagrams reach tcpdump
    kill -INT "$TCPDUMP_PID"
    wait "$TCPDUMP_PID" || true
    TCPDUMP_PID=
    echo "$1: $(tcpdump -n -r "$out/$1.pcap" 2>/dev/null | wc -l) datagrams"
}

# --- softflowd reading the sample (v5, v9, IPFIX; v9 also 1-in-4 sampled) ---
# (-c none: with a control socket softflowd 1.1.0 -r may block in accept() forever)
softflowd_cap() { # NAME PORT ARGS...
    local name=$1 port=$2
    shift 2
    capture_start "$name" "$port"
    softflowd -d -r "$sample" -n "127.0.0.1:$port" -p "$work/sf.pid" -c none "$@" \
        >"$work/$name.log" 2>&1
    capture_stop "$name"
}
softflowd_cap softflowd-v5 20005 -v 5
softflowd_cap softflowd-v9 20009 -v 9 -6
softflowd_cap softflowd-ipfix 20010 -v 10 -6
softflowd_cap softflowd-v9-sampled 20019 -v 9 -6 -s 4

# --- Debian pmacctd's nfprobe (v5, v9, IPFIX) and sfprobe (sFlow v5) ---
pmacctd_cap() { # NAME PORT CONFIG-LINES...
    local name=$1 port=$2 l
    shift 2
    {
        echo "daemonize: false"
        echo "pcap_savefile: $sample"
        echo "plugin_pipe_size: 10240000"
        echo "plugin_buffer_size: 10240"
        for l in "$@"; do echo "$l"; done
    } >"$work/$name.conf"
    capture_start "$name" "$port"
    pmacctd -f "$work/$name.conf" >"$work/$name.log" 2>&1
    capture_stop "$name"
}
pmacctd_cap pmacctd-nfprobe-v5 20105 "plugins: nfprobe" "nfprobe_receiver: 127.0.0.1:20105" "nfprobe_version: 5"
pmacctd_cap pmacctd-nfprobe-v9 20109 "plugins: nfprobe" "nfprobe_receiver: 127.0.0.1:20109" "nfprobe_version: 9"
pmacctd_cap pmacctd-nfprobe-ipfix 20110 "plugins: nfprobe" "nfprobe_receiver: 127.0.0.1:20110" "nfprobe_version: 10"
pmacctd_cap pmacctd-sfprobe 20143 "plugins: sfprobe" "sfprobe_receiver: 127.0.0.1:20143" "sfprobe_agentip: 192.0.2.1"
pmacctd_cap pmacctd-sfprobe-sampled 20144 "plugins: sfprobe" "sfprobe_receiver: 127.0.0.1:20144" "sfprobe_agentip: 192.0.2.2" "sampling_rate: 4"

# --- fprobe (v1, v5, v7) live on a veth pair inside a namespace, the sample
# replayed into it by tcpreplay ---
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add fpa type veth peer name fpb
ip -n "$NS" link set fpa up
ip -n "$NS" link set fpb up
for v in 1 5 7; do
    name=fprobe-v$v port=$((20200 + v))
    capture_start "$name" "$port" "$NS"
    ip netns exec "$NS" fprobe -l 2:fp$v -i fpb -p -n "$v" -s 1 -d 1 -e 5 -S 1518 \
        "127.0.0.1:$port" >"$work/$name.log" 2>&1 &
    fp=$!
    sleep 1
    ip netns exec "$NS" tcpreplay -q -i fpa --mbps 50 "$sample" >"$work/$name.replay" 2>&1
    # fprobe exports a flow 1 s after its last packet: wait for the export to settle
    last=-1
    while :; do
        sleep 3
        n=$(stat -c %s "$out/$name.pcap")
        [ "$n" = "$last" ] && break
        last=$n
    done
    kill "$fp"; wait "$fp" || true
    capture_stop "$name"
done
