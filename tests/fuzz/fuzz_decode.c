/*  fuzz_decode.c - libFuzzer target: frame lists for flot_msg_decode.

    The input is a frame list: byte 0 mod 12 is the frame count (0..11, one
    more than a message may have); every frame but the last is a 2-byte
    big-endian length and that many bytes (cut short where the input ends);
    the last frame is whatever is left. Each frame is copied into its own
    buffer of its exact size, as ZeroMQ would deliver it, so a read past a
    frame is caught. What decodes must encode back to the same frames, and
    its body is then read every way (fuzz_walk.c); what does not decode
    must fail with a code that SPEC section 7 allows.
*/
#include "fuzz_walk.h"

#include <string.h>

#include "flotilla/protocol.h"

#define MAX_COUNT (FLOT_MAX_FRAMES + 2)

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

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
        if (length)
            memcpy (copies [i], data + at, length);
        frames [i] = (flot_bytes_t) { copies [i], length };
        at += length;
    }

    flot_msg_t msg;
    flot_err_t err = { 0, "" };
    int rc = flot_msg_decode (&msg, frames, count, &err);
    FUZZ_ASSERT (rc == 0 || rc == -1);
    if (rc == 0) {
        FUZZ_ASSERT (flot_kind_name (msg.kind) != NULL);
        //  The frames of what was decoded are the frames that came in.
        flot_bytes_t again [FLOT_MAX_FRAMES];
        uint8_t scratch [16];
        int n = flot_msg_frames (&msg, again, scratch);
        FUZZ_ASSERT (n >= 2 && (size_t) n == count);
        for (size_t i = 0; i < count; i++) {
            FUZZ_ASSERT (again [i].size == frames [i].size);
            FUZZ_ASSERT (again [i].size == 0
                      || memcmp (again [i].data, frames [i].data, frames [i].size) == 0);
        }
        FUZZ_ASSERT (msg.timeout_ms <= FLOT_MAX_TIMEOUT_MS);
        FUZZ_ASSERT (msg.key.size <= FLOT_MAX_KEY);
        FUZZ_ASSERT (msg.route.size <= FLOT_MAX_ROUTE);
        if (msg.kind == FLOT_HEARTBEAT)
            FUZZ_ASSERT (msg.body.size == 0);
        else {
            FUZZ_ASSERT (msg.body.size >= 1 && msg.body.size <= FLOT_MAX_BODY);
            fuzz_walk_body (msg.body.data, msg.body.size);
        }
    }
    else {
        FUZZ_ASSERT (err.code == FLOT_E_MALFORMED || err.code == FLOT_E_VERSION
                  || err.code == FLOT_E_TOO_LARGE);
        FUZZ_ASSERT (err.message [0] != 0);
        if (count < 2)
            FUZZ_ASSERT (msg.kind == -1);
    }
    for (size_t i = 0; i < count; i++)
        free (copies [i]);
    return 0;
}
