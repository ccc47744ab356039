/*
 * conf.c - pmacct configuration file syntax: `key: value` and
 * `key[name]: value` lines, `!` comment lines, blank lines.  Keys are
 * case-insensitive (stored lower-case); the value is everything after the
 * first ':' with surrounding whitespace trimmed.  Entries keep their file
 * and line for messages.  Later entries win over earlier ones.
 *
 * Built on the main thread at start-up; read-only (shared by every thread)
 * afterwards.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmd.h"

static char *trim(char *s)
{
    char *e;
    while (*s && isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

static const char *keep_file(struct conf *c, const char *fname)
{
    size_t i;
    char **nf;
    for (i = 0; i < c->nfiles; i++)
        if (!strcmp(c->files[i], fname))
            return c->files[i];
    nf = realloc(c->files, (c->nfiles + 1) * sizeof(*nf));
    if (!nf)
        return NULL;
    c->files = nf;
    if (!(c->files[c->nfiles] = strdup(fname)))
        return NULL;
    return c->files[c->nfiles++];
}

int conf_add(struct conf *c, const char *key, const char *inst,
             const char *value, const char *file, int line)
{
    struct conf_entry *e;
    char *p;
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 32;
        e = realloc(c->e, nc * sizeof(*e));
        if (!e)
            return -ENOMEM;
        c->e = e;
        c->cap = nc;
    }
    e = &c->e[c->n];
    memset(e, 0, sizeof(*e));
    e->key = strdup(key);
    e->inst = inst ? strdup(inst) : NULL;
    e->value = strdup(value ? value : "");
    e->file = keep_file(c, file ? file : "command line");
    e->line = line;
    if (!e->key || (inst && !e->inst) || !e->value || !e->file) {
        free(e->key);
        free(e->inst);
        free(e->value);
        return -ENOMEM;
    }
    for (p = e->key; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    c->n++;
    return 0;
}

int conf_parse_text(struct conf *c, const char *text, const char *fname,
                    char *err, size_t errlen)
{
    char *copy = strdup(text), *line, *next;
    int lineno = 0, rc = 0;
    if (!copy)
        return -ENOMEM;
    for (line = copy; line; line = next) {
        char *colon, *key, *val, *inst = NULL, *lb;
        next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        lineno++;
        line = trim(line);
        if (!*line || *line == '!' || *line == '#')
            continue;
        colon = strchr(line, ':');
        lb = strchr(line, '[');
        if (!colon) {
            snprintf(err, errlen, "%s:%d: expected 'key: value', got '%s'",
                     fname, lineno, line);
            rc = -EINVAL;
            goto out;
        }
        *colon = 0;
        val = trim(colon + 1);
        key = line;
        if (lb && lb < colon) {
            char *rb = strchr(lb, ']');
            if (!rb || rb > colon || trim(rb + 1)[0]) {
                snprintf(err, errlen,
                         "%s:%d: malformed key '%s': expected key[name]",
                         fname, lineno, trim(key));
                rc = -EINVAL;
                goto out;
            }
            *lb = 0;
            *rb = 0;
            inst = trim(lb + 1);
            if (!*inst) {
                snprintf(err, errlen, "%s:%d: empty instance name in '%s[]'",
                         fname, lineno, trim(key));
                rc = -EINVAL;
                goto out;
            }
        }
        key = trim(key);
        if (!*key) {
            snprintf(err, errlen, "%s:%d: missing key before ':'", fname,
                     lineno);
            rc = -EINVAL;
            goto out;
        }
        for (char *p = key; *p; p++)
            if (isspace((unsigned char)*p)) {
                snprintf(err, errlen,
                         "%s:%d: malformed key '%s' (spaces in a key name)",
                         fname, lineno, key);
                rc = -EINVAL;
                goto out;
            }
        rc = conf_add(c, key, inst, val, fname, lineno);
        if (rc < 0) {
            snprintf(err, errlen, "%s:%d: out of memory", fname, lineno);
            goto out;
        }
    }
out:
    free(copy);
    return rc;
}

int conf_parse_file(struct conf *c, const char *path, char *err,
                    size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0, cap = 0, r;
    int rc;
    if (!f) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot open configuration file: %s", path,
                 strerror(errno));
        return rc;
    }
    for (;;) {
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap + 65536);
            if (!nb) {
                fclose(f);
                free(buf);
                snprintf(err, errlen, "%s: out of memory", path);
                return -ENOMEM;
            }
            buf = nb;
            cap += 65536;
        }
        r = fread(buf + len, 1, cap - len - 1, f);
        if (!r)
            break;
        len += r;
    }
    fclose(f);
    buf[len] = 0;
    rc = conf_parse_text(c, buf, path, err, errlen);
    free(buf);
    if (rc == 0 && !c->main_file)
        c->main_file = keep_file(c, path);
    return rc;
}

const struct conf_entry *conf_find(const struct conf *c, const char *key,
                                   const char *inst)
{
    size_t i;
    for (i = c->n; i-- > 0;) {
        const struct conf_entry *e = &c->e[i];
        if (strcmp(e->key, key))
            continue;
        if (!inst ? !e->inst : (e->inst && !strcmp(e->inst, inst)))
            return e;
    }
    return NULL;
}

const struct conf_entry *conf_lookup(const struct conf *c, const char *key,
                                     const char *inst, const char *inst2)
{
    const struct conf_entry *e = NULL;
    if (inst)
        e = conf_find(c, key, inst);
    if (!e && inst2)
        e = conf_find(c, key, inst2);
    if (!e)
        e = conf_find(c, key, NULL);
    return e;
}

void conf_free(struct conf *c)
{
    size_t i;
    for (i = 0; i < c->n; i++) {
        free(c->e[i].key);
        free(c->e[i].inst);
        free(c->e[i].value);
    }
    for (i = 0; i < c->nfiles; i++)
        free(c->files[i]);
    free(c->files);
    free(c->e);
    memset(c, 0, sizeof(*c));
}

const char *conf_where(const struct conf_entry *e)
{
    static __thread char buf[512];
    if (!e)
        return "configuration";
    if (e->line > 0)
        snprintf(buf, sizeof(buf), "%s:%d", e->file, e->line);
    else
        snprintf(buf, sizeof(buf), "%s", e->file);
    return buf;
}
