/*  test_actor.c - the actor host: an actor that calls other services.

    Runs a real broker, the echo actor and a relay actor as threads over
    inproc, and a client. The relay's commands call echo through the host's
    flot_actor_call and answer with what came back, so each test shows one
    property of calls made from an actor: replies, errors, deadlines,
    streams, and a call without a stream that the callee streams to anyway.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <cmocka.h>

#include "echo.h"
#include "flotilla/contract_echo.h"
#include "flotilla/json.h"
#include "flotilla/log.h"
#include "world.h"

//  Relay: {"service", "command", "body"?, "timeout"?} -> calls it and
//  replies {"kind": REPLY/ERROR name, "code"?, "message"?, "body"?}.
//  RelayStream: {"count"} -> calls echo Ticks as a stream and replies
//  {"ticks": n, "ended": bool} once the stream ends.
typedef struct {
    flot_request_t *request;
    uint64_t ticks;
} relay_t;

static void
s_relay_answer (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    relay_t *relay = arg;
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    if (answer->kind == FLOT_ERROR) {
        msgpack_pack_map (&pk, 3);
        flot_pack_kv_str (&pk, "kind", "ERROR");
        flot_pack_kv_uint (&pk, "code", (uint64_t) answer->err.code);
        flot_pack_kv_str (&pk, "message", answer->err.message);
    }
    else {
        msgpack_pack_map (&pk, 2);
        flot_pack_kv_str (&pk, "kind", flot_kind_name (answer->kind));
        flot_pack_str (&pk, "body");
        msgpack_pack_object (&pk, *answer->body);
    }
    flot_request_reply_sbuf (&relay->request, &sbuf);
    free (relay);
}

//  What Relay and RelayOnce call, from their request's body: "service",
//  "command", "body" (a map, or {} if absent) and "timeout" (1..60000 ms,
//  2000 if absent). The body is packed into target->body, which the caller
//  destroys.
typedef struct {
    char service [65];
    char command [65];
    uint64_t timeout;
    msgpack_sbuffer body;
} target_t;

//  Returns 0, or -1 with the request failed with the field's error.
static int
s_relay_target (flot_request_t **request, target_t *target)
{
    const msgpack_object *body = flot_request_body (*request);
    const msgpack_object *inner = NULL;
    flot_err_t err;
    target->timeout = 2000;
    if (flot_map_str (body, "service", true, target->service, sizeof target->service,
                      &err) < 0
    ||  flot_map_str (body, "command", true, target->command, sizeof target->command,
                      &err) < 0
    ||  flot_map_uint (body, "timeout", false, 1, 60000, &target->timeout, &err) < 0
    ||  flot_map_object (body, "body", false, MSGPACK_OBJECT_MAP, &inner, &err) < 0) {
        flot_request_fail (request, &err);
        return -1;
    }
    msgpack_packer pk;
    flot_pack_begin (&target->body, &pk);
    if (inner)
        msgpack_pack_object (&pk, *inner);
    else
        msgpack_pack_map (&pk, 0);
    return 0;
}

static void
s_relay (flot_actor_t *actor, flot_request_t *request)
{
    target_t target;
    if (s_relay_target (&request, &target))
        return;
    relay_t *relay = calloc (1, sizeof *relay);
    relay->request = request;
    uint64_t corr = flot_actor_call (actor, target.service, NULL, target.command,
                                     target.body.data, target.body.size,
                                     (uint32_t) target.timeout, false, s_relay_answer, relay);
    msgpack_sbuffer_destroy (&target.body);
    if (!corr) {
        free (relay);
        flot_request_error (&request, FLOT_E_INTERNAL, "could not call");
    }
}

static void
s_stream_answer (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor;
    relay_t *relay = arg;
    if (answer->kind == FLOT_STREAM) {
        relay->ticks++;
        return;
    }
    if (answer->kind == FLOT_REPLY)
        return;                 //  the stream is open
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 2);
    flot_pack_kv_uint (&pk, "ticks", relay->ticks);
    flot_pack_kv_bool (&pk, "ended", answer->kind == FLOT_STREAM_END);
    flot_request_reply_sbuf (&relay->request, &sbuf);
    free (relay);
}

static void
s_relay_stream (flot_actor_t *actor, flot_request_t *request)
{
    uint64_t count = 0;
    flot_err_t err;
    if (flot_map_uint (flot_request_body (request), "count", true, 1, 100, &count, &err) < 0) {
        flot_request_fail (&request, &err);
        return;
    }
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 2);
    flot_pack_kv_uint (&pk, "count", count);
    flot_pack_kv_uint (&pk, "interval_ms", 5);
    relay_t *relay = calloc (1, sizeof *relay);
    relay->request = request;
    flot_actor_call (actor, "echo", NULL, "Ticks", sbuf.data, sbuf.size, 2000, true,
                     s_stream_answer, relay);
    msgpack_sbuffer_destroy (&sbuf);
}

//  RelayOnce: {"service", "command", "body"?, "timeout"?} -> calls it
//  without a stream and, at the first answer that is not a STREAM, replies
//  {"answers": n, "kinds": [each answer's kind], "body": the last one's
//  body, or its "message"}. s_once counts every answer the call's callback gets, also
//  after that reply.
static struct {
    flot_request_t *request;    //  NULL once answered
    atomic_int answers;
    json_t *kinds;
} s_once;

static void
s_once_answer (flot_actor_t *actor, const flot_answer_t *answer, void *arg)
{
    (void) actor, (void) arg;
    atomic_fetch_add (&s_once.answers, 1);
    json_array_append_new (s_once.kinds, json_string (flot_kind_name (answer->kind)));
    if (answer->kind == FLOT_STREAM || !s_once.request)
        return;
    json_t *reply = json_pack ("{s:i, s:O}", "answers", atomic_load (&s_once.answers),
                               "kinds", s_once.kinds);
    if (answer->kind == FLOT_ERROR)
        json_object_set_new (reply, "message", json_string (answer->err.message));
    else
        json_object_set_new (reply, "body", flot_json_from_msgpack (answer->body));
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    int rc = flot_json_pack (&pk, reply);
    json_decref (reply);
    if (rc) {
        msgpack_sbuffer_destroy (&sbuf);
        flot_request_error (&s_once.request, FLOT_E_INTERNAL, "cannot pack the answer");
    }
    else
        flot_request_reply_sbuf (&s_once.request, &sbuf);
}

static void
s_relay_once (flot_actor_t *actor, flot_request_t *request)
{
    target_t target;
    if (s_relay_target (&request, &target))
        return;
    s_once.request = request;
    atomic_store (&s_once.answers, 0);
    json_array_clear (s_once.kinds);
    uint64_t corr = flot_actor_call (actor, target.service, NULL, target.command,
                                     target.body.data, target.body.size,
                                     (uint32_t) target.timeout, false, s_once_answer, NULL);
    msgpack_sbuffer_destroy (&target.body);
    if (!corr)
        flot_request_error (&s_once.request, FLOT_E_INTERNAL, "could not call");
}

static const flot_command_t s_relay_commands [] = {
    { "Relay", s_relay },
    { "RelayStream", s_relay_stream },
    { "RelayOnce", s_relay_once },
    { NULL, NULL }
};

static const flot_actor_def_t s_relay_actor = {
    .service = "relay",
    .commands = s_relay_commands
};

//  Pusher, a service no contract names, pushes on a stream its caller did
//  not ask for: Push {"n": 1}, {"n": 2}, then REPLY {"done": true}, then
//  {"n": 3} and STREAM_END; PushEnd {"n": 1} and STREAM_END {}, then REPLY
//  {"done": true}. The broker forwards all of it (the stream pushed before
//  its REPLY, from the instance that holds the request). (It runs in the
//  actor's thread, where cmocka cannot fail a test: what it sends is
//  checked where it arrives.)
static void
s_push (flot_actor_t *actor, flot_request_t *request, bool end_first)
{
    static const uint8_t done [] = { 0x81, 0xa4, 'd', 'o', 'n', 'e', 0xc3 };
    uint8_t n [] = { 0x81, 0xa1, 'n', 0x01 };
    flot_stream_t *stream = flot_request_open_stream (request, NULL, NULL);
    if (!stream) {
        flot_request_error (&request, FLOT_E_INTERNAL, "cannot open a stream");
        return;
    }
    flot_stream_send (actor, stream, n, sizeof n);
    if (end_first) {
        flot_stream_end (actor, &stream, NULL, 0);
        flot_request_reply (&request, done, sizeof done);
        return;
    }
    n [3] = 2;
    flot_stream_send (actor, stream, n, sizeof n);
    flot_request_reply (&request, done, sizeof done);
    n [3] = 3;
    flot_stream_send (actor, stream, n, sizeof n);
    flot_stream_end (actor, &stream, NULL, 0);
}

static void
s_push_after (flot_actor_t *actor, flot_request_t *request)
{
    s_push (actor, request, false);
}

static void
s_push_end (flot_actor_t *actor, flot_request_t *request)
{
    s_push (actor, request, true);
}

static const flot_command_t s_pusher_commands [] = {
    { "Push", s_push_after },
    { "PushEnd", s_push_end },
    { NULL, NULL }
};

static const flot_actor_def_t s_pusher_actor = {
    .service = "pusher",
    .commands = s_pusher_commands
};

//  Inspect, a service no contract names, says what its handler was given
//  and answers with bytes of its choosing: Show replies {"key", "caller",
//  "size" (the body's bytes), "body"}; Mirror replies with the request's
//  own bytes, MirrorShort with all of them but the last (a truncated map),
//  Garbage with a map whose key is cut short. The host checks every reply
//  body but the request's own bytes, unchanged.
static void
s_show (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    size_t size;
    flot_request_body_bytes (request, &size);
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_pack_begin (&sbuf, &pk);
    msgpack_pack_map (&pk, 4);
    flot_pack_kv_str (&pk, "key", flot_request_key (request));
    flot_pack_kv_str (&pk, "caller", flot_request_caller (request));
    flot_pack_kv_uint (&pk, "size", size);
    flot_pack_str (&pk, "body");
    msgpack_pack_object (&pk, *flot_request_body (request));
    flot_request_reply_sbuf (&request, &sbuf);
}

static void
s_mirror (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    size_t size;
    const void *body = flot_request_body_bytes (request, &size);
    flot_request_reply (&request, body, size);
}

static void
s_mirror_short (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    size_t size;
    const void *body = flot_request_body_bytes (request, &size);
    flot_request_reply (&request, body, size - 1);
}

static void
s_garbage (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    static const uint8_t cut [] = { 0x81, 0xa4, 'k', 'e' };
    flot_request_reply (&request, cut, sizeof cut);
}

static const flot_command_t s_inspect_commands [] = {
    { "Show", s_show },
    { "Mirror", s_mirror },
    { "MirrorShort", s_mirror_short },
    { "Garbage", s_garbage },
    { NULL, NULL }
};

static const flot_actor_def_t s_inspect_actor = {
    .service = "inspect",
    .commands = s_inspect_commands
};

static int
s_setup (void **state)
{
    static const flot_actor_def_t *const defs [] = {
        &flot_echo_actor, &s_relay_actor, &s_pusher_actor, &s_inspect_actor, NULL
    };
    s_once.kinds = json_array ();
    *state = world_start (defs);
    return 0;
}

static int
s_teardown (void **state)
{
    world_stop ((world_t **) state);
    json_decref (s_once.kinds);
    s_once.kinds = NULL;
    return 0;
}

//  Calls relay with a JSON body; returns the reply as compact JSON text with
//  sorted keys (caller frees), or NULL with err.
static char *
s_call (world_t *world, const char *command, const char *json, flot_err_t *err)
{
    json_t *request = json_loads (json, 0, NULL);
    assert_non_null (request);
    json_t *reply = world_call (world, "relay", NULL, command, request, err);
    if (!reply)
        return NULL;
    char *text = json_dumps (reply, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref (reply);
    return text;
}

static void
test_actor_call_gets_the_reply (void **state)
{
    flot_err_t err;
    char *text = s_call (*state, "Relay",
        "{\"service\":\"echo\",\"command\":\"Echo\",\"body\":{\"a\":[1,2]}}", &err);
    assert_non_null (text);
    assert_string_equal (text, "{\"body\":{\"a\":[1,2]},\"kind\":\"REPLY\"}");
    free (text);
}

static void
test_actor_call_gets_error_replies (void **state)
{
    flot_err_t err;
    char *text = s_call (*state, "Relay", "{\"service\":\"nosuch\",\"command\":\"X\"}", &err);
    assert_non_null (text);
    assert_non_null (strstr (text, "\"code\":4"));
    assert_non_null (strstr (text, "no actor has registered service 'nosuch'"));
    free (text);
    text = s_call (*state, "Relay", "{\"service\":\"echo\",\"command\":\"Sleep\","
                   "\"body\":{\"ms\":\"soon\"}}", &err);
    assert_non_null (strstr (text, "\"code\":10"));
    free (text);
}

static void
test_actor_call_deadline (void **state)
{
    flot_err_t err;
    int64_t start = zclock_mono ();
    char *text = s_call (*state, "Relay", "{\"service\":\"echo\",\"command\":\"Sleep\","
                         "\"body\":{\"ms\":3000},\"timeout\":200}", &err);
    int64_t took = zclock_mono () - start;
    assert_non_null (text);
    assert_non_null (strstr (text, "\"code\":6"));
    assert_true (took >= 150 && took < 1500);
    free (text);
}

static void
test_actor_call_follows_a_stream_to_its_end (void **state)
{
    flot_err_t err;
    char *text = s_call (*state, "RelayStream", "{\"count\":7}", &err);
    assert_non_null (text);
    assert_string_equal (text, "{\"ended\":true,\"ticks\":7}");
    free (text);
}

//  A call made without a stream gets one answer: stream messages that come
//  for it (before its REPLY, or ending it) are dropped, the REPLY still
//  comes, and the callback runs once, also when the callee streams on
//  after its REPLY.
static void
test_actor_call_without_stream_drops_stream_messages (void **state)
{
    static const char *cases [][2] = {
        { "{\"service\":\"pusher\",\"command\":\"Push\"}",
          "{\"answers\":1,\"body\":{\"done\":true},\"kinds\":[\"REPLY\"]}" },
        { "{\"service\":\"pusher\",\"command\":\"PushEnd\"}",
          "{\"answers\":1,\"body\":{\"done\":true},\"kinds\":[\"REPLY\"]}" },
        //  echo's Ticks, whose contract streams: its REPLY, then ticks.
        { "{\"service\":\"echo\",\"command\":\"Ticks\","
          "\"body\":{\"count\":3,\"interval_ms\":5}}", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        flot_err_t err = { 0 };
        char *text = s_call (*state, "RelayOnce", cases [i][0], &err);
        if (!text)
            fail_msg ("%s: %s", cases [i][0], err.message);
        if (cases [i][1])
            assert_string_equal (text, cases [i][1]);
        else
            assert_non_null (strstr (text, "\"answers\":1,"));
        free (text);
        //  What the callee sends after its REPLY reaches no callback.
        zclock_sleep (100);
        assert_int_equal (atomic_load (&s_once.answers), 1);
    }
}

//  An actor whose handlers are not its contract's commands, one each, does
//  not start (the host says which, in the log).
static void s_nothing (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    flot_request_error (&request, FLOT_E_INTERNAL, "not reached");
}

static void
test_actor_refuses_handlers_that_are_not_its_contract (void **state)
{
    (void) state;
    static const flot_command_t duplicate [] = {
        { "Echo", s_nothing }, { "Echo", s_nothing }, { "Sleep", s_nothing }, { NULL, NULL }
    };
    static const flot_command_t missing [] = {
        { "Echo", s_nothing }, { "Sleep", s_nothing }, { NULL, NULL }
    };
    static const flot_command_t stranger [] = {
        { "Echo", s_nothing }, { "Sleep", s_nothing }, { "Ticks", s_nothing },
        { "Shout", s_nothing }, { NULL, NULL }
    };
    static const flot_command_t right [] = {
        { "Ticks", s_nothing }, { "Echo", s_nothing }, { "Sleep", s_nothing }, { NULL, NULL }
    };
    const flot_command_t *tables [] = { duplicate, missing, stranger };
    flot_actor_config_t config = { .endpoint = "inproc://test-actor-contract" };
    for (size_t i = 0; i < 3; i++) {
        flot_actor_def_t def = { .service = "echo", .contract = &flot_echo_contract,
                                 .commands = tables [i] };
        zactor_t *actor = flot_actor_thread (&def, &config);
        assert_null (actor);
    }
    //  The same commands in another order are fine.
    flot_actor_def_t def = { .service = "echo", .contract = &flot_echo_contract,
                             .commands = right };
    zactor_t *actor = flot_actor_thread (&def, &config);
    assert_non_null (actor);
    zactor_destroy (&actor);
}

//  The host keeps answered requests for the next ones: a request that
//  follows one with a key and a large body (kept outside the request) has
//  only its own key and body, many times over.
static void
test_actor_reused_requests_carry_nothing_over (void **state)
{
    char pad [401];
    memset (pad, 'x', 400);
    pad [400] = 0;
    for (int round = 0; round < 100; round++) {
        flot_err_t err = { 0 };
        json_t *reply = world_call (*state, "inspect", "k-1", "Show",
                                    json_pack ("{s:s, s:i}", "pad", pad, "n", round), &err);
        if (!reply)
            fail_msg ("Show with a key: %s", err.message);
        assert_string_equal (json_string_value (json_object_get (reply, "key")), "k-1");
        assert_true (json_integer_value (json_object_get (reply, "size")) > 400);
        json_t *body = json_object_get (reply, "body");
        assert_string_equal (json_string_value (json_object_get (body, "pad")), pad);
        assert_int_equal (json_integer_value (json_object_get (body, "n")), round);
        json_decref (reply);

        reply = world_call (*state, "inspect", NULL, "Show", json_pack ("{s:i}", "b", 1), &err);
        if (!reply)
            fail_msg ("Show without a key: %s", err.message);
        char *text = json_dumps (reply, JSON_COMPACT | JSON_SORT_KEYS);
        assert_string_equal (text, "{\"body\":{\"b\":1},\"caller\":\"\",\"key\":\"\",\"size\":4}");
        free (text);
        json_decref (reply);
    }
}

//  A reply of the request's own bytes goes out unchanged; any other reply
//  body is checked, also one that starts where the request's bytes do: a
//  bad one is not sent, and the caller gets INTERNAL instead.
static void
test_actor_checks_every_reply_but_the_request_bytes (void **state)
{
    flot_err_t err = { 0 };
    json_t *reply = world_call (*state, "inspect", NULL, "Mirror",
                                json_pack ("{s:[i,i], s:s}", "a", 1, 2, "b", "c"), &err);
    if (!reply)
        fail_msg ("Mirror: %s", err.message);
    char *text = json_dumps (reply, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal (text, "{\"a\":[1,2],\"b\":\"c\"}");
    free (text);
    json_decref (reply);
    static const char *bad [] = { "MirrorShort", "Garbage" };
    for (size_t i = 0; i < 2; i++) {
        memset (&err, 0, sizeof err);
        reply = world_call (*state, "inspect", NULL, bad [i], json_pack ("{s:s}", "b", "c"), &err);
        if (reply)
            fail_msg ("%s: a bad reply body was sent", bad [i]);
        assert_int_equal (err.code, FLOT_E_INTERNAL);
        assert_non_null (strstr (err.message, "the reply could not be encoded or sent"));
    }
}

int
main (void)
{
    flot_log_set_level (FLOT_LOG_WARN);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_actor_call_gets_the_reply),
        cmocka_unit_test (test_actor_call_gets_error_replies),
        cmocka_unit_test (test_actor_call_deadline),
        cmocka_unit_test (test_actor_call_follows_a_stream_to_its_end),
        cmocka_unit_test (test_actor_call_without_stream_drops_stream_messages),
        cmocka_unit_test (test_actor_refuses_handlers_that_are_not_its_contract),
        cmocka_unit_test (test_actor_reused_requests_carry_nothing_over),
        cmocka_unit_test (test_actor_checks_every_reply_but_the_request_bytes),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
