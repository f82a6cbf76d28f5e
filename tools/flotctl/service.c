/*  service.c - the commands about the system itself: ping, actors, call,
    strategies.

    ping and actors ask the broker (its Ping and Actors), call sends any
    command to any service with a JSON body and prints the reply as JSON,
    strategies asks the strategy service which strategies a spec may name.
*/
#include "ctl.h"
#include "flotilla/contract_broker.h"
#include "flotilla/contract_strategy.h"

//  --------------------------------------------------------------------------
//  ping

int
ctl_cmd_ping (ctl_t *self)
{
    flot_body_t *body;
    flot_err_t err;
    int64_t start = zclock_usecs ();
    if (ctl_call (self, FLOT_BROKER_SERVICE, NULL, "Ping", NULL, &body, &err))
        return ctl_report (self, FLOT_BROKER_SERVICE, "Ping", &err);
    double rtt_ms = (double) (zclock_usecs () - start) / 1000.0;
    const msgpack_object *root = flot_body_root (body);
    flot_broker_ping_reply_t reply;
    int rc = RC_OK;
    if (flot_broker_ping_reply_decode (root, flot_body_zone (body), &reply, &err)
    ||  (!reply.pong && flot_err_set (&err, FLOT_E_MALFORMED, "'pong' is false")))
        rc = ctl_bad_reply (FLOT_BROKER_SERVICE, "Ping", &err);
    else
    if (self->opts.json)
        rc = ctl_print_json (root, false);
    else
    if (reply.caller)
        printf ("pong from broker %s (up %.1f s) in %.1f ms, as %s (%s)\n",
                reply.version && *reply.version ? reply.version : "(no version)",
                (double) reply.uptime_ms / 1000.0, rtt_ms, reply.caller,
                reply.role ? reply.role : "?");
    else
        printf ("pong from broker %s (up %.1f s) in %.1f ms%s\n",
                reply.version && *reply.version ? reply.version : "(no version)",
                (double) reply.uptime_ms / 1000.0, rtt_ms,
                reply.has_secure && !reply.secure ? ", without keys" : "");
    flot_body_destroy (&body);
    return rc;
}

//  --------------------------------------------------------------------------
//  actors

#define ACTOR_COLS 9

static const char *const s_actor_headers [ACTOR_COLS] = {
    "SERVICE", "INSTANCE", "HOST", "PID", "KEYS", "UPTIME", "LAST-HB",
    "HANDLED", "PENDING"
};

//  The keys joined with commas, '-' for none, '...' when they do not fit.
static void
s_keys_cell (const flot_array_t *keys, char *buf, size_t cap)
{
    const char *const *key = keys->items;
    size_t used = 0;
    snprintf (buf, cap, "-");
    for (size_t i = 0; i < keys->count; i++) {
        int n = snprintf (buf + used, cap - used, "%s%s", i ? "," : "", key [i]);
        if (n < 0 || (size_t) n >= cap - used) {
            snprintf (buf + (cap > 4 ? cap - 4 : 0), cap > 4 ? 4 : cap, "...");
            break;
        }
        used += (size_t) n;
    }
}

//  Fills a table row from one actor of the Actors reply.
static void
s_actor_row (const flot_broker_actor_t *actor, cell_t *row)
{
    snprintf (row [0], CELL_MAX, "%s", actor->service);
    snprintf (row [1], CELL_MAX, "%s", actor->instance);
    snprintf (row [2], CELL_MAX, "%s", actor->host);
    snprintf (row [3], CELL_MAX, "%llu", (unsigned long long) actor->pid);
    s_keys_cell (&actor->keys, row [4], CELL_MAX);
    ctl_duration (actor->uptime_ms, row [5], CELL_MAX);
    ctl_duration (actor->last_heartbeat_ms, row [6], CELL_MAX);
    snprintf (row [7], CELL_MAX, "%llu", (unsigned long long) actor->handled);
    snprintf (row [8], CELL_MAX, "%llu", (unsigned long long) actor->pending);
}

static int
s_print_actors (flot_body_t *body, flot_err_t *err)
{
    flot_broker_actors_reply_t reply;
    if (flot_broker_actors_reply_decode (flot_body_root (body), flot_body_zone (body),
                                         &reply, err))
        return -1;
    const flot_broker_actor_t *actors = reply.actors.items;
    table_t table;
    if (ctl_table_init (&table, s_actor_headers, ACTOR_COLS, reply.actors.count, err))
        return -1;
    for (size_t i = 0; i < reply.actors.count; i++)
        s_actor_row (&actors [i], ctl_table_row (&table, i));
    ctl_table_print (&table, "");
    ctl_table_destroy (&table);
    return 0;
}

int
ctl_cmd_actors (ctl_t *self)
{
    flot_body_t *body;
    flot_err_t err;
    if (ctl_call (self, FLOT_BROKER_SERVICE, NULL, "Actors", NULL, &body, &err))
        return ctl_report (self, FLOT_BROKER_SERVICE, "Actors", &err);
    int rc = RC_OK;
    if (self->opts.json)
        rc = ctl_print_json (flot_body_root (body), false);
    else
    if (s_print_actors (body, &err))
        rc = ctl_bad_reply (FLOT_BROKER_SERVICE, "Actors", &err);
    flot_body_destroy (&body);
    return rc;
}

//  --------------------------------------------------------------------------
//  strategies

//  The strategy service's ListStrategies, asked with its spec key so that
//  no registered strategy's actor gets it.
int
ctl_cmd_strategies (ctl_t *self)
{
    flot_body_t *body;
    flot_err_t err;
    if (ctl_call (self, STRATEGY_SERVICE, FLOT_STRATEGY_SPEC_KEY, FLOT_STRATEGY_LIST_STRATEGIES,
                  NULL, &body, &err))
        return ctl_report (self, STRATEGY_SERVICE, "ListStrategies", &err);
    int rc = RC_OK;
    flot_strategy_list_strategies_reply_t reply;
    if (self->opts.json)
        rc = ctl_print_json (flot_body_root (body), false);
    else
    if (flot_strategy_list_strategies_reply_decode (flot_body_root (body),
                                                    flot_body_zone (body), &reply, &err))
        rc = ctl_bad_reply (STRATEGY_SERVICE, "ListStrategies", &err);
    else {
        const flot_strategy_strategy_t *items = reply.strategies.items;
        for (size_t i = 0; i < reply.strategies.count; i++) {
            ctl_put_text (stdout, items [i].name, "-");
            fputs ("  ", stdout);
            ctl_put_text (stdout, items [i].description, "-");
            fputc ('\n', stdout);
        }
    }
    flot_body_destroy (&body);
    return rc;
}

//  --------------------------------------------------------------------------
//  call

//  True if name can name a service or a command.
static bool
s_name_valid (const char *name)
{
    return flot_name_valid ((flot_bytes_t) { (const uint8_t *) name, strlen (name) });
}

//  Packs the JSON text of the command line into sbuf (caller destroys it).
static int
s_pack_json_arg (const char *text, msgpack_sbuffer *sbuf)
{
    json_error_t jerr;
    json_t *value = json_loads (text, JSON_REJECT_DUPLICATES, &jerr);
    if (!value)
        return ctl_usage_error ("the JSON body is not valid JSON: %s (line %d, "
                              "column %d)", jerr.text, jerr.line, jerr.column);
    msgpack_packer pk;
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    int rc = 0;
    if (!json_is_object (value))
        rc = ctl_usage_error ("the JSON body must be an object like "
                              "'{\"key\": 1}', not %s", json_is_array (value)
                              ? "an array" : "a single value");
    else
    if (flot_json_pack (&pk, value))
        rc = ctl_usage_error ("the JSON body is nested deeper than %d levels",
                              FLOT_MAX_DEPTH);
    else
    if (sbuf->size > FLOT_MAX_BODY)
        rc = ctl_usage_error ("the JSON body is %zu bytes as msgpack, the limit "
                              "is %d", sbuf->size, FLOT_MAX_BODY);
    json_decref (value);
    return rc;
}

int
ctl_cmd_call (ctl_t *self)
{
    const char *service = self->opts.args [1];
    const char *command = self->opts.args [2];
    const char *text = self->opts.nargs > 3 ? self->opts.args [3] : "{}";
    if (!s_name_valid (service) || !s_name_valid (command))
        return ctl_usage_error ("'%s %s': service and command names are 1..%d "
                                "of [A-Za-z0-9._-]", service, command, FLOT_MAX_NAME);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    int rc = s_pack_json_arg (text, &sbuf);
    flot_body_t *body = NULL;
    flot_err_t err;
    if (rc == 0) {
        if (ctl_call (self, service, self->opts.key, command, &sbuf, &body, &err))
            rc = ctl_report (self, service, command, &err);
        else
            rc = ctl_print_json (flot_body_root (body), !self->opts.json);
    }
    flot_body_destroy (&body);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}
