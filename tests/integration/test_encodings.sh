#!/bin/bash
# The pipeline-wide encoding keys of the core (host->render_flags):
# timestamps_secs / timestamps_since_epoch (pmacct 1.7.7 keys) and current
# pmacct's pre_tag_label_encode_as_map and tcpflags_encode_as_array, on the
# print JSON output of the bundled sample:
#  - without them: "label": "site%mil,rack%r1", "tcp_flags": "<number>";
#  - with them: "label": {"site": "mil", "rack": "r1"} and "tcp_flags" an
#    array of flag names whose bits add up to the plain run's number, row
#    for row; the packet totals of both runs equal;
#  - timestamps_since_epoch + timestamps_secs: timestamp_arrival as bare seconds;
#  - each key is accepted per instance (key[name]) by --check-config for
#    print, and a bad value is refused naming file:line.
. "$top_srcdir/tests/lib.sh"

need_ours
need_module pcap
need_module print
need_module tag
need_tool python3 "python3"

cat >"$T/tag.map" <<'M'
set_label=site%mil,rack%r1 ip=0.0.0.0/0
M
base() { # name extra-lines
    cat <<C
daemonize: false
pcap_savefile: $(sample_pcap)
pre_tag_map: $T/tag.map
plugins: print[$1]
aggregate[$1]: label, src_host, dst_host, src_port, dst_port, proto, tcpflags, timestamp_arrival
print_output[$1]: json
print_output_file[$1]: $T/$1.json
C
}
base plain >"$T/plain.conf"
{ base enc; printf 'pre_tag_label_encode_as_map[enc]: true\ntcpflags_encode_as_array[enc]: true\ntimestamps_since_epoch[enc]: true\ntimestamps_secs[enc]: yes\n'; } >"$T/enc.conf"
run_our_pmacctd "$T/plain.conf" || fail "plain run failed"
run_our_pmacctd "$T/enc.conf" || fail "encoded run failed"
[ "$(out_packets "$T/plain.json")" -gt 0 ] || fail "plain run accounted nothing"
[ "$(out_packets "$T/plain.json")" = "$(out_packets "$T/enc.json")" ] ||
    fail "packet totals differ: $(out_packets "$T/plain.json") vs $(out_packets "$T/enc.json")"

python3 - "$T/plain.json" "$T/enc.json" <<'PY' || fail "encodings differ from the plain output (above)"
import json, sys
FLAGS = {"FIN": 1, "SYN": 2, "RST": 4, "PSH": 8, "ACK": 16, "URG": 32}
def load(p):
    return [json.loads(l) for l in open(p) if l.strip()]
def key(r):
    return (r["ip_src"], r["ip_dst"], r["port_src"], r["port_dst"], r["ip_proto"])
plain = {}
for r in load(sys.argv[1]):
    assert r["label"] == "site%mil,rack%r1", r
    plain.setdefault(key(r), []).append(r)
n = flagged = 0
for r in load(sys.argv[2]):
    assert r["label"] == {"site": "mil", "rack": "r1"}, ("label", r["label"])
    tf = r["tcp_flags"]
    assert isinstance(tf, list), ("tcp_flags not an array", tf)
    bits = sum(FLAGS[f] for f in tf)
    flagged += bool(tf)
    cands = plain.get(key(r), [])
    assert any(int(p["tcp_flags"]) == bits and p["packets"] == r["packets"] for p in cands), \
        ("no plain row with flags", bits, r, cands)
    ts = r["timestamp_arrival"]
    assert isinstance(ts, (int, str)) and str(ts).isdigit(), ("timestamp_arrival not bare seconds", ts)
    n += 1
assert n == sum(len(v) for v in plain.values()), ("row counts", n)
assert flagged > 0, "no row with TCP flags: the sample should have some"
print("rows", n, "with flags", flagged)
PY

printf 'plugins: print[a]\ntcpflags_encode_as_array[a]: maybe\n' >"$T/bad.conf"
"$PM_OUR_PMACCTD" -f "$T/bad.conf" --check-config >"$T/bad.out" 2>&1 && fail "a bad boolean was accepted"
grep -q "bad.conf:2" "$T/bad.out" || { cat "$T/bad.out" >&2; fail "the error does not name bad.conf:2"; }
exit 0
