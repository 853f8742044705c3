/*
 * Unit test of the MPSC queue: single-thread FIFO order, then a stress run
 * with several producers checking that every message arrives exactly once
 * and that each producer's messages arrive in the order it pushed them.
 * Built under TSan in CI, which checks the memory ordering.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "tessera/util/mpsc.h"
#include "tessera/util/common.h"
#include "ts_test.h"

typedef struct msg {
    ts_mpsc_node link;
    int producer;
    int seq;
    int payload;   /* written before push, read after pop: TSan checks the edge */
} msg;

#define PRODUCERS 4
#define PER_PRODUCER 200000

static ts_mpsc queue;
static msg *pool[PRODUCERS];
static atomic_int started;

static void *producer_main(void *arg)
{
    int id = (int)(intptr_t)arg;
    atomic_fetch_add(&started, 1);
    while (atomic_load(&started) < PRODUCERS) { }
    for (int i = 0; i < PER_PRODUCER; i++) {
        msg *m = &pool[id][i];
        m->producer = id;
        m->seq = i;
        m->payload = id * 1000003 + i;
        ts_mpsc_push(&queue, &m->link);
    }
    return NULL;
}

int main(void)
{
    /* FIFO on one thread, including draining to empty and refilling. */
    ts_mpsc q;
    ts_mpsc_init(&q);
    msg local[10];
    CHECK(ts_mpsc_pop(&q) == NULL);
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 10; i++) { local[i].seq = i; ts_mpsc_push(&q, &local[i].link); }
        for (int i = 0; i < 10; i++) {
            ts_mpsc_node *n = ts_mpsc_pop(&q);
            CHECK(n != NULL);
            if (n) CHECK_EQ_INT(TS_CONTAINER_OF(n, msg, link)->seq, i);
        }
        CHECK(ts_mpsc_pop(&q) == NULL);
    }

    /* Multi-producer stress. */
    ts_mpsc_init(&queue);
    pthread_t th[PRODUCERS];
    for (int p = 0; p < PRODUCERS; p++) {
        pool[p] = ts_calloc(PER_PRODUCER, sizeof(msg));
        pthread_create(&th[p], NULL, producer_main, (void *)(intptr_t)p);
    }
    int next_seq[PRODUCERS] = {0};
    long received = 0, order_errors = 0, payload_errors = 0;
    while (received < (long)PRODUCERS * PER_PRODUCER) {
        ts_mpsc_node *n = ts_mpsc_pop(&queue);
        if (!n) continue;
        msg *m = TS_CONTAINER_OF(n, msg, link);
        if (m->seq != next_seq[m->producer]) order_errors++;
        if (m->payload != m->producer * 1000003 + m->seq) payload_errors++;
        next_seq[m->producer] = m->seq + 1;
        received++;
    }
    for (int p = 0; p < PRODUCERS; p++) pthread_join(th[p], NULL);
    CHECK(ts_mpsc_pop(&queue) == NULL);
    CHECK_EQ_INT(order_errors, 0);
    CHECK_EQ_INT(payload_errors, 0);
    for (int p = 0; p < PRODUCERS; p++) { CHECK_EQ_INT(next_seq[p], PER_PRODUCER); free(pool[p]); }
    TS_TEST_MAIN_END();
}
