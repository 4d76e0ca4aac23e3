/* cart: the shopping-cart model (see cart.h). */
#include "cart.h"

#include <stdlib.h>
#include <string.h>

/* Totals cannot overflow: a line is at most CART_QTY_MAX * CART_PRICE_MAX
 * (about 1e13), so even 10000 lines stay near 1e17, far below 2^63 (9.2e18).
 * More than 920000 lines would be needed to overflow; cart_total still
 * checks and saturates so a corrupt stored cart cannot cause UB. */
#define CART_LINES_SAFE 10000LL
_Static_assert(CART_LINES_SAFE * CART_QTY_MAX * CART_PRICE_MAX < INT64_MAX,
               "cart totals could overflow int64");

/* Copy at most max-1 bytes of src into dst, always NUL-terminated. */
static void copy_str(char *dst, size_t max, const char *src)
{
    size_t len = src ? strnlen(src, max - 1) : 0;

    if (len)
        memcpy(dst, src, len);
    dst[len] = '\0';
}

/* An If-Match list matches when any version it names is the cart's. */
bool cart_match_ok(const struct cart_match *m, int64_t version)
{
    if (!m->set)
        return true;
    for (unsigned i = 0; i < m->n && i < CART_MATCH_MAX; i++)
        if (m->v[i] == version)
            return true;
    return false;
}

/* One version as a condition: what a caller holding a single ETag sends. */
struct cart_match cart_match_one(int64_t v)
{
    struct cart_match m = { .set = v >= 0, .n = v >= 0 };
    m.v[0] = v;
    return m;
}

/* Initialize an empty cart (version 0) with the given id. */
void cart_init(struct cart *c, const char *id)
{
    memset(c, 0, sizeof(*c));
    copy_str(c->id, sizeof(c->id), id);
}

/* Release the lines of a cart; the struct may be reused after cart_init. */
void cart_free(struct cart *c)
{
    free(c->items);
    c->items = NULL;
    c->n = 0;
    c->cap = 0;
}

/* Deep-copy src into dst (dst must be initialized or zeroed). */
enum cart_status cart_copy(struct cart *dst, const struct cart *src)
{
    struct cart_item *items = NULL;
    size_t cap = src->n;

    if (dst == src)
        return CART_OK;
    if (cap) {
        items = malloc(cap * sizeof(*items));
        if (!items)
            return CART_NOMEM;
        memcpy(items, src->items, cap * sizeof(*items));
    }
    free(dst->items);
    memcpy(dst->id, src->id, sizeof(dst->id));
    dst->version = src->version;
    dst->expires_in = src->expires_in;
    dst->n = src->n;
    dst->cap = cap;
    dst->items = items;
    return CART_OK;
}

/* Make room for at least need lines; on failure the cart is untouched. */
static enum cart_status reserve(struct cart *c, size_t need)
{
    size_t cap;
    struct cart_item *items;

    if (need <= c->cap)
        return CART_OK;
    cap = c->cap ? c->cap * 2 : 8;
    while (cap < need)
        cap *= 2;
    if (cap > SIZE_MAX / sizeof(*items))
        return CART_NOMEM;
    items = realloc(c->items, cap * sizeof(*items));
    if (!items)
        return CART_NOMEM;
    c->items = items;
    c->cap = cap;
    return CART_OK;
}

/* Binary search: the index of sku, or where it would go (*found false). */
static size_t search(const struct cart *c, const char *sku, bool *found)
{
    size_t lo = 0, hi = c->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(c->items[mid].sku, sku);

        if (cmp == 0) {
            *found = true;
            return mid;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Insert a new line at index at (room must be reserved already). */
static void insert_at(struct cart *c, size_t at, const char *sku, int64_t qty, int64_t price)
{
    struct cart_item *it;

    memmove(&c->items[at + 1], &c->items[at], (c->n - at) * sizeof(*it));
    it = &c->items[at];
    memset(it, 0, sizeof(*it));
    copy_str(it->sku, sizeof(it->sku), sku);
    it->qty = qty;
    it->unit_price_cents = price;
    c->n++;
}

/* Remove the line at index at. */
static void remove_at(struct cart *c, size_t at)
{
    memmove(&c->items[at], &c->items[at + 1], (c->n - at - 1) * sizeof(c->items[0]));
    c->n--;
}

/* Checks shared by ADD and SET for a line the cart does not hold yet. */
static enum cart_status check_new_line(const struct cart *c, const struct cart_change *chg,
                                       size_t max_items)
{
    if (!chg->has_price)
        return CART_PRICE_REQUIRED;
    if (c->n >= max_items)
        return CART_FULL;
    return CART_OK;
}

/* Create a new line (after check_new_line); allocates before changing. */
static enum cart_status add_line(struct cart *c, size_t at, const struct cart_change *chg,
                                 int64_t qty)
{
    enum cart_status st = reserve(c, c->n + 1);

    if (st != CART_OK)
        return st;
    insert_at(c, at, chg->sku, qty, chg->price);
    return CART_OK;
}

/* ADD: add qty to the line, creating it when absent. */
static enum cart_status apply_add(struct cart *c, const struct cart_change *chg,
                                  size_t max_items)
{
    bool found;
    size_t at;
    enum cart_status st;

    if (chg->qty < 1 || chg->qty > CART_QTY_MAX)
        return CART_QTY_RANGE;
    at = search(c, chg->sku, &found);
    if (found) {
        struct cart_item *it = &c->items[at];

        if (it->qty + chg->qty > CART_QTY_MAX)
            return CART_QTY_RANGE;
        it->qty += chg->qty;
        if (chg->has_price)
            it->unit_price_cents = chg->price;
        return CART_OK;
    }
    st = check_new_line(c, chg, max_items);
    if (st != CART_OK)
        return st;
    return add_line(c, at, chg, chg->qty);
}

/* SET: set the line's qty; 0 removes the line. */
static enum cart_status apply_set(struct cart *c, const struct cart_change *chg,
                                  size_t max_items)
{
    bool found;
    size_t at;
    enum cart_status st;

    if (chg->qty < 0 || chg->qty > CART_QTY_MAX)
        return CART_QTY_RANGE;
    at = search(c, chg->sku, &found);
    if (chg->qty == 0) {
        if (!found)
            return CART_NO_ITEM;
        remove_at(c, at);
        return CART_OK;
    }
    if (found) {
        c->items[at].qty = chg->qty;
        if (chg->has_price)
            c->items[at].unit_price_cents = chg->price;
        return CART_OK;
    }
    st = check_new_line(c, chg, max_items);
    if (st != CART_OK)
        return st;
    return add_line(c, at, chg, chg->qty);
}

/* REMOVE: drop the line; CART_NO_ITEM if absent. */
static enum cart_status apply_remove(struct cart *c, const struct cart_change *chg)
{
    bool found;
    size_t at = search(c, chg->sku, &found);

    if (!found)
        return CART_NO_ITEM;
    remove_at(c, at);
    return CART_OK;
}

/* Apply one change atomically (see cart.h). */
enum cart_status cart_apply(struct cart *c, const struct cart_change *chg, size_t max_items)
{
    enum cart_status st;

    if (!cart_match_ok(&chg->if_match, c->version))
        return CART_CONFLICT;
    if (!cart_sku_valid(chg->sku, strnlen(chg->sku, sizeof(chg->sku))))
        return CART_INVALID_SKU;
    if (chg->has_price && (chg->price < 0 || chg->price > CART_PRICE_MAX))
        return CART_PRICE_RANGE;
    switch (chg->op) {
    case CART_OP_ADD:
        st = apply_add(c, chg, max_items);
        break;
    case CART_OP_SET:
        st = apply_set(c, chg, max_items);
        break;
    case CART_OP_REMOVE:
        st = apply_remove(c, chg);
        break;
    default:
        return CART_QTY_RANGE; /* not an op: refuse, change nothing */
    }
    if (st == CART_OK)
        c->version++;
    return st;
}

/* Append a line while decoding a stored cart; values are range-checked. */
enum cart_status cart_push(struct cart *c, const char *sku, int64_t qty, int64_t price)
{
    enum cart_status st;

    if (!sku || !cart_sku_valid(sku, strnlen(sku, CART_SKU_MAX + 1)))
        return CART_INVALID_SKU;
    if (qty < 1 || qty > CART_QTY_MAX)
        return CART_QTY_RANGE;
    if (price < 0 || price > CART_PRICE_MAX)
        return CART_PRICE_RANGE;
    st = reserve(c, c->n + 1);
    if (st != CART_OK)
        return st;
    insert_at(c, c->n, sku, qty, price);
    return CART_OK;
}

/* qsort comparator: byte order of skus. */
static int item_cmp(const void *a, const void *b)
{
    const struct cart_item *x = a, *y = b;

    return strcmp(x->sku, y->sku);
}

/* Sort lines by sku (byte order). */
void cart_sort(struct cart *c)
{
    if (c->n > 1)
        qsort(c->items, c->n, sizeof(c->items[0]), item_cmp);
}

/* Find a line by sku, or NULL. */
const struct cart_item *cart_find(const struct cart *c, const char *sku)
{
    bool found;
    size_t at;

    if (!sku)
        return NULL;
    at = search(c, sku, &found);
    return found ? &c->items[at] : NULL;
}

/* Sum of qty * unit_price_cents; saturates instead of overflowing. */
int64_t cart_total(const struct cart *c)
{
    int64_t sum = 0;

    for (size_t i = 0; i < c->n; i++) {
        int64_t line;

        if (__builtin_mul_overflow(c->items[i].qty, c->items[i].unit_price_cents, &line) ||
            __builtin_add_overflow(sum, line, &sum))
            return INT64_MAX;
    }
    return sum;
}

/* True when sku matches [A-Za-z0-9._-]{1,CART_SKU_MAX}. */
bool cart_sku_valid(const char *sku, size_t len)
{
    if (!sku || len < 1 || len > CART_SKU_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)sku[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';

        if (!ok)
            return false;
    }
    return true;
}

/* A static snake_case name for a status. */
const char *cart_status_name(enum cart_status st)
{
    switch (st) {
    case CART_OK: return "ok";
    case CART_NO_ITEM: return "no_such_item";
    case CART_FULL: return "cart_full";
    case CART_QTY_RANGE: return "qty_out_of_range";
    case CART_PRICE_RANGE: return "price_out_of_range";
    case CART_PRICE_REQUIRED: return "price_required";
    case CART_INVALID_SKU: return "invalid_sku";
    case CART_CONFLICT: return "version_conflict";
    case CART_NOMEM: return "out_of_memory";
    }
    return "unknown";
}
