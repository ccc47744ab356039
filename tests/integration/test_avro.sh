#!/bin/bash
# test_avro.sh - Avro outputs decoded by python3-avro (the Apache Python
# implementation, not the avro-c we encode with) and compared with the JSON
# output of the same capture and aggregation:
#  1) print: print_output avro (object container file) and avro_json, same
#     rows as print_output json; avro_schema_file = the file's schema.
#  2) kafka (tests/kafka_mock): kafka_output avro, schema read back from
#     kafka_avro_schema_topic, every message decoded with it; kafka_preprocess
#     minp drops the small aggregates (exactly those); kafka_trigger_exec runs
#     after the purge; avro_json with kafka_multi_values packing.
#  3) amqp (own rabbitmq-server): amqp_output avro with the schema from
#     amqp_avro_schema_routing_key, amqp_preprocess minb, amqp_trigger_exec.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
need_ours
need_module print
need_module kafka
need_module amqp
need_tool "$PM_PY" "apt-get install python3"
"$PM_PY" -c 'import avro.io, avro.datafile' 2>/dev/null || skip "needs python3-avro (apt-get install python3-avro)"
need_tool kcat "apt-get install kcat"
need_tool amqp-consume "apt-get install amqp-tools"
need_tool rabbitmq-server "apt-get install rabbitmq-server"
MOCK=$top_builddir/tests/kafka_mock
[ -x "$MOCK" ] || skip "tests/kafka_mock is not built"
DEC="$PM_PY $top_srcdir/tests/integration/avro_decode.py"
AGG="src_host, dst_host, src_mac, vlan, proto, tos, dst_port, tcpflags"

# ---- 1) print ------------------------------------------------------------
pm_conf "$T/p.conf" <<E2
pcap_savefile: $(sample_pcap)
plugins: print[j], print[a], print[aj]
aggregate: $AGG
print_output[j]: json
print_output_file[j]: $T/p.json
print_output[a]: avro
print_output_file[a]: $T/p.avro
print_output[aj]: avro_json
print_output_file[aj]: $T/p.ajson
avro_schema_file[a]: $T/p.avsc
E2
run_our_pmacctd "$T/p.conf" || fail "print run failed: $(tail -3 "$T/p.conf.log")"
ROWS=$(wc -l <"$T/p.json")
[ "$ROWS" -gt 100 ] || fail "only $ROWS rows from the sample"
$DEC file "$T/p.avro" >"$T/p.avro.json" || fail "python3-avro cannot read $T/p.avro"
compare_json "$T/p.json" "$T/p.avro.json" "print avro file vs json" || fail "avro file differs from json"
compare_json "$T/p.json" "$T/p.ajson" "print avro_json vs json" || fail "avro_json differs from json"
"$PM_PY" - "$T/p.avsc" "$T/p.avro.schema" <<'EOF' || fail "avro_schema_file is not the file's schema"
import sys, avro.schema
a, b = (avro.schema.parse(open(p).read()) for p in sys.argv[1:3])
sys.exit(0 if a == b else 1)
EOF
echo "ok: print avro: $ROWS rows decoded by python3-avro equal the json output"

# avro without print_output_file: Avro JSON on stdout (as pmacct)
pm_conf "$T/s.conf" <<E2
pcap_savefile: $(sample_pcap)
plugins: print
aggregate: $AGG
print_output: avro
E2
"$PM_OUR_PMACCTD" -f "$T/s.conf" >"$T/s.out" 2>"$T/s.log" || fail "stdout run failed"
compare_json "$T/p.json" "$T/s.out" "print avro to stdout vs json" || fail "stdout avro differs"

# ---- 2) kafka --------------------------------------------------------------
"$MOCK" -t av -t avs -t aj -t avs2 -t av2 -t avb -t avx >"$T/mock.out" 2>"$T/mock.err" -f "$T/bs" &
MOCK_PID=$!
on_exit "kill $MOCK_PID 2>/dev/null; wait $MOCK_PID 2>/dev/null"
wait_for "[ -s '$T/bs' ]" 20 || fail "the Kafka mock cluster did not start"
BS=$(cat "$T/bs")
cat >"$T/trig.sh" <<E2
#!/bin/sh
echo fired >>"$T/trig.out"
E2
chmod +x "$T/trig.sh"
# expected: the aggregates of at least 3 packets
$DEC select packets 3 "$T/p.json" >"$T/p.min3.json"
KEEP=$(wc -l <"$T/p.min3.json")
[ "$KEEP" -gt 10 ] && [ "$KEEP" -lt "$ROWS" ] || fail "minp=3 keeps $KEEP of $ROWS: a poor threshold for the test"
pm_conf "$T/k.conf" <<E2
pcap_savefile: $(sample_pcap)
plugins: kafka
aggregate: $AGG
kafka_broker_host: ${BS%:*}
kafka_broker_port: ${BS##*:}
kafka_topic: av
kafka_output: avro
kafka_avro_schema_topic: avs
avro_schema_file: $T/k.avsc
kafka_preprocess: minp=3
kafka_trigger_exec: $T/trig.sh
E2
run_our_pmacctd "$T/k.conf" || fail "kafka avro run failed: $(tail -3 "$T/k.conf.log")"
kmsgs() { kcat -C -b "$BS" -t "$1" -e -o beginning -q -f "$2" 2>/dev/null; }
wait_for "[ \$(kmsgs av '%o\n' | wc -l) -ge $KEEP ]" 20 || fail "av: $(kmsgs av '%o\n' | wc -l) of $KEEP messages"
kmsgs avs '%s\n' | tail -n 1 >"$T/avs.avsc"
[ -s "$T/avs.avsc" ] || fail "no schema on kafka_avro_schema_topic"
cmp -s "$T/avs.avsc" "$T/k.avsc" || fail "schema topic and avro_schema_file differ"
kmsgs av '%R%s' >"$T/av.bin"
$DEC frames "$T/avs.avsc" "$T/av.bin" >"$T/av.json" || fail "cannot decode the kafka messages with the published schema"
compare_json "$T/p.min3.json" "$T/av.json" "kafka avro (minp=3) vs json rows of >= 3 packets" || fail "kafka avro contents differ"
wait_for "[ -s '$T/trig.out' ]" 10 || fail "kafka_trigger_exec did not run"
echo "ok: kafka avro: $KEEP of $ROWS aggregates kept by kafka_preprocess, decoded with the schema topic's schema; trigger ran"

# refused at start-up with a clear message: the schema registry, markers
for extra in "kafka_avro_schema_registry: http://127.0.0.1:1" "kafka_markers: true"; do
    { grep -v '^kafka_trigger_exec' "$T/k.conf"; echo "$extra"; } >"$T/kr.conf"
    run_our_pmacctd "$T/kr.conf" 2>/dev/null && fail "'$extra' with avro was accepted"
    grep -q "${extra%%:*}: not supported" "$T/kr.conf.log" || fail "no clear error for '$extra': $(tail -2 "$T/kr.conf.log")"
done
echo "ok: kafka_avro_schema_registry and kafka_markers with avro refused"

# avro_json packed by kafka_multi_values (one JSON datum per line)
sed -e 's/kafka_topic: av$/kafka_topic: aj/' -e 's/kafka_output: avro/kafka_output: avro_json/' \
    -e '/kafka_preprocess/d' -e '/kafka_trigger_exec/d' -e '/kafka_avro_schema_topic/d' "$T/k.conf" >"$T/kj.conf"
echo "kafka_multi_values: 4000" >>"$T/kj.conf"
run_our_pmacctd "$T/kj.conf" || fail "kafka avro_json run failed"
wait_for "[ \$(kmsgs aj '%s\n' | grep -c '\"event_type\"') -ge $ROWS ]" 20 || fail "aj: $(kmsgs aj '%s\n' | grep -c event_type) of $ROWS rows"
kmsgs aj '%s\n' | sed 's/, "writer_id": "[^"]*"//' >"$T/aj.json"
compare_json "$T/p.json" "$T/aj.json" "kafka avro_json (multi_values) vs json" || fail "kafka avro_json differs"
NM=$(kmsgs aj '%o\n' | wc -l)
[ "$NM" -lt "$ROWS" ] || fail "kafka_multi_values did not pack ($NM messages for $ROWS rows)"
echo "ok: kafka avro_json: $ROWS rows in $NM messages"

# binary datums packed by kafka_multi_values, messages capped by avro_buffer_size
sed -e 's/^kafka_topic: av$/kafka_topic: avb/' -e '/kafka_preprocess/d' -e '/kafka_trigger_exec/d' \
    -e '/kafka_avro_schema_topic/d' -e '/avro_schema_file/d' "$T/k.conf" >"$T/kb.conf"
printf 'kafka_multi_values: 100000\navro_buffer_size: 1000\n' >>"$T/kb.conf"
run_our_pmacctd "$T/kb.conf" || fail "kafka avro multi_values run failed"
wait_for "kmsgs avb '%R%s' >'$T/avb.bin' && [ \$($DEC frames '$T/k.avsc' '$T/avb.bin' 2>/dev/null | wc -l) -ge $ROWS ]" 20
$DEC frames "$T/k.avsc" "$T/avb.bin" >"$T/avb.json" || fail "cannot decode the packed kafka messages"
compare_json "$T/p.json" "$T/avb.json" "kafka avro packed (multi_values) vs json" || fail "packed avro differs"
BIG=$(kmsgs avb '%S\n' | awk '$1 > 1000' | wc -l)
NB=$(kmsgs avb '%S\n' | wc -l)
[ "$BIG" = 0 ] || fail "$BIG messages larger than avro_buffer_size 1000"
[ "$NB" -lt "$((ROWS / 5))" ] || fail "avro datums not packed: $NB messages for $ROWS rows"
echo "ok: kafka avro packed: $ROWS datums in $NB messages of at most avro_buffer_size bytes"

# a datum larger than avro_buffer_size: skipped and counted, never sent
sed -e 's/^kafka_topic: avb$/kafka_topic: avx/' -e 's/^avro_buffer_size: 1000$/avro_buffer_size: 16/' \
    -e '/kafka_multi_values/d' "$T/kb.conf" >"$T/kx.conf"
run_our_pmacctd "$T/kx.conf" || fail "kafka avro tiny buffer run failed"
grep -q "avro_buffer_size: 16 bytes cannot hold one aggregate" "$T/kx.conf.log" || fail "no error for datums larger than avro_buffer_size"
[ "$(kmsgs avx '%o\n' | wc -l)" = 0 ] || fail "datums larger than avro_buffer_size were sent"
echo "ok: datums larger than avro_buffer_size refused with an error"

# the schema is published again every kafka_avro_schema_refresh_time
sed -e 's/^kafka_topic: av$/kafka_topic: av2/' -e 's/^kafka_avro_schema_topic: avs$/kafka_avro_schema_topic: avs2/' \
    -e '/kafka_trigger_exec/d' -e '/avro_schema_file/d' "$T/k.conf" >"$T/kt.conf"
printf 'kafka_avro_schema_refresh_time: 1\npcap_savefile_wait: true\n' >>"$T/kt.conf"
start_our_pmacctd "$T/kt.conf"
wait_for "[ \$(kmsgs avs2 '%o\n' | wc -l) -ge 3 ]" 30 || fail "avs2: $(kmsgs avs2 '%o\n' | wc -l) schema messages, expected one a second"
stop_daemon
echo "ok: kafka_avro_schema_refresh_time 1: schema published $(kmsgs avs2 '%o\n' | wc -l) times"

# ---- 3) amqp ----------------------------------------------------------------
R=$T/rmq
mkdir -p "$R"
[ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1 && chmod 755 "$T"
PORT=$((20000 + ($$ + 7) % 20000))
export HOME=$R/home RABBITMQ_NODENAME=pmavro$$@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$PORT RABBITMQ_DIST_PORT=$((PORT + 20000))
export RABBITMQ_MNESIA_BASE=$R/mnesia RABBITMQ_LOG_BASE=$R/rlog
export RABBITMQ_CONFIG_FILE=$R/rabbitmq RABBITMQ_ENABLED_PLUGINS_FILE=$R/plugins
export RABBITMQ_FEATURE_FLAGS_FILE=$R/feature_flags RABBITMQ_PLUGINS_EXPAND_DIR=$R/pexp
export RABBITMQ_PID_FILE=$R/rabbit.pid RABBITMQ_SCHEMA_DIR=$R/schema RABBITMQ_GENERATED_CONFIG_DIR=$R/gen
mkdir -p "$HOME" "$R/mnesia" "$R/rlog" "$R/schema" "$R/gen"
echo '[].' >"$R/plugins"
echo 'loopback_users = none' >"$R/rabbitmq.conf"
[ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1 && chown -R rabbitmq: "$R"
(cd "$R" && exec rabbitmq-server) >"$T/rabbit.out" 2>&1 &
RPID=$!
on_exit "rabbitmqctl -n $RABBITMQ_NODENAME stop >/dev/null 2>&1; kill $RPID 2>/dev/null; wait $RPID 2>/dev/null"
wait_for "! kill -0 $RPID 2>/dev/null || rabbitmqctl -n $RABBITMQ_NODENAME -q await_startup >/dev/null 2>&1" 90
kill -0 $RPID 2>/dev/null && rabbitmqctl -n $RABBITMQ_NODENAME -q status >/dev/null 2>&1 ||
    skip "rabbitmq-server did not start: $(tail -5 "$T/rabbit.out")"
PEEK=$top_builddir/tests/amqp_peek
[ -x "$PEEK" ] || skip "tests/amqp_peek is not built"
"$PEEK" -H 127.0.0.1:$PORT -x pmav -t direct -q qa -k acct -d bind || fail "cannot bind qa"
"$PEEK" -H 127.0.0.1:$PORT -x pmav -t direct -q qs -k schema -d bind || fail "cannot bind qs"
# a smaller aggregation: one consumer process per message below
pm_conf "$T/ap.conf" <<E2
pcap_savefile: $(sample_pcap)
plugins: print
aggregate: proto, dst_port
print_output: json
print_output_file: $T/ap.json
E2
run_our_pmacctd "$T/ap.conf" || fail "print run (amqp aggregation) failed"
$DEC select bytes 10000 "$T/ap.json" >"$T/ap.min.json"
AKEEP=$(wc -l <"$T/ap.min.json")
[ "$AKEEP" -gt 3 ] && [ "$AKEEP" -lt "$(wc -l <"$T/ap.json")" ] || fail "minb=10000 keeps $AKEEP rows: a poor threshold"
rm -f "$T/trig.out"
pm_conf "$T/a.conf" <<E2
pcap_savefile: $(sample_pcap)
plugins: amqp
aggregate: proto, dst_port
amqp_host: 127.0.0.1:$PORT
amqp_exchange: pmav
amqp_routing_key: acct
amqp_output: avro
amqp_avro_schema_routing_key: schema
amqp_preprocess: minb=10000
amqp_trigger_exec: $T/trig.sh
E2
run_our_pmacctd "$T/a.conf" || fail "amqp avro run failed: $(tail -3 "$T/a.conf.log")"
"$PEEK" -H 127.0.0.1:$PORT -q qs -n 1 -w 5 get | head -n 1 >"$T/as.avsc"
[ -s "$T/as.avsc" ] || fail "no schema on amqp_avro_schema_routing_key"
printf '#!/bin/sh\nod -An -v -tx1 | tr -d " \\n"; echo\n' >"$T/hex.sh"
chmod +x "$T/hex.sh"
timeout 60 amqp-consume -s 127.0.0.1 --port $PORT -q qa -c "$AKEEP" "$T/hex.sh" >"$T/qa.hex" || fail "amqp-consume: $(wc -l <"$T/qa.hex") of $AKEEP messages"
$DEC hex "$T/as.avsc" "$T/qa.hex" >"$T/qa.json" || fail "cannot decode the amqp messages with the published schema"
compare_json "$T/ap.min.json" "$T/qa.json" "amqp avro (minb=10000) vs json rows of >= 10000 bytes" || fail "amqp avro contents differ"
LEFT=$("$PEEK" -H 127.0.0.1:$PORT -q qa -w 1 get | wc -l)
[ "$LEFT" = 0 ] || fail "$LEFT more messages than the aggregates kept"
wait_for "[ -s '$T/trig.out' ]" 10 || fail "amqp_trigger_exec did not run"
echo "ok: amqp avro: $AKEEP aggregates kept by amqp_preprocess, decoded with the published schema; trigger ran"
