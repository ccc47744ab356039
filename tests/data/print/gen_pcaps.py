#!/usr/bin/python3
# Regenerates the captures of tests/data/print (needs scapy).  Deterministic:
# fixed timestamps, addresses and payload sizes.
from scapy.all import Ether, IP, IPv6, TCP, UDP, ICMP, Raw, wrpcap

T = 1700000000.0
E = dict(src="00:11:22:33:44:55", dst="66:77:88:99:aa:bb")

def small():
    pk = []
    for i in range(20):
        p = (Ether(**E) / IP(src="10.0.0.%d" % (1 + i % 3), dst="192.168.1.%d" % (1 + i % 2))
             / TCP(sport=1000 + i % 2, dport=80) / Raw(b"x" * (10 * i)))
        p.time = T + i * 0.5
        pk.append(p)
    for i in range(5):
        p = Ether(**E) / IP(src="10.0.0.9", dst="10.0.0.10") / UDP(sport=53, dport=5353) / Raw(b"y" * i)
        p.time = T + i
        pk.append(p)
    p = Ether(**E) / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=1, dport=2)
    p.time = T + 3
    pk.append(p)
    p = Ether(**E) / IP(src="10.0.0.1", dst="10.0.0.2") / ICMP()
    p.time = T + 4
    pk.append(p)
    wrpcap("small.pcap", pk)

def span():
    # 12 packets over 4 minutes: 4 one-minute time bins.  pmacct 1.7.7 puts a
    # packet stamped exactly on a bin boundary into the previous bin.
    pk = []
    for i in range(12):
        p = Ether(**E) / IP(src="10.0.0.%d" % (1 + i % 2), dst="10.1.0.1") / UDP(sport=1, dport=2) / Raw(b"x" * i)
        p.time = T + 5 + i * 20  # no packet on a minute boundary
        pk.append(p)
    wrpcap("span.pcap", pk)

small()
span()
