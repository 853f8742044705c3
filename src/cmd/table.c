/*
 * table.c - the command table (generated rows in command_table.inc), name
 * lookup, arity checks, key positions, and argument parsing helpers.
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
#include "tessera/reply.h"

static ts_command commands[] = {
#include "command_table.inc"
};

#define LOOKUP_SIZE 512   /* power of two, > 2x the number of commands */
static const ts_command *lookup[LOOKUP_SIZE];

static uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) { h ^= (uint8_t)tolower((unsigned char)s[i]); h *= 16777619u; }
    return h;
}

static bool name_eq(const char *lower, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) if (lower[i] != tolower((unsigned char)s[i])) return false;
    return lower[n] == '\0';
}

void ts_command_table_init(void)
{
    _Static_assert(TS_ARRAY_LEN(commands) * 2 < LOOKUP_SIZE, "grow LOOKUP_SIZE");
    for (size_t i = 0; i < TS_ARRAY_LEN(commands); i++) {
        ts_command *c = &commands[i];
        c->id = (uint16_t)i;
        static const char *shared[] = {"info", "client|list", "client|kill", "config|set", "config|resetstat"};
        static const char *quiet[] = {"move", "copy", "scan"};
        static const char *squash[] = {"mget", "mset", "del", "unlink", "exists", "touch"};
        for (size_t j = 0; j < TS_ARRAY_LEN(squash); j++)
            if (!strcmp(c->name, squash[j])) c->squashable = true;
        c->txn_mode = c->route == TS_ROUTE_ALL ? TS_TXN_EXCLUSIVE : TS_TXN_KEYS;
        for (size_t j = 0; j < TS_ARRAY_LEN(shared); j++)
            if (!strcmp(c->name, shared[j])) c->txn_mode = TS_TXN_SHARED;
        for (size_t j = 0; j < TS_ARRAY_LEN(quiet); j++)
            if (!strcmp(c->name, quiet[j])) c->quiet_shard = true;
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

int ts_command_count(void) { return (int)TS_ARRAY_LEN(commands); }
const ts_command *ts_command_at(int i) { return &commands[i]; }

bool ts_command_check_arity(const ts_command *cmd, int argc, const ts_arg *argv, ts_reply *r)
{
    (void)argv;
    if ((cmd->arity > 0 && argc != cmd->arity) || (cmd->arity < 0 && argc < -cmd->arity)) {
        ts_reply_errorf(r, "ERR wrong number of arguments for '%s' command", cmd->name);
        return false;
    }
    return true;
}

int ts_command_keys(const ts_command *cmd, int argc, const ts_arg *argv, int *pos, int max)
{
    if (cmd->getkeys) return cmd->getkeys(argc, argv, pos, max);
    if (cmd->first_key <= 0) return 0;
    int last = cmd->last_key >= 0 ? cmd->last_key : argc + cmd->last_key;
    int n = 0;
    for (int i = cmd->first_key; i <= last && i < argc && n < max; i += cmd->key_step) pos[n++] = i;
    return n;
}

bool ts_arg_eq(ts_arg a, const char *lit)
{
    size_t n = strlen(lit);
    return a.len == n && strncasecmp(a.ptr, lit, n) == 0;
}

const char *ts_arg_to_int(ts_arg a, int *out)
{
    long long v;
    if (!ts_arg_to_ll(a, &v)) return TS_ERR_NOT_INT;
    if (v < INT_MIN || v > INT_MAX) return "ERR value is out of range, value must between -2147483648 and 2147483647";
    *out = (int)v;
    return NULL;
}

/* Like Redis's string2d / string2ld: the whole argument must parse, no
 * leading space, no NaN. */
bool ts_arg_to_double(ts_arg a, double *out)
{
    char buf[256];
    if (a.len == 0 || a.len >= sizeof(buf) || isspace((unsigned char)a.ptr[0])) return false;
    memcpy(buf, a.ptr, a.len);
    buf[a.len] = '\0';
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
    char buf[256];
    if (a.len == 0 || a.len >= sizeof(buf) || isspace((unsigned char)a.ptr[0])) return false;
    memcpy(buf, a.ptr, a.len);
    buf[a.len] = '\0';
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if ((size_t)(end - buf) != a.len || errno == ERANGE || isnan(v)) return false;
    *out = v;
    return true;
}
