/*  fuzz_body.c - libFuzzer target: raw bytes as a message body.

    The input is one body, as the broker or an actor would find it after
    a message's header: it goes through flot_body_check (as a map and as
    any object), flot_body_decode, every typed getter,
    flot_json_from_msgpack and flot_unpack_error (fuzz_walk.c), each
    checked against its promises.
*/
#include "fuzz_walk.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    //  An exact-size copy, so that a read past the end is caught even for
    //  the empty input.
    uint8_t *copy = malloc (size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy (copy, data, size);
    fuzz_walk_body (copy, size);
    free (copy);
    return 0;
}
