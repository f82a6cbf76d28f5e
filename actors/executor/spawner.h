/*  spawner.h - the executor's spawning thread.

    Starting a process blocks its caller until the child has exec'd (vfork),
    and that wait is most of what a hook's start costs. The spawner runs
    each start on a thread of its own, one after another, so that the
    executor's loop goes on with its requests, records and pipes meanwhile.
    A job is the caller's: the spawner runs fn (job) on its thread and hands
    the job back, in the order given, through spawner_take; spawner_fd is
    readable when there is one to take.

    A child started with PR_SET_PDEATHSIG is killed when the thread that
    started it ends: the spawner's thread lives until spawner_destroy, so
    that its hooks are stopped by the executor, not by the thread's end.
*/
#ifndef FLOT_EXECUTOR_SPAWNER_H
#define FLOT_EXECUTOR_SPAWNER_H

#include <stddef.h>

typedef struct _spawner_t spawner_t;

//  Runs on the spawner's thread, all signals blocked; touches nothing of
//  the caller's but the job.
typedef void (spawner_fn) (void *job);

//  A spawner and its thread. NULL with why if either cannot be made.
spawner_t *
    spawner_new (spawner_fn *fn, char *why, size_t size);

//  Readable while a done job waits to be taken (an eventfd).
int
    spawner_fd (spawner_t *self);

//  Queues a job: fn runs on it after those queued before.
void
    spawner_push (spawner_t *self, void *job);

//  A job that fn has run, oldest first, or NULL if none is done yet.
//  Clears spawner_fd's readiness when it returns NULL.
void *
    spawner_take (spawner_t *self);

//  Jobs pushed and not yet taken.
size_t
    spawner_size (spawner_t *self);

//  Waits until fn has run every job pushed; the thread lives on.
void
    spawner_drain (spawner_t *self);

//  Drains, ends the thread, and frees the spawner; jobs not taken are the
//  caller's to have taken first.
void
    spawner_destroy (spawner_t **self_p);

#endif
