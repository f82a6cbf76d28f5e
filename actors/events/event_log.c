/*  event_log.c - the events actor's history on SQLite (WAL): one row per
    event, keyed by its sequence number. The log carries its schema's
    version and is migrated to this build's on open (see s_schema).  */
#include "event_log.h"
#include "flotilla/schema.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _flot_event_log_t {
    sqlite3 *db;
    sqlite3_stmt *append;
};

//  The schema, version by version (flotilla/schema.h): a log records its
//  version in PRAGMA user_version (0 with an events table: version 1,
//  written before there were versions). A change to the schema adds a
//  migration and changes s_create.
#define FIRST_VERSION 1         //  the oldest version this build migrates
#define NEWEST_VERSION FLOT_EVENT_LOG_SCHEMA_VERSION

static const char *const s_migrations [] = {
    //  1 -> 2: who published each event (filled by the security work).
    "ALTER TABLE events ADD COLUMN published_by TEXT NOT NULL DEFAULT '';",
};
_Static_assert (FIRST_VERSION + sizeof s_migrations / sizeof s_migrations [0]
                == NEWEST_VERSION, "one migration for each version after the first");

//  The newest version, for an empty file.
static const char s_create [] =
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY, deployment TEXT NOT NULL, body BLOB NOT NULL,"
    "  published_by TEXT NOT NULL DEFAULT '');";

static const flot_schema_t s_schema = {
    .what = "event log", .verb = "open", .log = "events",
    .create = s_create,
    .migrations = s_migrations, .first = FIRST_VERSION, .newest = NEWEST_VERSION,
    //  A log written before user_version: version 1 if it has an events table.
    .detect = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'",
};

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
    if (flot_schema_migrate (self->db, &s_schema, path, err)) {
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
