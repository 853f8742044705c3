/*
 * acceptor.c - listening sockets and connection hand-off (see acceptor.h).
 *
 * Listening sockets are made by hand (socket/bind/listen) rather than with
 * uv_tcp_bind so that we control IPV6_V6ONLY, SO_REUSEADDR and the backlog
 * exactly like Redis, and so the accepted fd can be moved to another loop:
 * a uv_tcp_t accepted on the main loop could not be.
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

#include "tessera/util/log.h"
#include "tessera/util/channels.h"
#include "tessera/net/worker.h"

#define TS_MAX_LISTENERS 16
#define TS_MAX_ACCEPTS_PER_CALL 1000

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
};

static void hand_off(ts_acceptor *a, int fd, int is_unix, const struct sockaddr_storage *peer)
{
    ts_server *srv = a->srv;
    long clients = atomic_load(&srv->connected_clients);
    if (clients >= atomic_load(&srv->maxclients)) {
        static const char err[] = "-ERR max number of clients reached\r\n";
        ssize_t ignored = write(fd, err, sizeof(err) - 1);
        (void)ignored;
        close(fd);
        atomic_fetch_add(&srv->rejected_connections, 1);
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
    ts_engine *e = srv->router.engines[a->next_worker++ % srv->router.nshards];
    ts_engine_post(e, &m->msg);
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
        if (fd < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                ts_log(TS_LOG_WARNING, "Accepting client connection: %s", strerror(errno));
            return;
        }
        hand_off(l->acc, fd, l->is_unix, &peer);
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
    for (int i = 0; i < a->nls; i++) {
        uv_poll_stop(&a->ls[i].poll);
        uv_close((uv_handle_t *)&a->ls[i].poll, free_acceptor_cb);
        close(a->ls[i].fd);
        if (a->ls[i].is_unix && a->srv->config.unixsocket) unlink(a->srv->config.unixsocket);
    }
    a->nls = 0;
}

void ts_acceptor_free(ts_acceptor *a) { free(a); }
