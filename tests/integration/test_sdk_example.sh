#!/bin/bash
# test_sdk_example.sh - the SDK works out of tree: install the project into
# a temp root (make install DESTDIR=), build sdk/examples/example_tag and
# example_count against the installed SDK with pkg-config only, install
# them into the installed module dir, and run the installed daemon on a
# small capture with `pipeline[x]: example_tag | print` (explicit form) and
# `pipeline[y]: example_count`.  Checks the TAG column and the counts.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"

need_ours
need_tool make
need_tool pkg-config
need_tool "${CC:-cc}" "a C compiler"

root=$T/root
make -C "$top_builddir" install DESTDIR="$root" >"$T/install.log" 2>&1 ||
    { tail -n 20 "$T/install.log" >&2; fail "make install DESTDIR=$root failed"; }

pc=$(find "$root" -name pmacct-sdk.pc | head -n 1)
[ -n "$pc" ] || fail "pmacct-sdk.pc not installed under $root"
daemon=$(find "$root" -path '*/sbin/pmacctd' | head -n 1)
[ -x "$daemon" ] || fail "pmacctd not installed under $root"

# Only the installed SDK: no system pkg-config dirs, paths under the root.
export PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_LIBDIR=$PKG_CONFIG_PATH
export PKG_CONFIG_SYSROOT_DIR=$root
moddir=$(pkg-config --variable=moduledir pmacct-sdk) ||
    fail "pkg-config --variable=moduledir pmacct-sdk failed"
cflags=$(pkg-config --cflags pmacct-sdk) || fail "pkg-config --cflags pmacct-sdk failed"
cflags=$(echo $cflags) # trim the trailing blank pkg-config prints
[ -f "${cflags#-I}/pmacct/pm_host.h" ] || fail "installed SDK headers not found via '$cflags'"

for ex in example_tag example_count; do
    cp -r "$top_srcdir/sdk/examples/$ex" "$T/$ex"
    chmod -R u+w "$T/$ex"
    make -C "$T/$ex" clean >/dev/null 2>&1
    make -C "$T/$ex" CFLAGS="-O2 -Werror" >"$T/$ex.build.log" 2>&1 ||
        { cat "$T/$ex.build.log" >&2; fail "building $ex out of tree failed"; }
    make -C "$T/$ex" install >>"$T/$ex.build.log" 2>&1 ||
        { cat "$T/$ex.build.log" >&2; fail "installing $ex failed"; }
    [ -f "$moddir/$ex.so" ] || fail "$ex.so not installed into $moddir"
done

# The installed daemon and only the installed modules.
export PMACCT_MODULE_DIR=$moddir
pm_conf "$T/sdk.conf" <<EOC
pcap_savefile: $top_srcdir/tests/data/print/small.pcap
pipeline[x]: example_tag | print
example_tag_port: 80
example_tag_value: 42
aggregate[x]: tag, src_host, dst_host, dst_port
print_output[x]: csv
print_output_file[x]: $T/tagged.csv
pipeline[y]: example_count
aggregate[y]: proto
example_count_file[y]: $T/counts.txt
EOC
pm_run "$daemon" "$T/sdk.conf" || fail "the installed daemon failed"

[ -s "$T/tagged.csv" ] || fail "no print output ($T/tagged.csv); log: $(tail -n 5 "$T/sdk.conf.log")"
header=$(head -n 1 "$T/tagged.csv")
[ "$header" = "TAG,SRC_IP,DST_IP,DST_PORT,PACKETS,BYTES" ] ||
    fail "unexpected header: $header"
# port 80 rows carry tag 42, the others tag 0
bad=$(awk -F, 'NR > 1 && (($4 == 80) != ($1 == 42)) { print }' "$T/tagged.csv")
[ -z "$bad" ] || fail "rows tagged wrongly: $bad"
tagged=$(awk -F, 'NR > 1 && $1 == 42 { n += $5 } END { print n + 0 }' "$T/tagged.csv")
[ "$tagged" = 20 ] || fail "expected 20 tagged packets, got $tagged"

# 20 TCP, 6 UDP (5 IPv4 + 1 IPv6), 1 ICMP
printf 'proto=1 records=1 bytes=28\nproto=6 records=20 bytes=2700\nproto=17 records=6 bytes=198\n' >"$T/counts.expected"
diff -u "$T/counts.expected" "$T/counts.txt" >&2 || fail "example_count output differs"
echo "ok: SDK examples built out of tree and run by the installed daemon"
