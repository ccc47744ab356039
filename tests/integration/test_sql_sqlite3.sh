#!/bin/bash
# test_sql_sqlite3.sh - the sqlite3 output through pmacctd: the sample into
# the v1 (sql_history 1m) and v9 tables of a temp database file created with
# our schema scripts (docs/sql/sqlite3/); totals equal the print output's.
TEST_NAME=test_sql_sqlite3
. "$top_srcdir/tests/lib.sh"
need_ours
need_module sqlite3
need_tool sqlite3 "sqlite3 shell (tests/deps/sql.txt)"
sqlite3 "$T/p.db" <"$top_srcdir/docs/sql/sqlite3/v1.sql" || fail "schema v1"
sqlite3 "$T/p.db" <"$top_srcdir/docs/sql/sqlite3/v9.sql" || fail "schema v9"
pm_conf "$T/p.conf" <<EOC
pcap_savefile: $(sample_pcap)
plugins: print[p], print[q]
aggregate[p]: src_host, dst_host, src_port, dst_port, proto, src_mac, dst_mac
print_output[p]: csv
print_output_file[p]: $T/p.csv
aggregate[q]: tag, src_host, vlan, tos, proto
print_output[q]: csv
print_output_file[q]: $T/q.csv
EOC
run_our_pmacctd "$T/p.conf" || fail "print run"
sum() { awk -F, 'NR>1 {n++; p+=$(NF-1); b+=$NF} END {print n "|" p "|" b}' "$1"; }
pm_conf "$T/a.conf" <<EOC
pcap_savefile: $(sample_pcap)
plugins: sqlite3[a], sqlite3[b]
aggregate[a]: src_host, dst_host, src_port, dst_port, proto, src_mac, dst_mac
aggregate[b]: tag, src_host, vlan, tos, proto
sql_db: $T/p.db
sql_table_version[a]: 1
sql_history[a]: 1m
sql_table_version[b]: 9
EOC
run_our_pmacctd "$T/a.conf" || fail "sqlite3 run"
got=$(sqlite3 "$T/p.db" "SELECT count(*) || '|' || sum(packets) || '|' || sum(bytes) FROM acct")
[ "$got" = "$(sum "$T/p.csv")" ] || fail "acct totals $got, expected $(sum "$T/p.csv")"
got=$(sqlite3 "$T/p.db" "SELECT count(*) || '|' || sum(packets) || '|' || sum(bytes) FROM acct_v9")
[ "$got" = "$(sum "$T/q.csv")" ] || fail "acct_v9 totals $got, expected $(sum "$T/q.csv")"
# a row as pmacct writes it: stamp_inserted on the minute, names for protocols
sqlite3 "$T/p.db" "SELECT ip_proto, stamp_inserted FROM acct WHERE ip_proto='tcp' LIMIT 1" |
    grep -Eq '^tcp\|[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:00$' || fail "unexpected row format"
[ "$(sqlite3 "$T/p.db" "SELECT DISTINCT class_id FROM acct_v9")" = unknown ] || fail "class_id of v9 rows"
# run twice: counters added to the same rows (UPDATE), not duplicated
run_our_pmacctd "$T/a.conf" || fail "sqlite3 second run"
want=$(sum "$T/p.csv" | awk -F'|' '{print $1 "|" 2*$2 "|" 2*$3}')
got=$(sqlite3 "$T/p.db" "SELECT count(*) || '|' || sum(packets) || '|' || sum(bytes) FROM acct")
[ "$got" = "$want" ] || fail "after a second run: $got, expected $want"
exit 0
