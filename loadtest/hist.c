/* hist: a log-linear latency histogram (see hist.h). */
#include "hist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* floor(log2(v)) for v >= 1. */
static int hist_log2_floor(uint64_t v)
{
    return 63 - __builtin_clzll(v);
}

bool hist_init(struct hist *h, int64_t lowest, int64_t highest, int sig)
{
    memset(h, 0, sizeof *h);
    if (lowest < 1 || sig < 1 || sig > 5 || highest < 2 * lowest)
        return false;
    int64_t single = 2;
    for (int i = 0; i < sig; i++)
        single *= 10;
    int sub_magnitude = hist_log2_floor((uint64_t)single);
    if ((1LL << sub_magnitude) < single)
        sub_magnitude++;
    h->lowest = lowest;
    h->highest = highest;
    h->sig = sig;
    h->unit_magnitude = hist_log2_floor((uint64_t)lowest);
    h->sub_half_magnitude = sub_magnitude - 1;
    h->sub_half = 1LL << h->sub_half_magnitude;
    h->sub_mask = ((1LL << sub_magnitude) - 1) << h->unit_magnitude;
    int buckets = 1;
    int64_t untrackable = (1LL << sub_magnitude) << h->unit_magnitude;
    while (untrackable <= highest && buckets < 64) {
        untrackable <<= 1;
        buckets++;
    }
    h->counts_len = (int)((buckets + 1) * h->sub_half);
    h->counts = calloc((size_t)h->counts_len, sizeof *h->counts);
    if (!h->counts)
        return false;
    h->min = INT64_MAX;
    return true;
}

void hist_free(struct hist *h)
{
    free(h->counts);
    h->counts = NULL;
    h->counts_len = 0;
}

void hist_reset(struct hist *h)
{
    memset(h->counts, 0, (size_t)h->counts_len * sizeof *h->counts);
    h->total = 0;
    h->min = INT64_MAX;
    h->max = 0;
}

/* The bucket (power of two) that holds v. */
static int hist_bucket_of(const struct hist *h, int64_t v)
{
    int pow2ceiling = 64 - __builtin_clzll((uint64_t)(v | h->sub_mask));
    return pow2ceiling - h->unit_magnitude - (h->sub_half_magnitude + 1);
}

int hist_index_of(const struct hist *h, int64_t v)
{
    int bucket = hist_bucket_of(h, v);
    int64_t sub = v >> (bucket + h->unit_magnitude);
    return (int)(((int64_t)(bucket + 1) << h->sub_half_magnitude) + (sub - h->sub_half));
}

/* The lowest value that maps to counts index idx. */
static int64_t hist_value_at(const struct hist *h, int idx)
{
    int bucket = (idx >> h->sub_half_magnitude) - 1;
    int64_t sub = (idx & (h->sub_half - 1)) + h->sub_half;
    if (bucket < 0) {
        sub -= h->sub_half;
        bucket = 0;
    }
    return sub << (bucket + h->unit_magnitude);
}

int64_t hist_lowest_equivalent(const struct hist *h, int64_t v)
{
    int shift = hist_bucket_of(h, v) + h->unit_magnitude;
    return (v >> shift) << shift;
}

int64_t hist_highest_equivalent(const struct hist *h, int64_t v)
{
    int shift = hist_bucket_of(h, v) + h->unit_magnitude;
    return hist_lowest_equivalent(h, v) + (1LL << shift) - 1;
}

void hist_record_n(struct hist *h, int64_t v, uint64_t n)
{
    if (v < h->lowest)
        v = h->lowest;
    if (v > h->highest)
        v = h->highest;
    h->counts[hist_index_of(h, v)] += n;
    h->total += n;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void hist_record(struct hist *h, int64_t v)
{
    hist_record_n(h, v, 1);
}

bool hist_merge(struct hist *dst, const struct hist *src)
{
    if (dst->lowest != src->lowest || dst->highest != src->highest || dst->sig != src->sig ||
        dst->counts_len != src->counts_len)
        return false;
    for (int i = 0; i < src->counts_len; i++)
        dst->counts[i] += src->counts[i];
    dst->total += src->total;
    if (src->total) {
        if (src->min < dst->min)
            dst->min = src->min;
        if (src->max > dst->max)
            dst->max = src->max;
    }
    return true;
}

uint64_t hist_count(const struct hist *h)
{
    return h->total;
}

int64_t hist_min(const struct hist *h)
{
    return h->total ? h->min : 0;
}

int64_t hist_max(const struct hist *h)
{
    return h->total ? h->max : 0;
}

int64_t hist_percentile(const struct hist *h, double p)
{
    if (!h->total)
        return 0;
    if (p >= 100.0)
        return h->max;
    if (p <= 0.0)
        return h->min;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->total);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < h->counts_len; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            int64_t v = hist_highest_equivalent(h, hist_value_at(h, i));
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}

double hist_mean(const struct hist *h)
{
    if (!h->total)
        return 0.0;
    double sum = 0.0;
    for (int i = 0; i < h->counts_len; i++) {
        if (!h->counts[i])
            continue;
        int64_t lo = hist_value_at(h, i);
        int64_t hi = hist_highest_equivalent(h, lo);
        sum += (double)h->counts[i] * ((double)lo + (double)(hi - lo) / 2.0);
    }
    return sum / (double)h->total;
}
