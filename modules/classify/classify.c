/*
 * classify.c - the `classify` transform: stream classification.
 *
 * A bidirectional flow table (both directions of a 5-tuple share one entry)
 * follows every stream seen in the records carrying packet bytes.  The first
 * packets of a stream are handed to the classification engines in priority
 * order until one answers PM_CLS_MATCH (or every engine gave up, or
 * `classifier_tentatives` payload-carrying packets were seen).  From then
 * on every record of the stream, in both directions, gets the `class`
 * primitive.  Records of a stream before the decision keep no class (they
 * are accounted as "unknown", as pmacct does).
 *
 * Engines are classifiers (pm_classifier.h): the built-in regex engine
 * reading the .pat files of the `classifiers` directory, and every .so file
 * of that directory, dlopen()ed RTLD_LOCAL after their magic, ABI and
 * descriptor size are checked (classify_engines.c).
 *
 * Memory is bounded: `classifier_table_num` entries and their engine states
 * are allocated at init; a new stream in a full table evicts the least
 * recently seen one (counted).  Entries idle for `classifier_idle_timeout`
 * seconds or older than `classifier_max_age` (packet time) are expired.
 *
 * Threads: one instance serves one pipeline; process() and tick() run on
 * that pipeline's thread only, so the context needs no lock.
 */
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pmacct/pm_classifier.h>
#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

#include "classify.h"

static const struct pm_option classify_options[] = {
    {"classifiers", PM_OPT_PATH, PM_OPTF_TRIGGER,
     offsetof(struct classify_cfg, classifiers), NULL, "directory",
     "directory of classifiers: .pat pattern files and .so shared objects",
     0},
    {"classifier_tentatives", PM_OPT_UINT, 0,
     offsetof(struct classify_cfg, tentatives), "5", "packets",
     "payload-carrying packets of a stream tried before giving up", 0},
    {"classifier_table_num", PM_OPT_UINT, 0,
     offsetof(struct classify_cfg, table_num), "32768", "entries",
     "streams tracked at once; a new stream evicts the least recent one", 0},
    {"classifier_idle_timeout", PM_OPT_DURATION, 0,
     offsetof(struct classify_cfg, idle_timeout), "300", "seconds",
     "a stream idle this long (packet time) is forgotten", 0},
    {"classifier_max_age", PM_OPT_DURATION, 0,
     offsetof(struct classify_cfg, max_age), "86400", "seconds",
     "a stream older than this (packet time) is forgotten and reclassified",
     0},
    {"classifier_engines", PM_OPT_LIST, 0,
     offsetof(struct classify_cfg, engines), NULL, "engine,engine,...",
     "engines to use, in priority order (default: every .so by name, "
     "then regex, ndpi last)",
     0},
    {"classifier_num_roots", PM_OPT_UINT, PM_OPTF_COMPAT,
     offsetof(struct classify_cfg, compat_u), NULL, NULL,
     "pmacct nDPI tuning; ignored: the table is sized by "
     "classifier_table_num",
     0},
    {"classifier_max_flows", PM_OPT_UINT, PM_OPTF_COMPAT,
     offsetof(struct classify_cfg, compat_u), NULL, NULL,
     "pmacct nDPI tuning; ignored: see classifier_table_num", 0},
    {"classifier_proto_guess", PM_OPT_BOOL, PM_OPTF_COMPAT,
     offsetof(struct classify_cfg, compat_b), NULL, NULL,
     "pmacct nDPI port guessing; ignored", 0},
    {"classifier_idle_scan_period", PM_OPT_UINT, PM_OPTF_COMPAT,
     offsetof(struct classify_cfg, compat_u), NULL, NULL,
     "ignored: idle streams are expired as packets arrive", 0},
    {"classifier_idle_scan_budget", PM_OPT_UINT, PM_OPTF_COMPAT,
     offsetof(struct classify_cfg, compat_u), NULL, NULL,
     "ignored: idle streams are expired as packets arrive", 0},
    {"classifier_giveup_proto_tcp", PM_OPT_UINT, PM_OPTF_COMPAT,
     offsetof(struct classify_cfg, compat_u), NULL, NULL,
     "ignored: see classifier_tentatives", 0},
    {"classifier_giveup_proto_udp", PM_OPT_UINT, PM_OPTF_COMPAT,
     offsetof(struct classify_cfg, compat_u), NULL, NULL,
     "ignored: see classifier_tentatives", 0},
    {"classifier_giveup_proto_other", PM_OPT_UINT, PM_OPTF_COMPAT,
     offsetof(struct classify_cfg, compat_u), NULL, NULL,
     "ignored: see classifier_tentatives", 0},
    PM_OPTION_END};

/* ---- classes ------------------------------------------------------------- */

static uint32_t class_id(struct classify_ctx *ctx, const char *name)
{
    char cname[PM_CLS_NAME_MAX + 16];
    unsigned i, j;

    for (i = 0; i < ctx->nclasses; i++)
        if (!strcmp(ctx->classes[i].name, name))
            return i;
    if (ctx->nclasses == CLS_MAX_CLASSES) {
        pm_counter_add(ctx->c_class_full, 1);
        return NIL;
    }
    i = ctx->nclasses++;
    snprintf(ctx->classes[i].name, PM_CLS_NAME_MAX, "%s", name);
    ctx->classes[i].len = (uint32_t)strlen(ctx->classes[i].name);
    ctx->classes[i].gen = 0;
    snprintf(cname, sizeof(cname), "class_%s", name);
    for (j = 6; cname[j]; j++)
        if (!isalnum((unsigned char)cname[j]))
            cname[j] = '_';
        else
            cname[j] = (char)tolower((unsigned char)cname[j]);
    ctx->classes[i].c_streams =
        ctx->host->counter(ctx->inst, cname, "streams of this class");
    return i;
}

/* ---- flow table ---------------------------------------------------------- */

static uint32_t hash_key(const struct flow *k)
{
    /* FNV-1a over the canonical key */
    uint32_t h = 2166136261u;
    const uint8_t *p;
    size_t i, n = k->af == 6 ? 16 : 4;
#define H(x) (h = (h ^ (uint8_t)(x)) * 16777619u)
    H(k->af);
    H(k->proto);
    H(k->port_a);
    H(k->port_a >> 8);
    H(k->port_b);
    H(k->port_b >> 8);
    for (p = k->a, i = 0; i < n; i++)
        H(p[i]);
    for (p = k->b, i = 0; i < n; i++)
        H(p[i]);
#undef H
    return h;
}

static int key_eq(const struct flow *x, const struct flow *y)
{
    return x->af == y->af && x->proto == y->proto &&
           x->port_a == y->port_a && x->port_b == y->port_b &&
           !memcmp(x->a, y->a, 16) && !memcmp(x->b, y->b, 16);
}

static uint8_t *flow_state(struct classify_ctx *ctx, uint32_t i)
{
    return ctx->states + (size_t)i * ctx->stride;
}

static void lru_unlink(struct classify_ctx *ctx, uint32_t i)
{
    struct flow *f = &ctx->flows[i];
    if (f->lprev != NIL)
        ctx->flows[f->lprev].lnext = f->lnext;
    else
        ctx->lru_head = f->lnext;
    if (f->lnext != NIL)
        ctx->flows[f->lnext].lprev = f->lprev;
    else
        ctx->lru_tail = f->lprev;
    f->lprev = f->lnext = NIL;
}

static void lru_append(struct classify_ctx *ctx, uint32_t i)
{
    struct flow *f = &ctx->flows[i];
    f->lnext = NIL;
    f->lprev = ctx->lru_tail;
    if (ctx->lru_tail != NIL)
        ctx->flows[ctx->lru_tail].lnext = i;
    else
        ctx->lru_head = i;
    ctx->lru_tail = i;
}

/* Call teardown on the engines still holding state for flow i. */
static void flow_release_states(struct classify_ctx *ctx, uint32_t i)
{
    struct flow *f = &ctx->flows[i];
    unsigned e;
    for (e = 0; e < ctx->neng; e++)
        if ((f->live & (1u << e)) && ctx->eng[e].d->teardown)
            ctx->eng[e].d->teardown(ctx->eng[e].ectx,
                                    flow_state(ctx, i) + ctx->eng[e].state_off);
    f->live = 0;
}

static void flow_remove(struct classify_ctx *ctx, uint32_t i)
{
    struct flow *f = &ctx->flows[i];
    uint32_t *pp = &ctx->buckets[f->hash & (ctx->nbuckets - 1)];

    flow_release_states(ctx, i);
    while (*pp != NIL && *pp != i)
        pp = &ctx->flows[*pp].hnext;
    if (*pp == i)
        *pp = f->hnext;
    lru_unlink(ctx, i);
    f->status = ST_FREE;
    f->hnext = ctx->free_head;
    ctx->free_head = i;
    ctx->used--;
}

/* Expire from the LRU head while idle or too old. */
static void expire(struct classify_ctx *ctx)
{
    uint64_t idle = ctx->cfg->idle_timeout * 1000;
    while (ctx->lru_head != NIL) {
        struct flow *f = &ctx->flows[ctx->lru_head];
        if (f->last_ms + idle >= ctx->now_ms)
            break;
        flow_remove(ctx, ctx->lru_head);
        pm_counter_add(ctx->c_expired, 1);
    }
}

/* Find or create the entry of the stream of key k. */
static uint32_t flow_get(struct classify_ctx *ctx, struct flow *k, int *created)
{
    uint32_t h = hash_key(k), i;
    struct flow *f;

    *created = 0;
    for (i = ctx->buckets[h & (ctx->nbuckets - 1)]; i != NIL;
         i = ctx->flows[i].hnext)
        if (ctx->flows[i].hash == h && key_eq(&ctx->flows[i], k)) {
            f = &ctx->flows[i];
            if (ctx->cfg->max_age &&
                f->first_ms + ctx->cfg->max_age * 1000 < ctx->now_ms) {
                flow_remove(ctx, i);
                pm_counter_add(ctx->c_expired, 1);
                break;
            }
            lru_unlink(ctx, i);
            lru_append(ctx, i);
            return i;
        }
    if (ctx->free_head == NIL) {
        flow_remove(ctx, ctx->lru_head);
        pm_counter_add(ctx->c_evicted, 1);
    }
    i = ctx->free_head;
    f = &ctx->flows[i];
    ctx->free_head = f->hnext;
    *f = *k;
    f->hash = h;
    f->status = ST_UNDECIDED;
    f->class_id = NIL;
    f->tent = f->npkt = 0;
    f->live = ctx->neng >= 32 ? 0xffffffffu : ((1u << ctx->neng) - 1);
    f->first_ms = f->last_ms = ctx->now_ms;
    f->hnext = ctx->buckets[h & (ctx->nbuckets - 1)];
    ctx->buckets[h & (ctx->nbuckets - 1)] = i;
    lru_append(ctx, i);
    memset(flow_state(ctx, i), 0, ctx->stride);
    ctx->used++;
    *created = 1;
    pm_counter_add(ctx->c_streams, 1);
    return i;
}

/* ---- per packet ---------------------------------------------------------- */

static void decide(struct classify_ctx *ctx, uint32_t fi, unsigned e,
                   const char *cls)
{
    struct flow *f = &ctx->flows[fi];
    uint32_t id = class_id(ctx, cls);

    pm_counter_add(ctx->eng[e].c_matched, 1);
    f->live &= ~(1u << e);
    if (ctx->eng[e].d->teardown)
        ctx->eng[e].d->teardown(ctx->eng[e].ectx,
                                flow_state(ctx, fi) + ctx->eng[e].state_off);
    flow_release_states(ctx, fi);
    f->status = ST_DECIDED;
    f->class_id = id;
    if (id != NIL)
        pm_counter_add(ctx->classes[id].c_streams, 1);
    pm_counter_add(ctx->c_classified, 1);
}

static void giveup(struct classify_ctx *ctx, uint32_t fi)
{
    struct flow *f = &ctx->flows[fi];
    flow_release_states(ctx, fi);
    f->status = ST_GIVEUP;
    pm_counter_add(ctx->c_giveup, 1);
}

/* Fill the canonical key of r; returns 0, or -1 when r has no L3/ports. */
static int rec_key(const struct pm_rec *r, struct flow *k, int *is_a)
{
    int c;
    memset(k, 0, sizeof(*k));
    if (!pm_rec_has(r, PM_P_SRC_HOST) || !pm_rec_has(r, PM_P_DST_HOST) ||
        r->src_host.af != r->dst_host.af || !r->src_host.af)
        return -1;
    k->af = r->src_host.af;
    k->proto = r->proto;
    c = memcmp(r->src_host.a, r->dst_host.a, 16);
    if (c == 0)
        c = (int)r->src_port - (int)r->dst_port;
    if (c <= 0) {
        memcpy(k->a, r->src_host.a, 16);
        memcpy(k->b, r->dst_host.a, 16);
        k->port_a = r->src_port;
        k->port_b = r->dst_port;
        *is_a = 1;
    } else {
        memcpy(k->a, r->dst_host.a, 16);
        memcpy(k->b, r->src_host.a, 16);
        k->port_a = r->dst_port;
        k->port_b = r->src_port;
        *is_a = 0;
    }
    return 0;
}

int classify_packet(struct classify_ctx *ctx, struct pm_rec *r,
                    uint32_t *class_out)
{
    struct flow k, *f;
    struct pm_cls_pkt p;
    uint32_t fi;
    int is_a, created;
    unsigned e;
    char cls[PM_CLS_NAME_MAX];

    *class_out = NIL;
    if (!r->pkt || r->l3_off == 0xffff || r->l3_off >= r->pkt_caplen ||
        (r->flags & PM_RF_FRAGMENT)) {
        pm_counter_add(ctx->c_no_packet, 1);
        return 0;
    }
    if (rec_key(r, &k, &is_a) < 0)
        return 0;
    {
        uint64_t ms = r->ts_arrival.sec * 1000 + r->ts_arrival.usec / 1000;
        if (!ms)
            ms = r->ts_start.sec * 1000 + r->ts_start.usec / 1000;
        if (ms > ctx->now_ms)
            ctx->now_ms = ms;
    }
    expire(ctx);
    fi = flow_get(ctx, &k, &created);
    f = &ctx->flows[fi];
    if (created)
        f->orig_is_a = (uint8_t)is_a;
    f->last_ms = ctx->now_ms;
    pm_counter_add(ctx->c_packets, 1);
    if (f->status == ST_DECIDED) {
        *class_out = f->class_id;
        return 1;
    }
    if (f->status != ST_UNDECIDED)
        return 0;

    memset(&p, 0, sizeof(p));
    p.l3 = r->pkt + r->l3_off;
    p.l3_len = r->pkt_caplen - r->l3_off;
    if (r->payload_off != 0xffff && r->payload_off < r->pkt_caplen) {
        p.payload = r->pkt + r->payload_off;
        p.len = r->pkt_caplen - r->payload_off;
        /* trim Ethernet padding: trust the IP length */
        uint64_t hdr = (uint64_t)(r->payload_off - r->l3_off);
        if (r->bytes && hdr <= r->bytes && p.len > r->bytes - hdr)
            p.len = (uint32_t)(r->bytes - hdr);
    }
    p.dir = (uint32_t)(is_a == f->orig_is_a ? PM_CLS_DIR_ORIG
                                            : PM_CLS_DIR_REPLY);
    p.af = k.af;
    p.proto = r->proto;
    p.sport = r->src_port;
    p.dport = r->dst_port;
    p.npkt = f->npkt++;
    p.ts_ms = ctx->now_ms;
    for (e = 0; e < ctx->neng; e++) {
        int rc;
        if (!(f->live & (1u << e)))
            continue;
        rc = ctx->eng[e].d->classify(ctx->eng[e].ectx,
                                     flow_state(ctx, fi) + ctx->eng[e].state_off,
                                     &p, cls);
        if (rc == PM_CLS_MATCH) {
            cls[PM_CLS_NAME_MAX - 1] = 0;
            decide(ctx, fi, e, cls);
            *class_out = f->class_id;
            return 1;
        }
        if (rc == PM_CLS_GIVEUP) {
            pm_counter_add(ctx->eng[e].c_giveup, 1);
            if (ctx->eng[e].d->teardown)
                ctx->eng[e].d->teardown(ctx->eng[e].ectx,
                                        flow_state(ctx, fi) +
                                            ctx->eng[e].state_off);
            f->live &= ~(1u << e);
        }
    }
    if (p.len)
        f->tent++;
    if (!f->live || f->tent >= ctx->cfg->tentatives)
        giveup(ctx, fi);
    return 0;
}

const char *classify_class_name(const struct classify_ctx *ctx, uint32_t id)
{
    return id < ctx->nclasses ? ctx->classes[id].name : NULL;
}

uint32_t classify_table_used(const struct classify_ctx *ctx)
{
    return ctx->used;
}

/* ---- module callbacks ---------------------------------------------------- */

static void classify_fini(void *vctx)
{
    struct classify_ctx *ctx = vctx;
    unsigned e;
    uint32_t i;

    if (!ctx)
        return;
    if (ctx->flows)
        for (i = 0; i < ctx->nflows; i++)
            if (ctx->flows[i].status != ST_FREE)
                flow_release_states(ctx, i);
    for (e = 0; e < ctx->neng; e++) {
        if (ctx->eng[e].d->fini)
            ctx->eng[e].d->fini(ctx->eng[e].ectx);
        if (ctx->eng[e].dl)
            dlclose(ctx->eng[e].dl);
    }
    free(ctx->flows);
    free(ctx->states);
    free(ctx->buckets);
    free(ctx->classes);
    free(ctx);
}

static int classify_init(const struct pm_host *host,
                         const struct pm_instance *inst, void *config,
                         void **ctxp)
{
    struct classify_cfg *cfg = config;
    struct classify_ctx *ctx;
    size_t off = 0;
    unsigned e;
    uint32_t i;
    int rc;

    if (!cfg->classifiers || !*cfg->classifiers) {
        /* inserted because the aggregate has `class` (pmacct: nDPI) */
        const char *dir = getenv("PMACCT_CLASSIFIERS_DIR");
        free(cfg->classifiers);
        cfg->classifiers = strdup(dir && *dir ? dir : CLS_DEFAULT_DIR);
        if (!cfg->engines || !*cfg->engines) {
            free(cfg->engines);
            cfg->engines = strdup("ndpi");
        }
        if (!cfg->classifiers || !cfg->engines)
            return -ENOMEM;
        host->log(inst, PM_LOG_INFO,
                  "aggregate has class and no classifiers directory: "
                  "engines %s from %s",
                  cfg->engines, cfg->classifiers);
    }
    if (!cfg->tentatives)
        cfg->tentatives = 1;
    if (cfg->table_num < 1 || cfg->table_num > (1u << 26)) {
        host->log(inst, PM_LOG_ERR,
                  "classifier_table_num %llu: must be 1..67108864",
                  (unsigned long long)cfg->table_num);
        return -EINVAL;
    }
    if (!cfg->idle_timeout)
        cfg->idle_timeout = 300;
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return -ENOMEM;
    ctx->host = host;
    ctx->inst = inst;
    ctx->cfg = cfg;
    ctx->classes = calloc(CLS_MAX_CLASSES, sizeof(*ctx->classes));
    if (!ctx->classes) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = classify_load_dir(ctx)) < 0 || (rc = classify_order_engines(ctx)) < 0)
        goto fail;
    if (!ctx->neng) {
        host->log(inst, PM_LOG_ERR,
                  "classifiers: %s holds no classifier (.pat or .so)",
                  cfg->classifiers);
        rc = -ENOENT;
        goto fail;
    }
    for (e = 0; e < ctx->neng; e++) {
        ctx->eng[e].state_off = off;
        off += ctx->eng[e].state_size;
    }
    ctx->stride = off ? off : 16;
    ctx->nflows = (uint32_t)cfg->table_num;
    for (ctx->nbuckets = 16; ctx->nbuckets < ctx->nflows * 2;)
        ctx->nbuckets <<= 1;
    ctx->flows = calloc(ctx->nflows, sizeof(*ctx->flows));
    ctx->states = calloc(ctx->nflows, ctx->stride);
    ctx->buckets = malloc(ctx->nbuckets * sizeof(uint32_t));
    if (!ctx->flows || !ctx->states || !ctx->buckets) {
        host->log(inst, PM_LOG_ERR,
                  "classifier_table_num %u: cannot allocate %zu bytes",
                  ctx->nflows,
                  (size_t)ctx->nflows * (sizeof(struct flow) + ctx->stride));
        rc = -ENOMEM;
        goto fail;
    }
    for (i = 0; i < ctx->nbuckets; i++)
        ctx->buckets[i] = NIL;
    for (i = 0; i < ctx->nflows; i++) {
        ctx->flows[i].hnext = i + 1 < ctx->nflows ? i + 1 : NIL;
        ctx->flows[i].lprev = ctx->flows[i].lnext = NIL;
    }
    ctx->free_head = 0;
    ctx->lru_head = ctx->lru_tail = NIL;
    ctx->c_streams = host->counter(inst, "streams", "streams tracked");
    ctx->c_classified = host->counter(inst, "classified", "streams classified");
    ctx->c_giveup = host->counter(inst, "giveup",
                                  "streams left unclassified (unknown)");
    ctx->c_evicted = host->counter(inst, "evicted",
                                   "streams evicted from a full table");
    ctx->c_expired = host->counter(inst, "expired",
                                   "streams expired (idle or max age)");
    ctx->c_packets = host->counter(inst, "packets", "packets looked at");
    ctx->c_no_packet = host->counter(inst, "no_packet",
                                     "records without packet bytes (flows, "
                                     "fragments): not classified");
    ctx->c_class_full = host->counter(inst, "class_table_full",
                                      "matches dropped: too many class names");
    {
        char list[512];
        size_t n = 0;
        list[0] = 0;
        for (e = 0; e < ctx->neng && n < sizeof(list); e++)
            n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
                                  e ? ", " : "", ctx->eng[e].d->name);
        host->log(inst, PM_LOG_INFO,
                  "classifiers from %s: %s; table %u streams x %zu bytes",
                  cfg->classifiers, list, ctx->nflows,
                  sizeof(struct flow) + ctx->stride);
    }
    *ctxp = ctx;
    return 0;
fail:
    classify_fini(ctx);
    return rc;
}

static int classify_process(void *vctx, struct pm_batch *b)
{
    struct classify_ctx *ctx = vctx;
    uint32_t i, id;

    if (++ctx->gen == 0)
        ctx->gen = 1;
    for (i = 0; i < b->n; i++) {
        struct pm_rec *r;
        struct cls_class *c;
        if (pm_batch_dropped(b, i))
            continue;
        r = pm_batch_rec(b, i);
        if (!classify_packet(ctx, r, &id) || id == NIL)
            continue;
        c = &ctx->classes[id];
        if (c->gen != ctx->gen) {
            if (ctx->host->batch_str(b, c->name, c->len, &c->sref) < 0)
                continue;
            c->gen = ctx->gen;
        }
        r->class_name = c->sref;
        pm_rec_set(r, PM_P_CLASS);
    }
    return 0;
}

/* pmacct: `class` in the aggregate turns classification on (nDPI). */
static const char *const classify_trigger_prims[] = {"class", NULL};

static const struct pm_module_desc classify_desc = {
    PM_MODULE_HEAD(PM_KIND_TRANSFORM),
    .name = "classify",
    .version = "1.0",
    .summary = "stream classification: nDPI, .pat patterns, .so classifiers",
    .flags = PM_MF_NEEDS_PACKETS,
    .order = 600,
    .options = classify_options,
    .config_size = sizeof(struct classify_cfg),
    .init = classify_init,
    .process = classify_process,
    .fini = classify_fini,
    .trigger_prims = classify_trigger_prims,
};

PM_MODULE_EXPORT(classify_desc)
