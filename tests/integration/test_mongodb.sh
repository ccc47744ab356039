#!/bin/bash
# test_mongodb.sh - our pmacctd with the mongodb output into
# tests/mongo/mongo_server.py (a MongoDB wire-protocol server in Python
# started here on a free loopback port; no real mongod exists on Debian 12),
# checked on the server's JSON dump with tests/mongo/mongo_check.py:
#  1) the sample, tagged by a pre_tag_map, into mongo_table
#     pm.%Y%m%d_t$tag with mongo_history 5m: packets/bytes summed per
#     aggregate equal the print output's for the same config; BSON types
#     (int64 counters, dates, string addresses); every document in the
#     collection its tag and day name; the indexes of mongo_indexes_file
#     exist in every collection; mongo_insert_batch 100 splits inserts;
#     a second instance with mongo_preprocess minp=2 stores exactly the
#     print rows of 2 packets or more, and runs mongo_trigger_exec;
#  2) authentication (SCRAM-SHA-256 with mongo_user/mongo_passwd): right
#     password stores everything, a wrong one stores nothing and says so;
#  3) the server stopped while the daemon purges, restarted (it reloads
#     its dump) on the same port: nothing lost (spool, retries);
#  4) the server crashes after storing an insert and before acknowledging
#     it, restarted: nothing lost, that batch stored twice (at least once);
#  5) the server refuses the icmp documents (write errors): those are
#     dropped, logged and counted `rejected`, every other one is stored.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
need_ours
need_module mongodb
need_module tag
need_module print
need_tool "$PM_PY" "apt-get install python3"
SRV=$top_srcdir/tests/mongo/mongo_server.py
CHECK=$top_srcdir/tests/mongo/mongo_check.py
export TZ=UTC

SPID=
# start_server NAME [PORT] [ARGS...]: server state in $T/NAME.*, port in $PORT
start_server() {
    local name=$1 port=${2:-0}
    shift
    [ $# -gt 0 ] && shift
    rm -f "$T/$name.port"
    "$PM_PY" "$SRV" --port "$port" --port-file "$T/$name.port" \
        --dump "$T/$name.json" --log "$T/$name.log" "$@" &
    SPID=$!
    wait_for "[ -s '$T/$name.port' ] || ! kill -0 $SPID 2>/dev/null" 20
    [ -s "$T/$name.port" ] || skip "mongo_server.py did not start: $(tail -3 "$T/$name.log" 2>/dev/null)"
    PORT=$(cat "$T/$name.port")
}
stop_server() {
    [ -n "$SPID" ] || return 0
    kill -TERM "$SPID" 2>/dev/null
    wait "$SPID" 2>/dev/null
    SPID=
}
on_exit stop_server
ndocs() { "$PM_PY" "$CHECK" count "$T/$1.json" "$2" 2>/dev/null || echo 0; }

cat >"$T/pretag.map" <<'E2'
set_tag=1 filter='tcp'
set_tag=2 filter='udp'
E2
printf '! indexes\nip_src, ip_dst\n\nip_proto\n' >"$T/indexes.lst"
AGG="tag, src_host, dst_host, proto, dst_port"

pm_conf "$T/print.conf" <<E2
pcap_savefile: $(sample_pcap)
pre_tag_map: $T/pretag.map
plugins: print
aggregate: $AGG
print_output: json
print_output_file: $T/print.json
E2
run_our_pmacctd "$T/print.conf" || fail "print run failed: $(tail -3 "$T/print.conf.log")"
ROWS=$(grep -c . "$T/print.json")
[ "$ROWS" -gt 100 ] || fail "print wrote $ROWS rows"

# 1) content, types, dynamic names, indexes; a second instance with
# mongo_preprocess and mongo_trigger_exec
start_server s1
printf '#!/bin/sh\necho fired >>"%s"\n' "$T/trigger.out" >"$T/trigger.sh"
chmod +x "$T/trigger.sh"
"$PM_PY" -c 'import json, sys
for l in open(sys.argv[1]):
    if l.strip() and json.loads(l)["packets"] >= 2: sys.stdout.write(l)' \
    "$T/print.json" >"$T/print_minp2.json"
ROWS2=$(grep -c . "$T/print_minp2.json")
pm_conf "$T/m1.conf" <<E2
pcap_savefile: $(sample_pcap)
pre_tag_map: $T/pretag.map
plugins: mongodb[all], mongodb[pp]
aggregate: $AGG
mongo_host: 127.0.0.1:$PORT
mongo_table[all]: pm.%Y%m%d_t\$tag
mongo_table[pp]: pp.acct
mongo_history: 5m
mongo_insert_batch[all]: 100
mongo_indexes_file[all]: $T/indexes.lst
mongo_preprocess[pp]: minp=2
mongo_trigger_exec[pp]: $T/trigger.sh
E2
run_our_pmacctd "$T/m1.conf" || fail "mongodb run failed: $(tail -3 "$T/m1.conf.log")"
wait_for "[ \$(ndocs s1 pm.) -ge $ROWS ] && [ \$(ndocs s1 pp.) -ge $ROWS2 ]" 10 ||
    fail "$(ndocs s1 pm.) documents of $ROWS, $(ndocs s1 pp.) of $ROWS2 with minp=2"
stop_server
"$PM_PY" "$CHECK" compare "$T/s1.json" pp. "$T/print_minp2.json" || fail "mongo_preprocess minp=2"
[ "$ROWS2" -lt "$ROWS" ] && [ "$ROWS2" -gt 0 ] || fail "minp=2 keeps $ROWS2 of $ROWS rows: not a test"
wait_for "[ -s '$T/trigger.out' ]" 10 || fail "mongo_trigger_exec did not run"
"$PM_PY" "$CHECK" compare "$T/s1.json" pm. "$T/print.json" || fail "documents differ from the print output"
"$PM_PY" "$CHECK" names "$T/s1.json" pm. 'pm.{date}_t{tag}' || fail "collection names"
"$PM_PY" "$CHECK" indexes "$T/s1.json" pm. ip_src_1_ip_dst_1 ip_proto_1 || fail "indexes"
NCOLL=$(grep -o '"pm\.[0-9]*_t[0-9]*"' "$T/s1.json" | sort -u | wc -l)
[ "$NCOLL" -ge 3 ] || fail "expected collections for tags 0, 1 and 2, got $NCOLL"
# batches of at most 100, grouped by collection within each hand-over of
# up to 1000 messages by the delivery queue
NINS=$(grep -c 'cmd insert db=pm ' "$T/s1.log")
NMAX=$(sed -n 's/.*cmd insert db=pm n=\([0-9]*\)/\1/p' "$T/s1.log" | sort -n | tail -1)
[ "$NMAX" -le 100 ] && [ "$NINS" -le $((ROWS / 100 + 2 * NCOLL + 1)) ] ||
    fail "$NINS insert commands of at most $NMAX documents for $ROWS in batches of 100"
echo "ok: $ROWS aggregates in $NCOLL collections, $NINS insert commands; minp=2 kept $ROWS2, trigger ran"

# 2) authentication
start_server s2 0 --user pmuser --password 's3cret;x'
pm_conf "$T/m2.conf" <<E2
pcap_savefile: $(sample_pcap)
pre_tag_map: $T/pretag.map
plugins: mongodb[good], mongodb[bad]
aggregate: $AGG
mongo_host: 127.0.0.1:$PORT
mongo_user: pmuser
mongo_passwd[good]: s3cret;x
mongo_passwd[bad]: wrong
mongo_table[good]: good.acct
mongo_table[bad]: bad.acct
mongo_flush_timeout: 2
E2
run_our_pmacctd "$T/m2.conf" || fail "auth run failed: $(tail -3 "$T/m2.conf.log")"
wait_for "[ \$(ndocs s2 good.) -ge $ROWS ]" 10 || fail "auth: $(ndocs s2 good.) documents of $ROWS"
stop_server
"$PM_PY" "$CHECK" compare "$T/s2.json" good. "$T/print.json" || fail "authenticated documents differ"
[ "$(ndocs s2 bad.)" = 0 ] || fail "documents stored with a wrong password"
grep -q 'mongodb:bad.*uthentication failed' "$T/m2.conf.log" ||
    fail "the wrong password is not reported: $(grep mongodb:bad "$T/m2.conf.log" | head -3)"
echo "ok: SCRAM-SHA-256: right password stored $ROWS, wrong one none (reported)"

# 3) server down while the daemon purges, restarted on the same port
start_server s3
P3=$PORT
stop_server
pm_conf "$T/m3.conf" <<E2
pcap_savefile: $(sample_pcap)
pcap_savefile_wait: true
pre_tag_map: $T/pretag.map
plugins: mongodb
aggregate: $AGG
mongo_host: 127.0.0.1:$P3
mongo_table: live.acct
mongo_refresh_time: 1
mongo_spool_dir: $T/spool
mongo_spool_mem: 16K
E2
start_our_pmacctd "$T/m3.conf"
wait_for "grep -q 'Purging cache - END (PID: [0-9]*, QN: $ROWS/' '$T/m3.conf.log'" 30 || fail "no purge while the server is down"
wait_for "ls '$T/spool'/*.spool >/dev/null 2>&1" 10 || fail "nothing spooled while down"
start_server s3 "$P3"
wait_for "[ \$(ndocs s3 live.) -ge $ROWS ]" 60 || fail "$(ndocs s3 live.) of $ROWS documents after the server came back"
stop_daemon
stop_server
"$PM_PY" "$CHECK" compare "$T/s3.json" live. "$T/print.json" --at-least-once || fail "documents after the restart"
echo "ok: server down and back: $(ndocs s3 live.) documents for $ROWS aggregates (at least once)"

# 4) the server crashes mid-stream, after storing the 3rd insert of 100
# documents and before acknowledging it; restarted on the same port
start_server s4 0 --crash-after 3
P4=$PORT
pm_conf "$T/m4.conf" <<E2
pcap_savefile: $(sample_pcap)
pcap_savefile_wait: true
pre_tag_map: $T/pretag.map
plugins: mongodb
aggregate: $AGG
mongo_host: 127.0.0.1:$P4
mongo_table: crash.acct
mongo_insert_batch: 100
mongo_refresh_time: 1
E2
start_our_pmacctd "$T/m4.conf"
wait_for "! kill -0 $SPID 2>/dev/null" 30 || fail "the server did not crash after 3 inserts"
wait "$SPID" 2>/dev/null
SPID=
[ "$(ndocs s4 crash.)" = 300 ] || fail "$(ndocs s4 crash.) documents stored before the crash, expected 300"
start_server s4 "$P4"
wait_for "[ \$(ndocs s4 crash.) -ge $((ROWS + 100)) ]" 60 ||
    fail "$(ndocs s4 crash.) documents after the crash, expected $ROWS + 100 re-sent"
stop_daemon
stop_server
"$PM_PY" "$CHECK" compare "$T/s4.json" crash. "$T/print.json" --at-least-once || fail "documents after the crash"
[ "$(ndocs s4 crash.)" = $((ROWS + 100)) ] || fail "$(ndocs s4 crash.) documents: only the unacknowledged batch should be twice"
echo "ok: server crash before an acknowledgement: $(ndocs s4 crash.) documents for $ROWS aggregates (the unacknowledged batch re-sent)"

# 5) the server refuses some documents (write errors of an ordered insert):
# they are dropped, logged and counted, every other document is stored
"$PM_PY" -c 'import json, sys
for l in open(sys.argv[1]):
    if l.strip() and json.loads(l)["ip_proto"] != "icmp": sys.stdout.write(l)' \
    "$T/print.json" >"$T/print_noicmp.json"
NREJ=$((ROWS - $(grep -c . "$T/print_noicmp.json")))
[ "$NREJ" -gt 0 ] || fail "no icmp aggregate in the sample: not a test"
start_server s5 0 --reject ip_proto=icmp
pm_conf "$T/m5.conf" <<E2
pcap_savefile: $(sample_pcap)
pre_tag_map: $T/pretag.map
plugins: mongodb
aggregate: $AGG
mongo_host: 127.0.0.1:$PORT
mongo_table: rej.acct
E2
run_our_pmacctd "$T/m5.conf" -d || fail "reject run failed: $(tail -3 "$T/m5.conf.log")"
stop_server
"$PM_PY" "$CHECK" compare "$T/s5.json" rej. "$T/print_noicmp.json" || fail "documents besides the refused ones"
grep -q 'document refused by the server (Document failed validation' "$T/m5.conf.log" || fail "refusals not logged"
grep -q "pmacct_mongodb_rejected{instance=\"default\"} $NREJ\$" "$T/m5.conf.log" ||
    fail "rejected counter is not $NREJ: $(grep rejected "$T/m5.conf.log")"
echo "ok: $NREJ documents refused by the server dropped and counted, $((ROWS - NREJ)) stored"
