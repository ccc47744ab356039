/*
 * test_pipeline.c - the runtime end to end with the test-only modules:
 * N records in -> N accounted; several pipelines each get every record;
 * transform order (implicit and explicit forms); drop policy under a slow
 * output counts every drop; block policy loses nothing; auto (wait) policy
 * loses nothing to a slow output and sheds only a stuck one; flush(FINAL) at
 * EOF; SIGTERM stops, drains and flushes; SIGUSR2 reloads; services start
 * and stop; ticks happen while idle.  Results are polled with a deadline,
 * never waited for with a sleep.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pmd.h"

static char moddir[1024];
static struct pmd D;

static const char *daemon_name = "pmacctd";

static int setup_conf(const char *text)
{
    char err[512];
    int rc;
    stats_reset();
    pmd_init(&D, daemon_name);
    rc = conf_parse_text(&D.conf, text, "p.conf", err, sizeof(err));
    assert_int_equal(rc, 0);
    D.conf.main_file = "p.conf";
    assert_int_equal(modset_set_dirs(&D.mods, moddir), 0);
    assert_int_equal(modset_scan(&D.mods), 0);
    return pmd_resolve(&D);
}

static int run_conf(const char *text)
{
    int rc;
    assert_int_equal(setup_conf(text), 0);
    assert_int_equal(pmd_start(&D), 0);
    rc = pmd_wait(&D);
    return rc;
}

static int64_t C(const char *m, const char *i, const char *n)
{
    return stats_get(m, i, n);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* poll a counter until it reaches `min` or the deadline passes */
static int64_t poll_ge(const char *m, const char *i, const char *n,
                       int64_t min, double secs)
{
    double end = now_s() + secs;
    int64_t v;
    struct timespec ts = {0, 1000000};
    while ((v = C(m, i, n)) < min && now_s() < end)
        nanosleep(&ts, NULL);
    return v;
}

static void done(void) { pmd_free(&D); }

static void t_n_in_n_out(void **s)
{
    (void)s;
    assert_int_equal(run_conf("capture[default]: tcap\n"
                              "tcap_records: 100003\ntcap_fill: 77\n"
                              "pipeline_overload: block\n"
                              "plugins: tcount[a]\n"),
                     0);
    assert_int_equal(C("capture", "default", "records"), 100003);
    assert_int_equal(C("pipeline", "a", "received"), 100003);
    assert_int_equal(C("tcount", "a", "accounted"), 100003);
    assert_int_equal(C("tcount", "a", "flushes"), 1);
    assert_int_equal(C("tcount", "a", "final_accounted"), 100003);
    assert_int_equal(C("pipeline", "a", "dropped_queue_full"), 0);
    done();
}

static void t_several_pipelines(void **s)
{
    (void)s;
    assert_int_equal(run_conf("capture[default]: tcap\n"
                              "pipeline_overload: block\n"
                              "tcap_records: 50000\n"
                              "plugins: tcount[a], tcount[b], tcount[c]\n"
                              "tdrop_enable[b]: true\n"),
                     0);
    assert_int_equal(C("tcount", "a", "accounted"), 50000);
    assert_int_equal(C("tcount", "b", "accounted"), 25000);
    assert_int_equal(C("pipeline", "b", "dropped_by_stage"), 25000);
    assert_int_equal(C("tcount", "c", "accounted"), 50000);
    assert_int_equal(C("tcount", "c", "flushes"), 1);
    done();
}

static void t_order(void **s)
{
    (void)s;
    /* implicit: tmark (100) before tdrop (300) -> tag 12 */
    assert_int_equal(run_conf("capture[default]: tcap\n"
                              "pipeline_overload: block\n"
                              "tcap_records: 1000\n"
                              "plugins: tcount[a]\n"
                              "tdrop_enable: true\ntmark_enable: yes\n"),
                     0);
    assert_int_equal(C("tcount", "a", "accounted"), 500);
    assert_int_equal(C("tcount", "a", "tagged"), 500);
    done();
    /* explicit order wins: tdrop then tmark -> tag 21 */
    assert_int_equal(run_conf("capture[default]: tcap\n"
                              "pipeline_overload: block\n"
                              "tcap_records: 1000\n"
                              "pipeline[x]: tdrop | tmark | tcount\n"
                              "tcount_tag[x]: 21\n"),
                     0);
    assert_int_equal(C("tcount", "x", "accounted"), 500);
    assert_int_equal(C("tcount", "x", "tagged"), 500);
    done();
}

static void t_drop_policy(void **s)
{
    int64_t cap, recv, dq, acc;
    (void)s;
    assert_int_equal(run_conf("capture[default]: tcap\n"
                              "tcap_records: 200000\n"
                              "pipeline_overload: drop\n"
                              "pipeline_queue_batches: 2\n"
                              "plugins: tcount[slow], tcount[fast]\n"
                              "tcount_delay_us[slow]: 3000\n"),
                     0);
    cap = C("capture", "default", "records");
    recv = C("pipeline", "slow", "received");
    dq = C("pipeline", "slow", "dropped_queue_full");
    acc = C("tcount", "slow", "accounted");
    assert_int_equal(cap, 200000);
    assert_true(dq > 0);
    assert_int_equal(recv + dq, cap);
    assert_int_equal(acc, recv);
    assert_int_equal(C("tcount", "slow", "final_accounted"), acc);
    assert_int_equal(C("pipeline", "fast", "received") +
                         C("pipeline", "fast", "dropped_queue_full"),
                     cap);
    done();
}

static void t_block_policy(void **s)
{
    (void)s;
    assert_int_equal(run_conf("capture[default]: tcap\n"
                              "tcap_records: 20000\n"
                              "pipeline_overload: block\n"
                              "pipeline_queue_batches: 2\n"
                              "plugins: tcount[slow]\n"
                              "tcount_delay_us: 200\n"),
                     0);
    assert_int_equal(C("tcount", "slow", "accounted"), 20000);
    assert_int_equal(C("pipeline", "slow", "dropped_queue_full"), 0);
    done();
}

/* auto on live input: a slow pipeline makes the capture wait (the input's
 * kernel buffer holds the burst) instead of dropping */
static void t_wait_policy_slow(void **s)
{
    (void)s;
    assert_int_equal(run_conf("capture[default]: tcap\n"
                              "tcap_records: 20000\n"
                              "pipeline_queue_batches: 2\n"
                              "plugins: tcount[slow]\n"
                              "tcount_delay_us: 200\n"),
                     0);
    assert_int_equal(C("tcount", "slow", "accounted"), 20000);
    assert_int_equal(C("pipeline", "slow", "dropped_queue_full"), 0);
    done();
}

/* auto on live input: a pipeline that takes nothing for
 * pipeline_overload_wait sheds load (counted) while the other one gets
 * every record */
static void t_wait_policy_stuck(void **s)
{
    int64_t cap, dq;
    (void)s;
    assert_int_equal(run_conf("capture[default]: tcap\n"
                              "tcap_records: 40000\n"
                              "pipeline_queue_batches: 2\n"
                              "pipeline_overload_wait: 20\n"
                              "plugins: tcount[stuck], tcount[fast]\n"
                              "tcount_delay_us[stuck]: 100000\n"),
                     0);
    cap = C("capture", "default", "records");
    dq = C("pipeline", "stuck", "dropped_queue_full");
    assert_int_equal(cap, 40000);
    assert_true(dq > 0);
    assert_int_equal(C("pipeline", "stuck", "received") + dq, cap);
    assert_int_equal(C("tcount", "stuck", "accounted"),
                     C("pipeline", "stuck", "received"));
    assert_int_equal(C("tcount", "fast", "accounted"), cap);
    assert_int_equal(C("pipeline", "fast", "dropped_queue_full"), 0);
    done();
}

/* One tcap -> tcount[a] run with the keys in `keys`: every record
 * accounted once and in order; batches run inline: want_inline 1 some,
 * 0 none, -1 not checked. */
static void inline_case(const char *keys, int64_t n, int want_inline)
{
    char conf[512];
    snprintf(conf, sizeof(conf),
             "capture[default]: tcap\n%splugins: tcount[a]\n", keys);
    assert_int_equal(run_conf(conf), 0);
    assert_int_equal(C("tcount", "a", "accounted"), n);
    assert_int_equal(C("tcount", "a", "out_of_order"), 0);
    if (want_inline > 0)
        assert_true(C("pipeline", "a", "batches_inline") > 0);
    else if (want_inline == 0)
        assert_int_equal(C("pipeline", "a", "batches_inline"), 0);
    done();
}

/* pipeline_inline: live input, one pipeline, a flow collector (auto): the
 * capture thread runs batches itself while the pipeline thread has nothing
 * queued; every record arrives once and in order.  Off, pmacctd (auto) and
 * two pipelines: every batch is queued. */
static void t_inline(void **s)
{
    (void)s;
    daemon_name = "nfacctd";
    assert_int_equal(run_conf("capture[default]: tcap\n"
                              "tcap_records: 200000\n"
                              "plugins: tcount[a]\n"),
                     0);
    assert_int_equal(C("tcount", "a", "accounted"), 200000);
    assert_int_equal(C("tcount", "a", "out_of_order"), 0);
    assert_true(C("pipeline", "a", "batches_inline") > 0);
    assert_int_equal(C("tcount", "a", "final_accounted"), 200000);
    done();
    /* a slow stage: the pipeline thread is busy with queued batches at
     * times, the capture thread runs the others; still in order */
    inline_case("tcap_records: 20000\npipeline_queue_batches: 4\n"
                "tcount_delay_us: 100\n",
                20000, -1);
    inline_case("tcap_records: 200000\npipeline_inline: false\n", 200000, 0);
    /* two pipelines: auto leaves them to their threads */
    assert_int_equal(run_conf("capture[default]: tcap\n"
                              "tcap_records: 50000\n"
                              "plugins: tcount[a], tcount[b]\n"),
                     0);
    assert_int_equal(C("tcount", "a", "accounted"), 50000);
    assert_int_equal(C("tcount", "b", "accounted"), 50000);
    assert_int_equal(C("pipeline", "a", "batches_inline") +
                         C("pipeline", "b", "batches_inline"),
                     0);
    done();
    /* pmacctd: auto keeps the capture thread to capturing; true inlines */
    daemon_name = "pmacctd";
    inline_case("tcap_records: 50000\n", 50000, 0);
    inline_case("tcap_records: 50000\npipeline_inline: true\n", 50000, 1);
}

static void t_sigterm_flushes(void **s)
{
    int64_t v;
    (void)s;
    assert_int_equal(setup_conf("capture[default]: tcap\n"
                                "tcap_forever: true\n"
                                "pipeline_overload: block\n"
                                "plugins: tcount[a]\n"
                                "tsvc_enable: true\n"),
                     0);
    assert_int_equal(D.nsvcs, 1);
    assert_int_equal(pmd_signals_start(&D), 0);
    assert_int_equal(pmd_start(&D), 0);
    v = poll_ge("tcount", "a", "accounted", 100000, 10);
    assert_true(v >= 100000);
    assert_int_equal(poll_ge("tsvc", "default", "started", 1, 10), 1);
    /* SIGUSR2 reaches every stage's reload() on its pipeline thread */
    kill(getpid(), SIGUSR2);
    assert_int_equal(poll_ge("tcount", "a", "reloads", 1, 10), 1);
    kill(getpid(), SIGTERM);
    assert_int_equal(pmd_wait(&D), 0);
    pmd_signals_stop();
    assert_int_equal(C("tcount", "a", "flushes"), 1);
    assert_int_equal(C("tcount", "a", "accounted"),
                     C("capture", "default", "records"));
    assert_int_equal(C("tcount", "a", "final_accounted"),
                     C("tcount", "a", "accounted"));
    assert_int_equal(C("tsvc", "default", "stopped"), 1);
    done();
}

static void t_idle_tick(void **s)
{
    (void)s;
    assert_int_equal(setup_conf("capture[default]: tcap\n"
                                "tcap_forever: true\ntcap_fill: 1\n"
                                "pipeline_overload: block\n"
                                "plugins: tcount[a]\n"),
                     0);
    assert_int_equal(pmd_start(&D), 0);
    assert_true(poll_ge("tcount", "a", "ticks", 1, 5) >= 1);
    pmd_request_stop(&D);
    assert_int_equal(pmd_wait(&D), 0);
    assert_int_equal(C("tcount", "a", "flushes"), 1);
    done();
}

static void t_stats_render(void **s)
{
    struct pm_buf b = {0};
    (void)s;
    assert_int_equal(run_conf("capture[default]: tcap\n"
                              "tcap_records: 10\nplugins: tcount[a]\n"),
                     0);
    assert_int_equal(stats_render(&b, 1), 0);
    assert_non_null(
        strstr(b.p, "pmacct_pipeline_received{instance=\"a\"} 10\n"));
    assert_non_null(strstr(b.p, "pmacct_tcount_accounted{instance=\"a\"} 10\n"));
    free(b.p);
    done();
}

int main(void)
{
    const char *b = getenv("top_builddir");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_n_in_n_out),   cmocka_unit_test(t_several_pipelines),
        cmocka_unit_test(t_order),        cmocka_unit_test(t_drop_policy),
        cmocka_unit_test(t_block_policy), cmocka_unit_test(t_wait_policy_slow),
        cmocka_unit_test(t_wait_policy_stuck), cmocka_unit_test(t_inline),
        cmocka_unit_test(t_sigterm_flushes),
        cmocka_unit_test(t_idle_tick),    cmocka_unit_test(t_stats_render),
    };
    if (!b)
        b = ".";
    snprintf(moddir, sizeof(moddir), "%s/tests/modules/.libs", b);
    unsetenv("PMACCT_MODULE_DIR"); /* only the test modules */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
