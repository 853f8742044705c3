/*
 * acl_rules.c - the ACL's rule language: the command universe, selectors
 * and users as ACL SETUSER changes them (Redis 7.0's semantics and error
 * texts), users' lifetimes.
 *
 * Thread: see acl.h. Rules are applied to private copies only (a user is
 * cloned, changed, then published in a new snapshot by acl_snapshot.c), so
 * nothing here locks; a user's reference count is atomic because the last
 * snapshot holding it may be dropped by any worker.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "acl_internal.h"
#include "tessera/util/sha256.h"

#include "acl_commands.inc"

_Static_assert(TS_ACL_NCOMMANDS < ACL_FUTURE_BIT, "the command bitmap is too small");

const ts_acl_command_def *const ts_acl_universe = acl_universe;
const int ts_acl_universe_size = TS_ACL_NCOMMANDS;

static const char *const category_names[] = {
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo",
    "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction",
    "scripting",
};

int ts_acl_category_count(void) { return (int)TS_ARRAY_LEN(category_names); }
const char *ts_acl_category_name(int i) { return category_names[i]; }

/* ---------- the command universe ---------- */

static bool eq_nocase(const char *lower, const char *s, size_t n)
{
    return strlen(lower) == n && strncasecmp(lower, s, n) == 0;
}

int acl_children_end(int i)
{
    int j = i + 1;
    while (j < TS_ACL_NCOMMANDS && acl_universe[j].parent == i) j++;
    return j;
}

static int find_top(const char *name, size_t len)
{
    for (int i = 0; i < TS_ACL_NCOMMANDS; i++)
        if (acl_universe[i].parent < 0 && eq_nocase(acl_universe[i].name, name, len)) return i;
    return -1;
}

static int find_sub(int parent, const char *sub, size_t len)
{
    size_t plen = strlen(acl_universe[parent].name);
    for (int j = parent + 1, end = acl_children_end(parent); j < end; j++)
        if (eq_nocase(acl_universe[j].name + plen + 1, sub, len)) return j;
    return -1;
}

int acl_lookup_command(const char *name, size_t len)
{
    const char *bar = memchr(name, '|', len);
    if (len == 0) return -1;
    if (!bar) return find_top(name, len);
    const char *sub = bar + 1;
    size_t sublen = len - (size_t)(sub - name);
    if (memchr(sub, '|', sublen)) return -1;     /* one level of subcommands */
    int top = find_top(name, (size_t)(bar - name));
    if (top < 0 || acl_children_end(top) == top + 1) return -1;
    return find_sub(top, sub, sublen);
}

int ts_acl_command_id(const char *fullname)
{
    return acl_lookup_command(fullname, strlen(fullname));
}

/* ---------- small helpers ---------- */

bool acl_has_blanks(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == 0 || c == ' ' || (c >= '\t' && c <= '\r')) return true;
    }
    return false;
}

void acl_strv_free(char **v, int n)
{
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* strcasecmp(op, word) with op's C-string length, as Redis compares rules. */
static bool op_is(const char *op, const char *word)
{
    return strcasecmp(op, word) == 0;
}

const char *acl_error_text(int code)
{
    switch (code) {
    case ACL_ERR_UNKNOWN: return "Unknown command or category name in ACL";
    case ACL_ERR_SYNTAX: return "Syntax error";
    case ACL_ERR_KEYS_AFTER_ALL:
        return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any "
               "effect. Try 'resetkeys' to start with an empty list of patterns";
    case ACL_ERR_CHANNELS_AFTER_ALL:
        return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have "
               "any effect. Try 'resetchannels' to start with an empty list of channels";
    case ACL_ERR_NO_SUCH_PASS: return "The password you are trying to remove from the user does not exist";
    case ACL_ERR_BAD_HASH:
        return "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters";
    case ACL_ERR_DUPLICATE_USER: return "Duplicate user found. A user can only be defined once in config files";
    case ACL_ERR_SUBCOMMAND_ARG: return "Allowing first-arg of a subcommand is not supported";
    default: return "Wrong format";
    }
}

/* ---------- selectors ---------- */

void acl_sel_init(acl_selector *s, uint32_t flags, int pubsub_default)
{
    memset(s, 0, sizeof(*s));
    s->flags = flags | (pubsub_default == TS_ACL_PUBSUB_ALLCHANNELS ? SEL_ALLCHANNELS : 0);
}

static void patterns_free(acl_pattern *p, int n)
{
    for (int i = 0; i < n; i++) free(p[i].text);
    free(p);
}

static void firstargs_clear(acl_selector *s)
{
    for (int i = 0; i < s->nfirstargs; i++) acl_strv_free(s->firstargs[i].args, s->firstargs[i].n);
    free(s->firstargs);
    s->firstargs = NULL;
    s->nfirstargs = 0;
}

void acl_sel_free(acl_selector *s)
{
    patterns_free(s->patterns, s->npatterns);
    patterns_free(s->channels, s->nchannels);
    firstargs_clear(s);
    memset(s, 0, sizeof(*s));
}

static acl_pattern *patterns_dup(const acl_pattern *p, int n)
{
    if (n == 0) return NULL;
    acl_pattern *out = ts_malloc(sizeof(*out) * (size_t)n);
    for (int i = 0; i < n; i++) {
        out[i] = p[i];
        out[i].text = ts_strndup(p[i].text, p[i].len);
    }
    return out;
}

static void sel_copy(acl_selector *dst, const acl_selector *src)
{
    *dst = *src;
    dst->patterns = patterns_dup(src->patterns, src->npatterns);
    dst->channels = patterns_dup(src->channels, src->nchannels);
    dst->firstargs = NULL;
    if (src->nfirstargs) {
        dst->firstargs = ts_malloc(sizeof(acl_firstargs) * (size_t)src->nfirstargs);
        for (int i = 0; i < src->nfirstargs; i++) {
            const acl_firstargs *f = &src->firstargs[i];
            dst->firstargs[i].id = f->id;
            dst->firstargs[i].n = f->n;
            dst->firstargs[i].args = ts_malloc(sizeof(char *) * (size_t)f->n);
            for (int j = 0; j < f->n; j++) dst->firstargs[i].args[j] = ts_strndup(f->args[j], strlen(f->args[j]));
        }
    }
}

bool acl_sel_bit(const acl_selector *s, int id)
{
    return (s->allowed[id / 64] >> (id % 64)) & 1u;
}

static void sel_set_bit(acl_selector *s, int id, bool value)
{
    if (value) {
        s->allowed[id / 64] |= 1ull << (id % 64);
    } else {
        s->allowed[id / 64] &= ~(1ull << (id % 64));
        s->flags &= ~(uint32_t)SEL_ALLCOMMANDS;
    }
}

acl_firstargs *acl_firstargs_of(const acl_selector *s, int id)
{
    for (int i = 0; i < s->nfirstargs; i++)
        if (s->firstargs[i].id == id) return &s->firstargs[i];
    return NULL;
}

static void firstargs_reset_for(acl_selector *s, int id)
{
    acl_firstargs *f = acl_firstargs_of(s, id);
    if (!f) return;
    acl_strv_free(f->args, f->n);
    *f = s->firstargs[--s->nfirstargs];
}

static void firstargs_add(acl_selector *s, int id, const char *arg)
{
    acl_firstargs *f = acl_firstargs_of(s, id);
    if (!f) {
        s->firstargs = ts_realloc(s->firstargs, sizeof(acl_firstargs) * (size_t)(s->nfirstargs + 1));
        f = &s->firstargs[s->nfirstargs++];
        f->id = id;
        f->n = 0;
        f->args = NULL;
    }
    for (int i = 0; i < f->n; i++)
        if (strcasecmp(f->args[i], arg) == 0) return;
    f->args = ts_realloc(f->args, sizeof(char *) * (size_t)(f->n + 1));
    f->args[f->n++] = ts_strndup(arg, strlen(arg));
}

/* Redis's ACLChangeSelectorPerm: the command, its first-args, and every
 * subcommand of a container. */
void acl_sel_change_perm(acl_selector *s, int id, bool allow)
{
    sel_set_bit(s, id, allow);
    firstargs_reset_for(s, id);
    for (int j = id + 1, end = acl_children_end(id); j < end; j++) sel_set_bit(s, j, allow);
}

/* +@cat / -@cat: every command of the category (a container's category
 * covers its subcommands), then every subcommand in it on its own. */
static void sel_set_category(acl_selector *s, uint32_t cat, bool allow)
{
    for (int i = 0; i < TS_ACL_NCOMMANDS; i++)
        if (acl_universe[i].cats & cat) acl_sel_change_perm(s, i, allow);
}

static uint32_t category_flag(const char *name)
{
    for (size_t i = 0; i < TS_ARRAY_LEN(category_names); i++)
        if (strcasecmp(name, category_names[i]) == 0) return 1u << i;
    return 0;
}

static int pattern_find(const acl_pattern *p, int n, const char *text, size_t len)
{
    for (int i = 0; i < n; i++)
        if (p[i].len == len && memcmp(p[i].text, text, len) == 0) return i;
    return -1;
}

static void pattern_push(acl_pattern **p, int *n, const char *text, size_t len, uint8_t perm)
{
    *p = ts_realloc(*p, sizeof(acl_pattern) * (size_t)(*n + 1));
    (*p)[*n] = (acl_pattern){.perm = perm, .len = len, .text = ts_strndup(text, len)};
    (*n)++;
}

/* "+cmd", "+cmd|sub" (a subcommand, or a first argument of a command
 * without subcommands). */
static int sel_allow_command(acl_selector *s, const char *op)
{
    const char *name = op + 1;
    const char *bar = strrchr(name, '|');
    if (!bar) {
        int id = acl_lookup_command(name, strlen(name));
        if (id < 0) return ACL_ERR_UNKNOWN;
        acl_sel_change_perm(s, id, true);
        return 0;
    }
    int id = acl_lookup_command(name, (size_t)(bar - name));
    if (id < 0) return ACL_ERR_UNKNOWN;
    if (acl_universe[id].parent >= 0) return ACL_ERR_SUBCOMMAND_ARG;
    const char *sub = bar + 1;
    if (*sub == '\0') return ACL_ERR_SYNTAX;
    if (acl_children_end(id) != id + 1) {
        int subid = acl_lookup_command(name, strlen(name));
        if (subid < 0) return ACL_ERR_UNKNOWN;
        acl_sel_change_perm(s, subid, true);
    } else {
        firstargs_add(s, id, sub);
    }
    return 0;
}

/* Redis's ACLSetSelector. op is NUL-terminated; oplen counts its bytes
 * (a rule may hold a NUL: keywords compare as C strings, like Redis). */
int acl_sel_apply(acl_selector *s, const char *op, size_t oplen)
{
    if (op_is(op, "allkeys") || op_is(op, "~*")) {
        s->flags |= SEL_ALLKEYS;
        patterns_free(s->patterns, s->npatterns);
        s->patterns = NULL;
        s->npatterns = 0;
    } else if (op_is(op, "resetkeys")) {
        s->flags &= ~(uint32_t)SEL_ALLKEYS;
        patterns_free(s->patterns, s->npatterns);
        s->patterns = NULL;
        s->npatterns = 0;
    } else if (op_is(op, "allchannels") || op_is(op, "&*")) {
        s->flags |= SEL_ALLCHANNELS;
        patterns_free(s->channels, s->nchannels);
        s->channels = NULL;
        s->nchannels = 0;
    } else if (op_is(op, "resetchannels")) {
        s->flags &= ~(uint32_t)SEL_ALLCHANNELS;
        patterns_free(s->channels, s->nchannels);
        s->channels = NULL;
        s->nchannels = 0;
    } else if (op_is(op, "allcommands") || op_is(op, "+@all")) {
        memset(s->allowed, 0xff, sizeof(s->allowed));
        s->flags |= SEL_ALLCOMMANDS;
        firstargs_clear(s);
    } else if (op_is(op, "nocommands") || op_is(op, "-@all")) {
        memset(s->allowed, 0, sizeof(s->allowed));
        s->flags &= ~(uint32_t)SEL_ALLCOMMANDS;
        firstargs_clear(s);
    } else if (op[0] == '~' || op[0] == '%') {
        if (s->flags & SEL_ALLKEYS) return ACL_ERR_KEYS_AFTER_ALL;
        uint8_t perm = 0;
        size_t off = 1;
        if (op[0] == '%') {
            for (; off < oplen; off++) {
                char ch = op[off];
                if ((ch == 'R' || ch == 'r') && !(perm & KEY_READ)) {
                    perm |= KEY_READ;
                } else if ((ch == 'W' || ch == 'w') && !(perm & KEY_WRITE)) {
                    perm |= KEY_WRITE;
                } else if (ch == '~') {
                    off++;
                    break;
                } else {
                    return ACL_ERR_SYNTAX;
                }
            }
        } else {
            perm = KEY_ALL;
        }
        if (acl_has_blanks(op + off, oplen - off)) return ACL_ERR_SYNTAX;
        int at = pattern_find(s->patterns, s->npatterns, op + off, oplen - off);
        if (at < 0) pattern_push(&s->patterns, &s->npatterns, op + off, oplen - off, perm);
        else s->patterns[at].perm |= perm;
        s->flags &= ~(uint32_t)SEL_ALLKEYS;
    } else if (op[0] == '&') {
        if (s->flags & SEL_ALLCHANNELS) return ACL_ERR_CHANNELS_AFTER_ALL;
        if (acl_has_blanks(op + 1, oplen - 1)) return ACL_ERR_SYNTAX;
        if (pattern_find(s->channels, s->nchannels, op + 1, oplen - 1) < 0)
            pattern_push(&s->channels, &s->nchannels, op + 1, oplen - 1, 0);
        s->flags &= ~(uint32_t)SEL_ALLCHANNELS;
    } else if (op[0] == '+' && op[1] != '@') {
        return sel_allow_command(s, op);
    } else if (op[0] == '-' && op[1] != '@') {
        int id = acl_lookup_command(op + 1, strlen(op + 1));
        if (id < 0) return ACL_ERR_UNKNOWN;
        acl_sel_change_perm(s, id, false);
    } else if ((op[0] == '+' || op[0] == '-') && op[1] == '@') {
        uint32_t cat = category_flag(op + 2);
        if (!cat) return ACL_ERR_UNKNOWN;
        sel_set_category(s, cat, op[0] == '+');
    } else {
        return ACL_ERR_SYNTAX;
    }
    return 0;
}

/* ---------- users ---------- */

static atomic_ullong next_serial = 1;

ts_acl_user *acl_user_new(const char *name, size_t len, int pubsub_default)
{
    ts_acl_user *u = ts_calloc(1, sizeof(*u));
    atomic_init(&u->refs, 1);
    u->serial = atomic_fetch_add(&next_serial, 1);
    u->name = ts_strndup(name, len);
    u->namelen = len;
    u->flags = USER_DISABLED;
    u->selectors = ts_malloc(sizeof(acl_selector));
    u->nselectors = 1;
    acl_sel_init(&u->selectors[0], SEL_ROOT, pubsub_default);
    return u;
}

ts_acl_user *acl_user_clone(const ts_acl_user *src)
{
    ts_acl_user *u = ts_calloc(1, sizeof(*u));
    atomic_init(&u->refs, 1);
    u->serial = src->serial;
    u->name = ts_strndup(src->name, src->namelen);
    u->namelen = src->namelen;
    u->flags = src->flags;
    u->npasswords = src->npasswords;
    if (src->npasswords) {
        u->passwords = ts_malloc(sizeof(*u->passwords) * (size_t)src->npasswords);
        memcpy(u->passwords, src->passwords, sizeof(*u->passwords) * (size_t)src->npasswords);
    }
    u->nselectors = src->nselectors;
    u->selectors = ts_malloc(sizeof(acl_selector) * (size_t)src->nselectors);
    for (int i = 0; i < src->nselectors; i++) sel_copy(&u->selectors[i], &src->selectors[i]);
    return u;
}

static void user_free(ts_acl_user *u)
{
    for (int i = 0; i < u->nselectors; i++) acl_sel_free(&u->selectors[i]);
    free(u->selectors);
    free(u->passwords);
    free(u->name);
    free(u);
}

void acl_user_unref(ts_acl_user *u)
{
    if (u && atomic_fetch_sub_explicit(&u->refs, 1, memory_order_acq_rel) == 1) user_free(u);
}

static bool valid_hash(const char *h, size_t len)
{
    if (len != TS_SHA256_HEX_LEN) return false;
    for (size_t i = 0; i < len; i++)
        if (!((h[i] >= 'a' && h[i] <= 'f') || (h[i] >= '0' && h[i] <= '9'))) return false;
    return true;
}

static int password_find(const ts_acl_user *u, const char *hex)
{
    for (int i = 0; i < u->npasswords; i++)
        if (memcmp(u->passwords[i], hex, TS_SHA256_HEX_LEN) == 0) return i;
    return -1;
}

static void passwords_clear(ts_acl_user *u)
{
    free(u->passwords);
    u->passwords = NULL;
    u->npasswords = 0;
}

/* >pass, #hash, <pass, !hash */
static int user_password_rule(ts_acl_user *u, const char *op, size_t oplen)
{
    char hex[TS_SHA256_HEX_LEN + 1];
    if (op[0] == '>' || op[0] == '<') {
        ts_sha256_hex(op + 1, oplen - 1, hex);
    } else {
        if (!valid_hash(op + 1, oplen - 1)) return ACL_ERR_BAD_HASH;
        memcpy(hex, op + 1, TS_SHA256_HEX_LEN);
        hex[TS_SHA256_HEX_LEN] = '\0';
    }
    int at = password_find(u, hex);
    if (op[0] == '>' || op[0] == '#') {
        if (at < 0) {
            u->passwords = ts_realloc(u->passwords, sizeof(*u->passwords) * (size_t)(u->npasswords + 1));
            memcpy(u->passwords[u->npasswords++], hex, sizeof(hex));
        }
        u->flags &= ~(uint32_t)USER_NOPASS;
        return 0;
    }
    if (at < 0) return ACL_ERR_NO_SUCH_PASS;
    memmove(&u->passwords[at], &u->passwords[at + 1], sizeof(*u->passwords) * (size_t)(u->npasswords - at - 1));
    u->npasswords--;
    return 0;
}

/* Splits a selector's inside like Redis's sdssplitargs (quotes, escapes).
 * An unbalanced quote yields no arguments (an empty selector, as Redis). */
static char **split_selector(const char *p, size_t len, int *n);

/* "(rules)": a new selector. */
static int user_add_selector(ts_acl_user *u, const char *op, size_t oplen, int pubsub_default)
{
    acl_selector s;
    acl_sel_init(&s, 0, pubsub_default);
    int n = 0;
    char **args = split_selector(op + 1, strnlen(op + 1, oplen - 2), &n);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) rc = acl_sel_apply(&s, args[i], strlen(args[i]));
    acl_strv_free(args, n);
    if (rc != 0) {
        acl_sel_free(&s);
        return rc;
    }
    u->selectors = ts_realloc(u->selectors, sizeof(acl_selector) * (size_t)(u->nselectors + 1));
    u->selectors[u->nselectors++] = s;
    return 0;
}

static void user_clear_selectors(ts_acl_user *u)
{
    for (int i = 1; i < u->nselectors; i++) acl_sel_free(&u->selectors[i]);
    u->nselectors = 1;
}

/* Redis's ACLSetUser on a private user. */
int acl_user_apply(ts_acl_user *u, const char *op, size_t oplen, int pubsub_default)
{
    if (oplen == 0) return 0;
    if (op_is(op, "on")) {
        u->flags = (u->flags | USER_ENABLED) & ~(uint32_t)USER_DISABLED;
    } else if (op_is(op, "off")) {
        u->flags = (u->flags | USER_DISABLED) & ~(uint32_t)USER_ENABLED;
    } else if (op_is(op, "skip-sanitize-payload")) {
        u->flags = (u->flags | USER_SANITIZE_SKIP) & ~(uint32_t)USER_SANITIZE;
    } else if (op_is(op, "sanitize-payload")) {
        u->flags = (u->flags | USER_SANITIZE) & ~(uint32_t)USER_SANITIZE_SKIP;
    } else if (op_is(op, "nopass")) {
        u->flags |= USER_NOPASS;
        passwords_clear(u);
    } else if (op_is(op, "resetpass")) {
        u->flags &= ~(uint32_t)USER_NOPASS;
        passwords_clear(u);
    } else if (op[0] == '>' || op[0] == '#' || op[0] == '<' || op[0] == '!') {
        return user_password_rule(u, op, oplen);
    } else if (op[0] == '(' && op[oplen - 1] == ')') {
        return user_add_selector(u, op, oplen, pubsub_default);
    } else if (op_is(op, "clearselectors")) {
        user_clear_selectors(u);
    } else if (op_is(op, "reset")) {
        acl_user_apply(u, "resetpass", 9, pubsub_default);
        acl_user_apply(u, "resetkeys", 9, pubsub_default);
        acl_user_apply(u, "resetchannels", 13, pubsub_default);
        if (pubsub_default == TS_ACL_PUBSUB_ALLCHANNELS) acl_user_apply(u, "allchannels", 11, pubsub_default);
        acl_user_apply(u, "off", 3, pubsub_default);
        acl_user_apply(u, "sanitize-payload", 16, pubsub_default);
        acl_user_apply(u, "clearselectors", 14, pubsub_default);
        acl_user_apply(u, "-@all", 5, pubsub_default);
    } else {
        return acl_sel_apply(&u->selectors[0], op, oplen);
    }
    return 0;
}

ts_arg *acl_merge_selectors(int n, const ts_arg *rules, int *nout, int *bad)
{
    ts_arg *out = ts_malloc(sizeof(ts_arg) * (size_t)(n > 0 ? n : 1));
    int m = 0, open_at = -1;
    ts_buf sel;
    ts_buf_init(&sel);
    for (int j = 0; j < n; j++) {
        const char *op = rules[j].ptr;
        size_t len = rules[j].len;
        if (len > 0 && op[0] == '(' && op[len - 1] != ')') {
            sel.len = 0;
            ts_buf_append(&sel, op, len);
            open_at = j;
            continue;
        }
        if (open_at >= 0) {
            ts_buf_putc(&sel, ' ');
            ts_buf_append(&sel, op, len);
            if (len > 0 && op[len - 1] == ')') {
                open_at = -1;
                out[m++] = (ts_arg){ts_strndup(sel.data, sel.len), sel.len};
            }
            continue;
        }
        out[m++] = (ts_arg){ts_strndup(op, len), len};
    }
    ts_buf_free(&sel);
    if (open_at >= 0) {
        acl_args_free(out, m);
        *bad = open_at;
        return NULL;
    }
    *nout = m;
    return out;
}

void acl_args_free(ts_arg *v, int n)
{
    for (int i = 0; i < n; i++) free((char *)v[i].ptr);
    free(v);
}

int acl_user_apply_rules(ts_acl_user *u, int n, const ts_arg *rules, int pubsub_default, char *err, size_t errlen)
{
    int m = 0, bad = 0;
    ts_arg *merged = acl_merge_selectors(n, rules, &m, &bad);
    if (!merged) {
        snprintf(err, errlen, "Unmatched parenthesis in acl selector starting at '%.*s'.",
                 (int)strnlen(rules[bad].ptr, rules[bad].len), rules[bad].ptr);
        return -1;
    }
    int rc = 0;
    for (int j = 0; j < m && rc == 0; j++) {
        int code = acl_user_apply(u, merged[j].ptr, merged[j].len, pubsub_default);
        if (code != 0) {
            snprintf(err, errlen, "Error in ACL SETUSER modifier '%s': %s", merged[j].ptr, acl_error_text(code));
            rc = -1;
        }
    }
    acl_args_free(merged, m);
    return rc;
}

/* ---------- sdssplitargs for selectors ---------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Ends an unquoted argument. */
static bool split_blank(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\0'; }
/* isspace() of the C locale. */
static bool split_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static char **split_selector(const char *p, size_t len, int *n)
{
    const char *end = p + len;
    char **v = NULL;
    int cnt = 0;
    ts_buf tok;
    ts_buf_init(&tok);
    for (;;) {
        while (p < end && split_space(*p)) p++;
        if (p >= end) break;
        bool in_dq = false, in_sq = false, done = false;
        tok.len = 0;
        while (!done) {
            char c = p < end ? *p : '\0';
            if (in_dq) {
                if (p >= end) goto unbalanced;
                if (c == '\\' && end - p >= 4 && p[1] == 'x' && hexval(p[2]) >= 0 && hexval(p[3]) >= 0) {
                    ts_buf_putc(&tok, (char)(hexval(p[2]) * 16 + hexval(p[3])));
                    p += 3;
                } else if (c == '\\' && end - p >= 2) {
                    char e = p[1];
                    switch (e) {
                    case 'n': e = '\n'; break;
                    case 'r': e = '\r'; break;
                    case 't': e = '\t'; break;
                    case 'b': e = '\b'; break;
                    case 'a': e = '\a'; break;
                    default: break;
                    }
                    ts_buf_putc(&tok, e);
                    p++;
                } else if (c == '"') {
                    if (p + 1 < end && !split_space(p[1])) goto unbalanced;
                    done = true;
                } else {
                    ts_buf_putc(&tok, c);
                }
            } else if (in_sq) {
                if (p >= end) goto unbalanced;
                if (c == '\\' && end - p >= 2 && p[1] == '\'') {
                    ts_buf_putc(&tok, '\'');
                    p++;
                } else if (c == '\'') {
                    if (p + 1 < end && !split_space(p[1])) goto unbalanced;
                    done = true;
                } else {
                    ts_buf_putc(&tok, c);
                }
            } else if (p >= end || split_blank(c)) {
                done = true;
            } else if (c == '"') {
                in_dq = true;
            } else if (c == '\'') {
                in_sq = true;
            } else {
                ts_buf_putc(&tok, c);
            }
            if (p < end) p++;
        }
        v = ts_realloc(v, sizeof(char *) * (size_t)(cnt + 1));
        v[cnt++] = ts_strndup(tok.data ? tok.data : "", tok.len);
    }
    ts_buf_free(&tok);
    *n = cnt;
    return v;
unbalanced:
    ts_buf_free(&tok);
    acl_strv_free(v, cnt);
    *n = 0;
    return NULL;
}

