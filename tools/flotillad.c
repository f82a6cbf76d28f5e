/*  flotillad.c - the Flotilla daemon.

    With no arguments: the broker and every actor as threads of one process,
    clients served on tcp://127.0.0.1:5555, events published on
    tcp://127.0.0.1:5556. With --broker-only: only the broker. With
    --connect: only the actors named by --actors, connected to a broker that
    runs elsewhere. Stops cleanly on SIGINT and SIGTERM.
*/
#include "flotilla/actor.h"
#include "analysis.h"
#include "flotilla/broker.h"
#include "coordinator.h"
#include "echo.h"
#include "events.h"
#include "executor.h"
#include "health.h"
#include "flotilla/log.h"
#include "rollback.h"
#include "strategy.h"
#include "flotilla/version.h"

#include <getopt.h>

#define WHO "flotillad"
#define INPROC_BROKER "inproc://flotilla-broker"

static const struct {
    const char *name;
    const flot_actor_def_t *def;
    bool embedded;              //  started by default in the embedded mode
} s_actors [] = {
    //  In this order: the coordinator last, so that the services it calls
    //  are there when it resumes deployments.
    { "events", &flot_events_actor, true },
    { "strategy", &flot_strategy_actor, true },
    { "executor", &flot_executor_actor, true },
    { "health", &flot_health_actor, true },
    { "analyzer", &flot_analyzer_actor, true },
    { "rollback", &flot_rollback_actor, true },
    { "coordinator", &flot_coordinator_actor, true },
    { "echo", &flot_echo_actor, false },
};
#define ACTOR_COUNT (sizeof s_actors / sizeof s_actors [0])

typedef struct {
    const char *bind;
    const char *connect;
    const char *actors;
    const char *events_bind;
    const char *events_public;
    const char *instance;
    const char *keys;
    const char *capacity;
    const char *store;
    int heartbeat_ms;
    int liveness;
    bool broker_only;
} options_t;

//  The actors' names, comma-separated: all, or those started by default.
static const char *
s_actor_names (bool defaults_only)
{
    static char all [256], defaults [256];
    char *list = defaults_only ? defaults : all;
    if (!*list)
        for (size_t i = 0; i < ACTOR_COUNT; i++)
            if (!defaults_only || s_actors [i].embedded) {
                size_t used = strlen (list);
                snprintf (list + used, 256 - used, "%s%s", used ? "," : "", s_actors [i].name);
            }
    return list;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
"Usage: flotillad [OPTIONS]\n"
"\n"
"Runs Flotilla. With no options, the broker and the default actors (%s)\n"
"run as threads of this process, serving clients on tcp://127.0.0.1:5555 and\n"
"publishing events on tcp://127.0.0.1:5556.\n"
"\n"
"Modes:\n"
"  (none)                 embedded: broker and actors in this process\n"
"  --broker-only          run only the broker\n"
"  --connect ENDPOINT     run only actors, connected to the broker at ENDPOINT\n"
"\n"
"Options:\n"
"  -b, --bind ENDPOINT    where the broker listens (default tcp://127.0.0.1:5555)\n"
"  -a, --actors LIST      actors to run, comma-separated, of: %s\n"
"                         (default: %s)\n"
"  -e, --events-bind EP   where the events actor publishes\n"
"                         (default tcp://127.0.0.1:5556)\n"
"      --events-public EP the event endpoint told to subscribers, if not the bound one\n"
"      --events-capacity N  events kept for replay (default 10000)\n"
"  -s, --store PATH       the coordinator's database (default ./flotilla.db) and,\n"
"                         beside it, PATH-events, the events' history: deployments\n"
"                         and events survive a restart through them\n"
"      --instance NAME    instance name the actors register with\n"
"      --keys LIST        routing keys the actors claim, comma-separated\n"
"      --heartbeat MS     heartbeat interval (default %d)\n"
"      --liveness N       missed heartbeats before a peer is dead (default %d)\n"
"  -v, --verbose          more log lines (repeat for debug)\n"
"  -q, --quiet            only warnings and errors\n"
"  -h, --help             this text\n"
"  -V, --version          the version\n"
"\n"
"Exit status: 0 after a clean stop (SIGINT, SIGTERM), 1 if it could not\n"
"start (a bad option, an endpoint in use), 2 for a usage error.\n",
        s_actor_names (true), s_actor_names (false), s_actor_names (true),
        FLOT_HEARTBEAT_MS, FLOT_LIVENESS);
}

static int
s_parse_int (const char *text, int min, int max, const char *what)
{
    char *end = NULL;
    long v = strtol (text, &end, 10);
    if (!end || *end || v < min || v > max) {
        fprintf (stderr, "flotillad: %s '%s' is not a number in %d..%d\n",
                 what, text, min, max);
        return -1;
    }
    return (int) v;
}

//  Starts the listed actors as threads connected to endpoint; adds them to
//  running. Returns 0, or -1 if a name is unknown or one failed to start.
static int
s_start_actors (const options_t *opts, const char *list, const char *endpoint,
                zhash_t *actor_options, zlist_t *running)
{
    //  Which actors the list names; then start them in the table's order.
    bool wanted [ACTOR_COUNT] = { false };
    char *copy = strdup (list);
    char *save = NULL;
    int rc = 0;
    for (char *name = strtok_r (copy, ",", &save); name; name = strtok_r (NULL, ",", &save)) {
        size_t i;
        for (i = 0; i < ACTOR_COUNT; i++)
            if (streq (s_actors [i].name, name))
                break;
        if (i == ACTOR_COUNT) {
            flot_error (WHO, "unknown actor '%s' (known: %s)", name, s_actor_names (false));
            rc = -1;
        }
        else
            wanted [i] = true;
    }
    free (copy);
    for (size_t i = 0; i < ACTOR_COUNT && rc == 0; i++) {
        if (!wanted [i])
            continue;
        flot_actor_config_t config = {
            .endpoint = endpoint,
            .instance = opts->instance,
            .keys = opts->keys,
            .heartbeat_ms = opts->heartbeat_ms,
            .liveness = opts->liveness,
            .options = actor_options
        };
        zactor_t *actor = flot_actor_thread (s_actors [i].def, &config);
        if (!actor) {
            flot_error (WHO, "actor '%s' did not start", s_actors [i].name);
            rc = -1;
        }
        else
            zlist_push (running, actor);
    }
    return rc;
}

static void
s_stop_actors (zlist_t *running)
{
    //  Started ones were pushed at the head: last started, first stopped.
    zactor_t *actor;
    while ((actor = zlist_pop (running)))
        zactor_destroy (&actor);
}

static int
s_run (const options_t *opts)
{
    zhash_t *actor_options = zhash_new ();
    zhash_insert (actor_options, "pub", (void *) opts->events_bind);
    if (opts->events_public)
        zhash_insert (actor_options, "pub-public", (void *) opts->events_public);
    zhash_insert (actor_options, "capacity", (void *) opts->capacity);
    zhash_insert (actor_options, "store", (void *) opts->store);
    //  The events' history lives beside the deployments, in its own file.
    char events_store [1100];
    snprintf (events_store, sizeof events_store, "%s-events", opts->store);
    zhash_insert (actor_options, "events-store", events_store);

    zlist_t *running = zlist_new ();
    zactor_t *broker = NULL;
    int rc = 0;
    if (opts->connect) {
        flot_notice (WHO, "%s: actors %s for the broker at %s",
                     FLOTILLA_VERSION, opts->actors, opts->connect);
        rc = s_start_actors (opts, opts->actors, opts->connect, actor_options, running);
    }
    else {
        const char *endpoints [] = { opts->bind, INPROC_BROKER, NULL };
        flot_broker_config_t config = {
            .endpoints = endpoints,
            .heartbeat_ms = opts->heartbeat_ms,
            .liveness = opts->liveness
        };
        broker = zactor_new (flot_broker_actor, &config);
        char *status = broker ? zstr_recv (broker) : NULL;
        if (!status || !streq (status, "OK")) {
            flot_error (WHO, "the broker did not start: %s",
                        status ? status : "no status");
            rc = -1;
        }
        zstr_free (&status);
        if (rc == 0) {
            flot_notice (WHO, "%s: broker on %s%s", FLOTILLA_VERSION, opts->bind,
                         opts->broker_only ? " (broker only)" : "");
            if (!opts->broker_only)
                rc = s_start_actors (opts, opts->actors, INPROC_BROKER,
                                     actor_options, running);
        }
    }
    if (rc == 0) {
        while (!zsys_interrupted)
            zclock_sleep (100);
        flot_notice (WHO, "stopping");
    }
    s_stop_actors (running);
    zlist_destroy (&running);
    zactor_destroy (&broker);
    zhash_destroy (&actor_options);
    return rc == 0 ? 0 : 1;
}

int
main (int argc, char *argv [])
{
    options_t opts = {
        .bind = "tcp://127.0.0.1:5555",
        .events_bind = FLOT_EVENTS_ENDPOINT,
        .capacity = "10000",
        .store = "flotilla.db",
    };
    int verbosity = FLOT_LOG_NOTICE;
    static const struct option longopts [] = {
        { "bind", required_argument, NULL, 'b' },
        { "connect", required_argument, NULL, 'c' },
        { "actors", required_argument, NULL, 'a' },
        { "events-bind", required_argument, NULL, 'e' },
        { "events-public", required_argument, NULL, 'P' },
        { "events-capacity", required_argument, NULL, 'C' },
        { "store", required_argument, NULL, 's' },
        { "instance", required_argument, NULL, 'I' },
        { "keys", required_argument, NULL, 'K' },
        { "heartbeat", required_argument, NULL, 'H' },
        { "liveness", required_argument, NULL, 'L' },
        { "broker-only", no_argument, NULL, 'B' },
        { "verbose", no_argument, NULL, 'v' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int c;
    while ((c = getopt_long (argc, argv, "b:c:a:e:s:vqhV", longopts, NULL)) != -1) {
        switch (c) {
            case 'b': opts.bind = optarg; break;
            case 'c': opts.connect = optarg; break;
            case 'a': opts.actors = optarg; break;
            case 'e': opts.events_bind = optarg; break;
            case 'P': opts.events_public = optarg; break;
            case 'C':
                if (s_parse_int (optarg, 1, 10000000, "--events-capacity") < 0)
                    return 2;
                opts.capacity = optarg;
                break;
            case 'I': opts.instance = optarg; break;
            case 's': opts.store = optarg; break;
            case 'K': opts.keys = optarg; break;
            case 'H':
                if ((opts.heartbeat_ms = s_parse_int (optarg, 10, 600000, "--heartbeat")) < 0)
                    return 2;
                break;
            case 'L':
                if ((opts.liveness = s_parse_int (optarg, 1, 100, "--liveness")) < 0)
                    return 2;
                break;
            case 'B': opts.broker_only = true; break;
            case 'v': verbosity++; break;
            case 'q': verbosity = FLOT_LOG_WARN; break;
            case 'h': s_usage (stdout); return 0;
            case 'V': printf ("flotillad %s\n", FLOTILLA_VERSION); return 0;
            default:
                fprintf (stderr, "Try 'flotillad --help'.\n");
                return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "flotillad: unexpected argument '%s'\nTry 'flotillad --help'.\n",
                 argv [optind]);
        return 2;
    }
    if (opts.broker_only && opts.connect) {
        fprintf (stderr, "flotillad: --broker-only and --connect exclude each other\n");
        return 2;
    }
    if (opts.broker_only && opts.actors) {
        fprintf (stderr, "flotillad: --broker-only runs no actors; drop --actors\n");
        return 2;
    }
    if (!opts.actors)
        opts.actors = s_actor_names (true);
    flot_log_set_level (verbosity);
    //  czmq's own handler sets zsys_interrupted on SIGINT and SIGTERM.
    zsys_init ();
    return s_run (&opts);
}
