/* cfg: configuration from environment variables and command-line flags (see cfg.h). */
#include "cfg.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum opt_type { T_INT, T_LONG, T_ADDR, T_ID, T_REDIS, T_LEVEL, T_FORMAT, T_PEERS, T_PATH, T_REPL, T_STS, T_SECRET };

#define K_FUL CFG_G_MEMORY
#define K_LESS CFG_G_REDIS
#define K_BOTH 0u                 /* every service */

/* One setting: its variable, its flag, how to check it and where it goes. */
struct opt {
    const char *env;
    const char *flag;        /* without the leading "--" */
    enum opt_type type;
    long min, max;           /* for T_INT and T_LONG */
    size_t off;              /* of the field in struct cfg */
    unsigned kinds;          /* the option group (CFG_G_*) --help lists it for; 0: every service */
    const char *metavar;
    const char *help;
    const char *def;         /* the default; "none", "online cores", "host name": computed;
                              * NULL: the profile's port */
};

#define F(field) offsetof(struct cfg, field)

/* Every service takes every row; --help lists the rows of its groups. */
static const struct opt opts[] = {
    { "PORT", "port", T_INT, 1, 65535, F(port), K_BOTH, "N",
      "TCP port to listen on", NULL },
    { "LISTEN_ADDR", "listen-addr", T_ADDR, 0, 0, F(listen_addr), K_BOTH, "ADDR",
      "IPv4 or IPv6 address to listen on", "127.0.0.1" },
    { "THREADS", "threads", T_INT, 1, 256, F(threads), K_BOTH, "N",
      "HTTP worker threads", "online cores" },
    { "INSTANCE_ID", "instance-id", T_ID, 0, 0, F(instance_id), K_BOTH, "ID",
      "name of this instance, [A-Za-z0-9._-]{1,63}; sent as X-Instance", "host name" },
    { "CART_TTL_SECONDS", "cart-ttl-seconds", T_INT, 1, 2592000, F(ttl), K_BOTH, "N",
      "idle time after which a cart expires", "1800" },
    { "MAX_CARTS", "max-carts", T_LONG, 1, 100000000, F(max_carts), K_FUL, "N",
      "carts held at most (when full, new carts get 503)", "1000000" },
    { "MAX_ITEMS", "max-items", T_INT, 1, 10000, F(max_items), K_BOTH, "N",
      "distinct lines per cart at most", "100" },
    { "REDIS_URL", "redis-url", T_REDIS, 0, 0, F(redis_url), K_LESS, "URL",
      "Redis server, redis://[:password@]host[:port][/db]", "redis://127.0.0.1:6379/0" },
    { "REDIS_TIMEOUT_MS", "redis-timeout-ms", T_INT, 1, 60000, F(redis_timeout_ms), K_LESS,
      "MS", "timeout of one Redis connect or command, in milliseconds", "500" },
    { "LOG_LEVEL", "log-level", T_LEVEL, 0, 0, F(log_level), K_BOTH, "LEVEL",
      "least level logged: debug, info, warn or error", "info" },
    { "LOG_FORMAT", "log-format", T_FORMAT, 0, 0, F(log_format), K_BOTH, "FMT",
      "log record format: text or json", "text" },
    { "DRAIN_SECONDS", "drain-seconds", T_INT, 0, 3600, F(drain_seconds), K_BOTH, "N",
      "after SIGTERM, keep serving new connections this long", "0" },
    { "MAX_CONNECTIONS", "max-connections", T_INT, 1, 100000, F(max_conns), K_BOTH, "N",
      "open connections at most", "4096" },
    { "MAX_CONNECTIONS_PER_IP", "max-connections-per-ip", T_INT, 0, 100000,
      F(max_conns_per_ip), K_BOTH, "N", "open connections per client address (0 = no limit)",
      "1024" },
    { "IDLE_TIMEOUT_SECONDS", "idle-timeout-seconds", T_INT, 1, 3600, F(idle_timeout), K_BOTH,
      "N", "close a connection idle this long", "30" },
    { "PEERS", "peers", T_PEERS, 0, 0, F(peers), K_FUL, "LIST",
      "host:port,... of all replicas (this one included): replication and takeover", "none" },
    { "PEERS_STATEFULSET", "peers-statefulset", T_STS, 0, 0, F(peers_statefulset), K_FUL,
      "SVC:PORT:N", "instead of PEERS: the pods <set>-0..N-1.SVC:PORT of this pod's StatefulSet",
      "none" },
    { "REPLICATION", "replication", T_REPL, 0, 0, F(replication), K_FUL, "MODE",
      "with PEERS: sync (a change waits for the backup's ack), async or off", "sync" },
    { "REPL_PORT_OFFSET", "repl-port-offset", T_INT, 1, 64535, F(repl_port_offset), K_FUL, "N",
      "replication listens on PORT + N (and reaches a peer at its port + N)", "1000" },
    { "REPL_TIMEOUT_MS", "repl-timeout-ms", T_INT, 10, 60000, F(repl_timeout_ms), K_FUL, "MS",
      "a peer that leaves a request unanswered this long counts as dead", "2000" },
    { "REPL_MIN_MEMBERS", "repl-min-members", T_INT, 0, 64, F(repl_min_members), K_FUL, "N",
      "sync: from N members on, a replica without a majority of them refuses changes (0: off)",
      "3" },
    { "MAX_MEMORY", "max-memory", T_LONG, 0, 1L << 50, F(max_memory), K_FUL, "BYTES",
      "bytes of owned and backup carts at most (when full, new carts get 503; 0 = no limit)",
      "0" },
    { "REDIS_SENTINELS", "redis-sentinels", T_PEERS, 0, 0, F(redis_sentinels), K_LESS, "LIST",
      "host:port,... of Redis Sentinels; then REDIS_URL gives only the password and db", "none" },
    { "REDIS_MASTER_NAME", "redis-master-name", T_ID, 0, 0, F(redis_master_name), K_LESS, "NAME",
      "the primary's name in the sentinels' configuration", "mymaster" },
    { "REDIS_WAIT_REPLICAS", "redis-wait-replicas", T_INT, 0, 16, F(redis_wait_replicas), K_LESS,
      "N", "acknowledge a change only once N replicas have it (one WAIT per batch)", "0" },
    { "REDIS_PASSWORD_FILE", "redis-password-file", T_PATH, 0, 0, F(redis_password_file), K_LESS,
      "FILE", "file holding the Redis and Sentinel password (wins over REDIS_URL's)", "none" },
    { "REPL_SECRET_FILE", "repl-secret-file", T_SECRET, 0, 0, F(repl_secret_file), K_FUL, "FILE",
      "file holding the secret (16..1024 bytes) every replica must prove it holds to join "
      "replication", "none" },
};

#define N_OPTS (sizeof opts / sizeof opts[0])

/* Parse the n chars at s as a decimal integer in min..max, nothing else allowed. */
static bool parse_range(const char *s, size_t n, long min, long max, long *out)
{
    char buf[24];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    const char *d = buf[0] == '-' ? buf + 1 : buf;
    if (*d < '0' || *d > '9')
        return false;              /* strtol would take spaces and '+' */
    char *end;
    errno = 0;
    long v = strtol(buf, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* True when s is [A-Za-z0-9._-]{1,63}. */
static bool instance_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 63)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* Take an optional ":password@" off the front of *p into out->password. */
static int redis_password(const char **p, struct cfg_redis *out, char *err, size_t errlen)
{
    const char *at = strrchr(*p, '@');
    if (!at)
        return 0;
    if (**p != ':')
        return util_seterr(err, errlen, "user names are not supported, use :password@");
    size_t plen = (size_t)(at - *p - 1);
    if (plen == 0)
        return util_seterr(err, errlen, "the password is empty");
    if (plen >= sizeof out->password)
        return util_seterr(err, errlen, "the password is too long");
    memcpy(out->password, *p + 1, plen);
    *p = at + 1;
    return 0;
}

/* Parse the part after unix://[:password@]: an absolute socket path, then ?db=N. */
static int redis_unix(const char *p, struct cfg_redis *out, char *err, size_t errlen)
{
    size_t n = strcspn(p, "?");
    if (n == 0 || p[0] != '/')
        return util_seterr(err, errlen, "the socket path must be absolute (unix:///run/redis.sock)");
    if (n >= sizeof out->host || n >= 108)
        return util_seterr(err, errlen, "the socket path is too long");
    memcpy(out->host, p, n);
    out->unix_socket = true;
    p += n;
    long v;
    if (*p == '?') {
        if (strncmp(p, "?db=", 4) != 0 || !parse_range(p + 4, strlen(p + 4), 0, 15, &v))
            return util_seterr(err, errlen, "the only parameter is ?db=N with N in 0..15");
        out->db = (int)v;
    }
    return 0;
}

/* Parse redis://[:password@]host[:port][/db] or unix://[:password@]/path[?db=N];
 * 0 on success, -1 with err set. */
int cfg_parse_redis_url(const char *url, struct cfg_redis *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    bool unix_sock = url && strncmp(url, "unix://", 7) == 0;
    if (!url || (!unix_sock && strncmp(url, "redis://", 8) != 0))
        return util_seterr(err, errlen, "the scheme must be redis:// or unix://");
    const char *p = url + (unix_sock ? 7 : 8);
    if (redis_password(&p, out, err, errlen) != 0)
        return -1;
    if (unix_sock)
        return redis_unix(p, out, err, errlen);
    size_t hlen = strcspn(p, ":/");
    if (hlen == 0)
        return util_seterr(err, errlen, "the host is empty");
    if (hlen >= sizeof out->host)
        return util_seterr(err, errlen, "the host is too long");
    static const char host_chars[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_";
    for (size_t i = 0; i < hlen; i++)
        if (!strchr(host_chars, p[i]))
            return util_seterr(err, errlen, "the host must be a name or an IPv4 address");
    memcpy(out->host, p, hlen);
    p += hlen;
    long v;
    if (*p == ':') {
        size_t n = strcspn(++p, "/");
        if (!parse_range(p, n, 1, 65535, &v))
            return util_seterr(err, errlen, "the port must be an integer in 1..65535");
        out->port = (int)v;
        p += n;
    }
    if (*p == '/') {
        size_t n = strlen(++p);
        if (n > 0 && !parse_range(p, n, 0, 15, &v))
            return util_seterr(err, errlen, "the db must be an integer in 0..15");
        out->db = n > 0 ? (int)v : 0;
    }
    return 0;
}

int cfg_parse_peers(const char *list, struct cfg_peer *out, size_t max, char *err, size_t errlen)
{
    size_t n = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ","), hlen;
        const char *colon = memchr(p, ':', len);
        if (!colon)
            return util_seterr(err, errlen, "entry %zu has no :port", n + 1);
        if (n == max)
            return util_seterr(err, errlen, "more than %zu peers", max);
        hlen = (size_t)(colon - p);
        if (hlen == 0 || hlen >= sizeof out[n].host || strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                "abcdefghijklmnopqrstuvwxyz0123456789.-_") != hlen)
            return util_seterr(err, errlen, "entry %zu: the host must be a name or IPv4 address", n + 1);
        long port;
        if (!parse_range(colon + 1, len - hlen - 1, 1, 65535, &port))
            return util_seterr(err, errlen, "entry %zu: the port must be in 1..65535", n + 1);
        memcpy(out[n].host, p, hlen);
        out[n].host[hlen] = '\0';
        out[n++].port = (int)port;
        p += len;
        if (*p == ',' && !*++p)
            return util_seterr(err, errlen, "a trailing comma");
    }
    return (int)n;
}

/* Read a password file (see cfg.h). */
int cfg_read_password(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return util_seterr(err, errlen, "REDIS_PASSWORD_FILE: cannot open %s: %s", path, strerror(errno));
    size_t n = fread(out, 1, outlen, f);
    fclose(f);
    while (n > 0 && n < outlen && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        n--;
    if (n == 0 || n >= outlen || memchr(out, '\n', n) || memchr(out, '\0', n)) {
        memset(out, 0, outlen);
        return util_seterr(err, errlen, "REDIS_PASSWORD_FILE: %s must hold one line of 1..%zu bytes",
                    path, outlen - 1);
    }
    out[n] = '\0';
    return 0;
}

/* Write the host name, made into a valid instance id, to out. */
static void default_instance(char *out, size_t outlen)
{
    char host[256] = "";
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    if (host[0] == '\0')
        snprintf(host, sizeof host, "cartpair");
    for (char *h = host; *h; h++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", *h))
            *h = '-';
    snprintf(out, outlen, "%.63s", host);
}

/* The replication settings (stateful): REPLICATION and PEERS_STATEFULSET. */
static int cfg_apply_text(struct cfg *c, const struct opt *o, const char *v, const char *who,
                          char *err, size_t errlen)
{
    char *field = (char *)c + o->off;
    if (o->type == T_REPL) {
        if (strcmp(v, "sync") && strcmp(v, "async") && strcmp(v, "off"))
            return util_seterr(err, errlen, "%s: '%s' is not one of sync, async, off", who, v);
        snprintf(field, sizeof c->replication, "%s", v);
        return 0;
    }
    if (strlen(v) >= sizeof c->peers_statefulset || strchr(v, ':') == NULL)
        return util_seterr(err, errlen, "%s: '%s' is not service:port:count", who, v);
    snprintf(field, sizeof c->peers_statefulset, "%s", v);
    return 0;
}

/* REPL_SECRET_FILE: the path, and the secret it holds, read now (once). */
static int cfg_apply_secret(struct cfg *c, const char *v, const char *who, char *err,
                            size_t errlen)
{
    if (v[0] == '\0' || strlen(v) >= sizeof c->repl_secret_file)
        return util_seterr(err, errlen, "%s: empty or longer than %zu bytes", who,
                           sizeof c->repl_secret_file - 1);
    if (secret_read(v, who, c->repl_secret, &c->repl_secret_len, err, errlen) != 0)
        return -1;
    snprintf(c->repl_secret_file, sizeof c->repl_secret_file, "%s", v);
    return 0;
}

/* Check value v of setting o and store it in c; who names the variable (and flag). */
static int cfg_apply(struct cfg *c, const struct opt *o, const char *v, const char *who,
                     char *err, size_t errlen)
{
    char *field = (char *)c + o->off;
    long n;
    char why[160];
    struct cfg_redis r;
    switch (o->type) {
    case T_INT:
    case T_LONG:
        if (!parse_range(v, strlen(v), o->min, o->max, &n))
            return util_seterr(err, errlen, "%s: '%s' is not an integer in %ld..%ld", who, v, o->min, o->max);
        if (o->type == T_INT)
            *(int *)field = (int)n;
        else
            *(long *)field = n;
        return 0;
    case T_ADDR: {
        unsigned char a[sizeof(struct in6_addr)];
        if (strlen(v) >= sizeof c->listen_addr ||
            (inet_pton(AF_INET, v, a) != 1 && inet_pton(AF_INET6, v, a) != 1))
            return util_seterr(err, errlen, "%s: '%s' is not an IPv4 or IPv6 address", who, v);
        break;
    }
    case T_ID:
        if (!instance_ok(v))
            return util_seterr(err, errlen, "%s: '%s' does not match [A-Za-z0-9._-]{1,63}", who, v);
        break;
    case T_REDIS:  /* the URL may hold a password: never echo it */
        if (strlen(v) >= sizeof c->redis_url)
            return util_seterr(err, errlen, "%s: the URL is longer than %zu bytes", who,
                        sizeof c->redis_url - 1);
        if (cfg_parse_redis_url(v, &r, why, sizeof why) != 0)
            return util_seterr(err, errlen, "%s: not a redis://[:password@]host[:port][/db] or unix://[:password@]/path[?db=N] URL: %s",
                        who, why);
        break;
    case T_LEVEL:
        if (!log_level_parse(v, (enum log_level *)field))
            return util_seterr(err, errlen, "%s: '%s' is not one of debug, info, warn, error", who, v);
        return 0;
    case T_FORMAT:
        if (!log_format_parse(v, (enum log_format *)field))
            return util_seterr(err, errlen, "%s: '%s' is not one of text, json", who, v);
        return 0;
    case T_PEERS: {
        struct cfg_peer p[CFG_MAX_PEERS];
        if (strlen(v) >= sizeof c->peers)
            return util_seterr(err, errlen, "%s: longer than %zu bytes", who, sizeof c->peers - 1);
        if (cfg_parse_peers(v, p, CFG_MAX_PEERS, why, sizeof why) < 0)
            return util_seterr(err, errlen, "%s: not a host:port,... list: %s", who, why);
        break;
    }
    case T_REPL:
    case T_STS:
        return cfg_apply_text(c, o, v, who, err, errlen);
    case T_SECRET:
        return cfg_apply_secret(c, v, who, err, errlen);
    case T_PATH:
        if (v[0] == '\0' || strlen(v) >= sizeof c->redis_password_file)
            return util_seterr(err, errlen, "%s: empty or longer than %zu bytes", who,
                        sizeof c->redis_password_file - 1);
        break;
    }
    size_t size = o->type == T_ADDR ? sizeof c->listen_addr
                : o->type == T_ID ? sizeof c->instance_id
                : o->type == T_PEERS ? sizeof c->peers
                : o->type == T_PATH ? sizeof c->redis_password_file : sizeof c->redis_url;
    snprintf(field, size, "%s", v);
    return 0;
}

/* Fill c with the defaults of profile p: the table's values, then the computed ones. */
static int cfg_defaults(struct cfg *c, const struct cfg_profile *p, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->port = p->default_port;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c->threads = cores < 1 ? 1 : cores > 256 ? 256 : (int)cores;
    default_instance(c->instance_id, sizeof c->instance_id);
    for (size_t i = 0; i < N_OPTS; i++) {
        const char *d = opts[i].def;
        if (!d || !strcmp(d, "none") || !strcmp(d, "online cores") ||
            !strcmp(d, "host name"))
            continue;
        if (cfg_apply(c, &opts[i], d, opts[i].env, err, errlen) != 0)
            return -1;
    }
    return 0;
}

#define OPT_VAL0 256       /* getopt_long's value for row i is OPT_VAL0 + i */

/* True when tok names flag exactly (--flag, --flag=v or -s): no abbreviations. */
static bool tok_names(const char *tok, const char *flag, char s)
{
    size_t n = strlen(flag);
    if (s && tok[0] == '-' && tok[1] == s && tok[2] == '\0')
        return true;
    return strncmp(tok, "--", 2) == 0 && strncmp(tok + 2, flag, n) == 0 &&
           (tok[2 + n] == '\0' || tok[2 + n] == '=');
}

/* Report tok, which is no option of ours: an unknown --name, or a stray argument. */
static enum cfg_status bad_arg(const char *tok, char *err, size_t errlen)
{
    if (strncmp(tok, "--", 2) == 0 && tok[2] != '\0')
        util_seterr(err, errlen, "unknown option --%.*s (see --help)", (int)strcspn(tok + 2, "="),
                    tok + 2);
    else
        util_seterr(err, errlen, "unexpected argument '%s' (see --help)", tok);
    return CFG_ERROR;
}

/* Fill lo, getopt_long's table, from the rows; lo has N_OPTS + 3 places. */
static void long_opts(struct option *lo)
{
    size_t n = 0;
    for (size_t i = 0; i < N_OPTS; i++)
        lo[n++] = (struct option){ opts[i].flag, required_argument, NULL, OPT_VAL0 + (int)i };
    lo[n++] = (struct option){ "help", no_argument, NULL, 'h' };
    lo[n++] = (struct option){ "version", no_argument, NULL, 'V' };
    lo[n] = (struct option){ NULL, 0, NULL, 0 };
}

/* Walk argv with getopt_long, recording each flag's value in vals; stops at
 * --help or --version, and at the first argument that is no option. */
static enum cfg_status scan_args(int argc, char **argv, const char **vals,
                                 char *err, size_t errlen)
{
    struct option lo[N_OPTS + 3];
    long_opts(lo);
    optind = 0;                /* glibc: start afresh */
    int at = 1;
    for (;;) {
        at = optind ? optind : 1;
        const char *tok = at < argc ? argv[at] : "";
        int ch = getopt_long(argc, argv, "+:hV", lo, NULL);
        if (ch == -1)
            break;
        if (ch == ':' && optopt >= OPT_VAL0) {
            util_seterr(err, errlen, "option --%s needs a value", opts[optopt - OPT_VAL0].flag);
            return CFG_ERROR;
        }
        if (ch == 'h' && tok_names(tok, "help", 'h'))
            return CFG_HELP;
        if (ch == 'V' && tok_names(tok, "version", 'V'))
            return CFG_VERSION;
        if (ch < OPT_VAL0 || !tok_names(tok, opts[ch - OPT_VAL0].flag, 0))
            return bad_arg(tok, err, errlen);
        vals[ch - OPT_VAL0] = optarg;
    }
    if (at < argc && optind == at + 1 && strcmp(argv[at], "--") == 0)
        return bad_arg("--", err, errlen);      /* getopt_long's end of options */
    if (optind < argc)
        return bad_arg(argv[optind], err, errlen);
    return CFG_OK;
}

/* Fill c from defaults, then the environment, then argv; err names the culprit. */
enum cfg_status cfg_load(struct cfg *c, const struct cfg_profile *p, int argc, char **argv,
                         char *err, size_t errlen)
{
    const char *vals[N_OPTS] = { 0 };
    if (err && errlen)
        err[0] = '\0';
    if (cfg_defaults(c, p, err, errlen) != 0)
        return CFG_ERROR;
    enum cfg_status st = scan_args(argc, argv, vals, err, errlen);
    if (st != CFG_OK)
        return st;
    for (size_t i = 0; i < N_OPTS; i++) {
        const char *v = vals[i] ? vals[i] : getenv(opts[i].env);
        if (!v)
            continue;
        char who[96];
        if (vals[i])
            snprintf(who, sizeof who, "%s (--%s)", opts[i].env, opts[i].flag);
        else
            snprintf(who, sizeof who, "%s", opts[i].env);
        if (cfg_apply(c, &opts[i], v, who, err, errlen) != 0)
            return CFG_ERROR;
    }
    return CFG_OK;
}

/* Print --help text for this profile to stdout. */
void cfg_usage(const struct cfg_profile *p)
{
    printf("Usage: %s [options]\n\n", p->name ? p->name : "cartpair");
    printf("%s\n\n", p->summary ? p->summary : "The shopping-cart API.");
    printf("Every option is also an environment variable, named on the right;\n"
           "an option given on the command line wins over the variable.\n\nOptions:\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        const struct opt *o = &opts[i];
        if (o->kinds && !(o->kinds & p->groups))
            continue;
        char lhs[64];
        snprintf(lhs, sizeof lhs, "--%s %s", o->flag, o->metavar);
        printf("  %-36s %s\n", lhs, o->env);
        printf("        %s", o->help);
        if (o->type == T_INT || o->type == T_LONG)
            printf(", %ld..%ld", o->min, o->max);
        if (o->def)
            printf(" (default: %s)\n", o->def);
        else
            printf(" (default: %d)\n", p->default_port);
    }
    printf("  -h, --help\n        print this help and exit\n");
    printf("  -V, --version\n        print the version and exit\n");
}
