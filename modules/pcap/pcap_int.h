/*
 * pcap_int.h - private to the pcap capture module: its configuration and
 * context, and the functions opening the savefile or live interface
 * (pcap_open.c).  See pcap.c for threads.
 */
#ifndef PM_PCAP_INT_H
#define PM_PCAP_INT_H

#include <pcap/pcap.h>
#include <stdint.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>
#include <pmacct/pm_record.h>

#define PCAP_TIMEOUT_MS 100
#define PCAP_DEFAULT_SNAPLEN 128
#define PCAP_IFACE_RETRY_SECS 5

enum { DIR_NONE = 0, DIR_IN, DIR_OUT };
enum { IFX_NONE = 0, IFX_SYS, IFX_HASH };

struct pcap_cfg {
    char *pcap_interface;
    char *interface; /* old name of pcap_interface */
    char *savefile;
    int savefile_wait;
    uint64_t savefile_delay;
    uint64_t savefile_replay;
    char *filter;
    int promisc;
    uint64_t snaplen;
    char *direction;
    char *ifindex;
    int interface_wait;
    int force_frag;
    uint64_t frag_buffer;
};

struct pcap_ctx {
    const struct pm_host *host;
    const struct pm_instance *inst;
    struct pcap_cfg *cfg;
    const char *ifname; /* live: interface; NULL for savefiles */
    char ifbuf[64];
    int direction;
    int ifx_mode;
    uint32_t ifindex;
    uint32_t snaplen;
    pcap_t *p;
    int dlt;
    int keep_packets;
    /* counters */
    uint64_t *c_packets, *c_bytes, *c_truncated, *c_bad, *c_non_ip;
    uint64_t *c_kdrop, *c_ifdrop;
    /* fragment tracking (only when a pipeline aggregates L4 fields) */
    struct pm_frag *frag;
    uint64_t *c_frag_unmatched;
    uint64_t last_drop, last_ifdrop;
    /* custom primitives read from the packet (packet_ptr=) */
    const struct pm_custom_prim *cprims;
    uint32_t ncprims;
};

/* pcap_open.c */
int pcapm_set_filter(struct pcap_ctx *ctx);
int pcapm_open_savefile(struct pcap_ctx *ctx);
int pcapm_pick_device(struct pcap_ctx *ctx);
/* Open the live interface.  Returns 0, -ENODEV (absent: may wait),
 * -EPERM, or another -errno. */
int pcapm_open_live(struct pcap_ctx *ctx, int quiet_absent);

#endif
