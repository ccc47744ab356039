/*
 * fakehost.h - a fake core for module unit tests: a struct pm_host whose
 * data functions (decode, prim_*, render_*, cache_*, batch_str, batch_pkt,
 * buf_printf) are the real libpmdata ones; log/log_limited print to stderr
 * AND append to a text buffer; now() = wall clock; counter() returns
 * per-name uint64 slots; conf_get reads values set by fakehost_conf;
 * path_expand does strftime only; batch_get returns a fresh batch (cap 256,
 * arena 64 KiB, pktbuf 256 KiB); batch_emit records the batch (the test
 * inspects it); stats_render prints the counters.
 *
 * State is global to the test process and guarded by a mutex (captures may
 * run on their own thread); fakehost_reset() frees everything.
 */
#ifndef PMACCT_TESTS_FAKEHOST_H
#define PMACCT_TESTS_FAKEHOST_H

#include <pmacct/pm_host.h>

const struct pm_host *fakehost(void);
struct pm_instance *fakehost_instance(const char *module, const char *name,
                                      uint32_t kind,
                                      const char *aggregate /* "src_host,dst_host" via pmc_aggregate_parse, or NULL */);
void fakehost_conf(const char *key, const char *value); /* raw key (may be "key[name]") */
/* NULL-terminated key,value pairs; defaults first; value for key[inst->name]
 * or key from fakehost_conf also applied; abort()s with the message on a
 * parse error; free with fakehost_config_free */
void *fakehost_config(const struct pm_module_desc *d,
                      const struct pm_instance *inst, ...);
void fakehost_config_free(const struct pm_module_desc *d, void *config);
struct pm_batch *fakehost_batch(uint32_t cap); /* freed by fakehost_reset */
uint32_t fakehost_emitted_count(void);
struct pm_batch *fakehost_emitted(uint32_t i);
const char *fakehost_log_text(void);
uint64_t fakehost_counter_value(const char *name);
void fakehost_set_stop(int stop);
void fakehost_set_capture_needs(uint32_t flags, uint32_t snaplen);
void fakehost_reset(void);
/* Register custom primitives from primitives.lst text (replacing any);
 * abort()s on a parse error.  NULL: none.  Not undone by fakehost_reset. */
void fakehost_custom_prims(const char *text);

/* In a cmocka test: skip for `why` (a missing facility: IPv6 loopback, a
 * socket, a built classifier), except under CI=true, where it fails: CI
 * must not pass a test that could not run.  Needs <cmocka.h>. */
#define FAKEHOST_SKIP(why)                                                     \
    do {                                                                       \
        const char *ci_ = getenv("CI");                                        \
        if (ci_ && !strcmp(ci_, "true"))                                       \
            fail_msg("CI: cannot run: %s", (why));                             \
        skip();                                                                \
    } while (0)

#endif
