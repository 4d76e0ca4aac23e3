/* stateless-svc: the cart API with carts in Redis.
 * Any replica serves any request: no routing affinity needed. */
#include "store_redis.h"
#include "svc.h"

/* Open the Redis store from the config. */
static int open_store(const struct cfg *c, struct store *out, char *err, size_t errlen)
{
    struct store_redis_cfg rc = {
        .url = c->redis_url, .timeout_ms = c->redis_timeout_ms,
        .ttl = c->ttl, .max_items = (size_t)c->max_items,
    };
    return store_redis_open(&rc, out, err, errlen);
}

int main(int argc, char **argv)
{
    static const struct svc_def def = {
        .cfg = {.name = "stateless-svc", .default_port = 8081, .groups = CFG_G_REDIS,
                .summary = "The shopping-cart API, carts kept in Redis (any instance serves any cart)."},
        .open = open_store,
    };
    return svc_main(&def, argc, argv);
}
