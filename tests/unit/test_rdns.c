/* Unit tests of rdns: the replication links' names resolved on a thread of
 * their own (numeric addresses here; missing names and a silent DNS server
 * are covered by tests/integration/statefulset-scale). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <time.h>

#include "rdns.h"

static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cv = PTHREAD_COND_INITIALIZER;
static int wakes;

/* The resolver's wake-up: count it. */
static void on_wake(void *ud)
{
    (void)ud;
    pthread_mutex_lock(&wake_mu);
    wakes++;
    pthread_cond_broadcast(&wake_cv);
    pthread_mutex_unlock(&wake_mu);
}

/* Wait (at most 5 s) until at least n wake-ups came. */
static bool wait_wakes(int n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 5;
    pthread_mutex_lock(&wake_mu);
    int rc = 0;
    while (wakes < n && rc == 0)
        rc = pthread_cond_timedwait(&wake_cv, &wake_mu, &until);
    bool ok = wakes >= n;
    pthread_mutex_unlock(&wake_mu);
    return ok;
}

Test(rdns, resolves_each_name_once_per_ask)
{
    const struct rdns_name names[] = {{"127.0.0.21", 9080}, {"::1", 9081}};
    char err[128] = "";
    struct rdns *d = rdns_start(names, 2, on_wake, NULL, err, sizeof err);
    cr_assert(d, "%s", err);
    struct sockaddr_storage sa;
    socklen_t len = 0;
    cr_expect_eq(rdns_take(d, 0, &sa, &len), RDNS_IDLE, "nothing is resolved unasked");
    cr_expect_eq(rdns_take(d, 2, &sa, &len), RDNS_FAIL, "a slot out of range");
    rdns_ask(d, 0);
    rdns_ask(d, 0); /* asked twice: one answer */
    rdns_ask(d, 1);
    cr_assert(wait_wakes(2), "the resolver answered %d of 2 names", wakes);
    cr_assert_eq(rdns_take(d, 0, &sa, &len), RDNS_OK);
    cr_assert_eq(sa.ss_family, AF_INET);
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)&sa;
    cr_expect_eq(ntohs(a4->sin_port), 9080);
    cr_expect_eq(ntohl(a4->sin_addr.s_addr), 0x7f000015u);
    cr_expect_eq(rdns_take(d, 0, &sa, &len), RDNS_IDLE, "an answer is taken once");
    cr_assert_eq(rdns_take(d, 1, &sa, &len), RDNS_OK);
    cr_expect_eq(sa.ss_family, AF_INET6);
    cr_expect_eq(ntohs(((const struct sockaddr_in6 *)&sa)->sin6_port), 9081);
    rdns_ask(d, 0); /* asked again: resolved again (a pod may come back elsewhere) */
    cr_assert(wait_wakes(3));
    cr_expect_eq(rdns_take(d, 0, &sa, &len), RDNS_OK);
    rdns_stop(d);
}
