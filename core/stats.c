/*
 * stats.c - the daemon's counter registry.  host->counter() registers a
 * named uint64_t per (module, instance, name) and returns a pointer that
 * stays valid for the daemon's life (counters live in fixed chunks that
 * are never moved or freed before stats_reset).  stats_render prints them
 * all as `pmacct_<module>_<name>{instance="x"} N` lines.
 *
 * Shared between threads: registration and rendering take a mutex; the
 * counters themselves are updated with relaxed atomics by their owners.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pmd.h"
#include "pmdata.h"

#define CHUNK 256

struct counter {
    uint64_t value; /* first: the pointer handed out */
    char *module;
    char *instance;
    char *name;
    char *help;
};

struct chunk {
    struct counter c[CHUNK];
    unsigned n;
    struct chunk *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct chunk *head, *tail;

static struct counter *find(const char *module, const char *instance,
                            const char *name)
{
    struct chunk *ch;
    unsigned i;
    for (ch = head; ch; ch = ch->next)
        for (i = 0; i < ch->n; i++) {
            struct counter *c = &ch->c[i];
            if (!strcmp(c->module, module) && !strcmp(c->instance, instance) &&
                !strcmp(c->name, name))
                return c;
        }
    return NULL;
}

static void sanitize(char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_'))
            *s = '_';
}

uint64_t *stats_counter(const char *module, const char *instance,
                        const char *name, const char *help)
{
    struct counter *c;
    char *m = strdup(module ? module : "core"), *n = strdup(name);
    uint64_t *ret = NULL;
    if (!m || !n)
        goto out;
    sanitize(m);
    sanitize(n);
    if (!instance)
        instance = "";
    pthread_mutex_lock(&mu);
    c = find(m, instance, n);
    if (!c) {
        if (!tail || tail->n == CHUNK) {
            struct chunk *ch = calloc(1, sizeof(*ch));
            if (!ch) {
                pthread_mutex_unlock(&mu);
                goto out;
            }
            if (tail)
                tail->next = ch;
            else
                head = ch;
            tail = ch;
        }
        c = &tail->c[tail->n];
        c->module = m;
        c->name = n;
        c->instance = strdup(instance);
        c->help = help ? strdup(help) : NULL;
        m = n = NULL;
        tail->n++;
    }
    ret = &c->value;
    pthread_mutex_unlock(&mu);
out:
    free(m);
    free(n);
    return ret;
}

int64_t stats_get(const char *module, const char *instance, const char *name)
{
    struct counter *c;
    int64_t v = -1;
    pthread_mutex_lock(&mu);
    c = find(module, instance, name);
    if (c)
        v = (int64_t)pm_counter_get(&c->value);
    pthread_mutex_unlock(&mu);
    return v;
}

int stats_render(struct pm_buf *out, int prometheus)
{
    struct chunk *ch;
    unsigned i;
    int rc = 0;
    pthread_mutex_lock(&mu);
    for (ch = head; ch && rc == 0; ch = ch->next)
        for (i = 0; i < ch->n && rc == 0; i++) {
            struct counter *c = &ch->c[i];
            uint64_t v = pm_counter_get(&c->value);
            if (prometheus)
                rc = pmc_buf_printf(out, "pmacct_%s_%s{instance=\"%s\"} %llu\n",
                                    c->module, c->name, c->instance,
                                    (unsigned long long)v);
            else
                rc = pmc_buf_printf(out, "%s.%s.%s %llu\n", c->module,
                                    c->instance, c->name,
                                    (unsigned long long)v);
        }
    pthread_mutex_unlock(&mu);
    return rc < 0 ? rc : 0;
}

void stats_reset(void)
{
    struct chunk *ch, *next;
    unsigned i;
    pthread_mutex_lock(&mu);
    for (ch = head; ch; ch = next) {
        next = ch->next;
        for (i = 0; i < ch->n; i++) {
            free(ch->c[i].module);
            free(ch->c[i].instance);
            free(ch->c[i].name);
            free(ch->c[i].help);
        }
        free(ch);
    }
    head = tail = NULL;
    pthread_mutex_unlock(&mu);
}
