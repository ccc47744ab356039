/*
 * paths.c - host->path_expand: pmacct's $-variables taken from a record,
 * then strftime(3) sequences for time t (local time), e.g.
 * "/var/log/acct-$peer_src_ip-%Y%m%d-%H%M.txt".
 *
 * Variables: $peer_src_ip (exporter address), $tag and $post_tag (tag),
 * $tag2 and $post_tag2 (tag2), $pre_tag_label and $label (label string;
 * reaches the arena only when rec is part of a batch, so with a bare
 * record it expands to ""), $in_iface, $out_iface.  Without a record the
 * numbers expand to 0 and the address to 0.0.0.0, as pmacct does for
 * records that lack them.  Unknown $words are kept as written.
 *
 * Pure function: no shared state.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pmd.h"

static int put(char *out, size_t outlen, size_t *o, const char *s, size_t n,
               int escape)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (escape && s[i] == '%') {
            if (*o + 2 >= outlen)
                return -ENAMETOOLONG;
            out[(*o)++] = '%';
        }
        if (*o + 1 >= outlen)
            return -ENAMETOOLONG;
        out[(*o)++] = s[i];
    }
    out[*o] = 0;
    return 0;
}

static void ip_text(const pm_ip_t *ip, char *buf, size_t len)
{
    if (ip->af == 6)
        inet_ntop(AF_INET6, ip->a, buf, (socklen_t)len);
    else if (ip->af == 4)
        inet_ntop(AF_INET, ip->a, buf, (socklen_t)len);
    else
        snprintf(buf, len, "0.0.0.0");
}

int pmd_path_expand(const struct pm_instance *inst, const char *tmpl,
                    time_t t, const struct pm_rec *rec, char *out,
                    size_t outlen)
{
    char mid[4096], val[128];
    size_t o = 0;
    const char *p = tmpl;
    struct tm tm;
    int rc;
    (void)inst;
    if (!outlen)
        return -ENAMETOOLONG;
    mid[0] = 0;
    while (*p) {
        const char *q = p, *name;
        size_t nlen;
        if (*p != '$') {
            while (*q && *q != '$')
                q++;
            if ((rc = put(mid, sizeof(mid), &o, p, (size_t)(q - p), 0)) < 0)
                return rc;
            p = q;
            continue;
        }
        name = p + 1;
        q = name;
        while ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
               *q == '_')
            q++;
        nlen = (size_t)(q - name);
        val[0] = 0;
#define IS(s) (nlen == sizeof(s) - 1 && !strncmp(name, s, nlen))
        if (IS("peer_src_ip")) {
            if (rec)
                ip_text(&rec->peer_src_ip, val, sizeof(val));
            else
                snprintf(val, sizeof(val), "0.0.0.0");
        } else if (IS("tag") || IS("post_tag")) {
            snprintf(val, sizeof(val), "%llu",
                     rec ? (unsigned long long)rec->tag : 0ULL);
        } else if (IS("tag2") || IS("post_tag2")) {
            snprintf(val, sizeof(val), "%llu",
                     rec ? (unsigned long long)rec->tag2 : 0ULL);
        } else if (IS("in_iface")) {
            snprintf(val, sizeof(val), "%u", rec ? rec->in_iface : 0u);
        } else if (IS("out_iface")) {
            snprintf(val, sizeof(val), "%u", rec ? rec->out_iface : 0u);
        } else if (IS("pre_tag_label") || IS("label")) {
            val[0] = 0;
        } else {
            /* not ours: keep "$word" */
            if ((rc = put(mid, sizeof(mid), &o, p, (size_t)(q - p), 0)) < 0)
                return rc;
            p = q;
            continue;
        }
#undef IS
        if ((rc = put(mid, sizeof(mid), &o, val, strlen(val), 1)) < 0)
            return rc;
        p = q;
    }
    localtime_r(&t, &tm);
    if (!mid[0]) {
        out[0] = 0;
        return 0;
    }
    if (strftime(out, outlen, mid, &tm) == 0)
        return -ENAMETOOLONG;
    return 0;
}
