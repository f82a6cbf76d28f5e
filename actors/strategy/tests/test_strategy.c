/*  test_strategy.c - the strategy actor's decisions (failure handling with
    retries, backoff, policies and maxFailures; pauses and promotes;
    progress), and its commands over a real broker: Validate reports every
    error, GenerateSteps returns the plan (a DEPLOYMENT_PLAN its readers
    decode through the contract), bad bodies get INVALID.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "flotilla/body.h"
#include "flotilla/log.h"
#include "strategy.h"
#include "world.h"


typedef struct {
    const char *name;
    flot_failure_t failure;
    flot_failure_action_t action;
    int64_t delay_ms;
} failure_case_t;

static const failure_case_t s_failure_cases [] = {
    { "first failure retries after the backoff",
      { 1, 3, 500, FLOT_ON_FAILURE_FAIL_ALL, 1, 0 }, FLOT_FAILURE_RETRY, 500 },
    { "backoff doubles each attempt",
      { 3, 3, 500, FLOT_ON_FAILURE_FAIL_ALL, 1, 0 }, FLOT_FAILURE_RETRY, 2000 },
    { "backoff is capped at an hour",
      { 30, 50, 1000, FLOT_ON_FAILURE_FAIL_ALL, 1, 0 }, FLOT_FAILURE_RETRY, 3600000 },
    { "failAll fails the deployment once retries are spent",
      { 4, 3, 500, FLOT_ON_FAILURE_FAIL_ALL, 1, 5 }, FLOT_FAILURE_FAIL_DEPLOYMENT, 0 },
    { "holdDependents holds within maxFailures",
      { 1, 0, 0, FLOT_ON_FAILURE_HOLD_DEPENDENTS, 1, 1 }, FLOT_FAILURE_HOLD_DEPENDENTS, 0 },
    { "continue goes on within maxFailures",
      { 1, 0, 0, FLOT_ON_FAILURE_CONTINUE, 2, 2 }, FLOT_FAILURE_CONTINUE, 0 },
    { "past maxFailures the deployment fails, whatever the policy",
      { 1, 0, 0, FLOT_ON_FAILURE_CONTINUE, 3, 2 }, FLOT_FAILURE_FAIL_DEPLOYMENT, 0 },
    { "maxFailures 0: the first failed target fails it",
      { 1, 0, 0, FLOT_ON_FAILURE_HOLD_DEPENDENTS, 1, 0 }, FLOT_FAILURE_FAIL_DEPLOYMENT, 0 },
};

static void
test_strategy_handles_failures (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof s_failure_cases / sizeof s_failure_cases [0]; i++) {
        const failure_case_t *c = &s_failure_cases [i];
        print_message ("case: %s\n", c->name);
        int64_t delay = -1;
        assert_int_equal (flot_strategy_handle_failure (&c->failure, &delay), c->action);
        assert_int_equal (delay, c->delay_ms);
    }
}

static void
test_strategy_pauses_and_promotes (void **state)
{
    (void) state;
    int64_t wait;
    assert_int_equal (flot_strategy_should_promote (1000, 400, false, &wait), FLOT_PROMOTE_WAIT);
    assert_int_equal (wait, 600);
    assert_int_equal (flot_strategy_should_promote (1000, 1000, false, &wait), FLOT_PROMOTE_NOW);
    assert_int_equal (flot_strategy_should_promote (1000, 10, true, &wait), FLOT_PROMOTE_NOW);
    assert_int_equal (flot_strategy_should_promote (-1, 999999, false, &wait),
                      FLOT_PROMOTE_WAIT_FOR_PERSON);
    assert_int_equal (flot_strategy_should_promote (-1, 0, true, &wait), FLOT_PROMOTE_NOW);
    assert_int_equal (flot_strategy_progress (0, 0), 100);
    assert_int_equal (flot_strategy_progress (8, 2), 25);
    assert_int_equal (flot_strategy_progress (3, 3), 100);
}

static int
s_setup (void **state)
{
    static const flot_actor_def_t *const defs [] = { &flot_strategy_actor, NULL };
    *state = world_start (defs);
    return 0;
}

static int
s_teardown (void **state)
{
    world_stop ((world_t **) state);
    return 0;
}

static json_t *
s_call (world_t *world, const char *command, json_t *request, flot_err_t *err)
{
    return world_call (world, "strategy", NULL, command, request, err);
}

static const char *s_good =
    "apiVersion: flotilla/v1\nkind: Deployment\nname: web\n"
    "workload: {name: web, version: \"2\"}\n"
    "targets: [{name: a}, {name: b, dependsOn: [a]}]\n"
    "strategy: {canary: {steps: [setWeight: 50, pause: {}]}}\n"
    "hook: {command: ./hook.sh}\n";

static void
test_strategy_actor_generates_steps (void **state)
{
    flot_err_t err;
    json_t *reply = s_call (*state, "GenerateSteps",
                            json_pack ("{s:s, s:s}", "spec", s_good, "file", "web.yaml"), &err);
    assert_non_null (reply);
    assert_string_equal (json_string_value (json_object_get (reply, "deployment")), "web");
    assert_string_equal (json_string_value (json_object_get (reply, "strategy")), "canary");
    json_t *plan = json_object_get (reply, "plan");
    json_t *order = json_object_get (plan, "order");
    assert_string_equal (json_string_value (json_array_get (order, 0)), "a");
    json_t *steps = json_object_get (json_array_get (json_object_get (plan, "targets"), 1), "steps");
    assert_int_equal (json_array_size (steps), 3);     //  50, pause, 100
    json_t *pause = json_array_get (steps, 1);
    assert_string_equal (json_string_value (json_object_get (pause, "id")), "b/2");
    assert_string_equal (json_string_value (json_object_get (pause, "type")), "pause");
    assert_int_equal (json_integer_value (json_object_get (pause, "duration_ms")), -1);
    json_t *rollback = json_object_get (json_object_get (reply, "rollback"), "order");
    assert_string_equal (json_string_value (json_array_get (rollback, 0)), "b");
    json_decref (reply);
}

//  Resolve: the steps every target runs, once, and the rollback steps a
//  target gets: a blue-green target whose traffic moved switches back,
//  any other touched target gets the rollback version in place.
static void
test_strategy_actor_resolves (void **state)
{
    flot_err_t err;
    const char *bluegreen =
        "apiVersion: flotilla/v1\nkind: Deployment\nname: web\n"
        "workload: {name: web, version: \"2\"}\n"
        "targets: [{name: a, address: \"10.0.0.1\"}, {name: b, dependsOn: [a]}]\n"
        "strategy: {blueGreen: {}}\nhook: {command: ./hook.sh}\n";
    json_t *reply = s_call (*state, "Resolve", json_pack ("{s:s}", "spec", bluegreen), &err);
    assert_non_null (reply);
    assert_string_equal (json_string_value (json_object_get (reply, "strategy")), "blueGreen");
    json_t *targets = json_object_get (reply, "targets");
    assert_int_equal (json_array_size (targets), 2);
    assert_string_equal (json_string_value (json_object_get (json_array_get (targets, 0),
                                                             "address")), "10.0.0.1");
    json_t *steps = json_object_get (reply, "steps");
    assert_string_equal (json_string_value (json_object_get (json_array_get (steps, 0),
                                                             "type")), "preview");
    json_t *back = json_object_get (reply, "rollback");
    assert_int_equal (json_array_size (back), 2);
    assert_string_equal (json_string_value (json_object_get (json_array_get (back, 0), "type")),
                         "rollback");
    assert_true (json_is_false (json_object_get (json_array_get (back, 0), "switched")));
    assert_string_equal (json_string_value (json_object_get (json_array_get (back, 1), "type")),
                         "switchBack");
    assert_true (json_is_true (json_object_get (json_array_get (back, 1), "switched")));
    json_t *order = json_object_get (reply, "order");
    assert_int_equal (json_integer_value (json_array_get (order, 1)), 1);
    json_decref (reply);
    //  Rolling: one rollback step, whatever moved.
    const char *rolling =
        "apiVersion: flotilla/v1\nkind: Deployment\nname: web\n"
        "workload: {name: web, version: \"2\"}\ntargets: [{name: a}]\n"
        "strategy: {rolling: {}}\nhook: {command: ./hook.sh}\n";
    reply = s_call (*state, "Resolve", json_pack ("{s:s}", "spec", rolling), &err);
    assert_non_null (reply);
    back = json_object_get (reply, "rollback");
    assert_int_equal (json_array_size (back), 1);
    assert_null (json_object_get (json_array_get (back, 0), "switched"));
    json_decref (reply);
}

static void
test_strategy_actor_validates (void **state)
{
    flot_err_t err;
    json_t *reply = s_call (*state, "Validate", json_pack ("{s:s, s:s}", "spec",
        "apiVersion: flotilla/v1\nkind: Deployment\nname: web\n"
        "workload: {name: web}\ntargets: [{name: a, dependsOn: [a]}]\n", "file", "w.yaml"), &err);
    assert_non_null (reply);
    assert_false (json_is_true (json_object_get (reply, "valid")));
    json_t *errors = json_object_get (reply, "errors");
    assert_true (json_array_size (errors) >= 3);
    assert_non_null (strstr (json_string_value (json_array_get (errors, 0)), "w.yaml:4: workload.version"));
    json_decref (reply);
    reply = s_call (*state, "Validate", json_pack ("{s:s}", "spec", s_good), &err);
    assert_true (json_is_true (json_object_get (reply, "valid")));
    json_decref (reply);
    //  GenerateSteps refuses what Validate refuses, naming the first error.
    assert_null (s_call (*state, "GenerateSteps", json_pack ("{s:s}", "spec", "kind: Job\n"), &err));
    assert_int_equal (err.code, FLOT_E_INVALID);
    assert_non_null (strstr (err.message, "spec:1:"));
}

static void
test_strategy_actor_refuses_bad_bodies (void **state)
{
    flot_err_t err;
    assert_null (s_call (*state, "GenerateSteps", json_pack ("{s:i}", "spec", 7), &err));
    assert_int_equal (err.code, FLOT_E_INVALID);
    assert_non_null (strstr (err.message, "field 'spec'"));
    assert_null (s_call (*state, "HandleFailure", json_pack ("{s:i, s:i, s:s, s:i}", "attempt", 1,
                         "retries", 0, "on_failure", "explode", "failed_targets", 1), &err));
    assert_int_equal (err.code, FLOT_E_INVALID);
    assert_non_null (strstr (err.message, "'explode'"));
    assert_null (s_call (*state, "CalculateProgress", json_pack ("{s:i, s:i}", "steps_total", 2,
                         "steps_done", 3), &err));
    assert_int_equal (err.code, FLOT_E_INVALID);
    json_t *reply = s_call (*state, "HandleFailure", json_pack ("{s:i, s:i, s:i, s:s, s:i, s:i}",
        "attempt", 2, "retries", 0, "backoff_ms", 10, "on_failure", "continue",
        "failed_targets", 1, "max_failures", 1), &err);
    assert_string_equal (json_string_value (json_object_get (reply, "action")), "continue");
    json_decref (reply);
}

//  GenerateSteps answers a DEPLOYMENT_PLAN, read here as flotctl reads the
//  coordinator's Plan: through the contract's decoder.
static void
test_strategy_actor_plan_decodes_as_the_contract_says (void **state)
{
    flot_strategy_spec_text_t request = { .spec = s_good, .file = "web.yaml" };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_strategy_spec_text_def, &request, &sbuf);
    zframe_t *frame = NULL;
    flot_err_t err;
    int rc = flot_client_call (world_client (*state), "strategy", NULL, "GenerateSteps",
                               sbuf.data, sbuf.size, 5000, &frame, &err);
    msgpack_sbuffer_destroy (&sbuf);
    assert_int_equal (rc, 0);
    flot_body_t *body = flot_body_decode (zframe_data (frame), zframe_size (frame), &err);
    zframe_destroy (&frame);
    assert_non_null (body);
    flot_strategy_deployment_plan_t reply;
    assert_int_equal (flot_strategy_deployment_plan_decode (flot_body_root (body),
                      flot_body_zone (body), &reply, &err), 0);
    assert_string_equal (reply.deployment, "web");
    assert_string_equal (reply.strategy, "canary");
    const flot_strategy_plan_t *plan = reply.plan;
    assert_int_equal (plan->concurrency, 1);
    assert_int_equal (plan->targets.count, 2);
    assert_string_equal (((const char **) plan->order.items) [1], "b");
    const flot_strategy_plan_target_t *b = (const flot_strategy_plan_target_t *) plan->targets.items + 1;
    assert_string_equal (b->name, "b");
    assert_int_equal (b->depends_on.count, 1);
    assert_string_equal (((const char **) b->depends_on.items) [0], "a");
    assert_int_equal (b->steps.count, 3);
    const flot_strategy_plan_step_t *steps = b->steps.items;
    for (size_t i = 0; i < 3; i++) {
        char id [16];
        snprintf (id, sizeof id, "b/%zu", i + 1);
        assert_string_equal (steps [i].id, id);
        assert_int_equal (steps [i].index, i + 1);
    }
    assert_string_equal (steps [0].type, "setWeight");
    assert_int_equal (steps [0].weight, 50);
    assert_true (steps [0].hook);
    assert_string_equal (steps [1].type, "pause");
    assert_int_equal (steps [1].duration_ms, -1);
    assert_false (steps [1].hook);
    assert_null (steps [1].gate);
    //  The rollback: one step a target, "<target>/rollback", b first.
    const flot_strategy_plan_t *back = reply.rollback;
    assert_string_equal (((const char **) back->order.items) [0], "b");
    const flot_strategy_plan_target_t *a = back->targets.items;
    assert_int_equal (a->steps.count, 1);
    steps = a->steps.items;
    assert_string_equal (steps [0].id, "a/rollback");
    assert_int_equal (steps [0].index, 1);
    assert_string_equal (steps [0].type, "rollback");
    flot_body_destroy (&body);
}

//  A canary of 10,000 targets in four waves (30,000 steps): its plan is
//  over the body limit.
static char *
s_wide_spec (void)
{
    size_t cap = 10000 * 48 + 1024, len = 0;
    char *text = malloc (cap);
    assert_non_null (text);
    len += (size_t) snprintf (text + len, cap - len, "apiVersion: flotilla/v1\n"
                              "kind: Deployment\nname: wide\n"
                              "workload: {name: wide, version: \"2\"}\ntargets:\n");
    for (int i = 0; i < 10000; i++)
        len += (size_t) snprintf (text + len, cap - len,
                                  "  - {name: t-%05d, labels: {ring: r%d}}\n", i, i / 2500);
    snprintf (text + len, cap - len, "waves:\n  - selector: {ring: r0}\n"
              "  - selector: {ring: r1}\n  - selector: {ring: r2}\n  - selector: {ring: r3}\n"
              "strategy: {canary: {steps: [{setWeight: 10}, {setWeight: 50}]}}\n"
              "hook: {command: ./hook.sh}\npolicy: {maxConcurrency: 100}\n");
    return text;
}

//  GenerateSteps of a spec, a page (offset, limit) when has_page: 0 with
//  the body, or -1 with err.
static flot_body_t *
s_generate (void *world, const char *text, bool has_page, uint64_t offset, uint64_t limit,
            flot_err_t *err)
{
    flot_strategy_spec_text_t request = {
        .spec = text, .file = "wide.yaml", .offset = offset, .has_offset = has_page,
        .limit = limit, .has_limit = has_page
    };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_strategy_spec_text_def, &request, &sbuf);
    zframe_t *frame = NULL;
    int rc = flot_client_call (world_client (world), "strategy", NULL, "GenerateSteps",
                               sbuf.data, sbuf.size, 30000, &frame, err);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc)
        return NULL;
    assert_true (zframe_size (frame) <= FLOT_MAX_BODY);
    flot_body_t *body = flot_body_decode (zframe_data (frame), zframe_size (frame), err);
    zframe_destroy (&frame);
    assert_non_null (body);
    return body;
}

//  A plan over the body limit is TOO_LARGE, naming the way to page, for a
//  caller that does not page; in pages, each under the limit, it is all
//  there: the targets and the order of the plan and of its rollback, from
//  the same index, the last page saying nothing follows.
static void
test_strategy_actor_plans_in_pages (void **state)
{
    char *text = s_wide_spec ();
    flot_err_t err;
    assert_null (s_generate (*state, text, false, 0, 0, &err));
    assert_int_equal (err.code, FLOT_E_TOO_LARGE);
    assert_non_null (strstr (err.message, "ask for it in pages of its targets (offset, limit)"));
    size_t offset = 0, pages = 0, steps = 0;
    bool more = true;
    while (more) {
        flot_body_t *body = s_generate (*state, text, true, offset, 10000, &err);
        assert_non_null (body);
        flot_strategy_deployment_plan_t reply;
        assert_int_equal (flot_strategy_deployment_plan_decode (flot_body_root (body),
                          flot_body_zone (body), &reply, &err), 0);
        assert_non_null (reply.page);
        assert_int_equal (reply.page->offset, offset);
        assert_int_equal (reply.page->total, 10000);
        assert_true (reply.has_steps_total);
        assert_int_equal (reply.steps_total, 30000);
        size_t count = reply.plan->targets.count;
        assert_true (count > 0);
        assert_int_equal (reply.plan->order.count, count);
        assert_int_equal (reply.rollback->targets.count, count);
        assert_int_equal (reply.rollback->order.count, count);
        const flot_strategy_plan_target_t *targets = reply.plan->targets.items;
        const char *const *order = reply.plan->order.items;
        const char *const *back = reply.rollback->order.items;
        for (size_t i = 0; i < count; i++) {
            char name [32];
            snprintf (name, sizeof name, "t-%05zu", offset + i);
            assert_string_equal (targets [i].name, name);
            assert_string_equal (order [i], name);
            assert_int_equal (targets [i].wave, (offset + i) / 2500);
            snprintf (name, sizeof name, "t-%05zu", 9999 - offset - i);
            assert_string_equal (back [i], name);
            steps += targets [i].steps.count;
        }
        //  Asked for all 10,000: cut to fit, and it says so.
        more = reply.page->more;
        assert_int_equal (reply.page->cut, more);
        if (more) {
            assert_true (reply.page->has_next_offset);
            assert_int_equal (reply.page->next_offset, offset + count);
        }
        offset += count;
        pages++;
        flot_body_destroy (&body);
    }
    assert_int_equal (offset, 10000);
    assert_int_equal (steps, 30000);
    assert_true (pages > 1);
    //  A page of two from the last but one: exactly those, nothing cut.
    flot_body_t *body = s_generate (*state, text, true, 9998, 2, &err);
    flot_strategy_deployment_plan_t reply;
    assert_int_equal (flot_strategy_deployment_plan_decode (flot_body_root (body),
                      flot_body_zone (body), &reply, &err), 0);
    assert_int_equal (reply.plan->targets.count, 2);
    assert_false (reply.page->more);
    assert_false (reply.page->cut);
    assert_false (reply.page->has_next_offset);
    flot_body_destroy (&body);
    free (text);
}

static void
test_strategy_actor_decides (void **state)
{
    flot_err_t err;
    json_t *reply = s_call (*state, "ListStrategies", json_object (), &err);
    json_t *list = json_object_get (reply, "strategies");
    assert_int_equal (json_array_size (list), 3);
    assert_string_equal (json_string_value (json_object_get (json_array_get (list, 1), "name")),
                         "blueGreen");
    json_decref (reply);
    reply = s_call (*state, "CalculateProgress", json_pack ("{s:i, s:i}", "steps_total", 3,
                    "steps_done", 2), &err);
    assert_int_equal (json_integer_value (json_object_get (reply, "percent")), 66);
    json_decref (reply);
    reply = s_call (*state, "ShouldPromote", json_pack ("{s:i, s:i}", "duration_ms", 1000,
                    "elapsed_ms", 400), &err);
    assert_false (json_is_true (json_object_get (reply, "promote")));
    assert_false (json_is_true (json_object_get (reply, "needs_person")));
    assert_int_equal (json_integer_value (json_object_get (reply, "wait_ms")), 600);
    json_decref (reply);
    reply = s_call (*state, "ShouldPromote", json_pack ("{s:i, s:i}", "duration_ms", -1,
                    "elapsed_ms", 400), &err);
    assert_true (json_is_true (json_object_get (reply, "needs_person")));
    json_decref (reply);
    assert_null (s_call (*state, "ShouldPromote", json_pack ("{s:i, s:i}", "duration_ms", -2,
                         "elapsed_ms", 0), &err));
    assert_string_equal (err.message, "field 'duration_ms': -2 is not in -1..2592000000");
}

int
main (void)
{
    flot_log_set_level (FLOT_LOG_WARN);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_strategy_handles_failures),
        cmocka_unit_test (test_strategy_pauses_and_promotes),
        cmocka_unit_test_setup_teardown (test_strategy_actor_generates_steps, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_strategy_actor_validates, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_strategy_actor_resolves, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_strategy_actor_refuses_bad_bodies, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_strategy_actor_plan_decodes_as_the_contract_says,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_strategy_actor_decides, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_strategy_actor_plans_in_pages, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
