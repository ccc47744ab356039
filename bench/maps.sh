#!/bin/bash
# bench/maps.sh - pmacctd savefile -> pre_tag_map + networks_file -> print (CSV)
# ours against Debian's pmacctd 1.7.7.
#
#   bench/maps.sh [BUILD_DIR]     (default: ./_build, then /tmp/build-*)
#
# Env: NPKTS (1000000), NFLOWS (10000), RUNS (3: best wall time is kept),
#      KEEP=1 keeps the work dir.
#
# 1. writes a capture of NPKTS IPv4 TCP/UDP packets over NFLOWS 5-tuple+VLAN
#    flows with tests/gen/pcapgen.c (compiled here with cc -O2);
# 2. measures the reference's fixed start cost on a 1-packet capture (it
#    sleeps ~2 s before reading a savefile) and subtracts it;
# 3. runs both daemons RUNS times on the same config (pre_tag_map of 16 vlan
#    filter rules + 1000 in= rules, networks_file of 5000 prefixes, print csv,
#    aggregate tag,tag2,src_net,dst_net,src_mask,dst_mask,src_as,dst_as,proto), checks the
#    sorted outputs are identical, prints wall times and the ratio.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
NPKTS=${NPKTS:-1000000}
NFLOWS=${NFLOWS:-10000}
RUNS=${RUNS:-3}
REF=${PM_REF_PMACCTD:-/usr/sbin/pmacctd}
build=${1:-}
if [ -z "$build" ]; then
    for b in "$src/_build" /tmp/build-*; do [ -x "$b/pmacctd" ] && { build=$b; break; }; done
fi
OURS=${PM_OUR_PMACCTD:-${build:+$build/pmacctd}}
if [ -z "${PMACCT_MODULE_DIR:-}" ] && [ -n "$build" ]; then
    PMACCT_MODULE_DIR=$(ls -d "$build"/modules/*/.libs 2>/dev/null | tr '\n' ':')
    export PMACCT_MODULE_DIR
fi
W=$(mktemp -d /tmp/pmbench.XXXXXX)
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$W"' EXIT

cc -std=c11 -O2 -o "$W/pcapgen" "$src/tests/gen/pcapgen.c" || exit 1
"$W/pcapgen" bench "$W/bench.pcap" "$NPKTS" "$NFLOWS" || exit 1
"$W/pcapgen" one "$W/one.pcap" 2>/dev/null || exit 1
echo "capture: $NPKTS packets, $NFLOWS flows, $(du -m "$W/bench.pcap" | cut -f1) MB"

# the maps: 16 vlan filter rules (jeq to a tag2 stage) behind 1000 rules
# that never match, and 5000 nested prefixes with AS numbers
{
    for i in $(seq 1000); do echo "set_tag=$((100000 + i)) in=$i"; done
    for v in $(seq 0 15); do echo "set_tag=$((v + 1)) filter='vlan $((v + 100))' jeq=l4"; done
    echo "set_tag2=6 filter='vlan and tcp' label=l4"
    echo "set_tag2=17 filter='vlan and udp'"
} >"$W/bench.map"
awk 'BEGIN { for (a = 0; a < 256; a++) for (b = 0; b < 16; b++)
    printf "%d,10.%d.%d.0/24\n", 64512 + a, a, b * 16;
  for (a = 0; a < 256; a++) printf "%d,10.%d.0.0/16\n", 65000 + a, a;
  for (a = 0; a < 256; a++) printf "192.168.%d.0/24\n", a;
  print "10.0.0.0/8"; print "0.0.0.0/0" }' >"$W/bench.lst"

calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }

conf() { # conf NAME PCAP
    cat >"$W/$1.conf" <<CONF
daemonize: false
pcap_savefile: $2
plugins: print
pre_tag_map: $W/bench.map
networks_file: $W/bench.lst
pmacctd_as: file
pmacctd_net: file
maps_entries: 10000
aggregate: tag, tag2, src_net, dst_net, src_mask, dst_mask, src_as, dst_as, proto
print_output: csv
print_output_file: $W/$1.csv
print_cache_entries: 65537
plugin_pipe_size: 102400000
plugin_buffer_size: 102400
CONF
}

# wall BIN CONF: seconds (ms precision) of one run, or exit
wall() {
    local t0 t1
    t0=$(date +%s%N)
    "$1" -f "$2" >"$2.log" 2>&1 </dev/null || { echo "$1 -f $2 failed:" >&2; tail "$2.log" >&2; exit 1; }
    t1=$(date +%s%N)
    calc "($t1 - $t0) / 1000000000"
}

best() { # best BIN CONF: min over RUNS
    local b= t i
    for i in $(seq "$RUNS"); do
        t=$(wall "$1" "$2")
        if [ -z "$b" ] || [ "$(calc "$t < $b")" = 1.000 ]; then b=$t; fi
    done
    echo "$b"
}

exec 9>>/tmp/pmacct-ref.lock
flock 9
conf ref-empty "$W/one.pcap"
conf ref "$W/bench.pcap"
base=$(best "$REF" "$W/ref-empty.conf")
ref=$(best "$REF" "$W/ref.conf")
flock -u 9
refnet=$(calc "$ref - $base")
printf 'reference: %ss wall, %ss fixed start (1-packet capture), %ss net, %s pkt/s\n' \
    "$ref" "$base" "$refnet" "$(calc "$NPKTS / $refnet" 0)"

if [ -z "$OURS" ] || [ ! -x "$OURS" ]; then
    echo "ours: not built (give the build dir as argument)"
    exit 0
fi
conf ours-empty "$W/one.pcap"
conf ours "$W/bench.pcap"
obase=$(best "$OURS" "$W/ours-empty.conf")
ours=$(best "$OURS" "$W/ours.conf")
printf 'ours:      %ss wall, %ss on a 1-packet capture, %s pkt/s\n' \
    "$ours" "$obase" "$(calc "$NPKTS / $ours" 0)"

sortcsv() { head -n1 "$1"; tail -n +2 "$1" | LC_ALL=C sort; }
if cmp -s <(sortcsv "$W/ref.csv") <(sortcsv "$W/ours.csv"); then
    echo "outputs: identical ($(($(wc -l <"$W/ref.csv") - 1)) rows)"
    same=1
else
    echo "outputs: DIFFER (ref $(wc -l <"$W/ref.csv") lines, ours $(wc -l <"$W/ours.csv") lines)"
    diff <(sortcsv "$W/ref.csv") <(sortcsv "$W/ours.csv") | head -n 10
    same=0
fi
printf 'ratio: ours is %sx the reference speed (reference net time / our wall time)\n' \
    "$(calc "$refnet / $ours" 2)"
[ $same = 1 ]
