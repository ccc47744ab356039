/*
 * example_count.c - an example output module for the pmacct SDK: counts
 * records and bytes per IP protocol and writes the totals to
 * example_count_file at the final flush (end of a savefile, or shutdown).
 *
 * Threads: init() and fini() run on the main thread; process(), tick() and
 * flush() on the pipeline thread.  Nothing is shared: all state is in the
 * instance context.
 *
 * Build:   make            (uses `pkg-config --cflags pmacct-sdk` only)
 * Install: make install    (into `pkg-config --variable=moduledir pmacct-sdk`)
 * Use:     pipeline[p]: example_count
 *          example_count_file[p]: /tmp/counts.txt
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

struct count_config {
    char *file; /* example_count_file */
};

static const struct pm_option count_options[] = {
    {"example_count_file", PM_OPT_PATH, PM_OPTF_REQUIRED,
     offsetof(struct count_config, file), NULL, "path",
     "file the per-protocol totals are written to at flush", 0},
    PM_OPTION_END,
};

struct count_ctx {
    const struct pm_host *host;
    const struct pm_instance *inst;
    const char *file;
    uint64_t records[256];
    uint64_t bytes[256];
};

static int count_init(const struct pm_host *host,
                      const struct pm_instance *inst, void *config, void **ctxp)
{
    struct count_config *cfg = config;
    struct count_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->host = host;
    c->inst = inst;
    c->file = cfg->file;
    *ctxp = c;
    return 0;
}

static int count_process(void *ctx, struct pm_batch *b)
{
    struct count_ctx *c = ctx;
    for (uint32_t i = 0; i < b->n; i++) {
        const struct pm_rec *r = pm_batch_rec(b, i);
        if (pm_batch_dropped(b, i))
            continue;
        c->records[r->proto] += 1;
        c->bytes[r->proto] += r->bytes;
    }
    return 0;
}

/* Write "proto records bytes" lines for every protocol seen. */
static int count_flush(void *ctx, int reason)
{
    struct count_ctx *c = ctx;
    struct pm_buf out = {0};
    FILE *f = NULL;
    int rc = 0;

    if (reason != PM_FLUSH_FINAL)
        return 0;
    for (unsigned p = 0; p < 256; p++) {
        if (!c->records[p])
            continue;
        rc = c->host->buf_printf(&out, "proto=%u records=%llu bytes=%llu\n", p,
                                 (unsigned long long)c->records[p],
                                 (unsigned long long)c->bytes[p]);
        if (rc < 0)
            goto fail;
    }
    f = fopen(c->file, "w");
    if (!f) {
        rc = -errno;
        PM_ERR(c->host, c->inst, "example_count_file %s: %s", c->file,
               strerror(errno));
        goto fail;
    }
    if (out.len && fwrite(out.p, 1, out.len, f) != out.len)
        rc = -EIO;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    if (rc < 0)
        PM_ERR(c->host, c->inst, "example_count_file %s: write failed",
               c->file);
fail:
    free(out.p);
    return rc;
}

static void count_fini(void *ctx)
{
    free(ctx);
}

static const struct pm_module_desc count_desc = {
    PM_MODULE_HEAD(PM_KIND_OUTPUT),
    .name = "example_count",
    .version = "1.0",
    .summary = "example: records and bytes per IP protocol",
    .options = count_options,
    .config_size = sizeof(struct count_config),
    .init = count_init,
    .process = count_process,
    .flush = count_flush,
    .fini = count_fini,
};

PM_MODULE_EXPORT(count_desc)
