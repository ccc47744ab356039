/*
 * mdoc.h - pmacct's JSON aggregate (one flat object, as rendered for the
 * broker outputs) turned into a typed BSON document for the mongodb
 * output.  Pure data code: no I/O, no threads, no state.
 */
#ifndef PMACCT_MONGODB_MDOC_H
#define PMACCT_MONGODB_MDOC_H

#include <stddef.h>

#include <bson/bson.h>

/* Append the members of the JSON object json[0..len) to doc (initialised
 * by the caller) with these BSON types:
 *   packets, bytes, flows, tag, tag2        int64
 *   other integers                          int32 (int64 when larger)
 *   numbers with a fraction or exponent     double
 *   stamp_* and timestamp_* values          UTC datetime, from pmacct's
 *       "YYYY-MM-DD HH:MM:SS[.uuuuuu]" (local time) or "sec[.usec]"
 *       (timestamps_since_epoch); the unset "0000-00-00 ..." gives null
 *   strings (addresses, MACs, names...)      UTF-8 string
 *   true/false/null, arrays, objects         as such (depth <= 16)
 * event_type and writer_id (message metadata) are left out.  Returns 0, or
 * -EINVAL with a reason naming the byte offset in err. */
int mdoc_from_json(const char *json, size_t len, bson_t *doc, char *err,
                   size_t errlen);

/* Parse a line of mongo_indexes_file ("src_host, dst_host"): append
 * {field: 1, ...} to key and the index name MongoDB would give it
 * ("src_host_1_dst_host_1") to name.  Returns 1 for an index, 0 for a
 * blank or comment ('!' or '#') line, -EINVAL with err for a bad field. */
int mdoc_index_line(const char *line, bson_t *key, char *name, size_t namelen,
                    char *err, size_t errlen);

#endif
