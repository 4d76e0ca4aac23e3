/* stateful-svc: the cart API with carts in this process's memory.
 * Needs sticky routing: a cart lives only on the replica that created it. */
#include "store_mem.h"
#include "svc.h"

/* Open the memory store from the config. */
static int open_store(const struct cfg *c, struct store *out, char *err, size_t errlen)
{
    struct store_mem_cfg mc = {
        .ttl = c->ttl, .max_carts = c->max_carts,
        .max_items = (size_t)c->max_items, .sweep_ms = 1000,
    };
    return store_mem_open(&mc, out, err, errlen);
}

int main(int argc, char **argv)
{
    return svc_main(CFG_STATEFUL, "stateful-svc", open_store, argc, argv);
}
