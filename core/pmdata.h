/*
 * pmdata.h - the core's pure data library (libpmdata): primitive registry,
 * aggregate parsing, rendering, aggregation cache, packet decoder, batches.
 * No threads, no globals that change after start-up, no I/O.  The runtime
 * (host.c) puts these functions into the host table; unit tests and the
 * fake host in tests/ call them directly.
 *
 * Every function here has exactly the signature of its pm_host member.
 */
#ifndef PMACCT_CORE_PMDATA_H
#define PMACCT_CORE_PMDATA_H

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

/* ---- batches (batch.c) ------------------------------------------------- */
/* A batch of `cap` records with an arena of arena_cap bytes and a packet
 * buffer of pktbuf_cap bytes (0: none).  NULL on ENOMEM. */
struct pm_batch *pmc_batch_new(uint32_t cap, uint32_t arena_cap,
                               uint32_t pktbuf_cap);
void pmc_batch_free(struct pm_batch *b);
/* Empty a batch for reuse: n = 0, records zeroed lazily (a capture gets
 * zeroed records from pmc_batch_next), drops cleared, arena emptied. */
void pmc_batch_reset(struct pm_batch *b);
/* Append a zeroed record; NULL when full. */
struct pm_rec *pmc_batch_next(struct pm_batch *b);
/* Copy src (n records, drop bitmap, arena, packets; pkt pointers rebased)
 * into dst, which must have at least the same capacities. */
int pmc_batch_copy(struct pm_batch *dst, const struct pm_batch *src);
int pmc_batch_str(struct pm_batch *b, const char *s, size_t len,
                  pm_sref_t *out);
uint8_t *pmc_batch_pkt(struct pm_batch *b, size_t len);

/* ---- registry (prim.c) ------------------------------------------------- */
int pmc_prim_lookup(const char *name);
const struct pm_prim_info *pmc_prim_info(unsigned id);
int pmc_prim_parse(unsigned id, const char *text, struct pm_rec *r,
                   struct pm_batch *b);
/* Parse an `aggregate` value ("src_host, dst_host,proto") into primitive
 * ids sorted in pmacct's print order, plus the sum mode and whether
 * `flows` was asked for.  Unknown names: -EINVAL with a message in err
 * naming the word and, when close, a suggestion ("did you mean src_host?").
 * sum_* primitives and `none` are handled as pmacct does. */
int pmc_aggregate_parse(const char *text, uint16_t *ids, uint32_t *nids,
                        uint32_t maxids, uint32_t *sum_mode, int *flows,
                        char *err, size_t errlen);
/* Number of registered primitives and iteration (for `-a` listings and the
 * generated docs). */
unsigned pmc_prim_count(void);
const struct pm_prim_info *pmc_prim_at(unsigned index);
/* Closest known name to `word` by edit distance, or NULL (for messages). */
const char *pmc_prim_suggest(const char *word);

/* ---- custom primitives (prim_custom.c) -------------------------------- */
/* Load pmacct's aggregate_primitives file (examples/primitives.lst
 * syntax): each entry becomes primitive PM_P_CUSTOM_BASE + n, known to
 * pmc_prim_lookup/pmc_prim_info/pmc_aggregate_parse from then on.  Call
 * at start-up, before any `aggregate` is parsed.  Errors: -errno with
 * "file:line: reason" in err (entries before the bad line stay).
 * pmc_custom_parse_text: the same from text (fname names it in errors).
 * pmc_custom_reset: forget every custom primitive (start-up, tests). */
int pmc_custom_load(const char *path, char *err, size_t errlen);
int pmc_custom_parse_text(const char *text, const char *fname, char *err,
                          size_t errlen);
void pmc_custom_reset(void);
/* The host's custom_prims(): the entries, *n of them. */
const struct pm_custom_prim *pmc_custom_prims(uint32_t *n);

/* ---- rendering (render.c) ---------------------------------------------- */
struct pm_render *pmc_render_new(const struct pm_render_cfg *cfg);
void pmc_render_free(struct pm_render *r);
int pmc_render_header(struct pm_render *r, struct pm_buf *out);
int pmc_render_row(struct pm_render *r, const struct pm_row *row,
                   struct pm_buf *out);
int pmc_buf_printf(struct pm_buf *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int pmc_buf_append(struct pm_buf *out, const char *s, size_t len);

/* ---- aggregation cache (cache.c) --------------------------------------- */
struct pm_cache *pmc_cache_new(const struct pm_instance *inst,
                               const struct pm_cache_cfg *cfg);
void pmc_cache_free(struct pm_cache *c);
int pmc_cache_add(struct pm_cache *c, const struct pm_batch *b);
/* Set by the core while the thread that filled a batch runs its pipeline
 * itself (pipeline_inline): the records are in this core's cache, so
 * pmc_cache_add does not prefetch them. */
extern __thread int pmc_batch_local;
int pmc_cache_walk(struct pm_cache *c, pm_walk_fn fn, void *ud);
int pmc_cache_walk_part(const struct pm_cache *c, uint32_t part,
                        uint32_t nparts, pm_walk_fn fn, void *ud);
int pmc_cache_walk_part_ref(const struct pm_cache *c, uint32_t part,
                            uint32_t nparts, pm_walk_ref_fn fn, void *ud);
int pmc_cache_rows(const struct pm_cache *c, const uint64_t *refs, size_t n,
                   pm_walk_fn fn, void *ud);
uint64_t pmc_cache_count(const struct pm_cache *c);
void pmc_cache_clear(struct pm_cache *c);
uint64_t pmc_cache_overflows(const struct pm_cache *c);
int pmc_history_parse(const char *history, const char *roundoff,
                      struct pm_cache_cfg *cfg, char *err, size_t errlen);

/* ---- packet decoder (decode.c) ----------------------------------------- */
int pmc_decode_packet(struct pm_rec *r, int dlt, const uint8_t *pkt,
                      uint32_t caplen, uint32_t len, uint32_t flags);

/* ---- IP fragments (frag.c) -------------------------------------------- */
struct pm_frag *pmc_frag_new(uint32_t max_entries, uint32_t timeout);
void pmc_frag_free(struct pm_frag *f);
int pmc_frag_track(struct pm_frag *f, struct pm_rec *r, const uint8_t *pkt,
                   uint32_t caplen);

/* ---- frames from records (frame.c) ------------------------------------ */
uint32_t pmc_record_frame(const struct pm_rec *r, uint8_t *buf,
                          uint32_t *wirelen);

/* ---- *_preprocess (preproc.c) ------------------------------------------ */
int pmc_preproc_new(const char *text, int all, struct pm_preproc **out,
                    char *err, size_t errlen);
void pmc_preproc_free(struct pm_preproc *p);
int pmc_preproc_apply(const struct pm_preproc *p, struct pm_row *row);

/* ---- option values (optval.c) ------------------------------------------ */
/* Parse `text` as option o's type and store it at (char *)config +
 * o->offset (strings are strdup'ed; the caller frees them with
 * pmc_options_free).  -EINVAL with a message in err ("expected a size like
 * 10M, got 'x'"; "expected one of formatted|csv|json, got 'xml'"). */
int pmc_option_parse(const struct pm_option *o, const char *text,
                     void *config, char *err, size_t errlen);
/* Set every option of the table to its default (defval, or zero). */
int pmc_options_defaults(const struct pm_option *opts, void *config,
                         char *err, size_t errlen);
/* Free the strings stored by the two functions above. */
void pmc_options_free(const struct pm_option *opts, void *config);
/* The PM_RENDER_* encoding flags set for inst (timestamps_since_epoch,
 * timestamps_secs, pre_tag_label_encode_as_map, tcpflags_encode_as_array),
 * reading raw values with get (the host's conf_get). */
uint32_t pmc_render_flags(const struct pm_instance *inst,
                          const char *(*get)(const struct pm_instance *,
                                             const char *));

#endif /* PMACCT_CORE_PMDATA_H */
