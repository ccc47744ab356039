#!/usr/bin/env python3
"""mongo_check.py - checks of tests/integration/test_mongodb.sh on the dump
of tests/mongo/mongo_server.py.

  mongo_check.py count DUMP PREFIX
      print the number of documents in collections named PREFIX*
  mongo_check.py compare DUMP PREFIX PRINT_JSON [--at-least-once]
      the documents of collections PREFIX*, summed per aggregate (every
      field but counters, stamps, _id), equal the print output's rows
      (JSON lines) summed the same way; with --at-least-once a document
      may be there more than once (an aggregate's sums are then a multiple
      of the print's).  Also checks the BSON types: packets/bytes int64,
      stamp_* dates, ip_* strings.
  mongo_check.py names DUMP PREFIX TEMPLATE
      every document sits in the collection TEMPLATE names for it:
      TEMPLATE is a Python format string over the document's fields plus
      "date" (YYYYmmdd of stamp_inserted, UTC), e.g. "pm.t{tag}_{date}";
      prints the collections found.
  mongo_check.py indexes DUMP PREFIX NAME...
      every collection PREFIX* has the indexes named NAME...
Exit 0 when the check holds, 1 with a report on stderr.
"""
import json
import sys
import time
from collections import Counter, defaultdict

COUNTERS = ("packets", "bytes", "flows")
SKIP = ("_id", "stamp_inserted", "stamp_updated", "event_type", "writer_id")


def load(dump, prefix):
    with open(dump) as f:
        d = json.load(f)
    return {ns: c for ns, c in d.items() if ns.startswith(prefix)}


def plain(v):
    if isinstance(v, dict) and "$numberLong" in v:
        return int(v["$numberLong"])
    return v


def key_of(doc):
    return json.dumps({k: plain(v) for k, v in doc.items()
                       if k not in SKIP and k not in COUNTERS}, sort_keys=True)


def fail(msg):
    print("mongo_check: " + msg, file=sys.stderr)
    sys.exit(1)


def check_types(ns, doc):
    for k in ("packets", "bytes"):
        if not (isinstance(doc.get(k), dict) and "$numberLong" in doc[k]):
            fail("%s: %s is not int64: %r" % (ns, k, doc.get(k)))
    for k in ("stamp_inserted", "stamp_updated"):
        if k in doc and not (isinstance(doc[k], dict) and "$date" in doc[k]):
            fail("%s: %s is not a date: %r" % (ns, k, doc[k]))
    for k, v in doc.items():
        if k.startswith("ip_") and k != "ip_proto" and not isinstance(v, str):
            fail("%s: %s is not a string: %r" % (ns, k, v))
    for k in ("event_type", "writer_id"):
        if k in doc:
            fail("%s: %s should not be stored" % (ns, k))


def main():
    mode, dump, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
    colls = load(dump, prefix)
    if mode == "count":
        print(sum(len(c["docs"]) for c in colls.values()))
        return 0
    if mode == "compare":
        mine = defaultdict(lambda: [0, 0, 0])
        for ns, c in colls.items():
            for doc in c["docs"]:
                check_types(ns, doc)
                s = mine[key_of(doc)]
                s[0] += plain(doc["packets"])
                s[1] += plain(doc["bytes"])
                s[2] += 1
        ref = defaultdict(lambda: [0, 0, 0])
        with open(sys.argv[4]) as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    s = ref[key_of(row)]
                    s[0] += row["packets"]
                    s[1] += row["bytes"]
                    s[2] += 1
        alo = "--at-least-once" in sys.argv
        bad = []
        for k in set(mine) | set(ref):
            a, b = mine.get(k), ref.get(k)
            if not a or not b:
                bad.append("%s only in %s" % (k, "print" if b else "mongo"))
            elif alo:
                n = a[2] // b[2] if b[2] else 0
                if n < 1 or a[2] % b[2] or a[0] != n * b[0] or a[1] != n * b[1]:
                    bad.append("%s: mongo %r, print %r" % (k, a, b))
            elif a != b:
                bad.append("%s: mongo %r, print %r" % (k, a, b))
        if bad:
            fail("%d aggregates differ (of %d in print, %d in mongo):\n  %s"
                 % (len(bad), len(ref), len(mine), "\n  ".join(bad[:10])))
        ndocs = sum(a[2] for a in mine.values())
        print("ok: %d aggregates, %d documents in %d collections, packets %d "
              "bytes %d" % (len(ref), ndocs, len(colls),
                            sum(a[0] for a in mine.values()),
                            sum(a[1] for a in mine.values())))
        return 0
    if mode == "names":
        tmpl = sys.argv[4]
        for ns, c in colls.items():
            for doc in c["docs"]:
                f = {k: plain(v) for k, v in doc.items()}
                si = doc.get("stamp_inserted", {}).get("$date", 0) // 1000
                f["date"] = time.strftime("%Y%m%d", time.gmtime(si))
                want = tmpl.format(**f)
                if want != ns:
                    fail("document %s is in %s, expected %s" % (key_of(doc), ns, want))
        print("ok: collections %s" % " ".join(sorted(colls)))
        return 0
    if mode == "indexes":
        want = set(sys.argv[4:])
        if not colls:
            fail("no collection %s*" % prefix)
        for ns, c in colls.items():
            have = {ix["name"] for ix in c["indexes"]}
            if not want <= have:
                fail("%s: indexes %s, expected %s" % (ns, sorted(have), sorted(want)))
        print("ok: indexes %s in %d collections" % (" ".join(sorted(want)), len(colls)))
        return 0
    fail("unknown mode " + mode)


if __name__ == "__main__":
    sys.exit(main())
