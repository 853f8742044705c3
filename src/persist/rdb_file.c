/*
 * rdb_file.c - loading an RDB file (version 1 to 10: every file Redis 7.0
 * writes) into the shards at startup.
 *
 * Runs on the main thread before the workers start. This file only walks
 * the opcodes, reads each key and skips over its value; one loader thread
 * per shard (rdb_shard_load.c) builds the values and stores them, so the
 * shards fill in parallel. The file is mmap()ed and read through the
 * bounded reader of rdb.h, so a corrupt length fails with an offset instead
 * of reading past the end; a checksum mismatch, an unknown opcode or type,
 * a truncated file or a key that does not decode stops startup with a
 * message naming the offset: never a silent partial load.
 *
 * The file-level structure written by the persistence thread (persist.c) is
 * the same: "REDIS0010", AUX fields, then per database SELECTDB and its
 * keys (each optionally preceded by EXPIRETIME_MS), EOF, CRC-64 (LE).
 */
#include "tessera/persist/rdb_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tessera/util/common.h"
#include "tessera/store/db.h"
#include "tessera/util/log.h"
#include "tessera/types/object.h"
#include "tessera/persist/rdb.h"
#include "rdb_shard_load.h"
#include "tessera/route/slot.h"
#include "tessera/util/clock.h"

static int fail(char *err, size_t errlen, const ts_rdb_reader *r, const unsigned char *base, const char *what)
{
    snprintf(err, errlen, "%s at offset %zu", what, (size_t)(r->p - base));
    return -1;
}

/* The opcode walk; keys go to the shards' loaders (sl). */
static int walk(const ts_config *cfg, ts_rdb_shard_load *sl, const void *data, size_t len, size_t *used,
                ts_rdb_load_stats *st, char *err, size_t errlen)
{
    const unsigned char *base = data;
    ts_rdb_reader r;
    ts_rdb_reader_init(&r, data, len);
    memset(st, 0, sizeof(*st));
    if (len < 9 || memcmp(base, "REDIS", 5) != 0) {
        snprintf(err, errlen, "Wrong signature trying to load DB from file");
        return -1;
    }
    int version = 0;
    for (int i = 5; i < 9; i++) {
        if (base[i] < '0' || base[i] > '9') {
            snprintf(err, errlen, "Wrong signature trying to load DB from file");
            return -1;
        }
        version = version * 10 + (base[i] - '0');
    }
    if (version < 1 || version > TS_RDB_VERSION) {
        snprintf(err, errlen, "Can't handle RDB format version %d", version);
        return -1;
    }
    st->version = version;
    r.p += 9;
    int db = 0;
    int64_t expire = -1;
    int64_t now = ts_mstime();
    for (;;) {
        const unsigned char *at = r.p;
        int type;
        if (ts_rdb_read_byte(&r, &type) != 0) return fail(err, errlen, &r, base, "Unexpected EOF reading RDB file");
        if (type == TS_RDB_OPCODE_EXPIRETIME_MS) {
            uint64_t ms;
            if (ts_rdb_read_u64le(&r, &ms) != 0) return fail(err, errlen, &r, base, "Short read of an expire time");
            expire = (int64_t)ms;
            continue;
        }
        if (type == TS_RDB_OPCODE_EXPIRETIME) {
            uint32_t sec;
            if (ts_rdb_read_u32le(&r, &sec) != 0) return fail(err, errlen, &r, base, "Short read of an expire time");
            expire = (int64_t)sec * 1000;
            continue;
        }
        if (type == TS_RDB_OPCODE_IDLE) {
            uint64_t idle;
            if (ts_rdb_read_len(&r, &idle, NULL) != 0) return fail(err, errlen, &r, base, "Short read of an idle time");
            continue;
        }
        if (type == TS_RDB_OPCODE_FREQ) {
            int freq;
            if (ts_rdb_read_byte(&r, &freq) != 0) return fail(err, errlen, &r, base, "Short read of a frequency");
            continue;
        }
        if (type == TS_RDB_OPCODE_SELECTDB) {
            uint64_t n;
            if (ts_rdb_read_len(&r, &n, NULL) != 0) return fail(err, errlen, &r, base, "Short read of a db number");
            if (n >= (uint64_t)cfg->databases) {
                snprintf(err, errlen,
                         "FATAL: Data file was created with a Redis server configured to handle more than %d "
                         "databases. Exiting", cfg->databases);
                return -1;
            }
            db = (int)n;
            continue;
        }
        if (type == TS_RDB_OPCODE_RESIZEDB) {
            uint64_t a, b;
            if (ts_rdb_read_len(&r, &a, NULL) != 0 || ts_rdb_read_len(&r, &b, NULL) != 0)
                return fail(err, errlen, &r, base, "Short read of a RESIZEDB");
            continue;
        }
        if (type == TS_RDB_OPCODE_AUX) {
            char *k = NULL, *v = NULL;
            size_t kn, vn;
            if (ts_rdb_read_string(&r, &k, &kn) != 0 || ts_rdb_read_string(&r, &v, &vn) != 0) {
                free(k);
                return fail(err, errlen, &r, base, "Short read of an AUX field");
            }
            if (!strcmp(k, "redis-ver")) ts_log(TS_LOG_NOTICE, "Loading RDB produced by version %s", v);
            else if (!strcmp(k, "ctime")) ts_log(TS_LOG_NOTICE, "RDB age %lld seconds", (long long)(now / 1000 - atoll(v)));
            free(k);
            free(v);
            continue;
        }
        if (type == TS_RDB_OPCODE_FUNCTION2 && ts_rdb_functions()) {
            char *code;
            size_t n;
            if (ts_rdb_read_string(&r, &code, &n) != 0) return fail(err, errlen, &r, base, "Short read of a function");
            char ferr[256];
            int rc = ts_rdb_functions()->load(code, n, ferr, sizeof ferr);
            free(code);
            if (rc != 0) {
                r.p = at;
                ts_log(TS_LOG_WARNING, "Failed loading library, %s", ferr);
                return fail(err, errlen, &r, base, "Failed loading a function library,");
            }
            continue;
        }
        if (type == TS_RDB_OPCODE_MODULE_AUX || type == TS_RDB_OPCODE_FUNCTION2 || type == TS_RDB_OPCODE_FUNCTION) {
            r.p = at;
            return fail(err, errlen, &r, base,
                        "The RDB file contains module data or functions, which Tessera does not support,");
        }
        if (type == TS_RDB_OPCODE_EOF) {
            if (version >= 5) {
                uint64_t stored;
                const unsigned char *crc_at = r.p;
                if (ts_rdb_read_u64le(&r, &stored) != 0) return fail(err, errlen, &r, base, "Short read of the checksum");
                if (stored != 0 && cfg->rdbchecksum) {
                    uint64_t crc = ts_crc64(0, base, (size_t)(crc_at - base));
                    if (crc != stored) {
                        snprintf(err, errlen, "Wrong RDB checksum expected: (%llx) got (%llx). Aborting now.",
                                 (unsigned long long)stored, (unsigned long long)crc);
                        return -1;
                    }
                }
            }
            if (used) *used = (size_t)(r.p - base);
            return 0;
        }
        /* A key and its value: the key is read here (it picks the shard),
         * the value only skipped; the shard's loader builds it. */
        const char *key;
        char *key_owned;
        size_t klen;
        if (ts_rdb_read_string_view(&r, &key, &klen, &key_owned) != 0)
            return fail(err, errlen, &r, base, "Short read of a key");
        const unsigned char *val_at = r.p;
        if (ts_rdb_skip_value(&r, type) != 0) {
            char what[256];
            snprintf(what, sizeof what, "Bad value of type %d for key '%.*s' (%s)", type, (int)(klen > 64 ? 64 : klen),
                     key, r.err ? r.err : "corrupt");
            free(key_owned);
            ts_rdb_reader bad = r;
            bad.p = val_at;
            return fail(err, errlen, &bad, base, what);
        }
        if (expire >= 0 && expire < now) {
            free(key_owned);   /* already expired: Redis does not load it either */
            st->expired++;
        } else {
            ts_rdb_shard_load_add(sl, ts_key_shard(key, klen), db, key, klen, key_owned, type, val_at, (size_t)(r.p - val_at),
                                  expire);
            st->keys++;
            if (st->keys % 1000000 == 0)
                ts_log(TS_LOG_NOTICE, "Loading RDB: %llu keys so far, %zu of %zu bytes read",
                       (unsigned long long)st->keys, (size_t)(r.p - base), len);
            if (expire >= 0) st->expires++;
            if (st->keys % 4096 == 0 && ts_rdb_shard_load_failed(sl)) {
                snprintf(err, errlen, "a loader failed");   /* replaced by the loader's message */
                return -1;
            }
        }
        expire = -1;
    }
}

int ts_rdb_load_mem(ts_router *router, const ts_config *cfg, const void *data, size_t len, size_t *used, ts_rdb_load_stats *st, char *err,
                    size_t errlen)
{
    ts_rdb_shard_load *sl = ts_rdb_shard_load_start(router, cfg, data);
    int rc = walk(cfg, sl, data, len, used, st, err, errlen);
    /* A loader's failure lies before wherever the walk stopped: it wins. */
    char lerr[320];
    if (ts_rdb_shard_load_finish(sl, lerr, sizeof lerr) != 0) {
        snprintf(err, errlen, "%s", lerr);
        rc = -1;
    }
    return rc;
}

int ts_rdb_load_file(ts_router *router, const ts_config *cfg, const char *path, ts_rdb_load_stats *st, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 1;
        snprintf(err, errlen, "Fatal error loading the DB: %s. Exiting.", strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "Fatal error loading the DB: %s. Exiting.", strerror(errno));
        close(fd);
        return -1;
    }
    size_t len = (size_t)sb.st_size;
    void *map = NULL;
    if (len > 0) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            snprintf(err, errlen, "Fatal error loading the DB: %s. Exiting.", strerror(errno));
            close(fd);
            return -1;
        }
        madvise(map, len, MADV_SEQUENTIAL);
    }
    close(fd);
    int rc = ts_rdb_load_mem(router, cfg, map ? map : "", len, NULL, st, err, errlen);
    if (map) munmap(map, len);
    return rc;
}
