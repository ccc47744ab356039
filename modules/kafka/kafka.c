/*
 * kafka.c - the `kafka` output: aggregates records in the host's cache and
 * every kafka_refresh_time seconds publishes each aggregate as pmacct
 * 1.7.7's JSON message to a Kafka topic (librdkafka), at least once.
 *
 * The cache, purges and message text are shared with the amqp output
 * (modules/broker/pmbout.c); delivery (retries, memory buffer, disk spool,
 * bounded shutdown) is modules/broker/pmbroker.c.  This file is the
 * options, the producer set-up (kafka_broker_host/port, kafka_config_file
 * passed through to librdkafka) and the send callback.
 *
 * Threads: init/fini on the main thread; process/tick/flush on the
 * pipeline thread; send() and the delivery-report callback on the
 * delivery queue's thread (the only thread that polls the producer).  The
 * report bookkeeping (gen, st, outstanding) is touched by that thread only.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

#include "modules/broker/pmbroker.h"

struct kafka_config {
    struct pmb_out_config out; /* first: the shared keys */
    char *broker_host;
    uint64_t broker_port;
    char *topic;
    int64_t partition;
    char *partition_key;
    char *config_file;
    uint64_t topic_rr;     /* kafka_topic_rr */
    int partition_dynamic; /* kafka_partition_dynamic */
};

#define KCFG(f) offsetof(struct kafka_config, f)

static const struct pm_option kafka_options[] = {
    PMB_OUT_OPTIONS("kafka", struct kafka_config),
    PMB_OUT_AVRO_OPTIONS("kafka", "kafka_avro_schema_topic", struct kafka_config),
    PMB_OUT_REGISTRY_OPTION("kafka", struct kafka_config),
    {"kafka_broker_host", PM_OPT_STR, 0, KCFG(broker_host), "127.0.0.1",
     "host[,host...]", "Kafka broker(s) to bootstrap from", 0},
    {"kafka_broker_port", PM_OPT_UINT, 0, KCFG(broker_port), "9092", "port",
     "Kafka broker port", 0},
    {"kafka_topic", PM_OPT_STR, 0, KCFG(topic), "pmacct.acct", "topic",
     "topic ($-variables: $peer_src_ip, $tag, ... per aggregate)", 0},
    {"kafka_partition", PM_OPT_INT, 0, KCFG(partition), "-1", "number",
     "partition (-1: librdkafka's partitioner)", 0},
    {"kafka_partition_key", PM_OPT_STR, 0, KCFG(partition_key), NULL, "text",
     "message key ($-variables per aggregate), used for partitioning", 0},
    {"kafka_config_file", PM_OPT_PATH, 0, KCFG(config_file), NULL, "path",
     "librdkafka properties: 'global, key, value' / 'topic, key, value' "
     "lines (or key=value): TLS, SASL, compression, batching",
     0},
    {"kafka_topic_rr", PM_OPT_UINT, 0, KCFG(topic_rr), "0", "count",
     "round-robin the messages of each purge over topics kafka_topic + _0, "
     "_1, ... _N-1 (markers to _0; 0: off)",
     0},
    {"kafka_partition_dynamic", PM_OPT_BOOL, 0, KCFG(partition_dynamic),
     "false", NULL,
     "partition by kafka_partition_key (librdkafka's partitioner; needs "
     "kafka_partition_key, excludes kafka_partition)",
     0},
    PM_OPTION_END,
};

struct kafka_ctx {
    struct pmb_out *out; /* first: pmb_ctx_process/tick/flush */
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct kafka_config *cfg;
    rd_kafka_t *rk;
    int topic_static, key_static;
    /* delivery reports (queue thread only) */
    uint32_t gen;
    int *st;
    size_t n;
    size_t outstanding;
};

/* kafka_partition_key's variables as pmacct 1.7.7 expands them: addresses
 * with '.' and ':' turned into '_' ("null" when not aggregated), numbers
 * in decimal ($proto too); anything else is copied.  0 or -ENAMETOOLONG. */
static int key_expand(const char *tmpl, const struct pm_rec *rec, char *out,
                      size_t outlen)
{
    static const struct {
        const char *name;
        int prim; /* PM_P_* of an address, -1 for numbers */
    } vars[] = {{"peer_src_ip", PM_P_PEER_SRC_IP}, {"src_host", PM_P_SRC_HOST},
                {"dst_host", PM_P_DST_HOST},       {"src_port", -1},
                {"dst_port", -1},                  {"proto", -1},
                {"in_iface", -1},                  {"tag2", -1},
                {"tag", -1}};
    size_t o = 0;
    while (*tmpl) {
        char val[64];
        size_t vi, n = 0;
        val[0] = 0;
        if (*tmpl == '$') {
            for (vi = 0; vi < sizeof(vars) / sizeof(vars[0]); vi++) {
                n = strlen(vars[vi].name);
                if (!strncmp(tmpl + 1, vars[vi].name, n) &&
                    !(tmpl[1 + n] == '_' ||
                      (tmpl[1 + n] >= 'a' && tmpl[1 + n] <= 'z') ||
                      (tmpl[1 + n] >= '0' && tmpl[1 + n] <= '9')))
                    break;
            }
            if (vi < sizeof(vars) / sizeof(vars[0])) {
                const char *v = vars[vi].name;
                if (vars[vi].prim >= 0) {
                    const pm_ip_t *ip = !strcmp(v, "src_host") ? &rec->src_host
                                        : !strcmp(v, "dst_host")
                                            ? &rec->dst_host
                                            : &rec->peer_src_ip;
                    if (!pm_pset_has(&rec->present, vars[vi].prim) ||
                        (ip->af != 4 && ip->af != 6))
                        snprintf(val, sizeof(val), "null");
                    else
                        inet_ntop(ip->af == 4 ? AF_INET : AF_INET6, ip->a, val,
                                  sizeof(val));
                    for (char *c = val; *c; c++)
                        if (*c == '.' || *c == ':')
                            *c = '_';
                } else {
                    unsigned long long x =
                        !strcmp(v, "src_port")   ? rec->src_port
                        : !strcmp(v, "dst_port") ? rec->dst_port
                        : !strcmp(v, "proto")    ? rec->proto
                        : !strcmp(v, "in_iface") ? rec->in_iface
                        : !strcmp(v, "tag2")     ? rec->tag2
                                                 : rec->tag;
                    snprintf(val, sizeof(val), "%llu", x);
                }
                size_t l = strlen(val);
                if (o + l >= outlen)
                    return -ENAMETOOLONG;
                memcpy(out + o, val, l);
                o += l;
                tmpl += 1 + n;
                continue;
            }
        }
        if (o + 1 >= outlen)
            return -ENAMETOOLONG;
        out[o++] = *tmpl++;
    }
    out[o] = 0;
    return 0;
}

static int name_fn(void *ud, const struct pm_rec *rec, time_t t, char *dest,
                   char *key)
{
    struct kafka_ctx *c = ud;
    const char *topic = c->cfg->topic;
    if (c->topic_static) {
        if (strlen(topic) >= PMB_NAME_MAX)
            return -ENAMETOOLONG;
        strcpy(dest, topic);
    } else if (c->host->path_expand(c->inst, topic, t, rec, dest,
                                    PMB_NAME_MAX) < 0) {
        return -ENAMETOOLONG;
    }
    if (c->cfg->partition_key) {
        if (c->key_static || !rec) {
            snprintf(key, PMB_NAME_MAX, "%s", c->cfg->partition_key);
        } else if (key_expand(c->cfg->partition_key, rec, key, PMB_NAME_MAX) <
                   0) {
            return -ENAMETOOLONG;
        }
    }
    return 0;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct kafka_ctx *c = opaque;
    uintptr_t tag = (uintptr_t)m->_private;
    uint32_t gen = (uint32_t)(tag >> 32);
    size_t i = (size_t)(tag & 0xffffffffu);
    (void)rk;
    if (gen != c->gen || !c->st || i >= c->n)
        return; /* a report of an abandoned send */
    c->st[i] = m->err ? -EIO : 0;
    if (m->err && m->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE &&
        m->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
        c->host->log_limited(c->inst, PM_LOG_WARNING, "kafka-dr",
                             "delivery to %s failed: %s",
                             m->rkt ? rd_kafka_topic_name(m->rkt) : "?",
                             rd_kafka_err2str(m->err));
    if (c->outstanding)
        c->outstanding--;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
    struct kafka_ctx *c = rd_kafka_opaque(rk);
    (void)fac;
    c->host->log_limited(c->inst, level <= 3 ? PM_LOG_ERR : PM_LOG_WARNING,
                         "kafka-log", "librdkafka: %s", buf);
}

static int kafka_send(void *ud, struct pmb *q, struct pmb_msg **msgs, size_t n,
                      int *status)
{
    struct kafka_ctx *c = ud;
    int32_t part = c->cfg->partition < 0 ? RD_KAFKA_PARTITION_UA
                                         : (int32_t)c->cfg->partition;
    c->gen++;
    c->st = status;
    c->n = n;
    c->outstanding = 0;
    for (size_t i = 0; i < n; i++) {
        struct pmb_msg *m = msgs[i];
        uintptr_t tag = ((uintptr_t)c->gen << 32) | (uintptr_t)i;
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                c->rk, RD_KAFKA_V_TOPIC(pmb_dest(m)), RD_KAFKA_V_PARTITION(part),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_VALUE((void *)pmb_payload(m), m->plen),
                RD_KAFKA_V_KEY(m->klen ? (void *)pmb_key(m) : NULL, m->klen),
                RD_KAFKA_V_OPAQUE((void *)tag), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
                c->outstanding++;
                break;
            }
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && !pmb_aborting(q)) {
                rd_kafka_poll(c->rk, 100);
                continue;
            }
            status[i] = -EIO;
            c->host->log_limited(c->inst, PM_LOG_WARNING, "kafka-produce",
                                 "producing to %s: %s", pmb_dest(m),
                                 rd_kafka_err2str(e));
            break;
        }
    }
    /* wait for every report; at shutdown purge what is left */
    int purged = 0;
    struct timespec t0, t1;
    while (c->outstanding) {
        if (pmb_aborting(q)) {
            if (!purged) {
                rd_kafka_purge(c->rk, RD_KAFKA_PURGE_F_QUEUE |
                                          RD_KAFKA_PURGE_F_INFLIGHT |
                                          RD_KAFKA_PURGE_F_NON_BLOCKING);
                purged = 1;
                clock_gettime(CLOCK_MONOTONIC, &t0);
            }
            clock_gettime(CLOCK_MONOTONIC, &t1);
            if (t1.tv_sec - t0.tv_sec >= 2)
                break; /* still not reported: counted undelivered */
        }
        rd_kafka_poll(c->rk, 50);
    }
    c->st = NULL;
    c->n = 0;
    c->gen++;
    return 0;
}

static const struct pmb_ops kafka_ops = {.send = kafka_send};

/* kafka_config_file: "global, key, value", "topic, key, value" or
 * "key=value" lines; '#' and '!' comments. */
static int load_conf_file(struct kafka_ctx *c, rd_kafka_conf_t *conf)
{
    FILE *f = fopen(c->cfg->config_file, "r");
    char line[4096], err[512];
    int ln = 0;
    if (!f) {
        PM_ERR(c->host, c->inst, "kafka_config_file %s: %s",
               c->cfg->config_file, strerror(errno));
        return -errno;
    }
    while (fgets(line, sizeof(line), f)) {
        char *k, *v, *p;
        ln++;
        line[strcspn(line, "\r\n")] = 0;
        for (p = line; *p == ' ' || *p == '\t'; p++)
            ;
        if (!*p || *p == '#' || *p == '!')
            continue;
        char *c1 = strchr(p, ','), *eq = strchr(p, '=');
        if (c1 && (!eq || c1 < eq)) {
            char *c2 = strchr(c1 + 1, ',');
            *c1 = 0;
            if (!c2 || (strcmp(p, "global") && strcmp(p, "topic"))) {
                fclose(f);
                PM_ERR(c->host, c->inst,
                       "kafka_config_file %s:%d: expected 'global|topic, key, "
                       "value' or 'key=value'",
                       c->cfg->config_file, ln);
                return -EINVAL;
            }
            *c2 = 0;
            k = c1 + 1;
            v = c2 + 1;
        } else if (eq) {
            *eq = 0;
            k = p;
            v = eq + 1;
        } else {
            fclose(f);
            PM_ERR(c->host, c->inst,
                   "kafka_config_file %s:%d: expected 'global|topic, key, "
                   "value' or 'key=value'",
                   c->cfg->config_file, ln);
            return -EINVAL;
        }
        while (*k == ' ' || *k == '\t')
            k++;
        while (*v == ' ' || *v == '\t')
            v++;
        for (p = k + strlen(k); p > k && (p[-1] == ' ' || p[-1] == '\t');)
            *--p = 0;
        for (p = v + strlen(v); p > v && (p[-1] == ' ' || p[-1] == '\t');)
            *--p = 0;
        if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) !=
            RD_KAFKA_CONF_OK) {
            fclose(f);
            PM_ERR(c->host, c->inst, "kafka_config_file %s:%d: %s",
                   c->cfg->config_file, ln, err);
            return -EINVAL;
        }
    }
    fclose(f);
    return 0;
}

static void kafka_fini(void *vctx);

static int kafka_init(const struct pm_host *host,
                      const struct pm_instance *inst, void *config, void **ctxp)
{
    struct kafka_config *cfg = config;
    struct kafka_ctx *c = calloc(1, sizeof(*c));
    rd_kafka_conf_t *conf = NULL;
    char err[512], bs[2048];
    int rc = -EINVAL;
    if (!c)
        return -ENOMEM;
    c->host = host;
    c->inst = inst;
    c->cfg = cfg;
    if (cfg->broker_port == 0 || cfg->broker_port > 65535) {
        PM_ERR(host, inst, "kafka_broker_port: %llu: expected 1-65535",
               (unsigned long long)cfg->broker_port);
        goto fail;
    }
    if (!cfg->topic || !*cfg->topic) {
        PM_ERR(host, inst, "kafka_topic: must not be empty");
        goto fail;
    }
    if (cfg->partition_dynamic && cfg->partition >= 0) {
        PM_ERR(host, inst, "kafka_partition_dynamic and kafka_partition are "
                           "mutually exclusive");
        goto fail;
    }
    if (cfg->partition_dynamic && !cfg->partition_key) {
        PM_ERR(host, inst,
               "kafka_partition_dynamic needs a kafka_partition_key");
        goto fail;
    }
    if (cfg->topic_rr > 100000) {
        PM_ERR(host, inst, "kafka_topic_rr: %llu: expected 0-100000",
               (unsigned long long)cfg->topic_rr);
        goto fail;
    }
    c->topic_static = !strchr(cfg->topic, '$') && !strchr(cfg->topic, '%');
    c->key_static = cfg->partition_key && !strchr(cfg->partition_key, '$') &&
                    !strchr(cfg->partition_key, '%');
    /* bootstrap list: each host of kafka_broker_host with the port unless
     * it names one */
    {
        size_t o = 0;
        char hosts[1024], *save = NULL, *h;
        snprintf(hosts, sizeof(hosts), "%s", cfg->broker_host);
        bs[0] = 0;
        for (h = strtok_r(hosts, ", ", &save); h; h = strtok_r(NULL, ", ", &save)) {
            int has_port = strchr(h, ':') && h[0] != '[' &&
                           strchr(h, ':') == strrchr(h, ':');
            has_port |= h[0] == '[' && strstr(h, "]:");
            o += (size_t)snprintf(bs + o, sizeof(bs) - o, "%s%s", o ? "," : "",
                                  h);
            if (!has_port && o < sizeof(bs))
                o += (size_t)snprintf(bs + o, sizeof(bs) - o, ":%llu",
                                      (unsigned long long)cfg->broker_port);
            if (o >= sizeof(bs)) {
                PM_ERR(host, inst, "kafka_broker_host: too long");
                goto fail;
            }
        }
    }
    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bs, err, sizeof(err)) ||
        rd_kafka_conf_set(conf, "message.timeout.ms", "30000", err,
                          sizeof(err)) ||
        rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err))) {
        PM_ERR(host, inst, "kafka: %s", err);
        goto fail;
    }
    if (cfg->config_file && (rc = load_conf_file(c, conf)) < 0)
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_opaque(conf, c);
    c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!c->rk) {
        PM_ERR(host, inst, "kafka: cannot create the producer: %s", err);
        rc = -EINVAL;
        goto fail;
    }
    conf = NULL; /* owned by rk */
    {
        struct pmb_out_params p = {
            .prefix = "kafka",
            .cfg = &cfg->out,
            .name = name_fn,
            .name_ud = c,
            .per_row_names = !c->topic_static,
            .ops = &kafka_ops,
            .ops_ud = c,
            .dest_rr = (uint32_t)cfg->topic_rr,
        };
        if ((rc = pmb_out_new(host, inst, &p, &c->out)) < 0)
            goto fail;
    }
    *ctxp = c;
    return 0;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    kafka_fini(c);
    return rc;
}

static void kafka_fini(void *vctx)
{
    struct kafka_ctx *c = vctx;
    if (!c)
        return;
    pmb_out_free(c->out); /* joins the delivery thread first */
    if (c->rk) {
        rd_kafka_purge(c->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_destroy(c->rk);
    }
    free(c);
}

static const struct pm_module_desc kafka_desc = {
    PM_MODULE_HEAD(PM_KIND_OUTPUT),
    .name = "kafka",
    .version = "1.0",
    .summary = "JSON aggregates to Apache Kafka (at least once, disk spool)",
    .options = kafka_options,
    .config_size = sizeof(struct kafka_config),
    .init = kafka_init,
    .process = pmb_ctx_process,
    .tick = pmb_ctx_tick,
    .flush = pmb_ctx_flush,
    .fini = kafka_fini,
};

PM_MODULE_EXPORT(kafka_desc)
