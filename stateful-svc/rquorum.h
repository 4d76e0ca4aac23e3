/* rquorum: the split-brain verdict of sync replication (REPL_MIN_MEMBERS):
 * does this replica reach a majority of the members? The members are the
 * peers whose names resolve, less those that left after draining (rnet
 * counts them); protection is in force in sync mode from min_members of
 * them. The verdict is taken again at every link loss and every tick, and
 * on a refusal (a link may have come up since). Losing the majority is
 * reported once, to the caller, which distrusts what it owns. Thread-safe:
 * the verdict is atomics; rquorum_check may run on any thread. */
#ifndef RQUORUM_H
#define RQUORUM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct rnet;

struct rquorum {
    bool sync;                    /* protection applies to sync mode only */
    int min_members;              /* REPL_MIN_MEMBERS, 0: off */
    atomic_bool majority;         /* the last verdict (true until a check says otherwise) */
    atomic_bool protect;          /* protection in force: sync, and members >= min_members */
    atomic_int members;
    atomic_ullong refused;        /* requests refused without a majority */
};

/* Set up a verdict of "majority" for a mode (sync or not) and REPL_MIN_MEMBERS. */
void rquorum_init(struct rquorum *q, bool sync, int min_members);

/* Take the verdict again from net's links; true when the majority was lost
 * just now (the caller's carts are suspect from here on). */
bool rquorum_check(struct rquorum *q, struct rnet *net);

/* A majority reachable (or no protection)? A false answer is a refusal:
 * counted, after a fresh look at net. */
bool rquorum_majority(struct rquorum *q, struct rnet *net);

#endif
