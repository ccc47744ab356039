/*
 * pm_classifier.h - what a stream classifier exports.  A classifier is a
 * small shared object dropped into the directory named by the `classifiers`
 * key; the `classify` transform dlopen()s it (RTLD_LOCAL), checks magic,
 * ABI and descriptor size, and hands it the first payload-carrying packets
 * of every stream until it (or another engine) decides.
 *
 * Memory: the classifier declares how many bytes of per-stream state it
 * wants (state_size, adjustable by init()); the classify module's flow
 * table allocates them with the stream, zeroed, and frees them when the
 * stream ends (after calling teardown()).  Nothing is allocated per packet.
 *
 * Threads: one engine context per classify instance; classify() and
 * teardown() are called from that instance's pipeline thread only.
 *
 * ABI changelog (bump MINOR for additions at the end of a struct, MAJOR
 * for anything else; the classify module loads a classifier when its major
 * equals its own and its minor is <= its own):
 *   1.0  first ABI.
 */
#ifndef PMACCT_PM_CLASSIFIER_H
#define PMACCT_PM_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PM_CLASSIFIER_MAGIC 0x504d4331u /* "PMC1" */
#define PM_CLS_ABI_MAJOR 1
#define PM_CLS_ABI_MINOR 0
#define PM_CLS_ABI ((uint32_t)((PM_CLS_ABI_MAJOR << 16) | PM_CLS_ABI_MINOR))

/* The symbol every classifier exports. */
#define PM_CLASSIFIER_ENTRY "pm_classifier_descriptor"

/* Longest class name, NUL included. */
#define PM_CLS_NAME_MAX 64

/* classify() results. */
enum pm_cls_result {
    PM_CLS_MORE = 0,   /* undecided: show me the next packet of the stream */
    PM_CLS_MATCH = 1,  /* decided: the class name is in cls */
    PM_CLS_GIVEUP = 2, /* this engine will never recognise this stream */
};

/* Direction of a packet within its stream. */
enum pm_cls_dir {
    PM_CLS_DIR_ORIG = 0,  /* same direction as the stream's first packet */
    PM_CLS_DIR_REPLY = 1, /* the other way */
};

/* One packet as a classifier sees it. */
struct pm_cls_pkt {
    const uint8_t *payload; /* L4 payload (may be NULL when len == 0) */
    uint32_t len;           /* payload bytes captured */
    uint32_t dir;           /* enum pm_cls_dir */
    const uint8_t *l3;      /* the IP header onwards (for engines such as
                               nDPI that parse the packet themselves) */
    uint32_t l3_len;        /* bytes captured from l3 on */
    uint8_t af;             /* 4 or 6 */
    uint8_t proto;          /* IP protocol: 6 TCP, 17 UDP, ... */
    uint16_t sport;         /* this packet's ports, host order */
    uint16_t dport;
    uint16_t _pad;
    uint32_t npkt;          /* packets of the stream seen before this one */
    uint64_t ts_ms;         /* packet time, milliseconds since the epoch */
};

/* What init() is told. */
struct pm_cls_config {
    uint32_t size;           /* sizeof(struct pm_cls_config) of the caller */
    uint32_t tentatives;     /* classifier_tentatives */
    const char *dir;         /* the classifiers directory */
    const char *self;        /* path of this classifier's .so */
    /* log one line through the daemon (level: syslog's numbers) */
    void (*log)(void *log_ud, int level, const char *msg);
    void *log_ud;
};

/*
 * The descriptor.
 *
 * init():     allocate the engine context into *engine; may change
 *             *state_size (preset to state_size) when it depends on a
 *             library found at run time.  Return 0, or -errno after
 *             writing why into err.  May be NULL (engine = NULL).
 * classify(): look at one packet of a stream.  `state` is this engine's
 *             per-stream state (state_size bytes, zeroed when the stream
 *             starts).  On PM_CLS_MATCH write a NUL-terminated class name
 *             (at most PM_CLS_NAME_MAX bytes) into cls.  Untrusted input:
 *             never read outside payload[0..len).
 * teardown(): the stream ends (decided, idle, evicted or shutdown): free
 *             what the state points to.  The state memory itself belongs
 *             to the flow table.  May be NULL.
 * fini():     free the engine context.  May be NULL.
 */
struct pm_classifier {
    uint32_t magic; /* PM_CLASSIFIER_MAGIC */
    uint32_t abi;   /* PM_CLS_ABI the classifier was built against */
    uint32_t size;  /* sizeof(struct pm_classifier) of that SDK */
    uint32_t flags; /* reserved, 0 */
    const char *name;    /* engine name: "dns", "ndpi" */
    const char *version;
    const char *summary; /* one line */
    size_t state_size;   /* per-stream bytes wanted (0: none) */

    int (*init)(const struct pm_cls_config *cfg, void **engine,
                size_t *state_size, char *err, size_t errlen);
    int (*classify)(void *engine, void *state, const struct pm_cls_pkt *pkt,
                    char *cls);
    void (*teardown)(void *engine, void *state);
    void (*fini)(void *engine);
};

typedef const struct pm_classifier *(*pm_classifier_entry_fn)(void);

#if defined(__GNUC__)
#define PM_CLS_EXPORT __attribute__((visibility("default")))
#else
#define PM_CLS_EXPORT
#endif

/* Export the descriptor: PM_CLASSIFIER_EXPORT(my_desc). */
#define PM_CLASSIFIER_EXPORT(desc)                                             \
    PM_CLS_EXPORT const struct pm_classifier *pm_classifier_descriptor(void);  \
    PM_CLS_EXPORT const struct pm_classifier *pm_classifier_descriptor(void)   \
    {                                                                          \
        return &(desc);                                                        \
    }

/* Fill the fixed head of a descriptor. */
#define PM_CLASSIFIER_HEAD                                                     \
    .magic = PM_CLASSIFIER_MAGIC, .abi = PM_CLS_ABI,                           \
    .size = (uint32_t)sizeof(struct pm_classifier)

/* Copy a class name into cls (truncating) and return PM_CLS_MATCH. */
static inline int pm_cls_match(char *cls, const char *name)
{
    size_t i;
    for (i = 0; i + 1 < PM_CLS_NAME_MAX && name[i]; i++)
        cls[i] = name[i];
    cls[i] = 0;
    return PM_CLS_MATCH;
}

#ifdef __cplusplus
}
#endif
#endif /* PMACCT_PM_CLASSIFIER_H */
