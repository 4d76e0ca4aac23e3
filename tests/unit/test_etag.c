/* test_etag: If-Match lists (etag.c): "*", lists with whitespace and empty
 * elements, strong comparison (weak and foreign tags never match), the bare
 * number, and what is not a valid field value. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "etag.h"

/* Parse h (asserting it is valid) and tell whether version v matches it. */
static bool matches(const char *h, int64_t v)
{
    struct cart_match m;
    cr_assert(etag_if_match(h, &m), "'%s' refused", h ? h : "(none)");
    return cart_match_ok(&m, v);
}

Test(etag, no_condition)
{
    struct cart_match m;
    cr_expect(etag_if_match(NULL, &m) && !m.set);
    cr_expect(etag_if_match("*", &m) && !m.set);
    cr_expect(etag_if_match(" \t* ", &m) && !m.set);
    cr_expect(matches("*", 12345));
}

Test(etag, any_member_matches)
{
    cr_expect(matches("\"0\"", 0));
    cr_expect(matches("\"5\", \"0\"", 0));
    cr_expect(matches("\"5\", \"0\"", 5));
    cr_expect_not(matches("\"5\", \"0\"", 1));
    cr_expect(matches(",\"9\" ,\t\"1\" ,", 1), "empty elements and OWS");
    cr_expect(matches("\"1\",\"1\",\"2\"", 2));
    cr_expect(matches("7", 7), "a bare number, as before");
    cr_expect(matches("3, \"4\"", 3));
    cr_expect(matches("\"123456789012345678\"", 123456789012345678LL));
}

Test(etag, strong_comparison)
{
    cr_expect_not(matches("W/\"3\"", 3), "a weak tag never matches strongly");
    cr_expect(matches("W/\"3\", \"3\"", 3));
    cr_expect_not(matches("\"03\"", 3), "not the ETag's bytes");
    cr_expect_not(matches("\"abc\"", 0));
    cr_expect_not(matches("\"\"", 0));
    cr_expect_not(matches("\"-1\"", 0));
    cr_expect_not(matches("\"1234567890123456789\"", 0), "past any cart's version");
    cr_expect_not(matches("", 0), "an empty list names no version");
    struct cart_match m;
    cr_expect(etag_if_match("W/\"1\", \"x\"", &m) && m.set && m.n == 0);
}

Test(etag, garbage_is_refused)
{
    static const char *const bad[] = { "\"3", "3\"", "abc", "\"3\" x", "W/3", "W/3x",
                                       "\"3\" \"3\"", "\"3\", *", "*, \"3\"", "w/\"3\"",
                                       "\"3\";x", "\"a b\"", "\"3\"\x01", "**" };
    struct cart_match m;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_not(etag_if_match(bad[i], &m), "'%s' parsed", bad[i]);
}

Test(etag, list_bound)
{
    char h[1024];
    size_t len = 0;
    struct cart_match m;
    for (int i = 0; i < CART_MATCH_MAX; i++)
        len += (size_t)snprintf(h + len, sizeof h - len, "\"%d\", ", i);
    snprintf(h + len, sizeof h - len, "\"0\", W/\"99\"");
    cr_expect(etag_if_match(h, &m) && m.n == CART_MATCH_MAX, "repeats and weak tags are free");
    snprintf(h + len, sizeof h - len, "\"%d\"", CART_MATCH_MAX);
    cr_expect_not(etag_if_match(h, &m), "one version more than CART_MATCH_MAX");
}
