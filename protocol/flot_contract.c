/*  flot_contract.c - the one codec of every contract message.

    Reads a decoded msgpack map into a message's C struct, and packs a C
    struct back into a map, both driven by the field tables that
    protocol/gen_contracts.py generates from the files of protocol/contracts. The
    tables say each field's key, type, limits, default and where it lives in
    the struct; this file holds no knowledge of any one message. Every body
    that reaches a handler or an answer callback through a contract has been
    through flot_decode; see flotilla/contract.h for the rules it enforces.
*/
#include "flotilla/contract.h"
#include "flotilla/body.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATH 200
#define MAX_KEY_TEXT 65         //  a key as error sentences quote it
#ifndef MIN
#   define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif

//  A key as an error sentence may quote it: at most 64 bytes, anything but
//  printable ASCII shown as '?', so that no control byte reaches a log.
static const char *
s_key_text (const msgpack_object *key, char *text)
{
    size_t size = MIN (key->via.str.size, MAX_KEY_TEXT - 1);
    for (size_t i = 0; i < size; i++) {
        char c = key->via.str.ptr [i];
        text [i] = c >= 0x20 && c < 0x7f ? c : '?';
    }
    text [size] = 0;
    return text;
}

//  The size in C of one value of type (an array's element).
static size_t
s_elem_size (const flot_field_t *f)
{
    switch (f->elem) {
        case FLOT_T_STR: return sizeof (const char *);
        case FLOT_T_UINT: return sizeof (uint64_t);
        case FLOT_T_INT: return sizeof (int64_t);
        case FLOT_T_BOOL: return sizeof (bool);
        case FLOT_T_DOUBLE: return sizeof (double);
        case FLOT_T_STRUCT: return f->sub->size;
        default: return sizeof (msgpack_object);
    }
}

static bool
s_key_is (const msgpack_object *key, const char *name)
{
    size_t len = strlen (name);
    return key->type == MSGPACK_OBJECT_STR && key->via.str.size == len
        && (len == 0 || memcmp (key->via.str.ptr, name, len) == 0);
}

//  Copies a string object into zone, NUL-terminated. NULL if out of memory.
static const char *
s_zone_str (msgpack_zone *zone, const msgpack_object *obj)
{
    char *copy = msgpack_zone_malloc (zone, obj->via.str.size + 1);
    if (copy) {
        if (obj->via.str.size)
            memcpy (copy, obj->via.str.ptr, obj->via.str.size);
        copy [obj->via.str.size] = 0;
    }
    return copy;
}

typedef struct path_s path_t;
static const char *s_text (const path_t *path, char *text);
#define PATH(path) s_text ((path), (char [MAX_PATH]) { 0 })

static int
s_oom (flot_err_t *err, const path_t *path)
{
    return flot_err_set (err, FLOT_E_INTERNAL, "field '%s': out of memory", PATH (path));
}

//  Where a value is in the body: a chain from the value up to the body,
//  written out (a.b[2].c) only when an error sentence names it, since
//  writing it for every field cost every decode more than the rest.
struct path_s {
    const path_t *up;           //  NULL: a field of the body
    const char *name;           //  a field's name or a map's key; NULL: an item
    uint32_t index;             //  an array item's
};

static void
s_write (const path_t *path, char *text, size_t *used)
{
    if (!path)
        return;
    s_write (path->up, text, used);
    if (*used >= MAX_PATH)
        return;
    int wrote = path->name
        ? snprintf (text + *used, MAX_PATH - *used, "%s%s", *used ? "." : "", path->name)
        : snprintf (text + *used, MAX_PATH - *used, "[%u]", path->index);
    *used += wrote > 0 ? (size_t) wrote : 0;
}

//  The path as text in text (MAX_PATH bytes): a truncated one ends in
//  "...", which only shortens an error sentence.
static const char *
s_text (const path_t *path, char *text)
{
    size_t used = 0;
    text [0] = 0;
    s_write (path, text, &used);
    if (used >= MAX_PATH)
        strcpy (text + MAX_PATH - 4, "...");
    return text;
}

static int s_struct (const flot_struct_t *def, const msgpack_object *map,
                     msgpack_zone *zone, void *out, const path_t *where, flot_err_t *err);

//  Reads one value of type into dst; lo and hi bound a string's length or
//  a uint (the field's own limits, or its elements').
static int
s_value (const flot_field_t *f, int type, const msgpack_object *obj, void *dst,
         uint64_t lo, uint64_t hi, msgpack_zone *zone, const path_t *path, flot_err_t *err)
{
    switch (type) {
        case FLOT_T_STR: {
            if (obj->type != MSGPACK_OBJECT_STR)
                return flot_err_set (err, FLOT_E_INVALID,
                    "field '%s' is %s, expected a string", PATH (path), flot_type_name (obj->type));
            uint32_t size = obj->via.str.size;
            if (size > hi)
                return flot_err_set (err, FLOT_E_INVALID,
                    "field '%s' is %u bytes, the limit is %llu", PATH (path), size,
                    (unsigned long long) hi);
            if (size < lo)
                return flot_err_set (err, FLOT_E_INVALID,
                    "field '%s' is %u bytes, expected at least %llu",
                    PATH (path), size, (unsigned long long) lo);
            if (size && memchr (obj->via.str.ptr, 0, size))
                return flot_err_set (err, FLOT_E_INVALID,
                    "field '%s' contains a NUL byte", PATH (path));
            const char *s = s_zone_str (zone, obj);
            if (!s)
                return s_oom (err, path);
            if (f->choices && type == f->type) {
                const char *const *c = f->choices;
                while (*c && strcmp (*c, s))
                    c++;
                if (!*c) {
                    char list [160] = "";
                    for (c = f->choices; *c; c++) {
                        size_t used = strlen (list);
                        snprintf (list + used, sizeof list - used, "%s%s",
                                  used ? ", " : "", *c);
                    }
                    return flot_err_set (err, FLOT_E_INVALID,
                        "field '%s': '%.60s' is not one of %s", PATH (path), s, list);
                }
            }
            *(const char **) dst = s;
            return 0;
        }
        case FLOT_T_UINT: {
            if (obj->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return flot_err_set (err, FLOT_E_INVALID,
                    "field '%s' is %s, expected an integer in %llu..%llu", PATH (path),
                    flot_type_name (obj->type), (unsigned long long) lo, (unsigned long long) hi);
            if (obj->via.u64 < lo || obj->via.u64 > hi)
                return flot_err_set (err, FLOT_E_INVALID,
                    "field '%s': %llu is not in %llu..%llu", PATH (path),
                    (unsigned long long) obj->via.u64, (unsigned long long) lo,
                    (unsigned long long) hi);
            *(uint64_t *) dst = obj->via.u64;
            return 0;
        }
        case FLOT_T_INT: {
            int64_t v;
            if (obj->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                v = obj->via.i64;
            else
            if (obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER && obj->via.u64 <= INT64_MAX)
                v = (int64_t) obj->via.u64;
            else
                return flot_err_set (err, FLOT_E_INVALID,
                    "field '%s' is %s, expected an integer in %lld..%lld", PATH (path),
                    flot_type_name (obj->type), (long long) f->imin, (long long) f->imax);
            if (v < f->imin || v > f->imax)
                return flot_err_set (err, FLOT_E_INVALID,
                    "field '%s': %lld is not in %lld..%lld", PATH (path), (long long) v,
                    (long long) f->imin, (long long) f->imax);
            *(int64_t *) dst = v;
            return 0;
        }
        case FLOT_T_BOOL:
            if (obj->type != MSGPACK_OBJECT_BOOLEAN)
                return flot_err_set (err, FLOT_E_INVALID,
                    "field '%s' is %s, expected a boolean", PATH (path), flot_type_name (obj->type));
            *(bool *) dst = obj->via.boolean;
            return 0;
        case FLOT_T_DOUBLE: {
            double v;
            switch (obj->type) {
                case MSGPACK_OBJECT_FLOAT32:
                case MSGPACK_OBJECT_FLOAT64: v = obj->via.f64; break;
                case MSGPACK_OBJECT_POSITIVE_INTEGER: v = (double) obj->via.u64; break;
                case MSGPACK_OBJECT_NEGATIVE_INTEGER: v = (double) obj->via.i64; break;
                default:
                    return flot_err_set (err, FLOT_E_INVALID,
                        "field '%s' is %s, expected a number", PATH (path), flot_type_name (obj->type));
            }
            //  NaN passes an unbounded field (a metric's value may be one,
            //  SPEC 20), and no bounded one.
            if (isnan (v) && (isfinite (f->dmin) || isfinite (f->dmax)))
                return flot_err_set (err, FLOT_E_INVALID,
                    "field '%s' is NaN, expected a number in %g..%g", PATH (path), f->dmin, f->dmax);
            if (v < f->dmin || v > f->dmax)
                return flot_err_set (err, FLOT_E_INVALID,
                    "field '%s': %g is not in %g..%g", PATH (path), v, f->dmin, f->dmax);
            *(double *) dst = v;
            return 0;
        }
        case FLOT_T_ANY:
            *(msgpack_object *) dst = *obj;
            return 0;
        case FLOT_T_MAP:
            if (obj->type != MSGPACK_OBJECT_MAP)
                return flot_err_set (err, FLOT_E_INVALID,
                    "field '%s' is %s, expected a map", PATH (path), flot_type_name (obj->type));
            *(msgpack_object *) dst = *obj;
            return 0;
        case FLOT_T_STRUCT:
            return s_struct (f->sub, obj, zone, dst, path, err);
    }
    return flot_err_set (err, FLOT_E_INTERNAL, "field '%s': no such type %d", PATH (path), type);
}

int
flot_decode_scalar (const flot_field_t *f, const msgpack_object *obj, void *out,
                    const char *path, flot_err_t *err)
{
    assert (f->type == FLOT_T_UINT || f->type == FLOT_T_INT
         || f->type == FLOT_T_BOOL || f->type == FLOT_T_DOUBLE);
    const path_t field = { NULL, path, 0 };
    return s_value (f, f->type, obj, out, f->umin, f->umax, NULL, &field, err);
}

static int
s_strmap (const flot_field_t *f, const msgpack_object *obj, flot_strmap_t *dst,
          msgpack_zone *zone, const path_t *path, flot_err_t *err)
{
    if (obj->type != MSGPACK_OBJECT_MAP)
        return flot_err_set (err, FLOT_E_INVALID,
            "field '%s' is %s, expected a map of strings", PATH (path), flot_type_name (obj->type));
    uint32_t size = obj->via.map.size;
    if (size < f->umin || size > f->umax)
        return flot_err_set (err, FLOT_E_INVALID,
            "field '%s' has %u entries, expected %llu..%llu", PATH (path), size,
            (unsigned long long) f->umin, (unsigned long long) f->umax);
    char key_text [MAX_KEY_TEXT];
    const msgpack_object *repeated = flot_map_repeated_key (obj);
    if (repeated)
        return flot_err_set (err, FLOT_E_INVALID, "field '%s.%s' is given twice",
                             PATH (path), s_key_text (repeated, key_text));
    dst->count = size;
    dst->items = size ? msgpack_zone_malloc (zone, size * sizeof *dst->items) : NULL;
    if (size && !dst->items)
        return s_oom (err, path);
    for (uint32_t i = 0; i < size; i++) {
        const msgpack_object *key = &obj->via.map.ptr [i].key;
        const msgpack_object *val = &obj->via.map.ptr [i].val;
        if (key->type != MSGPACK_OBJECT_STR)
            return flot_err_set (err, FLOT_E_INVALID,
                "field '%s' has a key that is %s, expected a string", PATH (path),
                flot_type_name (key->type));
        const path_t item = { path, s_key_text (key, key_text), 0 };
        if (s_value (f, FLOT_T_STR, key, &dst->items [i].key, f->emin, f->emax, zone, &item, err)
        ||  s_value (f, FLOT_T_STR, val, &dst->items [i].value, 0, f->emax, zone, &item, err))
            return -1;
    }
    return 0;
}

static int
s_array (const flot_field_t *f, const msgpack_object *obj, flot_array_t *dst,
         msgpack_zone *zone, const path_t *path, flot_err_t *err)
{
    if (obj->type != MSGPACK_OBJECT_ARRAY)
        return flot_err_set (err, FLOT_E_INVALID,
            "field '%s' is %s, expected an array", PATH (path), flot_type_name (obj->type));
    uint32_t size = obj->via.array.size;
    if (size < f->umin || size > f->umax)
        return flot_err_set (err, FLOT_E_INVALID,
            "field '%s' has %u items, expected %llu..%llu", PATH (path), size,
            (unsigned long long) f->umin, (unsigned long long) f->umax);
    size_t elem = s_elem_size (f);
    dst->count = size;
    dst->items = size ? msgpack_zone_malloc (zone, size * elem) : NULL;
    if (size && !dst->items)
        return s_oom (err, path);
    if (size)
        memset (dst->items, 0, size * elem);
    for (uint32_t i = 0; i < size; i++) {
        const path_t item = { path, NULL, i };
        if (s_value (f, f->elem, &obj->via.array.ptr [i], (char *) dst->items + i * elem,
                     f->emin, f->emax, zone, &item, err))
            return -1;
    }
    return 0;
}

//  Sets an absent optional field's default.
static void
s_default (const flot_field_t *f, char *base)
{
    void *dst = base + f->offset;
    switch (f->type) {
        case FLOT_T_STR: *(const char **) dst = f->sdefault; break;
        case FLOT_T_UINT: *(uint64_t *) dst = f->udefault; break;
        case FLOT_T_INT: *(int64_t *) dst = f->idefault; break;
        case FLOT_T_BOOL: *(bool *) dst = f->bdefault; break;
        case FLOT_T_DOUBLE: *(double *) dst = f->ddefault; break;
        default: break;
    }
}

static int
s_field (const flot_field_t *f, const msgpack_object *val, char *base,
         msgpack_zone *zone, const path_t *path, flot_err_t *err)
{
    void *dst = base + f->offset;
    int rc;
    switch (f->type) {
        case FLOT_T_STRMAP:
            rc = s_strmap (f, val, dst, zone, path, err);
            break;
        case FLOT_T_ARRAY:
            rc = s_array (f, val, dst, zone, path, err);
            break;
        case FLOT_T_ANY:
        case FLOT_T_MAP:
            //  Held by pointer: the object lives in the decoded body.
            if (f->type == FLOT_T_MAP && val->type != MSGPACK_OBJECT_MAP)
                return flot_err_set (err, FLOT_E_INVALID,
                    "field '%s' is %s, expected a map", PATH (path), flot_type_name (val->type));
            *(const msgpack_object **) dst = val;
            rc = 0;
            break;
        case FLOT_T_STRUCT: {
            void *sub = msgpack_zone_malloc (zone, f->sub->size);
            if (!sub)
                return s_oom (err, path);
            memset (sub, 0, f->sub->size);
            rc = s_struct (f->sub, val, zone, sub, path, err);
            *(void **) dst = sub;
            break;
        }
        default:
            rc = s_value (f, f->type, val, dst, f->umin, f->umax, zone, path, err);
    }
    if (rc == 0 && f->has_offset != SIZE_MAX)
        *(bool *) (base + f->has_offset) = true;
    return rc;
}

static int
s_struct (const flot_struct_t *def, const msgpack_object *map, msgpack_zone *zone,
          void *out, const path_t *where, flot_err_t *err)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return where
            ? flot_err_set (err, FLOT_E_INVALID, "field '%s' is %s, expected a map",
                            PATH (where), flot_type_name (map->type))
            : flot_err_set (err, FLOT_E_INVALID, "the body is %s, expected a map",
                            flot_type_name (map->type));
    assert (def->field_count <= 64);
    uint64_t seen = 0;          //  keys met, nil or not
    uint64_t present = 0;       //  of those, with a value other than nil
    bool unknown = false;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *key = &map->via.map.ptr [i].key;
        const msgpack_object *val = &map->via.map.ptr [i].val;
        if (key->type != MSGPACK_OBJECT_STR)
            return where
                ? flot_err_set (err, FLOT_E_INVALID, "field '%s' has a key that is %s, "
                                "expected a string", PATH (where), flot_type_name (key->type))
                : flot_err_set (err, FLOT_E_INVALID, "the body has a key that is %s, "
                                "expected a string", flot_type_name (key->type));
        size_t index = 0;
        while (index < def->field_count && !s_key_is (key, def->fields [index].name))
            index++;
        if (index == def->field_count) {
            unknown = true;             //  SPEC 13: ignored
            continue;
        }
        const flot_field_t *f = &def->fields [index];
        const path_t field = { where, f->name, 0 };
        const path_t *path = &field;
        if (seen & (1ULL << index))
            return flot_err_set (err, FLOT_E_INVALID, "field '%s' is given twice", PATH (path));
        seen |= 1ULL << index;
        if (val->type == MSGPACK_OBJECT_NIL)
            continue;                   //  nil counts as absent (SPEC 3.2)
        present |= 1ULL << index;
        if (s_field (f, val, out, zone, path, err))
            return -1;
    }
    if (unknown) {
        const msgpack_object *repeated = flot_map_repeated_key (map);
        if (repeated) {
            char key [MAX_KEY_TEXT];
            const path_t field = { where, s_key_text (repeated, key), 0 };
            return flot_err_set (err, FLOT_E_INVALID, "field '%s' is given twice",
                                 PATH (&field));
        }
    }
    for (size_t index = 0; index < def->field_count; index++) {
        const flot_field_t *f = &def->fields [index];
        if (present & (1ULL << index))
            continue;
        if (f->required) {
            const path_t field = { where, f->name, 0 };
            return flot_err_set (err, FLOT_E_INVALID, "field '%s' is required",
                                 PATH (&field));
        }
        if (f->has_default)
            s_default (f, out);
    }
    return 0;
}

int
flot_decode (const flot_struct_t *def, const msgpack_object *map,
             msgpack_zone *zone, void *out, flot_err_t *err)
{
    assert (def && map && zone && out);
    memset (out, 0, def->size);
    return s_struct (def, map, zone, out, NULL, err);
}

void *
flot_decode_new (const flot_struct_t *def, const msgpack_object *map,
                 msgpack_zone *zone, flot_err_t *err)
{
    void *out = msgpack_zone_malloc (zone, def->size);
    if (!out) {
        flot_err_set (err, FLOT_E_INTERNAL, "%s: out of memory", def->name);
        return NULL;
    }
    return flot_decode (def, map, zone, out, err) ? NULL : out;
}

//  --------------------------------------------------------------------------
//  Encoding

static void
s_pack_value (int type, const flot_field_t *f, const void *src, msgpack_packer *pk)
{
    switch (type) {
        case FLOT_T_STR: {
            const char *s = *(const char * const *) src;
            flot_pack_str (pk, s ? s : "");
            break;
        }
        case FLOT_T_UINT: msgpack_pack_uint64 (pk, *(const uint64_t *) src); break;
        case FLOT_T_INT: msgpack_pack_int64 (pk, *(const int64_t *) src); break;
        case FLOT_T_BOOL:
            if (*(const bool *) src)
                msgpack_pack_true (pk);
            else
                msgpack_pack_false (pk);
            break;
        case FLOT_T_DOUBLE: msgpack_pack_double (pk, *(const double *) src); break;
        case FLOT_T_ANY:
        case FLOT_T_MAP: msgpack_pack_object (pk, *(const msgpack_object *) src); break;
        case FLOT_T_STRUCT: flot_encode (f->sub, src, pk); break;
    }
}

//  True if the field is to be packed.
static bool
s_present (const flot_field_t *f, const char *base)
{
    const void *src = base + f->offset;
    if (f->has_offset != SIZE_MAX)
        return *(const bool *) (base + f->has_offset);
    switch (f->type) {
        case FLOT_T_STR: {
            //  A string at its default is as good as absent.
            const char *value = *(const char * const *) src;
            if (value && f->has_default && strcmp (value, f->sdefault) == 0)
                return false;
            return f->required || value;
        }
        case FLOT_T_ANY:
        case FLOT_T_MAP:
        case FLOT_T_STRUCT:
            //  The caller fills what the contract requires.
            assert (!f->required || *(const void * const *) src);
            return *(const void * const *) src != NULL;
        case FLOT_T_STRMAP:
            return f->required || ((const flot_strmap_t *) src)->count;
        case FLOT_T_ARRAY:
            return f->required || ((const flot_array_t *) src)->count;
        default:
            return true;
    }
}

int
flot_encode (const flot_struct_t *def, const void *in, msgpack_packer *pk)
{
    const char *base = in;
    size_t count = 0;
    for (size_t i = 0; i < def->field_count; i++)
        count += s_present (&def->fields [i], base);
    msgpack_pack_map (pk, count);
    for (size_t i = 0; i < def->field_count; i++) {
        const flot_field_t *f = &def->fields [i];
        if (!s_present (f, base))
            continue;
        const void *src = base + f->offset;
        flot_pack_str (pk, f->name);
        switch (f->type) {
            case FLOT_T_ANY:
            case FLOT_T_MAP:
                msgpack_pack_object (pk, **(const msgpack_object * const *) src);
                break;
            case FLOT_T_STRUCT:
                flot_encode (f->sub, *(const void * const *) src, pk);
                break;
            case FLOT_T_STRMAP: {
                const flot_strmap_t *m = src;
                msgpack_pack_map (pk, m->count);
                for (size_t k = 0; k < m->count; k++) {
                    flot_pack_str (pk, m->items [k].key);
                    flot_pack_str (pk, m->items [k].value);
                }
                break;
            }
            case FLOT_T_ARRAY: {
                const flot_array_t *a = src;
                size_t elem = s_elem_size (f);
                msgpack_pack_array (pk, a->count);
                for (size_t k = 0; k < a->count; k++)
                    s_pack_value (f->elem, f, (const char *) a->items + k * elem, pk);
                break;
            }
            default:
                s_pack_value (f->type, f, src, pk);
        }
    }
    return 0;
}

void
flot_encode_sbuf (const flot_struct_t *def, const void *in, msgpack_sbuffer *sbuf)
{
    msgpack_packer pk;
    msgpack_sbuffer_init (sbuf);
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    flot_encode (def, in, &pk);
}

const flot_command_def_t *
flot_contract_command (const flot_contract_t *contract, const char *name)
{
    for (size_t i = 0; i < contract->command_count; i++)
        if (strcmp (contract->commands [i].name, name) == 0)
            return &contract->commands [i];
    return NULL;
}

const flot_event_def_t *
flot_event_def (const char *type)
{
    for (size_t i = 0; i < flot_event_def_count; i++)
        if (strcmp (flot_event_defs [i].type, type) == 0)
            return &flot_event_defs [i];
    return NULL;
}
