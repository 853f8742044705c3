/*
 * config.h - the server configuration: redis.conf syntax, one option table.
 *
 * Owns: struct ts_config (the option values) and the single declarative
 * table in src/config/config.c that describes every option (name, alias,
 * type, field, default, bounds or names, mutable at runtime or not). The
 * config file, the command line, CONFIG GET, CONFIG SET and the rewrite to
 * text all go through that table, so an option is described exactly once and
 * the five paths cannot disagree. Defaults are written in the table as
 * directive text and parsed by the same parser as the file.
 *
 * Thread: a ts_config is plain data owned by one thread. The main thread
 * owns the master copy; each worker owns a deep copy (ts_config_copy) that it
 * reads on hot paths without atomics. Call every function on a copy from the
 * thread that owns that copy only.
 *
 * Shape: errors are returned as text because they go verbatim to users: the
 * loaders produce Redis's FATAL CONFIG FILE ERROR report, CONFIG SET produces
 * Redis 7.0's exact error reply (without the leading '-').
 *
 * The one process-wide side effect is `dir`, which chdir()s. A relative dir
 * is resolved against the copy's own `dir` field (the absolute directory the
 * copy last changed to), not against the process's current directory, so
 * applying the same CONFIG SET to every worker's copy, even concurrently,
 * sends the process to the same absolute directory each time.
 */
#ifndef TESSERA_CONFIG_H
#define TESSERA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "tessera/util/common.h"

#define TS_CONFIG_MAX_BIND 16       /* like Redis's CONFIG_BINDADDR_MAX */
#define TS_CONFIG_MAX_THREADS 256   /* upper bound of `threads` */

/* enable-protected-configs, enable-debug-command, enable-module-command:
 * Redis's PROTECTED_ACTION_ALLOWED_* (local: from 127.0.0.1, ::1 or a unix
 * socket only). */
enum { TS_ALLOWED_NO, TS_ALLOWED_YES, TS_ALLOWED_LOCAL };

/* appendfsync values, in the order of config.c's names. */
enum { TS_AOF_FSYNC_NO, TS_AOF_FSYNC_ALWAYS, TS_AOF_FSYNC_EVERYSEC };

/* SHUTDOWN's modifiers, with Redis's values: the flags SHUTDOWN takes and
 * the values of shutdown-on-sigint / shutdown-on-sigterm (0 = "default"). */
enum { TS_SHUTDOWN_SAVE = 1, TS_SHUTDOWN_NOSAVE = 2, TS_SHUTDOWN_NOW = 4, TS_SHUTDOWN_FORCE = 8 };

/* client-output-buffer-limit of one client class (Redis's classes, in its
 * order: normal, replica, pubsub). 0 = no limit; a client whose pending
 * replies reach `hard` bytes, or stay at or above `soft` bytes for more
 * than soft_seconds, is disconnected. */
enum { TS_OBUF_NORMAL, TS_OBUF_REPLICA, TS_OBUF_PUBSUB, TS_OBUF_CLASSES };
typedef struct ts_obuf_limit {
    unsigned long long hard, soft;
    long long soft_seconds;
} ts_obuf_limit;

/* A `user` directive: argv[0] is the user name, the rest its ACL rules. */
typedef struct ts_config_user {
    int argc;
    char **argv;
} ts_config_user;

typedef struct ts_config {
    /* Network (all immutable at runtime). */
    int port;                       /* 0..65535; 0 = no TCP listener */
    char **bind;                    /* nbind addresses; "-addr" = ok if unavailable */
    int nbind;                      /* 0..TS_CONFIG_MAX_BIND */
    char *unixsocket;               /* "" = none; never NULL */
    int unixsocketperm;             /* mode bits, e.g. 0700; 0 = leave as created */
    int tcp_backlog;
    /* Clients. */
    int tcp_keepalive;              /* seconds, 0 = off */
    int timeout;                    /* idle seconds, 0 = never */
    long long busy_reply_threshold; /* ms a script runs before others get BUSY (0: never) */
    int maxclients;                 /* Redis's bounds 1..4294967295, stored clamped to INT_MAX */
    long long client_query_buffer_limit;   /* bytes */
    ts_obuf_limit client_obuf[TS_OBUF_CLASSES];   /* client-output-buffer-limit */
    /* Security (docs/security.md). */
    char *requirepass;              /* the default user's password; "" = none (nopass); never NULL */
    bool protected_mode;            /* while the default user has no password: loopback clients only */
    int enable_protected_configs;   /* TS_ALLOWED_*: CONFIG SET dir / dbfilename */
    int enable_debug_command;       /* TS_ALLOWED_*: DEBUG */
    int enable_module_command;      /* TS_ALLOWED_*: MODULE (no modules: kept for redis.conf files) */
    long long proto_max_bulk_len;           /* bytes */
    /* ACL (route/acl.h). */
    char *aclfile;                  /* "" = none; never NULL; immutable */
    long long acllog_max_len;       /* ACL LOG entries kept */
    int acl_pubsub_default;         /* TS_ACL_PUBSUB_*: new selectors' channels */
    ts_config_user *acl_users;      /* `user` directives in order (startup only) */
    int nacl_users;
    /* Server. */
    int databases;
    int threads;                    /* worker threads = shards; 0 = one per CPU */
    bool worker_sched_batch;        /* workers run under SCHED_BATCH (worker.c) */
    bool jemalloc_bg_thread;        /* jemalloc purges idle arenas in the background (alloc.c) */
    int hz;                         /* stored clamped to 1..500 like Redis */
    char *logfile;                  /* "" = standard output; never NULL */
    int loglevel;                   /* TS_LOG_DEBUG..TS_LOG_WARNING of log.h */
    char *pidfile;                  /* "" = none; never NULL */
    char *dir;                      /* absolute working directory; never NULL */
    bool daemonize;
    /* Persistence. */
    char *save;                     /* "" or "<seconds> <changes> ..." (normalised); never NULL */
    char *dbfilename;               /* never NULL */
    bool rdbcompression;            /* LZF for strings in snapshots and DUMP payloads */
    bool rdbchecksum;               /* CRC-64 trailer of RDB files (DUMP payloads always have one) */
    long long maxmemory_clients;    /* bytes of all clients' buffers before the biggest are evicted (0: off; -n: n% of maxmemory) */
    bool stop_writes_on_bgsave_error;   /* MISCONF for writes after a failed save (with `save` rules) */
    bool appendonly;                /* the AOF (aof.h) */
    char *appendfilename;           /* never NULL */
    int appendfsync;                /* TS_AOF_FSYNC_* */
    bool aof_load_truncated;
    bool aof_use_rdb_preamble;   /* rewrites start with an RDB snapshot (else commands) */
    int auto_aof_rewrite_percentage;         /* 0: no automatic BGREWRITEAOF */
    long long auto_aof_rewrite_min_size;     /* bytes */        /* a torn tail is cut off at startup instead of stopping it */
    /* Shutdown (cmd/shutdown.c). */
    int shutdown_timeout;           /* seconds to wait for replicas (none: accepted, unused) */
    int shutdown_on_sigint;         /* TS_SHUTDOWN_* flags SIGINT shuts down with; 0 = default */
    int shutdown_on_sigterm;        /* ... SIGTERM */
    /* Data types: compact-encoding thresholds (Redis's names and defaults). */
    long long hash_max_listpack_entries;
    long long hash_max_listpack_value;
    int list_max_listpack_size;     /* > 0: entries per node; -1..-5: 4/8/16/32/64 KB per node */
    int list_compress_depth;        /* plain nodes at each end of a list; 0: no compression */
    long long set_max_intset_entries;
    long long zset_max_listpack_entries;
    long long zset_max_listpack_value;
    long long stream_node_max_bytes;     /* a stream node's listpack size limit; 0 = none */
    long long stream_node_max_entries;   /* entries (live + deleted) per stream node; 0 = none */
} ts_config;

/* Sets every option to its default; dir becomes the current directory. */
void ts_config_init_defaults(ts_config *c);
void ts_config_free(ts_config *c);
/* Deep copy; dst must not hold a live config (free it first). */
void ts_config_copy(ts_config *dst, const ts_config *src);

/* Loads a file ("-" reads standard input). Directives apply in order; a
 * later one overrides an earlier one. On error returns -1 with a report in
 * err like:
 *   *** FATAL CONFIG FILE ERROR (Tessera 0.1.0) ***
 *   Reading the configuration file '/etc/tessera.conf', at line 2
 *   >>> 'port abc'
 *   argument couldn't be parsed into an integer
 * and c keeps the directives before the failing line (callers exit). */
int ts_config_load_file(ts_config *c, const char *path, char *err, size_t errlen);
/* The same parser on a string; origin names it in the report ("Reading the
 * configuration from <origin>, at line N"; NULL gives Redis's own line). */
int ts_config_load_string(ts_config *c, const char *text, const char *origin, char *err, size_t errlen);

/* Turns argv into directive text the way redis-server does:
 *   [conffile] [--name [value ...]] ...
 * argv[1] is the config file when it does not start with '-' (or is "-",
 * standard input); each "--name" starts a directive and the arguments after
 * it are its values (quoted, so any byte survives; the first argument after
 * a name is always a value, even if it starts with "--"). Returns malloc'd
 * text ("" when there are no options) and sets *conffile to argv[1] or NULL.
 * Returns NULL on bad usage: a value before any "--name" (such as a second
 * config file). Unlike redis-server, a "-" after the options is an ordinary
 * value, not "also read standard input". */
char *ts_config_args_to_text(int argc, char **argv, const char **conffile);

/* CONFIG GET pattern [pattern ...]. A pattern without glob characters
 * ("*?[") is an exact, case-insensitive name and is answered under the name
 * as the user typed it; a glob pattern is matched case-insensitively
 * against every name and alias. Like Redis 7.0, each name (compared
 * case-insensitively) is emitted at most once, and an option's alias counts
 * as its own name. Order: patterns in the order given, and within a glob
 * pattern the table's order (Redis 7.0 uses its hash table's order, which is
 * seeded randomly per process, so no client can rely on any order). */
void ts_config_get(const ts_config *c, const ts_arg *patterns, int npatterns,
                   void (*emit)(void *ctx, const char *name, const char *value), void *ctx);

/* CONFIG SET name value [name value ...] with argv = the arguments after
 * SET. Checks names (unknown, immutable, protected unless allow_protected:
 * enable-protected-configs for this client, duplicate) first, then parses every
 * value, then applies all of them or none (a `dir` that was already changed
 * is changed back). Returns 0, or -1 with Redis's error text in err, e.g.
 * "ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config". */
int ts_config_set(ts_config *c, const ts_arg *argv, int argc, bool allow_protected, char *err, size_t errlen);

/* The text CONFIG GET shows for one option (exact name or alias, any case):
 * malloc'd, or NULL when there is no such option. */
char *ts_config_value(const ts_config *c, const char *name);
/* Every option as a directive line, in table order, quoted where needed so
 * that loading the text gives back the same configuration (CONFIG REWRITE,
 * the embedded default config). Malloc'd. */
char *ts_config_to_text(const ts_config *c);

/* "debug", "verbose", "notice", "warning"; "unknown" outside the range. */
const char *ts_config_loglevel_name(int level);

#endif
