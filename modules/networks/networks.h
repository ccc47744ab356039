/*
 * networks.h - private to the networks module: the lookup tables built
 * from networks_file (networks_load.c) and used by networks.c.  A table is
 * immutable once built; a reload builds a new one and swaps it.
 */
#ifndef PM_NETWORKS_H
#define PM_NETWORKS_H

#include <stddef.h>
#include <stdint.h>

#include <pmacct/pm_record.h>

typedef unsigned __int128 u128;

struct net_entry {
    uint32_t as, peer_as;
    pm_ip_t nexthop;
    uint8_t len;
    uint8_t has_as;
};

/* Disjoint ranges: start[i] .. start[i+1]-1 map to ent[i] (-1: none). */
struct net_tab {
    u128 *start;
    int32_t *ent;
    uint32_t n;
};

struct net_data {
    struct net_entry *e;
    uint32_t ne;
    struct net_tab t4, t6;
};

/* An address as a 128-bit key (IPv4 in the low 32 bits). */
u128 net_ip_key(const pm_ip_t *ip);
/* Index into d->e of the entry covering k, or -1. */
int32_t net_tab_find(const struct net_tab *t, u128 k);
void net_data_free(struct net_data *d);
/* Parse networks_file / ports_file: 0 and *out, or -errno with err holding
 * "file:line: reason". */
int net_nets_load(const char *path, struct net_data **out, char *err,
                  size_t errlen);
int net_ports_load(const char *path, uint8_t **out, char *err, size_t errlen);

#endif
