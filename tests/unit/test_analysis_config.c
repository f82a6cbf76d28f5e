/*  test_analysis_config.c - the analysis section from msgpack
    (common/analysis_section.c): defaults, every field, and errors that
    name their path.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "flotilla/analysis_section.h"
#include "flotilla/json.h"

//  Parses the JSON text as the analysis section (via msgpack, as the
//  coordinator sends it). Returns the analysis or NULL with err.
static flot_analysis_t *
s_parse (const char *json, flot_err_t *err)
{
    json_error_t jerr;
    json_t *value = json_loads (json, 0, &jerr);
    if (!value)
        fail_msg ("bad JSON in the test: %s: %s", jerr.text, json);
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    assert_int_equal (flot_json_pack (&pk, value), 0);
    json_decref (value);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    size_t offset = 0;
    assert_int_equal (msgpack_unpack_next (&unpacked, sbuf.data, sbuf.size, &offset),
                      MSGPACK_UNPACK_SUCCESS);
    memset (err, 0, sizeof *err);
    flot_analysis_t *analysis = flot_analysis_parse (&unpacked.data, "analysis", err);
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&sbuf);
    return analysis;
}

static void
s_expect_error (const char *json, const char *message)
{
    flot_err_t err;
    flot_analysis_t *analysis = s_parse (json, &err);
    if (analysis) {
        flot_analysis_destroy (&analysis);
        fail_msg ("parsed, but should fail with '%s': %s", message, json);
    }
    assert_int_equal (err.code, FLOT_E_INVALID);
    if (!strstr (err.message, message))
        fail_msg ("expected '%s', got '%s'", message, err.message);
}

#define PROM "{\"prometheus\": {\"address\": \"http://127.0.0.1:9090\", \"query\": \"up\"}}"

static void
test_analysis_config_defaults (void **state)
{
    (void) state;
    flot_err_t err;
    flot_analysis_t *a = s_parse ("{\"metrics\": [{\"name\": \"errors\", \"provider\": " PROM
                                  ", \"successCondition\": \"result < 1\"}]}", &err);
    assert_non_null (a);
    assert_int_equal (a->interval_ms, 10000);
    assert_true (a->pass_score == 95 && a->marginal_score == 75);
    assert_false (a->background);
    assert_int_equal (a->metric_count, 1);
    const flot_analysis_metric_t *m = &a->metrics [0];
    assert_string_equal (m->name, "errors");
    assert_false (m->is_judge);
    assert_non_null (m->success);
    assert_null (m->failure);
    //  Argo's defaults: count 1, failureLimit 0, inconclusiveLimit 0,
    //  consecutiveErrorLimit 4; the analysis' interval.
    assert_int_equal (m->limits.count, 1);
    assert_int_equal (m->limits.failure_limit, 0);
    assert_int_equal (m->limits.inconclusive_limit, 0);
    assert_int_equal (m->limits.consecutive_error_limit, 4);
    assert_int_equal (m->interval_ms, 10000);
    assert_int_equal (m->initial_delay_ms, 0);
    assert_int_equal (m->provider.kind, FLOT_PROVIDER_PROMETHEUS);
    assert_int_equal (m->provider.range_ms, 0);
    flot_analysis_destroy (&a);
    assert_null (a);
}

static void
test_analysis_config_every_field (void **state)
{
    (void) state;
    flot_err_t err;
    flot_analysis_t *a = s_parse (
        "{\"interval\": \"2s\", \"passScore\": 90, \"marginalScore\": 60.5,"
        " \"groups\": {\"latency\": 2, \"errors\": 1}, \"background\": true,"
        " \"metrics\": ["
        "  {\"name\": \"error-rate\", \"provider\": {\"prometheus\": {\"address\": \"http://p:9090/\","
        "     \"query\": \"sum(rate(e{target=\\\"{target}\\\"}[1m]))\", \"range\": \"1m\", \"step\": 5000}},"
        "   \"successCondition\": \"result < 0.05\", \"failureCondition\": \"result >= 0.10\","
        "   \"interval\": 250, \"count\": 3, \"initialDelay\": \"1m30s\", \"failureLimit\": 2,"
        "   \"inconclusiveLimit\": 1, \"consecutiveErrorLimit\": 0},"
        "  {\"name\": \"latency\", \"provider\": {\"command\": {\"command\": \"./lat.sh\","
        "     \"args\": [\"{target}\", \"{role}\", \"\"], \"timeout\": \"3s\"}},"
        "   \"judge\": {\"mode\": \"kayenta\", \"direction\": \"either\", \"margin\": 0.2,"
        "     \"confidence\": 0.95, \"tolerance\": 0.3, \"effectSize\": 1.5, \"critical\": true,"
        "     \"mustHaveData\": true, \"group\": \"latency\"}, \"count\": 4},"
        "  {\"name\": \"pushed\", \"provider\": {\"pushed\": {\"metric\": \"lat\"}}, \"judge\": {}}"
        "]}", &err);
    if (!a)
        fail_msg ("%s", err.message);
    assert_int_equal (a->interval_ms, 2000);
    assert_true (a->pass_score == 90 && a->marginal_score == 60.5);
    assert_true (a->background);
    assert_int_equal (a->group_count, 2);
    const flot_analysis_metric_t *m = &a->metrics [0];
    assert_int_equal (m->interval_ms, 250);
    assert_int_equal (m->initial_delay_ms, 90000);
    assert_int_equal (m->limits.count, 3);
    assert_int_equal (m->limits.failure_limit, 2);
    assert_int_equal (m->limits.inconclusive_limit, 1);
    assert_int_equal (m->limits.consecutive_error_limit, 0);
    assert_int_equal (m->provider.range_ms, 60000);
    assert_int_equal (m->provider.step_ms, 5000);
    assert_string_equal (flot_condition_text (m->failure), "result >= 0.10");
    m = &a->metrics [1];
    assert_true (m->is_judge);
    assert_int_equal (m->interval_ms, 2000);       //  the analysis' interval
    assert_int_equal (m->provider.kind, FLOT_PROVIDER_COMMAND);
    assert_int_equal (m->provider.arg_count, 3);
    assert_string_equal (m->provider.args [1], "{role}");
    assert_int_equal (m->provider.timeout_ms, 3000);
    assert_int_equal (m->judge.mode, FLOT_JUDGE_KAYENTA);
    assert_int_equal (m->judge.direction, FLOT_DIRECTION_EITHER);
    assert_true (m->judge.margin == 0.2 && m->judge.confidence == 0.95);
    assert_true (m->judge.tolerance == 0.3 && m->judge.effect_size == 1.5);
    assert_true (m->judge.critical && m->judge.must_have_data);
    assert_string_equal (m->judge.group, "latency");
    assert_string_equal (m->judge.name, "latency");
    m = &a->metrics [2];
    assert_int_equal (m->provider.kind, FLOT_PROVIDER_PUSHED);
    assert_string_equal (m->provider.metric, "lat");
    //  judge defaults
    assert_int_equal (m->judge.mode, FLOT_JUDGE_NONINFERIORITY);
    assert_int_equal (m->judge.direction, FLOT_DIRECTION_INCREASE);
    assert_true (m->judge.confidence == 0.98 && m->judge.margin == 0.10);
    flot_analysis_destroy (&a);
}

#define M0 "{\"metrics\": [{\"name\": \"m\", \"provider\": " PROM ", "

static void
test_analysis_config_errors_name_the_path (void **state)
{
    (void) state;
    s_expect_error (M0 "\"successCondition\": \"result < 1\", \"failureLimit\": -1}]}",
                    "analysis.metrics[0].failureLimit: -1 is not >= 0");
    s_expect_error ("{\"metrics\": [{\"name\": \"a\", \"provider\": " PROM ", \"successCondition\": \"true\"},"
                    " {\"name\": \"b\", \"provider\": " PROM ", \"successCondition\": \"true\", "
                    "\"inconclusiveLimit\": \"x\"}]}",
                    "analysis.metrics[1].inconclusiveLimit: expected an integer, not a string");
    s_expect_error (M0 "\"successCondition\": \"result <\"}]}",
                    "analysis.metrics[0].successCondition: column 9: the expression ends");
    s_expect_error (M0 "\"successCondition\": \"true\", \"colour\": 1}]}",
                    "analysis.metrics[0].colour: unknown field");
    s_expect_error (M0 "\"successCondition\": \"true\", \"interval\": \"soon\"}]}",
                    "analysis.metrics[0].interval: 'soon' is not a duration");
    s_expect_error (M0 "\"successCondition\": \"true\", \"interval\": 0}]}",
                    "analysis.metrics[0].interval: 0 ms is not >= 1 ms");
    s_expect_error (M0 "\"successCondition\": \"true\", \"count\": 0}]}",
                    "analysis.metrics[0].count: 0 is not >= 1");
    s_expect_error (M0 "\"successCondition\": \"true\", \"judge\": {}}]}",
                    "analysis.metrics[0]: a metric has either conditions or a judge, not both");
    s_expect_error (M0 "\"count\": 2}]}",
                    "analysis.metrics[0]: needs successCondition, failureCondition, or a judge");
    s_expect_error (M0 "\"judge\": {\"confidence\": 1}}]}",
                    "analysis.metrics[0].judge.confidence: 1 is not < 1");
    s_expect_error (M0 "\"judge\": {\"effectSize\": 0.5}}]}",
                    "analysis.metrics[0].judge.effectSize: 0.5 is not >= 1");
    s_expect_error (M0 "\"judge\": {\"direction\": \"up\"}}]}",
                    "analysis.metrics[0].judge.direction: 'up' is not increase, decrease or either");
    s_expect_error (M0 "\"judge\": {}, \"failureLimit\": 1}]}",
                    "analysis.metrics[0]: failureLimit applies to threshold metrics, not to a judge");
    s_expect_error ("{\"metrics\": [{\"name\": \"m\", \"provider\": {\"prometheus\": {\"address\": "
                    "\"ftp://x\", \"query\": \"up\"}}, \"successCondition\": \"true\"}]}",
                    "analysis.metrics[0].provider.prometheus.address: 'ftp://x' is not an http");
    s_expect_error ("{\"metrics\": [{\"name\": \"m\", \"provider\": {\"prometheus\": {\"address\": "
                    "\"http://x\", \"query\": \"up{target=\\\"{targte}\\\"}\"}}, \"successCondition\": \"true\"}]}",
                    "analysis.metrics[0].provider.prometheus.query: ");
    s_expect_error ("{\"metrics\": [{\"name\": \"m\", \"provider\": {\"prometheus\": {\"address\": "
                    "\"http://x\"}}, \"successCondition\": \"true\"}]}",
                    "analysis.metrics[0].provider.prometheus: query is required");
    s_expect_error ("{\"metrics\": [{\"name\": \"m\", \"provider\": {\"graphite\": {}}, "
                    "\"successCondition\": \"true\"}]}",
                    "analysis.metrics[0].provider.graphite: unknown provider");
    s_expect_error ("{\"metrics\": [{\"name\": \"m\", \"provider\": {\"pushed\": {\"metric\": \"a\"}, "
                    "\"command\": {\"command\": \"x\"}}, \"successCondition\": \"true\"}]}",
                    "analysis.metrics[0].provider: expected exactly one of prometheus, command, pushed");
    s_expect_error ("{\"metrics\": [{\"name\": \"m\", \"provider\": {\"command\": {\"command\": \"x\", "
                    "\"args\": [1]}}, \"successCondition\": \"true\"}]}",
                    "analysis.metrics[0].provider.command.args[0]: expected a string, not an integer");
    //  A command names a program in the analyzer's hooks directory, literally.
    s_expect_error ("{\"metrics\": [{\"name\": \"m\", \"provider\": {\"command\": {\"command\": "
                    "\"/bin/sh\", \"args\": [\"-c\", \"id\"]}}, \"successCondition\": \"true\"}]}",
                    "analysis.metrics[0].provider.command.command: '/bin/sh' is an absolute path: "
                    "a command provider names a program in the analyzer's hooks directory "
                    "(--hooks-dir)");
    s_expect_error ("{\"metrics\": [{\"name\": \"m\", \"provider\": {\"command\": {\"command\": "
                    "\"bin/../../x\"}}, \"successCondition\": \"true\"}]}",
                    "analysis.metrics[0].provider.command.command: 'bin/../../x' leaves the hooks "
                    "directory ('..')");
    s_expect_error ("{\"metrics\": [{\"name\": \"m\", \"provider\": {\"command\": {\"command\": "
                    "\"{target}\"}}, \"successCondition\": \"true\"}]}",
                    "analysis.metrics[0].provider.command.command: '{target}' is taken literally "
                    "and holds '{': no template names a program;");
    s_expect_error ("{\"metrics\": [{\"name\": \"m\", \"provider\": " PROM ", \"successCondition\": \"true\"},"
                    " {\"name\": \"m\", \"provider\": " PROM ", \"successCondition\": \"true\"}]}",
                    "analysis.metrics[1]: name: 'm' is already the name of metrics[0]");
    s_expect_error ("{\"metrics\": [{\"provider\": " PROM ", \"successCondition\": \"true\"}]}",
                    "analysis.metrics[0]: name is required");
    s_expect_error ("{\"metrics\": []}", "analysis: metrics: at least one metric is required");
    s_expect_error ("{\"interval\": \"1s\"}", "analysis: metrics: at least one metric is required");
    s_expect_error ("{\"metrics\": {}}", "analysis.metrics: expected a list of metrics, not a map");
    s_expect_error ("{\"passScore\": 101, \"metrics\": []}", "analysis.passScore: 101 is not <= 100");
    s_expect_error ("{\"passScore\": 50, \"marginalScore\": 60, \"metrics\": [{\"name\": \"m\", "
                    "\"provider\": " PROM ", \"judge\": {}}]}",
                    "analysis: marginalScore 60 is above passScore 50");
    s_expect_error ("{\"groups\": {\"a\": -1}, \"metrics\": []}", "analysis.groups.a: -1 is not >= 0");
    s_expect_error ("{\"background\": \"yes\", \"metrics\": []}",
                    "analysis.background: expected true or false, not a string");
    s_expect_error ("{\"metrics\": [{\"name\": \"m\", \"provider\": " PROM ", \"successCondition\": \"true\","
                    " \"initialDelay\": \"48h\"}]}",
                    "analysis.metrics[0].initialDelay: 172800000 ms is longer than a day");
    s_expect_error ("[1, 2]", "analysis: expected a map, not a list");
}

static void
test_analysis_config_provider (void **state)
{
    (void) state;
    //  Parsed alone, for Query.
    json_t *json = json_loads ("{\"command\": {\"command\": \"echo\", \"args\": [\"{target}\"]}}", 0, NULL);
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    flot_json_pack (&pk, json);
    json_decref (json);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    msgpack_unpack_next (&u, sbuf.data, sbuf.size, &off);
    flot_provider_t provider;
    flot_err_t err;
    assert_int_equal (flot_provider_parse (&u.data, "provider", &provider, &err), 0);
    assert_int_equal (provider.kind, FLOT_PROVIDER_COMMAND);
    assert_int_equal (provider.timeout_ms, 10000);
    flot_provider_clear (&provider);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&sbuf);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_analysis_config_defaults),
        cmocka_unit_test (test_analysis_config_every_field),
        cmocka_unit_test (test_analysis_config_errors_name_the_path),
        cmocka_unit_test (test_analysis_config_provider),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
