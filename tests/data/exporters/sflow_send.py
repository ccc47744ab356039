#!/usr/bin/env python3
"""sflow_send.py PCAP HOST PORT SRC NPORTS - replay the sFlow datagrams
(UDP payloads) of PCAP to HOST:PORT as agent SRC: the socket is bound to
SRC (a loopback address such as 127.0.0.2) and every sFlow v5 datagram
with an IPv4 agent has its agent address rewritten to SRC, so several
senders replaying one capture are distinct agents.  Datagrams go out in
file order, each from the next of NPORTS source ports in turn (a steering
by 4-tuple would split one agent over several receivers).  Paced at about
20000 datagrams/s.  Prints "sent N datagrams".
"""
import importlib.util
import os
import socket
import struct
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "ipfix_stream_send", os.path.join(here, "ipfix_stream_send.py"))
iss = importlib.util.module_from_spec(spec)
spec.loader.exec_module(iss)


def main(argv):
    if len(argv) != 6:
        raise SystemExit(__doc__)
    pcap, host, port, src, nports = argv[1], argv[2], int(argv[3]), argv[4], int(argv[5])
    agent = socket.inet_aton(src)
    socks = []
    for _ in range(nports):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        socks.append(s)
    n, t0 = 0, time.monotonic()
    for pl in iss.pcap_payloads(pcap):
        if len(pl) >= 12 and struct.unpack("!II", pl[:8]) == (5, 1):
            pl = pl[:8] + agent + pl[12:]
        socks[n % nports].sendto(pl, (host, port))
        n += 1
        ahead = n / 20000.0 - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    print("sent %d datagrams" % n)


if __name__ == "__main__":
    main(sys.argv)
