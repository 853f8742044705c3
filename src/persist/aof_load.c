/*
 * aof_load.c - startup with appendonly yes (aof_load.h).
 *
 * Replay goes through the ordinary command path: a socketpair whose far
 * end is adopted by worker 0 as a client, fed the file's commands and
 * drained of replies by a thread here. Routing, multi-shard commands and
 * every command's semantics are then exactly those that produced the
 * file, with no second implementation to keep in step. While loading,
 * workers read their clock as 0 (nothing logged with an absolute expire
 * time looks expired, like Redis, which does not expire keys while
 * loading), run no active expiry and log nothing to the AOF.
 *
 * An RDB preamble is loaded by the parallel RDB loader (which checks it as
 * it goes); the command tail is checked (aof_scan.c) before any of it
 * runs: a torn tail is cut off (aof-load-truncated yes, Redis's default) or
 * stops startup; corruption anywhere else always stops startup, naming
 * the offset, so a bad file never starts a server with part of it.
 */
#include "tessera/persist/aof_load.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tessera/persist/aof.h"
#include "tessera/persist/aof_scan.h"
#include "tessera/persist/persist.h"
#include "tessera/persist/rdb_file.h"
#include "tessera/util/channels.h"
#include "tessera/util/clock.h"
#include "tessera/util/log.h"
#include "tessera/util/strconv.h"
#include "tessera/util/thread.h"

/* The first AOF of a server that already has an RDB file: a copy of it,
 * which is a valid RDB preamble. Written to a temp name, fsynced, renamed. */
static int aof_from_rdb(const char *rdb, const char *aof)
{
    int in = open(rdb, O_RDONLY | O_CLOEXEC);
    if (in < 0) return errno == ENOENT ? 1 : -1;
    char tmp[512];
    snprintf(tmp, sizeof tmp, "temp-aof-%d.aof", (int)getpid());
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) { close(in); return -1; }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = -1;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) { rc = -1; break; }
            off += w;
        }
        if (rc) break;
    }
    close(in);
    if (rc == 0 && fsync(out) != 0) rc = -1;
    close(out);
    if (rc == 0 && rename(tmp, aof) != 0) rc = -1;
    if (rc != 0) unlink(tmp);
    return rc;
}

typedef struct check_ctx {
    const char *file;
    bool (*known)(ts_arg name);
    char bad[64];
} check_ctx;

static int check_command(void *arg, const unsigned char *cmd, size_t len, int argc, ts_arg name)
{
    (void)cmd; (void)len; (void)argc;
    check_ctx *x = arg;
    if (ts_arg_eq(name, "multi") || ts_arg_eq(name, "exec")) return 0;
    if (x->known(name)) return 0;
    snprintf(x->bad, sizeof x->bad, "%.*s", (int)(name.len > 40 ? 40 : name.len), name.ptr);
    return 1;
}

int ts_aof_startup_prepare(const ts_aof_load_env *env, ts_aof_startup *st)
{
    const ts_config *cfg = env->config;
    memset(st, 0, sizeof(*st));
    st->t0_us = (int64_t)ts_monotonic_us();
    const char *file = cfg->appendfilename;
    int fd = open(file, O_RDWR | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) {
        ts_log(TS_LOG_WARNING, "Fatal error: can't open the append log file %s for reading: %s", file, strerror(errno));
        return -1;
    }
    if (fd < 0) {
        /* No AOF yet: start it from the RDB file, if there is one, and
         * load that. */
        int rc = aof_from_rdb(cfg->dbfilename, file);
        if (rc < 0) {
            ts_log(TS_LOG_WARNING, "Can't create the append only file %s from %s: %s", file,
                   cfg->dbfilename, strerror(errno));
            return -1;
        }
        if (rc == 0) {
            ts_log(TS_LOG_NOTICE, "Creating AOF %s from the RDB file %s", file, cfg->dbfilename);
            fd = open(file, O_RDWR | O_CLOEXEC);
            if (fd < 0) return -1;
        }
    }
    if (fd >= 0) {
        struct stat sb;
        if (fstat(fd, &sb) != 0) { close(fd); return -1; }
        size_t len = (size_t)sb.st_size;
        unsigned char *map = NULL;
        if (len) {
            map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
            if (map == MAP_FAILED) {
                ts_log(TS_LOG_WARNING, "Fatal error: can't read the append only file %s: %s", file, strerror(errno));
                close(fd);
                return -1;
            }
        }
        /* An RDB preamble is read once, by the parallel loader, which also
         * finds where it ends; the command tail is checked before any of it
         * runs. A bad file still never starts the server: a failure past
         * this point exits with whatever the preamble put in the shards. */
        size_t rdb_len = 0;
        if (len >= 5 && memcmp(map, "REDIS", 5) == 0) {
            ts_log(TS_LOG_NOTICE, "Reading RDB preamble from AOF file...");
            ts_rdb_load_stats ls;
            char err[512];
            if (ts_rdb_load_mem(env->router, cfg, map, len, &rdb_len, &ls, err, sizeof err) != 0) {
                ts_log(TS_LOG_WARNING, "Bad file format reading the RDB preamble of the append only file %s: %s",
                       file, err);
                goto fail;
            }
            ts_log(TS_LOG_NOTICE, "Reading the remaining AOF tail...");
        }
        ts_aof_scan_result res;
        check_ctx x = {.file = file, .known = env->known_command};
        int rc = len ? ts_aof_scan_after(map, len, rdb_len, check_command, &x, &res) : 0;
        if (!len) memset(&res, 0, sizeof res);
        if (rc > 0) {
            ts_log(TS_LOG_WARNING, "Unknown command '%s' reading the append only file %s", x.bad, file);
            goto fail;
        }
        if (rc < 0) {
            ts_log(TS_LOG_WARNING,
                   "Bad file format reading the append only file %s at offset %zu (%s): make a backup of your AOF "
                   "file, then use tessera-check aof --fix <filename>",
                   file, res.error_off, res.error);
            goto fail;
        }
        if (res.truncated) {
            if (!cfg->aof_load_truncated) {
                ts_log(TS_LOG_WARNING,
                       "Unexpected end of file reading the append only file %s. You can: 1) Make a backup of your "
                       "AOF file, then use tessera-check aof --fix <filename>. 2) Alternatively you can set the "
                       "'aof-load-truncated' configuration option to yes and restart the server.",
                       file);
                goto fail;
            }
            ts_log(TS_LOG_WARNING, "!!! Warning: short read while loading the AOF file %s!!!", file);
            ts_log(TS_LOG_WARNING, "!!! Truncating the AOF %s at offset %zu !!!", file, res.valid_len);
            if (ftruncate(fd, (off_t)res.valid_len) != 0 || fsync(fd) != 0) {
                ts_log(TS_LOG_WARNING, "Error truncating the AOF file %s: %s", file, strerror(errno));
                goto fail;
            }
            ts_log(TS_LOG_WARNING, "AOF %s loaded anyway because aof-load-truncated is enabled", file);
        }
        close(fd);
        fd = -1;
        st->map = map;
        st->map_len = len;
        st->cmds_off = res.rdb_len;
        st->cmds_end = res.valid_len;
        st->replay = st->cmds_end > st->cmds_off;
        if (0) {
        fail:
            if (map) munmap(map, len);
            close(fd);
            return -1;
        }
    }
    int rc = ts_aof_open(env->persist, file, cfg->appendfsync);
    if (rc != 0) {
        ts_log(TS_LOG_WARNING, "Can't open the append-only file %s: %s", file, strerror(-rc));
        return -1;
    }
    return 0;
}

/* ---- replay ---- */

/* Commands go to the socket in runs: the file's bytes as they lie in the
 * map, one write per contiguous stretch of up to FEED_RUN bytes (MULTI and
 * EXEC are skipped, which is what splits a stretch), not one write per
 * command. */
#define FEED_RUN (256 * 1024)

typedef struct feed {
    int fd;
    int failed;
    uint64_t commands;
    const unsigned char *run;  /* start of the bytes not written yet */
    size_t run_len;
} feed;

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int feed_flush(feed *f)
{
    if (f->run_len && write_all(f->fd, f->run, f->run_len) != 0) {
        f->failed = errno;
        return 1;
    }
    f->run_len = 0;
    return 0;
}

static int feed_command(void *arg, const unsigned char *cmd, size_t len, int argc, ts_arg name)
{
    (void)argc;
    feed *f = arg;
    /* Loading is the only client: a MULTI block needs no isolation. */
    if (ts_arg_eq(name, "multi") || ts_arg_eq(name, "exec")) return 0;
    if (f->run_len && (cmd != f->run + f->run_len || f->run_len + len > FEED_RUN) && feed_flush(f)) return 1;
    if (!f->run_len) f->run = cmd;
    f->run_len += len;
    f->commands++;
    if (f->commands % 1000000 == 0)
        ts_log(TS_LOG_NOTICE, "Loading AOF: %llu commands so far", (unsigned long long)f->commands);
    return 0;
}

typedef struct drain {
    int fd;
    char token[41];
    bool seen;
} drain;

/* Reads replies until the sentinel ECHO's token comes back: every command
 * before it has then run (replies come in request order). */
static void drain_main(void *arg)
{
    drain *d = arg;
    char buf[65536 + 64];
    size_t keep = 0;
    for (;;) {
        ssize_t n = read(d->fd, buf + keep, 65536);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        size_t have = keep + (size_t)n;
        if (memmem(buf, have, d->token, 40)) {
            d->seen = true;
            return;
        }
        keep = have < 40 ? have : 40;
        memmove(buf, buf + have - keep, keep);
    }
}

int ts_aof_startup_replay(const ts_aof_load_env *env, ts_aof_startup *st)
{
    int rc = 0;
    if (st->replay) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
            ts_log(TS_LOG_WARNING, "Can't replay the AOF: socketpair: %s", strerror(errno));
            return -1;
        }
        env->open_replay_connection(sv[1], env->arg);

        drain d = {.fd = sv[0]};
        static const char hex[] = "0123456789abcdef";
        unsigned long long seed = (unsigned long long)ts_monotonic_us() ^ ((unsigned long long)getpid() << 32);
        for (int i = 0; i < 40; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            d.token[i] = hex[(seed >> 33) & 15];
        }
        ts_thread th;
        if (ts_thread_start(&th, "ts-aof-drain", drain_main, &d) != 0) {
            ts_log(TS_LOG_WARNING, "Can't replay the AOF: cannot start the drain thread");
            close(sv[0]);
            return -1;
        }
        feed f = {.fd = sv[0]};
        ts_aof_scan_result res;
        ts_aof_scan(st->map + st->cmds_off, st->cmds_end - st->cmds_off, feed_command, &f, &res);
        if (!f.failed) feed_flush(&f);
        char echo[96];
        int n = snprintf(echo, sizeof echo, "*2\r\n$4\r\nECHO\r\n$40\r\n%.40s\r\n", d.token);
        if (!f.failed && write_all(sv[0], echo, (size_t)n) != 0) f.failed = errno;
        if (f.failed) shutdown(sv[0], SHUT_RDWR);
        ts_thread_join(&th);
        close(sv[0]);
        if (f.failed || !d.seen) {
            ts_log(TS_LOG_WARNING, "Replaying the append only file failed: %s",
                   f.failed ? strerror(f.failed) : "the replay connection closed");
            rc = -1;
        }
    }
    if (st->map) munmap(st->map, st->map_len);
    st->map = NULL;
    st->replay = false;
    for (unsigned i = 0; i < env->router->nshards; i++) {
        ts_msg *m = ts_calloc(1, sizeof(*m));
        m->kind = TS_MSG_LOADED;
        ts_engine_post(env->router->engines[i], m);
    }
    if (rc == 0)
        ts_log(TS_LOG_NOTICE, "DB loaded from append only file: %.3f seconds",
               (double)((int64_t)ts_monotonic_us() - st->t0_us) / 1e6);
    return rc;
}
