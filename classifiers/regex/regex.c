/*
 * regex.c - the built-in pattern engine of the classify module: reads every
 * NAME.pat file of the classifiers directory (l7-filter's format) and
 * matches the streams' payloads against them.
 *
 * File format: '#' lines and blank lines are comments; the first other line
 * is the protocol (class) name, the next one a POSIX extended regular
 * expression, matched case-insensitively.  \xHH stands for the byte HH
 * (outside brackets a special character written so matches itself).
 *
 * Matching: the payloads of a stream, both directions in arrival order, are
 * appended (NUL bytes removed, as l7-filter does) to a per-stream buffer of
 * REGEX_BUF bytes held in the flow table's state; after each payload
 * packet every pattern is tried on the buffer, in file name order, first
 * match wins.  Buffer full without a match: give up.
 *
 * Threads: the engine context is read-only after init.
 */
#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pmacct/pm_classifier.h>

#define REGEX_BUF 1024
#define REGEX_MAX_PATS 256

struct pat {
    char name[PM_CLS_NAME_MAX];
    regex_t re;
};

struct regex_engine {
    struct pat *pats;
    unsigned n;
};

struct regex_state {
    uint32_t len;
    char buf[REGEX_BUF];
};

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Translate \xHH escapes into bytes; out must hold 2*strlen(in)+1. */
int regex_translate(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    int bracket = 0;
    const char *p;

    for (p = in; *p; p++) {
        if (o + 3 >= outlen)
            return -ENAMETOOLONG;
        if (p[0] == '\\' && p[1] == 'x' && hexval(p[2]) >= 0 &&
            hexval(p[3]) >= 0) {
            int v = hexval(p[2]) * 16 + hexval(p[3]);
            p += 3;
            if (v == 0)
                return -EINVAL; /* NULs are stripped from the data */
            if (!bracket && strchr(".[]()*+?{}|^$\\", v))
                out[o++] = '\\';
            out[o++] = (char)v;
            continue;
        }
        if (!bracket && p[0] == '\\' && p[1]) {
            out[o++] = *p++;
            out[o++] = *p;
            continue;
        }
        if (!bracket && *p == '[') {
            bracket = 1;
            out[o++] = *p;
            if (p[1] == '^')
                out[o++] = *++p;
            if (p[1] == ']')
                out[o++] = *++p;
            continue;
        }
        if (bracket && *p == ']')
            bracket = 0;
        out[o++] = *p;
    }
    out[o] = 0;
    return 0;
}

/* Strip trailing blanks/newline in place. */
static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' ||
                 s[n - 1] == '\t'))
        s[--n] = 0;
}

/* Load one .pat file into p.  Returns 0 or -errno with err filled. */
static int load_pat(const char *path, struct pat *p, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[4096], *re = NULL, tr[8192];
    int have_name = 0, rc, lineno = 0;

    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -errno;
    }
    while (fgets(line, sizeof(line), f)) {
        char *s = line;
        lineno++;
        chomp(s);
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '#')
            continue;
        if (!have_name) {
            snprintf(p->name, sizeof(p->name), "%s", s);
            have_name = 1;
            continue;
        }
        re = s;
        break;
    }
    fclose(f);
    if (!have_name || !re) {
        snprintf(err, errlen, "%s: expected a protocol name line and a "
                 "regular expression line", path);
        return -EINVAL;
    }
    if (regex_translate(re, tr, sizeof(tr)) < 0) {
        snprintf(err, errlen, "%s:%d: bad \\x escape (\\x00 is not allowed) "
                 "or expression too long", path, lineno);
        return -EINVAL;
    }
    if ((rc = regcomp(&p->re, tr, REG_EXTENDED | REG_ICASE | REG_NOSUB))) {
        char m[256];
        regerror(rc, &p->re, m, sizeof(m));
        snprintf(err, errlen, "%s:%d: %s", path, lineno, m);
        return -EINVAL;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void regex_fini(void *vengine)
{
    struct regex_engine *e = vengine;
    unsigned i;
    if (!e)
        return;
    for (i = 0; i < e->n; i++)
        regfree(&e->pats[i].re);
    free(e->pats);
    free(e);
}

static int regex_init(const struct pm_cls_config *cfg, void **engine,
                      size_t *state_size, char *err, size_t errlen)
{
    struct regex_engine *e;
    DIR *dh;
    struct dirent *de;
    char *names[REGEX_MAX_PATS];
    size_t nn = 0, i;
    int rc = 0;

    *state_size = sizeof(struct regex_state);
    if (!(dh = opendir(cfg->dir))) {
        snprintf(err, errlen, "%s: %s", cfg->dir, strerror(errno));
        return -errno;
    }
    while ((de = readdir(dh)) && nn < REGEX_MAX_PATS) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] != '.' && len > 4 &&
            !strcmp(de->d_name + len - 4, ".pat"))
            if ((names[nn] = strdup(de->d_name)))
                nn++;
    }
    closedir(dh);
    qsort(names, nn, sizeof(*names), cmp_str);
    e = calloc(1, sizeof(*e));
    if (e)
        e->pats = calloc(nn ? nn : 1, sizeof(*e->pats));
    if (!e || !e->pats) {
        free(e);
        e = NULL;
        rc = -ENOMEM;
        snprintf(err, errlen, "out of memory");
    }
    for (i = 0; e && i < nn && rc == 0; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", cfg->dir, names[i]);
        if ((rc = load_pat(path, &e->pats[e->n], err, errlen)) == 0)
            e->n++;
    }
    for (i = 0; i < nn; i++)
        free(names[i]);
    if (rc < 0) {
        regex_fini(e);
        return rc;
    }
    *engine = e;
    return 0;
}

static int regex_classify(void *vengine, void *vstate,
                          const struct pm_cls_pkt *pkt, char *cls)
{
    struct regex_engine *e = vengine;
    struct regex_state *st = vstate;
    uint32_t i;
    unsigned k;

    if (!pkt->len)
        return PM_CLS_MORE;
    if (st->len >= REGEX_BUF - 1)
        return PM_CLS_GIVEUP;
    for (i = 0; i < pkt->len && st->len < REGEX_BUF - 1; i++)
        if (pkt->payload[i])
            st->buf[st->len++] = (char)pkt->payload[i];
    st->buf[st->len] = 0;
    for (k = 0; k < e->n; k++)
        if (regexec(&e->pats[k].re, st->buf, 0, NULL, 0) == 0)
            return pm_cls_match(cls, e->pats[k].name);
    return st->len >= REGEX_BUF - 1 ? PM_CLS_GIVEUP : PM_CLS_MORE;
}

static const struct pm_classifier regex_desc = {
    PM_CLASSIFIER_HEAD,
    .name = "regex",
    .version = "1.0",
    .summary = "l7-filter style .pat regular expressions",
    .state_size = sizeof(struct regex_state),
    .init = regex_init,
    .classify = regex_classify,
    .fini = regex_fini,
};

const struct pm_classifier *classify_regex_descriptor(void)
{
    return &regex_desc;
}
