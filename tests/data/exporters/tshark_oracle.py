#!/usr/bin/env python3
"""tshark_oracle.py nf|sf PCAP PORT[,PORT...]|auto OURS.csv [--report N]

tshark as an independent oracle for the flow decoders: decodes every
datagram of PCAP sent to UDP PORT (auto: every destination port of the
capture) with tshark (-T json; `-d
udp.port==PORT,cflow` or `,sflow`), aggregates its records by the columns
of OURS.csv (a print plugin CSV written by our collector from the same
PCAP) and compares them with our rows.  Exit 0 when equal, 1 with a report
of the differing rows otherwise, 2 on usage or tshark errors.

Columns understood: SRC_IP DST_IP SRC_PORT DST_PORT PROTOCOL TOS IN_IFACE
OUT_IFACE SRC_AS DST_AS SRC_MASK DST_MASK TCP_FLAGS (ORed over the rows of
a key, as the print plugin does) TIMESTAMP_START TIMESTAMP_END (NetFlow
v1/v5/v7/v8/v9 only: the export time in whole seconds minus the flow's
age, sysUptime minus its sysUptime-relative time modulo 2^32 ms, in whole
seconds, as nfacctd 1.7.7 rounds), PACKETS BYTES (summed).

OURS.csv must be written with `print_num_protos: true` (protocol numbers).

NetFlow/IPFIX: one row per flow record (tshark's "pdu N" / "Flow N" trees
of data sets; options data is skipped).  sFlow: one row per flow sample
whose raw packet header tshark decodes: packets 1 (no renormalisation),
bytes the frame length, addresses, ports, protocol and TOS from the first
IPv4/IPv6 header of the sampled packet (ports 0 without a TCP/UDP header
at its top level, e.g. a non-first fragment), interfaces from the sample.
"""
import json
import subprocess
import sys
from collections import defaultdict

PROTO = {}


def proto_num(v):
    if not PROTO:
        try:
            with open("/etc/protocols") as f:
                for line in f:
                    w = line.split("#")[0].split()
                    if len(w) >= 2:
                        PROTO[w[0]] = w[1]
                        for a in w[2:]:
                            PROTO[a] = w[1]
        except OSError:
            pass
    return PROTO.get(v, v)


def pairs(kv):
    """json object hook keeping every value of duplicated keys"""
    d = {}
    for k, v in kv:
        if k in d:
            if not isinstance(d[k], list) or not d.get("__multi_" + k):
                d[k] = [d[k]]
                d["__multi_" + k] = True
            d[k].append(v)
        else:
            d[k] = v
    return d


def first(v):
    return v[0] if isinstance(v, list) else v


def num(v, default=0):
    v = first(v)
    if v is None:
        return default
    return int(str(v), 0)


def udp_ports(pcap):
    """the UDP destination ports of an Ethernet/IPv4 pcap"""
    import struct
    with open(pcap, "rb") as f:
        data = f.read()
    e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    ports, off = set(), 24
    while off + 16 <= len(data):
        incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        p = 14
        while len(pkt) > p and pkt[p - 2:p] in (b"\x81\x00", b"\x88\xa8"):
            p += 4
        if pkt[p - 2:p] == b"\x08\x00" and len(pkt) > p + 24 and pkt[p + 9] == 17:
            l4 = p + (pkt[p] & 15) * 4
            ports.add(struct.unpack("!H", pkt[l4 + 2:l4 + 4])[0])
    return sorted(ports)


def tshark(pcap, port, proto):
    ports = udp_ports(pcap) if port == "auto" else port.split(",")
    args = []
    for p in ports:
        args += ["-d", "udp.port==%s,%s" % (p, proto)]
    out = subprocess.run(["tshark", "-n", "-r", pcap] + args + ["-T", "json"],
                         capture_output=True, check=False)
    if out.returncode != 0:
        sys.stderr.write(out.stderr.decode(errors="replace"))
        sys.exit(2)
    return json.loads(out.stdout.decode(errors="replace"), object_pairs_hook=pairs)


def nf_rows(pcap, port):
    for pkt in tshark(pcap, port, "cflow"):
        layers = pkt["_source"]["layers"]
        cfs = layers.get("cflow")
        if cfs is None:
            continue
        for cf in cfs if isinstance(cfs, list) else [cfs]:
            ver = num(cf.get("cflow.version"))
            hdr = {"ver": ver}
            if ver in (1, 5, 7, 8, 9):
                up = cf.get("cflow.sysuptime")
                hdr["uptime_ms"] = round(float(first(up)) * 1000) if up else None
                ts = cf.get("cflow.timestamp_tree", {})
                hdr["unix_secs"] = num(ts.get("cflow.unix_secs"), None)
            for name, sub in cf.items():
                if not isinstance(sub, dict):
                    continue
                if name.startswith("pdu "):
                    yield nf_record(sub, hdr)
                elif name.startswith("FlowSet") or name.startswith("Set "):
                    for fn, fl in sub.items():
                        if fn.startswith("Flow ") and isinstance(fl, dict):
                            r = nf_record(fl, hdr)
                            if r is not None:
                                yield r


def nf_record(f, hdr):
    g = lambda *ks: next((f[k] for k in ks if k in f), None)
    src, dst = g("cflow.srcaddr", "cflow.srcaddrv6"), g("cflow.dstaddr", "cflow.dstaddrv6")
    # delta counts, else total counts (IE 85/86: Cisco ASA, YAF; the first
    # value: YAF's reverse-direction copies come after)
    pk = g("cflow.packets", "cflow.packets64", "cflow.permanent_packets", "cflow.permanent_packets64")
    by = g("cflow.octets", "cflow.octets64", "cflow.permanent_octets", "cflow.permanent_octets64")
    if src is None and dst is None and pk is None:
        return None  # options data
    r = {
        "SRC_IP": first(src) or "0.0.0.0", "DST_IP": first(dst) or "0.0.0.0",
        "SRC_PORT": num(g("cflow.srcport")), "DST_PORT": num(g("cflow.dstport")),
        "PROTOCOL": str(num(g("cflow.protocol"))), "TOS": num(g("cflow.tos")),
        # ingress/egressPhysicalInterface when the logical ones are absent
        # (as nfacctd 1.7.7 and ours)
        "IN_IFACE": num(g("cflow.inputint", "cflow.ingress_physical_interface")),
        "OUT_IFACE": num(g("cflow.outputint", "cflow.egress_physical_interface")),
        "SRC_AS": num(g("cflow.srcas")), "DST_AS": num(g("cflow.dstas")),
        "SRC_MASK": num(g("cflow.srcmask", "cflow.srcmaskv6")),
        "DST_MASK": num(g("cflow.dstmask", "cflow.dstmaskv6")),
        "TCP_FLAGS": num(g("cflow.tcpflags")),
        "PACKETS": num(pk), "BYTES": num(by),
    }
    # v1/v5/v7/v8 ICMP: exporters put type/code in a port; nfacctd 1.7.7
    # (and so ours) reports the source port as 0 (docs/DIFFERENCES.md)
    if hdr["ver"] < 9 and r["PROTOCOL"] == "1":
        r["SRC_PORT"] = 0
    td = f.get("cflow.timedelta_tree", {})
    if isinstance(td, dict) and hdr.get("uptime_ms") is not None and hdr.get("unix_secs") is not None:
        for col, k in (("TIMESTAMP_START", "cflow.timestart"), ("TIMESTAMP_END", "cflow.timeend")):
            if k in td:
                # the flow's age (sysUptime - its time, modulo 2^32 ms) in
                # whole seconds off the export time in whole seconds: the
                # rounding of nfacctd 1.7.7, which ours follows
                t = round(float(first(td[k])) * 1000)
                d = (hdr["uptime_ms"] - t) & 0xFFFFFFFF
                r[col] = hdr["unix_secs"] - d // 1000
    return r


def sf_rows(pcap, port):
    for pkt in tshark(pcap, port, "sflow"):
        sfs = pkt["_source"]["layers"].get("sflow")
        if sfs is None:
            continue
        for sf in sfs if isinstance(sfs, list) else [sfs]:
            for name, smp in sf.items():
                if not (name.startswith("Flow sample") or name.startswith("Expanded flow sample")):
                    continue
                for s in smp if isinstance(smp, list) else [smp]:
                    r = sf_sample(s)
                    if r is not None:
                        yield r


def sf_sample(s):
    raw = None
    for k, v in s.items():
        if k.startswith("Raw packet header"):
            raw = first(v)
    if raw is None or num(raw.get("sflow_245.header_protocol")) not in (1, 11, 12):
        return None  # Ethernet, IPv4, IPv6 headers
    tree = raw.get("sflow_245.header_tree", {})
    ext = {}
    for k, v in s.items():
        if isinstance(v, dict) and k.startswith("Extended"):
            ext.update(v)
    r = {"SRC_IP": None, "DST_IP": None, "SRC_PORT": 0, "DST_PORT": 0, "PROTOCOL": "0",
         "TOS": 0, "TCP_FLAGS": 0, "PACKETS": 1,
         "BYTES": num(raw.get("sflow_245.header.frame_length"))}
    # interfaces as sent (the output one raw, format bits included, as
    # sfacctd 1.7.7 and ours report it); expanded samples: the values
    fs = "sflow.flow_sample."
    r["IN_IFACE"] = num(s.get(fs + "input_interface", s.get(fs + "input_interface_value", 0)))
    r["OUT_IFACE"] = num(s.get(fs + "output_interface", s.get(fs + "output_interface_value", 0)))
    # a sampled IPv4/IPv6 data record gives the packet length (sfacctd 1.7.7
    # and ours take it over the raw header's frame length)
    for k, v in s.items():
        if isinstance(v, dict) and k in ("IPv4 data", "IPv6 data") and "sflow_245.ip.length" in v:
            r["BYTES"] = num(v["sflow_245.ip.length"])
    # extended router data: masks; extended gateway: src AS, and the last
    # AS of the destination AS path as dst AS
    r["SRC_MASK"] = num(ext.get("sflow_245.nexthop.src_mask", 0))
    r["DST_MASK"] = num(ext.get("sflow_245.nexthop.dst_mask", 0))
    r["SRC_AS"] = num(ext.get("sflow_245.srcAS", 0))
    r["DST_AS"] = 0
    for k, v in ext.items():  # the first AS path segment: its last AS
        if isinstance(v, dict) and "sflow_245.dstAS" in v:
            dst = v["sflow_245.dstAS"]
            r["DST_AS"] = num(dst[-1] if isinstance(dst, list) else dst)
            break
    for k in ("ip", "ipv6"):
        if k in tree and r["SRC_IP"] is None:
            ip = first(tree[k])
            if k == "ip":
                r["SRC_IP"], r["DST_IP"] = first(ip["ip.src"]), first(ip["ip.dst"])
                r["PROTOCOL"] = str(num(ip["ip.proto"]))
                r["TOS"] = num(ip.get("ip.dsfield", 0))
            else:
                r["SRC_IP"], r["DST_IP"] = first(ip["ipv6.src"]), first(ip["ipv6.dst"])
                r["PROTOCOL"] = str(num(ip["ipv6.nxt"]))
                # pmacct 1.7.7 (and so ours, sfacctd and pmacctd alike)
                # reports the upper 4 bits of the IPv6 traffic class
                r["TOS"] = num(ip.get("ipv6.tclass", 0)) >> 4
                frag = ip.get("ipv6.fraghdr")
                if isinstance(frag, dict):
                    r["PROTOCOL"] = str(num(frag["ipv6.fraghdr.nxt"]))
                    # tshark leaves the first fragment's transport header
                    # undecoded (data): its ports are the first 4 bytes
                    data = first(tree.get("data", {}))
                    if num(frag.get("ipv6.fraghdr.offset", 1)) == 0 and \
                            r["PROTOCOL"] in ("6", "17") and isinstance(data, dict):
                        b = bytes.fromhex(first(data["data.data"]).replace(":", ""))
                        r["SRC_PORT"] = b[0] << 8 | b[1]
                        r["DST_PORT"] = b[2] << 8 | b[3]
    if r["SRC_IP"] is None:
        return None
    for k in ("tcp", "udp"):
        if k in tree:
            t = first(tree[k])
            r["SRC_PORT"], r["DST_PORT"] = num(t[k + ".srcport"]), num(t[k + ".dstport"])
            r["PROTOCOL"] = "6" if k == "tcp" else "17"
            if k == "tcp":
                r["TCP_FLAGS"] = num(t.get("tcp.flags", 0)) & 0x3F
    return r


def main(argv):
    if len(argv) < 5 or argv[1] not in ("nf", "sf"):
        sys.stderr.write(__doc__)
        return 2
    kind, pcap, port, ours = argv[1], argv[2], argv[3], argv[4]
    with open(ours) as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    cols = lines[0].split(",")
    known = {"SRC_IP", "DST_IP", "SRC_PORT", "DST_PORT", "PROTOCOL", "TOS", "IN_IFACE",
             "OUT_IFACE", "SRC_AS", "DST_AS", "SRC_MASK", "DST_MASK", "TCP_FLAGS",
             "TIMESTAMP_START", "TIMESTAMP_END", "PACKETS", "BYTES"}
    bad = [c for c in cols if c not in known]
    if bad:
        sys.stderr.write("tshark_oracle: columns not understood: %s\n" % ",".join(bad))
        return 2
    keys = [c for c in cols if c not in ("PACKETS", "BYTES", "TCP_FLAGS")]

    def norm(c, v):
        if c == "PROTOCOL":
            return proto_num(str(v))
        if c in ("TIMESTAMP_START", "TIMESTAMP_END") and isinstance(v, str) and "-" in v:
            import calendar
            import time
            return str(calendar.timegm(time.strptime(v.split(".")[0], "%Y-%m-%d %H:%M:%S")))
        return str(v)

    def agg(rows):
        t = defaultdict(lambda: [0, 0, 0])
        for r in rows:
            k = tuple(norm(c, r.get(c, "")) for c in keys)
            a = t[k]
            a[0] += int(r.get("PACKETS", 0))
            a[1] += int(r.get("BYTES", 0))
            a[2] |= int(r.get("TCP_FLAGS", 0) or 0)
        return t

    our_rows = [dict(zip(cols, l.split(","))) for l in lines[1:]]
    gen = nf_rows(pcap, port) if kind == "nf" else sf_rows(pcap, port)
    theirs = list(gen)
    if any(c in ("TIMESTAMP_START", "TIMESTAMP_END") for c in cols) and \
            any(c not in r for r in theirs for c in ("TIMESTAMP_START",)):
        sys.stderr.write("tshark_oracle: tshark gives no sysUptime-relative times here\n")
        return 2
    a, b = agg(theirs), agg(our_rows)
    flags = "TCP_FLAGS" in cols
    only_t = sorted(k for k in a if k not in b or a[k][:2] != b[k][:2] or (flags and a[k][2] != b[k][2]))
    only_o = sorted(k for k in b if k not in a)
    n = int(argv[argv.index("--report") + 1]) if "--report" in argv else 15
    if not only_t and not only_o:
        print("ok: %s: %d tshark records = %d rows of ours (%s)" %
              (pcap.split("/")[-1], len(theirs), len(b), ",".join(cols)))
        return 0
    print("MISMATCH: %s (%s): %d tshark records, %d keys; ours %d keys" %
          (pcap.split("/")[-1], ",".join(cols), len(theirs), len(a), len(b)))
    print("  key: " + ",".join(keys) + " -> packets,bytes[,tcpflags]")
    for k in only_t[:n]:
        print("  tshark: %s -> %s   ours: %s" % (",".join(k), a[k][:3 if flags else 2],
                                                 b[k][:3 if flags else 2] if k in b else "-"))
    for k in only_o[:n]:
        print("  ours only: %s -> %s" % (",".join(k), b[k][:3 if flags else 2]))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
