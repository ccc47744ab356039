/*
 * print_write.c - the print output's writing side: lines rendered by the
 * core (event_* variants strip the counters), files written in one
 * buffered write through a temp file + rename (unless appending), Avro
 * object container files (print_output: avro), print_latest_file links and
 * print_trigger_exec children (posix_spawn, reaped from tick()).
 *
 * Threads: the pipeline thread only (see print.h).
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

#include "print.h"
#ifdef PM_HAVE_AVRO
#include "../common/avro/pmavro.h"
#endif

extern char **environ;

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

int print_render_line(struct print_ctx *c, const struct pm_row *row,
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

/* Marker and header text before the rows of a file. */
static int file_prefix(struct print_ctx *c, struct pm_buf *o, int header)
{
    if (c->avro)
        return 0; /* Avro JSON: no markers, no header */
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
        return print_render_line(c, NULL, o);
    return 0;
}

static int file_suffix(struct print_ctx *c, struct pm_buf *o, uint64_t duration)
{
    if (c->avro)
        return 0;
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

int print_now_secs(struct print_ctx *c, uint64_t *s)
{
    pm_ts_t ts;
    c->host->now(c->inst, &ts);
    *s = ts.sec;
    return 0;
}

/* Write one file: prefix (markers, header), rows, suffix. */
int print_file_write(struct print_ctx *c, struct pfile *f, uint64_t t0)
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

#ifdef PM_HAVE_AVRO
    if (c->avro && !c->avro_json && !is_stdout) {
        /* print_output avro: an object container file (schema in its
         * header); appended to when print_output_file_append finds one */
        char aerr[256];
        int app = c->cfg->append && !direct && !header, tofd = fd;
        fd = -1; /* closed by pm_avro_write_file */
        rc = pm_avro_write_file(c->avro, f->name, tofd, app, &f->rows, aerr,
                                sizeof(aerr));
        if (rc < 0) {
            PM_ERR(c->host, c->inst, "print_output_file %s: Avro: %s", f->name,
                   aerr);
            if (!c->cfg->append && !direct)
                unlink(tmpl);
            goto fail;
        }
        c->purged_total += f->nrows;
        if (!c->cfg->append && !direct && rename(tmpl, f->name) < 0) {
            rc = -errno;
            unlink(tmpl);
            PM_ERR(c->host, c->inst, "print: rename %s -> %s: %s", tmpl,
                   f->name, strerror(-rc));
            goto fail;
        }
        pm_counter_add(c->c_files, 1);
        goto fail;
    }
#endif
    c->purged_total += f->nrows;
    if ((rc = file_prefix(c, &pre, header)) < 0)
        goto fail;
    print_now_secs(c, &t1);
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
void print_latest_update(struct print_ctx *c, struct pfile *f)
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

void print_trigger(struct print_ctx *c)
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

void print_reap(struct print_ctx *c)
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
