/*
 * test_mongodb.c - unit tests of the mongodb output with the fake host,
 * without a server (tests/integration/test_mongodb.sh runs it against
 * tests/mongo/mongo_server.py): the JSON -> BSON document rules (types,
 * dropped metadata, escapes, bad input), mongo_indexes_file lines, option
 * defaults and checks (mongo_table, mongo_insert_batch, mongo_preprocess, the
 * indexes file's file:line errors, mongo_time_roundoff), the client URI
 * (port, credentials and their pmacct defaults, auth source), and with the
 * server unreachable every document of the final purge ending in the
 * spool.
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
#include <unistd.h>

#include <cmocka.h>

#include "fakehost.h"
#include "modules/mongodb/mongodb.h"

const struct pm_module_desc *pm_module_descriptor(void);

static bson_type_t type_of(const bson_t *d, const char *k)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, d, k))
        return BSON_TYPE_EOD;
    return bson_iter_type(&it);
}

static void test_doc_types(void **state)
{
    (void)state;
    const char *j =
        "{\"event_type\": \"purge\", \"ip_src\": \"10.0.0.1\", "
        "\"ip_dst\": \"2001:db8::1\", \"port_src\": 443, \"vlan\": 10, "
        "\"mac_src\": \"00:11:22:33:44:55\", \"tag\": 7, "
        "\"stamp_inserted\": \"2023-11-14 22:10:00\", "
        "\"stamp_updated\": \"2023-11-14 22:15:01\", "
        "\"timestamp_start\": \"0000-00-00 00:00:00.000000\", "
        "\"timestamp_arrival\": \"2023-11-14 22:13:20.250000\", "
        "\"packets\": 3, \"bytes\": 5000000000, \"ratio\": 0.5, "
        "\"writer_id\": \"default_mongodb/1\"}";
    bson_t d = BSON_INITIALIZER;
    char err[200];
    bson_iter_t it;
    struct tm tm = {0};
    assert_int_equal(mdoc_from_json(j, strlen(j), &d, err, sizeof(err)), 0);
    assert_int_equal(type_of(&d, "event_type"), BSON_TYPE_EOD);
    assert_int_equal(type_of(&d, "writer_id"), BSON_TYPE_EOD);
    assert_int_equal(type_of(&d, "ip_src"), BSON_TYPE_UTF8);
    assert_int_equal(type_of(&d, "ip_dst"), BSON_TYPE_UTF8);
    assert_int_equal(type_of(&d, "mac_src"), BSON_TYPE_UTF8);
    assert_int_equal(type_of(&d, "port_src"), BSON_TYPE_INT32);
    assert_int_equal(type_of(&d, "vlan"), BSON_TYPE_INT32);
    assert_int_equal(type_of(&d, "tag"), BSON_TYPE_INT64);
    assert_int_equal(type_of(&d, "packets"), BSON_TYPE_INT64);
    assert_int_equal(type_of(&d, "bytes"), BSON_TYPE_INT64);
    assert_int_equal(type_of(&d, "ratio"), BSON_TYPE_DOUBLE);
    assert_int_equal(type_of(&d, "stamp_inserted"), BSON_TYPE_DATE_TIME);
    assert_int_equal(type_of(&d, "timestamp_start"), BSON_TYPE_NULL);
    assert_true(bson_iter_init_find(&it, &d, "bytes"));
    assert_true(bson_iter_int64(&it) == 5000000000LL);
    /* local time text -> the same instant as mktime gives */
    tm.tm_year = 123;
    tm.tm_mon = 10;
    tm.tm_mday = 14;
    tm.tm_hour = 22;
    tm.tm_min = 10;
    tm.tm_isdst = -1;
    assert_true(bson_iter_init_find(&it, &d, "stamp_inserted"));
    assert_true(bson_iter_date_time(&it) == (int64_t)mktime(&tm) * 1000);
    tm.tm_min = 13;
    tm.tm_sec = 20;
    tm.tm_isdst = -1;
    assert_true(bson_iter_init_find(&it, &d, "timestamp_arrival"));
    assert_true(bson_iter_date_time(&it) == (int64_t)mktime(&tm) * 1000 + 250);
    bson_destroy(&d);

    /* timestamps_since_epoch: numbers and quoted sec.usec */
    j = "{\"stamp_inserted\": 1700000000, \"timestamp_end\": "
        "\"1700000001.5\", \"ip_proto\": \"tcp\"}";
    bson_init(&d);
    assert_int_equal(mdoc_from_json(j, strlen(j), &d, err, sizeof(err)), 0);
    assert_true(bson_iter_init_find(&it, &d, "stamp_inserted"));
    assert_true(BSON_ITER_HOLDS_DATE_TIME(&it));
    assert_true(bson_iter_date_time(&it) == 1700000000000LL);
    assert_true(bson_iter_init_find(&it, &d, "timestamp_end"));
    assert_true(bson_iter_date_time(&it) == 1700000001500LL);
    assert_int_equal(type_of(&d, "ip_proto"), BSON_TYPE_UTF8);
    bson_destroy(&d);
}

static void test_doc_strings_and_errors(void **state)
{
    (void)state;
    char err[200];
    bson_t d = BSON_INITIALIZER;
    bson_iter_t it;
    const char *j = "{\"as_path\": \"a\\\"b\\\\c\\u00e9\\ud83d\\ude00\", "
                    "\"nested\": {\"x\": [1, true, null]}}";
    assert_int_equal(mdoc_from_json(j, strlen(j), &d, err, sizeof(err)), 0);
    assert_true(bson_iter_init_find(&it, &d, "as_path"));
    assert_string_equal(bson_iter_utf8(&it, NULL),
                        "a\"b\\c\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(type_of(&d, "nested"), BSON_TYPE_DOCUMENT);
    bson_destroy(&d);

    static const char *bad[] = {
        "",
        "[1]",
        "{\"a\": 1",
        "{\"a\": 1} x",
        "{\"a\": \"\\q\"}",
        "{\"a\": \"\\ud800\"}",
        "{\"a\": \"\\u0000\"}",
        "{\"a\": 01}",
        "{\"a\": tru}",
        "{\"\": 1}",
        "{\"a\" 1}",
        "{\"a\": \"\xff\"}",
        "{\"\xff\": 1}",
        "{\"a\": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bson_init(&d);
        err[0] = 0;
        assert_int_equal(
            mdoc_from_json(bad[i], strlen(bad[i]), &d, err, sizeof(err)),
            -EINVAL);
        assert_non_null(strstr(err, "offset"));
        bson_destroy(&d);
    }
}

static void test_index_lines(void **state)
{
    (void)state;
    char name[MONGO_INDEX_NAME], err[200];
    bson_t k = BSON_INITIALIZER;
    bson_iter_t it;
    assert_int_equal(mdoc_index_line(" src_host , dst_host\n", &k, name,
                                     sizeof(name), err, sizeof(err)),
                     1);
    assert_string_equal(name, "src_host_1_dst_host_1");
    assert_true(bson_iter_init(&it, &k));
    assert_true(bson_iter_next(&it));
    assert_string_equal(bson_iter_key(&it), "src_host");
    assert_int_equal(bson_iter_int32(&it), 1);
    assert_true(bson_iter_next(&it));
    assert_string_equal(bson_iter_key(&it), "dst_host");
    assert_false(bson_iter_next(&it));
    bson_destroy(&k);
    bson_init(&k);
    assert_int_equal(mdoc_index_line("! comment\n", &k, name, sizeof(name), err,
                                     sizeof(err)),
                     0);
    assert_int_equal(
        mdoc_index_line("   \n", &k, name, sizeof(name), err, sizeof(err)), 0);
    assert_int_equal(
        mdoc_index_line("a,,b\n", &k, name, sizeof(name), err, sizeof(err)),
        -EINVAL);
    assert_int_equal(
        mdoc_index_line("a,\n", &k, name, sizeof(name), err, sizeof(err)),
        -EINVAL);
    assert_int_equal(
        mdoc_index_line("src host\n", &k, name, sizeof(name), err, sizeof(err)),
        -EINVAL);
    assert_non_null(strstr(err, "src host"));
    bson_destroy(&k);
}

/* init with the given key/value pairs; returns init's result */
static int try_init(const char *k1, const char *v1, const char *k2,
                    const char *v2, void **ctxp, void **cfgp)
{
    const struct pm_module_desc *d = pm_module_descriptor();
    fakehost_reset();
    if (k1)
        fakehost_conf(k1, v1);
    if (k2)
        fakehost_conf(k2, v2);
    struct pm_instance *inst =
        fakehost_instance("mongodb", "default", PM_KIND_OUTPUT, "src_host");
    *cfgp = fakehost_config(d, inst, NULL);
    *ctxp = NULL;
    return d->init(fakehost(), inst, *cfgp, ctxp);
}

static void done(void *ctx, void *cfg)
{
    const struct pm_module_desc *d = pm_module_descriptor();
    if (ctx)
        d->fini(ctx);
    fakehost_config_free(d, cfg);
    fakehost_reset();
}

static void test_options(void **state)
{
    (void)state;
    void *ctx, *cfg;
    assert_int_equal(try_init(NULL, NULL, NULL, NULL, &ctx, &cfg), 0);
    struct mongo_config *mc = cfg;
    assert_string_equal(mc->table, "pmacct.acct");
    assert_string_equal(mc->host, "localhost");
    assert_true(mc->insert_batch == 10000);
    assert_true(mc->out.refresh_time == 60);
    assert_true(mc->out.cache_entries == 16411);
    done(ctx, cfg);

    assert_int_equal(try_init("mongo_table", "acct", NULL, NULL, &ctx, &cfg),
                     -EINVAL);
    assert_non_null(strstr(fakehost_log_text(), "mongo_table"));
    done(ctx, cfg);
    assert_int_equal(
        try_init("mongo_insert_batch", "0", NULL, NULL, &ctx, &cfg), -EINVAL);
    done(ctx, cfg);
    assert_int_equal(try_init("mongo_host", "h:70000", NULL, NULL, &ctx, &cfg),
                     -EINVAL);
    assert_non_null(strstr(fakehost_log_text(), "mongo_host"));
    done(ctx, cfg);
    /* *_preprocess is parsed by the broker layer, named with our prefix */
    assert_int_equal(
        try_init("mongo_preprocess", "minq=2", NULL, NULL, &ctx, &cfg),
        -EINVAL);
    assert_non_null(strstr(fakehost_log_text(), "mongo_preprocess"));
    done(ctx, cfg);
    assert_int_equal(try_init("mongo_preprocess", "minp=2",
                              "mongo_preprocess_type", "all", &ctx, &cfg),
                     0);
    assert_int_equal(((struct mongo_ctx *)ctx)->outcfg.preprocess_type, 1);
    done(ctx, cfg);
    /* mongo_time_roundoff is checked as the roundoff */
    assert_int_equal(
        try_init("mongo_history", "5m", "mongo_time_roundoff", "q", &ctx, &cfg),
        -EINVAL);
    assert_non_null(strstr(fakehost_log_text(), "roundoff"));
    done(ctx, cfg);
    assert_int_equal(
        try_init("mongo_history", "5m", "mongo_time_roundoff", "h", &ctx, &cfg),
        0);
    assert_string_equal(((struct mongo_ctx *)ctx)->outcfg.history_roundoff,
                        "h");
    done(ctx, cfg);
}

static void test_indexes_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_mongodb_idx.XXXXXX";
    int fd = mkstemp(path);
    void *ctx, *cfg;
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("! indexes\nsrc_host, dst_host\n\nproto\nbad field\n", f);
    fclose(f);
    assert_int_equal(
        try_init("mongo_indexes_file", path, NULL, NULL, &ctx, &cfg), -EINVAL);
    {
        char want[300];
        snprintf(want, sizeof(want), "%s:5:", path);
        assert_non_null(strstr(fakehost_log_text(), want));
    }
    done(ctx, cfg);
    f = fopen(path, "w");
    fputs("! indexes\nsrc_host, dst_host\n\nproto\n", f);
    fclose(f);
    assert_int_equal(
        try_init("mongo_indexes_file", path, NULL, NULL, &ctx, &cfg), 0);
    struct mongo_ctx *c = ctx;
    assert_int_equal(c->nindexes, 2);
    {
        bson_iter_t it;
        assert_true(bson_iter_init_find(&it, &c->indexes[1], "name"));
        assert_string_equal(bson_iter_utf8(&it, NULL), "proto_1");
    }
    done(ctx, cfg);
    unlink(path);
    assert_int_equal(
        try_init("mongo_indexes_file", path, NULL, NULL, &ctx, &cfg), -ENOENT);
    assert_non_null(strstr(fakehost_log_text(), path));
    done(ctx, cfg);
}

static void test_uri(void **state)
{
    (void)state;
    void *ctx, *cfg;
    char err[300];
    mongoc_uri_t *u;
    const mongoc_host_list_t *h;
    assert_int_equal(try_init("mongo_host", "127.0.0.1:27999", "mongo_user",
                              "bob", &ctx, &cfg),
                     0);
    u = mongo_build_uri(ctx, err, sizeof(err));
    assert_non_null(u);
    h = mongoc_uri_get_hosts(u);
    assert_string_equal(h->host, "127.0.0.1");
    assert_int_equal(h->port, 27999);
    assert_string_equal(mongoc_uri_get_username(u), "bob");
    assert_string_equal(mongoc_uri_get_password(u), "arealsmartpwd");
    assert_string_equal(mongoc_uri_get_auth_source(u), "pmacct");
    assert_int_equal(mongoc_uri_get_option_as_int32(
                         u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 0),
                     2000);
    mongoc_uri_destroy(u);
    done(ctx, cfg);

    assert_int_equal(try_init("mongo_passwd", "s3cret", NULL, NULL, &ctx, &cfg),
                     0);
    u = mongo_build_uri(ctx, err, sizeof(err));
    assert_string_equal(mongoc_uri_get_username(u), "pmacct");
    assert_string_equal(mongoc_uri_get_password(u), "s3cret");
    assert_int_equal(mongoc_uri_get_hosts(u)->port, 27017);
    mongoc_uri_destroy(u);
    done(ctx, cfg);

    /* no credentials: no authentication */
    assert_int_equal(try_init(NULL, NULL, NULL, NULL, &ctx, &cfg), 0);
    u = mongo_build_uri(ctx, err, sizeof(err));
    assert_null(mongoc_uri_get_username(u));
    mongoc_uri_destroy(u);
    done(ctx, cfg);

    /* a URI is taken as it is; its own timeouts win */
    assert_int_equal(try_init("mongo_host",
                              "mongodb://h1:1234,h2/?replicaSet=rs0&"
                              "serverSelectionTimeoutMS=500",
                              NULL, NULL, &ctx, &cfg),
                     0);
    u = mongo_build_uri(ctx, err, sizeof(err));
    assert_non_null(u);
    assert_string_equal(mongoc_uri_get_replica_set(u), "rs0");
    assert_int_equal(mongoc_uri_get_option_as_int32(
                         u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 0),
                     500);
    mongoc_uri_destroy(u);
    done(ctx, cfg);
}

static void test_unreachable_spool(void **state)
{
    (void)state;
    const struct pm_module_desc *d = pm_module_descriptor();
    char dir[] = "/tmp/test_mongodb_spool.XXXXXX";
    assert_non_null(mkdtemp(dir));
    fakehost_reset();
    /* port 1 on loopback: connection refused at once */
    fakehost_conf("mongo_host", "127.0.0.1:1");
    fakehost_conf("mongo_spool_dir", dir);
    fakehost_conf("mongo_flush_timeout", "1");
    struct pm_instance *inst =
        fakehost_instance("mongodb", "default", PM_KIND_OUTPUT, "src_host");
    void *cfg = fakehost_config(d, inst, NULL);
    void *ctx = NULL;
    assert_int_equal(d->init(fakehost(), inst, cfg, &ctx), 0);
    struct pm_batch *b = fakehost_batch(256);
    for (int i = 0; i < 20; i++) {
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
    assert_int_equal(d->flush(ctx, PM_FLUSH_FINAL), 0);
    d->fini(ctx);
    assert_int_equal(fakehost_counter_value("delivered"), 0);
    assert_int_equal(fakehost_counter_value("failed"), 0);
    assert_int_equal(fakehost_counter_value("spooled"), 20);
    fakehost_config_free(d, cfg);
    fakehost_reset();
    {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_types),
        cmocka_unit_test(test_doc_strings_and_errors),
        cmocka_unit_test(test_index_lines),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_indexes_file),
        cmocka_unit_test(test_uri),
        cmocka_unit_test(test_unreachable_spool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
