#!/usr/bin/env python3
"""mongo_server.py - a small MongoDB wire-protocol server for the mongodb
output's tests (Python 3 stdlib only).  Not a database: documents are kept
in memory per "db.collection" and dumped as JSON for the test to check.

Speaks what libmongoc 1.23 sends: the legacy OP_QUERY handshake on
admin.$cmd (isMaster / hello, answered with OP_REPLY), then OP_MSG (body
section kind 0 and document sequences kind 1; the optional checksum is
skipped).  Commands: hello, isMaster/ismaster, ping, buildInfo, insert,
find (top-level equality filter; one batch, cursor id 0), createIndexes,
listIndexes, endSessions, and, with --user, SCRAM-SHA-256 (saslStart /
saslContinue; every other command but the handshake and ping needs an
authenticated connection, else error 13 Unauthorized).

  mongo_server.py --port-file F [--port N] [--dump F.json] [--log F]
                  [--user U --password P] [--crash-after N]
                  [--reject FIELD=VALUE]

--port 0 (default) binds a free loopback port; the port is written to
--port-file once listening.  --dump: the whole state
{"db.coll": {"docs": [...], "indexes": [...]}} is rewritten (atomically)
at most every 0.2 s after a change and at exit (SIGTERM/SIGINT), and
loaded at start when the file exists, so a restarted server keeps what it
had.  --crash-after N: the N-th insert is stored (and dumped), then the
server exits (status 3) without answering it, as a crash between the write
and its acknowledgement would.  --reject FIELD=VALUE: an insert stops at the
first document whose FIELD (as text) is VALUE and answers a write error for
it (code 121, as a failed validation of an ordered insert).  In the dump, BSON types are written in MongoDB Extended JSON style:
int64 {"$numberLong": "N"}, date {"$date": ms}, ObjectId {"$oid": hex};
int32, double, string, bool and null as plain JSON.

Threads: one per connection plus a dump thread; the store is under a lock.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import struct
import sys
import threading
import time

OP_REPLY, OP_QUERY, OP_MSG, OP_COMPRESSED = 1, 2004, 2013, 2012


class Int64(int):
    """An int that encodes as BSON int64."""


class Date(int):
    """Milliseconds since the epoch, encodes as a BSON UTC datetime."""


class ObjectId(bytes):
    pass


# ---- BSON ---------------------------------------------------------------

def _cstring(b, i):
    j = b.index(b"\x00", i)
    return b[i:j].decode("utf-8"), j + 1


def bson_decode(b, i=0):
    """Decode the document at b[i:]; returns (dict, end)."""
    (size,) = struct.unpack_from("<i", b, i)
    if size < 5 or i + size > len(b) or b[i + size - 1] != 0:
        raise ValueError("bad document size %d" % size)
    end = i + size - 1
    i += 4
    doc = {}
    while i < end:
        t = b[i]
        i += 1
        name, i = _cstring(b, i)
        if t == 0x01:
            (v,) = struct.unpack_from("<d", b, i)
            i += 8
        elif t == 0x02:
            (n,) = struct.unpack_from("<i", b, i)
            v = b[i + 4:i + 4 + n - 1].decode("utf-8")
            i += 4 + n
        elif t in (0x03, 0x04):
            v, i = bson_decode(b, i)
            if t == 0x04:
                v = [v[k] for k in v]
        elif t == 0x05:
            (n,) = struct.unpack_from("<i", b, i)
            v = bytes(b[i + 5:i + 5 + n])
            i += 5 + n
        elif t == 0x07:
            v = ObjectId(b[i:i + 12])
            i += 12
        elif t == 0x08:
            v = b[i] != 0
            i += 1
        elif t == 0x09:
            (v,) = struct.unpack_from("<q", b, i)
            v = Date(v)
            i += 8
        elif t == 0x0A:
            v = None
        elif t == 0x10:
            (v,) = struct.unpack_from("<i", b, i)
            i += 4
        elif t == 0x11:
            (v,) = struct.unpack_from("<Q", b, i)
            i += 8
        elif t == 0x12:
            (v,) = struct.unpack_from("<q", b, i)
            v = Int64(v)
            i += 8
        else:
            raise ValueError("unsupported BSON type 0x%02x (%s)" % (t, name))
        doc[name] = v
    return doc, end + 1


def _elem(name, v):
    k = name.encode("utf-8") + b"\x00"
    if isinstance(v, bool):
        return b"\x08" + k + (b"\x01" if v else b"\x00")
    if isinstance(v, Date):
        return b"\x09" + k + struct.pack("<q", v)
    if isinstance(v, Int64):
        return b"\x12" + k + struct.pack("<q", v)
    if isinstance(v, int):
        if -2**31 <= v < 2**31:
            return b"\x10" + k + struct.pack("<i", v)
        return b"\x12" + k + struct.pack("<q", v)
    if isinstance(v, float):
        return b"\x01" + k + struct.pack("<d", v)
    if isinstance(v, str):
        s = v.encode("utf-8") + b"\x00"
        return b"\x02" + k + struct.pack("<i", len(s)) + s
    if isinstance(v, ObjectId):
        return b"\x07" + k + bytes(v)
    if isinstance(v, (bytes, bytearray)):
        return b"\x05" + k + struct.pack("<i", len(v)) + b"\x00" + bytes(v)
    if v is None:
        return b"\x0a" + k
    if isinstance(v, dict):
        return b"\x03" + k + bson_encode(v)
    if isinstance(v, (list, tuple)):
        return b"\x04" + k + bson_encode({str(n): x for n, x in enumerate(v)})
    raise TypeError("cannot encode %r" % (v,))


def bson_encode(doc):
    body = b"".join(_elem(k, v) for k, v in doc.items())
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


def to_json(v):
    if isinstance(v, dict):
        return {k: to_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [to_json(x) for x in v]
    if isinstance(v, Date):
        return {"$date": int(v)}
    if isinstance(v, Int64):
        return {"$numberLong": str(int(v))}
    if isinstance(v, ObjectId):
        return {"$oid": bytes(v).hex()}
    if isinstance(v, (bytes, bytearray)):
        return {"$binary": base64.b64encode(v).decode()}
    return v


def from_json(v):
    if isinstance(v, dict):
        if set(v) == {"$date"}:
            return Date(v["$date"])
        if set(v) == {"$numberLong"}:
            return Int64(int(v["$numberLong"]))
        if set(v) == {"$oid"}:
            return ObjectId(bytes.fromhex(v["$oid"]))
        if set(v) == {"$binary"}:
            return base64.b64decode(v["$binary"])
        return {k: from_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_json(x) for x in v]
    return v


# ---- the store ----------------------------------------------------------

class Store:
    def __init__(self, dump):
        self.lock = threading.Lock()
        self.colls = {}  # "db.coll" -> {"docs": [], "indexes": []}
        self.dump = dump
        self.dirty = False
        self.oid_n = 0
        if dump and os.path.exists(dump):
            with open(dump) as f:
                self.colls = from_json(json.load(f))

    def coll(self, ns):
        c = self.colls.get(ns)
        if c is None:
            c = self.colls[ns] = {"docs": [], "indexes": [
                {"v": 2, "key": {"_id": 1}, "name": "_id_"}]}
        return c

    def write(self):
        with self.lock:
            if not self.dump or not self.dirty:
                return
            data = json.dumps(to_json(self.colls))
            self.dirty = False
        tmp = self.dump + ".tmp"
        with open(tmp, "w") as f:
            f.write(data)
        os.replace(tmp, self.dump)


# ---- SCRAM-SHA-256 --------------------------------------------------------

def _h(k, m):
    return hmac.new(k, m, hashlib.sha256).digest()


class Scram:
    def __init__(self, user, password):
        self.user, self.password = user, password
        self.salt = b"pmacct-test-salt-28-bytes-ok"  # mongod: 28 bytes for SHA-256
        self.iters = 4096

    def start(self, conn, payload):
        msg = payload.decode()
        if not msg.startswith("n,,"):
            raise ValueError("unexpected GS2 header")
        bare = msg[3:]
        attrs = dict(a.split("=", 1) for a in bare.split(","))
        conn.scram = {"bare": bare, "user": attrs.get("n", ""),
                      "nonce": attrs["r"] + base64.b64encode(os.urandom(18)).decode()}
        first = "r=%s,s=%s,i=%d" % (conn.scram["nonce"],
                                     base64.b64encode(self.salt).decode(), self.iters)
        conn.scram["server_first"] = first
        return first.encode()

    def cont(self, conn, payload):
        st = conn.scram
        msg = payload.decode()
        without_proof, _, proof = msg.rpartition(",p=")
        attrs = dict(a.split("=", 1) for a in without_proof.split(","))
        if attrs.get("r") != st["nonce"]:
            raise ValueError("nonce mismatch")
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), self.salt, self.iters)
        client_key = _h(salted, b"Client Key")
        stored = hashlib.sha256(client_key).digest()
        auth = ",".join([st["bare"], st["server_first"], without_proof]).encode()
        sig = _h(stored, auth)
        got = base64.b64decode(proof)
        calc_key = bytes(a ^ b for a, b in zip(got, sig))
        if st["user"] != self.user or hashlib.sha256(calc_key).digest() != stored:
            return None
        server_sig = _h(_h(salted, b"Server Key"), auth)
        return ("v=" + base64.b64encode(server_sig).decode()).encode()


# ---- commands -----------------------------------------------------------

def matches(doc, flt):
    return all(doc.get(k) == v for k, v in flt.items())


class Conn:
    def __init__(self, srv, sock):
        self.srv, self.sock = srv, sock
        self.authed = srv.scram is None
        self.scram = None


def handshake_reply():
    return {"ismaster": True, "isWritablePrimary": True, "helloOk": True,
            "maxBsonObjectSize": 16 * 1024 * 1024,
            "maxMessageSizeBytes": 48000000, "maxWriteBatchSize": 100000,
            "localTime": Date(int(time.time() * 1000)),
            "connectionId": 1, "minWireVersion": 0, "maxWireVersion": 13,
            "readOnly": False, "ok": 1.0}


def run_command(srv, conn, cmd, db):
    name = next(iter(cmd)) if cmd else ""
    lname = name.lower()
    srv.log("cmd %s db=%s n=%d" % (name, db, len(cmd.get("documents", []))))
    if lname in ("ismaster", "hello"):
        r = handshake_reply()
        if srv.scram:
            r["saslSupportedMechs"] = ["SCRAM-SHA-256"]
        return r
    if lname == "ping":
        return {"ok": 1.0}
    if lname == "buildinfo":
        return {"version": "5.0.0", "versionArray": [5, 0, 0, 0], "ok": 1.0}
    if lname == "endsessions":
        return {"ok": 1.0}
    if lname == "saslstart":
        if not srv.scram or cmd.get("mechanism") != "SCRAM-SHA-256":
            return {"ok": 0.0, "errmsg": "mechanism not supported", "code": 2}
        try:
            p = srv.scram.start(conn, cmd["payload"])
        except (ValueError, KeyError) as e:
            return {"ok": 0.0, "errmsg": "bad saslStart: %s" % e, "code": 2}
        return {"conversationId": 1, "done": False, "payload": p, "ok": 1.0}
    if lname == "saslcontinue":
        if not conn.scram:
            return {"ok": 0.0, "errmsg": "no conversation", "code": 17}
        if conn.authed:  # the client's empty final step
            return {"conversationId": 1, "done": True, "payload": b"", "ok": 1.0}
        try:
            p = srv.scram.cont(conn, cmd["payload"])
        except (ValueError, KeyError) as e:
            p = None
            srv.log("scram: %s" % e)
        if p is None:
            srv.stats["auth_failures"] += 1
            return {"ok": 0.0, "errmsg": "Authentication failed.", "code": 18,
                    "codeName": "AuthenticationFailed"}
        conn.authed = True
        return {"conversationId": 1, "done": False, "payload": p, "ok": 1.0}
    if not conn.authed:
        return {"ok": 0.0, "errmsg": "command %s requires authentication" % name,
                "code": 13, "codeName": "Unauthorized"}
    st = srv.store
    if lname == "insert":
        docs = cmd.get("documents", [])
        ns = "%s.%s" % (db, cmd[name])
        werr = None
        if srv.reject:
            f, _, v = srv.reject.partition("=")
            for n, d in enumerate(docs):
                if str(d.get(f)) == v:
                    werr = n
                    break
            if werr is not None:
                # like a validation failure of an ordered insert: the
                # documents before it are stored, the rest is not tried
                docs = docs[:werr]
        with st.lock:
            c = st.coll(ns)
            for d in docs:
                if "_id" not in d:
                    st.oid_n += 1
                    d = dict(_id=ObjectId(struct.pack(">IQ", int(time.time()), st.oid_n)), **d)
                c["docs"].append(d)
            st.dirty = True
            srv.stats["inserts"] += 1
            srv.stats["docs"] += len(docs)
            crash = srv.crash_after and srv.stats["inserts"] >= srv.crash_after
        if crash:
            # a crash after the write, before the acknowledgement
            st.write()
            srv.log("crash after insert %d: %r" % (srv.stats["inserts"], srv.stats))
            os._exit(3)
        if werr is not None:
            srv.stats["rejected"] += 1
            return {"n": len(docs), "ok": 1.0, "writeErrors": [
                {"index": werr, "code": 121, "errmsg": "Document failed validation (%s)" % srv.reject}]}
        return {"n": len(docs), "ok": 1.0}
    if lname == "find":
        ns = "%s.%s" % (db, cmd[name])
        flt = cmd.get("filter") or {}
        with st.lock:
            docs = [d for d in st.colls.get(ns, {"docs": []})["docs"] if matches(d, flt)]
        lim = cmd.get("limit") or 0
        if lim:
            docs = docs[:lim]
        return {"cursor": {"firstBatch": docs, "id": Int64(0), "ns": ns}, "ok": 1.0}
    if lname == "createindexes":
        ns = "%s.%s" % (db, cmd[name])
        with st.lock:
            created = ns not in st.colls
            c = st.coll(ns)
            before = len(c["indexes"])
            for ix in cmd.get("indexes", []):
                if not isinstance(ix.get("key"), dict) or not ix["key"]:
                    return {"ok": 0.0, "errmsg": "index without key", "code": 67}
                if not ix.get("name"):
                    return {"ok": 0.0, "errmsg": "index without name", "code": 9}
                if all(x["name"] != ix["name"] for x in c["indexes"]):
                    c["indexes"].append(dict(v=2, **ix))
            st.dirty = True
            return {"createdCollectionAutomatically": created,
                    "numIndexesBefore": before,
                    "numIndexesAfter": len(c["indexes"]), "ok": 1.0}
    if lname == "listindexes":
        ns = "%s.%s" % (db, cmd[name])
        with st.lock:
            if ns not in st.colls:
                return {"ok": 0.0, "errmsg": "ns does not exist: " + ns,
                        "code": 26, "codeName": "NamespaceNotFound"}
            ixs = list(st.colls[ns]["indexes"])
        return {"cursor": {"firstBatch": ixs, "id": Int64(0), "ns": ns}, "ok": 1.0}
    return {"ok": 0.0, "errmsg": "no such command: '%s'" % name, "code": 59,
            "codeName": "CommandNotFound"}


# ---- wire ---------------------------------------------------------------

def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def parse_op_msg(body):
    (flags,) = struct.unpack_from("<I", body, 0)
    end = len(body) - (4 if flags & 1 else 0)
    i = 4
    cmd = None
    seqs = {}
    while i < end:
        kind = body[i]
        i += 1
        if kind == 0:
            cmd, i = bson_decode(body, i)
        elif kind == 1:
            (size,) = struct.unpack_from("<i", body, i)
            send = i + size
            ident, j = _cstring(body, i + 4)
            docs = []
            while j < send:
                d, j = bson_decode(body, j)
                docs.append(d)
            seqs.setdefault(ident, []).extend(docs)
            i = send
        else:
            raise ValueError("unknown OP_MSG section kind %d" % kind)
    if cmd is None:
        raise ValueError("OP_MSG without a body section")
    for k, v in seqs.items():
        cmd.setdefault(k, []).extend(v)
    return flags, cmd


class Server:
    def __init__(self, args):
        self.store = Store(args.dump)
        self.scram = Scram(args.user, args.password) if args.user else None
        self.logf = open(args.log, "a") if args.log else None
        self.stats = {"inserts": 0, "docs": 0, "auth_failures": 0, "rejected": 0}
        self.crash_after = args.crash_after
        self.reject = args.reject
        self.reqid = 0
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", args.port))
        self.sock.listen(64)

    def log(self, text):
        if self.logf:
            with self.lock:
                self.logf.write("%.3f %s\n" % (time.time(), text))
                self.logf.flush()

    def next_id(self):
        with self.lock:
            self.reqid += 1
            return self.reqid

    def serve_conn(self, sock):
        conn = Conn(self, sock)
        try:
            while True:
                hdr = recv_exact(sock, 16)
                length, reqid, _, op = struct.unpack("<iiii", hdr)
                if length < 16 or length > 64 * 1024 * 1024:
                    raise ValueError("bad message length %d" % length)
                body = recv_exact(sock, length - 16)
                if op == OP_QUERY:
                    (flags,) = struct.unpack_from("<I", body, 0)
                    ns, i = _cstring(body, 4)
                    i += 8  # numberToSkip, numberToReturn
                    cmd, _ = bson_decode(body, i)
                    self.log("OP_QUERY %s" % ns)
                    if not ns.endswith(".$cmd"):
                        reply = {"$err": "OP_QUERY only for commands", "code": 352, "ok": 0.0}
                    else:
                        if "$query" in cmd:
                            cmd = cmd["$query"]
                        reply = run_command(self, conn, cmd, ns[:-5])
                    doc = bson_encode(reply)
                    out = struct.pack("<iqii", 8, 0, 0, 1) + doc
                    out = struct.pack("<iiii", 16 + len(out), self.next_id(), reqid, OP_REPLY) + out
                elif op == OP_MSG:
                    flags, cmd = parse_op_msg(body)
                    db = cmd.pop("$db", "admin")
                    reply = run_command(self, conn, cmd, db)
                    out = struct.pack("<I", 0) + b"\x00" + bson_encode(reply)
                    out = struct.pack("<iiii", 16 + len(out), self.next_id(), reqid, OP_MSG) + out
                    if flags & 2:  # moreToCome: no reply wanted
                        continue
                else:
                    raise ValueError("unsupported opcode %d" % op)
                sock.sendall(out)
        except EOFError:
            pass
        except (ValueError, struct.error, UnicodeDecodeError, KeyError) as e:
            self.log("connection dropped: bad message: %s" % e)
        except OSError as e:
            self.log("connection dropped: %s" % e)
        finally:
            sock.close()

    def dumper(self):
        while True:
            time.sleep(0.2)
            self.store.write()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--dump")
    ap.add_argument("--log")
    ap.add_argument("--user")
    ap.add_argument("--password", default="")
    ap.add_argument("--crash-after", type=int, default=0)
    ap.add_argument("--reject")
    args = ap.parse_args()
    srv = Server(args)

    def stop(*_):
        srv.store.dirty = True
        srv.store.write()
        srv.log("stopped: %r" % srv.stats)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=srv.dumper, daemon=True).start()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.sock.getsockname()[1])
    os.replace(tmp, args.port_file)
    srv.log("listening on %d" % srv.sock.getsockname()[1])
    while True:
        s, _ = srv.sock.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=srv.serve_conn, args=(s,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
