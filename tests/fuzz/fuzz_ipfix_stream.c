/*
 * fuzz_ipfix_stream.c - libFuzzer target over IPFIX over TCP/SCTP input
 * (modules/netflow/nf_stream.c): the input is one byte stream as a
 * connection delivers it.  Its first byte seeds the sizes of the pieces
 * it arrives in (1..256 bytes; messages straddle reads), each piece is
 * appended to a 64 KiB connection buffer and nf_stream_feed() frames and
 * decodes the whole messages, exactly as a connection does; a broken
 * stream ends the input as it closes the connection.
 *
 * Build: tests/fuzz/run-fuzzers.sh ipfix_stream (sources: sources_of).
 * Single-threaded; state is rebuilt for every input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fakehost.h"
#include "nf.h"

const struct pm_module_desc *pm_module_descriptor(void);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[65536];
    if (size < 1)
        return 0;
    const struct pm_module_desc *d = pm_module_descriptor();
    struct pm_instance *inst = fakehost_instance(
        "netflow", "fuzz", PM_KIND_CAPTURE, "src_host,dst_host");
    void *cfg = fakehost_config(d, inst, "nfacctd_pending_size", "64K",
                                "nfacctd_templates_max", "64", NULL);
    void *ctx = NULL;
    if (d->init(fakehost(), inst, cfg, &ctx) == 0) {
        struct nf_ctx *c = ctx;
        pm_ip_t peer;
        uint8_t a[4] = {192, 0, 2, 7};
        pm_ip_set4(&peer, a);
        pm_ts_t now = {1700000000, 0, 0};
        uint32_t seed = data[0] * 2654435761u + 1, len = 0;
        uint64_t msgs = 0;
        char err[160];
        size_t pos = 1;
        while (pos < size) {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            size_t n = 1 + seed % 256;
            if (n > size - pos)
                n = size - pos;
            if (n > sizeof(buf) - len)
                n = sizeof(buf) - len;
            memcpy(buf + len, data + pos, n);
            len += (uint32_t)n;
            pos += n;
            if (nf_stream_feed(c, buf, &len, &peer, &now, &msgs, err,
                               sizeof(err)) < 0)
                break;
            if (len == sizeof(buf))
                abort(); /* a full buffer must always hold a whole message */
        }
        nf_flush(c);
        d->fini(ctx);
    }
    fakehost_config_free(d, cfg);
    fakehost_reset();
    return 0;
}
