#!/bin/bash
# tests/fuzz/run-fuzzers.sh - build every tests/fuzz/fuzz_*.c with
# `clang -fsanitize=fuzzer,address,undefined` and run each for
# FUZZ_SECONDS (default 20) on a copy of its seed corpus
# (tests/fuzz/corpus/NAME, or an empty corpus when there is none).
# Fails (exit 1) on any crash, leak, timeout or out-of-memory, printing
# the reproducer path and the command to replay it; exits 1 too when a
# target does not build.  tests/run-all.sh runs it as its last step.
#
#   tests/fuzz/run-fuzzers.sh                 every target
#   tests/fuzz/run-fuzzers.sh pmq conf        some of them
#   FUZZ_SECONDS=300 FUZZ_KEEP=1 tests/fuzz/run-fuzzers.sh
#
# Environment: CC (default clang), FUZZ_SECONDS, FUZZ_DIR (work dir,
# default a new /tmp/pmfuzz.XXXXXX, removed on success unless FUZZ_KEEP=1),
# FUZZ_JOBS is not used: targets run one after the other.
#
# Each target's sources: the target itself, the libpmdata sources (read
# from core/data.am), tests/fakehost.c, plus the module sources listed in
# sources_of below.  A new fuzz_X.c needs a line there (or it is reported).
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
cc=${CC:-clang}
secs=${FUZZ_SECONDS:-20}

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "run-fuzzers: $cc not found (apt-get install clang libclang-rt-14-dev)" >&2
    exit 1
fi

work=${FUZZ_DIR:-}
if [ -z "$work" ]; then
    work=$(mktemp -d /tmp/pmfuzz.XXXXXX) || exit 1
fi
mkdir -p "$work" || exit 1

# libpmdata: every core/*.c of core_libpmdata_la_SOURCES
pmdata=$(sed -n '/^core_libpmdata_la_SOURCES/,/^[^	]/p' "$src/core/data.am" |
    tr ' \\\t' '\n\n\n' | grep '^core/.*\.c$' | sed "s#^#$src/#" | tr '\n' ' ')
if [ -z "$pmdata" ]; then
    echo "run-fuzzers: cannot read the libpmdata sources from core/data.am" >&2
    exit 1
fi

# sources_of NAME: extra sources of fuzz_NAME.c (beyond itself, libpmdata
# and the fake host), include dirs and libraries; return 1 when unknown.
sources_of() {
    local m=$src/modules
    case $1 in
    decode) extra="" ;;
    conf) extra="$src/core/conf.c" ;;
    pmq) extra="-I$m/memory -I$m/common/pmq $m/memory/memory.c $(ls $m/common/pmq/*.c)" ;;
    bdb) extra="-I$m/bdb -I$m/common/pmq $m/bdb/bdb_codec.c" ;;
    netflow) extra="-I$m/netflow $(ls $m/netflow/*.c $m/common/*.c) -lpcap" ;;
    sflow) extra="-I$m/sflow $(ls $m/sflow/*.c $m/common/*.c) -lpcap" ;;
    ipfix_stream) extra="-I$m/netflow $(ls $m/netflow/*.c $m/common/*.c) -lpcap" ;;
    pretag) extra="-I$m/tag $m/tag/pretag.c $m/tag/pretag_parse.c -lpcap" ;;
    sampling_map) extra="-I$m/sampling $m/sampling/sampling_map.c" ;;
    tunnel) extra="-I$m/tunnel $m/tunnel/tunnel.c" ;;
    classifiers) extra="" ;; # includes the classifiers' sources itself
    mongodb) extra="-I$src $m/mongodb/mdoc.c $(pkg-config --cflags --libs libbson-1.0)" ;;
    *) return 1 ;;
    esac
    return 0
}

# max input length per target (datagrams may be 64 KiB)
max_len_of() {
    case $1 in
    netflow | sflow | ipfix_stream) echo 65535 ;;
    *) echo 4096 ;;
    esac
}

if [ $# -gt 0 ]; then
    names=("$@")
else
    names=()
    for f in "$src"/tests/fuzz/fuzz_*.c; do
        n=${f##*/fuzz_}
        names+=("${n%.c}")
    done
fi

rc=0
for n in "${names[@]}"; do
    f=$src/tests/fuzz/fuzz_$n.c
    bin=$work/fuzz_$n
    echo "==== fuzz_$n"
    if [ ! -f "$f" ]; then
        echo "FAIL fuzz_$n: no $f"
        rc=1
        continue
    fi
    if ! sources_of "$n"; then
        echo "FAIL fuzz_$n: its sources are unknown: add a line for it to sources_of in $0"
        rc=1
        continue
    fi
    # shellcheck disable=SC2086
    if ! "$cc" -g -O1 -fsanitize=fuzzer,address,undefined \
        -fno-sanitize-recover=undefined -D_GNU_SOURCE \
        -I"$src/sdk/include" -I"$src/core" -I"$src/tests" \
        "$f" $pmdata "$src/tests/fakehost.c" $extra -lpthread -lm \
        -o "$bin" >"$work/build-$n.log" 2>&1; then
        cat "$work/build-$n.log"
        echo "FAIL fuzz_$n: does not build"
        rc=1
        continue
    fi
    corpus=$work/corpus-$n
    rm -rf "$corpus"
    mkdir -p "$corpus" "$work/artifacts"
    if [ -d "$src/tests/fuzz/corpus/$n" ]; then
        cp -r "$src/tests/fuzz/corpus/$n/." "$corpus/"
    fi
    nseeds=$(find "$corpus" -type f | wc -l)
    echo "building done; running ${secs}s on $nseeds seeds"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$(max_len_of "$n")" -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/$n-" "$corpus" \
        >"$work/run-$n.log" 2>&1
    st=$?
    arts=$(ls "$work/artifacts/$n-"* 2>/dev/null)
    if [ $st -ne 0 ] || [ -n "$arts" ]; then
        tail -n 60 "$work/run-$n.log"
        echo "FAIL fuzz_$n (exit $st); log: $work/run-$n.log"
        for a in $arts; do
            echo "  reproducer: $a"
            echo "  replay:     $bin $a"
        done
        rc=1
    else
        grep -E '^(stat::number_of_executed_units|#[0-9]+ +DONE)' \
            "$work/run-$n.log" | head -n 2
        echo "ok fuzz_$n"
    fi
done

if [ $rc = 0 ] && [ "${FUZZ_KEEP:-0}" != 1 ] && [ -z "${FUZZ_DIR:-}" ]; then
    rm -rf "$work"
else
    echo "fuzz work dir kept: $work"
fi
exit $rc
