/*
 * amqp.c - the `amqp` output: aggregates records in the host's cache and
 * every amqp_refresh_time seconds publishes each aggregate as pmacct
 * 1.7.7's JSON message to a RabbitMQ exchange (librabbitmq), at least
 * once: the channel is in confirm mode and a message counts as delivered
 * when the broker acks it.
 *
 * The cache, purges and message text are shared with the kafka output
 * (modules/broker/pmbout.c); delivery (retries, memory buffer, disk spool,
 * bounded shutdown) is modules/broker/pmbroker.c.  This file is the
 * options, the connection (login, channel, exchange declaration, confirm
 * mode; re-established after any error) and the send callback.
 *
 * Threads: init/fini on the main thread; process/tick/flush on the
 * pipeline thread; the connection is used only by the delivery queue's
 * thread (send()), and closed by fini after that thread is joined.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

#include "modules/broker/pmbroker.h"

struct amqp_config {
    struct pmb_out_config out; /* first: the shared keys */
    char *host;
    char *vhost;
    char *user;
    char *passwd;
    char *exchange;
    char *exchange_type;
    char *routing_key;
    int persistent_msg;
    uint64_t frame_max;
    uint64_t heartbeat_interval;
    uint64_t routing_key_rr; /* amqp_routing_key_rr */
};

#define ACFG(f) offsetof(struct amqp_config, f)

static const struct pm_option amqp_options[] = {
    PMB_OUT_OPTIONS("amqp", struct amqp_config),
    PMB_OUT_AVRO_OPTIONS("amqp", "amqp_avro_schema_routing_key",
                         struct amqp_config),
    {"amqp_host", PM_OPT_STR, 0, ACFG(host), "localhost", "host[:port]",
     "RabbitMQ broker (port 5672 unless given: ours)", 0},
    {"amqp_vhost", PM_OPT_STR, 0, ACFG(vhost), "/", "vhost", "virtual host",
     0},
    {"amqp_user", PM_OPT_STR, 0, ACFG(user), "guest", "user", "user name", 0},
    {"amqp_passwd", PM_OPT_STR, PM_OPTF_SECRET, ACFG(passwd), "guest",
     "password", "password", 0},
    {"amqp_exchange", PM_OPT_STR, 0, ACFG(exchange), "pmacct", "name",
     "exchange to publish to (declared)", 0},
    {"amqp_exchange_type", PM_OPT_STR, 0, ACFG(exchange_type), "direct",
     "direct|fanout|topic|headers", "type of the declared exchange", 0},
    {"amqp_routing_key", PM_OPT_STR, 0, ACFG(routing_key), "acct", "key",
     "routing key ($-variables: $peer_src_ip, $tag, ... per aggregate)", 0},
    {"amqp_persistent_msg", PM_OPT_BOOL, 0, ACFG(persistent_msg), "false",
     NULL, "persistent messages (delivery mode 2), durable exchange", 0},
    {"amqp_frame_max", PM_OPT_UINT, 0, ACFG(frame_max), "131072", "bytes",
     "maximum AMQP frame size", 0},
    {"amqp_heartbeat_interval", PM_OPT_UINT, 0, ACFG(heartbeat_interval), "0",
     "seconds", "AMQP heartbeat (0: off)", 0},
    {"amqp_routing_key_rr", PM_OPT_UINT, 0, ACFG(routing_key_rr), "0",
     "count",
     "round-robin the messages of each purge over routing keys "
     "amqp_routing_key + _0, _1, ... _N-1 (markers to _0; 0: off)",
     0},
    PM_OPTION_END,
};

struct amqp_ctx {
    struct pmb_out *out; /* first: pmb_ctx_process/tick/flush */
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct amqp_config *cfg;
    char hostname[256];
    int port;
    int rk_static;
    /* connection (queue thread only) */
    amqp_connection_state_t conn;
    int up;
    uint64_t next_tag; /* delivery tag of the next publish */
};

static int name_fn(void *ud, const struct pm_rec *rec, time_t t, char *dest,
                   char *key)
{
    struct amqp_ctx *c = ud;
    (void)key;
    if (c->rk_static || !rec) {
        if (strlen(c->cfg->routing_key) >= PMB_NAME_MAX)
            return -ENAMETOOLONG;
        strcpy(dest, c->cfg->routing_key);
        return 0;
    }
    return c->host->path_expand(c->inst, c->cfg->routing_key, t, rec, dest,
                                PMB_NAME_MAX) < 0
               ? -ENAMETOOLONG
               : 0;
}

static void conn_close(struct amqp_ctx *c)
{
    if (!c->conn)
        return;
    if (c->up) {
        amqp_channel_close(c->conn, 1, AMQP_REPLY_SUCCESS);
        amqp_connection_close(c->conn, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(c->conn);
    c->conn = NULL;
    c->up = 0;
}

static const char *rpc_err(amqp_rpc_reply_t r, char *buf, size_t n)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return "ok";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        return amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *m = r.reply.decoded;
            snprintf(buf, n, "server closed the connection: %u %.*s",
                     m->reply_code, (int)m->reply_text.len,
                     (char *)m->reply_text.bytes);
        } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *m = r.reply.decoded;
            snprintf(buf, n, "server closed the channel: %u %.*s",
                     m->reply_code, (int)m->reply_text.len,
                     (char *)m->reply_text.bytes);
        } else {
            snprintf(buf, n, "server error (method 0x%08x)", r.reply.id);
        }
        return buf;
    default:
        return "no reply";
    }
}

static int conn_open(struct amqp_ctx *c)
{
    char eb[256];
    amqp_rpc_reply_t r;
    struct timeval tv = {5, 0};
    amqp_socket_t *s;
    const char *what = "connect";
    int rc;

    c->conn = amqp_new_connection();
    if (!c->conn)
        return -ENOMEM;
    s = amqp_tcp_socket_new(c->conn);
    if (!s)
        goto fail_nomsg;
    if ((rc = amqp_socket_open_noblock(s, c->hostname, c->port, &tv)) !=
        AMQP_STATUS_OK) {
        c->host->log_limited(c->inst, PM_LOG_WARNING, "amqp-conn",
                             "amqp_host %s:%d: %s", c->hostname, c->port,
                             amqp_error_string2(rc));
        goto fail_nomsg;
    }
    what = "login";
    r = amqp_login(c->conn, c->cfg->vhost, 0, (int)c->cfg->frame_max,
                   (int)c->cfg->heartbeat_interval, AMQP_SASL_METHOD_PLAIN,
                   c->cfg->user, c->cfg->passwd);
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        goto fail;
    c->up = 1;
    what = "channel.open";
    amqp_channel_open(c->conn, 1);
    r = amqp_get_rpc_reply(c->conn);
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        goto fail;
    what = "exchange.declare";
    amqp_exchange_declare(c->conn, 1, amqp_cstring_bytes(c->cfg->exchange),
                          amqp_cstring_bytes(c->cfg->exchange_type), 0,
                          c->cfg->persistent_msg ? 1 : 0, 0, 0,
                          amqp_empty_table);
    r = amqp_get_rpc_reply(c->conn);
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
        r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        /* the exchange exists with other properties (e.g. durable): use it
         * as it is (a passive declare checks that it exists) */
        amqp_channel_close_ok_t ok = {0};
        amqp_send_method(c->conn, 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        amqp_channel_open(c->conn, 1);
        r = amqp_get_rpc_reply(c->conn);
        if (r.reply_type != AMQP_RESPONSE_NORMAL)
            goto fail;
        what = "exchange.declare (passive)";
        amqp_exchange_declare(c->conn, 1, amqp_cstring_bytes(c->cfg->exchange),
                              amqp_cstring_bytes(c->cfg->exchange_type), 1, 0,
                              0, 0, amqp_empty_table);
        r = amqp_get_rpc_reply(c->conn);
    }
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        goto fail;
    what = "confirm.select";
    amqp_confirm_select(c->conn, 1);
    r = amqp_get_rpc_reply(c->conn);
    if (r.reply_type != AMQP_RESPONSE_NORMAL)
        goto fail;
    c->next_tag = 1;
    c->host->log(c->inst, PM_LOG_INFO, "connected to %s:%d vhost %s",
                 c->hostname, c->port, c->cfg->vhost);
    return 0;
fail:
    c->host->log_limited(c->inst, PM_LOG_WARNING, "amqp-conn",
                         "amqp %s:%d: %s: %s", c->hostname, c->port, what,
                         rpc_err(r, eb, sizeof(eb)));
fail_nomsg:
    c->up = 0;
    amqp_destroy_connection(c->conn);
    c->conn = NULL;
    return -ECONNREFUSED;
}

static int amqp_send(void *ud, struct pmb *q, struct pmb_msg **msgs, size_t n,
                     int *status)
{
    struct amqp_ctx *c = ud;
    amqp_basic_properties_t props;
    uint64_t first, last, acked;
    int rc;

    if (!c->conn && (rc = conn_open(c)) < 0)
        return rc;
    memset(&props, 0, sizeof(props));
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = c->cfg->persistent_msg ? 2 : 1;
    first = c->next_tag;
    /* cork the socket while the batch is written: librabbitmq sends each
     * message as its own TCP segment (TCP_NODELAY); corked, the kernel
     * packs them into full segments, far less work for the broker */
    int fd = amqp_get_sockfd(c->conn), on = 1, off = 0;
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
    for (size_t i = 0; i < n; i++) {
        amqp_bytes_t body = {msgs[i]->plen, (void *)pmb_payload(msgs[i])};
        rc = amqp_basic_publish(c->conn, 1,
                                amqp_cstring_bytes(c->cfg->exchange),
                                amqp_cstring_bytes(pmb_dest(msgs[i])), 0, 0,
                                &props, body);
        if (rc != AMQP_STATUS_OK) {
            c->host->log_limited(c->inst, PM_LOG_WARNING, "amqp-pub",
                                 "amqp publish: %s", amqp_error_string2(rc));
            conn_close(c);
            return -EIO;
        }
        c->next_tag++;
    }
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof(off));
    last = c->next_tag - 1;
    acked = first - 1;
    /* wait for the confirms */
    while (acked < last) {
        amqp_frame_t fr;
        struct timeval tv = {0, 200000};
        amqp_maybe_release_buffers(c->conn);
        rc = amqp_simple_wait_frame_noblock(c->conn, &fr, &tv);
        if (rc == AMQP_STATUS_TIMEOUT) {
            if (pmb_aborting(q))
                break;
            continue;
        }
        if (rc != AMQP_STATUS_OK) {
            c->host->log_limited(c->inst, PM_LOG_WARNING, "amqp-pub",
                                 "amqp: waiting for confirms: %s",
                                 amqp_error_string2(rc));
            break;
        }
        if (fr.frame_type != AMQP_FRAME_METHOD)
            continue;
        if (fr.payload.method.id == AMQP_BASIC_ACK_METHOD ||
            fr.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            int nack = fr.payload.method.id == AMQP_BASIC_NACK_METHOD;
            uint64_t tag, mult;
            if (nack) {
                amqp_basic_nack_t *a = fr.payload.method.decoded;
                tag = a->delivery_tag;
                mult = a->multiple;
            } else {
                amqp_basic_ack_t *a = fr.payload.method.decoded;
                tag = a->delivery_tag;
                mult = a->multiple;
            }
            uint64_t lo = mult ? first : tag;
            for (uint64_t t = lo; t <= tag && t <= last; t++)
                if (t >= first && status[t - first] == -EIO)
                    status[t - first] = nack ? -EAGAIN : 0;
            /* acked = highest tag below which all are settled */
            while (acked < last && status[acked + 1 - first] != -EIO)
                acked++;
        } else if (fr.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
                   fr.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
            c->host->log_limited(c->inst, PM_LOG_WARNING, "amqp-pub",
                                 "amqp: the server closed the %s",
                                 fr.payload.method.id ==
                                         AMQP_CHANNEL_CLOSE_METHOD
                                     ? "channel"
                                     : "connection");
            break;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (status[i] == -EAGAIN)
            status[i] = -EIO;
    if (acked < last) {
        conn_close(c); /* tags are per channel: start over */
        return -EIO;
    }
    return 0;
}

static const struct pmb_ops amqp_ops = {.send = amqp_send};

static void amqp_fini(void *vctx);

static int amqp_init(const struct pm_host *host, const struct pm_instance *inst,
                     void *config, void **ctxp)
{
    struct amqp_config *cfg = config;
    struct amqp_ctx *c = calloc(1, sizeof(*c));
    int rc = -EINVAL;
    if (!c)
        return -ENOMEM;
    c->host = host;
    c->inst = inst;
    c->cfg = cfg;
    /* amqp_host: host, host:port, [v6]:port */
    {
        const char *h = cfg->host, *colon;
        c->port = 5672;
        if (h[0] == '[' && (colon = strstr(h, "]:"))) {
            snprintf(c->hostname, sizeof(c->hostname), "%.*s",
                     (int)(colon - h - 1), h + 1);
            c->port = atoi(colon + 2);
        } else if ((colon = strchr(h, ':')) && colon == strrchr(h, ':')) {
            snprintf(c->hostname, sizeof(c->hostname), "%.*s", (int)(colon - h),
                     h);
            c->port = atoi(colon + 1);
        } else {
            snprintf(c->hostname, sizeof(c->hostname), "%s", h);
        }
        if (c->port <= 0 || c->port > 65535) {
            PM_ERR(host, inst, "amqp_host: '%s': bad port", h);
            goto fail;
        }
    }
    if (cfg->frame_max < 4096) {
        PM_ERR(host, inst, "amqp_frame_max: %llu: expected at least 4096",
               (unsigned long long)cfg->frame_max);
        goto fail;
    }
    if (!cfg->exchange || !*cfg->exchange) {
        PM_ERR(host, inst, "amqp_exchange: must not be empty");
        goto fail;
    }
    if (cfg->routing_key_rr > 100000) {
        PM_ERR(host, inst, "amqp_routing_key_rr: %llu: expected 0-100000",
               (unsigned long long)cfg->routing_key_rr);
        goto fail;
    }
    c->rk_static =
        !strchr(cfg->routing_key, '$') && !strchr(cfg->routing_key, '%');
    {
        struct pmb_out_params p = {
            .prefix = "amqp",
            .cfg = &cfg->out,
            .name = name_fn,
            .name_ud = c,
            .per_row_names = !c->rk_static,
            .ops = &amqp_ops,
            .ops_ud = c,
            .dest_rr = (uint32_t)cfg->routing_key_rr,
        };
        if ((rc = pmb_out_new(host, inst, &p, &c->out)) < 0)
            goto fail;
    }
    *ctxp = c;
    return 0;
fail:
    amqp_fini(c);
    return rc;
}

static void amqp_fini(void *vctx)
{
    struct amqp_ctx *c = vctx;
    if (!c)
        return;
    pmb_out_free(c->out); /* joins the delivery thread first */
    conn_close(c);
    free(c);
}

static const struct pm_module_desc amqp_desc = {
    PM_MODULE_HEAD(PM_KIND_OUTPUT),
    .name = "amqp",
    .version = "1.0",
    .summary = "JSON aggregates to RabbitMQ/AMQP (confirmed, disk spool)",
    .options = amqp_options,
    .config_size = sizeof(struct amqp_config),
    .init = amqp_init,
    .process = pmb_ctx_process,
    .tick = pmb_ctx_tick,
    .flush = pmb_ctx_flush,
    .fini = amqp_fini,
};

PM_MODULE_EXPORT(amqp_desc)
