/*  runs.h - the executor's record of its runs, one per idempotency key
    (deployment, step id, attempt), in SQLite so that it outlives the
    executor: the state (running, succeeded, failed, timeout, orphaned),
    the result, and the hook's process group with its leader's start time.
    Internal to the executor actor.
*/
#ifndef FLOT_EXECUTOR_RUNS_H_INCLUDED
#define FLOT_EXECUTOR_RUNS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct _runs_t runs_t;

//  A run's record. Strings are the record's own (runs_record_clear frees).
typedef struct {
    char *state;
    int64_t exit_code;
    int64_t signal;
    char *output;
    char *stderr_text;
    uint64_t duration_ms;
    uint64_t pid;
} runs_record_t;

//  Opens the record in the file at path, made if missing (NULL or "": in
//  memory, kept for as long as the executor runs). The file is held
//  exclusively: a second executor that names it gets an error. Returns
//  NULL with why.
runs_t *
    runs_open (const char *path, char *why, size_t size);

void
    runs_close (runs_t **self_p);

//  The file it keeps (":memory:" when in memory).
const char *
    runs_path (runs_t *self);

//  A run started: pgid is its process group (its leader's pid), ticks the
//  leader's start time (/proc/PID/stat), boot_id this boot's.
int
    runs_started (runs_t *self, const char *deployment, const char *step_id,
                  uint64_t attempt, pid_t pgid, uint64_t ticks, const char *boot_id);

//  A run ended (state and result in record).
int
    runs_ended (runs_t *self, const char *deployment, const char *step_id,
                uint64_t attempt, const runs_record_t *record);

//  The record of a key: 1 and record filled, 0 if none, -1 on an error.
int
    runs_find (runs_t *self, const char *deployment, const char *step_id,
               uint64_t attempt, runs_record_t *record);

void
    runs_record_clear (runs_record_t *record);

//  Each record still `running`: fn gets its process group, its leader's
//  start time and boot id. Then each is marked `orphaned`. Returns how
//  many, or -1.
typedef void (runs_orphan_fn) (const char *deployment, const char *step_id, uint64_t attempt,
                               pid_t pgid, uint64_t ticks, const char *boot_id, void *arg);
int
    runs_orphan_all (runs_t *self, runs_orphan_fn *fn, void *arg);

//  Removes finished records that ended more than keep_ms ago, and the
//  oldest beyond keep_count. Returns how many went, or -1.
int
    runs_prune (runs_t *self, int64_t keep_ms, int keep_count);

//  From /proc/PID/stat: the process group and start time (clock ticks
//  since boot) of pid. Returns 0, or -1 if no such process.
int
    runs_proc_stat (pid_t pid, pid_t *pgrp, uint64_t *ticks);

//  Now, on the clock of runs_proc_stat's start times: clock ticks since
//  boot (CLOCK_BOOTTIME in units of sysconf's _SC_CLK_TCK); 0 if unknown.
uint64_t
    runs_boot_ticks (void);

//  This boot's id (/proc/sys/kernel/random/boot_id), "" if unknown.
void
    runs_boot_id (char *buffer, size_t size);

#endif
