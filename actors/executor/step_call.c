/*  step_call.c - packs the executor's ExecuteStep request for a step of a
    plan, for every caller of the executor (the coordinator, the rollback
    actor). A pure function of the spec and the step.
*/
#include "flotilla/step_call.h"
#include "flotilla/body.h"

#include <assert.h>

void
flot_step_call_pack (msgpack_packer *pk, const flot_spec_t *spec,
                     const char *deployment, const flot_step_t *step,
                     int attempt, const char *cwd)
{
    assert (pk && spec && deployment && step && cwd);
    const flot_target_t *target = &spec->targets [step->target];
    const flot_hook_t *hook = &spec->hook;
    bool reverting = step->type == FLOT_STEP_ROLLBACK || step->type == FLOT_STEP_SWITCH_BACK;
    msgpack_pack_map (pk, 11);
    flot_pack_kv_str (pk, "deployment", deployment);
    flot_pack_kv_str (pk, "step_id", step->id);
    flot_pack_kv_str (pk, "type", flot_step_type_name (step->type));
    flot_pack_kv_str (pk, "target", target->name);
    flot_pack_kv_str (pk, "address", target->address);
    flot_pack_kv_str (pk, "version", reverting ? spec->workload.rollback_version
                                               : spec->workload.version);
    flot_pack_kv_str (pk, "previous_version", reverting ? spec->workload.version
                                                        : spec->workload.rollback_version);
    flot_pack_kv_uint (pk, "weight", (uint64_t) (reverting ? 0 : step->weight));
    flot_pack_kv_uint (pk, "attempt", (uint64_t) attempt);
    flot_pack_kv_str (pk, "cwd", cwd);
    flot_pack_str (pk, "hook");
    msgpack_pack_map (pk, 4);
    flot_pack_kv_str (pk, "command", hook->command);
    flot_pack_kv_uint (pk, "timeout_ms", (uint64_t) hook->timeout_ms);
    flot_pack_str (pk, "args");
    msgpack_pack_array (pk, hook->arg_count);
    for (size_t i = 0; i < hook->arg_count; i++)
        flot_pack_str (pk, hook->args [i]);
    flot_pack_str (pk, "env");
    msgpack_pack_map (pk, hook->env_count);
    for (size_t i = 0; i < hook->env_count; i++)
        flot_pack_kv_str (pk, hook->env [i].key, hook->env [i].value);
}
