/*  test_rollback.c - the rollback actor reverts what a deployment changed:
    a real broker and the rollback actor run as threads of the test, the
    real executor and the real strategy service as child processes
    (flotillad --connect ENDPOINT --actors executor, and strategy) on an
    ipc:// endpoint, so the test links no other actor; a real hook script
    (hooks/rollback.sh) records every call to a file, so the order hooks ran
    in is asserted from that record. Each rollback runs from the RESOLVED
    deployment the strategy service's Resolve makes of a spec, as the
    coordinator's does, and the strategy service's HandleFailure decides
    what a failed step leads to. Immediate and gradual rollbacks over a
    small DAG (d needs b and c, which need a), blue-green switchBack,
    targets already reverted, retries then failure, a strategy service
    that is missing (the step waits, then goes on once one starts), the
    actor stopping or the rollback ended by hand while a step waits,
    CompleteRollback, status during and after, CONFLICT, NOT_FOUND, a
    caller that leaves, a request without `resolved` (from an older
    coordinator), hostile bodies, and ShouldRollback through the actor.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>
#include <cmocka.h>

#include "flotilla/json.h"
#include "rollback.h"
#include "world.h"

typedef struct {
    world_t *world;             //  the rollback actor; executor and strategy processes
    flot_client_t *extra [2];   //  a test's own clients, destroyed in teardown
    char record [64];           //  the hook's record file
    json_t *early;              //  answers received before they were waited for
} test_t;

static flot_client_t *
s_client (test_t *self)
{
    return world_client (self->world);
}

static int
    s_teardown (void **state);

//  The broker on an ipc:// endpoint of this process and this test (a child
//  process cannot reach inproc), the rollback actor as a thread, the
//  executor and the strategy service as flotillad processes.
//  The executor runs the hooks of tests/unit/hooks.
static const char *const s_executor_args [] = { "--hooks-dir", HOOKS_DIR, NULL };

static int
s_setup (void **state)
{
    static const flot_actor_def_t *const defs [] = { &flot_rollback_actor, NULL };
    static int generation = 0;
    test_t *self = calloc (1, sizeof *self);
    assert_non_null (self);
    *state = self;
    self->early = json_array ();
    snprintf (self->record, sizeof self->record, "/tmp/flot-rollback-XXXXXX");
    int fd = mkstemp (self->record);
    assert_true (fd >= 0);
    close (fd);
    char endpoint [128];
    snprintf (endpoint, sizeof endpoint, "ipc:///tmp/flot-test-rollback-%d-%d.sock",
              (int) getpid (), ++generation);
    self->world = world_start_at (defs, endpoint);
    //  cmocka runs no teardown after a failed setup: clean up here. The
    //  executor runs the hooks of tests/unit/hooks (its --hooks-dir).
    if (world_spawn_args (self->world, FLOTILLAD, "executor", s_executor_args) < 0
    ||  world_spawn (self->world, FLOTILLAD, "strategy") < 0) {
        s_teardown (state);
        *state = NULL;
        return -1;
    }
    return 0;
}

//  Runs after a failed assertion too: every child process is reaped.
static int
s_teardown (void **state)
{
    test_t *self = *state;
    for (size_t i = 0; i < 2; i++)
        flot_client_destroy (&self->extra [i]);
    world_stop (&self->world);
    json_decref (self->early);
    unlink (self->record);
    free (self);
    return 0;
}

//  --------------------------------------------------------------------------
//  Specs and bodies

typedef struct {
    const char *strategy;       //  "rolling: {}" unless given
    int concurrency;
    const char *mode;           //  immediate or gradual
    int retries;
    const char *sleep;          //  HOOK_SLEEP
    const char *fail;           //  HOOK_FAIL
} spec_opts_t;

//  The DAG: b and c need a, d needs b and c. Reverse order: d, c, b, a.
static char *
s_spec (test_t *self, spec_opts_t opts)
{
    char *text = NULL;
    int rc = asprintf (&text,
        "apiVersion: flotilla/v1\n"
        "kind: Deployment\n"
        "name: shop\n"
        "workload: {name: shop, version: \"2.0\", rollbackVersion: \"1.0\"}\n"
        "targets:\n"
        "  - {name: a}\n"
        "  - {name: b, dependsOn: [a]}\n"
        "  - {name: c, dependsOn: [a]}\n"
        "  - {name: d, dependsOn: [b, c]}\n"
        "strategy:\n"
        "  %s\n"
        "hook:\n"
        "  command: ./rollback.sh\n"
        "  timeout: 10s\n"
        "  retries: %d\n"
        "  backoff: 100ms\n"
        "  env: {RECORD: \"%s\", HOOK_SLEEP: \"%s\", HOOK_FAIL: \"%s\"}\n"
        "policy:\n"
        "  maxConcurrency: %d\n"
        "rollback: {mode: %s}\n",
        opts.strategy ? opts.strategy : "rolling: {}", opts.retries, self->record,
        opts.sleep ? opts.sleep : "0", opts.fail ? opts.fail : "",
        opts.concurrency ? opts.concurrency : 1, opts.mode ? opts.mode : "immediate");
    assert_true (rc > 0);
    return text;
}

//  The RESOLVED deployment of spec, as the strategy service's Resolve
//  answers it (the world's strategy actor).
static json_t *
s_resolve (test_t *self, const char *spec)
{
    flot_err_t err;
    json_t *resolved = world_call (self->world, "strategy", NULL, "Resolve",
        json_pack ("{s:s, s:s}", "spec", spec, "file", "shop.yaml"), &err);
    if (!resolved)
        fail_msg ("Resolve: %s", err.message);
    return resolved;
}

//  An InitiateRollback body, from spec's RESOLVED deployment (spec taken);
//  the lists are JSON arrays (switched and reverted may be NULL).
static json_t *
s_initiate_body (test_t *self, const char *deployment, char *spec, const char *touched,
                 const char *switched, const char *reverted)
{
    json_t *body = json_pack ("{s:s, s:o, s:s, s:s, s:o}",
        "deployment", deployment, "resolved", s_resolve (self, spec), "cwd", HOOKS_DIR,
        "reason", "error rate up", "touched", json_loads (touched, 0, NULL));
    assert_non_null (body);
    if (switched)
        json_object_set_new (body, "switched", json_loads (switched, 0, NULL));
    if (reverted)
        json_object_set_new (body, "reverted", json_loads (reverted, 0, NULL));
    free (spec);
    return body;
}

//  Sends a request (body taken) without waiting; returns its corr.
static uint64_t
s_send (test_t *self, const char *command, json_t *body)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    assert_int_equal (flot_json_pack (&pk, body), 0);
    json_decref (body);
    flot_err_t err;
    uint64_t corr = flot_client_send (s_client (self), "rollback", NULL, command,
                                      sbuf.data, sbuf.size, 10000, &err);
    msgpack_sbuffer_destroy (&sbuf);
    assert_true (corr != 0);
    return corr;
}

//  The next answer to corr: its kind, and its body as JSON (NULL for an
//  ERROR, whose code and message go to err). Answers to other requests and
//  streams that come first are kept for their own turn, so that a call
//  made while a stream is open does not lose the stream's messages.
static int
s_next (test_t *self, uint64_t corr, json_t **body, flot_err_t *err)
{
    size_t i;
    json_t *kept;
    json_array_foreach (self->early, i, kept) {
        if ((uint64_t) json_integer_value (json_object_get (kept, "corr")) != corr)
            continue;
        int kind = (int) json_integer_value (json_object_get (kept, "kind"));
        *body = json_incref (json_object_get (kept, "body"));
        err->code = (int) json_integer_value (json_object_get (kept, "code"));
        snprintf (err->message, sizeof err->message, "%s",
                  json_string_value (json_object_get (kept, "message")));
        json_array_remove (self->early, i);
        return kind;
    }
    int64_t deadline = zclock_mono () + 15000;
    while (zclock_mono () < deadline) {
        flot_reply_t reply;
        if (flot_client_recv (s_client (self), &reply, 500, err))
            continue;
        int kind = reply.kind;
        json_t *decoded_body = NULL;
        flot_err_t error = { 0, "" };
        if (kind == FLOT_ERROR)
            flot_unpack_error (zframe_data (reply.body), zframe_size (reply.body), &error);
        else {
            flot_body_t *decoded = flot_body_decode (zframe_data (reply.body),
                                                     zframe_size (reply.body), &error);
            assert_non_null (decoded);
            decoded_body = flot_json_from_msgpack (flot_body_root (decoded));
            flot_body_destroy (&decoded);
        }
        uint64_t got = reply.corr;
        flot_reply_clear (&reply);
        if (got == corr) {
            *body = decoded_body;
            *err = error;
            return kind;
        }
        json_array_append_new (self->early, json_pack ("{s:I, s:i, s:o*, s:i, s:s}",
            "corr", (json_int_t) got, "kind", kind, "body", decoded_body,
            "code", error.code, "message", error.message));
    }
    fail_msg ("no answer to corr %llu in 15 s", (unsigned long long) corr);
    return -1;
}

//  Starts a rollback; returns the corr of its stream and checks steps_total.
static uint64_t
s_initiate (test_t *self, json_t *body, int steps_total)
{
    uint64_t corr = s_send (self, "InitiateRollback", body);
    json_t *reply;
    flot_err_t err;
    int kind = s_next (self, corr, &reply, &err);
    if (kind != FLOT_REPLY)
        fail_msg ("InitiateRollback: %s", kind == FLOT_ERROR ? err.message : "not a reply");
    assert_int_equal (json_integer_value (json_object_get (reply, "stream")), corr);
    assert_int_equal (json_integer_value (json_object_get (reply, "steps_total")), steps_total);
    json_decref (reply);
    return corr;
}

//  The stream's messages up to and with its end, as a JSON array.
static json_t *
s_stream (test_t *self, uint64_t corr)
{
    json_t *messages = json_array ();
    while (true) {
        json_t *body;
        flot_err_t err;
        int kind = s_next (self, corr, &body, &err);
        if (kind == FLOT_ERROR)
            fail_msg ("the stream failed: %s", err.message);
        json_array_append_new (messages, body);
        if (kind == FLOT_STREAM_END)
            return messages;
        assert_int_equal (kind, FLOT_STREAM);
    }
}

//  Calls the rollback service: the reply, or NULL with err.
static json_t *
s_call (test_t *self, const char *command, json_t *body, flot_err_t *err)
{
    json_t *reply = NULL;
    int kind = s_next (self, s_send (self, command, body), &reply, err);
    assert_true (kind == FLOT_REPLY || kind == FLOT_ERROR);
    return reply;
}

static json_t *
s_status (test_t *self, const char *deployment)
{
    flot_err_t err;
    json_t *status = s_call (self, "GetRollbackStatus",
                             json_pack ("{s:s}", "deployment", deployment), &err);
    if (!status)
        fail_msg ("GetRollbackStatus: %s", err.message);
    return status;
}

static const char *
s_str (json_t *object, const char *key)
{
    const char *value = json_string_value (json_object_get (object, key));
    return value ? value : "(none)";
}

//  "name:state:attempt ..." of a status' targets, in its order.
static void
s_targets (json_t *status, char *out, size_t cap)
{
    size_t used = 0;
    out [0] = 0;
    size_t i;
    json_t *target;
    json_array_foreach (json_object_get (status, "targets"), i, target)
        used += (size_t) snprintf (out + used, cap - used, "%s%s:%s:%lld", i ? " " : "",
                                   s_str (target, "name"), s_str (target, "state"),
                                   (long long) json_integer_value (json_object_get (target, "attempt")));
}

//  The record file's lines, joined by '\n'.
static char *
s_record (test_t *self)
{
    FILE *file = fopen (self->record, "r");
    assert_non_null (file);
    char *text = calloc (1, 65536);
    size_t got = fread (text, 1, 65535, file);
    fclose (file);
    text [got] = 0;
    return text;
}

//  The line number (from 0) of the first record line starting with prefix, or -1.
static int
s_line_of (const char *record, const char *prefix)
{
    int line = 0;
    size_t len = strlen (prefix);
    for (const char *p = record; *p; line++) {
        if (strncmp (p, prefix, len) == 0)
            return line;
        const char *eol = strchr (p, '\n');
        if (!eol)
            break;
        p = eol + 1;
    }
    return -1;
}

//  The most hooks the record shows running at once.
static int
s_max_overlap (const char *record)
{
    int running = 0, most = 0;
    for (const char *p = record; *p; ) {
        if (strncmp (p, "start ", 6) == 0 && ++running > most)
            most = running;
        if (strncmp (p, "end ", 4) == 0)
            running--;
        const char *eol = strchr (p, '\n');
        if (!eol)
            break;
        p = eol + 1;
    }
    return most;
}

//  Waits until the record holds a line starting with prefix.
static void
s_wait_record (test_t *self, const char *prefix)
{
    for (int i = 0; i < 300; i++) {
        char *record = s_record (self);
        int line = s_line_of (record, prefix);
        free (record);
        if (line >= 0)
            return;
        zclock_sleep (20);
    }
    fail_msg ("the record never got '%s'", prefix);
}

//  Asks GetRollbackStatus until the deployment's target is no longer in
//  state (timeout_ms at most); returns that status.
static json_t *
s_status_until_not (test_t *self, const char *deployment, const char *target,
                    const char *state, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        json_t *status = s_status (self, deployment);
        size_t i;
        json_t *each;
        const char *now = "(absent)";
        json_array_foreach (json_object_get (status, "targets"), i, each)
            if (streq (s_str (each, "name"), target))
                now = s_str (each, "state");
        if (!streq (now, state))
            return status;
        json_decref (status);
        if (zclock_mono () >= deadline)
            fail_msg ("%s's target %s was still %s after %d ms", deployment, target, state,
                      timeout_ms);
        zclock_sleep (20);
    }
}

//  --------------------------------------------------------------------------
//  Rollbacks

static void
test_rollback_immediate_reverts_in_reverse_order_one_at_a_time (void **state)
{
    test_t *self = *state;
    json_t *body = s_initiate_body (self, "shop-1",
                                    s_spec (self, (spec_opts_t) { .concurrency = 1 }),
                                    "[\"a\", \"b\", \"c\", \"d\"]", NULL, NULL);
    uint64_t corr = s_initiate (self, body, 4);
    json_t *messages = s_stream (self, corr);
    char *record = s_record (self);
    assert_string_equal (record,
        "start d d/rollback rollback 1.0 2.0 0 1\nend d d/rollback rollback 1.0 2.0 0 1 0\n"
        "start c c/rollback rollback 1.0 2.0 0 1\nend c c/rollback rollback 1.0 2.0 0 1 0\n"
        "start b b/rollback rollback 1.0 2.0 0 1\nend b b/rollback rollback 1.0 2.0 0 1 0\n"
        "start a a/rollback rollback 1.0 2.0 0 1\nend a a/rollback rollback 1.0 2.0 0 1 0\n");
    free (record);
    //  One message when it starts, two per step, one at the end.
    assert_int_equal (json_array_size (messages), 10);
    json_t *first = json_array_get (messages, 0);
    assert_string_equal (s_str (first, "state"), "running");
    assert_int_equal (json_integer_value (json_object_get (first, "percent")), 0);
    assert_non_null (strstr (s_str (first, "message"), "rolling back 4 targets (immediate): error rate up"));
    json_t *step = json_array_get (messages, 2);
    assert_string_equal (s_str (step, "target"), "d");
    assert_string_equal (s_str (step, "step_id"), "d/rollback");
    assert_string_equal (s_str (step, "step_state"), "succeeded");
    assert_int_equal (json_integer_value (json_object_get (step, "percent")), 25);
    assert_non_null (strstr (s_str (step, "output"), "reverting d: status 0"));
    json_t *last = json_array_get (messages, 9);
    assert_string_equal (s_str (last, "deployment"), "shop-1");
    assert_string_equal (s_str (last, "state"), "completed");
    assert_int_equal (json_integer_value (json_object_get (last, "percent")), 100);
    assert_string_equal (s_str (last, "message"), "rolled back 4 targets");
    assert_true (json_integer_value (json_object_get (last, "started_ms")) > 0);
    json_decref (messages);

    json_t *status = s_status (self, "shop-1");
    assert_string_equal (s_str (status, "state"), "completed");
    assert_string_equal (s_str (status, "reason"), "error rate up");
    assert_int_equal (json_integer_value (json_object_get (status, "percent")), 100);
    assert_true (json_integer_value (json_object_get (status, "finished_ms"))
              >= json_integer_value (json_object_get (status, "started_ms")));
    char targets [256];
    s_targets (status, targets, sizeof targets);
    assert_string_equal (targets, "d:reverted:1 c:reverted:1 b:reverted:1 a:reverted:1");
    json_decref (status);
}

static void
test_rollback_immediate_runs_up_to_max_concurrency (void **state)
{
    test_t *self = *state;
    json_t *body = s_initiate_body (self, "shop-2",
        s_spec (self, (spec_opts_t) { .concurrency = 2, .sleep = "0.3" }),
        "[\"a\", \"b\", \"c\", \"d\"]", NULL, NULL);
    json_t *messages = s_stream (self, s_initiate (self, body, 4));
    assert_string_equal (s_str (json_array_get (messages, json_array_size (messages) - 1), "state"),
                         "completed");
    json_decref (messages);
    char *record = s_record (self);
    assert_int_equal (s_max_overlap (record), 2);
    //  d and c first; immediate does not wait for dependents: a starts
    //  while b still runs.
    assert_true (s_line_of (record, "start d") < 2 && s_line_of (record, "start c") < 2);
    assert_true (s_line_of (record, "start a") < s_line_of (record, "end b"));
    free (record);
}

static void
test_rollback_gradual_waits_for_dependents (void **state)
{
    test_t *self = *state;
    json_t *body = s_initiate_body (self, "shop-3",
        s_spec (self, (spec_opts_t) { .concurrency = 4, .mode = "gradual", .sleep = "0.3" }),
        "[\"a\", \"b\", \"c\", \"d\"]", NULL, NULL);
    json_t *messages = s_stream (self, s_initiate (self, body, 4));
    assert_non_null (strstr (s_str (json_array_get (messages, 0), "message"), "(gradual)"));
    assert_string_equal (s_str (json_array_get (messages, json_array_size (messages) - 1), "state"),
                         "completed");
    json_decref (messages);
    char *record = s_record (self);
    int end_d = s_line_of (record, "end d"), end_b = s_line_of (record, "end b");
    int end_c = s_line_of (record, "end c"), start_a = s_line_of (record, "start a");
    //  d alone, then b and c together, then a.
    assert_int_equal (s_line_of (record, "start d"), 0);
    assert_int_equal (end_d, 1);
    assert_true (s_line_of (record, "start b") > end_d && s_line_of (record, "start c") > end_d);
    assert_int_equal (s_max_overlap (record), 2);
    assert_true (start_a > end_b && start_a > end_c);
    free (record);
}

static void
test_rollback_switches_back_switched_targets (void **state)
{
    test_t *self = *state;
    //  b was switched (so it is touched even if not listed), c only previewed.
    json_t *body = s_initiate_body (self, "shop-4",
        s_spec (self, (spec_opts_t) { .strategy = "blueGreen: {autoPromote: true}" }),
        "[\"c\"]", "[\"b\"]", NULL);
    json_t *messages = s_stream (self, s_initiate (self, body, 2));
    json_decref (messages);
    char *record = s_record (self);
    assert_string_equal (record,
        "start c c/rollback rollback 1.0 2.0 0 1\nend c c/rollback rollback 1.0 2.0 0 1 0\n"
        "start b b/rollback switchBack 1.0 2.0 0 1\nend b b/rollback switchBack 1.0 2.0 0 1 0\n");
    free (record);
}

static void
test_rollback_skips_targets_already_reverted (void **state)
{
    test_t *self = *state;
    json_t *body = s_initiate_body (self, "shop-5",
        s_spec (self, (spec_opts_t) { .concurrency = 4, .mode = "gradual" }),
        "[\"a\", \"b\", \"c\", \"d\"]", NULL, "[\"d\", \"b\"]");
    json_t *messages = s_stream (self, s_initiate (self, body, 2));
    json_t *last = json_array_get (messages, json_array_size (messages) - 1);
    assert_string_equal (s_str (last, "message"), "rolled back 2 targets");
    json_decref (messages);
    //  c need not wait for d (reverted already), a not for b.
    char *record = s_record (self);
    assert_string_equal (record,
        "start c c/rollback rollback 1.0 2.0 0 1\nend c c/rollback rollback 1.0 2.0 0 1 0\n"
        "start a a/rollback rollback 1.0 2.0 0 1\nend a a/rollback rollback 1.0 2.0 0 1 0\n");
    free (record);
    json_t *status = s_status (self, "shop-5");
    char targets [256];
    s_targets (status, targets, sizeof targets);
    assert_string_equal (targets, "d:reverted:0 c:reverted:1 b:reverted:0 a:reverted:1");
    json_decref (status);
}

static void
test_rollback_retries_a_failing_hook_then_fails (void **state)
{
    test_t *self = *state;
    json_t *body = s_initiate_body (self, "shop-6",
        s_spec (self, (spec_opts_t) { .retries = 2, .fail = "c=99" }),
        "[\"a\", \"b\", \"c\", \"d\"]", NULL, NULL);
    int64_t start = zclock_mono ();
    json_t *messages = s_stream (self, s_initiate (self, body, 4));
    int64_t took = zclock_mono () - start;
    assert_true (took >= 300);                  //  backoff 100 ms, then 200 ms
    char *record = s_record (self);
    assert_string_equal (record,
        "start d d/rollback rollback 1.0 2.0 0 1\nend d d/rollback rollback 1.0 2.0 0 1 0\n"
        "start c c/rollback rollback 1.0 2.0 0 1\nend c c/rollback rollback 1.0 2.0 0 1 1\n"
        "start c c/rollback rollback 1.0 2.0 0 2\nend c c/rollback rollback 1.0 2.0 0 2 1\n"
        "start c c/rollback rollback 1.0 2.0 0 3\nend c c/rollback rollback 1.0 2.0 0 3 1\n");
    free (record);
    //  The retries are announced, and the last message names the failure.
    bool retry_100 = false, retry_200 = false;
    size_t i;
    json_t *message;
    json_array_foreach (messages, i, message) {
        retry_100 |= strstr (s_str (message, "message"),
                             "step c/rollback attempt 1 failed: the hook exited with status 1; "
                             "retrying in 100 ms") != NULL;
        retry_200 |= strstr (s_str (message, "message"), "attempt 2 failed") != NULL
                  && strstr (s_str (message, "message"), "retrying in 200 ms") != NULL;
    }
    assert_true (retry_100 && retry_200);
    json_t *last = json_array_get (messages, json_array_size (messages) - 1);
    assert_string_equal (s_str (last, "state"), "failed");
    assert_string_equal (s_str (last, "target"), "c");
    assert_string_equal (s_str (last, "step_state"), "failed");
    assert_string_equal (s_str (last, "message"),
                         "rollback of c failed after 3 attempts: the hook exited with status 1");
    assert_non_null (strstr (s_str (last, "output"), "reverting c: status 1"));
    assert_int_equal (json_integer_value (json_object_get (last, "percent")), 25);
    json_decref (messages);
    json_t *status = s_status (self, "shop-6");
    assert_string_equal (s_str (status, "state"), "failed");
    char targets [256];
    s_targets (status, targets, sizeof targets);
    assert_string_equal (targets, "d:reverted:1 c:failed:3 b:pending:0 a:pending:0");
    json_decref (status);
}

static void
test_rollback_retry_that_succeeds_goes_on (void **state)
{
    test_t *self = *state;
    json_t *body = s_initiate_body (self, "shop-7",
        s_spec (self, (spec_opts_t) { .retries = 1, .fail = "b=1" }),
        "[\"a\", \"b\"]", NULL, NULL);
    json_t *messages = s_stream (self, s_initiate (self, body, 2));
    json_t *last = json_array_get (messages, json_array_size (messages) - 1);
    assert_string_equal (s_str (last, "state"), "completed");
    json_decref (messages);
    char *record = s_record (self);
    assert_string_equal (record,
        "start b b/rollback rollback 1.0 2.0 0 1\nend b b/rollback rollback 1.0 2.0 0 1 1\n"
        "start b b/rollback rollback 1.0 2.0 0 2\nend b b/rollback rollback 1.0 2.0 0 2 0\n"
        "start a a/rollback rollback 1.0 2.0 0 1\nend a a/rollback rollback 1.0 2.0 0 1 0\n");
    free (record);
    json_t *status = s_status (self, "shop-7");
    char targets [256];
    s_targets (status, targets, sizeof targets);
    assert_string_equal (targets, "b:reverted:2 a:reverted:1");
    json_decref (status);
}

static void
test_rollback_of_nothing_completes_at_once (void **state)
{
    test_t *self = *state;
    json_t *body = s_initiate_body (self, "shop-8", s_spec (self, (spec_opts_t) { 0 }), "[]",
                                    NULL, NULL);
    json_t *messages = s_stream (self, s_initiate (self, body, 0));
    json_t *last = json_array_get (messages, json_array_size (messages) - 1);
    assert_string_equal (s_str (last, "state"), "completed");
    assert_int_equal (json_integer_value (json_object_get (last, "percent")), 100);
    json_decref (messages);
    char *record = s_record (self);
    assert_string_equal (record, "");
    free (record);
}

//  --------------------------------------------------------------------------
//  Status, completion by hand, conflicts

static void
test_rollback_status_during_and_complete_by_hand (void **state)
{
    test_t *self = *state;
    json_t *body = s_initiate_body (self, "shop-9",
        s_spec (self, (spec_opts_t) { .concurrency = 1, .sleep = "1" }),
        "[\"a\", \"b\", \"c\", \"d\"]", NULL, NULL);
    uint64_t corr = s_initiate (self, body, 4);
    s_wait_record (self, "start d");
    json_t *status = s_status (self, "shop-9");
    assert_string_equal (s_str (status, "state"), "running");
    assert_int_equal (json_integer_value (json_object_get (status, "finished_ms")), 0);
    assert_int_equal (json_integer_value (json_object_get (status, "percent")), 0);
    assert_string_equal (s_str (status, "message"), "reverting d (rollback, attempt 1)");
    char targets [256];
    s_targets (status, targets, sizeof targets);
    assert_string_equal (targets, "d:running:1 c:pending:0 b:pending:0 a:pending:0");
    assert_string_equal (s_str (json_array_get (json_object_get (status, "targets"), 0), "step_id"),
                         "d/rollback");
    json_decref (status);

    //  An operator finishes it by hand while d's hook still runs.
    flot_err_t err;
    json_t *reply = s_call (self, "CompleteRollback",
        json_pack ("{s:s, s:s}", "deployment", "shop-9", "message", "reverted by hand"), &err);
    assert_non_null (reply);
    assert_string_equal (s_str (reply, "state"), "completed");
    assert_string_equal (s_str (reply, "message"), "reverted by hand");
    assert_true (json_integer_value (json_object_get (reply, "finished_ms")) > 0);
    json_decref (reply);
    json_t *messages = s_stream (self, corr);
    json_t *last = json_array_get (messages, json_array_size (messages) - 1);
    assert_string_equal (s_str (last, "state"), "completed");
    assert_string_equal (s_str (last, "message"), "reverted by hand");
    json_decref (messages);

    //  Once more: CONFLICT.
    reply = s_call (self, "CompleteRollback", json_pack ("{s:s}", "deployment", "shop-9"), &err);
    assert_null (reply);
    assert_int_equal (err.code, FLOT_E_CONFLICT);
    assert_non_null (strstr (err.message, "shop-9 is not running: it completed"));

    //  d's hook ends; its result is recorded, nothing else starts, and the
    //  rollback stays completed.
    s_wait_record (self, "end d");
    status = s_status_until_not (self, "shop-9", "d", "running", 5000);
    assert_string_equal (s_str (status, "state"), "completed");
    assert_string_equal (s_str (status, "message"), "reverted by hand");
    s_targets (status, targets, sizeof targets);
    assert_string_equal (targets, "d:reverted:1 c:pending:0 b:pending:0 a:pending:0");
    json_decref (status);
    char *record = s_record (self);
    assert_int_equal (s_line_of (record, "start c"), -1);
    free (record);
}

static void
test_rollback_complete_by_hand_as_failed_then_again (void **state)
{
    test_t *self = *state;
    json_t *body = s_initiate_body (self, "shop-10",
        s_spec (self, (spec_opts_t) { .concurrency = 1, .sleep = "0.5" }),
        "[\"c\", \"d\"]", NULL, NULL);
    uint64_t corr = s_initiate (self, body, 2);
    s_wait_record (self, "start d");
    flot_err_t err;
    json_t *reply = s_call (self, "CompleteRollback",
        json_pack ("{s:s, s:b}", "deployment", "shop-10", "failed", 1), &err);
    assert_non_null (reply);
    assert_string_equal (s_str (reply, "state"), "failed");
    assert_string_equal (s_str (reply, "message"), "failed by hand");
    json_decref (reply);
    json_decref (s_stream (self, corr));
    //  A finished rollback may be started again, here while the late hook
    //  of the first still runs; its answer must not touch the second, whose
    //  own hook (1 s) still runs when the first's (0.5 s) ends.
    body = s_initiate_body (self, "shop-10",
                            s_spec (self, (spec_opts_t) { .concurrency = 1, .sleep = "1" }),
                            "[\"a\"]", NULL, NULL);
    corr = s_initiate (self, body, 1);
    s_wait_record (self, "end d");
    json_t *status = s_status (self, "shop-10");
    assert_string_equal (s_str (status, "state"), "running");
    char targets [256];
    s_targets (status, targets, sizeof targets);
    assert_string_equal (targets, "a:running:1");
    json_decref (status);
    json_t *messages = s_stream (self, corr);
    size_t i;
    json_t *message;
    json_array_foreach (messages, i, message) {
        assert_string_not_equal (s_str (message, "target"), "d");
        assert_null (strstr (s_str (message, "message"), "d/rollback"));
    }
    json_t *last = json_array_get (messages, json_array_size (messages) - 1);
    assert_string_equal (s_str (last, "state"), "completed");
    assert_string_equal (s_str (last, "message"), "rolled back 1 target");
    json_decref (messages);
    status = s_status (self, "shop-10");
    assert_string_equal (s_str (status, "state"), "completed");
    s_targets (status, targets, sizeof targets);
    assert_string_equal (targets, "a:reverted:1");
    json_decref (status);
    //  The first's late answer came while the second ran: d ended after a
    //  started, and before a ended.
    char *record = s_record (self);
    int started = s_line_of (record, "start a"), ended = s_line_of (record, "end a");
    int late = s_line_of (record, "end d");
    if (!(started >= 0 && started < late && late < ended))
        fail_msg ("expected start a, end d, end a in that order; the record:\n%s", record);
    free (record);
}

//  The same rollback asked again while it runs (its caller restarted): the
//  new stream takes it up, hears first what ran and runs, then the rest;
//  no hook runs twice and the first stream ends.
static void
test_rollback_asked_again_is_taken_up (void **state)
{
    test_t *self = *state;
    json_t *body = s_initiate_body (self, "shop-31",
        s_spec (self, (spec_opts_t) { .concurrency = 1, .sleep = "0.3" }),
        "[\"a\", \"b\", \"c\", \"d\"]", NULL, NULL);
    uint64_t first = s_initiate (self, body, 4);
    s_wait_record (self, "start c");
    body = s_initiate_body (self, "shop-31",
        s_spec (self, (spec_opts_t) { .concurrency = 1, .sleep = "0.3" }),
        "[\"a\", \"b\", \"c\", \"d\"]", NULL, NULL);
    uint64_t second = s_initiate (self, body, 4);
    json_t *messages = s_stream (self, first);
    json_t *last = json_array_get (messages, json_array_size (messages) - 1);
    assert_string_equal (s_str (last, "state"), "running");
    json_decref (messages);
    messages = s_stream (self, second);
    //  d reverted, c running: told first, in that order.
    json_t *m0 = json_array_get (messages, 0), *m1 = json_array_get (messages, 1);
    assert_string_equal (s_str (m0, "target"), "d");
    assert_string_equal (s_str (m0, "step_state"), "succeeded");
    assert_string_equal (s_str (m1, "target"), "c");
    assert_string_equal (s_str (m1, "step_state"), "running");
    last = json_array_get (messages, json_array_size (messages) - 1);
    assert_string_equal (s_str (last, "state"), "completed");
    json_decref (messages);
    char *record = s_record (self);
    const char *starts [] = { "start d", "start c", "start b", "start a" };
    for (size_t i = 0; i < 4; i++) {
        const char *at = strstr (record, starts [i]);
        assert_non_null (at);
        if (strstr (at + 1, starts [i]))
            fail_msg ("'%s' twice; the record:\n%s", starts [i], record);
    }
    free (record);
}

static void
test_rollback_second_initiate_is_a_conflict (void **state)
{
    test_t *self = *state;
    json_t *body = s_initiate_body (self, "shop-11",
        s_spec (self, (spec_opts_t) { .concurrency = 1, .sleep = "0.3" }), "[\"a\"]", NULL, NULL);
    uint64_t corr = s_initiate (self, body, 1);
    body = s_initiate_body (self, "shop-11", s_spec (self, (spec_opts_t) { 0 }), "[\"b\"]",
                            NULL, NULL);
    flot_err_t err;
    assert_null (s_call (self, "InitiateRollback", body, &err));
    assert_int_equal (err.code, FLOT_E_CONFLICT);
    assert_non_null (strstr (err.message, "the rollback of shop-11 is already running"));
    //  The first goes on undisturbed.
    json_t *messages = s_stream (self, corr);
    assert_string_equal (s_str (json_array_get (messages, json_array_size (messages) - 1), "state"),
                         "completed");
    json_decref (messages);
    char *record = s_record (self);
    assert_int_equal (s_line_of (record, "start b"), -1);
    free (record);
}

static void
test_rollback_unknown_deployment_is_not_found (void **state)
{
    test_t *self = *state;
    flot_err_t err;
    assert_null (s_call (self, "GetRollbackStatus", json_pack ("{s:s}", "deployment", "nope-1"), &err));
    assert_int_equal (err.code, FLOT_E_NOT_FOUND);
    assert_non_null (strstr (err.message, "nope-1"));
    assert_null (s_call (self, "CompleteRollback", json_pack ("{s:s}", "deployment", "nope-1"), &err));
    assert_int_equal (err.code, FLOT_E_NOT_FOUND);
}

//  The stream's caller goes away: the rollback still runs to its end.
static void
test_rollback_finishes_when_its_caller_leaves (void **state)
{
    test_t *self = *state;
    self->extra [0] = flot_client_new (world_endpoint (self->world));
    self->extra [1] = flot_client_new (world_endpoint (self->world));
    flot_client_t *watcher = self->extra [0];
    flot_client_t *reader = self->extra [1];
    assert_non_null (watcher);
    assert_non_null (reader);

    json_t *body = s_initiate_body (self, "shop-12",
        s_spec (self, (spec_opts_t) { .concurrency = 1, .sleep = "0.2" }),
        "[\"a\", \"b\", \"c\"]", NULL, NULL);
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    assert_int_equal (flot_json_pack (&pk, body), 0);
    json_decref (body);
    zframe_t *reply = NULL;
    flot_err_t err;
    int rc = flot_client_call (watcher, "rollback", NULL, "InitiateRollback", sbuf.data,
                               sbuf.size, 5000, &reply, &err);
    msgpack_sbuffer_destroy (&sbuf);
    assert_int_equal (rc, 0);
    zframe_destroy (&reply);
    //  Wait for the first hook, then leave.
    s_wait_record (self, "start c");
    flot_client_destroy (&self->extra [0]);

    bool completed = false;
    for (int i = 0; i < 300 && !completed; i++) {
        const uint8_t request [] = { 0x81, 0xaa, 'd', 'e', 'p', 'l', 'o', 'y', 'm', 'e', 'n', 't',
                                     0xa7, 's', 'h', 'o', 'p', '-', '1', '2' };
        assert_int_equal (flot_client_call (reader, "rollback", NULL, "GetRollbackStatus",
                                            request, sizeof request, 5000, &reply, &err), 0);
        flot_body_t *decoded = flot_body_decode (zframe_data (reply), zframe_size (reply), &err);
        zframe_destroy (&reply);
        char state_name [32] = "";
        flot_map_str (flot_body_root (decoded), "state", true, state_name, sizeof state_name, &err);
        flot_body_destroy (&decoded);
        completed = streq (state_name, "completed");
        if (!completed)
            zclock_sleep (20);
    }
    assert_true (completed);
    char *record = s_record (self);
    assert_true (s_line_of (record, "end a") > s_line_of (record, "end b"));
    assert_true (s_line_of (record, "end b") > s_line_of (record, "end c"));
    free (record);
}

//  No executor serves the targets (its process stopped): the rollback
//  fails, saying so.
static void
test_rollback_waits_for_a_missing_executor (void **state)
{
    test_t *self = *state;
    assert_int_equal (world_kill (self->world, "executor"), 0);
    json_t *body = s_initiate_body (self, "shop-13", s_spec (self, (spec_opts_t) { 0 }), "[\"a\"]",
                                    NULL, NULL);
    uint64_t corr = s_initiate (self, body, 1);
    //  No executor: the step waits, spends no retry, and asks again.
    for (int waits = 0; waits < 2; ) {
        json_t *message;
        flot_err_t err;
        int kind = s_next (self, corr, &message, &err);
        if (kind != FLOT_STREAM)
            fail_msg ("the stream ended (%s) while no executor ran",
                      kind == FLOT_ERROR ? err.message : s_str (message, "message"));
        if (strstr (s_str (message, "message"), "step a/rollback attempt 1 waits for an "
                                                "executor ("))
            waits++;
        json_decref (message);
    }
    json_t *status = s_status (self, "shop-13");
    char targets [256];
    s_targets (status, targets, sizeof targets);
    assert_string_equal (targets, "a:running:1");
    json_decref (status);
    //  An executor comes: the same attempt runs, once.
    assert_true (world_spawn_args (self->world, FLOTILLAD, "executor", s_executor_args) > 0);
    json_t *messages = s_stream (self, corr);
    json_t *last = json_array_get (messages, json_array_size (messages) - 1);
    assert_string_equal (s_str (last, "state"), "completed");
    json_decref (messages);
    char *record = s_record (self);
    assert_true (s_line_of (record, "start a a/rollback rollback 1.0 2.0 0 1") >= 0);
    assert_int_equal (s_line_of (record, "start a a/rollback rollback 1.0 2.0 0 2"), -1);
    free (record);
}

//  --------------------------------------------------------------------------
//  The strategy service decides what a failed step leads to

//  Reads corr's stream until a message says the step waits for the
//  strategy service; fails if the stream ends first. Returns that message.
static json_t *
s_until_waiting (test_t *self, uint64_t corr)
{
    while (true) {
        json_t *body;
        flot_err_t err;
        int kind = s_next (self, corr, &body, &err);
        if (kind != FLOT_STREAM)
            fail_msg ("the stream ended (%s) before the step waited",
                      kind == FLOT_ERROR ? err.message : s_str (body, "message"));
        if (strstr (s_str (body, "message"), "the strategy service could not say"))
            return body;
        json_decref (body);
    }
}

//  A request from a coordinator older than RESOLVED deployments (a spec's
//  text only) is refused, saying why; nothing runs.
static void
test_rollback_without_resolved_is_invalid (void **state)
{
    test_t *self = *state;
    char *spec = s_spec (self, (spec_opts_t) { 0 });
    json_t *body = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:[s]}", "deployment", "shop-17",
                              "spec", spec, "file", "shop.yaml", "cwd", HOOKS_DIR,
                              "reason", "error rate up", "touched", "a");
    free (spec);
    flot_err_t err;
    assert_null (s_call (self, "InitiateRollback", body, &err));
    assert_int_equal (err.code, FLOT_E_INVALID);
    assert_string_equal (err.message, "field 'resolved' is required: this rollback service "
                         "runs only from a RESOLVED deployment (the coordinator is older)");
    assert_null (s_call (self, "GetRollbackStatus", json_pack ("{s:s}", "deployment", "shop-17"),
                         &err));
    assert_int_equal (err.code, FLOT_E_NOT_FOUND);
    char *record = s_record (self);
    assert_string_equal (record, "");
    free (record);
}

//  A RESOLVED deployment whose parts do not fit together is INVALID, named
//  as a field of the request.
static void
test_rollback_refuses_a_resolved_that_does_not_fit (void **state)
{
    test_t *self = *state;
    char *spec = s_spec (self, (spec_opts_t) { 0 });
    json_t *resolved = s_resolve (self, spec);
    free (spec);
    json_t *body = json_pack ("{s:s, s:O, s:s, s:[s]}", "deployment", "shop-18",
                              "resolved", resolved, "reason", "r", "touched", "a");
    json_object_set_new (json_object_get (body, "resolved"), "order",
                         json_pack ("[i,i,i,i]", 0, 0, 1, 2));
    flot_err_t err;
    assert_null (s_call (self, "InitiateRollback", body, &err));
    assert_int_equal (err.code, FLOT_E_INVALID);
    assert_string_equal (err.message, "field 'resolved.order[1]': 0 is given twice");

    body = json_pack ("{s:s, s:O, s:s, s:[s]}", "deployment", "shop-18",
                      "resolved", resolved, "reason", "r", "touched", "a");
    json_t *targets = json_object_get (json_object_get (body, "resolved"), "targets");
    json_object_set_new (json_array_get (targets, 3), "dependsOn", json_pack ("[s]", "zz"));
    assert_null (s_call (self, "InitiateRollback", body, &err));
    assert_int_equal (err.code, FLOT_E_INVALID);
    assert_string_equal (err.message,
                         "field 'resolved.targets[3].dependsOn[0]': 'zz' names no target");
    json_decref (resolved);
    char *record = s_record (self);
    assert_string_equal (record, "");
    free (record);
}

//  With no strategy service to say what a failed step leads to, the step
//  waits and asks again (no failure); once a strategy actor starts, its
//  answer (retry) lets the rollback go on to its end.
static void
test_rollback_step_waits_for_a_missing_strategy_service (void **state)
{
    test_t *self = *state;
    json_t *body = s_initiate_body (self, "shop-14",
        s_spec (self, (spec_opts_t) { .retries = 1, .fail = "a=1" }), "[\"a\", \"b\"]",
        NULL, NULL);
    //  The strategy service's process stops (it exits cleanly).
    assert_int_equal (world_kill (self->world, "strategy"), 0);
    uint64_t corr = s_initiate (self, body, 2);
    //  b is reverted, a's first attempt fails: it waits, and asks again.
    json_t *waiting = s_until_waiting (self, corr);
    assert_string_equal (s_str (waiting, "state"), "running");
    assert_string_equal (s_str (waiting, "target"), "a");
    assert_string_equal (s_str (waiting, "step_id"), "a/rollback");
    assert_null (json_object_get (waiting, "step_state"));
    assert_int_equal (json_integer_value (json_object_get (waiting, "percent")), 50);
    assert_non_null (strstr (s_str (waiting, "message"),
        "step a/rollback attempt 1 failed: the hook exited with status 1; the strategy "
        "service could not say what that leads to ("));
    assert_non_null (strstr (s_str (waiting, "message"), "asking again in 2000 ms"));
    json_decref (waiting);
    int64_t first = zclock_mono ();
    json_decref (s_until_waiting (self, corr));
    assert_true (zclock_mono () - first >= 1500);
    json_t *status = s_status (self, "shop-14");
    assert_string_equal (s_str (status, "state"), "running");
    char targets [256];
    s_targets (status, targets, sizeof targets);
    assert_string_equal (targets, "b:reverted:1 a:running:1");
    json_decref (status);
    char *record = s_record (self);
    assert_int_equal (s_line_of (record, "start a a/rollback rollback 1.0 2.0 0 2"), -1);
    free (record);

    //  A strategy service starts again: at the next question it says retry.
    assert_true (world_spawn (self->world, FLOTILLAD, "strategy") > 0);
    json_t *messages = s_stream (self, corr);
    json_t *last = json_array_get (messages, json_array_size (messages) - 1);
    assert_string_equal (s_str (last, "state"), "completed");
    assert_string_equal (s_str (last, "message"), "rolled back 2 targets");
    bool retried = false;
    size_t i;
    json_t *message;
    json_array_foreach (messages, i, message)
        retried |= strstr (s_str (message, "message"),
                           "step a/rollback attempt 1 failed: the hook exited with status 1; "
                           "retrying in 100 ms") != NULL;
    assert_true (retried);
    json_decref (messages);
    record = s_record (self);
    assert_string_equal (record,
        "start b b/rollback rollback 1.0 2.0 0 1\nend b b/rollback rollback 1.0 2.0 0 1 0\n"
        "start a a/rollback rollback 1.0 2.0 0 1\nend a a/rollback rollback 1.0 2.0 0 1 1\n"
        "start a a/rollback rollback 1.0 2.0 0 2\nend a a/rollback rollback 1.0 2.0 0 2 0\n");
    free (record);
    status = s_status (self, "shop-14");
    s_targets (status, targets, sizeof targets);
    assert_string_equal (targets, "b:reverted:1 a:reverted:2");
    json_decref (status);
}

//  A step waiting for the strategy service ends with its rollback, when it
//  is completed by hand, and with the actor, when it stops. Nothing the wait
//  holds may leak: LeakSanitizer checks that in the sanitizer build
//  (FLOTILLA_SANITIZE), valgrind if one runs the test under it.
static void
test_rollback_waiting_step_ends_with_its_rollback_or_actor (void **state)
{
    test_t *self = *state;
    json_t *first = s_initiate_body (self, "shop-15",
        s_spec (self, (spec_opts_t) { .retries = 1, .fail = "a=9" }), "[\"a\"]", NULL, NULL);
    json_t *second = s_initiate_body (self, "shop-16",
        s_spec (self, (spec_opts_t) { .retries = 1, .fail = "a=9" }), "[\"a\"]", NULL, NULL);
    assert_int_equal (world_kill (self->world, "strategy"), 0);
    uint64_t corr = s_initiate (self, first, 1);
    json_decref (s_until_waiting (self, corr));
    flot_err_t err;
    json_t *reply = s_call (self, "CompleteRollback",
        json_pack ("{s:s, s:s}", "deployment", "shop-15", "message", "reverted by hand"), &err);
    assert_non_null (reply);
    assert_string_equal (s_str (reply, "state"), "completed");
    json_decref (reply);
    json_t *messages = s_stream (self, corr);
    assert_string_equal (s_str (json_array_get (messages, json_array_size (messages) - 1),
                                "message"), "reverted by hand");
    json_decref (messages);
    //  The wait ends (its timer: 2 s); the step failed, and runs no more.
    json_t *status = s_status_until_not (self, "shop-15", "a", "running", 10000);
    assert_string_equal (s_str (status, "state"), "completed");
    char targets [256];
    s_targets (status, targets, sizeof targets);
    assert_string_equal (targets, "a:failed:1");
    json_decref (status);
    char *record = s_record (self);
    assert_string_equal (record, "start a a/rollback rollback 1.0 2.0 0 1\n"
                                 "end a a/rollback rollback 1.0 2.0 0 1 1\n");
    free (record);

    //  The actor stops while a step waits.
    corr = s_initiate (self, second, 1);
    json_decref (s_until_waiting (self, corr));
    world_stop_thread (self->world, "rollback");
}

//  --------------------------------------------------------------------------
//  Hostile bodies

typedef struct {
    const char *command;
    const char *body;           //  JSON; "RESOLVED" in it is replaced by a valid one
    int code;
    const char *message;        //  a substring of the error's sentence
} hostile_t;

static const hostile_t s_hostile [] = {
    { "InitiateRollback", "{}", FLOT_E_INVALID, "field 'deployment' is required" },
    { "InitiateRollback", "{\"deployment\": 7}", FLOT_E_INVALID, "field 'deployment' is a positive integer, expected a string" },
    { "InitiateRollback", "{\"deployment\": \"\"}", FLOT_E_INVALID, "field 'deployment' is 0 bytes, expected at least 1" },
    { "InitiateRollback", "{\"deployment\": \"x\", \"spec\": [1]}", FLOT_E_INVALID, "field 'spec'" },
    { "InitiateRollback", "{\"deployment\": \"x\", \"resolved\": \"RESOLVED\", \"spec\": 5, \"reason\": \"r\", \"touched\": []}",
      FLOT_E_INVALID, "field 'spec' is a positive integer, expected a string" },
    { "InitiateRollback", "{\"deployment\": \"x\", \"resolved\": \"spec\", \"reason\": \"r\", \"touched\": []}",
      FLOT_E_INVALID, "field 'resolved' is a string, expected a map" },
    { "InitiateRollback", "{\"deployment\": \"x\", \"resolved\": {}, \"reason\": \"r\", \"touched\": []}",
      FLOT_E_INVALID, "field 'resolved.deployment' is required" },
    { "InitiateRollback", "{\"deployment\": \"x\", \"resolved\": \"RESOLVED\", \"touched\": []}", FLOT_E_INVALID,
      "field 'reason' is required" },
    { "InitiateRollback", "{\"deployment\": \"x\", \"resolved\": \"RESOLVED\", \"reason\": \"r\"}", FLOT_E_INVALID,
      "field 'touched' is required" },
    { "InitiateRollback", "{\"deployment\": \"x\", \"resolved\": \"RESOLVED\", \"reason\": \"r\", \"touched\": \"a\"}",
      FLOT_E_INVALID, "field 'touched' is a string, expected an array" },
    { "InitiateRollback", "{\"deployment\": \"x\", \"resolved\": \"RESOLVED\", \"reason\": \"r\", \"touched\": [\"a\", 3]}",
      FLOT_E_INVALID, "field 'touched[1]' is a positive integer, expected a string" },
    { "InitiateRollback", "{\"deployment\": \"x\", \"resolved\": \"RESOLVED\", \"reason\": \"r\", \"touched\": [\"zz\"]}",
      FLOT_E_INVALID, "field 'touched[0]': 'zz' is not a target of the deployment" },
    { "InitiateRollback", "{\"deployment\": \"x\", \"resolved\": \"RESOLVED\", \"reason\": \"r\", \"touched\": [], \"switched\": [\"q\"]}",
      FLOT_E_INVALID, "field 'switched[0]': 'q' is not a target" },
    { "InitiateRollback", "{\"deployment\": \"x\", \"resolved\": \"RESOLVED\", \"reason\": \"r\", \"touched\": [], \"reverted\": {}}",
      FLOT_E_INVALID, "field 'reverted' is a map, expected an array" },
    { "InitiateRollback", "{\"deployment\": \"x\", \"resolved\": \"RESOLVED\", \"reason\": \"r\", \"touched\": [], \"cwd\": \"rel/dir\"}",
      FLOT_E_INVALID, "field 'cwd': 'rel/dir' is not an absolute directory" },
    { "GetRollbackStatus", "{\"deployment\": null}", FLOT_E_INVALID, "field 'deployment' is required" },
    { "CompleteRollback", "{\"deployment\": \"x\", \"failed\": \"yes\"}", FLOT_E_INVALID, "field 'failed'" },
    { "CompleteRollback", "{\"deployment\": \"x\", \"message\": 1.5}", FLOT_E_INVALID, "field 'message'" },
    { "ShouldRollback", "{}", FLOT_E_INVALID, "field 'on_failure' is required" },
    { "ShouldRollback", "{\"on_failure\": \"panic\"}", FLOT_E_INVALID,
      "field 'on_failure': 'panic' is not one of failAll, holdDependents, continue" },
    { "ShouldRollback", "{\"on_failure\": \"failAll\", \"health\": true}", FLOT_E_INVALID,
      "field 'health' is a boolean, expected a map" },
    { "ShouldRollback", "{\"on_failure\": \"failAll\", \"health\": {}}", FLOT_E_INVALID,
      "field 'health.healthy' is required" },
    { "ShouldRollback", "{\"on_failure\": \"failAll\", \"health\": {\"healthy\": true, \"check\": 4}}",
      FLOT_E_INVALID, "field 'health.check' is a positive integer" },
    { "ShouldRollback", "{\"on_failure\": \"failAll\", \"analysis\": {\"final\": true}}", FLOT_E_INVALID,
      "field 'analysis.phase' is required" },
    { "ShouldRollback", "{\"on_failure\": \"failAll\", \"analysis\": {\"phase\": \"Failed\"}}", FLOT_E_INVALID,
      "field 'analysis.phase': 'Failed' is not one of" },
    { "ShouldRollback", "{\"on_failure\": \"failAll\", \"analysis\": {\"phase\": \"running\", \"score\": \"high\"}}",
      FLOT_E_INVALID, "field 'analysis.score' is a string, expected a number" },
    { "ShouldRollback", "{\"on_failure\": \"failAll\", \"analysis\": {\"phase\": \"running\", \"recommendation\": \"panic\"}}",
      FLOT_E_INVALID, "field 'analysis.recommendation': 'panic'" },
    { "ShouldRollback", "{\"on_failure\": \"failAll\", \"analysis\": {\"phase\": \"failed\", \"metrics\": [1]}}",
      FLOT_E_INVALID, "field 'analysis.metrics[0]' is a positive integer, expected a map" },
    { "ShouldRollback", "{\"on_failure\": \"failAll\", \"analysis\": {\"phase\": \"failed\", \"metrics\": [{\"value\": 1}]}}",
      FLOT_E_INVALID, "field 'analysis.metrics[0].name' is required" },
    //  A RESULT is all of it, as the analyzer sends it.
    { "ShouldRollback", "{\"on_failure\": \"failAll\", \"analysis\": {\"phase\": \"failed\", \"final\": true, "
      "\"passed\": false, \"score\": -1, \"recommendation\": \"rollback\", \"reason\": \"r\"}}",
      FLOT_E_INVALID, "field 'analysis.metrics' is required" },
    { "ShouldRollback", "{\"on_failure\": \"failAll\", \"analysis\": {\"phase\": \"failed\", \"metrics\": [{\"name\": \"m\", \"value\": \"1\"}]}}",
      FLOT_E_INVALID, "field 'analysis.metrics[0].value' is a string, expected a number" },
    { "ShouldRollback", "{\"on_failure\": \"failAll\", \"deadline_passed\": 1}", FLOT_E_INVALID,
      "field 'deadline_passed'" },
};

static void
test_rollback_rejects_hostile_bodies (void **state)
{
    test_t *self = *state;
    char *spec = s_spec (self, (spec_opts_t) { 0 });
    json_t *resolved = s_resolve (self, spec);
    for (size_t i = 0; i < sizeof s_hostile / sizeof s_hostile [0]; i++) {
        const hostile_t *h = &s_hostile [i];
        json_error_t error;
        json_t *body = json_loads (h->body, 0, &error);
        if (!body)
            fail_msg ("row %zu: bad JSON: %s", i, error.text);
        if (streq (s_str (body, "resolved"), "RESOLVED"))
            json_object_set (body, "resolved", resolved);
        flot_err_t err = { 0, "" };
        json_t *reply = s_call (self, h->command, body, &err);
        if (reply)
            fail_msg ("row %zu (%s %s) was accepted", i, h->command, h->body);
        if (err.code != h->code || !strstr (err.message, h->message))
            fail_msg ("row %zu: got %s '%s', expected %s '%s'", i, flot_err_name (err.code),
                      err.message, flot_err_name (h->code), h->message);
    }
    free (spec);
    json_decref (resolved);
    //  Not a map at all: the host refuses it before any handler.
    const uint8_t array [] = { 0x91, 0x01 };
    zframe_t *reply = NULL;
    flot_err_t err;
    assert_int_equal (flot_client_call (world_client (self->world), "rollback", NULL,
                                        "ShouldRollback", array, sizeof array, 5000, &reply, &err), -1);
    assert_int_equal (err.code, FLOT_E_MALFORMED);
    //  Still serving.
    json_t *ok = s_call (self, "ShouldRollback", json_pack ("{s:s}", "on_failure", "continue"), &err);
    assert_non_null (ok);
    assert_string_equal (s_str (ok, "action"), "continue");
    json_decref (ok);
}

//  --------------------------------------------------------------------------
//  ShouldRollback

//  An analyzer RESULT, and a METRIC's counters, as JSON.
#define RESULT(phase, final, passed, score, recommendation, reason, metrics) \
    "{\"phase\": \"" phase "\", \"final\": " final ", \"passed\": " passed ", \"score\": " \
    score ", \"recommendation\": \"" recommendation "\", \"reason\": \"" reason "\", " \
    "\"metrics\": [" metrics "]}"
#define COUNTS "\"measurements\": 1, \"successful\": 0, \"failed\": 0, \"inconclusive\": 0, " \
               "\"errors\": 0, \"consecutive_errors\": 0, \"count\": 1"

static void
test_should_rollback_answers_the_rule (void **state)
{
    test_t *self = *state;
    flot_err_t err;
    //  A failed analysis: rollback, naming the metric, its value and limit.
    json_t *reply = s_call (self, "ShouldRollback", json_loads (
        "{\"on_failure\": \"continue\", \"health\": {\"healthy\": true, \"target\": \"eu-1\", "
        "\"check\": \"web\", \"message\": \"HTTP 200\"}, \"analysis\": "
        RESULT ("failed", "true", "false", "0", "rollback", "error-rate failed",
                "{\"name\": \"latency\", \"kind\": \"threshold\", \"phase\": \"successful\", "
                "\"value\": 0.2, " COUNTS ", \"message\": \"ok\"}, "
                "{\"name\": \"error-rate\", \"kind\": \"threshold\", \"phase\": \"failed\", "
                "\"value\": 0.12, " COUNTS ", \"message\": \"result 0.12 >= 0.1 "
                "(failureCondition)\", \"extra\": [1, 2]}") "}",
        0, NULL), &err);
    assert_non_null (reply);
    assert_string_equal (s_str (reply, "action"), "rollback");
    assert_string_equal (s_str (reply, "reason"),
        "analysis failed: metric 'error-rate' (value 0.12): result 0.12 >= 0.1 (failureCondition)");
    json_decref (reply);
    //  A broken health check under holdDependents: fail_target.
    reply = s_call (self, "ShouldRollback", json_loads (
        "{\"on_failure\": \"holdDependents\", \"health\": {\"healthy\": false, \"target\": "
        "\"eu-2\", \"check\": \"tcp\", \"message\": \"connection refused\"}}", 0, NULL), &err);
    assert_non_null (reply);
    assert_string_equal (s_str (reply, "action"), "fail_target");
    assert_non_null (strstr (s_str (reply, "reason"),
                             "health check 'tcp' on eu-2 failed: connection refused"));
    json_decref (reply);
    //  Passed and final: promote; inconclusive: pause; the deadline: rollback.
    reply = s_call (self, "ShouldRollback", json_loads (
        "{\"on_failure\": \"failAll\", \"analysis\": "
        RESULT ("successful", "true", "true", "100", "promote", "every metric passed", "") "}",
        0, NULL), &err);
    assert_non_null (reply);
    assert_string_equal (s_str (reply, "action"), "promote");
    json_decref (reply);
    reply = s_call (self, "ShouldRollback", json_loads (
        "{\"on_failure\": \"failAll\", \"analysis\": "
        RESULT ("inconclusive", "true", "false", "-1", "pause", "cpu: between limits",
                "{\"name\": \"cpu\", \"kind\": \"threshold\", \"phase\": \"inconclusive\", "
                COUNTS ", \"message\": \"between limits\"}") "}",
        0, NULL), &err);
    assert_non_null (reply);
    assert_string_equal (s_str (reply, "action"), "pause");
    assert_non_null (strstr (s_str (reply, "reason"), "metric 'cpu': between limits"));
    json_decref (reply);
    reply = s_call (self, "ShouldRollback", json_loads (
        "{\"on_failure\": \"continue\", \"analysis\": "
        RESULT ("running", "false", "false", "-1", "continue", "measuring", "")
        ", \"deadline_passed\": true}", 0, NULL), &err);
    assert_non_null (reply);
    assert_string_equal (s_str (reply, "action"), "rollback");
    assert_string_equal (s_str (reply, "reason"), "the progress deadline passed");
    json_decref (reply);
    //  The analyzer's early stop: still running, but it advises a rollback.
    reply = s_call (self, "ShouldRollback", json_loads (
        "{\"on_failure\": \"continue\", \"analysis\": "
        RESULT ("running", "false", "false", "40", "rollback", "score 40 <= marginalScore 75", "")
        "}", 0, NULL), &err);
    assert_non_null (reply);
    assert_string_equal (s_str (reply, "action"), "rollback");
    assert_string_equal (s_str (reply, "reason"),
                         "analysis recommends a rollback (score 40): score 40 <= marginalScore 75");
    json_decref (reply);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_rollback_immediate_reverts_in_reverse_order_one_at_a_time, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_immediate_runs_up_to_max_concurrency, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_gradual_waits_for_dependents, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_switches_back_switched_targets, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_skips_targets_already_reverted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_retries_a_failing_hook_then_fails, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_retry_that_succeeds_goes_on, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_of_nothing_completes_at_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_status_during_and_complete_by_hand, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_complete_by_hand_as_failed_then_again, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_asked_again_is_taken_up, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_second_initiate_is_a_conflict, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_unknown_deployment_is_not_found, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_finishes_when_its_caller_leaves, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_waits_for_a_missing_executor, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_without_resolved_is_invalid, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_refuses_a_resolved_that_does_not_fit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_step_waits_for_a_missing_strategy_service, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_waiting_step_ends_with_its_rollback_or_actor, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rollback_rejects_hostile_bodies, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_should_rollback_answers_the_rule, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
