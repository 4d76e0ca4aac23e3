/* members: the replica list from the deployment. See members.h. */
#include "members.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The StatefulSet name of a pod: its name without the trailing "-<ordinal>". */
static bool members_set_name(const char *instance, char *out, size_t outlen)
{
    const char *dash = strrchr(instance, '-');
    size_t n = dash ? (size_t)(dash - instance) : 0;
    if (!dash || n == 0 || n >= outlen || !dash[1] || strspn(dash + 1, "0123456789") != strlen(dash + 1))
        return false;
    memcpy(out, instance, n);
    out[n] = '\0';
    return true;
}

/* Expand a PEERS_STATEFULSET spec for the pod named instance. */
int members_statefulset(const char *instance, const char *spec, struct cfg_peer *out,
                        size_t max, char *err, size_t errlen)
{
    char set[64], svc[128];
    int port = 0, count = 0, used = 0;
    if (!members_set_name(instance, set, sizeof set)) {
        snprintf(err, errlen, "INSTANCE_ID '%s' is not a StatefulSet pod name (<set>-<ordinal>)",
                 instance);
        return -1;
    }
    if (sscanf(spec, "%127[A-Za-z0-9.-]:%d:%d%n", svc, &port, &count, &used) != 3 ||
        spec[used] != '\0' || port < 1 || port > 65535 || count < 1 || (size_t)count > max) {
        snprintf(err, errlen, "PEERS_STATEFULSET must be service:port:count (count 1..%zu)", max);
        return -1;
    }
    for (int i = 0; i < count; i++) {
        int n = snprintf(out[i].host, sizeof out[i].host, "%s-%d.%s", set, i, svc);
        if (n < 0 || (size_t)n >= sizeof out[i].host) {
            snprintf(err, errlen, "PEERS_STATEFULSET: the host names are too long");
            return -1;
        }
        out[i].port = port;
    }
    return count;
}

/* Fill out from PEERS or PEERS_STATEFULSET; 0 when neither is set. */
int members_list(const struct cfg *c, struct cfg_peer *out, size_t max, char *err,
                 size_t errlen)
{
    if (c->peers[0] && c->peers_statefulset[0]) {
        snprintf(err, errlen, "set PEERS or PEERS_STATEFULSET, not both");
        return -1;
    }
    if (c->peers_statefulset[0])
        return members_statefulset(c->instance_id, c->peers_statefulset, out, max, err, errlen);
    if (c->peers[0])
        return cfg_parse_peers(c->peers, out, max, err, errlen);
    return 0;
}
