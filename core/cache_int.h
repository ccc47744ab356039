/*
 * cache_int.h - private to the aggregation cache (cache.c: table, keys,
 * accounting; cache_walk.c: walks): the cache's layout.  Nothing outside
 * core/cache*.c includes it.
 */
#ifndef PMACCT_CORE_CACHE_INT_H
#define PMACCT_CORE_CACHE_INT_H

#include <stdint.h>

#include "prim_int.h"

#define SLAB_SHIFT 12
#define SLAB_N (1u << SLAB_SHIFT)
#define MAX_SEGS 64
#define MAX_STRS 24

struct seg {
    uint16_t rec_off; /* where in the record */
    uint16_t key_off; /* where in the key */
    uint16_t len;
    uint16_t alt_off; /* sum_* second pass: read from here instead */
};

struct strk {
    uint16_t rec_off; /* pm_sref_t in the record */
    uint16_t key_off; /* hash(8) + len(4) + arena off(4) in the key */
};

/* Entry header; the key follows (keylen bytes, 8-aligned). */
struct entry {
    uint64_t hash; /* 0: free slot */
    uint64_t packets, bytes, flows;
    pm_ts_t first, last;
    uint64_t stamp;
    uint32_t tcpflags; /* OR of the records' flags (tcpflags aggregated) */
    uint32_t _pad;
};

struct pm_cache {
    struct pm_cache_cfg cfg;
    pm_pset_t present;
    struct seg segs[MAX_SEGS];
    uint32_t nsegs;
    struct strk strs[MAX_STRS];
    uint32_t nstrs;
    uint32_t keylen; /* multiple of 8 */
    uint32_t esize;  /* sizeof(struct entry) + keylen */
    uint32_t sum_mode;
    int sum_alt; /* segments have alt_off */
    int or_tcpflags; /* tcpflags: accumulated, not part of the key */

    uint8_t **slabs;
    uint32_t nslabs, slabs_cap;
    uint32_t nused;   /* entries handed out (high-water mark) */
    uint32_t *freel;  /* free entry indices */
    uint32_t nfree, freecap;
    uint64_t count;

    uint32_t *table; /* entry index + 1; 0 = empty */
    uint32_t tmask;

    char *arena;
    size_t arena_len, arena_cap;

    uint64_t overflows;

    /* pmc_cache_add: the keys and hashes of a whole batch, built first so
     * that the table slots and entries can be prefetched before use */
    uint64_t *bkeys;
    uint64_t *bhash;
    uint32_t bcap; /* keys room (records x passes) */
    /* cache lines of a record that accounting reads (key segments,
     * counters, times): prefetched a few records ahead */
    uint16_t pf_off[MAX_SEGS + 4];
    uint32_t npf;
};

static inline struct entry *entry_at(const struct pm_cache *c, uint32_t i)
{
    return (struct entry *)(void *)(c->slabs[i >> SLAB_SHIFT] +
                                    (size_t)(i & (SLAB_N - 1)) * c->esize);
}

static inline uint8_t *entry_key(struct entry *e)
{
    return (uint8_t *)(e + 1);
}

/* cache.c: the hash table rebuilt from the live entries (after deletes) */
int pmc_cache_rebuild(struct pm_cache *c);

#endif
