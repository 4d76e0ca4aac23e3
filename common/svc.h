/* svc: the process around a service: config, logging, store, HTTP server,
 * signals and graceful shutdown. Both services' main() call svc_main with
 * their own svc_def (name, defaults, store opener, cart-id tag); nothing
 * else differs between them.
 * Not thread-safe: call once from main. */
#ifndef SVC_H
#define SVC_H

#include <stddef.h>

#include "cfg.h"
#include "store.h"

/* Open the service's store from the config; 0 on success, -1 with err set. */
typedef int (*svc_store_open)(const struct cfg *c, struct store *out, char *err, size_t errlen);

/* What a service's main passes in; common knows nothing else of it. */
struct svc_def {
    struct cfg_profile cfg;       /* name (also the "service" of /info and logs), defaults */
    svc_store_open open;          /* opens the store from the config */
    /* Optional: the tag in front of this instance's cart ids, into out. */
    void (*id_tag)(const struct cfg *c, char *out, size_t outlen);
};

/* Run a service until SIGTERM/SIGINT and a drain; returns the exit code. */
int svc_main(const struct svc_def *def, int argc, char **argv);

#endif
