/*
 * acl_snapshot.c - ACL snapshots (acl.h): building one from another
 * (SETUSER, DELUSER, requirepass), finding users, authentication and the
 * permission check of a call on the command path.
 *
 * Thread: see acl.h. A snapshot is immutable once built; its reference
 * count is atomic because the last engine to drop it may be any worker.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "acl_internal.h"
#include "tessera/util/glob.h"
#include "tessera/util/sha256.h"

/* ---------- snapshots ---------- */

static atomic_ullong next_generation = 1;

static bool user_unrestricted(const ts_acl_user *u)
{
    const uint32_t all = SEL_ALLKEYS | SEL_ALLCOMMANDS | SEL_ALLCHANNELS;
    for (int i = 0; i < u->nselectors; i++)
        if ((u->selectors[i].flags & all) == all) return true;
    return false;
}

ts_acl *acl_snapshot_new(ts_acl_user **users, int nusers)
{
    ts_acl *acl = ts_calloc(1, sizeof(*acl));
    atomic_init(&acl->refs, 1);
    acl->gen = atomic_fetch_add(&next_generation, 1);
    acl->users = users;
    acl->nusers = nusers;
    return acl;
}

void ts_acl_ref(ts_acl *acl) { atomic_fetch_add_explicit(&acl->refs, 1, memory_order_relaxed); }

void ts_acl_unref(ts_acl *acl)
{
    if (!acl || atomic_fetch_sub_explicit(&acl->refs, 1, memory_order_acq_rel) != 1) return;
    for (int i = 0; i < acl->nusers; i++) acl_user_unref(acl->users[i]);
    free(acl->users);
    free(acl);
}

uint64_t ts_acl_generation(const ts_acl *acl) { return acl->gen; }

ts_acl_user **acl_users_copy(const ts_acl *base, int extra)
{
    ts_acl_user **v = ts_malloc(sizeof(ts_acl_user *) * (size_t)(base->nusers + extra + 1));
    for (int i = 0; i < base->nusers; i++) {
        v[i] = base->users[i];
        atomic_fetch_add_explicit(&v[i]->refs, 1, memory_order_relaxed);
    }
    return v;
}

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

int acl_users_find(ts_acl_user *const *users, int n, const char *name, size_t len)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        int c = name_cmp(users[mid]->name, users[mid]->namelen, name, len);
        if (c == 0) return mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -lo - 1;
}

int acl_users_put(ts_acl_user **v, int n, ts_acl_user *u)
{
    u->unrestricted = user_unrestricted(u);
    int at = acl_users_find(v, n, u->name, u->namelen);
    if (at >= 0) {
        acl_user_unref(v[at]);
        v[at] = u;
        return n;
    }
    at = -at - 1;
    memmove(&v[at + 1], &v[at], sizeof(*v) * (size_t)(n - at));
    v[at] = u;
    return n + 1;
}

void acl_set_password(ts_acl_user *u, const char *password)
{
    acl_user_apply(u, "resetpass", 9, TS_ACL_PUBSUB_RESETCHANNELS);
    if (password && password[0]) {
        size_t len = strlen(password);
        char *op = ts_malloc(len + 2);
        op[0] = '>';
        memcpy(op + 1, password, len + 1);
        acl_user_apply(u, op, len + 1, TS_ACL_PUBSUB_RESETCHANNELS);
        free(op);
    } else {
        acl_user_apply(u, "nopass", 6, TS_ACL_PUBSUB_RESETCHANNELS);
    }
}

ts_acl_user *acl_default_new(const char *requirepass, int pubsub_default)
{
    ts_acl_user *u = acl_user_new("default", 7, pubsub_default);
    acl_user_apply(u, "+@all", 5, pubsub_default);
    acl_user_apply(u, "~*", 2, pubsub_default);
    acl_user_apply(u, "&*", 2, pubsub_default);
    acl_user_apply(u, "on", 2, pubsub_default);
    acl_user_apply(u, "nopass", 6, pubsub_default);
    if (requirepass && requirepass[0]) acl_set_password(u, requirepass);
    return u;
}

ts_acl *ts_acl_setuser(const ts_acl *base, ts_arg name, int nrules, const ts_arg *rules, int pubsub_default,
                       char *err, size_t errlen)
{
    if (acl_has_blanks(name.ptr, name.len)) {
        snprintf(err, errlen, "Usernames can't contain spaces or null characters");
        return NULL;
    }
    int at = acl_users_find(base->users, base->nusers, name.ptr, name.len);
    ts_acl_user *u = at >= 0 ? acl_user_clone(base->users[at]) : acl_user_new(name.ptr, name.len, pubsub_default);
    if (acl_user_apply_rules(u, nrules, rules, pubsub_default, err, errlen) != 0) {
        acl_user_unref(u);
        return NULL;
    }
    ts_acl_user **v = acl_users_copy(base, 1);
    int n = acl_users_put(v, base->nusers, u);
    return acl_snapshot_new(v, n);
}

ts_acl *ts_acl_deluser(const ts_acl *base, int nnames, const ts_arg *names, long *deleted, char *err,
                       size_t errlen)
{
    for (int i = 0; i < nnames; i++) {
        if (names[i].len == 7 && memcmp(names[i].ptr, "default", 7) == 0) {
            snprintf(err, errlen, "The 'default' user cannot be removed");
            return NULL;
        }
    }
    ts_acl_user **v = acl_users_copy(base, 0);
    int n = base->nusers;
    *deleted = 0;
    for (int i = 0; i < nnames; i++) {
        int at = acl_users_find(v, n, names[i].ptr, names[i].len);
        if (at < 0) continue;
        acl_user_unref(v[at]);
        memmove(&v[at], &v[at + 1], sizeof(*v) * (size_t)(n - at - 1));
        n--;
        (*deleted)++;
    }
    return acl_snapshot_new(v, n);
}

ts_acl *ts_acl_set_requirepass(const ts_acl *base, const char *password)
{
    int at = acl_users_find(base->users, base->nusers, "default", 7);
    TS_ASSERT(at >= 0);
    ts_acl_user *u = acl_user_clone(base->users[at]);
    acl_set_password(u, password);
    ts_acl_user **v = acl_users_copy(base, 1);
    int n = acl_users_put(v, base->nusers, u);
    return acl_snapshot_new(v, n);
}

/* ---------- users of a snapshot ---------- */

const ts_acl_user *ts_acl_find(const ts_acl *acl, const char *name, size_t len)
{
    int at = acl_users_find(acl->users, acl->nusers, name, len);
    return at >= 0 ? acl->users[at] : NULL;
}

const ts_acl_user *ts_acl_default_user(const ts_acl *acl)
{
    const ts_acl_user *u = ts_acl_find(acl, "default", 7);
    TS_ASSERT(u != NULL);
    return u;
}

const char *ts_acl_user_name(const ts_acl_user *u, size_t *len)
{
    if (len) *len = u->namelen;
    return u->name;
}

uint64_t ts_acl_user_serial(const ts_acl_user *u) { return u->serial; }
bool ts_acl_user_unrestricted(const ts_acl_user *u) { return u->unrestricted; }
bool ts_acl_default_nopass(const ts_acl *acl) { return (ts_acl_default_user(acl)->flags & USER_NOPASS) != 0; }

bool ts_acl_auth_required(const ts_acl *acl)
{
    const ts_acl_user *d = ts_acl_default_user(acl);
    return !(d->flags & USER_NOPASS) || (d->flags & USER_DISABLED);
}

const ts_acl_user *ts_acl_authenticate(const ts_acl *acl, ts_arg user, ts_arg password)
{
    const ts_acl_user *u = ts_acl_find(acl, user.ptr, user.len);
    if (!u || (u->flags & USER_DISABLED)) return NULL;
    if (u->flags & USER_NOPASS) return u;
    char hex[TS_SHA256_HEX_LEN + 1];
    ts_sha256_hex(password.ptr, password.len, hex);
    for (int i = 0; i < u->npasswords; i++) {
        unsigned diff = 0;   /* constant time: every byte is compared */
        for (int j = 0; j < TS_SHA256_HEX_LEN; j++) diff |= (unsigned)(hex[j] ^ u->passwords[i][j]);
        if (diff == 0) return u;
    }
    return NULL;
}

/* ---------- the permission check ---------- */

static bool key_allowed(const acl_selector *s, ts_arg key, uint32_t keyflags)
{
    if (s->flags & SEL_ALLKEYS) return true;
    uint8_t need = 0;
    if (ts_key_flags_need_read(keyflags)) need |= KEY_READ;
    if (ts_key_flags_need_write(keyflags)) need |= KEY_WRITE;
    for (int i = 0; i < s->npatterns; i++) {
        const acl_pattern *p = &s->patterns[i];
        if ((p->perm & need) != need) continue;
        if (ts_glob_match(p->text, p->len, key.ptr, key.len, false)) return true;
    }
    return false;
}

/* A first argument compares like Redis's strcasecmp on C strings. */
static bool firstarg_eq(const char *allowed, ts_arg arg)
{
    size_t n = strnlen(arg.ptr, arg.len);
    return strlen(allowed) == n && strncasecmp(allowed, arg.ptr, n) == 0;
}

typedef struct key_cache {
    bool ready;
    int n;
    ts_key_ref *refs;
    ts_key_ref stack[16];
} key_cache;

static int selector_check(const acl_selector *s, const ts_command *cmd, int argc, const ts_arg *argv, int *argpos,
                          key_cache *keys)
{
    int id = cmd->acl_id;
    if (!(s->flags & SEL_ALLCOMMANDS) && !(cmd->flags & TS_CMD_NO_AUTH) && !acl_sel_bit(s, id)) {
        const acl_firstargs *f = argc >= 2 ? acl_firstargs_of(s, id) : NULL;
        if (!f) return TS_ACL_DENIED_CMD;
        int idx = strchr(cmd->name, '|') ? 2 : 1;
        bool ok = false;
        for (int i = 0; i < f->n && !ok && idx < argc; i++) ok = firstarg_eq(f->args[i], argv[idx]);
        if (!ok) return TS_ACL_DENIED_CMD;
    }
    if (!(s->flags & SEL_ALLKEYS) && ts_command_has_keys(cmd)) {
        if (!keys->ready) {
            keys->ready = true;
            keys->refs = keys->stack;
            int cap = (int)TS_ARRAY_LEN(keys->stack);
            keys->n = ts_command_keys_with_flags(cmd, argc, argv, keys->refs, cap);
            if (keys->n > cap) {
                cap = keys->n;
                keys->refs = ts_malloc(sizeof(ts_key_ref) * (size_t)cap);
                keys->n = ts_command_keys_with_flags(cmd, argc, argv, keys->refs, cap);
            }
        }
        for (int j = 0; j < keys->n; j++) {
            const ts_key_ref *k = &keys->refs[j];
            if (!key_allowed(s, argv[k->pos], k->flags)) {
                *argpos = k->pos;
                return TS_ACL_DENIED_KEY;
            }
        }
    }
    return TS_ACL_OK;
}

static bool selector_reads_any_key(const acl_selector *s)
{
    if (s->flags & SEL_ALLKEYS) return true;
    for (int i = 0; i < s->npatterns; i++) {
        const acl_pattern *p = &s->patterns[i];
        if ((p->perm & KEY_READ) && p->len == 1 && p->text[0] == '*') return true;
    }
    return false;
}

bool ts_acl_reads_any_key(const ts_acl_user *u, const ts_command *cmd, int argc, const ts_arg *argv)
{
    if (u->unrestricted) return true;
    key_cache keys = {.ready = false};
    bool ok = false;
    for (int i = 0; i < u->nselectors && !ok; i++) {
        int pos = 0;
        ok = selector_check(&u->selectors[i], cmd, argc, argv, &pos, &keys) == TS_ACL_OK &&
             selector_reads_any_key(&u->selectors[i]);
    }
    if (keys.refs != keys.stack && keys.refs) free(keys.refs);
    return ok;
}

int ts_acl_check(const ts_acl_user *u, const ts_command *cmd, int argc, const ts_arg *argv, int *argpos)
{
    if (u->unrestricted) return TS_ACL_OK;
    key_cache keys = {.ready = false};
    int relevant = TS_ACL_DENIED_CMD, last = 0, verdict = TS_ACL_OK;
    bool ok = false;
    for (int i = 0; i < u->nselectors && !ok; i++) {
        int pos = 0;
        int v = selector_check(&u->selectors[i], cmd, argc, argv, &pos, &keys);
        if (v == TS_ACL_OK) {
            ok = true;
        } else if (v > relevant || (v == relevant && pos > last)) {
            relevant = v;
            last = pos;
        }
    }
    if (keys.refs != keys.stack && keys.refs) free(keys.refs);
    if (ok) return TS_ACL_OK;
    verdict = relevant;
    *argpos = last;
    return verdict;
}
