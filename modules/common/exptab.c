/*
 * exptab.c - the bounded per-exporter statistics table of the flow
 * collectors (datagrams, records, sequence gaps, malformed, unknown
 * template) and its publication as host counters `exporter_<addr>_*`.
 *
 * Threads: a table belongs to one receiver thread; pm_exptab_publish()
 * registers and adds to host counters (thread-safe host calls) and shares
 * only the atomic `named` bound between the threads of one instance.
 */
#include "udpin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- exporter table ----------------------------------------------------- */

static uint32_t ip_hash(const pm_ip_t *ip)
{
    uint32_t h = 2166136261u ^ ip->af;
    for (int i = 0; i < 16; i++)
        h = (h ^ ip->a[i]) * 16777619u;
    return h;
}

int pm_exptab_init(struct pm_exptab *t, uint32_t max)
{
    memset(t, 0, sizeof(*t));
    t->max = max ? max : 65536;
    t->cap = 64;
    t->v = calloc(t->cap, sizeof(*t->v));
    return t->v ? 0 : -ENOMEM;
}

struct pm_exp_stats *pm_exptab_find(const struct pm_exptab *t,
                                    const pm_ip_t *addr)
{
    uint32_t m = t->cap - 1;
    for (uint32_t i = ip_hash(addr) & m;; i = (i + 1) & m) {
        struct pm_exp_stats *e = &t->v[i];
        if (!e->used)
            return NULL;
        if (e->addr.af == addr->af && !memcmp(e->addr.a, addr->a, 16))
            return e;
    }
}

static int exptab_grow(struct pm_exptab *t)
{
    uint32_t nc = t->cap * 2;
    struct pm_exp_stats *nv = calloc(nc, sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    for (uint32_t j = 0; j < t->cap; j++) {
        if (!t->v[j].used)
            continue;
        uint32_t i = ip_hash(&t->v[j].addr) & (nc - 1);
        while (nv[i].used)
            i = (i + 1) & (nc - 1);
        nv[i] = t->v[j];
    }
    free(t->v);
    t->v = nv;
    t->cap = nc;
    return 0;
}

struct pm_exp_stats *pm_exptab_get(struct pm_exptab *t, const pm_ip_t *addr)
{
    struct pm_exp_stats *e = pm_exptab_find(t, addr);
    if (e)
        return e;
    if (t->n >= t->max)
        return NULL;
    if ((t->n + 1) * 2 > t->cap && exptab_grow(t) < 0)
        return NULL;
    uint32_t m = t->cap - 1;
    uint32_t i = ip_hash(addr) & m;
    while (t->v[i].used)
        i = (i + 1) & m;
    e = &t->v[i];
    memset(e, 0, sizeof(*e));
    e->used = 1;
    e->addr = *addr;
    t->n++;
    return e;
}

void pm_exptab_free(struct pm_exptab *t)
{
    free(t->v);
    memset(t, 0, sizeof(*t));
}

static const char *const exp_ctr_names[PM_EXP_NCTR] = {
    "datagrams", "records", "seq_gaps", "malformed", "unknown_template"};

static void exp_values(const struct pm_exp_stats *e, uint64_t v[PM_EXP_NCTR])
{
    v[0] = e->datagrams;
    v[1] = e->records;
    v[2] = e->seq_gaps;
    v[3] = e->malformed;
    v[4] = e->unknown_template;
}

void pm_exptab_publish(struct pm_exptab *t, const struct pm_host *host,
                       const struct pm_instance *inst, unsigned thread,
                       uint32_t *named)
{
    char addr[INET6_ADDRSTRLEN + 8], name[128], help[160];
    uint64_t v[PM_EXP_NCTR];
    for (uint32_t i = 0; i < t->cap; i++) {
        struct pm_exp_stats *e = &t->v[i];
        if (!e->used || e->named == 2)
            continue;
        if (!e->named) {
            uint32_t k = __atomic_fetch_add(named, 1, __ATOMIC_RELAXED);
            pm_ip_str(&e->addr, addr, sizeof(addr));
            if (k >= PM_EXP_NAMED_MAX) {
                e->named = 2;
                if (k == PM_EXP_NAMED_MAX)
                    host->log(inst, PM_LOG_WARNING,
                              "exporter %s and later ones get no counters of "
                              "their own (%u exporters have them): they are "
                              "counted in the totals only",
                              addr, (unsigned)PM_EXP_NAMED_MAX);
                continue;
            }
            for (int j = 0; j < PM_EXP_NCTR; j++) {
                snprintf(name, sizeof(name), "exporter_%s_%s", addr,
                         exp_ctr_names[j]);
                snprintf(help, sizeof(help), "%s of exporter %s",
                         exp_ctr_names[j], addr);
                e->ctr[j] = host->counter(inst, name, help);
            }
            e->named = 1;
            host->log(inst, PM_LOG_INFO,
                      "new exporter %s (receiver thread %u)", addr, thread);
        }
        exp_values(e, v);
        for (int j = 0; j < PM_EXP_NCTR; j++)
            if (e->ctr[j] && v[j] != e->pub[j]) {
                pm_counter_add(e->ctr[j], v[j] - e->pub[j]);
                e->pub[j] = v[j];
            }
    }
}

void pm_exptab_log(const struct pm_exptab *t, const struct pm_host *host,
                   const struct pm_instance *inst, const char *what)
{
    char addr[INET6_ADDRSTRLEN + 8];
    uint32_t shown = 0;
    for (uint32_t i = 0; i < t->cap; i++) {
        const struct pm_exp_stats *e = &t->v[i];
        if (!e->used)
            continue;
        if (shown++ == PM_EXP_NAMED_MAX) {
            host->log(inst, PM_LOG_INFO, "... and %u more exporters",
                      (unsigned)(t->n - PM_EXP_NAMED_MAX));
            break;
        }
        host->log(inst, PM_LOG_INFO,
                  "exporter %s: %llu datagrams, %llu %s, %llu sequence gaps, "
                  "%llu malformed, %llu unknown template",
                  pm_ip_str(&e->addr, addr, sizeof(addr)),
                  (unsigned long long)e->datagrams,
                  (unsigned long long)e->records, what ? what : "records",
                  (unsigned long long)e->seq_gaps,
                  (unsigned long long)e->malformed,
                  (unsigned long long)e->unknown_template);
    }
}
