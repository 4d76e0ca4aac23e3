/* rquorum: the split-brain verdict of sync replication. See rquorum.h. */
#include "rquorum.h"

#include "log.h"
#include "rnet.h"

/* Set up a verdict of "majority". */
void rquorum_init(struct rquorum *q, bool sync, int min_members)
{
    q->sync = sync;
    q->min_members = min_members;
    atomic_init(&q->majority, true);
    atomic_init(&q->protect, false);
    atomic_init(&q->members, 0);
    atomic_init(&q->refused, 0);
}

/* Count the members and the live ones, and say whether more than half are
 * reachable; a change of verdict is logged, a loss reported to the caller. */
bool rquorum_check(struct rquorum *q, struct rnet *net)
{
    int members, live;
    rnet_members(net, &members, &live);
    bool protect = q->sync && q->min_members > 0 && members >= q->min_members;
    bool maj = !protect || 2 * live > members;
    atomic_store(&q->members, members);
    atomic_store(&q->protect, protect);
    bool was = atomic_exchange(&q->majority, maj);
    if (was && !maj)
        log_msg(LOG_WARN, "no_quorum", "%d of %d members reachable: changes refused", live,
                members);
    else if (!was && maj)
        log_msg(LOG_INFO, "quorum", "%d of %d members reachable again", live, members);
    return was && !maj;
}

/* A majority reachable? A refusal is counted after a fresh look. */
bool rquorum_majority(struct rquorum *q, struct rnet *net)
{
    if (atomic_load(&q->majority))
        return true;
    rquorum_check(q, net);
    if (atomic_load(&q->majority))
        return true;
    atomic_fetch_add(&q->refused, 1);
    return false;
}
