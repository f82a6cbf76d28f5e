/*  test_store.c - the coordinator's store: what is written survives closing
    and opening again (as after a crash), unfinished deployments are found,
    steps keep their states, the outbox keeps order, ids count up, and a
    file that is not a store is refused. Operators' actions are kept per
    deployment, in order, and read back bounded to the last ones. Both
    stores, the coordinator's and the events' log, migrate an older schema
    version in place (a version 4 store gains the actions, its deployments
    unchanged) and refuse a newer one.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"
#include "sqlite_util.h"

//  The store file says this build's schema version, in both places.
static void
s_assert_schema_current (void)
{
    char want [32], text [64];
    snprintf (want, sizeof want, "%d", FLOT_STORE_SCHEMA_VERSION);
    assert_string_equal (sqlite_text (sqlite_path, "PRAGMA user_version", text, sizeof text), want);
    assert_string_equal (sqlite_text (sqlite_path, "SELECT value FROM meta WHERE key = 'schema'",
                                     text, sizeof text), want);
}

static flot_store_t *
s_open (void)
{
    flot_err_t err;
    flot_store_t *store = flot_store_open (sqlite_path, &err);
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

//  Actions as "command:by:at_ms:reason ...", oldest first.
static int
s_collect_actions (const flot_action_row_t *action, void *arg)
{
    char *text = arg;
    char line [256];
    snprintf (line, sizeof line, "%s:%s:%lld:%s ", action->command, action->by,
              (long long) action->at_ms, action->reason);
    strcat (text, line);
    return 0;
}

static void
s_add_action (flot_store_t *store, const char *deployment, const char *command,
              const char *by, int64_t at_ms, const char *reason)
{
    flot_action_row_t action = {
        .command = command, .by = by, .at_ms = at_ms, .reason = reason
    };
    assert_int_equal (flot_store_add_action (store, deployment, &action), 0);
}

static void
test_store_keeps_actions_per_deployment_in_order (void **state)
{
    (void) state;
    flot_store_t *store = s_open ();
    assert_int_equal (flot_store_begin (store), 0);
    s_add_action (store, "web-1", "apply", "local", 100, "");
    s_add_action (store, "api-2", "apply", "", 150, "");
    s_add_action (store, "web-1", "pause", "alice", 200, "");
    s_add_action (store, "web-1", "resume", "alice", 300, "");
    s_add_action (store, "web-1", "promote", "bob", 400, "full");
    s_add_action (store, "web-1", "abort", "bob", 500, "latency is up");
    assert_int_equal (flot_store_commit (store), 0);
    //  Not committed: gone with its transaction.
    assert_int_equal (flot_store_begin (store), 0);
    s_add_action (store, "web-1", "pause", "mallory", 600, "");
    assert_int_equal (flot_store_rollback (store), 0);
    flot_store_destroy (&store);

    store = s_open ();
    char text [1024] = "";
    size_t total = 99;
    assert_int_equal (flot_store_each_action (store, "web-1", 0, &total,
                                              s_collect_actions, text), 0);
    assert_int_equal (total, 5);
    assert_string_equal (text, "apply:local:100: pause:alice:200: resume:alice:300: "
                               "promote:bob:400:full abort:bob:500:latency is up ");
    //  Bounded: the last ones, still oldest first.
    text [0] = 0;
    assert_int_equal (flot_store_each_action (store, "web-1", 2, &total,
                                              s_collect_actions, text), 0);
    assert_int_equal (total, 5);
    assert_string_equal (text, "promote:bob:400:full abort:bob:500:latency is up ");
    //  An unknown caller is kept as "".
    text [0] = 0;
    assert_int_equal (flot_store_each_action (store, "api-2", 20, NULL,
                                              s_collect_actions, text), 0);
    assert_string_equal (text, "apply::150: ");
    text [0] = 0;
    assert_int_equal (flot_store_each_action (store, "nope-9", 20, &total,
                                              s_collect_actions, text), 0);
    assert_int_equal (total, 0);
    assert_string_equal (text, "");
    flot_store_destroy (&store);
}

static void
test_store_refuses_what_is_not_a_store (void **state)
{
    (void) state;
    FILE *file = fopen (sqlite_path, "w");
    fputs ("this is not a database, just some text that is long enough to matter\n", file);
    fclose (file);
    flot_err_t err;
    assert_null (flot_store_open (sqlite_path, &err));
    assert_non_null (strstr (err.message, sqlite_path));
    assert_null (flot_store_open ("/nonexistent/dir/x.db", &err));
    assert_non_null (strstr (err.message, "cannot open the store /nonexistent/dir/x.db"));
}

//  --------------------------------------------------------------------------
//  Schema versions

//  The coordinator's store as the builds before versioned migrations wrote
//  it (schema version 2, in meta only), with a running deployment, a step
//  and an event in the outbox.
static const char *s_store_v2 =
    "PRAGMA journal_mode = WAL;"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE specs (deployment TEXT PRIMARY KEY, file TEXT NOT NULL,"
    "  spec TEXT NOT NULL, cwd TEXT NOT NULL);"
    "CREATE TABLE deployments (id TEXT PRIMARY KEY, name TEXT NOT NULL,"
    "  state TEXT NOT NULL, paused INTEGER NOT NULL, promote TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    "  finished_ms INTEGER NOT NULL, progress_ms INTEGER NOT NULL,"
    "  last_error TEXT NOT NULL);"
    "CREATE TABLE steps (deployment TEXT NOT NULL, step_id TEXT NOT NULL,"
    "  target TEXT NOT NULL, idx INTEGER NOT NULL, type TEXT NOT NULL,"
    "  state TEXT NOT NULL, attempt INTEGER NOT NULL, started_ms INTEGER NOT NULL,"
    "  finished_ms INTEGER NOT NULL, output TEXT NOT NULL, error TEXT NOT NULL,"
    "  PRIMARY KEY (deployment, step_id));"
    "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL);"
    "INSERT INTO meta VALUES ('schema', '2'), ('next_id', '2');"
    "INSERT INTO specs VALUES ('web-1', 'web.yaml', 'name: web', '/srv');"
    "INSERT INTO deployments VALUES ('web-1', 'web', 'running', 0, '', 1, 2, 0, 2, '');"
    "INSERT INTO steps VALUES ('web-1', 'a/1', 'a', 1, 'apply', 'running', 1, 2, 0, '', '');"
    "INSERT INTO outbox (body) VALUES (x'81a16101');";

//  The coordinator's store as version 4 wrote it: who applied a deployment
//  (specs.created_by) and its RESOLVED bytes, but no actions.
static const char *s_store_v4 =
    "PRAGMA journal_mode = WAL;"
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE specs (deployment TEXT PRIMARY KEY, file TEXT NOT NULL,"
    "  spec TEXT NOT NULL, cwd TEXT NOT NULL, created_by TEXT NOT NULL DEFAULT '',"
    "  resolved BLOB);"
    "CREATE TABLE deployments (id TEXT PRIMARY KEY, name TEXT NOT NULL,"
    "  state TEXT NOT NULL, paused INTEGER NOT NULL, promote TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    "  finished_ms INTEGER NOT NULL, progress_ms INTEGER NOT NULL,"
    "  last_error TEXT NOT NULL);"
    "CREATE TABLE steps (deployment TEXT NOT NULL, step_id TEXT NOT NULL,"
    "  target TEXT NOT NULL, idx INTEGER NOT NULL, type TEXT NOT NULL,"
    "  state TEXT NOT NULL, attempt INTEGER NOT NULL, started_ms INTEGER NOT NULL,"
    "  finished_ms INTEGER NOT NULL, output TEXT NOT NULL, error TEXT NOT NULL,"
    "  PRIMARY KEY (deployment, step_id));"
    "CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL);"
    "INSERT INTO meta VALUES ('schema', '4'), ('next_id', '2');"
    "INSERT INTO specs VALUES ('web-1', 'web.yaml', 'name: web', '/srv', 'carol',"
    "  x'81a16101');"
    "INSERT INTO deployments VALUES ('web-1', 'web', 'running', 1, '', 1, 2, 0, 2, '');"
    "INSERT INTO steps VALUES ('web-1', 'a/1', 'a', 1, 'apply', 'succeeded', 1, 2, 3,"
    "  'ok', '');"
    "PRAGMA user_version = 4;";

static void
test_store_migrates_a_version_4_store_to_keep_actions (void **state)
{
    (void) state;
    char text [256];
    sqlite_run (sqlite_path, s_store_v4);
    flot_store_t *store = s_open ();
    //  Its deployment as it was: who applied it, its RESOLVED bytes, its steps.
    flot_deployment_row_t row;
    assert_int_equal (flot_store_get_deployment (store, "web-1", &row), 1);
    assert_string_equal (row.state, "running");
    assert_true (row.paused);
    assert_string_equal (row.created_by, "carol");
    assert_int_equal (row.resolved_size, 4);
    assert_memory_equal (row.resolved, "\x81\xa1" "a\x01", 4);
    flot_deployment_row_clear (&row);
    char steps [256] = "";
    assert_int_equal (flot_store_each_step (store, "web-1", s_collect_steps, steps), 0);
    assert_string_equal (steps, "a/1:succeeded:1:ok ");
    //  No actions before the migration; they are kept from now on.
    size_t total = 99;
    assert_int_equal (flot_store_each_action (store, "web-1", 20, &total,
                                              s_collect_actions, text), 0);
    assert_int_equal (total, 0);
    s_add_action (store, "web-1", "resume", "alice", 700, "");
    //  It goes on being written as before.
    flot_deployment_row_t update = { .promote = "", .state = "completed", .finished_ms = 9,
                                     .last_error = "" };
    strcpy (update.id, "web-1");
    strcpy (update.name, "web");
    assert_int_equal (flot_store_put_deployment (store, &update), 0);
    flot_store_destroy (&store);

    s_assert_schema_current ();
    store = s_open ();
    text [0] = 0;
    assert_int_equal (flot_store_each_action (store, "web-1", 20, &total,
                                              s_collect_actions, text), 0);
    assert_int_equal (total, 1);
    assert_string_equal (text, "resume:alice:700: ");
    assert_int_equal (flot_store_get_deployment (store, "web-1", &row), 1);
    assert_string_equal (row.state, "completed");
    assert_string_equal (row.created_by, "carol");
    flot_deployment_row_clear (&row);
    flot_store_destroy (&store);
}

static void
test_store_migrates_a_version_2_store_in_place (void **state)
{
    (void) state;
    sqlite_run (sqlite_path, s_store_v2);
    flot_store_t *store = s_open ();
    flot_deployment_row_t row;
    assert_int_equal (flot_store_get_deployment (store, "web-1", &row), 1);
    assert_string_equal (row.state, "running");
    assert_string_equal (row.cwd, "/srv");
    assert_string_equal (row.created_by, "");
    flot_deployment_row_clear (&row);
    char steps [256] = "";
    assert_int_equal (flot_store_each_step (store, "web-1", s_collect_steps, steps), 0);
    assert_string_equal (steps, "a/1:running:1: ");
    int64_t id;
    void *body;
    size_t size;
    assert_int_equal (flot_store_outbox_first (store, &id, &body, &size), 1);
    assert_int_equal (size, 4);
    free (body);
    //  What the new column holds is kept.
    flot_deployment_row_t mine = { .spec = "name: api", .promote = "", .state = "running",
                                   .created_by = "alice" };
    strcpy (mine.id, "api-2");
    strcpy (mine.name, "api");
    assert_int_equal (flot_store_put_deployment (store, &mine), 0);
    flot_store_destroy (&store);

    s_assert_schema_current ();
    store = s_open ();
    assert_int_equal (flot_store_get_deployment (store, "api-2", &row), 1);
    assert_string_equal (row.created_by, "alice");
    flot_deployment_row_clear (&row);
    flot_store_destroy (&store);
}

static void
test_store_creates_the_tables_a_migration_makes (void **state)
{
    (void) state;
    char fresh [4096], migrated [4096];
    const char *indexes = "SELECT group_concat (name || ' ' || sql, '; ') FROM"
                          " (SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                          " AND sql IS NOT NULL ORDER BY name)";
    char fresh_indexes [512], migrated_indexes [512];
    flot_store_t *store = s_open ();
    flot_store_destroy (&store);
    sqlite_columns (sqlite_path, fresh, sizeof fresh);
    sqlite_text (sqlite_path, indexes, fresh_indexes, sizeof fresh_indexes);
    assert_non_null (strstr (fresh, "actions(id INTEGER"));
    assert_non_null (strstr (fresh_indexes, "actions_of_deployment"));
    for (int from = 2; from <= 4; from += 2) {
        sqlite_teardown (NULL);
        sqlite_run (sqlite_path, from == 2 ? s_store_v2 : s_store_v4);
        store = s_open ();
        flot_store_destroy (&store);
        assert_string_equal (sqlite_columns (sqlite_path, migrated, sizeof migrated), fresh);
        assert_string_equal (sqlite_text (sqlite_path, indexes, migrated_indexes,
                                          sizeof migrated_indexes), fresh_indexes);
    }

}

static void
test_store_refuses_a_newer_or_unknown_schema (void **state)
{
    (void) state;
    char text [64], want [256];
    flot_err_t err;
    flot_store_t *store = s_open ();
    flot_store_destroy (&store);
    sqlite_run (sqlite_path, "PRAGMA user_version = 7");
    assert_null (flot_store_open (sqlite_path, &err));
    snprintf (want, sizeof want, "store %s: schema version 7 is newer than this build's %d "
              "(it opens versions 2 to %d); use a newer flotillad", sqlite_path,
              FLOT_STORE_SCHEMA_VERSION, FLOT_STORE_SCHEMA_VERSION);
    assert_string_equal (err.message, want);
    //  Left as it was.
    assert_string_equal (sqlite_text (sqlite_path, "PRAGMA user_version", text, sizeof text), "7");

    //  Older than any version migrated: the first stores, in meta only.
    sqlite_teardown (NULL);
    sqlite_run (sqlite_path, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                   "INSERT INTO meta VALUES ('schema', '1')");
    assert_null (flot_store_open (sqlite_path, &err));
    assert_non_null (strstr (err.message, "schema version 1 is older than this build migrates"));
    assert_non_null (strstr (err.message, sqlite_path));

    //  Tables of no version: another program's file.
    sqlite_teardown (NULL);
    sqlite_run (sqlite_path, "CREATE TABLE notes (text TEXT)");
    assert_null (flot_store_open (sqlite_path, &err));
    assert_non_null (strstr (err.message, "its tables are those of no schema version"));
    assert_string_equal (sqlite_text (sqlite_path, "PRAGMA user_version", text, sizeof text), "0");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_store_keeps_deployments_and_steps_across_reopen,
                                         sqlite_setup, sqlite_teardown),
        cmocka_unit_test_setup_teardown (test_store_rollback_discards_a_transaction,
                                         sqlite_setup, sqlite_teardown),
        cmocka_unit_test_setup_teardown (test_store_outbox_keeps_order, sqlite_setup, sqlite_teardown),
        cmocka_unit_test_setup_teardown (test_store_keeps_actions_per_deployment_in_order,
                                         sqlite_setup, sqlite_teardown),
        cmocka_unit_test_setup_teardown (test_store_refuses_what_is_not_a_store,
                                         sqlite_setup, sqlite_teardown),
        cmocka_unit_test_setup_teardown (test_store_migrates_a_version_2_store_in_place,
                                         sqlite_setup, sqlite_teardown),
        cmocka_unit_test_setup_teardown (test_store_migrates_a_version_4_store_to_keep_actions,
                                         sqlite_setup, sqlite_teardown),
        cmocka_unit_test_setup_teardown (test_store_creates_the_tables_a_migration_makes,
                                         sqlite_setup, sqlite_teardown),
        cmocka_unit_test_setup_teardown (test_store_refuses_a_newer_or_unknown_schema,
                                         sqlite_setup, sqlite_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
