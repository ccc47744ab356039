/*
 * test_contract.c - the module contract, checked on every module built in
 * the tree: each .so under $PMACCT_MODULE_DIR (colon-separated, set by the
 * test environment) is loaded through the real loader (core/loader.c) and
 * its descriptor checked: magic/ABI/size, name = file name, kind, version
 * and summary, the callbacks its kind needs, a well-formed option table
 * (lower-case unique names, help, enum values, defaults that parse,
 * config_size covering every offset), and across modules: a key declared
 * by two modules has the same type.  Adding a module that breaks any of
 * these makes this test fail, naming the module and the key.
 *
 * Single-threaded; no shared state.
 */
#include <dirent.h>
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
#include "pmdata.h"

#define MAX_MODS 256

static struct pm_mod mods[MAX_MODS];
static size_t nmods;
static int problems;

static void problem(const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void problem(const char *mod, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "CONTRACT %s: ", mod);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    problems++;
}

static size_t type_size(uint32_t t)
{
    switch (t) {
    case PM_OPT_STR:
    case PM_OPT_PATH:
    case PM_OPT_LIST: return sizeof(char *);
    case PM_OPT_BOOL:
    case PM_OPT_ENUM: return sizeof(int);
    case PM_OPT_INT: return sizeof(int64_t);
    case PM_OPT_UINT:
    case PM_OPT_SIZE:
    case PM_OPT_DURATION: return sizeof(uint64_t);
    default: return 0;
    }
}

static int good_name(const char *n)
{
    if (!n || !*n)
        return 0;
    for (; *n; n++)
        if (!((*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') ||
              *n == '_'))
            return 0;
    return 1;
}

/* Load every module file of every directory of $PMACCT_MODULE_DIR with the
 * real loader; a refusal is a contract failure. */
static int setup(void **s)
{
    const char *list = getenv("PMACCT_MODULE_DIR");
    char *copy, *dir, *save = NULL;
    (void)s;
    if (!list || !*list) {
        fprintf(stderr, "PMACCT_MODULE_DIR is not set\n");
        return -1;
    }
    copy = strdup(list);
    for (dir = strtok_r(copy, ":", &save); dir;
         dir = strtok_r(NULL, ":", &save)) {
        DIR *dd = opendir(dir);
        struct dirent *de;
        if (!dd)
            continue;
        while ((de = readdir(dd))) {
            size_t len = strlen(de->d_name);
            char name[256], path[4096], err[1024];
            if (len <= 3 || strcmp(de->d_name + len - 3, ".so") ||
                de->d_name[0] == '.')
                continue;
            snprintf(name, sizeof(name), "%.*s", (int)(len - 3), de->d_name);
            snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
            if (nmods == MAX_MODS) {
                fprintf(stderr, "more than %d modules\n", MAX_MODS);
                break;
            }
            if (loader_load(path, name, &mods[nmods], err, sizeof(err)) < 0)
                problem(name, "refused by the loader: %s", err);
            else
                nmods++;
        }
        closedir(dd);
    }
    free(copy);
    return 0;
}

static int teardown(void **s)
{
    struct modset ms = {0};
    (void)s;
    ms.m = malloc(sizeof(*ms.m) * (nmods ? nmods : 1));
    memcpy(ms.m, mods, sizeof(*ms.m) * nmods);
    ms.n = nmods;
    modset_free(&ms);
    return 0;
}

static void t_found(void **s)
{
    size_t i;
    (void)s;
    fprintf(stderr, "modules checked:");
    for (i = 0; i < nmods; i++)
        fprintf(stderr, " %s", mods[i].name);
    fprintf(stderr, "\n");
    /* the tree always builds at least one module; none loaded means the
     * environment is wrong, not that the contract holds */
    assert_true(nmods > 0);
    assert_int_equal(problems, 0); /* loader refusals */
}

static void check_desc(const struct pm_mod *m)
{
    const struct pm_module_desc *d = m->d;
    const char *n = m->name;
    if (d->magic != PM_MODULE_MAGIC)
        problem(n, "bad magic 0x%08x", (unsigned)d->magic);
    if (PM_ABI_MAJOR_OF(d->abi) != PM_ABI_MAJOR ||
        PM_ABI_MINOR_OF(d->abi) > PM_ABI_MINOR)
        problem(n, "ABI %u.%u", (unsigned)PM_ABI_MAJOR_OF(d->abi),
                (unsigned)PM_ABI_MINOR_OF(d->abi));
    if (d->size < sizeof(struct pm_module_desc))
        problem(n, "descriptor size %u < %zu", (unsigned)d->size,
                sizeof(struct pm_module_desc));
    if (!d->name || strcmp(d->name, n))
        problem(n, "descriptor name '%s' differs from the file name",
                d->name ? d->name : "(null)");
    if (d->kind < PM_KIND_CAPTURE || d->kind > PM_KIND_SERVICE)
        problem(n, "invalid kind %u", (unsigned)d->kind);
    if (!d->version || !*d->version)
        problem(n, "empty version");
    if (!d->summary || !*d->summary)
        problem(n, "empty summary");
    if (!d->init)
        problem(n, "no init()");
    if ((d->kind == PM_KIND_CAPTURE || d->kind == PM_KIND_SERVICE) &&
        !d->run)
        problem(n, "%s module without run()", kind_name(d->kind));
    if ((d->kind == PM_KIND_TRANSFORM || d->kind == PM_KIND_OUTPUT) &&
        !d->process)
        problem(n, "%s module without process()", kind_name(d->kind));
    if (d->config_size && !d->options)
        problem(n, "config_size %zu without an option table",
                d->config_size);
}

static void check_options(const struct pm_mod *m)
{
    const struct pm_module_desc *d = m->d;
    const struct pm_option *o, *p;
    const char *n = m->name;
    char err[512];
    void *cfg;
    if (!d->options)
        return;
    for (o = d->options; o->name; o++) {
        size_t sz = type_size(o->type);
        if (!good_name(o->name))
            problem(n, "option '%s': name not [a-z0-9_]+", o->name);
        for (p = d->options; p < o; p++)
            if (!strcmp(p->name, o->name))
                problem(n, "option '%s' declared twice", o->name);
        if (!o->help || !*o->help)
            problem(n, "option '%s': empty help", o->name);
        if (!sz)
            problem(n, "option '%s': invalid type %u", o->name,
                    (unsigned)o->type);
        if (o->type == PM_OPT_ENUM) {
            const char *v = o->values;
            int ok = v && *v && v[0] != '|' && v[strlen(v) - 1] != '|' &&
                     !strstr(v, "||");
            if (!ok)
                problem(n, "option '%s': enum values '%s' not like a|b|c",
                        o->name, v ? v : "(null)");
        }
        if (sz && o->offset + sz > d->config_size)
            problem(n,
                    "option '%s': offset %zu + %zu bytes beyond config_size "
                    "%zu",
                    o->name, o->offset, sz, d->config_size);
    }
    /* defaults parse (into a buffer the size the module declared, so a
     * bad offset shows up under the sanitizers too) */
    cfg = calloc(1, d->config_size ? d->config_size : 1);
    assert_non_null(cfg);
    if (pmc_options_defaults(d->options, cfg, err, sizeof(err)) < 0)
        problem(n, "defaults do not parse: %s", err);
    pmc_options_free(d->options, cfg);
    free(cfg);
}

static void t_descriptors(void **s)
{
    size_t i;
    (void)s;
    problems = 0;
    for (i = 0; i < nmods; i++)
        check_desc(&mods[i]);
    assert_int_equal(problems, 0);
}

static void t_options(void **s)
{
    size_t i;
    (void)s;
    problems = 0;
    for (i = 0; i < nmods; i++)
        check_options(&mods[i]);
    assert_int_equal(problems, 0);
}

/* A key declared by several modules (pcap_savefile, ...) must mean the
 * same thing: same type, and for an enum the same values.  The core's own
 * table is included: a module must not redeclare a core key differently. */
static void t_shared_keys(void **s)
{
    size_t i, j;
    const struct pm_module_desc *core = &pmd_core_desc;
    (void)s;
    problems = 0;
    for (i = 0; i <= nmods; i++) {
        const struct pm_module_desc *a = i < nmods ? mods[i].d : core;
        const struct pm_option *o, *p;
        if (!a->options)
            continue;
        for (j = i + 1; j <= nmods; j++) {
            const struct pm_module_desc *b = j < nmods ? mods[j].d : core;
            if (!b->options)
                continue;
            for (o = a->options; o->name; o++)
                for (p = b->options; p->name; p++) {
                    if (strcmp(o->name, p->name))
                        continue;
                    if (o->type != p->type)
                        problem(a->name,
                                "key '%s' has type %u here and %u in %s",
                                o->name, (unsigned)o->type,
                                (unsigned)p->type, b->name);
                    else if (o->type == PM_OPT_ENUM &&
                             strcmp(o->values ? o->values : "",
                                    p->values ? p->values : ""))
                        problem(a->name,
                                "enum key '%s' has values %s here and %s "
                                "in %s",
                                o->name, o->values, p->values, b->name);
                }
        }
    }
    assert_int_equal(problems, 0);
}

/* The checks themselves: a broken descriptor is caught. */
static int x_init(const struct pm_host *h, const struct pm_instance *i,
                  void *c, void **ctx)
{
    (void)h, (void)i, (void)c, (void)ctx;
    return 0;
}

static int x_process(void *ctx, struct pm_batch *b)
{
    (void)ctx, (void)b;
    return 0;
}

struct xcfg {
    int e;
    char *s;
};

static void t_self(void **s)
{
    static const struct pm_option bad_opts[] = {
        {"Bad-Name", PM_OPT_STR, 0, offsetof(struct xcfg, s), NULL, NULL,
         "x", 0},
        {"x_enum", PM_OPT_ENUM, 0, offsetof(struct xcfg, e), "c", "a||b",
         "", 0},
        {"x_far", PM_OPT_UINT, 0, 64, NULL, NULL, "far", 0},
        {"x_enum", PM_OPT_BOOL, 0, offsetof(struct xcfg, e), NULL, NULL,
         "dup", 0},
        PM_OPTION_END,
    };
    static const struct pm_module_desc bad = {
        PM_MODULE_HEAD(PM_KIND_OUTPUT),
        .name = "xbad",
        .version = "",
        .summary = NULL,
        .options = bad_opts,
        .config_size = sizeof(struct xcfg),
        .init = x_init,
    };
    struct pm_mod m = {.name = (char *)"xbad", .d = &bad};
    (void)s;
    (void)x_process;
    problems = 0;
    check_desc(&m);
    /* version, summary, process */
    assert_int_equal(problems, 3);
    problems = 0;
    check_options(&m);
    /* name, empty help, enum values, offset, duplicate, defaults ('c' is
     * not a value) */
    assert_int_equal(problems, 6);
    problems = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_found),      cmocka_unit_test(t_descriptors),
        cmocka_unit_test(t_options),    cmocka_unit_test(t_shared_keys),
        cmocka_unit_test(t_self),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
