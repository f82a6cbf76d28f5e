/*  test_analyzer.c - the analyzer actor (actors/analyzer/analyzer.c) through
    a real broker and the real client: Analyze with threshold and judge
    metrics, StartAnalysis/StopAnalysis streams, Query through the command
    provider and a real Prometheus (tests/lib/prometheus_util.c), Push, and
    hostile bodies. Command providers name programs of the analyzer's hooks
    directory (its option "hooks-dir"): the test makes one, in which its
    operator (the test) links sh, sleep, yes and echo, and a script that
    shows its arguments and where it runs; any other command is refused,
    as is every one by an analyzer without a hooks directory or with one
    that others may write to. Ports:
    Prometheus 25910, its fixture server 25510; 25599 is left closed for
    the unreachable-address case.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "world.h"
#include "prometheus_util.h"
#include "analysis.h"
#include "flotilla/json.h"

#define PROM_PORT       25910
#define FIXTURE_PORT    25510
#define CLOSED_PORT     25599

static world_t *s_world;
static prom_fixture_t *s_prom;
static const flot_actor_def_t *s_defs [] = { &flot_analyzer_actor, NULL };
static char s_tmp [64];                 //  the test's temporary directory
static char s_hooks [128];              //  s_tmp/hooks: the analyzer's hooks directory
static zhash_t *s_options;

static void
s_link (const char *target, const char *name)
{
    char path [256];
    snprintf (path, sizeof path, "%s/%s", s_hooks, name);
    assert_int_equal (symlink (target, path), 0);
}

static int
s_setup (void **state)
{
    (void) state;
    snprintf (s_tmp, sizeof s_tmp, "/tmp/flot-analyzer-XXXXXX");
    assert_non_null (mkdtemp (s_tmp));
    snprintf (s_hooks, sizeof s_hooks, "%s/hooks", s_tmp);
    assert_int_equal (mkdir (s_hooks, 0755), 0);
    s_link ("/bin/sh", "sh");
    s_link ("/bin/sleep", "sleep");
    s_link ("/usr/bin/yes", "yes");
    s_link ("/bin/echo", "echo");
    //  args.sh: prints its argument count; leaves its first argument and
    //  where it ran beside the hooks directory.
    char path [256];
    snprintf (path, sizeof path, "%s/args.sh", s_hooks);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "#!/bin/sh\necho $#\nprintf '%%s' \"$1\" > %s/arg1.txt\npwd > %s/cwd.txt\n",
             s_tmp, s_tmp);
    fclose (file);
    assert_int_equal (chmod (path, 0755), 0);
    s_options = zhash_new ();
    zhash_insert (s_options, "hooks-dir", s_hooks);
    s_world = world_start_with (s_defs, s_options);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    world_stop (&s_world);
    zhash_destroy (&s_options);
    char command [128];
    snprintf (command, sizeof command, "rm -rf %s", s_tmp);
    assert_int_equal (system (command), 0);
    return 0;
}

//  Calls the analyzer with a JSON body (text); the reply or NULL with err.
static json_t *
s_call (const char *command, const char *json, flot_err_t *err)
{
    json_error_t jerr;
    json_t *body = json_loads (json, 0, &jerr);
    if (!body)
        fail_msg ("bad JSON in the test: %s: %s", jerr.text, json);
    memset (err, 0, sizeof *err);
    return world_call (s_world, "analyzer", NULL, command, body, err);
}

static json_t *
s_call_ok (const char *command, const char *json)
{
    flot_err_t err;
    json_t *reply = s_call (command, json, &err);
    if (!reply)
        fail_msg ("%s failed: %s %s", command, flot_err_name (err.code), err.message);
    return reply;
}

static void
s_call_fails (const char *command, const char *json, int code, const char *message)
{
    flot_err_t err;
    json_t *reply = s_call (command, json, &err);
    if (reply) {
        char *text = json_dumps (reply, 0);
        fail_msg ("%s should fail with '%s', but answered %s", command, message, text);
    }
    if (err.code != code || !strstr (err.message, message))
        fail_msg ("%s: expected %s '%s', got %s '%s'", command, flot_err_name (code), message,
                  flot_err_name (err.code), err.message);
}

static const char *
s_str (json_t *object, const char *key)
{
    const char *value = json_string_value (json_object_get (object, key));
    if (!value)
        fail_msg ("no string '%s' in the answer", key);
    return value;
}

static json_t *
s_metric (json_t *result, size_t index)
{
    json_t *metric = json_array_get (json_object_get (result, "metrics"), index);
    assert_non_null (metric);
    return metric;
}

static json_int_t
s_int (json_t *object, const char *key)
{
    json_t *value = json_object_get (object, key);
    assert_true (json_is_integer (value));
    return json_integer_value (value);
}

#define CONTEXT "\"context\": {\"target\": \"eu-1\", \"address\": \"10.0.0.1:8080\", \"version\": \"v2\"}"

//  A command metric: sh -c SCRIPT (sh: the link in the hooks directory).
#define SH(script) "{\"command\": {\"command\": \"sh\", \"args\": [\"-c\", \"" script "\"]}}"

//  --------------------------------------------------------------------------
//  Threshold metrics

static void
test_analyzer_threshold_pass_promotes (void **state)
{
    (void) state;
    json_t *result = s_call_ok ("Analyze",
        "{\"analysis\": {\"metrics\": [{\"name\": \"error-rate\", \"provider\": " SH ("echo 0.01")
        ", \"successCondition\": \"result < 0.05\", \"failureCondition\": \"result >= 0.10\","
        " \"count\": 3, \"interval\": \"100ms\"}]}, " CONTEXT "}");
    assert_string_equal (s_str (result, "phase"), "successful");
    assert_string_equal (s_str (result, "recommendation"), "promote");
    assert_true (json_is_true (json_object_get (result, "passed")));
    assert_true (json_is_true (json_object_get (result, "final")));
    assert_true (json_real_value (json_object_get (result, "score")) == -1);
    json_t *metric = s_metric (result, 0);
    assert_string_equal (s_str (metric, "name"), "error-rate");
    assert_string_equal (s_str (metric, "kind"), "threshold");
    assert_string_equal (s_str (metric, "phase"), "successful");
    assert_int_equal (s_int (metric, "measurements"), 3);
    assert_int_equal (s_int (metric, "successful"), 3);
    assert_int_equal (s_int (metric, "failed"), 0);
    assert_true (json_real_value (json_object_get (metric, "value")) == 0.01);
    json_decref (result);
}

static void
test_analyzer_threshold_failure_rolls_back_at_once (void **state)
{
    (void) state;
    int64_t started = zclock_mono ();
    json_t *result = s_call_ok ("Analyze",
        "{\"analysis\": {\"metrics\": ["
        " {\"name\": \"error-rate\", \"provider\": " SH ("echo 0.31")
        ", \"successCondition\": \"result < 0.05\", \"failureCondition\": \"result >= 0.10\","
        " \"count\": 20, \"interval\": \"1s\"},"
        " {\"name\": \"slow\", \"provider\": " SH ("echo 1") ", \"successCondition\": \"result == 1\","
        " \"count\": 20, \"interval\": \"1s\"}]}, " CONTEXT "}");
    //  The first failure, not twenty intervals later.
    assert_true (zclock_mono () - started < 5000);
    assert_string_equal (s_str (result, "phase"), "failed");
    assert_string_equal (s_str (result, "recommendation"), "rollback");
    assert_false (json_is_true (json_object_get (result, "passed")));
    assert_string_equal (s_str (result, "reason"),
        "error-rate: 1 of 1 measurements failed (result >= 0.10: 0.31), failureLimit 0");
    assert_string_equal (s_str (s_metric (result, 0), "phase"), "failed");
    json_decref (result);
}

static void
test_analyzer_threshold_limits_and_inconclusive (void **state)
{
    (void) state;
    //  failureLimit 1 tolerates one failure: the counter script fails on
    //  its first run only, then passes.
    char dir [] = "/tmp/flot-an-XXXXXX";
    assert_non_null (mkdtemp (dir));
    char json [2048];
    snprintf (json, sizeof json,
        "{\"analysis\": {\"metrics\": [{\"name\": \"flaky\", \"provider\": "
        "{\"command\": {\"command\": \"sh\", \"args\": [\"-c\", "
        "\"if [ -e %s/ran ]; then echo 0; else touch %s/ran; echo 5; fi\"]}}"
        ", \"successCondition\": \"result < 1\", \"count\": 3, \"interval\": 50,"
        " \"failureLimit\": 1}]}, " CONTEXT "}", dir, dir);
    json_t *result = s_call_ok ("Analyze", json);
    assert_string_equal (s_str (result, "recommendation"), "promote");
    assert_int_equal (s_int (s_metric (result, 0), "failed"), 1);
    assert_int_equal (s_int (s_metric (result, 0), "successful"), 2);
    json_decref (result);
    char command [128];
    snprintf (command, sizeof command, "rm -rf %s", dir);
    assert_int_equal (system (command), 0);

    //  Neither condition true: inconclusive; past inconclusiveLimit 0, a pause.
    result = s_call_ok ("Analyze",
        "{\"analysis\": {\"metrics\": [{\"name\": \"grey\", \"provider\": " SH ("echo 0.07")
        ", \"successCondition\": \"result < 0.05\", \"failureCondition\": \"result >= 0.10\","
        " \"count\": 2, \"interval\": 50}]}, " CONTEXT "}");
    assert_string_equal (s_str (result, "phase"), "inconclusive");
    assert_string_equal (s_str (result, "recommendation"), "pause");
    assert_non_null (strstr (s_str (result, "reason"), "inconclusiveLimit 0"));
    json_decref (result);
}

static void
test_analyzer_consecutive_errors_end_in_error (void **state)
{
    (void) state;
    //  The provider fails every time: with consecutiveErrorLimit 1 the
    //  second error ends the metric in error, and the run rolls back.
    json_t *result = s_call_ok ("Analyze",
        "{\"analysis\": {\"metrics\": [{\"name\": \"broken\", \"provider\": " SH ("exit 3")
        ", \"successCondition\": \"result < 1\", \"count\": 5, \"interval\": 50,"
        " \"consecutiveErrorLimit\": 1}]}, " CONTEXT "}");
    assert_string_equal (s_str (result, "phase"), "error");
    assert_string_equal (s_str (result, "recommendation"), "rollback");
    json_t *metric = s_metric (result, 0);
    assert_int_equal (s_int (metric, "errors"), 2);
    assert_int_equal (s_int (metric, "consecutive_errors"), 2);
    assert_non_null (strstr (s_str (metric, "message"), "exited with status 3"));
    assert_non_null (strstr (s_str (result, "reason"), "consecutiveErrorLimit 1"));
    json_decref (result);
}

static void
test_analyzer_initial_delay_and_count (void **state)
{
    (void) state;
    int64_t started = zclock_mono ();
    json_t *result = s_call_ok ("Analyze",
        "{\"analysis\": {\"metrics\": [{\"name\": \"later\", \"provider\": " SH ("echo 1")
        ", \"successCondition\": \"result == 1\", \"count\": 3, \"interval\": \"200ms\","
        " \"initialDelay\": \"500ms\"}]}, " CONTEXT "}");
    int64_t took = zclock_mono () - started;
    //  500 ms of delay and two intervals of 200 ms between three measurements.
    assert_true (took >= 900);
    assert_true (took < 5000);
    assert_int_equal (s_int (s_metric (result, 0), "measurements"), 3);
    assert_string_equal (s_str (result, "recommendation"), "promote");
    json_decref (result);
}

//  --------------------------------------------------------------------------
//  The command provider through Query

static void
test_analyzer_query_command (void **state)
{
    (void) state;
    json_t *reply = s_call_ok ("Query",
        "{\"provider\": {\"command\": {\"command\": \"sh\", \"args\": [\"-c\","
        " \"printf '1.5\\\\n\\\\n -2 \\\\n3e2\\\\nNaN\\\\n'\", \"{target}\"]}}, " CONTEXT "}");
    json_t *values = json_object_get (reply, "values");
    assert_int_equal (json_array_size (values), 4);
    assert_true (json_number_value (json_array_get (values, 0)) == 1.5);
    assert_true (json_number_value (json_array_get (values, 1)) == -2);
    assert_true (json_number_value (json_array_get (values, 2)) == 300);
    //  NaN travels as a msgpack double; JSON shows it as null.
    assert_true (json_is_null (json_array_get (values, 3)));
    //  The expanded command line.
    assert_non_null (strstr (s_str (reply, "query"), " eu-1"));
    json_decref (reply);

    s_call_fails ("Query", "{\"provider\": " SH ("echo 1; echo many") ", " CONTEXT "}",
                  FLOT_E_INTERNAL, "line 2: 'many' is not a number");
    s_call_fails ("Query", "{\"provider\": {\"command\": {\"command\": \"./sleep\","
                  " \"args\": [\"5\"], \"timeout\": \"300ms\"}}, " CONTEXT "}",
                  FLOT_E_INTERNAL, "no answer within 300 ms; killed");
    s_call_fails ("Query", "{\"provider\": " SH ("exit 4") ", " CONTEXT "}",
                  FLOT_E_INTERNAL, "exited with status 4");
    //  A command that never stops writing is killed past 1 MiB, and the
    //  actor answers (its loop was never held).
    s_call_fails ("Query", "{\"provider\": {\"command\": {\"command\": \"yes\","
                  " \"args\": [\"1\"], \"timeout\": \"20s\"}}, " CONTEXT "}",
                  FLOT_E_INTERNAL, "more than 1048576 bytes of output; killed");
    s_call_fails ("Query", "{\"provider\": {\"command\": {\"command\": \"no-such-command\"}}, "
                  CONTEXT "}", FLOT_E_INVALID, "provider: command provider 'no-such-command' is "
                  "not in the analyzer's hooks directory");
    //  A template the context cannot fill.
    s_call_fails ("Query", "{\"provider\": {\"command\": {\"command\": \"echo\", \"args\":"
                  " [\"{previousVersion}\"]}}, " CONTEXT "}", FLOT_E_INVALID, "previousVersion");
}

//  Only programs of the hooks directory run, there; each argument template
//  fills one argument, whatever it holds; a command is never a template.
static void
test_analyzer_command_provider_runs_only_the_hooks_directory (void **state)
{
    (void) state;
    char pwned [128], json [1024], text [512];
    snprintf (pwned, sizeof pwned, "%s/pwned", s_tmp);
    snprintf (json, sizeof json, "{\"provider\": {\"command\": {\"command\": \"args.sh\", "
              "\"args\": [\"{label.note}\"]}}, \"context\": {\"target\": \"eu-1\", \"labels\": "
              "{\"note\": \"a  b; touch %s $(touch %s)\"}}}", pwned, pwned);
    json_t *reply = s_call_ok ("Query", json);
    json_t *values = json_object_get (reply, "values");
    assert_int_equal (json_array_size (values), 1);
    assert_true (json_number_value (json_array_get (values, 0)) == 1);
    json_decref (reply);
    snprintf (json, sizeof json, "%s/arg1.txt", s_tmp);
    FILE *file = fopen (json, "r");
    assert_non_null (file);
    size_t got = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text [got] = 0;
    snprintf (json, sizeof json, "a  b; touch %s $(touch %s)", pwned, pwned);
    assert_string_equal (text, json);
    snprintf (json, sizeof json, "%s/cwd.txt", s_tmp);
    file = fopen (json, "r");
    assert_non_null (file);
    got = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text [got] = 0;
    snprintf (json, sizeof json, "%s\n", s_hooks);
    assert_string_equal (text, json);
    assert_int_equal (access (pwned, F_OK), -1);

    const char *tail = "a command provider names a program in the analyzer's hooks directory "
                       "(--hooks-dir)";
    char expected [400];
    snprintf (json, sizeof json, "{\"provider\": {\"command\": {\"command\": \"/bin/sh\", "
              "\"args\": [\"-c\", \"touch %s\"]}}, " CONTEXT "}", pwned);
    snprintf (expected, sizeof expected, "provider.command.command: '/bin/sh' is an absolute "
              "path: %s", tail);
    s_call_fails ("Query", json, FLOT_E_INVALID, expected);
    snprintf (expected, sizeof expected, "provider.command.command: '../hooks/sh' leaves the "
              "hooks directory ('..'): %s", tail);
    s_call_fails ("Query", "{\"provider\": {\"command\": {\"command\": \"../hooks/sh\"}}, "
                  CONTEXT "}", FLOT_E_INVALID, expected);
    s_call_fails ("Query", "{\"provider\": {\"command\": {\"command\": \"{target}\"}}, "
                  CONTEXT "}", FLOT_E_INVALID, "provider.command.command: '{target}' is taken "
                  "literally and holds '{': no template names a program;");
    //  Analyze: refused before any measurement, naming the metric.
    snprintf (expected, sizeof expected, "analysis.metrics[0].provider.command.command: "
              "'/bin/sh' is an absolute path: %s", tail);
    s_call_fails ("Analyze", "{\"analysis\": {\"metrics\": [{\"name\": \"m\", \"provider\": "
                  "{\"command\": {\"command\": \"/bin/sh\"}}, \"successCondition\": \"result < 1\","
                  " \"count\": 1}]}, " CONTEXT "}", FLOT_E_INVALID, expected);
    snprintf (expected, sizeof expected, "analysis.metrics[1].provider: command provider "
              "'missing.sh' is not in the analyzer's hooks directory %s (No such file or "
              "directory)", s_hooks);
    s_call_fails ("StartAnalysis", "{\"analysis\": {\"metrics\": [{\"name\": \"a\", \"provider\": "
                  SH ("echo 0") ", \"successCondition\": \"result < 1\", \"count\": 1}, "
                  "{\"name\": \"m\", \"provider\": {\"command\": {\"command\": \"missing.sh\"}}, "
                  "\"successCondition\": \"result < 1\", \"count\": 1}]}, " CONTEXT "}",
                  FLOT_E_INVALID, expected);
    assert_int_equal (access (pwned, F_OK), -1);

    //  A hooks directory others may write to runs nothing, until it is fixed.
    assert_int_equal (chmod (s_hooks, 0777), 0);
    snprintf (expected, sizeof expected, "provider: command provider 'sh': the analyzer's "
              "hooks directory %s cannot be used: it is writable by its group and others "
              "(mode 0777): whoever can write to it chooses what runs (chmod go-w)", s_hooks);
    s_call_fails ("Query", "{\"provider\": " SH ("echo 1") ", " CONTEXT "}", FLOT_E_INVALID,
                  expected);
    assert_int_equal (chmod (s_hooks, 0755), 0);
    json_decref (s_call_ok ("Query", "{\"provider\": " SH ("echo 1") ", " CONTEXT "}"));

    //  Without a hooks directory, no command at all.
    world_t *world = s_world;
    s_world = world_start (s_defs);
    const char *none = "this analyzer has no hooks directory (flotillad --hooks-dir): it runs "
                       "no command provider";
    snprintf (expected, sizeof expected, "provider: %s", none);
    s_call_fails ("Query", "{\"provider\": " SH ("echo 1") ", " CONTEXT "}", FLOT_E_INVALID,
                  expected);
    snprintf (expected, sizeof expected, "analysis.metrics[0].provider: %s", none);
    s_call_fails ("Analyze", "{\"analysis\": {\"metrics\": [{\"name\": \"m\", \"provider\": "
                  SH ("echo 0") ", \"successCondition\": \"result < 1\", \"count\": 1}]}, "
                  CONTEXT "}", FLOT_E_INVALID, expected);
    world_stop (&s_world);
    s_world = world;
}

//  --------------------------------------------------------------------------
//  Judge metrics over pushed samples

//  Pushes n samples around mean (deterministic noise of +-spread).
static void
s_push (const char *metric, const char *role, size_t n, double mean, double spread,
        unsigned seed)
{
    json_t *values = json_array ();
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        double noise = ((double) ((seed >> 8) % 10001) / 5000.0 - 1.0) * spread;
        json_array_append_new (values, json_real (mean + noise));
    }
    json_t *body = json_pack ("{s:s, s:s, s:s, s:o}", "metric", metric, "target", "eu-1",
                              "role", role, "values", values);
    flot_err_t err;
    json_t *reply = world_call (s_world, "analyzer", NULL, "Push", body, &err);
    if (!reply)
        fail_msg ("Push: %s", err.message);
    assert_int_equal (s_int (reply, "stored"), (json_int_t) n);
    json_decref (reply);
}

static json_t *
s_judge_analysis (const char *metric, const char *extra)
{
    char json [2048];
    snprintf (json, sizeof json,
        "{\"analysis\": {\"metrics\": [{\"name\": \"latency\", \"provider\": {\"pushed\": "
        "{\"metric\": \"%s\"}}, \"judge\": {\"margin\": 0.10 %s}, \"count\": 2,"
        " \"interval\": \"100ms\"}]}, " CONTEXT "}", metric, extra);
    return s_call_ok ("Analyze", json);
}

static void
test_analyzer_judge_good_canary_promotes (void **state)
{
    (void) state;
    s_push ("lat-good", "baseline", 300, 100, 5, 1);
    s_push ("lat-good", "canary", 300, 100, 5, 2);
    json_t *result = s_judge_analysis ("lat-good", "");
    assert_string_equal (s_str (result, "recommendation"), "promote");
    assert_string_equal (s_str (result, "phase"), "successful");
    assert_true (json_real_value (json_object_get (result, "score")) == 100);
    json_t *metric = s_metric (result, 0);
    assert_string_equal (s_str (metric, "kind"), "judge");
    assert_string_equal (s_str (metric, "class"), "pass");
    assert_int_equal (s_int (metric, "canary_samples"), 300);
    assert_int_equal (s_int (metric, "baseline_samples"), 300);
    double high = json_real_value (json_object_get (metric, "ci_high"));
    double margin = json_real_value (json_object_get (metric, "margin"));
    assert_true (high <= margin && margin > 9 && margin < 11);
    json_decref (result);
}

static void
test_analyzer_judge_bad_canary_rolls_back (void **state)
{
    (void) state;
    s_push ("lat-bad", "baseline", 300, 100, 5, 3);
    s_push ("lat-bad", "canary", 300, 130, 5, 4);
    int64_t started = zclock_mono ();
    json_t *result = s_judge_analysis ("lat-bad", "");
    assert_string_equal (s_str (result, "recommendation"), "rollback");
    assert_string_equal (s_str (result, "phase"), "failed");
    assert_true (json_real_value (json_object_get (result, "score")) == 0);
    json_t *metric = s_metric (result, 0);
    assert_string_equal (s_str (metric, "class"), "high");
    //  Early stop: after the first interval, before the second.
    assert_int_equal (s_int (metric, "measurements"), 1);
    assert_true (json_real_value (json_object_get (metric, "ci_low")) > 20);
    assert_non_null (strstr (s_str (result, "reason"), "marginalScore"));
    (void) started;
    json_decref (result);
}

static void
test_analyzer_judge_inconclusive_pauses (void **state)
{
    (void) state;
    //  A shift right at the margin (10% of 100): the interval straddles it.
    s_push ("lat-grey", "baseline", 300, 100, 5, 5);
    s_push ("lat-grey", "canary", 300, 110, 5, 6);
    json_t *result = s_judge_analysis ("lat-grey", "");
    assert_string_equal (s_str (s_metric (result, 0), "class"), "inconclusive");
    assert_string_equal (s_str (result, "recommendation"), "pause");
    assert_string_equal (s_str (result, "phase"), "inconclusive");
    assert_int_equal (s_int (s_metric (result, 0), "measurements"), 2);
    json_decref (result);
    //  No samples at all: nodata, and as Kayenta, a canary whose metrics
    //  are half or more without data scores 0: a rollback.
    result = s_judge_analysis ("lat-none", "");
    assert_string_equal (s_str (s_metric (result, 0), "class"), "nodata");
    assert_string_equal (s_str (result, "recommendation"), "rollback");
    assert_true (json_real_value (json_object_get (result, "score")) == 0);
    json_decref (result);
    //  A critical metric that must have data and has none names itself.
    result = s_judge_analysis ("lat-none", ", \"mustHaveData\": true, \"critical\": true");
    assert_string_equal (s_str (result, "recommendation"), "rollback");
    assert_non_null (strstr (s_str (result, "reason"), "latency (critical)"));
    json_decref (result);
}

//  --------------------------------------------------------------------------
//  Streams

static void
s_pack_json (const char *json, msgpack_sbuffer *sbuf)
{
    json_t *value = json_loads (json, 0, NULL);
    assert_non_null (value);
    msgpack_packer pk;
    msgpack_sbuffer_init (sbuf);
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    assert_int_equal (flot_json_pack (&pk, value), 0);
    json_decref (value);
}

static json_t *
s_reply_json (flot_reply_t *reply)
{
    flot_err_t err;
    flot_body_t *body = flot_body_decode (zframe_data (reply->body), zframe_size (reply->body), &err);
    assert_non_null (body);
    json_t *json = flot_json_from_msgpack (flot_body_root (body));
    flot_body_destroy (&body);
    return json;
}

static void
test_analyzer_stream_per_interval (void **state)
{
    (void) state;
    flot_client_t *client = world_client (s_world);
    msgpack_sbuffer sbuf;
    s_pack_json ("{\"analysis\": {\"metrics\": [{\"name\": \"m\", \"provider\": " SH ("echo 1")
                 ", \"successCondition\": \"result == 1\", \"count\": 3, \"interval\": 100}]}, "
                 CONTEXT "}", &sbuf);
    flot_err_t err;
    uint64_t corr = flot_client_send (client, "analyzer", NULL, "StartAnalysis",
                                      sbuf.data, sbuf.size, 10000, &err);
    msgpack_sbuffer_destroy (&sbuf);
    assert_true (corr > 0);
    int interim = 0;
    bool opened = false, ended = false;
    while (!ended) {
        flot_reply_t reply;
        assert_int_equal (flot_client_recv (client, &reply, 5000, &err), 0);
        assert_int_equal (reply.corr, corr);
        json_t *json = s_reply_json (&reply);
        if (reply.kind == FLOT_REPLY) {
            assert_true (s_int (json, "stream") > 0);
            opened = true;
        }
        else
        if (reply.kind == FLOT_STREAM) {
            assert_true (opened);
            assert_false (json_is_true (json_object_get (json, "final")));
            assert_string_equal (s_str (json, "recommendation"), "continue");
            assert_int_equal (s_int (s_metric (json, 0), "measurements"), ++interim);
        }
        else {
            assert_int_equal (reply.kind, FLOT_STREAM_END);
            assert_true (json_is_true (json_object_get (json, "final")));
            assert_string_equal (s_str (json, "recommendation"), "promote");
            assert_int_equal (s_int (s_metric (json, 0), "measurements"), 3);
            ended = true;
        }
        json_decref (json);
        flot_reply_clear (&reply);
    }
    //  One RESULT after each of the first two measurements, the last one final.
    assert_int_equal (interim, 2);
}

static void
test_analyzer_stop_analysis (void **state)
{
    (void) state;
    flot_client_t *client = world_client (s_world);
    msgpack_sbuffer sbuf;
    s_pack_json ("{\"analysis\": {\"metrics\": [{\"name\": \"m\", \"provider\": " SH ("echo 1")
                 ", \"successCondition\": \"result == 1\", \"count\": 1000, \"interval\": 100}]}, "
                 CONTEXT "}", &sbuf);
    flot_err_t err;
    uint64_t corr = flot_client_send (client, "analyzer", NULL, "StartAnalysis",
                                      sbuf.data, sbuf.size, 10000, &err);
    msgpack_sbuffer_destroy (&sbuf);
    flot_reply_t reply;
    assert_int_equal (flot_client_recv (client, &reply, 5000, &err), 0);
    assert_int_equal (reply.kind, FLOT_REPLY);
    json_t *json = s_reply_json (&reply);
    json_int_t stream = s_int (json, "stream");
    json_decref (json);
    flot_reply_clear (&reply);
    //  One interim RESULT, then stop.
    assert_int_equal (flot_client_recv (client, &reply, 5000, &err), 0);
    assert_int_equal (reply.kind, FLOT_STREAM);
    flot_reply_clear (&reply);
    char body [64];
    snprintf (body, sizeof body, "{\"stream\": %lld}", (long long) stream);
    s_pack_json (body, &sbuf);
    uint64_t stop = flot_client_send (client, "analyzer", NULL, "StopAnalysis",
                                      sbuf.data, sbuf.size, 5000, &err);
    msgpack_sbuffer_destroy (&sbuf);
    bool stopped = false, ended = false;
    while (!stopped || !ended) {
        assert_int_equal (flot_client_recv (client, &reply, 5000, &err), 0);
        json = s_reply_json (&reply);
        if (reply.corr == stop) {
            assert_int_equal (reply.kind, FLOT_REPLY);
            assert_true (json_is_true (json_object_get (json, "stopped")));
            stopped = true;
        }
        else
        if (reply.kind == FLOT_STREAM_END) {
            assert_int_equal (reply.corr, corr);
            assert_true (json_is_true (json_object_get (json, "final")));
            assert_non_null (strstr (s_str (json, "reason"), "stopped"));
            assert_true (s_int (s_metric (json, 0), "measurements") < 1000);
            ended = true;
        }
        json_decref (json);
        flot_reply_clear (&reply);
    }
    //  It is gone: stopping it again finds nothing.
    s_call_fails ("StopAnalysis", body, FLOT_E_NOT_FOUND, "no analysis stream");
}

//  --------------------------------------------------------------------------
//  Hostile bodies

static void
test_analyzer_rejects_bad_bodies (void **state)
{
    (void) state;
    s_call_fails ("Analyze", "{}", FLOT_E_INVALID, "analysis");
    s_call_fails ("Analyze", "{\"analysis\": \"all of it\", " CONTEXT "}", FLOT_E_INVALID, "analysis");
    s_call_fails ("Analyze", "{\"analysis\": {\"metrics\": [{\"name\": \"m\", \"provider\": "
                  SH ("echo 1") ", \"successCondition\": \"true\", \"failureLimit\": -1}]}, "
                  CONTEXT "}", FLOT_E_INVALID, "analysis.metrics[0].failureLimit: -1 is not >= 0");
    s_call_fails ("Analyze", "{\"analysis\": {\"metrics\": [{\"name\": \"m\", \"provider\": "
                  SH ("echo 1") ", \"successCondition\": \"true\"}]}, \"context\": {}}",
                  FLOT_E_INVALID, "field 'context.target' is required");
    s_call_fails ("Analyze", "{\"analysis\": {\"metrics\": [{\"name\": \"m\", \"provider\": "
                  SH ("echo 1") ", \"successCondition\": \"true\"}]}, " CONTEXT
                  ", \"baseline\": {\"target\": 7}}", FLOT_E_INVALID, "baseline.target");
    s_call_fails ("StartAnalysis", "{\"analysis\": {\"metrics\": [{\"name\": \"m\", \"provider\": "
                  SH ("echo 1") ", \"successCondition\": \"((((\"}]}, " CONTEXT "}",
                  FLOT_E_INVALID, "analysis.metrics[0].successCondition: column 5");
    s_call_fails ("StopAnalysis", "{\"stream\": \"one\"}", FLOT_E_INVALID, "stream");
    s_call_fails ("Push", "{\"metric\": \"m\", \"values\": [1, \"two\"]}", FLOT_E_INVALID,
                  "field 'values[1]' is a string, expected a number");
    s_call_fails ("Push", "{\"metric\": \"m\", \"role\": \"other\", \"values\": [1]}",
                  FLOT_E_INVALID, "role");
    s_call_fails ("Push", "{\"values\": [1]}", FLOT_E_INVALID, "field 'metric' is required");
    s_call_fails ("Push", "{\"metric\": \"\", \"values\": [1]}", FLOT_E_INVALID,
                  "field 'metric' is 0 bytes, expected at least 1");
    //  A CONTEXT's unknown keys are a newer peer's: ignored (SPEC 13).
    json_t *newer = s_call_ok ("Query", "{\"provider\": {\"pushed\": {\"metric\": \"m\"}}, "
                               "\"context\": {\"target\": \"eu-1\", \"zone\": \"a\"}}");
    json_decref (newer);
    s_call_fails ("Query", "{\"provider\": {}, " CONTEXT "}", FLOT_E_INVALID,
                  "provider: expected exactly one of prometheus, command, pushed");
    s_call_fails ("Query", "{\"provider\": {\"pushed\": {\"metric\": \"m\"}}, " CONTEXT
                  ", \"role\": \"third\"}", FLOT_E_INVALID, "role");
    //  The actor is still there and answers.
    json_t *reply = s_call_ok ("Query", "{\"provider\": {\"pushed\": {\"metric\": \"nothing\"}}, "
                               CONTEXT "}");
    assert_int_equal (json_array_size (json_object_get (reply, "values")), 0);
    json_decref (reply);
}

static void
test_analyzer_push_is_bounded (void **state)
{
    (void) state;
    //  12,000 pushed, the last 10,000 kept, oldest first.
    for (int round = 0; round < 3; round++) {
        json_t *values = json_array ();
        for (int i = 0; i < 4000; i++)
            json_array_append_new (values, json_integer (round * 4000 + i));
        json_t *body = json_pack ("{s:s, s:o}", "metric", "bounded", "values", values);
        flot_err_t err;
        json_t *reply = world_call (s_world, "analyzer", NULL, "Push", body, &err);
        assert_non_null (reply);
        json_decref (reply);
    }
    json_t *reply = s_call_ok ("Query", "{\"provider\": {\"pushed\": {\"metric\": \"bounded\"}}, "
                               CONTEXT "}");
    json_t *values = json_object_get (reply, "values");
    assert_int_equal (json_array_size (values), 10000);
    assert_true (json_number_value (json_array_get (values, 0)) == 2000);
    assert_true (json_number_value (json_array_get (values, 9999)) == 11999);
    json_decref (reply);
}

//  --------------------------------------------------------------------------
//  Prometheus

static int
s_prom_setup (void **state)
{
    s_setup (state);
    s_prom = prom_fixture_start (FIXTURE_SERVER, FIXTURE_PORT, PROM_PORT,
        "# TYPE http_error_ratio gauge\n"
        "http_error_ratio{target=\"eu-1\"} 0.01\n"
        "http_error_ratio{target=\"us-1\"} 0.02\n"
        "# TYPE latency_seconds gauge\n"
        "latency_seconds{role=\"canary\"} 0.25\n"
        "latency_seconds{role=\"baseline\"} 0.2\n");
    return s_prom ? 0 : -1;
}

static int
s_prom_teardown (void **state)
{
    prom_fixture_stop (&s_prom);
    return s_teardown (state);
}

static void
test_analyzer_prometheus_instant_and_range (void **state)
{
    (void) state;
    char json [1024];
    snprintf (json, sizeof json, "{\"provider\": {\"prometheus\": {\"address\": \"%s\", "
              "\"query\": \"http_error_ratio{target=\\\"{target}\\\"}\"}}, " CONTEXT "}",
              prom_fixture_url (s_prom));
    json_t *reply = s_call_ok ("Query", json);
    assert_int_equal (json_array_size (json_object_get (reply, "values")), 1);
    assert_true (json_number_value (json_array_get (json_object_get (reply, "values"), 0)) == 0.01);
    assert_string_equal (s_str (reply, "query"), "http_error_ratio{target=\"eu-1\"}");
    json_decref (reply);
    //  By role.
    snprintf (json, sizeof json, "{\"provider\": {\"prometheus\": {\"address\": \"%s\", "
              "\"query\": \"latency_seconds{role=\\\"{role}\\\"}\"}}, " CONTEXT
              ", \"role\": \"baseline\"}", prom_fixture_url (s_prom));
    reply = s_call_ok ("Query", json);
    assert_true (json_number_value (json_array_get (json_object_get (reply, "values"), 0)) == 0.2);
    json_decref (reply);
    //  A range query over both series: every point of every series.
    prom_fixture_wait (s_prom, "count_over_time(http_error_ratio{target=\"eu-1\"}[10s]) >= 3", 1, 20000);
    snprintf (json, sizeof json, "{\"provider\": {\"prometheus\": {\"address\": \"%s/\", "
              "\"query\": \"http_error_ratio\", \"range\": \"4s\", \"step\": \"1s\"}}, " CONTEXT "}",
              prom_fixture_url (s_prom));
    reply = s_call_ok ("Query", json);
    size_t count = json_array_size (json_object_get (reply, "values"));
    //  Two series, 4 or 5 steps each (the range's ends fall between scrapes).
    assert_true (count >= 8 && count <= 10);
    json_decref (reply);
}

static void
test_analyzer_prometheus_errors (void **state)
{
    (void) state;
    char json [1024];
    //  A query Prometheus refuses: its own error, with the type.
    snprintf (json, sizeof json, "{\"provider\": {\"prometheus\": {\"address\": \"%s\", "
              "\"query\": \"sum(\"}}, " CONTEXT "}", prom_fixture_url (s_prom));
    s_call_fails ("Query", json, FLOT_E_INTERNAL, "Prometheus says: bad_data");
    //  Nothing listens there.
    snprintf (json, sizeof json, "{\"provider\": {\"prometheus\": {\"address\": "
              "\"http://127.0.0.1:%d\", \"query\": \"up\"}}, " CONTEXT "}", CLOSED_PORT);
    s_call_fails ("Query", json, FLOT_E_INTERNAL, "127.0.0.1");
    //  Not Prometheus: the fixture server's /metrics path answers 404 here.
    snprintf (json, sizeof json, "{\"provider\": {\"prometheus\": {\"address\": "
              "\"http://127.0.0.1:%d\", \"query\": \"up\"}}, " CONTEXT "}", FIXTURE_PORT);
    s_call_fails ("Query", json, FLOT_E_INTERNAL, "HTTP 404");
    //  In an analysis, an unreachable Prometheus is an error measurement.
    snprintf (json, sizeof json, "{\"analysis\": {\"metrics\": [{\"name\": \"gone\", "
              "\"provider\": {\"prometheus\": {\"address\": \"http://127.0.0.1:%d\", \"query\": \"up\"}},"
              " \"successCondition\": \"result == 1\", \"interval\": 50, \"consecutiveErrorLimit\": 0}]}, "
              CONTEXT "}", CLOSED_PORT);
    json_t *result = s_call_ok ("Analyze", json);
    assert_string_equal (s_str (result, "phase"), "error");
    assert_string_equal (s_str (result, "recommendation"), "rollback");
    json_decref (result);
}

static void
test_analyzer_prometheus_analysis (void **state)
{
    (void) state;
    char json [1024];
    snprintf (json, sizeof json, "{\"analysis\": {\"metrics\": [{\"name\": \"error-rate\", "
              "\"provider\": {\"prometheus\": {\"address\": \"%s\", "
              "\"query\": \"http_error_ratio{target=\\\"{target}\\\"}\"}},"
              " \"successCondition\": \"result < 0.05\", \"failureCondition\": \"result >= 0.10\","
              " \"count\": 2, \"interval\": \"200ms\"}]}, " CONTEXT "}", prom_fixture_url (s_prom));
    json_t *result = s_call_ok ("Analyze", json);
    assert_string_equal (s_str (result, "recommendation"), "promote");
    json_decref (result);
    //  The error ratio of eu-1 climbs: the same analysis now rolls back.
    assert_int_equal (prom_fixture_write (s_prom, "initial",
        "http_error_ratio{target=\"eu-1\"} 0.31\n"
        "http_error_ratio{target=\"us-1\"} 0.02\n"), 0);
    assert_true (prom_fixture_wait (s_prom, "http_error_ratio{target=\"eu-1\"}", 0.31, 20000));
    result = s_call_ok ("Analyze", json);
    assert_string_equal (s_str (result, "recommendation"), "rollback");
    assert_string_equal (s_str (result, "reason"),
        "error-rate: 1 of 1 measurements failed (result >= 0.10: 0.31), failureLimit 0");
    json_decref (result);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_analyzer_threshold_pass_promotes),
        cmocka_unit_test (test_analyzer_threshold_failure_rolls_back_at_once),
        cmocka_unit_test (test_analyzer_threshold_limits_and_inconclusive),
        cmocka_unit_test (test_analyzer_consecutive_errors_end_in_error),
        cmocka_unit_test (test_analyzer_initial_delay_and_count),
        cmocka_unit_test (test_analyzer_query_command),
        cmocka_unit_test (test_analyzer_command_provider_runs_only_the_hooks_directory),
        cmocka_unit_test (test_analyzer_judge_good_canary_promotes),
        cmocka_unit_test (test_analyzer_judge_bad_canary_rolls_back),
        cmocka_unit_test (test_analyzer_judge_inconclusive_pauses),
        cmocka_unit_test (test_analyzer_stream_per_interval),
        cmocka_unit_test (test_analyzer_stop_analysis),
        cmocka_unit_test (test_analyzer_rejects_bad_bodies),
        cmocka_unit_test (test_analyzer_push_is_bounded),
    };
    const struct CMUnitTest prometheus [] = {
        cmocka_unit_test (test_analyzer_prometheus_instant_and_range),
        cmocka_unit_test (test_analyzer_prometheus_errors),
        cmocka_unit_test (test_analyzer_prometheus_analysis),
    };
    int failed = cmocka_run_group_tests_name ("analyzer", tests, s_setup, s_teardown);
    //  FLOT_SKIP_PROMETHEUS=1 skips the Prometheus group (for slow runs
    //  under valgrind).
    if (!getenv ("FLOT_SKIP_PROMETHEUS"))
        failed += cmocka_run_group_tests_name ("analyzer-prometheus", prometheus,
                                               s_prom_setup, s_prom_teardown);
    return failed;
}
