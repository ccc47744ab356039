# bench/savefile_lib.sh - shared by bench/pcap_print.sh and bench/maps.sh:
# pmacctd reading a generated savefile into print CSV, ours against
# Debian's pmacctd 1.7.7.  Source it, then:
#
#   bench_setup "$@"   build dir, NPKTS/NFLOWS/RUNS, work dir $W, the
#                      capture $W/bench.pcap and a 1-packet $W/one.pcap
#   conf NAME PCAP     (the script's own) writes $W/NAME.conf printing CSV
#                      to $W/NAME.csv
#   bench_compare      runs both RUNS times (best wall time kept; the
#                      reference's fixed start cost on the 1-packet capture
#                      subtracted), checks the sorted outputs are
#                      identical, prints the ratio; exit status 1 if the
#                      outputs differ.
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }

bench_setup() {
    NPKTS=${NPKTS:-1000000}
    NFLOWS=${NFLOWS:-10000}
    RUNS=${RUNS:-3}
    REF=${PM_REF_PMACCTD:-/usr/sbin/pmacctd}
    local build=${1:-} b
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

sortcsv() { head -n1 "$1"; tail -n +2 "$1" | LC_ALL=C sort; }

bench_compare() {
    local base ref refnet obase ours same
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
        return 0
    fi
    conf ours-empty "$W/one.pcap"
    conf ours "$W/bench.pcap"
    obase=$(best "$OURS" "$W/ours-empty.conf")
    ours=$(best "$OURS" "$W/ours.conf")
    printf 'ours:      %ss wall, %ss on a 1-packet capture, %s pkt/s\n' \
        "$ours" "$obase" "$(calc "$NPKTS / $ours" 0)"

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
}
