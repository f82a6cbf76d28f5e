/*  world.c - a broker and actors as threads, and a client, for tests.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "world.h"
#include "flotilla/broker.h"
#include "flotilla/json.h"

#define MAX_ACTORS 8

struct _world_t {
    zactor_t *broker;
    zactor_t *actors [MAX_ACTORS];
    size_t count;
    flot_client_t *client;
};

world_t *
world_start (const flot_actor_def_t *const *defs)
{
    world_t *self = calloc (1, sizeof *self);
    assert_non_null (self);
    //  A new endpoint each time: a closed inproc endpoint is freed later.
    static int generation = 0;
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://test-world-%d", ++generation);
    const char *endpoints [] = { endpoint, NULL };
    flot_broker_config_t config = { .endpoints = endpoints, .heartbeat_ms = 200 };
    self->broker = zactor_new (flot_broker_actor, &config);
    char *status = zstr_recv (self->broker);
    assert_string_equal (status, "OK");
    zstr_free (&status);
    flot_actor_config_t actor = { .endpoint = endpoint, .heartbeat_ms = 200 };
    for (; defs [self->count] && self->count < MAX_ACTORS; self->count++) {
        self->actors [self->count] = flot_actor_thread (defs [self->count], &actor);
        assert_non_null (self->actors [self->count]);
    }
    self->client = flot_client_new (endpoint);
    //  Registered: an unknown command is answered by the actor itself,
    //  where an unknown service is the broker's answer.
    for (size_t a = 0; a < self->count; a++) {
        bool up = false;
        for (int i = 0; i < 100 && !up; i++) {
            zframe_t *body = NULL;
            flot_err_t err;
            up = flot_client_call (self->client, defs [a]->service, NULL, "NoSuchCommand",
                                   NULL, 0, 200, &body, &err) && err.code == FLOT_E_UNKNOWN_COMMAND;
            zframe_destroy (&body);
            if (!up)
                zclock_sleep (20);
        }
        if (!up)
            fail_msg ("%s did not register", defs [a]->service);
    }
    return self;
}

void
world_stop (world_t **self_p)
{
    world_t *self = *self_p;
    if (!self)
        return;
    flot_client_destroy (&self->client);
    while (self->count)
        zactor_destroy (&self->actors [--self->count]);
    zactor_destroy (&self->broker);
    free (self);
    *self_p = NULL;
}

flot_client_t *
world_client (world_t *self)
{
    return self->client;
}

json_t *
world_call (world_t *self, const char *service, const char *key, const char *command,
            json_t *request, flot_err_t *err)
{
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    assert_int_equal (flot_json_pack (&pk, request), 0);
    json_decref (request);
    zframe_t *body = NULL;
    int rc = flot_client_call (self->client, service, key, command, sbuf.data, sbuf.size,
                               10000, &body, err);
    msgpack_sbuffer_destroy (&sbuf);
    if (rc)
        return NULL;
    flot_body_t *decoded = flot_body_decode (zframe_data (body), zframe_size (body), err);
    zframe_destroy (&body);
    assert_non_null (decoded);
    json_t *reply = flot_json_from_msgpack (flot_body_root (decoded));
    flot_body_destroy (&decoded);
    return reply;
}
