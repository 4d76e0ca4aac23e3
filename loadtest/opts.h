/* opts: cartload's command line.
 *
 * Parses the options and the target URL (http://IPv4:port; "localhost" is
 * taken as 127.0.0.1, no name is resolved) into struct opts, with the limits
 * checked: every run is bounded by its duration, and by --requests when given.
 *
 * Not thread-safe (getopt_long); call once from main. */
#ifndef OPTS_H
#define OPTS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "scen.h"

#define OPTS_DURATION_MAX 3600.0
#define OPTS_USERS_MAX 20000
#define OPTS_THREADS_MAX 64

struct opts {
    struct sockaddr_in addr;
    char host[64];              /* Host header: "ip:port" */
    char url[256];
    int users;                  /* virtual users, one connection each */
    int threads;
    double duration_s;          /* always applies */
    uint64_t requests;          /* 0: no request limit */
    double rate;                /* open model: requests/s in all; 0: closed model */
    int timeout_ms;             /* per request */
    uint64_t seed;
    struct scen_cfg scen;
    const char *label;          /* names the run in the outputs */
    const char *json_path;      /* "-": stdout */
    const char *csv_path;
    const char *spectrum_path;
    double max_p99_ms;          /* < 0: no threshold */
    double max_error_rate;      /* < 0: no threshold */
    long long max_mismatches;   /* < 0: no threshold; default 0 */
    bool verify;                /* read every cart after the run; it must be the model */
    bool quiet;                 /* no progress line and no human summary */
    bool progress;              /* a live progress line (stderr is a terminal) */
};

/* Parse argv into o; returns 0 to run, 1 when help was printed, -1 on an error
 * (the message is in err). */
int opts_parse(struct opts *o, int argc, char **argv, char *err, size_t errlen);

/* Print the usage text. */
void opts_usage(FILE *f);

#endif
