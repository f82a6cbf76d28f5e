/*  fuzz_decode.c - libFuzzer target: frame lists for flot_msg_decode.

    The input is a frame list: byte 0 mod 4 is the frame count (0..3: none,
    one message, and more frames than a FLOT message may have); every
    frame but the last is a 2-byte big-endian length and that many bytes
    (cut short where the input ends); the last frame is whatever is left.
    Each frame is copied into its own buffer of its exact size, as ZeroMQ
    would deliver it, so a read past a frame is caught.

    A small model of the layout (s_expect, written from SPEC section 2 and
    the decoder's order of checks, not from flot_msg.c) says whether each
    list decodes, in which version (02 or 03: the same but for DELIVER,
    whose header ends with the caller from 03 on), and if not with which
    code and after which kind byte: the decoder must agree. What decodes
    must encode back to the same frame (flot_msg_frame, in its version),
    its header must be the frame's first bytes (flot_msg_header), its views
    must point into the frame, with the body the rest of it, and the body
    is then read every way (fuzz_walk.c).
*/
#include "fuzz_walk.h"

#include <stdbool.h>
#include <string.h>

#include "flotilla/protocol.h"

#define MAX_COUNT (FLOT_MAX_FRAMES + 3)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Each kind's header fields in order in version 02, one letter a field:
//  r route, c corr, s service, k key, t timeout, n command; and whether a
//  body follows the header. From version 03 on, DELIVER's fields end with
//  a caller (a: as a key).
static const char *s_deliver_03 = "rcktna";

static const struct {
    int kind;
    const char *fields;
    bool body;
} s_kinds [] = {
    { FLOT_REQUEST, "csktn", true }, { FLOT_REPLY, "c", true },
    { FLOT_ERROR, "c", true }, { FLOT_STREAM, "c", true },
    { FLOT_STREAM_END, "c", true }, { FLOT_READY, "s", true },
    { FLOT_DELIVER, "rcktn", true }, { FLOT_A_REPLY, "rc", true },
    { FLOT_A_ERROR, "rc", true }, { FLOT_A_STREAM, "rc", true },
    { FLOT_A_STREAM_END, "rc", true }, { FLOT_CANCEL, "rc", true },
    { FLOT_HEARTBEAT, "", false }, { FLOT_DISCONNECT, "", true },
};

//  SPEC section 3.1: a service or command name.
static bool
s_name_ok (const uint8_t *p, size_t size)
{
    static const char alphabet [] = "abcdefghijklmnopqrstuvwxyz"
                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    if (size < 1 || size > FLOT_MAX_NAME)
        return false;
    for (size_t i = 0; i < size; i++)
        if (!memchr (alphabet, p [i], sizeof alphabet - 1))
            return false;
    return true;
}

//  One header field at *at in frame: false if the frame ends inside it or
//  its value breaks SPEC section 3.1.
static bool
s_field_ok (char field, flot_bytes_t frame, size_t *at)
{
    size_t left = frame.size - *at;
    const uint8_t *p = frame.data + *at;
    if (field == 'c' || field == 't') {
        size_t size = field == 'c' ? 8 : 4;
        if (left < size)
            return false;
        *at += size;
        return field == 'c'
            || ((uint32_t) p [0] << 24 | (uint32_t) p [1] << 16
              | (uint32_t) p [2] << 8 | p [3]) <= FLOT_MAX_TIMEOUT_MS;
    }
    if (left < 1 || left - 1 < p [0])
        return false;
    size_t size = p [0];
    *at += 1 + size;
    if (field == 'r')
        return size >= 1;
    if (field == 'k' || field == 'a') {
        for (size_t i = 0; i < size; i++)
            if (p [1 + i] < 0x21 || p [1 + i] > 0x7e)
                return false;
        return true;
    }
    return s_name_ok (p + 1, size);
}

//  The version of a signature: "FLOT02" or "FLOT03", else 0 (SPEC 13).
static int
s_version (flot_bytes_t frame)
{
    if (frame.size < FLOT_SIGNATURE_SIZE || memcmp (frame.data, "FLOT0", 5) != 0)
        return 0;
    return frame.data [5] == '2' ? 2 : frame.data [5] == '3' ? 3 : 0;
}

//  What flot_msg_decode must say of a frame list: 0 or the error code; in
//  *kind the kind it must have found (-1 if it never got to one), in
//  *version the signature's (0 if not one it speaks).
static int
s_expect (const flot_bytes_t *frames, size_t count, int *kind, int *version)
{
    *kind = -1;
    *version = 0;
    if (count == 0)
        return FLOT_E_MALFORMED;
    flot_bytes_t frame = frames [0];
    *version = s_version (frame);
    if (!*version)
        return FLOT_E_VERSION;      //  read before the count (SPEC 7, step 1)
    if (count > 1)
        return FLOT_E_TOO_LARGE;
    if (frame.size == FLOT_SIGNATURE_SIZE)
        return FLOT_E_MALFORMED;
    size_t which = 0;
    while (which < sizeof s_kinds / sizeof s_kinds [0]
       &&  s_kinds [which].kind != frame.data [FLOT_SIGNATURE_SIZE])
        which++;
    if (which == sizeof s_kinds / sizeof s_kinds [0])
        return FLOT_E_MALFORMED;
    *kind = s_kinds [which].kind;
    size_t at = FLOT_SIGNATURE_SIZE + 1;
    const char *fields = *kind == FLOT_DELIVER && *version >= 3
                       ? s_deliver_03 : s_kinds [which].fields;
    for (const char *field = fields; *field; field++)
        if (!s_field_ok (*field, frame, &at))
            return FLOT_E_MALFORMED;
    size_t body = frame.size - at;
    if (!s_kinds [which].body)
        return body ? FLOT_E_MALFORMED : 0;
    if (body > FLOT_MAX_BODY)
        return FLOT_E_TOO_LARGE;
    if (body == 0)
        return FLOT_E_MALFORMED;
    uint8_t first = frame.data [at];
    if ((first & 0xf0) != 0x80 && first != 0xde && first != 0xdf)
        return FLOT_E_MALFORMED;
    return 0;
}

//  A view is empty, or lies inside [from, to) of frame.
static bool
s_inside (flot_bytes_t view, flot_bytes_t frame, size_t from, size_t to)
{
    if (view.size == 0)
        return true;
    return view.data >= frame.data + from && view.size <= to - from
        && (size_t) (view.data - frame.data) + view.size <= to;
}

//  What decoded is what came in, and keeps the limits.
static void
s_check_decoded (const flot_msg_t *msg, flot_bytes_t frame)
{
    FUZZ_ASSERT (flot_kind_name (msg->kind) != NULL);
    FUZZ_ASSERT (msg->version == flot_msg_version (frame));

    //  The message encodes back to exactly the frame it came from.
    zmq_msg_t again;
    FUZZ_ASSERT (flot_msg_frame (msg, &again) == 0);
    FUZZ_ASSERT (zmq_msg_size (&again) == frame.size);
    FUZZ_ASSERT (memcmp (zmq_msg_data (&again), frame.data, frame.size) == 0);
    zmq_msg_close (&again);

    //  The header is the frame's first bytes, the body the rest.
    uint8_t header [FLOT_MAX_HEADER];
    int header_size = flot_msg_header (msg, header);
    FUZZ_ASSERT (header_size >= FLOT_SIGNATURE_SIZE + 1
              && header_size <= FLOT_MAX_HEADER
              && (size_t) header_size <= frame.size);
    FUZZ_ASSERT (memcmp (header, frame.data, (size_t) header_size) == 0);
    size_t end = (size_t) header_size;
    if (msg->kind == FLOT_HEARTBEAT)
        FUZZ_ASSERT (msg->body.size == 0 && end == frame.size);
    else {
        FUZZ_ASSERT (msg->body.data == frame.data + end
                  && msg->body.size == frame.size - end);
        FUZZ_ASSERT (msg->body.size >= 1 && msg->body.size <= FLOT_MAX_BODY);
    }
    size_t from = FLOT_SIGNATURE_SIZE + 1;
    FUZZ_ASSERT (s_inside (msg->route, frame, from, end)
              && s_inside (msg->service, frame, from, end)
              && s_inside (msg->key, frame, from, end)
              && s_inside (msg->command, frame, from, end)
              && s_inside (msg->caller, frame, from, end));
    //  Only a DELIVER of 03 has a caller, and its header ends with it.
    if (msg->kind == FLOT_DELIVER && msg->version >= 3)
        FUZZ_ASSERT (msg->caller.size <= FLOT_MAX_KEY
                  && frame.data [end - msg->caller.size - 1] == msg->caller.size
                  && (msg->caller.size == 0
                   || msg->caller.data + msg->caller.size == frame.data + end));
    else
        FUZZ_ASSERT (msg->caller.size == 0 && msg->caller.data == NULL);

    FUZZ_ASSERT (msg->timeout_ms <= FLOT_MAX_TIMEOUT_MS);
    FUZZ_ASSERT (msg->key.size <= FLOT_MAX_KEY);
    FUZZ_ASSERT (msg->route.size <= FLOT_MAX_ROUTE);
    //  The broker reads a REQUEST's corr at bytes 7..14 before decoding
    //  (SPEC section 7, addressable): the decoder must agree.
    if (msg->kind == FLOT_REQUEST) {
        FUZZ_ASSERT (frame.size >= FLOT_SIGNATURE_SIZE + 1 + 8);
        FUZZ_ASSERT (flot_get_u64 (frame.data + FLOT_SIGNATURE_SIZE + 1) == msg->corr);
        FUZZ_ASSERT (flot_name_valid (msg->service) && flot_name_valid (msg->command));
    }
    if (msg->kind != FLOT_HEARTBEAT)
        fuzz_walk_body (msg->body.data, msg->body.size);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t count = data [0] % MAX_COUNT;
    size_t at = 1;
    flot_bytes_t frames [MAX_COUNT];
    uint8_t *copies [MAX_COUNT];
    for (size_t i = 0; i < count; i++) {
        size_t length = size - at;
        if (i + 1 < count) {
            length = 0;
            if (size - at >= 2) {
                length = (size_t) data [at] << 8 | data [at + 1];
                at += 2;
            }
            else
                at = size;
            if (length > size - at)
                length = size - at;
        }
        copies [i] = malloc (length ? length : 1);
        FUZZ_ASSERT (copies [i]);
        if (length)
            memcpy (copies [i], data + at, length);
        frames [i] = (flot_bytes_t) { copies [i], length };
        at += length;
    }

    int kind, version;
    int expected = s_expect (frames, count, &kind, &version);
    flot_msg_t msg;
    flot_err_t err = { 0, "" };
    int rc = flot_msg_decode (&msg, frames, count, &err);
    FUZZ_ASSERT (rc == (expected ? -1 : 0));
    if (rc == 0) {
        FUZZ_ASSERT (msg.kind == kind && msg.version == version);
        s_check_decoded (&msg, frames [0]);
    }
    else {
        //  Refused at the step the rules give, with a sentence.
        FUZZ_ASSERT (err.code == expected);
        FUZZ_ASSERT (err.message [0] != 0);
        FUZZ_ASSERT (msg.kind == kind);
        //  Another version is named, with the versions this peer speaks.
        if (expected == FLOT_E_VERSION && frames [0].size >= FLOT_SIGNATURE_SIZE
        &&  memcmp (frames [0].data, "FLOT", 4) == 0) {
            static const char tail [] = " is not supported, this peer speaks 02, 03";
            size_t length = strlen (err.message);
            FUZZ_ASSERT (strncmp (err.message, "protocol version ", 17) == 0);
            FUZZ_ASSERT (length > sizeof tail
                      && strcmp (err.message + length - (sizeof tail - 1), tail) == 0);
        }
    }
    for (size_t i = 0; i < count; i++)
        free (copies [i]);
    return 0;
}
