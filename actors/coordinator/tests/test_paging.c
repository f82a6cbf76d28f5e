/*  test_paging.c - the coordinator's paged replies (SPEC 18.1): which
    targets a GetStatus request chooses (all, by state, one) from an offset
    and up to a limit, reading nothing but their states; the counts of a
    summary, in all and by wave; and that a page is cut down until its body
    fits the limit, saying so (more, next_offset, cut), while one that fits
    is whole and says no more follows.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "coordinator_internal.h"

#define N 10000

static void
test_paging_chooses_a_page_of_all_targets (void **state)
{
    (void) state;
    int *tstate = calloc (N, sizeof (int));
    size_t *chosen = calloc (N, sizeof (size_t)), total = 0;
    assert_non_null (tstate);
    assert_non_null (chosen);
    size_t count = coord_status_choose (tstate, N, -1, -1, 9990, 25, chosen, &total);
    assert_int_equal (count, 10);
    assert_int_equal (total, N);
    assert_int_equal (chosen [0], 9990);
    assert_int_equal (chosen [9], 9999);
    count = coord_status_choose (tstate, N, -1, -1, 0, 3, chosen, &total);
    assert_int_equal (count, 3);
    assert_int_equal (chosen [2], 2);
    //  Past the end: none, and the total still.
    count = coord_status_choose (tstate, N, -1, -1, N + 5, 3, chosen, &total);
    assert_int_equal (count, 0);
    assert_int_equal (total, N);
    //  limit 0: none (a summary alone).
    count = coord_status_choose (tstate, N, -1, -1, 0, 0, chosen, &total);
    assert_int_equal (count, 0);
    assert_int_equal (total, N);
    free (tstate);
    free (chosen);
}

static void
test_paging_chooses_by_state_and_by_name (void **state)
{
    (void) state;
    int *tstate = calloc (N, sizeof (int));
    size_t *chosen = calloc (N, sizeof (size_t)), total = 0;
    assert_non_null (tstate);
    assert_non_null (chosen);
    //  Every 1000th target failed: 10 of them.
    for (size_t t = 0; t < N; t += 1000)
        tstate [t] = TS_FAILED;
    size_t count = coord_status_choose (tstate, N, -1, TS_FAILED, 0, 4, chosen, &total);
    assert_int_equal (count, 4);
    assert_int_equal (total, 10);
    assert_int_equal (chosen [3], 3000);
    //  From the 8th failed one on: the last two.
    count = coord_status_choose (tstate, N, -1, TS_FAILED, 8, 100, chosen, &total);
    assert_int_equal (count, 2);
    assert_int_equal (total, 10);
    assert_int_equal (chosen [0], 8000);
    assert_int_equal (chosen [1], 9000);
    count = coord_status_choose (tstate, N, -1, TS_WAITING, 0, 100, chosen, &total);
    assert_int_equal (count, 0);
    assert_int_equal (total, 0);
    //  One target: that one, whatever the offset.
    count = coord_status_choose (tstate, N, 4242, -1, 17, 100, chosen, &total);
    assert_int_equal (count, 1);
    assert_int_equal (total, 1);
    assert_int_equal (chosen [0], 4242);
    free (tstate);
    free (chosen);
}

static void
test_paging_counts_by_state_and_wave (void **state)
{
    (void) state;
    int tstate [8] = { TS_DONE, TS_DONE, TS_RUNNING, TS_FAILED, TS_PENDING, TS_PENDING,
                       TS_SKIPPED, 99 };
    flot_target_t targets [8];
    memset (targets, 0, sizeof targets);
    for (int t = 0; t < 8; t++)
        targets [t].wave = t / 2;           //  waves 0..3, two targets each
    uint64_t total [TS_COUNT] = { 0 };
    uint64_t by_wave [3][TS_COUNT];
    uint64_t wave_targets [3] = { 0 };
    memset (by_wave, 0, sizeof by_wave);
    //  Three waves shown of four: the fourth is counted in all only.
    coord_count_states (tstate, targets, 8, 3, total, by_wave, wave_targets);
    assert_int_equal (total [TS_DONE], 2);
    assert_int_equal (total [TS_PENDING], 2);
    assert_int_equal (total [TS_SKIPPED], 1);
    assert_int_equal (total [TS_RUNNING] + total [TS_FAILED], 2);
    assert_int_equal (by_wave [0][TS_DONE], 2);
    assert_int_equal (by_wave [1][TS_RUNNING], 1);
    assert_int_equal (by_wave [1][TS_FAILED], 1);
    assert_int_equal (by_wave [2][TS_PENDING], 2);
    assert_int_equal (wave_targets [0], 2);
    assert_int_equal (wave_targets [2], 2);
    //  A state that is none (99) is counted nowhere.
    uint64_t all = 0;
    for (int s = 0; s < TS_COUNT; s++)
        all += total [s];
    assert_int_equal (all, 7);
}

//  count deployments of List, each with an id of about 90 bytes.
static flot_coordinator_deployment_t *
s_deployments (size_t count)
{
    flot_coordinator_deployment_t *items = calloc (count, sizeof *items);
    assert_non_null (items);
    for (size_t i = 0; i < count; i++) {
        char *id = malloc (128);
        assert_non_null (id);
        snprintf (id, 128, "%s-%zu", "a-rather-long-deployment-name-that-fills-the-row-"
                  "of-a-list-to-the-brim-and-more", i + 1);
        items [i] = (flot_coordinator_deployment_t) {
            .id = id, .name = "web", .state = "completed", .percent = 100,
            .created_ms = 1796315379581, .updated_ms = 1796315379581, .applied_by = "local"
        };
    }
    return items;
}

static void
s_deployments_free (flot_coordinator_deployment_t *items, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free ((char *) items [i].id);
    free (items);
}

static void
test_paging_cuts_a_page_to_fit_and_says_so (void **state)
{
    (void) state;
    size_t count = 20000;       //  some 3 MiB of them
    flot_coordinator_deployment_t *items = s_deployments (count);
    flot_coordinator_page_t page = { .offset = 100, .total = 100 + count + 50 };
    flot_coordinator_list_reply_t reply = { .deployments = { count, items }, .page = &page };
    msgpack_sbuffer sbuf;
    assert_int_equal (coord_encode_page (&flot_coordinator_list_reply_def, &reply,
                                         &reply.deployments, count, count, &page, &sbuf), 0);
    assert_true (sbuf.size <= FLOT_MAX_BODY);
    size_t n = reply.deployments.count;
    assert_true (n > 1000 && n < count);
    assert_true (page.more);
    assert_true (page.cut);
    assert_true (page.has_next_offset);
    assert_int_equal (page.next_offset, 100 + n);
    //  The body says so, and holds exactly those.
    flot_err_t err;
    flot_body_t *body = flot_body_decode (sbuf.data, sbuf.size, &err);
    assert_non_null (body);
    flot_coordinator_list_reply_t back;
    memset (&back, 0, sizeof back);
    assert_int_equal (flot_coordinator_list_reply_decode (flot_body_root (body),
                      flot_body_zone (body), &back, &err), 0);
    assert_int_equal (back.deployments.count, n);
    assert_non_null (back.page);
    assert_true (back.page->more && back.page->cut);
    assert_int_equal (back.page->next_offset, 100 + n);
    assert_string_equal (((flot_coordinator_deployment_t *) back.deployments.items) [n - 1].id,
                         items [n - 1].id);
    flot_body_destroy (&body);
    msgpack_sbuffer_destroy (&sbuf);
    s_deployments_free (items, count);
}

static void
test_paging_keeps_a_page_that_fits_whole (void **state)
{
    (void) state;
    size_t count = 10;
    flot_coordinator_deployment_t *items = s_deployments (count);
    //  The last page of 10 asked for 25: whole, and nothing follows.
    flot_coordinator_page_t page = { .offset = 40, .total = 50 };
    flot_coordinator_list_reply_t reply = { .deployments = { count, items }, .page = &page };
    msgpack_sbuffer sbuf;
    assert_int_equal (coord_encode_page (&flot_coordinator_list_reply_def, &reply,
                                         &reply.deployments, count, 25, &page, &sbuf), 0);
    assert_int_equal (reply.deployments.count, count);
    assert_false (page.more);
    assert_false (page.cut);
    assert_false (page.has_next_offset);
    msgpack_sbuffer_destroy (&sbuf);
    //  A page short of the limit that more follow: not cut, it was asked so.
    page = (flot_coordinator_page_t) { .offset = 0, .total = 50 };
    assert_int_equal (coord_encode_page (&flot_coordinator_list_reply_def, &reply,
                                         &reply.deployments, count, count, &page, &sbuf), 0);
    assert_true (page.more);
    assert_false (page.cut);
    assert_int_equal (page.next_offset, 10);
    msgpack_sbuffer_destroy (&sbuf);
    s_deployments_free (items, count);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_paging_chooses_a_page_of_all_targets),
        cmocka_unit_test (test_paging_chooses_by_state_and_by_name),
        cmocka_unit_test (test_paging_counts_by_state_and_wave),
        cmocka_unit_test (test_paging_cuts_a_page_to_fit_and_says_so),
        cmocka_unit_test (test_paging_keeps_a_page_that_fits_whole),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
