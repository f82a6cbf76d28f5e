/*  world.h - for tests of actors: a real broker and the actors under test
    as threads over inproc, and a client, started and stopped in one call.
    With world_start_at and world_spawn, the broker on an endpoint other
    processes reach and other actors as child processes (flotillad).  */
#ifndef WORLD_H_INCLUDED
#define WORLD_H_INCLUDED

#include <jansson.h>
#include <sys/types.h>

#include "flotilla/actor.h"
#include "flotilla/client.h"

typedef struct _world_t world_t;

//  Starts a broker and the actors (defs ends with NULL) on a new inproc
//  endpoint, and waits until each has registered (10 s at most). Fails the
//  test if one has not.
world_t *
    world_start (const flot_actor_def_t *const *defs);

//  Like world_start, each actor given options (flot_actor_config_t's
//  name=value strings, an events actor's "pub" say): not taken, they must
//  outlive the world.
world_t *
    world_start_with (const flot_actor_def_t *const *defs, zhash_t *options);

//  Like world_start, with the broker bound to endpoint: an ipc:// or
//  tcp://127.0.0.1:PORT one lets child processes (world_spawn) connect.
world_t *
    world_start_at (const flot_actor_def_t *const *defs, const char *endpoint);

//  Stops the client, every child process still running (SIGTERM, then
//  waits for its exit: none is left behind), the actors' threads and the
//  broker. Safe in a teardown after a failed assertion.
void
    world_stop (world_t **self_p);

//  The endpoint the broker is bound to.
const char *
    world_endpoint (world_t *self);

//  Starts `flotillad --connect ENDPOINT --actors SERVICE` (flotillad: the
//  binary's path) as a child process of the test, on the world's heartbeat,
//  and waits until the service has registered. Returns its pid, or -1
//  (saying why) if it exited or did not register in 10 s: then no child is
//  left, and a setup can clean up and return -1 (cmocka runs no teardown
//  after a failed setup). The child is killed if the test process dies.
pid_t
    world_spawn (world_t *self, const char *flotillad, const char *service);

//  Like world_spawn, with more options for flotillad (args ends with NULL;
//  at most 8), e.g. { "--hooks-dir", DIR, NULL } for an executor.
pid_t
    world_spawn_args (world_t *self, const char *flotillad, const char *service,
                      const char *const *args);

//  Stops the child process running service (SIGTERM, then waits for its
//  exit) and waits until the broker has no live instance of it. Returns its
//  exit status (128 + the signal if a signal ended it).
int
    world_kill (world_t *self, const char *service);

//  Stops the world's thread running service, as the actor would stop.
void
    world_stop_thread (world_t *self, const char *service);

flot_client_t *
    world_client (world_t *self);

//  Calls service with request (taken) as the body; returns the reply as a
//  new JSON value, or NULL with err.
json_t *
    world_call (world_t *self, const char *service, const char *key,
                const char *command, json_t *request, flot_err_t *err);

#endif
