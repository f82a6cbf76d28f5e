/*  flotilla/events.h - the event publisher actor (service "events").

    Publish, Replay and Info over the broker; events out on a PUB socket.
    protocol/SPEC.md gives the event stream's frames and fields.
*/
#ifndef FLOTILLA_EVENTS_H_INCLUDED
#define FLOTILLA_EVENTS_H_INCLUDED

#include "flotilla/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOT_EVENTS_ENDPOINT "tcp://127.0.0.1:5556"

extern const flot_actor_def_t flot_events_actor;

//  Publish an event from inside the events actor (state is its state).
//  target, message and data may be NULL. Returns the sequence number.
uint64_t
    flot_events_publish (void *state, const char *type, const char *deployment,
                         const char *target, const char *message,
                         const msgpack_object *data);

#ifdef __cplusplus
}
#endif

#endif
