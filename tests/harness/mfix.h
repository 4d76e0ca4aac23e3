/* mfix: the memory store fixture shared by the ownership and TTL unit tests
 * (test_ownership.c, test_mttl.c): one memory store tagged rep1 (TTL 60 s,
 * 100 carts, 10 lines) with no peer, its incarnation set to MFIX_INC, opened
 * in a suite's .init and closed in its .fini. Not thread-safe: one fixture
 * per test process. */
#ifndef MFIX_H
#define MFIX_H

#include "mstore.h"
#include "store.h"

#define MFIX_INC 1111

extern struct store mfix_store;

/* Open the store (a Criterion assertion fails the test); its state. */
struct mstore *mfix_open(void);

/* Close the store. */
void mfix_close(void);

#endif
