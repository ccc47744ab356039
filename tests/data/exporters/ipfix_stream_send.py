#!/usr/bin/env python3
"""ipfix_stream_send.py - an IPFIX exporter over TCP or SCTP for the tests
(RFC 7011 10.4 / 10.2): writes the IPFIX messages (UDP payloads of
version 10) of a pcap capture as one byte stream on one connection.

  send [--sctp] [--chunks SEED] [--strip-templates] PCAP HOST PORT
      every IPFIX message of PCAP in order; with --chunks the stream is
      written in pieces of random sizes (1..1500 bytes, seeded) so that
      messages are split across reads; --strip-templates removes template
      and options template sets (set ids 2, 3) from every message (its
      length rewritten), to check templates are scoped per connection.
      Waits until the collector has read everything and closes.
      Prints "sent N messages, B bytes".
  raw [--sctp] HOST PORT HEX
      writes the bytes of HEX, ends its side of the stream, then waits (5 s at most) for the collector
      to close the connection.  Prints "closed by the collector" or
      "still open".
"""
import random
import socket
import struct
import sys
import time


def pcap_payloads(path):
    """UDP payloads of an Ethernet/IPv4|IPv6 pcap, in order."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        end = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        end = ">"
    else:
        raise SystemExit("%s: not a pcap file" % path)
    dlt = struct.unpack(end + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if dlt == 1:
            et = struct.unpack(">H", pkt[12:14])[0]
            l3 = 14
            while et in (0x8100, 0x88A8):
                et = struct.unpack(">H", pkt[l3 + 2:l3 + 4])[0]
                l3 += 4
        elif dlt == 113:
            et, l3 = struct.unpack(">H", pkt[14:16])[0], 16
        else:
            raise SystemExit("%s: link type %d not handled" % (path, dlt))
        if et == 0x0800 and pkt[l3 + 9] == 17:
            l4 = l3 + (pkt[l3] & 15) * 4
        elif et == 0x86DD and pkt[l3 + 6] == 17:
            l4 = l3 + 40
        else:
            continue
        ulen = struct.unpack(">H", pkt[l4 + 4:l4 + 6])[0]
        yield pkt[l4 + 8:l4 + ulen]


def strip_templates(msg):
    out, off = [msg[:16]], 16
    while off + 4 <= len(msg):
        sid, slen = struct.unpack(">HH", msg[off:off + 4])
        if slen < 4:
            break
        if sid not in (2, 3):
            out.append(msg[off:off + slen])
        off += slen
    body = b"".join(out)
    return body[:2] + struct.pack(">H", len(body)) + body[4:]


def connect(host, port, sctp):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM,
                      socket.IPPROTO_SCTP if sctp else socket.IPPROTO_TCP)
    s.connect((host, port))
    return s


def wait_closed(s, secs):
    """True once the collector closed: EOF on TCP; on SCTP, whose recv()
    keeps timing out after a shutdown we began, the association gone
    (getsockopt SCTP_STATUS refused: no association)."""
    s.settimeout(0.1)
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            if s.recv(1) == b"":
                return True
        except socket.timeout:
            if s.proto == socket.IPPROTO_SCTP:
                try:
                    s.getsockopt(socket.IPPROTO_SCTP, 14, 200)  # SCTP_STATUS
                except OSError:
                    return True
            continue
        except OSError:
            return True
    return False


def main(argv):
    sctp = "--sctp" in argv
    argv = [a for a in argv if a != "--sctp"]
    if len(argv) < 2:
        raise SystemExit(__doc__)
    if argv[1] == "send":
        args, seed, strip = argv[2:], None, False
        while args and args[0].startswith("--"):
            if args[0] == "--chunks":
                seed, args = int(args[1]), args[2:]
            elif args[0] == "--strip-templates":
                strip, args = True, args[1:]
            else:
                raise SystemExit("unknown option " + args[0])
        pcap, host, port = args[0], args[1], int(args[2])
        msgs = [p for p in pcap_payloads(pcap)
                if len(p) >= 16 and p[0:2] == b"\x00\x0a"]
        if strip:
            msgs = [strip_templates(m) for m in msgs]
        stream = b"".join(msgs)
        s = connect(host, port, sctp)
        if seed is None or sctp:
            for m in msgs:  # SCTP: one message per send (RFC 7011 10.2)
                s.sendall(m)
        else:
            rnd, off = random.Random(seed), 0
            while off < len(stream):
                n = rnd.randint(1, 1500)
                s.sendall(stream[off:off + n])
                off += n
        s.shutdown(socket.SHUT_WR)
        # the collector closes after reading our end of stream
        if not wait_closed(s, 30):
            raise SystemExit("the collector did not close the connection")
        s.close()
        print("sent %d messages, %d bytes" % (len(msgs), len(stream)))
    elif argv[1] == "raw":
        host, port, hx = argv[2], int(argv[3]), argv[4]
        s = connect(host, port, sctp)
        s.sendall(bytes.fromhex(hx))
        s.shutdown(socket.SHUT_WR)
        print("closed by the collector" if wait_closed(s, 5) else "still open")
        s.close()
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
