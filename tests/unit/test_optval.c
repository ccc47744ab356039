/* test_optval.c - option value parsing per pm_opt_type. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pmdata.h"

struct cfg {
    char *s;
    int b;
    int64_t i;
    uint64_t u, sz, dur;
    int e;
    char *path;
};

static const struct pm_option opts[] = {
    {"s", PM_OPT_STR, 0, offsetof(struct cfg, s), "hello", NULL, "", 0},
    {"b", PM_OPT_BOOL, 0, offsetof(struct cfg, b), "true", NULL, "", 0},
    {"i", PM_OPT_INT, 0, offsetof(struct cfg, i), "-5", NULL, "", 0},
    {"u", PM_OPT_UINT, 0, offsetof(struct cfg, u), NULL, NULL, "", 0},
    {"sz", PM_OPT_SIZE, 0, offsetof(struct cfg, sz), "10K", NULL, "", 0},
    {"dur", PM_OPT_DURATION, 0, offsetof(struct cfg, dur), "5m", NULL, "", 0},
    {"e", PM_OPT_ENUM, 0, offsetof(struct cfg, e), "csv",
     "formatted|csv|json", "", 0},
    {"path", PM_OPT_PATH, 0, offsetof(struct cfg, path), NULL, NULL, "", 0},
    PM_OPTION_END};

static void test_defaults(void **st)
{
    struct cfg c;
    char err[256];
    (void)st;
    memset(&c, 0, sizeof(c));
    assert_int_equal(pmc_options_defaults(opts, &c, err, sizeof(err)), 0);
    assert_string_equal(c.s, "hello");
    assert_int_equal(c.b, 1);
    assert_int_equal(c.i, -5);
    assert_int_equal(c.u, 0);
    assert_int_equal(c.sz, 10240);
    assert_int_equal(c.dur, 300);
    assert_int_equal(c.e, 1);
    assert_null(c.path);
    pmc_options_free(opts, &c);
    assert_null(c.s);
}

static void test_values(void **st)
{
    struct cfg c;
    char err[256];
    const char *yes[] = {"true", "YES", "1", "on", " yes "}, *no[] = {"false", "no", "0", "Off"};
    unsigned k;
    (void)st;
    memset(&c, 0, sizeof(c));
    for (k = 0; k < 5; k++) {
        c.b = 0;
        assert_int_equal(pmc_option_parse(&opts[1], yes[k], &c, err, sizeof(err)), 0);
        assert_int_equal(c.b, 1);
    }
    for (k = 0; k < 4; k++) {
        assert_int_equal(pmc_option_parse(&opts[1], no[k], &c, err, sizeof(err)), 0);
        assert_int_equal(c.b, 0);
    }
    assert_int_equal(pmc_option_parse(&opts[1], "maybe", &c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "maybe"));
    assert_int_equal(pmc_option_parse(&opts[4], "2M", &c, err, sizeof(err)), 0);
    assert_int_equal(c.sz, 2097152);
    assert_int_equal(pmc_option_parse(&opts[4], "1G", &c, err, sizeof(err)), 0);
    assert_int_equal(c.sz, 1073741824ull);
    assert_int_equal(pmc_option_parse(&opts[4], "100", &c, err, sizeof(err)), 0);
    assert_int_equal(c.sz, 100);
    assert_int_equal(pmc_option_parse(&opts[4], "x", &c, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "sz: expected a size like 10M, got 'x'");
    assert_int_equal(pmc_option_parse(&opts[4], "-1", &c, err, sizeof(err)), -EINVAL);
    assert_int_equal(pmc_option_parse(&opts[5], "60", &c, err, sizeof(err)), 0);
    assert_int_equal(c.dur, 60);
    assert_int_equal(pmc_option_parse(&opts[5], "2h", &c, err, sizeof(err)), 0);
    assert_int_equal(c.dur, 7200);
    assert_int_equal(pmc_option_parse(&opts[5], "1d", &c, err, sizeof(err)), 0);
    assert_int_equal(c.dur, 86400);
    assert_int_equal(pmc_option_parse(&opts[5], "1w", &c, err, sizeof(err)), 0);
    assert_int_equal(c.dur, 604800);
    assert_int_equal(pmc_option_parse(&opts[5], "10s", &c, err, sizeof(err)), 0);
    assert_int_equal(c.dur, 10);
    assert_int_equal(pmc_option_parse(&opts[5], "5x", &c, err, sizeof(err)), -EINVAL);
    assert_int_equal(pmc_option_parse(&opts[6], "JSON", &c, err, sizeof(err)), 0);
    assert_int_equal(c.e, 2);
    assert_int_equal(pmc_option_parse(&opts[6], "xml", &c, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "e: expected one of formatted|csv|json, got 'xml'");
    assert_int_equal(pmc_option_parse(&opts[2], "-42", &c, err, sizeof(err)), 0);
    assert_int_equal(c.i, -42);
    assert_int_equal(pmc_option_parse(&opts[2], "4x", &c, err, sizeof(err)), -EINVAL);
    assert_int_equal(pmc_option_parse(&opts[3], "18446744073709551615", &c, err, sizeof(err)), 0);
    assert_true(c.u == UINT64_MAX);
    assert_int_equal(pmc_option_parse(&opts[3], "-1", &c, err, sizeof(err)), -EINVAL);
    assert_int_equal(pmc_option_parse(&opts[0], "a", &c, err, sizeof(err)), 0);
    assert_int_equal(pmc_option_parse(&opts[0], " b c ", &c, err, sizeof(err)), 0);
    assert_string_equal(c.s, "b c");
    assert_int_equal(pmc_option_parse(&opts[7], "/tmp/x-%Y", &c, err, sizeof(err)), 0);
    assert_string_equal(c.path, "/tmp/x-%Y");
    pmc_options_free(opts, &c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_defaults),
                                       cmocka_unit_test(test_values)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
