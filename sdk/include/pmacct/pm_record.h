/*
 * pm_record.h - the record model shared by every stage: one fixed-layout
 * record per packet, flow or sample, carried in batches owned by the core.
 *
 * A record holds every pmacct primitive; which ones are set is told by the
 * presence bitmap (pm_rec_has/pm_rec_set).  Strings (AS paths, communities,
 * labels, class names, custom string primitives) live in the batch's arena
 * and are referenced by pm_sref_t.  Stages borrow a batch for one call and
 * keep no pointer into it afterwards.
 *
 * ABI: records are always reached through pm_batch_rec(), which strides by
 * batch->rec_size, so the core may append fields (ABI minor bump) without
 * breaking modules built against an older header.  Fields are never moved.
 */
#ifndef PMACCT_PM_RECORD_H
#define PMACCT_PM_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An IPv4 or IPv6 address.  af is 0 (unset), 4 or 6; IPv4 uses a[0..3],
 * the rest is zero so that records compare and hash bytewise. */
typedef struct pm_ip {
    uint8_t af;
    uint8_t _pad[3];
    uint8_t a[16];
} pm_ip_t;

/* A string in the batch arena (or the cache arena): off/len, no NUL needed.
 * len == 0 means empty. */
typedef struct pm_sref {
    uint32_t off;
    uint32_t len;
} pm_sref_t;

/* Primitive identifiers.  The value is the bit in the presence bitmap and
 * the index into the core's primitive registry.  Append only. */
enum pm_prim_id {
    /* L2 */
    PM_P_SRC_MAC = 0,
    PM_P_DST_MAC,
    PM_P_VLAN,
    PM_P_OUT_VLAN,
    PM_P_CVLAN,
    PM_P_COS,
    PM_P_ETYPE,
    /* L3 / L4 */
    PM_P_SRC_HOST,
    PM_P_DST_HOST,
    PM_P_SRC_NET,
    PM_P_DST_NET,
    PM_P_SRC_MASK,
    PM_P_DST_MASK,
    PM_P_PROTO,
    PM_P_TOS,
    PM_P_SRC_PORT,
    PM_P_DST_PORT,
    PM_P_TCPFLAGS,
    PM_P_FLOW_LABEL,
    /* interfaces, exporter, sampling */
    PM_P_IN_IFACE,
    PM_P_OUT_IFACE,
    PM_P_PEER_SRC_IP,
    PM_P_PEER_DST_IP, /* BGP next hop */
    PM_P_SAMPLING_RATE,
    PM_P_SAMPLING_DIRECTION,
    PM_P_DIRECTION,
    PM_P_FWD_STATUS,
    PM_P_IN_VRF,  /* string: vrf name */
    PM_P_OUT_VRF, /* string */
    PM_P_EXPORT_PROTO_SEQNO,
    PM_P_EXPORT_PROTO_VERSION,
    PM_P_EXPORT_PROTO_SYSID,
    /* BGP */
    PM_P_SRC_AS,
    PM_P_DST_AS,
    PM_P_PEER_SRC_AS,
    PM_P_PEER_DST_AS,
    PM_P_AS_PATH,      /* string */
    PM_P_SRC_AS_PATH,  /* string */
    PM_P_STD_COMM,     /* string */
    PM_P_SRC_STD_COMM, /* string */
    PM_P_EXT_COMM,     /* string */
    PM_P_SRC_EXT_COMM, /* string */
    PM_P_LRG_COMM,     /* string */
    PM_P_SRC_LRG_COMM, /* string */
    PM_P_LOCAL_PREF,
    PM_P_SRC_LOCAL_PREF,
    PM_P_MED,
    PM_P_SRC_MED,
    PM_P_MPLS_VPN_RD,
    PM_P_MPLS_PW_ID,
    PM_P_SRC_ROA,
    PM_P_DST_ROA,
    /* NAT (NSEL / NEL) */
    PM_P_POST_NAT_SRC_HOST,
    PM_P_POST_NAT_DST_HOST,
    PM_P_POST_NAT_SRC_PORT,
    PM_P_POST_NAT_DST_PORT,
    PM_P_NAT_EVENT,
    PM_P_FW_EVENT,
    /* MPLS */
    PM_P_MPLS_LABEL_TOP,
    PM_P_MPLS_LABEL_BOTTOM,
    PM_P_MPLS_STACK_DEPTH,
    PM_P_MPLS_LABEL_STACK, /* string: "label,label,..." */
    /* tunnel (inner headers) */
    PM_P_TUNNEL_SRC_MAC,
    PM_P_TUNNEL_DST_MAC,
    PM_P_TUNNEL_SRC_HOST,
    PM_P_TUNNEL_DST_HOST,
    PM_P_TUNNEL_PROTO,
    PM_P_TUNNEL_TOS,
    PM_P_TUNNEL_SRC_PORT,
    PM_P_TUNNEL_DST_PORT,
    PM_P_TUNNEL_TCPFLAGS,
    PM_P_VXLAN,
    PM_P_GTP_TEID,
    /* GeoIP */
    PM_P_SRC_HOST_COUNTRY,
    PM_P_DST_HOST_COUNTRY,
    PM_P_SRC_HOST_POCODE,
    PM_P_DST_HOST_POCODE,
    PM_P_SRC_HOST_COORDS,
    PM_P_DST_HOST_COORDS,
    /* classification and tagging */
    PM_P_CLASS, /* string */
    PM_P_TAG,
    PM_P_TAG2,
    PM_P_LABEL, /* string */
    /* time */
    PM_P_TIMESTAMP_START,
    PM_P_TIMESTAMP_END,
    PM_P_TIMESTAMP_ARRIVAL,
    PM_P_TIMESTAMP_EXPORT,
    PM_P_COUNT_BUILTIN
};

/* Custom primitives (aggregate_primitives) get ids from PM_P_CUSTOM_BASE on;
 * their bytes live in pm_rec.custom[] at the offset the registry assigns. */
#define PM_P_CUSTOM_BASE 96
#define PM_P_MAX 128
#define PM_REC_CUSTOM_BYTES 64

/* A timestamp: seconds and microseconds since the epoch. */
typedef struct pm_ts {
    uint64_t sec;
    uint32_t usec;
    uint32_t _pad;
} pm_ts_t;

/* Presence bitmap. */
typedef struct pm_pset {
    uint64_t w[PM_P_MAX / 64];
} pm_pset_t;

static inline int pm_pset_has(const pm_pset_t *s, unsigned id)
{
    return (int)((s->w[id >> 6] >> (id & 63)) & 1u);
}
static inline void pm_pset_set(pm_pset_t *s, unsigned id)
{
    s->w[id >> 6] |= (uint64_t)1 << (id & 63);
}
static inline void pm_pset_clear(pm_pset_t *s, unsigned id)
{
    s->w[id >> 6] &= ~((uint64_t)1 << (id & 63));
}

/* Record flags. */
#define PM_RF_IPV6 0x0001u     /* L3 is IPv6 */
#define PM_RF_FRAGMENT 0x0002u /* non-first fragment: no L4 header */
#define PM_RF_TRUNCATED 0x0004u

/*
 * The record.  Numeric fields are host byte order.  A field is meaningful
 * only when its primitive's bit is set in `present`; unset fields are zero.
 */
struct pm_rec {
    pm_pset_t present;

    /* counters */
    uint64_t packets;
    uint64_t bytes;
    uint64_t flows;
    uint32_t flags; /* PM_RF_* */
    uint32_t _pad0;

    /* L2 */
    uint8_t src_mac[6];
    uint8_t dst_mac[6];
    uint16_t vlan;
    uint16_t out_vlan;
    uint16_t cvlan;
    uint16_t etype;
    uint8_t cos;
    uint8_t _pad1[3];

    /* L3 / L4 */
    pm_ip_t src_host;
    pm_ip_t dst_host;
    pm_ip_t src_net; /* host masked by src_mask, set by networks/flow data */
    pm_ip_t dst_net;
    uint8_t src_mask;
    uint8_t dst_mask;
    uint8_t proto;
    uint8_t tos;
    uint16_t src_port;
    uint16_t dst_port;
    uint8_t tcpflags;
    uint8_t direction;          /* 0 ingress, 1 egress (flow protocols) */
    uint8_t sampling_direction; /* 'i' / 'e' / 'u' as pmacct prints */
    uint8_t fwd_status;
    uint32_t flow_label;

    /* interfaces, exporter, sampling */
    uint32_t in_iface;
    uint32_t out_iface;
    pm_ip_t peer_src_ip;
    pm_ip_t peer_dst_ip;
    uint32_t sampling_rate;
    uint32_t export_proto_version;
    uint32_t export_proto_seqno;
    uint32_t export_proto_sysid;
    pm_sref_t in_vrf;
    pm_sref_t out_vrf;

    /* BGP */
    uint32_t src_as;
    uint32_t dst_as;
    uint32_t peer_src_as;
    uint32_t peer_dst_as;
    uint32_t local_pref;
    uint32_t src_local_pref;
    uint32_t med;
    uint32_t src_med;
    pm_sref_t as_path;
    pm_sref_t src_as_path;
    pm_sref_t std_comm;
    pm_sref_t src_std_comm;
    pm_sref_t ext_comm;
    pm_sref_t src_ext_comm;
    pm_sref_t lrg_comm;
    pm_sref_t src_lrg_comm;
    uint8_t mpls_vpn_rd[8]; /* RD as on the wire: type(2) + value(6) */
    uint32_t mpls_pw_id;
    uint8_t src_roa;
    uint8_t dst_roa;
    uint8_t nat_event;
    uint8_t fw_event;

    /* NAT */
    pm_ip_t post_nat_src_host;
    pm_ip_t post_nat_dst_host;
    uint16_t post_nat_src_port;
    uint16_t post_nat_dst_port;

    /* MPLS */
    uint32_t mpls_label_top;
    uint32_t mpls_label_bottom;
    uint32_t mpls_stack_depth;
    pm_sref_t mpls_label_stack;

    /* tunnel */
    uint8_t tunnel_src_mac[6];
    uint8_t tunnel_dst_mac[6];
    pm_ip_t tunnel_src_host;
    pm_ip_t tunnel_dst_host;
    uint8_t tunnel_proto;
    uint8_t tunnel_tos;
    uint16_t tunnel_src_port;
    uint16_t tunnel_dst_port;
    uint8_t tunnel_tcpflags;
    uint8_t _pad2;
    uint32_t vxlan;
    uint32_t gtp_teid;

    /* GeoIP */
    char src_host_country[4]; /* ISO code, NUL padded */
    char dst_host_country[4];
    pm_sref_t src_host_pocode;
    pm_sref_t dst_host_pocode;
    double src_host_lat, src_host_lon; /* degrees, as the GeoIP db holds them */
    double dst_host_lat, dst_host_lon;

    /* classification and tagging */
    pm_sref_t class_name;
    uint64_t tag;
    uint64_t tag2;
    pm_sref_t label;

    /* time */
    pm_ts_t ts_start;
    pm_ts_t ts_end;
    pm_ts_t ts_arrival;
    pm_ts_t ts_export;

    /* custom primitives, laid out by the registry */
    uint8_t custom[PM_REC_CUSTOM_BYTES];

    /* raw packet (packet sources only; valid for the batch's lifetime).
     * pkt == NULL when the capture was not asked to keep packets. */
    const uint8_t *pkt;
    uint32_t pkt_caplen; /* bytes available at pkt */
    uint32_t pkt_len;    /* length on the wire */
    uint16_t l3_off;     /* offsets into pkt; 0xffff when absent */
    uint16_t l4_off;
    uint16_t payload_off;
    uint16_t dlt; /* pcap link type of pkt */
};

static inline int pm_rec_has(const struct pm_rec *r, unsigned id)
{
    return pm_pset_has(&r->present, id);
}
static inline void pm_rec_set(struct pm_rec *r, unsigned id)
{
    pm_pset_set(&r->present, id);
}

/* Fill an address from raw network-order bytes. */
static inline void pm_ip_set4(pm_ip_t *ip, const void *be4)
{
    memset(ip, 0, sizeof(*ip));
    ip->af = 4;
    memcpy(ip->a, be4, 4);
}
static inline void pm_ip_set6(pm_ip_t *ip, const void *be16)
{
    memset(ip, 0, sizeof(*ip));
    ip->af = 6;
    memcpy(ip->a, be16, 16);
}

/* Where a batch came from. */
struct pm_batch_origin {
    const char *capture; /* capture instance name */
    uint32_t capture_id; /* index of the capture instance */
    uint32_t _pad;
};

/*
 * A batch: records plus a drop bitmap plus a string arena.  Owned by the
 * core.  Stages mark records dropped (pm_batch_drop) instead of removing
 * them; the core counts every drop per pipeline and per stage.
 */
struct pm_batch {
    uint32_t n;        /* records in use */
    uint32_t cap;      /* records allocated */
    uint32_t rec_size; /* stride: sizeof(struct pm_rec) of the core */
    uint32_t ndropped; /* records marked dropped so far */
    uint8_t *recs;     /* n * rec_size bytes */
    uint64_t *drop;    /* bitmap, cap bits */
    char *arena;       /* string arena */
    uint32_t arena_len;
    uint32_t arena_cap;
    uint8_t *pktbuf; /* packet bytes for rec->pkt (capture's use) */
    uint32_t pktbuf_len;
    uint32_t pktbuf_cap;
    struct pm_batch_origin origin;
    void *core_private; /* the core's; modules do not touch it */
};

/* Record i of batch b. */
static inline struct pm_rec *pm_batch_rec(const struct pm_batch *b, uint32_t i)
{
    return (struct pm_rec *)(void *)(b->recs + (size_t)i * b->rec_size);
}

static inline int pm_batch_dropped(const struct pm_batch *b, uint32_t i)
{
    return (int)((b->drop[i >> 6] >> (i & 63)) & 1u);
}

/* Mark record i dropped (idempotent). */
static inline void pm_batch_drop(struct pm_batch *b, uint32_t i)
{
    uint64_t bit = (uint64_t)1 << (i & 63);
    if (!(b->drop[i >> 6] & bit)) {
        b->drop[i >> 6] |= bit;
        b->ndropped++;
    }
}

/* Pointer to the bytes of string s in batch b (not NUL-terminated). */
static inline const char *pm_batch_str(const struct pm_batch *b, pm_sref_t s)
{
    return b->arena + s.off;
}

#ifdef __cplusplus
}
#endif
#endif /* PMACCT_PM_RECORD_H */
