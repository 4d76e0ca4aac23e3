/* Unit tests of cart ids and request ids. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "id.h"

#define N_IDS 10000

/* True when every char is base64url. */
static bool is_b64url(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return false;
    return true;
}

/* qsort comparator over fixed-width id rows. */
static int row_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

Test(id, untagged_shape)
{
    char out[80];

    cr_assert_eq(id_new(NULL, out, sizeof(out)), ID_OK);
    cr_assert_eq(strlen(out), ID_RANDOM_LEN);
    cr_assert(is_b64url(out), "%s", out);
    cr_assert(id_valid(out));
    cr_assert_eq(id_new("", out, sizeof(out)), ID_OK);
    cr_assert_eq(strlen(out), ID_RANDOM_LEN);
    /* 128 bits in 22 chars: the last char carries 2 bits, so it is one of A, Q, g, w. */
    cr_assert(strchr("AQgw", out[ID_RANDOM_LEN - 1]) != NULL, "%s", out);
}

Test(id, tagged_shape)
{
    char out[80], tag[ID_TAG_MAX + 1];

    cr_assert_eq(id_new("k3", out, sizeof(out)), ID_OK);
    cr_assert_eq(strlen(out), 3 + ID_RANDOM_LEN);
    cr_assert_eq(strncmp(out, "k3-", 3), 0, "%s", out);
    cr_assert(is_b64url(out + 3));
    cr_assert(id_valid(out));
    cr_assert(id_tag_of(out, tag, sizeof(tag)));
    cr_assert_str_eq(tag, "k3");
    cr_assert_eq(id_new("abcdefghijklmnop", out, sizeof(out)), ID_OK, "16 chars fit");
    cr_assert(id_valid(out), "%s", out);
    cr_assert_leq(strlen(out), 64);
    cr_assert(id_tag_of(out, tag, sizeof(tag)));
    cr_assert_str_eq(tag, "abcdefghijklmnop");
}

Test(id, bad_tags_and_short_buffers)
{
    char out[80];

    cr_assert_eq(id_new("abcdefghijklmnopq", out, sizeof(out)), ID_TOOLONG, "17 chars");
    cr_assert_eq(id_new("a-b", out, sizeof(out)), ID_TOOLONG, "a dash would hide the tag");
    cr_assert_eq(id_new("a/b", out, sizeof(out)), ID_TOOLONG);
    cr_assert_eq(id_new(NULL, out, ID_RANDOM_LEN), ID_TOOLONG);
    cr_assert_eq(id_new(NULL, out, ID_RANDOM_LEN + 1), ID_OK);
    cr_assert_eq(strlen(out), ID_RANDOM_LEN);
    cr_assert_eq(id_new("ab", out, ID_RANDOM_LEN + 3), ID_TOOLONG);
    cr_assert_eq(id_new("ab", out, ID_RANDOM_LEN + 4), ID_OK);
    cr_assert_eq(id_new(NULL, NULL, 100), ID_TOOLONG);
}

Test(id, unique_and_well_spread)
{
    char (*ids)[ID_RANDOM_LEN + 8] = calloc(N_IDS, sizeof(*ids));
    unsigned counts[256] = {0};
    size_t total = 0;

    cr_assert_not_null(ids);
    for (int i = 0; i < N_IDS; i++) {
        cr_assert_eq(id_new("t", ids[i], sizeof(ids[i])), ID_OK);
        cr_assert_eq(strlen(ids[i]), 2 + ID_RANDOM_LEN);
        cr_assert(is_b64url(ids[i] + 2));
        for (int k = 2; k < 2 + ID_RANDOM_LEN - 1; k++) {
            counts[(unsigned char)ids[i][k]]++;
            total++;
        }
    }
    qsort(ids, N_IDS, sizeof(ids[0]), row_cmp);
    for (int i = 1; i < N_IDS; i++)
        cr_assert_str_neq(ids[i - 1], ids[i], "duplicate id");
    /* Every base64url symbol shows up near total/64 times (loose bound, not flaky). */
    for (int ch = 0; ch < 256; ch++) {
        if (!counts[ch])
            continue;
        cr_assert_gt(counts[ch], total / 64 / 2, "symbol %c is rare", ch);
        cr_assert_lt(counts[ch], total / 64 * 2, "symbol %c is common", ch);
    }
    free(ids);
}

Test(id, request_ids)
{
    char a[17], b[17], big[40];

    cr_assert_eq(id_request(a, sizeof(a)), ID_OK);
    cr_assert_eq(strlen(a), 16);
    for (int i = 0; i < 16; i++)
        cr_assert(strchr("0123456789abcdef", a[i]) != NULL, "%s", a);
    cr_assert_eq(id_request(b, sizeof(b)), ID_OK);
    cr_assert_str_neq(a, b);
    cr_assert_eq(id_request(a, 16), ID_TOOLONG);
    cr_assert_eq(id_request(big, sizeof(big)), ID_OK);
    cr_assert_eq(strlen(big), 16);
    /* Every position takes every hex digit over 1000 ids (each miss has p < 1e-25). */
    bool seen[16][16] = {{false}};
    for (int n = 0; n < 1000; n++) {
        cr_assert_eq(id_request(a, sizeof(a)), ID_OK);
        for (int i = 0; i < 16; i++)
            seen[i][strchr("0123456789abcdef", a[i]) - "0123456789abcdef"] = true;
    }
    for (int i = 0; i < 16; i++)
        for (int d = 0; d < 16; d++)
            cr_assert(seen[i][d], "digit %x never at position %d", d, i);
}

Test(id, valid)
{
    char s64[65], s65[66];

    memset(s64, 'a', 64);
    s64[64] = '\0';
    memset(s65, 'a', 65);
    s65[65] = '\0';
    cr_assert(id_valid("a"));
    cr_assert(id_valid("k3-AZaz09_-"));
    cr_assert(id_valid(s64));
    cr_assert_not(id_valid(s65));
    cr_assert_not(id_valid(""));
    cr_assert_not(id_valid(NULL));
    cr_assert_not(id_valid("a.b"), "ids have no dots");
    cr_assert_not(id_valid("a/b"));
    cr_assert_not(id_valid("a%2F"));
    cr_assert_not(id_valid("a b"));
    cr_assert_not(id_valid("caf\xc3\xa9"));
}

Test(id, tag_of)
{
    char tag[ID_TAG_MAX + 1], small[3];

    cr_assert(id_tag_of("k3-abc", tag, sizeof(tag)));
    cr_assert_str_eq(tag, "k3");
    cr_assert(id_tag_of("k3-a-b", tag, sizeof(tag)), "first dash wins");
    cr_assert_str_eq(tag, "k3");
    cr_assert_not(id_tag_of("nodash", tag, sizeof(tag)));
    cr_assert_not(id_tag_of("-abc", tag, sizeof(tag)), "empty tag");
    cr_assert_not(id_tag_of("abcdefghijklmnopq-x", tag, sizeof(tag)), "17-char tag");
    cr_assert(id_tag_of("abcdefghijklmnop-x", tag, sizeof(tag)));
    cr_assert_str_eq(tag, "abcdefghijklmnop");
    cr_assert_not(id_tag_of("abc-x", small, sizeof(small)), "does not fit out");
    cr_assert(id_tag_of("ab-x", small, sizeof(small)));
    cr_assert_str_eq(small, "ab");
    cr_assert_not(id_tag_of(NULL, tag, sizeof(tag)));
}

Test(id, tag_from_instance)
{
    char tag[ID_TAG_MAX + 1], again[ID_TAG_MAX + 1], other[ID_TAG_MAX + 1];

    id_tag_from_instance("k3", tag, sizeof(tag));
    cr_assert_str_eq(tag, "k3");
    id_tag_from_instance("stateful-0", tag, sizeof(tag));
    cr_assert_str_eq(tag, "stateful0");
    id_tag_from_instance("Pod_7.a-b", tag, sizeof(tag));
    cr_assert_str_eq(tag, "Pod7ab");
    id_tag_from_instance("abcdefghijklmnop", tag, sizeof(tag));
    cr_assert_str_eq(tag, "abcdefghijklmnop", "16 alnum chars fit");
    /* Too long, or nothing usable: "i" and 8 hex digits, stable and distinct. */
    id_tag_from_instance("stateful-svc-7d9f8-abcde", tag, sizeof(tag));
    cr_assert_eq(strlen(tag), 9, "%s", tag);
    cr_assert_eq(tag[0], 'i');
    for (int i = 1; i < 9; i++)
        cr_assert(strchr("0123456789abcdef", tag[i]) != NULL, "%s", tag);
    id_tag_from_instance("stateful-svc-7d9f8-abcde", again, sizeof(again));
    cr_assert_str_eq(tag, again);
    id_tag_from_instance("stateful-svc-7d9f8-abcdf", other, sizeof(other));
    cr_assert_str_neq(tag, other);
    id_tag_from_instance("", tag, sizeof(tag));
    cr_assert_eq(tag[0], 'i');
    cr_assert_eq(strlen(tag), 9);
    /* FNV-1a of "" is the offset basis 0x811c9dc5. */
    cr_assert_str_eq(tag, "i811c9dc5");
    id_tag_from_instance("---", tag, sizeof(tag));
    cr_assert_str_eq(tag, "ic4e4dc86", "FNV-1a of the whole instance id");
    id_tag_from_instance("abcdefghijklmnopq", tag, sizeof(tag));
    cr_assert_eq(tag[0], 'i', "17 chars do not fit");
    id_tag_from_instance(NULL, tag, sizeof(tag));
    cr_assert_str_eq(tag, "i811c9dc5");
    /* The derived tag works in id_new and comes back from id_tag_of. */
    char id[80], back[ID_TAG_MAX + 1];
    id_tag_from_instance("stateful-svc-7d9f8-abcde", tag, sizeof(tag));
    cr_assert_eq(id_new(tag, id, sizeof(id)), ID_OK);
    cr_assert(id_valid(id));
    cr_assert(id_tag_of(id, back, sizeof(back)));
    cr_assert_str_eq(back, tag);
}
