/*  flot_msg.c - the FLOT01 envelope codec.

    A message is a header frame (the signature, the kind byte, then the
    kind's routing fields: length-prefixed names, big-endian numbers) and,
    for most kinds, a body frame holding one msgpack map. This turns the
    frames into a validated view of one message, and a view back into frames
    on a socket. The broker, every actor and every client use it; it owns
    nothing and copies nothing. Frames come from the network, so every byte
    is checked before it is looked at: the signature, the kind, each field's
    length and alphabet, no bytes left over, the frame count for the kind.
*/
#include "flotilla/protocol.h"

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
//  the kind byte, in order, and whether a body frame follows the header.
typedef enum {
    F_ROUTE, F_CORR, F_SERVICE, F_KEY, F_TIMEOUT, F_COMMAND
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

//  A cursor over the header's bytes.
typedef struct {
    const uint8_t *p;
    size_t left;
    size_t offset;
} cursor_t;

static const char *s_field_names [] = {
    "route", "correlation id", "service", "key", "timeout", "command"
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
            "%s: header is %zu bytes and ends inside the %s, which starts at byte %zu",
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
    }
    return flot_err_set (err, FLOT_E_INTERNAL, "unknown field");
}

static int
s_decode_body (flot_msg_t *msg, flot_bytes_t frame, const char *kind,
               flot_err_t *err)
{
    if (frame.size > FLOT_MAX_BODY)
        return flot_err_set (err, FLOT_E_TOO_LARGE,
            "%s: body is %zu bytes, the limit is %d", kind, frame.size, FLOT_MAX_BODY);
    //  A body is one msgpack map: fixmap, map16 or map32.
    if (frame.size == 0
    || !((frame.data [0] & 0xf0) == 0x80
      || frame.data [0] == 0xde || frame.data [0] == 0xdf))
        return flot_err_set (err, FLOT_E_MALFORMED, "%s: body must be a msgpack map", kind);
    msg->body = frame;
    return 0;
}

int
flot_msg_decode (flot_msg_t *msg, const flot_bytes_t *frames, size_t count,
                 flot_err_t *err)
{
    memset (msg, 0, sizeof *msg);
    msg->kind = -1;
    if (count < 1 || count > FLOT_MAX_FRAMES)
        return flot_err_set (err, count ? FLOT_E_TOO_LARGE : FLOT_E_MALFORMED,
            "message has %zu frames, expected 1 or 2", count);
    flot_bytes_t header = frames [0];
    if (header.size < FLOT_SIGNATURE_SIZE
    ||  memcmp (header.data, FLOT_SIGNATURE, FLOT_SIGNATURE_SIZE) != 0) {
        if (header.size >= FLOT_SIGNATURE_SIZE && memcmp (header.data, FLOT_SIGNATURE, 4) == 0)
            return flot_err_set (err, FLOT_E_VERSION,
                "protocol version %.2s is not supported, expected %s",
                (const char *) header.data + 4, FLOT_SIGNATURE);
        return flot_err_set (err, FLOT_E_VERSION,
            "header does not start with the protocol signature %s", FLOT_SIGNATURE);
    }
    if (header.size > FLOT_MAX_HEADER)
        return flot_err_set (err, FLOT_E_MALFORMED,
            "header is %zu bytes, the limit is %d", header.size, FLOT_MAX_HEADER);
    if (header.size == FLOT_SIGNATURE_SIZE)
        return flot_err_set (err, FLOT_E_MALFORMED, "header ends before the kind byte");
    const layout_t *layout = s_layout (header.data [FLOT_SIGNATURE_SIZE]);
    if (!layout)
        return flot_err_set (err, FLOT_E_MALFORMED,
            "unknown message kind 0x%02x", header.data [FLOT_SIGNATURE_SIZE]);
    msg->kind = layout->kind;
    size_t expected = layout->body ? 2 : 1;
    if (count != expected)
        return flot_err_set (err, FLOT_E_MALFORMED,
            "%s has %zu frames, expected %zu", layout->name, count, expected);
    cursor_t c = { header.data + FLOT_SIGNATURE_SIZE + 1,
                   header.size - FLOT_SIGNATURE_SIZE - 1, FLOT_SIGNATURE_SIZE + 1 };
    for (int i = 0; i < layout->count; i++)
        if (s_decode_field (msg, layout->fields [i], &c, layout->name, err))
            return -1;
    if (c.left)
        return flot_err_set (err, FLOT_E_MALFORMED,
            "%s: header has %zu bytes after its last field", layout->name, c.left);
    if (layout->body && s_decode_body (msg, frames [1], layout->name, err))
        return -1;
    return 0;
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
    uint8_t *p = buffer;
    memcpy (p, FLOT_SIGNATURE, FLOT_SIGNATURE_SIZE);
    p += FLOT_SIGNATURE_SIZE;
    *p++ = (uint8_t) msg->kind;
    for (int i = 0; i < layout->count; i++) {
        switch (layout->fields [i]) {
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
flot_msg_frames (const flot_msg_t *msg, flot_bytes_t *frames, uint8_t *scratch)
{
    static const uint8_t empty_map [1] = { 0x80 };
    int size = flot_msg_header (msg, scratch);
    if (size < 0)
        return -1;
    frames [0] = (flot_bytes_t) { scratch, (size_t) size };
    if (!s_layout (msg->kind)->body)
        return 1;
    frames [1] = msg->body.size ? msg->body : (flot_bytes_t) { empty_map, 1 };
    return 2;
}

int
flot_msg_send (const flot_msg_t *msg, void *socket, const flot_bytes_t *to,
               bool dontwait)
{
    flot_bytes_t frames [FLOT_MAX_FRAMES];
    uint8_t scratch [FLOT_MAX_HEADER];
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
