#!/bin/bash
# bench/bdb.sh - the bdb output's save (aggregates written per second) and
# load (aggregates read back per second) on NFLOWS aggregates, and what
# persistence costs a savefile run: ours with bdb vs ours with memory vs
# Debian's pmacctd 1.7.7 with its memory plugin, same capture and config.
#
#   bench/bdb.sh [BUILD_DIR]     (default: ./_build, then /tmp/build-*)
#
# Env: NPKTS (300000), NFLOWS (100000), KEEP=1 keeps the work dir.
#
# 1. writes a capture of NPKTS IPv4 packets over NFLOWS 5-tuple+VLAN flows
#    (tests/gen/pcapgen.c bench) and an empty one;
# 2. ours, plugins: memory (aggregate src_host,dst_host,src_port,dst_port,
#    proto,vlan): wall time;
# 3. ours, plugins: bdb (new bdb_file): wall time, and the module's own
#    "saved N rows in S s" (the exit save: serialise + btree + fsync +
#    rename) -> rows/s;
# 4. ours, plugins: bdb on the empty capture with that file: the module's
#    "loaded N aggregates in S s" (verify + read + cache) -> rows/s;
# 5. the reference with its memory plugin (fixed start cost measured on a
#    1-packet capture and subtracted), under the reference lock.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
NPKTS=${NPKTS:-300000}
NFLOWS=${NFLOWS:-100000}
REF=${PM_REF_PMACCTD:-/usr/sbin/pmacctd}
build=${1:-}
if [ -z "$build" ]; then
    for b in "$src/_build" /tmp/build-*; do [ -x "$b/pmacctd" ] && { build=$b; break; }; done
fi
OURS=${PM_OUR_PMACCTD:-${build:+$build/pmacctd}}
[ -x "$OURS" ] || { echo "bdb.sh: no pmacctd built (give BUILD_DIR)" >&2; exit 1; }
if [ -z "${PMACCT_MODULE_DIR:-}" ]; then
    PMACCT_MODULE_DIR=$(ls -d "$build"/modules/*/.libs 2>/dev/null | tr '\n' ':')
    export PMACCT_MODULE_DIR
fi
W=$(mktemp -d /tmp/pmbench-bdb.XXXXXX)
[ "${KEEP:-}" = 1 ] || trap 'rm -rf "$W"' EXIT

cc -std=c11 -O2 -o "$W/pcapgen" "$src/tests/gen/pcapgen.c" || exit 1
"$W/pcapgen" bench "$W/bench.pcap" "$NPKTS" "$NFLOWS" >/dev/null || exit 1
"$W/pcapgen" empty "$W/empty.pcap" 2>/dev/null || exit 1
"$W/pcapgen" one "$W/one.pcap" 2>/dev/null || exit 1
echo "capture: $NPKTS packets, $NFLOWS flows"

calc() { awk "BEGIN { printf \"%.${2:-3}f\", $1 }"; }

conf() { # conf NAME PCAP PLUGIN
    cat >"$W/$1.conf" <<CONF
daemonize: false
pcap_savefile: $2
plugins: $3
aggregate: src_host, dst_host, src_port, dst_port, proto, vlan
imt_path: $W/$1.pipe
bdb_file: $W/table.db
bdb_refresh_time: 0
plugin_pipe_size: 102400000
plugin_buffer_size: 102400
CONF
    [ "$1" = ref ] || [ "$1" = refone ] && sed -i '/^bdb_/d' "$W/$1.conf"
}

# wall BIN CONF: seconds of one run
wall() {
    local t0 t1
    t0=$(date +%s%N)
    "$1" -f "$2" >"$2.log" 2>&1 </dev/null || { echo "$1 -f $2 failed:" >&2; tail "$2.log" >&2; exit 1; }
    t1=$(date +%s%N)
    calc "($t1 - $t0) / 1e9"
}

conf mem "$W/bench.pcap" memory
conf bdb "$W/bench.pcap" bdb
conf load "$W/empty.pcap" bdb
t_mem=$(wall "$OURS" "$W/mem.conf")
t_bdb=$(wall "$OURS" "$W/bdb.conf")
saved=$(sed -n "s/.*saved \([0-9]*\) rows in \([0-9.]*\) s (exit).*/\1 \2/p" "$W/bdb.conf.log")
t_load=$(wall "$OURS" "$W/load.conf")
loaded=$(sed -n "s/.*loaded \([0-9]*\) aggregates in \([0-9.]*\) s.*/\1 \2/p" "$W/load.conf.log")
[ -n "$saved" ] && [ -n "$loaded" ] || { echo "no save/load line in the logs" >&2; exit 1; }
set -- $saved $loaded
echo "file: $(du -k "$W/table.db" | cut -f1) kB for $1 aggregates"
echo "save: $1 rows in $2 s = $(calc "$1 / $2" 0) rows/s"
echo "load: $3 rows in $4 s = $(calc "$3 / $4" 0) rows/s"
echo "ours memory run: $t_mem s; ours bdb run: $t_bdb s (x$(calc "$t_bdb / $t_mem" 2)); bdb start with the file, empty capture: $t_load s"

if [ -x "$REF" ]; then
    conf ref "$W/bench.pcap" memory
    conf refone "$W/one.pcap" memory
    exec 9>>"${PM_REF_LOCK:-/tmp/pmacct-ref.lock}"
    flock -w 600 9 || exit 1
    t_one=$(wall "$REF" "$W/refone.conf")
    t_ref=$(wall "$REF" "$W/ref.conf")
    flock -u 9
    t_refc=$(calc "$t_ref - $t_one")
    echo "reference memory run: $t_ref s - $t_one s start cost = $t_refc s;" \
        "ours bdb / reference memory: x$(calc "$t_bdb / $t_refc" 2)"
else
    echo "reference $REF missing: no reference figure"
fi
