/*
 * sampling.h - the sampling_map of the sampling transform (sampling_map.c):
 * a list of rules `id=RATE ip=ADDR[/LEN] [in=IFINDEX] [out=IFINDEX]`, the
 * first rule matching a record's exporter (and interfaces) gives its rate.
 * Immutable once loaded: a reload builds a new map and swaps it.
 */
#ifndef PM_SAMPLING_H
#define PM_SAMPLING_H

#include <stddef.h>
#include <stdint.h>

#include <pmacct/pm_record.h>

struct smap;

/* Parse FILE (at most max rules).  0 and *out, or -errno with err holding
 * "FILE:LINE: reason". */
int smap_load(const char *file, uint32_t max, struct smap **out, char *err,
              size_t errlen);
/* Parse text held in memory (name is used in messages). */
int smap_parse(const char *name, const char *text, size_t len, uint32_t max,
               struct smap **out, char *err, size_t errlen);
/* The rate of the first rule matching (0: none). */
uint32_t smap_lookup(const struct smap *m, const pm_ip_t *exporter, uint32_t in,
                     uint32_t out);
uint32_t smap_count(const struct smap *m);
void smap_free(struct smap *m);

#endif
