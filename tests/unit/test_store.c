/*  test_store.c - the coordinator's store: what is written survives closing
    and opening again (as after a crash), unfinished deployments are found,
    steps keep their states, the outbox keeps order, ids count up, and a
    file that is not a store is refused.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "flotilla/store.h"

static char s_path [64];

static int
s_setup (void **state)
{
    (void) state;
    snprintf (s_path, sizeof s_path, "/tmp/flot-store-%d.db", (int) getpid ());
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    char path [80];
    unlink (s_path);
    snprintf (path, sizeof path, "%s-wal", s_path);
    unlink (path);
    snprintf (path, sizeof path, "%s-shm", s_path);
    unlink (path);
    return 0;
}

static flot_store_t *
s_open (void)
{
    flot_err_t err;
    flot_store_t *store = flot_store_open (s_path, &err);
    if (!store)
        fail_msg ("%s", err.message);
    return store;
}

static int
s_collect (const flot_deployment_row_t *row, void *arg)
{
    char *ids = arg;
    strcat (ids, row->id);
    strcat (ids, " ");
    return 0;
}

static int
s_collect_steps (const flot_step_row_t *row, void *arg)
{
    char *text = arg;
    char line [256];
    snprintf (line, sizeof line, "%s:%s:%d:%s ", row->step_id, row->state, row->attempt,
              row->output);
    strcat (text, line);
    return 0;
}

static void
test_store_keeps_deployments_and_steps_across_reopen (void **state)
{
    (void) state;
    flot_store_t *store = s_open ();
    char id [FLOT_STORE_ID_MAX], other [FLOT_STORE_ID_MAX];
    assert_int_equal (flot_store_new_id (store, "web", id, sizeof id), 0);
    assert_int_equal (flot_store_new_id (store, "api", other, sizeof other), 0);
    assert_string_equal (id, "web-1");
    assert_string_equal (other, "api-2");
    flot_deployment_row_t row = {
        .file = "web.yaml", .spec = "name: web\n", .promote = "",
        .created_ms = 1000, .updated_ms = 1000, .progress_ms = 1000, .last_error = ""
    };
    strcpy (row.id, id);
    strcpy (row.name, "web");
    strcpy (row.state, "running");
    assert_int_equal (flot_store_begin (store), 0);
    assert_int_equal (flot_store_put_deployment (store, &row), 0);
    flot_step_row_t step = { .index = 1, .attempt = 1, .output = "ok", .error = "" };
    strcpy (step.step_id, "a/1");
    strcpy (step.target, "a");
    strcpy (step.type, "apply");
    strcpy (step.state, "succeeded");
    assert_int_equal (flot_store_put_step (store, id, &step), 0);
    strcpy (step.step_id, "b/1");
    strcpy (step.target, "b");
    strcpy (step.state, "running");
    step.output = "";
    step.attempt = 2;
    assert_int_equal (flot_store_put_step (store, id, &step), 0);
    assert_int_equal (flot_store_commit (store), 0);
    //  A finished one, which the unfinished listing leaves out.
    strcpy (row.id, other);
    strcpy (row.name, "api");
    strcpy (row.state, "completed");
    row.created_ms = 2000;
    row.finished_ms = 3000;
    assert_int_equal (flot_store_put_deployment (store, &row), 0);
    flot_store_destroy (&store);

    store = s_open ();
    char ids [256] = "";
    assert_int_equal (flot_store_each_deployment (store, true, s_collect, ids), 0);
    assert_string_equal (ids, "web-1 ");
    ids [0] = 0;
    assert_int_equal (flot_store_each_deployment (store, false, s_collect, ids), 0);
    assert_string_equal (ids, "web-1 api-2 ");
    flot_deployment_row_t loaded;
    assert_int_equal (flot_store_get_deployment (store, "web-1", &loaded), 1);
    assert_string_equal (loaded.spec, "name: web\n");
    assert_string_equal (loaded.file, "web.yaml");
    assert_string_equal (loaded.state, "running");
    flot_deployment_row_clear (&loaded);
    assert_int_equal (flot_store_get_deployment (store, "nope-9", &loaded), 0);
    char steps [256] = "";
    assert_int_equal (flot_store_each_step (store, "web-1", s_collect_steps, steps), 0);
    assert_string_equal (steps, "a/1:succeeded:1:ok b/1:running:2: ");
    //  Ids go on counting after a reopen.
    assert_int_equal (flot_store_new_id (store, "web", id, sizeof id), 0);
    assert_string_equal (id, "web-3");
    flot_store_destroy (&store);
}

static void
test_store_rollback_discards_a_transaction (void **state)
{
    (void) state;
    flot_store_t *store = s_open ();
    flot_deployment_row_t row = { .promote = "", .state = "running" };
    strcpy (row.id, "gone-1");
    strcpy (row.name, "gone");
    assert_int_equal (flot_store_begin (store), 0);
    assert_int_equal (flot_store_put_deployment (store, &row), 0);
    assert_int_equal (flot_store_rollback (store), 0);
    flot_deployment_row_t loaded;
    assert_int_equal (flot_store_get_deployment (store, "gone-1", &loaded), 0);
    flot_store_destroy (&store);
}

static void
test_store_outbox_keeps_order (void **state)
{
    (void) state;
    flot_store_t *store = s_open ();
    assert_int_equal (flot_store_outbox_add (store, "\x81\xa1" "a\x01", 4), 0);
    assert_int_equal (flot_store_outbox_add (store, "\x81\xa1" "a\x02", 4), 0);
    flot_store_destroy (&store);
    store = s_open ();
    assert_int_equal (flot_store_outbox_add (store, "\x81\xa1" "a\x03", 4), 0);
    //  Removing up to an id takes that one and those before, not those after.
    for (int expected = 1; expected <= 3; expected += 2) {
        int64_t id;
        void *body;
        size_t size;
        assert_int_equal (flot_store_outbox_first (store, &id, &body, &size), 1);
        assert_int_equal (size, 4);
        assert_int_equal (((unsigned char *) body) [3], expected);
        free (body);
        assert_int_equal (flot_store_outbox_remove_upto (store, id + (expected == 1)), 0);
    }
    int64_t id;
    void *body;
    size_t size;
    assert_int_equal (flot_store_outbox_first (store, &id, &body, &size), 0);
    flot_store_destroy (&store);
}

static void
test_store_refuses_what_is_not_a_store (void **state)
{
    (void) state;
    FILE *file = fopen (s_path, "w");
    fputs ("this is not a database, just some text that is long enough to matter\n", file);
    fclose (file);
    flot_err_t err;
    assert_null (flot_store_open (s_path, &err));
    assert_non_null (strstr (err.message, s_path));
    assert_null (flot_store_open ("/nonexistent/dir/x.db", &err));
    assert_non_null (strstr (err.message, "cannot open the store /nonexistent/dir/x.db"));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_store_keeps_deployments_and_steps_across_reopen,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_store_rollback_discards_a_transaction,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_store_outbox_keeps_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_store_refuses_what_is_not_a_store,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
