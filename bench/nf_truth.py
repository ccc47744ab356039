#!/usr/bin/env python3
"""nf_truth.py PCAP - the packets and records an export holds: the sum of the
packet counters (IE 2, packetDeltaCount / IN_PKTS) of every NetFlow v5/v9
or IPFIX data record in the UDP datagrams of PCAP, and the number of those
records.  Prints "PACKETS RECORDS".

Why not tshark: its NetFlow dissector stops at the record count of the v9
header, and softflowd 1.1.0 writes count = 1 in the datagrams where it
refreshes its templates although data flowsets follow them (one datagram
of bench/nf_replay.sh's export: tshark summed 999,999 packets of the
1,000,000 softflowd exported).  This walks every flowset to the end of the
datagram, as a collector does.  Independent of the collector's own decoder
(written from RFC 3954 / RFC 7011, no shared code), so it can be the truth
the benchmark compares the daemons' counts with.
"""
import struct
import sys


def payloads(path):
    with open(path, 'rb') as f:
        gh = f.read(24)
        if len(gh) < 24:
            return
        magic = gh[:4]
        if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
            end = '<'
        elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
            end = '>'
        else:
            raise SystemExit('%s: not a pcap file' % path)
        link = struct.unpack(end + 'I', gh[20:24])[0]
        while True:
            ph = f.read(16)
            if len(ph) < 16:
                return
            caplen = struct.unpack(end + 'I', ph[8:12])[0]
            pkt = f.read(caplen)
            if link == 1:  # Ethernet
                off, et = 14, struct.unpack('>H', pkt[12:14])[0]
                while et in (0x8100, 0x88a8) and len(pkt) >= off + 4:
                    et = struct.unpack('>H', pkt[off + 2:off + 4])[0]
                    off += 4
            elif link == 113:  # Linux cooked
                off, et = 16, struct.unpack('>H', pkt[14:16])[0]
            elif link == 0:  # BSD loopback
                fam = struct.unpack(end + 'I', pkt[:4])[0]
                off, et = 4, 0x0800 if fam == 2 else 0x86dd
            elif link in (101, 12, 14):  # raw IP
                off, et = 0, 0x0800 if pkt[0] >> 4 == 4 else 0x86dd
            else:
                raise SystemExit('%s: link type %d not handled' % (path, link))
            if et == 0x0800:
                ihl = (pkt[off] & 15) * 4
                if pkt[off + 9] != 17:
                    continue
                off += ihl
            elif et == 0x86dd:
                if pkt[off + 6] != 17:
                    continue
                off += 40
            else:
                continue
            ulen = struct.unpack('>H', pkt[off + 4:off + 6])[0]
            yield pkt[off + 8:off + ulen]


def field_list(b, pos, count, ipfix):
    """Template fields from b[pos]: [(ie, pen, len)], new position."""
    fields = []
    for _ in range(count):
        ie, ln = struct.unpack('>HH', b[pos:pos + 4])
        pos += 4
        pen = 0
        if ipfix and ie & 0x8000:
            ie &= 0x7fff
            pen = struct.unpack('>I', b[pos:pos + 4])[0]
            pos += 4
        fields.append((ie, pen, ln))
    return fields, pos


def data_records(b, pos, end, fields):
    """(packets, records) of the records of a data set."""
    pk = recs = 0
    minlen = sum(ln if ln != 65535 else 1 for _, _, ln in fields)
    if minlen == 0:
        return 0, 0
    while end - pos >= minlen:
        p = None
        for ie, pen, ln in fields:
            if ln == 65535:
                ln = b[pos]
                pos += 1
                if ln == 255:
                    ln = struct.unpack('>H', b[pos:pos + 2])[0]
                    pos += 2
            if ie == 2 and pen == 0 and p is None:
                p = int.from_bytes(b[pos:pos + ln], 'big')
            pos += ln
        if pos > end:
            break
        recs += 1
        pk += p or 0
    return pk, recs


def main():
    if len(sys.argv) != 2:
        raise SystemExit('usage: nf_truth.py PCAP')
    templates = {}
    packets = records = 0
    for b in payloads(sys.argv[1]):
        if len(b) < 4:
            continue
        ver = struct.unpack('>H', b[:2])[0]
        if ver == 5:
            n = struct.unpack('>H', b[2:4])[0]
            for i in range(n):
                o = 24 + 48 * i
                if o + 48 > len(b):
                    break
                packets += struct.unpack('>I', b[o + 16:o + 20])[0]
                records += 1
            continue
        if ver not in (9, 10):
            continue
        ipfix = ver == 10
        if ipfix:
            end = min(len(b), struct.unpack('>H', b[2:4])[0])
            domain = struct.unpack('>I', b[12:16])[0]
            pos = 16
        else:
            end = len(b)
            domain = struct.unpack('>I', b[16:20])[0]
            pos = 20
        while end - pos >= 4:
            sid, slen = struct.unpack('>HH', b[pos:pos + 4])
            if slen < 4 or pos + slen > end:
                break
            s, e = pos + 4, pos + slen
            if sid == (2 if ipfix else 0):
                while e - s >= 4:
                    tid, cnt = struct.unpack('>HH', b[s:s + 4])
                    f, s = field_list(b, s + 4, cnt, ipfix)
                    templates[(domain, tid)] = f
            elif sid == (3 if ipfix else 1):
                pass  # options templates: no flow data
            elif sid >= 256 and (domain, sid) in templates:
                p, r = data_records(b, s, e, templates[(domain, sid)])
                packets += p
                records += r
            pos = e
    print(packets, records)


if __name__ == '__main__':
    main()
