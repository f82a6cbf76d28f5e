/*  test_list_order.c - List's order and its cursor (SPEC 18.1): the key
    of a deployment is the number the store gave its id (`<name>-<n>`),
    then the id, so the order is total, the order of creation whatever the
    wall clock did, and the same after a restart; a cursor id that names no
    deployment any more has a key all the same, from its id. A List page
    says after which deployment the next one starts (next_after), also when
    it was cut to fit.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "coordinator_internal.h"

static void
test_list_order_reads_the_number_of_an_id (void **state)
{
    (void) state;
    uint64_t n = 0;
    assert_int_equal (coord_id_number ("web-12", &n), 0);
    assert_int_equal (n, 12);
    //  A spec name may hold dashes: the number follows the last one.
    assert_int_equal (coord_id_number ("my-web-app-7", &n), 0);
    assert_int_equal (n, 7);
    assert_int_equal (coord_id_number ("web-999999999999999999", &n), 0);
    assert_true (n == 999999999999999999ULL);
    //  Not an id the store makes: refused, n untouched.
    n = 42;
    const char *bad [] = {
        "web", "web-", "-5", "web-1x", "web-+1", "web- 1", "", "web-1234567890123456789"
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        assert_int_equal (coord_id_number (bad [i], &n), -1);
        assert_int_equal (n, 42);
    }
}

static deployment_t *
s_dep (const char *id, int64_t created_ms)
{
    deployment_t *dep = calloc (1, sizeof *dep);
    assert_non_null (dep);
    snprintf (dep->id, sizeof dep->id, "%s", id);
    assert_int_equal (coord_id_number (id, &dep->number), 0);
    dep->created_ms = created_ms;
    return dep;
}

static void
test_list_order_is_by_number_not_clock_nor_text (void **state)
{
    (void) state;
    //  web-10 after web-9 (as text it sorts before); api-11 after both
    //  although the clock stepped back before it was made.
    deployment_t *d9 = s_dep ("web-9", 5000), *d10 = s_dep ("web-10", 6000),
                 *d11 = s_dep ("api-11", 1000);
    assert_int_equal (coord_by_created (d9, d10), -1);
    assert_int_equal (coord_by_created (d10, d9), 1);
    assert_int_equal (coord_by_created (d10, d11), -1);
    assert_int_equal (coord_by_created (d11, d11), 0);
    //  Kept so in a list that inserts them in any order, as a restart
    //  loads them (the store reads them by created_ms).
    zlistx_t *listed = zlistx_new ();
    zlistx_set_comparator (listed, coord_by_created);
    zlistx_insert (listed, d11, false);
    zlistx_insert (listed, d9, false);
    zlistx_insert (listed, d10, false);
    assert_ptr_equal (zlistx_first (listed), d9);
    assert_ptr_equal (zlistx_next (listed), d10);
    assert_ptr_equal (zlistx_next (listed), d11);
    //  A tie of numbers (never made by the store) is broken by the id.
    assert_int_equal (coord_key_cmp (3, "a-3", 3, "b-3"), -1);
    assert_int_equal (coord_key_cmp (3, "b-3", 3, "a-3"), 1);
    //  A removed cursor's key, from its id alone, falls between: web-10
    //  removed, the deployments after it are api-11 on.
    uint64_t n;
    assert_int_equal (coord_id_number ("web-10", &n), 0);
    zlistx_delete (listed, zlistx_find (listed, d10));
    const char *after = "web-10";
    deployment_t *first_after = NULL;
    for (deployment_t *dep = zlistx_first (listed); dep && !first_after;
         dep = zlistx_next (listed))
        if (coord_key_cmp (dep->number, dep->id, n, after) > 0)
            first_after = dep;
    assert_ptr_equal (first_after, d11);
    zlistx_destroy (&listed);
    free (d9);
    free (d10);
    free (d11);
}

static void
test_list_order_page_says_where_the_next_starts (void **state)
{
    (void) state;
    size_t count = 20000;       //  some 3 MiB of them: cut to fit
    flot_coordinator_deployment_t *items = calloc (count, sizeof *items);
    assert_non_null (items);
    for (size_t i = 0; i < count; i++) {
        char *id = malloc (128);
        assert_non_null (id);
        snprintf (id, 128, "a-rather-long-deployment-name-that-fills-the-row-of-a-list-%zu",
                  i + 1);
        items [i] = (flot_coordinator_deployment_t) {
            .id = id, .name = "web", .state = "completed", .percent = 100,
            .created_ms = 1796315379581, .updated_ms = 1796315379581, .applied_by = "local"
        };
    }
    flot_coordinator_page_t page = { .offset = 7, .total = 7 + count + 1 };
    flot_coordinator_list_reply_t reply = { .deployments = { count, items },
                                            .page = &page };
    msgpack_sbuffer sbuf;
    assert_int_equal (coord_encode_list_page (&reply, count, &page, "x-7", &sbuf), 0);
    size_t n = reply.deployments.count;
    assert_true (n > 1000 && n < count);
    assert_true (page.more && page.cut);
    assert_string_equal (page.next_after, items [n - 1].id);
    //  The body says so.
    flot_err_t err;
    flot_body_t *body = flot_body_decode (sbuf.data, sbuf.size, &err);
    assert_non_null (body);
    flot_coordinator_list_reply_t back;
    memset (&back, 0, sizeof back);
    assert_int_equal (flot_coordinator_list_reply_decode (flot_body_root (body),
                      flot_body_zone (body), &back, &err), 0);
    assert_non_null (back.page);
    assert_string_equal (back.page->next_after, items [n - 1].id);
    assert_int_equal (back.page->next_offset, 7 + n);
    flot_body_destroy (&body);
    msgpack_sbuffer_destroy (&sbuf);
    //  The last page: no cursor.
    page = (flot_coordinator_page_t) { .offset = 7, .total = 17 };
    assert_int_equal (coord_encode_list_page (&reply, 10, &page, "x-7", &sbuf), 0);
    assert_false (page.more);
    assert_null (page.next_after);
    msgpack_sbuffer_destroy (&sbuf);
    //  limit 0: none held, the cursor stays where the request had it...
    page = (flot_coordinator_page_t) { .offset = 7, .total = 17 };
    assert_int_equal (coord_encode_list_page (&reply, 0, &page, "x-7", &sbuf), 0);
    assert_true (page.more);
    assert_string_equal (page.next_after, "x-7");
    msgpack_sbuffer_destroy (&sbuf);
    //  ...or, from the start, there is none.
    page = (flot_coordinator_page_t) { .offset = 0, .total = 17 };
    assert_int_equal (coord_encode_list_page (&reply, 0, &page, NULL, &sbuf), 0);
    assert_true (page.more);
    assert_null (page.next_after);
    msgpack_sbuffer_destroy (&sbuf);
    for (size_t i = 0; i < count; i++)
        free ((char *) items [i].id);
    free (items);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_list_order_reads_the_number_of_an_id),
        cmocka_unit_test (test_list_order_is_by_number_not_clock_nor_text),
        cmocka_unit_test (test_list_order_page_says_where_the_next_starts),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
