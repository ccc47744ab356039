/*
 * textrow.c - small text helpers the SQL backends share: one row of
 * delimited text as PostgreSQL's COPY and MariaDB's LOAD DATA read it, and
 * the IPv4 and MAC address parsers of the sort keys and pgsql's binary
 * COPY.
 *
 * Threads: pure functions.
 */
#include <string.h>

#include "sql.h"

size_t sql_text_row_max(const char *const *vals, const int *lens, int n)
{
    size_t need = 1;
    for (int i = 0; i < n; i++)
        need += 1 + (vals[i] ? 2 * (size_t)lens[i] : 2);
    return need;
}

char *sql_text_row(char *o, const char *const *vals, const int *lens, int n,
                   char delim, const char esc[256])
{
    for (int i = 0; i < n; i++) {
        if (i)
            *o++ = delim;
        if (!vals[i]) {
            *o++ = '\\';
            *o++ = 'N';
            continue;
        }
        for (int k = 0; k < lens[i]; k++) {
            unsigned char ch = (unsigned char)vals[i][k];
            if (esc[ch]) {
                *o++ = '\\';
                *o++ = esc[ch];
            } else {
                *o++ = (char)ch;
            }
        }
    }
    *o++ = '\n';
    return o;
}

int sql_ip4_parse(const char *v, int len, unsigned char *out)
{
    int i = 0;
    for (int b = 0; b < 4; b++) {
        unsigned x = 0;
        int d = 0;
        while (i < len && v[i] >= '0' && v[i] <= '9' && d < 3)
            x = x * 10 + (unsigned)(v[i++] - '0'), d++;
        if (!d || x > 255 || (d > 1 && v[i - d] == '0'))
            return -1;
        out[b] = (unsigned char)x;
        if (b < 3 && (i >= len || v[i++] != '.'))
            return -1;
    }
    return i == len ? 0 : -1;
}

static int hexv(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int sql_mac_parse(const char *v, int len, unsigned char *out)
{
    int i = 0;
    for (int b = 0; b < 6; b++) {
        int x = 0, d = 0;
        while (i < len && d < 2 && hexv(v[i]) >= 0)
            x = x * 16 + hexv(v[i++]), d++;
        if (!d)
            return -1;
        out[b] = (unsigned char)x;
        if (b < 5 && (i >= len || v[i++] != ':'))
            return -1;
    }
    return i == len ? 0 : -1;
}
