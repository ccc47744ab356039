/*
 * example_tag.c - an example transform module for the pmacct SDK: sets the
 * `tag` primitive (and, optionally, `label`) of every record whose source
 * or destination port is example_tag_port.
 *
 * Threads: init() and fini() run on the main thread, process() on the
 * pipeline thread of the pipeline this instance serves.  Nothing is shared:
 * all state is in the instance context (a module may run as several named
 * instances at once, so there is no static mutable state).
 *
 * Build:   make            (uses `pkg-config --cflags pmacct-sdk` only)
 * Install: make install    (into `pkg-config --variable=moduledir pmacct-sdk`)
 * Use:     pipeline[web]: example_tag | print
 *          example_tag_port: 80
 *          example_tag_value: 100
 *          aggregate[web]: tag, src_host, dst_host
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

/* The configuration: the core parses the config file into this struct,
 * following the option table below, before init() is called. */
struct tag_config {
    uint64_t port;  /* example_tag_port */
    uint64_t value; /* example_tag_value */
    char *label;    /* example_tag_label (NULL when unset) */
};

static const struct pm_option tag_options[] = {
    {"example_tag_port", PM_OPT_UINT, PM_OPTF_REQUIRED,
     offsetof(struct tag_config, port), NULL, "0-65535",
     "tag records with this source or destination port", 0},
    {"example_tag_value", PM_OPT_UINT, 0, offsetof(struct tag_config, value),
     "1", "number", "the tag value to set", 0},
    {"example_tag_label", PM_OPT_STR, 0, offsetof(struct tag_config, label),
     NULL, "text", "also set the label primitive to this text", 0},
    PM_OPTION_END,
};

/* The instance context. */
struct tag_ctx {
    const struct pm_host *host;
    const struct pm_instance *inst;
    uint16_t port;
    uint64_t value;
    const char *label;
    size_t label_len;
    uint64_t *tagged; /* a stats counter: pmacct_example_tag_tagged */
};

static int tag_init(const struct pm_host *host, const struct pm_instance *inst,
                    void *config, void **ctxp)
{
    struct tag_config *cfg = config;
    struct tag_ctx *c;

    if (cfg->port > 65535) {
        PM_ERR(host, inst, "example_tag_port: %llu is not a port number",
               (unsigned long long)cfg->port);
        return -EINVAL;
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->host = host;
    c->inst = inst;
    c->port = (uint16_t)cfg->port;
    c->value = cfg->value;
    c->label = cfg->label; /* core-owned, lives as long as the instance */
    c->label_len = cfg->label ? strlen(cfg->label) : 0;
    c->tagged = host->counter(inst, "tagged", "records tagged");
    if (!c->tagged) {
        free(c);
        return -ENOMEM;
    }
    *ctxp = c;
    return 0;
}

static int tag_process(void *ctx, struct pm_batch *b)
{
    struct tag_ctx *c = ctx;
    uint64_t n = 0;

    for (uint32_t i = 0; i < b->n; i++) {
        struct pm_rec *r = pm_batch_rec(b, i); /* never b->recs[i] */
        if (pm_batch_dropped(b, i))
            continue;
        if (r->src_port != c->port && r->dst_port != c->port)
            continue;
        r->tag = c->value;
        pm_rec_set(r, PM_P_TAG);
        if (c->label_len &&
            c->host->batch_str(b, c->label, c->label_len, &r->label) == 0)
            pm_rec_set(r, PM_P_LABEL);
        n++;
    }
    pm_counter_add(c->tagged, n);
    return 0;
}

static void tag_fini(void *ctx)
{
    free(ctx);
}

static const struct pm_module_desc tag_desc = {
    PM_MODULE_HEAD(PM_KIND_TRANSFORM),
    .name = "example_tag",
    .version = "1.0",
    .summary = "example: tag records by port",
    .order = 300,
    .options = tag_options,
    .config_size = sizeof(struct tag_config),
    .init = tag_init,
    .process = tag_process,
    .fini = tag_fini,
};

PM_MODULE_EXPORT(tag_desc)
