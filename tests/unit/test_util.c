/* util: the per-thread batch of deferred calls (util_batch). */
#include <criterion/criterion.h>
#include <pthread.h>

#include "util.h"

static int order[UTIL_BATCH_MAX + 8];
static int norder;

/* A deferred call: record its argument. */
static void record(void *arg)
{
    order[norder++] = (int)(intptr_t)arg;
}

/* Without an open batch nothing is deferred. */
Test(util_batch, closed_defers_nothing)
{
    norder = 0;
    cr_expect_not(util_batch_defer(record, (void *)1));
    util_batch_begin();
    util_batch_end();
    cr_expect_not(util_batch_defer(record, (void *)2), "closed again after end");
    cr_expect_eq(norder, 0);
}

/* Deferred calls run at the end, in order, not before. */
Test(util_batch, calls_run_at_end_in_order)
{
    norder = 0;
    util_batch_begin();
    for (int i = 1; i <= 3; i++)
        cr_expect(util_batch_defer(record, (void *)(intptr_t)i));
    cr_expect_eq(norder, 0, "nothing ran before the end");
    util_batch_end();
    cr_assert_eq(norder, 3);
    for (int i = 0; i < 3; i++)
        cr_expect_eq(order[i], i + 1);
}

/* A full batch refuses (the caller calls at once); the rest still runs. */
Test(util_batch, full_batch_refuses)
{
    norder = 0;
    util_batch_begin();
    int deferred = 0;
    for (int i = 0; i < UTIL_BATCH_MAX + 2; i++)
        deferred += util_batch_defer(record, (void *)(intptr_t)i);
    cr_expect_eq(deferred, UTIL_BATCH_MAX);
    util_batch_end();
    cr_expect_eq(norder, UTIL_BATCH_MAX);
}

/* Another thread's batch is its own: this thread's open batch does not take its calls. */
static void *other(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)util_batch_defer(record, (void *)9);
}

Test(util_batch, per_thread)
{
    norder = 0;
    util_batch_begin();
    pthread_t t;
    void *ret;
    cr_assert_eq(pthread_create(&t, NULL, other, NULL), 0);
    pthread_join(t, &ret);
    cr_expect_eq((intptr_t)ret, 0, "the other thread has no batch open");
    util_batch_end();
    cr_expect_eq(norder, 0);
}
