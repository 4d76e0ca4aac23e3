/* test_hist: the log-linear histogram against known distributions, and its merge. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "hist.h"

/* Relative difference of a and b. */
static double rel(double a, double b)
{
    return fabs(a - b) / (b != 0 ? fabs(b) : 1.0);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The exact value of rank ceil(p/100 * n) in a sorted array. */
static int64_t exact_pct(const int64_t *sorted, size_t n, double p)
{
    size_t rank = (size_t)ceil(p / 100.0 * (double)n);
    if (rank < 1)
        rank = 1;
    return sorted[rank - 1];
}

Test(hist, rejects_bad_parameters)
{
    struct hist h;
    cr_expect_not(hist_init(&h, 0, 1000, 3));
    cr_expect_not(hist_init(&h, 1, 1000, 0));
    cr_expect_not(hist_init(&h, 1, 1000, 6));
    cr_expect_not(hist_init(&h, 100, 150, 3));
}

Test(hist, empty_is_zero)
{
    struct hist h;
    cr_assert(hist_init(&h, HIST_US_LOWEST, HIST_US_HIGHEST, 3));
    cr_expect_eq(hist_count(&h), 0);
    cr_expect_eq(hist_percentile(&h, 99), 0);
    cr_expect_eq(hist_max(&h), 0);
    cr_expect_eq(hist_min(&h), 0);
    cr_expect_eq(hist_mean(&h), 0.0);
    hist_free(&h);
}

Test(hist, exact_below_two_thousand)
{
    /* With 3 digits every value below 2048 has a bucket of its own. */
    struct hist h;
    cr_assert(hist_init(&h, HIST_US_LOWEST, HIST_US_HIGHEST, 3));
    for (int64_t v = 1; v < 2048; v++) {
        cr_assert_eq(hist_lowest_equivalent(&h, v), v);
        cr_assert_eq(hist_highest_equivalent(&h, v), v);
    }
    cr_expect_eq(hist_highest_equivalent(&h, 2048), 2049);
    cr_expect_eq(hist_lowest_equivalent(&h, 1000001), hist_lowest_equivalent(&h, 1000000));
    hist_free(&h);
}

Test(hist, precision_holds_over_the_range)
{
    struct hist h;
    cr_assert(hist_init(&h, HIST_US_LOWEST, HIST_US_HIGHEST, 3));
    for (int64_t v = 1; v <= HIST_US_HIGHEST; v = v * 3 / 2 + 1) {
        int64_t lo = hist_lowest_equivalent(&h, v), hi = hist_highest_equivalent(&h, v);
        cr_assert(lo <= v && v <= hi, "v %lld not in [%lld, %lld]", (long long)v, (long long)lo,
                  (long long)hi);
        cr_assert((double)(hi - lo) <= (double)v / 1000.0 + 0.5, "bucket too wide at %lld",
                  (long long)v);
        cr_assert(hist_index_of(&h, v) < h.counts_len);
    }
    hist_free(&h);
}

Test(hist, uniform_percentiles)
{
    struct hist h;
    cr_assert(hist_init(&h, HIST_US_LOWEST, HIST_US_HIGHEST, 3));
    for (int64_t v = 1; v <= 1000000; v++)
        hist_record(&h, v);
    cr_expect_eq(hist_count(&h), 1000000);
    cr_expect_lt(rel((double)hist_percentile(&h, 50), 500000), 0.001);
    cr_expect_lt(rel((double)hist_percentile(&h, 90), 900000), 0.001);
    cr_expect_lt(rel((double)hist_percentile(&h, 99), 990000), 0.001);
    cr_expect_lt(rel((double)hist_percentile(&h, 99.9), 999000), 0.001);
    cr_expect_eq(hist_percentile(&h, 100), 1000000);
    cr_expect_eq(hist_min(&h), 1);
    cr_expect_lt(rel(hist_mean(&h), 500000.5), 0.001);
    hist_free(&h);
}

Test(hist, exponential_matches_sorted_samples)
{
    enum { N = 200000 };
    struct hist h;
    int64_t *v = malloc(N * sizeof *v);
    cr_assert(v && hist_init(&h, HIST_US_LOWEST, HIST_US_HIGHEST, 3));
    srand48(42);
    for (int i = 0; i < N; i++) {
        v[i] = 1 + (int64_t)(-log(1.0 - drand48()) * 2000.0);   /* mean 2 ms */
        hist_record(&h, v[i]);
    }
    qsort(v, N, sizeof *v, cmp_i64);
    const double ps[] = {10, 50, 90, 99, 99.9, 99.99};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        int64_t want = exact_pct(v, N, ps[i]), got = hist_percentile(&h, ps[i]);
        cr_expect_lt(rel((double)got, (double)want), 0.001, "p%g: %lld vs exact %lld", ps[i],
                     (long long)got, (long long)want);
        cr_expect_geq(got, want, "a percentile is the highest equivalent value");
    }
    cr_expect_eq(hist_max(&h), v[N - 1]);
    free(v);
    hist_free(&h);
}

Test(hist, bimodal_tail_is_seen)
{
    /* 99% fast answers and 1% stalls of a second: p99 is fast, p99.9 is the stall. */
    struct hist h;
    cr_assert(hist_init(&h, HIST_US_LOWEST, HIST_US_HIGHEST, 3));
    hist_record_n(&h, 500, 99000);
    hist_record_n(&h, 1000000, 1000);
    cr_expect_eq(hist_percentile(&h, 50), 500);
    cr_expect_eq(hist_percentile(&h, 99), 500);
    cr_expect_lt(rel((double)hist_percentile(&h, 99.9), 1000000), 0.001);
    cr_expect_eq(hist_max(&h), 1000000);
    hist_free(&h);
}

Test(hist, out_of_range_values_are_clamped_and_counted)
{
    struct hist h;
    cr_assert(hist_init(&h, HIST_US_LOWEST, HIST_US_HIGHEST, 3));
    hist_record(&h, 0);
    hist_record(&h, -5);
    hist_record(&h, HIST_US_HIGHEST * 10);
    cr_expect_eq(hist_count(&h), 3);
    cr_expect_eq(hist_min(&h), 1);
    cr_expect_eq(hist_max(&h), HIST_US_HIGHEST);
    hist_free(&h);
}

Test(hist, merge_equals_recording_everything_in_one)
{
    struct hist a, b, all;
    cr_assert(hist_init(&a, 1, HIST_US_HIGHEST, 3) && hist_init(&b, 1, HIST_US_HIGHEST, 3));
    cr_assert(hist_init(&all, 1, HIST_US_HIGHEST, 3));
    srand48(7);
    for (int i = 0; i < 50000; i++) {
        int64_t v = 1 + (int64_t)(drand48() * 100000);
        hist_record(i % 3 ? &a : &b, v);
        hist_record(&all, v);
    }
    hist_record(&b, 5000000);
    hist_record(&all, 5000000);
    cr_assert(hist_merge(&a, &b));
    cr_expect_eq(hist_count(&a), hist_count(&all));
    cr_expect_eq(hist_min(&a), hist_min(&all));
    cr_expect_eq(hist_max(&a), 5000000);
    for (double p = 0; p <= 100; p += 0.5)
        cr_expect_eq(hist_percentile(&a, p), hist_percentile(&all, p), "p%g", p);
    hist_free(&a);
    hist_free(&b);
    hist_free(&all);
}

Test(hist, merge_refuses_other_shapes_and_reset_empties)
{
    struct hist a, b;
    cr_assert(hist_init(&a, 1, HIST_US_HIGHEST, 3) && hist_init(&b, 1, HIST_US_HIGHEST, 2));
    hist_record(&b, 10);
    cr_expect_not(hist_merge(&a, &b));
    cr_expect_eq(hist_count(&a), 0);
    hist_record(&a, 10);
    hist_reset(&a);
    cr_expect_eq(hist_count(&a), 0);
    cr_expect_eq(hist_percentile(&a, 50), 0);
    hist_free(&a);
    hist_free(&b);
}
