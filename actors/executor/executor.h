/*  flotilla/executor.h - the step executor actor (service "executor"):
    ExecuteStep, ValidateStep, GetStepStatus. protocol/SPEC.md gives their
    bodies. Option: hooks-dir (flotillad --hooks-dir), the directory whose
    programs a hook may name, and where hooks run; without it no hook runs.
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
