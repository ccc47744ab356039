#!/bin/bash
# test_kafka.sh - our pmacctd with the kafka output into a Kafka mock
# cluster (tests/kafka_mock, librdkafka's mock on loopback), read back with
# kcat.  1) every aggregate of the sample capture arrives once (rows counted
# against the print output of the same config); 2) the brokers go down
# mid-stream (SIGUSR1 to the mock) while the daemon keeps purging, come back
# (SIGUSR2): nothing lost (at least once: every aggregate of every purge is
# there), then with the brokers down at shutdown the messages go to
# kafka_spool_dir and the next start sends them.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
need_ours
need_module kafka
need_tool kcat "apt-get install kcat"
MOCK=$top_builddir/tests/kafka_mock
[ -x "$MOCK" ] || skip "tests/kafka_mock is not built"

"$MOCK" -t acct -t spool -f "$T/bs" >"$T/mock.out" 2>"$T/mock.err" &
MOCK_PID=$!
on_exit "kill $MOCK_PID 2>/dev/null; wait $MOCK_PID 2>/dev/null"
wait_for "[ -s '$T/bs' ]" 20 || fail "the Kafka mock cluster did not start"
BS=$(cat "$T/bs")

count() { # topic -> number of JSON objects with event_type purge
    kcat -C -b "$BS" -t "$1" -e -o beginning -q -f '%s\n' 2>/dev/null | grep -c '"event_type": "purge"'
}

# reference row count: the print output of the same aggregation
pm_conf "$T/print.conf" <<E2
pcap_savefile: $(sample_pcap)
plugins: print
aggregate: src_host, dst_host, proto, dst_port
print_output: json
print_output_file: $T/print.json
E2
run_our_pmacctd "$T/print.conf" || fail "print run failed"
ROWS=$(wc -l <"$T/print.json")
[ "$ROWS" -gt 100 ] || fail "only $ROWS rows from the sample"

# 1) plain run
pm_conf "$T/k1.conf" <<E2
pcap_savefile: $(sample_pcap)
plugins: kafka
aggregate: src_host, dst_host, proto, dst_port
kafka_broker_host: ${BS%:*}
kafka_broker_port: ${BS##*:}
kafka_topic: acct
kafka_markers: true
E2
run_our_pmacctd "$T/k1.conf" || fail "kafka run failed"
wait_for "[ \$(count acct) -ge $ROWS ]" 20 || fail "acct: $(count acct) of $ROWS aggregates"
kcat -C -b "$BS" -t acct -e -o beginning -q -f '%s\n' >"$T/acct.json" 2>/dev/null
grep '"event_type": "purge"' "$T/acct.json" | sed 's/, "writer_id": "[^"]*"//' >"$T/acct.rows"
compare_json "$T/print.json" "$T/acct.rows" "kafka messages vs print rows" || fail "contents differ"
grep -q '"event_type": "purge_close"' "$T/acct.json" || fail "no purge_close marker"
echo "ok: $ROWS aggregates delivered once"

# 2) brokers down at shutdown: spooled, sent at the next start
kill -USR1 $MOCK_PID
sed -e 's/kafka_topic: acct/kafka_topic: spool/' -e '/kafka_markers/d' "$T/k1.conf" >"$T/k2.conf"
printf 'kafka_spool_dir: %s\nkafka_flush_timeout: 1\n' "$T/spool" >>"$T/k2.conf"
run_our_pmacctd "$T/k2.conf" || fail "kafka run (brokers down) failed"
ls "$T/spool"/*.spool >/dev/null 2>&1 || fail "nothing spooled; log: $(tail -5 "$T/k2.conf.log")"
kill -USR2 $MOCK_PID
# a second run: spool first, then its own purge
sed -i 's/kafka_flush_timeout: 1/kafka_flush_timeout: 60/' "$T/k2.conf"
run_our_pmacctd "$T/k2.conf" || fail "kafka run (spool replay) failed"
wait_for "[ \$(count spool) -ge $((2 * ROWS)) ]" 30 || fail "spool: $(count spool) of $((2 * ROWS))"
ls "$T/spool"/*.spool >/dev/null 2>&1 && fail "spool not emptied"
echo "ok: brokers down at shutdown: $ROWS aggregates spooled and re-sent"

# 3) brokers going away mid-stream while the daemon is live
pm_conf "$T/k3.conf" <<E2
pcap_savefile: $(sample_pcap)
pcap_savefile_wait: true
plugins: kafka
aggregate: src_host, dst_host, proto, dst_port
kafka_broker_host: ${BS%:*}
kafka_broker_port: ${BS##*:}
kafka_topic: live
kafka_refresh_time: 1
kafka_spool_dir: $T/spool3
kafka_spool_mem: 16K
E2
kill -USR1 $MOCK_PID
start_our_pmacctd "$T/k3.conf"
wait_for "grep -q 'Purging cache - END (PID: [0-9]*, QN: $ROWS/' '$T/k3.conf.log'" 30 || fail "no purge while the brokers are down"
wait_for "ls '$T/spool3'/*.spool >/dev/null 2>&1" 10 || fail "nothing spooled while down"
kill -USR2 $MOCK_PID
wait_for "[ \$(count live) -ge $ROWS ]" 60 || fail "live: $(count live) of $ROWS after the brokers came back"
stop_daemon
N=$(count live)
[ "$N" -ge "$ROWS" ] || fail "live: $N < $ROWS"
echo "ok: brokers down mid-stream: $N messages for $ROWS aggregates (at least once)"
