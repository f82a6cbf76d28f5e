/*  flotilla/coordinator.h - the coordinator actor (service "coordinator").

    Plan, Execute, GetStatus, List, Pause, Resume, Promote, Abort: it owns
    the deployments, their state machines and the durable store, runs each
    deployment's steps through the executor service target by target in
    dependency order, publishes every change through the events service,
    and resumes unfinished deployments when it starts. protocol/SPEC.md
    gives the bodies. Options: store (the SQLite file, default
    flotilla.db), tick (ms between deadline checks, default 200).
*/
#ifndef FLOTILLA_COORDINATOR_H_INCLUDED
#define FLOTILLA_COORDINATOR_H_INCLUDED

#include "flotilla/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const flot_actor_def_t flot_coordinator_actor;

#ifdef __cplusplus
}
#endif

#endif
