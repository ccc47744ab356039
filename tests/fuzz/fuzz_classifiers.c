/*
 * fuzz_classifiers.c - libFuzzer target for the payload parsers of the
 * classifiers (untrusted input): dns, tls/dtls (with SNI extraction), ssh,
 * bittorrent, and the .pat engine fed with the patterns of
 * classifiers/patterns.  Not part of the automake build; build and run by
 * hand from the top of the tree:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I sdk/include \
 *       -D_GNU_SOURCE -DPAT_DIR='"classifiers/patterns"' \
 *       tests/fuzz/fuzz_classifiers.c -o /tmp/fuzz_classifiers
 *   /tmp/fuzz_classifiers -max_len=1500 tests/fuzz/corpus/classifiers
 *
 * The first input byte selects the parser; the rest is the payload.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define pm_classifier_descriptor pm_cd_dns
#define get16 dns_get16
#include "../../classifiers/so/dns.c"
#undef pm_classifier_descriptor
#undef get16
#define pm_classifier_descriptor pm_cd_tls
#define get16 tls_get16
#include "../../classifiers/so/tls.c"
#undef pm_classifier_descriptor
#undef get16
#define pm_classifier_descriptor pm_cd_ssh
#include "../../classifiers/so/ssh.c"
#undef pm_classifier_descriptor
#define pm_classifier_descriptor pm_cd_bt
#include "../../classifiers/so/bittorrent.c"
#undef pm_classifier_descriptor
#define cmp_str regex_cmp_str
#define hexval regex_hexval
#include "../../classifiers/regex/regex.c"

#ifndef PAT_DIR
#define PAT_DIR "classifiers/patterns"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static void *re_engine;
    static size_t re_state_size;
    uint8_t *p;
    uint32_t len;
    char sni[256], cls[PM_CLS_NAME_MAX];

    if (size < 1)
        return 0;
    len = (uint32_t)(size - 1);
    p = malloc(len ? len : 1); /* exact size: ASan sees over-reads */
    if (!p)
        return 0;
    memcpy(p, data + 1, len);
    switch (data[0] % 6) {
    case 0:
        dns_looks_like(p, len);
        break;
    case 1:
        tls_parse(p, len, 0, sni, sizeof(sni));
        break;
    case 2:
        tls_parse(p, len, 1, sni, sizeof(sni));
        break;
    case 3:
        ssh_looks_like(p, len);
        break;
    case 4:
        bittorrent_looks_like(p, len, data[0] & 0x80);
        break;
    default: {
        struct pm_cls_pkt pk;
        void *st;
        if (!re_engine) {
            struct pm_cls_config c = {sizeof(c), 5, PAT_DIR, "", NULL, NULL};
            char err[256];
            if (regex_init(&c, &re_engine, &re_state_size, err, sizeof(err)))
                abort();
        }
        st = calloc(1, re_state_size);
        memset(&pk, 0, sizeof(pk));
        pk.payload = p;
        pk.len = len;
        pk.proto = 6;
        if (st) {
            regex_classify(re_engine, st, &pk, cls);
            regex_classify(re_engine, st, &pk, cls);
        }
        free(st);
    }
    }
    free(p);
    return 0;
}
