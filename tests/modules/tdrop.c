/*
 * tdrop.c - test-only transform (order 300): drops every other record (tag = tag*10+2 on kept ones).
 * Inserted into a pipeline when tdrop_enable is set (trigger key).
 */
#include <errno.h>
#include <stdlib.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>

struct tdrop_conf {
    int enable;
};

static const struct pm_option opts[] = {
    {"tdrop_enable", PM_OPT_BOOL, PM_OPTF_TRIGGER,
     offsetof(struct tdrop_conf, enable), "false", NULL,
     "insert tdrop into the pipeline", 0},
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
        if (2 == 2 && (i & 1)) {
            pm_batch_drop(b, i);
            continue;
        }
        r->tag = r->tag * 10 + 2;
    }
    return 0;
}

static const struct pm_module_desc desc = {
    PM_MODULE_HEAD(PM_KIND_TRANSFORM),
    .name = "tdrop",
    .version = "1.0",
    .summary = "test transform: drops every other record (tag = tag*10+2 on kept ones)",
    .order = 300,
    .options = opts,
    .config_size = sizeof(struct tdrop_conf),
    .init = t_init,
    .process = t_process,
};
PM_MODULE_EXPORT(desc)
