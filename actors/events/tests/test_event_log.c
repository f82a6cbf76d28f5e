/*  test_event_log.c - the events actor's history in SQLite (event_log.c):
    a fresh log has the tables a migrated one has, a log of version 1 is
    migrated in place and keeps its events, and a newer log or another
    program's file is refused with a sentence naming it.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "event_log.h"
#include "sqlite_util.h"

static const char *s_log_v1 =
    "PRAGMA journal_mode = WAL;"
    "CREATE TABLE events (seq INTEGER PRIMARY KEY, deployment TEXT NOT NULL,"
    "  body BLOB NOT NULL);"
    "INSERT INTO events VALUES (1, 'web-1', x'81a16101'), (2, '', x'81a16102');";

static void
s_collect_event (uint64_t seq, const char *deployment, const void *body, size_t size,
                 void *arg)
{
    (void) body;
    (void) size;
    char *text = arg;
    char line [128];
    snprintf (line, sizeof line, "%llu:%s ", (unsigned long long) seq, deployment);
    strcat (text, line);
}

static void
test_event_log_creates_the_tables_a_migration_makes (void **state)
{
    (void) state;
    char fresh [2048], migrated [2048];
    flot_err_t err;
    flot_event_log_t *log = flot_event_log_open (sqlite_path, &err);
    assert_non_null (log);
    flot_event_log_destroy (&log);
    sqlite_columns (sqlite_path, fresh, sizeof fresh);
    sqlite_teardown (NULL);
    sqlite_run (sqlite_path, s_log_v1);
    log = flot_event_log_open (sqlite_path, &err);
    assert_non_null (log);
    flot_event_log_destroy (&log);
    assert_string_equal (sqlite_columns (sqlite_path, migrated, sizeof migrated), fresh);
}

static void
test_event_log_migrates_a_version_1_log_and_refuses_a_newer_one (void **state)
{
    (void) state;
    char text [64], want [256];
    sqlite_run (sqlite_path, s_log_v1);
    flot_err_t err;
    flot_event_log_t *log = flot_event_log_open (sqlite_path, &err);
    if (!log)
        fail_msg ("%s", err.message);
    char seqs [64] = "";
    assert_int_equal (flot_event_log_load (log, 10, s_collect_event, seqs, &err), 2);
    assert_string_equal (seqs, "1:web-1 2: ");
    assert_int_equal (flot_event_log_append (log, 3, "web-1", "\x80", 1, &err), 0);
    flot_event_log_destroy (&log);
    snprintf (want, sizeof want, "%d", FLOT_EVENT_LOG_SCHEMA_VERSION);
    assert_string_equal (sqlite_text (sqlite_path, "PRAGMA user_version", text, sizeof text), want);
    assert_string_equal (sqlite_text (sqlite_path, "SELECT count(*) FROM events", text, sizeof text),
                         "3");

    sqlite_run (sqlite_path, "PRAGMA user_version = 9");
    assert_null (flot_event_log_open (sqlite_path, &err));
    snprintf (want, sizeof want, "event log %s: schema version 9 is newer than this build's %d "
              "(it opens versions 1 to %d); use a newer flotillad", sqlite_path,
              FLOT_EVENT_LOG_SCHEMA_VERSION, FLOT_EVENT_LOG_SCHEMA_VERSION);
    assert_string_equal (err.message, want);

    sqlite_teardown (NULL);
    sqlite_run (sqlite_path, "CREATE TABLE notes (text TEXT)");
    assert_null (flot_event_log_open (sqlite_path, &err));
    assert_non_null (strstr (err.message, "its tables are those of no schema version"));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_event_log_creates_the_tables_a_migration_makes,
                                         sqlite_setup, sqlite_teardown),
        cmocka_unit_test_setup_teardown (
            test_event_log_migrates_a_version_1_log_and_refuses_a_newer_one,
            sqlite_setup, sqlite_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
