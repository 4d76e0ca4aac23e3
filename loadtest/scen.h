/* scen: the cart scenario of one virtual user, and its model of the cart.
 *
 * A user creates a cart, then sends a weighted mix of add / set / remove /
 * get requests. The user's model (struct scen_cart) is what the cart must hold
 * if the service is right; scen_expect says what the next response must be,
 * and check.h compares the real response with it. Requests are written as
 * HTTP/1.1 text, either on the cookie routes (/cart, /cart/items/{sku}: the
 * id comes from the cart cookie) or on the id routes (/carts/{id}/...).
 *
 * Thread-safe as far as the caller's structs go: no globals. */
#ifndef SCEN_H
#define SCEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCEN_ID_MAX 72          /* cart ids are at most 64 characters */
#define SCEN_SKU_MAX 24
#define SCEN_LINES_MAX 128      /* the model holds at most this many lines */
#define SCEN_QTY_MAX 9999       /* the API's qty limit per line */
#define SCEN_SKUS_MAX 120       /* the largest sku universe a user draws from */

enum scen_op {
    SCEN_CREATE,    /* POST /carts */
    SCEN_ADD,       /* POST .../items {"sku","qty","unit_price_cents"} */
    SCEN_SET,       /* PUT .../items/{sku} {"qty","unit_price_cents"}; qty 0 removes */
    SCEN_REMOVE,    /* DELETE .../items/{sku} */
    SCEN_GET,       /* GET the cart */
    SCEN_STATIC,    /* GET a fixed path; only the status is checked (200) */
    SCEN_OP_COUNT
};

struct scen_cfg {
    unsigned weight[SCEN_OP_COUNT]; /* ADD, SET, REMOVE, GET are drawn by weight */
    int skus;           /* distinct skus a user draws from, 1..SCEN_SKUS_MAX */
    int max_qty;        /* qty of an add or a set: 1..max_qty (a set may also be 0) */
    int max_items;      /* the service's MAX_ITEMS (distinct lines) */
    bool by_id;         /* /carts/{id}/... paths instead of the cookie routes */
    bool keys;          /* an Idempotency-Key on every change; retry unknown outcomes with it */
    bool is_static;     /* the static scenario: GET static_path only */
    char static_path[256];
};

struct scen_line {
    char sku[SCEN_SKU_MAX];
    int64_t qty;
    int64_t price;
};

/* What one user believes its cart holds. */
struct scen_cart {
    bool exists;        /* created and not (yet) found lost */
    bool unsure;        /* the outcome of the last change is unknown: resync with a GET */
    bool retry;         /* (keys) the outcome of the last change is unknown: send it again */
    int misdirected;    /* 421 answers in a row for this cart */
    char id[SCEN_ID_MAX];
    int64_t version;
    int n;              /* lines, sorted by sku */
    struct scen_line lines[SCEN_LINES_MAX];
};

#define SCEN_KEY_MAX 48

/* The next request of a user. */
struct scen_req {
    enum scen_op op;
    char sku[SCEN_SKU_MAX];
    int64_t qty;
    int64_t price;
    char key[SCEN_KEY_MAX];     /* Idempotency-Key, "" for none */
};

/* What the response to a request must be, given the model. */
struct scen_expect {
    int status;             /* 200, 201, 404, 409, 422 */
    const char *code;       /* the error code when status is not 2xx */
};

/* Defaults: weights add 30, set 20, remove 10, get 40; 12 skus, qty 1..5, 100 lines. */
void scen_cfg_default(struct scen_cfg *cfg);

/* Parse a mix such as "add=3,set=2,remove=1,get=4" into cfg's weights; false on error. */
bool scen_parse_mix(struct scen_cfg *cfg, const char *mix);

/* Forget the cart (a new session: the next request creates one). */
void scen_cart_reset(struct scen_cart *m);

/* A fast PRNG step (xorshift64*); *state must not be 0. */
uint64_t scen_rand(uint64_t *state);

/* The name of sku number i ("SKU-07"). */
void scen_sku_name(int i, char *out, size_t len);

/* The name of an op ("add", ...). */
const char *scen_op_name(enum scen_op op);

/* Choose the user's next request from its model: create when there is no cart,
 * get when unsure, else an op drawn by weight. */
void scen_next(const struct scen_cfg *cfg, const struct scen_cart *m, uint64_t *rng,
               struct scen_req *rq);

/* True for the ops that change a cart (and carry a key when cfg->keys). */
bool scen_is_change(enum scen_op op);

/* Write the HTTP/1.1 request for rq into buf (host is "ip:port", cookie the
 * Cookie header's value or ""); returns its length, or 0 when it does not fit. */
size_t scen_format(const struct scen_cfg *cfg, const struct scen_cart *m,
                   const struct scen_req *rq, const char *host, const char *cookie,
                   char *buf, size_t len);

/* The index of sku's line in m, or -1. */
int scen_find(const struct scen_cart *m, const char *sku);

/* Apply rq to a copy of the model: *after is the cart the service must then hold;
 * returns the status and error code the service must answer with. */
struct scen_expect scen_expect(const struct scen_cfg *cfg, const struct scen_cart *m,
                               const struct scen_req *rq, struct scen_cart *after);

/* Sum of qty x price over the lines. */
int64_t scen_total(const struct scen_cart *m);

#endif
