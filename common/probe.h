/* probe: the endpoints that tell about a service rather than carts:
 * /healthz, /readyz, /metrics and /info.
 *
 * Thread-safe: they only read the api and ask the store (thread-safe). */
#ifndef PROBE_H
#define PROBE_H

#include "api.h"

/* GET /healthz: 200 {"status":"ok"} while the process serves. */
void probe_healthz(struct http_resp *r);

/* GET /readyz: 503 while draining or while the store is unreachable. */
void probe_readyz(struct api *a, struct http_resp *r);

/* GET /metrics: the Prometheus text exposition. */
void probe_metrics(struct api *a, struct http_resp *r);

/* GET /info: who answers, with what store, holding how many carts. */
void probe_info(struct api *a, struct http_resp *r);

#endif
