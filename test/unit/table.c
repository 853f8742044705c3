/*
 * table.c (unit test) - the keyspace table and the key hash.
 *
 * Single-threaded, like the table's real users. Checks the table against a
 * shadow model under 1M random operations on values of every form, with a
 * counting free callback that catches leaked and doubly freed PTR values;
 * incremental rehash in both directions; the SCAN guarantee while the table
 * grows and shrinks between calls; ts_table_random's liveness and coverage;
 * and prints the memory cost per key for 1M 16-byte keys with 16-byte values.
 */
#include "tessera/util/hash.h"
#include "tessera/types/table.h"

#include "ts_test.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ---- */

#define rnd ts_test_rnd
#define rnd_below ts_test_rnd_below

/* PTR values: heap objects with a magic number; the free callback counts. */
#define OBJ_MAGIC 0x0B1EC7A11CE5EEDull
typedef struct obj {
    uint64_t magic;
    uint64_t id;
    uint64_t ver;
} obj;

static long objs_live, objs_bad_free;

static obj *obj_new(uint64_t id, uint64_t ver)
{
    obj *o = malloc(sizeof *o);
    o->magic = OBJ_MAGIC;
    o->id = id;
    o->ver = ver;
    objs_live++;
    return o;
}

static void obj_release(obj *o)
{
    if (!o || o->magic != OBJ_MAGIC) {
        objs_bad_free++;
        return;
    }
    o->magic = 0xDEADull;
    objs_live--;
    free(o);
}

static void obj_free_cb(const ts_value *v)
{
    if (v->form != TS_FORM_PTR) {
        objs_bad_free++;
        return;
    }
    obj_release(v->ptr);
}

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, res = 0;
    if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
    fclose(f);
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

/* ---- hash ---- */

static void test_hash(void)
{
    static const char k[] = "key:000000123456";
    uint64_t h1 = ts_hash_with_seed(k, 16, 1), h2 = ts_hash_with_seed(k, 16, 1);
    CHECK(h1 == h2);
    CHECK(ts_hash_with_seed(k, 16, 2) != h1);
    CHECK(ts_hash_with_seed(k, 15, 1) != h1);
    CHECK(ts_hash(k, 16) == ts_hash_with_seed(k, 16, ts_hash_seed()));

    /* Every length reads only its own bytes (exact-size heap copies let
     * ASan catch an over-read) and all lengths 0..300 hash differently. */
    uint64_t seen[301];
    int dups = 0;
    for (size_t len = 0; len <= 300; len++) {
        unsigned char *p = malloc(len ? len : 1);
        for (size_t i = 0; i < len; i++) p[i] = 'a';
        seen[len] = ts_hash(p, len);
        for (size_t j = 0; j < len; j++)
            if (seen[j] == seen[len]) dups++;
        /* Flipping any single byte changes the hash. */
        for (size_t i = 0; i < len; i++) {
            p[i] ^= 1;
            if (ts_hash(p, len) == seen[len]) dups++;
            p[i] ^= 1;
        }
        free(p);
    }
    CHECK_EQ_INT(dups, 0);

    /* Sequential keys spread evenly over the low bits a table uses. */
    enum { B = 1 << 14, N = 16 * B };
    unsigned *bk = calloc(B, sizeof *bk);
    char key[32];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%012d", i);
        bk[ts_hash(key, 16) & (B - 1)]++;
    }
    double chi = 0;
    unsigned mx = 0;
    for (int i = 0; i < B; i++) {
        double d = (double)bk[i] - 16.0;
        chi += d * d / 16.0;
        if (bk[i] > mx) mx = bk[i];
    }
    free(bk);
    printf("hash: chi2/dof %.3f over %d buckets, max bucket %u (mean 16)\n", chi / B, B, mx);
    CHECK(chi / B > 0.85 && chi / B < 1.15);
    CHECK(mx < 48);

    /* Seeding from the kernel changes the seed (2^-64 chance of not). */
    uint64_t before = ts_hash_seed();
    ts_hash_seed_init();
    CHECK(ts_hash_seed() != before);
}

/* ---- basic behaviour ---- */

static ts_value v_int(int64_t i)
{
    ts_value v = {.type = TS_TYPE_STRING, .enc = TS_ENC_INT, .form = TS_FORM_INT};
    v.i = i;
    return v;
}

static ts_value v_str(const char *p, size_t len)
{
    ts_value v = {.type = TS_TYPE_STRING, .enc = TS_ENC_EMBSTR, .form = TS_FORM_INLINE};
    v.s.ptr = p;
    v.s.len = len;
    return v;
}

static ts_value v_ptr(void *p, uint8_t type, uint8_t enc)
{
    ts_value v = {.type = type, .enc = enc, .form = TS_FORM_PTR};
    v.ptr = p;
    return v;
}

static void test_basic(void)
{
    ts_table t;
    ts_table_init(&t, obj_free_cb);
    CHECK_EQ_INT(ts_table_size(&t), 0);
    CHECK(ts_table_find(&t, "a", 1) == NULL);
    CHECK(ts_table_random(&t) == NULL);
    CHECK_EQ_INT(ts_table_delete(&t, "a", 1), 0);
    CHECK_EQ_INT(ts_table_memory(&t), 0);

    ts_value v = v_int(INT64_MIN), out;
    ts_entry *e = ts_table_set(&t, "n", 1, &v, -1, false);
    ts_entry_value(e, &out);
    CHECK(out.form == TS_FORM_INT && out.i == INT64_MIN && out.type == TS_TYPE_STRING && out.enc == TS_ENC_INT);
    CHECK_EQ_INT(ts_entry_expire(e), -1);
    CHECK_EQ_INT(ts_entry_lru(e), 0);
    CHECK_EQ_INT(ts_entry_type(e), TS_TYPE_STRING);
    CHECK_EQ_INT(ts_entry_enc(e), TS_ENC_INT);
    CHECK_EQ_INT(ts_entry_form(e), TS_FORM_INT);
    ts_entry_set_lru(e, 0xFFABCDEFu);
    CHECK_EQ_INT(ts_entry_lru(e), 0xABCDEF);
    v = v_int(INT64_MAX);
    ts_entry *e2 = ts_table_set(&t, "n", 1, &v, 1234, false);
    CHECK(ts_table_find(&t, "n", 1) == e2);
    ts_entry_value(e2, &out);
    CHECK(out.i == INT64_MAX);
    CHECK_EQ_INT(ts_entry_expire(e2), 1234);
    CHECK_EQ_INT(ts_entry_lru(e2), 0xABCDEF); /* replace keeps lru */
    CHECK_EQ_INT(ts_table_expires(&t), 1);
    v = v_int(7);
    e2 = ts_table_set(&t, "n", 1, &v, -1, true); /* KEEPTTL */
    CHECK_EQ_INT(ts_entry_expire(e2), 1234);
    e2 = ts_table_set(&t, "n", 1, &v, -1, false);
    CHECK_EQ_INT(ts_entry_expire(e2), -1);
    CHECK_EQ_INT(ts_table_expires(&t), 0);

    /* Empty key, empty value, long key (2-byte varint), big value (3-byte). */
    v = v_str("", 0);
    e = ts_table_set(&t, "", 0, &v, -1, false);
    size_t kl = 99;
    ts_entry_key(e, &kl);
    CHECK_EQ_INT(kl, 0);
    ts_entry_value(ts_table_find(&t, "", 0), &out);
    CHECK(out.form == TS_FORM_INLINE && out.s.len == 0);
    char longkey[300];
    memset(longkey, 'K', sizeof longkey);
    size_t big = 1u << 20;
    char *bigv = malloc(big);
    for (size_t i = 0; i < big; i++) bigv[i] = (char)(i * 7);
    v = v_str(bigv, big);
    e = ts_table_set(&t, longkey, sizeof longkey, &v, 99, false);
    e = ts_table_find(&t, longkey, sizeof longkey);
    CHECK(e != NULL);
    const char *kp = ts_entry_key(e, &kl);
    CHECK(kl == sizeof longkey && memcmp(kp, longkey, kl) == 0);
    ts_entry_value(e, &out);
    CHECK(out.s.len == big && memcmp(out.s.ptr, bigv, big) == 0);
    CHECK_EQ_INT(ts_entry_expire(e), 99);
    CHECK(ts_entry_alloc_size(e) >= big);

    /* New value from a slice of the entry's own value, then its own key. */
    ts_entry_value(e, &out);
    ts_value self = v_str(out.s.ptr + 10, 100);
    e = ts_table_set_value(&t, e, &self);
    ts_entry_value(e, &out);
    CHECK(out.s.len == 100 && memcmp(out.s.ptr, bigv + 10, 100) == 0);
    CHECK_EQ_INT(ts_entry_expire(e), 99);
    kp = ts_entry_key(e, &kl);
    self = v_str(kp, kl);
    e = ts_table_set(&t, kp, kl, &self, -1, true);
    ts_entry_value(e, &out);
    CHECK(out.s.len == sizeof longkey && memcmp(out.s.ptr, longkey, sizeof longkey) == 0);
    CHECK_EQ_INT(ts_entry_expire(e), 99);
    /* Removing and adding the expire shifts the inline value both ways. */
    e = ts_table_set_expire(&t, e, -1);
    CHECK_EQ_INT(ts_entry_expire(e), -1);
    ts_entry_value(e, &out);
    CHECK(out.s.len == sizeof longkey && memcmp(out.s.ptr, longkey, sizeof longkey) == 0);
    e = ts_table_set_expire(&t, e, 5);
    e = ts_table_set_expire(&t, e, 6);
    CHECK_EQ_INT(ts_entry_expire(e), 6);
    ts_entry_value(e, &out);
    CHECK(out.s.len == sizeof longkey && memcmp(out.s.ptr, longkey, sizeof longkey) == 0);
    CHECK_EQ_INT(ts_table_expires(&t), 1);
    free(bigv);

    /* PTR: same pointer is kept, a different one frees the old. */
    obj *o1 = obj_new(1, 1), *o2 = obj_new(1, 2);
    v = v_ptr(o1, TS_TYPE_LIST, TS_ENC_QUICKLIST);
    e = ts_table_set(&t, "p", 1, &v, -1, false);
    e = ts_table_set(&t, "p", 1, &v, 10, false);
    CHECK_EQ_INT(objs_live, 2);
    e = ts_table_set_expire(&t, e, -1);
    e = ts_table_set_value(&t, e, &v);
    CHECK_EQ_INT(objs_live, 2);
    v = v_ptr(o2, TS_TYPE_HASH, TS_ENC_HASHTABLE);
    e = ts_table_set_value(&t, e, &v);
    CHECK_EQ_INT(objs_live, 1);
    CHECK_EQ_INT(ts_entry_type(e), TS_TYPE_HASH);
    CHECK_EQ_INT(ts_entry_enc(e), TS_ENC_HASHTABLE);
    v = v_int(3);
    ts_table_set_value(&t, e, &v); /* PTR -> INT frees o2 */
    CHECK_EQ_INT(objs_live, 0);

    /* Detach each form. */
    obj *o3 = obj_new(3, 3);
    v = v_ptr(o3, TS_TYPE_SET, TS_ENC_INTSET);
    e = ts_table_set(&t, "d", 1, &v, 77, false);
    int64_t exp = 0;
    ts_table_detach(&t, e, &out, &exp);
    CHECK(out.form == TS_FORM_PTR && out.ptr == o3 && out.type == TS_TYPE_SET && out.enc == TS_ENC_INTSET);
    CHECK_EQ_INT(exp, 77);
    CHECK_EQ_INT(objs_live, 1);
    obj_release(o3);
    CHECK(ts_table_find(&t, "d", 1) == NULL);
    v = v_str("hello", 5);
    e = ts_table_set(&t, "d", 1, &v, -1, false);
    ts_table_detach(&t, e, &out, &exp);
    CHECK(out.form == TS_FORM_INLINE);
    CHECK_MEM(out.s.ptr, out.s.len, "hello");
    CHECK_EQ_INT(exp, -1);
    free((void *)out.s.ptr);
    v = v_int(-5);
    e = ts_table_set(&t, "d", 1, &v, -1, false);
    ts_table_detach(&t, e, &out, NULL);
    CHECK(out.form == TS_FORM_INT && out.i == -5);

    /* Clear frees PTR values; the table stays usable. */
    v = v_ptr(obj_new(4, 4), TS_TYPE_ZSET, TS_ENC_SKIPLIST);
    ts_table_set(&t, "z", 1, &v, 1, false);
    ts_table_clear(&t);
    CHECK_EQ_INT(objs_live, 0);
    CHECK_EQ_INT(ts_table_size(&t), 0);
    CHECK_EQ_INT(ts_table_expires(&t), 0);
    CHECK_EQ_INT(ts_table_memory(&t), 0);
    v = v_int(1);
    ts_table_set(&t, "again", 5, &v, -1, false);
    CHECK(ts_table_find(&t, "again", 5) != NULL);
    CHECK_EQ_INT(ts_table_delete(&t, "again", 5), 1);
    CHECK_EQ_INT(ts_table_delete(&t, "again", 5), 0);
    ts_table_clear(&t);
    CHECK_EQ_INT(objs_bad_free, 0);
}

/* ---- shadow model ---- */

enum { M_KEYS = 1000000, M_OPS = 4000000, M_PHASE = 1000000 };

typedef struct model {
    bool present;
    uint8_t form, type, enc;
    int64_t i;       /* INT value */
    uint32_t ver;    /* INLINE content seed / PTR version */
    uint16_t vlen;   /* INLINE length */
    int64_t expire;  /* -1 none */
    uint32_t lru;
    obj *o;
} model;

static model *mdl;
static size_t mdl_count, mdl_expires, mdl_ptrs;

static size_t key_of(uint64_t id, char *buf)
{
    if (id == 0) return 0; /* the empty key */
    int n = snprintf(buf, 32, "k%" PRIu64 "-", id);
    size_t pad = (id % 97 == 3) ? 150 + id % 50 : id % 23;
    memset(buf + n, 'a' + (int)(id % 26), pad);
    return (size_t)n + pad;
}

/* The number after a key's prefix. Keys are not NUL-terminated (the value
 * follows in the entry), so copy before parsing. */
static uint64_t key_num(const char *k, size_t klen, size_t skip)
{
    char buf[64];
    size_t n = klen - skip < sizeof buf - 1 ? klen - skip : sizeof buf - 1;
    memcpy(buf, k + skip, n);
    buf[n] = '\0';
    return strtoull(buf, NULL, 10);
}

static uint64_t id_of(const char *k, size_t klen)
{
    if (klen == 0) return 0;
    return key_num(k, klen, 1);
}

static void fill_bytes(char *buf, uint64_t id, uint32_t ver, size_t len)
{
    for (size_t j = 0; j < len; j++) buf[j] = (char)(id * 31 + ver * 17 + j * 7);
}

/* A random value for id; records it in *m (not yet present/expire). */
static ts_value make_value(uint64_t id, model *m, char *buf)
{
    ts_value v;
    uint64_t r = rnd_below(10);
    m->ver = (uint32_t)rnd();
    if (r < 3) {
        v = v_int((int64_t)rnd());
        m->i = v.i;
    } else if (r < 8) {
        m->vlen = (uint16_t)(r == 7 ? rnd_below(301) : rnd_below(40));
        fill_bytes(buf, id, m->ver, m->vlen);
        v = v_str(buf, m->vlen);
    } else {
        m->o = obj_new(id, m->ver);
        v = v_ptr(m->o, (uint8_t)(1 + rnd_below(5)), (uint8_t)rnd_below(9));
    }
    if (v.form != TS_FORM_PTR) m->o = NULL;
    m->form = v.form;
    m->type = v.type;
    m->enc = v.enc;
    return v;
}

static bool entry_matches(const ts_entry *e, uint64_t id)
{
    const model *m = &mdl[id];
    char kbuf[256], vbuf[301];
    size_t klen = key_of(id, kbuf), kl;
    const char *k = ts_entry_key(e, &kl);
    if (kl != klen || memcmp(k, kbuf, kl) != 0) return false;
    if (ts_entry_expire(e) != m->expire || ts_entry_lru(e) != m->lru) return false;
    ts_value v;
    ts_entry_value(e, &v);
    if (v.form != m->form || v.type != m->type || v.enc != m->enc) return false;
    switch (v.form) {
    case TS_FORM_INT: return v.i == m->i;
    case TS_FORM_INLINE:
        fill_bytes(vbuf, id, m->ver, m->vlen);
        return v.s.len == m->vlen && memcmp(v.s.ptr, vbuf, m->vlen) == 0;
    default: return v.ptr == m->o && m->o->id == id && m->o->ver == m->ver;
    }
}

static void model_drop(uint64_t id)
{
    model *m = &mdl[id];
    mdl_count--;
    if (m->expire >= 0) mdl_expires--;
    if (m->form == TS_FORM_PTR) mdl_ptrs--;
    m->present = false;
}

typedef struct scan_acc {
    size_t n, bytes;
} scan_acc;

static void acc_cb(void *ctx, ts_entry *e)
{
    scan_acc *a = ctx;
    a->n++;
    a->bytes += ts_entry_alloc_size(e);
}

static int verify_all(ts_table *t)
{
    int bad = 0;
    char kbuf[256];
    for (uint64_t id = 0; id < M_KEYS; id++) {
        size_t klen = key_of(id, kbuf);
        ts_entry *e = ts_table_find(t, kbuf, klen);
        if (mdl[id].present ? (!e || !entry_matches(e, id)) : e != NULL) bad++;
    }
    if (ts_table_size(t) != mdl_count || ts_table_expires(t) != mdl_expires) bad++;
    if ((size_t)objs_live != mdl_ptrs) bad++;
    /* A full scan with no changes sees every entry once, and the memory
     * counter equals the sum of the allocation sizes. */
    scan_acc a = {0, 0};
    uint64_t c = 0;
    do c = ts_table_scan(t, c, 100, acc_cb, &a);
    while (c);
    if (a.n != mdl_count) bad++;
    if (ts_table_memory(t) != a.bytes + ts_table_buckets(t) * sizeof(void *)) bad++;
    return bad;
}

static void test_model(void)
{
    ts_table t;
    ts_table_init(&t, obj_free_cb);
    mdl = calloc(M_KEYS, sizeof *mdl);
    mdl_count = mdl_expires = mdl_ptrs = 0;
    char kbuf[256], vbuf[301];
    int bad = 0, checkpoints = 0;
    long sets = 0, dels = 0, found = 0;
    size_t peak = 0, low = SIZE_MAX;
    uint64_t sweep = 0;

    for (long op = 0; op < M_OPS; op++) {
        if (op % M_PHASE == 0 && op) {
            bad += verify_all(&t);
            checkpoints++;
        }
        /* Phases alternate: ids from the whole range (the table grows), then
         * from 1/32 of it while a sweep deletes the rest (it shrinks). */
        bool narrow = (op / M_PHASE) % 2;
        uint64_t span = narrow ? M_KEYS / 32 : M_KEYS;
        for (int j = 0; narrow && j < 2; j++) {
            uint64_t sid = span + sweep++ % (M_KEYS - span);
            if (mdl[sid].present) {
                size_t sl = key_of(sid, kbuf);
                if (ts_table_delete(&t, kbuf, sl) != 1) bad++;
                model_drop(sid);
            }
        }
        if (ts_table_size(&t) > peak) peak = ts_table_size(&t);
        if (narrow && ts_table_size(&t) < low) low = ts_table_size(&t);
        uint64_t id = rnd_below(span);
        size_t klen = key_of(id, kbuf);
        model *m = &mdl[id];
        uint64_t r = rnd_below(100);
        if (!narrow && r >= 40 && r < 70) r = 0; /* mostly inserts */
        if (r < 40) {
            model nm = *m;
            bool was_present = m->present;
            ts_value v = make_value(id, &nm, vbuf);
            int64_t exp = rnd_below(3) == 0 ? (int64_t)rnd_below(1000000) : -1;
            bool keep = rnd_below(4) == 0;
            ts_entry *e = ts_table_set(&t, kbuf, klen, &v, exp, keep);
            if (was_present) model_drop(id);
            else nm.lru = 0;
            if (!(keep && was_present)) nm.expire = exp;
            nm.present = true;
            mdl_count++;
            if (nm.expire >= 0) mdl_expires++;
            if (nm.form == TS_FORM_PTR) mdl_ptrs++;
            *m = nm;
            if (rnd_below(4) == 0) {
                m->lru = (uint32_t)rnd() & TS_ENTRY_LRU_MAX;
                ts_entry_set_lru(e, m->lru);
            }
            if (!entry_matches(e, id)) bad++;
            sets++;
        } else if (r < 55) {
            int d = ts_table_delete(&t, kbuf, klen);
            if (d != (int)m->present) bad++;
            if (m->present) model_drop(id);
            dels++;
        } else {
            ts_entry *e = ts_table_find(&t, kbuf, klen);
            if (m->present != (e != NULL)) {
                bad++;
                continue;
            }
            if (!e) continue;
            found++;
            if (!entry_matches(e, id)) bad++;
            if (r < 65) {
                continue;
            } else if (r < 75) {
                model nm = *m;
                ts_value v = make_value(id, &nm, vbuf);
                e = ts_table_set_value(&t, e, &v);
                if (m->form == TS_FORM_PTR) mdl_ptrs--;
                if (nm.form == TS_FORM_PTR) mdl_ptrs++;
                *m = nm;
                if (!entry_matches(e, id)) bad++;
            } else if (r < 85) {
                int64_t exp = rnd_below(2) ? (int64_t)rnd_below(1u << 31) : -1;
                e = ts_table_set_expire(&t, e, exp);
                if (m->expire >= 0) mdl_expires--;
                if (exp >= 0) mdl_expires++;
                m->expire = exp;
                if (!entry_matches(e, id)) bad++;
            } else if (r < 90) {
                ts_table_delete_entry(&t, e);
                model_drop(id);
            } else if (r < 95) {
                ts_value out;
                int64_t exp;
                model was = *m;
                ts_table_detach(&t, e, &out, &exp);
                model_drop(id);
                if (exp != was.expire || out.form != was.form || out.type != was.type) bad++;
                if (out.form == TS_FORM_INLINE) {
                    fill_bytes(vbuf, id, was.ver, was.vlen);
                    if (out.s.len != was.vlen || memcmp(out.s.ptr, vbuf, was.vlen) != 0) bad++;
                    free((void *)out.s.ptr);
                } else if (out.form == TS_FORM_PTR) {
                    if (out.ptr != was.o) bad++;
                    obj_release(out.ptr);
                } else if (out.i != was.i) {
                    bad++;
                }
            } else {
                ts_entry *re = ts_table_random(&t);
                size_t kl;
                const char *k = ts_entry_key(re, &kl);
                uint64_t rid = id_of(k, kl);
                if (rid >= M_KEYS || !mdl[rid].present || !entry_matches(re, rid)) bad++;
            }
        }
    }
    bad += verify_all(&t);
    checkpoints++;
    printf("model: %ld sets, %ld deletes, %ld hits, keys %zu..%zu, %zu at end, %d checkpoints\n", sets, dels,
           found, low, peak, ts_table_size(&t), checkpoints);
    CHECK(peak > 400000 && low < peak / 8); /* it grew and shrank */
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(objs_bad_free, 0);
    ts_table_clear(&t);
    CHECK_EQ_INT(objs_live, 0);
    free(mdl);
}

/* ---- incremental rehash ---- */

static size_t num_key(char *buf, const char *prefix, uint64_t i)
{
    return (size_t)snprintf(buf, 40, "%s%" PRIu64, prefix, i);
}

/* Keys prefix0 .. prefix(n-1), each holding its number. */
static void set_numbered(ts_table *t, const char *prefix, uint64_t n)
{
    char k[40];
    for (uint64_t i = 0; i < n; i++) {
        ts_value v = v_int((int64_t)i);
        ts_table_set(t, k, num_key(k, prefix, i), &v, -1, false);
    }
}

static void test_rehash(void)
{
    enum { N = 200000, KEEP = 100 };
    ts_table t;
    ts_table_init(&t, NULL);
    char k[40];
    int bad = 0;
    long run = 0, max_run = 0, episodes = 0;
    bool was = false;
    for (uint64_t i = 0; i < N; i++) {
        ts_value v = v_int((int64_t)i);
        ts_table_set(&t, k, num_key(k, "r", i), &v, -1, false);
        bool now = ts_table_is_rehashing(&t);
        if (now && !was) episodes++;
        run = now ? run + 1 : 0;
        if (run > max_run) max_run = run;
        was = now;
        uint64_t j = rnd_below(i + 1);
        ts_entry *e = ts_table_find(&t, k, num_key(k, "r", j));
        ts_value out;
        if (!e) bad++;
        else {
            ts_entry_value(e, &out);
            if (out.i != (int64_t)j) bad++;
        }
        if (ts_table_find(&t, k, num_key(k, "r", i + 1 + rnd_below(10))) != NULL) bad++;
    }
    printf("rehash grow: %ld episodes, longest %ld inserts, %zu buckets for %zu keys\n", episodes, max_run,
           ts_table_buckets(&t), ts_table_size(&t));
    CHECK(episodes >= 15);
    CHECK(max_run > 1000);
    CHECK_EQ_INT(bad, 0);
    ts_table_rehash_step(&t, 1 << 30);
    CHECK(!ts_table_is_rehashing(&t));
    CHECK(ts_table_buckets(&t) >= N && ts_table_buckets(&t) <= 2 * (size_t)N + 2);

    /* Shrink: delete all but KEEP, with lookups of kept keys in between. */
    run = max_run = episodes = 0;
    was = false;
    for (uint64_t i = KEEP; i < N; i++) {
        if (ts_table_delete(&t, k, num_key(k, "r", i)) != 1) bad++;
        bool now = ts_table_is_rehashing(&t);
        if (now && !was) episodes++;
        run = now ? run + 1 : 0;
        if (run > max_run) max_run = run;
        was = now;
        if (!ts_table_find(&t, k, num_key(k, "r", rnd_below(KEEP)))) bad++;
        if (ts_table_find(&t, k, num_key(k, "r", i))) bad++;
    }
    while (ts_table_rehash_step(&t, 100)) {}
    printf("rehash shrink: %ld episodes, longest %ld deletes, %zu buckets for %zu keys\n", episodes, max_run,
           ts_table_buckets(&t), ts_table_size(&t));
    CHECK(episodes >= 3);
    CHECK(max_run > 10);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(ts_table_size(&t), KEEP);
    CHECK(ts_table_buckets(&t) <= 1024);
    for (uint64_t i = 0; i < KEEP; i++) CHECK(ts_table_find(&t, k, num_key(k, "r", i)) != NULL);

    /* Down to empty: the table bottoms out at 4 buckets. */
    for (uint64_t i = 0; i < KEEP; i++) ts_table_delete(&t, k, num_key(k, "r", i));
    while (ts_table_rehash_step(&t, 100)) {}
    CHECK_EQ_INT(ts_table_size(&t), 0);
    CHECK_EQ_INT(ts_table_buckets(&t), 4);
    ts_table_clear(&t);
}

/* ---- SCAN ---- */

typedef struct scan_ctx {
    bool *seen;
    ts_entry **got;
    size_t ngot, cap;
} scan_ctx;

static void scan_cb(void *ctx, ts_entry *e)
{
    scan_ctx *c = ctx;
    if (c->ngot == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->got = realloc(c->got, c->cap * sizeof *c->got);
    }
    c->got[c->ngot++] = e;
}

static void scan_run(size_t count, uint64_t seed)
{
    enum { STABLE = 5000, EXTRA_PER_CALL = 1500, GROW_CALLS = 40 };
    ts_test_rng = seed;
    ts_table t;
    ts_table_init(&t, NULL);
    set_numbered(&t, "s:", STABLE);
    char k[40];
    scan_ctx c = {calloc(STABLE, 1), NULL, 0, 0};
    uint64_t cursor = 0, next_extra = 0, del_extra = 0;
    long calls = 0, rehashing_calls = 0;
    size_t min_b = SIZE_MAX, max_b = 0;
    int bad = 0;
    do {
        c.ngot = 0;
        cursor = ts_table_scan(&t, cursor, count, scan_cb, &c);
        for (size_t i = 0; i < c.ngot; i++) {
            size_t kl;
            const char *kp = ts_entry_key(c.got[i], &kl);
            /* Reported entries are live right after the call. */
            if (ts_table_find(&t, kp, kl) != c.got[i]) bad++;
            if (kl > 2 && kp[0] == 's') {
                uint64_t id = key_num(kp, kl, 2);
                if (id < STABLE) c.seen[id] = true;
            }
        }
        calls++;
        /* Mutate between calls: grow a lot, then shrink back, then churn. */
        if (calls <= GROW_CALLS) {
            for (int j = 0; j < EXTRA_PER_CALL; j++) {
                ts_value v = v_int(0);
                ts_table_set(&t, k, num_key(k, "x:", next_extra++), &v, -1, false);
            }
        } else if (del_extra < next_extra) {
            for (int j = 0; j < 2 * EXTRA_PER_CALL && del_extra < next_extra; j++)
                ts_table_delete(&t, k, num_key(k, "x:", del_extra++));
        } else {
            ts_value v = v_int(1);
            ts_table_set(&t, k, num_key(k, "y:", rnd_below(1000)), &v, -1, false);
            ts_table_delete(&t, k, num_key(k, "y:", rnd_below(1000)));
        }
        if (rnd_below(3) == 0) ts_table_rehash_step(&t, (int)rnd_below(50));
        if (ts_table_is_rehashing(&t)) rehashing_calls++;
        size_t b = ts_table_buckets(&t);
        if (b < min_b) min_b = b;
        if (b > max_b) max_b = b;
    } while (cursor != 0);
    size_t missing = 0;
    for (size_t i = 0; i < STABLE; i++) missing += !c.seen[i];
    printf("scan count=%zu: %ld calls, %ld while rehashing, buckets %zu..%zu, %zu stable keys missed\n", count,
           calls, rehashing_calls, min_b, max_b, missing);
    CHECK_EQ_INT(missing, 0);
    CHECK_EQ_INT(bad, 0);
    CHECK(rehashing_calls > 0);
    CHECK(max_b >= 8 * min_b); /* it grew and shrank mid-scan */
    free(c.seen);
    free(c.got);
    ts_table_clear(&t);
}

static void scan_exact_cb(void *ctx, ts_entry *e)
{
    size_t kl;
    const char *kp = ts_entry_key(e, &kl);
    unsigned *hits = ctx;
    hits[key_num(kp, kl, 2)]++;
}

static void test_scan(void)
{
    scan_run(1, 11);
    scan_run(10, 12);
    scan_run(37, 13);
    scan_run(100, 14);

    /* Unchanging table, also frozen mid-grow and mid-shrink: every live key
     * is reported exactly once. */
    enum { N = 8192 };
    ts_table t;
    ts_table_init(&t, NULL);
    char k[40];
    uint64_t n = 0;
    int mid_rehash = 0;
    for (int phase = 0; phase < 3; phase++) {
        if (phase == 0) {
            while (n < 3000) {
                ts_value v = v_int(0);
                ts_table_set(&t, k, num_key(k, "e:", n++), &v, -1, false);
            }
            while (ts_table_rehash_step(&t, 100)) {}
        } else if (phase == 1) {
            while (!ts_table_is_rehashing(&t) && n < N) {
                ts_value v = v_int(0);
                ts_table_set(&t, k, num_key(k, "e:", n++), &v, -1, false);
            }
            ts_table_rehash_step(&t, 1000);
        } else {
            while (ts_table_rehash_step(&t, 100)) {}
            while (!ts_table_is_rehashing(&t) && n > 0) ts_table_delete(&t, k, num_key(k, "e:", --n));
            ts_table_rehash_step(&t, 100);
        }
        mid_rehash += ts_table_is_rehashing(&t);
        unsigned *hits = calloc(N, sizeof *hits);
        uint64_t c = 0;
        do c = ts_table_scan(&t, c, 7, scan_exact_cb, hits);
        while (c);
        int wrong = 0;
        for (uint64_t i = 0; i < N; i++) wrong += hits[i] != (unsigned)(i < n);
        CHECK_EQ_INT(wrong, 0);
        free(hits);
    }
    CHECK_EQ_INT(mid_rehash, 2);
    ts_table_clear(&t);

    ts_table_init(&t, NULL);
    CHECK_EQ_INT(ts_table_scan(&t, 0, 10, scan_exact_cb, NULL), 0);
}

/* ---- random ---- */

static void test_random(void)
{
    enum { N = 1000 };
    ts_table t;
    ts_table_init(&t, NULL);
    set_numbered(&t, "q:", N);
    char k[40];
    unsigned *hits = calloc(N, sizeof *hits);
    int bad = 0;
    for (int d = 0; d < 200 * N; d++) {
        ts_entry *e = ts_table_random(&t);
        size_t kl;
        const char *kp = ts_entry_key(e, &kl);
        if (ts_table_find(&t, kp, kl) != e) bad++;
        uint64_t id = key_num(kp, kl, 2);
        if (id < N) hits[id]++;
    }
    unsigned lo = UINT32_MAX, hi = 0;
    for (int i = 0; i < N; i++) {
        if (hits[i] < lo) lo = hits[i];
        if (hits[i] > hi) hi = hits[i];
    }
    printf("random: %d draws over %d keys, per key min %u max %u (mean 200)\n", 200 * N, N, lo, hi);
    CHECK_EQ_INT(bad, 0);
    CHECK(lo > 0);

    /* While rehashing (each draw moves the rehash on), then very sparse. */
    uint64_t n = N;
    while (!ts_table_is_rehashing(&t)) {
        ts_value v = v_int(0);
        ts_table_set(&t, k, num_key(k, "q:", n++), &v, -1, false);
    }
    int during = 0;
    while (ts_table_is_rehashing(&t)) {
        ts_entry *e = ts_table_random(&t);
        size_t kl;
        const char *kp = ts_entry_key(e, &kl);
        if (ts_table_find(&t, kp, kl) != e || key_num(kp, kl, 2) >= n) bad++;
        during++;
    }
    for (uint64_t i = 10; i < n; i++) ts_table_delete(&t, k, num_key(k, "q:", i));
    memset(hits, 0, N * sizeof *hits);
    for (int d = 0; d < 2000; d++) {
        ts_entry *e = ts_table_random(&t);
        size_t kl;
        const char *kp = ts_entry_key(e, &kl);
        uint64_t id = key_num(kp, kl, 2);
        if (id >= 10) bad++;
        else hits[id]++;
    }
    int covered = 0;
    for (int i = 0; i < 10; i++) covered += hits[i] > 0;
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(covered, 10);
    CHECK(during > 1);
    free(hits);
    ts_table_clear(&t);
}

/* ---- memory ---- */

static void test_memory(void)
{
    enum { N = 1000000 };
    ts_table t;
    ts_table_init(&t, NULL);
    size_t rss0 = rss_bytes();
    char k[32], val[32];
    for (int i = 0; i < N; i++) {
        snprintf(k, sizeof k, "key:%012d", i);
        snprintf(val, sizeof val, "val:%012d", i);
        ts_value v = v_str(val, 16);
        ts_table_set(&t, k, 16, &v, -1, false);
    }
    while (ts_table_rehash_step(&t, 1 << 20)) {}
    size_t rss1 = rss_bytes();
    ts_entry *e = ts_table_find(&t, "key:000000123456", 16);
    CHECK(e != NULL);
    ts_value out;
    ts_entry_value(e, &out);
    CHECK_MEM(out.s.ptr, out.s.len, "val:000000123456");
    size_t asz = ts_entry_alloc_size(e);
    double per = (double)ts_table_memory(&t) / (double)ts_table_size(&t);
    printf("memory: %zu keys (16-byte keys, 16-byte values): entry alloc %zu bytes, %zu buckets, "
           "table %.2f bytes/key, RSS growth %.2f bytes/key\n",
           ts_table_size(&t), asz, ts_table_buckets(&t), per, (double)(rss1 - rss0) / N);
#if defined(TS_HAVE_JEMALLOC)
    CHECK_EQ_INT(asz, 48);
#else
    CHECK(asz >= 47); /* the system allocator or ASan rounds differently */
#endif
    CHECK(per < 79.0);
    ts_table_clear(&t);
}

int main(void)
{
    test_memory(); /* first, so its RSS growth figure is not blurred by reuse */
    test_hash();
    test_basic();
    test_model();
    test_rehash();
    test_scan();
    test_random();
    TS_TEST_MAIN_END();
}
