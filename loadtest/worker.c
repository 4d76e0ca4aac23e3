/* worker: one cartload thread: its users, its epoll loop, its stats (see worker.h). */
#include "worker.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "conn.h"
#include "jar.h"
#include "scen.h"

#define WORKER_BACKOFF_NS 10000000LL   /* wait after a transport failure */
#define WORKER_SCAN_NS 10000000LL      /* timeout scan interval, and longest wait */
#define WORKER_EVENTS 256
#define WORKER_RETRIES_MAX 100         /* then give up the key and resynchronize */

struct worker_user {
    struct conn conn;
    struct jar jar;
    struct scen_cart cart;
    struct scen_req req;
    uint64_t rng;
    int64_t next_ns;        /* open model: the next intended send time */
    int64_t ready_ns;       /* not before: the heap's key */
    int64_t intended_ns, sent_ns, deadline_ns;
    bool in_flight;
    int heap_pos;           /* -1: not waiting */
    int tries;              /* times the current change was sent again */
    uint64_t nkeys;         /* keys drawn so far */
    int64_t failing_ns;     /* intended send of the first failure since a success; 0: none */
};

int64_t worker_now_ns(void)
{
    return util_mono_ns();
}

/* ---- the ready heap (a binary min-heap of user indices by ready_ns) ---- */

/* Swap heap slots i and j. */
static void heap_swap(struct worker *w, int i, int j)
{
    int a = w->heap[i], b = w->heap[j];
    w->heap[i] = b;
    w->heap[j] = a;
    w->users[b].heap_pos = i;
    w->users[a].heap_pos = j;
}

/* Ready time of heap slot i. */
static int64_t heap_key(const struct worker *w, int i)
{
    return w->users[w->heap[i]].ready_ns;
}

/* Queue user u (not queued yet). */
static void heap_push(struct worker *w, int u)
{
    int i = w->heap_n++;
    w->heap[i] = u;
    w->users[u].heap_pos = i;
    while (i > 0 && heap_key(w, (i - 1) / 2) > heap_key(w, i)) {
        heap_swap(w, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

/* Take the user that is ready first. */
static int heap_pop(struct worker *w)
{
    int top = w->heap[0];
    heap_swap(w, 0, --w->heap_n);
    w->users[top].heap_pos = -1;
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->heap_n && heap_key(w, l) < heap_key(w, m))
            m = l;
        if (r < w->heap_n && heap_key(w, r) < heap_key(w, m))
            m = r;
        if (m == i)
            break;
        heap_swap(w, i, m);
        i = m;
    }
    return top;
}

/* ---- users ---- */

bool worker_init(struct worker *w, int id, const struct opts *o, int first, int count,
                 uint64_t quota, int64_t t0_ns, atomic_bool *stop)
{
    memset(w, 0, sizeof *w);
    w->id = id;
    w->o = o;
    w->first = first;
    w->count = count;
    w->quota = quota;
    w->t0_ns = t0_ns;
    w->stop = stop;
    w->epfd = -1;
    int nsec = (int)o->duration_s + o->timeout_ms / 1000 + 3;
    w->users = calloc((size_t)count, sizeof *w->users);
    w->heap = calloc((size_t)count, sizeof *w->heap);
    if (!w->users || !w->heap || !stats_init(&w->stats, nsec)) {
        free(w->users);
        free(w->heap);
        w->users = NULL;
        w->heap = NULL;
        return false;
    }
    if (o->rate > 0)
        w->period_ns = (int64_t)((double)o->users * 1e9 / o->rate);
    return true;
}

void worker_free(struct worker *w)
{
    for (int i = 0; w->users && i < w->count; i++)
        conn_free(&w->users[i].conn);
    free(w->users);
    free(w->heap);
    w->users = NULL;
    w->heap = NULL;
    if (w->epfd >= 0)
        close(w->epfd);
    w->epfd = -1;
    stats_free(&w->stats);
}

/* The second of the run that t falls in. */
static int worker_second(const struct worker *w, int64_t t)
{
    return (int)((t - w->t0_ns) / 1000000000LL);
}

/* Queue user u for its next request (backoff: after a transport failure). */
static void worker_schedule(struct worker *w, int u, int64_t now, bool backoff)
{
    struct worker_user *usr = &w->users[u];
    if (w->period_ns > 0) {
        usr->next_ns += w->period_ns;
        usr->ready_ns = usr->next_ns;
    } else {
        usr->ready_ns = now;
    }
    if (backoff && usr->ready_ns < now + WORKER_BACKOFF_NS)
        usr->ready_ns = now + WORKER_BACKOFF_NS;
    heap_push(w, u);
}

/* The outcome of user usr's change is unknown (no answer, or a 5xx): with
 * keys, send it again with the same key instead of resynchronizing. */
static void worker_unknown(struct worker *w, struct worker_user *usr)
{
    if (!w->o->scen.keys || !scen_is_change(usr->req.op) || !usr->req.key[0])
        return;
    if (usr->req.op != SCEN_CREATE && !usr->cart.exists)
        return;
    usr->cart.retry = true;
    usr->cart.unsure = false;
}

/* A session's answer was a failure (ok false) or a success: track its outage. */
static void worker_outage(struct worker *w, struct worker_user *usr, bool ok, int64_t now)
{
    if (!ok && !usr->failing_ns)
        usr->failing_ns = usr->intended_ns ? usr->intended_ns : now;
    if (ok && usr->failing_ns) {
        if ((now - usr->failing_ns) / 1000 > w->stats.longest_outage_us)
            w->stats.longest_outage_us = (now - usr->failing_ns) / 1000;
        usr->failing_ns = 0;
    }
}

/* A request of user u got no answer: kind is CHECK_ERROR or CHECK_TIMEOUT. */
static void worker_fail(struct worker *w, int u, enum check_kind kind, int64_t now)
{
    struct worker_user *usr = &w->users[u];
    char detail[200];
    int err = usr->conn.err;
    conn_close(&usr->conn);
    usr->in_flight = false;
    w->inflight--;
    if (w->verifying) {
        w->stats.final_differ++;
        stats_example(&w->stats, "final read: no answer");
        return;
    }
    check_no_response(&usr->cart, &usr->req);
    worker_unknown(w, usr);
    worker_outage(w, usr, false, now);
    if (kind == CHECK_TIMEOUT) {
        snprintf(detail, sizeof detail, "%s: no answer within %d ms", scen_op_name(usr->req.op),
                 w->o->timeout_ms);
        stats_record(&w->stats, worker_second(w, now), kind, 0, (now - usr->intended_ns) / 1000,
                     (now - usr->sent_ns) / 1000);
    } else {
        snprintf(detail, sizeof detail, "%s: connection failed: %s", scen_op_name(usr->req.op),
                 err ? strerror(err) : "bad HTTP response");
        stats_record(&w->stats, worker_second(w, now), kind, 0, -1, -1);
    }
    stats_example(&w->stats, detail);
    worker_schedule(w, u, now, true);
}

/* The final read of user u's cart is in: it must be exactly the model. */
static void worker_verified(struct worker *w, int u)
{
    struct worker_user *usr = &w->users[u];
    struct conn_resp *r = &usr->conn.resp;
    struct check_resp cr = {r->status, r->body ? r->body : "", r->body_len};
    struct check_result res = check_response(&w->o->scen, &usr->cart, &usr->req, &cr);
    if (res.kind == CHECK_OK) {
        w->stats.final_exact++;
    } else {
        w->stats.final_differ++;
        char detail[240];
        snprintf(detail, sizeof detail, "final read: %s", res.detail);
        stats_example(&w->stats, detail);
    }
}

/* User u's answer is in: keep its cookies, judge it, count it, queue the next. */
static void worker_done(struct worker *w, int u, int64_t now)
{
    struct worker_user *usr = &w->users[u];
    struct conn_resp *r = &usr->conn.resp;
    usr->in_flight = false;
    w->inflight--;
    if (w->verifying) {
        worker_verified(w, u);
        return;
    }
    for (int i = 0; i < r->n_cookies; i++)
        jar_set(&usr->jar, r->cookies[i]);
    struct check_resp cr = {r->status, r->body ? r->body : "", r->body_len};
    usr->cart.retry = false;
    struct check_result res = check_response(&w->o->scen, &usr->cart, &usr->req, &cr);
    if (r->replayed)
        w->stats.replays++;
    if (r->status >= 500)
        worker_unknown(w, usr);
    if (res.cart_created)
        w->stats.carts_created++;
    if (res.cart_lost) {
        w->stats.carts_lost++;
        jar_clear(&usr->jar);
    }
    if (res.kind != CHECK_OK)
        stats_example(&w->stats, res.detail);
    worker_outage(w, usr, res.kind == CHECK_OK, now);
    stats_record(&w->stats, worker_second(w, now), res.kind, r->status,
                 (now - usr->intended_ns) / 1000, (now - usr->sent_ns) / 1000);
    worker_schedule(w, u, now, false);
}

/* Choose user u's next request: the same change with the same key when its
 * outcome is unknown (bounded), else a new one, with a new key if it changes. */
static void worker_next(struct worker *w, int u)
{
    struct worker_user *usr = &w->users[u];
    if (usr->cart.retry && usr->tries < WORKER_RETRIES_MAX) {
        usr->tries++;
        w->stats.retries++;
        return;
    }
    if (usr->cart.retry) {          /* given up: forget the key, read the cart */
        usr->cart.retry = false;
        usr->cart.unsure = usr->cart.exists;
    }
    usr->tries = 0;
    scen_next(&w->o->scen, &usr->cart, &usr->rng, &usr->req);
    if (w->o->scen.keys && scen_is_change(usr->req.op))
        snprintf(usr->req.key, sizeof usr->req.key, "%016llx-%x-%llx",
                 (unsigned long long)(w->t0_ns ^ (int64_t)(w->o->seed * 0x9E3779B97F4A7C15ULL)),
                 (unsigned)(w->first + u), (unsigned long long)usr->nkeys++);
}

/* Send user u's next request. */
static void worker_issue(struct worker *w, int u, int64_t now)
{
    struct worker_user *usr = &w->users[u];
    char cookie[JAR_MAX * (JAR_NAME_MAX + JAR_VALUE_MAX + 2)];
    worker_next(w, u);
    jar_header(&usr->jar, cookie, sizeof cookie);
    size_t len = scen_format(&w->o->scen, &usr->cart, &usr->req, w->o->host, cookie,
                             usr->conn.wbuf, sizeof usr->conn.wbuf);
    usr->intended_ns = w->period_ns > 0 ? usr->next_ns : now;
    usr->sent_ns = now;
    usr->deadline_ns = now + (int64_t)w->o->timeout_ms * 1000000LL;
    usr->in_flight = true;
    w->inflight++;
    w->issued++;
    if (len == 0 || conn_send(&usr->conn, &w->o->addr, len) == CONN_FAIL)
        worker_fail(w, u, CHECK_ERROR, now);
}

/* Fail every request past its deadline. */
static void worker_timeouts(struct worker *w, int64_t now)
{
    for (int u = 0; u < w->count; u++)
        if (w->users[u].in_flight && now >= w->users[u].deadline_ns)
            worker_fail(w, u, CHECK_TIMEOUT, now);
}

/* Wait for events up to wait_ns; returns the count (0 on timeout or EINTR). */
static int worker_wait(struct worker *w, struct epoll_event *evs, int64_t wait_ns)
{
    if (wait_ns < 0)
        wait_ns = 0;
    struct timespec ts = {wait_ns / 1000000000LL, wait_ns % 1000000000LL};
    int n = epoll_pwait2(w->epfd, evs, WORKER_EVENTS, &ts, NULL);
    if (n < 0 && errno == ENOSYS)
        n = epoll_wait(w->epfd, evs, WORKER_EVENTS, (int)((wait_ns + 999999) / 1000000));
    return n < 0 ? 0 : n;
}

/* Set up the users: connections, seeds, first send times. */
static void worker_users(struct worker *w)
{
    for (int u = 0; u < w->count; u++) {
        struct worker_user *usr = &w->users[u];
        int g = w->first + u;
        conn_init(&usr->conn, w->epfd, (void *)(intptr_t)u);
        scen_cart_reset(&usr->cart);
        usr->rng = (w->o->seed + 1) * 0x9E3779B97F4A7C15ULL + (uint64_t)g * 0xBF58476D1CE4E5B9ULL;
        if (!usr->rng)
            usr->rng = 1;
        usr->next_ns = w->t0_ns + (w->period_ns > 0 ? (int64_t)((double)g * 1e9 / w->o->rate) : 0);
        usr->ready_ns = usr->next_ns;
        heap_push(w, u);
    }
}

/* Handle one batch of epoll events. */
static void worker_events(struct worker *w, struct epoll_event *evs, int n)
{
    int64_t now = worker_now_ns();
    for (int i = 0; i < n; i++) {
        int u = (int)(intptr_t)evs[i].data.ptr;
        if (!w->users[u].in_flight) {
            conn_event(&w->users[u].conn, evs[i].events);   /* an idle close */
            continue;
        }
        enum conn_rc rc = conn_event(&w->users[u].conn, evs[i].events);
        if (rc == CONN_DONE)
            worker_done(w, u, now);
        else if (rc == CONN_FAIL)
            worker_fail(w, u, CHECK_ERROR, now);
    }
}

/* After the run: read every cart whose state the model knows for sure, once,
 * and count those that are exactly the model (bounded by the timeout). */
static void worker_verify(struct worker *w)
{
    struct epoll_event evs[WORKER_EVENTS];
    char cookie[JAR_MAX * (JAR_NAME_MAX + JAR_VALUE_MAX + 2)];
    w->verifying = true;
    int64_t now = worker_now_ns(), end = now + (int64_t)w->o->timeout_ms * 1000000LL;
    for (int u = 0; u < w->count; u++) {
        struct worker_user *usr = &w->users[u];
        if (!usr->cart.exists || usr->cart.unsure || usr->cart.retry)
            continue;
        memset(&usr->req, 0, sizeof usr->req);
        usr->req.op = SCEN_GET;
        jar_header(&usr->jar, cookie, sizeof cookie);
        size_t len = scen_format(&w->o->scen, &usr->cart, &usr->req, w->o->host, cookie,
                                 usr->conn.wbuf, sizeof usr->conn.wbuf);
        usr->in_flight = true;
        usr->deadline_ns = end;
        w->inflight++;
        if (len == 0 || conn_send(&usr->conn, &w->o->addr, len) == CONN_FAIL)
            worker_fail(w, u, CHECK_ERROR, now);
    }
    while (w->inflight > 0 && (now = worker_now_ns()) < end + WORKER_SCAN_NS) {
        worker_timeouts(w, now);
        worker_events(w, evs, worker_wait(w, evs, WORKER_SCAN_NS));
    }
}

void *worker_run(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[WORKER_EVENTS];
    prctl(PR_SET_TIMERSLACK, 1UL);  /* wake at the intended send time, not 50 us later */
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0) {
        w->err = errno;
        w->end_ns = worker_now_ns();
        return NULL;
    }
    worker_users(w);
    const int64_t end = w->t0_ns + (int64_t)(w->o->duration_s * 1e9);
    const int64_t hard_end = end + (int64_t)w->o->timeout_ms * 1000000LL + 1000000000LL;
    int64_t last_scan = w->t0_ns;
    for (;;) {
        int64_t now = worker_now_ns();
        bool stopping = atomic_load(w->stop) || now >= end || (w->quota && w->issued >= w->quota);
        if ((stopping && w->inflight == 0) || now >= hard_end)
            break;
        while (!stopping && w->heap_n && heap_key(w, 0) <= now &&
               !(w->quota && w->issued >= w->quota))
            worker_issue(w, heap_pop(w), now);
        if (now - last_scan >= WORKER_SCAN_NS) {
            worker_timeouts(w, now);
            last_scan = now;
        }
        int64_t wait = WORKER_SCAN_NS;
        if (!stopping && w->heap_n && heap_key(w, 0) - now < wait)
            wait = heap_key(w, 0) - now;
        if (!stopping && end - now < wait)
            wait = end - now;
        worker_events(w, evs, worker_wait(w, evs, wait));
    }
    w->end_ns = worker_now_ns();
    for (int u = 0; u < w->count; u++) /* a session still failing at the end: until then */
        worker_outage(w, &w->users[u], true, w->end_ns);
    if (w->o->verify && !atomic_load(w->stop))
        worker_verify(w);
    for (int u = 0; u < w->count; u++)
        w->stats.connects += w->users[u].conn.connects;
    return NULL;
}
