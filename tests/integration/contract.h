/* contract: shared helpers of the API contract suites (test_contract.c,
 * test_errors.c).
 *
 * Starts the target service (stateful-svc, or stateless-svc with a real
 * redis-server; chosen at run time) with INSTANCE_ID=CONTRACT_INSTANCE, sends
 * requests on one keep-alive client and checks every reply against the rules
 * API.md sets for all responses (X-Instance, X-Request-Id, Content-Type, and
 * for carts Cache-Control, ETag and the cart's shape). The last reply is kept
 * in contract_resp and, parsed, in contract_json. Failures are Criterion
 * assertions. Not thread-safe: the state is one per test process, used from
 * the test's own thread (other threads use their own harness_client). */
#ifndef CONTRACT_H
#define CONTRACT_H

#include <jansson.h>
#include <stdbool.h>

#include "harness.h"

#define CONTRACT_INSTANCE "alpha1"   /* its tag is "alpha1" too */

extern struct harness_proc contract_redis, contract_svc;
extern struct harness_client *contract_client;   /* the test's client */
extern struct harness_resp contract_resp;        /* the last response */
extern json_t *contract_json;    /* its body, parsed (NULL when not JSON) */
extern long long contract_ttl;   /* CART_TTL_SECONDS in effect (default 1800) */

/* The service binary under test. */
const char *contract_bin(bool stateful);

/* Start Redis (stateless) and the service with extra env entries; one client. */
void contract_start_with(bool stateful, const char *const *env);

/* Start with the defaults. */
void contract_start(bool stateful);

/* Stop everything the test started (a Criterion .fini). */
void contract_stop(void);

/* Send a request on the test's client; returns the status, contract_resp and
 * contract_json hold the reply, checked against the common rules. */
long contract_call_h(const char *m, const char *path, const char *body, const char *const *h);

/* contract_call_h without extra headers. */
long contract_call(const char *m, const char *path, const char *body);

/* Assert the last reply is an error with this status and code (line: the caller's). */
void contract_expect_err_at(int line, long status, const char *code);
#define contract_expect_err(status, code) contract_expect_err_at(__LINE__, status, code)

/* Integer field of the last reply. */
long long contract_jint(const char *key);

/* String field of the last reply, "" when absent. */
const char *contract_jstr(const char *key);

/* qty of sku in the last cart reply, 0 when absent. */
long long contract_line_qty(const char *sku);

/* Create a cart and write its id to id (65 bytes). */
void contract_new_cart(char *id);

/* Build a path from a format and an id into a static buffer (two in turn). */
const char *contract_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Add qty of sku at price; returns the status. */
long contract_add(const char *id, const char *sku, long qty, long long price);

#endif
