#!/bin/bash
# test_sql_pgsql.sh - the pgsql output against a PostgreSQL server started
# here (temp dir, UNIX socket + loopback): the sample through pmacctd into a
# v1 table (sql_history 1m); the server down when the daemon starts and
# restarted while it runs (rows kept, then written: table totals equal the
# input, nothing counted twice); sql_table_schema creating a missing table;
# sql_locking_style table (LOCK TABLE ... IN EXCLUSIVE MODE seen in the
# server's statement log) and none; sql_use_copy + sql_dont_try_update
# (COPY ... FROM STDIN in the log) with hostile labels (quotes, backslash,
# the delimiter, a tab, \N, SQL) stored exactly as the print output has them
# (binary COPY: every column type is one pgbin.c encodes), then the same rows
# UPDATEd (pipelined statements): counters doubled; a table with a numeric
# and a timestamptz column: text COPY, the same rows and time bins.
TEST_NAME=test_sql_pgsql
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/sql_lib.sh"
need_ours
need_module pgsql
need_tool psql "PostgreSQL client"
pg_start || { [ "${CI:-}" = true ] && fail "cannot start PostgreSQL"; skip "cannot start PostgreSQL"; }
psql_q -c "CREATE DATABASE pmacct" || fail "create database"
psql_q -d pmacct -f "$top_srcdir/docs/sql/pgsql/v1.sql" >/dev/null || fail "schema v1"
# every statement in the server log (locking and COPY checks below)
psql_q -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null ||
    fail "log_statement"

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
grep -q 'LOCK TABLE acct IN EXCLUSIVE MODE' "$PGDIR/server.log" ||
    fail "sql_locking_style table (default): no LOCK TABLE in the server log"
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

# 4. sql_use_copy + sql_dont_try_update, hostile labels, sql_locking_style none
cat >"$T/pt.map" <<'EOM'
set_label="it's; DROP TABLE acct; --" filter='src host 10.0.0.1'
set_label='a\b,c "q" \N	tab' filter='src host 10.0.0.2'
set_label="x','y" filter='ip6'
EOM
psql_q -d pmacct -c "CREATE TABLE acct_lab (label VARCHAR(255) NOT NULL DEFAULT '',
  ip_src inet NOT NULL DEFAULT '0.0.0.0', packets INT NOT NULL, bytes BIGINT NOT NULL,
  flows INT NOT NULL DEFAULT 0, stamp_inserted timestamp NOT NULL, stamp_updated timestamp,
  PRIMARY KEY (label, ip_src, stamp_inserted))" || fail "create acct_lab"
pm_conf "$T/l.conf" <<EOC
pcap_savefile: $(sample_pcap)
pre_tag_map: $T/pt.map
plugins: print[p], pgsql[l]
aggregate: label, src_host
print_output[p]: csv
print_output_file[p]: $T/l.csv
sql_host: $PGHOST
sql_port: $PGPORT
sql_user: postgres
sql_db: pmacct
sql_table: acct_lab
sql_optimize_clauses: true
sql_history: 1s
sql_dont_try_update: true
sql_use_copy: true
sql_locking_style: none
EOC
nlock=$(grep -c 'LOCK TABLE' "$PGDIR/server.log")
run_our_pmacctd "$T/l.conf" || fail "pgsql COPY run"
grep -q 'COPY acct_lab (label, ip_src, packets, bytes, flows, stamp_inserted, stamp_updated) FROM STDIN WITH (FORMAT binary)' \
    "$PGDIR/server.log" || fail "sql_use_copy: no binary COPY in the server log"
grep -q 'INSERT INTO acct_lab' "$PGDIR/server.log" && fail "sql_use_copy: INSERT statements seen"
[ "$(grep -c 'LOCK TABLE' "$PGDIR/server.log")" = "$nlock" ] || fail "sql_locking_style none took a lock"
sed -E 1d "$T/l.csv" | sed -E 's/^(.*),([^,]*),([^,]*),([^,]*)$/\1|\2|\3|\4/' | LC_ALL=C sort >"$T/l.want"
psql_q -d pmacct -c "SELECT label, host(ip_src), sum(packets), sum(bytes) FROM acct_lab
  GROUP BY label, ip_src" | LC_ALL=C sort >"$T/l.got"
grep -q "it's; DROP TABLE acct; --|10.0.0.1|" "$T/l.got" || fail "hostile label missing: $(head -3 "$T/l.got")"
cmp -s "$T/l.want" "$T/l.got" || { diff "$T/l.want" "$T/l.got" | head >&2; fail "COPY rows differ from the print output"; }
# the same again with UPDATE then INSERT (pipelined): counters doubled, no new row
grep -v 'sql_dont_try_update\|sql_use_copy' "$T/l.conf" >"$T/l2.conf"
run_our_pmacctd "$T/l2.conf" || fail "pgsql UPDATE run"
awk -F'|' -v OFS='|' '{$(NF-1) *= 2; $NF *= 2; print}' "$T/l.want" >"$T/l.want2"
psql_q -d pmacct -c "SELECT label, host(ip_src), sum(packets), sum(bytes) FROM acct_lab
  GROUP BY label, ip_src" | LC_ALL=C sort >"$T/l.got"
cmp -s "$T/l.want2" "$T/l.got" || { diff "$T/l.want2" "$T/l.got" | head >&2; fail "UPDATE run: rows not updated"; }
[ "$(psql_q -d pmacct -c 'SELECT count(*) FROM acct')" = "${want%%|*}" ] || fail "acct changed"

# 5. types binary COPY does not encode (numeric, timestamptz): text COPY
psql_q -d pmacct -c "CREATE TABLE acct_txt (label VARCHAR(255) NOT NULL DEFAULT '',
  ip_src inet NOT NULL DEFAULT '0.0.0.0', packets INT NOT NULL, bytes NUMERIC NOT NULL,
  flows INT NOT NULL DEFAULT 0, stamp_inserted timestamptz NOT NULL, stamp_updated timestamp,
  PRIMARY KEY (label, ip_src, stamp_inserted))" || fail "create acct_txt"
sed 's/^sql_table: acct_lab/sql_table: acct_txt/' "$T/l.conf" >"$T/l3.conf"
run_our_pmacctd "$T/l3.conf" || fail "pgsql text COPY run"
grep -q "COPY acct_txt (.*) FROM STDIN WITH (DELIMITER" "$PGDIR/server.log" ||
    fail "no text COPY for a numeric/timestamptz table"
psql_q -d pmacct -c "SELECT label, host(ip_src), sum(packets), sum(bytes) FROM acct_txt
  GROUP BY label, ip_src" | LC_ALL=C sort >"$T/l.got"
cmp -s "$T/l.want" "$T/l.got" || { diff "$T/l.want" "$T/l.got" | head >&2; fail "text COPY rows differ from the print output"; }
bins() { psql_q -d pmacct -c "SELECT DISTINCT to_char(stamp_inserted, 'YYYY-MM-DD HH24:MI:SS') FROM $1" | sort; }
[ "$(bins acct_lab)" = "$(bins acct_txt)" ] || fail "binary and text COPY time bins differ: $(bins acct_lab) / $(bins acct_txt)"
# per row (1 s bins: the sample's 2.4 s make three in one COPY, so
# stamp_inserted is not one value; stamp_updated is, and the binary COPY
# encodes it once): the same bins, every row stamped
[ "$(bins acct_lab | wc -l)" -ge 2 ] || fail "expected several 1 s bins"
brows() { psql_q -d pmacct -c "SELECT label, host(ip_src), to_char(stamp_inserted, 'YYYY-MM-DD HH24:MI:SS'),
  stamp_updated IS NOT NULL FROM $1" | LC_ALL=C sort; }
[ "$(brows acct_lab)" = "$(brows acct_txt)" ] || fail "binary and text COPY rows differ in their bins"
brows acct_lab | grep -q '|f$' && fail "binary COPY: a row without stamp_updated"
exit 0
