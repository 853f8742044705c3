/*
 * mpsc.h - intrusive lock-free multi-producer single-consumer queue.
 *
 * Owns: nothing but the links; the messages are the caller's. The link
 * (ts_mpsc_node) lives inside the message, so pushing never allocates
 * (practice 6 of docs/style.md).
 *
 * Threads: ts_mpsc_push may be called from ANY thread. ts_mpsc_pop and
 * ts_mpsc_empty only from the single consumer (the worker that owns the
 * inbox). Once pushed, a message belongs to the consumer; the producer must
 * not touch it again (util/channels.h lists who sends what).
 *
 * Why this shape: it is the classic intrusive MPSC list with a stub node.
 * A push is one atomic exchange on the tail plus one release store of the
 * predecessor's next pointer, so producers never wait on each other. The
 * consumer may briefly see a push "in progress" (tail swapped, link not yet
 * stored); pop then returns NULL as if the queue were empty, while
 * ts_mpsc_empty already says it is not, and the consumer tries again at its
 * next look. The producer always follows its push with a wake-up check
 * (route/engine.c), and the consumer looks at the queue (ts_mpsc_empty)
 * after announcing that it may sleep, so the message is never stranded.
 */
#ifndef TESSERA_MPSC_H
#define TESSERA_MPSC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct ts_mpsc_node {
    _Atomic(struct ts_mpsc_node *) next;
} ts_mpsc_node;

typedef struct ts_mpsc {
    _Atomic(ts_mpsc_node *) tail;   /* producers swap themselves in here */
    char pad[64 - sizeof(void *)];  /* keep producers' and consumer's lines apart */
    ts_mpsc_node *head;             /* consumer only */
    ts_mpsc_node stub;
} ts_mpsc;

void ts_mpsc_init(ts_mpsc *q);
/* Any thread. Returns true when the queue was empty before this push, a hint
 * that the consumer may be asleep (callers still always wake it). */
bool ts_mpsc_push(ts_mpsc *q, ts_mpsc_node *n);
/* Consumer only. Returns the oldest node, or NULL when the queue is empty or
 * a push is half-way done (call again after the next wake-up). */
ts_mpsc_node *ts_mpsc_pop(ts_mpsc *q);
/* Consumer only. True when nothing was pushed that pop has not returned,
 * counting a push still half-way done as not empty. The tail is read with
 * acquire; a caller pairing this with a flag (Dekker) puts a seq_cst fence
 * between its flag store and this call. */
bool ts_mpsc_empty(ts_mpsc *q);

#endif
