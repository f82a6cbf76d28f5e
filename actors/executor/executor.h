/*  flotilla/executor.h - the step executor actor (service "executor"):
    ExecuteStep, ValidateStep, GetStepStatus. protocol/SPEC.md section 17
    gives their bodies. Options:
      hooks-dir  (flotillad --hooks-dir) the directory whose programs a hook
                 may name, and where hooks run; without it no hook runs
      runs       (flotillad --executor-runs) the SQLite file of its record
                 of runs, one per (deployment, step, attempt), kept across
                 its restarts; without it, in memory
      slots      (flotillad --executor-slots) hooks run at once, default 64
      queue      requests that wait for a slot beyond those, default 100000
*/
#ifndef FLOTILLA_EXECUTOR_H_INCLUDED
#define FLOTILLA_EXECUTOR_H_INCLUDED

#include "flotilla/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const flot_actor_def_t flot_executor_actor;

#ifdef __cplusplus
}
#endif

#endif
