/* test_frame: the framing checks of RFC 9112 (frame.c), one case per rule,
 * and the path of an absolute-form target. */
#include <criterion/criterion.h>

#include "frame.h"

/* The verdict on a NULL-ended list of name, value pairs. */
static enum frame_status verdict(bool http11, const char *const *nv)
{
    struct frame_scan f;
    frame_init(&f);
    for (int i = 0; nv[i]; i += 2)
        frame_header(&f, nv[i], nv[i + 1]);
    return frame_verdict(&f, http11);
}

Test(frame, plain_requests_pass)
{
    const char *const get[] = { "Host", "x", "Accept", "*/*", NULL };
    const char *const post[] = { "host", "x", "content-length", " 12 ", NULL };
    const char *const chunked[] = { "Host", "x", "Transfer-Encoding", "Chunked", NULL };
    const char *const same[] = { "Host", "x", "Content-Length", "2", "Content-Length", "2", NULL };
    const char *const old[] = { NULL };
    cr_expect_eq(verdict(true, get), FRAME_OK);
    cr_expect_eq(verdict(true, post), FRAME_OK);
    cr_expect_eq(verdict(true, chunked), FRAME_OK);
    cr_expect_eq(verdict(true, same), FRAME_OK);
    cr_expect_eq(verdict(false, old), FRAME_OK, "HTTP/1.0 needs no Host");
}

Test(frame, ambiguous_framing_is_refused)
{
    const char *const clte[] = { "Host", "x", "Content-Length", "5", "Transfer-Encoding",
                                 "chunked", NULL };
    const char *const tecl[] = { "Host", "x", "Transfer-Encoding", "chunked", "Content-Length",
                                 "5", NULL };
    const char *const two[] = { "Host", "x", "Content-Length", "2", "Content-Length", "4", NULL };
    const char *const bad[] = { "Host", "x", "Content-Length", "2, 2", NULL };
    const char *const neg[] = { "Host", "x", "Content-Length", "-1", NULL };
    const char *const gz[] = { "Host", "x", "Transfer-Encoding", "gzip", NULL };
    const char *const gzc[] = { "Host", "x", "Transfer-Encoding", "gzip, chunked", NULL };
    const char *const tete[] = { "Host", "x", "Transfer-Encoding", "chunked",
                                 "Transfer-Encoding", "chunked", NULL };
    cr_expect_eq(verdict(true, clte), FRAME_CL_AND_TE);
    cr_expect_eq(verdict(true, tecl), FRAME_CL_AND_TE);
    cr_expect_eq(verdict(true, two), FRAME_CL_MISMATCH);
    cr_expect_eq(verdict(true, bad), FRAME_CL_INVALID);
    cr_expect_eq(verdict(true, neg), FRAME_CL_INVALID);
    cr_expect_eq(verdict(true, gz), FRAME_TE_UNKNOWN);
    cr_expect_eq(verdict(true, gzc), FRAME_TE_UNKNOWN);
    cr_expect_eq(verdict(true, tete), FRAME_TE_REPEATED);
    cr_expect(frame_not_implemented(FRAME_TE_UNKNOWN));
    cr_expect_not(frame_not_implemented(FRAME_CL_AND_TE));
}

Test(frame, host_and_field_names)
{
    const char *const none[] = { "Accept", "*/*", NULL };
    const char *const two[] = { "Host", "a", "HOST", "b", NULL };
    const char *const space[] = { "Host", "x", "X-Foo ", "bar", NULL };
    const char *const tab[] = { "Host\t", "x", NULL };
    const char *const empty[] = { "Host", "x", "", "bar", NULL };
    cr_expect_eq(verdict(true, none), FRAME_NO_HOST);
    cr_expect_eq(verdict(false, two), FRAME_MANY_HOSTS);
    cr_expect_eq(verdict(true, space), FRAME_NAME_SPACE);
    cr_expect_eq(verdict(true, tab), FRAME_NAME_SPACE);
    cr_expect_eq(verdict(true, empty), FRAME_NAME_SPACE);
    for (int st = FRAME_OK; st <= FRAME_TE_HTTP10; st++)
        cr_expect_str_neq(frame_message((enum frame_status)st), "bad framing");
}

Test(frame, http10_with_transfer_encoding_is_faulty)
{
    const char *const te[] = { "Transfer-Encoding", "chunked", NULL };
    const char *const gz[] = { "Transfer-Encoding", "gzip", NULL };
    const char *const tecl[] = { "Content-Length", "3", "Transfer-Encoding", "chunked", NULL };
    const char *const cl[] = { "Content-Length", "3", NULL };
    cr_expect_eq(verdict(false, te), FRAME_TE_HTTP10);
    cr_expect_eq(verdict(false, gz), FRAME_TE_HTTP10, "faulty framing before 501");
    cr_expect_eq(verdict(false, tecl), FRAME_TE_HTTP10);
    cr_expect_eq(verdict(false, cl), FRAME_OK);
    cr_expect_not(frame_not_implemented(FRAME_TE_HTTP10));
}

Test(frame, control_bytes_in_values)
{
    const char *const nul_cut[] = { "Host", "x", "X-Request-Id", "abc", NULL };
    const char *const one[] = { "Host", "x", "X-Foo", "a\001b", NULL };
    const char *const del[] = { "Host", "x", "X-Foo", "a\177", NULL };
    const char *const esc[] = { "Host", "x\033", NULL };
    const char *const tab[] = { "Host", "x", "X-Foo", "a\tb", NULL };
    const char *const high[] = { "Host", "x", "X-Foo", "caf\303\251", NULL };
    cr_expect_eq(verdict(true, one), FRAME_VALUE_CTL);
    cr_expect_eq(verdict(true, del), FRAME_VALUE_CTL);
    cr_expect_eq(verdict(true, esc), FRAME_VALUE_CTL);
    cr_expect_eq(verdict(true, tab), FRAME_OK, "a tab is whitespace, not a control byte");
    cr_expect_eq(verdict(true, high), FRAME_OK, "obs-text is allowed");
    struct frame_scan f;
    frame_init(&f);
    for (int i = 0; nul_cut[i]; i += 2)
        frame_header(&f, nul_cut[i], nul_cut[i + 1]);
    cr_expect_eq(frame_verdict(&f, true), FRAME_OK);
    frame_value_cut(&f);
    cr_expect_eq(frame_verdict(&f, true), FRAME_VALUE_CTL);
}

Test(frame, absolute_form_targets)
{
    cr_expect_str_eq(frame_origin_path("/carts/x"), "/carts/x");
    cr_expect_str_eq(frame_origin_path("http://127.0.0.1:8080/carts/x"), "/carts/x");
    cr_expect_str_eq(frame_origin_path("HTTPS://h/"), "/");
    cr_expect_str_eq(frame_origin_path("http://h"), "/");
    cr_expect_str_eq(frame_origin_path("*"), "*");
    cr_expect_str_eq(frame_origin_path("ftp://h/x"), "ftp://h/x");
}
