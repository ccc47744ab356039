#!/usr/bin/python3
"""Craft sFlow v2/v4/v5 datagrams into pcap savefiles for the sflow module's
tests and for comparing with Debian's sfacctd 1.7.7 (pcap_savefile).

Usage: gen_sflow.py OUTDIR      (writes OUTDIR/<name>.pcap for every case)
Written from the sFlow v5 specification and RFC 3176; no third-party code.
"""
import os
import struct
import sys

from scapy.all import (IP, IPv6, TCP, UDP, ICMP, Ether, Dot1Q, Raw,
                       wrpcap)

u32 = lambda v: struct.pack('>I', v & 0xffffffff)
u64 = lambda v: struct.pack('>Q', v)


def pad4(b):
    return b + b'\0' * ((4 - len(b) % 4) % 4)


def opaque(b):
    return u32(len(b)) + pad4(b)


def addr(a):
    if ':' in a:
        import socket
        return u32(2) + socket.inet_pton(socket.AF_INET6, a)
    import socket
    return u32(1) + socket.inet_aton(a)


def rec(fmt, data, ent=0):
    return u32((ent << 12) | fmt) + opaque(data)


# ---- v5 flow records ------------------------------------------------------
def r_header(pkt, proto=1, frame_len=None, stripped=4, hdr_len=128):
    raw = bytes(pkt)
    if frame_len is None:
        frame_len = len(raw) + stripped
    return rec(1, u32(proto) + u32(frame_len) + u32(stripped) + opaque(raw[:hdr_len]))


def r_eth(length, src, dst, etype):
    m = lambda s: bytes.fromhex(s.replace(':', '')) + b'\0\0'
    return rec(2, u32(length) + m(src) + m(dst) + u32(etype))


def r_ipv4(length, proto, src, dst, sport, dport, flags, tos):
    import socket
    return rec(3, u32(length) + u32(proto) + socket.inet_aton(src) + socket.inet_aton(dst)
               + u32(sport) + u32(dport) + u32(flags) + u32(tos))


def r_ipv6(length, proto, src, dst, sport, dport, flags, prio):
    import socket
    return rec(4, u32(length) + u32(proto) + socket.inet_pton(socket.AF_INET6, src)
               + socket.inet_pton(socket.AF_INET6, dst) + u32(sport) + u32(dport)
               + u32(flags) + u32(prio))


def r_switch(svlan, sprio, dvlan, dprio):
    return rec(1001, u32(svlan) + u32(sprio) + u32(dvlan) + u32(dprio))


def r_router(nh, smask, dmask):
    return rec(1002, addr(nh) + u32(smask) + u32(dmask))


def r_gateway(nh, asn, src_as, src_peer_as, segs, comms, lpref):
    d = addr(nh) + u32(asn) + u32(src_as) + u32(src_peer_as) + u32(len(segs))
    for t, path in segs:
        d += u32(t) + u32(len(path)) + b''.join(u32(a) for a in path)
    d += u32(len(comms)) + b''.join(u32(c) for c in comms) + u32(lpref)
    return rec(1003, d)


def r_user(src, dst):
    return rec(1004, u32(106) + opaque(src.encode()) + u32(106) + opaque(dst.encode()))


def r_url(direction, url, host):
    return rec(1005, u32(direction) + opaque(url.encode()) + opaque(host.encode()))


def r_mpls(nh, instack, outstack):
    return rec(1006, addr(nh) + u32(len(instack)) + b''.join(u32(x) for x in instack)
               + u32(len(outstack)) + b''.join(u32(x) for x in outstack))


def r_nat(src, dst):
    return rec(1007, addr(src) + addr(dst))


def r_vni(fmt, vni):
    return rec(fmt, u32(vni))


# ---- v5 samples -----------------------------------------------------------
def flow_sample(records, seq=1, src_id=(0, 3), rate=1000, pool=0, drops=0,
                inp=3, out=4):
    d = (u32(seq) + u32((src_id[0] << 24) | src_id[1]) + u32(rate) + u32(pool)
         + u32(drops) + u32(inp) + u32(out) + u32(len(records)) + b''.join(records))
    return u32(1) + opaque(d)


def flow_sample_exp(records, seq=1, src_id=(0, 3), rate=1000, pool=0, drops=0,
                    inp=(0, 3), out=(0, 4)):
    d = (u32(seq) + u32(src_id[0]) + u32(src_id[1]) + u32(rate) + u32(pool)
         + u32(drops) + u32(inp[0]) + u32(inp[1]) + u32(out[0]) + u32(out[1])
         + u32(len(records)) + b''.join(records))
    return u32(3) + opaque(d)


def c_generic(ifindex, speed=1000000000, in_oct=1000, out_oct=2000):
    d = (u32(ifindex) + u32(6) + u64(speed) + u32(1) + u32(3) + u64(in_oct)
         + u32(10) + u32(11) + u32(12) + u32(13) + u32(14) + u32(15) + u64(out_oct)
         + u32(20) + u32(21) + u32(22) + u32(23) + u32(24) + u32(0))
    return rec(1, d)


def c_ethernet():
    return rec(2, b''.join(u32(i) for i in range(1, 14)))


def c_vlan(vlan):
    return rec(5, u32(vlan) + u64(5000) + u32(1) + u32(2) + u32(3) + u32(4))


def c_proc():
    return rec(1001, u32(10) + u32(20) + u32(30) + u64(8 << 30) + u64(4 << 30))


def counter_sample(records, seq=1, src_id=(0, 3)):
    d = u32(seq) + u32((src_id[0] << 24) | src_id[1]) + u32(len(records)) + b''.join(records)
    return u32(2) + opaque(d)


def counter_sample_exp(records, seq=1, src_id=(0, 3)):
    d = u32(seq) + u32(src_id[0]) + u32(src_id[1]) + u32(len(records)) + b''.join(records)
    return u32(4) + opaque(d)


def dgram5(samples, agent='192.0.2.1', sub=0, seq=1, uptime=123456):
    return u32(5) + addr(agent) + u32(sub) + u32(seq) + u32(uptime) + u32(len(samples)) + b''.join(samples)


# ---- v2/v4 ----------------------------------------------------------------
def v4_flow(pkt_data, ext, seq=1, src_id=(0, 3), rate=500, pool=0, drops=0,
            inp=3, out=4):
    d = (u32(seq) + u32((src_id[0] << 24) | src_id[1]) + u32(rate) + u32(pool)
         + u32(drops) + u32(inp) + u32(out) + pkt_data + u32(len(ext)) + b''.join(ext))
    return u32(1) + d


def v4_header(pkt, proto=1, frame_len=None):
    raw = bytes(pkt)
    if frame_len is None:
        frame_len = len(raw) + 4
    return u32(1) + u32(proto) + u32(frame_len) + opaque(raw[:128])


def v4_ipv4(length, proto, src, dst, sport, dport, flags, tos):
    import socket
    return (u32(2) + u32(length) + u32(proto) + socket.inet_aton(src) + socket.inet_aton(dst)
            + u32(sport) + u32(dport) + u32(flags) + u32(tos))


def v4_switch(svlan, sprio, dvlan, dprio):
    return u32(1) + u32(svlan) + u32(sprio) + u32(dvlan) + u32(dprio)


def v4_router(nh, smask, dmask):
    return u32(2) + addr(nh) + u32(smask) + u32(dmask)


def v4_gateway(version, asn, src_as, src_peer_as, segs, comms, lpref):
    d = u32(3) + u32(asn) + u32(src_as) + u32(src_peer_as)
    if version < 4:
        path = [a for _, p in segs for a in p]
        return d + u32(len(path)) + b''.join(u32(a) for a in path)
    d += u32(len(segs))
    for t, path in segs:
        d += u32(t) + u32(len(path)) + b''.join(u32(a) for a in path)
    return d + u32(len(comms)) + b''.join(u32(c) for c in comms) + u32(lpref)


def v4_counter_generic(ifindex, seq=1):
    body = (u32(ifindex) + u32(6) + u64(100000000) + u32(1) + u32(3) + u64(1000)
            + u32(10) + u32(11) + u32(12) + u32(13) + u32(14) + u32(15) + u64(2000)
            + u32(20) + u32(21) + u32(22) + u32(23) + u32(24) + u32(0))
    return u32(2) + u32(seq) + u32(ifindex) + u32(30) + u32(1) + body


def dgram4(samples, version=4, agent='192.0.2.2', seq=1, uptime=5000):
    return u32(version) + addr(agent) + u32(seq) + u32(uptime) + u32(len(samples)) + b''.join(samples)


# ---- packets --------------------------------------------------------------
M1, M2 = '00:11:22:33:44:55', '66:77:88:99:aa:bb'


def p_tcp4(src='10.0.0.1', dst='10.0.0.2', sport=1234, dport=80, flags='S', tos=0, plen=100, vlan=None):
    l2 = Ether(src=M1, dst=M2)
    if vlan is not None:
        l2 = l2 / Dot1Q(vlan=vlan, prio=5)
    return l2 / IP(src=src, dst=dst, tos=tos) / TCP(sport=sport, dport=dport, flags=flags) / Raw(b'x' * plen)


def p_udp6(src='2001:db8::1', dst='2001:db8::2', sport=5353, dport=53, tc=0x28, plen=60):
    return Ether(src=M1, dst=M2) / IPv6(src=src, dst=dst, tc=tc) / UDP(sport=sport, dport=dport) / Raw(b'y' * plen)


def udp_frame(payload, agent='192.0.2.1', t=1700000000.0):
    af6 = ':' in agent
    l3 = IPv6(src=agent, dst='2001:db8::ff') if af6 else IP(src=agent, dst='192.0.2.254')
    p = Ether(src='02:00:00:00:00:01', dst='02:00:00:00:00:02') / l3 / UDP(sport=40000, dport=6343) / Raw(payload)
    p.time = t
    return p


def cases():
    c = {}
    gw = r_gateway('198.51.100.1', 65000, 64500, 64501, [(2, [64501, 64502, 64503])],
                   [(65000 << 16) | 100, (65000 << 16) | 200], 150)
    c['v5_basic'] = [dgram5([
        flow_sample([r_switch(10, 3, 20, 4), r_header(p_tcp4()), r_router('203.0.113.1', 24, 16), gw],
                    seq=7, rate=1000),
        flow_sample([r_header(p_tcp4(vlan=30, src='10.0.0.3', flags='PA', tos=0x20))], seq=8, rate=1000, inp=5, out=6),
    ], seq=100)]
    # header VLAN vs extended switch VLAN, switch first and switch after
    c['v5_vlan'] = [dgram5([
        flow_sample([r_header(p_tcp4(vlan=30)), r_switch(40, 1, 50, 2)], seq=1),
        flow_sample([r_switch(40, 1, 50, 2), r_header(p_tcp4(vlan=31))], seq=2),
        flow_sample([r_switch(0, 0, 50, 2), r_header(p_tcp4(vlan=32))], seq=3),
    ])]
    # gateway before router, router before gateway; nexthops
    c['v5_nexthop'] = [dgram5([
        flow_sample([r_header(p_tcp4(src='10.1.0.1')), r_gateway('198.51.100.1', 1, 2, 3, [(2, [3, 4])], [], 0),
                     r_router('203.0.113.1', 8, 9)], seq=1),
        flow_sample([r_header(p_tcp4(src='10.1.0.2')), r_router('203.0.113.2', 8, 9),
                     r_gateway('198.51.100.2', 1, 2, 3, [(2, [3, 4])], [], 0)], seq=2),
        flow_sample([r_header(p_tcp4(src='10.1.0.3')), r_router('203.0.113.3', 10, 11)], seq=3),
        flow_sample([r_header(p_tcp4(src='10.1.0.4')), r_router('2001:db8::99', 10, 11)], seq=4),
    ])]
    c['v5_aspath'] = [dgram5([
        flow_sample([r_header(p_tcp4(src='10.2.0.1')), r_gateway('198.51.100.1', 65000, 64500, 64501,
                     [(2, [64501, 64502]), (1, [64510, 64511]), (2, [4200000000])], [1, 0xffffff01, (3 << 16) | 4], 200)], seq=1),
        flow_sample([r_header(p_tcp4(src='10.2.0.2')), r_gateway('198.51.100.1', 65000, 0, 0, [], [], 0)], seq=2),
        flow_sample([r_header(p_tcp4(src='10.2.0.3')), r_gateway('198.51.100.1', 65000, 7, 8, [(1, [9, 10])], [], 0)], seq=3),
    ])]
    c['v5_expanded'] = [dgram5([
        flow_sample_exp([r_header(p_tcp4(src='10.3.0.1'))], src_id=(0, 70000), inp=(0, 70000), out=(0, 70001), rate=2048),
        flow_sample_exp([r_header(p_tcp4(src='10.3.0.2'))], inp=(0, 5), out=(1, 258), rate=2048),
        flow_sample_exp([r_header(p_tcp4(src='10.3.0.3'))], inp=(0, 5), out=(2, 7), rate=2048),
        flow_sample_exp([r_header(p_tcp4(src='10.3.0.4'))], inp=(0, 0x3fffffff), out=(0, 0x3fffffff), rate=2048),
    ], sub=3)]
    c['v5_ifformat'] = [dgram5([
        flow_sample([r_header(p_tcp4(src='10.4.0.1'))], inp=7, out=(1 << 30) | 258),
        flow_sample([r_header(p_tcp4(src='10.4.0.2'))], inp=7, out=(2 << 30) | 3),
        flow_sample([r_header(p_tcp4(src='10.4.0.3'))], inp=0x3fffffff, out=0x3fffffff),
        flow_sample([r_header(p_tcp4(src='10.4.0.4'))], inp=(3 << 30) | 5, out=9),
    ])]
    c['v5_sampled_ip'] = [dgram5([
        flow_sample([r_ipv4(500, 6, '10.5.0.1', '10.5.0.2', 1000, 2000, 0x12, 0x28)], seq=1),
        flow_sample([r_ipv6(600, 17, '2001:db8::5', '2001:db8::6', 3000, 4000, 0, 0x2e)], seq=2),
        flow_sample([r_eth(700, M1, M2, 0x0800)], seq=3),
        flow_sample([r_eth(700, M1, M2, 0x0800), r_ipv4(680, 17, '10.5.0.3', '10.5.0.4', 1, 2, 0, 0)], seq=4),
        flow_sample([r_header(p_tcp4(src='10.5.0.5')), r_ipv4(680, 17, '10.5.0.6', '10.5.0.7', 1, 2, 0, 0)], seq=5),
        flow_sample([r_ipv4(680, 17, '10.5.0.8', '10.5.0.9', 1, 2, 0, 0), r_header(p_tcp4(src='10.5.0.10'))], seq=6),
    ])]
    c['v5_ipv6'] = [dgram5([
        flow_sample([r_header(p_udp6())], seq=1),
        flow_sample([r_header(bytes(p_udp6(src='2001:db8::7'))[14:], proto=12)], seq=2),
        flow_sample([r_header(bytes(p_tcp4(src='10.6.0.1'))[14:], proto=11)], seq=3),
    ], agent='2001:db8::a', sub=9, seq=55)]
    c['v5_misc'] = [dgram5([
        flow_sample([r_header(p_tcp4(src='10.7.0.1')), r_user('alice', 'bob'), r_url(1, '/index.html', 'example.com'),
                     r_mpls('192.0.2.9', [100 << 12 | 1 << 8, 200 << 12], [300 << 12]),
                     r_nat('100.64.0.1', '100.64.0.2'), r_vni(1027, 4242)], seq=1),
        flow_sample([rec(1, b'\0' * 8, ent=9), r_header(p_tcp4(src='10.7.0.2'))], seq=2),
    ])]
    c['v5_counters'] = [dgram5([
        counter_sample([c_generic(3), c_ethernet()], seq=1),
        flow_sample([r_header(p_tcp4(src='10.8.0.1'))], seq=2),
        counter_sample([c_vlan(100), c_proc()], seq=3, src_id=(1, 100)),
        counter_sample_exp([c_generic(70000)], seq=4, src_id=(0, 70000)),
    ], seq=10)]
    c['v5_seqgap'] = [dgram5([flow_sample([r_header(p_tcp4(src='10.9.0.1'))])], seq=1),
                      dgram5([flow_sample([r_header(p_tcp4(src='10.9.0.1'))])], seq=2),
                      dgram5([flow_sample([r_header(p_tcp4(src='10.9.0.1'))])], seq=5),
                      dgram5([flow_sample([r_header(p_tcp4(src='10.9.0.1'))])], seq=6, agent='192.0.2.7')]
    c['v4'] = [dgram4([
        v4_flow(v4_header(p_tcp4(src='10.10.0.1')), [v4_switch(11, 1, 12, 2), v4_router('203.0.113.4', 24, 25),
                v4_gateway(4, 65000, 64500, 64501, [(2, [64501, 64502])], [(1 << 16) | 2], 100)]),
        v4_counter_generic(3),
        v4_flow(v4_ipv4(300, 17, '10.10.0.2', '10.10.0.3', 53, 5353, 0, 8), []),
    ], version=4)]
    c['v2'] = [dgram4([
        v4_flow(v4_header(p_tcp4(src='10.11.0.1')), [v4_gateway(2, 65000, 64500, 64501, [(2, [64501, 64502])], [], 0)]),
        v4_flow(v4_ipv4(300, 17, '10.11.0.2', '10.11.0.3', 53, 5353, 0, 8), [v4_switch(11, 1, 12, 2)]),
    ], version=2, agent='192.0.2.3')]
    c['v5_edge'] = [dgram5([
        flow_sample([r_switch(0, 0, 0, 0), r_header(p_tcp4(src='10.13.0.1', vlan=33))], seq=1),
        flow_sample([r_header(p_tcp4(src='10.13.0.2')), r_gateway('0.0.0.0', 1, 2, 3, [(2, [5])],
                     [0xffffff02, 0xffffff03, 0xffffff04, 0xffff029a, 0xffff0000, 65535], 0)], seq=2),
        flow_sample([r_header(p_tcp4(src='10.13.0.3')), r_gateway('2001:db8::1', 1, 2, 3, [], [], 7)], seq=3),
        flow_sample([r_header(p_udp6(src='2001:db8::13')), r_gateway('2001:db8::1', 1, 2, 3, [], [], 7)], seq=4),
        flow_sample([r_header(p_udp6(src='2001:db8::14')), r_gateway('198.51.100.9', 1, 2, 3, [], [], 7)], seq=5),
        flow_sample([r_switch(0, 0, 7, 6), r_header(p_tcp4(src='10.13.0.6'))], seq=6),
    ])]
    c['v5_truncated'] = [dgram5([flow_sample([r_header(p_tcp4(src='10.12.0.1'))], seq=1),
                                 flow_sample([r_header(p_tcp4(src='10.12.0.2'))], seq=2)])[:-40],
                         u32(3) + b'\0' * 20,
                         dgram5([flow_sample([r_header(p_tcp4(src='10.12.0.3'))], seq=3)], seq=2)]
    return c


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else '.'
    os.makedirs(out, exist_ok=True)
    for name, dgrams in cases().items():
        frames = []
        t = 1700000000.0
        for d in dgrams:
            agent = '192.0.2.1'
            # agent of the UDP sender: same as the datagram's agent address
            ver = struct.unpack('>I', d[:4])[0]
            if len(d) >= 12 and ver in (2, 4, 5):
                at = struct.unpack('>I', d[4:8])[0]
                if at == 1:
                    agent = '.'.join(str(x) for x in d[8:12])
                elif at == 2 and len(d) >= 24:
                    import socket
                    agent = socket.inet_ntop(socket.AF_INET6, d[8:24])
            frames.append(udp_frame(d, agent, t))
            t += 1
        wrpcap(os.path.join(out, name + '.pcap'), frames)


if __name__ == '__main__':
    main()
