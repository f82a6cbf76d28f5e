/*  runs.c - the executor's record of its runs, in SQLite. See runs.h.

    One table, one row per idempotency key. The file is opened in
    exclusive locking mode, so that two executors never share one record
    (each would take the other's running hooks for orphans), and in WAL
    with synchronous NORMAL, as the coordinator's store: a row written
    survives the executor's crash; a power cut may lose the last ones.
*/
#include "runs.h"
#include "flotilla/log.h"

#include <assert.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WHO "executor"
#define SCHEMA 1

#define STATEMENTS 8            //  the queries below, each prepared once

struct _runs_t {
    sqlite3 *db;
    char *path;
    //  Prepared statements, by the address of their SQL (a literal).
    const char *sql [STATEMENTS];
    sqlite3_stmt *q [STATEMENTS];
};

static const char *s_schema =
    "CREATE TABLE IF NOT EXISTS runs ("
    "  deployment TEXT NOT NULL,"
    "  step_id TEXT NOT NULL,"
    "  attempt INTEGER NOT NULL,"
    "  state TEXT NOT NULL,"
    "  exit_code INTEGER NOT NULL DEFAULT -1,"
    "  signal INTEGER NOT NULL DEFAULT 0,"
    "  output BLOB NOT NULL DEFAULT '',"
    "  stderr BLOB NOT NULL DEFAULT '',"
    "  duration_ms INTEGER NOT NULL DEFAULT 0,"
    "  pid INTEGER NOT NULL DEFAULT 0,"
    "  ticks INTEGER NOT NULL DEFAULT 0,"
    "  boot_id TEXT NOT NULL DEFAULT '',"
    "  started INTEGER NOT NULL,"
    "  ended INTEGER,"
    "  PRIMARY KEY (deployment, step_id, attempt));"
    "CREATE INDEX IF NOT EXISTS runs_by_end ON runs (ended);";

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
s_exec (runs_t *self, const char *sql, char *why, size_t size)
{
    char *message = NULL;
    if (sqlite3_exec (self->db, sql, NULL, NULL, &message) == SQLITE_OK)
        return 0;
    snprintf (why, size, "%s", message ? message : sqlite3_errmsg (self->db));
    sqlite3_free (message);
    return -1;
}

runs_t *
runs_open (const char *path, char *why, size_t size)
{
    runs_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->path = strdup (path && *path ? path : ":memory:");
    int rc = sqlite3_open_v2 (self->path, &self->db,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                              | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf (why, size, "cannot open the executor's runs file %s: %s", self->path,
                  self->db ? sqlite3_errmsg (self->db) : sqlite3_errstr (rc));
        runs_close (&self);
        return NULL;
    }
    char reason [400] = "unknown error";
    //  The schema is written at once: the first write takes the exclusive
    //  lock, which another executor holding the file refuses (BUSY).
    int version = -1;
    sqlite3_stmt *q = NULL;
    if (s_exec (self, "PRAGMA locking_mode = EXCLUSIVE;"
                      "PRAGMA journal_mode = WAL;"
                      "PRAGMA synchronous = NORMAL;", reason, sizeof reason) == 0
    &&  s_exec (self, "BEGIN IMMEDIATE;", reason, sizeof reason) == 0) {
        if (sqlite3_prepare_v2 (self->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK
        &&  sqlite3_step (q) == SQLITE_ROW)
            version = sqlite3_column_int (q, 0);
        sqlite3_finalize (q);
        if (version > SCHEMA) {
            snprintf (reason, sizeof reason, "its schema is version %d, newer than this "
                      "executor's (%d)", version, SCHEMA);
            version = -2;
        }
        char sql [64];
        snprintf (sql, sizeof sql, "PRAGMA user_version = %d; COMMIT;", SCHEMA);
        if (version >= 0
        &&  (s_exec (self, s_schema, reason, sizeof reason)
          || s_exec (self, sql, reason, sizeof reason)))
            version = -1;
        if (version < 0)
            sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
        else
            return self;
    }
    snprintf (why, size, "cannot use the executor's runs file %s: %s%s", self->path, reason,
              strstr (reason, "locked") ? " (another executor holds it: give each its own, "
              "flotillad --executor-runs)" : "");
    runs_close (&self);
    return NULL;
}

void
runs_close (runs_t **self_p)
{
    runs_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < STATEMENTS; i++)
        sqlite3_finalize (self->q [i]);
    sqlite3_close (self->db);
    free (self->path);
    free (self);
    *self_p = NULL;
}

const char *
runs_path (runs_t *self)
{
    return self->path;
}

//  Done with a statement of s_prepare's: ready for its next use.
static void
s_release (sqlite3_stmt *q)
{
    sqlite3_reset (q);
    sqlite3_clear_bindings (q);
}

static int
s_step_done (runs_t *self, sqlite3_stmt *q, const char *what)
{
    int rc = sqlite3_step (q);
    s_release (q);
    if (rc == SQLITE_DONE)
        return 0;
    flot_warn (WHO, "cannot %s in %s: %s", what, self->path, sqlite3_errmsg (self->db));
    return -1;
}

//  The statement of sql (a string literal), prepared at its first use and
//  kept (a hook's run writes twice: parsing each time cost as much as the
//  writes). Give it back with s_release (or s_step_done).
static sqlite3_stmt *
s_prepare (runs_t *self, const char *sql)
{
    int i = 0;
    while (i < STATEMENTS && self->sql [i] && self->sql [i] != sql)
        i++;
    if (i < STATEMENTS && self->sql [i])
        return self->q [i];
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q, NULL)
        != SQLITE_OK) {
        flot_warn (WHO, "cannot read %s: %s", self->path, sqlite3_errmsg (self->db));
        sqlite3_finalize (q);
        return NULL;
    }
    assert (i < STATEMENTS);        //  STATEMENTS counts the queries of this file
    self->sql [i] = sql;
    self->q [i] = q;
    return q;
}

int
runs_started (runs_t *self, const char *deployment, const char *step_id, uint64_t attempt,
              pid_t pgid, uint64_t ticks, const char *boot_id)
{
    sqlite3_stmt *q = s_prepare (self,
        "INSERT OR REPLACE INTO runs (deployment, step_id, attempt, state, pid, ticks, "
        "boot_id, started) VALUES (?1, ?2, ?3, 'running', ?4, ?5, ?6, ?7)");
    if (!q)
        return -1;
    sqlite3_bind_text (q, 1, deployment, -1, SQLITE_STATIC);
    sqlite3_bind_text (q, 2, step_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (q, 3, (sqlite3_int64) attempt);
    sqlite3_bind_int64 (q, 4, (sqlite3_int64) pgid);
    sqlite3_bind_int64 (q, 5, (sqlite3_int64) ticks);
    sqlite3_bind_text (q, 6, boot_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (q, 7, s_now_ms ());
    return s_step_done (self, q, "record a run");
}

int
runs_ended (runs_t *self, const char *deployment, const char *step_id, uint64_t attempt,
            const runs_record_t *record)
{
    sqlite3_stmt *q = s_prepare (self,
        "UPDATE runs SET state = ?4, exit_code = ?5, signal = ?6, output = ?7, stderr = ?8, "
        "duration_ms = ?9, ended = ?10 WHERE deployment = ?1 AND step_id = ?2 "
        "AND attempt = ?3");
    if (!q)
        return -1;
    sqlite3_bind_text (q, 1, deployment, -1, SQLITE_STATIC);
    sqlite3_bind_text (q, 2, step_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (q, 3, (sqlite3_int64) attempt);
    sqlite3_bind_text (q, 4, record->state, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (q, 5, record->exit_code);
    sqlite3_bind_int64 (q, 6, record->signal);
    const char *output = record->output ? record->output : "";
    const char *errors = record->stderr_text ? record->stderr_text : "";
    sqlite3_bind_blob (q, 7, output, (int) strlen (output), SQLITE_STATIC);
    sqlite3_bind_blob (q, 8, errors, (int) strlen (errors), SQLITE_STATIC);
    sqlite3_bind_int64 (q, 9, (sqlite3_int64) record->duration_ms);
    sqlite3_bind_int64 (q, 10, s_now_ms ());
    return s_step_done (self, q, "record a run's end");
}

//  A column's bytes as a new C string (up to a first NUL).
static char *
s_column_string (sqlite3_stmt *q, int column)
{
    const void *data = sqlite3_column_blob (q, column);
    size_t size = (size_t) sqlite3_column_bytes (q, column);
    char *text = malloc (size + 1);
    if (text) {
        if (size)
            memcpy (text, data, size);
        text [size] = 0;
    }
    return text;
}

int
runs_find (runs_t *self, const char *deployment, const char *step_id, uint64_t attempt,
           runs_record_t *record)
{
    memset (record, 0, sizeof *record);
    sqlite3_stmt *q = s_prepare (self,
        "SELECT state, exit_code, signal, output, stderr, duration_ms, pid FROM runs "
        "WHERE deployment = ?1 AND step_id = ?2 AND attempt = ?3");
    if (!q)
        return -1;
    sqlite3_bind_text (q, 1, deployment, -1, SQLITE_STATIC);
    sqlite3_bind_text (q, 2, step_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (q, 3, (sqlite3_int64) attempt);
    int rc = sqlite3_step (q);
    if (rc == SQLITE_ROW) {
        record->state = s_column_string (q, 0);
        record->exit_code = sqlite3_column_int64 (q, 1);
        record->signal = sqlite3_column_int64 (q, 2);
        record->output = s_column_string (q, 3);
        record->stderr_text = s_column_string (q, 4);
        record->duration_ms = (uint64_t) sqlite3_column_int64 (q, 5);
        record->pid = (uint64_t) sqlite3_column_int64 (q, 6);
    }
    else
    if (rc != SQLITE_DONE)
        flot_warn (WHO, "cannot read %s: %s", self->path, sqlite3_errmsg (self->db));
    s_release (q);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

void
runs_record_clear (runs_record_t *record)
{
    free (record->state);
    free (record->output);
    free (record->stderr_text);
    memset (record, 0, sizeof *record);
}

int
runs_orphan_all (runs_t *self, runs_orphan_fn *fn, void *arg)
{
    sqlite3_stmt *q = s_prepare (self,
        "SELECT deployment, step_id, attempt, pid, ticks, boot_id FROM runs "
        "WHERE state = 'running'");
    if (!q)
        return -1;
    int count = 0;
    while (sqlite3_step (q) == SQLITE_ROW) {
        fn ((const char *) sqlite3_column_text (q, 0), (const char *) sqlite3_column_text (q, 1),
            (uint64_t) sqlite3_column_int64 (q, 2), (pid_t) sqlite3_column_int64 (q, 3),
            (uint64_t) sqlite3_column_int64 (q, 4), (const char *) sqlite3_column_text (q, 5),
            arg);
        count++;
    }
    s_release (q);
    q = s_prepare (self, "UPDATE runs SET state = 'orphaned', exit_code = -1, ended = ?1 "
                         "WHERE state = 'running'");
    if (!q)
        return -1;
    sqlite3_bind_int64 (q, 1, s_now_ms ());
    return s_step_done (self, q, "mark orphaned runs") ? -1 : count;
}

int
runs_prune (runs_t *self, int64_t keep_ms, int keep_count)
{
    sqlite3_stmt *q = s_prepare (self,
        "DELETE FROM runs WHERE state != 'running' AND (ended < ?1 OR ended <= "
        "(SELECT ended FROM runs WHERE state != 'running' ORDER BY ended DESC "
        "LIMIT 1 OFFSET ?2))");
    if (!q)
        return -1;
    sqlite3_bind_int64 (q, 1, s_now_ms () - keep_ms);
    sqlite3_bind_int (q, 2, keep_count);
    if (s_step_done (self, q, "remove old runs"))
        return -1;
    return sqlite3_changes (self->db);
}

int
runs_proc_stat (pid_t pid, pid_t *pgrp, uint64_t *ticks)
{
    char path [64], text [1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    //  One read, no stdio: this runs for every hook started.
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t size = read (fd, text, sizeof text - 1);
    close (fd);
    if (size <= 0)
        return -1;
    text [size] = 0;
    //  After the command's ')' (which may hold anything): field 3 on.
    char *rest = strrchr (text, ')');
    if (!rest)
        return -1;
    char state;
    int ppid, group;
    unsigned long long start = 0;
    //  3 state, 4 ppid, 5 pgrp, 6 session, 7 tty_nr, 8 tpgid, 9 flags,
    //  10..15 faults and times (unsigned), 16..21 (signed), 22 starttime.
    if (sscanf (rest + 1, " %c %d %d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
                "%*d %*d %*d %*d %*d %*d %llu", &state, &ppid, &group, &start) != 4)
        return -1;
    if (state == 'Z' || state == 'X')
        return -1;              //  dead, not yet reaped: nothing to stop
    *pgrp = (pid_t) group;
    *ticks = (uint64_t) start;
    return 0;
}

uint64_t
runs_boot_ticks (void)
{
    long hz = sysconf (_SC_CLK_TCK);
    struct timespec ts;
    if (hz <= 0 || clock_gettime (CLOCK_BOOTTIME, &ts))
        return 0;
    return (uint64_t) ts.tv_sec * (uint64_t) hz
         + (uint64_t) ts.tv_nsec / (1000000000ULL / (uint64_t) hz);
}

void
runs_boot_id (char *buffer, size_t size)
{
    *buffer = 0;
    FILE *file = fopen ("/proc/sys/kernel/random/boot_id", "r");
    if (!file)
        return;
    if (!fgets (buffer, (int) size, file))
        *buffer = 0;
    fclose (file);
    buffer [strcspn (buffer, "\n")] = 0;
}
