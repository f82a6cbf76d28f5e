/*  flotilla/step_call.h - the executor's ExecuteStep request for one step
    of a plan (protocol/SPEC.md section 17).

    The coordinator (forward and rollback steps) and the rollback actor both
    send a plan's hook steps to the executor service; this is the one place
    that says what such a request carries, so a hook sees the same facts
    whoever sent it.
*/
#ifndef FLOTILLA_STEP_CALL_H_INCLUDED
#define FLOTILLA_STEP_CALL_H_INCLUDED

#include <msgpack.h>

#include "flotilla/contract_executor.h"
#include "flotilla/plan.h"

#ifdef __cplusplus
extern "C" {
#endif

//  The executor's answer to it is the contract's executor.STEP_RESULT:
//  callers read it with flot_executor_step_result_decode.

//  How much longer than the hook's own timeout a caller waits for the
//  executor's answer: the executor stops the hook at its timeout, then
//  needs a moment to say so.
#define FLOT_STEP_CALL_MARGIN_MS 5000

//  How long an executor that lost its broker gives its hooks between
//  SIGTERM and SIGKILL (SPEC 17).
#define FLOT_HOOK_KILL_GRACE_MS 2000

//  Pack the ExecuteStep body for step (a step of a plan of spec) of the
//  deployment, at its attempt (from 1), with the hook to run in cwd ("" for
//  the executor's own directory): the contract's executor.STEP, encoded by
//  it. A rollback or switchBack step carries the rollback version as its
//  version, the new one as the previous, and weight 0. started_ms, when the
//  deployment was started (0: not known), completes the run's idempotency
//  key with the deployment, the step and the attempt. again: the attempt
//  was sent before and its answer lost: an executor that has no record of
//  it runs nothing (NOT_FOUND).
void
    flot_step_call_pack (msgpack_packer *pk, const flot_spec_t *spec,
                         const char *deployment, const flot_step_t *step,
                         int attempt, const char *cwd, uint64_t started_ms, bool again);

#ifdef __cplusplus
}
#endif

#endif
