#!/bin/bash
# tests/run-all.sh - the one test command (README.md quotes it; .ci/run runs
# exactly this).  From the source tree:
#
#   ./tests/run-all.sh             build + every test, then an ASan+UBSan
#                                  build and a ThreadSanitizer build running
#                                  the unit tests again, then the fuzz
#                                  targets (tests/fuzz/run-fuzzers.sh)
#   ./tests/run-all.sh --quick     the first build and its tests only
#
# Builds out of tree in $PM_BUILD_DIR (default ./_build), $PM_BUILD_DIR-san
# and $PM_BUILD_DIR-tsan; never configures in the source tree.  Exits non-zero
# on any failure after printing the logs of the failed tests.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=${PM_BUILD_DIR:-$src/_build}
jobs=${PM_JOBS:-2}
quick=0
[ "${1:-}" = --quick ] && quick=1

step() { printf '\n==== %s\n' "$*"; }

# show_failures DIR: the test-suite.log and the logs of failed tests.
show_failures() {
    local d=$1 f
    [ -f "$d/test-suite.log" ] && cat "$d/test-suite.log"
    for f in $(find "$d" -name '*.trs' 2>/dev/null); do
        if grep -qE '^:test-result: (FAIL|ERROR|XPASS)' "$f"; then
            echo "---- ${f%.trs}.log"
            cat "${f%.trs}.log"
        fi
    done
}

# build_and_check DIR TESTS_OVERRIDE CONFIGURE_ARGS...
build_and_check() {
    local d=$1 tests=$2
    shift 2
    mkdir -p "$d" && cd "$d" || return 1
    step "configure $* ($d)"
    "$src/configure" --prefix="$d/_inst" "$@" >configure.out 2>&1 ||
        { tail -n 40 configure.out; return 1; }
    grep -A30 '^  pmacct' configure.out | head -n 30
    # Under CI every module must be built: a module configure left out
    # (a missing -dev package) would silently take its tests with it.
    if [ "${CI:-}" = true ] && sed -n '/^  modules:/,$p' configure.out | grep -q ' no  *('; then
        echo "CI: configure left modules out (add their packages to tests/deps/):"
        sed -n '/^  modules:/,$p' configure.out | grep ' no  *('
        return 1
    fi
    step "make -j$jobs ($d)"
    make -j"$jobs" >make.out 2>&1 || { tail -n 60 make.out; return 1; }
    step "make check ($d)"
    if [ -n "$tests" ]; then
        make -j"$jobs" check TESTS="$tests" || { show_failures "$d"; return 1; }
    else
        make -j"$jobs" check || { show_failures "$d"; return 1; }
    fi
}

rc=0
cd "$src" || exit 1
step "autoreconf -fi"
for i in 1 2 3; do
    autoreconf -fi >/tmp/pm-autoreconf.$$ 2>&1 && break
    [ $i = 3 ] && { cat /tmp/pm-autoreconf.$$; rm -f /tmp/pm-autoreconf.$$; exit 1; }
    sleep 2
done
rm -f /tmp/pm-autoreconf.$$

build_and_check "$build" "" || rc=1

if [ $quick = 0 ]; then
    # Sanitizer build: the unit tests (cmocka programs under tests/unit).
    unit=$(cd "$build" && make -s -f Makefile -f - print-unit <<<'print-unit: ; @echo $(filter tests/unit/%,$(TESTS))' 2>/dev/null)
    if [ -z "$unit" ]; then
        step "no unit tests found in $build: sanitizer build runs the whole suite"
    fi
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        build_and_check "$build-san" "$unit" --enable-sanitizers || rc=1
    # ThreadSanitizer build: the unit tests again (the sql outputs' writer
    # and two-thread purge, the queues, the pipeline's threads); a race
    # report fails the test (halt_on_error: exit 66).  Not test_kafka:
    # librdkafka starts its threads with C11 thrd_create, which GCC 12's
    # TSan runtime does not intercept (the mock cluster's first thread
    # crashes in TSan's allocator).
    tunit=$(echo " $unit " | sed 's| tests/unit/test_kafka | |')
    TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1} \
        build_and_check "$build-tsan" "$tunit" --enable-sanitizers=thread || rc=1
fi

cd "$src" || exit 1
if [ $quick = 0 ]; then
    # Last step: every libFuzzer target for FUZZ_SECONDS (default 20) each.
    if command -v clang >/dev/null 2>&1; then
        step "fuzz (tests/fuzz/run-fuzzers.sh, ${FUZZ_SECONDS:-20}s per target)"
        "$src/tests/fuzz/run-fuzzers.sh" || rc=1
    elif [ "${CI:-}" = true ]; then
        step "fuzz: clang is missing (apt-get install clang libclang-rt-14-dev): FAILED under CI"
        rc=1
    else
        step "fuzz: skipped, clang is missing"
    fi
fi

cd "$src" || exit 1
if [ $rc = 0 ]; then step "all tests passed"; else step "FAILED"; fi
exit $rc
