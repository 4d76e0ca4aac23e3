/* opts: cartload's command line (see opts.h). */
#include "opts.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void opts_usage(FILE *f)
{
    fputs("Usage: cartload [options] http://127.0.0.1:PORT\n"
          "Load generator for the cart API that checks every answer against each\n"
          "user's model of its cart.\n\n"
          "Load:\n"
          "  -u, --users N          virtual users, one keep-alive connection each (16)\n"
          "  -t, --threads N        threads, each with its own epoll loop (1)\n"
          "  -d, --duration S       run for S seconds, always applies (10; max 3600)\n"
          "  -n, --requests N       also stop after N requests in all\n"
          "  -R, --rate R           open model: R requests/s in all, latency from the\n"
          "                         intended send time; default: closed model\n"
          "      --timeout MS       per-request timeout (2000)\n"
          "Scenario:\n"
          "      --scenario NAME    cart (create, then the mix) or static (GET --path)\n"
          "      --path P           the static scenario's path (/healthz)\n"
          "      --mix SPEC         weights, e.g. add=30,set=20,remove=10,get=40\n"
          "      --skus N           distinct skus per user (12)\n"
          "      --max-qty N        qty of an add or set: 1..N (5)\n"
          "      --max-items N      the service's MAX_ITEMS (100)\n"
          "      --by-id            /carts/{id}/... paths (default: cookie routes /cart...)\n"
          "      --no-keys          no Idempotency-Key on changes; an unknown outcome\n"
          "                         (timeout, 5xx, broken connection) is resynchronized\n"
          "                         with a GET instead of retried with the same key\n"
          "      --seed N           random seed (1)\n"
          "      --verify           after the run, read every cart once: it must be\n"
          "                         exactly the model (counted in mismatches)\n"
          "Output:\n"
          "      --label NAME       the run's name in the outputs\n"
          "      --json FILE        summary as JSON ('-': stdout)\n"
          "      --csv FILE         per-second series\n"
          "      --spectrum FILE    latency by percentile (for plots)\n"
          "  -q, --quiet            no progress line, no human summary\n"
          "Thresholds (exit 1 when one fails):\n"
          "      --max-p99 MS       p99 latency (corrected) at most MS milliseconds\n"
          "      --max-error-rate R failed requests / requests at most R (0.01 or 1%)\n"
          "      --max-mismatches N lost + stale + misdirected at most N (0; -1: off)\n"
          "Exit: 0 ok, 1 a threshold failed, 2 usage, 3 the run could not be done.\n",
          f);
}

/* Parse a number within [lo, hi]; false otherwise. */
static bool opts_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s)
        return false;
    if (*end == '%') {
        v /= 100.0;
        end++;
    }
    if (*end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* Parse "http://a.b.c.d:port[/]" into o; false when it is not one. */
static bool opts_url(struct opts *o, const char *url)
{
    char host[24];         /* a dotted IPv4 address fits */
    int port = 0;
    const char *p = url;
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    size_t hlen = strcspn(p, ":/");
    if (hlen == 0 || hlen >= sizeof host || p[hlen] != ':')
        return false;
    memcpy(host, p, hlen);
    host[hlen] = '\0';
    char *end;
    port = (int)strtol(p + hlen + 1, &end, 10);
    if (port < 1 || port > 65535 || (*end && strcmp(end, "/") != 0))
        return false;
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    memset(&o->addr, 0, sizeof o->addr);
    o->addr.sin_family = AF_INET;
    o->addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &o->addr.sin_addr) != 1)
        return false;
    snprintf(o->host, sizeof o->host, "%s:%d", host, port);
    snprintf(o->url, sizeof o->url, "http://%s", o->host);
    return true;
}

/* Set defaults. */
static void opts_defaults(struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->users = 16;
    o->threads = 1;
    o->duration_s = 10;
    o->timeout_ms = 2000;
    o->seed = 1;
    o->label = "cartload";
    o->max_p99_ms = -1;
    o->max_error_rate = -1;
    o->max_mismatches = 0;
    scen_cfg_default(&o->scen);
}

/* Apply one option that takes a number or a word; false on a bad value. */
static bool opts_one(struct opts *o, int c, const char *arg)
{
    double v;
    switch (c) {
    case 'u': if (!opts_num(arg, 1, OPTS_USERS_MAX, &v)) return false; o->users = (int)v; break;
    case 't': if (!opts_num(arg, 1, OPTS_THREADS_MAX, &v)) return false; o->threads = (int)v; break;
    case 'd': return opts_num(arg, 0.1, OPTS_DURATION_MAX, &o->duration_s);
    case 'n': if (!opts_num(arg, 1, 1e15, &v)) return false; o->requests = (uint64_t)v; break;
    case 'R': return opts_num(arg, 0.001, 1e8, &o->rate);
    case 'T': if (!opts_num(arg, 1, 60000, &v)) return false; o->timeout_ms = (int)v; break;
    case 'S':
        if (strcmp(arg, "static") != 0 && strcmp(arg, "cart") != 0)
            return false;
        o->scen.is_static = strcmp(arg, "static") == 0;
        break;
    case 'P':
        if (arg[0] != '/' || strlen(arg) >= sizeof o->scen.static_path || strpbrk(arg, " \r\n"))
            return false;
        snprintf(o->scen.static_path, sizeof o->scen.static_path, "%s", arg);
        break;
    case 'M': return scen_parse_mix(&o->scen, arg);
    case 'K': if (!opts_num(arg, 1, SCEN_SKUS_MAX, &v)) return false; o->scen.skus = (int)v; break;
    case 'Q': if (!opts_num(arg, 1, SCEN_QTY_MAX, &v)) return false; o->scen.max_qty = (int)v; break;
    case 'I': if (!opts_num(arg, 1, 100000, &v)) return false; o->scen.max_items = (int)v; break;
    case 's': if (!opts_num(arg, 0, 1e18, &v)) return false; o->seed = (uint64_t)v; break;
    case 'p': return opts_num(arg, 0, 1e7, &o->max_p99_ms);
    case 'e': return opts_num(arg, 0, 1, &o->max_error_rate);
    case 'm': if (!opts_num(arg, -1, 1e15, &v)) return false; o->max_mismatches = (long long)v; break;
    default: return false;
    }
    return true;
}

int opts_parse(struct opts *o, int argc, char **argv, char *err, size_t errlen)
{
    static const struct option longs[] = {
        {"users", 1, 0, 'u'}, {"threads", 1, 0, 't'}, {"duration", 1, 0, 'd'},
        {"requests", 1, 0, 'n'}, {"rate", 1, 0, 'R'}, {"timeout", 1, 0, 'T'},
        {"scenario", 1, 0, 'S'}, {"path", 1, 0, 'P'}, {"mix", 1, 0, 'M'}, {"skus", 1, 0, 'K'},
        {"max-qty", 1, 0, 'Q'}, {"max-items", 1, 0, 'I'}, {"by-id", 0, 0, 'B'}, {"no-keys", 0, 0, 'k'}, {"verify", 0, 0, 'V'},
        {"seed", 1, 0, 's'}, {"label", 1, 0, 'L'}, {"json", 1, 0, 'J'}, {"csv", 1, 0, 'C'},
        {"spectrum", 1, 0, 'X'}, {"quiet", 0, 0, 'q'}, {"max-p99", 1, 0, 'p'},
        {"max-error-rate", 1, 0, 'e'}, {"max-mismatches", 1, 0, 'm'}, {"help", 0, 0, 'h'},
        {0, 0, 0, 0},
    };
    opts_defaults(o);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "u:t:d:n:R:qh", longs, NULL)) != -1) {
        switch (c) {
        case 'h': opts_usage(stdout); return 1;
        case 'q': o->quiet = true; break;
        case 'B': o->scen.by_id = true; break;
        case 'k': o->scen.keys = false; break;
        case 'V': o->verify = true; break;
        case 'L': o->label = optarg; break;
        case 'J': o->json_path = optarg; break;
        case 'C': o->csv_path = optarg; break;
        case 'X': o->spectrum_path = optarg; break;
        case '?': snprintf(err, errlen, "unknown option or missing value"); return -1;
        default:
            if (!opts_one(o, c, optarg)) {
                snprintf(err, errlen, "bad value for %s: '%s'", argv[optind - 1], optarg);
                return -1;
            }
        }
    }
    if (optind != argc - 1 || !opts_url(o, argv[optind])) {
        snprintf(err, errlen, "expected one target URL, http://IPv4:PORT");
        return -1;
    }
    if (o->threads > o->users)
        o->threads = o->users;
    o->progress = !o->quiet && isatty(STDERR_FILENO);
    return 0;
}
