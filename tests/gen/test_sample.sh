#!/bin/bash
# test_sample.sh - the committed tests/data/sample.pcap is exactly what the
# generator writes (so it can be regenerated and reviewed as code), and
# tcpdump, when installed, reads every packet of it.
. "$top_srcdir/tests/lib.sh"

gen=$top_builddir/tests/gen/pcapgen
[ -x "$gen" ] || skip "$gen not built (make check builds it)"
"$gen" sample "$T/sample.pcap" 2>/dev/null || fail "pcapgen sample failed"
cmp "$T/sample.pcap" "$(sample_pcap)" ||
    fail "tests/data/sample.pcap differs from 'pcapgen sample': regenerate it with tests/gen/gen-sample.sh"
echo "ok: sample.pcap matches the generator"
"$gen" bench "$T/bench.pcap" 1000 100 2>/dev/null || fail "pcapgen bench failed"
"$gen" one "$T/one.pcap" 2>/dev/null || fail "pcapgen one failed"
if command -v tcpdump >/dev/null; then
    n=$(tcpdump -nr "$(sample_pcap)" 2>/dev/null | wc -l)
    [ "$n" = 2112 ] || fail "tcpdump read $n packets of the sample, expected 2112"
    n=$(tcpdump -nr "$T/bench.pcap" 2>/dev/null | wc -l)
    [ "$n" = 1000 ] || fail "tcpdump read $n packets of the bench capture, expected 1000"
    echo "ok: tcpdump reads 2112 + 1000 packets"
elif [ "${CI:-}" = true ]; then
    fail "tcpdump missing under CI"
fi
