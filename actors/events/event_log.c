/*  event_log.c - the events actor's history on SQLite (WAL): one row per
    event, keyed by its sequence number. The log carries its schema's
    version and is migrated to this build's on open (see s_schema).

    Replay reads it from disk a bounded batch at a time (the events actor
    holds no copy of the history), and retention removes the oldest events
    in small passes (flot_event_log_prune), so that neither memory nor a
    pass grows with the history.  */
#include "event_log.h"
#include "flotilla/schema.h"

#include <msgpack.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    Q_READ, Q_READ_OF, Q_SCAN, Q_REMOVE, Q_OLDEST, Q_NEWEST, Q_COUNT
};

static const char *s_queries [Q_COUNT] = {
    [Q_READ] = "SELECT seq, body FROM events WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
    [Q_READ_OF] = "SELECT seq, body FROM events WHERE seq >= ?1 AND deployment = ?3"
                  " ORDER BY seq LIMIT ?2",
    [Q_SCAN] = "SELECT seq, deployment, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
    [Q_REMOVE] = "DELETE FROM events WHERE seq = ?",
    [Q_OLDEST] = "SELECT min(seq) FROM events",
    [Q_NEWEST] = "SELECT max(seq) FROM events",
};

struct _flot_event_log_t {
    sqlite3 *db;
    sqlite3_stmt *append;
    sqlite3_stmt *q [Q_COUNT];
    uint64_t held;              //  rows, counted at open, then kept up to date
    uint64_t prune_after;       //  where the next prune pass starts (0: the oldest)
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
    //  2 -> 3: one deployment's events found without reading them all.
    "CREATE INDEX events_by_deployment ON events (deployment, seq);",
};
_Static_assert (FIRST_VERSION + sizeof s_migrations / sizeof s_migrations [0]
                == NEWEST_VERSION, "one migration for each version after the first");

//  The newest version, for an empty file.
static const char s_create [] =
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY, deployment TEXT NOT NULL, body BLOB NOT NULL,"
    "  published_by TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX events_by_deployment ON events (deployment, seq);";

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
    for (int i = 0; i < Q_COUNT; i++)
        if (sqlite3_prepare_v2 (self->db, s_queries [i], -1, &self->q [i], NULL) != SQLITE_OK) {
            flot_err_set (err, FLOT_E_INTERNAL, "event log %s: %s", path,
                          sqlite3_errmsg (self->db));
            flot_event_log_destroy (&self);
            return NULL;
        }
    sqlite3_stmt *count = NULL;
    if (sqlite3_prepare_v2 (self->db, "SELECT count(*) FROM events", -1, &count, NULL)
        == SQLITE_OK && sqlite3_step (count) == SQLITE_ROW)
        self->held = (uint64_t) sqlite3_column_int64 (count, 0);
    sqlite3_finalize (count);
    return self;
}

void
flot_event_log_destroy (flot_event_log_t **self_p)
{
    flot_event_log_t *self = *self_p;
    if (self) {
        sqlite3_finalize (self->append);
        for (int i = 0; i < Q_COUNT; i++)
            sqlite3_finalize (self->q [i]);
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
    self->held++;
    return 0;
}

//  Hands fn each row (seq, deployment, body) of q, the last seq into
//  *last; returns the last sqlite3_step code (SQLITE_DONE: all read).
static int
s_each_row (sqlite3_stmt *q, flot_event_log_fn *fn, void *arg, int64_t *last)
{
    int rc;
    while ((rc = sqlite3_step (q)) == SQLITE_ROW) {
        *last = sqlite3_column_int64 (q, 0);
        const unsigned char *deployment = sqlite3_column_text (q, 1);
        fn ((uint64_t) *last, deployment ? (const char *) deployment : "",
            sqlite3_column_blob (q, 2), (size_t) sqlite3_column_bytes (q, 2), arg);
    }
    return rc;
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
    int rc = s_each_row (q, fn, arg, &last);
    sqlite3_finalize (q);
    if (rc != SQLITE_DONE) {
        flot_err_set (err, FLOT_E_INTERNAL, "cannot read the event log: %s",
                      sqlite3_errmsg (self->db));
        return -1;
    }
    return last;
}

//  --------------------------------------------------------------------------
//  Reading from disk, and retention

static int
s_fail (flot_event_log_t *self, sqlite3_stmt *q, const char *what, flot_err_t *err)
{
    flot_err_set (err, FLOT_E_INTERNAL, "the event log: %s: %s", what,
                  sqlite3_errmsg (self->db));
    sqlite3_reset (q);
    sqlite3_clear_bindings (q);
    return -1;
}

uint64_t
flot_event_log_held (flot_event_log_t *self)
{
    return self->held;
}

static uint64_t
s_one (sqlite3_stmt *q)
{
    uint64_t value = 0;
    if (sqlite3_step (q) == SQLITE_ROW)
        value = (uint64_t) sqlite3_column_int64 (q, 0);
    sqlite3_reset (q);
    return value;
}

uint64_t
flot_event_log_oldest (flot_event_log_t *self)
{
    return s_one (self->q [Q_OLDEST]);
}

uint64_t
flot_event_log_newest (flot_event_log_t *self)
{
    return s_one (self->q [Q_NEWEST]);
}

int64_t
flot_event_log_read (flot_event_log_t *self, uint64_t since, const char *deployment,
                     size_t limit, flot_event_log_read_fn *fn, void *arg, bool *more,
                     flot_err_t *err)
{
    bool of = deployment && *deployment;
    sqlite3_stmt *q = self->q [of ? Q_READ_OF : Q_READ];
    sqlite3_bind_int64 (q, 1, (sqlite3_int64) (since > INT64_MAX ? INT64_MAX : since));
    //  One more than asked: whether more follows.
    sqlite3_bind_int64 (q, 2, (sqlite3_int64) limit + 1);
    if (of)
        sqlite3_bind_text (q, 3, deployment, -1, SQLITE_STATIC);
    int64_t given = 0;
    *more = false;
    int rc;
    while ((rc = sqlite3_step (q)) == SQLITE_ROW) {
        if ((size_t) given == limit
        ||  fn ((uint64_t) sqlite3_column_int64 (q, 0), sqlite3_column_blob (q, 1),
                (size_t) sqlite3_column_bytes (q, 1), arg)) {
            *more = true;
            break;
        }
        given++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return s_fail (self, q, "reading events", err);
    sqlite3_reset (q);
    sqlite3_clear_bindings (q);
    return given;
}

int64_t
flot_event_log_scan (flot_event_log_t *self, uint64_t after, size_t limit,
                     flot_event_log_fn *fn, void *arg, flot_err_t *err)
{
    sqlite3_stmt *q = self->q [Q_SCAN];
    sqlite3_bind_int64 (q, 1, (sqlite3_int64) after);
    sqlite3_bind_int64 (q, 2, (sqlite3_int64) limit);
    int64_t last = (int64_t) after;
    int rc = s_each_row (q, fn, arg, &last);
    if (rc != SQLITE_DONE)
        return s_fail (self, q, "scanning events", err);
    sqlite3_reset (q);
    sqlite3_clear_bindings (q);
    return last;
}

int
flot_event_body_peek (const void *body, size_t size, char *type, size_t type_size,
                      uint64_t *time_ms)
{
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    msgpack_object root;
    size_t offset = 0;
    int rc = -1;
    if (type_size)
        *type = 0;
    *time_ms = 0;
    if (msgpack_unpack ((const char *) body, size, &offset, &zone, &root) == MSGPACK_UNPACK_SUCCESS
    &&  root.type == MSGPACK_OBJECT_MAP) {
        rc = 0;
        for (uint32_t i = 0; i < root.via.map.size; i++) {
            const msgpack_object *key = &root.via.map.ptr [i].key;
            const msgpack_object *value = &root.via.map.ptr [i].val;
            if (key->type != MSGPACK_OBJECT_STR)
                continue;
            if (key->via.str.size == 4 && !memcmp (key->via.str.ptr, "type", 4)
            &&  value->type == MSGPACK_OBJECT_STR && type_size)
                snprintf (type, type_size, "%.*s", (int) value->via.str.size,
                          value->via.str.ptr);
            else
            if (key->via.str.size == 7 && !memcmp (key->via.str.ptr, "time_ms", 7)
            &&  value->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                *time_ms = value->via.u64;
        }
    }
    msgpack_zone_destroy (&zone);
    return rc;
}

#define PRUNE_MAX 4096              //  events one pass removes at most

int64_t
flot_event_log_prune (flot_event_log_t *self, const flot_event_log_policy_t *policy,
                      bool *done, flot_err_t *err)
{
    uint64_t excess = policy->count && self->held > policy->count
                    ? self->held - policy->count : 0;
    if (done)
        *done = true;
    if (!excess && !policy->before_ms)
        return 0;
    size_t batch = policy->batch && policy->batch < PRUNE_MAX ? policy->batch : PRUNE_MAX;
    uint64_t gone [PRUNE_MAX];
    size_t count = 0, examined = 0;
    bool young = false;             //  reached an event that stays by age and count
    //  The newest event always stays: it carries the sequence across a
    //  restart, so that numbers are never given twice.
    uint64_t newest = flot_event_log_newest (self);
    sqlite3_stmt *q = self->q [Q_SCAN];
    sqlite3_bind_int64 (q, 1, (sqlite3_int64) self->prune_after);
    sqlite3_bind_int64 (q, 2, (sqlite3_int64) batch);
    int rc;
    while ((rc = sqlite3_step (q)) == SQLITE_ROW) {
        examined++;
        uint64_t seq = (uint64_t) sqlite3_column_int64 (q, 0);
        uint64_t time_ms = 0;
        char type [8];
        //  A body that is no event is as old as can be.
        flot_event_body_peek (sqlite3_column_blob (q, 2), (size_t) sqlite3_column_bytes (q, 2),
                              type, sizeof type, &time_ms);
        bool old = policy->before_ms && (int64_t) time_ms < policy->before_ms;
        if ((!excess && !old) || seq >= newest) {
            //  Events come in time order: all that follow stay too.
            young = true;
            break;
        }
        self->prune_after = seq;
        const unsigned char *deployment = sqlite3_column_text (q, 1);
        if (policy->keep && policy->keep (deployment ? (const char *) deployment : "",
                                          policy->arg))
            continue;
        gone [count++] = seq;
        if (excess)
            excess--;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return s_fail (self, q, "reading events to remove", err);
    sqlite3_reset (q);
    sqlite3_clear_bindings (q);
    //  The round is over at the young end, or at the end of the log: the
    //  next starts from the oldest again (what was kept may go by then).
    bool over = young || examined < batch;
    if (over)
        self->prune_after = 0;
    if (done)
        *done = over;
    if (count == 0)
        return 0;
    bool own = sqlite3_get_autocommit (self->db) != 0;
    if (own && flot_event_log_begin (self, err))
        return -1;
    sqlite3_stmt *remove = self->q [Q_REMOVE];
    for (size_t i = 0; i < count; i++) {
        sqlite3_bind_int64 (remove, 1, (sqlite3_int64) gone [i]);
        rc = sqlite3_step (remove);
        sqlite3_reset (remove);
        if (rc != SQLITE_DONE) {
            s_fail (self, remove, "removing events", err);
            if (own)
                sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        self->held -= sqlite3_changes (self->db) > 0;
    }
    if (own && flot_event_log_commit (self, err))
        return -1;
    return (int64_t) count;
}
