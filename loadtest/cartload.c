/* cartload: a load generator for the cart API that checks the state behind the answers.
 *
 * main: parse the options, start one worker thread per --threads, show a
 * progress line while they run (when stderr is a terminal), merge their stats
 * and write the outputs. Exit 0 when every threshold holds, 1 when one fails,
 * 2 on a usage error, 3 when the run could not be done (no answer at all). */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "opts.h"
#include "report.h"
#include "stats.h"
#include "worker.h"

static atomic_bool cartload_stop;

/* SIGINT / SIGTERM: stop sending; what is in flight still finishes. */
static void cartload_on_signal(int sig)
{
    (void)sig;
    atomic_store(&cartload_stop, true);
}

/* Make room for one descriptor per user. */
static void cartload_raise_nofile(int users)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = (rlim_t)users + 64;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Live counters summed over the workers. */
static void cartload_live(struct worker *ws, int n, uint64_t *done, uint64_t *bad)
{
    *done = *bad = 0;
    for (int i = 0; i < n; i++) {
        *done += atomic_load_explicit(&ws[i].stats.live_done, memory_order_relaxed);
        *bad += atomic_load_explicit(&ws[i].stats.live_bad, memory_order_relaxed);
    }
}

/* Wait for the workers, printing a progress line about once a second when asked;
 * false when a thread had to be left behind (it must not be freed). */
static bool cartload_wait(struct worker *ws, int n, const struct opts *o, int64_t t0)
{
    int joined = 0;
    bool all = true;
    uint64_t last_done = 0;
    int64_t last_t = t0, hard_end = t0 + (int64_t)((o->duration_s + 2 * o->timeout_ms / 1000.0 + 6) * 1e9);
    bool *gone = calloc((size_t)n, sizeof *gone);
    while (joined < n && gone) {
        struct timespec nap = {0, 100000000L};
        nanosleep(&nap, NULL);
        for (int i = 0; i < n; i++) {
            if (gone[i])
                continue;
            if (pthread_tryjoin_np(ws[i].thread, NULL) == 0) {
                gone[i] = true;
                joined++;
            } else if (worker_now_ns() > hard_end) {
                gone[i] = true;     /* past the hard end a stuck thread is left behind */
                joined++;
                all = false;
            }
        }
        int64_t now = worker_now_ns();
        if (!o->progress || now - last_t < 1000000000LL)
            continue;
        uint64_t done, bad;
        cartload_live(ws, n, &done, &bad);
        fprintf(stderr, "\r\033[K[%6.1f s / %.1f s] %llu requests, %.0f/s, %llu not ok",
                (double)(now - t0) / 1e9, o->duration_s, (unsigned long long)done,
                (double)(done - last_done) * 1e9 / (double)(now - last_t),
                (unsigned long long)bad);
        last_done = done;
        last_t = now;
    }
    if (o->progress)
        fprintf(stderr, "\r\033[K");
    if (!gone)
        all = false;
    free(gone);
    return all;
}

/* Start the workers; returns how many started (the rest failed to set up). */
static int cartload_start(struct worker *ws, const struct opts *o, int64_t t0)
{
    int started = 0;
    for (int i = 0; i < o->threads; i++) {
        int first = (int)((long)o->users * i / o->threads);
        int next = (int)((long)o->users * (i + 1) / o->threads);
        uint64_t quota = o->requests ? o->requests / (uint64_t)o->threads +
                         ((uint64_t)i < o->requests % (uint64_t)o->threads) : 0;
        if (o->requests && quota == 0)
            quota = 1;
        if (!worker_init(&ws[i], i, o, first, next - first, quota, t0, &cartload_stop))
            break;
        if (pthread_create(&ws[i].thread, NULL, worker_run, &ws[i]) != 0) {
            worker_free(&ws[i]);
            break;
        }
        started++;
    }
    return started;
}

/* Merge, report, and decide the exit code. */
static int cartload_finish(struct worker *ws, int n, const struct opts *o, double elapsed)
{
    struct stats *all = &ws[0].stats;
    for (int i = 1; i < n; i++)
        if (!stats_merge(all, &ws[i].stats))
            fprintf(stderr, "cartload: could not merge the stats of thread %d\n", i);
    int rc = report_verdict(o, all) ? 1 : 0;
    uint64_t answered = stats_total(all) - all->status[0];
    if (answered == 0) {
        fprintf(stderr, "cartload: no answer from %s%s%s\n", o->url,
                all->n_examples ? ": " : "", all->n_examples ? all->examples[0] : "");
        rc = 3;
    }
    if (!o->quiet)
        report_human(stdout, o, all, elapsed);
    int seconds = (int)(o->duration_s + 0.999);
    if (o->json_path && !report_json(o->json_path, o, all, elapsed))
        fprintf(stderr, "cartload: cannot write %s\n", o->json_path), rc = rc ? rc : 3;
    if (o->csv_path && !report_csv(o->csv_path, all, seconds))
        fprintf(stderr, "cartload: cannot write %s: %s\n", o->csv_path, strerror(errno)), rc = rc ? rc : 3;
    if (o->spectrum_path && !report_spectrum(o->spectrum_path, all))
        fprintf(stderr, "cartload: cannot write %s: %s\n", o->spectrum_path, strerror(errno)), rc = rc ? rc : 3;
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o;
    char err[256];
    int prc = opts_parse(&o, argc, argv, err, sizeof err);
    if (prc != 0) {
        if (prc < 0) {
            fprintf(stderr, "cartload: %s\n", err);
            opts_usage(stderr);
        }
        return prc < 0 ? 2 : 0;
    }
    struct sigaction sa = {.sa_handler = cartload_on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    cartload_raise_nofile(o.users);
    struct worker *ws = calloc((size_t)o.threads, sizeof *ws);
    if (!ws)
        return 3;
    int64_t t0 = worker_now_ns();
    int n = cartload_start(ws, &o, t0);
    if (n < o.threads) {
        atomic_store(&cartload_stop, true);
        fprintf(stderr, "cartload: could not start thread %d of %d\n", n + 1, o.threads);
    }
    if (!cartload_wait(ws, n, &o, t0)) {
        fprintf(stderr, "cartload: a thread did not stop in time\n");
        return 3;
    }
    int64_t end = t0;
    for (int i = 0; i < n; i++)
        if (ws[i].end_ns > end)
            end = ws[i].end_ns;
    double elapsed = (double)(end - t0) / 1e9;
    int rc = n == o.threads ? cartload_finish(ws, n, &o, elapsed) : 3;
    for (int i = 0; i < n; i++)
        if (ws[i].err)
            fprintf(stderr, "cartload: thread %d: %s\n", i, strerror(ws[i].err)), rc = 3;
    for (int i = 0; i < n; i++)
        worker_free(&ws[i]);
    free(ws);
    return rc;
}
