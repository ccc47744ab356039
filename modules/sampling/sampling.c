/*
 * sampling.c - the `sampling` transform: pmacct's packet sampling
 * (`sampling_rate`), external sampling rates (`*_ext_sampling_rate`,
 * `pmacctd_renormalize`) and per-exporter rates for flow sources
 * (`sampling_map`).
 *
 * - sampling_rate: N (per pipeline): each record is kept with probability
 *   1/N (a simple random choice, as pmacct documents).  pmacctd 1.7.7 does
 *   not renormalise this rate and keeps reporting `sampling_rate` 1; so do
 *   we (the `usrf` action of *_preprocess scales the counters back).
 * - pmacctd_ext_sampling_rate / uacctd_ext_sampling_rate: E: the packets
 *   were sampled before reaching us: `sampling_rate` reports E; with
 *   pmacctd_renormalize (uacctd_renormalize) packets, bytes and flows are
 *   multiplied by E and `sampling_rate` reports 1 (as pmacctd 1.7.7).
 * - nfacctd_ext_sampling_rate / sfacctd_ext_sampling_rate and
 *   sampling_map (sampling_map.c): the rate of flow records, for exporters
 *   reporting none or a wrong one.  See apply_flow_rate() for how it meets
 *   the collectors' own renormalisation.
 *
 * Threads: one instance serves one pipeline; process() and reload() run on
 * that pipeline's thread only, so the context needs no lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

#include "sampling.h"

struct sampling_cfg {
    uint64_t rate;
    uint64_t pm_ext, u_ext, nf_ext, sf_ext;
    int pm_renorm, u_renorm;
    char *map;
};

struct sampling_ctx {
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct sampling_cfg *cfg;
    uint64_t rng;
    uint32_t pkt_ext; /* pmacctd/uacctd external rate, 0: none */
    int pkt_renorm;
    int nf_renorm, sf_renorm; /* the collectors' *_renormalize keys */
    struct smap *map;
    uint32_t map_max;
    uint64_t *c_sampled_out, *c_kept, *c_map_hits, *c_reloads, *c_reload_err;
};

static const struct pm_option sampling_options[] = {
    {"sampling_rate", PM_OPT_UINT, PM_OPTF_TRIGGER,
     offsetof(struct sampling_cfg, rate), NULL, ">= 1",
     "keep one record in N, chosen at random (per pipeline)", 0},
    {"pmacctd_ext_sampling_rate", PM_OPT_UINT, PM_OPTF_GLOBAL | PM_OPTF_TRIGGER,
     offsetof(struct sampling_cfg, pm_ext), NULL, ">= 1",
     "pmacctd: the captured packets were sampled 1:N before reaching us", 0},
    {"uacctd_ext_sampling_rate", PM_OPT_UINT, PM_OPTF_GLOBAL | PM_OPTF_TRIGGER,
     offsetof(struct sampling_cfg, u_ext), NULL, ">= 1",
     "uacctd: as pmacctd_ext_sampling_rate", 0},
    {"nfacctd_ext_sampling_rate", PM_OPT_UINT, PM_OPTF_GLOBAL | PM_OPTF_TRIGGER,
     offsetof(struct sampling_cfg, nf_ext), NULL, ">= 1",
     "nfacctd: sampling rate of exporters reporting none", 0},
    {"sfacctd_ext_sampling_rate", PM_OPT_UINT, PM_OPTF_GLOBAL | PM_OPTF_TRIGGER,
     offsetof(struct sampling_cfg, sf_ext), NULL, ">= 1",
     "sfacctd: sampling rate of agents reporting none", 0},
    {"pmacctd_renormalize", PM_OPT_BOOL, PM_OPTF_GLOBAL,
     offsetof(struct sampling_cfg, pm_renorm), "false", NULL,
     "multiply counters by pmacctd_ext_sampling_rate, report rate 1", 0},
    {"uacctd_renormalize", PM_OPT_BOOL, PM_OPTF_GLOBAL,
     offsetof(struct sampling_cfg, u_renorm), "false", NULL,
     "uacctd: as pmacctd_renormalize", 0},
    {"sampling_map", PM_OPT_PATH,
     PM_OPTF_GLOBAL | PM_OPTF_TRIGGER | PM_OPTF_MAP,
     offsetof(struct sampling_cfg, map), NULL, "file",
     "per exporter (and interface) sampling rates: id=RATE ip=ADDR[/LEN] "
     "[in=IFINDEX] [out=IFINDEX]; SIGUSR2 reloads",
     0},
    PM_OPTION_END};

/* xorshift64*: per instance, no shared state. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static int conf_true(const struct pm_host *host, const struct pm_instance *inst,
                     const char *key)
{
    const char *v = host->conf_get(inst, key);
    return v &&
           (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1"));
}

static int load_map(struct sampling_ctx *c, struct smap **out)
{
    char err[512];
    int rc = smap_load(c->cfg->map, c->map_max, out, err, sizeof(err));
    if (rc < 0)
        PM_ERR(c->host, c->inst, "sampling_map %s", err);
    return rc;
}

static int sampling_init(const struct pm_host *host,
                         const struct pm_instance *inst, void *config,
                         void **ctxp)
{
    struct sampling_cfg *cfg = config;
    struct sampling_ctx *c;
    const char *v;
    pm_ts_t now;
    int rc = -EINVAL;

    if (cfg->rate > UINT32_MAX || cfg->pm_ext > UINT32_MAX ||
        cfg->u_ext > UINT32_MAX || cfg->nf_ext > UINT32_MAX ||
        cfg->sf_ext > UINT32_MAX) {
        PM_ERR(host, inst, "sampling rates must be below 2^32");
        return -EINVAL;
    }
    if (cfg->rate && (cfg->pm_ext || cfg->u_ext)) {
        /* pmacctd 1.7.7 refuses the combination too */
        PM_ERR(host, inst,
               "sampling_rate and %s are mutually exclusive "
               "(internal and external packet sampling)",
               cfg->pm_ext ? "pmacctd_ext_sampling_rate"
                           : "uacctd_ext_sampling_rate");
        return -EINVAL;
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->host = host;
    c->inst = inst;
    c->cfg = cfg;
    host->now(inst, &now);
    c->rng = (now.sec * 1000003ULL) ^ now.usec ^ (uint64_t)(uintptr_t)c;
    if (!c->rng)
        c->rng = 88172645463325252ULL;
    c->pkt_ext = (uint32_t)(cfg->pm_ext ? cfg->pm_ext : cfg->u_ext);
    c->pkt_renorm = cfg->pm_ext ? cfg->pm_renorm : cfg->u_renorm;
    c->nf_renorm = conf_true(host, inst, "nfacctd_renormalize");
    c->sf_renorm = conf_true(host, inst, "sfacctd_renormalize");
    c->map_max = 384; /* pmacct's default maps_entries */
    if ((v = host->conf_get(inst, "maps_entries")) && atoi(v) > 0)
        c->map_max = (uint32_t)atoi(v);
    if (cfg->map && *cfg->map && (rc = load_map(c, &c->map)) < 0)
        goto fail;
    c->c_sampled_out =
        host->counter(inst, "sampled_out", "records dropped by sampling_rate");
    c->c_kept =
        host->counter(inst, "sampled_in", "records kept by sampling_rate");
    c->c_map_hits = host->counter(inst, "map_hits",
                                  "flow records given a rate by sampling_map");
    c->c_reloads = host->counter(inst, "reloads", "sampling_map reloads");
    c->c_reload_err = host->counter(
        inst, "reload_errors", "sampling_map reloads refused (old map kept)");
    *ctxp = c;
    return 0;
fail:
    smap_free(c->map);
    free(c);
    return rc;
}

static void scale(struct pm_rec *r, uint32_t n)
{
    r->packets *= n;
    r->bytes *= n;
    r->flows *= n;
}

/*
 * A flow record's rate from sampling_map (or the collector's ext rate).
 * sampling_map is global, and when it is set the collectors leave
 * renormalisation (nfacctd/sfacctd_renormalize) to this transform, so a
 * record arrives with the rate its exporter reported (0: none):
 * - renormalisation off: the map's rate replaces the reported one (pmacct:
 *   "if a router is not in the map, the rate it advertises applies");
 * - renormalisation on: counters are multiplied by the map's rate, else by
 *   the reported one, else by the ext rate, and sampling_rate becomes 1.
 */
static void apply_flow_rate(struct pm_rec *r, uint32_t rate, int renorm)
{
    if (!renorm) {
        r->sampling_rate = rate;
    } else {
        scale(r, rate);
        r->sampling_rate = 1;
    }
    pm_rec_set(r, PM_P_SAMPLING_RATE);
}

static int sampling_process(void *vctx, struct pm_batch *b)
{
    struct sampling_ctx *c = vctx;
    const struct sampling_cfg *cfg = c->cfg;
    uint64_t out = 0, kept = 0, hits = 0;
    uint32_t i;

    for (i = 0; i < b->n; i++) {
        struct pm_rec *r;
        if (pm_batch_dropped(b, i))
            continue;
        r = pm_batch_rec(b, i);
        if (cfg->rate > 1) {
            if (rng_next(&c->rng) % cfg->rate) {
                pm_batch_drop(b, i);
                out++;
                continue;
            }
            kept++;
        }
        if (pm_rec_has(r, PM_P_PEER_SRC_IP)) {
            /* a flow record (exporter known).  One daemon runs one kind
             * of collector, so its renormalize key and ext rate are the
             * ones set. */
            uint32_t rate = 0;
            if (c->map)
                rate = smap_lookup(c->map, &r->peer_src_ip, r->in_iface,
                                   r->out_iface);
            int renorm = c->nf_renorm || c->sf_renorm;
            if (rate)
                hits++;
            else if (!r->sampling_rate)
                rate = (uint32_t)(cfg->nf_ext ? cfg->nf_ext : cfg->sf_ext);
            else if (renorm && c->map)
                rate = r->sampling_rate; /* the collector left it to us */
            if (rate)
                apply_flow_rate(r, rate, renorm);
        } else if (c->pkt_ext) {
            r->sampling_rate = c->pkt_ext;
            if (c->pkt_renorm) {
                scale(r, c->pkt_ext);
                r->sampling_rate = 1;
            }
            pm_rec_set(r, PM_P_SAMPLING_RATE);
        }
    }
    if (out)
        pm_counter_add(c->c_sampled_out, out);
    if (kept)
        pm_counter_add(c->c_kept, kept);
    if (hits)
        pm_counter_add(c->c_map_hits, hits);
    return 0;
}

static int sampling_reload(void *vctx)
{
    struct sampling_ctx *c = vctx;
    struct smap *m = NULL;
    int rc;

    if (!c->cfg->map || !*c->cfg->map)
        return 0;
    rc = load_map(c, &m);
    if (rc < 0) {
        PM_ERR(c->host, c->inst,
               "sampling_map %s: reload failed, keeping "
               "the previous map",
               c->cfg->map);
        pm_counter_add(c->c_reload_err, 1);
        return rc;
    }
    smap_free(c->map);
    c->map = m;
    pm_counter_add(c->c_reloads, 1);
    PM_INFO(c->host, c->inst, "sampling_map %s: reloaded, %u entries",
            c->cfg->map, smap_count(m));
    return 0;
}

static void sampling_fini(void *vctx)
{
    struct sampling_ctx *c = vctx;
    if (!c)
        return;
    smap_free(c->map);
    free(c);
}

static const struct pm_module_desc sampling_desc = {
    PM_MODULE_HEAD(PM_KIND_TRANSFORM),
    .name = "sampling",
    .version = "1.0",
    .summary = "transform: sampling_rate, *_ext_sampling_rate, sampling_map",
    .flags = 0,
    .order = 150,
    .options = sampling_options,
    .config_size = sizeof(struct sampling_cfg),
    .init = sampling_init,
    .process = sampling_process,
    .reload = sampling_reload,
    .fini = sampling_fini,
};

PM_MODULE_EXPORT(sampling_desc)
