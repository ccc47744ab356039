/*
 * tls.c - shared-object classifier: TLS (RFC 8446 / RFC 5246), and DTLS
 * (RFC 9147) over UDP, recognised by a handshake record carrying a
 * ClientHello or ServerHello.  The ClientHello's server_name extension
 * (RFC 6066 section 3) is parsed: when the classifiers directory holds a
 * file tls-sni.map with lines "SUFFIX CLASS" (e.g. "example.com example"),
 * a stream whose SNI equals SUFFIX or ends with "." SUFFIX gets CLASS
 * instead of "tls" (first line that matches wins).
 *
 * A ClientHello cut by the snaplen still matches "tls" as long as its
 * record and handshake headers are seen.  The first three payload packets
 * are tried, then give up.
 *
 * Threads: the engine context (the SNI map) is read-only after init.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pmacct/pm_classifier.h>

struct sni_rule {
    char suffix[256];
    char cls[PM_CLS_NAME_MAX];
};

struct tls_engine {
    struct sni_rule *rules;
    unsigned n;
};

struct tls_state {
    uint8_t tries;
};

static unsigned get16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

/*
 * Parse a TLS (or DTLS when dtls) handshake record at p.  Returns 1 for a
 * ClientHello/ServerHello, 0 otherwise; the SNI (if found) is copied into
 * sni (NUL-terminated, at most snilen-1 bytes).
 */
int tls_parse(const uint8_t *p, uint32_t len, int dtls, char *sni,
              size_t snilen)
{
    uint32_t rh = dtls ? 13 : 5, hh = dtls ? 12 : 4, o, end, l;
    uint8_t ht;

    if (sni && snilen)
        sni[0] = 0;
    if (len < rh + 1 || p[0] != 22)
        return 0;
    if (!dtls && (p[1] != 3 || p[2] > 4))
        return 0;
    if (dtls && (p[1] != 0xfe || (p[2] != 0xff && p[2] != 0xfd && p[2] != 0xfc)))
        return 0;
    if (get16(p + rh - 2) < hh)
        return 0;
    ht = p[rh];
    if (ht != 1 && ht != 2)
        return 0;
    if (ht == 2 || !sni)
        return 1;
    /* ClientHello body: version(2) random(32) session_id<1> [cookie<1>]
     * cipher_suites<2> compression<1> extensions<2> */
    end = len;
    o = rh + hh;
    if (rh + 4 <= len) {
        uint32_t hl = (uint32_t)p[rh + 1] << 16 | get16(p + rh + 2);
        if (rh + hh + hl < end)
            end = rh + hh + hl;
    }
    o += 2 + 32;
    if (o + 1 > end)
        return 1;
    o += 1u + p[o];
    if (dtls) {
        if (o + 1 > end)
            return 1;
        o += 1u + p[o];
    }
    if (o + 2 > end)
        return 1;
    o += 2u + get16(p + o);
    if (o + 1 > end)
        return 1;
    o += 1u + p[o];
    if (o + 2 > end)
        return 1;
    l = get16(p + o);
    o += 2;
    if (o + l < end)
        end = o + l;
    while (o + 4 <= end) {
        unsigned type = get16(p + o), elen = get16(p + o + 2);
        o += 4;
        if (o + elen > end)
            return 1;
        if (type == 0 && elen >= 5) {
            /* server_name_list<2> { type(1)=0 host_name<2> } */
            uint32_t q = o + 2;
            if (p[q] == 0) {
                uint32_t nl = get16(p + q + 1);
                if (q + 3 + nl <= o + elen && nl > 0) {
                    if (nl >= snilen)
                        nl = (uint32_t)snilen - 1;
                    memcpy(sni, p + q + 3, nl);
                    sni[nl] = 0;
                }
            }
            return 1;
        }
        o += elen;
    }
    return 1;
}

static int suffix_match(const char *sni, const char *suf)
{
    size_t a = strlen(sni), b = strlen(suf);
    if (a == b)
        return !strcasecmp(sni, suf);
    return a > b && sni[a - b - 1] == '.' && !strcasecmp(sni + a - b, suf);
}

static void tls_fini(void *vengine)
{
    struct tls_engine *e = vengine;
    if (e) {
        free(e->rules);
        free(e);
    }
}

static int tls_init(const struct pm_cls_config *cfg, void **engine,
                    size_t *state_size, char *err, size_t errlen)
{
    struct tls_engine *e = calloc(1, sizeof(*e));
    char path[4096], line[512];
    FILE *f;
    int lineno = 0;

    (void)state_size;
    if (!e) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    snprintf(path, sizeof(path), "%s/tls-sni.map", cfg->dir);
    if ((f = fopen(path, "r"))) {
        while (fgets(line, sizeof(line), f)) {
            char suf[256], cls[PM_CLS_NAME_MAX];
            struct sni_rule *nr;
            lineno++;
            if (line[0] == '#' || sscanf(line, "%255s %63s", suf, cls) != 2)
                continue;
            nr = realloc(e->rules, (e->n + 1) * sizeof(*nr));
            if (!nr) {
                fclose(f);
                tls_fini(e);
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
            }
            e->rules = nr;
            snprintf(nr[e->n].suffix, sizeof(nr[e->n].suffix), "%s", suf);
            snprintf(nr[e->n].cls, sizeof(nr[e->n].cls), "%s", cls);
            e->n++;
        }
        fclose(f);
    }
    *engine = e;
    return 0;
}

static int tls_classify(void *vengine, void *vstate,
                        const struct pm_cls_pkt *pkt, char *cls)
{
    struct tls_engine *e = vengine;
    struct tls_state *st = vstate;
    char sni[256];
    unsigned i;

    if (pkt->proto != 6 && pkt->proto != 17)
        return PM_CLS_GIVEUP;
    if (!pkt->len)
        return PM_CLS_MORE;
    if (tls_parse(pkt->payload, pkt->len, pkt->proto == 17, sni,
                  sizeof(sni))) {
        for (i = 0; sni[0] && i < e->n; i++)
            if (suffix_match(sni, e->rules[i].suffix))
                return pm_cls_match(cls, e->rules[i].cls);
        return pm_cls_match(cls, pkt->proto == 17 ? "dtls" : "tls");
    }
    return ++st->tries >= 3 ? PM_CLS_GIVEUP : PM_CLS_MORE;
}

static const struct pm_classifier tls_desc = {
    PM_CLASSIFIER_HEAD,
    .name = "tls",
    .version = "1.0",
    .summary = "TLS and DTLS handshakes, SNI mapped by tls-sni.map",
    .state_size = sizeof(struct tls_state),
    .init = tls_init,
    .classify = tls_classify,
    .fini = tls_fini,
};

PM_CLASSIFIER_EXPORT(tls_desc)
