/* stateful-svc: the cart API with carts in this process's memory, each
 * replicated to a backup replica (PEERS, REPLICATION). */
#include "id.h"
#include "store_mem.h"
#include "svc.h"

/* The cart-id tag of this instance, from INSTANCE_ID. */
static void instance_tag(const struct cfg *c, char *out, size_t outlen)
{
    id_tag_from_instance(c->instance_id, out, outlen);
}

/* Open the memory store from the config and start replication. */
static int open_store(const struct cfg *c, struct store *out, char *err, size_t errlen)
{
    char tag[ID_TAG_MAX + 1];
    instance_tag(c, tag, sizeof tag);
    struct store_mem_cfg mc = {
        .ttl = c->ttl, .max_carts = c->max_carts, .max_memory = c->max_memory,
        .max_items = (size_t)c->max_items, .sweep_ms = 1000, .tag = tag,
    };
    if (store_mem_open(&mc, out, err, errlen) != 0)
        return -1;
    if (store_mem_replicate(out, c, err, errlen) != 0) {
        out->ops->destroy(out->self);
        return -1;
    }
    return 0;
}

/* Run stateful-svc. */
int main(int argc, char **argv)
{
    static const struct svc_def def = {
        .cfg = {.name = "stateful-svc", .default_port = 8080, .groups = CFG_G_MEMORY,
                .summary = "The shopping-cart API, carts kept in process memory, each with a "
                           "backup copy on a peer\n(route carts stickily)."},
        .open = open_store,
        .id_tag = instance_tag,
    };
    return svc_main(&def, argc, argv);
}
