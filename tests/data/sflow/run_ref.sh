#!/bin/sh
# Run Debian's sfacctd 1.7.7 over a pcap savefile, print its CSV output.
# usage: run_ref.sh FILE.pcap "aggregate list" [extra config lines...]
# Used to derive the expected rows kept next to this script.
set -e
f=$1; agg=$2; shift 2
d=$(mktemp -d /tmp/sfref.XXXXXX)
{
  echo "daemonize: false"
  echo "pcap_savefile_wait: true"
  echo "pcap_savefile: $f"
  echo "plugins: print[a]"
  echo "print_output[a]: csv"
  echo "print_output_file[a]: $d/out.csv"
  echo "print_refresh_time[a]: 1"
  echo "plugin_pipe_size: 10240000"
  echo "plugin_buffer_size: 10240"
  echo "aggregate[a]: $agg"
  for l in "$@"; do echo "$l"; done
} > "$d/a.conf"
timeout -s INT 7 sfacctd -f "$d/a.conf" > "$d/log" 2>&1 || true
if [ -f "$d/out.csv" ]; then
  head -1 "$d/out.csv"; tail -n +2 "$d/out.csv" | LC_ALL=C sort
fi
[ -n "$KEEP" ] && echo "dir: $d" || rm -rf "$d"
