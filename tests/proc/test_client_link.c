/*  test_client_link.c - a call whose link to the broker drops is not
    waited for to its timeout, with a real flotillad (its broker and echo
    actor) over TCP on loopback (ports +300..399), killed under the call:

    - a drop after the request was sent ends the call at once with
      DEADLINE, and flot_client_link_dropped says why;
    - a drop before the request was sent does not: the request waits on
      the socket and the broker that comes back answers it;
    - a broker that never answered (nothing listening) is no drop: the call
      waits for its timeout, as before.  */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "proc_util.h"

#define PORT (PROC_PORT_BASE + 300)

//  One call, made on a thread of its own while the test stops and starts
//  brokers under it.
typedef struct {
    flot_client_t *client;
    const char *command;
    int sleep_ms;               //  Sleep's ms; Echo when 0
    uint32_t timeout_ms;
    msgpack_sbuffer request;
    pthread_t thread;
    int rc;
    flot_err_t err;
    bool dropped;               //  flot_client_link_dropped after it
    int64_t took_ms;
} call_t;

static void *
s_call_run (void *arg)
{
    call_t *call = arg;
    int64_t start = zclock_mono ();
    zframe_t *body = NULL;
    call->rc = flot_client_call (call->client, "echo", NULL, call->command,
                                 call->request.data, call->request.size,
                                 call->timeout_ms, &body, &call->err);
    call->took_ms = zclock_mono () - start;
    call->dropped = flot_client_link_dropped (call->client);
    zframe_destroy (&body);
    return NULL;
}

static void
s_call_start (call_t *call, flot_client_t *client, int sleep_ms, uint32_t timeout_ms)
{
    *call = (call_t) {
        .client = client, .command = sleep_ms ? "Sleep" : "Echo",
        .sleep_ms = sleep_ms, .timeout_ms = timeout_ms
    };
    char request [32];
    snprintf (request, sizeof request, "{\"ms\": %d}", sleep_ms);
    proc_pack_json (&call->request, request);
    assert_int_equal (pthread_create (&call->thread, NULL, s_call_run, call), 0);
}

static void
s_call_join (call_t *call)
{
    assert_int_equal (pthread_join (call->thread, NULL), 0);
    msgpack_sbuffer_destroy (&call->request);
}

//  flotillad with the broker on endpoint and the echo actor, plain; with
//  client not NULL, *client is a client of it.
static proc_t *
s_serve (const char *endpoint, flot_client_t **client)
{
    return proc_serve ("echo", endpoint, client, "--actors", "echo", "--insecure", NULL);
}

//  The number of requests the broker has delivered to echo and not had
//  answered (Actors' pending), or -1.
static long long
s_echo_pending (flot_client_t *client, proc_t *daemon)
{
    char instance [32];
    snprintf (instance, sizeof instance, "echo-%d", (int) proc_pid (daemon));
    json_t *actor = proc_find_actor (client, "echo", instance);
    long long pending = actor ? proc_json_int (actor, "pending") : -1;
    json_decref (actor);
    return pending;
}

//  A call answered on the link that is up, so that the link is known up.
static void
s_echo_answers (flot_client_t *client)
{
    call_t call;
    s_call_start (&call, client, 0, 5000);
    s_call_join (&call);
    assert_int_equal (call.rc, 0);
    assert_false (call.dropped);
}

static void
test_drop_after_send_ends_the_call (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT);
    flot_client_t *client, *observer;
    proc_t *daemon = s_serve (endpoint, &client);
    observer = flot_client_new (endpoint);
    assert_non_null (observer);
    s_echo_answers (client);

    call_t call;
    s_call_start (&call, client, 10000, 20000);
    int64_t deadline = zclock_mono () + 5000;
    while (s_echo_pending (observer, daemon) < 1) {
        assert_true (zclock_mono () < deadline);
        zclock_sleep (20);
    }
    proc_kill (daemon, SIGKILL);    //  the broker goes, with the request
    assert_int_equal (proc_wait_exit (daemon, 5000, NULL), 0);
    s_call_join (&call);
    assert_int_equal (call.rc, -1);
    assert_int_equal (call.err.code, FLOT_E_DEADLINE);
    assert_true (call.dropped);
    assert_non_null (strstr (call.err.message, "link to the broker dropped"));
    assert_non_null (strstr (call.err.message, "echo Sleep"));
    //  Not the call's 20 s: the drop was seen on the next look.
    assert_true (call.took_ms < 10000);
    flot_client_destroy (&observer);
    flot_client_destroy (&client);
}

static void
test_drop_before_send_waits_for_the_next_broker (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 1);
    flot_client_t *client;
    proc_t *daemon = s_serve (endpoint, &client);
    s_echo_answers (client);
    proc_kill (daemon, SIGKILL);
    assert_int_equal (proc_wait_exit (daemon, 5000, NULL), 0);
    zclock_sleep (500);         //  the drop is long seen when the call is sent

    call_t call;
    s_call_start (&call, client, 0, 15000);
    zclock_sleep (600);         //  past a few looks at the link
    s_serve (endpoint, NULL);
    s_call_join (&call);
    assert_int_equal (call.rc, 0);
    assert_false (call.dropped);
    //  And a call after it, on the new link, is answered too.
    s_echo_answers (client);
    flot_client_destroy (&client);
}

static void
test_no_broker_is_no_drop (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 2);   //  nothing listens
    flot_client_t *client = flot_client_new (endpoint);
    assert_non_null (client);
    call_t call;
    s_call_start (&call, client, 0, 700);
    s_call_join (&call);
    assert_int_equal (call.rc, -1);
    assert_int_equal (call.err.code, FLOT_E_DEADLINE);
    assert_false (call.dropped);
    assert_non_null (strstr (call.err.message, "no answer from the broker within 700 ms"));
    assert_true (call.took_ms >= 700);
    assert_false (flot_client_answered (client));
    flot_client_destroy (&client);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_teardown (test_drop_after_send_ends_the_call, proc_teardown),
        cmocka_unit_test_teardown (test_drop_before_send_waits_for_the_next_broker,
                                   proc_teardown),
        cmocka_unit_test_teardown (test_no_broker_is_no_drop, proc_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
