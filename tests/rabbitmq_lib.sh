# tests/rabbitmq_lib.sh - sourced by the broker tests and bench/brokers.sh
# after tests/lib.sh: start_rabbitmq DIR starts a RabbitMQ node of our own
# (own node name, high ports, data under DIR; never the system service).
# start_rabbitmq DIR 5672 listens on the standard port instead (pmacct
# 1.7.7's amqp_host takes no port): runs holding the machine-wide lock
# /tmp/pm-rabbitmq-5672.lock (fd 8) until the test exits.
# Run as root, the server script drops to the rabbitmq user, which then
# owns DIR.  Sets RMQ_HOST (127.0.0.1:PORT), RMQ_PID, RABBITMQ_NODENAME and
# exports the RABBITMQ_* variables rabbitmqctl needs; returns 1 (with the
# server's last lines on stderr) when the node did not come up in 90 s.
# The caller stops it with stop_rabbitmq (tests: on_exit "stop_rabbitmq").

start_rabbitmq() {
    local r=$1 port=${2:-}
    mkdir -p "$r"
    if [ -n "$port" ]; then
        exec 8>>/tmp/pm-rabbitmq-$port.lock || return 1
        flock -w 600 8 || return 1
    fi
    if [ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1; then
        chmod 755 "$(dirname "$r")"
    fi
    [ -n "$port" ] || port=$((20000 + ($$ + RANDOM) % 20000))
    export HOME=$r/home RABBITMQ_NODENAME=pmtest$$-$RANDOM@localhost
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT=$port RABBITMQ_DIST_PORT=$((40000 + ($$ + RANDOM) % 20000))
    export RABBITMQ_MNESIA_BASE=$r/mnesia RABBITMQ_LOG_BASE=$r/rlog
    export RABBITMQ_CONFIG_FILE=$r/rabbitmq RABBITMQ_ENABLED_PLUGINS_FILE=$r/plugins
    export RABBITMQ_FEATURE_FLAGS_FILE=$r/feature_flags RABBITMQ_PLUGINS_EXPAND_DIR=$r/pexp
    export RABBITMQ_PID_FILE=$r/rabbit.pid RABBITMQ_SCHEMA_DIR=$r/schema
    export RABBITMQ_GENERATED_CONFIG_DIR=$r/gen
    mkdir -p "$HOME" "$r/mnesia" "$r/rlog" "$r/schema" "$r/gen"
    echo '[].' >"$r/plugins"
    echo 'loopback_users = none' >"$r/rabbitmq.conf"
    [ "$(id -u)" = 0 ] && id rabbitmq >/dev/null 2>&1 && chown -R rabbitmq: "$r"
    RMQ_DIR=$r
    RMQ_HOST=127.0.0.1:$port
    rabbitmq_spawn
}

# (re)start the server process of the node set up by start_rabbitmq
rabbitmq_spawn() {
    (cd "$RMQ_DIR" && exec rabbitmq-server) >>"$RMQ_DIR.out" 2>&1 &
    RMQ_PID=$!
    wait_for "! kill -0 $RMQ_PID 2>/dev/null || rabbitmqctl -n $RABBITMQ_NODENAME -q await_startup >/dev/null 2>&1" 90
    if ! kill -0 $RMQ_PID 2>/dev/null ||
        ! rabbitmqctl -n "$RABBITMQ_NODENAME" -q status >/dev/null 2>&1; then
        tail -5 "$RMQ_DIR.out" >&2
        return 1
    fi
    return 0
}

# stop the whole server (the Erlang VM exits), waiting up to 60 s
stop_rabbitmq() {
    [ -n "${RMQ_PID:-}" ] || return 0
    rabbitmqctl -n "$RABBITMQ_NODENAME" stop >/dev/null 2>&1
    wait_for "! kill -0 $RMQ_PID 2>/dev/null" 60 || kill "$RMQ_PID" 2>/dev/null
    wait "$RMQ_PID" 2>/dev/null
    RMQ_PID=
}
