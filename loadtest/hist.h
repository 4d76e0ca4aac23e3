/* hist: a log-linear latency histogram (HdrHistogram's layout).
 *
 * Values are integers (cartload records microseconds) between `lowest` and
 * `highest`, kept to `sig` significant decimal digits: buckets double in width,
 * and each bucket is split linearly into enough sub-buckets that any recorded
 * value is off by at most 1 part in 10^sig. Values outside the range are
 * clamped into it and still counted. Recording is O(1) and allocation-free.
 *
 * Not thread-safe: cartload keeps one histogram per thread and merges them
 * (hist_merge) after the threads have stopped. */
#ifndef HIST_H
#define HIST_H

#include <stdbool.h>
#include <stdint.h>

#define HIST_US_LOWEST 1LL              /* 1 us */
#define HIST_US_HIGHEST 60000000LL      /* 60 s */

struct hist {
    int64_t lowest, highest;
    int sig;
    int unit_magnitude;             /* floor(log2(lowest)) */
    int sub_half_magnitude;         /* log2(sub_half) */
    int64_t sub_half;               /* half the sub-buckets of a bucket */
    int64_t sub_mask;               /* (sub-bucket count - 1) << unit_magnitude */
    int counts_len;
    uint64_t *counts;
    uint64_t total;
    int64_t min, max;               /* exact extremes of what was recorded (clamped) */
};

/* Set up an empty histogram; false on a bad range or sig outside 1..5, or no memory. */
bool hist_init(struct hist *h, int64_t lowest, int64_t highest, int sig);

/* Release the counts (the struct may be reused with hist_init). */
void hist_free(struct hist *h);

/* Forget every recorded value. */
void hist_reset(struct hist *h);

/* Record value v once (clamped into [lowest, highest]). */
void hist_record(struct hist *h, int64_t v);

/* Record value v n times. */
void hist_record_n(struct hist *h, int64_t v, uint64_t n);

/* Add src's counts to dst; false when the two were made with other parameters. */
bool hist_merge(struct hist *dst, const struct hist *src);

/* Number of recorded values. */
uint64_t hist_count(const struct hist *h);

/* The value at percentile p (0..100): the highest value equivalent to the
 * recorded value of rank ceil(p/100 * count); 100 gives the exact maximum.
 * 0 when nothing was recorded. */
int64_t hist_percentile(const struct hist *h, double p);

/* Mean of the recorded values (each counted at its bucket's middle); 0 when empty. */
double hist_mean(const struct hist *h);

/* Smallest and largest recorded values; 0 when empty. */
int64_t hist_min(const struct hist *h);
int64_t hist_max(const struct hist *h);

/* The bucket index of v, and the lowest / highest values sharing that index. */
int hist_index_of(const struct hist *h, int64_t v);
int64_t hist_lowest_equivalent(const struct hist *h, int64_t v);
int64_t hist_highest_equivalent(const struct hist *h, int64_t v);

#endif
