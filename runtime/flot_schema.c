/*  flot_schema.c - versioned SQLite schemas, migrated on open
    (flotilla/schema.h). Used by the coordinator's store and the events'
    log; owns nothing but the transaction it runs on the caller's db.
*/
#include "flotilla/schema.h"

#include "flotilla/log.h"

#include <assert.h>
#include <stdio.h>

//  The integer the first row of sql holds, or fallback if it has none.
static int
s_query_int (sqlite3 *db, const char *sql, int fallback)
{
    sqlite3_stmt *q = NULL;
    int value = fallback;
    if (sqlite3_prepare_v2 (db, sql, -1, &q, NULL) == SQLITE_OK
    &&  sqlite3_step (q) == SQLITE_ROW)
        value = sqlite3_column_int (q, 0);
    sqlite3_finalize (q);
    return value;
}

//  The file's schema version: its user_version; 0 for an empty file; for
//  one written before user_version, what schema->detect finds; -1 for
//  tables of no version this build knows.
static int
s_version (sqlite3 *db, const flot_schema_t *schema)
{
    int version = s_query_int (db, "PRAGMA user_version", 0);
    if (version || s_query_int (db, "SELECT count(*) FROM sqlite_master", 1) == 0)
        return version;
    version = schema->detect ? s_query_int (db, schema->detect, -1) : -1;
    return version > 0 ? version : -1;
}

//  Runs one step of bringing the file to the newest version. Returns 0,
//  or -1 with err.
static int
s_run (sqlite3 *db, const flot_schema_t *schema, const char *sql, const char *path,
       flot_err_t *err)
{
    char *message = NULL;
    if (sqlite3_exec (db, sql, NULL, NULL, &message) == SQLITE_OK)
        return 0;
    flot_err_set (err, FLOT_E_INTERNAL, "%s %s: cannot bring it to schema version %d: %s",
                  schema->what, path, schema->newest, message ? message : "unknown error");
    sqlite3_free (message);
    return -1;
}

//  Records the newest version: user_version, then schema->stamp with ?1
//  bound to it. Returns 0, or -1 with err.
static int
s_stamp (sqlite3 *db, const flot_schema_t *schema, const char *path, flot_err_t *err)
{
    char pragma [64];
    snprintf (pragma, sizeof pragma, "PRAGMA user_version = %d", schema->newest);
    if (s_run (db, schema, pragma, path, err))
        return -1;
    if (!schema->stamp)
        return 0;
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2 (db, schema->stamp, -1, &q, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int (q, 1, schema->newest);
    if (rc == SQLITE_OK)
        rc = sqlite3_step (q);
    sqlite3_finalize (q);
    if (rc == SQLITE_DONE)
        return 0;
    return flot_err_set (err, FLOT_E_INTERNAL, "%s %s: cannot bring it to schema version "
                         "%d: %s", schema->what, path, schema->newest, sqlite3_errmsg (db));
}

//  Why the file at version cannot be opened by this build, in err; or 0.
static int
s_refuse (const flot_schema_t *schema, int version, const char *path, flot_err_t *err)
{
    if (version < 0)
        return flot_err_set (err, FLOT_E_INTERNAL, "%s %s: its tables are those of no "
                             "schema version this build knows (%d to %d)", schema->what,
                             path, schema->first, schema->newest);
    if (version > schema->newest)
        return flot_err_set (err, FLOT_E_INTERNAL, "%s %s: schema version %d is newer than "
                             "this build's %d (it opens versions %d to %d); use a newer "
                             "flotillad", schema->what, path, version, schema->newest,
                             schema->first, schema->newest);
    if (version > 0 && version < schema->first)
        return flot_err_set (err, FLOT_E_INTERNAL, "%s %s: schema version %d is older than "
                             "this build migrates (versions %d to %d); finish its "
                             "deployments with the build that wrote it", schema->what, path,
                             version, schema->first, schema->newest);
    return 0;
}

int
flot_schema_migrate (sqlite3 *db, const flot_schema_t *schema, const char *path,
                     flot_err_t *err)
{
    assert (db);
    assert (schema);
    assert (schema->first >= 1 && schema->newest >= schema->first);
    if (sqlite3_exec (db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return flot_err_set (err, FLOT_E_INTERNAL, "cannot %s the %s %s: %s", schema->verb,
                             schema->what, path, sqlite3_errmsg (db));
    int version = s_version (db, schema);
    int rc = s_refuse (schema, version, path, err);
    if (rc == 0 && version == 0)
        rc = s_run (db, schema, schema->create, path, err);
    for (int v = version; rc == 0 && v && v < schema->newest; v++)
        rc = s_run (db, schema, schema->migrations [v - schema->first], path, err);
    if (rc == 0 && version < schema->newest)
        rc = s_stamp (db, schema, path, err);
    if (rc == 0 && sqlite3_exec (db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = flot_err_set (err, FLOT_E_INTERNAL, "cannot %s the %s %s: %s", schema->verb,
                           schema->what, path, sqlite3_errmsg (db));
    if (rc)
        sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
    else
    if (version && version < schema->newest)
        flot_notice (schema->log, "%s: migrated from schema version %d to %d",
                     path, version, schema->newest);
    return rc;
}
