/*
 * pmq_answer.c - answers PMQ/1 requests of the pmacct client from a
 * queryable output's table (libpmquery): renders the table (or counters,
 * or status) with the host's renderer exactly as pmacct's client prints
 * it, and applies -r/-e.  Runs on the server thread; the cache is used
 * only under m->mu, taken here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmq_int.h"

/* ---- table rendering ----------------------------------------------------- */

struct rowref {
    uint64_t key;
    size_t off, len;
    uint64_t seq;
};

struct walk_ctx {
    struct pmq_table *m;
    struct query *q;
    struct matcher *mt; /* NULL: every row */
    struct pm_render *r;
    struct pm_buf rows;
    struct rowref *refs;
    size_t nrefs, caprefs;
    uint64_t entries;
    int err;
};

static int row_is_empty(const struct pm_row *row)
{
    return row->packets == 0 && row->bytes == 0 && row->flows == 0;
}

static int table_cb(void *ud, const struct pm_row *row)
{
    struct walk_ctx *w = ud;
    const struct pm_host *host = w->m->host;
    int hit = 1;

    if (row_is_empty(row))
        return PM_WALK_NEXT; /* reset by -r: pmacct hides them */
    if (w->mt) {
        int t = pmq_matcher_find(host, w->mt, row);
        if (t < -1) {
            w->err = t;
            return PM_WALK_STOP;
        }
        hit = t >= 0;
    }
    if (!hit)
        return PM_WALK_NEXT;
    if (w->nrefs == w->caprefs) {
        size_t nc = w->caprefs ? w->caprefs * 2 : 256;
        struct rowref *nr = realloc(w->refs, nc * sizeof(*nr));
        if (!nr) {
            w->err = -ENOMEM;
            return PM_WALK_STOP;
        }
        w->refs = nr;
        w->caprefs = nc;
    }
    struct rowref *rr = &w->refs[w->nrefs];
    rr->off = w->rows.len;
    struct pm_row r2 = *row;
    if (w->m->stamps) /* time bins: when the row was last updated */
        r2.stamp_updated = row->last.sec;
    int rc = host->render_row(w->r, &r2, &w->rows);
    if (rc < 0) {
        w->err = rc;
        return PM_WALK_STOP;
    }
    rr->len = w->rows.len - rr->off;
    rr->seq = w->nrefs;
    rr->key = w->q->sort == S_PACKETS ? row->packets
              : w->q->sort == S_FLOWS ? row->flows
                                      : row->bytes;
    w->nrefs++;
    return (w->q->reset && w->mt) ? PM_WALK_RESET : PM_WALK_NEXT;
}

static int cmp_desc(const void *a, const void *b)
{
    const struct rowref *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? 1 : -1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

/* Offset of the counters in a formatted/CSV header, for event_* formats:
 * the number of bytes (formatted) or of fields (CSV) to keep. */
static size_t counters_at(const char *hdr, size_t len, int csv,
                          const char *sep)
{
    const char *p = memmem(hdr, len, "PACKETS", 7);
    if (!p)
        return (size_t)-1;
    if (!csv)
        return (size_t)(p - hdr);
    size_t fields = 0, sl = strlen(sep);
    for (const char *s = hdr; s < p;) {
        const char *n = memmem(s, (size_t)(p - s), sep, sl);
        if (!n)
            break;
        fields++;
        s = n + sl;
    }
    return fields;
}

/* Append line (with its '\n') cut for an event_* format. */
static int append_cut(const struct pm_host *host, struct pm_buf *out,
                      const char *line, size_t len, size_t keep, int csv,
                      const char *sep)
{
    size_t n = len;
    if (n && line[n - 1] == '\n')
        n--;
    if (keep != (size_t)-1) {
        if (!csv) {
            if (n > keep)
                n = keep;
        } else {
            size_t sl = strlen(sep), f = 0, i = 0;
            for (; i + sl <= n; i++) {
                if (!memcmp(line + i, sep, sl) && ++f == keep)
                    break;
            }
            if (f == keep && keep > 0)
                n = i;
            else if (keep == 0)
                n = 0;
        }
    }
    return host->buf_printf(out, "%.*s\n", (int)n, line);
}

/* pmacct 1.7.7's `pmacct -a` layout: its column order, and four columns
 * whose values it prints without a header (marked '-'). */
static const char *const all_layout[] = {
    "tag", "tag2", "class", "in_iface", "out_iface", "src_mac", "dst_mac",
    "vlan", "cos", "etype", "src_as", "dst_as", "std_comm", "src_std_comm",
    "as_path", "src_as_path", "local_pref", "src_local_pref", "med",
    "src_med", "src_roa", "dst_roa", "peer_src_as", "peer_dst_as",
    "peer_src_ip", "peer_dst_ip", "-mpls_vpn_rd", "-mpls_pw_id", "src_host",
    "-src_net", "dst_host", "-dst_net", "src_mask", "dst_mask", "src_port",
    "dst_port", "tcpflags", "proto", "tos", "src_host_country",
    "dst_host_country", "src_host_pocode", "dst_host_pocode",
    "src_host_coords", "dst_host_coords", "sampling_rate",
    "sampling_direction", "post_nat_src_host", "post_nat_dst_host",
    "post_nat_src_port", "post_nat_dst_port", "nat_event", "mpls_label_top",
    "mpls_label_bottom", "mpls_stack_depth", "tunnel_src_mac",
    "tunnel_dst_mac", "tunnel_src_host", "tunnel_dst_host", "tunnel_proto",
    "tunnel_tos", "tunnel_src_port", "tunnel_dst_port", "-vxlan",
    "timestamp_start",
    "timestamp_end", "timestamp_arrival", "timestamp_export",
    "export_proto_seqno", "export_proto_version", "export_proto_sysid"};

/* Columns of pmacct -a: rows get every id (rows[]), the header only those
 * pmacct names (hdr[]).  Custom primitives of the aggregate follow. */
static void all_prims(const struct pm_host *host,
                      const struct pm_instance *inst, uint16_t *rows,
                      uint32_t *nrows, uint16_t *hdr, uint32_t *nhdr)
{
    *nrows = *nhdr = 0;
    for (size_t i = 0; i < sizeof(all_layout) / sizeof(all_layout[0]); i++) {
        const char *name = all_layout[i];
        int headerless = name[0] == '-';
        int id = host->prim_lookup(name + headerless);
        if (id < 0)
            continue;
        rows[(*nrows)++] = (uint16_t)id;
        if (!headerless)
            hdr[(*nhdr)++] = (uint16_t)id;
    }
    for (uint32_t i = 0; i < inst->naggregate && *nrows < PM_P_MAX; i++)
        if (inst->aggregate[i] >= PM_P_CUSTOM_BASE) {
            rows[(*nrows)++] = inst->aggregate[i];
            hdr[(*nhdr)++] = inst->aggregate[i];
        }
}

static int answer_table(struct pmq_table *m, struct query *q,
                        struct matcher *mt, struct pm_buf *out)
{
    const struct pm_host *host = m->host;
    const struct pm_instance *inst = m->inst;
    struct pm_render_cfg rc = {0};
    struct walk_ctx w = {0};
    struct pm_buf hdr = {0};
    int event = q->fmt == F_EVFORMATTED || q->fmt == F_EVCSV;
    int csv = q->fmt == F_CSV || q->fmt == F_EVCSV;
    int rcode = 0;
    uint16_t allp[PM_P_MAX], allh[PM_P_MAX];
    uint32_t nall, nallh;
    struct pm_render *hr = NULL; /* header renderer when it differs */

    rc.fmt = q->fmt == F_JSON ? PM_FMT_JSON : csv ? PM_FMT_CSV
                                                  : PM_FMT_FORMATTED;
    /* the table is printed by the pmacct client: its column widths */
    rc.flags = PM_RENDER_CLIENT;
    rc.prims = inst->aggregate;
    rc.nprims = inst->naggregate;
    if (q->all_fields && q->fmt != F_JSON) {
        /* pmacct -a: every built-in column, in print order */
        all_prims(host, inst, allp, &nall, allh, &nallh);
        rc.prims = allh;
        rc.nprims = nallh;
        if (!(hr = host->render_new(&rc))) {
            rcode = -ENOMEM;
            goto out;
        }
        rc.prims = allp;
        rc.nprims = nall;
    }
    rc.sum_mode = inst->sum_mode;
    rc.separator = q->sep;
    if (!m->show_flows && !q->all_fields)
        rc.flags |= PM_RENDER_NO_FLOWS;
    if (q->all_fields)
        rc.flags |= PM_RENDER_ALL_FIELDS;
    if (q->num_protos)
        rc.flags |= PM_RENDER_NUM_PROTOS;
    if (q->ts_epoch)
        rc.flags |= PM_RENDER_TS_EPOCH;
    if (m->stamps)
        rc.flags |= PM_RENDER_STAMPS;
    w.m = m;
    w.q = q;
    w.mt = mt;
    if (!(w.r = host->render_new(&rc))) {
        rcode = -ENOMEM;
        goto out;
    }
    if ((rcode = host->render_header(hr ? hr : w.r, &hdr)) < 0)
        goto out;
    host->cache_walk(m->cache, table_cb, &w);
    if (w.err < 0) {
        rcode = w.err;
        goto out;
    }
    if (q->sort != S_NONE && w.nrefs > 1) /* qsort(NULL, 0) is UB */
        qsort(w.refs, w.nrefs, sizeof(*w.refs), cmp_desc);
    size_t n = w.nrefs;
    if (q->top && q->top < n)
        n = (size_t)q->top;

    size_t keep = event ? counters_at(hdr.p ? hdr.p : "", hdr.len, csv,
                                      q->sep)
                        : (size_t)-1;
    if (hdr.len) {
        if (event)
            rcode = append_cut(host, out, hdr.p, hdr.len, keep, csv, q->sep);
        else
            rcode = host->buf_printf(out, "%.*s", (int)hdr.len, hdr.p);
        if (rcode < 0)
            goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *l = w.rows.p + w.refs[i].off;
        if (event)
            rcode = append_cut(host, out, l, w.refs[i].len, keep, csv,
                               q->sep);
        else
            rcode = host->buf_printf(out, "%.*s", (int)w.refs[i].len, l);
        if (rcode < 0)
            goto out;
    }
    if (q->fmt == F_FORMATTED || q->fmt == F_EVFORMATTED)
        rcode = host->buf_printf(out, "\nFor a total of: %zu entries\n", n);
out:
    if (w.r)
        host->render_free(w.r);
    if (hr)
        host->render_free(hr);
    free(w.rows.p);
    free(w.refs);
    free(hdr.p);
    return rcode < 0 ? rcode : 0;
}

/* ---- counters (-N) ------------------------------------------------------- */

struct cnt_ctx {
    struct pmq_table *m;
    struct matcher *mt;
    int reset;
    int err;
};

static int cnt_cb(void *ud, const struct pm_row *row)
{
    struct cnt_ctx *c = ud;
    if (row_is_empty(row))
        return PM_WALK_NEXT;
    int t = pmq_matcher_find(c->m->host, c->mt, row);
    if (t < -1) {
        c->err = t;
        return PM_WALK_STOP;
    }
    if (t < 0)
        return PM_WALK_NEXT;
    for (; t >= 0; t = c->mt->terms[t].next) {
        struct qterm *qt = &c->mt->terms[t];
        qt->packets += row->packets;
        qt->bytes += row->bytes;
        qt->flows += row->flows;
        qt->entries++;
    }
    return c->reset ? PM_WALK_RESET : PM_WALK_NEXT;
}

static int print_counters(const struct pm_host *host, struct pm_buf *out,
                          int which, uint64_t p, uint64_t b, uint64_t f,
                          uint64_t e)
{
    switch (which) {
    case C_PACKETS:
        return host->buf_printf(out, "%llu\n", (unsigned long long)p);
    case C_FLOWS:
        return host->buf_printf(out, "%llu\n", (unsigned long long)f);
    case C_ALL:
        return host->buf_printf(out, "%llu %llu %llu %llu\n",
                                (unsigned long long)p, (unsigned long long)b,
                                (unsigned long long)f, (unsigned long long)e);
    default:
        return host->buf_printf(out, "%llu\n", (unsigned long long)b);
    }
}

static int answer_counters(struct pmq_table *m, struct query *q,
                           struct matcher *mt, struct pm_buf *out)
{
    const struct pm_host *host = m->host;
    struct cnt_ctx c = {.m = m, .mt = mt, .reset = q->reset};
    int rc = 0;

    if (mt->nterms == 0)
        return 0;
    host->cache_walk(m->cache, cnt_cb, &c);
    if (c.err < 0)
        return c.err;
    if (q->sum) {
        uint64_t p = 0, b = 0, f = 0, e = 0;
        for (uint32_t i = 0; i < mt->nterms; i++) {
            p += mt->terms[i].packets;
            b += mt->terms[i].bytes;
            f += mt->terms[i].flows;
            e += mt->terms[i].entries;
        }
        return print_counters(host, out, q->counters, p, b, f, e);
    }
    for (uint32_t i = 0; i < mt->nterms && rc >= 0; i++)
        rc = print_counters(host, out, q->counters, mt->terms[i].packets,
                            mt->terms[i].bytes, mt->terms[i].flows,
                            mt->terms[i].entries);
    return rc < 0 ? rc : 0;
}

/* ---- status (-t) --------------------------------------------------------- */

struct status_ctx {
    struct pmq_table *m;
    struct pm_render *r;
    struct pm_buf tmp;
    uint32_t *chain;
    uint64_t nb;
    int err;
};

static int status_cb(void *ud, const struct pm_row *row)
{
    struct status_ctx *s = ud;
    s->tmp.len = 0;
    if (s->m->host->render_row(s->r, row, &s->tmp) < 0) {
        s->err = -ENOMEM;
        return PM_WALK_STOP;
    }
    /* hash the key part only (counters are the last two fields) */
    size_t n = s->tmp.len;
    int seps = 0;
    while (n > 0) {
        n--;
        if (s->tmp.p[n] == KEY_SEP[0] && ++seps == 2)
            break;
    }
    s->chain[pmq_fnv(s->tmp.p, n) % s->nb]++;
    return PM_WALK_NEXT;
}

static int answer_status(struct pmq_table *m, struct pm_buf *out)
{
    const struct pm_host *host = m->host;
    struct status_ctx s = {0};
    struct pm_render_cfg rc = {0};
    int rcode;

    s.m = m;
    s.nb = m->buckets;
    rc.fmt = PM_FMT_CSV;
    rc.flags = PM_RENDER_NUM_PROTOS | PM_RENDER_NO_FLOWS;
    rc.prims = m->inst->aggregate;
    rc.nprims = m->inst->naggregate;
    rc.separator = KEY_SEP;
    s.chain = calloc(s.nb, sizeof(*s.chain));
    s.r = host->render_new(&rc);
    if (!s.chain || !s.r) {
        rcode = -ENOMEM;
        goto out;
    }
    host->cache_walk(m->cache, status_cb, &s);
    if ((rcode = s.err) < 0)
        goto out;
    rcode = host->buf_printf(out, "* = element\n\nBUCKET\tCHAIN_STATUS\n");
    for (uint64_t b = 0; b < s.nb && rcode >= 0; b++) {
        rcode = host->buf_printf(out, "%llu\t", (unsigned long long)b);
        for (uint32_t i = 0; i < s.chain[b] && rcode >= 0; i++)
            rcode = host->buf_printf(out, "*");
        if (rcode >= 0)
            rcode = host->buf_printf(out, "\n");
    }
out:
    if (s.r)
        host->render_free(s.r);
    free(s.chain);
    free(s.tmp.p);
    return rcode < 0 ? rcode : 0;
}

/* ---- entry point --------------------------------------------------------- */

static int answer_custom(struct pmq_table *m, struct pm_buf *out)
{
    const struct pm_host *host = m->host;
    int rc = host->buf_printf(out, "%-34s%-7s%s\n", "NAME", "LEN", "OFF");
    for (uint32_t i = 0; i < m->inst->naggregate && rc >= 0; i++) {
        unsigned id = m->inst->aggregate[i];
        const struct pm_prim_info *pi;
        if (id < PM_P_CUSTOM_BASE || !(pi = host->prim_info(id)))
            continue;
        rc = host->buf_printf(out, "%-34s%-7u%s\n", pi->name, pi->width, "-");
    }
    return rc < 0 ? rc : 0;
}

int pmq_answer(struct pmq_table *m, const char *req, size_t len,
               struct pm_buf *out)
{
    const struct pm_host *host = m->host;
    struct query q;
    struct matcher mt;
    int have_mt = 0;
    char err[512] = "";
    char *copy = strndup(req, len);
    struct pm_buf body = {0};
    int rc;

    memset(&mt, 0, sizeof(mt));
    if (!copy)
        return -ENOMEM;
    rc = pmq_parse(m, copy, &q, err, sizeof(err));
    if (rc < 0)
        goto done;

    pthread_mutex_lock(&m->mu);
    if (q.op == Q_MATCH || q.op == Q_COUNTERS) {
        have_mt = 1;
        rc = pmq_matcher_build(m, &q, &mt, err, sizeof(err));
    }
    if (rc >= 0) {
        switch (q.op) {
        case Q_SHOW:
        case Q_MATCH:
            rc = answer_table(m, &q, have_mt ? &mt : NULL, &body);
            break;
        case Q_COUNTERS:
            rc = answer_counters(m, &q, &mt, &body);
            break;
        case Q_CLEAR:
            rc = host->buf_printf(&body, "OK: Clearing stats.\n");
            q.clear = 1;
            break;
        case Q_STATUS:
            rc = answer_status(m, &body);
            break;
        case Q_SINCE:
            if (m->last_clear == 0) {
                rc = host->buf_printf(&body, "never\n");
            } else {
                pm_ts_t now;
                host->now(m->inst, &now);
                rc = host->buf_printf(
                    &body, "%lld\n",
                    (long long)now.sec - (long long)m->last_clear);
            }
            break;
        case Q_CLASSIFIERS:
            rc = host->buf_printf(&body, "CLASS_ID\tCLASS_NAME\n\nFor a "
                                         "total of: 0 classifiers\n");
            break;
        case Q_CUSTOM:
            rc = answer_custom(m, &body);
            break;
        case Q_STATS:
        case Q_PING:
            break;
        }
        if (rc >= 0 && q.clear) {
            pm_ts_t now;
            host->cache_clear(m->cache);
            host->now(m->inst, &now);
            m->last_clear = (time_t)now.sec ? (time_t)now.sec : 1;
            pm_counter_add(m->c_clears, 1);
        }
    }
    pthread_mutex_unlock(&m->mu);
    /* the owner persists changes (bdb) outside the lock */
    if (rc >= 0 && m->changed && (q.clear || (q.reset && have_mt))) {
        rc = m->changed(m->owner, q.clear);
        if (rc < 0)
            snprintf(err, sizeof(err), "table changed but not saved: %s",
                     strerror(-rc));
    }
    /* the daemon's counters are not the table's: no lock needed */
    if (rc >= 0 && q.op == Q_STATS)
        rc = host->stats_render(&body, 0);
    if (rc < 0 && !err[0])
        snprintf(err, sizeof(err), "cannot answer: %s", strerror(-rc));
done:
    if (rc < 0) {
        pm_counter_add(m->c_query_errors, 1);
        rc = host->buf_printf(out, "%s %s %s\n", PMQ_HELLO, PMQ_ERR, err);
    } else {
        pm_counter_add(m->c_queries, 1);
        rc = host->buf_printf(out, "%s %s\n", PMQ_HELLO, PMQ_OK);
        if (rc >= 0 && body.len)
            rc = host->buf_printf(out, "%.*s", (int)body.len, body.p);
    }
    if (have_mt)
        pmq_matcher_free(host, &mt);
    pmq_query_free(&q);
    free(body.p);
    free(copy);
    return rc < 0 ? -ENOMEM : 0;
}
