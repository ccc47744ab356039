#!/bin/bash
# Differential test: sfacctd (sflow capture, print csv) against Debian's
# sfacctd 1.7.7 on every sFlow capture we have:
#   - tests/data/exporters/: pmacctd's sfprobe, unsampled and 1-in-4
#     (real exporter, see its README), its double-tagged samples removed,
#   - tests/data/sflow/*.pcap (crafted v2/v4/v5) and tests/data/sflow/akvorado/
#     (real devices).
# All merged into one savefile (tests/data/exporters/diff_common.sh); in sFlow
# peer_src_ip is the agent address carried in the datagram, so it is that
# (not the rewritten UDP source) that tells the rows apart.  One run for five
# aggregate sets, one more with sfacctd_renormalize.
. "$top_srcdir/tests/lib.sh"
DAEMON=sfacctd MODULE=sflow
. "$top_srcdir/tests/data/exporters/diff_common.sh"

# sfacctd 1.7.7 drops flow samples whose sampled Ethernet header has two
# VLAN tags (0x8100 then 0x8100/0x88a8); we account them (docs/DIFFERENCES.md).
# pmacctd's sfprobe captures hold 91 such samples of 1711 (the sample's QinQ
# packets), akvorado's data-qinq.pcap one.  It also reads the ports of IPv6
# fragments 6 bytes into the fragment header (rows with the fragment id as
# source port).  merge_pcaps.py removes both kinds of samples from the
# datagrams fed to both daemons, so every other sample must match.
FLOW_MERGE_OPTS=--sflow-drop-v6frag
E=$top_srcdir/tests/data/exporters
for c in pmacctd-sfprobe pmacctd-sfprobe-sampled; do
    [ -r "$E/$c.pcap" ] || fail "$E/$c.pcap missing"
    flow_groups_add "$E/$c.pcap"
done
for f in "$top_srcdir"/tests/data/sflow/*.pcap "$top_srcdir"/tests/data/sflow/akvorado/*.pcap; do
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
# sfacctd_renormalize: the reference does not multiply the samples of
# sfprobe's 1-in-4 export (agent 192.0.2.2) by their sampling rate (4) but
# by a factor from 1 to 9 that follows the sample_pool deltas; ours uses the
# sampling rate (docs/DIFFERENCES.md).  That agent is compared unrenormalised
# in the plain run only.
renorm_filt() { drop_ips "$2" 192.0.2.2; }
flow_run renorm "sfacctd_renormalize: true" "
sampling:peer_src_ip,src_host,dst_host,sampling_rate
" renorm_filt
flow_done
