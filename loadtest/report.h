/* report: cartload's outputs from the merged stats, and the threshold verdict.
 *
 * A human summary, a JSON document, a per-second CSV series and a latency
 * percentile spectrum (for gnuplot). Latencies are printed in milliseconds.
 *
 * Not thread-safe; call after the workers have stopped. */
#ifndef REPORT_H
#define REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "opts.h"
#include "stats.h"

enum {
    REPORT_FAIL_P99 = 1,
    REPORT_FAIL_ERROR_RATE = 2,
    REPORT_FAIL_MISMATCHES = 4,
};

/* Failed requests (every kind but ok) / requests; 0 when there were none. */
double report_error_rate(const struct stats *s);

/* The thresholds that failed, as REPORT_FAIL_* bits (0: all passed). */
int report_verdict(const struct opts *o, const struct stats *s);

/* The human summary. */
void report_human(FILE *f, const struct opts *o, const struct stats *s, double elapsed_s);

/* The JSON summary to path ("-": stdout); false on a write error. */
bool report_json(const char *path, const struct opts *o, const struct stats *s,
                 double elapsed_s);

/* The per-second series as CSV; false on a write error. */
bool report_csv(const char *path, const struct stats *s, int seconds);

/* Latency by percentile: "percentile latency_ms 1/(1-p)" lines; false on a write error. */
bool report_spectrum(const char *path, const struct stats *s);

#endif
