/*  event_log.c - the events actor's history on SQLite (WAL): one row per
    event, keyed by its sequence number. The log carries its schema's
    version and is migrated to this build's on open (see s_migrations).  */
#include "flotilla/event_log.h"
#include "flotilla/log.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _flot_event_log_t {
    sqlite3 *db;
    sqlite3_stmt *append;
};

//  The schema, version by version: a log records its version in PRAGMA
//  user_version (0 with an events table: version 1, written before there
//  were versions). s_migrations [v - 1] takes a log from version v to
//  v + 1; a log is migrated to the newest version in the transaction that
//  opens it. A change to the schema adds a migration, and s_schema always
//  creates the newest version.
#define NEWEST_VERSION FLOT_EVENT_LOG_SCHEMA_VERSION

static const char *s_migrations [] = {
    //  1 -> 2: who published each event (filled by the security work).
    "ALTER TABLE events ADD COLUMN published_by TEXT NOT NULL DEFAULT '';",
};
_Static_assert (1 + sizeof s_migrations / sizeof s_migrations [0] == NEWEST_VERSION,
                "one migration for each version after the first");

static const char *s_schema =
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY, deployment TEXT NOT NULL, body BLOB NOT NULL,"
    "  published_by TEXT NOT NULL DEFAULT '');";

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

//  Runs one step of setting up the log. Returns 0, or -1 with err.
static int
s_run (flot_event_log_t *self, const char *sql, const char *path, flot_err_t *err)
{
    char *message = NULL;
    if (sqlite3_exec (self->db, sql, NULL, NULL, &message) == SQLITE_OK)
        return 0;
    flot_err_set (err, FLOT_E_INTERNAL, "event log %s: cannot bring it to schema "
                  "version %d: %s", path, NEWEST_VERSION, message ? message : "unknown error");
    sqlite3_free (message);
    return -1;
}

//  Brings the log to the newest version, in one transaction: creates it in
//  an empty file, migrates an older one, refuses a newer or unknown one.
//  Returns 0, or -1 with err.
static int
s_migrate (flot_event_log_t *self, const char *path, flot_err_t *err)
{
    if (sqlite3_exec (self->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return flot_err_set (err, FLOT_E_INTERNAL, "cannot open the event log %s: %s",
                             path, sqlite3_errmsg (self->db));
    int version = s_query_int (self->db, "PRAGMA user_version", 0);
    if (version == 0
    &&  s_query_int (self->db, "SELECT count(*) FROM sqlite_master", 1) > 0)
        version = s_query_int (self->db, "SELECT count(*) FROM sqlite_master"
                                         " WHERE type = 'table' AND name = 'events'", 0)
                ? 1 : -1;
    int rc = 0;
    if (version < 0)
        rc = flot_err_set (err, FLOT_E_INTERNAL, "event log %s: its tables are those of no "
                           "schema version this build knows (1 to %d)", path, NEWEST_VERSION);
    else
    if (version > NEWEST_VERSION)
        rc = flot_err_set (err, FLOT_E_INTERNAL, "event log %s: schema version %d is newer "
                           "than this build's %d (it opens versions 1 to %d); use a newer "
                           "flotillad", path, version, NEWEST_VERSION, NEWEST_VERSION);
    if (rc == 0 && version == 0)
        rc = s_run (self, s_schema, path, err);
    for (int v = version; rc == 0 && v && v < NEWEST_VERSION; v++)
        rc = s_run (self, s_migrations [v - 1], path, err);
    if (rc == 0 && version < NEWEST_VERSION) {
        char stamp [64];
        snprintf (stamp, sizeof stamp, "PRAGMA user_version = %d", NEWEST_VERSION);
        rc = s_run (self, stamp, path, err);
    }
    if (rc == 0 && sqlite3_exec (self->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = flot_err_set (err, FLOT_E_INTERNAL, "cannot open the event log %s: %s",
                           path, sqlite3_errmsg (self->db));
    if (rc)
        sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
    else
    if (version && version < NEWEST_VERSION)
        flot_notice ("events", "%s: migrated from schema version %d to %d",
                     path, version, NEWEST_VERSION);
    return rc;
}

flot_event_log_t *
flot_event_log_open (const char *path, flot_err_t *err)
{
    flot_event_log_t *self = calloc (1, sizeof *self);
    if (!self) {
        flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
        return NULL;
    }
    const char *pragmas =
        "PRAGMA locking_mode = EXCLUSIVE;"
        "PRAGMA journal_mode = WAL;"
        "PRAGMA synchronous = NORMAL;";
    if (sqlite3_open_v2 (path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                                        | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK
    ||  sqlite3_busy_timeout (self->db, 5000) != SQLITE_OK
    ||  sqlite3_exec (self->db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
        flot_err_set (err, FLOT_E_INTERNAL, "cannot open the event log %s: %s", path,
                      self->db ? sqlite3_errmsg (self->db) : "out of memory");
        flot_event_log_destroy (&self);
        return NULL;
    }
    if (s_migrate (self, path, err)) {
        flot_event_log_destroy (&self);
        return NULL;
    }
    if (sqlite3_prepare_v2 (self->db, "INSERT INTO events (seq, deployment, body)"
                            " VALUES (?, ?, ?)", -1, &self->append, NULL) != SQLITE_OK) {
        flot_err_set (err, FLOT_E_INTERNAL, "event log %s: its tables are not those of "
                      "schema version %d: %s", path, NEWEST_VERSION, sqlite3_errmsg (self->db));
        flot_event_log_destroy (&self);
        return NULL;
    }
    return self;
}

void
flot_event_log_destroy (flot_event_log_t **self_p)
{
    flot_event_log_t *self = *self_p;
    if (self) {
        sqlite3_finalize (self->append);
        sqlite3_close (self->db);
        free (self);
        *self_p = NULL;
    }
}

static int
s_exec (flot_event_log_t *self, const char *sql, flot_err_t *err)
{
    if (sqlite3_exec (self->db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    flot_err_set (err, FLOT_E_INTERNAL, "the event log: %s: %s", sql, sqlite3_errmsg (self->db));
    return -1;
}

int
flot_event_log_begin (flot_event_log_t *self, flot_err_t *err)
{
    return s_exec (self, "BEGIN", err);
}

int
flot_event_log_commit (flot_event_log_t *self, flot_err_t *err)
{
    return s_exec (self, "COMMIT", err);
}

int
flot_event_log_append (flot_event_log_t *self, uint64_t seq, const char *deployment,
                       const void *body, size_t size, flot_err_t *err)
{
    sqlite3_bind_int64 (self->append, 1, (sqlite3_int64) seq);
    sqlite3_bind_text (self->append, 2, deployment, -1, SQLITE_STATIC);
    sqlite3_bind_blob (self->append, 3, body, (int) size, SQLITE_STATIC);
    int rc = sqlite3_step (self->append);
    sqlite3_reset (self->append);
    sqlite3_clear_bindings (self->append);
    if (rc != SQLITE_DONE)
        return flot_err_set (err, FLOT_E_INTERNAL, "cannot log event %llu: %s",
                             (unsigned long long) seq, sqlite3_errmsg (self->db));
    return 0;
}

int64_t
flot_event_log_load (flot_event_log_t *self, size_t count, flot_event_log_fn *fn,
                     void *arg, flot_err_t *err)
{
    sqlite3_stmt *q = NULL;
    const char *sql = "SELECT seq, deployment, body FROM "
                      "(SELECT seq, deployment, body FROM events ORDER BY seq DESC LIMIT ?)"
                      " ORDER BY seq";
    if (sqlite3_prepare_v2 (self->db, sql, -1, &q, NULL) != SQLITE_OK) {
        flot_err_set (err, FLOT_E_INTERNAL, "cannot read the event log: %s",
                      sqlite3_errmsg (self->db));
        return -1;
    }
    sqlite3_bind_int64 (q, 1, (sqlite3_int64) count);
    int64_t last = 0;
    int rc;
    while ((rc = sqlite3_step (q)) == SQLITE_ROW) {
        last = sqlite3_column_int64 (q, 0);
        const unsigned char *deployment = sqlite3_column_text (q, 1);
        fn ((uint64_t) last, deployment ? (const char *) deployment : "",
            sqlite3_column_blob (q, 2), (size_t) sqlite3_column_bytes (q, 2), arg);
    }
    sqlite3_finalize (q);
    if (rc != SQLITE_DONE) {
        flot_err_set (err, FLOT_E_INTERNAL, "cannot read the event log: %s",
                      sqlite3_errmsg (self->db));
        return -1;
    }
    return last;
}
