/*
 * print.h - private header of the print output, shared by print.c (options,
 * cache, purge, module callbacks) and print_write.c (rendering lines,
 * writing files, print_latest_file, print_trigger_exec).
 *
 * Threads: everything runs on the pipeline thread (process, tick, flush)
 * or the main thread (init, fini); nothing here is shared.
 */
#ifndef PMACCT_PRINT_H
#define PMACCT_PRINT_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

struct pm_avro;

/* print_output values, in the order of the option's enum string. */
enum print_fmt {
    OUT_FORMATTED = 0,
    OUT_CSV,
    OUT_JSON,
    OUT_EVENT_FORMATTED,
    OUT_EVENT_CSV,
    OUT_AVRO,
    OUT_AVRO_JSON,
    OUT_CUSTOM,
};

struct print_config {
    int output;                /* enum print_fmt */
    char *output_file;         /* print_output_file */
    int append;                /* print_output_file_append */
    char *lock_file;           /* print_output_lock_file */
    char *latest_file;         /* print_latest_file */
    int write_empty_file;      /* print_write_empty_file */
    uint64_t refresh_time;     /* print_refresh_time */
    uint64_t startup_delay;    /* print_startup_delay */
    char *history;             /* print_history: N[s|m|h|d|w|M] */
    char *history_roundoff;    /* print_history_roundoff: m,h,d,w,M */
    int64_t history_offset;    /* print_history_offset */
    uint64_t cache_entries;    /* print_cache_entries */
    int markers;               /* print_markers */
    int num_protos;            /* print_num_protos */
    char *separator;           /* print_output_separator */
    char *trigger_exec;        /* print_trigger_exec */
    char *preprocess;          /* print_preprocess */
    int preprocess_type;       /* print_preprocess_type: any|all */
    uint64_t max_writers;      /* print_max_writers (compat) */
    uint64_t avro_buffer_size; /* avro_buffer_size (brokers only) */
    char *avro_schema_file;    /* avro_schema_file */
};

/* One output file of a purge. */
struct pfile {
    char *name;         /* expanded path */
    struct pm_buf rows; /* rendered rows */
    uint64_t nrows;
    time_t t;          /* time the name was expanded with */
    struct pm_rec rec; /* first aggregate: $-variables of latest_file */
};

struct print_ctx {
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct print_config *cfg;
    struct pm_cache *cache;
    struct pm_render *render;
    int fmt;       /* effective enum print_fmt */
    int ncounters; /* counter columns stripped by event_* formats */
    char sep[2];
    char writer[128]; /* "default_print" or the instance name */
    int pid;
    uint64_t max_aggr;     /* early purge threshold (0: none) */
    uint64_t refresh;      /* seconds */
    uint64_t next_purge;   /* wall clock seconds */
    struct pm_preproc *pp; /* print_preprocess (NULL: none) */
    struct pfile *files;
    size_t nfiles, capfiles;
    size_t last_hit;
    pid_t children[16];
    int nchildren;
    uint64_t *c_purges, *c_rows, *c_files, *c_errors, *c_filtered;
    uint64_t stamp_updated; /* time of the purge under way */
    uint64_t purged_total;  /* rows written so far in this purge */
    uint64_t total_entries; /* aggregates in the cache at purge start */
    int walk_err;
    int name_static; /* print_output_file has no $-variables */
    int name_ok;     /* name_last is valid for name_t */
    time_t name_t;
    char name_last[PATH_MAX];
    struct pm_avro *avro; /* print_output avro/avro_json (NULL: other) */
    int avro_json;        /* avro_json, or avro to stdout: Avro JSON lines */
};

/* print_write.c */
int print_now_secs(struct print_ctx *c, uint64_t *s);
int print_render_line(struct print_ctx *c, const struct pm_row *row,
                      struct pm_buf *out);
int print_file_write(struct print_ctx *c, struct pfile *f, uint64_t t0);
void print_latest_update(struct print_ctx *c, struct pfile *f);
void print_trigger(struct print_ctx *c);
void print_reap(struct print_ctx *c);

#endif
