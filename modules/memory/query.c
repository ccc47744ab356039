/*
 * query.c - answers PMQ/1 requests of the pmacct client from the memory
 * table: parses the request, renders the table (or counters, or status)
 * with the host's renderer exactly as pmacct's client prints it, and
 * applies -r/-e.  Runs on the memory module's server thread; the cache is
 * used only under m->mu, taken here.
 *
 * Matching (-M/-N): each query term is parsed with host->prim_parse into a
 * record and rendered once as a key string over the -c primitives; every
 * row is rendered over the same primitives and looked up in a hash of the
 * query keys.  Comparing rendered text makes "tcp" and "6" or "::ffff..."
 * forms match exactly as the renderer normalises them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"

#define KEY_SEP "\x1f"
#define MAXPRIMS 64
#define REC_ALLOC (sizeof(struct pm_rec) + 4096) /* room for a newer core */

enum q_op {
    Q_SHOW = 1,
    Q_MATCH,
    Q_COUNTERS,
    Q_CLEAR,
    Q_STATUS,
    Q_SINCE,
    Q_CLASSIFIERS,
    Q_CUSTOM,
    Q_STATS,
    Q_PING
};
enum q_fmt { F_FORMATTED = 0, F_CSV, F_JSON, F_EVFORMATTED, F_EVCSV };
enum q_cnt { C_BYTES = 0, C_PACKETS, C_FLOWS, C_ALL };
enum q_sort { S_NONE = 0, S_BYTES, S_PACKETS, S_FLOWS };

struct query {
    int op;
    int fmt;
    char sep[32];
    uint16_t prims[MAXPRIMS];
    uint32_t nprims;
    char **match; /* raw terms, in order */
    uint32_t nmatch;
    int sort;
    uint64_t top;
    int counters;
    int sum, reset, clear, all_fields, num_protos, ts_epoch;
};

/* One parsed -M/-N term. */
struct qterm {
    char *key; /* rendered key over the -c primitives */
    int next;  /* next term with the same key, -1 */
    uint64_t packets, bytes, flows, entries;
};

struct qhash {
    int *slot; /* term index or -1 */
    uint32_t mask;
};

static void q_free(struct query *q)
{
    for (uint32_t i = 0; i < q->nmatch; i++)
        free(q->match[i]);
    free(q->match);
}

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = 0;
    return s;
}

static int is_true(const char *v)
{
    return !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes");
}

/* Parse the request text; on failure write the reason into err. */
static int q_parse(struct mem_ctx *m, char *req, struct query *q, char *err,
                   size_t errlen)
{
    char *save = NULL, *line;
    int first = 1;

    memset(q, 0, sizeof(*q));
    strcpy(q->sep, ",");
    for (line = strtok_r(req, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\r')
            line[--n] = 0;
        if (first) {
            first = 0;
            if (strncmp(line, PMQ_PREFIX, strlen(PMQ_PREFIX)) != 0) {
                snprintf(err, errlen,
                         "protocol: expected '%s' as the first line, got "
                         "'%.40s' (is this a pmacct client of this "
                         "implementation?)",
                         PMQ_HELLO, line);
                return -EPROTO;
            }
            long v = strtol(line + strlen(PMQ_PREFIX), NULL, 10);
            if (v != PMQ_VERSION) {
                snprintf(err, errlen,
                         "version: daemon speaks PMQ/%d, client PMQ/%ld: "
                         "upgrade the %s",
                         PMQ_VERSION, v,
                         v < PMQ_VERSION ? "client" : "daemon");
                return -EPROTO;
            }
            continue;
        }
        if (!line[0])
            break;
        char *colon = strchr(line, ':');
        if (!colon) {
            snprintf(err, errlen, "protocol: line without ':': '%.40s'",
                     line);
            return -EPROTO;
        }
        *colon = 0;
        char *k = trim(line), *v = colon + 1;
        if (*v == ' ')
            v++; /* one space after ':'; the value may carry more */
        if (!strcmp(k, PMQ_K_OP)) {
            static const char *ops[] = {
                NULL,           PMQ_OP_SHOW,   PMQ_OP_MATCH,
                PMQ_OP_COUNTERS, PMQ_OP_CLEAR, PMQ_OP_STATUS,
                PMQ_OP_SINCE,   PMQ_OP_CLASSIFIERS, PMQ_OP_CUSTOM,
                PMQ_OP_STATS,   PMQ_OP_PING};
            v = trim(v);
            for (int i = 1; i <= Q_PING; i++)
                if (!strcmp(v, ops[i]))
                    q->op = i;
            if (!q->op) {
                snprintf(err, errlen,
                         "unknown op '%.40s' (this daemon knows show, match, "
                         "counters, clear, status, since, classifiers, "
                         "custom, stats, ping)",
                         v);
                return -EINVAL;
            }
        } else if (!strcmp(k, PMQ_K_FORMAT)) {
            static const char *f[] = {PMQ_FMT_FORMATTED, PMQ_FMT_CSV,
                                      PMQ_FMT_JSON, PMQ_FMT_EVENT_FORMATTED,
                                      PMQ_FMT_EVENT_CSV};
            int found = -1;
            v = trim(v);
            for (int i = 0; i < 5; i++)
                if (!strcmp(v, f[i]))
                    found = i;
            if (found < 0) {
                snprintf(err, errlen,
                         "unknown format '%.40s' (formatted, csv, json, "
                         "event_formatted, event_csv)",
                         v);
                return -EINVAL;
            }
            q->fmt = found;
        } else if (!strcmp(k, PMQ_K_SEPARATOR)) {
            if (!v[0] || strlen(v) >= sizeof(q->sep)) {
                snprintf(err, errlen, "separator: 1 to %zu characters",
                         sizeof(q->sep) - 1);
                return -EINVAL;
            }
            strcpy(q->sep, v);
        } else if (!strcmp(k, PMQ_K_PRIMITIVES)) {
            char *s2 = NULL;
            for (char *w = strtok_r(v, ",", &s2); w;
                 w = strtok_r(NULL, ",", &s2)) {
                w = trim(w);
                if (!*w)
                    continue;
                int id = m->host->prim_lookup(w);
                if (id < 0) {
                    snprintf(err, errlen, "unknown primitive '%.60s'", w);
                    return -EINVAL;
                }
                if (q->nprims >= MAXPRIMS) {
                    snprintf(err, errlen, "too many primitives (max %d)",
                             MAXPRIMS);
                    return -EINVAL;
                }
                q->prims[q->nprims++] = (uint16_t)id;
            }
        } else if (!strcmp(k, PMQ_K_MATCH)) {
            char **nm = realloc(q->match, (q->nmatch + 1) * sizeof(*nm));
            if (!nm)
                return -ENOMEM;
            q->match = nm;
            if (!(q->match[q->nmatch] = strdup(v)))
                return -ENOMEM;
            q->nmatch++;
        } else if (!strcmp(k, PMQ_K_SORT)) {
            v = trim(v);
            if (!strcmp(v, "bytes"))
                q->sort = S_BYTES;
            else if (!strcmp(v, "packets"))
                q->sort = S_PACKETS;
            else if (!strcmp(v, "flows"))
                q->sort = S_FLOWS;
            else if (strcmp(v, "none") != 0) {
                snprintf(err, errlen,
                         "sort: expected bytes, packets or flows, got "
                         "'%.40s'",
                         v);
                return -EINVAL;
            }
        } else if (!strcmp(k, PMQ_K_TOP)) {
            q->top = strtoull(v, NULL, 10);
        } else if (!strcmp(k, PMQ_K_COUNTERS)) {
            v = trim(v);
            if (!strcmp(v, "bytes"))
                q->counters = C_BYTES;
            else if (!strcmp(v, "packets"))
                q->counters = C_PACKETS;
            else if (!strcmp(v, "flows"))
                q->counters = C_FLOWS;
            else if (!strcmp(v, "all"))
                q->counters = C_ALL;
            else {
                snprintf(err, errlen,
                         "counters: expected bytes, packets, flows or all, "
                         "got '%.40s'",
                         v);
                return -EINVAL;
            }
        } else if (!strcmp(k, PMQ_K_SUM)) {
            q->sum = is_true(trim(v));
        } else if (!strcmp(k, PMQ_K_RESET)) {
            q->reset = is_true(trim(v));
        } else if (!strcmp(k, PMQ_K_CLEAR)) {
            q->clear = is_true(trim(v));
        } else if (!strcmp(k, PMQ_K_ALL_FIELDS)) {
            q->all_fields = is_true(trim(v));
        } else if (!strcmp(k, PMQ_K_NUM_PROTOS)) {
            q->num_protos = is_true(trim(v));
        } else if (!strcmp(k, PMQ_K_TS_EPOCH)) {
            q->ts_epoch = is_true(trim(v));
        }
        /* other keys (utc, lock, client, future hints): ignored */
    }
    if (first) {
        snprintf(err, errlen, "protocol: empty request");
        return -EPROTO;
    }
    if (!q->op) {
        snprintf(err, errlen, "protocol: request without 'op'");
        return -EPROTO;
    }
    if ((q->op == Q_MATCH || q->op == Q_COUNTERS) && q->nprims == 0) {
        snprintf(err, errlen,
                 "-N or -M selected but -c has not been specified or is "
                 "invalid.");
        return -EINVAL;
    }
    return 0;
}

/* ---- matching ------------------------------------------------------------ */

struct matcher {
    struct pm_render *r; /* CSV over the -c primitives, KEY_SEP separated */
    struct qterm *terms;
    uint32_t nterms;
    struct qhash h;
    struct pm_buf tmp;
};

/* Render row over the match primitives; returns the key length in tmp
 * (counters stripped), or -errno. */
static int key_of(const struct pm_host *host, struct matcher *mt,
                  const struct pm_row *row)
{
    mt->tmp.len = 0;
    int rc = host->render_row(mt->r, row, &mt->tmp);
    if (rc < 0)
        return rc;
    /* strip "<sep>packets<sep>bytes\n" */
    size_t n = mt->tmp.len;
    int seps = 0;
    while (n > 0) {
        n--;
        if (mt->tmp.p[n] == KEY_SEP[0] && ++seps == 2)
            break;
    }
    return (int)n;
}

static const char *value_kind(const struct pm_host *host, unsigned id)
{
    const struct pm_prim_info *pi = host->prim_info(id);
    if (pi && pi->name &&
        (strstr(pi->name, "host") || strstr(pi->name, "_ip") ||
         strstr(pi->name, "_net")))
        return "Invalid IP address";
    return "Invalid value";
}

static void matcher_free(const struct pm_host *host, struct matcher *mt)
{
    if (mt->r)
        host->render_free(mt->r);
    for (uint32_t i = 0; i < mt->nterms; i++)
        free(mt->terms[i].key);
    free(mt->terms);
    free(mt->h.slot);
    free(mt->tmp.p);
}

static int matcher_build(struct mem_ctx *m, struct query *q,
                         struct matcher *mt, char *err, size_t errlen)
{
    const struct pm_host *host = m->host;
    struct pm_render_cfg rc = {0};
    struct pm_batch qb = {0};
    struct pm_rec *qr = NULL;
    int rcode = 0;

    memset(mt, 0, sizeof(*mt));
    rc.fmt = PM_FMT_CSV;
    rc.flags = PM_RENDER_NUM_PROTOS | PM_RENDER_NO_FLOWS;
    rc.prims = q->prims;
    rc.nprims = q->nprims;
    rc.separator = KEY_SEP;
    if (!(mt->r = host->render_new(&rc))) {
        snprintf(err, errlen, "cannot create a renderer for -c");
        return -EINVAL;
    }
    mt->terms = calloc(q->nmatch ? q->nmatch : 1, sizeof(*mt->terms));
    qr = calloc(1, REC_ALLOC);
    qb.arena_cap = 65536;
    qb.arena = malloc(qb.arena_cap);
    qb.rec_size = (uint32_t)sizeof(struct pm_rec);
    uint32_t hs = 16;
    while (hs < q->nmatch * 2)
        hs <<= 1;
    mt->h.slot = malloc(hs * sizeof(int));
    mt->h.mask = hs - 1;
    if (!mt->terms || !qr || !qb.arena || !mt->h.slot) {
        rcode = -ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < hs; i++)
        mt->h.slot[i] = -1;

    for (uint32_t t = 0; t < q->nmatch; t++) {
        char *term = q->match[t], *save = NULL;
        memset(qr, 0, REC_ALLOC);
        qb.arena_len = 0;
        /* values in -c order; missing or empty values stay unset */
        char *p = term;
        for (uint32_t k = 0; k < q->nprims && p; k++) {
            char *comma = strchr(p, ',');
            if (comma)
                *comma = 0;
            char *val = trim(p);
            if (*val && host->prim_parse(q->prims[k], val, qr, &qb) < 0) {
                const struct pm_prim_info *pi = host->prim_info(q->prims[k]);
                snprintf(err, errlen, "%s: %s: '%.200s'",
                         pi && pi->name ? pi->name : "?",
                         value_kind(host, q->prims[k]), val);
                rcode = -EINVAL;
                goto out;
            }
            p = comma ? comma + 1 : NULL;
        }
        (void)save;
        struct pm_row row = {0};
        row.rec = qr;
        row.arena = qb.arena;
        int kl = key_of(host, mt, &row);
        if (kl < 0) {
            rcode = kl;
            goto out;
        }
        struct qterm *qt = &mt->terms[mt->nterms];
        if (!(qt->key = strndup(mt->tmp.p, (size_t)kl))) {
            rcode = -ENOMEM;
            goto out;
        }
        qt->next = -1;
        /* insert: the chain keeps terms with equal keys */
        uint32_t s = (uint32_t)fnv(qt->key, (size_t)kl) & mt->h.mask;
        for (;;) {
            int o = mt->h.slot[s];
            if (o < 0) {
                mt->h.slot[s] = (int)mt->nterms;
                break;
            }
            if (!strcmp(mt->terms[o].key, qt->key)) {
                while (mt->terms[o].next >= 0)
                    o = mt->terms[o].next;
                mt->terms[o].next = (int)mt->nterms;
                break;
            }
            s = (s + 1) & mt->h.mask;
        }
        mt->nterms++;
    }
out:
    free(qr);
    free(qb.arena);
    return rcode;
}

/* First term whose key equals the row's, or -1 (-errno on failure). */
static int matcher_find(const struct pm_host *host, struct matcher *mt,
                        const struct pm_row *row)
{
    int kl = key_of(host, mt, row);
    if (kl < 0)
        return kl;
    uint32_t s = (uint32_t)fnv(mt->tmp.p, (size_t)kl) & mt->h.mask;
    for (;;) {
        int o = mt->h.slot[s];
        if (o < 0)
            return -1;
        const char *k = mt->terms[o].key;
        if (strlen(k) == (size_t)kl && !memcmp(k, mt->tmp.p, (size_t)kl))
            return o;
        s = (s + 1) & mt->h.mask;
    }
}

/* ---- table rendering ----------------------------------------------------- */

struct rowref {
    uint64_t key;
    size_t off, len;
    uint64_t seq;
};

struct walk_ctx {
    struct mem_ctx *m;
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
        int t = matcher_find(host, w->mt, row);
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
    int rc = host->render_row(w->r, row, &w->rows);
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

static int answer_table(struct mem_ctx *m, struct query *q,
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
    struct mem_ctx *m;
    struct matcher *mt;
    int reset;
    int err;
};

static int cnt_cb(void *ud, const struct pm_row *row)
{
    struct cnt_ctx *c = ud;
    if (row_is_empty(row))
        return PM_WALK_NEXT;
    int t = matcher_find(c->m->host, c->mt, row);
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

static int answer_counters(struct mem_ctx *m, struct query *q,
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
    struct mem_ctx *m;
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
    s->chain[fnv(s->tmp.p, n) % s->nb]++;
    return PM_WALK_NEXT;
}

static int answer_status(struct mem_ctx *m, struct pm_buf *out)
{
    const struct pm_host *host = m->host;
    struct status_ctx s = {0};
    struct pm_render_cfg rc = {0};
    int rcode;

    s.m = m;
    s.nb = m->cfg->imt_buckets;
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

static int answer_custom(struct mem_ctx *m, struct pm_buf *out)
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

int mem_answer(struct mem_ctx *m, const char *req, size_t len,
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
    rc = q_parse(m, copy, &q, err, sizeof(err));
    if (rc < 0)
        goto done;

    pthread_mutex_lock(&m->mu);
    if (q.op == Q_MATCH || q.op == Q_COUNTERS) {
        have_mt = 1;
        rc = matcher_build(m, &q, &mt, err, sizeof(err));
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
        matcher_free(host, &mt);
    q_free(&q);
    free(body.p);
    free(copy);
    return rc < 0 ? -ENOMEM : 0;
}
