/*
 * rdb.c (unit test) - the RDB value codec of src/persist/ (crc64.c, lzf.c,
 * rdb_value.c).
 *
 * Checks the CRC-64 test vector and its slice-by-8 path against a bitwise
 * reference, LZF round trips on random and compressible data and the
 * decoder's rejection of truncated input, bad back-references and short
 * output buffers, the length and string encodings at every boundary (as
 * bytes), a save/load round trip of every type and encoding (the reloaded
 * value saves to the same bytes, or holds the same members for hashtables),
 * the conversions loading applies under lower thresholds, DUMP payload
 * footers, and that corrupt payloads (hand-made and random) fail with an
 * error instead of crashing (run it under ASan).
 */
#include "tessera/persist/rdb.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/types/intset.h"
#include "tessera/types/listpack.h"
#include "tessera/types/object.h"
#include "tessera/types/quicklist.h"
#include "tessera/types/t_hash.h"
#include "tessera/types/t_set.h"
#include "tessera/types/t_stream.h"
#include "tessera/types/t_zset.h"
#include "tessera/types/zskiplist.h"

#include "ts_test.h"

/* The sorted-set module (t_zset.c) also holds the ZPOP reply code, which
 * links the keyspace and, through it, src/main.c's clock and server
 * functions. None of them runs here: stand-ins keep the link small. */

#define rnd ts_test_rnd

static ts_config cfg;

/* ---------- CRC-64 ---------- */

static uint64_t crc_bitwise(uint64_t crc, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc & 1) ? (crc >> 1) ^ 0x95ac9329ac4bc9b5ULL : crc >> 1;
    }
    return crc;
}

static void test_crc64(void)
{
    CHECK(ts_crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caULL);
    CHECK(ts_crc64(0, "", 0) == 0);
    unsigned char buf[1000];
    for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (unsigned char)rnd();
    for (size_t n = 0; n < 40; n++) CHECK(ts_crc64(0, buf + 3, n) == crc_bitwise(0, buf + 3, n));
    CHECK(ts_crc64(0, buf, sizeof(buf)) == crc_bitwise(0, buf, sizeof(buf)));
    /* incremental = whole */
    CHECK(ts_crc64(ts_crc64(0, buf, 333), buf + 333, 667) == ts_crc64(0, buf, 1000));
}

/* ---------- LZF ---------- */

static void lzf_roundtrip(const unsigned char *in, size_t n, bool expect_smaller)
{
    size_t cap = n + n / 16 + 64;
    unsigned char *c = malloc(cap), *d = malloc(n + 1);
    size_t cl = ts_lzf_compress(in, n, c, cap);
    CHECK(cl > 0);
    if (expect_smaller) CHECK(cl < n / 2);
    CHECK_EQ_INT(ts_lzf_decompress(c, cl, d, n), n);
    CHECK(memcmp(in, d, n) == 0);
    /* one byte short of room: the decoder refuses instead of overflowing */
    if (n > 0) CHECK_EQ_INT(ts_lzf_decompress(c, cl, d, n - 1), 0);
    /* every truncation either fails or decodes a prefix: never more */
    for (size_t cut = 0; cut < cl; cut += 1 + cl / 50) {
        size_t got = ts_lzf_decompress(c, cut, d, n);
        CHECK(got < n || cut == cl);
        CHECK(memcmp(in, d, got) == 0);
    }
    /* compression that does not fit the output fails */
    if (cl > 1) CHECK_EQ_INT(ts_lzf_compress(in, n, c, cl - 1), 0);
    free(c);
    free(d);
}

static void test_lzf(void)
{
    unsigned char buf[70000];
    for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (unsigned char)rnd();
    lzf_roundtrip(buf, sizeof(buf), false);
    lzf_roundtrip(buf, 1, false);
    lzf_roundtrip(buf, 33, false);
    for (size_t i = 0; i < sizeof(buf); i++) buf[i] = (unsigned char)("abcabcabd"[i % 9] + (rnd() % 97 == 0));
    lzf_roundtrip(buf, sizeof(buf), true);
    memset(buf, 'x', sizeof(buf));
    lzf_roundtrip(buf, sizeof(buf), true);   /* long overlapping back-references (264 bytes each) */
    lzf_roundtrip(buf, 3, false);
    CHECK_EQ_INT(ts_lzf_compress(buf, 0, buf + 10, 100), 0);

    unsigned char out[64];
    /* a back-reference before the start of the output */
    const unsigned char bad_ref[] = {0x00, 'a', 0x20, 0x05};
    CHECK_EQ_INT(ts_lzf_decompress(bad_ref, sizeof(bad_ref), out, sizeof(out)), 0);
    const unsigned char first_ref[] = {0x20, 0x00};
    CHECK_EQ_INT(ts_lzf_decompress(first_ref, sizeof(first_ref), out, sizeof(out)), 0);
    /* a literal run longer than the input */
    const unsigned char long_lit[] = {0x1f, 'a', 'b'};
    CHECK_EQ_INT(ts_lzf_decompress(long_lit, sizeof(long_lit), out, sizeof(out)), 0);
    /* a back-reference missing its offset byte / its extended length byte */
    const unsigned char no_off[] = {0x00, 'a', 0x20};
    CHECK_EQ_INT(ts_lzf_decompress(no_off, sizeof(no_off), out, sizeof(out)), 0);
    const unsigned char no_len[] = {0x00, 'a', 0xe0};
    CHECK_EQ_INT(ts_lzf_decompress(no_len, sizeof(no_len), out, sizeof(out)), 0);
    /* a valid one: "a" then copy 3 from 1 back = "aaaa" */
    const unsigned char ok[] = {0x00, 'a', 0x20, 0x00};
    CHECK_EQ_INT(ts_lzf_decompress(ok, sizeof(ok), out, sizeof(out)), 4);
    CHECK(memcmp(out, "aaaa", 4) == 0);
    /* random garbage never writes past the output (ASan checks it) */
    for (int t = 0; t < 2000; t++) {
        unsigned char g[40];
        for (size_t i = 0; i < sizeof(g); i++) g[i] = (unsigned char)rnd();
        unsigned char *o = malloc(50);
        size_t got = ts_lzf_decompress(g, 1 + rnd() % sizeof(g), o, 50);
        CHECK(got <= 50);
        free(o);
    }
}

/* ---------- lengths and strings ---------- */

static bool saved_len_is(uint64_t len, const char *hex_bytes, size_t nbytes)
{
    ts_buf b;
    ts_buf_init(&b);
    ts_rdb_save_len(&b, len);
    bool ok = b.len == nbytes && memcmp(b.data, hex_bytes, nbytes) == 0;
    ts_rdb_reader r;
    ts_rdb_reader_init(&r, b.data, b.len);
    uint64_t back = 0;
    ok = ok && ts_rdb_read_len(&r, &back, NULL) == 0 && back == len && r.p == r.end;
    ts_buf_free(&b);
    return ok;
}

static void test_lengths(void)
{
    CHECK(saved_len_is(0, "\x00", 1));
    CHECK(saved_len_is(63, "\x3f", 1));
    CHECK(saved_len_is(64, "\x40\x40", 2));
    CHECK(saved_len_is(16383, "\x7f\xff", 2));
    CHECK(saved_len_is(16384, "\x80\x00\x00\x40\x00", 5));
    CHECK(saved_len_is(UINT32_MAX, "\x80\xff\xff\xff\xff", 5));
    CHECK(saved_len_is((uint64_t)UINT32_MAX + 1, "\x81\x00\x00\x00\x01\x00\x00\x00\x00", 9));
    CHECK(saved_len_is(UINT64_MAX, "\x81\xff\xff\xff\xff\xff\xff\xff\xff", 9));
    /* truncated forms and unknown ones */
    const char *bad[] = {"\x40", "\x80\x00\x00", "\x81\x00", "\x82", ""};
    size_t badn[] = {1, 3, 2, 1, 0};
    for (int i = 0; i < 5; i++) {
        ts_rdb_reader r;
        ts_rdb_reader_init(&r, bad[i], badn[i]);
        uint64_t v;
        CHECK_EQ_INT(ts_rdb_read_len(&r, &v, NULL), -1);
        CHECK(r.err != NULL);
        CHECK_EQ_INT(ts_rdb_read_len(&r, &v, NULL), -1);   /* sticky */
    }
    /* an encoded string where a plain length is wanted */
    ts_rdb_reader r;
    ts_rdb_reader_init(&r, "\xc0\x01", 2);
    uint64_t v;
    CHECK_EQ_INT(ts_rdb_read_len(&r, &v, NULL), -1);
}

/* Saves s, checks the bytes (when expect != NULL), reads it back. */
static bool string_case(const char *s, size_t n, bool compress, const char *expect, size_t en)
{
    ts_buf b;
    ts_buf_init(&b);
    ts_rdb_save_string(&b, s, n, compress);
    bool ok = !expect || (b.len == en && memcmp(b.data, expect, en) == 0);
    ts_rdb_reader r;
    ts_rdb_reader_init(&r, b.data, b.len);
    char *out;
    size_t on;
    if (ts_rdb_read_string(&r, &out, &on) == 0) {
        ok = ok && on == n && memcmp(out, s, n) == 0 && out[n] == '\0' && r.p == r.end;
        free(out);
    } else {
        ok = false;
    }
    ts_rdb_reader_init(&r, b.data, b.len);
    ok = ok && ts_rdb_skip_string(&r) == 0 && r.p == r.end;
    ts_buf_free(&b);
    return ok;
}

#define STR(s) s, sizeof(s) - 1

static void test_strings(void)
{
    CHECK(string_case(STR("0"), true, STR("\xc0\x00")));
    CHECK(string_case(STR("-128"), true, STR("\xc0\x80")));
    CHECK(string_case(STR("127"), true, STR("\xc0\x7f")));
    CHECK(string_case(STR("128"), true, STR("\xc1\x80\x00")));
    CHECK(string_case(STR("-32768"), true, STR("\xc1\x00\x80")));
    CHECK(string_case(STR("32768"), true, STR("\xc2\x00\x80\x00\x00")));
    CHECK(string_case(STR("2147483647"), true, STR("\xc2\xff\xff\xff\x7f")));
    CHECK(string_case(STR("-2147483648"), true, STR("\xc2\x00\x00\x00\x80")));
    CHECK(string_case(STR("2147483648"), true, STR("\x0a" "2147483648")));
    CHECK(string_case(STR("-0"), true, STR("\x02-0")));
    CHECK(string_case(STR("01"), true, STR("\x02" "01")));
    CHECK(string_case(STR("+1"), true, STR("\x02+1")));
    CHECK(string_case(STR(""), true, STR("\x00")));
    /* 20 bytes: never compressed; 21: compressed when it gains 4 bytes */
    CHECK(string_case(STR("aaaaaaaaaaaaaaaaaaaa"), true, STR("\x14" "aaaaaaaaaaaaaaaaaaaa")));
    {
        ts_buf b;
        ts_buf_init(&b);
        ts_rdb_save_string(&b, STR("aaaaaaaaaaaaaaaaaaaaa"), true);
        CHECK((unsigned char)b.data[0] == 0xc3);
        ts_buf_free(&b);
        ts_buf_init(&b);
        ts_rdb_save_string(&b, STR("aaaaaaaaaaaaaaaaaaaaa"), false);
        CHECK_EQ_INT(b.len, 22);
        ts_buf_free(&b);
    }
    CHECK(string_case(STR("aaaaaaaaaaaaaaaaaaaaa"), true, NULL, 0));
    char big[20000];
    for (size_t i = 0; i < sizeof(big); i++) big[i] = (char)('a' + i % 13);
    CHECK(string_case(big, sizeof(big), true, NULL, 0));
    CHECK(string_case(big, sizeof(big), false, NULL, 0));
    for (size_t i = 0; i < sizeof(big); i++) big[i] = (char)rnd();   /* incompressible: stored raw */
    {
        ts_buf b;
        ts_buf_init(&b);
        ts_rdb_save_string(&b, big, 100, true);
        CHECK_EQ_INT(b.len, 102);
        ts_buf_free(&b);
    }
    CHECK(string_case(big, sizeof(big), true, NULL, 0));

    /* ll strings: int encoding within 32 bits, digits beyond */
    ts_buf b;
    ts_buf_init(&b);
    ts_rdb_save_ll_string(&b, -5);
    CHECK(b.len == 2 && memcmp(b.data, "\xc0\xfb", 2) == 0);
    b.len = 0;
    ts_rdb_save_ll_string(&b, INT64_MIN);
    CHECK(b.len == 21 && b.data[0] == 20 && memcmp(b.data + 1, "-9223372036854775808", 20) == 0);
    ts_buf_free(&b);

    /* corrupt strings */
    const char *bad[] = {"\x05" "abc", "\xc0", "\xc1\x01", "\xc2\x01\x02", "\xc4", "\xc3\x05\x0a\x00\x61",
                         "\xc3\x02\x0a\x00\x61", "\xc3\x02\x40\x00\x00\x61", "\xc3\x01\x00\x00"};
    size_t badn[] = {4, 1, 2, 3, 1, 5, 5, 6, 4};
    for (size_t i = 0; i < TS_ARRAY_LEN(bad); i++) {
        ts_rdb_reader r;
        ts_rdb_reader_init(&r, bad[i], badn[i]);
        char *out;
        size_t on;
        CHECK_EQ_INT(ts_rdb_read_string(&r, &out, &on), -1);
    }
    /* text doubles (old ZSET) and binary doubles */
    ts_rdb_reader r;
    double d;
    ts_rdb_reader_init(&r, "\xfe", 1);
    CHECK(ts_rdb_read_text_double(&r, &d) == 0 && isinf(d) && d > 0);
    ts_rdb_reader_init(&r, "\xff", 1);
    CHECK(ts_rdb_read_text_double(&r, &d) == 0 && isinf(d) && d < 0);
    ts_rdb_reader_init(&r, "\x04" "-1.5", 5);
    CHECK(ts_rdb_read_text_double(&r, &d) == 0 && d == -1.5);
    ts_rdb_reader_init(&r, "\x04" "1.5x", 5);
    CHECK_EQ_INT(ts_rdb_read_text_double(&r, &d), -1);
    ts_rdb_reader_init(&r, "\x00\x00\x00\x00\x00\x00\xf8\x3f", 8);
    CHECK(ts_rdb_read_binary_double(&r, &d) == 0 && d == 1.5);
}

/* ---------- values ---------- */

static ts_value ptr_value(int type, int enc, void *obj)
{
    return (ts_value){.type = (uint8_t)type, .enc = (uint8_t)enc, .form = TS_FORM_PTR, .ptr = obj};
}

static void free_value(ts_value *v)
{
    if (v->form == TS_FORM_PTR) ts_type_ops_of(v->type)->free(v->ptr, v->enc);
    else if (v->form == TS_FORM_INLINE) free((void *)v->s.ptr);
}

static void save(const ts_value *v, ts_buf *b, bool compress)
{
    ts_buf_init(b);
    ts_rdb_save_value(b, v, compress);
}

/* Whether ts_rdb_skip_value gets over b exactly (what the parallel
 * startup loader relies on to cut a file into values). */
static bool skips_exactly(const ts_buf *b, int rdbtype)
{
    ts_rdb_reader r;
    ts_rdb_reader_init(&r, b->data, b->len);
    return ts_rdb_skip_value(&r, rdbtype) == 0 && r.p == r.end;
}

/* Loads b as rdbtype; 0 and *out on success. A value that loads is also
 * skipped over exactly. */
static int load(const ts_buf *b, int rdbtype, ts_value *out)
{
    ts_rdb_reader r;
    ts_rdb_reader_init(&r, b->data, b->len);
    int rc = ts_rdb_load_value(&r, rdbtype, &cfg, out);
    if (rc == 0 && r.p != r.end) {   /* must consume exactly the payload */
        free_value(out);
        rc = -2;
    }
    if (rc == 0) CHECK(skips_exactly(b, rdbtype));
    return rc;
}

typedef struct member_check {
    void *obj;
    int enc;
    bool ok;
} member_check;

static void check_hash_pair(void *ctx, ts_hobj_str f, ts_hobj_str v)
{
    member_check *m = ctx;
    char buf[TS_HOBJ_NUMBUF];
    ts_hobj_str got;
    if (!ts_hobj_get(m->obj, m->enc, f.p, f.n, buf, &got) || got.n != v.n || memcmp(got.p, v.p, v.n) != 0)
        m->ok = false;
}

static void check_set_member(void *ctx, const char *p, size_t n)
{
    member_check *m = ctx;
    if (!ts_set_has(m->obj, m->enc, p, n)) m->ok = false;
}

/* Save, load, compare: same rdb type, same encoding, and the same bytes
 * when saved again (hashtables: the same members instead). */
static void roundtrip(ts_value *v, int expect_rdbtype)
{
    CHECK_EQ_INT(ts_rdb_value_type(v), expect_rdbtype);
    for (int compress = 0; compress < 2; compress++) {
        ts_buf a, b;
        save(v, &a, compress);
        ts_value w;
        int rc = load(&a, ts_rdb_value_type(v), &w);
        CHECK_EQ_INT(rc, 0);
        if (rc != 0) {
            ts_buf_free(&a);
            continue;
        }
        CHECK_EQ_INT(w.type, v->type);
        CHECK_EQ_INT(w.enc, v->enc);
        save(&w, &b, compress);
        if (v->enc == TS_ENC_HASHTABLE) {
            CHECK_EQ_INT(a.len, b.len);
            member_check m = {w.ptr, w.enc, true};
            if (v->type == TS_TYPE_HASH) {
                CHECK_EQ_INT(ts_hobj_len(w.ptr, w.enc), ts_hobj_len(v->ptr, v->enc));
                ts_hobj_foreach(v->ptr, v->enc, check_hash_pair, &m);
            } else {
                CHECK_EQ_INT(ts_set_size(w.ptr, w.enc), ts_set_size(v->ptr, v->enc));
                ts_set_foreach(v->ptr, v->enc, check_set_member, &m);
            }
            CHECK(m.ok);
        } else {
            CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
        }
        /* every truncation fails cleanly */
        for (size_t cut = 0; cut < a.len; cut += 1 + a.len / 64) {
            ts_buf t = {a.data, cut, cut};
            ts_value x;
            int trc = load(&t, ts_rdb_value_type(v), &x);
            if (trc == 0) free_value(&x);
            CHECK(trc != 0);
            CHECK(!skips_exactly(&t, ts_rdb_value_type(v)));
        }
        /* random byte flips: an error or a value, never a crash */
        for (int t = 0; t < 300 && a.len > 0; t++) {
            ts_buf c;
            ts_buf_init(&c);
            ts_buf_append(&c, a.data, a.len);
            for (int k = 0; k < 1 + (int)(rnd() % 3); k++) c.data[rnd() % c.len] = (char)rnd();
            ts_value x;
            if (load(&c, ts_rdb_value_type(v), &x) == 0) {
                ts_buf again;
                save(&x, &again, true);   /* a loaded value must be usable */
                ts_buf_free(&again);
                free_value(&x);
            }
            ts_buf_free(&c);
        }
        free_value(&w);
        ts_buf_free(&a);
        ts_buf_free(&b);
    }
}

static void test_string_values(void)
{
    ts_value v = {.type = TS_TYPE_STRING, .enc = TS_ENC_INT, .form = TS_FORM_INT, .i = 123456789012LL};
    roundtrip(&v, TS_RDB_TYPE_STRING);
    v.i = -7;
    roundtrip(&v, TS_RDB_TYPE_STRING);
    char big[300];
    memset(big, 'q', sizeof(big));
    v = (ts_value){.type = TS_TYPE_STRING, .enc = TS_ENC_RAW, .form = TS_FORM_INLINE, .s = {big, sizeof(big)}};
    ts_buf a;
    save(&v, &a, true);
    ts_value w;
    CHECK_EQ_INT(load(&a, TS_RDB_TYPE_STRING, &w), 0);
    CHECK(w.form == TS_FORM_INLINE && w.enc == TS_ENC_RAW && w.s.len == sizeof(big) &&
          memcmp(w.s.ptr, big, sizeof(big)) == 0);
    free_value(&w);
    ts_buf_free(&a);
    v.s.len = 10;
    save(&v, &a, true);
    CHECK(load(&a, TS_RDB_TYPE_STRING, &w) == 0 && w.enc == TS_ENC_EMBSTR);
    free_value(&w);
    ts_buf_free(&a);
    /* "12" loads as an INT value, like Redis's tryObjectEncoding */
    ts_buf_init(&a);
    ts_buf_append(&a, "\x02" "12", 3);
    CHECK(load(&a, TS_RDB_TYPE_STRING, &w) == 0 && w.form == TS_FORM_INT && w.i == 12);
    ts_buf_free(&a);
}

static void test_list_values(void)
{
    ts_quicklist *ql = ts_ql_new(-2, 0);
    char buf[64];
    for (int i = 0; i < 5000; i++) {
        int n = i % 3 ? snprintf(buf, sizeof buf, "element-%d", i) : snprintf(buf, sizeof buf, "%lld", (long long)i * 1000003);
        ts_ql_push(ql, TS_QL_TAIL, buf, (size_t)n);
    }
    CHECK(ql->len > 1);
    ts_value v = ptr_value(TS_TYPE_LIST, TS_ENC_QUICKLIST, ql);
    roundtrip(&v, TS_RDB_TYPE_LIST_QUICKLIST_2);
    free_value(&v);
    ql = ts_ql_new(-2, 0);
    ts_ql_push(ql, TS_QL_TAIL, "x", 1);
    v = ptr_value(TS_TYPE_LIST, TS_ENC_QUICKLIST, ql);
    roundtrip(&v, TS_RDB_TYPE_LIST_QUICKLIST_2);
    free_value(&v);
    /* the old LIST (1): a count and plain strings */
    ts_buf a;
    ts_buf_init(&a);
    ts_buf_append(&a, "\x03\x01" "a\xc0\x05\x02" "bc", 8);
    ts_value w;
    CHECK(load(&a, TS_RDB_TYPE_LIST, &w) == 0 && ts_ql_count(w.ptr) == 3);
    ts_lp_val e;
    CHECK(ts_ql_index(w.ptr, 1, &e) && !e.str && e.ll == 5);
    free_value(&w);
    /* a PLAIN node (container 1) holds one element as it is */
    a.len = 0;
    ts_buf_append(&a, "\x01\x01\x03" "big", 6);
    CHECK(load(&a, TS_RDB_TYPE_LIST_QUICKLIST_2, &w) == 0 && ts_ql_count(w.ptr) == 1);
    free_value(&w);
    /* unknown container, empty list, an invalid listpack node */
    const char *bad[] = {"\x01\x03\x03" "big", "\x00", "\x01\x02\x07" "\x07\x00\x00\x00\x00\x00\xfe"};
    size_t badn[] = {6, 1, 10};
    for (int i = 0; i < 3; i++) {
        a.len = 0;
        ts_buf_append(&a, bad[i], badn[i]);
        CHECK_EQ_INT(load(&a, TS_RDB_TYPE_LIST_QUICKLIST_2, &w), -1);
    }
    ts_buf_free(&a);
}

static void test_hash_values(void)
{
    int enc;
    void *h = ts_hobj_new(&enc);
    char f[32], val[32];
    for (int i = 0; i < 20; i++) {
        int fl = snprintf(f, sizeof f, "f%d", i), vl = snprintf(val, sizeof val, "%d", i * 77);
        ts_hobj_set(&h, &enc, f, (size_t)fl, val, (size_t)vl, 512, 64);
    }
    CHECK_EQ_INT(enc, TS_ENC_LISTPACK);
    ts_value v = ptr_value(TS_TYPE_HASH, enc, h);
    roundtrip(&v, TS_RDB_TYPE_HASH_LISTPACK);
    /* past the entry threshold, a listpack payload loads as a hashtable */
    ts_buf a;
    save(&v, &a, false);
    cfg.hash_max_listpack_entries = 10;
    ts_value w;
    CHECK(load(&a, TS_RDB_TYPE_HASH_LISTPACK, &w) == 0 && w.enc == TS_ENC_HASHTABLE &&
          ts_hobj_len(w.ptr, w.enc) == 20);
    cfg.hash_max_listpack_entries = 512;
    free_value(&w);
    ts_buf_free(&a);
    free_value(&v);

    h = ts_hobj_new(&enc);
    for (int i = 0; i < 700; i++) {
        int fl = snprintf(f, sizeof f, "field:%d", i), vl = snprintf(val, sizeof val, "v%d", i);
        ts_hobj_set(&h, &enc, f, (size_t)fl, val, (size_t)vl, 512, 64);
    }
    CHECK_EQ_INT(enc, TS_ENC_HASHTABLE);
    v = ptr_value(TS_TYPE_HASH, enc, h);
    roundtrip(&v, TS_RDB_TYPE_HASH);
    /* a small HASH (4) payload becomes a listpack; a long value keeps it a table */
    ts_buf_init(&a);
    ts_buf_append(&a, "\x02\x01" "a\x01" "b\x01" "c\xc0\x07", 9);
    CHECK(load(&a, TS_RDB_TYPE_HASH, &w) == 0 && w.enc == TS_ENC_LISTPACK && ts_hobj_len(w.ptr, w.enc) == 2);
    free_value(&w);
    cfg.hash_max_listpack_value = 0;
    CHECK(load(&a, TS_RDB_TYPE_HASH, &w) == 0 && w.enc == TS_ENC_HASHTABLE);
    cfg.hash_max_listpack_value = 64;
    free_value(&w);
    /* duplicate field, empty hash */
    a.len = 0;
    ts_buf_append(&a, "\x02\x01" "a\x01" "b\x01" "a\x01" "c", 9);
    CHECK_EQ_INT(load(&a, TS_RDB_TYPE_HASH, &w), -1);
    a.len = 0;
    ts_buf_append(&a, "\x00", 1);
    CHECK_EQ_INT(load(&a, TS_RDB_TYPE_HASH, &w), -1);
    ts_buf_free(&a);
    free_value(&v);

    /* listpack payloads: odd count, duplicate fields, empty */
    unsigned char *lp = ts_lp_new();
    lp = ts_lp_append(lp, "a", 1);
    lp = ts_lp_append(lp, "1", 1);
    lp = ts_lp_append(lp, "a", 1);
    ts_buf_init(&a);
    ts_rdb_save_string(&a, (const char *)lp, ts_lp_bytes(lp), false);
    CHECK_EQ_INT(load(&a, TS_RDB_TYPE_HASH_LISTPACK, &w), -1);
    lp = ts_lp_append(lp, "2", 1);
    a.len = 0;
    ts_rdb_save_string(&a, (const char *)lp, ts_lp_bytes(lp), false);
    CHECK_EQ_INT(load(&a, TS_RDB_TYPE_HASH_LISTPACK, &w), -1);
    ts_lp_free(lp);
    lp = ts_lp_new();
    a.len = 0;
    ts_rdb_save_string(&a, (const char *)lp, ts_lp_bytes(lp), false);
    CHECK_EQ_INT(load(&a, TS_RDB_TYPE_HASH_LISTPACK, &w), -1);
    ts_lp_free(lp);
    ts_buf_free(&a);
}

static void test_set_values(void)
{
    int enc = TS_ENC_INTSET;
    void *s = ts_set_new(enc);
    char buf[32];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(buf, sizeof buf, "%lld", (long long)(i * 100003) - 40000);
        ts_set_add(&s, &enc, buf, (size_t)n, 512);
    }
    ts_set_add(&s, &enc, "9000000000", 10, 512);
    CHECK_EQ_INT(enc, TS_ENC_INTSET);
    ts_value v = ptr_value(TS_TYPE_SET, enc, s);
    roundtrip(&v, TS_RDB_TYPE_SET_INTSET);
    ts_buf a;
    save(&v, &a, false);
    cfg.set_max_intset_entries = 50;
    ts_value w;
    CHECK(load(&a, TS_RDB_TYPE_SET_INTSET, &w) == 0 && w.enc == TS_ENC_HASHTABLE && ts_set_size(w.ptr, w.enc) == 101);
    cfg.set_max_intset_entries = 512;
    free_value(&w);
    ts_buf_free(&a);
    free_value(&v);

    enc = TS_ENC_HASHTABLE;
    s = ts_set_new(enc);
    for (int i = 0; i < 300; i++) {
        int n = snprintf(buf, sizeof buf, "m%d", i);
        ts_set_add(&s, &enc, buf, (size_t)n, 512);
    }
    v = ptr_value(TS_TYPE_SET, enc, s);
    roundtrip(&v, TS_RDB_TYPE_SET);
    free_value(&v);
    /* SET (2): integers make an intset, a duplicate is an error */
    ts_buf_init(&a);
    ts_buf_append(&a, "\x02\xc0\x01\xc0\x02", 5);
    CHECK(load(&a, TS_RDB_TYPE_SET, &w) == 0 && w.enc == TS_ENC_INTSET);
    free_value(&w);
    a.len = 0;
    ts_buf_append(&a, "\x02\xc0\x01\x01" "1", 5);
    CHECK_EQ_INT(load(&a, TS_RDB_TYPE_SET, &w), -1);
    /* an intset blob out of order */
    a.len = 0;
    ts_buf_append(&a, "\x0c\x02\x00\x00\x00\x02\x00\x00\x00\x05\x00\x01\x00", 13);
    CHECK_EQ_INT(load(&a, TS_RDB_TYPE_SET_INTSET, &w), -1);
    ts_buf_free(&a);
}

static void test_zset_values(void)
{
    ts_zset z = ts_zset_create(&cfg, 1);
    const double scores[] = {1, 2.5, -INFINITY, INFINITY, 0, -0.125, 1e300, 3};
    char m[32];
    for (size_t i = 0; i < TS_ARRAY_LEN(scores); i++) {
        int n = snprintf(m, sizeof m, "m%zu", i);
        int out;
        ts_zset_add(&z, &cfg, scores[i], m, (size_t)n, 0, &out, NULL);
    }
    CHECK_EQ_INT(z.enc, TS_ENC_LISTPACK);
    ts_value v = ptr_value(TS_TYPE_ZSET, z.enc, z.ptr);
    roundtrip(&v, TS_RDB_TYPE_ZSET_LISTPACK);
    ts_buf a;
    save(&v, &a, false);
    cfg.zset_max_listpack_entries = 4;
    ts_value w;
    CHECK(load(&a, TS_RDB_TYPE_ZSET_LISTPACK, &w) == 0 && w.enc == TS_ENC_SKIPLIST);
    cfg.zset_max_listpack_entries = 128;
    free_value(&w);
    ts_buf_free(&a);
    free_value(&v);

    z = ts_zset_create(&cfg, 1);
    for (int i = 0; i < 500; i++) {
        int n = snprintf(m, sizeof m, "member-%d", i);
        int out;
        ts_zset_add(&z, &cfg, (i % 50) * 0.5 - 3, m, (size_t)n, 0, &out, NULL);
    }
    CHECK_EQ_INT(z.enc, TS_ENC_SKIPLIST);
    v = ptr_value(TS_TYPE_ZSET, z.enc, z.ptr);
    roundtrip(&v, TS_RDB_TYPE_ZSET_2);
    free_value(&v);
    /* a small ZSET_2 payload becomes a listpack; ZSET (3) text scores; NaN and duplicates fail */
    ts_buf_init(&a);
    ts_buf_append(&a, "\x01\x01" "a\x00\x00\x00\x00\x00\x00\xf0\x3f", 11);
    CHECK(load(&a, TS_RDB_TYPE_ZSET_2, &w) == 0 && w.enc == TS_ENC_LISTPACK);
    free_value(&w);
    a.len = 0;
    ts_buf_append(&a, "\x02\x01" "a\x03" "1.5\x01" "b\xff", 10);
    CHECK(load(&a, TS_RDB_TYPE_ZSET, &w) == 0 && w.enc == TS_ENC_LISTPACK);
    free_value(&w);
    a.len = 0;
    ts_buf_append(&a, "\x01\x01" "a\xfd", 4);
    CHECK_EQ_INT(load(&a, TS_RDB_TYPE_ZSET, &w), -1);
    a.len = 0;
    ts_buf_append(&a, "\x02\x01" "a\x01" "1\x01" "a\x01" "2", 9);
    CHECK_EQ_INT(load(&a, TS_RDB_TYPE_ZSET, &w), -1);
    /* listpack blobs: unsorted, non-numeric score */
    unsigned char *lp = ts_lp_new();
    lp = ts_lp_append(lp, "b", 1);
    lp = ts_lp_append(lp, "2", 1);
    lp = ts_lp_append(lp, "a", 1);
    lp = ts_lp_append(lp, "1", 1);
    a.len = 0;
    ts_rdb_save_string(&a, (const char *)lp, ts_lp_bytes(lp), false);
    CHECK_EQ_INT(load(&a, TS_RDB_TYPE_ZSET_LISTPACK, &w), -1);
    ts_lp_free(lp);
    lp = ts_lp_new();
    lp = ts_lp_append(lp, "a", 1);
    lp = ts_lp_append(lp, "x1", 2);
    a.len = 0;
    ts_rdb_save_string(&a, (const char *)lp, ts_lp_bytes(lp), false);
    CHECK_EQ_INT(load(&a, TS_RDB_TYPE_ZSET_LISTPACK, &w), -1);
    ts_lp_free(lp);
    ts_buf_free(&a);
}

static void xadd(ts_stream *s, uint64_t ms, uint64_t seq, const char *f, const char *v)
{
    ts_stream_id id = {ms, seq};
    ts_arg fv[4] = {{f, strlen(f)}, {v, strlen(v)}, {"n", 1}, {v, strlen(v)}};
    ts_stream_append(s, &id, fv, 2, 4096, 10);
}

static void test_stream_values(void)
{
    ts_stream *s = ts_stream_new();
    char v[32];
    for (int i = 1; i <= 60; i++) {
        snprintf(v, sizeof v, "value-%d", i);
        xadd(s, (uint64_t)i, (uint64_t)(i % 3), i % 7 ? "f" : "other", v);
    }
    ts_stream_delete(s, &(ts_stream_id){5, 2});
    ts_stream_delete(s, &(ts_stream_id){30, 0});
    CHECK(s->nnodes > 1);
    ts_stream_cg *g = ts_stream_cg_create(s, "g1", 2, &(ts_stream_id){0, 0}, 0);
    ts_stream_cg_create(s, "g0", 2, &(ts_stream_id){3, 0}, TS_STREAM_READ_INVALID);
    ts_stream_consumer *alice = ts_stream_consumer_get(g, "alice", 5, 1000, NULL);
    ts_stream_consumer *bob = ts_stream_consumer_get(g, "bob", 3, 2000, NULL);
    ts_stream_cg_deliver(g, alice, &(ts_stream_id){1, 1}, 5000);
    ts_stream_cg_deliver(g, alice, &(ts_stream_id){2, 2}, 5001);
    ts_stream_cg_deliver(g, bob, &(ts_stream_id){3, 0}, 5002);
    ts_stream_consumer_get(g, "carol", 5, 3000, NULL);
    g->last_id = (ts_stream_id){3, 0};
    ts_value val = ptr_value(TS_TYPE_STREAM, TS_ENC_STREAM, s);
    roundtrip(&val, TS_RDB_TYPE_STREAM_LISTPACKS_2);

    free_value(&val);

    /* a v1 stream (type 15) as Redis 6.x wrote it: no first ID, max deleted
     * ID, entries added, entries_read */
    s = ts_stream_new();
    for (int i = 1; i <= 5; i++) xadd(s, (uint64_t)i, 0, "f", "v");
    ts_buf a;
    ts_buf_init(&a);
    ts_rdb_save_len(&a, s->nnodes);
    for (size_t i = 0; i < s->nnodes; i++) {
        unsigned char key[16] = {0};
        key[7] = (unsigned char)s->nodes[i].master.ms;   /* small ids: the low byte of ms, seq 0 */
        ts_rdb_save_string(&a, (const char *)key, 16, false);
        ts_rdb_save_string(&a, (const char *)s->nodes[i].lp, ts_lp_bytes(s->nodes[i].lp), false);
    }
    ts_rdb_save_len(&a, 5);
    ts_rdb_save_len(&a, 5);
    ts_rdb_save_len(&a, 0);
    ts_rdb_save_len(&a, 1);                       /* one group, "g", last id 2-0, empty PEL, no consumers */
    ts_rdb_save_string(&a, "g", 1, false);
    ts_rdb_save_len(&a, 2);
    ts_rdb_save_len(&a, 0);
    ts_rdb_save_len(&a, 0);
    ts_rdb_save_len(&a, 0);
    ts_value w;
    CHECK_EQ_INT(load(&a, TS_RDB_TYPE_STREAM_LISTPACKS, &w), 0);
    if (w.form == TS_FORM_PTR) {
        ts_stream *l = w.ptr;
        CHECK(l->length == 5 && l->entries_added == 5 && l->first_id.ms == 1 && l->last_id.ms == 5);
        CHECK(l->ngroups == 1 && l->groups[0]->entries_read == TS_STREAM_READ_INVALID);   /* mid-stream: unknown, as Redis estimates it */
        free_value(&w);
    }
    ts_buf_free(&a);
    ts_stream_free(s);

    /* an empty stream */
    s = ts_stream_new();
    xadd(s, 1, 0, "a", "b");
    ts_stream_delete(s, &(ts_stream_id){1, 0});
    val = ptr_value(TS_TYPE_STREAM, TS_ENC_STREAM, s);
    roundtrip(&val, TS_RDB_TYPE_STREAM_LISTPACKS_2);
    free_value(&val);

    /* node listpacks that are listpacks but not stream nodes */
    unsigned char *lp = ts_lp_new();
    lp = ts_lp_append_int(lp, 1);
    lp = ts_lp_append_int(lp, 0);
    lp = ts_lp_append_int(lp, 1);
    lp = ts_lp_append(lp, "f", 1);
    lp = ts_lp_append_int(lp, 0);
    CHECK(!ts_stream_node_validate(lp, ts_lp_bytes(lp)));   /* count 1, no entry */
    lp = ts_lp_append_int(lp, TS_STREAM_F_SAMEFIELDS);
    lp = ts_lp_append_int(lp, 0);
    lp = ts_lp_append_int(lp, 0);
    lp = ts_lp_append(lp, "v", 1);
    lp = ts_lp_append_int(lp, 5);                           /* wrong lp-count */
    CHECK(!ts_stream_node_validate(lp, ts_lp_bytes(lp)));
    lp = ts_lp_replace_int(lp, &(unsigned char *){ts_lp_last(lp)}, 4);
    CHECK(ts_stream_node_validate(lp, ts_lp_bytes(lp)));
    ts_lp_free(lp);
}

static void test_unsupported_types(void)
{
    const int types[] = {6, TS_RDB_TYPE_MODULE_2, 8, TS_RDB_TYPE_HASH_ZIPMAP, TS_RDB_TYPE_LIST_ZIPLIST,
                         TS_RDB_TYPE_ZSET_ZIPLIST, TS_RDB_TYPE_HASH_ZIPLIST, TS_RDB_TYPE_LIST_QUICKLIST, 20, 255};
    for (size_t i = 0; i < TS_ARRAY_LEN(types); i++) {
        ts_rdb_reader r;
        ts_rdb_reader_init(&r, "\x01\x01" "a", 3);
        ts_value w;
        CHECK_EQ_INT(ts_rdb_load_value(&r, types[i], &cfg, &w), -1);
        CHECK(r.err != NULL);
        ts_rdb_reader_init(&r, "\x01\x01" "a", 3);
        CHECK_EQ_INT(ts_rdb_skip_value(&r, types[i]), -1);
        CHECK(r.err != NULL);
    }
}

static void test_payloads(void)
{
    ts_value v = {.type = TS_TYPE_STRING, .enc = TS_ENC_EMBSTR, .form = TS_FORM_INLINE, .s = {"v", 1}};
    ts_buf b;
    ts_buf_init(&b);
    ts_rdb_dump_payload(&b, &v, true);
    /* Redis 7.0's DUMP of "v": type 0, "\x01v", version 10, CRC */
    CHECK(b.len == 13 && memcmp(b.data, "\x00\x01v\x0a\x00", 5) == 0);
    uint64_t footer = 0;
    for (int i = 7; i >= 0; i--) footer = footer << 8 | (unsigned char)b.data[5 + i];
    CHECK(ts_crc64(0, b.data, 5) == footer);
    ts_value w;
    const char *err = NULL;
    CHECK(ts_rdb_restore_payload(b.data, b.len, &cfg, &w, &err) == 0 && w.form == TS_FORM_INLINE);
    free_value(&w);
    b.data[12] ^= 1;   /* CRC */
    CHECK(ts_rdb_restore_payload(b.data, b.len, &cfg, &w, &err) == -1 && strstr(err, "checksum"));
    b.data[12] ^= 1;
    b.data[3] = 11;    /* version */
    CHECK(ts_rdb_restore_payload(b.data, b.len, &cfg, &w, &err) == -1 && strstr(err, "checksum"));
    CHECK(ts_rdb_restore_payload(b.data, 9, &cfg, &w, &err) == -1 && strstr(err, "checksum"));
    /* valid footer around a bad value */
    char bad[] = "\x00\x3fv\x0a\x00\0\0\0\0\0\0\0\0";   /* 63 bytes announced */
    uint64_t crc = ts_crc64(0, bad, 5);
    for (int i = 0; i < 8; i++) bad[5 + i] = (char)(crc >> (8 * i));
    CHECK(ts_rdb_restore_payload(bad, 13, &cfg, &w, &err) == -1 && strcmp(err, "Bad data format") == 0);
    ts_buf_free(&b);
}

int main(void)
{
    ts_config_init_defaults(&cfg);
    test_crc64();
    test_lzf();
    test_lengths();
    test_strings();
    test_string_values();
    test_list_values();
    test_hash_values();
    test_set_values();
    test_zset_values();
    test_stream_values();
    test_unsupported_types();
    test_payloads();
    ts_config_free(&cfg);
    TS_TEST_MAIN_END();
}
