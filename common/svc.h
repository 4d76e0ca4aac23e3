/* svc: the process around a service: config, logging, store, HTTP server,
 * signals and graceful shutdown. Both services' main() call svc_main with
 * their own store opener; nothing else differs between them.
 * Not thread-safe: call once from main. */
#ifndef SVC_H
#define SVC_H

#include <stddef.h>

#include "cfg.h"
#include "store.h"

/* Open the service's store from the config; 0 on success, -1 with err set. */
typedef int (*svc_store_open)(const struct cfg *c, struct store *out, char *err, size_t errlen);

/* Run a service until SIGTERM/SIGINT and a drain; returns the exit code. */
int svc_main(enum cfg_kind kind, const char *service, svc_store_open open,
             int argc, char **argv);

#endif
