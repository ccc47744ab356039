#!/bin/bash
# bench/maps.sh - pmacctd savefile -> pre_tag_map + networks_file -> print (CSV)
# ours against Debian's pmacctd 1.7.7.
#
#   bench/maps.sh [BUILD_DIR]     (default: ./_build, then /tmp/build-*)
#
# Env: NPKTS (1000000), NFLOWS (10000), RUNS (3: best wall time is kept),
#      KEEP=1 keeps the work dir.
#
# 1. writes a capture of NPKTS IPv4 TCP/UDP packets over NFLOWS 5-tuple+VLAN
#    flows with tests/gen/pcapgen.c (compiled here with cc -O2);
# 2. measures the reference's fixed start cost on a 1-packet capture (it
#    sleeps ~2 s before reading a savefile) and subtracts it;
# 3. runs both daemons RUNS times on the same config (pre_tag_map of 16 vlan
#    filter rules + 1000 in= rules, networks_file of 5000 prefixes, print csv,
#    aggregate tag,tag2,src_net,dst_net,src_mask,dst_mask,src_as,dst_as,proto), checks the
#    sorted outputs are identical, prints wall times and the ratio.
set -u
. "$(dirname "$0")/savefile_lib.sh"
bench_setup "$@"

# the maps: 16 vlan filter rules (jeq to a tag2 stage) behind 1000 rules
# that never match, and 5000 nested prefixes with AS numbers
{
    for i in $(seq 1000); do echo "set_tag=$((100000 + i)) in=$i"; done
    for v in $(seq 0 15); do echo "set_tag=$((v + 1)) filter='vlan $((v + 100))' jeq=l4"; done
    echo "set_tag2=6 filter='vlan and tcp' label=l4"
    echo "set_tag2=17 filter='vlan and udp'"
} >"$W/bench.map"
awk 'BEGIN { for (a = 0; a < 256; a++) for (b = 0; b < 16; b++)
    printf "%d,10.%d.%d.0/24\n", 64512 + a, a, b * 16;
  for (a = 0; a < 256; a++) printf "%d,10.%d.0.0/16\n", 65000 + a, a;
  for (a = 0; a < 256; a++) printf "192.168.%d.0/24\n", a;
  print "10.0.0.0/8"; print "0.0.0.0/0" }' >"$W/bench.lst"

conf() { # conf NAME PCAP
    cat >"$W/$1.conf" <<CONF
daemonize: false
pcap_savefile: $2
plugins: print
pre_tag_map: $W/bench.map
networks_file: $W/bench.lst
pmacctd_as: file
pmacctd_net: file
maps_entries: 10000
aggregate: tag, tag2, src_net, dst_net, src_mask, dst_mask, src_as, dst_as, proto
print_output: csv
print_output_file: $W/$1.csv
print_cache_entries: 65537
plugin_pipe_size: 102400000
plugin_buffer_size: 102400
CONF
}

bench_compare
