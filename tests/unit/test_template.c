/*  test_template.c - the template expander (protocol/flot_template.c):
    every placeholder is filled from a CONTEXT, unknown names are refused
    when a spec is checked, a missing field is a clear error when a probe
    or query runs, and braces that are not placeholders stay as written.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "flotilla/body.h"
#include "flotilla/json.h"
#include "flotilla/template.h"

#include <string.h>
#include <stdlib.h>

//  A CONTEXT from JSON; the body holds it as {"c": ...}.
static flot_body_t *
s_context (const char *json)
{
    char wrapped [1024];
    snprintf (wrapped, sizeof wrapped, "{\"c\": %s}", json);
    json_t *value = json_loads (wrapped, 0, NULL);
    assert_non_null (value);
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    assert_int_equal (flot_json_pack (&pk, value), 0);
    json_decref (value);
    flot_err_t err;
    flot_body_t *body = flot_body_decode (sbuf.data, sbuf.size, &err);
    msgpack_sbuffer_destroy (&sbuf);
    assert_non_null (body);
    return body;
}

#define FULL "{\"target\": \"eu-1\", \"address\": \"10.0.0.1:8080\", \"version\": \"2.0\", " \
             "\"previousVersion\": \"1.9\", \"deployment\": \"web-3\", " \
             "\"labels\": {\"zone\": \"a\", \"app.kubernetes.io/name\": \"web\"}}"

static char *
s_expand (const char *tmpl, const char *context, const char *role, char *err)
{
    flot_body_t *body = s_context (context);
    char *out = flot_template_expand (tmpl, flot_map_get (flot_body_root (body), "c"),
                                      role, err, 256);
    flot_body_destroy (&body);
    return out;
}

static void
test_template_fills_every_placeholder (void **state)
{
    (void) state;
    char err [256];
    char *out = s_expand ("{target} {address} {version} {previousVersion} {deployment} "
                          "{role} {label.zone} {label.app.kubernetes.io/name}", FULL,
                          "canary", err);
    assert_non_null (out);
    assert_string_equal (out, "eu-1 10.0.0.1:8080 2.0 1.9 web-3 canary a web");
    free (out);
    out = s_expand ("http://{address}/healthz?t={target}", FULL, NULL, err);
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
    char *out = s_expand (query, FULL, NULL, err);
    assert_non_null (out);
    assert_string_equal (out, "sum(rate(http_errors_total{target=\"eu-1\",version=\"2.0\"}[1m]))");
    free (out);
    out = s_expand ("{{target} {{ } }} {_x} { target}", FULL, NULL, err);
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
    assert_null (s_expand ("x {Target}", FULL, NULL, err));
    assert_non_null (strstr (err, "{Target} is not a known placeholder"));
    assert_int_equal (flot_template_check ("{label.}", err, sizeof err), -1);
    assert_non_null (strstr (err, "needs a key"));
}

static void
test_template_says_what_the_context_lacks (void **state)
{
    (void) state;
    char err [256];
    assert_null (s_expand ("http://{address}/", "{\"target\": \"eu-2\"}", NULL, err));
    assert_string_equal (err, "{address}: the target has no address");
    assert_null (s_expand ("{version}", "{\"target\": \"eu-2\"}", NULL, err));
    assert_string_equal (err, "{version}: the target has no version");
    assert_null (s_expand ("{label.region}", FULL, NULL, err));
    assert_string_equal (err, "{label.region}: the target has no label 'region'");
    assert_null (s_expand ("{role}", FULL, NULL, err));
    assert_non_null (strstr (err, "{role}: there is no role here"));
    //  A field of the wrong type is missing too.
    assert_null (s_expand ("{address}", "{\"target\": \"x\", \"address\": 5}", NULL, err));
    assert_string_equal (err, "{address}: the target has no address");
    //  No context at all, and a template with no placeholder.
    char *out = flot_template_expand ("plain {{", NULL, NULL, err, sizeof err);
    assert_string_equal (out, "plain {");
    free (out);
    assert_null (flot_template_expand ("{target}", NULL, NULL, err, sizeof err));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_template_fills_every_placeholder),
        cmocka_unit_test (test_template_keeps_braces_that_are_not_placeholders),
        cmocka_unit_test (test_template_refuses_unknown_placeholders),
        cmocka_unit_test (test_template_says_what_the_context_lacks),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
