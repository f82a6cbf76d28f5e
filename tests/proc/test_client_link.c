/*  test_client_link.c - a call whose link to the broker drops is not
    waited for to its timeout, with a real flotillad (its broker and echo
    actor) over TCP on loopback (ports +300..399), killed under the call:

    - a drop after the request was sent ends the call at once with
      DEADLINE, and flot_client_link_dropped says why;
    - a drop before the request was sent does not: the request waits on
      the socket and the broker that comes back answers it;
    - a broker that never answered (nothing listening), or one that
      refuses the handshake (a plain client of a broker with keys), is no
      drop: the call waits for its timeout, as before.

    Calls run on threads of their own while the test kills and starts
    brokers under them. The calls and clients are kept here, not on a
    test's stack: a failed assertion leaves the test at once, and the
    teardown stops the daemons, then joins the threads (each call ends by
    its timeout at the latest), then destroys the clients.  */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "proc_util.h"

#define PORT (PROC_PORT_BASE + 300)

//  One call, made on a thread of its own.
typedef struct {
    flot_client_t *client;
    const char *service, *command;
    uint32_t timeout_ms;
    msgpack_sbuffer request;
    pthread_t thread;
    bool running;               //  started and not joined
    int rc;
    flot_err_t err;
    bool dropped;               //  flot_client_link_dropped after it
    int64_t took_ms;
} call_t;

#define MAX_CALLS   4
#define MAX_CLIENTS 4
static call_t s_calls [MAX_CALLS];
static flot_client_t *s_clients [MAX_CLIENTS];

//  A new client of endpoint, plain, kept for the teardown.
static flot_client_t *
s_client (const char *endpoint)
{
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (!s_clients [i]) {
            s_clients [i] = flot_client_new (endpoint);
            assert_non_null (s_clients [i]);
            return s_clients [i];
        }
    fail_msg ("more than %d clients", MAX_CLIENTS);
    return NULL;
}

static void *
s_call_run (void *arg)
{
    call_t *call = arg;
    int64_t start = zclock_mono ();
    zframe_t *body = NULL;
    call->rc = flot_client_call (call->client, call->service, NULL, call->command,
                                 call->request.data, call->request.size,
                                 call->timeout_ms, &body, &call->err);
    call->took_ms = zclock_mono () - start;
    call->dropped = flot_client_link_dropped (call->client);
    zframe_destroy (&body);
    return NULL;
}

//  Starts service/command with the JSON body on a thread; the call's
//  record, to s_call_join.
static call_t *
s_call_start (flot_client_t *client, const char *service, const char *command,
              const char *json, uint32_t timeout_ms)
{
    call_t *call = NULL;
    for (int i = 0; i < MAX_CALLS && !call; i++)
        if (!s_calls [i].running)
            call = &s_calls [i];
    assert_non_null (call);
    *call = (call_t) {
        .client = client, .service = service, .command = command,
        .timeout_ms = timeout_ms
    };
    proc_pack_json (&call->request, json);
    assert_int_equal (pthread_create (&call->thread, NULL, s_call_run, call), 0);
    call->running = true;
    return call;
}

static void
s_call_join (call_t *call)
{
    assert_int_equal (pthread_join (call->thread, NULL), 0);
    call->running = false;
    msgpack_sbuffer_destroy (&call->request);
}

//  Stops the daemons (so that calls end), joins the calls, destroys the
//  clients; fails if a daemon's log holds a sanitizer report.
static int
s_teardown (void **state)
{
    int rc = proc_teardown (state);
    for (int i = 0; i < MAX_CALLS; i++)
        if (s_calls [i].running)
            s_call_join (&s_calls [i]);
    for (int i = 0; i < MAX_CLIENTS; i++)
        flot_client_destroy (&s_clients [i]);
    return rc;
}

//  flotillad with the broker on endpoint and the echo actor: plain, or
//  with keys (a plain client's handshake is then refused).
static proc_t *
s_serve (const char *endpoint, bool keys)
{
    return keys ? proc_serve ("echo", endpoint, NULL, "--actors", "echo", NULL)
                : proc_serve ("echo", endpoint, NULL, "--actors", "echo", "--insecure", NULL);
}

//  The number of requests the broker has delivered to echo and not had
//  answered (Actors' pending), or -1.
static long long
s_echo_pending (flot_client_t *client, proc_t *daemon)
{
    char instance [32];
    snprintf (instance, sizeof instance, "echo-%d", (int) proc_pid (daemon));
    return proc_actor_int (client, "echo", instance, "pending");
}

//  service/command answered on the link that is up, so that the link is
//  known up.
static void
s_answers (flot_client_t *client, const char *service, const char *command)
{
    call_t *call = s_call_start (client, service, command, NULL, 5000);
    s_call_join (call);
    assert_int_equal (call->rc, 0);
    assert_false (call->dropped);
}

static void
s_kill (proc_t *daemon)
{
    proc_kill (daemon, SIGKILL);
    assert_int_equal (proc_wait_exit (daemon, 5000, NULL), 0);
}

static void
test_drop_after_send_ends_the_call (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT);
    proc_t *daemon = s_serve (endpoint, false);
    flot_client_t *client = s_client (endpoint), *observer = s_client (endpoint);
    s_answers (client, "echo", "Echo");

    call_t *call = s_call_start (client, "echo", "Sleep", "{\"ms\": 10000}", 20000);
    int64_t deadline = zclock_mono () + 10000;
    while (s_echo_pending (observer, daemon) < 1) {
        assert_true (zclock_mono () < deadline);
        zclock_sleep (20);
    }
    s_kill (daemon);            //  the broker goes, with the request
    s_call_join (call);
    assert_int_equal (call->rc, -1);
    assert_int_equal (call->err.code, FLOT_E_DEADLINE);
    assert_true (call->dropped);
    assert_non_null (strstr (call->err.message, FLOT_LINK_DROPPED));
    assert_non_null (strstr (call->err.message, "echo Sleep"));
    //  Not the call's 20 s: the drop was seen on the next look.
    assert_true (call->took_ms < 10000);
}

static void
test_drop_before_send_waits_for_the_next_broker (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 1);
    proc_t *daemon = s_serve (endpoint, false);
    flot_client_t *client = s_client (endpoint);
    s_answers (client, "echo", "Echo");
    s_kill (daemon);
    zclock_sleep (500);         //  the drop is long seen when the call is sent

    //  The broker answers Ping itself: the request may reach the new one
    //  before its actors have registered.
    call_t *call = s_call_start (client, "broker", "Ping", NULL, 15000);
    zclock_sleep (600);         //  past a few looks at the link
    s_serve (endpoint, false);
    s_call_join (call);
    assert_int_equal (call->rc, 0);
    assert_false (call->dropped);
    //  And a call after it, on the new link, is answered too.
    s_answers (client, "broker", "Ping");
}

//  A call that no broker answered: DEADLINE at its timeout, not a drop,
//  and the broker counts as never met.
static void
s_no_answer (flot_client_t *client)
{
    call_t *call = s_call_start (client, "broker", "Ping", NULL, 1500);
    s_call_join (call);
    assert_int_equal (call->rc, -1);
    assert_int_equal (call->err.code, FLOT_E_DEADLINE);
    assert_false (call->dropped);
    assert_non_null (strstr (call->err.message, "no answer from the broker within 1500 ms"));
    assert_true (call->took_ms >= 1500);
    assert_false (flot_client_answered (client));
}

static void
test_no_broker_is_no_drop (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 2);   //  nothing listens
    s_no_answer (s_client (endpoint));
}

static void
test_refused_handshake_is_no_drop (void **state)
{
    (void) state;
    char endpoint [64];
    proc_endpoint (endpoint, sizeof endpoint, PORT + 3);
    s_serve (endpoint, true);
    //  Plain against CURVE: each handshake fails, and the link is never up.
    s_no_answer (s_client (endpoint));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_teardown (test_drop_after_send_ends_the_call, s_teardown),
        cmocka_unit_test_teardown (test_drop_before_send_waits_for_the_next_broker,
                                   s_teardown),
        cmocka_unit_test_teardown (test_no_broker_is_no_drop, s_teardown),
        cmocka_unit_test_teardown (test_refused_handshake_is_no_drop, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
