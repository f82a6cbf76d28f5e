/*  fuzz_decode.c - libFuzzer target: frame lists for flot_msg_decode.

    The input is a frame list: byte 0 mod 5 is the frame count (0..4: none,
    a header, a header and a body, and more than a message may have); every
    frame but the last is a 2-byte big-endian length and that many bytes
    (cut short where the input ends); the last frame is whatever is left.
    Each frame is copied into its own buffer of its exact size, as ZeroMQ
    would deliver it, so a read past a frame is caught. What decodes must
    encode back to the same frames, and its body is then read every way
    (fuzz_walk.c); what does not decode must fail with the code that SPEC
    section 7 gives its first failing step.
*/
#include "fuzz_walk.h"

#include <string.h>

#include "flotilla/protocol.h"

#define MAX_COUNT (FLOT_MAX_FRAMES + 3)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  What decoded is what came in, and keeps the limits.
static void
s_check_decoded (const flot_msg_t *msg, const flot_bytes_t *frames, size_t count)
{
    FUZZ_ASSERT (flot_kind_name (msg->kind) != NULL);
    FUZZ_ASSERT (count == (msg->kind == FLOT_HEARTBEAT ? 1 : 2));
    flot_bytes_t again [FLOT_MAX_FRAMES];
    uint8_t scratch [FLOT_MAX_HEADER];
    int n = flot_msg_frames (msg, again, scratch);
    FUZZ_ASSERT (n >= 1 && (size_t) n == count);
    for (size_t i = 0; i < count; i++) {
        FUZZ_ASSERT (again [i].size == frames [i].size);
        FUZZ_ASSERT (memcmp (again [i].data, frames [i].data, frames [i].size) == 0);
    }
    uint8_t header [FLOT_MAX_HEADER];
    FUZZ_ASSERT (flot_msg_header (msg, header) == (int) frames [0].size);
    FUZZ_ASSERT (frames [0].size >= FLOT_SIGNATURE_SIZE + 1
              && frames [0].size <= FLOT_MAX_HEADER);
    FUZZ_ASSERT (msg->timeout_ms <= FLOT_MAX_TIMEOUT_MS);
    FUZZ_ASSERT (msg->key.size <= FLOT_MAX_KEY);
    FUZZ_ASSERT (msg->route.size <= FLOT_MAX_ROUTE);
    //  The broker reads a REQUEST's corr at bytes 7..14 before decoding
    //  (SPEC section 7, addressable): the decoder must agree.
    if (msg->kind == FLOT_REQUEST) {
        FUZZ_ASSERT (frames [0].size >= FLOT_SIGNATURE_SIZE + 1 + 8);
        FUZZ_ASSERT (flot_get_u64 (frames [0].data + FLOT_SIGNATURE_SIZE + 1) == msg->corr);
        FUZZ_ASSERT (flot_name_valid (msg->service) && flot_name_valid (msg->command));
    }
    if (msg->kind == FLOT_HEARTBEAT)
        FUZZ_ASSERT (msg->body.size == 0);
    else {
        FUZZ_ASSERT (msg->body.size >= 1 && msg->body.size <= FLOT_MAX_BODY);
        fuzz_walk_body (msg->body.data, msg->body.size);
    }
}

//  What failed, failed at the step SPEC section 7 says, with a sentence.
static void
s_check_refused (const flot_msg_t *msg, const flot_err_t *err,
                 const flot_bytes_t *frames, size_t count)
{
    FUZZ_ASSERT (err->message [0] != 0);
    if (count == 0 || count > FLOT_MAX_FRAMES) {
        FUZZ_ASSERT (err->code == (count ? FLOT_E_TOO_LARGE : FLOT_E_MALFORMED));
        FUZZ_ASSERT (msg->kind == -1);
        return;
    }
    bool signed_ = frames [0].size >= FLOT_SIGNATURE_SIZE
                && memcmp (frames [0].data, FLOT_SIGNATURE, FLOT_SIGNATURE_SIZE) == 0;
    if (!signed_) {
        FUZZ_ASSERT (err->code == FLOT_E_VERSION);
        FUZZ_ASSERT (msg->kind == -1);
        return;
    }
    //  Frames here are at most 4096 bytes: no body is over the limit.
    FUZZ_ASSERT (err->code == FLOT_E_MALFORMED);
    if (frames [0].size == FLOT_SIGNATURE_SIZE || frames [0].size > FLOT_MAX_HEADER
    ||  !flot_kind_name (frames [0].data [FLOT_SIGNATURE_SIZE]))
        FUZZ_ASSERT (msg->kind == -1);
    else
        FUZZ_ASSERT (msg->kind == frames [0].data [FLOT_SIGNATURE_SIZE]);
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

    flot_msg_t msg;
    flot_err_t err = { 0, "" };
    int rc = flot_msg_decode (&msg, frames, count, &err);
    FUZZ_ASSERT (rc == 0 || rc == -1);
    if (rc == 0)
        s_check_decoded (&msg, frames, count);
    else
        s_check_refused (&msg, &err, frames, count);
    for (size_t i = 0; i < count; i++)
        free (copies [i]);
    return 0;
}
