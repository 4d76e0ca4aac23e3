/* etag: the If-Match field (RFC 9110 13.1.1) parsed into the versions it
 * names, for the strong comparison the cart API makes.
 *
 * A cart's ETag is "<version>". If-Match is "*" (any version: no condition)
 * or a comma-separated list of entity-tags, with optional whitespace and
 * empty elements; the cart matches when any strong tag in it is its ETag.
 * A weak tag (W/"3") never matches strongly, and a strong tag that is no
 * version ("abc", "03") matches no cart; both are valid list members. A bare
 * number (3) is taken as "3", as the API always did. Anything else (a tag
 * without its closing quote, members not separated by commas, "*" inside a
 * list), or a list naming more than CART_MATCH_MAX versions, is not a valid
 * field value: etag_if_match says false, and the API answers 412 before any
 * store call. Pure functions: thread-safe. */
#ifndef ETAG_H
#define ETAG_H

#include <stdbool.h>

#include "cart.h"

/* Parse the If-Match field value h (NULL: no field) into out (zeroed for no
 * condition); false when h is not a valid If-Match value. */
bool etag_if_match(const char *h, struct cart_match *out);

#endif
