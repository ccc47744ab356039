/*
 * classify.h - internals of the classify module shared by its files
 * (classify.c: flow table, per-packet path, module callbacks;
 * classify_engines.c: loading and ordering the engines) and its unit test
 * (not installed).
 */
#ifndef PMACCT_CLASSIFY_H
#define PMACCT_CLASSIFY_H

#include <pmacct/pm_classifier.h>
#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

#define CLS_MAX_ENGINES 32
#define CLS_MAX_CLASSES 1024
#define NIL 0xffffffffu

struct classify_cfg {
    char *classifiers;
    uint64_t tentatives;
    uint64_t table_num;
    uint64_t idle_timeout;
    uint64_t max_age;
    char *engines;
    uint64_t compat_u;
    int compat_b;
};

struct engine {
    const struct pm_classifier *d;
    void *dl;     /* dlopen handle, NULL for built-ins */
    void *ectx;   /* engine context */
    size_t state_off, state_size;
    uint64_t *c_matched, *c_giveup;
};

struct cls_class {
    char name[PM_CLS_NAME_MAX];
    uint32_t len;
    uint64_t *c_streams;
    uint32_t gen;      /* batch generation of sref */
    pm_sref_t sref;    /* in the current batch */
};

enum { ST_FREE = 0, ST_UNDECIDED, ST_DECIDED, ST_GIVEUP };

struct flow {
    uint8_t af, proto, status, _pad;
    uint16_t port_a, port_b;
    uint8_t a[16], b[16]; /* canonical: (a,port_a) <= (b,port_b) */
    uint8_t orig_is_a;
    uint8_t _pad2[3];
    uint32_t class_id;
    uint32_t tent, npkt;
    uint32_t live;   /* bitmask of engines still undecided */
    uint32_t hnext;  /* hash chain */
    uint32_t lprev, lnext; /* LRU list: head = least recently seen */
    uint32_t hash;
    uint64_t first_ms, last_ms;
};

struct classify_ctx {
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct classify_cfg *cfg;
    struct engine eng[CLS_MAX_ENGINES];
    unsigned neng;
    struct cls_class *classes;
    unsigned nclasses;
    uint32_t gen;
    /* flow table */
    struct flow *flows;
    uint8_t *states;
    size_t stride;
    uint32_t nflows, used, free_head;
    uint32_t *buckets;
    uint32_t nbuckets;
    uint32_t lru_head, lru_tail;
    uint64_t now_ms;
    uint64_t *c_streams, *c_classified, *c_giveup, *c_evicted, *c_expired,
        *c_packets, *c_no_packet, *c_class_full;
};

/* classify_engines.c: dlopen every .so of the classifiers directory and
 * the built-in .pat engine (0 or -errno, logged); then put them in
 * priority order (classifier_engines, else .so by name, regex, ndpi last). */
int classify_load_dir(struct classify_ctx *ctx);
int classify_order_engines(struct classify_ctx *ctx);

/* The built-in engine reading the .pat files of the classifiers directory
 * (classifiers/regex/regex.c). */
const struct pm_classifier *classify_regex_descriptor(void);

/* Check a classifier descriptor; fills err and returns -EINVAL when it must
 * be refused. */
int classify_check_desc(const struct pm_classifier *d, const char *path,
                        char *err, size_t errlen);

/* Look at one record; returns 1 with *class_out = class id when its stream
 * is classified, else 0. */
int classify_packet(struct classify_ctx *ctx, struct pm_rec *r,
                    uint32_t *class_out);
const char *classify_class_name(const struct classify_ctx *ctx, uint32_t id);
uint32_t classify_table_used(const struct classify_ctx *ctx);

#endif
