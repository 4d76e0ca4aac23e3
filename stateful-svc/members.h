/* members: the replica list of stateful-svc, from the deployment.
 *
 * Either PEERS (host:port,... of every replica), or PEERS_STATEFULSET
 * ("service:port:count"): the pods of this replica's StatefulSet by their
 * stable DNS names <set>-0.<service>:<port> .. <set>-<count-1>.<service>:<port>,
 * where <set> is INSTANCE_ID (the pod name) without its "-<ordinal>". With
 * count set to the most replicas the set may scale to, `kubectl scale`
 * needs no edit: the names of pods that do not exist do not resolve, and
 * those peers just count as dead. Pure functions, thread-safe. */
#ifndef MEMBERS_H
#define MEMBERS_H

#include <stddef.h>

#include "cfg.h"

/* Fill out (max entries) from PEERS or PEERS_STATEFULSET of c; the count,
 * 0 when neither is set, -1 with err set. */
int members_list(const struct cfg *c, struct cfg_peer *out, size_t max, char *err,
                 size_t errlen);

/* Expand a PEERS_STATEFULSET spec for the pod named instance; the count or -1. */
int members_statefulset(const char *instance, const char *spec, struct cfg_peer *out,
                        size_t max, char *err, size_t errlen);

#endif
