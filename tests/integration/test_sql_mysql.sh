#!/bin/bash
# test_sql_mysql.sh - the mysql output against a MariaDB server started
# here (temp dir, UNIX socket + loopback): the sample through pmacctd into a
# v1 table (sql_history 1m); the server down when the daemon starts and
# restarted while it runs (rows kept, then written: table totals equal the
# input, nothing counted twice); sql_table_schema creating a missing table;
# sql_locking_style table (LOCK TABLES ... WRITE in the server's general
# log) and row; sql_multi_values (LOAD DATA LOCAL INFILE in the log, then
# UPDATEs on a second run; with local_infile off on the server, multi-row
# INSERTs of at most that many bytes) with hostile labels (quotes,
# backslash, a tab, \N, SQL) stored exactly as the print output has them.
TEST_NAME=test_sql_mysql
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/sql_lib.sh"
need_ours
need_module mysql
need_tool mariadb "MariaDB client"
my_start || { [ "${CI:-}" = true ] && fail "cannot start MariaDB"; skip "cannot start MariaDB"; }
my_q -e "CREATE DATABASE pmacct" || fail "create database"
my_q pmacct <"$top_srcdir/docs/sql/mysql/v1.sql" || fail "schema v1"
# every statement in the general log (locking and multi-values checks below)
my_glog() { # (again after a server restart)
    my_q -e "SET GLOBAL general_log_file = '$MYDIR/general.log'; SET GLOBAL general_log = 1" ||
        fail "general_log"
}
my_glog

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
plugins: mysql[a]
aggregate[a]: src_host, dst_host, src_port, dst_port, proto
sql_host: $MYSOCK
sql_port: 0
sql_user: root
sql_passwd: hunter2
sql_db: pmacct
sql_table_version: 1
sql_history: 1m
EOC
run_our_pmacctd "$T/a.conf" || fail "mysql run"
got=$(my_q pmacct -e "SELECT CONCAT(count(*), '|', sum(packets), '|', sum(bytes)) FROM acct")
[ "$got" = "$want" ] || fail "table totals $got, expected $want"
grep -q 'LOCK TABLES acct WRITE' "$MYDIR/general.log" ||
    fail "sql_locking_style table (default): no LOCK TABLES in the general log"
grep -q hunter2 "$T/a.conf.log" && fail "password in the log"
"$PM_OUR_PMACCTD" --check-config -f "$T/a.conf" 2>&1 | grep -q hunter2 && fail "password printed by --check-config"

# 2. server down at start, back while the daemon waits (pcap_savefile_wait)
my_q pmacct -e "DELETE FROM acct"
my_down
pm_conf "$T/b.conf" <<EOC
pcap_savefile: $(sample_pcap)
pcap_savefile_wait: true
plugins: mysql[a]
aggregate[a]: src_host, dst_host, src_port, dst_port, proto
sql_host: $MYSOCK
sql_port: 0
sql_user: root
sql_db: pmacct
sql_table_version: 1
sql_history: 1m
sql_refresh_time: 1
sql_retry_max: 1
EOC
start_our_pmacctd "$T/b.conf"
wait_for "grep -q 'cannot connect' '$T/b.conf.log'" 20 || fail "no connection error logged"
my_up || fail "restart MariaDB"
wait_for "[ \"\$(my_q pmacct -e 'SELECT count(*) FROM acct')\" = '${want%%|*}' ]" 30 ||
    fail "rows not written after the server came back"
# restart mid-run: the next purge has nothing new, totals must not change
my_down; my_up || fail "restart MariaDB"
stop_daemon
got=$(my_q pmacct -e "SELECT CONCAT(count(*), '|', sum(packets), '|', sum(bytes)) FROM acct")
[ "$got" = "$want" ] || fail "after restart: table totals $got, expected $want"

# 3. sql_table_schema creates a missing table named by strftime
cat >"$T/schema.sql" <<'EOS'
CREATE TABLE acct_%Y (ip_src CHAR(45) NOT NULL, ip_proto CHAR(6) NOT NULL,
  packets INT NOT NULL, bytes BIGINT NOT NULL, flows INT NOT NULL DEFAULT 0,
  stamp_inserted DATETIME NOT NULL, stamp_updated DATETIME,
  PRIMARY KEY (ip_src, ip_proto, stamp_inserted));
EOS
pm_conf "$T/c.conf" <<EOC
pcap_savefile: $(sample_pcap)
plugins: mysql[c]
aggregate[c]: src_host, proto
sql_host: $MYSOCK
sql_port: 0
sql_user: root
sql_db: pmacct
sql_optimize_clauses: true
sql_table: acct_%Y
sql_table_schema: $T/schema.sql
sql_history: 1h
EOC
run_our_pmacctd "$T/c.conf" || fail "mysql schema run"
got=$(my_q pmacct -e "SELECT CONCAT(sum(packets), '|', sum(bytes)) FROM acct_2023")
[ "$got" = "${want#*|}" ] || fail "acct_2023 totals $got, expected ${want#*|}"

# 4. sql_multi_values (300 bytes), hostile labels, sql_locking_style row
my_glog
cat >"$T/pt.map" <<'EOM'
set_label="it's; DROP TABLE acct; --" filter='src host 10.0.0.1'
set_label='a\b,c "q" \N	tab' filter='src host 10.0.0.2'
set_label="x','y" filter='ip6'
EOM
my_q pmacct -e "CREATE TABLE acct_lab (label VARCHAR(255) NOT NULL DEFAULT '',
  ip_src CHAR(45) NOT NULL, packets INT NOT NULL, bytes BIGINT NOT NULL,
  flows INT NOT NULL DEFAULT 0, stamp_inserted DATETIME NOT NULL, stamp_updated DATETIME,
  PRIMARY KEY (label, ip_src, stamp_inserted)) COLLATE utf8mb4_bin" || fail "create acct_lab"
pm_conf "$T/l.conf" <<EOC
pcap_savefile: $(sample_pcap)
pre_tag_map: $T/pt.map
plugins: print[p], mysql[l]
aggregate: label, src_host
print_output[p]: csv
print_output_file[p]: $T/l.csv
sql_host: $MYSOCK
sql_user: root
sql_db: pmacct
sql_table: acct_lab
sql_optimize_clauses: true
sql_history: 1s
sql_multi_values: 300
sql_locking_style: row
EOC
nlock=$(grep -c 'LOCK TABLES' "$MYDIR/general.log")
run_our_pmacctd "$T/l.conf" || fail "mysql multi-values run"
[ "$(grep -c 'LOCK TABLES' "$MYDIR/general.log")" = "$nlock" ] || fail "sql_locking_style row took a table lock"
# the rows to INSERT as LOAD DATA LOCAL INFILE, no INSERT statement
grep -q "LOAD DATA LOCAL INFILE 'pmacct' INTO TABLE acct_lab" "$MYDIR/general.log" ||
    fail "multi-values: no LOAD DATA LOCAL INFILE in the general log"
grep -q 'INSERT INTO acct_lab' "$MYDIR/general.log" && fail "multi-values: INSERTs beside LOAD DATA"
sed -E 1d "$T/l.csv" | sed -E 's/^(.*),([^,]*),([^,]*),([^,]*)$/\1|\2|\3|\4/' | LC_ALL=C sort >"$T/l.want"
lab_rows() {
    mariadb --no-defaults -S "$MYSOCK" -uroot -N -B -r pmacct -e "SELECT CONCAT_WS('|', label,
      ip_src, sum(packets), sum(bytes)) FROM acct_lab GROUP BY label, ip_src" | LC_ALL=C sort
}
lab_rows >"$T/l.got"
grep -q "it's; DROP TABLE acct; --|10.0.0.1|" "$T/l.got" || fail "hostile label missing: $(head -3 "$T/l.got")"
cmp -s "$T/l.want" "$T/l.got" || { diff "$T/l.want" "$T/l.got" | head >&2; fail "multi-values rows differ from the print output"; }
# stamp_updated (one value per purge) goes once, in the statement's SET
# clause: every row has it, and each row's bin (1 s: the sample's 2.4 s
# make three in one transaction) is the one the INSERTs of part 5 store
grep "LOAD DATA LOCAL INFILE 'pmacct' INTO TABLE acct_lab" "$MYDIR/general.log" |
    grep -q ") SET .*stamp_updated = '" || fail "multi-values: stamp_updated not in a SET clause"
stamp_rows() {
    my_q pmacct -e "SELECT CONCAT_WS('|', HEX(label), ip_src, stamp_inserted, packets,
      stamp_updated IS NOT NULL) FROM acct_lab" | LC_ALL=C sort
}
stamp_rows >"$T/s4"
grep -q '|0$' "$T/s4" && fail "multi-values: a row without stamp_updated"
# second run: UPDATE first, counters doubled, no new row
run_our_pmacctd "$T/l.conf" || fail "mysql multi-values second run"
awk -F'|' -v OFS='|' '{$(NF-1) *= 2; $NF *= 2; print}' "$T/l.want" >"$T/l.want2"
lab_rows >"$T/l.got"
cmp -s "$T/l.want2" "$T/l.got" || { diff "$T/l.want2" "$T/l.got" | head >&2; fail "second run: rows not updated"; }
[ "$(my_q pmacct -e 'SELECT count(*) FROM acct')" = "${want%%|*}" ] || fail "acct changed"

# 4b. sql_dont_try_update: each chunk's rows in one LOAD DATA whose lines
# are written from the chunk as the server reads them: the same rows, the
# same bins
my_q pmacct -e "DELETE FROM acct_lab" || fail "delete"
{ cat "$T/l.conf"; echo "sql_dont_try_update: true"; } >"$T/l3.conf"
nload=$(grep -c "LOAD DATA LOCAL INFILE 'pmacct' INTO TABLE acct_lab" "$MYDIR/general.log")
run_our_pmacctd "$T/l3.conf" || fail "mysql multi-values run, sql_dont_try_update"
[ "$(grep -c "LOAD DATA LOCAL INFILE 'pmacct' INTO TABLE acct_lab" "$MYDIR/general.log")" -gt "$nload" ] ||
    fail "dont_try_update: no LOAD DATA LOCAL INFILE in the general log"
lab_rows >"$T/l.got"
cmp -s "$T/l.want" "$T/l.got" || { diff "$T/l.want" "$T/l.got" | head >&2; fail "dont_try_update: rows differ from the print output"; }
stamp_rows >"$T/s4b"
cmp -s "$T/s4" "$T/s4b" || { diff "$T/s4" "$T/s4b" | head >&2; fail "dont_try_update: stamps differ"; }
# a second run: every row is a duplicate, which LOAD DATA skips; the
# writer sees fewer rows stored than sent and drops the chunk, as a
# refused INSERT would: the table unchanged
run_our_pmacctd "$T/l3.conf" || fail "mysql dont_try_update second run"
lab_rows >"$T/l.got"
cmp -s "$T/l.want" "$T/l.got" || fail "dont_try_update: duplicates changed the table"
grep -q "bulk insert stored 0 of" "$T/l3.conf.log" || fail "dont_try_update: duplicates not reported"

# 5. a server with local_infile off: said once, the rows kept and sent as
# multi-row INSERTs, none longer than 300 bytes (a row alone may be)
my_q -e "SET GLOBAL local_infile = 0" || fail "local_infile"
my_q pmacct -e "DELETE FROM acct_lab" || fail "delete"
run_our_pmacctd "$T/l.conf" || fail "mysql multi-values run, local_infile off"
grep -q 'LOAD DATA LOCAL INFILE refused' "$T/l.conf.log" || fail "no word of the refused LOAD DATA"
grep -o 'INSERT INTO acct_lab .*' "$MYDIR/general.log" >"$T/ins.log"
rows=$(my_q pmacct -e 'SELECT count(*) FROM acct_lab')
nst=$(wc -l <"$T/ins.log")
[ "$nst" -gt 1 ] && [ "$nst" -lt "$rows" ] || fail "multi-values: $nst INSERT statements for $rows rows"
grep -q '),(' "$T/ins.log" || fail "multi-values: no multi-row INSERT"
awk 'length($0) > 300 && index($0, "),(") {bad++} END {exit bad > 0}' "$T/ins.log" ||
    fail "multi-values: a multi-row statement longer than sql_multi_values"
lab_rows >"$T/l.got"
cmp -s "$T/l.want" "$T/l.got" || { diff "$T/l.want" "$T/l.got" | head >&2; fail "multi-values (INSERT) rows differ from the print output"; }
stamp_rows >"$T/s5"
cmp -s "$T/s4" "$T/s5" || { diff "$T/s4" "$T/s5" | head >&2; fail "LOAD DATA and INSERT stored different stamps"; }
# the same with sql_dont_try_update: refused once, then multi-row INSERTs
my_q pmacct -e "DELETE FROM acct_lab" || fail "delete"
run_our_pmacctd "$T/l3.conf" || fail "mysql dont_try_update run, local_infile off"
grep -q 'LOAD DATA LOCAL INFILE refused' "$T/l3.conf.log" || fail "dont_try_update: no word of the refused LOAD DATA"
lab_rows >"$T/l.got"
cmp -s "$T/l.want" "$T/l.got" || { diff "$T/l.want" "$T/l.got" | head >&2; fail "dont_try_update (INSERT) rows differ from the print output"; }
exit 0
