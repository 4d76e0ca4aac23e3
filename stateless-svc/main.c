/* stateless-svc: the cart API with carts in Redis.
 * Any replica serves any request: no routing affinity needed. */
#include "store_redis.h"
#include "svc.h"

#include <string.h>

/* Open the Redis store from the config (reading REDIS_PASSWORD_FILE first). */
static int open_store(const struct cfg *c, struct store *out, char *err, size_t errlen)
{
    char password[128] = "";
    struct store_redis_cfg rc = {
        .url = c->redis_url, .timeout_ms = c->redis_timeout_ms,
        .ttl = c->ttl, .max_items = (size_t)c->max_items,
        .sentinels = c->redis_sentinels, .master = c->redis_master_name,
        .password = password, .wait_replicas = c->redis_wait_replicas,
    };
    if (c->redis_password_file[0] &&
        cfg_read_password(c->redis_password_file, password, sizeof password, err, errlen) != 0)
        return -1;
    int rc_open = store_redis_open(&rc, out, err, errlen);
    memset(password, 0, sizeof password);
    return rc_open;
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
