#!/bin/bash
# bench/pcap_print.sh - pmacctd savefile -> print (CSV file) throughput,
# ours against Debian's pmacctd 1.7.7.
#
#   bench/pcap_print.sh [BUILD_DIR]     (default: ./_build, then /tmp/build-*)
#
# Env: NPKTS (1000000), NFLOWS (10000), RUNS (3: best wall time is kept),
#      KEEP=1 keeps the work dir.
#
# 1. writes a capture of NPKTS IPv4 TCP/UDP packets over NFLOWS 5-tuple+VLAN
#    flows with tests/gen/pcapgen.c (compiled here with cc -O2);
# 2. measures the reference's fixed start cost on a 1-packet capture (it
#    sleeps ~2 s before reading a savefile) and subtracts it;
# 3. runs both daemons RUNS times on the same config (print csv to a file,
#    aggregate src_host,dst_host,src_port,dst_port,proto,vlan), checks the
#    sorted outputs are identical, prints wall times and the ratio.
set -u
. "$(dirname "$0")/savefile_lib.sh"
bench_setup "$@"

conf() { # conf NAME PCAP
    cat >"$W/$1.conf" <<CONF
daemonize: false
pcap_savefile: $2
plugins: print
aggregate: src_host, dst_host, src_port, dst_port, proto, vlan
print_output: csv
print_output_file: $W/$1.csv
print_cache_entries: 65537
plugin_pipe_size: 102400000
plugin_buffer_size: 102400
CONF
}

bench_compare
