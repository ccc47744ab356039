#!/bin/bash
# test_amqp.sh - our pmacctd with the amqp output into a RabbitMQ started
# here (own node name, high ports, data in the temp dir; never the system
# service), read back with tests/amqp_peek.  1) every aggregate of the
# sample arrives once, same content as the print output; 2) the broker
# application is stopped mid-stream (rabbitmqctl stop_app) while the daemon
# purges, started again: nothing lost (durable queue, persistent messages,
# publisher confirms, spool); 3) the whole server is stopped while the
# daemon is delivering 60000 messages (bench capture) and started again:
# every aggregate arrives (at least once) and the totals equal the input.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
PCAPGEN=$top_builddir/tests/gen/pcapgen
need_ours
need_module amqp
need_tool rabbitmq-server "apt-get install rabbitmq-server"
need_tool rabbitmqctl "apt-get install rabbitmq-server"
PEEK=$top_builddir/tests/amqp_peek
[ -x "$PEEK" ] || skip "tests/amqp_peek is not built"

# --- our own RabbitMQ node (tests/rabbitmq_lib.sh) ---
. "$top_srcdir/tests/rabbitmq_lib.sh"
start_rabbitmq "$T/rmq" || skip "rabbitmq-server did not start"
on_exit stop_rabbitmq
H=$RMQ_HOST
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

# 3) the whole server stopped while the daemon delivers, then restarted
[ -x "$PCAPGEN" ] || fail "tests/gen/pcapgen is not built"
NF=60000
"$PCAPGEN" bench "$T/b.pcap" $((2 * NF)) $NF >/dev/null || fail "pcapgen"
# a durable exchange and queue: the binding must survive the restart
"$PEEK" -H $H -x pmxd -t direct -q q3 -k mid -d bind || fail "cannot bind q3"
pm_conf "$T/print3.conf" <<E2
pcap_savefile: $T/b.pcap
plugins: print
aggregate: src_host, dst_host, proto, src_port, dst_port
print_output: json
print_output_file: $T/print3.json
print_cache_entries: $NF
E2
run_our_pmacctd "$T/print3.conf" || fail "print run 3 failed"
ROWS3=$(wc -l <"$T/print3.json")
pm_conf "$T/a3.conf" <<E2
pcap_savefile: $T/b.pcap
plugins: amqp
aggregate: src_host, dst_host, proto, src_port, dst_port
amqp_host: $H
amqp_exchange: pmxd
amqp_routing_key: mid
amqp_persistent_msg: true
amqp_cache_entries: $NF
amqp_spool_dir: $T/spool3
amqp_flush_timeout: 120
E2
qlen() { rabbitmqctl -n "$RABBITMQ_NODENAME" -q list_queues name messages 2>/dev/null | awk '$1 == "q3" {print $2}'; }
start_our_pmacctd "$T/a3.conf"
wait_for "[ \"\$(qlen)\" -gt 0 ] 2>/dev/null" 60 || fail "no message reached q3"
BEFORE=$(qlen)
stop_rabbitmq
daemon_alive || fail "the daemon exited before the broker was stopped: nothing was under way"
[ "${BEFORE:-0}" -lt "$ROWS3" ] || fail "all $ROWS3 messages were in q3 before the stop: not mid-stream"
rabbitmq_spawn || fail "rabbitmq-server did not restart"
wait_for "! daemon_alive" 180 || fail "the daemon did not finish after the broker came back"
stop_daemon
"$PEEK" -H $H -q q3 -w 2 get >"$T/q3.json" || fail "cannot read q3"
N3=$(grep -c '"event_type": "purge"' "$T/q3.json")
grep '"event_type": "purge"' "$T/q3.json" | sed 's/, "writer_id": "[^"]*"//' | sort -u >"$T/q3.rows"
compare_json "$T/print3.json" "$T/q3.rows" "amqp after a broker restart vs print rows" ||
    fail "aggregates lost or changed across the broker restart"
grep -q 'not delivered' "$T/a3.conf.log" || fail "the daemon saw no failed delivery: the stop did not interrupt it"
echo "ok: broker restarted while delivering (q3 held $BEFORE at the stop): $N3 messages received for $ROWS3 aggregates, every one present, totals equal"
