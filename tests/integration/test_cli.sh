#!/bin/sh
# test_cli.sh - the daemon's command line: exit codes and one-line messages
# for an unknown key, a misspelt module, a bad value, a missing default
# capture module; --check-config and --list-modules output; the multi-call
# names; a full run with the test-only modules; docs/CONFIG-KEYS.md is
# what --dump-keys-markdown prints when the same modules are built.
set -u
: "${top_builddir:=.}"
: "${top_srcdir:=.}"
PMD="$top_builddir/pmacctd"
TMOD="$top_builddir/tests/modules/.libs"
BMOD="$top_builddir/tests/modules/bad/.libs"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok - $1"; }
bad() { echo "FAIL - $1"; fail=1; }

run() { # expected-rc name ... -> output in $T/out, $T/err
    want=$1; shift
    name=$1; shift
    env -u PMACCT_MODULE_DIR PMACCT_MODULE_DIR="$TMOD" "$PMD" "$@" >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        bad "$name: exit $rc, expected $want"; cat "$T/err"; return 1
    fi
    return 0
}
has() { # file string name
    if grep -qF -- "$2" "$1"; then ok "$3"; else bad "$3: no '$2' in:"; cat "$1"; fi
}

cat >"$T/unk.conf" <<'X'
capture[default]: tcap
plugins: tcount
tcount_delya_us: 5
X
run 1 "unknown key" -f "$T/unk.conf" &&
    has "$T/err" "$T/unk.conf:3: unknown key 'tcount_delya_us' (did you mean 'tcount_delay_us'?)" "unknown key message"
[ "$(wc -l <"$T/err")" -eq 1 ] && ok "unknown key: one line" || bad "unknown key: one line"

cat >"$T/mod.conf" <<'X'
capture[default]: tcap
plugins: tcout[a]
X
run 1 "misspelt module" -f "$T/mod.conf" &&
    has "$T/err" "$T/mod.conf:2: module not found: 'tcout'" "misspelt module names file:line" &&
    has "$T/err" "did you mean 'tcount'?" "misspelt module suggestion"

cat >"$T/val.conf" <<'X'
capture[default]: tcap
tcap_records: lots
X
run 1 "bad value" -f "$T/val.conf" &&
    has "$T/err" "$T/val.conf:2: key 'tcap_records': expected" "bad value message"

run 1 "missing default capture" --daemon nfacctd -P tcount &&
    has "$T/err" "nfacctd needs the 'netflow' module: netflow.so not found in" "missing capture module"

cat >"$T/ok.conf" <<'X'
! a comment
capture[default]: tcap
plugins: tcount[a], tcount[b]
tmark_enable[a]: true
tcount_secret: hunter2
aggregate[b]: src_host, dst_host
tcap_records: 5000
pipeline_overload: block
X
run 0 "check-config" -f "$T/ok.conf" --check-config &&
    has "$T/out" "pipeline a: tmark | tcount" "check-config pipeline a" &&
    has "$T/out" "pipeline b: tcount" "check-config pipeline b" &&
    has "$T/out" "tcount_secret = ***" "check-config hides secrets"
if grep -q hunter2 "$T/out"; then bad "secret printed"; else ok "secret not printed"; fi

run 0 "run" -f "$T/ok.conf" -d &&
    has "$T/err" 'pmacct_tcount_accounted{instance="a"} 5000' "run accounts every record"

run 0 "list-modules" --list-modules &&
    has "$T/out" "tcount" "list-modules names tcount" &&
    has "$T/out" "kind: output" "list-modules kind" &&
    has "$T/out" "keys: tcount_delay_us, tcount_tag" "list-modules keys"
env PMACCT_MODULE_DIR="$BMOD" "$PMD" --list-modules >"$T/out" 2>&1
has "$T/out" "REFUSED: $BMOD/tbadmajor.so: module built against pmacct-sdk ABI 2.0" "list-modules shows refusals"

run 0 "-a" -a && has "$T/out" "src_host" "-a lists primitives"
run 0 "-h" -h && has "$T/out" "-c" "-h lists switches"

# multi-call: the name picks the default capture
ln -s "$(cd "$top_builddir" && pwd)/pmacctd" "$T/sfacctd"
env PMACCT_MODULE_DIR="$TMOD" "$T/sfacctd" -P tcount >"$T/out" 2>"$T/err"
has "$T/err" "sfacctd needs the 'sflow' module" "multi-call name"

# docs/CONFIG-KEYS.md matches the option tables when the same modules exist
DOC="$top_srcdir/docs/CONFIG-KEYS.md"
MODS=$(ls -d "$top_builddir"/modules/*/.libs "$top_builddir"/classifiers/*/.libs 2>/dev/null | tr '\n' ':')
env PMACCT_MODULE_DIR="$MODS" "$PMD" --dump-keys-markdown >"$T/keys.md" 2>/dev/null
if [ -f "$DOC" ] && [ "$(grep '^## ' "$DOC")" = "$(grep '^## ' "$T/keys.md")" ]; then
    if cmp -s "$DOC" "$T/keys.md"; then ok "CONFIG-KEYS.md up to date"
    else bad "docs/CONFIG-KEYS.md is stale: run 'make keys-doc'"; diff "$DOC" "$T/keys.md" | head -20; fi
else
    echo "# CONFIG-KEYS.md: different module set built here; not compared"
fi

exit $fail
