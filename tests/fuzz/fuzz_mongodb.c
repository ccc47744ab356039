/*
 * fuzz_mongodb.c - libFuzzer target over the mongodb output's JSON ->
 * BSON converter (modules/mongodb/mdoc.c, mdoc_from_json) and its
 * mongo_indexes_file line parser (mdoc_index_line).  The converter reads
 * the renderer's JSON objects, also as reloaded from spool files on disk;
 * every input must give 0 with a valid BSON document, or -EINVAL with a
 * reason, never a crash or a leak.
 *
 * Build (tests/fuzz/run-fuzzers.sh does this; S = source tree):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I$S \
 *     $(pkg-config --cflags libbson-1.0) $S/tests/fuzz/fuzz_mongodb.c \
 *     $S/modules/mongodb/mdoc.c $(pkg-config --libs libbson-1.0) \
 *     -o /tmp/fuzz_mongodb
 *   /tmp/fuzz_mongodb -max_len=4096 $S/tests/fuzz/corpus/mongodb
 *
 * Single-threaded; no state kept between inputs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "modules/mongodb/mdoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[200], name[256];
    bson_t doc = BSON_INITIALIZER;
    int rc = mdoc_from_json((const char *)data, size, &doc, err, sizeof(err));
    if (rc != 0 && rc != -EINVAL)
        abort();
    if (rc == 0 && !bson_validate(&doc, BSON_VALIDATE_UTF8, NULL))
        abort();
    bson_destroy(&doc);

    /* the same bytes as a line of mongo_indexes_file */
    char *line = malloc(size + 1);
    if (!line)
        return 0;
    memcpy(line, data, size);
    line[size] = 0;
    bson_t key = BSON_INITIALIZER;
    rc = mdoc_index_line(line, &key, name, sizeof(name), err, sizeof(err));
    if (rc < -EINVAL || rc > 1 || (rc == 1 && !strlen(name)))
        abort();
    bson_destroy(&key);
    free(line);
    return 0;
}
