/*  health_server.h - for the health tests: a small real HTTP server on
    loopback, a thread per connection, answering every request with a
    status and body the test sets (and may change while it runs), after an
    optional delay. It records the last request and the most connections
    it served at once.  */
#ifndef HEALTH_SERVER_H_INCLUDED
#define HEALTH_SERVER_H_INCLUDED

#include <stdbool.h>

typedef struct _health_server_t health_server_t;

//  Listens on 127.0.0.1:port. NULL if the port cannot be bound.
health_server_t *health_server_new (int port);
void health_server_destroy (health_server_t **self_p);
void health_server_set (health_server_t *self, int status, const char *body, int delay_ms);
//  The last request's head (request line and headers), copied into buf.
void health_server_last (health_server_t *self, char *buf, size_t cap);
int  health_server_requests (health_server_t *self);
int  health_server_max_active (health_server_t *self);
void health_server_reset_counts (health_server_t *self);

#endif
