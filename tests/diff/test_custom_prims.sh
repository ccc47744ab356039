#!/bin/bash
# Differential test: custom primitives (aggregate_primitives), ours against
# Debian's pmacct 1.7.7, rows compared sorted (JSON as parsed objects):
#   - pmacctd on tests/data/sample.pcap with packet_ptr primitives (packet,
#     l3 with and without a protocol, IPv4 and IPv6), csv, formatted, json;
#   - nfacctd on NetFlow v9 and IPFIX savefiles with field_type primitives
#     (u_int, hex, ip of 4 and 16 bytes, mac, str; fields whose length is
#     not `len` stay unset, as in nfacctd), csv, formatted, json.
# Left out (docs/primitives.md): `raw` semantics (nfacctd 1.7.7 prints
# bytes that are not the field's) and l4/payload pointers (pmacctd 1.7.7
# reads nothing there for IPv4).
. "$top_srcdir/tests/lib.sh"

need_ref
need_ours
need_module pcap
need_module netflow
need_module print
[ -x /usr/sbin/nfacctd ] || skip "reference /usr/sbin/nfacctd missing (apt-get install pmacct)"
[ -x "$PM_PY" ] || skip "needs $PM_PY"
export TZ=UTC
ln -s "$PM_OUR_PMACCTD" "$T/nfacctd" || fail "cannot link $T/nfacctd"

cat >"$T/pkt.lst" <<'EOF'
! packet_ptr primitives (pmacctd)
name=ttl_pm	packet_ptr=l3:0x800+8   packet_ptr=l3:0x86dd+7	len=1   semantics=u_int
name=dmac	packet_ptr=packet	len=6	semantics=mac
name=smac	packet_ptr=mac+6	len=6	semantics=mac
name=ip4_src	packet_ptr=l3:0x800+12	len=4	semantics=ip
name=ip_id	packet_ptr=l3:0x800+4	len=2	semantics=hex
name=ip6_dst	packet_ptr=l3:0x86dd+24	len=16	semantics=ip
name=ver	packet_ptr=l3	len=1	semantics=hex
EOF
cat >"$T/nf.lst" <<'EOF'
! field_type primitives (nfacctd)
name=myproto	field_type=4	len=1	semantics=u_int
name=mysrc	field_type=8	len=4	semantics=ip
name=sport_hex	field_type=7	len=2	semantics=hex
name=octets	field_type=1	len=4	semantics=u_int
name=octets8	field_type=1	len=8	semantics=u_int
name=src6	field_type=27	len=16	semantics=ip
name=dst_mac_c	field_type=80	len=6	semantics=mac
name=mystr	field_type=8	len=4	semantics=str
name=wrong_len	field_type=4	len=2	semantics=u_int
EOF

# conf FILE INPUT PRIMS AGGREGATE [JSON-AGGREGATE]: one print plugin per format
conf() {
    local file=$1 in=$2 prims=$3 agg=$4 jagg=${5:-$4} dir=${1%.conf} f
    mkdir -p "$dir"
    {
        echo "pcap_savefile: $in"
        echo "aggregate_primitives: $prims"
        echo "plugins: print[csv], print[formatted], print[json]"
        for f in csv formatted json; do
            if [ $f = json ]; then echo "aggregate[$f]: $jagg"; else echo "aggregate[$f]: $agg"; fi
            echo "print_output[$f]: $f"
            echo "print_output_file[$f]: $dir/$f.out"
        done
    } | pm_conf "$file"
}

# packets FILE: total of the PACKETS column of a csv output
packets() { awk -F, 'NR > 1 { p += $(NF - 1) } END { print p + 0 }' "$1"; }

# run_ref BIN CONF DIR OURS-DIR: the reference, under the lock.  When the
# machine is loaded, pmacct 1.7.7's print plugins may still be reading the
# pipe when the core reaches the end of the savefile and exits: their last
# purge then lacks most packets.  A run whose csv total is short of ours is
# retried (at most 3 runs); the rows are still compared exactly.
run_ref() {
    local bin=$1 conf=$2 dir=$3 ours=$4 i rc want
    want=$(packets "$ours/csv.out")
    for i in 1 2 3; do
        ref_lock
        pm_run "$bin" "$conf"
        rc=$?
        ref_unlock
        [ $rc = 0 ] || return 1
        [ "$(packets "$dir/csv.out")" -ge "$want" ] && return 0
        note "reference run $i of $conf wrote $(packets "$dir/csv.out") of $want packets: again"
    done
    return 0
}

bad=0
compare_dir() {
    local what=$1 ref=$2 ours=$3 f
    for f in csv formatted json; do
        [ -s "$ref/$f.out" ] || { echo "reference wrote no $ref/$f.out" >&2; bad=1; continue; }
        [ -f "$ours/$f.out" ] || { echo "MISMATCH: $what $f: ours wrote no $ours/$f.out" >&2; bad=1; continue; }
        if [ $f = json ]; then
            compare_json "$ref/$f.out" "$ours/$f.out" "$what $f" || bad=1
        else
            compare_tables "$ref/$f.out" "$ours/$f.out" "$what $f" || bad=1
        fi
    done
}

# ---- pmacctd, packet_ptr ----------------------------------------------------
PCAP=$(sample_pcap)
[ -r "$PCAP" ] || fail "capture $PCAP missing"
AGG="src_host, proto, ttl_pm, dmac, smac, ip4_src, ip_id, ip6_dst, ver"
conf "$T/pm_ref.conf" "$PCAP" "$T/pkt.lst" "$AGG"
conf "$T/pm_ours.conf" "$PCAP" "$T/pkt.lst" "$AGG"
run_our_pmacctd "$T/pm_ours.conf" || fail "our pmacctd failed on $T/pm_ours.conf"
run_ref "$PM_REF_PMACCTD" "$T/pm_ref.conf" "$T/pm_ref" "$T/pm_ours" ||
    fail "reference pmacctd failed on $T/pm_ref.conf"
compare_dir "pmacctd packet_ptr" "$T/pm_ref" "$T/pm_ours"

# ---- nfacctd, field_type ----------------------------------------------------
# Savefiles of UDP datagrams: no pcap_filter for the collectors.
PM_DIFF_FILTER=""
AGG="peer_src_ip, src_host, myproto, mysrc, sport_hex, octets, octets8, src6, dst_mac_c, mystr, wrong_len"
# mystr holds an address's bytes: not UTF-8, not for the JSON comparison
JAGG="peer_src_ip, src_host, myproto, mysrc, sport_hex, octets, octets8, src6, dst_mac_c, wrong_len"
for c in softflowd-v9 pmacctd-nfprobe-ipfix; do
    in=$top_srcdir/tests/data/exporters/$c.pcap
    [ -r "$in" ] || fail "capture $in missing"
    conf "$T/nf_ref_$c.conf" "$in" "$T/nf.lst" "$AGG" "$JAGG"
    conf "$T/nf_ours_$c.conf" "$in" "$T/nf.lst" "$AGG" "$JAGG"
    pm_run "$T/nfacctd" "$T/nf_ours_$c.conf" || fail "our nfacctd failed on $T/nf_ours_$c.conf"
    run_ref /usr/sbin/nfacctd "$T/nf_ref_$c.conf" "$T/nf_ref_$c" "$T/nf_ours_$c" ||
        fail "reference nfacctd failed on $T/nf_ref_$c.conf"
    compare_dir "nfacctd field_type $c" "$T/nf_ref_$c" "$T/nf_ours_$c"
done

# ---- errors name the primitives file and line --------------------------------
printf 'name=a field_type=4 len=1 semantics=u_int\nname=b field_type=4 len=3 semantics=u_int\n' >"$T/bad.lst"
conf "$T/bad.conf" "$PCAP" "$T/bad.lst" "src_host, a"
if "$PM_OUR_PMACCTD" -f "$T/bad.conf" --check-config >"$T/bad.out" 2>&1; then
    echo "MISMATCH: a bad primitives file was accepted" >&2
    bad=1
elif ! grep -q "bad.lst:2: primitive 'b': semantics u_int needs len 1, 2, 4 or 8" "$T/bad.out"; then
    echo "MISMATCH: error message: $(cat "$T/bad.out")" >&2
    bad=1
else
    echo "ok: bad primitives file rejected with file:line"
fi

exit $bad
