/*  holds.c - one deployment per target (SPEC 18): a target, by workload and
    target name, is held by the deployment that rolls it, from Execute until
    that deployment ends (completed, failed, aborted, rolled back, or its
    rollback failed). A deployment applied with on_conflict `queue` (or
    `replace`, once it has aborted the holders) waits behind the holder,
    running but with nothing started, in the order applied: the queue. When
    a holder ends, the queue is walked from its head and each deployment
    whose targets are all free starts; one that cannot start yet keeps its
    targets from those behind it, so that none overtakes another on a
    target they share.
*/
#include "coordinator_internal.h"

#include <string.h>

//  The key of target t of dep: its workload's name and its own.
static const char *
s_key (const deployment_t *dep, size_t t, char *key, size_t size)
{
    snprintf (key, size, "%s\x1f%s", dep->spec->workload.name, dep->spec->targets [t].name);
    return key;
}

#define KEY_MAX (2 * FLOT_MAX_KEY + 4)

static bool
s_active (const deployment_t *dep)
{
    return dep->state == DS_RUNNING || dep->state == DS_ROLLING_BACK;
}

deployment_t *
coord_holder (deployment_t *dep, size_t *target)
{
    coordinator_t *self = dep->owner;
    char key [KEY_MAX];
    for (size_t t = 0; t < dep->spec->target_count; t++) {
        deployment_t *holder = zhashx_lookup (self->holds, s_key (dep, t, key, sizeof key));
        if (holder && holder != dep) {
            *target = t;
            return holder;
        }
    }
    //  Those waiting in the queue come first too: by the queue's order.
    if (zlistx_size (self->queue) == 0)
        return NULL;
    zhashx_t *mine = zhashx_new ();
    assert (mine);
    for (size_t t = 0; t < dep->spec->target_count; t++)
        zhashx_insert (mine, s_key (dep, t, key, sizeof key), (void *) (t + 1));
    deployment_t *found = NULL;
    for (deployment_t *queued = zlistx_first (self->queue); queued && !found;
         queued = zlistx_next (self->queue)) {
        if (queued == dep)
            continue;
        for (size_t t = 0; t < queued->spec->target_count && !found; t++) {
            size_t at = (size_t) zhashx_lookup (mine, s_key (queued, t, key, sizeof key));
            if (at) {
                *target = at - 1;
                found = queued;
            }
        }
    }
    zhashx_destroy (&mine);
    return found;
}

void
coord_holders (deployment_t *dep, zlistx_t *ahead)
{
    coordinator_t *self = dep->owner;
    char key [KEY_MAX];
    zhashx_t *mine = zhashx_new ();
    assert (mine);
    for (size_t t = 0; t < dep->spec->target_count; t++) {
        s_key (dep, t, key, sizeof key);
        zhashx_insert (mine, key, dep);
        deployment_t *holder = zhashx_lookup (self->holds, key);
        if (holder && holder != dep && !zlistx_find (ahead, holder))
            zlistx_add_end (ahead, holder);
    }
    for (deployment_t *queued = zlistx_first (self->queue); queued;
         queued = zlistx_next (self->queue)) {
        if (queued == dep || zlistx_find (ahead, queued))
            continue;
        for (size_t t = 0; t < queued->spec->target_count; t++)
            if (zhashx_lookup (mine, s_key (queued, t, key, sizeof key))) {
                zlistx_add_end (ahead, queued);
                break;
            }
    }
    zhashx_destroy (&mine);
}

deployment_t *
coord_later (deployment_t *dep, size_t *target)
{
    coordinator_t *self = dep->owner;
    char key [KEY_MAX];
    zhashx_t *mine = zhashx_new ();
    assert (mine);
    for (size_t t = 0; t < dep->spec->target_count; t++)
        zhashx_insert (mine, s_key (dep, t, key, sizeof key), (void *) (t + 1));
    deployment_t *found = NULL;
    //  List's order is by creation: the newest last.
    for (deployment_t *other = zlistx_last (self->listed); other && other != dep && !found;
         other = zlistx_prev (self->listed))
        for (size_t t = 0; t < other->spec->target_count && !found; t++) {
            size_t at = (size_t) zhashx_lookup (mine, s_key (other, t, key, sizeof key));
            if (at && other->steps_done + (size_t) other->failed_targets > 0) {
                *target = at - 1;
                found = other;
            }
        }
    zhashx_destroy (&mine);
    return found;
}

//  The deployment takes its targets.
static void
s_take (deployment_t *dep)
{
    char key [KEY_MAX];
    for (size_t t = 0; t < dep->spec->target_count; t++)
        zhashx_update (dep->owner->holds, s_key (dep, t, key, sizeof key), dep);
}

void
coord_holds_add (deployment_t *dep)
{
    if (!s_active (dep))
        return;
    if (*dep->queued_behind) {
        if (!dep->queue_handle)
            dep->queue_handle = zlistx_add_end (dep->owner->queue, dep);
    }
    else
        s_take (dep);
}

static int s_on_dequeue (flot_loop_t *loop, int timer_id, void *arg);

void
coord_holds_drop (deployment_t *dep)
{
    coordinator_t *self = dep->owner;
    char key [KEY_MAX];
    for (size_t t = 0; t < dep->spec->target_count; t++) {
        s_key (dep, t, key, sizeof key);
        if (zhashx_lookup (self->holds, key) == dep)
            zhashx_delete (self->holds, key);
    }
    if (dep->queue_handle) {
        zlistx_delete (self->queue, dep->queue_handle);
        dep->queue_handle = NULL;
    }
    coord_queue_check (self);
}

void
coord_queue_check (coordinator_t *self)
{
    if (self->dequeue_timer < 0 && zlistx_size (self->queue) > 0)
        self->dequeue_timer = flot_loop_timer (flot_actor_loop (self->actor), 1, 1, s_on_dequeue,
                                           self);
}

//  The queue, from its head: each deployment whose targets are free starts.
static int
s_on_dequeue (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    coordinator_t *self = arg;
    self->dequeue_timer = -1;
    zhashx_t *blocked = zhashx_new ();      //  key -> a queued deployment ahead
    assert (blocked);
    zlistx_t *starting = zlistx_new ();
    char key [KEY_MAX];
    for (deployment_t *dep = zlistx_first (self->queue); dep; dep = zlistx_next (self->queue)) {
        const deployment_t *holder = NULL;
        for (size_t t = 0; t < dep->spec->target_count && !holder; t++) {
            s_key (dep, t, key, sizeof key);
            holder = zhashx_lookup (self->holds, key);
            if (!holder)
                holder = zhashx_lookup (blocked, key);
        }
        if (holder) {
            for (size_t t = 0; t < dep->spec->target_count; t++)
                zhashx_update (blocked, s_key (dep, t, key, sizeof key), dep);
            if (!streq (dep->queued_behind, holder->id)) {
                snprintf (dep->queued_behind, sizeof dep->queued_behind, "%s", holder->id);
                coord_begin (self);
                coord_save_deployment (dep);
                coord_commit (self);
            }
        }
        else {
            //  Its targets are its own from now: later ones wait behind it.
            s_take (dep);
            zlistx_add_end (starting, dep);
        }
    }
    zhashx_destroy (&blocked);
    for (deployment_t *dep = zlistx_first (starting); dep; dep = zlistx_next (starting)) {
        zlistx_delete (self->queue, dep->queue_handle);
        dep->queue_handle = NULL;
        flot_notice (WHO, "%s: %s no longer holds its targets: it starts", dep->id,
                     dep->queued_behind);
        coord_begin (self);
        coord_event (dep, -1, &flot_event_deployment_dequeued_def,
                     &(flot_event_deployment_dequeued_t) { .after = dep->queued_behind },
                     "%s no longer holds its targets: it starts", dep->queued_behind);
        *dep->queued_behind = 0;
        dep->progress_ms = coord_now ();    //  the progress deadline counts from now
        coord_deadline_watch (dep);         //  no longer queued: it can be late
        coord_save_deployment (dep);
        coord_commit (self);
    }
    for (deployment_t *dep = zlistx_first (starting); dep; dep = zlistx_next (starting))
        coord_advance (dep);
    zlistx_destroy (&starting);
    coord_pump (self);
    return 0;
}
