/*  flotilla/defer.h - frees things a turn of the loop later.

    The loop never calls a timer or a poller once ended, but a handler may
    still hold an object that another handler of the same turn ends (a
    probe's result calling back into its batch, a run's requests), and an
    object some handler's argument points to must outlive the handler: give
    it to flot_defer_free instead of freeing it, and it is freed in a later
    turn.
*/
#ifndef FLOTILLA_DEFER_H_INCLUDED
#define FLOTILLA_DEFER_H_INCLUDED

#include <czmq.h>
#include <flotilla/loop.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _flot_defer_t flot_defer_t;
typedef void (flot_defer_free_fn) (void *item);

//  A new deferrer in loop, freeing items with free_fn.
flot_defer_t *
    flot_defer_new (flot_loop_t *loop, flot_defer_free_fn *free_fn);

//  Frees every item still held, now (the loop no longer runs), and itself.
void
    flot_defer_destroy (flot_defer_t **self_p);

//  Frees item in a later turn of the loop than this one.
void
    flot_defer_free (flot_defer_t *self, void *item);

#ifdef __cplusplus
}
#endif

#endif
