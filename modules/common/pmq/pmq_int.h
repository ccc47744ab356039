/*
 * pmq_int.h - private interface between the parts of libpmquery: the
 * parsed request (pmq_parse.c) and the -M/-N matcher used by the answers
 * (pmq_answer.c).  Nothing here is shared between threads: one request is
 * parsed and answered on the server thread that read it.
 */
#ifndef PM_PMQ_INT_H
#define PM_PMQ_INT_H

#include "pmq.h"

#define KEY_SEP "\x1f"
#define MAXPRIMS 64

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
/* ---- matching ------------------------------------------------------------ */

struct matcher {
    struct pm_render *r; /* CSV over the -c primitives, KEY_SEP separated */
    struct qterm *terms;
    uint32_t nterms;
    struct qhash h;
    struct pm_buf tmp;
};


/* FNV-1a of n bytes. */
uint64_t pmq_fnv(const char *s, size_t n);

/* Parse the request text (modified in place); on failure write the reason
 * into err.  Returns 0, -EPROTO, -EINVAL or -ENOMEM.  Free with q_free. */
int pmq_parse(struct pmq_table *m, char *req, struct query *q, char *err,
              size_t errlen);
void pmq_query_free(struct query *q);

/* Build the matcher of q's terms (-M/-N); err gets the reason. */
int pmq_matcher_build(struct pmq_table *m, struct query *q,
                      struct matcher *mt, char *err, size_t errlen);
void pmq_matcher_free(const struct pm_host *host, struct matcher *mt);
/* First term whose key equals the row's, or -1 (-errno on failure). */
int pmq_matcher_find(const struct pm_host *host, struct matcher *mt,
                     const struct pm_row *row);

#endif /* PM_PMQ_INT_H */
