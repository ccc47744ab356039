/*
 * nf_build.c - NetFlow v9 / IPFIX information elements mapped to
 * operations, and templates compiled into decode programs (nf_prog.h;
 * nf_prog.c runs them).
 *
 * nf_ie_op maps an IE (number, enterprise number, length) to an operation
 * once, when a template arrives.  IE semantics: IANA registry (RFC 7012),
 * v9 field types of RFC 3954 below 128, Cisco ASA NSEL types; reduced-size
 * encoding of unsigned integers (RFC 7011 §6.2) everywhere; addresses and
 * MACs of the wrong size ignored; enterprise-specific elements skipped
 * (custom primitives read them in nf_ie.c).  nf_prog_build keeps the
 * fields that do something, with their offsets, and gives the common ones
 * of fixed templates a fast slot.
 *
 * Threads: capture thread only; a program is read-only once built.
 */
#include <string.h>

#include "nf_prog.h"

unsigned nf_ie_op(const struct nf_field *f, uint32_t len, unsigned version)
{
    if (f->pen != 0)
        return NF_OP_SKIP; /* enterprise-specific */
    if (len == 0)
        return NF_OP_SKIP;
    switch (f->id) {
    /* PSAMP interval/space: nfacctd 1.7.7 uses them only when 4 bytes
     * long (softflowd); 2-byte ones (ipfix.dat) leave the flows unsampled
     * there, and so here. */
    case 305: /* samplingPacketInterval */
        return len == 4 ? NF_OP_RATE : NF_OP_SKIP;
    case 34: /* samplingInterval */
    case 50: /* samplerRandomInterval (v9 FLOW_SAMPLER_RANDOM_INTERVAL) */
        return NF_OP_RATE;
    case 306: /* samplingPacketSpace: rate = (interval + space) / interval */
        return len == 4 ? NF_OP_SPACE : NF_OP_SKIP;
    case 48:  /* samplerId (v9 FLOW_SAMPLER_ID) */
    case 302: /* selectorId */
        return NF_OP_SAMPLER;
    case 234:
        return NF_OP_INVRF;
    case 235:
        return NF_OP_OUTVRF;
    case 236:
        return NF_OP_VRFNAME;
    case 160:
        return NF_OP_SYSINIT; /* systemInitTimeMilliseconds */
    case 1:
        return NF_OP_BYTES;
    case 2:
        return NF_OP_PKTS;
    case 3:
        return NF_OP_FLOWS;
    case 85:
        return NF_OP_TOTB;
    case 86:
        return NF_OP_TOTP;
    case 23:
        return NF_OP_POSTB;
    case 24:
        return NF_OP_POSTP;
    case 231:
        return NF_OP_INITB; /* initiatorOctets / NSEL fwd delta */
    case 298:
        return NF_OP_INITP;
    case 4:
        return NF_OP_PROTO;
    case 5:
        return NF_OP_TOS;
    case 6:
        return NF_OP_TCPFLAGS;
    case 7:
        return NF_OP_SRC_PORT;
    case 11:
        return NF_OP_DST_PORT;
    case 8:
        return len == 4 ? NF_OP_SRC4 : NF_OP_SKIP;
    case 12:
        return len == 4 ? NF_OP_DST4 : NF_OP_SKIP;
    case 27:
        return len == 16 ? NF_OP_SRC6 : NF_OP_SKIP;
    case 28:
        return len == 16 ? NF_OP_DST6 : NF_OP_SKIP;
    case 9:
    case 29:
        return NF_OP_SRC_MASK;
    case 13:
    case 30:
        return NF_OP_DST_MASK;
    case 10:
        return NF_OP_IN_IFACE;
    case 14:
        return NF_OP_OUT_IFACE;
    case 252:
        return NF_OP_IN_PHYS;
    case 253:
        return NF_OP_OUT_PHYS;
    case 16:
        return NF_OP_SRC_AS;
    case 17:
        return NF_OP_DST_AS;
    case 128:
        return NF_OP_PEER_DST_AS; /* bgpNextAdjacentAsNumber */
    case 129:
        return NF_OP_PEER_SRC_AS; /* bgpPrevAdjacentAsNumber */
    case 18:
        return len == 4 ? NF_OP_NH4 : NF_OP_SKIP;
    case 63:
        return len == 16 ? NF_OP_NH6 : NF_OP_SKIP;
    case 21:
        return NF_OP_LAST_UP;
    case 22:
        return NF_OP_FIRST_UP;
    case 150:
        return NF_OP_START_S;
    case 151:
        return NF_OP_END_S;
    case 152:
        return NF_OP_START_MS;
    case 153:
        return NF_OP_END_MS;
    case 154:
        return len == 8 ? NF_OP_START_NTP : NF_OP_SKIP;
    case 156:
        return len == 8 ? NF_OP_START_NTP_NS : NF_OP_SKIP;
    case 155:
        return len == 8 ? NF_OP_END_NTP : NF_OP_SKIP;
    case 157:
        return len == 8 ? NF_OP_END_NTP_NS : NF_OP_SKIP;
    case 158:
        return NF_OP_DSTART; /* flowStartDeltaMicroseconds */
    case 159:
        return NF_OP_DEND;
    case 323:
        return NF_OP_OBS; /* observationTimeMilliseconds */
    case 56:
    case 81:
        return len == 6 ? NF_OP_SRC_MAC : NF_OP_SKIP;
    case 80:
    case 57:
        return len == 6 ? NF_OP_DST_MAC : NF_OP_SKIP;
    case 58:
    case 243:
        return NF_OP_VLAN;
    case 59:
    case 254:
        return NF_OP_OUT_VLAN;
    case 245:
        return NF_OP_CVLAN;
    case 61:
        return NF_OP_DIRECTION;
    case 89:
        return NF_OP_FWD_STATUS;
    case 90:
        return len == 8 ? NF_OP_RD : NF_OP_SKIP;
    case 249:
        return NF_OP_PW_ID;
    case 31:
        return NF_OP_FLOW_LABEL;
    case 70:
    case 71:
    case 72:
    case 73:
    case 74:
    case 75:
    case 76:
    case 77:
    case 78:
    case 79:
        return len >= 3 ? NF_OP_LABEL : NF_OP_SKIP;
    case 225:
        return len == 4 ? NF_OP_NATSRC4 : NF_OP_SKIP;
    case 40001:
        return len == 4 ? NF_OP_NATSRC4_OLD : NF_OP_SKIP;
    case 226:
        return len == 4 ? NF_OP_NATDST4 : NF_OP_SKIP;
    case 40002:
        return len == 4 ? NF_OP_NATDST4_OLD : NF_OP_SKIP;
    case 281:
        return len == 16 ? NF_OP_NATSRC6 : NF_OP_SKIP;
    case 282:
        return len == 16 ? NF_OP_NATDST6 : NF_OP_SKIP;
    case 227:
        return NF_OP_NATSP;
    case 40003:
        return NF_OP_NATSP_OLD;
    case 228:
        return NF_OP_NATDP;
    case 40004:
        return NF_OP_NATDP_OLD;
    case 230:
        return NF_OP_NAT_EVENT; /* natEvent (NEL) */
    case 233:
        return NF_OP_FWEV; /* firewallEvent */
    case 40005:            /* NSEL (old ASA) NF_F_FW_EVENT */
        return version == 9 ? NF_OP_FWEVX : NF_OP_SKIP;
    case 315:
        return NF_OP_FRAME; /* dataLinkFrameSection */
    default:
        return NF_OP_SKIP;
    }
}

size_t nf_prog_bytes(uint16_t nfields)
{
    return sizeof(struct nf_prog) +
           2 * (size_t)nfields * sizeof(struct nf_step) +
           (size_t)nfields * sizeof(uint32_t) +
           (size_t)nfields * sizeof(uint16_t) + 8;
}

/* The fast slot of operation op, or -1. */
static int fast_slot(unsigned op)
{
    switch (op) {
    case NF_OP_BYTES:
        return NFF_BYTES;
    case NF_OP_PKTS:
        return NFF_PKTS;
    case NF_OP_PROTO:
        return NFF_PROTO;
    case NF_OP_TOS:
        return NFF_TOS;
    case NF_OP_TCPFLAGS:
        return NFF_TCPFLAGS;
    case NF_OP_SRC_PORT:
        return NFF_SPORT;
    case NF_OP_DST_PORT:
        return NFF_DPORT;
    case NF_OP_SRC4:
        return NFF_SRC4;
    case NF_OP_DST4:
        return NFF_DST4;
    case NF_OP_SRC6:
        return NFF_SRC6;
    case NF_OP_DST6:
        return NFF_DST6;
    case NF_OP_SRC_MASK:
        return NFF_SMASK;
    case NF_OP_DST_MASK:
        return NFF_DMASK;
    case NF_OP_IN_IFACE:
        return NFF_IN;
    case NF_OP_OUT_IFACE:
        return NFF_OUT;
    case NF_OP_SRC_AS:
        return NFF_SAS;
    case NF_OP_DST_AS:
        return NFF_DAS;
    case NF_OP_FIRST_UP:
        return NFF_FIRST;
    case NF_OP_LAST_UP:
        return NFF_LAST;
    case NF_OP_START_MS:
        return NFF_START_MS;
    case NF_OP_END_MS:
        return NFF_END_MS;
    case NF_OP_START_S:
        return NFF_START_S;
    case NF_OP_END_S:
        return NFF_END_S;
    case NF_OP_DIRECTION:
        return NFF_DIRECTION;
    default:
        return -1;
    }
}

/* Split the steps of a fixed data template into fast slots and the rest
 * (nf_prog.h says when an operation may take a slot). */
static void split_fast(struct nf_prog *pg)
{
    uint8_t cnt[NF_OP_COUNT] = {0};
    unsigned starts, ends, v4, v6;
    for (uint32_t i = 0; i < pg->nsteps; i++)
        if (cnt[pg->s[i].op] < 255)
            cnt[pg->s[i].op]++;
    if (cnt[NF_OP_FRAME]) { /* the frame decoder writes anything */
        memcpy(pg->rest, pg->s, pg->nsteps * sizeof(*pg->s));
        pg->nrest = pg->nsteps;
        return;
    }
    starts = cnt[NF_OP_START_S] + cnt[NF_OP_START_MS] + cnt[NF_OP_START_NTP] +
             cnt[NF_OP_START_NTP_NS];
    ends = cnt[NF_OP_END_S] + cnt[NF_OP_END_MS] + cnt[NF_OP_END_NTP] +
           cnt[NF_OP_END_NTP_NS];
    v4 = cnt[NF_OP_SRC4] + cnt[NF_OP_DST4];
    v6 = cnt[NF_OP_SRC6] + cnt[NF_OP_DST6];
    for (uint32_t i = 0; i < pg->nsteps; i++) {
        const struct nf_step *s = &pg->s[i];
        int k = fast_slot(s->op);
        int ok = k >= 0 && cnt[s->op] == 1 && s->len <= 16;
        if (ok && (k == NFF_SRC4 || k == NFF_DST4) && v6)
            ok = 0;
        if (ok && (k == NFF_SRC6 || k == NFF_DST6) && v4)
            ok = 0;
        if (ok && (k == NFF_START_MS || k == NFF_START_S) && starts != 1)
            ok = 0;
        if (ok && (k == NFF_END_MS || k == NFF_END_S) && ends != 1)
            ok = 0;
        if (ok) {
            pg->fastmask |= 1u << k;
            pg->foff[k] = (uint16_t)s->off;
            pg->flen[k] = (uint8_t)s->len;
        } else {
            pg->rest[pg->nrest++] = *s;
        }
    }
}

struct nf_prog *nf_prog_build(const struct nf_tmpl *t, void *mem)
{
    struct nf_prog *pg = mem;
    uint8_t *tail;
    uint32_t off = 0;
    memset(pg, 0, nf_prog_bytes(t->nfields));
    pg->rest = &pg->s[t->nfields];
    tail = (uint8_t *)&pg->s[2 * (size_t)t->nfields];
    pg->off = (uint32_t *)(void *)tail;
    pg->len =
        (uint16_t *)(void *)(tail + (size_t)t->nfields * sizeof(uint32_t));
    pg->nfields = t->nfields;
    pg->fixed = !t->varlen;
    for (uint16_t i = 0; i < t->nfields; i++) {
        const struct nf_field *f = &t->f[i];
        unsigned op = f->len == 65535 && !f->pen
                          ? NF_OP_VAR
                          : nf_ie_op(f, f->len, t->version);
        pg->off[i] = off;
        pg->len[i] = f->len == 65535 ? 0 : f->len;
        if (f->len != 65535)
            off += f->len;
        /* v9 options scope fields use their own type space */
        if (op == NF_OP_SKIP ||
            (t->options && t->version == 9 && i < t->nscope))
            continue;
        pg->s[pg->nsteps].off = pg->off[i];
        pg->s[pg->nsteps].len = pg->len[i];
        pg->s[pg->nsteps].idx = i;
        pg->s[pg->nsteps].id = f->id;
        pg->s[pg->nsteps].op = (uint8_t)op;
        pg->nsteps++;
    }
    pg->reclen = off;
    /* fast slots: fixed data templates whose offsets fit them */
    if (pg->fixed && !t->options && off <= 65535) {
        split_fast(pg);
    } else {
        memcpy(pg->rest, pg->s, pg->nsteps * sizeof(*pg->s));
        pg->nrest = pg->nsteps;
    }
    return pg;
}

