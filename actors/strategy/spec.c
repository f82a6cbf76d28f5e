/*  spec.c - parses and checks a deployment spec (YAML, through libyaml).

    The text comes from an operator's file, through flotctl and the broker,
    so it is hostile input: size and node count are bounded, aliases are
    refused (no billion laughs), every field is checked for type and range,
    unknown fields are errors (a typo must not pass silently), and every
    error names the file, the line and the field path. The dependency graph
    of the targets (dependsOn and waves) must be acyclic; a cycle is reported
    with its members in order. The hook names a program in the executor's
    hooks directory (flotilla/hook_path.h: no absolute path, no '..') and its
    env sets no variable flotilla/env_policy.h denies, so a plan refuses
    what an executor would.
*/
#include "strategy.h"

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include <math.h>
#include <msgpack.h>
#include <yaml.h>

#include "flotilla/analysis_section.h"
#include "flotilla/body.h"
#include "flotilla/protocol.h"
#include "flotilla/contract_health.h"
#include "flotilla/env_policy.h"
#include "flotilla/health_checks.h"
#include "flotilla/hook_path.h"

#define MAX_NODES 200000
#define MAX_NAME 64
#define MAX_TEXT 4096

typedef struct {
    yaml_document_t *doc;
    const char *file;
    flot_spec_errors_t *errors;
} ctx_t;

//  --------------------------------------------------------------------------
//  Errors

static void
s_add_error (flot_spec_errors_t *errors, const char *line)
{
    if (errors->count == FLOT_SPEC_MAX_ERRORS) {
        errors->truncated = true;
        return;
    }
    errors->lines [errors->count++] = strdup (line);
}

static void
s_err (ctx_t *ctx, const yaml_node_t *node, const char *path, const char *format, ...)
{
    char message [512], line [1024];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    snprintf (line, sizeof line, "%s:%zu: %s: %s", ctx->file,
              node ? node->start_mark.line + 1 : 1, path, message);
    s_add_error (ctx->errors, line);
}

void
flot_spec_errors_clear (flot_spec_errors_t *errors)
{
    for (size_t i = 0; i < errors->count; i++)
        free (errors->lines [i]);
    errors->count = 0;
    errors->truncated = false;
}

//  --------------------------------------------------------------------------
//  Node access

static yaml_node_t *
s_node (ctx_t *ctx, int id)
{
    return yaml_document_get_node (ctx->doc, id);
}

static const char *
s_kind (const yaml_node_t *node)
{
    switch (node->type) {
        case YAML_SCALAR_NODE: return "a scalar";
        case YAML_SEQUENCE_NODE: return "a list";
        case YAML_MAPPING_NODE: return "a map";
        default: return "nothing";
    }
}

//  The scalar text of node, or NULL (with an error) if it is not a scalar.
static const char *
s_scalar (ctx_t *ctx, yaml_node_t *node, const char *path)
{
    if (node->type != YAML_SCALAR_NODE) {
        s_err (ctx, node, path, "expected a value, found %s", s_kind (node));
        return NULL;
    }
    return (const char *) node->data.scalar.value;
}

static bool
s_expect (ctx_t *ctx, yaml_node_t *node, yaml_node_type_t type, const char *path)
{
    if (node->type == type)
        return true;
    s_err (ctx, node, path, "expected %s, found %s",
           type == YAML_MAPPING_NODE ? "a map" : "a list", s_kind (node));
    return false;
}

//  The value under key in a map, or NULL.
static yaml_node_t *
s_get (ctx_t *ctx, yaml_node_t *map, const char *key)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = s_node (ctx, pair->key);
        if (k && k->type == YAML_SCALAR_NODE
        &&  strcmp ((const char *) k->data.scalar.value, key) == 0)
            return s_node (ctx, pair->value);
    }
    return NULL;
}

//  Every key of map must be in allowed (NULL-terminated), once.
static void
s_check_keys (ctx_t *ctx, yaml_node_t *map, const char *path, const char **allowed)
{
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = s_node (ctx, pair->key);
        if (!k || k->type != YAML_SCALAR_NODE) {
            s_err (ctx, k, path, "a key must be a plain name");
            continue;
        }
        const char *name = (const char *) k->data.scalar.value;
        bool known = false;
        for (const char **a = allowed; *a; a++)
            if (strcmp (*a, name) == 0)
                known = true;
        if (!known) {
            char list [512] = "";
            for (const char **a = allowed; *a; a++) {
                size_t used = strlen (list);
                snprintf (list + used, sizeof list - used, "%s%s", used ? ", " : "", *a);
            }
            s_err (ctx, k, path, "unknown field '%s' (expected one of: %s)", name, list);
        }
        for (yaml_node_pair_t *other = map->data.mapping.pairs.start; other < pair; other++) {
            yaml_node_t *ok = s_node (ctx, other->key);
            if (ok && ok->type == YAML_SCALAR_NODE
            &&  strcmp ((const char *) ok->data.scalar.value, name) == 0)
                s_err (ctx, k, path, "field '%s' is given twice", name);
        }
    }
}

static bool
s_name_valid (const char *s)
{
    size_t len = strlen (s);
    if (len == 0 || len > MAX_NAME)
        return false;
    for (const char *c = s; *c; c++)
        if (!(isalnum ((unsigned char) *c) || *c == '.' || *c == '_' || *c == '-'))
            return false;
    return true;
}

static bool
s_text_valid (const char *s, size_t max)
{
    size_t len = strlen (s);
    if (len == 0 || len > max)
        return false;
    for (const char *c = s; *c; c++)
        if ((unsigned char) *c < 0x20 || *c == 0x7f)
            return false;
    return true;
}

//  A string field. kind: 'n' a name, 't' printable text. Returns a copy (""
//  if absent and optional), or NULL after an error.
static char *
s_string (ctx_t *ctx, yaml_node_t *map, const char *key, const char *parent,
          bool required, char kind)
{
    char path [512];
    snprintf (path, sizeof path, "%s%s%s", parent, *parent ? "." : "", key);
    yaml_node_t *node = s_get (ctx, map, key);
    if (!node) {
        if (required) {
            s_err (ctx, map, path, "is required");
            return NULL;
        }
        return strdup ("");
    }
    const char *value = s_scalar (ctx, node, path);
    if (!value)
        return NULL;
    if (kind == 'n' && !s_name_valid (value)) {
        s_err (ctx, node, path, "'%s' must be 1..%d of [A-Za-z0-9._-]", value, MAX_NAME);
        return NULL;
    }
    if (kind == 't' && !s_text_valid (value, MAX_TEXT)) {
        s_err (ctx, node, path, "must be 1..%d printable characters", MAX_TEXT);
        return NULL;
    }
    return strdup (value);
}

//  An integer in min..max. Returns 1 if set, 0 if absent, -1 on error.
static int
s_int (ctx_t *ctx, yaml_node_t *node, const char *path, long min, long max, long *out)
{
    if (!node)
        return 0;
    const char *value = s_scalar (ctx, node, path);
    if (!value)
        return -1;
    char *end = NULL;
    long v = strtol (value, &end, 10);
    if (!*value || !end || *end) {
        s_err (ctx, node, path, "'%s' is not a whole number", value);
        return -1;
    }
    if (v < min || v > max) {
        s_err (ctx, node, path, "%ld is not in %ld..%ld", v, min, max);
        return -1;
    }
    *out = v;
    return 1;
}

//  A duration field within min..max ms. Returns 1 if set, 0 if absent, -1.
static int
s_duration (ctx_t *ctx, yaml_node_t *node, const char *path, int64_t min,
            int64_t max, int64_t *out)
{
    if (!node)
        return 0;
    const char *value = s_scalar (ctx, node, path);
    if (!value)
        return -1;
    int64_t ms;
    if (flot_duration_parse (value, &ms)) {
        s_err (ctx, node, path, "'%s' is not a duration (like 500ms, 30s, 10m, 1h, 1m30s)",
               value);
        return -1;
    }
    if (ms < min || ms > max) {
        s_err (ctx, node, path, "'%s' is not between %lldms and %lldms", value,
               (long long) min, (long long) max);
        return -1;
    }
    *out = ms;
    return 1;
}

static int
s_bool (ctx_t *ctx, yaml_node_t *node, const char *path, bool *out)
{
    if (!node)
        return 0;
    const char *value = s_scalar (ctx, node, path);
    if (!value)
        return -1;
    if (strcmp (value, "true") == 0)
        *out = true;
    else
    if (strcmp (value, "false") == 0)
        *out = false;
    else {
        s_err (ctx, node, path, "'%s' is not true or false", value);
        return -1;
    }
    return 1;
}

//  A map of string to string (labels, env). Returns 0 or -1.
static int
s_labels (ctx_t *ctx, yaml_node_t *node, const char *path, bool names,
          flot_label_t **labels, size_t *count)
{
    *labels = NULL;
    *count = 0;
    if (!node)
        return 0;
    if (!s_expect (ctx, node, YAML_MAPPING_NODE, path))
        return -1;
    size_t n = (size_t) (node->data.mapping.pairs.top - node->data.mapping.pairs.start);
    *labels = calloc (n ? n : 1, sizeof (flot_label_t));
    int rc = 0;
    for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = s_node (ctx, pair->key), *v = s_node (ctx, pair->value);
        const char *key = s_scalar (ctx, k, path);
        char sub [512];
        snprintf (sub, sizeof sub, "%s.%s", path, key ? key : "?");
        const char *value = s_scalar (ctx, v, sub);
        if (!key || !value) {
            rc = -1;
            continue;
        }
        if (names ? !s_name_valid (key) : !s_text_valid (key, 256)) {
            s_err (ctx, k, path, "key '%s' is not a valid name", key);
            rc = -1;
            continue;
        }
        (*labels) [*count].key = strdup (key);
        (*labels) [(*count)++].value = strdup (value);
    }
    return rc;
}


//  --------------------------------------------------------------------------
//  Sections

static void
s_parse_workload (ctx_t *ctx, yaml_node_t *root, flot_spec_t *spec)
{
    yaml_node_t *node = s_get (ctx, root, "workload");
    if (!node) {
        s_err (ctx, root, "workload", "is required");
        return;
    }
    if (!s_expect (ctx, node, YAML_MAPPING_NODE, "workload"))
        return;
    static const char *keys [] = { "name", "version", "artifact", "rollbackVersion", NULL };
    s_check_keys (ctx, node, "workload", keys);
    spec->workload.name = s_string (ctx, node, "name", "workload", true, 'n');
    spec->workload.version = s_string (ctx, node, "version", "workload", true, 't');
    spec->workload.artifact = s_string (ctx, node, "artifact", "workload", false, 't');
    spec->workload.rollback_version =
        s_string (ctx, node, "rollbackVersion", "workload", false, 't');
}

static void
s_parse_target (ctx_t *ctx, yaml_node_t *node, const char *path, flot_target_t *target)
{
    target->line = (int) node->start_mark.line + 1;
    if (!s_expect (ctx, node, YAML_MAPPING_NODE, path))
        return;
    static const char *keys [] = { "name", "address", "labels", "dependsOn", NULL };
    s_check_keys (ctx, node, path, keys);
    target->name = s_string (ctx, node, "name", path, true, 'n');
    target->address = s_string (ctx, node, "address", path, false, 't');
    char sub [512];
    snprintf (sub, sizeof sub, "%s.labels", path);
    s_labels (ctx, s_get (ctx, node, "labels"), sub, true, &target->labels,
              &target->label_count);
    yaml_node_t *deps = s_get (ctx, node, "dependsOn");
    snprintf (sub, sizeof sub, "%s.dependsOn", path);
    if (deps && s_expect (ctx, deps, YAML_SEQUENCE_NODE, sub)) {
        size_t n = (size_t) (deps->data.sequence.items.top - deps->data.sequence.items.start);
        target->depends_on = calloc (n ? n : 1, sizeof (char *));
        for (size_t i = 0; i < n; i++) {
            char item [560];
            snprintf (item, sizeof item, "%s[%zu]", sub, i);
            yaml_node_t *d = s_node (ctx, deps->data.sequence.items.start [i]);
            const char *value = s_scalar (ctx, d, item);
            if (value && !s_name_valid (value))
                s_err (ctx, d, item, "'%s' is not a target name", value);
            else
            if (value)
                target->depends_on [target->depends_count++] = strdup (value);
        }
    }
}

static void
s_parse_targets (ctx_t *ctx, yaml_node_t *root, flot_spec_t *spec)
{
    yaml_node_t *node = s_get (ctx, root, "targets");
    if (!node) {
        s_err (ctx, root, "targets", "is required");
        return;
    }
    if (!s_expect (ctx, node, YAML_SEQUENCE_NODE, "targets"))
        return;
    size_t n = (size_t) (node->data.sequence.items.top - node->data.sequence.items.start);
    if (n == 0 || n > FLOT_SPEC_MAX_TARGETS) {
        s_err (ctx, node, "targets", "has %zu targets, expected 1..%d", n,
               FLOT_SPEC_MAX_TARGETS);
        return;
    }
    spec->targets = calloc (n, sizeof (flot_target_t));
    spec->target_count = n;
    for (size_t i = 0; i < n; i++) {
        char path [64];
        snprintf (path, sizeof path, "targets[%zu]", i);
        s_parse_target (ctx, s_node (ctx, node->data.sequence.items.start [i]), path,
                        &spec->targets [i]);
    }
}

static void
s_parse_waves (ctx_t *ctx, yaml_node_t *root, flot_spec_t *spec)
{
    yaml_node_t *node = s_get (ctx, root, "waves");
    if (!node || !s_expect (ctx, node, YAML_SEQUENCE_NODE, "waves"))
        return;
    size_t n = (size_t) (node->data.sequence.items.top - node->data.sequence.items.start);
    spec->waves = calloc (n ? n : 1, sizeof (flot_wave_t));
    spec->wave_count = n;
    for (size_t i = 0; i < n; i++) {
        char path [64];
        snprintf (path, sizeof path, "waves[%zu]", i);
        yaml_node_t *wave = s_node (ctx, node->data.sequence.items.start [i]);
        spec->waves [i].line = (int) wave->start_mark.line + 1;
        if (!s_expect (ctx, wave, YAML_MAPPING_NODE, path))
            continue;
        static const char *keys [] = { "selector", NULL };
        s_check_keys (ctx, wave, path, keys);
        yaml_node_t *selector = s_get (ctx, wave, "selector");
        char sub [96];
        snprintf (sub, sizeof sub, "%s.selector", path);
        if (!selector)
            s_err (ctx, wave, sub, "is required");
        else
        if (s_labels (ctx, selector, sub, true, &spec->waves [i].labels,
                      &spec->waves [i].label_count) == 0
        &&  spec->waves [i].label_count == 0)
            s_err (ctx, selector, sub, "must name at least one label");
    }
}

static void
s_parse_canary_step (ctx_t *ctx, yaml_node_t *node, const char *path, flot_cstep_t *step)
{
    step->line = (int) node->start_mark.line + 1;
    step->duration_ms = -1;
    if (!s_expect (ctx, node, YAML_MAPPING_NODE, path))
        return;
    size_t n = (size_t) (node->data.mapping.pairs.top - node->data.mapping.pairs.start);
    if (n != 1) {
        s_err (ctx, node, path, "a step has exactly one of setWeight, pause, gate");
        return;
    }
    static const char *keys [] = { "setWeight", "pause", "gate", NULL };
    s_check_keys (ctx, node, path, keys);
    char sub [128];
    yaml_node_t *value;
    if ((value = s_get (ctx, node, "setWeight"))) {
        snprintf (sub, sizeof sub, "%s.setWeight", path);
        long weight = 0;
        step->kind = FLOT_CSTEP_SET_WEIGHT;
        if (s_int (ctx, value, sub, 0, 100, &weight) == 1)
            step->weight = (int) weight;
    }
    else
    if ((value = s_get (ctx, node, "pause"))) {
        snprintf (sub, sizeof sub, "%s.pause", path);
        step->kind = FLOT_CSTEP_PAUSE;
        //  pause: {} or pause: {duration: 30s}; "pause: 30s" is short for it.
        if (value->type == YAML_SCALAR_NODE && *value->data.scalar.value)
            s_duration (ctx, value, sub, 0, 30LL * 86400000, &step->duration_ms);
        else
        if (value->type == YAML_MAPPING_NODE) {
            static const char *pkeys [] = { "duration", NULL };
            s_check_keys (ctx, value, sub, pkeys);
            char dur [160];
            snprintf (dur, sizeof dur, "%s.duration", sub);
            s_duration (ctx, s_get (ctx, value, "duration"), dur, 0, 30LL * 86400000,
                        &step->duration_ms);
        }
        else
        if (value->type != YAML_SCALAR_NODE)
            s_err (ctx, value, sub, "expected {} or {duration: 30s}");
    }
    else
    if ((value = s_get (ctx, node, "gate"))) {
        snprintf (sub, sizeof sub, "%s.gate", path);
        step->kind = FLOT_CSTEP_GATE;
        if (s_expect (ctx, value, YAML_MAPPING_NODE, sub)) {
            static const char *gkeys [] = { "name", NULL };
            s_check_keys (ctx, value, sub, gkeys);
            step->gate = s_string (ctx, value, "name", sub, true, 'n');
        }
    }
}

static void *s_parse_section (ctx_t *ctx, yaml_node_t *root, const char *key,
                              yaml_node_type_t type, flot_section_check_fn *check,
                              size_t *size);

static void
s_parse_strategy (ctx_t *ctx, yaml_node_t *root, flot_spec_t *spec)
{
    yaml_node_t *node = s_get (ctx, root, "strategy");
    if (!node) {
        s_err (ctx, root, "strategy", "is required (one of canary, blueGreen, rolling, or "
               "a registered strategy's name)");
        return;
    }
    if (!s_expect (ctx, node, YAML_MAPPING_NODE, "strategy"))
        return;
    size_t n = (size_t) (node->data.mapping.pairs.top - node->data.mapping.pairs.start);
    if (n != 1) {
        s_err (ctx, node, "strategy", "give exactly one of canary, blueGreen, rolling, or a "
               "registered strategy's name");
        return;
    }
    yaml_node_t *key = s_node (ctx, node->data.mapping.pairs.start [0].key);
    const char *name = key && key->type == YAML_SCALAR_NODE
                     ? (const char *) key->data.scalar.value : "";
    spec->strategy_name = strdup (name);
    yaml_node_t *value;
    if (!streq (name, "canary") && !streq (name, "blueGreen") && !streq (name, "rolling")) {
        //  A registered strategy: its actor checks and plans its section.
        size_t length = strlen (name);
        bool ok = length > 0 && length <= 64 && !streq (name, FLOT_STRATEGY_SPEC_KEY);
        for (size_t i = 0; ok && i < length; i++)
            ok = isalnum ((unsigned char) name [i]) || strchr ("-_.", name [i]);
        if (!ok) {
            s_err (ctx, key ? key : node, "strategy", "'%.64s' is not a strategy's name "
                   "(canary, blueGreen, rolling, or a registered one: 1..64 letters, "
                   "digits, '-', '_' or '.', not '%s')", name, FLOT_STRATEGY_SPEC_KEY);
            return;
        }
        spec->strategy.kind = FLOT_STRATEGY_REGISTERED;
        value = s_get (ctx, node, name);
        if (value && !(value->type == YAML_SCALAR_NODE && !*value->data.scalar.value))
            spec->strategy.params = s_parse_section (ctx, node, name, YAML_MAPPING_NODE, NULL,
                                                     &spec->strategy.params_size);
        return;
    }
    if ((value = s_get (ctx, node, "canary"))) {
        spec->strategy.kind = FLOT_STRATEGY_CANARY;
        if (!s_expect (ctx, value, YAML_MAPPING_NODE, "strategy.canary"))
            return;
        static const char *ckeys [] = { "steps", NULL };
        s_check_keys (ctx, value, "strategy.canary", ckeys);
        yaml_node_t *steps = s_get (ctx, value, "steps");
        if (!steps) {
            s_err (ctx, value, "strategy.canary.steps", "is required");
            return;
        }
        if (!s_expect (ctx, steps, YAML_SEQUENCE_NODE, "strategy.canary.steps"))
            return;
        size_t count = (size_t) (steps->data.sequence.items.top - steps->data.sequence.items.start);
        if (count == 0 || count > FLOT_SPEC_MAX_STEPS) {
            s_err (ctx, steps, "strategy.canary.steps", "has %zu steps, expected 1..%d",
                   count, FLOT_SPEC_MAX_STEPS);
            return;
        }
        spec->strategy.steps = calloc (count, sizeof (flot_cstep_t));
        spec->strategy.step_count = count;
        for (size_t i = 0; i < count; i++) {
            char path [64];
            snprintf (path, sizeof path, "strategy.canary.steps[%zu]", i);
            s_parse_canary_step (ctx, s_node (ctx, steps->data.sequence.items.start [i]),
                                 path, &spec->strategy.steps [i]);
        }
    }
    else
    if ((value = s_get (ctx, node, "blueGreen"))) {
        spec->strategy.kind = FLOT_STRATEGY_BLUEGREEN;
        spec->strategy.auto_promote = true;
        if (value->type == YAML_SCALAR_NODE && !*value->data.scalar.value)
            return;             //  blueGreen: (no options)
        if (!s_expect (ctx, value, YAML_MAPPING_NODE, "strategy.blueGreen"))
            return;
        static const char *bkeys [] = { "keepOld", "autoPromote", NULL };
        s_check_keys (ctx, value, "strategy.blueGreen", bkeys);
        s_duration (ctx, s_get (ctx, value, "keepOld"), "strategy.blueGreen.keepOld",
                    0, 30LL * 86400000, &spec->strategy.keep_old_ms);
        s_bool (ctx, s_get (ctx, value, "autoPromote"), "strategy.blueGreen.autoPromote",
                &spec->strategy.auto_promote);
    }
    else
    if ((value = s_get (ctx, node, "rolling"))) {
        spec->strategy.kind = FLOT_STRATEGY_ROLLING;
        if (value->type == YAML_SCALAR_NODE && !*value->data.scalar.value)
            return;
        if (s_expect (ctx, value, YAML_MAPPING_NODE, "strategy.rolling")) {
            static const char *rkeys [] = { NULL };
            s_check_keys (ctx, value, "strategy.rolling", rkeys);
        }
    }
}

static void
s_parse_hook (ctx_t *ctx, yaml_node_t *root, flot_spec_t *spec)
{
    flot_hook_t *hook = &spec->hook;
    hook->timeout_ms = 60000;
    hook->backoff_ms = 1000;
    yaml_node_t *node = s_get (ctx, root, "hook");
    if (!node) {
        s_err (ctx, root, "hook", "is required (the command that applies a step)");
        return;
    }
    if (!s_expect (ctx, node, YAML_MAPPING_NODE, "hook"))
        return;
    static const char *keys [] = { "command", "args", "env", "timeout", "retries", "backoff", NULL };
    s_check_keys (ctx, node, "hook", keys);
    hook->command = s_string (ctx, node, "command", "hook", true, 't');
    char why [256];
    if (hook->command
    &&  flot_hook_name_check (hook->command, &flot_hook_kind_hook, why, sizeof why))
        s_err (ctx, s_get (ctx, node, "command"), "hook.command", "%s", why);
    yaml_node_t *args = s_get (ctx, node, "args");
    if (args && s_expect (ctx, args, YAML_SEQUENCE_NODE, "hook.args")) {
        size_t n = (size_t) (args->data.sequence.items.top - args->data.sequence.items.start);
        hook->args = calloc (n ? n : 1, sizeof (char *));
        for (size_t i = 0; i < n; i++) {
            char path [64];
            snprintf (path, sizeof path, "hook.args[%zu]", i);
            const char *value = s_scalar (ctx, s_node (ctx, args->data.sequence.items.start [i]), path);
            if (value)
                hook->args [hook->arg_count++] = strdup (value);
        }
    }
    yaml_node_t *env = s_get (ctx, node, "env");
    s_labels (ctx, env, "hook.env", false, &hook->env, &hook->env_count);
    for (yaml_node_pair_t *pair = env && env->type == YAML_MAPPING_NODE
                                  ? env->data.mapping.pairs.start : NULL;
         pair && pair < env->data.mapping.pairs.top; pair++) {
        yaml_node_t *key = s_node (ctx, pair->key);
        if (key && key->type == YAML_SCALAR_NODE
        &&  flot_env_name_check ((const char *) key->data.scalar.value, why, sizeof why))
            s_err (ctx, key, "hook.env", "%s", why);
    }
    s_duration (ctx, s_get (ctx, node, "timeout"), "hook.timeout", 1, 86400000,
                &hook->timeout_ms);
    long retries = 0;
    if (s_int (ctx, s_get (ctx, node, "retries"), "hook.retries", 0, 100, &retries) == 1)
        hook->retries = (int) retries;
    s_duration (ctx, s_get (ctx, node, "backoff"), "hook.backoff", 0, 3600000,
                &hook->backoff_ms);
}

static void
s_parse_policy (ctx_t *ctx, yaml_node_t *root, flot_spec_t *spec)
{
    spec->policy.on_failure = FLOT_ON_FAILURE_FAIL_ALL;
    spec->policy.max_concurrency = 1;
    spec->policy.progress_deadline_ms = 600000;
    yaml_node_t *node = s_get (ctx, root, "policy");
    if (!node || !s_expect (ctx, node, YAML_MAPPING_NODE, "policy"))
        return;
    static const char *keys [] = { "onFailure", "maxConcurrency", "maxFailures",
                                   "progressDeadline", "soakTime", NULL };
    s_check_keys (ctx, node, "policy", keys);
    yaml_node_t *value = s_get (ctx, node, "onFailure");
    if (value) {
        const char *text = s_scalar (ctx, value, "policy.onFailure");
        if (text && strcmp (text, "failAll") == 0)
            spec->policy.on_failure = FLOT_ON_FAILURE_FAIL_ALL;
        else
        if (text && strcmp (text, "holdDependents") == 0)
            spec->policy.on_failure = FLOT_ON_FAILURE_HOLD_DEPENDENTS;
        else
        if (text && strcmp (text, "continue") == 0)
            spec->policy.on_failure = FLOT_ON_FAILURE_CONTINUE;
        else
        if (text)
            s_err (ctx, value, "policy.onFailure",
                   "'%s' is not one of failAll, holdDependents, continue", text);
    }
    value = s_get (ctx, node, "maxConcurrency");
    if (value) {
        const char *text = s_scalar (ctx, value, "policy.maxConcurrency");
        size_t len = text ? strlen (text) : 0;
        if (text && len > 1 && text [len - 1] == '%') {
            char number [16];
            char *end = NULL;
            snprintf (number, sizeof number, "%.*s", (int) (len - 1), text);
            long pct = strtol (number, &end, 10);
            if (!end || *end || len - 1 >= sizeof number || pct < 1 || pct > 100)
                s_err (ctx, value, "policy.maxConcurrency",
                       "'%s' is not a percentage in 1%%..100%%", text);
            else {
                spec->policy.max_concurrency = (int) pct;
                spec->policy.percent = true;
            }
        }
        else
        if (text) {
            long count = 0;
            if (s_int (ctx, value, "policy.maxConcurrency", 1, FLOT_SPEC_MAX_TARGETS, &count) == 1)
                spec->policy.max_concurrency = (int) count;
        }
    }
    long failures = 0;
    if (s_int (ctx, s_get (ctx, node, "maxFailures"), "policy.maxFailures", 0,
               FLOT_SPEC_MAX_TARGETS, &failures) == 1)
        spec->policy.max_failures = (int) failures;
    s_duration (ctx, s_get (ctx, node, "progressDeadline"), "policy.progressDeadline",
                1000, 30LL * 86400000, &spec->policy.progress_deadline_ms);
    s_duration (ctx, s_get (ctx, node, "soakTime"), "policy.soakTime", 0, 86400000,
                &spec->policy.soak_ms);
}

static void
s_parse_rollback (ctx_t *ctx, yaml_node_t *root, flot_spec_t *spec)
{
    spec->rollback.mode = FLOT_ROLLBACK_IMMEDIATE;
    yaml_node_t *node = s_get (ctx, root, "rollback");
    if (!node || !s_expect (ctx, node, YAML_MAPPING_NODE, "rollback"))
        return;
    static const char *keys [] = { "mode", NULL };
    s_check_keys (ctx, node, "rollback", keys);
    yaml_node_t *value = s_get (ctx, node, "mode");
    const char *text = value ? s_scalar (ctx, value, "rollback.mode") : NULL;
    if (text && strcmp (text, "gradual") == 0)
        spec->rollback.mode = FLOT_ROLLBACK_GRADUAL;
    else
    if (text && strcmp (text, "immediate") != 0)
        s_err (ctx, value, "rollback.mode", "'%s' is not one of immediate, gradual", text);
}

//  --------------------------------------------------------------------------
//  healthChecks and analysis: converted to msgpack, for the services that
//  read them, and checked by their own parsers. Those report an error as
//  "PATH: sentence"; lines maps each PATH to its line in the file.

static void
s_pack_scalar (msgpack_packer *pk, const yaml_node_t *node)
{
    const char *text = (const char *) node->data.scalar.value;
    if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
        char *end = NULL;
        if (strcmp (text, "true") == 0 || strcmp (text, "false") == 0) {
            if (*text == 't')
                msgpack_pack_true (pk);
            else
                msgpack_pack_false (pk);
            return;
        }
        if (strcmp (text, "null") == 0 || strcmp (text, "~") == 0 || !*text) {
            msgpack_pack_nil (pk);
            return;
        }
        if (isdigit ((unsigned char) *text) || ((*text == '-' || *text == '+')
                                                && isdigit ((unsigned char) text [1]))) {
            errno = 0;
            long long whole = strtoll (text, &end, 10);
            if (end && !*end && errno == 0) {
                msgpack_pack_int64 (pk, whole);
                return;
            }
            double number = strtod (text, &end);
            if (end && !*end && isfinite (number)) {
                msgpack_pack_double (pk, number);
                return;
            }
        }
    }
    flot_pack_str (pk, text);
}

//  Packs the subtree at node; every path it holds gets its line.
static void
s_pack_node (ctx_t *ctx, yaml_node_t *node, const char *path, int depth,
             msgpack_packer *pk, zhashx_t *lines)
{
    zhashx_insert (lines, path, (void *) (uintptr_t) (node->start_mark.line + 1));
    if (depth > FLOT_MAX_DEPTH) {
        msgpack_pack_nil (pk);
        s_err (ctx, node, path, "nests deeper than %d levels", FLOT_MAX_DEPTH);
        return;
    }
    char sub [512];
    if (node->type == YAML_SEQUENCE_NODE) {
        size_t n = (size_t) (node->data.sequence.items.top - node->data.sequence.items.start);
        msgpack_pack_array (pk, n);
        for (size_t i = 0; i < n; i++) {
            snprintf (sub, sizeof sub, "%s[%zu]", path, i);
            s_pack_node (ctx, s_node (ctx, node->data.sequence.items.start [i]), sub,
                         depth + 1, pk, lines);
        }
    }
    else
    if (node->type == YAML_MAPPING_NODE) {
        size_t n = (size_t) (node->data.mapping.pairs.top - node->data.mapping.pairs.start);
        msgpack_pack_map (pk, n);
        for (size_t i = 0; i < n; i++) {
            yaml_node_pair_t *pair = &node->data.mapping.pairs.start [i];
            yaml_node_t *key = s_node (ctx, pair->key);
            const char *name = key && key->type == YAML_SCALAR_NODE
                             ? (const char *) key->data.scalar.value : "";
            if (!key || key->type != YAML_SCALAR_NODE)
                s_err (ctx, key, path, "a key must be a plain name");
            flot_pack_str (pk, name);
            snprintf (sub, sizeof sub, "%s.%s", path, name);
            s_pack_node (ctx, s_node (ctx, pair->value), sub, depth + 1, pk, lines);
        }
    }
    else
        s_pack_scalar (pk, node);
}

//  Reports "PATH: sentence" at the line of PATH, or of its nearest parent.
static void
s_section_error (ctx_t *ctx, zhashx_t *lines, const char *error)
{
    const char *colon = strstr (error, ": ");
    char path [512];
    snprintf (path, sizeof path, "%.*s", colon ? (int) (colon - error) : 0, error);
    uintptr_t line = 0;
    char *cut = path + strlen (path);
    while (cut > path && !(line = (uintptr_t) zhashx_lookup (lines, path))) {
        while (cut > path && *cut != '.' && *cut != '[')
            cut--;
        *cut = 0;
    }
    char text [1024];
    snprintf (text, sizeof text, "%s:%zu: %s", ctx->file, line ? (size_t) line : 1, error);
    s_add_error (ctx->errors, text);
}

//  The sections' own parsers, shared with the health and analyzer services
//  (common/health_checks.c, common/analysis_section.c).
static int
s_check_health (const msgpack_object *section, const char *path, char *err, size_t cap)
{
    flot_err_t error;
    size_t count = 0;
    flot_check_t **checks = flot_checks_new (section, path, 64, &count, &error);
    if (!checks) {
        snprintf (err, cap, "%s", error.message);
        return -1;
    }
    flot_checks_destroy (&checks, count);
    return 0;
}

static int
s_check_analysis (const msgpack_object *section, const char *path, char *err, size_t cap)
{
    flot_err_t error;
    flot_analysis_t *analysis = flot_analysis_parse (section, path, &error);
    if (!analysis) {
        snprintf (err, cap, "%s", error.message);
        return -1;
    }
    flot_analysis_destroy (&analysis);
    return 0;
}

//  Converts section key of root (of type `type`, if present) to msgpack,
//  and has check read it. Returns the bytes (size in *size), or NULL.
static void *
s_parse_section (ctx_t *ctx, yaml_node_t *root, const char *key, yaml_node_type_t type,
                 flot_section_check_fn *check, size_t *size)
{
    yaml_node_t *node = s_get (ctx, root, key);
    if (!node || !s_expect (ctx, node, type, key))
        return NULL;
    zhashx_t *lines = zhashx_new ();
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    size_t errors_before = ctx->errors->count;
    s_pack_node (ctx, node, key, 1, &pk, lines);
    if (ctx->errors->count == errors_before && check) {
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        char error [512] = "";
        if (msgpack_unpack_next (&unpacked, sbuf.data, sbuf.size, NULL) == MSGPACK_UNPACK_SUCCESS
        &&  check (&unpacked.data, key, error, sizeof error))
            s_section_error (ctx, lines, error);
        msgpack_unpacked_destroy (&unpacked);
    }
    zhashx_destroy (&lines);
    *size = sbuf.size;
    return msgpack_sbuffer_release (&sbuf);
}

//  --------------------------------------------------------------------------
//  The CONTEXT of a target, for its health checks and analysis


//  --------------------------------------------------------------------------
//  The target graph


static bool
s_wave_matches (const flot_wave_t *wave, const flot_target_t *target)
{
    for (size_t i = 0; i < wave->label_count; i++) {
        bool found = false;
        for (size_t j = 0; j < target->label_count; j++)
            if (strcmp (wave->labels [i].key, target->labels [j].key) == 0
            &&  strcmp (wave->labels [i].value, target->labels [j].value) == 0)
                found = true;
        if (!found)
            return false;
    }
    return true;
}

//  The dependency graph: node i < n is target i, node n + k is the barrier
//  "every target of wave k is done". An edge u -> v means u waits for v:
//  a target waits for its dependsOn and for the barrier of the wave before
//  its own; a barrier waits for every target of its wave. Edges are kept in
//  compressed rows: the edges of u are to [first [u], first [u + 1]).
typedef struct {
    size_t nodes;
    size_t *first;
    int *to;
} graph_t;

static void
s_graph_build (const flot_spec_t *spec, graph_t *graph)
{
    size_t n = spec->target_count, w = spec->wave_count;
    graph->nodes = n + w;
    graph->first = calloc (graph->nodes + 1, sizeof (size_t));
    size_t edges = 0;
    for (size_t i = 0; i < n; i++)
        edges += spec->targets [i].depends_count + (spec->targets [i].wave > 0) + 1;
    graph->to = calloc (edges ? edges : 1, sizeof (int));
    size_t e = 0;
    for (size_t i = 0; i < n; i++) {
        const flot_target_t *t = &spec->targets [i];
        graph->first [i] = e;
        for (size_t d = 0; d < t->depends_count; d++)
            graph->to [e++] = flot_spec_target_index (spec, t->depends_on [d]);
        if (t->wave > 0)
            graph->to [e++] = (int) n + t->wave - 1;
    }
    for (size_t k = 0; k < w; k++) {
        graph->first [n + k] = e;
        for (size_t i = 0; i < n; i++)
            if (spec->targets [i].wave == (int) k)
                graph->to [e++] = (int) i;
    }
    graph->first [n + w] = e;
}

static void
s_graph_destroy (graph_t *graph)
{
    free (graph->first);
    free (graph->to);
}

static void
s_report_cycle (ctx_t *ctx, const flot_spec_t *spec, const int *stack, size_t depth,
                int back_to)
{
    char cycle [1024] = "";
    size_t from = depth;
    while (from > 0 && stack [from] != back_to)
        from--;
    int first_target = -1;
    for (size_t i = from; i <= depth + 1; i++) {
        int node = i <= depth ? stack [i] : back_to;
        size_t used = strlen (cycle);
        if (node < (int) spec->target_count) {
            snprintf (cycle + used, sizeof cycle - used, "%s%s", used ? " -> " : "",
                      spec->targets [node].name);
            if (first_target < 0)
                first_target = node;
        }
        else
            snprintf (cycle + used, sizeof cycle - used, "%s(wave %d)", used ? " -> " : "",
                      node - (int) spec->target_count);
    }
    char line [1200];
    if (first_target < 0)
        first_target = 0;
    snprintf (line, sizeof line, "%s:%d: targets[%d].dependsOn: dependency cycle: %s",
              ctx->file, spec->targets [first_target].line, first_target, cycle);
    s_add_error (ctx->errors, line);
}

//  Iterative depth-first search; reports the first cycle found.
static void
s_find_cycle (ctx_t *ctx, const flot_spec_t *spec, const graph_t *graph)
{
    char *color = calloc (graph->nodes, 1);     //  0 new, 1 on stack, 2 done
    int *stack = calloc (graph->nodes + 1, sizeof (int));
    size_t *next = calloc (graph->nodes + 1, sizeof (size_t));
    for (size_t root = 0; root < graph->nodes; root++) {
        if (color [root])
            continue;
        size_t depth = 0;
        stack [0] = (int) root;
        next [0] = graph->first [root];
        color [root] = 1;
        while (true) {
            int u = stack [depth];
            if (next [depth] == graph->first [u + 1]) {
                color [u] = 2;
                if (depth == 0)
                    break;
                depth--;
                continue;
            }
            int v = graph->to [next [depth]++];
            if (color [v] == 1) {
                s_report_cycle (ctx, spec, stack, depth, v);
                goto done;
            }
            if (color [v] == 0) {
                color [v] = 1;
                stack [++depth] = v;
                next [depth] = graph->first [v];
            }
        }
    }
done:
    free (next);
    free (stack);
    free (color);
}

static void
s_check_graph (ctx_t *ctx, flot_spec_t *spec)
{
    size_t n = spec->target_count;
    spec->index = zhashx_new ();
    for (size_t i = 0; i < n; i++) {
        flot_target_t *t = &spec->targets [i];
        if (!t->name)
            return;             //  already reported
        size_t earlier = (size_t) zhashx_lookup (spec->index, t->name);
        if (earlier) {
            char line [512];
            snprintf (line, sizeof line, "%s:%d: targets[%zu].name: '%s' is already the name of targets[%zu]",
                      ctx->file, t->line, i, t->name, earlier - 1);
            s_add_error (ctx->errors, line);
        }
        else
            zhashx_insert (spec->index, t->name, (void *) (i + 1));
    }
    for (size_t i = 0; i < n && !ctx->errors->count; i++) {
        flot_target_t *t = &spec->targets [i];
        for (size_t d = 0; d < t->depends_count; d++) {
            int index = flot_spec_target_index (spec, t->depends_on [d]);
            if (index < 0 || index == (int) i) {
                char path [96], line [512];
                snprintf (path, sizeof path, "targets[%zu].dependsOn[%zu]", i, d);
                snprintf (line, sizeof line, "%s:%d: %s: %s", ctx->file, t->line, path,
                          index < 0 ? "names no target" : "a target cannot depend on itself");
                s_add_error (ctx->errors, line);
            }
        }
        t->wave = spec->wave_count ? -1 : 0;
        for (size_t w = 0; w < spec->wave_count && t->wave < 0; w++)
            if (s_wave_matches (&spec->waves [w], t))
                t->wave = (int) w;
        if (t->wave < 0) {
            char line [512];
            snprintf (line, sizeof line, "%s:%d: targets[%zu]: '%s' matches no wave's selector",
                      ctx->file, t->line, i, t->name);
            s_add_error (ctx->errors, line);
        }
    }
    if (ctx->errors->count)
        return;
    graph_t graph;
    s_graph_build (spec, &graph);
    s_find_cycle (ctx, spec, &graph);
    s_graph_destroy (&graph);
}

//  --------------------------------------------------------------------------
//  The document

//  Every node must be reached once: a second reference is an alias.
static int
s_check_tree (ctx_t *ctx, int id, char *seen, size_t count)
{
    if (id < 1 || (size_t) id > count)
        return -1;
    if (seen [id - 1]) {
        s_err (ctx, s_node (ctx, id), "(document)", "aliases (*name) are not supported");
        return -1;
    }
    seen [id - 1] = 1;
    yaml_node_t *node = s_node (ctx, id);
    if (node->type == YAML_SEQUENCE_NODE) {
        for (yaml_node_item_t *item = node->data.sequence.items.start;
             item < node->data.sequence.items.top; item++)
            if (s_check_tree (ctx, *item, seen, count))
                return -1;
    }
    else
    if (node->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *pair = node->data.mapping.pairs.start;
             pair < node->data.mapping.pairs.top; pair++)
            if (s_check_tree (ctx, pair->key, seen, count)
            ||  s_check_tree (ctx, pair->value, seen, count))
                return -1;
    }
    return 0;
}

static void
s_parse_root (ctx_t *ctx, yaml_node_t *root, flot_spec_t *spec)
{
    static const char *keys [] = { "apiVersion", "kind", "name", "workload", "targets",
                                   "waves", "strategy", "hook", "policy", "rollback",
                                   "healthChecks", "analysis", NULL };
    s_check_keys (ctx, root, "(document)", keys);
    char *api = s_string (ctx, root, "apiVersion", "", true, 't');
    if (api && strcmp (api, "flotilla/v1") != 0)
        s_err (ctx, s_get (ctx, root, "apiVersion"), "apiVersion",
               "'%s' is not supported (expected flotilla/v1)", api);
    free (api);
    char *kind = s_string (ctx, root, "kind", "", true, 't');
    if (kind && strcmp (kind, "Deployment") != 0)
        s_err (ctx, s_get (ctx, root, "kind"), "kind", "'%s' is not Deployment", kind);
    free (kind);
    spec->name = s_string (ctx, root, "name", "", true, 'n');
    s_parse_workload (ctx, root, spec);
    s_parse_targets (ctx, root, spec);
    s_parse_waves (ctx, root, spec);
    s_parse_strategy (ctx, root, spec);
    s_parse_hook (ctx, root, spec);
    s_parse_policy (ctx, root, spec);
    s_parse_rollback (ctx, root, spec);
    spec->checks.health = s_parse_section (ctx, root, "healthChecks", YAML_SEQUENCE_NODE,
                                           s_check_health, &spec->checks.health_size);
    spec->checks.analysis = s_parse_section (ctx, root, "analysis", YAML_MAPPING_NODE,
                                             s_check_analysis, &spec->checks.analysis_size);
    if (spec->targets && spec->policy.max_failures > (int) spec->target_count) {
        char line [256];
        snprintf (line, sizeof line, "%s:1: policy.maxFailures: %d is more than the %zu targets",
                  ctx->file, spec->policy.max_failures, spec->target_count);
        s_add_error (ctx->errors, line);
    }
    if (ctx->errors->count == 0)
        s_check_graph (ctx, spec);
}

flot_spec_t *
flot_spec_parse (const char *text, size_t size, const char *file,
                 flot_spec_errors_t *errors)
{
    memset (errors, 0, sizeof *errors);
    char line [512];
    if (size > FLOT_SPEC_MAX_SIZE) {
        snprintf (line, sizeof line, "%s:1: (document): %zu bytes is over the limit of %d",
                  file, size, FLOT_SPEC_MAX_SIZE);
        s_add_error (errors, line);
        return NULL;
    }
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize (&parser);
    yaml_parser_set_input_string (&parser, (const unsigned char *) text, size);
    if (!yaml_parser_load (&parser, &doc)) {
        snprintf (line, sizeof line, "%s:%zu: (document): not valid YAML: %s",
                  file, parser.problem_mark.line + 1,
                  parser.problem ? parser.problem : "unknown error");
        s_add_error (errors, line);
        yaml_parser_delete (&parser);
        return NULL;
    }
    ctx_t ctx = { &doc, file, errors };
    flot_spec_t *spec = calloc (1, sizeof *spec);
    yaml_node_t *root = yaml_document_get_root_node (&doc);
    size_t count = (size_t) (doc.nodes.top - doc.nodes.start);
    yaml_document_t next;
    if (!root)
        s_err (&ctx, NULL, "(document)", "is empty");
    else
    if (count > MAX_NODES)
        s_err (&ctx, root, "(document)", "has more than %d nodes", MAX_NODES);
    else
    if (yaml_parser_load (&parser, &next)) {
        if (yaml_document_get_root_node (&next))
            s_err (&ctx, yaml_document_get_root_node (&next), "(document)",
                   "holds more than one YAML document");
        yaml_document_delete (&next);
    }
    if (!errors->count && root) {
        char *seen = calloc (count, 1);
        if (s_check_tree (&ctx, 1, seen, count) == 0) {
            if (root->type != YAML_MAPPING_NODE)
                s_err (&ctx, root, "(document)", "expected a map, found %s", s_kind (root));
            else
                s_parse_root (&ctx, root, spec);
        }
        free (seen);
    }
    yaml_document_delete (&doc);
    yaml_parser_delete (&parser);
    if (errors->count) {
        flot_spec_destroy (&spec);
        return NULL;
    }
    return spec;
}


