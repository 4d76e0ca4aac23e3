/* check: judge a response against the user's model of its cart.
 *
 * Every response falls into one kind: ok, lost (404 cart_not_found for a cart
 * that must exist), stale (a cart whose contents, version or total differ
 * from the model, or a refusal the model did not predict), misdirected (421),
 * error (any other failure: 5xx, an unexpected status, an unreadable body, a
 * broken connection) or timeout. The model is then brought in line: after a
 * stale answer it takes the service's cart; after an answer that leaves the
 * outcome of a change unknown it is marked unsure (the next request is a GET
 * that resynchronizes it); a lost cart is forgotten (the user starts over).
 * A cart counts as lost on a 404 cart_not_found, or on a second 421 in a row.
 *
 * Thread-safe: no globals (jansson is reentrant). */
#ifndef CHECK_H
#define CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scen.h"

enum check_kind {
    CHECK_OK,
    CHECK_LOST,
    CHECK_STALE,
    CHECK_MISDIRECTED,
    CHECK_ERROR,
    CHECK_TIMEOUT,
    CHECK_KIND_COUNT
};

struct check_resp {
    int status;             /* HTTP status */
    const char *body;
    size_t body_len;
};

struct check_result {
    enum check_kind kind;
    bool cart_lost;         /* the user's cart is gone: it was counted lost and forgotten */
    bool cart_created;      /* a new cart was created */
    char detail[200];       /* what did not match (empty when ok) */
};

/* The kind's name ("ok", "lost", "stale", "misdirected", "error", "timeout"). */
const char *check_kind_name(enum check_kind k);

/* Judge response r to request rq against model m, and update m (see above). */
struct check_result check_response(const struct scen_cfg *cfg, struct scen_cart *m,
                                   const struct scen_req *rq, const struct check_resp *r);

/* A request that got no response (timeout or broken connection): a change
 * may or may not have happened, so the model becomes unsure. */
void check_no_response(struct scen_cart *m, const struct scen_req *rq);

/* Parse a cart body into out (exists set) and its total_cents; false when malformed. */
bool check_parse_cart(const char *body, size_t len, struct scen_cart *out, int64_t *total);

/* The code of an error body {"error":{"code":...}} into out; false when there is none. */
bool check_error_code(const char *body, size_t len, char *out, size_t outlen);

/* Compare the model with a cart the service sent; false with a reason in why. */
bool check_same_cart(const struct scen_cart *want, const struct scen_cart *got,
                     int64_t got_total, char *why, size_t whylen);

#endif
