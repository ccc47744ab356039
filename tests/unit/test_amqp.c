/*
 * test_amqp.c - unit tests of the amqp output with the fake host, without a
 * broker (the integration test tests/integration/test_amqp.sh starts a
 * real RabbitMQ): option checks, and with the broker unreachable every
 * message of the final purge ends in the spool (counted spooled, none
 * failed) and is found again by the next instance (pending).
 *
 * Nothing is shared between threads in the test itself.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fakehost.h"

const struct pm_module_desc *pm_module_descriptor(void);

static void feed(const struct pm_module_desc *d, void *ctx, int nrec)
{
    struct pm_batch *b = fakehost_batch(256);
    for (int i = 0; i < nrec; i++) {
        struct pm_rec *r = pm_batch_rec(b, b->n++);
        memset(r, 0, b->rec_size);
        uint8_t s[4] = {10, 0, 0, (uint8_t)i};
        pm_ip_set4(&r->src_host, s);
        pm_rec_set(r, PM_P_SRC_HOST);
        r->packets = 1;
        r->bytes = 100;
        r->ts_arrival.sec = (uint64_t)time(NULL);
    }
    assert_true(d->process(ctx, b) >= 0);
}

static void test_bad_port(void **state)
{
    (void)state;
    const struct pm_module_desc *d = pm_module_descriptor();
    fakehost_reset();
    fakehost_conf("amqp_host", "127.0.0.1:99999");
    struct pm_instance *inst =
        fakehost_instance("amqp", "default", PM_KIND_OUTPUT, "src_host");
    void *cfg = fakehost_config(d, inst, NULL);
    void *ctx = NULL;
    assert_int_equal(d->init(fakehost(), inst, cfg, &ctx), -EINVAL);
    assert_non_null(strstr(fakehost_log_text(), "amqp_host"));
    fakehost_config_free(d, cfg);
    fakehost_reset();
}

static void test_unreachable_spool(void **state)
{
    (void)state;
    const struct pm_module_desc *d = pm_module_descriptor();
    char dir[] = "/tmp/test_amqp_spool.XXXXXX";
    assert_non_null(mkdtemp(dir));
    fakehost_reset();
    /* port 1 on loopback: connection refused at once */
    fakehost_conf("amqp_host", "127.0.0.1:1");
    fakehost_conf("amqp_spool_dir", dir);
    fakehost_conf("amqp_flush_timeout", "1");
    struct pm_instance *inst =
        fakehost_instance("amqp", "default", PM_KIND_OUTPUT, "src_host");
    void *cfg = fakehost_config(d, inst, NULL);
    void *ctx = NULL;
    assert_int_equal(d->init(fakehost(), inst, cfg, &ctx), 0);
    feed(d, ctx, 30);
    assert_int_equal(d->flush(ctx, PM_FLUSH_FINAL), 0);
    d->fini(ctx);
    assert_int_equal(fakehost_counter_value("delivered"), 0);
    assert_int_equal(fakehost_counter_value("failed"), 0);
    assert_int_equal(fakehost_counter_value("spooled"), 30);
    fakehost_config_free(d, cfg);
    fakehost_reset();

    /* a new instance finds them */
    fakehost_conf("amqp_host", "127.0.0.1:1");
    fakehost_conf("amqp_spool_dir", dir);
    fakehost_conf("amqp_flush_timeout", "1");
    inst = fakehost_instance("amqp", "default", PM_KIND_OUTPUT, "src_host");
    cfg = fakehost_config(d, inst, NULL);
    assert_int_equal(d->init(fakehost(), inst, cfg, &ctx), 0);
    assert_int_equal(fakehost_counter_value("pending"), 30);
    assert_non_null(strstr(fakehost_log_text(), "30 messages of an earlier run"));
    d->fini(ctx);
    fakehost_config_free(d, cfg);
    fakehost_reset();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_port),
        cmocka_unit_test(test_unreachable_spool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
