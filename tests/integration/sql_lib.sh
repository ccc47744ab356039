# tests/integration/sql_lib.sh - start/stop private database servers for the
# SQL tests (sourced after tests/lib.sh).  Servers live in $T, listen on a
# UNIX socket in $T (and loopback on a free high port), run as the
# `postgres` / `mysql` user when started as root, and are stopped on exit.

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

pg_as() { # run a command as the server's user
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# pg_start: initdb + pg_ctl start in $T/pg; sets PGHOST (socket dir), PGPORT.
# PGADDR: the loopback address to listen on (default 127.0.0.1).
pg_start() {
    [ -x "$PG_BIN/initdb" ] || need_tool initdb "PostgreSQL server (tests/deps/sql.txt)"
    PGDIR=$T/pg
    mkdir -p "$PGDIR/sock"
    [ "$(id -u)" = 0 ] && chown -R postgres "$PGDIR" && chmod 755 "$T"
    PGPORT=$(free_port)
    export PGHOST=$PGDIR/sock PGPORT PGUSER=postgres PGDATABASE=postgres
    pg_as "$PG_BIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust >"$PGDIR/initdb.log" 2>&1 ||
        { cat "$PGDIR/initdb.log" >&2; return 1; }
    on_exit pg_stop
    pg_up
}
pg_up() {
    pg_as "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 30 \
        -o "-k $PGDIR/sock -p $PGPORT -h ${PGADDR:-127.0.0.1} -F" start >/dev/null 2>&1 ||
        { tail -20 "$PGDIR/server.log" >&2; return 1; }
}
pg_down() { pg_as "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m fast -w -t 30 stop >/dev/null 2>&1; }
pg_stop() { [ -n "${PGDIR:-}" ] && [ -f "$PGDIR/data/postmaster.pid" ] && pg_down; return 0; }
psql_q() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

# my_start: mariadb-install-db + mariadbd in $T/my; sets MYSOCK, MYPORT.
# MY_POOL: InnoDB buffer pool size (default 64M; the bench uses more).
my_start() {
    need_tool mariadbd "MariaDB server (tests/deps/sql.txt)"
    need_tool mariadb-install-db "MariaDB server (tests/deps/sql.txt)"
    MYDIR=$T/my
    mkdir -p "$MYDIR/data"
    MYPORT=$(free_port)
    MYSOCK=$MYDIR/sock
    local u=""
    if [ "$(id -u)" = 0 ]; then chown -R mysql "$MYDIR"; chmod 755 "$T"; u="--user=mysql"; fi
    mariadb-install-db $u --datadir="$MYDIR/data" --auth-root-authentication-method=normal \
        --skip-test-db >"$MYDIR/install.log" 2>&1 || { tail -20 "$MYDIR/install.log" >&2; return 1; }
    on_exit my_stop
    my_up
}
my_up() {
    local u=""
    [ "$(id -u)" = 0 ] && u="--user=mysql"
    mariadbd --no-defaults $u --datadir="$MYDIR/data" --socket="$MYSOCK" --port="$MYPORT" \
        --bind-address=127.0.0.1 --pid-file="$MYDIR/pid" --log-error="$MYDIR/err.log" \
        --skip-name-resolve --skip-grant-tables --innodb-buffer-pool-size=${MY_POOL:-64M} >/dev/null 2>&1 &
    MYPID=$!
    wait_for "mariadb --no-defaults -S '$MYSOCK' -uroot -e 'select 1' >/dev/null 2>&1" 60 ||
        { tail -20 "$MYDIR/err.log" >&2; return 1; }
}
my_down() {
    [ -n "${MYPID:-}" ] || return 0
    kill -TERM "$MYPID" 2>/dev/null
    wait_for "! kill -0 $MYPID 2>/dev/null" 60 || kill -KILL "$MYPID" 2>/dev/null
    wait "$MYPID" 2>/dev/null
    MYPID=
}
my_stop() { my_down; }
my_q() { mariadb --no-defaults -S "$MYSOCK" -uroot -N -B "$@"; }
