#!/bin/bash
# test_brokers.sh - differential: the same capture and config through
# Debian's pmacctd 1.7.7 and ours into the same brokers, messages compared
# as parsed JSON objects (multisets), ignoring writer_id (it holds the PID)
# and stamp_updated (wall clock); stamp_inserted (*_history) is compared.
#
# Kafka (tests/kafka_mock, one topic per run), three cases:
#   k1  5-tuple + vlan
#   k2  5-tuple + vlan, kafka_multi_values (objects unpacked from each
#       message), kafka_history 5m + roundoff
#   k3  src_host,dst_host,proto, kafka_history 1m, kafka_markers,
#       kafka_topic_rr 3 and kafka_partition_key $src_host on a 4-partition
#       mock: rows compared over the three topics together, plus the number
#       of rows per topic, and every message's key and partition.
# AMQP (a RabbitMQ node started here; one bound queue per run), two cases:
#   a1  5-tuple + vlan
#   a2  src_mac,dst_mac,vlan,tos, amqp_history 5m, amqp_multi_values
#   a3  src_host,dst_host,proto, amqp_markers, amqp_routing_key_rr 3 (rows
#       of the three queues together)
#
# The reference loses records silently when its plugin falls behind: a
# reference run that purged fewer rows than ours is run again (fresh
# topic/queue), at most three times; the comparison still decides.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/rabbitmq_lib.sh"
need_ours
need_ref
need_module kafka
need_module amqp
need_tool kcat "apt-get install kcat"
need_tool rabbitmq-server "apt-get install rabbitmq-server"
need_tool rabbitmqctl "apt-get install rabbitmq-server"
MOCK=$top_builddir/tests/kafka_mock
PEEK=$top_builddir/tests/amqp_peek
[ -x "$MOCK" ] || skip "tests/kafka_mock is not built"
[ -x "$PEEK" ] || skip "tests/amqp_peek is not built"
"$MOCK" -p 4 -f "$T/bs" >"$T/mock.out" 2>"$T/mock.err" &
MOCK_PID=$!
on_exit "kill $MOCK_PID 2>/dev/null; wait $MOCK_PID 2>/dev/null"
wait_for "[ -s '$T/bs' ]" 20 || fail "the Kafka mock cluster did not start"
BS=$(cat "$T/bs")
# on port 5672: the reference's amqp_host takes no port
start_rabbitmq "$T/rmq" 5672 || skip "rabbitmq-server did not start on 127.0.0.1:5672"
on_exit stop_rabbitmq

RR=0
AGG_5T="src_host, dst_host, proto, src_port, dst_port, vlan"
strip() { grep -v '^$' | sed -e 's/, "writer_id": "[^"]*"//' -e 's/, "stamp_updated": "[^"]*"//'; }
# topic -> one JSON object per line
k_objects() { kcat -C -b "$BS" -t "$1" -e -o beginning -q -f '%s\n' 2>/dev/null | strip; }
# dest -> the messages of its queue (or with RR set, of queues DEST_0..RR-1),
# consumed, appended to $T/<dest>.raw
a_queues() { if [ "$RR" = 0 ]; then echo "$1"; else for ((i = 0; i < RR; i++)); do echo "${1}_$i"; done; fi; }
a_fetch() {
    local q
    for q in $(a_queues "$1"); do
        "$PEEK" -H "$RMQ_HOST" -q "$q" -w 1 get >>"$T/$1.raw" 2>/dev/null
    done
}

rc=0
# conf FILE broker-lines... (stdin: extra lines)
conf() {
    local f=$1
    shift
    pm_conf "$f" <<E2
pcap_savefile: $(sample_pcap)
$(printf '%s\n' "$@")
$(cat)
E2
}

# run_case NAME BROKER AGG extra-config... : ours, then the reference until
# it purged as many rows as ours; leaves $T/NAME.{ours,ref}.json
run_case() {
    local name=$1 broker=$2 agg=$3 ours_n ref_n try dest want
    shift 3
    for try in ours 1 2 3; do
        dest=$name-$try
        if [ "$broker" = kafka ]; then
            printf '%s\n' "$@" | conf "$T/$dest.conf" "plugins: kafka" "aggregate: $agg" \
                "kafka_broker_host: ${BS%:*}" "kafka_broker_port: ${BS##*:}" "kafka_topic: $dest"
        else
            for q in $(a_queues "$dest"); do
                "$PEEK" -H "$RMQ_HOST" -x pmdiff -t direct -q "$q" -k "$q" bind ||
                    fail "cannot bind queue $q"
            done
            printf '%s\n' "$@" | conf "$T/$dest.conf" "plugins: amqp" "aggregate: $agg" \
                "amqp_host: ${RMQ_HOST%:*}" "amqp_exchange: pmdiff" "amqp_routing_key: $dest"
        fi
        if [ $try = ours ]; then
            run_our_pmacctd "$T/$dest.conf" || fail "$name: our run failed"
        else
            run_ref_pmacctd "$T/$dest.conf" || fail "$name: reference run failed"
        fi
        # rows purged according to the log; wait until they all arrived
        want=$(grep -o 'QN: [0-9]*' "$T/$dest.conf.log" | awk '{s += $2} END {print s + 0}')
        if [ "$broker" = kafka ]; then
            wait_for "[ \$(fetch_kafka $dest | grep -c '\"purge\"') -ge $want ]" 20 ||
                note "$name/$try: fewer rows than the $want purged arrived"
            fetch_kafka "$dest" >"$T/$dest.json"
        else
            : >"$T/$dest.raw"
            wait_for "a_fetch $dest; [ \$(grep -c '\"purge\"' '$T/$dest.raw') -ge $want ]" 20 ||
                note "$name/$try: fewer rows than the $want purged arrived"
            strip <"$T/$dest.raw" | grep -v purge_init >"$T/$dest.json"
        fi
        if [ $try = ours ]; then
            cp "$T/$dest.json" "$T/$name.ours.json"
            ours_n=$(grep -c '"purge"' "$T/$name.ours.json")
            [ "$ours_n" -gt 0 ] || fail "$name: ours published nothing"
            continue
        fi
        cp "$T/$dest.json" "$T/$name.ref.json"
        ref_n=$(grep -c '"purge"' "$T/$name.ref.json")
        [ "$ref_n" -ge "$ours_n" ] && break
        note "$name: reference run $try published $ref_n rows, ours $ours_n: running it again"
    done
    compare_json "$T/$name.ref.json" "$T/$name.ours.json" "$name ($broker: $agg; $*)" || rc=1
}

# kafka: the topic, or with RR set the topics TOPIC_0.._RR-1 together
fetch_kafka() {
    local i
    if [ "$RR" = 0 ]; then
        k_objects "$1"
    else
        for ((i = 0; i < RR; i++)); do k_objects "${1}_$i"; done | grep -v purge_init
    fi
}

run_case k1 kafka "$AGG_5T" "kafka_markers: false"
run_case k2 kafka "$AGG_5T" "kafka_multi_values: 2000" "kafka_history: 5m" "kafka_history_roundoff: m"

# k3: round-robin topics, markers, partition key.  purge_init is compared
# apart: the reference publishes it nowhere with kafka_topic_rr (ours to _0).
RR=3
run_case k3 kafka "src_host, dst_host, proto" "kafka_history: 1m" "kafka_markers: true" \
    "kafka_topic_rr: 3" 'kafka_partition_key: $src_host'
for who in ours 1 2 3; do [ -f "$T/k3-$who.conf" ] && last=$who; done
for i in 0 1 2; do
    o=$(k_objects "k3-ours_$i" | grep -c '"purge"')
    r=$(k_objects "k3-${last}_$i" | grep -c '"purge"')
    [ "$o" = "$r" ] || { echo "MISMATCH: k3: rows on topic _$i: reference $r, ours $o" >&2; rc=1; }
    # purge_close on _0 only, on both sides
    o=$(k_objects "k3-ours_$i" | grep -c purge_close)
    r=$(k_objects "k3-${last}_$i" | grep -c purge_close)
    [ "$o" = "$r" ] || { echo "MISMATCH: k3: purge_close on topic _$i: reference $r, ours $o" >&2; rc=1; }
    # key and partition of every row: the same function of the key
    kcat -C -b "$BS" -t "k3-${last}_$i" -e -o beginning -q -f '%k %p %s\n' 2>/dev/null |
        grep '"purge"' | cut -d' ' -f1,2 >>"$T/k3.ref.kp"
    kcat -C -b "$BS" -t "k3-ours_$i" -e -o beginning -q -f '%k %p %s\n' 2>/dev/null |
        grep '"purge"' | cut -d' ' -f1,2 >>"$T/k3.ours.kp"
done
grep -v '^ ' "$T/k3.ours.kp" | sort -u >"$T/k3.ours.kps"
grep -v '^ ' "$T/k3.ref.kp" | sort -u >"$T/k3.ref.kps"
# every key of the reference's rows with the same partition in ours
if join "$T/k3.ref.kps" "$T/k3.ours.kps" | awk '$2 != $3 {bad++} END {exit bad > 0}' &&
    [ "$(join "$T/k3.ref.kps" "$T/k3.ours.kps" | wc -l)" -ge "$(grep -c . "$T/k3.ref.kps")" ]; then
    echo "ok: k3: $(wc -l <"$T/k3.ref.kps") message keys (\$src_host) on the same partitions"
else
    echo "MISMATCH: k3: keys/partitions differ:" >&2
    diff "$T/k3.ref.kps" "$T/k3.ours.kps" | head -10 >&2
    rc=1
fi
RR=0

run_case a1 amqp "$AGG_5T" "amqp_markers: false"
run_case a2 amqp "src_mac, dst_mac, vlan, tos" "amqp_history: 5m" "amqp_history_roundoff: m" \
    "amqp_multi_values: 1500"
# a3: routing keys round-robin (purge_init apart, as for k3)
RR=3
run_case a3 amqp "src_host, dst_host, proto" "amqp_markers: true" "amqp_routing_key_rr: 3"
RR=0
exit $rc
