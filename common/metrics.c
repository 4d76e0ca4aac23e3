/* metrics: Prometheus counters and a latency histogram (see metrics.h). */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Status codes the API answers with; anything else is counted as "other". */
static const unsigned status_codes[] = {
    200, 201, 204, 400, 404, 405, 409, 412, 413, 415, 421, 422, 500, 501, 503,
};
#define N_STATUS (sizeof status_codes / sizeof status_codes[0] + 1)
#define STATUS_OTHER (N_STATUS - 1)

/* Upper bounds of the finite latency buckets, in seconds, and their labels. */
static const double bucket_le[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
};
static const char *const bucket_label[] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "0.5", "1", "2.5",
};
#define N_FINITE (sizeof bucket_le / sizeof bucket_le[0])
#define N_BUCKETS (N_FINITE + 1)   /* the last one is (2.5, +Inf] */

/* One route x status series: per-bucket (not cumulative) counts and the sum. */
struct series {
    _Atomic uint64_t bucket[N_BUCKETS];
    _Atomic uint64_t sum_us;
};

static struct series g_series[METRICS_MAX_ROUTES][N_STATUS];
static const char *g_routes[METRICS_MAX_ROUTES];
static size_t g_nroutes;
static _Atomic uint64_t g_store_errors;
static _Atomic uint64_t g_store_failovers;

/* Name the routes once at start-up and zero every counter. */
void metrics_init(const char *const *route_names, size_t n)
{
    if (n > METRICS_MAX_ROUTES)
        n = METRICS_MAX_ROUTES;
    for (size_t i = 0; i < n; i++)
        g_routes[i] = route_names[i];
    g_nroutes = n;
    for (size_t r = 0; r < METRICS_MAX_ROUTES; r++) {
        for (size_t s = 0; s < N_STATUS; s++) {
            for (size_t b = 0; b < N_BUCKETS; b++)
                atomic_store_explicit(&g_series[r][s].bucket[b], 0, memory_order_relaxed);
            atomic_store_explicit(&g_series[r][s].sum_us, 0, memory_order_relaxed);
        }
    }
    atomic_store_explicit(&g_store_errors, 0, memory_order_relaxed);
    atomic_store_explicit(&g_store_failovers, 0, memory_order_relaxed);
}

/* Slot of a status code in status_codes, or STATUS_OTHER. */
static size_t status_index(unsigned status)
{
    for (size_t i = 0; i < STATUS_OTHER; i++)
        if (status_codes[i] == status)
            return i;
    return STATUS_OTHER;
}

/* Count one request: two relaxed atomic adds, no lock, no allocation. */
void metrics_observe(size_t route, unsigned status, double seconds)
{
    if (route >= g_nroutes)
        return;
    if (!(seconds > 0))            /* negative or NaN */
        seconds = 0;
    if (seconds > 1e9)
        seconds = 1e9;
    size_t b = 0;
    while (b < N_FINITE && seconds > bucket_le[b])
        b++;
    struct series *s = &g_series[route][status_index(status)];
    atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_us, (uint64_t)(seconds * 1e6 + 0.5), memory_order_relaxed);
}

/* Count one failover of the backing store's primary. */
void metrics_store_failover(void)
{
    atomic_fetch_add_explicit(&g_store_failovers, 1, memory_order_relaxed);
}

/* Count one error of the backing store. */
void metrics_store_error(void)
{
    atomic_fetch_add_explicit(&g_store_errors, 1, memory_order_relaxed);
}

/* A growing output buffer; p is NULL once an allocation failed. */
struct mbuf {
    char *p;
    size_t len;
    size_t cap;
};

/* Append printf-formatted text, growing the buffer as needed. */
static void mb_printf(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mb_printf(struct mbuf *b, const char *fmt, ...)
{
    for (int round = 0; round < 2 && b->p; round++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 > b->len + (size_t)n + 1 ? b->cap * 2 : b->len + (size_t)n + 1;
        char *p = realloc(b->p, cap);
        if (!p) {
            free(b->p);
            b->p = NULL;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

/* Copy s into out as a label value: backslash, quote and newline escaped. */
static void label_escape(const char *s, char *out, size_t outlen)
{
    size_t o = 0;
    for (; s && *s && o + 3 < outlen; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n') {
            out[o++] = '\\';
            out[o++] = *s == '\n' ? 'n' : *s;
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

/* One series as read once: cumulative bucket counts and the sum. */
struct snap {
    uint64_t cum[N_BUCKETS];
    uint64_t sum_us;
};

/* Read every series once, so that every line of a scrape agrees (malloc'd). */
static struct snap *take_snapshot(void)
{
    struct snap *sn = calloc(METRICS_MAX_ROUTES * N_STATUS, sizeof *sn);
    for (size_t r = 0; sn && r < g_nroutes; r++) {
        for (size_t s = 0; s < N_STATUS; s++) {
            const struct series *se = &g_series[r][s];
            struct snap *o = &sn[r * N_STATUS + s];
            uint64_t total = 0;
            for (size_t i = 0; i < N_BUCKETS; i++) {
                total += atomic_load_explicit(&se->bucket[i], memory_order_relaxed);
                o->cum[i] = total;
            }
            o->sum_us = atomic_load_explicit(&se->sum_us, memory_order_relaxed);
        }
    }
    return sn;
}

/* Render the series of one route and status from the snapshot, if it has counted anything. */
static void render_series(struct mbuf *b, const char *svc, const struct snap *sn, size_t r,
                          size_t s, int pass)
{
    const struct snap *o = &sn[r * N_STATUS + s];
    uint64_t total = o->cum[N_BUCKETS - 1];
    if (total == 0)
        return;
    char route[128], status[16];
    label_escape(g_routes[r], route, sizeof route);
    if (s == STATUS_OTHER)
        snprintf(status, sizeof status, "other");
    else
        snprintf(status, sizeof status, "%u", status_codes[s]);
    if (pass == 0) {
        mb_printf(b, "cartpair_http_requests_total{service=\"%s\",route=\"%s\",status=\"%s\"} %llu\n",
                  svc, route, status, (unsigned long long)total);
        return;
    }
    for (size_t i = 0; i < N_BUCKETS; i++)
        mb_printf(b, "cartpair_http_request_duration_seconds_bucket{service=\"%s\",route=\"%s\","
                  "status=\"%s\",le=\"%s\"} %llu\n", svc, route, status,
                  i < N_FINITE ? bucket_label[i] : "+Inf", (unsigned long long)o->cum[i]);
    uint64_t us = o->sum_us;
    mb_printf(b, "cartpair_http_request_duration_seconds_sum{service=\"%s\",route=\"%s\","
              "status=\"%s\"} %llu.%06llu\n", svc, route, status,
              (unsigned long long)(us / 1000000), (unsigned long long)(us % 1000000));
    mb_printf(b, "cartpair_http_request_duration_seconds_count{service=\"%s\",route=\"%s\","
              "status=\"%s\"} %llu\n", svc, route, status, (unsigned long long)total);
}

/* Render the text exposition format 0.0.4 (malloc'd) from one snapshot of
 * the counters; carts and ready are the gauge values. */
char *metrics_render(const char *service, uint64_t carts, int ready, size_t *len)
{
    struct mbuf b = { malloc(8192), 0, 8192 };
    struct snap *sn = take_snapshot();
    if (!b.p || !sn) {
        free(b.p);
        free(sn);
        return NULL;
    }
    b.p[0] = '\0';
    char svc[128];
    label_escape(service, svc, sizeof svc);

    mb_printf(&b, "# HELP cartpair_http_requests_total HTTP requests answered, by route and status.\n"
              "# TYPE cartpair_http_requests_total counter\n");
    for (size_t r = 0; r < g_nroutes; r++)
        for (size_t s = 0; s < N_STATUS; s++)
            render_series(&b, svc, sn, r, s, 0);
    mb_printf(&b, "# HELP cartpair_http_request_duration_seconds Time to answer an HTTP request.\n"
              "# TYPE cartpair_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < g_nroutes; r++)
        for (size_t s = 0; s < N_STATUS; s++)
            render_series(&b, svc, sn, r, s, 1);
    free(sn);
    mb_printf(&b, "# HELP cartpair_carts Carts currently held by the store.\n"
              "# TYPE cartpair_carts gauge\n"
              "cartpair_carts{service=\"%s\"} %llu\n", svc, (unsigned long long)carts);
    mb_printf(&b, "# HELP cartpair_store_errors_total Errors of the backing store.\n"
              "# TYPE cartpair_store_errors_total counter\n"
              "cartpair_store_errors_total{service=\"%s\"} %llu\n", svc,
              (unsigned long long)atomic_load_explicit(&g_store_errors, memory_order_relaxed));
    mb_printf(&b, "# HELP cartpair_store_failovers_total Changes of the store's primary seen.\n"
              "# TYPE cartpair_store_failovers_total counter\n"
              "cartpair_store_failovers_total{service=\"%s\"} %llu\n", svc,
              (unsigned long long)atomic_load_explicit(&g_store_failovers, memory_order_relaxed));
    mb_printf(&b, "# HELP cartpair_ready 1 when the service is ready to take traffic (as /readyz).\n"
              "# TYPE cartpair_ready gauge\n"
              "cartpair_ready{service=\"%s\"} %d\n", svc, ready ? 1 : 0);
    if (b.p && len)
        *len = b.len;
    return b.p;
}

/* Append one gauge (name [a-z_]+, help text) to a rendered exposition. */
char *metrics_append_gauge(char *body, size_t *len, const char *service, const char *name,
                           const char *help, long long value)
{
    if (!body)
        return NULL;
    struct mbuf b = { body, *len, *len + 1 };
    char svc[128];
    label_escape(service, svc, sizeof svc);
    mb_printf(&b, "# HELP cartpair_%s %s\n# TYPE cartpair_%s gauge\n"
              "cartpair_%s{service=\"%s\"} %lld\n", name, help, name, name, svc, value);
    if (b.p)
        *len = b.len;
    return b.p;
}
