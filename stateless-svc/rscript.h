/* rscript: the Redis script protocol of the cart store (used by store_redis):
 * the Lua texts, and the keys and ARGV each script takes (rreply.h decodes
 * the replies).
 *
 * Every script works on two keys: "cart:{<id>}", a hash with field "v"
 * (version) and one field "s:<sku>" = "<qty> <price>" per line, and
 * "idem:{<id>}", the cart's idempotency record (a hash: "k:<key>" =
 * "<fingerprint> <the cart's fields after that change>" per remembered key,
 * and a ring "r:<version mod IDEM_KEEP>" = "k:<key>" naming the entry of the
 * change that made each version: the keys of the last IDEM_KEEP changes).
 * Both keys are made, renewed and deleted together, so every cart is two keys.
 * Scripts reply {"ok", <the cart's fields, joined by newlines, or {}>},
 * {"rej", <reason>}, or for a remembered key {"replay", <the fields as they
 * were then>}. The script texts are constants and no function keeps state:
 * thread-safe. */
#ifndef RSCRIPT_H
#define RSCRIPT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* The scripts; each one's ARGV is listed next to its text in rscript.c. */
enum rscript_id { RSCRIPT_CREATE, RSCRIPT_GET, RSCRIPT_CHANGE, RSCRIPT_DEL, RSCRIPT_COUNT };

#define RSCRIPT_MAX_ARGS 13                /* the most ARGV any script takes */
#define RSCRIPT_NKEYS 2                    /* KEYS of every script */
#define RSCRIPT_KEY_MAX (CART_ID_MAX + 8)  /* "cart:{" id "}" */

/* The KEYS of a script: the cart and its idempotency record. */
struct rscript_keys {
    char cart[RSCRIPT_KEY_MAX + 1];
    char idem[RSCRIPT_KEY_MAX + 1];
};

/* One script call's ARGV as strings; v points into the struct (or into the
 * change it was built from), so fill it in place and do not copy it. */
struct rscript_args {
    int n;
    const char *v[RSCRIPT_MAX_ARGS];
    char num[RSCRIPT_MAX_ARGS][24];
    char match[CART_MATCH_MAX * 21 + 2];   /* If-Match versions: ",3,5," */
};

/* The Lua text of script id; NULL for an id out of range. */
const char *rscript_text(enum rscript_id id);

/* Build "cart:{id}" and "idem:{id}" into k; false when the id cannot name a cart. */
bool rscript_keys(const char *id, struct rscript_keys *k);

/* ARGV of get: the TTL in seconds. */
void rscript_args_ttl(struct rscript_args *a, int ttl);

/* ARGV of create: the TTL and the idempotency key (ik may be NULL; it must
 * outlive a), its fingerprint and IDEM_KEEP. */
void rscript_args_create(struct rscript_args *a, int ttl, const struct store_idem *ik);

/* ARGV of del: as create, then the If-Match versions (see rscript.c). */
void rscript_args_del(struct rscript_args *a, int ttl, const struct cart_match *if_match,
                      const struct store_idem *ik);

/* ARGV of change (chg and ik must outlive a): as create, then the change and
 * the limits of cart.h. CART_OK, or the refusal that needs no Redis:
 * CART_QTY_RANGE for an unknown op (as cart_apply), CART_INVALID_SKU. */
enum cart_status rscript_args_change(struct rscript_args *a, const struct cart_change *chg,
                                     int ttl, size_t max_items, const struct store_idem *ik);

#endif
