# tests/data/exporters/diff_common.sh - sourced by tests/diff/test_nfacctd.sh
# and test_sfacctd.sh (after tests/lib.sh).
#
# Every capture is merged into ONE pcap (merge_pcaps.py), each capture (or
# template+data group) under its own exporter address 10.77.N.1, so that the
# reference's ~4 s savefile start-up is paid once per config, not once per
# capture; every aggregate set carries peer_src_ip so rows stay attributable
# ($T/exporters.map says which address is which capture).
#
#   flow_groups_add FILE[+FILE...]    queue a group (skipped when a file is missing)
#   flow_merge                        write $T/all.pcap ($FLOW_MERGE_OPTS: extra
#                                     merge_pcaps.py options, e.g. --sflow-drop-qinq)
#   flow_run NAME EXTRA-LINES SETS    one reference run and one of ours with a print
#                                     plugin (csv) per set "name:aggregate"; compares
#   needs DAEMON (nfacctd / sfacctd), MODULE (netflow / sflow)

FLOW_GROUPS=()
flow_groups_add() {
    local f IFS=+
    for f in $1; do [ -r "$f" ] || return 0; done
    FLOW_GROUPS+=("$1")
}

flow_merge() {
    local i=0 g args=()
    for g in "${FLOW_GROUPS[@]}"; do
        i=$((i + 1))
        args+=("10.77.$i.1=$g")
    done
    [ $i -gt 0 ] || fail "no capture to feed"
    # shellcheck disable=SC2086
    "$PM_PY" "$top_srcdir/tests/data/exporters/merge_pcaps.py" "$T/all.pcap" \
        --map "$T/exporters.map" ${FLOW_MERGE_OPTS:-} "${args[@]}" || fail "merge_pcaps.py failed"
    echo "fed $i captures/groups ($(($(stat -c %s "$T/all.pcap") / 1024)) KiB) to both $DAEMON"
}

need_ours
need_module "$MODULE"
need_module print
[ -x "/usr/sbin/$DAEMON" ] || skip "reference /usr/sbin/$DAEMON missing (apt-get install pmacct)"
need_tool flock "util-linux"
[ -x "$PM_PY" ] || skip "needs $PM_PY"
# Ours is the multi-call binary run under the collector's name.
ln -s "$PM_OUR_PMACCTD" "$T/$DAEMON" || fail "cannot link $T/$DAEMON"
export TZ=UTC

# flow_conf FILE DIR EXTRA SETS
flow_conf() {
    local file=$1 dir=$2 extra=$3 sets=$4 s plugins=""
    mkdir -p "$dir"
    for s in $sets; do plugins="$plugins${plugins:+, }print[${s%%:*}]"; done
    {
        echo "! written by $TEST_NAME"
        echo "daemonize: false"
        echo "plugin_pipe_size: 10240000"
        echo "plugin_buffer_size: 10240"
        echo "pcap_savefile: $T/all.pcap"
        printf '%s\n' "$extra"
        echo "plugins: $plugins"
        for s in $sets; do
            echo "aggregate[${s%%:*}]: ${s#*:}"
            echo "print_output[${s%%:*}]: csv"
            echo "print_output_file[${s%%:*}]: $dir/${s%%:*}.csv"
        done
    } >"$file"
}

FLOW_BAD=0
# set_bytes FILE SET [FILTER-CMD]: the sum of the BYTES column of a print
# CSV, after FILTER-CMD (see flow_run) when given; 0 when FILE is missing.
set_bytes() {
    [ -f "$1" ] || { echo 0; return; }
    if [ -n "${3:-}" ]; then "$3" "$2" "$1"; else cat "$1"; fi |
        awk -F, 'NR > 1 { s += $NF } END { printf "%d\n", s }'
}
# flow_run NAME EXTRA SETS [FILTER-CMD]: FILTER-CMD (a shell function) is run
# on both outputs of a set as `CMD SET FILE` to drop documented differences.
flow_run() {
    local name=$1 extra=$2 sets=$3 filt=${4:-} s r o rc try first ours_b ref_b
    flow_conf "$T/$name-ref.conf" "$T/$name-ref" "$extra" "$sets"
    flow_conf "$T/$name-ours.conf" "$T/$name-ours" "$extra" "$sets"
    pm_run "$T/$DAEMON" "$T/$name-ours.conf" || fail "our $DAEMON failed on $T/$name-ours.conf"
    # The reference loses records silently when its plugins fall behind (on
    # a loaded machine whole exporters go missing): a run whose first set
    # holds fewer bytes than ours, both after the documented-difference
    # filter, is run again, up to three times.
    # shellcheck disable=SC2086
    first=$(printf '%s\n' $sets | head -n 1)
    first=${first%%:*}
    ours_b=$(set_bytes "$T/$name-ours/$first.csv" "$first" "$filt")
    for try in 1 2 3; do
        rm -rf "$T/$name-ref" && mkdir -p "$T/$name-ref"
        ref_lock
        pm_run "/usr/sbin/$DAEMON" "$T/$name-ref.conf"
        rc=$?
        ref_wait_children
        ref_unlock
        [ $rc = 0 ] || fail "reference $DAEMON failed on $T/$name-ref.conf"
        ref_b=$(set_bytes "$T/$name-ref/$first.csv" "$first" "$filt")
        [ "$ours_b" -gt 0 ] || fail "ours accounted nothing in $first"
        [ "$ref_b" -ge "$ours_b" ] && break
        note "reference run $name/$try accounted $ref_b bytes, ours $ours_b: running it again"
    done
    for s in $sets; do
        r=$T/$name-ref/${s%%:*}.csv o=$T/$name-ours/${s%%:*}.csv
        [ -s "$r" ] || { echo "MISMATCH: reference wrote no $r" >&2; FLOW_BAD=1; continue; }
        [ -f "$o" ] || { echo "MISMATCH: ours wrote no $o" >&2; FLOW_BAD=1; continue; }
        if [ -n "$filt" ]; then
            "$filt" "${s%%:*}" "$r" >"$r.f" && "$filt" "${s%%:*}" "$o" >"$o.f" || fail "filter $filt"
            r=$r.f o=$o.f
        fi
        compare_tables "$r" "$o" "$DAEMON $name ${s%%:*} (${s#*:})" || FLOW_BAD=1
    done
}

flow_done() {
    [ $FLOW_BAD = 0 ] || fail "outputs differ from the reference (exporters: $T/exporters.map)"
}

# flow_ips REGEX: the exporter addresses whose capture list matches REGEX
# (an egrep pattern on the file names), one per line.
flow_ips() { grep -E "$1" "$T/exporters.map" | cut -d' ' -f1; }

# drop_ips FILE IP...: FILE without the rows of those exporters (found by
# the PEER_SRC_IP column of the CSV header).
drop_ips() {
    local f=$1
    shift
    awk -F, -v ips="$*" 'BEGIN { n = split(ips, a, " "); for (i = 1; i <= n; i++) skip[a[i]] = 1 }
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == "PEER_SRC_IP") col = i; print; next }
        !(col && ($col in skip))' "$f"
}
