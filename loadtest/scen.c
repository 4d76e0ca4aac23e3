/* scen: the cart scenario of one virtual user, and its model (see scen.h). */
#include "scen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const scen_names[SCEN_OP_COUNT] = {
    [SCEN_CREATE] = "create", [SCEN_ADD] = "add", [SCEN_SET] = "set",
    [SCEN_REMOVE] = "remove", [SCEN_GET] = "get", [SCEN_STATIC] = "static",
};

void scen_cfg_default(struct scen_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->weight[SCEN_ADD] = 30;
    cfg->weight[SCEN_SET] = 20;
    cfg->weight[SCEN_REMOVE] = 10;
    cfg->weight[SCEN_GET] = 40;
    cfg->skus = 12;
    cfg->max_qty = 5;
    cfg->max_items = 100;
    cfg->keys = true;
    snprintf(cfg->static_path, sizeof cfg->static_path, "/healthz");
}

const char *scen_op_name(enum scen_op op)
{
    return op < SCEN_OP_COUNT ? scen_names[op] : "?";
}

/* Parse one "name=weight" item of a mix into cfg. */
static bool scen_parse_item(struct scen_cfg *cfg, const char *item, size_t len)
{
    const char *eq = memchr(item, '=', len);
    if (!eq)
        return false;
    size_t nlen = (size_t)(eq - item);
    for (int op = SCEN_ADD; op <= SCEN_GET; op++) {
        if (strlen(scen_names[op]) != nlen || strncmp(item, scen_names[op], nlen) != 0)
            continue;
        char num[16];
        size_t vlen = len - nlen - 1;
        if (vlen == 0 || vlen >= sizeof num)
            return false;
        memcpy(num, eq + 1, vlen);
        num[vlen] = '\0';
        char *end;
        unsigned long w = strtoul(num, &end, 10);
        if (*end || w > 1000000)
            return false;
        cfg->weight[op] = (unsigned)w;
        return true;
    }
    return false;
}

bool scen_parse_mix(struct scen_cfg *cfg, const char *mix)
{
    unsigned saved[SCEN_OP_COUNT];
    memcpy(saved, cfg->weight, sizeof saved);
    for (int op = 0; op < SCEN_OP_COUNT; op++)
        cfg->weight[op] = 0;
    const char *p = mix;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (!scen_parse_item(cfg, p, len))
            goto bad;
        p += len;
        if (*p == ',')
            p++;
    }
    unsigned sum = 0;
    for (int op = SCEN_ADD; op <= SCEN_GET; op++)
        sum += cfg->weight[op];
    if (sum > 0)
        return true;
bad:
    memcpy(cfg->weight, saved, sizeof saved);
    return false;
}

void scen_cart_reset(struct scen_cart *m)
{
    m->exists = false;
    m->unsure = false;
    m->retry = false;
    m->misdirected = 0;
    m->id[0] = '\0';
    m->version = 0;
    m->n = 0;
}

uint64_t scen_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

void scen_sku_name(int i, char *out, size_t len)
{
    snprintf(out, len, "SKU-%02d", i);
}

int scen_find(const struct scen_cart *m, const char *sku)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->lines[i].sku, sku) == 0)
            return i;
    return -1;
}

int64_t scen_total(const struct scen_cart *m)
{
    int64_t sum = 0;
    for (int i = 0; i < m->n; i++)
        sum += m->lines[i].qty * m->lines[i].price;
    return sum;
}

/* Draw an op from the weights. */
static enum scen_op scen_draw(const struct scen_cfg *cfg, uint64_t *rng)
{
    unsigned sum = 0;
    for (int op = SCEN_ADD; op <= SCEN_GET; op++)
        sum += cfg->weight[op];
    if (sum == 0)
        return SCEN_GET;
    unsigned r = (unsigned)(scen_rand(rng) % sum);
    for (int op = SCEN_ADD; op <= SCEN_GET; op++) {
        if (r < cfg->weight[op])
            return (enum scen_op)op;
        r -= cfg->weight[op];
    }
    return SCEN_GET;
}

void scen_next(const struct scen_cfg *cfg, const struct scen_cart *m, uint64_t *rng,
               struct scen_req *rq)
{
    memset(rq, 0, sizeof *rq);
    if (cfg->is_static) {
        rq->op = SCEN_STATIC;
        return;
    }
    if (!m->exists) {
        rq->op = SCEN_CREATE;
        return;
    }
    if (m->unsure) {
        rq->op = SCEN_GET;
        return;
    }
    rq->op = scen_draw(cfg, rng);
    int skus = cfg->skus > 0 ? cfg->skus : 1;
    int pick = (int)(scen_rand(rng) % (uint64_t)skus);
    scen_sku_name(pick, rq->sku, sizeof rq->sku);
    /* A remove mostly targets a line the cart holds; 1 in 8 may miss (404 no_such_item). */
    if (rq->op == SCEN_REMOVE && m->n > 0 && scen_rand(rng) % 8 != 0)
        snprintf(rq->sku, sizeof rq->sku, "%s", m->lines[scen_rand(rng) % (uint64_t)m->n].sku);
    int max_qty = cfg->max_qty > 0 ? cfg->max_qty : 1;
    if (rq->op == SCEN_ADD)
        rq->qty = 1 + (int64_t)(scen_rand(rng) % (uint64_t)max_qty);
    else if (rq->op == SCEN_SET)
        rq->qty = (int64_t)(scen_rand(rng) % (uint64_t)(max_qty + 1));
    /* Prices move a little, so that an add or a set that updates one is seen. */
    rq->price = 100 * (pick + 1) + (int64_t)(scen_rand(rng) % 100);
}

/* Write the request path for rq into out. */
static void scen_path(const struct scen_cfg *cfg, const struct scen_cart *m,
                      const struct scen_req *rq, char *out, size_t len)
{
    char base[SCEN_ID_MAX + 16];
    if (cfg->by_id)
        snprintf(base, sizeof base, "/carts/%s", m->id);
    else
        snprintf(base, sizeof base, "/cart");
    switch (rq->op) {
    case SCEN_CREATE: snprintf(out, len, "/carts"); break;
    case SCEN_ADD: snprintf(out, len, "%s/items", base); break;
    case SCEN_SET:
    case SCEN_REMOVE: snprintf(out, len, "%s/items/%s", base, rq->sku); break;
    case SCEN_STATIC: snprintf(out, len, "%s", cfg->static_path); break;
    default: snprintf(out, len, "%s", base); break;
    }
}

bool scen_is_change(enum scen_op op)
{
    return op == SCEN_CREATE || op == SCEN_ADD || op == SCEN_SET || op == SCEN_REMOVE;
}

size_t scen_format(const struct scen_cfg *cfg, const struct scen_cart *m,
                   const struct scen_req *rq, const char *host, const char *cookie,
                   char *buf, size_t len)
{
    static const char *const methods[SCEN_OP_COUNT] = {
        [SCEN_CREATE] = "POST", [SCEN_ADD] = "POST", [SCEN_SET] = "PUT",
        [SCEN_REMOVE] = "DELETE", [SCEN_GET] = "GET", [SCEN_STATIC] = "GET",
    };
    char path[SCEN_ID_MAX + SCEN_SKU_MAX + 300];
    char body[160] = "";
    scen_path(cfg, m, rq, path, sizeof path);
    if (rq->op == SCEN_ADD)
        snprintf(body, sizeof body, "{\"sku\":\"%s\",\"qty\":%lld,\"unit_price_cents\":%lld}",
                 rq->sku, (long long)rq->qty, (long long)rq->price);
    else if (rq->op == SCEN_SET)
        snprintf(body, sizeof body, "{\"qty\":%lld,\"unit_price_cents\":%lld}",
                 (long long)rq->qty, (long long)rq->price);
    else if (rq->op == SCEN_CREATE)
        snprintf(body, sizeof body, "{}");
    char ck[1100 + SCEN_KEY_MAX + 32] = "";
    if (cookie && *cookie)
        snprintf(ck, sizeof ck, "Cookie: %s\r\n", cookie);
    if (rq->key[0])
        snprintf(ck + strlen(ck), sizeof ck - strlen(ck), "Idempotency-Key: %s\r\n", rq->key);
    int n;
    if (body[0])
        n = snprintf(buf, len, "%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s", methods[rq->op], path, host, ck,
                     strlen(body), body);
    else
        n = snprintf(buf, len, "%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", methods[rq->op], path,
                     host, ck);
    return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

/* Insert a line at its sorted place; false when the model is full. */
static bool scen_insert(struct scen_cart *m, const struct scen_req *rq, int64_t qty)
{
    if (m->n >= SCEN_LINES_MAX)
        return false;
    int at = 0;
    while (at < m->n && strcmp(m->lines[at].sku, rq->sku) < 0)
        at++;
    memmove(&m->lines[at + 1], &m->lines[at], (size_t)(m->n - at) * sizeof m->lines[0]);
    snprintf(m->lines[at].sku, sizeof m->lines[at].sku, "%s", rq->sku);
    m->lines[at].qty = qty;
    m->lines[at].price = rq->price;
    m->n++;
    return true;
}

/* Drop line i. */
static void scen_erase(struct scen_cart *m, int i)
{
    memmove(&m->lines[i], &m->lines[i + 1], (size_t)(m->n - i - 1) * sizeof m->lines[0]);
    m->n--;
}

/* The model's answer to an add or a set of rq (a changes a; see scen_expect). */
static struct scen_expect scen_change(const struct scen_cfg *cfg, struct scen_cart *a,
                                      const struct scen_req *rq)
{
    const struct scen_expect ok = {200, NULL}, range = {422, "qty_out_of_range"};
    int i = scen_find(a, rq->sku);
    if (rq->op == SCEN_REMOVE || (rq->op == SCEN_SET && rq->qty == 0)) {
        if (i < 0)
            return (struct scen_expect){404, "no_such_item"};
        scen_erase(a, i);
        return ok;
    }
    int64_t qty = rq->op == SCEN_ADD ? rq->qty + (i >= 0 ? a->lines[i].qty : 0) : rq->qty;
    if (rq->qty < 1 || qty > SCEN_QTY_MAX)
        return range;
    if (i >= 0) {
        a->lines[i].qty = qty;
        a->lines[i].price = rq->price;
        return ok;
    }
    if (a->n >= cfg->max_items || !scen_insert(a, rq, qty))
        return (struct scen_expect){409, "cart_full"};
    return ok;
}

struct scen_expect scen_expect(const struct scen_cfg *cfg, const struct scen_cart *m,
                               const struct scen_req *rq, struct scen_cart *after)
{
    *after = *m;
    switch (rq->op) {
    case SCEN_CREATE:
        scen_cart_reset(after);
        after->exists = true;
        return (struct scen_expect){201, NULL};
    case SCEN_GET:
    case SCEN_STATIC:
        return (struct scen_expect){200, NULL};
    default:
        break;
    }
    struct scen_expect e = scen_change(cfg, after, rq);
    if (e.status == 200)
        after->version++;
    else
        *after = *m;
    return e;
}
