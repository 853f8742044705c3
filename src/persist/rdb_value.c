/*
 * rdb_value.c - one value in Redis's RDB version 10 encoding, both ways,
 * and the DUMP/RESTORE payload around it (interface: tessera/rdb.h; design
 * note: docs/persistence.md).
 *
 * Owns: the byte format of lengths, strings and every value type; nothing
 * else. Objects are built and read only through the type modules
 * (src/types/): this file never reaches into an encoding the type module
 * does not expose, and the listpack/intset/stream-node blobs it adopts are
 * validated by their owners' validators first.
 *
 * Thread: pure functions over the caller's buffers and objects; saving
 * reads a value owned by the calling thread, loading builds a new one the
 * caller then owns.
 *
 * What is written (Redis 7.0's choice for the same type and encoding):
 *   string                   STRING (0): int-encoded, LZF or raw string
 *   list (quicklist)         LIST_QUICKLIST_2 (18): nodes as PACKED listpacks
 *   hash listpack/hashtable  HASH_LISTPACK (16) / HASH (4)
 *   set intset/hashtable     SET_INTSET (11) / SET (2)
 *   zset listpack/skiplist   ZSET_LISTPACK (17) / ZSET_2 (5), tail to head
 *   stream                   STREAM_LISTPACKS_2 (19)
 * Loading accepts 0-5, 11 and 15-19; the ziplist/zipmap types of older
 * files (9, 10, 12, 13, 14) and modules (6, 7) fail with an error text.
 *
 * Why a bounded reader: the bytes come from files and RESTORE arguments, so
 * every read checks the remaining length first, and no count read from the
 * input is used to preallocate: a huge count with a short payload fails at
 * the first missing element instead of allocating.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/types/intset.h"
#include "tessera/types/listpack.h"
#include "tessera/types/object.h"
#include "tessera/types/quicklist.h"
#include "tessera/persist/rdb.h"
#include "tessera/util/strconv.h"
#include "tessera/types/t_hash.h"
#include "tessera/types/t_set.h"
#include "tessera/types/t_stream.h"
#include "tessera/types/t_zset.h"
#include "tessera/types/zskiplist.h"

/* Length prefixes (rdb.h's "6-bit, 14-bit, 32-bit or 64-bit form"). */
#define RDB_6BITLEN 0
#define RDB_14BITLEN 1
#define RDB_32BITLEN 0x80
#define RDB_64BITLEN 0x81
#define RDB_ENCVAL 3
/* Special string encodings (the low 6 bits after RDB_ENCVAL). */
#define RDB_ENC_INT8 0
#define RDB_ENC_INT16 1
#define RDB_ENC_INT32 2
#define RDB_ENC_LZF 3
/* Quicklist node containers (RDB_TYPE_LIST_QUICKLIST_2). */
#define QL_CONTAINER_PLAIN 1
#define QL_CONTAINER_PACKED 2
/* The old text double's special lengths (RDB_TYPE_ZSET). */
#define TEXT_DOUBLE_NAN 253
#define TEXT_DOUBLE_POS_INF 254
#define TEXT_DOUBLE_NEG_INF 255

/* A payload's trailer: RDB version (2 bytes) + CRC64 (8 bytes). */
#define DUMP_FOOTER 10

static const char ERR_TRUNCATED[] = "unexpected end of the payload";
static const char ERR_EMPTY[] = "empty keys are not allowed";

/* ======================= saving ======================= */

static void put_be(ts_buf *out, uint64_t v, int bytes)
{
    unsigned char b[8];
    for (int i = 0; i < bytes; i++) b[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    ts_buf_append(out, b, (size_t)bytes);
}

static void put_le(ts_buf *out, uint64_t v, int bytes)
{
    unsigned char b[8];
    for (int i = 0; i < bytes; i++) b[i] = (unsigned char)(v >> (8 * i));
    ts_buf_append(out, b, (size_t)bytes);
}

void ts_rdb_save_len(ts_buf *out, uint64_t len)
{
    if (len < (1 << 6)) {
        ts_buf_putc(out, (char)((RDB_6BITLEN << 6) | len));
    } else if (len < (1 << 14)) {
        ts_buf_putc(out, (char)((RDB_14BITLEN << 6) | (len >> 8)));
        ts_buf_putc(out, (char)(len & 0xff));
    } else if (len <= UINT32_MAX) {
        ts_buf_putc(out, (char)RDB_32BITLEN);
        put_be(out, len, 4);
    } else {
        ts_buf_putc(out, (char)RDB_64BITLEN);
        put_be(out, len, 8);
    }
}

/* The integer encodings of rdbEncodeInteger: false when v needs more than
 * 32 bits. */
static bool save_int_encoded(ts_buf *out, long long v)
{
    if (v >= INT8_MIN && v <= INT8_MAX) {
        ts_buf_putc(out, (char)((RDB_ENCVAL << 6) | RDB_ENC_INT8));
        put_le(out, (uint64_t)v, 1);
    } else if (v >= INT16_MIN && v <= INT16_MAX) {
        ts_buf_putc(out, (char)((RDB_ENCVAL << 6) | RDB_ENC_INT16));
        put_le(out, (uint64_t)v, 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        ts_buf_putc(out, (char)((RDB_ENCVAL << 6) | RDB_ENC_INT32));
        put_le(out, (uint64_t)v, 4);
    } else {
        return false;
    }
    return true;
}

/* rdbSaveLzfStringObject: worth it only when it saves at least 4 bytes
 * (the output buffer is len - 4 bytes, so a larger result fails). */
static bool save_lzf(ts_buf *out, const char *p, size_t n)
{
    if (n <= 4) return false;
    size_t cap = n - 4;
    unsigned char *tmp = ts_malloc(cap + 1);
    size_t clen = ts_lzf_compress(p, n, tmp, cap);
    if (clen == 0) {
        free(tmp);
        return false;
    }
    ts_buf_putc(out, (char)((RDB_ENCVAL << 6) | RDB_ENC_LZF));
    ts_rdb_save_len(out, clen);
    ts_rdb_save_len(out, n);
    ts_buf_append(out, tmp, clen);
    free(tmp);
    return true;
}

void ts_rdb_save_string(ts_buf *out, const char *p, size_t n, bool compress)
{
    long long v;
    /* 11 chars: the longest 32-bit integer ("-2147483648"). */
    if (n <= 11 && ts_str_to_ll(p, n, &v) && save_int_encoded(out, v)) return;
    if (compress && n > 20 && save_lzf(out, p, n)) return;
    ts_rdb_save_len(out, n);
    ts_buf_append(out, p, n);
}

void ts_rdb_save_ll_string(ts_buf *out, long long v)
{
    if (save_int_encoded(out, v)) return;
    char buf[24];
    size_t n = ts_ll_to_str(buf, v);
    ts_rdb_save_string(out, buf, n, false);
}

static void save_binary_double(ts_buf *out, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof(bits));
    put_le(out, bits, 8);
}

/* A stream ID as the 16-byte big-endian key of Redis's rax and PELs. */
static void id_to_key(const ts_stream_id *id, unsigned char key[16])
{
    for (int i = 0; i < 8; i++) {
        key[i] = (unsigned char)(id->ms >> (56 - 8 * i));
        key[8 + i] = (unsigned char)(id->seq >> (56 - 8 * i));
    }
}

int ts_rdb_value_type(const ts_value *v)
{
    switch (v->type) {
    case TS_TYPE_STRING: return TS_RDB_TYPE_STRING;
    case TS_TYPE_LIST: return TS_RDB_TYPE_LIST_QUICKLIST_2;
    case TS_TYPE_SET: return v->enc == TS_ENC_INTSET ? TS_RDB_TYPE_SET_INTSET : TS_RDB_TYPE_SET;
    case TS_TYPE_ZSET: return v->enc == TS_ENC_LISTPACK ? TS_RDB_TYPE_ZSET_LISTPACK : TS_RDB_TYPE_ZSET_2;
    case TS_TYPE_HASH: return v->enc == TS_ENC_LISTPACK ? TS_RDB_TYPE_HASH_LISTPACK : TS_RDB_TYPE_HASH;
    case TS_TYPE_STREAM: return TS_RDB_TYPE_STREAM_LISTPACKS_2;
    }
    ts_panic("rdb: value of unknown type %d", v->type);
}

typedef struct save_ctx {
    ts_buf *out;
    bool compress;
} save_ctx;

static void save_hash_pair(void *ctx, ts_hobj_str f, ts_hobj_str v)
{
    save_ctx *s = ctx;
    ts_rdb_save_string(s->out, f.p, f.n, s->compress);
    ts_rdb_save_string(s->out, v.p, v.n, s->compress);
}

static void save_set_member(void *ctx, const char *p, size_t n)
{
    save_ctx *s = ctx;
    ts_rdb_save_string(s->out, p, n, s->compress);
}

static void save_list(ts_buf *out, const ts_quicklist *ql, bool compress)
{
    ts_rdb_save_len(out, ql->len);
    for (const ts_ql_node *n = ql->head; n; n = n->next) {
        ts_rdb_save_len(out, QL_CONTAINER_PACKED);
        size_t lzf_len, raw_len;
        const unsigned char *d = ts_ql_node_data(n, &lzf_len, &raw_len);
        if (lzf_len) {
            /* A compressed node (list-compress-depth) goes out as the LZF
             * string it already is, as Redis writes it. */
            ts_buf_putc(out, (char)((RDB_ENCVAL << 6) | RDB_ENC_LZF));
            ts_rdb_save_len(out, lzf_len);
            ts_rdb_save_len(out, raw_len);
            ts_buf_append(out, d, lzf_len);
        } else {
            ts_rdb_save_string(out, (const char *)d, raw_len, compress);
        }
    }
}

/* Redis writes the skiplist from the tail, so that loading inserts every
 * member at the head of each level (its O(1) case). */
static void save_zsl(ts_buf *out, const ts_zsl *z, bool compress)
{
    ts_rdb_save_len(out, ts_zsl_length(z));
    for (ts_zsl_node *x = ts_zsl_last(z); x; x = ts_zsl_prev(x)) {
        size_t n;
        const char *m = ts_zsl_member(x, &n);
        ts_rdb_save_string(out, m, n, compress);
        save_binary_double(out, ts_zsl_score(x));
    }
}

static void save_id_lens(ts_buf *out, const ts_stream_id *id)
{
    ts_rdb_save_len(out, id->ms);
    ts_rdb_save_len(out, id->seq);
}

static void save_raw_id(ts_buf *out, const ts_stream_id *id)
{
    unsigned char key[16];
    id_to_key(id, key);
    ts_buf_append(out, key, sizeof(key));
}

static void save_stream(ts_buf *out, const ts_stream *s, bool compress)
{
    ts_rdb_save_len(out, s->nnodes);
    for (size_t i = 0; i < s->nnodes; i++) {
        unsigned char key[16];
        id_to_key(&s->nodes[i].master, key);
        ts_rdb_save_string(out, (const char *)key, sizeof(key), compress);
        ts_rdb_save_string(out, (const char *)s->nodes[i].lp, ts_lp_bytes(s->nodes[i].lp), compress);
    }
    ts_rdb_save_len(out, s->length);
    save_id_lens(out, &s->last_id);
    save_id_lens(out, &s->first_id);
    save_id_lens(out, &s->max_deleted_id);
    ts_rdb_save_len(out, s->entries_added);
    ts_rdb_save_len(out, s->ngroups);
    for (size_t g = 0; g < s->ngroups; g++) {
        const ts_stream_cg *cg = s->groups[g];
        ts_rdb_save_string(out, cg->name, cg->name_len, compress);
        save_id_lens(out, &cg->last_id);
        ts_rdb_save_len(out, (uint64_t)cg->entries_read);   /* -1 (unknown) as Redis writes it: 2^64 - 1 */
        ts_rdb_save_len(out, cg->pel.n);
        for (size_t i = 0; i < cg->pel.n; i++) {
            const ts_stream_nack *n = cg->pel.v[i];
            save_raw_id(out, &n->id);
            put_le(out, (uint64_t)n->delivery_time, 8);
            ts_rdb_save_len(out, n->delivery_count);
        }
        ts_rdb_save_len(out, cg->nconsumers);
        for (size_t c = 0; c < cg->nconsumers; c++) {
            const ts_stream_consumer *co = cg->consumers[c];
            ts_rdb_save_string(out, co->name, co->name_len, compress);
            put_le(out, (uint64_t)co->seen_time, 8);
            ts_rdb_save_len(out, co->pel.n);
            for (size_t i = 0; i < co->pel.n; i++) save_raw_id(out, &co->pel.v[i]->id);
        }
    }
}

void ts_rdb_save_value(ts_buf *out, const ts_value *v, bool compress)
{
    save_ctx sc = {out, compress};
    /* The compact encodings travel as their blob, one string. */
    if (v->form == TS_FORM_PTR && (v->enc == TS_ENC_INTSET || v->enc == TS_ENC_LISTPACK)) {
        size_t n = v->enc == TS_ENC_INTSET ? ts_intset_bytes(v->ptr) : ts_lp_bytes(v->ptr);
        ts_rdb_save_string(out, v->ptr, n, compress);
        return;
    }
    switch (v->type) {
    case TS_TYPE_STRING:
        if (v->form == TS_FORM_INT) ts_rdb_save_ll_string(out, v->i);
        else ts_rdb_save_string(out, v->s.ptr, v->s.len, compress);
        return;
    case TS_TYPE_LIST:
        save_list(out, v->ptr, compress);
        return;
    case TS_TYPE_SET:
        ts_rdb_save_len(out, ts_set_size(v->ptr, v->enc));
        ts_set_foreach(v->ptr, v->enc, save_set_member, &sc);
        return;
    case TS_TYPE_ZSET:
        save_zsl(out, v->ptr, compress);
        return;
    case TS_TYPE_HASH:
        ts_rdb_save_len(out, ts_hobj_len(v->ptr, v->enc));
        ts_hobj_foreach(v->ptr, v->enc, save_hash_pair, &sc);
        return;
    case TS_TYPE_STREAM:
        save_stream(out, v->ptr, compress);
        return;
    }
    ts_panic("rdb: value of unknown type %d", v->type);
}

/* ======================= loading: primitives ======================= */

static int fail(ts_rdb_reader *r, const char *err)
{
    if (!r->err) r->err = err;
    r->p = r->end;   /* every later read fails too */
    return -1;
}

/* fail() for a check on something read into p, which is freed first. */
static int fail_free(ts_rdb_reader *r, void *p, const char *err)
{
    free(p);
    return fail(r, err);
}

static int need(ts_rdb_reader *r, size_t n)
{
    if (r->err) return -1;
    if ((size_t)(r->end - r->p) < n) return fail(r, ERR_TRUNCATED);
    return 0;
}

static uint64_t get_be(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = (v << 8) | p[i];
    return v;
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

int ts_rdb_read_byte(ts_rdb_reader *r, int *out)
{
    if (need(r, 1)) return -1;
    *out = *r->p++;
    return 0;
}

int ts_rdb_read_len(ts_rdb_reader *r, uint64_t *len, bool *encoded)
{
    int b;
    if (encoded) *encoded = false;
    if (ts_rdb_read_byte(r, &b)) return -1;
    switch (b >> 6) {
    case RDB_6BITLEN:
        *len = (uint64_t)(b & 0x3f);
        return 0;
    case RDB_14BITLEN:
        if (need(r, 1)) return -1;
        *len = ((uint64_t)(b & 0x3f) << 8) | *r->p++;
        return 0;
    case RDB_ENCVAL:
        if (!encoded) return fail(r, "an encoded string where a length was expected");
        *encoded = true;
        *len = (uint64_t)(b & 0x3f);
        return 0;
    }
    if (b == RDB_32BITLEN) {
        if (need(r, 4)) return -1;
        *len = get_be(r->p, 4);
        r->p += 4;
        return 0;
    }
    if (b == RDB_64BITLEN) {
        if (need(r, 8)) return -1;
        *len = get_be(r->p, 8);
        r->p += 8;
        return 0;
    }
    return fail(r, "unknown length encoding");
}

/* A length that must fit in the payload's remaining bytes times `per`
 * (counts of elements that take at least 1/per byte each... or a size). */
static int read_size(ts_rdb_reader *r, size_t *out)
{
    uint64_t v;
    if (ts_rdb_read_len(r, &v, NULL)) return -1;
    if (v > (uint64_t)(r->end - r->p)) return fail(r, ERR_TRUNCATED);
    *out = (size_t)v;
    return 0;
}

static char *dup_bytes(const void *p, size_t n)
{
    char *s = ts_malloc(n + 1);
    if (n) memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* liblzf expands at most 88 times (a 3-byte back-reference writes 264
 * bytes): a claimed length past that cannot be genuine. */
#define LZF_MAX_RATIO 90

static int read_lzf(ts_rdb_reader *r, char **out, size_t *n)
{
    size_t clen;
    uint64_t len;
    if (read_size(r, &clen) || ts_rdb_read_len(r, &len, NULL)) return -1;
    if (need(r, clen)) return -1;
    if (len == 0 || len / LZF_MAX_RATIO > clen) return fail(r, "invalid LZF compressed string");
    char *s = ts_malloc((size_t)len + 1);
    if (ts_lzf_decompress(r->p, clen, s, (size_t)len) != len) return fail_free(r, s, "invalid LZF compressed string");
    r->p += clen;
    s[len] = '\0';
    *out = s;
    *n = (size_t)len;
    return 0;
}

/* One reader for both forms: a plain string is returned in place, an
 * encoded one (integer, LZF) is decoded into *owned. */
int ts_rdb_read_string_view(ts_rdb_reader *r, const char **p, size_t *n, char **owned)
{
    *owned = NULL;
    uint64_t len;
    bool enc;
    if (ts_rdb_read_len(r, &len, &enc)) return -1;
    if (!enc) {
        if (need(r, len)) return -1;
        *p = (const char *)r->p;
        *n = (size_t)len;
        r->p += len;
        return 0;
    }
    int bytes = len == RDB_ENC_INT8 ? 1 : len == RDB_ENC_INT16 ? 2 : len == RDB_ENC_INT32 ? 4 : 0;
    if (bytes) {
        if (need(r, (size_t)bytes)) return -1;
        uint64_t u = get_le(r->p, bytes);
        r->p += bytes;
        long long v = bytes == 1 ? (int8_t)u : bytes == 2 ? (int16_t)u : (long long)(int32_t)u;
        char buf[24];
        size_t l = ts_ll_to_str(buf, v);
        *owned = dup_bytes(buf, l);
        *n = l;
    } else if (len == RDB_ENC_LZF) {
        if (read_lzf(r, owned, n)) return -1;
    } else {
        return fail(r, "unknown string encoding");
    }
    *p = *owned;
    return 0;
}

int ts_rdb_read_string(ts_rdb_reader *r, char **out, size_t *n)
{
    const char *p;
    char *owned;
    if (ts_rdb_read_string_view(r, &p, n, &owned)) return -1;
    *out = owned ? owned : dup_bytes(p, *n);
    return 0;
}

int ts_rdb_skip_string(ts_rdb_reader *r)
{
    uint64_t len;
    bool enc;
    if (ts_rdb_read_len(r, &len, &enc)) return -1;
    if (!enc) {
        if (need(r, len)) return -1;
        r->p += len;
        return 0;
    }
    static const size_t int_bytes[] = {1, 2, 4};
    if (len < 3) {
        if (need(r, int_bytes[len])) return -1;
        r->p += int_bytes[len];
        return 0;
    }
    if (len != RDB_ENC_LZF) return fail(r, "unknown string encoding");
    size_t clen;
    uint64_t ulen;
    if (read_size(r, &clen) || ts_rdb_read_len(r, &ulen, NULL) || need(r, clen)) return -1;
    r->p += clen;
    return 0;
}

int ts_rdb_read_u64le(ts_rdb_reader *r, uint64_t *out)
{
    if (need(r, 8)) return -1;
    *out = get_le(r->p, 8);
    r->p += 8;
    return 0;
}

int ts_rdb_read_u32le(ts_rdb_reader *r, uint32_t *out)
{
    if (need(r, 4)) return -1;
    *out = (uint32_t)get_le(r->p, 4);
    r->p += 4;
    return 0;
}

int ts_rdb_read_binary_double(ts_rdb_reader *r, double *out)
{
    uint64_t bits;
    if (ts_rdb_read_u64le(r, &bits)) return -1;
    memcpy(out, &bits, sizeof(*out));
    return 0;
}

int ts_rdb_read_text_double(ts_rdb_reader *r, double *out)
{
    int len;
    if (ts_rdb_read_byte(r, &len)) return -1;
    if (len == TEXT_DOUBLE_NAN) { *out = NAN; return 0; }
    if (len == TEXT_DOUBLE_POS_INF) { *out = INFINITY; return 0; }
    if (len == TEXT_DOUBLE_NEG_INF) { *out = -INFINITY; return 0; }
    if (need(r, (size_t)len)) return -1;
    char buf[256];
    memcpy(buf, r->p, (size_t)len);
    buf[len] = '\0';
    r->p += len;
    char *end;
    *out = strtod(buf, &end);
    if (len == 0 || *end) return fail(r, "invalid double");
    return 0;
}

/* ======================= loading: values ======================= */

/* A string blob that becomes an object as it is (listpack, intset): read
 * into a malloc'd buffer (free() it; listpack and intset memory is plain
 * malloc'd memory, object.h). */
static unsigned char *read_blob(ts_rdb_reader *r, size_t *n)
{
    char *s;
    if (ts_rdb_read_string(r, &s, n)) return NULL;
    return (unsigned char *)s;
}

/* Whether the fields at every `step`-th element of a listpack (from the
 * first) are all distinct: a temporary table of them, O(n). */
static bool lp_fields_unique(unsigned char *lp, int step)
{
    ts_table seen;
    ts_table_init(&seen, NULL);
    ts_value none = {.type = TS_TYPE_STRING, .enc = TS_ENC_INT, .form = TS_FORM_INT, .i = 0};
    bool ok = true;
    char buf[24];
    for (unsigned char *p = ts_lp_first(lp); p && ok;) {
        size_t n;
        const unsigned char *s = ts_lp_get_str(p, buf, &n);
        if (ts_table_find(&seen, (const char *)s, n)) ok = false;
        else ts_table_set(&seen, (const char *)s, n, &none, -1, false);
        for (int i = 0; i < step && p; i++) p = ts_lp_next(lp, p);
    }
    ts_table_clear(&seen);
    return ok;
}

static int load_string(ts_rdb_reader *r, ts_value *out)
{
    char *s;
    size_t n;
    if (ts_rdb_read_string(r, &s, &n)) return -1;
    ts_value_string(out, s, n);
    if (out->form == TS_FORM_INT) free(s);
    return 0;
}

static void list_push_lp(ts_quicklist *ql, unsigned char *lp)
{
    char buf[24];
    for (unsigned char *p = ts_lp_first(lp); p; p = ts_lp_next(lp, p)) {
        size_t n;
        const unsigned char *s = ts_lp_get_str(p, buf, &n);
        ts_ql_push(ql, TS_QL_TAIL, (const char *)s, n);
    }
}

/* LIST (1) and LIST_QUICKLIST_2 (18). Elements are pushed one by one, so
 * the nodes follow this server's list-max-listpack-size whatever the
 * writer's was. */
static int load_list(ts_rdb_reader *r, int rdbtype, const ts_config *cfg, ts_value *out)
{
    uint64_t n;
    if (ts_rdb_read_len(r, &n, NULL)) return -1;
    ts_quicklist *ql = ts_ql_new(cfg->list_max_listpack_size, cfg->list_compress_depth);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t container = QL_CONTAINER_PLAIN;
        if (rdbtype == TS_RDB_TYPE_LIST_QUICKLIST_2 && ts_rdb_read_len(r, &container, NULL)) break;
        if (container != QL_CONTAINER_PLAIN && container != QL_CONTAINER_PACKED) {
            fail(r, "unknown quicklist node container");
            break;
        }
        size_t len;
        unsigned char *s = read_blob(r, &len);
        if (!s) break;
        if (container == QL_CONTAINER_PLAIN) {
            ts_ql_push(ql, TS_QL_TAIL, (const char *)s, len);
        } else if (!ts_lp_validate(s, len)) {
            free(s);
            fail(r, "invalid listpack in a quicklist node");
            break;
        } else {
            list_push_lp(ql, s);   /* an empty node adds nothing, as Redis skips it */
        }
        free(s);
    }
    if (!r->err && ts_ql_count(ql) == 0) fail(r, ERR_EMPTY);
    if (r->err) {
        ts_ql_free(ql);
        return -1;
    }
    *out = (ts_value){.type = TS_TYPE_LIST, .enc = TS_ENC_QUICKLIST, .form = TS_FORM_PTR, .ptr = ql};
    return 0;
}

/* Reads n items of `width` strings each (a member; a field and its value)
 * and hands each to add, which returns false for a duplicate (then the
 * load fails with dup_err). The strings are freed after each call. */
typedef bool add_item_fn(void *ctx, char *const *s, const size_t *len);

static int load_items(ts_rdb_reader *r, uint64_t n, int width, add_item_fn *add, void *ctx, const char *dup_err)
{
    for (uint64_t i = 0; i < n; i++) {
        char *s[2];
        size_t len[2];
        int got = 0;
        while (got < width && ts_rdb_read_string(r, &s[got], &len[got]) == 0) got++;
        bool added = got == width && add(ctx, s, len);
        for (int k = 0; k < got; k++) free(s[k]);
        if (got < width) return -1;
        if (!added) return fail(r, dup_err);
    }
    return 0;
}

typedef struct build_ctx {
    void *obj;
    int enc;
    const ts_config *cfg;
} build_ctx;

static bool add_set_member(void *ctx, char *const *s, const size_t *len)
{
    build_ctx *b = ctx;
    return ts_set_add(&b->obj, &b->enc, s[0], len[0], b->cfg->set_max_intset_entries);
}

static int load_set_intset(ts_rdb_reader *r, const ts_config *cfg, ts_value *out)
{
    size_t len;
    unsigned char *blob = read_blob(r, &len);
    if (!blob) return -1;
    if (!ts_intset_validate(blob, len)) return fail_free(r, blob, "invalid intset");
    void *set = blob;
    int enc = TS_ENC_INTSET;
    if ((long long)ts_intset_len(set) > cfg->set_max_intset_entries) ts_set_convert(&set, &enc);
    *out = (ts_value){.type = TS_TYPE_SET, .enc = (uint8_t)enc, .form = TS_FORM_PTR, .ptr = set};
    return 0;
}

static bool add_hash_pair(void *ctx, char *const *s, const size_t *len)
{
    build_ctx *b = ctx;
    return ts_hobj_set(&b->obj, &b->enc, s[0], len[0], s[1], len[1], b->cfg->hash_max_listpack_entries,
                       b->cfg->hash_max_listpack_value);
}

/* SET (2) and HASH (4): a count and the members (field/value pairs),
 * added through the type module, which converts exactly where Redis's
 * loader does: a set starts as an intset when the count allows one and
 * turns into a hashtable at the first non-integer, a hash starts as a
 * listpack when the count allows and turns at the first long string. */
static int load_counted(ts_rdb_reader *r, int type, const ts_config *cfg, ts_value *out)
{
    uint64_t n;
    if (ts_rdb_read_len(r, &n, NULL)) return -1;
    if (n == 0) return fail(r, ERR_EMPTY);
    build_ctx b = {.cfg = cfg};
    int rc;
    if (type == TS_TYPE_SET) {
        b.enc = n <= (uint64_t)cfg->set_max_intset_entries ? TS_ENC_INTSET : TS_ENC_HASHTABLE;
        b.obj = ts_set_new(b.enc);
        rc = load_items(r, n, 1, add_set_member, &b, "duplicate set members");
    } else {
        b.obj = ts_hobj_new(&b.enc);
        if (n > (uint64_t)cfg->hash_max_listpack_entries) ts_hobj_convert(&b.obj, &b.enc);
        rc = load_items(r, n, 2, add_hash_pair, &b, "duplicate hash fields");
    }
    if (rc) {
        ts_type_ops_of(type)->free(b.obj, b.enc);
        return -1;
    }
    *out = (ts_value){.type = (uint8_t)type, .enc = (uint8_t)b.enc, .form = TS_FORM_PTR, .ptr = b.obj};
    return 0;
}

static int load_hash_listpack(ts_rdb_reader *r, const ts_config *cfg, ts_value *out)
{
    size_t len;
    unsigned char *lp = read_blob(r, &len);
    if (!lp) return -1;
    if (!ts_lp_validate(lp, len) || ts_lp_length(lp) % 2 != 0 || !lp_fields_unique(lp, 2))
        return fail_free(r, lp, "invalid hash listpack");
    if (ts_lp_length(lp) == 0) return fail_free(r, lp, ERR_EMPTY);
    void *h = lp;
    int enc = TS_ENC_LISTPACK;
    if ((long long)(ts_lp_length(lp) / 2) > cfg->hash_max_listpack_entries) ts_hobj_convert(&h, &enc);
    *out = (ts_value){.type = TS_TYPE_HASH, .enc = (uint8_t)enc, .form = TS_FORM_PTR, .ptr = h};
    return 0;
}

/* ZSET (3) and ZSET_2 (5): a skiplist, then a listpack when it is small
 * enough (Redis's loader does the same). */
static int load_zset(ts_rdb_reader *r, int rdbtype, const ts_config *cfg, ts_value *out)
{
    uint64_t n;
    if (ts_rdb_read_len(r, &n, NULL)) return -1;
    if (n == 0) return fail(r, ERR_EMPTY);
    ts_zsl *z = ts_zsl_new();
    size_t maxlen = 0;
    for (uint64_t i = 0; i < n; i++) {
        char *m;
        size_t ml;
        double score;
        if (ts_rdb_read_string(r, &m, &ml)) break;
        int rc = rdbtype == TS_RDB_TYPE_ZSET_2 ? ts_rdb_read_binary_double(r, &score)
                                               : ts_rdb_read_text_double(r, &score);
        if (rc == 0 && isnan(score)) rc = fail(r, "NaN score");
        if (rc == 0 && ts_zsl_find(z, m, ml)) rc = fail(r, "duplicate sorted set members");
        if (rc == 0) ts_zsl_insert(z, m, ml, score);
        free(m);
        if (rc) break;
        if (ml > maxlen) maxlen = ml;
    }
    if (r->err) {
        ts_zsl_free(z);
        return -1;
    }
    ts_zset zs = {z, TS_ENC_SKIPLIST};
    if (n <= (uint64_t)cfg->zset_max_listpack_entries && maxlen <= (uint64_t)cfg->zset_max_listpack_value) {
        unsigned char *lp = ts_lp_new();
        for (ts_zsl_node *x = ts_zsl_first(z); x; x = ts_zsl_next(x)) {
            size_t ml;
            const char *m = ts_zsl_member(x, &ml);
            lp = ts_zset_lp_append(lp, m, ml, ts_zsl_score(x));
        }
        ts_zsl_free(z);
        zs = (ts_zset){lp, TS_ENC_LISTPACK};
    }
    *out = (ts_value){.type = TS_TYPE_ZSET, .enc = (uint8_t)zs.enc, .form = TS_FORM_PTR, .ptr = zs.ptr};
    return 0;
}

/* A listpack score element: an integer, or text that is a whole double. */
static bool lp_score(const unsigned char *p, double *out)
{
    ts_lp_val v;
    ts_lp_get(p, &v);
    if (!v.str) {
        *out = (double)v.ll;
        return true;
    }
    char buf[128];
    if (v.len == 0 || v.len >= sizeof(buf)) return false;
    memcpy(buf, v.str, v.len);
    buf[v.len] = '\0';
    char *end;
    *out = strtod(buf, &end);
    return *end == '\0' && !isnan(*out);
}

/* The sorted-set listpack invariants the zset code relies on: pairs,
 * numeric scores, ascending (score, member) order, unique members. */
static bool zset_lp_valid(unsigned char *lp, size_t len)
{
    if (!ts_lp_validate(lp, len) || ts_lp_length(lp) % 2 != 0) return false;
    char pbuf[24], buf[24];
    const unsigned char *pm = NULL;
    size_t pn = 0;
    double ps = 0;
    for (unsigned char *p = ts_lp_first(lp); p; p = ts_lp_next(lp, ts_lp_next(lp, p))) {
        double s;
        if (!lp_score(ts_lp_next(lp, p), &s)) return false;
        size_t n;
        const unsigned char *m = ts_lp_get_str(p, buf, &n);
        if (pm && (s < ps || (s == ps && ts_zmember_cmp((const char *)pm, pn, (const char *)m, n) >= 0)))
            return false;
        /* keep the previous member readable: integers live in a buffer */
        if (m == (const unsigned char *)buf) {
            memcpy(pbuf, buf, n);
            m = (const unsigned char *)pbuf;
        }
        pm = m;
        pn = n;
        ps = s;
    }
    return lp_fields_unique(lp, 2);
}

static int load_zset_listpack(ts_rdb_reader *r, const ts_config *cfg, ts_value *out)
{
    size_t len;
    unsigned char *lp = read_blob(r, &len);
    if (!lp) return -1;
    if (!zset_lp_valid(lp, len)) return fail_free(r, lp, "invalid sorted set listpack");
    if (ts_lp_length(lp) == 0) return fail_free(r, lp, ERR_EMPTY);
    ts_zset z = {lp, TS_ENC_LISTPACK};
    if ((long long)(ts_lp_length(lp) / 2) > cfg->zset_max_listpack_entries) ts_zset_convert_to_skiplist(&z);
    *out = (ts_value){.type = TS_TYPE_ZSET, .enc = (uint8_t)z.enc, .form = TS_FORM_PTR, .ptr = z.ptr};
    return 0;
}

/* ---- streams ---- */

static void key_to_id(const unsigned char key[16], ts_stream_id *id)
{
    id->ms = get_be(key, 8);
    id->seq = get_be(key + 8, 8);
}

static int read_raw_id(ts_rdb_reader *r, ts_stream_id *id)
{
    if (need(r, 16)) return -1;
    key_to_id(r->p, id);
    r->p += 16;
    return 0;
}

static int read_id_lens(ts_rdb_reader *r, ts_stream_id *id)
{
    if (ts_rdb_read_len(r, &id->ms, NULL) || ts_rdb_read_len(r, &id->seq, NULL)) return -1;
    return 0;
}

static int load_stream_nodes(ts_rdb_reader *r, ts_stream *s)
{
    uint64_t n;
    if (ts_rdb_read_len(r, &n, NULL)) return -1;
    for (uint64_t i = 0; i < n; i++) {
        size_t klen, len;
        unsigned char *key = read_blob(r, &klen);
        if (!key) return -1;
        if (klen != 16) return fail_free(r, key, "stream node key is not a 128-bit ID");
        ts_stream_id master;
        key_to_id(key, &master);
        free(key);
        unsigned char *lp = read_blob(r, &len);
        if (!lp) return -1;
        if (!ts_stream_node_validate(lp, len)) return fail_free(r, lp, "invalid stream node listpack");
        if (!ts_stream_push_node(s, &master, lp)) return fail_free(r, lp, "stream nodes out of order");
    }
    return 0;
}

static int load_stream_cg(ts_rdb_reader *r, int rdbtype, ts_stream *s)
{
    char *name;
    size_t nlen;
    ts_stream_id last;
    uint64_t entries_read;
    if (ts_rdb_read_string(r, &name, &nlen)) return -1;
    if (read_id_lens(r, &last)) {
        free(name);
        return -1;
    }
    long long er;
    if (rdbtype == TS_RDB_TYPE_STREAM_LISTPACKS_2) {
        if (ts_rdb_read_len(r, &entries_read, NULL)) {
            free(name);
            return -1;
        }
        er = (long long)entries_read;
    } else {
        er = ts_stream_estimate_distance(s, &last);
    }
    ts_stream_cg *g = ts_stream_cg_create(s, name, nlen, &last, er);
    free(name);
    if (!g) return fail(r, "duplicate consumer group");

    uint64_t npel;
    if (ts_rdb_read_len(r, &npel, NULL)) return -1;
    for (uint64_t i = 0; i < npel; i++) {
        ts_stream_id id;
        uint64_t when, count;
        if (read_raw_id(r, &id) || ts_rdb_read_u64le(r, &when) || ts_rdb_read_len(r, &count, NULL)) return -1;
        if (ts_stream_pel_find(&g->pel, &id)) return fail(r, "duplicate group PEL entry");
        ts_stream_nack *nack = ts_calloc(1, sizeof(*nack));
        nack->id = id;
        nack->delivery_time = (int64_t)when;
        nack->delivery_count = count;
        ts_stream_pel_insert(&g->pel, nack);
    }
    uint64_t ncons;
    if (ts_rdb_read_len(r, &ncons, NULL)) return -1;
    for (uint64_t i = 0; i < ncons; i++) {
        char *cname;
        size_t clen;
        uint64_t seen, cpel;
        if (ts_rdb_read_string(r, &cname, &clen)) return -1;
        if (ts_rdb_read_u64le(r, &seen)) {
            free(cname);
            return -1;
        }
        bool created;
        ts_stream_consumer *c = ts_stream_consumer_get(g, cname, clen, (int64_t)seen, &created);
        free(cname);
        if (!created) return fail(r, "duplicate consumer");
        if (ts_rdb_read_len(r, &cpel, NULL)) return -1;
        for (uint64_t j = 0; j < cpel; j++) {
            ts_stream_id id;
            if (read_raw_id(r, &id)) return -1;
            ts_stream_nack *nack = ts_stream_pel_find(&g->pel, &id);
            if (!nack) return fail(r, "consumer PEL entry not in the group PEL");
            if (nack->consumer) return fail(r, "PEL entry owned by two consumers");
            ts_stream_nack_move(nack, c);
        }
    }
    /* Every pending entry needs its consumer: the stream code follows
     * nack->consumer without checking. */
    for (size_t i = 0; i < g->pel.n; i++)
        if (!g->pel.v[i]->consumer) return fail(r, "group PEL entry without a consumer");
    return 0;
}

static int load_stream(ts_rdb_reader *r, int rdbtype, ts_value *out)
{
    ts_stream *s = ts_stream_new();
    uint64_t ngroups = 0;
    if (load_stream_nodes(r, s) == 0 && ts_rdb_read_len(r, &s->length, NULL) == 0 &&
        read_id_lens(r, &s->last_id) == 0) {
        if (rdbtype == TS_RDB_TYPE_STREAM_LISTPACKS_2) {
            if (read_id_lens(r, &s->first_id) == 0 && read_id_lens(r, &s->max_deleted_id) == 0)
                ts_rdb_read_len(r, &s->entries_added, NULL);
        } else {
            s->entries_added = s->length;
            if (!ts_stream_edge_id(s, false, &s->first_id)) s->first_id = (ts_stream_id){0, 0};
        }
        if (!r->err && s->nnodes == 0 && s->length != 0) fail(r, "stream length without entries");
        if (!r->err) ts_rdb_read_len(r, &ngroups, NULL);
        for (uint64_t i = 0; i < ngroups && !r->err; i++) load_stream_cg(r, rdbtype, s);
    }
    if (r->err) {
        ts_stream_free(s);
        return -1;
    }
    *out = (ts_value){.type = TS_TYPE_STREAM, .enc = TS_ENC_STREAM, .form = TS_FORM_PTR, .ptr = s};
    return 0;
}

int ts_rdb_load_value(ts_rdb_reader *r, int rdbtype, const ts_config *cfg, ts_value *out)
{
    if (r->err) return -1;
    switch (rdbtype) {
    case TS_RDB_TYPE_STRING: return load_string(r, out);
    case TS_RDB_TYPE_LIST:
    case TS_RDB_TYPE_LIST_QUICKLIST_2: return load_list(r, rdbtype, cfg, out);
    case TS_RDB_TYPE_SET: return load_counted(r, TS_TYPE_SET, cfg, out);
    case TS_RDB_TYPE_SET_INTSET: return load_set_intset(r, cfg, out);
    case TS_RDB_TYPE_ZSET:
    case TS_RDB_TYPE_ZSET_2: return load_zset(r, rdbtype, cfg, out);
    case TS_RDB_TYPE_ZSET_LISTPACK: return load_zset_listpack(r, cfg, out);
    case TS_RDB_TYPE_HASH: return load_counted(r, TS_TYPE_HASH, cfg, out);
    case TS_RDB_TYPE_HASH_LISTPACK: return load_hash_listpack(r, cfg, out);
    case TS_RDB_TYPE_STREAM_LISTPACKS:
    case TS_RDB_TYPE_STREAM_LISTPACKS_2: return load_stream(r, rdbtype, out);
    case TS_RDB_TYPE_HASH_ZIPMAP:
    case TS_RDB_TYPE_LIST_ZIPLIST:
    case TS_RDB_TYPE_ZSET_ZIPLIST:
    case TS_RDB_TYPE_HASH_ZIPLIST:
    case TS_RDB_TYPE_LIST_QUICKLIST:
        return fail(r, "pre-7.0 ziplist/zipmap encodings are not supported");
    case TS_RDB_TYPE_MODULE_2:
    case 6:
        return fail(r, "module values are not supported");
    }
    return fail(r, "unknown value type");
}

/* ======================= skipping a value ======================= */

/* n strings (n items of `width` strings, or of a string and a double of
 * `dbl` bytes: 8 binary, -1 text). Each consumes at least one byte, so a
 * bogus count stops at the payload's end. */
static int skip_strings(ts_rdb_reader *r, uint64_t n, int width, int dbl)
{
    for (uint64_t i = 0; i < n; i++) {
        for (int k = 0; k < width; k++)
            if (ts_rdb_skip_string(r)) return -1;
        if (dbl == 8 && need(r, 8) == 0) r->p += 8;
        double d;
        if (dbl < 0) ts_rdb_read_text_double(r, &d);
        if (r->err) return -1;
    }
    return 0;
}

static int skip_lens(ts_rdb_reader *r, int n)
{
    uint64_t v;
    for (int i = 0; i < n; i++)
        if (ts_rdb_read_len(r, &v, NULL)) return -1;
    return 0;
}

static int skip_bytes(ts_rdb_reader *r, size_t n)
{
    if (need(r, n)) return -1;
    r->p += n;
    return 0;
}

static int skip_stream(ts_rdb_reader *r, int rdbtype)
{
    uint64_t n;
    if (ts_rdb_read_len(r, &n, NULL) || skip_strings(r, n, 2, 0)) return -1;
    /* length, last id; v2: first id, max deleted id, entries added */
    if (skip_lens(r, rdbtype == TS_RDB_TYPE_STREAM_LISTPACKS_2 ? 8 : 3)) return -1;
    uint64_t ngroups;
    if (ts_rdb_read_len(r, &ngroups, NULL)) return -1;
    for (uint64_t g = 0; g < ngroups; g++) {
        if (ts_rdb_skip_string(r) || skip_lens(r, rdbtype == TS_RDB_TYPE_STREAM_LISTPACKS_2 ? 3 : 2)) return -1;
        uint64_t npel, ncons;
        if (ts_rdb_read_len(r, &npel, NULL)) return -1;
        for (uint64_t i = 0; i < npel; i++)   /* raw id, delivery time, count */
            if (skip_bytes(r, 16 + 8) || skip_lens(r, 1)) return -1;
        if (ts_rdb_read_len(r, &ncons, NULL)) return -1;
        for (uint64_t i = 0; i < ncons; i++) {
            uint64_t cpel;
            if (ts_rdb_skip_string(r) || skip_bytes(r, 8) || ts_rdb_read_len(r, &cpel, NULL)) return -1;
            if (cpel > (uint64_t)(r->end - r->p) / 16) return fail(r, ERR_TRUNCATED);
            if (skip_bytes(r, (size_t)cpel * 16)) return -1;
        }
    }
    return 0;
}

int ts_rdb_skip_value(ts_rdb_reader *r, int rdbtype)
{
    if (r->err) return -1;
    uint64_t n;
    switch (rdbtype) {
    case TS_RDB_TYPE_STRING:
    case TS_RDB_TYPE_SET_INTSET:
    case TS_RDB_TYPE_ZSET_LISTPACK:
    case TS_RDB_TYPE_HASH_LISTPACK:
        return ts_rdb_skip_string(r);
    case TS_RDB_TYPE_LIST:
    case TS_RDB_TYPE_SET:
        return ts_rdb_read_len(r, &n, NULL) || skip_strings(r, n, 1, 0) ? -1 : 0;
    case TS_RDB_TYPE_HASH:
        return ts_rdb_read_len(r, &n, NULL) || skip_strings(r, n, 2, 0) ? -1 : 0;
    case TS_RDB_TYPE_ZSET:
    case TS_RDB_TYPE_ZSET_2:
        if (ts_rdb_read_len(r, &n, NULL)) return -1;
        return skip_strings(r, n, 1, rdbtype == TS_RDB_TYPE_ZSET_2 ? 8 : -1);
    case TS_RDB_TYPE_LIST_QUICKLIST_2:
        if (ts_rdb_read_len(r, &n, NULL)) return -1;
        for (uint64_t i = 0; i < n; i++)   /* container, node */
            if (skip_lens(r, 1) || ts_rdb_skip_string(r)) return -1;
        return 0;
    case TS_RDB_TYPE_STREAM_LISTPACKS:
    case TS_RDB_TYPE_STREAM_LISTPACKS_2:
        return skip_stream(r, rdbtype);
    }
    /* everything else fails to load: let the loader say why */
    ts_value v;
    return ts_rdb_load_value(r, rdbtype, NULL, &v);
}

/* ======================= DUMP / RESTORE payloads ======================= */

void ts_rdb_dump_payload(ts_buf *out, const ts_value *v, bool compress)
{
    size_t start = out->len;
    ts_buf_putc(out, (char)ts_rdb_value_type(v));
    ts_rdb_save_value(out, v, compress);
    put_le(out, TS_RDB_VERSION, 2);
    uint64_t crc = ts_crc64(0, out->data + start, out->len - start);
    put_le(out, crc, 8);
}

int ts_rdb_restore_payload(const void *p, size_t n, const ts_config *cfg, ts_value *out, const char **err)
{
    const unsigned char *b = p;
    if (n < DUMP_FOOTER) goto bad_footer;
    const unsigned char *footer = b + n - DUMP_FOOTER;
    if (get_le(footer, 2) > TS_RDB_VERSION) goto bad_footer;
    if (ts_crc64(0, b, n - 8) != get_le(footer + 2, 8)) goto bad_footer;

    /* Redis reads the value from the whole argument, footer included
     * (rioInitWithBuffer over the payload): a value cut short borrows the
     * footer's bytes there and may load, so the same bytes are readable
     * here, and no byte past the argument is. */
    ts_rdb_reader r;
    ts_rdb_reader_init(&r, b, n);
    int type;
    if (ts_rdb_read_byte(&r, &type) || ts_rdb_load_value(&r, type, cfg, out)) {
        *err = "Bad data format";
        return -1;
    }
    return 0;
bad_footer:
    *err = "DUMP payload version or checksum are wrong";
    return -1;
}

/* ---------- the function libraries' hooks ---------- */

static const ts_rdb_functions_io *functions_io;

void ts_rdb_set_functions_io(const ts_rdb_functions_io *io) { functions_io = io; }
const ts_rdb_functions_io *ts_rdb_functions(void) { return functions_io; }
