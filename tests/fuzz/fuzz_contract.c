/*  fuzz_contract.c - libFuzzer target: a body read by a contract message.

    The input's first byte picks a message of some contract (every message
    of every contract in turn: flot_struct_defs); the rest is a body. If it
    passes flot_body_decode, flot_decode reads it by the message's field
    table. What decodes must encode, and that encoding must decode again and
    encode to the same bytes (the codec keeps what it took and makes up
    nothing); what is refused must be refused with INVALID and a sentence
    that names a field or the body. The seeds, written by contract_seeds,
    are each message's smallest valid body.
*/
#include <flotilla/body.h>
#include <flotilla/contracts.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static size_t
s_def_count (void)
{
    static size_t count = 0;
    if (!count)
        while (flot_struct_defs [count])
            count++;
    return count;
}

//  Decodes bytes by def into zone; NULL, with err, if refused.
static void *
s_decode (const flot_struct_t *def, const void *bytes, size_t size,
          flot_body_t **body_p, msgpack_zone *zone, flot_err_t *err)
{
    *body_p = flot_body_decode (bytes, size, err);
    if (!*body_p)
        return NULL;
    return flot_decode_new (def, flot_body_root (*body_p), zone, err);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const flot_struct_t *def = flot_struct_defs [data [0] % s_def_count ()];
    //  An exact-size copy, so that a read past the end is caught.
    size_t body_size = size - 1;
    uint8_t *copy = malloc (body_size ? body_size : 1);
    if (!copy)
        return 0;
    memcpy (copy, data + 1, body_size);

    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    flot_body_t *body = NULL;
    flot_err_t err = { 0 };
    void *out = s_decode (def, copy, body_size, &body, &zone, &err);
    if (!out && body) {
        //  A body that decodes but is refused by the table: INVALID, named.
        if (err.code != FLOT_E_INVALID
        ||  (strncmp (err.message, "field '", 7) && strncmp (err.message, "the body is ", 12))) {
            fprintf (stderr, "%s: refused with %d '%s'\n", def->name, err.code, err.message);
            abort ();
        }
    }
    if (out) {
        msgpack_sbuffer first, second;
        flot_encode_sbuf (def, out, &first);
        msgpack_zone zone2;
        msgpack_zone_init (&zone2, 1024);
        flot_body_t *body2 = NULL;
        void *again = s_decode (def, first.data, first.size, &body2, &zone2, &err);
        if (!again) {
            fprintf (stderr, "%s: its own encoding is refused: %s\n", def->name, err.message);
            abort ();
        }
        flot_encode_sbuf (def, again, &second);
        if (second.size != first.size || memcmp (first.data, second.data, first.size)) {
            fprintf (stderr, "%s: encoding twice differs\n", def->name);
            abort ();
        }
        msgpack_sbuffer_destroy (&first);
        msgpack_sbuffer_destroy (&second);
        flot_body_destroy (&body2);
        msgpack_zone_destroy (&zone2);
    }
    flot_body_destroy (&body);
    msgpack_zone_destroy (&zone);
    free (copy);
    return 0;
}
