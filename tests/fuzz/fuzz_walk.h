/*  fuzz_walk.h - what the fuzz targets do with a body, shared by both.

    fuzz_walk_body reads a body the way a receiver would (check, decode,
    typed getters on every field, JSON) and aborts if any of the codec's
    promises is broken, so that libFuzzer reports it as a crash:
    - flot_body_check (map) passing implies flot_body_check (any) passes,
      and flot_body_decode returns a body exactly when the map check passes;
    - whatever flot_body_check accepts, msgpack-c unpacks, whole;
    - every error has the documented code, and a getter's error names its
      field;
    - flot_json_from_msgpack of a decoded body never fails, prints, and
      packs back to the same JSON.
*/
#ifndef FUZZ_WALK_H_INCLUDED
#define FUZZ_WALK_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_ASSERT(cond) \
    do { \
        if (!(cond)) { \
            fprintf (stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, #cond); \
            abort (); \
        } \
    } while (0)

void
    fuzz_walk_body (const uint8_t *data, size_t size);

#endif
