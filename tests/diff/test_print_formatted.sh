#!/bin/bash
# Differential test: print plugin, print_output: formatted, every aggregation set
# of tests/diff/print_common.sh, ours against Debian's pmacctd 1.7.7.
FORMAT=formatted
. "$top_srcdir/tests/diff/print_common.sh"
