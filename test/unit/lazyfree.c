/*
 * Unit test of the lazy-free queue's bound (store/lazyfree.c): while the
 * thread is behind (here: not started yet, the queue only fills), values
 * are queued up to TS_LAZYFREE_MAX_JOBS jobs or TS_LAZYFREE_MAX_EFFORT of
 * free effort, and past either bound ts_lazyfree_value declines (the caller
 * frees inline); FLUSHALL ASYNC's tables are then cleared inline too. Once
 * the thread runs, it frees everything queued, the counters return to 0
 * and values are queued again.
 *
 * Includes the module (practice 11 of docs/style.md) to hold its thread
 * back and read its counters.
 */
#include <time.h>

#include "store/lazyfree.c"
#include "tessera/types/t_set.h"
#include "tessera/util/hash.h"
#include "ts_test.h"

/* A set of 100 members: above TS_LAZYFREE_THRESHOLD. */
static ts_value big_set(int tag)
{
    int enc = TS_ENC_HASHTABLE;
    void *o = ts_set_new(enc);
    char m[32];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(m, sizeof m, "m%d-%d", tag, i);
        ts_set_add(&o, &enc, m, (size_t)n, 512);
    }
    return (ts_value){.type = TS_TYPE_SET, .enc = (uint8_t)enc, .form = TS_FORM_PTR, .ptr = o};
}

/* What the thread does with each job, on this thread: the queue empties
 * and the counters must come back to 0. */
static void run_queue_here(void)
{
    while (lf.head) {
        job *j = lf.head;
        lf.head = j->next;
        run_job(j);
        atomic_fetch_sub(&lf.pending_effort, j->effort);
        atomic_fetch_sub(&lf.pending, 1);
        free(j);
    }
    lf.tail = NULL;
}

static bool wait_drained(void)
{
    for (int i = 0; i < 5000; i++) {
        if (ts_lazyfree_pending() == 0) return true;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

int main(void)
{
    ts_hash_seed_init();
    /* The thread "behind": queueing allowed, nothing consumed yet. */
    atomic_store(&lf.running, true);

    /* The effort bound: one value holding all the effort the queue may
     * have is taken (the queue was empty); the next is declined. */
    ts_value v = big_set(0);
    CHECK(ts_lazyfree_value(&v, TS_LAZYFREE_MAX_EFFORT));
    ts_value w = big_set(1);
    CHECK(!ts_lazyfree_value(&w, ts_value_free_effort(&w)));
    CHECK_EQ_INT(ts_lazyfree_inline_behind(), 1);
    CHECK_EQ_INT(ts_lazyfree_pending(), 1);

    run_queue_here();
    CHECK_EQ_INT(ts_lazyfree_pending(), 0);
    CHECK_EQ_INT(atomic_load(&lf.pending_effort), 0);
    CHECK(ts_lazyfree_value(&w, ts_value_free_effort(&w)));   /* room again */

    /* The job bound. */
    int queued = 1;
    for (int i = 2; queued < TS_LAZYFREE_MAX_JOBS; i++, queued++) {
        ts_value x = big_set(i);
        if (!ts_lazyfree_value(&x, ts_value_free_effort(&x))) {
            ts_value_free_now(&x);
            break;
        }
    }
    CHECK_EQ_INT(queued, TS_LAZYFREE_MAX_JOBS);
    CHECK_EQ_INT(ts_lazyfree_pending(), TS_LAZYFREE_MAX_JOBS);
    ts_value x = big_set(-1);
    CHECK(!ts_lazyfree_value(&x, ts_value_free_effort(&x)));
    CHECK_EQ_INT(ts_lazyfree_inline_behind(), 2);
    ts_value_free_now(&x);

    /* FLUSHALL ASYNC while full: cleared at once, the table left empty. */
    ts_table t;
    ts_table_init(&t, ts_value_free);
    CHECK_EQ_INT(ts_table_size(&t), 0);
    ts_lazyfree_tables(&t, 1);
    CHECK_EQ_INT(ts_lazyfree_inline_behind(), 3);
    CHECK_EQ_INT(ts_lazyfree_pending(), TS_LAZYFREE_MAX_JOBS);
    ts_table_clear(&t);

    /* The thread catches up: everything queued is freed (ASan: no leak),
     * the counters are back to 0, and values queue again. */
    CHECK(ts_thread_start(&lf.thread, "ts-lazyfree", thread_main, NULL) == 0);
    CHECK(wait_drained());
    CHECK_EQ_INT(atomic_load(&lf.pending_effort), 0);
    CHECK_EQ_INT(ts_lazyfree_done(), TS_LAZYFREE_MAX_JOBS);
    ts_value y = big_set(-2);
    CHECK(ts_lazyfree_value(&y, ts_value_free_effort(&y)));
    ts_lazyfree_stop();
    CHECK_EQ_INT(ts_lazyfree_pending(), 0);
    CHECK_EQ_INT(ts_lazyfree_done(), TS_LAZYFREE_MAX_JOBS + 1);
    TS_TEST_MAIN_END();
}
