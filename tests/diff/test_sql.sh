#!/bin/bash
# test_sql.sh - the SQL outputs against Debian's pmacct 1.7.7 SQL plugins:
# the sample through one daemon with nine SQL plugins (sqlite3, pgsql and
# mysql; sql_table_version 1, 2, 3, 4, 7, 9; sql_history none, 1m, 5m, 1h
# with roundoff m or h; UPDATE-then-INSERT, COPY with
# sql_dont_try_update, multi-values INSERTs), ours into the `ours`
# databases, the reference into the `ref` databases of the same servers
# (PostgreSQL and MariaDB started here; SQLite files).  Every table is
# compared row by row (all columns but stamp_updated, a wall-clock time).
# History without roundoff is left out: pmacct 1.7.7 anchors those bins to
# the minute it started, ours to the epoch (docs/DIFFERENCES.md).
TEST_NAME=test_sql
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/integration/sql_lib.sh"
need_ours
need_ref
for m in sqlite3 pgsql mysql; do need_module $m; done
need_tool sqlite3 "sqlite3 shell (tests/deps/sql.txt)"
need_tool psql "PostgreSQL client (tests/deps/sql.txt)"
need_tool mariadb "MariaDB client (tests/deps/sql.txt)"
pg_start || { [ "${CI:-}" = true ] && fail "cannot start PostgreSQL"; skip "cannot start PostgreSQL"; }
my_start || { [ "${CI:-}" = true ] && fail "cannot start MariaDB"; skip "cannot start MariaDB"; }
# the reference writes pmacct's CHAR(6) ip_proto 'ipv6-icmp' with plain
# INSERTs: a strict server would refuse them (ours drops strict mode in its
# session); both sides get a non-strict server
my_q -e "SET GLOBAL sql_mode = 'NO_ENGINE_SUBSTITUTION'" || fail "sql_mode"

# plugin  backend  version  history  roundoff  extra settings
PLUGINS="
l1 sqlite3 1 1m m -
l2 sqlite3 2 5m h -
l9 sqlite3 9 - - -
p1 pgsql 1 1m m -
p4 pgsql 4 1m m sql_dont_try_update:true,sql_use_copy:true
p7 pgsql 7 1h h -
m1 mysql 1 1m m -
m3 mysql 3 1m m sql_multi_values:65536
m9 mysql 9 5m m -
"
AGG_1="src_mac, dst_mac, src_host, dst_host, src_port, dst_port, proto"
AGG_2="$AGG_1, vlan"
AGG_3="$AGG_2, tos, tag"
AGG_4="$AGG_3"
AGG_7="$AGG_3, tcpflags"
AGG_9="$AGG_3"

for side in ours ref; do
    psql_q -c "CREATE DATABASE $side" || fail "pgsql: create $side"
    my_q -e "CREATE DATABASE $side" || fail "mysql: create $side"
done
create_tables() { # side: (re)create every table
    local side=$1 name be v h r x
    while read -r name be v h r x; do
        [ -n "$name" ] || continue
        case $be in
        sqlite3) rm -f "$T/$side-$name.db"
            sqlite3 "$T/$side-$name.db" <"$top_srcdir/docs/sql/sqlite3/v$v.sql" ;;
        pgsql) psql_q -d "$side" -f "$top_srcdir/docs/sql/pgsql/v$v.sql" >/dev/null ;;
        mysql) my_q "$side" <"$top_srcdir/docs/sql/mysql/v$v.sql" ;;
        esac || fail "$be: schema v$v ($side)"
    done <<<"$PLUGINS"
}
tname() { [ "$1" = 1 ] && echo acct || echo "acct_v$1"; }
q() { # backend side|side-plugin(sqlite3) sql
    case $1 in
    sqlite3) sqlite3 -separator '|' "$T/$2.db" "$3" ;;
    pgsql) psql_q -d "$2" -F'|' -c "$3" ;;
    mysql) my_q -r "$2" -e "$3" | tr '\t' '|' ;;
    esac
}
cols() { # backend side table: its columns but stamp_updated
    case $1 in
    sqlite3) q "$1" "$2" "SELECT name FROM pragma_table_info('$3')" ;;
    *) q "$1" "$2" "SELECT column_name FROM information_schema.columns WHERE
        table_name = '$3' AND table_schema = $([ "$1" = mysql ] && echo "'$2'" || echo "'public'")
        ORDER BY ordinal_position" ;;
    esac | grep -vx stamp_updated | paste -sd, -
}

conf() { # side file
    local side=$1 name be v h r x db
    {
        echo "pcap_savefile: $(sample_pcap)"
        echo "plugins: $(awk 'NF {printf "%s%s[%s]", n++ ? ", " : "", $2, $1}' <<<"$PLUGINS")"
        while read -r name be v h r x; do
            [ -n "$name" ] || continue
            eval "echo \"aggregate[$name]: \$AGG_$v\""
            echo "sql_table_version[$name]: $v"
            echo "sql_refresh_time[$name]: 3600"
            [ "$h" = - ] || echo "sql_history[$name]: $h"
            [ "$r" = - ] || echo "sql_history_roundoff[$name]: $r"
            [ "$x" = - ] || tr ',' '\n' <<<"$x" | sed "s/^\([^:]*\):/\1[$name]: /"
            case $be in
            sqlite3) db=$T/$side-$name.db ;;
            pgsql) db=$side; echo "sql_host[$name]: 127.0.0.1"; echo "sql_port[$name]: $PGPORT"
                echo "sql_user[$name]: postgres" ;;
            mysql) db=$side; echo "sql_host[$name]: 127.0.0.1"; echo "sql_port[$name]: $MYPORT"
                echo "sql_user[$name]: root" ;;
            esac
            echo "sql_db[$name]: $db"
            # pmacct 1.7.7 writes v9 rows to `acct` unless told (docs/SQL.md)
            [ "$v" = 9 ] && echo "sql_table[$name]: acct_v9"
        done <<<"$PLUGINS"
    } | pm_conf "$2"
}
packets() { # side: "name=packets ..." for every table
    local side=$1 name be v h r x
    while read -r name be v h r x; do
        [ -n "$name" ] || continue
        db=$side; [ "$be" = sqlite3 ] && db=$side-$name
        printf '%s=%s ' "$name" "$(q "$be" "$db" "SELECT COALESCE(sum(packets), 0) FROM $(tname "$v")")"
    done <<<"$PLUGINS"
}

create_tables ours
conf ours "$T/ours.conf"
run_our_pmacctd "$T/ours.conf" || fail "our run"
ours_p=$(packets ours)
for try in 1 2 3; do
    create_tables ref
    conf ref "$T/ref.conf"
    run_ref_pmacctd "$T/ref.conf" || fail "reference run"
    ref_p=$(packets ref)
    [ "$ref_p" = "$ours_p" ] && break
    note "reference run $try accounted packets $ref_p, ours $ours_p"
done

bad=0
while read -r name be v h r x; do
    [ -n "$name" ] || continue
    t=$(tname "$v")
    dbo=ours dbr=ref
    [ "$be" = sqlite3 ] && dbo=ours-$name dbr=ref-$name
    c=$(cols "$be" $dbo "$t")
    [ "$c" = "$(cols "$be" $dbr "$t")" ] || fail "$be $t: columns differ"
    q "$be" $dbo "SELECT $c FROM $t" | LC_ALL=C sort >"$T/$name.ours"
    q "$be" $dbr "SELECT $c FROM $t" | LC_ALL=C sort >"$T/$name.ref"
    n=$(wc -l <"$T/$name.ours")
    [ "$n" -gt 10 ] || fail "$be $t ($name): only $n rows of ours"
    if cmp -s "$T/$name.ours" "$T/$name.ref"; then
        echo "$name: $be $t history=$h roundoff=$r ${x#-}: $n rows equal"
    else
        bad=1
        echo "$name: $be $t: rows differ (ours $n, reference $(wc -l <"$T/$name.ref")):" >&2
        diff "$T/$name.ref" "$T/$name.ours" | head -10 >&2
    fi
done <<<"$PLUGINS"
[ "$bad" = 0 ] || fail "tables differ from the reference's"
exit 0
