/*  sqlite_util.c - SQL on a store's file for its tests (sqlite_util.h).  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "sqlite_util.h"

char sqlite_path [64];

int
sqlite_setup (void **state)
{
    (void) state;
    snprintf (sqlite_path, sizeof sqlite_path, "/tmp/flot-store-%d.db", (int) getpid ());
    return 0;
}

int
sqlite_teardown (void **state)
{
    (void) state;
    char path [80];
    unlink (sqlite_path);
    snprintf (path, sizeof path, "%s-wal", sqlite_path);
    unlink (path);
    snprintf (path, sizeof path, "%s-shm", sqlite_path);
    unlink (path);
    return 0;
}

void
sqlite_run (const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
    char *message = NULL;
    if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
        fail_msg ("%s: %s", sql, message);
    sqlite3_close (db);
}

const char *
sqlite_text (const char *path, const char *sql, char *buffer, size_t size)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
    assert_int_equal (sqlite3_prepare_v2 (db, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal (sqlite3_step (q), SQLITE_ROW);
    snprintf (buffer, size, "%s", (const char *) sqlite3_column_text (q, 0));
    sqlite3_finalize (q);
    sqlite3_close (db);
    return buffer;
}

const char *
sqlite_columns (const char *path, char *buffer, size_t size)
{
    return sqlite_text (path,
        "SELECT group_concat (t, ' ') FROM (SELECT m.name || '(' || (SELECT group_concat"
        " (c.name || ' ' || c.type || ' ' || c.\"notnull\" || ' ' || ifnull (c.dflt_value, '-')"
        " || ' ' || c.pk, ', ') FROM pragma_table_info (m.name) c) || ')' AS t"
        " FROM sqlite_master m WHERE m.type = 'table' ORDER BY m.name)", buffer, size);
}

