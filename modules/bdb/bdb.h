/*
 * bdb.h - internal interface of the bdb output module: a persistent
 * aggregate table.  Records are aggregated in the host's cache and served
 * to the `pmacct` client like the memory table (modules/common/pmq/); the
 * table is saved to a Berkeley DB btree file (bdb_file) every
 * bdb_refresh_time seconds, after `pmacct -e` and at shutdown, and loaded
 * back at start-up.  Files: bdb.c (module lifecycle), bdb_codec.c (the
 * portable key/value format, pure: used by the fuzz target and the unit
 * test), bdb_store.c (snapshot writing and loading with libdb).
 *
 * Shared between threads: the context is read by the pipeline thread
 * (process, tick, flush) and the query server thread.  t.mu protects the
 * cache; file_mu serialises writers of the database file (pipeline thread
 * for refreshes, server thread after a clear); `gen` counts changes
 * (atomic).  The layout is read-only after init.
 */
#ifndef PM_BDB_H
#define PM_BDB_H

#include <stdint.h>

#include "pmq.h"

/* Format of keys and values (first byte of every data key). */
#define BDB_FORMAT 1
/* The meta record's key: a NUL byte then "meta" (sorts first). */
#define BDB_META_KEY "\0meta"
#define BDB_META_KEYLEN 5
/* Value: packets, bytes, flows (8 each), first (8+4), last (8+4). */
#define BDB_VALUE_LEN 48
/* Longest string primitive stored (bytes). */
#define BDB_MAX_STR 65535u

/* How one primitive is encoded in a key. */
enum bdb_kind {
    BDB_K_RAW = 1, /* len bytes as they are (MACs, u8, country, RD, custom) */
    BDB_K_U16,     /* big-endian */
    BDB_K_U32,
    BDB_K_U64,
    BDB_K_IP,  /* af (1) + 16 bytes */
    BDB_K_STR, /* length (4, big-endian) + bytes */
    BDB_K_TS,  /* sec (8) + usec (4) */
    BDB_K_F64, /* len/8 IEEE doubles, big-endian bit patterns */
};

struct bdb_field {
    uint16_t id;   /* primitive id */
    uint16_t kind; /* enum bdb_kind */
    uint16_t off;  /* offset in struct pm_rec */
    uint16_t len;  /* bytes in struct pm_rec */
};

/* The key layout of an instance: its aggregate, in print order. */
struct bdb_layout {
    uint32_t n;
    int history; /* keys carry the time bin (8 bytes) after the format */
    struct bdb_field f[PM_P_MAX];
    char names[2048]; /* "src_host,dst_host,...": the meta record's */
};

/* Build the layout of inst's aggregate.  Returns 0, or -EINVAL with the
 * reason in err (a primitive this module cannot store). */
int bdb_layout_build(const struct pm_host *host, const struct pm_instance *inst,
                     int history, struct bdb_layout *l, char *err,
                     size_t errlen);

/* Append the key and value of row to out as one pair:
 * [key length (4, big-endian)][key][value (BDB_VALUE_LEN)].
 * Returns 0 or -ENOMEM. */
int bdb_encode_row(const struct pm_host *host, const struct bdb_layout *l,
                   const struct pm_row *row, struct pm_buf *out);

/* Decode one stored key/value into r (zeroed first; rec_size bytes) with
 * strings added to b's arena through host->batch_str.  Sets the presence
 * bit of every primitive of the layout, the counters, ts_start/ts_end from
 * the stored first/last times (unless they are key primitives) and
 * *stamp (time bin, 0 without history).  Returns 0, -ENOSPC when b's
 * arena is full (flush b and retry), or -EINVAL with the reason in err. */
int bdb_decode(const struct pm_host *host, const struct bdb_layout *l,
               const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
               struct pm_rec *r, struct pm_batch *b, uint64_t *stamp, char *err,
               size_t errlen);

/* The meta record's text for l, and its check on load: 0 when meta (len
 * bytes, not NUL-terminated) was written for the same aggregate, else
 * -EINVAL with the reason in err. */
int bdb_meta_text(const struct bdb_layout *l, uint64_t rows, char *out,
                  size_t outlen);
int bdb_meta_check(const struct bdb_layout *l, const char *meta, size_t len,
                   char *err, size_t errlen);

struct bdb_config {
    char *file; /* bdb_file */
    char *imt_path;
    char *imt_path_mode;
    uint64_t imt_buckets;
    uint64_t refresh_time; /* bdb_refresh_time, seconds; 0: exit/-e only */
    char *history;         /* bdb_history */
    char *history_roundoff;
    uint64_t max_entries; /* bdb_max_entries */
    uint64_t cache_size;  /* bdb_cache_size: libdb's page cache, bytes */
};

struct bdb_ctx {
    struct pmq_table t; /* table, lock, socket server */
    const struct bdb_config *cfg;
    struct bdb_layout layout;
    char *tmp_path;  /* bdb_file.tmp: snapshots are written here first */
    char *lock_path; /* bdb_file.lock: one daemon per file */
    int lock_fd;

    pthread_mutex_t file_mu; /* serialises writers of the file */
    int file_mu_ready;
    struct pm_buf blob; /* serialised rows (under file_mu) */
    uint64_t gen;       /* changes so far (atomic) */
    uint64_t saved_gen; /* gen of the last snapshot written (file_mu) */
    uint64_t next_sync; /* wall-clock second of the next refresh */
    uint64_t overflows_seen;

    uint64_t *c_records;
    uint64_t *c_overflows;
    uint64_t *c_syncs;
    uint64_t *c_sync_errors;
    uint64_t *c_rows_stored;
    uint64_t *c_rows_loaded;
};

/* Save the whole table to bdb_file (atomically: written to tmp_path,
 * synced, renamed).  `why` is logged ("refresh", "clear", "exit").
 * Takes file_mu, then t.mu while serialising.  Returns 0 or -errno. */
int bdb_save(struct bdb_ctx *x, const char *why);

/* Load bdb_file into the cache (missing file: empty table).  Errors name
 * the file and, for a bad record, its number.  Returns 0 or -errno. */
int bdb_load(struct bdb_ctx *x);

#endif /* PM_BDB_H */
