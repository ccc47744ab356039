#!/bin/bash
# tests/diff/test_sampling.sh - packet sampling in pmacctd, ours against
# Debian's pmacctd 1.7.7 on the bundled capture.
#
# Runs, each on both sides:
#   A: no external rate; print[plain] (proto, sampling_rate) and
#      print[sampled] with sampling_rate[sampled]: 10;
#   B: pmacctd_ext_sampling_rate: 5; print[plain];
#   C: B + pmacctd_renormalize: true; print[plain];
#   D: C + sampling_rate[sampled]: both daemons must refuse to start
#      (internal and external sampling are mutually exclusive).
# Deterministic tables (plain: rate column 1, 5, or 1 with counters x5)
# are compared row by row.  sampling_rate: N is random in pmacct ("a simple
# randomic" choice): for both daemons the sampled table must report rate 1
# (pmacctd does not renormalise it) and hold a number of packets within 5
# standard deviations of the unsampled total / 10 (binomial bounds).
. "$top_srcdir/tests/lib.sh"

need_ref
need_ours
need_module sampling

write_conf() { # FILE DIR RUN
    local f=$1 d=$2 run=$3
    mkdir -p "$d"
    {
        echo "pcap_savefile: $(sample_pcap)"
        case $run in
        A) echo "plugins: print[plain], print[sampled]"
           echo "sampling_rate[sampled]: 10" ;;
        B) echo "plugins: print[plain]"
           echo "pmacctd_ext_sampling_rate: 5" ;;
        C) echo "plugins: print[plain]"
           echo "pmacctd_ext_sampling_rate: 5"
           echo "pmacctd_renormalize: true" ;;
        D) echo "plugins: print[plain], print[sampled]"
           echo "pmacctd_ext_sampling_rate: 5"
           echo "pmacctd_renormalize: true"
           echo "sampling_rate[sampled]: 10"
           echo "print_output_file[sampled]: $d/sampled.csv" ;;
        esac
        echo "aggregate: proto, sampling_rate"
        echo "print_output: csv"
        echo "print_output_file[plain]: $d/plain.csv"
        [ $run = A ] && echo "print_output_file[sampled]: $d/sampled.csv"
    } | pm_conf "$f"
}

# check_sampled FILE UNSAMPLED_TOTAL FACTOR WHO: rate column 1 everywhere,
# packets within 5 sd of UNSAMPLED_TOTAL/10 (times FACTOR, the ext rate
# when renormalised).
check_sampled() {
    local f=$1 total=$2 k=$3 who=$4
    awk -F, -v t="$total" -v k="$k" -v who="$who" '
        NR == 1 { next }
        $2 != 1 { printf "%s: sampling_rate %s in row %s (want 1)\n", who, $2, $0; bad = 1 }
        { p += $3 }
        END {
            n = t / k; mean = n / 10; sd = sqrt(n * 0.1 * 0.9)
            lo = int((mean - 5 * sd) * k); hi = int((mean + 5 * sd) * k + 1)
            printf "%s: sampled %d packets of %d (bounds %d..%d)\n", who, p, t, lo, hi
            if (p % k) { printf "%s: %d is not a multiple of %d\n", who, p, k; bad = 1 }
            exit (bad || p < lo || p > hi) }' "$f"
}

rc=0
for run in A B C; do
    write_conf "$T/ours$run.conf" "$T/ours$run" $run
    write_conf "$T/ref$run.conf" "$T/ref$run" $run
    run_our_pmacctd "$T/ours$run.conf" || fail "our pmacctd failed (run $run)"
    run_ref_until "$T/ref$run.conf" "$T/ref$run/plain.csv" \
        "$(out_packets "$T/ours$run/plain.csv")" || fail "reference pmacctd failed (run $run)"
    compare_tables "$T/ref$run/plain.csv" "$T/ours$run/plain.csv" "run $run: plain" || rc=1
done
awk -F, 'NR > 1 && $2 != 5 { bad = 1 } END { exit bad }' "$T/oursB/plain.csv" ||
    { echo "run B: ours does not report rate 5 everywhere" >&2; rc=1; }
totalA=$(out_packets "$T/oursA/plain.csv")
totalC=$(out_packets "$T/oursC/plain.csv")
[ "$totalC" = $((totalA * 5)) ] ||
    { echo "run C: renormalised total $totalC, want 5 x $totalA" >&2; rc=1; }
check_sampled "$T/oursA/sampled.csv" "$totalA" 1 "ours (A)" || rc=1
check_sampled "$T/refA/sampled.csv" "$(out_packets "$T/refA/plain.csv")" 1 "reference (A)" || rc=1
for side in ours ref; do
    write_conf "$T/${side}D.conf" "$T/${side}D" D
done
run_our_pmacctd "$T/oursD.conf" 2>/dev/null &&
    { echo "run D: ours accepted sampling_rate with pmacctd_ext_sampling_rate" >&2; rc=1; }
grep -q "mutually exclusive" "$T/oursD.conf.log" ||
    { echo "run D: ours did not say why: $(cat "$T/oursD.conf.log")" >&2; rc=1; }
run_ref_pmacctd "$T/refD.conf" 2>/dev/null &&
    { echo "run D: the reference accepted the combination" >&2; rc=1; }
grep -q "mutual exclusive" "$T/refD.conf.log" ||
    { echo "run D: the reference failed for another reason: $(tail -3 "$T/refD.conf.log")" >&2; rc=1; }
[ $rc = 0 ] || fail "sampling differs (see above)"
echo "ok: sampling"
