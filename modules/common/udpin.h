/*
 * udpin.h - shared datagram input for the flow collectors (netflow, sflow):
 * a UDP socket on IPv4/IPv6 read with recvmmsg, or the UDP payloads of a
 * pcap savefile (the packet's IP source is the exporter), an exporter
 * allow-list and a bounded per-exporter statistics table.
 *
 * Threads: a struct pm_udpin and a struct pm_exptab belong to one capture
 * thread; nothing here is shared or locked.  Allow lists are read-only
 * once loaded.
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

/* Open the socket or the savefile.  Logs why on error. */
int pm_udpin_open(struct pm_udpin **out, const struct pm_host *host,
                  const struct pm_instance *inst,
                  const struct pm_udpin_cfg *cfg);
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

/* Extract the UDP payload of one link-layer frame (pcap dlt).  Returns 0
 * and fills dg (data points into pkt), or -EINVAL when it is not UDP
 * over IPv4/IPv6 (non-first fragments included). */
int pm_udp_from_frame(int dlt, const uint8_t *pkt, uint32_t caplen,
                      struct pm_dgram *dg);

#ifdef __cplusplus
}
#endif
#endif
