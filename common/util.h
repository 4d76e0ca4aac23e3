/* util: the small helpers every module shares, kept in one place.
 *
 * An error formatter for callers' buffers, the monotonic clock, FNV-1a and a
 * stoppable periodic thread (a "ticker": the sweeper, the peer prober and
 * similar background loops). The functions are thread-safe; a ticker is
 * started and stopped by one owner thread. */
#ifndef UTIL_H
#define UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Format a message into the caller's err buffer (nothing when err is NULL);
 * returns -1, so that `return util_seterr(...)` reports a failure. */
int util_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Nanoseconds on the monotonic clock. */
int64_t util_mono_ns(void);

/* Milliseconds on the monotonic clock. */
int64_t util_mono_ms(void);

/* The monotonic time ms milliseconds from now, as an absolute timespec. */
struct timespec util_mono_after(int64_t ms);

/* FNV-1a, 32 bits, of a NUL-terminated string. */
uint32_t util_fnv1a32(const char *s);

/* A batch of calls deferred on the calling thread: a loop that completes
 * many requests in one pass opens a batch, and what each completion would
 * wake (a suspended HTTP connection, say) is woken once the pass is done,
 * all together. Thread-local: each thread has its own batch, or none. */
#define UTIL_BATCH_MAX 256

/* Open this thread's batch (it must not be open). */
void util_batch_begin(void);

/* Defer fn(arg) to the end of this thread's open batch; false when no batch
 * is open or it is full: the caller then calls fn(arg) itself, now. */
bool util_batch_defer(void (*fn)(void *), void *arg);

/* Close this thread's batch and make its deferred calls, in order. */
void util_batch_end(void);

/* A thread that calls fn(arg) every period_ms until stopped. */
struct util_ticker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;            /* on CLOCK_MONOTONIC; signalled by stop */
    bool stop;
    bool running;
    bool first_now;               /* call fn at once, then every period */
    int64_t period_ms;
    void (*fn)(void *arg);
    void *arg;
};

/* Start t: fn(arg) every period_ms (first call at once when first_now);
 * 0, or -1 with err set. */
int util_ticker_start(struct util_ticker *t, int64_t period_ms, bool first_now,
                      void (*fn)(void *), void *arg, char *err, size_t errlen);

/* Stop t and wait for its thread; a call in progress finishes first. Safe on
 * a ticker that never started (zeroed) and when called twice. */
void util_ticker_stop(struct util_ticker *t);

#endif
