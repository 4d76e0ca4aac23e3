/* svc: the process around a service. See svc.h. */
#include "svc.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "route.h"
#include "util.h"

#define SVC_FINISH_WAIT_MS 10000  /* how long in-flight requests may take at exit */
#define SVC_HANDOFF_SECONDS 5     /* store handoff time when DRAIN_SECONDS is 0 */

/* Block the shutdown signals in every thread; main waits for them with sigwait. */
static void svc_block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Raise the open-file limit to its hard maximum, so MAX_CONNECTIONS can be met;
 * warn when it still falls short. */
static void svc_raise_nofile(int max_conns)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)max_conns + 64)
        log_msg(LOG_WARN, "nofile", "open-file limit %llu is below MAX_CONNECTIONS %d + 64",
                (unsigned long long)rl.rlim_cur, max_conns);
}

/* Parse the config; returns -1 to go on, else the exit code. */
static int svc_config(struct cfg *c, const struct cfg_profile *p, int argc, char **argv)
{
    const char *service = p->name;
    char err[512] = "";
    switch (cfg_load(c, p, argc, argv, err, sizeof err)) {
    case CFG_OK:
        return -1;
    case CFG_HELP:
        cfg_usage(p);
        return 0;
    case CFG_VERSION:
        printf("%s %s\n", service, CARTPAIR_VERSION);
        return 0;
    default:
        fprintf(stderr, "%s: %s\n", service, err);
        return 2;
    }
}

/* Drain: /readyz 503 at once, keep serving DRAIN_SECONDS (a second signal cuts it short),
 * stop accepting, refuse new requests on open connections (503, then close),
 * and let in-flight requests finish. */
static void svc_drain(struct api *a, struct http_server *srv, const sigset_t *set, int secs)
{
    api_set_draining(a);
    log_msg(LOG_INFO, "draining", "readyz now 503; serving for %d s more", secs);
    if (a->store.ops->drain) { /* hand the store's carts away, within the drain time */
        long long t0 = util_mono_ms();
        a->store.ops->drain(a->store.self, t0 + (secs > 0 ? secs : SVC_HANDOFF_SECONDS) * 1000LL);
        secs -= (int)((util_mono_ms() - t0) / 1000);
    }
    if (secs > 0) {
        struct timespec ts = {.tv_sec = secs};
        if (sigtimedwait(set, NULL, &ts) > 0)
            log_msg(LOG_WARN, "draining", "second signal: drain cut short");
    }
    http_quiesce(srv);
    http_closing(srv);
    for (int ms = 0; http_inflight(srv) > 0 && ms < SVC_FINISH_WAIT_MS; ms += 10)
        usleep(10 * 1000);
}

/* Run a service until SIGTERM/SIGINT and a drain; returns the exit code. */
int svc_main(const struct svc_def *def, int argc, char **argv)
{
    const char *service = def->cfg.name;
    struct cfg c;
    int rc = svc_config(&c, &def->cfg, argc, argv);
    if (rc >= 0)
        return rc;
    log_init(c.log_level, c.log_format, service, c.instance_id);
    svc_raise_nofile(c.max_conns);
    sigset_t set;
    svc_block_signals(&set);
    char err[512] = "";
    struct store st;
    if (def->open(&c, &st, err, sizeof err) != 0) {
        log_msg(LOG_ERROR, "store_open", "%s", err);
        return 1;
    }
    metrics_init(route_names, ROUTE_COUNT);
    struct api a;
    char tag[ID_TAG_MAX + 1] = "";
    if (def->id_tag)
        def->id_tag(&c, tag, sizeof tag);
    api_init(&a, &c, st, service, tag);
    struct http_cfg hc = {
        .listen_addr = c.listen_addr, .port = c.port, .threads = c.threads,
        .max_conns = c.max_conns, .max_conns_per_ip = c.max_conns_per_ip,
        .idle_timeout = c.idle_timeout, .instance = c.instance_id, .service = service,
    };
    struct http_server *srv = http_start(&hc, api_handle, &a, err, sizeof err);
    if (!srv) {
        log_msg(LOG_ERROR, "listen", "PORT/LISTEN_ADDR: %s", err);
        st.ops->destroy(st.self);
        return 1;
    }
    log_msg(LOG_INFO, "listening", "%s %s on %s:%d, %d threads, store %s, instance %s%s%s",
            service, CARTPAIR_VERSION, c.listen_addr, c.port, c.threads, st.ops->name,
            c.instance_id, a.tag[0] ? ", tag " : "", a.tag);
    int sig = 0;
    sigwait(&set, &sig);
    log_msg(LOG_INFO, "signal", "%s received", strsignal(sig));
    svc_drain(&a, srv, &set, c.drain_seconds);
    unsigned left = http_inflight(srv);
    if (left > 0) { /* a request stuck past the wait: leave without tearing down under it */
        log_msg(LOG_WARN, "stopped", "%u requests still in flight after %d ms; exiting",
                left, SVC_FINISH_WAIT_MS);
        return 0;
    }
    http_stop(srv);
    st.ops->destroy(st.self);
    log_msg(LOG_INFO, "stopped", "clean exit");
    return 0;
}
