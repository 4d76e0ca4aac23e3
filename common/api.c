/* api: the cart API contract. See api.h. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etag.h"
#include "idem.h"
#include "log.h"
#include "metrics.h"
#include "probe.h"
#include "wire.h"

#define API_RETRY_AFTER 1
#define API_CREATE_KEY_MIN 16     /* a create's key names its cart: at least 96 bits */

static const struct {
    unsigned status;
    const char *code;
    const char *message;
} api_errors[API_E_COUNT] = {
    [API_E_INVALID_JSON] = {400, "invalid_json", "the body is not a valid JSON object"},
    [API_E_INVALID_FIELD] = {400, "invalid_field", "a field is missing or has the wrong type"},
    [API_E_UNKNOWN_FIELD] = {400, "unknown_field", "the body has a field this endpoint does not take"},
    [API_E_INVALID_SKU] = {400, "invalid_sku", "sku must match [A-Za-z0-9._-]{1," CART_STR(CART_SKU_MAX) "}"},
    [API_E_CART_NOT_FOUND] = {404, "cart_not_found", "no such cart (it may have expired)"},
    [API_E_NO_SUCH_ITEM] = {404, "no_such_item", "the cart has no line with this sku"},
    [API_E_NO_ROUTE] = {404, "no_route", "no such endpoint"},
    [API_E_NO_SESSION] = {404, "no_session", "no cart cookie: create a cart with POST /carts"},
    [API_E_METHOD_NOT_ALLOWED] = {405, "method_not_allowed", "method not allowed on this endpoint"},
    [API_E_CART_FULL] = {409, "cart_full", "the cart holds the most distinct lines allowed"},
    [API_E_VERSION_CONFLICT] = {412, "version_conflict", "If-Match does not match the cart's version"},
    [API_E_BODY_TOO_LARGE] = {413, "body_too_large", "the body is over " CART_STR(HTTP_BODY_MAX) " bytes"},
    [API_E_UNSUPPORTED_MEDIA_TYPE] = {415, "unsupported_media_type", "the body must be application/json"},
    [API_E_MISDIRECTED] = {421, "misdirected", "this cart is held by another instance"},
    [API_E_QTY_OUT_OF_RANGE] = {422, "qty_out_of_range", "qty must be within 1.." CART_STR(CART_QTY_MAX) " after the change"},
    [API_E_PRICE_OUT_OF_RANGE] = {422, "price_out_of_range", "unit_price_cents must be within 0.." CART_STR(CART_PRICE_MAX)},
    [API_E_STORE_UNAVAILABLE] = {503, "store_unavailable", "the cart store is unreachable; retry later"},
    [API_E_CAPACITY] = {503, "capacity", "this instance holds the most carts allowed; retry later"},
    [API_E_DRAINING] = {503, "draining", "this instance is shutting down; retry elsewhere"},
    [API_E_INVALID_IDEMPOTENCY_KEY] = {400, "invalid_idempotency_key",
        "Idempotency-Key must match [A-Za-z0-9._-]{1," CART_STR(IDEM_KEY_MAX) "} (on POST /carts {"
        CART_STR(API_CREATE_KEY_MIN) "," CART_STR(IDEM_KEY_MAX) "})"},
    [API_E_IDEMPOTENCY_KEY_REUSED] = {422, "idempotency_key_reused",
        "this Idempotency-Key was used for another request"},
    [API_E_BAD_REQUEST] = {400, "bad_request", "the request is not valid HTTP/1.1"},
    [API_E_NOT_IMPLEMENTED] = {501, "not_implemented", "the request needs a feature not implemented"},
    [API_E_QUORUM_UNAVAILABLE] = {503, "quorum_unavailable",
        "this replica cannot reach a majority of its members; retry later"},
    [API_E_INTERNAL] = {500, "internal", "internal error"},
};

unsigned api_error_status(enum api_error e, const char **code, const char **message)
{
    if ((unsigned)e >= API_E_COUNT)
        e = API_E_INTERNAL;
    *code = api_errors[e].code;
    *message = api_errors[e].message;
    return api_errors[e].status;
}

/* Fill resp with an error; msg NULL means the default text, owner for 421. */
void api_fail(struct http_resp *r, enum api_error e, const char *msg, const char *owner)
{
    const char *code, *dflt;
    r->status = api_error_status(e, &code, &dflt);
    free(r->body);
    r->body = wire_error_json(code, msg && msg[0] ? msg : dflt, owner, &r->body_len);
    r->content_type = NULL;
    r->no_store = true;
    if (r->status == 503)
        r->retry_after = API_RETRY_AFTER;
}

/* Map a body-decoding status to an API error. */
static enum api_error api_from_wire(enum wire_status st)
{
    switch (st) {
    case WIRE_INVALID_FIELD: return API_E_INVALID_FIELD;
    case WIRE_UNKNOWN_FIELD: return API_E_UNKNOWN_FIELD;
    case WIRE_INVALID_SKU: return API_E_INVALID_SKU;
    default: return API_E_INVALID_JSON;
    }
}

/* Map a refused cart change to an API error. */
static enum api_error api_from_cart(enum cart_status st)
{
    switch (st) {
    case CART_NO_ITEM: return API_E_NO_SUCH_ITEM;
    case CART_FULL: return API_E_CART_FULL;
    case CART_QTY_RANGE: return API_E_QTY_OUT_OF_RANGE;
    case CART_PRICE_RANGE: return API_E_PRICE_OUT_OF_RANGE;
    case CART_PRICE_REQUIRED: return API_E_INVALID_FIELD;
    case CART_INVALID_SKU: return API_E_INVALID_SKU;
    case CART_CONFLICT: return API_E_VERSION_CONFLICT;
    default: return API_E_INTERNAL;
    }
}

/* Answer a failed store call; backend failures are logged at most once a second. */
void api_store_fail(struct http_resp *r, enum store_status st, enum cart_status cst,
                           const char *detail)
{
    static _Atomic time_t last_log;
    enum api_error e = st == STORE_NOT_FOUND ? API_E_CART_NOT_FOUND
                     : st == STORE_REJECTED ? api_from_cart(cst)
                     : st == STORE_CAPACITY ? API_E_CAPACITY
                     : st == STORE_DRAINING ? API_E_DRAINING
                     : st == STORE_KEY_REUSED ? API_E_IDEMPOTENCY_KEY_REUSED
                     : st == STORE_NO_QUORUM ? API_E_QUORUM_UNAVAILABLE
                     : st == STORE_UNAVAILABLE ? API_E_STORE_UNAVAILABLE : API_E_INTERNAL;
    const char *msg = st == STORE_REJECTED && cst == CART_PRICE_REQUIRED
                    ? "unit_price_cents is required for a new line" : NULL;
    if (st == STORE_UNAVAILABLE || st == STORE_ERROR) {
        metrics_store_error();
        time_t now = time(NULL);
        if (atomic_exchange(&last_log, now) != now)
            log_msg(LOG_WARN, "store_error", "%s: %s", store_status_name(st), detail);
    }
    api_fail(r, e, msg, NULL);
}

/* Fill resp with a cart; cookie refreshes the session cookie. */
static void api_cart_ok(struct api *a, struct http_resp *r, const struct cart *c,
                        unsigned status, bool cookie)
{
    r->body = wire_cart_json(c, &r->body_len);
    if (!r->body) {
        api_fail(r, API_E_INTERNAL, "cannot encode the cart", NULL);
        return;
    }
    r->status = status;
    r->no_store = true;
    snprintf(r->etag, sizeof r->etag, "\"%lld\"", (long long)c->version);
    if (cookie)
        snprintf(r->set_cookie, sizeof r->set_cookie,
                 "cart=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%d", c->id, a->cfg->ttl);
}

/* Check size and media type of a body an endpoint reads. */
static bool api_body_ok(const struct http_req *req, struct http_resp *r)
{
    if (req->body_too_large) {
        api_fail(r, API_E_BODY_TOO_LARGE, NULL, NULL);
        return false;
    }
    if (req->body_len > 0 && !wire_is_json(req->content_type)) {
        api_fail(r, API_E_UNSUPPORTED_MEDIA_TYPE, NULL, NULL);
        return false;
    }
    return true;
}

/* Resolve the cart id (path or cookie); who owns it is the store's business. */
static bool api_resolve_id(struct api *a, const struct http_req *req, struct route_match *m,
                           struct http_resp *r)
{
    if (m->by_cookie) {
        const char *ck = req->cookie_cart;
        if (!ck || !ck[0] || strlen(ck) > CART_ID_MAX || !id_valid(ck)) {
            api_fail(r, API_E_NO_SESSION, NULL, NULL);
            return false;
        }
        snprintf(m->id, sizeof m->id, "%s", ck);
    }
    return true;
}

/* Where a call stands between the handler, the store and the suspension. */
enum api_phase {
    CALL_RUNNING = 0,             /* submitted from the handler, not yet answered */
    CALL_WAITING,                 /* the handler returned; the connection is being suspended */
    CALL_SUSPENDED,               /* suspended: whoever completes resumes */
    CALL_DONE                     /* the store completed the call */
};

/* One store call of a request, and what answering it needs. */
struct api_call {
    struct store_req req;
    struct api *a;
    struct http_resp *resp;
    struct cart cart;
    bool cookie;                  /* refresh (on delete: clear) the session cookie */
    int tries;                    /* create: ids tried */
    struct cart_match read_match; /* GET: If-Match, checked on the cart read */
    _Atomic int phase;            /* enum api_phase */
};

/* Answer with the stored first answer of a remembered key (the body moves to r). */
static void api_replay(struct api_call *c)
{
    struct http_resp *r = c->resp;
    struct idem_answer *ans = &c->req.idem.ans;
    r->status = ans->status;
    r->body = ans->body;
    r->body_len = ans->body_len;
    ans->body = NULL;
    r->no_store = true;
    r->replayed = true;
    if (ans->version >= 0)
        snprintf(r->etag, sizeof r->etag, "\"%lld\"", (long long)ans->version);
    if (c->cookie)
        snprintf(r->set_cookie, sizeof r->set_cookie,
                 "cart=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%d", c->req.id, c->a->cfg->ttl);
    if (c->req.op == STORE_OP_CREATE)
        snprintf(r->location, sizeof r->location, "/carts/%s", c->req.id);
}

/* Draw a new cart id for a create; false when there is no randomness. */
static bool api_new_id(struct api_call *c)
{
    c->tries++;
    return id_new(c->a->tag, c->req.id, sizeof c->req.id) == ID_OK;
}

/* Turn a finished store call into the response; true when a create must run
 * again with a new id (the id was taken: practically never). */
static bool api_call_answer(struct api_call *c)
{
    struct store_req *q = &c->req;
    struct http_resp *r = c->resp;
    if (q->op == STORE_OP_CREATE && q->st == STORE_EXISTS && !q->idem.key[0] && c->tries < 3 &&
        api_new_id(c))
        return true;
    if (q->op == STORE_OP_CREATE && q->st == STORE_EXISTS && q->idem.key[0])
        q->st = STORE_KEY_REUSED;  /* the key's cart lives on, but forgot the key */
    if (q->st == STORE_OK && q->idem.replayed) {
        api_replay(c);
    } else if (q->st == STORE_MISDIRECTED) {
        char msg[96];
        snprintf(msg, sizeof msg, "this cart is held by instance tag '%s'", q->owner);
        api_fail(r, API_E_MISDIRECTED, msg, q->owner);
    } else if (q->st != STORE_OK) {
        api_store_fail(r, q->st, q->cst, q->err);
    } else if (q->op == STORE_OP_GET && !cart_match_ok(&c->read_match, c->cart.version)) {
        api_fail(r, API_E_VERSION_CONFLICT, NULL, NULL);
    } else if (q->op == STORE_OP_DEL) {
        r->status = 204;
        r->no_store = true;
        if (c->cookie)
            snprintf(r->set_cookie, sizeof r->set_cookie,
                     "cart=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    } else {
        api_cart_ok(c->a, r, &c->cart, q->op == STORE_OP_CREATE ? STORE_ANSWER_CREATED
                                                                 : STORE_ANSWER_CHANGED, c->cookie);
        if (q->op == STORE_OP_CREATE)
            snprintf(r->location, sizeof r->location, "/carts/%s", c->cart.id);
    }
    return false;
}

/* Hand the call to the store in phase ph. */
static void api_call_submit(struct api_call *c, enum api_phase ph)
{
    atomic_store(&c->phase, ph);
    c->a->store.ops->submit(c->a->store.self, &c->req);
}

/* Answer a call whose connection is suspended, resume it and free the call. */
static void api_call_finish(struct api_call *c)
{
    if (api_call_answer(c)) {
        api_call_submit(c, CALL_SUSPENDED);
        return;
    }
    struct http_resp *r = c->resp;
    cart_free(&c->cart);
    idem_answer_free(&c->req.idem.ans);
    free(c);
    http_resume(r);
}

/* store_req.done: the first of the store and the suspension to finish
 * leaves the answer to the other; a suspended connection is resumed here. */
static void api_call_done(struct store_req *q)
{
    struct api_call *c = q->ud;
    if (atomic_exchange(&c->phase, CALL_DONE) == CALL_SUSPENDED)
        api_call_finish(c);
}

/* http_resp.defer: the connection is suspended now. */
static void api_call_suspended(void *arg)
{
    struct api_call *c = arg;
    int ph = CALL_WAITING;
    if (!atomic_compare_exchange_strong(&c->phase, &ph, CALL_SUSPENDED))
        api_call_finish(c); /* completed meanwhile */
}

/* Run a prepared call: answered at once when the store completes it inline,
 * else deferred, so that no pool thread waits on the store. */
static void api_call_run(struct api_call *proto)
{
    struct http_resp *r = proto->resp;
    struct api_call *c = malloc(sizeof *c);
    if (!c) {
        cart_free(&proto->cart);
        api_fail(r, API_E_INTERNAL, "out of memory", NULL);
        return;
    }
    memcpy(c, proto, sizeof *c);
    c->req.out = c->req.op == STORE_OP_DEL ? NULL : &c->cart;
    c->req.ud = c;
    c->req.done = api_call_done;
    for (;;) {
        api_call_submit(c, CALL_RUNNING);
        int ph = CALL_RUNNING;
        if (atomic_compare_exchange_strong(&c->phase, &ph, CALL_WAITING)) {
            r->defer = api_call_suspended;
            r->defer_arg = c;
            return;
        }
        if (!api_call_answer(c))
            break;
    }
    cart_free(&c->cart);
    idem_answer_free(&c->req.idem.ans);
    free(c);
}

/* Start a call of op on cart id (an empty one for create). */
static void api_call_init(struct api_call *c, struct api *a, struct http_resp *r,
                          enum store_op op, const char *id, bool cookie)
{
    memset(c, 0, sizeof *c);
    c->a = a;
    c->resp = r;
    c->cookie = cookie;
    c->req.op = op;
    snprintf(c->req.id, sizeof c->req.id, "%s", id);
    cart_init(&c->cart, "");
    c->req.out = op == STORE_OP_DEL ? NULL : &c->cart;
}

/* Read a change's Idempotency-Key (at least min_len characters) into ik, with
 * the fingerprint of method, normalized path npath and body; false (400 in r)
 * when the key is malformed. No key: ik->key is "". */
static bool api_idem(const struct http_req *req, const char *npath, size_t min_len,
                     struct store_idem *ik, struct http_resp *r)
{
    memset(ik, 0, sizeof *ik);
    if (!req->idem_key)
        return true;
    if (!idem_key_valid(req->idem_key) || strlen(req->idem_key) < min_len) {
        api_fail(r, API_E_INVALID_IDEMPOTENCY_KEY, NULL, NULL);
        return false;
    }
    snprintf(ik->key, sizeof ik->key, "%s", req->idem_key);
    ik->fp = idem_fingerprint(req->method, npath, req->body, req->body_len);
    return true;
}

/* POST /carts: a new empty cart, its Location and its cookie. A keyed create
 * makes the cart whose id derives from the key (idem_cart_id), so that its
 * retry finds that cart and the key in it. */
static void api_create(struct api *a, const struct http_req *req, struct http_resp *r)
{
    char err[256] = "";
    if (!api_body_ok(req, r))
        return;
    enum wire_status ws = wire_parse_create(req->body, req->body_len, err, sizeof err);
    if (ws != WIRE_OK) {
        api_fail(r, api_from_wire(ws), err, NULL);
        return;
    }
    struct api_call c;
    api_call_init(&c, a, r, STORE_OP_CREATE, "", true);
    if (!api_idem(req, "/carts", API_CREATE_KEY_MIN, &c.req.idem, r)) {
        cart_free(&c.cart);
        return;
    }
    bool id_ok = c.req.idem.key[0]
                 ? idem_cart_id(a->tag, c.req.idem.key, c.req.id, sizeof c.req.id) == 0
                 : api_new_id(&c);
    if (!id_ok) {
        cart_free(&c.cart);
        api_fail(r, API_E_INTERNAL, "no cart id could be made", NULL);
        return;
    }
    api_call_run(&c);
}

/* Decode the change an ADD or SET request asks for. */
static bool api_decode_change(const struct http_req *req, const struct route_match *m,
                              struct cart_change *chg, struct http_resp *r)
{
    char err[256] = "";
    enum wire_status ws = WIRE_OK;
    memset(chg, 0, sizeof *chg);
    if (m->action == ACT_REMOVE) {
        chg->op = CART_OP_REMOVE;
        snprintf(chg->sku, sizeof chg->sku, "%s", m->sku);
    } else if (!api_body_ok(req, r)) {
        return false;
    } else if (m->action == ACT_ADD) {
        ws = wire_parse_add(req->body, req->body_len, chg, err, sizeof err);
    } else {
        ws = wire_parse_set(req->body, req->body_len, m->sku, chg, err, sizeof err);
    }
    if (ws != WIRE_OK) {
        api_fail(r, api_from_wire(ws), err, NULL);
        return false;
    }
    if (!etag_if_match(req->if_match, &chg->if_match)) {
        api_fail(r, API_E_VERSION_CONFLICT, NULL, NULL);
        return false;
    }
    return true;
}

/* GET, DELETE, add, set and remove on one cart. If-Match holds for every
 * method (RFC 9110 13.1.1): a read that does not match gets 412 too. */
static void api_cart_op(struct api *a, const struct http_req *req, struct route_match *m,
                        struct http_resp *r)
{
    struct cart_change chg;
    struct cart_match im;
    if (!api_resolve_id(a, req, m, r))
        return;
    if ((m->action == ACT_DELETE || m->action == ACT_GET) && !etag_if_match(req->if_match, &im)) {
        api_fail(r, API_E_VERSION_CONFLICT, NULL, NULL);
        return;
    }
    if (m->action != ACT_GET && m->action != ACT_DELETE && !api_decode_change(req, m, &chg, r))
        return;
    enum store_op op = m->action == ACT_GET ? STORE_OP_GET
                     : m->action == ACT_DELETE ? STORE_OP_DEL : STORE_OP_CHANGE;
    char npath[CART_ID_MAX + CART_SKU_MAX + 32];
    snprintf(npath, sizeof npath, "/carts/%s%s%s", m->id,
             m->action == ACT_ADD || m->kind == ROUTE_ITEM ? "/items" : "",
             m->kind == ROUTE_ITEM ? "/" : "");
    snprintf(npath + strlen(npath), sizeof npath - strlen(npath), "%s",
             m->kind == ROUTE_ITEM ? m->sku : "");
    struct api_call c;
    api_call_init(&c, a, r, op, m->id, m->by_cookie);
    if (op != STORE_OP_GET && !api_idem(req, npath, 1, &c.req.idem, r)) {
        cart_free(&c.cart);
        return;
    }
    if (op == STORE_OP_DEL)
        c.req.if_match = im;
    if (op == STORE_OP_GET)
        c.read_match = im;
    if (op == STORE_OP_CHANGE)
        c.req.chg = chg;
    api_call_run(&c);
}

void api_handle(void *ud, const struct http_req *req, struct http_resp *r)
{
    struct api *a = ud;
    struct route_match m;
    enum route_status rs = route_match(req->method, req->path, &m);
    r->route = m.kind;
    if (req->framing != FRAME_OK) { /* refused before its body; http closes the connection */
        api_fail(r, frame_not_implemented(req->framing) ? API_E_NOT_IMPLEMENTED
                                                        : API_E_BAD_REQUEST,
                 frame_message(req->framing), NULL);
        return;
    }
    if (req->closing) { /* shutting down: start nothing, the connection closes */
        api_fail(r, API_E_DRAINING, "this instance is shutting down", NULL);
        return;
    }
    switch (rs) {
    case ROUTE_OK: break;
    case ROUTE_BAD_METHOD:
        snprintf(r->allow, sizeof r->allow, "%s", m.allow);
        api_fail(r, API_E_METHOD_NOT_ALLOWED, NULL, NULL);
        return;
    case ROUTE_BAD_ID: api_fail(r, API_E_CART_NOT_FOUND, NULL, NULL); return;
    case ROUTE_BAD_SKU: api_fail(r, API_E_INVALID_SKU, NULL, NULL); return;
    default: api_fail(r, API_E_NO_ROUTE, NULL, NULL); return;
    }
    switch (m.action) {
    case ACT_HEALTHZ: probe_healthz(r); return;
    case ACT_READYZ: probe_readyz(a, r); return;
    case ACT_METRICS: probe_metrics(a, r); return;
    case ACT_INFO: probe_info(a, r); return;
    case ACT_CREATE: api_create(a, req, r); return;
    default: api_cart_op(a, req, &m, r); return;
    }
}

/* Prepare an api over a store. */
void api_init(struct api *a, const struct cfg *cfg, struct store store, const char *service,
              const char *tag)
{
    memset(a, 0, sizeof *a);
    a->cfg = cfg;
    a->store = store;
    a->service = service;
    snprintf(a->tag, sizeof a->tag, "%s", tag ? tag : "");
    atomic_init(&a->draining, false);
}

void api_set_draining(struct api *a)
{
    atomic_store(&a->draining, true);
}
