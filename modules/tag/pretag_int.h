/*
 * pretag_int.h - private to the pre_tag_map code: the map's rules, their
 * conditions and index (pretag.c: index, loading, evaluation;
 * pretag_parse.c: the keys table, parsing a line, tag filters).
 */
#ifndef PM_PRETAG_INT_H
#define PM_PRETAG_INT_H

#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_record.h>

#define PT_MAX_GROUPS 8
#define PT_MAX_CONDS 24
#define PT_MAX_DLT 4

enum pt_kind { K_U32, K_U16, K_U8, K_IP, K_MAC, K_RD, K_SYSID, K_FILTER };

struct pt_key {
    const char *name;
    uint8_t kind;
    uint8_t neg_ok;
    uint8_t arg; /* K_SYSID: shift */
    size_t off;  /* field in struct pm_rec */
};

#define OFF(f) offsetof(struct pm_rec, f)
extern const struct pt_key pt_keys[];
#define PT_NKEYS 24u /* entries of pt_keys (pretag_parse.c) */

struct pt_bpf {
    char *expr;
    unsigned n;
    int dlt[PT_MAX_DLT];
    int ok[PT_MAX_DLT];
    struct bpf_program prog[PT_MAX_DLT];
};

struct pt_cond {
    uint8_t key; /* index in pt_keys */
    uint8_t neg;
    uint8_t plen;
    uint8_t af;
    uint64_t u;
    uint8_t b[16]; /* address, MAC, RD */
};

struct pt_rule {
    uint32_t line;
    uint32_t ncond;
    struct pt_cond cond[PT_MAX_CONDS];
    struct pt_bpf *bpf;
    uint8_t has_tag, has_tag2, tag_inc, tag2_inc;
    uint8_t ret, stack; /* stack: 0 none, 1 sum, 2 or */
    uint64_t tag, tag2, tag_n, tag2_n;
    char *set_label;
    char *name;    /* label= */
    char *jeq;     /* jeq= target name */
    int32_t jump;  /* resolved: rule index, -1 none, -2 next */
    uint32_t sig;  /* index signature (bit per key) */
    uint64_t hash; /* of the signature's values */
};

struct pt_group {
    uint32_t sig;
    uint32_t nslots; /* power of two */
    struct {
        uint64_t hash; /* 0: empty */
        uint32_t start, count;
    } * slots;
};

struct pt_map {
    struct pt_rule *rules;
    uint32_t n, cap;
    struct pt_group groups[PT_MAX_GROUPS];
    uint32_t ngroups;
    uint32_t *grouped; /* rule ids sorted by (group, hash, id) */
    uint32_t *linear;  /* rules in no group, ascending */
    uint32_t nlinear;
    const struct pm_host *host; /* for record_frame */
    uint8_t frame[PM_RECORD_FRAME_MAX]; /* scratch: host->record_frame */
};

/* pretag.c: compile f for link type dlt into its next slot. */
int pt_bpf_compile_dlt(struct pt_bpf *f, int dlt, char *err, size_t errlen);
/* pretag_parse.c: parse line `line` of path (s is modified) into ru; 0,
 * or -errno with err holding "path:line: reason". */
int pt_parse_line(const struct pm_host *host, char *s, struct pt_rule *ru,
                  const char *path, unsigned line, char *err, size_t errlen);
void pt_rule_free(struct pt_rule *ru);

#endif
