/*  test_executor.c - the executor actor runs real hooks: the step's facts
    reach the hook's environment, exit codes and output come back, a
    timeout stops the whole process group, bad hooks and bodies get clear
    errors. Only programs of its hooks directory run, in that directory,
    and a step's env cannot change how they load or run; a hooks directory
    that others may write to, or another user owns, runs nothing. A real broker and
    the executor run as threads over inproc. Its contract's STEP_RESULT, as
    every caller reads it, through its one definition (the STEP callers
    build is tested with common/step_call.c, in tests/unit/test_resolved.c).

    The hooks directory is made for the test in a temporary directory: the
    links record.sh and sub/record.sh to tests/unit/hooks/record.sh, a
    plain file that is not executable, a folder; beside it (outside it) an
    executable outside.sh that must never run.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "flotilla/body.h"
#include "flotilla/contract_executor.h"
#include "executor.h"
#include "runs.h"
#include "flotilla/json.h"
#include "flotilla/log.h"
#include "world.h"

static const flot_actor_def_t *const s_defs [] = { &flot_executor_actor, NULL };
static char s_tmp [64];                 //  the test's temporary directory
static char s_hooks [128];              //  s_tmp/hooks: the executor's hooks directory
static char s_outside [128];            //  s_tmp/outside.sh, an executable outside it
static char s_pwned [128];              //  s_tmp/pwned: made by a hook that must not run
static char s_log [128];                //  s_tmp/runs.log: slow.sh's starts and ends
static zhash_t *s_options;

static void
s_write (const char *path, const char *text, mode_t mode)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (text, file);
    fclose (file);
    assert_int_equal (chmod (path, mode), 0);
}

static int
s_setup (void **state)
{
    snprintf (s_tmp, sizeof s_tmp, "/tmp/flot-executor-XXXXXX");
    assert_non_null (mkdtemp (s_tmp));
    snprintf (s_hooks, sizeof s_hooks, "%s/hooks", s_tmp);
    snprintf (s_outside, sizeof s_outside, "%s/outside.sh", s_tmp);
    snprintf (s_pwned, sizeof s_pwned, "%s/pwned", s_tmp);
    snprintf (s_log, sizeof s_log, "%s/runs.log", s_tmp);
    char path [256];
    assert_int_equal (mkdir (s_hooks, 0755), 0);
    snprintf (path, sizeof path, "%s/record.sh", s_hooks);
    assert_int_equal (symlink (HOOKS_DIR "/record.sh", path), 0);
    snprintf (path, sizeof path, "%s/sub", s_hooks);
    assert_int_equal (mkdir (path, 0755), 0);
    snprintf (path, sizeof path, "%s/sub/record.sh", s_hooks);
    assert_int_equal (symlink (HOOKS_DIR "/record.sh", path), 0);
    snprintf (path, sizeof path, "%s/plain.txt", s_hooks);
    s_write (path, "#!/bin/sh\necho plain\n", 0644);
    char text [256];
    snprintf (text, sizeof text, "#!/bin/sh\ntouch %s\n", s_pwned);
    s_write (s_outside, text, 0755);
    //  slow.sh SECONDS [STATUS]: logs its start and end (ns), sleeps, exits.
    char slow [600];
    snprintf (slow, sizeof slow, "#!/bin/sh\n"
              "echo \"start $FLOTILLA_DEPLOYMENT $FLOTILLA_ATTEMPT $(date +%%s%%N)\" >> %s\n"
              "sleep \"$1\"\n"
              "echo \"end $FLOTILLA_DEPLOYMENT $FLOTILLA_ATTEMPT $(date +%%s%%N)\" >> %s\n"
              "echo \"slept $1 pid $$\"\n"
              "exit \"${2:-0}\"\n", s_log, s_log);
    snprintf (path, sizeof path, "%s/slow.sh", s_hooks);
    s_write (path, slow, 0755);
    //  noisy.sh: 100,005 bytes on stderr, a line on stdout.
    snprintf (path, sizeof path, "%s/noisy.sh", s_hooks);
    s_write (path, "#!/bin/sh\necho out\n"
             "head -c 100000 /dev/zero | tr '\\0' e >&2\nprintf E-END >&2\n", 0755);
    //  badexec.sh: executable, but its interpreter is not there.
    snprintf (path, sizeof path, "%s/badexec.sh", s_hooks);
    s_write (path, "#!/nonexistent/interpreter\n", 0755);
    s_options = zhash_new ();
    zhash_insert (s_options, "hooks-dir", s_hooks);
    *state = world_start_with (s_defs, s_options);
    return 0;
}

static int
s_teardown (void **state)
{
    world_stop ((world_t **) state);
    zhash_destroy (&s_options);
    char command [128];
    snprintf (command, sizeof command, "rm -rf %s", s_tmp);
    assert_int_equal (system (command), 0);
    return 0;
}

//  An ExecuteStep body for the record.sh hook with extra env entries, of a
//  deployment of its own (web-1, web-2...): one key is run only once.
static json_t *
s_step (const char *env_json, int64_t timeout_ms)
{
    static int deployments = 0;
    char deployment [32];
    snprintf (deployment, sizeof deployment, "web-%d", ++deployments);
    json_t *env = json_loads (env_json, 0, NULL);
    json_object_set_new (env, "MODE", json_string ("test"));
    return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:s, "
                      "s:{s:s, s:[s, s], s:o, s:I}}",
        "deployment", deployment, "step_id", "eu-1/2", "type", "setWeight",
        "target", "eu-1", "address", "10.0.0.1:80", "version", "2.0",
        "previous_version", "1.9", "weight", 20, "attempt", 3,
        "cwd", "/",
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
    json_t *step = s_step ("{}", 5000);
    char expected [200];
    snprintf (expected, sizeof expected, "deployment=%s version=2.0 previous=1.9 weight=20 "
              "attempt=3", json_string_value (json_object_get (step, "deployment")));
    json_t *reply = s_call (*state, "ExecuteStep", step, &err);
    assert_non_null (reply);
    assert_string_equal (s_field (reply, "status"), "succeeded");
    assert_int_equal (json_integer_value (json_object_get (reply, "exit_code")), 0);
    const char *output = s_field (reply, "output");
    assert_non_null (strstr (output, "id=eu-1/2 type=setWeight target=eu-1 address=10.0.0.1:80"));
    assert_non_null (strstr (output, expected));
    //  In the hooks directory, whatever the step's cwd said ("/").
    char line [256];
    snprintf (line, sizeof line, "args=one two mode=test cwd=%s\n", s_hooks);
    assert_non_null (strstr (output, line));
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
    //  Said on its stderr, kept apart from its stdout.
    assert_string_equal (s_field (reply, "stderr"), "failing on purpose\n");
    assert_null (strstr (s_field (reply, "output"), "failing on purpose"));
    json_decref (reply);
}

static void
test_executor_keeps_the_tail_of_the_output (void **state)
{
    flot_err_t err;
    //  2,000 lines of spam are 34,890 bytes: within the 64 KiB kept, whole.
    json_t *reply = s_call (*state, "ExecuteStep", s_step ("{\"HOOK_SPAM\":\"1\"}", 5000), &err);
    const char *output = s_field (reply, "output");
    assert_non_null (strstr (output, "line 1999 of spam\n"));
    assert_non_null (strstr (output, "line 0 of spam\n"));
    assert_null (strstr (output, "bytes cut]"));
    assert_string_equal (s_field (reply, "stderr"), "");
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
    if (!reply) fail_msg ("%s", err.message);
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
    char expected [256];
    snprintf (expected, sizeof expected, "hook './missing.sh' is not in the executor's hooks "
              "directory %s (No such file or directory)", s_hooks);
    assert_string_equal (err.message, expected);
    step = s_step ("{}", 5000);
    json_object_set_new (json_object_get (step, "hook"), "command", json_string ("./missing.sh"));
    assert_null (s_call (*state, "ValidateStep", step, &err));
    assert_string_equal (err.message, expected);
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

//  --------------------------------------------------------------------------
//  Only the hooks directory's programs

//  Calls command with a step whose hook is command_name (and args); the
//  call must be refused INVALID with expected as its message.
static void
s_refused (world_t *world, const char *command, json_t *step, const char *expected)
{
    flot_err_t err;
    json_t *reply = s_call (world, command, step, &err);
    if (reply)
        fail_msg ("%s was answered, expected: %s", command, expected);
    assert_int_equal (err.code, FLOT_E_INVALID);
    assert_string_equal (err.message, expected);
}

static json_t *
s_step_running (const char *command_name, json_t *args)
{
    json_t *step = s_step ("{}", 5000);
    json_t *hook = json_object_get (step, "hook");
    json_object_set_new (hook, "command", json_string (command_name));
    if (args)
        json_object_set_new (hook, "args", args);
    return step;
}

//  A hook the kernel will not start (its interpreter is missing): the
//  child says why before it goes, INVALID names it, and the executor runs
//  the next one.
static void
test_executor_says_why_a_hook_could_not_start (void **state)
{
    char expected [600];
    snprintf (expected, sizeof expected, "cannot run '%s/badexec.sh' in %s: %s", s_hooks,
              s_hooks, strerror (ENOENT));
    s_refused (*state, "ExecuteStep", s_step_running ("badexec.sh", NULL), expected);
    flot_err_t err;
    json_t *reply = s_call (*state, "ExecuteStep", s_step ("{}", 5000), &err);
    if (!reply)
        fail_msg ("the next hook did not run: %s", err.message);
    assert_string_equal (s_field (reply, "status"), "succeeded");
    json_decref (reply);
}

static void
test_executor_refuses_an_absolute_path (void **state)
{
    const char *expected = "hook '/bin/sh' is an absolute path: a hook names a program in "
                           "the executor's hooks directory (--hooks-dir)";
    char touch [200];
    snprintf (touch, sizeof touch, "touch %s", s_pwned);
    s_refused (*state, "ExecuteStep", s_step_running ("/bin/sh", json_pack ("[s, s]", "-c", touch)),
               expected);
    s_refused (*state, "ValidateStep", s_step_running ("/bin/sh", NULL), expected);
    //  Even one inside the directory: a hook is named relative to it.
    char inside [200], sentence [400];
    snprintf (inside, sizeof inside, "%s/record.sh", s_hooks);
    snprintf (sentence, sizeof sentence, "hook '%s' is an absolute path: a hook names a program "
              "in the executor's hooks directory (--hooks-dir)", inside);
    s_refused (*state, "ExecuteStep", s_step_running (inside, NULL), sentence);
    assert_int_equal (access (s_pwned, F_OK), -1);
}

static void
test_executor_refuses_a_hook_that_leaves_its_directory (void **state)
{
    const char *tail = ": a hook names a program in the executor's hooks directory (--hooks-dir)";
    const struct { const char *name, *why; } cases [] = {
        { "../outside.sh", "leaves the hooks directory ('..')" },
        { "./../outside.sh", "leaves the hooks directory ('..')" },
        { "sub/../../outside.sh", "leaves the hooks directory ('..')" },
        { "..", "leaves the hooks directory ('..')" },
        { "sub//record.sh", "has an empty component ('//', or a '/' at an end)" },
        { "sub/", "has an empty component ('//', or a '/' at an end)" },
        { "./", "has an empty component ('//', or a '/' at an end)" },
        { "sub/./record.sh", "has a '.' component" },
        { "././record.sh", "has a '.' component" },
        { "{{target}}.sh", "is taken literally and holds '{': no template names a program;" },
        { "record.sh -c", "holds ' ': a name is made of [A-Za-z0-9._-] and '/';" },
        { "record.sh;id", "holds ';': a name is made of [A-Za-z0-9._-] and '/';" },
        { "~/record.sh", "holds '~': a name is made of [A-Za-z0-9._-] and '/';" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char expected [400];
        bool semicolon = cases [i].why [strlen (cases [i].why) - 1] == ';';
        snprintf (expected, sizeof expected, "hook '%s' %s%s", cases [i].name, cases [i].why,
                  semicolon ? tail + 1 : tail);
        s_refused (*state, "ExecuteStep", s_step_running (cases [i].name, NULL), expected);
        s_refused (*state, "ValidateStep", s_step_running (cases [i].name, NULL), expected);
    }
    //  A name of 256 bytes is too long; one of control characters is shown
    //  without them.
    char name [300];
    memset (name, 'a', 256);
    name [256] = 0;
    flot_err_t err;
    assert_null (s_call (*state, "ExecuteStep", s_step_running (name, NULL), &err));
    assert_non_null (strstr (err.message, "...' is longer than 255 bytes: a hook names"));
    assert_null (s_call (*state, "ExecuteStep", s_step_running ("x\ny", NULL), &err));
    assert_string_equal (err.message, "hook 'x?y' holds '\\x0a': a name is made of "
                         "[A-Za-z0-9._-] and '/'; a hook names a program in the executor's "
                         "hooks directory (--hooks-dir)");
    assert_int_equal (access (s_pwned, F_OK), -1);
}

static void
test_executor_runs_what_its_directory_holds_there (void **state)
{
    const char *names [] = { "./record.sh", "record.sh", "sub/record.sh", "./sub/record.sh" };
    char cwd [256];
    snprintf (cwd, sizeof cwd, "cwd=%s\n", s_hooks);
    for (size_t i = 0; i < 4; i++) {
        flot_err_t err;
        json_t *step = s_step_running (names [i], NULL);
        json_object_set_new (step, "cwd", json_string (s_tmp));
        json_t *reply = s_call (*state, "ExecuteStep", step, &err);
        if (!reply)
            fail_msg ("%s: %s", names [i], err.message);
        assert_string_equal (s_field (reply, "status"), "succeeded");
        //  In the hooks directory, not in the step's cwd (s_tmp).
        assert_non_null (strstr (s_field (reply, "output"), cwd));
        json_decref (reply);
        reply = s_call (*state, "ValidateStep", s_step_running (names [i], NULL), &err);
        assert_non_null (reply);
        json_decref (reply);
    }
    //  What is there but cannot run.
    char expected [400];
    snprintf (expected, sizeof expected, "hook 'plain.txt' in the hooks directory %s is not "
              "executable (Permission denied)", s_hooks);
    s_refused (*state, "ExecuteStep", s_step_running ("plain.txt", NULL), expected);
    snprintf (expected, sizeof expected, "hook 'sub' in the hooks directory %s is not a "
              "regular file", s_hooks);
    s_refused (*state, "ExecuteStep", s_step_running ("sub", NULL), expected);
}

static void
test_executor_refuses_env_that_changes_how_a_hook_runs (void **state)
{
    const struct { const char *name, *why; } cases [] = {
        { "LD_PRELOAD", "the dynamic loader reads LD_*" },
        { "LD_LIBRARY_PATH", "the dynamic loader reads LD_*" },
        { "PATH", "it chooses the program a name runs" },
        { "BASH_ENV", "a shell runs the file it names" },
        { "ENV", "a shell runs the file it names" },
        { "IFS", "it changes how a shell splits words" },
        { "PYTHONSTARTUP", "Python reads PYTHON* (PYTHONPATH, PYTHONSTARTUP, PYTHONHOME...)" },
        { "PERL5OPT", "Perl reads PERL* (PERL5LIB, PERL5OPT, PERLLIB...)" },
        { "NODE_OPTIONS", "Node.js reads its options from it" },
        { "GLIBC_TUNABLES", "the C library reads it" },
        { "FLOTILLA_TARGET", "Flotilla sets FLOTILLA_* itself" },
        { "GIT_SSH_COMMAND", "git runs commands and reads config from GIT_*" },
        { "GIT_CONFIG_COUNT", "git runs commands and reads config from GIT_*" },
        { "SSH_ASKPASS", "ssh runs SSH_ASKPASS and reads SSH_*" },
        { "HOME", "shells and tools read their startup files from it" },
        { "XDG_CONFIG_HOME", "tools read their configuration from XDG_*" },
        { "PAGER", "programs run the command it names" },
        { "LESSOPEN", "less runs the command it names" },
        { "OPENSSL_CONF", "OpenSSL loads configuration and modules from OPENSSL_*" },
        { "npm_config_script_shell", "npm reads its configuration from npm_config_*" },
        { "RUSTC_WRAPPER", "Cargo runs the program RUSTC* names (RUSTC_WRAPPER...)" },
        { "DYLD_INSERT_LIBRARIES", "the macOS dynamic loader reads DYLD_*" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char env [300], expected [300];
        snprintf (env, sizeof env, "{\"%s\": \"%s\"}", cases [i].name, s_outside);
        snprintf (expected, sizeof expected, "field 'hook.env': %s changes how a program is "
                  "loaded or run (%s): a spec may not set it", cases [i].name, cases [i].why);
        s_refused (*state, "ExecuteStep", s_step (env, 5000), expected);
        s_refused (*state, "ValidateStep", s_step (env, 5000), expected);
    }
    s_refused (*state, "ExecuteStep", s_step ("{\"BASH_FUNC_echo%%\": \"() { id; }\"}", 5000),
               "field 'hook.env': 'BASH_FUNC_echo%%' is not a variable name: a letter or '_', "
               "then letters, digits and '_'");
    //  Others are set, and replace the executor's own (LANG); TMPDIR is
    //  allowed, and names are compared exactly (ld_preload is not LD_PRELOAD).
    flot_err_t err;
    json_t *reply = s_call (*state, "ExecuteStep",
                            s_step ("{\"TMPDIR\": \"/var/tmp\", \"LANG\": \"C\", "
                                    "\"ld_preload\": \"x\"}", 5000), &err);
    if (!reply)
        fail_msg ("refused: %s", err.message);
    assert_string_equal (s_field (reply, "status"), "succeeded");
    json_decref (reply);
    assert_int_equal (access (s_pwned, F_OK), -1);
}

//  A world whose executor has options (NULL: none): the step is refused
//  with expected.
static void
s_refused_by (zhash_t *options, const char *expected)
{
    world_t *world = world_start_with (s_defs, options);
    s_refused (world, "ExecuteStep", s_step_running ("./record.sh", NULL), expected);
    s_refused (world, "ValidateStep", s_step_running ("record.sh", NULL), expected);
    world_stop (&world);
}

static void
test_executor_without_a_hooks_directory_runs_nothing (void **state)
{
    (void) state;
    s_refused_by (NULL, "this executor has no hooks directory (flotillad --hooks-dir): "
                        "it runs no hook");
    zhash_t *options = zhash_new ();
    zhash_insert (options, "hooks-dir", "");
    s_refused_by (options, "this executor has no hooks directory (flotillad --hooks-dir): "
                           "it runs no hook");
    char missing [200], expected [400];
    snprintf (missing, sizeof missing, "%s/none", s_tmp);
    zhash_update (options, "hooks-dir", missing);
    snprintf (expected, sizeof expected, "hook './record.sh': the executor's hooks directory "
              "%s cannot be used: No such file or directory", missing);
    world_t *world = world_start_with (s_defs, options);
    s_refused (world, "ExecuteStep", s_step_running ("./record.sh", NULL), expected);
    world_stop (&world);
    //  A file is no directory.
    zhash_update (options, "hooks-dir", s_outside);
    snprintf (expected, sizeof expected, "hook './record.sh': the executor's hooks directory "
              "%s cannot be used: it is not a directory", s_outside);
    world = world_start_with (s_defs, options);
    s_refused (world, "ExecuteStep", s_step_running ("./record.sh", NULL), expected);
    world_stop (&world);
    zhash_destroy (&options);
    assert_int_equal (access (s_pwned, F_OK), -1);
}

//  The hooks directory is the allow-list: one that others may write to, or
//  that another user owns, is refused with the reason, at once and without
//  a restart once it is fixed.
static void
test_executor_refuses_a_hooks_directory_others_may_write (void **state)
{
    (void) state;
    char open_dir [200], link [300], expected [400];
    snprintf (open_dir, sizeof open_dir, "%s/open", s_tmp);
    assert_int_equal (mkdir (open_dir, 0755), 0);
    snprintf (link, sizeof link, "%s/record.sh", open_dir);
    assert_int_equal (symlink (HOOKS_DIR "/record.sh", link), 0);
    zhash_t *options = zhash_new ();
    zhash_insert (options, "hooks-dir", open_dir);
    world_t *world = world_start_with (s_defs, options);
    //  0755: it runs.
    flot_err_t err;
    json_t *reply = s_call (world, "ExecuteStep", s_step_running ("record.sh", NULL), &err);
    if (!reply)
        fail_msg ("refused: %s", err.message);
    assert_string_equal (s_field (reply, "status"), "succeeded");
    json_decref (reply);
    //  0777, 0775, 0757 and 1777 (sticky changes nothing): refused.
    const struct { mode_t mode; const char *by; } cases [] = {
        { 0777, "its group and others" }, { 0775, "its group" }, { 0757, "others" },
        { 01777, "its group and others" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        assert_int_equal (chmod (open_dir, cases [i].mode), 0);
        snprintf (expected, sizeof expected, "hook 'record.sh': the executor's hooks directory "
                  "%s cannot be used: it is writable by %s (mode %04o): whoever can write to "
                  "it chooses what runs (chmod go-w)", open_dir, cases [i].by,
                  (unsigned) cases [i].mode);
        s_refused (world, "ExecuteStep", s_step_running ("record.sh", NULL), expected);
        s_refused (world, "ValidateStep", s_step_running ("record.sh", NULL), expected);
    }
    //  A folder of it is held to the same rule.
    assert_int_equal (chmod (open_dir, 0755), 0);
    char sub [220];
    snprintf (sub, sizeof sub, "%s/sub", open_dir);
    assert_int_equal (mkdir (sub, 0755), 0);
    assert_int_equal (chmod (sub, 0777), 0);
    snprintf (link, sizeof link, "%s/record.sh", sub);
    assert_int_equal (symlink (HOOKS_DIR "/record.sh", link), 0);
    snprintf (expected, sizeof expected, "hook 'sub/record.sh': the folder sub of the "
              "executor's hooks directory %s cannot be used: it is writable by its group and "
              "others (mode 0777): whoever can write to it chooses what runs (chmod go-w)",
              open_dir);
    s_refused (world, "ExecuteStep", s_step_running ("sub/record.sh", NULL), expected);
    //  Owned by another user (the test runs as root in CI; else it cannot chown).
    if (geteuid () == 0) {
        assert_int_equal (chown (open_dir, 65534, 65534), 0);
        snprintf (expected, sizeof expected, "hook 'record.sh': the executor's hooks directory "
                  "%s cannot be used: its owner is uid 65534, not root (the user this host "
                  "runs as): its owner chooses what runs", open_dir);
        s_refused (world, "ExecuteStep", s_step_running ("record.sh", NULL), expected);
        assert_int_equal (chown (open_dir, 0, 0), 0);
    }
    //  Fixed: it runs again, the same executor.
    reply = s_call (world, "ExecuteStep", s_step_running ("record.sh", NULL), &err);
    if (!reply)
        fail_msg ("refused: %s", err.message);
    assert_string_equal (s_field (reply, "status"), "succeeded");
    json_decref (reply);
    world_stop (&world);
    zhash_destroy (&options);
    assert_int_equal (access (s_pwned, F_OK), -1);
}

//  --------------------------------------------------------------------------
//  One run per key; slots; stderr apart

//  A step of deployment for slow.sh SECONDS [STATUS], attempt attempt.
static json_t *
s_slow_step (const char *deployment, int attempt, const char *seconds, const char *status,
             int64_t timeout_ms)
{
    return json_pack ("{s:s, s:s, s:s, s:s, s:s, s:i, s:{s:s, s:[s, s], s:I}}",
        "deployment", deployment, "step_id", "eu-1/1", "type", "apply", "target", "eu-1",
        "version", "2.0", "attempt", attempt,
        "hook", "command", "slow.sh", "args", seconds, status ? status : "0",
        "timeout_ms", (json_int_t) timeout_ms);
}

//  Sends request (taken) without waiting: returns its corr.
static uint64_t
s_send (world_t *world, json_t *request)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    assert_int_equal (flot_json_pack (&pk, request), 0);
    json_decref (request);
    flot_err_t err;
    uint64_t corr = flot_client_send (world_client (world), "executor", "eu-1", "ExecuteStep",
                                      sbuf.data, sbuf.size, 20000, &err);
    msgpack_sbuffer_destroy (&sbuf);
    assert_true (corr > 0);
    return corr;
}

//  Waits for the answers to the count requests of corrs: replies [i] the
//  reply to corrs [i] as JSON, or NULL with errors [i].
static void
s_recv (world_t *world, const uint64_t *corrs, size_t count, json_t **replies,
        flot_err_t *errors)
{
    for (size_t got = 0; got < count; got++) {
        flot_reply_t reply;
        flot_err_t err;
        if (flot_client_recv (world_client (world), &reply, 20000, &err))
            fail_msg ("no answer: %s", err.message);
        size_t i = 0;
        while (i < count && corrs [i] != reply.corr)
            i++;
        assert_true (i < count);
        replies [i] = NULL;
        if (reply.kind == FLOT_ERROR) {
            flot_err_t *e = &errors [i];
            flot_body_t *body = flot_body_decode (zframe_data (reply.body),
                                                  zframe_size (reply.body), &err);
            json_t *json = flot_json_from_msgpack (flot_body_root (body));
            e->code = (int) json_integer_value (json_object_get (json, "code"));
            snprintf (e->message, sizeof e->message, "%s",
                      json_string_value (json_object_get (json, "message")));
            json_decref (json);
            flot_body_destroy (&body);
        }
        else {
            flot_body_t *body = flot_body_decode (zframe_data (reply.body),
                                                  zframe_size (reply.body), &err);
            assert_non_null (body);
            replies [i] = flot_json_from_msgpack (flot_body_root (body));
            flot_body_destroy (&body);
        }
        flot_reply_clear (&reply);
    }
}

//  How many runs of deployment slow.sh started (its log's start lines).
static int
s_starts (const char *deployment)
{
    FILE *file = fopen (s_log, "r");
    if (!file)
        return 0;
    char line [256], expected [128];
    snprintf (expected, sizeof expected, "start %s ", deployment);
    int count = 0;
    while (fgets (line, sizeof line, file))
        count += strncmp (line, expected, strlen (expected)) == 0;
    fclose (file);
    return count;
}

static void
test_executor_runs_a_key_once_while_it_runs (void **state)
{
    //  The same key twice while it runs, and another attempt meanwhile.
    uint64_t corrs [3];
    corrs [0] = s_send (*state, s_slow_step ("once-1", 1, "0.5", NULL, 5000));
    zclock_sleep (100);
    corrs [1] = s_send (*state, s_slow_step ("once-1", 1, "0.5", NULL, 5000));
    corrs [2] = s_send (*state, s_slow_step ("once-1", 2, "0.5", NULL, 5000));
    json_t *replies [3];
    flot_err_t errors [3];
    s_recv (*state, corrs, 3, replies, errors);
    assert_non_null (replies [0]);
    assert_non_null (replies [1]);
    assert_string_equal (s_field (replies [0], "status"), "succeeded");
    assert_true (json_equal (replies [0], replies [1]));
    assert_null (replies [2]);
    assert_int_equal (errors [2].code, FLOT_E_CONFLICT);
    assert_string_equal (errors [2].message, "attempt 2 of step eu-1/1 of once-1 cannot "
                         "start: attempt 1 still runs on this executor, and two runs of one "
                         "step never overlap; ask again when it has ended");
    assert_int_equal (s_starts ("once-1"), 1);
    json_decref (replies [1]);
    //  Once it has ended, another attempt runs; meanwhile the first one
    //  asked again is answered from its record.
    uint64_t corr = s_send (*state, s_slow_step ("once-1", 2, "0.3", NULL, 5000));
    for (int i = 0; i < 200 && s_starts ("once-1") < 2; i++)
        zclock_sleep (10);
    flot_err_t err;
    json_t *reply = s_call (*state, "ExecuteStep", s_slow_step ("once-1", 1, "0.5", NULL, 5000),
                            &err);
    if (!reply)
        fail_msg ("%s", err.message);
    assert_true (json_equal (reply, replies [0]));
    json_decref (reply);
    s_recv (*state, &corr, 1, &reply, &err);
    assert_non_null (reply);
    assert_string_equal (s_field (reply, "status"), "succeeded");
    assert_int_equal (s_starts ("once-1"), 2);
    json_decref (reply);
    json_decref (replies [0]);
}

static void
test_executor_answers_a_key_that_ended_with_its_record (void **state)
{
    flot_err_t err;
    json_t *first = s_call (*state, "ExecuteStep", s_slow_step ("once-2", 1, "0", "7", 5000),
                            &err);
    assert_non_null (first);
    assert_string_equal (s_field (first, "status"), "failed");
    //  The same key, even with a hook that would now succeed: the record.
    json_t *again = s_call (*state, "ExecuteStep", s_slow_step ("once-2", 1, "0", "0", 5000),
                            &err);
    assert_non_null (again);
    assert_true (json_equal (first, again));
    assert_int_equal (json_integer_value (json_object_get (again, "exit_code")), 7);
    assert_int_equal (s_starts ("once-2"), 1);
    json_decref (first);
    json_decref (again);
}

//  An attempt asked for again (`again`) that this executor never had runs
//  nothing: NOT_FOUND, so that the caller starts a new attempt. One it had
//  is answered from its record, again or not.
static void
test_executor_runs_nothing_asked_again_for_a_key_it_never_had (void **state)
{
    flot_err_t err;
    json_t *step = s_slow_step ("again-1", 1, "0", "0", 5000);
    json_object_set_new (step, "again", json_true ());
    assert_null (s_call (*state, "ExecuteStep", step, &err));
    assert_int_equal (err.code, FLOT_E_NOT_FOUND);
    assert_non_null (strstr (err.message, "was never run on this executor (asked again)"));
    assert_int_equal (s_starts ("again-1"), 0);
    json_t *first = s_call (*state, "ExecuteStep", s_slow_step ("again-1", 1, "0", "0", 5000),
                            &err);
    assert_non_null (first);
    step = s_slow_step ("again-1", 1, "0", "0", 5000);
    json_object_set_new (step, "again", json_true ());
    json_t *second = s_call (*state, "ExecuteStep", step, &err);
    assert_non_null (second);
    assert_true (json_equal (first, second));
    assert_int_equal (s_starts ("again-1"), 1);
    json_decref (first);
    json_decref (second);
}

//  A process in a group of its own running sh -c script; its pid.
static pid_t
s_group (const char *script)
{
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        setpgid (0, 0);
        execl ("/bin/sh", "sh", "-c", script, (char *) NULL);
        _exit (127);
    }
    setpgid (pid, pid);
    return pid;
}

static bool
s_gone (pid_t pid)
{
    for (int i = 0; i < 200; i++) {
        if (kill (pid, 0) != 0)
            return true;
        zclock_sleep (10);
    }
    return false;
}

//  The start time of a process, as the record keeps it: the clock the
//  kernel started it at, in the ticks /proc shows, whichever way it is read.
static void
test_executor_reads_a_process_start_time (void **state)
{
    (void) state;
    uint64_t before = runs_boot_ticks ();
    pid_t pid = s_group ("exec sleep 60");
    uint64_t after = runs_boot_ticks ();
    pid_t group;
    uint64_t ticks = 0;
    assert_int_equal (runs_proc_stat (pid, &group, &ticks), 0);
    assert_int_equal (group, pid);
    assert_true (before > 0);
    assert_in_range (ticks, before, after);
    kill (-pid, SIGKILL);
    waitpid (pid, NULL, 0);
    assert_int_equal (runs_proc_stat (pid, &group, &ticks), -1);
}

static void
test_executor_restart_orphans_what_was_left_running (void **state)
{
    (void) state;
    char path [200], pidfile [200], script [400];
    snprintf (path, sizeof path, "%s/restart.db", s_tmp);
    snprintf (pidfile, sizeof pidfile, "%s/grandchild.pid", s_tmp);
    //  Left running by an executor that died: a hook still alive (A); one
    //  whose leader died with its executor, its child left (B); and a
    //  process whose pid a record names with another start time (C): a pid
    //  used again, not to be touched.
    pid_t a = s_group ("exec sleep 60");
    snprintf (script, sizeof script, "sleep 61 & echo $! > %s; exit 0", pidfile);
    pid_t b = s_group (script);
    assert_int_equal (waitpid (b, NULL, 0), b);
    pid_t c = s_group ("exec sleep 62");
    pid_t grandchild = 0;
    for (int i = 0; i < 200 && !grandchild; i++) {
        FILE *file = fopen (pidfile, "r");
        if (file && fscanf (file, "%d", &grandchild) != 1)
            grandchild = 0;
        if (file)
            fclose (file);
        zclock_sleep (10);
    }
    assert_true (grandchild > 0);
    zclock_sleep (50);          //  the processes have exec'ed
    pid_t group;
    uint64_t ticks_a, ticks_c, ticks_grandchild;
    assert_int_equal (runs_proc_stat (a, &group, &ticks_a), 0);
    assert_int_equal (runs_proc_stat (c, &group, &ticks_c), 0);
    assert_int_equal (runs_proc_stat (grandchild, &group, &ticks_grandchild), 0);
    assert_int_equal (group, b);
    char why [300], boot [64];
    runs_boot_id (boot, sizeof boot);
    runs_t *runs = runs_open (path, why, sizeof why);
    assert_non_null (runs);
    assert_int_equal (runs_started (runs, "left-1", "eu-1/1", 1, a, ticks_a, boot), 0);
    assert_int_equal (runs_started (runs, "left-2", "eu-1/1", 1, b, ticks_grandchild, boot), 0);
    assert_int_equal (runs_started (runs, "left-3", "eu-1/1", 1, c, ticks_c + 1, boot), 0);
    runs_close (&runs);

    zhash_t *options = zhash_new ();
    zhash_insert (options, "hooks-dir", s_hooks);
    zhash_insert (options, "runs", path);
    world_t *world = world_start_with (s_defs, options);
    int status = 0;
    assert_int_equal (waitpid (a, &status, 0), a);
    assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
    assert_true (s_gone (grandchild));
    assert_int_equal (kill (c, 0), 0);          //  not the recorded process
    //  Each key answers `orphaned` and runs nothing.
    const char *deployments [] = { "left-1", "left-2", "left-3" };
    for (size_t i = 0; i < 3; i++) {
        flot_err_t err;
        json_t *reply = s_call (world, "ExecuteStep",
                                s_slow_step (deployments [i], 1, "0", NULL, 5000), &err);
        if (!reply)
            fail_msg ("%s", err.message);
        assert_string_equal (s_field (reply, "status"), "orphaned");
        assert_int_equal (s_starts (deployments [i]), 0);
        json_decref (reply);
    }
    //  A run it starts is recorded: stopped with the executor, it is an
    //  orphan for the next one, and its hook is gone.
    uint64_t corr = s_send (world, s_slow_step ("left-4", 1, "30", NULL, 60000));
    for (int i = 0; i < 200 && s_starts ("left-4") == 0; i++)
        zclock_sleep (10);
    assert_int_equal (s_starts ("left-4"), 1);
    world_stop_thread (world, "executor");
    json_t *reply;
    flot_err_t err;
    s_recv (world, &corr, 1, &reply, &err);
    assert_int_equal (err.code, FLOT_E_CANCELLED);
    world_stop (&world);
    world = world_start_with (s_defs, options);
    reply = s_call (world, "ExecuteStep", s_slow_step ("left-4", 1, "0", NULL, 5000), &err);
    assert_non_null (reply);
    assert_string_equal (s_field (reply, "status"), "orphaned");
    assert_int_equal (s_starts ("left-4"), 1);
    json_decref (reply);
    world_stop (&world);
    zhash_destroy (&options);
    kill (-c, SIGKILL);
    waitpid (c, NULL, 0);
}

//  From slow.sh's log: the most of deployments prefix's runs that ran at once.
static int
s_most_at_once (const char *prefix)
{
    FILE *file = fopen (s_log, "r");
    assert_non_null (file);
    char line [256], kind [16], deployment [64];
    int attempt, now = 0, most = 0;
    unsigned long long ns;
    //  In the order written: each start and end as it happened.
    while (fgets (line, sizeof line, file))
        if (sscanf (line, "%15s %63s %d %llu", kind, deployment, &attempt, &ns) == 4
        &&  strncmp (deployment, prefix, strlen (prefix)) == 0) {
            now += streq (kind, "start") ? 1 : -1;
            most = now > most ? now : most;
        }
    fclose (file);
    return most;
}

static void
test_executor_slots_queue_without_counting_the_wait (void **state)
{
    (void) state;
    zhash_t *options = zhash_new ();
    zhash_insert (options, "hooks-dir", s_hooks);
    zhash_insert (options, "slots", "2");
    zhash_insert (options, "queue", "4");
    world_t *world = world_start_with (s_defs, options);
    //  6 hooks of 0.6 s, 1.5 s timeout each, 2 at a time: 1.8 s in all.
    uint64_t corrs [6];
    int64_t start = zclock_mono ();
    for (int i = 0; i < 6; i++) {
        char deployment [32];
        snprintf (deployment, sizeof deployment, "slot-%d", i);
        corrs [i] = s_send (world, s_slow_step (deployment, 1, "0.6", NULL, 1500));
    }
    //  A 7th finds the queue full; a queued one says so.
    flot_err_t err;
    json_t *reply = s_call (world, "ExecuteStep", s_slow_step ("slot-6", 1, "0", NULL, 1500),
                            &err);
    assert_null (reply);
    assert_int_equal (err.code, FLOT_E_BUSY);
    assert_string_equal (err.message, "this executor runs 2 hooks (its slots) and 4 more "
                         "wait: it takes no more until some have ended");
    reply = world_call (world, "executor", "eu-1", "GetStepStatus",
                        json_pack ("{s:s, s:s}", "deployment", "slot-5", "step_id", "eu-1/1"),
                        &err);
    assert_non_null (reply);
    assert_string_equal (s_field (reply, "status"), "queued");
    assert_int_equal (json_integer_value (json_object_get (reply, "pid")), 0);
    json_decref (reply);
    json_t *replies [6];
    flot_err_t errors [6];
    s_recv (world, corrs, 6, replies, errors);
    int64_t took = zclock_mono () - start;
    for (int i = 0; i < 6; i++) {
        if (!replies [i])
            fail_msg ("slot-%d: %s", i, errors [i].message);
        assert_string_equal (s_field (replies [i], "status"), "succeeded");
        json_decref (replies [i]);
    }
    assert_true (took >= 1800);
    assert_int_equal (s_most_at_once ("slot-"), 2);
    assert_int_equal (s_starts ("slot-6"), 0);
    world_stop (&world);
    zhash_destroy (&options);
}

static void
test_executor_keeps_stderr_apart_and_cuts_it_with_a_note (void **state)
{
    flot_err_t err;
    json_t *step = s_step ("{}", 5000);
    json_object_set_new (json_object_get (step, "hook"), "command", json_string ("noisy.sh"));
    json_t *reply = s_call (*state, "ExecuteStep", step, &err);
    if (!reply)
        fail_msg ("%s", err.message);
    assert_string_equal (s_field (reply, "status"), "succeeded");
    assert_string_equal (s_field (reply, "output"), "out\n");
    const char *errors = s_field (reply, "stderr");
    const char *note = "[... 34469 bytes cut]\n";
    assert_int_equal (strlen (errors), strlen (note) + 65536);
    assert_memory_equal (errors, note, strlen (note));
    assert_string_equal (errors + strlen (errors) - 6, "eE-END");
    json_decref (reply);
}

//  A burst of steps keeps the executor's loop busy spawning, for longer
//  than the hooks' timeout, while the first hooks have long exited: their
//  exits and their timeouts are both due when the loop comes back to them.
//  A hook that exited is never reported timed out (the rollbacks of 5,000
//  concurrent canaries: zloop ran due timers first, served one poller
//  change a turn, and the timeout did not ask whether the hook had
//  exited). Each hook is /bin/true: a run reported `timeout` whose process
//  exited by itself (exit code 0, no signal) is the fault; one that a
//  loaded machine kept from running within its timeout is stopped by a
//  signal, and may be.
#define BURST 256
#define BURST_TIMEOUT_MS 20

static void
test_executor_never_times_out_a_hook_that_exited_while_busy (void **state)
{
    (void) state;
    char path [256];
    snprintf (path, sizeof path, "%s/true", s_hooks);
    if (symlink ("/bin/true", path))
        assert_int_equal (errno, EEXIST);
    zhash_t *options = zhash_new ();
    zhash_insert (options, "hooks-dir", s_hooks);
    zhash_insert (options, "slots", "1000");
    world_t *world = world_start_with (s_defs, options);
    uint64_t corrs [BURST];
    for (int i = 0; i < BURST; i++) {
        char deployment [32];
        snprintf (deployment, sizeof deployment, "burst-%d", i);
        json_t *step = s_slow_step (deployment, 1, "0", NULL, BURST_TIMEOUT_MS);
        json_t *hook = json_object_get (step, "hook");
        json_object_set_new (hook, "command", json_string ("true"));
        corrs [i] = s_send (world, step);
    }
    json_t *replies [BURST];
    flot_err_t errors [BURST];
    s_recv (world, corrs, BURST, replies, errors);
    int wrong = 0, succeeded = 0;
    for (int i = 0; i < BURST; i++) {
        if (!replies [i])
            fail_msg ("burst-%d: %s", i, errors [i].message);
        const char *status = s_field (replies [i], "status");
        json_int_t code = json_integer_value (json_object_get (replies [i], "exit_code"));
        json_int_t signal = json_integer_value (json_object_get (replies [i], "signal"));
        if (streq (status, "succeeded"))
            succeeded++;
        else {
            assert_string_equal (status, "timeout");
            wrong += code == 0 && signal == 0;
        }
        json_decref (replies [i]);
    }
    if (wrong)
        fail_msg ("%d exited by themselves, reported timed out (%d succeeded)", wrong,
                  succeeded);
    assert_true (succeeded > 0);
    world_stop (&world);
    zhash_destroy (&options);
}

//  The record keeps at most so many finished runs, none older than so
//  long, and never drops one still running.
static void
test_executor_record_is_bounded (void **state)
{
    (void) state;
    char why [300];
    runs_t *runs = runs_open (NULL, why, sizeof why);
    assert_non_null (runs);
    runs_record_t record = { .state = "succeeded", .output = "out", .stderr_text = "" };
    for (int i = 0; i < 5; i++) {
        char deployment [16];
        snprintf (deployment, sizeof deployment, "keep-%d", i);
        assert_int_equal (runs_started (runs, deployment, "a/1", 1, 100, 1, "boot"), 0);
        assert_int_equal (runs_ended (runs, deployment, "a/1", 1, &record), 0);
        zclock_sleep (3);
    }
    assert_int_equal (runs_started (runs, "keep-run", "a/1", 1, 100, 1, "boot"), 0);
    //  3 kept: the newest.
    assert_int_equal (runs_prune (runs, 3600000, 3), 2);
    runs_record_t found;
    assert_int_equal (runs_find (runs, "keep-1", "a/1", 1, &found), 0);
    assert_int_equal (runs_find (runs, "keep-2", "a/1", 1, &found), 1);
    assert_string_equal (found.output, "out");
    runs_record_clear (&found);
    //  Those that ended over 0 ms ago: every finished one; not the running.
    zclock_sleep (3);
    assert_int_equal (runs_prune (runs, 0, 10000), 3);
    assert_int_equal (runs_find (runs, "keep-run", "a/1", 1, &found), 1);
    assert_string_equal (found.state, "running");
    runs_record_clear (&found);
    runs_close (&runs);
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
        cmocka_unit_test (
            test_step_result_refuses_a_key_given_twice_and_ignores_unknown_keys),
        cmocka_unit_test (test_executor_refuses_an_absolute_path),
        cmocka_unit_test (test_executor_says_why_a_hook_could_not_start),
        cmocka_unit_test (test_executor_refuses_a_hook_that_leaves_its_directory),
        cmocka_unit_test (test_executor_runs_what_its_directory_holds_there),
        cmocka_unit_test (test_executor_refuses_env_that_changes_how_a_hook_runs),
        cmocka_unit_test (test_executor_without_a_hooks_directory_runs_nothing),
        cmocka_unit_test (test_executor_refuses_a_hooks_directory_others_may_write),
        cmocka_unit_test (test_executor_runs_a_key_once_while_it_runs),
        cmocka_unit_test (test_executor_answers_a_key_that_ended_with_its_record),
        cmocka_unit_test (test_executor_runs_nothing_asked_again_for_a_key_it_never_had),
        cmocka_unit_test (test_executor_reads_a_process_start_time),
        cmocka_unit_test (test_executor_restart_orphans_what_was_left_running),
        cmocka_unit_test (test_executor_slots_queue_without_counting_the_wait),
        cmocka_unit_test (test_executor_keeps_stderr_apart_and_cuts_it_with_a_note),
        cmocka_unit_test (test_executor_record_is_bounded),
        cmocka_unit_test (test_executor_never_times_out_a_hook_that_exited_while_busy),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
