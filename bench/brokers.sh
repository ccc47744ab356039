#!/bin/bash
# bench/brokers.sh BUILD_DIR [PCAP] - messages/s into Kafka (tests/kafka_mock)
# for the reference pmacctd 1.7.7 and ours, same capture and config (one
# aggregate per message, aggregate src_host,dst_host,src_port,dst_port,proto).
# Wall time of the whole run, minus the reference's fixed savefile cost
# measured on a 1-packet capture, like bench/pcap_print.sh.  Prints a row for
# docs/PERFORMANCE.md.
set -eu
B=${1:?usage: bench/brokers.sh BUILD_DIR [PCAP]}
B=$(cd "$B" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
PCAP=${2:-$SRC/tests/data/sample.pcap}
export PMACCT_MODULE_DIR=$(ls -d "$B"/modules/*/.libs | tr '\n' ':')
T=$(mktemp -d /tmp/bench-brokers.XXXXXX)
"$B/tests/kafka_mock" -f "$T/bs" -t ref -t ours -t one >/dev/null 2>&1 &
MOCK=$!
trap 'kill $MOCK 2>/dev/null; rm -rf "$T"' EXIT
while [ ! -s "$T/bs" ]; do sleep 0.05; done
BS=$(cat "$T/bs")
conf() { # topic pcap
    cat <<E2
daemonize: false
plugin_pipe_size: 10240000
plugin_buffer_size: 10240
pcap_savefile: $2
plugins: kafka
aggregate: src_host, dst_host, src_port, dst_port, proto
kafka_broker_host: ${BS%:*}
kafka_broker_port: ${BS##*:}
kafka_topic: $1
E2
}
now() { date +%s.%N; }
tshark -r "$PCAP" -c 1 -w "$T/one.pcap" 2>/dev/null || head -c 200 "$PCAP" >"$T/one.pcap"
conf one "$T/one.pcap" >"$T/one.conf"; conf ref "$PCAP" >"$T/ref.conf"; conf ours "$PCAP" >"$T/ours.conf"
exec 9>>/tmp/pmacct-ref.lock; flock -w 600 9
t0=$(now); /usr/sbin/pmacctd -f "$T/one.conf" >/dev/null 2>&1; t1=$(now)
/usr/sbin/pmacctd -f "$T/ref.conf" >"$T/ref.log" 2>&1; t2=$(now)
flock -u 9
"$B/pmacctd" -f "$T/ours.conf" >"$T/ours.log" 2>&1; t3=$(now)
N=$(kcat -C -b "$BS" -t ours -e -o beginning -q -f '%s\n' 2>/dev/null | grep -c purge)
NR=$(kcat -C -b "$BS" -t ref -e -o beginning -q -f '%s\n' 2>/dev/null | grep -c purge)
python3 - "$t0" "$t1" "$t2" "$t3" "$N" "$NR" <<'P'
import sys
t0,t1,t2,t3=map(float,sys.argv[1:5]); n,nr=int(sys.argv[5]),int(sys.argv[6])
fixed=t1-t0; ref=t2-t1; net=max(ref-fixed,1e-3); ours=t3-t2
print("| kafka (mock) | %d msgs ref, %d ours | ref wall %.2f s, fixed %.2f s, net %.2f s (%.0f msg/s) | ours %.2f s (%.0f msg/s, wall incl. start/stop) | ratio %.1fx |"
      % (nr, n, ref, fixed, net, nr/net, ours, n/ours, net/ours))
P
