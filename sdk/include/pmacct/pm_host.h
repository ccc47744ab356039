/*
 * pm_host.h - everything a module may ask of the core.  The core hands a
 * `const struct pm_host *` to init(); modules call nothing else of the
 * core (no link-time coupling: modules are dlopen'd RTLD_LOCAL).  A test
 * can hand a module a fake host: it is just a struct.
 *
 * Thread rules: every function here is safe to call from any thread
 * unless its comment says otherwise.  Objects created by a module
 * (caches, renderers) belong to that module instance and are not locked
 * by the core: the module serialises its own use of them.
 *
 * New functions are only ever appended (ABI minor bump); a module built
 * for a newer minor checks host->abi before calling them.
 */
#ifndef PMACCT_PM_HOST_H
#define PMACCT_PM_HOST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Log levels (syslog's numbers). */
enum pm_log_level {
    PM_LOG_ERR = 3,
    PM_LOG_WARNING = 4,
    PM_LOG_NOTICE = 5,
    PM_LOG_INFO = 6,
    PM_LOG_DEBUG = 7,
};

/*
 * What the core tells a module instance about itself.  Filled by the core,
 * read-only for the module, valid until fini() returns.
 */
struct pm_instance {
    uint32_t size;        /* sizeof(struct pm_instance) of the core */
    uint32_t kind;        /* enum pm_module_kind */
    const char *name;     /* instance name: "a" in memory[a]; "default" */
    const char *module;   /* module name: "memory" */
    const char *pipeline; /* pipeline this instance serves (NULL: capture) */
    const char *daemon;   /* pmacctd, nfacctd, sfacctd, ... */
    const char *config_file;
    /* Pipeline aggregation: primitive ids in pmacct's print order, and the
     * same as a set.  Captures see the union over all pipelines so they
     * can skip work nobody needs. */
    const uint16_t *aggregate;
    uint32_t naggregate;
    uint32_t debug; /* debug: true */
    pm_pset_t aggregate_set;
    uint32_t sum_mode;  /* enum pm_sum_mode: sum_host etc. */
    uint32_t savefile;  /* 1 when the daemon reads a finite input */
    uint32_t instance_id; /* unique per daemon, for writer_id etc. */
    uint32_t _pad;
    void *core; /* the core's; modules do not touch it */
};

/* sum_* aggregation: one aggregate counts traffic in both directions. */
enum pm_sum_mode {
    PM_SUM_NONE = 0,
    PM_SUM_HOST,
    PM_SUM_NET,
    PM_SUM_AS,
    PM_SUM_PORT,
    PM_SUM_MAC,
};

/* Capture flags returned by host->capture_needs(). */
#define PM_CAPF_KEEP_PACKETS 0x01u /* copy packet bytes into batch->pktbuf */

/* Decoder flags for host->decode_packet(). */
#define PM_DECF_NONE 0u

/* Link types understood by decode_packet (pcap DLT values). */
#define PM_DLT_EN10MB 1
#define PM_DLT_RAW 12 /* also 14 and 101 on some systems */
#define PM_DLT_LINUX_SLL 113
#define PM_DLT_LINUX_SLL2 276
#define PM_DLT_NULL 0
#define PM_DLT_LOOP 108
#define PM_DLT_IPV4 228
#define PM_DLT_IPV6 229

/* Result of host->decode_packet(). */
enum pm_decode_result {
    PM_DEC_OK = 0,       /* record filled */
    PM_DEC_NOT_IP = 1,   /* valid frame but not IPv4/IPv6: record has L2 only */
    PM_DEC_TRUNCATED = 2, /* caplen too short for a header that is claimed */
    PM_DEC_BAD = 3,      /* malformed header */
    PM_DEC_UNKNOWN_DLT = 4,
};

/* Room host->record_frame needs. */
#define PM_RECORD_FRAME_MAX 160

/* Output formats rendered by the core, the same for every output. */
enum pm_fmt {
    PM_FMT_FORMATTED = 0, /* pmacct's fixed-width columns */
    PM_FMT_CSV = 1,
    PM_FMT_JSON = 2,
    PM_FMT_EVENT = 3, /* space-separated "key=value" (reserved) */
};

/* Renderer flags. */
#define PM_RENDER_NUM_PROTOS 0x01u  /* print_num_protos: proto as a number */
#define PM_RENDER_NO_FLOWS 0x02u    /* omit the FLOWS column */
#define PM_RENDER_ALL_FIELDS 0x04u  /* pmacct -a: every field, even unused */
#define PM_RENDER_EVENT_TYPE 0x08u  /* JSON: "event_type": <event> first */
#define PM_RENDER_STAMPS 0x10u      /* stamp_inserted/stamp_updated columns */
#define PM_RENDER_TS_EPOCH 0x20u    /* timestamps_since_epoch */
#define PM_RENDER_TS_SECS 0x40u     /* timestamps_secs: no microseconds */
#define PM_RENDER_CLIENT 0x80u /* the pmacct client's column widths */
/* JSON only (ABI minor unchanged: flags a 1.0 core ignores), since 1.0:
 * pre_tag_label_encode_as_map: "label": {"k1": "v1", ...} from a label
 * "k1%v1,k2%v2"; tcpflags_encode_as_array: "tcp_flags": ["ACK", "SYN"]. */
#define PM_RENDER_LABEL_MAP 0x100u
#define PM_RENDER_TCPFLAGS_ARRAY 0x200u

/* How a renderer is set up: which columns, which format. */
struct pm_render_cfg {
    uint32_t fmt;   /* enum pm_fmt */
    uint32_t flags; /* PM_RENDER_* */
    const uint16_t *prims; /* columns (primitive ids) in print order */
    uint32_t nprims;
    uint32_t sum_mode;     /* enum pm_sum_mode, changes column names */
    const char *separator; /* CSV separator, default "," */
    const char *event;     /* JSON event_type value, e.g. "purge" */
    uint32_t writer_id;    /* JSON writer_id (0: none) */
    uint32_t _pad;
};

/* One aggregate as outputs see it. */
struct pm_row {
    const struct pm_rec *rec; /* key primitives (presence bits set) */
    const char *arena;        /* where rec's string refs point */
    uint64_t packets;
    uint64_t bytes;
    uint64_t flows;
    pm_ts_t first; /* first and last time this aggregate was updated */
    pm_ts_t last;
    uint64_t stamp_inserted; /* time bin start (0 without history) */
    uint64_t stamp_updated;  /* when the row is written (0: none) */
};

/* A growable text buffer used by the render functions.  Modules own it;
 * free p with free(). */
struct pm_buf {
    char *p;
    size_t len;
    size_t cap;
};

struct pm_render;   /* opaque: a configured renderer */
struct pm_cache;    /* opaque: an aggregation cache */
struct pm_counter;  /* opaque: a named stats counter */
struct pm_frag;     /* opaque: an IP fragment tracker */
struct pm_preproc;  /* opaque: parsed *_preprocess checks and actions */

/* Results of host->frag_track(). */
enum pm_frag_result {
    PM_FRAG_NONE = 0,      /* not a fragment */
    PM_FRAG_FIRST = 1,     /* first fragment: remembered */
    PM_FRAG_MATCHED = 2,   /* later fragment: ports filled from the first */
    PM_FRAG_UNMATCHED = 3, /* later fragment, first never seen */
};

/* Cache configuration. */
struct pm_cache_cfg {
    uint64_t history_secs;   /* time bin length; 0 = no time bins */
    uint32_t history_months; /* >0: bins of N calendar months */
    uint32_t roundoff;       /* *_history_roundoff: 0 or 'm','h','d','w','M' */
    int64_t history_offset;  /* *_history_offset seconds */
    uint64_t max_entries;    /* 0 = unbounded; else new aggregates beyond
                                are counted as dropped */
    uint32_t flags;          /* reserved */
    uint32_t _pad;
};

/* Return values of a cache walk callback. */
#define PM_WALK_NEXT 0
#define PM_WALK_STOP 1
#define PM_WALK_DELETE 2 /* remove this aggregate */
#define PM_WALK_RESET 4  /* zero this aggregate's counters */

typedef int (*pm_walk_fn)(void *ud, const struct pm_row *row);
/* A walk that also tells each aggregate's ref (cache_walk_part_ref). */
typedef int (*pm_walk_ref_fn)(void *ud, const struct pm_row *row,
                              uint64_t ref);

/* Primitive description from the registry. */
struct pm_prim_info {
    uint16_t id;
    uint16_t type;       /* internal value type (see core docs) */
    const char *name;    /* config name: "src_host" */
    const char *column;  /* formatted/CSV header: "SRC_IP" */
    const char *json;    /* JSON key: "ip_src" */
    const char *sql;     /* SQL column: "ip_src" */
    const char *desc;    /* one line, as `pmacctd -a` prints */
    uint16_t width;      /* formatted column width */
    uint16_t print_order;
};

/* Custom primitives (aggregate_primitives), as captures see them.
 * Semantics: how the bytes are printed; the bytes themselves are kept as
 * they are on the wire (network order) at rec->custom + rec_off. */
enum pm_custom_sem {
    PM_CSEM_UINT = 1, /* u_int: big-endian unsigned, 1/2/4/8 bytes */
    PM_CSEM_HEX,      /* hex: the same, printed in hexadecimal */
    PM_CSEM_IP,       /* ip: 4 (IPv4) or 16 (IPv6) bytes */
    PM_CSEM_MAC,      /* mac: 6 bytes */
    PM_CSEM_STR,      /* str: up to len bytes, NUL-terminated if shorter */
    PM_CSEM_RAW,      /* raw: len bytes printed as XX-XX-... */
};

/* packet_ptr layers */
enum pm_custom_layer {
    PM_CLAYER_PACKET = 1, /* start of the frame ('packet', 'mac') */
    PM_CLAYER_L3,         /* rec->l3_off; proto: ethertype */
    PM_CLAYER_L4,         /* rec->l4_off; proto: IP protocol */
    PM_CLAYER_PAYLOAD,    /* rec->payload_off; proto: IP protocol */
};

#define PM_CUSTOM_MAX_PTRS 8

struct pm_custom_ptr {
    uint16_t layer;     /* enum pm_custom_layer */
    uint16_t has_proto; /* 1: only when the layer's protocol is `proto` */
    uint32_t proto;     /* ethertype (l3) or IP protocol (l4, payload) */
    uint32_t offset;    /* bytes from the layer's start */
};

struct pm_custom_prim {
    uint16_t id;        /* primitive id, PM_P_CUSTOM_BASE + n */
    uint16_t semantics; /* enum pm_custom_sem */
    const char *name;   /* as written in the file */
    uint32_t field_type; /* NetFlow v9/IPFIX IE id; 0: none */
    uint32_t pen;        /* IPFIX enterprise number; 0: IANA */
    uint16_t len;        /* bytes */
    uint16_t rec_off;    /* offset in rec->custom[] */
    uint32_t nptrs;      /* packet_ptr entries used (first match wins) */
    struct pm_custom_ptr ptrs[PM_CUSTOM_MAX_PTRS];
};

/*
 * The host table.  abi/size first; functions appended only.
 */
struct pm_host {
    uint32_t abi;  /* PM_ABI of the core */
    uint32_t size; /* sizeof(struct pm_host) of the core */

    /* --- logging (since 1.0) --------------------------------------------
     * log: one line, prefixed by the core with the instance's tag
     * "[kind:module:name]".  Never blocks on the per-record path more than
     * a formatted write; use log_limited there. */
    void (*log)(const struct pm_instance *inst, int level, const char *fmt,
                ...) __attribute__((format(printf, 3, 4)));
    /* log_limited: as log, but at most `burst` lines per minute per call
     * site key; the count of suppressed lines is logged later. */
    void (*log_limited)(const struct pm_instance *inst, int level,
                        const char *key, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

    /* --- time and lifecycle (since 1.0) --------------------------------- */
    /* Current wall-clock time (CLOCK_REALTIME).  Time bins are taken from
     * the records' own timestamps by the cache, not from this clock. */
    void (*now)(const struct pm_instance *inst, pm_ts_t *ts);
    /* Non-zero once the daemon is shutting down. */
    int (*stopping)(const struct pm_instance *inst);

    /* --- batches, for captures (since 1.0) ------------------------------
     * batch_get: an empty batch (n = 0) to fill.  Blocks while every batch
     * is in flight and the overload policy is "block"; returns NULL when
     * the daemon stops.
     * batch_emit: hand a filled batch to every pipeline; the capture must
     * not touch it afterwards.  Returns 0, or -ENOBUFS when a pipeline's
     * queue was full under policy "drop" (records counted as dropped).
     * batch_release: give an unused batch back. */
    struct pm_batch *(*batch_get)(const struct pm_instance *inst);
    int (*batch_emit)(const struct pm_instance *inst, struct pm_batch *b);
    void (*batch_release)(const struct pm_instance *inst, struct pm_batch *b);
    /* Copy `len` bytes of string s into b's arena; *out refers to them.
     * Returns 0 or -ENOMEM. */
    int (*batch_str)(struct pm_batch *b, const char *s, size_t len,
                     pm_sref_t *out);
    /* Reserve `len` bytes of packet storage in b (for rec->pkt).
     * Returns NULL when the batch's packet buffer is full: emit and get a
     * new batch. */
    uint8_t *(*batch_pkt)(struct pm_batch *b, size_t len);
    /* PM_CAPF_* flags: what the pipelines need from this capture, and the
     * snaplen they need (0: whatever the capture uses). */
    uint32_t (*capture_needs)(const struct pm_instance *inst,
                              uint32_t *snaplen);

    /* --- packet decoding (since 1.0) ------------------------------------
     * Decode an L2 frame (dlt: PM_DLT_*) into r: MACs, VLAN/QinQ, MPLS,
     * IPv4/IPv6 (extension headers, fragments), TCP/UDP/ICMP/SCTP ports,
     * tcpflags, tos; bytes = IP length, packets = 1.  Sets r->l3_off etc.
     * Returns enum pm_decode_result.  The same decoder serves pcap, NFLOG
     * and the sampled headers of sFlow/IPFIX. */
    int (*decode_packet)(struct pm_rec *r, int dlt, const uint8_t *pkt,
                         uint32_t caplen, uint32_t len, uint32_t flags);

    /* --- primitive registry (since 1.0) --------------------------------- */
    /* Primitive id of a config name ("src_host"), or -ENOENT. */
    int (*prim_lookup)(const char *name);
    /* Description of a primitive id, or NULL. */
    const struct pm_prim_info *(*prim_info)(unsigned id);
    /* Parse a primitive value from text into r (sets the presence bit;
     * strings go into `b`'s arena when b is not NULL).  Used by the
     * client's -M/-N matching and by maps.  Returns 0 or -EINVAL. */
    int (*prim_parse)(unsigned id, const char *text, struct pm_rec *r,
                      struct pm_batch *b);

    /* --- rendering (since 1.0) ------------------------------------------
     * Renderers produce exactly pmacct's text for each format.  The cfg
     * is copied; free with render_free. */
    struct pm_render *(*render_new)(const struct pm_render_cfg *cfg);
    void (*render_free)(struct pm_render *r);
    /* Append the header line (formatted/CSV; nothing for JSON). */
    int (*render_header)(struct pm_render *r, struct pm_buf *out);
    /* Append one row with its newline. */
    int (*render_row)(struct pm_render *r, const struct pm_row *row,
                      struct pm_buf *out);
    /* Append printf-style text to a buffer. */
    int (*buf_printf)(struct pm_buf *out, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

    /* --- aggregation cache (since 1.0) ----------------------------------
     * One per output instance.  Keys are the instance's aggregate set (and
     * time bin when history is on); counters packets/bytes/flows plus
     * first/last times.  Not locked: the module serialises its calls. */
    struct pm_cache *(*cache_new)(const struct pm_instance *inst,
                                  const struct pm_cache_cfg *cfg);
    void (*cache_free)(struct pm_cache *c);
    /* Account every non-dropped record of b.  Returns the number of
     * records accounted, or -errno. */
    int (*cache_add)(struct pm_cache *c, const struct pm_batch *b);
    /* Visit every aggregate; the callback returns PM_WALK_* bits. */
    int (*cache_walk)(struct pm_cache *c, pm_walk_fn fn, void *ud);
    /* Number of aggregates held. */
    uint64_t (*cache_count)(const struct pm_cache *c);
    /* Drop every aggregate (after a purge). */
    void (*cache_clear)(struct pm_cache *c);
    /* Aggregates refused because max_entries was reached. */
    uint64_t (*cache_overflows)(const struct pm_cache *c);

    /* --- stats (since 1.0) ----------------------------------------------
     * A named counter of the instance, exported through the client and the
     * metrics module as pmacct_<module>_<name>{instance="..."}.  The
     * pointer stays valid for the daemon's life; add with pm_counter_add. */
    uint64_t *(*counter)(const struct pm_instance *inst, const char *name,
                         const char *help);

    /* --- configuration and files (since 1.0) ----------------------------
     * conf_get: raw text of a key for this instance (instance value, else
     * global), or NULL.  For keys owned by other modules or the core, e.g.
     * an output reading "sql_history".
     * path_expand: expand strftime sequences for time t and pmacct's
     * $-variables ($peer_src_ip, $tag, $tag2, $post_tag, $pre_tag_label...)
     * from rec (may be NULL) into out.  Returns 0 or -ENAMETOOLONG. */
    const char *(*conf_get)(const struct pm_instance *inst, const char *key);
    int (*path_expand)(const struct pm_instance *inst, const char *tmpl,
                       time_t t, const struct pm_rec *rec, char *out,
                       size_t outlen);

    /* --- stats walk (since 1.0) -----------------------------------------
     * Render every counter of the daemon (all instances) as text lines
     * "name{labels} value\n" (Prometheus text format without HELP) into
     * out.  Used by the memory module to answer the client and by the
     * metrics module. */
    int (*stats_render)(struct pm_buf *out, int prometheus);

    /* --- IP fragments (since 1.0) ---------------------------------------
     * A tracker gives later fragments of a datagram the ports of its first
     * fragment (as pmacctd does).  frag_new: at most max_entries datagrams
     * remembered, each for `timeout` seconds of packet time (0: 60).
     * frag_track: call after decode_packet with the same packet bytes;
     * returns enum pm_frag_result.  One tracker per capture thread; not
     * locked. */
    struct pm_frag *(*frag_new)(uint32_t max_entries, uint32_t timeout);
    void (*frag_free)(struct pm_frag *f);
    int (*frag_track)(struct pm_frag *f, struct pm_rec *r, const uint8_t *pkt,
                      uint32_t caplen);

    /* --- custom primitives (since 1.0) ----------------------------------
     * The primitives of the `aggregate_primitives` file: *n entries (0 and
     * possibly NULL when there is none).  Read-only, valid for the
     * daemon's life.  A capture fills rec->custom + rec_off with len bytes
     * and sets bit `id` for each primitive it can read (packet_ptr from
     * packets, field_type/pen from NetFlow v9/IPFIX templates). */
    const struct pm_custom_prim *(*custom_prims)(uint32_t *n);

    /* --- time bins (since 1.0) ------------------------------------------
     * Parse pmacct's *_history value ("300", "5m", "1h", "1d", "1w",
     * "1M") and *_history_roundoff letters ("m", "h", "d", "w", "M") into
     * cfg->history_secs / history_months / roundoff; NULL or "" leave them
     * 0.  Returns 0, or -EINVAL with the reason in err, written to follow
     * the key's prefix: err is ": '5x': expected ..." for the history value
     * and "_roundoff: 'q': expected ..." for the roundoff, so that
     * log("print_history%s", err) names the right key. */
    int (*history_parse)(const char *history, const char *roundoff,
                         struct pm_cache_cfg *cfg, char *err, size_t errlen);

    /* --- *_preprocess (since 1.0) ---------------------------------------
     * preproc_new: parse a *_preprocess value ("minp=2,minb=100,usrf=10";
     * checks minp minb minf maxp maxb maxf minbpp maxbpp minppf maxppf,
     * actions usrf adjb); all = 1 when *_preprocess_type is "all".  *out
     * is NULL for an empty value.  Returns 0, or -EINVAL with err written
     * to follow the key's name (": unknown check 'x' ...").
     * preproc_apply: 1 when the aggregate is filtered out, else 0 after the
     * actions adjusted row's counters.  A parsed set is read-only. */
    int (*preproc_new)(const char *text, int all, struct pm_preproc **out,
                       char *err, size_t errlen);
    void (*preproc_free)(struct pm_preproc *p);
    int (*preproc_apply)(const struct pm_preproc *p, struct pm_row *row);

    /* --- frames from records (since 1.0) --------------------------------
     * The inverse of decode_packet for records that carry no packet bytes
     * (flows): an Ethernet [+802.1Q] + IPv4/IPv6 + L4 header frame (link
     * type PM_DLT_EN10MB) built from the record's MACs, VLAN, hosts, tos,
     * flow label, proto, ports, tcpflags, into buf (PM_RECORD_FRAME_MAX
     * bytes), so BPF filters work on flows.  Returns the frame's length;
     * *wirelen gets the length to show as on the wire (the record's average
     * packet size when larger). */
    uint32_t (*record_frame)(const struct pm_rec *r, uint8_t *buf,
                             uint32_t *wirelen);

    /* --- encodings (since 1.0) ------------------------------------------
     * The PM_RENDER_* flags the instance's configuration asks for
     * (timestamps_since_epoch, timestamps_secs, pre_tag_label_encode_as_map,
     * tcpflags_encode_as_array, each per instance or global), to OR into a
     * pm_render_cfg's flags. */
    uint32_t (*render_flags)(const struct pm_instance *inst);

    /* --- parallel walks (since 1.1) -------------------------------------
     * Visit part `part` of `nparts` of the aggregates (0 <= part <
     * nparts): the parts together are every aggregate, each once.  Read-
     * only: the callback's PM_WALK_DELETE and PM_WALK_RESET bits are
     * ignored (PM_WALK_STOP ends this part), so several threads may walk
     * different parts of one cache at once, provided nothing else uses
     * the cache meanwhile.  Returns 0 or -EINVAL (part out of range). */
    int (*cache_walk_part)(const struct pm_cache *c, uint32_t part,
                           uint32_t nparts, pm_walk_fn fn, void *ud);

    /* --- rows by reference (since 1.2) ----------------------------------
     * cache_walk_part, also telling each aggregate's ref: a number that
     * cache_rows turns back into that aggregate's row for as long as
     * nothing changes the cache (no cache_add, no cache_walk, no
     * cache_clear).  So a module may walk once taking only what it needs
     * (a sort key, say), order the refs, then have the rows again when it
     * writes them, in its own order.  Both read-only: threads may call
     * them at once. */
    int (*cache_walk_part_ref)(const struct pm_cache *c, uint32_t part,
                               uint32_t nparts, pm_walk_ref_fn fn, void *ud);
    /* The rows of refs[0..n), in that order, each passed to fn as a walk
     * passes them (PM_WALK_STOP ends; the host reads ahead, so many refs
     * at once cost less than one by one).  0, or -ENOENT when a ref names
     * no aggregate (fn is not called for it, it is for the others). */
    int (*cache_rows)(const struct pm_cache *c, const uint64_t *refs,
                      size_t n, pm_walk_fn fn, void *ud);
};

/* Add to a counter from any thread. */
static inline void pm_counter_add(uint64_t *c, uint64_t v)
{
    __atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

/* Read a counter. */
static inline uint64_t pm_counter_get(const uint64_t *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* Convenience logging macros: need `host` and `inst` in scope. */
#define PM_ERR(host, inst, ...) (host)->log((inst), PM_LOG_ERR, __VA_ARGS__)
#define PM_WARN(host, inst, ...)                                               \
    (host)->log((inst), PM_LOG_WARNING, __VA_ARGS__)
#define PM_INFO(host, inst, ...) (host)->log((inst), PM_LOG_INFO, __VA_ARGS__)
#define PM_DEBUG(host, inst, ...)                                              \
    do {                                                                       \
        if ((inst)->debug)                                                     \
            (host)->log((inst), PM_LOG_DEBUG, __VA_ARGS__);                    \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif /* PMACCT_PM_HOST_H */
