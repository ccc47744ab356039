/*
 * pmd.h - the core runtime's internal interfaces: configuration entries
 * (conf.c), module loader (loader.c), option resolution and the pipeline
 * plan (options.c), the running daemon (pipeline.c), host table (host.c),
 * stats (stats.c), logging (log.c), paths (paths.c), daemon helpers
 * (daemon.c).  Not part of the SDK: modules never see this header.
 *
 * Shared between threads: struct pmd is built on the main thread before
 * any thread starts and is read-only afterwards, except the fields marked
 * "atomic" and the queues/pools (lock-free rings, core/queue.h).
 */
#ifndef PMACCT_CORE_PMD_H
#define PMACCT_CORE_PMD_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

#include "queue.h"

/* ---- conf.c: configuration entries ------------------------------------- */
struct conf_entry {
    char *key;   /* lower-case */
    char *inst;  /* key[inst], or NULL for a global entry */
    char *value; /* trimmed */
    const char *file; /* "command line" for switches */
    int line;
};

struct conf {
    struct conf_entry *e;
    size_t n, cap;
    char **files; /* owned file names */
    size_t nfiles;
    const char *main_file; /* the -f file or NULL */
};

int conf_parse_file(struct conf *c, const char *path, char *err,
                    size_t errlen);
int conf_parse_text(struct conf *c, const char *text, const char *fname,
                    char *err, size_t errlen);
int conf_add(struct conf *c, const char *key, const char *inst,
             const char *value, const char *file, int line);
/* Last entry with exactly this key and instance (inst NULL: global). */
const struct conf_entry *conf_find(const struct conf *c, const char *key,
                                   const char *inst);
/* key[inst], else key[inst2] (when inst2 != NULL), else the global key. */
const struct conf_entry *conf_lookup(const struct conf *c, const char *key,
                                     const char *inst, const char *inst2);
void conf_free(struct conf *c);
/* "file:line" for messages (static buffer per thread). */
const char *conf_where(const struct conf_entry *e);

/* ---- loader.c ------------------------------------------------------------ */
struct pm_mod {
    char *name;
    char *path;
    void *handle; /* lt_dlhandle, NULL for a built-in/static descriptor */
    const struct pm_module_desc *d;
};

struct pm_refused {
    char *name;
    char *path;
    char *msg; /* one line */
};

struct modset {
    struct pm_mod *m;
    size_t n;
    struct pm_refused *r;
    size_t nr;
    char **dirs;
    size_t ndirs;
};

/* Build the search path: module_dir (colon list, may be NULL), then
 * $PMACCT_MODULE_DIR, then PM_MODULE_DIR. */
int modset_set_dirs(struct modset *ms, const char *module_dir);
/* Load the descriptor of every module file found in the search path
 * (first directory wins for a name).  Refused modules are listed in ms->r. */
int modset_scan(struct modset *ms);
/* Load one file; on refusal err holds the one-line reason. */
int loader_load(const char *path, const char *name, struct pm_mod *out,
                char *err, size_t errlen);
/* Check a descriptor (no dlopen): 0 or -EINVAL with err. */
int loader_check_desc(const struct pm_module_desc *d, const char *path,
                      const char *name, char *err, size_t errlen);
/* Add a static descriptor (tests, built-ins). */
int modset_add_static(struct modset *ms, const struct pm_module_desc *d);
const struct pm_mod *modset_find(const struct modset *ms, const char *name);
const struct pm_refused *modset_refused(const struct modset *ms,
                                        const char *name);
/* "dir1, dir2" (static buffer). */
const char *modset_dirs_text(const struct modset *ms);
void modset_free(struct modset *ms);
const char *kind_name(uint32_t kind);

/* ---- core options -------------------------------------------------------- */
/* pipeline_overload; PMD_OVERLOAD_WAIT is what auto means for live input:
 * wait up to pipeline_overload_wait for room, then shed (drop) until the
 * queue half-drains */
enum {
    PMD_OVERLOAD_AUTO = 0,
    PMD_OVERLOAD_BLOCK,
    PMD_OVERLOAD_DROP,
    PMD_OVERLOAD_WAIT
};

/* pipeline_inline */
enum { PMD_INLINE_AUTO = 0, PMD_INLINE_TRUE, PMD_INLINE_FALSE };

struct core_conf {
    int daemonize;
    int debug;
    char *pidfile;
    char *syslog;
    char *logfile;
    char *plugins;
    char *aggregate;
    char *pipeline;
    char *capture;
    char *module_dir;
    uint64_t batch_size;
    uint64_t queue_batches;
    int overload;
    uint64_t overload_wait; /* ms */
    int inline_mode; /* PMD_INLINE_* */
    char *files_umask;
    char *aggregate_primitives;
    int enc[4]; /* JSON/text encodings: host->render_flags() */
    char *compat[8];
};

extern const struct pm_option pmd_core_options[];
extern const struct pm_module_desc pmd_core_desc; /* the table as a module */

/* ---- the plan and runtime ------------------------------------------------ */
struct pmd;
struct pipeline;
struct bpool;

struct stage {
    struct pm_instance inst;
    const struct pm_mod *mod;
    void *config;
    void *ctx;
    int inited, started;
    struct pipeline *pl;
    struct pmd *d;
    const struct conf_entry *origin; /* where it was asked for */
    uint64_t *c_errors;  /* process() errors */
    uint64_t *c_dropped; /* records this stage marked dropped */
    char *name_owned;
};

/* The queue of a pipeline is a struct pmq of pipeline_queue_batches batch
 * pointers (core/queue.h: bounded, lock-free, sleeps only when empty/full,
 * wakes its consumer lazily).  A pool holds the free batches in a stack
 * (LIFO) under a mutex: the batch released last, still in the caches, is
 * handed out first (pipeline.c). */
struct bpool {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a get waits for a put (or a stop) */
    struct pm_batch **stack; /* total slots: a put never waits */
    uint32_t top;
    uint32_t waiters;
    int inited;
    struct pm_batch **all;
    uint32_t total;
};

struct pipeline {
    char *name; /* instance name for config lookups ("default", "a") */
    char *id;   /* unique label: name, or name_type when names repeat */
    struct stage **st;
    size_t nst;
    uint16_t agg[PM_P_MAX];
    uint32_t nagg;
    uint32_t sum_mode;
    pm_pset_t aggset;
    const struct conf_entry *origin;
    int overload; /* PMD_OVERLOAD_BLOCK, _DROP or _WAIT */
    uint64_t overload_wait_ns;
    int shedding; /* _WAIT: a wait timed out, drop until half empty (atomic) */
    int inline_run; /* pipeline_inline: captures may run batches themselves */
    unsigned in_flight; /* batches queued or being run by the thread (atomic) */
    pthread_mutex_t run_mu; /* held while the stages run (any thread) */
    int explicit_form;
    /* runtime */
    struct pmq q; /* captures -> this pipeline's thread */
    struct bpool pool;
    pthread_t th;
    int th_started;
    uint64_t *c_received, *c_dropped_q, *c_dropped_stage, *c_qdepth,
        *c_batches, *c_inline;
    uint64_t last_drop_warn;
    unsigned reload_seen;
};

struct capture {
    struct stage st;
    pthread_t th;
    int th_started;
    int rc;
    int finished;
    uint64_t *c_batches, *c_records;
    struct bpool *own; /* private pool when there is no pipeline */
};

struct service {
    struct stage st;
    pthread_t th;
    int th_started;
    int rc;
};

struct pmd {
    char *daemon;
    struct conf conf;
    struct modset mods;
    struct core_conf cc;
    int cc_set;
    struct capture **caps;
    size_t ncaps;
    struct pipeline **pls;
    size_t npls;
    struct service **svcs;
    size_t nsvcs;
    int savefile;
    uint32_t batch_size, queue_batches, snaplen, capf;
    int overload; /* PMD_OVERLOAD_BLOCK, _DROP or _WAIT */
    struct pm_host host;
    uint32_t next_instance_id;
    pm_pset_t agg_union;
    uint16_t agg_union_ids[PM_P_MAX];
    uint32_t nagg_union;
    /* atomic */
    int stop_captures;
    int stop_all;
    unsigned reload_gen;
    int running; /* queues and pools exist (atomic) */
    int exit_code;
    /* start-up synchronisation of the main thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ncaps_done;
    char lasterr[1024]; /* last configuration error, for tests */
};

/* options.c */
void pmd_init(struct pmd *d, const char *daemon);
/* Validate every entry and build the plan.  Errors are logged as one line
 * each (and the last kept in d->lasterr).  0 or -EINVAL. */
int pmd_resolve(struct pmd *d);
void pmd_free(struct pmd *d);
/* Default capture module of a daemon name, or NULL. */
const char *pmd_daemon_module(const char *daemon);
/* Closest string among candidates (edit distance), or NULL. */
const char *pmd_suggest(const char *word, const char *const *cands,
                        size_t n);
void pmd_error(struct pmd *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* plan.c: the plan-building steps pmd_resolve() runs (each 0 or -errno,
 * errors reported with pmd_error), printing and freeing. */
int pmd_plan_check_outputs(struct pmd *d);
int pmd_plan_implicit(struct pmd *d);
int pmd_plan_explicit(struct pmd *d);
int pmd_plan_captures_services(struct pmd *d);
/* Print the resolved plan (--check-config). */
void pmd_print_plan(struct pmd *d, FILE *f);

/* pipeline.c */
/* Initialise and start every instance, run threads until the input ends
 * or a stop is requested, drain, flush, stop, fini.  Returns the exit
 * code.  When `wait` is 0 it returns after the threads started
 * (pmd_wait() finishes the job). */
int pmd_start(struct pmd *d);
int pmd_wait(struct pmd *d);
void pmd_request_stop(struct pmd *d);
void pmd_request_reload(struct pmd *d);
/* host table batch functions (pipeline.c) */
struct pm_batch *pmd_batch_get(const struct pm_instance *inst);
int pmd_batch_emit(const struct pm_instance *inst, struct pm_batch *b);
void pmd_batch_release(const struct pm_instance *inst, struct pm_batch *b);
uint32_t pmd_capture_needs(const struct pm_instance *inst,
                           uint32_t *snaplen);
int pmd_stopping(const struct pm_instance *inst);

/* host.c */
void pmd_host_fill(struct pmd *d, struct pm_host *h);

/* stats.c */
uint64_t *stats_counter(const char *module, const char *instance,
                        const char *name, const char *help);
/* Value of a counter, or -1 when it does not exist (tests). */
int64_t stats_get(const char *module, const char *instance, const char *name);
int stats_render(struct pm_buf *out, int prometheus);
void stats_reset(void);

/* log.c */
void log_init_stderr(void);
int log_open_file(const char *path);
int log_open_syslog(const char *facility);
void log_reopen(void);
void log_set_debug(int on);
void log_close(void);
void log_core(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_inst(const struct pm_instance *inst, int level, const char *fmt,
              va_list ap);
void log_inst_limited(const struct pm_instance *inst, int level,
                      const char *key, const char *fmt, va_list ap);
/* Tests: capture log lines into a buffer (NULL to stop). */
void log_capture(char *buf, size_t len);

/* paths.c */
int pmd_path_expand(const struct pm_instance *inst, const char *tmpl,
                    time_t t, const struct pm_rec *rec, char *out,
                    size_t outlen);

/* daemon.c */
int pmd_daemonize(void);
int pmd_write_pidfile(const char *path);
void pmd_remove_pidfile(const char *path);
/* Block the handled signals in the calling thread (call before creating
 * threads) and start the sigwait thread. */
int pmd_signals_start(struct pmd *d);
void pmd_signals_stop(void);

#endif /* PMACCT_CORE_PMD_H */
