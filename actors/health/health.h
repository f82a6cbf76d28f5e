/*  flotilla/health.h - the health actor (service "health") and its parts:
    the health check config (flotilla/health_checks.h, parsed by the shared
    common/health_checks.c) and the prober that runs HTTP(S), TCP and
    command probes concurrently from a flot_loop without blocking it.

    protocol/contracts/health.json defines the service's messages (SPEC
    section 19 shows them); a CHECK in them is a map that flot_check_new
    parses, whose format is the deployment spec's `healthChecks` section.
*/
#ifndef FLOTILLA_HEALTH_H_INCLUDED
#define FLOTILLA_HEALTH_H_INCLUDED

#include "flotilla/actor.h"
#include "flotilla/contract_health.h"
#include "flotilla/health_checks.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const flot_actor_def_t flot_health_actor;

//  --------------------------------------------------------------------------
//  The prober: runs probes from a flot_loop. Every probe ends once, with its
//  result passed to its callback from the loop (never from inside
//  flot_prober_start), unless it is cancelled first.

typedef struct _flot_prober_t flot_prober_t;

typedef struct {
    bool healthy;
    char message [512];                 //  why, e.g. "GET http://...: status 503, expected 200-399"
    uint64_t duration_ms;
    int status_code;                    //  the HTTP status, or -1
} flot_probe_result_t;

typedef void (flot_probe_fn) (const flot_probe_result_t *result, void *arg);

//  A prober on loop. A command probe names a program in hooks_dir (an
//  absolute directory; NULL or "": none, and no command probe runs), and
//  runs there. Returns NULL if libcurl cannot start.
flot_prober_t *
    flot_prober_new (flot_loop_t *loop, const char *hooks_dir);

//  Stops every running probe (no callbacks), kills their processes.
void
    flot_prober_destroy (flot_prober_t **self_p);

//  Probe check once for the target in context (the health contract's
//  CONTEXT, see flotilla/template.h). The check and the context may be
//  freed once this returns. A template that cannot be filled, or a probe
//  that cannot start, ends unhealthy with the reason. Returns the probe's
//  id (never 0).
uint64_t
    flot_prober_start (flot_prober_t *self, const flot_check_t *check,
                       const flot_health_context_t *context, flot_probe_fn *fn, void *arg);

//  Stop a running probe; its callback is not called. Unknown ids are ignored.
void
    flot_prober_cancel (flot_prober_t *self, uint64_t id);

//  The number of probes running.
size_t
    flot_prober_running (flot_prober_t *self);

#ifdef __cplusplus
}
#endif

#endif
