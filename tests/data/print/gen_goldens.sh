#!/bin/sh
# Regenerates the goldens of tests/data/print from Debian's pmacctd 1.7.7
# (run from this directory; one reference daemon at a time).  Each case is
# NAME.conf-part -> NAME.golden: the print output of small.pcap (or
# span.pcap), with the writer PID replaced by "PID" and stamp_updated by
# "STAMP" (they vary per run).  Rows come out in hash order: tests compare
# them sorted, the header and markers in place.
set -e
REF=${REF:-/usr/sbin/pmacctd}
here=$(pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
AGG="src_host,dst_host,proto,src_port,dst_port"

run() { # name pcap extra-config...
    name=$1 pcap=$2
    shift 2
    mkdir -p "$tmp/$name"
    {
        echo "daemonize: false"
        echo "pcap_savefile: $here/$pcap"
        echo "plugin_pipe_size: 10240000"
        echo "plugin_buffer_size: 10240"
        echo "plugins: print"
        echo "aggregate: $AGG"
        for l in "$@"; do printf "%s\n" "$l"; done
    } >"$tmp/$name.conf"
    (cd "$tmp/$name" && timeout 60 "$REF" -f "$tmp/$name.conf" >"$tmp/$name.out" 2>"$tmp/$name.err")
}
norm() {
    sed -E -e 's/--(START|END) \([0-9]+\)--/--\1 (PID)--/' \
        -e 's#("writer_id": "[^/"]*)/[0-9]+"#\1/PID"#' \
        -e 's/"stamp_updated": "[^"]*"/"stamp_updated": "STAMP"/'
}

run formatted small.pcap "print_output: formatted"
run csv small.pcap "print_output: csv"
run json small.pcap "print_output: json"
run event_formatted small.pcap "print_output: event_formatted"
run event_csv small.pcap "print_output: event_csv"
run csv_markers small.pcap "print_output: csv" "print_markers: true"
run formatted_markers small.pcap "print_output: formatted" "print_markers: true"
run json_markers small.pcap "print_output: json" "print_markers: true"
run csv_num_protos_tab small.pcap "print_output: csv" "print_num_protos: true" 'print_output_separator: \t'
run json_minp small.pcap "print_output: json" "print_preprocess: minp=4"
for n in formatted csv json event_formatted event_csv csv_markers formatted_markers json_markers csv_num_protos_tab json_minp; do
    norm <"$tmp/$n.out" >"$n.golden"
done

# time bins: one file per bin, named by the bin start
run history span.pcap "print_output: json" "print_markers: true" "print_history: 1m" \
    "print_output_file: $tmp/history/out-%Y%m%d-%H%M.json" "print_latest_file: $tmp/history/latest"
for f in "$tmp"/history/out-*; do
    norm <"$f" >"history-$(basename "$f").golden"
done
readlink "$tmp/history/latest" | sed "s#$tmp/history/##" >history-latest.golden
