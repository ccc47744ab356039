/*
 * batch.c - fixed-capacity record batches: records, drop bitmap, string
 * arena and packet buffer in one allocation each.  A batch is used by one
 * thread at a time (the core hands it from capture to pipelines); nothing
 * here is shared or locked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pmdata.h"

#define DROP_WORDS(cap) (((size_t)(cap) + 63) / 64)

struct pm_batch *pmc_batch_new(uint32_t cap, uint32_t arena_cap,
                               uint32_t pktbuf_cap)
{
    struct pm_batch *b = calloc(1, sizeof(*b));
    if (!b)
        goto fail;
    b->cap = cap;
    b->rec_size = (uint32_t)sizeof(struct pm_rec);
    b->recs = calloc(cap ? cap : 1, sizeof(struct pm_rec));
    b->drop = calloc(DROP_WORDS(cap) ? DROP_WORDS(cap) : 1, sizeof(uint64_t));
    b->arena = malloc(arena_cap ? arena_cap : 1);
    b->arena_cap = arena_cap;
    if (pktbuf_cap) {
        b->pktbuf = malloc(pktbuf_cap);
        b->pktbuf_cap = pktbuf_cap;
    }
    if (!b->recs || !b->drop || !b->arena || (pktbuf_cap && !b->pktbuf))
        goto fail;
    return b;
fail:
    pmc_batch_free(b);
    return NULL;
}

void pmc_batch_free(struct pm_batch *b)
{
    if (!b)
        return;
    free(b->recs);
    free(b->drop);
    free(b->arena);
    free(b->pktbuf);
    free(b);
}

void pmc_batch_reset(struct pm_batch *b)
{
    size_t words = ((size_t)b->n + 63) / 64;
    if (b->ndropped)
        memset(b->drop, 0, words * sizeof(uint64_t));
    b->n = 0;
    b->ndropped = 0;
    b->arena_len = 0;
    b->pktbuf_len = 0;
}

struct pm_rec *pmc_batch_next(struct pm_batch *b)
{
    struct pm_rec *r;
    if (b->n >= b->cap)
        return NULL;
    r = pm_batch_rec(b, b->n);
    memset(r, 0, b->rec_size);
    r->l3_off = r->l4_off = r->payload_off = 0xffff;
    /* the drop bit of a fresh slot must be clear */
    b->drop[b->n >> 6] &= ~((uint64_t)1 << (b->n & 63));
    b->n++;
    return r;
}

int pmc_batch_copy(struct pm_batch *dst, const struct pm_batch *src)
{
    uint32_t i;
    size_t words;
    if (dst->cap < src->n || dst->arena_cap < src->arena_len ||
        dst->pktbuf_cap < src->pktbuf_len || dst->rec_size != src->rec_size)
        return -ENOSPC;
    memcpy(dst->recs, src->recs, (size_t)src->n * src->rec_size);
    words = ((size_t)src->n + 63) / 64;
    memset(dst->drop, 0, DROP_WORDS(dst->cap) * sizeof(uint64_t));
    if (words)
        memcpy(dst->drop, src->drop, words * sizeof(uint64_t));
    if (src->n & 63)
        dst->drop[src->n >> 6] &= ((uint64_t)1 << (src->n & 63)) - 1;
    dst->n = src->n;
    dst->ndropped = src->ndropped;
    if (src->arena_len)
        memcpy(dst->arena, src->arena, src->arena_len);
    dst->arena_len = src->arena_len;
    if (src->pktbuf_len)
        memcpy(dst->pktbuf, src->pktbuf, src->pktbuf_len);
    dst->pktbuf_len = src->pktbuf_len;
    dst->origin = src->origin;
    for (i = 0; i < src->n; i++) {
        struct pm_rec *r = pm_batch_rec(dst, i);
        if (r->pkt && src->pktbuf && r->pkt >= src->pktbuf &&
            r->pkt < src->pktbuf + src->pktbuf_cap)
            r->pkt = dst->pktbuf + (r->pkt - src->pktbuf);
    }
    return 0;
}

int pmc_batch_str(struct pm_batch *b, const char *s, size_t len,
                  pm_sref_t *out)
{
    if (len > (size_t)(b->arena_cap - b->arena_len))
        return -ENOMEM;
    if (len)
        memcpy(b->arena + b->arena_len, s, len);
    out->off = b->arena_len;
    out->len = (uint32_t)len;
    b->arena_len += (uint32_t)len;
    return 0;
}

uint8_t *pmc_batch_pkt(struct pm_batch *b, size_t len)
{
    uint8_t *p;
    size_t alen = (len + 7) & ~(size_t)7;
    if (!b->pktbuf || alen > (size_t)(b->pktbuf_cap - b->pktbuf_len))
        return NULL;
    p = b->pktbuf + b->pktbuf_len;
    b->pktbuf_len += (uint32_t)alen;
    return p;
}
