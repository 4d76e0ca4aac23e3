/* cfg: configuration from environment variables and command-line flags.
 *
 * Every setting is an environment variable (PORT) and a flag (--port 8080 or
 * --port=8080); a flag wins over the variable. Every value is checked; a bad
 * one yields CFG_ERROR and a message naming the variable. Not thread-safe:
 * load once at start-up, then only read. */
#ifndef CFG_H
#define CFG_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"
#include "secret.h"

/* Option groups a service takes (cfg_profile.groups); the common ones always. */
#define CFG_G_MEMORY 1u       /* carts in memory: MAX_CARTS, MAX_MEMORY, PEERS, replication */
#define CFG_G_REDIS 2u        /* carts in Redis: REDIS_URL, REDIS_TIMEOUT_MS, Sentinel */

/* What a service's main passes in: its name and defaults, and the option
 * groups it takes (listed by --help). cfg knows no service beyond this. */
struct cfg_profile {
    const char *name;         /* the program, for --help */
    const char *summary;      /* --help's first line */
    int default_port;
    unsigned groups;          /* CFG_G_* */
};

enum cfg_status { CFG_OK = 0, CFG_HELP, CFG_VERSION, CFG_ERROR };

struct cfg {
    int port;                 /* PORT, 1..65535 (default: the profile's) */
    char listen_addr[64];     /* LISTEN_ADDR, an IPv4 or IPv6 literal (default 127.0.0.1) */
    int threads;              /* THREADS, 1..256 (default: online cores) */
    char instance_id[64];     /* INSTANCE_ID, [A-Za-z0-9._-]{1,63} (default: host name) */
    int ttl;                  /* CART_TTL_SECONDS, 1..2592000 (default 1800) */
    long max_carts;           /* MAX_CARTS, 1..100000000 (default 1000000; stateful) */
    int max_items;            /* MAX_ITEMS, 1..10000 (default 100) */
    char redis_url[256];      /* REDIS_URL, redis:// or unix:// (default redis://127.0.0.1:6379/0) */
    int redis_timeout_ms;     /* REDIS_TIMEOUT_MS, 1..60000 (default 500) */
    enum log_level log_level; /* LOG_LEVEL (default info) */
    enum log_format log_format; /* LOG_FORMAT (default text) */
    int drain_seconds;        /* DRAIN_SECONDS, 0..3600 (default 0) */
    int max_conns;            /* MAX_CONNECTIONS, 1..100000 (default 4096) */
    int max_conns_per_ip;     /* MAX_CONNECTIONS_PER_IP, 0..100000, 0 = no limit (default 1024) */
    int idle_timeout;         /* IDLE_TIMEOUT_SECONDS, 1..3600 (default 30) */
    char peers[1024];         /* PEERS, host:port,... of the stateful replicas (default "") */
    char redis_sentinels[1024]; /* REDIS_SENTINELS, host:port,... (default "": use REDIS_URL) */
    char redis_master_name[64]; /* REDIS_MASTER_NAME, as the sentinels know it (default mymaster) */
    int redis_wait_replicas;  /* REDIS_WAIT_REPLICAS, 0..16 (default 0: no WAIT) */
    char redis_password_file[256]; /* REDIS_PASSWORD_FILE, Redis and Sentinel password (default "") */
    char peers_statefulset[160]; /* PEERS_STATEFULSET, service:port:count (default "") */
    char replication[8];      /* REPLICATION, sync, async or off (default sync; stateful) */
    int repl_port_offset;     /* REPL_PORT_OFFSET, 1..64535 (default 1000) */
    int repl_timeout_ms;      /* REPL_TIMEOUT_MS, 10..60000 (default 2000) */
    int repl_min_members;     /* REPL_MIN_MEMBERS, 0..64 (default 3; 0: no split-brain protection) */
    long max_memory;          /* MAX_MEMORY, bytes, 0 = no limit (default 0) */
    char repl_secret_file[256]; /* REPL_SECRET_FILE, the replication links' secret (default "") */
    unsigned char repl_secret[SECRET_MAX]; /* its bytes, read by cfg_load: never log them */
    size_t repl_secret_len;   /* 0: no secret (links not authenticated) */
};

#define CFG_MAX_PEERS 64

/* One entry of PEERS. */
struct cfg_peer {
    char host[128];
    int port;
};

/* Parsed parts of a REDIS_URL. */
struct cfg_redis {
    char host[200];           /* host name, or the socket path when unix_socket */
    bool unix_socket;
    int port;
    char password[128];       /* "" when none */
    int db;
};

/* Fill c from defaults, then the environment, then argv; err names the culprit. */
enum cfg_status cfg_load(struct cfg *c, const struct cfg_profile *p, int argc, char **argv,
                         char *err, size_t errlen);

/* Parse redis://[:password@]host[:port][/db] or unix://[:password@]/path[?db=N];
 * 0 on success, -1 with err set. */
int cfg_parse_redis_url(const char *url, struct cfg_redis *out, char *err, size_t errlen);

int cfg_parse_redis_url(const char *url, struct cfg_redis *out, char *err, size_t errlen);

/* Read a password file (one line; a trailing newline is dropped) into out;
 * 0, or -1 with err set (never quoting the file's content). */
int cfg_read_password(const char *path, char *out, size_t outlen, char *err, size_t errlen);


/* Parse PEERS ("host:port,host:port"); the count, or -1 with err set. */
int cfg_parse_peers(const char *list, struct cfg_peer *out, size_t max, char *err, size_t errlen);

/* Print --help text for this profile to stdout. */
void cfg_usage(const struct cfg_profile *p);

#endif
