/*
 * thread.c - starting and joining threads (thread.h).
 */
#include "tessera/util/thread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/util/common.h"

typedef struct start_arg {
    ts_thread_fn *fn;
    void *arg;
    char name[16];
} start_arg;

static void *thread_entry(void *p)
{
    start_arg a = *(start_arg *)p;
    free(p);
    if (a.name[0]) pthread_setname_np(pthread_self(), a.name);
    a.fn(a.arg);
    return NULL;
}

int ts_thread_start(ts_thread *t, const char *name, ts_thread_fn *fn, void *arg)
{
    start_arg *a = ts_malloc(sizeof(*a));
    a->fn = fn;
    a->arg = arg;
    snprintf(a->name, sizeof a->name, "%s", name ? name : "");
    int rc = pthread_create(&t->id, NULL, thread_entry, a);
    if (rc != 0) {
        free(a);
        return -rc;
    }
    return 0;
}

void ts_thread_join(ts_thread *t)
{
    int rc = pthread_join(t->id, NULL);
    if (rc != 0) ts_panic("pthread_join: %s", strerror(rc));
}
