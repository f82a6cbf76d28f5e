/*  flot_body.c - hostile-safe msgpack bodies.

    Every body that arrives from a peer goes through flot_body_check before
    msgpack-c sees it: a walk over the raw bytes that bounds depth and object
    count and checks every declared length against the bytes that are left,
    so a five-byte header claiming four billion elements is refused instead of
    allocated. Then typed getters give each field or a sentence saying what
    was wrong with it.
*/
#include "flotilla/body.h"
#include "flotilla/contract.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _flot_body_t {
    msgpack_zone zone;
    msgpack_object root;
    char *data;             //  our copy: decoded strings point into it
};

//  Reads a big-endian length of n bytes at p.
static uint64_t
s_be (const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p [i];
    return v;
}

//  Returns the size of the header at p (0 if the type byte is invalid),
//  and sets *payload to the bytes that follow it, *children to the objects
//  it contains. `left` bytes are available from p.
static size_t
s_header (const uint8_t *p, size_t left, uint64_t *payload, uint64_t *children)
{
    uint8_t b = p [0];
    *payload = 0;
    *children = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 1;
    if ((b & 0xf0) == 0x80) { *children = 2 * (uint64_t) (b & 0x0f); return 1; }
    if ((b & 0xf0) == 0x90) { *children = b & 0x0f; return 1; }
    if ((b & 0xe0) == 0xa0) { *payload = b & 0x1f; return 1; }

    //  Fixed-size scalars: type byte plus n bytes. 0xca..0xd3: float 32,
    //  float 64, uint 8..64, int 8..64.
    static const uint8_t fixed [10] = { 4, 8, 1, 2, 4, 8, 1, 2, 4, 8 };
    if (b >= 0xca && b <= 0xd3) {
        *payload = fixed [b - 0xca];
        return 1;
    }
    //  0xd4..0xd8: fixext 1, 2, 4, 8, 16, and its type byte.
    if (b >= 0xd4 && b <= 0xd8) {
        *payload = 1 + (1u << (b - 0xd4));
        return 1;
    }
    //  Length-prefixed: type byte, n-byte length, (ext: a type byte), data.
    int n = 0, extra = 0;
    bool container = false, is_map = false;
    switch (b) {
        case 0xc4: case 0xd9: n = 1; break;
        case 0xc5: case 0xda: n = 2; break;
        case 0xc6: case 0xdb: n = 4; break;
        case 0xc7: n = 1; extra = 1; break;
        case 0xc8: n = 2; extra = 1; break;
        case 0xc9: n = 4; extra = 1; break;
        case 0xdc: n = 2; container = true; break;
        case 0xdd: n = 4; container = true; break;
        case 0xde: n = 2; container = true; is_map = true; break;
        case 0xdf: n = 4; container = true; is_map = true; break;
        default: return 0;      //  0xc1 is never used
    }
    if (left < (size_t) (1 + n))
        return 1 + n;           //  caller sees it runs past the end
    uint64_t length = s_be (p + 1, n);
    if (container)
        *children = is_map ? 2 * length : length;
    else
        *payload = length + (uint64_t) extra;
    return 1 + (size_t) n;
}

int
flot_body_check (const void *data, size_t size, bool must_be_map,
                 flot_err_t *err)
{
    if (!data || size == 0)
        return flot_err_set (err, FLOT_E_MALFORMED, "body is empty");
    if (size > FLOT_MAX_BODY)
        return flot_err_set (err, FLOT_E_TOO_LARGE,
            "body is %zu bytes, the limit is %d", size, FLOT_MAX_BODY);
    const uint8_t *p = data;
    if (must_be_map && !((p [0] & 0xf0) == 0x80 || p [0] == 0xde || p [0] == 0xdf))
        return flot_err_set (err, FLOT_E_MALFORMED, "body is not a msgpack map");

    //  remaining [d]: objects still expected at depth d.
    uint64_t remaining [FLOT_MAX_DEPTH + 1];
    int depth = 0;
    remaining [0] = 1;
    size_t offset = 0;
    uint64_t objects = 0;
    bool root_is_map = false;

    while (depth >= 0) {
        if (remaining [depth] == 0) {
            depth--;
            continue;
        }
        if (offset >= size)
            return flot_err_set (err, FLOT_E_MALFORMED,
                "body is truncated at byte %zu", offset);
        if (++objects > FLOT_MAX_OBJECTS)
            return flot_err_set (err, FLOT_E_TOO_LARGE,
                "body has more than %d objects", FLOT_MAX_OBJECTS);
        //  In the root map, every other object (the keys) must be a string.
        if (depth == 1 && root_is_map && remaining [1] % 2 == 0) {
            uint8_t b = p [offset];
            if (!((b & 0xe0) == 0xa0 || b == 0xd9 || b == 0xda || b == 0xdb))
                return flot_err_set (err, FLOT_E_MALFORMED,
                    "body map key at byte %zu is not a string", offset);
        }
        remaining [depth]--;
        uint8_t type = p [offset];
        bool container = (type & 0xe0) == 0x80 || (type >= 0xdc && type <= 0xdf);
        uint64_t payload, children;
        size_t header = s_header (p + offset, size - offset, &payload, &children);
        if (header == 0)
            return flot_err_set (err, FLOT_E_MALFORMED,
                "byte %zu: 0x%02x is not a msgpack type", offset, p [offset]);
        if (header > size - offset || payload > size - offset - header)
            return flot_err_set (err, FLOT_E_MALFORMED,
                "body is truncated at byte %zu", offset);
        offset += header + (size_t) payload;
        //  An empty container is a level too: msgpack-c refuses it past 32.
        if (container && children == 0 && depth + 1 > FLOT_MAX_DEPTH)
            return flot_err_set (err, FLOT_E_MALFORMED,
                "body nests deeper than %d levels", FLOT_MAX_DEPTH);
        if (children > 0) {
            //  Every child takes at least one byte.
            if (children > size - offset)
                return flot_err_set (err, FLOT_E_MALFORMED,
                    "byte %zu: container declares %llu objects but %zu bytes are left",
                    offset - header, (unsigned long long) children, size - offset);
            if (depth + 1 > FLOT_MAX_DEPTH)
                return flot_err_set (err, FLOT_E_MALFORMED,
                    "body nests deeper than %d levels", FLOT_MAX_DEPTH);
            if (depth == 0) {
                root_is_map = (p [0] & 0xf0) == 0x80 || p [0] == 0xde || p [0] == 0xdf;
            }
            remaining [++depth] = children;
        }
    }
    if (offset != size)
        return flot_err_set (err, FLOT_E_MALFORMED,
            "body has %zu trailing bytes after the map", size - offset);
    return 0;
}

//  Unpacks data (checked) into a new body, which copies data unless
//  borrow says it outlives the body.
static flot_body_t *
s_body_unpack (const void *data, size_t size, bool borrow, flot_err_t *err)
{
    flot_body_t *self = calloc (1, sizeof *self);
    if (!self) {
        flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
        return NULL;
    }
    self->data = borrow ? NULL : malloc (size);
    if ((!borrow && !self->data) || !msgpack_zone_init (&self->zone, 2048)) {
        free (self->data);
        free (self);
        flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
        return NULL;
    }
    if (!borrow)
        memcpy (self->data, data, size);
    size_t offset = 0;
    msgpack_unpack_return rc = msgpack_unpack (borrow ? data : self->data, size, &offset,
                                               &self->zone, &self->root);
    if (rc != MSGPACK_UNPACK_SUCCESS || offset != size
    ||  self->root.type != MSGPACK_OBJECT_MAP) {
        flot_body_destroy (&self);
        flot_err_set (err, FLOT_E_MALFORMED, "body is not one msgpack map");
        return NULL;
    }
    return self;
}

flot_body_t *
flot_body_decode (const void *data, size_t size, flot_err_t *err)
{
    if (flot_body_check (data, size, true, err))
        return NULL;
    return s_body_unpack (data, size, false, err);
}

flot_body_t *
flot_body_decode_checked (const void *data, size_t size, flot_err_t *err)
{
    return s_body_unpack (data, size, true, err);
}

void
flot_body_destroy (flot_body_t **self_p)
{
    if (self_p && *self_p) {
        flot_body_t *self = *self_p;
        msgpack_zone_destroy (&self->zone);
        free (self->data);
        free (self);
        *self_p = NULL;
    }
}

msgpack_zone *
flot_body_zone (flot_body_t *self)
{
    return &self->zone;
}

const msgpack_object *
flot_body_root (flot_body_t *self)
{
    return &self->root;
}

const msgpack_object *
flot_map_get (const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t len = strlen (key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr [i].key;
        //  msgpack-c may give an empty string a NULL pointer.
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == len
        &&  (len == 0 || memcmp (k->via.str.ptr, key, len) == 0))
            return &map->via.map.ptr [i].val;
    }
    return NULL;
}

const char *
flot_type_name (msgpack_object_type type)
{
    switch (type) {
        case MSGPACK_OBJECT_NIL: return "nil";
        case MSGPACK_OBJECT_BOOLEAN: return "a boolean";
        case MSGPACK_OBJECT_POSITIVE_INTEGER: return "a positive integer";
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "a negative integer";
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64: return "a float";
        case MSGPACK_OBJECT_STR: return "a string";
        case MSGPACK_OBJECT_ARRAY: return "an array";
        case MSGPACK_OBJECT_MAP: return "a map";
        case MSGPACK_OBJECT_BIN: return "binary";
        case MSGPACK_OBJECT_EXT: return "an extension";
    }
    return "unknown";
}

//  Shared start of every getter: 1 found, 0 absent-and-optional, -1 error.
static int
s_lookup (const msgpack_object *map, const char *key, bool required,
          const msgpack_object **obj, flot_err_t *err)
{
    *obj = flot_map_get (map, key);
    //  A nil value counts as absent (SPEC 3.2).
    if (*obj && (*obj)->type != MSGPACK_OBJECT_NIL)
        return 1;
    *obj = NULL;
    if (required)
        return flot_err_set (err, FLOT_E_INVALID, "field '%s' is required", key);
    return 0;
}

int
flot_obj_str (const msgpack_object *obj, char *buf, size_t cap)
{
    //  msgpack-c may give an empty string a NULL pointer.
    if (obj->type != MSGPACK_OBJECT_STR || obj->via.str.size >= cap
    ||  (obj->via.str.size && memchr (obj->via.str.ptr, 0, obj->via.str.size)))
        return -1;
    if (obj->via.str.size)
        memcpy (buf, obj->via.str.ptr, obj->via.str.size);
    buf [obj->via.str.size] = 0;
    return 0;
}

int
flot_map_str (const msgpack_object *map, const char *key, bool required,
              char *buf, size_t cap, flot_err_t *err)
{
    const msgpack_object *obj;
    int found = s_lookup (map, key, required, &obj, err);
    if (found <= 0)
        return found;
    if (obj->type != MSGPACK_OBJECT_STR)
        return flot_err_set (err, FLOT_E_INVALID,
            "field '%s' is %s, expected a string", key, flot_type_name (obj->type));
    if (obj->via.str.size >= cap)
        return flot_err_set (err, FLOT_E_INVALID,
            "field '%s' is %u bytes, the limit is %zu",
            key, obj->via.str.size, cap - 1);
    if (flot_obj_str (obj, buf, cap))
        return flot_err_set (err, FLOT_E_INVALID,
            "field '%s' contains a NUL byte", key);
    return 1;
}

//  A number or a bool, read by the contract codec's rules and sentences.
static int
s_scalar (const msgpack_object *map, const char *key, bool required,
          const flot_field_t *f, void *out, flot_err_t *err)
{
    const msgpack_object *obj;
    int found = s_lookup (map, key, required, &obj, err);
    if (found <= 0)
        return found;
    return flot_decode_scalar (f, obj, out, key, err) ? -1 : 1;
}

int
flot_map_uint (const msgpack_object *map, const char *key, bool required,
               uint64_t min, uint64_t max, uint64_t *out, flot_err_t *err)
{
    flot_field_t f = { .name = key, .type = FLOT_T_UINT, .umin = min, .umax = max };
    return s_scalar (map, key, required, &f, out, err);
}

int
flot_map_int (const msgpack_object *map, const char *key, bool required,
              int64_t min, int64_t max, int64_t *out, flot_err_t *err)
{
    flot_field_t f = { .name = key, .type = FLOT_T_INT, .imin = min, .imax = max };
    return s_scalar (map, key, required, &f, out, err);
}

int
flot_map_bool (const msgpack_object *map, const char *key, bool required,
               bool *out, flot_err_t *err)
{
    flot_field_t f = { .name = key, .type = FLOT_T_BOOL };
    return s_scalar (map, key, required, &f, out, err);
}

int
flot_map_double (const msgpack_object *map, const char *key, bool required,
                 double *out, flot_err_t *err)
{
    flot_field_t f = { .name = key, .type = FLOT_T_DOUBLE, .dmin = -INFINITY, .dmax = INFINITY };
    return s_scalar (map, key, required, &f, out, err);
}

int
flot_map_object (const msgpack_object *map, const char *key, bool required,
                 msgpack_object_type type, const msgpack_object **out,
                 flot_err_t *err)
{
    const msgpack_object *obj;
    int found = s_lookup (map, key, required, &obj, err);
    if (found <= 0)
        return found;
    if (obj->type != type)
        return flot_err_set (err, FLOT_E_INVALID,
            "field '%s' is %s, expected %s", key,
            flot_type_name (obj->type), flot_type_name (type));
    *out = obj;
    return 1;
}

void
flot_pack_str (msgpack_packer *pk, const char *s)
{
    size_t len = strlen (s);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, s, len);
}

void
flot_pack_kv_str (msgpack_packer *pk, const char *key, const char *value)
{
    flot_pack_str (pk, key);
    flot_pack_str (pk, value ? value : "");
}

void
flot_pack_kv_uint (msgpack_packer *pk, const char *key, uint64_t value)
{
    flot_pack_str (pk, key);
    msgpack_pack_uint64 (pk, value);
}

void
flot_pack_kv_int (msgpack_packer *pk, const char *key, int64_t value)
{
    flot_pack_str (pk, key);
    msgpack_pack_int64 (pk, value);
}

void
flot_pack_kv_bool (msgpack_packer *pk, const char *key, bool value)
{
    flot_pack_str (pk, key);
    if (value)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
}

void
flot_pack_kv_double (msgpack_packer *pk, const char *key, double value)
{
    flot_pack_str (pk, key);
    msgpack_pack_double (pk, value);
}

void
flot_pack_error (msgpack_sbuffer *sbuf, int code, const char *message)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    flot_pack_kv_uint (&pk, "code", (uint64_t) code);
    flot_pack_kv_str (&pk, "name", flot_err_name (code));
    flot_pack_kv_str (&pk, "message", message);
}

int
flot_unpack_error (const void *data, size_t size, flot_err_t *err)
{
    flot_err_t local;
    flot_body_t *body = flot_body_decode (data, size, &local);
    if (!body) {
        flot_err_set (err, FLOT_E_INTERNAL, "error reply with a bad body: %s",
                      local.message);
        return -1;
    }
    uint64_t code = FLOT_E_INTERNAL;
    const msgpack_object *root = flot_body_root (body);
    const msgpack_object *message = NULL;
    int rc = 0;
    if (flot_map_uint (root, "code", true, 0, UINT16_MAX, &code, &local) < 0
    ||  flot_map_object (root, "message", true, MSGPACK_OBJECT_STR, &message, &local) < 0) {
        flot_err_set (err, FLOT_E_INTERNAL, "error reply with a bad body: %s",
                      local.message);
        rc = -1;
    }
    else {
        //  A sentence longer than we keep is cut, not refused.
        size_t size = message->via.str.size;
        if (size >= sizeof err->message)
            size = sizeof err->message - 1;
        memcpy (err->message, message->via.str.ptr, size);
        err->message [size] = 0;
        for (size_t i = 0; i < size; i++)
            if (err->message [i] == 0)
                err->message [i] = ' ';
        err->code = (int) code;
    }
    flot_body_destroy (&body);
    return rc;
}

//  --------------------------------------------------------------------------
//  Repeated keys

static int
s_key_order (const void *a, const void *b)
{
    const msgpack_object *x = *(const msgpack_object * const *) a;
    const msgpack_object *y = *(const msgpack_object * const *) b;
    if (x->via.str.size != y->via.str.size)
        return x->via.str.size < y->via.str.size ? -1 : 1;
    int order = x->via.str.size ? memcmp (x->via.str.ptr, y->via.str.ptr, x->via.str.size) : 0;
    //  Equal keys: the earlier one first, so the second is the one named.
    return order ? order : (x < y ? -1 : x > y);
}

const msgpack_object *
flot_map_repeated_key (const msgpack_object *map)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP || map->via.map.size < 2)
        return NULL;
    uint32_t size = map->via.map.size, count = 0;
    const msgpack_object **keys = malloc (size * sizeof *keys);
    if (!keys)
        return NULL;
    for (uint32_t i = 0; i < size; i++)
        if (map->via.map.ptr [i].key.type == MSGPACK_OBJECT_STR)
            keys [count++] = &map->via.map.ptr [i].key;
    qsort (keys, count, sizeof *keys, s_key_order);
    const msgpack_object *repeated = NULL;
    for (uint32_t i = 1; i < count && !repeated; i++)
        if (keys [i]->via.str.size == keys [i - 1]->via.str.size
        &&  (keys [i]->via.str.size == 0
         ||  memcmp (keys [i]->via.str.ptr, keys [i - 1]->via.str.ptr, keys [i]->via.str.size) == 0))
            repeated = keys [i];
    free (keys);
    return repeated;
}
