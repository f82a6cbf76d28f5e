/*  spec.c - the commands that send a deployment spec: plan and apply.

    A spec file (YAML, at most SPEC_MAX bytes) is read here, validated by
    the strategy service (every error printed as FILE:LINE: field: sentence)
    and sent to the coordinator with its folder (kept with the deployment;
    hooks run in the executor's hooks directory, not there). Before that,
    unless --no-check, each executor instance that would serve a target is
    asked whether it can run the spec's hook (ValidateStep, once per
    instance; instances and their targets from the broker's Actors): plan
    prints the coordinator's plan (targets in order, their steps, the
    rollback order), apply starts the deployment (and with --watch watches
    it, watch.c). analyze (analyzer.c) has the spec resolved through
    ctl_spec_resolve.
*/
#include "ctl.h"
#include "flotilla/contract_broker.h"
#include "flotilla/contract_executor.h"
#include "flotilla/contract_strategy.h"
#include "flotilla/step_call.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>

#define SPEC_MAX            (1 << 20)   //  the largest spec file

//  --------------------------------------------------------------------------
//  Spec files: reading, validating, sending

//  A spec file, read for plan and apply.
typedef struct {
    const char *file;           //  as given on the command line
    char cwd [PATH_MAX];        //  the real path of the folder holding it
    char *text;                 //  its bytes, NUL-terminated
    size_t size;
} spec_t;

static void
s_spec_clear (spec_t *spec)
{
    free (spec->text);
    spec->text = NULL;
}

//  Reads the spec file and finds its folder. Returns -1 to go on, or an
//  exit code (2: the file cannot be used) with a sentence on stderr.
static int
s_spec_read (const char *file, spec_t *spec)
{
    *spec = (spec_t) { .file = file };
    FILE *in = fopen (file, "rb");
    if (!in)
        return ctl_fail (RC_USAGE, "cannot open spec file '%s': %s", file,
                         strerror (errno));
    spec->text = malloc (SPEC_MAX + 1);
    size_t size = spec->text ? fread (spec->text, 1, SPEC_MAX + 1, in) : 0;
    int error = ferror (in) ? errno : 0;
    fclose (in);
    if (!spec->text)
        return ctl_fail (RC_ERROR, "out of memory for spec file '%s'", file);
    if (error)
        return ctl_fail (RC_USAGE, "cannot read spec file '%s': %s", file,
                         strerror (error));
    if (size > SPEC_MAX)
        return ctl_fail (RC_USAGE, "spec file '%s' is larger than %d bytes (1 MiB), "
                         "the most a spec may be", file, SPEC_MAX);
    const char *nul = memchr (spec->text, 0, size);
    if (nul)
        return ctl_fail (RC_USAGE, "spec file '%s' holds a NUL byte at offset %td: "
                         "a spec is YAML text", file, nul - spec->text);
    spec->text [size] = 0;
    spec->size = size;
    //  The spec's folder, kept with the deployment: its absolute, real path.
    char *copy = strdup (file);
    bool found = copy && realpath (dirname (copy), spec->cwd);
    error = errno;
    free (copy);
    if (!found)
        return ctl_fail (RC_USAGE, "cannot find the folder of spec file '%s': %s",
                         file, strerror (error));
    return -1;
}

//  Prints a Validate reply's errors. Returns -1 if the spec is valid, else
//  an exit code.
static int
s_validate_reply (ctl_t *self, const spec_t *spec, flot_body_t *body)
{
    flot_strategy_validate_reply_t reply;
    flot_err_t err;
    if (flot_strategy_validate_reply_decode (flot_body_root (body), flot_body_zone (body),
                                             &reply, &err))
        return ctl_bad_reply (STRATEGY_SERVICE, "Validate", &err);
    if (reply.valid)
        return -1;
    const char *const *errors = reply.errors.items;
    size_t count = reply.errors.count;
    if (self->opts.json)
        ctl_print_json (flot_body_root (body), false);
    else
        for (size_t i = 0; i < count; i++) {
            ctl_put_text (stderr, errors [i], "");
            fputc ('\n', stderr);
        }
    return ctl_fail (RC_ERROR, "%s is not a valid deployment spec: %zu error%s%s",
                     spec->file, count, count == 1 ? "" : "s",
                     reply.truncated ? " shown, and more" : "");
}

//  Reads the spec file of --file and has the strategy service validate it.
//  Returns -1 to go on with spec read (the caller clears it), or an exit
//  code: 1 with every error printed if it is not valid.
static int
s_spec_load (ctl_t *self, spec_t *spec)
{
    int rc = s_spec_read (self->opts.file, spec);
    if (rc >= 0)
        return rc;
    flot_strategy_spec_text_t request = { .spec = spec->text, .file = spec->file };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_strategy_spec_text_def, &request, &sbuf);
    flot_body_t *body = NULL;
    flot_err_t err;
    if (sbuf.size > FLOT_MAX_BODY)
        rc = ctl_fail (RC_USAGE, "spec file '%s' does not fit in one request: "
                       "%zu bytes with its names, the limit is %d", spec->file,
                       sbuf.size, FLOT_MAX_BODY);
    else
    if (ctl_call (self, STRATEGY_SERVICE, FLOT_STRATEGY_SPEC_KEY, "Validate", &sbuf, &body, &err))
        rc = ctl_report (self, STRATEGY_SERVICE, "Validate", &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc < 0)
        rc = s_validate_reply (self, spec, body);
    flot_body_destroy (&body);
    return rc;
}

//  Calls coordinator command (Plan, Execute) with the spec, file and cwd.
//  Returns -1 with the reply in *body_p, or an exit code.
static int
s_spec_call_page (ctl_t *self, const spec_t *spec, const char *command, bool paged,
                  uint64_t offset, uint64_t limit, flot_body_t **body_p)
{
    flot_coordinator_spec_t request = {
        .spec = spec->text, .file = spec->file, .cwd = spec->cwd,
        .on_conflict = (self->opts.given & OPT_REPLACE) ? "replace"
                     : (self->opts.given & OPT_QUEUE) ? "queue" : NULL,
        .offset = offset, .has_offset = paged, .limit = limit, .has_limit = paged
    };
    msgpack_sbuffer sbuf;
    flot_err_t err;
    *body_p = NULL;
    flot_encode_sbuf (&flot_coordinator_spec_def, &request, &sbuf);
    int rc = -1;
    if (sbuf.size > FLOT_MAX_BODY)
        rc = ctl_fail (RC_USAGE, "spec file '%s' does not fit in one request: "
                       "%zu bytes with its names, the limit is %d", spec->file,
                       sbuf.size, FLOT_MAX_BODY);
    else
    if (ctl_call (self, COORDINATOR_SERVICE, NULL, command, &sbuf, body_p, &err))
        rc = ctl_report (self, COORDINATOR_SERVICE, command, &err);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}

static int
s_spec_call (ctl_t *self, const spec_t *spec, const char *command, flot_body_t **body_p)
{
    return s_spec_call_page (self, spec, command, false, 0, 0, body_p);
}

//  The spec file (validated) as the strategy service resolves it. Returns
//  -1 with *spec_p, or an exit code.
static int
s_spec_resolved (ctl_t *self, const spec_t *file, flot_spec_t **spec_p)
{
    flot_strategy_spec_text_t request = { .spec = file->text, .file = file->file };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_strategy_spec_text_def, &request, &sbuf);
    flot_body_t *body = NULL;
    flot_err_t err;
    int rc = -1;
    if (ctl_call (self, STRATEGY_SERVICE, FLOT_STRATEGY_SPEC_KEY, FLOT_STRATEGY_RESOLVE,
                  &sbuf, &body, &err))
        rc = ctl_report (self, STRATEGY_SERVICE, "Resolve", &err);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc < 0) {
        flot_strategy_resolved_t resolved;
        if (flot_strategy_resolved_decode (flot_body_root (body), flot_body_zone (body),
                                           &resolved, &err)
        ||  !(*spec_p = flot_resolved_spec (&resolved, &err)))
            rc = ctl_bad_reply (STRATEGY_SERVICE, "Resolve", &err);
    }
    flot_body_destroy (&body);
    return rc;
}

//  The spec of --file as the strategy service resolves it (Validate first,
//  for every error): the model a deployment of it would run on. Returns
//  -1 with *spec_p, or an exit code.
int
ctl_spec_resolve (ctl_t *self, flot_spec_t **spec_p)
{
    spec_t file;
    int rc = s_spec_load (self, &file);
    if (rc < 0)
        rc = s_spec_resolved (self, &file, spec_p);
    s_spec_clear (&file);
    return rc;
}

//  --------------------------------------------------------------------------
//  The hook check: before plan or apply runs anything, each executor
//  instance that would serve a target of the spec is asked whether it can
//  run the spec's hook (ValidateStep), once per instance, not per target.
//  The broker's Actors says which instances there are and the targets
//  (routing keys) each claims; a target goes to an instance that claims it,
//  else to one that claims none (SPEC 4.2), so each instance is reached
//  with a target it claims, or, for those that claim none, with a target
//  nobody claims (round-robin among them: as many calls as instances).

#define EXECUTOR_SERVICE    "executor"

//  An executor instance to ask, and the routing key that reaches it.
typedef struct {
    const char *instance;
    const char *key;            //  a target of the spec
    bool unkeyed;               //  it claims no keys: one of several, maybe
} hook_check_t;

//  True if the actor claims key.
static bool
s_claims (const flot_broker_actor_t *actor, const char *key)
{
    const char *const *keys = actor->keys.items;
    for (size_t i = 0; i < actor->keys.count; i++)
        if (streq (keys [i], key))
            return true;
    return false;
}

//  True if some live executor instance claims key.
static bool
s_claimed (const flot_broker_actor_t *actors, size_t count, const char *key)
{
    for (size_t i = 0; i < count; i++)
        if (streq (actors [i].service, EXECUTOR_SERVICE) && s_claims (&actors [i], key))
            return true;
    return false;
}

//  The checks to make for the spec's targets among the actors: one per
//  executor instance that would serve one of them (checks holds count
//  actors). Returns how many; says on stderr which targets no live executor
//  serves, and *executors how many executor instances are live.
static size_t
s_hook_checks (const flot_spec_t *spec, const flot_broker_actor_t *actors, size_t count,
               hook_check_t *checks, size_t *executors)
{
    const char *unclaimed = NULL;       //  a target that no instance claims
    size_t unkeyed = 0, made = 0;
    *executors = 0;
    for (size_t t = 0; t < spec->target_count && !unclaimed; t++)
        if (!s_claimed (actors, count, spec->targets [t].name))
            unclaimed = spec->targets [t].name;
    for (size_t i = 0; i < count; i++) {
        const flot_broker_actor_t *actor = &actors [i];
        if (!streq (actor->service, EXECUTOR_SERVICE))
            continue;
        (*executors)++;
        if (actor->keys.count == 0) {
            unkeyed++;
            if (unclaimed)
                checks [made++] = (hook_check_t) { actor->instance, unclaimed, true };
            continue;
        }
        for (size_t t = 0; t < spec->target_count; t++)
            if (s_claims (actor, spec->targets [t].name)) {
                checks [made++] = (hook_check_t) {
                    actor->instance, spec->targets [t].name, false
                };
                break;
            }
    }
    if (*executors && unclaimed && !unkeyed)
        for (size_t t = 0; t < spec->target_count; t++)
            if (!s_claimed (actors, count, spec->targets [t].name))
                fprintf (stderr, "flotctl: warning: no live executor instance serves "
                         "target '%s' (none claims it, and every one claims other "
                         "targets)\n", spec->targets [t].name);
    return made;
}

//  Asks an executor instance whether it can run the hook for a target.
//  Returns 0 if it can, 1 if it cannot (said on stderr), or -1 if it could
//  not tell (a warning: the hook is not checked there).
static int
s_hook_check_one (ctl_t *self, const flot_spec_t *spec, const hook_check_t *check,
                  const char *unkeyed_names)
{
    int target = flot_spec_target_index (spec, check->key);
    assert (target >= 0);
    //  The STEP an apply step of that target sends, as the coordinator
    //  packs it (step_call.h).
    flot_step_t step = { .target = target, .index = 1, .type = FLOT_STEP_APPLY,
                         .weight = 100, .runs_hook = true };
    snprintf (step.id, sizeof step.id, "%.70s/check", check->key);
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    flot_step_call_pack (&pk, spec, spec->name, &step, 1, "", 0, false);
    flot_body_t *body = NULL;
    flot_err_t err;
    int rc = ctl_call (self, EXECUTOR_SERVICE, check->key, "ValidateStep", &sbuf, &body,
                       &err);
    msgpack_sbuffer_destroy (&sbuf);
    flot_body_destroy (&body);
    char where [512];
    if (check->unkeyed && strchr (unkeyed_names, ','))
        snprintf (where, sizeof where, "one of the executor instances %s (which claim no "
                  "targets), asked for target '%s'", unkeyed_names, check->key);
    else
        snprintf (where, sizeof where, "executor instance %s (target '%s')",
                  check->instance, check->key);
    if (rc == 0)
        return 0;
    if (err.code == FLOT_E_INVALID || err.code == FLOT_E_NOT_AUTHORIZED) {
        fprintf (stderr, "flotctl: the hook '%s' cannot run on %s: %s (%d): ",
                 spec->hook.command, where, flot_err_name (err.code), err.code);
        ctl_put_text (stderr, err.message, "no reason given");
        fputc ('\n', stderr);
        return 1;
    }
    fprintf (stderr, "flotctl: warning: the hook '%s' is not checked on %s: %s (%d): ",
             spec->hook.command, where, flot_err_name (err.code), err.code);
    ctl_put_text (stderr, err.message, "no reason given");
    fputc ('\n', stderr);
    return -1;
}

//  The names of the executor instances that claim no keys, comma-separated.
static void
s_unkeyed_names (const flot_broker_actor_t *actors, size_t count, char *names, size_t cap)
{
    *names = 0;
    for (size_t i = 0; i < count; i++)
        if (streq (actors [i].service, EXECUTOR_SERVICE) && actors [i].keys.count == 0)
            ctl_append (names, cap, "%s%s", *names ? "," : "", actors [i].instance);
}

//  Checks the hook of the spec (validated) with every executor instance
//  that would run it. Returns -1 to go on (checked, or no executor to ask:
//  a warning), or an exit code: 1 if an instance cannot run it.
static int
s_hook_check (ctl_t *self, const spec_t *file)
{
    if (self->opts.given & OPT_NO_CHECK)
        return -1;
    flot_spec_t *spec = NULL;
    int rc = s_spec_resolved (self, file, &spec);
    if (rc >= 0)
        return rc;
    flot_body_t *body = NULL;
    flot_err_t err;
    flot_broker_actors_reply_t reply;
    if (ctl_call (self, FLOT_BROKER_SERVICE, NULL, "Actors", NULL, &body, &err)
    ||  flot_broker_actors_reply_decode (flot_body_root (body), flot_body_zone (body),
                                         &reply, &err)) {
        fprintf (stderr, "flotctl: warning: the hook '%s' is not checked: broker Actors: "
                 "%s (%d): %s\n", spec->hook.command, flot_err_name (err.code), err.code,
                 err.message);
        flot_body_destroy (&body);
        flot_spec_destroy (&spec);
        return -1;
    }
    const flot_broker_actor_t *actors = reply.actors.items;
    size_t count = reply.actors.count, executors;
    hook_check_t *checks = calloc (count ? count : 1, sizeof *checks);
    char unkeyed [512];
    if (!checks)
        rc = ctl_fail (RC_ERROR, "out of memory");
    size_t made = checks ? s_hook_checks (spec, actors, count, checks, &executors) : 0;
    if (checks && !executors)
        fprintf (stderr, "flotctl: warning: no executor instance is live: the hook '%s' "
                 "is not checked (one must be live for the deployment to run)\n",
                 spec->hook.command);
    s_unkeyed_names (actors, count, unkeyed, sizeof unkeyed);
    size_t failed = 0;
    for (size_t i = 0; i < made; i++)
        if (s_hook_check_one (self, spec, &checks [i], unkeyed) == 1)
            failed++;
    if (failed)
        rc = ctl_fail (RC_ERROR, "%s: the hook '%s' cannot run on %zu of %zu executor "
                       "instance%s: nothing was run", file->file, spec->hook.command,
                       failed, made, made == 1 ? "" : "s");
    free (checks);
    flot_body_destroy (&body);
    flot_spec_destroy (&spec);
    return rc;
}

//  --------------------------------------------------------------------------
//  plan

#define STEP_COLS 5

static const char *const s_step_headers [STEP_COLS] = {
    "STEP", "TYPE", "WEIGHT", "DURATION", "RUNS"
};

//  The cells of one step of a PLAN (strategy.PLAN_STEP, SPEC section 16).
static void
s_step_cells (const flot_strategy_plan_step_t *step, cell_t *cells)
{
    const char *gate = step->gate ? step->gate : "";
    ctl_cell (cells [0], step->id);
    ctl_cell (cells [1], step->type);
    snprintf (cells [2], CELL_MAX, "%llu", (unsigned long long) step->weight);
    if (step->duration_ms < 0)
        snprintf (cells [3], CELL_MAX, "until promoted");
    else
    if (step->duration_ms == 0)
        snprintf (cells [3], CELL_MAX, "-");
    else
        ctl_duration ((uint64_t) step->duration_ms, cells [3], CELL_MAX);
    if (step->hook && *gate)
        snprintf (cells [4], CELL_MAX, "hook, gate %.100s", gate);
    else
    if (*gate)
        snprintf (cells [4], CELL_MAX, "gate %.100s", gate);
    else
        snprintf (cells [4], CELL_MAX, "%s", step->hook ? "hook" : "-");
}

//  The targets of a PLAN in its "order". Returns a new array (the caller
//  frees it) of the plan's targets.count targets, or NULL with err.
static const flot_strategy_plan_target_t **
s_plan_ordered (const flot_strategy_plan_t *plan, flot_err_t *err)
{
    const flot_strategy_plan_target_t *targets = plan->targets.items;
    const char *const *order = plan->order.items;
    size_t count = plan->targets.count;
    if (plan->order.count != count) {
        flot_err_set (err, FLOT_E_MALFORMED, "'order' names %zu targets, "
                      "'targets' holds %zu", plan->order.count, count);
        return NULL;
    }
    const flot_strategy_plan_target_t **ordered = calloc (count ? count : 1, sizeof *ordered);
    zhash_t *index = zhash_new ();
    int rc = ordered && index ? 0
           : flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
    for (size_t i = 0; i < count && rc == 0; i++)
        if (zhash_insert (index, targets [i].name, (void *) &targets [i]))
            rc = flot_err_set (err, FLOT_E_MALFORMED, "target '%.200s' is there twice",
                               targets [i].name);
    for (size_t i = 0; i < count && rc == 0; i++)
        if (!(ordered [i] = zhash_lookup (index, order [i])))
            rc = flot_err_set (err, FLOT_E_MALFORMED, "'order' names '%.200s', which "
                               "is not among the targets", order [i]);
    zhash_destroy (&index);
    if (rc) {
        free (ordered);
        ordered = NULL;
    }
    return ordered;
}

//  Widens width to fit every step of the targets; returns how many steps.
static size_t
s_plan_widths (const flot_strategy_plan_target_t **ordered, size_t count, size_t *width)
{
    size_t steps = 0;
    ctl_fit_cells (width, STEP_COLS, s_step_headers);
    for (size_t i = 0; i < count; i++) {
        const flot_strategy_plan_step_t *list = ordered [i]->steps.items;
        for (size_t j = 0; j < ordered [i]->steps.count; j++) {
            cell_t cells [STEP_COLS];
            const char *texts [STEP_COLS];
            s_step_cells (&list [j], cells);
            for (int c = 0; c < STEP_COLS; c++)
                texts [c] = cells [c];
            ctl_fit_cells (width, STEP_COLS, texts);
        }
        steps += ordered [i]->steps.count;
    }
    return steps;
}

//  Prints an array of names, separator between them ('-' if none).
static void
s_print_names (const flot_array_t *names, const char *separator)
{
    const char *const *name = names->items;
    if (names->count == 0)
        fputs ("-", stdout);
    for (size_t i = 0; i < names->count; i++) {
        if (i)
            fputs (separator, stdout);
        ctl_put_text (stdout, name [i], "\"\"");
    }
}

//  One target of a plan: its name, wave and dependencies, then its steps.
static void
s_print_plan_target (const flot_strategy_plan_target_t *target, const size_t *width,
                     bool headers)
{
    printf ("\n");
    ctl_put_text (stdout, target->name, "");
    printf ("  wave %llu, depends on: ", (unsigned long long) target->wave);
    s_print_names (&target->depends_on, ", ");
    printf ("\n");
    if (headers)
        ctl_print_cells ("    ", width, STEP_COLS, s_step_headers);
    const flot_strategy_plan_step_t *steps = target->steps.items;
    for (size_t j = 0; j < target->steps.count; j++) {
        cell_t cells [STEP_COLS];
        const char *texts [STEP_COLS];
        s_step_cells (&steps [j], cells);
        for (int c = 0; c < STEP_COLS; c++)
            texts [c] = cells [c];
        ctl_print_cells ("    ", width, STEP_COLS, texts);
    }
}

#define PLAN_FULL   50          //  a plan of more targets is summed up
#define PLAN_PAGE   2500        //  targets asked for per call (--page)
#define PLAN_NAMES  10          //  targets named in a summary's orders
#define PLAN_SHOWN  3           //  targets with their steps in a summary

//  Prints the first of an array of names, and how many more.
static void
s_print_some_names (const flot_array_t *names, size_t shown)
{
    flot_array_t some = { names->count < shown ? names->count : shown, names->items };
    s_print_names (&some, " ");
    if (names->count > shown)
        printf (" and %zu more", names->count - shown);
}

//  Whether two steps of a plan do the same (their ids aside).
static bool
s_same_step (const flot_strategy_plan_step_t *a, const flot_strategy_plan_step_t *b)
{
    return a->index == b->index && streq (a->type, b->type) && a->weight == b->weight
        && a->duration_ms == b->duration_ms && a->hook == b->hook
        && streq (a->gate ? a->gate : "", b->gate ? b->gate : "");
}

//  Prints a plan of many targets summed up: its waves, the first targets
//  in order with their steps, whether every target runs the same steps,
//  and the start of the rollback order.
static void
s_print_plan_summary (const flot_strategy_plan_t *plan, const flot_strategy_plan_t *rollback,
                      const flot_strategy_plan_target_t **ordered, const size_t *width)
{
    size_t count = plan->targets.count;
    const flot_strategy_plan_target_t *targets = plan->targets.items;
    //  Targets by wave (waves are numbered from 0, at most 10,000).
    uint64_t waves = 0;
    for (size_t i = 0; i < count; i++)
        waves = targets [i].wave + 1 > waves ? targets [i].wave + 1 : waves;
    if (waves > 1) {
        size_t *per = calloc (waves, sizeof *per);
        assert (per);
        for (size_t i = 0; i < count; i++)
            per [targets [i].wave]++;
        printf ("waves: %llu (targets in each:", (unsigned long long) waves);
        for (uint64_t w = 0; w < waves && w < PLAN_NAMES; w++)
            printf (" %zu", per [w]);
        printf ("%s)\n", waves > PLAN_NAMES ? " ..." : "");
        free (per);
    }
    //  Whether every target runs the steps of the first in order.
    const flot_strategy_plan_target_t *model = ordered [0];
    size_t differ = 0;
    for (size_t i = 1; i < count; i++) {
        const flot_strategy_plan_target_t *t = ordered [i];
        bool same = t->steps.count == model->steps.count;
        for (size_t j = 0; same && j < t->steps.count; j++)
            same = s_same_step (&((const flot_strategy_plan_step_t *) t->steps.items) [j],
                                &((const flot_strategy_plan_step_t *) model->steps.items) [j]);
        differ += !same;
    }
    if (differ == 0)
        printf ("every target runs the same %zu step%s; the first targets in order:\n",
                model->steps.count, model->steps.count == 1 ? "" : "s");
    else
        printf ("%zu target%s run%s other steps than the first; the first targets in "
                "order:\n", differ, differ == 1 ? "" : "s", differ == 1 ? "s" : "");
    for (size_t i = 0; i < count && i < PLAN_SHOWN; i++)
        s_print_plan_target (ordered [i], width, i == 0);
    printf ("\norder: ");
    s_print_some_names (&plan->order, PLAN_NAMES);
    printf ("\nrollback order: ");
    s_print_some_names (&rollback->order, PLAN_NAMES);
    printf ("\n(flotctl plan --all prints every target and its steps)\n");
}

//  Prints a Plan reply (strategy.DEPLOYMENT_PLAN, its pages joined): the
//  plan's targets in order with their steps, then the rollback plan's
//  order; summed up for more than PLAN_FULL targets, unless all.
static int
s_print_plan (const msgpack_object *root, msgpack_zone *zone, bool all, flot_err_t *err)
{
    flot_strategy_deployment_plan_t reply;
    if (flot_strategy_deployment_plan_decode (root, zone, &reply, err))
        return -1;
    const flot_strategy_plan_t *plan = reply.plan;
    size_t count = plan->targets.count;
    const flot_strategy_plan_target_t **ordered = s_plan_ordered (plan, err);
    if (!ordered)
        return -1;
    size_t width [STEP_COLS] = { 0 };
    bool full = all || count <= PLAN_FULL;
    size_t steps = s_plan_widths (ordered, full ? count : (count < PLAN_SHOWN ? count
                                                          : PLAN_SHOWN), width);
    if (!full)
        steps = reply.has_steps_total ? reply.steps_total : 0;
    if (!full && !reply.has_steps_total)
        for (size_t i = 0; i < count; i++)
            steps += ordered [i]->steps.count;
    printf ("plan of deployment ");
    ctl_put_text (stdout, reply.deployment, "");
    printf (" (");
    ctl_put_text (stdout, reply.strategy, "");
    printf ("): %zu target%s, %zu step%s, at most %llu target%s at a time\n",
            count, count == 1 ? "" : "s", steps, steps == 1 ? "" : "s",
            (unsigned long long) plan->concurrency, plan->concurrency == 1 ? "" : "s");
    if (full) {
        for (size_t i = 0; i < count; i++)
            s_print_plan_target (ordered [i], width, i == 0);
        printf ("\nrollback order: ");
        s_print_names (&reply.rollback->order, " ");
        printf ("\n");
    }
    else
        s_print_plan_summary (plan, reply.rollback, ordered, width);
    free (ordered);
    fflush (stdout);
    return 0;
}

//  Fetches the Plan of spec in pages into pages. Returns -1 to go on, or
//  the exit code.
static int
s_plan_pages (ctl_t *self, const spec_t *spec, pages_t *pages)
{
    uint64_t per = (self->opts.given & OPT_PAGE) ? self->opts.page : PLAN_PAGE;
    uint64_t offset = 0;
    for (;;) {
        flot_body_t *body;
        int rc = s_spec_call_page (self, spec, "Plan", true, offset, per, &body);
        if (rc >= 0)
            return rc;
        flot_err_t err;
        page_t page;
        const msgpack_object *plan = flot_map_get (flot_body_root (body), "plan");
        const msgpack_object *targets = flot_map_get (plan, "targets");
        uint64_t held = targets && targets->type == MSGPACK_OBJECT_ARRAY
                      ? targets->via.array.size : 0;
        int bad = ctl_page_next (flot_body_root (body), offset, held,
                                 "targets", &page, &err);
        if (bad || ctl_pages_add (pages, &body)) {
            flot_body_destroy (&body);
            return ctl_bad_reply (COORDINATOR_SERVICE, "Plan", &err);
        }
        //  An older coordinator answers the whole plan, without a page.
        if (!page.paged || !page.more || held == 0)
            return -1;
        offset = page.next_offset;
    }
}

int
ctl_cmd_plan (ctl_t *self)
{
    if (!(self->opts.given & OPT_FILE))
        return ctl_usage_error ("'%s' needs the spec file: flotctl %s -f FILE",
                                self->opts.args [0], self->opts.args [0]);
    static const char *const lists [] = { "targets", "order", NULL };
    static const char *const maps [] = { "plan", "rollback", NULL };
    spec_t spec;
    pages_t pages;
    ctl_pages_init (&pages);
    int rc = s_spec_load (self, &spec);
    if (rc < 0)
        rc = s_hook_check (self, &spec);
    if (rc < 0)
        rc = s_plan_pages (self, &spec, &pages);
    if (rc < 0) {
        flot_err_t err;
        const msgpack_object *joined = ctl_pages_join (&pages, lists, maps, &err);
        msgpack_zone *zone = ctl_pages_zone (&pages);
        if (!joined)
            rc = ctl_bad_reply (COORDINATOR_SERVICE, "Plan", &err);
        else
        if (self->opts.json)
            rc = ctl_print_json (joined, false);
        else
        if (s_print_plan (joined, zone, self->opts.given & OPT_ALL, &err))
            rc = ctl_bad_reply (COORDINATOR_SERVICE, "Plan", &err);
        else
            rc = RC_OK;
    }
    ctl_pages_clear (&pages);
    s_spec_clear (&spec);
    return rc;
}

//  --------------------------------------------------------------------------
//  apply

int
ctl_cmd_apply (ctl_t *self)
{
    if ((self->opts.given & OPT_DRY_RUN) && (self->opts.given & OPT_WATCH))
        return ctl_usage_error ("--dry-run runs nothing to --watch; give one of them");
    if ((self->opts.given & OPT_QUEUE) && (self->opts.given & OPT_REPLACE))
        return ctl_usage_error ("--queue waits for the deployments that hold a target, "
                                "--replace aborts them: give one of them");
    if (self->opts.given & OPT_DRY_RUN)
        return ctl_cmd_plan (self);
    if (!(self->opts.given & OPT_FILE))
        return ctl_usage_error ("'apply' needs the spec file: flotctl apply -f FILE");
    spec_t spec;
    flot_body_t *body = NULL;
    int rc = s_spec_load (self, &spec);
    if (rc < 0)
        rc = s_hook_check (self, &spec);
    if (rc < 0)
        rc = s_spec_call (self, &spec, "Execute", &body);
    s_spec_clear (&spec);
    if (rc >= 0)
        return rc;
    const msgpack_object *root = flot_body_root (body);
    flot_coordinator_execute_reply_t reply = { 0 };
    char id [FLOT_MAX_ID + 1] = "";
    flot_err_t err;
    if (flot_coordinator_execute_reply_decode (root, flot_body_zone (body), &reply, &err)
    ||  (!ctl_id_valid (reply.id) && flot_err_set (&err, FLOT_E_MALFORMED,
                                                   "'%.100s' is not a deployment id", reply.id)))
        rc = ctl_bad_reply (COORDINATOR_SERVICE, "Execute", &err);
    else
    if (self->opts.json)
        rc = ctl_print_json (root, false);
    else {
        printf ("deployment %s started: %llu step%s\n", reply.id,
                (unsigned long long) reply.steps_total, reply.steps_total == 1 ? "" : "s");
        fflush (stdout);
        rc = RC_OK;
    }
    if (rc == RC_OK)
        snprintf (id, sizeof id, "%s", reply.id);     //  valid: it fits
    flot_body_destroy (&body);
    if (rc == RC_OK && (self->opts.given & OPT_WATCH))
        rc = ctl_watch (self, id);
    return rc;
}
