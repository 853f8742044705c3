/*
 * Unit test of an engine's bounded inbox drain (route/engine.c,
 * ts_engine_drain): a small inbox is drained whole; a long one in slices of
 * the message budget, in order, reporting what is left; the time budget
 * stops a drain of slow messages; and with producers flooding the inbox
 * from other threads every drain still ends (the owner's loop gets its turn)
 * while every message arrives exactly once. Built under TSan in CI.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "tessera/config/config.h"
#include "tessera/route/engine.h"
#include "tessera/util/clock.h"
#include "ts_test.h"

typedef struct msg {
    ts_msg m;
    int seq;
} msg;

typedef struct sink {
    int handled;
    int next_seq;         /* the order check, single producer */
    bool in_order;
    long sleep_ns;        /* work per message */
} sink;

static void handle(void *arg, ts_msg *m)
{
    sink *s = arg;
    msg *x = (msg *)m;
    if (x->seq != s->next_seq) s->in_order = false;
    s->next_seq = x->seq + 1;
    s->handled++;
    if (s->sleep_ns) {
        struct timespec ts = {0, s->sleep_ns};
        nanosleep(&ts, NULL);
    }
}

#define PRODUCERS 2
#define PER_PRODUCER 200000

static ts_engine engine;
static msg *flood[PRODUCERS];
static atomic_int producers_done;

static void *producer_main(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        flood[id][i].seq = i;
        ts_engine_post(&engine, &flood[id][i].m);
    }
    atomic_fetch_add(&producers_done, 1);
    return NULL;
}

static void flood_count(void *arg, ts_msg *m)
{
    (void)m;
    (*(long *)arg)++;
}

int main(void)
{
    ts_clock_init();
    ts_config cfg;
    ts_config_init_defaults(&cfg);
    ts_engine *engines[1] = {&engine};
    ts_router router = {.nshards = 1, .engines = engines};
    static const ts_engine_hooks hooks = {0};
    CHECK_EQ_INT(ts_engine_init(&engine, &router, NULL, 0, &cfg, 1, false, &hooks), 0);

    /* A small inbox: drained whole, nothing left. */
    enum { N = 2500 };
    static msg ms[N];
    for (int i = 0; i < 10; i++) { ms[i].seq = i; ts_engine_post(&engine, &ms[i].m); }
    sink s = {.in_order = true};
    ts_inbox_budget budget = {.max_msgs = 1000, .max_us = 1000000};
    CHECK(!ts_engine_drain(&engine, &budget, handle, &s));
    CHECK_EQ_INT(s.handled, 10);
    CHECK(s.in_order);

    /* A long one: slices of 1000, in order, the rest reported. */
    s = (sink){.in_order = true};
    for (int i = 0; i < N; i++) { ms[i].seq = i; ts_engine_post(&engine, &ms[i].m); }
    CHECK(ts_engine_drain(&engine, &budget, handle, &s));
    CHECK_EQ_INT(s.handled, 1000);
    CHECK(ts_engine_drain(&engine, &budget, handle, &s));
    CHECK_EQ_INT(s.handled, 2000);
    CHECK(!ts_engine_drain(&engine, &budget, handle, &s));
    CHECK_EQ_INT(s.handled, N);
    CHECK(s.in_order);
    CHECK(ts_engine_prepare_sleep(&engine));   /* empty: may sleep */
    atomic_store(&engine.may_sleep, 0);

    /* Slow messages (100 us each): the time budget (1 ms) ends the drain
     * after about 10 of them, checked every 8 messages: at most 16. */
    s = (sink){.in_order = true, .sleep_ns = 100000};
    for (int i = 0; i < 100; i++) { ms[i].seq = i; ts_engine_post(&engine, &ms[i].m); }
    ts_inbox_budget timed = {.max_msgs = 1000, .max_us = 1000};
    CHECK(ts_engine_drain(&engine, &timed, handle, &s));
    CHECK(s.handled >= 8 && s.handled <= 16);
    s.sleep_ns = 0;
    CHECK(!ts_engine_drain(&engine, &budget, handle, &s));
    CHECK_EQ_INT(s.handled, 100);
    CHECK(s.in_order);

    /* Producers flooding from other threads: each drain ends within its
     * budget even though the inbox never empties while they run, and every
     * message arrives once. */
    pthread_t th[PRODUCERS];
    for (int p = 0; p < PRODUCERS; p++) {
        flood[p] = ts_calloc(PER_PRODUCER, sizeof(msg));
        pthread_create(&th[p], NULL, producer_main, (void *)(intptr_t)p);
    }
    long got = 0;
    int drains = 0;
    bool bounded = true;
    while (atomic_load(&producers_done) < PRODUCERS || got < (long)PRODUCERS * PER_PRODUCER) {
        long before = got;
        ts_engine_drain(&engine, &budget, flood_count, &got);
        if (got - before > 1000) bounded = false;
        drains++;
    }
    for (int p = 0; p < PRODUCERS; p++) pthread_join(th[p], NULL);
    CHECK(bounded);
    CHECK_EQ_INT(got, (long)PRODUCERS * PER_PRODUCER);
    CHECK(drains >= (PRODUCERS * PER_PRODUCER) / 1000);
    CHECK(!ts_engine_drain(&engine, &budget, flood_count, &got));
    for (int p = 0; p < PRODUCERS; p++) free(flood[p]);

    ts_engine_destroy(&engine);
    ts_config_free(&cfg);
    TS_TEST_MAIN_END();
}
