#!/bin/bash
# test_brokers.sh - differential: the same capture and config through
# Debian's pmacctd 1.7.7 and ours, both with the kafka output, into the same
# Kafka mock cluster (topics ref and ours); the JSON messages are compared
# as parsed objects (multiset), ignoring writer_id (it holds the PID) and
# stamp_updated (wall clock).  Also with kafka_multi_values (objects
# unpacked from each message) and kafka_history (stamp_inserted compared).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
need_ours
need_ref
need_module kafka
need_tool kcat "apt-get install kcat"
MOCK=$top_builddir/tests/kafka_mock
[ -x "$MOCK" ] || skip "tests/kafka_mock is not built"
"$MOCK" -f "$T/bs" -t ref1 -t ours1 -t ref2 -t ours2 >"$T/mock.out" 2>"$T/mock.err" &
MOCK_PID=$!
on_exit "kill $MOCK_PID 2>/dev/null; wait $MOCK_PID 2>/dev/null"
wait_for "[ -s '$T/bs' ]" 20 || fail "the Kafka mock cluster did not start"
BS=$(cat "$T/bs")

# topic -> one JSON object per line, writer_id and stamp_updated removed
objects() {
    kcat -C -b "$BS" -t "$1" -e -o beginning -q -f '%s\n' 2>/dev/null |
        grep -v '^$' | sed -e 's/, "writer_id": "[^"]*"//' -e 's/, "stamp_updated": "[^"]*"//'
}

rc=0
# conf WHO N TOPIC extra-config...
conf() {
    local who=$1 n=$2 topic=$3
    shift 3
    pm_conf "$T/$who$n.conf" <<E2
pcap_savefile: $(sample_pcap)
plugins: kafka
aggregate: src_host, dst_host, proto, src_port, dst_port, vlan
kafka_broker_host: ${BS%:*}
kafka_broker_port: ${BS##*:}
kafka_topic: $topic
$(printf '%s\n' "$@")
E2
}

run_case() { # n extra-config...
    local n=$1 ours_n want try topic
    shift
    # ours: delivery is confirmed before the daemon exits
    conf ours "$n" "ours$n" "$@"
    run_our_pmacctd "$T/ours$n.conf" || fail "our run $n failed"
    objects "ours$n" >"$T/ours$n.json"
    ours_n=$(grep -c purge "$T/ours$n.json")
    # the reference drops records silently when its plugin falls behind
    # (more likely on a loaded machine): a run that purged fewer aggregates
    # than ours is run again, on a fresh topic, up to three times
    for try in 1 2 3; do
        topic=ref$n-$try
        conf ref "$n" "$topic" "$@"
        run_ref_pmacctd "$T/ref$n.conf" || fail "reference run $n failed"
        want=$(grep -o 'QN: [0-9]*' "$T/ref$n.conf.log" | sort -t' ' -k2 -n | tail -1 | cut -d' ' -f2)
        wait_for "[ \$(objects $topic | grep -c purge) -ge ${want:-1} ]" 20 || fail "reference: missing messages"
        objects "$topic" >"$T/ref$n.json"
        [ "$(grep -c purge "$T/ref$n.json")" -ge "$ours_n" ] && break
        note "reference run $n/$try purged $(grep -c purge "$T/ref$n.json") aggregates, ours $ours_n: running it again"
    done
    compare_json "$T/ref$n.json" "$T/ours$n.json" "kafka case $n ($*)" || rc=1
}
run_case 1 "kafka_markers: false"
run_case 2 "kafka_multi_values: 2000" "kafka_history: 5m" "kafka_history_roundoff: m"
exit $rc
