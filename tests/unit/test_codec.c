/*  test_codec.c - unit tests for the FLOT01 envelope codec (flot_msg.c).

    Proves that every kind survives flot_msg_frames -> flot_msg_decode and a
    trip through real ZeroMQ sockets, that the header on the wire is the one
    protocol/SPEC.md shows (section 15, byte for byte), and that
    flot_msg_decode refuses every malformed frame list with the error code of
    SPEC section 7 and a sentence that names what was wrong. The headers for
    the rejection tests are built here by hand, from the spec's tables, not
    by the codec under test.
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
#include <time.h>
#include <zmq.h>

#include "flotilla/protocol.h"

#define assert_mentions(text, needle) \
    do { \
        if (!strstr ((text), (needle))) \
            fail_msg ("message '%s' does not mention '%s'", (text), (needle)); \
    } while (0)

//  -------------------------------------------------------------------------
//  The header layouts of SPEC section 2, written out independently of the
//  codec's own table.

typedef enum { ROUTE, CORR, SERVICE, KEY, TIMEOUT, COMMAND } field_t;
#define FIELD_COUNT 6

//  How the codec names each field in its messages.
static const char *s_field_names [FIELD_COUNT] = {
    "route", "correlation id", "service", "key", "timeout", "command"
};

//  Strings are a length byte and the bytes; numbers have a fixed size.
static const size_t s_number_size [FIELD_COUNT] = { 0, 8, 0, 0, 4, 0 };

typedef struct {
    int kind;
    const char *name;
    size_t frames;              //  2 with a body frame, else 1
    int count;                  //  header fields after the kind byte
    field_t fields [5];
} spec_kind_t;

static const spec_kind_t s_kinds [] = {
    { FLOT_REQUEST,      "REQUEST",      2, 5, { CORR, SERVICE, KEY, TIMEOUT, COMMAND } },
    { FLOT_REPLY,        "REPLY",        2, 1, { CORR } },
    { FLOT_ERROR,        "ERROR",        2, 1, { CORR } },
    { FLOT_STREAM,       "STREAM",       2, 1, { CORR } },
    { FLOT_STREAM_END,   "STREAM_END",   2, 1, { CORR } },
    { FLOT_READY,        "READY",        2, 1, { SERVICE } },
    { FLOT_DELIVER,      "DELIVER",      2, 5, { ROUTE, CORR, KEY, TIMEOUT, COMMAND } },
    { FLOT_A_REPLY,      "A_REPLY",      2, 2, { ROUTE, CORR } },
    { FLOT_A_ERROR,      "A_ERROR",      2, 2, { ROUTE, CORR } },
    { FLOT_A_STREAM,     "A_STREAM",     2, 2, { ROUTE, CORR } },
    { FLOT_A_STREAM_END, "A_STREAM_END", 2, 2, { ROUTE, CORR } },
    { FLOT_CANCEL,       "CANCEL",       2, 2, { ROUTE, CORR } },
    { FLOT_HEARTBEAT,    "HEARTBEAT",    1, 0, { 0 } },
    { FLOT_DISCONNECT,   "DISCONNECT",   2, 0, { 0 } },
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

static bool
s_has (const spec_kind_t *spec, field_t field)
{
    for (int i = 0; i < spec->count; i++)
        if (spec->fields [i] == field)
            return true;
    return false;
}

//  The values a hand-made message carries: each field as the bytes that
//  follow its length byte (strings) or as its big-endian bytes (numbers).
//  The defaults: corr 0x0102030405060708, service "echo", key "eu-1",
//  timeout 5000, command "Echo", route 00 80 00 00 29, body {"a": 1}.
typedef struct {
    flot_bytes_t field [FIELD_COUNT];
    flot_bytes_t body;
    uint8_t corr [8];           //  storage for values taken from a flot_msg_t
    uint8_t timeout [4];
} values_t;

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
s_values (values_t *values)
{
    memset (values, 0, sizeof *values);
    values->field [ROUTE] = (flot_bytes_t) { s_route_bytes, 5 };
    values->field [CORR] = (flot_bytes_t) { s_corr_bytes, 8 };
    values->field [SERVICE] = s_str ("echo");
    values->field [KEY] = s_str ("eu-1");
    values->field [TIMEOUT] = (flot_bytes_t) { s_timeout_bytes, 4 };
    values->field [COMMAND] = s_str ("Echo");
    values->body = (flot_bytes_t) { s_body_bytes, 4 };
}

//  The values of a flot_msg_t, numbers written big-endian here (not by the
//  codec's helpers).
static void
s_values_of (values_t *values, const flot_msg_t *msg)
{
    memset (values, 0, sizeof *values);
    for (int i = 0; i < 8; i++)
        values->corr [i] = (uint8_t) (msg->corr >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        values->timeout [i] = (uint8_t) (msg->timeout_ms >> (24 - 8 * i));
    values->field [ROUTE] = msg->route;
    values->field [CORR] = (flot_bytes_t) { values->corr, 8 };
    values->field [SERVICE] = msg->service;
    values->field [KEY] = msg->key;
    values->field [TIMEOUT] = (flot_bytes_t) { values->timeout, 4 };
    values->field [COMMAND] = msg->command;
    values->body = msg->body;
}

//  A message as hand-made frames: the header (with where each of its fields
//  starts and ends) and, if the kind has one, the body. frames [0] views
//  header, so a wire_t is not copied; s_truncate and s_append resize it.
#define NOWHERE ((size_t) -1)

typedef struct {
    uint8_t header [2 * FLOT_MAX_HEADER];
    size_t size;
    size_t at [FIELD_COUNT];    //  NOWHERE for a field the kind has not
    size_t end [FIELD_COUNT];
    flot_bytes_t frames [FLOT_MAX_FRAMES + 8];
    size_t count;
} wire_t;

static void
s_wire_of (wire_t *wire, int kind, const values_t *values)
{
    const spec_kind_t *spec = s_spec (kind);
    assert_non_null (spec);
    memset (wire, 0, sizeof *wire);
    for (int f = 0; f < FIELD_COUNT; f++)
        wire->at [f] = wire->end [f] = NOWHERE;
    memcpy (wire->header, "FLOT01", 6);
    wire->header [6] = (uint8_t) kind;
    size_t p = 7;
    for (int i = 0; i < spec->count; i++) {
        field_t field = spec->fields [i];
        flot_bytes_t value = values->field [field];
        wire->at [field] = p;
        if (!s_number_size [field]) {
            assert_true (value.size <= 255);
            wire->header [p++] = (uint8_t) value.size;
        }
        if (value.size)
            memcpy (wire->header + p, value.data, value.size);
        p += value.size;
        wire->end [field] = p;
    }
    wire->size = p;
    wire->frames [0] = (flot_bytes_t) { wire->header, p };
    wire->count = 1;
    if (spec->frames == 2)
        wire->frames [wire->count++] = values->body;
}

static void
s_wire (wire_t *wire, int kind)
{
    values_t values;
    s_values (&values);
    s_wire_of (wire, kind, &values);
}

//  A hand-made message of kind with one field replaced.
static void
s_wire_with (wire_t *wire, int kind, field_t field, flot_bytes_t value)
{
    values_t values;
    s_values (&values);
    values.field [field] = value;
    s_wire_of (wire, kind, &values);
}

static void
s_truncate (wire_t *wire, size_t size)
{
    assert_true (size <= wire->size);
    wire->size = wire->frames [0].size = size;
}

static void
s_append (wire_t *wire, const void *bytes, size_t size)
{
    assert_true (wire->size + size <= sizeof wire->header);
    memcpy (wire->header + wire->size, bytes, size);
    wire->size += size;
    wire->frames [0].size = wire->size;
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
    for (int i = 0; i < spec->count; i++)
        switch (spec->fields [i]) {
            case ROUTE:   msg->route = (flot_bytes_t) { s_route_bytes, 5 }; break;
            case CORR:    msg->corr = 0xfedcba9876543210ull + (uint64_t) kind; break;
            case SERVICE: msg->service = s_str ("deploy.exec-2_B"); break;
            case KEY:     msg->key = s_str ("eu-1/rack~7"); break;
            case TIMEOUT: msg->timeout_ms = FLOT_MAX_TIMEOUT_MS - (uint32_t) kind; break;
            case COMMAND: msg->command = s_str ("StartMonitoring"); break;
        }
    if (spec->frames == 2)
        msg->body = (flot_bytes_t) { s_body_bytes, 4 };
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

//  The frames are the hand-made ones for the same values.
static void
s_assert_frames_of (const flot_bytes_t *frames, size_t count, const flot_msg_t *msg)
{
    values_t values;
    s_values_of (&values, msg);
    wire_t wire;
    s_wire_of (&wire, msg->kind, &values);
    assert_int_equal (count, wire.count);
    for (size_t i = 0; i < count; i++)
        s_assert_bytes (frames [i], wire.frames [i]);
}

static void
s_round_trip (int kind)
{
    const spec_kind_t *spec = s_spec (kind);
    flot_msg_t msg;
    s_fill (&msg, kind);

    flot_bytes_t frames [FLOT_MAX_FRAMES];
    uint8_t scratch [FLOT_MAX_HEADER];
    int count = flot_msg_frames (&msg, frames, scratch);
    assert_int_equal (count, spec->frames);
    assert_ptr_equal (frames [0].data, scratch);
    assert_memory_equal (frames [0].data, "FLOT01", 6);
    assert_int_equal (frames [0].data [6], kind);
    s_assert_frames_of (frames, (size_t) count, &msg);
    //  Numbers are big-endian on the wire.
    values_t values;
    s_values_of (&values, &msg);
    wire_t wire;
    s_wire_of (&wire, kind, &values);
    if (s_has (spec, CORR)) {
        size_t at = wire.at [CORR];
        assert_int_equal (frames [0].data [at], 0xfe);
        assert_int_equal (frames [0].data [at + 7], 0x10 + kind);
    }
    if (s_has (spec, TIMEOUT))
        assert_int_equal (frames [0].data [wire.at [TIMEOUT]], 0x05);

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

//  The largest header there is (DELIVER with every string at its limit)
//  fits FLOT_MAX_HEADER, and flot_msg_header writes nothing past its size.
static void
test_codec_round_trips_fields_at_their_limits (void **state)
{
    (void) state;
    static uint8_t route [255], key [255];
    static char name [65];
    for (int i = 0; i < 255; i++) {
        route [i] = (uint8_t) (255 - i);
        key [i] = (uint8_t) (0x21 + i % 94);
    }
    memset (name, 'N', 64);
    for (size_t i = 0; i < KIND_COUNT; i++) {
        flot_msg_t msg;
        s_fill (&msg, s_kinds [i].kind);
        if (s_has (&s_kinds [i], ROUTE))
            msg.route = (flot_bytes_t) { route, 255 };
        if (s_has (&s_kinds [i], KEY))
            msg.key = (flot_bytes_t) { key, 255 };
        if (s_has (&s_kinds [i], SERVICE))
            msg.service = s_str (name);
        if (s_has (&s_kinds [i], COMMAND))
            msg.command = s_str (name);
        if (s_has (&s_kinds [i], CORR))
            msg.corr = UINT64_MAX;
        if (s_has (&s_kinds [i], TIMEOUT))
            msg.timeout_ms = FLOT_MAX_TIMEOUT_MS;

        uint8_t buffer [FLOT_MAX_HEADER + 16];
        memset (buffer, 0xa5, sizeof buffer);
        int size = flot_msg_header (&msg, buffer);
        assert_true (size >= 7 && size <= FLOT_MAX_HEADER);
        for (size_t b = (size_t) size; b < sizeof buffer; b++)
            assert_int_equal (buffer [b], 0xa5);
        flot_bytes_t frames [FLOT_MAX_FRAMES];
        uint8_t scratch [FLOT_MAX_HEADER];
        int count = flot_msg_frames (&msg, frames, scratch);
        assert_int_equal (count, s_kinds [i].frames);
        s_assert_bytes (frames [0], (flot_bytes_t) { buffer, (size_t) size });
        s_assert_frames_of (frames, (size_t) count, &msg);
        flot_msg_t decoded;
        s_assert_accepts (frames, (size_t) count, &decoded);
        s_assert_same (&decoded, &msg);
    }
    //  DELIVER: 7 + (1 + 255) + 8 + (1 + 255) + 4 + (1 + 64) bytes.
    flot_msg_t deliver;
    s_fill (&deliver, FLOT_DELIVER);
    deliver.route = (flot_bytes_t) { route, 255 };
    deliver.key = (flot_bytes_t) { key, 255 };
    deliver.command = s_str (name);
    uint8_t buffer [FLOT_MAX_HEADER];
    assert_int_equal (flot_msg_header (&deliver, buffer), 596);
}

//  -------------------------------------------------------------------------
//  SPEC section 15, byte for byte.

//  The client's Ping REQUEST: a 32-byte header and the body {}. (The spec's
//  table, bytes 0..31, is 32 bytes long.)
static const uint8_t s_ping_header [] = {
    0x46, 0x4c, 0x4f, 0x54, 0x30, 0x31,                 //  FLOT01
    0x01,                                               //  REQUEST
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,     //  corr 42
    0x06, 0x62, 0x72, 0x6f, 0x6b, 0x65, 0x72,           //  broker
    0x00,                                               //  no key
    0x00, 0x00, 0x13, 0x88,                             //  5000 ms
    0x04, 0x50, 0x69, 0x6e, 0x67                        //  Ping
};

//  The broker's REPLY: a 15-byte header and the 34-byte body.
static const uint8_t s_pong_header [] = {
    0x46, 0x4c, 0x4f, 0x54, 0x30, 0x31, 0x02,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a
};
static const uint8_t s_pong_body [] = {
    0x83,
    0xa4, 0x70, 0x6f, 0x6e, 0x67, 0xc3,
    0xa7, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0xa5, 0x30, 0x2e, 0x31, 0x2e, 0x30,
    0xa9, 0x75, 0x70, 0x74, 0x69, 0x6d, 0x65, 0x5f, 0x6d, 0x73, 0xcd, 0x04, 0xd2
};

//  Encodes msg and expects exactly header and body; decodes them back.
static void
s_assert_wire (const flot_msg_t *msg, const uint8_t *header, size_t header_size,
               const uint8_t *body, size_t body_size)
{
    flot_bytes_t frames [FLOT_MAX_FRAMES];
    uint8_t scratch [FLOT_MAX_HEADER];
    int count = flot_msg_frames (msg, frames, scratch);
    assert_int_equal (count, body ? 2 : 1);
    s_assert_bytes (frames [0], (flot_bytes_t) { header, header_size });
    if (body)
        s_assert_bytes (frames [1], (flot_bytes_t) { body, body_size });
    flot_bytes_t typed [2] = { { header, header_size }, { body, body_size } };
    flot_msg_t decoded;
    s_assert_accepts (typed, (size_t) count, &decoded);
    s_assert_same (&decoded, msg);
}

static void
test_codec_encodes_spec_ping_example (void **state)
{
    (void) state;
    static const uint8_t empty [] = { 0x80 };
    assert_int_equal (sizeof s_ping_header, 32);
    flot_msg_t ping = {
        .kind = FLOT_REQUEST, .corr = 42, .service = s_str ("broker"),
        .timeout_ms = 5000, .command = s_str ("Ping"),
        .body = { empty, 1 }
    };
    s_assert_wire (&ping, s_ping_header, sizeof s_ping_header, empty, 1);
    //  The body left empty in the view goes out as {} too.
    ping.body = (flot_bytes_t) { NULL, 0 };
    flot_bytes_t frames [FLOT_MAX_FRAMES];
    uint8_t scratch [FLOT_MAX_HEADER];
    assert_int_equal (flot_msg_frames (&ping, frames, scratch), 2);
    s_assert_bytes (frames [0], (flot_bytes_t) { s_ping_header, sizeof s_ping_header });
    s_assert_bytes (frames [1], (flot_bytes_t) { empty, 1 });

    assert_int_equal (sizeof s_pong_header, 15);
    assert_int_equal (sizeof s_pong_body, 34);
    flot_msg_t pong = {
        .kind = FLOT_REPLY, .corr = 42, .body = { s_pong_body, sizeof s_pong_body }
    };
    s_assert_wire (&pong, s_pong_header, sizeof s_pong_header,
                   s_pong_body, sizeof s_pong_body);
}

//  The rest of section 15: the failing keyed call's ERROR, and the echo
//  call through an actor (READY, REQUEST, DELIVER, A_REPLY, REPLY).
static void
test_codec_encodes_spec_actor_examples (void **state)
{
    (void) state;
    static const uint8_t error_header [] = {
        0x46, 0x4c, 0x4f, 0x54, 0x30, 0x31, 0x03, 0, 0, 0, 0, 0, 0, 0, 0x2a };
    static const uint8_t error_body [] = { 0x81, 0xa4, 'c', 'o', 'd', 'e', 0x05 };
    flot_msg_t error = { .kind = FLOT_ERROR, .corr = 42, .body = { error_body, 7 } };
    s_assert_wire (&error, error_header, sizeof error_header, error_body, 7);

    static const uint8_t ready_header [] = {
        0x46, 0x4c, 0x4f, 0x54, 0x30, 0x31, 0x10, 0x04, 0x65, 0x63, 0x68, 0x6f };
    static const uint8_t ready_body [] = {
        0x83, 0xa8, 0x69, 0x6e, 0x73, 0x74, 0x61, 0x6e, 0x63, 0x65, 0xa6, 0x65, 0x63, 0x68, 0x6f, 0x2d, 0x31,
        0xa4, 0x68, 0x6f, 0x73, 0x74, 0xa6, 0x62, 0x75, 0x69, 0x6c, 0x64, 0x37,
        0xa3, 0x70, 0x69, 0x64, 0xcd, 0x10, 0x92 };
    assert_int_equal (sizeof ready_body, 36);
    flot_msg_t ready = {
        .kind = FLOT_READY, .service = s_str ("echo"),
        .body = { ready_body, sizeof ready_body }
    };
    s_assert_wire (&ready, ready_header, sizeof ready_header,
                   ready_body, sizeof ready_body);

    static const uint8_t echo_body [] = { 0x81, 0xa1, 0x61, 0x01 };
    static const uint8_t route [] = { 0x00, 0x80, 0x00, 0x00, 0x29 };
    static const uint8_t request_header [] = {
        0x46, 0x4c, 0x4f, 0x54, 0x30, 0x31, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x07,
        0x04, 0x65, 0x63, 0x68, 0x6f, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x04, 0x45, 0x63, 0x68, 0x6f };
    flot_msg_t request = {
        .kind = FLOT_REQUEST, .corr = 7, .service = s_str ("echo"),
        .command = s_str ("Echo"), .body = { echo_body, 4 }
    };
    s_assert_wire (&request, request_header, sizeof request_header, echo_body, 4);

    static const uint8_t deliver_header [] = {
        0x46, 0x4c, 0x4f, 0x54, 0x30, 0x31, 0x11,
        0x05, 0x00, 0x80, 0x00, 0x00, 0x29,
        0, 0, 0, 0, 0, 0, 0, 0x07,
        0x00, 0x00, 0x00, 0x75, 0x30,
        0x04, 0x45, 0x63, 0x68, 0x6f };
    flot_msg_t deliver = {
        .kind = FLOT_DELIVER, .route = { route, 5 }, .corr = 7, .timeout_ms = 30000,
        .command = s_str ("Echo"), .body = { echo_body, 4 }
    };
    s_assert_wire (&deliver, deliver_header, sizeof deliver_header, echo_body, 4);

    static const uint8_t a_reply_header [] = {
        0x46, 0x4c, 0x4f, 0x54, 0x30, 0x31, 0x12,
        0x05, 0x00, 0x80, 0x00, 0x00, 0x29, 0, 0, 0, 0, 0, 0, 0, 0x07 };
    flot_msg_t a_reply = {
        .kind = FLOT_A_REPLY, .route = { route, 5 }, .corr = 7, .body = { echo_body, 4 }
    };
    s_assert_wire (&a_reply, a_reply_header, sizeof a_reply_header, echo_body, 4);

    static const uint8_t reply_header [] = {
        0x46, 0x4c, 0x4f, 0x54, 0x30, 0x31, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x07 };
    flot_msg_t reply = { .kind = FLOT_REPLY, .corr = 7, .body = { echo_body, 4 } };
    s_assert_wire (&reply, reply_header, sizeof reply_header, echo_body, 4);

    //  HEARTBEAT is the signature and the kind, alone.
    static const uint8_t heartbeat_header [] = { 0x46, 0x4c, 0x4f, 0x54, 0x30, 0x31, 0x20 };
    flot_msg_t heartbeat = { .kind = FLOT_HEARTBEAT };
    s_assert_wire (&heartbeat, heartbeat_header, sizeof heartbeat_header, NULL, 0);
}

//  A body left empty in the view goes out as the empty map, 0x80.
static void
test_codec_frames_empty_body_as_empty_map (void **state)
{
    (void) state;
    for (size_t i = 0; i < KIND_COUNT; i++) {
        if (s_kinds [i].frames != 2)
            continue;
        flot_msg_t msg;
        s_fill (&msg, s_kinds [i].kind);
        msg.body = (flot_bytes_t) { NULL, 0 };
        flot_bytes_t frames [FLOT_MAX_FRAMES];
        uint8_t scratch [FLOT_MAX_HEADER];
        assert_int_equal (flot_msg_frames (&msg, frames, scratch), 2);
        assert_int_equal (frames [1].size, 1);
        assert_int_equal (frames [1].data [0], 0x80);
        flot_msg_t decoded;
        s_assert_accepts (frames, 2, &decoded);
    }
}

static void
test_codec_header_refuses_unknown_kind (void **state)
{
    (void) state;
    flot_bytes_t frames [FLOT_MAX_FRAMES];
    uint8_t scratch [FLOT_MAX_HEADER];
    int bad [] = { -1, 0, 0x06, 0x0f, 0x17, 0x22, 0xff, 0x101, 0x120, 100000 };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        flot_msg_t msg = { .kind = bad [i] };
        assert_int_equal (flot_msg_header (&msg, scratch), -1);
        assert_int_equal (flot_msg_frames (&msg, frames, scratch), -1);
    }
}

//  A field over its limit cannot be written: its length would not fit the
//  length byte, or the decoder would refuse it.
static void
test_codec_header_refuses_over_long_fields (void **state)
{
    (void) state;
    static uint8_t long_bytes [300];
    memset (long_bytes, 'x', sizeof long_bytes);
    flot_bytes_t long_name = { long_bytes, FLOT_MAX_NAME + 1 };
    flot_bytes_t max_name = { long_bytes, FLOT_MAX_NAME };
    flot_bytes_t long_key = { long_bytes, FLOT_MAX_KEY + 1 };
    flot_bytes_t long_route = { long_bytes, FLOT_MAX_ROUTE + 1 };
    uint8_t scratch [FLOT_MAX_HEADER];
    flot_bytes_t frames [FLOT_MAX_FRAMES];
    int tested = 0;
    for (size_t i = 0; i < KIND_COUNT; i++) {
        const spec_kind_t *spec = &s_kinds [i];
        for (int f = 0; f < spec->count; f++) {
            flot_msg_t msg;
            s_fill (&msg, spec->kind);
            switch (spec->fields [f]) {
                case ROUTE:   msg.route = long_route; break;
                case SERVICE: msg.service = long_name; break;
                case KEY:     msg.key = long_key; break;
                case COMMAND: msg.command = long_name; break;
                default:      continue;
            }
            tested++;
            if (flot_msg_header (&msg, scratch) != -1)
                fail_msg ("%s: a %s over its limit was written", spec->name,
                          s_field_names [spec->fields [f]]);
            assert_int_equal (flot_msg_frames (&msg, frames, scratch), -1);
        }
    }
    assert_int_equal (tested, 12);
    //  Fields the kind does not carry are not looked at; at the limit is fine.
    flot_msg_t reply = { .kind = FLOT_REPLY, .service = long_name, .key = long_key,
                         .route = long_route, .command = long_name };
    assert_int_equal (flot_msg_header (&reply, scratch), 15);
    flot_msg_t request = { .kind = FLOT_REQUEST, .service = max_name,
                           .command = max_name, .key = { long_bytes, FLOT_MAX_KEY } };
    assert_int_equal (flot_msg_header (&request, scratch),
                      7 + 8 + 1 + FLOT_MAX_NAME + 1 + FLOT_MAX_KEY + 4 + 1 + FLOT_MAX_NAME);
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

    //  Client -> broker: REQUEST, header and body, after the identity frame
    //  that ROUTER adds.
    flot_msg_t request;
    s_fill (&request, FLOT_REQUEST);
    assert_int_equal (flot_msg_send (&request, dealer, NULL, false), 0);
    zmq_msg_t parts [FLOT_MAX_FRAMES + 2];
    size_t count = s_recv (router, parts, FLOT_MAX_FRAMES + 2);
    assert_int_equal (count, 3);
    flot_bytes_t frames [FLOT_MAX_FRAMES + 2];
    s_frames_of (parts, count, frames);
    s_assert_frames_of (frames + 1, count - 1, &request);
    flot_msg_t decoded;
    s_assert_accepts (frames + 1, count - 1, &decoded);
    s_assert_same (&decoded, &request);

    //  Broker -> client: REPLY, addressed by that identity.
    uint8_t identity [256];
    size_t identity_size = frames [0].size;
    assert_true (identity_size > 0 && identity_size <= sizeof identity);
    memcpy (identity, frames [0].data, identity_size);
    s_close_parts (parts, count);
    flot_msg_t reply;
    s_fill (&reply, FLOT_REPLY);
    flot_bytes_t to = { identity, identity_size };
    assert_int_equal (flot_msg_send (&reply, router, &to, true), 0);
    count = s_recv (dealer, parts, FLOT_MAX_FRAMES + 2);
    assert_int_equal (count, 2);
    s_frames_of (parts, count, frames);
    assert_int_equal (frames [0].size, 15);
    s_assert_frames_of (frames, count, &reply);
    s_assert_accepts (frames, count, &decoded);
    s_assert_same (&decoded, &reply);
    s_close_parts (parts, count);

    //  A view that is not a message is not sent, nor one with a field over
    //  its limit; nothing of them reaches the other side.
    flot_msg_t bad = { .kind = 0x42 };
    errno = 0;
    assert_int_equal (flot_msg_send (&bad, dealer, NULL, true), -1);
    assert_int_equal (errno, EINVAL);
    static uint8_t long_name [FLOT_MAX_NAME + 1];
    memset (long_name, 'a', sizeof long_name);
    s_fill (&bad, FLOT_REQUEST);
    bad.command = (flot_bytes_t) { long_name, sizeof long_name };
    errno = 0;
    assert_int_equal (flot_msg_send (&bad, dealer, NULL, true), -1);
    assert_int_equal (errno, EINVAL);
    zmq_msg_t part;
    zmq_msg_init (&part);
    assert_int_equal (zmq_msg_recv (&part, router, ZMQ_DONTWAIT), -1);
    assert_int_equal (zmq_errno (), EAGAIN);
    zmq_msg_close (&part);

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
        zmq_msg_t parts [FLOT_MAX_FRAMES + 1];
        size_t count = s_recv (b, parts, FLOT_MAX_FRAMES + 1);
        assert_int_equal (count, s_kinds [i].frames);
        flot_bytes_t frames [FLOT_MAX_FRAMES + 1];
        s_frames_of (parts, count, frames);
        s_assert_frames_of (frames, count, &msg);
        flot_msg_t decoded;
        s_assert_accepts (frames, count, &decoded);
        s_assert_same (&decoded, &msg);
        s_close_parts (parts, count);
    }
    zmq_close (a);
    zmq_close (b);
    zmq_ctx_term (ctx);
}

//  Two PAIR sockets connected over endpoint.
static void
s_pair (void *ctx, const char *endpoint, void **a, void **b)
{
    *a = s_socket (ctx, ZMQ_PAIR);
    *b = s_socket (ctx, ZMQ_PAIR);
    assert_int_equal (zmq_bind (*a, endpoint), 0);
    assert_int_equal (zmq_connect (*b, endpoint), 0);
}

static void
test_codec_recv_keeps_at_most_max_frames (void **state)
{
    (void) state;
    void *ctx = zmq_ctx_new (), *a, *b;
    s_pair (ctx, "inproc://test-codec-recv", &a, &b);
    zmq_msg_t frames [2];
    bool overflow = true;
    //  Nothing waiting: EAGAIN, nothing to close.
    assert_int_equal (flot_msg_recv (b, frames, 2, ZMQ_DONTWAIT, &overflow), -1);
    assert_int_equal (errno, EAGAIN);
    //  Three frames, two kept: the third is read and dropped.
    zmq_send (a, "one", 3, ZMQ_SNDMORE);
    zmq_send (a, "two", 3, ZMQ_SNDMORE);
    zmq_send (a, "three", 5, 0);
    zmq_send (a, "next", 4, 0);
    assert_int_equal (flot_msg_recv (b, frames, 2, 0, &overflow), 2);
    assert_true (overflow);
    assert_memory_equal (zmq_msg_data (&frames [1]), "two", 3);
    s_close_parts (frames, 2);
    //  The next message is whole and separate.
    assert_int_equal (flot_msg_recv (b, frames, 2, 0, &overflow), 1);
    assert_false (overflow);
    assert_int_equal (zmq_msg_size (&frames [0]), 4);
    s_close_parts (frames, 1);
    zmq_close (a);
    zmq_close (b);
    zmq_ctx_term (ctx);
}

//  flot_msg_recv_soon never waits as the socket's receive timeout would
//  (5 s here), and takes a message that is there.
static void
test_codec_recv_soon_does_not_wait (void **state)
{
    (void) state;
    void *ctx = zmq_ctx_new (), *a, *b;
    s_pair (ctx, "inproc://test-codec-recv-soon", &a, &b);
    zmq_msg_t frames [2];
    bool overflow = true;
    time_t start = time (NULL);
    assert_int_equal (flot_msg_recv_soon (b, frames, 2, &overflow), -1);
    assert_int_equal (errno, EAGAIN);
    assert_true (time (NULL) - start < 3);
    zmq_send (a, "head", 4, ZMQ_SNDMORE);
    zmq_send (a, "body", 4, 0);
    assert_int_equal (flot_msg_recv_soon (b, frames, 2, &overflow), 2);
    assert_false (overflow);
    assert_memory_equal (zmq_msg_data (&frames [1]), "body", 4);
    s_close_parts (frames, 2);
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
        bool has_corr = s_has (&s_kinds [i], CORR);
        assert_true (msg.corr == (has_corr ? 0x0102030405060708ull : 0));
        s_assert_bytes (msg.body, s_kinds [i].frames == 2
                                ? (flot_bytes_t) { s_body_bytes, 4 }
                                : (flot_bytes_t) { NULL, 0 });
        if (s_has (&s_kinds [i], TIMEOUT))
            assert_int_equal (msg.timeout_ms, 5000);
        if (s_has (&s_kinds [i], ROUTE))
            s_assert_bytes (msg.route, (flot_bytes_t) { s_route_bytes, 5 });
        //  The views point into the frames, not at copies.
        if (s_has (&s_kinds [i], SERVICE))
            assert_ptr_equal (msg.service.data, wire.header + wire.at [SERVICE] + 1);
    }
}

static void
test_codec_rejects_no_frames (void **state)
{
    (void) state;
    wire_t wire;
    s_wire (&wire, FLOT_HEARTBEAT);
    s_assert_rejects (wire.frames, 0, FLOT_E_MALFORMED, "message has 0 frames, expected 1 or 2");
    //  And nothing of the failed decode looks like a kind.
    flot_msg_t msg;
    flot_err_t err;
    assert_int_equal (flot_msg_decode (&msg, wire.frames, 0, &err), -1);
    assert_int_equal (msg.kind, -1);
}

//  Step 1: more than FLOT_MAX_FRAMES frames, whatever they hold.
static void
test_codec_rejects_more_than_two_frames_as_too_large (void **state)
{
    (void) state;
    for (size_t i = 0; i < KIND_COUNT; i++) {
        wire_t wire;
        s_wire (&wire, s_kinds [i].kind);
        for (size_t extra = 1; extra <= 8; extra++) {
            for (size_t j = 0; j < extra; j++)
                wire.frames [wire.count + j] = (flot_bytes_t) { s_body_bytes, 4 };
            size_t count = wire.count + extra;
            if (count <= FLOT_MAX_FRAMES)
                continue;       //  HEARTBEAT and one more frame: step 4
            char needle [64];
            snprintf (needle, sizeof needle, "message has %zu frames, expected 1 or 2", count);
            s_assert_rejects (wire.frames, count, FLOT_E_TOO_LARGE, needle);
        }
    }
    //  Before the signature is looked at.
    wire_t wire;
    s_wire (&wire, FLOT_REQUEST);
    memcpy (wire.header, "NOPE01", 6);
    wire.frames [2] = wire.frames [1];
    s_assert_rejects (wire.frames, 3, FLOT_E_TOO_LARGE, "3 frames");
}

static void
test_codec_rejects_header_shorter_than_signature (void **state)
{
    (void) state;
    for (size_t size = 0; size < FLOT_SIGNATURE_SIZE; size++)
        for (size_t count = 1; count <= 2; count++) {
            wire_t wire;
            s_wire (&wire, FLOT_REQUEST);
            s_truncate (&wire, size);
            s_assert_rejects (wire.frames, count, FLOT_E_VERSION,
                              "header does not start with the protocol signature FLOT01");
        }
    //  An empty header with no data at all.
    flot_bytes_t empty [1] = { { NULL, 0 } };
    s_assert_rejects (empty, 1, FLOT_E_VERSION, "signature FLOT01");
}

static void
test_codec_rejects_wrong_signature (void **state)
{
    (void) state;
    const char *bad [] = { "ZMTP01", "flot01", "FLOX01", "FLO01T", "XXXX01", "\0LOT01" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        for (size_t k = 0; k < KIND_COUNT; k++) {
            wire_t wire;
            s_wire (&wire, s_kinds [k].kind);
            memcpy (wire.header, bad [i], 6);
            s_assert_rejects (wire.frames, wire.count, FLOT_E_VERSION,
                              "header does not start with the protocol signature FLOT01");
        }
    //  The signature is checked before the size, the kind, the frame count
    //  and the fields.
    wire_t wire;
    s_wire (&wire, FLOT_REQUEST);
    memcpy (wire.header, "NOPE01", 6);
    wire.header [6] = 0x77;
    s_assert_rejects (wire.frames, 1, FLOT_E_VERSION, "signature");
    s_truncate (&wire, 6);
    s_assert_rejects (wire.frames, 2, FLOT_E_VERSION, "signature");
    static uint8_t big [FLOT_MAX_HEADER + 1];
    memcpy (big, "NOPE01", 6);
    flot_bytes_t frames [2] = { { big, sizeof big }, { s_body_bytes, 4 } };
    s_assert_rejects (frames, 2, FLOT_E_VERSION, "signature");
}

static void
test_codec_rejects_other_version (void **state)
{
    (void) state;
    const char *versions [] = { "FLOT02", "FLOT00", "FLOT99", "FLOT1\xff" };
    const char *needles [] = { "version 02", "version 00", "version 99", "version 1" };
    for (size_t i = 0; i < 4; i++) {
        wire_t wire;
        s_wire (&wire, FLOT_REQUEST);
        memcpy (wire.header, versions [i], 6);
        s_assert_rejects (wire.frames, wire.count, FLOT_E_VERSION, needles [i]);
        s_assert_rejects (wire.frames, wire.count, FLOT_E_VERSION,
                          "is not supported, expected FLOT01");
    }
    //  A REQUEST of version 02 still shows its corr at bytes 7..14: the
    //  broker answers it (SPEC section 7, addressable).
    wire_t wire;
    s_wire (&wire, FLOT_REQUEST);
    memcpy (wire.header, "FLOT02", 6);
    assert_true (wire.size >= 15);
    assert_int_equal (wire.header [6], FLOT_REQUEST);
    assert_memory_equal (wire.header + 7, s_corr_bytes, 8);
}

static void
test_codec_rejects_header_ending_before_kind (void **state)
{
    (void) state;
    for (size_t count = 1; count <= 2; count++) {
        wire_t wire;
        s_wire (&wire, FLOT_REQUEST);
        s_truncate (&wire, FLOT_SIGNATURE_SIZE);
        s_assert_rejects (wire.frames, count, FLOT_E_MALFORMED,
                          "header ends before the kind byte");
        flot_msg_t msg;
        flot_err_t err;
        assert_int_equal (flot_msg_decode (&msg, wire.frames, count, &err), -1);
        assert_int_equal (msg.kind, -1);
    }
}

static void
test_codec_rejects_unknown_kind (void **state)
{
    (void) state;
    int tested = 0;
    for (int byte = 0; byte < 256; byte++) {
        if (s_spec (byte))
            continue;
        tested++;
        char needle [32];
        snprintf (needle, sizeof needle, "unknown message kind 0x%02x", byte);
        //  Whatever follows, and whatever the frame count.
        for (size_t count = 1; count <= 2; count++) {
            wire_t wire;
            s_wire (&wire, FLOT_REPLY);
            wire.header [6] = (uint8_t) byte;
            s_assert_rejects (wire.frames, count, FLOT_E_MALFORMED, needle);
            s_truncate (&wire, 7);
            s_assert_rejects (wire.frames, count, FLOT_E_MALFORMED, needle);
            flot_msg_t msg;
            flot_err_t err;
            assert_int_equal (flot_msg_decode (&msg, wire.frames, count, &err), -1);
            assert_int_equal (msg.kind, -1);
        }
    }
    assert_int_equal (tested, 256 - (int) KIND_COUNT);
}

//  Step 4: HEARTBEAT is one frame, every other kind two.
static void
test_codec_rejects_wrong_frame_count_per_kind (void **state)
{
    (void) state;
    for (size_t i = 0; i < KIND_COUNT; i++) {
        const spec_kind_t *spec = &s_kinds [i];
        wire_t wire;
        s_wire (&wire, spec->kind);
        size_t wrong = spec->frames == 2 ? 1 : 2;
        wire.frames [1] = (flot_bytes_t) { s_body_bytes, 4 };
        char needle [64];
        snprintf (needle, sizeof needle, "%s has %zu frames, expected %zu",
                  spec->name, wrong, spec->frames);
        s_assert_rejects (wire.frames, wrong, FLOT_E_MALFORMED, needle);
        //  Before the header's fields: a header cut short with the wrong
        //  count names the count.
        if (spec->count) {
            s_truncate (&wire, 8);
            s_assert_rejects (wire.frames, wrong, FLOT_E_MALFORMED, needle);
        }
    }
}

//  Step 5: a header that ends inside a field. For each kind carrying one of
//  fields, cuts the header at each offset from..to of that field (relative
//  to where it starts; to < 0 means up to its last byte) and expects the
//  message to give the header's size and name the field and where it starts.
static int
s_reject_cut (const field_t *fields, size_t field_count, size_t from, long to,
              const values_t *values)
{
    int cuts = 0;
    for (size_t i = 0; i < KIND_COUNT; i++) {
        const spec_kind_t *spec = &s_kinds [i];
        for (size_t f = 0; f < field_count; f++) {
            field_t field = fields [f];
            if (!s_has (spec, field))
                continue;
            wire_t wire;
            s_wire_of (&wire, spec->kind, values);
            size_t start = wire.at [field];
            size_t last = to < 0 ? wire.end [field] - 1 : start + (size_t) to;
            for (size_t cut = start + from; cut <= last && cut < wire.end [field]; cut++) {
                s_wire_of (&wire, spec->kind, values);
                s_truncate (&wire, cut);
                char needle [128];
                snprintf (needle, sizeof needle,
                          "%s: header is %zu bytes and ends inside the %s, "
                          "which starts at byte %zu",
                          spec->name, cut, s_field_names [field], start);
                s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, needle);
                cuts++;
            }
        }
    }
    return cuts;
}

static void
test_codec_rejects_header_ending_inside_corr (void **state)
{
    (void) state;
    values_t values;
    s_values (&values);
    field_t corr [] = { CORR };
    //  Eight cuts (0..7 bytes of it) in each of the 11 kinds with a corr.
    assert_int_equal (s_reject_cut (corr, 1, 0, -1, &values), 8 * 11);
}

static void
test_codec_rejects_header_ending_inside_timeout (void **state)
{
    (void) state;
    values_t values;
    s_values (&values);
    field_t timeout [] = { TIMEOUT };
    assert_int_equal (s_reject_cut (timeout, 1, 0, -1, &values), 4 * 2);
}

static void
test_codec_rejects_header_ending_at_a_length_byte (void **state)
{
    (void) state;
    values_t values;
    s_values (&values);
    field_t strings [] = { ROUTE, SERVICE, KEY, COMMAND };
    //  REQUEST 3, READY 1, DELIVER 3, A_* and CANCEL 1 each.
    assert_int_equal (s_reject_cut (strings, 4, 0, 0, &values), 3 + 1 + 3 + 5);
    //  An empty key is its length byte alone.
    values.field [KEY] = (flot_bytes_t) { NULL, 0 };
    field_t key [] = { KEY };
    assert_int_equal (s_reject_cut (key, 1, 0, 0, &values), 2);
}

static void
test_codec_rejects_header_ending_inside_string_bytes (void **state)
{
    (void) state;
    values_t values;
    s_values (&values);
    field_t strings [] = { ROUTE, SERVICE, KEY, COMMAND };
    assert_true (s_reject_cut (strings, 4, 1, -1, &values) > 0);
    //  A length byte that claims more than the whole header holds.
    static uint8_t long_route [255];
    memset (long_route, 0x01, sizeof long_route);
    values.field [ROUTE] = (flot_bytes_t) { long_route, 255 };
    field_t route [] = { ROUTE };
    assert_int_equal (s_reject_cut (route, 1, 1, 1, &values), 6);
    assert_int_equal (s_reject_cut (route, 1, 255, 255, &values), 6);
}

//  Step 5: nothing may follow the last field.
static void
test_codec_rejects_bytes_after_the_last_field (void **state)
{
    (void) state;
    static uint8_t tail [FLOT_MAX_HEADER];
    memset (tail, 0, sizeof tail);
    for (size_t i = 0; i < KIND_COUNT; i++) {
        size_t extras [] = { 1, 2, 8, 100 };
        for (size_t e = 0; e < 4; e++) {
            wire_t wire;
            s_wire (&wire, s_kinds [i].kind);
            s_append (&wire, tail, extras [e]);
            char needle [96];
            snprintf (needle, sizeof needle, "%s: header has %zu bytes after its last field",
                      s_kinds [i].name, extras [e]);
            s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, needle);
        }
        //  Up to a header of exactly FLOT_MAX_HEADER bytes: still leftovers.
        wire_t wire;
        s_wire (&wire, s_kinds [i].kind);
        size_t extra = FLOT_MAX_HEADER - wire.size;
        s_append (&wire, tail, extra);
        char needle [96];
        snprintf (needle, sizeof needle, "header has %zu bytes after its last field", extra);
        s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, needle);
    }
}

//  Step 3: a header over FLOT_MAX_HEADER, before its kind is looked at.
static void
test_codec_rejects_header_over_max (void **state)
{
    (void) state;
    static uint8_t tail [2 * FLOT_MAX_HEADER];
    memset (tail, 0xff, sizeof tail);
    for (size_t i = 0; i < KIND_COUNT; i++) {
        size_t sizes [] = { FLOT_MAX_HEADER + 1, FLOT_MAX_HEADER + 2, 2 * FLOT_MAX_HEADER };
        for (size_t s = 0; s < 3; s++) {
            wire_t wire;
            s_wire (&wire, s_kinds [i].kind);
            s_append (&wire, tail, sizes [s] - wire.size);
            char needle [64];
            snprintf (needle, sizeof needle, "header is %zu bytes, the limit is 1024", sizes [s]);
            s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, needle);
            //  Also with an unknown kind, or the wrong frame count.
            wire.header [6] = 0x7f;
            s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, needle);
            wire.header [6] = (uint8_t) s_kinds [i].kind;
            s_assert_rejects (wire.frames, 3 - wire.count, FLOT_E_MALFORMED, needle);
        }
    }
}

//  For each kind carrying field, writes each of bad in it and expects code
//  and a message naming needle (%s: the kind).
static void
s_reject_field (field_t field, const flot_bytes_t *bad, size_t bad_count,
                int code, const char *needle)
{
    int kinds_tested = 0;
    for (size_t i = 0; i < KIND_COUNT; i++) {
        if (!s_has (&s_kinds [i], field))
            continue;
        kinds_tested++;
        for (size_t j = 0; j < bad_count; j++) {
            wire_t wire;
            s_wire_with (&wire, s_kinds [i].kind, field, bad [j]);
            char text [128];
            snprintf (text, sizeof text, needle, s_kinds [i].name);
            s_assert_rejects (wire.frames, wire.count, code, text);
        }
    }
    assert_true (kinds_tested > 0);
}

//  For each kind carrying field, accepts each of good in it, and decodes it.
static void
s_accept_field (field_t field, const flot_bytes_t *good, size_t good_count)
{
    for (size_t i = 0; i < KIND_COUNT; i++) {
        if (!s_has (&s_kinds [i], field))
            continue;
        for (size_t j = 0; j < good_count; j++) {
            wire_t wire;
            s_wire_with (&wire, s_kinds [i].kind, field, good [j]);
            flot_msg_t msg;
            s_assert_accepts (wire.frames, wire.count, &msg);
            switch (field) {
                case ROUTE:   s_assert_bytes (msg.route, good [j]); break;
                case SERVICE: s_assert_bytes (msg.service, good [j]); break;
                case KEY:     s_assert_bytes (msg.key, good [j]); break;
                case COMMAND: s_assert_bytes (msg.command, good [j]); break;
                default:      break;
            }
        }
    }
}

static void
test_codec_decodes_any_corr_value (void **state)
{
    (void) state;
    static const uint8_t ones [8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    static const uint8_t zeros [8] = { 0 };
    for (size_t i = 0; i < KIND_COUNT; i++) {
        if (!s_has (&s_kinds [i], CORR))
            continue;
        wire_t wire;
        flot_msg_t msg;
        s_wire_with (&wire, s_kinds [i].kind, CORR, (flot_bytes_t) { ones, 8 });
        s_assert_accepts (wire.frames, wire.count, &msg);
        assert_true (msg.corr == UINT64_MAX);
        s_wire_with (&wire, s_kinds [i].kind, CORR, (flot_bytes_t) { zeros, 8 });
        s_assert_accepts (wire.frames, wire.count, &msg);
        assert_true (msg.corr == 0);
        s_wire (&wire, s_kinds [i].kind);
        s_assert_accepts (wire.frames, wire.count, &msg);
        assert_true (msg.corr == 0x0102030405060708ull);
    }
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
    s_wire_with (&wire, FLOT_REQUEST, TIMEOUT, (flot_bytes_t) { zero, 4 });
    flot_msg_t msg;
    s_assert_accepts (wire.frames, wire.count, &msg);
    assert_int_equal (msg.timeout_ms, 0);
    s_wire_with (&wire, FLOT_DELIVER, TIMEOUT, (flot_bytes_t) { max, 4 });
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
    static uint8_t long_name [255];
    memset (long_name, 'n', sizeof long_name);
    flot_bytes_t bad [] = {
        s_str (""), s_str (s_name_65), { long_name, 255 }, s_str ("has space"),
        s_str ("a/b"), s_str ("a:b"), s_str ("a+b"), s_str ("tab\t"), s_str ("ping!"),
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
    static uint8_t max_key [255], printable [94];
    memset (max_key, 'k', sizeof max_key);
    for (int i = 0; i < 94; i++)
        printable [i] = (uint8_t) (0x21 + i);
    static const uint8_t space [] = { 'e', ' ', '1' };
    static const uint8_t nul [] = { 'e', 0x00 };
    static const uint8_t newline [] = { 'e', '\n' };
    static const uint8_t tab [] = { '\t' };
    static const uint8_t escape [] = { 'e', 0x1b, '[' };
    static const uint8_t unit_sep [] = { 0x1f };
    static const uint8_t del [] = { 0x7f };
    static const uint8_t high [] = { 'e', 0x80 };
    static const uint8_t utf8 [] = { 0xc3, 0xa9 };
    flot_bytes_t bad [] = {
        { space, 3 }, { nul, 2 }, { newline, 2 }, { tab, 1 }, { escape, 3 },
        { unit_sep, 1 }, { del, 1 }, { high, 2 }, { utf8, 2 }
    };
    s_reject_field (KEY, bad, sizeof bad / sizeof bad [0], FLOT_E_MALFORMED,
                    "%s: key must be 0..255 printable ASCII bytes");
    //  A control byte at the end of a key of the longest length.
    static uint8_t long_bad [255];
    memset (long_bad, 'k', sizeof long_bad);
    long_bad [254] = 0x01;
    flot_bytes_t last [] = { { long_bad, 255 } };
    s_reject_field (KEY, last, 1, FLOT_E_MALFORMED, "%s: key must be");
    flot_bytes_t good [] = {
        { max_key, 255 }, { printable, 94 }, { NULL, 0 }, s_str ("eu-1")
    };
    s_accept_field (KEY, good, sizeof good / sizeof good [0]);
}

static void
test_codec_rejects_empty_route (void **state)
{
    (void) state;
    flot_bytes_t bad [] = { { NULL, 0 } };
    s_reject_field (ROUTE, bad, 1, FLOT_E_MALFORMED,
                    "%s: route is empty, expected 1..255 bytes");
    //  Any byte values, 1..255 of them.
    static uint8_t max_route [255];
    for (int i = 0; i < 255; i++)
        max_route [i] = (uint8_t) i;
    static const uint8_t zero [] = { 0x00 };
    flot_bytes_t good [] = { { zero, 1 }, { max_route, 255 }, { max_route, 17 } };
    s_accept_field (ROUTE, good, 3);
}

//  For each kind with a body, puts each of bad in the body frame.
static void
s_reject_body (const flot_bytes_t *bad, size_t bad_count, int code, const char *needle)
{
    for (size_t i = 0; i < KIND_COUNT; i++) {
        if (s_kinds [i].frames != 2)
            continue;
        for (size_t j = 0; j < bad_count; j++) {
            wire_t wire;
            s_wire (&wire, s_kinds [i].kind);
            wire.frames [1] = bad [j];
            char text [128];
            snprintf (text, sizeof text, needle, s_kinds [i].name, bad [j].size);
            s_assert_rejects (wire.frames, wire.count, code, text);
        }
    }
}

static void
s_accept_body (const flot_bytes_t *good, size_t good_count)
{
    for (size_t i = 0; i < KIND_COUNT; i++) {
        if (s_kinds [i].frames != 2)
            continue;
        for (size_t j = 0; j < good_count; j++) {
            wire_t wire;
            s_wire (&wire, s_kinds [i].kind);
            wire.frames [1] = good [j];
            flot_msg_t msg;
            s_assert_accepts (wire.frames, wire.count, &msg);
            s_assert_bytes (msg.body, good [j]);
        }
    }
}

static void
test_codec_rejects_empty_body (void **state)
{
    (void) state;
    flot_bytes_t bad [] = { { s_body_bytes, 0 }, { NULL, 0 } };
    s_reject_body (bad, 2, FLOT_E_MALFORMED, "%s: body must be a msgpack map");
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
    s_reject_body (bad, sizeof firsts, FLOT_E_MALFORMED, "%s: body must be a msgpack map");
    //  fixmap, map16, map32 are maps.
    static const uint8_t fixmap [] = { 0x80 };
    static const uint8_t map16 [] = { 0xde, 0x00, 0x00 };
    static const uint8_t map32 [] = { 0xdf, 0x00, 0x00, 0x00, 0x00 };
    flot_bytes_t good [] = { { fixmap, 1 }, { map16, 3 }, { map32, 5 } };
    s_accept_body (good, 3);
}

static uint8_t s_filler [FLOT_MAX_BODY + 2];

static void
test_codec_rejects_body_over_max_as_too_large (void **state)
{
    (void) state;
    s_filler [0] = 0x80;
    flot_bytes_t bad [] = { { s_filler, FLOT_MAX_BODY + 1 }, { s_filler, FLOT_MAX_BODY + 2 } };
    s_reject_body (bad, 2, FLOT_E_TOO_LARGE, "%s: body is %zu bytes, the limit is 1048576");
    //  Even when it does not start as a map: the size is checked first.
    s_filler [0] = 0x90;
    s_reject_body (bad, 1, FLOT_E_TOO_LARGE, "%s: body is %zu bytes");
    //  Exactly the limit passes the envelope (the body is checked later).
    s_filler [0] = 0x80;
    flot_bytes_t good [] = { { s_filler, FLOT_MAX_BODY } };
    s_accept_body (good, 1);
    s_filler [0] = 0;
}

//  The checks run in the order of SPEC section 7, fields in header order:
//  the first failure is the one named.
static void
test_codec_reports_the_first_bad_field (void **state)
{
    (void) state;
    values_t values;
    s_values (&values);
    values.field [SERVICE] = s_str ("bad service");
    values.field [COMMAND] = s_str ("bad command");
    values.body = (flot_bytes_t) { NULL, 0 };
    wire_t wire;
    s_wire_of (&wire, FLOT_REQUEST, &values);
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, "REQUEST: service name");
    values.field [SERVICE] = s_str ("echo");
    s_wire_of (&wire, FLOT_REQUEST, &values);
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, "REQUEST: command name");
    //  A bad field, then bytes after the last one: the field.
    s_append (&wire, "xx", 2);
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, "command name");
    //  The header before the body, even an oversized one.
    values.field [COMMAND] = s_str ("Echo");
    s_filler [0] = 0x80;
    values.body = (flot_bytes_t) { s_filler, FLOT_MAX_BODY + 1 };
    s_wire_of (&wire, FLOT_REQUEST, &values);
    s_assert_rejects (wire.frames, wire.count, FLOT_E_TOO_LARGE, "body is");
    s_append (&wire, "x", 1);
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, "after its last field");
    s_filler [0] = 0;
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
        cmocka_unit_test (test_codec_round_trips_fields_at_their_limits),
        cmocka_unit_test (test_codec_encodes_spec_ping_example),
        cmocka_unit_test (test_codec_encodes_spec_actor_examples),
        cmocka_unit_test (test_codec_frames_empty_body_as_empty_map),
        cmocka_unit_test (test_codec_header_refuses_unknown_kind),
        cmocka_unit_test (test_codec_header_refuses_over_long_fields),
        cmocka_unit_test (test_codec_numbers_are_big_endian),
        cmocka_unit_test (test_codec_names_every_kind),
        cmocka_unit_test (test_codec_round_trips_over_dealer_router),
        cmocka_unit_test (test_codec_round_trips_every_kind_over_pair),
        cmocka_unit_test (test_codec_recv_keeps_at_most_max_frames),
        cmocka_unit_test (test_codec_recv_soon_does_not_wait),
        cmocka_unit_test (test_codec_accepts_hand_made_message_of_every_kind),
        cmocka_unit_test (test_codec_rejects_no_frames),
        cmocka_unit_test (test_codec_rejects_more_than_two_frames_as_too_large),
        cmocka_unit_test (test_codec_rejects_header_shorter_than_signature),
        cmocka_unit_test (test_codec_rejects_wrong_signature),
        cmocka_unit_test (test_codec_rejects_other_version),
        cmocka_unit_test (test_codec_rejects_header_ending_before_kind),
        cmocka_unit_test (test_codec_rejects_unknown_kind),
        cmocka_unit_test (test_codec_rejects_wrong_frame_count_per_kind),
        cmocka_unit_test (test_codec_rejects_header_ending_inside_corr),
        cmocka_unit_test (test_codec_rejects_header_ending_inside_timeout),
        cmocka_unit_test (test_codec_rejects_header_ending_at_a_length_byte),
        cmocka_unit_test (test_codec_rejects_header_ending_inside_string_bytes),
        cmocka_unit_test (test_codec_rejects_bytes_after_the_last_field),
        cmocka_unit_test (test_codec_rejects_header_over_max),
        cmocka_unit_test (test_codec_decodes_any_corr_value),
        cmocka_unit_test (test_codec_rejects_timeout_over_the_max),
        cmocka_unit_test (test_codec_rejects_bad_service),
        cmocka_unit_test (test_codec_rejects_bad_command),
        cmocka_unit_test (test_codec_name_valid_matches_the_alphabet),
        cmocka_unit_test (test_codec_rejects_bad_key),
        cmocka_unit_test (test_codec_rejects_empty_route),
        cmocka_unit_test (test_codec_rejects_empty_body),
        cmocka_unit_test (test_codec_rejects_body_not_a_map),
        cmocka_unit_test (test_codec_rejects_body_over_max_as_too_large),
        cmocka_unit_test (test_codec_reports_the_first_bad_field),
        cmocka_unit_test (test_codec_names_every_error_code),
        cmocka_unit_test (test_codec_err_set_returns_minus_one_and_bounds_the_sentence),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
