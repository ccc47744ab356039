/*
 * classify.h - internals of the classify module shared by its files and its
 * unit test (not installed).
 */
#ifndef PMACCT_CLASSIFY_H
#define PMACCT_CLASSIFY_H

#include <pmacct/pm_classifier.h>
#include <pmacct/pm_record.h>

struct classify_ctx;

/* The built-in engine reading the .pat files of the classifiers directory
 * (classifiers/regex/regex.c). */
const struct pm_classifier *classify_regex_descriptor(void);

/* Check a classifier descriptor; fills err and returns -EINVAL when it must
 * be refused. */
int classify_check_desc(const struct pm_classifier *d, const char *path,
                        char *err, size_t errlen);

/* Look at one record; returns 1 with *class_out = class id when its stream
 * is classified, else 0. */
int classify_packet(struct classify_ctx *ctx, struct pm_rec *r,
                    uint32_t *class_out);
const char *classify_class_name(const struct classify_ctx *ctx, uint32_t id);
uint32_t classify_table_used(const struct classify_ctx *ctx);

#endif
