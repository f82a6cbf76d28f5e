/*  analysis_section.c - the `analysis` section of a deployment spec, from
    msgpack (flotilla/analysis_section.h).

    Part of common/ (the flot_common library: pure parsing, no actor, no
    I/O). The spec parser (actors/strategy/spec.c) validates a spec's section
    with it; the analyzer actor (actors/analyzer) parses its requests'
    sections and providers with it, then runs them. The coordinator converts
    the YAML section to msgpack generically, so everything is checked here:
    each field's type and range, unknown keys, the templates in queries and
    command arguments, the conditions (parsed once, kept), and the judge's
    parameters. A command provider's command is a program's name in the
    analyzer's hooks directory, taken literally, never a template
    (flotilla/hook_path.h). Every error names its path:
    "analysis.metrics[1].failureLimit: -1 is not >= 0". The section's form
    is in protocol/SPEC.md section 20.
*/
#include "flotilla/analysis_section.h"
#include "flotilla/body.h"
#include "flotilla/duration.h"
#include "flotilla/hook_path.h"
#include "flotilla/template.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>

#include <math.h>
#include <stdarg.h>

#define MAX_NAME    128
#define MAX_TEXT    4096
#define MAX_GROUPS  64

static int
s_fail (flot_err_t *err, const char *path, const char *format, ...)
{
    char sentence [256];
    va_list args;
    va_start (args, format);
    vsnprintf (sentence, sizeof sentence, format, args);
    va_end (args);
    return flot_err_set (err, FLOT_E_INVALID, "%s: %s", path, sentence);
}

//  out = "path.key" (cut short if it must be: it only names a place).
static void
s_join (char *out, size_t cap, const char *path, const char *key)
{
    size_t used = strlen (path);
    if (used >= cap)
        used = cap - 1;
    memcpy (out, path, used);
    out [used] = 0;
    if (used + 1 < cap) {
        out [used++] = '.';
        out [used] = 0;
        size_t rest = strlen (key);
        if (rest > cap - used - 1)
            rest = cap - used - 1;
        memcpy (out + used, key, rest);
        out [used + rest] = 0;
    }
}

//  The key of a map entry at path as a NUL-terminated name into key, and
//  where its value is ("path.key") into at. 0, or -1 with err.
static int
s_key (const msgpack_object_kv *kv, const char *path, char *key, size_t key_cap,
       char *at, size_t at_cap, flot_err_t *err)
{
    if (flot_obj_str (&kv->key, key, key_cap))
        return s_fail (err, path, "a key is not a short string");
    s_join (at, at_cap, path, key);
    return 0;
}

static const char *
s_type_name (const msgpack_object *obj)
{
    switch (obj->type) {
        case MSGPACK_OBJECT_NIL: return "null";
        case MSGPACK_OBJECT_BOOLEAN: return "a boolean";
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "an integer";
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64: return "a number";
        case MSGPACK_OBJECT_STR: return "a string";
        case MSGPACK_OBJECT_ARRAY: return "a list";
        case MSGPACK_OBJECT_MAP: return "a map";
        default: return "binary data";
    }
}

//  A string of at most cap - 1 bytes, copied fresh into *out.
static int
s_string (const msgpack_object *obj, const char *path, size_t cap, bool nonempty,
          char **out, flot_err_t *err)
{
    if (obj->type != MSGPACK_OBJECT_STR)
        return s_fail (err, path, "expected a string, not %s", s_type_name (obj));
    if (obj->via.str.size >= cap)
        return s_fail (err, path, "longer than %zu bytes", cap - 1);
    if (memchr (obj->via.str.ptr, 0, obj->via.str.size))
        return s_fail (err, path, "contains a NUL byte");
    if (nonempty && obj->via.str.size == 0)
        return s_fail (err, path, "is empty");
    free (*out);
    *out = strndup (obj->via.str.ptr, obj->via.str.size);
    return 0;
}

static int
s_template (const msgpack_object *obj, const char *path, char **out, flot_err_t *err)
{
    if (s_string (obj, path, MAX_TEXT, true, out, err))
        return -1;
    char sentence [256];
    if (flot_template_check (*out, sentence, sizeof sentence))
        return s_fail (err, path, "%s", sentence);
    return 0;
}

static int
s_int (const msgpack_object *obj, const char *path, int64_t min, int64_t max,
       int64_t *out, flot_err_t *err)
{
    int64_t value;
    if (obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (obj->via.u64 > (uint64_t) INT64_MAX)
            return s_fail (err, path, "%llu is not <= %lld",
                           (unsigned long long) obj->via.u64, (long long) max);
        value = (int64_t) obj->via.u64;
    }
    else
    if (obj->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        value = obj->via.i64;
    else
        return s_fail (err, path, "expected an integer, not %s", s_type_name (obj));
    if (value < min)
        return s_fail (err, path, "%lld is not >= %lld", (long long) value, (long long) min);
    if (value > max)
        return s_fail (err, path, "%lld is not <= %lld", (long long) value, (long long) max);
    *out = value;
    return 0;
}

static int
s_uint32 (const msgpack_object *obj, const char *path, int64_t min, int64_t max,
          uint32_t *out, flot_err_t *err)
{
    int64_t value;
    if (s_int (obj, path, min, max, &value, err))
        return -1;
    *out = (uint32_t) value;
    return 0;
}

static int
s_double (const msgpack_object *obj, const char *path, double min, double max,
          bool open_min, bool open_max, double *out, flot_err_t *err)
{
    double value;
    if (obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        value = (double) obj->via.u64;
    else
    if (obj->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        value = (double) obj->via.i64;
    else
    if (obj->type == MSGPACK_OBJECT_FLOAT32 || obj->type == MSGPACK_OBJECT_FLOAT64)
        value = obj->via.f64;
    else
        return s_fail (err, path, "expected a number, not %s", s_type_name (obj));
    if (!isfinite (value))
        return s_fail (err, path, "%g is not a finite number", value);
    if (open_min ? value <= min : value < min)
        return s_fail (err, path, "%g is not %s %g", value, open_min ? ">" : ">=", min);
    if (open_max ? value >= max : value > max)
        return s_fail (err, path, "%g is not %s %g", value, open_max ? "<" : "<=", max);
    *out = value;
    return 0;
}

static int
s_bool (const msgpack_object *obj, const char *path, bool *out, flot_err_t *err)
{
    if (obj->type != MSGPACK_OBJECT_BOOLEAN)
        return s_fail (err, path, "expected true or false, not %s", s_type_name (obj));
    *out = obj->via.boolean;
    return 0;
}

//  A duration: a string ("1m30s") or an integer of milliseconds.
static int
s_duration (const msgpack_object *obj, const char *path, int64_t min, int64_t *out,
            flot_err_t *err)
{
    int64_t ms;
    if (obj->type == MSGPACK_OBJECT_STR) {
        char text [64];
        if (flot_obj_str (obj, text, sizeof text) || flot_duration_parse (text, &ms))
            return s_fail (err, path, "'%.*s' is not a duration (250ms, 30s, 1m30s)",
                           obj->via.str.size > 40 ? 40 : (int) obj->via.str.size,
                           obj->via.str.ptr);
    }
    else
    if (obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER || obj->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        if (s_int (obj, path, INT64_MIN, INT64_MAX, &ms, err))
            return -1;
    }
    else
        return s_fail (err, path, "expected a duration (a string like 30s, or milliseconds), not %s",
                       s_type_name (obj));
    if (ms < min)
        return s_fail (err, path, "%lld ms is not >= %lld ms", (long long) ms, (long long) min);
    if (ms > FLOT_ANALYSIS_MAX_MS)
        return s_fail (err, path, "%lld ms is longer than a day", (long long) ms);
    *out = ms;
    return 0;
}

static int
s_map (const msgpack_object *obj, const char *path, flot_err_t *err)
{
    if (obj->type != MSGPACK_OBJECT_MAP)
        return s_fail (err, path, "expected a map, not %s", s_type_name (obj));
    const msgpack_object *twice = flot_map_repeated_key (obj);
    if (twice)
        return s_fail (err, path, "'%.*s' is given twice",
                       (int) (twice->via.str.size < 64 ? twice->via.str.size : 64),
                       twice->via.str.ptr);
    return 0;
}

//  --------------------------------------------------------------------------
//  Providers

void
flot_provider_clear (flot_provider_t *provider)
{
    free (provider->address);
    free (provider->query);
    free (provider->command);
    for (size_t i = 0; i < provider->arg_count; i++)
        free (provider->args [i]);
    free (provider->args);
    free (provider->metric);
    memset (provider, 0, sizeof *provider);
}

static int
s_prometheus (const msgpack_object *obj, const char *path, flot_provider_t *provider,
              flot_err_t *err)
{
    char at [512];
    bool has_step = false;
    provider->kind = FLOT_PROVIDER_PROMETHEUS;
    provider->step_ms = 5000;
    provider->timeout_ms = 10000;
    if (s_map (obj, path, err))
        return -1;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr [i];
        char key [64];
        if (s_key (kv, path, key, sizeof key, at, sizeof at, err))
            return -1;
        int rc;
        if (streq (key, "address")) {
            rc = s_string (&kv->val, at, MAX_TEXT, true, &provider->address, err);
            if (rc == 0 && strncmp (provider->address, "http://", 7)
                        && strncmp (provider->address, "https://", 8))
                rc = s_fail (err, at, "'%s' is not an http:// or https:// URL", provider->address);
        }
        else
        if (streq (key, "query"))
            rc = s_template (&kv->val, at, &provider->query, err);
        else
        if (streq (key, "range"))
            rc = s_duration (&kv->val, at, 1, &provider->range_ms, err);
        else
        if (streq (key, "step")) {
            rc = s_duration (&kv->val, at, 1, &provider->step_ms, err);
            has_step = true;
        }
        else
        if (streq (key, "timeout"))
            rc = s_duration (&kv->val, at, 1, &provider->timeout_ms, err);
        else
            rc = s_fail (err, at, "unknown field (expected address, query, range, step, timeout)");
        if (rc)
            return -1;
    }
    if (!provider->address)
        return s_fail (err, path, "address is required");
    if (!provider->query)
        return s_fail (err, path, "query is required");
    if (has_step && provider->range_ms == 0)
        return s_fail (err, path, "step needs a range");
    if (provider->range_ms && provider->range_ms / provider->step_ms > 11000)
        return s_fail (err, path, "range / step is more than 11000 points (Prometheus' limit)");
    return 0;
}

static int
s_command (const msgpack_object *obj, const char *path, flot_provider_t *provider,
           flot_err_t *err)
{
    char at [512];
    provider->kind = FLOT_PROVIDER_COMMAND;
    provider->timeout_ms = 10000;
    if (s_map (obj, path, err))
        return -1;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr [i];
        char key [64];
        if (s_key (kv, path, key, sizeof key, at, sizeof at, err))
            return -1;
        int rc = 0;
        if (streq (key, "command")) {
            char why [256];
            rc = s_string (&kv->val, at, MAX_TEXT, true, &provider->command, err);
            if (rc == 0 && flot_hook_name_check (provider->command, &flot_hook_kind_provider,
                                                 why, sizeof why))
                rc = s_fail (err, at, "%s", why);
        }
        else
        if (streq (key, "args")) {
            if (kv->val.type != MSGPACK_OBJECT_ARRAY)
                return s_fail (err, at, "expected a list of strings, not %s", s_type_name (&kv->val));
            if (kv->val.via.array.size > FLOT_ANALYSIS_MAX_ARGS)
                return s_fail (err, at, "more than %d arguments", FLOT_ANALYSIS_MAX_ARGS);
            for (size_t a = 0; a < provider->arg_count; a++)
                free (provider->args [a]);
            free (provider->args);
            provider->arg_count = 0;
            provider->args = calloc (kv->val.via.array.size + 1, sizeof (char *));
            for (uint32_t a = 0; a < kv->val.via.array.size && rc == 0; a++) {
                char item [600];
                snprintf (item, sizeof item, "%s[%u]", at, a);
                const msgpack_object *arg = &kv->val.via.array.ptr [a];
                rc = arg->type == MSGPACK_OBJECT_STR && arg->via.str.size == 0
                   ? (provider->args [provider->arg_count++] = strdup (""), 0)
                   : s_template (arg, item, &provider->args [provider->arg_count++], err);
            }
        }
        else
        if (streq (key, "timeout"))
            rc = s_duration (&kv->val, at, 1, &provider->timeout_ms, err);
        else
            rc = s_fail (err, at, "unknown field (expected command, args, timeout)");
        if (rc)
            return -1;
    }
    if (!provider->command)
        return s_fail (err, path, "command is required");
    return 0;
}

static int
s_pushed (const msgpack_object *obj, const char *path, flot_provider_t *provider,
          flot_err_t *err)
{
    char at [512];
    provider->kind = FLOT_PROVIDER_PUSHED;
    if (s_map (obj, path, err))
        return -1;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr [i];
        char key [64];
        if (s_key (kv, path, key, sizeof key, at, sizeof at, err))
            return -1;
        if (!streq (key, "metric"))
            return s_fail (err, at, "unknown field (expected metric)");
        if (s_string (&kv->val, at, MAX_NAME, true, &provider->metric, err))
            return -1;
    }
    if (!provider->metric)
        return s_fail (err, path, "metric is required");
    return 0;
}

int
flot_provider_parse (const msgpack_object *obj, const char *path,
                     flot_provider_t *provider, flot_err_t *err)
{
    memset (provider, 0, sizeof *provider);
    if (s_map (obj, path, err))
        return -1;
    if (obj->via.map.size != 1)
        return s_fail (err, path, "expected exactly one of prometheus, command, pushed");
    const msgpack_object_kv *kv = &obj->via.map.ptr [0];
    char key [64], at [512];
    if (s_key (kv, path, key, sizeof key, at, sizeof at, err))
        return -1;
    int rc;
    if (streq (key, "prometheus"))
        rc = s_prometheus (&kv->val, at, provider, err);
    else
    if (streq (key, "command"))
        rc = s_command (&kv->val, at, provider, err);
    else
    if (streq (key, "pushed"))
        rc = s_pushed (&kv->val, at, provider, err);
    else
        rc = s_fail (err, at, "unknown provider (expected prometheus, command, pushed)");
    if (rc)
        flot_provider_clear (provider);
    return rc;
}

//  --------------------------------------------------------------------------
//  Metrics

static void
s_metric_clear (flot_analysis_metric_t *metric)
{
    free (metric->name);
    free (metric->group);
    flot_provider_clear (&metric->provider);
    flot_condition_destroy (&metric->success);
    flot_condition_destroy (&metric->failure);
}

static int
s_condition (const msgpack_object *obj, const char *path, flot_condition_t **out,
             flot_err_t *err)
{
    char *text = NULL;
    if (s_string (&*obj, path, FLOT_CONDITION_MAX + 1, true, &text, err))
        return -1;
    char sentence [220];
    *out = flot_condition_parse (text, sentence, sizeof sentence);
    free (text);
    if (!*out)
        return s_fail (err, path, "%s", sentence);
    return 0;
}

static int
s_judge (const msgpack_object *obj, const char *path, flot_analysis_metric_t *metric,
         flot_err_t *err)
{
    char at [512];
    flot_judge_metric_t *judge = &metric->judge;
    if (s_map (obj, path, err))
        return -1;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr [i];
        char key [64], word [32] = "";
        if (s_key (kv, path, key, sizeof key, at, sizeof at, err))
            return -1;
        int rc = 0;
        if (streq (key, "mode") || streq (key, "direction")) {
            if (flot_obj_str (&kv->val, word, sizeof word))
                return s_fail (err, at, "expected a string, not %s", s_type_name (&kv->val));
            if (streq (key, "mode")) {
                if (streq (word, "noninferiority"))
                    judge->mode = FLOT_JUDGE_NONINFERIORITY;
                else
                if (streq (word, "kayenta"))
                    judge->mode = FLOT_JUDGE_KAYENTA;
                else
                    rc = s_fail (err, at, "'%s' is not noninferiority or kayenta", word);
            }
            else {
                if (streq (word, "increase"))
                    judge->direction = FLOT_DIRECTION_INCREASE;
                else
                if (streq (word, "decrease"))
                    judge->direction = FLOT_DIRECTION_DECREASE;
                else
                if (streq (word, "either"))
                    judge->direction = FLOT_DIRECTION_EITHER;
                else
                    rc = s_fail (err, at, "'%s' is not increase, decrease or either", word);
            }
        }
        else
        if (streq (key, "margin"))
            rc = s_double (&kv->val, at, 0, 1e9, false, false, &judge->margin, err);
        else
        if (streq (key, "confidence"))
            rc = s_double (&kv->val, at, 0, 1, true, true, &judge->confidence, err);
        else
        if (streq (key, "tolerance"))
            rc = s_double (&kv->val, at, 0, 1e9, false, false, &judge->tolerance, err);
        else
        if (streq (key, "effectSize"))
            rc = s_double (&kv->val, at, 1, 1e9, false, false, &judge->effect_size, err);
        else
        if (streq (key, "critical"))
            rc = s_bool (&kv->val, at, &judge->critical, err);
        else
        if (streq (key, "mustHaveData"))
            rc = s_bool (&kv->val, at, &judge->must_have_data, err);
        else
        if (streq (key, "group"))
            rc = s_string (&kv->val, at, MAX_NAME, true, &metric->group, err);
        else
            rc = s_fail (err, at, "unknown field (expected mode, direction, margin, confidence, "
                         "tolerance, effectSize, critical, mustHaveData, group)");
        if (rc)
            return -1;
    }
    return 0;
}

static int
s_metric (const msgpack_object *obj, const char *path, flot_analysis_metric_t *metric,
          flot_err_t *err)
{
    char at [512];
    bool has_limits = false, has_provider = false;
    const char *limit_name = NULL;
    metric->interval_ms = -1;
    metric->limits.count = 1;
    metric->limits.consecutive_error_limit = 4;
    flot_judge_metric_defaults (&metric->judge);
    if (s_map (obj, path, err))
        return -1;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr [i];
        char key [64];
        if (s_key (kv, path, key, sizeof key, at, sizeof at, err))
            return -1;
        int rc;
        if (streq (key, "name")) {
            rc = s_string (&kv->val, at, MAX_NAME, true, &metric->name, err);
            for (const char *c = metric->name; rc == 0 && *c; c++)
                if ((unsigned char) *c < 0x20)
                    rc = s_fail (err, at, "contains a control character");
        }
        else
        if (streq (key, "provider")) {
            if (has_provider)
                flot_provider_clear (&metric->provider);
            rc = flot_provider_parse (&kv->val, at, &metric->provider, err);
            has_provider = rc == 0;
        }
        else
        if (streq (key, "successCondition"))
            rc = s_condition (&kv->val, at, &metric->success, err);
        else
        if (streq (key, "failureCondition"))
            rc = s_condition (&kv->val, at, &metric->failure, err);
        else
        if (streq (key, "interval"))
            rc = s_duration (&kv->val, at, 1, &metric->interval_ms, err);
        else
        if (streq (key, "initialDelay"))
            rc = s_duration (&kv->val, at, 0, &metric->initial_delay_ms, err);
        else
        if (streq (key, "count"))
            rc = s_uint32 (&kv->val, at, 1, FLOT_ANALYSIS_MAX_COUNT, &metric->limits.count, err);
        else
        if (streq (key, "failureLimit")) {
            rc = s_uint32 (&kv->val, at, 0, FLOT_ANALYSIS_MAX_COUNT, &metric->limits.failure_limit, err);
            has_limits = true;
            limit_name = "failureLimit";
        }
        else
        if (streq (key, "inconclusiveLimit")) {
            rc = s_uint32 (&kv->val, at, 0, FLOT_ANALYSIS_MAX_COUNT,
                           &metric->limits.inconclusive_limit, err);
            has_limits = true;
            limit_name = "inconclusiveLimit";
        }
        else
        if (streq (key, "consecutiveErrorLimit"))
            rc = s_uint32 (&kv->val, at, 0, FLOT_ANALYSIS_MAX_COUNT,
                           &metric->limits.consecutive_error_limit, err);
        else
        if (streq (key, "judge")) {
            rc = s_judge (&kv->val, at, metric, err);
            metric->is_judge = true;
        }
        else
            rc = s_fail (err, at, "unknown field (expected name, provider, successCondition, "
                         "failureCondition, judge, interval, count, initialDelay, failureLimit, "
                         "inconclusiveLimit, consecutiveErrorLimit)");
        if (rc)
            return -1;
    }
    if (!metric->name)
        return s_fail (err, path, "name is required");
    if (!has_provider)
        return s_fail (err, path, "provider is required");
    if (metric->is_judge && (metric->success || metric->failure))
        return s_fail (err, path, "a metric has either conditions or a judge, not both");
    if (metric->is_judge && has_limits)
        return s_fail (err, path, "%s applies to threshold metrics, not to a judge", limit_name);
    if (!metric->is_judge && !metric->success && !metric->failure)
        return s_fail (err, path, "needs successCondition, failureCondition, or a judge");
    metric->judge.name = metric->name;
    metric->judge.group = metric->group;
    return 0;
}

static int
s_groups (const msgpack_object *obj, const char *path, flot_analysis_t *self, flot_err_t *err)
{
    if (s_map (obj, path, err))
        return -1;
    if (obj->via.map.size > MAX_GROUPS)
        return s_fail (err, path, "more than %d groups", MAX_GROUPS);
    self->groups = calloc (obj->via.map.size + 1, sizeof (flot_judge_group_t));
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr [i];
        char key [MAX_NAME], at [512];
        if (s_key (kv, path, key, sizeof key, at, sizeof at, err))
            return -1;
        double weight;
        if (s_double (&kv->val, at, 0, 1e6, false, false, &weight, err))
            return -1;
        self->groups [self->group_count].group = strdup (key);
        self->groups [self->group_count++].weight = weight;
    }
    return 0;
}

flot_analysis_t *
flot_analysis_parse (const msgpack_object *obj, const char *path, flot_err_t *err)
{
    assert (obj);
    assert (path);
    flot_analysis_t *self = calloc (1, sizeof *self);
    assert (self);
    self->interval_ms = 10000;
    self->pass_score = 95;
    self->marginal_score = 75;
    const msgpack_object *metrics = NULL;
    char at [512];
    int rc = s_map (obj, path, err);
    for (uint32_t i = 0; rc == 0 && i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr [i];
        char key [64];
        if ((rc = s_key (kv, path, key, sizeof key, at, sizeof at, err)))
            break;
        if (streq (key, "interval"))
            rc = s_duration (&kv->val, at, 1, &self->interval_ms, err);
        else
        if (streq (key, "passScore"))
            rc = s_double (&kv->val, at, 0, 100, false, false, &self->pass_score, err);
        else
        if (streq (key, "marginalScore"))
            rc = s_double (&kv->val, at, 0, 100, false, false, &self->marginal_score, err);
        else
        if (streq (key, "groups"))
            rc = self->groups ? s_fail (err, at, "given twice") : s_groups (&kv->val, at, self, err);
        else
        if (streq (key, "background"))
            rc = s_bool (&kv->val, at, &self->background, err);
        else
        if (streq (key, "metrics")) {
            if (kv->val.type != MSGPACK_OBJECT_ARRAY)
                rc = s_fail (err, at, "expected a list of metrics, not %s", s_type_name (&kv->val));
            metrics = &kv->val;
        }
        else
            rc = s_fail (err, at, "unknown field (expected interval, passScore, marginalScore, "
                         "groups, background, metrics)");
    }
    if (rc == 0 && self->marginal_score > self->pass_score)
        rc = s_fail (err, path, "marginalScore %g is above passScore %g",
                     self->marginal_score, self->pass_score);
    if (rc == 0 && (!metrics || metrics->via.array.size == 0))
        rc = s_fail (err, path, "metrics: at least one metric is required");
    if (rc == 0 && metrics->via.array.size > FLOT_ANALYSIS_MAX_METRICS)
        rc = s_fail (err, path, "metrics: more than %d metrics", FLOT_ANALYSIS_MAX_METRICS);
    if (rc == 0) {
        self->metrics = calloc (metrics->via.array.size, sizeof (flot_analysis_metric_t));
        for (uint32_t i = 0; rc == 0 && i < metrics->via.array.size; i++) {
            flot_analysis_metric_t *metric = &self->metrics [i];
            snprintf (at, sizeof at, "%s.metrics[%u]", path, i);
            self->metric_count++;
            rc = s_metric (&metrics->via.array.ptr [i], at, metric, err);
            for (uint32_t j = 0; rc == 0 && j < i; j++)
                if (streq (self->metrics [j].name, metric->name))
                    rc = s_fail (err, at, "name: '%s' is already the name of metrics[%u]",
                                 metric->name, j);
            if (metric->interval_ms < 0)
                metric->interval_ms = self->interval_ms;
        }
    }
    if (rc) {
        if (err->code != FLOT_E_INVALID)
            err->code = FLOT_E_INVALID;
        flot_analysis_destroy (&self);
    }
    return self;
}

void
flot_analysis_destroy (flot_analysis_t **self_p)
{
    flot_analysis_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->metric_count; i++)
            s_metric_clear (&self->metrics [i]);
        free (self->metrics);
        for (size_t i = 0; i < self->group_count; i++)
            free ((char *) self->groups [i].group);
        free (self->groups);
        free (self);
        *self_p = NULL;
    }
}
