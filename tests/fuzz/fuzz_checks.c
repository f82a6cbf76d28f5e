/*  fuzz_checks.c - libFuzzer target: the parsers of what the health and
    analyzer services are sent.

    The input is one msgpack object, as a request body would carry it: it
    goes to flot_check_new (one health check), flot_checks_new (a list of
    them), flot_analysis_parse (an analysis section) and flot_provider_parse
    (a Query's provider). The same bytes, as text, go to
    flot_condition_parse and, when they parse, to flot_condition_eval.
    Each parser must refuse what it cannot read with INVALID and a
    sentence, and free what it took.
*/
#include <stdlib.h>
#include <string.h>

#include "flotilla/analysis_section.h"
#include "flotilla/body.h"
#include "flotilla/health_checks.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond) \
    do { \
        if (!(cond)) { \
            fprintf (stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, #cond); \
            abort (); \
        } \
    } while (0)

static void
s_refused (const flot_err_t *err)
{
    FUZZ_ASSERT (err->code == FLOT_E_INVALID);
    FUZZ_ASSERT (err->message [0] != 0);
}

static void
s_parse_all (const msgpack_object *obj)
{
    flot_err_t err;
    flot_check_t *check = flot_check_new (obj, "check", &err);
    if (check)
        flot_check_destroy (&check);
    else
        s_refused (&err);
    size_t count = 0;
    flot_check_t **checks = flot_checks_new (obj, "checks", 64, &count, &err);
    if (checks)
        flot_checks_destroy (&checks, count);
    else
        s_refused (&err);
    flot_analysis_t *analysis = flot_analysis_parse (obj, "analysis", &err);
    if (analysis)
        flot_analysis_destroy (&analysis);
    else
        s_refused (&err);
    flot_provider_t provider;
    if (flot_provider_parse (obj, "provider", &provider, &err) == 0)
        flot_provider_clear (&provider);
    else
        s_refused (&err);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    flot_err_t err;
    //  A body's checks first (depth, sizes), as the actor host does.
    if (flot_body_check (data, size, false, &err) == 0) {
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        if (msgpack_unpack_next (&unpacked, (const char *) data, size, NULL)
            == MSGPACK_UNPACK_SUCCESS)
            s_parse_all (&unpacked.data);
        msgpack_unpacked_destroy (&unpacked);
    }
    //  The bytes as a condition.
    char *text = malloc (size + 1);
    if (!text)
        return 0;
    memcpy (text, data, size);
    text [size] = 0;
    char message [256];
    flot_condition_t *cond = flot_condition_parse (text, message, sizeof message);
    if (cond) {
        static const double values [] = { 0.5, -3, 1e300, 0 };
        bool result;
        for (size_t n = 0; n <= 4; n++)
            flot_condition_eval (cond, values, n, &result, message, sizeof message);
        flot_condition_destroy (&cond);
    }
    else
        FUZZ_ASSERT (message [0] != 0);
    free (text);
    return 0;
}
