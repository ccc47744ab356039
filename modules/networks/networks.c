/*
 * networks.c - transform module `networks`: pmacct's networks_file
 * (src_net, dst_net, src_mask, dst_mask; src_as, dst_as, peer_dst_as and
 * peer_dst_ip with pmacctd_as/pmacctd_net 'file'), networks_mask, networks_file_filter,
 * networks_no_mask_if_zero and ports_file.
 *
 * networks_file lines (`!`/`#` comments), as pmacct documents them:
 *     prefix[/len]
 *     [peer_as_]as,prefix[/len]
 *     nexthop,[peer_as_]as,prefix[/len]
 *     label,nexthop,[peer_as_]as,prefix[/len]   (label ignored)
 * Empty fields are allowed (`CustID,,,10.0.0.0/8`).
 *
 * Lookup: the prefixes (IPv4 and IPv6 apart) are flattened at load time
 * into disjoint address ranges, sorted; a lookup is one binary search
 * (longest-prefix match whatever the file order), fronted by a small
 * direct-mapped cache of networks_cache_entries slots.
 *
 * Reload: SIGUSR2 (reload()) and, with maps_refresh, changed files (checked
 * from tick() once a second) load new tables; a broken file is logged with
 * file:line and the old tables kept.  Everything runs on the pipeline
 * thread: one instance per pipeline, no lock.  Parsing the files and
 * building the tables is in networks_load.c.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

#include "networks.h"


/* *_net / *_as methods */
enum { M_UNSET = 0, M_FILE, M_MASK, M_LONGEST, M_OTHER };

struct net_cfg {
    char *file;
    uint64_t mask;
    int filter;
    int no_lpm;
    int no_mask_if_zero;
    int _pad;
    uint64_t cache_entries;
    char *ports_file;
    char *pm_as, *pm_net, *u_as, *u_net, *sf_as, *sf_net;
};

struct cache_slot {
    pm_ip_t ip;
    int32_t ent;
    uint32_t gen;
};

struct net_ctx {
    const struct pm_host *host;
    const struct pm_instance *inst;
    const struct net_cfg *cfg;
    struct net_data *nd;
    uint8_t *ports; /* 65536-bit bitmap or NULL */
    int net_m, as_m;
    int refresh;
    struct stat st_nf, st_pf;
    uint64_t last_check;
    struct cache_slot *cache;
    uint32_t ncache, gen;
    uint64_t *c_reloads, *c_reload_err, *c_nomatch;
};

static const struct pm_option net_options[] = {
    {"networks_file", PM_OPT_PATH, PM_OPTF_MAP | PM_OPTF_TRIGGER,
     offsetof(struct net_cfg, file), NULL, "file",
     "networks list: [[label,]nexthop,][[peer_as_]as,]prefix/len per line",
     'n'},
    {"networks_mask", PM_OPT_UINT, PM_OPTF_TRIGGER,
     offsetof(struct net_cfg, mask), NULL, "0-128",
     "mask (bits) applied to addresses for src_net/dst_net", 0},
    {"networks_file_filter", PM_OPT_BOOL, 0, offsetof(struct net_cfg, filter),
     "false", NULL,
     "hosts and networks outside networks_file are zeroed out", 0},
    {"networks_file_no_lpm", PM_OPT_BOOL, 0, offsetof(struct net_cfg, no_lpm),
     "false", NULL,
     "with *_net/*_as 'longest': a networks_file match wins even when the "
     "flow's own prefix is longer",
     0},
    {"networks_no_mask_if_zero", PM_OPT_BOOL, 0,
     offsetof(struct net_cfg, no_mask_if_zero), "false", NULL,
     "addresses in no network keep their full address as *_net", 0},
    {"networks_cache_entries", PM_OPT_UINT, 0,
     offsetof(struct net_cfg, cache_entries), "99991", "count",
     "slots of the lookup cache in front of the networks table", 0},
    {"ports_file", PM_OPT_PATH, PM_OPTF_MAP | PM_OPTF_TRIGGER,
     offsetof(struct net_cfg, ports_file), NULL, "file",
     "ports to keep (one per line); other src_port/dst_port become 0", 0},
    {"pmacctd_as", PM_OPT_STR, PM_OPTF_GLOBAL, offsetof(struct net_cfg, pm_as),
     NULL, "file|longest|bgp|...",
     "pmacctd: where src_as/dst_as come from (file: networks_file)", 0},
    {"pmacctd_net", PM_OPT_STR, PM_OPTF_GLOBAL,
     offsetof(struct net_cfg, pm_net), NULL, "file|mask|longest|...",
     "pmacctd: where src_net/dst_net come from (default: mask and file)", 0},
    {"uacctd_as", PM_OPT_STR, PM_OPTF_GLOBAL, offsetof(struct net_cfg, u_as),
     NULL, "file|longest|bgp|...", "uacctd: as pmacctd_as", 0},
    {"uacctd_net", PM_OPT_STR, PM_OPTF_GLOBAL, offsetof(struct net_cfg, u_net),
     NULL, "file|mask|longest|...", "uacctd: as pmacctd_net", 0},
    {"sfacctd_as", PM_OPT_STR, PM_OPTF_GLOBAL, offsetof(struct net_cfg, sf_as),
     NULL, "sflow|file|longest|...",
     "sfacctd: where src_as/dst_as come from", 0},
    {"sfacctd_net", PM_OPT_STR, PM_OPTF_GLOBAL,
     offsetof(struct net_cfg, sf_net), NULL, "sflow|file|mask|longest|...",
     "sfacctd: where src_net/dst_net come from", 0},
    PM_OPTION_END};

static void net_fini(void *vctx);

/* ---- module ------------------------------------------------------------- */

static int method(const char *v, const char *key, struct net_ctx *c, int *m)
{
    *m = M_UNSET;
    if (!v)
        return 0;
    if (!strcasecmp(v, "file"))
        *m = M_FILE;
    else if (!strcasecmp(v, "mask"))
        *m = M_MASK;
    else if (!strcasecmp(v, "longest") || !strcasecmp(v, "fallback"))
        *m = M_LONGEST;
    else if (!strcasecmp(v, "netflow") || !strcasecmp(v, "sflow") ||
             !strcasecmp(v, "bgp") || !strcasecmp(v, "bmp") ||
             !strcasecmp(v, "igp"))
        *m = M_OTHER;
    else {
        PM_ERR(c->host, c->inst,
               "%s: '%s': expected one of netflow|sflow|mask|file|igp|bgp|"
               "bmp|longest|fallback",
               key, v);
        return -EINVAL;
    }
    return 0;
}

static int load_all(struct net_ctx *c, struct net_data **nd, uint8_t **ports,
                    struct stat *snf, struct stat *spf)
{
    char err[512];
    int rc;
    *nd = NULL;
    *ports = NULL;
    if (c->cfg->file) {
        if (stat(c->cfg->file, snf) < 0)
            memset(snf, 0, sizeof(*snf));
        rc = net_nets_load(c->cfg->file, nd, err, sizeof(err));
        if (rc < 0) {
            PM_ERR(c->host, c->inst, "networks_file %s", err);
            return rc;
        }
    }
    if (c->cfg->ports_file) {
        if (stat(c->cfg->ports_file, spf) < 0)
            memset(spf, 0, sizeof(*spf));
        rc = net_ports_load(c->cfg->ports_file, ports, err, sizeof(err));
        if (rc < 0) {
            PM_ERR(c->host, c->inst, "ports_file %s", err);
            net_data_free(*nd);
            *nd = NULL;
            return rc;
        }
    }
    return 0;
}

static int net_init(const struct pm_host *host, const struct pm_instance *inst,
                    void *config, void **ctxp)
{
    struct net_cfg *cfg = config;
    struct net_ctx *c = calloc(1, sizeof(*c));
    const char *d = inst->daemon ? inst->daemon : "pmacctd";
    const char *as_key, *net_key, *as_v, *net_v, *rf;
    int rc;

    if (!c)
        return -ENOMEM;
    c->host = host;
    c->inst = inst;
    c->cfg = cfg;
    if (!strcmp(d, "nfacctd")) {
        as_key = "nfacctd_as";
        net_key = "nfacctd_net";
        as_v = host->conf_get(inst, as_key);
        net_v = host->conf_get(inst, net_key);
        if (!as_v)
            as_v = "netflow";
        if (!net_v)
            net_v = "netflow";
    } else if (!strcmp(d, "sfacctd")) {
        as_key = "sfacctd_as";
        net_key = "sfacctd_net";
        as_v = cfg->sf_as ? cfg->sf_as : "sflow";
        net_v = cfg->sf_net ? cfg->sf_net : "sflow";
    } else if (!strcmp(d, "uacctd")) {
        as_key = "uacctd_as";
        net_key = "uacctd_net";
        as_v = cfg->u_as;
        net_v = cfg->u_net;
    } else {
        as_key = "pmacctd_as";
        net_key = "pmacctd_net";
        as_v = cfg->pm_as;
        net_v = cfg->pm_net;
    }
    if ((rc = method(as_v, as_key, c, &c->as_m)) < 0 ||
        (rc = method(net_v, net_key, c, &c->net_m)) < 0)
        goto fail;
    if (cfg->mask > 128 || (cfg->mask > 32 && 0)) {
        PM_ERR(host, inst, "networks_mask: %llu: expected 0-128",
               (unsigned long long)cfg->mask);
        rc = -EINVAL;
        goto fail;
    }
    rf = host->conf_get(inst, "maps_refresh");
    c->refresh = !rf || !(strcasecmp(rf, "false") == 0 ||
                          strcasecmp(rf, "no") == 0 || strcmp(rf, "0") == 0);
    rc = load_all(c, &c->nd, &c->ports, &c->st_nf, &c->st_pf);
    if (rc < 0)
        goto fail;
    c->ncache = cfg->cache_entries ? (uint32_t)cfg->cache_entries : 0;
    if (c->ncache > (1u << 24))
        c->ncache = 1u << 24;
    if (c->ncache && c->nd) {
        c->cache = calloc(c->ncache, sizeof(*c->cache));
        if (!c->cache) {
            rc = -ENOMEM;
            goto fail;
        }
    }
    c->gen = 1;
    if (c->nd)
        PM_INFO(host, inst, "networks_file %s: %u networks (%u + %u ranges)",
                cfg->file, c->nd->ne, c->nd->t4.n, c->nd->t6.n);
    c->c_reloads = host->counter(inst, "reloads", "maps reloaded");
    c->c_reload_err = host->counter(
        inst, "reload_errors", "reloads refused (broken file: old kept)");
    c->c_nomatch = host->counter(inst, "nomatch",
                                 "addresses in no network of networks_file");
    *ctxp = c;
    return 0;
fail:
    net_fini(c);
    return rc;
}

static uint64_t ip_hash(const pm_ip_t *ip)
{
    uint64_t a, b;
    memcpy(&a, ip->a, 8);
    memcpy(&b, ip->a + 8, 8);
    a ^= b * 0x9e3779b97f4a7c15ull + ip->af;
    a *= 0xff51afd7ed558ccdull;
    return a ^ (a >> 29);
}

static int32_t lookup(struct net_ctx *c, const pm_ip_t *ip)
{
    struct cache_slot *s = NULL;
    int32_t e;
    if (c->cache) {
        s = &c->cache[ip_hash(ip) % c->ncache];
        if (s->gen == c->gen && !memcmp(&s->ip, ip, sizeof(*ip)))
            return s->ent;
    }
    e = net_tab_find(ip->af == 6 ? &c->nd->t6 : &c->nd->t4, net_ip_key(ip));
    if (s) {
        s->ip = *ip;
        s->ent = e;
        s->gen = c->gen;
    }
    return e;
}

static void mask_ip(pm_ip_t *ip, unsigned len)
{
    unsigned n = ip->af == 6 ? 16 : 4, i;
    for (i = 0; i < n; i++) {
        if (len >= 8) {
            len -= 8;
            continue;
        }
        ip->a[i] &= (uint8_t)(0xff << (8 - len));
        len = 0;
    }
}

/* One side (source or destination) of a record. */
static void do_side(struct net_ctx *c, struct pm_rec *r, int dst)
{
    pm_ip_t *host = dst ? &r->dst_host : &r->src_host;
    pm_ip_t *net = dst ? &r->dst_net : &r->src_net;
    uint8_t *mask = dst ? &r->dst_mask : &r->src_mask;
    uint32_t *as = dst ? &r->dst_as : &r->src_as;
    unsigned pid_net = dst ? PM_P_DST_NET : PM_P_SRC_NET;
    unsigned pid_mask = dst ? PM_P_DST_MASK : PM_P_SRC_MASK;
    unsigned pid_as = dst ? PM_P_DST_AS : PM_P_SRC_AS;
    const struct net_entry *e = NULL;
    unsigned maxlen, len;
    int use_file, use_mask;

    if (!host->af)
        return;
    maxlen = host->af == 6 ? 128 : 32;
    if (c->nd) {
        int32_t i = lookup(c, host);
        if (i >= 0)
            e = &c->nd->e[i];
        else
            pm_counter_add(c->c_nomatch, 1);
    }
    /* nets and masks */
    use_file = c->nd && (c->net_m == M_UNSET || c->net_m == M_FILE ||
                         c->net_m == M_LONGEST);
    use_mask = c->cfg->mask && (c->net_m == M_UNSET || c->net_m == M_MASK);
    if (use_file || use_mask) {
        int keep_flow = 0;
        len = maxlen;
        if (use_file) {
            len = e ? e->len : 0;
            if (c->net_m == M_LONGEST && pm_rec_has(r, pid_mask) &&
                *mask > len && !(e && c->cfg->no_lpm))
                keep_flow = 1; /* the flow's own prefix is longer */
        }
        if (use_mask && c->cfg->mask < len)
            len = (unsigned)c->cfg->mask;
        if (!keep_flow) {
            if (use_file && !e && c->cfg->no_mask_if_zero)
                len = maxlen;
            *net = *host;
            mask_ip(net, len);
            *mask = (uint8_t)len;
            pm_rec_set(r, pid_net);
            pm_rec_set(r, pid_mask);
        }
    }
    /* AS, peer AS, next hop */
    if (c->nd && (c->as_m == M_FILE || c->as_m == M_LONGEST)) {
        if (c->as_m == M_FILE || !*as || (e && c->cfg->no_lpm)) {
            *as = e ? e->as : 0;
            pm_rec_set(r, pid_as);
        }
        if (dst && e && e->peer_as) {
            r->peer_dst_as = e->peer_as;
            pm_rec_set(r, PM_P_PEER_DST_AS);
        }
    }
    if (dst && e && e->nexthop.af && use_file) {
        r->peer_dst_ip = e->nexthop;
        pm_rec_set(r, PM_P_PEER_DST_IP);
    }
    /* networks_file_filter: hosts outside every network are zeroed */
    if (c->nd && c->cfg->filter && !e) {
        uint8_t af = host->af;
        memset(host, 0, sizeof(*host));
        host->af = af;
        memset(net, 0, sizeof(*net));
        net->af = af;
        *mask = 0;
    }
}

static int net_process(void *vctx, struct pm_batch *b)
{
    struct net_ctx *c = vctx;
    uint32_t i;
    for (i = 0; i < b->n; i++) {
        struct pm_rec *r;
        if (pm_batch_dropped(b, i))
            continue;
        r = pm_batch_rec(b, i);
        if (c->nd || c->cfg->mask) {
            do_side(c, r, 0);
            do_side(c, r, 1);
        }
        if (c->ports) {
            if (!(c->ports[r->src_port >> 3] & (1u << (r->src_port & 7))))
                r->src_port = 0;
            if (!(c->ports[r->dst_port >> 3] & (1u << (r->dst_port & 7))))
                r->dst_port = 0;
        }
    }
    return 0;
}

static int do_reload(struct net_ctx *c, const char *why)
{
    struct net_data *nd;
    uint8_t *ports;
    struct stat snf, spf;
    int rc = load_all(c, &nd, &ports, &snf, &spf);
    c->st_nf = snf;
    c->st_pf = spf;
    if (rc < 0) {
        PM_ERR(c->host, c->inst,
               "reload (%s) failed: keeping the previous networks/ports", why);
        pm_counter_add(c->c_reload_err, 1);
        return rc;
    }
    if (nd && !c->cache && c->ncache)
        c->cache = calloc(c->ncache, sizeof(*c->cache));
    net_data_free(c->nd);
    free(c->ports);
    c->nd = nd;
    c->ports = ports;
    c->gen++; /* invalidates the cache */
    pm_counter_add(c->c_reloads, 1);
    PM_INFO(c->host, c->inst, "networks/ports reloaded (%s)%s", why,
            nd ? "" : "");
    return 0;
}

static int net_reload(void *vctx)
{
    struct net_ctx *c = vctx;
    if (!c->refresh) {
        PM_INFO(c->host, c->inst, "maps_refresh is false: reload ignored");
        return 0;
    }
    return do_reload(c, "signal");
}

static int changed(const char *path, const struct stat *old)
{
    struct stat st;
    if (!path || stat(path, &st) < 0)
        return 0;
    return st.st_mtim.tv_sec != old->st_mtim.tv_sec ||
           st.st_mtim.tv_nsec != old->st_mtim.tv_nsec ||
           st.st_size != old->st_size || st.st_ino != old->st_ino;
}

static int net_tick(void *vctx, const pm_ts_t *now)
{
    struct net_ctx *c = vctx;
    if (!c->refresh || now->sec == c->last_check)
        return 0;
    c->last_check = now->sec;
    if (changed(c->cfg->file, &c->st_nf) ||
        changed(c->cfg->ports_file, &c->st_pf))
        do_reload(c, "file changed");
    return 0;
}

static void net_fini(void *vctx)
{
    struct net_ctx *c = vctx;
    if (!c)
        return;
    net_data_free(c->nd);
    free(c->ports);
    free(c->cache);
    free(c);
}

static const struct pm_module_desc net_desc = {
    PM_MODULE_HEAD(PM_KIND_TRANSFORM),
    .name = "networks",
    .version = "1.0",
    .summary = "transform: networks_file (nets, masks, AS), networks_mask, "
               "ports_file",
    .order = 400,
    .options = net_options,
    .config_size = sizeof(struct net_cfg),
    .init = net_init,
    .process = net_process,
    .tick = net_tick,
    .reload = net_reload,
    .fini = net_fini,
};

PM_MODULE_EXPORT(net_desc)
