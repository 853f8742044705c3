/*
 * rdb_shard_load.c - per-shard loader threads for startup (see
 * rdb_shard_load.h for why loading is split this way).
 *
 * Each loader has a queue of batches (a mutex and two condition
 * variables: the hand-off is once per RECS_PER_BATCH keys, so a lock per
 * batch costs nothing measurable, and sleeping is what an idle loader
 * should do). The reader fills one batch per shard and queues it when it
 * is full; at most MAX_QUEUED batches wait per shard, then the reader
 * sleeps until the loader takes one. A loader that fails keeps draining
 * (freeing the keys) so the reader never blocks on it, and records its
 * first failure; the reader checks ts_rdb_shard_load_failed to stop.
 */
#include "rdb_shard_load.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "tessera/util/common.h"
#include "tessera/store/db.h"
#include "tessera/types/object.h"
#include "tessera/persist/rdb.h"
#include "tessera/types/table.h"
#include "tessera/store/lazyfree.h"
#include "tessera/util/thread.h"

#define RECS_PER_BATCH 512
#define MAX_QUEUED 8

typedef struct load_rec {
    const char *key;
    char *key_owned;   /* malloc'd when the key was encoded, else NULL */
    size_t klen;
    const unsigned char *val;
    size_t vlen;
    int64_t expire;
    int db;
    int type;
} load_rec;

typedef struct load_batch {
    struct load_batch *next;
    unsigned n;
    load_rec rec[RECS_PER_BATCH];
} load_batch;

typedef struct shard_loader {
    ts_thread thread;
    pthread_mutex_t mu;
    pthread_cond_t has_work;    /* signalled by the reader */
    pthread_cond_t has_room;    /* signalled by the loader */
    load_batch *head, *tail;    /* under mu */
    unsigned queued;            /* under mu */
    bool closing;               /* under mu: no more batches */
    load_batch *filling;        /* the reader's, never shared until queued */
    ts_shard *shard;
    const ts_config *cfg;
    const unsigned char *base;
    atomic_bool *any_failed;
    /* the loader's own until joined */
    bool failed;
    size_t err_off;
    char err[320];
} shard_loader;

struct ts_rdb_shard_load {
    unsigned n;
    shard_loader *loaders;
    atomic_bool any_failed;
};

static void free_value(ts_value *v)
{
    if (v->form == TS_FORM_INLINE) free((void *)v->s.ptr);
    else if (v->form == TS_FORM_PTR) ts_value_free(v);
}

static void load_one(shard_loader *l, load_rec *rec)
{
    if (l->failed) return;
    ts_rdb_reader r;
    ts_rdb_reader_init(&r, rec->val, rec->vlen);
    ts_value v;
    if (ts_rdb_load_value(&r, rec->type, l->cfg, &v) != 0) {
        l->failed = true;
        l->err_off = (size_t)(rec->val - l->base);
        snprintf(l->err, sizeof l->err, "Bad value of type %d for key '%.*s' (%s) at offset %zu", rec->type,
                 (int)(rec->klen > 64 ? 64 : rec->klen), rec->key, r.err ? r.err : "corrupt", l->err_off);
        atomic_store(l->any_failed, true);
        return;
    }
    if (r.p != r.end) {   /* the skip and the decode disagree: a bug, not a file problem */
        free_value(&v);
        l->failed = true;
        l->err_off = (size_t)(rec->val - l->base);
        snprintf(l->err, sizeof l->err, "Bad value of type %d for key '%.*s' (inconsistent length) at offset %zu",
                 rec->type, (int)(rec->klen > 64 ? 64 : rec->klen), rec->key, l->err_off);
        atomic_store(l->any_failed, true);
        return;
    }
    ts_table_set(&l->shard->dbs[rec->db], rec->key, rec->klen, &v, rec->expire, false);
    if (v.form == TS_FORM_INLINE) free((void *)v.s.ptr);   /* the table copied it */
}

static void loader_main(void *arg)
{
    shard_loader *l = arg;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        while (!l->head && !l->closing) pthread_cond_wait(&l->has_work, &l->mu);
        load_batch *b = l->head;
        if (b) {
            l->head = b->next;
            if (!l->head) l->tail = NULL;
            l->queued--;
            pthread_cond_signal(&l->has_room);
        }
        pthread_mutex_unlock(&l->mu);
        if (!b) return;   /* closing and drained */
        for (unsigned i = 0; i < b->n; i++) {
            load_one(l, &b->rec[i]);
            free(b->rec[i].key_owned);
        }
        free(b);
    }
}

ts_rdb_shard_load *ts_rdb_shard_load_start(ts_router *router, const ts_config *cfg, const unsigned char *base)
{
    ts_rdb_shard_load *sl = ts_calloc(1, sizeof(*sl));
    sl->n = router->nshards;
    sl->loaders = ts_calloc(sl->n, sizeof(*sl->loaders));
    atomic_init(&sl->any_failed, false);
    for (unsigned i = 0; i < sl->n; i++) {
        shard_loader *l = &sl->loaders[i];
        pthread_mutex_init(&l->mu, NULL);
        pthread_cond_init(&l->has_work, NULL);
        pthread_cond_init(&l->has_room, NULL);
        l->shard = &router->engines[i]->shard;
        l->cfg = cfg;
        l->base = base;
        l->any_failed = &sl->any_failed;
        char name[16];
        snprintf(name, sizeof name, "ts-load-%u", i % 1000);
        if (ts_thread_start(&l->thread, name, loader_main, l) != 0) ts_panic("cannot start a loader thread");
    }
    return sl;
}

static void hand_over(shard_loader *l)
{
    load_batch *b = l->filling;
    if (!b) return;
    l->filling = NULL;
    pthread_mutex_lock(&l->mu);
    while (l->queued >= MAX_QUEUED) pthread_cond_wait(&l->has_room, &l->mu);
    if (l->tail) l->tail->next = b;
    else l->head = b;
    l->tail = b;
    l->queued++;
    pthread_cond_signal(&l->has_work);
    pthread_mutex_unlock(&l->mu);
}

void ts_rdb_shard_load_add(ts_rdb_shard_load *sl, unsigned shard, int db, const char *key, size_t klen,
                           char *key_owned, int type,
                           const unsigned char *val, size_t vlen, int64_t expire)
{
    shard_loader *l = &sl->loaders[shard];
    if (!l->filling) {
        l->filling = ts_malloc(sizeof(load_batch));
        l->filling->next = NULL;
        l->filling->n = 0;
    }
    l->filling->rec[l->filling->n++] =
        (load_rec){.key = key, .key_owned = key_owned, .klen = klen, .val = val, .vlen = vlen, .expire = expire, .db = db, .type = type};
    if (l->filling->n == RECS_PER_BATCH) hand_over(l);
}

bool ts_rdb_shard_load_failed(ts_rdb_shard_load *sl) { return atomic_load_explicit(&sl->any_failed, memory_order_relaxed); }

int ts_rdb_shard_load_finish(ts_rdb_shard_load *sl, char *err, size_t errlen)
{
    for (unsigned i = 0; i < sl->n; i++) {
        shard_loader *l = &sl->loaders[i];
        hand_over(l);
        pthread_mutex_lock(&l->mu);
        l->closing = true;
        pthread_cond_signal(&l->has_work);
        pthread_mutex_unlock(&l->mu);
    }
    const shard_loader *first = NULL;
    for (unsigned i = 0; i < sl->n; i++) {
        shard_loader *l = &sl->loaders[i];
        ts_thread_join(&l->thread);
        pthread_mutex_destroy(&l->mu);
        pthread_cond_destroy(&l->has_work);
        pthread_cond_destroy(&l->has_room);
        if (l->failed && (!first || l->err_off < first->err_off)) first = l;
    }
    int rc = 0;
    if (first) {
        snprintf(err, errlen, "%s", first->err);
        rc = -1;
    }
    free(sl->loaders);
    free(sl);
    return rc;
}
