/*
 * stream.c - unit tests of the stream structure (src/types/t_stream.c):
 * the node layout byte for byte against a node Redis 7.0 wrote (DUMP),
 * append, ranges in both directions, delete, trim, node splits at
 * stream-node-max-bytes / stream-node-max-entries, groups and PELs, dup.
 */
#include "tessera/types/t_stream.h"

#include <stdlib.h>
#include <string.h>

#include "tessera/types/listpack.h"

#include <stdio.h>

#include "ts_test.h"

static ts_stream_id ID(uint64_t ms, uint64_t seq) { return (ts_stream_id){ms, seq}; }

static void add(ts_stream *s, uint64_t ms, uint64_t seq, const char *f, const char *v, long long maxb, long long maxe)
{
    ts_arg fv[2] = {{f, strlen(f)}, {v, strlen(v)}};
    ts_stream_id id = ID(ms, seq);
    ts_stream_append(s, &id, fv, 1, maxb, maxe);
}

/* Ids of the range, in iteration order, into out; returns the count. */
static int collect(ts_stream *s, const ts_stream_id *a, const ts_stream_id *b, bool rev, uint64_t *out, int max)
{
    ts_stream_iter it;
    ts_stream_iter_start(&it, s, a, b, rev);
    ts_stream_id id;
    long long nf;
    int n = 0;
    while (ts_stream_iter_next(&it, &id, &nf) && n < max) {
        for (long long i = 0; i < nf; i++) {
            char fb[24], vb[24];
            const unsigned char *f, *v;
            size_t fl, vl;
            ts_stream_iter_field(&it, fb, &f, &fl, vb, &v, &vl);
        }
        out[n++] = id.ms;
    }
    return n;
}

/* XADD s 1-0 a 1; XADD s 2-5 a 2; XADD s 3-0 b x c 12345678901; XDEL s 2-5
 * on Redis 7.0.15, the node's listpack from DUMP (rdbcompression no). */
static const unsigned char redis_node[] = {
    0x43, 0x00, 0x00, 0x00, 0x18, 0x00, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x81, 0x61, 0x02, 0x00, 0x01,
    0x02, 0x01, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x04, 0x01, 0x03, 0x01, 0x01, 0x01, 0x05, 0x01, 0x02,
    0x01, 0x04, 0x01, 0x00, 0x01, 0x02, 0x01, 0x00, 0x01, 0x02, 0x01, 0x81, 0x62, 0x02, 0x81, 0x78, 0x02,
    0x81, 0x63, 0x02, 0xf4, 0x35, 0x1c, 0xdc, 0xdf, 0x02, 0x00, 0x00, 0x00, 0x09, 0x08, 0x01, 0xff,
};

static void test_layout_matches_redis(void)
{
    ts_stream *s = ts_stream_new();
    add(s, 1, 0, "a", "1", 4096, 100);
    add(s, 2, 5, "a", "2", 4096, 100);
    ts_arg fv[4] = {{"b", 1}, {"x", 1}, {"c", 1}, {"12345678901", 11}};
    ts_stream_id id = ID(3, 0);
    ts_stream_append(s, &id, fv, 2, 4096, 100);
    ts_stream_id del = ID(2, 5);
    CHECK(ts_stream_delete(s, &del));
    CHECK_EQ_INT(s->nnodes, 1);
    CHECK_EQ_INT(ts_lp_bytes(s->nodes[0].lp), sizeof redis_node);
    CHECK(memcmp(s->nodes[0].lp, redis_node, sizeof redis_node) == 0);
    CHECK_EQ_INT(s->length, 2);
    CHECK_EQ_INT(s->entries_added, 3);
    /* Fields of the non-SAMEFIELDS entry come back, integers formatted. */
    ts_stream_iter it;
    ts_stream_iter_start(&it, s, &id, &id, false);
    ts_stream_id got;
    long long nf;
    CHECK(ts_stream_iter_next(&it, &got, &nf));
    CHECK_EQ_INT(nf, 2);
    char fb[24], vb[24];
    const unsigned char *f, *v;
    size_t fl, vl;
    ts_stream_iter_field(&it, fb, &f, &fl, vb, &v, &vl);
    CHECK_MEM(f, fl, "b");
    CHECK_MEM(v, vl, "x");
    ts_stream_iter_field(&it, fb, &f, &fl, vb, &v, &vl);
    CHECK_MEM(f, fl, "c");
    CHECK_MEM(v, vl, "12345678901");
    CHECK(!ts_stream_iter_next(&it, &got, &nf));
    ts_stream_free(s);
}

static void test_split_by_entries(void)
{
    ts_stream *s = ts_stream_new();
    for (uint64_t i = 1; i <= 25; i++) add(s, i, 0, "f", "v", 4096, 10);
    CHECK_EQ_INT(s->nnodes, 3);
    CHECK_EQ_INT(s->nodes[0].master.ms, 1);
    CHECK_EQ_INT(s->nodes[1].master.ms, 11);
    CHECK_EQ_INT(s->nodes[2].master.ms, 21);
    /* Deleted entries still count toward the node's limit. */
    ts_stream_id d = ID(25, 0);
    CHECK(ts_stream_delete(s, &d));
    for (uint64_t i = 26; i <= 31; i++) add(s, i, 0, "f", "v", 4096, 10);
    CHECK_EQ_INT(s->nnodes, 4);
    CHECK_EQ_INT(s->nodes[3].master.ms, 31);
    ts_stream_free(s);
}

static void test_split_by_bytes(void)
{
    ts_stream *s = ts_stream_new();
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (uint64_t i = 1; i <= 40; i++) add(s, i, 0, "f", big, 1000, 0);
    CHECK(s->nnodes >= 8);
    for (size_t i = 0; i < s->nnodes; i++) CHECK(ts_lp_bytes(s->nodes[i].lp) < 1000 + 210);
    uint64_t ids[64];
    CHECK_EQ_INT(collect(s, NULL, NULL, false, ids, 64), 40);
    ts_stream_free(s);
}

static void test_ranges(void)
{
    ts_stream *s = ts_stream_new();
    for (uint64_t i = 1; i <= 50; i++) add(s, i * 2, 0, (i % 3) ? "f" : "g", "v", 4096, 7);
    uint64_t ids[64];
    ts_stream_id a = ID(10, 0), b = ID(21, 0);
    int n = collect(s, &a, &b, false, ids, 64);
    CHECK_EQ_INT(n, 6);
    CHECK_EQ_INT(ids[0], 10);
    CHECK_EQ_INT(ids[5], 20);
    n = collect(s, &a, &b, true, ids, 64);
    CHECK_EQ_INT(n, 6);
    CHECK_EQ_INT(ids[0], 20);
    CHECK_EQ_INT(ids[5], 10);
    n = collect(s, NULL, NULL, true, ids, 64);
    CHECK_EQ_INT(n, 50);
    CHECK_EQ_INT(ids[0], 100);
    CHECK_EQ_INT(ids[49], 2);
    a = ID(101, 0);
    CHECK_EQ_INT(collect(s, &a, NULL, false, ids, 64), 0);
    b = ID(1, 0);
    CHECK_EQ_INT(collect(s, NULL, &b, true, ids, 64), 0);
    ts_stream_id last;
    CHECK(ts_stream_edge_id(s, true, &last));
    CHECK_EQ_INT(last.ms, 100);
    ts_stream_free(s);
}

static void test_delete(void)
{
    ts_stream *s = ts_stream_new();
    for (uint64_t i = 1; i <= 20; i++) add(s, i, 0, "f", "v", 4096, 5);
    CHECK_EQ_INT(s->nnodes, 4);
    ts_stream_id x = ID(3, 0), y = ID(99, 0);
    CHECK(ts_stream_delete(s, &x));
    CHECK(!ts_stream_delete(s, &x));
    CHECK(!ts_stream_delete(s, &y));
    /* Emptying a node frees it. */
    for (uint64_t i = 6; i <= 10; i++) {
        ts_stream_id d = ID(i, 0);
        CHECK(ts_stream_delete(s, &d));
    }
    CHECK_EQ_INT(s->nnodes, 3);
    CHECK_EQ_INT(s->length, 14);
    uint64_t ids[32];
    CHECK_EQ_INT(collect(s, NULL, NULL, false, ids, 32), 14);
    CHECK_EQ_INT(ids[2], 4);
    CHECK_EQ_INT(ids[4], 11);
    CHECK_EQ_INT(collect(s, NULL, NULL, true, ids, 32), 14);
    CHECK_EQ_INT(ids[9], 11);
    CHECK_EQ_INT(ids[10], 5);
    ts_stream_free(s);
}

static void test_trim(void)
{
    ts_stream *s = ts_stream_new();
    for (uint64_t i = 1; i <= 100; i++) add(s, i, 0, "f", "v", 4096, 10);
    /* Approximate: whole nodes only. */
    CHECK_EQ_INT(ts_stream_trim(s, 75, NULL, true, 0), 20);
    CHECK_EQ_INT(s->length, 80);
    CHECK_EQ_INT(s->first_id.ms, 21);
    /* Limit caps the whole nodes removed. */
    CHECK_EQ_INT(ts_stream_trim(s, 0, NULL, true, 25), 20);
    CHECK_EQ_INT(s->length, 60);
    /* Exact: inside a node too. */
    CHECK_EQ_INT(ts_stream_trim(s, 55, NULL, false, 0), 5);
    CHECK_EQ_INT(s->length, 55);
    CHECK_EQ_INT(s->first_id.ms, 46);
    ts_stream_id m = ID(63, 0);
    CHECK_EQ_INT(ts_stream_trim(s, 0, &m, false, 0), 17);
    uint64_t ids[128];
    CHECK_EQ_INT(collect(s, NULL, NULL, false, ids, 128), 38);
    CHECK_EQ_INT(ids[0], 63);
    CHECK_EQ_INT(collect(s, NULL, NULL, true, ids, 128), 38);
    CHECK_EQ_INT(ids[37], 63);
    CHECK_EQ_INT(ts_stream_trim(s, 0, NULL, false, 0), 38);
    CHECK_EQ_INT(s->length, 0);
    CHECK_EQ_INT(s->nnodes, 0);
    CHECK_EQ_INT(s->first_id.ms, 0);
    ts_stream_free(s);
}

static void test_groups_and_dup(void)
{
    ts_stream *s = ts_stream_new();
    for (uint64_t i = 1; i <= 5; i++) add(s, i, 0, "f", "v", 4096, 100);
    ts_stream_id zero = ID(0, 0);
    ts_stream_cg *g = ts_stream_cg_create(s, "g", 1, &zero, 0);
    CHECK(g != NULL);
    CHECK(ts_stream_cg_create(s, "g", 1, &zero, 0) == NULL);
    ts_stream_cg_create(s, "a", 1, &zero, 0);
    CHECK(s->groups[0]->name[0] == 'a');
    ts_stream_consumer *c1 = ts_stream_consumer_get(g, "c1", 2, 1000, NULL);
    ts_stream_consumer *c2 = ts_stream_consumer_get(g, "c2", 2, 1000, NULL);
    for (uint64_t i = 1; i <= 4; i++) {
        ts_stream_id id = ID(i, 0);
        ts_stream_cg_advance(s, g, &id);
        ts_stream_cg_deliver(g, i % 2 ? c1 : c2, &id, 1000);
    }
    CHECK_EQ_INT(g->pel.n, 4);
    CHECK_EQ_INT(c1->pel.n, 2);
    CHECK_EQ_INT(g->entries_read, 4);
    long long lag;
    CHECK(ts_stream_cg_lag(s, g, &lag));
    CHECK_EQ_INT(lag, 1);
    ts_stream_nack_move(g->pel.v[0], c2);
    CHECK_EQ_INT(c1->pel.n, 1);
    CHECK_EQ_INT(c2->pel.n, 3);
    ts_stream *d = ts_stream_dup(s);
    ts_stream_cg *dg = ts_stream_cg_find(d, "g", 1);
    CHECK(dg && dg != g);
    CHECK_EQ_INT(dg->pel.n, 4);
    ts_stream_consumer *dc2 = ts_stream_consumer_find(dg, "c2", 2);
    CHECK(dc2 && dc2->pel.n == 3 && dc2->pel.v[0]->consumer == dc2);
    CHECK(memcmp(d->nodes[0].lp, s->nodes[0].lp, ts_lp_bytes(s->nodes[0].lp)) == 0);
    ts_stream_id one = ID(1, 0);
    CHECK(ts_stream_cg_ack(g, &one));
    CHECK(!ts_stream_cg_ack(g, &one));
    CHECK_EQ_INT(ts_stream_consumer_delete(g, "c2", 2), 2);
    CHECK_EQ_INT(g->pel.n, 1);
    CHECK_EQ_INT(dg->pel.n, 4);
    CHECK(ts_stream_cg_destroy(s, "g", 1));
    CHECK(!ts_stream_cg_destroy(s, "g", 1));
    ts_stream_free(s);
    ts_stream_free(d);
}

/* A PEL under the queue pattern (deliver at the end, acknowledge at the
 * front) and random inserts and removals, against a plain sorted model. */
static void test_pel_both_ends(void)
{
    ts_stream_pel pel = {0};
    uint64_t model[4096];
    size_t mn = 0;
    uint64_t next = 1, seed = 42;
    for (int step = 0; step < 200000; step++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned r = (unsigned)(seed >> 33);
        bool insert = mn == 0 || (mn < 4000 && r % 100 < 52);
        if (insert) {
            uint64_t ms = r % 10 == 0 ? (uint64_t)(r >> 8) % (next + 1) : next++;
            ts_stream_id id = ID(ms, step);
            ts_stream_nack *nk = calloc(1, sizeof(*nk));
            nk->id = id;
            ts_stream_pel_insert(&pel, nk);
            size_t i = 0;
            while (i < mn && (model[i] >> 20 < ms || (model[i] >> 20 == ms && (model[i] & 0xfffff) < (uint64_t)step))) i++;
            memmove(&model[i + 1], &model[i], sizeof(*model) * (mn - i));
            model[i] = ms << 20 | (uint64_t)step;
            mn++;
        } else {
            size_t i = r % 10 < 7 ? 0 : (size_t)(r >> 4) % mn;
            ts_stream_id id = ID(model[i] >> 20, model[i] & 0xfffff);
            ts_stream_nack *nk = ts_stream_pel_find(&pel, &id);
            CHECK(nk != NULL);
            CHECK(ts_stream_pel_remove(&pel, &id));
            free(nk);
            memmove(&model[i], &model[i + 1], sizeof(*model) * (mn - i - 1));
            mn--;
        }
        CHECK_EQ_INT(pel.n, mn);
        if (step % 997 == 0 || mn < 3) {
            for (size_t i = 0; i < mn; i++)
                CHECK(pel.v[i]->id.ms == model[i] >> 20 && pel.v[i]->id.seq == (model[i] & 0xfffff));
            CHECK(pel.head + pel.n <= pel.cap);
        }
    }
    for (size_t i = 0; i < pel.n; i++) free(pel.v[i]);
    free(pel.v - pel.head);
}

int main(void)
{
    test_pel_both_ends();
    test_layout_matches_redis();
    test_split_by_entries();
    test_split_by_bytes();
    test_ranges();
    test_delete();
    test_trim();
    test_groups_and_dup();
    TS_TEST_MAIN_END();
}
