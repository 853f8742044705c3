/*
 * txload.c - a load generator for what redis-benchmark cannot send: whole
 * MULTI/EXEC transactions, one per round trip per connection.
 *
 * Usage: txload -p PORT [-c CLIENTS] [-n TXNS] [-m MODE] [-s SHARDS]
 *   MODE tag5    MULTI, 5 commands on keys sharing the connection's hash
 *                tag ({c<i>}: one shard), EXEC (the default)
 *        cross2  MULTI, DECRBY on a key of shard 0, INCRBY on a key of
 *                shard SHARDS-1 (Tessera's contiguous slot map), EXEC
 * Prints one line: "<txns> txns in <seconds> s = <rate> txn/s". Exit 1 on
 * an error reply, a closed connection or a bad reply.
 * Built by bench/tx.sh (cc -O2); not part of the server.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct client {
    int fd;
    char req[1024];
    size_t reqlen;
    char buf[65536];
    size_t len;
    int want;      /* replies still expected for the transaction in flight */
} client;

static unsigned crc16(const char *p, size_t n)
{
    unsigned crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (unsigned)(unsigned char)p[i] << 8;
        for (int b = 0; b < 8; b++) crc = (crc & 0x8000) ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
    return crc;
}

static unsigned shard_of(const char *key, unsigned nshards)
{
    return (crc16(key, strlen(key)) % 16384) * nshards / 16384;
}

/* The first key "<prefix><i>" on shard s. */
static void key_on(char *out, size_t outlen, const char *prefix, unsigned s, unsigned nshards)
{
    for (int i = 0;; i++) {
        snprintf(out, outlen, "%s%d", prefix, i);
        if (shard_of(out, nshards) == s) return;
    }
}

static size_t put_cmd(char *dst, int argc, const char **argv)
{
    size_t n = (size_t)sprintf(dst, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) n += (size_t)sprintf(dst + n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    return n;
}

/* Bytes of one complete reply at p (0: incomplete, -1: an error reply). */
static long skip_reply(const char *p, size_t len)
{
    const char *nl = memchr(p, '\n', len);
    if (!nl) return 0;
    size_t head = (size_t)(nl - p) + 1;
    long v = atol(p + 1);
    switch (p[0]) {
    case '+': case ':': case '_': case ',': case '#':
        return (long)head;
    case '-':
        fprintf(stderr, "error reply: %.*s\n", (int)(head - 2), p);
        return -1;
    case '$':
        if (v < 0) return (long)head;
        return len >= head + (size_t)v + 2 ? (long)(head + (size_t)v + 2) : 0;
    case '*': {
        size_t off = head;
        for (long i = 0; i < v; i++) {
            long k = skip_reply(p + off, len - off);
            if (k <= 0) return k;
            off += (size_t)k;
        }
        return (long)off;
    }
    default:
        fprintf(stderr, "bad reply byte %c\n", p[0]);
        return -1;
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    int port = 0, nclients = 50;
    long total = 100000;
    unsigned nshards = 2;
    const char *mode = "tag5";
    int opt;
    while ((opt = getopt(argc, argv, "p:c:n:m:s:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'c': nclients = atoi(optarg); break;
        case 'n': total = atol(optarg); break;
        case 'm': mode = optarg; break;
        case 's': nshards = (unsigned)atoi(optarg); break;
        default: return 2;
        }
    }
    if (!port || nclients <= 0 || total <= 0 || !nshards) {
        fprintf(stderr, "usage: txload -p PORT [-c CLIENTS] [-n TXNS] [-m tag5|cross2] [-s SHARDS]\n");
        return 2;
    }
    int cross = strcmp(mode, "cross2") == 0;
    if (!cross && strcmp(mode, "tag5") != 0) {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    client *cs = calloc((size_t)nclients, sizeof(client));
    struct pollfd *pfd = calloc((size_t)nclients, sizeof(struct pollfd));
    for (int i = 0; i < nclients; i++) {
        client *c = &cs[i];
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) { perror("connect"); return 1; }
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        char a[64], b[64], h[64], l[64];
        const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
        c->reqlen = put_cmd(c->req, 1, multi);
        if (cross) {
            char pa[32], pb[32];
            snprintf(pa, sizeof pa, "acct:%d:", i);
            snprintf(pb, sizeof pb, "acct:%d:", i);
            key_on(a, sizeof a, pa, 0, nshards);
            key_on(b, sizeof b, pb, nshards - 1, nshards);
            const char *c1[] = {"DECRBY", a, "1"}, *c2[] = {"INCRBY", b, "1"};
            c->reqlen += put_cmd(c->req + c->reqlen, 3, c1);
            c->reqlen += put_cmd(c->req + c->reqlen, 3, c2);
            c->want = 4;
        } else {
            snprintf(a, sizeof a, "{c%d}:n", i);
            snprintf(b, sizeof b, "{c%d}:s", i);
            snprintf(h, sizeof h, "{c%d}:h", i);
            snprintf(l, sizeof l, "{c%d}:l", i);
            const char *c1[] = {"INCR", a}, *c2[] = {"SET", b, "xxxxxxxxxx"}, *c3[] = {"GET", b},
                       *c4[] = {"HINCRBY", h, "f", "1"}, *c5[] = {"EXPIRE", a, "1000"};
            c->reqlen += put_cmd(c->req + c->reqlen, 2, c1);
            c->reqlen += put_cmd(c->req + c->reqlen, 3, c2);
            c->reqlen += put_cmd(c->req + c->reqlen, 2, c3);
            c->reqlen += put_cmd(c->req + c->reqlen, 4, c4);
            c->reqlen += put_cmd(c->req + c->reqlen, 3, c5);
            c->want = 7;
        }
        c->reqlen += put_cmd(c->req + c->reqlen, 1, exec);
        pfd[i].fd = c->fd;
        pfd[i].events = POLLIN;
    }
    int per_txn = cross ? 4 : 7;
    long sent = 0, done = 0;
    double t0 = now_s();
    for (int i = 0; i < nclients && sent < total; i++, sent++)
        if (write(cs[i].fd, cs[i].req, cs[i].reqlen) != (ssize_t)cs[i].reqlen) { perror("write"); return 1; }
    while (done < total) {
        if (poll(pfd, (nfds_t)nclients, 10000) <= 0) { fprintf(stderr, "timeout\n"); return 1; }
        for (int i = 0; i < nclients; i++) {
            if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP))) continue;
            client *c = &cs[i];
            ssize_t k = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
            if (k <= 0) { fprintf(stderr, "connection closed\n"); return 1; }
            c->len += (size_t)k;
            size_t off = 0;
            for (;;) {
                long r = skip_reply(c->buf + off, c->len - off);
                if (r < 0) return 1;
                if (r == 0) break;
                off += (size_t)r;
                if (--c->want == 0) {
                    done++;
                    c->want = per_txn;
                    if (sent < total) {
                        sent++;
                        if (write(c->fd, c->req, c->reqlen) != (ssize_t)c->reqlen) { perror("write"); return 1; }
                    }
                }
            }
            memmove(c->buf, c->buf + off, c->len - off);
            c->len -= off;
        }
    }
    double dt = now_s() - t0;
    printf("%ld txns in %.3f s = %.0f txn/s\n", done, dt, (double)done / dt);
    return 0;
}
