/* Tests of cfg (environment, flags, checks, REDIS_URL) and of log's level/format parsing. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "log.h"

static const char *const all_vars[] = {
    "PORT", "LISTEN_ADDR", "THREADS", "INSTANCE_ID", "CART_TTL_SECONDS", "MAX_CARTS",
    "MAX_ITEMS", "REDIS_URL", "REDIS_TIMEOUT_MS", "LOG_LEVEL", "LOG_FORMAT",
    "DRAIN_SECONDS", "MAX_CONNECTIONS", "MAX_CONNECTIONS_PER_IP", "IDLE_TIMEOUT_SECONDS",
    "REDIS_SENTINELS", "REDIS_MASTER_NAME", "REDIS_WAIT_REPLICAS", "REDIS_PASSWORD_FILE",
    "REPL_SECRET_FILE",
};

/* Each test runs in its own process: start it from an environment without our variables. */
static void clear_env(void)
{
    for (size_t i = 0; i < sizeof all_vars / sizeof all_vars[0]; i++)
        unsetenv(all_vars[i]);
}

TestSuite(cfg, .init = clear_env);

/* The two services' profiles, as their main() passes them. */
static const struct cfg_profile FUL = {.name = "stateful-svc", .default_port = 8080,
                                       .groups = CFG_G_MEMORY, .summary = "memory"};
static const struct cfg_profile LESS = {.name = "stateless-svc", .default_port = 8081,
                                        .groups = CFG_G_REDIS, .summary = "redis"};
#define CFG_STATEFUL (&FUL)
#define CFG_STATELESS (&LESS)

/* Load with argv built from a NULL-terminated list of arguments. */
static enum cfg_status load(struct cfg *c, const struct cfg_profile *kind, char *err,
                            size_t errlen, ...)
{
    char *argv[32] = { "svc" };
    int argc = 1;
    va_list ap;
    va_start(ap, errlen);
    for (char *a; argc < 31 && (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    return cfg_load(c, kind, argc, argv, err, errlen);
}

/* Every setting has its documented default for stateful-svc. */
Test(cfg, defaults_stateful)
{
    struct cfg c;
    char err[256];
    cr_assert_eq(load(&c, CFG_STATEFUL, err, sizeof err, NULL), CFG_OK, "%s", err);
    cr_expect_eq(c.port, 8080);
    cr_expect_str_eq(c.listen_addr, "127.0.0.1");
    cr_expect_eq(c.threads, (int)sysconf(_SC_NPROCESSORS_ONLN));
    cr_expect_eq(c.ttl, 1800);
    cr_expect_eq(c.max_carts, 1000000);
    cr_expect_eq(c.max_items, 100);
    cr_expect_str_eq(c.redis_url, "redis://127.0.0.1:6379/0");
    cr_expect_eq(c.redis_timeout_ms, 500);
    cr_expect_eq(c.log_level, LOG_INFO);
    cr_expect_eq(c.log_format, LOG_FMT_TEXT);
    cr_expect_eq(c.drain_seconds, 0);
    cr_expect_eq(c.max_conns, 4096);
    cr_expect_eq(c.max_conns_per_ip, 1024);
    cr_expect_eq(c.idle_timeout, 30);
    cr_expect_gt(strlen(c.instance_id), 0);
    cr_expect_eq(strspn(c.instance_id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                        "0123456789._-"), strlen(c.instance_id));
}

/* stateless-svc listens on 8081 by default. */
Test(cfg, defaults_stateless)
{
    struct cfg c;
    char err[256];
    cr_assert_eq(load(&c, CFG_STATELESS, err, sizeof err, NULL), CFG_OK, "%s", err);
    cr_expect_eq(c.port, 8081);
    cr_expect_eq(c.threads, (int)sysconf(_SC_NPROCESSORS_ONLN));
}

/* Each environment variable replaces its default. */
Test(cfg, env_overrides_defaults)
{
    setenv("PORT", "9000", 1);
    setenv("LISTEN_ADDR", "::1", 1);
    setenv("THREADS", "3", 1);
    setenv("INSTANCE_ID", "pod-a.1_x", 1);
    setenv("CART_TTL_SECONDS", "60", 1);
    setenv("MAX_CARTS", "100000000", 1);
    setenv("MAX_ITEMS", "1", 1);
    setenv("REDIS_URL", "redis://:pw@redis:6380/2", 1);
    setenv("REDIS_TIMEOUT_MS", "60000", 1);
    setenv("LOG_LEVEL", "debug", 1);
    setenv("LOG_FORMAT", "json", 1);
    setenv("DRAIN_SECONDS", "3600", 1);
    setenv("MAX_CONNECTIONS", "10", 1);
    setenv("MAX_CONNECTIONS_PER_IP", "0", 1);
    setenv("IDLE_TIMEOUT_SECONDS", "5", 1);
    struct cfg c;
    char err[256];
    cr_assert_eq(load(&c, CFG_STATELESS, err, sizeof err, NULL), CFG_OK, "%s", err);
    cr_expect_eq(c.port, 9000);
    cr_expect_str_eq(c.listen_addr, "::1");
    cr_expect_eq(c.threads, 3);
    cr_expect_str_eq(c.instance_id, "pod-a.1_x");
    cr_expect_eq(c.ttl, 60);
    cr_expect_eq(c.max_carts, 100000000);
    cr_expect_eq(c.max_items, 1);
    cr_expect_str_eq(c.redis_url, "redis://:pw@redis:6380/2");
    cr_expect_eq(c.redis_timeout_ms, 60000);
    cr_expect_eq(c.log_level, LOG_DEBUG);
    cr_expect_eq(c.log_format, LOG_FMT_JSON);
    cr_expect_eq(c.drain_seconds, 3600);
    cr_expect_eq(c.max_conns, 10);
    cr_expect_eq(c.max_conns_per_ip, 0);
    cr_expect_eq(c.idle_timeout, 5);
}

/* A flag wins over its variable, even over a bad one. */
Test(cfg, flag_overrides_env)
{
    setenv("PORT", "9000", 1);
    setenv("LOG_LEVEL", "error", 1);
    setenv("MAX_ITEMS", "bogus", 1);   /* overridden by the flag: not an error */
    struct cfg c;
    char err[256];
    cr_assert_eq(load(&c, CFG_STATEFUL, err, sizeof err, "--port", "9001", "--log-level=warn",
                      "--max-items", "7", NULL), CFG_OK, "%s", err);
    cr_expect_eq(c.port, 9001);
    cr_expect_eq(c.log_level, LOG_WARN);
    cr_expect_eq(c.max_items, 7);
}

/* Every flag works, as "--flag value" and as "--flag=value". */
Test(cfg, every_flag_in_both_forms)
{
    struct cfg c;
    char err[256];
    cr_assert_eq(load(&c, CFG_STATEFUL, err, sizeof err,
                      "--port=1", "--listen-addr", "0.0.0.0", "--threads=256",
                      "--instance-id", "i1", "--cart-ttl-seconds=2592000", "--max-carts", "1",
                      "--max-items=10000", "--redis-url", "redis://h", "--redis-timeout-ms=1",
                      "--log-level", "error", "--log-format=json", "--drain-seconds", "1",
                      "--max-connections=100000", "--max-connections-per-ip", "100000",
                      "--idle-timeout-seconds=3600", NULL), CFG_OK, "%s", err);
    cr_expect_eq(c.port, 1);
    cr_expect_str_eq(c.listen_addr, "0.0.0.0");
    cr_expect_eq(c.threads, 256);
    cr_expect_str_eq(c.instance_id, "i1");
    cr_expect_eq(c.ttl, 2592000);
    cr_expect_eq(c.max_carts, 1);
    cr_expect_eq(c.max_items, 10000);
    cr_expect_str_eq(c.redis_url, "redis://h");
    cr_expect_eq(c.redis_timeout_ms, 1);
    cr_expect_eq(c.log_level, LOG_ERROR);
    cr_expect_eq(c.log_format, LOG_FMT_JSON);
    cr_expect_eq(c.drain_seconds, 1);
    cr_expect_eq(c.max_conns, 100000);
    cr_expect_eq(c.max_conns_per_ip, 100000);
    cr_expect_eq(c.idle_timeout, 3600);
}

struct numvar {
    const char *env, *flag, *below, *above;
};

static const struct numvar numvars[] = {
    { "PORT", "--port", "0", "65536" },
    { "THREADS", "--threads", "0", "257" },
    { "CART_TTL_SECONDS", "--cart-ttl-seconds", "0", "2592001" },
    { "MAX_CARTS", "--max-carts", "0", "100000001" },
    { "MAX_ITEMS", "--max-items", "0", "10001" },
    { "REDIS_TIMEOUT_MS", "--redis-timeout-ms", "0", "60001" },
    { "DRAIN_SECONDS", "--drain-seconds", "-1", "3601" },
    { "MAX_CONNECTIONS", "--max-connections", "0", "100001" },
    { "MAX_CONNECTIONS_PER_IP", "--max-connections-per-ip", "-1", "100001" },
    { "IDLE_TIMEOUT_SECONDS", "--idle-timeout-seconds", "0", "3601" },
};

/* Every numeric setting refuses junk and out-of-range values, naming itself. */
Test(cfg, bad_numbers_name_the_variable)
{
    const char *bad[] = { "", "abc", "12x", "-1", " 5", "+5", "5 ", "0x10", "1e3",
                          "99999999999999999999999", NULL, NULL };
    for (size_t i = 0; i < sizeof numvars / sizeof numvars[0]; i++) {
        const struct numvar *nv = &numvars[i];
        bad[10] = nv->below;
        bad[11] = nv->above;
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            struct cfg c;
            char err[256] = "";
            setenv(nv->env, bad[j], 1);
            cr_expect_eq(load(&c, CFG_STATELESS, err, sizeof err, NULL), CFG_ERROR,
                         "%s='%s' was accepted", nv->env, bad[j]);
            cr_expect(strncmp(err, nv->env, strlen(nv->env)) == 0 && err[strlen(nv->env)] == ':',
                      "message '%s' does not start with %s:", err, nv->env);
            unsetenv(nv->env);

            char flag[128];
            snprintf(flag, sizeof flag, "%s=%s", nv->flag, bad[j]);
            cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, flag, NULL), CFG_ERROR,
                         "%s was accepted", flag);
            cr_expect(strstr(err, nv->env) && strstr(err, nv->flag),
                      "message '%s' names neither %s nor %s", err, nv->env, nv->flag);
        }
    }
}

/* The ends of a range are accepted. */
Test(cfg, range_limits_accepted)
{
    struct cfg c;
    char err[256];
    setenv("PORT", "65535", 1);
    setenv("DRAIN_SECONDS", "0", 1);
    cr_assert_eq(load(&c, CFG_STATEFUL, err, sizeof err, NULL), CFG_OK, "%s", err);
    cr_expect_eq(c.port, 65535);
    cr_expect_eq(c.drain_seconds, 0);
}

/* The message names the variable, and the flag when the value came from one. */
Test(cfg, error_message_exact)
{
    struct cfg c;
    char err[256];
    setenv("PORT", "99999", 1);
    cr_assert_eq(load(&c, CFG_STATEFUL, err, sizeof err, NULL), CFG_ERROR);
    cr_expect_str_eq(err, "PORT: '99999' is not an integer in 1..65535");
    cr_assert_eq(load(&c, CFG_STATEFUL, err, sizeof err, "--port", "x", NULL), CFG_ERROR);
    cr_expect_str_eq(err, "PORT (--port): 'x' is not an integer in 1..65535");
}

/* LISTEN_ADDR must be an IPv4 or IPv6 literal. */
Test(cfg, bad_listen_addr)
{
    const char *bad[] = { "", "localhost", "1.2.3", "256.1.1.1", "::g", "127.0.0.1:80",
                          "[::1]" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cfg c;
        char err[256] = "";
        setenv("LISTEN_ADDR", bad[i], 1);
        cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, NULL), CFG_ERROR, "'%s'", bad[i]);
        cr_expect(strstr(err, "LISTEN_ADDR") != NULL, "%s", err);
    }
}

/* INSTANCE_ID must match [A-Za-z0-9._-]{1,63}. */
Test(cfg, bad_instance_id)
{
    char longid[80];
    memset(longid, 'a', 64);
    longid[64] = '\0';
    const char *bad[] = { "", "a b", "a/b", "é", "a:b", longid };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cfg c;
        char err[256] = "";
        setenv("INSTANCE_ID", bad[i], 1);
        cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, NULL), CFG_ERROR, "'%s'", bad[i]);
        cr_expect(strstr(err, "INSTANCE_ID") != NULL, "%s", err);
    }
    longid[63] = '\0';
    setenv("INSTANCE_ID", longid, 1);
    struct cfg c;
    char err[256];
    cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, NULL), CFG_OK, "%s", err);
}

/* Bad LOG_LEVEL, LOG_FORMAT and REDIS_URL are refused; the password is not echoed. */
Test(cfg, bad_log_settings_and_redis_url)
{
    struct cfg c;
    char err[256];
    setenv("LOG_LEVEL", "verbose", 1);
    cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, NULL), CFG_ERROR);
    cr_expect(strstr(err, "LOG_LEVEL") != NULL, "%s", err);
    unsetenv("LOG_LEVEL");
    setenv("LOG_FORMAT", "xml", 1);
    cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, NULL), CFG_ERROR);
    cr_expect(strstr(err, "LOG_FORMAT") != NULL, "%s", err);
    unsetenv("LOG_FORMAT");
    setenv("REDIS_URL", "http://:secret@h:1", 1);
    cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, NULL), CFG_ERROR);
    cr_expect(strstr(err, "REDIS_URL") != NULL, "%s", err);
    cr_expect(strstr(err, "secret") == NULL, "the password leaked: %s", err);
}

/* --help, --version, unknown options, missing values and stray arguments. */
Test(cfg, help_version_unknown)
{
    struct cfg c;
    char err[256];
    cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, "--help", NULL), CFG_HELP);
    cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, "-h", NULL), CFG_HELP);
    cr_expect_eq(load(&c, CFG_STATELESS, err, sizeof err, "--version", NULL), CFG_VERSION);
    cr_expect_eq(load(&c, CFG_STATELESS, err, sizeof err, "-V", NULL), CFG_VERSION);
    cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, "--x", NULL), CFG_ERROR);
    cr_expect(strstr(err, "unknown option --x") != NULL, "%s", err);
    cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, "--x=1", NULL), CFG_ERROR);
    cr_expect(strstr(err, "unknown option --x") != NULL, "%s", err);
    cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, "--port", NULL), CFG_ERROR);
    cr_expect(strstr(err, "--port") != NULL, "%s", err);
    cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, "stray", NULL), CFG_ERROR);
    cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, "-p", "1", NULL), CFG_ERROR);
}

/* Flags are whole words (getopt_long would take a unique prefix): no abbreviations. */
Test(cfg, no_abbreviations)
{
    struct cfg c;
    char err[256];
    cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, "--po", "1", NULL), CFG_ERROR);
    cr_expect(strstr(err, "unknown option --po") != NULL, "%s", err);
    cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, "--he", NULL), CFG_ERROR);
    cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, "--port", "1", "--", NULL), CFG_ERROR);
    cr_expect(strstr(err, "'--'") != NULL, "%s", err);
    cr_expect_eq(load(&c, CFG_STATELESS, err, sizeof err, "--max-carts", "5", NULL), CFG_OK, "%s", err);
    cr_expect_eq(c.port, 8081);
}

/* What cfg_usage(kind) printed (stdout redirected by the test's .init), into out. */
static void usage_text(const struct cfg_profile *kind, char *out, size_t size)
{
    cfg_usage(kind);
    fflush(stdout);
    FILE *f = cr_get_redirected_stdout();
    size_t n = fread(out, 1, size - 1, f);
    out[n] = '\0';
}

/* --help lists the options of the kind, with variables and defaults. */
Test(cfg, usage_lists_the_kinds_options, .init = cr_redirect_stdout)
{
    char out[16384];
    usage_text(CFG_STATELESS, out, sizeof out);
    cr_expect(strstr(out, "--redis-url") && strstr(out, "REDIS_URL"), "%s", out);
    cr_expect(strstr(out, "--port") && strstr(out, "8081"), "%s", out);
    cr_expect(strstr(out, "--help") != NULL);
    cr_expect(strstr(out, "MAX_CARTS") == NULL, "stateless help lists MAX_CARTS");
    cr_expect(strstr(out, "REPL_SECRET_FILE") == NULL, "stateless help lists REPL_SECRET_FILE");
}

/* stateful-svc's --help lists the replication secret. */
Test(cfg, usage_lists_the_replication_secret, .init = cr_redirect_stdout)
{
    char out[16384];
    usage_text(CFG_STATEFUL, out, sizeof out);
    cr_expect(strstr(out, "--repl-secret-file FILE") && strstr(out, "REPL_SECRET_FILE"), "%s",
              out);
}

/* Parse a URL that must be good. */
static struct cfg_redis good_url(const char *url)
{
    struct cfg_redis r;
    char err[160] = "";
    cr_assert_eq(cfg_parse_redis_url(url, &r, err, sizeof err), 0, "%s: %s", url, err);
    return r;
}

/* Good REDIS_URLs, with and without password, port and db. */
/* The Redis high-availability settings: defaults, checks, and the password file. */
Test(cfg, redis_sentinel_settings)
{
    struct cfg c;
    char err[256];
    cr_assert_eq(load(&c, CFG_STATELESS, err, sizeof err, NULL), CFG_OK, "%s", err);
    cr_expect_str_eq(c.redis_sentinels, "");
    cr_expect_str_eq(c.redis_master_name, "mymaster");
    cr_expect_eq(c.redis_wait_replicas, 0);
    cr_expect_str_eq(c.redis_password_file, "");
    cr_assert_eq(load(&c, CFG_STATELESS, err, sizeof err, "--redis-sentinels",
                      "127.0.0.1:26379,sentinel-2:26380", "--redis-master-name", "carts-1",
                      "--redis-wait-replicas", "2", "--redis-password-file", "/run/pw", NULL),
                 CFG_OK, "%s", err);
    cr_expect_str_eq(c.redis_sentinels, "127.0.0.1:26379,sentinel-2:26380");
    cr_expect_str_eq(c.redis_master_name, "carts-1");
    cr_expect_eq(c.redis_wait_replicas, 2);
    cr_expect_str_eq(c.redis_password_file, "/run/pw");
    cr_expect_eq(load(&c, CFG_STATELESS, err, sizeof err, "--redis-wait-replicas", "17", NULL),
                 CFG_ERROR);
    cr_expect_not_null(strstr(err, "REDIS_WAIT_REPLICAS"), "%s", err);
    cr_expect_eq(load(&c, CFG_STATELESS, err, sizeof err, "--redis-sentinels", "h:0", NULL),
                 CFG_ERROR);
    cr_expect_not_null(strstr(err, "REDIS_SENTINELS"), "%s", err);
    cr_expect_eq(load(&c, CFG_STATELESS, err, sizeof err, "--redis-master-name", "a b", NULL),
                 CFG_ERROR);
}

/* A password file: one line, the newline dropped; never quoted in an error. */
Test(cfg, password_file)
{
    char path[] = "/tmp/cartpair-pw-XXXXXX", pw[128], err[256];
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "s3cret\n", 7), 7);
    close(fd);
    cr_expect_eq(cfg_read_password(path, pw, sizeof pw, err, sizeof err), 0, "%s", err);
    cr_expect_str_eq(pw, "s3cret");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("two\nlines-secret\n", f);
    fclose(f);
    cr_expect_eq(cfg_read_password(path, pw, sizeof pw, err, sizeof err), -1);
    cr_expect_null(strstr(err, "secret"), "%s", err);
    unlink(path);
    cr_expect_eq(cfg_read_password(path, pw, sizeof pw, err, sizeof err), -1);
    cr_expect_not_null(strstr(err, "REDIS_PASSWORD_FILE"), "%s", err);
}

/* Write content (n bytes) to a new temp file; its path into path. */
static void temp_file(char *path, const void *content, size_t n)
{
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, content, n), (ssize_t)n);
    close(fd);
}

/* REPL_SECRET_FILE: read at load time, bytes as they are but a trailing
 * newline; none by default. */
Test(cfg, repl_secret_file)
{
    struct cfg c;
    char err[256], path[] = "/tmp/cartpair-secret-XXXXXX";
    cr_assert_eq(load(&c, CFG_STATEFUL, err, sizeof err, NULL), CFG_OK, "%s", err);
    cr_expect_eq(c.repl_secret_len, 0u);
    cr_expect_str_eq(c.repl_secret_file, "");
    static const char bin[] = "\x00\x01binary secret\xff\n\n";
    temp_file(path, bin, sizeof bin - 1);
    setenv("REPL_SECRET_FILE", path, 1);
    cr_assert_eq(load(&c, CFG_STATEFUL, err, sizeof err, NULL), CFG_OK, "%s", err);
    cr_expect_str_eq(c.repl_secret_file, path);
    cr_expect_eq(c.repl_secret_len, sizeof bin - 2, "only the last newline goes");
    cr_expect(memcmp(c.repl_secret, bin, sizeof bin - 2) == 0);
    unsetenv("REPL_SECRET_FILE");
    cr_assert_eq(load(&c, CFG_STATEFUL, err, sizeof err, "--repl-secret-file", path, NULL),
                 CFG_OK, "%s", err);
    cr_expect_eq(c.repl_secret_len, sizeof bin - 2, "the flag");
    unlink(path);
}

/* A missing, empty, too short or too long secret file stops the load; the
 * message names the variable, never the content. */
Test(cfg, repl_secret_file_refused)
{
    struct cfg c;
    char err[256], p1[] = "/tmp/cartpair-secret-XXXXXX", p2[] = "/tmp/cartpair-secret-XXXXXX",
         p3[] = "/tmp/cartpair-secret-XXXXXX";
    temp_file(p1, "", 0);
    temp_file(p2, "fifteen-bytes..\n", 16);
    char big[SECRET_MAX + 1];
    memset(big, 'x', sizeof big);
    temp_file(p3, big, sizeof big);
    const char *paths[] = {p1, p2, p3, "/nonexistent/secret"};
    for (size_t i = 0; i < 4; i++) {
        setenv("REPL_SECRET_FILE", paths[i], 1);
        cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, NULL), CFG_ERROR, "%s", paths[i]);
        cr_expect_not_null(strstr(err, "REPL_SECRET_FILE"), "%s", err);
        cr_expect_null(strstr(err, "fifteen"), "the secret leaked: %s", err);
        cr_expect_null(strstr(err, "xxxx"), "the secret leaked: %s", err);
    }
    setenv("REPL_SECRET_FILE", "", 1);
    cr_expect_eq(load(&c, CFG_STATEFUL, err, sizeof err, NULL), CFG_ERROR);
    cr_expect_not_null(strstr(err, "REPL_SECRET_FILE"), "%s", err);
    unsetenv("REPL_SECRET_FILE");
    unlink(p1);
    unlink(p2);
    unlink(p3);
}

Test(redis_url, good)
{
    struct cfg_redis r = good_url("redis://127.0.0.1:6379/0");
    cr_expect_str_eq(r.host, "127.0.0.1");
    cr_expect_eq(r.port, 6379);
    cr_expect_str_eq(r.password, "");
    cr_expect_eq(r.db, 0);
    r = good_url("redis://:s3cr@t@cache.local:7000/15");
    cr_expect_str_eq(r.password, "s3cr@t");
    cr_expect_str_eq(r.host, "cache.local");
    cr_expect_eq(r.port, 7000);
    cr_expect_eq(r.db, 15);
    r = good_url("redis://redis");
    cr_expect_str_eq(r.host, "redis");
    cr_expect_eq(r.port, 6379);
    cr_expect_eq(r.db, 0);
    r = good_url("redis://redis/3");
    cr_expect_eq(r.port, 6379);
    cr_expect_eq(r.db, 3);
    cr_expect_not(r.unix_socket);
    r = good_url("unix:///run/redis/redis.sock");
    cr_expect(r.unix_socket);
    cr_expect_str_eq(r.host, "/run/redis/redis.sock");
    cr_expect_eq(r.db, 0);
    r = good_url("unix://:pw@/tmp/r.sock?db=7");
    cr_expect(r.unix_socket);
    cr_expect_str_eq(r.host, "/tmp/r.sock");
    cr_expect_str_eq(r.password, "pw");
    cr_expect_eq(r.db, 7);
}

/* Bad REDIS_URLs are refused with a message. */
Test(redis_url, bad)
{
    const char *bad[] = {
        "", "http://h:6379", "rediss://h:6379", "redis://", "redis://:6379", "redis://h:",
        "redis://h:0", "redis://h:65536", "redis://h:12x", "redis://h:6379/16",
        "redis://h:6379/-1", "redis://h:6379/x", "redis://h:6379/1/2", "redis://user:pw@h",
        "redis://:@h", "redis://h h", "redis://[::1]:6379", "redis:/h", "unix://", "unix://rel.sock",
        "unix:///r.sock?db=16", "unix:///r.sock?x=1", "unix:///r.sock?db=", "unix://:@/r.sock",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cfg_redis r;
        char err[160] = "";
        cr_expect_eq(cfg_parse_redis_url(bad[i], &r, err, sizeof err), -1, "'%s' accepted", bad[i]);
        cr_expect_neq(err[0], '\0', "'%s': no message", bad[i]);
    }
}

/* log_level_parse and log_format_parse take exactly the documented words. */
Test(log, parse)
{
    enum log_level l = LOG_ERROR;
    enum log_format f = LOG_FMT_JSON;
    cr_expect(log_level_parse("debug", &l) && l == LOG_DEBUG);
    cr_expect(log_level_parse("info", &l) && l == LOG_INFO);
    cr_expect(log_level_parse("warn", &l) && l == LOG_WARN);
    cr_expect(log_level_parse("error", &l) && l == LOG_ERROR);
    cr_expect_not(log_level_parse("INFO", &l));
    cr_expect_not(log_level_parse("", &l));
    cr_expect_not(log_level_parse("warning", &l));
    cr_expect(log_format_parse("text", &f) && f == LOG_FMT_TEXT);
    cr_expect(log_format_parse("json", &f) && f == LOG_FMT_JSON);
    cr_expect_not(log_format_parse("JSON", &f));
    cr_expect_not(log_format_parse("", &f));
}
