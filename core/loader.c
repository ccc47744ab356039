/*
 * loader.c - find and load modules with libltdl.  The search path is the
 * `module_dir` key, then $PMACCT_MODULE_DIR (colon-separated), then the
 * compiled-in PM_MODULE_DIR; module `foo` is `foo.so` (or `foo.la`) in the
 * first directory that has it.  Every module found is loaded at start-up
 * (its descriptor declares the keys the configuration may use) with local
 * symbols, checked (magic, ABI, size, kind, name) and kept resident until
 * exit.
 *
 * Runs on the main thread before any other thread exists.
 */
#include <dirent.h>
#include <errno.h>
#include <ltdl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pmd.h"

#ifndef PM_MODULE_DIR
#define PM_MODULE_DIR "/usr/local/lib/pmacct/modules"
#endif

/* Descriptor size required by each ABI minor of major 1 (one entry per
 * minor up to PM_ABI_MINOR: the static assertion below keeps them in
 * step). */
static const uint32_t min_size_by_minor[] = {
    (uint32_t)sizeof(struct pm_module_desc), /* 1.0 */
    (uint32_t)sizeof(struct pm_module_desc), /* 1.1: host cache_walk_part */
    (uint32_t)sizeof(struct pm_module_desc), /* 1.2: cache_walk_part_ref,
                                                cache_rows */
};
_Static_assert(sizeof(min_size_by_minor) / sizeof(min_size_by_minor[0]) ==
                   PM_ABI_MINOR + 1,
               "min_size_by_minor needs an entry for each ABI minor");

const char *kind_name(uint32_t kind)
{
    switch (kind) {
    case PM_KIND_CAPTURE: return "capture";
    case PM_KIND_TRANSFORM: return "transform";
    case PM_KIND_OUTPUT: return "output";
    case PM_KIND_SERVICE: return "service";
    default: return "unknown";
    }
}

static int ltdl_ready;

static int add_dir(struct modset *ms, const char *dir, size_t len)
{
    char **nd;
    size_t i;
    if (!len)
        return 0;
    while (len > 1 && dir[len - 1] == '/')
        len--;
    for (i = 0; i < ms->ndirs; i++)
        if (strlen(ms->dirs[i]) == len && !strncmp(ms->dirs[i], dir, len))
            return 0;
    nd = realloc(ms->dirs, (ms->ndirs + 1) * sizeof(*nd));
    if (!nd)
        return -ENOMEM;
    ms->dirs = nd;
    if (!(ms->dirs[ms->ndirs] = strndup(dir, len)))
        return -ENOMEM;
    ms->ndirs++;
    return 0;
}

static int add_list(struct modset *ms, const char *list)
{
    const char *p = list;
    int rc;
    while (p && *p) {
        const char *c = strchr(p, ':');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if ((rc = add_dir(ms, p, len)) < 0)
            return rc;
        p = c ? c + 1 : NULL;
    }
    return 0;
}

int modset_set_dirs(struct modset *ms, const char *module_dir)
{
    int rc;
    if ((rc = add_list(ms, module_dir)) < 0)
        return rc;
    if ((rc = add_list(ms, getenv("PMACCT_MODULE_DIR"))) < 0)
        return rc;
    return add_list(ms, PM_MODULE_DIR);
}

const char *modset_dirs_text(const struct modset *ms)
{
    static __thread char buf[2048];
    size_t i, off = 0;
    buf[0] = 0;
    for (i = 0; i < ms->ndirs && off < sizeof(buf); i++)
        off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s",
                                i ? ", " : "", ms->dirs[i]);
    if (!ms->ndirs)
        snprintf(buf, sizeof(buf), "(none)");
    return buf;
}

int loader_check_desc(const struct pm_module_desc *d, const char *path,
                      const char *name, char *err, size_t errlen)
{
    uint32_t maj, min;
    if (!d) {
        snprintf(err, errlen,
                 "%s: pm_module_descriptor() returned NULL: not a usable "
                 "pmacct module",
                 path);
        return -EINVAL;
    }
    if (d->magic != PM_MODULE_MAGIC) {
        snprintf(err, errlen,
                 "%s: not a pmacct module (bad magic 0x%08x, expected "
                 "0x%08x): rebuild it against pmacct-sdk %u.x",
                 path, (unsigned)d->magic, (unsigned)PM_MODULE_MAGIC,
                 (unsigned)PM_ABI_MAJOR);
        return -EINVAL;
    }
    maj = PM_ABI_MAJOR_OF(d->abi);
    min = PM_ABI_MINOR_OF(d->abi);
    if (maj != PM_ABI_MAJOR || min > PM_ABI_MINOR) {
        snprintf(err, errlen,
                 "%s: module built against pmacct-sdk ABI %u.%u, this "
                 "daemon speaks ABI %u.%u: rebuild the module against "
                 "pmacct-sdk %u.x (at most %u.%u)",
                 path, (unsigned)maj, (unsigned)min, (unsigned)PM_ABI_MAJOR,
                 (unsigned)PM_ABI_MINOR, (unsigned)PM_ABI_MAJOR,
                 (unsigned)PM_ABI_MAJOR, (unsigned)PM_ABI_MINOR);
        return -EINVAL;
    }
    if (d->size < min_size_by_minor[min]) {
        snprintf(err, errlen,
                 "%s: descriptor is %u bytes, ABI %u.%u needs at least %u: "
                 "rebuild the module against pmacct-sdk %u.x",
                 path, (unsigned)d->size, (unsigned)maj, (unsigned)min,
                 (unsigned)min_size_by_minor[min], (unsigned)PM_ABI_MAJOR);
        return -EINVAL;
    }
    if (d->kind < PM_KIND_CAPTURE || d->kind > PM_KIND_SERVICE) {
        snprintf(err, errlen,
                 "%s: unknown module kind %u (expected 1..4): rebuild the "
                 "module against pmacct-sdk %u.x",
                 path, (unsigned)d->kind, (unsigned)PM_ABI_MAJOR);
        return -EINVAL;
    }
    if (!d->name || (name && strcmp(d->name, name))) {
        snprintf(err, errlen,
                 "%s: module calls itself '%s' but its file is named '%s': "
                 "rename the file to %s.so",
                 path, d->name ? d->name : "(null)", name ? name : "?",
                 d->name ? d->name : "NAME");
        return -EINVAL;
    }
    if ((d->config_size && !d->options) ||
        (d->kind == PM_KIND_CAPTURE && !d->run) ||
        ((d->kind == PM_KIND_TRANSFORM || d->kind == PM_KIND_OUTPUT) &&
         !d->process) ||
        !d->init) {
        snprintf(err, errlen,
                 "%s: %s module '%s' lacks a required callback (init%s)",
                 path, kind_name(d->kind), d->name,
                 d->kind == PM_KIND_CAPTURE ? ", run" :
                 d->kind == PM_KIND_SERVICE ? "" : ", process");
        return -EINVAL;
    }
    return 0;
}

int loader_load(const char *path, const char *name, struct pm_mod *out,
                char *err, size_t errlen)
{
    lt_dladvise adv;
    lt_dlhandle h = NULL;
    pm_module_entry_fn fn;
    const struct pm_module_desc *d;
    int rc = -EINVAL;

    memset(out, 0, sizeof(*out));
    if (!ltdl_ready) {
        if (lt_dlinit() != 0) {
            snprintf(err, errlen, "libltdl: %s", lt_dlerror());
            return -EIO;
        }
        ltdl_ready = 1;
    }
    if (lt_dladvise_init(&adv) || lt_dladvise_local(&adv)) {
        snprintf(err, errlen, "libltdl: %s", lt_dlerror());
        return -EIO;
    }
    h = lt_dlopenadvise(path, adv);
    lt_dladvise_destroy(&adv);
    if (!h) {
        const char *e = lt_dlerror();
        snprintf(err, errlen, "%s: cannot load: %s", path,
                 e ? e : "unknown error");
        return -ENOENT;
    }
    fn = (pm_module_entry_fn)(uintptr_t)lt_dlsym(h, PM_MODULE_ENTRY);
    if (!fn) {
        snprintf(err, errlen,
                 "%s: no %s symbol: not a pmacct module (export it with "
                 "PM_MODULE_EXPORT and rebuild against pmacct-sdk %u.x)",
                 path, PM_MODULE_ENTRY, (unsigned)PM_ABI_MAJOR);
        goto fail;
    }
    d = fn();
    if ((rc = loader_check_desc(d, path, name, err, errlen)) < 0)
        goto fail;
    out->name = strdup(d->name);
    out->path = strdup(path);
    if (!out->name || !out->path) {
        free(out->name);
        free(out->path);
        rc = -ENOMEM;
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    out->handle = h;
    out->d = d;
    return 0;
fail:
    lt_dlclose(h);
    memset(out, 0, sizeof(*out));
    return rc;
}

static int known(const struct modset *ms, const char *name)
{
    size_t i;
    for (i = 0; i < ms->n; i++)
        if (!strcmp(ms->m[i].name, name))
            return 1;
    for (i = 0; i < ms->nr; i++)
        if (!strcmp(ms->r[i].name, name))
            return 1;
    return 0;
}

static int add_refused(struct modset *ms, const char *name, const char *path,
                       const char *msg)
{
    struct pm_refused *nr = realloc(ms->r, (ms->nr + 1) * sizeof(*nr));
    if (!nr)
        return -ENOMEM;
    ms->r = nr;
    nr[ms->nr].name = strdup(name);
    nr[ms->nr].path = strdup(path);
    nr[ms->nr].msg = strdup(msg);
    ms->nr++;
    return 0;
}

static int add_mod(struct modset *ms, const struct pm_mod *m)
{
    struct pm_mod *nm = realloc(ms->m, (ms->n + 1) * sizeof(*nm));
    if (!nm)
        return -ENOMEM;
    ms->m = nm;
    nm[ms->n++] = *m;
    return 0;
}

/* A libtool archive names a loadable module only when dlname is set
 * (convenience libraries in a build tree have dlname=''). */
static int la_is_module(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int yes = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "dlname='", 8)) {
            yes = line[8] != '\'';
            break;
        }
    fclose(f);
    return yes;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int modset_scan(struct modset *ms)
{
    size_t i;
    int rc = 0;
    for (i = 0; i < ms->ndirs; i++) {
        DIR *dir = opendir(ms->dirs[i]);
        struct dirent *de;
        char **names = NULL;
        size_t nn = 0, j;
        if (!dir)
            continue;
        while ((de = readdir(dir))) {
            size_t len = strlen(de->d_name);
            char **tmp;
            const char *ext = NULL;
            if (len > 3 && !strcmp(de->d_name + len - 3, ".so"))
                ext = ".so";
            else if (len > 3 && !strcmp(de->d_name + len - 3, ".la"))
                ext = ".la";
            if (!ext || de->d_name[0] == '.')
                continue;
            tmp = realloc(names, (nn + 1) * sizeof(*tmp));
            if (!tmp)
                break;
            names = tmp;
            names[nn++] = strdup(de->d_name);
        }
        closedir(dir);
        if (nn)
            qsort(names, nn, sizeof(*names), cmp_str);
        for (j = 0; j < nn; j++) {
            char name[256], path[4096], err[1024];
            size_t len = strlen(names[j]);
            struct pm_mod m;
            int is_la = !strcmp(names[j] + len - 3, ".la");
            struct stat st;
            snprintf(name, sizeof(name), "%.*s", (int)(len - 3), names[j]);
            if (known(ms, name))
                continue;
            if (is_la) {
                /* prefer the .so next to it when both exist */
                snprintf(path, sizeof(path), "%s/%s.so", ms->dirs[i], name);
                if (stat(path, &st) == 0)
                    continue;
            }
            snprintf(path, sizeof(path), "%s/%s", ms->dirs[i], names[j]);
            if (is_la && !la_is_module(path))
                continue;
            if (loader_load(path, name, &m, err, sizeof(err)) == 0)
                rc = add_mod(ms, &m);
            else
                rc = add_refused(ms, name, path, err);
            if (rc < 0)
                break;
        }
        for (j = 0; j < nn; j++)
            free(names[j]);
        free(names);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int modset_add_static(struct modset *ms, const struct pm_module_desc *d)
{
    struct pm_mod m = {0};
    m.name = strdup(d->name);
    m.path = strdup("(built in)");
    m.d = d;
    return add_mod(ms, &m);
}

const struct pm_mod *modset_find(const struct modset *ms, const char *name)
{
    size_t i;
    for (i = 0; i < ms->n; i++)
        if (!strcmp(ms->m[i].name, name))
            return &ms->m[i];
    return NULL;
}

const struct pm_refused *modset_refused(const struct modset *ms,
                                        const char *name)
{
    size_t i;
    for (i = 0; i < ms->nr; i++)
        if (!strcmp(ms->r[i].name, name))
            return &ms->r[i];
    return NULL;
}

void modset_free(struct modset *ms)
{
    size_t i;
    for (i = 0; i < ms->n; i++) {
        if (ms->m[i].handle)
            lt_dlclose((lt_dlhandle)ms->m[i].handle);
        free(ms->m[i].name);
        free(ms->m[i].path);
    }
    for (i = 0; i < ms->nr; i++) {
        free(ms->r[i].name);
        free(ms->r[i].path);
        free(ms->r[i].msg);
    }
    for (i = 0; i < ms->ndirs; i++)
        free(ms->dirs[i]);
    free(ms->m);
    free(ms->r);
    free(ms->dirs);
    memset(ms, 0, sizeof(*ms));
}
