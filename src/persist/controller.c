/*
 * controller.c - the persistence controller's lifecycle, status and state
 * machine (persist.h): which snapshot may start, when a rewrite is due or
 * scheduled, what CONFIG SET appendonly sets in motion.
 *
 * The state is a handful of atomics in struct ts_persist
 * (persist_internal.h). Each decision is one atomic step (a compare and
 * exchange on the snapshot slot, an exchange on `wanted` or
 * `enable_pending`), so workers and the persistence thread never need a
 * lock to agree:
 *
 *   snapshot slot   in_progress 0 -> 1 by a claim (SAVE, BGSAVE, a
 *                   rewrite, the shutdown save), 1 -> 0 when the
 *                   persistence thread ends the snapshot.
 *   rewrite         rewrite_scheduled: a BGREWRITEAOF arrived while a
 *                   BGSAVE held the slot (worker 0's cron starts it later);
 *                   rewrite_in_progress: from the claim to the swap.
 *   appendonly      wanted mirrors the setting; yes sets enabling (INFO
 *                   shows the log on) and enable_pending (the next rewrite
 *                   switches the log on when its file is in place); no
 *                   clears enable_pending and queues the close.
 */
#include <stdlib.h>
#include <string.h>

#include "persist_internal.h"
#include "tessera/persist/aof.h"
#include "tessera/util/clock.h"
#include "tessera/util/common.h"

/* Redis's CONFIG_BGSAVE_RETRY_DELAY: seconds after a failed save before a
 * `save` rule may try again. */
#define BGSAVE_RETRY_DELAY_S 5
/* A failing automatic rewrite is retried once a minute, not every second. */
#define REWRITE_RETRY_DELAY_MS 60000

ts_persist *ts_persist_new(void)
{
    ts_persist *p = ts_calloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    pthread_cond_init(&p->aof_room, NULL);
    p->aw.fd = -1;
    atomic_init(&p->aof.last_write_ok, 1);
    atomic_init(&p->aof.fsync_ok, 1);
    atomic_init(&p->st.last_bgsave_ok, 1);
    atomic_init(&p->st.last_save_duration_ms, -1);
    atomic_init(&p->st.lastsave, ts_mstime() / 1000);
    atomic_init(&p->aof.last_rewrite_ok, 1);
    atomic_init(&p->aof.last_rewrite_ms, -1);
    return p;
}

void ts_persist_free(ts_persist *p)
{
    if (!p) return;
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    pthread_cond_destroy(&p->aof_room);
    ts_buf_free(&p->aw.rewrite_tail);
    free(p);
}

/* ---- status ---- */

void ts_persist_get_info(const ts_persist *p, ts_persist_info *out)
{
    memset(out, 0, sizeof(*out));
    out->lastsave = atomic_load(&p->st.lastsave);
    out->last_bgsave_ok = atomic_load(&p->st.last_bgsave_ok) != 0;
    out->rewrite_in_progress = atomic_load(&p->aof.rewrite_in_progress) != 0;
    out->rdb_in_progress = atomic_load(&p->st.in_progress) && !out->rewrite_in_progress;
    out->save_started_ms = atomic_load(&p->st.save_started_ms);
    out->last_save_duration_ms = atomic_load(&p->st.last_save_duration_ms);
    out->dirty_saved = atomic_load(&p->st.dirty_saved);
    out->saves = atomic_load(&p->st.saves);
    out->last_cow_size = atomic_load(&p->st.last_cow_size);
    out->load_keys_loaded = atomic_load(&p->st.last_load_keys_loaded);
    out->load_keys_expired = atomic_load(&p->st.last_load_keys_expired);
    out->aof_on = ts_aof_enabled(p) || atomic_load(&p->aof.enabling);
    out->rewrite_scheduled = atomic_load(&p->aof.rewrite_scheduled) != 0;
    out->rewrite_started_ms = atomic_load(&p->aof.rewrite_started_ms);
    out->last_rewrite_ms = atomic_load(&p->aof.last_rewrite_ms);
    out->last_rewrite_ok = atomic_load(&p->aof.last_rewrite_ok) != 0;
    out->rewrites = atomic_load(&p->aof.rewrites);
    out->rewrite_failures = atomic_load(&p->aof.rewrite_failures);
    out->last_write_ok = atomic_load(&p->aof.last_write_ok) != 0 && atomic_load(&p->aof.fsync_ok) != 0;
    out->aof_current_size = atomic_load(&p->aof.current_size);
    out->aof_base_size = atomic_load(&p->aof.base_size);
}

void ts_persist_note_load(ts_persist *p, uint64_t keys, uint64_t expired)
{
    atomic_store(&p->st.last_load_keys_loaded, keys);
    atomic_store(&p->st.last_load_keys_expired, expired);
}

void ts_persist_note_saved(ts_persist *p, uint64_t dirty) { atomic_store(&p->st.dirty_saved, dirty); }

bool ts_persist_snapshot_running(const ts_persist *p) { return atomic_load(&p->st.in_progress) != 0; }
bool ts_persist_aof_enabling(const ts_persist *p) { return atomic_load(&p->aof.enabling) != 0; }

ts_disk_error ts_persist_disk_error(const ts_persist *p, bool stop_on_save_error, int *aof_errno)
{
    if (stop_on_save_error && !atomic_load_explicit(&p->st.last_bgsave_ok, memory_order_relaxed))
        return TS_DISK_ERROR_RDB;
    if (!ts_aof_enabled(p) && !atomic_load_explicit(&p->aof.enabling, memory_order_relaxed)) return TS_DISK_OK;
    if (!atomic_load_explicit(&p->aof.last_write_ok, memory_order_relaxed)) {
        *aof_errno = atomic_load_explicit(&p->aof.last_write_errno, memory_order_relaxed);
        return TS_DISK_ERROR_AOF;
    }
    if (!atomic_load_explicit(&p->aof.fsync_ok, memory_order_relaxed)) {
        *aof_errno = atomic_load_explicit(&p->aof.fsync_errno, memory_order_relaxed);
        return TS_DISK_ERROR_AOF;
    }
    return TS_DISK_OK;
}

/* ---- the state machine ---- */

bool ts_snapshot_try_claim(ts_persist *p)
{
    int expected = 0;
    return atomic_compare_exchange_strong(&p->st.in_progress, &expected, 1);
}

ts_rewrite_claim ts_persist_claim_rewrite(ts_persist *p, bool *enable)
{
    *enable = false;
    if (atomic_load(&p->aof.rewrite_in_progress)) {
        /* The rewrite that switches the log on waits for this one. */
        if (atomic_load(&p->aof.enable_pending)) atomic_store(&p->aof.rewrite_scheduled, 1);
        return TS_REWRITE_RUNNING;
    }
    if (!ts_snapshot_try_claim(p)) {
        atomic_store(&p->aof.rewrite_scheduled, 1);
        return TS_REWRITE_SCHEDULED;
    }
    atomic_store(&p->aof.rewrite_scheduled, 0);
    atomic_store(&p->aof.rewrite_in_progress, 1);
    atomic_store(&p->aof.rewrite_started_ms, ts_mstime());
    *enable = atomic_exchange(&p->aof.enable_pending, 0) != 0;
    return TS_REWRITE_START;
}

bool ts_persist_set_appendonly(ts_persist *p, bool want)
{
    bool was = atomic_exchange(&p->aof.wanted, want ? 1 : 0) != 0;
    if (want && !was) {
        atomic_store(&p->aof.enabling, 1);
        atomic_store(&p->aof.enable_pending, 1);
        return true;
    }
    if (!want && was) {
        atomic_store(&p->aof.enable_pending, 0);
        ts_aof_submit_off(p);
    }
    return false;
}

bool ts_persist_rewrite_due(ts_persist *p, const ts_config *cfg, int64_t now_ms, long long *growth)
{
    *growth = 0;
    if (atomic_load(&p->st.in_progress)) return false;
    if (atomic_load(&p->aof.rewrite_scheduled)) return true;
    if (!ts_aof_enabled(p) || cfg->auto_aof_rewrite_percentage <= 0) return false;
    long long size = atomic_load(&p->aof.current_size), base = atomic_load(&p->aof.base_size);
    if (size < cfg->auto_aof_rewrite_min_size) return false;
    *growth = base > 0 ? (size - base) * 100 / base : size * 100;
    if (*growth < cfg->auto_aof_rewrite_percentage) return false;
    if (atomic_load(&p->aof.rewrite_failures) &&
        now_ms - atomic_load(&p->aof.rewrite_started_ms) < REWRITE_RETRY_DELAY_MS)
        return false;
    return true;
}

bool ts_persist_save_due(ts_persist *p, const char *rules, uint64_t dirty, int64_t now_ms, long long *secs,
                         long long *changes)
{
    if (!rules[0] || atomic_load(&p->st.in_progress)) return false;
    uint64_t since_saved = dirty - atomic_load(&p->st.dirty_saved);
    long long now = now_ms / 1000;
    long long since_save = now - atomic_load(&p->st.lastsave);
    long long since_try = now - atomic_load(&p->st.save_started_ms) / 1000;
    bool retry_ok = atomic_load(&p->st.last_bgsave_ok) || since_try > BGSAVE_RETRY_DELAY_S;
    const char *s = rules;
    while (*s) {
        char *end;
        long long rule_secs = strtoll(s, &end, 10);
        long long rule_changes = strtoll(end, &end, 10);
        s = end;
        while (*s == ' ') s++;
        if ((long long)since_saved >= rule_changes && since_save > rule_secs && retry_ok) {
            *secs = rule_secs;
            *changes = rule_changes;
            return true;
        }
    }
    return false;
}
