/*  test_contract.c - the contract codec (protocol/flot_contract.c) and the
    generated tables of every contract (protocol/contracts).

    The first tests drive the codec with a table written here, one field of
    every type, so each rule is checked on its own: types, limits, required,
    defaults, nil as absent, a key given twice, unknown keys, nested paths.
    The last ones walk every message of every contract: the smallest valid
    body decodes, survives an encode and decode unchanged, is accepted with
    an unknown key added, and is refused with a key given twice.
*/
#include <flotilla/body.h>
#include <flotilla/contracts.h>
#include "contract_sample.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

//  --------------------------------------------------------------------------
//  A message of every type, its table written by hand

typedef struct {
    int64_t delta;
    const char *label;
} inner_t;

static const flot_field_t s_inner_fields [] = {
    { .name = "delta", .type = FLOT_T_INT, .required = true,
      .offset = offsetof (inner_t, delta), .has_offset = SIZE_MAX,
      .imin = -10, .imax = 10 },
    { .name = "label", .type = FLOT_T_STR,
      .offset = offsetof (inner_t, label), .has_offset = SIZE_MAX,
      .umin = 0, .umax = 8 },
};
static const flot_struct_t s_inner = { "test.INNER", sizeof (inner_t), s_inner_fields, 2 };

typedef struct {
    const char *name;
    uint64_t weight;
    bool has_weight;
    bool flag;
    bool has_flag;
    double ratio;
    bool has_ratio;
    const msgpack_object *free;
    const msgpack_object *section;
    flot_strmap_t labels;
    flot_array_t tags;
    flot_array_t steps;
    inner_t *inner;
    const char *mode;
} outer_t;

static const flot_field_t s_outer_fields [] = {
    { .name = "name", .type = FLOT_T_STR, .required = true,
      .offset = offsetof (outer_t, name), .has_offset = SIZE_MAX, .umin = 1, .umax = 16 },
    { .name = "weight", .type = FLOT_T_UINT,
      .offset = offsetof (outer_t, weight), .has_offset = offsetof (outer_t, has_weight),
      .umin = 0, .umax = 100, .has_default = true, .udefault = 100 },
    { .name = "flag", .type = FLOT_T_BOOL,
      .offset = offsetof (outer_t, flag), .has_offset = offsetof (outer_t, has_flag) },
    { .name = "ratio", .type = FLOT_T_DOUBLE,
      .offset = offsetof (outer_t, ratio), .has_offset = offsetof (outer_t, has_ratio),
      .dmin = 0, .dmax = 1 },
    { .name = "free", .type = FLOT_T_ANY,
      .offset = offsetof (outer_t, free), .has_offset = SIZE_MAX },
    { .name = "section", .type = FLOT_T_MAP,
      .offset = offsetof (outer_t, section), .has_offset = SIZE_MAX },
    { .name = "labels", .type = FLOT_T_STRMAP,
      .offset = offsetof (outer_t, labels), .has_offset = SIZE_MAX,
      .umin = 0, .umax = 4, .emin = 1, .emax = 8 },
    { .name = "tags", .type = FLOT_T_ARRAY, .elem = FLOT_T_STR,
      .offset = offsetof (outer_t, tags), .has_offset = SIZE_MAX,
      .umin = 0, .umax = 3, .emin = 1, .emax = 4 },
    { .name = "steps", .type = FLOT_T_ARRAY, .elem = FLOT_T_STRUCT, .sub = &s_inner,
      .offset = offsetof (outer_t, steps), .has_offset = SIZE_MAX,
      .umin = 0, .umax = 100 },
    { .name = "inner", .type = FLOT_T_STRUCT, .sub = &s_inner,
      .offset = offsetof (outer_t, inner), .has_offset = SIZE_MAX },
    { .name = "mode", .type = FLOT_T_STR,
      .offset = offsetof (outer_t, mode), .has_offset = SIZE_MAX, .umax = 32,
      .choices = (const char *const []) { "fast", "slow", NULL },
      .has_default = true, .sdefault = "slow" },
};
static const flot_struct_t s_outer = { "test.OUTER", sizeof (outer_t), s_outer_fields, 11 };

//  A body from JSON-like text is more than msgpack-c offers; these build
//  bodies with a packer, one per test.
typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    flot_body_t *body;
    msgpack_zone zone;
    outer_t out;
    flot_err_t err;
} fixture_t;

static void
s_key (msgpack_packer *pk, const char *key)
{
    msgpack_pack_str (pk, strlen (key));
    msgpack_pack_str_body (pk, key, strlen (key));
}

static void
s_kv_str (msgpack_packer *pk, const char *key, const char *value)
{
    s_key (pk, key);
    s_key (pk, value);
}

static int
s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    msgpack_sbuffer_init (&f->sbuf);
    msgpack_packer_init (&f->pk, &f->sbuf, msgpack_sbuffer_write);
    msgpack_zone_init (&f->zone, 1024);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = *state;
    msgpack_sbuffer_destroy (&f->sbuf);
    flot_body_destroy (&f->body);
    msgpack_zone_destroy (&f->zone);
    free (f);
    return 0;
}

//  Decodes what was packed by s_outer; returns the decoder's result.
static int
s_decode (fixture_t *f)
{
    flot_err_t err;
    f->body = flot_body_decode (f->sbuf.data, f->sbuf.size, &err);
    assert_non_null (f->body);
    memset (&f->err, 0, sizeof f->err);
    return flot_decode (&s_outer, flot_body_root (f->body), &f->zone, &f->out, &f->err);
}

static void
s_assert_refused (fixture_t *f, const char *sentence)
{
    assert_int_equal (s_decode (f), -1);
    assert_int_equal (f->err.code, FLOT_E_INVALID);
    assert_string_equal (f->err.message, sentence);
}

static void
test_contract_decodes_every_type (void **state)
{
    fixture_t *f = *state;
    msgpack_packer *pk = &f->pk;
    msgpack_pack_map (pk, 11);
    s_kv_str (pk, "name", "web");
    s_key (pk, "weight"); msgpack_pack_uint64 (pk, 20);
    s_key (pk, "flag"); msgpack_pack_true (pk);
    s_key (pk, "ratio"); msgpack_pack_int64 (pk, 1);        //  an integer is a number
    s_key (pk, "free"); msgpack_pack_array (pk, 0);
    s_key (pk, "section"); msgpack_pack_map (pk, 1); s_kv_str (pk, "k", "v");
    s_key (pk, "labels"); msgpack_pack_map (pk, 1); s_kv_str (pk, "region", "eu");
    s_key (pk, "tags"); msgpack_pack_array (pk, 2); s_key (pk, "a"); s_key (pk, "bb");
    s_key (pk, "steps"); msgpack_pack_array (pk, 2);
        msgpack_pack_map (pk, 1); s_key (pk, "delta"); msgpack_pack_int64 (pk, -3);
        msgpack_pack_map (pk, 2); s_key (pk, "delta"); msgpack_pack_int64 (pk, 4);
                                  s_kv_str (pk, "label", "x");
    s_key (pk, "inner"); msgpack_pack_map (pk, 1); s_key (pk, "delta"); msgpack_pack_int64 (pk, 7);
    s_kv_str (pk, "mode", "fast");
    assert_int_equal (s_decode (f), 0);
    outer_t *o = &f->out;
    assert_string_equal (o->name, "web");
    assert_true (o->has_weight);
    assert_int_equal (o->weight, 20);
    assert_true (o->has_flag && o->flag);
    assert_true (o->has_ratio);
    assert_true (o->ratio == 1.0);
    assert_int_equal (o->free->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal (o->section->via.map.size, 1);
    assert_int_equal (o->labels.count, 1);
    assert_string_equal (o->labels.items [0].key, "region");
    assert_string_equal (o->labels.items [0].value, "eu");
    assert_int_equal (o->tags.count, 2);
    assert_string_equal (((const char **) o->tags.items) [1], "bb");
    assert_int_equal (o->steps.count, 2);
    inner_t *steps = o->steps.items;
    assert_int_equal (steps [0].delta, -3);
    assert_null (steps [0].label);
    assert_string_equal (steps [1].label, "x");
    assert_int_equal (o->inner->delta, 7);
    assert_string_equal (o->mode, "fast");
}

static void
test_contract_absent_fields_take_defaults (void **state)
{
    fixture_t *f = *state;
    msgpack_pack_map (&f->pk, 3);
    s_kv_str (&f->pk, "name", "web");
    s_key (&f->pk, "weight"); msgpack_pack_nil (&f->pk);   //  nil is absent
    s_key (&f->pk, "inner"); msgpack_pack_nil (&f->pk);
    assert_int_equal (s_decode (f), 0);
    assert_false (f->out.has_weight);
    assert_int_equal (f->out.weight, 100);
    assert_false (f->out.has_flag);
    assert_null (f->out.inner);
    assert_null (f->out.free);
    assert_int_equal (f->out.tags.count, 0);
    assert_string_equal (f->out.mode, "slow");
}

static void
test_contract_ignores_unknown_keys (void **state)
{
    fixture_t *f = *state;
    msgpack_pack_map (&f->pk, 3);
    s_kv_str (&f->pk, "later", "a field of a newer version");
    s_kv_str (&f->pk, "name", "web");
    s_key (&f->pk, "inner");
    msgpack_pack_map (&f->pk, 2);
    s_key (&f->pk, "delta"); msgpack_pack_int64 (&f->pk, 1);
    s_key (&f->pk, "newer"); msgpack_pack_map (&f->pk, 0);
    assert_int_equal (s_decode (f), 0);
    assert_string_equal (f->out.name, "web");
    assert_int_equal (f->out.inner->delta, 1);
}

static void
test_contract_refuses_a_known_key_given_twice (void **state)
{
    fixture_t *f = *state;
    msgpack_pack_map (&f->pk, 3);
    s_kv_str (&f->pk, "name", "web");
    s_key (&f->pk, "weight"); msgpack_pack_uint64 (&f->pk, 1);
    s_key (&f->pk, "weight"); msgpack_pack_uint64 (&f->pk, 2);
    s_assert_refused (f, "field 'weight' is given twice");
}

static void
test_contract_refuses_a_key_given_twice_after_nil (void **state)
{
    fixture_t *f = *state;
    msgpack_pack_map (&f->pk, 2);
    s_key (&f->pk, "name"); msgpack_pack_nil (&f->pk);
    s_kv_str (&f->pk, "name", "web");
    s_assert_refused (f, "field 'name' is given twice");
}

static void
test_contract_refuses_a_key_that_is_not_a_string (void **state)
{
    fixture_t *f = *state;
    msgpack_pack_map (&f->pk, 2);
    s_kv_str (&f->pk, "name", "web");
    s_key (&f->pk, "inner");
    msgpack_pack_map (&f->pk, 2);
    s_key (&f->pk, "delta"); msgpack_pack_int64 (&f->pk, 1);
    msgpack_pack_uint64 (&f->pk, 7); msgpack_pack_uint64 (&f->pk, 8);
    s_assert_refused (f, "field 'inner' has a key that is a positive integer, expected a string");
}

static void
test_contract_refuses_an_unknown_key_given_twice (void **state)
{
    fixture_t *f = *state;
    msgpack_pack_map (&f->pk, 2);
    s_kv_str (&f->pk, "name", "web");
    s_key (&f->pk, "inner");
    msgpack_pack_map (&f->pk, 3);
    s_key (&f->pk, "delta"); msgpack_pack_int64 (&f->pk, 1);
    s_kv_str (&f->pk, "other", "1");
    s_kv_str (&f->pk, "other", "2");
    s_assert_refused (f, "field 'inner.other' is given twice");
}

static void
test_contract_refuses_a_label_given_twice (void **state)
{
    fixture_t *f = *state;
    msgpack_pack_map (&f->pk, 2);
    s_kv_str (&f->pk, "name", "web");
    s_key (&f->pk, "labels");
    msgpack_pack_map (&f->pk, 2);
    s_kv_str (&f->pk, "region", "eu");
    s_kv_str (&f->pk, "region", "us");
    s_assert_refused (f, "field 'labels.region' is given twice");
}

static void
test_contract_requires_required_fields (void **state)
{
    fixture_t *f = *state;
    msgpack_pack_map (&f->pk, 1);
    s_key (&f->pk, "steps");
    msgpack_pack_array (&f->pk, 1);
    msgpack_pack_map (&f->pk, 0);
    //  The first problem met, in the order of the body.
    s_assert_refused (f, "field 'steps[0].delta' is required");
}

static void
test_contract_requires_the_name (void **state)
{
    fixture_t *f = *state;
    msgpack_pack_map (&f->pk, 0);
    s_assert_refused (f, "field 'name' is required");
}

//  One refusal per case: the body {name: "web", key: value}.
typedef void (pack_fn) (msgpack_packer *pk);
static void s_big (msgpack_packer *pk) { msgpack_pack_uint64 (pk, 101); }
static void s_neg (msgpack_packer *pk) { msgpack_pack_int64 (pk, -1); }
static void s_text (msgpack_packer *pk) { s_key (pk, "20"); }
static void s_half (msgpack_packer *pk) { msgpack_pack_double (pk, 1.5); }
static void s_one (msgpack_packer *pk) { msgpack_pack_uint64 (pk, 1); }
static void s_list4 (msgpack_packer *pk)
{
    msgpack_pack_array (pk, 4);
    for (int i = 0; i < 4; i++)
        s_key (pk, "t");
}
static void s_longtag (msgpack_packer *pk) { msgpack_pack_array (pk, 1); s_key (pk, "abcde"); }
static void s_emptytag (msgpack_packer *pk) { msgpack_pack_array (pk, 1); s_key (pk, ""); }
static void s_intlabel (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 1);
    s_key (pk, "a");
    msgpack_pack_uint64 (pk, 1);
}
static void s_deep (msgpack_packer *pk)
{
    msgpack_pack_map (pk, 1);
    s_key (pk, "delta");
    msgpack_pack_int64 (pk, 11);
}
static void s_medium (msgpack_packer *pk) { s_key (pk, "medium"); }
static void s_nan (msgpack_packer *pk) { msgpack_pack_double (pk, NAN); }
static void s_nul (msgpack_packer *pk) { msgpack_pack_str (pk, 3); msgpack_pack_str_body (pk, "a\0b", 3); }

static void
test_contract_refuses_wrong_values (void **state)
{
    fixture_t *f = *state;
    static const struct {
        const char *key;
        pack_fn *value;
        const char *sentence;
    } cases [] = {
        { "weight", s_big, "field 'weight': 101 is not in 0..100" },
        { "weight", s_neg, "field 'weight' is a negative integer, expected an integer in 0..100" },
        { "weight", s_text, "field 'weight' is a string, expected an integer in 0..100" },
        { "flag", s_one, "field 'flag' is a positive integer, expected a boolean" },
        { "ratio", s_half, "field 'ratio': 1.5 is not in 0..1" },
        { "ratio", s_text, "field 'ratio' is a string, expected a number" },
        { "ratio", s_nan, "field 'ratio' is NaN, expected a number in 0..1" },
        { "section", s_one, "field 'section' is a positive integer, expected a map" },
        { "labels", s_intlabel, "field 'labels.a' is a positive integer, expected a string" },
        { "tags", s_list4, "field 'tags' has 4 items, expected 0..3" },
        { "tags", s_longtag, "field 'tags[0]' is 5 bytes, the limit is 4" },
        { "tags", s_emptytag, "field 'tags[0]' is 0 bytes, expected at least 1" },
        { "tags", s_one, "field 'tags' is a positive integer, expected an array" },
        { "inner", s_one, "field 'inner' is a positive integer, expected a map" },
        { "inner", s_deep, "field 'inner.delta': 11 is not in -10..10" },
        { "mode", s_medium, "field 'mode': 'medium' is not one of fast, slow" },
        { "name", s_nul, "field 'name' contains a NUL byte" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        msgpack_sbuffer_clear (&f->sbuf);
        flot_body_destroy (&f->body);
        if (strcmp (cases [i].key, "name")) {
            msgpack_pack_map (&f->pk, 2);
            s_kv_str (&f->pk, "name", "web");
        }
        else
            msgpack_pack_map (&f->pk, 1);
        s_key (&f->pk, cases [i].key);
        cases [i].value (&f->pk);
        s_assert_refused (f, cases [i].sentence);
    }
}

static void
test_contract_encodes_what_it_decodes (void **state)
{
    fixture_t *f = *state;
    inner_t steps [2] = { { .delta = -1 }, { .delta = 2, .label = "b" } };
    inner_t inner = { .delta = 3 };
    const char *tags [] = { "x" };
    flot_strpair_t labels [] = { { "region", "eu" } };
    outer_t in = {
        .name = "web", .weight = 0, .has_weight = true, .ratio = 0.25, .has_ratio = true,
        .labels = { 1, labels }, .tags = { 1, tags }, .steps = { 2, steps },
        .inner = &inner
    };
    msgpack_sbuffer first;
    flot_encode_sbuf (&s_outer, &in, &first);
    msgpack_sbuffer_write (&f->sbuf, first.data, first.size);
    assert_int_equal (s_decode (f), 0);
    assert_true (f->out.has_weight);
    assert_int_equal (f->out.weight, 0);
    assert_false (f->out.has_flag);         //  not set, so not sent
    assert_string_equal (f->out.mode, "slow");      //  its default, not sent
    msgpack_sbuffer second;
    flot_encode_sbuf (&s_outer, &f->out, &second);
    //  mode came back as its default, which is not sent.
    assert_int_equal (second.size, first.size);
    assert_memory_equal (second.data, first.data, first.size);
    msgpack_sbuffer_destroy (&first);
    msgpack_sbuffer_destroy (&second);
}

//  --------------------------------------------------------------------------
//  Every message of every contract

//  Packs def's sample (with extra, twice) and decodes it; returns the
//  result, the decoded struct's re-encoding in *again.
static int
s_sample_decode (const flot_struct_t *def, const char *extra, bool twice,
                 msgpack_sbuffer *again, flot_err_t *err)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    contract_sample_pack (def, &pk, extra, twice);
    flot_body_t *body = flot_body_decode (sbuf.data, sbuf.size, err);
    assert_non_null (body);
    msgpack_zone zone;
    msgpack_zone_init (&zone, 1024);
    void *out = flot_decode_new (def, flot_body_root (body), &zone, err);
    if (out && again)
        flot_encode_sbuf (def, out, again);
    msgpack_zone_destroy (&zone);
    flot_body_destroy (&body);
    msgpack_sbuffer_destroy (&sbuf);
    return out ? 0 : -1;
}

static void
test_contract_every_message_takes_its_sample (void **state)
{
    (void) state;
    size_t count = 0;
    for (const flot_struct_t *const *d = flot_struct_defs; *d; d++, count++) {
        flot_err_t err = { 0 };
        msgpack_sbuffer plain, extra;
        if (s_sample_decode (*d, NULL, false, &plain, &err))
            fail_msg ("%s: its sample is refused: %s", (*d)->name, err.message);
        //  A key this version does not know changes nothing.
        if (s_sample_decode (*d, "fromANewerVersion", false, &extra, &err))
            fail_msg ("%s: an unknown key is refused: %s", (*d)->name, err.message);
        assert_int_equal (plain.size, extra.size);
        assert_memory_equal (plain.data, extra.data, plain.size);
        //  Decoding what was encoded gives the same bytes again.
        flot_body_t *body = flot_body_decode (plain.data, plain.size, &err);
        assert_non_null (body);
        msgpack_zone zone;
        msgpack_zone_init (&zone, 1024);
        void *out = flot_decode_new (*d, flot_body_root (body), &zone, &err);
        if (!out)
            fail_msg ("%s: its own encoding is refused: %s", (*d)->name, err.message);
        msgpack_sbuffer again;
        flot_encode_sbuf (*d, out, &again);
        assert_int_equal (again.size, plain.size);
        assert_memory_equal (again.data, plain.data, plain.size);
        msgpack_sbuffer_destroy (&again);
        msgpack_zone_destroy (&zone);
        flot_body_destroy (&body);
        msgpack_sbuffer_destroy (&plain);
        msgpack_sbuffer_destroy (&extra);
    }
    assert_true (count > 0);
}

//  With every field given (an array or a strmap with an item), a message
//  decodes, encodes every field again (but a string at its default), and
//  what it encodes decodes and encodes to the same bytes again: has_ flags,
//  defaults and optional arrays survive the trip.
static void
test_contract_every_message_keeps_its_optional_fields (void **state)
{
    (void) state;
    for (const flot_struct_t *const *d = flot_struct_defs; *d; d++) {
        msgpack_sbuffer sbuf, first, second;
        msgpack_packer pk;
        msgpack_sbuffer_init (&sbuf);
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        contract_sample_pack_every (*d, &pk);
        flot_err_t err = { 0 };
        msgpack_zone zone;
        msgpack_zone_init (&zone, 1024);
        flot_body_t *body = flot_body_decode (sbuf.data, sbuf.size, &err);
        assert_non_null (body);
        void *out = flot_decode_new (*d, flot_body_root (body), &zone, &err);
        if (!out)
            fail_msg ("%s: its sample with every field is refused: %s", (*d)->name, err.message);
        //  Every optional number or bool given is marked given.
        for (size_t i = 0; i < (*d)->field_count; i++)
            if ((*d)->fields [i].has_offset != SIZE_MAX)
                assert_true (*(bool *) ((char *) out + (*d)->fields [i].has_offset));
        flot_encode_sbuf (*d, out, &first);
        flot_body_t *again = flot_body_decode (first.data, first.size, &err);
        assert_non_null (again);
        void *out2 = flot_decode_new (*d, flot_body_root (again), &zone, &err);
        if (!out2)
            fail_msg ("%s: its own encoding is refused: %s", (*d)->name, err.message);
        flot_encode_sbuf (*d, out2, &second);
        //  Every field given is encoded again, but a string at its default.
        for (size_t i = 0; i < (*d)->field_count; i++)
            if ((*d)->fields [i].has_offset != SIZE_MAX)
                assert_true (*(bool *) ((char *) out2 + (*d)->fields [i].has_offset));
        size_t at_default = 0;
        for (size_t i = 0; i < (*d)->field_count; i++) {
            const flot_field_t *f = &(*d)->fields [i];
            const char *value = f->type == FLOT_T_STR
                              ? *(const char **) ((char *) out + f->offset) : NULL;
            at_default += value && f->has_default && strcmp (value, f->sdefault) == 0;
        }
        if (flot_body_root (again)->via.map.size + at_default != (*d)->field_count)
            fail_msg ("%s: %u of its %zu fields were encoded again", (*d)->name,
                      flot_body_root (again)->via.map.size, (*d)->field_count);
        assert_int_equal (first.size, second.size);
        assert_memory_equal (first.data, second.data, first.size);
        msgpack_sbuffer_destroy (&sbuf);
        msgpack_sbuffer_destroy (&first);
        msgpack_sbuffer_destroy (&second);
        flot_body_destroy (&again);
        flot_body_destroy (&body);
        msgpack_zone_destroy (&zone);
    }
}

static void
test_contract_every_message_refuses_a_key_given_twice (void **state)
{
    (void) state;
    for (const flot_struct_t *const *d = flot_struct_defs; *d; d++) {
        flot_err_t err = { 0 };
        const char *extra = "fromANewerVersion";
        assert_int_equal (s_sample_decode (*d, extra, true, NULL, &err), -1);
        char sentence [200];
        snprintf (sentence, sizeof sentence, "field '%s' is given twice",
                  contract_sample_repeated (*d, extra));
        assert_int_equal (err.code, FLOT_E_INVALID);
        if (strcmp (err.message, sentence))
            fail_msg ("%s: '%s', expected '%s'", (*d)->name, err.message, sentence);
    }
}

static void
test_contract_tables_are_consistent (void **state)
{
    (void) state;
    for (const flot_contract_t *const *c = flot_contracts; *c; c++) {
        assert_true ((*c)->command_count > 0);
        for (size_t i = 0; i < (*c)->command_count; i++) {
            const flot_command_def_t *cmd = &(*c)->commands [i];
            assert_ptr_equal (flot_contract_command (*c, cmd->name), cmd);
            assert_non_null (cmd->callers [0]);
            for (const int *e = cmd->errors; *e; e++)
                assert_true (*e >= 1 && *e <= FLOT_E_MAX);
        }
        assert_null (flot_contract_command (*c, "NoSuchCommand"));
    }
    for (size_t i = 0; i < flot_event_def_count; i++)
        assert_ptr_equal (flot_event_def (flot_event_defs [i].type), &flot_event_defs [i]);
    assert_null (flot_event_def ("no.such.event"));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_contract_decodes_every_type, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_contract_absent_fields_take_defaults, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_contract_ignores_unknown_keys, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_contract_refuses_a_known_key_given_twice, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_contract_refuses_a_key_given_twice_after_nil, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_contract_refuses_a_key_that_is_not_a_string, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_contract_refuses_an_unknown_key_given_twice, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_contract_refuses_a_label_given_twice, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_contract_requires_required_fields, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_contract_requires_the_name, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_contract_refuses_wrong_values, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_contract_encodes_what_it_decodes, s_setup, s_teardown),
        cmocka_unit_test (test_contract_every_message_takes_its_sample),
        cmocka_unit_test (test_contract_every_message_keeps_its_optional_fields),
        cmocka_unit_test (test_contract_every_message_refuses_a_key_given_twice),
        cmocka_unit_test (test_contract_tables_are_consistent),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
