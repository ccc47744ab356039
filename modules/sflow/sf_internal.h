/*
 * sf_internal.h - shared declarations of the sflow capture module: the
 * instance context, the bounded XDR cursor, and the entry points of the
 * datagram decoder (sf_decode.c), extended flow records (sf_ext.c) and
 * counter samples (sf_counters.c).
 *
 * Threads: a context is used by one receiver thread only; with
 * sfacctd_threads N there are N contexts (sflow.c), each with its socket,
 * agents, exporter table, batch and counter file handle.  init/start/fini
 * run on the main thread while no receiver runs; stop only sets flags.
 * Counters are host counters (atomic adds).
 */
#ifndef PM_SFLOW_INTERNAL_H
#define PM_SFLOW_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

#include "../common/udpin.h"

/* ---- configuration (filled by the core from the option table) --------- */
struct sf_config {
    char *ip;                 /* sfacctd_ip */
    uint64_t port;            /* sfacctd_port */
    uint64_t pipe_size;       /* sfacctd_pipe_size (socket receive buffer) */
    char *allow_file;         /* sfacctd_allow_file */
    int renormalize;          /* sfacctd_renormalize */
    char *counter_file;       /* sfacctd_counter_file */
    int counter_output;       /* sfacctd_counter_output: 0 = json */
    char *savefile;           /* pcap_savefile */
    int savefile_wait;        /* pcap_savefile_wait */
    uint64_t savefile_delay;  /* pcap_savefile_delay (seconds) */
    uint64_t savefile_replay; /* pcap_savefile_replay (times) */
    int disable_checks;       /* sfacctd_disable_checks: no seq-gap warnings */
    char *threads;            /* sfacctd_threads: count or "auto" */
};

/* ---- per-agent state ---------------------------------------------------- */
#define SF_AGENTS 4096 /* open-addressing slots; agents beyond are untracked   \
                        */

struct sf_agent {
    pm_ip_t addr;
    uint32_t sub_id;
    uint32_t used;
    uint32_t last_seq;
    uint32_t have_seq;
    uint64_t datagrams;
    uint64_t malformed;
    uint64_t seq_gaps;
    uint64_t counter_seq; /* line counter of the counter file */
};

/* ---- instance context ---------------------------------------------------- */
struct sf_ctx {
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct sf_config *cfg;

    uint64_t *c_datagrams;
    uint64_t *c_flow_samples;
    uint64_t *c_counter_samples;
    uint64_t *c_records;
    /* records and flow samples of the datagram being decoded: added to
     * the counters once per datagram (sf_decode_datagram) */
    uint32_t nrec_pend, nfs_pend;
    uint64_t *c_malformed;
    uint64_t *c_seq_gaps;
    uint64_t *c_unknown; /* records/samples of unknown format (skipped) */
    uint64_t *c_counter_lines;

    /* batch being filled by the decoder (capture thread) */
    struct pm_batch *batch;
    int emit_err; /* last batch_emit/batch_get failure (-errno) */

    /* counter samples output (sfacctd_counter_file) */
    FILE *cnt_fp;
    char cnt_path[1024]; /* expanded path of the open file */
    char *cnt_line;      /* line buffer */
    size_t cnt_line_cap;

    struct sf_agent *agents; /* SF_AGENTS slots */
    uint32_t nagents;

    struct pm_rec *tmp_rec; /* scratch record (tunnel inner headers) */
    uint32_t tmp_size;

    struct pm_udpin *udp; /* input (socket or savefile) */
    struct pm_exptab exp; /* per-agent statistics (by agent address) */
    uint64_t *c_denied;
    int stop; /* set by stop() (atomic): this receiver ends */
    int renorm_deferred; /* sampling_map set: the sampling transform
                            renormalises (with the map's rates) */
};

/* ---- bounded XDR cursor ---------------------------------------------------
 * Reads past the end set `err` and return zeros, so parsers check once per
 * structure. */
struct sf_cur {
    const uint8_t *p;
    size_t len;
    size_t off;
    int err;
};

static inline void sf_cur_init(struct sf_cur *c, const uint8_t *p, size_t len)
{
    c->p = p;
    c->len = len;
    c->off = 0;
    c->err = 0;
}
static inline size_t sf_left(const struct sf_cur *c)
{
    return c->len - c->off;
}
static inline uint32_t sf_u32(struct sf_cur *c)
{
    const uint8_t *q;
    if (c->len - c->off < 4) {
        c->err = 1;
        c->off = c->len;
        return 0;
    }
    q = c->p + c->off;
    c->off += 4;
    return ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) |
           ((uint32_t)q[2] << 8) | q[3];
}
static inline uint64_t sf_u64(struct sf_cur *c)
{
    uint64_t hi = sf_u32(c);
    return (hi << 32) | sf_u32(c);
}
/* n raw bytes (n rounded up to 4 for the skip); NULL on overrun. */
static inline const uint8_t *sf_bytes(struct sf_cur *c, size_t n)
{
    size_t padded = (n + 3) & ~(size_t)3;
    const uint8_t *q;
    if (n > c->len || padded > c->len - c->off) {
        c->err = 1;
        c->off = c->len;
        return NULL;
    }
    q = c->p + c->off;
    c->off += padded;
    return q;
}
/* n bytes when they are there, plus the padding when that is there too
 * (a missing pad at the end of a structure is tolerated); NULL on overrun. */
static inline const uint8_t *sf_bytes_lenient(struct sf_cur *c, size_t n)
{
    size_t padded = (n + 3) & ~(size_t)3;
    const uint8_t *q;
    if (n > c->len - c->off) {
        c->err = 1;
        c->off = c->len;
        return NULL;
    }
    q = c->p + c->off;
    c->off += padded <= c->len - c->off ? padded : n;
    return q;
}
/* Skip n bytes exactly (no padding). */
static inline void sf_skip(struct sf_cur *c, size_t n)
{
    if (n > c->len - c->off) {
        c->err = 1;
        c->off = c->len;
        return;
    }
    c->off += n;
}
/* An sFlow address: type(1=v4, 2=v6) + bytes.  Returns 0, or -1 on an
 * unknown type or overrun (err set). */
int sf_addr(struct sf_cur *c, pm_ip_t *out);

/* ---- decoder --------------------------------------------------------------
 */

/* What a datagram gives every sample. */
struct sf_dgram {
    pm_ip_t agent;
    uint32_t version;
    uint32_t sub_id;
    uint32_t seq;
    uint32_t uptime;
    pm_ts_t ts;              /* arrival */
    struct sf_agent *ag;     /* (agent, sub-agent): sequence tracking */
    struct pm_exp_stats *ex; /* agent address: statistics (may be NULL) */
    char agent_str[48];
};

/* Per flow sample scratch filled by records, then merged into the record. */
struct sf_sample {
    int have_hdr;    /* a sampled header / ipv4 / ipv6 / ethernet record seen */
    int have_switch; /* extended switch seen (vlan/cos already in rec) */
    int have_gw;     /* v5 extended gateway seen: gw_nh is the BGP next hop */
    int have_router; /* extended router seen: router_nh */
    int have_vni;
    uint32_t vni;
    uint32_t sw_vlan, sw_prio, sw_out_vlan, sw_out_prio;
    uint64_t frame_len; /* bytes to account */
    pm_ip_t gw_nh;
    pm_ip_t router_nh;
};

/* Decode one datagram received from `sender` at `ts`; appends flow records
 * to ctx->batch (emitting full batches) and writes counter samples.
 * Returns 0, or -EINVAL for a malformed datagram (counted and logged). */
int sf_decode_datagram(struct sf_ctx *ctx, const uint8_t *p, size_t len,
                       const pm_ip_t *sender, const pm_ts_t *ts);

/* Get a zeroed record slot in the current batch, emitting a full batch and
 * getting a new one when needed.  NULL when the host has no batch. */
struct pm_rec *sf_rec_new(struct sf_ctx *ctx);
/* Make sure the current batch has room for one more record and `arena`
 * bytes of strings.  Returns 0 or -errno. */
int sf_batch_room(struct sf_ctx *ctx, size_t arena);
/* Hand the current batch (if any records) to the host. */
int sf_flush_batch(struct sf_ctx *ctx);

/* Report a malformed datagram/sample/record: counters + rate-limited log. */
void sf_malformed(struct sf_ctx *ctx, struct sf_dgram *d, const char *what,
                  size_t off);

/* sf_ext.c: one extended flow record (v5 format number, v2/v4 mapped to the
 * v5 numbers), applied to r.  Returns 0, 1 if unknown (skipped), -1 if
 * malformed. */
int sf_ext_record(struct sf_ctx *ctx, struct sf_dgram *d, uint32_t format,
                  struct sf_cur *c, struct pm_rec *r, struct sf_sample *s);
/* sf_ext.c: v2/v4 gateway (no next hop; v2: flat AS path). */
int sf_ext_gateway_v24(struct sf_ctx *ctx, struct sf_dgram *d, struct sf_cur *c,
                       struct pm_rec *r);
/* sf_ext.c: v2/v4 user/url (no charset / host). */
int sf_ext_skip_v24(uint32_t type, struct sf_cur *c);

/* sf_counters.c: one v5 counter sample body (after sample type/length).
 * expanded: format 4.  Returns 0 or -1 if malformed. */
int sf_counter_sample_v5(struct sf_ctx *ctx, struct sf_dgram *d,
                         struct sf_cur *c, int expanded);
/* sf_counters.c: one v2/v4 counter sample (type already read). */
int sf_counter_sample_v24(struct sf_ctx *ctx, struct sf_dgram *d,
                          struct sf_cur *c);
/* sf_counters.c: open/close the counter file. */
int sf_counters_open(struct sf_ctx *ctx);
void sf_counters_close(struct sf_ctx *ctx);
/* A log_init line per new agent (as sfacctd writes it). */
void sf_counters_agent_new(struct sf_ctx *ctx, struct sf_dgram *d);

/* Agent lookup/insert (NULL when the table is full). */
struct sf_agent *sf_agent_get(struct sf_ctx *ctx, const pm_ip_t *addr,
                              uint32_t sub_id, int *is_new);

/* Format an address for logs and the counter file. */
void sf_ip_str(const pm_ip_t *ip, char *out, size_t outlen);

#endif /* PM_SFLOW_INTERNAL_H */
