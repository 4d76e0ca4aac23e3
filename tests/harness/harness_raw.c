/* harness_raw: raw sockets for the integration tests. See harness_raw.h. */
#include "harness_raw.h"
#include "harness.h"

#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Connect to 127.0.0.1:port from src (NULL: any) with send/read timeouts; fd or -1. */
int harness_raw_connect(int port, const char *src, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    if (src && inet_pton(AF_INET, src, &sa.sin_addr) == 1 &&
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send all len bytes of buf, bounded in iterations; false on an error. */
bool harness_raw_send(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    for (int i = 0; len > 0 && i < 100000; i++) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return len == 0;
}

/* Read exactly n bytes (n may be 0); 1 done, 0 closed/reset, -1 timeout. */
static int raw_read(int fd, char *dst, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, dst + got, n - got, 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return 0;
        if (r < 0)
            return errno == EINTR ? raw_read(fd, dst + got, n - got) : -1;
        got += (size_t)r;
    }
    return 1;
}

/* Read one HTTP response exactly: its status, 0 when closed first, -1 on timeout/garbage. */
long harness_raw_response(int fd, char *body, size_t bodylen)
{
    char hdr[8192];
    return harness_raw_response_head(fd, hdr, sizeof hdr, body, bodylen);
}

/* harness_raw_response, keeping the status line and header fields in hdr. */
long harness_raw_response_head(int fd, char *hdr, size_t hdrlen, char *body, size_t bodylen)
{
    if (hdrlen < 8)
        return -1;
    size_t n = 0;
    while (n < hdrlen - 1 && (n < 4 || memcmp(hdr + n - 4, "\r\n\r\n", 4) != 0)) {
        int r = raw_read(fd, hdr + n, 1);     /* one byte at a time: never read past */
        if (r <= 0)
            return r == 0 ? 0 : -1;
        n++;
    }
    hdr[n] = '\0';
    long status;
    if (sscanf(hdr, "HTTP/1.%*d %ld", &status) != 1)
        return -1;
    size_t clen = 0;
    const char *cl = strcasestr(hdr, "\r\nContent-Length:");
    if (cl)
        clen = strtoul(cl + 17, NULL, 10);
    char sink[4096];
    for (size_t done = 0; done < clen;) {
        size_t chunk = clen - done < sizeof sink ? clen - done : sizeof sink;
        if (raw_read(fd, sink, chunk) != 1)
            return -1;
        if (body && bodylen && done < bodylen - 1) {
            size_t c = chunk < bodylen - 1 - done ? chunk : bodylen - 1 - done;
            memcpy(body + done, sink, c);
        }
        done += chunk;
    }
    if (body && bodylen)
        body[clen < bodylen ? clen : bodylen - 1] = '\0';
    return status;
}

/* True when the peer closes or resets within timeout_ms; discards what arrives first. */
bool harness_raw_closed(int fd, int timeout_ms)
{
    long long deadline = harness_ms() + timeout_ms;
    char sink[4096];
    while (harness_ms() < deadline) {
        ssize_t r = recv(fd, sink, sizeof sink, 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET))
            return true;
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return true;
    }
    return false;
}
