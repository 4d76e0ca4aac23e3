/* mfix: the memory store fixture of the ownership tests. See mfix.h. */
#include "mfix.h"

#include <criterion/criterion.h>

#include "store_mem.h"

struct store mfix_store;

/* Open a memory store tagged rep1 with no peer. */
struct mstore *mfix_open(void)
{
    struct store_mem_cfg c = {.ttl = 60, .max_carts = 100, .max_items = 10, .tag = "rep1"};
    char err[128];
    cr_assert_eq(store_mem_open(&c, &mfix_store, err, sizeof err), 0, "%s", err);
    struct mstore *m = mfix_store.self;
    m->inc = MFIX_INC;
    return m;
}

/* Close it. */
void mfix_close(void)
{
    mfix_store.ops->destroy(mfix_store.self);
}
