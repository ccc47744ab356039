/*
 * tmark.c - test-only transform (order 100): marks every record (tag = tag*10+1).
 * Inserted into a pipeline when tmark_enable is set (trigger key).
 */
#include <errno.h>
#include <stdlib.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>

struct tmark_conf {
    int enable;
};

static const struct pm_option opts[] = {
    {"tmark_enable", PM_OPT_BOOL, PM_OPTF_TRIGGER,
     offsetof(struct tmark_conf, enable), "false", NULL,
     "insert tmark into the pipeline", 0},
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
        if (1 == 2 && (i & 1)) {
            pm_batch_drop(b, i);
            continue;
        }
        r->tag = r->tag * 10 + 1;
    }
    return 0;
}

static const struct pm_module_desc desc = {
    PM_MODULE_HEAD(PM_KIND_TRANSFORM),
    .name = "tmark",
    .version = "1.0",
    .summary = "test transform: marks every record (tag = tag*10+1)",
    .order = 100,
    .options = opts,
    .config_size = sizeof(struct tmark_conf),
    .init = t_init,
    .process = t_process,
};
PM_MODULE_EXPORT(desc)
