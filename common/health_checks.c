/*  health_checks.c - the `healthChecks` section: one entry, or a list of
    them, parsed from msgpack (flotilla/health_checks.h).

    Part of common/ (the flot_common library: pure parsing, no actor, no
    I/O). The spec parser (actors/strategy/spec.c) validates a spec's section
    with it; the health actor (actors/health) parses its requests' checks
    with it and probes them. The coordinator sends each check as the generic
    msgpack form of its YAML (maps, arrays, ints, floats, bools, strings), so
    every field is checked here: its type, its range, no unknown keys,
    exactly one probe kind, and every template's placeholders. A command
    probe's command is a program's name in the health actor's hooks
    directory, taken literally (flotilla/hook_path.h), and its env sets no
    variable the policy denies (flotilla/env_policy.h). Each error names the
    field by its path (healthChecks[0].http.status) so the spec parser can
    point at the line.
*/
#include "flotilla/health_checks.h"
#include "flotilla/body.h"
#include "flotilla/duration.h"
#include "flotilla/env_policy.h"
#include "flotilla/hook_path.h"
#include "flotilla/template.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>

#define MAX_MAP_ENTRIES 64       //  in any map of a check (headers, env, fields)
#define HOUR_MS 3600000LL
#define DAY_MS  86400000LL

const char *
flot_check_kind_name (flot_check_kind_t kind)
{
    return kind == FLOT_CHECK_HTTP ? "http" : kind == FLOT_CHECK_TCP ? "tcp" : "command";
}

//  A short description of a value for an error: "2xx" quoted, numbers and
//  bools as they are, "a map", "an array".
static const char *
s_describe (const msgpack_object *obj, char *buf, size_t cap)
{
    switch (obj->type) {
        case MSGPACK_OBJECT_STR:
            snprintf (buf, cap, "\"%.*s\"", obj->via.str.size > 60 ? 60 : (int) obj->via.str.size,
                      obj->via.str.ptr);
            for (char *c = buf; *c; c++)
                if (!isprint ((unsigned char) *c))
                    *c = '?';
            break;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            snprintf (buf, cap, "%llu", (unsigned long long) obj->via.u64); break;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            snprintf (buf, cap, "%lld", (long long) obj->via.i64); break;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            snprintf (buf, cap, "%g", obj->via.f64); break;
        case MSGPACK_OBJECT_BOOLEAN:
            snprintf (buf, cap, "%s", obj->via.boolean ? "true" : "false"); break;
        case MSGPACK_OBJECT_MAP: snprintf (buf, cap, "a map"); break;
        case MSGPACK_OBJECT_ARRAY: snprintf (buf, cap, "an array"); break;
        case MSGPACK_OBJECT_NIL: snprintf (buf, cap, "null"); break;
        default: snprintf (buf, cap, "a binary value"); break;
    }
    return buf;
}

//  A string value: copied fresh into *out. Returns 0 or -1 with err.
static int
s_string (const msgpack_object *obj, const char *path, bool template, char **out,
          flot_err_t *err)
{
    char what [80];
    if (obj->type != MSGPACK_OBJECT_STR)
        return flot_err_set (err, FLOT_E_INVALID, "%s: %s is not a string", path,
                             s_describe (obj, what, sizeof what));
    if (obj->via.str.size > FLOT_CHECK_MAX_STRING)
        return flot_err_set (err, FLOT_E_INVALID, "%s: is longer than %d bytes", path,
                             FLOT_CHECK_MAX_STRING);
    if (memchr (obj->via.str.ptr, 0, obj->via.str.size))
        return flot_err_set (err, FLOT_E_INVALID, "%s: holds a NUL byte", path);
    char *value = strndup (obj->via.str.ptr, obj->via.str.size);
    assert (value);
    char why [200];
    if (template && flot_template_check (value, why, sizeof why)) {
        free (value);
        return flot_err_set (err, FLOT_E_INVALID, "%s: %s", path, why);
    }
    free (*out);
    *out = value;
    return 0;
}

//  A duration: a string like "1m30s" or an integer of milliseconds.
static int
s_duration (const msgpack_object *obj, const char *path, int64_t min, int64_t max,
            int64_t *out, flot_err_t *err)
{
    char what [80];
    int64_t ms = -1;
    if (obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER && obj->via.u64 <= (uint64_t) max)
        ms = (int64_t) obj->via.u64;
    else
    if (obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER || obj->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return flot_err_set (err, FLOT_E_INVALID, "%s: %s is not between %lld and %lld ms",
                             path, s_describe (obj, what, sizeof what),
                             (long long) min, (long long) max);
    else
    if (obj->type == MSGPACK_OBJECT_STR) {
        char text [64];
        if (flot_obj_str (obj, text, sizeof text) || flot_duration_parse (text, &ms))
            return flot_err_set (err, FLOT_E_INVALID, "%s: %s is not a duration "
                                 "(like 500ms, 30s, 1m30s, or a number of ms)", path,
                                 s_describe (obj, what, sizeof what));
    }
    else
        return flot_err_set (err, FLOT_E_INVALID, "%s: %s is not a duration "
                             "(like 500ms, 30s, 1m30s, or a number of ms)", path,
                             s_describe (obj, what, sizeof what));
    if (ms < min || ms > max)
        return flot_err_set (err, FLOT_E_INVALID, "%s: %s is not between %lld and %lld ms",
                             path, s_describe (obj, what, sizeof what),
                             (long long) min, (long long) max);
    *out = ms;
    return 0;
}

static int
s_threshold (const msgpack_object *obj, const char *path, uint32_t *out, flot_err_t *err)
{
    char what [80];
    if (obj->type != MSGPACK_OBJECT_POSITIVE_INTEGER || obj->via.u64 < 1 || obj->via.u64 > 1000)
        return flot_err_set (err, FLOT_E_INVALID, "%s: %s is not an integer in 1..1000",
                             path, s_describe (obj, what, sizeof what));
    *out = (uint32_t) obj->via.u64;
    return 0;
}

static int
s_bool (const msgpack_object *obj, const char *path, bool *out, flot_err_t *err)
{
    char what [80];
    if (obj->type != MSGPACK_OBJECT_BOOLEAN)
        return flot_err_set (err, FLOT_E_INVALID, "%s: %s is not true or false",
                             path, s_describe (obj, what, sizeof what));
    *out = obj->via.boolean;
    return 0;
}

//  The key of a map entry as a C string (keys are strings: the body
//  checker made sure of it for bodies; nested maps are checked here).
static int
s_key (const msgpack_object_kv *kv, const char *path, char *buf, size_t cap, flot_err_t *err)
{
    if (flot_obj_str (&kv->key, buf, cap))
        return flot_err_set (err, FLOT_E_INVALID, "%s: has a key that is not a short string",
                             path);
    return 0;
}

static int
s_map (const msgpack_object *obj, const char *path, flot_err_t *err)
{
    char what [80];
    if (obj->type != MSGPACK_OBJECT_MAP)
        return flot_err_set (err, FLOT_E_INVALID, "%s: %s is not a map", path,
                             s_describe (obj, what, sizeof what));
    //  No map of a check has more entries; each key once (a second "args"
    //  must not add to the first).
    uint32_t size = obj->via.map.size;
    if (size > MAX_MAP_ENTRIES)
        return flot_err_set (err, FLOT_E_INVALID, "%s: has more than %d entries", path,
                             MAX_MAP_ENTRIES);
    const msgpack_object *twice = flot_map_repeated_key (obj);
    if (twice)
        return flot_err_set (err, FLOT_E_INVALID, "%s: '%.*s' is given twice", path,
                             (int) MIN (twice->via.str.size, 64), twice->via.str.ptr);
    return 0;
}

//  http.status: 200, "200", "200-299", "200,204,300-399".
static int
s_status (flot_check_t *self, const msgpack_object *obj, const char *path, flot_err_t *err)
{
    char text [128], what [80];
    self->status_count = 0;
    if (obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER && obj->via.u64 >= 100 && obj->via.u64 <= 599)
        snprintf (text, sizeof text, "%llu", (unsigned long long) obj->via.u64);
    else
    if (obj->type != MSGPACK_OBJECT_STR || flot_obj_str (obj, text, sizeof text))
        goto bad;
    char *save = NULL, *copy = strdup (text);
    for (char *item = strtok_r (copy, ",", &save); item; item = strtok_r (NULL, ",", &save)) {
        while (isspace ((unsigned char) *item))
            item++;
        char *end;
        if (!isdigit ((unsigned char) *item))
            break;
        long lo = strtol (item, &end, 10), hi = lo;
        while (isspace ((unsigned char) *end))
            end++;
        if (*end == '-') {
            end++;
            while (isspace ((unsigned char) *end))
                end++;
            if (!isdigit ((unsigned char) *end))
                break;
            hi = strtol (end, &end, 10);
        }
        while (isspace ((unsigned char) *end))
            end++;
        if (*end || lo < 100 || hi > 599 || lo > hi
        ||  self->status_count == FLOT_CHECK_MAX_STATUS) {
            self->status_count = 0;
            break;
        }
        self->status [self->status_count].lo = (int) lo;
        self->status [self->status_count++].hi = (int) hi;
        //  Mark success: strtok_r goes on.
    }
    free (copy);
    //  Every item parsed when count equals the number of commas + 1.
    size_t items = 1;
    for (const char *c = text; *c; c++)
        items += *c == ',';
    if (self->status_count != items)
        goto bad;
    free (self->status_text);
    self->status_text = strdup (text);
    return 0;
bad:
    self->status_count = 0;
    return flot_err_set (err, FLOT_E_INVALID, "%s: %s is not a status, a range or a list "
                         "(like 200, \"200-299\" or \"200,204\"; codes in 100..599)",
                         path, s_describe (obj, what, sizeof what));
}

static bool
s_header_name_ok (const char *name)
{
    if (!*name)
        return false;
    for (const char *c = name; *c; c++)
        if (!isgraph ((unsigned char) *c) || *c == ':')
            return false;
    return true;
}

static int
s_http (flot_check_t *self, const msgpack_object *obj, const char *path, flot_err_t *err)
{
    char field [300], key [64], what [80];
    if (s_map (obj, path, err))
        return -1;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr [i];
        if (s_key (kv, path, key, sizeof key, err))
            return -1;
        snprintf (field, sizeof field, "%.200s.%s", path, key);
        if (streq (key, "url")) {
            if (s_string (&kv->val, field, true, &self->url, err))
                return -1;
            if (self->url [0] != '{' && strncasecmp (self->url, "http://", 7)
            &&  strncasecmp (self->url, "https://", 8))
                return flot_err_set (err, FLOT_E_INVALID, "%s: \"%.60s\" is not an http:// "
                                     "or https:// URL", field, self->url);
        }
        else
        if (streq (key, "method")) {
            char *method = NULL;
            if (s_string (&kv->val, field, false, &method, err))
                return -1;
            bool ok = streq (method, "GET") || streq (method, "HEAD");
            self->head = streq (method, "HEAD");
            free (method);
            if (!ok)
                return flot_err_set (err, FLOT_E_INVALID, "%s: %s is not GET or HEAD", field,
                                     s_describe (&kv->val, what, sizeof what));
        }
        else
        if (streq (key, "status")) {
            if (s_status (self, &kv->val, field, err))
                return -1;
        }
        else
        if (streq (key, "body")) {
            if (s_string (&kv->val, field, false, &self->body, err))
                return -1;
        }
        else
        if (streq (key, "insecure")) {
            if (s_bool (&kv->val, field, &self->insecure, err))
                return -1;
        }
        else
        if (streq (key, "headers")) {
            const msgpack_object *headers = &kv->val;
            if (s_map (headers, field, err))
                return -1;
            if (headers->via.map.size > FLOT_CHECK_MAX_HEADERS)
                return flot_err_set (err, FLOT_E_INVALID, "%s: has more than %d headers",
                                     field, FLOT_CHECK_MAX_HEADERS);
            for (uint32_t h = 0; h < headers->via.map.size; h++) {
                char name [128], hpath [440];
                if (s_key (&headers->via.map.ptr [h], field, name, sizeof name, err))
                    return -1;
                snprintf (hpath, sizeof hpath, "%s.%s", field, name);
                if (!s_header_name_ok (name))
                    return flot_err_set (err, FLOT_E_INVALID, "%s: is not a header name "
                                         "(printable, no space or colon)", hpath);
                char *value = NULL;
                if (s_string (&headers->via.map.ptr [h].val, hpath, true, &value, err))
                    return -1;
                if (strpbrk (value, "\r\n")) {
                    free (value);
                    return flot_err_set (err, FLOT_E_INVALID, "%s: holds a line break", hpath);
                }
                self->header_names [self->header_count] = strdup (name);
                self->header_values [self->header_count++] = value;
            }
        }
        else
            return flot_err_set (err, FLOT_E_INVALID, "%s: is not a field of an http check "
                                 "(url, method, status, body, headers, insecure)", field);
    }
    if (!self->url)
        return flot_err_set (err, FLOT_E_INVALID, "%s.url: is required", path);
    return 0;
}

static int
s_tcp (flot_check_t *self, const msgpack_object *obj, const char *path, flot_err_t *err)
{
    char field [300], key [64];
    if (s_map (obj, path, err))
        return -1;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr [i];
        if (s_key (kv, path, key, sizeof key, err))
            return -1;
        snprintf (field, sizeof field, "%.200s.%s", path, key);
        if (streq (key, "address")) {
            if (s_string (&kv->val, field, true, &self->address, err))
                return -1;
            if (!strchr (self->address, '{') && !strrchr (self->address, ':'))
                return flot_err_set (err, FLOT_E_INVALID, "%s: \"%.60s\" is not host:port",
                                     field, self->address);
        }
        else
            return flot_err_set (err, FLOT_E_INVALID, "%s: is not a field of a tcp check "
                                 "(address)", field);
    }
    if (!self->address)
        return flot_err_set (err, FLOT_E_INVALID, "%s.address: is required", path);
    return 0;
}

static int
s_command (flot_check_t *self, const msgpack_object *obj, const char *path, flot_err_t *err)
{
    char field [300], key [64], what [80];
    if (s_map (obj, path, err))
        return -1;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr [i];
        if (s_key (kv, path, key, sizeof key, err))
            return -1;
        snprintf (field, sizeof field, "%.200s.%s", path, key);
        if (streq (key, "command")) {
            char why [256];
            if (s_string (&kv->val, field, false, &self->command, err))
                return -1;
            if (!*self->command)
                return flot_err_set (err, FLOT_E_INVALID, "%s: is empty", field);
            if (flot_hook_name_check (self->command, &flot_hook_kind_probe, why, sizeof why))
                return flot_err_set (err, FLOT_E_INVALID, "%.60s: %s", field, why);
        }
        else
        if (streq (key, "args")) {
            if (kv->val.type != MSGPACK_OBJECT_ARRAY)
                return flot_err_set (err, FLOT_E_INVALID, "%s: %s is not a list", field,
                                     s_describe (&kv->val, what, sizeof what));
            if (kv->val.via.array.size > FLOT_CHECK_MAX_ARGS)
                return flot_err_set (err, FLOT_E_INVALID, "%s: has more than %d entries",
                                     field, FLOT_CHECK_MAX_ARGS);
            for (uint32_t a = 0; a < kv->val.via.array.size; a++) {
                char apath [320];
                snprintf (apath, sizeof apath, "%s[%u]", field, a);
                if (s_string (&kv->val.via.array.ptr [a], apath, true,
                              &self->args [self->arg_count], err))
                    return -1;
                self->arg_count++;
            }
        }
        else
        if (streq (key, "env")) {
            const msgpack_object *env = &kv->val;
            if (s_map (env, field, err))
                return -1;
            if (env->via.map.size > FLOT_CHECK_MAX_ENV)
                return flot_err_set (err, FLOT_E_INVALID, "%s: has more than %d entries",
                                     field, FLOT_CHECK_MAX_ENV);
            for (uint32_t e = 0; e < env->via.map.size; e++) {
                char name [128], epath [440];
                if (s_key (&env->via.map.ptr [e], field, name, sizeof name, err))
                    return -1;
                snprintf (epath, sizeof epath, "%s.%s", field, name);
                if (!*name || strchr (name, '='))
                    return flot_err_set (err, FLOT_E_INVALID, "%s: is not a variable name "
                                         "(not empty, no '=')", epath);
                char why [200];
                if (flot_env_name_check (name, why, sizeof why))
                    return flot_err_set (err, FLOT_E_INVALID, "%.60s: %s", field, why);
                char *value = NULL;
                if (s_string (&env->via.map.ptr [e].val, epath, true, &value, err))
                    return -1;
                self->env_names [self->env_count] = strdup (name);
                self->env_values [self->env_count++] = value;
            }
        }
        else
            return flot_err_set (err, FLOT_E_INVALID, "%s: is not a field of a command check "
                                 "(command, args, env)", field);
    }
    if (!self->command)
        return flot_err_set (err, FLOT_E_INVALID, "%s.command: is required", path);
    return 0;
}

static int
s_parse (flot_check_t *self, const msgpack_object *obj, const char *path, flot_err_t *err)
{
    char field [300], key [64];
    if (s_map (obj, path, err))
        return -1;
    int kinds = 0;
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr [i];
        if (s_key (kv, path, key, sizeof key, err))
            return -1;
        snprintf (field, sizeof field, "%.200s.%s", path, key);
        int rc = 0;
        if (streq (key, "name")) {
            rc = s_string (&kv->val, field, false, &self->name, err);
            if (!rc && (!*self->name || strlen (self->name) > FLOT_CHECK_MAX_NAME))
                rc = flot_err_set (err, FLOT_E_INVALID, "%s: must have 1 to %d bytes",
                                   field, FLOT_CHECK_MAX_NAME);
        }
        else
        if (streq (key, "http") || streq (key, "tcp") || streq (key, "command")) {
            if (kinds++)
                return flot_err_set (err, FLOT_E_INVALID, "%s: a check has exactly one of "
                                     "http, tcp and command", field);
            self->kind = streq (key, "http") ? FLOT_CHECK_HTTP
                       : streq (key, "tcp") ? FLOT_CHECK_TCP : FLOT_CHECK_COMMAND;
            rc = self->kind == FLOT_CHECK_HTTP ? s_http (self, &kv->val, field, err)
               : self->kind == FLOT_CHECK_TCP ? s_tcp (self, &kv->val, field, err)
               : s_command (self, &kv->val, field, err);
        }
        else
        if (streq (key, "timeout"))
            rc = s_duration (&kv->val, field, 1, HOUR_MS, &self->timeout_ms, err);
        else
        if (streq (key, "period"))
            rc = s_duration (&kv->val, field, 1, DAY_MS, &self->period_ms, err);
        else
        if (streq (key, "initialDelay"))
            rc = s_duration (&kv->val, field, 0, DAY_MS, &self->initial_delay_ms, err);
        else
        if (streq (key, "successThreshold"))
            rc = s_threshold (&kv->val, field, &self->success_threshold, err);
        else
        if (streq (key, "failureThreshold"))
            rc = s_threshold (&kv->val, field, &self->failure_threshold, err);
        else
            rc = flot_err_set (err, FLOT_E_INVALID, "%s: is not a field of a health check "
                               "(name, http, tcp, command, timeout, period, initialDelay, "
                               "successThreshold, failureThreshold)", field);
        if (rc)
            return -1;
    }
    if (!self->name)
        return flot_err_set (err, FLOT_E_INVALID, "%s.name: is required", path);
    if (!kinds)
        return flot_err_set (err, FLOT_E_INVALID, "%s: needs one of http, tcp and command",
                             path);
    return 0;
}

flot_check_t *
flot_check_new (const msgpack_object *obj, const char *path, flot_err_t *err)
{
    flot_check_t *self = calloc (1, sizeof *self);
    assert (self);
    self->timeout_ms = 1000;
    self->period_ms = 10000;
    self->success_threshold = 1;
    self->failure_threshold = 3;
    self->status [0].lo = 200;
    self->status [0].hi = 399;
    self->status_count = 1;
    self->status_text = strdup ("200-399");
    if (s_parse (self, obj, path, err))
        flot_check_destroy (&self);
    return self;
}

void
flot_check_destroy (flot_check_t **self_p)
{
    flot_check_t *self = *self_p;
    if (!self)
        return;
    free (self->name);
    free (self->url);
    free (self->status_text);
    free (self->body);
    for (size_t i = 0; i < self->header_count; i++) {
        free (self->header_names [i]);
        free (self->header_values [i]);
    }
    free (self->address);
    free (self->command);
    for (size_t i = 0; i < self->arg_count; i++)
        free (self->args [i]);
    for (size_t i = 0; i < self->env_count; i++) {
        free (self->env_names [i]);
        free (self->env_values [i]);
    }
    free (self);
    *self_p = NULL;
}

flot_check_t **
flot_checks_new (const msgpack_object *array, const char *path, size_t max,
                 size_t *count, flot_err_t *err)
{
    char what [80];
    if (array->type != MSGPACK_OBJECT_ARRAY) {
        flot_err_set (err, FLOT_E_INVALID, "%s: %s is not a list", path,
                      s_describe (array, what, sizeof what));
        return NULL;
    }
    if (array->via.array.size == 0 || array->via.array.size > max) {
        flot_err_set (err, FLOT_E_INVALID, "%s: must have 1 to %zu checks", path, max);
        return NULL;
    }
    flot_check_t **checks = calloc (array->via.array.size, sizeof *checks);
    assert (checks);
    *count = 0;
    for (uint32_t i = 0; i < array->via.array.size; i++) {
        char item [300];
        snprintf (item, sizeof item, "%.200s[%u]", path, i);
        checks [i] = flot_check_new (&array->via.array.ptr [i], item, err);
        if (!checks [i]) {
            flot_checks_destroy (&checks, i);
            return NULL;
        }
        for (uint32_t j = 0; j < i; j++)
            if (streq (checks [j]->name, checks [i]->name)) {
                flot_err_set (err, FLOT_E_INVALID, "%s.name: \"%s\" is already the name of "
                              "%s[%u]", item, checks [i]->name, path, j);
                flot_checks_destroy (&checks, i + 1);
                return NULL;
            }
    }
    *count = array->via.array.size;
    return checks;
}

void
flot_checks_destroy (flot_check_t ***checks_p, size_t count)
{
    flot_check_t **checks = *checks_p;
    if (!checks)
        return;
    for (size_t i = 0; i < count; i++)
        flot_check_destroy (&checks [i]);
    free (checks);
    *checks_p = NULL;
}
