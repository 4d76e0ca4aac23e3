/* rdns: name resolution for the replication links, off their loop thread.
 *
 * getaddrinfo may block for seconds (a slow or silent DNS server: timeout x
 * attempts per name and search domain); on the replication loop that would
 * hold every link's acknowledgements back, until the peers count as dead.
 * One thread resolves the names asked for, one at a time in slot order, and
 * calls wake after each answer. Each address is used for one connection
 * attempt (a pod that restarts comes back at a new address). Thread-safe. */
#ifndef RDNS_H
#define RDNS_H

#include <stddef.h>
#include <sys/socket.h>

enum rdns_state { RDNS_IDLE = 0, RDNS_WANT, RDNS_BUSY, RDNS_OK, RDNS_FAIL };

struct rdns;

/* One name to resolve. */
struct rdns_name {
    const char *host;
    int port;
};

/* Start the resolver thread for n names (copied); wake(ud) after each
 * answer, never after rdns_stop. NULL with err set. */
struct rdns *rdns_start(const struct rdns_name *names, size_t n, void (*wake)(void *),
                        void *ud, char *err, size_t errlen);

/* Resolve name slot (again) if it is idle: not asked for already, and its
 * last answer taken. */
void rdns_ask(struct rdns *d, size_t slot);

/* The state of slot; on RDNS_OK the address into sa and *len, and on OK or
 * FAIL the slot becomes idle (the answer is taken). */
enum rdns_state rdns_take(struct rdns *d, size_t slot, struct sockaddr_storage *sa,
                          socklen_t *len);

/* Stop: no wake after this returns. A thread inside a lookup is left to
 * finish it and free what it holds. */
void rdns_stop(struct rdns *d);

#endif
