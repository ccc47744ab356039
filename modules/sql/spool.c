/*
 * spool.c - rows waiting for the database: chunks (rows of one table,
 * values serialised as length-prefixed text) in a FIFO bounded by a row
 * count.  Beyond the memory bound, with sql_spool_dir, a chunk's payload
 * is written to a file in that directory and read back when its turn
 * comes; without it the chunk is refused (the caller counts the drop).
 * A chunk leaves the spool only through sql_spool_pop(), called by the
 * writer after the chunk's transaction committed.
 *
 * Threads: the pipeline thread pushes, the writer thread peeks and pops;
 * everything under s->mu.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sql.h"

struct sql_chunk *sql_chunk_new(const char *table)
{
    struct sql_chunk *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->table = strdup(table);
    if (!c->table) {
        free(c);
        return NULL;
    }
    return c;
}

void sql_chunk_free(struct sql_chunk *c)
{
    if (!c)
        return;
    if (c->path) {
        unlink(c->path);
        free(c->path);
    }
    sql_chunk_free(c->second);
    free(c->table);
    free(c->data);
    free(c);
}

static int chunk_reserve(struct sql_chunk *c, size_t more)
{
    if (c->len + more <= c->cap)
        return 0;
    size_t nc = c->cap ? c->cap * 2 : 4096;
    while (nc < c->len + more)
        nc *= 2;
    char *p = realloc(c->data, nc);
    if (!p)
        return -ENOMEM;
    c->data = p;
    c->cap = nc;
    return 0;
}

int sql_chunk_add(struct sql_chunk *c, const char *v, size_t len)
{
    uint32_t l = (uint32_t)len;
    if (len >= UINT32_MAX)
        return -E2BIG;
    if (chunk_reserve(c, 4 + len) < 0)
        return -ENOMEM;
    memcpy(c->data + c->len, &l, 4);
    memcpy(c->data + c->len + 4, v, len);
    c->len += 4 + len;
    return 0;
}

int sql_chunk_add_raw(struct sql_chunk *c, const char *p, size_t len)
{
    if (chunk_reserve(c, len) < 0)
        return -ENOMEM;
    memcpy(c->data + c->len, p, len);
    c->len += len;
    return 0;
}

int sql_chunk_add_null(struct sql_chunk *c)
{
    uint32_t l = UINT32_MAX;
    if (chunk_reserve(c, 4) < 0)
        return -ENOMEM;
    memcpy(c->data + c->len, &l, 4);
    c->len += 4;
    return 0;
}

int sql_chunk_next(const struct sql_chunk *c, size_t *pos, const char **v,
                   int *len)
{
    uint32_t l;
    if (*pos + 4 > c->len)
        return 0;
    memcpy(&l, c->data + *pos, 4);
    *pos += 4;
    if (l == UINT32_MAX) {
        *v = NULL;
        *len = 0;
        return 1;
    }
    if (*pos + l > c->len)
        return 0;
    *v = c->data + *pos;
    *len = (int)l;
    *pos += l;
    return 1;
}

int sql_spool_init(struct sql_spool *s, uint64_t max_rows, const char *dir)
{
    memset(s, 0, sizeof(*s));
    s->max_rows = max_rows ? max_rows : 1;
    s->dir = dir;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_cond_init(&s->drained, NULL);
    return 0;
}

void sql_spool_destroy(struct sql_spool *s)
{
    struct sql_chunk *c = s->head;
    while (c) {
        struct sql_chunk *n = c->next;
        sql_chunk_free(c);
        c = n;
    }
    s->head = s->tail = NULL;
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->drained);
}

/* Write c's payload to a file of the spool dir; frees the payload. */
static int spill(struct sql_spool *s, struct sql_chunk *c)
{
    char path[4096];
    int fd;
    snprintf(path, sizeof(path), "%s/pmacct-sql-%d-%llu.spool", s->dir,
             (int)getpid(), (unsigned long long)++s->seq);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    size_t off = 0;
    while (off < c->len) {
        ssize_t w = write(fd, c->data + off, c->len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = -errno;
            close(fd);
            unlink(path);
            return e;
        }
        off += (size_t)w;
    }
    if (close(fd) < 0) {
        int e = -errno;
        unlink(path);
        return e;
    }
    c->path = strdup(path);
    if (!c->path) {
        unlink(path);
        return -ENOMEM;
    }
    free(c->data);
    c->data = NULL;
    c->cap = 0;
    c->on_disk = 1;
    return 0;
}

static int unspill(struct sql_chunk *c)
{
    int fd = open(c->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    c->data = malloc(c->len ? c->len : 1);
    if (!c->data) {
        close(fd);
        return -ENOMEM;
    }
    size_t off = 0;
    while (off < c->len) {
        ssize_t r = read(fd, c->data + off, c->len - off);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            close(fd);
            free(c->data);
            c->data = NULL;
            return r < 0 ? -errno : -EIO;
        }
        off += (size_t)r;
    }
    close(fd);
    c->cap = c->len;
    c->on_disk = 0;
    unlink(c->path);
    free(c->path);
    c->path = NULL;
    return 0;
}

int sql_spool_push(struct sql_spool *s, struct sql_chunk *c)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    if (s->mem_rows + c->nrows > s->max_rows && s->mem_rows > 0) {
        if (!s->dir || (rc = spill(s, c)) < 0) {
            pthread_mutex_unlock(&s->mu);
            return rc < 0 ? rc : -ENOSPC;
        }
    }
    c->next = NULL;
    if (s->tail)
        s->tail->next = c;
    else
        s->head = c;
    s->tail = c;
    s->rows += c->nrows;
    if (!c->on_disk)
        s->mem_rows += c->nrows;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

struct sql_chunk *sql_spool_peek(struct sql_spool *s)
{
    struct sql_chunk *c;
    pthread_mutex_lock(&s->mu);
    c = s->head;
    if (c && c->on_disk) {
        if (unspill(c) < 0)
            c = NULL; /* caller retries later */
        else
            s->mem_rows += c->nrows;
    }
    pthread_mutex_unlock(&s->mu);
    return c;
}

void sql_spool_pop(struct sql_spool *s)
{
    struct sql_chunk *c;
    pthread_mutex_lock(&s->mu);
    c = s->head;
    if (c) {
        s->head = c->next;
        if (!s->head)
            s->tail = NULL;
        s->rows -= c->nrows;
        if (!c->on_disk)
            s->mem_rows -= c->nrows;
    }
    if (!s->head)
        pthread_cond_broadcast(&s->drained);
    pthread_mutex_unlock(&s->mu);
    sql_chunk_free(c);
}

uint64_t sql_spool_rows(struct sql_spool *s)
{
    uint64_t r;
    pthread_mutex_lock(&s->mu);
    r = s->rows;
    pthread_mutex_unlock(&s->mu);
    return r;
}
