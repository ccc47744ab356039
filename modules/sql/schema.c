/*
 * schema.c - pmacct's SQL table schemas as columns: which column each
 * primitive goes to for sql_table_version 1..9 and sql_table_type bgp (as
 * the schema scripts Debian ships with pmacct 1.7.7 define them, see
 * docs/sql/), the default values of columns not aggregated, and the text
 * of the UPDATE/INSERT statements (values always as placeholders).
 * Pure functions, no shared state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sql.h"

/* One key column of a schema: its name and the primitives that fill it
 * (first aggregated one wins). */
struct colspec {
    const char *name;
    int prims[3];
    unsigned min_v, max_v; /* versions having it (bgp: ignored) */
};

#define NP (-1)

/* original tables v1..v9, in schema order */
static const struct colspec orig_cols[] = {
    {"agent_id", {PM_P_TAG, NP, NP}, 2, 8},
    {"tag", {PM_P_TAG, NP, NP}, 9, 9},
    {"class_id", {PM_P_CLASS, NP, NP}, 5, 9},
    {"mac_src", {PM_P_SRC_MAC, NP, NP}, 1, 9},
    {"mac_dst", {PM_P_DST_MAC, NP, NP}, 1, 9},
    {"vlan", {PM_P_VLAN, NP, NP}, 2, 9},
    {"as_src", {PM_P_SRC_AS, NP, NP}, 6, 9},
    {"as_dst", {PM_P_DST_AS, NP, NP}, 6, 9},
    /* before v6 AS numbers share the address columns */
    {"ip_src", {PM_P_SRC_HOST, PM_P_SRC_NET, PM_P_SRC_AS}, 1, 5},
    {"ip_dst", {PM_P_DST_HOST, PM_P_DST_NET, PM_P_DST_AS}, 1, 5},
    {"ip_src", {PM_P_SRC_HOST, PM_P_SRC_NET, NP}, 6, 9},
    {"ip_dst", {PM_P_DST_HOST, PM_P_DST_NET, NP}, 6, 9},
    {"src_port", {PM_P_SRC_PORT, NP, NP}, 1, 7},
    {"dst_port", {PM_P_DST_PORT, NP, NP}, 1, 7},
    {"port_src", {PM_P_SRC_PORT, NP, NP}, 8, 9},
    {"port_dst", {PM_P_DST_PORT, NP, NP}, 8, 9},
    {"tcp_flags", {PM_P_TCPFLAGS, NP, NP}, 7, 9},
    {"ip_proto", {PM_P_PROTO, NP, NP}, 1, 9},
    {"tos", {PM_P_TOS, NP, NP}, 3, 9},
};

static const struct colspec bgp_cols[] = {
    {"agent_id", {PM_P_TAG, NP, NP}, 1, 9},
    {"as_src", {PM_P_SRC_AS, NP, NP}, 1, 9},
    {"as_dst", {PM_P_DST_AS, NP, NP}, 1, 9},
    {"peer_as_src", {PM_P_PEER_SRC_AS, NP, NP}, 1, 9},
    {"peer_as_dst", {PM_P_PEER_DST_AS, NP, NP}, 1, 9},
    {"peer_ip_src", {PM_P_PEER_SRC_IP, NP, NP}, 1, 9},
    {"peer_ip_dst", {PM_P_PEER_DST_IP, NP, NP}, 1, 9},
    {"comms", {PM_P_STD_COMM, NP, NP}, 1, 9},
    {"as_path", {PM_P_AS_PATH, NP, NP}, 1, 9},
    {"local_pref", {PM_P_LOCAL_PREF, NP, NP}, 1, 9},
    {"med", {PM_P_MED, NP, NP}, 1, 9},
};

void sql_default_table(unsigned version, int bgp, char *out, size_t outlen)
{
    if (bgp)
        snprintf(out, outlen, "acct_bgp");
    else if (version <= 1)
        snprintf(out, outlen, "acct");
    else
        snprintf(out, outlen, "acct_v%u", version);
}

static int in_agg(const struct pm_instance *inst, int id)
{
    return id >= 0 && pm_pset_has(&inst->aggregate_set, (unsigned)id);
}

/* Column name of an aggregated primitive with sql_optimize_clauses. */
static const char *opt_name(const struct pm_host *host, uint32_t bflags,
                            unsigned version, int bgp, int id, int half)
{
    const struct pm_prim_info *pi = host->prim_info((unsigned)id);
    if (id == PM_P_TAG)
        return version >= 9 ? "tag" : "agent_id";
    if (id == PM_P_CLASS)
        return "class_id";
    if (id == PM_P_SRC_PORT || id == PM_P_DST_PORT) {
        int nw = (bflags & SQL_BF_PORTS_NEW) || version >= 8 || bgp;
        if (id == PM_P_SRC_PORT)
            return nw ? "port_src" : "src_port";
        return nw ? "port_dst" : "dst_port";
    }
    if (id == PM_P_SRC_NET && version < 6)
        return "ip_src";
    if (id == PM_P_DST_NET && version < 6)
        return "ip_dst";
    if (id == PM_P_SRC_AS && version < 6 && !bgp)
        return "ip_src";
    if (id == PM_P_DST_AS && version < 6 && !bgp)
        return "ip_dst";
    if (id == PM_P_SRC_HOST_COORDS)
        return half ? "lon_ip_src" : "lat_ip_src";
    if (id == PM_P_DST_HOST_COORDS)
        return half ? "lon_ip_dst" : "lat_ip_dst";
    return pi && pi->sql ? pi->sql : NULL;
}

static int add_col(struct sql_col *cols, int *n, int max, const char *name,
                   int kind, int prim, int half, int aggregated)
{
    if (*n >= max)
        return -E2BIG;
    for (int i = 0; i < *n; i++)
        if (!strcmp(cols[i].name, name))
            return -EEXIST;
    struct sql_col *c = &cols[(*n)++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->kind = kind;
    c->prim = prim;
    c->half = half;
    c->aggregated = aggregated;
    return 0;
}

int sql_schema_columns(const struct pm_host *host, uint32_t bflags,
                       unsigned version, int bgp, int optimize, int history,
                       const struct pm_instance *inst, struct sql_col *cols,
                       int maxcols, char *err, size_t errlen)
{
    int n = 0, rc;
    int flows;
    if (version < 1 || version > 9) {
        snprintf(err, errlen,
                 "sql_table_version: %u: expected 1 to 9", version);
        return -EINVAL;
    }
    if (bgp && version != 1) {
        snprintf(err, errlen,
                 "sql_table_version: %u: only version 1 exists for "
                 "sql_table_type bgp",
                 version);
        return -EINVAL;
    }
    if (optimize) {
        for (uint32_t i = 0; i < inst->naggregate; i++) {
            int id = inst->aggregate[i];
            int halves = (id == PM_P_SRC_HOST_COORDS ||
                          id == PM_P_DST_HOST_COORDS)
                             ? 2
                             : 1;
            for (int h = 0; h < halves; h++) {
                const char *nm = opt_name(host, bflags, version, bgp, id, h);
                if (!nm) {
                    snprintf(err, errlen,
                             "primitive id %d has no SQL column", id);
                    return -EINVAL;
                }
                rc = add_col(cols, &n, maxcols, nm, SQL_COL_PRIM, id, h, 1);
                if (rc == -EEXIST)
                    continue; /* e.g. src_host and src_net: one column */
                if (rc < 0)
                    goto toomany;
            }
        }
        flows = 1;
    } else {
        const struct colspec *cs = bgp ? bgp_cols : orig_cols;
        size_t ncs = bgp ? sizeof(bgp_cols) / sizeof(bgp_cols[0])
                         : sizeof(orig_cols) / sizeof(orig_cols[0]);
        pm_pset_t used = {{0}};
        for (size_t k = 0; k < ncs; k++) {
            if (!bgp && (version < cs[k].min_v || version > cs[k].max_v))
                continue;
            const char *nm = cs[k].name;
            if ((bflags & SQL_BF_PORTS_NEW) && !strcmp(nm, "src_port"))
                nm = "port_src";
            if ((bflags & SQL_BF_PORTS_NEW) && !strcmp(nm, "dst_port"))
                nm = "port_dst";
            int prim = cs[k].prims[0], agg = 0;
            for (int j = 0; j < 3 && cs[k].prims[j] != NP; j++)
                if (in_agg(inst, cs[k].prims[j])) {
                    prim = cs[k].prims[j];
                    agg = 1;
                    break;
                }
            if (agg)
                pm_pset_set(&used, (unsigned)prim);
            if ((rc = add_col(cols, &n, maxcols, nm, SQL_COL_PRIM, prim, 0,
                              agg)) < 0)
                goto toomany;
        }
        /* every aggregated primitive must have a column */
        for (uint32_t i = 0; i < inst->naggregate; i++) {
            int id = inst->aggregate[i];
            if (pm_pset_has(&used, (unsigned)id))
                continue;
            /* src_host and src_net aggregated together share ip_src */
            if ((id == PM_P_SRC_NET && in_agg(inst, PM_P_SRC_HOST)) ||
                (id == PM_P_DST_NET && in_agg(inst, PM_P_DST_HOST)))
                continue;
            const struct pm_prim_info *pi = host->prim_info((unsigned)id);
            snprintf(err, errlen,
                     "aggregate: '%s' has no column in sql_table_version %u%s "
                     "tables (use a version that has it, or "
                     "sql_optimize_clauses: true with your own schema)",
                     pi ? pi->name : "?", version,
                     bgp ? " bgp" : "");
            return -EINVAL;
        }
        flows = bgp ? !(bflags & SQL_BF_BGP_NO_FLOWS) : version >= 4;
    }
    if (add_col(cols, &n, maxcols, "packets", SQL_COL_PACKETS, -1, 0, 1) < 0 ||
        add_col(cols, &n, maxcols, "bytes", SQL_COL_BYTES, -1, 0, 1) < 0)
        goto toomany;
    if (flows && add_col(cols, &n, maxcols, "flows", SQL_COL_FLOWS, -1, 0, 1) < 0)
        goto toomany;
    if (history &&
        (add_col(cols, &n, maxcols, "stamp_inserted", SQL_COL_STAMP_INSERTED,
                 -1, 0, 1) < 0 ||
         add_col(cols, &n, maxcols, "stamp_updated", SQL_COL_STAMP_UPDATED, -1,
                 0, 1) < 0))
        goto toomany;
    return n;
toomany:
    snprintf(err, errlen, "too many SQL columns (at most %d)", maxcols);
    return -E2BIG;
}

static int ph_text(char ph, int idx, char *out, size_t n)
{
    if (ph == '$')
        return snprintf(out, n, "$%d", idx);
    return snprintf(out, n, "?");
}

/* Append with bound check. */
#define APP(...)                                                               \
    do {                                                                       \
        int w_ = snprintf(out + len, outlen - len, __VA_ARGS__);               \
        if (w_ < 0 || (size_t)w_ >= outlen - len)                              \
            return -ENAMETOOLONG;                                              \
        len += (size_t)w_;                                                     \
    } while (0)

int sql_update_params(const struct sql_col *cols, int ncols, int *map)
{
    int n = 0;
    for (int i = 0; i < ncols; i++)
        if (cols[i].kind == SQL_COL_PACKETS || cols[i].kind == SQL_COL_BYTES ||
            cols[i].kind == SQL_COL_FLOWS)
            map[n++] = i;
    for (int i = 0; i < ncols; i++)
        if (cols[i].kind == SQL_COL_STAMP_UPDATED)
            map[n++] = i;
    for (int i = 0; i < ncols; i++)
        if (cols[i].kind == SQL_COL_PRIM)
            map[n++] = i;
    for (int i = 0; i < ncols; i++)
        if (cols[i].kind == SQL_COL_STAMP_INSERTED)
            map[n++] = i;
    return n;
}

int sql_build_update(const struct sql_col *cols, int ncols, const char *table,
                     char ph, char *out, size_t outlen)
{
    size_t len = 0;
    int map[SQL_MAX_COLS], n = sql_update_params(cols, ncols, map), k = 0;
    char p[16];
    int nset = 0, nwhere = 0;
    APP("UPDATE %s SET ", table);
    for (int i = 0; i < n; i++) {
        const struct sql_col *c = &cols[map[i]];
        ph_text(ph, ++k, p, sizeof(p));
        if (c->kind == SQL_COL_PRIM || c->kind == SQL_COL_STAMP_INSERTED)
            APP("%s%s=%s", nwhere++ ? " AND " : " WHERE ", c->name, p);
        else if (c->kind == SQL_COL_STAMP_UPDATED)
            APP("%s%s=%s", nset++ ? ", " : "", c->name, p);
        else
            APP("%s%s=%s+%s", nset++ ? ", " : "", c->name, c->name, p);
    }
    return (int)len;
}

int sql_build_insert(const struct sql_col *cols, int ncols, const char *table,
                     char ph, char *out, size_t outlen)
{
    size_t len = 0;
    char p[16];
    APP("INSERT INTO %s (", table);
    for (int i = 0; i < ncols; i++)
        APP("%s%s", i ? ", " : "", cols[i].name);
    APP(") VALUES (");
    for (int i = 0; i < ncols; i++) {
        ph_text(ph, i + 1, p, sizeof(p));
        APP("%s%s", i ? ", " : "", p);
    }
    APP(")");
    return (int)len;
}

void sql_time_text(uint64_t t, char *out, size_t outlen)
{
    time_t tt = (time_t)t;
    struct tm tm;
    localtime_r(&tt, &tm);
    strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &tm);
}

