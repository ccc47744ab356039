/*
 * tcount.c - test-only output: counts what reaches it.  Counters:
 * accounted (non-dropped records), batches, tagged (records whose tag is
 * tcount_tag), flushes, final_accounted (accounted when flush(FINAL) ran),
 * ticks, reloads, out_of_order (records whose tag2, tcap's sequence, is
 * not above the last one seen).  tcount_delay_us makes it slow (per
 * batch).
 * tcount_secret is a SECRET key (for --check-config).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>

struct tcount_conf {
    uint64_t delay_us;
    uint64_t tag;
    char *secret;
    char *mode;
};

struct tcount {
    struct tcount_conf c;
    uint64_t *accounted, *batches, *tagged, *flushes, *final_accounted,
        *ticks, *reloads, *out_of_order;
    uint64_t last_seq;
};

static const struct pm_option opts[] = {
    {"tcount_delay_us", PM_OPT_UINT, 0,
     offsetof(struct tcount_conf, delay_us), "0", NULL,
     "microseconds to spend per batch", 'Q'},
    {"tcount_tag", PM_OPT_UINT, 0, offsetof(struct tcount_conf, tag), "12",
     NULL, "count records carrying this tag", 0},
    {"tcount_secret", PM_OPT_STR, PM_OPTF_SECRET,
     offsetof(struct tcount_conf, secret), NULL, NULL, "a password", 0},
    {"tcount_mode", PM_OPT_STR, 0, offsetof(struct tcount_conf, mode), NULL,
     NULL, "free text", 0},
    PM_OPTION_END};

static int t_init(const struct pm_host *host, const struct pm_instance *inst,
                  void *config, void **ctx)
{
    struct tcount *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    memcpy(&t->c, config, sizeof(t->c));
    t->accounted = host->counter(inst, "accounted", "records");
    t->batches = host->counter(inst, "batches", "batches");
    t->tagged = host->counter(inst, "tagged", "records with the tag");
    t->flushes = host->counter(inst, "flushes", "flush calls");
    t->final_accounted = host->counter(inst, "final_accounted", "at flush");
    t->ticks = host->counter(inst, "ticks", "tick calls");
    t->reloads = host->counter(inst, "reloads", "reload calls");
    t->out_of_order = host->counter(inst, "out_of_order", "records");
    *ctx = t;
    return 0;
}

static int t_process(void *ctx, struct pm_batch *b)
{
    struct tcount *t = ctx;
    uint64_t n = 0, tg = 0;
    uint32_t i;
    for (i = 0; i < b->n; i++) {
        if (pm_batch_dropped(b, i))
            continue;
        n++;
        if (pm_batch_rec(b, i)->tag == t->c.tag)
            tg++;
        uint64_t seq = pm_batch_rec(b, i)->tag2;
        if (seq && seq <= t->last_seq)
            pm_counter_add(t->out_of_order, 1);
        if (seq)
            t->last_seq = seq;
    }
    pm_counter_add(t->accounted, n);
    pm_counter_add(t->tagged, tg);
    pm_counter_add(t->batches, 1);
    if (t->c.delay_us) {
        struct timespec ts = {(time_t)(t->c.delay_us / 1000000),
                              (long)(t->c.delay_us % 1000000) * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static int t_tick(void *ctx, const pm_ts_t *now)
{
    (void)now;
    pm_counter_add(((struct tcount *)ctx)->ticks, 1);
    return 0;
}

static int t_flush(void *ctx, int reason)
{
    struct tcount *t = ctx;
    if (reason == PM_FLUSH_FINAL) {
        pm_counter_add(t->flushes, 1);
        pm_counter_add(t->final_accounted, pm_counter_get(t->accounted));
    }
    return 0;
}

static int t_reload(void *ctx)
{
    pm_counter_add(((struct tcount *)ctx)->reloads, 1);
    return 0;
}

static void t_fini(void *ctx)
{
    free(ctx); /* config strings belong to the core */
}

static const struct pm_module_desc desc = {
    PM_MODULE_HEAD(PM_KIND_OUTPUT),
    .name = "tcount",
    .version = "1.0",
    .summary = "test output: counts records",
    .options = opts,
    .config_size = sizeof(struct tcount_conf),
    .init = t_init,
    .process = t_process,
    .tick = t_tick,
    .flush = t_flush,
    .reload = t_reload,
    .fini = t_fini,
};
PM_MODULE_EXPORT(desc)
