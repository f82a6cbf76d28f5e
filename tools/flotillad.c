/*  flotillad.c - the Flotilla daemon.

    With no arguments: the broker and every actor as threads of one process,
    clients served on tcp://127.0.0.1:5555, events published on
    tcp://127.0.0.1:5556. With --broker-only: only the broker. With
    --connect: only the actors named by --actors, connected to a broker that
    runs elsewhere. Stops cleanly on SIGINT and SIGTERM.

    With --supervise, in any of these modes, each part (the broker, each
    actor) runs instead as a child process: this program again, with the
    options that run that part alone, an actor connected to the broker as a
    remote one is (supervisor.c restarts them).

    Keys (SPEC 14): a broker with a key directory (--auth-dir) admits only
    its allowed keys over CURVE; one on loopback without one makes its own
    (~/.flotilla/local, readable by this user only), which flotctl run by
    the same user finds; one elsewhere without keys is refused unless
    --insecure. Actors connect with --cert and --broker-cert.
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
#include "supervisor.h"

#include <getopt.h>
#include <arpa/inet.h>

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
    const char *capacity;       //  events kept at most (--events-retain-count)
    char events_retain_age [24];    //  seconds
    char retain_age [24];       //  finished deployments: seconds...
    const char *retain_count;   //  ... and how many
    const char *store;
    const char *hooks_dir;
    const char *executor_runs;  //  the executor's record of runs; NULL: STORE-executor-runs
    const char *executor_slots; //  hooks an executor runs at once; NULL: its default
    bool store_given;           //  --store was given
    const char *auth_dir;
    const char *bind_next;
    const char *cert;
    const char *broker_cert;
    bool insecure;
    int heartbeat_ms;
    int liveness;
    bool broker_only;
    bool supervise;
    int restart_intensity;
    int restart_period;
    int verbosity;              //  -v counted, -1 for -q
    const char *program;        //  argv [0], for the children
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
"publishing events on tcp://127.0.0.1:5556, admitting only the keys it makes\n"
"for this user in ~/.flotilla/local.\n"
"\n"
"Modes:\n"
"  (none)                 embedded: broker and actors in this process\n"
"  --broker-only          run only the broker\n"
"  --connect ENDPOINT     run only actors, connected to the broker at ENDPOINT\n"
"\n"
"Supervision (the README's \"Supervision\"):\n"
"      --supervise        run the broker and each actor as a child process of\n"
"                         this one, restarting one that exits; an actor child\n"
"                         connects to the broker as a remote actor does (with\n"
"                         --auth-dir, give --cert and --broker-cert for them).\n"
"                         Each restart is logged and published as an\n"
"                         actor.restarted event\n"
"      --restart-intensity N  at most N restarts (default 5) ...\n"
"      --restart-period S     ... within S seconds (default 60); one exit more\n"
"                         stops every child and flotillad exits 1, for the\n"
"                         service manager to start it again\n"
"\n"
"Options:\n"
"  -b, --bind ENDPOINT    where the broker listens (default tcp://127.0.0.1:5555)\n"
"  -a, --actors LIST      actors to run, comma-separated, of: %s\n"
"                         (default: %s)\n"
"  -e, --events-bind EP   where the events actor publishes\n"
"                         (default tcp://127.0.0.1:5556)\n"
"      --events-public EP the event endpoint told to subscribers, if not the bound one\n"
"  -s, --store PATH       the coordinator's database (default ./flotilla.db) and,\n"
"                         beside it, PATH-events, the events' history: deployments\n"
"                         and events survive a restart through them\n"
"\n"
"Retention (the oldest go first, in small batches; AGE is a number with a unit,\n"
"s, m, h or d, e.g. 30d or 12h; 0 for an age or a count means no limit):\n"
"      --retain-age AGE   a finished deployment (completed, failed, aborted,\n"
"                         rolled back) is removed from the store, status and\n"
"                         list this long after it finished (default 30d) ...\n"
"      --retain-count N   ... or once N finished ones are newer (default 10000);\n"
"                         a running, paused or queued deployment is never removed\n"
"      --events-retain-age AGE  events older than AGE are removed from the\n"
"                         history that Replay reads (default 7d) ...\n"
"      --events-retain-count N  ... and those beyond the newest N (default\n"
"                         1000000; --events-capacity N is its older name);\n"
"                         the events of a deployment stay while it runs\n"
"\n"
"Keys (the README's \"Keys and roles\"):\n"
"      --auth-dir DIR     the broker's key directory (flotctl keys init): only\n"
"                         its allowed keys connect, over CURVE. Else\n"
"                         $FLOTILLA_AUTH_DIR, else auth-dir in the config file;\n"
"                         on loopback without one, the broker makes and uses\n"
"                         ~/.flotilla/local, which flotctl run by this user finds\n"
"      --bind-next EP     during a key rotation, where the next key is served\n"
"      --cert FILE        with --connect or --supervise: this host's key (flotctl\n"
"                         keys new), for --supervise an actor key for the\n"
"                         services run here and 'supervisor', or an admin key;\n"
"                         else $FLOTILLA_CERT, else cert in the config file\n"
"      --broker-cert FILE with --connect or --supervise: the broker's public key;\n"
"                         else $FLOTILLA_BROKER_CERT, else broker-cert in the config\n"
"      --insecure         no keys: anyone who reaches the endpoints may do\n"
"                         anything; required to listen or connect beyond\n"
"                         loopback without keys\n"
"\n"
"Other options:\n"
"      --hooks-dir DIR    the programs this host may run: a step's hook, a health\n"
"                         command probe and an analyzer command provider name a\n"
"                         file inside DIR (no absolute path, no '..'); else\n"
"                         hooks-dir in the config file; without one, no hook,\n"
"                         probe or provider command runs\n"
"      --executor-runs FILE  the executor's record of its runs, one per step\n"
"                         attempt, kept across its restarts (default: the\n"
"                         --store path with -executor-runs appended; with\n"
"                         --connect and no --store, in memory)\n"
"      --executor-slots N the hooks an executor runs at once (default 64);\n"
"                         more wait in a queue, their timeouts not running\n"
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
"start (a bad option, an endpoint in use) or, with --supervise, after the\n"
"restart limit was passed, 2 for a usage error.\n",
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

//  An age as operators write it: a number and a unit, s, m, h or d ("30d",
//  "12h"), or 0 (no limit); into out as seconds. Returns 0, or -1 (said).
static int
s_parse_age (const char *text, const char *what, char *out, size_t size)
{
    char *end = NULL;
    long long n = strtoll (text, &end, 10);
    long long unit = !end || end == text ? 0
                   : streq (end, "s") ? 1 : streq (end, "m") ? 60 : streq (end, "h") ? 3600
                   : streq (end, "d") ? 86400 : streq (end, "") && n == 0 ? 1 : 0;
    if (!unit || n < 0 || n > 36500LL * 86400 / unit) {
        fprintf (stderr, "flotillad: %s '%s' is not an age: a number and a unit, s, m, h or "
                 "d (30d, 12h), at most 36500d, or 0 for no limit\n", what, text);
        return -1;
    }
    snprintf (out, size, "%lld", n * unit);
    return 0;
}

//  Starts the listed actors as threads connected to endpoint; adds them to
//  running. Returns 0, or -1 if a name is unknown or one failed to start.
static int
s_start_actors (const options_t *opts, const char *list, const char *endpoint,
                const flot_creds_t *creds, zhash_t *actor_options, zlist_t *running)
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
            .options = actor_options,
            .creds = creds
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

//  An actor thread that stopped on its own says why on its pipe, "FAILED
//  <service>: <reason>" (the broker refused it for good, SPEC 4.1): logs it
//  and returns -1, so that flotillad exits non-zero. 0 while all run.
static int
s_actor_failed (zlist_t *running)
{
    for (zactor_t *actor = zlist_first (running); actor; actor = zlist_next (running)) {
        if (!(zsock_events (actor) & ZMQ_POLLIN))
            continue;
        char *status = zstr_recv (actor);
        flot_error (WHO, "actor %s; exiting",
                    status && !strncmp (status, "FAILED ", 7) ? status + 7 : "stopped");
        zstr_free (&status);
        return -1;
    }
    return 0;
}

//  True if endpoint reaches this host only: inproc://, ipc://, or tcp:// on a
//  loopback address (127.x.x.x, localhost, [::1]).
static bool
s_local_endpoint (const char *endpoint)
{
    if (!strncmp (endpoint, "inproc://", 9) || !strncmp (endpoint, "ipc://", 6))
        return true;
    if (strncmp (endpoint, "tcp://", 6))
        return false;
    char host [256];
    snprintf (host, sizeof host, "%s", endpoint + 6);
    char *colon = strrchr (host, ':');
    if (colon)
        *colon = 0;
    if (streq (host, "localhost") || streq (host, "[::1]"))
        return true;
    struct in_addr addr;
    return inet_pton (AF_INET, host, &addr) == 1
        && (ntohl (addr.s_addr) >> 24) == 127;
}

//  The broker's key directory into dir: --auth-dir, $FLOTILLA_AUTH_DIR, the
//  config file, or, when every endpoint is local, this user's own keys
//  (made on first start). Returns 1 with dir, 0 for none (--insecure), or
//  -1 after saying why it cannot start.
static int
s_broker_keys (const options_t *opts, char *dir, size_t size)
{
    flot_err_t err;
    const char *env = getenv ("FLOTILLA_AUTH_DIR");
    if (opts->insecure)
        return 0;
    if (opts->auth_dir || (env && *env)) {
        snprintf (dir, size, "%s", opts->auth_dir ? opts->auth_dir : env);
        return 1;
    }
    int found = flot_config_get ("auth-dir", dir, size, &err);
    if (found < 0) {
        flot_error (WHO, "%s", err.message);
        return -1;
    }
    if (found)
        return 1;
    const char *endpoints [] = { opts->bind, opts->bind_next, opts->events_bind };
    for (size_t i = 0; i < 3; i++)
        if (endpoints [i] && !s_local_endpoint (endpoints [i])) {
            flot_error (WHO, "%s reaches beyond this host and there are no keys: give the "
                        "broker a key directory (--auth-dir DIR, made by `flotctl keys "
                        "init`), or run without keys with --insecure", endpoints [i]);
            return -1;
        }
    if (flot_keys_local_ensure (dir, size, &err)) {
        flot_error (WHO, "cannot make this user's keys: %s", err.message);
        return -1;
    }
    flot_notice (WHO, "keys: %s (this user's own; flotctl run by this user uses them)", dir);
    return 1;
}

//  The key actors connect with (--connect). Returns 0 (creds->cert NULL
//  for none), or -1 after saying why it cannot start.
static int
s_actor_keys (const options_t *opts, flot_creds_t *creds)
{
    flot_err_t err;
    memset (creds, 0, sizeof *creds);
    if (opts->insecure)
        return 0;
    if (flot_creds_resolve (creds, opts->cert, opts->broker_cert, opts->connect, &err)) {
        flot_error (WHO, "%s", err.message);
        return -1;
    }
    //  The events actor serves its PUB socket with this host's key: without
    //  one, only on loopback.
    char list [300];
    snprintf (list, sizeof list, ",%s,", opts->actors);
    if (!creds->cert && strstr (list, ",events,") && !s_local_endpoint (opts->events_bind)) {
        flot_error (WHO, "the events actor would publish on %s, beyond this host, and there "
                    "is no key to serve it with: give --cert FILE and --broker-cert FILE, or "
                    "run without keys with --insecure", opts->events_bind);
        return -1;
    }
    if (!creds->cert && !s_local_endpoint (opts->connect)) {
        flot_error (WHO, "the broker at %s is beyond this host and there is no key to "
                    "connect with: give --cert FILE and --broker-cert FILE (see `flotctl "
                    "keys new`), or run without keys with --insecure", opts->connect);
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  --supervise: the same parts, as child processes

//  Where a child reaches the broker that binds endpoint: a wildcard address
//  becomes loopback.
static void
s_child_endpoint (const char *bind, char *out, size_t size)
{
    if (!strncmp (bind, "tcp://*:", 8))
        snprintf (out, size, "tcp://127.0.0.1:%s", bind + 8);
    else
    if (!strncmp (bind, "tcp://0.0.0.0:", 14))
        snprintf (out, size, "tcp://127.0.0.1:%s", bind + 14);
    else
    if (!strncmp (bind, "tcp://[::]:", 11))
        snprintf (out, size, "tcp://[::1]:%s", bind + 11);
    else
        snprintf (out, size, "%s", bind);
}

typedef struct {
    const char *argv [64];
    size_t argc;
} args_t;

static void
s_arg (args_t *args, const char *option, const char *value)
{
    assert (args->argc + 3 < sizeof args->argv / sizeof args->argv [0]);
    args->argv [args->argc++] = option;
    if (value)
        args->argv [args->argc++] = value;
    args->argv [args->argc] = NULL;
}

//  The options every child takes from us.
static void
s_args_common (const options_t *opts, args_t *args, char *heartbeat, char *liveness)
{
    if (opts->heartbeat_ms) {
        snprintf (heartbeat, 16, "%d", opts->heartbeat_ms);
        s_arg (args, "--heartbeat", heartbeat);
    }
    if (opts->liveness) {
        snprintf (liveness, 16, "%d", opts->liveness);
        s_arg (args, "--liveness", liveness);
    }
    if (opts->insecure)
        s_arg (args, "--insecure", NULL);
    if (opts->verbosity < 0)
        s_arg (args, "-q", NULL);
    for (int i = 0; i < opts->verbosity && i < 4; i++)
        s_arg (args, "-v", NULL);
}

//  The key the actor children and the supervisor connect with, into creds
//  (cert NULL: none). keys: the broker's key directory when we run the
//  broker ("" for none). Returns 0, or -1 after saying why it cannot start.
static int
s_supervise_keys (const options_t *opts, const char *endpoint, const char *keys,
                  flot_creds_t *creds)
{
    flot_err_t err;
    memset (creds, 0, sizeof *creds);
    if (opts->insecure)
        return 0;
    char local [1024] = "", cert [1100] = "", pub [1100] = "";
    const char *cert_path = opts->cert, *pub_path = opts->broker_cert;
    bool own_keys = !opts->connect && *keys
                 && flot_keys_local_path (local, sizeof local, &err) == 0
                 && streq (local, keys);
    if (own_keys && !cert_path && !pub_path) {
        //  This user's own keys: the children use its admin key, as flotctl does.
        snprintf (cert, sizeof cert, "%s/local.key", keys);
        snprintf (pub, sizeof pub, "%s/broker.pub", keys);
        cert_path = cert;
        pub_path = pub;
    }
    if (flot_creds_resolve (creds, cert_path, pub_path, endpoint, &err)) {
        flot_error (WHO, "%s", err.message);
        return -1;
    }
    //  Nothing configured on loopback resolves to this user's own keys,
    //  which a broker of another key directory does not admit.
    char own [1100];
    if (!opts->connect && *keys && !own_keys && creds->cert
    &&  flot_keys_local_path (local, sizeof local, &err) == 0
    &&  snprintf (own, sizeof own, "%s/local.key", local) > 0
    &&  streq (creds->cert_path, own))
        flot_creds_clear (creds);
    if (!creds->cert && (opts->connect || !opts->broker_only)) {
        flot_error (WHO, "--supervise: the actors connect to the broker at %s as remote actors "
                    "do, and there is no key for them: give --cert FILE (an actor key for "
                    "the services run here and 'supervisor', or an admin key) and "
                    "--broker-cert FILE, or run without keys with --insecure", endpoint);
        return -1;
    }
    return 0;
}

//  Runs the broker (unless --connect) and each actor (unless --broker-only)
//  as supervised children. Returns 0 after a clean stop, else 1.
static int
s_supervise (const options_t *opts)
{
    char endpoint [1100], keys [1024] = "";
    int rc = 0;
    if (opts->connect)
        snprintf (endpoint, sizeof endpoint, "%s", opts->connect);
    else {
        s_child_endpoint (opts->bind, endpoint, sizeof endpoint);
        int keyed = s_broker_keys (opts, keys, sizeof keys);
        if (keyed < 0)
            return 1;
        if (keyed == 0)
            *keys = 0;
    }
    flot_creds_t creds;
    if (s_supervise_keys (opts, endpoint, keys, &creds))
        return 1;
    if (opts->insecure)
        flot_warn (WHO, "running without keys (--insecure): whoever reaches %s can read, "
                   "steer and run every deployment", endpoint);
    supervisor_t *supervisor = supervisor_new (opts->restart_intensity, opts->restart_period);
    char heartbeat [16], liveness [16];
    if (!opts->connect) {
        args_t args = { .argc = 0 };
        s_arg (&args, opts->program, NULL);
        s_arg (&args, "--broker-only", NULL);
        s_arg (&args, "--bind", opts->bind);
        if (opts->auth_dir)
            s_arg (&args, "--auth-dir", opts->auth_dir);
        if (opts->bind_next)
            s_arg (&args, "--bind-next", opts->bind_next);
        s_args_common (opts, &args, heartbeat, liveness);
        supervisor_add (supervisor, "broker", (char *const *) args.argv);
    }
    //  Ages in seconds, as an age with its unit.
    char events_age [32], retain_age [32];
    snprintf (events_age, sizeof events_age, "%ss", opts->events_retain_age);
    snprintf (retain_age, sizeof retain_age, "%ss", opts->retain_age);
    if (!opts->broker_only) {
        //  In the table's order, as the threads start.
        char list [300];
        snprintf (list, sizeof list, ",%s,", opts->actors);
        for (size_t i = 0; i < ACTOR_COUNT && rc == 0; i++) {
            char item [80];
            snprintf (item, sizeof item, ",%s,", s_actors [i].name);
            if (!strstr (list, item))
                continue;
            args_t args = { .argc = 0 };
            s_arg (&args, opts->program, NULL);
            s_arg (&args, "--connect", endpoint);
            s_arg (&args, "--actors", s_actors [i].name);
            s_arg (&args, "--events-bind", opts->events_bind);
            if (opts->events_public)
                s_arg (&args, "--events-public", opts->events_public);
            s_arg (&args, "--events-retain-count", opts->capacity);
            s_arg (&args, "--events-retain-age", events_age);
            s_arg (&args, "--retain-age", retain_age);
            s_arg (&args, "--retain-count", opts->retain_count);
            s_arg (&args, "--store", opts->store);
            if (opts->hooks_dir)
                s_arg (&args, "--hooks-dir", opts->hooks_dir);
            if (opts->executor_runs)
                s_arg (&args, "--executor-runs", opts->executor_runs);
            if (opts->executor_slots)
                s_arg (&args, "--executor-slots", opts->executor_slots);
            if (opts->instance)
                s_arg (&args, "--instance", opts->instance);
            if (opts->keys)
                s_arg (&args, "--keys", opts->keys);
            if (creds.cert) {
                s_arg (&args, "--cert", creds.cert_path);
                s_arg (&args, "--broker-cert", creds.server_path);
            }
            s_args_common (opts, &args, heartbeat, liveness);
            supervisor_add (supervisor, s_actors [i].name, (char *const *) args.argv);
        }
    }
    if (creds.cert || opts->insecure)
        supervisor_set_events (supervisor, endpoint, &creds);
    else
        flot_notice (WHO, "no key to publish actor.restarted with: restarts are only logged");
    flot_notice (WHO, "%s: supervising %s%s%s as child processes (at most %d restarts "
                 "within %d s)", FLOTILLA_VERSION, opts->connect ? "" : "the broker",
                 opts->connect || opts->broker_only ? "" : " and ",
                 opts->broker_only ? "" : opts->actors, opts->restart_intensity,
                 opts->restart_period);
    rc = supervisor_run (supervisor);
    supervisor_destroy (&supervisor);
    flot_creds_clear (&creds);
    flot_notice (WHO, rc == 0 ? "stopped" : "stopped: the restart limit was passed");
    return rc == 0 ? 0 : 1;
}

static int
s_run (const options_t *opts)
{
    zhash_t *actor_options = zhash_new ();
    zhash_insert (actor_options, "pub", (void *) opts->events_bind);
    if (opts->events_public)
        zhash_insert (actor_options, "pub-public", (void *) opts->events_public);
    zhash_insert (actor_options, "events-retain-count", (void *) opts->capacity);
    zhash_insert (actor_options, "events-retain-age", (void *) opts->events_retain_age);
    zhash_insert (actor_options, "retain-age", (void *) opts->retain_age);
    zhash_insert (actor_options, "retain-count", (void *) opts->retain_count);
    zhash_insert (actor_options, "store", (void *) opts->store);
    if (opts->hooks_dir)
        zhash_insert (actor_options, "hooks-dir", (void *) opts->hooks_dir);
    //  The executor's record of runs: beside the store, unless actors
    //  connected to a broker elsewhere were given no --store (then in
    //  memory: every such process started in one directory would otherwise
    //  name the same ./flotilla.db-executor-runs).
    char executor_runs [1100];
    snprintf (executor_runs, sizeof executor_runs, "%s-executor-runs", opts->store);
    if (opts->executor_runs)
        zhash_insert (actor_options, "runs", (void *) opts->executor_runs);
    else
    if (!opts->connect || opts->store_given)
        zhash_insert (actor_options, "runs", executor_runs);
    if (opts->executor_slots)
        zhash_insert (actor_options, "slots", (void *) opts->executor_slots);
    //  The events' history lives beside the deployments, in its own file.
    char events_store [1100];
    snprintf (events_store, sizeof events_store, "%s-events", opts->store);
    zhash_insert (actor_options, "events-store", events_store);
    if (opts->insecure) {
        zhash_insert (actor_options, "pub-insecure", "1");
        flot_warn (WHO, "running without keys (--insecure): whoever reaches %s can read, "
                   "steer and run every deployment", opts->connect ? opts->connect : opts->bind);
    }

    zlist_t *running = zlist_new ();
    zactor_t *broker = NULL;
    flot_creds_t creds = { 0 };
    char keys [1024] = "", pub_cert [1100];
    int rc = 0;
    if (opts->connect) {
        rc = s_actor_keys (opts, &creds);
        if (rc == 0 && creds.cert) {
            //  The events actor serves its PUB socket with this host's key,
            //  and admits the keys the broker lists (Keys) itself.
            zhash_insert (actor_options, "pub-cert", creds.cert_path);
            zhash_insert (actor_options, "pub-zap", "own");
        }
        if (rc == 0) {
            flot_notice (WHO, "%s: actors %s for the broker at %s%s%s", FLOTILLA_VERSION,
                         opts->actors, opts->connect, creds.cert ? ", key " : "",
                         creds.cert ? creds.cert_path : "");
            rc = s_start_actors (opts, opts->actors, opts->connect, &creds,
                                 actor_options, running);
        }
    }
    else {
        int keyed = s_broker_keys (opts, keys, sizeof keys);
        rc = keyed < 0 ? -1 : 0;
        if (keyed > 0) {
            //  The events actor in this process serves its PUB socket with
            //  the broker's key; the broker's ZAP handler admits for both.
            snprintf (pub_cert, sizeof pub_cert, "%s/broker.key", keys);
            zhash_insert (actor_options, "pub-cert", pub_cert);
            zhash_insert (actor_options, "pub-zap", "shared");
        }
        const char *endpoints [] = { INPROC_BROKER, opts->bind, NULL };
        flot_broker_config_t config = {
            .endpoints = endpoints,
            .heartbeat_ms = opts->heartbeat_ms,
            .liveness = opts->liveness,
            .keys = keyed > 0 ? keys : NULL,
            .next_endpoint = opts->bind_next
        };
        if (rc == 0)
            broker = zactor_new (flot_broker_actor, &config);
        char *status = broker ? zstr_recv (broker) : NULL;
        if (rc == 0 && (!status || !streq (status, "OK"))) {
            flot_error (WHO, "the broker did not start: %s",
                        status ? status : "no status");
            rc = -1;
        }
        zstr_free (&status);
        if (rc == 0) {
            flot_notice (WHO, "%s: broker on %s%s%s", FLOTILLA_VERSION, opts->bind,
                         keyed > 0 ? " with keys" : " without keys",
                         opts->broker_only ? " (broker only)" : "");
            if (!opts->broker_only)
                rc = s_start_actors (opts, opts->actors, INPROC_BROKER, NULL,
                                     actor_options, running);
        }
    }
    if (rc == 0) {
        while (!zsys_interrupted && (rc = s_actor_failed (running)) == 0)
            zclock_sleep (100);
        flot_notice (WHO, "stopping");
    }
    s_stop_actors (running);
    zlist_destroy (&running);
    zactor_destroy (&broker);
    zhash_destroy (&actor_options);
    flot_creds_clear (&creds);
    return rc == 0 ? 0 : 1;
}

int
main (int argc, char *argv [])
{
    options_t opts = {
        .restart_intensity = 5,
        .restart_period = 60,
        .program = argv [0],
        .bind = "tcp://127.0.0.1:5555",
        .events_bind = FLOT_EVENTS_ENDPOINT,
        .capacity = "1000000",
        .events_retain_age = "604800",
        .retain_age = "2592000",
        .retain_count = "10000",
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
        { "events-retain-count", required_argument, NULL, 'C' },
        { "events-retain-age", required_argument, NULL, 1003 },
        { "retain-age", required_argument, NULL, 1004 },
        { "retain-count", required_argument, NULL, 1005 },
        { "store", required_argument, NULL, 's' },
        { "instance", required_argument, NULL, 'I' },
        { "hooks-dir", required_argument, NULL, 'D' },
        { "executor-runs", required_argument, NULL, 1001 },
        { "executor-slots", required_argument, NULL, 1002 },
        { "auth-dir", required_argument, NULL, 'A' },
        { "bind-next", required_argument, NULL, 'N' },
        { "cert", required_argument, NULL, 'E' },
        { "broker-cert", required_argument, NULL, 'R' },
        { "insecure", no_argument, NULL, 'X' },
        { "keys", required_argument, NULL, 'K' },
        { "heartbeat", required_argument, NULL, 'H' },
        { "liveness", required_argument, NULL, 'L' },
        { "broker-only", no_argument, NULL, 'B' },
        { "supervise", no_argument, NULL, 'S' },
        { "restart-intensity", required_argument, NULL, 'T' },
        { "restart-period", required_argument, NULL, 'U' },
        { "verbose", no_argument, NULL, 'v' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int c;
    bool restart_given = false;
    while ((c = getopt_long (argc, argv, "b:c:a:e:s:vqhV", longopts, NULL)) != -1) {
        switch (c) {
            case 'b': opts.bind = optarg; break;
            case 'c': opts.connect = optarg; break;
            case 'a': opts.actors = optarg; break;
            case 'e': opts.events_bind = optarg; break;
            case 'P': opts.events_public = optarg; break;
            case 'C':
                if (s_parse_int (optarg, 0, 1000000000, "--events-retain-count") < 0)
                    return 2;
                opts.capacity = optarg;
                break;
            case 1003:
                if (s_parse_age (optarg, "--events-retain-age", opts.events_retain_age,
                                 sizeof opts.events_retain_age))
                    return 2;
                break;
            case 1004:
                if (s_parse_age (optarg, "--retain-age", opts.retain_age,
                                 sizeof opts.retain_age))
                    return 2;
                break;
            case 1005:
                if (s_parse_int (optarg, 0, 100000000, "--retain-count") < 0)
                    return 2;
                opts.retain_count = optarg;
                break;
            case 'I': opts.instance = optarg; break;
            case 'D': opts.hooks_dir = optarg; break;
            case 1001: opts.executor_runs = optarg; break;
            case 1002:
                if (s_parse_int (optarg, 1, 100000, "--executor-slots") < 0)
                    return 2;
                opts.executor_slots = optarg;
                break;
            case 'A': opts.auth_dir = optarg; break;
            case 'N': opts.bind_next = optarg; break;
            case 'E': opts.cert = optarg; break;
            case 'R': opts.broker_cert = optarg; break;
            case 'X': opts.insecure = true; break;
            case 's': opts.store = optarg; opts.store_given = true; break;
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
            case 'S': opts.supervise = true; break;
            case 'T':
                if ((opts.restart_intensity = s_parse_int (optarg, 0, 1000,
                                                           "--restart-intensity")) < 0)
                    return 2;
                restart_given = true;
                break;
            case 'U':
                if ((opts.restart_period = s_parse_int (optarg, 1, 86400,
                                                        "--restart-period")) < 0)
                    return 2;
                restart_given = true;
                break;
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
    if (opts.insecure && (opts.auth_dir || opts.cert || opts.broker_cert)) {
        fprintf (stderr, "flotillad: --insecure runs without keys; drop --auth-dir, --cert "
                 "and --broker-cert, or --insecure\n");
        return 2;
    }
    if (opts.connect && (opts.auth_dir || opts.bind_next)) {
        fprintf (stderr, "flotillad: --auth-dir and --bind-next are the broker's; with "
                 "--connect, give --cert and --broker-cert\n");
        return 2;
    }
    if (!opts.connect && !opts.supervise && (opts.cert || opts.broker_cert)) {
        fprintf (stderr, "flotillad: --cert and --broker-cert are for --connect (and "
                 "--supervise); the broker's keys are in --auth-dir\n");
        return 2;
    }
    if (restart_given && !opts.supervise) {
        fprintf (stderr, "flotillad: --restart-intensity and --restart-period are for "
                 "--supervise\n");
        return 2;
    }
    if (!opts.actors)
        opts.actors = s_actor_names (true);
    //  The hooks directory may come from the config file too.
    static char hooks_dir [1024];
    flot_err_t err;
    int found = opts.hooks_dir ? 0 : flot_config_get ("hooks-dir", hooks_dir, sizeof hooks_dir, &err);
    if (found < 0) {
        fprintf (stderr, "flotillad: %s\n", err.message);
        return 2;
    }
    if (found)
        opts.hooks_dir = hooks_dir;
    flot_log_set_level (verbosity);
    opts.verbosity = verbosity == FLOT_LOG_WARN ? -1 : verbosity - FLOT_LOG_NOTICE;
    //  czmq's own handler sets zsys_interrupted on SIGINT and SIGTERM.
    zsys_init ();
    return opts.supervise ? s_supervise (&opts) : s_run (&opts);
}
