/*
 * tsvc.c - test-only service: started by tsvc_enable; run() waits until
 * the host stops it.  Counters: started, stopped.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>

struct tsvc_conf {
    int enable;
};

struct tsvc {
    const struct pm_host *host;
    const struct pm_instance *inst;
    uint64_t *started, *stopped;
};

static const struct pm_option opts[] = {
    {"tsvc_enable", PM_OPT_BOOL, PM_OPTF_TRIGGER | PM_OPTF_GLOBAL,
     offsetof(struct tsvc_conf, enable), "false", NULL, "start tsvc", 0},
    PM_OPTION_END};

static int t_init(const struct pm_host *host, const struct pm_instance *inst,
                  void *config, void **ctx)
{
    struct tsvc *t = calloc(1, sizeof(*t));
    (void)config;
    if (!t)
        return -ENOMEM;
    t->host = host;
    t->inst = inst;
    t->started = host->counter(inst, "started", "run() entered");
    t->stopped = host->counter(inst, "stopped", "run() left");
    *ctx = t;
    return 0;
}

static int t_run(void *ctx)
{
    struct tsvc *t = ctx;
    struct timespec ts = {0, 1000000};
    pm_counter_add(t->started, 1);
    while (!t->host->stopping(t->inst))
        nanosleep(&ts, NULL);
    pm_counter_add(t->stopped, 1);
    return 0;
}

static void t_fini(void *ctx) { free(ctx); }

static const struct pm_module_desc desc = {
    PM_MODULE_HEAD(PM_KIND_SERVICE),
    .name = "tsvc",
    .version = "1.0",
    .summary = "test service",
    .options = opts,
    .config_size = sizeof(struct tsvc_conf),
    .init = t_init,
    .run = t_run,
    .fini = t_fini,
};
PM_MODULE_EXPORT(desc)
