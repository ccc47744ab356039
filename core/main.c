/*
 * main.c - the multi-call daemon (pmacctd, nfacctd, sfacctd, uacctd,
 * pmtelemetryd, pmbgpd, pmbmpd): command line, configuration, module
 * loading, then the runtime (pipeline.c).  The name it is called by (or
 * --daemon NAME) picks the default capture module.
 *
 * Single-threaded until pmd_start(); the signal thread is created first so
 * that every later thread inherits the blocked signal mask.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "pmd.h"
#include "pmdata.h"

static const struct {
    const char *daemon, *title;
} titles[] = {
    {"pmacctd", "Promiscuous Mode Accounting Daemon"},
    {"nfacctd", "NetFlow Accounting Daemon"},
    {"sfacctd", "sFlow Accounting Daemon"},
    {"uacctd", "Linux NetFilter NFLOG Accounting Daemon"},
    {"pmtelemetryd", "Streaming Telemetry Daemon"},
    {"pmbgpd", "pmacct BGP Collector Daemon"},
    {"pmbmpd", "pmacct BMP Collector Daemon"},
};

static const char *title_of(const char *daemon)
{
    size_t i;
    for (i = 0; i < sizeof(titles) / sizeof(titles[0]); i++)
        if (!strcmp(titles[i].daemon, daemon))
            return titles[i].title;
    return "pmacct daemon";
}

enum {
    OPT_CHECK = 1000,
    OPT_LIST,
    OPT_DUMP,
    OPT_DAEMON,
};

static const struct option longopts[] = {
    {"check-config", no_argument, NULL, OPT_CHECK},
    {"list-modules", no_argument, NULL, OPT_LIST},
    {"dump-keys-markdown", no_argument, NULL, OPT_DUMP},
    {"daemon", required_argument, NULL, OPT_DAEMON},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

struct cli_map {
    const struct pm_option *o[128];
    const char *owner[128];
};

static void build_cli(const struct pmd *d, struct cli_map *cm)
{
    const struct pm_option *o;
    size_t i;
    memset(cm, 0, sizeof(*cm));
    for (i = 0; i <= d->mods.n; i++) {
        const struct pm_option *tab =
            i == 0 ? pmd_core_options : d->mods.m[i - 1].d->options;
        for (o = tab; o && o->name; o++) {
            unsigned c = (unsigned char)o->cli;
            if (!c || c >= 128 || strchr("fhVa", (int)c) || cm->o[c])
                continue;
            cm->o[c] = o;
            cm->owner[c] = i == 0 ? "core" : d->mods.m[i - 1].name;
        }
    }
}

static void usage(const struct pmd *d, const struct cli_map *cm, FILE *f)
{
    size_t i;
    unsigned c;
    fprintf(f, "%s, %s %s\n", title_of(d->daemon), d->daemon,
            PACKAGE_VERSION);
    fprintf(f,
            "Usage: %s [ -D | -d ] [ -c primitive [ , ... ] ] [ -P plugin [ "
            ", ... ] ] [ filter ]\n"
            "       %s [ -f config_file ]\n"
            "       %s [ -h ]\n\n",
            d->daemon, d->daemon, d->daemon);
    fprintf(f, "General options:\n"
               "  -h  \tShow this page\n"
               "  -V  \tShow version and modules and exit\n"
               "  -f  \tLoad configuration from the specified file\n"
               "  -a  \tPrint list of supported aggregation primitives\n"
               "  --check-config       validate and print the resolved "
               "pipelines\n"
               "  --list-modules       list the modules found and their "
               "keys\n"
               "  --dump-keys-markdown print every configuration key "
               "(docs/CONFIG-KEYS.md)\n"
               "  --daemon NAME        act as NAME (nfacctd, sfacctd, ...)\n");
    for (i = 0; i <= d->mods.n; i++) {
        const char *owner = i == 0 ? "core" : d->mods.m[i - 1].name;
        int header = 0;
        for (c = 1; c < 128; c++) {
            if (!cm->o[c] || strcmp(cm->owner[c], owner))
                continue;
            if (!header) {
                if (i)
                    fprintf(f, "\n%s module options:\n", owner);
                header = 1;
            }
            fprintf(f, "  -%c  \t%s (%s)\n", (int)c,
                    cm->o[c]->help ? cm->o[c]->help : "", cm->o[c]->name);
        }
    }
    fprintf(f, "\nModules are searched in: %s\n", modset_dirs_text(&d->mods));
}

static void version(const struct pmd *d)
{
    size_t i;
    printf("%s, %s %s\n\n", title_of(d->daemon), d->daemon, PACKAGE_VERSION);
    printf("Module ABI: %u.%u\nModule path: %s\nModules:\n",
           (unsigned)PM_ABI_MAJOR, (unsigned)PM_ABI_MINOR,
           modset_dirs_text(&d->mods));
    for (i = 0; i < d->mods.n; i++)
        printf("  %-14s %-9s %s\n", d->mods.m[i].name,
               kind_name(d->mods.m[i].d->kind),
               d->mods.m[i].d->version ? d->mods.m[i].d->version : "");
}

static void list_prims(const struct pmd *d)
{
    unsigned i, n;
    const struct conf_entry *e =
        conf_find(&d->conf, "aggregate_primitives", NULL);
    char err[512];
    if (e && e->value[0] && pmc_custom_load(e->value, err, sizeof(err)) < 0)
        fprintf(stderr, "%s: %s: key 'aggregate_primitives': %s\n",
                d->daemon, conf_where(e), err);
    n = pmc_prim_count();
    printf("%s, %s %s\n\n", title_of(d->daemon), d->daemon, PACKAGE_VERSION);
    for (i = 0; i < n; i++) {
        const struct pm_prim_info *p = pmc_prim_at(i);
        if (p)
            printf("%-32s : %-64s\n", p->name, p->desc ? p->desc : "");
    }
}

static const char *type_name(uint32_t t)
{
    switch (t) {
    case PM_OPT_STR: return "string";
    case PM_OPT_BOOL: return "bool";
    case PM_OPT_INT: return "int";
    case PM_OPT_UINT: return "uint";
    case PM_OPT_SIZE: return "size";
    case PM_OPT_DURATION: return "duration";
    case PM_OPT_ENUM: return "enum";
    case PM_OPT_PATH: return "path";
    case PM_OPT_LIST: return "list";
    default: return "?";
    }
}

static void list_modules(const struct pmd *d)
{
    size_t i;
    printf("module path: %s\n", modset_dirs_text(&d->mods));
    for (i = 0; i < d->mods.n; i++) {
        const struct pm_mod *m = &d->mods.m[i];
        const struct pm_option *o;
        int n = 0;
        printf("%s\n    file: %s\n    kind: %s\n    version: %s\n    ABI: "
               "%u.%u\n    summary: %s\n    keys:",
               m->name, m->path, kind_name(m->d->kind),
               m->d->version ? m->d->version : "",
               (unsigned)PM_ABI_MAJOR_OF(m->d->abi),
               (unsigned)PM_ABI_MINOR_OF(m->d->abi),
               m->d->summary ? m->d->summary : "");
        for (o = m->d->options; o && o->name; o++)
            printf("%s %s", n++ ? "," : "", o->name);
        printf("%s\n", n ? "" : " (none)");
    }
    for (i = 0; i < d->mods.nr; i++)
        printf("%s\n    file: %s\n    REFUSED: %s\n", d->mods.r[i].name,
               d->mods.r[i].path, d->mods.r[i].msg);
}

static void md_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else
            fputc(*s, f);
    }
}

static void md_table(FILE *f, const struct pm_option *tab)
{
    const struct pm_option *o;
    fprintf(f, "| key | type | default | switch | scope | description |\n"
               "|---|---|---|---|---|---|\n");
    for (o = tab; o && o->name; o++) {
        char flags[128] = "";
        fprintf(f, "| `%s` | %s", o->name, type_name(o->type));
        if (o->type == PM_OPT_ENUM && o->values) {
            fputs(" (", f);
            md_escape(f, o->values);
            fputs(")", f);
        }
        fprintf(f, " | ");
        if (o->defval && *o->defval) {
            fputs("`", f);
            md_escape(f, o->defval);
            fputs("`", f);
        }
        fprintf(f, " | ");
        if (o->cli)
            fprintf(f, "`-%c`", o->cli);
        if (o->flags & PM_OPTF_GLOBAL)
            strcat(flags, "global ");
        if (o->flags & PM_OPTF_NO_GLOBAL)
            strcat(flags, "per-instance ");
        if (o->flags & PM_OPTF_REQUIRED)
            strcat(flags, "required ");
        if (o->flags & PM_OPTF_SECRET)
            strcat(flags, "secret ");
        if (o->flags & PM_OPTF_MAP)
            strcat(flags, "map ");
        if (o->flags & PM_OPTF_TRIGGER)
            strcat(flags, "trigger ");
        if (o->flags & PM_OPTF_COMPAT)
            strcat(flags, "compat ");
        if (!flags[0])
            strcat(flags, "any ");
        flags[strlen(flags) - 1] = 0;
        fprintf(f, " | %s | ", flags);
        md_escape(f, o->help);
        if (o->type != PM_OPT_ENUM && o->values) {
            fputs(" (", f);
            md_escape(f, o->values);
            fputs(")", f);
        }
        fprintf(f, " |\n");
    }
}

static int cmp_mod(const void *a, const void *b)
{
    return strcmp((*(const struct pm_mod *const *)a)->name,
                  (*(const struct pm_mod *const *)b)->name);
}

static void dump_keys(const struct pmd *d)
{
    const struct pm_mod **ms = calloc(d->mods.n + 1, sizeof(*ms));
    size_t i, n = 0;
    FILE *f = stdout;
    fprintf(f,
            "# Configuration keys\n\n"
            "Generated by `pmacctd --dump-keys-markdown` (`make keys-doc`) "
            "from the option tables of the core and of every module built; "
            "do not edit.\n\n"
            "A key written `key[name]: value` applies to the instance "
            "`name` (a pipeline named by `plugins: type[name]` or "
            "`pipeline[name]`, or a capture `capture[name]`); written "
            "`key: value` it applies to every instance that does not set "
            "it. *global* keys cannot be set per instance, *per-instance* "
            "keys must be. A *trigger* key inserts its transform into the "
            "pipelines it is set for (or starts its service). *compat* keys "
            "are accepted for pmacct compatibility and ignored.\n\n"
            "Types: *duration* accepts `60`, `5m`, `1h`, `1d`, `1w`; *size* "
            "accepts `K`, `M`, `G` suffixes; *bool* `true`/`false`.\n\n"
            "File name templates (print_output_file and the like) expand "
            "strftime(3) sequences and the variables `$peer_src_ip`, "
            "`$tag`, `$tag2`, `$post_tag` (= `$tag`), `$post_tag2` (= "
            "`$tag2`), `$in_iface`, `$out_iface`; `$pre_tag_label` / "
            "`$label` expand to nothing for now.\n\n");
    fprintf(f, "## core\n\n");
    md_table(f, pmd_core_options);
    for (i = 0; ms && i < d->mods.n; i++)
        ms[n++] = &d->mods.m[i];
    if (n)
        qsort(ms, n, sizeof(*ms), cmp_mod);
    for (i = 0; i < n; i++) {
        fprintf(f, "\n## %s (%s)\n\n", ms[i]->name,
                kind_name(ms[i]->d->kind));
        if (ms[i]->d->summary)
            fprintf(f, "%s\n\n", ms[i]->d->summary);
        if (ms[i]->d->options && ms[i]->d->options->name)
            md_table(f, ms[i]->d->options);
        else
            fprintf(f, "No keys.\n");
    }
    free(ms);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int main(int argc, char **argv)
{
    static struct pmd d;
    struct cli_map cm;
    char err[1024], optstr[512];
    const char *daemon = base_name(argv[0]), *cfile = NULL;
    const struct conf_entry *md;
    int i, c, check = 0, listm = 0, dump = 0, help = 0, ver = 0, prims = 0;
    int rc = 1, started = 0;
    size_t o = 0;

    /* pre-scan: daemon name and config file decide which modules load */
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--daemon") && i + 1 < argc)
            daemon = argv[++i];
        else if (!strncmp(argv[i], "--daemon=", 9))
            daemon = argv[i] + 9;
        else if (!strcmp(argv[i], "-f") && i + 1 < argc)
            cfile = argv[++i];
        else if (!strncmp(argv[i], "-f", 2) && argv[i][2])
            cfile = argv[i] + 2;
        else if (!strcmp(argv[i], "--"))
            break;
    }
    log_init_stderr();
    pmd_init(&d, daemon);
    if (cfile && conf_parse_file(&d.conf, cfile, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    md = conf_find(&d.conf, "module_dir", NULL);
    if (modset_set_dirs(&d.mods, md ? md->value : NULL) < 0 ||
        modset_scan(&d.mods) < 0) {
        fprintf(stderr, "out of memory while loading modules\n");
        goto out;
    }

    build_cli(&d, &cm);
    optstr[o++] = '+';
    for (const char *s = "f:hVa"; *s; s++)
        optstr[o++] = *s;
    for (c = 1; c < 128; c++)
        if (cm.o[c]) {
            optstr[o++] = (char)c;
            if (cm.o[c]->type != PM_OPT_BOOL)
                optstr[o++] = ':';
        }
    optstr[o] = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, optstr, longopts, NULL)) != -1) {
        switch (c) {
        case OPT_CHECK: check = 1; break;
        case OPT_LIST: listm = 1; break;
        case OPT_DUMP: dump = 1; break;
        case OPT_DAEMON: break;
        case 'f': break;
        case 'h': help = 1; break;
        case 'V': ver = 1; break;
        case 'a': prims = 1; break;
        case '?':
            if (optopt && optopt < 128 && cm.o[optopt])
                fprintf(stderr, "%s: option -%c (%s) needs a value\n",
                        d.daemon, optopt, cm.o[optopt]->name);
            else if (optopt)
                fprintf(stderr,
                        "%s: unknown option -%c: see %s -h (switches of "
                        "modules not found in %s are not available)\n",
                        d.daemon, optopt, d.daemon,
                        modset_dirs_text(&d.mods));
            else
                fprintf(stderr, "%s: unknown option '%s': see %s -h\n",
                        d.daemon, argv[optind - 1], d.daemon);
            goto out;
        default:
            if (c > 0 && c < 128 && cm.o[c]) {
                const struct pm_option *op = cm.o[c];
                if (conf_add(&d.conf, op->name, NULL,
                             op->type == PM_OPT_BOOL ? "true" : optarg,
                             "command line", 0) < 0)
                    goto out;
            }
            break;
        }
    }
    if (optind < argc) {
        /* pmacct: trailing words are the capture filter */
        char filter[4096] = "";
        size_t fl = 0;
        struct cli_map dummy;
        int have = 0;
        (void)dummy;
        for (size_t k = 0; k < d.mods.n; k++)
            for (const struct pm_option *op = d.mods.m[k].d->options;
                 op && op->name; op++)
                if (!strcmp(op->name, "pcap_filter"))
                    have = 1;
        if (!have) {
            fprintf(stderr,
                    "%s: unexpected argument '%s' (a capture filter needs a "
                    "module declaring pcap_filter)\n",
                    d.daemon, argv[optind]);
            goto out;
        }
        for (; optind < argc; optind++)
            fl += (size_t)snprintf(filter + fl, sizeof(filter) - fl, "%s%s",
                                   fl ? " " : "", argv[optind]);
        if (conf_add(&d.conf, "pcap_filter", NULL, filter, "command line",
                     0) < 0)
            goto out;
    }

    if (help) {
        usage(&d, &cm, stdout);
        rc = 0;
        goto out;
    }
    if (ver) {
        version(&d);
        rc = 0;
        goto out;
    }
    if (prims) {
        list_prims(&d);
        rc = 0;
        goto out;
    }
    if (listm) {
        list_modules(&d);
        rc = 0;
        goto out;
    }
    if (dump) {
        dump_keys(&d);
        rc = 0;
        goto out;
    }

    if (pmd_resolve(&d) < 0)
        goto out;
    if (check) {
        pmd_print_plan(&d, stdout);
        rc = 0;
        goto out;
    }

    if (d.cc.files_umask) {
        char *end;
        unsigned long m = strtoul(d.cc.files_umask, &end, 8);
        if (*end || m > 0777) {
            fprintf(stderr, "%s: key 'files_umask': expected an octal mask "
                            "like 077, got '%s'\n",
                    conf_where(conf_find(&d.conf, "files_umask", NULL)),
                    d.cc.files_umask);
            goto out;
        }
        umask((mode_t)m);
    }
    if (d.cc.syslog && log_open_syslog(d.cc.syslog) < 0) {
        fprintf(stderr,
                "%s: key 'syslog': unknown facility '%s' (auth, mail, "
                "daemon, kern, user, local0..local7)\n",
                conf_where(conf_find(&d.conf, "syslog", NULL)), d.cc.syslog);
        goto out;
    }
    if (d.cc.logfile && (rc = log_open_file(d.cc.logfile)) < 0) {
        fprintf(stderr, "%s: key 'logfile': cannot open '%s': %s\n",
                conf_where(conf_find(&d.conf, "logfile", NULL)),
                d.cc.logfile, strerror(-rc));
        rc = 1;
        goto out;
    }
    rc = 1;
    if (d.cc.daemonize && pmd_daemonize() < 0) {
        fprintf(stderr, "%s: cannot daemonize: %s\n", d.daemon,
                strerror(errno));
        goto out;
    }
    if (d.cc.pidfile && pmd_write_pidfile(d.cc.pidfile) < 0) {
        log_core(PM_LOG_ERR, "cannot write pidfile '%s': %s", d.cc.pidfile,
                 strerror(errno));
        goto out;
    }
    log_core(PM_LOG_INFO, "%s %s starting (%zu capture%s, %zu pipeline%s, "
                          "%zu service%s)",
             d.daemon, PACKAGE_VERSION, d.ncaps, d.ncaps == 1 ? "" : "s",
             d.npls, d.npls == 1 ? "" : "s", d.nsvcs,
             d.nsvcs == 1 ? "" : "s");
    if (pmd_signals_start(&d) < 0) {
        log_core(PM_LOG_ERR, "cannot start the signal thread");
        goto out_pid;
    }
    if (pmd_start(&d) != 0) {
        rc = 1;
        goto out_sig;
    }
    started = 1;
    rc = pmd_wait(&d);
    if (d.cc.debug) {
        struct pm_buf b = {0};
        if (stats_render(&b, 1) == 0 && b.p) {
            char *line, *save = NULL;
            for (line = strtok_r(b.p, "\n", &save); line;
                 line = strtok_r(NULL, "\n", &save))
                log_core(PM_LOG_DEBUG, "%s", line);
        }
        free(b.p);
    }
    log_core(PM_LOG_INFO, "%s exiting (%d)", d.daemon, rc);
out_sig:
    pmd_signals_stop();
out_pid:
    if (d.cc.pidfile)
        pmd_remove_pidfile(d.cc.pidfile);
out:
    (void)started;
    pmd_free(&d);
    log_close();
    return rc;
}
