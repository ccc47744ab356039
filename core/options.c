/*
 * options.c - the core's own option table and validation of every
 * configuration entry against the core and module option tables;
 * pmd_resolve() drives the plan building of plan.c and configures each
 * instance with its parsed config struct.
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
     "savefiles; for live input wait up to pipeline_overload_wait, then "
     "drop until the queue half-drains)",
     0},
    {"pipeline_overload_wait", PM_OPT_UINT, PM_OPTF_GLOBAL, CO(overload_wait),
     "1000", "ms",
     "pipeline_overload auto, live input: how long a capture waits for room "
     "in a full queue before that pipeline sheds load",
     0},
    {"pipeline_inline", PM_OPT_ENUM, PM_OPTF_GLOBAL, CO(inline_mode), "auto",
     "auto|true|false",
     "(ours) a capture thread runs a batch through the pipeline itself when "
     "the pipeline thread has nothing queued or running, instead of queueing "
     "it (no hand-over between cores: less CPU per record); the pipeline "
     "thread still runs ticks, purges and what is queued while it is busy. "
     "auto: nfacctd and sfacctd with live input and one pipeline",
     0},
    {"files_umask", PM_OPT_STR, PM_OPTF_GLOBAL, CO(files_umask), NULL,
     "octal", "umask for files the daemon creates, e.g. 077", 0},
    {"aggregate_primitives", PM_OPT_PATH, PM_OPTF_GLOBAL,
     CO(aggregate_primitives), NULL, "file",
     "custom primitives (pmacct's primitives.lst syntax: name=, "
     "field_type=, packet_ptr=, len=, semantics=), usable in aggregate",
     0},
    {"timestamps_since_epoch", PM_OPT_BOOL, 0, CO(enc[0]), "false", NULL,
     "timestamps as seconds.microseconds since the epoch", 0},
    {"timestamps_secs", PM_OPT_BOOL, 0, CO(enc[1]), "false", NULL,
     "timestamps without microseconds", 0},
    {"pre_tag_label_encode_as_map", PM_OPT_BOOL, 0, CO(enc[2]), "false", NULL,
     "JSON: the label \"k1%v1,k2%v2\" as a map {\"k1\": \"v1\", ...}", 0},
    {"tcpflags_encode_as_array", PM_OPT_BOOL, 0, CO(enc[3]), "false", NULL,
     "JSON: tcp_flags as an array of flag names, e.g. [\"ACK\", \"SYN\"]",
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
            if ((rc = pmd_plan_check_outputs(d)) < 0)
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
    d->overload = d->cc.overload;
    if (d->overload == PMD_OVERLOAD_AUTO)
        d->overload = d->savefile ? PMD_OVERLOAD_BLOCK : PMD_OVERLOAD_WAIT;

    /* 3. the plan */
    if ((rc = pmd_plan_explicit(d)) < 0 || (rc = pmd_plan_implicit(d)) < 0 ||
        (rc = pmd_plan_captures_services(d)) < 0 ||
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
        p->overload = d->overload;
        p->overload_wait_ns = d->cc.overload_wait * 1000000ull;
        /* auto: the flow collectors, whose records are light to aggregate
         * and whose bursts wait in a large socket buffer; not pmacctd and
         * uacctd, whose pipelines may classify every packet: there the
         * capture thread keeps to capturing */
        p->inline_run =
            d->cc.inline_mode == PMD_INLINE_TRUE ||
            (d->cc.inline_mode == PMD_INLINE_AUTO && !d->savefile &&
             d->npls == 1 && d->daemon &&
             (!strcmp(d->daemon, "nfacctd") || !strcmp(d->daemon, "sfacctd")));
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

