/*  supervisor.h - flotillad --supervise: the broker and the actors as child
    processes, restarted one for one (tools/supervisor.c).
*/
#ifndef FLOT_SUPERVISOR_H_INCLUDED
#define FLOT_SUPERVISOR_H_INCLUDED

#include "flotilla/client.h"

typedef struct _supervisor_t supervisor_t;

//  A supervisor that restarts a child at most intensity times within
//  period_s seconds (Erlang/OTP's intensity and period); one more exit
//  within the period stops every child.
supervisor_t *supervisor_new (int intensity, int period_s);

void supervisor_destroy (supervisor_t **self_p);

//  Adds a child: name is its service (or "broker"), argv its program and
//  arguments (copied, NULL-terminated). Children start in the order added
//  and stop in the reverse order, so add the broker first.
void supervisor_add (supervisor_t *self, const char *name, char *const argv []);

//  Publishes actor.restarted through the broker at endpoint, with creds (a
//  copy is kept; NULL or creds->cert NULL: plain). Without this, restarts
//  are only logged.
void supervisor_set_events (supervisor_t *self, const char *endpoint,
                            const flot_creds_t *creds);

//  Starts every child, restarts those that exit, until SIGINT or SIGTERM
//  (zsys_interrupted): then stops them in the reverse order and waits for
//  them. Returns 0 after such a stop, -1 if a child could not be started or
//  the restart limit was passed (every child is stopped first).
int supervisor_run (supervisor_t *self);

#endif
