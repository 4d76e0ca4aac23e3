/* harness_http: the libcurl HTTP client of the test harness. See harness_http.h. */
#include "harness_http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct buf {
    char *data;
    size_t len, cap;
};

struct harness_client {
    CURL *curl;
    int port;
    long connects;
    struct buf body, hdrs;
};

/* Append n bytes to b, keeping it NUL-terminated; false when out of memory. */
static bool buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return false;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

/* curl body callback. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    return buf_add(ud, ptr, size * nmemb) ? size * nmemb : 0;
}

/* curl header callback: a new status line starts a new header block. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct buf *b = ud;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
        b->len = 0;
    return buf_add(b, ptr, n) ? n : 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

/* Initialise libcurl once per process. */
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* A client with one keep-alive connection and a cookie jar. */
struct harness_client *harness_client_new(int port)
{
    pthread_once(&curl_once, curl_init_once);
    struct harness_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->port = port;
    c->curl = curl_easy_init();
    if (!c->curl) {
        free(c);
        return NULL;
    }
    curl_easy_setopt(c->curl, CURLOPT_COOKIEFILE, "");
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_PROXY, "");
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->body);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &c->hdrs);
    return c;
}

/* Give up on a request after ms milliseconds. */
void harness_client_timeout(struct harness_client *c, long ms)
{
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, ms);
}

/* Close the connection and free the client. */
void harness_client_free(struct harness_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    free(c->body.data);
    free(c->hdrs.data);
    free(c);
}

/* Set method and body options on the handle, resetting the previous request's. */
static void set_method(CURL *h, const char *method, const char *body)
{
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        return;
    }
    if (body || strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
}

/* Build the header list: the caller's, plus Content-Type and no Expect by default. */
static struct curl_slist *make_headers(const char *body, const char *const *extra)
{
    struct curl_slist *l = NULL;
    bool has_ct = false, has_expect = false;
    for (int i = 0; extra && extra[i] && i < 64; i++) {
        if (strncasecmp(extra[i], "Content-Type:", 13) == 0)
            has_ct = true;
        if (strncasecmp(extra[i], "Expect:", 7) == 0)
            has_expect = true;
        l = curl_slist_append(l, extra[i]);
    }
    if (!has_ct)
        l = curl_slist_append(l, body ? "Content-Type: application/json" : "Content-Type:");
    if (!has_expect)
        l = curl_slist_append(l, "Expect:");
    return l;
}

/* Send one request and copy the response out. */
bool harness_req(struct harness_client *c, const char *method, const char *path,
                 const char *body, const char *const *extra_headers, struct harness_resp *out)
{
    memset(out, 0, sizeof *out);
    char url[2300];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", c->port, path);
    c->body.len = 0;
    c->hdrs.len = 0;
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    set_method(c->curl, method, body);
    struct curl_slist *l = make_headers(body, extra_headers);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, l);
    CURLcode rc = curl_easy_perform(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(l);
    long conns = 0;
    curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &conns);
    c->connects += conns;
    if (rc != CURLE_OK) {
        fprintf(stderr, "harness: %s %s: %s\n", method, path, curl_easy_strerror(rc));
        return false;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &out->status);
    out->body = strndup(c->body.data ? c->body.data : "", c->body.len);
    out->body_len = c->body.len;
    out->headers = strndup(c->hdrs.data ? c->hdrs.data : "", c->hdrs.len);
    return out->body && out->headers;
}

/* The value of a response header, case-insensitive name. */
bool harness_header(const struct harness_resp *r, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    for (const char *l = r->headers; l && *l;) {
        const char *eol = strchr(l, '\n');
        size_t len = eol ? (size_t)(eol - l) : strlen(l);
        if (len > nlen && strncasecmp(l, name, nlen) == 0 && l[nlen] == ':') {
            const char *v = l + nlen + 1;
            const char *end = l + len;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == '\r' || end[-1] == ' '))
                end--;
            if (outlen)
                snprintf(out, outlen, "%.*s", (int)(end - v), v);
            return true;
        }
        l = eol ? eol + 1 : l + len;
    }
    return false;
}

/* Connections curl opened so far for this client. */
long harness_connects(struct harness_client *c)
{
    return c->connects;
}

/* Free a response's body and headers. */
void harness_resp_free(struct harness_resp *r)
{
    free(r->body);
    free(r->headers);
    r->body = NULL;
    r->headers = NULL;
}
