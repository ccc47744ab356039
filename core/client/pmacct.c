/*
 * pmacct.c - the `pmacct` client: queries a memory table over its UNIX
 * socket (imt_path) with the PMQ/1 text protocol (pmacct/pm_query.h,
 * docs/client-protocol.md) and prints the daemon's answer.  Accepts the
 * command line of pmacct 1.7.7's client; the daemon renders the tables, so
 * this program only builds the request and copies the body to stdout.
 * Single-threaded; no shared state.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <pmacct/pm_query.h>

#define REPLY_TIMEOUT_MS 60000

struct req {
    char *p;
    size_t len, cap;
};

static int req_add(struct req *r, const char *k, const char *v)
{
    size_t need = strlen(k) + strlen(v) + 4;
    if (r->len + need + 1 > r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 1024;
        while (nc < r->len + need + 1)
            nc *= 2;
        char *np = realloc(r->p, nc);
        if (!np)
            return -ENOMEM;
        r->p = np;
        r->cap = nc;
    }
    r->len += (size_t)sprintf(r->p + r->len, "%s%s%s\n", k, *k ? ": " : "",
                              v);
    return 0;
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f, "pmacct IMT plugin client, pmacct %s (PMQ/%d)\n",
            PACKAGE_VERSION, PMQ_VERSION);
    fprintf(f, "Usage: %s [query]\n\n", prog);
    fputs(
        "Queries:\n"
        "  -h\tShow this page\n"
        "  -s\tShow statistics\n"
        "  -N\t<matching data>[';'<matching data>] | 'file:'<filename> \n"
        "\tMatch primitives; print counters only (requires -c)\n"
        "  -M\t<matching data>[';'<matching data>] | 'file:'<filename> \n"
        "\tMatch primitives; print formatted table (requires -c)\n"
        "  -n\t<bytes | packets | flows | all> \n"
        "\tSelect the counters to print (applies to -N)\n"
        "  -S\tSum counters instead of returning a single counter for each "
        "request (applies to -N)\n"
        "  -a\tDisplay all table fields (even those currently unused)\n"
        "  -c\t<primitive>[,<primitive>...] (any aggregate primitive: "
        "src_host, dst_port, ...) \n"
        "\tSelect primitives to match (required by -N and -M)\n"
        "  -T\t<bytes | packets | flows>,[<# how many>] \n"
        "\tOutput top N statistics (applies to -M and -s)\n"
        "  -e\tClear statistics\n"
        "  -i\tShow time (in seconds) since statistics were last cleared "
        "(ie. pmacct -e)\n"
        "  -r\tReset counters (applies to -N and -M)\n"
        "  -l\tPerform locking of the table\n"
        "  -t\tShow memory table status\n"
        "  -C\tShow classifiers table\n"
        "  -U\tShow custom primitives table\n"
        "  -p\t<file> \n"
        "\tSocket for client-server communication (DEFAULT: "
        "/tmp/collect.pipe)\n"
        "  -O\tSet output < formatted | csv | json | event_formatted | "
        "event_csv > (applies to -M and -s)\n"
        "  -E\tSet sparator for CSV format\n"
        "  -I\tSet timestamps in 'since Epoch' format\n"
        "  -u\tLeave IP protocols in numerical format\n"
        "  -0\tAlways set timestamps to UTC (even if the timezone configured "
        "on the system is different)\n"
        "  -V\tPrint version and exit\n"
        "  --stats\tShow the daemon's counters (this implementation)\n"
        "\n"
        "  See docs/client-protocol.md for the protocol\n\n",
        f);
}

/* Strip every blank from s in place (pmacct does so for file: lines). */
static void strip_blanks(char *s)
{
    char *d = s;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
            *d++ = *s;
    *d = 0;
}

/* Add the match terms of a -M/-N argument to the request. */
static int add_terms(struct req *r, const char *arg)
{
    if (!strncmp(arg, "file:", 5)) {
        const char *path = arg + 5;
        FILE *f = fopen(path, "r");
        char line[PMQ_MAX_LINE];
        if (!f) {
            printf("ERROR: file '%s' not found\n", path);
            return -ENOENT;
        }
        while (fgets(line, sizeof(line), f)) {
            strip_blanks(line);
            if (line[0] && req_add(r, PMQ_K_MATCH, line) < 0) {
                fclose(f);
                return -ENOMEM;
            }
        }
        fclose(f);
        return 0;
    }
    char *copy = strdup(arg), *save = NULL;
    if (!copy)
        return -ENOMEM;
    for (char *t = strtok_r(copy, ";", &save); t;
         t = strtok_r(NULL, ";", &save)) {
        if (t[0] && req_add(r, PMQ_K_MATCH, t) < 0) {
            free(copy);
            return -ENOMEM;
        }
    }
    free(copy);
    return 0;
}

static int connect_to(const char *path)
{
    struct sockaddr_un sa = {0};
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return -errno;
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Read with a deadline; returns bytes, 0 at EOF, -errno. */
static ssize_t read_some(int fd, char *buf, size_t len)
{
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int n = poll(&pf, 1, REPLY_TIMEOUT_MS);
        if (n == 0)
            return -ETIMEDOUT;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        ssize_t r = read(fd, buf, len);
        if (r < 0 && errno == EINTR)
            continue;
        return r < 0 ? -errno : r;
    }
}

/* Send the request and print the answer.  Returns the exit code. */
static int query(const char *path, const struct req *r)
{
    char buf[65536];
    char status[1024];
    size_t slen = 0;
    int fd = connect_to(path), rc = 1;
    ssize_t n = 0;
    size_t body_off = 0;

    if (fd < 0) {
        printf("ERROR: Unable to connect to '%s'\n\n", path);
        return 1;
    }
    if (send_all(fd, r->p, r->len) < 0) {
        printf("ERROR: Unable to send the query to '%s': %s\n", path,
               strerror(errno));
        goto out;
    }
    shutdown(fd, SHUT_WR);
    /* status line */
    for (;;) {
        n = read_some(fd, buf, sizeof(buf));
        if (n < 0) {
            printf("ERROR: no answer from '%s': %s\n", path,
                   strerror((int)-n));
            goto out;
        }
        if (n == 0)
            break;
        char *nl = memchr(buf, '\n', (size_t)n);
        size_t take = nl ? (size_t)(nl - buf) : (size_t)n;
        if (slen + take >= sizeof(status))
            take = sizeof(status) - 1 - slen;
        memcpy(status + slen, buf, take);
        slen += take;
        if (nl) {
            body_off = (size_t)(nl - buf) + 1;
            break;
        }
        if (slen >= sizeof(status) - 1)
            break;
    }
    status[slen] = 0;
    if (slen == 0) {
        printf("ERROR: '%s' closed the connection without answering\n",
               path);
        goto out;
    }
    if (strncmp(status, PMQ_PREFIX, strlen(PMQ_PREFIX)) != 0) {
        printf("ERROR: unexpected answer from '%s': not a PMQ daemon (a "
               "pmacct 1.7 memory plugin needs its own client)\n",
               path);
        goto out;
    }
    long ver = strtol(status + strlen(PMQ_PREFIX), NULL, 10);
    const char *sp = strchr(status, ' ');
    const char *word = sp ? sp + 1 : "";
    if (ver != PMQ_VERSION) {
        printf("ERROR: daemon speaks PMQ/%ld, this client PMQ/%d: upgrade "
               "the %s\n",
               ver, PMQ_VERSION, ver > PMQ_VERSION ? "client" : "daemon");
        goto out;
    }
    if (!strncmp(word, PMQ_ERR, strlen(PMQ_ERR))) {
        const char *why = word + strlen(PMQ_ERR);
        while (*why == ' ')
            why++;
        printf("ERROR: %s\n", why);
        goto out;
    }
    if (strncmp(word, PMQ_OK, strlen(PMQ_OK)) != 0) {
        printf("ERROR: unexpected answer from '%s': '%.100s'\n", path,
               status);
        goto out;
    }
    /* body */
    if (n > 0 && (size_t)n > body_off)
        fwrite(buf + body_off, 1, (size_t)n - body_off, stdout);
    while (n > 0) {
        n = read_some(fd, buf, sizeof(buf));
        if (n < 0) {
            fflush(stdout);
            fprintf(stderr, "ERROR: answer from '%s' cut short: %s\n", path,
                    strerror((int)-n));
            goto out;
        }
        if (n > 0)
            fwrite(buf, 1, (size_t)n, stdout);
    }
    rc = 0;
out:
    close(fd);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"stats", no_argument, NULL, 1000},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    const char *path = PMQ_DEFAULT_PATH;
    const char *match_N = NULL, *match_M = NULL, *prims = NULL;
    const char *fmt = NULL, *sep = NULL, *sort = NULL, *counters = NULL;
    char top[32] = "";
    int show = 0, clear = 0, since = 0, reset = 0, lock = 0, status = 0;
    int classifiers = 0, custom = 0, stats = 0, sum = 0, all = 0;
    int num_protos = 0, epoch = 0, utc = 0;
    struct req r = {0};
    int c, rc = 1;

    while ((c = getopt_long(argc, argv, "hsN:M:n:Sac:T:eirltCUp:O:E:Iu0V",
                            longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout, argv[0]);
            return 0;
        case 'V':
            printf("pmacct IMT plugin client, pmacct %s (PMQ/%d)\n",
                   PACKAGE_VERSION, PMQ_VERSION);
            return 0;
        case 's':
            show = 1;
            break;
        case 'N':
            match_N = optarg;
            break;
        case 'M':
            match_M = optarg;
            break;
        case 'n':
            if (!strcmp(optarg, "bytes") || !strcmp(optarg, "packets") ||
                !strcmp(optarg, "flows") || !strcmp(optarg, "all"))
                counters = optarg;
            else
                printf("WARN: -n, ignoring unknown counter type: %s.\n",
                       optarg);
            break;
        case 'S':
            sum = 1;
            break;
        case 'a':
            all = 1;
            break;
        case 'c':
            prims = optarg;
            break;
        case 'T': {
            char word[32];
            const char *comma = strchr(optarg, ',');
            size_t wl = comma ? (size_t)(comma - optarg) : strlen(optarg);
            if (wl >= sizeof(word))
                wl = sizeof(word) - 1;
            memcpy(word, optarg, wl);
            word[wl] = 0;
            if (!strcmp(word, "bytes") || !strcmp(word, "packets") ||
                !strcmp(word, "flows")) {
                sort = !strcmp(word, "bytes")     ? "bytes"
                       : !strcmp(word, "packets") ? "packets"
                                                  : "flows";
                if (comma)
                    snprintf(top, sizeof(top), "%lu",
                             strtoul(comma + 1, NULL, 10));
            } else {
                printf("WARN: -T, ignoring unknown counter type: %s.\n",
                       word);
            }
            break;
        }
        case 'e':
            clear = 1;
            break;
        case 'i':
            since = 1;
            break;
        case 'r':
            reset = 1;
            break;
        case 'l':
            lock = 1;
            break;
        case 't':
            status = 1;
            break;
        case 'C':
            classifiers = 1;
            break;
        case 'U':
            custom = 1;
            break;
        case 'p':
            path = optarg;
            break;
        case 'O':
            if (!strcmp(optarg, "formatted") || !strcmp(optarg, "csv") ||
                !strcmp(optarg, "json") ||
                !strcmp(optarg, "event_formatted") ||
                !strcmp(optarg, "event_csv"))
                fmt = optarg;
            else
                printf("WARN: -O, ignoring unknown output value: '%s'.\n",
                       optarg);
            break;
        case 'E':
            sep = optarg;
            break;
        case 'I':
            epoch = 1;
            break;
        case 'u':
            num_protos = 1;
            break;
        case '0':
            utc = 1;
            break;
        case 1000:
            stats = 1;
            break;
        default:
            usage(stdout, argv[0]);
            return 1;
        }
    }

    const char *op = NULL;
    if (match_N || match_M) {
        if (!prims || !*prims) {
            printf("ERROR: -N or -M selected but -c has not been specified "
                   "or is invalid.\n  Exiting...\n\n");
            usage(stdout, argv[0]);
            return 1;
        }
        op = match_N ? PMQ_OP_COUNTERS : PMQ_OP_MATCH;
    } else if (show) {
        op = PMQ_OP_SHOW;
    } else if (status) {
        op = PMQ_OP_STATUS;
    } else if (classifiers) {
        op = PMQ_OP_CLASSIFIERS;
    } else if (custom) {
        op = PMQ_OP_CUSTOM;
    } else if (since) {
        op = PMQ_OP_SINCE;
    } else if (clear) {
        op = PMQ_OP_CLEAR;
    } else if (stats) {
        op = PMQ_OP_STATS;
    }
    if (!op) {
        printf("ERROR: no options specified. Either -s, -e, -t, -M, -N or "
               "-C must be supplied. \n  Exiting...\n\n");
        usage(stdout, argv[0]);
        return 1;
    }

    if (req_add(&r, "", PMQ_HELLO) < 0 || req_add(&r, PMQ_K_OP, op) < 0)
        goto oom;
    if (req_add(&r, PMQ_K_CLIENT, "pmacct " PACKAGE_VERSION) < 0)
        goto oom;
    if (fmt && req_add(&r, PMQ_K_FORMAT, fmt) < 0)
        goto oom;
    if (sep && req_add(&r, PMQ_K_SEPARATOR, sep) < 0)
        goto oom;
    if (prims && (match_N || match_M) &&
        req_add(&r, PMQ_K_PRIMITIVES, prims) < 0)
        goto oom;
    if (sort && req_add(&r, PMQ_K_SORT, sort) < 0)
        goto oom;
    if (top[0] && strcmp(top, "0") && req_add(&r, PMQ_K_TOP, top) < 0)
        goto oom;
    if (counters && req_add(&r, PMQ_K_COUNTERS, counters) < 0)
        goto oom;
    if (sum && req_add(&r, PMQ_K_SUM, "1") < 0)
        goto oom;
    if (reset && (match_N || match_M) && req_add(&r, PMQ_K_RESET, "1") < 0)
        goto oom;
    if (clear && strcmp(op, PMQ_OP_CLEAR) &&
        req_add(&r, PMQ_K_CLEAR, "1") < 0)
        goto oom;
    if (all && req_add(&r, PMQ_K_ALL_FIELDS, "1") < 0)
        goto oom;
    if (num_protos && req_add(&r, PMQ_K_NUM_PROTOS, "1") < 0)
        goto oom;
    if (epoch && req_add(&r, PMQ_K_TS_EPOCH, "1") < 0)
        goto oom;
    if (utc && req_add(&r, PMQ_K_UTC, "1") < 0)
        goto oom;
    if (lock && req_add(&r, PMQ_K_LOCK, "1") < 0)
        goto oom;
    if (match_N || match_M) {
        int e = add_terms(&r, match_N ? match_N : match_M);
        if (e == -ENOENT) {
            free(r.p);
            return 1;
        }
        if (e < 0)
            goto oom;
    }
    if (req_add(&r, "", "") < 0)
        goto oom;
    fflush(stdout);
    rc = query(path, &r);
    fflush(stdout);
    free(r.p);
    return rc;
oom:
    printf("ERROR: out of memory\n");
    free(r.p);
    return 1;
}
