/*
 * amqp_peek.c - a small RabbitMQ client for the tests (librabbitmq).
 *
 *   amqp_peek -H host:port -x EXCHANGE -t TYPE -q QUEUE -k KEY [-d] bind
 *       declare the exchange (if absent; -d durable), a queue (-d durable)
 *       and bind it with KEY.
 *   amqp_peek -H host:port -q QUEUE [-n N] [-w SECONDS] get
 *       print every message of QUEUE (acked), one per line, until N
 *       messages or the queue stays empty for SECONDS (default 3).
 *
 * User/password guest/guest, vhost "/".  Single-threaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

static int check(amqp_rpc_reply_t r, const char *what)
{
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return 0;
    fprintf(stderr, "amqp_peek: %s failed (reply type %d, method 0x%08x)\n",
            what, r.reply_type, r.reply.id);
    return -1;
}

int main(int argc, char **argv)
{
    const char *hostport = "127.0.0.1:5672", *x = NULL, *type = "direct",
               *queue = NULL, *key = "";
    int durable = 0, opt;
    long maxn = -1, idle = 3;
    while ((opt = getopt(argc, argv, "H:x:t:q:k:dn:w:")) != -1) {
        switch (opt) {
        case 'H': hostport = optarg; break;
        case 'x': x = optarg; break;
        case 't': type = optarg; break;
        case 'q': queue = optarg; break;
        case 'k': key = optarg; break;
        case 'd': durable = 1; break;
        case 'n': maxn = atol(optarg); break;
        case 'w': idle = atol(optarg); break;
        default: return 2;
        }
    }
    if (optind >= argc || !queue) {
        fprintf(stderr, "usage: amqp_peek -H host:port -q queue ... bind|get\n");
        return 2;
    }
    const char *cmd = argv[optind];
    char host[256];
    int port = 5672;
    const char *colon = strrchr(hostport, ':');
    if (colon) {
        snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
        port = atoi(colon + 1);
    } else {
        snprintf(host, sizeof(host), "%s", hostport);
    }
    amqp_connection_state_t c = amqp_new_connection();
    amqp_socket_t *s = amqp_tcp_socket_new(c);
    struct timeval tv = {5, 0};
    if (!s || amqp_socket_open_noblock(s, host, port, &tv) != AMQP_STATUS_OK) {
        fprintf(stderr, "amqp_peek: cannot connect to %s\n", hostport);
        return 1;
    }
    if (check(amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest",
                         "guest"),
              "login"))
        return 1;
    amqp_channel_open(c, 1);
    if (check(amqp_get_rpc_reply(c), "channel.open"))
        return 1;
    if (!strcmp(cmd, "bind")) {
        if (!x)
            return 2;
        amqp_exchange_declare(c, 1, amqp_cstring_bytes(x),
                              amqp_cstring_bytes(type), 0, durable, 0, 0,
                              amqp_empty_table);
        if (check(amqp_get_rpc_reply(c), "exchange.declare"))
            return 1;
        amqp_queue_declare(c, 1, amqp_cstring_bytes(queue), 0, durable, 0, 0,
                           amqp_empty_table);
        if (check(amqp_get_rpc_reply(c), "queue.declare"))
            return 1;
        amqp_queue_bind(c, 1, amqp_cstring_bytes(queue), amqp_cstring_bytes(x),
                        amqp_cstring_bytes(key), amqp_empty_table);
        if (check(amqp_get_rpc_reply(c), "queue.bind"))
            return 1;
    } else if (!strcmp(cmd, "get")) {
        long n = 0;
        time_t last = time(NULL);
        while (maxn < 0 || n < maxn) {
            amqp_rpc_reply_t r =
                amqp_basic_get(c, 1, amqp_cstring_bytes(queue), 1);
            if (check(r, "basic.get"))
                return 1;
            if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) {
                if (time(NULL) - last >= idle)
                    break;
                nanosleep(&(struct timespec){0, 50000000}, NULL); /* poll */
                continue;
            }
            amqp_message_t m;
            r = amqp_read_message(c, 1, &m, 0);
            if (check(r, "read message"))
                return 1;
            fwrite(m.body.bytes, 1, m.body.len, stdout);
            if (!m.body.len || ((char *)m.body.bytes)[m.body.len - 1] != '\n')
                fputc('\n', stdout);
            amqp_destroy_message(&m);
            amqp_maybe_release_buffers(c);
            n++;
            last = time(NULL);
        }
        fflush(stdout);
    } else {
        return 2;
    }
    amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
    return 0;
}
