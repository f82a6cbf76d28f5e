/*  test_store_retention.c - the store's side of retention (retention.c
    decides when): which finished deployments are past the age or beyond
    the count, the first finished first and never a running or rolling
    back one, and that removing one takes all the store holds of it (its
    row, spec, steps and actions) and nothing of the others.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store.h"
#include "sqlite_util.h"

static flot_store_t *
s_open (void)
{
    flot_err_t err;
    flot_store_t *store = flot_store_open (sqlite_path, &err);
    if (!store)
        fail_msg ("%s", err.message);
    return store;
}

//  A deployment id in state, finished at finished_ms (0: not finished),
//  with a step and an action.
static void
s_put (flot_store_t *store, const char *id, const char *state, int64_t finished_ms)
{
    flot_deployment_row_t row = {
        .file = "web.yaml", .spec = "name: web\n", .promote = "", .created_ms = 1,
        .updated_ms = 1, .progress_ms = 1, .finished_ms = finished_ms, .last_error = ""
    };
    snprintf (row.id, sizeof row.id, "%s", id);
    snprintf (row.name, sizeof row.name, "web");
    snprintf (row.state, sizeof row.state, "%s", state);
    assert_int_equal (flot_store_put_deployment (store, &row), 0);
    flot_step_row_t step = { .index = 0, .attempt = 1, .output = "", .error = "" };
    snprintf (step.step_id, sizeof step.step_id, "eu-1/0");
    snprintf (step.target, sizeof step.target, "eu-1");
    snprintf (step.type, sizeof step.type, "apply");
    snprintf (step.state, sizeof step.state, "succeeded");
    assert_int_equal (flot_store_put_step (store, id, &step), 0);
    flot_action_row_t action = { .command = "apply", .by = "ops", .at_ms = 1, .reason = "" };
    assert_int_equal (flot_store_add_action (store, id, &action), 0);
}

static int
s_collect (const char *id, int64_t finished_ms, void *arg)
{
    char *ids = arg;
    char item [128];
    snprintf (item, sizeof item, "%s@%lld ", id, (long long) finished_ms);
    strcat (ids, item);
    return 0;
}

static const char *
s_expired (flot_store_t *store, int64_t before_ms, size_t keep, size_t limit, char *ids)
{
    *ids = 0;
    assert_int_equal (flot_store_each_expired (store, before_ms, keep, limit, s_collect, ids), 0);
    return ids;
}

static void
s_fill (flot_store_t *store)
{
    s_put (store, "web-1", "completed", 1000);
    s_put (store, "web-2", "running", 0);          //  paused or queued: running too
    s_put (store, "web-3", "failed", 3000);
    s_put (store, "web-4", "rolling_back", 0);
    s_put (store, "web-5", "rolled_back", 2000);
    s_put (store, "web-6", "aborted", 5000);
    s_put (store, "web-7", "rollback_failed", 4000);
}

static void
test_store_expired_are_finished_ones_past_the_age_or_beyond_the_count (void **state)
{
    (void) state;
    flot_store_t *store = s_open ();
    s_fill (store);
    char ids [512];
    //  No limit: none.
    assert_string_equal (s_expired (store, 0, 0, 100, ids), "");
    //  By age: finished before 3500, the first finished first.
    assert_string_equal (s_expired (store, 3500, 0, 100, ids),
                         "web-1@1000 web-5@2000 web-3@3000 ");
    //  By count: beyond the newest two finished (web-6, web-7).
    assert_string_equal (s_expired (store, 0, 2, 100, ids),
                         "web-1@1000 web-5@2000 web-3@3000 ");
    assert_string_equal (s_expired (store, 0, 4, 100, ids), "web-1@1000 ");
    //  Either: the union; and at most limit of them.
    assert_string_equal (s_expired (store, 2500, 4, 100, ids), "web-1@1000 web-5@2000 ");
    assert_string_equal (s_expired (store, 10000, 0, 2, ids), "web-1@1000 web-5@2000 ");
    //  Whatever the limits, never a running or rolling back one.
    assert_null (strstr (s_expired (store, INT64_MAX, 1, 100, ids), "web-2"));
    assert_null (strstr (ids, "web-4"));
    assert_string_equal (ids, "web-1@1000 web-5@2000 web-3@3000 web-7@4000 web-6@5000 ");
    flot_store_destroy (&store);
}

static void
test_store_remove_deployment_takes_all_it_holds_and_only_that (void **state)
{
    (void) state;
    flot_store_t *store = s_open ();
    s_fill (store);
    assert_int_equal (flot_store_begin (store), 0);
    assert_int_equal (flot_store_remove_deployment (store, "web-1"), 0);
    assert_int_equal (flot_store_remove_deployment (store, "web-5"), 0);
    //  One that is not there: nothing to do, no error.
    assert_int_equal (flot_store_remove_deployment (store, "web-99"), 0);
    assert_int_equal (flot_store_commit (store), 0);
    flot_deployment_row_t row;
    assert_int_equal (flot_store_get_deployment (store, "web-1", &row), 0);
    assert_int_equal (flot_store_get_deployment (store, "web-3", &row), 1);
    flot_deployment_row_clear (&row);
    flot_store_destroy (&store);
    char text [64];
    const char *tables [] = { "deployments", "specs", "steps", "actions" };
    for (size_t i = 0; i < 4; i++) {
        char sql [128];
        snprintf (sql, sizeof sql, "SELECT count(*) FROM %s", tables [i]);
        assert_string_equal (sqlite_text (sqlite_path, sql, text, sizeof text), "5");
        snprintf (sql, sizeof sql, "SELECT count(*) FROM %s WHERE %s IN ('web-1', 'web-5')",
                  tables [i], i == 0 ? "id" : "deployment");
        assert_string_equal (sqlite_text (sqlite_path, sql, text, sizeof text), "0");
    }
    store = s_open ();
    char ids [512];
    assert_string_equal (s_expired (store, 3500, 0, 100, ids), "web-3@3000 ");
    flot_store_destroy (&store);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (
            test_store_expired_are_finished_ones_past_the_age_or_beyond_the_count,
            sqlite_setup, sqlite_teardown),
        cmocka_unit_test_setup_teardown (
            test_store_remove_deployment_takes_all_it_holds_and_only_that,
            sqlite_setup, sqlite_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
