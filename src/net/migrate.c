/*
 * migrate.c - connection migration: a client whose commands keep going to
 * one other shard moves to the worker that owns it (conn.h).
 *
 * Thread: the giving worker builds TS_MSG_MIGRATE_CONN and closes its
 * handle; the receiving worker adopts the socket (util/channels.h).
 */
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "tessera/net/worker.h"

/* ---------- connection migration ----------
 *
 * A client whose commands keep going to one other shard (a hot key, or
 * keys sharing a hash tag) pays a hop per command. After TS_MIGRATE_STREAK
 * such commands in a row, the connection moves to the worker that owns
 * that shard, at a moment when nothing of it is in flight: its socket is
 * dup()ed to the new worker, which continues with the same client id,
 * database, protocol and name; bytes not yet read wait in the kernel. A
 * client spreading its keys over shards never builds a streak and stays.
 * (Dragonfly has the same idea, "connection migration".) */
#define TS_MIGRATE_STREAK 32

static bool conn_idle(const ts_conn *c)
{
    return !c->closing && !c->close_after_reply && c->wait == TS_WAIT_NONE && c->inflight == 0 &&
           c->slot_count == 0 && c->npending == 0 && !c->write_in_flight && c->out.len == 0 &&
           c->qpos == c->query.len && !c->blocker && !c->paused && c->reading && !c->in_ready && !c->multi && !c->watch;
}

void ts__conn_maybe_migrate(ts_conn *c)
{
    ts_worker *w = c->w;
    if (c->streak < TS_MIGRATE_STREAK || w->stopping || !conn_idle(c) || c->aof_held) return;
    unsigned target = c->streak_target;
    c->streak = 0;
    if (target == w->e.id || target >= w->e.router->nshards) return;
    uv_os_fd_t fd;
    if (uv_fileno(&c->h.handle, &fd) != 0) return;
    int nfd = dup(fd);
    if (nfd < 0) return;
    ts_msg_migrate *m = ts_calloc(1, sizeof(*m));
    m->msg.kind = TS_MSG_MIGRATE_CONN;
    m->fd = nfd;
    m->client = c->client;
    c->client.name = NULL;   /* the message owns them now */
    c->client.user = NULL;
    uv_read_stop(&c->h.stream);
    c->reading = false;
    c->migrating = true;
    w->e.stats.migrations_out++;
    ts_conn_close(c);   /* closes this worker's fd; the socket lives on in nfd */
    ts_engine_send(&w->e, ts_engine_of(&w->e, target), &m->msg);
}

void ts_conn_adopt_migrated(ts_worker *w, ts_msg_migrate *m)
{
    if (w->stopping) {
        atomic_fetch_sub(&w->srv->connected_clients, 1);
        ts_msg_migrate_drop(m);
        return;
    }
    ts_conn *c = ts__conn_open(w, m->fd, m->client.is_unix, NULL);
    if (!c) {
        atomic_fetch_sub(&w->srv->connected_clients, 1);
        free(m->client.name);
        free(m->client.user);
        free(m);
        return;
    }
    c->client = m->client;   /* the same client: its id, settings and addresses */
    free(m);
    ts__conn_start_reading(c);
}

void ts_msg_migrate_drop(ts_msg_migrate *m)
{
    close(m->fd);
    free(m->client.name);
    free(m->client.user);
    free(m);
}
