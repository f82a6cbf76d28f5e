/*  test_spec.c - the deployment spec parser: every validation error class,
    each reported with file, line and field; and what a good spec yields.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flotilla/body.h"
#include "strategy.h"

#define HEADER \
    "apiVersion: flotilla/v1\n" \
    "kind: Deployment\n" \
    "name: web\n" \
    "workload: {name: web, version: \"2.0\"}\n"
#define TARGETS \
    "targets:\n" \
    "  - {name: a}\n" \
    "  - {name: b, dependsOn: [a]}\n"
#define HOOK "hook: {command: ./hook.sh}\n"

static flot_spec_t *
s_parse (const char *yaml, flot_spec_errors_t *errors)
{
    return flot_spec_parse (yaml, strlen (yaml), "deploy.yaml", errors);
}

//  Asserts the spec is refused with an error line containing expected.
static void
s_assert_error (const char *yaml, const char *expected)
{
    flot_spec_errors_t errors;
    flot_spec_t *spec = s_parse (yaml, &errors);
    if (spec) {
        flot_spec_destroy (&spec);
        fail_msg ("accepted, expected an error with '%s'", expected);
    }
    bool found = false;
    for (size_t i = 0; i < errors.count; i++)
        if (strstr (errors.lines [i], expected))
            found = true;
    if (!found) {
        for (size_t i = 0; i < errors.count; i++)
            print_message ("  got: %s\n", errors.lines [i]);
        flot_spec_errors_clear (&errors);
        fail_msg ("no error line with '%s'", expected);
    }
    flot_spec_errors_clear (&errors);
}

static void
test_spec_accepts_a_full_canary (void **state)
{
    (void) state;
    const char *yaml = HEADER
        "targets:\n"
        "  - name: eu-1\n"
        "    address: 127.0.0.1:9001\n"
        "    labels: {region: eu}\n"
        "  - {name: eu-2, labels: {region: eu}, dependsOn: [eu-1]}\n"
        "  - {name: us-1, labels: {region: us}}\n"
        "waves:\n"
        "  - selector: {region: eu}\n"
        "  - selector: {region: us}\n"
        "strategy:\n"
        "  canary:\n"
        "    steps:\n"
        "      - setWeight: 20\n"
        "      - pause: {duration: 1m30s}\n"
        "      - pause: {}\n"
        "      - gate: {name: smoke}\n"
        "      - setWeight: 100\n"
        "hook:\n"
        "  command: ./hook.sh\n"
        "  args: [--fast]\n"
        "  env: {MODE: test}\n"
        "  timeout: 45s\n"
        "  retries: 3\n"
        "  backoff: 250ms\n"
        "policy:\n"
        "  onFailure: holdDependents\n"
        "  maxConcurrency: 50%\n"
        "  maxFailures: 1\n"
        "  progressDeadline: 10m\n"
        "  soakTime: 2s\n"
        "rollback: {mode: gradual}\n";
    flot_spec_errors_t errors;
    flot_spec_t *spec = s_parse (yaml, &errors);
    assert_non_null (spec);
    assert_string_equal (spec->name, "web");
    assert_string_equal (spec->workload.version, "2.0");
    assert_int_equal (spec->target_count, 3);
    assert_string_equal (spec->targets [0].address, "127.0.0.1:9001");
    assert_int_equal (spec->targets [1].wave, 0);
    assert_int_equal (spec->targets [2].wave, 1);
    assert_int_equal (spec->strategy.kind, FLOT_STRATEGY_CANARY);
    assert_int_equal (spec->strategy.step_count, 5);
    assert_int_equal (spec->strategy.steps [0].weight, 20);
    assert_int_equal (spec->strategy.steps [1].duration_ms, 90000);
    assert_int_equal (spec->strategy.steps [2].duration_ms, -1);
    assert_string_equal (spec->strategy.steps [3].gate, "smoke");
    assert_int_equal (spec->hook.timeout_ms, 45000);
    assert_int_equal (spec->hook.retries, 3);
    assert_int_equal (spec->hook.backoff_ms, 250);
    assert_string_equal (spec->hook.args [0], "--fast");
    assert_string_equal (spec->hook.env [0].key, "MODE");
    assert_int_equal (spec->policy.on_failure, FLOT_ON_FAILURE_HOLD_DEPENDENTS);
    assert_true (spec->policy.percent);
    assert_int_equal (flot_spec_concurrency (spec), 1);    //  50% of 3
    assert_int_equal (spec->policy.soak_ms, 2000);
    assert_int_equal (spec->rollback.mode, FLOT_ROLLBACK_GRADUAL);
    flot_spec_destroy (&spec);
    flot_spec_destroy (&spec);      //  safe twice
}

static void
test_spec_defaults (void **state)
{
    (void) state;
    flot_spec_errors_t errors;
    flot_spec_t *spec = s_parse (HEADER TARGETS "strategy: {rolling: {}}\n" HOOK, &errors);
    assert_non_null (spec);
    assert_int_equal (spec->strategy.kind, FLOT_STRATEGY_ROLLING);
    assert_int_equal (spec->policy.on_failure, FLOT_ON_FAILURE_FAIL_ALL);
    assert_int_equal (flot_spec_concurrency (spec), 1);
    assert_int_equal (spec->policy.progress_deadline_ms, 600000);
    assert_int_equal (spec->hook.timeout_ms, 60000);
    assert_int_equal (spec->rollback.mode, FLOT_ROLLBACK_IMMEDIATE);
    flot_spec_destroy (&spec);
}

//  Every class of validation error, with the line and the field path.
typedef struct {
    const char *name;
    const char *yaml;
    const char *expected;
} error_case_t;

static const error_case_t s_error_cases [] = {
    { "not yaml", "a: [1\n", "deploy.yaml:2: (document): not valid YAML" },
    { "empty", "", "(document): is empty" },
    { "not a map", "- 1\n- 2\n", "deploy.yaml:1: (document): expected a map, found a list" },
    { "two documents", HEADER TARGETS "strategy: {rolling: {}}\n" HOOK "---\na: 1\n",
      "holds more than one YAML document" },
    { "alias", "a: &x [1]\nb: *x\n", "aliases (*name) are not supported" },
    { "api version", "apiVersion: flotilla/v9\nkind: Deployment\n",
      "deploy.yaml:1: apiVersion: 'flotilla/v9' is not supported" },
    { "kind", "apiVersion: flotilla/v1\nkind: Job\n", "deploy.yaml:2: kind: 'Job' is not Deployment" },
    { "unknown top field", HEADER TARGETS "strategy: {rolling: {}}\n" HOOK "colour: red\n",
      "deploy.yaml:10: (document): unknown field 'colour'" },
    { "duplicate field", HEADER "name: again\n" TARGETS "strategy: {rolling: {}}\n" HOOK,
      "field 'name' is given twice" },
    { "bad name", "apiVersion: flotilla/v1\nkind: Deployment\nname: \"web app\"\n",
      "deploy.yaml:3: name: 'web app' must be 1..64 of [A-Za-z0-9._-]" },
    { "missing workload", "apiVersion: flotilla/v1\nkind: Deployment\nname: w\n",
      "workload: is required" },
    { "missing version", "apiVersion: flotilla/v1\nkind: Deployment\nname: w\nworkload: {name: w}\n",
      "deploy.yaml:4: workload.version: is required" },
    { "no targets", HEADER "targets: []\nstrategy: {rolling: {}}\n" HOOK,
      "deploy.yaml:5: targets: has 0 targets, expected 1..10000" },
    { "targets not a list", HEADER "targets: {a: 1}\nstrategy: {rolling: {}}\n" HOOK,
      "targets: expected a list, found a map" },
    { "unknown target field", HEADER "targets:\n  - {name: a, colour: red}\nstrategy: {rolling: {}}\n" HOOK,
      "deploy.yaml:6: targets[0]: unknown field 'colour'" },
    { "duplicate target", HEADER "targets:\n  - {name: a}\n  - {name: a}\nstrategy: {rolling: {}}\n" HOOK,
      "deploy.yaml:7: targets[1].name: 'a' is already the name of targets[0]" },
    { "unknown dependency", HEADER "targets:\n  - {name: a, dependsOn: [zz]}\nstrategy: {rolling: {}}\n" HOOK,
      "targets[0].dependsOn[0]: names no target" },
    { "self dependency", HEADER "targets:\n  - {name: a, dependsOn: [a]}\nstrategy: {rolling: {}}\n" HOOK,
      "targets[0].dependsOn[0]: a target cannot depend on itself" },
    { "cycle", HEADER "targets:\n  - {name: a, dependsOn: [c]}\n  - {name: b, dependsOn: [a]}\n"
      "  - {name: c, dependsOn: [b]}\nstrategy: {rolling: {}}\n" HOOK,
      "dependency cycle: a -> c -> b -> a" },
    { "cycle through a wave", HEADER "targets:\n  - {name: a, labels: {w: one}, dependsOn: [b]}\n"
      "  - {name: b, labels: {w: two}}\nwaves:\n  - selector: {w: one}\n  - selector: {w: two}\n"
      "strategy: {rolling: {}}\n" HOOK, "dependency cycle" },
    { "no wave matches", HEADER "targets:\n  - {name: a, labels: {w: one}}\n  - {name: b}\n"
      "waves:\n  - selector: {w: one}\nstrategy: {rolling: {}}\n" HOOK,
      "deploy.yaml:7: targets[1]: 'b' matches no wave's selector" },
    { "empty selector", HEADER TARGETS "waves:\n  - selector: {}\nstrategy: {rolling: {}}\n" HOOK,
      "waves[0].selector: must name at least one label" },
    { "no strategy", HEADER TARGETS HOOK, "strategy: is required" },
    { "two strategies", HEADER TARGETS "strategy: {rolling: {}, canary: {steps: [setWeight: 5]}}\n" HOOK,
      "strategy: give exactly one of canary, blueGreen, rolling" },
    { "not a strategy's name", HEADER TARGETS "strategy: {\"lin ear\": {}}\n" HOOK,
      "strategy: 'lin ear' is not a strategy's name" },
    { "a registered strategy's name, not a map", HEADER TARGETS "strategy: {linear: [1]}\n" HOOK,
      "linear: expected a map" },
    { "canary without steps", HEADER TARGETS "strategy: {canary: {}}\n" HOOK,
      "strategy.canary.steps: is required" },
    { "weight over 100", HEADER TARGETS "strategy:\n  canary:\n    steps:\n      - setWeight: 20\n"
      "      - setWeight: 50\n      - setWeight: 140\n" HOOK,
      "deploy.yaml:13: strategy.canary.steps[2].setWeight: 140 is not in 0..100" },
    { "weight not a number", HEADER TARGETS "strategy: {canary: {steps: [setWeight: lots]}}\n" HOOK,
      "strategy.canary.steps[0].setWeight: 'lots' is not a whole number" },
    { "bad pause", HEADER TARGETS "strategy: {canary: {steps: [pause: {duration: soon}]}}\n" HOOK,
      "strategy.canary.steps[0].pause.duration: 'soon' is not a duration" },
    { "two kinds in a step", HEADER TARGETS "strategy: {canary: {steps: [{setWeight: 5, pause: {}}]}}\n" HOOK,
      "strategy.canary.steps[0]: a step has exactly one of setWeight, pause, gate" },
    { "gate without name", HEADER TARGETS "strategy: {canary: {steps: [gate: {}]}}\n" HOOK,
      "strategy.canary.steps[0].gate.name: is required" },
    { "blue-green bool", HEADER TARGETS "strategy: {blueGreen: {autoPromote: maybe}}\n" HOOK,
      "strategy.blueGreen.autoPromote: 'maybe' is not true or false" },
    { "no hook", HEADER TARGETS "strategy: {rolling: {}}\n",
      "hook: is required" },
    { "hook timeout", HEADER TARGETS "strategy: {rolling: {}}\nhook: {command: x, timeout: 0s}\n",
      "hook.timeout: '0s' is not between 1ms and 86400000ms" },
    { "hook retries", HEADER TARGETS "strategy: {rolling: {}}\nhook: {command: x, retries: -1}\n",
      "hook.retries: -1 is not in 0..100" },
    { "hook args", HEADER TARGETS "strategy: {rolling: {}}\nhook: {command: x, args: {a: 1}}\n",
      "hook.args: expected a list, found a map" },
    //  A hook names a program in the executor's hooks directory; its env
    //  does not change how it runs.
    { "hook absolute", HEADER TARGETS "strategy: {rolling: {}}\n"
      "hook: {command: /bin/sh, args: [-c, \"touch /tmp/pwned\"]}\n",
      "deploy.yaml:9: hook.command: '/bin/sh' is an absolute path: a hook names a program in "
      "the executor's hooks directory (--hooks-dir)" },
    { "hook leaves", HEADER TARGETS "strategy: {rolling: {}}\nhook: {command: hooks/../../x.sh}\n",
      "deploy.yaml:9: hook.command: 'hooks/../../x.sh' leaves the hooks directory ('..'): "
      "a hook names a program" },
    { "hook template", HEADER TARGETS "strategy: {rolling: {}}\nhook: {command: \"{{target}}\"}\n",
      "hook.command: '{{target}}' is taken literally and holds '{'" },
    { "hook shell words", HEADER TARGETS "strategy: {rolling: {}}\nhook: {command: \"x.sh; id\"}\n",
      "hook.command: 'x.sh; id' holds ';': a name is made of [A-Za-z0-9._-] and '/'" },
    { "hook env loader", HEADER TARGETS "strategy: {rolling: {}}\n"
      "hook:\n  command: ./hook.sh\n  env:\n    MODE: fast\n    LD_PRELOAD: /tmp/x.so\n",
      "deploy.yaml:13: hook.env: LD_PRELOAD changes how a program is loaded or run (the "
      "dynamic loader reads LD_*): a spec may not set it" },
    { "hook env path", HEADER TARGETS "strategy: {rolling: {}}\n"
      "hook: {command: ./hook.sh, env: {PATH: /tmp}}\n",
      "hook.env: PATH changes how a program is loaded or run" },
    { "hook env git", HEADER TARGETS "strategy: {rolling: {}}\n"
      "hook: {command: ./hook.sh, env: {GIT_SSH_COMMAND: \"touch /tmp/pwned\"}}\n",
      "deploy.yaml:9: hook.env: GIT_SSH_COMMAND changes how a program is loaded or run (git "
      "runs commands and reads config from GIT_*): a spec may not set it" },
    { "hook env home", HEADER TARGETS "strategy: {rolling: {}}\n"
      "hook: {command: ./hook.sh, env: {HOME: /tmp/evil}}\n",
      "hook.env: HOME changes how a program is loaded or run (shells and tools read their "
      "startup files from it)" },
    { "hook env npm any case", HEADER TARGETS "strategy: {rolling: {}}\n"
      "hook: {command: ./hook.sh, env: {NPM_Config_Script_Shell: /tmp/x}}\n",
      "hook.env: NPM_Config_Script_Shell changes how a program is loaded or run (npm reads its "
      "configuration from npm_config_*)" },
    { "health check command absolute", HEADER TARGETS "strategy: {rolling: {}}\n" HOOK
      "healthChecks:\n  - name: up\n    command: {command: /bin/true}\n",
      "deploy.yaml:12: healthChecks[0].command.command: '/bin/true' is an absolute path: a "
      "command probe names a program in the health actor's hooks directory (--hooks-dir)" },
    { "health check command env", HEADER TARGETS "strategy: {rolling: {}}\n" HOOK
      "healthChecks:\n  - name: up\n    command: {command: up.sh, env: {BASH_ENV: /tmp/x}}\n",
      "deploy.yaml:12: healthChecks[0].command.env: BASH_ENV changes how a program is loaded" },
    { "analysis command absolute", HEADER TARGETS "strategy: {rolling: {}}\n" HOOK
      "analysis:\n  metrics:\n    - name: e\n"
      "      provider: {command: {command: /bin/echo, args: [\"0.01\"]}}\n"
      "      successCondition: \"result < 1\"\n",
      "deploy.yaml:13: analysis.metrics[0].provider.command.command: '/bin/echo' is an absolute "
      "path: a command provider names a program in the analyzer's hooks directory" },
    { "on failure", HEADER TARGETS "strategy: {rolling: {}}\n" HOOK "policy: {onFailure: panic}\n",
      "policy.onFailure: 'panic' is not one of failAll, holdDependents, continue" },
    { "concurrency zero", HEADER TARGETS "strategy: {rolling: {}}\n" HOOK "policy: {maxConcurrency: 0}\n",
      "policy.maxConcurrency: 0 is not in 1..10000" },
    { "concurrency percent", HEADER TARGETS "strategy: {rolling: {}}\n" HOOK "policy: {maxConcurrency: 150%}\n",
      "policy.maxConcurrency: '150%' is not a percentage in 1%..100%" },
    { "max failures", HEADER TARGETS "strategy: {rolling: {}}\n" HOOK "policy: {maxFailures: 5}\n",
      "policy.maxFailures: 5 is more than the 2 targets" },
    { "deadline", HEADER TARGETS "strategy: {rolling: {}}\n" HOOK "policy: {progressDeadline: 10}\n",
      "policy.progressDeadline: '10' is not a duration" },
    { "rollback mode", HEADER TARGETS "strategy: {rolling: {}}\n" HOOK "rollback: {mode: later}\n",
      "rollback.mode: 'later' is not one of immediate, gradual" },
    //  healthChecks and analysis: their services' parsers, at the line of the field.
    { "health checks not a list", HEADER TARGETS "strategy: {rolling: {}}\n" HOOK
      "healthChecks: {name: web}\n", "healthChecks: expected a list, found a map" },
    { "health check placeholder", HEADER TARGETS "strategy: {rolling: {}}\n" HOOK
      "healthChecks:\n  - name: web\n    http:\n      url: \"http://{adress}/\"\n",
      "deploy.yaml:13: healthChecks[0].http.url: {adress} is not a known placeholder" },
    { "health check without probe", HEADER TARGETS "strategy: {rolling: {}}\n" HOOK
      "healthChecks:\n  - name: web\n    period: 1s\n",
      "deploy.yaml:11: healthChecks[0]" },
    { "analysis condition", HEADER TARGETS "strategy: {rolling: {}}\n" HOOK
      "analysis:\n  metrics:\n    - name: e\n"
      "      provider: {prometheus: {address: \"http://p\", query: up}}\n"
      "      successCondition: \"result <\"\n",
      "deploy.yaml:14: analysis.metrics[0].successCondition: column 9:" },
    { "analysis limit", HEADER TARGETS "strategy: {rolling: {}}\n" HOOK
      "analysis:\n  metrics:\n    - name: e\n"
      "      provider: {prometheus: {address: \"http://p\", query: up}}\n"
      "      successCondition: \"result < 1\"\n      failureLimit: -1\n",
      "deploy.yaml:15: analysis.metrics[0].failureLimit:" },
    { "analysis nested too deep", HEADER TARGETS "strategy: {rolling: {}}\n" HOOK
      "analysis: {a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}\n",
      "nests deeper than 32 levels" },
};

static void
test_spec_reports_every_error_class (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof s_error_cases / sizeof s_error_cases [0]; i++) {
        print_message ("case: %s\n", s_error_cases [i].name);
        s_assert_error (s_error_cases [i].yaml, s_error_cases [i].expected);
    }
}

static void
test_spec_reports_several_errors_at_once (void **state)
{
    (void) state;
    const char *yaml = HEADER
        "targets:\n  - {name: a, colour: red}\n"
        "strategy: {canary: {steps: [setWeight: 140]}}\n"
        "hook: {command: x, retries: many}\n";
    flot_spec_errors_t errors;
    assert_null (s_parse (yaml, &errors));
    assert_int_equal (errors.count, 3);
    flot_spec_errors_clear (&errors);
}

//  The sections go to their services as msgpack, plain scalars typed.
static void
test_spec_sections_as_msgpack (void **state)
{
    (void) state;
    const char *yaml = HEADER TARGETS "strategy: {rolling: {}}\n" HOOK
        "healthChecks:\n  - name: web\n    tcp: {address: \"{address}\"}\n"
        "    failureThreshold: 2\n    period: 500ms\n"
        "analysis:\n  passScore: 90.5\n  background: false\n  metrics:\n    - name: e\n"
        "      provider: {prometheus: {address: \"http://p\", query: \"7\"}}\n"
        "      successCondition: \"result < 1\"\n";
    flot_spec_errors_t errors;
    flot_spec_t *spec = s_parse (yaml, &errors);
    assert_non_null (spec);
    assert_non_null (spec->checks.health);
    assert_non_null (spec->checks.analysis);
    flot_err_t err;
    flot_body_t *health = flot_body_decode (spec->checks.health, spec->checks.health_size, &err);
    assert_null (health);         //  a list is not a body (a map)...
    assert_int_equal (flot_body_check (spec->checks.health, spec->checks.health_size, false, &err), 0);
    flot_body_t *analysis = flot_body_decode (spec->checks.analysis, spec->checks.analysis_size, &err);
    assert_non_null (analysis);   //  ...an analysis is
    const msgpack_object *root = flot_body_root (analysis);
    double score = 0;
    bool background = true;
    assert_int_equal (flot_map_double (root, "passScore", true, &score, &err), 1);
    assert_true (score == 90.5);
    assert_int_equal (flot_map_bool (root, "background", true, &background, &err), 1);
    assert_false (background);
    const msgpack_object *metrics = flot_map_get (root, "metrics");
    assert_non_null (metrics);
    const msgpack_object *provider = flot_map_get (flot_map_get (&metrics->via.array.ptr [0],
                                                                 "provider"), "prometheus");
    //  Quoted, "7" stays a string.
    assert_int_equal (flot_map_get (provider, "query")->type, MSGPACK_OBJECT_STR);
    flot_body_destroy (&analysis);
    flot_spec_destroy (&spec);
    //  Without the sections, there is nothing.
    spec = s_parse (HEADER TARGETS "strategy: {rolling: {}}\n" HOOK, &errors);
    assert_non_null (spec);
    assert_null (spec->checks.health);
    assert_null (spec->checks.analysis);
    flot_spec_destroy (&spec);
}

static void
test_spec_rejects_oversize_text (void **state)
{
    (void) state;
    size_t size = FLOT_SPEC_MAX_SIZE + 1;
    char *text = malloc (size);
    memset (text, '#', size);
    flot_spec_errors_t errors;
    assert_null (flot_spec_parse (text, size, "big.yaml", &errors));
    assert_non_null (strstr (errors.lines [0], "is over the limit"));
    flot_spec_errors_clear (&errors);
    free (text);
}

static void
test_spec_durations (void **state)
{
    (void) state;
    int64_t ms;
    assert_int_equal (flot_duration_parse ("250ms", &ms), 0);
    assert_int_equal (ms, 250);
    assert_int_equal (flot_duration_parse ("1h2m3s4ms", &ms), 0);
    assert_int_equal (ms, 3723004);
    assert_int_equal (flot_duration_parse ("", &ms), -1);
    assert_int_equal (flot_duration_parse ("5", &ms), -1);
    assert_int_equal (flot_duration_parse ("5d", &ms), -1);
    assert_int_equal (flot_duration_parse ("-5s", &ms), -1);
    assert_int_equal (flot_duration_parse ("99999999999h", &ms), -1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_spec_accepts_a_full_canary),
        cmocka_unit_test (test_spec_defaults),
        cmocka_unit_test (test_spec_reports_every_error_class),
        cmocka_unit_test (test_spec_reports_several_errors_at_once),
        cmocka_unit_test (test_spec_sections_as_msgpack),
        cmocka_unit_test (test_spec_rejects_oversize_text),
        cmocka_unit_test (test_spec_durations),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
