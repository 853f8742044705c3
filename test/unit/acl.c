/*
 * acl.c (unit test) - the ACL core (route/acl.h): command lookup in Redis
 * 7.0's command set, snapshots and their sharing, rules and their errors,
 * descriptions that rebuild the same user, authentication, the permission
 * check of calls against key patterns, and the ACL log's grouping and
 * trimming.
 *
 * Single-threaded (the integration test test_acl.py compares every reply
 * with a live redis-server 7.0, and the TSan build runs it multi-threaded).
 */
#include <stdio.h>
#include <string.h>

#include "tessera/cmd/cmd.h"
#include "tessera/route/acl.h"
#include "tessera/util/buf.h"

#include "ts_test.h"

static ts_arg A(const char *s) { return (ts_arg){s, strlen(s)}; }

/* ACL SETUSER name rules... ("," separates rules); NULL on error, with the
 * error text in err. The base snapshot is released. */
static ts_acl *setuser(ts_acl *base, const char *name, const char *rules, char *err, size_t errlen)
{
    ts_arg argv[256];
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s", rules);
    int n = 0;
    for (char *p = copy, *tok; *p && n < 256; p = tok ? tok + 1 : p + strlen(p)) {
        tok = strchr(p, ',');
        if (tok) *tok = '\0';
        argv[n++] = A(p);
        if (!tok) break;
    }
    ts_acl *next = ts_acl_setuser(base, A(name), n, argv, TS_ACL_PUBSUB_RESETCHANNELS, err, errlen);
    if (next) ts_acl_unref(base);
    return next;
}

/* The ACL LIST line of user `name`. */
static void list_line(const ts_acl *acl, const char *name, char *out, size_t outlen)
{
    size_t len;
    char *all = ts_acl_describe_all(acl, &len);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "user %s ", name);
    const char *p = strstr(all, prefix);
    out[0] = '\0';
    if (p) {
        const char *end = strchr(p, '\n');
        snprintf(out, outlen, "%.*s", (int)(end - p), p);
    }
    free(all);
}

static ts_acl *startup(void)
{
    ts_config cfg;
    ts_config_init_defaults(&cfg);
    char err[512];
    ts_acl *acl = ts_acl_startup(&cfg, err, sizeof(err));
    ts_config_free(&cfg);
    return acl;
}

static void test_lookup(void)
{
    CHECK(ts_acl_command_id("get") >= 0);
    CHECK_EQ_INT(ts_acl_command_id("GeT"), ts_acl_command_id("get"));
    CHECK(ts_acl_command_id("config|get") > ts_acl_command_id("config"));
    CHECK_EQ_INT(ts_acl_command_id("CONFIG|GET"), ts_acl_command_id("config|get"));
    CHECK_EQ_INT(ts_acl_command_id("config|get|x"), -1);
    CHECK_EQ_INT(ts_acl_command_id("get|x"), -1);
    CHECK_EQ_INT(ts_acl_command_id("nosuch"), -1);
    CHECK_EQ_INT(ts_acl_command_id(""), -1);
    CHECK(ts_acl_command_id("subscribe") >= 0);   /* Redis's whole set, not only Tessera's */
    CHECK_EQ_INT(ts_acl_category_count(), 21);
    CHECK(strcmp(ts_acl_category_name(0), "keyspace") == 0);
    CHECK(strcmp(ts_acl_category_name(20), "scripting") == 0);
}

static void test_rules_and_descriptions(void)
{
    char err[512], line[4096];
    ts_acl *acl = startup();
    list_line(acl, "default", line, sizeof(line));
    CHECK(strcmp(line, "user default on nopass ~* &* +@all") == 0);

    uint64_t gen = ts_acl_generation(acl);
    acl = setuser(acl, "alice", "on,>pw,~foo*,%R~r*,+@string,-set,(+get ~bar*)", err, sizeof(err));
    CHECK(acl != NULL);
    CHECK(ts_acl_generation(acl) > gen);
    list_line(acl, "alice", line, sizeof(line));
    CHECK(strcmp(line, "user alice on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~foo* %R~r* "
                       "resetchannels -@all +@string -set (~bar* resetchannels -@all +get)") == 0);

    /* Errors leave the snapshot alone. */
    CHECK(setuser(acl, "alice", "on,bad", err, sizeof(err)) == NULL);
    CHECK(strcmp(err, "Error in ACL SETUSER modifier 'bad': Syntax error") == 0);
    CHECK(setuser(acl, "bob", "(+get,x", err, sizeof(err)) == NULL);
    CHECK(strcmp(err, "Unmatched parenthesis in acl selector starting at '(+get'.") == 0);
    CHECK(setuser(acl, "bob", "+config|get|x", err, sizeof(err)) == NULL);
    CHECK(strcmp(err, "Error in ACL SETUSER modifier '+config|get|x': Allowing first-arg of a subcommand is "
                      "not supported") == 0);
    CHECK(setuser(acl, "bob", "#abc", err, sizeof(err)) == NULL);
    CHECK(strstr(err, "exactly 64 characters") != NULL);
    CHECK(setuser(acl, "bob", "<x", err, sizeof(err)) == NULL);
    CHECK(strstr(err, "does not exist") != NULL);
    CHECK(setuser(acl, "a b", "on", err, sizeof(err)) == NULL);
    CHECK(strcmp(err, "Usernames can't contain spaces or null characters") == 0);
    CHECK(ts_acl_find(acl, "bob", 3) == NULL);

    /* +@all then removals keep "+@all"; first-args come after their command. */
    acl = setuser(acl, "carol", "+@all,-@dangerous,+debug,-select,+select|0", err, sizeof(err));
    CHECK(acl != NULL);
    list_line(acl, "carol", line, sizeof(line));
    CHECK(strncmp(line, "user carol off resetchannels +@all -@dangerous ", 47) == 0);
    CHECK(strstr(line, "+debug") != NULL && strstr(line, "-select +select|0") != NULL);

    /* Every description, applied to a fresh user, gives the same description. */
    const char *cases[] = {
        "+@all,-@fast,+get", "-@all,+@read,-@keyspace,+config|get", "+@geo,+@stream,-xadd", "allcommands,-@slow",
        "+client|kill,+config,-config|set", "nocommands,+select|1,+select|2", "+@all,-@all,+@connection",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char d1rules[256];
        snprintf(d1rules, sizeof(d1rules), "reset,%s", cases[i]);
        acl = setuser(acl, "d1", d1rules, err, sizeof(err));
        CHECK(acl != NULL);
        list_line(acl, "d1", line, sizeof(line));
        /* "user d1 off resetchannels <rules>": replay <rules> on d2. */
        char rules[4096];
        const char *r = strstr(line, "resetchannels ") + 14;
        snprintf(rules, sizeof(rules), "reset,%s", r);
        for (char *p = rules; *p; p++) if (*p == ' ') *p = ',';
        acl = setuser(acl, "d2", rules, err, sizeof(err));
        CHECK(acl != NULL);
        char line2[4096];
        list_line(acl, "d2", line2, sizeof(line2));
        CHECK(strcmp(line + 8, line2 + 8) == 0);
    }

    /* DELUSER: default cannot go; others can, once. */
    long deleted = -1;
    ts_acl *next = ts_acl_deluser(acl, 1, (ts_arg[]){A("default")}, &deleted, err, sizeof(err));
    CHECK(next == NULL && strcmp(err, "The 'default' user cannot be removed") == 0);
    next = ts_acl_deluser(acl, 3, (ts_arg[]){A("alice"), A("alice"), A("nobody")}, &deleted, err, sizeof(err));
    CHECK(next != NULL && deleted == 1 && ts_acl_find(next, "alice", 5) == NULL);
    CHECK(ts_acl_find(acl, "alice", 5) != NULL);   /* the old snapshot is unchanged */
    /* Unchanged users are shared, with their identity. */
    CHECK(ts_acl_find(next, "carol", 5) == ts_acl_find(acl, "carol", 5));
    ts_acl_unref(acl);
    acl = next;
    ts_acl_unref(acl);
}

static void test_authentication(void)
{
    char err[512];
    ts_acl *acl = startup();
    CHECK(!ts_acl_auth_required(acl) && ts_acl_default_nopass(acl));
    CHECK(ts_acl_authenticate(acl, A("default"), A("anything")) != NULL);
    acl = setuser(acl, "u", "on,>one,>two", err, sizeof(err));
    acl = setuser(acl, "off", ">pw", err, sizeof(err));
    const ts_acl_user *u = ts_acl_authenticate(acl, A("u"), A("two"));
    CHECK(u != NULL && ts_acl_user_serial(u) == ts_acl_user_serial(ts_acl_find(acl, "u", 1)));
    CHECK(ts_acl_authenticate(acl, A("u"), A("three")) == NULL);
    CHECK(ts_acl_authenticate(acl, A("u"), A("tw")) == NULL);
    CHECK(ts_acl_authenticate(acl, A("off"), A("pw")) == NULL);   /* disabled */
    CHECK(ts_acl_authenticate(acl, A("ghost"), A("pw")) == NULL);

    ts_acl *next = ts_acl_set_requirepass(acl, "secret");
    ts_acl_unref(acl);
    acl = next;
    CHECK(ts_acl_auth_required(acl) && !ts_acl_default_nopass(acl));
    CHECK(ts_acl_authenticate(acl, A("default"), A("secret")) != NULL);
    CHECK(ts_acl_authenticate(acl, A("default"), A("x")) == NULL);
    next = ts_acl_set_requirepass(acl, "");
    ts_acl_unref(acl);
    acl = next;
    CHECK(!ts_acl_auth_required(acl));
    ts_acl_unref(acl);
}

static int check_call(const ts_acl_user *u, const char *line, int *pos)
{
    ts_arg argv[16];
    char copy[256];
    snprintf(copy, sizeof(copy), "%s", line);
    int argc = 0;
    for (char *tok = strtok(copy, " "); tok && argc < 16; tok = strtok(NULL, " ")) argv[argc++] = A(tok);
    const ts_command *cmd = ts_command_lookup(argv[0].ptr, argv[0].len);
    if (cmd && cmd->subcommands && argc >= 2) cmd = ts_command_lookup_sub(cmd, argv[1].ptr, argv[1].len);
    *pos = -1;
    return ts_acl_check(u, cmd, argc, argv, pos);
}

static void test_checks(void)
{
    char err[512];
    ts_acl *acl = startup();
    CHECK(ts_acl_user_unrestricted(ts_acl_default_user(acl)));
    acl = setuser(acl, "k", "on,+@all,-flushall,~a*,%R~r*,%W~w*,(~s* +get),+select|0", err, sizeof(err));
    const ts_acl_user *u = ts_acl_find(acl, "k", 1);
    CHECK(!ts_acl_user_unrestricted(u));
    int pos;
    CHECK_EQ_INT(check_call(u, "get a1", &pos), TS_ACL_OK);
    CHECK_EQ_INT(check_call(u, "get r1", &pos), TS_ACL_OK);
    CHECK_EQ_INT(check_call(u, "get w1", &pos), TS_ACL_DENIED_KEY);
    CHECK_EQ_INT(pos, 1);
    CHECK_EQ_INT(check_call(u, "set w1 v", &pos), TS_ACL_OK);
    CHECK_EQ_INT(check_call(u, "set r1 v", &pos), TS_ACL_DENIED_KEY);
    CHECK_EQ_INT(check_call(u, "get s1", &pos), TS_ACL_OK);          /* the second selector */
    CHECK_EQ_INT(check_call(u, "set s1 v", &pos), TS_ACL_DENIED_KEY);
    CHECK_EQ_INT(check_call(u, "mset a1 1 z 2", &pos), TS_ACL_DENIED_KEY);
    CHECK_EQ_INT(pos, 3);
    CHECK_EQ_INT(check_call(u, "flushall", &pos), TS_ACL_DENIED_CMD);
    CHECK_EQ_INT(check_call(u, "exists w1", &pos), TS_ACL_OK);       /* no read or write flag: any pattern */
    CHECK_EQ_INT(check_call(u, "ping", &pos), TS_ACL_OK);
    acl = setuser(acl, "n", "on,-@all,+select|0,+auth", err, sizeof(err));
    u = ts_acl_find(acl, "n", 1);
    CHECK_EQ_INT(check_call(u, "select 0", &pos), TS_ACL_OK);
    CHECK_EQ_INT(check_call(u, "SELECT 1", &pos), TS_ACL_DENIED_CMD);
    CHECK_EQ_INT(check_call(u, "hello", &pos), TS_ACL_OK);           /* no-auth commands always run */
    CHECK_EQ_INT(check_call(u, "get a", &pos), TS_ACL_DENIED_CMD);
    ts_acl_unref(acl);
}

static void test_log(void)
{
    ts_acl_log *log = ts_acl_log_new();
    for (int i = 0; i < 3; i++)
        ts_acl_log_add(log, TS_ACL_DENIED_KEY, TS_ACL_CTX_TOPLEVEL, A("k"), A("u"), "id=1", 128);
    ts_acl_log_add(log, TS_ACL_DENIED_CMD, TS_ACL_CTX_TOPLEVEL, A("get"), A("u"), "id=2", 128);
    ts_acl_log_add(log, TS_ACL_DENIED_KEY, TS_ACL_CTX_TOPLEVEL, A("k"), A("u"), "id=3", 128);
    ts_buf out;
    ts_buf_init(&out);
    ts_reply r;
    ts_reply_init(&r, &out, 2);
    ts_acl_log_reply(log, 10, &r);
    ts_buf_putc(&out, '\0');   /* for strstr */
    out.len--;
    /* Two entries, the key one first with count 4 and the last client. */
    CHECK(strncmp(out.data, "*2\r\n*14\r\n$5\r\ncount\r\n:4\r\n", 24) == 0);
    CHECK(strstr(out.data, "$4\r\nid=3\r\n") != NULL && strstr(out.data, "id=1") == NULL);
    ts_acl_log_add(log, TS_ACL_DENIED_AUTH, TS_ACL_CTX_TOPLEVEL, A("AUTH"), A("x"), "id=4", 2);
    out.len = 0;
    ts_acl_log_reply(log, 10, &r);
    ts_buf_putc(&out, '\0');
    out.len--;
    CHECK(strncmp(out.data, "*2\r\n", 4) == 0 && strstr(out.data, "auth") != NULL);
    ts_acl_log_add(log, TS_ACL_DENIED_AUTH, TS_ACL_CTX_TOPLEVEL, A("AUTH"), A("y"), "id=5", 0);
    out.len = 0;
    ts_acl_log_reply(log, 10, &r);
    CHECK(out.len == 4 && strncmp(out.data, "*0\r\n", 4) == 0);
    ts_acl_log_reset(log);
    ts_buf_free(&out);
    ts_acl_log_free(log);
}

int main(void)
{
    ts_command_table_init();
    test_lookup();
    test_rules_and_descriptions();
    test_authentication();
    test_checks();
    test_log();
    TS_TEST_MAIN_END();
}
