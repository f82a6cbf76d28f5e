/*  test_codec.c - unit tests for the FLOT01 envelope codec (flot_msg.c).

    Proves that every kind survives flot_msg_frames -> flot_msg_decode and a
    trip through real ZeroMQ sockets, that the frames on the wire are the ones
    protocol/SPEC.md shows, and that flot_msg_decode refuses every malformed
    frame list with the error code of SPEC section 7 and a sentence that
    names what was wrong. The frame lists for the rejection tests are built
    here by hand, from the spec's tables, not by the codec under test.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "flotilla/protocol.h"

#define assert_mentions(text, needle) \
    do { \
        if (!strstr ((text), (needle))) \
            fail_msg ("message '%s' does not mention '%s'", (text), (needle)); \
    } while (0)

//  -------------------------------------------------------------------------
//  The frame layouts of SPEC section 2, written out independently of the
//  codec's own table.

typedef enum { ROUTE, CORR, SERVICE, KEY, TIMEOUT, COMMAND, BODY } field_t;

typedef struct {
    int kind;
    const char *name;
    int count;                  //  total frames, signature and kind included
    field_t fields [6];
} spec_kind_t;

static const spec_kind_t s_kinds [] = {
    { FLOT_REQUEST,      "REQUEST",      8, { CORR, SERVICE, KEY, TIMEOUT, COMMAND, BODY } },
    { FLOT_REPLY,        "REPLY",        4, { CORR, BODY } },
    { FLOT_ERROR,        "ERROR",        4, { CORR, BODY } },
    { FLOT_STREAM,       "STREAM",       4, { CORR, BODY } },
    { FLOT_STREAM_END,   "STREAM_END",   4, { CORR, BODY } },
    { FLOT_READY,        "READY",        4, { SERVICE, BODY } },
    { FLOT_DELIVER,      "DELIVER",      8, { ROUTE, CORR, KEY, TIMEOUT, COMMAND, BODY } },
    { FLOT_A_REPLY,      "A_REPLY",      5, { ROUTE, CORR, BODY } },
    { FLOT_A_ERROR,      "A_ERROR",      5, { ROUTE, CORR, BODY } },
    { FLOT_A_STREAM,     "A_STREAM",     5, { ROUTE, CORR, BODY } },
    { FLOT_A_STREAM_END, "A_STREAM_END", 5, { ROUTE, CORR, BODY } },
    { FLOT_CANCEL,       "CANCEL",       5, { ROUTE, CORR, BODY } },
    { FLOT_HEARTBEAT,    "HEARTBEAT",    2, { 0 } },
    { FLOT_DISCONNECT,   "DISCONNECT",   3, { BODY } },
};
#define KIND_COUNT (sizeof s_kinds / sizeof s_kinds [0])

static const spec_kind_t *
s_spec (int kind)
{
    for (size_t i = 0; i < KIND_COUNT; i++)
        if (s_kinds [i].kind == kind)
            return &s_kinds [i];
    return NULL;
}

//  Index in the frame list of a field of a kind, or -1 if it has none.
static int
s_index (const spec_kind_t *spec, field_t field)
{
    for (int i = 0; i < spec->count - 2; i++)
        if (spec->fields [i] == field)
            return i + 2;
    return -1;
}

//  A valid message of a kind as hand-made frames: "FLOT01", the kind byte,
//  corr 0x0102030405060708, service "echo", key "eu-1", timeout 5000,
//  command "Echo", route 00 80 00 00 29, body {"a": 1}.
typedef struct {
    uint8_t kind_byte;
    flot_bytes_t frames [FLOT_MAX_FRAMES + 2];
    size_t count;
} wire_t;

static const uint8_t s_corr_bytes [8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t s_timeout_bytes [4] = { 0x00, 0x00, 0x13, 0x88 };
static const uint8_t s_route_bytes [5] = { 0x00, 0x80, 0x00, 0x00, 0x29 };
static const uint8_t s_body_bytes [4] = { 0x81, 0xa1, 0x61, 0x01 };

static flot_bytes_t
s_str (const char *text)
{
    return (flot_bytes_t) { (const uint8_t *) text, strlen (text) };
}

static void
s_wire (wire_t *wire, int kind)
{
    const spec_kind_t *spec = s_spec (kind);
    assert_non_null (spec);
    memset (wire, 0, sizeof *wire);
    wire->kind_byte = (uint8_t) kind;
    wire->frames [0] = s_str (FLOT_SIGNATURE);
    wire->frames [1] = (flot_bytes_t) { &wire->kind_byte, 1 };
    for (int i = 0; i < spec->count - 2; i++) {
        flot_bytes_t *frame = &wire->frames [i + 2];
        switch (spec->fields [i]) {
            case ROUTE:   *frame = (flot_bytes_t) { s_route_bytes, 5 }; break;
            case CORR:    *frame = (flot_bytes_t) { s_corr_bytes, 8 }; break;
            case SERVICE: *frame = s_str ("echo"); break;
            case KEY:     *frame = s_str ("eu-1"); break;
            case TIMEOUT: *frame = (flot_bytes_t) { s_timeout_bytes, 4 }; break;
            case COMMAND: *frame = s_str ("Echo"); break;
            case BODY:    *frame = (flot_bytes_t) { s_body_bytes, 4 }; break;
        }
    }
    wire->count = (size_t) spec->count;
}

static void
s_assert_bytes (flot_bytes_t actual, flot_bytes_t expected)
{
    assert_int_equal (actual.size, expected.size);
    if (expected.size)
        assert_memory_equal (actual.data, expected.data, expected.size);
}

//  Decodes and expects failure with code, and a message naming needle.
static void
s_assert_rejects (const flot_bytes_t *frames, size_t count, int code,
                  const char *needle)
{
    flot_msg_t msg;
    flot_err_t err = { 0, "" };
    assert_int_equal (flot_msg_decode (&msg, frames, count, &err), -1);
    if (err.code != code)
        fail_msg ("expected %s, got %s: %s", flot_err_name (code),
                  flot_err_name (err.code), err.message);
    assert_mentions (err.message, needle);
}

static void
s_assert_accepts (const flot_bytes_t *frames, size_t count, flot_msg_t *msg)
{
    flot_err_t err = { 0, "" };
    if (flot_msg_decode (msg, frames, count, &err))
        fail_msg ("rejected a valid message: %s", err.message);
}

//  -------------------------------------------------------------------------
//  Round trips: a full flot_msg_t of each kind -> frames -> decode.

//  Fills every field the kind carries with a distinct value, the others zero.
static void
s_fill (flot_msg_t *msg, int kind)
{
    const spec_kind_t *spec = s_spec (kind);
    memset (msg, 0, sizeof *msg);
    msg->kind = kind;
    for (int i = 0; i < spec->count - 2; i++)
        switch (spec->fields [i]) {
            case ROUTE:   msg->route = (flot_bytes_t) { s_route_bytes, 5 }; break;
            case CORR:    msg->corr = 0xfedcba9876543210ull + (uint64_t) kind; break;
            case SERVICE: msg->service = s_str ("deploy.exec-2_B"); break;
            case KEY:     msg->key = s_str ("eu-1/rack~7"); break;
            case TIMEOUT: msg->timeout_ms = FLOT_MAX_TIMEOUT_MS - (uint32_t) kind; break;
            case COMMAND: msg->command = s_str ("StartMonitoring"); break;
            case BODY:    msg->body = (flot_bytes_t) { s_body_bytes, 4 }; break;
        }
}

static void
s_assert_same (const flot_msg_t *actual, const flot_msg_t *expected)
{
    assert_int_equal (actual->kind, expected->kind);
    s_assert_bytes (actual->route, expected->route);
    assert_true (actual->corr == expected->corr);
    s_assert_bytes (actual->service, expected->service);
    s_assert_bytes (actual->key, expected->key);
    assert_int_equal (actual->timeout_ms, expected->timeout_ms);
    s_assert_bytes (actual->command, expected->command);
    s_assert_bytes (actual->body, expected->body);
}

static void
s_round_trip (int kind)
{
    const spec_kind_t *spec = s_spec (kind);
    flot_msg_t msg;
    s_fill (&msg, kind);

    flot_bytes_t frames [FLOT_MAX_FRAMES];
    uint8_t scratch [16];
    int count = flot_msg_frames (&msg, frames, scratch);
    assert_int_equal (count, spec->count);
    s_assert_bytes (frames [0], s_str (FLOT_SIGNATURE));
    assert_int_equal (frames [1].size, 1);
    assert_int_equal (frames [1].data [0], kind);
    //  Numbers are big-endian on the wire.
    int corr_at = s_index (spec, CORR);
    if (corr_at > 0) {
        assert_int_equal (frames [corr_at].size, 8);
        assert_true (flot_get_u64 (frames [corr_at].data) == msg.corr);
        assert_int_equal (frames [corr_at].data [0], 0xfe);
    }
    int timeout_at = s_index (spec, TIMEOUT);
    if (timeout_at > 0) {
        assert_int_equal (frames [timeout_at].size, 4);
        assert_int_equal (frames [timeout_at].data [0], 0x05);
    }

    flot_msg_t decoded;
    s_assert_accepts (frames, (size_t) count, &decoded);
    s_assert_same (&decoded, &msg);
}

static void test_codec_round_trips_request (void **state)      { (void) state; s_round_trip (FLOT_REQUEST); }
static void test_codec_round_trips_reply (void **state)        { (void) state; s_round_trip (FLOT_REPLY); }
static void test_codec_round_trips_error (void **state)        { (void) state; s_round_trip (FLOT_ERROR); }
static void test_codec_round_trips_stream (void **state)       { (void) state; s_round_trip (FLOT_STREAM); }
static void test_codec_round_trips_stream_end (void **state)   { (void) state; s_round_trip (FLOT_STREAM_END); }
static void test_codec_round_trips_ready (void **state)        { (void) state; s_round_trip (FLOT_READY); }
static void test_codec_round_trips_deliver (void **state)      { (void) state; s_round_trip (FLOT_DELIVER); }
static void test_codec_round_trips_a_reply (void **state)      { (void) state; s_round_trip (FLOT_A_REPLY); }
static void test_codec_round_trips_a_error (void **state)      { (void) state; s_round_trip (FLOT_A_ERROR); }
static void test_codec_round_trips_a_stream (void **state)     { (void) state; s_round_trip (FLOT_A_STREAM); }
static void test_codec_round_trips_a_stream_end (void **state) { (void) state; s_round_trip (FLOT_A_STREAM_END); }
static void test_codec_round_trips_cancel (void **state)       { (void) state; s_round_trip (FLOT_CANCEL); }
static void test_codec_round_trips_heartbeat (void **state)    { (void) state; s_round_trip (FLOT_HEARTBEAT); }
static void test_codec_round_trips_disconnect (void **state)   { (void) state; s_round_trip (FLOT_DISCONNECT); }

//  SPEC section 15: the client's Ping REQUEST, byte for byte.
static void
test_codec_encodes_spec_ping_example (void **state)
{
    (void) state;
    static const uint8_t body [] = { 0x80 };
    flot_msg_t msg = {
        .kind = FLOT_REQUEST, .corr = 42, .service = s_str ("broker"),
        .timeout_ms = 5000, .command = s_str ("Ping"),
        .body = { body, 1 }
    };
    flot_bytes_t frames [FLOT_MAX_FRAMES];
    uint8_t scratch [16];
    assert_int_equal (flot_msg_frames (&msg, frames, scratch), 8);
    static const uint8_t sig [] = { 0x46, 0x4c, 0x4f, 0x54, 0x30, 0x31 };
    static const uint8_t kind [] = { 0x01 };
    static const uint8_t corr [] = { 0, 0, 0, 0, 0, 0, 0, 0x2a };
    static const uint8_t timeout [] = { 0x00, 0x00, 0x13, 0x88 };
    s_assert_bytes (frames [0], (flot_bytes_t) { sig, 6 });
    s_assert_bytes (frames [1], (flot_bytes_t) { kind, 1 });
    s_assert_bytes (frames [2], (flot_bytes_t) { corr, 8 });
    s_assert_bytes (frames [3], s_str ("broker"));
    assert_int_equal (frames [4].size, 0);
    s_assert_bytes (frames [5], (flot_bytes_t) { timeout, 4 });
    s_assert_bytes (frames [6], s_str ("Ping"));
    s_assert_bytes (frames [7], (flot_bytes_t) { body, 1 });
}

//  A body left empty in the view goes out as the empty map, 0x80.
static void
test_codec_frames_empty_body_as_empty_map (void **state)
{
    (void) state;
    flot_msg_t msg = { .kind = FLOT_REPLY, .corr = 7 };
    flot_bytes_t frames [FLOT_MAX_FRAMES];
    uint8_t scratch [16];
    assert_int_equal (flot_msg_frames (&msg, frames, scratch), 4);
    assert_int_equal (frames [3].size, 1);
    assert_int_equal (frames [3].data [0], 0x80);
    flot_msg_t decoded;
    s_assert_accepts (frames, 4, &decoded);
}

static void
test_codec_frames_refuses_unknown_kind (void **state)
{
    (void) state;
    flot_bytes_t frames [FLOT_MAX_FRAMES];
    uint8_t scratch [16];
    int bad [] = { -1, 0, 0x06, 0x0f, 0x17, 0x22, 0xff, 0x101, 100000 };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        flot_msg_t msg = { .kind = bad [i] };
        assert_int_equal (flot_msg_frames (&msg, frames, scratch), -1);
    }
}

static void
test_codec_numbers_are_big_endian (void **state)
{
    (void) state;
    uint8_t p [8];
    flot_put_u64 (p, 0x0102030405060708ull);
    assert_memory_equal (p, s_corr_bytes, 8);
    assert_true (flot_get_u64 (p) == 0x0102030405060708ull);
    flot_put_u32 (p, 0xdeadbeef);
    static const uint8_t be32 [] = { 0xde, 0xad, 0xbe, 0xef };
    assert_memory_equal (p, be32, 4);
    assert_int_equal (flot_get_u32 (p), 0xdeadbeef);
}

static void
test_codec_names_every_kind (void **state)
{
    (void) state;
    for (int byte = 0; byte < 256; byte++) {
        const spec_kind_t *spec = s_spec (byte);
        const char *name = flot_kind_name (byte);
        if (spec)
            assert_string_equal (name, spec->name);
        else
            assert_null (name);
    }
    assert_null (flot_kind_name (-1));
    assert_null (flot_kind_name (0x101));
}

//  -------------------------------------------------------------------------
//  Through real sockets: a DEALER client and a ROUTER broker over inproc.

static void *
s_socket (void *ctx, int type)
{
    void *socket = zmq_socket (ctx, type);
    assert_non_null (socket);
    int timeout = 5000, linger = 0;
    assert_int_equal (zmq_setsockopt (socket, ZMQ_RCVTIMEO, &timeout, sizeof timeout), 0);
    assert_int_equal (zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger), 0);
    return socket;
}

//  Receives one multipart message into parts; returns the count.
static size_t
s_recv (void *socket, zmq_msg_t *parts, size_t max)
{
    size_t count = 0;
    int more = 1;
    while (more) {
        assert_true (count < max);
        zmq_msg_init (&parts [count]);
        if (zmq_msg_recv (&parts [count], socket, 0) < 0)
            fail_msg ("receive failed: %s", zmq_strerror (errno));
        more = zmq_msg_more (&parts [count]);
        count++;
    }
    return count;
}

static void
s_frames_of (zmq_msg_t *parts, size_t count, flot_bytes_t *frames)
{
    for (size_t i = 0; i < count; i++)
        frames [i] = (flot_bytes_t) { zmq_msg_data (&parts [i]), zmq_msg_size (&parts [i]) };
}

static void
s_close_parts (zmq_msg_t *parts, size_t count)
{
    for (size_t i = 0; i < count; i++)
        zmq_msg_close (&parts [i]);
}

static void
test_codec_round_trips_over_dealer_router (void **state)
{
    (void) state;
    void *ctx = zmq_ctx_new ();
    void *router = s_socket (ctx, ZMQ_ROUTER);
    void *dealer = s_socket (ctx, ZMQ_DEALER);
    assert_int_equal (zmq_bind (router, "inproc://test-codec"), 0);
    assert_int_equal (zmq_connect (dealer, "inproc://test-codec"), 0);

    //  Client -> broker: REQUEST, with an identity frame added by ROUTER.
    flot_msg_t request;
    s_fill (&request, FLOT_REQUEST);
    assert_int_equal (flot_msg_send (&request, dealer, NULL, false), 0);
    zmq_msg_t parts [FLOT_MAX_FRAMES + 1];
    size_t count = s_recv (router, parts, FLOT_MAX_FRAMES + 1);
    assert_int_equal (count, 9);
    flot_bytes_t frames [FLOT_MAX_FRAMES + 1];
    s_frames_of (parts, count, frames);
    flot_msg_t decoded;
    s_assert_accepts (frames + 1, count - 1, &decoded);
    s_assert_same (&decoded, &request);

    //  Broker -> client: REPLY, addressed by that identity.
    uint8_t identity [256];
    size_t identity_size = frames [0].size;
    memcpy (identity, frames [0].data, identity_size);
    s_close_parts (parts, count);
    flot_msg_t reply;
    s_fill (&reply, FLOT_REPLY);
    flot_bytes_t to = { identity, identity_size };
    assert_int_equal (flot_msg_send (&reply, router, &to, true), 0);
    count = s_recv (dealer, parts, FLOT_MAX_FRAMES + 1);
    assert_int_equal (count, 4);
    s_frames_of (parts, count, frames);
    s_assert_accepts (frames, count, &decoded);
    s_assert_same (&decoded, &reply);
    s_close_parts (parts, count);

    //  A view that is not a message is not sent.
    flot_msg_t bad = { .kind = 0x42 };
    errno = 0;
    assert_int_equal (flot_msg_send (&bad, dealer, NULL, true), -1);
    assert_int_equal (errno, EINVAL);

    zmq_close (dealer);
    zmq_close (router);
    zmq_ctx_term (ctx);
}

static void
test_codec_round_trips_every_kind_over_pair (void **state)
{
    (void) state;
    void *ctx = zmq_ctx_new ();
    void *a = s_socket (ctx, ZMQ_PAIR);
    void *b = s_socket (ctx, ZMQ_PAIR);
    assert_int_equal (zmq_bind (a, "inproc://test-codec-pair"), 0);
    assert_int_equal (zmq_connect (b, "inproc://test-codec-pair"), 0);
    for (size_t i = 0; i < KIND_COUNT; i++) {
        flot_msg_t msg;
        s_fill (&msg, s_kinds [i].kind);
        assert_int_equal (flot_msg_send (&msg, a, NULL, false), 0);
        zmq_msg_t parts [FLOT_MAX_FRAMES];
        size_t count = s_recv (b, parts, FLOT_MAX_FRAMES);
        assert_int_equal (count, s_kinds [i].count);
        flot_bytes_t frames [FLOT_MAX_FRAMES];
        s_frames_of (parts, count, frames);
        flot_msg_t decoded;
        s_assert_accepts (frames, count, &decoded);
        s_assert_same (&decoded, &msg);
        s_close_parts (parts, count);
    }
    zmq_close (a);
    zmq_close (b);
    zmq_ctx_term (ctx);
}

//  -------------------------------------------------------------------------
//  Rejections, in the order of SPEC section 7.

static void
test_codec_accepts_hand_made_message_of_every_kind (void **state)
{
    (void) state;
    for (size_t i = 0; i < KIND_COUNT; i++) {
        wire_t wire;
        s_wire (&wire, s_kinds [i].kind);
        flot_msg_t msg;
        s_assert_accepts (wire.frames, wire.count, &msg);
        assert_int_equal (msg.kind, s_kinds [i].kind);
    }
}

static void
test_codec_rejects_fewer_than_two_frames (void **state)
{
    (void) state;
    wire_t wire;
    s_wire (&wire, FLOT_HEARTBEAT);
    s_assert_rejects (wire.frames, 0, FLOT_E_MALFORMED, "0 frames, expected at least 2");
    s_assert_rejects (wire.frames, 1, FLOT_E_MALFORMED, "1 frames, expected at least 2");
    //  And nothing of the failed decode looks like a kind.
    flot_msg_t msg;
    flot_err_t err;
    assert_int_equal (flot_msg_decode (&msg, wire.frames, 1, &err), -1);
    assert_int_equal (msg.kind, -1);
}

static void
test_codec_rejects_wrong_signature (void **state)
{
    (void) state;
    const char *bad [] = { "ZMTP01", "flot01", "FLOT0", "FLOT011", "", "XXXX01" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        wire_t wire;
        s_wire (&wire, FLOT_HEARTBEAT);
        wire.frames [0] = s_str (bad [i]);
        s_assert_rejects (wire.frames, wire.count, FLOT_E_VERSION,
                          "not the protocol signature FLOT01");
    }
    //  The signature is checked before the kind and the frame count.
    wire_t wire;
    s_wire (&wire, FLOT_REQUEST);
    wire.frames [0] = s_str ("NOPE01");
    s_assert_rejects (wire.frames, 3, FLOT_E_VERSION, "signature");
}

static void
test_codec_rejects_other_version (void **state)
{
    (void) state;
    wire_t wire;
    s_wire (&wire, FLOT_REQUEST);
    wire.frames [0] = s_str ("FLOT02");
    s_assert_rejects (wire.frames, wire.count, FLOT_E_VERSION,
                      "protocol version 02 is not supported, expected FLOT01");
    wire.frames [0] = s_str ("FLOT00");
    s_assert_rejects (wire.frames, wire.count, FLOT_E_VERSION, "version 00");
}

static void
test_codec_rejects_kind_frame_not_one_byte (void **state)
{
    (void) state;
    static const uint8_t two [2] = { FLOT_REQUEST, FLOT_REQUEST };
    wire_t wire;
    s_wire (&wire, FLOT_REQUEST);
    wire.frames [1] = (flot_bytes_t) { two, 2 };
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED,
                      "kind frame is 2 bytes, expected 1");
    wire.frames [1] = (flot_bytes_t) { two, 0 };
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED,
                      "kind frame is 0 bytes, expected 1");
}

static void
test_codec_rejects_unknown_kind (void **state)
{
    (void) state;
    for (int byte = 0; byte < 256; byte++) {
        if (s_spec (byte))
            continue;
        uint8_t kind = (uint8_t) byte;
        wire_t wire;
        s_wire (&wire, FLOT_REPLY);
        wire.frames [1] = (flot_bytes_t) { &kind, 1 };
        char needle [32];
        snprintf (needle, sizeof needle, "unknown message kind 0x%02x", byte);
        s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, needle);
    }
}

static void
test_codec_rejects_wrong_frame_count_per_kind (void **state)
{
    (void) state;
    for (size_t i = 0; i < KIND_COUNT; i++) {
        const spec_kind_t *spec = &s_kinds [i];
        wire_t wire;
        s_wire (&wire, spec->kind);
        char needle [64];
        //  One frame too many (an extra copy of the last frame)...
        wire.frames [wire.count] = wire.frames [wire.count - 1];
        snprintf (needle, sizeof needle, "%s has %d frames, expected %d",
                  spec->name, spec->count + 1, spec->count);
        s_assert_rejects (wire.frames, wire.count + 1, FLOT_E_MALFORMED, needle);
        //  ... and one too few, where that still leaves two frames.
        if (spec->count > 2) {
            snprintf (needle, sizeof needle, "%s has %d frames, expected %d",
                      spec->name, spec->count - 1, spec->count);
            s_assert_rejects (wire.frames, wire.count - 1, FLOT_E_MALFORMED, needle);
        }
        //  The count of another kind does not do either.
        for (size_t j = 0; j < KIND_COUNT; j++) {
            if (s_kinds [j].count == spec->count)
                continue;
            wire_t other;
            s_wire (&other, s_kinds [j].kind);
            other.frames [1] = wire.frames [1];
            snprintf (needle, sizeof needle, "%s has %d frames, expected %d",
                      spec->name, s_kinds [j].count, spec->count);
            s_assert_rejects (other.frames, other.count, FLOT_E_MALFORMED, needle);
        }
    }
}

//  For each kind carrying field, replaces that frame by each of bad and
//  expects code and a message naming needle (%s: the kind, %zu: the size).
static void
s_reject_field (field_t field, const flot_bytes_t *bad, size_t bad_count,
                int code, const char *needle)
{
    int kinds_tested = 0;
    for (size_t i = 0; i < KIND_COUNT; i++) {
        int at = s_index (&s_kinds [i], field);
        if (at < 0)
            continue;
        kinds_tested++;
        for (size_t j = 0; j < bad_count; j++) {
            wire_t wire;
            s_wire (&wire, s_kinds [i].kind);
            wire.frames [at] = bad [j];
            char text [128];
            snprintf (text, sizeof text, needle, s_kinds [i].name, bad [j].size);
            s_assert_rejects (wire.frames, wire.count, code, text);
        }
    }
    assert_true (kinds_tested > 0);
}

//  For each kind carrying field, accepts each of good in that frame.
static void
s_accept_field (field_t field, const flot_bytes_t *good, size_t good_count)
{
    for (size_t i = 0; i < KIND_COUNT; i++) {
        int at = s_index (&s_kinds [i], field);
        if (at < 0)
            continue;
        for (size_t j = 0; j < good_count; j++) {
            wire_t wire;
            s_wire (&wire, s_kinds [i].kind);
            wire.frames [at] = good [j];
            flot_msg_t msg;
            s_assert_accepts (wire.frames, wire.count, &msg);
        }
    }
}

static uint8_t s_filler [FLOT_MAX_BODY + 2];

static void
test_codec_rejects_corr_not_eight_bytes (void **state)
{
    (void) state;
    flot_bytes_t bad [] = { { s_filler, 0 }, { s_filler, 7 }, { s_filler, 9 }, { s_filler, 16 } };
    s_reject_field (CORR, bad, 4, FLOT_E_MALFORMED,
                    "%s: correlation frame is %zu bytes, expected 8");
}

static void
test_codec_decodes_any_corr_value (void **state)
{
    (void) state;
    static const uint8_t ones [8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    static const uint8_t zeros [8] = { 0 };
    wire_t wire;
    s_wire (&wire, FLOT_STREAM);
    flot_msg_t msg;
    wire.frames [2] = (flot_bytes_t) { ones, 8 };
    s_assert_accepts (wire.frames, wire.count, &msg);
    assert_true (msg.corr == UINT64_MAX);
    wire.frames [2] = (flot_bytes_t) { zeros, 8 };
    s_assert_accepts (wire.frames, wire.count, &msg);
    assert_true (msg.corr == 0);
    wire.frames [2] = (flot_bytes_t) { s_corr_bytes, 8 };
    s_assert_accepts (wire.frames, wire.count, &msg);
    assert_true (msg.corr == 0x0102030405060708ull);
}

static void
test_codec_rejects_timeout_not_four_bytes (void **state)
{
    (void) state;
    flot_bytes_t bad [] = { { s_filler, 0 }, { s_filler, 3 }, { s_filler, 5 }, { s_filler, 8 } };
    s_reject_field (TIMEOUT, bad, 4, FLOT_E_MALFORMED,
                    "%s: timeout frame is %zu bytes, expected 4");
}

static void
test_codec_rejects_timeout_over_the_max (void **state)
{
    (void) state;
    uint8_t over [4], max [4], all [4], zero [4];
    flot_put_u32 (over, FLOT_MAX_TIMEOUT_MS + 1);
    flot_put_u32 (max, FLOT_MAX_TIMEOUT_MS);
    flot_put_u32 (all, UINT32_MAX);
    flot_put_u32 (zero, 0);
    flot_bytes_t bad [] = { { over, 4 } };
    s_reject_field (TIMEOUT, bad, 1, FLOT_E_MALFORMED,
                    "%s: timeout 86400001 ms is over the limit of 86400000 ms");
    flot_bytes_t worse [] = { { all, 4 } };
    s_reject_field (TIMEOUT, worse, 1, FLOT_E_MALFORMED,
                    "%s: timeout 4294967295 ms is over the limit");

    //  The limit itself and 0 (the default) are fine, and 0 stays 0.
    flot_bytes_t good [] = { { max, 4 }, { zero, 4 } };
    s_accept_field (TIMEOUT, good, 2);
    wire_t wire;
    s_wire (&wire, FLOT_REQUEST);
    wire.frames [5] = (flot_bytes_t) { zero, 4 };
    flot_msg_t msg;
    s_assert_accepts (wire.frames, wire.count, &msg);
    assert_int_equal (msg.timeout_ms, 0);
    wire.frames [5] = (flot_bytes_t) { max, 4 };
    s_assert_accepts (wire.frames, wire.count, &msg);
    assert_int_equal (msg.timeout_ms, FLOT_MAX_TIMEOUT_MS);
}

//  Names: 1..64 of [A-Za-z0-9._-]. Used for service and command.
static char s_name_65 [66], s_name_64 [65];

static void
s_names_setup (void)
{
    memset (s_name_65, 'a', 65);
    s_name_65 [65] = 0;
    memset (s_name_64, 'Z', 64);
    s_name_64 [64] = 0;
}

static void
s_check_name_field (field_t field, const char *what)
{
    s_names_setup ();
    static const uint8_t nul [] = { 'a', 0x00, 'b' };
    static const uint8_t high [] = { 'a', 0xc3, 0xa9 };
    flot_bytes_t bad [] = {
        s_str (""), s_str (s_name_65), s_str ("has space"), s_str ("a/b"),
        s_str ("a:b"), s_str ("a+b"), s_str ("tab\t"), s_str ("ping!"),
        { nul, 3 }, { high, 3 }
    };
    char needle [64];
    snprintf (needle, sizeof needle, "%%s: %s name must be 1..64 of [A-Za-z0-9._-]", what);
    s_reject_field (field, bad, sizeof bad / sizeof bad [0], FLOT_E_MALFORMED, needle);

    flot_bytes_t good [] = {
        s_str ("a"), s_str (s_name_64), s_str ("Ping"), s_str ("x.y_z-0"),
        s_str ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
        s_str ("._-")
    };
    s_accept_field (field, good, sizeof good / sizeof good [0]);
}

static void
test_codec_rejects_bad_service (void **state)
{
    (void) state;
    s_check_name_field (SERVICE, "service");
}

static void
test_codec_rejects_bad_command (void **state)
{
    (void) state;
    s_check_name_field (COMMAND, "command");
}

static void
test_codec_name_valid_matches_the_alphabet (void **state)
{
    (void) state;
    for (int c = 0; c < 256; c++) {
        uint8_t byte = (uint8_t) c;
        bool expected = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                     || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        assert_int_equal (flot_name_valid ((flot_bytes_t) { &byte, 1 }), expected);
    }
    s_names_setup ();
    assert_true (flot_name_valid (s_str (s_name_64)));
    assert_false (flot_name_valid (s_str (s_name_65)));
    assert_false (flot_name_valid (s_str ("")));
}

static void
test_codec_rejects_bad_key (void **state)
{
    (void) state;
    static uint8_t long_key [256], max_key [255], printable [94];
    memset (long_key, 'k', sizeof long_key);
    memset (max_key, 'k', sizeof max_key);
    for (int i = 0; i < 94; i++)
        printable [i] = (uint8_t) (0x21 + i);
    static const uint8_t space [] = { 'e', ' ', '1' };
    static const uint8_t nul [] = { 'e', 0x00 };
    static const uint8_t newline [] = { 'e', '\n' };
    static const uint8_t del [] = { 0x7f };
    static const uint8_t high [] = { 'e', 0x80 };
    static const uint8_t utf8 [] = { 0xc3, 0xa9 };
    flot_bytes_t bad [] = {
        { long_key, 256 }, { space, 3 }, { nul, 2 }, { newline, 2 },
        { del, 1 }, { high, 2 }, { utf8, 2 }
    };
    s_reject_field (KEY, bad, sizeof bad / sizeof bad [0], FLOT_E_MALFORMED,
                    "%s: key must be 0..255 printable ASCII bytes");
    flot_bytes_t good [] = {
        { max_key, 255 }, { printable, 94 }, { NULL, 0 }, s_str ("eu-1")
    };
    s_accept_field (KEY, good, sizeof good / sizeof good [0]);
}

static void
test_codec_rejects_bad_route (void **state)
{
    (void) state;
    static uint8_t long_route [256], max_route [255];
    memset (long_route, 0x00, sizeof long_route);
    for (int i = 0; i < 255; i++)
        max_route [i] = (uint8_t) i;
    flot_bytes_t bad [] = { { long_route, 0 }, { long_route, 256 }, { long_route, 4096 } };
    bad [2].data = s_filler;
    s_reject_field (ROUTE, bad, 3, FLOT_E_MALFORMED,
                    "%s: route frame is %zu bytes, expected 1..255");
    //  Any byte values, 1..255 of them.
    static const uint8_t zero [] = { 0x00 };
    flot_bytes_t good [] = { { zero, 1 }, { max_route, 255 } };
    s_accept_field (ROUTE, good, 2);
}

static void
test_codec_rejects_empty_body (void **state)
{
    (void) state;
    flot_bytes_t bad [] = { { s_body_bytes, 0 } };
    s_reject_field (BODY, bad, 1, FLOT_E_MALFORMED, "%s: body must be a msgpack map");
}

static void
test_codec_rejects_body_not_a_map (void **state)
{
    (void) state;
    //  Array, string, nil, true, int, negative int, bin, str8, array16, 0xc1.
    static const uint8_t firsts [] = {
        0x90, 0xa0, 0xc0, 0xc3, 0x01, 0xff, 0xc4, 0xd9, 0xdc, 0xc1
    };
    flot_bytes_t bad [sizeof firsts];
    for (size_t i = 0; i < sizeof firsts; i++)
        bad [i] = (flot_bytes_t) { &firsts [i], 1 };
    s_reject_field (BODY, bad, sizeof firsts, FLOT_E_MALFORMED,
                    "%s: body must be a msgpack map");
    //  fixmap, map16, map32 are maps.
    static const uint8_t fixmap [] = { 0x80 };
    static const uint8_t map16 [] = { 0xde, 0x00, 0x00 };
    static const uint8_t map32 [] = { 0xdf, 0x00, 0x00, 0x00, 0x00 };
    flot_bytes_t good [] = { { fixmap, 1 }, { map16, 3 }, { map32, 5 } };
    s_accept_field (BODY, good, 3);
}

static void
test_codec_rejects_body_over_max_as_too_large (void **state)
{
    (void) state;
    s_filler [0] = 0x80;
    flot_bytes_t bad [] = { { s_filler, FLOT_MAX_BODY + 1 } };
    s_reject_field (BODY, bad, 1, FLOT_E_TOO_LARGE,
                    "%s: body is %zu bytes, the limit is 1048576");
    //  Exactly the limit passes the envelope (the body is checked later).
    flot_bytes_t good [] = { { s_filler, FLOT_MAX_BODY } };
    s_accept_field (BODY, good, 1);
    s_filler [0] = 0;
}

//  A frame is judged in frame order: the first bad one is the one named.
static void
test_codec_reports_the_first_bad_frame (void **state)
{
    (void) state;
    wire_t wire;
    s_wire (&wire, FLOT_REQUEST);
    wire.frames [2] = (flot_bytes_t) { s_corr_bytes, 3 };    //  corr
    wire.frames [3] = s_str ("bad service");                 //  service
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, "correlation");
    wire.frames [2] = (flot_bytes_t) { s_corr_bytes, 8 };
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, "service");
}

static void
test_codec_names_every_error_code (void **state)
{
    (void) state;
    static const char *names [] = {
        "OK", "MALFORMED", "VERSION", "TOO_LARGE", "UNKNOWN_SERVICE",
        "NO_INSTANCE", "DEADLINE", "ACTOR_FAILED", "NOT_AUTHORIZED",
        "UNKNOWN_COMMAND", "INVALID", "NOT_FOUND", "CONFLICT", "BUSY",
        "INTERNAL", "CANCELLED"
    };
    assert_int_equal (sizeof names / sizeof names [0], FLOT_E_MAX + 1);
    for (int code = 0; code <= FLOT_E_MAX; code++)
        assert_string_equal (flot_err_name (code), names [code]);
    assert_string_equal (flot_err_name (FLOT_E_NO_INSTANCE), "NO_INSTANCE");
    assert_string_equal (flot_err_name (FLOT_E_CANCELLED), "CANCELLED");
    assert_string_equal (flot_err_name (FLOT_E_MAX + 1), "UNKNOWN");
    assert_string_equal (flot_err_name (-1), "UNKNOWN");
    assert_string_equal (flot_err_name (1000), "UNKNOWN");
}

static void
test_codec_err_set_returns_minus_one_and_bounds_the_sentence (void **state)
{
    (void) state;
    flot_err_t err;
    assert_int_equal (flot_err_set (&err, FLOT_E_BUSY, "%d in flight", 7), -1);
    assert_int_equal (err.code, FLOT_E_BUSY);
    assert_string_equal (err.message, "7 in flight");
    char long_text [1000];
    memset (long_text, 'x', sizeof long_text - 1);
    long_text [sizeof long_text - 1] = 0;
    assert_int_equal (flot_err_set (&err, FLOT_E_INVALID, "%s", long_text), -1);
    assert_int_equal (strlen (err.message), sizeof err.message - 1);
    assert_int_equal (flot_err_set (NULL, FLOT_E_INVALID, "ignored"), -1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_codec_round_trips_request),
        cmocka_unit_test (test_codec_round_trips_reply),
        cmocka_unit_test (test_codec_round_trips_error),
        cmocka_unit_test (test_codec_round_trips_stream),
        cmocka_unit_test (test_codec_round_trips_stream_end),
        cmocka_unit_test (test_codec_round_trips_ready),
        cmocka_unit_test (test_codec_round_trips_deliver),
        cmocka_unit_test (test_codec_round_trips_a_reply),
        cmocka_unit_test (test_codec_round_trips_a_error),
        cmocka_unit_test (test_codec_round_trips_a_stream),
        cmocka_unit_test (test_codec_round_trips_a_stream_end),
        cmocka_unit_test (test_codec_round_trips_cancel),
        cmocka_unit_test (test_codec_round_trips_heartbeat),
        cmocka_unit_test (test_codec_round_trips_disconnect),
        cmocka_unit_test (test_codec_encodes_spec_ping_example),
        cmocka_unit_test (test_codec_frames_empty_body_as_empty_map),
        cmocka_unit_test (test_codec_frames_refuses_unknown_kind),
        cmocka_unit_test (test_codec_numbers_are_big_endian),
        cmocka_unit_test (test_codec_names_every_kind),
        cmocka_unit_test (test_codec_round_trips_over_dealer_router),
        cmocka_unit_test (test_codec_round_trips_every_kind_over_pair),
        cmocka_unit_test (test_codec_accepts_hand_made_message_of_every_kind),
        cmocka_unit_test (test_codec_rejects_fewer_than_two_frames),
        cmocka_unit_test (test_codec_rejects_wrong_signature),
        cmocka_unit_test (test_codec_rejects_other_version),
        cmocka_unit_test (test_codec_rejects_kind_frame_not_one_byte),
        cmocka_unit_test (test_codec_rejects_unknown_kind),
        cmocka_unit_test (test_codec_rejects_wrong_frame_count_per_kind),
        cmocka_unit_test (test_codec_rejects_corr_not_eight_bytes),
        cmocka_unit_test (test_codec_decodes_any_corr_value),
        cmocka_unit_test (test_codec_rejects_timeout_not_four_bytes),
        cmocka_unit_test (test_codec_rejects_timeout_over_the_max),
        cmocka_unit_test (test_codec_rejects_bad_service),
        cmocka_unit_test (test_codec_rejects_bad_command),
        cmocka_unit_test (test_codec_name_valid_matches_the_alphabet),
        cmocka_unit_test (test_codec_rejects_bad_key),
        cmocka_unit_test (test_codec_rejects_bad_route),
        cmocka_unit_test (test_codec_rejects_empty_body),
        cmocka_unit_test (test_codec_rejects_body_not_a_map),
        cmocka_unit_test (test_codec_rejects_body_over_max_as_too_large),
        cmocka_unit_test (test_codec_reports_the_first_bad_frame),
        cmocka_unit_test (test_codec_names_every_error_code),
        cmocka_unit_test (test_codec_err_set_returns_minus_one_and_bounds_the_sentence),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
