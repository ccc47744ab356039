/*
 * pmq_parse.c - PMQ/1 request parsing and the -M/-N matcher of
 * libpmquery.  Runs on the server thread of a queryable output; the
 * matcher is built under the table's lock by pmq_answer (pmq_answer.c).
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

#include "pmq_int.h"

#define REC_ALLOC (sizeof(struct pm_rec) + 4096) /* room for a newer core */

void pmq_query_free(struct query *q)
{
    for (uint32_t i = 0; i < q->nmatch; i++)
        free(q->match[i]);
    free(q->match);
}

uint64_t pmq_fnv(const char *s, size_t n)
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
int pmq_parse(struct pmq_table *m, char *req, struct query *q, char *err,
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

void pmq_matcher_free(const struct pm_host *host, struct matcher *mt)
{
    if (mt->r)
        host->render_free(mt->r);
    for (uint32_t i = 0; i < mt->nterms; i++)
        free(mt->terms[i].key);
    free(mt->terms);
    free(mt->h.slot);
    free(mt->tmp.p);
}

int pmq_matcher_build(struct pmq_table *m, struct query *q,
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
        uint32_t s = (uint32_t)pmq_fnv(qt->key, (size_t)kl) & mt->h.mask;
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

int pmq_matcher_find(const struct pm_host *host, struct matcher *mt,
                     const struct pm_row *row)
{
    int kl = key_of(host, mt, row);
    if (kl < 0)
        return kl;
    uint32_t s = (uint32_t)pmq_fnv(mt->tmp.p, (size_t)kl) & mt->h.mask;
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

