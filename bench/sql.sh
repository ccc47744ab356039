#!/bin/bash
# bench/sql.sh BUILD_DIR [NFLOWS] [BACKENDS] [MODES] - rows/s written by the SQL
# outputs (sqlite3, pgsql, mysql) of the reference pmacctd 1.7.7 and ours,
# same capture, config and server, in the same run.  The capture is
# `pcapgen bench` with NFLOWS (default 1000000) distinct 5-tuples, one
# packet each, so each side writes about NFLOWS rows (aggregate src_host,
# dst_host, src_port, dst_port, proto; sql_table_version 1; sql_history 1h
# with roundoff; sql_cache_entries large enough for one purge at exit).
# PostgreSQL and MariaDB are started here in a temp dir (sql_lib.sh;
# MariaDB with a 1 GiB InnoDB buffer pool, MY_POOL, so that the server's
# disk writes are not what both sides wait for).
#
# Two modes per backend, both sides configured alike:
#   update  the defaults: UPDATE, then INSERT when no row changed
#   bulk    sql_dont_try_update: true, plus sql_use_copy (pgsql) or
#           sql_multi_values: 4000000 (mysql, sqlite3)
# Rows are counted in the table after each run.  Time = from the output's
# "Purging cache - START" log line (each daemon's stdout is timestamped line
# by line as it arrives, stdbuf -oL) to the exit of its last process (ours
# waits for its writer to commit; the reference's writer processes are
# waited for): the purge, i.e. building and writing the rows, not the
# capture.  rows/s = rows / time.  Prints one line per backend and mode.
# SIDES="ref ours" runs the reference first (default: ours first);
# WARMUP=0 leaves out the unmeasured run before each pair.
set -u
B=${1:?usage: bench/sql.sh BUILD_DIR [NFLOWS] [BACKENDS] [MODES]}
B=$(cd "$B" && pwd)
NFLOWS=${2:-1000000}
BACKENDS=${3:-sqlite3 pgsql mysql}
MODES=${4:-update bulk}
SRC=$(cd "$(dirname "$0")/.." && pwd)
export PMACCT_MODULE_DIR=$(ls -d "$B"/modules/*/.libs | tr '\n' ':')
T=$(mktemp -d /tmp/bench-sql.XXXXXX)
chmod 755 "$T"
CLEANUPS=()
on_exit() { CLEANUPS+=("$1"); }
need_tool() { command -v "$1" >/dev/null || { echo "missing $1 ($2)" >&2; exit 1; }; }
wait_for() { # cond seconds
    local deadline=$((SECONDS + $2))
    until eval "$1"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}
cleanup() {
    local f
    for f in "${CLEANUPS[@]}"; do $f; done
    rm -rf "$T"
}
[ -n "${KEEP:-}" ] && cleanup() { local f; for f in "${CLEANUPS[@]}"; do $f; done; echo "kept $T" >&2; }
trap cleanup EXIT
. "$SRC/tests/integration/sql_lib.sh"
export MY_POOL=${MY_POOL:-1G}

"$B/tests/gen/pcapgen" bench "$T/bench.pcap" "$NFLOWS" "$NFLOWS" >/dev/null
for be in $BACKENDS; do
    case $be in
    pgsql) pg_start >/dev/null || exit 1
        for s in ours ref; do psql_q -c "CREATE DATABASE $s" || exit 1; done ;;
    mysql) my_start >/dev/null || exit 1
        my_q -e "SET GLOBAL sql_mode = 'NO_ENGINE_SUBSTITUTION'"
        for s in ours ref; do my_q -e "CREATE DATABASE $s" || exit 1; done ;;
    esac
done

schema() { # backend side
    case $1 in
    sqlite3) rm -f "$T/$2.db"; sqlite3 "$T/$2.db" <"$SRC/docs/sql/sqlite3/v1.sql" ;;
    pgsql) psql_q -d "$2" -f "$SRC/docs/sql/pgsql/v1.sql" >/dev/null ;;
    mysql) my_q "$2" <"$SRC/docs/sql/mysql/v1.sql" ;;
    esac
}
rows() { # backend side
    case $1 in
    sqlite3) sqlite3 "$T/$2.db" "SELECT count(*) FROM acct" ;;
    pgsql) psql_q -d "$2" -c "SELECT count(*) FROM acct" ;;
    mysql) my_q "$2" -e "SELECT count(*) FROM acct" ;;
    esac
}
conf() { # backend side mode pcap
    cat <<EOC
daemonize: false
plugin_pipe_size: 10240000
plugin_buffer_size: 10240
pcap_savefile: $4
plugins: $1[b]
aggregate: src_host, dst_host, src_port, dst_port, proto
sql_table_version: 1
sql_history: 1h
sql_history_roundoff: h
sql_refresh_time: 3600
sql_cache_entries: $((NFLOWS + 1000))
sql_drain_timeout: 3600
EOC
    case $1 in
    sqlite3) echo "sql_db: $T/$2.db" ;;
    pgsql) printf 'sql_host: 127.0.0.1\nsql_port: %s\nsql_user: postgres\nsql_db: %s\n' "$PGPORT" "$2" ;;
    mysql) printf 'sql_host: 127.0.0.1\nsql_port: %s\nsql_user: root\nsql_db: %s\n' "$MYPORT" "$2" ;;
    esac
    if [ "$3" = bulk ]; then
        echo "sql_dont_try_update: true"
        [ "$1" = pgsql ] && echo "sql_use_copy: true"
        [ "$1" != pgsql ] && echo "sql_multi_values: 4000000"
    fi
    return 0
}
run() { # side conf -> seconds from the first purge start to the last exit
    local bin=$B/pmacctd
    [ "$1" = ref ] && bin=/usr/sbin/pmacctd
    flock /tmp/pmacct-ref.lock bash -c "stdbuf -oL -eL '$bin' -f '$2' 2>&1 |
        while IFS= read -r l; do printf '%s %s\n' \"\$(date +%s.%N)\" \"\$l\"; done
        while pgrep -f '^pmacctd: ' >/dev/null; do sleep 0.05; done" >"$2.log"
    awk -v end="$(date +%s.%N)" '/Purging cache - START/ && !t {t = $1}
        END {printf "%.2f\n", t ? end - t : -1}' "$2.log"
}

printf '%-8s %-7s %9s %8s %11s %9s %8s %11s %7s\n' backend mode rows_ours \
    s_ours rows/s_ours rows_ref s_ref rows/s_ref ratio
for be in $BACKENDS; do
    for mode in $MODES; do
        declare -A R=() S=()
        if [ "${WARMUP:-1}" = 1 ]; then
            # one unmeasured run first: the server's first big write
            # creates its WAL / redo files, whichever side comes first
            # paid for it (measured: pgsql bulk 8.15 s ours-first vs 5.50 s
            # ref-first for the same build)
            schema "$be" ours
            conf "$be" ours "$mode" "$T/bench.pcap" >"$T/warm.conf"
            run ours "$T/warm.conf" >/dev/null
        fi
        for side in ${SIDES:-ours ref}; do
            schema "$be" "$side"
            conf "$be" "$side" "$mode" "$T/bench.pcap" >"$T/$side.conf"
            S[$side]=$(run "$side" "$T/$side.conf")
            R[$side]=$(rows "$be" "$side")
        done
        awk -v be="$be" -v m="$mode" -v ro="${R[ours]}" -v so="${S[ours]}" \
            -v rr="${R[ref]}" -v sr="${S[ref]}" 'BEGIN {
            to = so < 0.01 ? 0.01 : so; tr = sr < 0.01 ? 0.01 : sr
            ratio = rr > 0 && ro > 0 ? sprintf("%6.2fx", (ro / to) / (rr / tr)) : "-"
            printf "%-8s %-7s %9d %8.2f %11.0f %9d %8.2f %11.0f %7s\n", be, m, ro, so,
                ro / to, rr, sr, rr / tr, ratio }'
        [ "${R[ours]:-0}" = "${R[ref]:-0}" ] ||
            echo "NOTE: $be $mode: rows differ (ours ${R[ours]:-?}, reference ${R[ref]:-?}): see $T/*.log" >&2
    done
done
