/*
 * preproc.c - pmacct's *_preprocess checks and actions (libpmdata), shared
 * by every output through the host table (print_preprocess,
 * sql_preprocess, ...).  A parsed set is read-only: several threads may
 * apply it at once.
 *
 * Checks (minp, minb, minf, maxp, maxb, maxf, minbpp, maxbpp, minppf,
 * maxppf) decide whether an aggregate is written: with *_preprocess_type
 * "any" one passing check suffices, with "all" every one must pass.
 * Actions (usrf: scale the counters, adjb: add N bytes per packet) then
 * adjust the counters of the aggregates kept.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmdata.h"

enum {
    PP_MINP,
    PP_MINB,
    PP_MINF,
    PP_MAXP,
    PP_MAXB,
    PP_MAXF,
    PP_MINBPP,
    PP_MAXBPP,
    PP_MINPPF,
    PP_MAXPPF,
    PP_USRF, /* actions from here on */
    PP_ADJB,
    PP_NKINDS
};

static const char *const pp_names[PP_NKINDS] = {
    "minp",   "minb",   "minf",   "maxp",   "maxb", "maxf",
    "minbpp", "maxbpp", "minppf", "maxppf", "usrf", "adjb",
};

#define PP_MAX 16

struct pm_preproc {
    int n;
    int checks; /* items that are checks, not actions */
    int all;    /* every check must pass */
    struct {
        int kind;
        double v;
    } it[PP_MAX];
};

int pmc_preproc_new(const char *text, int all, struct pm_preproc **out,
                    char *err, size_t errlen)
{
    char buf[512], *save = NULL, *tok;
    struct pm_preproc *p;

    *out = NULL;
    if (!text || !*text)
        return 0;
    if (strlen(text) >= sizeof(buf)) {
        snprintf(err, errlen, ": longer than %zu characters", sizeof(buf) - 1);
        return -E2BIG;
    }
    if (!(p = calloc(1, sizeof(*p))))
        return -ENOMEM;
    p->all = all;
    strcpy(buf, text);
    for (tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq, *end;
        double v;
        int k;
        while (*tok == ' ' || *tok == '\t')
            tok++;
        if (!(eq = strchr(tok, '='))) {
            snprintf(err, errlen, ": expected key=value, got '%s'", tok);
            goto fail;
        }
        *eq = 0;
        for (char *t = eq - 1; t >= tok && (*t == ' ' || *t == '\t'); t--)
            *t = 0;
        for (k = 0; k < PP_NKINDS; k++)
            if (!strcmp(tok, pp_names[k]))
                break;
        if (k == PP_NKINDS) {
            if (!strcmp(tok, "qnum") || !strcmp(tok, "fss") ||
                !strcmp(tok, "fsrc") || !strcmp(tok, "recover"))
                snprintf(err, errlen, ": '%s' is not supported yet", tok);
            else
                snprintf(err, errlen,
                         ": unknown check '%s' (known: minp, minb, minf, maxp, "
                         "maxb, maxf, minbpp, maxbpp, minppf, maxppf, usrf, "
                         "adjb)",
                         tok);
            goto fail;
        }
        errno = 0;
        v = strtod(eq + 1, &end);
        while (*end == ' ' || *end == '\t')
            end++;
        if (errno || end == eq + 1 || *end) {
            snprintf(err, errlen, ": %s: expected a number, got '%s'", tok,
                     eq + 1);
            goto fail;
        }
        if (p->n == PP_MAX) {
            snprintf(err, errlen, ": more than %d items", PP_MAX);
            goto fail;
        }
        p->it[p->n].kind = k;
        p->it[p->n].v = v;
        p->n++;
        if (k < PP_USRF)
            p->checks++;
    }
    *out = p;
    return 0;
fail:
    free(p);
    return -EINVAL;
}

void pmc_preproc_free(struct pm_preproc *p)
{
    free(p);
}

int pmc_preproc_apply(const struct pm_preproc *pp, struct pm_row *r)
{
    int pass = 0, fail = 0, i;
    double p = (double)r->packets, b = (double)r->bytes, f = (double)r->flows;

    if (!pp)
        return 0;
    for (i = 0; i < pp->n; i++) {
        double v = pp->it[i].v;
        int ok;
        switch (pp->it[i].kind) {
        case PP_MINP: ok = p >= v; break;
        case PP_MINB: ok = b >= v; break;
        case PP_MINF: ok = f >= v; break;
        case PP_MAXP: ok = p < v; break;
        case PP_MAXB: ok = b < v; break;
        case PP_MAXF: ok = f < v; break;
        case PP_MINBPP: ok = p > 0 && b / p >= v; break;
        case PP_MAXBPP: ok = p > 0 && b / p < v; break;
        case PP_MINPPF: ok = f > 0 && p / f >= v; break;
        case PP_MAXPPF: ok = f > 0 && p / f < v; break;
        default: continue;
        }
        if (ok)
            pass++;
        else
            fail++;
    }
    if (pp->checks && (pp->all ? fail > 0 : pass == 0))
        return 1;
    for (i = 0; i < pp->n; i++) {
        double v = pp->it[i].v;
        if (pp->it[i].kind == PP_USRF) {
            r->packets = (uint64_t)((double)r->packets * v);
            r->bytes = (uint64_t)((double)r->bytes * v);
            r->flows = (uint64_t)((double)r->flows * v);
        } else if (pp->it[i].kind == PP_ADJB) {
            int64_t nb = (int64_t)r->bytes + (int64_t)(v * (double)r->packets);
            r->bytes = nb < 0 ? 0 : (uint64_t)nb;
        }
    }
    return 0;
}
