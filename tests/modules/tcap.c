/*
 * tcap.c - test-only capture: emits tcap_records synthetic records
 * (src_host 10.0.x.y, 1 packet, 100 bytes each) in batches of at most
 * tcap_fill records, then returns PM_RUN_EOF; with tcap_forever it keeps
 * emitting until the host stops it.  Counter: emitted.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>

struct tcap_conf {
    uint64_t records;
    uint64_t fill;
    int forever;
};

struct tcap {
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct tcap_conf c;
    uint64_t *emitted;
};

static const struct pm_option opts[] = {
    {"tcap_records", PM_OPT_UINT, 0, offsetof(struct tcap_conf, records),
     "1000", NULL, "records to emit", 0},
    {"tcap_fill", PM_OPT_UINT, 0, offsetof(struct tcap_conf, fill), "0",
     NULL, "records per batch (0: full batches)", 0},
    {"tcap_forever", PM_OPT_BOOL, 0, offsetof(struct tcap_conf, forever),
     "false", NULL, "emit until stopped", 0},
    PM_OPTION_END};

static int t_init(const struct pm_host *host, const struct pm_instance *inst,
                  void *config, void **ctx)
{
    struct tcap *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->host = host;
    t->inst = inst;
    memcpy(&t->c, config, sizeof(t->c));
    t->emitted = host->counter(inst, "emitted", "records emitted");
    *ctx = t;
    return 0;
}

static int t_run(void *ctx)
{
    struct tcap *t = ctx;
    uint64_t i = 0;
    while (t->c.forever || i < t->c.records) {
        struct pm_batch *b;
        uint32_t k = 0;
        if (t->host->stopping(t->inst))
            return PM_RUN_STOPPED;
        b = t->host->batch_get(t->inst);
        if (!b)
            return PM_RUN_STOPPED;
        while ((t->c.forever || i < t->c.records) && b->n < b->cap &&
               (!t->c.fill || k < t->c.fill)) {
            struct pm_rec *r = pm_batch_rec(b, b->n);
            uint8_t a[4] = {10, 0, (uint8_t)(i >> 8), (uint8_t)i};
            memset(r, 0, b->rec_size);
            pm_ip_set4(&r->src_host, a);
            pm_rec_set(r, PM_P_SRC_HOST);
            r->packets = 1;
            r->bytes = 100;
            r->tag2 = i + 1; /* sequence: tcount checks the order */
            b->n++;
            i++;
            k++;
        }
        pm_counter_add(t->emitted, k);
        t->host->batch_emit(t->inst, b);
    }
    return PM_RUN_EOF;
}

static void t_fini(void *ctx) { free(ctx); }

static const struct pm_module_desc desc = {
    PM_MODULE_HEAD(PM_KIND_CAPTURE),
    .name = "tcap",
    .version = "1.0",
    .summary = "test capture: synthetic records",
    .options = opts,
    .config_size = sizeof(struct tcap_conf),
    .init = t_init,
    .run = t_run,
    .fini = t_fini,
};
PM_MODULE_EXPORT(desc)
