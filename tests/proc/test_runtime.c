/*  test_runtime.c - flotillad at run time, as separate processes on loopback.

    Starts real flotillad processes (a broker alone, actors that connect to
    it over tcp://, or everything in one process) and checks what a user of
    the broker depends on: balancing over actor processes, keyed routing,
    errors that arrive instead of silence when an actor dies or a deadline
    passes, actors that come back by themselves after a broker restart, and
    streams that end, and stop when their caller goes away. Every process
    runs as a user runs it by default: with the keys a broker on loopback
    makes for its user, so clients and actors connect over CURVE with them.
*/
#include "proc_util.h"

#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>

#include <setjmp.h>
#include <cmocka.h>

#define PORT (PROC_PORT_BASE + 0)
#define EXPIRY_MS (PROC_HEARTBEAT_MS * PROC_LIVENESS)

//  An echo actor process for the broker at endpoint; keys may be NULL.
//  Waits until the broker lists it with this process's pid.
static proc_t *
s_echo (flot_client_t *client, const char *endpoint, const char *instance,
        const char *keys)
{
    proc_t *actor = keys
        ? proc_start (instance, "--connect", endpoint, "--actors", "echo",
                      "--instance", instance, "--keys", keys, "-v",
                      "--heartbeat", PROC_HEARTBEAT_ARG,
                      "--liveness", PROC_LIVENESS_ARG, NULL)
        : proc_start (instance, "--connect", endpoint, "--actors", "echo",
                      "--instance", instance, "-v",
                      "--heartbeat", PROC_HEARTBEAT_ARG,
                      "--liveness", PROC_LIVENESS_ARG, NULL);
    assert_non_null (actor);
    json_t *entry = proc_wait_actor (client, "echo", instance, actor, 5000);
    if (!entry)
        fail_msg ("echo instance %s did not register (see %s)",
                  instance, proc_log_path (actor));
    json_decref (entry);
    return actor;
}

//  The handled count of an echo instance, from Actors; -1 if not listed.
static long long
s_handled (flot_client_t *client, const char *instance)
{
    return proc_actor_int (client, "echo", instance, "handled");
}

//  Echo with key; fails the test unless the body comes back unchanged.
static void
s_echo_ok (flot_client_t *client, const char *key, const char *json_body)
{
    msgpack_sbuffer sbuf;
    proc_pack_json (&sbuf, json_body);
    zframe_t *reply = NULL;
    flot_err_t err = { 0 };
    if (flot_client_call (client, "echo", key, "Echo", sbuf.data, sbuf.size, 3000,
                          &reply, &err))
        fail_msg ("Echo (key '%s') failed: %s %s", key ? key : "",
                  flot_err_name (err.code), err.message);
    assert_int_equal (zframe_size (reply), sbuf.size);
    assert_memory_equal (zframe_data (reply), sbuf.data, sbuf.size);
    zframe_destroy (&reply);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
test_broker_only_routes_to_tcp_actor_processes (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT);
    flot_client_t *client;
    proc_t *broker = proc_serve ("broker", endpoint, &client, "--broker-only", NULL);
    proc_t *a = s_echo (client, endpoint, "echo-a", NULL);
    proc_t *b = s_echo (client, endpoint, "echo-b", NULL);

    for (int i = 0; i < 20; i++) {
        char body [128];
        snprintf (body, sizeof body,
                  "{\"n\": %d, \"text\": \"hello %d\", \"list\": [1, 2.5, null]}", i, i);
        s_echo_ok (client, NULL, body);
    }
    //  Both processes served, in turns, and the broker knows them by pid.
    json_t *reply = proc_call (client, "broker", NULL, "Actors", NULL, 1000, NULL);
    assert_non_null (reply);
    json_t *actors = json_object_get (reply, "actors");
    assert_int_equal (json_array_size (actors), 2);
    size_t index;
    json_t *entry;
    json_array_foreach (actors, index, entry) {
        const char *instance = json_string_value (json_object_get (entry, "instance"));
        assert_non_null (instance);
        proc_t *owner = streq (instance, "echo-a") ? a : b;
        assert_string_equal (json_string_value (json_object_get (entry, "service")), "echo");
        assert_int_equal (proc_json_int (entry, "pid"), proc_pid (owner));
        assert_int_not_equal (proc_json_int (entry, "pid"), proc_pid (broker));
        assert_int_equal (proc_json_int (entry, "handled"), 10);
        assert_int_equal (proc_json_int (entry, "pending"), 0);
    }
    json_decref (reply);
    flot_client_destroy (&client);

    //  Each process stops cleanly on SIGTERM.
    assert_int_equal (proc_stop (a, 5000), 0);
    assert_int_equal (proc_stop (b, 5000), 0);
    assert_int_equal (proc_stop (broker, 5000), 0);
}

static void
test_keyed_routing (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 1);
    flot_client_t *client;
    proc_serve ("broker", endpoint, &client, "--broker-only", NULL);
    s_echo (client, endpoint, "eu", "eu-1,eu-2");
    s_echo (client, endpoint, "us", "us-1");

    json_t *entry = proc_find_actor (client, "echo", "eu");
    json_t *keys = json_object_get (entry, "keys");
    assert_int_equal (json_array_size (keys), 2);
    assert_string_equal (json_string_value (json_array_get (keys, 0)), "eu-1");
    assert_string_equal (json_string_value (json_array_get (keys, 1)), "eu-2");
    json_decref (entry);

    for (int i = 0; i < 6; i++)
        s_echo_ok (client, "eu-2", "{\"to\": \"eu\"}");
    assert_int_equal (s_handled (client, "eu"), 6);
    assert_int_equal (s_handled (client, "us"), 0);
    for (int i = 0; i < 4; i++)
        s_echo_ok (client, "us-1", "{\"to\": \"us\"}");
    s_echo_ok (client, "eu-1", "{\"to\": \"eu\"}");
    assert_int_equal (s_handled (client, "eu"), 7);
    assert_int_equal (s_handled (client, "us"), 4);

    //  Nobody claims ap-9 and nobody serves any key.
    flot_err_t err = { 0 };
    json_t *reply = proc_call (client, "echo", "ap-9", "Echo", NULL, 2000, &err);
    assert_null (reply);
    assert_int_equal (err.code, FLOT_E_NO_INSTANCE);
    assert_non_null (strstr (err.message, "'ap-9'"));
    assert_non_null (strstr (err.message, "echo"));

    //  Instances that claim no keys take unclaimed keys, in turns: each
    //  key sticks to the one it went to first (SPEC 4.2), the next key goes
    //  to the next one; claimed keys still go to their claimer.
    s_echo (client, endpoint, "any-1", NULL);
    s_echo (client, endpoint, "any-2", NULL);
    for (int i = 0; i < 4; i++)
        s_echo_ok (client, "ap-9", "{\"to\": \"any\"}");
    long long first = s_handled (client, "any-1");
    assert_true (first == 0 || first == 4);
    assert_int_equal (s_handled (client, "any-2"), 4 - first);
    for (int i = 0; i < 4; i++)
        s_echo_ok (client, "ap-8", "{\"to\": \"any\"}");
    assert_int_equal (s_handled (client, "any-1"), 4);
    assert_int_equal (s_handled (client, "any-2"), 4);
    s_echo_ok (client, "eu-2", "{\"to\": \"eu\"}");
    assert_int_equal (s_handled (client, "eu"), 8);
    assert_int_equal (s_handled (client, "us"), 4);
    flot_client_destroy (&client);
}

//  Waits up to 5 s until the broker no longer lists echo instance name.
static void
s_wait_gone (flot_client_t *client, const char *name)
{
    int64_t deadline = proc_now () + 5000;
    json_t *entry;
    while ((entry = proc_find_actor (client, "echo", name))) {
        json_decref (entry);
        if (proc_now () > deadline)
            fail_msg ("the broker still lists echo instance %s after 5 s", name);
        usleep (50 * 1000);
    }
}

//  A request with routing key K goes to the instance that got K last, while
//  it lives, whoever else claims K (SPEC 4.2: a step asked again after a
//  lost answer must reach the instance that holds its idempotency record);
//  when that instance is gone, K goes to the next one and stays there.
//  Requests without a key go round-robin.
static void
test_sticky_routing_per_key (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 47);
    flot_client_t *client;
    proc_serve ("broker", endpoint, &client, "--broker-only", NULL);
    proc_t *a = s_echo (client, endpoint, "sticky-a", "t-1,t-2");
    proc_t *b = s_echo (client, endpoint, "sticky-b", "t-1,t-2");

    //  Every request with t-1 reaches one instance; t-2 then the other.
    for (int i = 0; i < 6; i++)
        s_echo_ok (client, "t-1", "{\"key\": \"t-1\"}");
    long long on_a = s_handled (client, "sticky-a");
    assert_true (on_a == 0 || on_a == 6);
    assert_int_equal (s_handled (client, "sticky-b"), 6 - on_a);
    const char *holder = on_a ? "sticky-a" : "sticky-b";
    const char *other = on_a ? "sticky-b" : "sticky-a";
    for (int i = 0; i < 6; i++)
        s_echo_ok (client, "t-2", "{\"key\": \"t-2\"}");
    assert_int_equal (s_handled (client, holder), 6);
    assert_int_equal (s_handled (client, other), 6);

    //  Without a key: in turns, whichever holds which key.
    for (int i = 0; i < 4; i++)
        s_echo_ok (client, NULL, "{\"key\": null}");
    assert_int_equal (s_handled (client, "sticky-a"), 8);
    assert_int_equal (s_handled (client, "sticky-b"), 8);
    for (int i = 0; i < 3; i++)
        s_echo_ok (client, "t-1", "{\"key\": \"t-1\"}");
    assert_int_equal (s_handled (client, holder), 11);
    assert_int_equal (s_handled (client, other), 8);

    //  t-1's instance dies: once the broker finds it dead, t-1 goes to the
    //  other, and stays there when a new instance claiming t-1 registers.
    assert_int_equal (proc_kill (streq (holder, "sticky-a") ? a : b, SIGKILL), 0);
    s_wait_gone (client, holder);
    for (int i = 0; i < 4; i++)
        s_echo_ok (client, "t-1", "{\"key\": \"t-1\"}");
    assert_int_equal (s_handled (client, other), 12);
    s_echo (client, endpoint, "sticky-c", "t-1");
    for (int i = 0; i < 4; i++)
        s_echo_ok (client, "t-1", "{\"key\": \"t-1\"}");
    assert_int_equal (s_handled (client, other), 16);
    assert_int_equal (s_handled (client, "sticky-c"), 0);
    flot_client_destroy (&client);
}

static void
test_sigkill_turns_pending_request_into_error (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 2);
    flot_client_t *client;
    proc_serve ("broker", endpoint, &client, "--broker-only", NULL);
    proc_t *actor = s_echo (client, endpoint, "doomed", NULL);

    flot_client_t *caller = proc_client (endpoint);
    msgpack_sbuffer sbuf;
    proc_pack_json (&sbuf, "{\"ms\": 10000}");
    flot_err_t err = { 0 };
    uint64_t corr = flot_client_send (caller, "echo", NULL, "Sleep", sbuf.data,
                                      sbuf.size, 20000, &err);
    msgpack_sbuffer_destroy (&sbuf);
    assert_true (corr != 0);
    //  Kill it only once the broker holds the request for it.
    int64_t until = proc_now () + 3000;
    json_t *entry = NULL;
    while (proc_now () < until) {
        entry = proc_find_actor (client, "echo", "doomed");
        if (proc_json_int (entry, "pending") == 1)
            break;
        json_decref (entry);
        entry = NULL;
    }
    assert_non_null (entry);
    json_decref (entry);

    int64_t killed_at = proc_now ();
    assert_int_equal (proc_kill (actor, SIGKILL), 0);
    flot_reply_t reply;
    //  Silence is noticed after EXPIRY_MS, checked once per heartbeat.
    int bound = EXPIRY_MS + PROC_HEARTBEAT_MS + 400;
    if (proc_recv_for (caller, corr, &reply, bound + 2000))
        fail_msg ("no answer to the Sleep within %d ms of SIGKILL", bound + 2000);
    int64_t elapsed = proc_now () - killed_at;
    assert_int_equal (reply.kind, FLOT_ERROR);
    flot_unpack_error (zframe_data (reply.body), zframe_size (reply.body), &err);
    flot_reply_clear (&reply);
    assert_int_equal (err.code, FLOT_E_ACTOR_FAILED);
    assert_non_null (strstr (err.message, "doomed"));
    print_message ("ACTOR_FAILED %lld ms after SIGKILL (bound %d ms)\n",
                   (long long) elapsed, bound);
    assert_true (elapsed <= bound);

    int status = 0;
    assert_int_equal (proc_wait_exit (actor, 1000, &status), 0);
    assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
    //  The dead instance is gone; the service is still known.
    entry = proc_find_actor (client, "echo", "doomed");
    assert_null (entry);
    json_t *value = proc_call (client, "echo", NULL, "Echo", NULL, 1000, &err);
    assert_null (value);
    assert_int_equal (err.code, FLOT_E_NO_INSTANCE);
    flot_client_destroy (&caller);
    flot_client_destroy (&client);
}

static void
test_broker_restart_brings_actors_back (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 3);
    flot_client_t *client;
    proc_t *broker = proc_serve ("broker-1", endpoint, &client, "--broker-only", NULL);
    proc_t *actor = s_echo (client, endpoint, "survivor", NULL);
    s_echo_ok (client, NULL, "{\"before\": true}");
    flot_client_destroy (&client);

    assert_int_equal (proc_kill (broker, SIGKILL), 0);
    assert_int_equal (proc_wait_exit (broker, 2000, NULL), 0);
    //  Let the actor notice: longer than its liveness window.
    usleep ((EXPIRY_MS + PROC_HEARTBEAT_MS) * 1000);
    int64_t restarted_at = proc_now ();
    proc_t *broker_2 = proc_serve ("broker-2", endpoint, &client, "--broker-only", NULL);
    int64_t until = restarted_at + 5 * PROC_HEARTBEAT_MS + 2000;
    bool served = false;
    while (!served && proc_now () < until) {
        json_t *reply = proc_call (client, "echo", NULL, "Echo", "{\"after\": true}",
                                   300, NULL);
        served = reply != NULL;
        json_decref (reply);
        if (!served)
            usleep (20000);
    }
    int64_t elapsed = proc_now () - restarted_at;
    if (!served)
        fail_msg ("Echo did not work within %lld ms of the broker restart (see %s)",
                  (long long) (until - restarted_at), proc_log_path (actor));
    print_message ("echo served again %lld ms after the broker restarted\n",
                   (long long) elapsed);
    //  The same process registered again: it was not restarted.
    assert_true (proc_alive (actor));
    json_t *entry = proc_find_actor (client, "echo", "survivor");
    assert_non_null (entry);
    assert_int_equal (proc_json_int (entry, "pid"), proc_pid (actor));
    json_decref (entry);
    s_echo_ok (client, NULL, "{\"again\": [1, 2, 3]}");

    //  A broker that stops cleanly tells its actors; the next one on the
    //  same endpoint gets them back at once.
    assert_int_equal (proc_stop (broker_2, 5000), 0);
    restarted_at = proc_now ();
    proc_serve ("broker-3", endpoint, NULL, "--broker-only", NULL);
    entry = proc_wait_actor (client, "echo", "survivor", actor,
                             5 * PROC_HEARTBEAT_MS + 2000);
    if (!entry)
        fail_msg ("the actor did not come back to the third broker (see %s)",
                  proc_log_path (actor));
    json_decref (entry);
    print_message ("and %lld ms after a clean broker restart\n",
                   (long long) (proc_now () - restarted_at));
    s_echo_ok (client, NULL, "{\"third\": true}");
    assert_true (proc_alive (actor));
    flot_client_destroy (&client);
}

static void
test_deadline_expires_with_deadline_error (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 4);
    //  Broker and echo in one process this time.
    flot_client_t *client;
    proc_t *daemon = proc_serve ("daemon", endpoint, &client, "--actors", "echo", NULL);
    //  Unnamed, the instance is called after the service and the pid.
    proc_wait_unnamed (client, daemon, "echo");
    s_echo_ok (client, NULL, "{\"ready\": true}");

    flot_client_t *caller = proc_client (endpoint);
    msgpack_sbuffer sbuf;
    proc_pack_json (&sbuf, "{\"ms\": 5000}");
    flot_err_t err = { 0 };
    int64_t sent_at = proc_now ();
    uint64_t corr = flot_client_send (caller, "echo", NULL, "Sleep", sbuf.data,
                                      sbuf.size, 300, &err);
    msgpack_sbuffer_destroy (&sbuf);
    assert_true (corr != 0);
    //  The actor is not blocked by the sleep: others are served meanwhile.
    s_echo_ok (client, NULL, "{\"during\": true}");

    flot_reply_t reply;
    assert_int_equal (proc_recv_for (caller, corr, &reply, 2000), 0);
    int64_t elapsed = proc_now () - sent_at;
    assert_int_equal (reply.kind, FLOT_ERROR);
    assert_int_equal (flot_unpack_error (zframe_data (reply.body),
                                         zframe_size (reply.body), &err), 0);
    flot_reply_clear (&reply);
    assert_int_equal (err.code, FLOT_E_DEADLINE);
    assert_int_equal (err.code, 6);
    assert_non_null (strstr (err.message, "deadline"));
    print_message ("DEADLINE after %lld ms for a 300 ms timeout\n", (long long) elapsed);
    assert_true (elapsed >= 290);
    assert_true (elapsed <= 800);

    //  The broker forgot the request and still serves.
    json_t *pong = proc_call (client, "broker", NULL, "Ping", NULL, 1000, &err);
    assert_non_null (pong);
    assert_true (json_is_true (json_object_get (pong, "pong")));
    json_decref (pong);
    s_echo_ok (client, NULL, "{\"after\": true}");
    json_t *actors = proc_call (client, "broker", NULL, "Actors", NULL, 1000, &err);
    assert_int_equal (json_array_size (json_object_get (actors, "actors")), 1);
    assert_int_equal (proc_json_int (json_array_get (json_object_get (actors, "actors"), 0),
                                     "pending"), 0);
    json_decref (actors);
    flot_client_destroy (&caller);
    flot_client_destroy (&client);
    assert_int_equal (proc_stop (daemon, 5000), 0);
}

static void
test_unknown_service_error (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 5);
    flot_client_t *client;
    proc_t *broker = proc_serve ("broker", endpoint, &client, "--broker-only", NULL);

    flot_err_t err = { 0 };
    json_t *reply = proc_call (client, "nosuch", NULL, "Anything", NULL, 2000, &err);
    assert_null (reply);
    assert_int_equal (err.code, FLOT_E_UNKNOWN_SERVICE);
    assert_int_equal (err.code, 4);
    assert_non_null (strstr (err.message, "'nosuch'"));

    //  A service whose only instance left is known but has no instance.
    proc_t *actor = s_echo (client, endpoint, "leaver", NULL);
    s_echo_ok (client, NULL, "{}");
    assert_int_equal (proc_stop (actor, 5000), 0);
    //  It says goodbye (DISCONNECT), so the broker need not wait for its
    //  heartbeats to stop.
    char line [64];
    snprintf (line, sizeof line, "leaver (pid %d on", (int) proc_pid (actor));
    assert_true (proc_log_wait (broker, line, 1000));
    assert_true (proc_log_contains (broker, ") disconnected"));
    json_t *entry = proc_find_actor (client, "echo", "leaver");
    assert_null (entry);
    reply = proc_call (client, "echo", NULL, "Echo", NULL, 2000, &err);
    assert_null (reply);
    assert_int_equal (err.code, FLOT_E_NO_INSTANCE);
    assert_int_equal (err.code, 5);
    assert_non_null (strstr (err.message, "echo"));
    //  And the unknown one is still unknown.
    reply = proc_call (client, "nosuch", NULL, "Anything", NULL, 2000, &err);
    assert_null (reply);
    assert_int_equal (err.code, FLOT_E_UNKNOWN_SERVICE);
    flot_client_destroy (&client);
}

//  Receives the next message for corr within timeout_ms; fails if none.
static json_t *
s_next (flot_client_t *client, uint64_t corr, int expected_kind)
{
    flot_reply_t reply;
    if (proc_recv_for (client, corr, &reply, 2000))
        fail_msg ("no %s for corr %llu within 2000 ms", flot_kind_name (expected_kind),
                  (unsigned long long) corr);
    if (reply.kind != expected_kind)
        fail_msg ("expected %s, got %s", flot_kind_name (expected_kind),
                  flot_kind_name (reply.kind));
    json_t *body = proc_body_json (zframe_data (reply.body), zframe_size (reply.body));
    flot_reply_clear (&reply);
    assert_non_null (body);
    return body;
}

static void
test_stream_ticks_and_cancel (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 6);
    flot_client_t *client;
    proc_serve ("broker", endpoint, &client, "--broker-only", NULL);
    proc_t *actor = s_echo (client, endpoint, "ticker", NULL);

    msgpack_sbuffer sbuf;
    proc_pack_json (&sbuf, "{\"count\": 5, \"interval_ms\": 20}");
    flot_err_t err = { 0 };
    uint64_t corr = flot_client_send (client, "echo", NULL, "Ticks", sbuf.data,
                                      sbuf.size, 2000, &err);
    msgpack_sbuffer_destroy (&sbuf);
    assert_true (corr != 0);
    json_t *body = s_next (client, corr, FLOT_REPLY);
    assert_int_equal (proc_json_int (body, "stream"), (long long) corr);
    json_decref (body);
    //  count ticks in order, then the end of the stream (SPEC section 12).
    for (int n = 1; n <= 5; n++) {
        body = s_next (client, corr, FLOT_STREAM);
        assert_int_equal (proc_json_int (body, "tick"), n);
        json_decref (body);
    }
    body = s_next (client, corr, FLOT_STREAM_END);
    assert_int_equal (json_object_size (body), 0);
    json_decref (body);
    //  Nothing after the end.
    flot_reply_t extra;
    assert_int_equal (flot_client_recv (client, &extra, 200, &err), -1);

    //  A caller that opens a long stream and goes away.
    flot_client_t *quitter = proc_client (endpoint);
    proc_pack_json (&sbuf, "{\"count\": 1000, \"interval_ms\": 20}");
    uint64_t stream = flot_client_send (quitter, "echo", NULL, "Ticks", sbuf.data,
                                        sbuf.size, 2000, &err);
    msgpack_sbuffer_destroy (&sbuf);
    assert_true (stream != 0);
    body = s_next (quitter, stream, FLOT_REPLY);
    json_decref (body);
    for (int n = 1; n <= 3; n++) {
        body = s_next (quitter, stream, FLOT_STREAM);
        assert_int_equal (proc_json_int (body, "tick"), n);
        json_decref (body);
    }
    flot_client_destroy (&quitter);

    //  The broker finds the caller gone at the next tick and sends CANCEL;
    //  the actor stops that stream and goes on serving.
    char line [64];
    snprintf (line, sizeof line, "stream %llu cancelled", (unsigned long long) stream);
    if (!proc_log_wait (actor, line, 2000))
        fail_msg ("the actor did not log '%s' (see %s)", line, proc_log_path (actor));
    json_t *entry = proc_find_actor (client, "echo", "ticker");
    assert_non_null (entry);
    assert_int_equal (proc_json_int (entry, "pid"), proc_pid (actor));
    json_decref (entry);
    s_echo_ok (client, NULL, "{\"still\": \"serving\"}");
    //  Still alive after a few liveness windows: its heartbeats go on.
    usleep ((EXPIRY_MS + PROC_HEARTBEAT_MS) * 1000);
    entry = proc_find_actor (client, "echo", "ticker");
    assert_non_null (entry);
    json_decref (entry);
    assert_true (proc_alive (actor));
    flot_client_destroy (&client);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_teardown (test_broker_only_routes_to_tcp_actor_processes, proc_teardown),
        cmocka_unit_test_teardown (test_keyed_routing, proc_teardown),
        cmocka_unit_test_teardown (test_sticky_routing_per_key, proc_teardown),
        cmocka_unit_test_teardown (test_sigkill_turns_pending_request_into_error, proc_teardown),
        cmocka_unit_test_teardown (test_broker_restart_brings_actors_back, proc_teardown),
        cmocka_unit_test_teardown (test_deadline_expires_with_deadline_error, proc_teardown),
        cmocka_unit_test_teardown (test_unknown_service_error, proc_teardown),
        cmocka_unit_test_teardown (test_stream_ticks_and_cancel, proc_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
