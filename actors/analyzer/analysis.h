/*  flotilla/analysis.h - metric analysis: Argo Rollouts' threshold
    semantics, the metric providers, and the analyzer actor. The `analysis`
    section of a deployment spec and its condition expressions are shared
    parsing code (flotilla/analysis_section.h and flotilla/condition.h,
    common/), included here.

    The coordinator sends the section as msgpack (converted from YAML); the
    analyzer parses it with a path in every error message
    ("analysis.metrics[0].failureLimit: -1 is not >= 0"), takes measurements
    from a provider (Prometheus, a command, or samples pushed to it) on each
    metric's interval, and either checks them against the metric's
    conditions (threshold metrics, Argo Rollouts' rules) or judges canary
    samples against baseline samples (judge metrics, flotilla/judge.h).
    The message contract of the `analyzer` service is
    protocol/contracts/analyzer.json (protocol/SPEC.md section 20).
*/
#ifndef FLOTILLA_ANALYSIS_H_INCLUDED
#define FLOTILLA_ANALYSIS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <czmq.h>
#include <msgpack.h>

#include "flotilla/actor.h"
#include "flotilla/analysis_section.h"
#include "flotilla/condition.h"
#include "flotilla/contract_analyzer.h"
#include "flotilla/judge.h"
#include "flotilla/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

//  --------------------------------------------------------------------------
//  Threshold semantics (Argo Rollouts' analysis controller)

//  A metric's or a run's phase is the analyzer contract's PHASE
//  (flot_analyzer_phase_t, FLOT_ANALYZER_PHASE_*, flot_analyzer_phase_name
//  and _parse), in Argo Rollouts' names.

//  True if phase is worse than other: successful < inconclusive < error <
//  failed (Argo's order); pending and running are below every completed one.
bool
    flot_phase_worse (flot_analyzer_phase_t phase, flot_analyzer_phase_t other);

//  One measurement's outcome by the conditions (either may be NULL):
//  failure true -> FAILED (it wins over success); success true -> SUCCESSFUL;
//  both given and neither true -> INCONCLUSIVE; only success given and false
//  -> FAILED; only failure given and false -> SUCCESSFUL; neither given ->
//  SUCCESSFUL. A condition that cannot be evaluated -> ERROR. message gets a
//  short sentence ("result >= 0.10 is true for 0.31").
flot_analyzer_phase_t
    flot_measurement_assess (const flot_condition_t *success,
                             const flot_condition_t *failure,
                             const double *values, size_t count,
                             char *message, size_t message_cap);

typedef struct {
    uint32_t measurements;              //  every measurement, errors included
    uint32_t counted;                   //  successful + failed + inconclusive
    uint32_t successful, failed, inconclusive, errors;
    uint32_t consecutive_errors;
} flot_tally_t;

//  Count one measurement's outcome (SUCCESSFUL, FAILED, INCONCLUSIVE or
//  ERROR); any outcome but ERROR resets the consecutive errors.
void
    flot_tally_add (flot_tally_t *tally, flot_analyzer_phase_t outcome);

//  The metric's phase after its measurements so far: FAILED if failed >
//  failureLimit, then INCONCLUSIVE if inconclusive > inconclusiveLimit, then
//  ERROR if consecutive errors > consecutiveErrorLimit (the last that holds
//  wins, as in Argo); else SUCCESSFUL once `count` measurements were
//  counted; else PENDING (none yet) or RUNNING. message gets the reason
//  ("3 failed > failureLimit 0").
flot_analyzer_phase_t
    flot_threshold_assess (const flot_threshold_limits_t *limits,
                           const flot_tally_t *tally, char *message, size_t message_cap);

//  --------------------------------------------------------------------------
//  Providers: asynchronous, driven by a flot_loop; a handler never blocks.

//  The answer of a fetch: values (count of them), or error (a sentence) and
//  no values. Called from the loop, never from inside the call that started
//  the fetch.
typedef void (flot_fetch_fn) (void *arg, const double *values, size_t count,
                              const char *error);

//  Prometheus through libcurl's multi interface: its sockets and timer are
//  loop pollers and a timer, so many queries run at once without blocking.
typedef struct _flot_prometheus_t flot_prometheus_t;

flot_prometheus_t *
    flot_prometheus_new (flot_loop_t *loop);

//  Stops every query; their callbacks are not called.
void
    flot_prometheus_destroy (flot_prometheus_t **self_p);

//  Run an instant query (range_ms 0: /api/v1/query) or a range query over
//  the last range_ms with step_ms (/api/v1/query_range). Every value of the
//  answer (all series, all points) is one value, in the answer's order.
//  Returns an id for cancel, or 0 with err if it could not start.
uint64_t
    flot_prometheus_query (flot_prometheus_t *self, const char *address,
                           const char *query, int64_t range_ms, int64_t step_ms,
                           int64_t timeout_ms, flot_fetch_fn *fn, void *arg,
                           char *err, size_t err_cap);

void
    flot_prometheus_cancel (flot_prometheus_t *self, uint64_t id);

//  Read the values out of a Prometheus HTTP API answer (vector, matrix or
//  scalar). Returns 0 with *values (malloc'd, may be NULL when *count is 0),
//  or -1 with err (the answer's own error for status "error").
int
    flot_prometheus_values (const char *json, size_t size, double **values,
                            size_t *count, char *err, size_t err_cap);

//  Commands: a child process in its own process group whose stdout is one
//  number per line. Past its timeout the group is killed (the error says so).
typedef struct _flot_commands_t flot_commands_t;

//  Commands run in cwd (NULL: ours): the analyzer's hooks directory.
flot_commands_t *
    flot_commands_new (flot_loop_t *loop, const char *cwd);

//  Kills every command still running; callbacks are not called.
void
    flot_commands_destroy (flot_commands_t **self_p);

//  argv ends with NULL; argv [0] is a path (the caller resolved it in the
//  hooks directory), never looked up on PATH. Returns an id, or 0 with err
//  if it could not start.
uint64_t
    flot_commands_run (flot_commands_t *self, char *const *argv, int64_t timeout_ms,
                       flot_fetch_fn *fn, void *arg, char *err, size_t err_cap);

void
    flot_commands_cancel (flot_commands_t *self, uint64_t id);

//  Numbers out of a command's output: one per line, blank lines skipped.
//  Returns 0 with *values (malloc'd), or -1 with err naming the line.
int
    flot_command_values (const char *text, size_t size, double **values,
                         size_t *count, char *err, size_t err_cap);

//  --------------------------------------------------------------------------
//  The actor (service "analyzer")

extern const flot_actor_def_t flot_analyzer_actor;

#ifdef __cplusplus
}
#endif

#endif
