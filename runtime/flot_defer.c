/*  flot_defer.c - frees things a turn of the loop later (flotilla/defer.h).

    Items wait in two generations. A repeating timer, which the loop fires
    at most once a turn, frees the older generation and makes the newer one
    older: an item given in one turn is freed at the second tick after it,
    so never in the turn it was given. The timer runs only while items wait.
*/
#include "flotilla/defer.h"

#define TICK_MS 10

struct _flot_defer_t {
    flot_loop_t *loop;
    flot_defer_free_fn *free_fn;
    zlistx_t *recent;           //  given since the last tick
    zlistx_t *older;            //  given before it: freed at the next tick
    int timer;                  //  -1 while nothing waits
};

static void
s_free_all (flot_defer_t *self, zlistx_t *list)
{
    void *item;
    while ((item = zlistx_detach (list, NULL)))
        self->free_fn (item);
}

static int
s_on_tick (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) timer_id;
    flot_defer_t *self = arg;
    s_free_all (self, self->older);
    zlistx_t *swap = self->older;
    self->older = self->recent;
    self->recent = swap;
    if (zlistx_size (self->older) == 0) {
        flot_loop_timer_end (loop, self->timer);
        self->timer = -1;
    }
    return 0;
}

flot_defer_t *
flot_defer_new (flot_loop_t *loop, flot_defer_free_fn *free_fn)
{
    assert (loop && free_fn);
    flot_defer_t *self = calloc (1, sizeof *self);
    assert (self);
    self->loop = loop;
    self->free_fn = free_fn;
    self->recent = zlistx_new ();
    self->older = zlistx_new ();
    assert (self->recent && self->older);
    self->timer = -1;
    return self;
}

void
flot_defer_destroy (flot_defer_t **self_p)
{
    flot_defer_t *self = *self_p;
    if (!self)
        return;
    if (self->timer >= 0)
        flot_loop_timer_end (self->loop, self->timer);
    s_free_all (self, self->older);
    s_free_all (self, self->recent);
    zlistx_destroy (&self->recent);
    zlistx_destroy (&self->older);
    free (self);
    *self_p = NULL;
}

void
flot_defer_free (flot_defer_t *self, void *item)
{
    assert (self);
    if (!item)
        return;
    zlistx_add_end (self->recent, item);
    if (self->timer < 0)
        self->timer = flot_loop_timer (self->loop, TICK_MS, 0, s_on_tick, self);
}
