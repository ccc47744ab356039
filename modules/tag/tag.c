/*
 * tag.c - transform module `tag`: pmacct's pre_tag_map (tag, tag2, label
 * primitives) and the per-pipeline pre_tag_filter, pre_tag2_filter and
 * pre_tag_label_filter.  The map itself is parsed and evaluated by
 * pretag.c.
 *
 * Reload: SIGUSR2 (reload()) and, with maps_refresh, a changed file
 * (mtime/size/inode, checked from tick() once a second) load a new map; a
 * broken one is logged (file:line) and the old map kept.  Both run on the
 * pipeline thread, between batches, so the swap is atomic for records.
 *
 * `return=true` rules append a copy of the record, tagged as it was at that
 * rule, to the batch when it has room (counted as `returned`, or
 * `return_no_room` when it has none).
 *
 * Threads: one instance per pipeline; every callback but init/fini runs on
 * that pipeline's thread, so the context needs no lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

#include "pretag.h"

struct tag_cfg {
    char *map;
    int refresh;
    int index;
    uint64_t entries;
    uint64_t row_len;
    char *filter;
    char *filter2;
    char *label_filter;
};

struct label_filter {
    uint32_t n;
    struct {
        char *s; /* NULL: 'null' */
        int neg;
    } e[32];
};

struct tag_ctx {
    const struct pm_host *host;
    const struct pm_instance *inst;
    const struct tag_cfg *cfg;
    struct pt_map *map;
    struct pt_limits lim;
    struct stat st; /* of the loaded map */
    int have_st;
    uint64_t last_check;
    int has_f1, has_f2;
    struct pt_tagfilter f1, f2;
    struct label_filter lf;
    char *lf_buf;
    /* return=true copies: where to append */
    struct pm_batch *cur_b;
    const struct pm_rec *cur_r;
    uint64_t *c_matched, *c_unmatched, *c_filtered, *c_returned,
        *c_noroom, *c_reloads, *c_reload_err;
};

static const struct pm_option tag_options[] = {
    {"pre_tag_map", PM_OPT_PATH, PM_OPTF_MAP | PM_OPTF_TRIGGER,
     offsetof(struct tag_cfg, map), NULL, "file",
     "pre_tag_map: rules setting tag, tag2 and label (SIGUSR2 reloads)", 0},
    {"maps_refresh", PM_OPT_BOOL, PM_OPTF_GLOBAL,
     offsetof(struct tag_cfg, refresh), "true", NULL,
     "reload maps on SIGUSR2 and when their file changes (checked every "
     "second)",
     0},
    {"maps_index", PM_OPT_BOOL, PM_OPTF_GLOBAL,
     offsetof(struct tag_cfg, index), "false", NULL,
     "accepted: pre_tag_map is always indexed (ip and exact-match keys), "
     "results are the same as without an index",
     0},
    {"maps_entries", PM_OPT_UINT, 0, offsetof(struct tag_cfg, entries), "384",
     "count", "maximum number of rules in a map (more: start-up error)", 0},
    {"maps_row_len", PM_OPT_UINT, 0, offsetof(struct tag_cfg, row_len), "256",
     "bytes", "maximum length of a map line (longer: start-up error)", 0},
    {"pre_tag_filter", PM_OPT_LIST, PM_OPTF_NO_GLOBAL | PM_OPTF_TRIGGER,
     offsetof(struct tag_cfg, filter), NULL, "10,20-30,-0",
     "keep records whose tag is in the list (0: untagged; -N: all but N)", 0},
    {"pre_tag2_filter", PM_OPT_LIST, PM_OPTF_NO_GLOBAL | PM_OPTF_TRIGGER,
     offsetof(struct tag_cfg, filter2), NULL, "10,20-30,-0",
     "keep records whose tag2 is in the list", 0},
    {"pre_tag_label_filter", PM_OPT_LIST, PM_OPTF_NO_GLOBAL | PM_OPTF_TRIGGER,
     offsetof(struct tag_cfg, label_filter), NULL, "label,-label,null",
     "keep records with one of these labels (null: unlabelled; -x: not x)",
     0},
    PM_OPTION_END};

static void tag_fini(void *vctx);

static int load(struct tag_ctx *c, struct pt_map **out, struct stat *st)
{
    char err[512];
    int rc;
    err[0] = 0;
    if (stat(c->cfg->map, st) < 0)
        memset(st, 0, sizeof(*st));
    rc = pt_load(c->cfg->map, c->host, &c->lim, out, err, sizeof(err));
    if (rc < 0)
        PM_ERR(c->host, c->inst, "pre_tag_map %s", err);
    return rc;
}

static int parse_label_filter(struct tag_ctx *c, const char *text)
{
    char *s, *tok, *save = NULL;
    c->lf_buf = strdup(text);
    if (!c->lf_buf)
        return -ENOMEM;
    for (s = c->lf_buf; (tok = strtok_r(s, ", \t", &save)); s = NULL) {
        int neg = 0;
        if (c->lf.n == 32) {
            PM_ERR(c->host, c->inst,
                   "pre_tag_label_filter: '%s': more than 32 labels", text);
            return -EINVAL;
        }
        if (*tok == '-') {
            neg = 1;
            tok++;
        }
        if (!*tok) {
            PM_ERR(c->host, c->inst,
                   "pre_tag_label_filter: '%s': empty label", text);
            return -EINVAL;
        }
        c->lf.e[c->lf.n].s = strcmp(tok, "null") ? tok : NULL;
        c->lf.e[c->lf.n].neg = neg;
        c->lf.n++;
    }
    return 0;
}

static int tag_init(const struct pm_host *host, const struct pm_instance *inst,
                    void *config, void **ctxp)
{
    struct tag_cfg *cfg = config;
    struct tag_ctx *c = calloc(1, sizeof(*c));
    char err[256];
    int rc = 0;

    if (!c)
        return -ENOMEM;
    c->host = host;
    c->inst = inst;
    c->cfg = cfg;
    c->lim.max_rules = cfg->entries;
    c->lim.max_row_len = cfg->row_len;
    if (cfg->filter) {
        if (pt_tagfilter_parse(cfg->filter, &c->f1, err, sizeof(err)) < 0) {
            PM_ERR(host, inst, "pre_tag_filter: %s", err);
            rc = -EINVAL;
            goto fail;
        }
        c->has_f1 = 1;
    }
    if (cfg->filter2) {
        if (pt_tagfilter_parse(cfg->filter2, &c->f2, err, sizeof(err)) < 0) {
            PM_ERR(host, inst, "pre_tag2_filter: %s", err);
            rc = -EINVAL;
            goto fail;
        }
        c->has_f2 = 1;
    }
    if (cfg->label_filter && (rc = parse_label_filter(c, cfg->label_filter)) < 0)
        goto fail;
    if (cfg->map) {
        rc = load(c, &c->map, &c->st);
        if (rc < 0)
            goto fail;
        c->have_st = 1;
        PM_INFO(host, inst, "pre_tag_map %s: %u rules loaded", cfg->map,
                pt_rules(c->map));
    }
    c->c_matched = host->counter(inst, "matched", "records a map rule matched");
    c->c_unmatched =
        host->counter(inst, "unmatched", "records no map rule matched");
    c->c_filtered = host->counter(
        inst, "filtered",
        "records dropped by pre_tag_filter/pre_tag2_filter/pre_tag_label_filter");
    c->c_returned = host->counter(inst, "returned",
                                  "copies added by return=true rules");
    c->c_noroom = host->counter(
        inst, "return_no_room",
        "return=true copies not added: the batch was full");
    c->c_reloads = host->counter(inst, "reloads", "maps reloaded");
    c->c_reload_err = host->counter(
        inst, "reload_errors", "reloads refused (broken map: old map kept)");
    *ctxp = c;
    return 0;
fail:
    tag_fini(c);
    return rc;
}

static int label_ok(const struct tag_ctx *c, const struct pm_batch *b,
                    const struct pm_rec *r)
{
    const char *l = NULL;
    size_t ll = 0;
    int pos = 0, hit = 0;
    if (pm_rec_has(r, PM_P_LABEL) && r->label.len) {
        l = pm_batch_str(b, r->label);
        ll = r->label.len;
    }
    for (uint32_t i = 0; i < c->lf.n; i++) {
        const char *s = c->lf.e[i].s;
        int in;
        if (!s) {
            in = l == NULL;
        } else if (!l) {
            in = 0;
        } else {
            /* the whole label or one of its comma-separated parts */
            size_t sl = strlen(s);
            const char *p = l, *end = l + ll;
            in = 0;
            while (p <= end && !in) {
                const char *q = memchr(p, ',', (size_t)(end - p));
                if (!q)
                    q = end;
                in = (size_t)(q - p) == sl && !memcmp(p, s, sl);
                p = q + 1;
            }
            in = in || (ll == sl && !memcmp(l, s, sl));
        }
        if (c->lf.e[i].neg) {
            if (in)
                return 0;
        } else {
            pos = 1;
            hit |= in;
        }
    }
    return pos ? hit : 1;
}

static int keep(const struct tag_ctx *c, const struct pm_batch *b,
                const struct pm_rec *r)
{
    if (c->has_f1 &&
        !pt_tagfilter_match(&c->f1, pm_rec_has(r, PM_P_TAG) ? r->tag : 0))
        return 0;
    if (c->has_f2 &&
        !pt_tagfilter_match(&c->f2, pm_rec_has(r, PM_P_TAG2) ? r->tag2 : 0))
        return 0;
    if (c->lf.n && !label_ok(c, b, r))
        return 0;
    return 1;
}

static void apply(struct tag_ctx *c, struct pm_batch *b, struct pm_rec *r,
                  const struct pt_result *res)
{
    if (res->has_tag) {
        r->tag = res->tag;
        pm_rec_set(r, PM_P_TAG);
    }
    if (res->has_tag2) {
        r->tag2 = res->tag2;
        pm_rec_set(r, PM_P_TAG2);
    }
    if (res->label_len &&
        c->host->batch_str(b, res->label, res->label_len, &r->label) == 0)
        pm_rec_set(r, PM_P_LABEL);
}

static void emit_copy(void *ud, const struct pt_result *res)
{
    struct tag_ctx *c = ud;
    struct pm_batch *b = c->cur_b;
    struct pm_rec *n;
    if (b->n >= b->cap) {
        pm_counter_add(c->c_noroom, 1);
        return;
    }
    n = pm_batch_rec(b, b->n);
    memcpy(n, c->cur_r, b->rec_size);
    b->drop[b->n >> 6] &= ~((uint64_t)1 << (b->n & 63));
    b->n++;
    apply(c, b, n, res);
    pm_counter_add(c->c_returned, 1);
    if (!keep(c, b, n)) {
        pm_batch_drop(b, b->n - 1);
        pm_counter_add(c->c_filtered, 1);
    }
}

static int tag_process(void *vctx, struct pm_batch *b)
{
    struct tag_ctx *c = vctx;
    struct pt_result res;
    uint64_t matched = 0, unmatched = 0, filtered = 0;
    uint32_t i, n = b->n;

    c->cur_b = b;
    for (i = 0; i < n; i++) {
        struct pm_rec *r;
        if (pm_batch_dropped(b, i))
            continue;
        r = pm_batch_rec(b, i);
        if (c->map) {
            c->cur_r = r;
            if (pt_eval(c->map, r, &res, emit_copy, c)) {
                matched++;
                apply(c, b, r, &res);
            } else {
                unmatched++;
            }
        }
        if (!keep(c, b, r)) {
            pm_batch_drop(b, i);
            filtered++;
        }
    }
    c->cur_b = NULL;
    if (matched)
        pm_counter_add(c->c_matched, matched);
    if (unmatched)
        pm_counter_add(c->c_unmatched, unmatched);
    if (filtered)
        pm_counter_add(c->c_filtered, filtered);
    return 0;
}

static int do_reload(struct tag_ctx *c, const char *why)
{
    struct pt_map *nm;
    struct stat st;
    int rc;
    if (!c->cfg->map)
        return 0;
    rc = load(c, &nm, &st);
    c->st = st; /* do not retry an unchanged broken file every second */
    c->have_st = 1;
    if (rc < 0) {
        PM_ERR(c->host, c->inst,
               "pre_tag_map %s: reload (%s) failed, keeping the previous "
               "map (%u rules)",
               c->cfg->map, why, pt_rules(c->map));
        pm_counter_add(c->c_reload_err, 1);
        return rc;
    }
    pt_free(c->map);
    c->map = nm;
    pm_counter_add(c->c_reloads, 1);
    PM_INFO(c->host, c->inst, "pre_tag_map %s: reloaded (%s), %u rules",
            c->cfg->map, why, pt_rules(nm));
    return 0;
}

static int tag_reload(void *vctx)
{
    struct tag_ctx *c = vctx;
    if (!c->cfg->refresh) {
        PM_INFO(c->host, c->inst, "maps_refresh is false: reload ignored");
        return 0;
    }
    return do_reload(c, "signal");
}

static int tag_tick(void *vctx, const pm_ts_t *now)
{
    struct tag_ctx *c = vctx;
    struct stat st;
    if (!c->cfg->map || !c->cfg->refresh || now->sec == c->last_check)
        return 0;
    c->last_check = now->sec;
    if (stat(c->cfg->map, &st) < 0)
        return 0; /* being replaced: next tick */
    if (c->have_st && st.st_mtim.tv_sec == c->st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == c->st.st_mtim.tv_nsec &&
        st.st_size == c->st.st_size && st.st_ino == c->st.st_ino)
        return 0;
    do_reload(c, "file changed");
    return 0;
}

static void tag_fini(void *vctx)
{
    struct tag_ctx *c = vctx;
    if (!c)
        return;
    pt_free(c->map);
    free(c->lf_buf);
    free(c);
}

static const struct pm_module_desc tag_desc = {
    PM_MODULE_HEAD(PM_KIND_TRANSFORM),
    .name = "tag",
    .version = "1.0",
    .summary = "transform: pre_tag_map tagging (tag, tag2, label) and "
               "pre_tag_filter",
    .flags = PM_MF_NEEDS_PACKETS,
    .order = 300,
    .options = tag_options,
    .config_size = sizeof(struct tag_cfg),
    .init = tag_init,
    .process = tag_process,
    .tick = tag_tick,
    .reload = tag_reload,
    .fini = tag_fini,
};

PM_MODULE_EXPORT(tag_desc)
