/* harness: real processes (redis-server, the services) for the integration tests.
 * See harness.h. */
#include "harness.h"
#include "util.h"

#include <stdatomic.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define START_TRIES 4
#define WAIT_MS 5000
#define MAX_ENV 512

/* Milliseconds on a monotonic clock. */
long long harness_ms(void)
{
    return (long long)util_mono_ms();
}

/* Sleep for ms milliseconds. */
void harness_nap(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* True when nothing is bound to 127.0.0.1:port now. */
bool harness_port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

/* A port on 127.0.0.1 that was free a moment ago. */
int harness_free_port(void)
{
    /* Below the kernel's ephemeral range (32768+): a port from that range can be
     * taken by any outgoing connection (even a TCP self-connect to a peer that
     * is not listening yet) between our check and the server's bind. */
    static _Atomic unsigned seed;
    unsigned x = atomic_fetch_add(&seed, 7919u) ^ (unsigned)getpid() * 2654435761u ^
                 (unsigned)harness_ms();
    for (int tries = 0; tries < 500; tries++) {
        x = x * 1103515245u + 12345u;
        int port = HARNESS_PORT_MIN + (int)((x >> 8) % (HARNESS_PORT_MAX - HARNESS_PORT_MIN));
        if (harness_port_free(port))
            return port;
    }
    return -1;
}

/* Connect to 127.0.0.1:port, send req, and check the reply starts with want. */
static bool probe(int port, const char *req, const char *want)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct timeval tv = { 0, 300000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = false;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req)) {
        char buf[64] = { 0 };
        size_t got = 0, want_len = strlen(want);
        for (int i = 0; i < 10 && got < want_len; i++) {
            ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
        }
        ok = got >= want_len && memcmp(buf, want, want_len) == 0;
    }
    close(fd);
    return ok;
}

/* Print the last part of a log file to stderr (diagnostics on failure). */
static void log_tail(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char buf[2048];
    if (fseek(f, 0, SEEK_END) == 0) {
        long sz = ftell(f);
        fseek(f, sz > (long)sizeof buf - 1 ? sz - (long)sizeof buf + 1 : 0, SEEK_SET);
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    fprintf(stderr, "---- tail of %s ----\n%s\n----\n", path, buf);
}

/* Fork and exec argv[0] (PATH lookup) with envp, output to logpath; the child dies with us. */
static pid_t spawn(char *const argv[], char *const envp[], const char *logpath)
{
    int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        execvpe(argv[0], argv, envp);
        _exit(127);
    }
    close(fd);
    return pid;
}

/* True while pid has not exited (reaps it if it has). */
static bool alive(struct harness_proc *p)
{
    int st;
    if (p->pid <= 0)
        return false;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid) {
        p->pid = 0;
        return false;
    }
    return true;
}

/* Poll until probe succeeds, the process dies or WAIT_MS pass. */
static bool wait_up(struct harness_proc *p, const char *req, const char *want)
{
    long long deadline = harness_ms() + WAIT_MS;
    while (harness_ms() < deadline) {
        if (!alive(p))
            return false;
        if (probe(p->port, req, want))
            return true;
        harness_nap(20);
    }
    return false;
}

#define MAX_DIRS 64
static char made_dirs[MAX_DIRS][256];
static int n_made_dirs;

/* nftw callback: remove one entry. */
static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

/* At exit, remove the temp dirs this process made (CARTPAIR_KEEP_TMP=1 keeps them). */
static void remove_dirs(void)
{
    const char *keep = getenv("CARTPAIR_KEEP_TMP");
    if (keep && keep[0] == '1')
        return;
    for (int i = 0; i < n_made_dirs; i++)
        nftw(made_dirs[i], rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Make a fresh temp dir for one process into p->dir. */
static bool make_dir(struct harness_proc *p, const char *logname)
{
    snprintf(p->dir, sizeof p->dir, "/tmp/cartpair-test-XXXXXX");
    if (!mkdtemp(p->dir))
        return false;
    if (n_made_dirs == 0)
        atexit(remove_dirs);
    if (n_made_dirs < MAX_DIRS)
        snprintf(made_dirs[n_made_dirs++], sizeof made_dirs[0], "%s", p->dir);
    snprintf(p->log, sizeof p->log, "%s/%s", p->dir, logname);
    return true;
}

/* Start redis-server (or redis-sentinel on its config) on p->port in p->dir;
 * true once it answers PING. */
static bool redis_run(struct harness_proc *p)
{
    char port[16], logf[300], sock[300], conf[300];
    snprintf(port, sizeof port, "%d", p->port);
    snprintf(logf, sizeof logf, "%s/redis.log", p->dir);
    snprintf(sock, sizeof sock, "%s/redis.sock", p->dir);
    snprintf(conf, sizeof conf, "%s/sentinel.conf", p->dir);
    char *argv[48] = { "redis-server", "--port", port, "--bind", "127.0.0.1",
                     "--dir", p->dir, "--save", "", "--appendonly", "no", "--unixsocket", sock, "--unixsocketperm", "700",
                     "--daemonize", "no", "--logfile", logf,
                     "--enable-debug-command", "local", NULL };
    int n = 21;
    for (int i = 0; p->args && p->args[i] && n < 47; i++)
        argv[n++] = (char *)p->args[i];
    argv[n] = NULL;
    char *sargv[] = { "redis-sentinel", conf, NULL };
    p->pid = spawn(p->sentinel ? sargv : argv, environ, p->log);
    if (p->pid <= 0)
        return false;
    char auth[128];
    snprintf(auth, sizeof auth, "AUTH %s\r\n", p->password);
    if (p->password[0] ? wait_up(p, auth, "+OK") : wait_up(p, "PING\r\n", "+PONG"))
        return true;
    harness_stop(p);
    return false;
}

/* Start redis-server on a free port in a new temp dir. */
bool harness_redis_start(struct harness_proc *p)
{
    return harness_redis_start_args(p, NULL);
}

/* Start redis-server with extra arguments on a free port in a new temp dir. */
bool harness_redis_start_args(struct harness_proc *p, const char *const *args)
{
    memset(p, 0, sizeof *p);
    p->args = args;
    for (int i = 0; args && args[i] && args[i + 1]; i++)
        if (strcmp(args[i], "--requirepass") == 0)
            snprintf(p->password, sizeof p->password, "%s", args[i + 1]);
    if (!make_dir(p, "redis.out"))
        return false;
    for (int i = 0; i < START_TRIES; i++) {
        p->port = harness_free_port();
        if (p->port > 0 && redis_run(p))
            return true;
    }
    log_tail(p->log);
    fprintf(stderr, "harness: redis-server did not start (dir %s)\n", p->dir);
    return false;
}

/* Write the sentinel's config for p->port into p->dir. */
static bool sentinel_conf(const struct harness_proc *p, int master_port, const char *password)
{
    char path[300];
    snprintf(path, sizeof path, "%s/sentinel.conf", p->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fprintf(f, "port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\nlogfile %s/redis.log\n"
            "sentinel monitor %s 127.0.0.1 %d 2\n"
            "sentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 4000\n",
            p->port, p->dir, p->dir, HARNESS_MASTER, master_port, HARNESS_MASTER, HARNESS_MASTER);
    if (password)
        fprintf(f, "sentinel auth-pass %s %s\nrequirepass %s\n", HARNESS_MASTER, password,
                password);
    return fclose(f) == 0;
}

/* Start redis-sentinel on a free port in a new temp dir. */
bool harness_sentinel_start(struct harness_proc *p, int master_port, const char *password)
{
    memset(p, 0, sizeof *p);
    p->sentinel = true;
    snprintf(p->password, sizeof p->password, "%s", password ? password : "");
    if (!make_dir(p, "redis.out"))
        return false;
    for (int i = 0; i < START_TRIES; i++) {
        p->port = harness_free_port();
        if (p->port > 0 && sentinel_conf(p, master_port, password) && redis_run(p))
            return true;
    }
    log_tail(p->log);
    fprintf(stderr, "harness: redis-sentinel did not start (dir %s)\n", p->dir);
    return false;
}

/* Start redis-server again on the same port and dir. */
bool harness_redis_restart(struct harness_proc *p)
{
    if (p->pid > 0)
        harness_stop(p);
    for (int i = 0; i < START_TRIES; i++) {
        if (redis_run(p))
            return true;
        harness_nap(100);
    }
    log_tail(p->log);
    return false;
}

/* True when "NAME=..." entry e names the same variable as one in list. */
static bool env_in(const char *e, char *const *list, int n)
{
    size_t len = strcspn(e, "=");
    for (int i = 0; i < n; i++)
        if (list[i] && strncmp(list[i], e, len) == 0 && list[i][len] == '=')
            return true;
    return false;
}

/* Build the child's environment: ours, then the caller's overriding, then inherited. */
static void build_env(char *envp[], char own[][300], int nown, const char *const *extra)
{
    int n = 0, nextra = 0;
    char *ex[MAX_ENV / 4];
    for (; extra && extra[nextra] && nextra < MAX_ENV / 4 - 1; nextra++)
        ex[nextra] = (char *)extra[nextra];
    for (int i = 0; i < nextra; i++)
        envp[n++] = ex[i];
    char *ownp[16];
    for (int i = 0; i < nown; i++)
        ownp[i] = own[i];
    for (int i = 0; i < nown; i++)
        if (!env_in(own[i], ex, nextra))
            envp[n++] = own[i];
    for (int i = 0; environ[i] && n < MAX_ENV - 1; i++)
        if (!env_in(environ[i], ex, nextra) && !env_in(environ[i], ownp, nown))
            envp[n++] = environ[i];
    envp[n] = NULL;
}

/* One attempt at starting the service on p->port. */
static bool svc_run(struct harness_proc *p, const char *bin, int redis_port,
                    const char *const *env)
{
    char own[8][300];
    int nown = 0;
    snprintf(own[nown++], 300, "PORT=%d", p->port);
    snprintf(own[nown++], 300, "LISTEN_ADDR=127.0.0.1");
    snprintf(own[nown++], 300, "THREADS=2");
    snprintf(own[nown++], 300, "LOG_LEVEL=warn");
    snprintf(own[nown++], 300, "INSTANCE_ID=test-%d", p->port);
    if (redis_port > 0)
        snprintf(own[nown++], 300, "REDIS_URL=redis://127.0.0.1:%d/0", redis_port);
    char *envp[MAX_ENV];
    build_env(envp, own, nown, env);
    char *argv[] = { (char *)bin, NULL };
    p->pid = spawn(argv, envp, p->log);
    if (p->pid <= 0)
        return false;
    if (wait_up(p, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                "HTTP/1.1 200"))
        return true;
    harness_stop(p);
    return false;
}

/* Start a service binary on a free port in a new temp dir. */
bool harness_svc_start(struct harness_proc *p, const char *bin, int redis_port,
                       const char *const *env)
{
    memset(p, 0, sizeof *p);
    if (!make_dir(p, "svc.log"))
        return false;
    for (int i = 0; i < START_TRIES; i++) {
        p->port = harness_free_port();
        if (p->port > 0 && svc_run(p, bin, redis_port, env))
            return true;
    }
    log_tail(p->log);
    fprintf(stderr, "harness: %s did not start (dir %s)\n", bin, p->dir);
    return false;
}

/* Start a service binary on the given port in a new temp dir. */
bool harness_svc_start_port(struct harness_proc *p, const char *bin, int port, int redis_port,
                            const char *const *env)
{
    memset(p, 0, sizeof *p);
    if (!make_dir(p, "svc.log"))
        return false;
    p->port = port;
    if (svc_run(p, bin, redis_port, env))
        return true;
    log_tail(p->log);
    fprintf(stderr, "harness: %s did not start on port %d (dir %s)\n", bin, port, p->dir);
    return false;
}

/* Echo a sanitizer report from a process's log to stderr, where ctest sees it. */
static void sanitizer_check(const struct harness_proc *p)
{
    static const char *const marks[] = { "runtime error:", "AddressSanitizer",
                                         "LeakSanitizer", "ThreadSanitizer", NULL };
    FILE *f = fopen(p->log, "r");
    if (!f)
        return;
    char line[1024];
    int shown = 0;
    for (int n = 0; n < 1000000 && shown < 40 && fgets(line, sizeof line, f); n++) {
        for (int i = 0; marks[i] && !shown; i++) {
            if (strstr(line, marks[i])) {
                fprintf(stderr, "harness: sanitizer report in %s:\n", p->log);
                shown = 1;
            }
        }
        if (shown) {
            fputs(line, stderr);
            shown++;
        }
    }
    fclose(f);
}

/* Stop a process: SIGTERM, then SIGKILL after 5 s; echo sanitizer reports. */
void harness_stop(struct harness_proc *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGTERM);
    kill(p->pid, SIGCONT);
    long long deadline = harness_ms() + 5000;
    while (harness_ms() < deadline) {
        if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
            p->pid = 0;
            sanitizer_check(p);
            return;
        }
        harness_nap(10);
    }
    fprintf(stderr, "harness: pid %d ignored SIGTERM for 5 s; SIGKILL\n", (int)p->pid);
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
    sanitizer_check(p);
}

/* SIGKILL a process and reap it. */
void harness_kill(struct harness_proc *p)
{
    if (p->pid <= 0)
        return;
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    p->pid = 0;
}

/* Freeze or resume a process. */
void harness_pause(struct harness_proc *p, bool paused)
{
    if (p->pid > 0)
        kill(p->pid, paused ? SIGSTOP : SIGCONT);
}

/* Print the tail of the process's log to stderr. */
void harness_log_tail(const struct harness_proc *p)
{
    log_tail(p->log);
}
