#!/bin/bash
# The daemon's process life: daemonize, pidfile, logfile (reopened on
# SIGHUP) and syslog.
#
# 1. `daemonize: true` + `pidfile` + `logfile`: the command returns at once
#    (exit 0), the pidfile names a live process that is not the one we
#    started (it forked), in a new session but not its leader (double
#    fork), with stdin on /dev/null; the log file gets the start-up lines;
#    the print pipeline on a live lo capture accounts datagrams the test
#    sends; SIGTERM stops it and removes the pidfile.
# 2. SIGHUP reopens the log file: after the log is renamed (as logrotate
#    does), SIGHUP makes a new file appear holding the "reopened" line,
#    and the old file does not get it.
# 3. `syslog: local3`: in a private mount namespace an overlay over /dev
#    holds a datagram socket at /dev/log (the host's /dev is untouched); the
#    start-up lines arrive there with facility local3 (priority
#    <local3*8 + severity>) and the daemon's name as tag.
. "$top_srcdir/tests/lib.sh"

need_ours
need_module pcap
need_module print
need_tool unshare "util-linux"
need_tool python3 "python3"
[ "$(id -u)" = 0 ] || skip "needs root (capture on lo, mount namespace)"

PORT=$((40000 + $$ % 20000))

# ---- 1. daemonize, pidfile, logfile ----------------------------------------
cat >"$T/d.conf" <<EOF
daemonize: true
pidfile: $T/d.pid
logfile: $T/d.log
pcap_interface: lo
pcap_filter: udp and port $PORT
plugins: print
print_output: csv
print_refresh_time: 1
aggregate: src_host, dst_port
print_output_file: $T/out.csv
EOF
timeout -k 5 20 "$PM_OUR_PMACCTD" -f "$T/d.conf" >"$T/start.out" 2>&1 </dev/null
rc=$?
cat "$T/start.out" >&2
[ $rc = 0 ] || fail "daemonize: start exited $rc"
wait_for "[ -s '$T/d.pid' ]" 10 || fail "daemonize: no pidfile $T/d.pid"
pid=$(cat "$T/d.pid")
[[ $pid =~ ^[0-9]+$ ]] || fail "pidfile holds '$pid', not a pid"
on_exit "kill -KILL $pid 2>/dev/null"
kill -0 "$pid" 2>/dev/null || fail "pidfile pid $pid is not running"
sid=$(ps -o sid= -p "$pid" | tr -d ' ')
oursid=$(ps -o sid= -p $$ | tr -d ' ')
[ -n "$sid" ] && [ "$sid" != "$oursid" ] || fail "daemon $pid still in our session $oursid: setsid missing"
[ "$sid" != "$pid" ] || fail "daemon $pid is a session leader: no second fork (it could acquire a terminal)"
[ "$(readlink "/proc/$pid/fd/0")" = /dev/null ] || fail "daemon's stdin is $(readlink "/proc/$pid/fd/0"), not /dev/null"
wait_for "grep -q . '$T/d.log'" 10 || fail "logfile $T/d.log stays empty"
grep -qiE 'error|fatal' "$T/d.log" && { cat "$T/d.log" >&2; fail "errors in the log"; }

# ---- 2. SIGHUP reopens the log file ----------------------------------------
mv "$T/d.log" "$T/d.log.1"
kill -HUP "$pid"
wait_for "[ -s '$T/d.log' ] && grep -q 'SIGHUP' '$T/d.log'" 10 ||
    fail "SIGHUP: no new log file with the reopen line"
grep -q 'SIGHUP' "$T/d.log.1" && fail "SIGHUP: the reopen line went to the renamed file"

# one datagram per poll until the pipeline has written it
wait_for "echo x >/dev/udp/127.0.0.1/$PORT; grep -q ',$PORT,' '$T/out.csv' 2>/dev/null" 20 ||
    fail "daemonized capture: no row for port $PORT in $T/out.csv"
kill -TERM "$pid"
wait_for "! kill -0 $pid 2>/dev/null" 15 || fail "SIGTERM: daemon $pid still running after 15 s"
[ -e "$T/d.pid" ] && fail "pidfile $T/d.pid left behind after SIGTERM"
head -n 1 "$T/out.csv" | grep -q '^SRC_IP' || fail "print output has no CSV header: $(head -c 200 "$T/out.csv")"

# ---- 3. syslog --------------------------------------------------------------
cat >"$T/s.conf" <<EOF
daemonize: false
syslog: local3
pcap_savefile: $(sample_pcap)
plugins: print
print_output: csv
print_output_file: $T/s.csv
EOF
mkdir -p "$T/up" "$T/work"
cat >"$T/syslog.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
s.settimeout(20)
out = open(sys.argv[1], "w")
open(sys.argv[2], "w").close()          # ready
try:
    while True:
        out.write(s.recv(4096).decode(errors="replace") + "\n")
        out.flush()
except socket.timeout:
    pass
EOF
unshare -m --propagation private sh -c "
    mount -t overlay overlay -o lowerdir=/dev,upperdir=$T/up,workdir=$T/work /dev || exit 90
    python3 $T/syslog.py $T/syslog.out $T/ready & spid=\$!
    i=0; while [ ! -e $T/ready ] && [ \$i -lt 200 ]; do sleep 0.05; i=\$((i+1)); done
    timeout -k 5 $PM_RUN_TIMEOUT $PM_OUR_PMACCTD -f $T/s.conf >$T/s.stderr 2>&1 </dev/null; rc=\$?
    kill \$spid 2>/dev/null
    exit \$rc" 
rc=$?
[ $rc = 90 ] && fail "cannot mount an overlay over /dev in a private mount namespace"
cat "$T/s.stderr" >&2
[ $rc = 0 ] || fail "syslog run exited $rc"
[ -s "$T/syslog.out" ] || fail "nothing arrived on /dev/log"
# local3 = 19; 19*8 = 152; severities 0-7 -> <152>..<159>
grep -qE '^<15[2-9]>' "$T/syslog.out" || { head "$T/syslog.out" >&2; fail "syslog lines without facility local3"; }
grep -qE '^<15[2-9]>.*pmacctd' "$T/syslog.out" || { head "$T/syslog.out" >&2; fail "syslog lines do not name pmacctd"; }
[ "$(out_packets "$T/s.csv")" -gt 0 ] || fail "syslog run accounted nothing"
# the log goes to syslog, not to stderr
grep -qi 'pipeline\|start' "$T/s.stderr" && fail "log lines on stderr despite syslog"
exit 0
