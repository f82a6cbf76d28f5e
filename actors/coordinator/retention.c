/*  retention.c - finished deployments do not pile up: those finished
    longer ago than retain-age, and those beyond the newest retain-count
    finished ones, are removed from the store and from memory.

    Finished means completed, failed, aborted, rolled back or rollback
    failed (transitions.c): a running, paused, queued or rolling back
    deployment is never removed, nor one that still has something in
    flight (a hook, a timer, a call, an answer held for the commit) or
    that finished less than RETAIN_GRACE_MS ago. GetStatus and List do not
    know a removed deployment any more; its events stay in the events
    service's history, which has its own retention.

    A timer (registered by coordinator.c at start) makes a pass every
    RETAIN_EVERY_MS; a pass removes at most RETAIN_BATCH deployments, in
    the coordinator's store transaction, so that the loop never waits
    long; one that had more to remove asks for the next pass
    RETAIN_BUSY_MS later (a thousand a second, leaving the loop to the
    deployments).

    Options (seconds and a count; 0: no limit): retain-age (default 30
    days) and retain-count (default 10,000).
*/

#include "coordinator_internal.h"

#define RETAIN_AGE "2592000"        //  30 days, in seconds
#define RETAIN_COUNT "10000"
#define RETAIN_MAX_AGE (100LL * 365 * 86400)
#define RETAIN_MAX_COUNT 100000000LL
#define RETAIN_EVERY_MS 5000
#define RETAIN_BUSY_MS 100          //  the next batch, while there is more to remove
#define RETAIN_BATCH 100            //  deployments a pass removes at most
#define RETAIN_GRACE_MS 10000       //  a deployment stays this long after it finished

int coord_retention_check (flot_actor_t *actor);
void coord_retention_start (coordinator_t *self);

//  The option name as a number in 0..max, into *value. Returns 0, or -1
//  (said).
static int
s_option (flot_actor_t *actor, const char *name, const char *fallback, long long max,
          const char *unit, long long *value)
{
    const char *text = flot_actor_option (actor, name, fallback);
    char *end = NULL;
    long long n = strtoll (text, &end, 10);
    if (!*text || !end || *end || n < 0 || n > max) {
        flot_error (WHO, "%s '%s' is not a number%s in 0..%lld (0: no limit)", name, text,
                    unit, max);
        return -1;
    }
    *value = n;
    return 0;
}

static int
s_options (flot_actor_t *actor, long long *age_s, long long *count)
{
    return s_option (actor, "retain-age", RETAIN_AGE, RETAIN_MAX_AGE, " of seconds", age_s)
        || s_option (actor, "retain-count", RETAIN_COUNT, RETAIN_MAX_COUNT, "", count);
}

//  Before the coordinator starts: its options are valid. Returns 0, or -1
//  (said).
int
coord_retention_check (flot_actor_t *actor)
{
    long long age_s, count;
    return s_options (actor, &age_s, &count);
}

//  --------------------------------------------------------------------------
//  A pass

//  Pointers, sorted, to look up.
typedef struct {
    const void **items;
    size_t count, size;
} pointers_t;

static void
s_pointers_add (pointers_t *set, const void *item)
{
    if (set->count == set->size) {
        set->size = set->size ? set->size * 2 : 64;
        set->items = realloc (set->items, set->size * sizeof *set->items);
        assert (set->items);
    }
    set->items [set->count++] = item;
}

static int
s_pointer_cmp (const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) *(const void *const *) a, y = (uintptr_t) *(const void *const *) b;
    return x < y ? -1 : x > y;
}

//  The deployments that something waiting holds a pointer to: a step's
//  timer (even cancelled: its argument is freed later), a decision, an
//  action held for the commit.
static void
s_referenced (coordinator_t *self, pointers_t *set)
{
    for (step_ref_t *ref = zlistx_first (self->timer_refs); ref;
         ref = zlistx_next (self->timer_refs))
        s_pointers_add (set, ref->dep);
    for (step_ref_t *ref = zlistx_first (self->cancelled_refs); ref;
         ref = zlistx_next (self->cancelled_refs))
        s_pointers_add (set, ref->dep);
    for (decision_t *decision = zlistx_first (self->decisions); decision;
         decision = zlistx_next (self->decisions))
        s_pointers_add (set, decision->dep);
    for (decision_t *decision = zlistx_first (self->cancelled_decisions); decision;
         decision = zlistx_next (self->cancelled_decisions))
        s_pointers_add (set, decision->dep);
    for (held_t *held = zlistx_first (self->held); held; held = zlistx_next (self->held))
        if (held->dep)
            s_pointers_add (set, held->dep);
    //  Calls of gates and watches (ShouldRollback, Analyze...) in flight.
    for (void *ref = zlistx_first (self->gate_refs); ref; ref = zlistx_next (self->gate_refs))
        s_pointers_add (set, coord_gate_ref_dep (ref));
    if (set->count)
        qsort (set->items, set->count, sizeof *set->items, s_pointer_cmp);
}

static bool
s_steps_idle (const step_rt_t *steps, size_t count)
{
    for (size_t s = 0; steps && s < count; s++)
        if (steps [s].timer >= 0 || steps [s].fault_timer >= 0 || steps [s].call
        ||  steps [s].gate_call || steps [s].decision)
            return false;
    return true;
}

//  True if dep may go: finished a while ago, and nothing of it in flight.
static bool
s_removable (deployment_t *dep, const pointers_t *referenced, int64_t now)
{
    bool finished = dep->state == DS_COMPLETED || dep->state == DS_FAILED
                 || dep->state == DS_ABORTED || dep->state == DS_ROLLED_BACK
                 || dep->state == DS_ROLLBACK_FAILED;
    if (!finished || dep->finished_ms == 0 || now - dep->finished_ms < RETAIN_GRACE_MS
    ||  dep->dirty || dep->queue_handle || dep->hooks_in_flight
    ||  dep->rollback_call || dep->rollback_timer >= 0
    ||  !s_steps_idle (dep->steps, dep->plan->step_count)
    ||  !s_steps_idle (dep->back_steps, dep->back ? dep->back->step_count : 0))
        return false;
    for (size_t t = 0; t < dep->spec->target_count; t++)
        if (dep->trt [t].monitor || dep->trt [t].background)
            return false;
    return !referenced->count
        || !bsearch (&dep, referenced->items, referenced->count, sizeof *referenced->items,
                     s_pointer_cmp);
}

static int
s_collect (const char *id, int64_t finished_ms, void *arg)
{
    (void) finished_ms;
    zlistx_add_end (arg, strdup (id));
    return 0;
}

//  Removes what retention says from the store and memory, at most
//  RETAIN_BATCH deployments. Returns true if it may have left some.
static bool
s_pass (coordinator_t *self)
{
    long long age_s, count;
    if (s_options (self->actor, &age_s, &count))
        return false;
    if (!age_s && !count)
        return false;
    int64_t now = coord_now ();
    //  Twice the batch: some of the first may not be removable yet.
    zlistx_t *ids = zlistx_new ();
    zlistx_set_destructor (ids, (zlistx_destructor_fn *) zstr_free);
    if (flot_store_each_expired (self->store, age_s ? now - age_s * 1000 : 0, (size_t) count,
                                 RETAIN_BATCH * 2, s_collect, ids)) {
        flot_error (WHO, "retention: %s", flot_store_error (self->store));
        zlistx_destroy (&ids);
        return false;
    }
    size_t found = zlistx_size (ids), removed = 0, kept = 0;
    pointers_t referenced = { NULL, 0, 0 };
    if (found)
        s_referenced (self, &referenced);
    for (char *id = zlistx_first (ids); id && removed < RETAIN_BATCH; id = zlistx_next (ids)) {
        deployment_t *dep = zhashx_lookup (self->deployments, id);
        //  Not in memory: a row that did not load, or one being resolved
        //  again after a restart (it goes once it is loaded).
        if (dep ? !s_removable (dep, &referenced, now) : zlistx_size (self->resolving) > 0) {
            kept++;
            continue;
        }
        coord_begin (self);
        int rc = flot_store_remove_deployment (self->store, id);
        coord_commit (self);
        if (rc) {
            flot_error (WHO, "retention: %s: %s", id, flot_store_error (self->store));
            break;
        }
        if (dep) {
            void *handle = zlistx_find (self->listed, dep);
            if (handle)
                zlistx_delete (self->listed, handle);
            zhashx_delete (self->deployments, id);    //  frees it
        }
        removed++;
    }
    free (referenced.items);
    zlistx_destroy (&ids);
    if (removed)
        flot_info (WHO, "retention: %zu finished deployments removed (finished over %llds ago, "
                   "or beyond the newest %lld)%s", removed, age_s, count,
                   kept ? "; some wait for what they still have in flight" : "");
    return removed == RETAIN_BATCH;
}

static int
s_on_retain (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) timer_id;
    coordinator_t *self = arg;
    //  More to remove: the next batch soon, not all now.
    if (s_pass (self))
        flot_loop_timer (loop, RETAIN_BUSY_MS, 1, s_on_retain, self);
    return 0;
}

//  At start (coordinator.c): a pass every RETAIN_EVERY_MS.
void
coord_retention_start (coordinator_t *self)
{
    long long age_s = 0, count = 0;
    s_options (self->actor, &age_s, &count);
    flot_loop_timer (flot_actor_loop (self->actor), RETAIN_EVERY_MS, 0, s_on_retain, self);
    char age [32] = "for ever", most [32] = "all";
    if (age_s)
        snprintf (age, sizeof age, "for %lld s", age_s);
    if (count)
        snprintf (most, sizeof most, "at most %lld", count);
    flot_info (WHO, "retention: finished deployments are kept %s, %s of them", age, most);
}
