/*
 * test_loader.c - the module loader against the test-only modules built
 * in tests/modules: a good module loads; wrong magic, wrong ABI major,
 * newer ABI minor and a missing entry symbol are refused with their exact
 * one-line messages; descriptor checks (size, kind, name) without dlopen.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pmd.h"

static char dir_good[1024], dir_bad[1024];

static void path_of(char *out, size_t len, const char *dir, const char *n)
{
    snprintf(out, len, "%s/%s.so", dir, n);
}

static void t_good(void **s)
{
    struct pm_mod m;
    char path[1200], err[1024];
    (void)s;
    path_of(path, sizeof(path), dir_good, "tcount");
    assert_int_equal(loader_load(path, "tcount", &m, err, sizeof(err)), 0);
    assert_string_equal(m.name, "tcount");
    assert_int_equal(m.d->kind, PM_KIND_OUTPUT);
    assert_non_null(m.handle);
    {
        struct modset ms = {0};
        ms.m = malloc(sizeof(m));
        ms.m[0] = m;
        ms.n = 1;
        modset_free(&ms);
    }
    /* the file name must match the module's name */
    assert_int_equal(loader_load(path, "other", &m, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "module calls itself 'tcount' but its file "
                                "is named 'other'"));
}

static void expect_refusal(const char *name, const char *fmt)
{
    struct pm_mod m;
    char path[1200], err[1024], want[2048];
    path_of(path, sizeof(path), dir_bad, name);
    assert_int_not_equal(loader_load(path, name, &m, err, sizeof(err)), 0);
    snprintf(want, sizeof(want), fmt, path);
    assert_string_equal(err, want);
}

static void t_bad_magic(void **s)
{
    (void)s;
    expect_refusal("tbadmagic",
                   "%s: not a pmacct module (bad magic 0x12345678, expected "
                   "0x504d4d31): rebuild it against pmacct-sdk 1.x");
}

/* The daemon's ABI minor as text (the refusals name it). */
#define STR_(x) #x
#define STR(x) STR_(x)
#define MINOR STR(PM_ABI_MINOR)

static void t_bad_major(void **s)
{
    (void)s;
    expect_refusal("tbadmajor",
                   "%s: module built against pmacct-sdk ABI 2.0, this daemon "
                   "speaks ABI 1." MINOR ": rebuild the module against "
                   "pmacct-sdk 1.x (at most 1." MINOR ")");
}

static void t_new_minor(void **s)
{
    (void)s;
    expect_refusal("tnewminor",
                   "%s: module built against pmacct-sdk ABI 1.7, this daemon "
                   "speaks ABI 1." MINOR ": rebuild the module against "
                   "pmacct-sdk 1.x (at most 1." MINOR ")");
}

static void t_no_symbol(void **s)
{
    (void)s;
    expect_refusal("tnosym",
                   "%s: no pm_module_descriptor symbol: not a pmacct module "
                   "(export it with PM_MODULE_EXPORT and rebuild against "
                   "pmacct-sdk 1.x)");
}

static int x_init(const struct pm_host *h, const struct pm_instance *i,
                  void *c, void **ctx)
{
    (void)h, (void)i, (void)c, (void)ctx;
    return 0;
}

static void t_check_desc(void **s)
{
    struct pm_module_desc d = {PM_MODULE_HEAD(PM_KIND_SERVICE),
                               .name = "x", .init = x_init};
    char err[512];
    (void)s;
    assert_int_equal(loader_check_desc(&d, "x.so", "x", err, sizeof(err)), 0);
    d.size = 16;
    assert_int_equal(loader_check_desc(&d, "x.so", "x", err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "x.so: descriptor is 16 bytes"));
    d.size = sizeof(d);
    d.kind = 9;
    assert_int_equal(loader_check_desc(&d, "x.so", "x", err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "x.so: unknown module kind 9"));
    d.kind = PM_KIND_OUTPUT; /* without process() */
    assert_int_equal(loader_check_desc(&d, "x.so", "x", err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "lacks a required callback"));
}

static void t_scan(void **s)
{
    struct modset ms = {0};
    char list[2100];
    (void)s;
    /* first directory wins; every bad module is listed as refused */
    snprintf(list, sizeof(list), "%s:%s", dir_good, dir_bad);
    unsetenv("PMACCT_MODULE_DIR");
    assert_int_equal(modset_set_dirs(&ms, list), 0);
    assert_int_equal(modset_scan(&ms), 0);
    assert_non_null(modset_find(&ms, "tcap"));
    assert_non_null(modset_find(&ms, "tcount"));
    assert_null(modset_find(&ms, "tbadmagic"));
    assert_non_null(modset_refused(&ms, "tbadmagic"));
    assert_non_null(modset_refused(&ms, "tbadmajor"));
    assert_non_null(modset_refused(&ms, "tnewminor"));
    assert_non_null(modset_refused(&ms, "tnosym"));
    modset_free(&ms);
}

int main(void)
{
    const char *b = getenv("top_builddir");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_good),      cmocka_unit_test(t_bad_magic),
        cmocka_unit_test(t_bad_major), cmocka_unit_test(t_new_minor),
        cmocka_unit_test(t_no_symbol), cmocka_unit_test(t_check_desc),
        cmocka_unit_test(t_scan),
    };
    if (!b)
        b = ".";
    snprintf(dir_good, sizeof(dir_good), "%s/tests/modules/.libs", b);
    snprintf(dir_bad, sizeof(dir_bad), "%s/tests/modules/bad/.libs", b);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
