/*  world.h - for tests of actors: a real broker and the actors under test
    as threads over inproc, and a client, started and stopped in one call.  */
#ifndef WORLD_H_INCLUDED
#define WORLD_H_INCLUDED

#include <jansson.h>

#include "flotilla/actor.h"
#include "flotilla/client.h"

typedef struct _world_t world_t;

//  Starts a broker and the actors (defs ends with NULL) on a new inproc
//  endpoint, and waits until each has registered. Fails the test if not.
world_t *
    world_start (const flot_actor_def_t *const *defs);

void
    world_stop (world_t **self_p);

flot_client_t *
    world_client (world_t *self);

//  Calls service with request (taken) as the body; returns the reply as a
//  new JSON value, or NULL with err.
json_t *
    world_call (world_t *self, const char *service, const char *key,
                const char *command, json_t *request, flot_err_t *err);

#endif
