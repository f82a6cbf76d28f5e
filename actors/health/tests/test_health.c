/*  test_health.c - the health actor through a real broker and the real
    client: Check, CheckBatch over 200+ targets within its concurrency
    bound, monitoring with thresholds against a server whose status the
    test flips, StopMonitoring, a caller that goes away, WaitForReady
    (ready, and timed out), IsReady, GetReadinessGates, and hostile bodies.
    Command probes run only the programs of the actor's hooks directory
    (its option "hooks-dir", a directory the test makes): any other is
    refused before anything runs, as is every one by an actor without a
    hooks directory. Ports 25100-25199.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "health.h"
#include "flotilla/json.h"
#include "flotilla/log.h"
#include "health_server.h"
#include "world.h"

#define PORT 25100
#define CLOSED 25101
#define URL "http://127.0.0.1:25100/healthz"

typedef struct {
    world_t *world;
    health_server_t *server;
    zhash_t *options;
    char tmp [64];              //  the test's temporary directory
    char hooks [128];           //  tmp/hooks: the actor's hooks directory
} fixture_t;

static const flot_actor_def_t *const s_defs [] = { &flot_health_actor, NULL };

static int
s_setup (void **state)
{
    fixture_t *fixture = calloc (1, sizeof *fixture);
    snprintf (fixture->tmp, sizeof fixture->tmp, "/tmp/flot-health-XXXXXX");
    assert_non_null (mkdtemp (fixture->tmp));
    snprintf (fixture->hooks, sizeof fixture->hooks, "%s/hooks", fixture->tmp);
    assert_int_equal (mkdir (fixture->hooks, 0755), 0);
    char path [256];
    snprintf (path, sizeof path, "%s/where.sh", fixture->hooks);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fprintf (file, "#!/bin/sh\necho \"$1 in $(pwd)\"\n");
    fclose (file);
    assert_int_equal (chmod (path, 0755), 0);
    fixture->options = zhash_new ();
    zhash_insert (fixture->options, "hooks-dir", fixture->hooks);
    fixture->world = world_start_with (s_defs, fixture->options);
    fixture->server = health_server_new (PORT);
    assert_non_null (fixture->server);
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fixture = *state;
    world_stop (&fixture->world);
    health_server_destroy (&fixture->server);
    zhash_destroy (&fixture->options);
    char command [128];
    snprintf (command, sizeof command, "rm -rf %s", fixture->tmp);
    assert_int_equal (system (command), 0);
    free (fixture);
    return 0;
}

static json_t *
s_call (void **state, const char *command, json_t *body, flot_err_t *err)
{
    fixture_t *fixture = *state;
    return world_call (fixture->world, "health", NULL, command, body, err);
}

static json_t *
s_http_check (const char *name, const char *extra)
{
    char text [512];
    snprintf (text, sizeof text, "{\"name\": \"%s\", \"http\": {\"url\": \"http://{address}/healthz\"}%s%s}",
              name, *extra ? ", " : "", extra);
    json_t *check = json_loads (text, 0, NULL);
    assert_non_null (check);
    return check;
}

static json_t *
s_context (const char *target, int port)
{
    char address [64];
    snprintf (address, sizeof address, "127.0.0.1:%d", port);
    return json_pack ("{s:s, s:s}", "target", target, "address", address);
}

static const char *
s_str (json_t *obj, const char *key)
{
    return json_string_value (json_object_get (obj, key));
}

static void
s_has (const char *text, const char *part)
{
    if (!text || !strstr (text, part))
        fail_msg ("'%s' lacks '%s'", text ? text : "(null)", part);
}

//  --------------------------------------------------------------------------

static void
test_health_check_answers_one_result (void **state)
{
    fixture_t *fixture = *state;
    health_server_set (fixture->server, 200, "ok", 0);
    flot_err_t err;
    json_t *reply = s_call (state, "Check", json_pack ("{s:o, s:o}", "check",
                            s_http_check ("web", ""), "context", s_context ("eu-1", PORT)), &err);
    assert_non_null (reply);
    assert_string_equal (s_str (reply, "target"), "eu-1");
    assert_string_equal (s_str (reply, "name"), "web");
    assert_true (json_is_true (json_object_get (reply, "healthy")));
    assert_int_equal (json_integer_value (json_object_get (reply, "status_code")), 200);
    assert_string_equal (s_str (reply, "message"), "GET " URL ": status 200");
    assert_non_null (json_object_get (reply, "duration_ms"));
    json_decref (reply);

    health_server_set (fixture->server, 503, "no", 0);
    reply = s_call (state, "Check", json_pack ("{s:o, s:o}", "check",
                    s_http_check ("web", ""), "context", s_context ("eu-1", PORT)), &err);
    assert_false (json_is_true (json_object_get (reply, "healthy")));
    assert_string_equal (s_str (reply, "message"), "GET " URL ": status 503, expected 200-399");
    json_decref (reply);
}

static void
test_health_check_batch_many_targets_within_the_bound (void **state)
{
    fixture_t *fixture = *state;
    //  240 targets on one server that takes 20 ms per answer, at most 16 at
    //  once; each target's port is probed too: open (a listener) for even
    //  targets, closed for odd ones.
    int listener = socket (AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt (listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (25102) };
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (bind (listener, (struct sockaddr *) &sa, sizeof sa), 0);
    assert_int_equal (listen (listener, 1024), 0);
    health_server_set (fixture->server, 200, "ok", 20);
    health_server_reset_counts (fixture->server);
    json_t *contexts = json_array ();
    for (int i = 0; i < 240; i++) {
        char name [32];
        snprintf (name, sizeof name, "t-%03d", i);
        json_t *context = s_context (name, PORT);
        json_object_set_new (context, "labels", json_pack ("{s:s}", "port",
                             i % 2 ? "25101" : "25102"));
        json_array_append_new (contexts, context);
    }
    json_t *checks = json_pack ("[o, {s:s, s:{s:s}}]", s_http_check ("web", ""),
                                "name", "port", "tcp", "address", "127.0.0.1:{label.port}");
    int64_t start = zclock_mono ();
    flot_err_t err;
    json_t *reply = s_call (state, "CheckBatch", json_pack ("{s:o, s:o, s:i}", "checks", checks,
                            "contexts", contexts, "concurrency", 16), &err);
    int64_t took = zclock_mono () - start;
    if (!reply)
        fail_msg ("%s", err.message);
    json_t *results = json_object_get (reply, "results");
    assert_int_equal (json_array_size (results), 480);
    //  In order: context-major, checks in their order.
    for (int i = 0; i < 240; i++) {
        json_t *web = json_array_get (results, 2 * i), *port = json_array_get (results, 2 * i + 1);
        char name [32];
        snprintf (name, sizeof name, "t-%03d", i);
        assert_string_equal (s_str (web, "target"), name);
        assert_string_equal (s_str (web, "name"), "web");
        assert_true (json_is_true (json_object_get (web, "healthy")));
        assert_string_equal (s_str (port, "name"), "port");
        assert_int_equal (json_is_true (json_object_get (port, "healthy")), i % 2 == 0);
    }
    assert_int_equal (json_integer_value (json_object_get (reply, "healthy")), 120);
    assert_int_equal (json_integer_value (json_object_get (reply, "unhealthy")), 120);
    assert_int_equal (health_server_requests (fixture->server), 240);
    //  The bound held, and probes did run side by side.
    int most = health_server_max_active (fixture->server);
    assert_true (most <= 16);
    assert_true (most >= 4);
    //  240 x 20 ms one at a time would be 4.8 s.
    assert_true (took < 4000);
    json_decref (reply);
    close (listener);
    health_server_set (fixture->server, 200, "ok", 0);
}

//  Waits for the next message on the client (a stream message or a reply).
static json_t *
s_next (flot_client_t *client, int kind, int timeout_ms)
{
    flot_reply_t reply;
    flot_err_t err;
    if (flot_client_recv (client, &reply, timeout_ms, &err))
        fail_msg ("nothing came: %s", err.message);
    if (reply.kind != kind)
        fail_msg ("got kind %d, expected %d", reply.kind, kind);
    flot_body_t *body = flot_body_decode (zframe_data (reply.body), zframe_size (reply.body), &err);
    json_t *json = flot_json_from_msgpack (flot_body_root (body));
    flot_body_destroy (&body);
    flot_reply_clear (&reply);
    return json;
}

static uint64_t
s_send (flot_client_t *client, const char *command, json_t *body)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    assert_int_equal (flot_json_pack (&pk, body), 0);
    json_decref (body);
    flot_err_t err;
    uint64_t corr = flot_client_send (client, "health", NULL, command, sbuf.data, sbuf.size,
                                      10000, &err);
    msgpack_sbuffer_destroy (&sbuf);
    assert_true (corr > 0);
    return corr;
}

static void
test_health_monitoring_reports_changes_with_thresholds (void **state)
{
    fixture_t *fixture = *state;
    health_server_set (fixture->server, 200, "ok", 0);
    flot_client_t *client = world_client (fixture->world);
    json_t *checks = json_pack ("[o]", s_http_check ("web", "\"period\": \"100ms\", "
                                "\"initialDelay\": \"300ms\", \"successThreshold\": 2, "
                                "\"failureThreshold\": 3"));
    int64_t start = zclock_mono ();
    s_send (client, "StartMonitoring", json_pack ("{s:o, s:o}", "checks", checks,
                                                  "context", s_context ("mon-1", PORT)));
    json_t *reply = s_next (client, FLOT_REPLY, 5000);
    uint64_t stream = (uint64_t) json_integer_value (json_object_get (reply, "stream"));
    assert_true (stream > 0);
    json_decref (reply);

    //  Healthy after two successes: the first at 300 ms, the second 100 ms on.
    json_t *change = s_next (client, FLOT_STREAM, 5000);
    assert_true (zclock_mono () - start >= 390);
    assert_string_equal (s_str (change, "target"), "mon-1");
    assert_true (json_is_true (json_object_get (change, "healthy")));
    assert_string_equal (s_str (change, "check"), "web");
    assert_int_equal (json_integer_value (json_object_get (change, "successes")), 2);
    assert_true (json_integer_value (json_object_get (change, "since_ms")) > 1600000000000LL);
    json_decref (change);

    //  Its gate is ready.
    flot_err_t err;
    reply = s_call (state, "GetReadinessGates", json_pack ("{s:s}", "target", "mon-1"), &err);
    json_t *gates = json_object_get (reply, "gates");
    assert_int_equal (json_array_size (gates), 1);
    json_t *gate = json_array_get (gates, 0);
    assert_string_equal (s_str (gate, "target"), "mon-1");
    assert_string_equal (s_str (gate, "name"), "web");
    assert_string_equal (s_str (gate, "kind"), "http");
    assert_true (json_is_true (json_object_get (gate, "ready")));
    json_decref (reply);

    //  Down: unhealthy after three failures, not before.
    int64_t flipped = zclock_mono ();
    health_server_set (fixture->server, 503, "down", 0);
    change = s_next (client, FLOT_STREAM, 5000);
    assert_true (zclock_mono () - flipped >= 200);
    assert_false (json_is_true (json_object_get (change, "healthy")));
    assert_int_equal (json_integer_value (json_object_get (change, "failures")), 3);
    s_has (s_str (change, "message"), "status 503, expected 200-399");
    json_decref (change);

    //  Up again.
    health_server_set (fixture->server, 200, "ok", 0);
    change = s_next (client, FLOT_STREAM, 5000);
    assert_true (json_is_true (json_object_get (change, "healthy")));
    json_decref (change);

    //  Stop: the answer, then the end of the stream.
    s_send (client, "StopMonitoring", json_pack ("{s:I}", "stream", (json_int_t) stream));
    reply = s_next (client, FLOT_REPLY, 5000);
    assert_true (json_is_true (json_object_get (reply, "stopped")));
    json_decref (reply);
    json_decref (s_next (client, FLOT_STREAM_END, 5000));
    reply = s_call (state, "GetReadinessGates", json_object (), &err);
    assert_int_equal (json_array_size (json_object_get (reply, "gates")), 0);
    json_decref (reply);
    assert_null (s_call (state, "StopMonitoring", json_pack ("{s:I}", "stream", (json_int_t) stream), &err));
    assert_int_equal (err.code, FLOT_E_NOT_FOUND);
}

static void
test_health_monitoring_ends_when_the_caller_goes (void **state)
{
    fixture_t *fixture = *state;
    health_server_set (fixture->server, 200, "ok", 0);
    //  A second client, in its own world... the same broker.
    flot_client_t *client = world_client (fixture->world);
    (void) client;
    char endpoint [64];
    //  world.c names its endpoints inproc://test-world-N; find ours by
    //  asking for gates through a new client on each candidate.
    flot_client_t *other = NULL;
    for (int n = 1; n < 100 && !other; n++) {
        snprintf (endpoint, sizeof endpoint, "inproc://test-world-%d", n);
        flot_client_t *candidate = flot_client_new (endpoint);
        zframe_t *body = NULL;
        flot_err_t err;
        if (candidate && flot_client_call (candidate, "health", NULL, "GetReadinessGates",
                                           NULL, 0, 300, &body, &err) == 0)
            other = candidate;
        else
            flot_client_destroy (&candidate);
        zframe_destroy (&body);
    }
    assert_non_null (other);
    json_t *checks = json_pack ("[o]", s_http_check ("web", "\"period\": \"50ms\""));
    s_send (other, "StartMonitoring", json_pack ("{s:o, s:o}", "checks", checks,
                                                 "context", s_context ("gone-1", PORT)));
    json_decref (s_next (other, FLOT_REPLY, 5000));
    json_decref (s_next (other, FLOT_STREAM, 5000));
    flot_client_destroy (&other);
    //  The broker cancels the stream; the gate goes.
    bool gone = false;
    for (int i = 0; i < 100 && !gone; i++) {
        flot_err_t err;
        json_t *reply = s_call (state, "GetReadinessGates", json_pack ("{s:s}", "target", "gone-1"), &err);
        gone = json_array_size (json_object_get (reply, "gates")) == 0;
        json_decref (reply);
        if (!gone)
            zclock_sleep (50);
    }
    assert_true (gone);
}

static void
test_health_wait_for_ready_succeeds_and_times_out (void **state)
{
    fixture_t *fixture = *state;
    flot_client_t *client = world_client (fixture->world);
    health_server_set (fixture->server, 503, "starting", 0);
    json_t *checks = json_pack ("[o, {s:s, s:{s:s}, s:s}]",
                                s_http_check ("web", "\"period\": \"50ms\", \"successThreshold\": 2"),
                                "name", "port", "tcp", "address", "{address}", "period", "50ms");
    int64_t start = zclock_mono ();
    s_send (client, "WaitForReady", json_pack ("{s:o, s:o, s:i}", "checks", checks,
                                               "context", s_context ("w-1", PORT), "timeout_ms", 5000));
    //  Meanwhile it is waited on: GetReadinessGates lists both gates.
    zclock_sleep (200);
    flot_err_t err;
    json_t *reply = s_call (state, "GetReadinessGates", json_pack ("{s:s}", "target", "w-1"), &err);
    json_t *gates = json_object_get (reply, "gates");
    assert_int_equal (json_array_size (gates), 2);
    assert_false (json_is_true (json_object_get (json_array_get (gates, 0), "ready")));
    assert_true (json_is_true (json_object_get (json_array_get (gates, 1), "ready")));
    assert_string_equal (s_str (json_array_get (gates, 1), "kind"), "tcp");
    json_decref (reply);
    health_server_set (fixture->server, 200, "ok", 0);
    reply = s_next (client, FLOT_REPLY, 6000);
    int64_t took = zclock_mono () - start;
    assert_true (json_is_true (json_object_get (reply, "ready")));
    assert_string_equal (s_str (reply, "target"), "w-1");
    assert_true (took >= 250 && took < 3000);
    assert_true (json_integer_value (json_object_get (reply, "waited_ms")) >= 250);
    json_decref (reply);

    //  Never ready: answers at timeout_ms with the last message.
    health_server_set (fixture->server, 503, "starting", 0);
    checks = json_pack ("[o]", s_http_check ("web", "\"period\": \"50ms\""));
    start = zclock_mono ();
    reply = s_call (state, "WaitForReady", json_pack ("{s:o, s:o, s:i}", "checks", checks,
                    "context", s_context ("w-2", PORT), "timeout_ms", 400), &err);
    took = zclock_mono () - start;
    assert_non_null (reply);
    assert_false (json_is_true (json_object_get (reply, "ready")));
    assert_true (took >= 390 && took < 2000);
    json_t *gate = json_array_get (json_object_get (reply, "gates"), 0);
    assert_false (json_is_true (json_object_get (gate, "healthy")));
    s_has (s_str (gate, "message"), "status 503");
    json_decref (reply);
    health_server_set (fixture->server, 200, "ok", 0);
}

static void
test_health_is_ready_probes_each_gate_once (void **state)
{
    fixture_t *fixture = *state;
    health_server_set (fixture->server, 200, "ok", 0);
    json_t *checks = json_pack ("[o, {s:s, s:{s:s}}]", s_http_check ("web", ""),
                                "name", "db", "tcp", "address", "127.0.0.1:25101");
    flot_err_t err;
    json_t *reply = s_call (state, "IsReady", json_pack ("{s:o, s:o}", "checks", checks,
                            "context", s_context ("r-1", PORT)), &err);
    assert_non_null (reply);
    assert_string_equal (s_str (reply, "target"), "r-1");
    assert_false (json_is_true (json_object_get (reply, "ready")));
    json_t *gates = json_object_get (reply, "gates");
    assert_int_equal (json_array_size (gates), 2);
    assert_true (json_is_true (json_object_get (json_array_get (gates, 0), "healthy")));
    assert_false (json_is_true (json_object_get (json_array_get (gates, 1), "healthy")));
    s_has (s_str (json_array_get (gates, 1), "message"), "Connection refused");
    json_decref (reply);
    checks = json_pack ("[o]", s_http_check ("web", ""));
    reply = s_call (state, "IsReady", json_pack ("{s:o, s:o}", "checks", checks,
                    "context", s_context ("r-1", PORT)), &err);
    assert_true (json_is_true (json_object_get (reply, "ready")));
    json_decref (reply);
}

//  SPEC 3.2 and 13: a reader ignores the keys it does not know, so a CONTEXT
//  from a newer peer (here with a colour and a map) is probed as it is, in
//  a Check and in each context of a CheckBatch.
static void
test_health_context_with_an_unknown_key_is_accepted (void **state)
{
    fixture_t *fixture = *state;
    health_server_set (fixture->server, 200, "ok", 0);
    json_t *context = s_context ("u-1", PORT);
    json_object_set_new (context, "colour", json_string ("red"));
    json_object_set_new (context, "zone", json_pack ("{s:i}", "rack", 7));
    flot_err_t err;
    json_t *reply = s_call (state, "Check", json_pack ("{s:o, s:O}", "check",
                            s_http_check ("web", ""), "context", context), &err);
    if (!reply)
        fail_msg ("Check refused a context with unknown keys: %s", err.message);
    assert_string_equal (s_str (reply, "target"), "u-1");
    assert_true (json_is_true (json_object_get (reply, "healthy")));
    assert_string_equal (s_str (reply, "message"), "GET " URL ": status 200");
    json_decref (reply);
    reply = s_call (state, "CheckBatch", json_pack ("{s:[o], s:[o, o]}", "checks",
                    s_http_check ("web", ""), "contexts", context, s_context ("u-2", PORT)),
                    &err);
    if (!reply)
        fail_msg ("CheckBatch refused a context with unknown keys: %s", err.message);
    assert_int_equal (json_integer_value (json_object_get (reply, "healthy")), 2);
    json_t *results = json_object_get (reply, "results");
    assert_string_equal (s_str (json_array_get (results, 0), "target"), "u-1");
    assert_string_equal (s_str (json_array_get (results, 1), "target"), "u-2");
    json_decref (reply);
}

static void
s_refused (void **state, const char *command, const char *body, int code, const char *message)
{
    json_error_t jerr;
    json_t *json = json_loads (body, 0, &jerr);
    if (!json)
        fail_msg ("bad JSON in test: %s", jerr.text);
    flot_err_t err;
    json_t *reply = s_call (state, command, json, &err);
    if (reply)
        fail_msg ("%s %s was answered, expected: %s", command, body, message);
    assert_int_equal (err.code, code);
    s_has (err.message, message);
}

static void
test_health_refuses_hostile_bodies (void **state)
{
    const char *ctx = "\"context\": {\"target\": \"x\", \"address\": \"127.0.0.1:1\"}";
    char body [1024];
    s_refused (state, "Check", "{}", FLOT_E_INVALID, "field 'check' is required");
    snprintf (body, sizeof body, "{\"check\": 5, %s}", ctx);
    s_refused (state, "Check", body, FLOT_E_INVALID,
               "field 'check' is a positive integer, expected a map");
    s_refused (state, "Check", "{\"check\": {\"name\": \"a\", \"tcp\": {\"address\": \"a:1\"}}}",
               FLOT_E_INVALID, "field 'context' is required");
    s_refused (state, "Check", "{\"check\": {\"name\": \"a\", \"tcp\": {\"address\": \"a:1\"}}, "
               "\"context\": {\"address\": \"a:1\"}}", FLOT_E_INVALID,
               "field 'context.target' is required");
    s_refused (state, "Check", "{\"check\": {\"name\": \"a\", \"tcp\": {\"address\": \"a:1\"}}, "
               "\"context\": {\"target\": \"t\", \"labels\": {\"k\": 1}}}", FLOT_E_INVALID,
               "field 'context.labels.k' is a positive integer, expected a string");
    s_refused (state, "Check", "{\"check\": {\"name\": \"a\", \"tcp\": {\"address\": \"a:1\"}}, "
               "\"context\": {\"target\": \"\"}}", FLOT_E_INVALID,
               "field 'context.target' is 0 bytes, expected at least 1");
    s_refused (state, "CheckBatch", "{\"checks\": [{\"name\": \"w\", \"http\": {\"url\": \"http://a/\", "
               "\"status\": \"2xx\"}}], \"contexts\": [{\"target\": \"a\"}]}", FLOT_E_INVALID,
               "checks[0].http.status: \"2xx\" is not a status, a range or a list");
    s_refused (state, "CheckBatch", "{\"checks\": [{\"name\": \"w\", \"tcp\": {\"address\": \"a:1\"}}]}",
               FLOT_E_INVALID, "field 'contexts' is required");
    s_refused (state, "CheckBatch", "{\"checks\": [{\"name\": \"w\", \"tcp\": {\"address\": \"a:1\"}}], "
               "\"contexts\": [{\"target\": \"a\"}, {\"target\": 7}]}", FLOT_E_INVALID,
               "field 'contexts[1].target' is a positive integer, expected a string");
    s_refused (state, "CheckBatch", "{\"checks\": [{\"name\": \"w\", \"tcp\": {\"address\": \"a:1\"}}], "
               "\"contexts\": [{\"target\": \"a\"}], \"concurrency\": 5000}", FLOT_E_INVALID,
               "concurrency");
    s_refused (state, "CheckBatch", "{\"checks\": \"all\", \"contexts\": []}", FLOT_E_INVALID,
               "field 'checks' is a string, expected an array");
    snprintf (body, sizeof body, "{\"checks\": [{\"name\": \"w\", \"tcp\": {\"address\": \"a:1\"}}], %s}", ctx);
    s_refused (state, "WaitForReady", body, FLOT_E_INVALID, "timeout_ms");
    s_refused (state, "StopMonitoring", "{\"stream\": \"x\"}", FLOT_E_INVALID, "stream");
    s_refused (state, "StopMonitoring", "{\"stream\": 99}", FLOT_E_NOT_FOUND, "no monitoring stream 99");
    s_refused (state, "GetReadinessGates", "{\"target\": 5}", FLOT_E_INVALID, "target");
    //  Too many probes for one batch.
    json_t *contexts = json_array ();
    for (int i = 0; i < 4097; i++)
        json_array_append_new (contexts, json_pack ("{s:s}", "target", "t"));
    flot_err_t err;
    json_t *reply = s_call (state, "CheckBatch", json_pack ("{s:[{s:s, s:{s:s}}], s:o}",
                            "checks", "name", "w", "tcp", "address", "a:1", "contexts", contexts), &err);
    assert_null (reply);
    s_has (err.message, "4097 contexts x 1 checks is more than 4096 probes");
    //  Still serving.
    reply = s_call (state, "GetReadinessGates", json_object (), &err);
    assert_non_null (reply);
    json_decref (reply);
}

//  A command probe runs a program of the hooks directory, there; any other
//  command is refused INVALID before anything runs, in every command that
//  takes checks.
static void
test_health_command_probes_run_only_the_hooks_directory (void **state)
{
    fixture_t *fixture = *state;
    flot_err_t err;
    json_t *reply = s_call (state, "Check", json_pack ("{s:{s:s, s:{s:s, s:[s]}}, s:{s:s}}",
        "check", "name", "c", "command", "command", "./where.sh", "args", "{target}",
        "context", "target", "web-1"), &err);
    if (!reply)
        fail_msg ("Check: %s", err.message);
    assert_true (json_is_true (json_object_get (reply, "healthy")));
    char expected [400];
    snprintf (expected, sizeof expected, "command ./where.sh: exit 0: web-1 in %s", fixture->hooks);
    assert_string_equal (s_str (reply, "message"), expected);
    json_decref (reply);
    char pwned [128], body [1024];
    snprintf (pwned, sizeof pwned, "%s/pwned", fixture->tmp);
    const char *ctx = "\"context\": {\"target\": \"x\"}";
    const char *tail = "a command probe names a program in the health actor's hooks directory "
                       "(--hooks-dir)";
    snprintf (body, sizeof body, "{\"check\": {\"name\": \"c\", \"command\": {\"command\": "
              "\"/bin/sh\", \"args\": [\"-c\", \"touch %s\"]}}, %s}", pwned, ctx);
    snprintf (expected, sizeof expected, "check.command.command: '/bin/sh' is an absolute "
              "path: %s", tail);
    s_refused (state, "Check", body, FLOT_E_INVALID, expected);
    snprintf (body, sizeof body, "{\"checks\": [{\"name\": \"c\", \"command\": {\"command\": "
              "\"../x\"}}], \"contexts\": [{\"target\": \"x\"}]}");
    snprintf (expected, sizeof expected, "checks[0].command.command: '../x' leaves the hooks "
              "directory ('..'): %s", tail);
    s_refused (state, "CheckBatch", body, FLOT_E_INVALID, expected);
    snprintf (body, sizeof body, "{\"checks\": [{\"name\": \"t\", \"tcp\": {\"address\": "
              "\"a:1\"}}, {\"name\": \"c\", \"command\": {\"command\": \"missing.sh\"}}], %s}", ctx);
    snprintf (expected, sizeof expected, "checks[1].command.command: command probe 'missing.sh' "
              "is not in the health actor's hooks directory %s (No such file or directory)",
              fixture->hooks);
    s_refused (state, "StartMonitoring", body, FLOT_E_INVALID, expected);
    s_refused (state, "IsReady", body, FLOT_E_INVALID, expected);
    snprintf (body, sizeof body, "{\"checks\": [{\"name\": \"c\", \"command\": {\"command\": "
              "\"where.sh\", \"env\": {\"LD_PRELOAD\": \"%s/evil.so\"}}}], \"timeout_ms\": 1000, %s}",
              fixture->tmp, ctx);
    s_refused (state, "WaitForReady", body, FLOT_E_INVALID, "checks[0].command.env: LD_PRELOAD "
               "changes how a program is loaded or run (the dynamic loader reads LD_*): a spec "
               "may not set it");
    assert_int_equal (access (pwned, F_OK), -1);
    //  Without a hooks directory, no command probe at all.
    world_t *bare = world_start (s_defs);
    reply = world_call (bare, "health", NULL, "Check", json_pack ("{s:{s:s, s:{s:s}}, s:{s:s}}",
        "check", "name", "c", "command", "command", "where.sh", "context", "target", "x"), &err);
    assert_null (reply);
    assert_int_equal (err.code, FLOT_E_INVALID);
    assert_string_equal (err.message, "check.command.command: this health actor has no hooks "
                         "directory (flotillad --hooks-dir): it runs no command probe");
    world_stop (&bare);
}

int
main (void)
{
    flot_log_set_level (FLOT_LOG_WARN);
    signal (SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_health_check_answers_one_result),
        cmocka_unit_test (test_health_check_batch_many_targets_within_the_bound),
        cmocka_unit_test (test_health_monitoring_reports_changes_with_thresholds),
        cmocka_unit_test (test_health_monitoring_ends_when_the_caller_goes),
        cmocka_unit_test (test_health_wait_for_ready_succeeds_and_times_out),
        cmocka_unit_test (test_health_is_ready_probes_each_gate_once),
        cmocka_unit_test (test_health_context_with_an_unknown_key_is_accepted),
        cmocka_unit_test (test_health_refuses_hostile_bodies),
        cmocka_unit_test (test_health_command_probes_run_only_the_hooks_directory),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
