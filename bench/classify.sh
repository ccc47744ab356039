#!/bin/bash
# bench/classify.sh - packets/s of the nDPI classification pipeline
# (pmacctd savefile -> classify[ndpi] -> print csv) against ndpiReader's own
# rate on the same capture.
#
#   bench/classify.sh [BUILD_DIR]      (default: ./_build, then /tmp/build-*)
#
# Env: NPKTS (1000000), NFLOWS (10000), RUNS (3, best kept), PCAP (use this
#      capture instead of generating one with tests/gen/pcapgen.c).
# Prints both wall times and rates; ndpiReader's figure is its wall time on
# the whole file (it also prints its own "nDPI throughput" line, shown).
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
NPKTS=${NPKTS:-1000000}
NFLOWS=${NFLOWS:-10000}
RUNS=${RUNS:-3}
build=${1:-}
if [ -z "$build" ]; then
    for b in "$src/_build" /tmp/build-*; do [ -x "$b/pmacctd" ] && [ -f "$b/classifiers/.libs/ndpi.so" ] && { build=$b; break; }; done
fi
[ -n "$build" ] && [ -f "$build/classifiers/.libs/ndpi.so" ] || { echo "no build with the nDPI classifier" >&2; exit 1; }
command -v ndpiReader >/dev/null || { echo "needs ndpiReader (libndpi-bin)" >&2; exit 1; }
export PMACCT_MODULE_DIR=$(ls -d "$build"/modules/*/.libs | tr '\n' ':')
W=$(mktemp -d /tmp/pmbench-cls.XXXXXX)
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$W"' EXIT
if [ -n "${PCAP:-}" ]; then
    cap=$PCAP
    NPKTS=$(tcpdump -nr "$cap" 2>/dev/null | wc -l)
else
    cc -std=c11 -O2 -o "$W/pcapgen" "$src/tests/gen/pcapgen.c" || exit 1
    "$W/pcapgen" bench "$W/bench.pcap" "$NPKTS" "$NFLOWS" || exit 1
    cap=$W/bench.pcap
fi
mkdir -p "$W/ndpi" && cp "$build/classifiers/.libs/ndpi.so" "$W/ndpi/"
cat >"$W/c.conf" <<EOC
daemonize: false
pcap_savefile: $cap
snaplen: 1500
plugins: print[c]
aggregate[c]: src_host, dst_host, src_port, dst_port, proto, class
print_output[c]: csv
print_output_file[c]: $W/out.csv
classifiers: $W/ndpi
classifier_table_num: 65536
EOC
best() { sort -n | head -1; }
t_ours=$(for i in $(seq "$RUNS"); do
    s=$(date +%s.%N); "$build/pmacctd" -f "$W/c.conf" >/dev/null 2>&1 || exit 1
    e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN{printf "%.3f\n", e-s}'
done | best)
t_ref=$(for i in $(seq "$RUNS"); do
    s=$(date +%s.%N); ndpiReader -i "$cap" -q >"$W/ndpi.txt" 2>&1 || exit 1
    e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN{printf "%.3f\n", e-s}'
done | best)
echo "capture: $NPKTS packets ($cap)"
echo "ours (pmacctd + classify/ndpi + print): $t_ours s = $(awk -v n="$NPKTS" -v t="$t_ours" 'BEGIN{printf "%.0f", n/t}') pkt/s"
echo "ndpiReader -q:                          $t_ref s = $(awk -v n="$NPKTS" -v t="$t_ref" 'BEGIN{printf "%.0f", n/t}') pkt/s"
grep -i "throughput" "$W/ndpi.txt" | sed 's/^/ndpiReader says: /'
echo "ratio (ndpiReader time / ours): $(awk -v a="$t_ref" -v b="$t_ours" 'BEGIN{printf "%.2f", a/b}')"
