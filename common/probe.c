/* probe: the endpoints that tell about the service. See probe.h. */
#include "probe.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

/* GET /healthz: the process serves; no dependency is asked. */
void probe_healthz(struct http_resp *r)
{
    static const char healthz[] = "{\"status\":\"ok\"}";
    r->status = 200;
    r->body = strdup(healthz);
    r->body_len = r->body ? sizeof healthz - 1 : 0;
}

/* GET /readyz: 503 while draining or while the store is unreachable. */
void probe_readyz(struct api *a, struct http_resp *r)
{
    char err[256] = "", where[160] = "";
    if (atomic_load(&a->draining)) {
        api_fail(r, API_E_DRAINING, NULL, NULL);
        return;
    }
    enum store_status st = a->store.ops->ping(a->store.self, err, sizeof err);
    if (st != STORE_OK) {
        api_store_fail(r, STORE_UNAVAILABLE, CART_OK, err);
        return;
    }
    if (a->store.ops->where)
        a->store.ops->where(a->store.self, where, sizeof where);
    json_t *o = where[0] ? json_pack("{s:s, s:s}", "status", "ready", "primary", where)
                         : json_pack("{s:s}", "status", "ready");
    r->body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!r->body) {
        api_fail(r, API_E_INTERNAL, NULL, NULL);
        return;
    }
    r->status = 200;
    r->no_store = true;
    r->body_len = strlen(r->body);
}

/* GET /metrics: the Prometheus text exposition. */
void probe_metrics(struct api *a, struct http_resp *r)
{
    char err[256];
    struct store_stats ss = {0};
    a->store.ops->stats(a->store.self, &ss, err, sizeof err);
    int ready = !atomic_load(&a->draining) &&
                a->store.ops->ping(a->store.self, err, sizeof err) == STORE_OK;
    r->body = metrics_render(a->service, ss.carts, ready, &r->body_len);
    for (size_t i = 0; i < ss.nextra && i < STORE_STATS_EXTRA; i++)
        r->body = metrics_append_gauge(r->body, &r->body_len, a->service, ss.extra[i].name,
                                       ss.extra[i].help, ss.extra[i].value);
    if (!r->body) {
        api_fail(r, API_E_INTERNAL, NULL, NULL);
        return;
    }
    r->status = 200;
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* GET /info: who answers, with what store, holding how many carts. */
void probe_info(struct api *a, struct http_resp *r)
{
    char err[256];
    struct store_stats ss = {0};
    enum store_status st = a->store.ops->stats(a->store.self, &ss, err, sizeof err);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:b, s:b, s:i, s:i, s:i}",
        "service", a->service, "instance", a->cfg->instance_id, "version", CARTPAIR_VERSION,
        "store", a->store.ops->name, "carts", (json_int_t)ss.carts,
        "store_ok", st == STORE_OK, "draining", (int)atomic_load(&a->draining),
        "ttl_seconds", a->cfg->ttl, "max_items", a->cfg->max_items, "threads", a->cfg->threads);
    if (o && a->store.ops->where) {
        char where[160] = "";
        a->store.ops->where(a->store.self, where, sizeof where);
        json_object_set_new(o, "primary", json_string(where));
        json_object_set_new(o, "failovers", json_integer((json_int_t)ss.failovers));
    }
    if (o && a->tag[0]) /* the prefix of the cart ids this instance creates */
        json_object_set_new(o, "tag", json_string(a->tag));
    for (size_t i = 0; o && i < ss.nextra && i < STORE_STATS_EXTRA; i++)
        json_object_set_new(o, ss.extra[i].name, json_integer(ss.extra[i].value));
    r->body = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (!r->body) {
        api_fail(r, API_E_INTERNAL, NULL, NULL);
        return;
    }
    r->body_len = strlen(r->body);
    r->status = 200;
}

