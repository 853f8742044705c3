/*
 * rdb_check.c - the verify-only walk of an RDB image (see rdb_check.h).
 *
 * Shape: one loop over opcodes, the same ones rdb_file.c's loader reads
 * (that file belongs to startup loading and stays untouched: this walk is
 * deliberately a separate copy that stores nothing). Each key's value goes
 * through ts_rdb_load_value, so every encoding check the loader makes is
 * made here too, and is freed before the next opcode: memory stays bounded
 * by the largest single value, whatever the file's size. The reader of
 * rdb.h bounds every read by the image's end, so a corrupt length fails
 * with an offset instead of reading past it. Every failure names the
 * offset of the opcode, key or value at fault, which the tool prints as
 * redis-check-rdb does ("[offset N] ...").
 */
#include "tessera/persist/rdb_check.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tessera/util/common.h"
#include "tessera/store/db.h"
#include "tessera/persist/rdb.h"
#include "tessera/types/table.h"
#include "tessera/util/clock.h"

static int fail_at(ts_rdb_check_stats *st, char *err, size_t errlen, const unsigned char *base,
                   const unsigned char *at, const char *what, const char *why)
{
    st->error_off = (size_t)(at - base);
    if (why) snprintf(err, errlen, "%s (%s) at offset %zu", what, why, st->error_off);
    else snprintf(err, errlen, "%s at offset %zu", what, st->error_off);
    return -1;
}

/* Wall clock in ms (its own, not main.c's ts_mstime: the tool has no
 * server). Only "already expired" depends on it. */
static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drop(ts_value *v)
{
    if (v->form == TS_FORM_INLINE) free((void *)v->s.ptr);
    else if (v->form == TS_FORM_PTR) ts_value_free_now(v);
}

int ts_rdb_check_mem(const void *data, size_t len, const struct ts_config *cfg, size_t *rdb_len,
                     ts_rdb_check_stats *st, char *err, size_t errlen)
{
    const unsigned char *base = data;
    ts_rdb_reader r;
    memset(st, 0, sizeof(*st));
    *rdb_len = 0;
    if (len < 9 || memcmp(base, "REDIS", 5) != 0)
        return fail_at(st, err, errlen, base, base, "Wrong signature trying to load DB from file", NULL);
    int version = 0;
    for (int i = 5; i < 9; i++) {
        if (base[i] < '0' || base[i] > '9')
            return fail_at(st, err, errlen, base, base, "Wrong signature trying to load DB from file", NULL);
        version = version * 10 + (base[i] - '0');
    }
    if (version < 1 || version > TS_RDB_VERSION) {
        st->error_off = 5;
        snprintf(err, errlen, "Can't handle RDB format version %d at offset 5", version);
        return -1;
    }
    st->version = version;
    ts_rdb_reader_init(&r, base + 9, len - 9);
    bool has_expire = false;
    int64_t expire = 0;
    int64_t now = now_ms();
    for (;;) {
        const unsigned char *at = r.p;
        int type;
        if (ts_rdb_read_byte(&r, &type) != 0)
            return fail_at(st, err, errlen, base, at, "Unexpected EOF reading RDB file", NULL);
        switch (type) {
        case TS_RDB_OPCODE_EXPIRETIME_MS: {
            uint64_t ms;
            if (ts_rdb_read_u64le(&r, &ms) != 0)
                return fail_at(st, err, errlen, base, at, "Short read of an expire time", NULL);
            has_expire = true;
            expire = ms > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)ms;
            continue;
        }
        case TS_RDB_OPCODE_EXPIRETIME: {
            uint32_t sec;
            if (ts_rdb_read_u32le(&r, &sec) != 0)
                return fail_at(st, err, errlen, base, at, "Short read of an expire time", NULL);
            has_expire = true;
            expire = (int64_t)sec * 1000;
            continue;
        }
        case TS_RDB_OPCODE_IDLE: {
            uint64_t idle;
            if (ts_rdb_read_len(&r, &idle, NULL) != 0)
                return fail_at(st, err, errlen, base, at, "Short read of an idle time", NULL);
            continue;
        }
        case TS_RDB_OPCODE_FREQ: {
            int freq;
            if (ts_rdb_read_byte(&r, &freq) != 0)
                return fail_at(st, err, errlen, base, at, "Short read of a frequency", NULL);
            continue;
        }
        case TS_RDB_OPCODE_SELECTDB: {
            uint64_t n;
            if (ts_rdb_read_len(&r, &n, NULL) != 0)
                return fail_at(st, err, errlen, base, at, "Short read of a db number", NULL);
            if (n >= (uint64_t)cfg->databases) {
                char what[128];
                snprintf(what, sizeof what, "DB number %llu out of range (databases is %d)",
                         (unsigned long long)n, cfg->databases);
                return fail_at(st, err, errlen, base, at, what, NULL);
            }
            st->dbs++;
            continue;
        }
        case TS_RDB_OPCODE_RESIZEDB: {
            uint64_t a, b;
            if (ts_rdb_read_len(&r, &a, NULL) != 0 || ts_rdb_read_len(&r, &b, NULL) != 0)
                return fail_at(st, err, errlen, base, at, "Short read of a RESIZEDB", NULL);
            continue;
        }
        case TS_RDB_OPCODE_AUX: {
            /* Decoded, not skipped: an LZF-compressed field must inflate. */
            char *k = NULL, *v = NULL;
            size_t kn, vn;
            int rc = ts_rdb_read_string(&r, &k, &kn);
            if (rc == 0) rc = ts_rdb_read_string(&r, &v, &vn);
            free(k);
            free(v);
            if (rc != 0) return fail_at(st, err, errlen, base, at, "Short read of an AUX field", r.err);
            st->aux_fields++;
            continue;
        }
        case TS_RDB_OPCODE_FUNCTION2:   /* a library's code */
            if (ts_rdb_skip_string(&r) != 0) return fail_at(st, err, errlen, base, at, "Short read of a function", r.err);
            continue;
        case TS_RDB_OPCODE_MODULE_AUX:
        case TS_RDB_OPCODE_FUNCTION:
            return fail_at(st, err, errlen, base, at,
                           "The RDB file contains module data or functions, which Tessera does not support", NULL);
        case TS_RDB_OPCODE_EOF:
            if (version >= 5) {
                const unsigned char *crc_at = r.p;
                uint64_t stored;
                if (ts_rdb_read_u64le(&r, &stored) != 0)
                    return fail_at(st, err, errlen, base, crc_at, "Short read of the checksum", NULL);
                if (stored != 0) {
                    uint64_t crc = ts_crc64(0, base, (size_t)(crc_at - base));
                    if (crc != stored) {
                        char what[128];
                        snprintf(what, sizeof what, "Wrong RDB checksum expected: (%llx) got (%llx)",
                                 (unsigned long long)stored, (unsigned long long)crc);
                        return fail_at(st, err, errlen, base, crc_at, what, NULL);
                    }
                    st->checksum = 1;
                } else {
                    st->checksum = 0;
                }
            } else {
                st->checksum = -1;
            }
            *rdb_len = (size_t)(r.p - base);
            return 0;
        default:
            break;
        }
        /* A key and its value. */
        char *key = NULL;
        size_t klen;
        if (ts_rdb_read_string(&r, &key, &klen) != 0)
            return fail_at(st, err, errlen, base, at, "Short read of a key", r.err);
        const unsigned char *val_at = r.p;
        ts_value v;
        if (ts_rdb_load_value(&r, type, cfg, &v) != 0) {
            char what[160];
            snprintf(what, sizeof what, "Bad value of type %d for key '%.*s'", type, (int)(klen > 64 ? 64 : klen), key);
            free(key);
            return fail_at(st, err, errlen, base, val_at, what, r.err ? r.err : "corrupt");
        }
        free(key);
        if (v.type < TS_RDB_CHECK_NTYPES) st->types[v.type]++;
        drop(&v);
        st->keys++;
        if (has_expire) {
            st->expires++;
            if (expire < now) st->already_expired++;
        }
        has_expire = false;
    }
}
