/*
 * pcap_open.c - the pcap capture module's opening of its input: the
 * savefile, or the live interface (picked when none is configured; its
 * ifindex from the system or a hash of its name), and pcap_filter.  Runs
 * on the main thread (start) or the capture thread (run, waiting for an
 * interface); touches only the instance context.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "pcap_int.h"

/* FNV-1a of the interface name, never 0 (pcap_ifindex: hash). */
static uint32_t name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 16777619u;
    }
    return h ? h : 1;
}

/* Apply pcap_filter to an open handle. */
int pcapm_set_filter(struct pcap_ctx *ctx)
{
    struct bpf_program prog;
    const char *f = ctx->cfg->filter;

    if (!f || !*f)
        return 0;
    if (pcap_compile(ctx->p, &prog, f, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        ctx->host->log(ctx->inst, PM_LOG_ERR, "pcap_filter '%s': %s", f,
                       pcap_geterr(ctx->p));
        return -EINVAL;
    }
    if (pcap_setfilter(ctx->p, &prog) < 0) {
        ctx->host->log(ctx->inst, PM_LOG_ERR, "pcap_filter '%s': %s", f,
                       pcap_geterr(ctx->p));
        pcap_freecode(&prog);
        return -EINVAL;
    }
    pcap_freecode(&prog);
    return 0;
}

int pcapm_open_savefile(struct pcap_ctx *ctx)
{
    char err[PCAP_ERRBUF_SIZE] = "";
    const char *file = ctx->cfg->savefile;
    struct stat st;
    int rc;

    if (stat(file, &st) < 0) {
        rc = -errno;
        ctx->host->log(ctx->inst, PM_LOG_ERR, "cannot open savefile %s: %s",
                       file, strerror(errno));
        return rc;
    }
    ctx->p = pcap_open_offline(file, err);
    if (!ctx->p) {
        ctx->host->log(ctx->inst, PM_LOG_ERR, "cannot open savefile %s: %s",
                       file, err);
        return -EINVAL;
    }
    ctx->dlt = pcap_datalink(ctx->p);
    rc = pcapm_set_filter(ctx);
    if (rc < 0) {
        pcap_close(ctx->p);
        ctx->p = NULL;
    }
    return rc;
}

/* Pick a device when none is configured, as pcap_lookupdev() did. */
int pcapm_pick_device(struct pcap_ctx *ctx)
{
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_if_t *all = NULL, *d, *pick = NULL;

    if (pcap_findalldevs(&all, err) < 0 || !all) {
        ctx->host->log(ctx->inst, PM_LOG_ERR,
                       "no pcap_interface given and no device found%s%s",
                       *err ? ": " : "", err);
        if (all)
            pcap_freealldevs(all);
        return -ENODEV;
    }
    for (d = all; d; d = d->next) {
        if (d->flags & PCAP_IF_LOOPBACK)
            continue;
        if (!strcmp(d->name, "any"))
            continue;
        pick = d;
        break;
    }
    if (!pick)
        pick = all;
    snprintf(ctx->ifbuf, sizeof(ctx->ifbuf), "%s", pick->name);
    ctx->ifname = ctx->ifbuf;
    pcap_freealldevs(all);
    ctx->host->log(ctx->inst, PM_LOG_INFO,
                   "no pcap_interface given: listening on %s", ctx->ifname);
    return 0;
}

/* Open the live interface.  Returns 0, -ENODEV (absent: may wait),
 * -EPERM, or another -errno. */
int pcapm_open_live(struct pcap_ctx *ctx, int quiet_absent)
{
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p;
    int rc;

    p = pcap_create(ctx->ifname, err);
    if (!p) {
        ctx->host->log(ctx->inst, PM_LOG_ERR,
                       "cannot open interface %s: %s", ctx->ifname, err);
        return -ENODEV;
    }
    pcap_set_snaplen(p, (int)ctx->snaplen);
    pcap_set_promisc(p, ctx->cfg->promisc ? 1 : 0);
    pcap_set_timeout(p, PCAP_TIMEOUT_MS);
    pcap_set_buffer_size(p, 8 * 1024 * 1024);
    rc = pcap_activate(p);
    if (rc < 0) {
        if (rc == PCAP_ERROR_PERM_DENIED) {
            ctx->host->log(ctx->inst, PM_LOG_ERR,
                           "cannot open interface %s: you don't have "
                           "permission to capture on that device (run as "
                           "root or give CAP_NET_RAW)",
                           ctx->ifname);
            rc = -EPERM;
        } else if (rc == PCAP_ERROR_NO_SUCH_DEVICE ||
                   rc == PCAP_ERROR_IFACE_NOT_UP) {
            if (!quiet_absent)
                ctx->host->log(ctx->inst, PM_LOG_ERR,
                               "cannot open interface %s: %s", ctx->ifname,
                               rc == PCAP_ERROR_IFACE_NOT_UP
                                   ? "interface is down"
                                   : "no such device");
            rc = -ENODEV;
        } else {
            ctx->host->log(ctx->inst, PM_LOG_ERR,
                           "cannot open interface %s: %s", ctx->ifname,
                           pcap_geterr(p));
            rc = -EIO;
        }
        pcap_close(p);
        return rc;
    } else if (rc > 0) {
        ctx->host->log(ctx->inst, PM_LOG_WARNING, "interface %s: %s",
                       ctx->ifname, pcap_geterr(p));
    }
    ctx->p = p;
    if (pcap_setnonblock(p, 1, err) < 0)
        ctx->host->log(ctx->inst, PM_LOG_WARNING,
                       "interface %s: cannot set non-blocking mode: %s",
                       ctx->ifname, err);
    if (ctx->direction != DIR_NONE &&
        pcap_setdirection(p, ctx->direction == DIR_IN ? PCAP_D_IN
                                                      : PCAP_D_OUT) < 0)
        ctx->host->log(ctx->inst, PM_LOG_WARNING,
                       "pcap_direction %s not supported on %s: %s",
                       ctx->direction == DIR_IN ? "in" : "out", ctx->ifname,
                       pcap_geterr(p));
    rc = pcapm_set_filter(ctx);
    if (rc < 0) {
        pcap_close(p);
        ctx->p = NULL;
        return rc;
    }
    ctx->dlt = pcap_datalink(p);
    if (ctx->ifx_mode == IFX_SYS)
        ctx->ifindex = if_nametoindex(ctx->ifname);
    else if (ctx->ifx_mode == IFX_HASH)
        ctx->ifindex = name_hash(ctx->ifname);
    ctx->host->log(ctx->inst, PM_LOG_INFO, "listening on %s, link type %d",
                   ctx->ifname, ctx->dlt);
    return 0;
}
