/* util: the small helpers every module shares (see util.h). */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>

/* Format a message into err, if there is one; always -1. */
int util_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Nanoseconds on the monotonic clock. */
int64_t util_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Milliseconds on the monotonic clock. */
int64_t util_mono_ms(void)
{
    return util_mono_ns() / 1000000;
}

/* Now plus ms on the monotonic clock, normalized. */
struct timespec util_mono_after(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
    ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

/* FNV-1a, 32 bits. */
uint32_t util_fnv1a32(const char *s)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

/* The ticker's thread: fn, then wait a period or until stopped. */
static void *ticker_main(void *arg)
{
    struct util_ticker *t = arg;
    bool call = t->first_now;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        if (call) {
            pthread_mutex_unlock(&t->mu);
            t->fn(t->arg);
            pthread_mutex_lock(&t->mu);
        }
        call = true;
        struct timespec until = util_mono_after(t->period_ms);
        while (!t->stop && pthread_cond_timedwait(&t->cv, &t->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* Set up the lock and the monotonic condition, then start the thread. */
int util_ticker_start(struct util_ticker *t, int64_t period_ms, bool first_now,
                      void (*fn)(void *), void *arg, char *err, size_t errlen)
{
    pthread_condattr_t ca;
    t->stop = false;
    t->running = false;
    t->first_now = first_now;
    t->period_ms = period_ms > 0 ? period_ms : 1000;
    t->fn = fn;
    t->arg = arg;
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&t->thread, NULL, ticker_main, t) != 0) {
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
        return util_seterr(err, errlen, "cannot start a background thread");
    }
    t->running = true;
    return 0;
}

/* Signal the thread, join it, free the lock and the condition. */
void util_ticker_stop(struct util_ticker *t)
{
    if (!t->running)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    t->running = false;
}

/* This thread's batch of deferred calls. */
static _Thread_local struct {
    bool open;
    size_t n;
    struct {
        void (*fn)(void *);
        void *arg;
    } calls[UTIL_BATCH_MAX];
} util_batch;

/* Open this thread's batch. */
void util_batch_begin(void)
{
    util_batch.open = true;
    util_batch.n = 0;
}

/* Defer fn(arg) to the end of the open batch; false when none is open or it is full. */
bool util_batch_defer(void (*fn)(void *), void *arg)
{
    if (!util_batch.open || util_batch.n == UTIL_BATCH_MAX)
        return false;
    util_batch.calls[util_batch.n].fn = fn;
    util_batch.calls[util_batch.n].arg = arg;
    util_batch.n++;
    return true;
}

/* Close the batch and make its calls in order (a call may defer no more). */
void util_batch_end(void)
{
    util_batch.open = false;
    for (size_t i = 0; i < util_batch.n; i++)
        util_batch.calls[i].fn(util_batch.calls[i].arg);
    util_batch.n = 0;
}
