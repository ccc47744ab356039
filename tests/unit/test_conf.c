/*
 * test_conf.c - configuration syntax (conf.c) and option resolution
 * (options.c) against static in-test module descriptors: global vs
 * instance values, GLOBAL / NO_GLOBAL keys, unknown keys and instances,
 * bad values, missing modules, the explicit pipeline form, triggers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pmd.h"

struct xconf {
    uint64_t refresh;
    char *g;
    char *ni;
    char *req;
    int trig;
};

static int x_init(const struct pm_host *h, const struct pm_instance *i,
                  void *c, void **ctx)
{
    (void)h, (void)i, (void)c;
    *ctx = NULL;
    return 0;
}
static int x_run(void *ctx)
{
    (void)ctx;
    return PM_RUN_EOF;
}
static int x_process(void *ctx, struct pm_batch *b)
{
    (void)ctx, (void)b;
    return 0;
}

static const struct pm_option out_opts[] = {
    {"xout_refresh", PM_OPT_DURATION, 0, offsetof(struct xconf, refresh),
     "60", NULL, "refresh", 'r'},
    {"xout_global", PM_OPT_STR, PM_OPTF_GLOBAL, offsetof(struct xconf, g),
     NULL, NULL, "global only", 0},
    {"xout_inst", PM_OPT_STR, PM_OPTF_NO_GLOBAL, offsetof(struct xconf, ni),
     NULL, NULL, "instance only", 0},
    PM_OPTION_END};
static const struct pm_option req_opts[] = {
    {"xreq_path", PM_OPT_PATH, PM_OPTF_REQUIRED, offsetof(struct xconf, req),
     NULL, NULL, "where to write", 0},
    PM_OPTION_END};
static const struct pm_option tf_opts[] = {
    {"xtf_map", PM_OPT_PATH, PM_OPTF_TRIGGER, offsetof(struct xconf, req),
     NULL, NULL, "a map", 0},
    PM_OPTION_END};
static const struct pm_option tf2_opts[] = {
    {"xtf2_on", PM_OPT_BOOL, PM_OPTF_TRIGGER, offsetof(struct xconf, trig),
     "false", NULL, "on", 0},
    PM_OPTION_END};

static const struct pm_module_desc cap_desc = {
    PM_MODULE_HEAD(PM_KIND_CAPTURE), .name = "pcap", .version = "t",
    .init = x_init, .run = x_run};
static const struct pm_module_desc out_desc = {
    PM_MODULE_HEAD(PM_KIND_OUTPUT), .name = "xout", .version = "t",
    .options = out_opts, .config_size = sizeof(struct xconf),
    .init = x_init, .process = x_process};
static const struct pm_module_desc req_desc = {
    PM_MODULE_HEAD(PM_KIND_OUTPUT), .name = "xreq", .version = "t",
    .options = req_opts, .config_size = sizeof(struct xconf),
    .init = x_init, .process = x_process};
static const struct pm_module_desc tf_desc = {
    PM_MODULE_HEAD(PM_KIND_TRANSFORM), .name = "xtf", .version = "t",
    .order = 500, .options = tf_opts, .config_size = sizeof(struct xconf),
    .init = x_init, .process = x_process};
static const struct pm_module_desc tf2_desc = {
    PM_MODULE_HEAD(PM_KIND_TRANSFORM), .name = "xtf2", .version = "t",
    .order = 100, .options = tf2_opts, .config_size = sizeof(struct xconf),
    .init = x_init, .process = x_process};

static struct pmd D;

static int resolve(const char *text)
{
    char err[512];
    int rc;
    pmd_free(&D);
    pmd_init(&D, "pmacctd");
    modset_add_static(&D.mods, &cap_desc);
    modset_add_static(&D.mods, &out_desc);
    modset_add_static(&D.mods, &req_desc);
    modset_add_static(&D.mods, &tf_desc);
    modset_add_static(&D.mods, &tf2_desc);
    rc = conf_parse_text(&D.conf, text, "t.conf", err, sizeof(err));
    if (rc < 0) {
        snprintf(D.lasterr, sizeof(D.lasterr), "%s", err);
        return rc;
    }
    D.conf.main_file = "t.conf";
    return pmd_resolve(&D);
}

static struct pipeline *pl(const char *name)
{
    size_t i;
    for (i = 0; i < D.npls; i++)
        if (!strcmp(D.pls[i]->name, name))
            return D.pls[i];
    return NULL;
}

static struct xconf *outconf(const char *name)
{
    struct pipeline *p = pl(name);
    assert_non_null(p);
    return p->st[p->nst - 1]->config;
}

static void t_syntax(void **s)
{
    struct conf c = {0};
    char err[256];
    (void)s;
    assert_int_equal(conf_parse_text(&c,
                                     "! comment\n\n  Print_Output[a] :  csv  \n"
                                     "# also comment\nsql_host: db:5432\n"
                                     "plugins: print[a]\n",
                                     "f.conf", err, sizeof(err)),
                     0);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.e[0].key, "print_output");
    assert_string_equal(c.e[0].inst, "a");
    assert_string_equal(c.e[0].value, "csv");
    assert_int_equal(c.e[0].line, 3);
    assert_string_equal(c.e[1].value, "db:5432");
    assert_null(c.e[1].inst);
    assert_string_equal(conf_lookup(&c, "print_output", "a", NULL)->value,
                        "csv");
    assert_null(conf_lookup(&c, "print_output", "b", NULL));
    assert_string_equal(conf_where(&c.e[1]), "f.conf:5");
    conf_free(&c);

    assert_int_equal(conf_parse_text(&c, "a: 1\nno colon here\n", "f.conf",
                                     err, sizeof(err)),
                     -EINVAL);
    assert_string_equal(err, "f.conf:2: expected 'key: value', got 'no colon "
                             "here'");
    conf_free(&c);
    assert_int_equal(
        conf_parse_text(&c, "key[a: 1\n", "f.conf", err, sizeof(err)),
        -EINVAL);
    assert_string_equal(err, "f.conf:1: malformed key 'key[a': expected "
                             "key[name]");
    conf_free(&c);
    /* later lines win */
    conf_parse_text(&c, "x: 1\nx: 2\n", "f", err, sizeof(err));
    assert_string_equal(conf_lookup(&c, "x", NULL, NULL)->value, "2");
    conf_free(&c);
}

static void t_global_vs_instance(void **s)
{
    (void)s;
    assert_int_equal(resolve("plugins: xout[a], xout[b]\n"
                             "xout_refresh: 120\n"
                             "xout_refresh[b]: 5m\n"
                             "xout_inst[a]: hello\n"
                             "aggregate[b]: src_host, dst_port\n"),
                     0);
    assert_int_equal(D.npls, 2);
    assert_int_equal(outconf("a")->refresh, 120);
    assert_int_equal(outconf("b")->refresh, 300);
    assert_string_equal(outconf("a")->ni, "hello");
    assert_null(outconf("b")->ni);
    assert_int_equal(pl("a")->nagg, 1);
    assert_int_equal(pl("b")->nagg, 2);
    assert_int_equal(D.ncaps, 1);
    assert_string_equal(D.caps[0]->st.inst.name, "default");
    /* default plugin is memory: not found here */
    assert_int_equal(resolve("xout_refresh: 1\n"), -EINVAL);
    assert_non_null(strstr(D.lasterr, "module not found: 'memory'"));
}

static void t_unknown_key(void **s)
{
    (void)s;
    assert_int_equal(resolve("plugins: xout\nxout_refrsh: 60\n"), -EINVAL);
    assert_string_equal(D.lasterr, "t.conf:2: unknown key 'xout_refrsh' "
                                   "(did you mean 'xout_refresh'?)");
    assert_int_equal(resolve("plugins: xout\nzzzzzzzzzzzz: 60\n"), -EINVAL);
    assert_non_null(strstr(D.lasterr, "t.conf:2: unknown key 'zzzzzzzzzzzz'"));
}

static void t_bad_value(void **s)
{
    (void)s;
    assert_int_equal(resolve("plugins: xout\nxout_refresh: x\n"), -EINVAL);
    assert_string_equal(D.lasterr,
                        "t.conf:2: key 'xout_refresh': expected a duration "
                        "like 60, 5m, 1h, 1d or 1w, got 'x'");
    assert_int_equal(resolve("plugins: xout\naggregate: src_hots\n"),
                     -EINVAL);
    assert_non_null(strstr(D.lasterr, "t.conf:2: key 'aggregate': "));
}

static void t_flags(void **s)
{
    (void)s;
    assert_int_equal(resolve("plugins: xout[a]\nxout_global[a]: 1\n"),
                     -EINVAL);
    assert_non_null(strstr(D.lasterr, "t.conf:2: key 'xout_global' applies "
                                      "to the whole daemon"));
    assert_int_equal(resolve("plugins: xout[a]\nxout_inst: 1\n"), -EINVAL);
    assert_non_null(
        strstr(D.lasterr, "t.conf:2: key 'xout_inst' must name an instance"));
    assert_int_equal(resolve("plugins: xout[a]\nxout_refresh[c]: 1\n"),
                     -EINVAL);
    assert_non_null(strstr(D.lasterr, "t.conf:2: key 'xout_refresh[c]': no "
                                      "instance named 'c'"));
    assert_int_equal(resolve("plugins: xreq[a]\n"), -EINVAL);
    assert_non_null(strstr(D.lasterr, "needs key 'xreq_path'"));
    assert_int_equal(resolve("plugins: xreq[a]\nxreq_path: /x\n"), 0);
    assert_int_equal(resolve("plugins: xout[a], xout[a]\n"), -EINVAL);
}

static void t_missing_module(void **s)
{
    (void)s;
    assert_int_equal(resolve("xout_refresh: 1\nplugins: xot[a]\n"), -EINVAL);
    assert_non_null(strstr(D.lasterr, "t.conf:2: module not found: 'xot'"));
    assert_non_null(strstr(D.lasterr, "did you mean 'xout'?"));
    assert_int_equal(resolve("plugins: xtf\n"), -EINVAL);
    assert_non_null(strstr(D.lasterr, "is a transform module, not an output"));
}

static void t_triggers_and_explicit(void **s)
{
    struct pipeline *p;
    (void)s;
    assert_int_equal(resolve("plugins: xout[a], xout[b]\n"
                             "xtf_map[b]: /tmp/map\n"
                             "xtf2_on: true\n"),
                     0);
    p = pl("a");
    assert_int_equal(p->nst, 2);
    assert_string_equal(p->st[0]->mod->name, "xtf2");
    p = pl("b");
    assert_int_equal(p->nst, 3);
    assert_string_equal(p->st[0]->mod->name, "xtf2"); /* order 100 */
    assert_string_equal(p->st[1]->mod->name, "xtf");  /* order 500 */
    assert_string_equal(p->st[2]->mod->name, "xout");
    /* a false bool trigger inserts nothing */
    assert_int_equal(resolve("plugins: xout[a]\nxtf2_on: false\n"), 0);
    assert_int_equal(pl("a")->nst, 1);

    assert_int_equal(
        resolve("pipeline[x]: xtf | xtf2[t2] | xout\nxout_refresh[x]: 7\n"
                "xtf_map[t2]: /m\n"),
        0);
    assert_int_equal(D.npls, 1);
    p = pl("x");
    assert_int_equal(p->nst, 3);
    assert_string_equal(p->st[0]->mod->name, "xtf");
    assert_string_equal(p->st[1]->inst.name, "t2");
    assert_int_equal(outconf("x")->refresh, 7);
    assert_int_equal(resolve("pipeline[x]: xtf | xtf2\n"), -EINVAL);
    assert_non_null(strstr(D.lasterr, "must end in an output module"));
    assert_int_equal(resolve("pipeline[x]: xout | xout\n"), -EINVAL);
    assert_non_null(strstr(D.lasterr, "'xout' is an output module; only "
                                      "transforms may come before"));
    assert_int_equal(resolve("pipeline: xout\n"), -EINVAL);
}

static void t_suggest(void **s)
{
    const char *c[] = {"print_output", "print_refresh_time", "sql_host"};
    (void)s;
    assert_string_equal(pmd_suggest("prnt_output", c, 3), "print_output");
    assert_null(pmd_suggest("kafka_topic", c, 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_syntax),
        cmocka_unit_test(t_global_vs_instance),
        cmocka_unit_test(t_unknown_key),
        cmocka_unit_test(t_bad_value),
        cmocka_unit_test(t_flags),
        cmocka_unit_test(t_missing_module),
        cmocka_unit_test(t_triggers_and_explicit),
        cmocka_unit_test(t_suggest),
    };
    int rc;
    pmd_init(&D, "pmacctd");
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    pmd_free(&D);
    return rc;
}
