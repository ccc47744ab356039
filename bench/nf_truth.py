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
import os
import struct
import sys

# the UDP payloads of a pcap (Ethernet, Linux SLL or raw IPv4), as the
# tests' capture merger reads them
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'tests', 'data', 'exporters'))
from merge_pcaps import read_pcap  # noqa: E402


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
    for _sec, _usec, _sport, _dport, b in read_pcap(sys.argv[1]):
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
