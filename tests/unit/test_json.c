/*  test_json.c - unit tests for JSON <-> msgpack (flot_json.c).

    Proves that JSON values survive JSON -> msgpack -> JSON unchanged (objects,
    arrays, integers of every width and sign, reals, booleans, null, unicode
    strings), that both directions refuse nesting deeper than 32, and that
    msgpack with no JSON form (binary, extensions, strings that are not UTF-8,
    keys that are not strings, non-finite floats) still becomes JSON that can
    be printed.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flotilla/json.h"

//  Parses JSON text (any value, NUL allowed in strings).
static json_t *
s_parse (const char *text)
{
    json_error_t error;
    json_t *value = json_loads (text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
    if (!value)
        fail_msg ("bad JSON in test: %s: %s", text, error.text);
    return value;
}

//  Compact, sorted JSON text of a value; caller frees.
static char *
s_dump (const json_t *value)
{
    char *text = json_dumps (value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        fail_msg ("value cannot be printed as JSON");
    return text;
}

//  One msgpack object from bytes; the zone holds it.
static msgpack_object
s_unpack (const char *data, size_t size, msgpack_zone *zone)
{
    msgpack_object obj;
    size_t offset = 0;
    assert_int_equal (msgpack_unpack (data, size, &offset, zone, &obj),
                      MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (offset, size);
    return obj;
}

//  The JSON of packed msgpack bytes, as sorted compact text; caller frees.
static char *
s_json_of_bytes (const char *data, size_t size)
{
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    msgpack_object obj = s_unpack (data, size, &zone);
    json_t *value = flot_json_from_msgpack (&obj);
    msgpack_zone_destroy (&zone);
    if (!value)
        fail_msg ("flot_json_from_msgpack returned NULL");
    char *text = s_dump (value);
    json_decref (value);
    return text;
}

//  text -> JSON -> msgpack -> JSON: the same value, the same text. Returns
//  the type of the msgpack object it went through.
static msgpack_object_type
s_round_trip (const char *text)
{
    json_t *before = s_parse (text);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    assert_int_equal (flot_json_pack (&pk, before), 0);

    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    msgpack_object obj = s_unpack (sbuf.data, sbuf.size, &zone);
    json_t *after = flot_json_from_msgpack (&obj);
    if (!after)
        fail_msg ("%s: flot_json_from_msgpack returned NULL", text);
    if (!json_equal (before, after)) {
        char *a = s_dump (before), *b = s_dump (after);
        fail_msg ("%s came back as %s", a, b);
    }
    char *a = s_dump (before), *b = s_dump (after);
    assert_string_equal (a, b);
    free (a);
    free (b);
    msgpack_object_type type = obj.type;
    json_decref (before);
    json_decref (after);
    msgpack_zone_destroy (&zone);
    msgpack_sbuffer_destroy (&sbuf);
    return type;
}

static void
test_json_round_trips_objects (void **state)
{
    (void) state;
    assert_int_equal (s_round_trip ("{}"), MSGPACK_OBJECT_MAP);
    assert_int_equal (s_round_trip ("{\"a\": 1}"), MSGPACK_OBJECT_MAP);
    s_round_trip ("{\"a\": 1, \"b\": {\"c\": [1, 2, {\"d\": \"e\"}]}, \"empty\": {},"
                  " \"list\": [], \"key with spaces\": \"v\", \"\": 0}");
    //  Sixteen keys and more: a map 16.
    s_round_trip ("{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,"
                  "\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10,\"k11\":11,\"k12\":12,"
                  "\"k13\":13,\"k14\":14,\"k15\":15,\"k16\":16}");
}

static void
test_json_round_trips_arrays (void **state)
{
    (void) state;
    assert_int_equal (s_round_trip ("[]"), MSGPACK_OBJECT_ARRAY);
    assert_int_equal (s_round_trip ("[1, \"two\", 3.5, [], [[]], {\"x\": null}, true]"),
                      MSGPACK_OBJECT_ARRAY);
    s_round_trip ("[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]");
}

static void
test_json_round_trips_integers (void **state)
{
    (void) state;
    static const char *positive [] = {
        "0", "1", "127", "128", "255", "256", "65535", "65536",
        "4294967295", "4294967296", "9223372036854775807"
    };
    static const char *negative [] = {
        "-1", "-32", "-33", "-128", "-129", "-32768", "-32769",
        "-2147483648", "-2147483649", "-9223372036854775808"
    };
    for (size_t i = 0; i < sizeof positive / sizeof positive [0]; i++)
        assert_int_equal (s_round_trip (positive [i]), MSGPACK_OBJECT_POSITIVE_INTEGER);
    for (size_t i = 0; i < sizeof negative / sizeof negative [0]; i++)
        assert_int_equal (s_round_trip (negative [i]), MSGPACK_OBJECT_NEGATIVE_INTEGER);
    s_round_trip ("{\"min\": -9223372036854775808, \"max\": 9223372036854775807}");
}

static void
test_json_round_trips_reals (void **state)
{
    (void) state;
    static const char *reals [] = {
        "0.5", "-0.25", "1.0", "0.0", "1e300", "-1e-300", "3.141592653589793",
        "2.2250738585072014e-308", "1.7976931348623157e308", "123456789.125"
    };
    for (size_t i = 0; i < sizeof reals / sizeof reals [0]; i++)
        assert_int_equal (s_round_trip (reals [i]), MSGPACK_OBJECT_FLOAT64);
}

static void
test_json_round_trips_bools_and_null (void **state)
{
    (void) state;
    assert_int_equal (s_round_trip ("true"), MSGPACK_OBJECT_BOOLEAN);
    assert_int_equal (s_round_trip ("false"), MSGPACK_OBJECT_BOOLEAN);
    assert_int_equal (s_round_trip ("null"), MSGPACK_OBJECT_NIL);
    s_round_trip ("{\"t\": true, \"f\": false, \"n\": null, \"l\": [null, true, false]}");
}

static void
test_json_round_trips_unicode_strings (void **state)
{
    (void) state;
    static const char *strings [] = {
        "\"\"", "\"hello\"", "\"h\\u00e9llo\"", "\"h\xc3\xa9llo\"",
        "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"",             //  three 3-byte
        "\"\xf0\x9f\x98\x80\"", "\"\\ud83d\\ude00\"",          //  a 4-byte, and escaped
        "\"tab\\tnewline\\nquote\\\"backslash\\\\\"",
        "\"\\u0001\\u001f\\u007f\"",
        "\"a\\u0000b\"",                                         //  NUL inside
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings [0]; i++)
        assert_int_equal (s_round_trip (strings [i]), MSGPACK_OBJECT_STR);
    s_round_trip ("{\"\xc3\xa9t\xc3\xa9\": \"\xe2\x82\xac\", \"\xf0\x9f\x9a\x80\": [\"\xc3\xb1\"]}");
    //  A string of 300 bytes: a str 16.
    char text [320];
    text [0] = '"';
    memset (text + 1, 'x', 300);
    strcpy (text + 301, "\"");
    s_round_trip (text);
}

//  JSON nested `levels` arrays deep, with 1 in the innermost.
static char *
s_deep_json (int levels)
{
    char *text = malloc ((size_t) levels * 2 + 2);
    assert_non_null (text);
    memset (text, '[', (size_t) levels);
    text [levels] = '1';
    memset (text + levels + 1, ']', (size_t) levels);
    text [2 * levels + 1] = 0;
    return text;
}

static void
test_json_pack_refuses_nesting_deeper_than_32 (void **state)
{
    (void) state;
    char *text = s_deep_json (32);
    s_round_trip (text);
    free (text);

    text = s_deep_json (33);
    json_t *value = s_parse (text);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    assert_int_equal (flot_json_pack (&pk, value), -1);
    json_decref (value);
    msgpack_sbuffer_destroy (&sbuf);
    free (text);

    //  Objects count as levels too.
    value = s_parse ("{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
                     "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
                     "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
                     "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
                     "{\"a\":1}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}");
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    assert_int_equal (flot_json_pack (&pk, value), -1);
    json_decref (value);
    msgpack_sbuffer_destroy (&sbuf);
}

//  msgpack nested `levels` arrays deep, with 1 in the innermost.
static void
s_deep_msgpack (msgpack_sbuffer *sbuf, int levels)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    for (int i = 0; i < levels; i++)
        msgpack_pack_array (&pk, 1);
    msgpack_pack_uint8 (&pk, 1);
}

static void
test_json_from_msgpack_refuses_nesting_deeper_than_32 (void **state)
{
    (void) state;
    //  msgpack-c's own unpacker stops at 32, so the objects are built by hand.
    msgpack_object leaf = { .type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 1 };
    msgpack_object levels [40];
    for (int i = 0; i < 40; i++) {
        levels [i].type = MSGPACK_OBJECT_ARRAY;
        levels [i].via.array.size = 1;
        levels [i].via.array.ptr = i == 0 ? &leaf : &levels [i - 1];
    }
    //  levels [n - 1] is n arrays deep.
    json_t *value = flot_json_from_msgpack (&levels [31]);
    assert_non_null (value);
    char *text = s_dump (value);
    char *expected = s_deep_json (32);
    assert_string_equal (text, expected);
    free (text);
    free (expected);
    json_decref (value);
    assert_null (flot_json_from_msgpack (&levels [32]));
    assert_null (flot_json_from_msgpack (&levels [39]));

    //  And what msgpack-c unpacks at 32 levels converts.
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    s_deep_msgpack (&sbuf, 32);
    text = s_json_of_bytes (sbuf.data, sbuf.size);
    expected = s_deep_json (32);
    assert_string_equal (text, expected);
    free (text);
    free (expected);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
test_json_binary_and_extensions_become_hex (void **state)
{
    (void) state;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 4);
    msgpack_pack_str_with_body (&pk, "bin", 3);
    msgpack_pack_bin_with_body (&pk, "\x00\xab\xff\x10", 4);
    msgpack_pack_str_with_body (&pk, "empty", 5);
    msgpack_pack_bin_with_body (&pk, "", 0);
    msgpack_pack_str_with_body (&pk, "ext", 3);
    msgpack_pack_ext_with_body (&pk, "\x01\x02", 2, 7);
    msgpack_pack_str_with_body (&pk, "fixext", 6);
    msgpack_pack_ext_with_body (&pk, "\xde\xad\xbe\xef", 4, -1);
    char *text = s_json_of_bytes (sbuf.data, sbuf.size);
    assert_string_equal (text, "{\"bin\":\"00abff10\",\"empty\":\"\","
                               "\"ext\":\"0102\",\"fixext\":\"deadbeef\"}");
    free (text);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
test_json_invalid_utf8_string_becomes_hex (void **state)
{
    (void) state;
    static const struct { const char *bytes; size_t size; const char *json; } cases [] = {
        { "\xff\xfe" "A", 3, "\"fffe41\"" },              //  never valid bytes
        { "\xc0\x80", 2, "\"c080\"" },                   //  overlong NUL
        { "\xed\xa0\x80", 3, "\"eda080\"" },             //  a surrogate
        { "abc\xc3", 4, "\"616263c3\"" },                //  cut in a sequence
        { "\xf4\x90\x80\x80", 4, "\"f4908080\"" },       //  above U+10FFFF
        { "h\xc3\xa9", 3, "\"h\xc3\xa9\"" },             //  valid: unchanged
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        msgpack_sbuffer sbuf;
        msgpack_sbuffer_init (&sbuf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        msgpack_pack_str_with_body (&pk, cases [i].bytes, cases [i].size);
        char *text = s_json_of_bytes (sbuf.data, sbuf.size);
        assert_string_equal (text, cases [i].json);
        free (text);
        msgpack_sbuffer_destroy (&sbuf);
    }
}

//  A key that is not UTF-8 is shown as hex too, so the result can be printed.
static void
test_json_invalid_utf8_key_becomes_hex (void **state)
{
    (void) state;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_str_with_body (&pk, "\xff\xfe", 2);
    msgpack_pack_uint8 (&pk, 1);
    msgpack_pack_str_with_body (&pk, "\xc3\xa9", 2);
    msgpack_pack_uint8 (&pk, 2);
    char *text = s_json_of_bytes (sbuf.data, sbuf.size);
    assert_string_equal (text, "{\"fffe\":1,\"\xc3\xa9\":2}");
    free (text);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
test_json_non_string_keys_become_their_json_text (void **state)
{
    (void) state;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 7);
    msgpack_pack_uint8 (&pk, 1);
    msgpack_pack_str_with_body (&pk, "one", 3);
    msgpack_pack_int8 (&pk, -2);
    msgpack_pack_str_with_body (&pk, "minus two", 9);
    msgpack_pack_true (&pk);
    msgpack_pack_str_with_body (&pk, "t", 1);
    msgpack_pack_nil (&pk);
    msgpack_pack_str_with_body (&pk, "n", 1);
    msgpack_pack_double (&pk, 1.5);
    msgpack_pack_str_with_body (&pk, "real", 4);
    msgpack_pack_array (&pk, 2);
    msgpack_pack_uint8 (&pk, 1);
    msgpack_pack_uint8 (&pk, 2);
    msgpack_pack_str_with_body (&pk, "array", 5);
    msgpack_pack_bin_with_body (&pk, "ab", 2);
    msgpack_pack_str_with_body (&pk, "bin", 3);
    char *text = s_json_of_bytes (sbuf.data, sbuf.size);
    assert_string_equal (text, "{\"\\\"6162\\\"\":\"bin\",\"-2\":\"minus two\","
                               "\"1\":\"one\",\"1.5\":\"real\",\"[1,2]\":\"array\","
                               "\"null\":\"n\",\"true\":\"t\"}");
    free (text);
    msgpack_sbuffer_destroy (&sbuf);
}

//  A key holding a key holding a key...: each level's JSON text holds the
//  next one's escaped, which doubles its backslashes: 31 levels (a body of
//  a hundred bytes) took gigabytes, 20 take megabytes. A key's text is cut
//  to 256 bytes, and not inside a UTF-8 sequence.
static void
test_json_keys_in_keys_stay_small (void **state)
{
    (void) state;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    //  {{{ ... {"\"\\\"\\": 1} ...: 1}: 1}: 1}, 20 maps deep in keys.
    for (int level = 0; level < 20; level++)
        msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "\"\\\"\\", 4);
    for (int level = 0; level < 20; level++)
        msgpack_pack_uint8 (&pk, 1);
    char *text = s_json_of_bytes (sbuf.data, sbuf.size);
    assert_true (strlen (text) < 2 * 256);
    assert_true (strncmp (text, "{\"{\\\"{", 6) == 0);
    free (text);
    msgpack_sbuffer_destroy (&sbuf);

    //  A key's text cut in the middle of a two-byte character loses it whole.
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    char long_text [300];
    memset (long_text, 'x', sizeof long_text);
    memcpy (long_text + 253, "\xc3\xa9", 2);    //  key text: [" then 253 x, e-acute
    msgpack_pack_map (&pk, 1);
    msgpack_pack_array (&pk, 1);
    msgpack_pack_str_with_body (&pk, long_text, sizeof long_text);
    msgpack_pack_uint8 (&pk, 1);
    text = s_json_of_bytes (sbuf.data, sbuf.size);
    char expected [300];
    snprintf (expected, sizeof expected, "{\"[\\\"%.253s\":1}", long_text);
    assert_string_equal (text, expected);
    free (text);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
test_json_uint_above_int64_max_becomes_real (void **state)
{
    (void) state;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_uint64 (&pk, UINT64_MAX);
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    msgpack_object obj = s_unpack (sbuf.data, sbuf.size, &zone);
    json_t *value = flot_json_from_msgpack (&obj);
    assert_non_null (value);
    assert_true (json_is_real (value));
    assert_true (json_real_value (value) == 18446744073709551615.0);
    json_decref (value);
    msgpack_zone_destroy (&zone);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
test_json_float32_becomes_real (void **state)
{
    (void) state;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_float (&pk, 2.5f);
    char *text = s_json_of_bytes (sbuf.data, sbuf.size);
    assert_string_equal (text, "2.5");
    free (text);
    msgpack_sbuffer_destroy (&sbuf);
}

//  JSON has no NaN or infinity: such a float becomes null, and the rest of
//  the body is still converted.
static void
test_json_non_finite_float_becomes_null (void **state)
{
    (void) state;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 5);
    msgpack_pack_str_with_body (&pk, "nan", 3);
    msgpack_pack_double (&pk, NAN);
    msgpack_pack_str_with_body (&pk, "inf", 3);
    msgpack_pack_double (&pk, INFINITY);
    msgpack_pack_str_with_body (&pk, "-inf", 4);
    msgpack_pack_float (&pk, -INFINITY);
    msgpack_pack_str_with_body (&pk, "ok", 2);
    msgpack_pack_double (&pk, 0.5);
    msgpack_pack_double (&pk, NAN);
    msgpack_pack_str_with_body (&pk, "nan key", 7);
    char *text = s_json_of_bytes (sbuf.data, sbuf.size);
    assert_string_equal (text, "{\"-inf\":null,\"inf\":null,\"nan\":null,"
                               "\"null\":\"nan key\",\"ok\":0.5}");
    free (text);
    msgpack_sbuffer_destroy (&sbuf);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_json_round_trips_objects),
        cmocka_unit_test (test_json_round_trips_arrays),
        cmocka_unit_test (test_json_round_trips_integers),
        cmocka_unit_test (test_json_round_trips_reals),
        cmocka_unit_test (test_json_round_trips_bools_and_null),
        cmocka_unit_test (test_json_round_trips_unicode_strings),
        cmocka_unit_test (test_json_pack_refuses_nesting_deeper_than_32),
        cmocka_unit_test (test_json_from_msgpack_refuses_nesting_deeper_than_32),
        cmocka_unit_test (test_json_binary_and_extensions_become_hex),
        cmocka_unit_test (test_json_invalid_utf8_string_becomes_hex),
        cmocka_unit_test (test_json_invalid_utf8_key_becomes_hex),
        cmocka_unit_test (test_json_non_string_keys_become_their_json_text),
        cmocka_unit_test (test_json_keys_in_keys_stay_small),
        cmocka_unit_test (test_json_uint_above_int64_max_becomes_real),
        cmocka_unit_test (test_json_float32_becomes_real),
        cmocka_unit_test (test_json_non_finite_float_becomes_null),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
