/*
 * command.c (unit test) - key specs: decoding the generated key_specs
 * strings (ts_key_specs_decode), and the keys of a call with their flags
 * (ts_command_keys_with_flags) on the real table and on descriptors built
 * from Redis 7.0's specs of commands Tessera does not have (GEORADIUS's
 * STORE keywords, EVAL's numkeys, MIGRATE's backwards KEYS search, SORT's
 * unknown specs, SPUBLISH's NOT_KEY, BITFIELD's VARIABLE_FLAGS).
 *
 * Single-threaded. The expected keys and flags are what redis-server
 * 7.0.15's COMMAND GETKEYSANDFLAGS replies for the same calls (the
 * integration test test_keyspecs.py compares every command Tessera has
 * with a live one).
 */
#include <stdio.h>
#include <string.h>

#include "tessera/cmd/cmd.h"
#include "tessera/route/command.h"

#include "ts_test.h"

/* Splits a line on spaces ('' is an empty argument); the slices point
 * into line. */
static int split(const char *line, ts_arg *argv, int max)
{
    int n = 0;
    const char *p = line;
    while (*p && n < max) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        argv[n++] = len == 2 && p[0] == '\'' && p[1] == '\'' ? (ts_arg){p, 0} : (ts_arg){p, len};
        p += len;
        while (*p == ' ') p++;
    }
    return n;
}

/* "key flag|flag; key2 -" (- for no flags), plus " (n=N)" when more keys
 * were found than out had room for. */
static const char *render(const ts_command *cmd, int argc, const ts_arg *argv, int max)
{
    static char buf[2048];
    ts_key_ref refs[64];
    int n = ts_command_keys_with_flags(cmd, argc, argv, refs, max);
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && i < max; i++) {
        ts_arg k = argv[refs[i].pos];
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%.*s ", i ? "; " : "", (int)k.len, k.ptr);
        if (!refs[i].flags) len += (size_t)snprintf(buf + len, sizeof(buf) - len, "-");
        bool first = true;
        for (int b = 0; b < TS_KEY_FLAG_COUNT; b++) {
            if (!(refs[i].flags & (1u << b))) continue;
            len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", first ? "" : "|", ts_key_flag_name(b));
            first = false;
        }
    }
    if (n > max) snprintf(buf + len, sizeof(buf) - len, " (n=%d)", n);
    return buf;
}

#define CHECK_KEYS_MAX(cmd, line, max, expect) do { \
    ts_arg av_[64]; \
    int ac_ = split((line), av_, 64); \
    const char *got_ = render((cmd), ac_, av_, (max)); \
    if (strcmp(got_, (expect)) == 0) ts_test_passed++; \
    else { ts_test_failed++; fprintf(stderr, "%s:%d: %s\n    got:      %s\n    expected: %s\n", \
                                     __FILE__, __LINE__, (line), got_, (expect)); } \
} while (0)
#define CHECK_KEYS(cmd, line, expect) CHECK_KEYS_MAX(cmd, line, 64, expect)

static const ts_command *lookup(const char *name)
{
    const ts_command *c = ts_command_lookup(name, strlen(name));
    if (!c) { fprintf(stderr, "no command %s\n", name); abort(); }
    return c;
}

/* ---- Redis 7.0.15's key specs of commands Tessera does not have (COMMAND
 * INFO, in the generator's encoding) ---- */

#define RANGE0 "$9\nfind_keys%2\n$4\ntype$5\nrange$4\nspec%3\n$7\nlastkey:0\n$7\nkeystep:1\n$5\nlimit:0\n"
#define INDEX(n) "$12\nbegin_search%2\n$4\ntype$5\nindex$4\nspec%1\n$5\nindex:" #n "\n"
#define UNKNOWN_BOTH "$12\nbegin_search%2\n$4\ntype$7\nunknown$4\nspec%0\n$9\nfind_keys%2\n$4\ntype$7\nunknown$4\nspec%0\n"

static const char GEORADIUS[] =
    "~3\n"
    "%3\n$5\nflags~2\n+RO\n+access\n" INDEX(1) RANGE0
    "%3\n$5\nflags~2\n+OW\n+update\n$12\nbegin_search%2\n$4\ntype$7\nkeyword$4\nspec%2\n$7\nkeyword$5\nSTORE"
    "$9\nstartfrom:6\n" RANGE0
    "%3\n$5\nflags~2\n+OW\n+update\n$12\nbegin_search%2\n$4\ntype$7\nkeyword$4\nspec%2\n$7\nkeyword$9\nSTOREDIST"
    "$9\nstartfrom:6\n" RANGE0;

static const char EVAL[] =
    "~1\n%4\n$5\nnotes$78\nWe cannot tell how the keys will be used so we assume the worst, RW and UPDATE"
    "$5\nflags~3\n+RW\n+access\n+update\n" INDEX(2)
    "$9\nfind_keys%2\n$4\ntype$6\nkeynum$4\nspec%3\n$9\nkeynumidx:0\n$8\nfirstkey:1\n$7\nkeystep:1\n";

static const char MIGRATE[] =
    "~2\n%3\n$5\nflags~3\n+RW\n+access\n+delete\n" INDEX(3) RANGE0
    "%3\n$5\nflags~4\n+RW\n+access\n+delete\n+incomplete\n$12\nbegin_search%2\n$4\ntype$7\nkeyword$4\nspec%2\n"
    "$7\nkeyword$4\nKEYS$9\nstartfrom:-2\n"
    "$9\nfind_keys%2\n$4\ntype$5\nrange$4\nspec%3\n$7\nlastkey:-1\n$7\nkeystep:1\n$5\nlimit:0\n";

/* MIGRATE's KEYS spec without INCOMPLETE, to see the backwards search's own result. */
static const char KEYS_BACKWARDS[] =
    "~1\n%3\n$5\nflags~1\n+RO\n$12\nbegin_search%2\n$4\ntype$7\nkeyword$4\nspec%2\n"
    "$7\nkeyword$4\nKEYS$9\nstartfrom:-2\n"
    "$9\nfind_keys%2\n$4\ntype$5\nrange$4\nspec%3\n$7\nlastkey:-1\n$7\nkeystep:1\n$5\nlimit:0\n";

static const char SORT[] =
    "~3\n%3\n$5\nflags~2\n+RO\n+access\n" INDEX(1) RANGE0
    "%4\n$5\nnotes$6\nBY/GET$5\nflags~2\n+RO\n+access\n" UNKNOWN_BOTH
    "%4\n$5\nnotes$5\nSTORE$5\nflags~2\n+OW\n+update\n" UNKNOWN_BOTH;

static const char SPUBLISH[] = "~1\n%3\n$5\nflags~1\n+not_key\n" INDEX(1) RANGE0;

static const char BITFIELD[] =
    "~1\n%4\n$5\nnotes$4\nboth$5\nflags~4\n+RW\n+access\n+update\n+variable_flags\n" INDEX(1) RANGE0;

/* A stand-in for the command's getkeys function: one key, argument 1, with
 * only the NOT_KEY flag, so that its answer stands out. */
static int fallback_marker(int argc, const ts_arg *argv, ts_key_ref *out, int max)
{
    (void)argv;
    if (argc < 2) return 0;
    if (max > 0) out[0] = (ts_key_ref){.pos = 1, .flags = TS_KEY_NOT_KEY};
    return 1;
}

static ts_key_spec spec_store[8][4];
static int spec_next;

static ts_command synth(const char *name, int arity, const char *enc, ts_getkeys_flags_fn *fallback)
{
    ts_key_spec *specs = spec_store[spec_next++];
    ts_command c = {.name = name, .arity = arity, .key_specs = enc, .getkeys_flags = fallback};
    c.nspecs = ts_key_specs_decode(enc, specs, 4);
    c.specs = specs;
    return c;
}

static void test_decode(void)
{
    ts_key_spec s[4];
    CHECK_EQ_INT(ts_key_specs_decode(GEORADIUS, s, 4), 3);
    CHECK_EQ_INT(s[0].flags, TS_KEY_RO | TS_KEY_ACCESS);
    CHECK_EQ_INT(s[0].begin_search, TS_KSPEC_BS_INDEX);
    CHECK_EQ_INT(s[0].bs.index.pos, 1);
    CHECK_EQ_INT(s[0].find_keys, TS_KSPEC_FK_RANGE);
    CHECK_EQ_INT(s[0].fk.range.lastkey, 0);
    CHECK_EQ_INT(s[0].fk.range.keystep, 1);
    CHECK_EQ_INT(s[0].fk.range.limit, 0);
    CHECK_EQ_INT(s[2].flags, TS_KEY_OW | TS_KEY_UPDATE);
    CHECK_EQ_INT(s[2].begin_search, TS_KSPEC_BS_KEYWORD);
    CHECK(strcmp(s[2].bs.keyword.keyword, "STOREDIST") == 0);
    CHECK_EQ_INT(s[2].bs.keyword.startfrom, 6);

    CHECK_EQ_INT(ts_key_specs_decode(EVAL, s, 4), 1);   /* with notes */
    CHECK_EQ_INT(s[0].flags, TS_KEY_RW | TS_KEY_ACCESS | TS_KEY_UPDATE);
    CHECK_EQ_INT(s[0].bs.index.pos, 2);
    CHECK_EQ_INT(s[0].find_keys, TS_KSPEC_FK_KEYNUM);
    CHECK_EQ_INT(s[0].fk.keynum.keynumidx, 0);
    CHECK_EQ_INT(s[0].fk.keynum.firstkey, 1);
    CHECK_EQ_INT(s[0].fk.keynum.keystep, 1);

    CHECK_EQ_INT(ts_key_specs_decode(MIGRATE, s, 4), 2);
    CHECK_EQ_INT(s[1].flags, TS_KEY_RW | TS_KEY_ACCESS | TS_KEY_DELETE | TS_KEY_INCOMPLETE);
    CHECK_EQ_INT(s[1].bs.keyword.startfrom, -2);
    CHECK_EQ_INT(s[1].fk.range.lastkey, -1);

    CHECK_EQ_INT(ts_key_specs_decode(SORT, s, 4), 3);
    CHECK_EQ_INT(s[1].begin_search, TS_KSPEC_BS_UNKNOWN);
    CHECK_EQ_INT(s[2].find_keys, TS_KSPEC_FK_UNKNOWN);

    CHECK_EQ_INT(ts_key_specs_decode("~0\n", s, 4), 0);

    /* The real table: every command's string decoded at init. */
    const ts_command *xread = lookup("xread");
    CHECK_EQ_INT(xread->nspecs, 1);
    CHECK(strcmp(xread->specs[0].bs.keyword.keyword, "STREAMS") == 0);
    CHECK_EQ_INT(xread->specs[0].fk.range.limit, 2);
    CHECK_EQ_INT(lookup("lmove")->nspecs, 2);
    CHECK_EQ_INT(lookup("ping")->nspecs, 0);
    CHECK(lookup("set")->specs[0].flags & TS_KEY_VARIABLE_FLAGS);
    int total = 0;
    for (int i = 0; i < ts_command_count(); i++) {
        const ts_command *c = ts_command_at(i);
        total += c->nspecs;
        /* ts_command_keys and the key specs agree on which commands have keys */
        CHECK(ts_command_has_keys(c) == (c->first_key > 0 || c->getkeys != NULL));
    }
    CHECK(total > 150);
}

static void test_table_calls(void)
{
    const ts_command *get = lookup("get"), *set = lookup("set"), *lmove = lookup("lmove");
    CHECK_KEYS(get, "GET k", "k RO|access");
    CHECK_KEYS(lookup("exists"), "EXISTS a b a", "a RO; b RO; a RO");
    CHECK_KEYS(lookup("mset"), "MSET a 1 b 2", "a OW|update; b OW|update");

    /* SET: VARIABLE_FLAGS, so Redis's setGetKeys decides. */
    CHECK_KEYS(set, "SET k v", "k OW|update");
    CHECK_KEYS(set, "SET k v GET", "k RW|access|update");
    CHECK_KEYS(set, "SET k v EX 10 get NX", "k RW|access|update");
    CHECK_KEYS(set, "SET k get", "k OW|update");   /* the value, not the option */
    ts_arg nul_get[] = {{"SET", 3}, {"k", 1}, {"v", 1}, {"GET\0x", 5}};
    CHECK(strcmp(render(set, 4, nul_get, 64), "k RW|access|update") == 0);

    /* A key in two specs comes once per spec. */
    CHECK_KEYS(lmove, "LMOVE a b LEFT RIGHT", "a RW|access|delete; b RW|insert");
    CHECK_KEYS(lmove, "LMOVE a a LEFT RIGHT", "a RW|access|delete; a RW|insert");
    CHECK_KEYS(lookup("rename"), "RENAME a b", "a RW|access|delete; b OW|update");

    /* numkeys: the spec while it parses, Redis's atoi fallback after. */
    const ts_command *zus = lookup("zunionstore");
    CHECK_KEYS(zus, "ZUNIONSTORE d 2 a b WEIGHTS 1 2", "d OW|update; a RO|access; b RO|access");
    CHECK_KEYS(zus, "ZUNIONSTORE d 02 a b", "a -; b -; d -");
    CHECK_KEYS(zus, "ZUNIONSTORE d 2x a b", "a -; b -; d -");
    CHECK_KEYS(zus, "ZUNIONSTORE d 3 a b", "");
    CHECK_KEYS(zus, "ZUNIONSTORE d 0 a", "");
    CHECK_KEYS(zus, "ZUNIONSTORE d -1 a", "");
    CHECK_KEYS(zus, "ZUNIONSTORE d 4294967297 a b", "d OW|update; a RO|access");   /* (int)numkeys: 1 */
    CHECK_KEYS(lookup("zunion"), "ZUNION 2 a b", "a RO|access; b RO|access");
    CHECK_KEYS(lookup("sintercard"), "SINTERCARD 1 a LIMIT 5", "a RO|access");
    CHECK_KEYS(lookup("blmpop"), "BLMPOP 0 2 a b LEFT", "a RW|access|delete; b RW|access|delete");
    CHECK_KEYS(lookup("blmpop"), "BLMPOP 0 +2 a b LEFT", "a -; b -");
    CHECK_KEYS(lookup("lmpop"), "LMPOP 3 a b LEFT", "a RW|access|delete; b RW|access|delete; LEFT RW|access|delete");

    /* XREAD: the STREAMS keyword from argument 1, half the rest. */
    const ts_command *xread = lookup("xread"), *xrg = lookup("xreadgroup");
    CHECK_KEYS(xread, "XREAD COUNT 2 STREAMS a b 0 0", "a RO|access; b RO|access");
    CHECK_KEYS(xread, "XREAD STREAMS a b 0", "a RO|access");
    CHECK_KEYS(xread, "XREAD STREAMS a", "");
    CHECK_KEYS(xread, "XREAD COUNT 1 a", "");        /* no keyword: no keys, no fallback */
    CHECK_KEYS(xread, "XREAD COUNT streams STREAMS a 0", "STREAMS RO|access");   /* the count's value matched */
    CHECK_KEYS(xread, "XREAD BLOCK 0 STREAMS", "");  /* the keyword is the last argument: never searched */
    CHECK_KEYS(xrg, "XREADGROUP GROUP g c STREAMS k >", "k RO|access");
    CHECK_KEYS(xrg, "XREADGROUP GROUP g c COUNT 1 STREAMS k1 k2 > >", "k1 RO|access; k2 RO|access");
    CHECK_KEYS(xrg, "XREADGROUP GROUP streams c STREAMS k >", "k RO|access");

    /* max: the count, the first max written. */
    CHECK_KEYS_MAX(lmove, "LMOVE a b LEFT RIGHT", 1, "a RW|access|delete (n=2)");
    CHECK_KEYS_MAX(lmove, "LMOVE a b LEFT RIGHT", 0, " (n=2)");
    CHECK_KEYS_MAX(set, "SET k v", 0, " (n=1)");
    CHECK_KEYS_MAX(lookup("zdiffstore"), "ZDIFFSTORE d 2x a b", 2, "a -; b - (n=3)");

    CHECK(!ts_command_has_keys(lookup("ping")));
    CHECK(ts_command_has_keys(lookup("zunion")));
}

static void test_redis_only_specs(void)
{
    ts_command geo = synth("georadius", -6, GEORADIUS, fallback_marker);
    CHECK_KEYS(&geo, "GEORADIUS k 1 2 3 m STORE d", "k RO|access; d OW|update");
    CHECK_KEYS(&geo, "GEORADIUS k 1 2 3 m STORE d STOREDIST e", "k RO|access; d OW|update; e OW|update");
    CHECK_KEYS(&geo, "GEORADIUS k 1 2 3 m WITHDIST STORE", "k RO|access");
    CHECK_KEYS(&geo, "GEORADIUS k 1 2 3 m STORE STORE", "k RO|access; STORE OW|update");
    CHECK_KEYS(&geo, "GEORADIUS k 1 2 3 STORE d", "k RO|access");   /* STORE at 5: searched from 6 */
    CHECK_KEYS(&geo, "GEORADIUS k 1 2 3 m store x store y", "k RO|access; x OW|update");
    ts_arg nul_store[] = {{"GEORADIUS", 9}, {"k", 1}, {"1", 1}, {"2", 1}, {"3", 1}, {"m", 1}, {"store\0!", 7}, {"d", 1}};
    CHECK(strcmp(render(&geo, 8, nul_store, 64), "k RO|access; d OW|update") == 0);

    ts_command eval = synth("eval", -3, EVAL, fallback_marker);
    CHECK_KEYS(&eval, "EVAL s 2 a b c", "a RW|access|update; b RW|access|update");
    CHECK_KEYS(&eval, "EVAL s 0", "s not_key");          /* 0 keys: last < first, fallback */
    CHECK_KEYS(&eval, "EVAL s 3 a b", "s not_key");
    CHECK_KEYS(&eval, "EVAL s -1 a", "s not_key");
    CHECK_KEYS(&eval, "EVAL s 2x a b", "s not_key");
    CHECK_KEYS(&eval, "EVAL s 4294967297 a b", "a RW|access|update");
    CHECK_KEYS(&eval, "EVAL s 4294967295 a b", "s not_key");   /* (int) -1 */

    /* MIGRATE: KEYS searched backwards from argc-2, never at argument 1. */
    ts_command migrate = synth("migrate", -6, MIGRATE, fallback_marker);
    CHECK_KEYS(&migrate, "MIGRATE h p k 0 5", "k RW|access|delete");
    CHECK_KEYS(&migrate, "MIGRATE h p '' 0 5 KEYS a b", "h not_key");   /* INCOMPLETE: the getkeys function */
    ts_command back = synth("kb", -2, KEYS_BACKWARDS, NULL);
    CHECK_KEYS(&back, "KB x KEYS a b", "a RO; b RO");
    CHECK_KEYS(&back, "KB x KEYS KEYS a", "a RO");      /* the last one from the end */
    CHECK_KEYS(&back, "KB KEYS a b", "");               /* argument 1 is not searched */
    CHECK_KEYS(&back, "KB KEYS a", "");
    CHECK_KEYS(&back, "KB x y KEYS", "");               /* from argc-2 */

    ts_command sort = synth("sort", -2, SORT, fallback_marker);
    CHECK_KEYS(&sort, "SORT k BY p STORE d", "k not_key");   /* unknown specs: the getkeys function */
    ts_command sort_nofb = synth("sort", -2, SORT, NULL);
    CHECK_KEYS(&sort_nofb, "SORT k", "");
    CHECK(ts_command_has_keys(&sort_nofb));

    ts_command spublish = synth("spublish", 3, SPUBLISH, NULL);
    CHECK(!ts_command_has_keys(&spublish));
    CHECK_KEYS(&spublish, "SPUBLISH ch m", "");

    ts_command bitfield = synth("bitfield", -2, BITFIELD, fallback_marker);
    CHECK_KEYS(&bitfield, "BITFIELD k GET u8 0", "k not_key");   /* VARIABLE_FLAGS: the getkeys function */
}

static void test_acl_mapping(void)
{
    CHECK(ts_key_flags_need_read(TS_KEY_RO | TS_KEY_ACCESS));
    CHECK(!ts_key_flags_need_write(TS_KEY_RO | TS_KEY_ACCESS));
    CHECK(!ts_key_flags_need_read(TS_KEY_RO) && !ts_key_flags_need_write(TS_KEY_RO));   /* EXISTS */
    CHECK(!ts_key_flags_need_read(TS_KEY_RM) && !ts_key_flags_need_write(TS_KEY_RM));
    CHECK(ts_key_flags_need_write(TS_KEY_RM | TS_KEY_DELETE));
    CHECK(ts_key_flags_need_write(TS_KEY_OW | TS_KEY_UPDATE) && !ts_key_flags_need_read(TS_KEY_OW | TS_KEY_UPDATE));
    CHECK(ts_key_flags_need_write(TS_KEY_RW | TS_KEY_INSERT));
    CHECK(!ts_key_flags_need_read(0) && !ts_key_flags_need_write(0));
}

int main(void)
{
    ts_command_table_init();
    test_decode();
    test_table_calls();
    test_redis_only_specs();
    test_acl_mapping();
    TS_TEST_MAIN_END();
}
