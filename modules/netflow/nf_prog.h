/*
 * nf_prog.h - templates compiled into decode programs (nf_prog.c) and the
 * per-record scratch shared with nf_ie.c.
 *
 * A template's information elements are mapped once, when the template
 * arrives, to operations (nf_ie_op: IE number, enterprise number, length
 * -> what to do with the value); the program keeps only the fields that
 * do something, in template order (the order matters: see nf_ie_exec),
 * with their offsets when every field has a fixed length.  Decoding a
 * record is then a loop over the steps with no per-IE lookup.
 * Variable-length fields keep their step with NF_OP_VAR: their operation
 * is looked up per record with the length of that record.
 *
 * Threads: a program belongs to its template (one decoder context).
 */
#ifndef PM_NETFLOW_NF_PROG_H
#define PM_NETFLOW_NF_PROG_H

#include "nf.h"

enum {
    H_BYTES = 1u << 0,
    H_PKTS = 1u << 1,
    H_TOTB = 1u << 2,
    H_TOTP = 1u << 3,
    H_POSTB = 1u << 4,
    H_POSTP = 1u << 5,
    H_INITB = 1u << 6,
    H_INITP = 1u << 7,
    H_FIRST = 1u << 8,
    H_LAST = 1u << 9,
    H_START = 1u << 10,
    H_END = 1u << 11,
    H_OBS = 1u << 12,
    H_SAMPLER = 1u << 13,
    H_RATE = 1u << 14,
    H_INVRF = 1u << 15,
    H_OUTVRF = 1u << 16,
    H_BGPNH = 1u << 17,
    H_FWEV = 1u << 18,
    H_FWEVX = 1u << 19,
    H_FLOWS = 1u << 20,
    H_NATSRC = 1u << 21,
    H_NATDST = 1u << 22,
    H_NATSP = 1u << 23,
    H_NATDP = 1u << 24,
    H_VRFNAME = 1u << 25,
    H_SYSINIT = 1u << 26,
    H_DSTART = 1u << 27,
    H_DEND = 1u << 28,
    H_SPACE = 1u << 29,
    H_FRAME = 1u << 30,
};

/* Scratch for one record (or one options record).  Only `have`,
 * `label_mask` and the timestamps are initialised (nf_flow_init): every
 * other field is read only when its H_* bit is set. */
struct nf_flow {
    uint32_t have;
    uint16_t label_mask;
    uint16_t vrfname_len;
    uint64_t bytes, packets, flows;
    uint64_t totb, totp, postb, postp, initb, initp;
    uint64_t frame_bytes;
    uint32_t first_up, last_up;
    uint32_t dstart_us, dend_us;
    pm_ts_t start, end, obs;
    uint32_t sampler_id, rate, space;
    uint32_t in_vrf, out_vrf;
    pm_ip_t bgp_nh;
    uint8_t fwev, fwevx;
    uint32_t labels[10];
    const uint8_t *vrfname;
    uint64_t sysinit_ms;
};

static inline void nf_flow_init(struct nf_flow *fl)
{
    fl->have = 0;
    fl->label_mask = 0;
    memset(&fl->start, 0, sizeof(fl->start));
    memset(&fl->end, 0, sizeof(fl->end));
    memset(&fl->obs, 0, sizeof(fl->obs));
}

/* Operations.  NF_OP_SKIP: the field is ignored (unknown, enterprise, or
 * a length the element cannot have); NF_OP_VAR: variable length, looked
 * up per record.  Operations below NF_OP_RECORD apply to options records
 * too (sampling, VRF names, system init time). */
enum nf_op {
    NF_OP_SKIP = 0,
    NF_OP_VAR,
    NF_OP_RATE,
    NF_OP_SPACE,
    NF_OP_SAMPLER,
    NF_OP_INVRF,
    NF_OP_OUTVRF,
    NF_OP_VRFNAME,
    NF_OP_SYSINIT,
    NF_OP_RECORD, /* first record-only operation */
    NF_OP_BYTES = NF_OP_RECORD,
    NF_OP_PKTS,
    NF_OP_FLOWS,
    NF_OP_TOTB,
    NF_OP_TOTP,
    NF_OP_POSTB,
    NF_OP_POSTP,
    NF_OP_INITB,
    NF_OP_INITP,
    NF_OP_PROTO,
    NF_OP_TOS,
    NF_OP_TCPFLAGS,
    NF_OP_SRC_PORT,
    NF_OP_DST_PORT,
    NF_OP_SRC4,
    NF_OP_DST4,
    NF_OP_SRC6,
    NF_OP_DST6,
    NF_OP_SRC_MASK,
    NF_OP_DST_MASK,
    NF_OP_IN_IFACE,
    NF_OP_OUT_IFACE,
    NF_OP_IN_PHYS,
    NF_OP_OUT_PHYS,
    NF_OP_SRC_AS,
    NF_OP_DST_AS,
    NF_OP_PEER_DST_AS,
    NF_OP_PEER_SRC_AS,
    NF_OP_NH4,
    NF_OP_NH6,
    NF_OP_LAST_UP,
    NF_OP_FIRST_UP,
    NF_OP_START_S,
    NF_OP_END_S,
    NF_OP_START_MS,
    NF_OP_END_MS,
    NF_OP_START_NTP,    /* 154: microseconds */
    NF_OP_START_NTP_NS, /* 156 */
    NF_OP_END_NTP,
    NF_OP_END_NTP_NS,
    NF_OP_DSTART,
    NF_OP_DEND,
    NF_OP_OBS,
    NF_OP_SRC_MAC,
    NF_OP_DST_MAC,
    NF_OP_VLAN,
    NF_OP_OUT_VLAN,
    NF_OP_CVLAN,
    NF_OP_DIRECTION,
    NF_OP_FWD_STATUS,
    NF_OP_RD,
    NF_OP_PW_ID,
    NF_OP_FLOW_LABEL,
    NF_OP_LABEL, /* 70..79 */
    NF_OP_NATSRC4,
    NF_OP_NATSRC4_OLD, /* NSEL 40001: only when 225 was not seen */
    NF_OP_NATDST4,
    NF_OP_NATDST4_OLD,
    NF_OP_NATSRC6,
    NF_OP_NATDST6,
    NF_OP_NATSP,
    NF_OP_NATSP_OLD,
    NF_OP_NATDP,
    NF_OP_NATDP_OLD,
    NF_OP_NAT_EVENT,
    NF_OP_FWEV,
    NF_OP_FWEVX,
    NF_OP_FRAME, /* 315 dataLinkFrameSection */
    NF_OP_COUNT
};

struct nf_step {
    uint32_t off; /* fixed templates: offset in the record */
    uint16_t len; /* fixed templates: length (> 0) */
    uint16_t idx; /* field index in the template */
    uint16_t id;  /* IE number */
    uint8_t op;   /* enum nf_op */
    uint8_t _pad;
};

/* Fast slots: on fixed data templates, the common operations that write
 * state no other operation of the template touches (each appears once;
 * addresses of one family only; one start and one end time) run
 * straight-line, one predictable test per slot instead of a dispatch per
 * field; the other steps (`rest`) then run in template order.  Equal to
 * running every step in order: no rest step reads what a fast slot
 * writes, except in/outPhysicalInterface, which gives way to
 * in/outInterface in either order (tests/unit/test_nf_prog.c compares the
 * paths on random templates).  flowDirection (61) has a slot: softflowd
 * and most v9 exporters send it, and its dispatch was one jump-table
 * branch per record. */
enum nf_fast {
    NFF_BYTES,
    NFF_PKTS,
    NFF_PROTO,
    NFF_TOS,
    NFF_TCPFLAGS,
    NFF_SPORT,
    NFF_DPORT,
    NFF_SRC4,
    NFF_DST4,
    NFF_SRC6,
    NFF_DST6,
    NFF_SMASK,
    NFF_DMASK,
    NFF_IN,
    NFF_OUT,
    NFF_SAS,
    NFF_DAS,
    NFF_FIRST,
    NFF_LAST,
    NFF_START_MS,
    NFF_END_MS,
    NFF_START_S,
    NFF_END_S,
    NFF_DIRECTION,
    NFF_COUNT
};

struct nf_prog {
    uint16_t nsteps;
    uint16_t nfields;
    uint32_t fixed;  /* no variable-length field: off/len are constant */
    uint32_t reclen; /* fixed: bytes of one record */
    uint16_t nrest;    /* fixed: steps left to `rest` by the fast slots */
    uint32_t fastmask; /* fixed: 1 << NFF_* of the slots in use */
    uint16_t foff[NFF_COUNT]; /* fast slot: offset in the record */
    uint8_t flen[NFF_COUNT];  /* fast slot: length */
    uint32_t *off;            /* fixed: offset of each field in a record */
    uint16_t *len;            /* fixed: length of each field */
    struct nf_step *rest;     /* fixed: steps not in a fast slot, in order */
    struct nf_step s[];       /* every step, in template order */
};

/* Operation of field f when it is `len` bytes long (version: 9 or 10). */
unsigned nf_ie_op(const struct nf_field *f, uint32_t len, unsigned version);
/* Apply operation op of field id (value v, len bytes) to record r (NULL
 * for options records: record-only operations are then ignored) and
 * scratch fl. */
void nf_ie_exec(struct nf_ctx *c, struct pm_rec *r, struct nf_flow *fl,
                unsigned op, unsigned id, const uint8_t *v, uint32_t len);

/* Run t's program on one data record (p; field offsets and lengths in
 * off/len) into record r and scratch fl. */
void nf_prog_exec(struct nf_ctx *c, const struct nf_tmpl *t, struct pm_rec *r,
                  struct nf_flow *fl, const uint8_t *p, const uint32_t *off,
                  const uint16_t *len);
/* Bytes nf_prog_build needs after a template's fields. */
size_t nf_prog_bytes(uint16_t nfields);
/* Compile template t into mem (nf_prog_bytes(t->nfields) bytes, 8-byte
 * aligned); returns the program. */
struct nf_prog *nf_prog_build(const struct nf_tmpl *t, void *mem);
/* Decode a data set of a fixed-length data template with its program;
 * returns records decoded (as nf_data_set). */
int nf_prog_run(struct nf_ctx *c, struct nf_hdr *h, const struct nf_tmpl *t,
                const uint8_t *p, uint32_t len);

#endif
