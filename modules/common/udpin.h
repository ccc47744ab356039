/*
 * udpin.h - shared datagram input for the flow collectors (netflow, sflow):
 * a UDP socket on IPv4/IPv6 read with recvmmsg, or the UDP payloads of a
 * pcap savefile (the packet's IP source is the exporter), an exporter
 * allow-list and a bounded per-exporter statistics table.
 *
 * Threads: a struct pm_udpin and a struct pm_exptab belong to one receiver
 * thread; nothing here is shared or locked.  A group of sockets opened by
 * pm_udpin_open_group() is one pm_udpin per socket, each read by its own
 * thread; the kernel steers every datagram of one exporter (source address)
 * to the same socket.  Allow lists are read-only once loaded.  Published
 * per-exporter counters are host counters (atomic adds).
 */
#ifndef PM_MODULES_COMMON_UDPIN_H
#define PM_MODULES_COMMON_UDPIN_H

#include <stddef.h>
#include <stdint.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_record.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- allow list ----------------------------------------------------- */
struct pm_prefix {
    pm_ip_t net; /* masked */
    uint8_t len;
};

struct pm_allow {
    struct pm_prefix *v;
    uint32_t n;
};

/* Load an allow file: one IP or prefix (a.b.c.d/len, x::/len) per line,
 * '!' or '#' comments, blank lines ignored.  On error returns -EINVAL /
 * -errno and writes "file:line: reason" into err. */
int pm_allow_load(struct pm_allow *a, const char *path, char *err,
                  size_t errlen);
/* Parse one address or prefix.  0 or -EINVAL. */
int pm_prefix_parse(struct pm_prefix *p, const char *text);
/* 1 when addr matches one entry (or the list is empty). */
int pm_allow_check(const struct pm_allow *a, const pm_ip_t *addr);
void pm_allow_free(struct pm_allow *a);

/* Address helpers. */
int pm_ip_from_sockaddr(pm_ip_t *ip, uint16_t *port, const void *sa);
/* Text form of ip into buf (INET6_ADDRSTRLEN is enough); returns buf. */
const char *pm_ip_str(const pm_ip_t *ip, char *buf, size_t len);
/* Mask ip to len bits in place. */
void pm_ip_mask(pm_ip_t *ip, unsigned len);

/* ---- per-exporter statistics ---------------------------------------- */
/* Counters published per exporter: datagrams, records, seq_gaps,
 * malformed, unknown_template. */
#define PM_EXP_NCTR 5
/* Exporters given their own named counters, per instance (the registry
 * is not meant for more); the others are only in the totals. */
#define PM_EXP_NAMED_MAX 256
struct pm_exp_stats {
    pm_ip_t addr;
    uint64_t datagrams;
    uint64_t records;
    uint64_t seq_gaps;
    uint64_t malformed;
    uint64_t unknown_template;
    uint64_t refused; /* templates refused, pending data dropped ... */
    uint64_t last_seen; /* seconds */
    uint32_t used;
    uint32_t templates; /* templates held (collectors' own accounting) */
    /* pm_exptab_publish(): host counters of this exporter (NULL: not
     * named) and the values already added to them. */
    uint64_t *ctr[PM_EXP_NCTR];
    uint64_t pub[PM_EXP_NCTR];
    uint32_t named; /* 1 counters registered, 2 over the bound */
    uint32_t _pad2;
};

struct pm_exptab {
    struct pm_exp_stats *v;
    uint32_t cap; /* power of two */
    uint32_t n;
    uint32_t max; /* entries beyond are refused (NULL) */
    uint32_t _pad;
};

/* max: how many exporters to track (0: 65536). */
int pm_exptab_init(struct pm_exptab *t, uint32_t max);
/* Entry of addr, created when missing; NULL when the table is full. */
struct pm_exp_stats *pm_exptab_get(struct pm_exptab *t, const pm_ip_t *addr);
/* Lookup only. */
struct pm_exp_stats *pm_exptab_find(const struct pm_exptab *t,
                                    const pm_ip_t *addr);
void pm_exptab_free(struct pm_exptab *t);
/* Add what changed since the last call to the host counters
 * `exporter_<addr>_{datagrams,records,seq_gaps,malformed,unknown_template}`
 * of inst (dots and colons of the address become '_'), registering them
 * (and logging the new exporter, naming `thread`) the first time.  At most
 * *named (shared by the threads of one instance: atomic) exporters get
 * counters; the first one beyond is logged once.  Call it from the
 * table's thread about once a second and at the end. */
void pm_exptab_publish(struct pm_exptab *t, const struct pm_host *host,
                       const struct pm_instance *inst, unsigned thread,
                       uint32_t *named);
/* One info line per exporter of the table (totals), at the end. */
void pm_exptab_log(const struct pm_exptab *t, const struct pm_host *host,
                   const struct pm_instance *inst, const char *what);

/* ---- datagram input --------------------------------------------------- */
struct pm_udpin_cfg {
    const char *prefix;   /* key prefix for messages: "nfacctd" */
    const char *ip;       /* bind address, NULL/"" = any (IPv6 dual stack) */
    uint16_t port;
    uint64_t pipe_size;   /* SO_RCVBUF; 0 = system default */
    const char *savefile; /* read this pcap instead of a socket */
    int savefile_wait;    /* at EOF: wait until stopping */
    uint64_t savefile_delay;  /* sleep before reading (and between replays) */
    uint64_t savefile_replay; /* read the file this many times (0 = 1) */
    const char *allow_file;
};

/* One received datagram.  data stays valid until the next recv call. */
struct pm_dgram {
    const uint8_t *data;
    uint32_t len;
    uint16_t sport;
    uint16_t dport;
    pm_ip_t src;
    pm_ip_t dst;
    pm_ts_t ts; /* arrival (socket: now; savefile: the packet's time) */
};

struct pm_udpin;

/* Open the socket or the savefile.  Logs why on error.  The receive
 * buffer obtained is checked: when the kernel gives less than pipe_size
 * it logs a warning naming the sysctl to raise (net.core.rmem_max).
 * Kernel drops (socket buffer full) are read with SO_MEMINFO (or
 * /proc/net/udp{,6}): pm_udpin_drops(). */
int pm_udpin_open(struct pm_udpin **out, const struct pm_host *host,
                  const struct pm_instance *inst,
                  const struct pm_udpin_cfg *cfg);
/* Open n (1..PM_UDPIN_MAX_GROUP) sockets bound to the same address and
 * port with SO_REUSEPORT and attach a classic BPF program
 * (SO_ATTACH_REUSEPORT_CBPF) choosing the socket by a hash of the source
 * IP address (IPv4, IPv6 and v4-mapped alike), so one exporter's
 * datagrams always reach the same socket.  n == 1 is pm_udpin_open();
 * a savefile accepts only n == 1.  out[0..n-1]; all or nothing. */
#define PM_UDPIN_MAX_GROUP 64
int pm_udpin_open_group(struct pm_udpin **out, unsigned n,
                        const struct pm_host *host,
                        const struct pm_instance *inst,
                        const struct pm_udpin_cfg *cfg);
/* The socket index the steering program picks for a source address in a
 * group of n (the same hash, computed in C: tests, logs). */
unsigned pm_udpin_steer(const pm_ip_t *src, unsigned n);
/* Datagrams the kernel dropped on this socket (receive buffer full):
 * read (SO_MEMINFO, else /proc/net/udp) when refresh is non-zero, else the
 * last value read.  A system call: about once a second, not per batch. */
uint64_t pm_udpin_drops(struct pm_udpin *u, int refresh);
/* Receive buffer the kernel granted (bytes, as getsockopt reports). */
uint64_t pm_udpin_rcvbuf(const struct pm_udpin *u);
/* Receive up to max datagrams (max <= 64) waiting at most timeout_ms.
 * Returns the count (0 on timeout), -ENODATA at the savefile's end, or
 * -errno.  Datagrams from senders not in the allow list are dropped and
 * counted (pm_udpin_denied). */
int pm_udpin_recv(struct pm_udpin *u, struct pm_dgram *dg, unsigned max,
                  int timeout_ms);
uint64_t pm_udpin_denied(const struct pm_udpin *u);
/* Bound socket's port (for tests binding to port 0). */
uint16_t pm_udpin_port(const struct pm_udpin *u);
void pm_udpin_close(struct pm_udpin *u);

/* ---- receiver loop (rxloop.c) ---------------------------------------- */

#define PM_RX_BATCH 64 /* datagrams per receive call */

/* What the loop calls back, with the collector's ud. */
struct pm_rx_ops {
    /* Decode one datagram; -ESHUTDOWN stops the loop. */
    int (*datagram)(void *ud, const struct pm_dgram *dg);
    /* Emit the partial record batch held, if any. */
    void (*flush)(void *ud);
    /* Non-zero while a partial record batch is held. */
    int (*holding)(void *ud);
};

/* One receiver: its socket, its exporter table, the shared counters. */
struct pm_rx {
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct pm_udpin *in;
    struct pm_exptab *exps;
    uint32_t *named;        /* exporters with counters, all receivers */
    uint64_t *c_denied;     /* allow-list denials */
    uint64_t *c_socket_drops; /* kernel drops */
    const int *stop;        /* set (atomically) to stop the loop */
    const char *prefix;     /* "nfacctd": key names in messages */
    unsigned idx;           /* receiver number */
    int live;               /* socket (1) or savefile (0) */
    uint32_t hold_ms;       /* longest a partial batch is held */
    uint64_t denied_seen, drops_seen;
};

/* Receive until stopped, the savefile's end (PM_RUN_EOF) or an error
 * (-errno, logged); the held batch is flushed and counters published at
 * the end. */
int pm_rx_loop(struct pm_rx *w, const struct pm_rx_ops *ops, void *ud);

/* Run receivers 0..n-1: loop(ud, i) for i >= 1 on threads of their own,
 * loop(ud, 0) on the caller's; when receiver 0 ends the others are stopped
 * (stop(ud, i)) and joined.  Receiver 0's result, or the first error. */
int pm_rx_run_all(const struct pm_host *host, const struct pm_instance *inst,
                  unsigned n, int (*loop)(void *ud, unsigned i),
                  void (*stop)(void *ud, unsigned i), void *ud);

/* `<prefix>_threads`: empty = 1, "auto" = CPUs online, else 1 to
 * PM_UDPIN_MAX_GROUP; an error names key and value. */
int pm_rx_parse_threads(const struct pm_host *host,
                        const struct pm_instance *inst, const char *key,
                        const char *v, unsigned *n);

/* Extract the UDP payload of one link-layer frame (pcap dlt).  Returns 0
 * and fills dg (data points into pkt), or -EINVAL when it is not UDP
 * over IPv4/IPv6 (non-first fragments included). */
int pm_udp_from_frame(int dlt, const uint8_t *pkt, uint32_t caplen,
                      struct pm_dgram *dg);

#ifdef __cplusplus
}
#endif
#endif
