/* report: cartload's outputs from the merged stats (see report.h). */
#include "report.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

static const double report_pcts[] = {50.0, 90.0, 99.0, 99.9, 100.0};
static const char *const report_pct_names[] = {"p50", "p90", "p99", "p99.9", "max"};
#define REPORT_NPCTS 5

/* Microseconds to milliseconds. */
static double report_ms(int64_t us)
{
    return (double)us / 1000.0;
}

double report_error_rate(const struct stats *s)
{
    uint64_t n = stats_total(s);
    return n ? (double)stats_failures(s) / (double)n : 0.0;
}

int report_verdict(const struct opts *o, const struct stats *s)
{
    int fails = 0;
    if (o->max_p99_ms >= 0 && report_ms(hist_percentile(&s->corrected, 99.0)) > o->max_p99_ms)
        fails |= REPORT_FAIL_P99;
    if (o->max_error_rate >= 0 && report_error_rate(s) > o->max_error_rate)
        fails |= REPORT_FAIL_ERROR_RATE;
    if (o->max_mismatches >= 0 && stats_mismatches(s) > (uint64_t)o->max_mismatches)
        fails |= REPORT_FAIL_MISMATCHES;
    return fails;
}

/* One latency line of the human summary. */
static void report_lat_line(FILE *f, const char *name, const struct hist *h)
{
    fprintf(f, "  %-11s", name);
    for (int i = 0; i < REPORT_NPCTS; i++)
        fprintf(f, " %s %.3f", report_pct_names[i], report_ms(hist_percentile(h, report_pcts[i])));
    fprintf(f, "  (ms)\n");
}

/* The threshold lines of the human summary. */
static void report_thresholds(FILE *f, const struct opts *o, const struct stats *s)
{
    int fails = report_verdict(o, s);
    if (o->max_p99_ms >= 0)
        fprintf(f, "  threshold   p99 %.3f ms <= %.3f ms: %s\n",
                report_ms(hist_percentile(&s->corrected, 99.0)), o->max_p99_ms,
                fails & REPORT_FAIL_P99 ? "FAIL" : "pass");
    if (o->max_error_rate >= 0)
        fprintf(f, "  threshold   error rate %.5f <= %.5f: %s\n", report_error_rate(s),
                o->max_error_rate, fails & REPORT_FAIL_ERROR_RATE ? "FAIL" : "pass");
    if (o->max_mismatches >= 0)
        fprintf(f, "  threshold   mismatches %llu <= %lld: %s\n",
                (unsigned long long)stats_mismatches(s), o->max_mismatches,
                fails & REPORT_FAIL_MISMATCHES ? "FAIL" : "pass");
}

void report_human(FILE *f, const struct opts *o, const struct stats *s, double elapsed_s)
{
    uint64_t n = stats_total(s);
    fprintf(f, "%s: %s, %s scenario, %s model", o->label, o->url,
            o->scen.is_static ? "static" : "cart", o->rate > 0 ? "open" : "closed");
    if (o->rate > 0)
        fprintf(f, " (%.1f req/s)", o->rate);
    fprintf(f, ", %d users, %d thread%s, %.1f s\n", o->users, o->threads,
            o->threads > 1 ? "s" : "", elapsed_s);
    fprintf(f, "  requests    %llu (%.1f/s), %llu connections opened\n", (unsigned long long)n,
            elapsed_s > 0 ? (double)n / elapsed_s : 0.0, (unsigned long long)s->connects);
    if (o->rate > 0) {
        report_lat_line(f, "latency", &s->corrected);
        report_lat_line(f, "uncorrected", &s->uncorrected);
    } else {
        report_lat_line(f, "latency", &s->uncorrected);
    }
    fprintf(f, "  checks     ");
    for (int k = 0; k < CHECK_KIND_COUNT; k++)
        fprintf(f, " %s %llu", check_kind_name((enum check_kind)k), (unsigned long long)s->kinds[k]);
    fprintf(f, "\n  carts       created %llu, lost %llu\n", (unsigned long long)s->carts_created,
            (unsigned long long)s->carts_lost);
    fprintf(f, "  outage      a session's longest run of failed requests: %.1f ms\n",
            (double)s->longest_outage_us / 1000.0);
    if (o->scen.keys)
        fprintf(f, "  retries     %llu sent again with their key, %llu answers replayed\n",
                (unsigned long long)s->retries, (unsigned long long)s->replays);
    if (o->verify)
        fprintf(f, "  final read  %llu carts exact, %llu differ\n",
                (unsigned long long)s->final_exact, (unsigned long long)s->final_differ);
    fprintf(f, "  status     ");
    for (int i = 0; i < STATS_STATUS_MAX; i++) {
        if (s->status[i] && i == 0)
            fprintf(f, " no answer: %llu", (unsigned long long)s->status[i]);
        else if (s->status[i])
            fprintf(f, " %d: %llu", i, (unsigned long long)s->status[i]);
    }
    fprintf(f, "\n");
    for (int i = 0; i < s->n_examples; i++)
        fprintf(f, "  %s %s\n", i ? "           " : "first bad  ", s->examples[i]);
    report_thresholds(f, o, s);
}

/* {"p50": ms, ...} of a histogram. */
static json_t *report_json_lat(const struct hist *h)
{
    json_t *o = json_object();
    static const char *const keys[] = {"p50", "p90", "p99", "p999", "max"};
    for (int i = 0; i < REPORT_NPCTS; i++)
        json_object_set_new(o, keys[i], json_real(report_ms(hist_percentile(h, report_pcts[i]))));
    json_object_set_new(o, "mean", json_real(hist_mean(h) / 1000.0));
    return o;
}

/* The counts part of the JSON document. */
static void report_json_counts(json_t *root, const struct opts *o, const struct stats *s)
{
    json_t *kinds = json_object(), *status = json_object(), *ex = json_array();
    for (int k = 0; k < CHECK_KIND_COUNT; k++)
        json_object_set_new(kinds, check_kind_name((enum check_kind)k), json_integer((json_int_t)s->kinds[k]));
    for (int i = 0; i < STATS_STATUS_MAX; i++) {
        char key[8];
        snprintf(key, sizeof key, "%d", i);
        if (s->status[i])
            json_object_set_new(status, key, json_integer((json_int_t)s->status[i]));
    }
    for (int i = 0; i < s->n_examples; i++)
        json_array_append_new(ex, json_string(s->examples[i]));
    json_object_set_new(root, "kinds", kinds);
    json_object_set_new(root, "status", status);
    json_object_set_new(root, "examples", ex);
    json_object_set_new(root, "mismatches", json_integer((json_int_t)stats_mismatches(s)));
    json_object_set_new(root, "error_rate", json_real(report_error_rate(s)));
    json_object_set_new(root, "longest_outage_ms", json_real((double)s->longest_outage_us / 1000.0));
    json_object_set_new(root, "carts", json_pack("{s:I,s:I}", "created", (json_int_t)s->carts_created,
                                                 "lost", (json_int_t)s->carts_lost));
    json_object_set_new(root, "idempotency", json_pack("{s:b,s:I,s:I}", "keys", o->scen.keys,
                        "retries", (json_int_t)s->retries, "replays", (json_int_t)s->replays));
    if (o->verify)
        json_object_set_new(root, "final", json_pack("{s:I,s:I}", "exact",
                            (json_int_t)s->final_exact, "differ", (json_int_t)s->final_differ));
    int fails = report_verdict(o, s);
    json_object_set_new(root, "thresholds", json_pack("{s:b,s:b,s:b,s:b}", "passed", fails == 0,
                        "p99_failed", (fails & REPORT_FAIL_P99) != 0,
                        "error_rate_failed", (fails & REPORT_FAIL_ERROR_RATE) != 0,
                        "mismatches_failed", (fails & REPORT_FAIL_MISMATCHES) != 0));
}

bool report_json(const char *path, const struct opts *o, const struct stats *s, double elapsed_s)
{
    uint64_t n = stats_total(s);
    json_t *root = json_pack("{s:s,s:s,s:s,s:s,s:f,s:i,s:i,s:f,s:f,s:I,s:f,s:I}",
        "label", o->label, "target", o->url, "scenario", o->scen.is_static ? "static" : "cart",
        "model", o->rate > 0 ? "open" : "closed", "rate", o->rate, "users", o->users,
        "threads", o->threads, "duration_s", o->duration_s, "elapsed_s", elapsed_s,
        "requests", (json_int_t)n, "throughput_rps", elapsed_s > 0 ? (double)n / elapsed_s : 0.0,
        "connects", (json_int_t)s->connects);
    if (root)
        json_object_set_new(root, "ok_rps", json_real(elapsed_s > 0 ?
                            (double)s->kinds[CHECK_OK] / elapsed_s : 0.0));
    if (!root)
        return false;
    json_object_set_new(root, "latency_ms", report_json_lat(&s->corrected));
    json_object_set_new(root, "latency_uncorrected_ms", report_json_lat(&s->uncorrected));
    report_json_counts(root, o, s);
    int rc;
    if (strcmp(path, "-") == 0) {
        rc = json_dumpf(root, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        fflush(stdout);
    } else {
        rc = json_dump_file(root, path, JSON_INDENT(2));
    }
    json_decref(root);
    return rc == 0;
}

bool report_csv(const char *path, const struct stats *s, int seconds)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fprintf(f, "second,requests,ok,lost,stale,misdirected,error,timeout,p50_ms,p99_ms,max_ms\n");
    int last = seconds;
    for (int i = seconds; i < s->nsec; i++)
        if (s->sec[i].done)
            last = i + 1;
    if (last > s->nsec)
        last = s->nsec;
    for (int i = 0; i < last; i++) {
        const struct stats_sec *c = &s->sec[i];
        const struct hist *h = &c->lat;
        bool have = h->counts != NULL;
        fprintf(f, "%d,%llu", i, (unsigned long long)c->done);
        for (int k = 0; k < CHECK_KIND_COUNT; k++)
            fprintf(f, ",%llu", (unsigned long long)c->kinds[k]);
        fprintf(f, ",%.3f,%.3f,%.3f\n", have ? report_ms(hist_percentile(h, 50)) : 0.0,
                have ? report_ms(hist_percentile(h, 99)) : 0.0,
                have ? report_ms(hist_max(h)) : 0.0);
    }
    return fclose(f) == 0;
}

bool report_spectrum(const char *path, const struct stats *s)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    const struct hist *h = &s->corrected;
    fprintf(f, "# percentile latency_ms inverse(1/(1-p))\n");
    double total = (double)hist_count(h);
    for (int k = 0; k < 200 && total > 0; k++) {
        /* Five points per halving of what is left: 0, 12.9, 24.2, ... 50, ... 99.9... */
        double p = 100.0 * (1.0 - pow(0.5, k / 5.0));
        if (k > 0 && (1.0 - p / 100.0) * total < 1.0)
            break;
        fprintf(f, "%.6f %.3f %.3f\n", p, report_ms(hist_percentile(h, p)), 1.0 / (1.0 - p / 100.0));
    }
    if (total > 0)
        fprintf(f, "100.000000 %.3f %.3f\n", report_ms(hist_max(h)), total);
    return fclose(f) == 0;
}
