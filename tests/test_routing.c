/* Routing through HAProxy: deploy/local/cartpair-local starts redis, 3+3 replicas and
 * HAProxy on free loopback ports in a temp run dir; sessions with their own cookie jars
 * check stickiness (stateful), spreading (stateless), and what a SIGKILL loses. */
#include "harness.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define NREP 3          /* replicas per service */
#define NSESS 200       /* sessions per test */
#define NCHG 10         /* changes per session */
#define NTHR 4          /* client threads */
#define NSKU 6          /* skus a session picks from */
#define NENV 256

struct topo {
    char dir[128];                 /* RUN_DIR */
    char script[1024];             /* cartpair-local */
    char bin_dir[1024];
    int fe[2], stats, redis, base[2]; /* [0] stateful, [1] stateless */
    char envbuf[12][1100];
    char *envp[NENV];
    pid_t reaper;                  /* runs 'down' if this test process dies */
};
static struct topo T;

/* Milliseconds on a monotonic clock. */
static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep ms milliseconds. */
static void nap(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* True when nothing is bound to 127.0.0.1:port. */
static bool port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* A free port p with p+1..p+n-1 free too, distinct from the ports in taken[0..ntaken). */
static int free_run(int n, const int *taken, int ntaken)
{
    for (int tries = 0; tries < 200; tries++) {
        int p = harness_free_port(), ok = p > 0 && p + n < 65536;
        for (int i = 0; ok && i < n; i++) {
            ok = i == 0 || port_free(p + i);
            for (int j = 0; ok && j < ntaken; j++)
                ok = taken[j] < p || taken[j] >= p + n;
        }
        if (ok)
            return p;
    }
    return -1;
}

/* Build the script's environment: ours (RUN_DIR, ports...) then the inherited rest. */
static void build_env(void)
{
    int n = 0, k = 0;
    const char *names[] = { "RUN_DIR", "BIN_DIR", "STATEFUL_PORT", "STATELESS_PORT",
                            "STATS_PORT", "REDIS_PORT", "STATEFUL_BASE_PORT",
                            "STATELESS_BASE_PORT", "REPLICAS", "LOG_LEVEL", "THREADS" };
    snprintf(T.envbuf[k++], 1100, "RUN_DIR=%s", T.dir);
    snprintf(T.envbuf[k++], 1100, "BIN_DIR=%s", T.bin_dir);
    snprintf(T.envbuf[k++], 1100, "STATEFUL_PORT=%d", T.fe[0]);
    snprintf(T.envbuf[k++], 1100, "STATELESS_PORT=%d", T.fe[1]);
    snprintf(T.envbuf[k++], 1100, "STATS_PORT=%d", T.stats);
    snprintf(T.envbuf[k++], 1100, "REDIS_PORT=%d", T.redis);
    snprintf(T.envbuf[k++], 1100, "STATEFUL_BASE_PORT=%d", T.base[0]);
    snprintf(T.envbuf[k++], 1100, "STATELESS_BASE_PORT=%d", T.base[1]);
    snprintf(T.envbuf[k++], 1100, "REPLICAS=%d", NREP);
    snprintf(T.envbuf[k++], 1100, "LOG_LEVEL=warn");
    snprintf(T.envbuf[k++], 1100, "THREADS=2");
    for (int i = 0; i < k; i++)
        T.envp[n++] = T.envbuf[i];
    for (int i = 0; environ[i] && n < NENV - 1; i++) {
        bool ours = false;
        for (size_t j = 0; j < sizeof names / sizeof *names; j++) {
            size_t len = strlen(names[j]);
            ours |= strncmp(environ[i], names[j], len) == 0 && environ[i][len] == '=';
        }
        if (!ours)
            T.envp[n++] = environ[i];
    }
    T.envp[n] = NULL;
}

/* In a forked child: close every inherited descriptor above stderr. */
static void close_fds(void)
{
    long max = sysconf(_SC_OPEN_MAX);
    for (long i = 3; i < (max > 0 && max < 65536 ? max : 65536); i++)
        close((int)i);
}

/* In a forked child: output to the run dir's log, no inherited fds, exec the script. */
static void exec_script(const char *cmd, const char *arg)
{
    close_fds();
    char log[300];
    snprintf(log, sizeof log, "%s/cartpair-local.out", T.dir);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int devnull = open("/dev/null", O_RDONLY);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
    }
    if (devnull >= 0)
        dup2(devnull, STDIN_FILENO);
    if (fd > 2)
        close(fd);
    if (devnull > 2)
        close(devnull);
    char *argv[] = { "bash", T.script, (char *)cmd, (char *)arg, NULL };
    execvpe("bash", argv, T.envp);
    _exit(127);
}

/* Run "cartpair-local cmd [arg]", bounded by 30 s; its exit code, -1 on a hang. */
static int script(const char *cmd, const char *arg)
{
    pid_t pid = fork();
    if (pid == 0)
        exec_script(cmd, arg);
    if (pid < 0)
        return -1;
    int st = 0;
    for (long long end = now_ms() + 30000; now_ms() < end; nap(10))
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* A child that runs 'down' when this process dies without tearing down (crash, timeout). */
static void start_reaper(void)
{
    pid_t parent = getpid();
    T.reaper = fork();
    if (T.reaper != 0)
        return;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    close_fds();
    if (getppid() == parent) {
        int sig;
        sigwait(&set, &sig);
    }
    exec_script("down", NULL);
}

/* Print the tail of one file of the run dir to stderr. */
static void show_log(const char *name)
{
    char path[300], cmd[400];
    snprintf(path, sizeof path, "%s/%s", T.dir, name);
    snprintf(cmd, sizeof cmd, "tail -n 20 '%s' >&2", path);
    if (system(cmd) != 0)
        fprintf(stderr, "(no %s)\n", path);
}

/* .init: pick ports, start the topology detached, arm the reaper. */
static void topo_up(void)
{
    memset(&T, 0, sizeof T);
    snprintf(T.dir, sizeof T.dir, "/tmp/cartpair-routing-XXXXXX");
    cr_assert_not_null(mkdtemp(T.dir));
    const char *over = getenv("CARTPAIR_LOCAL");
    char src[1024];
    snprintf(src, sizeof src, "%s", __FILE__);
    snprintf(T.script, sizeof T.script, "%s/../deploy/local/cartpair-local", dirname(src));
    if (over && *over)
        snprintf(T.script, sizeof T.script, "%s", over);
    char bin[1024];
    snprintf(bin, sizeof bin, "%s", STATEFUL_BIN);
    snprintf(T.bin_dir, sizeof T.bin_dir, "%s", dirname(bin));
    cr_assert_eq(access(T.script, R_OK), 0, "no script at %s", T.script);
    int taken[12] = { 0 }, nt = 0;
    for (int i = 0; i < 2; i++) {
        T.base[i] = free_run(NREP, taken, nt);
        taken[nt++] = T.base[i];
        taken[nt++] = T.base[i] + 1;
        taken[nt++] = T.base[i] + 2;
    }
    int *single[] = { &T.fe[0], &T.fe[1], &T.stats, &T.redis };
    for (int i = 0; i < 4; i++) {
        *single[i] = free_run(1, taken, nt);
        taken[nt++] = *single[i];
    }
    build_env();
    start_reaper();
    int rc = script("up", "-d");
    if (rc != 0) {
        show_log("cartpair-local.out");
        script("down", NULL);
    }
    cr_assert_eq(rc, 0, "cartpair-local up failed (%d); run dir %s", rc, T.dir);
}

/* .fini: stop everything (even after a failed assertion) and the reaper. */
static void topo_down(void)
{
    int rc = script("down", NULL);
    if (T.reaper > 0) {
        kill(T.reaper, SIGKILL);
        waitpid(T.reaper, NULL, 0);
    }
    if (rc != 0)
        show_log("cartpair-local.out");
    cr_expect_eq(rc, 0, "cartpair-local down failed (%d); run dir %s", rc, T.dir);
}

/* ---- sessions ------------------------------------------------------------------ */

struct sess {
    struct harness_client *c;
    char id[80];
    int rep;                  /* replica (0-based) that answered the create */
    int qty[NSKU];            /* the expected cart: quantity per sku, 0 = no line */
    long version;             /* the expected version */
    unsigned rnd;
    bool sticky;              /* every response came from rep */
    bool broken;              /* a change failed: the session stops changing */
    long fail_status;         /* status of that failure (0: transport error) */
    bool resent;              /* an idempotent change was sent twice */
    unsigned seen;            /* bit per replica that answered */
};

struct run {
    struct sess s[NSESS];
    int fe;                   /* 0 stateful frontend, 1 stateless */
    bool idempotent;          /* changes are PUTs with a price: safe to send again */
    int from, to, pause;      /* rounds [from, to); wait for go before round pause */
    atomic_int progress;      /* requests answered */
    atomic_bool go, marked_down;
    atomic_int fails_before_down, fails_after_down, per_rep[NREP];
};

struct worker {
    struct run *r;
    int t;
};

/* Price of sku k. */
static int price(int k)
{
    return 100 + 37 * k;
}

/* xorshift32 */
static unsigned rnd_next(unsigned *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

/* Replica index from an X-Instance such as "stateless-2"; -1 when not one of ours. */
static int rep_of(const char *inst)
{
    const char *dash = strrchr(inst, '-');
    int n = dash ? atoi(dash + 1) : 0;
    return n >= 1 && n <= NREP ? n - 1 : -1;
}

/* One request of a session; records who answered. Returns the status, 0 on transport error. */
static long sess_send(struct run *r, struct sess *s, const char *m, const char *path,
                      const char *body, json_t **out)
{
    struct harness_resp resp;
    char inst[64] = "";
    if (out)
        *out = NULL;
    if (!harness_req(s->c, m, path, body, NULL, &resp))
        return 0;
    atomic_fetch_add(&r->progress, 1);
    int rep = harness_header(&resp, "X-Instance", inst, sizeof inst) ? rep_of(inst) : -1;
    if (rep >= 0) {
        atomic_fetch_add(&r->per_rep[rep], 1);
        s->seen |= 1u << rep;
    }
    if (m[0] == 'P' && !strcmp(path, "/carts"))
        s->rep = rep;
    else if (rep != s->rep)
        s->sticky = false;
    if (out)
        *out = json_loads(resp.body, 0, NULL);
    long st = resp.status;
    harness_resp_free(&resp);
    return st;
}

/* Round 0 of a session: a new client (own cookie jar) and POST /carts. */
static void sess_create(struct run *r, struct sess *s, int i)
{
    memset(s, 0, sizeof *s);
    s->rnd = 2654435761u * (unsigned)(i + 1) + (unsigned)r->fe;
    s->sticky = true;
    s->rep = -1;
    s->c = harness_client_new(T.fe[r->fe]);
    json_t *j = NULL;
    long st = s->c ? sess_send(r, s, "POST", "/carts", NULL, &j) : 0;
    const char *id = json_string_value(json_object_get(j, "id"));
    if (st == 201 && id) {
        snprintf(s->id, sizeof s->id, "%s", id);
    } else {
        s->broken = true;
        s->fail_status = st;
    }
    json_decref(j);
}

/* Pick the next change of a session: method, path, body, and the quantity it leaves. */
static void sess_plan(struct run *r, struct sess *s, const char **m, char *path, char *body,
                      int *k, int *qty)
{
    *k = (int)(rnd_next(&s->rnd) % NSKU);
    int q = 1 + (int)(rnd_next(&s->rnd) % 20), op = (int)(rnd_next(&s->rnd) % 3);
    snprintf(path, 64, "/cart/items/SKU-%d", *k);
    if (r->idempotent || (s->qty[*k] > 0 && op == 1)) {
        *m = "PUT";
        snprintf(body, 96, "{\"qty\": %d, \"unit_price_cents\": %d}", q, price(*k));
        *qty = q;
    } else if (s->qty[*k] > 0 && op == 2) {
        *m = "DELETE";
        body[0] = '\0';
        *qty = 0;
    } else {
        *m = "POST";
        snprintf(path, 64, "/cart/items");
        snprintf(body, 96, "{\"sku\": \"SKU-%d\", \"qty\": %d, \"unit_price_cents\": %d}",
                 *k, q, price(*k));
        *qty = s->qty[*k] + q;
    }
}

/* One change through the proxy. An idempotent change that failed for want of a
 * replica (transport error, 5xx) is sent again, bounded; anything else breaks the session. */
static void sess_change(struct run *r, struct sess *s)
{
    const char *m;
    char path[64], body[96];
    int k, qty;
    sess_plan(r, s, &m, path, body, &k, &qty);
    for (int attempt = 0; attempt < 50; attempt++) {
        bool after = atomic_load(&r->marked_down);
        long st = sess_send(r, s, m, path, body[0] ? body : NULL, NULL);
        if (st == 200) {
            s->qty[k] = qty;
            s->version++;
            return;
        }
        atomic_fetch_add(after ? &r->fails_after_down : &r->fails_before_down, 1);
        if (!r->idempotent || (st != 0 && st < 500)) {
            s->broken = true;
            s->fail_status = st;
            return;
        }
        s->resent = true;
        nap(20);
    }
    s->broken = true;
}

/* Client thread: its share of the sessions, round by round. */
static void *worker_main(void *ud)
{
    struct worker *w = ud;
    struct run *r = w->r;
    for (int round = r->from; round < r->to; round++) {
        for (long long end = now_ms() + 20000; round == r->pause && now_ms() < end; nap(5))
            if (atomic_load(&r->go))
                break;
        for (int i = w->t; i < NSESS; i += NTHR) {
            if (round == 0)
                sess_create(r, &r->s[i], i);
            else if (!r->s[i].broken)
                sess_change(r, &r->s[i]);
        }
    }
    return NULL;
}

/* Run rounds [from, to) on NTHR threads; with kill_name, SIGKILL it (cartpair-local kill)
 * once a round's worth of requests is done, while the threads go on after round pause. */
static void run_rounds(struct run *r, int from, int to, int pause, const char *kill_name)
{
    pthread_t th[NTHR];
    struct worker w[NTHR];
    r->from = from;
    r->to = to;
    r->pause = kill_name ? pause : -1;
    atomic_store(&r->go, false);
    int start = atomic_load(&r->progress);
    for (int t = 0; t < NTHR; t++) {
        w[t] = (struct worker){ r, t };
        cr_assert_eq(pthread_create(&th[t], NULL, worker_main, &w[t]), 0);
    }
    if (kill_name) {
        for (long long end = now_ms() + 20000; now_ms() < end; nap(2))
            if (atomic_load(&r->progress) - start >= NSESS / 2)
                break;
        int rc = script("kill", kill_name);
        atomic_store(&r->go, true);
        cr_expect_eq(rc, 0, "cartpair-local kill %s failed", kill_name);
    }
    for (int t = 0; t < NTHR; t++)
        pthread_join(th[t], NULL);
}

/* ---- checks ------------------------------------------------------------------- */

/* True when j is exactly the session's expected cart (version: at least, if resent). */
static bool cart_matches(const struct sess *s, json_t *j)
{
    json_t *items = json_object_get(j, "items"), *it;
    const char *id = json_string_value(json_object_get(j, "id"));
    long long version = json_integer_value(json_object_get(j, "version")), total = 0;
    if (!id || strcmp(id, s->id) || !json_is_array(items))
        return false;
    if (s->resent ? version < s->version : version != s->version)
        return false;
    size_t want = 0, i;
    for (int k = 0; k < NSKU; k++)
        if (s->qty[k] > 0) {
            want++;
            total += (long long)s->qty[k] * price(k);
        }
    if (json_array_size(items) != want)
        return false;
    json_array_foreach(items, i, it) {
        int k = -1;
        const char *sku = json_string_value(json_object_get(it, "sku"));
        if (!sku || sscanf(sku, "SKU-%d", &k) != 1 || k < 0 || k >= NSKU ||
            json_integer_value(json_object_get(it, "qty")) != s->qty[k] ||
            json_integer_value(json_object_get(it, "unit_price_cents")) != price(k))
            return false;
    }
    return json_integer_value(json_object_get(j, "total_cents")) == total;
}

/* GET /cart through the proxy: true when exact; status, error code and owner tag out. */
static bool sess_exact(struct run *r, struct sess *s, long *status, char *code, char *owner)
{
    json_t *j;
    *status = sess_send(r, s, "GET", "/cart", NULL, &j);
    json_t *err = json_object_get(j, "error");
    const char *c = json_string_value(json_object_get(err, "code"));
    const char *o = json_string_value(json_object_get(err, "owner"));
    snprintf(code, 32, "%s", c ? c : "");
    snprintf(owner, 32, "%s", o ? o : "");
    bool ok = *status == 200 && cart_matches(s, j);
    json_decref(j);
    return ok;
}

/* GET path straight from 127.0.0.1:port as JSON (NULL on failure); status out. */
static json_t *get_json(int port, const char *path, const char *const *hdrs, long *status)
{
    struct harness_client *c = harness_client_new(port);
    struct harness_resp resp;
    json_t *j = NULL;
    *status = 0;
    if (c && harness_req(c, "GET", path, NULL, hdrs, &resp)) {
        *status = resp.status;
        j = json_loads(resp.body, 0, NULL);
        harness_resp_free(&resp);
    }
    harness_client_free(c);
    return j;
}

/* "carts" of a replica's /info, -1 when it does not answer. */
static long info_carts(int port)
{
    long st;
    json_t *j = get_json(port, "/info", NULL, &st);
    long n = st == 200 && json_is_integer(json_object_get(j, "carts"))
                 ? (long)json_integer_value(json_object_get(j, "carts")) : -1;
    json_decref(j);
    return n;
}

/* HAProxy's status ("UP", "DOWN", ...) of server sv in backend be, from the stats CSV. */
static bool haproxy_status(const char *be, const char *sv, char *out, size_t outlen)
{
    struct harness_client *c = harness_client_new(T.stats);
    struct harness_resp resp;
    char prefix[96];
    bool found = false;
    snprintf(prefix, sizeof prefix, "%s,%s,", be, sv);
    if (c && harness_req(c, "GET", "/;csv", NULL, NULL, &resp)) {
        for (char *l = resp.body; l && *l && !found; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
            if (strncmp(l, prefix, strlen(prefix)))
                continue;
            const char *f = l;
            for (int col = 0; col < 17 && f; col++)     /* column 17 is "status" */
                f = strchr(f, ',') ? strchr(f, ',') + 1 : NULL;
            if (f) {
                snprintf(out, outlen, "%.*s", (int)strcspn(f, ",\n"), f);
                found = true;
            }
        }
        harness_resp_free(&resp);
    }
    harness_client_free(c);
    return found;
}

/* Poll the stats page until HAProxy reports sv DOWN; the milliseconds it took, -1 if never. */
static long wait_marked_down(const char *be, const char *sv, long long since)
{
    char st[32] = "";
    for (long long end = now_ms() + 10000; now_ms() < end; nap(20))
        if (haproxy_status(be, sv, st, sizeof st) && !strncmp(st, "DOWN", 4))
            return (long)(now_ms() - since);
    fprintf(stderr, "routing: %s/%s still '%s'\n", be, sv, st);
    return -1;
}

/* A run with its sessions' clients; free with run_free. */
static struct run *run_new(int fe)
{
    struct run *r = calloc(1, sizeof *r);
    cr_assert_not_null(r);
    r->fe = fe;
    return r;
}

/* Free a run and its sessions' clients. */
static void run_free(struct run *r)
{
    for (int i = 0; i < NSESS; i++)
        harness_client_free(r->s[i].c);
    free(r);
}

TestSuite(routing, .init = topo_up, .fini = topo_down, .timeout = 120);

/* Through the stateful frontend every request of a session is served by the replica that
 * created its cart (cookie affinity), and every cart is exact. */
Test(routing, stateful_sessions_stick)
{
    struct run *r = run_new(0);
    long long t0 = now_ms();
    run_rounds(r, 0, NCHG + 1, -1, NULL);
    int exact = 0, sticky = 0, tagged = 0, per[NREP] = { 0 };
    for (int i = 0; i < NSESS; i++) {
        struct sess *s = &r->s[i];
        long st;
        char code[32], owner[32], tag[32];
        bool ok = !s->broken && sess_exact(r, s, &st, code, owner);
        exact += ok;
        sticky += s->sticky && s->rep >= 0;
        snprintf(tag, sizeof tag, "stateful%d-", s->rep + 1);
        tagged += !strncmp(s->id, tag, strlen(tag));
        if (s->rep >= 0)
            per[s->rep]++;
        if (!ok || !s->sticky)
            fprintf(stderr, "routing: session %d (%s, rep %d) broken %d status %ld/%ld %s\n",
                    i, s->id, s->rep, s->broken, s->fail_status, st, code);
    }
    fprintf(stderr, "routing: stateful %d sessions x %d changes in %lld ms; per replica %d/%d/%d\n",
            NSESS, NCHG, now_ms() - t0, per[0], per[1], per[2]);
    cr_expect_eq(exact, NSESS, "exact carts: %d of %d", exact, NSESS);
    cr_expect_eq(sticky, NSESS, "sessions served by one instance: %d of %d", sticky, NSESS);
    cr_expect_eq(tagged, NSESS, "cart ids tagged with the serving instance: %d", tagged);
    for (int k = 0; k < NREP; k++) {
        cr_expect_gt(per[k], NSESS / 10, "stateful-%d got %d sessions", k + 1, per[k]);
        cr_expect_eq(info_carts(T.base[0] + k), per[k], "stateful-%d /info carts", k + 1);
    }
    run_free(r);
}

/* Through the stateless frontend requests spread over all replicas (round robin per
 * request, even on one keep-alive connection), and every cart is exact. */
Test(routing, stateless_requests_spread)
{
    struct run *r = run_new(1);
    long long t0 = now_ms();
    run_rounds(r, 0, NCHG + 1, -1, NULL);
    int exact = 0, all_reps = 0, total = 0;
    for (int i = 0; i < NSESS; i++) {
        struct sess *s = &r->s[i];
        long st;
        char code[32], owner[32];
        bool ok = !s->broken && sess_exact(r, s, &st, code, owner);
        exact += ok;
        all_reps += s->seen == (1u << NREP) - 1;
        if (!ok)
            fprintf(stderr, "routing: session %d (%s) broken %d status %ld/%ld %s\n",
                    i, s->id, s->broken, s->fail_status, st, code);
    }
    for (int k = 0; k < NREP; k++)
        total += atomic_load(&r->per_rep[k]);
    fprintf(stderr, "routing: stateless %d sessions x %d changes in %lld ms; requests per "
            "replica %d/%d/%d; sessions that met all %d: %d\n", NSESS, NCHG, now_ms() - t0,
            atomic_load(&r->per_rep[0]), atomic_load(&r->per_rep[1]),
            atomic_load(&r->per_rep[2]), NREP, all_reps);
    cr_expect_eq(exact, NSESS, "exact carts: %d of %d", exact, NSESS);
    for (int k = 0; k < NREP; k++)
        cr_expect_gt(atomic_load(&r->per_rep[k]), total / (2 * NREP),
                     "stateless-%d served %d of %d requests", k + 1,
                     atomic_load(&r->per_rep[k]), total);
    cr_expect_gt(all_reps, NSESS * 8 / 10, "only %d sessions met every replica", all_reps);
    cr_expect_eq(info_carts(T.base[1]), NSESS, "carts in redis (DBSIZE)");
    run_free(r);
}

/* Restart the killed stateful replica under its name: it comes back empty, so a few of
 * its old carts, asked for straight at it, are 404 cart_not_found. */
static void check_restarted_empty(struct run *r, int victim)
{
    char name[32];
    snprintf(name, sizeof name, "stateful-%d", victim + 1);
    cr_assert_eq(script("restart", name), 0, "cartpair-local restart %s", name);
    for (int i = 0, checked = 0; i < NSESS && checked < 5; i++) {
        if (r->s[i].rep != victim)
            continue;
        char path[128];
        long st;
        snprintf(path, sizeof path, "/carts/%s", r->s[i].id);
        json_t *j = get_json(T.base[0] + victim, path, NULL, &st);
        const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
        cr_expect(st == 404 && code && !strcmp(code, "cart_not_found"),
                  "old cart %s on the restarted replica: %ld %s", r->s[i].id, st, code);
        json_decref(j);
        checked++;
    }
}

/* Wait until survivor replica `port` has seen its peer die: a dead replica's cart id
 * answers 404 cart_not_found there instead of 421 (at most ~6 s). */
static long wait_owner_gone(int port, const char *id)
{
    char path[160];
    snprintf(path, sizeof path, "/carts/%s", id);
    long long t0 = now_ms();
    long st = 0;
    while (now_ms() - t0 < 6000) {
        json_decref(get_json(port, path, NULL, &st));
        if (st == 404)
            return (long)(now_ms() - t0);
        nap(100);
    }
    return -1;
}

/* SIGKILL stateful-2 mid-run: exactly the carts it held are lost (its own /info count
 * before death); once its peers see it gone (PEERS), its carts answer 404
 * cart_not_found from the replica the proxy moved them to. Every other cart stays exact. */
Test(routing, stateful_kill_loses_exactly_its_carts)
{
    struct run *r = run_new(0);
    const int victim = 1;
    run_rounds(r, 0, 6, -1, NULL);
    long owned[NREP];
    int per[NREP] = { 0 };
    for (int i = 0; i < NSESS; i++) {
        cr_assert(!r->s[i].broken && r->s[i].rep >= 0, "session %d failed before the kill", i);
        per[r->s[i].rep]++;
    }
    for (int k = 0; k < NREP; k++) {
        owned[k] = info_carts(T.base[0] + k);
        cr_assert_eq(owned[k], per[k], "stateful-%d holds %ld carts, sessions say %d",
                     k + 1, owned[k], per[k]);
    }
    run_rounds(r, 6, NCHG + 1, 8, "stateful-2");
    const char *victim_id = NULL;
    for (int i = 0; i < NSESS && !victim_id; i++)
        if (r->s[i].rep == victim)
            victim_id = r->s[i].id;
    cr_assert(victim_id, "no session on the victim");
    long gone_ms = 0;
    for (int k = 0; k < NREP; k++) {
        long ms = k == victim ? 0 : wait_owner_gone(T.base[0] + k, victim_id);
        cr_assert_geq(ms, 0, "stateful-%d never saw stateful-2 gone (still 421?)", k + 1);
        gone_ms = ms > gone_ms ? ms : gone_ms;
    }
    int lost = 0, lost_404 = 0, others_ok = 0, broke_on[600] = { 0 };
    for (int i = 0; i < NSESS; i++) {
        struct sess *s = &r->s[i];
        long st;
        char code[32], owner[32];
        bool ok = sess_exact(r, s, &st, code, owner);
        if (s->rep == victim) {
            lost += !ok;
            lost_404 += st == 404 && !strcmp(code, "cart_not_found");
            if (s->broken && s->fail_status >= 0 && s->fail_status < 600)
                broke_on[s->fail_status]++;
        } else {
            others_ok += ok && !s->broken && s->sticky;
            if (!ok || s->broken || !s->sticky)
                fprintf(stderr, "routing: survivor session %d (%s) hurt: status %ld/%ld %s\n",
                        i, s->id, s->fail_status, st, code);
        }
    }
    fprintf(stderr, "routing: stateful-2 owned %ld, lost %d (final read 404 cart_not_found: "
            "%d, peers saw it gone %ld ms after the run); first failure 421: %d, 502: %d, "
            "503: %d, 404: %d, transport: %d\n", owned[victim], lost, lost_404, gone_ms,
            broke_on[421], broke_on[502], broke_on[503], broke_on[404], broke_on[0]);
    cr_expect_eq(lost, owned[victim], "lost %d carts, the dead replica held %ld", lost,
                 owned[victim]);
    cr_expect_eq(lost_404, lost, "lost carts answered 404 cart_not_found: %d of %d",
                 lost_404, lost);
    cr_expect_eq(others_ok, NSESS - owned[victim], "survivors exact and sticky: %d", others_ok);
    cr_expect_eq(info_carts(T.base[0]), owned[0]);
    cr_expect_eq(info_carts(T.base[0] + 2), owned[2]);
    check_restarted_empty(r, victim);
    run_free(r);
}

/* SIGKILL stateless-2 mid-run: no cart is lost; once HAProxy marks it DOWN no request
 * fails and none goes to it. Changes around the kill are idempotent PUTs, resent when
 * the proxy had no replica to give, so every cart can still be checked exactly. */
Test(routing, stateless_kill_loses_nothing)
{
    struct run *r = run_new(1);
    run_rounds(r, 0, 5, -1, NULL);
    for (int i = 0; i < NSESS; i++)
        cr_assert(!r->s[i].broken, "session %d failed before the kill", i);
    r->idempotent = true;
    long long t_kill = now_ms();
    run_rounds(r, 5, 8, 6, "stateless-2");
    long down_ms = wait_marked_down("stateless_replicas", "stateless-2", t_kill);
    cr_assert_geq(down_ms, 0, "HAProxy never marked stateless-2 DOWN");
    atomic_store(&r->marked_down, true);
    int before = atomic_load(&r->fails_before_down);
    for (int k = 0; k < NREP; k++)
        atomic_store(&r->per_rep[k], 0);
    run_rounds(r, 8, NCHG + 1, -1, NULL);
    int exact = 0;
    for (int i = 0; i < NSESS; i++) {
        struct sess *s = &r->s[i];
        long st;
        char code[32], owner[32];
        bool ok = !s->broken && sess_exact(r, s, &st, code, owner);
        exact += ok;
        if (!ok)
            fprintf(stderr, "routing: session %d (%s) broken %d status %ld/%ld %s\n",
                    i, s->id, s->broken, s->fail_status, st, code);
    }
    fprintf(stderr, "routing: stateless-2 marked DOWN %ld ms after the kill; failed requests "
            "before that (resent): %d, after: %d; requests after per replica %d/%d/%d\n",
            down_ms, before, atomic_load(&r->fails_after_down), atomic_load(&r->per_rep[0]),
            atomic_load(&r->per_rep[1]), atomic_load(&r->per_rep[2]));
    cr_expect_eq(exact, NSESS, "exact carts: %d of %d (lost %d)", exact, NSESS, NSESS - exact);
    cr_expect_eq(atomic_load(&r->fails_after_down), 0, "requests failed after DOWN");
    cr_expect_eq(atomic_load(&r->per_rep[1]), 0, "requests served by the dead replica");
    cr_expect_gt(atomic_load(&r->per_rep[0]), 0);
    cr_expect_gt(atomic_load(&r->per_rep[2]), 0);
    cr_expect_eq(info_carts(T.base[1]), NSESS, "carts in redis (DBSIZE)");
    run_free(r);
}

/* Straight to the wrong stateful replica (no proxy, or a forged affinity cookie): 421
 * misdirected naming the owner's tag, and the cart is left alone. */
Test(routing, wrong_replica_gets_421)
{
    struct harness_client *own = harness_client_new(T.base[0]);
    struct harness_client *other = harness_client_new(T.base[0] + 1);
    struct harness_resp resp;
    cr_assert(own && other);
    cr_assert(harness_req(own, "POST", "/carts", NULL, NULL, &resp));
    cr_assert_eq(resp.status, 201);
    json_t *j = json_loads(resp.body, 0, NULL);
    char id[80], path[160], items[180], cookie[120], inst[64] = "";
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    harness_resp_free(&resp);
    cr_assert(!strncmp(id, "stateful1-", 10), "id %s", id);
    snprintf(path, sizeof path, "/carts/%s", id);
    snprintf(items, sizeof items, "/carts/%s/items", id);
    snprintf(cookie, sizeof cookie, "Cookie: cart=%s", id);
    const char *by_cookie[] = { cookie, NULL };
    struct { int port; const char *m, *path, *body; const char *const *hdrs; } req[] = {
        { T.base[0] + 1, "GET", path, NULL, NULL },
        { T.base[0] + 1, "POST", items, "{\"sku\":\"A\",\"qty\":1,\"unit_price_cents\":5}", NULL },
        { T.base[0] + 2, "GET", "/cart", NULL, by_cookie },
    };
    for (size_t i = 0; i < sizeof req / sizeof *req; i++) {
        struct harness_client *c = harness_client_new(req[i].port);
        cr_assert(harness_req(c, req[i].m, req[i].path, req[i].body, req[i].hdrs, &resp));
        j = json_loads(resp.body, 0, NULL);
        json_t *err = json_object_get(j, "error");
        const char *code = json_string_value(json_object_get(err, "code"));
        const char *owner = json_string_value(json_object_get(err, "owner"));
        cr_expect_eq(resp.status, 421, "%s %s: %ld %s", req[i].m, req[i].path, resp.status,
                     resp.body);
        cr_expect(code && !strcmp(code, "misdirected"), "code %s", code);
        cr_expect(owner && !strcmp(owner, "stateful1"), "owner %s", owner);
        cr_expect(harness_header(&resp, "X-Instance", inst, sizeof inst));
        cr_expect_eq(rep_of(inst), req[i].port - T.base[0], "answered by %s", inst);
        json_decref(j);
        harness_resp_free(&resp);
        harness_client_free(c);
    }
    /* Through the proxy with the affinity cookie forged to stateful-3: the same 421. */
    char forged[160];
    snprintf(forged, sizeof forged, "Cookie: SRV=stateful-3; cart=%s", id);
    const char *fh[] = { forged, NULL };
    long st;
    j = get_json(T.fe[0], "/cart", fh, &st);
    cr_expect_eq(st, 421);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "owner"))
                     ? json_string_value(json_object_get(json_object_get(j, "error"), "owner"))
                     : "", "stateful1");
    json_decref(j);
    /* The owner still has the cart, untouched. */
    cr_assert(harness_req(own, "GET", path, NULL, NULL, &resp));
    cr_expect_eq(resp.status, 200, "owner: %ld %s", resp.status, resp.body);
    cr_expect(strstr(resp.body, "\"version\":0") != NULL, "owner's cart changed: %s", resp.body);
    harness_resp_free(&resp);
    harness_client_free(other);
    harness_client_free(own);
}
