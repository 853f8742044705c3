/*
 * Unit test of the configuration module: defaults, the file and string
 * loaders with every error report, the command-line translation, CONFIG GET
 * patterns, CONFIG SET (all-or-nothing and every error text) and the rewrite
 * to text. The expected error texts are the ones real redis-server 7.0.15
 * prints for the same input.
 */
#include "tessera/config/config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tessera/util/log.h"
#include "ts_test.h"

#define STREQ(a, b) CHECK(strcmp((a), (b)) == 0)
#define CHECK_STR(a, b) do { \
    const char *_x = (a), *_y = (b); \
    if (_x && strcmp(_x, _y) == 0) ts_test_passed++; \
    else { ts_test_failed++; fprintf(stderr, "%s:%d: got [%s], expected [%s]\n", __FILE__, __LINE__, _x ? _x : "(null)", _y); } \
} while (0)

static char tmpdir[PATH_MAX];

/* Writes text to a file in tmpdir and returns its path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (!f) { perror(path); exit(2); }
    fputs(text, f);
    fclose(f);
    return path;
}

/* Loads text as a file into a fresh default config; returns the rc, the
 * error in err. */
static int load_file_text(const char *text, char *err, size_t errlen, const char **pathp)
{
    const char *path = write_file("t.conf", text);
    if (pathp) *pathp = path;
    ts_config c;
    ts_config_init_defaults(&c);
    err[0] = '\0';
    int rc = ts_config_load_file(&c, path, err, errlen);
    ts_config_free(&c);
    return rc;
}

/* Expects the file text to fail at line `line` showing `shown` with `why`. */
static void expect_file_error(int srcline, const char *text, int line, const char *shown, const char *why)
{
    char err[1024], want[2048];
    const char *path;
    int rc = load_file_text(text, err, sizeof(err), &path);
    snprintf(want, sizeof(want),
             "*** FATAL CONFIG FILE ERROR (Tessera 0.1.0) ***\n"
             "Reading the configuration file '%s', at line %d\n"
             ">>> '%s'\n%s",
             path, line, shown, why);
    if (rc == -1 && strcmp(err, want) == 0) {
        ts_test_passed++;
    } else {
        ts_test_failed++;
        fprintf(stderr, "test/unit/config.c:%d: rc %d, got\n%s\nexpected\n%s\n", srcline, rc, err, want);
    }
}
#define FILE_ERROR(text, line, shown, why) expect_file_error(__LINE__, text, line, shown, why)

/* CONFIG SET with NULL-terminated C-string arguments. */
static int set(ts_config *c, char *err, ...)
{
    ts_arg argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, err);
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL && argc < 32) {
        argv[argc].ptr = s;
        argv[argc].len = strlen(s);
        argc++;
    }
    va_end(ap);
    err[0] = '\0';
    return ts_config_set(c, argv, argc, true, err, 512);
}

/* CONFIG GET collects "name=value;" pairs into a string. */
typedef struct got { char text[4096]; int n; } got;
static void collect(void *ctx, const char *name, const char *value)
{
    got *g = ctx;
    size_t used = strlen(g->text);
    snprintf(g->text + used, sizeof(g->text) - used, "%s=%s;", name, value);
    g->n++;
}
static const char *get(const ts_config *c, got *g, ...)
{
    ts_arg pats[16];
    int n = 0;
    va_list ap;
    va_start(ap, g);
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL && n < 16) {
        pats[n].ptr = s;
        pats[n].len = strlen(s);
        n++;
    }
    va_end(ap);
    g->text[0] = '\0';
    g->n = 0;
    ts_config_get(c, pats, n, collect, g);
    return g->text;
}

static void test_defaults(void)
{
    ts_config c;
    ts_config_init_defaults(&c);
    CHECK_EQ_INT(c.port, 6379);
    CHECK_EQ_INT(c.nbind, 2);
    STREQ(c.bind[0], "127.0.0.1");
    STREQ(c.bind[1], "-::1");
    STREQ(c.unixsocket, "");
    CHECK_EQ_INT(c.unixsocketperm, 0);
    CHECK_EQ_INT(c.tcp_backlog, 511);
    CHECK_EQ_INT(c.tcp_keepalive, 300);
    CHECK_EQ_INT(c.timeout, 0);
    CHECK_EQ_INT(c.maxclients, 10000);
    CHECK_EQ_INT(c.client_query_buffer_limit, 1024LL * 1024 * 1024);
    CHECK_EQ_INT(c.proto_max_bulk_len, 512LL * 1024 * 1024);
    CHECK_EQ_INT(c.databases, 16);
    CHECK_EQ_INT(c.threads, 0);
    CHECK_EQ_INT(c.hz, 10);
    STREQ(c.logfile, "");
    CHECK_EQ_INT(c.loglevel, TS_LOG_NOTICE);
    STREQ(c.pidfile, "");
    CHECK(!c.daemonize);
    char cwd[PATH_MAX];
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    STREQ(c.dir, cwd);
    ts_config_free(&c);

    CHECK_STR(ts_config_loglevel_name(TS_LOG_DEBUG), "debug");
    CHECK_STR(ts_config_loglevel_name(TS_LOG_VERBOSE), "verbose");
    CHECK_STR(ts_config_loglevel_name(TS_LOG_NOTICE), "notice");
    CHECK_STR(ts_config_loglevel_name(TS_LOG_WARNING), "warning");
    CHECK_STR(ts_config_loglevel_name(4), "unknown");
    CHECK_STR(ts_config_loglevel_name(-1), "unknown");
}

static void test_good_file(void)
{
    const char *text =
        "# a comment\n"
        "\n"
        "   # an indented comment\n"
        "PORT 7000\r\n"
        "  bind 10.0.0.1   \"-::1\"  'a b'\n"
        "unixsocket \"/tmp/t s.sock\"\n"
        "unixsocketperm 0770\n"
        "tcp-backlog 128\n"
        "tcp-keepalive 0\n"
        "timeout 60\n"
        "maxclients 4294967295\n"
        "client-query-buffer-limit 2mb\n"
        "proto-max-bulk-len 1G\n"
        "databases 4\n"
        "shards 3\n"
        "hz 1000\n"
        "logfile ''\n"
        "loglevel WARNING\n"
        "pidfile \"/tmp/x\\x41\\n.pid\"\n"
        "daemonize YES\n"
        "port 7001";                  /* last line without a newline; later wins */
    const char *path = write_file("good.conf", text);
    ts_config c;
    ts_config_init_defaults(&c);
    char err[1024] = "";
    CHECK_EQ_INT(ts_config_load_file(&c, path, err, sizeof(err)), 0);
    CHECK_STR(err, "");
    CHECK_EQ_INT(c.port, 7001);
    CHECK_EQ_INT(c.nbind, 3);
    STREQ(c.bind[0], "10.0.0.1");
    STREQ(c.bind[1], "-::1");
    STREQ(c.bind[2], "a b");
    STREQ(c.unixsocket, "/tmp/t s.sock");
    CHECK_EQ_INT(c.unixsocketperm, 0770);
    CHECK_EQ_INT(c.tcp_backlog, 128);
    CHECK_EQ_INT(c.tcp_keepalive, 0);
    CHECK_EQ_INT(c.timeout, 60);
    CHECK_EQ_INT(c.maxclients, INT_MAX);   /* accepted up to UINT_MAX, stored clamped */
    CHECK_EQ_INT(c.client_query_buffer_limit, 2 * 1024 * 1024);
    CHECK_EQ_INT(c.proto_max_bulk_len, 1000000000);
    CHECK_EQ_INT(c.databases, 4);
    CHECK_EQ_INT(c.threads, 3);
    CHECK_EQ_INT(c.hz, 500);               /* clamped like Redis */
    STREQ(c.logfile, "");
    CHECK_EQ_INT(c.loglevel, TS_LOG_WARNING);
    STREQ(c.pidfile, "/tmp/xA\n.pid");
    CHECK(c.daemonize);

    /* Deep copy: independent strings and bind list. */
    ts_config d;
    ts_config_copy(&d, &c);
    CHECK(d.bind != c.bind && d.bind[2] != c.bind[2] && d.pidfile != c.pidfile && d.dir != c.dir);
    STREQ(d.bind[2], "a b");
    STREQ(d.pidfile, c.pidfile);
    STREQ(d.dir, c.dir);
    CHECK_EQ_INT(d.port, 7001);

    /* The rewrite to text loads back into the same configuration. */
    char *t1 = ts_config_to_text(&c);
    ts_config e;
    ts_config_init_defaults(&e);
    CHECK_EQ_INT(ts_config_load_string(&e, t1, "rewrite", err, sizeof(err)), 0);
    char *t2 = ts_config_to_text(&e);
    CHECK_STR(t2, t1);
    CHECK(strstr(t1, "bind 10.0.0.1 -::1 \"a b\"\n") != NULL);
    CHECK(strstr(t1, "pidfile \"/tmp/xA\\n.pid\"\n") != NULL);
    CHECK(strstr(t1, "logfile \"\"\n") != NULL);
    CHECK(strstr(t1, "unixsocketperm 770\n") != NULL);
    CHECK(strstr(t1, "maxclients 2147483647\n") != NULL);
    free(t1);
    free(t2);
    ts_config_free(&e);
    ts_config_free(&d);
    ts_config_free(&c);

    /* Empty files and empty bind lists are fine. */
    CHECK_EQ_INT(load_file_text("", err, sizeof(err), NULL), 0);
    ts_config_init_defaults(&c);
    CHECK_EQ_INT(ts_config_load_string(&c, "bind\n", NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(c.nbind, 0);
    char *t = ts_config_to_text(&c);
    CHECK(strncmp(t, "bind\n", 5) == 0);
    free(t);
    ts_config_free(&c);
}

/* `user` lines (ACL users, route/acl.h) are kept in order with their
 * arguments, copied deeply and written back by the rewrite. */
static void test_user_directives(void)
{
    char err[1024];
    ts_config c;
    ts_config_init_defaults(&c);
    CHECK_EQ_INT(ts_config_load_string(&c, "user alice on \">p w\" ~*\nUSER bob\nuser default off\n", NULL, err,
                                       sizeof(err)), 0);
    CHECK_EQ_INT(c.nacl_users, 3);
    CHECK_EQ_INT(c.acl_users[0].argc, 4);
    STREQ(c.acl_users[0].argv[0], "alice");
    STREQ(c.acl_users[0].argv[2], ">p w");
    CHECK_EQ_INT(c.acl_users[1].argc, 1);
    STREQ(c.acl_users[2].argv[1], "off");
    ts_config d;
    ts_config_copy(&d, &c);
    CHECK(d.acl_users != c.acl_users && d.acl_users[0].argv[2] != c.acl_users[0].argv[2]);
    STREQ(d.acl_users[0].argv[2], ">p w");
    char *t1 = ts_config_to_text(&c);
    CHECK(strstr(t1, "\nuser alice on \">p w\" ~*\nuser bob\nuser default off\n") != NULL);
    ts_config e;
    ts_config_init_defaults(&e);
    CHECK_EQ_INT(ts_config_load_string(&e, t1, "rewrite", err, sizeof(err)), 0);
    char *t2 = ts_config_to_text(&e);
    CHECK_STR(t2, t1);
    free(t1);
    free(t2);
    ts_config_free(&e);
    ts_config_free(&d);
    /* "user" alone is not a directive. */
    CHECK(ts_config_load_string(&c, "user\n", NULL, err, sizeof(err)) != 0);
    CHECK(strstr(err, "Bad directive or wrong number of arguments") != NULL);
    ts_config_free(&c);
}

static void test_file_errors(void)
{
    /* The texts below are redis-server 7.0.15's for the same lines. */
    FILE_ERROR("port 6380\nport abc\n", 2, "port abc", "argument couldn't be parsed into an integer");
    FILE_ERROR("foo bar\n", 1, "foo bar", "Bad directive or wrong number of arguments");
    FILE_ERROR("port 70000\n", 1, "port 70000", "argument must be between 0 and 65535 inclusive");
    FILE_ERROR("port\n", 1, "port", "wrong number of arguments");
    FILE_ERROR("port 1 2\n", 1, "port 1 2", "wrong number of arguments");
    FILE_ERROR("logfile a b\n", 1, "logfile a b", "wrong number of arguments");
    FILE_ERROR("daemonize maybe\n", 1, "daemonize maybe", "argument must be 'yes' or 'no'");
    FILE_ERROR("daemonize \"\"\n", 1, "daemonize \"\"", "argument must be 'yes' or 'no'");
    FILE_ERROR("loglevel loud\n", 1, "loglevel loud",
               "argument(s) must be one of the following: debug, verbose, notice, warning");
    FILE_ERROR("maxclients 0\n", 1, "maxclients 0", "argument must be between 1 and 4294967295 inclusive");
    FILE_ERROR("maxclients 1k\n", 1, "maxclients 1k", "argument couldn't be parsed into an integer");
    FILE_ERROR("databases 0\n", 1, "databases 0", "argument must be between 1 and 2147483647 inclusive");
    FILE_ERROR("tcp-backlog -1\n", 1, "tcp-backlog -1", "argument must be between 0 and 2147483647 inclusive");
    FILE_ERROR("hz -1\n", 1, "hz -1", "argument must be between 0 and 2147483647 inclusive");
    FILE_ERROR("threads 257\n", 1, "threads 257", "argument must be between 0 and 256 inclusive");
    /* Integers are strict: no hex, no sign, no leading zero, no blanks. */
    FILE_ERROR("port 0x10\n", 1, "port 0x10", "argument couldn't be parsed into an integer");
    FILE_ERROR("port +5\n", 1, "port +5", "argument couldn't be parsed into an integer");
    FILE_ERROR("port 05\n", 1, "port 05", "argument couldn't be parsed into an integer");
    FILE_ERROR("port 5.0\n", 1, "port 5.0", "argument couldn't be parsed into an integer");
    FILE_ERROR("port \"\"\n", 1, "port \"\"", "argument couldn't be parsed into an integer");
    FILE_ERROR("timeout -0\n", 1, "timeout -0", "argument couldn't be parsed into an integer");
    FILE_ERROR("timeout \" 5\"\n", 1, "timeout \" 5\"", "argument couldn't be parsed into an integer");
    FILE_ERROR("timeout 9223372036854775808\n", 1, "timeout 9223372036854775808",
               "argument couldn't be parsed into an integer");
    FILE_ERROR("timeout 9223372036854775807\n", 1, "timeout 9223372036854775807",
               "argument must be between 0 and 2147483647 inclusive");
    FILE_ERROR("timeout -9223372036854775808\n", 1, "timeout -9223372036854775808",
               "argument must be between 0 and 2147483647 inclusive");
    /* Memory values. */
    FILE_ERROR("client-query-buffer-limit 1zb\n", 1, "client-query-buffer-limit 1zb",
               "argument must be a memory value");
    FILE_ERROR("client-query-buffer-limit -1\n", 1, "client-query-buffer-limit -1",
               "argument must be a memory value");
    FILE_ERROR("client-query-buffer-limit 1.5mb\n", 1, "client-query-buffer-limit 1.5mb",
               "argument must be a memory value");
    FILE_ERROR("client-query-buffer-limit 10\n", 1, "client-query-buffer-limit 10",
               "argument must be between 1048576 and 9223372036854775807 inclusive");
    FILE_ERROR("client-query-buffer-limit k\n", 1, "client-query-buffer-limit k",
               "argument must be between 1048576 and 9223372036854775807 inclusive");
    FILE_ERROR("client-query-buffer-limit \"\"\n", 1, "client-query-buffer-limit \"\"",
               "argument must be between 1048576 and 9223372036854775807 inclusive");
    FILE_ERROR("client-query-buffer-limit 9223372036854775808\n", 1,
               "client-query-buffer-limit 9223372036854775808",
               "argument must be between 1048576 and 9223372036854775807 inclusive");
    FILE_ERROR("client-query-buffer-limit 100000000000000000000\n", 1,
               "client-query-buffer-limit 100000000000000000000",
               "argument must be between 1048576 and 9223372036854775807 inclusive");
    FILE_ERROR("proto-max-bulk-len 1k\n", 1, "proto-max-bulk-len 1k",
               "argument must be between 1048576 and 9223372036854775807 inclusive");
    /* Octal. */
    FILE_ERROR("unixsocketperm 999\n", 1, "unixsocketperm 999", "argument couldn't be parsed as an octal number");
    FILE_ERROR("unixsocketperm 8\n", 1, "unixsocketperm 8", "argument couldn't be parsed as an octal number");
    FILE_ERROR("unixsocketperm 0x7\n", 1, "unixsocketperm 0x7", "argument couldn't be parsed as an octal number");
    FILE_ERROR("unixsocketperm 1000\n", 1, "unixsocketperm 1000", "argument must be between 0 and 777 inclusive");
    FILE_ERROR("unixsocketperm -1\n", 1, "unixsocketperm -1", "argument must be between 0 and 777 inclusive");
    /* Quoting, trimming, comments and line counting. */
    FILE_ERROR("   port   abc   \n", 1, "port   abc", "argument couldn't be parsed into an integer");
    FILE_ERROR("# c\n\n  #x\nPORT abc\n", 4, "PORT abc", "argument couldn't be parsed into an integer");
    FILE_ERROR("port 1\r\nport x\r\n", 2, "port x", "argument couldn't be parsed into an integer");
    FILE_ERROR("port \"12\n", 1, "port \"12", "Unbalanced quotes in configuration line");
    FILE_ERROR("port '12\n", 1, "port '12", "Unbalanced quotes in configuration line");
    FILE_ERROR("port \"12\"x\n", 1, "port \"12\"x", "Unbalanced quotes in configuration line");
    FILE_ERROR("port 1 # comment\n", 1, "port 1 # comment", "wrong number of arguments");
    FILE_ERROR("p\\x6frt 1\n", 1, "p\\x6frt 1", "Bad directive or wrong number of arguments");
    FILE_ERROR("\"p\\x6frt\" 1\nport x\n", 2, "port x", "argument couldn't be parsed into an integer");
    FILE_ERROR("bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n", 1,
               "bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17", "Too many bind addresses specified.");
    FILE_ERROR("bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\nport x\n", 2, "port x",
               "argument couldn't be parsed into an integer");
    FILE_ERROR("dir /nonexistent-tessera-dir\n", 1, "dir /nonexistent-tessera-dir", "No such file or directory");
    FILE_ERROR("dir\n", 1, "dir", "wrong number of arguments");

    /* A file that cannot be opened. */
    ts_config c;
    ts_config_init_defaults(&c);
    char err[512];
    CHECK_EQ_INT(ts_config_load_file(&c, "/nonexistent-tessera.conf", err, sizeof(err)), -1);
    CHECK_STR(err, "Fatal error, can't open config file '/nonexistent-tessera.conf': No such file or directory");
    CHECK_EQ_INT(ts_config_load_file(&c, tmpdir, err, sizeof(err)), -1);
    char want[PATH_MAX + 100];
    snprintf(want, sizeof(want), "Fatal error, can't open config file '%s': Is a directory", tmpdir);
    CHECK_STR(err, want);

    /* Strings name their origin; without one the line is Redis's own. */
    CHECK_EQ_INT(ts_config_load_string(&c, "port 1\nport \"abc\"", "command line", err, sizeof(err)), -1);
    CHECK_STR(err, "*** FATAL CONFIG FILE ERROR (Tessera 0.1.0) ***\n"
                   "Reading the configuration from command line, at line 2\n"
                   ">>> 'port \"abc\"'\n"
                   "argument couldn't be parsed into an integer");
    CHECK_EQ_INT(ts_config_load_string(&c, "foo", NULL, err, sizeof(err)), -1);
    CHECK_STR(err, "*** FATAL CONFIG FILE ERROR (Tessera 0.1.0) ***\n"
                   "Reading the configuration file, at line 1\n"
                   ">>> 'foo'\n"
                   "Bad directive or wrong number of arguments");
    /* A short buffer truncates; a NULL one is allowed. */
    char small[8];
    CHECK_EQ_INT(ts_config_load_string(&c, "foo", NULL, small, sizeof(small)), -1);
    CHECK_STR(small, "*** FAT");
    CHECK_EQ_INT(ts_config_load_string(&c, "foo", NULL, NULL, 0), -1);
    ts_config_free(&c);
}

static void test_memory_units(void)
{
    static const struct { const char *text; long long bytes; } cases[] = {
        {"1048576", 1048576}, {"1048576b", 1048576}, {"1048576B", 1048576},
        {"2000k", 2000000}, {"2000K", 2000000}, {"1024kb", 1048576}, {"1024KB", 1048576}, {"1024kB", 1048576},
        {"2m", 2000000}, {"1mb", 1048576}, {"1MB", 1048576}, {"1Mb", 1048576},
        {"1g", 1000000000}, {"1gb", 1073741824}, {"1GB", 1073741824}, {"8gb", 8589934592LL},
        {"9223372036854775807", 9223372036854775807LL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ts_config c;
        ts_config_init_defaults(&c);
        char line[128], err[512];
        snprintf(line, sizeof(line), "proto-max-bulk-len %s\n", cases[i].text);
        int rc = ts_config_load_string(&c, line, "test", err, sizeof(err));
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_INT(c.proto_max_bulk_len, cases[i].bytes);
        /* The same through CONFIG SET, shown back as plain bytes. */
        CHECK_EQ_INT(set(&c, err, "client-query-buffer-limit", cases[i].text, NULL), 0);
        CHECK_EQ_INT(c.client_query_buffer_limit, cases[i].bytes);
        char *v = ts_config_value(&c, "client-query-buffer-limit");
        char want[32];
        snprintf(want, sizeof(want), "%lld", cases[i].bytes);
        CHECK_STR(v, want);
        free(v);
        ts_config_free(&c);
    }
    /* Overflow through the unit is out of range, not a wrapped value. */
    ts_config c;
    ts_config_init_defaults(&c);
    char err[512];
    CHECK_EQ_INT(set(&c, err, "proto-max-bulk-len", "20000000000gb", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - "
                   "argument must be between 1048576 and 9223372036854775807 inclusive");
    CHECK_EQ_INT(set(&c, err, "proto-max-bulk-len", "8589934592gb", NULL), -1);
    CHECK_EQ_INT(c.proto_max_bulk_len, 512LL * 1024 * 1024);
    ts_config_free(&c);
}

static void test_args(void)
{
    const char *conf = "x";
    char *t;
    {
        char *argv[] = {"tessera-server", NULL};
        t = ts_config_args_to_text(1, argv, &conf);
        CHECK_STR(t, "");
        CHECK(conf == NULL);
        free(t);
    }
    {
        char *argv[] = {"tessera-server", "--port", "7000", "--bind", "a", "b", NULL};
        t = ts_config_args_to_text(6, argv, &conf);
        CHECK_STR(t, "port \"7000\"\nbind \"a\" \"b\"");
        CHECK(conf == NULL);
        free(t);
    }
    {
        char *argv[] = {"tessera-server", "/etc/t.conf", "--loglevel", "verbose", NULL};
        t = ts_config_args_to_text(4, argv, &conf);
        CHECK_STR(t, "loglevel \"verbose\"");
        CHECK_STR(conf, "/etc/t.conf");
        free(t);
    }
    {
        /* A value is quoted so that any byte survives; the first argument
         * after a bare name is a value even when it starts with "--". */
        char *argv[] = {"s", "--logfile", "--odd \"name\"\n", "--port 6380", "--daemonize", NULL};
        t = ts_config_args_to_text(5, argv, &conf);
        CHECK_STR(t, "logfile \"--odd \\\"name\\\"\\n\"\nport 6380\ndaemonize");
        free(t);
    }
    {
        char *argv[] = {"s", "--port 6380", "--hz", "5", NULL};   /* name and value in one argument */
        t = ts_config_args_to_text(4, argv, &conf);
        CHECK_STR(t, "port 6380\nhz \"5\"");
        free(t);
    }
    {
        char *argv[] = {"s", "-", "--port", "1", NULL};
        t = ts_config_args_to_text(4, argv, &conf);
        CHECK_STR(conf, "-");
        CHECK_STR(t, "port \"1\"");
        free(t);
    }
    {
        char *argv[] = {"s", "a.conf", "b.conf", NULL};   /* a value before any --name */
        CHECK(ts_config_args_to_text(3, argv, &conf) == NULL);
    }
    {
        char *argv[] = {"s", "-x", NULL};
        CHECK(ts_config_args_to_text(2, argv, &conf) == NULL);
    }

    /* Command line over file: the file first, then the options. */
    const char *path = write_file("base.conf", "port 6000\nloglevel debug\nbind 1.2.3.4\n");
    char *argv[] = {"tessera-server", (char *)path, "--port", "7000", "--bind", "a", "b", "--hz", "20", NULL};
    t = ts_config_args_to_text(9, argv, &conf);
    CHECK(t != NULL);
    ts_config c;
    ts_config_init_defaults(&c);
    char err[1024];
    CHECK_EQ_INT(ts_config_load_file(&c, conf, err, sizeof(err)), 0);
    CHECK_EQ_INT(ts_config_load_string(&c, t, "command line", err, sizeof(err)), 0);
    CHECK_EQ_INT(c.port, 7000);
    CHECK_EQ_INT(c.loglevel, TS_LOG_DEBUG);
    CHECK_EQ_INT(c.hz, 20);
    CHECK_EQ_INT(c.nbind, 2);
    STREQ(c.bind[0], "a");
    STREQ(c.bind[1], "b");
    free(t);

    /* Errors on the command line are reported against its own lines. */
    char *bad[] = {"s", "--port", "7000", "--loglevel", NULL};
    t = ts_config_args_to_text(4, bad, &conf);
    CHECK_EQ_INT(ts_config_load_string(&c, t, "command line", err, sizeof(err)), -1);
    CHECK_STR(err, "*** FATAL CONFIG FILE ERROR (Tessera 0.1.0) ***\n"
                   "Reading the configuration from command line, at line 2\n"
                   ">>> 'loglevel'\n"
                   "wrong number of arguments");
    free(t);
    char *bad2[] = {"s", "--port", "7000", "foo", NULL};
    t = ts_config_args_to_text(4, bad2, &conf);
    CHECK_EQ_INT(ts_config_load_string(&c, t, "command line", err, sizeof(err)), -1);
    CHECK(strstr(err, ">>> 'port \"7000\" \"foo\"'\nwrong number of arguments") != NULL);
    free(t);
    ts_config_free(&c);
}

static void test_get(void)
{
    ts_config c;
    ts_config_init_defaults(&c);
    got g;

    CHECK_STR(get(&c, &g, "port", NULL), "port=6379;");
    /* An exact name is answered under the name as typed. */
    CHECK_STR(get(&c, &g, "PORT", NULL), "PORT=6379;");
    /* Each name at most once (case-insensitively), in pattern order. */
    CHECK_STR(get(&c, &g, "PORT", "port", "p?rt", "P*RT", NULL), "PORT=6379;");
    CHECK_STR(get(&c, &g, "timeout", "port", "timeout", NULL), "timeout=0;port=6379;");
    CHECK_STR(get(&c, &g, "nonexistent", "*nothing*", NULL), "");
    CHECK_EQ_INT(g.n, 0);
    CHECK_STR(get(&c, &g, "bind", NULL), "bind=127.0.0.1 -::1;");
    CHECK_STR(get(&c, &g, "unixsocket*", NULL), "unixsocket=;unixsocketperm=0;");
    CHECK_STR(get(&c, &g, "*-len", "client-*", "*-len", NULL),
              "acllog-max-len=128;proto-max-bulk-len=536870912;"
              "client-output-buffer-limit=normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60;"
              "client-query-buffer-limit=1073741824;");
    CHECK_STR(get(&c, &g, "[l]*", "D[A]*", NULL),
              "lua-time-limit=5000;loglevel=notice;logfile=;list-max-listpack-size=-2;list-max-ziplist-size=-2;list-compress-depth=0;"
              "daemonize=no;"
              "databases=16;");
    CHECK_STR(get(&c, &g, "[^a-s]*", NULL),
              "tcp-backlog=511;unixsocket=;unixsocketperm=0;timeout=0;tcp-keepalive=300;threads=0;"
              "worker-sched-batch=yes;zset-max-listpack-entries=128;zset-max-ziplist-entries=128;zset-max-listpack-value=64;"
              "zset-max-ziplist-value=64;");
    CHECK_STR(get(&c, &g, "p\\ort", NULL), "");   /* '\' alone does not make a glob */
    CHECK_STR(get(&c, &g, "p\\ort*", NULL), "port=6379;");
    /* The alias is a name of its own, like Redis's aliases. */
    CHECK_STR(get(&c, &g, "shards", NULL), "shards=0;");
    CHECK_STR(get(&c, &g, "threads", "shard?", NULL), "threads=0;shards=0;");
    get(&c, &g, "*", NULL);
    const char *all_prefix =
        "bind=127.0.0.1 -::1;port=6379;tcp-backlog=511;unixsocket=;unixsocketperm=0;timeout=0;"
        "busy-reply-threshold=5000;lua-time-limit=5000;tcp-keepalive=300;daemonize=no;pidfile=;loglevel=notice;logfile=;databases=16;threads=0;"
        "shards=0;worker-sched-batch=yes;jemalloc-bg-thread=yes;hz=10;dir=/";
    CHECK(strncmp(g.text, all_prefix, strlen(all_prefix)) == 0);
    CHECK(strstr(g.text, ";maxclients=10000;maxmemory-clients=0;client-query-buffer-limit=1073741824;"
                         "proto-max-bulk-len=536870912;")
          != NULL);
    CHECK(strstr(g.text, ";rdbcompression=yes;rdbchecksum=yes;") != NULL);
    CHECK_EQ_INT(g.n, 62);   /* + busy-reply-threshold (and its alias), shutdown-timeout, shutdown-on-sigint/-sigterm,
                              * stream-node-max-bytes/-entries, save, dbfilename, rdbcompression, rdbchecksum,
                              * worker-sched-batch, list-compress-depth, aof-use-rdb-preamble, jemalloc-bg-thread,
                              * requirepass, protected-mode, enable-protected-configs/-debug-command/-module-command,
                              * aclfile, acllog-max-len, acl-pubsub-default, client-output-buffer-limit,
                              * stop-writes-on-bgsave-error, maxmemory-clients */
    CHECK(strstr(g.text, ";requirepass=;protected-mode=yes;enable-protected-configs=no;enable-debug-command=no;"
                         "enable-module-command=no;") != NULL);
    CHECK(strstr(g.text, ";aof-use-rdb-preamble=yes;") != NULL);
    CHECK(strstr(g.text, ";jemalloc-bg-thread=yes;") != NULL);
    /* A name with a NUL byte is not a name. */
    ts_arg nul = {"port\0x", 6};
    g.text[0] = '\0';
    g.n = 0;
    ts_config_get(&c, &nul, 1, collect, &g);
    CHECK_EQ_INT(g.n, 0);

    /* Formatting. */
    char err[512];
    CHECK_EQ_INT(ts_config_load_string(&c, "unixsocketperm 700\ndaemonize yes\nloglevel debug\n", NULL, err,
                                       sizeof(err)), 0);
    CHECK_STR(get(&c, &g, "unixsocketperm", "daemonize", "loglevel", NULL),
              "unixsocketperm=700;daemonize=yes;loglevel=debug;");
    char cwd[PATH_MAX], want[PATH_MAX + 8];
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    snprintf(want, sizeof(want), "dir=%s;", cwd);
    CHECK_STR(get(&c, &g, "dir", NULL), want);
    char *v = ts_config_value(&c, "DAEMONIZE");
    CHECK_STR(v, "yes");
    free(v);
    CHECK(ts_config_value(&c, "nope") == NULL);
    ts_config_free(&c);
}

static void test_set(void)
{
    ts_config c;
    ts_config_init_defaults(&c);
    char err[512];

    CHECK_EQ_INT(set(&c, err, "timeout", "30", "hz", "100", "loglevel", "WARNING", NULL), 0);
    CHECK_EQ_INT(c.timeout, 30);
    CHECK_EQ_INT(c.hz, 100);
    CHECK_EQ_INT(c.loglevel, TS_LOG_WARNING);
    CHECK_EQ_INT(set(&c, err, "HZ", "0", NULL), 0);
    CHECK_EQ_INT(c.hz, 1);   /* clamped like Redis: CONFIG GET hz then says 1 */
    CHECK_EQ_INT(set(&c, err, "hz", "100000", NULL), 0);
    CHECK_EQ_INT(c.hz, 500);
    CHECK_EQ_INT(set(&c, err, "maxclients", "1", "tcp-keepalive", "0", NULL), 0);
    CHECK_EQ_INT(c.maxclients, 1);
    CHECK_EQ_INT(c.tcp_keepalive, 0);
    CHECK_EQ_INT(set(&c, err, "client-query-buffer-limit", "2mb", "proto-max-bulk-len", "1g", NULL), 0);
    CHECK_EQ_INT(c.client_query_buffer_limit, 2097152);
    CHECK_EQ_INT(c.proto_max_bulk_len, 1000000000);

    /* shutdown-on-sig*: flags split at single spaces, named in Redis's order. */
    CHECK_EQ_INT(set(&c, err, "shutdown-on-sigterm", "FORCE nosave now", "shutdown-timeout", "0", NULL), 0);
    CHECK_EQ_INT(c.shutdown_on_sigterm, TS_SHUTDOWN_NOSAVE | TS_SHUTDOWN_NOW | TS_SHUTDOWN_FORCE);
    CHECK_EQ_INT(c.shutdown_timeout, 0);
    char *val = ts_config_value(&c, "shutdown-on-sigterm");
    CHECK_STR(val, "nosave now force");
    free(val);
    CHECK_EQ_INT(set(&c, err, "shutdown-on-sigint", "default save", NULL), 0);
    val = ts_config_value(&c, "shutdown-on-sigint");
    CHECK_STR(val, "save");
    free(val);
    CHECK_EQ_INT(set(&c, err, "shutdown-on-sigint", "save nosave", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'shutdown-on-sigint') - shutdown options SAVE "
                   "and NOSAVE can't be used simultaneously");
    static const char *bad_flags[] = {"", "save  now", "save\tnow", "x", " save"};
    for (size_t i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
        CHECK_EQ_INT(set(&c, err, "shutdown-on-sigint", bad_flags[i], NULL), -1);
        CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'shutdown-on-sigint') - argument(s) must "
                       "be one of the following: default, save, nosave, now, force");
    }
    CHECK_EQ_INT(c.shutdown_on_sigint, TS_SHUTDOWN_SAVE);
    CHECK_EQ_INT(ts_config_load_string(&c, "shutdown-on-sigint \"now   force\"\nshutdown-on-sigterm default\n", NULL,
                                       err, sizeof(err)), 0);
    CHECK_EQ_INT(c.shutdown_on_sigint, TS_SHUTDOWN_NOW | TS_SHUTDOWN_FORCE);
    CHECK_EQ_INT(c.shutdown_on_sigterm, 0);
    CHECK_EQ_INT(ts_config_load_string(&c, "shutdown-on-sigterm save now\n", NULL, err, sizeof(err)), 0);
    CHECK_EQ_INT(c.shutdown_on_sigterm, TS_SHUTDOWN_SAVE | TS_SHUTDOWN_NOW);
    CHECK_EQ_INT(ts_config_load_string(&c, "shutdown-on-sigterm\n", NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "argument(s) must be one of the following: default, save, nosave, now, force") != NULL);

    /* Arity. */
    CHECK_EQ_INT(set(&c, err, NULL), -1);
    CHECK_STR(err, "ERR wrong number of arguments for 'config|set' command");
    CHECK_EQ_INT(set(&c, err, "port", NULL), -1);
    CHECK_STR(err, "ERR wrong number of arguments for 'config|set' command");
    CHECK_EQ_INT(set(&c, err, "timeout", "1", "hz", NULL), -1);
    CHECK_STR(err, "ERR syntax error");

    /* Unknown, immutable and duplicate names, with Redis's precedence. */
    CHECK_EQ_INT(set(&c, err, "foo", "1", NULL), -1);
    CHECK_STR(err, "ERR Unknown option or number of arguments for CONFIG SET - 'foo'");
    static const char *immutable[] = {"port", "bind", "unixsocket", "unixsocketperm", "tcp-backlog",
                                      "databases", "threads", "shards", "daemonize", "pidfile", "logfile"};
    for (size_t i = 0; i < sizeof(immutable) / sizeof(immutable[0]); i++) {
        char want[256];
        CHECK_EQ_INT(set(&c, err, immutable[i], "1", NULL), -1);
        snprintf(want, sizeof(want),
                 "ERR CONFIG SET failed (possibly related to argument '%s') - can't set immutable config",
                 immutable[i]);
        CHECK_STR(err, want);
    }
    CHECK_EQ_INT(set(&c, err, "daemonize", "yes", "foo", "1", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config");
    CHECK_EQ_INT(set(&c, err, "foo", "1", "daemonize", "yes", NULL), -1);
    CHECK_STR(err, "ERR Unknown option or number of arguments for CONFIG SET - 'foo'");
    CHECK_EQ_INT(set(&c, err, "timeout", "x", "daemonize", "yes", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config");
    CHECK_EQ_INT(set(&c, err, "timeout", "1", "timeout", "2", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate parameter");
    CHECK_EQ_INT(set(&c, err, "timeout", "1", "TIMEOUT", "2", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'TIMEOUT') - duplicate parameter");
    CHECK_EQ_INT(set(&c, err, "timeout", "1", "timeout", "2", "foo", "3", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'timeout') - duplicate parameter");
    CHECK_EQ_INT(set(&c, err, "timeout", "5", "foo", "1", NULL), -1);
    CHECK_STR(err, "ERR Unknown option or number of arguments for CONFIG SET - 'foo'");
    CHECK_EQ_INT(c.timeout, 30);
    /* User text is echoed without line breaks. */
    CHECK_EQ_INT(set(&c, err, "fo\r\no", "1", NULL), -1);
    CHECK_STR(err, "ERR Unknown option or number of arguments for CONFIG SET - 'fo  o'");

    /* Bad values. */
    CHECK_EQ_INT(set(&c, err, "timeout", "abc", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'timeout') - "
                   "argument couldn't be parsed into an integer");
    CHECK_EQ_INT(set(&c, err, "timeout", "", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'timeout') - "
                   "argument couldn't be parsed into an integer");
    CHECK_EQ_INT(set(&c, err, "timeout", "-1", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'timeout') - "
                   "argument must be between 0 and 2147483647 inclusive");
    CHECK_EQ_INT(set(&c, err, "hz", "-1", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'hz') - "
                   "argument must be between 0 and 2147483647 inclusive");
    CHECK_EQ_INT(set(&c, err, "loglevel", "loud", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'loglevel') - "
                   "argument(s) must be one of the following: debug, verbose, notice, warning");
    CHECK_EQ_INT(set(&c, err, "maxclients", "0", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'maxclients') - "
                   "argument must be between 1 and 4294967295 inclusive");
    CHECK_EQ_INT(set(&c, err, "maxclients", "1k", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'maxclients') - "
                   "argument couldn't be parsed into an integer");
    CHECK_EQ_INT(set(&c, err, "client-query-buffer-limit", "1zb", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') - "
                   "argument must be a memory value");
    CHECK_EQ_INT(set(&c, err, "client-query-buffer-limit", "10", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') - "
                   "argument must be between 1048576 and 9223372036854775807 inclusive");

    /* All or nothing: a bad value anywhere leaves every option unchanged;
     * the first bad value in argument order is the one reported. */
    CHECK_EQ_INT(set(&c, err, "timeout", "7", "hz", "abc", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'hz') - "
                   "argument couldn't be parsed into an integer");
    CHECK_EQ_INT(set(&c, err, "hz", "abc", "timeout", "x", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'hz') - "
                   "argument couldn't be parsed into an integer");
    CHECK_EQ_INT(set(&c, err, "loglevel", "debug", "timeout", "7", "maxclients", "0", NULL), -1);
    CHECK_EQ_INT(c.timeout, 30);
    CHECK_EQ_INT(c.hz, 500);
    CHECK_EQ_INT(c.loglevel, TS_LOG_WARNING);
    CHECK_EQ_INT(c.maxclients, 1);

    /* dir: chdir()s, reports errno's text, resolves a relative path from
     * the copy's own dir and is undone when a later value fails. */
    char start[PATH_MAX], sub[PATH_MAX + 8], file[PATH_MAX + 8];
    CHECK(getcwd(start, sizeof(start)) != NULL);
    snprintf(sub, sizeof(sub), "%s/sub", tmpdir);
    mkdir(sub, 0700);
    snprintf(file, sizeof(file), "%s/plain", tmpdir);
    FILE *f = fopen(file, "w");
    if (f) fclose(f);
    CHECK_EQ_INT(set(&c, err, "dir", tmpdir, NULL), 0);
    char cwd[PATH_MAX];
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    CHECK_STR(c.dir, cwd);
    CHECK_EQ_INT(set(&c, err, "dir", "/nonexistent-tessera-dir", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory");
    CHECK_EQ_INT(set(&c, err, "dir", file, NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'dir') - Not a directory");
    CHECK_EQ_INT(set(&c, err, "dir", "", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'dir') - No such file or directory");
    CHECK_EQ_INT(set(&c, err, "dir", "sub", "timeout", "x", NULL), -1);
    CHECK_STR(err, "ERR CONFIG SET failed (possibly related to argument 'timeout') - "
                   "argument couldn't be parsed into an integer");
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    CHECK_STR(cwd, c.dir);                      /* moved back */
    ts_config copy;
    ts_config_copy(&copy, &c);
    CHECK_EQ_INT(set(&c, err, "dir", "sub", "timeout", "9", NULL), 0);
    CHECK_EQ_INT(c.timeout, 9);
    /* Applying the same SET to another copy lands in the same place. */
    CHECK_EQ_INT(set(&copy, err, "dir", "sub", "timeout", "9", NULL), 0);
    STREQ(copy.dir, c.dir);
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    CHECK_STR(cwd, c.dir);
    CHECK(strstr(c.dir, "/sub") != NULL);
    got g;
    char want[PATH_MAX + 8];
    snprintf(want, sizeof(want), "dir=%s;", cwd);
    CHECK_STR(get(&c, &g, "dir", NULL), want);
    CHECK_EQ_INT(set(&c, err, "dir", "..", NULL), 0);
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    CHECK_STR(c.dir, cwd);
    CHECK(strstr(c.dir, "/sub") == NULL);
    CHECK(chdir(start) == 0);
    unlink(file);
    rmdir(sub);
    ts_config_free(&copy);
    ts_config_free(&c);
}

/* conf/tessera.conf must load cleanly and give the built-in defaults. */
static void test_shipped_conf(void)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", __FILE__);
    char *cut = strstr(path, "test/unit/config.c");
    if (!cut) {
        fprintf(stderr, "cannot locate the source tree from %s; skipping the conf check\n", __FILE__);
        return;
    }
    snprintf(cut, sizeof(path) - (size_t)(cut - path), "conf/tessera.conf");
    ts_config c, d;
    ts_config_init_defaults(&c);
    ts_config_init_defaults(&d);
    char err[1024] = "";
    CHECK_EQ_INT(ts_config_load_file(&c, path, err, sizeof(err)), 0);
    if (err[0]) fprintf(stderr, "%s\n", err);
    char *a = ts_config_to_text(&c), *b = ts_config_to_text(&d);
    CHECK_STR(a, b);
    free(a);
    free(b);
    ts_config_free(&c);
    ts_config_free(&d);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/tessera-unit-config-XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 2; }
    char real[PATH_MAX];
    if (realpath(tmpdir, real)) snprintf(tmpdir, sizeof(tmpdir), "%s", real);

    test_defaults();
    test_good_file();
    test_file_errors();
    test_user_directives();
    test_memory_units();
    test_args();
    test_get();
    test_set();
    test_shipped_conf();

    char path[PATH_MAX + 32];
    static const char *files[] = {"t.conf", "good.conf", "base.conf"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    TS_TEST_MAIN_END();
}
