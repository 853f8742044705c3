/*
 * info.c - INFO and CONFIG RESETSTAT.
 *
 * INFO reads statistics that belong to every worker; each worker snapshots
 * its own (a txn step on its thread) and the coordinator sums and formats
 * them, so no thread ever reads another's counters. The format follows
 * Redis 7.0 ("# Section" headers, "name:value" lines, CRLF, a blank line
 * between sections).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#if defined(TS_SANITIZED)
/* From the sanitizer runtime (sanitizer/allocator_interface.h, which is
 * not always installed). */
size_t __sanitizer_get_current_allocated_bytes(void);
#elif defined(TS_HAVE_JEMALLOC)
#include <jemalloc/jemalloc.h>
#else
#include <malloc.h>
#endif

#include "cmds.h"
#include "tessera/persist/aof.h"
#include "tessera/store/lazyfree.h"
#include "tessera/store/db.h"
#include "tessera/persist/persist.h"
#include "tessera/cmd/server.h"
#include "tessera/util/clock.h"
#include "tessera/util/version.h"

typedef struct db_stat { size_t keys, expires; } db_stat;

/* One worker's numbers, copied on its own thread. */
typedef struct info_snapshot {
    ts_engine_stats stats;
    ts_shard_stats shard;
    db_stat *dbs;
    int ndb;
    ts_cmd_stats *cmds;
    ts_error_stat errstats[32];
    int nerrstats;
    size_t table_memory;
} info_snapshot;

static info_snapshot *snapshot_take(ts_engine *w)
{
    info_snapshot *s = ts_calloc(1, sizeof(*s));
    s->stats = w->stats;
    s->shard = w->shard.stats;
    s->ndb = w->shard.ndb;
    s->dbs = ts_calloc((size_t)s->ndb, sizeof(db_stat));
    for (int i = 0; i < s->ndb; i++) {
        s->dbs[i].keys = ts_table_size(&w->shard.dbs[i]);
        s->dbs[i].expires = ts_table_expires(&w->shard.dbs[i]);
        s->table_memory += ts_table_memory(&w->shard.dbs[i]);
    }
    s->cmds = ts_malloc(sizeof(ts_cmd_stats) * (size_t)ts_command_count());
    memcpy(s->cmds, w->cmd_stats, sizeof(ts_cmd_stats) * (size_t)ts_command_count());
    memcpy(s->errstats, w->errstats, sizeof(s->errstats));
    s->nerrstats = w->nerrstats;
    return s;
}

static void snapshot_free(info_snapshot *s)
{
    free(s->dbs);
    free(s->cmds);
    free(s);
}

static void snapshot_add(info_snapshot *acc, const info_snapshot *s)
{
    acc->stats.commands_processed += s->stats.commands_processed;
    acc->stats.errors += s->stats.errors;
    acc->stats.net_input += s->stats.net_input;
    acc->stats.net_output += s->stats.net_output;
    acc->stats.batches_sent += s->stats.batches_sent;
    acc->stats.txns += s->stats.txns;
    acc->stats.migrations_out += s->stats.migrations_out;
    acc->shard.keyspace_hits += s->shard.keyspace_hits;
    acc->shard.keyspace_misses += s->shard.keyspace_misses;
    acc->shard.expired_keys += s->shard.expired_keys;
    acc->shard.expire_cycle_cpu_usec += s->shard.expire_cycle_cpu_usec;
    acc->stats.clients += s->stats.clients;
    acc->stats.blocked_clients += s->stats.blocked_clients;
    acc->table_memory += s->table_memory;
    for (int i = 0; i < acc->ndb && i < s->ndb; i++) {
        acc->dbs[i].keys += s->dbs[i].keys;
        acc->dbs[i].expires += s->dbs[i].expires;
    }
    for (int i = 0; i < ts_command_count(); i++) {
        acc->cmds[i].calls += s->cmds[i].calls;
        acc->cmds[i].usec += s->cmds[i].usec;
        acc->cmds[i].rejected += s->cmds[i].rejected;
        acc->cmds[i].failed += s->cmds[i].failed;
    }
    for (int i = 0; i < s->nerrstats; i++) {
        int j = 0;
        for (; j < acc->nerrstats; j++) if (!strcmp(acc->errstats[j].code, s->errstats[i].code)) break;
        if (j == acc->nerrstats) {
            if (acc->nerrstats == (int)TS_ARRAY_LEN(acc->errstats)) continue;
            acc->errstats[acc->nerrstats++] = s->errstats[i];
        } else {
            acc->errstats[j].count += s->errstats[i].count;
        }
    }
}

static size_t used_memory(void)
{
#if defined(TS_SANITIZED)
    /* The sanitizers replace malloc; mallinfo2 then reports nothing. */
    return __sanitizer_get_current_allocated_bytes();
#elif defined(TS_HAVE_JEMALLOC)
    uint64_t epoch = 1;
    size_t sz = sizeof(epoch);
    mallctl("epoch", &epoch, &sz, &epoch, sz);
    size_t allocated = 0;
    sz = sizeof(allocated);
    if (mallctl("stats.allocated", &allocated, &sz, NULL, 0) == 0) return allocated;
    return 0;
#else
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#endif
}

static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, rss = 0;
    if (fscanf(f, "%lu %lu", &size, &rss) != 2) rss = 0;
    fclose(f);
    return rss * (size_t)sysconf(_SC_PAGESIZE);
}

static void human_bytes(char *out, size_t outlen, double n)
{
    const char *units = "BKMGTP";
    int u = 0;
    while (n >= 1024 && u < 5) { n /= 1024; u++; }
    if (u == 0) snprintf(out, outlen, "%.0fB", n);
    else snprintf(out, outlen, "%.2f%c", n, units[u]);
}

static void add(ts_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(ts_buf *b, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof(line)) {
        ts_buf_append(b, line, (size_t)n);
        return;
    }
    /* A long line (a long path in executable/config_file): format it
     * again into the buffer itself rather than cut its CRLF off. */
    ts_buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static bool want(ts_cmd_ctx *c, const char *section, bool in_default)
{
    if (c->argc <= 1) return in_default;
    for (int i = 1; i < c->argc; i++) {
        if (ts_arg_eq(c->argv[i], section)) return true;
        if (ts_arg_eq(c->argv[i], "all") || ts_arg_eq(c->argv[i], "everything")) return true;
        if (ts_arg_eq(c->argv[i], "default") && in_default) return true;
    }
    return false;
}

static void info_format(ts_cmd_ctx *c, ts_server *srv, const ts_config *cfg, const info_snapshot *s, ts_reply *r)
{
    ts_buf b;
    ts_buf_init(&b);
    int64_t now = ts_mstime();
    long long uptime = (now - srv->start_time_ms) / 1000;
    bool first = true;
#define SECTION(name) do { if (!first) ts_buf_append(&b, "\r\n", 2); first = false; add(&b, "# %s\r\n", name); } while (0)
    if (want(c, "server", true)) {
        struct utsname un;
        uname(&un);
        SECTION("Server");
        add(&b, "redis_version:%s\r\n", TS_VERSION);
        add(&b, "redis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\n");
        add(&b, "redis_mode:standalone\r\n");
        add(&b, "tessera_version:%s\r\n", TS_TESSERA_VERSION);
        add(&b, "os:%s %s %s\r\n", un.sysname, un.release, un.machine);
        add(&b, "arch_bits:%d\r\n", (int)(sizeof(long) * 8));
        add(&b, "monotonic_clock:%s\r\n", ts_clock_name());
        add(&b, "multiplexing_api:epoll\r\n");
        add(&b, "atomicvar_api:c11-builtin\r\n");
        add(&b, "gcc_version:%d.%d.%d\r\n", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
        add(&b, "process_id:%d\r\n", (int)getpid());
        add(&b, "process_supervised:no\r\n");
        add(&b, "run_id:%s\r\n", srv->run_id);
        add(&b, "tcp_port:%d\r\n", cfg->port);
        add(&b, "server_time_usec:%lld\r\n", (long long)ts_ustime());
        add(&b, "uptime_in_seconds:%lld\r\n", uptime);
        add(&b, "uptime_in_days:%lld\r\n", uptime / 86400);
        add(&b, "hz:%d\r\n", cfg->hz);
        add(&b, "configured_hz:%d\r\n", cfg->hz);
        add(&b, "lru_clock:%lld\r\n", (long long)((now / 1000) & TS_ENTRY_LRU_MAX));
        add(&b, "executable:%s\r\n", srv->executable ? srv->executable : "");
        add(&b, "config_file:%s\r\n", srv->config_file ? srv->config_file : "");
        add(&b, "io_threads_active:0\r\n");
        add(&b, "worker_threads:%u\r\n", srv->nworkers);
    }
    if (want(c, "clients", true)) {
        SECTION("Clients");
        add(&b, "connected_clients:%ld\r\n", s->stats.clients);
        add(&b, "cluster_connections:0\r\n");
        add(&b, "maxclients:%d\r\n", cfg->maxclients);
        add(&b, "client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\n");
        add(&b, "blocked_clients:%ld\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n", s->stats.blocked_clients);
    }
    if (want(c, "memory", true)) {
        size_t used = used_memory(), rss = rss_bytes();
        char h1[32], h2[32];
        human_bytes(h1, sizeof(h1), (double)used);
        human_bytes(h2, sizeof(h2), (double)rss);
        SECTION("Memory");
        add(&b, "used_memory:%zu\r\n", used);
        add(&b, "used_memory_human:%s\r\n", h1);
        add(&b, "used_memory_rss:%zu\r\n", rss);
        add(&b, "used_memory_rss_human:%s\r\n", h2);
        add(&b, "used_memory_dataset:%zu\r\n", s->table_memory);
        add(&b, "maxmemory:0\r\nmaxmemory_human:0B\r\nmaxmemory_policy:noeviction\r\n");
        add(&b, "mem_fragmentation_ratio:%.2f\r\n", used ? (double)rss / (double)used : 0.0);
        add(&b, "mem_allocator:%s\r\n",
#ifdef TS_HAVE_JEMALLOC
            "jemalloc-5.3.0"
#else
            "libc"
#endif
        );
        add(&b, "lazyfree_pending_objects:%zu\r\n", ts_lazyfree_pending());
        add(&b, "lazyfreed_objects:%zu\r\n", ts_lazyfree_done());
    }
    if (want(c, "persistence", true)) {
        SECTION("Persistence");
        add(&b, "loading:0\r\nasync_loading:0\r\n");
        add(&b, "current_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\n");
        add(&b, "current_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\n");
        ts_persist_info pi;
        ts_persist_get_info(srv->persist, &pi);
        int in_progress = pi.rdb_in_progress;
        uint64_t dirty = ts_router_dirty(&srv->router), saved = pi.dirty_saved;
        add(&b, "rdb_changes_since_last_save:%llu\r\n", (unsigned long long)(dirty > saved ? dirty - saved : 0));
        add(&b, "rdb_bgsave_in_progress:%d\r\n", in_progress);
        add(&b, "rdb_last_save_time:%lld\r\n", (long long)pi.lastsave);
        add(&b, "rdb_last_bgsave_status:%s\r\n", pi.last_bgsave_ok ? "ok" : "err");
        long long dur = pi.last_save_duration_ms;
        add(&b, "rdb_last_bgsave_time_sec:%lld\r\n", dur < 0 ? -1 : dur / 1000);
        add(&b, "rdb_current_bgsave_time_sec:%lld\r\n",
            in_progress ? (long long)(ts_mstime() - pi.save_started_ms) / 1000 : -1LL);
        add(&b, "rdb_saves:%llu\r\n", (unsigned long long)pi.saves);
        add(&b, "rdb_last_cow_size:%lld\r\n", (long long)pi.last_cow_size);
        add(&b, "rdb_last_load_keys_expired:%llu\r\n", (unsigned long long)pi.load_keys_expired);
        add(&b, "rdb_last_load_keys_loaded:%llu\r\n", (unsigned long long)pi.load_keys_loaded);
        bool aof = pi.aof_on;
        int rewriting = pi.rewrite_in_progress;
        long long last_rw = pi.last_rewrite_ms;
        add(&b, "aof_enabled:%d\r\naof_rewrite_in_progress:%d\r\naof_rewrite_scheduled:%d\r\n", aof, rewriting,
            pi.rewrite_scheduled);
        add(&b, "aof_last_rewrite_time_sec:%lld\r\naof_current_rewrite_time_sec:%lld\r\n",
            last_rw < 0 ? -1LL : last_rw / 1000,
            rewriting ? (long long)(ts_mstime() - pi.rewrite_started_ms) / 1000 : -1LL);
        add(&b, "aof_last_bgrewrite_status:%s\r\naof_rewrites:%llu\r\naof_rewrites_consecutive_failures:%llu\r\n",
            pi.last_rewrite_ok ? "ok" : "err", (unsigned long long)pi.rewrites,
            (unsigned long long)pi.rewrite_failures);
        add(&b, "aof_last_write_status:%s\r\naof_last_cow_size:0\r\n", pi.last_write_ok || !aof ? "ok" : "err");
        add(&b, "module_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n");
        if (aof) {
            add(&b, "aof_current_size:%lld\r\naof_base_size:%lld\r\n", (long long)pi.aof_current_size,
                (long long)pi.aof_base_size);
            add(&b, "aof_pending_rewrite:0\r\naof_buffer_length:0\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:0\r\n");
        }
    }
    if (want(c, "stats", true)) {
        SECTION("Stats");
        add(&b, "total_connections_received:%llu\r\n", (unsigned long long)atomic_load(&srv->total_connections));
        add(&b, "total_commands_processed:%llu\r\n", (unsigned long long)s->stats.commands_processed);
        add(&b, "instantaneous_ops_per_sec:0\r\n");
        add(&b, "total_net_input_bytes:%llu\r\n", (unsigned long long)s->stats.net_input);
        add(&b, "total_net_output_bytes:%llu\r\n", (unsigned long long)s->stats.net_output);
        add(&b, "rejected_connections:%llu\r\n", (unsigned long long)atomic_load(&srv->rejected_connections));
        add(&b, "expired_keys:%llu\r\n", (unsigned long long)s->shard.expired_keys);
        add(&b, "expire_cycle_cpu_milliseconds:%llu\r\n", (unsigned long long)s->shard.expire_cycle_cpu_usec / 1000);
        add(&b, "evicted_keys:0\r\n");
        add(&b, "evicted_clients:%llu\r\n", (unsigned long long)atomic_load(&srv->evicted_clients));
        add(&b, "keyspace_hits:%llu\r\n", (unsigned long long)s->shard.keyspace_hits);
        add(&b, "keyspace_misses:%llu\r\n", (unsigned long long)s->shard.keyspace_misses);
        add(&b, "pubsub_channels:0\r\npubsub_patterns:0\r\n");
        add(&b, "total_error_replies:%llu\r\n", (unsigned long long)s->stats.errors);
        add(&b, "cross_shard_batches:%llu\r\n", (unsigned long long)s->stats.batches_sent);
        add(&b, "multi_shard_transactions:%llu\r\n", (unsigned long long)s->stats.txns);
        add(&b, "connection_migrations:%llu\r\n", (unsigned long long)s->stats.migrations_out);
    }
    if (want(c, "replication", true)) {
        SECTION("Replication");
        add(&b, "role:master\r\nconnected_slaves:0\r\n");
        add(&b, "master_replid:%s\r\n", srv->run_id);
        add(&b, "master_repl_offset:0\r\n");
    }
    if (want(c, "cpu", true)) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        SECTION("CPU");
        add(&b, "used_cpu_sys:%ld.%06ld\r\n", (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
        add(&b, "used_cpu_user:%ld.%06ld\r\n", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
    }
    if (want(c, "modules", true)) {
        SECTION("Modules");
    }
    if (want(c, "commandstats", false)) {
        SECTION("Commandstats");
        for (int i = 0; i < ts_command_count(); i++) {
            const ts_cmd_stats *st = &s->cmds[i];
            if (!st->calls && !st->rejected && !st->failed) continue;
            const char *name = ts_command_at(i)->name;
            add(&b, "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,failed_calls=%llu\r\n",
                name, (unsigned long long)st->calls, (unsigned long long)st->usec,
                st->calls ? (double)st->usec / (double)st->calls : 0.0,
                (unsigned long long)st->rejected, (unsigned long long)st->failed);
        }
    }
    if (want(c, "errorstats", true)) {
        SECTION("Errorstats");
        for (int i = 0; i < s->nerrstats; i++)
            add(&b, "errorstat_%s:count=%llu\r\n", s->errstats[i].code, (unsigned long long)s->errstats[i].count);
    }
    if (want(c, "cluster", true)) {
        SECTION("Cluster");
        add(&b, "cluster_enabled:0\r\n");
    }
    if (want(c, "keyspace", true)) {
        SECTION("Keyspace");
        for (int i = 0; i < s->ndb; i++)
            if (s->dbs[i].keys)
                add(&b, "db%d:keys=%zu,expires=%zu,avg_ttl=0\r\n", i, s->dbs[i].keys, s->dbs[i].expires);
    }
#undef SECTION
    ts_reply_verbatim(r, b.data ? b.data : "", b.len, "txt");
    ts_buf_free(&b);
}

void cmd_info(ts_cmd_ctx *c)
{
    info_snapshot *s = snapshot_take(c->engine);
    info_format(c, c->engine->srv, &c->engine->config, s, c->r);
    snapshot_free(s);
}

static void info_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *ctx)
{
    (void)t;
    p->ptr = snapshot_take(ctx->engine);
}

static int info_after(ts_txn *t)
{
    info_snapshot *acc = t->parts[0].ptr;
    for (int i = 1; i < t->nparts; i++) {
        snapshot_add(acc, t->parts[i].ptr);
        snapshot_free(t->parts[i].ptr);
    }
    ts_cmd_ctx ctx = {.argc = t->argc, .argv = t->argv, .r = &t->reply, .cmd = t->cmd, .engine = t->coord};
    info_format(&ctx, t->coord->srv, &t->coord->config, acc, &t->reply);
    snapshot_free(acc);
    return -1;
}

const ts_txn_ops ts_multi_info = {info_step, info_after};

/* CONFIG RESETSTAT: every worker clears its own counters. */
static void resetstat_here(ts_engine *w)
{
    /* The counters; the gauges (clients, blocked clients) stay. */
    long clients = w->stats.clients, blocked = w->stats.blocked_clients;
    memset(&w->stats, 0, sizeof(w->stats));
    w->stats.clients = clients;
    w->stats.blocked_clients = blocked;
    memset(&w->shard.stats, 0, sizeof(w->shard.stats));
    memset(w->cmd_stats, 0, sizeof(ts_cmd_stats) * (size_t)ts_command_count());
    w->nerrstats = 0;
}

void cmd_config_resetstat(ts_cmd_ctx *c)
{
    resetstat_here(c->engine);
    ts_reply_ok(c->r);
}

static void resetstat_step(ts_txn *t, ts_txn_part *p, ts_cmd_ctx *ctx)
{
    (void)t; (void)p;
    resetstat_here(ctx->engine);
}

static int resetstat_after(ts_txn *t)
{
    ts_reply_ok(&t->reply);
    return -1;
}

const ts_txn_ops ts_multi_resetstat = {resetstat_step, resetstat_after};
