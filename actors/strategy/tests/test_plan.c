/*  test_plan.c - step generation: each strategy's steps, stable ids,
    dependency and wave order, concurrency from counts and percentages,
    rollback plans, progress. Table-driven where the shape repeats.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "strategy.h"

#define HEADER \
    "apiVersion: flotilla/v1\nkind: Deployment\nname: web\n" \
    "workload: {name: web, version: \"2.0\"}\nhook: {command: ./hook.sh}\n"

static flot_spec_t *
s_spec (const char *yaml)
{
    flot_spec_errors_t errors;
    flot_spec_t *spec = flot_spec_parse (yaml, strlen (yaml), "t.yaml", &errors);
    for (size_t i = 0; i < errors.count; i++)
        print_message ("spec error: %s\n", errors.lines [i]);
    flot_spec_errors_clear (&errors);
    assert_non_null (spec);
    return spec;
}

//  The plan's steps as "id:type:weight:duration" joined by spaces.
static char *
s_describe (const flot_plan_t *plan)
{
    size_t cap = 64 + plan->step_count * 128;
    char *text = calloc (1, cap);
    for (size_t i = 0; i < plan->step_count; i++) {
        const flot_step_t *s = &plan->steps [i];
        size_t used = strlen (text);
        snprintf (text + used, cap - used, "%s%s:%s:%d:%lld", i ? " " : "", s->id,
                  flot_step_type_name (s->type), s->weight, (long long) s->duration_ms);
    }
    return text;
}

//  The target order as names joined by spaces.
static char *
s_order (const flot_spec_t *spec, const flot_plan_t *plan)
{
    char *text = calloc (1, 64 + plan->target_count * 70);
    for (size_t i = 0; i < plan->target_count; i++) {
        strcat (text, i ? " " : "");
        strcat (text, spec->targets [plan->order [i]].name);
    }
    return text;
}

typedef struct {
    const char *name;
    const char *yaml;           //  after HEADER
    const char *steps;          //  expected s_describe
    const char *order;          //  expected s_order
    size_t concurrency;
} plan_case_t;

static const plan_case_t s_cases [] = {
    { "canary: steps per target, a final 100 added",
      "targets: [{name: a}, {name: b}]\n"
      "strategy: {canary: {steps: [setWeight: 10, pause: {duration: 2s}, pause: {}, gate: {name: g}, setWeight: 50]}}\n",
      "a/1:setWeight:10:0 a/2:pause:10:2000 a/3:pause:10:-1 a/4:gate:10:0 a/5:setWeight:50:0 a/6:setWeight:100:0 "
      "b/1:setWeight:10:0 b/2:pause:10:2000 b/3:pause:10:-1 b/4:gate:10:0 b/5:setWeight:50:0 b/6:setWeight:100:0",
      "a b", 1 },
    { "canary ending at 100 gets no extra step; soak appended",
      "targets: [{name: a}]\nstrategy: {canary: {steps: [setWeight: 100]}}\npolicy: {soakTime: 3s}\n",
      "a/1:setWeight:100:0 a/2:soak:100:3000", "a", 1 },
    { "blue-green with auto promote",
      "targets: [{name: a}]\nstrategy: {blueGreen: {keepOld: 30s}}\n",
      "a/1:preview:0:0 a/2:gate:0:0 a/3:switch:100:0 a/4:gate:100:0 a/5:cleanup:100:30000", "a", 1 },
    { "blue-green waiting for a promote",
      "targets: [{name: a}]\nstrategy: {blueGreen: {autoPromote: false}}\n",
      "a/1:preview:0:0 a/2:gate:0:0 a/3:pause:0:-1 a/4:switch:100:0 a/5:gate:100:0 a/6:cleanup:100:0", "a", 1 },
    { "rolling: one apply per target, count concurrency",
      "targets: [{name: a}, {name: b}, {name: c}]\nstrategy: {rolling: {}}\npolicy: {maxConcurrency: 2}\n",
      "a/1:apply:100:0 b/1:apply:100:0 c/1:apply:100:0", "a b c", 2 },
    { "percent concurrency rounds down, at least one",
      "targets: [{name: a}, {name: b}, {name: c}, {name: d}, {name: e}, {name: f}, {name: g}]\n"
      "strategy: {rolling: {}}\npolicy: {maxConcurrency: 30%}\n",
      "a/1:apply:100:0 b/1:apply:100:0 c/1:apply:100:0 d/1:apply:100:0 e/1:apply:100:0 f/1:apply:100:0 g/1:apply:100:0",
      "a b c d e f g", 2 },
    { "percent of one target is one",
      "targets: [{name: a}]\nstrategy: {rolling: {}}\npolicy: {maxConcurrency: 1%}\n",
      "a/1:apply:100:0", "a", 1 },
    { "dependsOn orders targets, ties by spec order",
      "targets: [{name: c, dependsOn: [b]}, {name: b, dependsOn: [a]}, {name: a}, {name: x}]\n"
      "strategy: {rolling: {}}\n",
      "c/1:apply:100:0 b/1:apply:100:0 a/1:apply:100:0 x/1:apply:100:0", "a x b c", 1 },
    { "waves: every target of a wave after the earlier waves",
      "targets:\n"
      "  - {name: us-1, labels: {region: us}}\n"
      "  - {name: eu-1, labels: {region: eu}}\n"
      "  - {name: ap-1, labels: {region: ap}}\n"
      "  - {name: eu-2, labels: {region: eu}, dependsOn: [eu-1]}\n"
      "  - {name: us-2, labels: {region: us}}\n"
      "waves: [{selector: {region: eu}}, {selector: {region: us}}, {selector: {region: ap}}]\n"
      "strategy: {rolling: {}}\n",
      "us-1/1:apply:100:0 eu-1/1:apply:100:0 ap-1/1:apply:100:0 eu-2/1:apply:100:0 us-2/1:apply:100:0",
      "eu-1 eu-2 us-1 us-2 ap-1", 1 },
    { "waves and dependsOn across waves",
      "targets:\n"
      "  - {name: b, labels: {w: two}, dependsOn: [a]}\n"
      "  - {name: a, labels: {w: one}}\n"
      "  - {name: c, labels: {w: two}, dependsOn: [b]}\n"
      "waves: [{selector: {w: one}}, {selector: {w: two}}]\n"
      "strategy: {rolling: {}}\n",
      "b/1:apply:100:0 a/1:apply:100:0 c/1:apply:100:0", "a b c", 1 },
};

static void
test_plan_generates_steps_for_each_strategy (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases [0]; i++) {
        const plan_case_t *c = &s_cases [i];
        print_message ("case: %s\n", c->name);
        char yaml [4096];
        snprintf (yaml, sizeof yaml, "%s%s", HEADER, c->yaml);
        flot_spec_t *spec = s_spec (yaml);
        flot_plan_t *plan = flot_plan_generate (spec);
        assert_non_null (plan);
        char *steps = s_describe (plan);
        char *order = s_order (spec, plan);
        assert_string_equal (steps, c->steps);
        assert_string_equal (order, c->order);
        assert_int_equal (plan->concurrency, c->concurrency);
        //  first [] delimits each target's steps.
        for (size_t t = 0; t < plan->target_count; t++)
            for (size_t s = plan->first [t]; s < plan->first [t + 1]; s++)
                assert_int_equal (plan->steps [s].target, (int) t);
        free (steps);
        free (order);
        flot_plan_destroy (&plan);
        flot_plan_destroy (&plan);
        flot_spec_destroy (&spec);
    }
}

//  SPEC 16: a target's steps are "<target>/<n>", n from 1 in decimal, the
//  step's index; each target counts its own, whatever the target order.
static void
test_plan_numbers_step_ids_per_target_from_one (void **state)
{
    (void) state;
    flot_spec_t *spec = s_spec (HEADER
        "targets: [{name: a, dependsOn: [b]}, {name: b}]\n"
        "strategy: {canary: {steps: [setWeight: 10, setWeight: 20, setWeight: 30, "
        "setWeight: 40, setWeight: 50, setWeight: 60, setWeight: 70, setWeight: 80, "
        "setWeight: 90, pause: {}]}}\n");
    flot_plan_t *plan = flot_plan_generate (spec);
    assert_int_equal (plan->order [0], 1);          //  b starts first
    assert_int_equal (plan->step_count, 22);        //  10 steps and 100% each
    for (size_t s = 0; s < plan->step_count; s++) {
        const flot_step_t *step = &plan->steps [s];
        int n = (int) (s - plan->first [step->target]) + 1;
        char id [32];
        snprintf (id, sizeof id, "%s/%d", step->target == 0 ? "a" : "b", n);
        assert_string_equal (step->id, id);
        assert_int_equal (step->index, n);
    }
    assert_string_equal (plan->steps [9].id, "a/10");
    assert_string_equal (plan->steps [21].id, "b/11");
    flot_plan_destroy (&plan);
    flot_spec_destroy (&spec);
}

static void
test_plan_is_deterministic (void **state)
{
    (void) state;
    const char *yaml = HEADER
        "targets: [{name: a}, {name: b, dependsOn: [a]}, {name: c}]\n"
        "strategy: {canary: {steps: [setWeight: 25, pause: {}]}}\n";
    flot_spec_t *one = s_spec (yaml), *two = s_spec (yaml);
    flot_plan_t *p1 = flot_plan_generate (one), *p2 = flot_plan_generate (two);
    char *d1 = s_describe (p1), *d2 = s_describe (p2);
    assert_string_equal (d1, d2);
    assert_memory_equal (p1->order, p2->order, 3 * sizeof (int));
    free (d1);
    free (d2);
    flot_plan_destroy (&p1);
    flot_plan_destroy (&p2);
    flot_spec_destroy (&one);
    flot_spec_destroy (&two);
}

static void
test_plan_ready_follows_dependencies_and_waves (void **state)
{
    (void) state;
    flot_spec_t *spec = s_spec (HEADER
        "targets:\n"
        "  - {name: a, labels: {w: one}}\n"
        "  - {name: b, labels: {w: one}, dependsOn: [a]}\n"
        "  - {name: c, labels: {w: two}}\n"
        "waves: [{selector: {w: one}}, {selector: {w: two}}]\n"
        "strategy: {rolling: {}}\n");
    bool done [3] = { false, false, false };
    assert_true (flot_plan_ready (spec, 0, done, false));
    assert_false (flot_plan_ready (spec, 1, done, false));
    assert_false (flot_plan_ready (spec, 2, done, false));
    done [0] = true;
    assert_true (flot_plan_ready (spec, 1, done, false));
    assert_false (flot_plan_ready (spec, 2, done, false));     //  b of wave one not done
    done [1] = true;
    assert_true (flot_plan_ready (spec, 2, done, false));
    //  Reverse (gradual rollback): a waits for b and c, c waits for nobody.
    bool reverted [3] = { false, false, false };
    assert_false (flot_plan_ready (spec, 0, reverted, true));
    assert_false (flot_plan_ready (spec, 1, reverted, true));
    assert_true (flot_plan_ready (spec, 2, reverted, true));
    reverted [2] = true;
    assert_true (flot_plan_ready (spec, 1, reverted, true));
    reverted [1] = true;
    assert_true (flot_plan_ready (spec, 0, reverted, true));
    flot_spec_destroy (&spec);
}

static void
test_plan_progress (void **state)
{
    (void) state;
    flot_spec_t *spec = s_spec (HEADER "targets: [{name: a}, {name: b}, {name: c}]\n"
                                "strategy: {rolling: {}}\n");
    flot_plan_t *plan = flot_plan_generate (spec);
    assert_int_equal (flot_plan_progress (plan, 0), 0);
    assert_int_equal (flot_plan_progress (plan, 1), 33);
    assert_int_equal (flot_plan_progress (plan, 2), 66);
    assert_int_equal (flot_plan_progress (plan, 3), 100);
    assert_int_equal (flot_plan_progress (plan, 9), 100);
    flot_plan_destroy (&plan);
    flot_spec_destroy (&spec);
}

static void
test_plan_of_a_thousand_targets_in_a_chain (void **state)
{
    (void) state;
    size_t cap = 1 << 16;
    char *yaml = malloc (cap);
    size_t used = (size_t) snprintf (yaml, cap, "%stargets:\n  - {name: t0}\n", HEADER);
    for (int i = 1; i < 1000; i++)
        used += (size_t) snprintf (yaml + used, cap - used,
                                   "  - {name: t%d, dependsOn: [t%d]}\n", i, i - 1);
    snprintf (yaml + used, cap - used, "strategy: {rolling: {}}\n");
    flot_spec_t *spec = s_spec (yaml);
    flot_plan_t *plan = flot_plan_generate (spec);
    assert_int_equal (plan->step_count, 1000);
    for (int i = 0; i < 1000; i++)
        assert_int_equal (plan->order [i], i);
    flot_plan_destroy (&plan);
    flot_spec_destroy (&spec);
    free (yaml);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_plan_generates_steps_for_each_strategy),
        cmocka_unit_test (test_plan_is_deterministic),
        cmocka_unit_test (test_plan_ready_follows_dependencies_and_waves),
        cmocka_unit_test (test_plan_numbers_step_ids_per_target_from_one),
        cmocka_unit_test (test_plan_progress),
        cmocka_unit_test (test_plan_of_a_thousand_targets_in_a_chain),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
