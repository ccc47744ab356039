/*
 * print.c - the `print` output: aggregates records in the host's cache and,
 * every print_refresh_time seconds and at the final flush, writes every
 * aggregate as pmacct 1.7.7's print plugin does (formatted, CSV, JSON and
 * their event_ variants) to stdout or to files named by print_output_file
 * (strftime and $-variables, expanded per aggregate: one file per distinct
 * name), then empties the cache.
 *
 * Threads: process(), tick() and flush() run on the pipeline thread, init()
 * and fini() on the main thread; nothing is shared, every piece of state is
 * in the instance context.  We never fork: files are written on the
 * pipeline thread, one buffered write per file (via a temp file + rename
 * unless appending).  print_trigger_exec is started with posix_spawn and
 * reaped from tick().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

extern char **environ;

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
    int output;             /* enum print_fmt */
    char *output_file;      /* print_output_file */
    int append;             /* print_output_file_append */
    char *lock_file;        /* print_output_lock_file */
    char *latest_file;      /* print_latest_file */
    int write_empty_file;   /* print_write_empty_file */
    uint64_t refresh_time;  /* print_refresh_time */
    uint64_t startup_delay; /* print_startup_delay */
    char *history;          /* print_history: N[s|m|h|d|w|M] */
    char *history_roundoff; /* print_history_roundoff: m,h,d,w,M */
    int64_t history_offset; /* print_history_offset */
    uint64_t cache_entries; /* print_cache_entries */
    int markers;            /* print_markers */
    int num_protos;         /* print_num_protos */
    char *separator;        /* print_output_separator */
    char *trigger_exec;     /* print_trigger_exec */
    char *preprocess;       /* print_preprocess */
    int preprocess_type;    /* print_preprocess_type: any|all */
    uint64_t max_writers;   /* print_max_writers (compat) */
};

#define CFG(f) offsetof(struct print_config, f)

static const struct pm_option print_options[] = {
    {"print_output", PM_OPT_ENUM, 0, CFG(output), "formatted",
     "formatted|csv|json|event_formatted|event_csv|avro|avro_json|custom",
     "output format", 'O'},
    {"print_output_file", PM_OPT_STR, 0, CFG(output_file), NULL, "path",
     "file to write to (strftime and $-variables); stdout when unset", 'o'},
    {"print_output_file_append", PM_OPT_BOOL, 0, CFG(append), "false", NULL,
     "append to existing files instead of overwriting them", 0},
    {"print_output_lock_file", PM_OPT_PATH, 0, CFG(lock_file), NULL, "path",
     "lock file serialising writes to stdout", 0},
    {"print_latest_file", PM_OPT_STR, 0, CFG(latest_file), NULL, "path",
     "symlink pointing to the latest file written", 0},
    {"print_write_empty_file", PM_OPT_BOOL, 0, CFG(write_empty_file), "false",
     NULL, "write a file even when a purge has no data", 0},
    {"print_refresh_time", PM_OPT_UINT, 0, CFG(refresh_time), "60", "seconds",
     "seconds between purges", 'r'},
    {"print_startup_delay", PM_OPT_UINT, 0, CFG(startup_delay), "0", "seconds",
     "delay the first purge (and so every one) by this", 0},
    {"print_history", PM_OPT_STR, 0, CFG(history), NULL, "#[s|m|h|d|w|M]",
     "time bin length (historical accounting)", 0},
    {"print_history_roundoff", PM_OPT_STR, 0, CFG(history_roundoff), NULL,
     "m|h|d|w|M", "align time bins and purges", 0},
    {"print_history_offset", PM_OPT_INT, 0, CFG(history_offset), "0", "seconds",
     "offset of time bin starts", 0},
    {"print_cache_entries", PM_OPT_UINT, 0, CFG(cache_entries), "16411",
     "buckets",
     "cache size (pmacct buckets; about 10 aggregates each): a "
     "full cache is purged early",
     0},
    {"print_markers", PM_OPT_BOOL, 0, CFG(markers), "false", NULL,
     "start/end markers around each purge", 0},
    {"print_num_protos", PM_OPT_BOOL, 0, CFG(num_protos), "false", NULL,
     "print IP protocols as numbers", 0},
    {"print_output_separator", PM_OPT_STR, 0, CFG(separator), ",",
     "char|\\t|\\s", "CSV separator", 0},
    {"print_trigger_exec", PM_OPT_PATH, 0, CFG(trigger_exec), NULL, "path",
     "executable started after each purge", 0},
    {"print_preprocess", PM_OPT_LIST, 0, CFG(preprocess), NULL,
     "minp=N,minb=N,...",
     "checks and actions applied to aggregates at "
     "purge time",
     0},
    {"print_preprocess_type", PM_OPT_ENUM, 0, CFG(preprocess_type), "any",
     "any|all", "whether one or all print_preprocess checks must pass", 0},
    {"print_max_writers", PM_OPT_UINT, PM_OPTF_COMPAT, CFG(max_writers), "10",
     "count",
     "accepted and ignored: purges are written in-process, no writer "
     "processes",
     0},
    PM_OPTION_END,
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
    uint64_t max_aggr;   /* early purge threshold (0: none) */
    uint64_t refresh;    /* seconds */
    uint64_t next_purge; /* wall clock seconds */
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
};

/* ---- helpers ----------------------------------------------------------- */

/* event_formatted / event_csv: drop the trailing counter columns of a line
 * rendered in formatted/CSV (counters are always last).  `line` ends at
 * len (with its '\n'); returns the new length, newline kept. */
static size_t strip_counters(const struct print_ctx *c, char *line, size_t len)
{
    size_t e = len;
    if (e && line[e - 1] == '\n')
        e--;
    for (int k = 0; k < c->ncounters && e > 0; k++) {
        if (c->fmt == OUT_EVENT_CSV) {
            while (e > 0 && line[e - 1] != c->sep[0])
                e--;
            if (e > 0)
                e--; /* the separator */
        } else {
            /* formatted: value then padding, from the end: for the last
             * column only the value, for the others padding then value */
            if (k > 0)
                while (e > 0 && line[e - 1] == ' ')
                    e--;
            while (e > 0 && line[e - 1] != ' ')
                e--;
        }
    }
    line[e] = '\n';
    return e + 1;
}

static int render_line(struct print_ctx *c, const struct pm_row *row,
                       struct pm_buf *out)
{
    size_t start = out->len;
    int rc = row ? c->host->render_row(c->render, row, out)
                 : c->host->render_header(c->render, out);
    if (rc < 0)
        return rc;
    if (c->ncounters && out->len > start) {
        size_t nl = strip_counters(c, out->p + start, out->len - start);
        out->len = start + nl;
        out->p[out->len] = 0;
    }
    return 0;
}

/* ---- purge ------------------------------------------------------------- */

static struct pfile *file_get(struct print_ctx *c, const char *name)
{
    if (c->last_hit < c->nfiles && !strcmp(c->files[c->last_hit].name, name))
        return &c->files[c->last_hit];
    for (size_t i = 0; i < c->nfiles; i++)
        if (!strcmp(c->files[i].name, name)) {
            c->last_hit = i;
            return &c->files[i];
        }
    if (c->nfiles == c->capfiles) {
        size_t nc = c->capfiles ? c->capfiles * 2 : 8;
        struct pfile *nf = realloc(c->files, nc * sizeof(*nf));
        if (!nf)
            return NULL;
        c->files = nf;
        c->capfiles = nc;
    }
    struct pfile *f = &c->files[c->nfiles];
    memset(f, 0, sizeof(*f));
    f->name = strdup(name);
    if (!f->name)
        return NULL;
    c->last_hit = c->nfiles++;
    return f;
}

static void files_reset(struct print_ctx *c)
{
    for (size_t i = 0; i < c->nfiles; i++) {
        free(c->files[i].name);
        free(c->files[i].rows.p);
    }
    c->nfiles = 0;
    c->last_hit = 0;
}

static int purge_row(void *ud, const struct pm_row *row)
{
    struct print_ctx *c = ud;
    struct pm_row r = *row;
    char name[PATH_MAX];
    const char *fname = "-";
    time_t t;

    if (c->pp && c->host->preproc_apply(c->pp, &r)) {
        pm_counter_add(c->c_filtered, 1);
        return PM_WALK_NEXT;
    }
    r.stamp_updated = c->stamp_updated;
    t = (time_t)(r.stamp_inserted ? r.stamp_inserted : c->stamp_updated);
    if (c->cfg->output_file && c->name_static && c->name_t == t && c->name_ok) {
        fname = c->name_last; /* no $-variables: the name depends on t only */
    } else if (c->cfg->output_file) {
        if (c->host->path_expand(c->inst, c->cfg->output_file, t, row->rec,
                                 name, sizeof(name)) < 0) {
            c->host->log_limited(c->inst, PM_LOG_ERR, "print-name",
                                 "print_output_file: '%s' expands to a name "
                                 "too long",
                                 c->cfg->output_file);
            c->walk_err = -ENAMETOOLONG;
            return PM_WALK_NEXT;
        }
        fname = name;
        if (c->name_static) {
            memcpy(c->name_last, name, sizeof(name));
            c->name_t = t;
            c->name_ok = 1;
        }
    }
    struct pfile *f = file_get(c, fname);
    if (!f) {
        c->walk_err = -ENOMEM;
        return PM_WALK_STOP;
    }
    if (!f->nrows) {
        f->t = t;
        memcpy(&f->rec, row->rec, sizeof(f->rec));
    }
    if (render_line(c, &r, &f->rows) < 0) {
        c->walk_err = -ENOMEM;
        return PM_WALK_STOP;
    }
    f->nrows++;
    return PM_WALK_NEXT;
}

static int pfile_cmp(const void *a, const void *b)
{
    return strcmp(((const struct pfile *)a)->name,
                  ((const struct pfile *)b)->name);
}

/* Marker and header text before the rows of a file. */
static int file_prefix(struct print_ctx *c, struct pm_buf *o, int header)
{
    if (c->cfg->markers) {
        if (c->fmt == OUT_JSON)
            c->host->buf_printf(o,
                                "{\"event_type\": \"purge_init\", "
                                "\"writer_id\": \"%s/%d\"}\n",
                                c->writer, c->pid);
        else
            c->host->buf_printf(o, "--START (%d)--\n", c->pid);
    }
    if (header && c->fmt != OUT_JSON)
        return render_line(c, NULL, o);
    return 0;
}

static int file_suffix(struct print_ctx *c, struct pm_buf *o, uint64_t duration)
{
    if (!c->cfg->markers)
        return 0;
    if (c->fmt == OUT_JSON)
        return c->host->buf_printf(
            o,
            "{\"event_type\": \"purge_close\", \"writer_id\": \"%s/%d\", "
            "\"purged_entries\": %llu, \"total_entries\": %llu, "
            "\"duration\": %llu}\n",
            c->writer, c->pid, (unsigned long long)c->purged_total,
            (unsigned long long)c->total_entries, (unsigned long long)duration);
    return c->host->buf_printf(o, "--END (%d)--\n", c->pid);
}

static int write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* mkdir -p of the directory part of path. */
static int mkdirs(const char *path)
{
    char d[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof(d))
        return -ENAMETOOLONG;
    memcpy(d, path, n + 1);
    char *slash = strrchr(d, '/');
    if (!slash || slash == d)
        return 0;
    *slash = 0;
    for (char *p = d + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(d, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(d, 0755) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int now_secs(struct print_ctx *c, uint64_t *s)
{
    pm_ts_t ts;
    c->host->now(c->inst, &ts);
    *s = ts.sec;
    return 0;
}

/* Write one file: prefix (markers, header), rows, suffix. */
static int file_write(struct print_ctx *c, struct pfile *f, uint64_t t0)
{
    struct pm_buf pre = {0}, suf = {0};
    struct iovec iov[3];
    char tmpl[PATH_MAX + 16];
    int fd = -1, rc = 0, header = 1, direct = 0, lockfd = -1;
    int is_stdout = !c->cfg->output_file;
    struct stat st;
    uint64_t t1;

    if (is_stdout) {
        fd = STDOUT_FILENO;
        if (c->cfg->lock_file) {
            lockfd =
                open(c->cfg->lock_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
            if (lockfd < 0 || flock(lockfd, LOCK_EX) < 0)
                PM_WARN(c->host, c->inst, "print_output_lock_file %s: %s",
                        c->cfg->lock_file, strerror(errno));
        }
    } else {
        if ((rc = mkdirs(f->name)) < 0) {
            PM_ERR(c->host, c->inst, "print_output_file %s: mkdir: %s", f->name,
                   strerror(-rc));
            goto fail;
        }
        if (stat(f->name, &st) == 0 && !S_ISREG(st.st_mode))
            direct = 1; /* named pipe, device: write in place */
        if (c->cfg->append || direct) {
            fd = open(f->name,
                      O_WRONLY | O_CREAT | O_CLOEXEC | (direct ? 0 : O_APPEND),
                      0600);
            if (fd >= 0 && !direct && fstat(fd, &st) == 0 && st.st_size > 0)
                header = 0;
        } else {
            snprintf(tmpl, sizeof(tmpl), "%s.XXXXXX", f->name);
            fd = mkostemp(tmpl, O_CLOEXEC);
        }
        if (fd < 0) {
            rc = -errno;
            PM_ERR(c->host, c->inst, "print_output_file %s: open: %s", f->name,
                   strerror(errno));
            goto fail;
        }
    }

    c->purged_total += f->nrows;
    if ((rc = file_prefix(c, &pre, header)) < 0)
        goto fail;
    now_secs(c, &t1);
    if ((rc = file_suffix(c, &suf, t1 >= t0 ? t1 - t0 : 0)) < 0)
        goto fail;
    iov[0].iov_base = pre.p;
    iov[0].iov_len = pre.len;
    iov[1].iov_base = f->rows.p;
    iov[1].iov_len = f->rows.len;
    iov[2].iov_base = suf.p;
    iov[2].iov_len = suf.len;
    if ((rc = write_all(fd, iov, 3)) < 0) {
        PM_ERR(c->host, c->inst, "print: writing %s: %s",
               is_stdout ? "stdout" : f->name, strerror(-rc));
        goto fail;
    }
    if (!is_stdout && !c->cfg->append && !direct) {
        if (close(fd) < 0) {
            rc = -errno;
            fd = -1;
            unlink(tmpl);
            PM_ERR(c->host, c->inst, "print: writing %s: %s", f->name,
                   strerror(-rc));
            goto fail;
        }
        fd = -1;
        if (rename(tmpl, f->name) < 0) {
            rc = -errno;
            unlink(tmpl);
            PM_ERR(c->host, c->inst, "print: rename %s -> %s: %s", tmpl,
                   f->name, strerror(-rc));
            goto fail;
        }
    }
    pm_counter_add(c->c_files, 1);
fail:
    if (rc < 0 && fd >= 0 && !is_stdout && !c->cfg->append && !direct)
        unlink(tmpl);
    if (fd >= 0 && !is_stdout)
        close(fd);
    if (lockfd >= 0)
        close(lockfd);
    free(pre.p);
    free(suf.p);
    return rc;
}

/* print_latest_file: point the link at f if f sorts after its target. */
static void latest_update(struct print_ctx *c, struct pfile *f)
{
    char link[PATH_MAX], cur[PATH_MAX], tmp[PATH_MAX + 16];
    ssize_t n;
    if (c->host->path_expand(c->inst, c->cfg->latest_file, f->t, &f->rec, link,
                             sizeof(link)) < 0)
        return;
    n = readlink(link, cur, sizeof(cur) - 1);
    if (n >= 0) {
        cur[n] = 0;
        if (strcmp(cur, f->name) >= 0)
            return;
    }
    if (mkdirs(link) < 0)
        return;
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", link, c->pid);
    unlink(tmp);
    if (symlink(f->name, tmp) < 0 || rename(tmp, link) < 0) {
        PM_WARN(c->host, c->inst, "print_latest_file %s: %s", link,
                strerror(errno));
        unlink(tmp);
    }
}

static void trigger(struct print_ctx *c)
{
    pid_t pid;
    char *argv[] = {c->cfg->trigger_exec, NULL};
    int rc;
    if (c->nchildren == (int)(sizeof(c->children) / sizeof(c->children[0]))) {
        PM_WARN(c->host, c->inst,
                "print_trigger_exec: too many triggers still running; "
                "not starting %s",
                c->cfg->trigger_exec);
        return;
    }
    rc = posix_spawn(&pid, c->cfg->trigger_exec, NULL, NULL, argv, environ);
    if (rc) {
        PM_ERR(c->host, c->inst, "print_trigger_exec %s: %s",
               c->cfg->trigger_exec, strerror(rc));
        return;
    }
    c->children[c->nchildren++] = pid;
}

static void reap(struct print_ctx *c)
{
    for (int i = 0; i < c->nchildren;) {
        int st;
        pid_t r = waitpid(c->children[i], &st, WNOHANG);
        if (r == c->children[i] || (r < 0 && errno == ECHILD))
            c->children[i] = c->children[--c->nchildren];
        else
            i++;
    }
}

static int purge(struct print_ctx *c)
{
    uint64_t t0;
    int rc = 0;

    now_secs(c, &t0);
    c->stamp_updated = t0;
    c->total_entries = c->host->cache_count(c->cache);
    c->purged_total = 0;
    c->walk_err = 0;
    c->name_ok = 0;
    files_reset(c);

    PM_INFO(c->host, c->inst, "*** Purging cache - START (PID: %d) ***",
            c->pid);
    if (c->total_entries) {
        rc = c->host->cache_walk(c->cache, purge_row, c);
        if (rc >= 0 && c->walk_err == -ENOMEM)
            rc = -ENOMEM;
    }
    if (rc >= 0 && c->nfiles == 0 && c->cfg->write_empty_file &&
        c->cfg->output_file) {
        char name[PATH_MAX];
        if (c->host->path_expand(c->inst, c->cfg->output_file, (time_t)t0, NULL,
                                 name, sizeof(name)) == 0) {
            struct pfile *f = file_get(c, name);
            if (f) {
                f->t = (time_t)t0;
                memset(&f->rec, 0, sizeof(f->rec));
            }
        }
    }
    if (c->nfiles > 1)
        qsort(c->files, c->nfiles, sizeof(*c->files), pfile_cmp);
    for (size_t i = 0; i < c->nfiles; i++) {
        struct pfile *f = &c->files[i];
        int wr = file_write(c, f, t0);
        if (wr < 0) {
            pm_counter_add(c->c_errors, 1);
            rc = rc < 0 ? rc : wr;
            continue;
        }
        pm_counter_add(c->c_rows, f->nrows);
        if (c->cfg->latest_file && c->cfg->output_file)
            latest_update(c, f);
    }
    uint64_t t1;
    now_secs(c, &t1);
    PM_INFO(c->host, c->inst,
            "*** Purging cache - END (PID: %d, QN: %llu/%llu, ET: %llu) ***",
            c->pid, (unsigned long long)c->purged_total,
            (unsigned long long)c->total_entries,
            (unsigned long long)(t1 >= t0 ? t1 - t0 : 0));
    c->host->cache_clear(c->cache);
    files_reset(c);
    pm_counter_add(c->c_purges, 1);
    if (c->cfg->trigger_exec)
        trigger(c);
    return rc;
}

/* ---- module callbacks -------------------------------------------------- */

static void print_fini(void *vctx);

static int print_init(const struct pm_host *host,
                      const struct pm_instance *inst, void *config, void **ctxp)
{
    struct print_config *cfg = config;
    struct print_ctx *c;
    struct pm_cache_cfg cc = {0};
    char herr[256];
    struct pm_render_cfg rc = {0};
    const char *v;
    int err = -EINVAL;

    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->host = host;
    c->inst = inst;
    c->cfg = cfg;
    c->pid = (int)getpid();

    c->fmt = cfg->output;
    if (c->fmt == OUT_AVRO || c->fmt == OUT_AVRO_JSON || c->fmt == OUT_CUSTOM) {
        PM_ERR(host, inst,
               "print_output: '%s' is not supported (use formatted, csv, "
               "json, event_formatted or event_csv)",
               c->fmt == OUT_AVRO        ? "avro"
               : c->fmt == OUT_AVRO_JSON ? "avro_json"
                                         : "custom");
        goto fail;
    }
    /* separator: one char, or \t / \s */
    v = cfg->separator ? cfg->separator : ",";
    if (!strcmp(v, "\\t"))
        c->sep[0] = '\t';
    else if (!strcmp(v, "\\s"))
        c->sep[0] = ' ';
    else if (strlen(v) == 1)
        c->sep[0] = v[0];
    else {
        PM_ERR(host, inst,
               "print_output_separator: '%s': expected one character, \\t "
               "or \\s",
               v);
        goto fail;
    }
    if (cfg->refresh_time == 0) {
        PM_ERR(host, inst, "print_refresh_time: must be at least 1 second");
        goto fail;
    }
    if (host->history_parse(cfg->history, cfg->history_roundoff, &cc, herr,
                            sizeof(herr)) < 0) {
        PM_ERR(host, inst, "print_history%s", herr);
        goto fail;
    }
    if (cfg->history_offset < 0) {
        PM_ERR(host, inst,
               "print_history_offset: expected a positive number of "
               "seconds, got %lld",
               (long long)cfg->history_offset);
        goto fail;
    }
    cc.history_offset = cfg->history_offset;
    if (host->preproc_new(cfg->preprocess, cfg->preprocess_type == 1, &c->pp,
                          herr, sizeof(herr)) < 0) {
        PM_ERR(host, inst, "print_preprocess%s", herr);
        goto fail;
    }
    if (cfg->latest_file && strchr(cfg->latest_file, '%')) {
        PM_ERR(host, inst,
               "print_latest_file: '%s': time-based variables are not "
               "allowed",
               cfg->latest_file);
        goto fail;
    }

    c->name_static = cfg->output_file && !strchr(cfg->output_file, '$');
    if (!strcmp(inst->name, "default"))
        snprintf(c->writer, sizeof(c->writer), "default_%s", inst->module);
    else
        snprintf(c->writer, sizeof(c->writer), "%s", inst->name);

    c->cache = host->cache_new(inst, &cc);
    if (!c->cache) {
        PM_ERR(host, inst, "print: cannot create the aggregation cache");
        err = -ENOMEM;
        goto fail;
    }
    c->max_aggr = cfg->cache_entries * 10;

    /* renderer */
    rc.fmt = (c->fmt == OUT_JSON) ? PM_FMT_JSON
             : (c->fmt == OUT_CSV || c->fmt == OUT_EVENT_CSV)
                 ? PM_FMT_CSV
                 : PM_FMT_FORMATTED;
    rc.prims = inst->aggregate;
    rc.nprims = inst->naggregate;
    rc.sum_mode = inst->sum_mode;
    rc.separator = c->sep;
    rc.event = "purge";
    if (cfg->num_protos)
        rc.flags |= PM_RENDER_NUM_PROTOS;
    if (c->fmt == OUT_JSON) {
        rc.flags |= PM_RENDER_EVENT_TYPE;
        if (cc.history_secs || cc.history_months)
            rc.flags |= PM_RENDER_STAMPS;
    }
    /* FLOWS is printed only when `flows` is part of the aggregation */
    {
        const char *agg = host->conf_get(inst, "aggregate");
        int flows = 0;
        if (agg) {
            const char *p = agg;
            while ((p = strstr(p, "flows"))) {
                int lb = p == agg || p[-1] == ',' || p[-1] == ' ';
                int rb = !p[5] || p[5] == ',' || p[5] == ' ';
                if (lb && rb)
                    flows = 1;
                p += 5;
            }
        }
        if (!flows)
            rc.flags |= PM_RENDER_NO_FLOWS;
        c->ncounters =
            (c->fmt == OUT_EVENT_FORMATTED || c->fmt == OUT_EVENT_CSV)
                ? (flows ? 3 : 2)
                : 0;
    }
    if ((v = host->conf_get(inst, "timestamps_since_epoch")) &&
        (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")))
        rc.flags |= PM_RENDER_TS_EPOCH;
    if ((v = host->conf_get(inst, "timestamps_secs")) &&
        (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes")))
        rc.flags |= PM_RENDER_TS_SECS;
    c->render = host->render_new(&rc);
    if (!c->render) {
        PM_ERR(host, inst, "print: cannot create the renderer");
        err = -ENOMEM;
        goto fail;
    }

    c->c_purges = host->counter(inst, "purges", "cache purges");
    c->c_rows = host->counter(inst, "rows_written", "aggregates written");
    c->c_files = host->counter(inst, "files_written", "files written");
    c->c_errors = host->counter(inst, "write_errors", "failed file writes");
    c->c_filtered = host->counter(inst, "preprocess_filtered",
                                  "aggregates dropped by print_preprocess");
    if (!c->c_purges || !c->c_rows || !c->c_files || !c->c_errors ||
        !c->c_filtered) {
        err = -ENOMEM;
        goto fail;
    }

    c->refresh = cfg->refresh_time;
    {
        uint64_t now;
        now_secs(c, &now);
        c->next_purge = now + c->refresh;
        if (cc.roundoff)
            c->next_purge -= c->next_purge % c->refresh;
        if (c->next_purge <= now)
            c->next_purge += c->refresh;
        c->next_purge += cfg->startup_delay;
    }
    *ctxp = c;
    return 0;
fail:
    print_fini(c);
    return err;
}

static int print_process(void *vctx, struct pm_batch *b)
{
    struct print_ctx *c = vctx;
    int rc = c->host->cache_add(c->cache, b);
    if (rc < 0)
        return rc;
    if (c->max_aggr && c->host->cache_count(c->cache) >= c->max_aggr) {
        PM_INFO(c->host, c->inst,
                "Finished cache entries (ie. print_cache_entries). "
                "Purging.");
        purge(c);
    }
    return 0;
}

static int print_tick(void *vctx, const pm_ts_t *now)
{
    struct print_ctx *c = vctx;
    int rc = 0;
    if (c->nchildren)
        reap(c);
    if (now->sec >= c->next_purge) {
        rc = purge(c);
        while (c->next_purge <= now->sec)
            c->next_purge += c->refresh;
    }
    return rc;
}

static int print_flush(void *vctx, int reason)
{
    struct print_ctx *c = vctx;
    (void)reason;
    return purge(c);
}

static void print_fini(void *vctx)
{
    struct print_ctx *c = vctx;
    if (!c)
        return;
    reap(c);
    if (c->render)
        c->host->render_free(c->render);
    if (c->cache)
        c->host->cache_free(c->cache);
    files_reset(c);
    free(c->files);
    if (c->pp)
        c->host->preproc_free(c->pp);
    free(c);
}

static const struct pm_module_desc print_desc = {
    PM_MODULE_HEAD(PM_KIND_OUTPUT),
    .name = "print",
    .version = "1.0",
    .summary = "formatted/CSV/JSON output to files or stdout",
    .flags = 0,
    .order = 0,
    .options = print_options,
    .config_size = sizeof(struct print_config),
    .init = print_init,
    .process = print_process,
    .tick = print_tick,
    .flush = print_flush,
    .fini = print_fini,
};

PM_MODULE_EXPORT(print_desc)
