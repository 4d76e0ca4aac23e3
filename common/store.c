/* store: names of the store statuses and a synchronous runner of store_req
 * (the ops live in each service). */
#include "store.h"

/* A static snake_case name for a status. */
const char *store_status_name(enum store_status st)
{
    switch (st) {
    case STORE_OK: return "ok";
    case STORE_NOT_FOUND: return "cart_not_found";
    case STORE_EXISTS: return "cart_exists";
    case STORE_REJECTED: return "rejected";
    case STORE_CAPACITY: return "capacity";
    case STORE_UNAVAILABLE: return "store_unavailable";
    case STORE_ERROR: return "store_error";
    }
    return "unknown";
}

/* Run req synchronously through the store's plain ops. */
void store_exec(const struct store *s, struct store_req *r)
{
    void *self = s->self;
    r->cst = CART_OK;
    r->err[0] = '\0';
    switch (r->op) {
    case STORE_OP_CREATE:
        r->st = s->ops->create(self, r->id, r->out, r->err, sizeof r->err);
        break;
    case STORE_OP_GET:
        r->st = s->ops->get(self, r->id, r->out, r->err, sizeof r->err);
        break;
    case STORE_OP_CHANGE:
        r->st = s->ops->change(self, r->id, &r->chg, r->out, &r->cst, r->err, sizeof r->err);
        break;
    case STORE_OP_DEL:
        r->st = s->ops->del(self, r->id, r->if_match, &r->cst, r->err, sizeof r->err);
        break;
    default:
        r->st = STORE_ERROR;
    }
}
