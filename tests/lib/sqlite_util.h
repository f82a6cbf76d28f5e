/*  sqlite_util.h - for the tests of the stores (the coordinator's, the
    events' log): a file per test and SQL run on it as another program
    would, to write an old version or read what a store wrote.  */
#ifndef SQLITE_UTIL_H_INCLUDED
#define SQLITE_UTIL_H_INCLUDED

#include <stddef.h>

//  The test's file, /tmp/flot-store-PID.db, set by sqlite_setup.
extern char sqlite_path [64];

//  cmocka setup and teardown: sets sqlite_path, removes the file and its
//  -wal and -shm.
int sqlite_setup (void **state);
int sqlite_teardown (void **state);

//  Runs sql on the file at path, as another program would.
void sqlite_run (const char *path, const char *sql);

//  The text of the first column of the first row of sql on the file at
//  path, into buffer.
const char *sqlite_text (const char *path, const char *sql, char *buffer, size_t size);

//  Every table's columns, as "table(name type notnull default pk, ...) ...".
const char *sqlite_columns (const char *path, char *buffer, size_t size);

#endif
