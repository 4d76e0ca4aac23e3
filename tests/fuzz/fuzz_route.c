/* fuzz_route: libFuzzer harness for route_match (request routing and path
 * parsing). Input: one byte choosing the method, then the path. Checks that
 * a match never crashes and that what it fills is consistent: a matched id
 * is a valid cart id, a matched sku a valid sku, and both NUL-terminated
 * within their arrays. Single-threaded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "id.h"
#include "route.h"

static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "DELETE",
                                       "PATCH", "OPTIONS", "" };

/* Abort when cond is false: a finding for libFuzzer. */
static void need(int cond)
{
    if (!cond)
        abort();
}

/* Check the invariants of one match result. */
static void check(enum route_status st, const struct route_match *m)
{
    need(memchr(m->id, '\0', sizeof m->id) != NULL);
    need(memchr(m->sku, '\0', sizeof m->sku) != NULL);
    if (st == ROUTE_NO_ROUTE) {
        need(m->kind == ROUTE_NONE);
        return;
    }
    need(m->kind < ROUTE_NONE && m->allow != NULL);
    if (st == ROUTE_BAD_METHOD)
        need(m->action == ACT_NONE);
    if (st != ROUTE_OK)
        return;
    need(m->action != ACT_NONE);
    if (m->kind >= ROUTE_CART && m->kind <= ROUTE_ITEM)
        need(m->by_cookie ? m->id[0] == '\0' : id_valid(m->id));
    if (m->kind == ROUTE_ITEM)
        need(cart_sku_valid(m->sku, strlen(m->sku)));
    else
        need(m->sku[0] == '\0');
}

/* libFuzzer entry point. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *method = methods[data[0] % (sizeof methods / sizeof methods[0])];
    char *path = malloc(size);
    if (!path)
        return 0;
    memcpy(path, data + 1, size - 1);
    path[size - 1] = '\0';
    struct route_match m;
    enum route_status st = route_match(method, path, &m);
    check(st, &m);
    free(path);
    return 0;
}
