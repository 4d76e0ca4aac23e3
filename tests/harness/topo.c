/* topo: the local routing topology for the integration tests. See topo.h. */
#include "topo.h"

#include "harness.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* A free port p with p+1..p+n-1 free too, distinct from the ports in taken[0..ntaken). */
static int free_run(int n, const int *taken, int ntaken)
{
    for (int tries = 0; tries < 200; tries++) {
        int p = harness_free_port(), ok = p > 0 && p + n < 65536;
        for (int i = 0; ok && i < n; i++) {
            ok = i == 0 || harness_port_free(p + i);
            for (int j = 0; ok && j < ntaken; j++)
                ok = taken[j] < p || taken[j] >= p + n;
        }
        if (ok)
            return p;
    }
    return -1;
}

/* Build the script's environment: ours (RUN_DIR, ports...) then the inherited rest. */
static void build_env(struct topo *t)
{
    int n = 0, k = 0;
    const char *names[] = { "RUN_DIR", "BIN_DIR", "STATEFUL_PORT", "STATELESS_PORT",
                            "STATS_PORT", "REDIS_PORT", "STATEFUL_BASE_PORT",
                            "STATELESS_BASE_PORT", "REPLICAS", "LOG_LEVEL", "THREADS",
                            "REPL_PORT_OFFSET", "REPLICATION" };
    snprintf(t->envbuf[k++], 1100, "RUN_DIR=%s", t->dir);
    snprintf(t->envbuf[k++], 1100, "BIN_DIR=%s", t->bin_dir);
    snprintf(t->envbuf[k++], 1100, "STATEFUL_PORT=%d", t->fe[0]);
    snprintf(t->envbuf[k++], 1100, "STATELESS_PORT=%d", t->fe[1]);
    snprintf(t->envbuf[k++], 1100, "STATS_PORT=%d", t->stats);
    snprintf(t->envbuf[k++], 1100, "REDIS_PORT=%d", t->redis);
    snprintf(t->envbuf[k++], 1100, "STATEFUL_BASE_PORT=%d", t->base[0]);
    snprintf(t->envbuf[k++], 1100, "STATELESS_BASE_PORT=%d", t->base[1]);
    snprintf(t->envbuf[k++], 1100, "REPLICAS=%d", TOPO_NREP);
    snprintf(t->envbuf[k++], 1100, "LOG_LEVEL=warn");
    snprintf(t->envbuf[k++], 1100, "THREADS=2");
    snprintf(t->envbuf[k++], 1100, "REPL_PORT_OFFSET=%d", TOPO_NREP);
    snprintf(t->envbuf[k++], 1100, "REPLICATION=sync");
    for (int i = 0; i < k; i++)
        t->envp[n++] = t->envbuf[i];
    for (int i = 0; environ[i] && n < TOPO_NENV - 1; i++) {
        bool ours = false;
        for (size_t j = 0; j < sizeof names / sizeof *names; j++) {
            size_t len = strlen(names[j]);
            ours |= strncmp(environ[i], names[j], len) == 0 && environ[i][len] == '=';
        }
        if (!ours)
            t->envp[n++] = environ[i];
    }
    t->envp[n] = NULL;
}

/* In a forked child: close every inherited descriptor above stderr. */
static void close_fds(void)
{
    long max = sysconf(_SC_OPEN_MAX);
    for (long i = 3; i < (max > 0 && max < 65536 ? max : 65536); i++)
        close((int)i);
}

/* In a forked child: output to the run dir's log, no inherited fds, exec the script. */
static void exec_script(struct topo *t, const char *cmd, const char *arg, const char *arg2)
{
    close_fds();
    char log[300];
    snprintf(log, sizeof log, "%s/cartpair-local.out", t->dir);
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
    char *argv[] = { "bash", t->script, (char *)cmd, (char *)arg, (char *)(arg ? arg2 : NULL),
                     NULL };
    execvpe("bash", argv, t->envp);
    _exit(127);
}

/* Run "cartpair-local cmd [arg [arg2]]", bounded by 30 s; its exit code, -1 on a hang. */
int topo_script2(struct topo *t, const char *cmd, const char *arg, const char *arg2)
{
    pid_t pid = fork();
    if (pid == 0)
        exec_script(t, cmd, arg, arg2);
    if (pid < 0)
        return -1;
    int st = 0;
    for (long long end = harness_ms() + 30000; harness_ms() < end; harness_nap(10))
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

/* Run "cartpair-local cmd [arg]", bounded by 30 s; its exit code, -1 on a hang. */
int topo_script(struct topo *t, const char *cmd, const char *arg)
{
    return topo_script2(t, cmd, arg, NULL);
}

/* A child that runs 'down' when this process dies without tearing down (crash, timeout). */
static void start_reaper(struct topo *t)
{
    pid_t parent = getpid();
    t->reaper = fork();
    if (t->reaper != 0)
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
    exec_script(t, "down", NULL, NULL);
}

/* Print the tail of one file of the run dir to stderr. */
static void show_log(struct topo *t, const char *name)
{
    char path[300], cmd[400];
    snprintf(path, sizeof path, "%s/%s", t->dir, name);
    snprintf(cmd, sizeof cmd, "tail -n 20 '%s' >&2", path);
    if (system(cmd) != 0)
        fprintf(stderr, "(no %s)\n", path);
}

/* Pick ports, start the topology detached, arm the reaper. */
void topo_up(struct topo *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/cartpair-routing-XXXXXX");
    cr_assert_not_null(mkdtemp(t->dir));
    const char *over = getenv("CARTPAIR_LOCAL");
    snprintf(t->script, sizeof t->script, "%s/deploy/local/cartpair-local", CARTPAIR_SOURCE_DIR);
    if (over && *over)
        snprintf(t->script, sizeof t->script, "%s", over);
    char bin[1024];
    snprintf(bin, sizeof bin, "%s", STATEFUL_BIN);
    snprintf(t->bin_dir, sizeof t->bin_dir, "%s", dirname(bin));
    cr_assert_eq(access(t->script, R_OK), 0, "no script at %s", t->script);
    int taken[16] = { 0 }, nt = 0;
    for (int i = 0; i < 2; i++) { /* stateful: HTTP ports, then replication (+TOPO_NREP) */
        int n = i == 0 ? 2 * TOPO_NREP : TOPO_NREP;
        t->base[i] = free_run(n, taken, nt);
        for (int k = 0; k < n; k++)
            taken[nt++] = t->base[i] + k;
    }
    int *single[] = { &t->fe[0], &t->fe[1], &t->stats, &t->redis };
    for (int i = 0; i < 4; i++) {
        *single[i] = free_run(1, taken, nt);
        taken[nt++] = *single[i];
    }
    build_env(t);
    start_reaper(t);
    int rc = topo_script(t, "up", "-d");
    if (rc != 0) {
        show_log(t, "cartpair-local.out");
        topo_script(t, "down", NULL);
    }
    cr_assert_eq(rc, 0, "cartpair-local up failed (%d); run dir %s", rc, t->dir);
}

/* Stop everything (even after a failed assertion) and the reaper. */
void topo_down(struct topo *t)
{
    int rc = topo_script(t, "down", NULL);
    if (t->reaper > 0) {
        kill(t->reaper, SIGKILL);
        waitpid(t->reaper, NULL, 0);
    }
    if (rc != 0)
        show_log(t, "cartpair-local.out");
    cr_expect_eq(rc, 0, "cartpair-local down failed (%d); run dir %s", rc, t->dir);
}

/* Replica index from an X-Instance such as "stateless-2"; -1 when not one of ours. */
int topo_rep_of(const char *inst)
{
    const char *dash = strrchr(inst, '-');
    int n = dash ? atoi(dash + 1) : 0;
    return n >= 1 && n <= TOPO_NREP ? n - 1 : -1;
}

/* GET path straight from 127.0.0.1:port as JSON (NULL on failure); status out. */
json_t *topo_get_json(int port, const char *path, const char *const *hdrs, long *status)
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

/* An integer field of port's /info; -1 when absent. */
long topo_info_int(int port, const char *field)
{
    long st;
    json_t *j = topo_get_json(port, "/info", NULL, &st);
    json_t *v = json_object_get(j, field);
    long n = st == 200 && json_is_integer(v) ? (long)json_integer_value(v) : -1;
    json_decref(j);
    return n;
}

/* HAProxy's status ("UP", "DOWN", ...) of server sv in backend be, from the stats CSV. */
static bool haproxy_status(struct topo *t, const char *be, const char *sv, char *out,
                           size_t outlen)
{
    struct harness_client *c = harness_client_new(t->stats);
    struct harness_resp resp;
    char prefix[96];
    bool found = false;
    snprintf(prefix, sizeof prefix, "%s,%s,", be, sv);
    if (c && harness_req(c, "GET", "/;csv", NULL, NULL, &resp)) {
        for (char *l = resp.body; l && *l && !found;
             l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
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
long topo_wait_marked_down(struct topo *t, const char *be, const char *sv, long long since)
{
    char st[32] = "";
    for (long long end = harness_ms() + 10000; harness_ms() < end; harness_nap(20))
        if (haproxy_status(t, be, sv, st, sizeof st) && !strncmp(st, "DOWN", 4))
            return (long)(harness_ms() - since);
    fprintf(stderr, "routing: %s/%s still '%s'\n", be, sv, st);
    return -1;
}
