/*
 * preproc.c - sql_preprocess for the SQL outputs: the host's checks and
 * actions (minp .. maxppf, usrf, adjb: host->preproc_*) plus the ones
 * pmacct offers to SQL plugins only:
 *   qnum=N  the checks run only when the purge holds at least N aggregates
 *           (queries); below that every aggregate is written (the actions
 *           usrf/adjb still apply)
 *   fss=Z   flow size dependent sampling (Duffield, Lund, Thorup): an
 *           aggregate of at least Z bytes is kept as is, a smaller one of
 *           x bytes is kept with probability x/Z and then counts Z bytes
 *           (packets and flows scaled by Z/x): unbiased byte totals
 *   fsrc=N  flow sampling under a resource constraint: Z chosen for each
 *           purge so that N aggregates are kept on average
 *           (sum of min(1, x/Z) = N), then as fss; no sampling when the
 *           purge holds N aggregates or fewer
 * fss/fsrc sample the aggregates the other checks kept.
 *   recover=N  (N > 0) the aggregates the checks (or fss/fsrc) filter out
 *           are not discarded: they go to sql_backup_host, after the
 *           actions usrf/adjb, as pmacct 1.7.7 does (measured: with the
 *           primary up, filtered rows land in the backup database, valid
 *           ones in the primary).  recover=0 is ignored with a warning, as
 *           pmacct does; without sql_backup_host it has no effect (sql.c).
 *
 * Threads: pipeline thread only (purge); the random state lives in the
 * instance.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sql_int.h"

static int key_is(const char *tok, const char *key, const char **val)
{
    size_t n = strlen(key);
    while (*tok == ' ' || *tok == '\t')
        tok++;
    if (strncmp(tok, key, n))
        return 0;
    tok += n;
    while (*tok == ' ' || *tok == '\t')
        tok++;
    if (*tok != '=')
        return 0;
    *val = tok + 1;
    return 1;
}

static int num(const char *key, const char *v, double *out, char *err,
               size_t errlen)
{
    char *end;
    errno = 0;
    *out = strtod(v, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (errno || end == v || *end || *out <= 0) {
        snprintf(err, errlen, ": %s: expected a positive number, got '%s'",
                 key, v);
        return -EINVAL;
    }
    return 0;
}

int sql_pp_init(struct sql_ctx *c, const char *text, int all, char *err,
                size_t errlen)
{
    const struct pm_host *h = c->host;
    char *rest = NULL, *acts = NULL, *buf = NULL, *save = NULL, *tok;
    size_t rl = 0, al = 0;
    int rc = 0;

    c->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^
             (uint64_t)(uintptr_t)c;
    if (!c->rng)
        c->rng = 88172645463325252ull;
    if (!text || !*text)
        return 0;
    size_t n = strlen(text) + 2;
    buf = strdup(text);
    rest = calloc(1, n);
    acts = calloc(1, n);
    if (!buf || !rest || !acts) {
        rc = -ENOMEM;
        goto out;
    }
    for (tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        const char *v;
        double d;
        if (key_is(tok, "qnum", &v) || key_is(tok, "fss", &v) ||
            key_is(tok, "fsrc", &v)) {
            const char *k = strstr(tok, "qnum") ? "qnum"
                            : strstr(tok, "fsrc") ? "fsrc"
                                                  : "fss";
            if ((rc = num(k, v, &d, err, errlen)) < 0)
                goto out;
            if (*k == 'q')
                c->pp_qnum = (uint64_t)d;
            else if (!strcmp(k, "fss"))
                c->pp_fss = d;
            else
                c->pp_fsrc = (uint64_t)d;
            continue;
        }
        if (key_is(tok, "recover", &v)) {
            char *end;
            errno = 0;
            long long r = strtoll(v, &end, 10);
            while (*end == ' ' || *end == '\t')
                end++;
            if (errno || end == v || *end || r < 0) {
                snprintf(err, errlen,
                         ": recover: expected a number, got '%s'", v);
                rc = -EINVAL;
                goto out;
            }
            if (r == 0)
                PM_WARN(h, c->inst, "sql_preprocess: recover=0 has no effect "
                                    "(filtered aggregates are discarded)");
            c->pp_recover = r > 0;
            continue;
        }
        rl += (size_t)snprintf(rest + rl, n - rl, "%s%s", rl ? "," : "", tok);
        if (key_is(tok, "usrf", &v) || key_is(tok, "adjb", &v))
            al += (size_t)snprintf(acts + al, n - al, "%s%s", al ? "," : "",
                                   tok);
    }
    if (c->pp_fss && c->pp_fsrc) {
        snprintf(err, errlen, ": fss and fsrc: choose one");
        rc = -EINVAL;
        goto out;
    }
    if ((rc = h->preproc_new(rest, all, &c->pp, err, errlen)) < 0)
        goto out;
    if ((c->pp_qnum || c->pp_recover) &&
        (rc = h->preproc_new(acts, all, &c->pp_acts, err, errlen)) < 0)
        goto out;
out:
    free(buf);
    free(rest);
    free(acts);
    return rc;
}

void sql_pp_fini(struct sql_ctx *c)
{
    if (c->pp)
        c->host->preproc_free(c->pp);
    if (c->pp_acts)
        c->host->preproc_free(c->pp_acts);
    free(c->pp_x);
    c->pp = c->pp_acts = NULL;
    c->pp_x = NULL;
}

static int collect(void *ud, const struct pm_row *row)
{
    struct sql_ctx *c = ud;
    struct pm_row r = *row;
    if (c->pp_checks && c->pp && c->host->preproc_apply(c->pp, &r))
        return PM_WALK_NEXT; /* filtered anyway: not a candidate */
    c->pp_x[c->pp_nx++] = (double)r.bytes;
    return PM_WALK_NEXT;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Z with sum(min(1, x_i / Z)) = n over the sorted (descending) sizes. */
double sql_pp_fsrc_threshold(double *x, size_t m, uint64_t n)
{
    double rest = 0;
    if (m <= n || n == 0)
        return 0;
    qsort(x, m, sizeof(*x), cmp_desc);
    for (size_t i = 0; i < m; i++)
        rest += x[i];
    /* k largest kept with probability 1: Z = rest_k / (n - k), valid when
     * x[k] <= Z (the (k+1)-th largest is sampled) and Z <= x[k-1] */
    for (size_t k = 0; k < n; k++) {
        double z = rest / (double)(n - k);
        if (x[k] <= z && (k == 0 || z <= x[k - 1]))
            return z;
        rest -= x[k];
    }
    return x[n - 1]; /* not reached with positive sizes */
}

int sql_pp_begin(struct sql_ctx *c, uint64_t total)
{
    c->pp_checks = !c->pp_qnum || total >= c->pp_qnum;
    c->pp_z = c->pp_fss;
    if (!c->pp_fsrc || !total)
        return 0;
    free(c->pp_x);
    c->pp_x = malloc(total * sizeof(*c->pp_x));
    if (!c->pp_x)
        return -ENOMEM;
    c->pp_nx = 0;
    c->host->cache_walk(c->cache, collect, c);
    c->pp_z = sql_pp_fsrc_threshold(c->pp_x, c->pp_nx, c->pp_fsrc);
    free(c->pp_x);
    c->pp_x = NULL;
    return 0;
}

static double rnd(struct sql_ctx *c)
{
    uint64_t x = c->rng; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return (double)((x * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

/* A filtered aggregate: discarded, or recovered with the actions applied */
static int filtered(struct sql_ctx *c, struct pm_row *row)
{
    if (!c->pp_recover)
        return SQL_PP_DROP;
    if (c->pp_acts)
        c->host->preproc_apply(c->pp_acts, row);
    return SQL_PP_RECOVER;
}

int sql_pp_apply(struct sql_ctx *c, struct pm_row *row)
{
    const struct pm_host *h = c->host;
    if (c->pp_checks) {
        if (c->pp && h->preproc_apply(c->pp, row))
            return filtered(c, row);
    } else if (c->pp_acts && h->preproc_apply(c->pp_acts, row)) {
        return SQL_PP_DROP; /* actions only: never filters */
    }
    if (c->pp_checks && c->pp_z > 0 && (double)row->bytes < c->pp_z) {
        double x = (double)row->bytes;
        if (x <= 0 || rnd(c) >= x / c->pp_z)
            return filtered(c, row);
        double f = c->pp_z / x;
        row->bytes = (uint64_t)(c->pp_z + 0.5);
        row->packets = (uint64_t)((double)row->packets * f + 0.5);
        row->flows = (uint64_t)((double)row->flows * f + 0.5);
    }
    return 0;
}
