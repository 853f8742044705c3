/*
 * Unit test of the WATCH registry (store/watched_keys.c) against Redis
 * 7.0.15's multi.c rules: registrations are deduplicated per watcher, db and
 * key and kept in order; a touch dirties and unregisters every watcher of
 * the key up to the first expired-when-watched registration whose key is
 * still in the table (the `break`), clearing the flag of one whose key is
 * gone; FLUSHDB / FLUSHALL / SWAPDB take every branch of
 * touchAllWatchedKeysInDb; isWatchedKeyExpired per registration; the
 * registry's references are released exactly once; a scratch shard records
 * its signals instead.
 *
 * Includes the module (practice 11 of docs/style.md) to read its lists.
 */
#include "store/watched_keys.c"
#include "tessera/store/db.h"
#include "tessera/util/hash.h"
#include "ts_test.h"

/* A watcher as the route layer's ts_watch would be: a dirty flag, a
 * reference count, and whether it says it is stale. */
typedef struct watcher {
    int touched;
    int refs;
    bool stale;
} watcher;

static void w_touch(void *p) { ((watcher *)p)->touched++; }
static void w_release(void *p) { ((watcher *)p)->refs--; }
static bool w_stale(void *p) { return ((watcher *)p)->stale; }
static const ts_watcher_ops ops = {.touch = w_touch, .release = w_release, .stale = w_stale};
static const ts_watcher_ops ops_no_stale = {.touch = w_touch, .release = w_release};

static ts_arg K(const char *s) { return (ts_arg){s, strlen(s)}; }

/* Registers and takes the reference the registry now holds (the caller's
 * job, as blocked_keys.h's). */
static bool add(ts_shard *s, int db, const char *key, watcher *w, int64_t now)
{
    bool added = ts_watch_add(s, db, K(key), w, &ops, now);
    if (added) w->refs++;
    return added;
}

/* Puts key in db with an int value; expire_ms < 0: none. */
static void put(ts_shard *s, int db, const char *key, int64_t expire_ms)
{
    ts_value v = {.type = TS_TYPE_STRING, .enc = TS_ENC_INT, .form = TS_FORM_INT, .i = 1};
    ts_table_set(&s->dbs[db], key, strlen(key), &v, expire_ms, false);
}

static void del(ts_shard *s, int db, const char *key) { ts_table_delete(&s->dbs[db], key, strlen(key)); }

/* The registration of w on key, or NULL. */
static watch_rec *rec_of(ts_shard *s, int db, const char *key, watcher *w)
{
    watch_list *l = find_list(s, db, K(key), NULL);
    for (uint32_t i = 0; l && i < l->n; i++)
        if (l->v[i].watcher == w) return &l->v[i];
    return NULL;
}

static void test_add_dedupe_remove(void)
{
    ts_shard s;
    ts_shard_init(&s, 0, 16);
    watcher a = {0}, b = {0};
    CHECK_EQ_INT(ts_watch_count(&s), 0);
    CHECK(s.watch_reg == NULL);
    /* Removing or signalling before anything was registered is harmless. */
    ts_watch_remove(&s, 0, K("k"), &a);
    ts_db_signal_modified_in(&s, 0, K("k"));
    ts_db_signal_flushed(&s, 0, -1, 0);
    CHECK(add(&s, 0, "k", &a, 0));
    CHECK(!add(&s, 0, "k", &a, 0));          /* watchForKey: already watched */
    CHECK_EQ_INT(a.refs, 1);
    CHECK(add(&s, 1, "k", &a, 0));           /* another db is another key */
    CHECK(add(&s, 0, "k", &b, 0));
    CHECK(add(&s, 0, "other", &a, 0));
    CHECK_EQ_INT(ts_watch_count(&s), 4);
    CHECK_EQ_INT(a.refs, 3);
    /* Registration order is kept. */
    watch_list *l = find_list(&s, 0, K("k"), NULL);
    CHECK(l && l->n == 2 && l->v[0].watcher == &a && l->v[1].watcher == &b);

    ts_watch_remove(&s, 0, K("k"), &a);
    CHECK_EQ_INT(a.refs, 2);
    CHECK(rec_of(&s, 0, "k", &a) == NULL);
    CHECK(rec_of(&s, 0, "k", &b) != NULL);
    ts_watch_remove(&s, 0, K("k"), &a);      /* none left: no-op */
    ts_watch_remove(&s, 0, K("missing"), &a);
    CHECK_EQ_INT(a.refs, 2);
    CHECK_EQ_INT(ts_watch_count(&s), 3);
    /* After removal, the same watcher may register again (at the end). */
    CHECK(add(&s, 0, "k", &a, 0));
    l = find_list(&s, 0, K("k"), NULL);
    CHECK(l && l->n == 2 && l->v[0].watcher == &b && l->v[1].watcher == &a);
    ts_watch_remove(&s, 0, K("k"), &a);
    ts_watch_remove(&s, 0, K("k"), &b);
    /* The key's list is gone with its last registration. */
    CHECK(find_list(&s, 0, K("k"), NULL) == NULL);
    CHECK_EQ_INT(b.refs, 0);

    /* A key longer than the stack buffer. */
    char big[300];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK(add(&s, 3, big, &b, 0));
    CHECK(!add(&s, 3, big, &b, 0));
    ts_db_signal_modified_in(&s, 3, K(big));
    CHECK_EQ_INT(b.touched, 1);
    CHECK_EQ_INT(b.refs, 0);

    /* Teardown releases what is left, once each. */
    CHECK_EQ_INT(ts_watch_count(&s), 2);
    ts_shard_free(&s);
    CHECK_EQ_INT(a.refs, 0);
    CHECK_EQ_INT(a.touched, 0);
}

static void test_touch(void)
{
    ts_shard s;
    ts_shard_init(&s, 0, 16);
    watcher a = {0}, b = {0}, c = {0};
    add(&s, 0, "k", &a, 0);
    add(&s, 0, "k", &b, 0);
    add(&s, 0, "j", &a, 0);
    add(&s, 1, "k", &c, 0);
    ts_exec x = {.shard = &s, .db = 0};
    ts_db_signal_modified(&x, K("k"));
    CHECK_EQ_INT(a.touched, 1);
    CHECK_EQ_INT(b.touched, 1);
    CHECK_EQ_INT(c.touched, 0);              /* same key, other db */
    /* Touched registrations are dropped (unwatchAllKeys), so a second
     * change touches nobody again. */
    CHECK(find_list(&s, 0, K("k"), NULL) == NULL);
    CHECK_EQ_INT(b.refs, 0);
    CHECK_EQ_INT(a.refs, 1);                 /* "j" is another key: only this shard's k is dropped */
    ts_db_signal_modified(&x, K("k"));
    CHECK_EQ_INT(a.touched, 1);
    CHECK_EQ_INT(b.touched, 1);
    /* An unwatched key touches nobody. */
    ts_db_signal_modified(&x, K("nobody"));
    CHECK_EQ_INT(a.touched + b.touched + c.touched, 2);
    ts_db_signal_modified_in(&s, 1, K("k"));
    CHECK_EQ_INT(c.touched, 1);
    CHECK_EQ_INT(ts_watch_count(&s), 1);
    ts_shard_free(&s);
    CHECK_EQ_INT(a.refs, 0);
}

/* touchWatchedKey's expired-when-watched rules, and its `break`. */
static void test_touch_expired(void)
{
    ts_shard s;
    ts_shard_init(&s, 0, 16);
    watcher old = {0}, fresh = {0}, late = {0};
    put(&s, 0, "k", 1000);
    add(&s, 0, "k", &fresh, 500);            /* alive when watched */
    add(&s, 0, "k", &old, 2000);             /* already expired when watched */
    add(&s, 0, "k", &late, 500);
    CHECK(!rec_of(&s, 0, "k", &fresh)->expired);
    CHECK(rec_of(&s, 0, "k", &old)->expired);
    /* The key is still in the table: fresh is touched, then the walk stops
     * at old, and late stays clean. */
    ts_db_signal_modified_in(&s, 0, K("k"));
    CHECK_EQ_INT(fresh.touched, 1);
    CHECK_EQ_INT(old.touched, 0);
    CHECK_EQ_INT(late.touched, 0);
    CHECK(rec_of(&s, 0, "k", &fresh) == NULL);
    CHECK(rec_of(&s, 0, "k", &old) != NULL && rec_of(&s, 0, "k", &late) != NULL);
    /* Same again: old still first, still breaks. */
    ts_db_signal_modified_in(&s, 0, K("k"));
    CHECK_EQ_INT(late.touched, 0);
    /* The key is gone (lazy expiry deleted it, then signalled): old's flag
     * is cleared without a touch, and the walk goes on to late. */
    del(&s, 0, "k");
    ts_db_signal_modified_in(&s, 0, K("k"));
    CHECK_EQ_INT(old.touched, 0);
    CHECK(rec_of(&s, 0, "k", &old) && !rec_of(&s, 0, "k", &old)->expired);
    CHECK_EQ_INT(late.touched, 1);
    CHECK(rec_of(&s, 0, "k", &late) == NULL);
    /* Re-added afterwards: old is now an ordinary registration. */
    put(&s, 0, "k", -1);
    ts_db_signal_modified_in(&s, 0, K("k"));
    CHECK_EQ_INT(old.touched, 1);
    CHECK_EQ_INT(ts_watch_count(&s), 0);
    CHECK_EQ_INT(old.refs + fresh.refs + late.refs, 0);

    /* An expired-when-watched registration first in line hides everyone
     * behind it while the key stays. */
    watcher e1 = {0}, e2 = {0};
    put(&s, 2, "q", 10);
    add(&s, 2, "q", &e1, 20);
    add(&s, 2, "q", &e2, 20);
    ts_db_signal_modified_in(&s, 2, K("q"));
    CHECK_EQ_INT(e1.touched + e2.touched, 0);
    del(&s, 2, "q");
    ts_db_signal_modified_in(&s, 2, K("q"));   /* both cleared, none touched */
    CHECK_EQ_INT(e1.touched + e2.touched, 0);
    CHECK(!rec_of(&s, 2, "q", &e1)->expired && !rec_of(&s, 2, "q", &e2)->expired);
    ts_shard_free(&s);
    CHECK_EQ_INT(e1.refs + e2.refs, 0);
}

/* The stale op: a dirty or finished watcher's registration is dropped where
 * met, as if Redis's unwatchAllKeys had removed it. */
static void test_stale(void)
{
    ts_shard s;
    ts_shard_init(&s, 0, 16);
    watcher gone = {0}, next = {0}, plain = {0};
    put(&s, 0, "k", 1000);
    add(&s, 0, "k", &gone, 2000);            /* expired when watched ... */
    add(&s, 0, "k", &next, 2000 - 1500);     /* ... and a live one behind it */
    gone.stale = true;                       /* e.g. dirtied through another key */
    ts_db_signal_modified_in(&s, 0, K("k"));
    CHECK_EQ_INT(gone.touched, 0);
    CHECK_EQ_INT(gone.refs, 0);              /* dropped, not touched */
    CHECK_EQ_INT(next.touched, 1);           /* no break */
    /* Without a stale op a registration is never stale. */
    CHECK(ts_watch_add(&s, 0, K("k"), &plain, &ops_no_stale, 2000));
    plain.refs++;
    CHECK(rec_of(&s, 0, "k", &plain)->expired);
    ts_db_signal_modified_in(&s, 0, K("k"));
    CHECK_EQ_INT(plain.touched, 0);          /* break: the key is in the table */
    /* Flushes skip stale registrations too (no touch, flag kept). */
    watcher st = {0};
    put(&s, 0, "f", -1);
    add(&s, 0, "f", &st, 0);
    st.stale = true;
    ts_db_signal_flushed(&s, 0, -1, 0);
    CHECK_EQ_INT(st.touched, 0);
    ts_shard_free(&s);
    CHECK_EQ_INT(plain.refs + st.refs + next.refs, 0);
}

static void test_expired_since(void)
{
    ts_shard s;
    ts_shard_init(&s, 0, 16);
    watcher a = {0}, b = {0}, c = {0};
    put(&s, 0, "k", 1000);
    add(&s, 0, "k", &a, 900);
    add(&s, 0, "k", &b, 1500);
    add(&s, 0, "none", &c, 0);
    CHECK(!ts_watch_expired_since(&s, 0, K("k"), &a, 1000));   /* now == when: alive */
    CHECK(ts_watch_expired_since(&s, 0, K("k"), &a, 1001));
    CHECK(!ts_watch_expired_since(&s, 0, K("k"), &b, 5000));   /* expired when watched */
    CHECK(!ts_watch_expired_since(&s, 0, K("none"), &c, 5000)); /* no key */
    CHECK(!ts_watch_expired_since(&s, 0, K("k"), &c, 5000));    /* not registered there */
    CHECK(!ts_watch_expired_since(&s, 1, K("k"), &a, 5000));    /* other db */
    CHECK(!ts_watch_expired_since(&s, 0, K("k"), &a, 0));       /* loading: nothing expires */
    put(&s, 0, "none", 3000);
    CHECK(ts_watch_expired_since(&s, 0, K("none"), &c, 3001));  /* created after WATCH, then expired */
    /* ts_watch_add itself deletes nothing. */
    CHECK(ts_table_find(&s.dbs[0], "k", 1) != NULL);
    ts_shard_free(&s);
}

/* FLUSHDB / FLUSHALL: touchAllWatchedKeysInDb(db, NULL). */
static void test_flushed(void)
{
    ts_shard s;
    ts_shard_init(&s, 0, 16);
    watcher live = {0}, missing = {0}, exp = {0}, other = {0}, behind = {0};
    put(&s, 0, "k", -1);
    put(&s, 0, "e", 1000);
    put(&s, 1, "k", -1);
    add(&s, 0, "k", &live, 0);
    add(&s, 0, "gone", &missing, 0);
    add(&s, 0, "e", &exp, 2000);             /* expired when watched, still in the table */
    add(&s, 0, "e", &behind, 500);           /* behind it: no break in a flush */
    add(&s, 1, "k", &other, 0);
    ts_db_signal_flushed(&s, 0, -1, 2000);
    CHECK_EQ_INT(live.touched, 1);
    CHECK_EQ_INT(missing.touched, 0);        /* not in the db: nothing changes */
    CHECK_EQ_INT(exp.touched, 0);            /* expired key now deleted: no change ... */
    CHECK(!rec_of(&s, 0, "e", &exp)->expired);   /* ... flag cleared */
    CHECK_EQ_INT(behind.touched, 1);
    CHECK_EQ_INT(other.touched, 0);          /* db 1 is not emptied */
    /* Flushes mark but keep the registrations (Redis does not unwatch). */
    CHECK_EQ_INT(ts_watch_count(&s), 5);
    CHECK(rec_of(&s, 0, "k", &live) != NULL);
    /* FLUSHALL: every db in turn, before emptying. */
    for (int db = 0; db < s.ndb; db++) ts_db_signal_flushed(&s, db, -1, 2000);
    CHECK_EQ_INT(other.touched, 1);
    CHECK_EQ_INT(live.touched, 2);
    /* Once emptied, a flush finds nothing to touch. */
    for (int db = 0; db < s.ndb; db++) ts_table_clear(&s.dbs[db]);
    ts_db_signal_flushed(&s, 0, -1, 2000);
    ts_db_signal_flushed(&s, 1, -1, 2000);
    CHECK_EQ_INT(live.touched, 2);
    CHECK_EQ_INT(other.touched, 1);
    ts_shard_free(&s);
    CHECK_EQ_INT(live.refs + missing.refs + exp.refs + other.refs + behind.refs, 0);
}

/* SWAPDB a b: touchAllWatchedKeysInDb(a, b) then (b, a), every branch. */
static void test_swapped(void)
{
    ts_shard s;
    ts_shard_init(&s, 0, 16);
    const int64_t now = 2000;
    enum { A = 0, B = 5 };
    /* Registrations on db A, named after the case. */
    watcher only_a = {0}, only_b = {0}, only_b_exp = {0}, neither = {0}, both = {0}, both_b_exp = {0};
    watcher x_gone_b = {0}, x_b_exp = {0}, x_b_live = {0};
    put(&s, A, "only_a", -1);
    add(&s, A, "only_a", &only_a, now);
    put(&s, B, "only_b", -1);
    add(&s, A, "only_b", &only_b, now);
    put(&s, B, "only_b_exp", 1000);          /* b's value is expired */
    add(&s, A, "only_b_exp", &only_b_exp, now);
    add(&s, A, "neither", &neither, now);
    put(&s, A, "both", -1);
    put(&s, B, "both", -1);
    add(&s, A, "both", &both, now);
    put(&s, A, "both_b_exp", -1);
    put(&s, B, "both_b_exp", 1000);
    add(&s, A, "both_b_exp", &both_b_exp, now);
    /* Expired-when-watched registrations (key in A, expired at now). */
    put(&s, A, "x_gone_b", 1000);            /* B has no such key */
    add(&s, A, "x_gone_b", &x_gone_b, now);
    put(&s, A, "x_b_exp", 1000);
    put(&s, B, "x_b_exp", 1500);             /* B's is expired as well */
    add(&s, A, "x_b_exp", &x_b_exp, now);
    put(&s, A, "x_b_live", 1000);
    put(&s, B, "x_b_live", -1);              /* B's is alive */
    add(&s, A, "x_b_live", &x_b_live, now);
    CHECK(rec_of(&s, A, "x_gone_b", &x_gone_b)->expired);

    ts_db_signal_flushed(&s, A, B, now);
    CHECK_EQ_INT(only_a.touched, 1);         /* exists in emptied */
    CHECK_EQ_INT(only_b.touched, 1);         /* missing key replaced with a live one */
    CHECK_EQ_INT(only_b_exp.touched, 0);     /* missing key replaced with an expired one ... */
    CHECK(rec_of(&s, A, "only_b_exp", &only_b_exp)->expired);   /* ... now flagged expired */
    CHECK_EQ_INT(neither.touched, 0);
    CHECK_EQ_INT(both.touched, 1);
    CHECK_EQ_INT(both_b_exp.touched, 1);     /* exists in emptied: the replacement's expiry does not matter */
    CHECK(!rec_of(&s, A, "both_b_exp", &both_b_exp)->expired);
    CHECK_EQ_INT(x_gone_b.touched, 0);       /* expired key deleted: flag cleared */
    CHECK(!rec_of(&s, A, "x_gone_b", &x_gone_b)->expired);
    CHECK_EQ_INT(x_b_exp.touched, 0);        /* expired key remains expired */
    CHECK(rec_of(&s, A, "x_b_exp", &x_b_exp)->expired);
    CHECK_EQ_INT(x_b_live.touched, 1);       /* expired key replaced with a live one */

    /* The other direction touches db B's registrations only. */
    watcher on_b = {0};
    add(&s, B, "only_a", &on_b, now);        /* missing in B, present in A */
    ts_db_signal_flushed(&s, B, A, now);
    CHECK_EQ_INT(on_b.touched, 1);
    CHECK_EQ_INT(only_a.touched, 1);
    CHECK_EQ_INT(neither.touched, 0);

    /* A registration flagged expired by the swap then behaves as one
     * expired when watched: after the real swap the key is in A and
     * expired, so a touch stops there. */
    ts_table tmp = s.dbs[A];
    s.dbs[A] = s.dbs[B];
    s.dbs[B] = tmp;
    watcher after = {0};
    add(&s, A, "only_b_exp", &after, 0);     /* alive at 0 (its expire is 1000) */
    ts_db_signal_modified_in(&s, A, K("only_b_exp"));
    CHECK_EQ_INT(only_b_exp.touched, 0);
    CHECK_EQ_INT(after.touched, 0);          /* behind the break */
    ts_shard_free(&s);
    CHECK_EQ_INT(only_a.refs + only_b.refs + only_b_exp.refs + neither.refs + both.refs + both_b_exp.refs +
                     x_gone_b.refs + x_b_exp.refs + x_b_live.refs + on_b.refs + after.refs,
                 0);
}

/* A scratch shard records what it would signal; nothing is touched. */
static void test_record(void)
{
    ts_shard s;
    ts_shard_init(&s, 0, 4);
    ts_signals_record_begin(&s);
    ts_db_signal_modified_in(&s, 2, K("a"));
    ts_exec x = {.shard = &s, .db = 1};
    ts_db_signal_modified(&x, K("bb"));
    ts_db_signal_flushed(&s, 1, -1, 0);      /* records nothing */
    CHECK_EQ_INT(s.nsignals, 2);
    CHECK(s.signals[0].db == 2 && s.signals[0].len == 1 && memcmp(s.signals[0].k, "a", 1) == 0);
    CHECK(s.signals[1].db == 1 && s.signals[1].len == 2 && memcmp(s.signals[1].k, "bb", 2) == 0);
    ts_signals_record_free(&s);
    CHECK(!s.record_signals && s.nsignals == 0 && s.signals == NULL);
    ts_db_signal_modified_in(&s, 2, K("a"));
    CHECK_EQ_INT(s.nsignals, 0);
    ts_signals_record_begin(&s);
    ts_db_signal_modified_in(&s, 0, K("z"));
    ts_shard_free(&s);                       /* frees the record too */
    CHECK(s.signals == NULL);
}

/* Lazy and active expiry signal after the delete (deleteExpiredKeyAndPropagate),
 * and ts_db_lookup_in may be given the entry's own key bytes (SCAN and
 * RANDOMKEY do): under ASan this reads no freed memory. */
static void test_expiry_signals(void)
{
    ts_shard s;
    ts_shard_init(&s, 0, 16);
    watcher live = {0}, old = {0}, act = {0};
    char big[200];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = 0;
    put(&s, 0, big, 1000);
    add(&s, 0, big, &old, 2000);             /* expired when watched */
    add(&s, 0, big, &live, 500);
    ts_entry *e = ts_table_find(&s.dbs[0], big, strlen(big));
    ts_arg own;
    own.ptr = ts_entry_key(e, &own.len);
    CHECK(ts_db_lookup_in(&s, 0, own, 2000) == NULL);
    CHECK_EQ_INT(old.touched, 0);            /* gone: flag cleared, no touch */
    CHECK(rec_of(&s, 0, big, &old) && !rec_of(&s, 0, big, &old)->expired);
    CHECK_EQ_INT(live.touched, 1);
    CHECK_EQ_INT(s.stats.expired_keys, 1);
    /* A live key's lookup signals nothing. */
    put(&s, 0, "alive", 5000);
    add(&s, 0, "alive", &act, 0);
    CHECK(ts_db_lookup_in(&s, 0, K("alive"), 2000) != NULL);
    CHECK_EQ_INT(act.touched, 0);
    /* The active cycle deletes it later, and signals. */
    ts_db_active_expire_cycle(&s, 6000, 100000);
    CHECK(ts_table_find(&s.dbs[0], "alive", 5) == NULL);
    CHECK_EQ_INT(act.touched, 1);
    /* ts_db_set_string signals (setKey). */
    watcher w = {0};
    add(&s, 3, "str", &w, 0);
    ts_exec x = {.shard = &s, .db = 3, .now_ms = 7000};
    ts_db_set_string(&x, K("str"), "v", 1, -1, false);
    CHECK_EQ_INT(w.touched, 1);
    ts_shard_free(&s);
    CHECK_EQ_INT(live.refs + old.refs + act.refs + w.refs, 0);
}

int main(void)
{
    ts_hash_seed_init();
    test_add_dedupe_remove();
    test_touch();
    test_touch_expired();
    test_stale();
    test_expired_since();
    test_flushed();
    test_swapped();
    test_record();
    test_expiry_signals();
    TS_TEST_MAIN_END();
}
