/*
 * options.c - the core's own option table, validation of every
 * configuration entry against the core and module option tables, and the
 * plan: captures, pipelines (pmacct's implicit `plugins:` form with
 * transforms inserted by their trigger keys, or the explicit
 * `pipeline[name]: a | b | out` form) and services, each instance with its
 * parsed config struct.
 *
 * Runs on the main thread before any thread starts; the plan is read-only
 * afterwards.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pmd.h"
#include "pmdata.h"

#define CO(f) offsetof(struct core_conf, f)

const struct pm_option pmd_core_options[] = {
    {"daemonize", PM_OPT_BOOL, PM_OPTF_GLOBAL, CO(daemonize), "false", NULL,
     "run in the background (fork, setsid, stdio to /dev/null)", 'D'},
    {"debug", PM_OPT_BOOL, 0, CO(debug), "false", NULL,
     "log debug messages (per instance: debug[name])", 'd'},
    {"pidfile", PM_OPT_PATH, PM_OPTF_GLOBAL, CO(pidfile), NULL, NULL,
     "write the daemon's pid into this file", 'F'},
    {"syslog", PM_OPT_STR, PM_OPTF_GLOBAL, CO(syslog), NULL,
     "auth|mail|daemon|kern|user|local0..local7",
     "log to syslog with this facility", 'S'},
    {"logfile", PM_OPT_PATH, PM_OPTF_GLOBAL, CO(logfile), NULL, NULL,
     "append log lines to this file (reopened on SIGHUP)", 0},
    {"plugins", PM_OPT_LIST, PM_OPTF_GLOBAL, CO(plugins), "memory",
     "type[name], ...",
     "pipelines, pmacct form: each output type[name] is a pipeline 'name'",
     'P'},
    {"aggregate", PM_OPT_LIST, 0, CO(aggregate), "src_host",
     "primitive, ...", "aggregation primitives of a pipeline (see -a)",
     'c'},
    {"pipeline", PM_OPT_STR, PM_OPTF_NO_GLOBAL, CO(pipeline), NULL,
     "module | module[inst] | output",
     "explicit pipeline: transforms then an output, in this order", 0},
    {"capture", PM_OPT_STR, PM_OPTF_NO_GLOBAL, CO(capture), NULL, "module",
     "capture instance 'name' run by this module (default: the daemon's)",
     0},
    {"module_dir", PM_OPT_PATH, PM_OPTF_GLOBAL, CO(module_dir), NULL,
     "dir:dir", "search these directories for modules first", 0},
    {"pipeline_batch_size", PM_OPT_UINT, PM_OPTF_GLOBAL, CO(batch_size),
     "256", NULL, "records per batch handed from captures to pipelines", 0},
    {"pipeline_queue_batches", PM_OPT_UINT, PM_OPTF_GLOBAL,
     CO(queue_batches), "64", NULL,
     "batches queued per pipeline before the overload policy applies", 0},
    {"pipeline_overload", PM_OPT_ENUM, PM_OPTF_GLOBAL, CO(overload), "auto",
     "auto|block|drop",
     "full queue: block the capture or drop the batch (auto: block for "
     "savefiles, drop for live input)",
     0},
    {"files_umask", PM_OPT_STR, PM_OPTF_GLOBAL, CO(files_umask), NULL,
     "octal", "umask for files the daemon creates, e.g. 077", 0},
    {"aggregate_primitives", PM_OPT_PATH, PM_OPTF_GLOBAL,
     CO(aggregate_primitives), NULL, "file",
     "custom primitives (pmacct's primitives.lst syntax: name=, "
     "field_type=, packet_ptr=, len=, semantics=), usable in aggregate",
     0},
    {"plugin_pipe_size", PM_OPT_STR, PM_OPTF_COMPAT, CO(compat[0]), NULL,
     NULL,
     "ignored: queues are sized by pipeline_queue_batches x "
     "pipeline_batch_size",
     0},
    {"plugin_buffer_size", PM_OPT_STR, PM_OPTF_COMPAT, CO(compat[1]), NULL,
     NULL, "ignored: see pipeline_batch_size", 0},
    {"plugin_pipe_backlog", PM_OPT_STR, PM_OPTF_COMPAT, CO(compat[2]), NULL,
     NULL, "ignored: see pipeline_overload", 0},
    {"plugin_pipe_check_core_pid", PM_OPT_STR, PM_OPTF_COMPAT,
     CO(compat[3]), NULL, NULL,
     "ignored: pipelines are threads of the daemon, not processes", 0},
    {"plugin_exit_any", PM_OPT_STR, PM_OPTF_COMPAT, CO(compat[4]), NULL,
     NULL, "ignored: a failing pipeline stops the whole daemon", 0},
    {"files_uid", PM_OPT_STR, PM_OPTF_COMPAT, CO(compat[5]), NULL, NULL,
     "ignored: files belong to the user running the daemon", 0},
    {"files_gid", PM_OPT_STR, PM_OPTF_COMPAT, CO(compat[6]), NULL, NULL,
     "ignored: files belong to the group running the daemon", 0},
    {"core_proc_name", PM_OPT_STR, PM_OPTF_COMPAT, CO(compat[7]), NULL,
     NULL, "ignored: log lines name instances as [kind:module:name]", 0},
    PM_OPTION_END};

static int core_init_stub(const struct pm_host *h,
                          const struct pm_instance *i, void *c, void **x)
{
    (void)h, (void)i, (void)c, (void)x;
    return 0;
}

const struct pm_module_desc pmd_core_desc = {
    PM_MODULE_HEAD(PM_KIND_SERVICE),
    .name = "core",
    .version = PACKAGE_VERSION,
    .summary = "the daemon itself: logging, pipelines, modules",
    .options = pmd_core_options,
    .config_size = sizeof(struct core_conf),
    .init = core_init_stub,
};

static const struct {
    const char *daemon, *module;
} daemon_map[] = {
    {"pmacctd", "pcap"},         {"nfacctd", "netflow"},
    {"sfacctd", "sflow"},        {"uacctd", "nflog"},
    {"pmtelemetryd", "telemetry"}, {"pmbgpd", "bgp"},
    {"pmbmpd", "bmp"},
};

const char *pmd_daemon_module(const char *daemon)
{
    size_t i;
    for (i = 0; i < sizeof(daemon_map) / sizeof(daemon_map[0]); i++)
        if (!strcmp(daemon, daemon_map[i].daemon))
            return daemon_map[i].module;
    return NULL;
}

void pmd_error(struct pmd *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->lasterr, sizeof(d->lasterr), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", d->lasterr);
}

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j;
    size_t row[128];
    if (la >= 127 || lb >= 127)
        return 999;
    for (j = 0; j <= lb; j++)
        row[j] = j;
    for (i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        for (j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) ==
                                  tolower((unsigned char)b[j - 1])
                              ? 0
                              : 1;
            size_t v = prev + cost;
            if (row[j] + 1 < v)
                v = row[j] + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            row[j] = v;
            prev = cur;
        }
    }
    return row[lb];
}

const char *pmd_suggest(const char *word, const char *const *cands, size_t n)
{
    size_t i, best = 999, lim = strlen(word) / 3;
    const char *bw = NULL;
    if (lim < 2)
        lim = 2;
    for (i = 0; i < n; i++) {
        size_t dd;
        if (!cands[i])
            continue;
        dd = edit_distance(word, cands[i]);
        if (dd < best) {
            best = dd;
            bw = cands[i];
        }
    }
    return best <= lim ? bw : NULL;
}

void pmd_init(struct pmd *d, const char *daemon)
{
    memset(d, 0, sizeof(*d));
    d->daemon = strdup(daemon ? daemon : "pmacctd");
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
}

/* ---- option lookups ------------------------------------------------------ */

struct optref {
    const struct pm_option *o;
    const struct pm_module_desc *md;
};

static int find_option(const struct pmd *d, const char *key,
                       struct optref *out)
{
    const struct pm_option *o;
    size_t i;
    for (o = pmd_core_options; o->name; o++)
        if (!strcmp(o->name, key)) {
            out->o = o;
            out->md = &pmd_core_desc;
            return 0;
        }
    for (i = 0; i < d->mods.n; i++) {
        const struct pm_module_desc *md = d->mods.m[i].d;
        for (o = md->options; o && o->name; o++)
            if (!strcasecmp(o->name, key)) {
                out->o = o;
                out->md = md;
                return 0;
            }
    }
    return -ENOENT;
}

static const char *suggest_key(const struct pmd *d, const char *key)
{
    const char **c = NULL;
    size_t n = 0, cap = 0, i;
    const struct pm_option *o;
    const char *best;
    for (i = 0; i <= d->mods.n; i++) {
        const struct pm_option *tab =
            i == 0 ? pmd_core_options : d->mods.m[i - 1].d->options;
        for (o = tab; o && o->name; o++) {
            if (n == cap) {
                const char **nc;
                cap = cap ? cap * 2 : 64;
                nc = realloc(c, cap * sizeof(*c));
                if (!nc)
                    goto out;
                c = nc;
            }
            c[n++] = o->name;
        }
    }
out:
    best = pmd_suggest(key, c, n);
    free(c);
    return best;
}

static const char *strip_name(const char *err, const char *name)
{
    size_t l = strlen(name);
    if (!strncmp(err, name, l) && err[l] == ':' && err[l + 1] == ' ')
        return err + l + 2;
    return err;
}

/* Parse one value into a scratch struct just to validate it. */
static int check_value(struct pmd *d, const struct conf_entry *e,
                       const struct optref *r)
{
    char err[512];
    size_t sz = r->md->config_size;
    void *scratch;
    int rc;
    if (r->o->offset + 8 > sz)
        sz = r->o->offset + 8;
    scratch = calloc(1, sz);
    if (!scratch)
        return -ENOMEM;
    rc = pmc_option_parse(r->o, e->value, scratch, err, sizeof(err));
    if (rc < 0)
        pmd_error(d, "%s: key '%s': %s", conf_where(e), e->key,
                  strip_name(err, r->o->name));
    /* free only what this parse stored */
    if (r->o->type == PM_OPT_STR || r->o->type == PM_OPT_PATH ||
        r->o->type == PM_OPT_LIST)
        free(*(char **)(void *)((char *)scratch + r->o->offset));
    free(scratch);
    return rc;
}

/* Is this trigger option "set" for instance name (or globally)? */
static int trigger_set(const struct pmd *d, const struct pm_option *o,
                       const char *name)
{
    const struct conf_entry *e = conf_lookup(&d->conf, o->name, name, NULL);
    if (!e)
        return 0;
    if (o->type == PM_OPT_BOOL) {
        int v = 0;
        char err[128];
        struct {
            char pad[64];
        } tmp;
        struct pm_option oo = *o;
        oo.offset = 0;
        memset(&tmp, 0, sizeof(tmp));
        if (pmc_option_parse(&oo, e->value, &tmp, err, sizeof(err)) < 0)
            return 0;
        memcpy(&v, &tmp, sizeof(v));
        return v != 0;
    }
    return e->value[0] != 0;
}

static const char *a_kind(uint32_t kind)
{
    switch (kind) {
    case PM_KIND_CAPTURE: return "a capture";
    case PM_KIND_TRANSFORM: return "a transform";
    case PM_KIND_OUTPUT: return "an output";
    case PM_KIND_SERVICE: return "a service";
    default: return "an unknown";
    }
}

/* ---- plan building ------------------------------------------------------- */

static struct stage *stage_new(struct pmd *d, size_t sz,
                               const struct pm_mod *m, const char *name,
                               const char *pipeline,
                               const struct conf_entry *origin)
{
    struct stage *s = calloc(1, sz);
    if (!s)
        return NULL;
    s->mod = m;
    s->d = d;
    s->origin = origin;
    s->name_owned = strdup(name);
    s->inst.size = sizeof(struct pm_instance);
    s->inst.kind = m->d->kind;
    s->inst.name = s->name_owned;
    s->inst.module = m->d->name;
    s->inst.pipeline = pipeline;
    s->inst.daemon = d->daemon;
    s->inst.config_file = d->conf.main_file;
    s->inst.instance_id = ++d->next_instance_id;
    s->inst.core = s;
    return s;
}

static const char *missing_hint(struct pmd *d, const char *name)
{
    static __thread char buf[1536];
    const char **c = calloc(d->mods.n + 1, sizeof(*c));
    const char *best;
    size_t i;
    if (!c)
        return "";
    for (i = 0; i < d->mods.n; i++)
        c[i] = d->mods.m[i].name;
    best = pmd_suggest(name, c, d->mods.n);
    if (best)
        snprintf(buf, sizeof(buf), "did you mean '%s'? ", best);
    else
        buf[0] = 0;
    free(c);
    return buf;
}

static const struct pm_mod *need_module(struct pmd *d, const char *name,
                                        const struct conf_entry *e,
                                        uint32_t kind, const char *what)
{
    const struct pm_mod *m = modset_find(&d->mods, name);
    const struct pm_refused *r;
    if (!m) {
        r = modset_refused(&d->mods, name);
        if (r)
            pmd_error(d, "%s: module '%s' refused: %s", conf_where(e), name,
                      r->msg);
        else
            pmd_error(d,
                      "%s: module not found: '%s' (searched %s): %sinstall it, or "
                      "point module_dir / PMACCT_MODULE_DIR at the directory "
                      "holding %s.so",
                      conf_where(e), name, modset_dirs_text(&d->mods),
                      missing_hint(d, name), name);
        return NULL;
    }
    if (kind && m->d->kind != kind) {
        pmd_error(d, "%s: module '%s' is %s module, not %s", conf_where(e),
                  name, a_kind(m->d->kind), what);
        return NULL;
    }
    return m;
}

static struct pipeline *pipeline_add(struct pmd *d, const char *name,
                                     const struct conf_entry *origin)
{
    struct pipeline **np, *p;
    np = realloc(d->pls, (d->npls + 1) * sizeof(*np));
    if (!np)
        return NULL;
    d->pls = np;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->name = strdup(name);
    p->origin = origin;
    d->pls[d->npls++] = p;
    return p;
}

static int pipeline_push(struct pipeline *p, struct stage *s)
{
    struct stage **ns = realloc(p->st, (p->nst + 1) * sizeof(*ns));
    if (!ns)
        return -ENOMEM;
    p->st = ns;
    ns[p->nst++] = s;
    s->pl = p;
    return 0;
}

/* "type[name]" or "type" -> type, name (default) */
static int split_inst(char *tok, char **type, char **name)
{
    char *lb = strchr(tok, '['), *rb;
    *type = tok;
    *name = NULL;
    if (!lb)
        return 0;
    rb = strchr(lb, ']');
    if (!rb || rb[1])
        return -EINVAL;
    *lb = 0;
    *rb = 0;
    *name = lb + 1;
    return **name ? 0 : -EINVAL;
}

static char *trimw(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

static int cmp_order(const void *a, const void *b)
{
    const struct pm_mod *x = *(const struct pm_mod *const *)a;
    const struct pm_mod *y = *(const struct pm_mod *const *)b;
    if (x->d->order != y->d->order)
        return x->d->order < y->d->order ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int build_implicit(struct pmd *d)
{
    const struct conf_entry *e = conf_find(&d->conf, "plugins", NULL);
    char *list, *tok, *save = NULL;
    const struct pm_mod **tf = NULL;
    size_t ntf = 0, i;
    int rc = 0;

    if (!e) {
        size_t k;
        /* explicit pipelines only: no default plugin */
        for (k = 0; k < d->conf.n; k++)
            if (!strcmp(d->conf.e[k].key, "pipeline"))
                return 0;
    }
    list = strdup(e ? e->value : "memory");
    if (!list)
        return -ENOMEM;
    /* transforms, in their order */
    tf = calloc(d->mods.n + 1, sizeof(*tf));
    for (i = 0; tf && i < d->mods.n; i++)
        if (d->mods.m[i].d->kind == PM_KIND_TRANSFORM)
            tf[ntf++] = &d->mods.m[i];
    if (ntf)
        qsort(tf, ntf, sizeof(*tf), cmp_order);

    for (tok = strtok_r(list, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *type, *name;
        const struct pm_mod *m;
        struct pipeline *p;
        struct stage *s;
        tok = trimw(tok);
        if (!*tok)
            continue;
        if (split_inst(tok, &type, &name) < 0) {
            pmd_error(d, "%s: key 'plugins': malformed entry '%s': expected "
                         "type or type[name]",
                      conf_where(e), tok);
            rc = -EINVAL;
            goto out;
        }
        type = trimw(type);
        if (!name)
            name = "default";
        for (i = 0; i < d->npls; i++)
            if (!strcmp(d->pls[i]->name, name) &&
                !strcmp(d->pls[i]->st[d->pls[i]->nst - 1]->mod->name, type)) {
                pmd_error(d,
                          "%s: key 'plugins': '%s[%s]' is listed twice: give "
                          "each instance its own name",
                          conf_where(e), type, name);
                rc = -EINVAL;
                goto out;
            }
        if (!(m = need_module(d, type, e, PM_KIND_OUTPUT,
                              "an output (a plugins: entry ends a pipeline "
                              "in an output)"))) {
            rc = -EINVAL;
            goto out;
        }
        if (!(p = pipeline_add(d, name, e))) {
            rc = -ENOMEM;
            goto out;
        }
        for (i = 0; i < ntf; i++) {
            const struct pm_option *o;
            int on = 0;
            for (o = tf[i]->d->options; o && o->name; o++)
                if ((o->flags & PM_OPTF_TRIGGER) &&
                    trigger_set(d, o, p->name))
                    on = 1;
            if (!on)
                continue;
            if (!(s = stage_new(d, sizeof(*s), tf[i], p->name, p->name, e)) ||
                pipeline_push(p, s) < 0) {
                rc = -ENOMEM;
                goto out;
            }
        }
        if (!(s = stage_new(d, sizeof(*s), m, p->name, p->name, e)) ||
            pipeline_push(p, s) < 0) {
            rc = -ENOMEM;
            goto out;
        }
    }
out:
    free(tf);
    free(list);
    return rc;
}

static int build_explicit(struct pmd *d)
{
    size_t k, i;
    for (k = 0; k < d->conf.n; k++) {
        const struct conf_entry *e = &d->conf.e[k];
        char *list, *tok, *save = NULL;
        struct pipeline *p;
        int rc = 0;
        if (strcmp(e->key, "pipeline") || !e->inst)
            continue;
        if (conf_find(&d->conf, "pipeline", e->inst) != e)
            continue; /* a later line redefines it */
        for (i = 0; i < d->npls; i++)
            if (!strcmp(d->pls[i]->name, e->inst)) {
                pmd_error(d,
                          "%s: pipeline '%s' is defined twice (plugins: and "
                          "pipeline[%s]): use one form",
                          conf_where(e), e->inst, e->inst);
                return -EINVAL;
            }
        if (!(p = pipeline_add(d, e->inst, e)))
            return -ENOMEM;
        p->explicit_form = 1;
        if (!(list = strdup(e->value)))
            return -ENOMEM;
        for (tok = strtok_r(list, "|", &save); tok && rc == 0;
             tok = strtok_r(NULL, "|", &save)) {
            char *type, *name;
            const struct pm_mod *m;
            struct stage *s;
            int last;
            tok = trimw(tok);
            last = save == NULL || *trimw(save) == 0;
            if (!*tok || split_inst(tok, &type, &name) < 0) {
                pmd_error(d,
                          "%s: key 'pipeline': malformed stage '%s': expected "
                          "module or module[instance]",
                          conf_where(e), tok);
                rc = -EINVAL;
                break;
            }
            type = trimw(type);
            m = need_module(d, type, e, 0, NULL);
            if (!m) {
                rc = -EINVAL;
                break;
            }
            if (last && m->d->kind != PM_KIND_OUTPUT) {
                pmd_error(d,
                          "%s: pipeline '%s' must end in an output module; "
                          "'%s' is %s module",
                          conf_where(e), e->inst, type,
                          a_kind(m->d->kind));
                rc = -EINVAL;
                break;
            }
            if (!last && m->d->kind != PM_KIND_TRANSFORM) {
                pmd_error(d,
                          "%s: pipeline '%s': '%s' is %s module; only "
                          "transforms may come before the output",
                          conf_where(e), e->inst, type,
                          a_kind(m->d->kind));
                rc = -EINVAL;
                break;
            }
            s = stage_new(d, sizeof(*s), m, name ? name : e->inst, p->name,
                          e);
            if (!s || pipeline_push(p, s) < 0)
                rc = -ENOMEM;
        }
        if (rc == 0 && p->nst == 0) {
            pmd_error(d, "%s: pipeline '%s' is empty", conf_where(e),
                      e->inst);
            rc = -EINVAL;
        }
        free(list);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int build_captures_services(struct pmd *d)
{
    size_t k, i;
    const char *defmod = pmd_daemon_module(d->daemon);
    int explicit_caps = 0;

    for (k = 0; k < d->conf.n; k++) {
        const struct conf_entry *e = &d->conf.e[k];
        const struct pm_mod *m;
        struct capture *c, **nc;
        if (strcmp(e->key, "capture") || !e->inst)
            continue;
        if (conf_find(&d->conf, "capture", e->inst) != e)
            continue;
        explicit_caps = 1;
        if (!(m = need_module(d, e->value, e, PM_KIND_CAPTURE,
                              "a capture")))
            return -EINVAL;
        c = (struct capture *)stage_new(d, sizeof(*c), m, e->inst, NULL, e);
        nc = realloc(d->caps, (d->ncaps + 1) * sizeof(*nc));
        if (!c || !nc)
            return -ENOMEM;
        d->caps = nc;
        nc[d->ncaps++] = c;
    }
    if (!explicit_caps) {
        const struct pm_mod *m;
        if (!defmod) {
            pmd_error(d,
                      "unknown daemon name '%s' and no capture[name]: key: "
                      "run as pmacctd, nfacctd, sfacctd, uacctd, "
                      "pmtelemetryd, pmbgpd or pmbmpd, or use --daemon NAME",
                      d->daemon);
            return -EINVAL;
        }
        m = modset_find(&d->mods, defmod);
        if (!m) {
            const struct pm_refused *r = modset_refused(&d->mods, defmod);
            if (r)
                pmd_error(d, "%s needs module '%s', which was refused: %s",
                          d->daemon, defmod, r->msg);
            else
                pmd_error(d,
                          "%s needs the '%s' module: %s.so not found in %s; "
                          "install it (configure --enable-%s), or point "
                          "module_dir / PMACCT_MODULE_DIR at its directory",
                          d->daemon, defmod, defmod,
                          modset_dirs_text(&d->mods), defmod);
            return -EINVAL;
        }
        if (m->d->kind == PM_KIND_CAPTURE) {
            struct capture *c = (struct capture *)stage_new(
                d, sizeof(*c), m, "default", NULL, NULL);
            d->caps = calloc(1, sizeof(*d->caps));
            if (!c || !d->caps)
                return -ENOMEM;
            d->caps[d->ncaps++] = c;
        } else if (m->d->kind == PM_KIND_SERVICE) {
            struct service *s = (struct service *)stage_new(
                d, sizeof(*s), m, "default", NULL, NULL);
            d->svcs = calloc(1, sizeof(*d->svcs));
            if (!s || !d->svcs)
                return -ENOMEM;
            d->svcs[d->nsvcs++] = s;
        } else {
            pmd_error(d, "%s: module '%s' is %s module, not a capture",
                      d->daemon, defmod, a_kind(m->d->kind));
            return -EINVAL;
        }
    }
    /* services started by their trigger keys */
    for (i = 0; i < d->mods.n; i++) {
        const struct pm_mod *m = &d->mods.m[i];
        const struct pm_option *o;
        int on = 0;
        size_t j;
        struct service *s, **ns;
        if (m->d->kind != PM_KIND_SERVICE)
            continue;
        for (j = 0; j < d->nsvcs; j++)
            if (d->svcs[j]->st.mod == m)
                on = -1;
        if (on < 0)
            continue;
        for (o = m->d->options; o && o->name; o++)
            if ((o->flags & PM_OPTF_TRIGGER) && trigger_set(d, o, "default"))
                on = 1;
        if (!on)
            continue;
        s = (struct service *)stage_new(d, sizeof(*s), m, "default", NULL,
                                        NULL);
        ns = realloc(d->svcs, (d->nsvcs + 1) * sizeof(*ns));
        if (!s || !ns)
            return -ENOMEM;
        d->svcs = ns;
        ns[d->nsvcs++] = s;
    }
    return 0;
}

/* Is `name` an instance of the plan? */
static int instance_exists(const struct pmd *d, const char *name)
{
    size_t i, j;
    for (i = 0; i < d->npls; i++) {
        if (!strcmp(d->pls[i]->name, name))
            return 1;
        for (j = 0; j < d->pls[i]->nst; j++)
            if (!strcmp(d->pls[i]->st[j]->inst.name, name))
                return 1;
    }
    for (i = 0; i < d->ncaps; i++)
        if (!strcmp(d->caps[i]->st.inst.name, name))
            return 1;
    for (i = 0; i < d->nsvcs; i++)
        if (!strcmp(d->svcs[i]->st.inst.name, name))
            return 1;
    return 0;
}

static int configure_stage(struct pmd *d, struct stage *s)
{
    const struct pm_module_desc *md = s->mod->d;
    const struct pm_option *o;
    const char *inst2 = s->pl ? s->pl->name : NULL;
    char err[512];
    int rc;
    s->config = calloc(1, md->config_size ? md->config_size : 1);
    if (!s->config)
        return -ENOMEM;
    if ((rc = pmc_options_defaults(md->options, s->config, err,
                                   sizeof(err))) < 0) {
        pmd_error(d, "%s: module '%s' has a bad default: %s (module bug)",
                  s->mod->path, md->name, err);
        return rc;
    }
    for (o = md->options; o && o->name; o++) {
        const struct conf_entry *e =
            conf_lookup(&d->conf, o->name, s->inst.name, inst2);
        if (!e) {
            if (o->flags & PM_OPTF_REQUIRED) {
                pmd_error(d,
                          "%s: %s module '%s' (instance '%s') needs key '%s': "
                          "%s",
                          d->conf.main_file ? d->conf.main_file
                                            : "command line",
                          kind_name(md->kind), md->name, s->inst.name,
                          o->name, o->help ? o->help : "set it");
                return -EINVAL;
            }
            continue;
        }
        if ((rc = pmc_option_parse(o, e->value, s->config, err,
                                   sizeof(err))) < 0) {
            pmd_error(d, "%s: key '%s': %s", conf_where(e), o->name,
                      strip_name(err, o->name));
            return rc;
        }
    }
    {
        const struct conf_entry *e =
            conf_lookup(&d->conf, "debug", s->inst.name, inst2);
        s->inst.debug = (uint32_t)d->cc.debug;
        if (e)
            s->inst.debug = !strcasecmp(e->value, "true") ||
                            !strcmp(e->value, "1") ||
                            !strcasecmp(e->value, "yes");
    }
    s->inst.savefile = (uint32_t)d->savefile;
    return 0;
}

static int configure_aggregate(struct pmd *d, struct pipeline *p)
{
    struct stage *out = p->st[p->nst - 1];
    const struct conf_entry *e =
        conf_lookup(&d->conf, "aggregate", out->inst.name, p->name);
    char err[512];
    int flows = 0, rc;
    size_t i;
    rc = pmc_aggregate_parse(e ? e->value : "src_host", p->agg, &p->nagg,
                             PM_P_MAX, &p->sum_mode, &flows, err,
                             sizeof(err));
    if (rc < 0) {
        pmd_error(d, "%s: key 'aggregate': %s", conf_where(e),
                  strip_name(err, "aggregate"));
        return rc;
    }
    memset(&p->aggset, 0, sizeof(p->aggset));
    for (i = 0; i < p->nagg; i++) {
        pm_pset_set(&p->aggset, p->agg[i]);
        if (!pm_pset_has(&d->agg_union, p->agg[i])) {
            pm_pset_set(&d->agg_union, p->agg[i]);
            d->agg_union_ids[d->nagg_union++] = p->agg[i];
        }
    }
    for (i = 0; i < p->nst; i++) {
        p->st[i]->inst.aggregate = p->agg;
        p->st[i]->inst.naggregate = p->nagg;
        p->st[i]->inst.aggregate_set = p->aggset;
        p->st[i]->inst.sum_mode = p->sum_mode;
    }
    return 0;
}

static int check_singletons(struct pmd *d)
{
    size_t i, j, k, cnt;
    for (i = 0; i < d->mods.n; i++) {
        const struct pm_mod *m = &d->mods.m[i];
        if (!(m->d->flags & PM_MF_SINGLETON))
            continue;
        cnt = 0;
        for (j = 0; j < d->npls; j++)
            for (k = 0; k < d->pls[j]->nst; k++)
                cnt += d->pls[j]->st[k]->mod == m;
        for (j = 0; j < d->ncaps; j++)
            cnt += d->caps[j]->st.mod == m;
        if (cnt > 1) {
            pmd_error(d,
                      "module '%s' can run only once per daemon, but the "
                      "configuration asks for %zu instances",
                      m->name, cnt);
            return -EINVAL;
        }
    }
    return 0;
}

/* Before judging keys: is every output named by `plugins:` present?  A
 * missing module is the real error when its keys look unknown (a config
 * with sql_* keys on a machine without the mysql module). */
static int check_plugin_modules(struct pmd *d)
{
    const struct conf_entry *e = conf_find(&d->conf, "plugins", NULL);
    char *list, *tok, *save = NULL;
    int rc = 0;

    if (!e)
        return 0;
    if (!(list = strdup(e->value)))
        return -ENOMEM;
    for (tok = strtok_r(list, ",", &save); tok && !rc;
         tok = strtok_r(NULL, ",", &save)) {
        char *type, *name;
        tok = trimw(tok);
        if (!*tok || split_inst(tok, &type, &name) < 0)
            continue;
        type = trimw(type);
        if (!modset_find(&d->mods, type) &&
            !need_module(d, type, e, PM_KIND_OUTPUT, "an output"))
            rc = -ENOENT;
    }
    free(list);
    return rc;
}

int pmd_resolve(struct pmd *d)
{
    size_t k, i, j;
    char err[512];
    int rc;

    /* 1. every key known, flags respected, values well-formed */
    for (k = 0; k < d->conf.n; k++) {
        const struct conf_entry *e = &d->conf.e[k];
        struct optref r;
        if (find_option(d, e->key, &r) < 0) {
            const char *s = suggest_key(d, e->key);
            if ((rc = check_plugin_modules(d)) < 0)
                return rc;
            if (s)
                pmd_error(d, "%s: unknown key '%s' (did you mean '%s'?)",
                          conf_where(e), e->key, s);
            else
                pmd_error(d, "%s: unknown key '%s' (no module in %s "
                             "declares it; see --list-modules)",
                          conf_where(e), e->key, modset_dirs_text(&d->mods));
            return -EINVAL;
        }
        if ((r.o->flags & PM_OPTF_GLOBAL) && e->inst) {
            pmd_error(d,
                      "%s: key '%s' applies to the whole daemon: write it "
                      "without [%s]",
                      conf_where(e), e->key, e->inst);
            return -EINVAL;
        }
        if ((r.o->flags & PM_OPTF_NO_GLOBAL) && !e->inst) {
            pmd_error(d,
                      "%s: key '%s' must name an instance: write %s[name]: "
                      "...",
                      conf_where(e), e->key, e->key);
            return -EINVAL;
        }
        if ((rc = check_value(d, e, &r)) < 0)
            return rc;
    }

    /* 2. core options */
    if (d->cc_set)
        pmc_options_free(pmd_core_options, &d->cc);
    memset(&d->cc, 0, sizeof(d->cc));
    if ((rc = pmc_options_defaults(pmd_core_options, &d->cc, err,
                                   sizeof(err))) < 0) {
        pmd_error(d, "core option default: %s", err);
        return rc;
    }
    d->cc_set = 1;
    for (const struct pm_option *o = pmd_core_options; o->name; o++) {
        const struct conf_entry *e = conf_find(&d->conf, o->name, NULL);
        if (e && (rc = pmc_option_parse(o, e->value, &d->cc, err,
                                        sizeof(err))) < 0)
            return rc; /* already reported by check_value */
    }
    log_set_debug(d->cc.debug);
    pmc_custom_reset();
    if (d->cc.aggregate_primitives && d->cc.aggregate_primitives[0] &&
        (rc = pmc_custom_load(d->cc.aggregate_primitives, err,
                              sizeof(err))) < 0) {
        pmd_error(d, "%s: key 'aggregate_primitives': %s",
                  conf_where(conf_find(&d->conf, "aggregate_primitives",
                                       NULL)),
                  err);
        return rc;
    }
    {
        const struct conf_entry *e = conf_find(&d->conf, "pcap_savefile", NULL);
        if (!e)
            e = conf_find(&d->conf, "savefile", NULL);
        d->savefile = e && e->value[0];
    }
    d->batch_size = (uint32_t)(d->cc.batch_size ? d->cc.batch_size : 256);
    if (d->cc.batch_size > 65536) {
        pmd_error(d, "%s: key 'pipeline_batch_size': at most 65536, got %llu",
                  conf_where(conf_find(&d->conf, "pipeline_batch_size", NULL)),
                  (unsigned long long)d->cc.batch_size);
        return -EINVAL;
    }
    d->queue_batches =
        (uint32_t)(d->cc.queue_batches ? d->cc.queue_batches : 64);
    if (d->cc.queue_batches > 1u << 20) {
        pmd_error(d, "%s: key 'pipeline_queue_batches': at most 1048576",
                  conf_where(conf_find(&d->conf, "pipeline_queue_batches",
                                       NULL)));
        return -EINVAL;
    }
    d->overload_drop = d->cc.overload == PMD_OVERLOAD_DROP ||
                       (d->cc.overload == PMD_OVERLOAD_AUTO && !d->savefile);

    /* 3. the plan */
    if ((rc = build_explicit(d)) < 0 || (rc = build_implicit(d)) < 0 ||
        (rc = build_captures_services(d)) < 0 ||
        (rc = check_singletons(d)) < 0)
        return rc;
    /* unique pipeline ids */
    for (i = 0; i < d->npls; i++) {
        struct pipeline *p = d->pls[i];
        int dup = 0;
        char buf[512];
        for (j = 0; j < d->npls; j++)
            if (j != i && !strcmp(d->pls[j]->name, p->name))
                dup = 1;
        if (dup)
            snprintf(buf, sizeof(buf), "%s_%s", p->name,
                     p->st[p->nst - 1]->mod->name);
        else
            snprintf(buf, sizeof(buf), "%s", p->name);
        p->id = strdup(buf);
        p->overload_drop = d->overload_drop;
    }

    /* 4. key[name] must name an instance */
    for (k = 0; k < d->conf.n; k++) {
        const struct conf_entry *e = &d->conf.e[k];
        if (!e->inst || !strcmp(e->key, "pipeline") ||
            !strcmp(e->key, "capture"))
            continue;
        if (!instance_exists(d, e->inst)) {
            const char **c = NULL;
            size_t n = 0;
            const char *best;
            c = calloc(d->npls + d->ncaps + 1, sizeof(*c));
            for (i = 0; c && i < d->npls; i++)
                c[n++] = d->pls[i]->name;
            for (i = 0; c && i < d->ncaps; i++)
                c[n++] = d->caps[i]->st.inst.name;
            best = pmd_suggest(e->inst, c, n);
            pmd_error(d,
                      "%s: key '%s[%s]': no instance named '%s' (instances "
                      "come from plugins: type[name], pipeline[name] and "
                      "capture[name])%s%s%s",
                      conf_where(e), e->key, e->inst, e->inst,
                      best ? "; did you mean '" : "", best ? best : "",
                      best ? "'?" : "");
            free(c);
            return -EINVAL;
        }
    }

    /* 5. per-instance configs and aggregation */
    for (i = 0; i < d->npls; i++) {
        for (j = 0; j < d->pls[i]->nst; j++)
            if ((rc = configure_stage(d, d->pls[i]->st[j])) < 0)
                return rc;
        if ((rc = configure_aggregate(d, d->pls[i])) < 0)
            return rc;
    }
    for (i = 0; i < d->ncaps; i++) {
        struct stage *s = &d->caps[i]->st;
        if ((rc = configure_stage(d, s)) < 0)
            return rc;
        s->inst.aggregate = d->agg_union_ids;
        s->inst.naggregate = d->nagg_union;
        s->inst.aggregate_set = d->agg_union;
    }
    for (i = 0; i < d->nsvcs; i++)
        if ((rc = configure_stage(d, &d->svcs[i]->st)) < 0)
            return rc;

    /* 6. what captures must keep */
    d->capf = 0;
    d->snaplen = 0;
    for (i = 0; i < d->npls; i++)
        for (j = 0; j < d->pls[i]->nst; j++)
            if (d->pls[i]->st[j]->mod->d->flags & PM_MF_NEEDS_PACKETS)
                d->capf |= PM_CAPF_KEEP_PACKETS;
    if (d->capf & PM_CAPF_KEEP_PACKETS) {
        const struct conf_entry *e = conf_find(&d->conf, "snaplen", NULL);
        d->snaplen = e ? (uint32_t)strtoul(e->value, NULL, 10) : 0;
        if (!d->snaplen || d->snaplen > 65535)
            d->snaplen = 1500; /* enough for classifiers; see docs */
    }
    return 0;
}

/* ---- --check-config ------------------------------------------------------ */

static void print_stage(struct pmd *d, FILE *f, const struct stage *s,
                        const char *indent)
{
    const struct pm_option *o;
    const char *inst2 = s->pl ? s->pl->name : NULL;
    fprintf(f, "%s%s %s[%s]  (%s)\n", indent, kind_name(s->mod->d->kind),
            s->mod->name, s->inst.name, s->mod->path);
    for (o = s->mod->d->options; o && o->name; o++) {
        const struct conf_entry *e =
            conf_lookup(&d->conf, o->name, s->inst.name, inst2);
        const char *v = e ? e->value : o->defval;
        if (!e && !v)
            continue;
        if (o->flags & PM_OPTF_SECRET)
            v = "***";
        fprintf(f, "%s    %s = %s%s\n", indent, o->name, v,
                e ? "" : "  (default)");
    }
}

void pmd_print_plan(struct pmd *d, FILE *f)
{
    size_t i, j;
    fprintf(f, "daemon: %s\n", d->daemon);
    fprintf(f, "config: %s\n",
            d->conf.main_file ? d->conf.main_file : "(command line)");
    fprintf(f, "module path: %s\n", modset_dirs_text(&d->mods));
    fprintf(f, "batches: %u records, %u per queue, overload: %s%s\n",
            d->batch_size, d->queue_batches,
            d->overload_drop ? "drop" : "block",
            d->savefile ? " (finite input)" : "");
    for (i = 0; i < d->ncaps; i++)
        print_stage(d, f, &d->caps[i]->st, "");
    for (i = 0; i < d->npls; i++) {
        struct pipeline *p = d->pls[i];
        fprintf(f, "pipeline %s:", p->id);
        for (j = 0; j < p->nst; j++)
            fprintf(f, "%s %s", j ? " |" : "", p->st[j]->mod->name);
        fprintf(f, "\n    aggregate: ");
        for (j = 0; j < p->nagg; j++) {
            const struct pm_prim_info *pi = pmc_prim_info(p->agg[j]);
            fprintf(f, "%s%s", j ? ", " : "", pi ? pi->name : "?");
        }
        fprintf(f, "\n");
        for (j = 0; j < p->nst; j++)
            print_stage(d, f, p->st[j], "  ");
    }
    for (i = 0; i < d->nsvcs; i++)
        print_stage(d, f, &d->svcs[i]->st, "");
    fprintf(f, "core:\n");
    for (const struct pm_option *o = pmd_core_options; o->name; o++) {
        const struct conf_entry *e = conf_find(&d->conf, o->name, NULL);
        const char *v = e ? e->value : o->defval;
        if (!v || (o->flags & PM_OPTF_NO_GLOBAL))
            continue;
        if (o->flags & PM_OPTF_SECRET)
            v = "***";
        fprintf(f, "    %s = %s%s%s\n", o->name, v, e ? "" : "  (default)",
                (o->flags & PM_OPTF_COMPAT) && e ? "  (ignored)" : "");
    }
}

static void free_stage(struct stage *s)
{
    if (!s)
        return;
    if (s->config) {
        pmc_options_free(s->mod->d->options, s->config);
        free(s->config);
    }
    free(s->name_owned);
    free(s);
}

void pmd_free(struct pmd *d)
{
    size_t i, j;
    for (i = 0; i < d->npls; i++) {
        struct pipeline *p = d->pls[i];
        for (j = 0; j < p->nst; j++)
            free_stage(p->st[j]);
        free(p->st);
        free(p->name);
        free(p->id);
        free(p);
    }
    free(d->pls);
    for (i = 0; i < d->ncaps; i++)
        free_stage(&d->caps[i]->st);
    free(d->caps);
    for (i = 0; i < d->nsvcs; i++)
        free_stage(&d->svcs[i]->st);
    free(d->svcs);
    if (d->cc_set)
        pmc_options_free(pmd_core_options, &d->cc);
    conf_free(&d->conf);
    modset_free(&d->mods);
    free(d->daemon);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    memset(d, 0, sizeof(*d));
}
