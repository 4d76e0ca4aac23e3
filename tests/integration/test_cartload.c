/* test_cartload: the cartload binary against real services and a broken fake.
 *
 * Against stateful-svc and stateless-svc (with a real redis-server) a few
 * seconds of the cart scenario must show zero mismatches and exit 0; against
 * a tiny fake server that drops every cart after three reads cartload must
 * report the lost carts and exit 1. Also: the open model's rate, the request
 * limit, a failing threshold, and an unreachable target. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static struct harness_proc redis, svc;
static char out_dir[] = "/tmp/cartload-test.XXXXXX";
static char json_path[300], csv_path[300], spec_path[300];
static json_t *J;

static void setup(void)
{
    cr_assert(mkdtemp(out_dir), "mkdtemp");
    snprintf(json_path, sizeof json_path, "%s/run.json", out_dir);
    snprintf(csv_path, sizeof csv_path, "%s/run.csv", out_dir);
    snprintf(spec_path, sizeof spec_path, "%s/run.spectrum", out_dir);
}

static void teardown(void)
{
    if (svc.pid > 0)
        harness_stop(&svc);
    if (redis.pid > 0)
        harness_stop(&redis);
    json_decref(J);
    J = NULL;
    unlink(json_path);
    unlink(csv_path);
    unlink(spec_path);
    rmdir(out_dir);
}

TestSuite(cartload, .init = setup, .fini = teardown, .timeout = 120);

/* Start cartload with args (NULL-ended) plus -q --json; returns its pid. */
static pid_t run_start(const char *const *args)
{
    const char *argv[40] = {CARTLOAD_BIN, "-q", "--json", json_path};
    int n = 4;
    for (int i = 0; args[i] && n < 38; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    unlink(json_path);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        execv(CARTLOAD_BIN, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Wait for cartload (at most 60 s); returns its exit code (-1: killed) and loads J. */
static int run_wait(pid_t pid)
{
    int status = 0;
    for (int i = 0; i < 600; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            json_decref(J);
            J = json_load_file(json_path, 0, NULL);
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        struct timespec nap = {0, 100000000L};
        nanosleep(&nap, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* Run cartload to the end. */
static int run(const char *const *args)
{
    return run_wait(run_start(args));
}

/* An integer at a path like "kinds", "lost" in J. */
static long long jint(const char *obj, const char *key)
{
    json_t *o = obj ? json_object_get(J, obj) : J;
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_number(v), "no %s.%s in the JSON", obj ? obj : "", key);
    return (long long)json_number_value(v);
}

/* "http://127.0.0.1:port" */
static const char *url(int port)
{
    static char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d", port);
    return u;
}

/* Zero mismatches, errors and timeouts, and some traffic. */
static void expect_clean(int rc, long long min_requests)
{
    cr_assert_not_null(J, "no JSON written");
    cr_expect_eq(rc, 0, "exit code");
    cr_expect_eq(jint("kinds", "lost"), 0);
    cr_expect_eq(jint("kinds", "stale"), 0);
    cr_expect_eq(jint("kinds", "misdirected"), 0);
    cr_expect_eq(jint("kinds", "error"), 0);
    cr_expect_eq(jint("kinds", "timeout"), 0);
    cr_expect_eq(jint("carts", "lost"), 0);
    cr_expect_geq(jint(NULL, "requests"), min_requests);
    cr_expect_eq(jint("kinds", "ok"), jint(NULL, "requests"));
}

Test(cartload, stateful_pair_has_no_mismatch)
{
    cr_assert(harness_svc_start(&svc, STATEFUL_BIN, 0, NULL));
    const char *args[] = {"-u", "8", "-t", "2", "-d", "3", "--csv", csv_path,
                          "--spectrum", spec_path, url(svc.port), NULL};
    int rc = run(args);
    expect_clean(rc, 200);
    cr_expect_eq(jint("carts", "created"), 8, "one cart per user");
    /* The series has one row per second, the spectrum ends at the maximum. */
    FILE *f = fopen(csv_path, "r");
    cr_assert_not_null(f);
    char line[256];
    int rows = 0;
    while (rows < 100 && fgets(line, sizeof line, f))
        rows++;
    fclose(f);
    cr_expect_geq(rows, 4, "header + 3 seconds");
    f = fopen(spec_path, "r");
    cr_assert_not_null(f);
    rows = 0;
    while (rows < 1000 && fgets(line, sizeof line, f))
        rows++;
    fclose(f);
    cr_expect_geq(rows, 20);
    cr_expect(strncmp(line, "100.000000 ", 11) == 0, "last line: %s", line);
}

Test(cartload, stateless_pair_has_no_mismatch)
{
    cr_assert(harness_redis_start(&redis));
    cr_assert(harness_svc_start(&svc, STATELESS_BIN, redis.port, NULL));
    const char *args[] = {"-u", "8", "-d", "3", "--by-id", url(svc.port), NULL};
    expect_clean(run(args), 200);
}

Test(cartload, open_model_keeps_the_rate)
{
    cr_assert(harness_svc_start(&svc, STATEFUL_BIN, 0, NULL));
    const char *args[] = {"-u", "10", "-R", "400", "-d", "2", url(svc.port), NULL};
    expect_clean(run(args), 600);
    cr_expect_leq(jint(NULL, "requests"), 820, "about 400/s for 2 s");
    cr_expect_str_eq(json_string_value(json_object_get(J, "model")), "open");
}

/* A latency (ms) from J: obj is latency_ms or latency_uncorrected_ms. */
static double jms(const char *obj, const char *key)
{
    json_t *v = json_object_get(json_object_get(J, obj), key);
    cr_assert(json_is_number(v), "no %s.%s", obj, key);
    return json_number_value(v);
}

Test(cartload, open_model_counts_a_stall_from_the_intended_time)
{
    /* 200 req/s from 10 users; the service freezes for 1 s. Only the 10 requests in
     * flight wait in the uncorrected view; the corrected view also counts the ~200
     * that were due during the stall (coordinated omission). */
    cr_assert(harness_svc_start(&svc, STATEFUL_BIN, 0, NULL));
    const char *args[] = {"-u", "10", "-R", "200", "-d", "4", "--mix", "get=1", url(svc.port), NULL};
    pid_t pid = run_start(args);
    struct timespec t = {1, 500000000L};
    nanosleep(&t, NULL);
    harness_pause(&svc, true);
    t = (struct timespec){1, 0};
    nanosleep(&t, NULL);
    harness_pause(&svc, false);
    expect_clean(run_wait(pid), 600);
    cr_expect_geq(jms("latency_ms", "p90"), 300.0, "the stall shows in the corrected p90");
    cr_expect_lt(jms("latency_uncorrected_ms", "p90"), 100.0, "but hides from the uncorrected");
    cr_expect_geq(jms("latency_uncorrected_ms", "max"), 800.0);
}

Test(cartload, request_limit_and_p99_threshold)
{
    cr_assert(harness_svc_start(&svc, STATEFUL_BIN, 0, NULL));
    const char *args[] = {"-u", "4", "-n", "300", "-d", "20", url(svc.port), NULL};
    expect_clean(run(args), 300);
    cr_expect_eq(jint(NULL, "requests"), 300);
    const char *strict[] = {"-u", "2", "-n", "50", "--max-p99", "0.0001", url(svc.port), NULL};
    cr_expect_eq(run(strict), 1, "no answer comes within 0.1 us");
    cr_expect(json_is_true(json_object_get(json_object_get(J, "thresholds"), "p99_failed")));
}

Test(cartload, unreachable_target_exits_3)
{
    int port = harness_free_port();
    const char *args[] = {"-u", "2", "-d", "1", url(port), NULL};
    cr_expect_eq(run(args), 3);
    cr_expect_eq(jint("kinds", "ok"), 0);
    cr_expect_gt(jint("kinds", "error"), 0);
}

/* ---- a broken target: every cart is dropped after three reads ---- */

static atomic_bool fake_stop;
static int fake_fd = -1;

/* Answer one request in buf (whole, headers and body) on fd; carts count the reads. */
static void fake_answer(int fd, const char *buf, int *carts, int *reads)
{
    char body[256], resp[768];
    int status = 200;
    const char *reason = "OK", *cookie = "";
    char setck[128] = "";
    if (strncmp(buf, "POST /carts ", 12) == 0) {
        (*carts)++;
        *reads = 0;
        status = 201;
        reason = "Created";
        snprintf(setck, sizeof setck, "Set-Cookie: cart=fake-%d; Path=/\r\n", *carts);
        cookie = setck;
        snprintf(body, sizeof body, "{\"id\":\"fake-%d\",\"version\":0,\"items\":[],"
                 "\"total_cents\":0,\"expires_in\":1800}", *carts);
    } else if (++*reads <= 3) {
        snprintf(body, sizeof body, "{\"id\":\"fake-%d\",\"version\":0,\"items\":[],"
                 "\"total_cents\":0,\"expires_in\":1800}", *carts);
    } else {
        status = 404;
        reason = "Not Found";
        snprintf(body, sizeof body, "{\"error\":{\"code\":\"cart_not_found\",\"message\":\"gone\"}}");
    }
    int n = snprintf(resp, sizeof resp, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "X-Instance: fake\r\n%sContent-Length: %zu\r\n\r\n%s", status, reason,
                     cookie, strlen(body), body);
    cr_assert_eq(write(fd, resp, (size_t)n), n);
}

/* Serve one connection: requests without a body (GET) and POST /carts. */
static void fake_conn(int fd, int *carts, int *reads)
{
    char buf[4096];
    size_t have = 0;
    for (int i = 0; i < 10000 && !atomic_load(&fake_stop); i++) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf + have, sizeof buf - 1 - have);
        if (n <= 0)
            return;
        have += (size_t)n;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end)
            continue;
        char *cl = strcasestr(buf, "content-length:");
        size_t need = (size_t)(end + 4 - buf) + (cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0);
        if (have < need)
            continue;
        fake_answer(fd, buf, carts, reads);
        memmove(buf, buf + need, have - need);
        have -= need;
    }
}

/* The fake server's thread: one connection at a time, until fake_stop. */
static void *fake_main(void *arg)
{
    (void)arg;
    int carts = 0, reads = 0;
    for (int i = 0; i < 600 && !atomic_load(&fake_stop); i++) {
        struct pollfd p = {fake_fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int c = accept(fake_fd, NULL, NULL);
        if (c < 0)
            continue;
        fake_conn(c, &carts, &reads);
        close(c);
    }
    return NULL;
}

Test(cartload, broken_target_loses_carts_and_fails)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    fake_fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fake_fd >= 0 && bind(fake_fd, (struct sockaddr *)&a, sizeof a) == 0);
    cr_assert(listen(fake_fd, 8) == 0 && getsockname(fake_fd, (struct sockaddr *)&a, &alen) == 0);
    pthread_t th;
    atomic_store(&fake_stop, false);
    cr_assert(pthread_create(&th, NULL, fake_main, NULL) == 0);
    /* One user, reads only: create, get x3 (fine), get -> 404: lost; 4 times in 20. */
    const char *args[] = {"-u", "1", "-n", "20", "-d", "10", "--mix", "get=1",
                          url(ntohs(a.sin_port)), NULL};
    int rc = run(args);
    atomic_store(&fake_stop, true);
    pthread_join(th, NULL);
    close(fake_fd);
    cr_assert_not_null(J);
    cr_expect_eq(rc, 1, "mismatches fail the run");
    cr_expect_eq(jint("kinds", "lost"), 4);
    cr_expect_eq(jint("carts", "lost"), 4);
    cr_expect_eq(jint("carts", "created"), 4);
    cr_expect_eq(jint("kinds", "ok"), 16);
    cr_expect(json_is_true(json_object_get(json_object_get(J, "thresholds"), "mismatches_failed")));
}

/* Sleep ms milliseconds. */
static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Redis frozen for 3 s in the middle of a run: changes answered 503 (some of
 * which land when Redis wakes) are retried with their keys, so no answer is
 * stale and every cart read after the run is exactly its user's model. */
Test(cartload, redis_freeze_with_keys_leaves_every_cart_exact)
{
    static const char *const env[] = {"REDIS_TIMEOUT_MS=300", NULL};
    cr_assert(harness_redis_start(&redis));
    cr_assert(harness_svc_start(&svc, STATELESS_BIN, redis.port, env));
    const char *args[] = {"-u", "16", "-t", "2", "-d", "8", "--by-id", "--verify",
                          url(svc.port), NULL};
    pid_t pid = run_start(args);
    nap_ms(2500);
    harness_pause(&redis, true);
    nap_ms(3000);
    harness_pause(&redis, false);
    int rc = run_wait(pid);
    cr_assert_not_null(J, "no JSON written");
    cr_expect_eq(rc, 0, "exit code (mismatches)");
    cr_expect_eq(jint("kinds", "stale"), 0);
    cr_expect_eq(jint("kinds", "lost"), 0);
    cr_expect_gt(jint("kinds", "error"), 0, "the freeze was felt (503s)");
    long long outage = jint(NULL, "longest_outage_ms");
    cr_expect(outage >= 2000 && outage <= 6000,
              "a session's longest outage spans the 3 s freeze: %lld ms", outage);
    cr_expect_gt(jint("idempotency", "retries"), 0);
    cr_expect_eq(jint("final", "differ"), 0);
    cr_expect_eq(jint("final", "exact"), 16, "every cart read after the run is its model");
}
