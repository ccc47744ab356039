#!/bin/bash
# Differential test: sfacctd (sflow capture, print csv) against Debian's
# sfacctd 1.7.7 on every sFlow capture we have:
#   - tests/data/exporters/: pmacctd's sfprobe, unsampled and 1-in-4
#     (real exporter, see its README),
#   - tests/data/sflow/*.pcap (crafted v2/v4/v5) and tests/data/sflow/akvorado/
#     (real devices).
# All merged into one savefile (tests/data/exporters/diff_common.sh); in sFlow
# peer_src_ip is the agent address carried in the datagram, so it is that
# (not the rewritten UDP source) that tells the rows apart.  One run for five
# aggregate sets, one more with sfacctd_renormalize.
. "$top_srcdir/tests/lib.sh"
DAEMON=sfacctd MODULE=sflow
. "$top_srcdir/tests/data/exporters/diff_common.sh"

# pmacctd's sfprobe captures (tests/data/exporters/pmacctd-sfprobe*.pcap)
# are NOT fed yet: sfacctd 1.7.7 accounts fewer samples than they hold
# (1620 of 1711 packets alone, fewer still when merged with other captures),
# not understood yet (open, see the report of this test's author).  Set
# PM_SFPROBE=1 to feed them anyway.
E=$top_srcdir/tests/data/exporters
if [ "${PM_SFPROBE:-0}" = 1 ]; then
    for c in pmacctd-sfprobe pmacctd-sfprobe-sampled; do
        [ -r "$E/$c.pcap" ] || fail "$E/$c.pcap missing"
        flow_groups_add "$E/$c.pcap"
    done
fi
# Left out (docs/DIFFERENCES.md, "Collectors"):
# - data-qinq.pcap: sfacctd drops samples with two 802.1Q tags, we account them.
for f in "$top_srcdir"/tests/data/sflow/*.pcap "$top_srcdir"/tests/data/sflow/akvorado/*.pcap; do
    case $f in */data-qinq.pcap) continue ;; esac
    flow_groups_add "$f"
done
flow_merge

SETS="
5tuple:peer_src_ip,src_host,dst_host,src_port,dst_port,proto
ifaces:peer_src_ip,in_iface,out_iface,src_as,dst_as
masks:peer_src_ip,src_host,dst_host,src_mask,dst_mask
tos:peer_src_ip,tos,proto,vlan
sampling:peer_src_ip,src_host,dst_host,sampling_rate
"
flow_run plain "" "$SETS"
flow_run renorm "sfacctd_renormalize: true" "
sampling:peer_src_ip,src_host,dst_host,sampling_rate
"
flow_done
