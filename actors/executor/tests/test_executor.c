/*  test_executor.c - the executor actor runs real hooks: the step's facts
    reach the hook's environment, exit codes and output come back, a
    timeout stops the whole process group, bad hooks and bodies get clear
    errors. A real broker and the executor run as threads over inproc. Its
    contract's STEP_RESULT, as every caller reads it, through its one
    definition (the STEP callers build is tested with common/step_call.c,
    in tests/unit/test_resolved.c).  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <cmocka.h>

#include "flotilla/body.h"
#include "flotilla/contract_executor.h"
#include "executor.h"
#include "flotilla/log.h"
#include "world.h"

static int
s_setup (void **state)
{
    static const flot_actor_def_t *const defs [] = { &flot_executor_actor, NULL };
    *state = world_start (defs);
    return 0;
}

static int
s_teardown (void **state)
{
    world_stop ((world_t **) state);
    return 0;
}

//  An ExecuteStep body for the record.sh hook with extra env entries.
static json_t *
s_step (const char *env_json, int64_t timeout_ms)
{
    json_t *env = json_loads (env_json, 0, NULL);
    json_object_set_new (env, "MODE", json_string ("test"));
    return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:s, "
                      "s:{s:s, s:[s, s], s:o, s:I}}",
        "deployment", "web-1", "step_id", "eu-1/2", "type", "setWeight",
        "target", "eu-1", "address", "10.0.0.1:80", "version", "2.0",
        "previous_version", "1.9", "weight", 20, "attempt", 3,
        "cwd", HOOKS_DIR,
        "hook", "command", "./record.sh", "args", "one", "two", "env", env,
        "timeout_ms", (json_int_t) timeout_ms);
}

static json_t *
s_call (world_t *world, const char *command, json_t *request, flot_err_t *err)
{
    return world_call (world, "executor", "eu-1", command, request, err);
}

static const char *
s_field (json_t *reply, const char *name)
{
    return json_string_value (json_object_get (reply, name));
}

static void
test_executor_runs_the_hook_with_the_step_facts (void **state)
{
    flot_err_t err;
    json_t *reply = s_call (*state, "ExecuteStep", s_step ("{}", 5000), &err);
    assert_non_null (reply);
    assert_string_equal (s_field (reply, "status"), "succeeded");
    assert_int_equal (json_integer_value (json_object_get (reply, "exit_code")), 0);
    const char *output = s_field (reply, "output");
    assert_non_null (strstr (output, "id=eu-1/2 type=setWeight target=eu-1 address=10.0.0.1:80"));
    assert_non_null (strstr (output, "deployment=web-1 version=2.0 previous=1.9 weight=20 attempt=3"));
    assert_non_null (strstr (output, "args=one two mode=test cwd=" HOOKS_DIR));
    json_decref (reply);
}

static void
test_executor_reports_a_failing_hook (void **state)
{
    flot_err_t err;
    json_t *reply = s_call (*state, "ExecuteStep", s_step ("{\"HOOK_FAIL\":\"7\"}", 5000), &err);
    assert_non_null (reply);
    assert_string_equal (s_field (reply, "status"), "failed");
    assert_int_equal (json_integer_value (json_object_get (reply, "exit_code")), 7);
    assert_non_null (strstr (s_field (reply, "output"), "failing on purpose"));
    json_decref (reply);
}

static void
test_executor_keeps_the_tail_of_the_output (void **state)
{
    flot_err_t err;
    json_t *reply = s_call (*state, "ExecuteStep", s_step ("{\"HOOK_SPAM\":\"1\"}", 5000), &err);
    const char *output = s_field (reply, "output");
    assert_int_equal (strlen (output), 4096);
    assert_non_null (strstr (output, "line 1999 of spam"));
    assert_null (strstr (output, "line 1 of spam"));
    json_decref (reply);
}

static void
test_executor_timeout_stops_the_process_group (void **state)
{
    flot_err_t err;
    int64_t start = zclock_mono ();
    json_t *reply = s_call (*state, "ExecuteStep",
                            s_step ("{\"HOOK_CHILD\":\"1\",\"HOOK_SLEEP\":\"30\"}", 300), &err);
    int64_t took = zclock_mono () - start;
    assert_non_null (reply);
    assert_string_equal (s_field (reply, "status"), "timeout");
    assert_true (took >= 300 && took < 3000);
    //  The background child of the hook is gone too.
    const char *child = strstr (s_field (reply, "output"), "child=");
    assert_non_null (child);
    pid_t pid = (pid_t) atoi (child + 6);
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        gone = kill (pid, 0) != 0;
        zclock_sleep (20);
    }
    assert_true (gone);
    json_decref (reply);
}

static void
test_executor_refuses_bad_hooks_and_bodies (void **state)
{
    flot_err_t err;
    json_t *step = s_step ("{}", 5000);
    json_object_set_new (json_object_get (step, "hook"), "command", json_string ("./missing.sh"));
    assert_null (s_call (*state, "ExecuteStep", step, &err));
    assert_int_equal (err.code, FLOT_E_INVALID);
    assert_non_null (strstr (err.message, HOOKS_DIR "/./missing.sh' is not an executable file"));
    step = s_step ("{}", 5000);
    json_object_set_new (json_object_get (step, "hook"), "command", json_string ("./missing.sh"));
    assert_null (s_call (*state, "ValidateStep", step, &err));
    assert_non_null (strstr (err.message, "is not an executable file"));
    json_t *reply = s_call (*state, "ValidateStep", s_step ("{}", 5000), &err);
    assert_true (json_is_true (json_object_get (reply, "valid")));
    json_decref (reply);
    step = s_step ("{}", 5000);
    json_object_del (step, "step_id");
    assert_null (s_call (*state, "ExecuteStep", step, &err));
    assert_non_null (strstr (err.message, "field 'step_id' is required"));
    step = s_step ("{}", 5000);
    json_object_set_new (json_object_get (step, "hook"), "env",
                         json_pack ("{s:i}", "BAD", 1));
    assert_null (s_call (*state, "ExecuteStep", step, &err));
    assert_non_null (strstr (err.message, "hook.env"));
    step = s_step ("{\"A=B\":\"1\"}", 5000);
    assert_null (s_call (*state, "ExecuteStep", step, &err));
    assert_string_equal (err.message, "field 'hook.env.A=B': a name holds no '='");
    step = s_step ("{}", 5000);
    json_object_set_new (json_object_get (step, "hook"), "command", json_string (""));
    assert_null (s_call (*state, "ValidateStep", step, &err));
    assert_string_equal (err.message, "field 'hook.command' is 0 bytes, expected at least 1");
    assert_null (s_call (*state, "GetStepStatus", json_pack ("{s:s, s:s}",
                         "deployment", "web-1", "step_id", "zz/1"), &err));
    assert_int_equal (err.code, FLOT_E_NOT_FOUND);
}

//  --------------------------------------------------------------------------
//  The contract's messages

//  Unpacks size bytes of data into zone; returns the object.
static msgpack_object
s_unpack (const char *data, size_t size, msgpack_zone *zone)
{
    msgpack_object obj;
    size_t offset = 0;
    assert_int_equal (msgpack_unpack (data, size, &offset, zone, &obj), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (offset, size);
    return obj;
}

//  A STEP_RESULT as an executor answers it, with a key more: extra names
//  it (NULL: none), given a string, or "status" a second time.
static void
s_pack_result (msgpack_sbuffer *sbuf, const char *extra)
{
    msgpack_packer pk;
    msgpack_sbuffer_init (sbuf);
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, extra ? 7 : 6);
    flot_pack_kv_str (&pk, "status", "failed");
    flot_pack_kv_int (&pk, "exit_code", 3);
    flot_pack_kv_int (&pk, "signal", 0);
    flot_pack_kv_str (&pk, "output", "three");
    flot_pack_kv_uint (&pk, "duration_ms", 12);
    flot_pack_kv_uint (&pk, "pid", 4242);
    if (extra)
        flot_pack_kv_str (&pk, extra, "succeeded");
}

static void
test_step_result_refuses_a_key_given_twice_and_ignores_unknown_keys (void **state)
{
    (void) state;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    msgpack_sbuffer sbuf;
    flot_executor_step_result_t result;
    flot_err_t err;
    //  "status" twice: the second must not win, nor the first.
    s_pack_result (&sbuf, "status");
    msgpack_object body = s_unpack (sbuf.data, sbuf.size, &zone);
    assert_int_equal (flot_executor_step_result_decode (&body, &zone, &result, &err), -1);
    assert_int_equal (err.code, FLOT_E_INVALID);
    assert_string_equal (err.message, "field 'status' is given twice");
    msgpack_sbuffer_destroy (&sbuf);
    //  A key of a newer executor is ignored (SPEC 13).
    s_pack_result (&sbuf, "cpu_ms");
    body = s_unpack (sbuf.data, sbuf.size, &zone);
    assert_int_equal (flot_executor_step_result_decode (&body, &zone, &result, &err), 0);
    assert_string_equal (result.status, "failed");
    assert_int_equal (result.exit_code, 3);
    assert_string_equal (result.output, "three");
    assert_int_equal (result.pid, 4242);
    msgpack_sbuffer_destroy (&sbuf);
    //  Without its status it is no result.
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    flot_pack_kv_str (&pk, "output", "x");
    body = s_unpack (sbuf.data, sbuf.size, &zone);
    assert_int_equal (flot_executor_step_result_decode (&body, &zone, &result, &err), -1);
    assert_string_equal (err.message, "field 'status' is required");
    msgpack_sbuffer_destroy (&sbuf);
    msgpack_zone_destroy (&zone);
}

//  The executor's answer is read through the same STEP_RESULT its callers
//  (the coordinator, the rollback actor) use.
static void
test_executor_answer_is_a_step_result (void **state)
{
    flot_executor_hook_t hook = {
        .command = "./record.sh", .timeout_ms = 5000, .has_timeout_ms = true
    };
    flot_executor_step_t step = {
        .deployment = "web-1", .step_id = "eu-1/1", .type = "apply", .target = "eu-1",
        .version = "2.0", .cwd = HOOKS_DIR, .hook = &hook
    };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_executor_step_def, &step, &sbuf);
    zframe_t *reply = NULL;
    flot_err_t err;
    int rc = flot_client_call (world_client (*state), "executor", "eu-1", "ExecuteStep",
                               sbuf.data, sbuf.size, 10000, &reply, &err);
    msgpack_sbuffer_destroy (&sbuf);
    assert_int_equal (rc, 0);
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    msgpack_object body = s_unpack ((const char *) zframe_data (reply), zframe_size (reply), &zone);
    flot_executor_step_result_t result;
    assert_int_equal (flot_executor_step_result_decode (&body, &zone, &result, &err), 0);
    assert_string_equal (result.status, "succeeded");
    assert_int_equal (result.exit_code, 0);
    assert_int_equal (result.signal, 0);
    assert_true (result.pid > 0);
    //  Absent: address "", previous "", weight 0 and attempt 1.
    assert_non_null (strstr (result.output, "id=eu-1/1 type=apply target=eu-1 address=\n"
                                            "deployment=web-1 version=2.0 previous= "
                                            "weight=0 attempt=1"));
    msgpack_zone_destroy (&zone);
    zframe_destroy (&reply);
}

int
main (void)
{
    flot_log_set_level (FLOT_LOG_WARN);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_executor_runs_the_hook_with_the_step_facts),
        cmocka_unit_test (test_executor_reports_a_failing_hook),
        cmocka_unit_test (test_executor_keeps_the_tail_of_the_output),
        cmocka_unit_test (test_executor_timeout_stops_the_process_group),
        cmocka_unit_test (test_executor_refuses_bad_hooks_and_bodies),
        cmocka_unit_test (test_executor_answer_is_a_step_result),
        cmocka_unit_test (test_step_result_refuses_a_key_given_twice_and_ignores_unknown_keys),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
