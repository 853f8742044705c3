/*
 * acceptor.c - listening sockets and connection hand-off (see acceptor.h).
 *
 * Listening sockets are made by hand (socket/bind/listen) rather than with
 * uv_tcp_bind so that we control IPV6_V6ONLY, SO_REUSEADDR and the backlog
 * exactly like Redis, and so the accepted fd can be moved to another loop:
 * a uv_tcp_t accepted on the main loop could not be.
 *
 * Out of descriptors (EMFILE, ENFILE): the connection stays in the backlog
 * and the listener stays readable, so a level-triggered poll would call us
 * back at once, forever, at 100% CPU (Redis does exactly that). We keep a
 * spare descriptor instead and give it up to accept such a connection and
 * refuse it as at maxclients, then take it back (libuv's uv__emfile_trick).
 * When even that fails (a worker took the freed slot first), the listeners
 * pause for TS_ACCEPT_PAUSE_MS. Normally neither happens: maxclients is
 * reconciled with the open-file limit at startup (ts_acceptor_reserved_fds,
 * util/fdlimit.h), and the acceptor refuses at maxclients first.
 */
#include "tessera/net/acceptor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tessera/util/clock.h"
#include "tessera/util/log.h"
#include "tessera/util/channels.h"
#include "tessera/net/worker.h"

#define TS_MAX_LISTENERS 16
#define TS_MAX_ACCEPTS_PER_CALL 1000
/* How long the listeners rest when accept() has no descriptor and no spare
 * is left: long enough to cost nothing, short enough that a freed slot is
 * used soon. */
#define TS_ACCEPT_PAUSE_MS 100

/* Descriptors kept besides the clients' (ts_acceptor_reserved_fds).
 * Redis's CONFIG_MIN_RESERVED_FDS (32) covers what Redis also has: the
 * listeners (up to 16 TCP plus the unix socket), the log, the persistence
 * files (RDB temp file, AOF base, increment, manifest and their temp
 * files), the pid file. Tessera adds its loops' descriptors, counted on
 * a running server (ls /proc/<pid>/fd): the main thread has stdin, stdout,
 * stderr, its loop's epoll, async eventfd and signal pipe, libuv's
 * process-wide signal pipe, a /dev/null and the acceptor's spare (11;
 * 16 kept); each worker has its loop's epoll, async eventfd and signal
 * pipe, and its inbox's eventfd (5), plus one for a connection migrating
 * to another worker (dup, migrate.c) = 6. */
#define TS_RESERVED_FDS_REDIS 32
#define TS_RESERVED_FDS_MAIN 16
#define TS_RESERVED_FDS_PER_WORKER 6

typedef struct listener {
    uv_poll_t poll;
    int fd;
    int is_unix;
    ts_acceptor *acc;
} listener;

struct ts_acceptor {
    ts_server *srv;
    uv_loop_t *loop;                 /* the main thread's */
    listener ls[TS_MAX_LISTENERS];
    int nls;
    unsigned next_worker;
    int spare_fd;                    /* /dev/null, given up to refuse a connection at EMFILE; -1 if lost */
    uv_timer_t resume;               /* restarts the listeners after a pause (TS_ACCEPT_PAUSE_MS) */
    bool paused;
    int64_t emfile_logged_s;         /* second of the last "Accepting client connection" warning */
};

int ts_acceptor_reserved_fds(unsigned nworkers)
{
    return TS_RESERVED_FDS_REDIS + TS_RESERVED_FDS_MAIN + TS_RESERVED_FDS_PER_WORKER * (int)nworkers;
}

/* Redis's reply to a client over maxclients; the socket is closed. */
static void refuse(ts_acceptor *a, int fd)
{
    static const char err[] = "-ERR max number of clients reached\r\n";
    ssize_t ignored = write(fd, err, sizeof(err) - 1);
    (void)ignored;
    close(fd);
    atomic_fetch_add(&a->srv->rejected_connections, 1);
}

static void hand_off(ts_acceptor *a, int fd, int is_unix, const struct sockaddr_storage *peer)
{
    ts_server *srv = a->srv;
    long clients = atomic_load(&srv->connected_clients);
    if (clients >= atomic_load(&srv->maxclients)) {
        refuse(a, fd);
        return;
    }
    atomic_fetch_add(&srv->connected_clients, 1);
    atomic_fetch_add(&srv->total_connections, 1);
    ts_msg_new_conn *m = ts_calloc(1, sizeof(*m));
    m->msg.kind = TS_MSG_NEW_CONN;
    m->fd = fd;
    m->is_unix = is_unix;
    if (!is_unix) {
        m->peer = *peer;
        m->has_peer = true;
    }
    /* Round robin, skipping a worker stuck in a script past
     * busy-reply-threshold: the new client (maybe the SCRIPT KILL) is
     * served by another one. */
    unsigned n = srv->router.nshards;
    ts_engine *e = srv->router.engines[a->next_worker++ % n];
    for (unsigned tries = 1; tries < n && atomic_load(&e->script_state) != TS_SCRIPT_IDLE; tries++)
        e = srv->router.engines[a->next_worker++ % n];
    ts_engine_post(e, &m->msg);
}

static void open_spare(ts_acceptor *a)
{
    if (a->spare_fd < 0) a->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Redis's warning for a failed accept, at most once a second: at EMFILE
 * every refused connection would log one. */
static void log_accept_error(ts_acceptor *a, int err)
{
    int64_t now_s = ts_mstime() / 1000;
    if (err == EMFILE || err == ENFILE) {
        if (now_s == a->emfile_logged_s) return;
        a->emfile_logged_s = now_s;
    }
    ts_log(TS_LOG_WARNING, "Accepting client connection: %s", strerror(err));
}

static void on_resume(uv_timer_t *t);

/* No descriptor and no spare: stop polling the listeners for a while (the
 * waiting connections stay in the backlog) instead of spinning. */
static void pause_listeners(ts_acceptor *a)
{
    if (a->paused) return;
    a->paused = true;
    for (int i = 0; i < a->nls; i++) uv_poll_stop(&a->ls[i].poll);
    uv_timer_start(&a->resume, on_resume, TS_ACCEPT_PAUSE_MS, 0);
}

static void on_listen_ready(uv_poll_t *p, int status, int events);

static void on_resume(uv_timer_t *t)
{
    ts_acceptor *a = t->data;
    a->paused = false;
    open_spare(a);
    for (int i = 0; i < a->nls; i++) uv_poll_start(&a->ls[i].poll, UV_READABLE, on_listen_ready);
}

/* accept() failed with EMFILE or ENFILE: the spare descriptor makes room
 * for one connection, which is refused, and is taken back. 1: a connection
 * was refused; 0: the backlog is empty; -1: no room even so. */
static int refuse_with_spare(listener *l)
{
    ts_acceptor *a = l->acc;
    if (a->spare_fd < 0) return -1;
    close(a->spare_fd);
    a->spare_fd = -1;
    int fd;
    do fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    int err = errno;
    if (fd >= 0) refuse(a, fd);
    open_spare(a);
    if (fd >= 0) return a->spare_fd >= 0 ? 1 : -1;
    return err == EAGAIN || err == EWOULDBLOCK ? 0 : -1;
}

static void on_listen_ready(uv_poll_t *p, int status, int events)
{
    listener *l = p->data;
    (void)events;
    if (status < 0) return;
    for (int i = 0; i < TS_MAX_ACCEPTS_PER_CALL; i++) {
        /* The peer's address comes with the socket: a client that has
         * already reset the connection has none left for getpeername(). */
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof peer;
        memset(&peer, 0, sizeof peer);
        int fd = accept4(l->fd, (struct sockaddr *)&peer, &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            hand_off(l->acc, fd, l->is_unix, &peer);
            continue;
        }
        int err = errno;
        if (err == EINTR || err == ECONNABORTED) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) return;
        log_accept_error(l->acc, err);
        if (err == EMFILE || err == ENFILE) {
            int rc = refuse_with_spare(l);
            if (rc > 0) continue;
            if (rc == 0) return;
        }
        /* Anything else (ENOBUFS, ENOMEM, no spare): the listener would stay
         * readable; rest instead of spinning. */
        pause_listeners(l->acc);
        return;
    }
}

static int add_listener(ts_acceptor *a, int fd, int is_unix)
{
    if (a->nls == TS_MAX_LISTENERS) { close(fd); return -1; }
    listener *l = &a->ls[a->nls++];
    l->fd = fd;
    l->is_unix = is_unix;
    l->acc = a;
    uv_poll_init(a->loop, &l->poll, fd);
    l->poll.data = l;
    uv_poll_start(&l->poll, UV_READABLE, on_listen_ready);
    return 0;
}

static int listen_tcp(ts_acceptor *a, const char *addr, int port, int backlog, char *err, size_t errlen)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    const char *host = addr;
    if (strcmp(addr, "*") == 0) { host = "0.0.0.0"; }
    if (strcmp(addr, "::*") == 0) { host = "::"; }
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) { snprintf(err, errlen, "%s", gai_strerror(rc)); return -1; }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { snprintf(err, errlen, "socket: %s", strerror(errno)); freeaddrinfo(res); return -1; }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (res->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
        snprintf(err, errlen, "bind: %s", strerror(errno));
        close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    if (listen(fd, backlog) < 0) {
        snprintf(err, errlen, "listen: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return add_listener(a, fd, 0);
}

static int listen_unix(ts_acceptor *a, const char *path, unsigned perm, int backlog)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        ts_log(TS_LOG_WARNING, "Unix socket path too long: %s", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, backlog) < 0) {
        ts_log(TS_LOG_WARNING, "Failed opening Unix socket: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (perm) chmod(path, (mode_t)perm);
    return add_listener(a, fd, 1);
}

ts_acceptor *ts_acceptor_start(ts_server *srv, uv_loop_t *loop)
{
    ts_acceptor *a = ts_calloc(1, sizeof(*a));
    a->srv = srv;
    a->loop = loop;
    a->spare_fd = -1;
    open_spare(a);
    uv_timer_init(loop, &a->resume);
    a->resume.data = a;
    const ts_config *cfg = &srv->config;
    if (cfg->port > 0) {
        int opened = 0;
        for (int i = 0; i < cfg->nbind; i++) {
            const char *addr = cfg->bind[i];
            bool optional = addr[0] == '-';
            if (optional) addr++;
            char err[256];
            if (listen_tcp(a, addr, cfg->port, cfg->tcp_backlog, err, sizeof(err)) == 0) {
                opened++;
                continue;
            }
            if (optional && (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT ||
                             strstr(err, "Cannot assign") || strstr(err, "not supported") ||
                             strstr(err, "Address family"))) {
                continue;
            }
            ts_log(TS_LOG_WARNING, "Warning: Could not create server TCP listening socket %s:%d: %s",
                   addr, cfg->port, err);
            ts_log(TS_LOG_WARNING, "Failed listening on port %d (TCP), aborting.", cfg->port);
            ts_acceptor_stop(a);
            return NULL;
        }
        if (opened == 0) {
            ts_log(TS_LOG_WARNING, "Failed listening on port %d (TCP), aborting.", cfg->port);
            ts_acceptor_stop(a);
            return NULL;
        }
    }
    if (cfg->unixsocket && cfg->unixsocket[0]) {
        if (listen_unix(a, cfg->unixsocket, (unsigned)cfg->unixsocketperm, cfg->tcp_backlog) != 0) {
            ts_acceptor_stop(a);
            return NULL;
        }
    }
    if (a->nls == 0) ts_log(TS_LOG_WARNING, "No listening sockets configured (port 0 and no unixsocket)");
    return a;
}

static void free_acceptor_cb(uv_handle_t *h) { (void)h; }

void ts_acceptor_stop(ts_acceptor *a)
{
    if (!a) return;
    if (!uv_is_closing((uv_handle_t *)&a->resume)) {
        uv_timer_stop(&a->resume);
        uv_close((uv_handle_t *)&a->resume, free_acceptor_cb);
    }
    if (a->spare_fd >= 0) close(a->spare_fd);
    a->spare_fd = -1;
    for (int i = 0; i < a->nls; i++) {
        uv_poll_stop(&a->ls[i].poll);
        uv_close((uv_handle_t *)&a->ls[i].poll, free_acceptor_cb);
        close(a->ls[i].fd);
        if (a->ls[i].is_unix && a->srv->config.unixsocket) unlink(a->srv->config.unixsocket);
    }
    a->nls = 0;
}

void ts_acceptor_free(ts_acceptor *a) { free(a); }
