/*
 * db.h - keyspace access for commands: lookups with lazy expiry, writes,
 * deletes, and string value helpers.
 *
 * Owns: the rules every command follows when it touches keys: an expired key
 * is deleted when looked up (lazy expiry), reads count keyspace hits/misses
 * and refresh the key's LRU clock, strings are stored as integers when Redis
 * would use the "int" encoding.
 * Thread: the owner of x->shard only.
 */
#ifndef TESSERA_DB_H
#define TESSERA_DB_H

#include "tessera/store/blocked_keys.h"
#include "tessera/store/watched_keys.h"
#include "tessera/store/exec.h"
#include "tessera/types/object.h"
#include "tessera/store/shard.h"
#include "tessera/types/table.h"

static inline ts_table *ts_db_table(ts_exec *x) { return &x->shard->dbs[x->db]; }

/* Every lookup below deletes an expired key and signals it modified, as
 * Redis's deleteExpiredKeyAndPropagate (watched_keys.h). Writes signal
 * nothing unless they say so: the commands call ts_db_signal_modified where
 * Redis calls signalModifiedKey. */
/* Lookup for reading: deletes the key if expired, counts hit/miss, touches LRU. */
ts_entry *ts_db_lookup_read(ts_exec *x, ts_arg key);
/* Lookup for writing: deletes the key if expired, no statistics. */
ts_entry *ts_db_lookup_write(ts_exec *x, ts_arg key);
/* Same, in an explicit database of the shard. */
ts_entry *ts_db_lookup_in(ts_shard *s, int db, ts_arg key, int64_t now_ms);
/* Lookup that counts a hit/miss but keeps the key's LRU clock (Redis's
 * LOOKUP_NOTOUCH: TYPE, OBJECT, TTL, EXISTS). */
ts_entry *ts_db_lookup_notouch(ts_exec *x, ts_arg key);
/* Redis's rule: expired when now > the expire time. */
static inline bool ts_entry_expired(const ts_entry *e, int64_t now_ms)
{
    int64_t when = ts_entry_expire(e);
    return when >= 0 && now_ms > when;
}
/* The 24-bit LRU clock (seconds) stored in entries. */
static inline uint32_t ts_lru_clock(int64_t now_ms) { return (uint32_t)((now_ms / 1000) & TS_ENTRY_LRU_MAX); }
/* Like lookup_write but does not delete/touch: true if key exists and is not expired. */
bool ts_db_exists(ts_exec *x, ts_arg key);
/* Deletes key (lazy expiry first); true when a live key was deleted. Like
 * Redis's dbDelete it signals nothing itself: the caller calls
 * ts_db_signal_modified when it returns true (watched_keys.h). */
bool ts_db_delete(ts_exec *x, ts_arg key);

/* Strings: ts_value_string (object.h) gives a string's value form. */
/* Reads a string entry's bytes: for INT values formats into buf (>= 24 bytes). */
void ts_entry_string(const ts_entry *e, char *buf, const char **p, size_t *n);
/* Sets key to a string value; expire_ms -1 clears, keep_ttl keeps the
 * existing one. Signals the key modified (Redis's setKey). */
ts_entry *ts_db_set_string(ts_exec *x, ts_arg key, const char *p, size_t n, int64_t expire_ms, bool keep_ttl);
/* Sets key to an "int" string; signals nothing (the caller does). */
ts_entry *ts_db_set_int(ts_exec *x, ts_arg key, long long v, bool keep_ttl);


/* Lookups for commands of one type (TS_TYPE_*): like lookup_read/write, but
 * when the key holds another type they reply WRONGTYPE, set *wrongtype and
 * return NULL. A missing key returns NULL with *wrongtype false. */
ts_entry *ts_db_lookup_read_type(ts_exec *x, ts_arg key, int type, bool *wrongtype);
ts_entry *ts_db_lookup_write_type(ts_exec *x, ts_arg key, int type, bool *wrongtype);
/* The collection object of a PTR entry. */
static inline void *ts_entry_obj(const ts_entry *e)
{
    ts_value v;
    ts_entry_value(e, &v);
    return v.ptr;
}
/* Adds a key holding a new collection object (the key must be absent). */
ts_entry *ts_db_add_object(ts_exec *x, ts_arg key, int type, int enc, void *obj);
/* After a collection object was reallocated or converted, store its new
 * pointer / encoding in the entry: ts_entry_set_object (table.h), which
 * frees nothing and never moves the entry. */
/* ts_db_signal_ready, ts_db_signal_ready_in: store/blocked_keys.h. */
/* Call before key's value is removed or replaced other than through
 * ts_db_delete / ts_db_set_string (RENAME, MOVE, ...): a stream there ends
 * the wait of XREADGROUP clients blocked on it (Redis 7.0). Cheap when
 * nobody is blocked on the shard. */
void ts_db_signal_deleted(ts_exec *x, ts_arg key);
/* The worker's configuration copy (thresholds of the compact encodings). */
static inline const struct ts_config *ts_db_config(const ts_exec *x) { return x->config; }

/* Active expiry: one adaptive cycle bounded by `budget_us` of CPU. */
void ts_db_active_expire_cycle(ts_shard *s, int64_t now_ms, uint64_t budget_us);

/* Canonical names for TYPE and OBJECT ENCODING. */
const char *ts_type_name(int type);
const char *ts_encoding_name(int enc);

#endif
