#!/usr/bin/python3
"""avro_decode.py - decode our Avro outputs with python3-avro (the Apache
implementation, independent of avro-c) into JSON lines for compare_json.

  avro_decode.py file F               object container file -> JSON lines
                                      (its embedded schema: F.schema)
  avro_decode.py frames SCHEMA F      kcat -f '%R%s' output: 4-byte big-endian
                                      length + payload per message; each
                                      payload holds one or more binary datums
  avro_decode.py hex SCHEMA F         one message per line in hex
  avro_decode.py select FIELD MIN F   JSON lines of F whose FIELD >= MIN

writer_id (broker messages) is checked to be non-empty and dropped, so that
rows compare with the print plugin's JSON.  Exit 1 on any decoding error.
"""
import io
import json
import struct
import sys

import avro.datafile
import avro.io
import avro.schema


def emit(rec, out):
    if "writer_id" in rec:
        if not rec["writer_id"]:
            raise ValueError("empty writer_id")
        del rec["writer_id"]
    out.write(json.dumps(rec) + "\n")


def datums(schema, payload, out):
    reader = avro.io.DatumReader(schema)
    buf = io.BytesIO(payload)
    dec = avro.io.BinaryDecoder(buf)
    n = 0
    while buf.tell() < len(payload):
        emit(reader.read(dec), out)
        n += 1
    if n == 0:
        raise ValueError("empty message")
    return n


def main(argv):
    out = sys.stdout
    mode = argv[1]
    if mode == "file":
        with open(argv[2], "rb") as f:
            rd = avro.datafile.DataFileReader(f, avro.io.DatumReader())
            with open(argv[2] + ".schema", "w") as s:
                s.write(rd.get_meta("avro.schema").decode() + "\n")
            for rec in rd:
                emit(rec, out)
        return 0
    if mode == "select":
        field, lo = argv[2], int(argv[3])
        with open(argv[4]) as f:
            for line in f:
                if line.strip() and json.loads(line)[field] >= lo:
                    out.write(line)
        return 0
    with open(argv[2]) as f:
        schema = avro.schema.parse(f.read())
    data = open(argv[3], "rb").read()
    msgs = []
    if mode == "frames":
        i = 0
        while i < len(data):
            (n,) = struct.unpack(">i", data[i:i + 4])
            msgs.append(data[i + 4:i + 4 + n])
            i += 4 + n
    elif mode == "hex":
        msgs = [bytes.fromhex(l) for l in data.decode().split("\n") if l.strip()]
    else:
        raise SystemExit("unknown mode " + mode)
    total = sum(datums(schema, m, out) for m in msgs)
    sys.stderr.write("avro_decode: %d messages, %d datums\n" % (len(msgs), total))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
