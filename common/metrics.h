/* metrics: Prometheus counters and a latency histogram per route and status.
 *
 * One registry per process (global). Thread-safe: recording uses relaxed
 * atomics, no locks; rendering reads every atomic once into a snapshot and
 * renders counters and histograms from it, so they agree in every scrape. */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_ROUTES 24

/* Name the routes (labels) once at start-up; names must outlive the process. */
void metrics_init(const char *const *route_names, size_t n);

/* Count one request of route index `route` answered with `status` after `seconds`. */
void metrics_observe(size_t route, unsigned status, double seconds);

/* Count one error of the backing store. */
void metrics_store_error(void);

/* Count one failover of the backing store's primary (Redis Sentinel). */
void metrics_store_failover(void);

/* Render the text exposition format 0.0.4 (malloc'd); carts is the gauge value. */
char *metrics_render(const char *service, uint64_t carts, int ready, size_t *len);

/* Append one gauge cartpair_<name> to a rendered exposition (realloc'd; NULL
 * when out of memory, body freed). */
char *metrics_append_gauge(char *body, size_t *len, const char *service, const char *name,
                           const char *help, long long value);

#endif
