/*
 * mpsc.c - the lock-free intrusive MPSC queue (see mpsc.h for the contract).
 *
 * Memory ordering: a producer publishes its node with a release store of
 * prev->next; the consumer reads next with acquire, which makes everything
 * the producer wrote into the message before pushing visible to the
 * consumer. The exchange on tail is acq_rel so that producers are ordered
 * among themselves.
 */
#include "tessera/util/mpsc.h"

void ts_mpsc_init(ts_mpsc *q)
{
    atomic_store_explicit(&q->stub.next, NULL, memory_order_relaxed);
    atomic_store_explicit(&q->tail, &q->stub, memory_order_relaxed);
    q->head = &q->stub;
}

bool ts_mpsc_push(ts_mpsc *q, ts_mpsc_node *n)
{
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    ts_mpsc_node *prev = atomic_exchange_explicit(&q->tail, n, memory_order_acq_rel);
    /* Between the exchange and this store the consumer sees a gap. */
    atomic_store_explicit(&prev->next, n, memory_order_release);
    return prev == &q->stub;
}

ts_mpsc_node *ts_mpsc_pop(ts_mpsc *q)
{
    ts_mpsc_node *head = q->head;
    ts_mpsc_node *next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (head == &q->stub) {
        if (next == NULL) return NULL;            /* empty */
        q->head = next;
        head = next;
        next = atomic_load_explicit(&head->next, memory_order_acquire);
    }
    if (next != NULL) {
        q->head = next;
        return head;
    }
    /* head is the last node we can see. If it is also the tail, re-insert
     * the stub behind it so head can be handed out. */
    ts_mpsc_node *tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    if (head != tail) return NULL;                /* a push is in progress */
    ts_mpsc_push(q, &q->stub);
    next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (next != NULL) {
        q->head = next;
        return head;
    }
    return NULL;                                   /* another push raced in */
}

bool ts_mpsc_empty(ts_mpsc *q)
{
    /* Empty means the consumer holds only the stub and no producer has
     * swapped itself in behind it. */
    return q->head == &q->stub && atomic_load_explicit(&q->tail, memory_order_acquire) == &q->stub;
}
