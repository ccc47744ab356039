#!/usr/bin/python3
"""Generate tests/data/client/sample.pcap: a small deterministic capture
(IPv4 TCP/UDP/ICMP and IPv6 between a handful of hosts) used by the client
golden tests.  Run: python3 gen_pcap.py sample.pcap"""
import sys
from scapy.all import Ether, IP, IPv6, TCP, UDP, ICMP, Raw, wrpcap

pkts = []
t = 1700000000.0
def add(p, n=1):
    global t
    for _ in range(n):
        p.time = t
        t += 0.01
        pkts.append(p)

E = Ether(src="00:11:22:33:44:55", dst="66:77:88:99:aa:bb")
add(E/IP(src="10.0.0.1", dst="10.0.0.2")/TCP(sport=12345, dport=80, flags="S"), 3)
add(E/IP(src="10.0.0.2", dst="10.0.0.1")/TCP(sport=80, dport=12345, flags="SA")/Raw(b"x"*100), 5)
add(E/IP(src="10.0.0.1", dst="192.168.1.10")/UDP(sport=5353, dport=53)/Raw(b"q"*30), 2)
add(E/IP(src="192.168.1.10", dst="10.0.0.1")/UDP(sport=53, dport=5353)/Raw(b"r"*300), 2)
add(E/IP(src="10.0.0.3", dst="10.0.0.1")/ICMP()/Raw(b"p"*56), 4)
add(E/IP(src="172.16.5.4", dst="10.0.0.2")/TCP(sport=443, dport=40000, flags="A")/Raw(b"z"*1000), 7)
add(E/IPv6(src="2001:db8::1", dst="2001:db8::2")/TCP(sport=2222, dport=22, flags="PA")/Raw(b"s"*64), 3)
add(E/IPv6(src="2001:db8::2", dst="2001:db8::1")/UDP(sport=123, dport=123)/Raw(b"n"*48), 1)
add(E/IP(src="10.0.0.1", dst="10.0.0.2")/TCP(sport=12346, dport=80, flags="S"), 1)
wrpcap(sys.argv[1], pkts)
