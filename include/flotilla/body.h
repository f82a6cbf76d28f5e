/*  flotilla/body.h - message bodies: one msgpack map each.

    Decoding checks the raw bytes first (depth, declared sizes against the
    bytes left, no trailing bytes) so that msgpack-c never allocates for a
    size that the input cannot back; then typed getters read fields with a
    clear error for a missing field or a wrong type. Encoding uses
    msgpack-c's packer into an sbuffer, with a few helpers for strings.
*/
#ifndef FLOTILLA_BODY_H_INCLUDED
#define FLOTILLA_BODY_H_INCLUDED

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "flotilla/protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FLOT_MAX_DEPTH      32          //  nesting of maps and arrays
#define FLOT_MAX_OBJECTS    (1 << 18)   //  objects in one body

typedef struct _flot_body_t flot_body_t;

//  Validate bytes as exactly one msgpack object within the limits, with no
//  trailing bytes. If must_be_map, the object must be a map whose keys are
//  all strings. Returns 0, or -1 with err (code MALFORMED or TOO_LARGE).
int
    flot_body_check (const void *data, size_t size, bool must_be_map,
                     flot_err_t *err);

//  Decode a body (checked as above, must be a map). Returns a new body, or
//  NULL with err.
flot_body_t *
    flot_body_decode (const void *data, size_t size, flot_err_t *err);

//  Decode bytes that flot_body_check has passed as a map, without checking
//  or copying them again: they must outlive the body. For the actor host,
//  which checks every request's body on arrival and keeps it.
flot_body_t *
    flot_body_decode_checked (const void *data, size_t size, flot_err_t *err);

//  Destroy a body; safe with NULL.
void
    flot_body_destroy (flot_body_t **self_p);

//  The zone the body's objects live in: decode typed messages into it, so
//  that they live as long as the body.
msgpack_zone *
    flot_body_zone (flot_body_t *self);

//  The root map of a body.
const msgpack_object *
    flot_body_root (flot_body_t *self);

//  Look a key up in a map object; NULL if absent (or if map is not a map).
const msgpack_object *
    flot_map_get (const msgpack_object *map, const char *key);

//  Typed getters. Each returns 1 if the field was found and valid, 0 if it
//  is absent and not required (output untouched), and -1 with err naming the
//  field and what was expected otherwise.
//  A string is copied NUL-terminated into buf (cap bytes); it must have no
//  NUL byte and must fit.
int flot_map_str  (const msgpack_object *map, const char *key, bool required,
                   char *buf, size_t cap, flot_err_t *err);
int flot_map_uint (const msgpack_object *map, const char *key, bool required,
                   uint64_t min, uint64_t max, uint64_t *out, flot_err_t *err);
int flot_map_int  (const msgpack_object *map, const char *key, bool required,
                   int64_t min, int64_t max, int64_t *out, flot_err_t *err);
int flot_map_bool (const msgpack_object *map, const char *key, bool required,
                   bool *out, flot_err_t *err);
int flot_map_double (const msgpack_object *map, const char *key, bool required,
                     double *out, flot_err_t *err);
//  Finds an array or a map field (type MSGPACK_OBJECT_ARRAY or _MAP).
int flot_map_object (const msgpack_object *map, const char *key, bool required,
                     msgpack_object_type type, const msgpack_object **out,
                     flot_err_t *err);

//  The first string key that map holds twice (msgpack allows it, our
//  bodies do not: a second value must not add to or replace the first), or
//  NULL. O(n log n) in the map's size.
const msgpack_object *
    flot_map_repeated_key (const msgpack_object *map);

//  A msgpack type as error sentences name it: "a string", "a map", "nil".
const char *
    flot_type_name (msgpack_object_type type);

//  Copy a string object NUL-terminated into buf; -1 if not a string, has a
//  NUL byte, or does not fit.
int
    flot_obj_str (const msgpack_object *obj, char *buf, size_t cap);

//  Packing helpers.
void flot_pack_str (msgpack_packer *pk, const char *s);
void flot_pack_kv_str (msgpack_packer *pk, const char *key, const char *value);
void flot_pack_kv_uint (msgpack_packer *pk, const char *key, uint64_t value);
void flot_pack_kv_int (msgpack_packer *pk, const char *key, int64_t value);
void flot_pack_kv_bool (msgpack_packer *pk, const char *key, bool value);
void flot_pack_kv_double (msgpack_packer *pk, const char *key, double value);

//  The body of an error reply: {"code", "name", "message"} into sbuf.
void
    flot_pack_error (msgpack_sbuffer *sbuf, int code, const char *message);

//  Read an error body; fills err (code INTERNAL and a note if the body is
//  not a valid error body). Returns 0, or -1 if it was not valid.
int
    flot_unpack_error (const void *data, size_t size, flot_err_t *err);

#ifdef __cplusplus
}
#endif

#endif
