/* api: the cart API contract: routes, handlers, and the one mapping from
 * statuses to HTTP errors.
 *
 * api_handle is an http_handler. Thread-safe: the store is thread-safe and the
 * only mutable state here is the draining flag (atomic). */
#ifndef API_H
#define API_H

#include <stdatomic.h>
#include <stdbool.h>

#include "cfg.h"
#include "http.h"
#include "id.h"
#include "route.h"
#include "store.h"

/* Every error the API can answer, one per contract code. */
enum api_error {
    API_E_INVALID_JSON = 0, API_E_INVALID_FIELD, API_E_UNKNOWN_FIELD, API_E_INVALID_SKU,
    API_E_CART_NOT_FOUND, API_E_NO_SUCH_ITEM, API_E_NO_ROUTE, API_E_NO_SESSION,
    API_E_METHOD_NOT_ALLOWED, API_E_CART_FULL, API_E_VERSION_CONFLICT, API_E_BODY_TOO_LARGE,
    API_E_UNSUPPORTED_MEDIA_TYPE, API_E_MISDIRECTED, API_E_QTY_OUT_OF_RANGE,
    API_E_PRICE_OUT_OF_RANGE, API_E_STORE_UNAVAILABLE, API_E_CAPACITY, API_E_DRAINING,
    API_E_INVALID_IDEMPOTENCY_KEY, API_E_IDEMPOTENCY_KEY_REUSED, API_E_BAD_REQUEST,
    API_E_NOT_IMPLEMENTED, API_E_QUORUM_UNAVAILABLE,
    API_E_INTERNAL, API_E_COUNT
};

struct api {
    const struct cfg *cfg;
    struct store store;
    char tag[ID_TAG_MAX + 1];     /* the prefix of new cart ids ("" for none) */
    const char *service;          /* "stateful-svc" or "stateless-svc" */
    atomic_bool draining;
};

/* Prepare an api over a store (owned by the caller); tag: the prefix of the
 * cart ids it creates ("" for none). */
void api_init(struct api *a, const struct cfg *cfg, struct store store, const char *service,
              const char *tag);

/* The http_handler: route req, run it against the store, fill resp. */
void api_handle(void *ud, const struct http_req *req, struct http_resp *resp);

/* Turn /readyz to 503 and refuse nothing else (draining). */
void api_set_draining(struct api *a);

/* Fill resp with an error; msg NULL means the default text, owner for 421. */
void api_fail(struct http_resp *r, enum api_error e, const char *msg, const char *owner);

/* Answer a failed store call (logged at most once a second when the backend fails). */
void api_store_fail(struct http_resp *r, enum store_status st, enum cart_status cst,
                    const char *detail);

/* The one mapping from an error to status, code and default message. */
unsigned api_error_status(enum api_error e, const char **code, const char **message);

#endif
