/*  store.c - the coordinator's durable store, on SQLite in WAL mode.

    Five tables: deployments (one row each), specs (each deployment's
    spec text, file, cwd and who applied it, written once, so a restarted
    coordinator can plan it again; apart so that the many updates of a
    deployment's row stay small), steps (one row per step of each
    deployment, keyed by its stable id), outbox (events written in the
    same transaction as the change they describe, removed once the events
    actor has them) and actions (who applied, paused, resumed, promoted
    and aborted each deployment, when, and why). Retention removes a
    finished deployment from all of them at once (flot_store_each_expired
    says which, flot_store_remove_deployment removes one). Statements are prepared
    once. Only the coordinator's thread uses a store. A store carries its
    schema's version and is migrated to this build's on open (see
    s_schema).
*/
#include "store.h"

#include "flotilla/schema.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The schema, version by version (flotilla/schema.h). A store records its
//  version in PRAGMA user_version and in meta 'schema' (where the builds
//  before user_version looked: they refuse a store whose meta says another
//  version than theirs, so a newer store is safe from them). A change to
//  the schema adds a migration and changes s_create.
#define FIRST_VERSION 2         //  the oldest version this build migrates
#define NEWEST_VERSION FLOT_STORE_SCHEMA_VERSION

//  Operators' commands on deployments, oldest first (version 5 on).
#define ACTIONS_TABLE \
    "CREATE TABLE actions (" \
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, deployment TEXT NOT NULL," \
    "  command TEXT NOT NULL, caller TEXT NOT NULL, at_ms INTEGER NOT NULL," \
    "  reason TEXT NOT NULL);" \
    "CREATE INDEX actions_of_deployment ON actions (deployment, id);"

static const char *const s_migrations [] = {
    //  2 -> 3: who created each deployment (written once, with its spec).
    "ALTER TABLE specs ADD COLUMN created_by TEXT NOT NULL DEFAULT '';",
    //  3 -> 4: the deployment as the strategy service resolved it (NULL in
    //  rows written before: the coordinator has them resolved once again).
    "ALTER TABLE specs ADD COLUMN resolved BLOB;",
    //  4 -> 5: operators' commands on each deployment, and who gave them
    //  (issue 11: who did it). Deployments stored before have none.
    ACTIONS_TABLE,
    //  5 -> 6: the deployment a deployment waits behind (one deployment per
    //  target); each step's hook stderr, kept apart from its stdout; the
    //  attempts of each step that the hook's retries do not count (a run its
    //  executor stopped, attempts before an operator's Retry).
    "ALTER TABLE deployments ADD COLUMN queued_behind TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE steps ADD COLUMN stderr TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE steps ADD COLUMN uncounted INTEGER NOT NULL DEFAULT 0;",
};
_Static_assert (FIRST_VERSION + sizeof s_migrations / sizeof s_migrations [0]
                == NEWEST_VERSION, "one migration for each version after the first");

static const char *s_pragmas =
    "PRAGMA locking_mode = EXCLUSIVE;"
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = NORMAL;";

//  The newest version, for an empty file.
static const char s_create [] =
    "CREATE TABLE meta ("
    "  key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE specs ("
    "  deployment TEXT PRIMARY KEY, file TEXT NOT NULL, spec TEXT NOT NULL,"
    "  cwd TEXT NOT NULL, created_by TEXT NOT NULL DEFAULT '', resolved BLOB);"
    "CREATE TABLE deployments ("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL,"
    "  state TEXT NOT NULL, paused INTEGER NOT NULL, promote TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    "  finished_ms INTEGER NOT NULL, progress_ms INTEGER NOT NULL,"
    "  last_error TEXT NOT NULL, queued_behind TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE steps ("
    "  deployment TEXT NOT NULL, step_id TEXT NOT NULL, target TEXT NOT NULL,"
    "  idx INTEGER NOT NULL, type TEXT NOT NULL, state TEXT NOT NULL,"
    "  attempt INTEGER NOT NULL, started_ms INTEGER NOT NULL,"
    "  finished_ms INTEGER NOT NULL, output TEXT NOT NULL, error TEXT NOT NULL,"
    "  stderr TEXT NOT NULL DEFAULT '', uncounted INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (deployment, step_id));"
    "CREATE TABLE outbox ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL);"
    ACTIONS_TABLE
    "INSERT INTO meta VALUES ('next_id', '1');";

static const flot_schema_t s_schema = {
    .what = "store", .verb = "set up", .log = "store",
    .create = s_create,
    .migrations = s_migrations, .first = FIRST_VERSION, .newest = NEWEST_VERSION,
    //  A store written before user_version: its version in meta.
    .detect = "SELECT CAST (value AS INTEGER) FROM meta"
              " WHERE key = 'schema' AND value GLOB '[1-9]*'",
    .stamp = "INSERT OR REPLACE INTO meta VALUES ('schema', CAST (?1 AS TEXT))",
};

//  A deployment's row: its own columns, and its spec's (written once).
#define ROW_COLUMNS \
    "d.id, d.name, s.file, s.spec, s.cwd, d.state, d.paused, d.promote, d.created_ms," \
    " d.updated_ms, d.finished_ms, d.progress_ms, d.last_error, s.created_by, s.resolved," \
    " d.queued_behind" \
    " FROM deployments d JOIN specs s ON s.deployment = d.id"

//  A finished deployment: it ended, and nothing runs it again unless an
//  operator asks (its finished_ms goes back to 0 then).
#define FINISHED "finished_ms > 0 AND state IN ('completed', 'failed', 'aborted'," \
                 " 'rolled_back', 'rollback_failed')"

enum {
    Q_NEXT_ID, Q_BUMP_ID, Q_PUT_DEPLOYMENT, Q_GET_DEPLOYMENT, Q_ALL_DEPLOYMENTS,
    Q_OPEN_DEPLOYMENTS, Q_PUT_STEP, Q_STEPS, Q_OUTBOX_ADD, Q_OUTBOX_FIRST,
    Q_OUTBOX_REMOVE, Q_OUTBOX_AFTER, Q_PUT_SPEC, Q_ADD_ACTION, Q_ACTIONS, Q_ACTION_COUNT,
    Q_EXPIRED, Q_REMOVE_DEPLOYMENT, Q_REMOVE_SPEC, Q_REMOVE_STEPS, Q_REMOVE_ACTIONS,
    Q_COUNT
};

static const char *s_queries [Q_COUNT] = {
    [Q_NEXT_ID] = "SELECT value FROM meta WHERE key = 'next_id'",
    [Q_BUMP_ID] = "UPDATE meta SET value = CAST (value AS INTEGER) + 1 WHERE key = 'next_id'",
    [Q_PUT_DEPLOYMENT] = "INSERT OR REPLACE INTO deployments (id, name, state, paused,"
                         " promote, created_ms, updated_ms, finished_ms, progress_ms,"
                         " last_error, queued_behind) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
    [Q_PUT_SPEC] = ("INSERT OR REPLACE INTO specs (deployment, file, spec, cwd, created_by,"
                    " resolved) VALUES (?,?,?,?,?,?)"),
    [Q_GET_DEPLOYMENT] = "SELECT " ROW_COLUMNS " WHERE d.id = ?",
    [Q_ALL_DEPLOYMENTS] = "SELECT " ROW_COLUMNS " ORDER BY d.created_ms, d.id",
    [Q_OPEN_DEPLOYMENTS] = "SELECT " ROW_COLUMNS " WHERE d.finished_ms = 0"
                           " ORDER BY d.created_ms, d.id",
    //  A step's stderr is written when given, and kept as it is otherwise.
    [Q_PUT_STEP] = "INSERT INTO steps (deployment, step_id, target, idx, type,"
                   " state, attempt, started_ms, finished_ms, output, error, stderr, uncounted)"
                   " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,COALESCE (?12, ''),?13)"
                   " ON CONFLICT (deployment, step_id) DO UPDATE SET target = excluded.target,"
                   " idx = excluded.idx, type = excluded.type, state = excluded.state,"
                   " attempt = excluded.attempt, started_ms = excluded.started_ms,"
                   " finished_ms = excluded.finished_ms, output = excluded.output,"
                   " error = excluded.error, stderr = COALESCE (?12, steps.stderr),"
                   " uncounted = excluded.uncounted",
    [Q_STEPS] = "SELECT deployment, step_id, target, idx, type, state, attempt, started_ms,"
                " finished_ms, output, error, stderr, uncounted FROM steps WHERE deployment = ?"
                " ORDER BY target, idx",
    [Q_OUTBOX_ADD] = "INSERT INTO outbox (body) VALUES (?)",
    [Q_OUTBOX_FIRST] = "SELECT id, body FROM outbox ORDER BY id LIMIT 1",
    [Q_OUTBOX_REMOVE] = "DELETE FROM outbox WHERE id <= ?",
    [Q_OUTBOX_AFTER] = "SELECT id, body FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
    [Q_ADD_ACTION] = "INSERT INTO actions (deployment, command, caller, at_ms, reason)"
                     " VALUES (?,?,?,?,?)",
    //  The last ?2 (-1: all), oldest first.
    [Q_ACTIONS] = "SELECT command, caller, at_ms, reason FROM (SELECT * FROM actions"
                  " WHERE deployment = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id",
    [Q_ACTION_COUNT] = "SELECT count(*) FROM actions WHERE deployment = ?",
    //  Finished before ?1, or beyond the newest ?2 finished; at most ?3.
    [Q_EXPIRED] = "SELECT id, finished_ms FROM deployments WHERE " FINISHED
                  " AND (finished_ms < ?1 OR id IN (SELECT id FROM deployments WHERE "
                  FINISHED " ORDER BY finished_ms DESC, id DESC LIMIT -1 OFFSET ?2))"
                  " ORDER BY finished_ms, id LIMIT ?3",
    [Q_REMOVE_DEPLOYMENT] = "DELETE FROM deployments WHERE id = ?",
    [Q_REMOVE_SPEC] = "DELETE FROM specs WHERE deployment = ?",
    [Q_REMOVE_STEPS] = "DELETE FROM steps WHERE deployment = ?",
    [Q_REMOVE_ACTIONS] = "DELETE FROM actions WHERE deployment = ?",
};

struct _flot_store_t {
    sqlite3 *db;
    sqlite3_stmt *q [Q_COUNT];
    char error [256];
};

static int
s_fail (flot_store_t *self, const char *what)
{
    snprintf (self->error, sizeof self->error, "%s: %s", what, sqlite3_errmsg (self->db));
    return -1;
}

//  Runs a prepared statement that returns no rows. Returns 0 or -1.
static int
s_step_done (flot_store_t *self, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return rc == SQLITE_DONE ? 0 : s_fail (self, what);
}

flot_store_t *
flot_store_open (const char *path, flot_err_t *err)
{
    flot_store_t *self = calloc (1, sizeof *self);
    if (!self) {
        flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
        return NULL;
    }
    if (sqlite3_open_v2 (path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                                        | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        flot_err_set (err, FLOT_E_INTERNAL, "cannot open the store %s: %s", path,
                      self->db ? sqlite3_errmsg (self->db) : "out of memory");
        flot_store_destroy (&self);
        return NULL;
    }
    sqlite3_busy_timeout (self->db, 5000);
    char *message = NULL;
    if (sqlite3_exec (self->db, s_pragmas, NULL, NULL, &message) != SQLITE_OK) {
        flot_err_set (err, FLOT_E_INTERNAL, "cannot set up the store %s: %s", path,
                      message ? message : "unknown error");
        sqlite3_free (message);
        flot_store_destroy (&self);
        return NULL;
    }
    if (flot_schema_migrate (self->db, &s_schema, path, err)) {
        flot_store_destroy (&self);
        return NULL;
    }
    for (int i = 0; i < Q_COUNT; i++)
        if (sqlite3_prepare_v2 (self->db, s_queries [i], -1, &self->q [i], NULL) != SQLITE_OK) {
            flot_err_set (err, FLOT_E_INTERNAL, "store %s: its tables are not those of "
                          "schema version %d: %s", path, NEWEST_VERSION,
                          sqlite3_errmsg (self->db));
            flot_store_destroy (&self);
            return NULL;
        }
    return self;
}

void
flot_store_destroy (flot_store_t **self_p)
{
    flot_store_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < Q_COUNT; i++)
        sqlite3_finalize (self->q [i]);
    sqlite3_close (self->db);
    free (self);
    *self_p = NULL;
}

const char *
flot_store_error (flot_store_t *self)
{
    return self->error;
}

static int
s_exec (flot_store_t *self, const char *sql)
{
    return sqlite3_exec (self->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : s_fail (self, sql);
}

int flot_store_begin (flot_store_t *self) { return s_exec (self, "BEGIN IMMEDIATE"); }
int flot_store_commit (flot_store_t *self) { return s_exec (self, "COMMIT"); }
int flot_store_rollback (flot_store_t *self) { return s_exec (self, "ROLLBACK"); }

int
flot_store_new_id (flot_store_t *self, const char *name, char *id, size_t size)
{
    sqlite3_stmt *next = self->q [Q_NEXT_ID];
    if (sqlite3_step (next) != SQLITE_ROW) {
        sqlite3_reset (next);
        return s_fail (self, "reading the next id");
    }
    long long n = sqlite3_column_int64 (next, 0);
    sqlite3_reset (next);
    if (s_step_done (self, self->q [Q_BUMP_ID], "counting ids"))
        return -1;
    snprintf (id, size, "%s-%lld", name, n);
    return 0;
}

//  --------------------------------------------------------------------------
//  Deployments

static char *
s_text (sqlite3_stmt *stmt, int column)
{
    const unsigned char *text = sqlite3_column_text (stmt, column);
    return strdup (text ? (const char *) text : "");
}

static void
s_copy (char *buffer, size_t size, sqlite3_stmt *stmt, int column)
{
    const unsigned char *text = sqlite3_column_text (stmt, column);
    snprintf (buffer, size, "%s", text ? (const char *) text : "");
}

static void
s_deployment_read (sqlite3_stmt *stmt, flot_deployment_row_t *row)
{
    memset (row, 0, sizeof *row);
    s_copy (row->id, sizeof row->id, stmt, 0);
    s_copy (row->name, sizeof row->name, stmt, 1);
    row->file = s_text (stmt, 2);
    row->spec = s_text (stmt, 3);
    row->cwd = s_text (stmt, 4);
    s_copy (row->state, sizeof row->state, stmt, 5);
    row->paused = sqlite3_column_int (stmt, 6) != 0;
    s_copy (row->promote, sizeof row->promote, stmt, 7);
    row->created_ms = sqlite3_column_int64 (stmt, 8);
    row->updated_ms = sqlite3_column_int64 (stmt, 9);
    row->finished_ms = sqlite3_column_int64 (stmt, 10);
    row->progress_ms = sqlite3_column_int64 (stmt, 11);
    row->last_error = s_text (stmt, 12);
    row->created_by = s_text (stmt, 13);
    int size = sqlite3_column_bytes (stmt, 14);
    const void *resolved = sqlite3_column_blob (stmt, 14);
    if (resolved && size > 0 && (row->resolved = malloc ((size_t) size))) {
        memcpy (row->resolved, resolved, (size_t) size);
        row->resolved_size = (size_t) size;
    }
    s_copy (row->queued_behind, sizeof row->queued_behind, stmt, 15);
}

void
flot_deployment_row_clear (flot_deployment_row_t *row)
{
    free (row->file);
    free (row->spec);
    free (row->cwd);
    free (row->last_error);
    free (row->created_by);
    free (row->resolved);
    row->file = row->spec = row->cwd = row->last_error = row->created_by = NULL;
    row->resolved = NULL;
    row->resolved_size = 0;
}

int
flot_store_put_deployment (flot_store_t *self, const flot_deployment_row_t *row)
{
    if (row->spec) {
        sqlite3_stmt *q = self->q [Q_PUT_SPEC];
        sqlite3_bind_text (q, 1, row->id, -1, SQLITE_STATIC);
        sqlite3_bind_text (q, 2, row->file ? row->file : "", -1, SQLITE_STATIC);
        sqlite3_bind_text (q, 3, row->spec, -1, SQLITE_STATIC);
        sqlite3_bind_text (q, 4, row->cwd ? row->cwd : "", -1, SQLITE_STATIC);
        sqlite3_bind_text (q, 5, row->created_by ? row->created_by : "", -1, SQLITE_STATIC);
        if (row->resolved)
            sqlite3_bind_blob (q, 6, row->resolved, (int) row->resolved_size, SQLITE_STATIC);
        else
            sqlite3_bind_null (q, 6);
        if (s_step_done (self, q, "writing a deployment's spec"))
            return -1;
    }
    sqlite3_stmt *q = self->q [Q_PUT_DEPLOYMENT];
    sqlite3_bind_text (q, 1, row->id, -1, SQLITE_STATIC);
    sqlite3_bind_text (q, 2, row->name, -1, SQLITE_STATIC);
    sqlite3_bind_text (q, 3, row->state, -1, SQLITE_STATIC);
    sqlite3_bind_int (q, 4, row->paused);
    sqlite3_bind_text (q, 5, row->promote, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (q, 6, row->created_ms);
    sqlite3_bind_int64 (q, 7, row->updated_ms);
    sqlite3_bind_int64 (q, 8, row->finished_ms);
    sqlite3_bind_int64 (q, 9, row->progress_ms);
    sqlite3_bind_text (q, 10, row->last_error ? row->last_error : "", -1, SQLITE_STATIC);
    sqlite3_bind_text (q, 11, row->queued_behind, -1, SQLITE_STATIC);
    return s_step_done (self, q, "writing a deployment");
}

int
flot_store_get_deployment (flot_store_t *self, const char *id, flot_deployment_row_t *row)
{
    sqlite3_stmt *q = self->q [Q_GET_DEPLOYMENT];
    sqlite3_bind_text (q, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step (q);
    int found = 0;
    if (rc == SQLITE_ROW) {
        s_deployment_read (q, row);
        found = 1;
    }
    else
    if (rc != SQLITE_DONE)
        found = s_fail (self, "reading a deployment");
    sqlite3_reset (q);
    sqlite3_clear_bindings (q);
    return found;
}

int
flot_store_each_deployment (flot_store_t *self, bool unfinished,
                            flot_store_deployment_fn *fn, void *arg)
{
    sqlite3_stmt *q = self->q [unfinished ? Q_OPEN_DEPLOYMENTS : Q_ALL_DEPLOYMENTS];
    int rc;
    while ((rc = sqlite3_step (q)) == SQLITE_ROW) {
        flot_deployment_row_t row;
        s_deployment_read (q, &row);
        int stop = fn (&row, arg);
        flot_deployment_row_clear (&row);
        if (stop)
            break;
    }
    int result = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : s_fail (self, "listing deployments");
    sqlite3_reset (q);
    return result;
}

//  --------------------------------------------------------------------------
//  Steps

int
flot_store_put_step (flot_store_t *self, const char *deployment, const flot_step_row_t *row)
{
    sqlite3_stmt *q = self->q [Q_PUT_STEP];
    sqlite3_bind_text (q, 1, deployment, -1, SQLITE_STATIC);
    sqlite3_bind_text (q, 2, row->step_id, -1, SQLITE_STATIC);
    sqlite3_bind_text (q, 3, row->target, -1, SQLITE_STATIC);
    sqlite3_bind_int (q, 4, row->index);
    sqlite3_bind_text (q, 5, row->type, -1, SQLITE_STATIC);
    sqlite3_bind_text (q, 6, row->state, -1, SQLITE_STATIC);
    sqlite3_bind_int (q, 7, row->attempt);
    sqlite3_bind_int64 (q, 8, row->started_ms);
    sqlite3_bind_int64 (q, 9, row->finished_ms);
    sqlite3_bind_text (q, 10, row->output ? row->output : "", -1, SQLITE_STATIC);
    sqlite3_bind_text (q, 11, row->error ? row->error : "", -1, SQLITE_STATIC);
    if (row->stderr_text)
        sqlite3_bind_text (q, 12, row->stderr_text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null (q, 12);
    sqlite3_bind_int (q, 13, row->uncounted);
    return s_step_done (self, q, "writing a step");
}

int
flot_store_each_step (flot_store_t *self, const char *deployment,
                      flot_store_step_fn *fn, void *arg)
{
    sqlite3_stmt *q = self->q [Q_STEPS];
    sqlite3_bind_text (q, 1, deployment, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step (q)) == SQLITE_ROW) {
        flot_step_row_t row;
        memset (&row, 0, sizeof row);
        s_copy (row.step_id, sizeof row.step_id, q, 1);
        s_copy (row.target, sizeof row.target, q, 2);
        row.index = sqlite3_column_int (q, 3);
        s_copy (row.type, sizeof row.type, q, 4);
        s_copy (row.state, sizeof row.state, q, 5);
        row.attempt = sqlite3_column_int (q, 6);
        row.started_ms = sqlite3_column_int64 (q, 7);
        row.finished_ms = sqlite3_column_int64 (q, 8);
        row.output = s_text (q, 9);
        row.error = s_text (q, 10);
        row.stderr_text = s_text (q, 11);
        row.uncounted = sqlite3_column_int (q, 12);
        int stop = fn (&row, arg);
        free (row.output);
        free (row.error);
        free (row.stderr_text);
        if (stop)
            break;
    }
    int result = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : s_fail (self, "listing steps");
    sqlite3_reset (q);
    sqlite3_clear_bindings (q);
    return result;
}

//  --------------------------------------------------------------------------
//  Actions

int
flot_store_add_action (flot_store_t *self, const char *deployment,
                       const flot_action_row_t *action)
{
    sqlite3_stmt *q = self->q [Q_ADD_ACTION];
    sqlite3_bind_text (q, 1, deployment, -1, SQLITE_STATIC);
    sqlite3_bind_text (q, 2, action->command, -1, SQLITE_STATIC);
    sqlite3_bind_text (q, 3, action->by ? action->by : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64 (q, 4, action->at_ms);
    sqlite3_bind_text (q, 5, action->reason ? action->reason : "", -1, SQLITE_STATIC);
    return s_step_done (self, q, "recording an action");
}

static const char *
s_column (sqlite3_stmt *stmt, int column)
{
    const unsigned char *text = sqlite3_column_text (stmt, column);
    return text ? (const char *) text : "";
}

int
flot_store_each_action (flot_store_t *self, const char *deployment, size_t limit,
                        size_t *total, flot_store_action_fn *fn, void *arg)
{
    if (total) {
        sqlite3_stmt *q = self->q [Q_ACTION_COUNT];
        sqlite3_bind_text (q, 1, deployment, -1, SQLITE_STATIC);
        int rc = sqlite3_step (q);
        *total = rc == SQLITE_ROW ? (size_t) sqlite3_column_int64 (q, 0) : 0;
        sqlite3_reset (q);
        sqlite3_clear_bindings (q);
        if (rc != SQLITE_ROW)
            return s_fail (self, "counting actions");
    }
    sqlite3_stmt *q = self->q [Q_ACTIONS];
    sqlite3_bind_text (q, 1, deployment, -1, SQLITE_STATIC);
    bool all = limit == 0 || limit > (size_t) INT64_MAX;
    sqlite3_bind_int64 (q, 2, all ? -1 : (sqlite3_int64) limit);
    int rc;
    while ((rc = sqlite3_step (q)) == SQLITE_ROW) {
        flot_action_row_t action = {
            .command = s_column (q, 0), .by = s_column (q, 1),
            .at_ms = sqlite3_column_int64 (q, 2), .reason = s_column (q, 3)
        };
        if (fn (&action, arg))
            break;
    }
    int result = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : s_fail (self, "listing actions");
    sqlite3_reset (q);
    sqlite3_clear_bindings (q);
    return result;
}

//  --------------------------------------------------------------------------
//  Outbox

int
flot_store_outbox_add (flot_store_t *self, const void *body, size_t size)
{
    sqlite3_stmt *q = self->q [Q_OUTBOX_ADD];
    sqlite3_bind_blob (q, 1, body, (int) size, SQLITE_STATIC);
    return s_step_done (self, q, "queueing an event");
}

int
flot_store_outbox_first (flot_store_t *self, int64_t *id, void **body, size_t *size)
{
    sqlite3_stmt *q = self->q [Q_OUTBOX_FIRST];
    int rc = sqlite3_step (q);
    int found = 0;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64 (q, 0);
        *size = (size_t) sqlite3_column_bytes (q, 1);
        *body = malloc (*size ? *size : 1);
        if (*size)
            memcpy (*body, sqlite3_column_blob (q, 1), *size);
        found = 1;
    }
    else
    if (rc != SQLITE_DONE)
        found = s_fail (self, "reading the outbox");
    sqlite3_reset (q);
    return found;
}

int
flot_store_outbox_each (flot_store_t *self, int64_t after, size_t limit,
                        flot_store_outbox_fn *fn, void *arg)
{
    sqlite3_stmt *q = self->q [Q_OUTBOX_AFTER];
    sqlite3_bind_int64 (q, 1, after);
    sqlite3_bind_int64 (q, 2, (sqlite3_int64) limit);
    int rc;
    while ((rc = sqlite3_step (q)) == SQLITE_ROW)
        if (fn (sqlite3_column_int64 (q, 0), sqlite3_column_blob (q, 1),
                (size_t) sqlite3_column_bytes (q, 1), arg))
            break;
    int result = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : s_fail (self, "reading the outbox");
    sqlite3_reset (q);
    sqlite3_clear_bindings (q);
    return result;
}

int
flot_store_outbox_remove_upto (flot_store_t *self, int64_t id)
{
    sqlite3_stmt *q = self->q [Q_OUTBOX_REMOVE];
    sqlite3_bind_int64 (q, 1, id);
    return s_step_done (self, q, "removing an event from the outbox");
}

//  --------------------------------------------------------------------------
//  Retention

int
flot_store_each_expired (flot_store_t *self, int64_t before_ms, size_t keep, size_t limit,
                         flot_store_expired_fn *fn, void *arg)
{
    sqlite3_stmt *q = self->q [Q_EXPIRED];
    sqlite3_bind_int64 (q, 1, before_ms > 0 ? before_ms : 0);
    sqlite3_bind_int64 (q, 2, keep && keep < (size_t) INT64_MAX ? (sqlite3_int64) keep
                                                                : INT64_MAX);
    sqlite3_bind_int64 (q, 3, limit < (size_t) INT64_MAX ? (sqlite3_int64) limit : INT64_MAX);
    int rc;
    while ((rc = sqlite3_step (q)) == SQLITE_ROW)
        if (fn (s_column (q, 0), sqlite3_column_int64 (q, 1), arg))
            break;
    int result = rc == SQLITE_ROW || rc == SQLITE_DONE
               ? 0 : s_fail (self, "listing finished deployments");
    sqlite3_reset (q);
    sqlite3_clear_bindings (q);
    return result;
}

int
flot_store_remove_deployment (flot_store_t *self, const char *id)
{
    static const int queries [] = {
        Q_REMOVE_STEPS, Q_REMOVE_ACTIONS, Q_REMOVE_SPEC, Q_REMOVE_DEPLOYMENT
    };
    for (size_t i = 0; i < sizeof queries / sizeof queries [0]; i++) {
        sqlite3_stmt *q = self->q [queries [i]];
        sqlite3_bind_text (q, 1, id, -1, SQLITE_STATIC);
        if (s_step_done (self, q, "removing a finished deployment"))
            return -1;
    }
    return 0;
}
