/*
 * acl_file.c - where users come from and go to: the startup snapshot (the
 * default user, requirepass, the config file's `user` directives, the
 * aclfile), ACL LOAD and ACL SAVE, with Redis 7.0's rules and messages.
 *
 * Thread: startup runs on main before any worker; ACL LOAD builds its
 * snapshot on the first shard of an exclusive transaction (acl.h); ACL
 * SAVE reads an immutable snapshot. The file is read or written by the
 * thread that runs the command: it is small, and Redis does the same.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "acl_internal.h"
#include "tessera/util/buf.h"
#include "tessera/util/clock.h"
#include "tessera/util/log.h"

static void appendf(ts_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void appendf(ts_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[1024];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0) ts_buf_append(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void copy_err(char *err, size_t errlen, const ts_buf *b)
{
    snprintf(err, errlen, "%.*s", (int)b->len, b->data ? b->data : "");
}

/* Splits on single blanks like Redis's sdssplitlen(" "): two blanks in a
 * row give an empty argument (a no-op rule). */
static ts_arg *split_spaces(const char *p, size_t len, int *n)
{
    int cnt = 1;
    for (size_t i = 0; i < len; i++) cnt += p[i] == ' ';
    ts_arg *v = ts_malloc(sizeof(ts_arg) * (size_t)cnt);
    int k = 0;
    const char *start = p;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || p[i] == ' ') {
            v[k++] = (ts_arg){start, (size_t)(p + i - start)};
            start = p + i + 1;
        }
    }
    *n = k;
    return v;
}

static bool is_trim(char c, const char *set) { return c && strchr(set, c); }

static ts_arg trim(ts_arg a, const char *set)
{
    while (a.len && is_trim(a.ptr[0], set)) { a.ptr++; a.len--; }
    while (a.len && is_trim(a.ptr[a.len - 1], set)) a.len--;
    return a;
}

/* Redis's ACLLoadFromFile: a fresh user set from the file; the default
 * user keeps its identity (connections authenticated as default stay). */
ts_acl *ts_acl_load_file(const ts_acl *base, const char *path, int pubsub_default, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "Error loading ACLs, opening file '%s': %s", path, strerror(errno));
        return NULL;
    }
    ts_buf text, errors;
    ts_buf_init(&text);
    ts_buf_init(&errors);
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) ts_buf_append(&text, chunk, got);
    fclose(f);
    /* Redis reads the file as C strings: a NUL ends it. */
    size_t textlen = text.data ? strnlen(text.data, text.len) : 0;

    ts_acl_user **users = ts_malloc(sizeof(ts_acl_user *));
    int nusers = 0;
    const char *p = text.data, *end = text.data + textlen;
    int linenum = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        ts_arg line = {p, (size_t)((nl ? nl : end) - p)};
        p = nl ? nl + 1 : end;
        linenum++;
        line = trim(line, " \t\r\n");
        if (line.len == 0) continue;
        int argc = 0;
        ts_arg *argv = split_spaces(line.ptr, line.len, &argc);
        if (argc < 2 || argv[0].len != 4 || memcmp(argv[0].ptr, "user", 4) != 0) {
            appendf(&errors, "%s:%d should start with user keyword followed by the username. ", path, linenum);
            free(argv);
            continue;
        }
        if (acl_has_blanks(argv[1].ptr, argv[1].len)) {
            appendf(&errors, "'%s:%d: username '%.*s' contains invalid characters. ", path, linenum,
                    (int)argv[1].len, argv[1].ptr);
            free(argv);
            continue;
        }
        if (acl_users_find(users, nusers, argv[1].ptr, argv[1].len) >= 0) {
            appendf(&errors, "WARNING: Duplicate user '%.*s' found on line %d. ", (int)argv[1].len, argv[1].ptr,
                    linenum);
            free(argv);
            continue;
        }
        ts_acl_user *u = acl_user_new(argv[1].ptr, argv[1].len, pubsub_default);
        int merged_n = 0, bad = 0;
        ts_arg *merged = acl_merge_selectors(argc - 2, argv + 2, &merged_n, &bad);
        if (!merged) {
            appendf(&errors, "%s:%d: Unmatched parenthesis in selector definition.", path, linenum);
            merged_n = 0;
        }
        bool syntax_error = false;
        for (int j = 0; j < merged_n; j++) {
            ts_arg rule = trim(merged[j], "\t\r\n");
            char *op = ts_strndup(rule.ptr, rule.len);
            int code = acl_user_apply(u, op, rule.len, pubsub_default);
            if (code == ACL_ERR_UNKNOWN) {
                appendf(&errors, "%s:%d: Error in applying operation '%s': %s. ", path, linenum, op,
                        acl_error_text(code));
            } else if (code != 0 && !syntax_error) {
                appendf(&errors, "%s:%d: %s. ", path, linenum, acl_error_text(code));
                syntax_error = true;
            }
            free(op);
        }
        if (merged) acl_args_free(merged, merged_n);
        free(argv);
        users = ts_realloc(users, sizeof(ts_acl_user *) * (size_t)(nusers + 2));
        nusers = acl_users_put(users, nusers, u);
    }
    ts_buf_free(&text);

    if (errors.len) {
        appendf(&errors, "WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
        copy_err(err, errlen, &errors);
        ts_buf_free(&errors);
        for (int i = 0; i < nusers; i++) acl_user_unref(users[i]);
        free(users);
        return NULL;
    }
    ts_buf_free(&errors);
    /* The default user: the file's rules (or Redis's defaults when the file
     * has none) under the old default user's identity. */
    int at = acl_users_find(users, nusers, "default", 7);
    ts_acl_user *def;
    if (at >= 0) {
        def = users[at];
        atomic_fetch_add_explicit(&def->refs, 1, memory_order_relaxed);
    } else {
        def = acl_default_new(NULL, pubsub_default);
    }
    ts_acl_user *kept = acl_user_clone(def);
    acl_user_unref(def);
    kept->serial = ts_acl_user_serial(ts_acl_default_user(base));
    users = ts_realloc(users, sizeof(ts_acl_user *) * (size_t)(nusers + 1));
    nusers = acl_users_put(users, nusers, kept);
    return acl_snapshot_new(users, nusers);
}

int ts_acl_save_file(const ts_acl *acl, const char *path)
{
    size_t len;
    char *text = ts_acl_describe_all(acl, &len);
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp-%d-%lld", path, (int)getpid(), (long long)ts_mstime());
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        ts_log(TS_LOG_WARNING, "Opening temp ACL file for ACL SAVE: %s", strerror(errno));
        goto out;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ts_log(TS_LOG_WARNING, "Writing ACL file for ACL SAVE: %s", n < 0 ? strerror(errno) : "short write");
            goto out;
        }
        off += (size_t)n;
    }
    /* Unlike Redis 7.0, the file reaches the disk before it replaces the old one. */
    if (fsync(fd) != 0) {
        ts_log(TS_LOG_WARNING, "Syncing ACL file for ACL SAVE: %s", strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0) {
        ts_log(TS_LOG_WARNING, "Renaming ACL file for ACL SAVE: %s", strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0) close(fd);
    if (rc != 0) unlink(tmp);
    free(text);
    return rc;
}

/* A `user` directive's rules as arguments (the name is argv[0]). */
static int load_directive(ts_acl_user ***users, int *nusers, const ts_config_user *line, int pubsub_default,
                          char *err, size_t errlen)
{
    const char *name = line->argv[0];
    size_t namelen = strlen(name);
    if (acl_has_blanks(name, namelen)) {
        snprintf(err, errlen, "Spaces not allowed in ACL usernames");
        return -1;
    }
    int at = acl_users_find(*users, *nusers, name, namelen);
    ts_acl_user *u;
    if (at >= 0) {
        /* Only `user default` meets an existing user: it starts over. */
        u = acl_user_clone((*users)[at]);
        acl_user_apply(u, "reset", 5, pubsub_default);
    } else {
        u = acl_user_new(name, namelen, pubsub_default);
    }
    int nrules = line->argc - 1;
    ts_arg *rules = ts_malloc(sizeof(ts_arg) * (size_t)(nrules > 0 ? nrules : 1));
    for (int i = 0; i < nrules; i++) rules[i] = (ts_arg){line->argv[i + 1], strlen(line->argv[i + 1])};
    int m = 0, bad = 0;
    ts_arg *merged = acl_merge_selectors(nrules, rules, &m, &bad);
    if (!merged) {
        snprintf(err, errlen, "Error in user declaration '%s': Unmatched parenthesis in acl selector starting at '%s'.",
                 name, rules[bad].ptr);
        free(rules);
        acl_user_unref(u);
        return -1;
    }
    free(rules);
    for (int j = 0; j < m; j++) {
        int code = acl_user_apply(u, merged[j].ptr, merged[j].len, pubsub_default);
        if (code != 0) {
            snprintf(err, errlen, "Error loading ACL rule '%s' for the user named '%s': %s", merged[j].ptr, name,
                     acl_error_text(code));
            acl_args_free(merged, m);
            acl_user_unref(u);
            return -1;
        }
    }
    acl_args_free(merged, m);
    if (u->flags & USER_DISABLED)
        ts_log(TS_LOG_NOTICE, "The user '%s' is disabled (there is no 'on' modifier in the user description). Make "
                              "sure this is not a configuration error.", name);
    *users = ts_realloc(*users, sizeof(ts_acl_user *) * (size_t)(*nusers + 1));
    *nusers = acl_users_put(*users, *nusers, u);
    return 0;
}

ts_acl *ts_acl_startup(const ts_config *cfg, char *err, size_t errlen)
{
    int pubsub_default = cfg->acl_pubsub_default;
    for (int i = 0; i < cfg->nacl_users; i++) {
        for (int j = 0; j < i; j++) {
            if (strcmp(cfg->acl_users[i].argv[0], cfg->acl_users[j].argv[0]) == 0) {
                snprintf(err, errlen, "Error in user declaration '%s': %s", cfg->acl_users[i].argv[0],
                         acl_error_text(ACL_ERR_DUPLICATE_USER));
                return NULL;
            }
        }
    }
    if (cfg->aclfile[0] && cfg->nacl_users) {
        snprintf(err, errlen,
                 "Configuring Redis with users defined in redis.conf and at the same setting an ACL file path is "
                 "invalid. This setup is very likely to lead to configuration errors and security holes, please "
                 "define either an ACL file or declare users directly in your redis.conf, but not both.");
        return NULL;
    }
    ts_acl_user **users = ts_malloc(sizeof(ts_acl_user *));
    int nusers = acl_users_put(users, 0, acl_default_new(cfg->requirepass, pubsub_default));
    for (int i = 0; i < cfg->nacl_users; i++) {
        if (load_directive(&users, &nusers, &cfg->acl_users[i], pubsub_default, err, errlen) != 0) {
            for (int k = 0; k < nusers; k++) acl_user_unref(users[k]);
            free(users);
            return NULL;
        }
    }
    ts_acl *acl = acl_snapshot_new(users, nusers);
    if (cfg->aclfile[0]) {
        char why[4096];
        ts_acl *loaded = ts_acl_load_file(acl, cfg->aclfile, pubsub_default, why, sizeof(why));
        ts_acl_unref(acl);
        if (!loaded) {
            snprintf(err, errlen, "Aborting Redis startup because of ACL errors: %s", why);
            return NULL;
        }
        acl = loaded;
    }
    return acl;
}
