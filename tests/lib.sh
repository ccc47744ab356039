# tests/lib.sh - helpers for the shell tests (sourced, not run).
#
# Environment (set by `make check`, defaulted here for running a test by
# hand from a build dir): top_srcdir, top_builddir, PMACCT_MODULE_DIR.
# CI=true turns every skip into a failure (HACKING.md: under CI a test that
# cannot start what it needs fails).
#
# Nothing is shared between tests except the reference daemon lock
# ($PM_REF_LOCK, default /tmp/pmacct-ref.lock): Debian's pmacctd 1.7.7 is
# run by one test at a time, whatever `make check -j` does.
#
#   need_tool NAME [WHY]        skip (77) / fail under CI when NAME is missing
#   need_ours                   skip / fail when $top_builddir/pmacctd is missing
#   need_ref                    same for /usr/sbin/pmacctd and /usr/bin/pmacct
#   skip WHY / fail WHY / note WHY
#   $T                          per-test temp dir, removed on exit (KEEP_TMP=1 keeps it)
#   wait_for 'COND' DEADLINE_S  poll COND (a shell command) every 50 ms
#   run_ref_pmacctd CONF [ARGS] run the reference to completion (savefile
#                               configs), under the lock; log in CONF.log
#   run_our_pmacctd CONF [ARGS] same with ours
#   nf_savefile_csv CAP CSV AGG our nfacctd: capture's datagrams -> print CSV
#   start_ref_pmacctd CONF      start in the background (memory plugin with
#                               pcap_savefile_wait), lock held until stopped
#   start_our_pmacctd CONF
#   stop_daemon                 stop what start_*_pmacctd started
#   sort_rows FILE              header (first line) first, rows sorted,
#                               trailer ("" / "For a total of") last
#   compare_tables A B [WHAT]   diff of sorted tables, readable report
#   compare_json A B [WHAT]     compare JSON lines as parsed objects (multiset)
#   sample_pcap                 path of the bundled capture
#   pm_conf FILE <<EOF          write a config with the reference's pipe/buffer sizes

# The helpers use bash; re-run the test under bash when sourced by sh.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)}"
: "${top_builddir:=$PWD}"
export top_srcdir top_builddir
if [ -z "${PMACCT_MODULE_DIR:-}" ]; then
    PMACCT_MODULE_DIR=$(ls -d "$top_builddir"/modules/*/.libs "$top_builddir"/classifiers/*/.libs 2>/dev/null | tr '\n' ':')
    export PMACCT_MODULE_DIR
fi

PM_REF_PMACCTD=${PM_REF_PMACCTD:-/usr/sbin/pmacctd}
PM_REF_PMACCT=${PM_REF_PMACCT:-/usr/bin/pmacct}
PM_OUR_PMACCTD=${PM_OUR_PMACCTD:-$top_builddir/pmacctd}
PM_OUR_PMACCT=${PM_OUR_PMACCT:-$top_builddir/pmacct}
PM_REF_LOCK=${PM_REF_LOCK:-/tmp/pmacct-ref.lock}
PM_PY=${PM_PY:-/usr/bin/python3}
# How long a savefile run may take before it is declared hung.
PM_RUN_TIMEOUT=${PM_RUN_TIMEOUT:-120}
TEST_NAME=$(basename "${0%.sh}")

note() { echo "NOTE: $TEST_NAME: $*" >&2; }

skip() {
    if [ "${CI:-}" = true ]; then
        echo "FAIL: $TEST_NAME: $* (a skip is a failure under CI=true)" >&2
        exit 1
    fi
    echo "SKIP: $TEST_NAME: $*" >&2
    exit 77
}

fail() {
    echo "FAIL: $TEST_NAME: $*" >&2
    exit 1
}

need_tool() {
    command -v "$1" >/dev/null 2>&1 || [ -x "$1" ] ||
        skip "needs $1${2:+ ($2)}: not found"
}

need_ours() {
    [ -x "$PM_OUR_PMACCTD" ] || skip "our daemon $PM_OUR_PMACCTD is not built"
}

need_our_client() {
    [ -x "$PM_OUR_PMACCT" ] || skip "our client $PM_OUR_PMACCT is not built"
}

need_ref() {
    [ -x "$PM_REF_PMACCTD" ] || skip "reference $PM_REF_PMACCTD missing (apt-get install pmacct)"
    [ -x "$PM_REF_PMACCT" ] || skip "reference $PM_REF_PMACCT missing (apt-get install pmacct)"
    need_tool flock "util-linux"
}

# Our modules, by name, are built when one of the PMACCT_MODULE_DIR dirs
# holds NAME.so.
have_module() {
    local d IFS=:
    for d in $PMACCT_MODULE_DIR; do
        [ -n "$d" ] && [ -e "$d/$1.so" ] && return 0
    done
    return 1
}

need_module() {
    have_module "$1" || skip "module $1 is not built (PMACCT_MODULE_DIR=$PMACCT_MODULE_DIR)"
}

sample_pcap() { echo "$top_srcdir/tests/data/sample.pcap"; }

# ---- temp dir and cleanup ------------------------------------------------

T=$(mktemp -d "${TMPDIR:-/tmp}/pmtest-$TEST_NAME.XXXXXX") || exit 99
PM_BG_PID=
PM_CLEANUPS=()
pm_cleanup() {
    local rc=$? c
    stop_daemon
    for c in "${PM_CLEANUPS[@]}"; do eval "$c"; done
    if [ "${KEEP_TMP:-}" = 1 ] || { [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ "${KEEP_TMP:-}" != 0 ] && [ "${CI:-}" != true ]; }; then
        echo "kept temp dir $T" >&2
    else
        rm -rf "$T"
    fi
    exit $rc
}
trap pm_cleanup EXIT
trap 'exit 130' INT TERM

on_exit() { PM_CLEANUPS+=("$1"); }

# ---- polling ------------------------------------------------------------

# wait_for 'COND' DEADLINE_S: 0 as soon as COND succeeds, 1 at the deadline.
wait_for() {
    local cond=$1 deadline=$((SECONDS + ${2:-10}))
    while :; do
        eval "$cond" && return 0
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.05
    done
}

# ---- configs ------------------------------------------------------------

# Frames both daemons are fed.  pmacct 1.7.7 ignores 802.1ad (0x88a8) QinQ
# frames, which we account (docs/DIFFERENCES.md): differential runs leave
# them out of both sides so every other row must match.
PM_DIFF_FILTER="pcap_filter: not ether proto 0x88a8"

# pm_conf FILE: stdin plus the settings every run needs (foreground, the
# reference's pipe and buffer sizes, no syslog).
pm_conf() {
    {
        echo "! written by $TEST_NAME"
        echo "daemonize: false"
        echo "plugin_pipe_size: 10240000"
        echo "plugin_buffer_size: 10240"
        echo "$PM_DIFF_FILTER"
        cat
    } >"$1"
}

# ---- daemons ------------------------------------------------------------

# Take the reference lock on fd 9 (waits for other tests).
ref_lock() {
    exec 9>>"$PM_REF_LOCK" || fail "cannot open $PM_REF_LOCK"
    flock -w 600 9 || fail "timed out waiting for $PM_REF_LOCK"
}
ref_unlock() {
    flock -u 9 2>/dev/null
    exec 9>&-
}

# pm_run BIN CONF ARGS...: run to completion with a deadline; 0 or fail.
pm_run() {
    local bin=$1 conf=$2 rc
    shift 2
    timeout -k 5 "$PM_RUN_TIMEOUT" "$bin" -f "$conf" "$@" >"$conf.log" 2>&1 </dev/null
    rc=$?
    if [ $rc -ne 0 ]; then
        echo "---- $bin -f $conf exited $rc; log:" >&2
        tail -n 30 "$conf.log" >&2
        return 1
    fi
    return 0
}

# ref_wait_children: pmacct 1.7.7's plugins are processes of their own
# ("pmacctd: Print Plugin [x]", ...) that may still be writing their output
# after the daemon's main process has exited; wait (deadline 20 s) until no
# reference process is left.  Called with the reference lock held, so no
# other reference run is under way.
ref_wait_children() {
    wait_for "! pgrep -f '^(pm|nf|sf|ua)acctd: ' >/dev/null" 20 ||
        note "reference plugin processes still alive after 20 s"
}

run_ref_pmacctd() {
    local rc
    ref_lock
    pm_run "$PM_REF_PMACCTD" "$@"
    rc=$?
    ref_wait_children
    ref_unlock
    return $rc
}

run_our_pmacctd() { pm_run "$PM_OUR_PMACCTD" "$@"; }

# nf_savefile_csv CAP CSV AGG: our nfacctd reads the NetFlow/IPFIX datagrams
# of capture CAP (pcap_savefile) into a print CSV aggregated by AGG (config
# and log beside CSV: CSV.conf, CSV.conf.log).
nf_savefile_csv() {
    pm_conf "$2.conf" <<CONF
pcap_savefile: $1
plugins: print[p]
aggregate: $3
print_output[p]: csv
print_output_file[p]: $2
print_refresh_time[p]: 3600
CONF
    run_our_pmacctd "$2.conf" --daemon nfacctd
}

# out_packets FILE: total PACKETS of a print output (csv, formatted or json).
out_packets() {
    case $(head -c 1 "$1" 2>/dev/null) in
    '{') grep -o '"packets": [0-9]*' "$1" | awk '{ s += $2 } END { printf "%d\n", s }' ;;
    *) awk -F'[, ]+' 'NR > 1 && NF > 2 { s += $(NF - 1) } END { printf "%d\n", s }' "$1" ;;
    esac
}

# run_ref_until CONF FILE WANT: run the reference on CONF (as
# run_ref_pmacctd) until the print output FILE holds WANT packets, three
# runs at most.  pmacct 1.7.7 loses records silently when its plugins fall
# behind at the end of a savefile, which a loaded machine makes likely; a
# run that accounted fewer packets than ours is run again.  The comparison
# that follows still decides: a reference that never gets there fails it.
run_ref_until() {
    local conf=$1 file=$2 want=$3 try got
    for try in 1 2 3; do
        run_ref_pmacctd "$conf" || return 1
        got=$(out_packets "$file")
        [ "${got:-0}" -ge "$want" ] && return 0
        note "reference run $try accounted $got packets in $(basename "$file"), ours $want: running it again"
    done
    return 0
}

PM_BG_REF=0
# pm_start BIN CONF ARGS...: start in the background (fd 9 inherited: the
# reference keeps the lock as long as it lives).
pm_start() {
    local bin=$1 conf=$2
    shift 2
    "$bin" -f "$conf" "$@" >"$conf.log" 2>&1 </dev/null &
    PM_BG_PID=$!
}

start_ref_pmacctd() {
    ref_lock
    PM_BG_REF=1
    pm_start "$PM_REF_PMACCTD" "$@"
}

start_our_pmacctd() { pm_start "$PM_OUR_PMACCTD" "$@"; }

stop_daemon() {
    [ -n "$PM_BG_PID" ] || return 0
    if kill -0 "$PM_BG_PID" 2>/dev/null; then
        kill -TERM "$PM_BG_PID" 2>/dev/null
        wait_for "! kill -0 $PM_BG_PID 2>/dev/null" 10 || kill -KILL "$PM_BG_PID" 2>/dev/null
    fi
    wait "$PM_BG_PID" 2>/dev/null
    PM_BG_PID=
    if [ $PM_BG_REF = 1 ]; then
        PM_BG_REF=0
        ref_unlock
    fi
    return 0
}

daemon_alive() { [ -n "$PM_BG_PID" ] && kill -0 "$PM_BG_PID" 2>/dev/null; }

# ---- comparing ----------------------------------------------------------

# sort_rows FILE: header first, data rows sorted bytewise, then the trailer
# (empty lines and the client's "For a total of" line) in original order.
sort_rows() {
    awk 'NR == 1 { print "0\t" $0; next }
         /^$/ || /^For a total of/ { printf "2\t%08d\t%s\n", NR, $0; next }
         { print "1\t" $0 }' "$1" |
        LC_ALL=C sort -t "$(printf '\t')" -k1,1 -s -k2 |
        sed -E 's/^2\t[0-9]{8}\t//; s/^[01]\t//'
}

# compare_tables A B [WHAT]: 0 when the sorted tables are identical, else a
# report (sizes, rows only in one side, the first lines of the diff) and 1.
compare_tables() {
    local a=$1 b=$2 what=${3:-$(basename "$1") vs $(basename "$2")}
    sort_rows "$a" >"$a.sorted"
    sort_rows "$b" >"$b.sorted"
    if cmp -s "$a.sorted" "$b.sorted"; then
        echo "ok: $what ($(($(wc -l <"$a.sorted") - 1)) rows)"
        return 0
    fi
    {
        echo "MISMATCH: $what"
        echo "  reference: $a ($(wc -l <"$a") lines)"
        echo "  ours:      $b ($(wc -l <"$b") lines)"
        if [ "$(head -n1 "$a.sorted")" != "$(head -n1 "$b.sorted")" ]; then
            echo "  headers differ:"
            echo "    ref:  $(head -n1 "$a.sorted")"
            echo "    ours: $(head -n1 "$b.sorted")"
        fi
        LC_ALL=C sort "$a.sorted" >"$a.lines"
        LC_ALL=C sort "$b.sorted" >"$b.lines"
        echo "  rows only in the reference: $(LC_ALL=C comm -23 "$a.lines" "$b.lines" | wc -l)," \
            "only in ours: $(LC_ALL=C comm -13 "$a.lines" "$b.lines" | wc -l)"
        diff -u --label "reference" --label "ours" "$a.sorted" "$b.sorted" | head -n 40
    } >&2
    return 1
}

# compare_json A B [WHAT]: each line a JSON object; equal when the two
# multisets of parsed objects are equal (key order and spacing ignored).
compare_json() {
    local a=$1 b=$2 what=${3:-$(basename "$1") vs $(basename "$2")}
    "$PM_PY" - "$a" "$b" "$what" <<'EOF'
import json, sys
from collections import Counter
def load(p):
    objs, bad = Counter(), []
    with open(p) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                objs[json.dumps(json.loads(line), sort_keys=True)] += 1
            except ValueError as e:
                bad.append("%s:%d: not JSON (%s): %s" % (p, n, e, line.strip()[:120]))
    return objs, bad
a, ba = load(sys.argv[1]); b, bb = load(sys.argv[2]); what = sys.argv[3]
if a == b and not ba and not bb:
    print("ok: %s (%d objects)" % (what, sum(a.values())))
    sys.exit(0)
err = sys.stderr
print("MISMATCH: %s" % what, file=err)
for m in ba + bb:
    print("  " + m, file=err)
onlya, onlyb = a - b, b - a
print("  objects: reference %d, ours %d; only in reference %d, only in ours %d"
      % (sum(a.values()), sum(b.values()), sum(onlya.values()), sum(onlyb.values())), file=err)
for k in sorted(onlya)[:15]:
    print("  - " + k, file=err)
for k in sorted(onlyb)[:15]:
    print("  + " + k, file=err)
sys.exit(1)
EOF
}
