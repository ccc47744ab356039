/*
 * fuzz_conf.c - libFuzzer target over the configuration file syntax
 * (core/conf.c: conf_parse_text, conf_find, conf_lookup, conf_where) and
 * the option value parser every key's value goes through (core/optval.c:
 * pmc_option_parse with each option type).  The input is the text of a
 * config file.
 *
 * Build (tests/fuzz/run-fuzzers.sh does this; S = source tree):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *     -I$S/sdk/include -I$S/core $S/tests/fuzz/fuzz_conf.c $S/core/conf.c \
 *     $S/core/optval.c -o /tmp/fuzz_conf
 *   /tmp/fuzz_conf -max_len=4096 $S/tests/fuzz/corpus/conf
 *
 * Single-threaded; nothing survives an input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pmd.h"
#include "pmdata.h"

struct cfg {
    char *s, *p, *l;
    int b, e;
    int64_t i;
    uint64_t u, z, d;
};

#define O(f) offsetof(struct cfg, f)
static const struct pm_option opts[] = {
    {"s", PM_OPT_STR, 0, O(s), NULL, NULL, "x", 0},
    {"b", PM_OPT_BOOL, 0, O(b), NULL, NULL, "x", 0},
    {"i", PM_OPT_INT, 0, O(i), NULL, NULL, "x", 0},
    {"u", PM_OPT_UINT, 0, O(u), NULL, NULL, "x", 0},
    {"z", PM_OPT_SIZE, 0, O(z), NULL, NULL, "x", 0},
    {"d", PM_OPT_DURATION, 0, O(d), NULL, NULL, "x", 0},
    {"e", PM_OPT_ENUM, 0, O(e), NULL, "formatted|csv|json", "x", 0},
    {"p", PM_OPT_PATH, 0, O(p), NULL, NULL, "x", 0},
    {"l", PM_OPT_LIST, 0, O(l), NULL, NULL, "x", 0},
    PM_OPTION_END,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct conf c;
    struct cfg cfg;
    char err[512];
    char *text = malloc(size + 1);
    size_t i;
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    memset(&c, 0, sizeof(c));
    memset(&cfg, 0, sizeof(cfg));
    err[0] = 0;
    if (conf_parse_text(&c, text, "fuzz.conf", err, sizeof(err)) < 0) {
        if (!err[0])
            abort(); /* a refusal always says why */
    }
    for (i = 0; i < c.n; i++) {
        const struct conf_entry *e = &c.e[i];
        const struct pm_option *o;
        if (!e->key || !e->value || !conf_where(e))
            abort();
        if (!conf_find(&c, e->key, e->inst))
            abort();
        (void)conf_lookup(&c, e->key, e->inst, "other");
        for (o = opts; o->name; o++)
            (void)pmc_option_parse(o, e->value, &cfg, err, sizeof(err));
    }
    pmc_options_free(opts, &cfg);
    conf_free(&c);
    free(text);
    return 0;
}
