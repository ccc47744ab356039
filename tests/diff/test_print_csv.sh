#!/bin/bash
# Differential test: print plugin, print_output: csv, every aggregation set
# of tests/diff/print_common.sh, ours against Debian's pmacctd 1.7.7.
FORMAT=csv
. "$top_srcdir/tests/diff/print_common.sh"
