/*  flot_json.c - converts between JSON (jansson) and msgpack objects.  */
#include "flotilla/json.h"

#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 32
#define MAX_KEY_TEXT 256        //  bytes of a non-string key's JSON text

static int
s_pack (msgpack_packer *pk, const json_t *value, int depth)
{
    if (depth > MAX_DEPTH)
        return -1;
    switch (json_typeof (value)) {
        case JSON_OBJECT: {
            msgpack_pack_map (pk, json_object_size (value));
            const char *key;
            json_t *item;
            json_object_foreach ((json_t *) value, key, item) {
                size_t len = strlen (key);
                msgpack_pack_str (pk, len);
                msgpack_pack_str_body (pk, key, len);
                if (s_pack (pk, item, depth + 1))
                    return -1;
            }
            return 0;
        }
        case JSON_ARRAY: {
            msgpack_pack_array (pk, json_array_size (value));
            size_t index;
            json_t *item;
            json_array_foreach (value, index, item)
                if (s_pack (pk, item, depth + 1))
                    return -1;
            return 0;
        }
        case JSON_STRING: {
            size_t len = json_string_length (value);
            msgpack_pack_str (pk, len);
            msgpack_pack_str_body (pk, json_string_value (value), len);
            return 0;
        }
        case JSON_INTEGER: {
            json_int_t v = json_integer_value (value);
            if (v >= 0)
                msgpack_pack_uint64 (pk, (uint64_t) v);
            else
                msgpack_pack_int64 (pk, (int64_t) v);
            return 0;
        }
        case JSON_REAL:
            msgpack_pack_double (pk, json_real_value (value));
            return 0;
        case JSON_TRUE:
            msgpack_pack_true (pk);
            return 0;
        case JSON_FALSE:
            msgpack_pack_false (pk);
            return 0;
        case JSON_NULL:
            msgpack_pack_nil (pk);
            return 0;
    }
    return -1;
}

int
flot_json_pack (msgpack_packer *pk, const json_t *value)
{
    return s_pack (pk, value, 0);
}

static json_t *
s_hex (const char *data, size_t size)
{
    char *text = malloc (size * 2 + 1);
    if (!text)
        return NULL;
    for (size_t i = 0; i < size; i++)
        sprintf (text + 2 * i, "%02x", (unsigned char) data [i]);
    text [size * 2] = 0;
    json_t *value = json_string (text);
    free (text);
    return value;
}

//  Cuts text to at most max bytes, not inside a UTF-8 sequence. The JSON
//  text of a key that holds keys holds theirs escaped, so uncut, each level
//  of keys inside keys could double its size.
static void
s_cut (char *text, size_t max)
{
    if (strlen (text) <= max)
        return;
    while (max > 0 && ((unsigned char) text [max] & 0xc0) == 0x80)
        max--;
    text [max] = 0;
}

static json_t *
s_from (const msgpack_object *obj, int depth)
{
    if (depth > MAX_DEPTH)
        return NULL;
    switch (obj->type) {
        case MSGPACK_OBJECT_NIL: return json_null ();
        case MSGPACK_OBJECT_BOOLEAN: return json_boolean (obj->via.boolean);
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            //  JSON integers are signed 64-bit here; larger ones become reals.
            if (obj->via.u64 > (uint64_t) INT64_MAX)
                return json_real ((double) obj->via.u64);
            return json_integer ((json_int_t) obj->via.u64);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer (obj->via.i64);
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64: {
            //  JSON has no NaN or infinity, and json_real refuses them.
            json_t *real = json_real (obj->via.f64);
            return real ? real : json_null ();
        }
        case MSGPACK_OBJECT_STR: {
            //  Not UTF-8: shown as hex rather than lost.
            json_t *text = json_stringn (obj->via.str.ptr, obj->via.str.size);
            return text ? text : s_hex (obj->via.str.ptr, obj->via.str.size);
        }
        case MSGPACK_OBJECT_BIN: return s_hex (obj->via.bin.ptr, obj->via.bin.size);
        case MSGPACK_OBJECT_EXT: return s_hex (obj->via.ext.ptr, obj->via.ext.size);
        case MSGPACK_OBJECT_ARRAY: {
            json_t *array = json_array ();
            for (uint32_t i = 0; i < obj->via.array.size; i++) {
                json_t *item = s_from (&obj->via.array.ptr [i], depth + 1);
                if (!item) {
                    json_decref (array);
                    return NULL;
                }
                json_array_append_new (array, item);
            }
            return array;
        }
        case MSGPACK_OBJECT_MAP: {
            json_t *map = json_object ();
            for (uint32_t i = 0; i < obj->via.map.size; i++) {
                const msgpack_object *k = &obj->via.map.ptr [i].key;
                //  A string key as its text (hex if it is not UTF-8), any
                //  other key as its JSON text.
                json_t *kj = s_from (k, depth + 1);
                char *key = NULL;
                if (kj && k->type == MSGPACK_OBJECT_STR)
                    key = strdup (json_string_value (kj));
                else
                if (kj && (key = json_dumps (kj, JSON_ENCODE_ANY | JSON_COMPACT)))
                    s_cut (key, MAX_KEY_TEXT);
                json_decref (kj);
                json_t *item = key ? s_from (&obj->via.map.ptr [i].val, depth + 1) : NULL;
                if (!item) {
                    free (key);
                    json_decref (map);
                    return NULL;
                }
                json_object_set_new_nocheck (map, key, item);
                free (key);
            }
            return map;
        }
    }
    return NULL;
}

json_t *
flot_json_from_msgpack (const msgpack_object *obj)
{
    return s_from (obj, 0);
}
