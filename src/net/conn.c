/*
 * conn.c - client connections: reading, parsing, dispatching commands to
 * shards, ordering replies, writing (see conn.h).
 *
 * Dispatch of one parsed command:
 *   - keyless commands and commands whose keys are all on this worker's
 *     shard run inline (the fast path: no message, no atomic);
 *   - commands whose keys are all on one other shard are appended to an
 *     open batch for that shard; all open batches are posted when the pass
 *     over the query buffer ends, so a pipeline costs one hop per shard;
 *   - commands spanning shards, touching every shard, or changing the
 *     connection's protocol state are barriers: they wait until every
 *     earlier command of the connection has replied, then run (as a
 *     multi-shard txn where needed).
 * Pipelined commands of one client on different shards may execute in
 * parallel: the client has not seen any of their replies, so they are
 * concurrent in the linearizability sense and any order is a valid one.
 * Commands to the same shard keep their order (one FIFO path per shard).
 * A command runs through the runner (route/run.h) wherever it runs; the
 * batches' format and their execution on the owner are route/batch.c's,
 * a blocked client's wait conn_blocked.c's, moving a client to another
 * worker migrate.c's.
 */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tessera/net/worker.h"
#include "tessera/persist/aof.h"
#include "tessera/persist/persist.h"
#include "tessera/cmd/server.h"
#include "tessera/route/acl.h"
#include "tessera/route/blocking.h"
#include "tessera/route/run.h"
#include "tessera/route/slot.h"
#include "tessera/route/txn.h"
#include "tessera/route/watch.h"
#include "tessera/script/script.h"
#include "tessera/store/db.h"
#include "tessera/util/log.h"
#include "tessera/util/clock.h"

#define TS_READ_CHUNK (16 * 1024)
/* Backpressure: a connection with this many batches/txns in flight stops
 * reading until half of them are back. Without it a client that pipelines
 * without reading replies (redis-cli --pipe) could queue unbounded work on
 * a slower shard. */
#define TS_CONN_MAX_INFLIGHT 16
#define TS_MAX_KEYS_STACK 64

static void conn_maybe_resume(ts_conn *c);

/* ---------- reply slots ---------- */

static void slot_push(ts_conn *c, ts_batch *b)
{
    if (c->slot_count == c->slot_cap) {
        uint32_t ncap = c->slot_cap ? c->slot_cap * 2 : 16;
        ts_batch **ns = ts_malloc(sizeof(ts_batch *) * ncap);
        for (uint32_t i = 0; i < c->slot_count; i++) ns[i] = c->slots[(c->slot_head + i) & (c->slot_cap - 1)];
        free(c->slots);
        c->slots = ns;
        c->slot_cap = ncap;
        c->slot_head = 0;
    }
    c->slots[(c->slot_head + c->slot_count) & (c->slot_cap - 1)] = b;
    c->slot_count++;
}

/* Where a reply produced now on the connection's worker goes: straight to
 * the output when nothing is queued ahead of it, else into the local
 * pseudo-batch behind the queued slots. Call ts__conn_reply_end after. */
ts_buf *ts__conn_reply_begin(ts_conn *c)
{
    if (c->slot_count == 0) return &c->out;
    if (!c->local_batch) c->local_batch = ts_batch_new(&c->w->e, c, c->w->e.id, true);
    slot_push(c, c->local_batch);
    return &c->local_batch->reply;
}

/* ---------- output limits ---------- */

/* The connection's CLIENT LIST line without its newline (logs, ACL LOG); malloc'd. */
static char *client_info(ts_conn *c)
{
    ts_buf line;
    ts_buf_init(&line);
    ts_conn_describe(c, &line, c->w->e.now_ms);
    if (line.len && line.data[line.len - 1] == '\n') line.len--;
    ts_buf_putc(&line, '\0');
    return line.data;
}


/* Reply bytes held for the client: ready, being written, waiting in slots
 * (Redis's getClientOutputBufferMemoryUsage, over every shard's replies
 * that came back). */
static size_t output_bytes(const ts_conn *c)
{
    return c->out.len + c->writing.len + c->slot_bytes;
}

/* Redis's checkClientOutputBufferLimits for a normal client. */
static bool output_over_limit(ts_conn *c)
{
    const ts_obuf_limit *l = &c->w->e.config.client_obuf[TS_OBUF_NORMAL];
    if (!l->hard && !l->soft) return false;
    size_t used = output_bytes(c);
    if (l->hard && used >= l->hard) return true;
    if (!l->soft || used < l->soft) {
        c->obuf_soft_since_s = 0;
        return false;
    }
    int64_t now_s = c->w->e.now_ms / 1000;
    if (c->obuf_soft_since_s == 0) {
        c->obuf_soft_since_s = now_s;
        return false;
    }
    return now_s - c->obuf_soft_since_s > l->soft_seconds;
}

/* Over a limit: marked to close at the next flush, with Redis's log line. */
static void output_limit_reached(ts_conn *c)
{
    if (c->close_asap || c->closing) return;
    c->close_asap = true;
    char *info = client_info(c);
    ts_log(TS_LOG_WARNING, "Client %s scheduled to be closed ASAP for overcoming of output buffer limits.", info);
    free(info);
}

static void check_output_limit(ts_conn *c)
{
    if (TS_UNLIKELY(output_over_limit(c))) output_limit_reached(c);
}

/* Once a second from the worker's cron (Redis's clientsCron): the idle
 * timeout, and the output limits of a client that stopped reading (a soft
 * limit's seconds run out with no reply added). Closes at once. */
void ts_conn_cron(ts_conn *c, int64_t now_ms)
{
    int64_t timeout_ms = (int64_t)c->w->e.config.timeout * 1000;
    if (timeout_ms > 0 && c->inflight == 0 && c->wait == TS_WAIT_NONE &&
        now_ms - c->client.last_interaction_ms > timeout_ms) {
        ts_conn_close(c);
        return;
    }
    if (c->close_asap || output_bytes(c) == 0 || !output_over_limit(c)) return;
    char *info = client_info(c);
    ts_log(TS_LOG_WARNING, "Client %s closed for overcoming of output buffer limits.", info);
    free(info);
    ts_conn_close(c);
}

/* ---------- maxmemory-clients ---------- */

size_t ts_conn_memory(const ts_conn *c)
{
    return sizeof(*c) + c->query.cap + c->out.cap + c->writing.cap + c->slot_bytes +
           (c->multi ? c->multi->queue.bytes : 0);
}

/* Redis's getClientEvictionLimit: 0 when off; at least 128 KB so a bad
 * setting cannot cut every client off. A percentage is of maxmemory,
 * which Tessera does not have yet: off. */
static size_t eviction_limit(const ts_config *cfg)
{
    long long v = cfg->maxmemory_clients;
    if (v <= 0) return 0;
    return v < 128 * 1024 ? 128 * 1024 : (size_t)v;
}

void ts_conn_account_memory(ts_conn *c, bool evict)
{
    size_t m = c->closing ? 0 : ts_conn_memory(c);
    if (m == c->mem_counted) return;
    atomic_fetch_add_explicit(&c->w->srv->clients_memory, (long long)m - (long long)c->mem_counted,
                              memory_order_relaxed);
    bool grew = m > c->mem_counted;
    c->mem_counted = m;
    if (evict && grew && TS_UNLIKELY(c->w->e.config.maxmemory_clients > 0)) ts_conn_evict_clients(c->w);
}

static ts_conn *biggest_evictable(ts_worker *w, size_t *mem)
{
    ts_conn *best = NULL;
    for (ts_conn *c = w->conns; c; c = c->next) {
        if (c->client.no_evict || c->internal || c->close_asap || c->closing) continue;
        if (!best || c->mem_counted > best->mem_counted) best = c;
    }
    *mem = best ? best->mem_counted : 0;
    return best;
}

static size_t others_biggest(ts_worker *w)
{
    size_t max = 0;
    const ts_router *r = w->e.router;
    for (unsigned i = 0; i < r->nshards; i++) {
        const ts_worker *o = ts_worker_of_engine(r->engines[i]);
        if (o == w) continue;
        size_t m = atomic_load_explicit(&o->biggest_evictable, memory_order_relaxed);
        if (m > max) max = m;
    }
    return max;
}

/* Redis's evictClients, across workers: each worker publishes its biggest
 * evictable client; the worker holding the biggest of all evicts it (the
 * others on their next tick), until all clients together are under the
 * limit. */
void ts_conn_evict_clients(ts_worker *w)
{
    size_t limit = eviction_limit(&w->e.config);
    if (!limit) {
        atomic_store_explicit(&w->biggest_evictable, 0, memory_order_relaxed);
        return;
    }
    for (;;) {
        size_t mem;
        ts_conn *victim = biggest_evictable(w, &mem);
        atomic_store_explicit(&w->biggest_evictable, mem, memory_order_relaxed);
        long long used = atomic_load_explicit(&w->srv->clients_memory, memory_order_relaxed);
        if (used < 0 || (size_t)used < limit) return;
        size_t bigger = others_biggest(w);
        if (!victim || mem < bigger) {
            if (!victim && !bigger && w->e.now_ms - w->evict_warned_ms > 10000) {
                w->evict_warned_ms = w->e.now_ms;
                ts_log(TS_LOG_WARNING, "Over client maxmemory after evicting all evictable clients");
            }
            return;
        }
        char *info = client_info(victim);
        ts_log(TS_LOG_NOTICE, "Evicting client: %s", info);
        free(info);
        atomic_fetch_add_explicit(&w->srv->evicted_clients, 1, memory_order_relaxed);
        ts_conn_close(victim);
    }
}

/* What the client may still get before its hard limit, counting what
 * the batches in flight may bring back: SIZE_MAX without a limit, 0 when
 * there is no room left. */
static size_t output_room(ts_conn *c)
{
    unsigned long long hard = c->w->e.config.client_obuf[TS_OBUF_NORMAL].hard;
    if (!hard) return SIZE_MAX;
    size_t used = output_bytes(c) + c->budget_promised;
    return used < hard ? (size_t)(hard - used) : 0;
}

void ts__conn_reply_end(ts_conn *c, ts_buf *target)
{
    if (target != &c->out) {
        ts_batch *b = c->local_batch;
        size_t before = b->ncmds ? b->reply_end[b->ncmds - 1] : 0;
        ts_batch_mark_reply(b);
        c->slot_bytes += b->reply.len - before;
    }
    check_output_limit(c);
}

/* Moves every filled slot at the head to the output buffer. */
static void conn_collect_slots(ts_conn *c)
{
    while (c->slot_count) {
        ts_batch *b = c->slots[c->slot_head];
        if (!b->done) break;
        size_t start = b->consumed ? b->reply_end[b->consumed - 1] : 0;
        size_t end = b->reply_end[b->consumed];
        ts_buf_append(&c->out, b->reply.data + start, end - start);
        c->slot_bytes -= end - start;
        b->consumed++;
        c->slot_head = (c->slot_head + 1) & (c->slot_cap - 1);
        c->slot_count--;
        if (b->consumed == b->ncmds) {
            if (b == c->local_batch) {
                b->ncmds = b->consumed = 0;
                b->reply.len = 0;
            } else {
                ts_batch_free(b);
            }
        }
    }
}

/* ---------- writing ---------- */

#define TS_WRITE_PIECE ((size_t)1 << 30)
/* An empty buffer keeps at most this much memory: a client that once got
 * (or sent) a huge reply (or value) does not hold it while idle. */
#define TS_IDLE_BUF_MAX (256 * 1024)

static void shrink_idle(ts_buf *b)
{
    if (b->len == 0 && b->cap > TS_IDLE_BUF_MAX) ts_buf_free(b);
}

static void on_write(uv_write_t *req, int status)
{
    ts_conn *c = req->data;
    c->write_in_flight = false;
    c->writing.len = 0;
    shrink_idle(&c->writing);
    if (!c->closing) ts_conn_account_memory(c, false);
    if (status < 0) { ts_conn_close(c); ts__conn_maybe_free(c); return; }
    if (!c->closing) ts__conn_flush(c);
    else ts__conn_maybe_free(c);
}

/* appendfsync always: whether output may leave before an fsync. */
bool ts__conn_aof_gated(const ts_worker *w)
{
    return TS_UNLIKELY(w->e.shard.aof != NULL) && w->e.config.appendfsync == TS_AOF_FSYNC_ALWAYS;
}

static void aof_hold(ts_conn *c)
{
    ts_worker *w = c->w;
    if (!c->aof_held) {
        c->aof_held = true;
        c->aof_next = w->aof_held;
        w->aof_held = c;
    }
    /* Published before durable_seq is read again (aof_writer.c's publish). */
    atomic_store(&w->e.aof_holding, 1);
    if (!c->aof_wait_flush && ts_aof_durable(c->w->srv->persist) >= c->aof_need && !atomic_exchange(&w->e.aof_sync_posted, 1))
        ts_engine_post(&w->e, &w->e.aof_sync_msg);
}

void ts_conn_aof_submitted(ts_worker *w, uint64_t seq)
{
    for (ts_conn *c = w->aof_held; c; c = c->aof_next) {
        if (!c->aof_wait_flush) continue;
        c->aof_wait_flush = false;
        if (seq > c->aof_need) c->aof_need = seq;
    }
}

void ts_conn_aof_release(ts_worker *w)
{
    uint64_t durable = ts_aof_durable(w->srv->persist);
    ts_conn *c = w->aof_held;
    w->aof_held = NULL;
    while (c) {
        ts_conn *next = c->aof_next;
        if (!c->aof_wait_flush && c->aof_need <= durable) {
            c->aof_held = false;
            c->aof_next = NULL;
            ts__conn_flush(c);
            conn_maybe_resume(c);
        } else {
            c->aof_next = w->aof_held;
            w->aof_held = c;
        }
        c = next;
    }
    if (!w->aof_held) atomic_store(&w->e.aof_holding, 0);
}

/* appendfsync always, when this worker has just produced replies for c
 * (into its output or into reply slots): they reflect every write the
 * worker has logged so far, so they may leave only once all of it is
 * durable: what was submitted (aof_last_seq) and, when the log holds more,
 * the next submission too. Recorded now, at production: a held connection
 * released after round k is not held again for writes that other clients
 * made later (that made every reply wait a round more, and the rounds
 * shorter). Remote replies carry their shard's sequence number instead
 * (ts_conn_on_batch_done, ts_conn_on_block_done). */
static void aof_note_replies(ts_conn *c)
{
    ts_worker *w = c->w;
    if (!ts__conn_aof_gated(w)) return;
    if (w->e.aof_last_seq > c->aof_need) c->aof_need = w->e.aof_last_seq;
    if (w->e.aof_log.buf.len) {
        c->aof_wait_flush = true;
        /* On the held list even without output yet: the next submission
         * must find it to settle aof_wait_flush. */
        if (!c->aof_held) aof_hold(c);
    }
}

static void aof_unhold(ts_conn *c)
{
    ts_conn **p = &c->w->aof_held;
    while (*p && *p != c) p = &(*p)->aof_next;
    if (*p) *p = c->aof_next;
    c->aof_held = false;
}

/* While batches or txns of the connection are out, the replies ready ahead
 * of them wait (up to this many bytes): they come back within a hop, and a
 * pipelining client then gets its replies in one write instead of two (one
 * system call less for us, one read less for the client). Blocked commands
 * are not in flight, so replies before a BLPOP still leave at once. */
#define TS_HOLD_OUTPUT_MAX (64 * 1024)

static void flush_output(ts_conn *c);

void ts__conn_flush(ts_conn *c)
{
    flush_output(c);
    if (!c->closing) ts_conn_account_memory(c, true);
}

static void flush_output(ts_conn *c)
{
    if (c->closing) return;
    if (TS_UNLIKELY(c->close_asap)) {
        ts_conn_close(c);   /* over its output limit: what is queued is dropped */
        return;
    }
    conn_collect_slots(c);
    if (c->inflight > 0 && c->out.len < TS_HOLD_OUTPUT_MAX) return;
    if (c->out.len && ts__conn_aof_gated(c->w)) {
        /* appendfsync always: replies leave once every write they may
         * reflect is durable (aof_note_replies). */
        if (c->aof_held) return;
        if (c->aof_wait_flush || c->aof_need > ts_aof_durable(c->w->srv->persist)) {
            aof_hold(c);
            return;
        }
    }
    if (!c->write_in_flight && c->out.len) {
        /* libuv's buffer lengths are unsigned ints: a reply of any size
         * goes out in pieces of at most 1 GiB. */
        uv_buf_t b = uv_buf_init(c->out.data, (unsigned)(c->out.len < TS_WRITE_PIECE ? c->out.len : TS_WRITE_PIECE));
        int n = uv_try_write(&c->h.stream, &b, 1);
        if (n == UV_EAGAIN) n = 0;
        if (n < 0) { ts_conn_close(c); return; }
        c->client.net_out += (uint64_t)n;
        c->w->e.stats.net_output += (uint64_t)n;
        if ((size_t)n == c->out.len) {
            c->out.len = 0;
            shrink_idle(&c->out);
        } else {
            /* Hand the rest to a write request: swap buffers, no copy. */
            ts_buf tmp = c->writing;
            c->writing = c->out;
            c->out = tmp;
            c->out.len = 0;
            if (n) ts_buf_consume(&c->writing, (size_t)n);
            c->w->e.stats.net_output += c->writing.len;
            c->client.net_out += c->writing.len;
            size_t npieces = (c->writing.len + TS_WRITE_PIECE - 1) / TS_WRITE_PIECE;
            uv_buf_t one, *bufs = npieces == 1 ? &one : ts_malloc(sizeof(uv_buf_t) * npieces);
            for (size_t i = 0; i < npieces; i++) {
                size_t off = i * TS_WRITE_PIECE, len = c->writing.len - off;
                bufs[i] = uv_buf_init(c->writing.data + off, (unsigned)(len < TS_WRITE_PIECE ? len : TS_WRITE_PIECE));
            }
            c->wreq.data = c;
            int rc = uv_write(&c->wreq, &c->h.stream, bufs, (unsigned)npieces, on_write);   /* copies bufs */
            if (bufs != &one) free(bufs);
            if (rc < 0) { ts_conn_close(c); return; }
            c->write_in_flight = true;
        }
    }
    if (c->close_after_reply && !c->write_in_flight && c->out.len == 0 && c->slot_count == 0 && c->inflight == 0)
        ts_conn_close(c);
}

/* ---------- batches ---------- */

static void flush_open_batches(ts_conn *c)
{
    ts_worker *w = c->w;
    for (unsigned i = 0; i < w->nopen; i++) {
        unsigned target = w->open_targets[i];
        ts_batch *b = w->open_batches[target];
        w->open_batches[target] = NULL;
        b->now_ms = w->e.now_ms;
        b->total = b->ncmds;
        /* The client's room for replies goes to this batch (so batches
         * in flight together bring back at most the room, plus the reply
         * that crosses it): none left, nothing of it runs. */
        size_t room = output_room(c);
        b->reply_budget = room == SIZE_MAX ? 0 : room;
        b->overflow = room == 0;
        c->budget_promised += b->reply_budget;
        b->msg.kind = TS_MSG_BATCH;
        c->inflight++;
        c->inflight_args += b->args.len;
        w->e.stats.batches_sent++;
        ts_engine_send(&w->e, ts_engine_of(&w->e, target), &b->msg);
    }
    w->nopen = 0;
}

/* Runs a command on this worker's shard for connection c (or for a
 * blocked attempt), writing its reply to r: the runner (route/run.h). */
static void exec_here(ts_conn *c, const ts_command *cmd, int argc, ts_arg *argv, ts_reply *r, ts_blocker *blocker)
{
    ts_engine *e = &c->w->e;
    ts_cmd_ctx ctx;
    ts_run_ctx_init(&ctx, e, cmd, c->client.db, argc, argv, r);
    ctx.conn = c;
    ctx.client_local = ts__conn_is_local(c);
    ctx.client_id = c->client.id;
    ctx.blocker = blocker;
    c->aof_produced = true;   /* a reply that may reflect logged writes (aof_note_replies) */
    ts_run_command(e, &ctx);
    if (ctx.close_after_reply) c->close_after_reply = true;
}

void ts_conn_on_batch_done(ts_batch *b)
{
    ts_conn *c = b->conn;
    if (b->msg.aof_seq > c->aof_need) c->aof_need = b->msg.aof_seq;
    c->inflight--;
    c->inflight_args -= b->args.len;   /* the owner does not change args */
    /* The inbox's release/acquire pair makes the owner's writes to the batch
     * (its replies) visible here. */
    b->done = true;
    c->slot_bytes += b->reply.len;
    c->budget_promised -= b->reply_budget;
    if (TS_UNLIKELY(b->overflow)) output_limit_reached(c);
    else check_output_limit(c);
    if (c->closing) {
        /* The slots (and this batch) are freed with the connection. */
        ts__conn_maybe_free(c);
        return;
    }
    if (c->wait == TS_WAIT_INFLIGHT && c->inflight == 0) {
        c->wait = TS_WAIT_NONE;
        ts_worker_make_ready(c->w, c);
    }
    conn_maybe_resume(c);
    ts__conn_flush(c);
    ts__conn_maybe_migrate(c);
}

void ts_conn_on_txn_done(ts_txn *t)
{
    ts_conn *c = t->owner;
    c->inflight--;
    if (t->blocker && ts__conn_blocking_txn_done(c, t)) {
        ts__conn_maybe_free(c);
        return;
    }
    if (c->closing) { ts__conn_maybe_free(c); return; }
    ts_buf *out = ts__conn_reply_begin(c);
    ts_buf_append(out, t->reply_buf.data, t->reply_buf.len);
    ts__conn_reply_end(c, out);
    ts_worker *w = c->w;
    if (c->wait == TS_WAIT_TXN) c->wait = TS_WAIT_NONE;
    conn_maybe_resume(c);
    ts_worker_make_ready(w, c);
    if (ts__conn_aof_gated(w)) {
        /* What the parts' shards had logged when they ran (txn.c
         * part_note_log), and what this worker logged (log_txn). */
        for (int j = 0; j < t->nparts; j++)
            if (t->parts[j].aof_seen > c->aof_need) c->aof_need = t->parts[j].aof_seen;
        aof_note_replies(c);
    }
    ts__conn_flush(c);
}

/* ---------- dispatch ---------- */

enum { DISPATCH_DONE, DISPATCH_WAIT };

static void reply_local_error(ts_conn *c, const char *msg)
{
    ts_buf *out = ts__conn_reply_begin(c);
    ts_reply r;
    ts_reply_init(&r, out, c->client.resp);
    ts_reply_error(&r, msg);
    ts__conn_reply_end(c, out);
    ts_engine_count_error(&c->w->e, r.last_error_code);
}

/* Redis's text: the name up to 128 bytes (or its first NUL), then quoted
 * arguments while the list is under 128 bytes, each cut to what is left. */
static void reply_unknown_command(ts_conn *c, int argc, const ts_arg *argv)
{
    ts_buf args;
    ts_buf_init(&args);
    for (int i = 1; i < argc && args.len < 128; i++) {
        size_t room = 128 - args.len;
        size_t n = strnlen(argv[i].ptr, argv[i].len < room ? argv[i].len : room);
        ts_buf_putc(&args, '\'');
        ts_buf_append(&args, argv[i].ptr, n);
        ts_buf_append(&args, "' ", 2);
    }
    size_t namelen = strnlen(argv[0].ptr, argv[0].len < 128 ? argv[0].len : 128);
    ts_buf msg;
    ts_buf_init(&msg);
    ts_buf_append(&msg, "ERR unknown command '", 21);
    ts_buf_append(&msg, argv[0].ptr, namelen);
    ts_buf_append(&msg, "', with args beginning with: ", 29);
    ts_buf_append(&msg, args.data, args.len);
    ts_buf_putc(&msg, '\0');
    reply_local_error(c, msg.data);
    ts_buf_free(&msg);
    ts_buf_free(&args);
}

/* Runs a command inline on this worker, reply in order. */
static void run_local(ts_conn *c, const ts_command *cmd, int argc, ts_arg *argv)
{
    ts_buf *out = ts__conn_reply_begin(c);
    ts_reply r;
    ts_reply_init(&r, out, c->client.resp);
    size_t room = output_room(c);
    if (room != SIZE_MAX) r.limit = out->len + (room ? room : 1);
    exec_here(c, cmd, argc, argv, &r, NULL);
    ts__conn_reply_end(c, out);
}

static void send_to_shard(ts_conn *c, unsigned target, const ts_command *cmd, int argc, ts_arg *argv)
{
    ts_worker *w = c->w;
    ts_batch *b = w->open_batches[target];
    if (!b) {
        b = ts_batch_new(&w->e, c, target, false);
        w->open_batches[target] = b;
        w->open_targets[w->nopen++] = target;
    }
    ts_batch_append(b, cmd, c->client.db, c->client.resp, argc, argv);
    slot_push(c, b);
}

/* True when the connection must wait for earlier commands first. */
static bool barrier(ts_conn *c)
{
    flush_open_batches(c);
    if (c->inflight > 0) {
        c->wait = TS_WAIT_INFLIGHT;
        return true;
    }
    return false;
}

static void start_txn(ts_conn *c, ts_txn *t)
{
    c->inflight++;
    c->wait = TS_WAIT_TXN;
    ts_txn_start(t);
}

/* Starts the consecutive multi-shard commands collected in this pass. */
static void start_pending(ts_conn *c)
{
    if (c->npending == 0) return;
    ts_txn *t = c->npending == 1 ? c->pending[0] : ts_txn_group(c->pending, c->npending);
    c->npending = 0;
    start_txn(c, t);
}

static void new_txn(ts_conn *c, const ts_command *cmd, int argc, ts_arg *argv, const int *keypos, int nkeys)
{
    ts_txn *t = ts_txn_new(&c->w->e, ts_conn_on_txn_done, c, c->client.id, cmd, c->client.db, c->client.resp, argc, argv, keypos, nkeys);
    t->client_local = ts__conn_is_local(c);
    if (cmd->squashable && keypos) {
        /* Wait for the end of the pass: more may follow in the pipeline. */
        c->pending[c->npending++] = t;
        if (c->npending == TS_GROUP_MAX) start_pending(c);
        return;
    }
    start_txn(c, t);
}

static unsigned cursor_shard(ts_conn *c, int argc, const ts_arg *argv)
{
    return argc > 1 ? ts_cursor_shard(argv[1].ptr, argv[1].len, c->w->e.router->nshards) : 0;
}

/* The local shard (or a key) is held by a txn: the connection waits in
 * the worker's FIFO of shard waiters and dispatches again when released. */
static void wait_for_shard(ts_conn *c)
{
    ts_worker *w = c->w;
    c->wait = TS_WAIT_SHARD;
    if (c->in_waiters) return;
    c->in_waiters = true;
    c->waiter_next = NULL;
    ts_conn **pp = &w->shard_waiters;
    while (*pp) pp = &(*pp)->waiter_next;
    *pp = c;
}

/* The commands that run, not queue, inside MULTI (processCommand). */
static bool multi_passes(const ts_command *cmd)
{
    const char *n = cmd->name;
    return !strcmp(n, "exec") || !strcmp(n, "discard") || !strcmp(n, "multi") || !strcmp(n, "watch") ||
           !strcmp(n, "quit") || !strcmp(n, "reset");
}

static bool is_exec(const ts_command *cmd) { return !strcmp(cmd->name, "exec"); }

/* EXEC of a transaction that may run: inline when every key is on this
 * shard, else as a compound txn (cmd/transaction.h). */
static int dispatch_exec(ts_conn *c, const ts_command *cmd, int argc, ts_arg *argv)
{
    ts_worker *w = c->w;
    if (barrier(c)) return DISPATCH_WAIT;
    if (c->multi->dirty_exec) {
        run_local(c, cmd, argc, argv);   /* its error */
        return DISPATCH_DONE;
    }
    switch (ts_tx_where(&w->e, &c->multi->queue, c->client.db, c->watch)) {
    case TS_TX_WAIT:
        wait_for_shard(c);
        return DISPATCH_WAIT;
    case TS_TX_HERE:
        run_local(c, cmd, argc, argv);
        return DISPATCH_DONE;
    default:
        break;
    }
    ts__conn_multi_check_acl(c);
    ts_tx_client who;
    ts__conn_multi_client(c, &who);
    c->watch = NULL;   /* the txn took it */
    ts_txn *t = ts_tx_new(&w->e, cmd, ts_conn_on_txn_done, c, &who, &c->multi->queue);
    ts__conn_multi_end(c);
    c->aof_produced = true;
    start_txn(c, t);
    return DISPATCH_DONE;
}

/* A script (script/eval.c): inline when its declared keys (if any) live
 * on this shard; in a batch to the shard they live on, like any command;
 * holding every shard when they span shards, when the attempt reached a
 * key of another shard (a stray: the attempt changed nothing; a batch's
 * shard starts that txn itself), or for a restricted user's remote script
 * (its ACL user is this worker's to read). */
static void start_script_everywhere(ts_conn *c, const ts_command *cmd, int argc, ts_arg *argv, bool counted)
{
    ts_txn *t = ts_txn_new(&c->w->e, ts_conn_on_txn_done, c, c->client.id, cmd, c->client.db, c->client.resp, argc,
                           argv, NULL, 0);
    t->client_local = ts__conn_is_local(c);
    t->accounted = counted;
    if (!c->acl_unrestricted) t->state = (void *)c->acl_user;
    c->aof_produced = true;
    start_txn(c, t);
}

static int dispatch_script(ts_conn *c, const ts_command *cmd, int argc, ts_arg *argv)
{
    ts_worker *w = c->w;
    if (c->npending) { start_pending(c); return DISPATCH_WAIT; }
    int posbuf[TS_MAX_KEYS_STACK];
    int *pos = argc > TS_MAX_KEYS_STACK ? ts_malloc(sizeof(int) * (size_t)argc) : posbuf;
    int nkeys = ts_command_keys(cmd, argc, argv, pos, argc);
    unsigned target = w->e.id;
    bool multi = false;
    for (int i = 0; i < nkeys; i++) {
        unsigned s = ts_key_shard(argv[pos[i]].ptr, argv[pos[i]].len);
        if (i == 0) target = s;
        else if (s != target) multi = true;
    }
    int rc = DISPATCH_DONE;
    bool remote_batch = target != w->e.id && !multi && c->acl_unrestricted;
    if (!remote_batch && barrier(c)) {
        rc = DISPATCH_WAIT;
    } else if (multi || (target != w->e.id && !c->acl_unrestricted)) {
        start_script_everywhere(c, cmd, argc, argv, false);
    } else if (target != w->e.id) {
        /* With the other commands for that shard; a stray there runs it
         * holding every shard from that shard (route/batch.c). */
        send_to_shard(c, target, cmd, argc, argv);
        if (c->streak_target != target) { c->streak_target = target; c->streak = 0; }
        c->streak++;
    } else if (ts_engine_shard_busy(&w->e) || ts_run_locked_out(&w->e, cmd, c->client.db, argc, argv)) {
        wait_for_shard(c);
        rc = DISPATCH_WAIT;
    } else {
        c->streak = 0;
        ts_buf *out = ts__conn_reply_begin(c);
        ts_reply r;
        ts_reply_init(&r, out, c->client.resp);
        size_t room = output_room(c);
        if (room != SIZE_MAX) r.limit = out->len + (room ? room : 1);
        ts_engine *e = &w->e;
        ts_cmd_ctx ctx;
        ts_run_ctx_init(&ctx, e, cmd, c->client.db, argc, argv, &r);
        ctx.client_local = ts__conn_is_local(c);
        ctx.client_id = c->client.id;
        ctx.acl_user = c->acl_unrestricted ? NULL : c->acl_user;
        ctx.conn = c;   /* the script's ACL LOG entries */
        c->aof_produced = true;
        ts_run_command(e, &ctx);
        ts__conn_reply_end(c, out);   /* nothing was written when it escalates */
        if (ctx.escalate) start_script_everywhere(c, cmd, argc, argv, true);
    }
    if (pos != posbuf) free(pos);
    return rc;
}

/* WATCH: inline when every key is on this shard (and free), else a txn
 * over the new keys' shards whose steps register them (conn_multi.c). */
static int dispatch_watch(ts_conn *c, const ts_command *cmd, int argc, ts_arg *argv)
{
    ts_worker *w = c->w;
    if (c->multi) {   /* its error */
        run_local(c, cmd, argc, argv);
        return DISPATCH_DONE;
    }
    if (barrier(c)) return DISPATCH_WAIT;
    bool local = true;
    for (int i = 1; i < argc; i++) local &= ts_key_shard(argv[i].ptr, argv[i].len) == w->e.id;
    if (local) {
        if (ts_engine_shard_busy(&w->e) || ts_run_locked_out(&w->e, cmd, c->client.db, argc, argv)) {
            wait_for_shard(c);
            return DISPATCH_WAIT;
        }
        run_local(c, cmd, argc, argv);
        return DISPATCH_DONE;
    }
    if (!c->watch) c->watch = ts_watch_new();
    int *pos = ts_malloc(sizeof(int) * (size_t)argc);
    int n = 0;
    for (int i = 1; i < argc; i++)
        if (ts_watch_note(c->watch, c->client.db, argv[i])) pos[n++] = i;
    if (n == 0) {
        free(pos);
        run_local(c, cmd, argc, argv);   /* all watched already: OK */
        return DISPATCH_DONE;
    }
    ts_txn *t = ts_txn_new(&w->e, ts_conn_on_txn_done, c, c->client.id, cmd, c->client.db, c->client.resp, argc,
                           argv, pos, n);
    free(pos);
    t->client_local = ts__conn_is_local(c);
    ts_watch_ref(c->watch);
    t->state = c->watch;
    start_txn(c, t);
    return DISPATCH_DONE;
}

/* A blocking command's attempt as a txn over its keys (multi_borrow.c runs
 * it on the origin and registers the blocker in the txn's last phase). */
void ts__conn_start_blocking_txn(ts_conn *c, const ts_command *cmd, int argc, ts_arg *argv, const int *pos, int nkeys)
{
    ts_blocker *b = ts_blocker_new(&c->w->e, c, cmd, c->client.db, c->client.resp, argc, argv);
    c->blocker = b;
    ts_txn *t = ts_txn_new(&c->w->e, ts_conn_on_txn_done, c, c->client.id, cmd, c->client.db, c->client.resp, argc, argv, pos, nkeys);
    t->blocker = b;
    start_txn(c, t);
}

/* BLPOP and friends: a barrier (nothing of the connection in flight), then
 * the attempt: inline when every key is on this shard, else a txn. */
static int dispatch_blocking(ts_conn *c, const ts_command *cmd, int argc, ts_arg *argv)
{
    ts_worker *w = c->w;
    if (c->npending) { start_pending(c); return DISPATCH_WAIT; }
    if (barrier(c)) return DISPATCH_WAIT;
    int posbuf[TS_MAX_KEYS_STACK];
    int *pos = argc > TS_MAX_KEYS_STACK ? ts_malloc(sizeof(int) * (size_t)argc) : posbuf;
    int nkeys = ts_command_keys(cmd, argc, argv, pos, argc);
    bool local = true;
    for (int i = 0; i < nkeys; i++) local &= ts_key_shard(argv[pos[i]].ptr, argv[pos[i]].len) == w->e.id;
    int rc = DISPATCH_DONE;
    if (!local) {
        ts__conn_start_blocking_txn(c, cmd, argc, argv, pos, nkeys);
    } else if (ts_engine_shard_busy(&w->e) || ts_run_locked_out(&w->e, cmd, c->client.db, argc, argv)) {
        wait_for_shard(c);
        rc = DISPATCH_WAIT;
    } else {
        conn_collect_slots(c);   /* nothing in flight: every slot is filled */
        ts_blocker *b = ts_blocker_new(&w->e, c, cmd, c->client.db, c->client.resp, argc, argv);
        c->blocker = b;
        ts_buf *out = ts__conn_reply_begin(c);
        ts_reply r;
        ts_reply_init(&r, out, c->client.resp);
        exec_here(c, cmd, argc, argv, &r, b);
        if (b->blocked) {
            /* Nothing was written; the slot taken (if any) stays empty. */
            ts_blocking_register(&w->e.shard, b);
            ts__conn_park_blocked(c);
        } else {
            ts__conn_reply_end(c, out);
            c->blocker = NULL;
            ts_blocker_finish(b);
        }
    }
    if (pos != posbuf) free(pos);
    return rc;
}

/* A command the pipeline look-ahead parsed (conn_prefetch_pipeline). */
typedef struct ts_preparsed {
    size_t off, len;                /* in the query buffer */
    int argc;
    size_t argv_at;                 /* index into w->pre_argv */
    const ts_command *cmd;          /* NULL: unknown command */
    int key_shard;                  /* shard of argv[1] for first-key commands, else -1 */
} ts_preparsed;

/* ---------- who may run what ---------- */

bool ts__conn_is_local(const ts_conn *c)
{
    const char *a = c->client.addr;
    return c->client.is_unix || strncmp(a, "127.0.0.1:", 10) == 0 || strncmp(a, "[::1]:", 6) == 0;
}

/* Redis's authRequired: the default user needs a password (or is off) and
 * this client has not authenticated. A client that connected while the
 * default user needed none stays authenticated (as in Redis). */
static bool auth_required(const ts_conn *c)
{
    return !c->client.authenticated && ts_acl_auth_required(c->w->e.acl);
}

const ts_acl_user *ts__conn_acl_user(ts_conn *c)
{
    ts_engine *e = &c->w->e;
    if (TS_LIKELY(c->acl_gen == e->acl_gen)) return c->acl_user;
    const ts_acl_user *u;
    if (!c->client.user) {
        u = ts_acl_default_user(e->acl);
    } else {
        u = ts_acl_find(e->acl, c->client.user, strlen(c->client.user));
        if (u && ts_acl_user_serial(u) != c->client.user_serial) u = NULL;
    }
    if (!u) return NULL;
    c->acl_user = u;
    c->acl_gen = e->acl_gen;
    c->acl_unrestricted = ts_acl_user_unrestricted(u);
    return u;
}

void ts__conn_set_user(ts_conn *c, const ts_acl_user *u)
{
    size_t len;
    const char *name = ts_acl_user_name(u, &len);
    free(c->client.user);
    c->client.user = len == 7 && memcmp(name, "default", 7) == 0 ? NULL : ts_strndup(name, len);
    c->client.user_serial = ts_acl_user_serial(u);
    c->client.authenticated = true;
    c->acl_gen = 0;   /* resolve again */
}

/* The error a command gets before it may run, or NULL. */
static const char *refuse_command(const ts_conn *c, const ts_command *cmd)
{
    if (TS_UNLIKELY(cmd->protected_cmd)) {
        int allowed = c->w->e.config.enable_debug_command;
        if (allowed == TS_ALLOWED_NO || (allowed == TS_ALLOWED_LOCAL && !ts__conn_is_local(c)))
            return "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can "
                   "run it from a local connection, otherwise you need to set this option in the configuration "
                   "file, and then restart the server.";
    }
    if (TS_UNLIKELY(auth_required(c)) && !(cmd->flags & TS_CMD_NO_AUTH)) return "NOAUTH Authentication required.";
    return NULL;
}

/* Redis's MISCONF for a write (or PING) while the disk fails: a failed
 * save with stop-writes-on-bgsave-error and `save` rules, or a failed AOF
 * write or everysec fsync. NULL when writes may run. */
static const char *disk_refusal(const ts_conn *c, const ts_command *cmd, char *buf, size_t buflen)
{
    const ts_config *cfg = &c->w->e.config;
    int err = 0;
    bool save_errors_stop = cfg->stop_writes_on_bgsave_error && cfg->save[0];
    ts_disk_error why = ts_persist_disk_error(c->w->srv->persist, save_errors_stop, &err);
    if (TS_LIKELY(why == TS_DISK_OK)) return NULL;
    uint32_t flags = cmd->flags;
    if (c->multi && !strcmp(cmd->name, "exec")) flags |= c->multi->queue.flags;   /* EXEC of writes */
    if (!(flags & TS_CMD_WRITE) && strcmp(cmd->name, "ping") != 0) return NULL;
    switch (why) {
    case TS_DISK_ERROR_RDB:
        return "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. "
               "Commands that may modify the data set are disabled, because this instance is configured to report "
               "errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check "
               "the Redis logs for details about the RDB error.";
    case TS_DISK_ERROR_AOF:
        snprintf(buf, buflen, "MISCONF Errors writing to the AOF file: %s", strerror(err));
        return buf;
    default:
        return NULL;
    }
}

/* A script past busy-reply-threshold holds a shard this command needs:
 * Redis's BUSY error (its text names the kind of script), or NULL. The
 * commands that need no shard (PING, CLIENT, ...) and those flagged
 * allow-busy run. SHUTDOWN: with NOSAVE it stops the busy scripts (their
 * effects are not logged) and goes on; without, BUSY. */
static const char *busy_refusal(ts_conn *c, const ts_command *cmd, int argc, ts_arg *argv)
{
    ts_router *router = c->w->e.router;
    if (!strcmp(cmd->name, "shutdown")) {
        bool nosave = false;
        for (int i = 1; i < argc; i++) nosave |= ts_arg_eq(argv[i], "nosave");
        if (nosave) {
            atomic_store(&router->shutdown_kills_scripts, 1);
            return NULL;
        }
    } else if (cmd->flags & TS_CMD_ALLOW_BUSY) {
        return NULL;
    }
    int state = TS_SCRIPT_IDLE;
    bool everywhere = atomic_load(&router->scripts_busy_everywhere) > 0;
    for (unsigned i = 0; i < router->nshards && state == TS_SCRIPT_IDLE; i++) {
        int st = atomic_load(&router->engines[i]->script_state);
        if (st == TS_SCRIPT_IDLE) continue;
        bool needed = everywhere || cmd->route == TS_ROUTE_ALL || !strcmp(cmd->name, "shutdown");
        if (!needed && cmd->route == TS_ROUTE_CURSOR)
            needed = argc > 1 && ts_cursor_shard(argv[1].ptr, argv[1].len, router->nshards) == i;
        if (!needed && cmd->route == TS_ROUTE_KEYS) {
            int posbuf[TS_MAX_KEYS_STACK];
            int *pos = argc > TS_MAX_KEYS_STACK ? ts_malloc(sizeof(int) * (size_t)argc) : posbuf;
            int n = ts_command_keys(cmd, argc, argv, pos, argc);
            if (n == 0) needed = c->w->e.id == i;
            for (int k = 0; k < n && !needed; k++) needed = ts_key_shard(argv[pos[k]].ptr, argv[pos[k]].len) == i;
            if (pos != posbuf) free(pos);
        }
        if (needed) state = st;
    }
    if (state == TS_SCRIPT_IDLE) return NULL;
    return state == TS_SCRIPT_BUSY_EVAL ? TS_ERR_BUSY_EVAL : TS_ERR_BUSY_FUNCTION;
}

static void acl_log_in(ts_conn *c, int reason, int context, ts_arg object, ts_arg username)
{
    char *info = client_info(c);
    ts_acl_log_add(c->w->srv->acl_log, reason, context, object, username, info, (long)c->w->e.config.acllog_max_len);
    free(info);
}

void ts__conn_acl_log(ts_conn *c, int reason, ts_arg object, ts_arg username)
{
    acl_log_in(c, reason, c->multi ? TS_ACL_CTX_MULTI : TS_ACL_CTX_TOPLEVEL, object, username);
}

void ts__conn_script_acl_log(ts_conn *c, int reason, ts_arg object)
{
    const ts_acl_user *u = ts__conn_acl_user(c);
    size_t ulen = 0;
    const char *uname = u ? ts_acl_user_name(u, &ulen) : "";
    acl_log_in(c, reason, TS_ACL_CTX_LUA, object, (ts_arg){uname, ulen});
}

/* Redis's ACL check of a call (ACLCheckAllPerm): the NOPERM error to send,
 * or NULL; a denial is logged (ACL LOG). */
static const char *acl_refusal(ts_conn *c, const ts_acl_user *u, const ts_command *cmd, int argc, ts_arg *argv,
                               char *buf, size_t buflen)
{
    int pos = 0;
    int verdict = ts_acl_check(u, cmd, argc, argv, &pos);
    if (verdict == TS_ACL_OK) return NULL;
    size_t ulen;
    const char *uname = ts_acl_user_name(u, &ulen);
    ts_arg object = verdict == TS_ACL_DENIED_CMD ? (ts_arg){cmd->name, strlen(cmd->name)} : argv[pos];
    ts__conn_acl_log(c, verdict, object, (ts_arg){uname, ulen});
    switch (verdict) {
    case TS_ACL_DENIED_CMD:
        snprintf(buf, buflen, "NOPERM this user has no permissions to run the '%s' command", cmd->name);
        return buf;
    case TS_ACL_DENIED_KEY:
        return "NOPERM this user has no permissions to access one of the keys used as arguments";
    case TS_ACL_DENIED_CHANNEL:
        return "NOPERM this user has no permissions to access one of the channels used as arguments";
    default:
        return "ERR no permission";
    }
}

/* A command refused before it ran: its error, counted as Redis counts a
 * rejected call. */
static void reply_rejected(ts_conn *c, const ts_command *cmd, const char *msg)
{
    ts_buf *out = ts__conn_reply_begin(c);
    ts_reply r;
    ts_reply_init(&r, out, c->client.resp);
    ts_reply_error(&r, msg);
    ts__conn_reply_end(c, out);
    ts_run_reject(&c->w->e, cmd, r.last_error_code);
}

/* The first word of an HTTP request line or header that a cross-protocol
 * attack carries (Redis closes the connection on "POST" and "Host:"). */
static bool looks_like_http(ts_arg name)
{
    return ts_arg_eq(name, "post") || ts_arg_eq(name, "host:");
}

/* Redis's warning, at most once a minute so an attack cannot flood the log. */
static void log_security_warning(void)
{
    static atomic_llong logged_s;
    long long now = ts_mstime() / 1000, last = atomic_load_explicit(&logged_s, memory_order_relaxed);
    if (llabs(now - last) <= 60 && last != 0) return;
    if (!atomic_compare_exchange_strong(&logged_s, &last, now)) return;
    ts_log(TS_LOG_WARNING, "Possible SECURITY ATTACK detected. It looks like somebody is sending POST or Host: "
                           "commands to Redis. This is likely due to an attacker attempting to use Cross Protocol "
                           "Scripting to compromise your Redis instance. Connection aborted.");
}

/* pre: what the look-ahead learnt about this command, or NULL. */
static int dispatch(ts_conn *c, int argc, ts_arg *argv, const struct ts_preparsed *pre)
{
    ts_worker *w = c->w;
    if (TS_UNLIKELY(looks_like_http(argv[0]))) {
        /* Cross-protocol scripting (a browser or an SSRF speaking HTTP to
         * us): the connection goes at once, with no reply and none of the
         * replies still queued for it, as in Redis. */
        log_security_warning();
        ts_conn_close(c);
        return DISPATCH_WAIT;
    }
    const ts_command *cmd = pre ? pre->cmd : ts_command_lookup(argv[0].ptr, argv[0].len);
    if (!cmd) {
        if (c->npending) { start_pending(c); return DISPATCH_WAIT; }
        ts__conn_multi_flag(c);
        reply_unknown_command(c, argc, argv);
        return DISPATCH_DONE;
    }
    if (cmd->subcommands && argc >= 2) {
        const ts_command *sub = ts_command_lookup_sub(cmd, argv[1].ptr, argv[1].len);
        if (sub) cmd = sub;
    }
    c->client.last_cmd = cmd->name;
    {
        ts_reply r;
        ts_buf tmp;
        ts_buf_init(&tmp);
        ts_reply_init(&r, &tmp, c->client.resp);
        if (!ts_command_check_arity(cmd, argc, argv, &r)) {
            if (c->npending) { ts_buf_free(&tmp); start_pending(c); return DISPATCH_WAIT; }
            ts__conn_multi_flag(c);
            ts_buf *out = ts__conn_reply_begin(c);
            ts_buf_append(out, tmp.data, tmp.len);
            ts__conn_reply_end(c, out);
            ts_run_reject(&w->e, cmd, r.last_error_code);
            ts_buf_free(&tmp);
            return DISPATCH_DONE;
        }
        ts_buf_free(&tmp);
    }
    /* Redis's order after arity: protected commands, authentication, the ACL. */
    const char *refusal = c->internal ? NULL : refuse_command(c, cmd);
    if (TS_UNLIKELY(c->multi != NULL) && !refusal && (cmd->flags & TS_CMD_NO_MULTI))
        refusal = "ERR Command not allowed inside a transaction";
    char aclbuf[256];
    if (TS_LIKELY(!refusal && !c->internal)) {
        if (TS_UNLIKELY(c->acl_gen != w->e.acl_gen) && !ts__conn_acl_user(c)) {
            ts_conn_close(c);   /* its user was deleted (ACL DELUSER / LOAD) */
            return DISPATCH_WAIT;
        }
        if (TS_UNLIKELY(!c->acl_unrestricted)) {
            refusal = acl_refusal(c, c->acl_user, cmd, argc, argv, aclbuf, sizeof(aclbuf));
            if (!refusal && cmd->any_key_option) {   /* SORT BY/GET: not logged, as Redis */
                const char *e = cmd->any_key_option(cmd, argc, argv);
                if (e && !ts_acl_reads_any_key(c->acl_user, cmd, argc, argv)) refusal = e;
            }
        }
    }
    char diskbuf[128];
    if (TS_LIKELY(!refusal && !c->internal)) refusal = disk_refusal(c, cmd, diskbuf, sizeof diskbuf);
    if (TS_UNLIKELY(atomic_load_explicit(&w->e.router->scripts_busy, memory_order_relaxed) != 0) && !refusal)
        refusal = busy_refusal(c, cmd, argc, argv);
    if (TS_UNLIKELY(refusal != NULL)) {
        if (c->npending) { start_pending(c); return DISPATCH_WAIT; }
        if (TS_UNLIKELY(c->multi != NULL)) {
            ts__conn_multi_flag(c);
            if (is_exec(cmd)) {
                /* Redis's execCommandAbort: the transaction goes. */
                ts__conn_multi_end(c);
                ts__conn_unwatch(c);
                char abortbuf[512];
                snprintf(abortbuf, sizeof abortbuf, "EXECABORT Transaction discarded because of: %s", refusal);
                refusal = abortbuf;
                reply_rejected(c, cmd, refusal);
                return DISPATCH_DONE;
            }
        }
        reply_rejected(c, cmd, refusal);
        return DISPATCH_DONE;
    }
    if (TS_UNLIKELY(cmd->run == ts__conn_watch_run)) return dispatch_watch(c, cmd, argc, argv);
    if (TS_UNLIKELY(c->multi != NULL)) {
        if (is_exec(cmd)) return dispatch_exec(c, cmd, argc, argv);
        if (!multi_passes(cmd)) {
            ts__conn_multi_queue(c, cmd, argc, argv);
            return DISPATCH_DONE;
        }
    }
    if (TS_UNLIKELY(cmd->flags & TS_CMD_BLOCKING) && cmd->route == TS_ROUTE_KEYS)
        return dispatch_blocking(c, cmd, argc, argv);
    if (TS_UNLIKELY(cmd->script)) return dispatch_script(c, cmd, argc, argv);
    if (c->npending && cmd->route != TS_ROUTE_KEYS) { start_pending(c); return DISPATCH_WAIT; }
    switch (cmd->route) {
    case TS_ROUTE_NONE:
        run_local(c, cmd, argc, argv);
        return DISPATCH_DONE;
    case TS_ROUTE_CONN:
        if (barrier(c)) return DISPATCH_WAIT;
        run_local(c, cmd, argc, argv);
        return DISPATCH_DONE;
    case TS_ROUTE_ALL:
        if (w->e.router->nshards == 1 && !cmd->always_txn) break;    /* one shard: plain local run */
        if (c->npending) { start_pending(c); return DISPATCH_WAIT; }
        if (barrier(c)) return DISPATCH_WAIT;
        new_txn(c, cmd, argc, argv, NULL, 0);
        return DISPATCH_DONE;
    case TS_ROUTE_CURSOR: {
        unsigned target = cursor_shard(c, argc, argv);
        if (target != w->e.id) { send_to_shard(c, target, cmd, argc, argv); return DISPATCH_DONE; }
        break;
    }
    case TS_ROUTE_KEYS: {
        if (TS_UNLIKELY(cmd->wide_keys != NULL) && w->e.router->nshards > 1 && cmd->wide_keys(argc, argv)) {
            /* It reads keys it does not name, maybe on any shard: all held. */
            if (c->npending) { start_pending(c); return DISPATCH_WAIT; }
            if (barrier(c)) return DISPATCH_WAIT;
            new_txn(c, cmd, argc, argv, NULL, 0);
            return DISPATCH_DONE;
        }
        int posbuf[TS_MAX_KEYS_STACK];
        int *pos = posbuf;
        int maxkeys = argc;
        if (maxkeys > TS_MAX_KEYS_STACK) pos = ts_malloc(sizeof(int) * (size_t)maxkeys);
        int nkeys = ts_command_keys(cmd, argc, argv, pos, maxkeys);
        unsigned target = w->e.id;
        bool multi = false;
        for (int i = 0; i < nkeys; i++) {
            unsigned s = i == 0 && pos[0] == 1 && pre && pre->key_shard >= 0
                             ? (unsigned)pre->key_shard
                             : ts_key_shard(argv[pos[i]].ptr, argv[pos[i]].len);
            if (i == 0) target = s;
            else if (s != target) { multi = true; break; }
        }
        int rc = DISPATCH_DONE;
        if (c->npending && !(multi && cmd->squashable)) {
            start_pending(c);
            rc = DISPATCH_WAIT;
        } else if (multi) {
            if (c->npending == 0 && barrier(c)) rc = DISPATCH_WAIT;
            else new_txn(c, cmd, argc, argv, pos, nkeys);
        } else if (target != w->e.id) {
            send_to_shard(c, target, cmd, argc, argv);
            if (nkeys > 0) {
                if (c->streak_target != target) { c->streak_target = target; c->streak = 0; }
                c->streak++;
            }
        } else {
            c->streak = 0;
            rc = -1;   /* run locally below */
        }
        if (pos != posbuf) free(pos);
        if (rc != -1) return rc;
        break;
    }
    }
    /* Local shard. */
    if (ts_engine_shard_busy(&w->e) || ts_run_locked_out(&w->e, cmd, c->client.db, argc, argv)) {
        wait_for_shard(c);
        return DISPATCH_WAIT;
    }
    run_local(c, cmd, argc, argv);
    return DISPATCH_DONE;
}

/* Before running a pipeline, look ahead over (at most 64 KB or 32 of) its
 * complete multibulk commands and prefetch the table buckets, then the
 * entries, of the first keys that live on this worker's shard: the cache
 * misses of the lookups then overlap instead of coming one by one. Only for
 * big tables (small ones are in cache anyway). The look-ahead never sees
 * more than 64 KB, so a huge command arriving slowly costs no rescans.
 * What it parsed (arguments, command, the first key's shard) is kept for
 * the dispatch loop, which then neither parses nor looks up those commands
 * again. */
#define TS_LOOKAHEAD_BYTES (64 * 1024)
#define TS_LOOKAHEAD_CMDS 32
#define TS_LOOKAHEAD_MIN_KEYS 65536
#define TS_LOOKAHEAD_MAX_ARGS 64

static void conn_prefetch_pipeline(ts_conn *c)
{
    ts_worker *w = c->w;
    ts_table *t = &w->e.shard.dbs[c->client.db];
    w->npre = w->pre_next = 0;
    if (c->query.len - c->qpos < 64 || ts_table_size(t) < TS_LOOKAHEAD_MIN_KEYS) return;
    if (!w->pre) w->pre = ts_malloc(sizeof(ts_preparsed) * TS_LOOKAHEAD_CMDS);
    ts_arg keys[TS_LOOKAHEAD_CMDS];
    int n = 0;
    size_t off = c->qpos, end = c->qpos + TS_LOOKAHEAD_BYTES, nargv = 0;
    if (end > c->query.len) end = c->query.len;
    ts_parser *p = &w->lookahead;
    while (w->npre < TS_LOOKAHEAD_CMDS && off < end && c->query.data[off] == '*') {
        ts_parser_reset(p);
        if (ts_parser_next(p, c->query.data + off, end - off) != TS_PARSE_OK) break;
        if (p->argc < 1 || p->argc > TS_LOOKAHEAD_MAX_ARGS) break;   /* the dispatch loop parses it */
        if (nargv + (size_t)p->argc > w->pre_argv_cap) {
            w->pre_argv_cap = w->pre_argv_cap ? w->pre_argv_cap * 2 : 256;
            w->pre_argv = ts_realloc(w->pre_argv, sizeof(ts_arg) * w->pre_argv_cap);
        }
        ts_preparsed *e = &w->pre[w->npre++];
        e->off = off;
        e->len = p->cmd_len;
        e->argc = p->argc;
        e->argv_at = nargv;
        memcpy(w->pre_argv + nargv, p->argv, sizeof(ts_arg) * (size_t)p->argc);
        nargv += (size_t)p->argc;
        e->cmd = ts_command_lookup(p->argv[0].ptr, p->argv[0].len);
        e->key_shard = -1;
        off += p->cmd_len;
        const ts_command *cmd = e->cmd;
        if (!cmd || p->argc < 2 || cmd->route != TS_ROUTE_KEYS || cmd->first_key != 1 || cmd->getkeys) continue;
        e->key_shard = (int)ts_key_shard(p->argv[1].ptr, p->argv[1].len);
        if ((unsigned)e->key_shard == w->e.id) keys[n++] = p->argv[1];   /* points into the query buffer */
    }
    ts_parser_reset(p);
    if (n < 2) return;
    for (int i = 0; i < n; i++) ts_table_prefetch(t, keys[i].ptr, keys[i].len, 0);
    for (int i = 0; i < n; i++) ts_table_prefetch(t, keys[i].ptr, keys[i].len, 1);
}

void ts_conn_process(ts_conn *c)
{
    ts_worker *w = c->w;
    if (c->closing || c->wait != TS_WAIT_NONE) return;
    ts_engine_tick(&w->e);
    c->parser.max_bulk_len = (size_t)w->e.config.proto_max_bulk_len;   /* CONFIG SET applies at once */
    w->lookahead.max_bulk_len = c->parser.max_bulk_len;
    conn_prefetch_pipeline(c);
    while (c->qpos < c->query.len && !c->close_after_reply && !c->close_asap && c->wait == TS_WAIT_NONE &&
           c->inflight < TS_CONN_MAX_INFLIGHT) {
        size_t used;
        int argc;
        ts_arg *argv;
        const ts_preparsed *pre = NULL;
        if (w->pre_next < w->npre && w->pre[w->pre_next].off == c->qpos) {
            /* Parsed by the look-ahead (a complete command: whatever
             * state the parser kept for it is moot). */
            pre = &w->pre[w->pre_next++];
            ts_parser_reset(&c->parser);
            used = pre->len;
            argc = pre->argc;
            argv = w->pre_argv + pre->argv_at;
        } else {
            int rc = ts_parser_next(&c->parser, c->query.data + c->qpos, c->query.len - c->qpos);
            if (rc == TS_PARSE_INCOMPLETE) break;
            if (rc == TS_PARSE_ERROR) {
                if (c->npending) { start_pending(c); break; }
                flush_open_batches(c);
                reply_local_error(c, c->parser.error);
                c->close_after_reply = true;
                c->query.len = c->qpos = 0;
                ts_parser_reset(&c->parser);
                break;
            }
            used = c->parser.cmd_len;
            argc = c->parser.argc;
            argv = c->parser.argv;
        }
        if (argc > 0) {
            c->client.last_interaction_ms = w->e.now_ms;
            if (dispatch(c, argc, argv, pre) == DISPATCH_WAIT) break;
        }
        c->qpos += used;
        ts_parser_reset(&c->parser);
    }
    w->npre = w->pre_next = 0;
    flush_open_batches(c);
    start_pending(c);
    if (c->qpos == c->query.len) {
        c->qpos = c->query.len = 0;
        shrink_idle(&c->query);   /* a 512 MB SET does not leave 512 MB behind */
    }
    if (c->close_after_reply && c->reading) {
        uv_read_stop(&c->h.stream);
        c->reading = false;
    }
    if (c->inflight >= TS_CONN_MAX_INFLIGHT && c->reading) {
        uv_read_stop(&c->h.stream);
        c->reading = false;
        c->paused = true;
    }
    if (c->aof_produced) {
        c->aof_produced = false;
        aof_note_replies(c);
    }
    ts__conn_flush(c);
}

/* ---------- reading ---------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ts_conn *c = h->data;
    (void)suggested;
    if (c->qpos > 0 && c->qpos == c->query.len) c->qpos = c->query.len = 0;
    size_t want = TS_READ_CHUNK;
    size_t needed = ts_parser_bytes_wanted(&c->parser);
    size_t have = c->query.len - c->qpos;
    if (needed > have && needed - have > want) want = needed - have;
    if (c->query.cap - c->query.len < want && c->qpos > 0) {
        /* Move the unparsed tail to the front before growing. */
        ts_buf_consume(&c->query, c->qpos);
        c->qpos = 0;
    }
    ts_buf_reserve(&c->query, want);
    buf->base = c->query.data + c->query.len;
    buf->len = c->query.cap - c->query.len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    ts_conn *c = s->data;
    ts_engine_mark_awake(&c->w->e);
    if (nread < 0) {
        ts_conn_close(c);
        ts__conn_maybe_free(c);
        return;
    }
    if (nread == 0) return;
    c->query.len += (size_t)nread;
    c->client.net_in += (uint64_t)nread;
    c->w->e.stats.net_input += (uint64_t)nread;
    /* The commands still out in batches to other shards are the client's
     * request too: a single-shard server would still hold them in its
     * query buffer. */
    if (c->query.len - c->qpos + c->inflight_args > (size_t)c->w->e.config.client_query_buffer_limit) {
        ts_log(TS_LOG_WARNING, "Closing client that reached max query buffer length (id=%llu)",
               (unsigned long long)c->client.id);
        ts_conn_close(c);
        ts__conn_maybe_free(c);
        return;
    }
    ts_conn_process(c);
    ts_worker_run_ready(c->w);
}

/* Reading resumes when half of the in-flight work is back. */
static void conn_maybe_resume(ts_conn *c)
{
    if (!c->paused || c->inflight > TS_CONN_MAX_INFLIGHT / 2 || c->closing || c->close_after_reply) return;
    c->paused = false;
    c->reading = true;
    uv_read_start(&c->h.stream, on_alloc, on_read);
    ts_worker_make_ready(c->w, c);   /* commands already buffered */
}

/* ---------- lifecycle ---------- */

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t outlen, bool is_unix, const char *unixpath)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (is_unix) { snprintf(out, outlen, "%s:0", unixpath ? unixpath : ""); return; }
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        snprintf(out, outlen, "%s:%d", host, ntohs(a->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        snprintf(out, outlen, "[%s]:%d", host, ntohs(a->sin6_port));
    } else {
        snprintf(out, outlen, "?:0");
    }
}

/* A connection object for an accepted (or handed-over) socket; NULL (fd
 * closed) when libuv cannot take it. */
ts_conn *ts__conn_open(ts_worker *w, int fd, bool is_unix, const struct sockaddr_storage *peer)
{
    ts_conn *c = ts_calloc(1, sizeof(*c));
    c->w = w;
    c->client.is_unix = is_unix;
    int rc;
    if (is_unix) {
        uv_pipe_init(&w->loop, &c->h.pipe, 0);
        rc = uv_pipe_open(&c->h.pipe, fd);
    } else {
        uv_tcp_init(&w->loop, &c->h.tcp);
        rc = uv_tcp_open(&c->h.tcp, fd);
        if (rc == 0) {
            uv_tcp_nodelay(&c->h.tcp, 1);
            if (w->e.config.tcp_keepalive > 0) uv_tcp_keepalive(&c->h.tcp, 1, (unsigned)w->e.config.tcp_keepalive);
        }
    }
    c->h.handle.data = c;
    if (rc != 0) {
        ts_log(TS_LOG_WARNING, "Cannot adopt client socket: %s", uv_strerror(rc));
        close(fd);
        c->closing = true;
        uv_close(&c->h.handle, NULL);
        /* The handle is not yet in use; free after the loop closes it. */
        free(c);
        return NULL;
    }
    c->client.resp = 2;
    ts_parser_init(&c->parser, (size_t)w->e.config.proto_max_bulk_len);
    c->client.ctime_ms = c->client.last_interaction_ms = ts_mstime();
    ts_engine_tick(&w->e);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    memset(&ss, 0, sizeof(ss));
    if (peer) format_addr(peer, c->client.addr, sizeof(c->client.addr), is_unix, w->e.config.unixsocket);
    else if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        format_addr(&ss, c->client.addr, sizeof(c->client.addr), is_unix, w->e.config.unixsocket);
    sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        format_addr(&ss, c->client.laddr, sizeof(c->client.laddr), is_unix, w->e.config.unixsocket);
    c->next = w->conns;
    if (w->conns) w->conns->prev = c;
    w->conns = c;
    w->e.stats.clients++;
    w->live_conns++;
    return c;
}

void ts__conn_start_reading(ts_conn *c)
{
    c->reading = true;
    uv_read_start(&c->h.stream, on_alloc, on_read);
}

/* Redis 7.0's protected mode: while it is on and the default user has no
 * password, only clients from 127.0.0.1, ::1 or a unix socket are served,
 * whatever `bind` says; anyone else reads this and is closed. */
static const char protected_mode_denied[] =
    "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the "
    "default user. In this mode connections are only accepted from the loopback interface. If you want to connect "
    "from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode "
    "sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the "
    "same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do "
    "so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode "
    "by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting "
    "the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' "
    "option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the "
    "above things in order for the server to start accepting connections from the outside.\r\n";

static bool protected_mode_denies(ts_conn *c)
{
    const ts_config *cfg = &c->w->e.config;
    if (!cfg->protected_mode || !ts_acl_default_nopass(c->w->e.acl) || ts__conn_is_local(c)) return false;
    uv_buf_t b = uv_buf_init((char *)protected_mode_denied, (unsigned)(sizeof protected_mode_denied - 1));
    (void)uv_try_write(&c->h.stream, &b, 1);   /* best effort, like Redis's connWrite */
    atomic_fetch_add(&c->w->srv->rejected_connections, 1);
    ts_conn_close(c);
    return true;
}

void ts_conn_adopt(ts_worker *w, const ts_msg_new_conn *m)
{
    ts_conn *c = ts__conn_open(w, m->fd, m->is_unix, m->has_peer ? &m->peer : NULL);
    bool internal = m->internal;
    if (!c) {
        atomic_fetch_sub(&w->srv->connected_clients, 1);
        return;
    }
    c->client.id = atomic_fetch_add(&w->srv->next_client_id, 1);
    /* Redis: a client starts authenticated while the default user needs no password. */
    c->internal = internal;
    c->client.authenticated = internal || !ts_acl_auth_required(w->e.acl);
    if (!internal && protected_mode_denies(c)) return;
    c->reading = true;
    uv_read_start(&c->h.stream, on_alloc, on_read);
}

static void conn_free(ts_conn *c)
{
    if (c->aof_held) aof_unhold(c);
    while (c->slot_count) {
        ts_batch *b = c->slots[c->slot_head];
        c->slot_head = (c->slot_head + 1) & (c->slot_cap - 1);
        c->slot_count--;
        /* Free each batch once, at its last slot. */
        b->consumed++;
        if (b->consumed == b->ncmds && b != c->local_batch) ts_batch_free(b);
    }
    if (c->local_batch) ts_batch_free(c->local_batch);
    free(c->slots);
    ts_buf_free(&c->query);
    ts_buf_free(&c->out);
    ts_buf_free(&c->writing);
    ts_parser_free(&c->parser);
    ts__conn_multi_end(c);
    ts__conn_unwatch(c);
    free(c->client.name);
    free(c->client.user);
    ts_worker *w = c->w;
    free(c);
    w->live_conns--;
    ts_worker_conn_freed(w);
}

static bool handle_closed(const ts_conn *c) { return c->h.handle.data == NULL; }

void ts__conn_maybe_free(ts_conn *c)
{
    if (c->closing && handle_closed(c) && c->inflight == 0 && !c->blocker && !c->in_ready && !c->write_in_flight)
        conn_free(c);
}

static void on_close(uv_handle_t *h)
{
    ts_conn *c = TS_CONTAINER_OF(h, ts_conn, h.handle);
    h->data = NULL;
    c->write_in_flight = false;
    ts__conn_maybe_free(c);
}

void ts_conn_shutdown(ts_conn *c)
{
    /* Best effort: replies already computed leave before the socket closes
     * (non-blocking; a slow client may still miss the tail). */
    if (!c->closing && !c->write_in_flight) {
        conn_collect_slots(c);
        if (c->out.len) {
            uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
            (void)uv_try_write(&c->h.stream, &b, 1);
        }
    }
    ts_conn_close(c);
}

void ts_conn_close(ts_conn *c)
{
    if (c->closing) return;
    ts_worker *w = c->w;
    c->closing = true;
    if (c->prev) c->prev->next = c->next;
    else w->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    w->e.stats.clients--;
    if (!c->migrating) atomic_fetch_sub(&w->srv->connected_clients, 1);
    if (c->in_waiters) {
        ts_conn **pp = &w->shard_waiters;
        while (*pp && *pp != c) pp = &(*pp)->waiter_next;
        if (*pp) *pp = c->waiter_next;
        c->in_waiters = false;
    }
    if (c->in_ready) {
        ts_conn **pp = &w->ready_head;
        ts_conn *prev = NULL;
        while (*pp && *pp != c) { prev = *pp; pp = &(*pp)->ready_next; }
        if (*pp) {
            *pp = c->ready_next;
            if (w->ready_tail == c) w->ready_tail = prev;
        }
        c->in_ready = false;
    }
    ts__conn_cancel_blocked(c);
    ts_conn_account_memory(c, false);   /* closing: counts 0 from now on */
    /* Batches not yet posted belong to this pass; none can be open here
     * because passes end with flush_open_batches. */
    uv_close(&c->h.handle, on_close);
}
