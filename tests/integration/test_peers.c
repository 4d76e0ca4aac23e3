/* PEERS: a stateful replica asked for another replica's cart answers 421
 * misdirected while that replica lives, and 404 cart_not_found once it is gone. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct harness_proc owner, asked;

/* Stop both replicas (a Criterion .fini). */
static void stop_all(void)
{
    harness_stop(&asked);
    harness_stop(&owner);
}

TestSuite(peers, .fini = stop_all, .timeout = 60);

/* GET path on port: the status, and the error code (or "") into code. */
static long get_code(int port, const char *path, char *code, size_t len)
{
    struct harness_client *c = harness_client_new(port);
    struct harness_resp r;
    cr_assert(c && harness_req(c, "GET", path, NULL, NULL, &r), "GET %s", path);
    json_t *j = json_loads(r.body, 0, NULL);
    const char *k = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    snprintf(code, len, "%s", k ? k : "");
    long st = r.status;
    json_decref(j);
    harness_resp_free(&r);
    harness_client_free(c);
    return st;
}

/* Poll GET path on port until it answers want (at most ms); the final status. */
static long wait_status(int port, const char *path, long want, int ms, char *code, size_t len)
{
    long st = 0;
    for (int waited = 0; waited <= ms; waited += 100) {
        if ((st = get_code(port, path, code, len)) == want)
            break;
        usleep(100 * 1000);
    }
    return st;
}

/* A cart created on the owner: 421 from the asked replica, then 404 once the owner dies. */
Test(peers, dead_owner_means_404)
{
    const char *env_owner[] = { "INSTANCE_ID=owner1", NULL };
    cr_assert(harness_svc_start(&owner, STATEFUL_BIN, 0, env_owner));
    char peers[64];
    snprintf(peers, sizeof peers, "PEERS=127.0.0.1:%d", owner.port);
    const char *env_asked[] = { "INSTANCE_ID=asked1", peers, NULL };
    cr_assert(harness_svc_start(&asked, STATEFUL_BIN, 0, env_asked));

    struct harness_client *c = harness_client_new(owner.port);
    struct harness_resp r;
    cr_assert(harness_req(c, "POST", "/carts", NULL, NULL, &r));
    cr_assert_eq(r.status, 201);
    json_t *j = json_loads(r.body, 0, NULL);
    char path[128], code[64];
    snprintf(path, sizeof path, "/carts/%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    harness_resp_free(&r);
    harness_client_free(c);

    /* Alive owner: 421, both before and after the first probe round. */
    cr_expect_eq(get_code(asked.port, path, code, sizeof code), 421);
    usleep(1300 * 1000);
    cr_expect_eq(get_code(asked.port, path, code, sizeof code), 421, "owner alive: %s", code);
    cr_expect_str_eq(code, "misdirected");
    /* A tag no peer holds: 404 at once. */
    cr_expect_eq(get_code(asked.port, "/carts/nobody9-AAAAAAAAAAAAAAAAAAAAAA", code,
                          sizeof code), 404);
    cr_expect_str_eq(code, "cart_not_found");

    kill(owner.pid, SIGKILL);
    waitpid(owner.pid, NULL, 0);
    owner.pid = 0;
    long st = wait_status(asked.port, path, 404, 5000, code, sizeof code);
    cr_expect_eq(st, 404, "dead owner: %ld %s", st, code);
    cr_expect_str_eq(code, "cart_not_found");
}
