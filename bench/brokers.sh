#!/bin/bash
# bench/brokers.sh BUILD_DIR [NFLOWS] - messages/s into Kafka (the
# tests/kafka_mock cluster) and RabbitMQ (a real rabbitmq-server started
# here on 127.0.0.1:5672: the reference's amqp_host takes no port) for the
# reference pmacctd 1.7.7 and ours, same capture and config, in the same
# run.  The capture is `pcapgen bench` with NFLOWS (default 200000)
# distinct 5-tuples and 2 packets each, so each side publishes about
# NFLOWS messages (one aggregate per message; aggregate src_host,dst_host,
# src_port,dst_port,proto).
#
# Messages are counted on the broker after each run (the end offset of the
# topic's single partition, kcat -Q: the mock keeps only the last 100000
# messages of a partition, so reading them back would undercount;
# rabbitmqctl list_queues for the bound queue), never taken from the
# daemon's log.  Ours gets *_flush_timeout 600 so that a slow broker
# delays its exit instead of making it drop what is left (10 s default).  Time = wall time of the daemon run until its last process
# exited (ours exits once every message is confirmed; the reference's
# plugin flushes before exiting), minus the reference's fixed savefile
# start/stop cost measured on a 1-packet capture (like bench/pcap_print.sh).
# msg/s = messages received / time.  Prints rows for docs/PERFORMANCE.md.
set -eu
B=${1:?usage: bench/brokers.sh BUILD_DIR [NFLOWS]}
B=$(cd "$B" && pwd)
NFLOWS=${2:-200000}
SRC=$(cd "$(dirname "$0")/.." && pwd)
export PMACCT_MODULE_DIR=$(ls -d "$B"/modules/*/.libs | tr '\n' ':')
T=$(mktemp -d /tmp/bench-brokers.XXXXXX)
top_srcdir=$SRC top_builddir=$B
wait_for() { # cond seconds
    local deadline=$((SECONDS + $2))
    until eval "$1"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}
. "$SRC/tests/rabbitmq_lib.sh"
MOCK_PID=
cleanup() {
    [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null
    stop_rabbitmq
    if [ -n "${KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

"$B/tests/gen/pcapgen" bench "$T/bench.pcap" $((2 * NFLOWS)) "$NFLOWS" >/dev/null
"$B/tests/gen/pcapgen" one "$T/one.pcap" >/dev/null
# topics created in advance, as pmacct advises (auto-creation loses messages)
"$B/tests/kafka_mock" -f "$T/bs" -t kafka-ref -t kafka-ours -t kafka-one >/dev/null 2>&1 &
MOCK_PID=$!
wait_for "[ -s '$T/bs' ]" 20
BS=$(cat "$T/bs")
start_rabbitmq "$T/rmq" 5672 || { echo "rabbitmq-server did not start" >&2; exit 1; }
PEEK=$B/tests/amqp_peek

conf() { # broker dest pcap who
    cat <<E2
daemonize: false
plugin_pipe_size: 10240000
plugin_buffer_size: 10240
pcap_savefile: $3
aggregate: src_host, dst_host, src_port, dst_port, proto
E2
    if [ "$1" = kafka ]; then
        printf 'plugins: kafka\nkafka_broker_host: %s\nkafka_broker_port: %s\nkafka_topic: %s\nkafka_cache_entries: %s\n' \
            "${BS%:*}" "${BS##*:}" "$2" "$NFLOWS"
        if [ "$4" = ours ]; then echo "kafka_flush_timeout: 600"; fi
    else
        printf 'plugins: amqp\namqp_host: 127.0.0.1\namqp_exchange: pmbench\namqp_routing_key: %s\namqp_cache_entries: %s\n' \
            "$2" "$NFLOWS"
        if [ "$4" = ours ]; then echo "amqp_flush_timeout: 600"; fi
    fi
}
now() { date +%s.%N; }
count() { # broker dest
    if [ "$1" = kafka ]; then
        kcat -Q -b "$BS" -t "$2:0:-1" 2>/dev/null | awk '{print $NF}'
    else
        rabbitmqctl -n "$RABBITMQ_NODENAME" -q list_queues name messages 2>/dev/null |
            awk -v q="$2" '$1 == q {print $2}'
    fi
}
# the reference's plugin processes may outlive its main process
ref_children() { pgrep -f '^pmacctd: ' >/dev/null; }

run() { # broker who -> "seconds messages"
    local br=$1 who=$2 bin t0 t1 n
    bin=$B/pmacctd
    [ "$who" = ours ] || bin=/usr/sbin/pmacctd
    [ "$br" = amqp ] && "$PEEK" -H 127.0.0.1:5672 -x pmbench -t direct -q "$br-$who" -k "$br-$who" bind
    conf "$br" "$br-$who" "$( [ "$who" = one ] && echo "$T/one.pcap" || echo "$T/bench.pcap")" "$who" >"$T/$br-$who.conf"
    t0=$(now)
    if [ "$who" = ours ]; then
        "$bin" -f "$T/$br-$who.conf" >"$T/$br-$who.log" 2>&1
    else
        # the reference loses the records still in its pipe when it exits
        # at the end of a savefile: it runs with pcap_savefile_wait and
        # gets SIGINT (purge, flush, exit) once it has read the file
        echo "pcap_savefile_wait: true" >>"$T/$br-$who.conf"
        "$bin" -f "$T/$br-$who.conf" >"$T/$br-$who.log" 2>&1 &
        wait_for "grep -q 'finished reading PCAP' '$T/$br-$who.log'" 600
        kill -INT $!
        wait $! || true
        wait_for '! ref_children' 600
    fi
    t1=$(now)
    # messages still in flight reach the broker within a few seconds
    wait_for "[ \"\$(count $br $br-$who)\" -ge \$(grep -o 'QN: [0-9]*' '$T/$br-$who.log' | awk '{s += \$2} END {print s + 0}') ]" 10 || true
    n=$(count "$br" "$br-$who")
    echo "$(echo "$t1 - $t0" | bc) ${n:-0} $(grep -o 'QN: [0-9]*' "$T/$br-$who.log" | awk '{s += $2} END {print s + 0}')"
}

exec 9>>/tmp/pmacct-ref.lock
for br in kafka amqp; do
    flock -w 600 9
    read -r fixed _ _ < <(run "$br" one)
    read -r ref nref _ < <(run "$br" ref)
    flock -u 9
    read -r ours nours aggr < <(run "$br" ours)
    python3 - "$br" "$aggr" "$fixed" "$ref" "$nref" "$ours" "$nours" <<'P'
import sys
br, nflows = sys.argv[1], int(sys.argv[2])
fixed, ref, nref, ours, nours = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
net = max(ref - fixed, 1e-3)
rr, ro = nref / net, nours / ours
print("| %s | %d aggregates | ref %d msgs, wall %.2f s - fixed %.2f s = %.2f s: %.0f msg/s | ours %d msgs in %.2f s (wall incl. start/stop): %.0f msg/s | %.1fx |"
      % (br, nflows, nref, ref, fixed, net, rr, nours, ours, ro, ro / rr if rr else 0))
P
done
