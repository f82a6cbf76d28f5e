/*  flot_msg.c - the FLOT01 envelope codec.

    Turns a list of frames into a validated view of one message, and a view
    back into frames on a socket. The broker, every actor and every client use
    it; it owns nothing and copies nothing. Frames come from the network, so
    each one is checked before it is looked at: the signature, the kind, the
    frame count for that kind, and every field's size and alphabet.
*/
#include "flotilla/protocol.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

int
flot_err_set (flot_err_t *err, int code, const char *format, ...)
{
    if (err) {
        err->code = code;
        va_list args;
        va_start (args, format);
        vsnprintf (err->message, sizeof err->message, format, args);
        va_end (args);
    }
    return -1;
}

static const char *s_err_names [] = {
    "OK", "MALFORMED", "VERSION", "TOO_LARGE", "UNKNOWN_SERVICE",
    "NO_INSTANCE", "DEADLINE", "ACTOR_FAILED", "NOT_AUTHORIZED",
    "UNKNOWN_COMMAND", "INVALID", "NOT_FOUND", "CONFLICT", "BUSY",
    "INTERNAL", "CANCELLED"
};

const char *
flot_err_name (int code)
{
    if (code < 0 || code > FLOT_E_MAX)
        return "UNKNOWN";
    return s_err_names [code];
}

//  The frame layout of each kind: which fields follow the signature and kind.
typedef enum {
    F_ROUTE, F_CORR, F_SERVICE, F_KEY, F_TIMEOUT, F_COMMAND, F_BODY
} field_t;

typedef struct {
    int kind;
    const char *name;
    int count;              //  fields after signature and kind
    field_t fields [6];
} layout_t;

static const layout_t s_layouts [] = {
    { FLOT_REQUEST,      "REQUEST",     6, { F_CORR, F_SERVICE, F_KEY, F_TIMEOUT, F_COMMAND, F_BODY } },
    { FLOT_REPLY,        "REPLY",       2, { F_CORR, F_BODY } },
    { FLOT_ERROR,        "ERROR",       2, { F_CORR, F_BODY } },
    { FLOT_STREAM,       "STREAM",      2, { F_CORR, F_BODY } },
    { FLOT_STREAM_END,   "STREAM_END",  2, { F_CORR, F_BODY } },
    { FLOT_READY,        "READY",       2, { F_SERVICE, F_BODY } },
    { FLOT_DELIVER,      "DELIVER",     6, { F_ROUTE, F_CORR, F_KEY, F_TIMEOUT, F_COMMAND, F_BODY } },
    { FLOT_A_REPLY,      "A_REPLY",     3, { F_ROUTE, F_CORR, F_BODY } },
    { FLOT_A_ERROR,      "A_ERROR",     3, { F_ROUTE, F_CORR, F_BODY } },
    { FLOT_A_STREAM,     "A_STREAM",    3, { F_ROUTE, F_CORR, F_BODY } },
    { FLOT_A_STREAM_END, "A_STREAM_END",3, { F_ROUTE, F_CORR, F_BODY } },
    { FLOT_CANCEL,       "CANCEL",      3, { F_ROUTE, F_CORR, F_BODY } },
    { FLOT_HEARTBEAT,    "HEARTBEAT",   0, { F_BODY } },
    { FLOT_DISCONNECT,   "DISCONNECT",  1, { F_BODY } },
};

static const layout_t *
s_layout (int kind)
{
    for (size_t i = 0; i < sizeof s_layouts / sizeof s_layouts [0]; i++)
        if (s_layouts [i].kind == kind)
            return &s_layouts [i];
    return NULL;
}

const char *
flot_kind_name (int kind)
{
    const layout_t *layout = s_layout (kind);
    return layout ? layout->name : NULL;
}

void
flot_put_u64 (uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p [i] = (uint8_t) (v & 0xff);
        v >>= 8;
    }
}

uint64_t
flot_get_u64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p [i];
    return v;
}

void
flot_put_u32 (uint8_t *p, uint32_t v)
{
    p [0] = (uint8_t) (v >> 24);
    p [1] = (uint8_t) (v >> 16);
    p [2] = (uint8_t) (v >> 8);
    p [3] = (uint8_t) v;
}

uint32_t
flot_get_u32 (const uint8_t *p)
{
    return ((uint32_t) p [0] << 24) | ((uint32_t) p [1] << 16)
         | ((uint32_t) p [2] << 8) | (uint32_t) p [3];
}

bool
flot_name_valid (flot_bytes_t name)
{
    if (name.size == 0 || name.size > FLOT_MAX_NAME)
        return false;
    for (size_t i = 0; i < name.size; i++) {
        uint8_t c = name.data [i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
               || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static bool
s_key_valid (flot_bytes_t key)
{
    if (key.size > FLOT_MAX_KEY)
        return false;
    for (size_t i = 0; i < key.size; i++)
        if (key.data [i] < 0x21 || key.data [i] > 0x7e)
            return false;
    return true;
}

//  Checks one field's frame and stores it in msg.
static int
s_decode_field (flot_msg_t *msg, field_t field, flot_bytes_t frame,
                const char *kind, flot_err_t *err)
{
    switch (field) {
        case F_ROUTE:
            if (frame.size == 0 || frame.size > FLOT_MAX_ROUTE)
                return flot_err_set (err, FLOT_E_MALFORMED,
                    "%s: route frame is %zu bytes, expected 1..%d",
                    kind, frame.size, FLOT_MAX_ROUTE);
            msg->route = frame;
            return 0;
        case F_CORR:
            if (frame.size != 8)
                return flot_err_set (err, FLOT_E_MALFORMED,
                    "%s: correlation frame is %zu bytes, expected 8",
                    kind, frame.size);
            msg->corr = flot_get_u64 (frame.data);
            return 0;
        case F_SERVICE:
            if (!flot_name_valid (frame))
                return flot_err_set (err, FLOT_E_MALFORMED,
                    "%s: service name must be 1..%d of [A-Za-z0-9._-]",
                    kind, FLOT_MAX_NAME);
            msg->service = frame;
            return 0;
        case F_KEY:
            if (!s_key_valid (frame))
                return flot_err_set (err, FLOT_E_MALFORMED,
                    "%s: key must be 0..%d printable ASCII bytes",
                    kind, FLOT_MAX_KEY);
            msg->key = frame;
            return 0;
        case F_TIMEOUT:
            if (frame.size != 4)
                return flot_err_set (err, FLOT_E_MALFORMED,
                    "%s: timeout frame is %zu bytes, expected 4",
                    kind, frame.size);
            msg->timeout_ms = flot_get_u32 (frame.data);
            if (msg->timeout_ms > FLOT_MAX_TIMEOUT_MS)
                return flot_err_set (err, FLOT_E_MALFORMED,
                    "%s: timeout %u ms is over the limit of %u ms",
                    kind, msg->timeout_ms, FLOT_MAX_TIMEOUT_MS);
            return 0;
        case F_COMMAND:
            if (!flot_name_valid (frame))
                return flot_err_set (err, FLOT_E_MALFORMED,
                    "%s: command name must be 1..%d of [A-Za-z0-9._-]",
                    kind, FLOT_MAX_NAME);
            msg->command = frame;
            return 0;
        case F_BODY:
            if (frame.size > FLOT_MAX_BODY)
                return flot_err_set (err, FLOT_E_TOO_LARGE,
                    "%s: body is %zu bytes, the limit is %d",
                    kind, frame.size, FLOT_MAX_BODY);
            //  A body is one msgpack map: fixmap, map16 or map32.
            if (frame.size == 0
            || !((frame.data [0] & 0xf0) == 0x80
              || frame.data [0] == 0xde || frame.data [0] == 0xdf))
                return flot_err_set (err, FLOT_E_MALFORMED,
                    "%s: body must be a msgpack map", kind);
            msg->body = frame;
            return 0;
    }
    return flot_err_set (err, FLOT_E_INTERNAL, "unknown field");
}

int
flot_msg_decode (flot_msg_t *msg, const flot_bytes_t *frames, size_t count,
                 flot_err_t *err)
{
    memset (msg, 0, sizeof *msg);
    msg->kind = -1;
    if (count < 2)
        return flot_err_set (err, FLOT_E_MALFORMED,
            "message has %zu frames, expected at least 2", count);
    if (frames [0].size != FLOT_SIGNATURE_SIZE
    ||  memcmp (frames [0].data, FLOT_SIGNATURE, FLOT_SIGNATURE_SIZE) != 0) {
        if (frames [0].size == FLOT_SIGNATURE_SIZE
        &&  memcmp (frames [0].data, FLOT_SIGNATURE, 4) == 0)
            return flot_err_set (err, FLOT_E_VERSION,
                "protocol version %.2s is not supported, expected %s",
                (const char *) frames [0].data + 4, FLOT_SIGNATURE);
        return flot_err_set (err, FLOT_E_VERSION,
            "first frame is not the protocol signature %s", FLOT_SIGNATURE);
    }
    if (frames [1].size != 1)
        return flot_err_set (err, FLOT_E_MALFORMED,
            "kind frame is %zu bytes, expected 1", frames [1].size);
    const layout_t *layout = s_layout (frames [1].data [0]);
    if (!layout)
        return flot_err_set (err, FLOT_E_MALFORMED,
            "unknown message kind 0x%02x", frames [1].data [0]);
    msg->kind = layout->kind;
    if (count != (size_t) layout->count + 2)
        return flot_err_set (err, FLOT_E_MALFORMED,
            "%s has %zu frames, expected %d",
            layout->name, count, layout->count + 2);
    for (int i = 0; i < layout->count; i++)
        if (s_decode_field (msg, layout->fields [i], frames [i + 2],
                            layout->name, err))
            return -1;
    return 0;
}

int
flot_msg_frames (const flot_msg_t *msg, flot_bytes_t *frames, uint8_t *scratch)
{
    const layout_t *layout = s_layout (msg->kind);
    if (!layout)
        return -1;
    static const uint8_t kinds [256] = {
        [FLOT_REQUEST] = FLOT_REQUEST, [FLOT_REPLY] = FLOT_REPLY,
        [FLOT_ERROR] = FLOT_ERROR, [FLOT_STREAM] = FLOT_STREAM,
        [FLOT_STREAM_END] = FLOT_STREAM_END, [FLOT_READY] = FLOT_READY,
        [FLOT_DELIVER] = FLOT_DELIVER, [FLOT_A_REPLY] = FLOT_A_REPLY,
        [FLOT_A_ERROR] = FLOT_A_ERROR, [FLOT_A_STREAM] = FLOT_A_STREAM,
        [FLOT_A_STREAM_END] = FLOT_A_STREAM_END, [FLOT_CANCEL] = FLOT_CANCEL,
        [FLOT_HEARTBEAT] = FLOT_HEARTBEAT, [FLOT_DISCONNECT] = FLOT_DISCONNECT
    };
    static const uint8_t empty_map [1] = { 0x80 };
    frames [0] = (flot_bytes_t) { (const uint8_t *) FLOT_SIGNATURE, FLOT_SIGNATURE_SIZE };
    frames [1] = (flot_bytes_t) { &kinds [msg->kind], 1 };
    for (int i = 0; i < layout->count; i++) {
        flot_bytes_t *frame = &frames [i + 2];
        switch (layout->fields [i]) {
            case F_ROUTE:   *frame = msg->route; break;
            case F_SERVICE: *frame = msg->service; break;
            case F_KEY:     *frame = msg->key; break;
            case F_COMMAND: *frame = msg->command; break;
            case F_CORR:
                flot_put_u64 (scratch, msg->corr);
                *frame = (flot_bytes_t) { scratch, 8 };
                break;
            case F_TIMEOUT:
                flot_put_u32 (scratch + 8, msg->timeout_ms);
                *frame = (flot_bytes_t) { scratch + 8, 4 };
                break;
            case F_BODY:
                *frame = msg->body.size ? msg->body
                       : (flot_bytes_t) { empty_map, 1 };
                break;
        }
    }
    return layout->count + 2;
}

int
flot_msg_send (const flot_msg_t *msg, void *socket, const flot_bytes_t *to,
               bool dontwait)
{
    flot_bytes_t frames [FLOT_MAX_FRAMES];
    uint8_t scratch [16];
    int count = flot_msg_frames (msg, frames, scratch);
    if (count < 0) {
        errno = EINVAL;
        return -1;
    }
    int flags = dontwait ? ZMQ_DONTWAIT : 0;
    if (to && zmq_send (socket, to->data, to->size, flags | ZMQ_SNDMORE) < 0)
        return -1;
    for (int i = 0; i < count; i++) {
        int more = i < count - 1 ? ZMQ_SNDMORE : 0;
        if (zmq_send (socket, frames [i].data, frames [i].size, flags | more) < 0)
            return -1;
    }
    return 0;
}
