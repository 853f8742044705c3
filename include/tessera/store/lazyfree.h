/*
 * lazyfree.h - the background thread that frees big values, so that
 * deleting a collection of millions of elements (DEL/UNLINK, overwrite,
 * expiry, FLUSHALL ASYNC) never stalls the worker that owns it.
 *
 * Owns: the thread and its queue of objects waiting to be freed, bounded
 * (jobs and free effort): past the bound, callers free inline.
 * Thread: any thread may hand over work; only the lazy-free thread frees
 * it. An object handed over has already left its table, so nobody else can
 * reach it (object.h: values are plain memory, freeable from any thread).
 *
 * Why one process-wide thread: freeing is memory-bound and rare; one thread
 * keeps the workers' cores for commands, as Redis's lazyfree BIO does.
 * Before start and after stop everything is freed inline.
 */
#ifndef TESSERA_LAZYFREE_H
#define TESSERA_LAZYFREE_H

#include <stdbool.h>
#include <stddef.h>

#include "tessera/types/table.h"

void ts_lazyfree_start(void);
/* Frees everything queued, then joins the thread. */
void ts_lazyfree_stop(void);
/* Takes a PTR value whose type's free effort is above the threshold
 * (object.h); false (nothing taken) when it should be freed inline: small,
 * or the queue is full (backpressure: lazyfree.c). */
bool ts_lazyfree_value(const ts_value *v, size_t effort);
/* Takes n tables (their entries; the array is copied, the caller's tables
 * are left empty and usable) to clear in the background: FLUSHALL ASYNC.
 * When the queue is full they are cleared at once, on the caller's thread. */
void ts_lazyfree_tables(ts_table *tables, int n);
/* Frees a PTR value of any type: big ones (free effort above
 * TS_LAZYFREE_THRESHOLD) on the lazy-free thread, others at once. The
 * keyspace tables' free callback. Any thread. */
void ts_value_free(const ts_value *v);
/* Objects queued and not yet freed (INFO lazyfree_pending_objects). */
size_t ts_lazyfree_pending(void);
/* Objects freed in the background so far (INFO lazyfreed_objects). */
size_t ts_lazyfree_done(void);
/* Big objects freed inline because the queue was full (tests). */
size_t ts_lazyfree_inline_behind(void);

#endif
