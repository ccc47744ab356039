/*
 * tstep.c - test-only transforms built twice from this one source:
 *
 *   tmark (order 100): every record's tag becomes tag*10+1;
 *   tdrop (order 300): drops every other record, tag*10+2 on the kept ones.
 *
 * Built with -DTSTEP_MARK (tmark) or without (tdrop).  Each is inserted
 * into a pipeline when its trigger key <name>_enable is set, so the core's
 * tests can check the implicit order (100 before 300: tag 12) and the
 * explicit order of `pipeline[x]: tdrop | tmark | ...` (tag 21).
 */
#include <errno.h>
#include <stdlib.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>

#ifdef TSTEP_MARK
#define TNAME "tmark"
#define TORDER 100
#define TDIGIT 1
#define TDROPS 0
#define TSUMMARY "test transform: marks every record (tag = tag*10+1)"
#else
#define TNAME "tdrop"
#define TORDER 300
#define TDIGIT 2
#define TDROPS 1
#define TSUMMARY                                                              \
    "test transform: drops every other record (tag = tag*10+2 on kept ones)"
#endif

struct tstep_conf {
    int enable;
};

static const struct pm_option opts[] = {
    {TNAME "_enable", PM_OPT_BOOL, PM_OPTF_TRIGGER,
     offsetof(struct tstep_conf, enable), "false", NULL,
     "insert " TNAME " into the pipeline", 0},
    PM_OPTION_END};

static int t_init(const struct pm_host *host, const struct pm_instance *inst,
                  void *config, void **ctx)
{
    (void)host, (void)inst, (void)config;
    *ctx = NULL;
    return 0;
}

static int t_process(void *ctx, struct pm_batch *b)
{
    uint32_t i;
    (void)ctx;
    for (i = 0; i < b->n; i++) {
        struct pm_rec *r = pm_batch_rec(b, i);
        if (pm_batch_dropped(b, i))
            continue;
        if (TDROPS && (i & 1)) {
            pm_batch_drop(b, i);
            continue;
        }
        r->tag = r->tag * 10 + TDIGIT;
    }
    return 0;
}

static const struct pm_module_desc desc = {
    PM_MODULE_HEAD(PM_KIND_TRANSFORM),
    .name = TNAME,
    .version = "1.0",
    .summary = TSUMMARY,
    .order = TORDER,
    .options = opts,
    .config_size = sizeof(struct tstep_conf),
    .init = t_init,
    .process = t_process,
};
PM_MODULE_EXPORT(desc)
