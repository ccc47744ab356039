/* tnosym.c - test-only broken module: no pm_module_descriptor symbol. */
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
    .abi = PM_ABI,
    .size = (uint32_t)sizeof(struct pm_module_desc),
    .kind = PM_KIND_OUTPUT,
    .name = "tnosym",
    .version = "1.0",
    .summary = "broken on purpose",
    .init = t_init,
    .process = t_process,
};
PM_EXPORT const struct pm_module_desc *pm_module_descriptr(void);
PM_EXPORT const struct pm_module_desc *pm_module_descriptr(void)
{
    return &desc;
}
