#!/usr/bin/python3
"""merge_pcaps.py OUT.pcap [--map MAPFILE] [--sflow-drop-qinq|--sflow-drop-v6frag] SRC=FILE[+FILE...] ...

Writes one Ethernet pcap holding the UDP datagrams of every FILE, in the
order given, with the IPv4 source address of each group replaced by SRC (so
that every capture is a separate exporter for nfacctd/sfacctd and its rows
can be told apart by peer_src_ip).  FILE is a pcap (Ethernet, Linux SLL or
raw IPv4; IPv4/UDP datagrams, 802.1Q tags skipped) or a raw datagram (*.dat:
UDP payload only, sent to port 2055 with a timestamp taken from the running
clock of the merged file).  Packets keep their timestamps.  Plain Python, no
scapy: the tests call it on every run.

--sflow-drop-qinq removes from every sFlow v5 datagram the flow samples
(plain and expanded) whose sampled Ethernet header carries two VLAN tags
(0x8100 then 0x8100/0x88a8), fixing the sample count: sfacctd 1.7.7 drops
such samples and we account them (docs/DIFFERENCES.md), so the differential
test feeds both daemons without them.  --sflow-drop-v6frag also removes the
samples of IPv6 fragments (sfacctd 1.7.7 reads their ports from inside the
fragment header).  Prints how many it removed.
"""
import struct
import sys


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def read_pcap(path):
    """yield (sec, usec, udp_sport, udp_dport, payload)"""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise SystemExit("%s: not a classic pcap" % path)
    nsec = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(e + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        usec = frac // 1000 if nsec else frac
        if linktype == 1:
            et, p = struct.unpack("!H", pkt[12:14])[0], 14
            while et in (0x8100, 0x88A8):
                et, p = struct.unpack("!H", pkt[p + 2:p + 4])[0], p + 4
        elif linktype == 113:
            et, p = struct.unpack("!H", pkt[14:16])[0], 16
        elif linktype in (101, 12, 228):
            et, p = 0x0800, 0
        else:
            raise SystemExit("%s: link type %d not handled" % (path, linktype))
        if et != 0x0800 or len(pkt) < p + 20:
            continue
        ip = pkt[p:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 17 or (struct.unpack("!H", ip[6:8])[0] & 0x3FFF):
            continue  # not UDP, or a fragment
        tot = struct.unpack("!H", ip[2:4])[0]
        udp = ip[ihl:tot]
        sport, dport, ulen = struct.unpack("!HHH", udp[:6])
        yield sec, usec, sport, dport, udp[8:ulen]


def _v6frag(h):
    """True when an Ethernet header (any VLAN tags) carries an IPv6 fragment."""
    p, et = 14, h[12:14]
    while et in (b"\x81\x00", b"\x88\xa8") and len(h) >= p + 4:
        et, p = h[p + 2:p + 4], p + 4
    return et == b"\x86\xdd" and len(h) > p + 6 and h[p + 6] == 44


def _qinq_sample(body, expanded, v6frag=False):
    """True when a flow sample body holds a raw Ethernet header with two
    tags (or, with v6frag, an IPv6 fragment)."""
    off = 40 if expanded else 28  # fixed fields before the record count
    if len(body) < off + 4:
        return False
    n = struct.unpack("!I", body[off:off + 4])[0]
    off += 4
    for _ in range(n):
        if len(body) < off + 8:
            return False
        fmt, ln = struct.unpack("!II", body[off:off + 8])
        rec = body[off + 8:off + 8 + ln]
        off += 8 + ln
        if fmt == 1 and len(rec) >= 16 + 18:
            proto = struct.unpack("!I", rec[0:4])[0]
            h = rec[16:]
            if proto == 1 and h[12:14] == b"\x81\x00" and h[16:18] in (b"\x81\x00", b"\x88\xa8"):
                return True
            if proto == 1 and v6frag and _v6frag(h):
                return True
    return False


def sflow_drop_qinq(pl, v6frag=False):
    """(payload without the double-tagged flow samples, samples removed)"""
    if len(pl) < 28 or struct.unpack("!I", pl[0:4])[0] != 5:
        return pl, 0
    at = struct.unpack("!I", pl[4:8])[0]
    hl = 8 + (16 if at == 2 else 4) + 16  # agent, sub id, seq, uptime, count
    if len(pl) < hl:
        return pl, 0
    n = struct.unpack("!I", pl[hl - 4:hl])[0]
    off, keep, dropped = hl, [], 0
    for _ in range(n):
        if len(pl) < off + 8:
            return pl, 0
        fmt, ln = struct.unpack("!II", pl[off:off + 8])
        smp = pl[off:off + 8 + ln]
        off += 8 + ln
        if fmt in (1, 3) and _qinq_sample(smp[8:], fmt == 3, v6frag):
            dropped += 1
        else:
            keep.append(smp)
    if not dropped:
        return pl, 0
    return pl[:hl - 4] + struct.pack("!I", len(keep)) + b"".join(keep) + pl[off:], dropped


def frame(src, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                      bytes(int(x) for x in src.split(".")), bytes([127, 0, 0, 1]))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return b"\x00" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + hdr + udp


def main():
    args = sys.argv[1:]
    out = args.pop(0)
    mapfile, drop_qinq, v6frag, dropped = None, False, False, 0
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--map":
            mapfile = args.pop(0)
        elif opt == "--sflow-drop-qinq":
            drop_qinq = True
        elif opt == "--sflow-drop-v6frag":
            drop_qinq = v6frag = True
        else:
            raise SystemExit("unknown option " + opt)
    recs, maps = [], []
    clock = (1700000000, 0)
    for g in args:
        src, files = g.split("=", 1)
        maps.append("%s %s" % (src, files))
        for fn in files.split("+"):
            if fn.endswith(".dat"):
                with open(fn, "rb") as f:
                    recs.append((clock[0], clock[1], frame(src, 40000, 2055, f.read())))
                clock = (clock[0], clock[1] + 1)
                continue
            for sec, usec, sp, dp, pl in read_pcap(fn):
                if drop_qinq:
                    pl, d = sflow_drop_qinq(pl, v6frag)
                    dropped += d
                recs.append((sec, usec, frame(src, sp, dp, pl)))
                clock = (sec, usec + 1)
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for sec, usec, fr in recs:
            f.write(struct.pack("<IIII", sec, usec, len(fr), len(fr)) + fr)
    if mapfile:
        with open(mapfile, "w") as f:
            f.write("\n".join(maps) + "\n")
    if drop_qinq:
        print("removed %d sFlow samples with two VLAN tags%s" %
              (dropped, " or an IPv6 fragment" if v6frag else ""))


if __name__ == "__main__":
    main()
