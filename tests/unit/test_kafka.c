/*
 * test_kafka.c - unit tests of the kafka output with the fake host against
 * librdkafka's in-process mock cluster: pmacct's JSON messages (event_type,
 * writer_id, multi_values packing, markers), and at-least-once delivery:
 * with the broker down at shutdown the messages go to the spool and are
 * sent by the next instance; nothing lost, counters right.
 *
 * Nothing is shared between threads in the test itself (the module's
 * delivery thread and the mock's threads are librdkafka's / the module's).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "fakehost.h"

const struct pm_module_desc *pm_module_descriptor(void);

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mock;
static char bs_host[64], bs_port[16];

static int setup(void **state)
{
    char err[256];
    (void)state;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "2", err, sizeof(err));
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    assert_non_null(mock_rk);
    mock = rd_kafka_mock_cluster_new(mock_rk, 1);
    assert_non_null(mock);
    const char *bs = rd_kafka_mock_cluster_bootstraps(mock);
    const char *colon = strrchr(bs, ':');
    assert_non_null(colon);
    snprintf(bs_host, sizeof(bs_host), "%.*s", (int)(colon - bs), bs);
    snprintf(bs_port, sizeof(bs_port), "%s", colon + 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(mock_rk);
    return 0;
}

/* When set, consume() stores "KEY\tPAYLOAD". */
static int consume_keys;

/* Read every message of topic/0 (up to max) within a deadline. */
static int consume(const char *topic, char **out, int max, int want)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char bs[128];
    int n = 0, objs = 0;
    snprintf(bs, sizeof(bs), "%s:%s", bs_host, bs_port);
    rd_kafka_conf_set(conf, "bootstrap.servers", bs, err, sizeof(err));
    rd_kafka_conf_set(conf, "group.id", "test", err, sizeof(err));
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    assert_non_null(rk);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    time_t deadline = time(NULL) + 20;
    /* want < 0: until -want JSON objects (multi_values messages) */
    while ((want >= 0 ? n < want : objs < -want) && time(NULL) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err && n < max) {
            if (consume_keys) {
                size_t kl = m->key_len;
                out[n] = malloc(kl + m->len + 2);
                assert_non_null(out[n]);
                memcpy(out[n], m->key ? m->key : "", kl);
                out[n][kl] = '\t';
                memcpy(out[n] + kl + 1, m->payload, m->len);
                out[n][kl + 1 + m->len] = 0;
            } else {
                out[n] = strndup(m->payload, m->len);
            }
            for (char *p = out[n]; (p = strstr(p, "{\"event_type\"")); p++)
                objs++;
            n++;
        }
        rd_kafka_message_destroy(m);
    }
    /* anything beyond `want` would be a duplicate: give it a moment */
    for (int i = 0; i < 5; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m) {
            if (!m->err && n < max)
                out[n++] = strndup(m->payload, m->len);
            rd_kafka_message_destroy(m);
        }
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return n;
}

/* nrec records: 10.0.0.(i % ndst) -> 192.168.0.1, udp, dst_port 1000+i. */
static void feed(const struct pm_module_desc *d, void *ctx, int nrec)
{
    struct pm_batch *b = fakehost_batch(256);
    for (int i = 0; i < nrec; i++) {
        if (b->n == b->cap) {
            assert_true(d->process(ctx, b) >= 0);
            b->n = 0;
        }
        struct pm_rec *r = pm_batch_rec(b, b->n++);
        memset(r, 0, b->rec_size);
        uint8_t s[4] = {10, 0, (uint8_t)(i >> 8), (uint8_t)i};
        uint8_t t[4] = {192, 168, 0, 1};
        pm_ip_set4(&r->src_host, s);
        pm_ip_set4(&r->dst_host, t);
        r->proto = 17;
        r->dst_port = 80;
        pm_rec_set(r, PM_P_SRC_HOST);
        pm_rec_set(r, PM_P_DST_HOST);
        pm_rec_set(r, PM_P_PROTO);
        pm_rec_set(r, PM_P_DST_PORT);
        r->packets = 1;
        r->bytes = 100;
        r->ts_arrival.sec = (uint64_t)time(NULL);
        r->ts_start = r->ts_arrival;
    }
    if (b->n)
        assert_true(d->process(ctx, b) >= 0);
}

static void *start(const struct pm_module_desc *d, struct pm_instance **ip,
                   void **cfgp, const char *topic, ...)
{
    va_list ap;
    const char *kv[32];
    int n = 0;
    fakehost_conf("aggregate", "src_host,dst_host,proto,dst_port");
    fakehost_conf("kafka_broker_host", bs_host);
    fakehost_conf("kafka_broker_port", bs_port);
    fakehost_conf("kafka_topic", topic);
    va_start(ap, topic);
    while (n < 30 && (kv[n] = va_arg(ap, const char *))) {
        kv[n + 1] = va_arg(ap, const char *);
        fakehost_conf(kv[n], kv[n + 1]);
        n += 2;
    }
    va_end(ap);
    *ip = fakehost_instance("kafka", "default", PM_KIND_OUTPUT,
                            "src_host,dst_host,proto,dst_port");
    *cfgp = fakehost_config(d, *ip, NULL);
    void *ctx = NULL;
    assert_int_equal(d->init(fakehost(), *ip, *cfgp, &ctx), 0);
    return ctx;
}

static void test_messages(void **state)
{
    (void)state;
    const struct pm_module_desc *d = pm_module_descriptor();
    struct pm_instance *inst;
    void *cfg;
    char *msgs[64];
    char writer[64];
    fakehost_reset();
    rd_kafka_mock_topic_create(mock, "t_msgs", 1, 1);
    void *ctx = start(d, &inst, &cfg, "t_msgs", "kafka_markers", "true", NULL);
    feed(d, ctx, 20);
    assert_int_equal(d->flush(ctx, PM_FLUSH_FINAL), 0);
    d->fini(ctx);
    assert_int_equal(fakehost_counter_value("delivered"), 22);
    assert_int_equal(fakehost_counter_value("pending"), 0);
    assert_int_equal(fakehost_counter_value("failed"), 0);
    int n = consume("t_msgs", msgs, 64, 22);
    assert_int_equal(n, 22);
    snprintf(writer, sizeof(writer), "\"writer_id\": \"default_kafka/%d\"",
             (int)getpid());
    assert_non_null(strstr(msgs[0], "\"event_type\": \"purge_init\""));
    assert_non_null(strstr(msgs[21], "\"event_type\": \"purge_close\""));
    assert_non_null(strstr(msgs[21], "\"purged_entries\": 20"));
    for (int i = 1; i < 21; i++) {
        assert_true(!strncmp(msgs[i], "{\"event_type\": \"purge\", \"ip_src\": ",
                             34));
        assert_non_null(strstr(msgs[i], "\"ip_proto\": \"udp\""));
        /* writer_id last, no newline */
        char *w = strstr(msgs[i], writer);
        assert_non_null(w);
        assert_string_equal(w + strlen(writer), "}");
    }
    for (int i = 0; i < n; i++)
        free(msgs[i]);
    fakehost_config_free(d, cfg);
    fakehost_reset();
}

static void test_multi_values(void **state)
{
    (void)state;
    const struct pm_module_desc *d = pm_module_descriptor();
    struct pm_instance *inst;
    void *cfg;
    char *msgs[64];
    fakehost_reset();
    rd_kafka_mock_topic_create(mock, "t_mv", 1, 1);
    void *ctx = start(d, &inst, &cfg, "t_mv", "kafka_multi_values", "1000",
                      NULL);
    feed(d, ctx, 20);
    assert_int_equal(d->flush(ctx, PM_FLUSH_FINAL), 0);
    d->fini(ctx);
    int n = consume("t_mv", msgs, 64, -20), objs = 0;
    assert_true(n >= 4 && n < 20);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(msgs[i]);
        assert_true(len < 1000);
        assert_int_equal(msgs[i][len - 1], '\n');
        for (char *p = msgs[i]; (p = strstr(p, "{\"event_type\"")); p++)
            objs++;
        free(msgs[i]);
    }
    assert_int_equal(objs, 20);
    fakehost_config_free(d, cfg);
    fakehost_reset();
}

static void test_spool_restart(void **state)
{
    (void)state;
    const struct pm_module_desc *d = pm_module_descriptor();
    struct pm_instance *inst;
    void *cfg;
    char *msgs[128];
    char dir[] = "/tmp/test_kafka_spool.XXXXXX";
    assert_non_null(mkdtemp(dir));
    fakehost_reset();
    rd_kafka_mock_topic_create(mock, "t_spool", 1, 1);
    rd_kafka_mock_broker_set_down(mock, 1);
    void *ctx = start(d, &inst, &cfg, "t_spool", "kafka_spool_dir", dir,
                      "kafka_flush_timeout", "1", "kafka_spool_mem", "4K",
                      NULL);
    feed(d, ctx, 50);
    assert_int_equal(d->flush(ctx, PM_FLUSH_FINAL), 0);
    d->fini(ctx);
    assert_int_equal(fakehost_counter_value("delivered"), 0);
    assert_int_equal(fakehost_counter_value("failed"), 0);
    assert_true(fakehost_counter_value("spooled") >= 50);
    fakehost_config_free(d, cfg);
    fakehost_reset();

    /* next start, broker back: the spool goes first */
    rd_kafka_mock_broker_set_up(mock, 1);
    ctx = start(d, &inst, &cfg, "t_spool", "kafka_spool_dir", dir, NULL);
    feed(d, ctx, 10);
    assert_int_equal(d->flush(ctx, PM_FLUSH_FINAL), 0);
    d->fini(ctx);
    assert_int_equal(fakehost_counter_value("pending"), 0);
    int n = consume("t_spool", msgs, 128, 60);
    assert_int_equal(n, 60);
    int old = 0;
    for (int i = 0; i < n; i++) {
        /* the 50 of the first run come first (ports 0..49 in any order) */
        if (i < 50 && strstr(msgs[i], "\"ip_src\": \"10.0.0."))
            old++;
        free(msgs[i]);
    }
    assert_int_equal(old, 50);
    fakehost_config_free(d, cfg);
    fakehost_reset();
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rmdir %s", dir); /* empty: all sent */
    assert_int_equal(system(cmd), 0);
}

/* kafka_topic_rr 3: the rows of a purge go to t_rr_0, _1, _2 in turn from
 * _0, markers to _0; kafka_partition_key variables expanded as pmacct does
 * ('.' -> '_', numbers in decimal). */
static void test_topic_rr_and_key(void **state)
{
    (void)state;
    const struct pm_module_desc *d = pm_module_descriptor();
    struct pm_instance *inst;
    void *cfg;
    char *msgs[64], topic[16];
    int want[3] = {7 + 2, 7, 6};
    fakehost_reset();
    for (int i = 0; i < 3; i++) {
        snprintf(topic, sizeof(topic), "t_rr_%d", i);
        rd_kafka_mock_topic_create(mock, topic, 1, 1);
    }
    void *ctx = start(d, &inst, &cfg, "t_rr", "kafka_topic_rr", "3",
                      "kafka_markers", "true", "kafka_partition_key",
                      "$src_host-$dst_port-$proto.$peer_src_ip",
                      "kafka_partition_dynamic", "true", NULL);
    feed(d, ctx, 20);
    assert_int_equal(d->flush(ctx, PM_FLUSH_FINAL), 0);
    d->fini(ctx);
    assert_int_equal(fakehost_counter_value("delivered"), 22);
    consume_keys = 1;
    for (int i = 0; i < 3; i++) {
        snprintf(topic, sizeof(topic), "t_rr_%d", i);
        int n = consume(topic, msgs, 64, want[i]);
        assert_int_equal(n, want[i]);
        for (int j = 0; j < n; j++) {
            if (strstr(msgs[j], "\"purge\"")) {
                /* 10.0.0.x -> "10_0_0_x-80-17.null" */
                assert_true(!strncmp(msgs[j], "10_0_0_", 7));
                assert_non_null(strstr(msgs[j], "-80-17.null\t{"));
            } else {
                assert_int_equal(i, 0); /* markers on _0 */
            }
            free(msgs[j]);
        }
    }
    consume_keys = 0;
    fakehost_config_free(d, cfg);
    fakehost_reset();
}

/* start-up errors: name the key and refuse */
static void bad_conf(const char *k1, const char *v1, const char *k2,
                     const char *v2, const char *text)
{
    const struct pm_module_desc *d = pm_module_descriptor();
    fakehost_reset();
    fakehost_conf(k1, v1);
    if (k2)
        fakehost_conf(k2, v2);
    struct pm_instance *inst = fakehost_instance("kafka", "default",
                                                 PM_KIND_OUTPUT, "src_host");
    void *cfg = fakehost_config(d, inst, NULL);
    void *ctx = NULL;
    assert_int_equal(d->init(fakehost(), inst, cfg, &ctx), -EINVAL);
    assert_non_null(strstr(fakehost_log_text(), text));
    fakehost_config_free(d, cfg);
    fakehost_reset();
}

static void test_bad_partitioning(void **state)
{
    (void)state;
    bad_conf("kafka_partition_dynamic", "true", NULL, NULL,
             "needs a kafka_partition_key");
    bad_conf("kafka_partition_dynamic", "true", "kafka_partition", "2",
             "mutually exclusive");
    bad_conf("kafka_topic_rr", "1000000", NULL, NULL, "kafka_topic_rr");
}

static void test_bad_config(void **state)
{
    (void)state;
    const struct pm_module_desc *d = pm_module_descriptor();
    fakehost_reset();
    fakehost_conf("kafka_broker_port", "0");
    struct pm_instance *inst = fakehost_instance("kafka", "default",
                                                 PM_KIND_OUTPUT, "src_host");
    void *cfg = fakehost_config(d, inst, NULL);
    void *ctx = NULL;
    assert_int_equal(d->init(fakehost(), inst, cfg, &ctx), -EINVAL);
    assert_non_null(strstr(fakehost_log_text(), "kafka_broker_port"));
    fakehost_config_free(d, cfg);
    fakehost_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_multi_values),
        cmocka_unit_test(test_spool_restart),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_topic_rr_and_key),
        cmocka_unit_test(test_bad_partitioning),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
