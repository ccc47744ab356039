/*
 * ndpi.c - shared-object classifier wrapping nDPI (libndpi): every protocol
 * nDPI knows.  The class is nDPI's protocol name exactly as ndpiReader
 * prints it (ndpi_protocol2name: "DNS", "TLS", "TLS.Google", "HTTP", ...),
 * case kept.
 *
 * Per stream the flow table holds nDPI's struct ndpi_flow_struct itself
 * (state_size is set at init from ndpi_detection_get_sizeof_ndpi_flow_struct),
 * so nothing is allocated per packet by us; teardown() frees what nDPI
 * allocated inside it.  Every packet of the stream (payload or not) is
 * given to nDPI until it knows the protocol and has no extra dissection to
 * do; after `classifier_tentatives` payload packets the best answer so far
 * is taken, with nDPI's port-based guess as ndpiReader does, or the stream
 * is given up.
 *
 * Threads: one engine (nDPI detection module) per classify instance, used
 * from that instance's pipeline thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ndpi_api.h>

#include <pmacct/pm_classifier.h>

struct ndpi_engine {
    struct ndpi_detection_module_struct *m;
    uint32_t tentatives;
};

/* Our per-stream head, then nDPI's flow struct (aligned). */
struct ndpi_state {
    uint32_t payloads;
    uint32_t used;
    uint64_t _align;
};

static struct ndpi_flow_struct *flow_of(void *state)
{
    return (struct ndpi_flow_struct *)((char *)state + sizeof(struct ndpi_state));
}

static int ndpi_cls_init(const struct pm_cls_config *cfg, void **engine,
                         size_t *state_size, char *err, size_t errlen)
{
    struct ndpi_engine *e = calloc(1, sizeof(*e));
    NDPI_PROTOCOL_BITMASK all;

    if (!e) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    e->m = ndpi_init_detection_module(ndpi_no_prefs);
    if (!e->m) {
        free(e);
        snprintf(err, errlen, "ndpi_init_detection_module failed");
        return -ENOMEM;
    }
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(e->m, &all);
    ndpi_finalize_initialization(e->m);
    e->tentatives = cfg->tentatives ? cfg->tentatives : 5;
    *state_size = sizeof(struct ndpi_state) +
                  ndpi_detection_get_sizeof_ndpi_flow_struct();
    *engine = e;
    return 0;
}

static int name_of(struct ndpi_engine *e, ndpi_protocol p, char *cls)
{
    char buf[PM_CLS_NAME_MAX];
    ndpi_protocol2name(e->m, p, buf, sizeof(buf));
    return pm_cls_match(cls, buf);
}

static int ndpi_cls_classify(void *vengine, void *vstate,
                             const struct pm_cls_pkt *pkt, char *cls)
{
    struct ndpi_engine *e = vengine;
    struct ndpi_state *st = vstate;
    struct ndpi_flow_struct *flow = flow_of(vstate);
    ndpi_protocol p;
    uint32_t l3len = pkt->l3_len > 65535 ? 65535 : pkt->l3_len;

    st->used = 1;
    p = ndpi_detection_process_packet(e->m, flow, pkt->l3,
                                      (unsigned short)l3len, pkt->ts_ms);
    if (pkt->len)
        st->payloads++;
    if ((p.app_protocol != NDPI_PROTOCOL_UNKNOWN ||
         p.master_protocol != NDPI_PROTOCOL_UNKNOWN) &&
        !ndpi_extra_dissection_possible(e->m, flow))
        return name_of(e, p, cls);
    if (st->payloads >= e->tentatives) {
        uint8_t guessed = 0;
        p = ndpi_detection_giveup(e->m, flow, 1, &guessed);
        if (p.app_protocol != NDPI_PROTOCOL_UNKNOWN ||
            p.master_protocol != NDPI_PROTOCOL_UNKNOWN)
            return name_of(e, p, cls);
        return PM_CLS_GIVEUP;
    }
    return PM_CLS_MORE;
}

static void ndpi_cls_teardown(void *vengine, void *vstate)
{
    struct ndpi_state *st = vstate;
    (void)vengine;
    if (st->used) {
        ndpi_free_flow_data(flow_of(vstate));
        st->used = 0;
    }
}

static void ndpi_cls_fini(void *vengine)
{
    struct ndpi_engine *e = vengine;
    if (e) {
        ndpi_exit_detection_module(e->m);
        free(e);
    }
}

static const struct pm_classifier ndpi_desc = {
    PM_CLASSIFIER_HEAD,
    .name = "ndpi",
    .version = "1.0",
    .summary = "nDPI: every protocol nDPI knows",
    .state_size = sizeof(struct ndpi_state),
    .init = ndpi_cls_init,
    .classify = ndpi_cls_classify,
    .teardown = ndpi_cls_teardown,
    .fini = ndpi_cls_fini,
};

PM_CLASSIFIER_EXPORT(ndpi_desc)
