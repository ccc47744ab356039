/*
 * pmavro.h - Apache Avro encoding of aggregates, shared by the print output
 * and the broker outputs (kafka, amqp) as the convenience library
 * libpmavro.la (built only when configure found avro-c; the core never
 * links libavro).
 *
 * The schema is derived from the instance's JSON renderer: a probe row
 * with every aggregate primitive set is rendered once, and each key of the
 * JSON object becomes a field of the record "acct_data", in the same order,
 * with the type of its JSON value (quoted: "string"; integer: "long";
 * fraction: "double").  Every field is always present (the JSON output has
 * every key in every row), so no field is a union with null.  Values come
 * from the same JSON text the json output writes, so both carry the same
 * values field by field (docs/AVRO.md).
 *
 * Threads: an encoder belongs to one output instance and is used by one
 * thread at a time (the pipeline thread).  Not locked.
 */
#ifndef PMACCT_PMAVRO_H
#define PMACCT_PMAVRO_H

#include <stddef.h>
#include <stdint.h>

#include <pmacct/pm_host.h>

struct pm_avro;

/* An encoder for the rows of renderer r (a PM_FMT_JSON renderer, kept by
 * the caller for the encoder's life).  extra: name of a string field added
 * after the renderer's keys ("writer_id"), or NULL.  Returns 0, or -EINVAL
 * / -ENOMEM with the reason in err. */
int pm_avro_new(const struct pm_host *host, struct pm_render *r,
                const char *extra, struct pm_avro **out, char *err,
                size_t errlen);
void pm_avro_free(struct pm_avro *a);

/* The schema as JSON text (NUL-terminated, owned by the encoder). */
const char *pm_avro_schema_text(const struct pm_avro *a);

/* Write the schema (and a newline) to path, through a temp file + rename
 * so that readers never see half a schema.  Returns 0 or -errno with the
 * reason in err. */
int pm_avro_write_schema_file(const struct pm_avro *a, const char *path,
                              char *err, size_t errlen);

/* Number of fields of the record. */
unsigned pm_avro_nfields(const struct pm_avro *a);

/* Load row (and the extra field's value, may be NULL for "") into the
 * encoder's current datum.  Returns 0, -ENOMEM, or -EINVAL when the
 * renderer's text does not fit the schema (err says which field). */
int pm_avro_set_row(struct pm_avro *a, const struct pm_row *row,
                    const char *extra, char *err, size_t errlen);

/* Append the current datum: binary encoding, or Avro's JSON encoding on
 * one line followed by "\n".  Return 0 or -ENOMEM / -EIO. */
int pm_avro_append_binary(struct pm_avro *a, struct pm_buf *out);
int pm_avro_append_json(struct pm_avro *a, struct pm_buf *out);

/* Write an object container file (schema in the header, codec null) of the
 * datums in buf: a sequence of [u32 length (host order)][binary datum], as
 * built by pm_avro_append_framed.  fd: an open file descriptor (closed by
 * this call).  append: fd is an existing non-empty container file at path
 * (checked to hold the same schema); datums are added to it.  Returns 0 or
 * -errno with the reason in err. */
int pm_avro_append_framed(struct pm_avro *a, struct pm_buf *out);
int pm_avro_write_file(struct pm_avro *a, const char *path, int fd, int append,
                       const struct pm_buf *framed, char *err, size_t errlen);

#endif
