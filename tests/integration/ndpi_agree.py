#!/usr/bin/env python3
"""ndpi_agree.py OURS.csv NDPIREADER.txt CAP [MIN_FLOWS]

Per-flow agreement between our `class` (print csv with the columns
class,src_host,dst_host,src_port,dst_port,proto,...) and the application
protocol `ndpiReader -v 2` reports for each of its flows.  Flows are keyed
on (proto, sorted endpoints); ours is the first non-"unknown" class of any
row of that 5-tuple, in either direction (rows before the decision are
"unknown").  Prints the percentage and every disagreement; exits 1 below
99% or with fewer than MIN_FLOWS flows.  Used by test_ndpi_accuracy.sh and
test_classify.sh."""
import re
import sys


def key(proto, a, ap, b, bp):
    x, y = (a, int(ap)), (b, int(bp))
    return (proto.lower(),) + tuple(sorted([x, y]))


def main():
    ours, ref, cap = sys.argv[1:4]
    min_flows = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    cls = {}
    with open(ours) as f:
        next(f)
        for line in f:
            c, sa, da, sp, dp, pr = line.strip().split(',')[:6]
            k = key(pr, sa, sp, da, dp)
            if c != 'unknown' or k not in cls:
                cls[k] = c
    flow = re.compile(r'^\s*\d+\s+(TCP|UDP|ICMP|ICMPV6|\S+)\s+\[?([0-9a-fA-F.:]+?)\]?:(\d+)'
                      r'\s+<->\s+\[?([0-9a-fA-F.:]+?)\]?:(\d+)\s+.*?\[proto: [0-9.]+/([^\]]+)\]')
    n = agree = 0
    bad = []
    seen = {}
    with open(ref) as f:
        for line in f:
            m = flow.match(line)
            if not m:
                continue
            pr, a, ap, b, bp, name = m.groups()
            k = key(pr, a, ap, b, bp)
            want = 'unknown' if name == 'Unknown' else name
            got = cls.get(k, 'unknown')
            seen[want] = seen.get(want, 0) + 1
            n += 1
            if got == want:
                agree += 1
            else:
                bad.append('%s: ours %s, ndpiReader %s' % (k, got, want))
    if n == 0:
        print('no flows parsed from ndpiReader output of %s' % cap)
        return 1
    pct = 100.0 * agree / n
    print('nDPI agreement on %s: %d/%d flows = %.2f%% (ndpiReader classes: %s)'
          % (cap, agree, n, pct,
             ', '.join('%s %d' % kv for kv in sorted(seen.items()))))
    for b in bad:
        print('  differs: ' + b)
    if n < min_flows:
        print('only %d flows, %d wanted' % (n, min_flows))
        return 1
    return 0 if pct >= 99.0 else 1


if __name__ == '__main__':
    sys.exit(main())
