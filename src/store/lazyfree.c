/*
 * lazyfree.c - the lazy-free thread (see lazyfree.h).
 *
 * A Vyukov MPSC queue (mpsc.h) carries jobs from any thread; a counting
 * semaphore says how many are queued, so the thread sleeps when there is
 * nothing to do and a producer pays no syscall while the thread is busy.
 */
#include "tessera/store/lazyfree.h"

#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <uv.h>

#include "tessera/util/common.h"
#include "tessera/util/mpsc.h"
#include "tessera/types/object.h"

typedef struct job {
    ts_mpsc_node node;
    ts_value v;           /* a PTR value, or... */
    ts_table *tables;     /* ...tables to clear (v unused) */
    int ntables;
    bool stop;
} job;

static struct {
    ts_mpsc q;
    uv_sem_t sem;
    uv_thread_t thread;
    atomic_bool running;
    atomic_size_t pending;
    atomic_size_t done;
} lf;

static void run_job(job *j)
{
    if (j->tables) {
        for (int i = 0; i < j->ntables; i++) ts_table_clear(&j->tables[i]);
        free(j->tables);
    } else {
        ts_value_free_now(&j->v);
    }
}

static _Thread_local bool on_lazyfree_thread;

static void thread_main(void *arg)
{
    (void)arg;
    on_lazyfree_thread = true;
    for (;;) {
        uv_sem_wait(&lf.sem);
        ts_mpsc_node *n;
        /* The semaphore counts a finished push; the node may still be
         * linking in (Vyukov's queue is briefly inconsistent). */
        while ((n = ts_mpsc_pop(&lf.q)) == NULL) sched_yield();
        job *j = TS_CONTAINER_OF(n, job, node);
        if (j->stop) {
            free(j);
            /* Jobs queued behind the stop (by this thread's own flushes). */
            while ((n = ts_mpsc_pop(&lf.q)) != NULL) {
                j = TS_CONTAINER_OF(n, job, node);
                run_job(j);
                free(j);
            }
            return;
        }
        run_job(j);
        free(j);
        atomic_fetch_sub(&lf.pending, 1);
        atomic_fetch_add(&lf.done, 1);
    }
}

static void submit(job *j)
{
    ts_mpsc_push(&lf.q, &j->node);
    uv_sem_post(&lf.sem);
}

void ts_lazyfree_start(void)
{
    ts_mpsc_init(&lf.q);
    uv_sem_init(&lf.sem, 0);
    atomic_store(&lf.pending, 0);
    if (uv_thread_create(&lf.thread, thread_main, NULL) != 0) ts_panic("cannot start the lazy-free thread");
    atomic_store(&lf.running, true);
}

void ts_lazyfree_stop(void)
{
    if (!atomic_load(&lf.running)) return;
    atomic_store(&lf.running, false);
    job *j = ts_calloc(1, sizeof(*j));
    j->stop = true;
    submit(j);   /* FIFO: everything queued before is freed first */
    uv_thread_join(&lf.thread);
    uv_sem_destroy(&lf.sem);
}

bool ts_lazyfree_value(const ts_value *v, size_t effort)
{
    if (effort <= TS_LAZYFREE_THRESHOLD || on_lazyfree_thread ||
        !atomic_load_explicit(&lf.running, memory_order_relaxed))
        return false;
    job *j = ts_calloc(1, sizeof(*j));
    j->v = *v;
    atomic_fetch_add(&lf.pending, 1);
    submit(j);
    return true;
}

void ts_lazyfree_tables(ts_table *tables, int n)
{
    job *j = ts_calloc(1, sizeof(*j));
    j->tables = ts_malloc(sizeof(ts_table) * (size_t)n);
    j->ntables = n;
    /* A snapshot in progress writes what it still needs first: the copies
     * must not call back into it from this thread. */
    for (int i = 0; i < n; i++) ts_table_snapshot_drain(&tables[i]);
    memcpy(j->tables, tables, sizeof(ts_table) * (size_t)n);
    for (int i = 0; i < n; i++) {
        uint8_t parity = tables[i].snap_parity;
        ts_table_init(&tables[i], tables[i].free_ptr);
        tables[i].snap_parity = parity;
    }
    if (!atomic_load(&lf.running)) {
        run_job(j);
        free(j);
        return;
    }
    atomic_fetch_add(&lf.pending, 1);
    submit(j);
}

size_t ts_lazyfree_pending(void) { return atomic_load(&lf.pending); }
size_t ts_lazyfree_done(void) { return atomic_load(&lf.done); }

void ts_value_free(const ts_value *v)
{
    if (v->form != TS_FORM_PTR) return;
    /* Big collections go to the lazy-free thread: a DEL, an overwrite or an
     * expiry of millions of elements must not stall the worker. */
    if (ts_lazyfree_value(v, ts_value_free_effort(v))) return;
    ts_value_free_now(v);
}
