/*
 * t_zset.h - the sorted-set type: its two encodings behind one interface,
 * score parsing/formatting with Redis 7.0's rules, and the pop primitive
 * shared by ZPOPMIN/ZPOPMAX/ZMPOP and the blocking BZPOPMIN/BZPOPMAX/BZMPOP.
 *
 * Owns: nothing beyond the object handed in. A sorted set is a TS_FORM_PTR
 * value of type TS_TYPE_ZSET with encoding
 *   - TS_ENC_LISTPACK: the PTR is a bare listpack (listpack.h) of
 *     member, score, member, score ... ordered by (score, member); a score
 *     is stored as Redis stores it (integral values as integers, others as
 *     "%.17g" text, "inf"/"-inf", "-0"), so the blob is Redis's own format;
 *   - TS_ENC_SKIPLIST: the PTR is a ts_zsl (zskiplist.h).
 * Conversion listpack -> skiplist happens exactly where Redis 7.0 converts
 * (zset-max-listpack-entries / -value); never back, except for the results
 * of ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE/ZRANGESTORE, which pick their
 * encoding from their final size like Redis.
 *
 * Thread: the owner of the key's shard (cmd.h).
 *
 * A listpack may move on every change: functions that change a sorted set
 * take a ts_zset handle and update handle->ptr; the caller stores it back
 * with ts_entry_set_object(e, z.enc, z.ptr) (ts_zset_store does that).
 */
#ifndef TESSERA_T_ZSET_H
#define TESSERA_T_ZSET_H

#include <stdbool.h>
#include <stddef.h>

#include "tessera/types/object.h"
#include "tessera/types/table.h"
#include "tessera/types/zskiplist.h"
#include "tessera/util/common.h"

struct ts_config;

typedef struct ts_zset {
    void *ptr;
    int enc;        /* TS_ENC_LISTPACK or TS_ENC_SKIPLIST */
} ts_zset;

extern const ts_type_ops ts_zset_ops;

/* ---- scores ---- */
/* Redis's string2d (ZADD scores, ZINCRBY, WEIGHTS): the whole argument, no
 * leading space, no NaN, no overflow. */
bool ts_zset_parse_score(ts_arg a, double *out);
/* Redis's d2string: how a score is stored in a listpack and shown by ZSCAN.
 * buf >= 32 bytes; returns the length. */
int ts_zset_fmt_score(char *buf, double d);
/* Range arguments: "(1.5" exclusive, "-inf"/"+inf"; "[a" "(a" "-" "+". */
bool ts_zset_parse_score_range(ts_arg min, ts_arg max, ts_zscore_range *r);
bool ts_zset_parse_lex_range(ts_arg min, ts_arg max, ts_zlex_range *r);

/* ---- objects ---- */
/* An empty sorted set in the encoding Redis 7.0's ZADD creates for a key
 * whose first member has length first_len. */
ts_zset ts_zset_create(const struct ts_config *cfg, size_t first_len);
static inline ts_zset ts_zset_of(const ts_entry *e)
{
    ts_value v;
    ts_entry_value(e, &v);
    return (ts_zset){v.ptr, v.enc};
}
/* Stores z's (possibly moved/converted) object back into e. */
static inline void ts_zset_store(ts_entry *e, const ts_zset *z) { ts_entry_set_object(e, z->enc, z->ptr); }
size_t ts_zset_length(const ts_zset *z);
bool ts_zset_score(ts_zset *z, const char *m, size_t n, double *score);
/* 0-based rank (from the end when rev), or -1 when absent. */
long ts_zset_rank(ts_zset *z, const char *m, size_t n, bool rev);

/* Redis's zsetAdd: flags in, flags out, *newscore (may be NULL). Returns
 * false when the result is NaN (nothing changed). May convert to skiplist. */
enum { TS_ZADD_NX = 1, TS_ZADD_XX = 2, TS_ZADD_GT = 4, TS_ZADD_LT = 8, TS_ZADD_INCR = 16 };
enum { TS_ZADD_OUT_NOP = 1, TS_ZADD_OUT_ADDED = 2, TS_ZADD_OUT_UPDATED = 4, TS_ZADD_OUT_NAN = 8 };
bool ts_zset_add(ts_zset *z, const struct ts_config *cfg, double score, const char *m, size_t n, int in_flags,
                 int *out_flags, double *newscore);
/* Removes member; true if it was there. */
bool ts_zset_del(ts_zset *z, const char *m, size_t n);
/* Removes the members of 0-based ascending ranks [start, end]. */
size_t ts_zset_delete_ranks(ts_zset *z, size_t start, size_t end);
/* The 0-based ascending ranks of the first and last member in the range;
 * false when the range holds none. */
bool ts_zset_score_ranks(ts_zset *z, const ts_zscore_range *r, size_t *start, size_t *end);
/* Lex: the block Redis's walk finds in direction rev (see t_zset.c). */
bool ts_zset_lex_ranks(ts_zset *z, const ts_zlex_range *r, bool rev, size_t *start, size_t *end);
/* Appends (m, score) at the end of a zset listpack (a sorted build); returns
 * the new listpack. */
unsigned char *ts_zset_lp_append(unsigned char *lp, const char *m, size_t n, double score);
/* Converts a listpack sorted set to a skiplist (no-op for a skiplist). */
void ts_zset_convert_to_skiplist(ts_zset *z);

/* ---- iteration (in ascending order, or descending when rev) ---- */
typedef struct ts_zset_it {
    int enc;
    bool rev;
    unsigned char *lp, *p;      /* listpack: the member element */
    ts_zsl_node *x;             /* skiplist */
    char buf[32];
} ts_zset_it;
/* Positions it at `rank` counted in its direction (0 = first). */
void ts_zset_it_at(ts_zset *z, ts_zset_it *it, size_t rank, bool rev);
static inline bool ts_zset_it_valid(const ts_zset_it *it) { return it->enc == TS_ENC_LISTPACK ? it->p != NULL : it->x != NULL; }
const char *ts_zset_it_member(ts_zset_it *it, size_t *len);
double ts_zset_it_score(const ts_zset_it *it);
void ts_zset_it_next(ts_zset_it *it);

#endif
