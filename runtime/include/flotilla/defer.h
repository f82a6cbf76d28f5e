/*  flotilla/defer.h - frees things a turn of the loop later.

    zloop may still call a timer or a poller ended earlier in the same turn
    (it checks each timer as it goes, and runs the pollers that were ready
    when the turn began). An object whose timers and pollers carry its own
    pointer must therefore outlive the turn in which it ended: give it to
    flot_defer_free instead of freeing it, and it is freed in a later turn.
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
