#!/bin/bash
# bench/avro.sh BUILD_DIR - cost of the Avro encoding in the print output:
# the same capture and aggregation written by our pmacctd as print_output
# json, avro (object container file) and avro_json, in the same run, and
# the reference pmacctd 1.7.7 writing json (it has no Avro: Debian builds
# it without).  Prints wall times (best of RUNS) and ratios to our json.
#
# Env: NPKTS (1000000), NFLOWS (200000: ~ as many aggregates), RUNS (3).
# The capture is `pcapgen bench` (compiled here); aggregate src_host,
# dst_host,src_port,dst_port,proto,vlan.  Row counts of the three outputs
# are checked equal (the avro file is counted with avrocat when present).
set -u
B=${1:?usage: bench/avro.sh BUILD_DIR}
B=$(cd "$B" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
NPKTS=${NPKTS:-1000000}
NFLOWS=${NFLOWS:-200000}
RUNS=${RUNS:-3}
REF=${PM_REF_PMACCTD:-/usr/sbin/pmacctd}
export PMACCT_MODULE_DIR=$(ls -d "$B"/modules/*/.libs | tr '\n' ':')
T=$(mktemp -d /tmp/bench-avro.XXXXXX)
trap 'rm -rf "$T"' EXIT
cc -O2 -o "$T/pcapgen" "$SRC/tests/gen/pcapgen.c" || exit 1
"$T/pcapgen" bench "$T/b.pcap" "$NPKTS" "$NFLOWS" || exit 1

conf() { # name output file -> config
    cat >"$T/$1.conf" <<E2
pcap_savefile: $T/b.pcap
plugins: print
aggregate: src_host, dst_host, src_port, dst_port, proto, vlan
print_output: $2
print_output_file: $3
print_refresh_time: 3600
plugin_pipe_size: 10240000
plugin_buffer_size: 10240
E2
}
best() { # binary conf -> best wall seconds
    local b=$1 c=$2 i s e t bestt=
    for i in $(seq "$RUNS"); do
        s=$(date +%s.%N)
        "$b" -f "$c" >/dev/null 2>&1 || { echo "run failed: $b -f $c" >&2; exit 1; }
        e=$(date +%s.%N)
        t=$(echo "$e - $s" | bc)
        if [ -z "$bestt" ] || [ "$(echo "$t < $bestt" | bc)" = 1 ]; then bestt=$t; fi
    done
    echo "$bestt"
}
conf json json "$T/o.json"
conf avro avro "$T/o.avro"
conf aj avro_json "$T/o.ajson"
TJ=$(best "$B/pmacctd" "$T/json.conf")
TA=$(best "$B/pmacctd" "$T/avro.conf")
TAJ=$(best "$B/pmacctd" "$T/aj.conf")
NJ=$(wc -l <"$T/o.json")
NAJ=$(wc -l <"$T/o.ajson")
NA=?
command -v avrocat >/dev/null && NA=$(avrocat "$T/o.avro" | wc -l)
[ "$NJ" = "$NAJ" ] || { echo "row counts differ: json $NJ, avro_json $NAJ" >&2; exit 1; }
[ "$NA" = "?" ] || [ "$NA" = "$NJ" ] || { echo "row counts differ: json $NJ, avro $NA" >&2; exit 1; }
TR=-
if [ -x "$REF" ]; then
    conf ref json "$T/r.json"
    TR=$(best "$REF" "$T/ref.conf")
fi
r() { echo "scale=2; $1 / $TJ" | bc; }
echo "print, $NPKTS packets, $NJ aggregates, best of $RUNS (wall s):"
printf '  ours json       %6.2f  1.00\n' "$TJ"
printf '  ours avro       %6.2f  %s  (%s bytes vs json %s)\n' "$TA" "$(r "$TA")" "$(stat -c %s "$T/o.avro")" "$(stat -c %s "$T/o.json")"
printf '  ours avro_json  %6.2f  %s\n' "$TAJ" "$(r "$TAJ")"
[ "$TR" = - ] || printf '  reference json %6.2f  %s  (includes its ~2 s savefile start delay)\n' "$TR" "$(r "$TR")"
