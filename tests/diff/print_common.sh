# tests/diff/print_common.sh - sourced by test_print_{csv,formatted,json}.sh
# with FORMAT set: one reference run and one run of ours, each with one
# print plugin per aggregation set writing to its own file, then the files
# compared row by row (sorted; JSON as parsed objects).
#
# Grouping the sets into one run pays the reference's 2 s savefile sleep
# once per format instead of once per set.

. "$top_srcdir/tests/lib.sh"

# name:aggregate
PM_DIFF_SETS="
hosts:src_host,dst_host
5tuple:src_host,dst_host,src_port,dst_port,proto
proto:proto
tos:tos
vlan:vlan
macs:src_mac,dst_mac
all:src_mac,dst_mac,vlan,src_host,dst_host,src_port,dst_port,proto,tos
"
PCAP=${PM_DIFF_PCAP:-$(sample_pcap)}

need_ref
need_ours
[ -r "$PCAP" ] || fail "capture $PCAP missing"

# write_conf DIR: the config for one side, outputs under DIR.
write_conf() {
    local dir=$1 set name agg plugins=""
    mkdir -p "$dir"
    for set in $PM_DIFF_SETS; do
        plugins="$plugins${plugins:+, }print[${set%%:*}]"
    done
    {
        echo "pcap_savefile: $PCAP"
        echo "plugins: $plugins"
        for set in $PM_DIFF_SETS; do
            name=${set%%:*}
            agg=${set#*:}
            echo "aggregate[$name]: $agg"
            echo "print_output[$name]: $FORMAT"
            echo "print_output_file[$name]: $dir/$name.out"
        done
    } | pm_conf "$dir.conf"
}

write_conf "$T/ref"
write_conf "$T/ours"

run_our_pmacctd "$T/ours.conf" || fail "our pmacctd failed on $T/ours.conf"
run_ref_until "$T/ref.conf" "$T/ref/proto.out" "$(out_packets "$T/ours/proto.out")" ||
    fail "reference pmacctd failed on $T/ref.conf"

bad=0
for set in $PM_DIFF_SETS; do
    name=${set%%:*}
    r=$T/ref/$name.out o=$T/ours/$name.out
    [ -s "$r" ] || { echo "reference wrote no $r" >&2; bad=1; continue; }
    [ -f "$o" ] || { echo "MISMATCH: $FORMAT $name: ours wrote no $o" >&2; bad=1; continue; }
    if [ "$FORMAT" = json ]; then
        compare_json "$r" "$o" "$FORMAT $name (${set#*:})" || bad=1
    else
        compare_tables "$r" "$o" "$FORMAT $name (${set#*:})" || bad=1
    fi
done
[ $bad = 0 ] || fail "outputs differ from the reference (temp dir: $T)"
