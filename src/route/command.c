/*
 * command.c - what the descriptor says about a call: its key positions
 * (for dispatch), its keys with their key spec flags (for ACL key checks
 * and COMMAND GETKEYS/GETKEYSANDFLAGS), and whether its argument count
 * fits (command.h); and the decoder of the key_specs strings.
 *
 * Thread: any; descriptors are const once the table is initialised. The
 * decoder runs on the main thread at table init (cmd/table.c).
 *
 * Why two key functions: dispatch needs positions only, on every request,
 * from first/last/step (ts_command_keys, kept as small as it is); key
 * checks need Redis 7.0's exact keys and flags, which come from the key
 * specs (ts_command_keys_with_flags), decoded once from the generated
 * COMMAND INFO encoding so that no call parses a string.
 */
#include <limits.h>
#include <string.h>

#include "tessera/route/command.h"
#include "tessera/util/strconv.h"

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

/* ---------- keys with flags (Redis 7.0's getKeysFromCommandWithSpecs) ---------- */

static const char *const key_flag_names[TS_KEY_FLAG_COUNT] = {
    "RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key", "incomplete", "variable_flags",
};

const char *ts_key_flag_name(int bit)
{
    TS_ASSERT(bit >= 0 && bit < TS_KEY_FLAG_COUNT);
    return key_flag_names[bit];
}

/* The OR of the flags of every spec, or of their complements (Redis's
 * getAllKeySpecsFlags). */
static uint32_t all_spec_flags(const ts_command *cmd, bool inverted)
{
    uint32_t f = 0;
    for (int j = 0; j < cmd->nspecs; j++) f |= inverted ? ~(uint32_t)cmd->specs[j].flags : cmd->specs[j].flags;
    return f;
}

bool ts_command_has_keys(const ts_command *cmd)
{
    return cmd->getkeys_flags || (all_spec_flags(cmd, true) & TS_KEY_NOT_KEY);
}

/* Where spec s starts in this call: the argument after its keyword, or its
 * index; 0 when the keyword is not there. Redis's search skips the bound it
 * runs towards: a keyword searched forwards is never the last argument
 * (no room for a key after it), one searched backwards never argument 1. */
static long spec_start(const ts_key_spec *s, int argc, const ts_arg *argv)
{
    if (s->begin_search == TS_KSPEC_BS_INDEX) return s->bs.index.pos;
    long from = s->bs.keyword.startfrom;
    long start = from > 0 ? from : argc + from;
    long end = from > 0 ? argc - 1 : 1;
    for (long i = start; i != end; i = start <= end ? i + 1 : i - 1) {
        if (i >= argc || i < 1) break;
        if (ts_arg_cstr_eq(argv[i], s->bs.keyword.keyword)) return i + 1;
    }
    return 0;
}

/* The keys of the specs (Redis's getKeysUsingKeySpecs without search
 * flags); -1 when a spec cannot find them, the caller then falls back to
 * the getkeys function. Arithmetic is in long long so that no argument
 * count or numkeys can overflow it. */
static int keys_from_specs(const ts_command *cmd, int argc, const ts_arg *argv, ts_key_ref *out, int max)
{
    int n = 0;
    for (int j = 0; j < cmd->nspecs; j++) {
        const ts_key_spec *s = &cmd->specs[j];
        if (s->flags & TS_KEY_NOT_KEY) continue;
        if (s->begin_search != TS_KSPEC_BS_INDEX && s->begin_search != TS_KSPEC_BS_KEYWORD) return -1;
        long long first = spec_start(s, argc, argv), last, step;
        if (first == 0) continue;   /* keyword not found: this spec has no keys, the others still count */
        if (s->find_keys == TS_KSPEC_FK_RANGE) {
            step = s->fk.range.keystep;
            if (s->fk.range.lastkey >= 0) last = first + s->fk.range.lastkey;
            else if (s->fk.range.limit == 0) last = argc + s->fk.range.lastkey;
            /* lastkey -1 with a limit: the 1/limit-th of the rest (XREAD's
             * keys, then as many IDs); C division, like Redis's */
            else last = first + ((argc - first) / s->fk.range.limit + s->fk.range.lastkey);
        } else if (s->find_keys == TS_KSPEC_FK_KEYNUM) {
            step = s->fk.keynum.keystep;
            long long at = first + s->fk.keynum.keynumidx;
            long long numkeys;
            /* Redis checks keynumidx against argc only; built-in commands'
             * arities keep `at` inside too, this keeps any caller inside. */
            if (s->fk.keynum.keynumidx >= argc || at >= argc) return -1;
            if (!ts_arg_to_ll(argv[at], &numkeys) || numkeys < 0) return -1;
            first += s->fk.keynum.firstkey;
            /* Redis adds (int)numkeys: a count of 2^32+2 finds 2 keys */
            last = first + ts_ll_to_int_wrap(numkeys) - 1;
        } else {
            return -1;
        }
        if (last >= argc || last < first || first >= argc) return -1;   /* a syntax error: keys past the end */
        for (long long i = first; i <= last; i += step) {
            if (n < max) out[n] = (ts_key_ref){.pos = (int)i, .flags = s->flags};
            n++;
        }
        /* Its keys were found, but maybe not all: the getkeys function
         * decides for the whole call. */
        if (s->flags & TS_KEY_INCOMPLETE) return -1;
    }
    return n;
}

int ts_command_keys_with_flags(const ts_command *cmd, int argc, const ts_arg *argv, ts_key_ref *out, int max)
{
    bool has_keyspec = all_spec_flags(cmd, true) & TS_KEY_NOT_KEY;
    bool variable_flags = all_spec_flags(cmd, false) & TS_KEY_VARIABLE_FLAGS;
    if (has_keyspec && !variable_flags) {
        int n = keys_from_specs(cmd, argc, argv, out, max);
        if (n >= 0) return n;
    }
    /* The getkeys functions give flags only where the specs cannot (Redis:
     * "not all these native getkeys provide flags properly"): a numkeys
     * command's fallback gives 0. */
    if (cmd->getkeys_flags) return cmd->getkeys_flags(argc, argv, out, max);
    return 0;
}

/* ---------- decoding key_specs ---------- */

/* A reader of reply.h's tree encoding; the strings are generated, so
 * anything unexpected is a bug: it panics, naming the place. */
typedef struct tree_rd {
    const char *p, *start;
} tree_rd;

__attribute__((noreturn)) static void bad(const tree_rd *t, const char *what)
{
    ts_panic("key_specs: %s at offset %ld: \"%.40s\"", what, (long)(t->p - t->start), t->p);
}

/* A number after `kind` up to '\n' ("~2\n", ":-1\n"). */
static long rd_number(tree_rd *t, char kind)
{
    if (*t->p != kind) bad(t, "unexpected element");
    const char *q = t->p + 1;
    bool neg = *q == '-';
    if (neg) q++;
    long v = 0;
    if (*q < '0' || *q > '9') bad(t, "bad number");
    for (; *q >= '0' && *q <= '9'; q++) {
        if (v > (INT_MAX - (*q - '0')) / 10) bad(t, "number out of range");
        v = v * 10 + (*q - '0');
    }
    if (*q != '\n') bad(t, "bad number");
    t->p = q + 1;
    return neg ? -v : v;
}

static ts_arg rd_bulk(tree_rd *t)
{
    long n = rd_number(t, '$');
    if (n < 0 || strnlen(t->p, (size_t)n) != (size_t)n) bad(t, "bad bulk string");
    ts_arg a = {t->p, (size_t)n};
    t->p += n;
    return a;
}

static ts_arg rd_status(tree_rd *t)
{
    if (*t->p != '+') bad(t, "unexpected element");
    const char *end = strchr(t->p, '\n');
    if (!end) bad(t, "unterminated status");
    ts_arg a = {t->p + 1, (size_t)(end - t->p - 1)};
    t->p = end + 1;
    return a;
}

static int rd_int(tree_rd *t) { return (int)rd_number(t, ':'); }

static bool is(ts_arg a, const char *lit) { return a.len == strlen(lit) && memcmp(a.ptr, lit, a.len) == 0; }

static uint16_t rd_flags(tree_rd *t)
{
    uint16_t flags = 0;
    for (long n = rd_number(t, '~'); n > 0; n--) {
        ts_arg name = rd_status(t);
        int bit = 0;
        while (bit < TS_KEY_FLAG_COUNT && !is(name, key_flag_names[bit])) bit++;
        if (bit == TS_KEY_FLAG_COUNT) bad(t, "unknown key spec flag");
        flags |= (uint16_t)(1u << bit);
    }
    return flags;
}

/* The "spec" map of begin_search or find_keys: name -> integer (or the
 * keyword's bulk string), every field its type has, once, and no other. */
static void rd_spec_fields(tree_rd *t, ts_key_spec *s, bool begin)
{
    const char *names[3] = {NULL, NULL, NULL};
    int *fields[3] = {NULL, NULL, NULL};   /* NULL: the keyword (a string) */
    int nf = 0;
    if (begin && s->begin_search == TS_KSPEC_BS_INDEX) {
        names[0] = "index", fields[0] = &s->bs.index.pos, nf = 1;
    } else if (begin && s->begin_search == TS_KSPEC_BS_KEYWORD) {
        names[0] = "keyword", names[1] = "startfrom", fields[1] = &s->bs.keyword.startfrom, nf = 2;
    } else if (!begin && s->find_keys == TS_KSPEC_FK_RANGE) {
        names[0] = "lastkey", names[1] = "keystep", names[2] = "limit", nf = 3;
        fields[0] = &s->fk.range.lastkey, fields[1] = &s->fk.range.keystep, fields[2] = &s->fk.range.limit;
    } else if (!begin && s->find_keys == TS_KSPEC_FK_KEYNUM) {
        names[0] = "keynumidx", names[1] = "firstkey", names[2] = "keystep", nf = 3;
        fields[0] = &s->fk.keynum.keynumidx, fields[1] = &s->fk.keynum.firstkey, fields[2] = &s->fk.keynum.keystep;
    }
    if (rd_number(t, '%') != nf) bad(t, "wrong number of spec fields");
    unsigned seen = 0;
    for (int j = 0; j < nf; j++) {
        ts_arg name = rd_bulk(t);
        int f = 0;
        while (f < nf && !is(name, names[f])) f++;
        if (f == nf || (seen & (1u << f))) bad(t, "unknown or repeated spec field");
        seen |= 1u << f;
        if (fields[f]) {
            *fields[f] = rd_int(t);
        } else {
            ts_arg w = rd_bulk(t);
            if (w.len == 0 || w.len >= sizeof(s->bs.keyword.keyword)) bad(t, "keyword empty or too long");
            memcpy(s->bs.keyword.keyword, w.ptr, w.len);
            s->bs.keyword.keyword[w.len] = '\0';
        }
    }
}

/* begin_search or find_keys: {type: ..., spec: {...}}, type first. */
static void rd_search(tree_rd *t, ts_key_spec *s, bool begin)
{
    if (rd_number(t, '%') != 2 || !is(rd_bulk(t), "type")) bad(t, "expected {type, spec}");
    ts_arg type = rd_bulk(t);
    if (begin) {
        s->begin_search = is(type, "index") ? TS_KSPEC_BS_INDEX : is(type, "keyword") ? TS_KSPEC_BS_KEYWORD
                        : is(type, "unknown") ? TS_KSPEC_BS_UNKNOWN : 0;
        if (!s->begin_search) bad(t, "unknown begin_search type");
    } else {
        s->find_keys = is(type, "range") ? TS_KSPEC_FK_RANGE : is(type, "keynum") ? TS_KSPEC_FK_KEYNUM
                     : is(type, "unknown") ? TS_KSPEC_FK_UNKNOWN : 0;
        if (!s->find_keys) bad(t, "unknown find_keys type");
    }
    if (!is(rd_bulk(t), "spec")) bad(t, "expected spec");
    rd_spec_fields(t, s, begin);
}

int ts_key_specs_decode(const char *enc, ts_key_spec *out, int max)
{
    tree_rd t = {enc, enc};
    long n = rd_number(&t, '~');
    if (n < 0 || n > max) bad(&t, "more key specs than room");
    for (long i = 0; i < n; i++) {
        ts_key_spec *s = &out[i];
        memset(s, 0, sizeof(*s));
        for (long pairs = rd_number(&t, '%'); pairs > 0; pairs--) {
            ts_arg field = rd_bulk(&t);
            if (is(field, "notes")) rd_bulk(&t);
            else if (is(field, "flags")) s->flags = rd_flags(&t);
            else if (is(field, "begin_search")) rd_search(&t, s, true);
            else if (is(field, "find_keys")) rd_search(&t, s, false);
            else bad(&t, "unknown key spec field");
        }
        if (!s->begin_search || !s->find_keys) bad(&t, "key spec without begin_search or find_keys");
        /* What keys_from_specs relies on (and Redis asserts). */
        int step = s->find_keys == TS_KSPEC_FK_RANGE ? s->fk.range.keystep
                 : s->find_keys == TS_KSPEC_FK_KEYNUM ? s->fk.keynum.keystep : 1;
        if (step < 1) bad(&t, "keystep below 1");
        if (s->find_keys == TS_KSPEC_FK_RANGE && s->fk.range.lastkey < 0 && s->fk.range.limit != 0 &&
            (s->fk.range.lastkey != -1 || s->fk.range.limit < 0))
            bad(&t, "range limit needs lastkey -1");
        if (s->find_keys == TS_KSPEC_FK_KEYNUM && (s->fk.keynum.keynumidx < 0 || s->fk.keynum.firstkey < 0))
            bad(&t, "negative keynum offsets");
        if (s->begin_search == TS_KSPEC_BS_INDEX && s->bs.index.pos < 1) bad(&t, "index below 1");
    }
    if (*t.p) bad(&t, "trailing data");
    return (int)n;
}
