/* worker: one cartload thread: its users, its epoll loop, its stats.
 *
 * A worker owns a slice of the virtual users. Each user has one connection,
 * a cookie jar, a model of its cart and one request in flight at most. In the
 * closed model a user sends again as soon as its answer is judged; in the open
 * model user g of N sends at start + g/R + k*N/R (R the total rate), and its
 * latency counts from that intended time even when the previous answer came
 * late. New requests stop at the duration (or the request quota); requests in
 * flight then finish or time out, so a run ends within duration + timeout.
 * After a transport failure a user waits 10 ms before sending again. With
 * --verify, each user then reads its cart once more, which must be exactly
 * its model (carts whose last change had an unknown outcome are left out).
 *
 * Thread-safe in this sense: each worker is run by exactly one thread; the
 * shared stop flag and the live counters in stats are atomics. */
#ifndef WORKER_H
#define WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "opts.h"
#include "stats.h"

struct worker_user;

struct worker {
    int id;
    const struct opts *o;
    int first, count;           /* its users' global indices: first .. first+count-1 */
    uint64_t quota;             /* requests it may send; 0: no limit */
    int64_t t0_ns;              /* the run's start, CLOCK_MONOTONIC */
    atomic_bool *stop;          /* set by main: stop sending */
    struct stats stats;
    int err;                    /* errno when the loop could not run */
    int64_t end_ns;             /* when its loop ended */
    pthread_t thread;
    /* the loop's own state */
    int epfd;
    struct worker_user *users;
    int *heap;                  /* users waiting to send, by ready time */
    int heap_n;
    uint64_t issued;
    int inflight;
    int64_t period_ns;          /* open model: a user's interval */
    bool verifying;             /* the final read of every cart (opts.verify) */
};

/* Nanoseconds on CLOCK_MONOTONIC. */
int64_t worker_now_ns(void);

/* Set up worker id for users first..first+count-1; false when out of memory. */
bool worker_init(struct worker *w, int id, const struct opts *o, int first, int count,
                 uint64_t quota, int64_t t0_ns, atomic_bool *stop);

/* The thread body: run the loop until the run is over (arg is the worker). */
void *worker_run(void *arg);

/* Release the users and the stats. */
void worker_free(struct worker *w);

#endif
