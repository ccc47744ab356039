#!/bin/bash
# test_sql_pgsql.sh - the pgsql output against a PostgreSQL server started
# here (temp dir, UNIX socket + loopback): the sample through pmacctd into a
# v1 table (sql_history 1m); the server down when the daemon starts and
# restarted while it runs (rows kept, then written: table totals equal the
# input, nothing counted twice); sql_table_schema creating a missing table.
TEST_NAME=test_sql_pgsql
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/sql_lib.sh"
need_ours
need_module pgsql
need_tool psql "PostgreSQL client"
pg_start || { [ "${CI:-}" = true ] && fail "cannot start PostgreSQL"; skip "cannot start PostgreSQL"; }
psql_q -c "CREATE DATABASE pmacct" || fail "create database"
psql_q -d pmacct -f "$top_srcdir/docs/sql/pgsql/v1.sql" >/dev/null || fail "schema v1"

# expected totals: the same run through the print output
pm_conf "$T/p.conf" <<EOC
pcap_savefile: $(sample_pcap)
plugins: print[p]
aggregate[p]: src_host, dst_host, src_port, dst_port, proto
print_output[p]: csv
print_output_file[p]: $T/p.csv
EOC
run_our_pmacctd "$T/p.conf" || fail "print run"
want=$(awk -F, 'NR>1 {n++; p+=$(NF-1); b+=$NF} END {print n "|" p "|" b}' "$T/p.csv")

# 1. plain run
pm_conf "$T/a.conf" <<EOC
pcap_savefile: $(sample_pcap)
plugins: pgsql[a]
aggregate[a]: src_host, dst_host, src_port, dst_port, proto
sql_host: $PGHOST
sql_port: $PGPORT
sql_user: postgres
sql_passwd: hunter2
sql_db: pmacct
sql_table_version: 1
sql_history: 1m
EOC
run_our_pmacctd "$T/a.conf" || fail "pgsql run"
got=$(psql_q -d pmacct -c "SELECT count(*) || '|' || sum(packets) || '|' || sum(bytes) FROM acct")
[ "$got" = "$want" ] || fail "table totals $got, expected $want"
grep -q hunter2 "$T/a.conf.log" && fail "password in the log"
"$PM_OUR_PMACCTD" --check-config -f "$T/a.conf" 2>&1 | grep -q hunter2 && fail "password printed by --check-config"

# 2. server down at start, back while the daemon waits (pcap_savefile_wait)
psql_q -d pmacct -c "DELETE FROM acct"
pg_down
pm_conf "$T/b.conf" <<EOC
pcap_savefile: $(sample_pcap)
pcap_savefile_wait: true
plugins: pgsql[a]
aggregate[a]: src_host, dst_host, src_port, dst_port, proto
sql_host: $PGHOST
sql_port: $PGPORT
sql_user: postgres
sql_db: pmacct
sql_table_version: 1
sql_history: 1m
sql_refresh_time: 1
sql_retry_max: 1
EOC
start_our_pmacctd "$T/b.conf"
wait_for "grep -q 'cannot connect' '$T/b.conf.log'" 20 || fail "no connection error logged"
pg_up || fail "restart PostgreSQL"
wait_for "[ \"\$(psql_q -d pmacct -c 'SELECT count(*) FROM acct')\" = '${want%%|*}' ]" 30 ||
    fail "rows not written after the server came back"
# restart mid-run: the next purge has nothing new, totals must not change
pg_down; pg_up || fail "restart PostgreSQL"
stop_daemon
got=$(psql_q -d pmacct -c "SELECT count(*) || '|' || sum(packets) || '|' || sum(bytes) FROM acct")
[ "$got" = "$want" ] || fail "after restart: table totals $got, expected $want"

# 3. sql_table_schema creates a missing table named by strftime
cat >"$T/schema.sql" <<'EOS'
CREATE TABLE acct_%Y (ip_src inet NOT NULL DEFAULT '0.0.0.0', ip_proto SMALLINT NOT NULL DEFAULT 0,
  packets INT NOT NULL, bytes BIGINT NOT NULL, flows INT NOT NULL DEFAULT 0,
  stamp_inserted timestamp without time zone NOT NULL, stamp_updated timestamp without time zone,
  PRIMARY KEY (ip_src, ip_proto, stamp_inserted));
EOS
pm_conf "$T/c.conf" <<EOC
pcap_savefile: $(sample_pcap)
plugins: pgsql[c]
aggregate[c]: src_host, proto
sql_host: $PGHOST
sql_port: $PGPORT
sql_user: postgres
sql_db: pmacct
sql_optimize_clauses: true
sql_table: acct_%Y
sql_table_schema: $T/schema.sql
sql_history: 1h
EOC
run_our_pmacctd "$T/c.conf" || fail "pgsql schema run"
got=$(psql_q -d pmacct -c "SELECT sum(packets) || '|' || sum(bytes) FROM acct_2023")
[ "$got" = "${want#*|}" ] || fail "acct_2023 totals $got, expected ${want#*|}"
exit 0
