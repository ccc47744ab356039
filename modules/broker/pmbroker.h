/*
 * pmbroker.h - shared code of the broker outputs (kafka, amqp), linked into
 * both as the convenience library libpmbroker.la.
 *
 * Two parts:
 *
 *  - the delivery queue (pmbroker.c): messages handed over by the pipeline
 *    thread (pmb_submit, never blocks on the network) are published by a
 *    module thread through the broker's `send` callback, at least once:
 *    failed messages are retried with back-off.  A bounded memory buffer
 *    (spool_mem bytes) spills to segment files in spool_dir while the
 *    broker is away; at shutdown what could not be delivered within
 *    flush_timeout is written to the spool and sent first at the next
 *    start.  Counters: pending, delivered, failed, spooled.
 *
 *  - the output side (pmbout.c): the aggregation cache, the refresh and
 *    history timers, pmacct's JSON messages (event_type purge, writer_id,
 *    stamps, markers, *_multi_values packing) turned into pmb messages.
 *
 * Threads: the queue's state is shared between the pipeline thread and the
 * queue's worker thread, under q->lock.  The output side is used by the
 * pipeline thread only.
 */
#ifndef PMACCT_PMBROKER_H
#define PMACCT_PMBROKER_H

#include <stddef.h>
#include <stdint.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

/* One message: destination (topic / routing key), key, payload, stored
 * back to back in data[]. */
struct pmb_msg {
    struct pmb_msg *next;
    uint32_t dlen, klen, plen;
    uint32_t seg; /* spool segment it was loaded from (0: none) */
    char data[];
};

static inline const char *pmb_dest(const struct pmb_msg *m) { return m->data; }
static inline const char *pmb_key(const struct pmb_msg *m)
{
    return m->data + m->dlen + 1;
}
static inline const char *pmb_payload(const struct pmb_msg *m)
{
    return m->data + m->dlen + 1 + m->klen + 1;
}

/* A new message; dest and key NUL-terminated copies; NULL on ENOMEM. */
struct pmb_msg *pmb_msg_new(const char *dest, size_t dlen, const char *key,
                            size_t klen, const char *payload, size_t plen);

struct pmb;

struct pmb_ops {
    /* Publish msgs[0..n-1] in order; set status[i] = 0 when message i is
     * confirmed delivered, else a negative errno.  Return 0, or a negative
     * errno when the connection is unusable (every message not confirmed
     * is retried later).  Must return within about a second once
     * pmb_aborting() is true. */
    int (*send)(void *ud, struct pmb *q, struct pmb_msg **msgs, size_t n,
                int *status);
};

struct pmb_cfg {
    const char *spool_dir;    /* NULL: no spool (overflow counted failed) */
    uint64_t spool_mem;       /* bytes held in memory before spilling */
    uint64_t flush_timeout_ms; /* at shutdown */
    uint32_t batch_max;       /* messages per send() */
};

int pmb_new(const struct pm_host *host, const struct pm_instance *inst,
            const struct pmb_ops *ops, void *ud, const struct pmb_cfg *cfg,
            struct pmb **out);
/* Hand a chain of n messages over (ownership passes). */
int pmb_submit(struct pmb *q, struct pmb_msg *head, size_t n);
/* Wait up to timeout_ms for every message to be delivered; returns the
 * number still pending. */
uint64_t pmb_drain(struct pmb *q, uint64_t timeout_ms);
/* Non-zero once the queue is shutting down (send() returns quickly). */
int pmb_aborting(const struct pmb *q);
/* Stop the worker (after flush_timeout), persist what is left to the spool
 * (or count it failed), free everything. */
void pmb_free(struct pmb *q);
uint64_t pmb_pending(struct pmb *q);

/* ---- output side -------------------------------------------------------- */

/* The keys every broker output has, prefixed kafka_ / amqp_. */
struct pmb_out_config {
    int output;             /* 0 json, 1 avro, 2 avro_json */
    uint64_t refresh_time;  /* *_refresh_time */
    char *history;          /* *_history */
    char *history_roundoff; /* *_history_roundoff */
    int64_t history_offset; /* *_history_offset */
    uint64_t multi_values;  /* *_multi_values: bytes per message (0: one) */
    int markers;            /* *_markers */
    int num_protos;         /* *_num_protos */
    uint64_t cache_entries; /* *_cache_entries */
    uint64_t startup_delay; /* *_startup_delay */
    uint64_t max_writers;   /* compat */
    char *spool_dir;        /* *_spool_dir (ours) */
    uint64_t spool_mem;     /* *_spool_mem (ours) */
    uint64_t flush_timeout; /* *_flush_timeout (ours), seconds */
    /* appended: *_preprocess, *_trigger_exec, Avro */
    char *preprocess;           /* *_preprocess */
    int preprocess_type;        /* *_preprocess_type: 0 any, 1 all */
    char *trigger_exec;         /* *_trigger_exec: run after each purge */
    uint64_t avro_buffer_size;  /* avro_buffer_size */
    char *avro_schema_file;     /* avro_schema_file */
    char *avro_schema_dest;     /* kafka_avro_schema_topic /
                                   amqp_avro_schema_routing_key */
    uint64_t avro_schema_refresh; /* *_avro_schema_refresh_time, seconds */
    char *avro_schema_registry; /* kafka_avro_schema_registry (refused) */
};

/* Option rows for the common keys of prefix P ("kafka" / "amqp"), inside a
 * module config struct T whose first member `out` is a pmb_out_config. */
#define PMB_OUT_OPTIONS(P, T)                                                  \
    {P "_output", PM_OPT_ENUM, 0, offsetof(T, out.output), "json",             \
     "json|avro|avro_json", "message format", 0},                  \
        {P "_refresh_time", PM_OPT_UINT, 0, offsetof(T, out.refresh_time),    \
         "60", "seconds", "seconds between purges", 0},                       \
        {P "_history", PM_OPT_STR, 0, offsetof(T, out.history), NULL,         \
         "#[s|m|h|d|w|M]", "time bin length (stamp_inserted)", 0},             \
        {P "_history_roundoff", PM_OPT_STR, 0,                                 \
         offsetof(T, out.history_roundoff), NULL, "m|h|d|w|M",                 \
         "align time bins and purges", 0},                                    \
        {P "_history_offset", PM_OPT_INT, 0, offsetof(T, out.history_offset), \
         "0", "seconds", "offset of time bin starts", 0},                     \
        {P "_multi_values", PM_OPT_UINT, 0, offsetof(T, out.multi_values),    \
         "0", "bytes",                                                         \
         "pack aggregates into messages of at most this many bytes, one "     \
         "JSON object per line (0: one aggregate per message)",                \
         0},                                                                   \
        {P "_markers", PM_OPT_BOOL, 0, offsetof(T, out.markers), "false",     \
         NULL, "purge_init/purge_close messages around each purge", 0},        \
        {P "_num_protos", PM_OPT_BOOL, 0, offsetof(T, out.num_protos),        \
         "false", NULL, "IP protocols as numbers", 0},                        \
        {P "_cache_entries", PM_OPT_UINT, 0, offsetof(T, out.cache_entries),  \
         "16411", "buckets",                                                   \
         "cache size (pmacct buckets; about 10 aggregates each): a full "     \
         "cache is purged early",                                              \
         0},                                                                   \
        {P "_startup_delay", PM_OPT_UINT, 0, offsetof(T, out.startup_delay),  \
         "0", "seconds", "delay the first purge (and so every one) by this",  \
         0},                                                                   \
        {P "_max_writers", PM_OPT_UINT, PM_OPTF_COMPAT,                        \
         offsetof(T, out.max_writers), "10", "count",                          \
         "accepted and ignored: one publishing thread, no writer processes",  \
         0},                                                                   \
        {P "_spool_dir", PM_OPT_PATH, 0, offsetof(T, out.spool_dir), NULL,    \
         "dir",                                                                \
         "(ours) keep undelivered messages here while the broker is away "    \
         "and across restarts; unset: they are dropped and counted",           \
         0},                                                                   \
        {P "_spool_mem", PM_OPT_SIZE, 0, offsetof(T, out.spool_mem), "64M",   \
         "bytes",                                                              \
         "(ours) undelivered messages held in memory before spilling to "     \
         "the spool",                                                          \
         0},                                                                   \
    {                                                                          \
        P "_flush_timeout", PM_OPT_DURATION, 0, offsetof(T, out.flush_timeout), \
            "10", "seconds",                                                   \
            "(ours) at shutdown, how long to try delivering before spooling",  \
            0                                                                  \
    }                                                                          \
    , {P "_preprocess", PM_OPT_LIST, 0, offsetof(T, out.preprocess), NULL,     \
       "minp=N,minb=N,...",                                                    \
       "checks and actions applied to aggregates at purge time", 0},           \
        {P "_preprocess_type", PM_OPT_ENUM, 0,                                 \
         offsetof(T, out.preprocess_type), "any", "any|all",                   \
         "whether one or all " P "_preprocess checks must pass", 0},           \
    {                                                                          \
        P "_trigger_exec", PM_OPT_PATH, 0, offsetof(T, out.trigger_exec),      \
            NULL, "path", "executable started after each purge", 0             \
    }

/* Avro keys of an output publishing its schema to destination key DKEY
 * (P "_avro_schema_topic" for kafka, P "_avro_schema_routing_key" for
 * amqp); in the module's option table after PMB_OUT_OPTIONS.  Kafka adds
 * PMB_OUT_REGISTRY_OPTION. */
#define PMB_OUT_AVRO_OPTIONS(P, DKEY, T)                                       \
    {"avro_buffer_size", PM_OPT_SIZE, 0, offsetof(T, out.avro_buffer_size),    \
     "8192", "bytes",                                                          \
     "largest Avro message (one datum, or datums packed by " P                 \
     "_multi_values)",                                                         \
     0},                                                                       \
        {"avro_schema_file", PM_OPT_PATH, 0,                                   \
         offsetof(T, out.avro_schema_file), NULL, "path",                      \
         "with " P "_output avro/avro_json: write the Avro schema there at "   \
         "start-up",                                                           \
         0},                                                                   \
        {DKEY, PM_OPT_STR, 0, offsetof(T, out.avro_schema_dest), NULL, "name", \
         "with " P "_output avro/avro_json: publish the Avro schema there at " \
         "start-up and every " P "_avro_schema_refresh_time",                  \
         0},                                                                   \
    {                                                                          \
        P "_avro_schema_refresh_time", PM_OPT_DURATION, 0,                     \
            offsetof(T, out.avro_schema_refresh), "60", "seconds",             \
            "how often the Avro schema is published again", 0                  \
    }
#define PMB_OUT_REGISTRY_OPTION(P, T)                                          \
    {                                                                          \
        P "_avro_schema_registry", PM_OPT_STR, 0,                              \
            offsetof(T, out.avro_schema_registry), NULL, "url",                \
            "Confluent schema registry: not supported (refused at start-up; " \
            "use " P "_avro_schema_topic)",                                    \
            0                                                                  \
    }

struct pmb_out;

/* Expand the destination (topic / routing key) and the key of the message
 * holding aggregate rec (NULL for markers) at time t.  dest/key are
 * buffers of PMB_NAME_MAX bytes; key may be left empty. */
#define PMB_NAME_MAX 512
typedef int (*pmb_name_fn)(void *ud, const struct pm_rec *rec, time_t t,
                           char *dest, char *key);

struct pmb_out_params {
    const char *prefix;     /* "kafka" */
    const struct pmb_out_config *cfg;
    pmb_name_fn name;
    void *name_ud;
    int per_row_names; /* destination depends on the aggregate ($-vars) */
    const struct pmb_ops *ops;
    void *ops_ud;
    uint32_t dest_rr; /* appended: *_topic_rr / *_routing_key_rr (0: off) */
};

int pmb_out_new(const struct pm_host *host, const struct pm_instance *inst,
                const struct pmb_out_params *p, struct pmb_out **out);
int pmb_out_process(struct pmb_out *o, struct pm_batch *b);
int pmb_out_tick(struct pmb_out *o, const pm_ts_t *now);
int pmb_out_flush(struct pmb_out *o, int reason);
/* Stops the delivery thread first: call before freeing what send() uses. */
void pmb_out_free(struct pmb_out *o);
struct pmb *pmb_out_queue(struct pmb_out *o);

/* Module callbacks (pm_module_desc process/tick/flush) for an output whose
 * context's first member is its `struct pmb_out *`. */
int pmb_ctx_process(void *ctx, struct pm_batch *b);
int pmb_ctx_tick(void *ctx, const pm_ts_t *now);
int pmb_ctx_flush(void *ctx, int reason);

#endif
