/*
 * pm_query.h - the query protocol between the `pmacct` client and a
 * queryable output (the memory module): "PMQ", a small versioned text
 * protocol over a UNIX stream socket (imt_path).  Nothing here is shared
 * between threads: these are constants only.  Full description:
 * docs/client-protocol.md.
 *
 * Request (client -> daemon), UTF-8/ASCII lines ending in "\n":
 *
 *     PMQ/1
 *     op: show
 *     format: csv
 *     <key>: <value>
 *     ...
 *     <empty line>
 *
 * Keys are lower case; unknown keys are ignored by the daemon (so a newer
 * client may send optional hints), but an unknown `op` is an error.  The
 * `match` key may repeat: one line per query (pmacct's ';'-separated -M/-N
 * terms), values separated by ',' in the order of `primitives`.
 *
 * Response (daemon -> client):
 *
 *     PMQ/1 OK\n          then the body until the daemon closes
 *     PMQ/1 ERR <reason>\n (no body)
 *
 * The body is exactly the text the client prints on stdout.  A daemon
 * that receives a request of another major version answers
 * "PMQ/<its version> ERR version ..." so the client can say which side to
 * upgrade.
 */
#ifndef PMACCT_PM_QUERY_H
#define PMACCT_PM_QUERY_H

#ifdef __cplusplus
extern "C" {
#endif

#define PMQ_VERSION 1
#define PMQ_PREFIX "PMQ/"       /* followed by the decimal version */
#define PMQ_HELLO "PMQ/1"       /* first request line of this version */
#define PMQ_DEFAULT_PATH "/tmp/collect.pipe"
#define PMQ_MAX_REQUEST (1u << 20) /* bytes a daemon accepts per request */
#define PMQ_MAX_LINE 65536u         /* bytes per request line */

/* Request keys. */
#define PMQ_K_OP "op"                 /* one of PMQ_OP_* (required) */
#define PMQ_K_FORMAT "format"         /* PMQ_FMT_* (show, match) */
#define PMQ_K_SEPARATOR "separator"   /* CSV separator (pmacct -E) */
#define PMQ_K_PRIMITIVES "primitives" /* "src_host,dst_port" (pmacct -c) */
#define PMQ_K_MATCH "match"           /* "10.0.0.1,80"; repeatable */
#define PMQ_K_SORT "sort"             /* bytes|packets|flows (pmacct -T) */
#define PMQ_K_TOP "top"               /* N > 0: only the first N rows */
#define PMQ_K_COUNTERS "counters"     /* bytes|packets|flows|all (-n) */
#define PMQ_K_SUM "sum"               /* 1: one total line (pmacct -S) */
#define PMQ_K_RESET "reset"           /* 1: zero matched rows (-r) */
#define PMQ_K_CLEAR "clear"           /* 1: clear the table after (-e) */
#define PMQ_K_ALL_FIELDS "all-fields" /* 1: every column (pmacct -a) */
#define PMQ_K_NUM_PROTOS "num-protos" /* 1: protocols as numbers (-u) */
#define PMQ_K_TS_EPOCH "ts-epoch"     /* 1: timestamps since epoch (-I) */
#define PMQ_K_UTC "utc"               /* 1: timestamps in UTC (-0) */
#define PMQ_K_LOCK "lock"             /* 1: pmacct -l (always locked) */
#define PMQ_K_CLIENT "client"         /* free text, for logs */

/* Operations. */
#define PMQ_OP_SHOW "show"          /* whole table (pmacct -s) */
#define PMQ_OP_MATCH "match"        /* matching rows as a table (-M) */
#define PMQ_OP_COUNTERS "counters"  /* matching counters only (-N) */
#define PMQ_OP_CLEAR "clear"        /* empty the table (pmacct -e) */
#define PMQ_OP_STATUS "status"      /* table status (pmacct -t) */
#define PMQ_OP_SINCE "since"        /* seconds since last clear (-i) */
#define PMQ_OP_CLASSIFIERS "classifiers" /* pmacct -C */
#define PMQ_OP_CUSTOM "custom"      /* custom primitives (pmacct -U) */
#define PMQ_OP_STATS "stats"        /* daemon counters (--stats) */
#define PMQ_OP_PING "ping"          /* empty body: is anybody there */

/* Formats. */
#define PMQ_FMT_FORMATTED "formatted"
#define PMQ_FMT_CSV "csv"
#define PMQ_FMT_JSON "json"
#define PMQ_FMT_EVENT_FORMATTED "event_formatted"
#define PMQ_FMT_EVENT_CSV "event_csv"

/* Status words of the response line. */
#define PMQ_OK "OK"
#define PMQ_ERR "ERR"

#ifdef __cplusplus
}
#endif
#endif /* PMACCT_PM_QUERY_H */
