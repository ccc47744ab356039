#!/bin/bash
# test_sql_recover.sh - sql_backup_host / sql_recovery_backup_host (one key
# under two names, as in pmacct 1.7.7) and `sql_preprocess: ..., recover=1`.
# 1. sqlite3 against the reference (one file per plugin): plugin x with
#    the primary file up, minb=5000 and recover=1: valid aggregates in the
#    primary file, filtered ones in the backup file; plugin y with a primary
#    file that cannot be opened: every aggregate in the backup file.  All
#    four tables equal the reference's row by row (but stamp_updated).
# 2. pgsql, ours, two real servers on the same port (127.0.0.1 primary,
#    127.0.0.2 backup): filtered rows in the backup, valid ones in the
#    primary (checked against a print plugin's rows); primary stopped: every
#    row goes to the backup (UPDATEs where the rows exist); primary back:
#    the next run writes to it again.
TEST_NAME=test_sql_recover
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/sql_lib.sh"
need_ours
for m in sqlite3 pgsql print; do need_module $m; done
need_tool sqlite3 "sqlite3 shell (tests/deps/sql.txt)"
need_tool psql "PostgreSQL client (tests/deps/sql.txt)"

# ---- 1. sqlite3, ours and the reference ----------------------------------
lite_conf() { # side file
    pm_conf "$2" <<EOC
pcap_savefile: $(sample_pcap)
plugins: sqlite3[x], sqlite3[y]
aggregate: src_host, dst_host, src_port, dst_port, proto
sql_table_version: 1
sql_history: 1m
sql_history_roundoff: m
sql_refresh_time: 3600
sql_preprocess: minb=5000, recover=1
sql_db[x]: $T/$1-xp.db
sql_recovery_backup_host[x]: $T/$1-xb.db
sql_db[y]: $T/missing/$1-yp.db
sql_backup_host[y]: $T/$1-yb.db
EOC
}
lite_rows() { # file
    sqlite3 -separator '|' "$1" "SELECT mac_src, mac_dst, ip_src, ip_dst, src_port,
        dst_port, ip_proto, packets, bytes, stamp_inserted FROM acct" | LC_ALL=C sort
}
for side in ours ref; do
    for f in xp xb yb; do
        sqlite3 "$T/$side-$f.db" <"$top_srcdir/docs/sql/sqlite3/v1.sql" || fail "schema"
    done
    lite_conf $side "$T/$side.conf"
done
run_our_pmacctd "$T/ours.conf" || fail "our sqlite3 run"
grep -q "sql_backup_host" "$T/ours.conf.log" || fail "no word of the backup file in our log"
if [ -x "$PM_REF_PMACCTD" ]; then
    run_ref_pmacctd "$T/ref.conf" || fail "reference sqlite3 run"
    for f in xp xb yb; do
        lite_rows "$T/ours-$f.db" >"$T/ours-$f.rows"
        lite_rows "$T/ref-$f.db" >"$T/ref-$f.rows"
        n=$(wc -l <"$T/ours-$f.rows")
        [ "$n" -gt 20 ] || fail "sqlite3 $f: only $n rows of ours"
        cmp -s "$T/ours-$f.rows" "$T/ref-$f.rows" || {
            diff "$T/ref-$f.rows" "$T/ours-$f.rows" | head >&2
            fail "sqlite3 $f: rows differ from the reference's"
        }
        echo "sqlite3 $f: $n rows equal to the reference's"
    done
else
    [ "${CI:-}" = true ] && fail "reference pmacctd missing"
    note "no reference pmacctd: sqlite3 tables checked without it"
fi
# whatever the reference: valid/filtered split and the failover file
[ "$(sqlite3 "$T/ours-xp.db" "SELECT count(*) FROM acct WHERE bytes < 5000")" = 0 ] ||
    fail "primary file holds filtered rows"
[ "$(sqlite3 "$T/ours-xb.db" "SELECT count(*) FROM acct WHERE bytes >= 5000")" = 0 ] ||
    fail "backup file holds valid rows"
all=$(( $(sqlite3 "$T/ours-xp.db" "SELECT count(*) FROM acct") + \
        $(sqlite3 "$T/ours-xb.db" "SELECT count(*) FROM acct") ))
[ "$(sqlite3 "$T/ours-yb.db" "SELECT count(*) FROM acct")" = "$all" ] ||
    fail "failover file: expected $all rows"

# ---- 2. pgsql, two servers ------------------------------------------------
pg_start || { [ "${CI:-}" = true ] && fail "cannot start PostgreSQL"; skip "cannot start PostgreSQL"; }
P1=$PGDIR
PGDIR=$T/pg2
mkdir -p "$PGDIR/sock"
[ "$(id -u)" = 0 ] && chown -R postgres "$PGDIR"
pg_as "$PG_BIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust >"$PGDIR/initdb.log" 2>&1 ||
    fail "initdb (backup server)"
on_exit "PGDIR=$PGDIR pg_stop"
PGADDR=127.0.0.2 pg_up || fail "cannot start the backup PostgreSQL on 127.0.0.2"
P2=$PGDIR
PGDIR=$P1
q1() { PGHOST=$P1/sock psql_q -d pmacct -F'|' -c "$1"; }
q2() { PGHOST=$P2/sock psql_q -d pmacct -F'|' -c "$1"; }
for s in $P1 $P2; do
    PGHOST=$s/sock psql_q -c "CREATE DATABASE pmacct" || fail "create database"
    PGHOST=$s/sock psql_q -d pmacct -f "$top_srcdir/docs/sql/pgsql/v1.sql" >/dev/null || fail "schema"
done
pm_conf "$T/pg.conf" <<EOC
pcap_savefile: $(sample_pcap)
plugins: pgsql[p], print[c]
aggregate: src_host, dst_host, proto
sql_refresh_time: 3600
sql_host: 127.0.0.1
sql_recovery_backup_host: 127.0.0.2
sql_port: $PGPORT
sql_user: postgres
sql_db: pmacct
sql_retry_max: 1
sql_preprocess: minb=5000, recover=1
print_output: csv
print_output_file: $T/c.csv
EOC
run_our_pmacctd "$T/pg.conf" || fail "pgsql run"
# print: SRC_IP,DST_IP,PROTOCOL,PACKETS,BYTES
awk -F, 'NR > 1 && $5 >= 5000 {print $1 "|" $2 "|" $4 "|" $5}' "$T/c.csv" | LC_ALL=C sort >"$T/valid"
awk -F, 'NR > 1 && $5 < 5000 {print $1 "|" $2 "|" $4 "|" $5}' "$T/c.csv" | LC_ALL=C sort >"$T/filtered"
[ -s "$T/valid" ] && [ -s "$T/filtered" ] || fail "the sample gives no valid or no filtered rows"
sel="SELECT host(ip_src), host(ip_dst), packets, bytes FROM acct"
q1 "$sel" | LC_ALL=C sort | cmp -s - "$T/valid" || fail "primary rows are not the valid ones"
q2 "$sel" | LC_ALL=C sort | cmp -s - "$T/filtered" || fail "backup rows are not the filtered ones"
echo "pgsql: $(wc -l <"$T/valid") valid rows in the primary, $(wc -l <"$T/filtered") filtered in the backup"
sum() { "$1" "SELECT COALESCE(sum(bytes), 0) FROM acct"; }
v=$(sum q1) f=$(sum q2)

# primary down: everything to the backup
pg_down || fail "cannot stop the primary"
run_our_pmacctd "$T/pg.conf" || fail "pgsql run, primary down"
grep -q "writing to sql_backup_host 127.0.0.2" "$T/pg.conf.log" || fail "no failover in the log"
[ "$(sum q2)" = $((2 * f + v)) ] || fail "backup after failover: $(sum q2) bytes, expected $((2 * f + v))"
[ "$(q2 "SELECT count(*) FROM acct")" = $(( $(wc -l <"$T/valid") + $(wc -l <"$T/filtered") )) ] ||
    fail "backup after failover: rows duplicated"

# primary back: valid rows go to it again
pg_up || fail "cannot restart the primary"
run_our_pmacctd "$T/pg.conf" || fail "pgsql run, primary back"
[ "$(sum q1)" = $((2 * v)) ] || fail "primary back: $(sum q1) bytes, expected $((2 * v))"
[ "$(sum q2)" = $((3 * f + v)) ] || fail "backup: $(sum q2) bytes, expected $((3 * f + v))"
echo "pgsql: failover to the backup and back to the primary"
exit 0
