/*
 * history.c - pmacct's *_history and *_history_roundoff values into the
 * aggregation cache's time-bin configuration (struct pm_cache_cfg; the
 * bins themselves are computed in cache.c).  Pure, no state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmdata.h"

/* pmacct's *_history ("300", "5m", "1h", "1d", "1w", "1M") and
 * *_history_roundoff ("m", "h", "d", "w", "M", several letters: the
 * coarsest counts) into cfg.  NULL or empty strings leave them unset. */
int pmc_history_parse(const char *history, const char *roundoff,
                      struct pm_cache_cfg *cfg, char *err, size_t errlen)
{
    static const char order[] = "mhdwM"; /* ascending */
    unsigned long long v;
    char *e;
    int best = -1;

    cfg->history_secs = 0;
    cfg->history_months = 0;
    cfg->roundoff = 0;
    if (history && *history) {
        errno = 0;
        v = strtoull(history, &e, 10);
        if (errno || e == history || v == 0 || (*e && e[1]))
            goto bad_history;
        switch (*e) {
        case 0:
        case 's':
            cfg->history_secs = v;
            break;
        case 'm':
            cfg->history_secs = v * 60;
            break;
        case 'h':
            cfg->history_secs = v * 3600;
            break;
        case 'd':
            cfg->history_secs = v * 86400;
            break;
        case 'w':
            cfg->history_secs = v * 604800;
            break;
        case 'M':
            cfg->history_months = (uint32_t)v;
            break;
        default:
            goto bad_history;
        }
    }
    for (const char *p = roundoff; p && *p; p++) {
        const char *q;
        if (*p == ',' || *p == ' ')
            continue;
        q = strchr(order, *p);
        if (!q) {
            snprintf(err, errlen,
                     "_roundoff: '%s': expected letters among m, h, d, w, M",
                     roundoff);
            return -EINVAL;
        }
        if (q - order > best)
            best = (int)(q - order);
    }
    if (best >= 0)
        cfg->roundoff = (uint32_t)(unsigned char)order[best];
    return 0;
bad_history:
    snprintf(err, errlen,
             ": '%s': expected a length like 300, 5m, 1h, 1d, 1w or 1M",
             history);
    return -EINVAL;
}
