/*
 * db.c - keyspace access rules shared by all commands (see db.h): lazy
 * expiry, hit/miss statistics, LRU clock, string encodings, active expiry.
 */
#include "tessera/store/db.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/store/aof_log.h"
#include "tessera/store/blocked_keys.h"
#include "tessera/store/watched_keys.h"
#include "tessera/util/clock.h"
#include "tessera/util/strconv.h"


/* An expiring stream ends the wait of XREADGROUP clients blocked on it. */
/* An expired key leaves the AOF as a DEL, like Redis propagates it. */
static void log_expired(ts_shard *s, int db, ts_arg key)
{
    if (TS_LIKELY(s->aof == NULL)) return;
    ts_aof_log_begin(s->aof, db, 2);
    ts_aof_log_arg(s->aof, "DEL", 3);
    ts_aof_log_arg(s->aof, key.ptr, key.len);
}

static void signal_expired(ts_shard *s, int db, ts_entry *e, ts_arg key)
{
    if (TS_LIKELY(s->blocked_keys == 0) || ts_entry_type(e) != TS_TYPE_STREAM) return;
    ts_exec x = {.shard = s, .db = db};
    ts_db_signal_ready(&x, key);
}

/* Deletes expired entry e, then signals the key modified like Redis's
 * deleteExpiredKeyAndPropagate (after the delete: an expired-when-watched
 * registration must see the key gone). key may point into e (SCAN,
 * RANDOMKEY pass the entry's own bytes), so it is copied first when
 * someone may be told. */
static void delete_expired(ts_shard *s, int db, ts_table *t, ts_entry *e, ts_arg key)
{
    if (TS_LIKELY(!ts_watch_signals_wanted(s))) {
        ts_table_delete_entry(t, e);
        return;
    }
    char buf[128];
    char *k = key.len <= sizeof buf ? buf : ts_malloc(key.len);
    memcpy(k, key.ptr, key.len);
    ts_table_delete_entry(t, e);
    ts_db_signal_modified_in(s, db, (ts_arg){k, key.len});
    if (k != buf) free(k);
}

ts_entry *ts_db_lookup_in(ts_shard *s, int db, ts_arg key, int64_t now_ms)
{
    ts_table *t = &s->dbs[db];
    ts_entry *e = ts_table_find(t, key.ptr, key.len);
    if (e && ts_entry_expired(e, now_ms)) {
        signal_expired(s, db, e, key);
        log_expired(s, db, key);
        s->stats.expired_keys++;
        delete_expired(s, db, t, e, key);
        return NULL;
    }
    return e;
}

ts_entry *ts_db_lookup_write(ts_exec *x, ts_arg key)
{
    return ts_db_lookup_in(x->shard, x->db, key, x->now_ms);
}

ts_entry *ts_db_lookup_read(ts_exec *x, ts_arg key)
{
    ts_entry *e = ts_db_lookup_in(x->shard, x->db, key, x->now_ms);
    if (e) {
        x->shard->stats.keyspace_hits++;
        ts_entry_set_lru(e, ts_lru_clock(x->now_ms));
    } else {
        x->shard->stats.keyspace_misses++;
    }
    return e;
}

ts_entry *ts_db_lookup_notouch(ts_exec *x, ts_arg key)
{
    ts_entry *e = ts_db_lookup_write(x, key);
    if (e) x->shard->stats.keyspace_hits++;
    else x->shard->stats.keyspace_misses++;
    return e;
}

bool ts_db_exists(ts_exec *x, ts_arg key) { return ts_db_lookup_write(x, key) != NULL; }

/* A stream key that disappears or changes type ends the wait of XREADGROUP
 * clients blocked on it with an error (Redis 7.0's signalDeletedKeyAsReady):
 * the blocking registry gets a signal; cheap when nobody is blocked. */
void ts_db_signal_deleted(ts_exec *x, ts_arg key)
{
    if (TS_LIKELY(x->shard->blocked_keys == 0)) return;
    ts_entry *e = ts_table_find(ts_db_table(x), key.ptr, key.len);
    if (e && ts_entry_type(e) == TS_TYPE_STREAM) ts_db_signal_ready(x, key);
}

bool ts_db_delete(ts_exec *x, ts_arg key)
{
    if (!ts_db_lookup_write(x, key)) return false;
    ts_db_signal_deleted(x, key);
    return ts_table_delete(ts_db_table(x), key.ptr, key.len) == 1;
}

void ts_entry_string(const ts_entry *e, char *buf, const char **p, size_t *n)
{
    ts_value v;
    ts_entry_value(e, &v);
    if (v.form == TS_FORM_INT) {
        *n = ts_ll_to_str(buf, v.i);
        *p = buf;
    } else {
        *p = v.s.ptr;
        *n = v.s.len;
    }
}

ts_entry *ts_db_set_string(ts_exec *x, ts_arg key, const char *p, size_t n, int64_t expire_ms, bool keep_ttl)
{
    ts_value v;
    ts_value_string(&v, p, n);
    ts_db_signal_deleted(x, key);
    ts_entry *e = ts_table_set(ts_db_table(x), key.ptr, key.len, &v, expire_ms, keep_ttl);
    ts_entry_set_lru(e, ts_lru_clock(x->now_ms));
    ts_db_signal_modified(x, key);   /* setKey's signalModifiedKey */
    return e;
}

ts_entry *ts_db_set_int(ts_exec *x, ts_arg key, long long val, bool keep_ttl)
{
    ts_value v = { .type = TS_TYPE_STRING, .enc = TS_ENC_INT, .form = TS_FORM_INT };
    v.i = val;
    ts_entry *e = ts_table_set(ts_db_table(x), key.ptr, key.len, &v, -1, keep_ttl);
    ts_entry_set_lru(e, ts_lru_clock(x->now_ms));
    return e;
}

static ts_entry *check_type(ts_exec *x, ts_entry *e, int type, bool *wrongtype)
{
    *wrongtype = false;
    if (e && ts_entry_type(e) != type) {
        ts_reply_error(x->r, TS_ERR_WRONGTYPE);
        *wrongtype = true;
        return NULL;
    }
    return e;
}

ts_entry *ts_db_lookup_read_type(ts_exec *x, ts_arg key, int type, bool *wrongtype)
{
    return check_type(x, ts_db_lookup_read(x, key), type, wrongtype);
}

ts_entry *ts_db_lookup_write_type(ts_exec *x, ts_arg key, int type, bool *wrongtype)
{
    return check_type(x, ts_db_lookup_write(x, key), type, wrongtype);
}

ts_entry *ts_db_add_object(ts_exec *x, ts_arg key, int type, int enc, void *obj)
{
    ts_value v = { .type = (uint8_t)type, .enc = (uint8_t)enc, .form = TS_FORM_PTR };
    v.ptr = obj;
    ts_entry *e = ts_table_set(ts_db_table(x), key.ptr, key.len, &v, -1, false);
    ts_entry_set_lru(e, ts_lru_clock(x->now_ms));
    return e;
}


const char *ts_type_name(int type)
{
    static const char *names[] = {"string", "list", "set", "zset", "hash", "stream"};
    return type >= 0 && type < (int)TS_ARRAY_LEN(names) ? names[type] : "none";
}

const char *ts_encoding_name(int enc)
{
    static const char *names[] = {"raw", "int", "embstr", "hashtable", "listpack", "intset",
                                  "skiplist", "quicklist", "stream"};
    return enc >= 0 && enc < (int)TS_ARRAY_LEN(names) ? names[enc] : "unknown";
}

/* ---------- active expiry ---------- */

typedef struct expire_scan {
    int64_t now_ms;
    size_t sampled;              /* entries with a TTL seen */
    size_t nexpired;
    char **keys;                 /* expired keys to delete after the scan step */
    size_t *lens;
    size_t cap;
} expire_scan;

static void expire_scan_cb(void *ctx, ts_entry *e)
{
    expire_scan *x = ctx;
    int64_t when = ts_entry_expire(e);
    if (when < 0) return;
    x->sampled++;
    if (x->now_ms <= when) return;
    if (x->nexpired == x->cap) {
        x->cap = x->cap ? x->cap * 2 : 64;
        x->keys = ts_realloc(x->keys, sizeof(char *) * x->cap);
        x->lens = ts_realloc(x->lens, sizeof(size_t) * x->cap);
    }
    size_t klen;
    const char *k = ts_entry_key(e, &klen);
    x->keys[x->nexpired] = ts_strndup(k, klen);
    x->lens[x->nexpired] = klen;
    x->nexpired++;
}

/*
 * Adaptive like Redis's activeExpireCycle: walk each database's buckets
 * from a saved cursor, sampling keys that have a TTL; delete the expired
 * ones; keep going on the same database while more than 10% of the sampled
 * keys were expired (the keyspace is still full of dead keys), until the
 * CPU budget for this cycle is spent. Databases without TTLs cost nothing.
 */
void ts_db_active_expire_cycle(ts_shard *s, int64_t now_ms, uint64_t budget_us)
{
    uint64_t start = ts_monotonic_us();
    expire_scan x = {.now_ms = now_ms};
    int ndb = s->ndb < 64 ? s->ndb : 64;
    for (int i = 0; i < ndb; i++) {
        int db = (s->expire_db + i) % ndb;
        ts_table *t = &s->dbs[db];
        for (;;) {
            if (ts_table_expires(t) == 0) break;
            x.sampled = 0;
            x.nexpired = 0;
            /* ~20 keys with TTL per round, like ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP. */
            int rounds = 0;
            while (x.sampled < 20 && rounds++ < 40) {
                s->expire_cursor[db] = ts_table_scan(t, s->expire_cursor[db], 20, expire_scan_cb, &x);
                if (s->expire_cursor[db] == 0) break;
            }
            for (size_t k = 0; k < x.nexpired; k++) {
                if (TS_UNLIKELY(s->blocked_keys != 0)) {
                    ts_entry *e = ts_table_find(t, x.keys[k], x.lens[k]);
                    if (e) signal_expired(s, db, e, (ts_arg){x.keys[k], x.lens[k]});
                }
                if (ts_table_delete(t, x.keys[k], x.lens[k]) == 1) {
                    s->stats.expired_keys++;
                    log_expired(s, db, (ts_arg){x.keys[k], x.lens[k]});
                    ts_db_signal_modified_in(s, db, (ts_arg){x.keys[k], x.lens[k]});
                }
                free(x.keys[k]);
            }
            if (x.sampled) s->stats.expired_stale_perc_x100 = x.nexpired * 10000 / x.sampled;
            bool over = ts_monotonic_us() - start >= budget_us;
            if (over) { s->expire_db = db; goto out; }
            if (x.sampled == 0 || x.nexpired * 10 <= x.sampled) break;
        }
    }
    s->expire_db = (s->expire_db + 1) % (ndb ? ndb : 1);
out:
    s->stats.expire_cycle_cpu_usec += ts_monotonic_us() - start;
    free(x.keys);
    free(x.lens);
}
