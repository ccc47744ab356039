#!/bin/bash
# test_amqp.sh - our pmacctd with the amqp output into a RabbitMQ started
# here (own node name, high ports, data in the temp dir; never the system
# service), read back with tests/amqp_peek.  1) every aggregate of the
# sample arrives once, same content as the print output; 2) the broker
# application is stopped mid-stream (rabbitmqctl stop_app) while the daemon
# purges, started again: nothing lost (durable queue, persistent messages,
# publisher confirms, spool).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
need_ours
need_module amqp
need_tool rabbitmq-server "apt-get install rabbitmq-server"
need_tool rabbitmqctl "apt-get install rabbitmq-server"
PEEK=$top_builddir/tests/amqp_peek
[ -x "$PEEK" ] || skip "tests/amqp_peek is not built"

# --- our own RabbitMQ node (run as root, the server script drops to the
# rabbitmq user: its files live in $R, owned by that user) ---
R=$T/rmq
mkdir -p "$R"
if [ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1; then
    chmod 755 "$T"
fi
PORT=$((20000 + $$ % 20000))
export HOME=$R/home RABBITMQ_NODENAME=pmtest$$@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
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
H=127.0.0.1:$PORT
count() { "$PEEK" -H $H -q "$1" -w 2 get >>"$T/$1.got" && grep -c '"event_type": "purge"' "$T/$1.got"; }

pm_conf "$T/print.conf" <<E2
pcap_savefile: $(sample_pcap)
plugins: print
aggregate: src_host, dst_host, proto, dst_port
print_output: json
print_output_file: $T/print.json
E2
run_our_pmacctd "$T/print.conf" || fail "print run failed"
ROWS=$(wc -l <"$T/print.json")

# 1) plain run
"$PEEK" -H $H -x pmx -t direct -q q1 -k acct -d bind || fail "cannot bind q1"
pm_conf "$T/a1.conf" <<E2
pcap_savefile: $(sample_pcap)
plugins: amqp
aggregate: src_host, dst_host, proto, dst_port
amqp_host: $H
amqp_exchange: pmx
amqp_routing_key: acct
amqp_markers: true
E2
run_our_pmacctd "$T/a1.conf" || fail "amqp run failed"
"$PEEK" -H $H -q q1 -w 2 get >"$T/q1.json" || fail "cannot read q1"
grep '"event_type": "purge"' "$T/q1.json" | sed 's/, "writer_id": "[^"]*"//' >"$T/q1.rows"
compare_json "$T/print.json" "$T/q1.rows" "amqp messages vs print rows" || fail "contents differ"
grep -q '"event_type": "purge_close"' "$T/q1.json" || fail "no purge_close marker"
echo "ok: $ROWS aggregates delivered once"

# 2) broker stopped mid-stream
"$PEEK" -H $H -x pmx -t direct -q q2 -k live -d bind || fail "cannot bind q2"
pm_conf "$T/a2.conf" <<E2
pcap_savefile: $(sample_pcap)
pcap_savefile_wait: true
plugins: amqp
aggregate: src_host, dst_host, proto, dst_port
amqp_host: $H
amqp_exchange: pmx
amqp_routing_key: live
amqp_persistent_msg: true
amqp_refresh_time: 1
amqp_spool_dir: $T/spool
amqp_spool_mem: 16K
E2
rabbitmqctl -n $RABBITMQ_NODENAME -q stop_app >/dev/null || fail "stop_app"
start_our_pmacctd "$T/a2.conf"
wait_for "grep -q 'Purging cache - END (PID: [0-9]*, QN: $ROWS/' '$T/a2.conf.log'" 30 || fail "no purge while the broker is down"
wait_for "ls '$T/spool'/*.spool >/dev/null 2>&1" 10 || fail "nothing spooled while down"
rabbitmqctl -n $RABBITMQ_NODENAME -q start_app >/dev/null || fail "start_app"
: >"$T/q2.got"
wait_for "[ \$(count q2) -ge $ROWS ]" 60 || fail "q2: $(grep -c purge "$T/q2.got") of $ROWS after the broker came back"
stop_daemon
echo "ok: broker stopped mid-stream: $(grep -c '"event_type": "purge"' "$T/q2.got") messages for $ROWS aggregates (at least once)"
