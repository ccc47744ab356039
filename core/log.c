/*
 * log.c - the daemon's log: stderr by default, a file (`logfile`, opened
 * O_APPEND, reopened on SIGHUP) or syslog (`syslog: facility`).  Lines are
 * `<LEVEL> [<kind>:<module>:<instance>] message`, core lines `[core]`; a
 * file also gets a timestamp in front.  log_limited keeps at most
 * LIMIT_BURST lines per minute per key and later reports how many were
 * suppressed.
 *
 * Shared between threads: the sink (fd / syslog flag) is swapped under a
 * mutex; each line is written with one write(2).  The rate-limit table has
 * its own mutex (only touched on the limited path).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "pmd.h"

#define LIMIT_BURST 10
#define LIMIT_WINDOW 60
#define LIMIT_SLOTS 128

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = 2;
static char *log_path;
static int use_syslog;
static int debug_on;
static char *cap_buf;
static size_t cap_len;

struct limit_slot {
    char key[96];
    time_t window;
    unsigned count;
    unsigned suppressed;
    const struct pm_instance *inst;
    int level;
};
static pthread_mutex_t lim_mu = PTHREAD_MUTEX_INITIALIZER;
static struct limit_slot slots[LIMIT_SLOTS];

static const char *lvl_name(int level)
{
    switch (level) {
    case PM_LOG_ERR: return "ERROR";
    case PM_LOG_WARNING: return "WARN";
    case PM_LOG_NOTICE: return "NOTICE";
    case PM_LOG_INFO: return "INFO";
    case PM_LOG_DEBUG: return "DEBUG";
    default: return level < PM_LOG_ERR ? "CRIT" : "DEBUG";
    }
}

void log_init_stderr(void)
{
    pthread_mutex_lock(&log_mu);
    if (log_fd > 2)
        close(log_fd);
    log_fd = 2;
    pthread_mutex_unlock(&log_mu);
}

int log_open_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    pthread_mutex_lock(&log_mu);
    if (log_fd > 2)
        close(log_fd);
    log_fd = fd;
    free(log_path);
    log_path = strdup(path);
    pthread_mutex_unlock(&log_mu);
    return 0;
}

static const struct {
    const char *name;
    int fac;
} facilities[] = {
    {"auth", LOG_AUTH},     {"mail", LOG_MAIL},     {"daemon", LOG_DAEMON},
    {"kern", LOG_KERN},     {"user", LOG_USER},     {"local0", LOG_LOCAL0},
    {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
    {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6},
    {"local7", LOG_LOCAL7}, {"syslog", LOG_SYSLOG},
};

int log_open_syslog(const char *facility)
{
    size_t i;
    for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
        if (!strcasecmp(facility, facilities[i].name)) {
            openlog("pmacctd", LOG_PID | LOG_NDELAY, facilities[i].fac);
            pthread_mutex_lock(&log_mu);
            use_syslog = 1;
            pthread_mutex_unlock(&log_mu);
            return 0;
        }
    return -EINVAL;
}

void log_reopen(void)
{
    pthread_mutex_lock(&log_mu);
    if (log_path) {
        int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                      0644);
        if (fd >= 0) {
            if (log_fd > 2)
                close(log_fd);
            log_fd = fd;
        }
    }
    pthread_mutex_unlock(&log_mu);
}

void log_set_debug(int on) { debug_on = on; }

void log_close(void)
{
    pthread_mutex_lock(&log_mu);
    if (log_fd > 2)
        close(log_fd);
    log_fd = 2;
    free(log_path);
    log_path = NULL;
    if (use_syslog)
        closelog();
    use_syslog = 0;
    pthread_mutex_unlock(&log_mu);
}

void log_capture(char *buf, size_t len)
{
    pthread_mutex_lock(&log_mu);
    cap_buf = buf;
    cap_len = len;
    if (buf && len)
        buf[0] = 0;
    pthread_mutex_unlock(&log_mu);
}

static void emit(int level, const char *tag, const char *fmt, va_list ap,
                 int force)
{
    char line[2048];
    int off, n;
    if (level >= PM_LOG_DEBUG && !debug_on && !force)
        return;
    off = snprintf(line, sizeof(line), "%s [%s] ", lvl_name(level), tag);
    n = vsnprintf(line + off, sizeof(line) - (size_t)off - 1, fmt, ap);
    if (n < 0)
        n = 0;
    off += n;
    if ((size_t)off > sizeof(line) - 2)
        off = (int)sizeof(line) - 2;
    while (off > 0 && line[off - 1] == '\n')
        off--;
    line[off++] = '\n';
    line[off] = 0;

    pthread_mutex_lock(&log_mu);
    if (cap_buf) {
        size_t have = strlen(cap_buf);
        if (have + (size_t)off < cap_len)
            memcpy(cap_buf + have, line, (size_t)off + 1);
    }
    if (use_syslog) {
        syslog(level, "%.*s", off - 1, line);
    } else if (log_fd > 2) {
        char ts[64], out[2200];
        struct tm tm;
        time_t t = time(NULL);
        int m;
        localtime_r(&t, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S%z", &tm);
        m = snprintf(out, sizeof(out), "%s %s", ts, line);
        if (m > (int)sizeof(out) - 1)
            m = (int)sizeof(out) - 1;
        if (write(log_fd, out, (size_t)m) < 0) { /* nowhere to report */
        }
    } else {
        if (write(2, line, (size_t)off) < 0) {
        }
    }
    pthread_mutex_unlock(&log_mu);
}

void log_core(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(level, "core", fmt, ap, 0);
    va_end(ap);
}

static void make_tag(const struct pm_instance *inst, char *tag, size_t len)
{
    if (!inst)
        snprintf(tag, len, "core");
    else
        snprintf(tag, len, "%s:%s:%s", kind_name(inst->kind),
                 inst->module ? inst->module : "?",
                 inst->name ? inst->name : "?");
}

void log_inst(const struct pm_instance *inst, int level, const char *fmt,
              va_list ap)
{
    char tag[256];
    if (level >= PM_LOG_DEBUG && !debug_on && !(inst && inst->debug))
        return;
    make_tag(inst, tag, sizeof(tag));
    emit(level, tag, fmt, ap, inst && inst->debug);
}

static void say(const struct pm_instance *inst, int level, const char *fmt,
                ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_inst(inst, level, fmt, ap);
    va_end(ap);
}

void log_inst_limited(const struct pm_instance *inst, int level,
                      const char *key, const char *fmt, va_list ap)
{
    time_t now = time(NULL);
    unsigned h = 5381, i, idx;
    const char *p;
    struct limit_slot *s = NULL;
    unsigned suppressed = 0;
    int pass;
    if (!key)
        key = fmt;
    for (p = key; *p; p++)
        h = h * 33 + (unsigned char)*p;
    h = h * 31 + (unsigned)(uintptr_t)inst;
    pthread_mutex_lock(&lim_mu);
    for (i = 0; i < LIMIT_SLOTS; i++) {
        idx = (h + i) % LIMIT_SLOTS;
        if (!slots[idx].key[0] ||
            (slots[idx].inst == inst &&
             !strncmp(slots[idx].key, key, sizeof(slots[idx].key) - 1))) {
            s = &slots[idx];
            break;
        }
    }
    if (!s) /* table full: reuse the home slot */
        s = &slots[h % LIMIT_SLOTS];
    if (!s->key[0] || s->inst != inst ||
        strncmp(s->key, key, sizeof(s->key) - 1)) {
        memset(s, 0, sizeof(*s));
        snprintf(s->key, sizeof(s->key), "%s", key);
        s->inst = inst;
        s->window = now;
    }
    if (now - s->window >= LIMIT_WINDOW) {
        suppressed = s->suppressed;
        s->window = now;
        s->count = 0;
        s->suppressed = 0;
    }
    pass = s->count < LIMIT_BURST;
    if (pass)
        s->count++;
    else
        s->suppressed++;
    pthread_mutex_unlock(&lim_mu);
    if (suppressed)
        say(inst, level, "%u similar messages suppressed in the last minute "
                         "(%s)",
            suppressed, key);
    if (pass)
        log_inst(inst, level, fmt, ap);
}
