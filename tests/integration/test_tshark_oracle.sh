#!/bin/bash
# tshark as an independent oracle for the NetFlow/IPFIX and sFlow decoders:
# every datagram of the real exporters' captures (tests/data/exporters) and,
# when present, of the shared corpus (akvorado's NetFlow/IPFIX and sFlow
# pcaps, logstash's vendor datagrams) is decoded by tshark and by ours; the
# records are aggregated by the same keys and compared
# (tests/data/exporters/tshark_oracle.py, which says how each field is read
# and which pmacct 1.7.7 conventions ours follows).  Sets:
#   5tuple  src/dst host and port, protocol, TOS, ORed TCP flags
#   ifaces  in/out interface, src/dst AS, src/dst mask, protocol
#   times   src/dst host, protocol, flow start/end (NetFlow v1/v5/v7/v9
#           captures whose times are sysUptime-relative)
# packets and bytes summed on both sides.
. "$top_srcdir/tests/lib.sh"

need_ours
need_module netflow
need_module sflow
need_module print
need_tool tshark "apt-get install tshark"
[ -x "$PM_PY" ] || skip "needs $PM_PY"
ORACLE="$PM_PY $top_srcdir/tests/data/exporters/tshark_oracle.py"
MERGE="$PM_PY $top_srcdir/tests/data/exporters/merge_pcaps.py"
ln -s "$PM_OUR_PMACCTD" "$T/nfacctd" && ln -s "$PM_OUR_PMACCTD" "$T/sfacctd" || fail "cannot link"
export TZ=UTC
SET_5TUPLE="src_host,dst_host,src_port,dst_port,proto,tos,tcpflags"
SET_IFACES="in_iface,out_iface,src_as,dst_as,src_mask,dst_mask,proto"
SET_TIMES="src_host,dst_host,proto,timestamp_start,timestamp_end"

BAD=0 N=0
# check KIND(nf|sf) PCAP PORT SETNAME...: ours on PCAP with one print plugin
# per set, then the oracle on each
check() {
    local kind=$1 pcap=$2 port=$3 d=$T/run.$N s plugins="" daemon=nfacctd
    shift 3
    N=$((N + 1))
    [ "$kind" = sf ] && daemon=sfacctd
    mkdir -p "$d"
    for s in "$@"; do plugins="$plugins${plugins:+, }print[$s]"; done
    {
        echo "daemonize: false"
        echo "pcap_savefile: $pcap"
        echo "plugins: $plugins"
        for s in "$@"; do
            local v=SET_${s^^}
            echo "aggregate[$s]: ${!v}"
            echo "print_output[$s]: csv"
            echo "print_num_protos[$s]: true"
            echo "print_output_file[$s]: $d/$s.csv"
            echo "print_refresh_time[$s]: 3600"
        done
    } >"$d/conf"
    pm_run "$T/$daemon" "$d/conf" || { BAD=1; echo "FAILED: our $daemon on $pcap" >&2; return; }
    for s in "$@"; do
        [ -s "$d/$s.csv" ] || { BAD=1; echo "MISMATCH: ours wrote no $s for $pcap" >&2; continue; }
        $ORACLE "$kind" "$pcap" "$port" "$d/$s.csv" || BAD=1
    done
}

E=$top_srcdir/tests/data/exporters
# the real exporters (ports: tests/data/exporters/README.md)
for c in softflowd-v5:20005 softflowd-v9:20009 softflowd-v9-sampled:20019 \
    pmacctd-nfprobe-v5:20105 fprobe-v1:20201 fprobe-v5:20205 fprobe-v7:20207; do
    check nf "$E/${c%%:*}.pcap" "${c##*:}" 5tuple ifaces times
done
# IPFIX and nfprobe's v9: times are not sysUptime-relative for tshark
for c in softflowd-ipfix:20010 pmacctd-nfprobe-v9:20109 pmacctd-nfprobe-ipfix:20110; do
    check nf "$E/${c%%:*}.pcap" "${c##*:}" 5tuple ifaces
done
for c in pmacctd-sfprobe:20143 pmacctd-sfprobe-sampled:20144; do
    check sf "$E/${c%%:*}.pcap" "${c##*:}" 5tuple ifaces
done

# vendor datagrams (from logstash-codec-netflow, tests/data/netflow; raw
# UDP payloads sent to port 2055 by merge_pcaps.py, templates first)
D=$top_srcdir/tests/data/netflow
i=0
# (the Juniper MX240 pair is left out: its data's template is not in it)
for g in ipfix.dat ipfix_test_yaf_tpl45841.dat:ipfix_test_yaf_tpls_option_tpl.dat:ipfix_test_yaf_data45841.dat \
    netflow5_test_juniper_mx80.dat netflow9_test_cisco_asa_1_tpl.dat:netflow9_test_cisco_asa_1_data.dat \
    netflow9_test_cisco_asr9k_tpl260.dat:netflow9_test_cisco_asr9k_opttpl256.dat:netflow9_test_cisco_asr9k_data260.dat; do
    i=$((i + 1))
    $MERGE "$T/dat$i.pcap" "10.79.$i.1=$D/${g//:/+$D/}" >/dev/null || fail "merge $g"
    check nf "$T/dat$i.pcap" 2055 5tuple ifaces
done

C=${PM_CORPUS:-$top_srcdir/../shared/corpus}
if [ -d "$C/akvorado" ]; then
    A=$C/akvorado/flow-decoder-netflow
    i=0
    # groups of files (templates first), ":" between files; data+templates.pcap
    # (one datagram) is read as it is
    check nf "$A/data+templates.pcap" auto 5tuple ifaces
    for g in nfv5 mpls nat physicalinterfaces template:data \
        icmp-template:icmp-data ipfixprobe-templates:ipfixprobe-data \
        samplingrate-template:samplingrate-data \
        options-template:options-data:template:data \
        multiplesamplingrates-options-template:multiplesamplingrates-options-data:multiplesamplingrates-template:multiplesamplingrates-data; do
        i=$((i + 1))
        $MERGE "$T/ak$i.pcap" "10.78.$i.1=$A/${g//:/.pcap+$A/}.pcap" >/dev/null || fail "merge $g"
        check nf "$T/ak$i.pcap" auto 5tuple ifaces
    done
    for f in "$C"/akvorado/flow-decoder-sflow/*.pcap; do
        check sf "$f" auto 5tuple ifaces
    done
else
    note "corpus $C absent: only tests/data/exporters checked"
fi

[ $BAD = 0 ] || fail "tshark and ours disagree (see MISMATCH above)"
echo "ok: $N captures decoded alike by tshark and ours"
