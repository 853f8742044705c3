/*
 * lazyfree.c - the lazy-free thread (see lazyfree.h).
 *
 * A mutex + condition variable FIFO (util/channels.h, channel 3) carries
 * jobs from any thread, like Redis's bio.c: a job frees a collection of
 * thousands of elements or more, so one lock per job costs nothing next to
 * the work, and the thread sleeps on the condition when there is none.
 *
 * Backpressure: the queue is bounded by jobs (TS_LAZYFREE_MAX_JOBS) and by
 * the free effort they hold (TS_LAZYFREE_MAX_EFFORT, about allocations).
 * When the thread is that far behind, the caller frees inline instead of
 * queueing more: a client deleting big values faster than one thread can
 * free them slows down to the rate it frees them itself, instead of the
 * memory waiting to be freed growing without bound. (Redis 7.0 queues
 * without a bound: lazyfree.c / bio.c.)
 */
#include "tessera/store/lazyfree.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "tessera/types/object.h"
#include "tessera/util/channels.h"
#include "tessera/util/common.h"
#include "tessera/util/thread.h"

/* The bounds of the queue (see the top). 1024 jobs: far more than a burst
 * of DELs of big values needs; 16M of effort: about a second of the
 * thread's work (freeing runs at some 10-20M allocations a second), a few
 * hundred MB to a few GB of memory waiting. */
#define TS_LAZYFREE_MAX_JOBS 1024
#define TS_LAZYFREE_MAX_EFFORT ((size_t)16 << 20)

typedef struct job {
    struct job *next;
    int kind;             /* ts_lazyfree_job_kind */
    size_t effort;        /* counted in lf.pending_effort while queued */
    ts_value v;           /* TS_LAZYFREE_VALUE: a PTR value */
    ts_table *tables;     /* TS_LAZYFREE_TABLES: tables to clear */
    int ntables;
} job;

/* The process's one lazy-free thread and its queue. Started and stopped by
 * the main thread; any thread queues (under the lock). */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    job *head, *tail;     /* under lock */
    ts_thread thread;
    atomic_bool running;
    atomic_size_t pending;
    atomic_size_t pending_effort;
    atomic_size_t done;
    atomic_size_t inline_behind;   /* frees done inline because the queue was full */
} lf = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void run_job(job *j)
{
    if (j->kind == TS_LAZYFREE_TABLES) {
        for (int i = 0; i < j->ntables; i++) ts_table_clear(&j->tables[i]);
        free(j->tables);
    } else if (j->kind == TS_LAZYFREE_VALUE) {
        ts_value_free_now(&j->v);
    }
}

static _Thread_local bool on_lazyfree_thread;

static void thread_main(void *arg)
{
    (void)arg;
    on_lazyfree_thread = true;
    for (;;) {
        pthread_mutex_lock(&lf.lock);
        while (!lf.head) pthread_cond_wait(&lf.cond, &lf.lock);
        job *j = lf.head;
        lf.head = j->next;
        if (!lf.head) lf.tail = NULL;
        pthread_mutex_unlock(&lf.lock);
        if (j->kind == TS_LAZYFREE_STOP) {
            /* FIFO: everything queued before the stop is done; nothing
             * can be queued after it (running is false). */
            free(j);
            return;
        }
        run_job(j);
        atomic_fetch_sub(&lf.pending_effort, j->effort);
        free(j);
        atomic_fetch_sub(&lf.pending, 1);
        atomic_fetch_add(&lf.done, 1);
    }
}

/* The queue is over one of its bounds: free inline (counted). Relaxed
 * reads: the bound is a policy, a few jobs over it do no harm. */
static bool queue_full(void)
{
    if (atomic_load_explicit(&lf.pending, memory_order_relaxed) < TS_LAZYFREE_MAX_JOBS &&
        atomic_load_explicit(&lf.pending_effort, memory_order_relaxed) < TS_LAZYFREE_MAX_EFFORT)
        return false;
    atomic_fetch_add_explicit(&lf.inline_behind, 1, memory_order_relaxed);
    return true;
}

static void submit(job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&lf.lock);
    if (lf.tail) lf.tail->next = j;
    else lf.head = j;
    lf.tail = j;
    pthread_cond_signal(&lf.cond);
    pthread_mutex_unlock(&lf.lock);
}

/* A job to free: counted until the thread has run it. */
static void enqueue(job *j)
{
    atomic_fetch_add(&lf.pending, 1);
    atomic_fetch_add(&lf.pending_effort, j->effort);
    submit(j);
}

void ts_lazyfree_start(void)
{
    atomic_store(&lf.pending, 0);
    if (ts_thread_start(&lf.thread, "ts-lazyfree", thread_main, NULL) != 0) ts_panic("cannot start the lazy-free thread");
    atomic_store(&lf.running, true);
}

void ts_lazyfree_stop(void)
{
    if (!atomic_load(&lf.running)) return;
    atomic_store(&lf.running, false);
    job *j = ts_calloc(1, sizeof(*j));
    j->kind = TS_LAZYFREE_STOP;
    submit(j);   /* FIFO: everything queued before is freed first */
    ts_thread_join(&lf.thread);
}

bool ts_lazyfree_value(const ts_value *v, size_t effort)
{
    if (effort <= TS_LAZYFREE_THRESHOLD || on_lazyfree_thread ||
        !atomic_load_explicit(&lf.running, memory_order_relaxed) || queue_full())
        return false;
    job *j = ts_calloc(1, sizeof(*j));
    j->kind = TS_LAZYFREE_VALUE;
    j->v = *v;
    j->effort = effort;
    enqueue(j);
    return true;
}

void ts_lazyfree_tables(ts_table *tables, int n)
{
    job *j = ts_calloc(1, sizeof(*j));
    j->kind = TS_LAZYFREE_TABLES;
    j->tables = ts_malloc(sizeof(ts_table) * (size_t)n);
    j->ntables = n;
    for (int i = 0; i < n; i++) j->effort += ts_table_size(&tables[i]);
    /* A snapshot in progress writes what it still needs first: the copies
     * must not call back into it from this thread. */
    for (int i = 0; i < n; i++) ts_table_snapshot_drain(&tables[i]);
    memcpy(j->tables, tables, sizeof(ts_table) * (size_t)n);
    for (int i = 0; i < n; i++) {
        uint8_t parity = tables[i].snap_parity;
        ts_table_init(&tables[i], tables[i].free_ptr);
        tables[i].snap_parity = parity;
    }
    if (!atomic_load(&lf.running) || queue_full()) {
        run_job(j);
        free(j);
        return;
    }
    enqueue(j);
}

size_t ts_lazyfree_pending(void) { return atomic_load(&lf.pending); }
size_t ts_lazyfree_done(void) { return atomic_load(&lf.done); }
size_t ts_lazyfree_inline_behind(void) { return atomic_load(&lf.inline_behind); }

void ts_value_free(const ts_value *v)
{
    if (v->form != TS_FORM_PTR) return;
    /* Big collections go to the lazy-free thread: a DEL, an overwrite or an
     * expiry of millions of elements must not stall the worker. */
    if (ts_lazyfree_value(v, ts_value_free_effort(v))) return;
    ts_value_free_now(v);
}
