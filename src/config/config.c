/*
 * config.c - the option table and everything driven by it (see config.h).
 *
 * Owns: the option table `opts`, the redis.conf tokenizer, the value
 * parsers and formatters, and the Redis-compatible error texts.
 * Thread: functions work on the ts_config they are given and on no other
 * state, so each thread may call them on the copy it owns; the only
 * process-wide effect is chdir() for `dir` (see config.h).
 *
 * Every path goes through the same three steps per option:
 *   opt_parse   text arguments -> staged value (validation happens here;
 *               for `dir` this is also where the chdir() happens),
 *   opt_store   staged value -> ts_config field (cannot fail),
 *   opt_format  ts_config field -> the text CONFIG GET shows.
 * The file and the command line parse and store line by line; CONFIG SET
 * parses every value before storing any, which is what makes it
 * all-or-nothing. Defaults are directive text in the table, parsed by
 * opt_parse like any file line, so the built-in defaults and the shipped
 * conf/tessera.conf are checked by the same code.
 */
#include "tessera/config/config.h"
#include "tessera/util/strconv.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tessera/util/buf.h"
#include "tessera/util/glob.h"
#include "tessera/util/log.h"
#include "tessera/util/version.h"

/* ------------------------------------------------------------------------ */
/* The option table                                                          */

typedef enum opt_type {
    T_BOOL,     /* bool field; yes / no */
    T_INT,      /* int field; decimal integer within [min, max] */
    T_LONG,     /* long long field; decimal integer within [min, max] (Redis's size_t/long configs) */
    T_MEMORY,   /* long long field; bytes with an optional unit (1k 1kb 1m 1mb 1g 1gb) */
    T_MEMPCT,   /* long long field; T_MEMORY, or "<n>%" (0..100) of maxmemory stored as -n */
    T_OCTAL,    /* int field; octal number within [min, max] */
    T_ENUM,     /* int field; index into names */
    T_STRING,   /* char * field; any text */
    T_BIND,     /* bind / nbind; zero to TS_CONFIG_MAX_BIND addresses */
    T_DIR,      /* char * field; chdir()s */
    T_SAVE,     /* char * field; `save` rules: "" or "<seconds> <changes> ...", normalised */
    T_OBUF,     /* ts_obuf_limit[TS_OBUF_CLASSES] field; "<class> <hard> <soft> <seconds> ..." */
    T_SHUTDOWN, /* int field; TS_SHUTDOWN_* flags named by words (shutdown-on-sigint/-sigterm) */
} opt_type;

typedef struct opt_def {
    const char *name;
    const char *alias;          /* a second name, or NULL */
    opt_type type;
    bool runtime;               /* CONFIG SET may change it */
    bool protect;               /* a protected config: CONFIG SET only when enable-protected-configs allows it */
    bool plain_file;            /* T_STRING: a file name, never a path ("dbfilename can't be a path") */
    size_t off;                 /* offset of the field in ts_config */
    long long min, max;         /* accepted range; the error text shows it */
    long long lo, hi;           /* when hi != 0, the stored value is clamped into [lo, hi] */
    const char *const *names;   /* T_ENUM: NULL-terminated, index = stored value */
    const char *def;            /* the default, as the arguments of a directive */
} opt_def;

static const char *const appendfsync_names[] = {"no", "always", "everysec", NULL};   /* TS_AOF_FSYNC_* */
static const char *const loglevel_names[] = {"debug", "verbose", "notice", "warning", NULL};
static const char *const allowed_names[] = {"no", "yes", "local", NULL};   /* TS_ALLOWED_* */
static const char *const pubsub_default_names[] = {"resetchannels", "allchannels", NULL};   /* route/acl.h */
_Static_assert(TS_LOG_DEBUG == 0 && TS_LOG_VERBOSE == 1 && TS_LOG_NOTICE == 2 && TS_LOG_WARNING == 3,
               "loglevel_names is indexed by the TS_LOG_* values");

#define FIELD(f) offsetof(ts_config, f)

/* In the order of conf/tessera.conf; ts_config_to_text and glob matches in
 * CONFIG GET follow it. Names, defaults and bounds are Redis 7.0's except
 * for `threads` and `worker-sched-batch`, which are Tessera's own. */
static const opt_def opts[] = {
    {.name = "bind", .type = T_BIND, .def = "127.0.0.1 -::1"},
    {.name = "port", .type = T_INT, .off = FIELD(port), .min = 0, .max = 65535, .def = "6379"},
    {.name = "tcp-backlog", .type = T_INT, .off = FIELD(tcp_backlog), .min = 0, .max = INT_MAX, .def = "511"},
    {.name = "unixsocket", .type = T_STRING, .off = FIELD(unixsocket), .def = "\"\""},
    {.name = "unixsocketperm", .type = T_OCTAL, .off = FIELD(unixsocketperm), .min = 0, .max = 0777, .def = "0"},
    {.name = "timeout", .type = T_INT, .runtime = true, .off = FIELD(timeout), .min = 0, .max = INT_MAX,
     .def = "0"},
    {.name = "busy-reply-threshold", .alias = "lua-time-limit", .type = T_LONG, .runtime = true,
     .off = FIELD(busy_reply_threshold), .min = 0, .max = LLONG_MAX, .def = "5000"},
    {.name = "tcp-keepalive", .type = T_INT, .runtime = true, .off = FIELD(tcp_keepalive), .min = 0,
     .max = INT_MAX, .def = "300"},
    {.name = "daemonize", .type = T_BOOL, .off = FIELD(daemonize), .def = "no"},
    {.name = "pidfile", .type = T_STRING, .off = FIELD(pidfile), .def = "\"\""},
    {.name = "loglevel", .type = T_ENUM, .runtime = true, .off = FIELD(loglevel), .names = loglevel_names,
     .def = "notice"},
    {.name = "logfile", .type = T_STRING, .off = FIELD(logfile), .def = "\"\""},
    {.name = "databases", .type = T_INT, .off = FIELD(databases), .min = 1, .max = INT_MAX, .def = "16"},
    {.name = "threads", .alias = "shards", .type = T_INT, .off = FIELD(threads), .min = 0,
     .max = TS_CONFIG_MAX_THREADS, .def = "0"},
    {.name = "worker-sched-batch", .type = T_BOOL, .runtime = true, .off = FIELD(worker_sched_batch), .def = "yes"},
    {.name = "jemalloc-bg-thread", .type = T_BOOL, .runtime = true, .off = FIELD(jemalloc_bg_thread), .def = "yes"},
    {.name = "hz", .type = T_INT, .runtime = true, .off = FIELD(hz), .min = 0, .max = INT_MAX, .lo = 1,
     .hi = 500, .def = "10"},
    {.name = "dir", .type = T_DIR, .runtime = true, .protect = true, .off = FIELD(dir), .def = NULL},
    /* Persistence (RDB snapshots). */
    {.name = "save", .type = T_SAVE, .runtime = true, .off = FIELD(save), .def = "\"3600 1 300 100 60 10000\""},
    {.name = "dbfilename", .type = T_STRING, .runtime = true, .protect = true, .plain_file = true,
     .off = FIELD(dbfilename), .def = "dump.rdb"},
    {.name = "rdbcompression", .type = T_BOOL, .runtime = true, .off = FIELD(rdbcompression), .def = "yes"},
    {.name = "rdbchecksum", .type = T_BOOL, .off = FIELD(rdbchecksum), .def = "yes"},
    {.name = "stop-writes-on-bgsave-error", .type = T_BOOL, .runtime = true, .off = FIELD(stop_writes_on_bgsave_error),
     .def = "yes"},
    /* Persistence (the AOF). */
    {.name = "appendonly", .type = T_BOOL, .runtime = true, .off = FIELD(appendonly), .def = "no"},
    {.name = "appendfilename", .type = T_STRING, .plain_file = true, .off = FIELD(appendfilename),
     .def = "appendonly.aof"},
    {.name = "appendfsync", .type = T_ENUM, .runtime = true, .off = FIELD(appendfsync), .names = appendfsync_names,
     .def = "everysec"},
    {.name = "auto-aof-rewrite-percentage", .type = T_INT, .runtime = true, .off = FIELD(auto_aof_rewrite_percentage),
     .min = 0, .max = INT_MAX, .def = "100"},
    {.name = "auto-aof-rewrite-min-size", .type = T_MEMORY, .runtime = true, .off = FIELD(auto_aof_rewrite_min_size),
     .min = 0, .max = LLONG_MAX, .def = "64mb"},
    {.name = "aof-load-truncated", .type = T_BOOL, .runtime = true, .off = FIELD(aof_load_truncated), .def = "yes"},
    {.name = "aof-use-rdb-preamble", .type = T_BOOL, .runtime = true, .off = FIELD(aof_use_rdb_preamble), .def = "yes"},
    /* Shutdown (docs/persistence.md, "Shutdown"). */
    {.name = "shutdown-timeout", .type = T_INT, .runtime = true, .off = FIELD(shutdown_timeout), .min = 0,
     .max = INT_MAX, .def = "10"},
    {.name = "shutdown-on-sigint", .type = T_SHUTDOWN, .runtime = true, .off = FIELD(shutdown_on_sigint),
     .def = "default"},
    {.name = "shutdown-on-sigterm", .type = T_SHUTDOWN, .runtime = true, .off = FIELD(shutdown_on_sigterm),
     .def = "default"},
    /* Security (docs/security.md). */
    {.name = "requirepass", .type = T_STRING, .runtime = true, .off = FIELD(requirepass), .def = "\"\""},
    {.name = "protected-mode", .type = T_BOOL, .runtime = true, .off = FIELD(protected_mode), .def = "yes"},
    {.name = "enable-protected-configs", .type = T_ENUM, .off = FIELD(enable_protected_configs),
     .names = allowed_names, .def = "no"},
    {.name = "enable-debug-command", .type = T_ENUM, .off = FIELD(enable_debug_command), .names = allowed_names,
     .def = "no"},
    {.name = "enable-module-command", .type = T_ENUM, .off = FIELD(enable_module_command), .names = allowed_names,
     .def = "no"},
    {.name = "aclfile", .type = T_STRING, .off = FIELD(aclfile), .def = "\"\""},
    {.name = "acllog-max-len", .type = T_LONG, .runtime = true, .off = FIELD(acllog_max_len), .min = 0,
     .max = LONG_MAX, .def = "128"},
    {.name = "acl-pubsub-default", .type = T_ENUM, .runtime = true, .off = FIELD(acl_pubsub_default),
     .names = pubsub_default_names, .def = "resetchannels"},
    {.name = "client-output-buffer-limit", .type = T_OBUF, .runtime = true, .off = FIELD(client_obuf),
     .def = "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60"},
    {.name = "maxclients", .type = T_INT, .runtime = true, .off = FIELD(maxclients), .min = 1,
     .max = UINT_MAX, .lo = 1, .hi = INT_MAX, .def = "10000"},
    {.name = "maxmemory-clients", .type = T_MEMPCT, .runtime = true, .off = FIELD(maxmemory_clients), .def = "0",
     .min = -100, .max = LLONG_MAX},
    {.name = "client-query-buffer-limit", .type = T_MEMORY, .runtime = true,
     .off = FIELD(client_query_buffer_limit), .min = 1024 * 1024, .max = LLONG_MAX, .def = "1gb"},
    {.name = "proto-max-bulk-len", .type = T_MEMORY, .runtime = true, .off = FIELD(proto_max_bulk_len),
     .min = 1024 * 1024, .max = LLONG_MAX, .def = "512mb"},
    /* Data types: when a collection leaves its compact encoding. */
    {.name = "hash-max-listpack-entries", .alias = "hash-max-ziplist-entries", .type = T_LONG, .runtime = true,
     .off = FIELD(hash_max_listpack_entries), .min = 0, .max = LONG_MAX, .def = "512"},
    {.name = "hash-max-listpack-value", .alias = "hash-max-ziplist-value", .type = T_LONG, .runtime = true,
     .off = FIELD(hash_max_listpack_value), .min = 0, .max = LONG_MAX, .def = "64"},
    {.name = "list-max-listpack-size", .alias = "list-max-ziplist-size", .type = T_INT, .runtime = true,
     .off = FIELD(list_max_listpack_size), .min = INT_MIN, .max = INT_MAX, .def = "-2"},
    {.name = "list-compress-depth", .type = T_INT, .runtime = true, .off = FIELD(list_compress_depth), .min = 0,
     .max = INT_MAX, .def = "0"},
    {.name = "set-max-intset-entries", .type = T_LONG, .runtime = true, .off = FIELD(set_max_intset_entries),
     .min = 0, .max = LONG_MAX, .def = "512"},
    {.name = "zset-max-listpack-entries", .alias = "zset-max-ziplist-entries", .type = T_LONG, .runtime = true,
     .off = FIELD(zset_max_listpack_entries), .min = 0, .max = LONG_MAX, .def = "128"},
    {.name = "zset-max-listpack-value", .alias = "zset-max-ziplist-value", .type = T_LONG, .runtime = true,
     .off = FIELD(zset_max_listpack_value), .min = 0, .max = LONG_MAX, .def = "64"},
    {.name = "stream-node-max-bytes", .type = T_MEMORY, .runtime = true, .off = FIELD(stream_node_max_bytes),
     .min = 0, .max = LONG_MAX, .def = "4096"},
    {.name = "stream-node-max-entries", .type = T_LONG, .runtime = true, .off = FIELD(stream_node_max_entries),
     .min = 0, .max = LONG_MAX, .def = "100"},
};

#define NOPTS ((int)TS_ARRAY_LEN(opts))

/* Field access by the table's offsets: each offset names a field of exactly
 * the type the accessor uses. */
static int *field_int(ts_config *c, const opt_def *o) { return (int *)(void *)((char *)c + o->off); }
static bool *field_bool(ts_config *c, const opt_def *o) { return (bool *)(void *)((char *)c + o->off); }
static long long *field_ll(ts_config *c, const opt_def *o) { return (long long *)(void *)((char *)c + o->off); }
static char **field_str(ts_config *c, const opt_def *o) { return (char **)(void *)((char *)c + o->off); }
static const int *cfield_int(const ts_config *c, const opt_def *o)
{
    return (const int *)(const void *)((const char *)c + o->off);
}
static const bool *cfield_bool(const ts_config *c, const opt_def *o)
{
    return (const bool *)(const void *)((const char *)c + o->off);
}
static const long long *cfield_ll(const ts_config *c, const opt_def *o)
{
    return (const long long *)(const void *)((const char *)c + o->off);
}
static char *const *cfield_str(const ts_config *c, const opt_def *o)
{
    return (char *const *)(const void *)((const char *)c + o->off);
}

/* ------------------------------------------------------------------------ */
/* Small text helpers (ASCII only, independent of the C locale)              */

static int lower(int ch) { return (ch >= 'A' && ch <= 'Z') ? ch + ('a' - 'A') : ch; }

static bool eq_nocase(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen) return false;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return false;
    return true;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Skips empty strings: ts_buf_append would memcpy into a NULL buffer. */
static void put_str(ts_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (n) ts_buf_append(b, s, n);
}

/* Appends s in double quotes with the escapes the tokenizer reads back. */
static void put_quoted(ts_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    ts_buf_putc(b, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '\\': put_str(b, "\\\\"); break;
        case '"': put_str(b, "\\\""); break;
        case '\n': put_str(b, "\\n"); break;
        case '\r': put_str(b, "\\r"); break;
        case '\t': put_str(b, "\\t"); break;
        case '\a': put_str(b, "\\a"); break;
        case '\b': put_str(b, "\\b"); break;
        default:
            if (ch >= 0x20 && ch < 0x7f) {
                ts_buf_putc(b, (char)ch);
            } else {
                char esc[4] = {'\\', 'x', hex[ch >> 4], hex[ch & 15]};
                ts_buf_append(b, esc, 4);
            }
        }
    }
    ts_buf_putc(b, '"');
}

/* Appends s bare when the tokenizer would read it back unchanged, quoted
 * otherwise. */
static void put_word(ts_buf *b, const char *s)
{
    size_t len = strlen(s);
    bool bare = len > 0;
    for (size_t i = 0; i < len && bare; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\'' || ch == '\\') bare = false;
    }
    if (bare) ts_buf_append(b, s, len);
    else put_quoted(b, s, len);
}

static char *buf_to_cstr(ts_buf *b)
{
    ts_buf_putc(b, '\0');
    return b->data;
}

/* Formats an error into err (which may be NULL or empty). */
static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Turns CR and LF into spaces so that an error echoing user input can go
 * into a RESP error line as is (Redis does the same). */
static void strip_newlines(char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n') *s = ' ';
}

/* ------------------------------------------------------------------------ */
/* The tokenizer: one line of redis.conf into arguments                      */

typedef struct arg_vec {
    char **v;
    int n, cap;
} arg_vec;

static void vec_push(arg_vec *a, char *s)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 8;
        a->v = ts_realloc(a->v, (size_t)a->cap * sizeof(char *));
    }
    a->v[a->n++] = s;
}

static void vec_free(arg_vec *a)
{
    for (int i = 0; i < a->n; i++) free(a->v[i]);
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

/* Splits [p, p+len) like Redis: arguments are separated by blanks; "..."
 * understands \xHH, \n \r \t \b \a and \<any>; '...' understands \'; a
 * quote may open in the middle of an argument, but a closing quote must be
 * followed by a blank or the end. Returns 0, or -1 on unbalanced quotes (the
 * arguments read so far stay in out). */
static int split_args(const char *p, size_t len, arg_vec *out)
{
    const char *end = p + len;
    ts_buf tok;
    for (;;) {
        while (p < end && is_space(*p)) p++;
        if (p == end) return 0;
        ts_buf_init(&tok);
        bool in_dq = false, in_sq = false, done = false;
        while (!done) {
            if (in_dq) {
                if (p == end) goto unbalanced;
                if (p[0] == '\\' && end - p >= 4 && p[1] == 'x' && hex_value(p[2]) >= 0 && hex_value(p[3]) >= 0) {
                    ts_buf_putc(&tok, (char)(hex_value(p[2]) * 16 + hex_value(p[3])));
                    p += 3;
                } else if (p[0] == '\\' && end - p >= 2) {
                    char ch = p[1];
                    switch (ch) {
                    case 'n': ch = '\n'; break;
                    case 'r': ch = '\r'; break;
                    case 't': ch = '\t'; break;
                    case 'b': ch = '\b'; break;
                    case 'a': ch = '\a'; break;
                    default: break;
                    }
                    ts_buf_putc(&tok, ch);
                    p++;
                } else if (p[0] == '"') {
                    if (end - p >= 2 && !is_space(p[1])) goto unbalanced;
                    done = true;
                } else {
                    ts_buf_putc(&tok, p[0]);
                }
            } else if (in_sq) {
                if (p == end) goto unbalanced;
                if (p[0] == '\\' && end - p >= 2 && p[1] == '\'') {
                    ts_buf_putc(&tok, '\'');
                    p++;
                } else if (p[0] == '\'') {
                    if (end - p >= 2 && !is_space(p[1])) goto unbalanced;
                    done = true;
                } else {
                    ts_buf_putc(&tok, p[0]);
                }
            } else if (p == end || *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\0') {
                done = true;
            } else if (*p == '"') {
                in_dq = true;
            } else if (*p == '\'') {
                in_sq = true;
            } else {
                ts_buf_putc(&tok, *p);
            }
            if (p < end) p++;
        }
        vec_push(out, buf_to_cstr(&tok));
    }
unbalanced:
    ts_buf_free(&tok);
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Values: parse, store, format                                              */

typedef struct opt_val {
    long long num;      /* T_BOOL, T_INT, T_MEMORY, T_OCTAL, T_ENUM */
    char *str;          /* T_STRING, T_DIR (owned) */
    char **list;        /* T_BIND (owned) */
    int nlist;
} opt_val;

static void val_free(opt_val *v)
{
    free(v->str);
    for (int i = 0; i < v->nlist; i++) free(v->list[i]);
    free(v->list);
    memset(v, 0, sizeof(*v));
}

/* A decimal integer with Redis's strictness (strconv.h). */
static bool parse_ll(const char *s, long long *out) { return ts_str_to_ll(s, strlen(s), out); }

/* Digits and an optional unit: b, k (1000), kb (1024), m, mb, g, gb, any
 * case. No digits reads as 0 (so "" and "k" are 0, as in Redis). Returns 0,
 * -1 when it is not a memory value, 1 when it overflows. */
static int parse_memory(const char *s, unsigned long long *out)
{
    static const struct { const char *unit; unsigned long long mul; } units[] = {
        {"", 1}, {"b", 1}, {"k", 1000}, {"kb", 1024}, {"m", 1000 * 1000}, {"mb", 1024 * 1024},
        {"g", 1000ULL * 1000 * 1000}, {"gb", 1024ULL * 1024 * 1024},
    };
    size_t nd = 0;
    while (s[nd] >= '0' && s[nd] <= '9') nd++;
    const char *unit = s + nd;
    unsigned long long mul = 0;
    for (size_t i = 0; i < TS_ARRAY_LEN(units); i++)
        if (eq_nocase(unit, strlen(unit), units[i].unit)) mul = units[i].mul;
    if (mul == 0 || nd >= 128) return -1;
    unsigned long long v = 0;
    for (size_t i = 0; i < nd; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) return 1;
        v = v * 10 + d;
    }
    if (v > ULLONG_MAX / mul) return 1;
    *out = v * mul;
    return 0;
}

/* An octal number as strtoll(s, 8) reads it: leading blanks and a sign are
 * allowed, and "" is 0 (Redis's behaviour). */
static bool parse_octal(const char *s, long long *out)
{
    char *endp;
    errno = 0;
    long long v = strtoll(s, &endp, 8);
    if (errno != 0 || *endp != '\0') return false;
    *out = v;
    return true;
}

static void range_error(const opt_def *o, char *why, size_t whylen)
{
    if (o->type == T_OCTAL)
        snprintf(why, whylen, "argument must be between %llo and %llo inclusive", (unsigned long long)o->min,
                 (unsigned long long)o->max);
    else
        snprintf(why, whylen, "argument must be between %lld and %lld inclusive", o->min, o->max);
}

/* Where a relative `dir` leads from the copy's own directory. Malloc'd. */
static char *resolve_dir(const ts_config *c, const char *path)
{
    if (path[0] == '/' || path[0] == '\0' || !c->dir || !c->dir[0]) return ts_strndup(path, strlen(path));
    ts_buf b;
    ts_buf_init(&b);
    put_str(&b, c->dir);
    if (b.len == 0 || b.data[b.len - 1] != '/') ts_buf_putc(&b, '/');
    put_str(&b, path);
    return buf_to_cstr(&b);
}

/* `save` rules, given as directive words ("save 900 1 300 10") or as one
 * word holding them all (CONFIG SET save "900 1 300 10"): pairs of
 * non-negative integers, or "" for none. Stored normalised. */
static int parse_save(char **args, int n, opt_val *v, char *why, size_t whylen)
{
    ts_buf b;
    ts_buf_init(&b);
    int words = 0;
    for (int i = 0; i < n; i++) {
        const char *p = args[i];
        while (*p) {
            while (*p == ' ') p++;
            if (!*p) break;
            const char *q = p;
            while (*q && *q != ' ') q++;
            long long x;
            char tmp[32];
            size_t len = (size_t)(q - p);
            if (len >= sizeof tmp) len = sizeof tmp - 1;
            memcpy(tmp, p, len);
            tmp[len] = '\0';
            if (!parse_ll(tmp, &x) || x < 0) {
                ts_buf_free(&b);
                snprintf(why, whylen, "Invalid save parameters");
                return -1;
            }
            if (words++) ts_buf_putc(&b, ' ');
            put_str(&b, tmp);
            p = q;
        }
    }
    if (words % 2) {
        ts_buf_free(&b);
        snprintf(why, whylen, "Invalid save parameters");
        return -1;
    }
    v->str = buf_to_cstr(&b);
    return 0;
}

static ts_obuf_limit *field_obuf(ts_config *c, const opt_def *o)
{
    return (ts_obuf_limit *)(void *)((char *)c + o->off);
}
static const ts_obuf_limit *cfield_obuf(const ts_config *c, const opt_def *o)
{
    return (const ts_obuf_limit *)(const void *)((const char *)c + o->off);
}

static const char *const obuf_class_names[TS_OBUF_CLASSES] = {"normal", "slave", "pubsub"};

static void format_obuf(const ts_obuf_limit *l, ts_buf *b)
{
    char tmp[128];
    for (int i = 0; i < TS_OBUF_CLASSES; i++) {
        snprintf(tmp, sizeof(tmp), "%s%s %llu %llu %lld", i ? " " : "", obuf_class_names[i],
                 (unsigned long long)l[i].hard, (unsigned long long)l[i].soft, (long long)l[i].soft_seconds);
        put_str(b, tmp);
    }
}

/* client-output-buffer-limit: groups of <class> <hard> <soft> <seconds>
 * (the words may come as several arguments or in one, as CONFIG SET gives
 * them); the classes named change, the others keep their values (Redis's
 * updateClientOutputBufferLimit). The result, every class, goes to v->str. */
static int parse_obuf(const ts_config *c, const opt_def *o, char **args, int n, opt_val *v, char *why,
                      size_t whylen)
{
    arg_vec words = {0};
    for (int i = 0; i < n; i++) {
        if (split_args(args[i], strlen(args[i]), &words) != 0) {
            vec_free(&words);
            snprintf(why, whylen, "Wrong number of arguments in buffer limit configuration.");
            return -1;
        }
    }
    ts_obuf_limit l[TS_OBUF_CLASSES];
    memcpy(l, cfield_obuf(c, o), sizeof(l));
    int rc = 0;
    if (words.n % 4) {
        snprintf(why, whylen, "Wrong number of arguments in buffer limit configuration.");
        rc = -1;
    }
    for (int j = 0; rc == 0 && j < words.n; j += 4) {
        const char *cls = words.v[j];
        int k = eq_nocase(cls, strlen(cls), "normal") ? 0
                : eq_nocase(cls, strlen(cls), "slave") || eq_nocase(cls, strlen(cls), "replica") ? 1
                : eq_nocase(cls, strlen(cls), "pubsub") ? 2 : -1;
        if (k < 0) {
            snprintf(why, whylen, "Invalid client class specified in buffer limit configuration.");
            rc = -1;
            break;
        }
        unsigned long long hard, soft;
        long long secs;
        char *end;
        errno = 0;
        secs = strtoll(words.v[j + 3], &end, 10);
        if (parse_memory(words.v[j + 1], &hard) != 0 || parse_memory(words.v[j + 2], &soft) != 0 || secs < 0 ||
            *end != '\0' || errno) {
            snprintf(why, whylen, "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
            rc = -1;
            break;
        }
        l[k] = (ts_obuf_limit){.hard = hard, .soft = soft, .soft_seconds = secs};
    }
    vec_free(&words);
    if (rc != 0) return -1;
    ts_buf b;
    ts_buf_init(&b);
    format_obuf(l, &b);
    v->str = buf_to_cstr(&b);
    return 0;
}

static void store_obuf(ts_obuf_limit *l, const char *text)
{
    char cls[16];
    const char *p = text;
    for (int i = 0; i < TS_OBUF_CLASSES; i++) {
        unsigned long long hard, soft;
        long long secs;
        int used = 0;
        if (sscanf(p, " %15s %llu %llu %lld%n", cls, &hard, &soft, &secs, &used) != 4)
            ts_panic("client-output-buffer-limit: bad normalised text '%s'", text);
        l[i] = (ts_obuf_limit){.hard = hard, .soft = soft, .soft_seconds = secs};
        p += used;
    }
}

/* shutdown-on-sigint / shutdown-on-sigterm: Redis's multi-argument enum
 * of SHUTDOWN flags, in its order (CONFIG GET names the flags in it). */
static const struct { const char *name; int flag; } shutdown_flag_names[] = {
    {"default", 0}, {"save", TS_SHUTDOWN_SAVE}, {"nosave", TS_SHUTDOWN_NOSAVE},
    {"now", TS_SHUTDOWN_NOW}, {"force", TS_SHUTDOWN_FORCE},
};

/* The words ORed together ("default" is no flag); at least one word. */
static int parse_shutdown_words(char *const *words, int n, opt_val *v, char *why, size_t whylen)
{
    int flags = 0;
    bool ok = n > 0;
    for (int i = 0; i < n && ok; i++) {
        ok = false;
        for (size_t j = 0; j < TS_ARRAY_LEN(shutdown_flag_names); j++) {
            if (eq_nocase(words[i], strlen(words[i]), shutdown_flag_names[j].name)) {
                flags |= shutdown_flag_names[j].flag;
                ok = true;
            }
        }
    }
    if (!ok) {
        snprintf(why, whylen, "argument(s) must be one of the following: default, save, nosave, now, force");
        return -1;
    }
    if ((flags & TS_SHUTDOWN_SAVE) && (flags & TS_SHUTDOWN_NOSAVE)) {
        snprintf(why, whylen, "shutdown options SAVE and NOSAVE can't be used simultaneously");
        return -1;
    }
    v->num = flags;
    return 0;
}

/* A directive's words; one non-empty word is split again, so that
 * --shutdown-on-sigterm "nosave now" works (Redis does the same for its
 * multi-argument options). */
static int parse_shutdown(char **args, int n, opt_val *v, char *why, size_t whylen)
{
    if (n != 1 || args[0][0] == '\0') return parse_shutdown_words(args, n, v, why, whylen);
    arg_vec words = {0};
    int rc = split_args(args[0], strlen(args[0]), &words) == 0 ? parse_shutdown_words(words.v, words.n, v, why, whylen)
                                                               : parse_shutdown_words(NULL, 0, v, why, whylen);
    vec_free(&words);
    return rc;
}

/* CONFIG SET's value: split at every single space, as Redis's sdssplitlen
 * (so "" is no word and two spaces make an empty one, which no flag is). */
static int parse_shutdown_set(const char *value, opt_val *v, char *why, size_t whylen)
{
    arg_vec words = {0};
    size_t len = strlen(value);
    for (size_t start = 0; len > 0 && start <= len;) {
        const char *sp = memchr(value + start, ' ', len - start);
        size_t end = sp ? (size_t)(sp - value) : len;
        vec_push(&words, ts_strndup(value + start, end - start));
        start = end + 1;
    }
    int rc = parse_shutdown_words(words.v, words.n, v, why, whylen);
    vec_free(&words);
    return rc;
}

static void format_shutdown(int flags, ts_buf *b)
{
    if (flags == 0) {
        put_str(b, "default");
        return;
    }
    bool first = true;
    for (size_t j = 1; j < TS_ARRAY_LEN(shutdown_flag_names); j++) {
        if (!(flags & shutdown_flag_names[j].flag)) continue;
        if (!first) ts_buf_putc(b, ' ');
        put_str(b, shutdown_flag_names[j].name);
        first = false;
    }
}

/* Validates args (n of them, the words after the option name) into v.
 * Returns 0, or -1 with the reason in why. For T_DIR this performs the
 * chdir(). */
static int opt_parse(const ts_config *c, const opt_def *o, char **args, int n, opt_val *v, char *why,
                     size_t whylen)
{
    memset(v, 0, sizeof(*v));
    if (o->type == T_BIND) {
        if (n > TS_CONFIG_MAX_BIND) {
            snprintf(why, whylen, "Too many bind addresses specified.");
            return -1;
        }
        v->nlist = n;
        v->list = ts_malloc((size_t)(n ? n : 1) * sizeof(char *));
        for (int i = 0; i < n; i++) v->list[i] = ts_strndup(args[i], strlen(args[i]));
        return 0;
    }
    if (o->type == T_SAVE) return parse_save(args, n, v, why, whylen);
    if (o->type == T_OBUF) return parse_obuf(c, o, args, n, v, why, whylen);
    if (o->type == T_SHUTDOWN) return parse_shutdown(args, n, v, why, whylen);
    if (n != 1) {
        snprintf(why, whylen, "wrong number of arguments");
        return -1;
    }
    const char *s = args[0];
    switch (o->type) {
    case T_BOOL:
        if (eq_nocase(s, strlen(s), "yes")) v->num = 1;
        else if (eq_nocase(s, strlen(s), "no")) v->num = 0;
        else {
            snprintf(why, whylen, "argument must be 'yes' or 'no'");
            return -1;
        }
        return 0;
    case T_INT:
    case T_LONG:
        if (!parse_ll(s, &v->num)) {
            snprintf(why, whylen, "argument couldn't be parsed into an integer");
            return -1;
        }
        break;
    case T_OCTAL:
        if (!parse_octal(s, &v->num)) {
            snprintf(why, whylen, "argument couldn't be parsed as an octal number");
            return -1;
        }
        break;
    case T_MEMORY: {
        unsigned long long u = 0;
        int rc = parse_memory(s, &u);
        if (rc < 0) {
            snprintf(why, whylen, "argument must be a memory value");
            return -1;
        }
        if (rc > 0 || u > (unsigned long long)LLONG_MAX) {
            range_error(o, why, whylen);
            return -1;
        }
        v->num = (long long)u;
        break;
    }
    case T_MEMPCT: {
        unsigned long long u = 0;
        size_t len = strlen(s);
        if (parse_memory(s, &u) == 0 && u <= (unsigned long long)LLONG_MAX) {
            v->num = (long long)u;
        } else if (len > 1 && s[len - 1] == '%' && ts_str_to_ll(s, len - 1, &v->num) && v->num >= 0) {
            if (v->num > 100) {
                snprintf(why, whylen, "percentage argument must be less or equal to 100");
                return -1;
            }
            v->num = -v->num;   /* a percentage is stored negative, as Redis */
        } else {
            snprintf(why, whylen, "argument must be a memory or percent value");
            return -1;
        }
        break;
    }
    case T_ENUM:
        for (int i = 0; o->names[i]; i++) {
            if (eq_nocase(s, strlen(s), o->names[i])) {
                v->num = i;
                return 0;
            }
        }
        {
            ts_buf b;
            ts_buf_init(&b);
            put_str(&b, "argument(s) must be one of the following: ");
            for (int i = 0; o->names[i]; i++) {
                if (i) put_str(&b, ", ");
                put_str(&b, o->names[i]);
            }
            snprintf(why, whylen, "%s", buf_to_cstr(&b));
            ts_buf_free(&b);
        }
        return -1;
    case T_STRING:
        if (o->plain_file && strchr(s, '/')) {
            snprintf(why, whylen, "%s can't be a path, just a filename", o->name);
            return -1;
        }
        v->str = ts_strndup(s, strlen(s));
        return 0;
    case T_DIR: {
        char *target = resolve_dir(c, s);
        if (chdir(target) != 0) {
            snprintf(why, whylen, "%s", strerror(errno));
            free(target);
            return -1;
        }
        /* Stored absolute, so every copy resolves the next relative dir
         * from the same place. */
        char *abs = realpath(target, NULL);
        free(target);
        char cwd[PATH_MAX];
        if (abs) v->str = ts_strndup(abs, strlen(abs));
        else if (getcwd(cwd, sizeof(cwd))) v->str = ts_strndup(cwd, strlen(cwd));
        else v->str = ts_strndup("/", 1);
        free(abs);
        return 0;
    }
    case T_SAVE:
    case T_OBUF:
    case T_BIND:
    case T_SHUTDOWN:
        break;
    }
    if (v->num < o->min || v->num > o->max) {
        range_error(o, why, whylen);
        return -1;
    }
    return 0;
}

/* Moves the staged value into c (v is left empty). */
static void opt_store(ts_config *c, const opt_def *o, opt_val *v)
{
    long long num = v->num;
    if (o->hi != 0) {
        if (num < o->lo) num = o->lo;
        if (num > o->hi) num = o->hi;
    }
    switch (o->type) {
    case T_BOOL: *field_bool(c, o) = num != 0; break;
    case T_INT:
    case T_OCTAL:
    case T_ENUM:
    case T_SHUTDOWN: *field_int(c, o) = (int)num; break;
    case T_LONG:
    case T_MEMORY:
    case T_MEMPCT: *field_ll(c, o) = num; break;
    case T_STRING:
    case T_SAVE:
    case T_DIR:
        free(*field_str(c, o));
        *field_str(c, o) = v->str;
        v->str = NULL;
        break;
    case T_OBUF:
        store_obuf(field_obuf(c, o), v->str);
        break;
    case T_BIND:
        for (int i = 0; i < c->nbind; i++) free(c->bind[i]);
        free(c->bind);
        c->bind = v->list;
        c->nbind = v->nlist;
        v->list = NULL;
        v->nlist = 0;
        break;
    }
    val_free(v);
}

/* Appends the CONFIG GET text of o. With quote, appends it as directive
 * arguments instead (for ts_config_to_text). */
static void opt_format(const ts_config *c, const opt_def *o, ts_buf *b, bool quote)
{
    char tmp[64];
    switch (o->type) {
    case T_BOOL: put_str(b, *cfield_bool(c, o) ? "yes" : "no"); return;
    case T_INT: snprintf(tmp, sizeof(tmp), "%d", *cfield_int(c, o)); break;
    case T_OCTAL: snprintf(tmp, sizeof(tmp), "%o", (unsigned)*cfield_int(c, o)); break;
    case T_LONG:
    case T_MEMORY: snprintf(tmp, sizeof(tmp), "%lld", *cfield_ll(c, o)); break;
    case T_MEMPCT: {
        long long v = *cfield_ll(c, o);
        if (v < 0) snprintf(tmp, sizeof(tmp), "%lld%%", -v);
        else snprintf(tmp, sizeof(tmp), "%lld", v);
        break;
    }
    case T_ENUM: {
        int i = *cfield_int(c, o), n = 0;
        while (o->names[n]) n++;
        put_str(b, i >= 0 && i < n ? o->names[i] : "unknown");
        return;
    }
    case T_STRING:
    case T_SAVE:
    case T_DIR: {
        const char *s = *cfield_str(c, o);
        char cwd[PATH_MAX];
        /* Like Redis, GET dir reports where the process really is. */
        if (o->type == T_DIR && getcwd(cwd, sizeof(cwd))) s = cwd;
        if (!s) s = "";
        if (quote) put_word(b, s);
        else put_str(b, s);
        return;
    }
    case T_BIND:
        for (int i = 0; i < c->nbind; i++) {
            if (i) ts_buf_putc(b, ' ');
            if (quote) put_word(b, c->bind[i]);
            else put_str(b, c->bind[i]);
        }
        return;
    case T_OBUF:
        format_obuf(cfield_obuf(c, o), b);   /* plain words either way */
        return;
    case T_SHUTDOWN:
        format_shutdown(*cfield_int(c, o), b);   /* plain words either way */
        return;
    }
    put_str(b, tmp);
}

static const opt_def *opt_find(const char *name, size_t len)
{
    for (int i = 0; i < NOPTS; i++) {
        if (eq_nocase(name, len, opts[i].name)) return &opts[i];
        if (opts[i].alias && eq_nocase(name, len, opts[i].alias)) return &opts[i];
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Lifetime                                                                  */

void ts_config_init_defaults(ts_config *c)
{
    memset(c, 0, sizeof(*c));
    char why[256];
    for (int i = 0; i < NOPTS; i++) {
        const opt_def *o = &opts[i];
        opt_val v;
        if (o->type == T_DIR) {
            char cwd[PATH_MAX];
            memset(&v, 0, sizeof(v));
            v.str = getcwd(cwd, sizeof(cwd)) ? ts_strndup(cwd, strlen(cwd)) : ts_strndup("/", 1);
            opt_store(c, o, &v);
            continue;
        }
        arg_vec a = {0};
        if (split_args(o->def, strlen(o->def), &a) != 0 || opt_parse(c, o, a.v, a.n, &v, why, sizeof(why)) != 0)
            ts_panic("bad built-in default for config option %s", o->name);
        opt_store(c, o, &v);
        vec_free(&a);
    }
}

static void users_free(ts_config *c)
{
    for (int i = 0; i < c->nacl_users; i++) {
        for (int j = 0; j < c->acl_users[i].argc; j++) free(c->acl_users[i].argv[j]);
        free(c->acl_users[i].argv);
    }
    free(c->acl_users);
    c->acl_users = NULL;
    c->nacl_users = 0;
}

static void user_push(ts_config *c, char *const *args, int n)
{
    c->acl_users = ts_realloc(c->acl_users, sizeof(ts_config_user) * (size_t)(c->nacl_users + 1));
    ts_config_user *u = &c->acl_users[c->nacl_users++];
    u->argc = n;
    u->argv = ts_malloc(sizeof(char *) * (size_t)n);
    for (int j = 0; j < n; j++) u->argv[j] = ts_strndup(args[j], strlen(args[j]));
}

void ts_config_free(ts_config *c)
{
    users_free(c);
    for (int i = 0; i < c->nbind; i++) free(c->bind[i]);
    free(c->bind);
    for (int i = 0; i < NOPTS; i++)
        if (opts[i].type == T_STRING || opts[i].type == T_DIR || opts[i].type == T_SAVE)
            free(*field_str(c, &opts[i]));
    memset(c, 0, sizeof(*c));
}

void ts_config_copy(ts_config *dst, const ts_config *src)
{
    *dst = *src;
    dst->bind = ts_malloc((size_t)(src->nbind ? src->nbind : 1) * sizeof(char *));
    for (int i = 0; i < src->nbind; i++) dst->bind[i] = ts_strndup(src->bind[i], strlen(src->bind[i]));
    for (int i = 0; i < NOPTS; i++) {
        const opt_def *o = &opts[i];
        if (o->type != T_STRING && o->type != T_DIR && o->type != T_SAVE) continue;
        const char *s = *cfield_str(src, o);
        *field_str(dst, o) = s ? ts_strndup(s, strlen(s)) : NULL;
    }
    dst->acl_users = NULL;
    dst->nacl_users = 0;
    for (int i = 0; i < src->nacl_users; i++) user_push(dst, src->acl_users[i].argv, src->acl_users[i].argc);
}

/* ------------------------------------------------------------------------ */
/* Loading directives                                                        */

/* Applies one directive (args[0] is the name). */
static int apply_directive(ts_config *c, char **args, int n, char *why, size_t whylen)
{
    if (strcasecmp(args[0], "user") == 0 && n >= 2) {
        /* An ACL user (route/acl.h checks the rules at startup). */
        user_push(c, args + 1, n - 1);
        return 0;
    }
    const opt_def *o = opt_find(args[0], strlen(args[0]));
    if (!o) {
        snprintf(why, whylen, "Bad directive or wrong number of arguments");
        return -1;
    }
    opt_val v;
    if (opt_parse(c, o, args + 1, n - 1, &v, why, whylen) != 0) return -1;
    opt_store(c, o, &v);
    return 0;
}

/* The parser of files and strings. `where` completes "Reading the
 * configuration ..." in the error report. */
static int load_text(ts_config *c, const char *text, size_t len, const char *where, char *err, size_t errlen)
{
    const char *p = text, *end = text + len;
    int lineno = 0;
    char why[256];
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line = p, *lend = nl ? nl : end;
        p = nl ? nl + 1 : end;
        lineno++;
        while (line < lend && (*line == ' ' || *line == '\t' || *line == '\r')) line++;
        while (lend > line && (lend[-1] == ' ' || lend[-1] == '\t' || lend[-1] == '\r')) lend--;
        if (line == lend || line[0] == '#') continue;

        arg_vec a = {0};
        int rc = 0;
        if (split_args(line, (size_t)(lend - line), &a) != 0) {
            snprintf(why, sizeof(why), "Unbalanced quotes in configuration line");
            rc = -1;
        } else if (a.n > 0) {
            rc = apply_directive(c, a.v, a.n, why, sizeof(why));
        }
        vec_free(&a);
        if (rc != 0) {
            set_err(err, errlen,
                    "*** FATAL CONFIG FILE ERROR (Tessera %s) ***\n"
                    "Reading the configuration %s, at line %d\n"
                    ">>> '%.*s'\n"
                    "%s",
                    TS_TESSERA_VERSION, where, lineno, (int)(lend - line), line, why);
            return -1;
        }
    }
    return 0;
}

int ts_config_load_string(ts_config *c, const char *text, const char *origin, char *err, size_t errlen)
{
    ts_buf where;
    ts_buf_init(&where);
    if (origin) {
        put_str(&where, "from ");
        put_str(&where, origin);
    } else {
        put_str(&where, "file");
    }
    int rc = load_text(c, text, strlen(text), buf_to_cstr(&where), err, errlen);
    ts_buf_free(&where);
    return rc;
}

int ts_config_load_file(ts_config *c, const char *path, char *err, size_t errlen)
{
    bool from_stdin = strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "r");
    if (!f) {
        set_err(err, errlen, "Fatal error, can't open config file '%s': %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (!from_stdin && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        set_err(err, errlen, "Fatal error, can't open config file '%s': %s", path, strerror(EISDIR));
        return -1;
    }
    ts_buf text;
    ts_buf_init(&text);
    for (;;) {
        ts_buf_reserve(&text, 4096);
        size_t got = fread(text.data + text.len, 1, text.cap - text.len, f);
        text.len += got;
        if (got == 0) break;
    }
    int read_errno = ferror(f) ? errno : 0;
    if (!from_stdin) fclose(f);
    if (read_errno) {
        set_err(err, errlen, "Fatal error, can't read config file '%s': %s", path, strerror(read_errno));
        ts_buf_free(&text);
        return -1;
    }

    ts_buf where;
    ts_buf_init(&where);
    put_str(&where, "file '");
    put_str(&where, from_stdin ? "(stdin)" : path);
    ts_buf_putc(&where, '\'');
    int rc = load_text(c, text.data ? text.data : "", text.len, buf_to_cstr(&where), err, errlen);
    ts_buf_free(&where);
    ts_buf_free(&text);
    return rc;
}

char *ts_config_args_to_text(int argc, char **argv, const char **conffile)
{
    if (conffile) *conffile = NULL;
    int j = 1;
    if (argc >= 2 && (argv[1][0] != '-' || strcmp(argv[1], "-") == 0)) {
        if (conffile) *conffile = argv[1];
        j = 2;
    }
    ts_buf b;
    ts_buf_init(&b);
    bool have_name = false;
    bool next_is_value = false;   /* the argument after a bare "--name" is a value even if it starts with "--" */
    for (; j < argc; j++) {
        const char *a = argv[j];
        if (!next_is_value && a[0] == '-' && a[1] == '-') {
            if (have_name) ts_buf_putc(&b, '\n');
            put_str(&b, a + 2);
            have_name = true;
            /* "--port" alone expects its value next; "--port 6380" in one
             * argument already carries it (Redis decides the same way). */
            arg_vec words = {0};
            next_is_value = split_args(a, strlen(a), &words) == 0 && words.n == 1;
            vec_free(&words);
        } else {
            if (!have_name) {
                ts_buf_free(&b);
                return NULL;
            }
            ts_buf_putc(&b, ' ');
            put_quoted(&b, a, strlen(a));
            next_is_value = false;
        }
    }
    if (!b.data) return ts_strndup("", 0);
    return buf_to_cstr(&b);
}

/* ------------------------------------------------------------------------ */
/* CONFIG GET                                                                */

typedef struct emitted {
    char **names;
    int n, cap;
} emitted;

/* Returns true when name (case-insensitively) was not emitted yet and
 * records it. */
static bool emitted_add(emitted *e, const char *name)
{
    for (int i = 0; i < e->n; i++)
        if (eq_nocase(e->names[i], strlen(e->names[i]), name)) return false;
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->names = ts_realloc(e->names, (size_t)e->cap * sizeof(char *));
    }
    e->names[e->n++] = ts_strndup(name, strlen(name));
    return true;
}

static void emit_one(const ts_config *c, const opt_def *o, const char *name, emitted *e,
                     void (*emit)(void *ctx, const char *name, const char *value), void *ctx)
{
    if (!emitted_add(e, name)) return;
    ts_buf v;
    ts_buf_init(&v);
    opt_format(c, o, &v, false);
    emit(ctx, name, buf_to_cstr(&v));
    ts_buf_free(&v);
}

void ts_config_get(const ts_config *c, const ts_arg *patterns, int npatterns,
                   void (*emit)(void *ctx, const char *name, const char *value), void *ctx)
{
    emitted e = {0};
    for (int p = 0; p < npatterns; p++) {
        const ts_arg *pat = &patterns[p];
        bool glob = false;
        for (size_t i = 0; i < pat->len && !glob; i++)
            glob = pat->ptr[i] == '*' || pat->ptr[i] == '?' || pat->ptr[i] == '[';
        if (!glob) {
            const opt_def *o = opt_find(pat->ptr, pat->len);
            if (!o) continue;
            char *typed = ts_strndup(pat->ptr, pat->len);   /* answered under the name as typed */
            emit_one(c, o, typed, &e, emit, ctx);
            free(typed);
            continue;
        }
        for (int i = 0; i < NOPTS; i++) {
            const opt_def *o = &opts[i];
            if (ts_glob_match(pat->ptr, pat->len, o->name, strlen(o->name), true))
                emit_one(c, o, o->name, &e, emit, ctx);
            if (o->alias && ts_glob_match(pat->ptr, pat->len, o->alias, strlen(o->alias), true))
                emit_one(c, o, o->alias, &e, emit, ctx);
        }
    }
    for (int i = 0; i < e.n; i++) free(e.names[i]);
    free(e.names);
}

char *ts_config_value(const ts_config *c, const char *name)
{
    const opt_def *o = opt_find(name, strlen(name));
    if (!o) return NULL;
    ts_buf b;
    ts_buf_init(&b);
    opt_format(c, o, &b, false);
    return buf_to_cstr(&b);
}

char *ts_config_to_text(const ts_config *c)
{
    ts_buf b;
    ts_buf_init(&b);
    for (int i = 0; i < NOPTS; i++) {
        put_str(&b, opts[i].name);
        if (opts[i].type != T_BIND || c->nbind > 0) ts_buf_putc(&b, ' ');
        opt_format(c, &opts[i], &b, true);
        ts_buf_putc(&b, '\n');
    }
    for (int i = 0; i < c->nacl_users; i++) {
        put_str(&b, "user");
        for (int j = 0; j < c->acl_users[i].argc; j++) {
            ts_buf_putc(&b, ' ');
            put_word(&b, c->acl_users[i].argv[j]);
        }
        ts_buf_putc(&b, '\n');
    }
    return buf_to_cstr(&b);
}

/* ------------------------------------------------------------------------ */
/* CONFIG SET                                                                */

int ts_config_set(ts_config *c, const ts_arg *argv, int argc, bool allow_protected, char *err, size_t errlen)
{
    if (argc < 2) {
        set_err(err, errlen, "ERR wrong number of arguments for 'config|set' command");
        return -1;
    }
    if (argc % 2) {
        set_err(err, errlen, "ERR syntax error");
        return -1;
    }
    int n = argc / 2;
    const opt_def **which = ts_calloc((size_t)n, sizeof(*which));
    opt_val *vals = ts_calloc((size_t)n, sizeof(*vals));
    const ts_arg *unknown = NULL, *culprit = NULL;
    const char *reason = NULL;
    char why[256];
    int rc = -1;

    /* Pass 1, names only, with Redis's precedence: the first problem wins,
     * and an unknown name is reported only if nothing failed before it. */
    for (int i = 0; i < n && !unknown && !culprit; i++) {
        const ts_arg *name = &argv[2 * i];
        const opt_def *o = opt_find(name->ptr, name->len);
        if (!o) {
            unknown = name;
            break;
        }
        if (!o->runtime) {
            culprit = name;
            reason = "can't set immutable config";
            break;
        }
        if (o->protect && !allow_protected) {
            culprit = name;
            reason = "can't set protected config";
            break;
        }
        for (int k = 0; k < i; k++) {
            if (which[k] == o) {
                culprit = name;
                reason = "duplicate parameter";
                break;
            }
        }
        which[i] = o;
    }
    if (unknown) {
        set_err(err, errlen, "ERR Unknown option or number of arguments for CONFIG SET - '%.*s'",
                (int)unknown->len, unknown->ptr);
        goto out;
    }
    if (culprit) {
        set_err(err, errlen, "ERR CONFIG SET failed (possibly related to argument '%.*s') - %s",
                (int)culprit->len, culprit->ptr, reason);
        goto out;
    }

    /* Pass 2, values, in argument order. Only `dir` has an effect outside
     * c (chdir); it is undone if a later value fails. */
    bool moved = false;
    for (int i = 0; i < n; i++) {
        char *value = ts_strndup(argv[2 * i + 1].ptr, argv[2 * i + 1].len);
        int prc = which[i]->type == T_SHUTDOWN ? parse_shutdown_set(value, &vals[i], why, sizeof(why))
                                               : opt_parse(c, which[i], &value, 1, &vals[i], why, sizeof(why));
        free(value);
        if (prc != 0) {
            if (moved && c->dir && chdir(c->dir) != 0) {
                /* The old directory vanished meanwhile; nothing better to do
                 * than stay where the failed SET left us. */
            }
            set_err(err, errlen, "ERR CONFIG SET failed (possibly related to argument '%.*s') - %s",
                    (int)argv[2 * i].len, argv[2 * i].ptr, why);
            goto out;
        }
        if (which[i]->type == T_DIR) moved = true;
    }

    /* Pass 3, store: cannot fail. */
    for (int i = 0; i < n; i++) opt_store(c, which[i], &vals[i]);
    rc = 0;

out:
    if (rc != 0 && err && errlen) strip_newlines(err);
    for (int i = 0; i < n; i++) val_free(&vals[i]);
    free(vals);
    free(which);
    return rc;
}

const char *ts_config_loglevel_name(int level)
{
    if (level < 0 || level >= (int)TS_ARRAY_LEN(loglevel_names) - 1) return "unknown";
    return loglevel_names[level];
}
