/*  flotilla/subscriber.h - the event stream of a Flotilla system, in order.

    A subscriber reads the events of the events service (protocol/SPEC.md
    section 11) for a client program: it subscribes to the service's PUB
    socket, checks each event against the events contract, replays through
    the service's Replay whatever the stream missed (a gap in the seqs, the
    events published before it subscribed), asks the service's Info when
    the stream is quiet to catch a lost last event or a history that began
    again, and hands the events in order of seq, each once.

    It is pulled: flot_subscriber_next hands one item at a time, an event or
    news of the feed (an event dropped, events lost, the service down). It
    prints nothing: what to say of each item is the caller's. It uses the
    caller's client for its calls and owns only its SUB socket.

    When the events service's socket is a CURVE server (Info gives its
    public_key, SPEC 11.4), the SUB socket connects as a CURVE client with
    the key the client connected with (flot_client_creds), or the one
    flot_subscriber_set_creds gives; with none, FAILED says the stream
    needs a key. A key revoked while it subscribes stops receiving: the
    service binds its socket again, and only allowed keys get back in;
    the others replay the gap that this makes.

        flot_subscriber_t *sub = flot_subscriber_new (client, NULL,
            FLOT_SUBSCRIBER_NEWEST, NULL, NULL);
        while (!zsys_interrupted) {
            const flot_subscriber_item_t *item = flot_subscriber_next (sub, 1000);
            if (item && item->kind == FLOT_SUBSCRIBER_EVENT)
                printf ("#%llu %s\n", (unsigned long long) item->event->seq,
                        item->event->type);
            else
            if (item && item->kind == FLOT_SUBSCRIBER_FAILED)
                break;
        }
        flot_subscriber_destroy (&sub);
*/
#ifndef FLOTILLA_SUBSCRIBER_H_INCLUDED
#define FLOTILLA_SUBSCRIBER_H_INCLUDED

#include "flotilla/client.h"
#include "flotilla/contract_events.h"

#ifdef __cplusplus
extern "C" {
#endif

//  since: start after the newest event the service holds (replay nothing).
#define FLOT_SUBSCRIBER_NEWEST      UINT64_MAX
//  The default wait for each call to the events service, and the default
//  quiet after which the subscriber asks Info on its own.
#define FLOT_SUBSCRIBER_TIMEOUT_MS  5000
#define FLOT_SUBSCRIBER_IDLE_MS     1000

typedef struct _flot_subscriber_t flot_subscriber_t;

//  What flot_subscriber_next hands.
typedef enum {
    FLOT_SUBSCRIBER_EVENT = 1,  //  event, map: the next event, in order, once
    FLOT_SUBSCRIBER_LIVE,       //  the replay from since is done: every event up
                                //  to seq `to` was handed; the rest come as they
                                //  are published
    FLOT_SUBSCRIBER_END,        //  replay only: every event held was handed
    FLOT_SUBSCRIBER_DROPPED,    //  an event the events contract refuses (frames,
                                //  topic, fields) was dropped; err says why
    FLOT_SUBSCRIBER_LOST,       //  events from..to are no longer held: they
                                //  will not come
    FLOT_SUBSCRIBER_MISSING,    //  replaying a gap failed (command, err): events
                                //  from..to may be missing
    FLOT_SUBSCRIBER_RESET,      //  the history began again: the service's last
                                //  seq is from, after `to` had been seen; it is
                                //  followed from its start
    FLOT_SUBSCRIBER_DOWN,       //  the events service stopped answering (command,
                                //  err); the stream is still read
    FLOT_SUBSCRIBER_UP,         //  the events service answers again
    FLOT_SUBSCRIBER_FAILED      //  the subscriber cannot go on, and every later
                                //  call says so again: a call failed before it
                                //  went live (command, err), or with command
                                //  NULL the PUB socket: err INVALID (it cannot
                                //  subscribe at endpoint), NOT_AUTHORIZED (the
                                //  stream needs a key, and the subscriber has
                                //  none) or INTERNAL
} flot_subscriber_kind_t;

//  An item, valid until the next call of flot_subscriber_next or destroy.
typedef struct {
    flot_subscriber_kind_t kind;
    const flot_events_event_t *event;   //  EVENT: checked by the events contract
    const msgpack_object *map;          //  EVENT: the event's map as received
    uint64_t from, to;                  //  LIVE, LOST, MISSING, RESET
    const char *command;                //  MISSING, DOWN, FAILED: "Info" or
                                        //  "Replay" (the events service's)
    flot_err_t err;                     //  DROPPED, MISSING, DOWN, FAILED
} flot_subscriber_item_t;

//  A subscriber of client's events service (client must outlive it).
//  endpoint: the PUB socket to subscribe at, NULL for the one the service's
//  Info advertises (given, it is taken for the same socket reached at
//  another address: Info's public_key still applies). since: the first seq to hand (0: the oldest held), or
//  FLOT_SUBSCRIBER_NEWEST. deployment: only that deployment's events (the
//  topic "<id>/"), NULL for all. type: only the events whose type starts
//  with it, NULL for all. Nothing is sent before the first
//  flot_subscriber_next. Returns NULL if out of memory.
flot_subscriber_t *
    flot_subscriber_new (flot_client_t *client, const char *endpoint, uint64_t since,
                         const char *deployment, const char *type);

void
    flot_subscriber_destroy (flot_subscriber_t **self_p);

//  How long each call to the events service may take (default
//  FLOT_SUBSCRIBER_TIMEOUT_MS).
void
    flot_subscriber_set_timeout (flot_subscriber_t *self, uint32_t timeout_ms);

//  Ask Info once the stream has been quiet for idle_ms (default
//  FLOT_SUBSCRIBER_IDLE_MS); 0: only when flot_subscriber_check says so.
void
    flot_subscriber_set_idle (flot_subscriber_t *self, uint32_t idle_ms);

//  The key the SUB socket connects with to a CURVE PUB socket (creds is
//  copied; NULL, or a cert NULL: none), in place of the client's. Before the
//  first flot_subscriber_next. Returns 0, or -1 if out of memory.
int
    flot_subscriber_set_creds (flot_subscriber_t *self, const flot_creds_t *creds);

//  Hand the events held from since, then END: no Info, no PUB socket (since
//  FLOT_SUBSCRIBER_NEWEST: END at once).
void
    flot_subscriber_set_replay_only (flot_subscriber_t *self);

//  Ask the events service for its newest seq at the next call of
//  flot_subscriber_next: catch up with an event the stream lost, notice a
//  history that began again.
void
    flot_subscriber_check (flot_subscriber_t *self);

//  The next item. Replays and Info calls are made as the items need them,
//  each bounded by the timeout; the stream is waited on for at most
//  timeout_ms (-1: until an item comes). Returns NULL if nothing came in
//  that time, or if a signal interrupted the wait.
const flot_subscriber_item_t *
    flot_subscriber_next (flot_subscriber_t *self, int timeout_ms);

//  The PUB endpoint: as given, or once Info has advertised it; else NULL.
const char *
    flot_subscriber_endpoint (flot_subscriber_t *self);

#ifdef __cplusplus
}
#endif

#endif
