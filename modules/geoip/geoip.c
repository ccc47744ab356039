/*
 * geoip.c - transform module: GeoIP enrichment with libmaxminddb (MaxMind DB
 * v2 format, pmacct's --enable-geoipv2).
 *
 * geoipv2_file (a City or Country database) fills src/dst_host_country (ISO
 * code), src/dst_host_pocode (postal code) and src/dst_host_coords
 * (latitude/longitude); geoipv2_asn_file (ours: an ASN database) fills
 * src_as/dst_as when the pipeline aggregates them and no earlier stage or
 * the capture set them.  Only what the pipeline's aggregate needs is looked
 * up.  A small direct-mapped per-instance cache remembers recent lookups
 * (geoip_cache_entries); it is cleared on reload.  SIGUSR2 reopens both
 * files (reload()); a file that fails to open keeps the old database.
 *
 * Threads: one instance serves one pipeline; process() and reload() run on
 * that pipeline's thread only, so the context needs no lock.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <maxminddb.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

#define GEO_POCODE_MAX 24

struct geoip_cfg {
    char *geoipv2_file;
    char *geoipv2_asn_file;
    uint64_t cache_entries;
};

/* What one address resolved to (in the cache and on the stack). */
struct geo_res {
    char country[4];
    char pocode[GEO_POCODE_MAX];
    uint8_t pocode_len;
    uint8_t has_city; /* city/country db looked up */
    uint8_t has_asn;  /* asn db looked up */
    uint8_t _pad;
    float lat, lon;
    uint32_t asn;
};

struct geo_slot {
    pm_ip_t ip;
    uint32_t gen; /* 0: empty; matches ctx->gen when valid */
    struct geo_res res;
};

struct geoip_ctx {
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct geoip_cfg *cfg;
    MMDB_s city, asn;
    int have_city, have_asn;
    /* what the pipeline needs */
    int need_city[2]; /* [0] src, [1] dst */
    int need_asn[2];
    struct geo_slot *cache;
    uint32_t cache_mask; /* entries - 1 (power of two), or 0: no cache */
    uint32_t gen;
    uint64_t *c_lookups, *c_cache_hits, *c_not_found, *c_errors, *c_reloads;
};

static const struct pm_option geoip_options[] = {
    {"geoipv2_file", PM_OPT_PATH, PM_OPTF_TRIGGER | PM_OPTF_MAP,
     offsetof(struct geoip_cfg, geoipv2_file), NULL, "path",
     "MaxMind DB v2 City or Country database: fills src/dst_host_country, "
     "_pocode, _coords (reopened on SIGUSR2)",
     0},
    {"geoipv2_asn_file", PM_OPT_PATH, PM_OPTF_TRIGGER | PM_OPTF_MAP,
     offsetof(struct geoip_cfg, geoipv2_asn_file), NULL, "path",
     "MaxMind DB v2 ASN database: fills src_as/dst_as when nothing else did "
     "(not in pmacct; reopened on SIGUSR2)",
     0},
    {"geoip_cache_entries", PM_OPT_UINT, 0,
     offsetof(struct geoip_cfg, cache_entries), "4096", "0-1048576",
     "per-pipeline cache of recent lookups, rounded up to a power of two "
     "(0: none; not in pmacct)",
     0},
    PM_OPTION_END};

static int db_open(struct geoip_ctx *ctx, const char *key, const char *path,
                   MMDB_s *db)
{
    int st = MMDB_open(path, MMDB_MODE_MMAP, db);

    if (st != MMDB_SUCCESS) {
        int e = errno;
        int sys = (st == MMDB_IO_ERROR || st == MMDB_FILE_OPEN_ERROR) && e;
        PM_ERR(ctx->host, ctx->inst, "%s: '%s': %s%s%s", key, path,
               MMDB_strerror(st), sys ? ": " : "", sys ? strerror(e) : "");
        return sys ? -e : -EINVAL;
    }
    return 0;
}

static void geoip_fini(void *vctx)
{
    struct geoip_ctx *ctx = vctx;

    if (!ctx)
        return;
    if (ctx->have_city)
        MMDB_close(&ctx->city);
    if (ctx->have_asn)
        MMDB_close(&ctx->asn);
    free(ctx->cache);
    free(ctx);
}

static int geoip_init(const struct pm_host *host,
                      const struct pm_instance *inst, void *config, void **ctxp)
{
    struct geoip_cfg *cfg = config;
    struct geoip_ctx *ctx;
    const pm_pset_t *as = &inst->aggregate_set;
    int rc;

    if ((!cfg->geoipv2_file || !*cfg->geoipv2_file) &&
        (!cfg->geoipv2_asn_file || !*cfg->geoipv2_asn_file)) {
        PM_ERR(host, inst, "geoipv2_file: no database given");
        return -EINVAL;
    }
    if (cfg->cache_entries > (1u << 20)) {
        PM_ERR(host, inst, "geoip_cache_entries: '%llu': expected 0 to 1048576",
               (unsigned long long)cfg->cache_entries);
        return -EINVAL;
    }
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return -ENOMEM;
    ctx->host = host;
    ctx->inst = inst;
    ctx->cfg = cfg;
    ctx->gen = 1;
    if (cfg->geoipv2_file && *cfg->geoipv2_file) {
        rc = db_open(ctx, "geoipv2_file", cfg->geoipv2_file, &ctx->city);
        if (rc < 0)
            goto fail;
        ctx->have_city = 1;
    }
    if (cfg->geoipv2_asn_file && *cfg->geoipv2_asn_file) {
        rc = db_open(ctx, "geoipv2_asn_file", cfg->geoipv2_asn_file, &ctx->asn);
        if (rc < 0)
            goto fail;
        ctx->have_asn = 1;
    }
    ctx->need_city[0] = pm_pset_has(as, PM_P_SRC_HOST_COUNTRY) ||
                        pm_pset_has(as, PM_P_SRC_HOST_POCODE) ||
                        pm_pset_has(as, PM_P_SRC_HOST_COORDS);
    ctx->need_city[1] = pm_pset_has(as, PM_P_DST_HOST_COUNTRY) ||
                        pm_pset_has(as, PM_P_DST_HOST_POCODE) ||
                        pm_pset_has(as, PM_P_DST_HOST_COORDS);
    ctx->need_asn[0] = ctx->have_asn && pm_pset_has(as, PM_P_SRC_AS);
    ctx->need_asn[1] = ctx->have_asn && pm_pset_has(as, PM_P_DST_AS);
    if (cfg->cache_entries) {
        uint32_t n = 1;
        while (n < cfg->cache_entries)
            n <<= 1;
        ctx->cache = calloc(n, sizeof(*ctx->cache));
        if (!ctx->cache) {
            rc = -ENOMEM;
            goto fail;
        }
        ctx->cache_mask = n - 1;
    }
    ctx->c_lookups = host->counter(inst, "lookups", "database lookups");
    ctx->c_cache_hits =
        host->counter(inst, "cache_hits", "lookups answered by the cache");
    ctx->c_not_found = host->counter(
        inst, "not_found", "lookups of addresses absent from the database");
    ctx->c_errors = host->counter(inst, "lookup_errors",
                                  "lookups failed (corrupt database)");
    ctx->c_reloads = host->counter(inst, "reloads", "databases reopened");
    *ctxp = ctx;
    return 0;
fail:
    geoip_fini(ctx);
    return rc;
}

static int get_str(MMDB_entry_s *e, char *out, size_t outlen, size_t *len,
                   const char *k1, const char *k2)
{
    MMDB_entry_data_s d;

    if (MMDB_get_value(e, &d, k1, k2, NULL) != MMDB_SUCCESS || !d.has_data ||
        d.type != MMDB_DATA_TYPE_UTF8_STRING)
        return 0;
    *len = d.data_size < outlen ? d.data_size : outlen;
    memcpy(out, d.utf8_string, *len);
    return 1;
}

static int get_double(MMDB_entry_s *e, double *out, const char *k1,
                      const char *k2)
{
    MMDB_entry_data_s d;

    if (MMDB_get_value(e, &d, k1, k2, NULL) != MMDB_SUCCESS || !d.has_data)
        return 0;
    if (d.type == MMDB_DATA_TYPE_DOUBLE)
        *out = d.double_value;
    else if (d.type == MMDB_DATA_TYPE_FLOAT)
        *out = d.float_value;
    else
        return 0;
    return 1;
}

/* Look an address up in db; 1 with *entry filled when found. */
static int db_lookup(struct geoip_ctx *ctx, MMDB_s *db, const pm_ip_t *ip,
                     MMDB_entry_s *entry)
{
    struct sockaddr_in s4;
    struct sockaddr_in6 s6;
    const struct sockaddr *sa;
    MMDB_lookup_result_s res;
    int err = 0;

    if (ip->af == 4) {
        memset(&s4, 0, sizeof(s4));
        s4.sin_family = AF_INET;
        memcpy(&s4.sin_addr, ip->a, 4);
        sa = (const struct sockaddr *)&s4;
    } else {
        memset(&s6, 0, sizeof(s6));
        s6.sin6_family = AF_INET6;
        memcpy(&s6.sin6_addr, ip->a, 16);
        sa = (const struct sockaddr *)&s6;
    }
    pm_counter_add(ctx->c_lookups, 1);
    res = MMDB_lookup_sockaddr(db, sa, &err);
    if (err != MMDB_SUCCESS) {
        pm_counter_add(ctx->c_errors, 1);
        ctx->host->log_limited(ctx->inst, PM_LOG_WARNING, "geoip-lookup",
                               "lookup failed: %s", MMDB_strerror(err));
        return 0;
    }
    if (!res.found_entry) {
        pm_counter_add(ctx->c_not_found, 1);
        return 0;
    }
    *entry = res.entry;
    return 1;
}

/* Resolve ip into res: the city part when want_city, the AS when want_asn
 * (cache first). */
static void resolve(struct geoip_ctx *ctx, const pm_ip_t *ip, int want_city,
                    int want_asn, struct geo_res *res)
{
    struct geo_slot *slot = NULL;
    MMDB_entry_s e;

    if (ctx->cache_mask) {
        uint32_t h = 2166136261u;
        for (unsigned k = 0; k < (ip->af == 4 ? 4u : 16u); k++)
            h = (h ^ ip->a[k]) * 16777619u;
        slot = &ctx->cache[h & ctx->cache_mask];
        if (slot->gen == ctx->gen && memcmp(&slot->ip, ip, sizeof(*ip)) == 0 &&
            (!want_city || slot->res.has_city) &&
            (!want_asn || slot->res.has_asn)) {
            pm_counter_add(ctx->c_cache_hits, 1);
            *res = slot->res;
            return;
        }
        if (slot->gen == ctx->gen && memcmp(&slot->ip, ip, sizeof(*ip)) == 0)
            *res = slot->res; /* keep what is known, add the rest */
        else
            memset(res, 0, sizeof(*res));
    } else {
        memset(res, 0, sizeof(*res));
    }
    if (want_city && !res->has_city) {
        res->has_city = 1;
        if (ctx->have_city && db_lookup(ctx, &ctx->city, ip, &e)) {
            size_t len = 0;
            double lat, lon;
            char cc[4];
            if (get_str(&e, cc, 3, &len, "country", "iso_code") && len)
                memcpy(res->country, cc, len);
            if (get_str(&e, res->pocode, sizeof(res->pocode), &len, "postal",
                        "code"))
                res->pocode_len = (uint8_t)len;
            if (get_double(&e, &lat, "location", "latitude") &&
                get_double(&e, &lon, "location", "longitude")) {
                res->lat = (float)lat;
                res->lon = (float)lon;
            }
        }
    }
    if (want_asn && !res->has_asn) {
        MMDB_entry_data_s d;
        res->has_asn = 1;
        if (ctx->have_asn && db_lookup(ctx, &ctx->asn, ip, &e) &&
            MMDB_get_value(&e, &d, "autonomous_system_number", NULL) ==
                MMDB_SUCCESS &&
            d.has_data && d.type == MMDB_DATA_TYPE_UINT32)
            res->asn = d.uint32;
    }
    if (slot) {
        slot->ip = *ip;
        slot->gen = ctx->gen;
        slot->res = *res;
    }
}

static int geoip_process(void *vctx, struct pm_batch *b)
{
    struct geoip_ctx *ctx = vctx;
    const pm_pset_t *as = &ctx->inst->aggregate_set;

    if (!ctx->need_city[0] && !ctx->need_city[1] && !ctx->need_asn[0] &&
        !ctx->need_asn[1])
        return 0;
    for (uint32_t i = 0; i < b->n; i++) {
        struct pm_rec *r;

        if (pm_batch_dropped(b, i))
            continue;
        r = pm_batch_rec(b, i);
        for (int dir = 0; dir < 2; dir++) {
            const pm_ip_t *ip = dir ? &r->dst_host : &r->src_host;
            unsigned asid = dir ? PM_P_DST_AS : PM_P_SRC_AS;
            uint32_t *asv = dir ? &r->dst_as : &r->src_as;
            int want_asn =
                ctx->need_asn[dir] && (!pm_rec_has(r, asid) || *asv == 0);
            int want_city = ctx->need_city[dir];
            struct geo_res res;

            if (!want_asn && !want_city)
                continue;
            if (ip->af != 4 && ip->af != 6) {
                memset(&res, 0, sizeof(res));
            } else {
                resolve(ctx, ip, want_city, want_asn, &res);
            }
            if (want_city) {
                unsigned cid =
                    dir ? PM_P_DST_HOST_COUNTRY : PM_P_SRC_HOST_COUNTRY;
                unsigned pid =
                    dir ? PM_P_DST_HOST_POCODE : PM_P_SRC_HOST_POCODE;
                unsigned lid =
                    dir ? PM_P_DST_HOST_COORDS : PM_P_SRC_HOST_COORDS;
                if (pm_pset_has(as, cid)) {
                    char *cc = dir ? r->dst_host_country : r->src_host_country;
                    memset(cc, 0, 4);
                    memcpy(cc, res.country, 3); /* unknown: empty, as pmacct */
                    pm_rec_set(r, cid);
                }
                if (pm_pset_has(as, pid)) {
                    pm_sref_t *s =
                        dir ? &r->dst_host_pocode : &r->src_host_pocode;
                    if (res.pocode_len)
                        ctx->host->batch_str(b, res.pocode, res.pocode_len, s);
                    else
                        memset(s, 0, sizeof(*s)); /* unknown: empty */
                    pm_rec_set(r, pid);
                }
                if (pm_pset_has(as, lid)) {
                    if (dir) {
                        r->dst_host_lat = res.lat;
                        r->dst_host_lon = res.lon;
                    } else {
                        r->src_host_lat = res.lat;
                        r->src_host_lon = res.lon;
                    }
                    pm_rec_set(r, lid);
                }
            }
            if (want_asn) {
                *asv = res.asn;
                pm_rec_set(r, asid);
            }
        }
    }
    return 0;
}

/* SIGUSR2: reopen each database; keep the old one when the new fails. */
static int geoip_reload(void *vctx)
{
    struct geoip_ctx *ctx = vctx;
    MMDB_s db;
    int rc = 0, r;

    if (ctx->have_city) {
        r = db_open(ctx, "geoipv2_file", ctx->cfg->geoipv2_file, &db);
        if (r < 0) {
            PM_WARN(ctx->host, ctx->inst,
                    "geoipv2_file: keeping the database loaded before");
            rc = r;
        } else {
            MMDB_close(&ctx->city);
            ctx->city = db;
        }
    }
    if (ctx->have_asn) {
        r = db_open(ctx, "geoipv2_asn_file", ctx->cfg->geoipv2_asn_file, &db);
        if (r < 0) {
            PM_WARN(ctx->host, ctx->inst,
                    "geoipv2_asn_file: keeping the database loaded before");
            rc = r;
        } else {
            MMDB_close(&ctx->asn);
            ctx->asn = db;
        }
    }
    if (++ctx->gen == 0)
        ctx->gen = 1;
    if (ctx->cache && ctx->gen == 1)
        memset(ctx->cache, 0, (ctx->cache_mask + 1) * sizeof(*ctx->cache));
    pm_counter_add(ctx->c_reloads, 1);
    return rc;
}

static const struct pm_module_desc geoip_desc = {
    PM_MODULE_HEAD(PM_KIND_TRANSFORM),
    .name = "geoip",
    .version = "1.0",
    .summary = "transform: GeoIP (country, postal code, coordinates, ASN) "
               "via libmaxminddb",
    .order = 500,
    .options = geoip_options,
    .config_size = sizeof(struct geoip_cfg),
    .init = geoip_init,
    .process = geoip_process,
    .reload = geoip_reload,
    .fini = geoip_fini,
};

PM_MODULE_EXPORT(geoip_desc)
