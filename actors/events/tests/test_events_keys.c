/*  test_events_keys.c - the events actor's PUB socket with keys (SPEC
    11.4): a broker with a key directory and the events actor run as
    threads of the test, the actor's socket a CURVE server of the broker's
    key pair on tcp loopback, admitted by the broker's ZAP handler
    ("shared"). Proves that Info gives the socket's public key; that an
    allowed key receives events while no key, an unknown key or the wrong
    server key receive nothing; that a subscriber without a key fails with
    a sentence; that a viewer revoked while it subscribes receives nothing
    more, while another subscriber (flot_subscriber) gets every event, in
    order, the gap that the socket's new bind makes replayed; and that bad
    key options stop the actor at start.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "flotilla/broker.h"
#include "flotilla/log.h"
#include "flotilla/subscriber.h"
#include "events.h"

#define BROKER "inproc://test-events-keys-broker"
#define WAIT_MS 5000

typedef struct {
    char dir [256];             //  scratch: keys/, v.key, w.key
    char keys [300];            //  the broker's key directory
    zactor_t *broker;
    zactor_t *events;
    zhash_t *options;
    flot_client_t *client;      //  over inproc: trusted, no key
    char pub [256];             //  Info's
    char public_key [41];       //  Info's
    uint64_t last;              //  the last seq published
} test_t;

static test_t s_test;

//  --------------------------------------------------------------------------
//  Helpers

//  Calls events.command with a JSON-free msgpack body built by the caller
//  (NULL: {}); the reply decoded into *body_p. Returns 0, or -1 with err.
static int
s_call (const char *command, const msgpack_sbuffer *request, flot_body_t **body_p,
        flot_err_t *err)
{
    zframe_t *reply = NULL;
    if (flot_client_call (s_test.client, "events", NULL, command,
                          request ? request->data : NULL, request ? request->size : 0,
                          2000, &reply, err))
        return -1;
    *body_p = flot_body_decode (zframe_data (reply), zframe_size (reply), err);
    zframe_destroy (&reply);
    return *body_p ? 0 : -1;
}

//  Info into s_test.pub and s_test.public_key ("" if absent). Returns 0 or -1.
static int
s_info (flot_err_t *err)
{
    flot_body_t *body;
    if (s_call ("Info", NULL, &body, err))
        return -1;
    flot_events_info_reply_t reply;
    int rc = flot_events_info_reply_decode (flot_body_root (body), flot_body_zone (body),
                                            &reply, err);
    if (rc == 0) {
        snprintf (s_test.pub, sizeof s_test.pub, "%s", reply.pub);
        snprintf (s_test.public_key, sizeof s_test.public_key, "%s",
                  reply.public_key ? reply.public_key : "");
    }
    flot_body_destroy (&body);
    return rc;
}

//  Publishes an event of deployment d1; returns its seq.
static uint64_t
s_publish (const char *type)
{
    flot_events_new_event_t event = { .type = type, .deployment = "d1", .message = type };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_events_new_event_def, &event, &sbuf);
    flot_body_t *body;
    flot_err_t err;
    int rc = s_call ("Publish", &sbuf, &body, &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc)
        fail_msg ("Publish %s: %s", type, err.message);
    uint64_t seq = 0;
    assert_int_equal (flot_map_uint (flot_body_root (body), "seq", true, 1, UINT64_MAX,
                                     &seq, &err), 1);
    flot_body_destroy (&body);
    s_test.last = seq;
    return seq;
}

//  A raw SUB socket at Info's endpoint: a CURVE client with cert (NULL:
//  plain) of server_key.
static zsock_t *
s_raw_sub (zcert_t *cert, const char *server_key)
{
    zsock_t *sub = zsock_new (ZMQ_SUB);
    assert_non_null (sub);
    zsock_set_linger (sub, 0);
    if (cert) {
        zcert_apply (cert, sub);
        zsock_set_curve_serverkey (sub, server_key);
    }
    zsock_set_subscribe (sub, "");
    assert_int_equal (zsock_connect (sub, "%s", s_test.pub), 0);
    return sub;
}

//  The seq of the next event on sub within timeout_ms, or 0.
static uint64_t
s_raw_recv (zsock_t *sub, int timeout_ms)
{
    zpoller_t *poller = zpoller_new (sub, NULL);
    void *ready = zpoller_wait (poller, timeout_ms);
    zpoller_destroy (&poller);
    if (!ready)
        return 0;
    zmsg_t *msg = zmsg_recv (sub);
    assert_non_null (msg);
    assert_int_equal (zmsg_size (msg), 3);
    zframe_t *data = zmsg_last (msg);
    flot_err_t err;
    flot_body_t *body = flot_body_decode (zframe_data (data), zframe_size (data), &err);
    assert_non_null (body);
    uint64_t seq = 0;
    assert_int_equal (flot_map_uint (flot_body_root (body), "seq", true, 1, UINT64_MAX,
                                     &seq, &err), 1);
    flot_body_destroy (&body);
    zmsg_destroy (&msg);
    return seq;
}

//  Publishes until sub receives one of them (a SUB misses what is
//  published before its connection is up); then takes all that came.
//  Returns the seq of the last one it received.
static uint64_t
s_until_received (zsock_t *sub)
{
    int64_t deadline = zclock_mono () + WAIT_MS;
    uint64_t seq = 0;
    while (!seq && zclock_mono () < deadline) {
        s_publish ("test.hello");
        seq = s_raw_recv (sub, 100);
    }
    if (!seq)
        fail_msg ("an allowed key received no event in %d ms", WAIT_MS);
    uint64_t more;
    while ((more = s_raw_recv (sub, 200)))
        seq = more;
    return seq;
}

static zcert_t *
s_key (const char *name)
{
    char path [400];
    snprintf (path, sizeof path, "%s/%s.key", s_test.dir, name);
    zcert_t *cert = zcert_load (path);
    assert_non_null (cert);
    return cert;
}

//  --------------------------------------------------------------------------
//  The world: a keyed broker, the events actor, a client

static int
s_group_setup (void **state)
{
    (void) state;
    snprintf (s_test.dir, sizeof s_test.dir, "/tmp/test-events-keys-XXXXXX");
    if (!mkdtemp (s_test.dir))
        return -1;
    snprintf (s_test.keys, sizeof s_test.keys, "%s/keys", s_test.dir);
    flot_err_t err;
    if (flot_keys_init (s_test.keys, &err)) {
        fprintf (stderr, "keys init: %s\n", err.message);
        return -1;
    }
    const char *viewers [] = { "v", "w" };
    for (size_t i = 0; i < 2; i++) {
        flot_key_t key = { .role = FLOT_ROLE_VIEWER };
        snprintf (key.name, sizeof key.name, "%s", viewers [i]);
        char secret [400];
        snprintf (secret, sizeof secret, "%s/%s.key", s_test.dir, viewers [i]);
        if (flot_keys_new (s_test.keys, &key, secret, &err)) {
            fprintf (stderr, "keys new: %s\n", err.message);
            return -1;
        }
    }
    const char *endpoints [] = { BROKER, NULL };
    flot_broker_config_t broker = {
        .endpoints = endpoints, .heartbeat_ms = 200, .keys = s_test.keys
    };
    s_test.broker = zactor_new (flot_broker_actor, &broker);
    char *status = s_test.broker ? zstr_recv (s_test.broker) : NULL;
    bool ok = status && streq (status, "OK");
    zstr_free (&status);
    if (!ok)
        return -1;

    char cert [400];
    snprintf (cert, sizeof cert, "%s/broker.key", s_test.keys);
    s_test.options = zhash_new ();
    zhash_autofree (s_test.options);
    zhash_insert (s_test.options, "pub", "tcp://127.0.0.1:*");
    zhash_insert (s_test.options, "pub-cert", cert);
    zhash_insert (s_test.options, "pub-zap", "shared");
    flot_actor_config_t config = {
        .endpoint = BROKER, .heartbeat_ms = 200, .options = s_test.options
    };
    s_test.events = flot_actor_thread (&flot_events_actor, &config);
    s_test.client = flot_client_new (BROKER);
    if (!s_test.events || !s_test.client)
        return -1;
    //  Registered once Info answers.
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (s_info (&err)) {
        if (zclock_mono () > deadline) {
            fprintf (stderr, "the events actor did not answer Info: %s\n", err.message);
            return -1;
        }
        zclock_sleep (20);
    }
    return 0;
}

static int
s_group_teardown (void **state)
{
    (void) state;
    flot_client_destroy (&s_test.client);
    zactor_destroy (&s_test.events);
    zactor_destroy (&s_test.broker);
    zhash_destroy (&s_test.options);
    char command [400];
    snprintf (command, sizeof command, "rm -rf '%s'", s_test.dir);
    if (*s_test.dir && system (command) != 0)
        fprintf (stderr, "cannot remove %s\n", s_test.dir);
    return 0;
}

//  --------------------------------------------------------------------------
//  Tests

static void
test_events_info_gives_the_sockets_public_key (void **state)
{
    (void) state;
    char path [400];
    snprintf (path, sizeof path, "%s/broker.pub", s_test.keys);
    zcert_t *broker = zcert_load (path);
    assert_non_null (broker);
    //  The broker's key pair serves the socket: its public key is Info's.
    assert_string_equal (s_test.public_key, zcert_public_txt (broker));
    assert_true (strncmp (s_test.pub, "tcp://127.0.0.1:", 16) == 0);
    zcert_destroy (&broker);
}

static void
test_events_admit_only_allowed_keys (void **state)
{
    (void) state;
    zcert_t *viewer = s_key ("v");
    zcert_t *stranger = zcert_new ();
    zcert_t *other_server = zcert_new ();
    zsock_t *allowed = s_raw_sub (viewer, s_test.public_key);
    zsock_t *plain = s_raw_sub (NULL, NULL);
    zsock_t *unknown = s_raw_sub (stranger, s_test.public_key);
    zsock_t *wrong_server = s_raw_sub (viewer, zcert_public_txt (other_server));

    s_until_received (allowed);
    //  One more, with every socket connected (or refused) long since.
    uint64_t seq = s_publish ("test.last");
    assert_int_equal (s_raw_recv (allowed, 2000), seq);
    assert_int_equal (s_raw_recv (plain, 300), 0);
    assert_int_equal (s_raw_recv (unknown, 100), 0);
    assert_int_equal (s_raw_recv (wrong_server, 100), 0);

    zsock_destroy (&allowed);
    zsock_destroy (&plain);
    zsock_destroy (&unknown);
    zsock_destroy (&wrong_server);
    zcert_destroy (&viewer);
    zcert_destroy (&stranger);
    zcert_destroy (&other_server);
}

static void
test_events_subscriber_without_a_key_fails_with_a_sentence (void **state)
{
    (void) state;
    //  The client is inproc: it has no key, and so neither has its subscriber.
    flot_subscriber_t *sub = flot_subscriber_new (s_test.client, NULL,
                                                  FLOT_SUBSCRIBER_NEWEST, NULL, NULL);
    assert_non_null (sub);
    const flot_subscriber_item_t *item = flot_subscriber_next (sub, 2000);
    assert_non_null (item);
    assert_int_equal (item->kind, FLOT_SUBSCRIBER_FAILED);
    assert_null (item->command);
    assert_int_equal (item->err.code, FLOT_E_NOT_AUTHORIZED);
    assert_non_null (strstr (item->err.message, "the event stream needs a key"));
    flot_subscriber_destroy (&sub);
}

//  The next EVENT item of sub (other items, LIVE, are skipped); its seq.
static uint64_t
s_next_event (flot_subscriber_t *sub)
{
    int64_t deadline = zclock_mono () + WAIT_MS;
    while (zclock_mono () < deadline) {
        const flot_subscriber_item_t *item = flot_subscriber_next (sub, 500);
        if (item && item->kind == FLOT_SUBSCRIBER_EVENT)
            return item->event->seq;
        if (item && (item->kind == FLOT_SUBSCRIBER_FAILED
                  || item->kind == FLOT_SUBSCRIBER_MISSING
                  || item->kind == FLOT_SUBSCRIBER_LOST))
            fail_msg ("subscriber item %d: %s", item->kind, item->err.message);
    }
    fail_msg ("no event in %d ms", WAIT_MS);
    return 0;
}

static void
test_events_revoked_viewer_stops_receiving_others_replay_the_gap (void **state)
{
    (void) state;
    zcert_t *viewer = s_key ("v");
    zcert_t *other = s_key ("w");
    zsock_t *revoked = s_raw_sub (viewer, s_test.public_key);
    //  Its connection ends when the socket binds again: the test's signal.
    zsock_t *probe = s_raw_sub (other, s_test.public_key);
    assert_int_equal (zmq_socket_monitor (zsock_resolve (probe), "inproc://test-events-probe",
                                          ZMQ_EVENT_DISCONNECTED), 0);
    zsock_t *monitor = zsock_new_pair (">inproc://test-events-probe");
    assert_non_null (monitor);
    flot_creds_t creds = { .cert = other };
    flot_subscriber_t *sub = flot_subscriber_new (s_test.client, NULL, FLOT_SUBSCRIBER_NEWEST,
                                                  NULL, NULL);
    assert_non_null (sub);
    assert_int_equal (flot_subscriber_set_creds (sub, &creds), 0);
    const flot_subscriber_item_t *item = flot_subscriber_next (sub, WAIT_MS);
    assert_non_null (item);
    assert_int_equal (item->kind, FLOT_SUBSCRIBER_LIVE);
    uint64_t from = item->to + 1;

    //  Both receive while v is allowed.
    s_until_received (probe);
    uint64_t last = s_until_received (revoked);
    for (uint64_t seq = from; seq <= s_test.last; seq++)
        assert_int_equal (s_next_event (sub), seq);
    uint64_t before = s_test.last;
    assert_int_equal (last, before);

    flot_err_t err;
    assert_int_equal (flot_keys_revoke (s_test.keys, "v", &err), 0);
    //  The broker sees the change; the events actor asks it every second.
    zpoller_t *poller = zpoller_new (monitor, NULL);
    assert_true (zpoller_wait (poller, 3000) == monitor);
    zpoller_destroy (&poller);
    zmsg_t *event = zmsg_recv (monitor);
    zmsg_destroy (&event);

    uint64_t first = s_publish ("test.after");
    for (int i = 0; i < 9; i++)
        s_publish ("test.after");
    //  The other one gets every event, in order: those published while it
    //  reconnected come by replay.
    for (uint64_t seq = before + 1; seq <= s_test.last; seq++)
        assert_int_equal (s_next_event (sub), seq);
    //  The probe (w) is admitted again: it receives later events.
    s_until_received (probe);
    //  The revoked one receives none of them.
    uint64_t got;
    while ((got = s_raw_recv (revoked, 500)))
        if (got >= first)
            fail_msg ("the revoked key received event %llu", (unsigned long long) got);

    flot_subscriber_destroy (&sub);
    zsock_destroy (&monitor);
    zsock_destroy (&probe);
    zsock_destroy (&revoked);
    zcert_destroy (&viewer);
    zcert_destroy (&other);
}

//  Starts the events actor with these options (name, value, ..., NULL);
//  returns true if it started (and stops it).
static bool
s_starts_with (const char *name, ...)
{
    zhash_t *options = zhash_new ();
    zhash_autofree (options);
    zhash_insert (options, "pub", "tcp://127.0.0.1:*");
    va_list args;
    va_start (args, name);
    for (const char *n = name; n; n = va_arg (args, const char *))
        zhash_update (options, n, (void *) va_arg (args, const char *));
    va_end (args);
    flot_actor_config_t config = { .endpoint = BROKER, .options = options };
    zactor_t *actor = flot_actor_thread (&flot_events_actor, &config);
    bool started = actor != NULL;
    zactor_destroy (&actor);
    zhash_destroy (&options);
    return started;
}

static void
test_events_bad_key_options_stop_it_at_start (void **state)
{
    (void) state;
    char secret [400], public [400], missing [400];
    snprintf (secret, sizeof secret, "%s/broker.key", s_test.keys);
    snprintf (public, sizeof public, "%s/broker.pub", s_test.keys);
    snprintf (missing, sizeof missing, "%s/none.key", s_test.keys);
    //  A public key only: the socket needs its secret key too.
    assert_false (s_starts_with ("pub-cert", public, "pub-zap", "shared", NULL));
    assert_false (s_starts_with ("pub-cert", missing, "pub-zap", "shared", NULL));
    //  Who admits subscribers must be said.
    assert_false (s_starts_with ("pub-cert", secret, NULL));
    assert_false (s_starts_with ("pub-cert", secret, "pub-zap", "nobody", NULL));
    assert_false (s_starts_with ("pub-zap", "shared", NULL));
    assert_false (s_starts_with ("pub-cert", secret, "pub-zap", "shared",
                                 "pub-insecure", "1", NULL));
    //  Plain, on purpose, starts.
    assert_true (s_starts_with ("pub-insecure", "1", NULL));
}

int
main (void)
{
    flot_log_set_level (FLOT_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_events_info_gives_the_sockets_public_key),
        cmocka_unit_test (test_events_admit_only_allowed_keys),
        cmocka_unit_test (test_events_subscriber_without_a_key_fails_with_a_sentence),
        cmocka_unit_test (test_events_bad_key_options_stop_it_at_start),
        //  Last: it revokes v.
        cmocka_unit_test (test_events_revoked_viewer_stops_receiving_others_replay_the_gap),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
