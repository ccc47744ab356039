/*
 * cache.c - the aggregation cache: an open-addressing hash table (linear
 * probing, power-of-two size, load <= 1/2) over fixed-size entries
 * allocated from slabs.  The key is a compact copy of the record fields of
 * the aggregate primitives (adjacent fields merged into one copy), plus the
 * time bin when history is on; string primitives are keyed by a 64-bit
 * hash and length, compared by value, and stored in the cache's arena.
 * A batch is added in two passes (keys and hashes of every record first,
 * then the lookups in record order) so that records, table slots and
 * entries are prefetched before they are read.  The history parser is in
 * history.c, the walks in cache_walk.c, the layout in cache_int.h.  One cache belongs to one output instance; not locked (the
 * owner serialises calls).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache_int.h"

static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_bytes(const void *p, size_t n)
{
    const uint8_t *s = p;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, s, n);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    }
    return mix64(h);
}

static inline uint64_t hash_key(const uint64_t *k, uint32_t words)
{
    uint64_t h = 0x84222325cbf29ce4ULL;
    uint32_t i;
    for (i = 0; i < words; i++) {
        h = (h ^ k[i]) * 0x9e3779b97f4a7c15ULL;
        h ^= h >> 31;
    }
    h = mix64(h);
    return h ? h : 1;
}

static int seg_cmp(const void *a, const void *b)
{
    const struct seg *x = a, *y = b;
    return (x->rec_off > y->rec_off) - (x->rec_off < y->rec_off);
}

static uint16_t sum_alt_off(uint32_t mode, unsigned id, uint16_t off)
{
    switch (mode) {
    case PM_SUM_HOST:
        if (id == PM_P_SRC_HOST)
            return (uint16_t)offsetof(struct pm_rec, dst_host);
        break;
    case PM_SUM_NET:
        if (id == PM_P_SRC_NET)
            return (uint16_t)offsetof(struct pm_rec, dst_net);
        break;
    case PM_SUM_AS:
        if (id == PM_P_SRC_AS)
            return (uint16_t)offsetof(struct pm_rec, dst_as);
        break;
    case PM_SUM_PORT:
        if (id == PM_P_SRC_PORT)
            return (uint16_t)offsetof(struct pm_rec, dst_port);
        break;
    case PM_SUM_MAC:
        if (id == PM_P_SRC_MAC)
            return (uint16_t)offsetof(struct pm_rec, dst_mac);
        break;
    }
    return off;
}

struct pm_cache *pmc_cache_new(const struct pm_instance *inst,
                               const struct pm_cache_cfg *cfg)
{
    struct pm_cache *c = calloc(1, sizeof(*c));
    struct seg raw[MAX_SEGS];
    uint32_t nraw = 0, i, koff = 0;
    int custom = 0;
    if (!c)
        return NULL;
    if (cfg)
        c->cfg = *cfg;
    c->sum_mode = inst ? inst->sum_mode : PM_SUM_NONE;
    for (i = 0; inst && i < inst->naggregate; i++) {
        unsigned id = inst->aggregate[i];
        const struct pm_prim_def *d = pmc_prim_def(id);
        if (id >= PM_P_CUSTOM_BASE && id < PM_P_MAX && !d) {
            /* unknown to the registry: key on the whole block */
            custom = 1;
            pm_pset_set(&c->present, id);
            continue;
        }
        if (!d)
            continue;
        pm_pset_set(&c->present, id);
        if (id == PM_P_TCPFLAGS) {
            /* as pmacct: an aggregate's tcpflags is the OR of the flags of
             * its packets/flows, not a key */
            c->or_tcpflags = 1;
            continue;
        }
        if (d->info.type == PM_VT_STR) {
            if (c->nstrs < MAX_STRS) {
                c->strs[c->nstrs].rec_off = d->off;
                c->nstrs++;
            }
            continue;
        }
        if (nraw < MAX_SEGS - 1) {
            raw[nraw].rec_off = d->off;
            raw[nraw].len = d->size;
            raw[nraw].alt_off = sum_alt_off(c->sum_mode, id, d->off);
            if (raw[nraw].alt_off != d->off)
                c->sum_alt = 1;
            nraw++;
        }
    }
    if (custom && nraw < MAX_SEGS) {
        raw[nraw].rec_off = (uint16_t)offsetof(struct pm_rec, custom);
        raw[nraw].len = PM_REC_CUSTOM_BYTES;
        raw[nraw].alt_off = raw[nraw].rec_off;
        nraw++;
    }
    qsort(raw, nraw, sizeof(raw[0]), seg_cmp);
    /* merge adjacent segments (not across a sum_* swapped one) */
    for (i = 0; i < nraw; i++) {
        struct seg *last = c->nsegs ? &c->segs[c->nsegs - 1] : NULL;
        int swapped = raw[i].alt_off != raw[i].rec_off;
        if (last && !swapped && last->alt_off == last->rec_off &&
            last->rec_off + last->len == raw[i].rec_off) {
            last->len = (uint16_t)(last->len + raw[i].len);
            last->alt_off = last->rec_off;
            koff += raw[i].len;
            continue;
        }
        c->segs[c->nsegs] = raw[i];
        c->segs[c->nsegs].key_off = (uint16_t)koff;
        koff += raw[i].len;
        c->nsegs++;
    }
    {
        /* one prefetch per distinct 64-byte line the accounting reads */
        uint16_t offs[2 * MAX_SEGS + MAX_STRS + 2];
        uint32_t no = 0, k;
        for (i = 0; i < c->nsegs; i++) {
            offs[no++] = c->segs[i].rec_off;
            offs[no++] = (uint16_t)(c->segs[i].rec_off + c->segs[i].len - 1);
        }
        for (i = 0; i < c->nstrs; i++)
            offs[no++] = c->strs[i].rec_off;
        offs[no++] = (uint16_t)offsetof(struct pm_rec, packets);
        offs[no++] = (uint16_t)offsetof(struct pm_rec, ts_start);
        for (i = 0; i < no && c->npf < MAX_SEGS + 4; i++) {
            for (k = 0; k < c->npf; k++)
                if (c->pf_off[k] / 64 == offs[i] / 64)
                    break;
            if (k == c->npf)
                c->pf_off[c->npf++] = offs[i];
        }
    }
    koff = (koff + 7) & ~7u;
    for (i = 0; i < c->nstrs; i++) {
        c->strs[i].key_off = (uint16_t)koff;
        koff += 16;
    }
    if (c->cfg.history_secs || c->cfg.history_months)
        koff += 8; /* time bin, last word */
    if (koff == 0)
        koff = 8;
    c->keylen = (koff + 7) & ~7u;
    c->esize = (uint32_t)sizeof(struct entry) + c->keylen;
    c->tmask = 1023;
    c->table = calloc(c->tmask + 1, sizeof(uint32_t));
    if (!c->table) {
        pmc_cache_free(c);
        return NULL;
    }
    return c;
}

void pmc_cache_free(struct pm_cache *c)
{
    uint32_t i;
    if (!c)
        return;
    for (i = 0; i < c->nslabs; i++)
        free(c->slabs[i]);
    free(c->slabs);
    free(c->freel);
    free(c->table);
    free(c->arena);
    free(c->bkeys);
    free(c->bhash);
    free(c);
}

static int grow_table(struct pm_cache *c)
{
    uint32_t ncap = (c->tmask + 1) * 2, i, *nt;
    if (ncap == 0 || ncap > (1u << 31))
        return -ENOMEM;
    nt = calloc(ncap, sizeof(uint32_t));
    if (!nt)
        return -ENOMEM;
    for (i = 0; i <= c->tmask; i++) {
        uint32_t ix = c->table[i], pos;
        if (!ix)
            continue;
        pos = (uint32_t)entry_at(c, ix - 1)->hash & (ncap - 1);
        while (nt[pos])
            pos = (pos + 1) & (ncap - 1);
        nt[pos] = ix;
    }
    free(c->table);
    c->table = nt;
    c->tmask = ncap - 1;
    return 0;
}

int pmc_cache_rebuild(struct pm_cache *c)
{
    uint32_t i;
    memset(c->table, 0, ((size_t)c->tmask + 1) * sizeof(uint32_t));
    for (i = 0; i < c->nused; i++) {
        struct entry *e = entry_at(c, i);
        uint32_t pos;
        if (!e->hash)
            continue;
        pos = (uint32_t)e->hash & c->tmask;
        while (c->table[pos])
            pos = (pos + 1) & c->tmask;
        c->table[pos] = i + 1;
    }
    return 0;
}

static int alloc_entry(struct pm_cache *c, uint32_t *out)
{
    if (c->nfree) {
        *out = c->freel[--c->nfree];
        return 0;
    }
    if ((c->nused >> SLAB_SHIFT) >= c->nslabs) {
        if (c->nslabs == c->slabs_cap) {
            uint32_t ncap = c->slabs_cap ? c->slabs_cap * 2 : 16;
            uint8_t **ns = realloc(c->slabs, ncap * sizeof(*ns));
            if (!ns)
                return -ENOMEM;
            c->slabs = ns;
            c->slabs_cap = ncap;
        }
        c->slabs[c->nslabs] = malloc((size_t)SLAB_N * c->esize);
        if (!c->slabs[c->nslabs])
            return -ENOMEM;
        c->nslabs++;
    }
    if (c->nused == UINT32_MAX - 1)
        return -ENOMEM;
    *out = c->nused++;
    return 0;
}

static int arena_add(struct pm_cache *c, const char *s, size_t len,
                     uint32_t *off)
{
    if (c->arena_len + len > c->arena_cap) {
        size_t ncap = c->arena_cap ? c->arena_cap : 4096;
        char *na;
        while (ncap < c->arena_len + len)
            ncap *= 2;
        if (ncap > UINT32_MAX)
            return -ENOMEM;
        na = realloc(c->arena, ncap);
        if (!na)
            return -ENOMEM;
        c->arena = na;
        c->arena_cap = ncap;
    }
    if (len)
        memcpy(c->arena + c->arena_len, s, len);
    *off = (uint32_t)c->arena_len;
    c->arena_len += len;
    return 0;
}

static inline int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static uint64_t time_bin(struct pm_cache *c, uint64_t t)
{
    if (c->cfg.history_months) {
        time_t tt = (time_t)t;
        struct tm tm;
        int m;
        localtime_r(&tt, &tm);
        m = tm.tm_year * 12 + tm.tm_mon;
        m -= m % (int)c->cfg.history_months;
        tm.tm_year = m / 12;
        tm.tm_mon = m % 12;
        tm.tm_mday = 1;
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        tm.tm_isdst = -1;
        return (uint64_t)mktime(&tm);
    }
    {
        int64_t h = (int64_t)c->cfg.history_secs;
        int64_t off = c->cfg.history_offset, base;
        if (c->cfg.roundoff) {
            time_t tt = (time_t)t;
            struct tm tm;
            int64_t gmtoff;
            localtime_r(&tt, &tm);
            gmtoff = tm.tm_gmtoff;
            base = off - gmtoff;
            if (c->cfg.roundoff == 'w')
                base += 4 * 86400; /* epoch was a Thursday: weeks on Monday */
        } else {
            /* Multiples of the bin length since the epoch (plus the
             * offset), whenever the daemon started: the same input always
             * gives the same bins (pmacct 1.7.7 anchors to the minute it
             * started; docs/DIFFERENCES.md). */
            base = off;
        }
        /* [start, end): a record exactly on a boundary opens the new bin */
        return (uint64_t)(base + floor_div((int64_t)t - base, h) * h);
    }
}

/* Keys are whole 8-byte words (keylen is a multiple of 8, both sides
 * 8-aligned): compared inline, no libc call. */
static inline int words_equal(const uint8_t *a, const uint8_t *b, uint32_t n)
{
    uint64_t d = 0;
    uint32_t i;
    for (i = 0; i < n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        d |= x ^ y;
    }
    return d == 0;
}

static inline int key_equal(const struct pm_cache *c, struct entry *e,
                            const uint64_t *k, const struct pm_rec *r,
                            const struct pm_batch *b)
{
    const uint8_t *ek = entry_key(e), *kk = (const uint8_t *)k;
    uint32_t i, first, tail;
    if (!c->nstrs)
        return words_equal(ek, kk, c->keylen);
    /* strings: the key holds (hash, len, arena off); compare all but the
     * offsets, then the bytes */
    first = c->strs[0].key_off;
    if (memcmp(ek, kk, first))
        return 0;
    for (i = 0; i < c->nstrs; i++) {
        uint32_t ko = c->strs[i].key_off, elen, eoff;
        pm_sref_t s;
        if (memcmp(ek + ko, kk + ko, 12))
            return 0;
        memcpy(&elen, ek + ko + 8, 4);
        memcpy(&eoff, ek + ko + 12, 4);
        memcpy(&s, (const uint8_t *)r + c->strs[i].rec_off, sizeof(s));
        if (elen && memcmp(c->arena + eoff, b->arena + s.off, elen))
            return 0;
    }
    tail = first + 16 * c->nstrs;
    return tail >= c->keylen || !memcmp(ek + tail, kk + tail, c->keylen - tail);
}

/* Copy one key segment; the usual sizes become plain moves. */
static inline void seg_copy(uint8_t *d, const uint8_t *s, uint32_t n)
{
    switch (n) {
    case 1:
        *d = *s;
        return;
    case 2:
        memcpy(d, s, 2);
        return;
    case 4:
        memcpy(d, s, 4);
        return;
    case 8:
        memcpy(d, s, 8);
        return;
    case 20:
        memcpy(d, s, 20);
        return;
    case 40:
        memcpy(d, s, 40);
        return;
    default:
        memcpy(d, s, n);
    }
}

/* Build the key of record r (alt: the sum_* second pass) into k; hashed
 * later (hash_key), once the key's bytes are in the cache: a hash read
 * right after the narrow stores that built the key stalls on store
 * forwarding. */
static void build_key(struct pm_cache *c, const struct pm_rec *r,
                      const struct pm_batch *b, int alt, uint64_t *k)
{
    uint8_t *kb = (uint8_t *)k;
    uint32_t i;
    memset(k, 0, c->keylen);
    for (i = 0; i < c->nsegs; i++) {
        const struct seg *s = &c->segs[i];
        seg_copy(kb + s->key_off,
                 (const uint8_t *)r + (alt ? s->alt_off : s->rec_off), s->len);
    }
    for (i = 0; i < c->nstrs; i++) {
        pm_sref_t s;
        uint64_t sh = 0;
        memcpy(&s, (const uint8_t *)r + c->strs[i].rec_off, sizeof(s));
        if (s.len) {
            if ((uint64_t)s.off + s.len > b->arena_len)
                s.len = 0;
            else
                sh = hash_bytes(b->arena + s.off, s.len);
        }
        memcpy(kb + c->strs[i].key_off, &sh, 8);
        memcpy(kb + c->strs[i].key_off + 8, &s.len, 4);
    }
    if (c->cfg.history_secs || c->cfg.history_months) {
        const pm_ts_t *ts = r->ts_start.sec ? &r->ts_start : &r->ts_arrival;
        uint64_t bin = time_bin(c, ts->sec);
        memcpy(kb + c->keylen - 8, &bin, 8);
    }
}

/* Account record r under key k (hash h): find or insert its aggregate. */
static int account_key(struct pm_cache *c, const struct pm_rec *r,
                       const struct pm_batch *b, const uint64_t *k, uint64_t h)
{
    const uint8_t *kb = (const uint8_t *)k;
    uint32_t i, pos, ix;
    const pm_ts_t *ts;
    struct entry *e;

    ts = r->ts_start.sec ? &r->ts_start : &r->ts_arrival;
    pos = (uint32_t)h & c->tmask;
    for (;;) {
        ix = c->table[pos];
        if (!ix)
            break;
        e = entry_at(c, ix - 1);
        if (e->hash == h && key_equal(c, e, k, r, b))
            goto found;
        pos = (pos + 1) & c->tmask;
    }
    /* new aggregate */
    if (c->cfg.max_entries && c->count >= c->cfg.max_entries) {
        c->overflows++;
        return 0;
    }
    if (alloc_entry(c, &ix) < 0)
        return -ENOMEM;
    e = entry_at(c, ix);
    memset(e, 0, sizeof(*e));
    memcpy(entry_key(e), k, c->keylen);
    for (i = 0; i < c->nstrs; i++) {
        pm_sref_t s;
        uint32_t off = 0;
        memcpy(&s, (const uint8_t *)r + c->strs[i].rec_off, sizeof(s));
        if ((uint64_t)s.off + s.len > b->arena_len)
            s.len = 0;
        if (s.len && arena_add(c, b->arena + s.off, s.len, &off) < 0) {
            c->freel[c->nfree++] = ix; /* freel sized below */
            return -ENOMEM;
        }
        memcpy(entry_key(e) + c->strs[i].key_off + 12, &off, 4);
    }
    e->hash = h;
    e->first = *ts;
    e->last = r->ts_end.sec ? r->ts_end : *ts;
    if (c->cfg.history_secs || c->cfg.history_months)
        memcpy(&e->stamp, kb + c->keylen - 8, 8);
    c->table[pos] = ix + 1;
    c->count++;
    if (c->count * 2 > (uint64_t)c->tmask + 1) {
        if (grow_table(c) < 0)
            return -ENOMEM;
    }
    goto add;
found:
    if (ts->sec < e->first.sec ||
        (ts->sec == e->first.sec && ts->usec < e->first.usec))
        e->first = *ts;
    {
        const pm_ts_t *l = r->ts_end.sec ? &r->ts_end : ts;
        if (l->sec > e->last.sec ||
            (l->sec == e->last.sec && l->usec > e->last.usec))
            e->last = *l;
    }
add:
    e->packets += r->packets;
    e->bytes += r->bytes;
    e->flows += r->flows;
    e->tcpflags |= r->tcpflags;
    return 1;
}

/* Room for the keys of n records x passes. */
static int batch_room(struct pm_cache *c, uint32_t n)
{
    uint64_t *nk, *nh;
    if (n <= c->bcap)
        return 0;
    nk = realloc(c->bkeys, (size_t)n * c->keylen);
    if (!nk)
        return -ENOMEM;
    c->bkeys = nk;
    nh = realloc(c->bhash, (size_t)n * sizeof(uint64_t));
    if (!nh)
        return -ENOMEM;
    c->bhash = nh;
    c->bcap = n;
    return 0;
}

#define PREFETCH_AHEAD 6

/*
 * Passes over the batch: (1) build every key; (1b) hash them and prefetch
 * their table slots; (2) account the records in order, prefetching the entry
 * of the record PREFETCH_AHEAD places ahead (its slot is in cache by
 * then).  The order of accounting (hence of insertion, overflows and
 * output) is the record order, the sum_* pass right after its record, as
 * when keys were built one by one.
 */
__thread int pmc_batch_local;

int pmc_cache_add(struct pm_cache *c, const struct pm_batch *b)
{
    uint32_t i, j, np = c->sum_alt ? 2 : 1, nk = 0, nkeys, kw = c->keylen / 8;
    int n = 0, rc;
    /* make sure a failed insert can always return its slot */
    if (c->freecap < c->nfree + 2) {
        uint32_t ncap = c->freecap ? c->freecap * 2 : 64;
        uint32_t *nf = realloc(c->freel, ncap * sizeof(*nf));
        if (!nf)
            return -ENOMEM;
        c->freel = nf;
        c->freecap = ncap;
    }
    if (batch_room(c, b->n * np) < 0)
        return -ENOMEM;
    for (i = 0; i < b->n; i++) {
        const struct pm_rec *r;
        if (!pmc_batch_local && i + PREFETCH_AHEAD < b->n) {
            /* records queued by another thread are in another core's
             * cache: fetch the lines the key and the counters are read
             * from (not when this thread filled the batch itself, the
             * records are in its cache: perf share of this function in a
             * v9 collector 27-28 % with the prefetches, 24 % without) */
            const uint8_t *nr =
                (const uint8_t *)pm_batch_rec(b, i + PREFETCH_AHEAD);
            for (j = 0; j < c->npf; j++)
                __builtin_prefetch(nr + c->pf_off[j]);
        }
        if (b->ndropped && pm_batch_dropped(b, i))
            continue;
        r = pm_batch_rec(b, i);
        for (j = 0; j < np; j++, nk++)
            build_key(c, r, b, (int)j, c->bkeys + (size_t)nk * kw);
    }
    nkeys = nk;
    for (nk = 0; nk < nkeys; nk++) {
        uint64_t h = hash_key(c->bkeys + (size_t)nk * kw, kw);
        c->bhash[nk] = h;
        __builtin_prefetch(&c->table[(uint32_t)h & c->tmask]);
    }
    nk = 0;
    for (i = 0; i < b->n; i++) {
        const struct pm_rec *r;
        if (b->ndropped && pm_batch_dropped(b, i))
            continue;
        r = pm_batch_rec(b, i);
        for (j = 0; j < np; j++, nk++) {
            uint32_t ahead = nk + PREFETCH_AHEAD;
            if (ahead < nkeys) {
                uint32_t ix = c->table[(uint32_t)c->bhash[ahead] & c->tmask];
                if (ix)
                    __builtin_prefetch(entry_at(c, ix - 1));
            }
            rc = account_key(c, r, b, c->bkeys + (size_t)nk * kw, c->bhash[nk]);
            if (rc < 0)
                return rc;
        }
        n++;
    }
    return n;
}

uint64_t pmc_cache_count(const struct pm_cache *c)
{
    return c->count;
}

void pmc_cache_clear(struct pm_cache *c)
{
    memset(c->table, 0, ((size_t)c->tmask + 1) * sizeof(uint32_t));
    c->nused = 0;
    c->nfree = 0;
    c->count = 0;
    c->arena_len = 0;
}

uint64_t pmc_cache_overflows(const struct pm_cache *c)
{
    return c->overflows;
}
