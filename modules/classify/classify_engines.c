/*
 * classify_engines.c - the classify module's engines: every .so of the
 * `classifiers` directory (dlopen()ed RTLD_LOCAL after its magic, ABI and
 * descriptor size are checked) plus the built-in regex engine when .pat
 * files are there, initialised and put in priority order.  Runs at init,
 * on the main thread; touches only the instance context.
 */
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"

/* ---- engines ------------------------------------------------------------- */

static void eng_log(void *ud, int level, const char *msg)
{
    struct classify_ctx *ctx = ud;
    ctx->host->log(ctx->inst, level, "%s", msg);
}

int classify_check_desc(const struct pm_classifier *d, const char *path,
                        char *err, size_t errlen)
{
    if (!d) {
        snprintf(err, errlen, "%s: descriptor is NULL", path);
        return -EINVAL;
    }
    if (d->magic != PM_CLASSIFIER_MAGIC) {
        snprintf(err, errlen,
                 "%s: bad magic 0x%08x (expected 0x%08x): not a pmacct "
                 "classifier",
                 path, (unsigned)d->magic, (unsigned)PM_CLASSIFIER_MAGIC);
        return -EINVAL;
    }
    if ((d->abi >> 16) != PM_CLS_ABI_MAJOR ||
        (d->abi & 0xffffu) > PM_CLS_ABI_MINOR) {
        snprintf(err, errlen,
                 "%s: built for classifier ABI %u.%u, this classify module "
                 "speaks %u.%u: rebuild it against this SDK",
                 path, (unsigned)(d->abi >> 16), (unsigned)(d->abi & 0xffffu),
                 (unsigned)PM_CLS_ABI_MAJOR, (unsigned)PM_CLS_ABI_MINOR);
        return -EINVAL;
    }
    if (d->size < offsetof(struct pm_classifier, fini) + sizeof(void *)) {
        snprintf(err, errlen, "%s: descriptor size %u too small", path,
                 (unsigned)d->size);
        return -EINVAL;
    }
    if (!d->name || !*d->name || !d->classify) {
        snprintf(err, errlen, "%s: descriptor lacks a name or classify()",
                 path);
        return -EINVAL;
    }
    return 0;
}

/* Initialise engine d (loaded from path, handle dl) and append it. */
static int engine_add(struct classify_ctx *ctx, const struct pm_classifier *d,
                      void *dl, const char *path)
{
    struct pm_cls_config c;
    struct engine *e;
    char err[512] = "", cname[128];
    size_t ssz = d->state_size;
    unsigned i;
    int rc;

    for (i = 0; i < ctx->neng; i++)
        if (!strcmp(ctx->eng[i].d->name, d->name)) {
            ctx->host->log(ctx->inst, PM_LOG_WARNING,
                           "%s: a classifier named '%s' is already loaded; "
                           "ignored",
                           path, d->name);
            return -EEXIST;
        }
    if (ctx->neng == CLS_MAX_ENGINES) {
        ctx->host->log(ctx->inst, PM_LOG_ERR, "%s: more than %d classifiers",
                       path, CLS_MAX_ENGINES);
        return -E2BIG;
    }
    memset(&c, 0, sizeof(c));
    c.size = sizeof(c);
    c.tentatives = (uint32_t)ctx->cfg->tentatives;
    c.dir = ctx->cfg->classifiers;
    c.self = path;
    c.log = eng_log;
    c.log_ud = ctx;
    e = &ctx->eng[ctx->neng];
    memset(e, 0, sizeof(*e));
    e->d = d;
    if (d->init && (rc = d->init(&c, &e->ectx, &ssz, err, sizeof(err))) < 0) {
        ctx->host->log(ctx->inst, PM_LOG_ERR, "classifier %s (%s): %s",
                       d->name, path, err[0] ? err : strerror(-rc));
        return rc;
    }
    e->dl = dl;
    e->state_size = (ssz + 15) & ~(size_t)15;
    snprintf(cname, sizeof(cname), "engine_%s_matched", d->name);
    e->c_matched = ctx->host->counter(ctx->inst, cname,
                                      "streams this engine classified");
    snprintf(cname, sizeof(cname), "engine_%s_giveup", d->name);
    e->c_giveup = ctx->host->counter(ctx->inst, cname,
                                     "streams this engine gave up on");
    ctx->neng++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* dlopen every .so of the classifiers directory. */
int classify_load_dir(struct classify_ctx *ctx)
{
    const char *dir = ctx->cfg->classifiers;
    DIR *dh = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t nn = 0, i;
    int rc = 0, npat = 0;

    if (!dh) {
        ctx->host->log(ctx->inst, PM_LOG_ERR, "classifiers: %s: %s", dir,
                       strerror(errno));
        return -errno;
    }
    while ((de = readdir(dh))) {
        size_t len = strlen(de->d_name);
        char **t;
        if (de->d_name[0] == '.')
            continue;
        if (len > 4 && !strcmp(de->d_name + len - 4, ".pat"))
            npat++;
        if (len <= 3 || strcmp(de->d_name + len - 3, ".so"))
            continue;
        t = realloc(names, (nn + 1) * sizeof(*t));
        if (!t) {
            rc = -ENOMEM;
            break;
        }
        names = t;
        if (!(names[nn] = strdup(de->d_name))) {
            rc = -ENOMEM;
            break;
        }
        nn++;
    }
    closedir(dh);
    if (names)
        qsort(names, nn, sizeof(*names), cmp_str);
    for (i = 0; i < nn && rc == 0; i++) {
        char path[4096], err[600];
        void *dl;
        pm_classifier_entry_fn fn;
        const struct pm_classifier *d;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!dl) {
            ctx->host->log(ctx->inst, PM_LOG_ERR,
                           "classifier %s: cannot load: %s", path, dlerror());
            rc = -ENOENT;
            break;
        }
        fn = (pm_classifier_entry_fn)(uintptr_t)dlsym(dl, PM_CLASSIFIER_ENTRY);
        if (!fn) {
            ctx->host->log(ctx->inst, PM_LOG_ERR,
                           "classifier %s: no %s symbol: not a pmacct "
                           "classifier (export it with PM_CLASSIFIER_EXPORT)",
                           path, PM_CLASSIFIER_ENTRY);
            dlclose(dl);
            rc = -EINVAL;
            break;
        }
        d = fn();
        if ((rc = classify_check_desc(d, path, err, sizeof(err))) < 0) {
            ctx->host->log(ctx->inst, PM_LOG_ERR, "classifier refused: %s",
                           err);
            dlclose(dl);
            break;
        }
        if ((rc = engine_add(ctx, d, dl, path)) < 0) {
            dlclose(dl);
            if (rc == -EEXIST)
                rc = 0;
            else
                break;
        }
    }
    for (i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    if (rc == 0 && npat)
        rc = engine_add(ctx, classify_regex_descriptor(), NULL,
                        "(built in: .pat files)");
    return rc;
}

/* Priority order: classifier_engines, else .so by name, regex, ndpi last. */
int classify_order_engines(struct classify_ctx *ctx)
{
    struct engine tmp[CLS_MAX_ENGINES];
    unsigned n = 0, i;
    int used[CLS_MAX_ENGINES] = {0};

    if (ctx->cfg->engines && *ctx->cfg->engines) {
        char *list = strdup(ctx->cfg->engines), *tok, *sp = NULL;
        if (!list)
            return -ENOMEM;
        for (tok = strtok_r(list, ", \t", &sp); tok;
             tok = strtok_r(NULL, ", \t", &sp)) {
            for (i = 0; i < ctx->neng; i++)
                if (!used[i] && !strcmp(ctx->eng[i].d->name, tok))
                    break;
            if (i == ctx->neng) {
                ctx->host->log(ctx->inst, PM_LOG_ERR,
                               "classifier_engines: no engine '%s' in %s",
                               tok, ctx->cfg->classifiers);
                free(list);
                return -ENOENT;
            }
            used[i] = 1;
            tmp[n++] = ctx->eng[i];
        }
        free(list);
        /* engines not listed are unloaded */
        for (i = 0; i < ctx->neng; i++)
            if (!used[i]) {
                if (ctx->eng[i].d->fini)
                    ctx->eng[i].d->fini(ctx->eng[i].ectx);
                if (ctx->eng[i].dl)
                    dlclose(ctx->eng[i].dl);
            }
    } else {
        int pass;
        for (pass = 0; pass < 3; pass++)
            for (i = 0; i < ctx->neng; i++) {
                const char *nm = ctx->eng[i].d->name;
                int p = !strcmp(nm, "ndpi") ? 2 : !strcmp(nm, "regex") ? 1 : 0;
                if (p == pass)
                    tmp[n++] = ctx->eng[i];
            }
    }
    memcpy(ctx->eng, tmp, n * sizeof(tmp[0]));
    ctx->neng = n;
    return 0;
}
