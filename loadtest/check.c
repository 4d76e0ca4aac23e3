/* check: judge a response against the user's model of its cart (see check.h). */
#include "check.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char *const check_names[CHECK_KIND_COUNT] = {
    "ok", "lost", "stale", "misdirected", "error", "timeout",
};

const char *check_kind_name(enum check_kind k)
{
    return k < CHECK_KIND_COUNT ? check_names[k] : "?";
}

/* Copy one item object into line; false when a field is missing or out of range. */
static bool check_parse_line(json_t *it, struct scen_line *line)
{
    json_t *sku = json_object_get(it, "sku");
    json_t *qty = json_object_get(it, "qty");
    json_t *price = json_object_get(it, "unit_price_cents");
    if (!json_is_string(sku) || !json_is_integer(qty) || !json_is_integer(price))
        return false;
    if (json_string_length(sku) >= sizeof line->sku)
        return false;
    snprintf(line->sku, sizeof line->sku, "%s", json_string_value(sku));
    line->qty = json_integer_value(qty);
    line->price = json_integer_value(price);
    return true;
}

bool check_parse_cart(const char *body, size_t len, struct scen_cart *out, int64_t *total)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    bool ok = false;
    scen_cart_reset(out);
    if (!json_is_object(root))
        goto done;
    json_t *id = json_object_get(root, "id");
    json_t *version = json_object_get(root, "version");
    json_t *items = json_object_get(root, "items");
    json_t *tot = json_object_get(root, "total_cents");
    if (!json_is_string(id) || json_string_length(id) >= sizeof out->id ||
        !json_is_integer(version) || !json_is_array(items) || !json_is_integer(tot) ||
        json_array_size(items) > SCEN_LINES_MAX)
        goto done;
    snprintf(out->id, sizeof out->id, "%s", json_string_value(id));
    out->version = json_integer_value(version);
    *total = json_integer_value(tot);
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        if (!check_parse_line(it, &out->lines[i]))
            goto done;
    }
    out->n = (int)json_array_size(items);
    out->exists = true;
    ok = true;
done:
    json_decref(root);
    return ok;
}

bool check_error_code(const char *body, size_t len, char *out, size_t outlen)
{
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *code = json_object_get(json_object_get(root, "error"), "code");
    bool ok = json_is_string(code);
    snprintf(out, outlen, "%s", ok ? json_string_value(code) : "");
    json_decref(root);
    return ok;
}

bool check_same_cart(const struct scen_cart *want, const struct scen_cart *got,
                     int64_t got_total, char *why, size_t whylen)
{
    if (want->id[0] && strcmp(want->id, got->id) != 0) {
        snprintf(why, whylen, "cart id %s, expected %s", got->id, want->id);
        return false;
    }
    if (want->version != got->version) {
        snprintf(why, whylen, "version %lld, expected %lld", (long long)got->version,
                 (long long)want->version);
        return false;
    }
    if (want->n != got->n) {
        snprintf(why, whylen, "%d lines, expected %d", got->n, want->n);
        return false;
    }
    for (int i = 0; i < want->n; i++) {
        const struct scen_line *a = &want->lines[i], *b = &got->lines[i];
        if (strcmp(a->sku, b->sku) != 0 || a->qty != b->qty || a->price != b->price) {
            snprintf(why, whylen, "line %d is %s x%lld @%lld, expected %s x%lld @%lld", i,
                     b->sku, (long long)b->qty, (long long)b->price, a->sku,
                     (long long)a->qty, (long long)a->price);
            return false;
        }
    }
    if (got_total != scen_total(want)) {
        snprintf(why, whylen, "total_cents %lld, expected %lld", (long long)got_total,
                 (long long)scen_total(want));
        return false;
    }
    return true;
}

void check_no_response(struct scen_cart *m, const struct scen_req *rq)
{
    if (rq->op != SCEN_CREATE && rq->op != SCEN_STATIC && m->exists)
        m->unsure = true;
}

/* The answer to a create: 201 and an empty cart, which the model adopts. */
static void check_create(struct scen_cart *m, const struct check_resp *r,
                         struct check_result *res)
{
    struct scen_cart got;
    int64_t total = 0;
    if (r->status != 201) {
        res->kind = CHECK_ERROR;
        snprintf(res->detail, sizeof res->detail, "create: status %d, expected 201", r->status);
        return;
    }
    if (!check_parse_cart(r->body, r->body_len, &got, &total)) {
        res->kind = CHECK_ERROR;
        snprintf(res->detail, sizeof res->detail, "create: unreadable cart");
        return;
    }
    *m = got;
    res->cart_created = true;
    struct scen_cart empty;
    scen_cart_reset(&empty);
    snprintf(empty.id, sizeof empty.id, "%s", got.id);
    if (!check_same_cart(&empty, &got, total, res->detail, sizeof res->detail))
        res->kind = CHECK_STALE;
}

/* A 200 with a cart: compare with want (NULL: adopt it), then the model takes it. */
static void check_cart_body(struct scen_cart *m, const struct scen_cart *want,
                            const struct scen_req *rq, const struct check_resp *r,
                            struct check_result *res)
{
    struct scen_cart got;
    int64_t total = 0;
    char why[160];
    if (!check_parse_cart(r->body, r->body_len, &got, &total)) {
        res->kind = CHECK_ERROR;
        m->unsure = true;
        snprintf(res->detail, sizeof res->detail, "%s: unreadable cart", scen_op_name(rq->op));
        return;
    }
    struct scen_cart mine = want ? *want : got;
    if (!want)
        snprintf(mine.id, sizeof mine.id, "%s", m->id);
    if (!check_same_cart(&mine, &got, total, why, sizeof why)) {
        res->kind = CHECK_STALE;
        snprintf(res->detail, sizeof res->detail, "%s %s: %s", scen_op_name(rq->op), rq->sku, why);
    }
    *m = got;
}

/* True for the refusals a model may get wrong: the cart differs from the model. */
static bool check_is_model_code(const char *code)
{
    static const char *const codes[] = {"no_such_item", "cart_full", "qty_out_of_range",
                                        "version_conflict"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(code, codes[i]) == 0)
            return true;
    return false;
}

/* A status other than the model's: stale when the cart must differ, else an error. */
static void check_unexpected(struct scen_cart *m, const struct scen_req *rq,
                             const struct check_resp *r, const struct scen_expect *e,
                             const char *code, struct check_result *res)
{
    if (r->status == 200) {
        check_cart_body(m, NULL, rq, r, res);
        if (res->kind == CHECK_OK)
            res->kind = CHECK_STALE;
    } else {
        res->kind = check_is_model_code(code) ? CHECK_STALE : CHECK_ERROR;
        /* A 503 draining or capacity, or the proxy's, changed nothing; after a
         * 503 store_unavailable (the store's reply was lost) and other failures
         * a change's outcome is unknown (docs/API.md): read the cart next. */
        if (rq->op != SCEN_GET && (r->status != 503 || strcmp(code, "store_unavailable") == 0))
            m->unsure = true;
        if (res->kind == CHECK_STALE)
            m->unsure = true;
    }
    snprintf(res->detail, sizeof res->detail, "%s %s: status %d %s, expected %d %s",
             scen_op_name(rq->op), rq->sku, r->status, code, e->status, e->code ? e->code : "");
}

/* The cart is gone: count it lost and start over. */
static void check_lose(struct scen_cart *m, enum check_kind kind, const struct scen_req *rq,
                       int status, struct check_result *res)
{
    res->kind = kind;
    res->cart_lost = true;
    snprintf(res->detail, sizeof res->detail, "%s: cart %s gone (status %d)",
             scen_op_name(rq->op), m->id, status);
    scen_cart_reset(m);
}

/* Judge an answer about an existing cart (not a create). */
static void check_cart_op(const struct scen_cfg *cfg, struct scen_cart *m,
                          const struct scen_req *rq, const struct check_resp *r,
                          struct check_result *res)
{
    char code[48] = "";
    if (r->status >= 400)
        check_error_code(r->body, r->body_len, code, sizeof code);
    if (r->status == 421) {
        if (++m->misdirected >= 2) {
            check_lose(m, CHECK_MISDIRECTED, rq, r->status, res);
            return;
        }
        m->unsure = true;
        res->kind = CHECK_MISDIRECTED;
        snprintf(res->detail, sizeof res->detail, "%s: 421 for cart %s", scen_op_name(rq->op), m->id);
        return;
    }
    m->misdirected = 0;
    if (r->status == 404 && (!strcmp(code, "cart_not_found") || !strcmp(code, "no_session"))) {
        check_lose(m, CHECK_LOST, rq, r->status, res);
        return;
    }
    if (m->unsure && rq->op == SCEN_GET) {
        if (r->status != 200) {
            res->kind = CHECK_ERROR;
            snprintf(res->detail, sizeof res->detail, "resync: status %d %s", r->status, code);
            return;
        }
        m->unsure = false;
        check_cart_body(m, NULL, rq, r, res);
        return;
    }
    struct scen_cart after;
    struct scen_expect e = scen_expect(cfg, m, rq, &after);
    if (r->status != e.status)
        check_unexpected(m, rq, r, &e, code, res);
    else if (r->status == 200)
        check_cart_body(m, &after, rq, r, res);
    else if (!e.code || strcmp(code, e.code) != 0) {
        res->kind = CHECK_STALE;
        m->unsure = true;
        snprintf(res->detail, sizeof res->detail, "%s %s: code %s, expected %s",
                 scen_op_name(rq->op), rq->sku, code, e.code ? e.code : "");
    }
}

struct check_result check_response(const struct scen_cfg *cfg, struct scen_cart *m,
                                   const struct scen_req *rq, const struct check_resp *r)
{
    struct check_result res = {.kind = CHECK_OK};
    if (rq->op == SCEN_STATIC) {
        if (r->status != 200) {
            res.kind = CHECK_ERROR;
            snprintf(res.detail, sizeof res.detail, "GET %.150s: status %d", cfg->static_path,
                     r->status);
        }
    } else if (rq->op == SCEN_CREATE) {
        check_create(m, r, &res);
    } else {
        check_cart_op(cfg, m, rq, r, &res);
    }
    return res;
}
