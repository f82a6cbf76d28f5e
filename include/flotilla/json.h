/*  flotilla/json.h - JSON <-> msgpack, for flotctl and --json output.

    JSON objects become maps, arrays arrays, integers integers, reals
    doubles, strings strings; msgpack binary and extensions become strings of
    hex (they have no JSON form). Map keys that are not strings are written
    as their JSON text, cut to its first 256 bytes.
*/
#ifndef FLOTILLA_JSON_H_INCLUDED
#define FLOTILLA_JSON_H_INCLUDED

#include <jansson.h>
#include <msgpack.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Pack a JSON value. Returns 0, or -1 if nesting is deeper than 32.
int
    flot_json_pack (msgpack_packer *pk, const json_t *value);

//  A new JSON value for a msgpack object (caller json_decref's it), or NULL
//  if nesting is deeper than 32.
json_t *
    flot_json_from_msgpack (const msgpack_object *obj);

#ifdef __cplusplus
}
#endif

#endif
