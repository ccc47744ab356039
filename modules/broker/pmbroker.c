/*
 * pmbroker.c - the delivery queue of the broker outputs: at-least-once
 * publishing on a module thread, a bounded memory buffer, a disk spool.
 *
 * Order is kept: messages in memory are older than those in the spool, so
 * while the spool holds anything new messages are appended to it too; the
 * worker sends memory first, then loads the oldest spool segment.
 *
 * Spool: files "<seq>.spool" (16 hex digits) in spool_dir, each a sequence
 * of records  u32 dlen | u32 klen | u32 plen | dest | key | payload  (host
 * order).  A loaded segment is unlinked once all its messages are
 * delivered; at shutdown, undelivered messages are written to a segment
 * numbered before every other one, then the partly sent segment removed.
 *
 * Threads: q->lock guards the memory list, the spool bookkeeping and the
 * writer segment; the worker calls ops->send without the lock.  Counters
 * are atomics.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pmbroker.h"

#define SEG_MAX (8u << 20)     /* rotate the writer segment past this */
#define REC_MAX (256u << 20)   /* a record longer than this is corrupt */
#define SEQ_BASE 0x100000000ull /* first sequence number (room below) */

struct pmb {
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct pmb_ops ops;
    void *ud;
    struct pmb_cfg cfg;
    char *spool_dir;

    pthread_mutex_t lock;
    pthread_cond_t cond; /* worker: work or quit; drain: progress */
    pthread_t thread;
    int started;
    int quit;  /* worker exits */
    int abort; /* send() returns quickly */

    struct pmb_msg *head, *tail; /* memory list, oldest first */
    uint64_t mem_bytes, mem_count;
    uint32_t in_flight; /* taken by the worker, not yet settled */
    uint64_t spool_count; /* messages in spool segments not loaded */
    uint64_t seq_min, seq_max; /* segments on disk: [seq_min, seq_max] */
    int nsegs;
    int wfd;           /* writer segment (seq_max), -1: none */
    uint64_t wbytes;
    uint64_t loaded_seq; /* segment being sent (0: none) */
    uint64_t loaded_left;

    uint64_t *c_pending, *c_delivered, *c_failed, *c_spooled;
};

static void msgs_free(struct pmb_msg *m)
{
    while (m) {
        struct pmb_msg *n = m->next;
        free(m);
        m = n;
    }
}

struct pmb_msg *pmb_msg_new(const char *dest, size_t dlen, const char *key,
                            size_t klen, const char *payload, size_t plen)
{
    struct pmb_msg *m = malloc(sizeof(*m) + dlen + klen + plen + 3);
    if (!m)
        return NULL;
    m->next = NULL;
    m->dlen = (uint32_t)dlen;
    m->klen = (uint32_t)klen;
    m->plen = (uint32_t)plen;
    m->seg = 0;
    char *p = m->data;
    memcpy(p, dest, dlen);
    p[dlen] = 0;
    p += dlen + 1;
    if (klen)
        memcpy(p, key, klen);
    p[klen] = 0;
    p += klen + 1;
    if (plen)
        memcpy(p, payload, plen);
    p[plen] = 0;
    return m;
}

static size_t msg_bytes(const struct pmb_msg *m)
{
    return sizeof(*m) + m->dlen + m->klen + m->plen + 3;
}

static void pending_update(struct pmb *q)
{
    __atomic_store_n(q->c_pending, q->mem_count + q->spool_count + q->in_flight,
                     __ATOMIC_RELAXED);
}

/* ---- spool files ---------------------------------------------------- */

static void seg_path(const struct pmb *q, uint64_t seq, char *out, size_t n)
{
    snprintf(out, n, "%s/%016llx.spool", q->spool_dir, (unsigned long long)seq);
}

static int write_full(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int rec_write(int fd, const struct pmb_msg *m)
{
    uint32_t h[3] = {m->dlen, m->klen, m->plen};
    int rc = write_full(fd, h, sizeof(h));
    if (!rc)
        rc = write_full(fd, m->data, m->dlen);
    if (!rc)
        rc = write_full(fd, m->data + m->dlen + 1, m->klen);
    if (!rc)
        rc = write_full(fd, pmb_payload(m), m->plen);
    return rc;
}

/* Append m to the writer segment (lock held).  0 or -errno. */
static int spool_append(struct pmb *q, struct pmb_msg *m)
{
    char path[4096];
    int rc;
    if (q->wfd >= 0 && q->wbytes >= SEG_MAX) {
        close(q->wfd);
        q->wfd = -1;
    }
    if (q->wfd < 0) {
        uint64_t seq = q->nsegs ? q->seq_max + 1 : SEQ_BASE;
        seg_path(q, seq, path, sizeof(path));
        q->wfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (q->wfd < 0)
            return -errno;
        if (!q->nsegs)
            q->seq_min = seq;
        q->seq_max = seq;
        q->nsegs++;
        q->wbytes = 0;
    }
    if ((rc = rec_write(q->wfd, m)) < 0)
        return rc;
    q->wbytes += 12 + m->dlen + m->klen + m->plen;
    q->spool_count++;
    pm_counter_add(q->c_spooled, 1);
    return 0;
}

/* Parse a segment file into a message chain; *n messages. */
static int seg_load(struct pmb *q, const char *path, uint32_t tag,
                    struct pmb_msg **head, struct pmb_msg **tail, uint64_t *n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    int rc = 0;
    *head = *tail = NULL;
    *n = 0;
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || !(buf = malloc((size_t)st.st_size + 1))) {
        rc = -ENOMEM;
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    size_t off = 0;
    while (off + 12 <= got) {
        uint32_t h[3];
        memcpy(h, buf + off, 12);
        uint64_t len = (uint64_t)h[0] + h[1] + h[2];
        if (len > REC_MAX || off + 12 + len > got)
            break;
        const char *d = buf + off + 12;
        struct pmb_msg *m =
            pmb_msg_new(d, h[0], d + h[0], h[1], d + h[0] + h[1], h[2]);
        if (!m) {
            rc = -ENOMEM;
            break;
        }
        m->seg = tag;
        if (*tail)
            (*tail)->next = m;
        else
            *head = m;
        *tail = m;
        (*n)++;
        off += 12 + len;
    }
    if (off != got && rc == 0)
        q->host->log(q->inst, PM_LOG_WARNING,
                     "spool %s: %zu bytes of a truncated record ignored", path,
                     got - off);
out:
    free(buf);
    close(fd);
    return rc;
}

/* Count the messages of a segment without keeping them. */
static uint64_t seg_count(struct pmb *q, const char *path)
{
    struct pmb_msg *h, *t;
    uint64_t n = 0;
    if (seg_load(q, path, 0, &h, &t, &n) == 0)
        msgs_free(h);
    return n;
}

static int spool_scan(struct pmb *q)
{
    DIR *d;
    struct dirent *e;
    if (mkdir(q->spool_dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    if (!(d = opendir(q->spool_dir)))
        return -errno;
    while ((e = readdir(d))) {
        unsigned long long seq;
        char tail[8];
        if (strlen(e->d_name) != 22 ||
            sscanf(e->d_name, "%16llx.%6s", &seq, tail) != 2 ||
            strcmp(tail, "spool"))
            continue;
        if (!q->nsegs || seq < q->seq_min)
            q->seq_min = seq;
        if (!q->nsegs || seq > q->seq_max)
            q->seq_max = seq;
        q->nsegs++;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", q->spool_dir, e->d_name);
        q->spool_count += seg_count(q, path);
    }
    closedir(d);
    if (q->nsegs)
        q->host->log(q->inst, PM_LOG_INFO,
                     "spool %s: %llu messages of an earlier run to send first",
                     q->spool_dir, (unsigned long long)q->spool_count);
    return 0;
}

/* Lock held: next existing segment >= seq_min (gaps are skipped). */
static int spool_next(struct pmb *q, uint64_t *seq)
{
    char path[4096];
    for (uint64_t s = q->seq_min; s <= q->seq_max; s++) {
        seg_path(q, s, path, sizeof(path));
        if (access(path, F_OK) == 0) {
            *seq = s;
            return 0;
        }
        q->seq_min = s + 1;
    }
    q->nsegs = 0;
    return -ENOENT;
}

static void seg_done(struct pmb *q)
{
    char path[4096];
    seg_path(q, q->loaded_seq, path, sizeof(path));
    unlink(path);
    q->loaded_seq = 0;
    q->loaded_left = 0;
}

/* ---- worker ----------------------------------------------------------- */

static void deadline_in(struct timespec *ts, uint64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *worker(void *arg)
{
    struct pmb *q = arg;
    uint32_t bmax = q->cfg.batch_max ? q->cfg.batch_max : 1000;
    struct pmb_msg **v = calloc(bmax, sizeof(*v));
    int *st = calloc(bmax, sizeof(*st));
    uint64_t backoff = 0;
    if (!v || !st) {
        free(v);
        free(st);
        return NULL;
    }
    pthread_mutex_lock(&q->lock);
    while (!q->quit) {
        if (!q->head && q->nsegs && !q->loaded_seq) {
            uint64_t seq;
            if (spool_next(q, &seq) == 0) {
                char path[4096];
                struct pmb_msg *h, *t;
                uint64_t n;
                if (seq == q->seq_max && q->wfd >= 0) {
                    close(q->wfd);
                    q->wfd = -1;
                }
                seg_path(q, seq, path, sizeof(path));
                if (seg_load(q, path, 1, &h, &t, &n) == 0) {
                    q->seq_min = seq + 1;
                    if (q->seq_min > q->seq_max)
                        q->nsegs = 0;
                    q->spool_count -= n < q->spool_count ? n : q->spool_count;
                    q->loaded_seq = seq;
                    q->loaded_left = n;
                    if (n) {
                        q->head = h;
                        q->tail = t;
                        q->mem_count += n;
                        for (struct pmb_msg *m = h; m; m = m->next)
                            q->mem_bytes += msg_bytes(m);
                    } else {
                        seg_done(q);
                    }
                } else {
                    q->seq_min = seq + 1;
                }
                continue;
            }
        }
        if (!q->head) {
            pthread_cond_broadcast(&q->cond);
            pthread_cond_wait(&q->cond, &q->lock);
            continue;
        }
        size_t n = 0;
        while (q->head && n < bmax) {
            v[n++] = q->head;
            q->head = q->head->next;
        }
        if (!q->head)
            q->tail = NULL;
        q->in_flight = (uint32_t)n;
        q->mem_count -= n;
        pthread_mutex_unlock(&q->lock);

        for (size_t i = 0; i < n; i++) {
            v[i]->next = NULL;
            st[i] = -EIO;
        }
        int rc = q->ops.send(q->ud, q, v, n, st);

        pthread_mutex_lock(&q->lock);
        /* failed ones go back to the head, in order */
        struct pmb_msg *fh = NULL, *ft = NULL;
        size_t ok = 0;
        for (size_t i = 0; i < n; i++) {
            if (st[i] == 0) {
                ok++;
                q->mem_bytes -= msg_bytes(v[i]);
                if (v[i]->seg && q->loaded_left)
                    q->loaded_left--;
                free(v[i]);
            } else {
                if (ft)
                    ft->next = v[i];
                else
                    fh = v[i];
                ft = v[i];
            }
        }
        if (ft) {
            ft->next = q->head;
            q->head = fh;
            if (!q->tail)
                q->tail = ft;
            q->mem_count += n - ok;
        }
        q->in_flight = 0;
        pm_counter_add(q->c_delivered, ok);
        if (q->loaded_seq && q->loaded_left == 0)
            seg_done(q);
        pending_update(q);
        pthread_cond_broadcast(&q->cond);
        if (ok == n) {
            backoff = 0;
            continue;
        }
        /* back off: 100 ms doubling to 5 s, woken early by quit */
        backoff = backoff ? (backoff * 2 > 5000 ? 5000 : backoff * 2) : 100;
        if (rc < 0 || ok < n)
            q->host->log_limited(q->inst, PM_LOG_WARNING, "pmb-retry",
                                 "%zu of %zu messages not delivered (%s); "
                                 "retrying in %llu ms",
                                 n - ok, n, strerror(rc < 0 ? -rc : EIO),
                                 (unsigned long long)backoff);
        if (!q->quit) {
            struct timespec ts;
            deadline_in(&ts, backoff);
            pthread_cond_timedwait(&q->cond, &q->lock, &ts);
        }
    }
    pthread_mutex_unlock(&q->lock);
    free(v);
    free(st);
    return NULL;
}

/* ---- API ---------------------------------------------------------------- */

int pmb_new(const struct pm_host *host, const struct pm_instance *inst,
            const struct pmb_ops *ops, void *ud, const struct pmb_cfg *cfg,
            struct pmb **out)
{
    struct pmb *q = calloc(1, sizeof(*q));
    pthread_condattr_t ca;
    int rc;
    if (!q)
        return -ENOMEM;
    q->host = host;
    q->inst = inst;
    q->ops = *ops;
    q->ud = ud;
    q->cfg = *cfg;
    q->wfd = -1;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    q->c_pending = host->counter(inst, "pending", "messages not yet delivered");
    q->c_delivered =
        host->counter(inst, "delivered", "messages confirmed by the broker");
    q->c_failed = host->counter(inst, "failed", "messages given up (lost)");
    q->c_spooled = host->counter(inst, "spooled", "messages written to the spool");
    if (!q->c_pending || !q->c_delivered || !q->c_failed || !q->c_spooled) {
        rc = -ENOMEM;
        goto fail;
    }
    if (cfg->spool_dir) {
        q->spool_dir = strdup(cfg->spool_dir);
        if (!q->spool_dir) {
            rc = -ENOMEM;
            goto fail;
        }
        q->cfg.spool_dir = q->spool_dir;
        if ((rc = spool_scan(q)) < 0) {
            host->log(inst, PM_LOG_ERR, "spool_dir %s: %s", q->spool_dir,
                      strerror(-rc));
            goto fail;
        }
        pending_update(q);
    }
    if ((rc = -pthread_create(&q->thread, NULL, worker, q)) < 0)
        goto fail;
    q->started = 1;
    *out = q;
    return 0;
fail:
    pmb_free(q);
    return rc;
}

int pmb_submit(struct pmb *q, struct pmb_msg *head, size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&q->lock);
    while (head) {
        struct pmb_msg *m = head;
        head = head->next;
        m->next = NULL;
        size_t sz = msg_bytes(m);
        if (q->nsegs || q->mem_bytes + sz > q->cfg.spool_mem) {
            if (!q->spool_dir) {
                /* no spool: the newest message is lost, counted */
                pm_counter_add(q->c_failed, 1);
                q->host->log_limited(q->inst, PM_LOG_WARNING, "pmb-full",
                                     "delivery buffer full (%llu bytes) and "
                                     "no spool_dir: message dropped",
                                     (unsigned long long)q->mem_bytes);
                free(m);
                rc = -ENOBUFS;
                continue;
            }
            int wr = spool_append(q, m);
            if (wr < 0) {
                pm_counter_add(q->c_failed, 1);
                q->host->log_limited(q->inst, PM_LOG_ERR, "pmb-spool",
                                     "spool %s: %s: message dropped",
                                     q->spool_dir, strerror(-wr));
                rc = wr;
            }
            free(m);
            continue;
        }
        if (q->tail)
            q->tail->next = m;
        else
            q->head = m;
        q->tail = m;
        q->mem_bytes += sz;
        q->mem_count++;
    }
    (void)n;
    pending_update(q);
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    return rc;
}

uint64_t pmb_pending(struct pmb *q)
{
    uint64_t n;
    pthread_mutex_lock(&q->lock);
    n = q->mem_count + q->spool_count + q->in_flight;
    pthread_mutex_unlock(&q->lock);
    return n;
}

uint64_t pmb_drain(struct pmb *q, uint64_t timeout_ms)
{
    struct timespec ts;
    uint64_t n;
    deadline_in(&ts, timeout_ms);
    pthread_mutex_lock(&q->lock);
    while ((n = q->mem_count + q->spool_count + q->in_flight) > 0) {
        if (pthread_cond_timedwait(&q->cond, &q->lock, &ts) == ETIMEDOUT) {
            n = q->mem_count + q->spool_count + q->in_flight;
            break;
        }
    }
    pthread_mutex_unlock(&q->lock);
    return n;
}

int pmb_aborting(const struct pmb *q)
{
    return __atomic_load_n(&q->abort, __ATOMIC_RELAXED);
}

/* Persist the memory list (lock not needed: the worker is gone). */
static void persist(struct pmb *q)
{
    uint64_t n = q->mem_count;
    if (!n)
        return;
    if (!q->spool_dir) {
        pm_counter_add(q->c_failed, n);
        q->host->log(q->inst, PM_LOG_ERR,
                     "%llu messages could not be delivered and are lost "
                     "(set the *_spool_dir key to keep them)",
                     (unsigned long long)n);
        return;
    }
    char path[4096], tmp[4200];
    uint64_t seq = q->nsegs ? q->seq_min - 1 : SEQ_BASE;
    if (q->loaded_seq && q->loaded_seq <= seq)
        seq = q->loaded_seq - 1;
    if (q->wfd >= 0) {
        close(q->wfd);
        q->wfd = -1;
    }
    seg_path(q, seq, path, sizeof(path));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = fd < 0 ? -errno : 0;
    for (struct pmb_msg *m = q->head; m && rc == 0; m = m->next)
        rc = rec_write(fd, m);
    if (fd >= 0 && (fsync(fd) < 0 || close(fd) < 0) && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0) {
        unlink(tmp);
        pm_counter_add(q->c_failed, n);
        q->host->log(q->inst, PM_LOG_ERR, "spool %s: %s: %llu messages lost",
                     path, strerror(-rc), (unsigned long long)n);
        return;
    }
    if (q->loaded_seq)
        seg_done(q); /* its undelivered part is in the new segment */
    pm_counter_add(q->c_spooled, n);
    q->host->log(q->inst, PM_LOG_INFO,
                 "%llu undelivered messages kept in %s for the next start",
                 (unsigned long long)n, path);
}

void pmb_free(struct pmb *q)
{
    if (!q)
        return;
    if (q->started) {
        pthread_mutex_lock(&q->lock);
        q->quit = 1;
        __atomic_store_n(&q->abort, 1, __ATOMIC_RELAXED);
        pthread_cond_broadcast(&q->cond);
        pthread_mutex_unlock(&q->lock);
        pthread_join(q->thread, NULL);
        persist(q);
    }
    if (q->wfd >= 0)
        close(q->wfd);
    msgs_free(q->head);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q->spool_dir);
    free(q);
}
