/* stats: what one cartload thread saw, and the merge of all threads.
 *
 * Two latency histograms (microseconds, 1 us..60 s, 3 significant digits):
 * `corrected` measures from the intended send time (the open model's schedule;
 * a stall shows up in every request that should have been sent during it) and
 * `uncorrected` from the actual send time; in the closed model the two are the
 * same. Counts by check kind and by HTTP status, carts created and lost, and a
 * per-second series (responses, kinds, and a 2-digit latency histogram).
 *
 * Not thread-safe, except the two live counters, which the owning thread
 * stores and any thread may load (relaxed atomics) for the progress line. */
#ifndef STATS_H
#define STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "check.h"
#include "hist.h"

#define STATS_STATUS_MAX 600    /* status[0] counts requests with no response */
#define STATS_EXAMPLES 5        /* mismatch descriptions kept */

struct stats_sec {
    uint64_t done;              /* requests resolved in this second (any kind) */
    uint64_t kinds[CHECK_KIND_COUNT];
    struct hist lat;            /* corrected latency, 2 digits; counts NULL until used */
};

struct stats {
    struct hist corrected, uncorrected;
    uint64_t kinds[CHECK_KIND_COUNT];
    uint64_t status[STATS_STATUS_MAX];
    uint64_t carts_created, carts_lost;
    uint64_t connects;
    uint64_t retries;           /* changes sent again with the same key */
    uint64_t replays;           /* answers marked Idempotent-Replayed: true */
    uint64_t final_exact, final_differ; /* --verify: carts read after the run */
    int64_t longest_outage_us;  /* a session's longest run of failed requests: from the
                                 * intended send of its first failure to its next success */
    int nsec;
    struct stats_sec *sec;
    int n_examples;
    char examples[STATS_EXAMPLES][200];
    _Atomic uint64_t live_done, live_bad;
};

/* Set up empty stats with a series of nsec seconds; false when out of memory. */
bool stats_init(struct stats *s, int nsec);

/* Release everything stats_init allocated. */
void stats_free(struct stats *s);

/* Count one resolved request: its kind, status (0: no response), latencies in us
 * (negative: none recorded) and the second (since the start) it resolved in. */
void stats_record(struct stats *s, int second, enum check_kind kind, int status,
                  int64_t corrected_us, int64_t uncorrected_us);

/* Keep a mismatch description (the first STATS_EXAMPLES only). */
void stats_example(struct stats *s, const char *detail);

/* Add src into dst (same nsec); false on a histogram shape mismatch. */
bool stats_merge(struct stats *dst, const struct stats *src);

/* Requests resolved (every kind). */
uint64_t stats_total(const struct stats *s);

/* Mismatches: lost + stale + misdirected, and carts that differ in the final read. */
uint64_t stats_mismatches(const struct stats *s);

/* Every kind but ok. */
uint64_t stats_failures(const struct stats *s);

#endif
