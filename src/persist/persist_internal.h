/*
 * persist_internal.h - private to src/persist: the persistence controller's
 * state (struct ts_persist), shared by the thread and its queue
 * (persist.c), the AOF writer (aof_writer.c) and the state machine
 * (controller.c).
 *
 * Thread: the queue fields under `lock`; the writer's fields on the
 * persistence thread (once it runs); the status atomics any thread.
 */
#ifndef TESSERA_PERSIST_INTERNAL_H
#define TESSERA_PERSIST_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "aof_writer.h"
#include "tessera/persist/persist.h"
#include "tessera/util/thread.h"

struct persist_job;

/* AOF bytes a worker may have handed over and not yet written before its
 * next submission waits (the disk stalls: writers wait, memory stays
 * bounded; Redis blocks its one thread in write() instead). */
#define TS_AOF_QUEUE_MAX (64u << 20)
/* aof_writer.c: n handed-over bytes left memory (written or dropped). */
void ts_aof_unqueue(struct ts_persist *p, size_t n);

/* The status INFO persistence and LASTSAVE report. */
typedef struct ts_persist_status {
    atomic_llong lastsave;               /* unix seconds of the last successful save */
    atomic_int last_bgsave_ok;           /* 1 = ok */
    atomic_int in_progress;              /* the snapshot slot: a snapshot (RDB or rewrite) is being written */
    atomic_llong save_started_ms;        /* start of the current (or last) snapshot */
    atomic_llong last_save_duration_ms;  /* -1 before the first */
    atomic_ullong dirty_at_save_start;   /* ts_router_dirty() when the current/last snapshot began */
    atomic_ullong dirty_saved;           /* ... of the last successful one */
    atomic_ullong saves;                 /* successful snapshots */
    atomic_llong last_cow_size;          /* bytes written for keys changed during the last snapshot */
    atomic_ullong last_load_keys_loaded; /* startup: keys loaded from the file */
    atomic_ullong last_load_keys_expired;
} ts_persist_status;

/* The AOF's status and its enable/rewrite state machine (controller.c). */
typedef struct ts_aof_status {
    atomic_llong current_size;     /* bytes in the file */
    atomic_llong base_size;        /* ... when it was opened */
    atomic_int last_write_ok;
    atomic_int last_write_errno;    /* of the failed write (ENOSPC for a short one) */
    atomic_int fsync_ok;            /* 0 while the last everysec fsync failed */
    atomic_int fsync_errno;
    atomic_int rewrite_in_progress;
    atomic_int rewrite_scheduled;   /* waits for a running BGSAVE */
    atomic_ullong rewrites;
    atomic_int last_rewrite_ok;
    atomic_llong last_rewrite_ms;   /* -1 before the first */
    atomic_llong rewrite_started_ms;
    atomic_ullong rewrite_failures; /* consecutive */
    /* CONFIG SET appendonly at runtime: `wanted` mirrors the setting;
     * `enabling` is set from CONFIG SET appendonly yes until the rewrite
     * that switches the log on has put the file in place; `enable_pending`
     * asks the next rewrite to be that one. */
    atomic_int wanted;
    atomic_int enabling;
    atomic_int enable_pending;
} ts_aof_status;

struct ts_persist {
    /* The job queue (util/channels.h, channel 2). */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct persist_job *head, *tail;   /* under lock */
    uint64_t aof_seq;                  /* last AOF sequence number given out (under lock) */
    bool idle;                         /* the thread waits without a timeout (under lock) */
    bool running;                      /* main thread */
    ts_thread thread;
    atomic_ullong backlog;             /* snapshot bytes queued, not yet written */
    /* AOF bytes handed over and not yet written (queued, or pending on
     * a failed write): above TS_AOF_QUEUE_MAX, submitters wait. */
    atomic_ullong aof_unwritten;
    pthread_cond_t aof_room;           /* signalled (under lock) when aof_unwritten drops */
    atomic_int aof_room_waiters;       /* changed under lock */
    ts_aof_writer aw;                  /* the AOF file (aof_writer.c) */
    ts_persist_status st;
    ts_aof_status aof;
};

#endif
