#!/bin/sh
# gen-sample.sh - (re)write tests/data/sample.pcap with the generator.
#   tests/gen/gen-sample.sh [OUT]        (from the source tree)
# Compiles tests/gen/pcapgen.c with cc into a temp dir; the output is the
# same bytes on every machine (fixed seed and timestamps).
set -e
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$src/tests/data/sample.pcap}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -std=c11 -O2 -o "$tmp/pcapgen" "$src/tests/gen/pcapgen.c"
"$tmp/pcapgen" sample "$out"
