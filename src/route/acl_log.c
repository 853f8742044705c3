/*
 * acl_log.c - ACL LOG: the recent denials (commands, keys, channels,
 * authentication), newest first, with Redis 7.0's grouping: a denial like
 * one of the ten newest entries (same reason, context, object and user,
 * within a minute) bumps that entry's count and moves it to the front.
 *
 * Owns: the entries. Thread: any worker adds (on a denial) and reads (ACL
 * LOG); a mutex guards the list. Only failures and ACL LOG take it, never
 * a command that is allowed.
 */
#include <pthread.h>
#include <string.h>

#include "acl_internal.h"
#include "tessera/util/clock.h"

#define GROUPING_MS 60000
#define GROUPING_SCAN 10

typedef struct log_entry {
    struct log_entry *next;
    uint64_t count;
    int reason, context;
    char *object, *username, *client_info;
    size_t object_len, username_len;
    int64_t ctime_ms;
} log_entry;

struct ts_acl_log {
    pthread_mutex_t lock;
    log_entry *head;    /* newest first */
    long n;
};

ts_acl_log *ts_acl_log_new(void)
{
    ts_acl_log *log = ts_calloc(1, sizeof(*log));
    pthread_mutex_init(&log->lock, NULL);
    return log;
}

static void entry_free(log_entry *e)
{
    free(e->object);
    free(e->username);
    free(e->client_info);
    free(e);
}

static void clear(ts_acl_log *log)
{
    while (log->head) {
        log_entry *e = log->head;
        log->head = e->next;
        entry_free(e);
    }
    log->n = 0;
}

void ts_acl_log_free(ts_acl_log *log)
{
    if (!log) return;
    clear(log);
    pthread_mutex_destroy(&log->lock);
    free(log);
}

void ts_acl_log_reset(ts_acl_log *log)
{
    pthread_mutex_lock(&log->lock);
    clear(log);
    pthread_mutex_unlock(&log->lock);
}

static bool same_event(const log_entry *e, int reason, int context, ts_arg object, ts_arg username, int64_t now)
{
    int64_t delta = e->ctime_ms - now;
    if (delta < 0) delta = -delta;
    return e->reason == reason && e->context == context && delta <= GROUPING_MS && e->object_len == object.len &&
           memcmp(e->object, object.ptr, object.len) == 0 && e->username_len == username.len &&
           memcmp(e->username, username.ptr, username.len) == 0;
}

void ts_acl_log_add(ts_acl_log *log, int reason, int context, ts_arg object, ts_arg username,
                    const char *client_info, long max_len)
{
    int64_t now = ts_mstime();
    char *info = ts_strndup(client_info, strlen(client_info));
    pthread_mutex_lock(&log->lock);
    log_entry **pp = &log->head;
    for (int scanned = 0; *pp && scanned < GROUPING_SCAN; scanned++, pp = &(*pp)->next) {
        log_entry *e = *pp;
        if (!same_event(e, reason, context, object, username, now)) continue;
        *pp = e->next;              /* to the front */
        e->next = log->head;
        log->head = e;
        free(e->client_info);
        e->client_info = info;
        e->ctime_ms = now;
        e->count++;
        pthread_mutex_unlock(&log->lock);
        return;
    }
    log_entry *e = ts_calloc(1, sizeof(*e));
    e->count = 1;
    e->reason = reason;
    e->context = context;
    e->object = ts_strndup(object.ptr, object.len);
    e->object_len = object.len;
    e->username = ts_strndup(username.ptr, username.len);
    e->username_len = username.len;
    e->client_info = info;
    e->ctime_ms = now;
    e->next = log->head;
    log->head = e;
    log->n++;
    /* Trim to max_len (0 keeps nothing, as Redis). */
    if (log->n > max_len) {
        log_entry **tail = &log->head;
        for (long i = 0; i < max_len && *tail; i++) tail = &(*tail)->next;
        log_entry *drop = *tail;
        *tail = NULL;
        while (drop) {
            log_entry *next = drop->next;
            entry_free(drop);
            log->n--;
            drop = next;
        }
    }
    pthread_mutex_unlock(&log->lock);
}

static const char *reason_name(int reason)
{
    switch (reason) {
    case TS_ACL_DENIED_CMD: return "command";
    case TS_ACL_DENIED_KEY: return "key";
    case TS_ACL_DENIED_CHANNEL: return "channel";
    case TS_ACL_DENIED_AUTH: return "auth";
    default: return "unknown";
    }
}

static const char *context_name(int context)
{
    switch (context) {
    case TS_ACL_CTX_TOPLEVEL: return "toplevel";
    case TS_ACL_CTX_MULTI: return "multi";
    case TS_ACL_CTX_LUA: return "lua";
    default: return "unknown";
    }
}

void ts_acl_log_reply(ts_acl_log *log, long count, ts_reply *r)
{
    int64_t now = ts_mstime();
    pthread_mutex_lock(&log->lock);
    if (count < 0) count = 0;
    if (count > log->n) count = log->n;
    ts_reply_array(r, count);
    const log_entry *e = log->head;
    for (long i = 0; i < count && e; i++, e = e->next) {
        ts_reply_map(r, 7);
        ts_reply_cstr(r, "count");
        ts_reply_int(r, (long long)e->count);
        ts_reply_cstr(r, "reason");
        ts_reply_cstr(r, reason_name(e->reason));
        ts_reply_cstr(r, "context");
        ts_reply_cstr(r, context_name(e->context));
        ts_reply_cstr(r, "object");
        ts_reply_bulk(r, e->object, e->object_len);
        ts_reply_cstr(r, "username");
        ts_reply_bulk(r, e->username, e->username_len);
        ts_reply_cstr(r, "age-seconds");
        ts_reply_double(r, (double)(now - e->ctime_ms) / 1000);
        ts_reply_cstr(r, "client-info");
        ts_reply_cstr(r, e->client_info);
    }
    pthread_mutex_unlock(&log->lock);
}
