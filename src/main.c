/*
 * main.c - start-up and shutdown: configuration, threads, signals.
 *
 * The main thread runs the acceptor loop. It builds the configuration
 * (embedded defaults, then the file, then --options), starts one worker
 * per shard, opens the listeners, and waits. SIGTERM/SIGINT ask worker 0
 * to attempt a shutdown (cmd/shutdown.c, which also runs SHUTDOWN); an
 * attempt that fails keeps the server running. One that succeeds has the
 * main thread stop the listeners and send STOP to every worker (each
 * closes its connections), release the attempt's hold on the shards, send
 * FINAL (each leaves its loop), join them, and exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tessera/persist/rdb.h"
#include "tessera/script/script.h"
#include "tessera/net/acceptor.h"
#include "tessera/net/conn_cmds.h"
#include "tessera/persist/aof_load.h"
#include "tessera/cmd/cmd.h"
#include "tessera/config/config.h"
#include "tessera/util/hash.h"
#include "tessera/store/lazyfree.h"
#include "tessera/util/log.h"
#include "tessera/persist/persist.h"
#include "tessera/persist/rdb_file.h"
#include "tessera/cmd/server.h"
#include "tessera/cmd/shutdown.h"
#include "tessera/route/acl.h"
#include "tessera/route/slot.h"
#include "tessera/net/worker.h"
#include "tessera/util/clock.h"
#include "tessera/util/fdlimit.h"
#include "tessera/util/version.h"

typedef struct main_ctx {
    ts_server *srv;
    ts_worker **workers;
    uv_loop_t *loop;
    uv_async_t shutdown_async;   /* any thread -> main loop: exit, or its progress */
    ts_acceptor *acc;
    uv_signal_t sigterm, sigint;
    bool exiting;             /* a shutdown succeeded: STOP was posted */
    bool released;            /* its txn was told to release the shards */
    bool finishing;           /* FINAL was posted */
    uv_timer_t exit_wait;     /* exiting: re-checks for txns of no connection still running */
} main_ctx;

static main_ctx g_main;   /* main thread only: signal and async callbacks find it here */

/* A shutdown succeeded (cmd/shutdown.c): stage 1 of the exit. Stop
 * listening and have every worker close its connections, while the
 * shutdown's txn still holds every shard. */
static void begin_exit(main_ctx *m)
{
    if (m->exiting) return;
    m->exiting = true;
    ts_server *srv = m->srv;
    ts_acceptor_stop(m->acc);
    for (unsigned i = 0; i < srv->nworkers; i++) {
        ts_msg *stop = ts_calloc(1, sizeof(*stop));
        stop->kind = TS_MSG_STOP;
        ts_engine_post(srv->router.engines[i], stop);
    }
}

static void on_exit_wait(uv_timer_t *t);

/* Once no worker answers clients any more, the shutdown releases its
 * shards (what waited runs with nobody to answer); once every worker is
 * idle and no txn of no connection is left, stage 2: the workers leave
 * their loops. Until then each loop keeps serving the others' messages. */
static void maybe_finish_exit(main_ctx *m)
{
    ts_server *srv = m->srv;
    if (!m->exiting || m->finishing) return;
    if (!m->released && (unsigned)atomic_load(&srv->stopped_workers) == srv->nworkers) {
        m->released = true;
        ts_shutdown_release(srv);
    }
    if (!m->released || (unsigned)atomic_load(&srv->idle_workers) < srv->nworkers) return;
    if (atomic_load(&srv->router.connless_txns) > 0) {
        /* A `save` rule's BGSAVE or a signal's shutdown that waited behind
         * the hold: no connection keeps a worker busy for it, so look
         * again shortly. */
        uv_timer_start(&m->exit_wait, on_exit_wait, 10, 0);
        return;
    }
    m->finishing = true;
    uv_close((uv_handle_t *)&m->exit_wait, NULL);
    uv_signal_stop(&m->sigterm);
    uv_signal_stop(&m->sigint);
    uv_close((uv_handle_t *)&m->sigterm, NULL);
    uv_close((uv_handle_t *)&m->sigint, NULL);
    for (unsigned i = 0; i < srv->nworkers; i++) {
        ts_msg *fin = ts_calloc(1, sizeof(*fin));
        fin->kind = TS_MSG_FINAL;
        ts_engine_post(srv->router.engines[i], fin);
    }
    uv_close((uv_handle_t *)&m->shutdown_async, NULL);
}

static void on_exit_wait(uv_timer_t *t)
{
    (void)t;
    maybe_finish_exit(&g_main);
}

/* SIGTERM / SIGINT: like Redis's handler, the shutdown happens later, on
 * a worker (cmd/shutdown.c): worker 0 attempts it with the flags of
 * shutdown-on-sigterm / -sigint; when it fails the server keeps running.
 * A second SIGINT while one is pending exits at once. */
static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    ts_server *srv = g_main.srv;
    bool pending = atomic_load(&srv->sig_shutdown) != TS_SIG_SHUTDOWN_NONE || g_main.exiting;
    if (pending && signum == SIGINT) {
        ts_log(TS_LOG_WARNING, "You insist... exiting now.");
        exit(1);   /* not a clean shutdown */
    }
    ts_log(TS_LOG_WARNING, "%s", signum == SIGINT ? "Received SIGINT scheduling shutdown..."
                                                   : "Received SIGTERM scheduling shutdown...");
    int expect = TS_SIG_SHUTDOWN_NONE;
    if (g_main.exiting || atomic_load(&srv->exiting) ||
        !atomic_compare_exchange_strong(&srv->sig_shutdown, &expect, TS_SIG_SHUTDOWN_REQUESTED))
        return;   /* exiting, or one is on its way already */
    ts_msg_shutdown *msg = ts_calloc(1, sizeof(*msg));
    msg->msg.kind = TS_MSG_SHUTDOWN;
    msg->signum = signum;
    ts_engine_post(srv->router.engines[0], &msg->msg);
}

static void on_shutdown_async(uv_async_t *a)
{
    (void)a;
    if (atomic_load(&g_main.srv->exiting)) begin_exit(&g_main);
    maybe_finish_exit(&g_main);
}

/* The server context's hooks (cmd/server.h): any thread. */
static void hook_shutdown_exit(ts_server *srv)
{
    (void)srv;
    uv_async_send(&g_main.shutdown_async);
}

static void hook_shutdown_progress(ts_server *srv)
{
    (void)srv;
    uv_async_send(&g_main.shutdown_async);
}

/* The AOF replay's connection (persist/aof_load.h): a client of worker 0. */
static void open_replay_connection(int fd, void *arg)
{
    ts_server *srv = arg;
    atomic_fetch_add(&srv->connected_clients, 1);
    ts_msg_new_conn *m = ts_calloc(1, sizeof(*m));
    m->msg.kind = TS_MSG_NEW_CONN;
    m->fd = fd;
    m->is_unix = 1;
    m->internal = true;
    ts_engine_post(srv->router.engines[0], &m->msg);
}

static bool known_command(ts_arg name) { return ts_command_lookup(name.ptr, name.len) != NULL; }

static void make_run_id(char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[20];
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(rnd, 1, sizeof(rnd), f) != sizeof(rnd)) {
        for (size_t i = 0; i < sizeof(rnd); i++) rnd[i] = (unsigned char)(rand() ^ (int)time(NULL));
    }
    if (f) fclose(f);
    for (int i = 0; i < 20; i++) { out[2 * i] = hex[rnd[i] >> 4]; out[2 * i + 1] = hex[rnd[i] & 15]; }
    out[40] = '\0';
}

/* Startup with appendonly yes. */
static ts_aof_startup g_aof_startup;
static ts_aof_load_env g_aof_env;

/* Startup: the AOF with appendonly yes (as Redis, the RDB file is then
 * only its first version's source), otherwise the RDB file in `dir`. */
static int load_data(ts_server *srv)
{
    if (srv->config.appendonly) {
        g_aof_env = (ts_aof_load_env){.config = &srv->config, .persist = srv->persist, .router = &srv->router,
                                      .known_command = known_command,
                                      .open_replay_connection = open_replay_connection, .arg = srv};
        if (ts_aof_startup_prepare(&g_aof_env, &g_aof_startup) != 0) return -1;
        srv->loading = g_aof_startup.replay;
        for (unsigned i = 0; i < srv->nworkers; i++) {
            ts_engine *e = srv->router.engines[i];
            e->loading = srv->loading;
            e->shard.aof = e->loading ? NULL : &e->aof_log;
            ts_engine_tick(e);
        }
        return 0;
    }
    ts_rdb_load_stats st;
    char err[512];
    uint64_t t0 = ts_monotonic_us();
    int rc = ts_rdb_load_file(&srv->router, &srv->config, srv->config.dbfilename, &st, err, sizeof err);
    if (rc == 1) return 0;
    if (rc == 0) ts_persist_note_load(srv->persist, st.keys, st.expired);
    if (rc < 0) {
        ts_log(TS_LOG_WARNING, "Fatal error loading the DB (%s): %s. Exiting.", srv->config.dbfilename, err);
        return -1;
    }
    ts_log(TS_LOG_NOTICE, "Done loading RDB, keys loaded: %llu, keys expired: %llu.",
           (unsigned long long)st.keys, (unsigned long long)st.expired);
    ts_log(TS_LOG_NOTICE, "DB loaded from disk: %.3f seconds", (double)(ts_monotonic_us() - t0) / 1e6);
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "Usage: ./tessera-server [/path/to/tessera.conf] [options]\n"
            "       ./tessera-server - (read config from stdin)\n"
            "       ./tessera-server -v or --version\n"
            "       ./tessera-server -h or --help\n\n"
            "Examples:\n"
            "       ./tessera-server (run the server with the embedded default configuration)\n"
            "       ./tessera-server /etc/tessera/6379.conf\n"
            "       ./tessera-server --port 7777 --threads 4\n"
            "       ./tessera-server /etc/mytessera.conf --loglevel verbose\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
        printf("Tessera server v=%s (redis_version=%s) malloc=%s bits=%d\n", TS_TESSERA_VERSION, TS_VERSION,
#ifdef TS_HAVE_JEMALLOC
               "jemalloc",
#else
               "libc",
#endif
               (int)(sizeof(long) * 8));
        return 0;
    }
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage();
        return 0;
    }

    static ts_server srv;
    ts_config_init_defaults(&srv.config);
    const char *conffile = NULL;
    char *cmdline = ts_config_args_to_text(argc, argv, &conffile);
    if (!cmdline) { usage(); return 1; }
    char err[2048];
    if (conffile && ts_config_load_file(&srv.config, conffile, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        free(cmdline);
        return 1;
    }
    if (cmdline[0] && ts_config_load_string(&srv.config, cmdline, "command line", err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        free(cmdline);
        return 1;
    }
    free(cmdline);
    if (conffile) srv.config_file = realpath(conffile, NULL);

    if (ts_log_open(srv.config.logfile, srv.config.loglevel) != 0) {
        fprintf(stderr, "Can't open the log file: %s\n", strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    ts_hash_seed_init();
    ts_command_table_init();
    ts_conn_commands_bind();
    ts_script_bind();
    static const ts_rdb_functions_io functions_io = {ts_functions_rdb_save, ts_functions_aof_commands,
                                                     ts_functions_rdb_load};
    ts_rdb_set_functions_io(&functions_io);
    ts_command_table_check();
    ts_acl *acl = ts_acl_startup(&srv.config, err, sizeof(err));
    if (!acl) {
        ts_log(TS_LOG_WARNING, "%s", err);
        ts_log(TS_LOG_WARNING, "Critical error while loading ACLs. Exiting.");
        return 1;
    }
    srv.acl_log = ts_acl_log_new();
    if (ts_alloc_background_purge(srv.config.jemalloc_bg_thread) != 0)
        ts_log(TS_LOG_WARNING, "Warning: cannot %s jemalloc's background thread",
               srv.config.jemalloc_bg_thread ? "start" : "stop");

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned nworkers = srv.config.threads > 0 ? (unsigned)srv.config.threads : (unsigned)(ncpu > 0 ? ncpu : 1);
    if (nworkers > TS_MAX_SHARDS) nworkers = TS_MAX_SHARDS;
    srv.nworkers = nworkers;
    srv.hooks = (ts_server_hooks){.shutdown_exit = hook_shutdown_exit, .shutdown_progress = hook_shutdown_progress};
    g_main.loop = uv_default_loop();
    srv.persist = ts_persist_new();
    srv.start_time_ms = ts_mstime();
    atomic_init(&srv.next_client_id, 1);
    make_run_id(srv.run_id);
    ts_slot_map_init(nworkers);
    ts_clock_init();

    ts_log(TS_LOG_NOTICE, "oO0OoO0OoO0Oo Tessera is starting oO0OoO0OoO0Oo");
    ts_log(TS_LOG_NOTICE, "Tessera version=%s, bits=%d, pid=%d, just started", TS_TESSERA_VERSION,
           (int)(sizeof(long) * 8), (int)getpid());
    if (!conffile)
        ts_log(TS_LOG_WARNING, "Warning: no config file specified, using the default config. In order to specify a config file use ./tessera-server /path/to/tessera.conf");
    /* Before the engines copy the configuration: maxclients shrinks to
     * what the open-file limit allows (Redis's adjustOpenFilesLimit). */
    srv.reserved_fds = ts_acceptor_reserved_fds(nworkers);
    srv.config.maxclients = ts_fdlimit_fit(srv.config.maxclients, srv.reserved_fds, true);
    if (srv.config.maxclients == 0) exit(1);
    atomic_init(&srv.maxclients, srv.config.maxclients);

    ts_worker **workers = ts_calloc(nworkers, sizeof(ts_worker *));
    srv.router.nshards = nworkers;
    srv.router.engines = ts_calloc(nworkers, sizeof(ts_engine *));
    for (unsigned i = 0; i < nworkers; i++) {
        workers[i] = ts_calloc(1, sizeof(ts_worker));
        srv.router.engines[i] = &workers[i]->e;
    }
    for (unsigned i = 0; i < nworkers; i++)
        if (ts_worker_init(workers[i], &srv, &srv.router, i) != 0) ts_panic("cannot initialise worker %u", i);
    for (unsigned i = 0; i < nworkers; i++) ts_engine_set_acl(&workers[i]->e, acl, 0);
    ts_acl_unref(acl);   /* the engines hold it now */
    g_main.workers = workers;
    uv_async_init(g_main.loop, &g_main.shutdown_async, on_shutdown_async);
    uv_timer_init(g_main.loop, &g_main.exit_wait);

    if (load_data(&srv) != 0) {
        /* What was loaded before the error is dropped, not leaked: the
         * workers never started, so their shards are still ours. Their
         * loops hold live handles, so the process exits from here. */
        for (unsigned i = 0; i < nworkers; i++) ts_shard_free(&srv.router.engines[i]->shard);
        exit(1);
    }
    /* After loading: the AOF file (opened by load_data) is the thread's
     * from here on. */
    ts_persist_start(srv.persist, &srv.router);

    g_main.srv = &srv;
    /* Signals first: a client that can connect can also see us stopped
     * cleanly by SIGTERM. */
    uv_signal_init(g_main.loop, &g_main.sigterm);
    uv_signal_init(g_main.loop, &g_main.sigint);
    uv_signal_start(&g_main.sigterm, on_signal, SIGTERM);
    uv_signal_start(&g_main.sigint, on_signal, SIGINT);
    g_main.acc = ts_acceptor_start(&srv, g_main.loop);
    if (!g_main.acc) return 1;

    ts_lazyfree_start();
    for (unsigned i = 0; i < nworkers; i++)
        if (ts_worker_start(workers[i]) != 0) ts_panic("cannot start worker thread %u", i);
    if (srv.config.appendonly) {
        if (ts_aof_startup_replay(&g_aof_env, &g_aof_startup) != 0) exit(1);
        /* Changes replayed are not changes since the last save. */
        ts_persist_note_saved(srv.persist, ts_router_dirty(&srv.router));
    }

    if (srv.config.pidfile && srv.config.pidfile[0]) {
        FILE *pf = fopen(srv.config.pidfile, "w");
        if (pf) { fprintf(pf, "%d\n", (int)getpid()); fclose(pf); }
        else ts_log(TS_LOG_WARNING, "Failed to write PID file: %s", strerror(errno));
    }


    ts_log(TS_LOG_NOTICE, "monotonic clock: %s", ts_clock_name());
    ts_log(TS_LOG_NOTICE, "Server initialized with %u worker threads (shards)", nworkers);
    ts_log(TS_LOG_NOTICE, "Ready to accept connections tcp");

    uv_run(g_main.loop, UV_RUN_DEFAULT);

    for (unsigned i = 0; i < nworkers; i++) ts_worker_join(workers[i]);
    ts_lazyfree_stop();
    ts_persist_stop(srv.persist);
    for (unsigned i = 0; i < nworkers; i++) {
        ts_worker_destroy(workers[i]);
        free(workers[i]);
    }
    free(workers);
    free(srv.router.engines);
    ts_acceptor_free(g_main.acc);
    uv_loop_close(g_main.loop);
    if (srv.config.pidfile && srv.config.pidfile[0]) {
        ts_log(TS_LOG_NOTICE, "Removing the pid file.");
        unlink(srv.config.pidfile);
    }
    ts_log(TS_LOG_WARNING, "Tessera is now ready to exit, bye bye...");
    ts_persist_free(srv.persist);
    ts_config_free(&srv.config);
    free((void *)srv.config_file);
    return 0;
}
