#!/bin/bash
# bench/mongodb.sh BUILD_DIR [NFLOWS] [BATCH] - documents/s inserted by our
# mongodb output into tests/mongo/mongo_server.py (the Python test server:
# no real mongod on Debian 12; Debian's pmacct 1.7.7 has no MongoDB
# plugin, so there is no reference figure).  The capture is `pcapgen
# bench` with NFLOWS (default 100000) distinct 5-tuples and 2 packets
# each, aggregated on src_host, dst_host, src_port, dst_port, proto: one
# purge of about NFLOWS documents, mongo_insert_batch BATCH (default 1000).
#
# Documents are counted by the server (its insert statistics, logged when
# it stops), never taken from the daemon's log.  Time = wall time of the
# daemon run: ours exits once every insert is acknowledged.  The same
# capture and aggregation into our print output (JSON file) is timed in
# the same run as a baseline: "mongodb/print" is the cost of the MongoDB
# path relative to writing the same rows to a file.  The test server
# parses BSON in Python and is likely the bottleneck: the figure is a
# floor for the module, not a MongoDB figure.
set -eu
B=${1:?usage: bench/mongodb.sh BUILD_DIR [NFLOWS] [BATCH]}
B=$(cd "$B" && pwd)
NFLOWS=${2:-100000}
BATCH=${3:-1000}
SRC=$(cd "$(dirname "$0")/.." && pwd)
export PMACCT_MODULE_DIR=$(ls -d "$B"/modules/*/.libs | tr '\n' ':')
T=$(mktemp -d /tmp/bench-mongodb.XXXXXX)
SPID=
cleanup() {
    [ -n "$SPID" ] && kill "$SPID" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
wait_for() { # cond seconds
    local deadline=$((SECONDS + $2))
    until eval "$1"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.05
    done
}
now() { date +%s.%N; }

"$B/tests/gen/pcapgen" bench "$T/bench.pcap" $((2 * NFLOWS)) "$NFLOWS" >/dev/null
python3 "$SRC/tests/mongo/mongo_server.py" --port-file "$T/port" --log "$T/srv.log" &
SPID=$!
wait_for "[ -s '$T/port' ]" 20 || { echo "mongo_server.py did not start" >&2; exit 1; }
PORT=$(cat "$T/port")

base() {
    cat <<E2
daemonize: false
pcap_savefile: $T/bench.pcap
aggregate: src_host, dst_host, src_port, dst_port, proto
E2
}
{ base; printf 'plugins: print\nprint_output: json\nprint_output_file: %s\nprint_cache_entries: %s\n' \
    "$T/print.json" $((NFLOWS / 5 + 1000)); } >"$T/print.conf"
{ base; printf 'plugins: mongodb\nmongo_host: 127.0.0.1:%s\nmongo_table: bench.acct\nmongo_insert_batch: %s\nmongo_cache_entries: %s\nmongo_flush_timeout: 600\n' \
    "$PORT" "$BATCH" $((NFLOWS / 5 + 1000)); } >"$T/mongo.conf"

cpu() { # utime+stime of pid $1 in seconds
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}
t0=$(now)
/usr/bin/time -f "%U %S" -o "$T/print.cpu" "$B/pmacctd" -f "$T/print.conf" >"$T/print.log" 2>&1
t1=$(now)
s0=$(cpu "$SPID")
/usr/bin/time -f "%U %S" -o "$T/mongo.cpu" "$B/pmacctd" -f "$T/mongo.conf" >"$T/mongo.log" 2>&1
t2=$(now)
s1=$(cpu "$SPID")
kill -TERM "$SPID"
wait "$SPID" 2>/dev/null || true
SPID=
ROWS=$(wc -l <"$T/print.json")
DOCS=$(sed -n "s/.*'docs': \([0-9]*\).*/\1/p" "$T/srv.log" | tail -1)
INS=$(sed -n "s/.*'inserts': \([0-9]*\).*/\1/p" "$T/srv.log" | tail -1)
# CPU seconds (user+system) of each daemon run and of the server during
# the mongodb run: on a shared machine these move less than wall time
read -r pu ps <"$T/print.cpu"
read -r mu ms <"$T/mongo.cpu"
awk -v r="$ROWS" -v d="$DOCS" -v i="$INS" -v p="$(echo "$t1 - $t0" | bc)" \
    -v m="$(echo "$t2 - $t1" | bc)" -v b="$BATCH" -v pc="$(echo "$pu + $ps" | bc)" \
    -v mc="$(echo "$mu + $ms" | bc)" -v sc="$(echo "$s1 - $s0" | bc)" 'BEGIN {
    printf "| rows (print) | documents (server) | insert commands | batch | print s (cpu) | mongodb s (cpu) | server cpu s | docs/s | mongodb/print wall | mongodb/print cpu |\n"
    printf "|---|---|---|---|---|---|---|---|---|---|\n"
    printf "| %d | %d | %d | %d | %.2f (%.2f) | %.2f (%.2f) | %.2f | %.0f | %.2f | %.2f |\n", r, d, i, b, p, pc, m, mc, sc, d / m, m / p, mc / pc
}'
[ "$DOCS" = "$ROWS" ] || { echo "documents ($DOCS) != print rows ($ROWS)" >&2; exit 1; }
