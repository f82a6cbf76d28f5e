/*  flot_msg.c - the FLOT envelope codec (versions 02 and 03).

    A message is one frame: a header (the signature, the kind byte, then the
    kind's routing fields: length-prefixed names, big-endian numbers) and,
    for most kinds, a body after it to the end of the frame, one msgpack
    map. This turns a frame into a validated view of one message, and a view
    back into a frame on a socket. The broker, every actor and every client
    use it. Frames come from the network, so every byte is checked before it
    is looked at: the signature, the frame count, the kind, each field's
    length and alphabet, and that a body is there for the kinds that have
    one and nothing is for HEARTBEAT.
*/
#include "flotilla/protocol.h"

#include <assert.h>
#include <errno.h>
#include <sched.h>
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

//  The header layout of each kind: which fields follow the signature and
//  the kind byte, in order, and whether a body follows the header.
typedef enum {
    F_ROUTE, F_CORR, F_SERVICE, F_KEY, F_TIMEOUT, F_COMMAND, F_CALLER
} field_t;

typedef struct {
    int kind;
    const char *name;
    int count;              //  fields after signature and kind
    field_t fields [6];
    bool body;
} layout_t;

static const layout_t s_layouts [] = {
    { FLOT_REQUEST,      "REQUEST",     5, { F_CORR, F_SERVICE, F_KEY, F_TIMEOUT, F_COMMAND }, true },
    { FLOT_REPLY,        "REPLY",       1, { F_CORR }, true },
    { FLOT_ERROR,        "ERROR",       1, { F_CORR }, true },
    { FLOT_STREAM,       "STREAM",      1, { F_CORR }, true },
    { FLOT_STREAM_END,   "STREAM_END",  1, { F_CORR }, true },
    { FLOT_READY,        "READY",       1, { F_SERVICE }, true },
    { FLOT_DELIVER,      "DELIVER",     5, { F_ROUTE, F_CORR, F_KEY, F_TIMEOUT, F_COMMAND }, true },
    { FLOT_A_REPLY,      "A_REPLY",     2, { F_ROUTE, F_CORR }, true },
    { FLOT_A_ERROR,      "A_ERROR",     2, { F_ROUTE, F_CORR }, true },
    { FLOT_A_STREAM,     "A_STREAM",    2, { F_ROUTE, F_CORR }, true },
    { FLOT_A_STREAM_END, "A_STREAM_END",2, { F_ROUTE, F_CORR }, true },
    { FLOT_CANCEL,       "CANCEL",      2, { F_ROUTE, F_CORR }, true },
    { FLOT_HEARTBEAT,    "HEARTBEAT",   0, { F_CORR }, false },
    { FLOT_DISCONNECT,   "DISCONNECT",  0, { F_CORR }, true },
};

//  Each kind's place in s_layouts, plus one (0: not a kind): the kind byte
//  indexes it, where a search would compare it with each kind in turn.
static const uint8_t s_layout_index [FLOT_DISCONNECT + 1] = {
    [FLOT_REQUEST] = 1, [FLOT_REPLY] = 2, [FLOT_ERROR] = 3, [FLOT_STREAM] = 4,
    [FLOT_STREAM_END] = 5, [FLOT_READY] = 6, [FLOT_DELIVER] = 7, [FLOT_A_REPLY] = 8,
    [FLOT_A_ERROR] = 9, [FLOT_A_STREAM] = 10, [FLOT_A_STREAM_END] = 11,
    [FLOT_CANCEL] = 12, [FLOT_HEARTBEAT] = 13, [FLOT_DISCONNECT] = 14
};

static const layout_t *
s_layout (int kind)
{
    if (kind < 0 || kind > FLOT_DISCONNECT || s_layout_index [kind] == 0)
        return NULL;
    const layout_t *layout = &s_layouts [s_layout_index [kind] - 1];
    assert (layout->kind == kind);
    return layout;
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

//  The bytes of a name, [A-Za-z0-9._-], as a bit per byte value: '-' (45),
//  '.' (46), '0'..'9' (48..57); 'A'..'Z' (65..90), '_' (95), 'a'..'z'
//  (97..122). test_codec checks it against the ranges, byte by byte.
static const uint64_t s_name_bytes [4] = {
    0x03ff600000000000ULL, 0x07fffffe87fffffeULL, 0, 0
};

bool
flot_name_valid (flot_bytes_t name)
{
    if (name.size == 0 || name.size > FLOT_MAX_NAME)
        return false;
    for (size_t i = 0; i < name.size; i++) {
        uint8_t c = name.data [i];
        if (!((s_name_bytes [c >> 6] >> (c & 63)) & 1))
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

//  A cursor over the header's bytes.
typedef struct {
    const uint8_t *p;
    size_t left;
    size_t offset;
} cursor_t;

static const char *s_field_names [] = {
    "route", "correlation id", "service", "key", "timeout", "command", "caller"
};

//  Takes n bytes, or fails if the header ends first.
static const uint8_t *
s_take (cursor_t *c, size_t n)
{
    if (c->left < n)
        return NULL;
    const uint8_t *at = c->p;
    c->p += n;
    c->left -= n;
    c->offset += n;
    return at;
}

//  A length-prefixed string field.
static int
s_take_string (cursor_t *c, flot_bytes_t *out)
{
    const uint8_t *len = s_take (c, 1);
    if (!len)
        return -1;
    const uint8_t *data = s_take (c, *len);
    if (!data)
        return -1;
    *out = (flot_bytes_t) { data, *len };
    return 0;
}

//  Reads and checks one header field into msg.
static int
s_decode_field (flot_msg_t *msg, field_t field, cursor_t *c, const char *kind,
                flot_err_t *err)
{
    size_t at = c->offset;
    size_t header_size = c->offset + c->left;
    flot_bytes_t text = { NULL, 0 };
    const uint8_t *number = NULL;
    int rc = 0;
    switch (field) {
        case F_CORR: number = s_take (c, 8); rc = number ? 0 : -1; break;
        case F_TIMEOUT: number = s_take (c, 4); rc = number ? 0 : -1; break;
        default: rc = s_take_string (c, &text); break;
    }
    if (rc)
        return flot_err_set (err, FLOT_E_MALFORMED,
            "%s: message is %zu bytes and ends inside the %s, which starts at byte %zu",
            kind, header_size, s_field_names [field], at);
    switch (field) {
        case F_ROUTE:
            if (text.size == 0)
                return flot_err_set (err, FLOT_E_MALFORMED,
                    "%s: route is empty, expected 1..%d bytes", kind, FLOT_MAX_ROUTE);
            msg->route = text;
            return 0;
        case F_CORR:
            msg->corr = flot_get_u64 (number);
            return 0;
        case F_SERVICE:
            if (!flot_name_valid (text))
                return flot_err_set (err, FLOT_E_MALFORMED,
                    "%s: service name must be 1..%d of [A-Za-z0-9._-]",
                    kind, FLOT_MAX_NAME);
            msg->service = text;
            return 0;
        case F_KEY:
            if (!s_key_valid (text))
                return flot_err_set (err, FLOT_E_MALFORMED,
                    "%s: key must be 0..%d printable ASCII bytes",
                    kind, FLOT_MAX_KEY);
            msg->key = text;
            return 0;
        case F_TIMEOUT:
            msg->timeout_ms = flot_get_u32 (number);
            if (msg->timeout_ms > FLOT_MAX_TIMEOUT_MS)
                return flot_err_set (err, FLOT_E_MALFORMED,
                    "%s: timeout %u ms is over the limit of %u ms",
                    kind, msg->timeout_ms, FLOT_MAX_TIMEOUT_MS);
            return 0;
        case F_COMMAND:
            if (!flot_name_valid (text))
                return flot_err_set (err, FLOT_E_MALFORMED,
                    "%s: command name must be 1..%d of [A-Za-z0-9._-]",
                    kind, FLOT_MAX_NAME);
            msg->command = text;
            return 0;
        case F_CALLER:
            if (!s_key_valid (text))
                return flot_err_set (err, FLOT_E_MALFORMED,
                    "%s: caller must be 0..%d printable ASCII bytes",
                    kind, FLOT_MAX_KEY);
            msg->caller = text;
            return 0;
    }
    return flot_err_set (err, FLOT_E_INTERNAL, "unknown field");
}

//  The body: the rest of the frame after the header.
static int
s_decode_body (flot_msg_t *msg, flot_bytes_t body, const char *kind,
               flot_err_t *err)
{
    if (body.size > FLOT_MAX_BODY)
        return flot_err_set (err, FLOT_E_TOO_LARGE,
            "%s: body is %zu bytes, the limit is %d", kind, body.size, FLOT_MAX_BODY);
    if (body.size == 0)
        return flot_err_set (err, FLOT_E_MALFORMED, "%s: the body is missing", kind);
    //  A body is one msgpack map: fixmap, map16 or map32.
    if (!((body.data [0] & 0xf0) == 0x80 || body.data [0] == 0xde || body.data [0] == 0xdf))
        return flot_err_set (err, FLOT_E_MALFORMED, "%s: body must be a msgpack map", kind);
    msg->body = body;
    return 0;
}

const char *
flot_versions_text (char *buffer, size_t size)
{
    size_t used = 0;
    *buffer = 0;
    for (int v = FLOT_VERSION_OLDEST; v <= FLOT_VERSION && used < size; v++) {
        int n = snprintf (buffer + used, size - used, "%s%02d",
                          v > FLOT_VERSION_OLDEST ? ", " : "", v);
        if (n < 0)
            break;
        used += (size_t) n;
    }
    return buffer;
}

int
flot_msg_version (flot_bytes_t frame)
{
    if (frame.size < FLOT_SIGNATURE_SIZE || memcmp (frame.data, FLOT_SIGNATURE, 4) != 0)
        return 0;
    const uint8_t *v = frame.data + 4;
    if (v [0] < '0' || v [0] > '9' || v [1] < '0' || v [1] > '9')
        return 0;
    int version = (v [0] - '0') * 10 + (v [1] - '0');
    return version >= FLOT_VERSION_OLDEST && version <= FLOT_VERSION ? version : 0;
}

int
flot_msg_version_error (flot_bytes_t frame, const char *who, flot_err_t *err)
{
    char speaks [64];
    flot_versions_text (speaks, sizeof speaks);
    if (frame.size >= FLOT_SIGNATURE_SIZE && memcmp (frame.data, FLOT_SIGNATURE, 4) == 0) {
        const uint8_t *v = frame.data + 4;
        if (v [0] > 0x20 && v [0] < 0x7f && v [1] > 0x20 && v [1] < 0x7f)
            return flot_err_set (err, FLOT_E_VERSION,
                "protocol version %c%c is not supported, %s speaks %s",
                v [0], v [1], who, speaks);
        return flot_err_set (err, FLOT_E_VERSION,
            "protocol version 0x%02x%02x is not supported, %s speaks %s",
            v [0], v [1], who, speaks);
    }
    return flot_err_set (err, FLOT_E_VERSION,
        "message does not start with the protocol signature %s", FLOT_SIGNATURE);
}

int
flot_msg_decode (flot_msg_t *msg, const flot_bytes_t *frames, size_t count,
                 flot_err_t *err)
{
    memset (msg, 0, sizeof *msg);
    msg->kind = -1;
    if (count == 0)
        return flot_err_set (err, FLOT_E_MALFORMED, "message has 0 frames, expected 1");
    //  The signature first, so that a peer of another version (whose
    //  messages may have more frames) hears which version it should speak.
    flot_bytes_t frame = frames [0];
    msg->version = flot_msg_version (frame);
    if (msg->version == 0)
        return flot_msg_version_error (frame, "this peer", err);
    if (count > 1)
        return flot_err_set (err, FLOT_E_TOO_LARGE, "message has %zu frames, expected 1", count);
    if (frame.size == FLOT_SIGNATURE_SIZE)
        return flot_err_set (err, FLOT_E_MALFORMED, "message ends before the kind byte");
    const layout_t *layout = s_layout (frame.data [FLOT_SIGNATURE_SIZE]);
    if (!layout)
        return flot_err_set (err, FLOT_E_MALFORMED,
            "unknown message kind 0x%02x", frame.data [FLOT_SIGNATURE_SIZE]);
    msg->kind = layout->kind;
    cursor_t c = { frame.data + FLOT_SIGNATURE_SIZE + 1,
                   frame.size - FLOT_SIGNATURE_SIZE - 1, FLOT_SIGNATURE_SIZE + 1 };
    for (int i = 0; i < layout->count; i++)
        if (s_decode_field (msg, layout->fields [i], &c, layout->name, err))
            return -1;
    if (layout->kind == FLOT_DELIVER && msg->version >= 3
    &&  s_decode_field (msg, F_CALLER, &c, layout->name, err))
        return -1;
    if (!layout->body) {
        if (c.left)
            return flot_err_set (err, FLOT_E_MALFORMED,
                "%s: %zu byte%s after the header, which has no body",
                layout->name, c.left, c.left == 1 ? "" : "s");
        return 0;
    }
    return s_decode_body (msg, (flot_bytes_t) { c.p, c.left }, layout->name, err);
}

static uint8_t *
s_put_string (uint8_t *p, flot_bytes_t text)
{
    *p++ = (uint8_t) text.size;
    if (text.size)
        memcpy (p, text.data, text.size);
    return p + text.size;
}

int
flot_msg_header (const flot_msg_t *msg, uint8_t *buffer)
{
    const layout_t *layout = s_layout (msg->kind);
    if (!layout)
        return -1;
    int version = msg->version ? msg->version : FLOT_VERSION;
    if (version < FLOT_VERSION_OLDEST || version > FLOT_VERSION)
        return -1;
    uint8_t *p = buffer;
    memcpy (p, FLOT_SIGNATURE, FLOT_SIGNATURE_SIZE - 2);
    p [4] = (uint8_t) ('0' + version / 10);
    p [5] = (uint8_t) ('0' + version % 10);
    p += FLOT_SIGNATURE_SIZE;
    *p++ = (uint8_t) msg->kind;
    int count = layout->count + (msg->kind == FLOT_DELIVER && version >= 3);
    for (int i = 0; i < count; i++) {
        switch (i < layout->count ? layout->fields [i] : F_CALLER) {
            case F_ROUTE:
                if (msg->route.size > FLOT_MAX_ROUTE)
                    return -1;
                p = s_put_string (p, msg->route);
                break;
            case F_SERVICE:
                if (msg->service.size > FLOT_MAX_NAME)
                    return -1;
                p = s_put_string (p, msg->service);
                break;
            case F_KEY:
                if (msg->key.size > FLOT_MAX_KEY)
                    return -1;
                p = s_put_string (p, msg->key);
                break;
            case F_COMMAND:
                if (msg->command.size > FLOT_MAX_NAME)
                    return -1;
                p = s_put_string (p, msg->command);
                break;
            case F_CALLER:
                if (msg->caller.size > FLOT_MAX_KEY)
                    return -1;
                p = s_put_string (p, msg->caller);
                break;
            case F_CORR:
                flot_put_u64 (p, msg->corr);
                p += 8;
                break;
            case F_TIMEOUT:
                flot_put_u32 (p, msg->timeout_ms);
                p += 4;
                break;
        }
    }
    return (int) (p - buffer);
}

int
flot_msg_frame (const flot_msg_t *msg, zmq_msg_t *frame)
{
    static const uint8_t empty_map [1] = { 0x80 };
    uint8_t header [FLOT_MAX_HEADER];
    int size = flot_msg_header (msg, header);
    if (size < 0) {
        errno = EINVAL;
        return -1;
    }
    flot_bytes_t body = { NULL, 0 };
    if (s_layout (msg->kind)->body)
        body = msg->body.size ? msg->body : (flot_bytes_t) { empty_map, 1 };
    if (zmq_msg_init_size (frame, (size_t) size + body.size)) {
        errno = ENOMEM;
        return -1;
    }
    uint8_t *p = zmq_msg_data (frame);
    memcpy (p, header, (size_t) size);
    if (body.size)
        memcpy (p + size, body.data, body.size);
    return 0;
}

int
flot_msg_send (const flot_msg_t *msg, void *socket, const flot_bytes_t *to,
               bool dontwait)
{
    zmq_msg_t frame;
    if (flot_msg_frame (msg, &frame))
        return -1;          //  errno EINVAL or ENOMEM
    int flags = dontwait ? ZMQ_DONTWAIT : 0;
    if ((to && zmq_send (socket, to->data, to->size, flags | ZMQ_SNDMORE) < 0)
    ||  zmq_msg_send (&frame, socket, flags) < 0) {
        int why = zmq_errno ();
        zmq_msg_close (&frame);
        errno = why;
        return -1;
    }
    return 0;
}

int
flot_msg_recv (void *socket, zmq_msg_t *frames, int max, int flags, bool *overflow)
{
    int count = 0;
    *overflow = false;
    while (true) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        //  Only the first frame can wait: a message's frames come together.
        if (zmq_msg_recv (&frame, socket, count || *overflow ? ZMQ_DONTWAIT : flags) < 0) {
            int why = zmq_errno ();
            zmq_msg_close (&frame);
            for (int i = 0; i < count; i++)
                zmq_msg_close (&frames [i]);
            errno = why;
            return -1;
        }
        bool more = zmq_msg_more (&frame);
        if (count < max)
            frames [count++] = frame;
        else {
            zmq_msg_close (&frame);
            *overflow = true;
        }
        if (!more)
            return count;
    }
}

int
flot_msg_recv_soon (void *socket, zmq_msg_t *frames, int max, bool *overflow)
{
    int count = flot_msg_recv (socket, frames, max, ZMQ_DONTWAIT, overflow);
    if (count < 0 && errno == EAGAIN) {
        sched_yield ();
        count = flot_msg_recv (socket, frames, max, ZMQ_DONTWAIT, overflow);
    }
    return count;
}
