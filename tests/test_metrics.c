/* Tests of the observability output: metrics (counting, histogram buckets, rendering,
 * concurrency) and log records (JSON escaping, truncation, text format). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

static const char *const routes[] = { "create_cart", "get_cart", "metrics" };

/* Name three routes and zero every counter. */
static void setup(void)
{
    metrics_init(routes, 3);
}

TestSuite(metrics, .init = setup);

/* Render into a malloc'd string, checking the length it reports. */
static char *render(uint64_t carts, int ready)
{
    size_t len = 0;
    char *out = metrics_render("stateful", carts, ready, &len);
    cr_assert_not_null(out);
    cr_assert_eq(len, strlen(out));
    return out;
}

/* Expect this exact line in out. */
static void expect_line(const char *out, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = out; (p = strstr(p, line)) != NULL; p++) {
        if ((p == out || p[-1] == '\n') && p[n] == '\n')
            return;
    }
    cr_expect_fail("line not found: %s\n--- in ---\n%s", line, out);
}

/* With no requests only the always-present series are rendered. */
Test(metrics, empty_registry_has_gauges_only)
{
    char *out = render(7, 1);
    expect_line(out, "# TYPE cartpair_http_requests_total counter");
    expect_line(out, "# TYPE cartpair_http_request_duration_seconds histogram");
    expect_line(out, "# TYPE cartpair_carts gauge");
    expect_line(out, "cartpair_carts{service=\"stateful\"} 7");
    expect_line(out, "# TYPE cartpair_store_errors_total counter");
    expect_line(out, "cartpair_store_errors_total{service=\"stateful\"} 0");
    expect_line(out, "# TYPE cartpair_ready gauge");
    expect_line(out, "cartpair_ready{service=\"stateful\"} 1");
    cr_expect_null(strstr(out, "cartpair_http_requests_total{"), "%s", out);
    cr_expect_eq(out[strlen(out) - 1], '\n');
    free(out);
}

/* Counts, cumulative buckets, +Inf, _sum and _count of a series. */
Test(metrics, counts_and_buckets)
{
    metrics_observe(0, 201, 0.0003);   /* le 0.0005 */
    metrics_observe(0, 201, 0.0005);   /* le 0.0005: the bound is inclusive */
    metrics_observe(0, 201, 0.02);     /* le 0.025 */
    metrics_observe(0, 201, 3.0);      /* +Inf only */
    metrics_observe(1, 404, 0.001);
    metrics_store_error();
    metrics_store_error();
    char *out = render(0, 0);
    const char *p = "cartpair_http_request_duration_seconds_bucket{service=\"stateful\","
                    "route=\"create_cart\",status=\"201\",le=";
    char line[256];
    const char *les[] = { "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
                          "0.1", "0.25", "0.5", "1", "2.5", "+Inf" };
    const int want[] = { 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 4 };
    for (size_t i = 0; i < 13; i++) {
        snprintf(line, sizeof line, "%s\"%s\"} %d", p, les[i], want[i]);
        expect_line(out, line);
    }
    expect_line(out, "cartpair_http_requests_total{service=\"stateful\",route=\"create_cart\","
                     "status=\"201\"} 4");
    expect_line(out, "cartpair_http_request_duration_seconds_count{service=\"stateful\","
                     "route=\"create_cart\",status=\"201\"} 4");
    expect_line(out, "cartpair_http_request_duration_seconds_sum{service=\"stateful\","
                     "route=\"create_cart\",status=\"201\"} 3.020800");
    expect_line(out, "cartpair_http_requests_total{service=\"stateful\",route=\"get_cart\","
                     "status=\"404\"} 1");
    expect_line(out, "cartpair_store_errors_total{service=\"stateful\"} 2");
    expect_line(out, "cartpair_ready{service=\"stateful\"} 0");
    cr_expect_null(strstr(out, "route=\"metrics\""), "an empty series was rendered");
    cr_expect_null(strstr(out, "status=\"200\""), "an empty series was rendered");
    free(out);
}

/* Unlisted statuses count as "other"; unknown routes are ignored. */
Test(metrics, unknown_status_is_other)
{
    metrics_observe(2, 418, 0.001);
    metrics_observe(2, 302, 0.001);
    metrics_observe(2, 200, 0.001);
    metrics_observe(3, 200, 0.001);    /* no such route: ignored */
    metrics_observe(99, 200, 0.001);
    char *out = render(0, 1);
    expect_line(out, "cartpair_http_requests_total{service=\"stateful\",route=\"metrics\","
                     "status=\"other\"} 2");
    expect_line(out, "cartpair_http_requests_total{service=\"stateful\",route=\"metrics\","
                     "status=\"200\"} 1");
    cr_expect_null(strstr(out, "status=\"418\""));
    free(out);
}

/* Negative and NaN durations count as zero. */
Test(metrics, odd_durations_are_clamped)
{
    metrics_observe(0, 200, -1.0);
    metrics_observe(0, 200, NAN);
    char *out = render(0, 1);
    expect_line(out, "cartpair_http_request_duration_seconds_bucket{service=\"stateful\","
                     "route=\"create_cart\",status=\"200\",le=\"0.0005\"} 2");
    expect_line(out, "cartpair_http_request_duration_seconds_sum{service=\"stateful\","
                     "route=\"create_cart\",status=\"200\"} 0.000000");
    free(out);
}

/* Quotes and backslashes in label values are escaped. */
Test(metrics, label_values_escaped)
{
    static const char *const odd[] = { "a\"b\\c" };
    metrics_init(odd, 1);
    metrics_observe(0, 200, 0.001);
    size_t len;
    char *out = metrics_render("s\"v", 0, 1, &len);
    cr_assert_not_null(out);
    expect_line(out, "cartpair_http_requests_total{service=\"s\\\"v\",route=\"a\\\"b\\\\c\","
                     "status=\"200\"} 1");
    free(out);
}

/* metrics_init zeroes every counter. */
Test(metrics, init_resets)
{
    metrics_observe(0, 200, 0.001);
    metrics_store_error();
    metrics_init(routes, 3);
    char *out = render(0, 1);
    cr_expect_null(strstr(out, "cartpair_http_requests_total{"));
    expect_line(out, "cartpair_store_errors_total{service=\"stateful\"} 0");
    free(out);
}

#define THREADS 4
#define PER_THREAD 100000
#define ROUNDS 20

static pthread_barrier_t start;

/* Hammer one series, so that a non-atomic increment would lose updates. */
static void *observer(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&start);   /* all at once, so increments really race */
    for (int i = 0; i < PER_THREAD; i++)
        metrics_observe(0, 200, 0.002);
    return NULL;
}

/* Concurrent observes from four threads lose no update. */
Test(metrics, concurrent_observes_are_exact)
{
    const char *pre = "{service=\"stateful\",route=\"create_cart\",status=\"200\"";
    char line[256];
    for (int round = 0; round < ROUNDS; round++) {
        metrics_init(routes, 3);
        pthread_t th[THREADS];
        cr_assert_eq(pthread_barrier_init(&start, NULL, THREADS), 0);
        for (size_t t = 0; t < THREADS; t++)
            cr_assert_eq(pthread_create(&th[t], NULL, observer, NULL), 0);
        for (size_t t = 0; t < THREADS; t++)
            pthread_join(th[t], NULL);
        pthread_barrier_destroy(&start);
        char *out = render(0, 1);
        snprintf(line, sizeof line, "cartpair_http_requests_total%s} %d", pre, THREADS * PER_THREAD);
        expect_line(out, line);
        snprintf(line, sizeof line, "cartpair_http_request_duration_seconds_bucket%s,le=\"0.001\"} 0",
                 pre);
        expect_line(out, line);
        snprintf(line, sizeof line, "cartpair_http_request_duration_seconds_bucket%s,le=\"0.0025\"} %d",
                 pre, THREADS * PER_THREAD);
        expect_line(out, line);
        snprintf(line, sizeof line, "cartpair_http_request_duration_seconds_bucket%s,le=\"+Inf\"} %d",
                 pre, THREADS * PER_THREAD);
        expect_line(out, line);
        snprintf(line, sizeof line, "cartpair_http_request_duration_seconds_sum%s} %d.000000", pre,
                 THREADS * PER_THREAD * 2 / 1000);
        expect_line(out, line);
        free(out);
    }
}

/* Run fn with stderr sent into a pipe; return what it wrote (static buffer). */
static const char *capture_stderr(void (*fn)(void))
{
    static char out[16384];
    int p[2];
    cr_assert_eq(pipe(p), 0);
    int saved = dup(STDERR_FILENO);
    dup2(p[1], STDERR_FILENO);
    close(p[1]);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    ssize_t n, total = 0;
    while ((n = read(p[0], out + total, sizeof out - 1 - (size_t)total)) > 0)
        total += n;
    close(p[0]);
    out[total] = '\0';
    return out;
}

/* Log awkward characters as JSON. */
static void log_json_records(void)
{
    log_init(LOG_INFO, LOG_FMT_JSON, "svc\"x", "inst-1");
    log_msg(LOG_DEBUG, "hidden", "not written");
    log_msg(LOG_WARN, "odd_chars", "q\" b\\ nl\n tab\t bell\x07 utf8 \xc3\xa9 bad \xff end");
}

/* A JSON record is one line of valid JSON holding the exact message. */
Test(log, json_record_escapes)
{
    const char *out = capture_stderr(log_json_records);
    cr_assert(strchr(out, '\n') == out + strlen(out) - 1, "not one line: %s", out);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    cr_assert_not_null(j, "not JSON (%s): %s", je.text, out);
    cr_expect_str_eq(json_string_value(json_object_get(j, "level")), "warn");
    cr_expect_str_eq(json_string_value(json_object_get(j, "service")), "svc\"x");
    cr_expect_str_eq(json_string_value(json_object_get(j, "instance")), "inst-1");
    cr_expect_str_eq(json_string_value(json_object_get(j, "event")), "odd_chars");
    cr_expect_str_eq(json_string_value(json_object_get(j, "msg")),
                     "q\" b\\ nl\n tab\t bell\x07 utf8 \xc3\xa9 bad ? end");
    const char *ts = json_string_value(json_object_get(j, "ts"));
    cr_assert_not_null(ts);
    cr_expect_eq(strlen(ts), 24, "%s", ts);
    cr_expect(ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z', "%s", ts);
    cr_expect(strstr(out, "\\u0007") != NULL, "%s", out);
    json_decref(j);
}

/* Log a message far over the record size, all of it escapable. */
static void log_long_record(void)
{
    static char big[10000];
    memset(big, '"', sizeof big - 1);
    log_init(LOG_DEBUG, LOG_FMT_JSON, "svc", "i");
    log_msg(LOG_ERROR, "big", "%s", big);
}

/* An over-long record is cut but stays valid JSON. */
Test(log, long_record_truncated_but_valid)
{
    const char *out = capture_stderr(log_long_record);
    cr_expect_leq(strlen(out), 4096);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    cr_assert_not_null(j, "not JSON (%s): %.200s", je.text, out);
    cr_expect_gt(strlen(json_string_value(json_object_get(j, "msg"))), 1000);
    json_decref(j);
}

/* Log before log_init: the defaults apply. */
static void log_text_records(void)
{
    log_msg(LOG_INFO, "started", "port %d", 8080);   /* before log_init: info, text */
    log_msg(LOG_DEBUG, "hidden", "no");
}

/* Before log_init records are text at level info. */
Test(log, text_default)
{
    const char *out = capture_stderr(log_text_records);
    cr_assert_eq(strlen(out), 24 + strlen(" INFO  started: port 8080\n"), "%s", out);
    cr_expect_str_eq(out + 24, " INFO  started: port 8080\n");
    cr_expect(log_enabled(LOG_INFO));
    cr_expect_not(log_enabled(LOG_DEBUG));
}

/* Record observations on two routes and statuses until told to stop (bounded). */
static atomic_bool hammer_stop;

/* Thread body: observe requests in a bounded loop. */
static void *hammer(void *arg)
{
    (void)arg;
    for (long i = 0; i < 20000000 && !atomic_load(&hammer_stop); i++)
        metrics_observe((size_t)(i % 2), i % 3 ? 200 : 404, (double)(i % 7) * 1e-3);
    return NULL;
}

/* The value on the line that starts with prefix, or -1. */
static long long value_of(const char *text, const char *prefix)
{
    const char *p = strstr(text, prefix);
    return p ? atoll(p + strlen(prefix)) : -1;
}

/* Under concurrent recording, every scrape's counter equals its histogram's
 * _count and +Inf bucket (both come from one snapshot). */
Test(metrics, counts_and_histograms_agree_in_every_scrape)
{
    pthread_t t[2];
    atomic_store(&hammer_stop, false);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, hammer, NULL), 0);
    int bad = 0;
    const char *const st[] = { "200", "404" };
    for (int scrape = 0; scrape < 300; scrape++) {
        char *out = render(0, 1);
        for (int r = 0; r < 2; r++) {
            for (int s = 0; s < 2; s++) {
                char lab[160], a[256], b[256], c[256];
                snprintf(lab, sizeof lab, "{service=\"stateful\",route=\"%s\",status=\"%s\"",
                         routes[r], st[s]);
                snprintf(a, sizeof a, "cartpair_http_requests_total%s} ", lab);
                snprintf(b, sizeof b, "cartpair_http_request_duration_seconds_count%s} ", lab);
                snprintf(c, sizeof c, "cartpair_http_request_duration_seconds_bucket%s,le=\"+Inf\"} ",
                         lab);
                long long n = value_of(out, a), m = value_of(out, b), k = value_of(out, c);
                bad += n != m || m != k;
            }
        }
        free(out);
    }
    atomic_store(&hammer_stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cr_expect_eq(bad, 0, "%d series of 1200 disagreed within a scrape", bad);
}
