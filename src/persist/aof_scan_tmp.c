/* TEMPORARY stand-in for aof_scan.c (being written on branch aof-check):
 * no RDB preamble support. Removed at the merge. */
#include "tessera/aof_scan.h"

#include <stdio.h>
#include <string.h>

static int rd_num(const unsigned char *d, size_t len, size_t *p, char prefix, long long *out)
{
    if (*p >= len) return 1;
    if (d[*p] != prefix) return -1;
    size_t i = *p + 1;
    long long v = 0;
    bool any = false;
    while (i < len && d[i] >= '0' && d[i] <= '9') {
        if (v > (1LL << 40)) return -1;
        v = v * 10 + (d[i] - '0');
        i++;
        any = true;
    }
    if (i + 1 >= len) return 1;
    if (!any || d[i] != '\r' || d[i + 1] != '\n') return -1;
    *p = i + 2;
    *out = v;
    return 0;
}

int ts_aof_scan(const unsigned char *d, size_t len, ts_aof_scan_fn *fn, void *arg, ts_aof_scan_result *res)
{
    memset(res, 0, sizeof(*res));
    size_t p = 0;
    size_t multi_at = 0;
    bool in_multi = false;
    while (p < len) {
        size_t start = p;
        long long argc;
        int r = rd_num(d, len, &p, '*', &argc);
        ts_arg name = {0};
        for (long long i = 0; r == 0 && i < argc; i++) {
            long long n;
            r = rd_num(d, len, &p, '$', &n);
            if (r) break;
            if (p + (size_t)n + 2 > len) { r = 1; break; }
            if (d[p + n] != '\r' || d[p + n + 1] != '\n') { r = -1; break; }
            if (i == 0) name = (ts_arg){(const char *)d + p, (size_t)n};
            p += (size_t)n + 2;
        }
        if (r == 0 && argc < 1) r = -1;
        if (r) {
            res->error_off = start;
            if (r > 0) {
                res->truncated = true;
                res->valid_len = in_multi ? multi_at : start;
                return 0;
            }
            res->corrupt = true;
            snprintf(res->error, sizeof res->error, "Bad file format");
            res->valid_len = in_multi ? multi_at : start;
            return -1;
        }
        res->commands++;
        if (name.len == 5 && strncasecmp(name.ptr, "multi", 5) == 0) { in_multi = true; multi_at = start; }
        if (name.len == 4 && strncasecmp(name.ptr, "exec", 4) == 0) in_multi = false;
        if (fn && !in_multi) {
            int rc = fn(arg, d + start, p - start, (int)argc, name);
            if (rc) return rc;
        }
        if (!in_multi) res->valid_len = p;
    }
    if (in_multi) { res->truncated = true; res->valid_len = multi_at; }
    return 0;
}
