/*  test_template.c - the template expander (common/template.c):
    every placeholder is filled from a CONTEXT, unknown names are refused
    when a spec is checked, a missing field is a clear error when a probe
    or query runs, and braces that are not placeholders stay as written.
    A CONTEXT is the health contract's, decoded (flot_health_context_t);
    flot_context_copy gives a job one that outlives its request.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "flotilla/body.h"
#include "flotilla/json.h"
#include "flotilla/template.h"

#include <string.h>
#include <stdlib.h>

//  A CONTEXT from JSON, decoded by the health contract into zone; NULL
//  with err when the contract refuses it.
static flot_health_context_t *
s_decode (const char *json, msgpack_zone *zone, flot_err_t *err)
{
    json_t *value = json_loads (json, 0, NULL);
    assert_non_null (value);
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    assert_int_equal (flot_json_pack (&pk, value), 0);
    json_decref (value);
    flot_body_t *body = flot_body_decode (sbuf.data, sbuf.size, err);
    msgpack_sbuffer_destroy (&sbuf);
    assert_non_null (body);
    flot_health_context_t *context = flot_decode_new (&flot_health_context_def,
                                                      flot_body_root (body), zone, err);
    flot_body_destroy (&body);
    return context;
}

static flot_strpair_t s_labels [] = {
    { "zone", "a" }, { "app.kubernetes.io/name", "web" }
};
static const flot_health_context_t FULL = {
    .target = "eu-1", .address = "10.0.0.1:8080", .version = "2.0",
    .previous_version = "1.9", .deployment = "web-3",
    .labels = { 2, s_labels }
};
static const flot_health_context_t BARE = { .target = "eu-2" };

static char *
s_expand (const char *tmpl, const flot_health_context_t *context, const char *role, char *err)
{
    return flot_template_expand (tmpl, context, role, err, 256);
}

static void
test_template_fills_every_placeholder (void **state)
{
    (void) state;
    char err [256];
    char *out = s_expand ("{target} {address} {version} {previousVersion} {deployment} "
                          "{role} {label.zone} {label.app.kubernetes.io/name}", &FULL,
                          "canary", err);
    assert_non_null (out);
    assert_string_equal (out, "eu-1 10.0.0.1:8080 2.0 1.9 web-3 canary a web");
    free (out);
    out = s_expand ("http://{address}/healthz?t={target}", &FULL, NULL, err);
    assert_string_equal (out, "http://10.0.0.1:8080/healthz?t=eu-1");
    free (out);
    assert_int_equal (flot_template_check ("{target}{label.x-y_z}", err, sizeof err), 0);
}

static void
test_template_keeps_braces_that_are_not_placeholders (void **state)
{
    (void) state;
    char err [256];
    const char *query = "sum(rate(http_errors_total{target=\"{target}\",version=\"{version}\"}[1m]))";
    char *out = s_expand (query, &FULL, NULL, err);
    assert_non_null (out);
    assert_string_equal (out, "sum(rate(http_errors_total{target=\"eu-1\",version=\"2.0\"}[1m]))");
    free (out);
    out = s_expand ("{{target} {{ } }} {_x} { target}", &FULL, NULL, err);
    assert_string_equal (out, "{target} { } }} {_x} { target}");
    free (out);
}

static void
test_template_refuses_unknown_placeholders (void **state)
{
    (void) state;
    char err [256];
    assert_int_equal (flot_template_check ("http://{adress}/", err, sizeof err), -1);
    assert_non_null (strstr (err, "{adress} is not a known placeholder"));
    assert_null (s_expand ("x {Target}", &FULL, NULL, err));
    assert_non_null (strstr (err, "{Target} is not a known placeholder"));
    assert_int_equal (flot_template_check ("{label.}", err, sizeof err), -1);
    assert_non_null (strstr (err, "needs a key"));
}

static void
test_template_says_what_the_context_lacks (void **state)
{
    (void) state;
    char err [256];
    assert_null (s_expand ("http://{address}/", &BARE, NULL, err));
    assert_string_equal (err, "{address}: the target has no address");
    assert_null (s_expand ("{version}", &BARE, NULL, err));
    assert_string_equal (err, "{version}: the target has no version");
    assert_null (s_expand ("{label.region}", &FULL, NULL, err));
    assert_string_equal (err, "{label.region}: the target has no label 'region'");
    assert_null (s_expand ("{role}", &FULL, NULL, err));
    assert_non_null (strstr (err, "{role}: there is no role here"));
    assert_null (s_expand ("{previousVersion}-{deployment}", &BARE, NULL, err));
    assert_string_equal (err, "{previousVersion}: the target has no previous version");
    assert_null (s_expand ("{deployment}", &BARE, NULL, err));
    assert_string_equal (err, "{deployment}: the target has no deployment");
    //  A field of the wrong type never reaches a template: the contract
    //  refuses the CONTEXT.
    msgpack_zone zone;
    assert_true (msgpack_zone_init (&zone, 1024));
    flot_err_t why;
    assert_null (s_decode ("{\"target\": \"x\", \"address\": 5}", &zone, &why));
    assert_string_equal (why.message, "field 'address' is a positive integer, expected a string");
    //  One the contract decoded, without address: absent.
    flot_health_context_t *decoded = s_decode ("{\"target\": \"x\"}", &zone, &why);
    assert_non_null (decoded);
    assert_null (s_expand ("{address}", decoded, NULL, err));
    assert_string_equal (err, "{address}: the target has no address");
    msgpack_zone_destroy (&zone);
    //  No context at all, and a template with no placeholder.
    char *out = flot_template_expand ("plain {{", NULL, NULL, err, sizeof err);
    assert_string_equal (out, "plain {");
    free (out);
    assert_null (flot_template_expand ("{target}", NULL, NULL, err, sizeof err));
    assert_string_equal (err, "{target}: the target has no name");
}

//  Overwrites every string of a decoded context, and the struct, as the
//  next request's body would: a copy that still points into it shows.
static void
s_scribble (flot_health_context_t *context)
{
    const char *fields [] = { context->target, context->address, context->version,
                              context->previous_version, context->deployment };
    for (size_t i = 0; i < 5; i++)
        if (fields [i])
            memset ((char *) fields [i], '#', strlen (fields [i]));
    for (size_t i = 0; i < context->labels.count; i++) {
        memset ((char *) context->labels.items [i].key, '#', strlen (context->labels.items [i].key));
        memset ((char *) context->labels.items [i].value, '#', strlen (context->labels.items [i].value));
        context->labels.items [i] = (flot_strpair_t) { "#", "#" };
    }
    memset (context, 0, sizeof *context);
}

//  A copy lives in its own zone: the request's (here, the decoded
//  context's) may go, and every field and label is still there.
static void
test_template_context_copy_outlives_the_request (void **state)
{
    (void) state;
    msgpack_zone request, job;
    assert_true (msgpack_zone_init (&request, 1024));
    assert_true (msgpack_zone_init (&job, 64));
    flot_err_t why;
    flot_health_context_t *decoded = s_decode (
        "{\"target\": \"eu-1\", \"address\": \"10.0.0.1:8080\", \"version\": \"2.0\", "
        "\"previousVersion\": \"1.9\", \"deployment\": \"web-3\", "
        "\"labels\": {\"zone\": \"a\", \"app.kubernetes.io/name\": \"web\"}}", &request, &why);
    assert_non_null (decoded);
    flot_health_context_t *copy = flot_context_copy (decoded, &job);
    flot_health_context_t *bare = flot_context_copy (&BARE, &job);
    assert_non_null (copy);
    assert_non_null (bare);
    s_scribble (decoded);
    msgpack_zone_destroy (&request);
    char err [256];
    char *out = s_expand ("{target} {address} {version} {previousVersion} {deployment} "
                          "{label.zone} {label.app.kubernetes.io/name}", copy, NULL, err);
    assert_non_null (out);
    assert_string_equal (out, "eu-1 10.0.0.1:8080 2.0 1.9 web-3 a web");
    free (out);
    //  Absent stays absent.
    assert_null (bare->address);
    assert_int_equal (bare->labels.count, 0);
    assert_null (s_expand ("{label.zone}", bare, NULL, err));
    assert_string_equal (err, "{label.zone}: the target has no label 'zone'");
    msgpack_zone_destroy (&job);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_template_fills_every_placeholder),
        cmocka_unit_test (test_template_keeps_braces_that_are_not_placeholders),
        cmocka_unit_test (test_template_refuses_unknown_placeholders),
        cmocka_unit_test (test_template_says_what_the_context_lacks),
        cmocka_unit_test (test_template_context_copy_outlives_the_request),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
