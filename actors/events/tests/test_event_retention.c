/*  test_event_retention.c - the events' history read from disk in bounded
    pages (event_log.c's flot_event_log_read, what Replay sends), and its
    retention (flot_event_log_prune): the oldest events go first, by count
    and by age, a pass examines at most its batch, the events a running
    deployment keeps stay whatever their age, and the newest event always
    stays so that the sequence goes on after a restart.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "event_log.h"
#include "flotilla/contract_events.h"
#include "sqlite_util.h"

static flot_event_log_t *
s_open (void)
{
    flot_err_t err;
    flot_event_log_t *log = flot_event_log_open (sqlite_path, &err);
    if (!log)
        fail_msg ("%s", err.message);
    return log;
}

//  Appends event seq of deployment, published at time_ms, as the events
//  actor writes it (an EVENT map).
static void
s_append (flot_event_log_t *log, uint64_t seq, const char *deployment, uint64_t time_ms)
{
    flot_events_event_t event = {
        .seq = seq, .time_ms = time_ms, .type = "step.begun", .deployment = deployment,
        .message = "a step begins"
    };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_events_event_def, &event, &sbuf);
    flot_err_t err;
    if (flot_event_log_append (log, seq, deployment, sbuf.data, sbuf.size, &err))
        fail_msg ("%s", err.message);
    msgpack_sbuffer_destroy (&sbuf);
}

typedef struct {
    uint64_t seqs [1100];
    size_t count;
    size_t max_bytes;           //  stop past this many bytes (0: never)
    size_t bytes;
} page_t;

static int
s_page_add (uint64_t seq, const void *body, size_t size, void *arg)
{
    page_t *page = arg;
    uint64_t time_ms;
    char type [32];
    assert_int_equal (flot_event_body_peek (body, size, type, sizeof type, &time_ms), 0);
    assert_string_equal (type, "step.begun");
    if (page->max_bytes && page->bytes + size > page->max_bytes)
        return 1;
    page->bytes += size;
    page->seqs [page->count++] = seq;
    return 0;
}

static int64_t
s_read (flot_event_log_t *log, uint64_t since, const char *deployment, size_t limit,
        page_t *page, bool *more)
{
    flot_err_t err;
    page->count = page->bytes = 0;
    int64_t given = flot_event_log_read (log, since, deployment, limit, s_page_add, page,
                                         more, &err);
    if (given < 0)
        fail_msg ("%s", err.message);
    assert_int_equal (given, page->count);
    return given;
}

static void
test_event_log_reads_pages_from_disk_in_order (void **state)
{
    (void) state;
    flot_event_log_t *log = s_open ();
    flot_err_t err;
    assert_int_equal (flot_event_log_begin (log, &err), 0);
    for (uint64_t seq = 1; seq <= 5000; seq++)
        s_append (log, seq, seq % 10 == 0 ? "web-1" : "api-2", 1000 + seq);
    assert_int_equal (flot_event_log_commit (log, &err), 0);
    assert_int_equal (flot_event_log_held (log), 5000);
    assert_int_equal (flot_event_log_oldest (log), 1);
    assert_int_equal (flot_event_log_newest (log), 5000);

    //  Page by page, as Replay following more: every event once, in order.
    page_t *page = calloc (1, sizeof *page);
    bool more = true;
    uint64_t since = 1, expected = 1;
    int pages = 0;
    while (more) {
        s_read (log, since, NULL, 1000, page, &more);
        for (size_t i = 0; i < page->count; i++)
            assert_int_equal (page->seqs [i], expected++);
        since = page->seqs [page->count - 1] + 1;
        pages++;
    }
    assert_int_equal (expected, 5001);
    assert_int_equal (pages, 5);

    //  One deployment's events only, from a seq on.
    assert_int_equal (s_read (log, 4951, "web-1", 1000, page, &more), 5);
    assert_int_equal (page->seqs [0], 4960);
    assert_int_equal (page->seqs [4], 5000);
    assert_false (more);

    //  A page cut by its bytes says that more follows.
    page->max_bytes = 10 * 60;
    s_read (log, 1, NULL, 1000, page, &more);
    assert_in_range (page->count, 1, 10);
    assert_true (more);
    page->max_bytes = 0;

    //  Past the newest, nothing.
    assert_int_equal (s_read (log, 5001, NULL, 1000, page, &more), 0);
    assert_false (more);
    free (page);
    flot_event_log_destroy (&log);
}

static bool
s_keep_web (const char *deployment, void *arg)
{
    (void) arg;
    return strcmp (deployment, "web-1") == 0;
}

//  Runs passes until one says it is done; returns the events removed.
static int64_t
s_prune_all (flot_event_log_t *log, const flot_event_log_policy_t *policy, int *passes)
{
    int64_t removed = 0;
    bool done = false;
    *passes = 0;
    while (!done) {
        flot_err_t err;
        int64_t n = flot_event_log_prune (log, policy, &done, &err);
        if (n < 0)
            fail_msg ("%s", err.message);
        removed += n;
        assert_true (++*passes < 1000);
    }
    return removed;
}

static void
test_event_log_prunes_the_oldest_beyond_the_count_a_batch_at_a_time (void **state)
{
    (void) state;
    flot_event_log_t *log = s_open ();
    for (uint64_t seq = 1; seq <= 100; seq++)
        s_append (log, seq, "api-2", 1000 + seq);
    flot_event_log_policy_t policy = { .count = 30, .batch = 10 };
    flot_err_t err;
    bool done = true;
    //  One pass examines ten events: ten go, and it is not done.
    assert_int_equal (flot_event_log_prune (log, &policy, &done, &err), 10);
    assert_false (done);
    assert_int_equal (flot_event_log_oldest (log), 11);
    int passes;
    assert_int_equal (s_prune_all (log, &policy, &passes), 60);
    assert_int_equal (flot_event_log_held (log), 30);
    assert_int_equal (flot_event_log_oldest (log), 71);
    assert_int_equal (flot_event_log_newest (log), 100);
    //  Within the count and without an age, nothing more goes.
    assert_int_equal (flot_event_log_prune (log, &policy, &done, &err), 0);
    assert_true (done);
    flot_event_log_destroy (&log);
    //  The count held is the file's, after a restart.
    log = s_open ();
    assert_int_equal (flot_event_log_held (log), 30);
    flot_event_log_destroy (&log);
}

static void
test_event_log_prunes_by_age_but_keeps_a_running_deployments_events (void **state)
{
    (void) state;
    flot_event_log_t *log = s_open ();
    //  Old events of web-1 (running) and api-2 (ended), then new ones.
    for (uint64_t seq = 1; seq <= 40; seq++)
        s_append (log, seq, seq % 2 ? "web-1" : "api-2", 1000 + seq);
    for (uint64_t seq = 41; seq <= 50; seq++)
        s_append (log, seq, "api-2", 900000 + seq);
    flot_event_log_policy_t policy = {
        .before_ms = 500000, .batch = 7, .keep = s_keep_web
    };
    int passes;
    assert_int_equal (s_prune_all (log, &policy, &passes), 20);
    assert_true (passes >= 3);
    assert_int_equal (flot_event_log_held (log), 30);
    page_t *page = calloc (1, sizeof *page);
    bool more;
    assert_int_equal (s_read (log, 0, "api-2", 1000, page, &more), 10);
    assert_int_equal (page->seqs [0], 41);
    assert_int_equal (s_read (log, 0, "web-1", 1000, page, &more), 20);
    assert_int_equal (page->seqs [0], 1);
    //  Once web-1 ended (nothing keeps it), its old events go too.
    policy.keep = NULL;
    assert_int_equal (s_prune_all (log, &policy, &passes), 20);
    assert_int_equal (flot_event_log_oldest (log), 41);
    //  A count past what is kept still spares a running deployment's.
    s_append (log, 51, "web-1", 900051);
    policy = (flot_event_log_policy_t) { .count = 1, .batch = 100, .keep = s_keep_web };
    assert_int_equal (s_prune_all (log, &policy, &passes), 10);
    assert_int_equal (flot_event_log_held (log), 1);
    assert_int_equal (flot_event_log_oldest (log), 51);
    free (page);
    flot_event_log_destroy (&log);
}

static void
test_event_log_prune_keeps_the_newest_event_for_the_sequence (void **state)
{
    (void) state;
    flot_event_log_t *log = s_open ();
    for (uint64_t seq = 1; seq <= 20; seq++)
        s_append (log, seq, "", 1000 + seq);
    //  Everything is old: all go but the newest.
    flot_event_log_policy_t policy = { .before_ms = 1000000, .batch = 100 };
    int passes;
    assert_int_equal (s_prune_all (log, &policy, &passes), 19);
    flot_event_log_destroy (&log);
    log = s_open ();
    assert_int_equal (flot_event_log_held (log), 1);
    assert_int_equal (flot_event_log_newest (log), 20);
    flot_event_log_destroy (&log);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_event_log_reads_pages_from_disk_in_order,
                                         sqlite_setup, sqlite_teardown),
        cmocka_unit_test_setup_teardown (
            test_event_log_prunes_the_oldest_beyond_the_count_a_batch_at_a_time,
            sqlite_setup, sqlite_teardown),
        cmocka_unit_test_setup_teardown (
            test_event_log_prunes_by_age_but_keeps_a_running_deployments_events,
            sqlite_setup, sqlite_teardown),
        cmocka_unit_test_setup_teardown (
            test_event_log_prune_keeps_the_newest_event_for_the_sequence,
            sqlite_setup, sqlite_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
