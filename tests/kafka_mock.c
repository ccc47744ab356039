/*
 * kafka_mock.c - a Kafka cluster for the tests: librdkafka's built-in mock
 * cluster (rdkafka_mock.h) in a small process, listening on loopback.
 *
 *   kafka_mock [-b BROKERS] [-p PARTITIONS] [-t TOPIC]... [-f BOOTSTRAP_FILE]
 *
 * Prints "127.0.0.1:PORT,..." (the bootstrap list) on stdout and into
 * BOOTSTRAP_FILE when given, then serves until SIGTERM/SIGINT.  SIGUSR1
 * takes every broker down (connections closed and refused), SIGUSR2 brings
 * them back: how the tests simulate a broker restart without losing the
 * cluster's stored messages.  Topics not created with -t are created on
 * first use by the mock (auto-create).
 *
 * Nothing is shared between threads except the signal flags (sig_atomic_t).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t want_quit, want_down, want_up;

static void on_sig(int s)
{
    if (s == SIGUSR1)
        want_down = 1;
    else if (s == SIGUSR2)
        want_up = 1;
    else
        want_quit = 1;
}

int main(int argc, char **argv)
{
    int nbrokers = 1, parts = 1, opt;
    const char *topics[32];
    int ntopics = 0;
    const char *bfile = NULL;
    char err[256];

    while ((opt = getopt(argc, argv, "b:p:t:f:")) != -1) {
        switch (opt) {
        case 'b':
            nbrokers = atoi(optarg);
            break;
        case 'p':
            parts = atoi(optarg);
            break;
        case 't':
            if (ntopics < 32)
                topics[ntopics++] = optarg;
            break;
        case 'f':
            bfile = optarg;
            break;
        default:
            fprintf(stderr, "usage: kafka_mock [-b brokers] [-p partitions] "
                            "[-t topic]... [-f bootstrap_file]\n");
            return 2;
        }
    }
    if (nbrokers < 1 || parts < 1)
        return 2;

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* a dummy producer handle owns the mock cluster */
    if (rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err)) !=
        RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka_mock: %s\n", err);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "kafka_mock: rd_kafka_new: %s\n", err);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, nbrokers);
    if (!mc) {
        fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 0; i < ntopics; i++)
        rd_kafka_mock_topic_create(mc, topics[i], parts, 1);

    const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
    printf("%s\n", bs);
    fflush(stdout);
    if (bfile) {
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", bfile);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%s\n", bs) < 0 || fclose(f) != 0 ||
            rename(tmp, bfile) < 0) {
            fprintf(stderr, "kafka_mock: %s: %s\n", bfile, strerror(errno));
            return 1;
        }
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sig;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, &old);

    while (!want_quit) {
        if (want_down) {
            want_down = 0;
            for (int i = 1; i <= nbrokers; i++)
                rd_kafka_mock_broker_set_down(mc, i);
            fprintf(stderr, "kafka_mock: brokers down\n");
        }
        if (want_up) {
            want_up = 0;
            for (int i = 1; i <= nbrokers; i++)
                rd_kafka_mock_broker_set_up(mc, i);
            fprintf(stderr, "kafka_mock: brokers up\n");
        }
        /* the mock runs on its own thread: this one only waits for
         * signals (no race: they are blocked outside sigsuspend) */
        sigsuspend(&old);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
