/*  test_body.c - unit tests for message bodies (flot_body.c).

    Proves that flot_body_check accepts every msgpack type in a map and
    refuses what a hostile peer could send (truncation at any byte, trailing
    bytes, 0xc1, containers that declare more objects than there are bytes,
    deep nesting, too many objects, non-string keys) without letting
    msgpack-c allocate for it; that whatever the check accepts, decode
    decodes; that the typed getters find fields and explain, naming the
    field, what is wrong with one; and that error bodies round-trip.
    Bodies under test are copied into buffers of their exact size, so that
    the sanitizer build catches any read past the end.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flotilla/body.h"

//  A string literal and its size, without its NUL.
#define LIT(text) text, sizeof text - 1

#define assert_mentions(text, needle) \
    do { \
        if (!strstr ((text), (needle))) \
            fail_msg ("message '%s' does not mention '%s'", (text), (needle)); \
    } while (0)

//  -------------------------------------------------------------------------
//  A growable byte buffer to write msgpack by hand, encoding by encoding.

typedef struct {
    uint8_t *data;
    size_t size;
    size_t cap;
} buf_t;

static void
s_bytes (buf_t *b, const void *data, size_t size)
{
    if (b->size + size > b->cap) {
        b->cap = (b->size + size) * 2 + 64;
        b->data = realloc (b->data, b->cap);
        assert_non_null (b->data);
    }
    if (size)
        memcpy (b->data + b->size, data, size);
    b->size += size;
}

static void
s_byte (buf_t *b, uint8_t byte)
{
    s_bytes (b, &byte, 1);
}

//  The n-byte big-endian form of v.
static void
s_be (buf_t *b, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        s_byte (b, (uint8_t) (v >> (8 * i)));
}

//  A fixstr.
static void
s_fixstr (buf_t *b, const char *text)
{
    size_t len = strlen (text);
    assert_true (len < 32);
    s_byte (b, (uint8_t) (0xa0 | len));
    s_bytes (b, text, len);
}

static void
s_free (buf_t *b)
{
    free (b->data);
    memset (b, 0, sizeof *b);
}

//  Checks a copy of exactly size bytes.
static int
s_check (const uint8_t *data, size_t size, bool must_be_map, flot_err_t *err)
{
    uint8_t *copy = malloc (size ? size : 1);
    assert_non_null (copy);
    if (size)
        memcpy (copy, data, size);
    err->code = 0;
    err->message [0] = 0;
    int rc = flot_body_check (copy, size, must_be_map, err);
    free (copy);
    return rc;
}

static void
s_assert_accepts (const uint8_t *data, size_t size, bool must_be_map)
{
    flot_err_t err;
    if (s_check (data, size, must_be_map, &err))
        fail_msg ("rejected a valid body: %s", err.message);
    //  What the check accepts as a map, decode decodes.
    if (must_be_map) {
        flot_body_t *body = flot_body_decode (data, size, &err);
        if (!body)
            fail_msg ("checked but did not decode: %s", err.message);
        assert_int_equal (flot_body_root (body)->type, MSGPACK_OBJECT_MAP);
        flot_body_destroy (&body);
    }
}

static void
s_assert_rejects (const uint8_t *data, size_t size, bool must_be_map,
                  int code, const char *needle)
{
    flot_err_t err;
    assert_int_equal (s_check (data, size, must_be_map, &err), -1);
    if (err.code != code)
        fail_msg ("expected %s, got %s: %s", flot_err_name (code),
                  flot_err_name (err.code), err.message);
    assert_mentions (err.message, needle);
    //  And decode refuses it too, with the same words.
    if (must_be_map) {
        flot_err_t derr;
        flot_body_t *body = flot_body_decode (data, size, &derr);
        assert_null (body);
        assert_int_equal (derr.code, code);
        assert_string_equal (derr.message, err.message);
    }
}

//  -------------------------------------------------------------------------
//  A map holding every msgpack type, each in every encoding.

static void
s_every_type (buf_t *b)
{
    static const uint8_t ext_data [16] = {
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
    };
    int entries = 0;
    buf_t v = { 0 };
    #define ENTRY(...) do { \
        char key [8]; snprintf (key, sizeof key, "k%d", entries++); \
        s_fixstr (&v, key); __VA_ARGS__; } while (0)
    ENTRY (s_byte (&v, 0xc0));                                   //  nil
    ENTRY (s_byte (&v, 0xc3));                                   //  true
    ENTRY (s_byte (&v, 0xc2));                                   //  false
    ENTRY (s_byte (&v, 0x7f));                                   //  positive fixint
    ENTRY (s_byte (&v, 0xe0));                                   //  negative fixint -32
    ENTRY (s_byte (&v, 0xff));                                   //  negative fixint -1
    ENTRY (s_byte (&v, 0xcc); s_be (&v, 0xff, 1));               //  uint 8
    ENTRY (s_byte (&v, 0xcd); s_be (&v, 0xffff, 2));             //  uint 16
    ENTRY (s_byte (&v, 0xce); s_be (&v, 0xffffffff, 4));         //  uint 32
    ENTRY (s_byte (&v, 0xcf); s_be (&v, UINT64_MAX, 8));         //  uint 64
    ENTRY (s_byte (&v, 0xd0); s_be (&v, 0x80, 1));               //  int 8: -128
    ENTRY (s_byte (&v, 0xd1); s_be (&v, 0x8000, 2));             //  int 16
    ENTRY (s_byte (&v, 0xd2); s_be (&v, 0x80000000, 4));         //  int 32
    ENTRY (s_byte (&v, 0xd3); s_be (&v, 0x8000000000000000ull, 8));  //  int 64 min
    ENTRY (s_byte (&v, 0xd0); s_be (&v, 0x05, 1));               //  int 8 holding 5
    ENTRY (s_byte (&v, 0xca); s_be (&v, 0x3fc00000, 4));         //  float 32: 1.5
    ENTRY (s_byte (&v, 0xcb); s_be (&v, 0xbff8000000000000ull, 8));  //  float 64: -1.5
    ENTRY (s_fixstr (&v, "hello"));                              //  fixstr
    ENTRY (s_byte (&v, 0xa0));                                   //  empty fixstr
    ENTRY (s_byte (&v, 0xd9); s_be (&v, 3, 1); s_bytes (&v, "abc", 3));  //  str 8
    ENTRY (s_byte (&v, 0xda); s_be (&v, 3, 2); s_bytes (&v, "abc", 3));  //  str 16
    ENTRY (s_byte (&v, 0xdb); s_be (&v, 3, 4); s_bytes (&v, "abc", 3));  //  str 32
    ENTRY (s_byte (&v, 0xc4); s_be (&v, 2, 1); s_bytes (&v, "\x00\xff", 2));  //  bin 8
    ENTRY (s_byte (&v, 0xc4); s_be (&v, 0, 1));                  //  empty bin 8
    ENTRY (s_byte (&v, 0xc5); s_be (&v, 2, 2); s_bytes (&v, "\x00\xff", 2));  //  bin 16
    ENTRY (s_byte (&v, 0xc6); s_be (&v, 2, 4); s_bytes (&v, "\x00\xff", 2));  //  bin 32
    ENTRY (s_byte (&v, 0xd4); s_byte (&v, 1); s_bytes (&v, ext_data, 1));    //  fixext 1
    ENTRY (s_byte (&v, 0xd5); s_byte (&v, 1); s_bytes (&v, ext_data, 2));    //  fixext 2
    ENTRY (s_byte (&v, 0xd6); s_byte (&v, 1); s_bytes (&v, ext_data, 4));    //  fixext 4
    ENTRY (s_byte (&v, 0xd7); s_byte (&v, 0xff); s_bytes (&v, ext_data, 8)); //  fixext 8
    ENTRY (s_byte (&v, 0xd8); s_byte (&v, 1); s_bytes (&v, ext_data, 16));   //  fixext 16
    ENTRY (s_byte (&v, 0xc7); s_be (&v, 3, 1); s_byte (&v, 5); s_bytes (&v, ext_data, 3));  //  ext 8
    ENTRY (s_byte (&v, 0xc7); s_be (&v, 0, 1); s_byte (&v, 5));  //  empty ext 8
    ENTRY (s_byte (&v, 0xc8); s_be (&v, 3, 2); s_byte (&v, 5); s_bytes (&v, ext_data, 3));  //  ext 16
    ENTRY (s_byte (&v, 0xc9); s_be (&v, 3, 4); s_byte (&v, 5); s_bytes (&v, ext_data, 3));  //  ext 32
    ENTRY (s_bytes (&v, "\x93\x01\xa1x\xc0", 5));                //  fixarray
    ENTRY (s_byte (&v, 0x90));                                   //  empty fixarray
    ENTRY (s_byte (&v, 0xdc); s_be (&v, 2, 2); s_bytes (&v, "\x01\x02", 2));  //  array 16
    ENTRY (s_byte (&v, 0xdd); s_be (&v, 1, 4); s_byte (&v, 0xc3));            //  array 32
    ENTRY (s_bytes (&v, "\x81\xa1x\x81\xa1y\x92\x01\x80", 9));   //  nested fixmaps
    ENTRY (s_byte (&v, 0x80));                                   //  empty fixmap
    ENTRY (s_byte (&v, 0xde); s_be (&v, 1, 2); s_bytes (&v, "\xa1" "a\x01", 3));  //  map 16
    ENTRY (s_byte (&v, 0xdf); s_be (&v, 1, 4); s_bytes (&v, "\xa1" "a\x90", 3));  //  map 32
    ENTRY (s_bytes (&v, "\x81\x01\x02", 3));                     //  nested int key
    #undef ENTRY
    //  The root: a map 16 of all of them, then a str 8 key and a str 16 key.
    s_byte (b, 0xde);
    s_be (b, (uint64_t) entries + 2, 2);
    s_bytes (b, v.data, v.size);
    s_bytes (b, "\xd9\x02s8\x01", 5);
    s_bytes (b, "\xda\x00\x03s16\x02", 7);
    s_free (&v);
}

static void
test_body_check_accepts_every_type (void **state)
{
    (void) state;
    buf_t b = { 0 };
    s_every_type (&b);
    s_assert_accepts (b.data, b.size, true);
    s_assert_accepts (b.data, b.size, false);

    //  And the values come back as written.
    flot_err_t err;
    flot_body_t *body = flot_body_decode (b.data, b.size, &err);
    assert_non_null (body);
    const msgpack_object *root = flot_body_root (body);
    uint64_t u = 0;
    int64_t i = 0;
    double d = 0;
    char text [16];
    assert_int_equal (flot_map_uint (root, "k9", true, 0, UINT64_MAX, &u, &err), 1);
    assert_true (u == UINT64_MAX);
    assert_int_equal (flot_map_int (root, "k13", true, INT64_MIN, 0, &i, &err), 1);
    assert_true (i == INT64_MIN);
    assert_int_equal (flot_map_int (root, "k4", true, -100, 100, &i, &err), 1);
    assert_int_equal (i, -32);
    assert_int_equal (flot_map_double (root, "k15", true, &d, &err), 1);
    assert_true (d == 1.5);
    assert_int_equal (flot_map_double (root, "k16", true, &d, &err), 1);
    assert_true (d == -1.5);
    assert_int_equal (flot_map_str (root, "k21", true, text, sizeof text, &err), 1);
    assert_string_equal (text, "abc");
    flot_body_destroy (&body);
    s_free (&b);
}

//  SPEC 3.2: readers accept a uint in a signed encoding holding >= 0.
static void
test_body_uint_accepts_signed_encoding_of_non_negative (void **state)
{
    (void) state;
    static const uint8_t data [] = {
        0x84, 0xa1, 'a', 0xd0, 0x05, 0xa1, 'b', 0xd1, 0x01, 0x00,
        0xa1, 'c', 0xd2, 0x00, 0x01, 0x00, 0x00,
        0xa1, 'd', 0xd3, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00
    };
    flot_err_t err;
    flot_body_t *body = flot_body_decode (data, sizeof data, &err);
    assert_non_null (body);
    const msgpack_object *root = flot_body_root (body);
    uint64_t v = 0;
    assert_int_equal (flot_map_uint (root, "a", true, 0, UINT64_MAX, &v, &err), 1);
    assert_int_equal (v, 5);
    assert_int_equal (flot_map_uint (root, "b", true, 0, UINT64_MAX, &v, &err), 1);
    assert_int_equal (v, 256);
    assert_int_equal (flot_map_uint (root, "c", true, 0, UINT64_MAX, &v, &err), 1);
    assert_int_equal (v, 65536);
    assert_int_equal (flot_map_uint (root, "d", true, 0, UINT64_MAX, &v, &err), 1);
    assert_true (v == 0x100000000ull);
    flot_body_destroy (&body);
}

static void
test_body_check_accepts_the_smallest_bodies (void **state)
{
    (void) state;
    s_assert_accepts ((const uint8_t *) "\x80", 1, true);
    s_assert_accepts ((const uint8_t *) "\xde\x00\x00", 3, true);
    s_assert_accepts ((const uint8_t *) "\xdf\x00\x00\x00\x00", 5, true);
    s_assert_accepts ((const uint8_t *) "\x81\xa4pong\xc3", 7, true);
    //  Not a map, when a map is not asked for.
    s_assert_accepts ((const uint8_t *) "\x01", 1, false);
    s_assert_accepts ((const uint8_t *) "\xc0", 1, false);
    s_assert_accepts ((const uint8_t *) "\x92\x01\x02", 3, false);
}

static void
test_body_check_rejects_empty_and_oversize (void **state)
{
    (void) state;
    flot_err_t err;
    assert_int_equal (flot_body_check (NULL, 0, true, &err), -1);
    assert_int_equal (err.code, FLOT_E_MALFORMED);
    assert_mentions (err.message, "body is empty");
    assert_int_equal (flot_body_check ("\x80", 0, true, &err), -1);
    assert_mentions (err.message, "body is empty");
    assert_null (flot_body_decode ("\x80", 0, &err));
    assert_mentions (err.message, "body is empty");

    //  One byte over the limit: a bin 32 inside a map, as big as it takes.
    size_t size = FLOT_MAX_BODY + 1;
    uint8_t *big = calloc (1, size);
    assert_non_null (big);
    memcpy (big, "\x81\xa1" "a\xc6", 4);
    uint64_t payload = size - 8;
    for (int i = 0; i < 4; i++)
        big [4 + i] = (uint8_t) (payload >> (8 * (3 - i)));
    s_assert_rejects (big, size, true, FLOT_E_TOO_LARGE,
                      "body is 1048577 bytes, the limit is 1048576");
    //  Exactly the limit is fine.
    payload--;
    for (int i = 0; i < 4; i++)
        big [4 + i] = (uint8_t) (payload >> (8 * (3 - i)));
    s_assert_accepts (big, size - 1, true);
    free (big);
}

static void
test_body_check_rejects_truncation_at_every_length (void **state)
{
    (void) state;
    buf_t b = { 0 };
    s_every_type (&b);
    for (size_t size = 1; size < b.size; size++) {
        flot_err_t err;
        if (s_check (b.data, size, true, &err) == 0)
            fail_msg ("accepted the first %zu of %zu bytes", size, b.size);
        assert_int_equal (err.code, FLOT_E_MALFORMED);
        if (!strstr (err.message, "truncated") && !strstr (err.message, "bytes are left"))
            fail_msg ("%zu bytes: '%s' does not say it is truncated", size, err.message);
        flot_body_t *body = flot_body_decode (b.data, size, &err);
        assert_null (body);
    }
    s_free (&b);
}

static void
test_body_check_rejects_trailing_bytes (void **state)
{
    (void) state;
    s_assert_rejects ((const uint8_t *) "\x80\x00", 2, true, FLOT_E_MALFORMED,
                      "body has 1 trailing bytes after the map");
    s_assert_rejects ((const uint8_t *) "\x81\xa1" "a\x01\xc0\xc0", 6, true,
                      FLOT_E_MALFORMED, "body has 2 trailing bytes");
    s_assert_rejects ((const uint8_t *) "\x80\x80", 2, true, FLOT_E_MALFORMED,
                      "trailing");
    s_assert_rejects ((const uint8_t *) "\x01\x01", 2, false, FLOT_E_MALFORMED,
                      "trailing");
}

static void
test_body_check_rejects_never_used_c1 (void **state)
{
    (void) state;
    s_assert_rejects ((const uint8_t *) "\x81\xa1" "a\xc1", 4, true, FLOT_E_MALFORMED,
                      "byte 3: 0xc1 is not a msgpack type");
    s_assert_rejects ((const uint8_t *) "\xc1", 1, false, FLOT_E_MALFORMED,
                      "byte 0: 0xc1 is not a msgpack type");
    s_assert_rejects ((const uint8_t *) "\x81\xa1" "a\x91\xc1", 5, true, FLOT_E_MALFORMED,
                      "byte 4: 0xc1");
}

//  A 5-byte header declaring 2^32-1 elements must be refused by counting
//  bytes, before msgpack-c could allocate 2^32 objects for it (run the
//  sanitizer build: an attempt to allocate that much aborts there).
static void
test_body_check_refuses_huge_declared_sizes_without_allocating (void **state)
{
    (void) state;
    s_assert_rejects ((const uint8_t *) "\xdd\xff\xff\xff\xff", 5, false,
                      FLOT_E_MALFORMED,
                      "byte 0: container declares 4294967295 objects but 0 bytes are left");
    s_assert_rejects ((const uint8_t *) "\xdf\xff\xff\xff\xff", 5, true,
                      FLOT_E_MALFORMED, "declares 8589934590 objects but 0 bytes are left");
    s_assert_rejects ((const uint8_t *) "\xde\xff\xff", 3, true,
                      FLOT_E_MALFORMED, "declares 131070 objects");
    s_assert_rejects ((const uint8_t *) "\x81\xa1" "a\xdd\xff\xff\xff\xff", 8, true,
                      FLOT_E_MALFORMED,
                      "byte 3: container declares 4294967295 objects but 0 bytes are left");
    s_assert_rejects ((const uint8_t *) "\x81\xa1" "a\xdf\xff\xff\xff\xff\xc0\xc0", 10, true,
                      FLOT_E_MALFORMED, "but 2 bytes are left");
    //  Strings, binary and extensions that claim 4 GiB.
    s_assert_rejects ((const uint8_t *) "\x81\xa1" "a\xdb\xff\xff\xff\xff", 8, true,
                      FLOT_E_MALFORMED, "body is truncated at byte 3");
    s_assert_rejects ((const uint8_t *) "\x81\xa1" "a\xc6\xff\xff\xff\xff", 8, true,
                      FLOT_E_MALFORMED, "body is truncated at byte 3");
    s_assert_rejects ((const uint8_t *) "\x81\xa1" "a\xc9\xff\xff\xff\xff\x01", 9, true,
                      FLOT_E_MALFORMED, "body is truncated at byte 3");
    //  A header cut inside its length.
    s_assert_rejects ((const uint8_t *) "\x81\xa1" "a\xdd\xff", 5, true,
                      FLOT_E_MALFORMED, "body is truncated at byte 3");
}

//  A root map holding containers nested `containers` deep in all
//  (the root counts), the innermost holding one integer, or nothing.
static void
s_nested (buf_t *b, int containers, bool innermost_empty)
{
    if (containers == 1) {
        s_bytes (b, innermost_empty ? "\x80" : "\x81\xa1" "a\x01",
                 innermost_empty ? 1 : 4);
        return;
    }
    s_bytes (b, "\x81\xa1" "a", 3);
    for (int i = 0; i < containers - 2; i++)
        s_byte (b, 0x91);
    if (innermost_empty)
        s_byte (b, 0x90);
    else
        s_bytes (b, "\x91\x01", 2);
}

static void
test_body_check_limits_nesting_to_32_levels (void **state)
{
    (void) state;
    for (int containers = 1; containers <= FLOT_MAX_DEPTH; containers++) {
        buf_t b = { 0 };
        s_nested (&b, containers, false);
        s_assert_accepts (b.data, b.size, true);
        s_free (&b);
        s_nested (&b, containers, true);
        s_assert_accepts (b.data, b.size, true);
        s_free (&b);
    }
    buf_t b = { 0 };
    s_nested (&b, FLOT_MAX_DEPTH + 1, false);
    s_assert_rejects (b.data, b.size, true, FLOT_E_MALFORMED,
                      "body nests deeper than 32 levels");
    s_free (&b);
    s_nested (&b, 1000, false);
    s_assert_rejects (b.data, b.size, true, FLOT_E_MALFORMED,
                      "body nests deeper than 32 levels");
    s_free (&b);
}

//  An empty container is a level too: 33 levels whose innermost is empty
//  are as deep as 33 that are not (msgpack-c itself refuses them).
static void
test_body_check_counts_empty_innermost_container_as_a_level (void **state)
{
    (void) state;
    buf_t b = { 0 };
    s_nested (&b, FLOT_MAX_DEPTH + 1, true);
    s_assert_rejects (b.data, b.size, true, FLOT_E_MALFORMED,
                      "body nests deeper than 32 levels");
    s_free (&b);
    //  Also with a map as the innermost container.
    s_nested (&b, FLOT_MAX_DEPTH + 1, true);
    b.data [b.size - 1] = 0x80;
    s_assert_rejects (b.data, b.size, true, FLOT_E_MALFORMED,
                      "body nests deeper than 32 levels");
    s_free (&b);
}

//  {"a": [nil x n]}: 3 + n objects.
static void
s_many (buf_t *b, uint64_t n)
{
    s_bytes (b, "\x81\xa1" "a\xdd", 4);
    s_be (b, n, 4);
    uint8_t *nils = malloc (n);
    assert_non_null (nils);
    memset (nils, 0xc0, n);
    s_bytes (b, nils, n);
    free (nils);
}

static void
test_body_check_limits_object_count (void **state)
{
    (void) state;
    buf_t b = { 0 };
    s_many (&b, FLOT_MAX_OBJECTS - 3);
    s_assert_accepts (b.data, b.size, true);
    s_free (&b);
    s_many (&b, FLOT_MAX_OBJECTS - 2);
    s_assert_rejects (b.data, b.size, true, FLOT_E_TOO_LARGE,
                      "body has more than 262144 objects");
    s_free (&b);
}

static void
test_body_check_rejects_non_string_root_keys (void **state)
{
    (void) state;
    static const struct { const char *data; size_t size; const char *needle; } bad [] = {
        { LIT ("\x81\x01\x01"), "body map key at byte 1 is not a string" },
        { LIT ("\x81\xc0\x01"), "key at byte 1" },
        { LIT ("\x81\xc3\x01"), "key at byte 1" },
        { LIT ("\x81\xc4\x01" "a\x01"), "key at byte 1" },      //  bin, not str
        { LIT ("\x81\x90\x01"), "key at byte 1" },
        { LIT ("\x81\x80\x01"), "key at byte 1" },
        { LIT ("\x81\xcb\x00\x00\x00\x00\x00\x00\x00\x00\x01"), "key at byte 1" },
        { LIT ("\x82\xa1" "a\x01\x02\x02"), "key at byte 4" },  //  the second key
        { LIT ("\x82\xa1" "a\x91\x01\x02\x02"), "key at byte 5" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        s_assert_rejects ((const uint8_t *) bad [i].data, bad [i].size, true,
                          FLOT_E_MALFORMED, bad [i].needle);
    //  Every str encoding is a key; nested maps are not the root's business.
    s_assert_accepts ((const uint8_t *) "\x81\xd9\x01" "a\x01", 5, true);
    s_assert_accepts ((const uint8_t *) "\x81\xda\x00\x01" "a\x01", 6, true);
    s_assert_accepts ((const uint8_t *) "\x81\xdb\x00\x00\x00\x01" "a\x01", 8, true);
    s_assert_accepts ((const uint8_t *) "\x81\xa0\x01", 3, true);
    s_assert_accepts ((const uint8_t *) "\x81\xa1" "a\x81\x01\x02", 6, true);
    //  A value that looks like a key is a value.
    s_assert_accepts ((const uint8_t *) "\x82\xa1" "a\x01\xa1" "b\x02", 7, true);
}

static void
test_body_check_rejects_not_a_map_when_must_be_map (void **state)
{
    (void) state;
    static const struct { const char *data; size_t size; } bad [] = {
        { LIT ("\x90") }, { LIT ("\xa0") }, { LIT ("\x01") }, { LIT ("\xc0") },
        { LIT ("\xdc\x00\x00") }, { LIT ("\xdd\x00\x00\x00\x00") }, { LIT ("\xc4\x00") },
        { LIT ("\xff") },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        s_assert_rejects ((const uint8_t *) bad [i].data, bad [i].size, true,
                          FLOT_E_MALFORMED, "body is not a msgpack map");
        s_assert_accepts ((const uint8_t *) bad [i].data, bad [i].size, false);
    }
}

static void
test_body_destroy_is_safe_twice_and_with_null (void **state)
{
    (void) state;
    flot_err_t err;
    flot_body_t *body = flot_body_decode ("\x80", 1, &err);
    assert_non_null (body);
    assert_int_equal (flot_body_root (body)->via.map.size, 0);
    flot_body_destroy (&body);
    assert_null (body);
    flot_body_destroy (&body);
    flot_body_destroy (NULL);
}

//  -------------------------------------------------------------------------
//  Typed getters.

typedef struct {
    msgpack_sbuffer sbuf;
    flot_body_t *body;
    const msgpack_object *root;
} fields_t;

static int
s_fields_setup (void **state)
{
    fields_t *self = calloc (1, sizeof *self);
    msgpack_sbuffer_init (&self->sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 14);
    flot_pack_kv_str (&pk, "name", "hello");
    flot_pack_kv_uint (&pk, "port", 8080);
    flot_pack_kv_int (&pk, "neg", -5);
    flot_pack_kv_uint (&pk, "huge", UINT64_MAX);
    flot_pack_kv_bool (&pk, "on", true);
    flot_pack_kv_double (&pk, "ratio", 0.25);
    flot_pack_str (&pk, "f32");
    msgpack_pack_float (&pk, 2.5f);
    flot_pack_str (&pk, "list");
    msgpack_pack_array (&pk, 2);
    msgpack_pack_uint8 (&pk, 1);
    msgpack_pack_uint8 (&pk, 2);
    flot_pack_str (&pk, "map");
    msgpack_pack_map (&pk, 1);
    flot_pack_kv_uint (&pk, "x", 1);
    flot_pack_str (&pk, "nul");
    msgpack_pack_str (&pk, 3);
    msgpack_pack_str_body (&pk, "a\0b", 3);
    char long_text [301];
    memset (long_text, 'x', 300);
    long_text [300] = 0;
    flot_pack_kv_str (&pk, "long", long_text);
    flot_pack_str (&pk, "bin");
    msgpack_pack_bin (&pk, 2);
    msgpack_pack_bin_body (&pk, "ab", 2);
    flot_pack_kv_str (&pk, "empty", "");
    flot_pack_kv_int (&pk, "zero", 0);
    flot_err_t err;
    self->body = flot_body_decode (self->sbuf.data, self->sbuf.size, &err);
    if (!self->body)
        fail_msg ("test body does not decode: %s", err.message);
    self->root = flot_body_root (self->body);
    *state = self;
    return 0;
}

static int
s_fields_teardown (void **state)
{
    fields_t *self = *state;
    flot_body_destroy (&self->body);
    msgpack_sbuffer_destroy (&self->sbuf);
    free (self);
    return 0;
}

static void
s_assert_err (int rc, const flot_err_t *err, const char *needle)
{
    assert_int_equal (rc, -1);
    assert_int_equal (err->code, FLOT_E_INVALID);
    assert_mentions (err->message, needle);
}

static void
test_body_map_get_finds_exact_keys_only (void **state)
{
    fields_t *self = *state;
    assert_non_null (flot_map_get (self->root, "name"));
    assert_null (flot_map_get (self->root, "nam"));
    assert_null (flot_map_get (self->root, "names"));
    assert_null (flot_map_get (self->root, "Name"));
    assert_null (flot_map_get (self->root, ""));
    assert_null (flot_map_get (NULL, "name"));
    //  On something that is not a map: absent, not a crash.
    const msgpack_object *list = flot_map_get (self->root, "list");
    assert_non_null (list);
    assert_null (flot_map_get (list, "name"));
}

static void
test_body_map_str_reads_found_and_leaves_absent_untouched (void **state)
{
    fields_t *self = *state;
    flot_err_t err;
    char buf [16] = "untouched";
    assert_int_equal (flot_map_str (self->root, "name", true, buf, sizeof buf, &err), 1);
    assert_string_equal (buf, "hello");
    assert_int_equal (flot_map_str (self->root, "empty", true, buf, sizeof buf, &err), 1);
    assert_string_equal (buf, "");
    strcpy (buf, "untouched");
    assert_int_equal (flot_map_str (self->root, "missing", false, buf, sizeof buf, &err), 0);
    assert_string_equal (buf, "untouched");
    //  A string that fills the buffer to the last byte fits.
    char six [6];
    assert_int_equal (flot_map_str (self->root, "name", true, six, sizeof six, &err), 1);
    assert_string_equal (six, "hello");
}

static void
test_body_map_str_rejects_missing_required (void **state)
{
    fields_t *self = *state;
    flot_err_t err;
    char buf [16];
    s_assert_err (flot_map_str (self->root, "missing", true, buf, sizeof buf, &err),
                  &err, "field 'missing' is required");
}

static void
test_body_map_str_rejects_wrong_type (void **state)
{
    fields_t *self = *state;
    flot_err_t err;
    char buf [16];
    s_assert_err (flot_map_str (self->root, "port", true, buf, sizeof buf, &err),
                  &err, "field 'port' is a positive integer, expected a string");
    s_assert_err (flot_map_str (self->root, "bin", true, buf, sizeof buf, &err),
                  &err, "field 'bin' is binary, expected a string");
    s_assert_err (flot_map_str (self->root, "list", false, buf, sizeof buf, &err),
                  &err, "field 'list' is an array, expected a string");
}

static void
test_body_map_str_rejects_too_long (void **state)
{
    fields_t *self = *state;
    flot_err_t err;
    char buf [16] = "untouched";
    s_assert_err (flot_map_str (self->root, "long", true, buf, sizeof buf, &err),
                  &err, "field 'long' is 300 bytes, the limit is 15");
    assert_string_equal (buf, "untouched");
    char five [5];
    s_assert_err (flot_map_str (self->root, "name", true, five, sizeof five, &err),
                  &err, "field 'name' is 5 bytes, the limit is 4");
}

static void
test_body_map_str_rejects_nul_byte (void **state)
{
    fields_t *self = *state;
    flot_err_t err;
    char buf [16];
    s_assert_err (flot_map_str (self->root, "nul", true, buf, sizeof buf, &err),
                  &err, "field 'nul' contains a NUL byte");
    //  flot_obj_str says no too.
    assert_int_equal (flot_obj_str (flot_map_get (self->root, "nul"), buf, sizeof buf), -1);
    assert_int_equal (flot_obj_str (flot_map_get (self->root, "port"), buf, sizeof buf), -1);
    assert_int_equal (flot_obj_str (flot_map_get (self->root, "name"), buf, 5), -1);
    assert_int_equal (flot_obj_str (flot_map_get (self->root, "name"), buf, 6), 0);
    assert_string_equal (buf, "hello");
}

//  msgpack-c gives an empty string read before any multi-byte value a NULL
//  pointer: {"": ""} has two. Reading them must not pass NULL to memcmp,
//  memchr or memcpy (the sanitizer build aborts if it does).
static void
test_body_map_str_reads_empty_strings_with_no_pointer (void **state)
{
    (void) state;
    flot_err_t err;
    flot_body_t *body = flot_body_decode ("\x81\xa0\xa0", 3, &err);
    assert_non_null (body);
    const msgpack_object *root = flot_body_root (body);
    assert_non_null (flot_map_get (root, ""));
    char buf [4] = "xyz";
    assert_int_equal (flot_map_str (root, "", true, buf, sizeof buf, &err), 1);
    assert_string_equal (buf, "");
    strcpy (buf, "xyz");
    assert_int_equal (flot_obj_str (&root->via.map.ptr [0].val, buf, sizeof buf), 0);
    assert_string_equal (buf, "");
    flot_body_destroy (&body);
}

static void
test_body_map_uint_reads_within_range (void **state)
{
    fields_t *self = *state;
    flot_err_t err;
    uint64_t v = 7;
    assert_int_equal (flot_map_uint (self->root, "port", true, 1, 65535, &v, &err), 1);
    assert_int_equal (v, 8080);
    assert_int_equal (flot_map_uint (self->root, "port", true, 8080, 8080, &v, &err), 1);
    assert_int_equal (flot_map_uint (self->root, "huge", true, 0, UINT64_MAX, &v, &err), 1);
    assert_true (v == UINT64_MAX);
    v = 7;
    assert_int_equal (flot_map_uint (self->root, "missing", false, 0, 10, &v, &err), 0);
    assert_int_equal (v, 7);
}

static void
test_body_map_uint_rejects_missing_wrong_type_and_out_of_range (void **state)
{
    fields_t *self = *state;
    flot_err_t err;
    uint64_t v = 7;
    s_assert_err (flot_map_uint (self->root, "missing", true, 0, 10, &v, &err),
                  &err, "field 'missing' is required");
    s_assert_err (flot_map_uint (self->root, "neg", true, 0, 10, &v, &err),
                  &err, "field 'neg' is a negative integer, expected an integer in 0..10");
    s_assert_err (flot_map_uint (self->root, "name", true, 0, 10, &v, &err),
                  &err, "field 'name' is a string, expected an integer in 0..10");
    s_assert_err (flot_map_uint (self->root, "ratio", true, 0, 10, &v, &err),
                  &err, "field 'ratio' is a float, expected an integer");
    s_assert_err (flot_map_uint (self->root, "port", true, 1, 1024, &v, &err),
                  &err, "field 'port': 8080 is not in 1..1024");
    s_assert_err (flot_map_uint (self->root, "port", true, 8081, 9000, &v, &err),
                  &err, "field 'port': 8080 is not in 8081..9000");
    assert_int_equal (v, 7);
}

static void
test_body_map_int_reads_negative_and_positive (void **state)
{
    fields_t *self = *state;
    flot_err_t err;
    int64_t v = 7;
    assert_int_equal (flot_map_int (self->root, "neg", true, -10, 10, &v, &err), 1);
    assert_int_equal (v, -5);
    assert_int_equal (flot_map_int (self->root, "port", true, INT64_MIN, INT64_MAX, &v, &err), 1);
    assert_int_equal (v, 8080);
    v = 7;
    assert_int_equal (flot_map_int (self->root, "missing", false, 0, 10, &v, &err), 0);
    assert_int_equal (v, 7);
}

static void
test_body_map_int_rejects_missing_wrong_type_and_out_of_range (void **state)
{
    fields_t *self = *state;
    flot_err_t err;
    int64_t v = 7;
    s_assert_err (flot_map_int (self->root, "missing", true, 0, 10, &v, &err),
                  &err, "field 'missing' is required");
    s_assert_err (flot_map_int (self->root, "neg", true, 0, 10, &v, &err),
                  &err, "field 'neg': -5 is not in 0..10");
    s_assert_err (flot_map_int (self->root, "port", true, -10, 10, &v, &err),
                  &err, "field 'port': 8080 is not in -10..10");
    //  Above INT64_MAX is not an int64.
    s_assert_err (flot_map_int (self->root, "huge", true, INT64_MIN, INT64_MAX, &v, &err),
                  &err, "field 'huge' is a positive integer, expected an integer in");
    s_assert_err (flot_map_int (self->root, "on", true, 0, 10, &v, &err),
                  &err, "field 'on' is a boolean, expected an integer in 0..10");
    assert_int_equal (v, 7);
}

static void
test_body_map_bool_reads_and_rejects (void **state)
{
    fields_t *self = *state;
    flot_err_t err;
    bool v = false;
    assert_int_equal (flot_map_bool (self->root, "on", true, &v, &err), 1);
    assert_true (v);
    v = false;
    assert_int_equal (flot_map_bool (self->root, "missing", false, &v, &err), 0);
    assert_false (v);
    s_assert_err (flot_map_bool (self->root, "missing", true, &v, &err),
                  &err, "field 'missing' is required");
    s_assert_err (flot_map_bool (self->root, "port", true, &v, &err),
                  &err, "field 'port' is a positive integer, expected a boolean");
    assert_false (v);
}

static void
test_body_map_double_reads_floats_and_integers (void **state)
{
    fields_t *self = *state;
    flot_err_t err;
    double v = 7;
    assert_int_equal (flot_map_double (self->root, "ratio", true, &v, &err), 1);
    assert_true (v == 0.25);
    assert_int_equal (flot_map_double (self->root, "f32", true, &v, &err), 1);
    assert_true (v == 2.5);
    assert_int_equal (flot_map_double (self->root, "port", true, &v, &err), 1);
    assert_true (v == 8080.0);
    assert_int_equal (flot_map_double (self->root, "neg", true, &v, &err), 1);
    assert_true (v == -5.0);
    v = 7;
    assert_int_equal (flot_map_double (self->root, "missing", false, &v, &err), 0);
    assert_true (v == 7);
    s_assert_err (flot_map_double (self->root, "missing", true, &v, &err),
                  &err, "field 'missing' is required");
    s_assert_err (flot_map_double (self->root, "name", true, &v, &err),
                  &err, "field 'name' is a string, expected a number");
    assert_true (v == 7);
}

static void
test_body_map_object_finds_arrays_and_maps (void **state)
{
    fields_t *self = *state;
    flot_err_t err;
    const msgpack_object *obj = NULL;
    assert_int_equal (flot_map_object (self->root, "list", true,
                                       MSGPACK_OBJECT_ARRAY, &obj, &err), 1);
    assert_int_equal (obj->via.array.size, 2);
    assert_int_equal (flot_map_object (self->root, "map", true,
                                       MSGPACK_OBJECT_MAP, &obj, &err), 1);
    uint64_t x = 0;
    assert_int_equal (flot_map_uint (obj, "x", true, 0, 10, &x, &err), 1);
    assert_int_equal (x, 1);
    obj = NULL;
    assert_int_equal (flot_map_object (self->root, "missing", false,
                                       MSGPACK_OBJECT_MAP, &obj, &err), 0);
    assert_null (obj);
    s_assert_err (flot_map_object (self->root, "missing", true,
                                   MSGPACK_OBJECT_MAP, &obj, &err),
                  &err, "field 'missing' is required");
    s_assert_err (flot_map_object (self->root, "list", true,
                                   MSGPACK_OBJECT_MAP, &obj, &err),
                  &err, "field 'list' is an array, expected a map");
    s_assert_err (flot_map_object (self->root, "map", true,
                                   MSGPACK_OBJECT_ARRAY, &obj, &err),
                  &err, "field 'map' is a map, expected an array");
    s_assert_err (flot_map_object (self->root, "name", true,
                                   MSGPACK_OBJECT_ARRAY, &obj, &err),
                  &err, "field 'name' is a string, expected an array");
    assert_null (obj);
}

//  -------------------------------------------------------------------------
//  Error bodies.

//  SPEC section 15: the 80-byte ERROR body of a failing keyed call.
static void
test_body_pack_error_matches_spec_example (void **state)
{
    (void) state;
    static const uint8_t expected [] =
        "\x83\xa4" "code\x05\xa4" "name\xab" "NO_INSTANCE\xa7" "message\xd9\x2e"
        "no live instance of executor serves key 'eu-1'";
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    flot_pack_error (&sbuf, FLOT_E_NO_INSTANCE,
                     "no live instance of executor serves key 'eu-1'");
    assert_int_equal (sbuf.size, 80);
    assert_int_equal (sizeof expected - 1, 80);
    assert_memory_equal (sbuf.data, expected, 80);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
test_body_error_round_trips_every_code (void **state)
{
    (void) state;
    char long_message [256];
    memset (long_message, 'm', 255);
    long_message [255] = 0;
    const char *messages [] = { "", "it broke", long_message };
    for (int code = 1; code <= FLOT_E_MAX; code++)
        for (size_t i = 0; i < 3; i++) {
            msgpack_sbuffer sbuf;
            msgpack_sbuffer_init (&sbuf);
            flot_pack_error (&sbuf, code, messages [i]);
            flot_err_t err = { 0, "" };
            assert_int_equal (flot_unpack_error (sbuf.data, sbuf.size, &err), 0);
            assert_int_equal (err.code, code);
            assert_string_equal (err.message, messages [i]);

            //  The body also names the code, and is a valid body.
            flot_err_t local;
            flot_body_t *body = flot_body_decode (sbuf.data, sbuf.size, &local);
            assert_non_null (body);
            char name [32];
            assert_int_equal (flot_map_str (flot_body_root (body), "name", true,
                                            name, sizeof name, &local), 1);
            assert_string_equal (name, flot_err_name (code));
            flot_body_destroy (&body);
            msgpack_sbuffer_destroy (&sbuf);
        }
}

static void
test_body_unpack_error_keeps_the_code_of_a_long_or_odd_message (void **state)
{
    (void) state;
    char message [600];
    memset (message, 'x', sizeof message - 1);
    message [sizeof message - 1] = 0;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    flot_pack_error (&sbuf, FLOT_E_CONFLICT, message);
    flot_err_t err;
    assert_int_equal (flot_unpack_error (sbuf.data, sbuf.size, &err), 0);
    assert_int_equal (err.code, FLOT_E_CONFLICT);
    assert_int_equal (strlen (err.message), sizeof err.message - 1);
    msgpack_sbuffer_destroy (&sbuf);
    //  A NUL in the sentence does not cost the code: it becomes a space.
    static const char with_nul [] = "\x82\xa4" "code\x05\xa7" "message\xa3" "a\x00" "b";
    assert_int_equal (flot_unpack_error (with_nul, sizeof with_nul - 1, &err), 0);
    assert_int_equal (err.code, 5);
    assert_string_equal (err.message, "a b");
}

static void
test_body_getters_treat_nil_as_absent (void **state)
{
    (void) state;
    //  {"a": nil}
    static const char body [] = "\x81\xa1" "a\xc0";
    flot_err_t err;
    flot_body_t *decoded = flot_body_decode (body, sizeof body - 1, &err);
    assert_non_null (decoded);
    char text [8] = "kept";
    assert_int_equal (flot_map_str (flot_body_root (decoded), "a", false, text, sizeof text, &err), 0);
    assert_string_equal (text, "kept");
    assert_int_equal (flot_map_str (flot_body_root (decoded), "a", true, text, sizeof text, &err), -1);
    assert_non_null (strstr (err.message, "field 'a' is required"));
    flot_body_destroy (&decoded);
}

static void
test_body_unpack_error_rejects_garbage (void **state)
{
    (void) state;
    static const struct { const char *data; size_t size; const char *needle; } bad [] = {
        { LIT (""), "body is empty" },
        { LIT ("\xc1"), "not a msgpack map" },
        { LIT ("\x91\x01"), "not a msgpack map" },
        { LIT ("\x83\xa4" "code"), "but 5 bytes are left" },
        { LIT ("\x81\xa7" "message\xa1x"), "field 'code' is required" },
        { LIT ("\x82\xa4" "code\xa1" "5\xa7" "message\xa1x"), "field 'code' is a string" },
        { LIT ("\x82\xa4" "code\xce\x00\x01\x00\x00\xa7" "message\xa1x"),
          "field 'code': 65536 is not in 0..65535" },
        { LIT ("\x81\xa4" "code\x05"), "field 'message' is required" },
        { LIT ("\x82\xa4" "code\x05\xa7" "message\x05"), "field 'message' is a positive integer" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        flot_err_t err = { 0, "" };
        assert_int_equal (flot_unpack_error (bad [i].data, bad [i].size, &err), -1);
        assert_int_equal (err.code, FLOT_E_INTERNAL);
        assert_mentions (err.message, "error reply with a bad body: ");
        assert_mentions (err.message, bad [i].needle);
    }
}

//  A body decoded from bytes already checked reads them where they are:
//  the same map as a decode that copies, its strings inside those bytes.
static void
test_body_decode_checked_borrows (void **state)
{
    (void) state;
    const char bytes [] = "\x82\xa4name\xa3web\xa1n\x07";
    flot_err_t err;
    assert_int_equal (flot_body_check (bytes, sizeof bytes - 1, true, &err), 0);
    flot_body_t *copied = flot_body_decode (bytes, sizeof bytes - 1, &err);
    flot_body_t *borrowed = flot_body_decode_checked (bytes, sizeof bytes - 1, &err);
    assert_non_null (copied);
    assert_non_null (borrowed);
    const msgpack_object *name = flot_map_get (flot_body_root (borrowed), "name");
    assert_non_null (name);
    assert_true (name->via.str.ptr >= bytes && name->via.str.ptr < bytes + sizeof bytes);
    const msgpack_object *copy = flot_map_get (flot_body_root (copied), "name");
    assert_false (copy->via.str.ptr >= bytes && copy->via.str.ptr < bytes + sizeof bytes);
    uint64_t n = 0;
    assert_int_equal (flot_map_uint (flot_body_root (borrowed), "n", true, 0, 10, &n, &err), 1);
    assert_int_equal (n, 7);
    flot_body_destroy (&copied);
    flot_body_destroy (&borrowed);
}

//  A key given twice is found (the second one), however many keys there
//  are; keys that differ, and keys that are not strings, are not.
static void
test_body_map_repeated_key (void **state)
{
    (void) state;
    for (int n = 2; n <= 2000; n *= 10) {
        msgpack_sbuffer sbuf;
        msgpack_packer pk;
        msgpack_sbuffer_init (&sbuf);
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, (uint32_t) n + 2);
        msgpack_pack_int (&pk, 7);              //  not a string: ignored
        msgpack_pack_nil (&pk);
        for (int i = 0; i < n; i++) {
            char key [16];
            snprintf (key, sizeof key, "k%d", i);
            flot_pack_kv_int (&pk, key, i);
        }
        flot_pack_kv_int (&pk, "k1", -1);       //  again
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        assert_int_equal (msgpack_unpack_next (&unpacked, sbuf.data, sbuf.size, NULL),
                          MSGPACK_UNPACK_SUCCESS);
        msgpack_object *map = &unpacked.data;
        const msgpack_object *twice = flot_map_repeated_key (map);
        assert_non_null (twice);
        assert_int_equal (twice->via.str.size, 2);
        assert_memory_equal (twice->via.str.ptr, "k1", 2);
        assert_ptr_equal (twice, &map->via.map.ptr [n + 1].key);
        //  Without the last pair, every key is once.
        map->via.map.size--;
        assert_null (flot_map_repeated_key (map));
        msgpack_unpacked_destroy (&unpacked);
        msgpack_sbuffer_destroy (&sbuf);
    }
    assert_null (flot_map_repeated_key (NULL));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_body_check_accepts_every_type),
        cmocka_unit_test (test_body_uint_accepts_signed_encoding_of_non_negative),
        cmocka_unit_test (test_body_check_accepts_the_smallest_bodies),
        cmocka_unit_test (test_body_check_rejects_empty_and_oversize),
        cmocka_unit_test (test_body_check_rejects_truncation_at_every_length),
        cmocka_unit_test (test_body_check_rejects_trailing_bytes),
        cmocka_unit_test (test_body_check_rejects_never_used_c1),
        cmocka_unit_test (test_body_check_refuses_huge_declared_sizes_without_allocating),
        cmocka_unit_test (test_body_check_limits_nesting_to_32_levels),
        cmocka_unit_test (test_body_check_counts_empty_innermost_container_as_a_level),
        cmocka_unit_test (test_body_check_limits_object_count),
        cmocka_unit_test (test_body_check_rejects_non_string_root_keys),
        cmocka_unit_test (test_body_check_rejects_not_a_map_when_must_be_map),
        cmocka_unit_test (test_body_destroy_is_safe_twice_and_with_null),
        cmocka_unit_test_setup_teardown (test_body_map_get_finds_exact_keys_only, s_fields_setup, s_fields_teardown),
        cmocka_unit_test_setup_teardown (test_body_map_str_reads_found_and_leaves_absent_untouched, s_fields_setup, s_fields_teardown),
        cmocka_unit_test_setup_teardown (test_body_map_str_rejects_missing_required, s_fields_setup, s_fields_teardown),
        cmocka_unit_test_setup_teardown (test_body_map_str_rejects_wrong_type, s_fields_setup, s_fields_teardown),
        cmocka_unit_test_setup_teardown (test_body_map_str_rejects_too_long, s_fields_setup, s_fields_teardown),
        cmocka_unit_test_setup_teardown (test_body_map_str_rejects_nul_byte, s_fields_setup, s_fields_teardown),
        cmocka_unit_test (test_body_map_str_reads_empty_strings_with_no_pointer),
        cmocka_unit_test_setup_teardown (test_body_map_uint_reads_within_range, s_fields_setup, s_fields_teardown),
        cmocka_unit_test_setup_teardown (test_body_map_uint_rejects_missing_wrong_type_and_out_of_range, s_fields_setup, s_fields_teardown),
        cmocka_unit_test_setup_teardown (test_body_map_int_reads_negative_and_positive, s_fields_setup, s_fields_teardown),
        cmocka_unit_test_setup_teardown (test_body_map_int_rejects_missing_wrong_type_and_out_of_range, s_fields_setup, s_fields_teardown),
        cmocka_unit_test_setup_teardown (test_body_map_bool_reads_and_rejects, s_fields_setup, s_fields_teardown),
        cmocka_unit_test_setup_teardown (test_body_map_double_reads_floats_and_integers, s_fields_setup, s_fields_teardown),
        cmocka_unit_test_setup_teardown (test_body_map_object_finds_arrays_and_maps, s_fields_setup, s_fields_teardown),
        cmocka_unit_test (test_body_pack_error_matches_spec_example),
        cmocka_unit_test (test_body_error_round_trips_every_code),
        cmocka_unit_test (test_body_unpack_error_rejects_garbage),
        cmocka_unit_test (test_body_getters_treat_nil_as_absent),
        cmocka_unit_test (test_body_unpack_error_keeps_the_code_of_a_long_or_odd_message),
        cmocka_unit_test (test_body_map_repeated_key),
        cmocka_unit_test (test_body_decode_checked_borrows),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
