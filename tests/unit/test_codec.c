/*  test_codec.c - unit tests for the FLOT envelope codec (flot_msg.c), in
    both versions it speaks: 02 and 03.

    Proves that every kind survives flot_msg_frame -> flot_msg_decode and a
    trip through real ZeroMQ sockets in each version; that a message on the
    wire is the one frame protocol/SPEC.md shows (section 15, byte for byte:
    the header, then the body right after it in the same frame; version 02's
    examples and version 03's DELIVER, which ends its header with the
    caller); and that flot_msg_decode refuses every malformed message with
    the error code of SPEC section 7 and a sentence that names what was
    wrong. The frames for the rejection tests are built here by hand, from
    the spec's tables, not by the codec under test.
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

#include "flotilla/contract_broker.h"
#include "flotilla/protocol.h"

#define assert_mentions(text, needle) \
    do { \
        if (!strstr ((text), (needle))) \
            fail_msg ("message '%s' does not mention '%s'", (text), (needle)); \
    } while (0)

//  -------------------------------------------------------------------------
//  The header layouts of SPEC section 2, written out independently of the
//  codec's own table.

typedef enum { ROUTE, CORR, SERVICE, KEY, TIMEOUT, COMMAND, CALLER } field_t;
#define FIELD_COUNT 7

//  How the codec names each field in its messages.
static const char *s_field_names [FIELD_COUNT] = {
    "route", "correlation id", "service", "key", "timeout", "command", "caller"
};

//  Strings are a length byte and the bytes; numbers have a fixed size.
static const size_t s_number_size [FIELD_COUNT] = { 0, 8, 0, 0, 4, 0, 0 };

//  The versions the codec speaks, each modelled here: 02 and 03 differ only
//  in DELIVER, whose header ends with the caller from 03 on.
static const int s_versions [] = { 2, 3 };
#define VERSION_COUNT (sizeof s_versions / sizeof s_versions [0])

typedef struct {
    int kind;
    const char *name;
    bool body;                  //  a body follows the header in the frame
    int count;                  //  header fields after the kind byte
    field_t fields [6];
} spec_kind_t;

static const spec_kind_t s_kinds [] = {
    { FLOT_REQUEST,      "REQUEST",      true,  5, { CORR, SERVICE, KEY, TIMEOUT, COMMAND } },
    { FLOT_REPLY,        "REPLY",        true,  1, { CORR } },
    { FLOT_ERROR,        "ERROR",        true,  1, { CORR } },
    { FLOT_STREAM,       "STREAM",       true,  1, { CORR } },
    { FLOT_STREAM_END,   "STREAM_END",   true,  1, { CORR } },
    { FLOT_READY,        "READY",        true,  1, { SERVICE } },
    { FLOT_DELIVER,      "DELIVER",      true,  5, { ROUTE, CORR, KEY, TIMEOUT, COMMAND } },
    { FLOT_A_REPLY,      "A_REPLY",      true,  2, { ROUTE, CORR } },
    { FLOT_A_ERROR,      "A_ERROR",      true,  2, { ROUTE, CORR } },
    { FLOT_A_STREAM,     "A_STREAM",     true,  2, { ROUTE, CORR } },
    { FLOT_A_STREAM_END, "A_STREAM_END", true,  2, { ROUTE, CORR } },
    { FLOT_CANCEL,       "CANCEL",       true,  2, { ROUTE, CORR } },
    { FLOT_HEARTBEAT,    "HEARTBEAT",    false, 0, { 0 } },
    { FLOT_DISCONNECT,   "DISCONNECT",   true,  0, { 0 } },
};
#define KIND_COUNT (sizeof s_kinds / sizeof s_kinds [0])

//  The table above is version 02's. From version 03 on, DELIVER carries
//  the caller after the command.
static const spec_kind_t s_deliver_03 = {
    FLOT_DELIVER, "DELIVER", true, 6, { ROUTE, CORR, KEY, TIMEOUT, COMMAND, CALLER }
};

//  The layout of kind in version 02, or NULL. A test that looks only at a
//  kind's name, its body or a field every version has uses it for any.
static const spec_kind_t *
s_spec (int kind)
{
    for (size_t i = 0; i < KIND_COUNT; i++)
        if (s_kinds [i].kind == kind)
            return &s_kinds [i];
    return NULL;
}

//  The layout of kind in version (0: FLOT_VERSION, as the codec writes it).
static const spec_kind_t *
s_spec_in (int kind, int version)
{
    if (kind == FLOT_DELIVER && (version ? version : FLOT_VERSION) >= 3)
        return &s_deliver_03;
    return s_spec (kind);
}

static bool
s_has (const spec_kind_t *spec, field_t field)
{
    for (int i = 0; i < spec->count; i++)
        if (spec->fields [i] == field)
            return true;
    return false;
}

//  The signature of version, "FLOT02", into text (7 bytes).
static const char *
s_signature (char *text, int version)
{
    snprintf (text, 7, "FLOT%02d", version);
    return text;
}

//  The values a hand-made message carries: its version (the signature's)
//  and each field as the bytes that follow its length byte (strings) or as
//  its big-endian bytes (numbers). The defaults: version FLOT_VERSION, corr
//  0x0102030405060708, service "echo", key "eu-1", timeout 5000, command
//  "Echo", caller "alice", route 00 80 00 00 29, body {"a": 1}.
typedef struct {
    int version;
    flot_bytes_t field [FIELD_COUNT];
    flot_bytes_t body;
    uint8_t corr [8];           //  storage for values taken from a flot_msg_t
    uint8_t timeout [4];
} values_t;

static const uint8_t s_corr_bytes [8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t s_timeout_bytes [4] = { 0x00, 0x00, 0x13, 0x88 };
static const uint8_t s_route_bytes [5] = { 0x00, 0x80, 0x00, 0x00, 0x29 };
static const uint8_t s_body_bytes [4] = { 0x81, 0xa1, 0x61, 0x01 };
static const uint8_t s_empty_map [1] = { 0x80 };

static flot_bytes_t
s_str (const char *text)
{
    return (flot_bytes_t) { (const uint8_t *) text, strlen (text) };
}

static void
s_values (values_t *values)
{
    memset (values, 0, sizeof *values);
    values->version = FLOT_VERSION;
    values->field [ROUTE] = (flot_bytes_t) { s_route_bytes, 5 };
    values->field [CORR] = (flot_bytes_t) { s_corr_bytes, 8 };
    values->field [SERVICE] = s_str ("echo");
    values->field [KEY] = s_str ("eu-1");
    values->field [TIMEOUT] = (flot_bytes_t) { s_timeout_bytes, 4 };
    values->field [COMMAND] = s_str ("Echo");
    values->field [CALLER] = s_str ("alice");
    values->body = (flot_bytes_t) { s_body_bytes, 4 };
}

//  The values of a flot_msg_t, numbers written big-endian here (not by the
//  codec's helpers); its version 0 is FLOT_VERSION, as the codec writes it.
static void
s_values_of (values_t *values, const flot_msg_t *msg)
{
    memset (values, 0, sizeof *values);
    values->version = msg->version ? msg->version : FLOT_VERSION;
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
    values->field [CALLER] = msg->caller;
    values->body = msg->body;
}

//  A message as a hand-made frame: the header (with where each of its
//  fields starts and ends) and, if the kind has one, the body right after
//  it. frames [0] views bytes, so a wire_t is not copied; s_truncate,
//  s_append and s_set_body resize it. frames [1..] are there for tests that
//  add frames.
#define NOWHERE ((size_t) -1)

typedef struct {
    uint8_t bytes [4 * FLOT_MAX_HEADER];
    size_t size;                //  of the frame
    size_t header_size;         //  the body, if any, starts here
    size_t at [FIELD_COUNT];    //  NOWHERE for a field the kind has not
    size_t end [FIELD_COUNT];
    flot_bytes_t frames [FLOT_MAX_FRAMES + 8];
    size_t count;
} wire_t;

static void
s_append (wire_t *wire, const void *bytes, size_t size)
{
    assert_true (wire->size + size <= sizeof wire->bytes);
    if (size)
        memcpy (wire->bytes + wire->size, bytes, size);
    wire->size += size;
    wire->frames [0].size = wire->size;
}

static void
s_truncate (wire_t *wire, size_t size)
{
    assert_true (size <= wire->size);
    wire->size = wire->frames [0].size = size;
}

//  Replaces what follows the header with body.
static void
s_set_body (wire_t *wire, flot_bytes_t body)
{
    s_truncate (wire, wire->header_size);
    s_append (wire, body.data, body.size);
}

static void
s_wire_of (wire_t *wire, int kind, const values_t *values)
{
    const spec_kind_t *spec = s_spec_in (kind, values->version);
    assert_non_null (spec);
    memset (wire, 0, sizeof *wire);
    for (int f = 0; f < FIELD_COUNT; f++)
        wire->at [f] = wire->end [f] = NOWHERE;
    char signature [7];
    memcpy (wire->bytes, s_signature (signature, values->version), 6);
    wire->bytes [6] = (uint8_t) kind;
    size_t p = 7;
    for (int i = 0; i < spec->count; i++) {
        field_t field = spec->fields [i];
        flot_bytes_t value = values->field [field];
        wire->at [field] = p;
        if (!s_number_size [field]) {
            assert_true (value.size <= 255);
            wire->bytes [p++] = (uint8_t) value.size;
        }
        if (value.size)
            memcpy (wire->bytes + p, value.data, value.size);
        p += value.size;
        wire->end [field] = p;
    }
    wire->size = wire->header_size = p;
    wire->frames [0] = (flot_bytes_t) { wire->bytes, p };
    wire->count = 1;
    if (spec->body)
        s_append (wire, values->body.data, values->body.size);
}

static void
s_wire (wire_t *wire, int kind)
{
    values_t values;
    s_values (&values);
    s_wire_of (wire, kind, &values);
}

//  A hand-made message of kind in version, with the default values.
static void
s_wire_in (wire_t *wire, int kind, int version)
{
    values_t values;
    s_values (&values);
    values.version = version;
    s_wire_of (wire, kind, &values);
}

//  A hand-made message of kind in version with one field replaced.
static void
s_wire_with_in (wire_t *wire, int kind, int version, field_t field, flot_bytes_t value)
{
    values_t values;
    s_values (&values);
    values.version = version;
    values.field [field] = value;
    s_wire_of (wire, kind, &values);
}

//  The same in FLOT_VERSION.
static void
s_wire_with (wire_t *wire, int kind, field_t field, flot_bytes_t value)
{
    s_wire_with_in (wire, kind, FLOT_VERSION, field, value);
}

//  Frames too big for a wire_t: wire's header, then body (up to a little
//  over FLOT_MAX_BODY), in one static buffer. s_filler is a body to use.
static uint8_t s_big [FLOT_MAX_HEADER + FLOT_MAX_BODY + 16];
static uint8_t s_filler [FLOT_MAX_BODY + 16];

static flot_bytes_t
s_big_frame_of (const wire_t *wire, flot_bytes_t body)
{
    assert_true (wire->header_size + body.size <= sizeof s_big);
    memcpy (s_big, wire->bytes, wire->header_size);
    if (body.size)
        memcpy (s_big + wire->header_size, body.data, body.size);
    return (flot_bytes_t) { s_big, wire->header_size + body.size };
}

static flot_bytes_t
s_big_frame (int kind, flot_bytes_t body)
{
    wire_t wire;
    s_wire (&wire, kind);
    return s_big_frame_of (&wire, body);
}

//  s_filler as a body of size bytes that starts with first.
static flot_bytes_t
s_filler_body (size_t size, uint8_t first)
{
    assert_true (size >= 1 && size <= sizeof s_filler);
    memset (s_filler, 0, size);
    s_filler [0] = first;
    return (flot_bytes_t) { s_filler, size };
}

static void
s_assert_bytes (flot_bytes_t actual, flot_bytes_t expected)
{
    assert_int_equal (actual.size, expected.size);
    if (expected.size)
        assert_memory_equal (actual.data, expected.data, expected.size);
}

static flot_bytes_t
s_view (zmq_msg_t *frame)
{
    return (flot_bytes_t) { zmq_msg_data (frame), zmq_msg_size (frame) };
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

//  A failed decode leaves nothing that looks like a kind.
static void
s_assert_no_kind (const flot_bytes_t *frames, size_t count)
{
    flot_msg_t msg;
    flot_err_t err;
    assert_int_equal (flot_msg_decode (&msg, frames, count, &err), -1);
    assert_int_equal (msg.kind, -1);
}

//  -------------------------------------------------------------------------
//  Round trips: a full flot_msg_t of each kind -> one frame -> decode.

//  Fills every field the kind carries in version (0: the codec's default,
//  FLOT_VERSION) with a distinct value, the others zero.
static void
s_fill (flot_msg_t *msg, int kind, int version)
{
    const spec_kind_t *spec = s_spec_in (kind, version);
    memset (msg, 0, sizeof *msg);
    msg->kind = kind;
    msg->version = version;
    for (int i = 0; i < spec->count; i++)
        switch (spec->fields [i]) {
            case ROUTE:   msg->route = (flot_bytes_t) { s_route_bytes, 5 }; break;
            case CORR:    msg->corr = 0xfedcba9876543210ull + (uint64_t) kind; break;
            case SERVICE: msg->service = s_str ("deploy.exec-2_B"); break;
            case KEY:     msg->key = s_str ("eu-1/rack~7"); break;
            case TIMEOUT: msg->timeout_ms = FLOT_MAX_TIMEOUT_MS - (uint32_t) kind; break;
            case COMMAND: msg->command = s_str ("StartMonitoring"); break;
            case CALLER:  msg->caller = s_str ("ops.alice@eu~1"); break;
        }
    if (spec->body)
        msg->body = (flot_bytes_t) { s_body_bytes, 4 };
}

//  actual, decoded, is expected, as written: its version 0 is FLOT_VERSION.
static void
s_assert_same (const flot_msg_t *actual, const flot_msg_t *expected)
{
    assert_int_equal (actual->kind, expected->kind);
    assert_int_equal (actual->version, expected->version ? expected->version : FLOT_VERSION);
    s_assert_bytes (actual->route, expected->route);
    assert_true (actual->corr == expected->corr);
    s_assert_bytes (actual->service, expected->service);
    s_assert_bytes (actual->key, expected->key);
    assert_int_equal (actual->timeout_ms, expected->timeout_ms);
    s_assert_bytes (actual->command, expected->command);
    s_assert_bytes (actual->caller, expected->caller);
    s_assert_bytes (actual->body, expected->body);
}

//  The frame is the hand-made one for msg's values; a kind's empty body is
//  expected as {}, 0x80. Returns where the body starts.
static size_t
s_assert_frame_of (flot_bytes_t frame, const flot_msg_t *msg)
{
    values_t values;
    s_values_of (&values, msg);
    if (values.body.size == 0)
        values.body = (flot_bytes_t) { s_empty_map, 1 };
    wire_t wire;
    s_wire_of (&wire, msg->kind, &values);
    s_assert_bytes (frame, wire.frames [0]);
    return wire.header_size;
}

//  A message of kind in version (0: the codec's default, which is
//  FLOT_VERSION's signature "FLOT03" on the wire).
static void
s_round_trip_in (int kind, int version)
{
    const spec_kind_t *spec = s_spec_in (kind, version);
    flot_msg_t msg;
    s_fill (&msg, kind, version);

    zmq_msg_t frame;
    assert_int_equal (flot_msg_frame (&msg, &frame), 0);
    flot_bytes_t view = s_view (&frame);
    assert_true (view.size >= 7);
    assert_memory_equal (view.data, version == 2 ? "FLOT02" : "FLOT03", 6);
    assert_int_equal (view.data [6], kind);
    size_t header_size = s_assert_frame_of (view, &msg);
    //  Numbers are big-endian on the wire.
    values_t values;
    s_values_of (&values, &msg);
    wire_t wire;
    s_wire_of (&wire, kind, &values);
    if (s_has (spec, CORR)) {
        size_t at = wire.at [CORR];
        assert_int_equal (view.data [at], 0xfe);
        assert_int_equal (view.data [at + 7], 0x10 + kind);
    }
    if (s_has (spec, TIMEOUT))
        assert_int_equal (view.data [wire.at [TIMEOUT]], 0x05);
    //  The body, if the kind has one, is the rest of the frame.
    if (spec->body)
        s_assert_bytes ((flot_bytes_t) { view.data + header_size, view.size - header_size },
                        msg.body);
    else
        assert_int_equal (view.size, header_size);

    flot_msg_t decoded;
    s_assert_accepts (&view, 1, &decoded);
    s_assert_same (&decoded, &msg);
    //  The decoded body views the frame, it is not a copy.
    if (spec->body)
        assert_ptr_equal (decoded.body.data, view.data + header_size);
    //  The caller, in DELIVER of 03, ends the header: the body follows it.
    if (s_has (spec, CALLER)) {
        assert_int_equal (view.data [header_size - 15], 14);
        assert_ptr_equal (decoded.caller.data, view.data + header_size - 14);
    }
    else
        assert_int_equal (decoded.caller.size, 0);
    zmq_msg_close (&frame);
}

//  In version 02, in version 03, and with version 0 (written as 03).
static void
s_round_trip (int kind)
{
    for (size_t v = 0; v < VERSION_COUNT; v++)
        s_round_trip_in (kind, s_versions [v]);
    s_round_trip_in (kind, 0);
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

//  Every field at its limit round-trips, in each version; the largest
//  header there is (DELIVER of 03 with every string at its limit, the
//  caller's 255 bytes included) fits FLOT_MAX_HEADER, and flot_msg_header
//  writes nothing past its size; the largest message there is (that header
//  and a body of FLOT_MAX_BODY) fits FLOT_MAX_MESSAGE, the ZMQ_MAXMSGSIZE of
//  every peer, and decodes.
static void
test_codec_round_trips_fields_at_their_limits (void **state)
{
    (void) state;
    static uint8_t route [255], key [255], caller [255];
    static char name [65];
    for (int i = 0; i < 255; i++) {
        route [i] = (uint8_t) (255 - i);
        key [i] = (uint8_t) (0x21 + i % 94);
        caller [i] = (uint8_t) (0x7e - i % 94);
    }
    memset (name, 'N', 64);
    for (size_t v = 0; v < VERSION_COUNT; v++)
    for (size_t i = 0; i < KIND_COUNT; i++) {
        const spec_kind_t *spec = s_spec_in (s_kinds [i].kind, s_versions [v]);
        flot_msg_t msg;
        s_fill (&msg, spec->kind, s_versions [v]);
        if (s_has (spec, ROUTE))
            msg.route = (flot_bytes_t) { route, 255 };
        if (s_has (spec, KEY))
            msg.key = (flot_bytes_t) { key, 255 };
        if (s_has (spec, SERVICE))
            msg.service = s_str (name);
        if (s_has (spec, COMMAND))
            msg.command = s_str (name);
        if (s_has (spec, CORR))
            msg.corr = UINT64_MAX;
        if (s_has (spec, TIMEOUT))
            msg.timeout_ms = FLOT_MAX_TIMEOUT_MS;
        if (s_has (spec, CALLER))
            msg.caller = (flot_bytes_t) { caller, 255 };

        uint8_t buffer [FLOT_MAX_HEADER + 16];
        memset (buffer, 0xa5, sizeof buffer);
        int size = flot_msg_header (&msg, buffer);
        assert_true (size >= 7 && size <= FLOT_MAX_HEADER);
        for (size_t b = (size_t) size; b < sizeof buffer; b++)
            assert_int_equal (buffer [b], 0xa5);
        //  The frame starts with that header.
        zmq_msg_t frame;
        assert_int_equal (flot_msg_frame (&msg, &frame), 0);
        flot_bytes_t view = s_view (&frame);
        assert_true (view.size >= (size_t) size);
        assert_memory_equal (view.data, buffer, (size_t) size);
        assert_int_equal (s_assert_frame_of (view, &msg), size);
        flot_msg_t decoded;
        s_assert_accepts (&view, 1, &decoded);
        s_assert_same (&decoded, &msg);
        zmq_msg_close (&frame);
    }
    //  DELIVER of 02: 7 + (1 + 255) + 8 + (1 + 255) + 4 + (1 + 64) bytes;
    //  of 03, the caller's (1 + 255) more.
    static const struct { int version; int size; } largest [] = { { 2, 596 }, { 3, 852 } };
    for (size_t v = 0; v < 2; v++) {
        int size = largest [v].size;
        flot_msg_t deliver;
        s_fill (&deliver, FLOT_DELIVER, largest [v].version);
        deliver.route = (flot_bytes_t) { route, 255 };
        deliver.key = (flot_bytes_t) { key, 255 };
        deliver.command = s_str (name);
        if (largest [v].version >= 3)
            deliver.caller = (flot_bytes_t) { caller, 255 };
        uint8_t buffer [FLOT_MAX_HEADER];
        assert_int_equal (flot_msg_header (&deliver, buffer), size);
        assert_true (size <= FLOT_MAX_HEADER);

        deliver.body = s_filler_body (FLOT_MAX_BODY, 0xdf);
        zmq_msg_t frame;
        assert_int_equal (flot_msg_frame (&deliver, &frame), 0);
        flot_bytes_t view = s_view (&frame);
        assert_int_equal (view.size, (size_t) size + FLOT_MAX_BODY);
        assert_true (view.size <= FLOT_MAX_MESSAGE);
        assert_memory_equal (view.data, buffer, (size_t) size);
        flot_msg_t decoded;
        s_assert_accepts (&view, 1, &decoded);
        s_assert_same (&decoded, &deliver);
        assert_ptr_equal (decoded.body.data, view.data + size);
        zmq_msg_close (&frame);
    }
}

//  -------------------------------------------------------------------------
//  SPEC section 15, byte for byte. Its examples are version 02's, which a
//  broker of 03 still speaks (a client of 02 is answered in 02), and then
//  the same DELIVER in version 03, with the caller.

//  The client's Ping REQUEST: one 33-byte frame, the 32-byte header (the
//  spec's table, bytes 0..31) and the body {}.
static const uint8_t s_ping_frame [] = {
    0x46, 0x4c, 0x4f, 0x54, 0x30, 0x32,                 //  FLOT02
    0x01,                                               //  REQUEST
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,     //  corr 42
    0x06, 0x62, 0x72, 0x6f, 0x6b, 0x65, 0x72,           //  broker
    0x00,                                               //  no key
    0x00, 0x00, 0x13, 0x88,                             //  5000 ms
    0x04, 0x50, 0x69, 0x6e, 0x67,                       //  Ping
    0x80                                                //  body {}
};

//  The broker's REPLY: one 96-byte frame, the 15-byte header and the
//  81-byte body.
static const uint8_t s_pong_frame [] = {
    0x46, 0x4c, 0x4f, 0x54, 0x30, 0x32, 0x02,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,
    0x87,
    0xa4, 0x70, 0x6f, 0x6e, 0x67, 0xc3,
    0xa7, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0xa5, 0x30, 0x2e, 0x31, 0x2e, 0x30,
    0xa9, 0x75, 0x70, 0x74, 0x69, 0x6d, 0x65, 0x5f, 0x6d, 0x73, 0xcd, 0x04, 0xd2,
    0xa8, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x73, 0x91, 0x02,
    0xa8, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x63, 0x6f, 0x6c, 0x02,
    0xac, 0x68, 0x65, 0x61, 0x72, 0x74, 0x62, 0x65, 0x61, 0x74, 0x5f, 0x6d, 0x73, 0xcd, 0x03, 0xe8,
    0xa8, 0x6c, 0x69, 0x76, 0x65, 0x6e, 0x65, 0x73, 0x73, 0x03
};

//  Expects msg's header to be exactly header, and msg on the wire to be one
//  frame, exactly header then body; decodes that frame, as written here,
//  back to msg.
static void
s_assert_wire (const flot_msg_t *msg, const uint8_t *header, size_t header_size,
               const uint8_t *body, size_t body_size)
{
    uint8_t expected [FLOT_MAX_HEADER + 128];
    assert_true (header_size + body_size <= sizeof expected);
    memcpy (expected, header, header_size);
    if (body_size)
        memcpy (expected + header_size, body, body_size);
    flot_bytes_t typed = { expected, header_size + body_size };

    uint8_t buffer [FLOT_MAX_HEADER];
    assert_int_equal (flot_msg_header (msg, buffer), header_size);
    assert_memory_equal (buffer, header, header_size);
    zmq_msg_t frame;
    assert_int_equal (flot_msg_frame (msg, &frame), 0);
    s_assert_bytes (s_view (&frame), typed);
    zmq_msg_close (&frame);

    flot_msg_t decoded;
    s_assert_accepts (&typed, 1, &decoded);
    s_assert_same (&decoded, msg);
}

static void
test_codec_encodes_spec_ping_example (void **state)
{
    (void) state;
    assert_int_equal (sizeof s_ping_frame, 32 + 1);
    flot_msg_t ping = {
        .kind = FLOT_REQUEST, .version = 2, .corr = 42, .service = s_str ("broker"),
        .timeout_ms = 5000, .command = s_str ("Ping"),
        .body = { s_empty_map, 1 }
    };
    s_assert_wire (&ping, s_ping_frame, 32, s_ping_frame + 32, 1);
    //  The body left empty in the view goes out as {} too: the same frame.
    ping.body = (flot_bytes_t) { NULL, 0 };
    zmq_msg_t frame;
    assert_int_equal (flot_msg_frame (&ping, &frame), 0);
    s_assert_bytes (s_view (&frame), (flot_bytes_t) { s_ping_frame, sizeof s_ping_frame });
    zmq_msg_close (&frame);

    assert_int_equal (sizeof s_pong_frame, 15 + 81);
    flot_msg_t pong = {
        .kind = FLOT_REPLY, .version = 2, .corr = 42, .body = { s_pong_frame + 15, 81 }
    };
    s_assert_wire (&pong, s_pong_frame, 15, s_pong_frame + 15, 81);
    //  In version 03 (and so by default) they differ in the signature only.
    for (int version = 0; version <= 3; version += 3) {
        uint8_t ping_03 [sizeof s_ping_frame], pong_03 [sizeof s_pong_frame];
        memcpy (ping_03, s_ping_frame, sizeof ping_03);
        memcpy (pong_03, s_pong_frame, sizeof pong_03);
        ping_03 [5] = pong_03 [5] = '3';
        ping.version = pong.version = version;
        ping.body = (flot_bytes_t) { s_empty_map, 1 };
        s_assert_wire (&ping, ping_03, 32, ping_03 + 32, 1);
        s_assert_wire (&pong, pong_03, 15, pong_03 + 15, 81);
    }

    //  The broker writes that body by its contract, broker.Ping's reply,
    //  whose fields are in the example's order.
    uint64_t versions [] = { 2 };
    flot_broker_ping_reply_t reply = {
        .pong = true, .version = "0.1.0", .uptime_ms = 1234, .has_uptime_ms = true,
        .versions = { 1, versions }, .protocol = 2, .has_protocol = true,
        .heartbeat_ms = 1000, .has_heartbeat_ms = true, .liveness = 3, .has_liveness = true
    };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_broker_ping_reply_def, &reply, &sbuf);
    assert_int_equal (sbuf.size, 81);
    assert_memory_equal (sbuf.data, s_pong_frame + 15, 81);
    msgpack_sbuffer_destroy (&sbuf);
}

//  The rest of section 15: the failing keyed call's ERROR, and the echo
//  call through an actor (READY, REQUEST, DELIVER, A_REPLY, REPLY).
static void
test_codec_encodes_spec_actor_examples (void **state)
{
    (void) state;
    static const uint8_t error_header [] = {
        0x46, 0x4c, 0x4f, 0x54, 0x30, 0x32, 0x03, 0, 0, 0, 0, 0, 0, 0, 0x2a };
    static const uint8_t error_body [] = {
        0x83,
        0xa4, 0x63, 0x6f, 0x64, 0x65, 0x05,
        0xa4, 0x6e, 0x61, 0x6d, 0x65,
        0xab, 0x4e, 0x4f, 0x5f, 0x49, 0x4e, 0x53, 0x54, 0x41, 0x4e, 0x43, 0x45,
        0xa7, 0x6d, 0x65, 0x73, 0x73, 0x61, 0x67, 0x65,
        0xd9, 0x2e,
        0x6e, 0x6f, 0x20, 0x6c, 0x69, 0x76, 0x65, 0x20, 0x69, 0x6e, 0x73, 0x74,
        0x61, 0x6e, 0x63, 0x65, 0x20, 0x6f, 0x66, 0x20, 0x65, 0x78, 0x65, 0x63,
        0x75, 0x74, 0x6f, 0x72, 0x20, 0x73, 0x65, 0x72, 0x76, 0x65, 0x73, 0x20,
        0x6b, 0x65, 0x79, 0x20, 0x27, 0x65, 0x75, 0x2d, 0x31, 0x27 };
    assert_int_equal (sizeof error_body, 80);
    flot_msg_t error = {
        .kind = FLOT_ERROR, .version = 2, .corr = 42, .body = { error_body, sizeof error_body }
    };
    s_assert_wire (&error, error_header, sizeof error_header,
                   error_body, sizeof error_body);

    static const uint8_t ready_header [] = {
        0x46, 0x4c, 0x4f, 0x54, 0x30, 0x32, 0x10, 0x04, 0x65, 0x63, 0x68, 0x6f };
    static const uint8_t ready_body [] = {
        0x83, 0xa8, 0x69, 0x6e, 0x73, 0x74, 0x61, 0x6e, 0x63, 0x65, 0xa6, 0x65, 0x63, 0x68, 0x6f, 0x2d, 0x31,
        0xa4, 0x68, 0x6f, 0x73, 0x74, 0xa6, 0x62, 0x75, 0x69, 0x6c, 0x64, 0x37,
        0xa3, 0x70, 0x69, 0x64, 0xcd, 0x10, 0x92 };
    assert_int_equal (sizeof ready_body, 36);
    flot_msg_t ready = {
        .kind = FLOT_READY, .version = 2, .service = s_str ("echo"),
        .body = { ready_body, sizeof ready_body }
    };
    s_assert_wire (&ready, ready_header, sizeof ready_header,
                   ready_body, sizeof ready_body);
    //  That body is a broker.READY, and the contract writes it back the same.
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    msgpack_object root;
    size_t offset = 0;
    assert_int_equal (msgpack_unpack ((const char *) ready_body, sizeof ready_body, &offset,
                                      &zone, &root), MSGPACK_UNPACK_SUCCESS);
    flot_broker_ready_t registration;
    flot_err_t err = { 0 };
    assert_int_equal (flot_broker_ready_decode (&root, &zone, &registration, &err), 0);
    assert_string_equal (registration.instance, "echo-1");
    assert_string_equal (registration.host, "build7");
    assert_int_equal (registration.pid, 4242);
    assert_int_equal (registration.keys.count, 0);
    assert_int_equal (registration.versions.count, 0);
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_broker_ready_def, &registration, &sbuf);
    assert_int_equal (sbuf.size, sizeof ready_body);
    assert_memory_equal (sbuf.data, ready_body, sizeof ready_body);
    msgpack_sbuffer_destroy (&sbuf);
    msgpack_zone_destroy (&zone);

    static const uint8_t echo_body [] = { 0x81, 0xa1, 0x61, 0x01 };
    static const uint8_t route [] = { 0x00, 0x80, 0x00, 0x00, 0x29 };
    static const uint8_t request_header [] = {
        0x46, 0x4c, 0x4f, 0x54, 0x30, 0x32, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x07,
        0x04, 0x65, 0x63, 0x68, 0x6f, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x04, 0x45, 0x63, 0x68, 0x6f };
    flot_msg_t request = {
        .kind = FLOT_REQUEST, .version = 2, .corr = 7, .service = s_str ("echo"),
        .command = s_str ("Echo"), .body = { echo_body, 4 }
    };
    s_assert_wire (&request, request_header, sizeof request_header, echo_body, 4);

    static const uint8_t deliver_header [] = {
        0x46, 0x4c, 0x4f, 0x54, 0x30, 0x32, 0x11,
        0x05, 0x00, 0x80, 0x00, 0x00, 0x29,
        0, 0, 0, 0, 0, 0, 0, 0x07,
        0x00, 0x00, 0x00, 0x75, 0x30,
        0x04, 0x45, 0x63, 0x68, 0x6f };
    flot_msg_t deliver = {
        .kind = FLOT_DELIVER, .version = 2, .route = { route, 5 }, .corr = 7, .timeout_ms = 30000,
        .command = s_str ("Echo"), .body = { echo_body, 4 }
    };
    s_assert_wire (&deliver, deliver_header, sizeof deliver_header, echo_body, 4);

    static const uint8_t a_reply_header [] = {
        0x46, 0x4c, 0x4f, 0x54, 0x30, 0x32, 0x12,
        0x05, 0x00, 0x80, 0x00, 0x00, 0x29, 0, 0, 0, 0, 0, 0, 0, 0x07 };
    flot_msg_t a_reply = {
        .kind = FLOT_A_REPLY, .version = 2, .route = { route, 5 }, .corr = 7, .body = { echo_body, 4 }
    };
    s_assert_wire (&a_reply, a_reply_header, sizeof a_reply_header, echo_body, 4);

    static const uint8_t reply_header [] = {
        0x46, 0x4c, 0x4f, 0x54, 0x30, 0x32, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x07 };
    flot_msg_t reply = { .kind = FLOT_REPLY, .version = 2, .corr = 7, .body = { echo_body, 4 } };
    s_assert_wire (&reply, reply_header, sizeof reply_header, echo_body, 4);

    //  HEARTBEAT is the signature and the kind, alone.
    static const uint8_t heartbeat_header [] = { 0x46, 0x4c, 0x4f, 0x54, 0x30, 0x32, 0x20 };
    flot_msg_t heartbeat = { .kind = FLOT_HEARTBEAT, .version = 2 };
    s_assert_wire (&heartbeat, heartbeat_header, sizeof heartbeat_header, NULL, 0);
}

//  Section 15's DELIVER in version 03: the same header, signature "FLOT03",
//  then the caller, length and bytes: 05 61 6c 69 63 65, "alice". The
//  codec writes it so by default (version 0).
static void
test_codec_encodes_spec_deliver_03_example (void **state)
{
    (void) state;
    static const uint8_t echo_body [] = { 0x81, 0xa1, 0x61, 0x01 };
    static const uint8_t route [] = { 0x00, 0x80, 0x00, 0x00, 0x29 };
    static const uint8_t deliver_header [] = {
        0x46, 0x4c, 0x4f, 0x54, 0x30, 0x33, 0x11,
        0x05, 0x00, 0x80, 0x00, 0x00, 0x29,
        0, 0, 0, 0, 0, 0, 0, 0x07,
        0x00, 0x00, 0x00, 0x75, 0x30,
        0x04, 0x45, 0x63, 0x68, 0x6f,
        0x05, 0x61, 0x6c, 0x69, 0x63, 0x65 };
    assert_int_equal (sizeof deliver_header, 37);
    flot_msg_t deliver = {
        .kind = FLOT_DELIVER, .version = 3, .route = { route, 5 }, .corr = 7,
        .timeout_ms = 30000, .command = s_str ("Echo"), .caller = s_str ("alice"),
        .body = { echo_body, 4 }
    };
    s_assert_wire (&deliver, deliver_header, sizeof deliver_header, echo_body, 4);
    deliver.version = 0;
    s_assert_wire (&deliver, deliver_header, sizeof deliver_header, echo_body, 4);
    //  A caller without a key: the length byte 00 alone.
    deliver.caller = (flot_bytes_t) { NULL, 0 };
    static const uint8_t anonymous [] = {
        0x46, 0x4c, 0x4f, 0x54, 0x30, 0x33, 0x11,
        0x05, 0x00, 0x80, 0x00, 0x00, 0x29,
        0, 0, 0, 0, 0, 0, 0, 0x07,
        0x00, 0x00, 0x00, 0x75, 0x30,
        0x04, 0x45, 0x63, 0x68, 0x6f,
        0x00 };
    s_assert_wire (&deliver, anonymous, sizeof anonymous, echo_body, 4);
}

//  A DELIVER of version 02 has no caller: one given in the view is not
//  written (the actor of 02 does without it, SPEC section 13), and the
//  frame is section 15's DELIVER of 02, byte for byte; it decodes with no
//  caller. The same frame labelled 03 is not a DELIVER of 03: its body's
//  first byte would be the caller's length.
static void
test_codec_deliver_02_carries_no_caller (void **state)
{
    (void) state;
    static const uint8_t deliver_02 [] = {
        0x46, 0x4c, 0x4f, 0x54, 0x30, 0x32, 0x11,
        0x05, 0x00, 0x80, 0x00, 0x00, 0x29,
        0, 0, 0, 0, 0, 0, 0, 0x07,
        0x00, 0x00, 0x00, 0x75, 0x30,
        0x04, 0x45, 0x63, 0x68, 0x6f,
        0x81, 0xa1, 0x61, 0x01 };
    static const uint8_t route [] = { 0x00, 0x80, 0x00, 0x00, 0x29 };
    flot_msg_t deliver = {
        .kind = FLOT_DELIVER, .version = 2, .route = { route, 5 }, .corr = 7,
        .timeout_ms = 30000, .command = s_str ("Echo"), .caller = s_str ("alice"),
        .body = { deliver_02 + 31, 4 }
    };
    zmq_msg_t frame;
    assert_int_equal (flot_msg_frame (&deliver, &frame), 0);
    s_assert_bytes (s_view (&frame), (flot_bytes_t) { deliver_02, sizeof deliver_02 });
    zmq_msg_close (&frame);
    flot_bytes_t typed = { deliver_02, sizeof deliver_02 };
    flot_msg_t decoded;
    s_assert_accepts (&typed, 1, &decoded);
    assert_int_equal (decoded.version, 2);
    assert_int_equal (decoded.caller.size, 0);
    assert_null (decoded.caller.data);
    s_assert_bytes (decoded.body, (flot_bytes_t) { deliver_02 + 31, 4 });
    //  A caller over its limit is not looked at in 02, which has none.
    static uint8_t long_caller [300];
    memset (long_caller, 'c', sizeof long_caller);
    deliver.caller = (flot_bytes_t) { long_caller, sizeof long_caller };
    uint8_t header [FLOT_MAX_HEADER];
    assert_int_equal (flot_msg_header (&deliver, header), 31);

    uint8_t relabelled [sizeof deliver_02];
    memcpy (relabelled, deliver_02, sizeof relabelled);
    relabelled [5] = '3';
    flot_bytes_t wrong = { relabelled, sizeof relabelled };
    s_assert_rejects (&wrong, 1, FLOT_E_MALFORMED,
        "DELIVER: message is 35 bytes and ends inside the caller, which starts at byte 31");
}

//  A body left empty in the view goes out as the empty map, 0x80, right
//  after the header, and decodes as that. HEARTBEAT goes out as its header
//  alone, even with a body in the view.
static void
test_codec_frames_empty_body_as_empty_map (void **state)
{
    (void) state;
    flot_bytes_t empties [] = { { NULL, 0 }, { s_body_bytes, 0 } };
    for (size_t v = 0; v < VERSION_COUNT; v++)
    for (size_t i = 0; i < KIND_COUNT; i++)
        for (size_t e = 0; e < 2; e++) {
            flot_msg_t msg;
            s_fill (&msg, s_kinds [i].kind, s_versions [v]);
            msg.body = empties [e];
            wire_t wire;
            values_t values;
            s_values_of (&values, &msg);
            s_wire_of (&wire, msg.kind, &values);
            zmq_msg_t frame;
            assert_int_equal (flot_msg_frame (&msg, &frame), 0);
            flot_bytes_t view = s_view (&frame);
            flot_msg_t decoded;
            if (s_kinds [i].body) {
                assert_int_equal (view.size, wire.header_size + 1);
                assert_memory_equal (view.data, wire.bytes, wire.header_size);
                assert_int_equal (view.data [wire.header_size], 0x80);
                s_assert_accepts (&view, 1, &decoded);
                s_assert_bytes (decoded.body, (flot_bytes_t) { s_empty_map, 1 });
            }
            else {
                s_assert_bytes (view, wire.frames [0]);
                s_assert_accepts (&view, 1, &decoded);
                assert_int_equal (decoded.body.size, 0);
            }
            zmq_msg_close (&frame);
        }
    flot_msg_t heartbeat = { .kind = FLOT_HEARTBEAT, .body = { s_body_bytes, 4 } };
    zmq_msg_t frame;
    assert_int_equal (flot_msg_frame (&heartbeat, &frame), 0);
    assert_int_equal (zmq_msg_size (&frame), 7);
    flot_msg_t decoded;
    flot_bytes_t view = s_view (&frame);
    s_assert_accepts (&view, 1, &decoded);
    assert_int_equal (decoded.kind, FLOT_HEARTBEAT);
    zmq_msg_close (&frame);
}

static void
test_codec_header_refuses_unknown_kind (void **state)
{
    (void) state;
    uint8_t scratch [FLOT_MAX_HEADER];
    int bad [] = { -1, 0, 0x06, 0x0f, 0x17, 0x22, 0xff, 0x101, 0x120, 100000 };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        flot_msg_t msg = { .kind = bad [i], .body = { s_body_bytes, 4 } };
        assert_int_equal (flot_msg_header (&msg, scratch), -1);
        zmq_msg_t frame;
        assert_int_equal (flot_msg_frame (&msg, &frame), -1);
    }
}

//  A version the codec does not speak cannot be written, in any kind; 0
//  means FLOT_VERSION, and every version it speaks can.
static void
test_codec_header_refuses_unspoken_version (void **state)
{
    (void) state;
    uint8_t scratch [FLOT_MAX_HEADER];
    int bad [] = { -1, 1, FLOT_VERSION_OLDEST - 1, FLOT_VERSION + 1, 4, 10, 99, 100, 1000 };
    for (size_t i = 0; i < KIND_COUNT; i++) {
        for (size_t b = 0; b < sizeof bad / sizeof bad [0]; b++) {
            flot_msg_t msg;
            s_fill (&msg, s_kinds [i].kind, 2);
            msg.version = bad [b];
            if (flot_msg_header (&msg, scratch) != -1)
                fail_msg ("%s of version %d was written", s_kinds [i].name, bad [b]);
            zmq_msg_t frame;
            errno = 0;
            assert_int_equal (flot_msg_frame (&msg, &frame), -1);
            assert_int_equal (errno, EINVAL);
        }
        for (int version = FLOT_VERSION_OLDEST; version <= FLOT_VERSION; version++) {
            flot_msg_t msg;
            s_fill (&msg, s_kinds [i].kind, version);
            assert_true (flot_msg_header (&msg, scratch) >= 7);
            char signature [7];
            assert_memory_equal (scratch, s_signature (signature, version), 6);
        }
    }
}

//  With version 0 the codec writes FLOT_VERSION, "FLOT03": every kind's
//  frame is the one written with version 3, byte for byte, and decodes as
//  version 3.
static void
test_codec_encodes_version_0_as_the_newest (void **state)
{
    (void) state;
    assert_int_equal (FLOT_VERSION, 3);
    assert_memory_equal (FLOT_SIGNATURE, "FLOT03", 6);
    for (size_t i = 0; i < KIND_COUNT; i++) {
        flot_msg_t msg;
        s_fill (&msg, s_kinds [i].kind, 0);
        zmq_msg_t by_default, in_3;
        assert_int_equal (flot_msg_frame (&msg, &by_default), 0);
        msg.version = 3;
        assert_int_equal (flot_msg_frame (&msg, &in_3), 0);
        flot_bytes_t view = s_view (&by_default);
        assert_memory_equal (view.data, "FLOT03", 6);
        s_assert_bytes (view, s_view (&in_3));
        flot_msg_t decoded;
        s_assert_accepts (&view, 1, &decoded);
        assert_int_equal (decoded.version, 3);
        zmq_msg_close (&by_default);
        zmq_msg_close (&in_3);
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
    for (size_t v = 0; v < VERSION_COUNT; v++) {
        int tested = 0;
        for (size_t i = 0; i < KIND_COUNT; i++) {
            const spec_kind_t *spec = s_spec_in (s_kinds [i].kind, s_versions [v]);
            for (int f = 0; f < spec->count; f++) {
                flot_msg_t msg;
                s_fill (&msg, spec->kind, s_versions [v]);
                switch (spec->fields [f]) {
                    case ROUTE:   msg.route = long_route; break;
                    case SERVICE: msg.service = long_name; break;
                    case KEY:     msg.key = long_key; break;
                    case COMMAND: msg.command = long_name; break;
                    case CALLER:  msg.caller = long_key; break;
                    default:      continue;
                }
                tested++;
                if (flot_msg_header (&msg, scratch) != -1)
                    fail_msg ("%s of %d: a %s over its limit was written", spec->name,
                              s_versions [v], s_field_names [spec->fields [f]]);
                zmq_msg_t frame;
                assert_int_equal (flot_msg_frame (&msg, &frame), -1);
            }
        }
        //  The string fields of every kind; 03 adds DELIVER's caller.
        assert_int_equal (tested, s_versions [v] >= 3 ? 13 : 12);
    }
    //  Fields the kind does not carry are not looked at; at the limit is fine.
    flot_msg_t reply = { .kind = FLOT_REPLY, .service = long_name, .key = long_key,
                         .route = long_route, .command = long_name, .caller = long_key };
    assert_int_equal (flot_msg_header (&reply, scratch), 15);
    zmq_msg_t frame;
    assert_int_equal (flot_msg_frame (&reply, &frame), 0);
    assert_int_equal (zmq_msg_size (&frame), 15 + 1);
    zmq_msg_close (&frame);
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
//  Through real sockets: a DEALER client and a ROUTER broker over inproc,
//  PAIRs over inproc and tcp, with flot_msg_send and flot_msg_recv.

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

static void
s_close_frames (zmq_msg_t *frames, int count)
{
    for (int i = 0; i < count; i++)
        zmq_msg_close (&frames [i]);
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

    //  Client -> broker: REQUEST, one frame, after the identity frame that
    //  ROUTER adds.
    flot_msg_t request;
    s_fill (&request, FLOT_REQUEST, 0);
    assert_int_equal (flot_msg_send (&request, dealer, NULL, false), 0);
    zmq_msg_t frames [FLOT_MAX_FRAMES + 1];
    bool overflow = true;
    assert_int_equal (flot_msg_recv (router, frames, FLOT_MAX_FRAMES + 1, 0, &overflow), 2);
    assert_false (overflow);
    flot_bytes_t view = s_view (&frames [1]);
    s_assert_frame_of (view, &request);
    flot_msg_t decoded;
    s_assert_accepts (&view, 1, &decoded);
    s_assert_same (&decoded, &request);

    //  Broker -> client: REPLY, addressed by that identity; the client
    //  receives the one frame alone.
    uint8_t identity [256];
    size_t identity_size = zmq_msg_size (&frames [0]);
    assert_true (identity_size > 0 && identity_size <= sizeof identity);
    memcpy (identity, zmq_msg_data (&frames [0]), identity_size);
    s_close_frames (frames, 2);
    flot_msg_t reply;
    s_fill (&reply, FLOT_REPLY, 0);
    flot_bytes_t to = { identity, identity_size };
    assert_int_equal (flot_msg_send (&reply, router, &to, true), 0);
    assert_int_equal (flot_msg_recv (dealer, frames, FLOT_MAX_FRAMES, 0, &overflow), 1);
    assert_false (overflow);
    view = s_view (&frames [0]);
    assert_int_equal (view.size, 15 + 4);
    s_assert_frame_of (view, &reply);
    s_assert_accepts (&view, 1, &decoded);
    s_assert_same (&decoded, &reply);
    s_close_frames (frames, 1);

    //  A view that is not a message is not sent, nor one with a field over
    //  its limit; nothing of them reaches the other side.
    flot_msg_t bad = { .kind = 0x42 };
    errno = 0;
    assert_int_equal (flot_msg_send (&bad, dealer, NULL, true), -1);
    assert_int_equal (errno, EINVAL);
    static uint8_t long_name [FLOT_MAX_NAME + 1];
    memset (long_name, 'a', sizeof long_name);
    s_fill (&bad, FLOT_REQUEST, 0);
    bad.command = (flot_bytes_t) { long_name, sizeof long_name };
    errno = 0;
    assert_int_equal (flot_msg_send (&bad, dealer, NULL, true), -1);
    assert_int_equal (errno, EINVAL);
    errno = 0;
    assert_int_equal (flot_msg_recv (router, frames, FLOT_MAX_FRAMES + 1, ZMQ_DONTWAIT,
                                     &overflow), -1);
    assert_int_equal (errno, EAGAIN);

    zmq_close (dealer);
    zmq_close (router);
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

//  Every kind in each version, one frame each way, taken by flot_msg_recv
//  and (every other kind) by flot_msg_recv_soon.
static void
test_codec_round_trips_every_kind_over_pair (void **state)
{
    (void) state;
    void *ctx = zmq_ctx_new (), *a, *b;
    s_pair (ctx, "inproc://test-codec-pair", &a, &b);
    for (size_t v = 0; v < VERSION_COUNT; v++)
    for (size_t i = 0; i < KIND_COUNT; i++) {
        flot_msg_t msg;
        s_fill (&msg, s_kinds [i].kind, s_versions [v]);
        assert_int_equal (flot_msg_send (&msg, a, NULL, false), 0);
        zmq_msg_t frames [FLOT_MAX_FRAMES];
        bool overflow = true;
        int count = i % 2
                  ? flot_msg_recv_soon (b, frames, FLOT_MAX_FRAMES, &overflow)
                  : flot_msg_recv (b, frames, FLOT_MAX_FRAMES, 0, &overflow);
        assert_int_equal (count, 1);
        assert_false (overflow);
        flot_bytes_t view = s_view (&frames [0]);
        s_assert_frame_of (view, &msg);
        flot_msg_t decoded;
        s_assert_accepts (&view, 1, &decoded);
        s_assert_same (&decoded, &msg);
        s_close_frames (frames, 1);
    }
    zmq_close (a);
    zmq_close (b);
    zmq_ctx_term (ctx);
}

//  Over tcp://, to a socket whose ZMQ_MAXMSGSIZE is FLOT_MAX_MESSAGE as
//  every peer's is: the largest valid message (a DELIVER of 03, its header
//  and body sharing that one frame's limit) arrives whole, and a body just over
//  FLOT_MAX_BODY gets through ZeroMQ to be refused by the decoder as
//  TOO_LARGE (SPEC section 7).
static void
test_codec_largest_message_crosses_tcp_within_max_message (void **state)
{
    (void) state;
    void *ctx = zmq_ctx_new ();
    void *a = s_socket (ctx, ZMQ_PAIR);
    void *b = s_socket (ctx, ZMQ_PAIR);
    int64_t max = FLOT_MAX_MESSAGE;
    assert_int_equal (zmq_setsockopt (b, ZMQ_MAXMSGSIZE, &max, sizeof max), 0);
    assert_int_equal (zmq_bind (b, "tcp://127.0.0.1:*"), 0);
    char endpoint [256];
    size_t endpoint_size = sizeof endpoint;
    assert_int_equal (zmq_getsockopt (b, ZMQ_LAST_ENDPOINT, endpoint, &endpoint_size), 0);
    assert_int_equal (zmq_connect (a, endpoint), 0);

    static uint8_t route [255], key [255], caller [255];
    memset (route, 0xff, sizeof route);
    memset (key, '~', sizeof key);
    memset (caller, '!', sizeof caller);
    static char name [FLOT_MAX_NAME + 1];
    memset (name, 'n', FLOT_MAX_NAME);
    flot_msg_t deliver;
    s_fill (&deliver, FLOT_DELIVER, 3);
    deliver.route = (flot_bytes_t) { route, 255 };
    deliver.key = (flot_bytes_t) { key, 255 };
    deliver.command = s_str (name);
    deliver.caller = (flot_bytes_t) { caller, 255 };
    deliver.body = s_filler_body (FLOT_MAX_BODY, 0xde);
    s_filler [FLOT_MAX_BODY - 1] = 0x5a;
    assert_int_equal (flot_msg_send (&deliver, a, NULL, false), 0);
    zmq_msg_t frames [FLOT_MAX_FRAMES];
    bool overflow = true;
    assert_int_equal (flot_msg_recv (b, frames, FLOT_MAX_FRAMES, 0, &overflow), 1);
    assert_false (overflow);
    flot_bytes_t view = s_view (&frames [0]);
    assert_int_equal (view.size, 852 + FLOT_MAX_BODY);
    flot_msg_t decoded;
    s_assert_accepts (&view, 1, &decoded);
    s_assert_same (&decoded, &deliver);
    s_close_frames (frames, 1);

    flot_msg_t reply;
    s_fill (&reply, FLOT_REPLY, 0);
    reply.body = s_filler_body (FLOT_MAX_BODY + 1, 0x80);
    assert_int_equal (flot_msg_send (&reply, a, NULL, false), 0);
    assert_int_equal (flot_msg_recv (b, frames, FLOT_MAX_FRAMES, 0, &overflow), 1);
    view = s_view (&frames [0]);
    assert_int_equal (view.size, 15 + FLOT_MAX_BODY + 1);
    s_assert_rejects (&view, 1, FLOT_E_TOO_LARGE, "REPLY: body is 1048577 bytes");
    s_close_frames (frames, 1);

    zmq_close (a);
    zmq_close (b);
    zmq_ctx_term (ctx);
}

//  flot_msg_recv keeps at most max frames of a message and reads and drops
//  the rest, with overflow set, so that the next message starts clean. With
//  max at FLOT_MAX_FRAMES (1), a FLOT01 peer's message, a header frame and
//  a body frame, comes out as its header alone with overflow set.
static void
test_codec_recv_keeps_at_most_max_frames (void **state)
{
    (void) state;
    void *ctx = zmq_ctx_new (), *a, *b;
    s_pair (ctx, "inproc://test-codec-recv", &a, &b);
    zmq_msg_t frames [2];
    bool overflow = true;
    //  Nothing waiting: EAGAIN, nothing to close.
    errno = 0;
    assert_int_equal (flot_msg_recv (b, frames, FLOT_MAX_FRAMES, ZMQ_DONTWAIT, &overflow), -1);
    assert_int_equal (errno, EAGAIN);
    //  Three frames, one kept: the other two are read and dropped.
    zmq_send (a, "one", 3, ZMQ_SNDMORE);
    zmq_send (a, "two", 3, ZMQ_SNDMORE);
    zmq_send (a, "three", 5, 0);
    zmq_send (a, "next", 4, 0);
    assert_int_equal (flot_msg_recv (b, frames, FLOT_MAX_FRAMES, 0, &overflow), 1);
    assert_true (overflow);
    assert_int_equal (zmq_msg_size (&frames [0]), 3);
    assert_memory_equal (zmq_msg_data (&frames [0]), "one", 3);
    s_close_frames (frames, 1);
    //  The next message is whole and separate.
    assert_int_equal (flot_msg_recv (b, frames, FLOT_MAX_FRAMES, 0, &overflow), 1);
    assert_false (overflow);
    assert_int_equal (zmq_msg_size (&frames [0]), 4);
    assert_memory_equal (zmq_msg_data (&frames [0]), "next", 4);
    s_close_frames (frames, 1);

    //  A FLOT01 REPLY: 15 bytes of header, then its body as a frame.
    static const uint8_t flot01 [] = {
        0x46, 0x4c, 0x4f, 0x54, 0x30, 0x31, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x2a };
    zmq_send (a, flot01, sizeof flot01, ZMQ_SNDMORE);
    zmq_send (a, s_body_bytes, 4, 0);
    assert_int_equal (flot_msg_recv (b, frames, FLOT_MAX_FRAMES, 0, &overflow), 1);
    assert_true (overflow);
    s_assert_bytes (s_view (&frames [0]), (flot_bytes_t) { flot01, sizeof flot01 });
    s_close_frames (frames, 1);

    //  With room for an identity frame as well, as a ROUTER reads: two of
    //  three kept.
    zmq_send (a, "one", 3, ZMQ_SNDMORE);
    zmq_send (a, "two", 3, ZMQ_SNDMORE);
    zmq_send (a, "three", 5, 0);
    assert_int_equal (flot_msg_recv (b, frames, FLOT_MAX_FRAMES + 1, 0, &overflow), 2);
    assert_true (overflow);
    assert_memory_equal (zmq_msg_data (&frames [1]), "two", 3);
    s_close_frames (frames, 2);
    errno = 0;
    assert_int_equal (flot_msg_recv (b, frames, FLOT_MAX_FRAMES, ZMQ_DONTWAIT, &overflow), -1);
    assert_int_equal (errno, EAGAIN);
    zmq_close (a);
    zmq_close (b);
    zmq_ctx_term (ctx);
}

//  flot_msg_recv_soon never waits as the socket's receive timeout would
//  (5 s here), takes a message that is there, and keeps at most max frames
//  of it as flot_msg_recv does.
static void
test_codec_recv_soon_does_not_wait (void **state)
{
    (void) state;
    void *ctx = zmq_ctx_new (), *a, *b;
    s_pair (ctx, "inproc://test-codec-recv-soon", &a, &b);
    zmq_msg_t frames [FLOT_MAX_FRAMES];
    bool overflow = true;
    time_t start = time (NULL);
    errno = 0;
    assert_int_equal (flot_msg_recv_soon (b, frames, FLOT_MAX_FRAMES, &overflow), -1);
    assert_int_equal (errno, EAGAIN);
    assert_true (time (NULL) - start < 3);

    flot_msg_t heartbeat = { .kind = FLOT_HEARTBEAT };
    assert_int_equal (flot_msg_send (&heartbeat, a, NULL, false), 0);
    assert_int_equal (flot_msg_recv_soon (b, frames, FLOT_MAX_FRAMES, &overflow), 1);
    assert_false (overflow);
    flot_bytes_t view = s_view (&frames [0]);
    flot_msg_t decoded;
    s_assert_accepts (&view, 1, &decoded);
    assert_int_equal (decoded.kind, FLOT_HEARTBEAT);
    s_close_frames (frames, 1);

    zmq_send (a, "head", 4, ZMQ_SNDMORE);
    zmq_send (a, "body", 4, 0);
    assert_int_equal (flot_msg_recv_soon (b, frames, FLOT_MAX_FRAMES, &overflow), 1);
    assert_true (overflow);
    assert_memory_equal (zmq_msg_data (&frames [0]), "head", 4);
    s_close_frames (frames, 1);
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
    for (size_t v = 0; v < VERSION_COUNT; v++)
    for (size_t i = 0; i < KIND_COUNT; i++) {
        wire_t wire;
        s_wire_in (&wire, s_kinds [i].kind, s_versions [v]);
        assert_int_equal (wire.count, 1);
        flot_msg_t msg;
        s_assert_accepts (wire.frames, wire.count, &msg);
        assert_int_equal (msg.kind, s_kinds [i].kind);
        assert_int_equal (msg.version, s_versions [v]);
        //  The caller, in DELIVER of 03 only, views its bytes in the frame.
        if (s_has (s_spec_in (s_kinds [i].kind, s_versions [v]), CALLER)) {
            s_assert_bytes (msg.caller, s_str ("alice"));
            assert_ptr_equal (msg.caller.data, wire.bytes + wire.at [CALLER] + 1);
        }
        else
            assert_int_equal (msg.caller.size, 0);
        const spec_kind_t *spec = s_spec_in (s_kinds [i].kind, s_versions [v]);
        bool has_corr = s_has (spec, CORR);
        assert_true (msg.corr == (has_corr ? 0x0102030405060708ull : 0));
        s_assert_bytes (msg.body, s_kinds [i].body
                                ? (flot_bytes_t) { s_body_bytes, 4 }
                                : (flot_bytes_t) { NULL, 0 });
        if (s_has (spec, TIMEOUT))
            assert_int_equal (msg.timeout_ms, 5000);
        if (s_has (spec, ROUTE))
            s_assert_bytes (msg.route, (flot_bytes_t) { s_route_bytes, 5 });
        //  The views point into the frame, not at copies.
        if (s_has (spec, SERVICE))
            assert_ptr_equal (msg.service.data, wire.bytes + wire.at [SERVICE] + 1);
        if (s_kinds [i].body)
            assert_ptr_equal (msg.body.data, wire.bytes + wire.header_size);
    }
}

//  Step 1: no frame at all.
static void
test_codec_rejects_no_frames (void **state)
{
    (void) state;
    wire_t wire;
    s_wire (&wire, FLOT_HEARTBEAT);
    s_assert_rejects (wire.frames, 0, FLOT_E_MALFORMED, "message has 0 frames, expected 1");
    s_assert_no_kind (wire.frames, 0);
}

//  Step 2: more than FLOT_MAX_FRAMES (one) frame, once the first frame's
//  signature is right.
static void
test_codec_rejects_more_than_one_frame_as_too_large (void **state)
{
    (void) state;
    assert_int_equal (FLOT_MAX_FRAMES, 1);
    for (size_t v = 0; v < VERSION_COUNT; v++)
    for (size_t i = 0; i < KIND_COUNT; i++) {
        wire_t wire;
        s_wire_in (&wire, s_kinds [i].kind, s_versions [v]);
        for (size_t extra = 1; extra <= 8; extra++) {
            for (size_t j = 0; j < extra; j++)
                wire.frames [1 + j] = (flot_bytes_t) { s_body_bytes, 4 };
            char needle [64];
            snprintf (needle, sizeof needle, "message has %zu frames, expected 1", 1 + extra);
            s_assert_rejects (wire.frames, 1 + extra, FLOT_E_TOO_LARGE, needle);
            s_assert_no_kind (wire.frames, 1 + extra);
        }
    }
    //  The signature is read first: a first frame that is no message at
    //  all is that, whatever follows it.
    wire_t wire;
    s_wire (&wire, FLOT_REQUEST);
    memcpy (wire.bytes, "NOPE02", 6);
    wire.frames [1] = wire.frames [0];
    s_assert_rejects (wire.frames, 2, FLOT_E_VERSION,
                      "message does not start with the protocol signature FLOT03");
    //  So a FLOT01 peer's message, a header frame and a body frame, hears
    //  which version to speak rather than that it has too many frames.
    static const uint8_t flot01 [] = {
        0x46, 0x4c, 0x4f, 0x54, 0x30, 0x31, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x2a };
    flot_bytes_t old [2] = { { flot01, sizeof flot01 }, { s_body_bytes, 4 } };
    s_assert_rejects (old, 2, FLOT_E_VERSION,
                      "protocol version 01 is not supported, this peer speaks 02, 03");
}

//  Step 1: a frame too short to hold the signature, even one that matches
//  it as far as it goes ("FLOT", "FLOT0"), is not a version.
static void
test_codec_rejects_frame_shorter_than_signature (void **state)
{
    (void) state;
    for (size_t size = 0; size < FLOT_SIGNATURE_SIZE; size++) {
        wire_t wire;
        s_wire (&wire, FLOT_REQUEST);
        s_truncate (&wire, size);
        s_assert_rejects (wire.frames, 1, FLOT_E_VERSION,
                          "message does not start with the protocol signature FLOT03");
        s_assert_no_kind (wire.frames, 1);
    }
    //  An empty frame with no data at all.
    flot_bytes_t empty [1] = { { NULL, 0 } };
    s_assert_rejects (empty, 1, FLOT_E_VERSION, "signature FLOT03");
}

static void
test_codec_rejects_wrong_signature (void **state)
{
    (void) state;
    const char *bad [] = { "ZMTP02", "flot02", "FLOX02", "FLO02T", "XXXX02", "\0LOT02",
                           "FLO\0" "02", "flot03", "FLOt03", "ZMTP03" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        for (size_t k = 0; k < KIND_COUNT; k++) {
            wire_t wire;
            s_wire (&wire, s_kinds [k].kind);
            memcpy (wire.bytes, bad [i], 6);
            s_assert_rejects (wire.frames, wire.count, FLOT_E_VERSION,
                              "message does not start with the protocol signature FLOT03");
            s_assert_no_kind (wire.frames, wire.count);
        }
    //  The signature is checked before the kind, the size, the fields and
    //  the body.
    wire_t wire;
    s_wire (&wire, FLOT_REQUEST);
    memcpy (wire.bytes, "NOPE02", 6);
    wire.bytes [6] = 0x77;
    s_assert_rejects (wire.frames, 1, FLOT_E_VERSION, "signature");
    s_truncate (&wire, 6);
    s_assert_rejects (wire.frames, 1, FLOT_E_VERSION, "signature");
    s_wire (&wire, FLOT_REQUEST);
    memcpy (wire.bytes, "NOPE02", 6);
    flot_bytes_t big = s_big_frame_of (&wire, s_filler_body (FLOT_MAX_BODY + 1, 0x90));
    s_assert_rejects (&big, 1, FLOT_E_VERSION, "signature");
}

//  Step 1: "FLOT" and two other characters is another version of the
//  protocol, named in the sentence with every version the codec speaks:
//  FLOT01 (before 02, the oldest) and FLOT04 (after 03, the newest) above
//  all. The message is exactly that sentence.
static void
test_codec_rejects_other_version (void **state)
{
    (void) state;
    const char *versions [] = {
        "FLOT01", "FLOT04", "FLOT00", "FLOT05", "FLOT99", "FLOT0a", "FLOT 3", "FLOT1\xff"
    };
    const char *sentences [] = {
        "protocol version 01 is not supported, this peer speaks 02, 03",
        "protocol version 04 is not supported, this peer speaks 02, 03",
        "protocol version 00 is not supported, this peer speaks 02, 03",
        "protocol version 05 is not supported, this peer speaks 02, 03",
        "protocol version 99 is not supported, this peer speaks 02, 03",
        "protocol version 0a is not supported, this peer speaks 02, 03",
        //  A space or a byte that is not text is shown in hex.
        "protocol version 0x2033 is not supported, this peer speaks 02, 03",
        "protocol version 0x31ff is not supported, this peer speaks 02, 03"
    };
    for (size_t i = 0; i < sizeof versions / sizeof versions [0]; i++)
        for (size_t v = 0; v < VERSION_COUNT; v++)
        for (size_t k = 0; k < KIND_COUNT; k++) {
            wire_t wire;
            s_wire_in (&wire, s_kinds [k].kind, s_versions [v]);
            memcpy (wire.bytes, versions [i], 6);
            flot_msg_t msg;
            flot_err_t err = { 0, "" };
            assert_int_equal (flot_msg_decode (&msg, wire.frames, wire.count, &err), -1);
            assert_int_equal (err.code, FLOT_E_VERSION);
            assert_string_equal (err.message, sentences [i]);
            s_assert_no_kind (wire.frames, wire.count);
            //  Before the kind byte is looked for.
            s_truncate (&wire, 6);
            s_assert_rejects (wire.frames, wire.count, FLOT_E_VERSION, sentences [i]);
        }
    //  A FLOT01 HEARTBEAT is one frame: its version is what is wrong.
    static const uint8_t heartbeat [] = { 0x46, 0x4c, 0x4f, 0x54, 0x30, 0x31, 0x20 };
    flot_bytes_t frame = { heartbeat, sizeof heartbeat };
    s_assert_rejects (&frame, 1, FLOT_E_VERSION,
                      "protocol version 01 is not supported, this peer speaks 02, 03");
    //  A FLOT04 DELIVER is not read as one of 03 with something more: the
    //  version is refused before anything after the signature is looked at.
    wire_t wire;
    s_wire_in (&wire, FLOT_DELIVER, 3);
    wire.bytes [5] = '4';
    s_assert_rejects (wire.frames, wire.count, FLOT_E_VERSION,
                      "protocol version 04 is not supported, this peer speaks 02, 03");
}

//  flot_msg_version: the version of a frame's signature if the codec speaks
//  it, else 0; it reads the signature only, whatever follows (or nothing).
static void
test_codec_msg_version_reads_the_signature (void **state)
{
    (void) state;
    static const struct {
        const char *bytes;
        size_t size;
        int version;
    } cases [] = {
        { "FLOT02", 6, 2 }, { "FLOT03", 6, 3 },
        { "FLOT02\x01", 7, 2 }, { "FLOT03\x11\x05", 8, 3 },
        { "FLOT03\xff\xff\xff", 9, 3 },      //  no message, but version 3
        { "FLOT01", 6, 0 }, { "FLOT04", 6, 0 }, { "FLOT00", 6, 0 }, { "FLOT99", 6, 0 },
        { "FLOT0a", 6, 0 }, { "FLOT 3", 6, 0 }, { "FLOT3\0", 6, 0 }, { "FLOT\x00\x03", 6, 0 },
        { "flot03", 6, 0 }, { "FLOX03", 6, 0 }, { "ZMTP03", 6, 0 },
        { "FLOT0", 5, 0 }, { "FLOT", 4, 0 }, { "", 0, 0 }
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        flot_bytes_t frame = { (const uint8_t *) cases [i].bytes, cases [i].size };
        if (flot_msg_version (frame) != cases [i].version)
            fail_msg ("case %zu: flot_msg_version gives %d, expected %d", i,
                      flot_msg_version (frame), cases [i].version);
    }
    assert_int_equal (flot_msg_version ((flot_bytes_t) { NULL, 0 }), 0);
    //  What the codec writes, it reads back.
    for (size_t v = 0; v < VERSION_COUNT; v++) {
        wire_t wire;
        s_wire_in (&wire, FLOT_REQUEST, s_versions [v]);
        assert_int_equal (flot_msg_version (wire.frames [0]), s_versions [v]);
    }
    flot_msg_t heartbeat = { .kind = FLOT_HEARTBEAT };
    uint8_t header [FLOT_MAX_HEADER];
    assert_int_equal (flot_msg_header (&heartbeat, header), 7);
    assert_int_equal (flot_msg_version ((flot_bytes_t) { header, 7 }), FLOT_VERSION);
}

//  The versions spoken: the signature's is the newest, and the sentence a
//  broker answers with names every version it speaks (SPEC 13).
static void
test_codec_names_the_versions_it_speaks (void **state)
{
    (void) state;
    assert_int_equal ((FLOT_SIGNATURE [4] - '0') * 10 + (FLOT_SIGNATURE [5] - '0'),
                      FLOT_VERSION);
    assert_true (FLOT_VERSION_OLDEST >= 1 && FLOT_VERSION_OLDEST <= FLOT_VERSION);
    assert_true (FLOT_VERSION - FLOT_VERSION_OLDEST < FLOT_MAX_VERSIONS);
    char text [64];
    assert_string_equal (flot_versions_text (text, sizeof text), "02, 03");
    static const uint8_t flot01 [] = { 'F', 'L', 'O', 'T', '0', '1', 0x10 };
    flot_err_t err;
    assert_int_equal (flot_msg_version_error ((flot_bytes_t) { flot01, sizeof flot01 },
                                              "this broker", &err), -1);
    assert_int_equal (err.code, FLOT_E_VERSION);
    assert_string_equal (err.message,
                         "protocol version 01 is not supported, this broker speaks 02, 03");
    static const uint8_t flot04 [] = { 'F', 'L', 'O', 'T', '0', '4' };
    flot_msg_version_error ((flot_bytes_t) { flot04, sizeof flot04 }, "this broker", &err);
    assert_string_equal (err.message,
                         "protocol version 04 is not supported, this broker speaks 02, 03");
    static const uint8_t other [] = { 'Z', 'M', 'T', 'P', '0', '1' };
    flot_msg_version_error ((flot_bytes_t) { other, sizeof other }, "this broker", &err);
    assert_string_equal (err.message,
                         "message does not start with the protocol signature FLOT03");
    //  A buffer too small for the list holds what fits, terminated.
    char small [4];
    flot_versions_text (small, sizeof small);
    assert_string_equal (small, "02,");
}

//  Step 3: the signature alone.
static void
test_codec_rejects_frame_ending_before_kind (void **state)
{
    (void) state;
    for (size_t v = 0; v < VERSION_COUNT; v++) {
        wire_t wire;
        s_wire_in (&wire, FLOT_REQUEST, s_versions [v]);
        s_truncate (&wire, FLOT_SIGNATURE_SIZE);
        s_assert_rejects (wire.frames, 1, FLOT_E_MALFORMED, "message ends before the kind byte");
        s_assert_no_kind (wire.frames, 1);
    }
}

//  Step 3: byte 6 is not a kind, whatever follows it.
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
        for (size_t v = 0; v < VERSION_COUNT; v++) {
            wire_t wire;
            s_wire_in (&wire, FLOT_REPLY, s_versions [v]);
            wire.bytes [6] = (uint8_t) byte;
            s_assert_rejects (wire.frames, 1, FLOT_E_MALFORMED, needle);
            s_assert_no_kind (wire.frames, 1);
            s_truncate (&wire, 7);
            s_assert_rejects (wire.frames, 1, FLOT_E_MALFORMED, needle);
            s_assert_no_kind (wire.frames, 1);
        }
    }
    assert_int_equal (tested, 256 - (int) KIND_COUNT);
}

//  Step 4: a frame that ends inside a header field. For each kind carrying
//  one of fields, cuts the frame (and so the body) at each offset from..to
//  of that field (relative to where it starts; to < 0 means up to its last
//  byte) and expects the message to give the frame's size and name the
//  field and where it starts.
static int
s_reject_cut (const field_t *fields, size_t field_count, size_t from, long to,
              const values_t *values)
{
    int cuts = 0;
    for (size_t i = 0; i < KIND_COUNT; i++) {
        const spec_kind_t *spec = s_spec_in (s_kinds [i].kind, values->version);
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
                          "%s: message is %zu bytes and ends inside the %s, "
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
test_codec_rejects_frame_ending_inside_corr (void **state)
{
    (void) state;
    for (size_t v = 0; v < VERSION_COUNT; v++) {
        values_t values;
        s_values (&values);
        values.version = s_versions [v];
        field_t corr [] = { CORR };
        //  Eight cuts (0..7 bytes of it) in each of the 11 kinds with a corr.
        assert_int_equal (s_reject_cut (corr, 1, 0, -1, &values), 8 * 11);
    }
}

static void
test_codec_rejects_frame_ending_inside_timeout (void **state)
{
    (void) state;
    for (size_t v = 0; v < VERSION_COUNT; v++) {
        values_t values;
        s_values (&values);
        values.version = s_versions [v];
        field_t timeout [] = { TIMEOUT };
        assert_int_equal (s_reject_cut (timeout, 1, 0, -1, &values), 4 * 2);
    }
}

static void
test_codec_rejects_frame_ending_at_a_length_byte (void **state)
{
    (void) state;
    for (size_t v = 0; v < VERSION_COUNT; v++) {
        values_t values;
        s_values (&values);
        values.version = s_versions [v];
        field_t strings [] = { ROUTE, SERVICE, KEY, COMMAND, CALLER };
        //  REQUEST 3, READY 1, DELIVER 3 (and its caller in 03), A_* and
        //  CANCEL 1 each.
        assert_int_equal (s_reject_cut (strings, 5, 0, 0, &values),
                          3 + 1 + 3 + 5 + (s_versions [v] >= 3));
        //  An empty key is its length byte alone; so is an empty caller.
        values.field [KEY] = (flot_bytes_t) { NULL, 0 };
        values.field [CALLER] = (flot_bytes_t) { NULL, 0 };
        field_t key [] = { KEY, CALLER };
        assert_int_equal (s_reject_cut (key, 2, 0, 0, &values), 2 + (s_versions [v] >= 3));
    }
}

static void
test_codec_rejects_frame_ending_inside_string_bytes (void **state)
{
    (void) state;
    for (size_t v = 0; v < VERSION_COUNT; v++) {
        values_t values;
        s_values (&values);
        values.version = s_versions [v];
        field_t strings [] = { ROUTE, SERVICE, KEY, COMMAND };
        assert_true (s_reject_cut (strings, 4, 1, -1, &values) > 0);
        //  A length byte that claims more than the whole frame holds.
        static uint8_t long_route [255];
        memset (long_route, 0x01, sizeof long_route);
        values.field [ROUTE] = (flot_bytes_t) { long_route, 255 };
        field_t route [] = { ROUTE };
        assert_int_equal (s_reject_cut (route, 1, 1, 1, &values), 6);
        assert_int_equal (s_reject_cut (route, 1, 255, 255, &values), 6);
    }
}

//  Step 4, in version 03: a DELIVER that ends inside its caller, the last
//  field of its header, at its length byte or inside its bytes; or whose
//  caller's length claims more than the frame holds.
static void
test_codec_rejects_frame_ending_inside_caller (void **state)
{
    (void) state;
    values_t values;
    s_values (&values);
    values.version = 3;
    field_t caller [] = { CALLER };
    //  "alice": its length byte and 5 bytes, in DELIVER only.
    assert_int_equal (s_reject_cut (caller, 1, 0, -1, &values), 6);
    static uint8_t long_caller [255];
    memset (long_caller, 'c', sizeof long_caller);
    values.field [CALLER] = (flot_bytes_t) { long_caller, 255 };
    assert_int_equal (s_reject_cut (caller, 1, 0, -1, &values), 256);
    //  No cut in version 02, which has no caller.
    values.version = 2;
    assert_int_equal (s_reject_cut (caller, 1, 0, -1, &values), 0);

    //  The caller's length byte says 255 and the body follows 5 bytes in.
    wire_t wire;
    s_wire_in (&wire, FLOT_DELIVER, 3);
    size_t at = wire.at [CALLER];
    wire.bytes [at] = 0xff;
    char needle [128];
    snprintf (needle, sizeof needle,
              "DELIVER: message is %zu bytes and ends inside the caller, which starts at byte %zu",
              wire.size, at);
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, needle);
    //  The frame ends right after the caller: the body is missing.
    s_wire_in (&wire, FLOT_DELIVER, 3);
    s_truncate (&wire, wire.header_size);
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, "DELIVER: the body is missing");
    //  A DELIVER of 03 labelled 02: the caller's length byte, 0x05, is then
    //  where the body starts, and no map.
    s_wire_in (&wire, FLOT_DELIVER, 3);
    wire.bytes [5] = '2';
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED,
                      "DELIVER: body must be a msgpack map");
}

//  In version: every string field's length byte claiming one byte more
//  than the rest of the frame; each string that swallows the rest exactly;
//  a route that does.
static void
s_fields_run_into_the_body (int version)
{
    int tested = 0;
    for (size_t i = 0; i < KIND_COUNT; i++) {
        const spec_kind_t *spec = s_spec_in (s_kinds [i].kind, version);
        for (int f = 0; f < spec->count; f++) {
            field_t field = spec->fields [f];
            if (s_number_size [field])
                continue;
            wire_t wire;
            s_wire_in (&wire, spec->kind, version);
            size_t at = wire.at [field];
            size_t left = wire.size - at - 1;
            assert_true (left < 255);
            wire.bytes [at] = (uint8_t) (left + 1);
            char needle [128];
            snprintf (needle, sizeof needle,
                      "%s: message is %zu bytes and ends inside the %s, which starts at byte %zu",
                      spec->name, wire.size, s_field_names [field], at);
            s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, needle);
            tested++;
        }
    }
    //  The string fields of every kind; 03 adds DELIVER's caller.
    assert_int_equal (tested, version >= 3 ? 13 : 12);

    //  A string that takes everything to the end of the frame.
    struct {
        int kind;
        field_t field;
        const char *needle;
    } swallows [] = {
        { FLOT_READY,   SERVICE, "READY: service name must be 1..64 of [A-Za-z0-9._-]" },
        { FLOT_REQUEST, SERVICE, "REQUEST: service name must be" },
        { FLOT_REQUEST, KEY,     "REQUEST: key must be 0..255 printable ASCII bytes" },
        { FLOT_REQUEST, COMMAND, "REQUEST: command name must be 1..64 of [A-Za-z0-9._-]" },
        { FLOT_DELIVER, KEY,     "DELIVER: key must be" },
        { FLOT_DELIVER, COMMAND, "DELIVER: command name must be" },
        //  The body's 0x81 is not printable: no caller.
        { FLOT_DELIVER, CALLER,  "DELIVER: caller must be 0..255 printable ASCII bytes" },
    };
    for (size_t s = 0; s < sizeof swallows / sizeof swallows [0]; s++) {
        if (!s_has (s_spec_in (swallows [s].kind, version), swallows [s].field))
            continue;
        wire_t wire;
        s_wire_in (&wire, swallows [s].kind, version);
        size_t at = wire.at [swallows [s].field];
        wire.bytes [at] = (uint8_t) (wire.size - at - 1);
        s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, swallows [s].needle);
    }
    //  A route may hold any bytes, so the corr after it is what is missing.
    int route_kinds [] = { FLOT_DELIVER, FLOT_A_REPLY, FLOT_A_ERROR, FLOT_A_STREAM,
                           FLOT_A_STREAM_END, FLOT_CANCEL };
    for (size_t k = 0; k < sizeof route_kinds / sizeof route_kinds [0]; k++) {
        wire_t wire;
        s_wire_in (&wire, route_kinds [k], version);
        wire.bytes [wire.at [ROUTE]] = (uint8_t) (wire.size - wire.at [ROUTE] - 1);
        char needle [128];
        snprintf (needle, sizeof needle,
                  "%s: message is %zu bytes and ends inside the correlation id, "
                  "which starts at byte %zu",
                  s_spec (route_kinds [k])->name, wire.size, wire.size);
        s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, needle);
    }
}

//  Step 4: header and body share the frame, so a field that runs past the
//  header reads into the body. A length byte claiming more than the rest of
//  the frame ends inside its field, the whole frame's size named; one that
//  swallows the body exactly leaves a field that breaks its rules or a
//  next field cut short; a number cut short takes the body's first bytes
//  and leaves too little, or no map, for a body. None of them passes.
static void
test_codec_rejects_field_running_into_the_body (void **state)
{
    (void) state;
    for (size_t v = 0; v < VERSION_COUNT; v++)
        s_fields_run_into_the_body (s_versions [v]);

    //  A REPLY's corr cut to k bytes, its body {"a": 1} right after.
    for (size_t k = 0; k < 8; k++) {
        wire_t wire;
        s_wire (&wire, FLOT_REPLY);
        s_truncate (&wire, 7 + k);
        s_append (&wire, s_body_bytes, 4);
        char needle [128];
        if (k < 4)
            snprintf (needle, sizeof needle,
                      "REPLY: message is %zu bytes and ends inside the correlation id, "
                      "which starts at byte 7", 7 + k + 4);
        else
        if (k == 4)
            snprintf (needle, sizeof needle, "REPLY: the body is missing");
        else
            snprintf (needle, sizeof needle, "REPLY: body must be a msgpack map");
        s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, needle);
    }
    //  A DELIVER's timeout cut to 3 bytes: it takes the body's 0x81 (4993
    //  ms), and the command's length byte is then 0xa1, 161 bytes. So in
    //  either version: what follows the command is never reached.
    for (size_t v = 0; v < VERSION_COUNT; v++) {
        wire_t wire;
        s_wire_in (&wire, FLOT_DELIVER, s_versions [v]);
        size_t timeout_at = wire.at [TIMEOUT];
        s_truncate (&wire, timeout_at + 3);
        s_append (&wire, s_body_bytes, 4);
        char needle [128];
        snprintf (needle, sizeof needle,
                  "DELIVER: message is %zu bytes and ends inside the command, "
                  "which starts at byte %zu", timeout_at + 7, timeout_at + 4);
        s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, needle);
        //  Cut to none of it: the body is the timeout, 0x81a16101 ms.
        s_truncate (&wire, timeout_at);
        s_append (&wire, s_body_bytes, 4);
        s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED,
                          "DELIVER: timeout 2174836993 ms is over the limit of 86400000 ms");
    }
}

//  Step 5: HEARTBEAT has no body; nothing may follow its header, not even
//  a map, and not even past the body limit (its tail is not a body).
static void
test_codec_rejects_heartbeat_with_bytes_after_header (void **state)
{
    (void) state;
    static uint8_t tail [FLOT_MAX_HEADER];
    memset (tail, 0, sizeof tail);
    size_t extras [] = { 1, 2, 8, 100, FLOT_MAX_HEADER };
    for (size_t e = 0; e < sizeof extras / sizeof extras [0]; e++) {
        wire_t wire;
        s_wire (&wire, FLOT_HEARTBEAT);
        s_append (&wire, tail, extras [e]);
        char needle [96];
        snprintf (needle, sizeof needle,
                  "HEARTBEAT: %zu byte%s after the header, which has no body", extras [e],
                  extras [e] == 1 ? "" : "s");
        s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, needle);
    }
    wire_t wire;
    s_wire (&wire, FLOT_HEARTBEAT);
    s_append (&wire, s_empty_map, 1);
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED,
                      "HEARTBEAT: 1 byte after the header");
    s_set_body (&wire, (flot_bytes_t) { s_body_bytes, 4 });
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED,
                      "HEARTBEAT: 4 bytes after the header");
    flot_bytes_t big = s_big_frame (FLOT_HEARTBEAT, s_filler_body (FLOT_MAX_BODY + 1, 0x80));
    s_assert_rejects (&big, 1, FLOT_E_MALFORMED, "HEARTBEAT: 1048577 bytes after the header");
}

//  For each kind carrying field, in each version, writes each of bad in it
//  and expects code and a message naming needle (%s: the kind).
static void
s_reject_field (field_t field, const flot_bytes_t *bad, size_t bad_count,
                int code, const char *needle)
{
    int kinds_tested = 0;
    for (size_t v = 0; v < VERSION_COUNT; v++)
    for (size_t i = 0; i < KIND_COUNT; i++) {
        if (!s_has (s_spec_in (s_kinds [i].kind, s_versions [v]), field))
            continue;
        kinds_tested++;
        for (size_t j = 0; j < bad_count; j++) {
            wire_t wire;
            s_wire_with_in (&wire, s_kinds [i].kind, s_versions [v], field, bad [j]);
            char text [128];
            snprintf (text, sizeof text, needle, s_kinds [i].name);
            s_assert_rejects (wire.frames, wire.count, code, text);
        }
    }
    assert_true (kinds_tested > 0);
}

//  For each kind carrying field, in each version, accepts each of good in
//  it, and decodes it.
static void
s_accept_field (field_t field, const flot_bytes_t *good, size_t good_count)
{
    for (size_t v = 0; v < VERSION_COUNT; v++)
    for (size_t i = 0; i < KIND_COUNT; i++) {
        if (!s_has (s_spec_in (s_kinds [i].kind, s_versions [v]), field))
            continue;
        for (size_t j = 0; j < good_count; j++) {
            wire_t wire;
            s_wire_with_in (&wire, s_kinds [i].kind, s_versions [v], field, good [j]);
            flot_msg_t msg;
            s_assert_accepts (wire.frames, wire.count, &msg);
            switch (field) {
                case ROUTE:   s_assert_bytes (msg.route, good [j]); break;
                case SERVICE: s_assert_bytes (msg.service, good [j]); break;
                case KEY:     s_assert_bytes (msg.key, good [j]); break;
                case COMMAND: s_assert_bytes (msg.command, good [j]); break;
                case CALLER:  s_assert_bytes (msg.caller, good [j]); break;
                default:      break;
            }
            //  And the body after it is found where it starts.
            s_assert_bytes (msg.body, (flot_bytes_t) { s_body_bytes, 4 });
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
        if (!s_has (s_spec (s_kinds [i].kind), CORR))
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

//  The caller, in DELIVER of 03, follows the key's rule: 0..255 printable
//  ASCII bytes, no space; empty is a caller without a key.
static void
test_codec_rejects_bad_caller (void **state)
{
    (void) state;
    static uint8_t max_caller [255], printable [94];
    memset (max_caller, 'c', sizeof max_caller);
    for (int i = 0; i < 94; i++)
        printable [i] = (uint8_t) (0x21 + i);
    static const uint8_t space [] = { 'a', 'l', ' ', 'i' };
    static const uint8_t del [] = { 'a', 0x7f };
    static const uint8_t nul [] = { 0x00 };
    static const uint8_t newline [] = { 'b', 'o', 'b', '\n' };
    static const uint8_t escape [] = { 0x1b, '[', '2', 'J' };
    static const uint8_t high [] = { 0xff };
    static const uint8_t utf8 [] = { 'z', 0xc3, 0xa9 };
    flot_bytes_t bad [] = {
        { space, sizeof space }, { del, sizeof del }, { nul, 1 }, { newline, sizeof newline },
        { escape, sizeof escape }, { high, 1 }, { utf8, sizeof utf8 }
    };
    s_reject_field (CALLER, bad, sizeof bad / sizeof bad [0], FLOT_E_MALFORMED,
                    "%s: caller must be 0..255 printable ASCII bytes");
    //  A space at the end of a caller of the longest length.
    static uint8_t long_bad [255];
    memset (long_bad, 'c', sizeof long_bad);
    long_bad [254] = ' ';
    flot_bytes_t last [] = { { long_bad, 255 } };
    s_reject_field (CALLER, last, 1, FLOT_E_MALFORMED, "%s: caller must be");
    flot_bytes_t good [] = {
        { max_caller, 255 }, { printable, 94 }, { NULL, 0 }, s_str ("alice"),
        s_str ("exec-eu.1@host~7")
    };
    s_accept_field (CALLER, good, sizeof good / sizeof good [0]);
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

//  For each kind with a body, puts each of bad after the header, to the end
//  of the frame; needle's %s is the kind, its %zu the body's size.
static void
s_reject_body (const flot_bytes_t *bad, size_t bad_count, int code, const char *needle)
{
    int tested = 0;
    for (size_t i = 0; i < KIND_COUNT; i++) {
        if (!s_kinds [i].body)
            continue;
        tested++;
        for (size_t j = 0; j < bad_count; j++) {
            flot_bytes_t frame = s_big_frame (s_kinds [i].kind, bad [j]);
            char text [128];
            snprintf (text, sizeof text, needle, s_kinds [i].name, bad [j].size);
            s_assert_rejects (&frame, 1, code, text);
        }
    }
    assert_int_equal (tested, KIND_COUNT - 1);
}

//  For each kind with a body, accepts each of good as the rest of the frame,
//  decoded as a view of it.
static void
s_accept_body (const flot_bytes_t *good, size_t good_count)
{
    for (size_t i = 0; i < KIND_COUNT; i++) {
        if (!s_kinds [i].body)
            continue;
        for (size_t j = 0; j < good_count; j++) {
            flot_bytes_t frame = s_big_frame (s_kinds [i].kind, good [j]);
            flot_msg_t msg;
            s_assert_accepts (&frame, 1, &msg);
            s_assert_bytes (msg.body, good [j]);
            assert_ptr_equal (msg.body.data, frame.data + frame.size - good [j].size);
        }
    }
}

//  Step 6: a kind with a body, and the frame ends with its header.
static void
test_codec_rejects_missing_body (void **state)
{
    (void) state;
    int tested = 0;
    for (size_t i = 0; i < KIND_COUNT; i++) {
        if (!s_kinds [i].body)
            continue;
        wire_t wire;
        s_wire (&wire, s_kinds [i].kind);
        s_truncate (&wire, wire.header_size);
        char needle [64];
        snprintf (needle, sizeof needle, "%s: the body is missing", s_kinds [i].name);
        s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, needle);
        tested++;
    }
    assert_int_equal (tested, 13);
    flot_bytes_t bad [] = { { s_body_bytes, 0 }, { NULL, 0 } };
    s_reject_body (bad, 2, FLOT_E_MALFORMED, "%s: the body is missing");
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
    //  fixmap (0x80..0x8f), map16, map32 are maps.
    static const uint8_t fixmap [] = { 0x80 };
    static const uint8_t fixmap15 [] = { 0x8f };
    static const uint8_t map16 [] = { 0xde, 0x00, 0x00 };
    static const uint8_t map32 [] = { 0xdf, 0x00, 0x00, 0x00, 0x00 };
    flot_bytes_t good [] = { { fixmap, 1 }, { fixmap15, 1 }, { map16, 3 }, { map32, 5 } };
    s_accept_body (good, 4);
}

//  Step 6: the body is the rest of the frame, whatever follows its first
//  byte; the envelope bounds it and checks that it starts as a map, and
//  leaves the rest to flotilla/body.h. No limit applies to the frame but
//  the body's: bodies far longer than FLOT_MAX_HEADER pass.
static void
test_codec_body_is_the_rest_of_the_frame (void **state)
{
    (void) state;
    for (size_t i = 0; i < KIND_COUNT; i++) {
        if (!s_kinds [i].body)
            continue;
        wire_t wire;
        s_wire (&wire, s_kinds [i].kind);
        s_append (&wire, "\x00\xc1tail", 6);
        flot_msg_t msg;
        s_assert_accepts (wire.frames, wire.count, &msg);
        assert_ptr_equal (msg.body.data, wire.bytes + wire.header_size);
        assert_int_equal (msg.body.size, 4 + 6);
        assert_memory_equal (msg.body.data + 4, "\x00\xc1tail", 6);
    }
    flot_bytes_t good [] = {
        s_filler_body (FLOT_MAX_HEADER + 1, 0x81),
    };
    s_accept_body (good, 1);
    good [0] = s_filler_body (4 * FLOT_MAX_HEADER, 0xde);
    s_accept_body (good, 1);
}

//  Step 6: a body over FLOT_MAX_BODY, inside the one frame, is TOO_LARGE.
static void
test_codec_rejects_body_over_max_as_too_large (void **state)
{
    (void) state;
    flot_bytes_t bad [] = { s_filler_body (FLOT_MAX_BODY + 1, 0x80) };
    s_reject_body (bad, 1, FLOT_E_TOO_LARGE, "%s: body is %zu bytes, the limit is 1048576");
    bad [0] = s_filler_body (FLOT_MAX_BODY + 16, 0x80);
    s_reject_body (bad, 1, FLOT_E_TOO_LARGE, "%s: body is %zu bytes, the limit is 1048576");
    //  Even when it does not start as a map: the size is checked first.
    bad [0] = s_filler_body (FLOT_MAX_BODY + 1, 0x90);
    s_reject_body (bad, 1, FLOT_E_TOO_LARGE, "%s: body is %zu bytes");
    //  Exactly the limit passes the envelope (the body is checked later).
    flot_bytes_t good [] = { s_filler_body (FLOT_MAX_BODY, 0x80) };
    s_accept_body (good, 1);
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
    //  A bad field, and no body after it: the field.
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, "REQUEST: command name");
    //  A bad field, and a body not a map, or over the limit: the field.
    s_set_body (&wire, (flot_bytes_t) { (const uint8_t *) "\x90", 1 });
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, "REQUEST: command name");
    flot_bytes_t big = s_big_frame_of (&wire, s_filler_body (FLOT_MAX_BODY + 1, 0x80));
    s_assert_rejects (&big, 1, FLOT_E_MALFORMED, "REQUEST: command name");
    //  A good header: then the body, its size before its first byte.
    values.field [COMMAND] = s_str ("Echo");
    s_wire_of (&wire, FLOT_REQUEST, &values);
    big = s_big_frame_of (&wire, s_filler_body (FLOT_MAX_BODY + 1, 0x90));
    s_assert_rejects (&big, 1, FLOT_E_TOO_LARGE, "REQUEST: body is 1048577 bytes");
    s_set_body (&wire, (flot_bytes_t) { (const uint8_t *) "\x90", 1 });
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, "REQUEST: body must be");

    //  A DELIVER of 03 with a bad command and a bad caller: the command,
    //  which comes first; with a good command, the caller.
    s_values (&values);
    values.version = 3;
    values.field [COMMAND] = s_str ("bad command");
    values.field [CALLER] = s_str ("bad caller");
    s_wire_of (&wire, FLOT_DELIVER, &values);
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, "DELIVER: command name");
    values.field [COMMAND] = s_str ("Echo");
    s_wire_of (&wire, FLOT_DELIVER, &values);
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED, "DELIVER: caller must be");
    //  The same bytes labelled 02 have no caller: "bad caller" is read as
    //  the body, which is not a map (0x0a, its length, first).
    wire.bytes [5] = '2';
    s_assert_rejects (wire.frames, wire.count, FLOT_E_MALFORMED,
                      "DELIVER: body must be a msgpack map");
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
        cmocka_unit_test (test_codec_encodes_spec_deliver_03_example),
        cmocka_unit_test (test_codec_deliver_02_carries_no_caller),
        cmocka_unit_test (test_codec_frames_empty_body_as_empty_map),
        cmocka_unit_test (test_codec_header_refuses_unknown_kind),
        cmocka_unit_test (test_codec_header_refuses_unspoken_version),
        cmocka_unit_test (test_codec_encodes_version_0_as_the_newest),
        cmocka_unit_test (test_codec_header_refuses_over_long_fields),
        cmocka_unit_test (test_codec_numbers_are_big_endian),
        cmocka_unit_test (test_codec_names_every_kind),
        cmocka_unit_test (test_codec_round_trips_over_dealer_router),
        cmocka_unit_test (test_codec_round_trips_every_kind_over_pair),
        cmocka_unit_test (test_codec_largest_message_crosses_tcp_within_max_message),
        cmocka_unit_test (test_codec_recv_keeps_at_most_max_frames),
        cmocka_unit_test (test_codec_recv_soon_does_not_wait),
        cmocka_unit_test (test_codec_accepts_hand_made_message_of_every_kind),
        cmocka_unit_test (test_codec_rejects_no_frames),
        cmocka_unit_test (test_codec_rejects_more_than_one_frame_as_too_large),
        cmocka_unit_test (test_codec_rejects_frame_shorter_than_signature),
        cmocka_unit_test (test_codec_rejects_wrong_signature),
        cmocka_unit_test (test_codec_rejects_other_version),
        cmocka_unit_test (test_codec_msg_version_reads_the_signature),
        cmocka_unit_test (test_codec_names_the_versions_it_speaks),
        cmocka_unit_test (test_codec_rejects_frame_ending_before_kind),
        cmocka_unit_test (test_codec_rejects_unknown_kind),
        cmocka_unit_test (test_codec_rejects_frame_ending_inside_corr),
        cmocka_unit_test (test_codec_rejects_frame_ending_inside_timeout),
        cmocka_unit_test (test_codec_rejects_frame_ending_at_a_length_byte),
        cmocka_unit_test (test_codec_rejects_frame_ending_inside_string_bytes),
        cmocka_unit_test (test_codec_rejects_frame_ending_inside_caller),
        cmocka_unit_test (test_codec_rejects_field_running_into_the_body),
        cmocka_unit_test (test_codec_rejects_heartbeat_with_bytes_after_header),
        cmocka_unit_test (test_codec_decodes_any_corr_value),
        cmocka_unit_test (test_codec_rejects_timeout_over_the_max),
        cmocka_unit_test (test_codec_rejects_bad_service),
        cmocka_unit_test (test_codec_rejects_bad_command),
        cmocka_unit_test (test_codec_name_valid_matches_the_alphabet),
        cmocka_unit_test (test_codec_rejects_bad_key),
        cmocka_unit_test (test_codec_rejects_bad_caller),
        cmocka_unit_test (test_codec_rejects_empty_route),
        cmocka_unit_test (test_codec_rejects_missing_body),
        cmocka_unit_test (test_codec_rejects_body_not_a_map),
        cmocka_unit_test (test_codec_body_is_the_rest_of_the_frame),
        cmocka_unit_test (test_codec_rejects_body_over_max_as_too_large),
        cmocka_unit_test (test_codec_reports_the_first_bad_field),
        cmocka_unit_test (test_codec_names_every_error_code),
        cmocka_unit_test (test_codec_err_set_returns_minus_one_and_bounds_the_sentence),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
