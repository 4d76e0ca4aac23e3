/* Unit tests of members: the replica list from PEERS or from a StatefulSet's
 * pod names (PEERS_STATEFULSET). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "members.h"

Test(members, statefulset_names_every_pod)
{
    struct cfg_peer p[CFG_MAX_PEERS];
    char err[160];
    int n = members_statefulset("stateful-svc-2", "stateful-svc-headless:8080:4", p,
                                CFG_MAX_PEERS, err, sizeof err);
    cr_assert_eq(n, 4, "%s", err);
    cr_expect_str_eq(p[0].host, "stateful-svc-0.stateful-svc-headless");
    cr_expect_str_eq(p[3].host, "stateful-svc-3.stateful-svc-headless");
    cr_expect_eq(p[3].port, 8080);
}

Test(members, bad_specs_and_names)
{
    struct cfg_peer p[CFG_MAX_PEERS];
    char err[160];
    cr_expect_eq(members_statefulset("web", "svc:8080:3", p, CFG_MAX_PEERS, err, sizeof err), -1,
                 "a pod name without an ordinal");
    cr_expect(strstr(err, "INSTANCE_ID"), "%s", err);
    cr_expect_eq(members_statefulset("web-x", "svc:8080:3", p, CFG_MAX_PEERS, err, sizeof err), -1);
    const char *bad[] = {"svc", "svc:8080", "svc:0:3", "svc:8080:0", "svc:8080:65", "svc:8080:3x",
                         "s/v:8080:3", NULL};
    for (int i = 0; bad[i]; i++)
        cr_expect_eq(members_statefulset("web-0", bad[i], p, CFG_MAX_PEERS, err, sizeof err), -1,
                     "%s", bad[i]);
}

Test(members, peers_or_statefulset_not_both)
{
    struct cfg c;
    struct cfg_peer p[CFG_MAX_PEERS];
    char err[160];
    memset(&c, 0, sizeof c);
    snprintf(c.instance_id, sizeof c.instance_id, "set-1");
    cr_expect_eq(members_list(&c, p, CFG_MAX_PEERS, err, sizeof err), 0, "neither: no peers");
    snprintf(c.peers, sizeof c.peers, "10.0.0.1:8080,10.0.0.2:8080");
    cr_expect_eq(members_list(&c, p, CFG_MAX_PEERS, err, sizeof err), 2);
    snprintf(c.peers_statefulset, sizeof c.peers_statefulset, "h:8080:3");
    cr_expect_eq(members_list(&c, p, CFG_MAX_PEERS, err, sizeof err), -1, "both");
    c.peers[0] = '\0';
    cr_expect_eq(members_list(&c, p, CFG_MAX_PEERS, err, sizeof err), 3);
    cr_expect_str_eq(p[2].host, "set-2.h");
}
