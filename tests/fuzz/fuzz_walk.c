/*  fuzz_walk.c - reads a fuzzed body every way a receiver might, and checks
    the codec's promises on the way (see fuzz_walk.h).
*/
#include "fuzz_walk.h"

#include <string.h>

#include "flotilla/body.h"
#include "flotilla/json.h"

//  A getter's answer: 1 found, 0 absent, or -1 with an INVALID error that
//  names the field.
static void
s_assert_getter (int rc, const char *key, const flot_err_t *err)
{
    FUZZ_ASSERT (rc >= -1 && rc <= 1);
    if (rc == -1) {
        FUZZ_ASSERT (err->code == FLOT_E_INVALID);
        char needle [80];
        snprintf (needle, sizeof needle, "field '%s'", key);
        if (strlen (key) < 64)
            FUZZ_ASSERT (strstr (err->message, needle));
    }
}

//  Reads one field with every typed getter.
static void
s_read_field (const msgpack_object *map, const char *key)
{
    flot_err_t err;
    for (int required = 0; required < 2; required++) {
        char small [2], medium [17], large [300];
        s_assert_getter (flot_map_str (map, key, required, small, sizeof small, &err), key, &err);
        s_assert_getter (flot_map_str (map, key, required, medium, sizeof medium, &err), key, &err);
        int rc = flot_map_str (map, key, required, large, sizeof large, &err);
        s_assert_getter (rc, key, &err);
        if (rc == 1)
            FUZZ_ASSERT (strlen (large) < sizeof large);
        uint64_t u;
        rc = flot_map_uint (map, key, required, 1, 1000, &u, &err);
        s_assert_getter (rc, key, &err);
        if (rc == 1)
            FUZZ_ASSERT (u >= 1 && u <= 1000);
        s_assert_getter (flot_map_uint (map, key, required, 0, UINT64_MAX, &u, &err), key, &err);
        int64_t i;
        rc = flot_map_int (map, key, required, -5, 5, &i, &err);
        s_assert_getter (rc, key, &err);
        if (rc == 1)
            FUZZ_ASSERT (i >= -5 && i <= 5);
        s_assert_getter (flot_map_int (map, key, required, INT64_MIN, INT64_MAX, &i, &err), key, &err);
        bool b;
        s_assert_getter (flot_map_bool (map, key, required, &b, &err), key, &err);
        double d;
        s_assert_getter (flot_map_double (map, key, required, &d, &err), key, &err);
        const msgpack_object *obj;
        rc = flot_map_object (map, key, required, MSGPACK_OBJECT_MAP, &obj, &err);
        s_assert_getter (rc, key, &err);
        if (rc == 1)
            FUZZ_ASSERT (obj->type == MSGPACK_OBJECT_MAP);
        rc = flot_map_object (map, key, required, MSGPACK_OBJECT_ARRAY, &obj, &err);
        s_assert_getter (rc, key, &err);
        if (rc == 1)
            FUZZ_ASSERT (obj->type == MSGPACK_OBJECT_ARRAY);
    }
}

//  Reads the fields of a map, and of the maps in it, to a few levels (the
//  first 64 of each: a getter looks keys up one by one).
static void
s_read_map (const msgpack_object *map, int depth)
{
    if (map->type != MSGPACK_OBJECT_MAP || depth > 3)
        return;
    for (uint32_t i = 0; i < map->via.map.size && i < 64; i++) {
        const msgpack_object *k = &map->via.map.ptr [i].key;
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size >= 256)
            continue;
        //  msgpack-c may give an empty string a NULL pointer.
        char key [256];
        if (k->via.str.size)
            memcpy (key, k->via.str.ptr, k->via.str.size);
        key [k->via.str.size] = 0;
        s_read_field (map, key);
        //  A key with no NUL in it finds a value (the first of its name).
        if (strlen (key) == k->via.str.size)
            FUZZ_ASSERT (flot_map_get (map, key) != NULL);
        s_read_map (&map->via.map.ptr [i].val, depth + 1);
    }
    s_read_field (map, "");
    s_read_field (map, "a-key-that-is-not-there");
}

//  The JSON of obj prints, and packs back to the same JSON.
static void
s_check_json (const msgpack_object *obj)
{
    json_t *json = flot_json_from_msgpack (obj);
    FUZZ_ASSERT (json);
    char *text = json_dumps (json, JSON_ENCODE_ANY | JSON_COMPACT);
    FUZZ_ASSERT (text);
    free (text);

    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    FUZZ_ASSERT (flot_json_pack (&pk, json) == 0);
    msgpack_zone zone;
    FUZZ_ASSERT (msgpack_zone_init (&zone, 1024));
    msgpack_object again;
    size_t offset = 0;
    FUZZ_ASSERT (msgpack_unpack (sbuf.data, sbuf.size, &offset, &zone, &again)
                 == MSGPACK_UNPACK_SUCCESS);
    FUZZ_ASSERT (offset == sbuf.size);
    json_t *json_again = flot_json_from_msgpack (&again);
    FUZZ_ASSERT (json_again);
    FUZZ_ASSERT (json_equal (json, json_again));
    json_decref (json_again);
    msgpack_zone_destroy (&zone);
    msgpack_sbuffer_destroy (&sbuf);
    json_decref (json);
}

void
fuzz_walk_body (const uint8_t *data, size_t size)
{
    flot_err_t err_map, err_any;
    int check_map = flot_body_check (data, size, true, &err_map);
    int check_any = flot_body_check (data, size, false, &err_any);
    FUZZ_ASSERT (check_map == 0 || check_map == -1);
    FUZZ_ASSERT (check_any == 0 || check_any == -1);
    if (check_map)
        FUZZ_ASSERT (err_map.code == FLOT_E_MALFORMED || err_map.code == FLOT_E_TOO_LARGE);
    if (check_any)
        FUZZ_ASSERT (err_any.code == FLOT_E_MALFORMED || err_any.code == FLOT_E_TOO_LARGE);
    if (check_map == 0)
        FUZZ_ASSERT (check_any == 0);

    //  What the check accepts, msgpack-c unpacks whole (and only that is
    //  given to msgpack-c: unchecked input could make it allocate wildly).
    if (check_any == 0) {
        msgpack_zone zone;
        FUZZ_ASSERT (msgpack_zone_init (&zone, 1024));
        msgpack_object obj;
        size_t offset = 0;
        FUZZ_ASSERT (msgpack_unpack ((const char *) data, size, &offset, &zone, &obj)
                     == MSGPACK_UNPACK_SUCCESS);
        FUZZ_ASSERT (offset == size);
        s_check_json (&obj);
        msgpack_zone_destroy (&zone);
    }

    flot_err_t err;
    flot_body_t *body = flot_body_decode (data, size, &err);
    FUZZ_ASSERT ((body != NULL) == (check_map == 0));
    if (!body) {
        FUZZ_ASSERT (err.code == err_map.code);
        FUZZ_ASSERT (strcmp (err.message, err_map.message) == 0);
    }
    else {
        const msgpack_object *root = flot_body_root (body);
        FUZZ_ASSERT (root->type == MSGPACK_OBJECT_MAP);
        s_read_map (root, 0);
        s_check_json (root);
        flot_body_destroy (&body);
        FUZZ_ASSERT (body == NULL);
    }

    flot_err_t error = { 0, "" };
    int rc = flot_unpack_error (data, size, &error);
    FUZZ_ASSERT (rc == 0 || rc == -1);
    if (rc == 0)
        FUZZ_ASSERT (error.code >= 0 && error.code <= UINT16_MAX);
    else
        FUZZ_ASSERT (error.code == FLOT_E_INTERNAL);
}
