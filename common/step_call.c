/*  common/step_call.c - the executor's ExecuteStep request for a step of a plan,
    for every caller of the executor (the coordinator, the rollback actor):
    the contract's executor.STEP, filled from the spec and the step. A pure
    function of the spec and the step.
*/
#include "flotilla/step_call.h"
#include "flotilla/contract_executor.h"

#include <assert.h>
#include <stdlib.h>

void
flot_step_call_pack (msgpack_packer *pk, const flot_spec_t *spec,
                     const char *deployment, const flot_step_t *step,
                     int attempt, const char *cwd, uint64_t started_ms, bool again)
{
    assert (pk && spec && deployment && step && cwd);
    const flot_target_t *target = &spec->targets [step->target];
    const flot_hook_t *hook = &spec->hook;
    bool reverting = step->type == FLOT_STEP_ROLLBACK || step->type == FLOT_STEP_SWITCH_BACK;
    //  The spec's env entries are {key, value} pairs of strings, as a
    //  strmap's are.
    flot_strpair_t *env = hook->env_count ? calloc (hook->env_count, sizeof *env) : NULL;
    assert (env || !hook->env_count);
    for (size_t i = 0; i < hook->env_count; i++)
        env [i] = (flot_strpair_t) { hook->env [i].key, hook->env [i].value };
    flot_executor_hook_t call_hook = {
        .command = hook->command,
        .args = { hook->arg_count, hook->args },
        .env = { hook->env_count, env },
        .timeout_ms = (uint64_t) hook->timeout_ms, .has_timeout_ms = true
    };
    flot_executor_step_t request = {
        .deployment = deployment,
        .step_id = step->id,
        .type = flot_step_type_name (step->type),
        .target = target->name,
        .address = target->address,
        .version = reverting ? spec->workload.rollback_version : spec->workload.version,
        .previous_version = reverting ? spec->workload.version
                                      : spec->workload.rollback_version,
        .weight = (uint64_t) (reverting ? 0 : step->weight), .has_weight = true,
        .attempt = (uint64_t) attempt, .has_attempt = true,
        .started_ms = started_ms, .has_started_ms = started_ms > 0,
        .again = again, .has_again = again,
        .cwd = cwd,
        .hook = &call_hook
    };
    flot_executor_step_encode (&request, pk);
    free (env);
}
