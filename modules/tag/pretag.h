/*
 * pretag.h - pmacct's pre_tag_map: parser, index and evaluator (pretag.c),
 * used by the tag transform (tag.c).  A map is immutable once loaded except
 * for the `N++` auto-increment counters, which only the pipeline thread that
 * owns the map touches; nothing is shared between threads.
 */
#ifndef PMACCT_MOD_TAG_PRETAG_H
#define PMACCT_MOD_TAG_PRETAG_H

#include <stddef.h>
#include <stdint.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_record.h>

struct pt_map;

struct pt_limits {
    uint64_t max_rules;   /* maps_entries (0: unlimited) */
    uint64_t max_row_len; /* maps_row_len (0: unlimited) */
};

#define PT_LABEL_MAX 1024

/* What one evaluation produced. */
struct pt_result {
    int matched; /* some rule matched */
    int has_tag, has_tag2;
    uint64_t tag, tag2;
    size_t label_len;
    char label[PT_LABEL_MAX];
};

/* Called for each `return=true` match before the jump is followed. */
typedef void (*pt_emit_fn)(void *ud, const struct pt_result *res);

/* Load path.  On error returns -errno and writes "path:line: why" into
 * err.  host is used to parse MACs and route distinguishers. */
int pt_load(const char *path, const struct pm_host *host,
            const struct pt_limits *lim, struct pt_map **out, char *err,
            size_t errlen);
void pt_free(struct pt_map *m);
uint32_t pt_rules(const struct pt_map *m);
/* Number of distinct index groups and rules left to the linear list. */
void pt_index_stats(const struct pt_map *m, uint32_t *groups,
                    uint32_t *linear);

/* Evaluate the map on r (not modified).  Returns res->matched. */
int pt_eval(struct pt_map *m, const struct pm_rec *r, struct pt_result *res,
            pt_emit_fn emit, void *ud);

/* A tag filter list as pre_tag_filter takes it: "10,20-30,-0". */
struct pt_tagfilter {
    uint32_t n;
    struct {
        uint64_t lo, hi;
        int neg;
    } e[64];
};
int pt_tagfilter_parse(const char *text, struct pt_tagfilter *f, char *err,
                       size_t errlen);
int pt_tagfilter_match(const struct pt_tagfilter *f, uint64_t v);

#endif
