/*
 * plan.c - building the plan from a validated configuration: captures,
 * pipelines (pmacct's implicit `plugins:` form with transforms inserted by
 * their trigger keys, or the explicit `pipeline[name]: a | b | out` form)
 * and services; printing it (--check-config) and freeing it.  Option
 * validation and pmd_resolve(), which drives these steps, are in options.c.
 *
 * Runs on the main thread before any thread starts.
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

/* Does the aggregate of pipeline name list any of prims (NULL-terminated)? */
static int aggregates_any(const struct pmd *d, const char *name,
                          const char *const *prims)
{
    const struct conf_entry *e;
    char *list, *tok, *save = NULL;
    int hit = 0;
    if (!prims || !*prims)
        return 0;
    e = conf_lookup(&d->conf, "aggregate", name, NULL);
    if (!e || !(list = strdup(e->value)))
        return 0;
    for (tok = strtok_r(list, ", \t", &save); tok && !hit;
         tok = strtok_r(NULL, ", \t", &save))
        for (const char *const *p = prims; *p && !hit; p++)
            hit = !strcmp(tok, *p);
    free(list);
    return hit;
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

int pmd_plan_implicit(struct pmd *d)
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
            if (!on && aggregates_any(d, p->name, tf[i]->d->trigger_prims))
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

int pmd_plan_explicit(struct pmd *d)
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

int pmd_plan_captures_services(struct pmd *d)
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

/* Before judging keys: is every output named by `plugins:` present?  A
 * missing module is the real error when its keys look unknown (a config
 * with sql_* keys on a machine without the mysql module). */
int pmd_plan_check_outputs(struct pmd *d)
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
    if (d->overload == PMD_OVERLOAD_WAIT)
        fprintf(f,
                "batches: %u records, %u per queue, overload: wait %llu ms, "
                "then drop\n",
                d->batch_size, d->queue_batches,
                (unsigned long long)d->cc.overload_wait);
    else
        fprintf(f, "batches: %u records, %u per queue, overload: %s%s\n",
                d->batch_size, d->queue_batches,
                d->overload == PMD_OVERLOAD_DROP ? "drop" : "block",
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

