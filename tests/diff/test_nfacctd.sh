#!/bin/bash
# Differential test: nfacctd (netflow capture, print csv) against Debian's
# nfacctd 1.7.7 on every NetFlow/IPFIX capture we have:
#   - tests/data/exporters/: real exporters (softflowd v5/v9/IPFIX and v9
#     sampled, pmacctd's nfprobe v5/v9/IPFIX, fprobe v1/v5/v7; see its README),
#   - tests/data/netflow/*.dat (vendor datagrams, template files first),
#   - the shared corpus's akvorado NetFlow pcaps when present
#     ($PM_CORPUS, default ../shared/corpus beside the checkout).
# All are merged into one savefile (one exporter address each, see
# tests/data/exporters/diff_common.sh): one run for six aggregate sets, one
# more with nfacctd_renormalize.
. "$top_srcdir/tests/lib.sh"
DAEMON=nfacctd MODULE=netflow
. "$top_srcdir/tests/data/exporters/diff_common.sh"

E=$top_srcdir/tests/data/exporters
for c in softflowd-v5 softflowd-v9 softflowd-ipfix softflowd-v9-sampled \
    pmacctd-nfprobe-v5 pmacctd-nfprobe-v9 pmacctd-nfprobe-ipfix fprobe-v1 fprobe-v5 fprobe-v7; do
    [ -r "$E/$c.pcap" ] || fail "$E/$c.pcap missing"
    flow_groups_add "$E/$c.pcap"
done
N=$top_srcdir/tests/data/netflow
flow_groups_add "$N/ipfix.dat"
flow_groups_add "$N/ipfix_test_juniper_mx240_junos151r6s3_opttpl512.dat+$N/ipfix_test_juniper_mx240_junos151r6s3_data512.dat"
flow_groups_add "$N/ipfix_test_yaf_tpl45841.dat+$N/ipfix_test_yaf_tpls_option_tpl.dat+$N/ipfix_test_yaf_data45841.dat"
flow_groups_add "$N/netflow5_test_invalid01.dat"
flow_groups_add "$N/netflow5_test_juniper_mx80.dat"
# IE 315 dataLinkFrameSection (crafted: with and without counter IEs)
flow_groups_add "$N/ipfix_frame_section_counters.dat"
flow_groups_add "$N/ipfix_frame_section_nocounters.dat"
flow_groups_add "$N/netflow9_test_cisco_asa_1_tpl.dat+$N/netflow9_test_cisco_asa_1_data.dat"
flow_groups_add "$N/netflow9_test_cisco_asr9k_tpl260.dat+$N/netflow9_test_cisco_asr9k_opttpl256.dat+$N/netflow9_test_cisco_asr9k_data260.dat"
A=${PM_CORPUS:-$top_srcdir/../shared/corpus}/akvorado/flow-decoder-netflow
if [ -d "$A" ]; then
    # data+templates.pcap (one datagram, templates and data) is fed under
    # another name: group files are split on "+"
    cp "$A/data+templates.pcap" "$T/data-templates.pcap" && flow_groups_add "$T/data-templates.pcap"
    for g in nfv5 mpls nat physicalinterfaces \
        template+data datalink-template+datalink-data \
        ethernet-over-mpls-with-control-word-template+ethernet-over-mpls-with-control-word-data \
        icmp-template+icmp-data ipfix-srv6-template+ipfix-srv6-data \
        ipfixprobe-templates+ipfixprobe-data juniper-cpid-template+juniper-cpid-data \
        samplingrate-template+samplingrate-data \
        options-template+options-data+template+data \
        multiplesamplingrates-options-template+multiplesamplingrates-options-data+multiplesamplingrates-template+multiplesamplingrates-data; do
        flow_groups_add "$A/${g//+/.pcap+$A/}.pcap"
    done
else
    note "corpus $A absent: its captures are not fed"
fi
flow_merge

# Documented differences (docs/DIFFERENCES.md, "Collectors"), left out of
# the comparison:
# - NetFlow v1 and v7 (fprobe): nfacctd 1.7.7 ignores the datagrams silently;
#   we decode them (checked against tshark by tests/integration/test_tshark_oracle.sh).
# - dataLinkFrameSection (IE 315: akvorado datalink, EoMPLS, SRv6, Juniper
#   CPID): nfacctd decodes the sampled frame, we do not yet (open).
# - IPFIX flowStart/EndSysUpTime with systemInitTimeMilliseconds (softflowd
#   IPFIX, ipfix.dat) and flowStart/EndMicroseconds (ipfixprobe): nfacctd uses
#   the export time and no end time; we decode them.  Only the times set.
# - tcpflags in an aggregate: nfacctd ORs the flags of a row's flows (not a
#   key); ours keys on them (open): the tos set therefore has no tcpflags.
SKIP_ALL=$(flow_ips 'fprobe-v[17]|datalink|control-word|srv6|juniper-cpid')
SKIP_TIMES=$(flow_ips 'softflowd-ipfix|/ipfix\.dat|ipfixprobe')
nf_filter() {
    if [ "$1" = times ]; then
        # shellcheck disable=SC2086
        drop_ips "$2" $SKIP_ALL $SKIP_TIMES
    else
        # shellcheck disable=SC2086
        drop_ips "$2" $SKIP_ALL
    fi
}

SETS="
5tuple:peer_src_ip,src_host,dst_host,src_port,dst_port,proto
ifaces:peer_src_ip,in_iface,out_iface,src_as,dst_as
nets:peer_src_ip,src_net,dst_net,src_mask,dst_mask
times:peer_src_ip,src_host,dst_host,timestamp_start,timestamp_end
tos:peer_src_ip,tos,proto
sampling:peer_src_ip,src_host,dst_host,sampling_rate
"
flow_run plain "nfacctd_net: netflow
nfacctd_as: netflow" "$SETS" nf_filter
flow_run renorm "nfacctd_renormalize: true" "
sampling:peer_src_ip,src_host,dst_host,sampling_rate
5tuple:peer_src_ip,src_host,dst_host,src_port,dst_port,proto
" nf_filter
flow_done
