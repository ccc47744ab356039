/*
 * prim_int.h - libpmdata's private view of the primitive registry: value
 * types, record offsets and the JSON order that pm_prim_info does not carry.
 * Read-only tables; shared freely.
 */
#ifndef PMACCT_CORE_PRIM_INT_H
#define PMACCT_CORE_PRIM_INT_H

#include <stddef.h>
#include <stdint.h>

#include "pmdata.h"

/* Value types (pm_prim_info.type). */
enum pm_vtype {
    PM_VT_NONE = 0,
    PM_VT_MAC,      /* uint8_t[6] */
    PM_VT_U8,
    PM_VT_U16,
    PM_VT_U32,
    PM_VT_U64,
    PM_VT_IP,       /* pm_ip_t */
    PM_VT_PROTO,    /* uint8_t, printed as a name */
    PM_VT_ETYPE,    /* uint16_t, printed in hex */
    PM_VT_TCPFLAGS, /* uint8_t, JSON as a quoted number */
    PM_VT_STR,      /* pm_sref_t */
    PM_VT_COUNTRY,  /* char[4] */
    PM_VT_COORDS,   /* float lat, lon */
    PM_VT_TS,       /* pm_ts_t */
    PM_VT_ROA,      /* uint8_t, printed as a letter */
    PM_VT_RD,       /* uint8_t[8] */
    PM_VT_CHAR,     /* uint8_t printed as a character */
    /* custom primitives: bytes as on the wire in pm_rec.custom[] */
    PM_VT_C_UINT, /* big-endian unsigned, printed in decimal */
    PM_VT_C_HEX,  /* big-endian unsigned, printed in hex */
    PM_VT_C_IP,   /* 4 or 16 bytes */
    PM_VT_C_MAC,  /* 6 bytes */
    PM_VT_C_STR,  /* up to size bytes, NUL-terminated when shorter */
    PM_VT_C_RAW,  /* bytes printed as XX-XX-... */
};

struct pm_prim_def {
    struct pm_prim_info info;
    uint16_t json_order;
    uint16_t off;  /* offset in struct pm_rec */
    uint16_t size; /* bytes in struct pm_rec */
    const char *json2;   /* second JSON key (coords: lon) */
    const char *column2; /* second column (coords: *_LON) */
    const char *group;   /* `-a` group: L2, L3, ... */
};

const struct pm_prim_def *pmc_prim_def(unsigned id);

/* Custom primitives (prim_custom.c). */
const struct pm_prim_def *pmc_custom_def(unsigned id);
int pmc_custom_lookup(const char *name);
unsigned pmc_custom_count(void);

/* Protocol name as pmacct prints it, or NULL for a bare number. */
const char *pmc_proto_name(uint8_t proto);

/* ROA letter. */
char pmc_roa_char(uint8_t v);

#endif
