/*
 * pm_module.h - what a module exports: one function returning a const
 * descriptor.  Magic, ABI and the descriptor's size come first and never
 * move, so the core can refuse a stale or foreign module before reading
 * anything else.
 *
 * ABI changelog (bump MINOR for additions at the end of a struct or table,
 * MAJOR for anything else; the core loads a module when its major equals
 * the core's and its minor is <= the core's):
 *   1.0  first ABI: descriptor, option table, host table, record, batch,
 *        cache, render, classifier API.
 */
#ifndef PMACCT_PM_MODULE_H
#define PMACCT_PM_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include <pmacct/pm_record.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PM_MODULE_MAGIC 0x504d4d31u /* "PMM1" */
#define PM_ABI_MAJOR 1
#define PM_ABI_MINOR 2
#define PM_ABI ((uint32_t)((PM_ABI_MAJOR << 16) | PM_ABI_MINOR))
#define PM_ABI_MAJOR_OF(v) ((uint32_t)(v) >> 16)
#define PM_ABI_MINOR_OF(v) ((uint32_t)(v)&0xffffu)

/* The symbol every module exports (the loader looks it up by this name). */
#define PM_MODULE_ENTRY "pm_module_descriptor"

enum pm_module_kind {
    PM_KIND_CAPTURE = 1,   /* produces batches: pcap, netflow, sflow, ... */
    PM_KIND_TRANSFORM = 2, /* edits/drops records: tag, classify, geoip, ... */
    PM_KIND_OUTPUT = 3,    /* ends a pipeline: memory, print, sql, kafka, ... */
    PM_KIND_SERVICE = 4,   /* runs beside the pipelines, sees no records:
                              metrics endpoint, BGP/BMP daemons, ... */
};

/* Option value types.  The core parses the text of the config and stores
 * the value at config + offset, with the C type given here. */
enum pm_opt_type {
    PM_OPT_STR = 1,  /* char * (core-owned, lives as long as the instance) */
    PM_OPT_BOOL,     /* int: true/false/yes/no/1/0 */
    PM_OPT_INT,      /* int64_t */
    PM_OPT_UINT,     /* uint64_t */
    PM_OPT_SIZE,     /* uint64_t bytes; accepts K/M/G suffixes */
    PM_OPT_DURATION, /* uint64_t seconds; accepts s/m/h/d/w/M suffixes as
                        pmacct's *_history keys do (M = month = 30d is not
                        used: month bins are flagged by PM_OPTF_MONTHS) */
    PM_OPT_ENUM,     /* int: index into enum_values ("a|b|c") */
    PM_OPT_PATH,     /* char *, a file path (checked for nothing) */
    PM_OPT_LIST,     /* char *, comma-separated list kept as given */
};

/* Option flags. */
#define PM_OPTF_GLOBAL 0x01u    /* can't be set per instance */
#define PM_OPTF_NO_GLOBAL 0x02u /* must be set per instance */
#define PM_OPTF_SECRET 0x04u    /* never printed (passwords) */
#define PM_OPTF_REQUIRED 0x08u  /* startup fails without it */
#define PM_OPTF_COMPAT 0x10u    /* accepted for pmacct compatibility and
                                   ignored; help says why */
#define PM_OPTF_MAP 0x20u       /* value is a map file (reloaded on SIGUSR2) */
#define PM_OPTF_TRIGGER 0x40u   /* transform/service: setting this key (for a
                                   pipeline, or globally) inserts the module
                                   into that pipeline (pmacct's implicit form),
                                   or starts the service */

/* One configuration key of a module.  Tables end with a zeroed entry. */
struct pm_option {
    const char *name;    /* pmacct key name, e.g. "print_output" */
    uint32_t type;       /* enum pm_opt_type */
    uint32_t flags;      /* PM_OPTF_* */
    size_t offset;       /* where in the module's config struct */
    const char *defval;  /* default as config text, or NULL */
    const char *values;  /* PM_OPT_ENUM: "formatted|csv|json"; else a hint */
    const char *help;    /* one line */
    char cli;            /* pmacct command-line switch letter, or 0 */
};

#define PM_OPTION_END                                                          \
    {                                                                          \
        NULL, 0, 0, 0, NULL, NULL, NULL, 0                                     \
    }

/* Module flags. */
#define PM_MF_NEEDS_PACKETS 0x01u /* transform wants rec->pkt (payloads) */
#define PM_MF_QUERYABLE 0x02u     /* output serves the pmacct client */
#define PM_MF_SINGLETON 0x04u     /* at most one instance per daemon */

struct pm_host;
struct pm_instance;

/* Why flush() is called. */
enum pm_flush_reason {
    PM_FLUSH_TIMER = 1, /* not used by the core yet: outputs time their own
                           refreshes from tick() */
    PM_FLUSH_FINAL = 2, /* end of input or shutdown: write everything */
};

/* Result of a capture's run(). */
enum pm_run_result {
    PM_RUN_EOF = 0,     /* input exhausted (savefile): drain and exit */
    PM_RUN_STOPPED = 1, /* host asked to stop */
};

/*
 * The descriptor.  Callbacks a kind does not use are NULL.
 *
 * init():    parse nothing: the core has already filled `config`
 *            (config_size bytes, laid out per the option table) and
 *            validated it.  Allocate the instance context into *ctx.
 *            Return 0 or -errno after logging why through host->log.
 * start():   called once every module of the daemon is initialised,
 *            before any capture runs, on the main thread.  Open sockets,
 *            files, devices here.  May be NULL.
 * run():     capture and service.  Runs on the capture's own thread: loop
 *            host->batch_get / fill / host->batch_emit until the input
 *            ends (return PM_RUN_EOF) or host->stopping() (PM_RUN_STOPPED);
 *            a negative -errno is a fatal capture error.
 * process(): transform/output.  Runs on the pipeline's thread with a
 *            borrowed batch: mark drops with pm_batch_drop, edit records
 *            in place, add strings with host->batch_str.  Keep no pointer
 *            into the batch after returning.  Return 0 or -errno (the
 *            core counts the error and goes on with the next batch).
 * tick():    transform/output, on the pipeline thread, about once a second
 *            and whenever the pipeline is idle: refresh timers, purges.
 * flush():   transform/output, on the pipeline thread: write what is held.
 * reload():  SIGUSR2: reload maps.  On error keep the old state, log why,
 *            return -errno.  Called on the pipeline thread.
 * stop():    ask background threads of the module to finish (main thread).
 * fini():    free the context (main thread, after all threads joined).
 */
struct pm_module_desc {
    uint32_t magic; /* PM_MODULE_MAGIC */
    uint32_t abi;   /* PM_ABI the module was built against */
    uint32_t size;  /* sizeof(struct pm_module_desc) of that SDK */
    uint32_t kind;  /* enum pm_module_kind */
    const char *name;
    const char *version;
    const char *summary;
    uint32_t flags; /* PM_MF_* */
    int32_t order;  /* transforms inserted implicitly run in ascending
                       order (documented in docs/pipelines.md):
                       100 tunnel, 200 filter, 300 tag, 400 networks,
                       500 geoip, 600 classify, 700 bgp enrichment */
    const struct pm_option *options; /* ends with PM_OPTION_END */
    size_t config_size;

    int (*init)(const struct pm_host *host, const struct pm_instance *inst,
                void *config, void **ctx);
    int (*start)(void *ctx);
    int (*run)(void *ctx);
    int (*process)(void *ctx, struct pm_batch *b);
    int (*tick)(void *ctx, const pm_ts_t *now);
    int (*flush)(void *ctx, int reason);
    int (*reload)(void *ctx);
    void (*stop)(void *ctx);
    void (*fini)(void *ctx);

    /* Transforms: NULL-terminated primitive names; a pipeline whose
     * aggregate names any of them gets this transform inserted, as a set
     * trigger key would (classify: "class").  NULL: none. */
    const char *const *trigger_prims;
};

/* The exported entry point: `const struct pm_module_desc *
 * pm_module_descriptor(void)`.  Use PM_MODULE_EXPORT(desc). */
typedef const struct pm_module_desc *(*pm_module_entry_fn)(void);

#if defined(__GNUC__)
#define PM_EXPORT __attribute__((visibility("default")))
#else
#define PM_EXPORT
#endif

#define PM_MODULE_EXPORT(desc)                                                 \
    PM_EXPORT const struct pm_module_desc *pm_module_descriptor(void);         \
    PM_EXPORT const struct pm_module_desc *pm_module_descriptor(void)          \
    {                                                                          \
        return &(desc);                                                        \
    }

/* Fill the fixed head of a descriptor. */
#define PM_MODULE_HEAD(kind_)                                                  \
    .magic = PM_MODULE_MAGIC, .abi = PM_ABI,                                   \
    .size = (uint32_t)sizeof(struct pm_module_desc), .kind = (kind_)

#ifdef __cplusplus
}
#endif
#endif /* PMACCT_PM_MODULE_H */
