#!/bin/bash
# `class` in the aggregate alone turns classification on, as an nDPI build
# of pmacct does: no `classifiers` key, the classify transform is inserted
# by the primitive (pm_module_desc.trigger_prims) and uses the installed
# classifiers directory (here PMACCT_CLASSIFIERS_DIR, standing in for
# $(pkglibdir)/classifiers) with the nDPI engine only.
#  - --check-config shows classify in the pipeline; without `class` it is
#    not there;
#  - on the bundled sample, rows get nDPI's classes (ICMP and NTP among
#    them) and the totals equal a run without `class`;
#  - a directory without ndpi.so stops start-up naming the engine and dir.
. "$top_srcdir/tests/lib.sh"

need_ours
need_module pcap
need_module print
need_module classify
CLS_SO="$top_builddir/classifiers/.libs"
[ -f "$CLS_SO/ndpi.so" ] || skip "nDPI classifier not built in $CLS_SO (libndpi-dev)"

mkdir -p "$T/cls" "$T/empty"
cp "$CLS_SO/ndpi.so" "$CLS_SO/dns.so" "$T/cls/"
export PMACCT_CLASSIFIERS_DIR="$T/cls"

conf() { # name aggregate
    cat <<C
daemonize: false
pcap_savefile: $(sample_pcap)
plugins: print[$1]
aggregate[$1]: $2
print_output[$1]: csv
print_output_file[$1]: $T/$1.csv
C
}
conf c "src_host, dst_host, src_port, dst_port, proto, class" >"$T/c.conf"
conf p "src_host, dst_host, src_port, dst_port, proto" >"$T/p.conf"

"$PM_OUR_PMACCTD" -f "$T/c.conf" --check-config >"$T/c.plan" 2>&1 || { cat "$T/c.plan" >&2; fail "--check-config failed"; }
grep -q "pipeline c: classify | print" "$T/c.plan" || { cat "$T/c.plan" >&2; fail "classify not inserted by 'class'"; }
"$PM_OUR_PMACCTD" -f "$T/p.conf" --check-config >"$T/p.plan" 2>&1 || fail "--check-config (no class) failed"
grep -q "^pipeline p: .*classify" "$T/p.plan" && fail "classify inserted without 'class'"

run_our_pmacctd "$T/c.conf" || fail "run with class failed"
run_our_pmacctd "$T/p.conf" || fail "run without class failed"
grep -q "engines ndpi from $T/cls" "$T/c.conf.log" || { cat "$T/c.conf.log" >&2; fail "no log line naming the default engines"; }
[ "$(out_packets "$T/c.csv")" = "$(out_packets "$T/p.csv")" ] ||
    fail "totals differ: $(out_packets "$T/c.csv") with class, $(out_packets "$T/p.csv") without"
col=$(head -n 1 "$T/c.csv" | tr ',' '\n' | grep -n '^CLASS$' | cut -d: -f1)
[ -n "$col" ] || fail "no CLASS column: $(head -n 1 "$T/c.csv")"
cut -d, -f"$col" "$T/c.csv" | sort | uniq -c | sort -rn >"$T/classes"
cat "$T/classes" >&2
grep -qw ICMP "$T/classes" || fail "no ICMP stream classified by nDPI"
grep -qw NTP "$T/classes" || fail "no NTP stream classified by nDPI"

PMACCT_CLASSIFIERS_DIR="$T/empty" "$PM_OUR_PMACCTD" -f "$T/c.conf" >"$T/e.out" 2>&1 &&
    fail "started with no ndpi.so in the classifiers directory"
grep -q "ndpi" "$T/e.out" && grep -q "$T/empty" "$T/e.out" ||
    { cat "$T/e.out" >&2; fail "the error names neither the engine nor the directory"; }
exit 0
