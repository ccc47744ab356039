/*
 * cache_walk.c - walking the aggregation cache: the whole of it (the
 * callback may reset or delete entries) or a read-only part of it, so that
 * threads may walk parts at once (host cache_walk_part, ABI 1.1), and
 * entries' rows again by their refs (cache_walk_part_ref, cache_rows,
 * ABI 1.2).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache_int.h"

/* A record as every entry's row starts: zero but for what is the same
 * for all (presence bits, no packet). */
static void rec_init(const struct pm_cache *c, struct pm_rec *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->present = c->present;
    rec->l3_off = rec->l4_off = rec->payload_off = 0xffff;
}

/* The row of entry e into *rec / *row (rec: a full record with the key's
 * primitives, row: counters, times, bin).  rec as rec_init left it or as
 * entry_row left it for another entry of c: every entry writes the same
 * fields of it (so a walk zeroes its record once, not per entry). */
static void entry_row(const struct pm_cache *c, struct entry *e,
                      struct pm_rec *rec, struct pm_row *row)
{
    const uint8_t *k = entry_key(e);
    uint32_t j;
    for (j = 0; j < c->nsegs; j++)
        memcpy((uint8_t *)rec + c->segs[j].rec_off, k + c->segs[j].key_off,
               c->segs[j].len);
    for (j = 0; j < c->nstrs; j++) {
        pm_sref_t s;
        memcpy(&s.len, k + c->strs[j].key_off + 8, 4);
        memcpy(&s.off, k + c->strs[j].key_off + 12, 4);
        memcpy((uint8_t *)rec + c->strs[j].rec_off, &s, sizeof(s));
    }
    rec->packets = e->packets;
    rec->bytes = e->bytes;
    rec->flows = e->flows;
    if (c->or_tcpflags)
        rec->tcpflags = (uint8_t)e->tcpflags;
    memset(row, 0, sizeof(*row));
    row->rec = rec;
    row->arena = c->arena;
    row->packets = e->packets;
    row->bytes = e->bytes;
    row->flows = e->flows;
    row->first = e->first;
    row->last = e->last;
    row->stamp_inserted = e->stamp;
}

int pmc_cache_walk(struct pm_cache *c, pm_walk_fn fn, void *ud)
{
    struct pm_rec rec;
    struct pm_row row;
    uint32_t i;
    int deleted = 0, rc = 0;

    rec_init(c, &rec);
    for (i = 0; i < c->nused; i++) {
        struct entry *e = entry_at(c, i);
        int ret;
        if (!e->hash)
            continue;
        entry_row(c, e, &rec, &row);
        ret = fn(ud, &row);
        if (ret & PM_WALK_RESET) {
            e->packets = e->bytes = e->flows = 0;
            e->tcpflags = 0;
        }
        if (ret & PM_WALK_DELETE) {
            if (c->nfree >= c->freecap) {
                uint32_t ncap = c->freecap ? c->freecap * 2 : 64;
                uint32_t *nf;
                while (ncap < c->nfree + 1)
                    ncap *= 2;
                nf = realloc(c->freel, ncap * sizeof(*nf));
                if (!nf) {
                    rc = -ENOMEM;
                    break;
                }
                c->freel = nf;
                c->freecap = ncap;
            }
            e->hash = 0;
            c->freel[c->nfree++] = i;
            c->count--;
            deleted = 1;
        }
        if (ret & PM_WALK_STOP)
            break;
    }
    if (deleted) {
        if (c->count == 0) {
            pmc_cache_clear(c);
        } else {
            pmc_cache_rebuild(c);
        }
    }
    return rc;
}

/* Part `part` of `nparts` of the entries, read-only: the callback's
 * DELETE/RESET bits are ignored, only STOP is honoured; nothing of the
 * cache is written, so threads may walk different parts at once.  With
 * rfn, each entry's index is its ref (cache_row). */
static int walk_part(const struct pm_cache *c, uint32_t part, uint32_t nparts,
                     pm_walk_fn fn, pm_walk_ref_fn rfn, void *ud)
{
    struct pm_rec rec;
    struct pm_row row;
    if (!nparts || part >= nparts)
        return -EINVAL;
    rec_init(c, &rec);
    uint32_t from = (uint32_t)((uint64_t)c->nused * part / nparts);
    uint32_t to = (uint32_t)((uint64_t)c->nused * (part + 1) / nparts);
    for (uint32_t i = from; i < to; i++) {
        struct entry *e = entry_at(c, i);
        if (!e->hash)
            continue;
        entry_row(c, e, &rec, &row);
        if ((rfn ? rfn(ud, &row, i) : fn(ud, &row)) & PM_WALK_STOP)
            break;
    }
    return 0;
}

int pmc_cache_walk_part(const struct pm_cache *c, uint32_t part,
                        uint32_t nparts, pm_walk_fn fn, void *ud)
{
    return walk_part(c, part, nparts, fn, NULL, ud);
}

int pmc_cache_walk_part_ref(const struct pm_cache *c, uint32_t part,
                            uint32_t nparts, pm_walk_ref_fn fn, void *ud)
{
    return walk_part(c, part, nparts, NULL, fn, ud);
}

/* Entries ahead of the one read that cache_rows asks the CPU for. */
#define ROWS_AHEAD 8

/* The rows of entries refs[] (their indexes), as a walk gives them. */
int pmc_cache_rows(const struct pm_cache *c, const uint64_t *refs, size_t n,
                   pm_walk_fn fn, void *ud)
{
    struct pm_rec rec;
    struct pm_row row;
    int rc = 0;
    rec_init(c, &rec);
    for (size_t i = 0; i < n && i < ROWS_AHEAD; i++)
        if (refs[i] < c->nused)
            __builtin_prefetch(entry_at(c, (uint32_t)refs[i]));
    for (size_t i = 0; i < n; i++) {
        if (i + ROWS_AHEAD < n && refs[i + ROWS_AHEAD] < c->nused) {
            const char *a =
                (const char *)entry_at(c, (uint32_t)refs[i + ROWS_AHEAD]);
            __builtin_prefetch(a);
            __builtin_prefetch(a + 64);
        }
        struct entry *e;
        if (refs[i] >= c->nused ||
            !(e = entry_at(c, (uint32_t)refs[i]))->hash) {
            rc = -ENOENT;
            continue;
        }
        entry_row(c, e, &rec, &row);
        if (fn(ud, &row) & PM_WALK_STOP)
            break;
    }
    return rc;
}
