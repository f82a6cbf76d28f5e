/*  test_resolved.c - a RESOLVED deployment (strategy.RESOLVED) as the model
    the coordinator and the rollback service run on (common/resolved.c,
    common/model.c), and the executor's STEP a caller packs for one of its
    steps (common/step_call.c). The message is built as a strategy service
    sends it: every target runs the same steps, ids `<target>/<n>`; the
    rollback steps flagged `switched` apply to a target whose traffic moved,
    or did not. A RESOLVED whose parts do not fit together is INVALID with
    the field named.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "flotilla/resolved.h"
#include "flotilla/step_call.h"

//  A blue-green-like deployment of three targets, c depending on a.
typedef struct {
    flot_strategy_step_template_t steps [3];
    flot_strategy_step_template_t back [2];
    flot_strategy_resolved_target_t targets [3];
    const char *depends [1];
    uint64_t order [3];
    flot_strpair_t labels [1];
    flot_strpair_t env [1];
    const char *args [2];
    flot_strategy_workload_t workload;
    flot_executor_hook_t hook;
    flot_strategy_resolved_t r;
} sample_t;

static void
s_sample (sample_t *x)
{
    memset (x, 0, sizeof *x);
    x->steps [0] = (flot_strategy_step_template_t) {
        .type = "preview", .hook = true, .has_hook = true };
    x->steps [1] = (flot_strategy_step_template_t) {
        .type = "gate", .gate = "preSwitch" };
    x->steps [2] = (flot_strategy_step_template_t) {
        .type = "switch", .weight = 100, .has_weight = true, .hook = true, .has_hook = true };
    x->back [0] = (flot_strategy_step_template_t) {
        .type = "rollback", .hook = true, .has_hook = true, .switched = false,
        .has_switched = true };
    x->back [1] = (flot_strategy_step_template_t) {
        .type = "switchBack", .hook = true, .has_hook = true, .switched = true,
        .has_switched = true };
    x->depends [0] = "a";
    x->labels [0] = (flot_strpair_t) { "zone", "eu" };
    x->targets [0] = (flot_strategy_resolved_target_t) {
        .name = "a", .address = "10.0.0.1:80", .labels = { 1, x->labels } };
    x->targets [1] = (flot_strategy_resolved_target_t) { .name = "b" };
    x->targets [2] = (flot_strategy_resolved_target_t) {
        .name = "c", .depends_on = { 1, x->depends } };
    x->order [0] = 0;
    x->order [1] = 1;
    x->order [2] = 2;
    x->workload = (flot_strategy_workload_t) {
        .name = "web", .version = "2.0", .rollback_version = "1.9" };
    x->args [0] = "one";
    x->args [1] = "two";
    x->env [0] = (flot_strpair_t) { "MODE", "test" };
    x->hook = (flot_executor_hook_t) {
        .command = "./hook.sh", .args = { 2, x->args }, .env = { 1, x->env },
        .timeout_ms = 30000, .has_timeout_ms = true };
    x->r = (flot_strategy_resolved_t) {
        .deployment = "web", .strategy = "blueGreen", .workload = &x->workload,
        .hook = &x->hook, .retries = 2, .backoff_ms = 500, .on_failure = "holdDependents",
        .max_failures = 1, .concurrency = 2, .progress_deadline_ms = 60000,
        .rollback_mode = "gradual",
        .steps = { 3, x->steps }, .rollback = { 2, x->back },
        .targets = { 3, x->targets }, .order = { 3, x->order } };
}

static void
test_resolved_model_and_plan (void **state)
{
    (void) state;
    sample_t x;
    s_sample (&x);
    flot_err_t err;
    flot_spec_t *spec = flot_resolved_spec (&x.r, &err);
    assert_non_null (spec);
    assert_string_equal (spec->name, "web");
    assert_string_equal (spec->strategy_name, "blueGreen");
    assert_int_equal (spec->strategy.kind, FLOT_STRATEGY_BLUEGREEN);
    assert_int_equal (spec->target_count, 3);
    assert_int_equal (flot_spec_target_index (spec, "c"), 2);
    assert_int_equal (flot_spec_target_index (spec, "nope"), -1);
    assert_string_equal (spec->targets [0].labels [0].value, "eu");
    assert_int_equal (spec->hook.retries, 2);
    assert_int_equal (spec->policy.on_failure, FLOT_ON_FAILURE_HOLD_DEPENDENTS);
    assert_int_equal (spec->rollback.mode, FLOT_ROLLBACK_GRADUAL);
    assert_int_equal (flot_spec_concurrency (spec), 2);
    flot_plan_t *plan = flot_resolved_plan (&x.r, spec);
    assert_non_null (plan);
    assert_int_equal (plan->step_count, 9);
    assert_string_equal (plan->steps [4].id, "b/2");
    assert_int_equal (plan->steps [4].type, FLOT_STEP_GATE);
    assert_string_equal (plan->steps [4].gate, "preSwitch");
    assert_int_equal (plan->steps [8].weight, 100);
    assert_true (plan->steps [8].runs_hook);
    //  c waits for a.
    bool done [3] = { false, false, false };
    assert_false (flot_plan_ready (spec, 2, done, false));
    done [0] = true;
    assert_true (flot_plan_ready (spec, 2, done, false));
    assert_int_equal (flot_plan_progress (plan, 3), 33);
    flot_plan_destroy (&plan);
    flot_spec_destroy (&spec);
}

//  Touched a and c; only a's traffic moved: a switches back, c gets the
//  rollback version, b is left alone; targets in reverse order.
static void
test_resolved_rollback_follows_switched (void **state)
{
    (void) state;
    sample_t x;
    s_sample (&x);
    flot_err_t err;
    flot_spec_t *spec = flot_resolved_spec (&x.r, &err);
    bool touched [3] = { true, false, true }, switched [3] = { true, false, false };
    flot_plan_t *back = flot_resolved_rollback (&x.r, spec, touched, switched);
    assert_non_null (back);
    assert_int_equal (back->step_count, 2);
    assert_string_equal (back->steps [0].id, "a/rollback");
    assert_int_equal (back->steps [0].type, FLOT_STEP_SWITCH_BACK);
    assert_string_equal (back->steps [1].id, "c/rollback");
    assert_int_equal (back->steps [1].type, FLOT_STEP_ROLLBACK);
    assert_int_equal (back->first [1], back->first [2]);    //  b: none
    assert_int_equal (back->order [0], 2);
    //  Gradual: a waits for c, which depends on it.
    bool reverted [3] = { false, false, false };
    assert_false (flot_plan_ready (spec, 0, reverted, true));
    reverted [2] = true;
    assert_true (flot_plan_ready (spec, 0, reverted, true));
    flot_plan_destroy (&back);
    flot_spec_destroy (&spec);
}

static void
test_resolved_refuses_parts_that_do_not_fit (void **state)
{
    (void) state;
    struct { const char *what; void (*spoil) (sample_t *); const char *expected; } cases [] = {
        { "a dependency naming no target",
          (void (*) (sample_t *)) NULL, "field 'targets[2].dependsOn[0]': 'zz' names no target" },
        { "an order holding a target twice", NULL, "field 'order[1]': 0 is given twice" },
        { "an order entry past the targets", NULL, "field 'order[2]': 7 is no target's index" },
        { "a target named twice", NULL, "field 'targets[1].name': 'a' is given twice" },
        { "a wave past the waves", NULL, "field 'targets[0].wave': 3 is past the 1 waves" },
        { "a step type no one knows", NULL, "field 'steps[1].type': 'jump' is no step type" },
        { "a gate that runs the hook", NULL, "field 'steps[1].hook': a gate step does not run "
          "the hook" },
        { "an apply that runs no hook", NULL, "field 'steps[0].hook': a apply step runs the "
          "hook" },
        { "two rollback steps for one target", NULL, "field 'rollback[1]': a target would "
          "have two rollback steps (at most one applies whether its traffic moved or not)" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        sample_t x;
        s_sample (&x);
        const char *zz = "zz";
        switch (i) {
            case 0: x.depends [0] = zz; break;
            case 1: x.order [1] = 0; break;
            case 2: x.order [2] = 7; break;
            case 3: x.targets [1].name = "a"; break;
            case 4: x.targets [0].wave = 3; x.targets [0].has_wave = true; break;
            case 5: x.steps [1].type = "jump"; break;
            case 6: x.steps [1].hook = true; x.steps [1].has_hook = true; break;
            case 7: x.steps [0].type = "apply"; x.steps [0].hook = false; break;
            case 8: x.back [1].has_switched = false; break;
        }
        print_message ("case: %s\n", cases [i].what);
        flot_err_t err;
        flot_spec_t *spec = flot_resolved_spec (&x.r, &err);
        assert_null (spec);
        assert_int_equal (err.code, FLOT_E_INVALID);
        assert_string_equal (err.message, cases [i].expected);
    }
}

//  The STEP a caller packs for a plan's step, and for a rollback step.
static void
test_step_call_packs_a_step (void **state)
{
    (void) state;
    sample_t x;
    s_sample (&x);
    flot_err_t err;
    flot_spec_t *spec = flot_resolved_spec (&x.r, &err);
    flot_plan_t *plan = flot_resolved_plan (&x.r, spec);
    bool all [3] = { true, true, true }, none [3] = { false, false, false };
    flot_plan_t *back = flot_resolved_rollback (&x.r, spec, all, none);
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    for (int i = 0; i < 2; i++) {
        const flot_step_t *from = i == 0 ? &plan->steps [2] : &back->steps [0];
        msgpack_sbuffer sbuf;
        msgpack_packer pk;
        msgpack_sbuffer_init (&sbuf);
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        flot_step_call_pack (&pk, spec, "web-7", from, 2 + i, "/srv/web", 0, false);
        msgpack_object body;
        size_t offset = 0;
        assert_int_equal (msgpack_unpack (sbuf.data, sbuf.size, &offset, &zone, &body),
                          MSGPACK_UNPACK_SUCCESS);
        flot_executor_step_t step;
        assert_int_equal (flot_executor_step_decode (&body, &zone, &step, &err), 0);
        assert_string_equal (step.deployment, "web-7");
        assert_string_equal (step.step_id, i == 0 ? "a/3" : "a/rollback");
        assert_string_equal (step.type, i == 0 ? "switch" : "rollback");
        assert_string_equal (step.target, "a");
        assert_string_equal (step.address, "10.0.0.1:80");
        //  A rollback puts the rollback version back, at weight 0.
        assert_string_equal (step.version, i == 0 ? "2.0" : "1.9");
        assert_string_equal (step.previous_version, i == 0 ? "1.9" : "2.0");
        assert_int_equal (step.weight, i == 0 ? 100 : 0);
        assert_int_equal (step.attempt, 2 + i);
        assert_string_equal (step.cwd, "/srv/web");
        assert_string_equal (step.hook->command, "./hook.sh");
        assert_int_equal (step.hook->timeout_ms, 30000);
        assert_int_equal (step.hook->args.count, 2);
        assert_string_equal (((const char **) step.hook->args.items) [1], "two");
        assert_int_equal (step.hook->env.count, 1);
        assert_string_equal (step.hook->env.items [0].key, "MODE");
        assert_string_equal (step.hook->env.items [0].value, "test");
        msgpack_sbuffer_destroy (&sbuf);
    }
    msgpack_zone_destroy (&zone);
    flot_plan_destroy (&plan);
    flot_plan_destroy (&back);
    flot_spec_destroy (&spec);
}

//  The bytes as the coordinator stores them load to the same model.
static void
test_resolved_loads_from_bytes (void **state)
{
    (void) state;
    sample_t x;
    s_sample (&x);
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_strategy_resolved_def, &x.r, &sbuf);
    flot_spec_t *spec = NULL;
    flot_plan_t *plan = NULL;
    flot_err_t err;
    if (flot_resolved_load (sbuf.data, sbuf.size, &spec, &plan, &err))
        fail_msg ("%s", err.message);
    assert_int_equal (plan->step_count, 9);
    assert_string_equal (spec->workload.rollback_version, "1.9");
    bool touched [3] = { false, true, false };
    flot_plan_t *back = flot_resolved_load_rollback (sbuf.data, sbuf.size, spec, touched, NULL,
                                                     &err);
    assert_non_null (back);
    assert_int_equal (back->step_count, 1);
    assert_string_equal (back->steps [0].id, "b/rollback");
    flot_plan_destroy (&back);
    flot_plan_destroy (&plan);
    flot_spec_destroy (&spec);
    //  Hostile bytes: an error, not a crash.
    assert_int_equal (flot_resolved_load (sbuf.data, sbuf.size / 2, &spec, &plan, &err), -1);
    assert_int_equal (flot_resolved_load ("\x81\xa1x\x01", 4, &spec, &plan, &err), -1);
    assert_int_equal (err.code, FLOT_E_INVALID);
    msgpack_sbuffer_destroy (&sbuf);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_resolved_model_and_plan),
        cmocka_unit_test (test_resolved_rollback_follows_switched),
        cmocka_unit_test (test_resolved_refuses_parts_that_do_not_fit),
        cmocka_unit_test (test_step_call_packs_a_step),
        cmocka_unit_test (test_resolved_loads_from_bytes),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
