/*  pending.h - the broker's table of requests in flight.

    One record per request delivered to an actor and not yet answered, found
    by the caller's route and the request's correlation id. The broker adds
    and removes one for every request it routes, so the table allocates
    nothing in its steady state: records are recycled, and the index is an
    open-addressing array of slots (a record's hash and pointer) that
    grows by doubling.

    Internal to the broker; not installed.
*/
#ifndef FLOT_PENDING_H_INCLUDED
#define FLOT_PENDING_H_INCLUDED

#include "flotilla/protocol.h"

//  What a lookup and an answer read comes first, in the record's first 64
//  bytes with a short client route (the usual five bytes): a find costs one
//  cache miss, not two. The caller's key, read only for streams, comes last.
typedef struct _flot_pending_t {
    uint64_t corr;
    void *instance;             //  the broker's instance the request went to
    int64_t deadline;           //  zclock_mono
    uint64_t hash;
    struct _flot_pending_t *next_free;
    uint16_t client_size;       //  1..FLOT_MAX_ROUTE
    uint8_t version;            //  the REQUEST's protocol version: its answer's
    uint8_t client [FLOT_MAX_ROUTE];
    char key [41];              //  the caller's public key (Z85); "" without one
} flot_pending_t;

typedef struct _flot_pending_table_t flot_pending_table_t;

flot_pending_table_t *
    flot_pending_table_new (void);

void
    flot_pending_table_destroy (flot_pending_table_t **self_p);

//  Adds the request (client, corr), with its other fields zeroed. Returns
//  the record, or NULL if that request is already in the table. client_size
//  is 1..FLOT_MAX_ROUTE.
flot_pending_t *
    flot_pending_add (flot_pending_table_t *self, const uint8_t *client,
                      size_t client_size, uint64_t corr);

//  The record of (client, corr), or NULL.
flot_pending_t *
    flot_pending_find (flot_pending_table_t *self, const uint8_t *client,
                       size_t client_size, uint64_t corr);

//  Removes a record of the table; it must not be used afterwards.
void
    flot_pending_remove (flot_pending_table_t *self, flot_pending_t *record);

size_t
    flot_pending_size (flot_pending_table_t *self);

//  Every record, one after another: start with *cursor = 0; returns NULL
//  at the end. Removing records while walking may skip others: collect
//  first, then remove.
flot_pending_t *
    flot_pending_next (flot_pending_table_t *self, size_t *cursor);

#endif
