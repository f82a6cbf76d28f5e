/*  flotilla/echo.h - the diagnostic actor (service "echo"): Echo, Sleep,
    Ticks. See protocol/SPEC.md.
*/
#ifndef FLOTILLA_ECHO_H_INCLUDED
#define FLOTILLA_ECHO_H_INCLUDED

#include "flotilla/actor.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const flot_actor_def_t flot_echo_actor;

#ifdef __cplusplus
}
#endif

#endif
