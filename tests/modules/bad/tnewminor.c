/* tnewminor.c - test-only broken module: ABI 1.7, newer than the core. */
#include <stdlib.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>

static int t_init(const struct pm_host *host, const struct pm_instance *inst,
                  void *config, void **ctx)
{
    (void)host, (void)inst, (void)config;
    *ctx = NULL;
    return 0;
}
static int t_process(void *ctx, struct pm_batch *b)
{
    (void)ctx, (void)b;
    return 0;
}

static const struct pm_module_desc desc = {
    .magic = PM_MODULE_MAGIC,
    .abi = ((1u << 16) | 7u),
    .size = (uint32_t)sizeof(struct pm_module_desc),
    .kind = PM_KIND_OUTPUT,
    .name = "tnewminor",
    .version = "1.0",
    .summary = "broken on purpose",
    .init = t_init,
    .process = t_process,
};
PM_MODULE_EXPORT(desc)
