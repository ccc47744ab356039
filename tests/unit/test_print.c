/*
 * test_print.c - unit tests of the print output with the fake host.  The
 * captures of tests/data/print (small.pcap, span.pcap) are decoded with the
 * host's packet decoder, fed to the module, and what it writes is compared
 * with the goldens captured from pmacct 1.7.7 (gen_goldens.sh): header and
 * markers in place, rows sorted (pmacct writes them in hash order), the
 * writer PID and stamp_updated normalised.  Single-threaded.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <pmacct/pm_host.h>
#include <pmacct/pm_module.h>

#include "fakehost.h"

const struct pm_module_desc *pm_module_descriptor(void);

#ifndef PM_TEST_DATA
#define PM_TEST_DATA "tests/data/print"
#endif

#define AGG "src_host,dst_host,proto,src_port,dst_port"

/* ---- small helpers ------------------------------------------------------ */

static char *slurp(const char *path, size_t *lenp)
{
    FILE *f = fopen(path, "rb");
    char *p = NULL;
    size_t len = 0, cap = 0, n;
    if (!f)
        return NULL;
    do {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            p = realloc(p, cap + 1);
            assert_non_null(p);
        }
        n = fread(p + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    p[len] = 0;
    if (lenp)
        *lenp = len;
    return p;
}

struct lines {
    char **v;
    size_t n;
};

static void lines_split(char *text, struct lines *l)
{
    l->v = NULL;
    l->n = 0;
    for (char *s = text; *s;) {
        char *e = strchr(s, '\n');
        if (e)
            *e = 0;
        l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
        l->v[l->n++] = s;
        if (!e)
            break;
        s = e + 1;
    }
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replace our PID by "PID" and the stamp_updated value by "STAMP". */
static char *normalise(const char *in)
{
    char pid[32];
    size_t cap = strlen(in) * 2 + 64, o = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    for (const char *s = in; *s;) {
        if (!strncmp(s, "\"stamp_updated\": \"", 18)) {
            const char *e = strchr(s + 18, '"');
            o += (size_t)sprintf(out + o, "\"stamp_updated\": \"STAMP\"");
            s = e ? e + 1 : s + strlen(s);
            continue;
        }
        if ((s[0] == '(' || s[0] == '/') && !strncmp(s + 1, pid, strlen(pid)) &&
            (s[1 + strlen(pid)] == ')' || s[1 + strlen(pid)] == '"')) {
            out[o++] = s[0];
            o += (size_t)sprintf(out + o, "PID");
            s += 1 + strlen(pid);
            continue;
        }
        out[o++] = *s++;
    }
    out[o] = 0;
    return out;
}

static int fixed_line(const char *l, int json, int *seen_header)
{
    if (!strncmp(l, "--START", 7) || !strncmp(l, "--END", 5) ||
        strstr(l, "\"purge_init\"") || strstr(l, "\"purge_close\""))
        return 1;
    if (!json && !*seen_header) {
        *seen_header = 1;
        return 1;
    }
    return 0;
}

/* Compare output text with a golden: fixed lines in place, rows sorted. */
static void compare_golden(const char *ours_raw, const char *golden_name)
{
    char path[PATH_MAX];
    struct lines a, b;
    char *g, *o;
    int json = strstr(golden_name, "json") != NULL;
    int ha = 0, hb = 0;

    snprintf(path, sizeof(path), "%s/%s", PM_TEST_DATA, golden_name);
    g = slurp(path, NULL);
    if (!g)
        fail_msg("cannot read golden %s", path);
    o = normalise(ours_raw);
    lines_split(g, &a);
    lines_split(o, &b);
    if (a.n != b.n)
        fail_msg("%s: %zu lines expected, got %zu:\n%s", golden_name, a.n, b.n,
                 ours_raw);
    /* fixed lines must match in place; then the rest as sorted sets */
    char **ra = calloc(a.n + 1, sizeof(char *)),
         **rb = calloc(b.n + 1, sizeof(char *));
    size_t na = 0, nb = 0;
    for (size_t i = 0; i < a.n; i++) {
        int fa = fixed_line(a.v[i], json, &ha);
        int fb = fixed_line(b.v[i], json, &hb);
        if (fa || fb) {
            if (strcmp(a.v[i], b.v[i]))
                fail_msg("%s line %zu:\n expected: '%s'\n got:      '%s'",
                         golden_name, i + 1, a.v[i], b.v[i]);
            continue;
        }
        ra[na++] = a.v[i];
        rb[nb++] = b.v[i];
    }
    qsort(ra, na, sizeof(char *), cmpstr);
    qsort(rb, nb, sizeof(char *), cmpstr);
    for (size_t i = 0; i < na; i++)
        if (strcmp(ra[i], rb[i]))
            fail_msg("%s: rows differ (sorted):\n expected: '%s'\n got:      "
                     "'%s'\nfull output:\n%s",
                     golden_name, ra[i], rb[i], ours_raw);
    free(ra);
    free(rb);
    free(a.v);
    free(b.v);
    free(g);
    free(o);
}

/* ---- feeding a capture ----------------------------------------------------
 */

static uint32_t rd32(const uint8_t *p, int swap)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}

/* Decode every packet of a pcap file into batches handed to the module. */
static void feed_pcap(const struct pm_module_desc *d, void *ctx,
                      const char *name)
{
    char path[PATH_MAX];
    size_t len, off = 24;
    const struct pm_host *h = fakehost();
    uint8_t *p;
    int swap, dlt;
    struct pm_batch *b = fakehost_batch(64);

    snprintf(path, sizeof(path), "%s/%s", PM_TEST_DATA, name);
    p = (uint8_t *)slurp(path, &len);
    if (!p)
        fail_msg("cannot read %s", path);
    assert_true(len >= 24);
    swap = rd32(p, 0) == 0xd4c3b2a1;
    dlt = (int)rd32(p + 20, swap);
    assert_non_null(b);
    while (off + 16 <= len) {
        uint32_t sec = rd32(p + off, swap), usec = rd32(p + off + 4, swap);
        uint32_t caplen = rd32(p + off + 8, swap),
                 wlen = rd32(p + off + 12, swap);
        off += 16;
        assert_true(off + caplen <= len);
        if (b->n == b->cap) {
            assert_true(d->process(ctx, b) >= 0);
            b->n = 0;
            b->ndropped = 0;
            b->arena_len = 0;
            memset(b->drop, 0, (b->cap + 63) / 64 * 8);
        }
        struct pm_rec *r = pm_batch_rec(b, b->n);
        memset(r, 0, b->rec_size);
        if (h->decode_packet(r, dlt, p + off, caplen, wlen, PM_DECF_NONE) ==
            PM_DEC_OK) {
            r->ts_arrival.sec = sec;
            r->ts_arrival.usec = usec;
            r->ts_start = r->ts_arrival;
            b->n++;
        }
        off += caplen;
    }
    if (b->n)
        assert_true(d->process(ctx, b) >= 0);
    free(p);
}

/* ---- one module instance --------------------------------------------------
 */

struct env {
    char dir[64];
    const struct pm_module_desc *d;
    struct pm_instance *inst;
    void *config;
    void *ctx;
};

/* Start an instance with NULL-terminated key/value pairs; returns init's rc. */
static int env_start(struct env *e, const char *agg, ...)
{
    const char *kv[64];
    int n = 0, rc;
    va_list ap;
    va_start(ap, agg);
    while (n < 62 && (kv[n] = va_arg(ap, const char *)) != NULL) {
        kv[n + 1] = va_arg(ap, const char *);
        n += 2;
    }
    va_end(ap);
    kv[n] = NULL;

    fakehost_reset();
    fakehost_conf("aggregate", agg);
    e->d = pm_module_descriptor();
    e->inst = fakehost_instance("print", "default", PM_KIND_OUTPUT, agg);
    assert_non_null(e->inst);
    /* fakehost_config takes the pairs as varargs: pass up to 10 */
#define KV(i) (i < n ? kv[i] : NULL)
    e->config = fakehost_config(e->d, e->inst, KV(0), KV(1), KV(2), KV(3),
                                KV(4), KV(5), KV(6), KV(7), KV(8), KV(9),
                                KV(10), KV(11), KV(12), KV(13), NULL);
#undef KV
    assert_true(n <= 14);
    if (!e->config)
        return -EINVAL;
    e->ctx = NULL;
    rc = e->d->init(fakehost(), e->inst, e->config, &e->ctx);
    return rc;
}

static void env_stop(struct env *e)
{
    if (e->ctx)
        e->d->fini(e->ctx);
    e->ctx = NULL;
    if (e->config)
        fakehost_config_free(e->d, e->config);
    e->config = NULL;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    strcpy(e->dir, "/tmp/test_print.XXXXXX");
    if (!mkdtemp(e->dir))
        return -1;
    setenv("TZ", "UTC", 1);
    tzset();
    *state = e;
    return 0;
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[PATH_MAX];
    if (!d)
        return;
    while ((de = readdir(d))) {
        struct stat st;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            rm_rf(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int teardown(void **state)
{
    struct env *e = *state;
    env_stop(e);
    rm_rf(e->dir);
    free(e);
    return 0;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    if (!d)
        return -1;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Run one golden case writing to a file. */
static void golden_case(struct env *e, const char *golden, const char *k1,
                        const char *v1, const char *k2, const char *v2,
                        const char *k3, const char *v3)
{
    char out[128];
    snprintf(out, sizeof(out), "%s/%s.out", e->dir, golden);
    assert_int_equal(env_start(e, AGG, "print_output_file", out, k1, v1, k2, v2,
                               k3, v3, NULL),
                     0);
    feed_pcap(e->d, e->ctx, "small.pcap");
    assert_int_equal(e->d->flush(e->ctx, PM_FLUSH_FINAL), 0);
    char *text = slurp(out, NULL);
    if (!text)
        fail_msg("%s: no output file %s; log:\n%s", golden, out,
                 fakehost_log_text());
    compare_golden(text, golden);
    free(text);
    env_stop(e);
}

/* ---- tests ----------------------------------------------------------------
 */

static void test_formatted_stdout(void **state)
{
    struct env *e = *state;
    char out[128];
    int saved, fd;

    snprintf(out, sizeof(out), "%s/stdout", e->dir);
    assert_int_equal(env_start(e, AGG, "print_output", "formatted", NULL), 0);
    feed_pcap(e->d, e->ctx, "small.pcap");
    fflush(stdout);
    saved = dup(1);
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 1);
    close(fd);
    int rc = e->d->flush(e->ctx, PM_FLUSH_FINAL);
    /* a second, empty purge writes nothing (as pmacct's final purge) */
    int rc2 = e->d->flush(e->ctx, PM_FLUSH_FINAL);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    assert_int_equal(rc, 0);
    assert_int_equal(rc2, 0);
    char *text = slurp(out, NULL);
    assert_non_null(text);
    compare_golden(text, "formatted.golden");
    free(text);
    assert_int_equal(fakehost_counter_value("purges"), 2);
    assert_int_equal(fakehost_counter_value("rows_written"), 9);
}

static void test_csv(void **state)
{
    golden_case(*state, "csv.golden", "print_output", "csv", NULL, NULL, NULL,
                NULL);
}

static void test_json(void **state)
{
    golden_case(*state, "json.golden", "print_output", "json", NULL, NULL, NULL,
                NULL);
}

static void test_event_formatted(void **state)
{
    golden_case(*state, "event_formatted.golden", "print_output",
                "event_formatted", NULL, NULL, NULL, NULL);
}

static void test_event_csv(void **state)
{
    golden_case(*state, "event_csv.golden", "print_output", "event_csv", NULL,
                NULL, NULL, NULL);
}

static void test_markers(void **state)
{
    struct env *e = *state;
    golden_case(e, "csv_markers.golden", "print_output", "csv", "print_markers",
                "true", NULL, NULL);
    golden_case(e, "formatted_markers.golden", "print_output", "formatted",
                "print_markers", "true", NULL, NULL);
    golden_case(e, "json_markers.golden", "print_output", "json",
                "print_markers", "true", NULL, NULL);
}

static void test_num_protos_separator(void **state)
{
    golden_case(*state, "csv_num_protos_tab.golden", "print_output", "csv",
                "print_num_protos", "true", "print_output_separator", "\\t");
}

static void test_preprocess(void **state)
{
    struct env *e = *state;
    golden_case(e, "json_minp.golden", "print_output", "json",
                "print_preprocess", "minp=4", NULL, NULL);
    assert_int_equal(fakehost_counter_value("preprocess_filtered"), 6);
}

/* print_history: one file per time bin named by the bin start, markers
 * with cumulative purged_entries, latest symlink to the greatest name. */
static void test_history_files(void **state)
{
    struct env *e = *state;
    char tmpl[128], latest[128], p[256], g[128], target[256];
    static const char *const bins[] = {"2213", "2214", "2215", "2216", "2217"};
    ssize_t n;

    snprintf(tmpl, sizeof(tmpl), "%s/h/out-%%Y%%m%%d-%%H%%M.json", e->dir);
    snprintf(latest, sizeof(latest), "%s/h/latest", e->dir);
    assert_int_equal(env_start(e, AGG, "print_output", "json", "print_markers",
                               "true", "print_history", "1m",
                               "print_output_file", tmpl, "print_latest_file",
                               latest, NULL),
                     0);
    feed_pcap(e->d, e->ctx, "span.pcap");
    assert_int_equal(e->d->flush(e->ctx, PM_FLUSH_FINAL), 0);
    for (size_t i = 0; i < 5; i++) {
        snprintf(p, sizeof(p), "%s/h/out-20231114-%s.json", e->dir, bins[i]);
        snprintf(g, sizeof(g), "history-out-20231114-%s.json.golden", bins[i]);
        char *text = slurp(p, NULL);
        if (!text)
            fail_msg("missing %s; log:\n%s", p, fakehost_log_text());
        compare_golden(text, g);
        free(text);
    }
    n = readlink(latest, target, sizeof(target) - 1);
    assert_true(n > 0);
    target[n] = 0;
    snprintf(p, sizeof(p), "%s/h/out-20231114-2217.json", e->dir);
    assert_string_equal(target, p);
    /* no temp files left behind: 5 files + the link */
    snprintf(p, sizeof(p), "%s/h", e->dir);
    assert_int_equal(count_files(p), 6);
}

/* Appending: the header is written once, markers every purge. */
static void test_append(void **state)
{
    struct env *e = *state;
    char out[128];
    snprintf(out, sizeof(out), "%s/append.csv", e->dir);
    assert_int_equal(env_start(e, AGG, "print_output", "csv",
                               "print_output_file", out,
                               "print_output_file_append", "true",
                               "print_markers", "true", NULL),
                     0);
    feed_pcap(e->d, e->ctx, "small.pcap");
    assert_int_equal(e->d->flush(e->ctx, PM_FLUSH_FINAL), 0);
    feed_pcap(e->d, e->ctx, "small.pcap");
    assert_int_equal(e->d->flush(e->ctx, PM_FLUSH_FINAL), 0);
    char *text = slurp(out, NULL);
    assert_non_null(text);
    int starts = 0, headers = 0, lines = 0;
    for (char *s = text; (s = strchr(s, '\n')); s++)
        lines++;
    for (char *s = text; (s = strstr(s, "--START")); s++)
        starts++;
    for (char *s = text; (s = strstr(s, "SRC_IP,")); s++)
        headers++;
    assert_int_equal(starts, 2);
    assert_int_equal(headers, 1);
    assert_int_equal(lines, 2 + 2 + 1 + 18);
    free(text);
}

/* Overwriting: the second purge replaces the file. */
static void test_overwrite(void **state)
{
    struct env *e = *state;
    char out[128];
    snprintf(out, sizeof(out), "%s/over.csv", e->dir);
    assert_int_equal(env_start(e, AGG, "print_output", "csv",
                               "print_output_file", out, NULL),
                     0);
    feed_pcap(e->d, e->ctx, "small.pcap");
    assert_int_equal(e->d->flush(e->ctx, PM_FLUSH_FINAL), 0);
    feed_pcap(e->d, e->ctx, "span.pcap");
    assert_int_equal(e->d->flush(e->ctx, PM_FLUSH_FINAL), 0);
    char *text = slurp(out, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "10.1.0.1"));
    assert_null(strstr(text, "192.168.1.1"));
    free(text);
    assert_int_equal(count_files(e->dir), 1);
}

/* Purges are timed by tick(): nothing before the deadline, all after. */
static void test_refresh_tick(void **state)
{
    struct env *e = *state;
    char out[128];
    pm_ts_t now;
    struct stat st;
    snprintf(out, sizeof(out), "%s/tick.csv", e->dir);
    assert_int_equal(env_start(e, AGG, "print_output", "csv",
                               "print_output_file", out, "print_refresh_time",
                               "30", NULL),
                     0);
    feed_pcap(e->d, e->ctx, "small.pcap");
    fakehost()->now(e->inst, &now);
    assert_int_equal(e->d->tick(e->ctx, &now), 0);
    assert_int_equal(stat(out, &st), -1);
    now.sec += 31;
    assert_int_equal(e->d->tick(e->ctx, &now), 0);
    assert_int_equal(stat(out, &st), 0);
    assert_int_equal(fakehost_counter_value("purges"), 1);
    assert_int_equal(fakehost_counter_value("rows_written"), 9);
    /* the next deadline is one refresh later */
    now.sec += 1;
    assert_int_equal(e->d->tick(e->ctx, &now), 0);
    assert_int_equal(fakehost_counter_value("purges"), 1);
    now.sec += 30;
    assert_int_equal(e->d->tick(e->ctx, &now), 0);
    assert_int_equal(fakehost_counter_value("purges"), 2);
}

/* print_write_empty_file: a purge with no data still writes the file. */
static void test_empty_file(void **state)
{
    struct env *e = *state;
    char out[128];
    snprintf(out, sizeof(out), "%s/sub/dir/empty.csv", e->dir);
    assert_int_equal(env_start(e, AGG, "print_output", "csv",
                               "print_output_file", out, NULL),
                     0);
    assert_int_equal(e->d->flush(e->ctx, PM_FLUSH_FINAL), 0);
    assert_int_equal(access(out, F_OK), -1);
    env_stop(e);
    assert_int_equal(env_start(e, AGG, "print_output", "csv",
                               "print_output_file", out,
                               "print_write_empty_file", "true", NULL),
                     0);
    assert_int_equal(e->d->flush(e->ctx, PM_FLUSH_FINAL), 0);
    char *text = slurp(out, NULL);
    assert_non_null(text);
    assert_string_equal(text,
                        "SRC_IP,DST_IP,SRC_PORT,DST_PORT,PROTOCOL,PACKETS,"
                        "BYTES\n");
    free(text);
}

/* Bad values: init fails with a clear message. */
static void test_bad_config(void **state)
{
    struct env *e = *state;
    static const char *const cases[][3] = {
        {"print_output", "custom", "not supported"},
        {"print_output_separator", "ab", "one character"},
        {"print_history", "5x", "print_history"},
        {"print_history_roundoff", "q", "print_history_roundoff"},
        {"print_preprocess", "minq=3", "unknown check"},
        {"print_preprocess", "fss=3", "not supported"},
        {"print_latest_file", "/tmp/x-%Y", "time-based"},
        {"print_refresh_time", "0", "print_refresh_time"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = env_start(e, AGG, cases[i][0], cases[i][1], NULL);
        assert_true(rc < 0);
        if (!strstr(fakehost_log_text(), cases[i][2]))
            fail_msg("%s: %s: expected '%s' in the log:\n%s", cases[i][0],
                     cases[i][1], cases[i][2], fakehost_log_text());
        e->ctx = NULL;
        env_stop(e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_formatted_stdout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_csv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_formatted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_csv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_markers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_num_protos_separator, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_preprocess, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overwrite, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_tick, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
