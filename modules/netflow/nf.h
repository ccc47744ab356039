/*
 * nf.h - internals of the netflow capture module (NetFlow v1/v5/v7/v8/v9
 * and IPFIX): configuration, the instance context, the template and
 * per-source stores, and the decoder entry points shared by the files of
 * the module, the unit tests and the fuzz target.
 *
 * Threads: one nf_ctx belongs to one capture instance; its run() thread
 * is the only one decoding, so nothing here is locked.  Counters are the
 * host's (atomic adds).
 */
#ifndef PM_NETFLOW_NF_H
#define PM_NETFLOW_NF_H

#include <stdint.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

#include "../common/udpin.h"

/* nfacctd_net / nfacctd_as values (enum indexes). */
enum { NF_NET_NETFLOW = 0, NF_NET_OTHER_FIRST = 1 };

struct nf_cfg {
    char *ip;
    uint64_t port;
    uint64_t pipe_size;
    char *allow_file;
    char *savefile;
    int savefile_wait;
    int _pad0;
    uint64_t savefile_delay;
    uint64_t savefile_replay;
    int time_secs;
    int time_new;
    int renormalize;
    int net; /* enum index: 0 = netflow */
    int as;  /* enum index: 0 = netflow */
    int disable_checks;
    uint64_t templates_max;   /* per exporter */
    uint64_t pending_size;    /* bytes of data held waiting for templates */
    uint64_t pending_time;    /* seconds */
    uint64_t templates_timeout; /* seconds, 0 = never expire */
    uint64_t max_exporters;
};

/* A template field. */
struct nf_field {
    uint16_t id;  /* IE number, enterprise bit stripped */
    uint16_t len; /* 65535 = variable length */
    uint32_t pen; /* enterprise number, 0 = IANA */
};

struct nf_tmpl {
    struct nf_tmpl *next;
    pm_ip_t exp;
    uint32_t domain;
    uint16_t id;
    uint8_t version; /* 9 or 10 */
    uint8_t options;
    uint16_t nfields;
    uint16_t nscope; /* options: leading scope fields */
    uint32_t minlen; /* bytes of one record, variable fields counted as 1 */
    uint32_t varlen; /* has variable-length fields */
    uint64_t last;   /* seconds, last (re)definition */
    struct nf_prog *prog; /* compiled decode program (nf_prog.c), in the
                             same allocation, after f[] */
    struct nf_field f[];
};

#define NF_MAX_SAMPLERS 32
#define NF_MAX_VRFS 64
#define NF_VRF_NAME 32

/* Per exporter + source id / observation domain state. */
struct nf_src {
    struct nf_src *next;
    pm_ip_t exp;
    uint32_t domain;
    uint8_t version;
    uint8_t seq_valid;
    uint8_t has_sysinit;
    uint8_t _pad;
    uint32_t next_seq;
    uint32_t def_rate; /* exporter-wide sampling interval (0: none) */
    uint32_t nsamplers;
    uint32_t nvrfs;
    uint64_t sysinit_ms; /* IPFIX systemInitTimeMilliseconds */
    struct {
        uint32_t id, rate;
    } samplers[NF_MAX_SAMPLERS];
    struct {
        uint32_t id;
        char name[NF_VRF_NAME];
    } vrfs[NF_MAX_VRFS];
};

/* Data held until its template arrives. */
struct nf_pending {
    struct nf_pending *next;
    pm_ip_t exp;
    uint32_t domain;
    uint16_t set_id;
    uint8_t version;
    uint8_t _pad;
    uint32_t uptime, unix_secs, seq;
    pm_ts_t arrival;
    uint64_t added; /* seconds */
    uint32_t len;
    uint8_t data[];
};

/* What one datagram's header says, passed down to the record decoders. */
struct nf_hdr {
    uint16_t version;
    uint16_t count;
    uint32_t uptime;    /* ms since boot (v1..v9) */
    uint32_t unix_secs; /* export time */
    uint32_t unix_nsecs;
    uint32_t seq;
    uint32_t domain;  /* v9 source id / IPFIX observation domain */
    uint32_t sysid;   /* export_proto_sysid */
    uint32_t sampling; /* v5 header sampling interval (0 none) */
    pm_ip_t exp;
    pm_ts_t arrival;
    struct pm_exp_stats *st;
    struct nf_src *src;
    char expstr[48]; /* the exporter as text, for logs: nf_expstr() */
};

/* The exporter's address as text, formatted on first use (log paths
 * only: not per datagram). */
static inline const char *nf_expstr(struct nf_hdr *h)
{
    if (!h->expstr[0])
        pm_ip_str(&h->exp, h->expstr, sizeof(h->expstr));
    return h->expstr;
}

struct nf_ctx {
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct nf_cfg *cfg;
    struct pm_udpin *in;
    struct pm_exptab exps;
    struct nf_tmpl **th;
    uint32_t thcap;
    uint32_t ntmpl;
    struct nf_src **sh;
    uint32_t shcap;
    uint32_t nsrc;
    struct nf_pending *pend_head, *pend_tail;
    uint64_t pend_bytes;
    uint32_t npend;
    int stop;
    int need_net; /* src_net/dst_net aggregated somewhere (or unknown) */
    int renorm_deferred; /* sampling_map set: the sampling transform
                            renormalises (with the map's rates) */
    struct pm_batch *b; /* batch being filled */
    uint32_t nrec_pend; /* records made, not yet added to c_records */
    uint64_t *c_datagrams, *c_records, *c_malformed, *c_unknown_template,
        *c_seq_gaps, *c_dropped_pending, *c_templates, *c_templates_refused,
        *c_options, *c_denied, *c_bad_version, *c_no_batch;
    uint64_t *c_version[11]; /* index 1,5,7,8,9,10 */
    /* custom primitives read from templates (field_type=) */
    const struct pm_custom_prim *cprims;
    uint32_t ncprims;
};

/* netflow.c */
int nf_ctx_init(struct nf_ctx *c, const struct pm_host *host,
                const struct pm_instance *inst, struct nf_cfg *cfg);
void nf_ctx_fini(struct nf_ctx *c);
/* Decode one datagram from exporter `exp` arriving at `arrival`.
 * Returns records produced, or -EINVAL when it was malformed (counted). */
int nf_datagram(struct nf_ctx *c, const uint8_t *p, uint32_t len,
                const pm_ip_t *exp, const pm_ts_t *arrival);
/* Emit the batch being filled, if any. */
void nf_flush(struct nf_ctx *c);
/* Add the records made since the last call to the `records` counter. */
void nf_count_records(struct nf_ctx *c);
/* A fresh zeroed record in the current batch (emitting a full one), with
 * the fields every flow record carries; NULL when no batch is available. */
struct pm_rec *nf_rec_new(struct nf_ctx *c, const struct nf_hdr *h);
/* Finish a record: src_net/dst_net, renormalisation. */
void nf_rec_done(struct nf_ctx *c, struct pm_rec *r);
void nf_malformed(struct nf_ctx *c, struct nf_hdr *h, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Wall clock seconds for expiry: the arrival time of what is decoded. */
uint64_t nf_now(struct nf_ctx *c, const struct nf_hdr *h);

/* nf_stream.c: IPFIX over TCP and SCTP (one thread) */
struct nf_stream;
/* Cut one IPFIX message off a byte stream: 1 and *msglen when p holds a
 * whole message, 0 when more bytes are needed, -EINVAL (reason in err)
 * when the stream is broken (version not 10, length below 16). */
int nf_stream_frame(const uint8_t *p, uint32_t len, uint32_t *msglen,
                    char *err, size_t errlen);
/* Decode every whole message at the start of buf (*len bytes) with
 * context c, from peer, and move what remains (a partial message) to the
 * start; *msgs counts the messages.  0, or -EINVAL (reason in err) when
 * the stream is broken. */
int nf_stream_feed(struct nf_ctx *c, uint8_t *buf, uint32_t *len,
                   const pm_ip_t *peer, const pm_ts_t *arrival,
                   uint64_t *msgs, char *err, size_t errlen);
/* Listen on the TCP and/or SCTP port (0: not that one), address
 * cfg->ip; at most max_conns connections (0: 256).  named: the instance's
 * bound of exporters with counters (shared, atomic). */
int nf_stream_open(struct nf_stream **out, const struct pm_host *host,
                   const struct pm_instance *inst, struct nf_cfg *cfg,
                   uint64_t tcp_port, uint64_t sctp_port, uint64_t max_conns,
                   uint32_t *named);
/* Accept, read and decode until stopped; returns 0 or -errno. */
int nf_stream_run(struct nf_stream *s);
void nf_stream_stop(struct nf_stream *s);
/* Bound port (tests use port 0); sctp: 0 TCP, 1 SCTP. */
uint16_t nf_stream_port(const struct nf_stream *s, int sctp);
void nf_stream_free(struct nf_stream *s);

/* nf_v5.c: v1, v5, v7, v8 */
int nf_v5_decode(struct nf_ctx *c, struct nf_hdr *h, const uint8_t *p,
                 uint32_t len);

/* nf_v9.c: v9 and IPFIX */
int nf_v9_decode(struct nf_ctx *c, struct nf_hdr *h, const uint8_t *p,
                 uint32_t len);
/* Decode a data set body with template t. */
int nf_data_set(struct nf_ctx *c, struct nf_hdr *h, const struct nf_tmpl *t,
                const uint8_t *p, uint32_t len);

/* nf_tmpl.c */
struct nf_tmpl *nf_tmpl_find(struct nf_ctx *c, const pm_ip_t *exp,
                             uint32_t domain, uint8_t version, uint16_t id);
/* Store (or refresh) a template; returns it, or NULL when refused. */
struct nf_tmpl *nf_tmpl_put(struct nf_ctx *c, struct nf_hdr *h, uint16_t id,
                            int options, uint16_t nscope,
                            const struct nf_field *f, uint16_t nfields);
/* Withdraw one template (id) or all (id 2: data, id 3: options). */
void nf_tmpl_withdraw(struct nf_ctx *c, struct nf_hdr *h, uint16_t id);
void nf_tmpl_expire(struct nf_ctx *c, uint64_t now);
struct nf_src *nf_src_get(struct nf_ctx *c, const pm_ip_t *exp,
                          uint32_t domain, uint8_t version);
void nf_src_set_sampler(struct nf_src *s, uint32_t id, uint32_t rate);
uint32_t nf_src_sampler(const struct nf_src *s, uint32_t id);
void nf_src_set_vrf(struct nf_src *s, uint32_t id, const char *name,
                    size_t len);
const char *nf_src_vrf(const struct nf_src *s, uint32_t id);
/* Hold a data set whose template is unknown; 0 held, -ENOSPC dropped. */
int nf_pending_add(struct nf_ctx *c, struct nf_hdr *h, uint16_t set_id,
                   const uint8_t *p, uint32_t len);
/* Template t just arrived: decode what waited for it. */
void nf_pending_run(struct nf_ctx *c, struct nf_hdr *h,
                    const struct nf_tmpl *t);
void nf_pending_expire(struct nf_ctx *c, uint64_t now);
void nf_tables_free(struct nf_ctx *c);

/* nf_ie.c: information elements */
struct nf_flow; /* scratch for one record */
/* Decode one data record of template t into a new record. */
int nf_ie_record(struct nf_ctx *c, struct nf_hdr *h, const struct nf_tmpl *t,
                 const uint8_t *p, const uint32_t *off, const uint16_t *len);
/* Apply one options data record (sampling, VRF names, system init). */
void nf_ie_options(struct nf_ctx *c, struct nf_hdr *h, const struct nf_tmpl *t,
                   const uint8_t *p, const uint32_t *off, const uint16_t *len);

/* Big-endian readers. */
static inline uint16_t nf_rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t nf_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}
static inline uint64_t nf_rdn(const uint8_t *p, uint32_t len)
{
    uint64_t v = 0;
    if (len > 8) {
        p += len - 8;
        len = 8;
    }
    for (uint32_t i = 0; i < len; i++)
        v = v << 8 | p[i];
    return v;
}

#endif
