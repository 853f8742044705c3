/*
 * table.c - the command table (generated rows in command_table.inc), name
 * lookup, arity checks, key positions, the decoded key specs and Redis's
 * getkeys functions, and argument parsing helpers.
 *
 * Lookup is a small open-addressing hash of lower-cased names built once at
 * startup (ts_command_table_init, before any worker starts); afterwards it
 * is read-only and shared by all threads.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "tessera/proto/reply.h"
#include "tessera/route/acl.h"

static ts_command commands[] = {
#include "command_table.inc"
};

#define LOOKUP_SIZE 1024  /* power of two, > 2x the number of commands */
static const ts_command *lookup[LOOKUP_SIZE];

/* tolower() of the C locale (the server never changes LC_CTYPE), inline:
 * every request looks its command up. */
static inline unsigned char ascii_lower(unsigned char c)
{
    return (unsigned char)((unsigned)c - 'A' < 26u ? c + ('a' - 'A') : c);
}

static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) { h ^= ascii_lower((unsigned char)s[i]); h *= 16777619u; }
    return h;
}

static bool name_eq(const char *lower, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) if ((unsigned char)lower[i] != ascii_lower((unsigned char)s[i])) return false;
    return lower[n] == '\0';
}

/* Key extraction for commands whose keys are counted by a numkeys
 * argument (Redis's "keynum" key specs). A bad numkeys yields no keys: the
 * command then runs where it was received and replies Redis's error. */
static int keys_counted(int argc, const ts_arg *argv, int numkeys_at, int extra_key, int *pos, int max)
{
    long long nk;
    if (numkeys_at >= argc || !ts_arg_to_ll(argv[numkeys_at], &nk) || nk <= 0 || nk > argc - numkeys_at - 1)
        return 0;
    int n = 0;
    if (extra_key > 0 && n < max) pos[n++] = extra_key;
    for (int i = 0; i < nk && n < max; i++) pos[n++] = numkeys_at + 1 + i;
    return n;
}
/* ZUNION numkeys k..., SINTERCARD, LMPOP, ZMPOP */
static int keys_numkeys_at1(int argc, const ts_arg *argv, int *pos, int max)
{
    return keys_counted(argc, argv, 1, 0, pos, max);
}
/* EVAL script numkeys k... (and EVALSHA, the _RO forms) */
static int keys_numkeys_at2(int argc, const ts_arg *argv, int *pos, int max)
{
    return keys_counted(argc, argv, 2, 0, pos, max);
}
/* ZUNIONSTORE dst numkeys k... */
static int keys_dest_numkeys(int argc, const ts_arg *argv, int *pos, int max)
{
    return keys_counted(argc, argv, 2, 1, pos, max);
}
/* BLMPOP timeout numkeys k..., BZMPOP */
static int keys_timeout_numkeys(int argc, const ts_arg *argv, int *pos, int max)
{
    return keys_counted(argc, argv, 2, 0, pos, max);
}
/* XREAD/XREADGROUP ... STREAMS k1 .. kn id1 .. idn */
static int keys_streams(int argc, const ts_arg *argv, int *pos, int max)
{
    for (int i = 1; i < argc; i++) {
        /* Option arguments are skipped: GROUP streams c STREAMS k > names
         * a group "streams" (Redis's xreadGetKeys). */
        if (ts_arg_eq(argv[i], "block") || ts_arg_eq(argv[i], "count")) { i++; continue; }
        if (ts_arg_eq(argv[i], "group")) { i += 2; continue; }
        if (ts_arg_eq(argv[i], "noack")) continue;
        if (!ts_arg_eq(argv[i], "streams")) return 0;
        int rest = argc - i - 1;
        if (rest <= 0 || rest % 2) return 0;
        int n = 0;
        for (int k = 0; k < rest / 2 && n < max; k++) pos[n++] = i + 1 + k;
        return n;
    }
    return 0;
}

/* ---- Redis's getkeys_proc functions: the keys with their flags where the
 * key specs do not give them (ts_command_keys_with_flags). Not the
 * dispatcher's functions above: these follow Redis to the byte, atoi and
 * all, for ACL key checks and COMMAND GETKEYS; the dispatcher's need only
 * route the calls that will run. ---- */

static int put_key(ts_key_ref *out, int max, int n, int pos, uint32_t flags)
{
    if (n < max) out[n] = (ts_key_ref){.pos = pos, .flags = flags};
    return n + 1;
}

/* Redis's genericGetKeys: [dest] numkeys key...: numkeys read with atoi
 * (so "2x" counts 2), keys without flags (their specs have them; Redis
 * comes here only when the specs failed), the destination last. */
static int flagged_counted(int argc, const ts_arg *argv, int store_at, int numkeys_at, ts_key_ref *out, int max)
{
    if (numkeys_at >= argc) return 0;
    int num = ts_arg_atoi(argv[numkeys_at]), first = numkeys_at + 1;
    if (num < 1 || num > argc - first) return 0;   /* the command will reply a syntax error */
    int n = 0;
    for (int i = 0; i < num; i++) n = put_key(out, max, n, first + i, 0);
    if (store_at) n = put_key(out, max, n, store_at, 0);
    return n;
}
/* ZUNION numkeys k..., ZINTER, ZDIFF, ZINTERCARD, SINTERCARD, LMPOP, ZMPOP */
static int flagged_numkeys_at1(int argc, const ts_arg *argv, ts_key_ref *out, int max)
{
    return flagged_counted(argc, argv, 0, 1, out, max);
}
/* ZUNIONSTORE dst numkeys k..., ZINTERSTORE, ZDIFFSTORE */
static int flagged_dest_numkeys(int argc, const ts_arg *argv, ts_key_ref *out, int max)
{
    return flagged_counted(argc, argv, 1, 2, out, max);
}
/* BLMPOP timeout numkeys k..., BZMPOP */
static int flagged_timeout_numkeys(int argc, const ts_arg *argv, ts_key_ref *out, int max)
{
    return flagged_counted(argc, argv, 0, 2, out, max);
}
/* Redis's xreadGetKeys: the options skipped, then STREAMS k1..kn id1..idn;
 * no flags. */
static int flagged_streams(int argc, const ts_arg *argv, ts_key_ref *out, int max)
{
    int streams_at = -1;
    for (int i = 1; i < argc; i++) {
        if (ts_arg_cstr_eq(argv[i], "block") || ts_arg_cstr_eq(argv[i], "count")) i++;
        else if (ts_arg_cstr_eq(argv[i], "group")) i += 2;
        else if (ts_arg_cstr_eq(argv[i], "noack")) continue;
        else if (ts_arg_cstr_eq(argv[i], "streams")) { streams_at = i; break; }
        else break;
    }
    int rest = streams_at < 0 ? 0 : argc - streams_at - 1;
    if (rest == 0 || rest % 2) return 0;
    int n = 0;
    for (int k = 0; k < rest / 2; k++) n = put_key(out, max, n, streams_at + 1 + k, 0);
    return n;
}
/* Redis's setGetKeys (SET's spec has VARIABLE_FLAGS): with GET the key is
 * read too. */
static int flagged_set(int argc, const ts_arg *argv, ts_key_ref *out, int max)
{
    uint32_t flags = TS_KEY_OW | TS_KEY_UPDATE;
    for (int i = 3; i < argc; i++) {
        if (ts_arg_cstr_eq(argv[i], "get")) {
            flags = TS_KEY_RW | TS_KEY_ACCESS | TS_KEY_UPDATE;
            break;
        }
    }
    return put_key(out, max, 0, 1, flags);
}

/* Redis's sortGetKeys: the key, then the last STORE's destination found
 * by skipping LIMIT's two arguments and GET's and BY's one. */
static int flagged_sort(int argc, const ts_arg *argv, ts_key_ref *out, int max)
{
    int n = put_key(out, max, 0, 1, TS_KEY_RO | TS_KEY_ACCESS), store = 0;
    for (int i = 2; i < argc; i++) {
        if (ts_arg_cstr_eq(argv[i], "limit")) i += 2;
        else if (ts_arg_cstr_eq(argv[i], "get") || ts_arg_cstr_eq(argv[i], "by")) i += 1;
        else if (ts_arg_cstr_eq(argv[i], "store") && i + 1 < argc) store = i + 1;
    }
    return store ? put_key(out, max, n, store, TS_KEY_OW | TS_KEY_UPDATE) : n;
}
/* Redis's sortROGetKeys: the key alone. */
static int flagged_sort_ro(int argc, const ts_arg *argv, ts_key_ref *out, int max)
{
    (void)argc;
    (void)argv;
    return put_key(out, max, 0, 1, TS_KEY_RO | TS_KEY_ACCESS);
}
/* The dispatcher's SORT keys: where it runs (the key and STORE's). */
static int keys_sort(int argc, const ts_arg *argv, int *pos, int max)
{
    ts_key_ref refs[2];
    int n = flagged_sort(argc, argv, refs, 2);
    for (int i = 0; i < n && i < max; i++) pos[i] = refs[i].pos;
    return n < max ? n : max;
}

static const struct { const char *name; ts_getkeys_flags_fn *fn; } getkeys_flags_by_name[] = {
    {"sort", flagged_sort}, {"sort_ro", flagged_sort_ro},
    {"zunion", flagged_numkeys_at1}, {"zinter", flagged_numkeys_at1}, {"zdiff", flagged_numkeys_at1},
    {"zintercard", flagged_numkeys_at1}, {"sintercard", flagged_numkeys_at1}, {"lmpop", flagged_numkeys_at1},
    {"zmpop", flagged_numkeys_at1}, {"zunionstore", flagged_dest_numkeys}, {"zinterstore", flagged_dest_numkeys},
    {"zdiffstore", flagged_dest_numkeys}, {"blmpop", flagged_timeout_numkeys},
    {"bzmpop", flagged_timeout_numkeys}, {"xread", flagged_streams}, {"xreadgroup", flagged_streams},
    {"set", flagged_set},
};

static const struct { const char *name; ts_getkeys_fn *fn; } getkeys_by_name[] = {
    {"sort", keys_sort},
    {"zunion", keys_numkeys_at1}, {"zinter", keys_numkeys_at1}, {"zdiff", keys_numkeys_at1},
    {"zintercard", keys_numkeys_at1}, {"sintercard", keys_numkeys_at1}, {"lmpop", keys_numkeys_at1},
    {"zmpop", keys_numkeys_at1}, {"zunionstore", keys_dest_numkeys}, {"zinterstore", keys_dest_numkeys},
    {"zdiffstore", keys_dest_numkeys}, {"blmpop", keys_timeout_numkeys}, {"bzmpop", keys_timeout_numkeys},
    {"xread", keys_streams}, {"xreadgroup", keys_streams},
    {"eval", keys_numkeys_at2}, {"evalsha", keys_numkeys_at2}, {"eval_ro", keys_numkeys_at2},
    {"evalsha_ro", keys_numkeys_at2}, {"fcall", keys_numkeys_at2}, {"fcall_ro", keys_numkeys_at2},
};

/* Every command's decoded key specs (about one per command today; a
 * command with more than the pool holds panics at init). */
static ts_key_spec spec_pool[TS_ARRAY_LEN(commands) * 2];

void ts_command_table_init(void)
{
    _Static_assert(TS_ARRAY_LEN(commands) * 2 < LOOKUP_SIZE, "grow LOOKUP_SIZE");
    int pool_used = 0;
    for (size_t i = 0; i < TS_ARRAY_LEN(commands); i++) {
        ts_command *c = &commands[i];
        c->id = (uint16_t)i;
        c->nspecs = ts_key_specs_decode(c->key_specs, spec_pool + pool_used, (int)TS_ARRAY_LEN(spec_pool) - pool_used);
        c->specs = c->nspecs ? spec_pool + pool_used : NULL;
        pool_used += c->nspecs;
        for (size_t j = 0; j < TS_ARRAY_LEN(getkeys_flags_by_name); j++)
            if (!strcmp(c->name, getkeys_flags_by_name[j].name)) c->getkeys_flags = getkeys_flags_by_name[j].fn;
        int acl_id = ts_acl_command_id(c->name);
        if (acl_id < 0) ts_panic("command %s is not in Redis 7.0's command set (route/acl_commands.inc)", c->name);
        c->acl_id = (int16_t)acl_id;
        static const char *shared[] = {"info", "client|list", "client|kill", "config|resetstat"};
        static const char *quiet[] = {"move", "copy", "scan"};
        if (!strcmp(c->name, "debug") || !strncmp(c->name, "debug|", 6)) c->protected_cmd = true;
        if (!strcmp(c->name, "shutdown")) c->always_txn = true;
        static const char *squash[] = {"mget", "mset", "del", "unlink", "exists", "touch"};
        for (size_t j = 0; j < TS_ARRAY_LEN(squash); j++)
            if (!strcmp(c->name, squash[j])) c->squashable = true;
        for (size_t j = 0; j < TS_ARRAY_LEN(getkeys_by_name); j++)
            if (!strcmp(c->name, getkeys_by_name[j].name)) c->getkeys = getkeys_by_name[j].fn;
        c->txn_mode = c->route == TS_ROUTE_ALL ? TS_TXN_EXCLUSIVE : TS_TXN_KEYS;
        for (size_t j = 0; j < TS_ARRAY_LEN(shared); j++)
            if (!strcmp(c->name, shared[j])) c->txn_mode = TS_TXN_SHARED;
        if (!strcmp(c->name, "sort") || !strcmp(c->name, "sort_ro")) {
            c->wide_keys = ts_sort_wide_keys;
            c->any_key_option = ts_sort_any_key_option;
            c->txn_mode = TS_TXN_EXCLUSIVE;   /* only when wide: keyed txns pass their keys */
        }
        for (size_t j = 0; j < TS_ARRAY_LEN(quiet); j++)
            if (!strcmp(c->name, quiet[j])) c->quiet_shard = true;
        static const char *scripts[] = {"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"};
        for (size_t j = 0; j < TS_ARRAY_LEN(scripts); j++) {
            if (strcmp(c->name, scripts[j]) != 0) continue;
            c->script = true;
            c->txn_mode = TS_TXN_EXCLUSIVE;   /* a txn without keys holds every shard (G) */
        }
        uint32_t h = name_hash(c->name, strlen(c->name)) & (LOOKUP_SIZE - 1);
        while (lookup[h]) h = (h + 1) & (LOOKUP_SIZE - 1);
        lookup[h] = c;
        const char *bar = strchr(c->name, '|');
        if (bar) {
            /* Mark the parent as a container. */
            for (size_t j = 0; j < TS_ARRAY_LEN(commands); j++) {
                size_t plen = (size_t)(bar - c->name);
                if (strlen(commands[j].name) == plen && memcmp(commands[j].name, c->name, plen) == 0)
                    commands[j].subcommands = commands;   /* non-NULL: has subcommands */
            }
        }
    }
}

static const ts_command *lookup_name(const char *name, size_t len)
{
    uint32_t h = name_hash(name, len) & (LOOKUP_SIZE - 1);
    while (lookup[h]) {
        if (name_eq(lookup[h]->name, name, len)) return lookup[h];
        h = (h + 1) & (LOOKUP_SIZE - 1);
    }
    return NULL;
}

const ts_command *ts_command_lookup(const char *name, size_t len)
{
    if (len == 0 || len > 64 || memchr(name, '|', len)) return NULL;
    return lookup_name(name, len);
}

const ts_command *ts_command_lookup_sub(const ts_command *parent, const char *name, size_t len)
{
    char full[160];
    size_t plen = strlen(parent->name);
    if (len == 0 || len > 64 || memchr(name, '|', len)) return NULL;
    memcpy(full, parent->name, plen);
    full[plen] = '|';
    memcpy(full + plen + 1, name, len);
    return lookup_name(full, plen + 1 + len);
}

void ts_command_bind(const char *name, ts_cmd_fn *run, const ts_txn_ops *multi)
{
    for (size_t i = 0; i < TS_ARRAY_LEN(commands); i++) {
        if (strcmp(commands[i].name, name) != 0) continue;
        commands[i].run = run;
        commands[i].multi = multi;
        return;
    }
    ts_panic("ts_command_bind: no command %s", name);
}

void ts_command_table_check(void)
{
    for (size_t i = 0; i < TS_ARRAY_LEN(commands); i++)
        if (!commands[i].run) ts_panic("command %s has no implementation (ts_command_bind)", commands[i].name);
}

int ts_command_count(void) { return (int)TS_ARRAY_LEN(commands); }
const ts_command *ts_command_at(int i) { return &commands[i]; }

const char *ts_arg_to_int(ts_arg a, int *out)
{
    long long v;
    if (!ts_arg_to_ll(a, &v)) return TS_ERR_NOT_INT;
    if (v < INT_MIN || v > INT_MAX) return "ERR value is out of range, value must between -2147483648 and 2147483647";
    *out = (int)v;
    return NULL;
}

enum { NUMBER_TEXT = 256 };   /* buffer for a number's text, with its NUL */

/* a as a C string in buf, for strtod/strtold; false when a is empty,
 * does not fit, or starts with a space (Redis refuses those numbers). */
static bool arg_to_number_text(ts_arg a, char buf[NUMBER_TEXT])
{
    if (a.len == 0 || a.len >= NUMBER_TEXT || isspace((unsigned char)a.ptr[0])) return false;
    memcpy(buf, a.ptr, a.len);
    buf[a.len] = '\0';
    return true;
}

/* Like Redis's string2d / string2ld: the whole argument must parse, no
 * leading space, no NaN. */
bool ts_arg_to_double(ts_arg a, double *out)
{
    char buf[NUMBER_TEXT];
    if (!arg_to_number_text(a, buf)) return false;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if ((size_t)(end - buf) != a.len || (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO)) || isnan(v))
        return false;
    *out = v;
    return true;
}

bool ts_arg_to_long_double(ts_arg a, long double *out)
{
    char buf[NUMBER_TEXT];
    if (!arg_to_number_text(a, buf)) return false;
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if ((size_t)(end - buf) != a.len || errno == ERANGE || isnan(v)) return false;
    *out = v;
    return true;
}

bool ts_arg_to_cursor(ts_arg a, uint64_t *out)
{
    const char *nul = memchr(a.ptr, '\0', a.len);
    size_t n = nul ? (size_t)(nul - a.ptr) : a.len, i = 0;
    if (n == 0) { *out = 0; return true; }
    if (isspace((unsigned char)a.ptr[0])) return false;
    bool neg = a.ptr[0] == '-';
    if (neg || a.ptr[0] == '+') i = 1;
    if (i == n) return false;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (a.ptr[i] < '0' || a.ptr[i] > '9') return false;
        unsigned d = (unsigned)(a.ptr[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = neg ? 0 - v : v;
    return true;
}

/* Like Redis's getRangeLongFromObjectOrReply(1, LONG_MAX, msg): any bad
 * value gets msg. */
static bool positive_or_reply(ts_cmd_ctx *c, ts_arg a, const char *msg, long long *out)
{
    if (!ts_arg_to_ll(a, out) || *out < 1) {
        ts_reply_error(c->r, msg);
        return false;
    }
    return true;
}

bool ts_parse_mpop(ts_cmd_ctx *c, int numkeys_at, const char *w0, const char *w1, ts_mpop_args *o)
{
    long long numkeys, count = -1;
    if (!positive_or_reply(c, c->argv[numkeys_at], "ERR numkeys should be greater than 0", &numkeys)) return false;
    /* No room for the keys and the direction (and no overflow below). */
    if (numkeys > c->argc - numkeys_at - 2) { ts_reply_error(c->r, TS_ERR_SYNTAX); return false; }
    int where_at = numkeys_at + 1 + (int)numkeys;
    if (ts_arg_eq(c->argv[where_at], w0)) o->second_word = false;
    else if (ts_arg_eq(c->argv[where_at], w1)) o->second_word = true;
    else { ts_reply_error(c->r, TS_ERR_SYNTAX); return false; }
    for (int j = where_at + 1; j < c->argc; j++) {
        if (count == -1 && ts_arg_eq(c->argv[j], "count") && j + 1 < c->argc) {
            if (!positive_or_reply(c, c->argv[++j], "ERR count should be greater than 0", &count)) return false;
        } else {
            ts_reply_error(c->r, TS_ERR_SYNTAX);
            return false;
        }
    }
    o->first_key = numkeys_at + 1;
    o->nkeys = (int)numkeys;
    o->count = count == -1 ? 1 : (count > LONG_MAX ? LONG_MAX : (long)count);
    return true;
}

/* HRANDFIELD/ZRANDMEMBER count [WITHVALUES|WITHSCORES] (cmds.h). */
bool ts_parse_rand_count(ts_cmd_ctx *c, const char *with, long long *count, bool *with_given)
{
    /* Redis's getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX) */
    if (!ts_arg_to_ll(c->argv[2], count)) { ts_reply_error(c->r, TS_ERR_NOT_INT); return false; }
    if (*count < -LLONG_MAX) {
        ts_reply_error(c->r, "ERR value is out of range, value must between -9223372036854775807 and "
                             "9223372036854775807");
        return false;
    }
    if (c->argc > 4 || (c->argc == 4 && !ts_arg_eq(c->argv[3], with))) {
        ts_reply_error(c->r, TS_ERR_SYNTAX);
        return false;
    }
    *with_given = c->argc == 4;
    /* the reply holds twice as many elements */
    if (*with_given && (*count < -LLONG_MAX / 2 || *count > LLONG_MAX / 2)) {
        ts_reply_error(c->r, "ERR value is out of range");
        return false;
    }
    return true;
}

/* The SCAN family's [MATCH] [COUNT] ([TYPE]) options (cmds.h). */
bool ts_parse_scan_opts(ts_cmd_ctx *c, int from, bool with_type, ts_scan_opts *o)
{
    *o = (ts_scan_opts){.count = 10};
    for (int i = from; i < c->argc; i += 2) {
        ts_arg opt = c->argv[i];
        if (i + 1 >= c->argc) {
            ts_reply_error(c->r, TS_ERR_SYNTAX);
            return false;
        }
        ts_arg val = c->argv[i + 1];
        if (ts_arg_eq(opt, "count")) {
            if (!ts_arg_to_ll(val, &o->count)) {
                ts_reply_error(c->r, TS_ERR_NOT_INT);
                return false;
            }
            if (o->count < 1) {
                ts_reply_error(c->r, TS_ERR_SYNTAX);
                return false;
            }
        } else if (ts_arg_eq(opt, "match")) {
            bool all = val.len == 1 && val.ptr[0] == '*';
            o->pattern = all ? (ts_arg){NULL, 0} : val;
        } else if (with_type && ts_arg_eq(opt, "type")) {
            o->type = val;
        } else {
            ts_reply_error(c->r, TS_ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

/* Redis's shared.emptyscan: ["0", []]. */
void ts_reply_empty_scan(ts_cmd_ctx *c)
{
    ts_reply_array(c->r, 2);
    ts_reply_bulk(c->r, "0", 1);
    ts_reply_array(c->r, 0);
}
