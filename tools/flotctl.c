/*  flotctl.c - the command-line client of Flotilla.

    Talks to a broker (flotillad) over one DEALER socket through
    flotilla/client.h and, for `events --follow`, to the events actor's PUB
    socket with a SUB socket. Commands: ping, actors, events, call. Human
    output by default, JSON (jansson, through flotilla/json.h) with --json.
    Every call is bounded by --timeout, so a dead broker is exit code 3,
    never a hang. Owns nothing beyond its own sockets.

    Layout: options and usage; calls and error reporting; one section per
    command; main.
*/
#include "flotilla/body.h"
#include "flotilla/client.h"
#include "flotilla/json.h"
#include "flotilla/version.h"

#include <errno.h>
#include <getopt.h>
#include <time.h>

#define DEFAULT_ENDPOINT    "tcp://127.0.0.1:5555"
#define DEFAULT_TIMEOUT_MS  5000
#define EVENTS_SERVICE      "events"
#define IDLE_CHECK_MS       1000        //  follow: Info after this much quiet
#define SUB_HWM             100000      //  follow: live events queued

//  Exit codes, as --help documents them.
enum {
    RC_OK = 0,              //  success
    RC_ERROR = 1,           //  the service answered with an error (or nonsense)
    RC_USAGE = 2,           //  bad command line
    RC_NO_ANSWER = 3        //  no answer in time, or a DEADLINE error
};

//  Options that only some commands take.
enum {
    OPT_FOLLOW = 1, OPT_SINCE = 2, OPT_DEPLOYMENT = 4, OPT_TYPE = 8,
    OPT_EVENTS_EP = 16, OPT_KEY = 32
};

typedef struct {
    const char *endpoint;
    const char *events_endpoint;
    const char *deployment;
    const char *type;
    const char *key;
    uint32_t timeout_ms;
    uint64_t since;
    bool json;
    unsigned given;             //  OPT_* bits seen on the command line
    char **args;                //  the command and its arguments
    int nargs;
} options_t;

typedef struct {
    options_t opts;
    flot_client_t *client;
} ctl_t;

//  The events a feed (replay or follow) has dealt with.
typedef struct {
    uint64_t covered;           //  every event up to this seq was handled
    uint64_t seen;              //  the highest seq the service has shown
    bool down;                  //  follow: the events service stopped answering
} feed_t;

//  One event, checked; strings point into its body.
typedef struct {
    const msgpack_object *map;
    uint64_t seq;
    uint64_t time_ms;
    char type [FLOT_MAX_NAME + 1];
    char deployment [256];
    const msgpack_object *target;
    const msgpack_object *message;
} event_t;

//  --------------------------------------------------------------------------
//  Options and usage

static void
s_usage (FILE *out)
{
    fprintf (out,
"Usage: flotctl [OPTIONS] COMMAND [ARGUMENTS] [OPTIONS]\n"
"\n"
"The command-line client of Flotilla: talks to the broker of flotillad over\n"
"ZeroMQ. Options may come before or after the command.\n"
"\n"
"Commands:\n"
"  ping                 ask the broker for its version and uptime, and show\n"
"                       the round trip: pong from broker 0.1.0 (up 12.3 s) in 0.4 ms\n"
"  actors               list the live actor instances, one per line: SERVICE\n"
"                       INSTANCE HOST PID KEYS UPTIME LAST-HB HANDLED PENDING\n"
"  events               print the events the events service holds, from the\n"
"                       oldest (or --since), one per line, and exit:\n"
"                         #seq time type deployment target message\n"
"                       (time in UTC, '-' for no deployment or target)\n"
"  events --follow      subscribe to the event stream and print events as they\n"
"                       come, until SIGINT or SIGTERM. Starts after the newest\n"
"                       event (or replays from --since first); replays whatever\n"
"                       the stream missed, so events come in order, each once.\n"
"                       When the stream is quiet for 1 s it asks the events\n"
"                       service for its newest seq, to catch a lost last event\n"
"                       or a restarted history. Says on stderr when it listens.\n"
"  call SERVICE COMMAND [JSON]\n"
"                       send COMMAND to SERVICE with the JSON object as its body\n"
"                       (default {}), and print the reply as indented JSON\n"
"\n"
"Options:\n"
"      --endpoint E     the broker (default $FLOTILLA_ENDPOINT, else %s)\n"
"      --timeout MS     wait at most MS for each answer, 1..%u (default %d)\n"
"      --json           machine output: each reply as one compact JSON document;\n"
"                       events as one JSON object per line\n"
"  -h, --help           this text\n"
"  -V, --version        the version\n"
"\n"
"Options of events:\n"
"  -f, --follow         keep printing live events (see above)\n"
"      --since SEQ      start at sequence number SEQ; 0 is the oldest held\n"
"      --deployment ID  only the events of deployment ID\n"
"      --type PREFIX    only the events whose type starts with PREFIX (step.)\n"
"      --events-endpoint E  with --follow: subscribe at E, not at the endpoint\n"
"                       the events service advertises\n"
"Options of call:\n"
"      --key K          routing key: an instance that claimed K answers\n"
"\n"
"Events that fail validation (frames, fields) are dropped with a warning.\n"
"\n"
"Exit status:\n"
"  0  success; for events --follow, stopped by SIGINT or SIGTERM\n"
"  1  the service answered with an error, printed on stderr as\n"
"     'flotctl: NAME (code): message', or with a reply flotctl cannot read\n"
"  2  usage error: unknown command or option, bad argument, a JSON body that\n"
"     is not valid JSON or not an object\n"
"  3  no answer in time: the broker is down or unreachable, or the deadline\n"
"     passed; a DEADLINE error reply (code 6) from the broker or a service\n"
"     also exits 3, not 1\n",
        DEFAULT_ENDPOINT, FLOT_MAX_TIMEOUT_MS, DEFAULT_TIMEOUT_MS);
}

static int
s_usage_error (const char *format, ...)
    __attribute__ ((format (printf, 1, 2)));

static int
s_usage_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "flotctl: ");
    vfprintf (stderr, format, args);
    va_end (args);
    fprintf (stderr, "\nTry 'flotctl --help'.\n");
    return RC_USAGE;
}

static int
s_parse_uint (const char *text, uint64_t min, uint64_t max, const char *what,
              uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull (text, &end, 10);
    if (!*text || *text == '-' || !end || *end || errno || v < min || v > max)
        return s_usage_error ("%s '%s' is not a number in %llu..%llu", what,
                              text, (unsigned long long) min,
                              (unsigned long long) max);
    *out = v;
    return 0;
}

static bool
s_key_valid (const char *key)
{
    size_t len = strlen (key);
    if (len < 1 || len > FLOT_MAX_KEY)
        return false;
    for (const char *c = key; *c; c++)
        if (*c < 0x21 || *c > 0x7e)
            return false;
    return true;
}

static bool
s_name_valid (const char *name)
{
    return flot_name_valid ((flot_bytes_t) { (const uint8_t *) name, strlen (name) });
}

static const struct option s_longopts [] = {
    { "endpoint", required_argument, NULL, 'e' },
    { "timeout", required_argument, NULL, 't' },
    { "json", no_argument, NULL, 'j' },
    { "follow", no_argument, NULL, 'f' },
    { "since", required_argument, NULL, 's' },
    { "deployment", required_argument, NULL, 'd' },
    { "type", required_argument, NULL, 'T' },
    { "events-endpoint", required_argument, NULL, 'E' },
    { "key", required_argument, NULL, 'k' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 }
};

//  Handles one option. Returns -1 to go on, or an exit code.
static int
s_option (options_t *opts, int c)
{
    uint64_t v;
    switch (c) {
        case 'e': opts->endpoint = optarg; return -1;
        case 'E': opts->events_endpoint = optarg; opts->given |= OPT_EVENTS_EP; return -1;
        case 'j': opts->json = true; return -1;
        case 'f': opts->given |= OPT_FOLLOW; return -1;
        case 'T': opts->type = optarg; opts->given |= OPT_TYPE; return -1;
        case 't':
            if (s_parse_uint (optarg, 1, FLOT_MAX_TIMEOUT_MS, "--timeout", &v))
                return RC_USAGE;
            opts->timeout_ms = (uint32_t) v;
            return -1;
        case 's':
            if (s_parse_uint (optarg, 0, UINT64_MAX - 1, "--since", &opts->since))
                return RC_USAGE;
            opts->given |= OPT_SINCE;
            return -1;
        case 'd':
            if (!s_name_valid (optarg) || streq (optarg, "-"))
                return s_usage_error ("--deployment '%s': a deployment id is "
                    "1..%d of [A-Za-z0-9._-], not '-'", optarg, FLOT_MAX_NAME);
            opts->deployment = optarg;
            opts->given |= OPT_DEPLOYMENT;
            return -1;
        case 'k':
            if (!s_key_valid (optarg))
                return s_usage_error ("--key '%s': a key is 1..%d printable "
                    "ASCII characters, no spaces", optarg, FLOT_MAX_KEY);
            opts->key = optarg;
            opts->given |= OPT_KEY;
            return -1;
        case 'h': s_usage (stdout); return RC_OK;
        case 'V': printf ("flotctl %s\n", FLOTILLA_VERSION); return RC_OK;
        default:
            fprintf (stderr, "Try 'flotctl --help'.\n");
            return RC_USAGE;
    }
}

//  Parses the command line into opts. Returns -1 to go on, or an exit code.
static int
s_parse (int argc, char *argv [], options_t *opts)
{
    const char *env = getenv ("FLOTILLA_ENDPOINT");
    *opts = (options_t) {
        .endpoint = env && *env ? env : DEFAULT_ENDPOINT,
        .timeout_ms = DEFAULT_TIMEOUT_MS
    };
    int c;
    //  No '+' in the option string: getopt_long permutes the arguments, so
    //  options may come after the command.
    while ((c = getopt_long (argc, argv, "fhV", s_longopts, NULL)) != -1) {
        int rc = s_option (opts, c);
        if (rc >= 0)
            return rc;
    }
    opts->args = argv + optind;
    opts->nargs = argc - optind;
    return -1;
}

//  --------------------------------------------------------------------------
//  Calls and error reporting

//  Prints why a call failed; returns the exit code for it.
static int
s_report (ctl_t *self, const char *service, const char *command,
          const flot_err_t *err)
{
    if (err->code == FLOT_E_DEADLINE) {
        fprintf (stderr, "flotctl: DEADLINE (%d): no answer from %s %s within "
                 "%u ms (broker %s): %s\n", FLOT_E_DEADLINE, service, command,
                 self->opts.timeout_ms, self->opts.endpoint, err->message);
        return RC_NO_ANSWER;
    }
    fprintf (stderr, "flotctl: %s (%d): %s\n", flot_err_name (err->code),
             err->code, err->message);
    return RC_ERROR;
}

//  Calls service/command with a msgpack request (NULL for {}). Returns 0 with
//  the decoded reply in *body_p, or -1 with err: the error reply, DEADLINE,
//  or MALFORMED for a reply that is not a body.
static int
s_call (ctl_t *self, const char *service, const char *key, const char *command,
        const msgpack_sbuffer *request, flot_body_t **body_p, flot_err_t *err)
{
    zframe_t *reply = NULL;
    *body_p = NULL;
    if (flot_client_call (self->client, service, key, command,
                          request ? request->data : NULL,
                          request ? request->size : 0,
                          self->opts.timeout_ms, &reply, err))
        return -1;
    flot_err_t local;
    *body_p = flot_body_decode (zframe_data (reply), zframe_size (reply), &local);
    zframe_destroy (&reply);
    if (!*body_p)
        return flot_err_set (err, FLOT_E_MALFORMED, "the reply of %s %s is "
                             "unreadable: %s", service, command, local.message);
    return 0;
}

//  For a reply whose fields are not what the protocol says.
static int
s_bad_reply (const char *service, const char *command, const flot_err_t *err)
{
    fprintf (stderr, "flotctl: MALFORMED (%d): the reply of %s %s: %s\n",
             FLOT_E_MALFORMED, service, command, err->message);
    return RC_ERROR;
}

//  Prints a msgpack object as JSON, pretty or on one line.
static int
s_print_json (const msgpack_object *obj, bool pretty)
{
    json_t *value = flot_json_from_msgpack (obj);
    char *text = value ? json_dumps (value, JSON_PRESERVE_ORDER | JSON_ENCODE_ANY
                                    | (pretty ? JSON_INDENT (2) : JSON_COMPACT))
                       : NULL;
    json_decref (value);
    if (!text) {
        fprintf (stderr, "flotctl: the reply cannot be shown as JSON "
                 "(nested deeper than %d levels)\n", FLOT_MAX_DEPTH);
        return RC_ERROR;
    }
    puts (text);
    fflush (stdout);
    free (text);
    return RC_OK;
}

//  --------------------------------------------------------------------------
//  ping

static int
s_cmd_ping (ctl_t *self)
{
    flot_body_t *body;
    flot_err_t err;
    int64_t start = zclock_usecs ();
    if (s_call (self, FLOT_BROKER_SERVICE, NULL, "Ping", NULL, &body, &err))
        return s_report (self, FLOT_BROKER_SERVICE, "Ping", &err);
    double rtt_ms = (double) (zclock_usecs () - start) / 1000.0;
    const msgpack_object *root = flot_body_root (body);
    bool pong = false;
    char version [64] = "";
    uint64_t uptime_ms = 0;
    int rc = RC_OK;
    if (flot_map_bool (root, "pong", true, &pong, &err) < 0
    ||  flot_map_str (root, "version", false, version, sizeof version, &err) < 0
    ||  flot_map_uint (root, "uptime_ms", false, 0, UINT64_MAX, &uptime_ms, &err) < 0
    ||  (!pong && flot_err_set (&err, FLOT_E_MALFORMED, "'pong' is false")))
        rc = s_bad_reply (FLOT_BROKER_SERVICE, "Ping", &err);
    else
    if (self->opts.json)
        rc = s_print_json (root, false);
    else
        printf ("pong from broker %s (up %.1f s) in %.1f ms\n",
                *version ? version : "(no version)",
                (double) uptime_ms / 1000.0, rtt_ms);
    flot_body_destroy (&body);
    return rc;
}

//  --------------------------------------------------------------------------
//  actors

#define ACTOR_COLS 9
#define CELL_MAX 128

typedef char row_t [ACTOR_COLS][CELL_MAX];

static const char *s_actor_headers [ACTOR_COLS] = {
    "SERVICE", "INSTANCE", "HOST", "PID", "KEYS", "UPTIME", "LAST-HB",
    "HANDLED", "PENDING"
};

//  A duration for people: 850ms, 12.3s, 5m03s, 2h05m, 3d04h.
static void
s_duration (uint64_t ms, char *buf, size_t cap)
{
    uint64_t s = ms / 1000;
    if (ms < 1000)
        snprintf (buf, cap, "%llums", (unsigned long long) ms);
    else
    if (s < 60)
        snprintf (buf, cap, "%.1fs", (double) ms / 1000.0);
    else
    if (s < 3600)
        snprintf (buf, cap, "%llum%02llus", (unsigned long long) s / 60,
                  (unsigned long long) s % 60);
    else
    if (s < 86400)
        snprintf (buf, cap, "%lluh%02llum", (unsigned long long) s / 3600,
                  (unsigned long long) (s % 3600) / 60);
    else
        snprintf (buf, cap, "%llud%02lluh", (unsigned long long) s / 86400,
                  (unsigned long long) (s % 86400) / 3600);
}

//  The keys joined with commas, '-' for none, '...' when they do not fit.
static int
s_keys_cell (const msgpack_object *keys, char *buf, size_t cap, flot_err_t *err)
{
    size_t used = 0;
    snprintf (buf, cap, "-");
    for (uint32_t i = 0; keys && i < keys->via.array.size; i++) {
        char key [FLOT_MAX_KEY + 1];
        if (flot_obj_str (&keys->via.array.ptr [i], key, sizeof key))
            return flot_err_set (err, FLOT_E_MALFORMED, "a key is not a string");
        int n = snprintf (buf + used, cap - used, "%s%s", i ? "," : "", key);
        if (n < 0 || (size_t) n >= cap - used) {
            snprintf (buf + (cap > 4 ? cap - 4 : 0), cap > 4 ? 4 : cap, "...");
            break;
        }
        used += (size_t) n;
    }
    return 0;
}

//  Fills a table row from one map of the Actors reply.
static int
s_actor_row (const msgpack_object *actor, row_t row, flot_err_t *err)
{
    uint64_t pid, uptime, last_hb, handled, pending;
    const msgpack_object *keys = NULL;
    if (flot_map_str (actor, "service", true, row [0], CELL_MAX, err) < 0
    ||  flot_map_str (actor, "instance", true, row [1], CELL_MAX, err) < 0
    ||  flot_map_str (actor, "host", true, row [2], CELL_MAX, err) < 0
    ||  flot_map_uint (actor, "pid", true, 0, UINT64_MAX, &pid, err) < 0
    ||  flot_map_object (actor, "keys", false, MSGPACK_OBJECT_ARRAY, &keys, err) < 0
    ||  flot_map_uint (actor, "uptime_ms", true, 0, UINT64_MAX, &uptime, err) < 0
    ||  flot_map_uint (actor, "last_heartbeat_ms", true, 0, UINT64_MAX, &last_hb, err) < 0
    ||  flot_map_uint (actor, "handled", true, 0, UINT64_MAX, &handled, err) < 0
    ||  flot_map_uint (actor, "pending", true, 0, UINT64_MAX, &pending, err) < 0
    ||  s_keys_cell (keys, row [4], CELL_MAX, err) < 0)
        return -1;
    snprintf (row [3], CELL_MAX, "%llu", (unsigned long long) pid);
    s_duration (uptime, row [5], CELL_MAX);
    s_duration (last_hb, row [6], CELL_MAX);
    snprintf (row [7], CELL_MAX, "%llu", (unsigned long long) handled);
    snprintf (row [8], CELL_MAX, "%llu", (unsigned long long) pending);
    return 0;
}

static void
s_print_row (const size_t *width, const char *const *cells)
{
    for (int c = 0; c < ACTOR_COLS - 1; c++)
        printf ("%-*s  ", (int) width [c], cells [c]);
    printf ("%s\n", cells [ACTOR_COLS - 1]);
}

static void
s_print_table (row_t *rows, size_t count)
{
    size_t width [ACTOR_COLS];
    for (int c = 0; c < ACTOR_COLS; c++) {
        width [c] = strlen (s_actor_headers [c]);
        for (size_t r = 0; r < count; r++)
            width [c] = MAX (width [c], strlen (rows [r][c]));
    }
    s_print_row (width, s_actor_headers);
    for (size_t r = 0; r < count; r++) {
        const char *cells [ACTOR_COLS];
        for (int c = 0; c < ACTOR_COLS; c++)
            cells [c] = rows [r][c];
        s_print_row (width, cells);
    }
}

static int
s_print_actors (const msgpack_object *root, flot_err_t *err)
{
    const msgpack_object *actors;
    if (flot_map_object (root, "actors", true, MSGPACK_OBJECT_ARRAY, &actors, err) < 0)
        return -1;
    size_t count = actors->via.array.size;
    row_t *rows = calloc (count ? count : 1, sizeof (row_t));
    if (!rows)
        return flot_err_set (err, FLOT_E_INTERNAL, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++)
        if (actors->via.array.ptr [i].type != MSGPACK_OBJECT_MAP)
            rc = flot_err_set (err, FLOT_E_MALFORMED, "actor %zu is not a map", i);
        else
            rc = s_actor_row (&actors->via.array.ptr [i], rows [i], err);
    if (rc == 0)
        s_print_table (rows, count);
    free (rows);
    return rc;
}

static int
s_cmd_actors (ctl_t *self)
{
    flot_body_t *body;
    flot_err_t err;
    if (s_call (self, FLOT_BROKER_SERVICE, NULL, "Actors", NULL, &body, &err))
        return s_report (self, FLOT_BROKER_SERVICE, "Actors", &err);
    int rc = RC_OK;
    if (self->opts.json)
        rc = s_print_json (flot_body_root (body), false);
    else
    if (s_print_actors (flot_body_root (body), &err))
        rc = s_bad_reply (FLOT_BROKER_SERVICE, "Actors", &err);
    flot_body_destroy (&body);
    return rc;
}

//  --------------------------------------------------------------------------
//  events: reading and printing one event

//  Checks an event map (section 11.1 of the spec) into event.
static int
s_event_parse (const msgpack_object *map, event_t *event, flot_err_t *err)
{
    memset (event, 0, sizeof *event);
    event->map = map;
    if (map->type != MSGPACK_OBJECT_MAP)
        return flot_err_set (err, FLOT_E_MALFORMED, "the event is not a map");
    if (flot_map_uint (map, "seq", true, 1, UINT64_MAX - 1, &event->seq, err) < 0
    ||  flot_map_uint (map, "time_ms", true, 0, UINT64_MAX, &event->time_ms, err) < 0
    ||  flot_map_str (map, "type", true, event->type, sizeof event->type, err) < 0
    ||  flot_map_str (map, "deployment", true, event->deployment,
                      sizeof event->deployment, err) < 0)
        return -1;
    if (!*event->type)
        return flot_err_set (err, FLOT_E_MALFORMED, "field 'type' is empty");
    event->target = flot_map_get (map, "target");
    event->message = flot_map_get (map, "message");
    if ((event->target && event->target->type != MSGPACK_OBJECT_STR)
    ||  (event->message && event->message->type != MSGPACK_OBJECT_STR))
        return flot_err_set (err, FLOT_E_MALFORMED,
                             "field 'target' or 'message' is not a string");
    return 0;
}

//  Prints a string field on one line: control characters become '?'.
static void
s_print_field (const msgpack_object *str, const char *none)
{
    if (!str || str->via.str.size == 0) {
        fputs (none, stdout);
        return;
    }
    for (uint32_t i = 0; i < str->via.str.size; i++) {
        unsigned char c = (unsigned char) str->via.str.ptr [i];
        putchar (c < 0x20 || c == 0x7f ? '?' : c);
    }
}

static void
s_print_event (ctl_t *self, const event_t *event)
{
    const char *prefix = self->opts.type;
    if (prefix && strncmp (event->type, prefix, strlen (prefix)) != 0)
        return;
    if (self->opts.json) {
        s_print_json (event->map, false);
        return;
    }
    char when [64];
    time_t secs = (time_t) (event->time_ms / 1000);
    struct tm tm;
    size_t n = gmtime_r (&secs, &tm)
             ? strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm) : 0;
    snprintf (when + n, sizeof when - n, ".%03uZ", (unsigned) (event->time_ms % 1000));
    printf ("#%llu %s %s %s ", (unsigned long long) event->seq, when, event->type,
            *event->deployment ? event->deployment : "-");
    s_print_field (event->target, "-");
    if (event->message && event->message->via.str.size) {
        putchar (' ');
        s_print_field (event->message, "");
    }
    putchar ('\n');
    fflush (stdout);
}

//  --------------------------------------------------------------------------
//  events: Replay and Info

typedef struct {
    uint64_t oldest, last, next;
    bool more;
} page_t;

//  Handles one Replay reply: prints its events above feed->covered.
static int
s_replay_page (ctl_t *self, feed_t *feed, const msgpack_object *root,
               page_t *page, flot_err_t *err)
{
    const msgpack_object *events;
    *page = (page_t) { 0 };
    if (flot_map_object (root, "events", true, MSGPACK_OBJECT_ARRAY, &events, err) < 0
    ||  flot_map_uint (root, "oldest", true, 0, UINT64_MAX, &page->oldest, err) < 0
    ||  flot_map_uint (root, "last", true, 0, UINT64_MAX, &page->last, err) < 0
    ||  flot_map_bool (root, "more", true, &page->more, err) < 0)
        return -1;
    for (uint32_t i = 0; i < events->via.array.size; i++) {
        event_t event;
        flot_err_t bad;
        if (s_event_parse (&events->via.array.ptr [i], &event, &bad)) {
            fprintf (stderr, "flotctl: warning: dropped a replayed event: %s\n",
                     bad.message);
            continue;
        }
        page->next = MAX (page->next, event.seq + 1);
        if (event.seq > feed->covered) {
            s_print_event (self, &event);
            feed->covered = event.seq;
        }
    }
    return 0;
}

static void
s_pack_replay (msgpack_sbuffer *sbuf, uint64_t since, const char *deployment)
{
    msgpack_packer pk;
    msgpack_sbuffer_init (sbuf);
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, deployment ? 2 : 1);
    flot_pack_kv_uint (&pk, "since", since);
    if (deployment)
        flot_pack_kv_str (&pk, "deployment", deployment);
}

//  Replays from since, page by page, printing what is above feed->covered.
//  Afterwards every event up to the history's last seq is covered.
static int
s_replay (ctl_t *self, feed_t *feed, uint64_t since, flot_err_t *err)
{
    for (bool first = true; ; first = false) {
        msgpack_sbuffer sbuf;
        s_pack_replay (&sbuf, since, self->opts.deployment);
        flot_body_t *body;
        int rc = s_call (self, EVENTS_SERVICE, NULL, "Replay", &sbuf, &body, err);
        msgpack_sbuffer_destroy (&sbuf);
        page_t page;
        flot_err_t local;
        if (rc == 0 && s_replay_page (self, feed, flot_body_root (body), &page, &local))
            rc = flot_err_set (err, FLOT_E_MALFORMED, "the reply of events "
                               "Replay: %s", local.message);
        flot_body_destroy (&body);
        if (rc)
            return rc;
        if (first && since > 0 && since < page.oldest)
            fprintf (stderr, "flotctl: warning: events %llu..%llu are no longer "
                     "held\n", (unsigned long long) since,
                     (unsigned long long) page.oldest - 1);
        feed->seen = MAX (feed->seen, page.last);
        if (!page.more) {
            feed->covered = MAX (feed->covered, page.last);
            return 0;
        }
        if (page.next <= since)
            return flot_err_set (err, FLOT_E_MALFORMED,
                "Replay says there is more after %llu but returned nothing",
                (unsigned long long) since);
        since = page.next;
    }
}

//  Asks the events service for its PUB endpoint and last seq.
static int
s_events_info (ctl_t *self, char *pub, size_t cap, uint64_t *last,
               flot_err_t *err)
{
    flot_body_t *body;
    if (s_call (self, EVENTS_SERVICE, NULL, "Info", NULL, &body, err))
        return -1;
    const msgpack_object *root = flot_body_root (body);
    flot_err_t local;
    int rc = 0;
    if (flot_map_str (root, "pub", true, pub, cap, &local) < 0
    ||  flot_map_uint (root, "last", true, 0, UINT64_MAX, last, &local) < 0)
        rc = flot_err_set (err, FLOT_E_MALFORMED, "the reply of events Info: %s",
                           local.message);
    flot_body_destroy (&body);
    return rc;
}

//  --------------------------------------------------------------------------
//  events --follow

//  Checks a PUB message: [topic][FLOT01][body], the topic matching the
//  event. Returns the body (event points into it), or NULL with err.
static flot_body_t *
s_live_decode (zmsg_t *msg, event_t *event, flot_err_t *err)
{
    if (zmsg_size (msg) != 3) {
        flot_err_set (err, FLOT_E_MALFORMED, "%zu frames, expected 3",
                      zmsg_size (msg));
        return NULL;
    }
    zframe_t *topic = zmsg_first (msg);
    zframe_t *signature = zmsg_next (msg);
    zframe_t *data = zmsg_next (msg);
    if (!zframe_streq (signature, FLOT_SIGNATURE)) {
        flot_err_set (err, FLOT_E_VERSION, "frame 1 is not %s", FLOT_SIGNATURE);
        return NULL;
    }
    flot_body_t *body = flot_body_decode (zframe_data (data), zframe_size (data), err);
    if (body && s_event_parse (flot_body_root (body), event, err))
        flot_body_destroy (&body);
    if (!body)
        return NULL;
    char expected [sizeof event->deployment + sizeof event->type + 2];
    snprintf (expected, sizeof expected, "%s/%s",
              *event->deployment ? event->deployment : "-", event->type);
    if (!zframe_streq (topic, expected)) {
        flot_err_set (err, FLOT_E_MALFORMED, "event %llu has topic '%.*s', "
                      "expected '%s'", (unsigned long long) event->seq,
                      (int) MIN (zframe_size (topic), 200),
                      (const char *) zframe_data (topic), expected);
        flot_body_destroy (&body);
    }
    return body;
}

//  A live event: replay a gap before it, print it unless already printed.
static void
s_live_event (ctl_t *self, feed_t *feed, zmsg_t *msg)
{
    event_t event;
    flot_err_t err;
    flot_body_t *body = s_live_decode (msg, &event, &err);
    if (!body) {
        fprintf (stderr, "flotctl: warning: dropped a malformed event: %s\n",
                 err.message);
        return;
    }
    feed->seen = MAX (feed->seen, event.seq);
    if (event.seq > feed->covered + 1
    &&  s_replay (self, feed, feed->covered + 1, &err)) {
        s_report (self, EVENTS_SERVICE, "Replay", &err);
        fprintf (stderr, "flotctl: warning: events %llu..%llu may be missing\n",
                 (unsigned long long) feed->covered + 1,
                 (unsigned long long) event.seq - 1);
    }
    if (event.seq > feed->covered) {
        s_print_event (self, &event);
        feed->covered = event.seq;
    }
    flot_body_destroy (&body);
}

//  While quiet: catch up with events the stream lost, notice a new history.
static void
s_idle_check (ctl_t *self, feed_t *feed)
{
    char pub [256];
    uint64_t last;
    flot_err_t err;
    const char *command = "Info";
    int rc = s_events_info (self, pub, sizeof pub, &last, &err);
    if (rc == 0 && last < feed->seen) {
        fprintf (stderr, "flotctl: warning: the event history was reset (last "
                 "seq %llu, had seen %llu); following it from its start\n",
                 (unsigned long long) last, (unsigned long long) feed->seen);
        feed->covered = feed->seen = 0;
    }
    if (rc == 0 && last > feed->covered) {
        command = "Replay";
        rc = s_replay (self, feed, feed->covered ? feed->covered + 1 : 0, &err);
    }
    if (rc && !feed->down) {
        s_report (self, EVENTS_SERVICE, command, &err);
        fprintf (stderr, "flotctl: warning: still listening on the stream\n");
    }
    else
    if (rc == 0 && feed->down)
        fprintf (stderr, "flotctl: the events service answers again\n");
    feed->down = rc != 0;
}

static zsock_t *
s_subscribe (const char *endpoint, const char *deployment)
{
    zsock_t *sub = zsock_new (ZMQ_SUB);
    if (!sub)
        return NULL;
    zsock_set_linger (sub, 0);
    zsock_set_rcvhwm (sub, SUB_HWM);
    zsock_set_maxmsgsize (sub, FLOT_MAX_MESSAGE);
    char prefix [FLOT_MAX_NAME + 2] = "";
    if (deployment)
        snprintf (prefix, sizeof prefix, "%s/", deployment);
    zsock_set_subscribe (sub, prefix);
    if (zsock_connect (sub, "%s", endpoint))
        zsock_destroy (&sub);
    return sub;
}

static int
s_follow_loop (ctl_t *self, feed_t *feed, zsock_t *sub)
{
    zmq_pollitem_t item = { zsock_resolve (sub), 0, ZMQ_POLLIN, 0 };
    while (!zsys_interrupted) {
        int n = zmq_poll (&item, 1, IDLE_CHECK_MS);
        if (n < 0 && errno != EINTR) {
            fprintf (stderr, "flotctl: cannot read events: %s\n",
                     zmq_strerror (errno));
            return RC_ERROR;
        }
        if (n == 0)
            s_idle_check (self, feed);
        else
        if (n > 0) {
            zmsg_t *msg = zmsg_recv (sub);
            if (msg)
                s_live_event (self, feed, msg);
            zmsg_destroy (&msg);
        }
    }
    return RC_OK;
}

static int
s_events_follow (ctl_t *self)
{
    char pub [256];
    uint64_t last;
    flot_err_t err;
    if (s_events_info (self, pub, sizeof pub, &last, &err))
        return s_report (self, EVENTS_SERVICE, "Info", &err);
    const char *endpoint = self->opts.events_endpoint ? self->opts.events_endpoint : pub;
    zsock_t *sub = s_subscribe (endpoint, self->opts.deployment);
    if (!sub) {
        fprintf (stderr, "flotctl: cannot subscribe to events at '%s'\n", endpoint);
        return self->opts.events_endpoint ? RC_USAGE : RC_ERROR;
    }
    //  Subscribed first, then replay: nothing falls between the two.
    bool since = self->opts.given & OPT_SINCE;
    feed_t feed = {
        .covered = since ? (self->opts.since ? self->opts.since - 1 : 0) : last,
        .seen = last
    };
    int rc = s_replay (self, &feed, since ? self->opts.since : last + 1, &err);
    if (rc)
        rc = s_report (self, EVENTS_SERVICE, "Replay", &err);
    else {
        fprintf (stderr, "flotctl: following events on %s after #%llu\n",
                 endpoint, (unsigned long long) feed.covered);
        rc = s_follow_loop (self, &feed, sub);
    }
    zsock_destroy (&sub);
    return rc;
}

//  --------------------------------------------------------------------------
//  events

static int
s_cmd_events (ctl_t *self)
{
    if (self->opts.given & OPT_FOLLOW)
        return s_events_follow (self);
    if (self->opts.given & OPT_EVENTS_EP)
        return s_usage_error ("--events-endpoint works only with --follow");
    uint64_t since = self->opts.since;
    feed_t feed = { .covered = since ? since - 1 : 0 };
    flot_err_t err;
    if (s_replay (self, &feed, since, &err))
        return s_report (self, EVENTS_SERVICE, "Replay", &err);
    return RC_OK;
}

//  --------------------------------------------------------------------------
//  call

//  Packs the JSON text of the command line into sbuf (caller destroys it).
static int
s_pack_json_arg (const char *text, msgpack_sbuffer *sbuf)
{
    json_error_t jerr;
    json_t *value = json_loads (text, JSON_REJECT_DUPLICATES, &jerr);
    if (!value)
        return s_usage_error ("the JSON body is not valid JSON: %s (line %d, "
                              "column %d)", jerr.text, jerr.line, jerr.column);
    msgpack_packer pk;
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    int rc = 0;
    if (!json_is_object (value))
        rc = s_usage_error ("the JSON body must be an object like "
                            "'{\"key\": 1}', not %s", json_is_array (value)
                            ? "an array" : "a single value");
    else
    if (flot_json_pack (&pk, value))
        rc = s_usage_error ("the JSON body is nested deeper than %d levels",
                            FLOT_MAX_DEPTH);
    else
    if (sbuf->size > FLOT_MAX_BODY)
        rc = s_usage_error ("the JSON body is %zu bytes as msgpack, the limit "
                            "is %d", sbuf->size, FLOT_MAX_BODY);
    json_decref (value);
    return rc;
}

static int
s_cmd_call (ctl_t *self)
{
    const char *service = self->opts.args [1];
    const char *command = self->opts.args [2];
    const char *text = self->opts.nargs > 3 ? self->opts.args [3] : "{}";
    if (!s_name_valid (service) || !s_name_valid (command))
        return s_usage_error ("'%s %s': service and command names are 1..%d "
                              "of [A-Za-z0-9._-]", service, command, FLOT_MAX_NAME);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    int rc = s_pack_json_arg (text, &sbuf);
    flot_body_t *body = NULL;
    flot_err_t err;
    if (rc == 0) {
        if (s_call (self, service, self->opts.key, command, &sbuf, &body, &err))
            rc = s_report (self, service, command, &err);
        else
            rc = s_print_json (flot_body_root (body), !self->opts.json);
    }
    flot_body_destroy (&body);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}

//  --------------------------------------------------------------------------
//  main

typedef struct {
    const char *name;
    int (*run) (ctl_t *self);
    int min_args, max_args;     //  after the command's name
    unsigned options;           //  the OPT_* it takes
    const char *synopsis;
} command_t;

static const command_t s_commands [] = {
    { "ping", s_cmd_ping, 0, 0, 0, "ping" },
    { "actors", s_cmd_actors, 0, 0, 0, "actors" },
    { "events", s_cmd_events, 0, 0,
      OPT_FOLLOW | OPT_SINCE | OPT_DEPLOYMENT | OPT_TYPE | OPT_EVENTS_EP,
      "events [--follow] [--since SEQ] [--deployment ID] [--type PREFIX]" },
    { "call", s_cmd_call, 2, 3, OPT_KEY, "call SERVICE COMMAND [JSON] [--key K]" },
    { NULL, NULL, 0, 0, 0, NULL }
};

static const struct { unsigned bit; const char *name; } s_option_names [] = {
    { OPT_FOLLOW, "--follow" }, { OPT_SINCE, "--since" },
    { OPT_DEPLOYMENT, "--deployment" }, { OPT_TYPE, "--type" },
    { OPT_EVENTS_EP, "--events-endpoint" }, { OPT_KEY, "--key" }, { 0, NULL }
};

//  Finds the command and checks its arguments and options; NULL on error.
static const command_t *
s_command (const options_t *opts)
{
    if (opts->nargs == 0) {
        s_usage_error ("no command given (ping, actors, events, call)");
        return NULL;
    }
    const command_t *cmd = s_commands;
    while (cmd->name && !streq (cmd->name, opts->args [0]))
        cmd++;
    if (!cmd->name) {
        s_usage_error ("unknown command '%s' (ping, actors, events, call)",
                       opts->args [0]);
        return NULL;
    }
    int nargs = opts->nargs - 1;
    if (nargs < cmd->min_args || nargs > cmd->max_args) {
        s_usage_error ("%s arguments for '%s'; usage: flotctl %s",
                       nargs < cmd->min_args ? "missing" : "too many",
                       cmd->name, cmd->synopsis);
        return NULL;
    }
    for (int i = 0; s_option_names [i].name; i++)
        if ((opts->given & s_option_names [i].bit) & ~cmd->options) {
            s_usage_error ("%s does not apply to '%s'; usage: flotctl %s",
                           s_option_names [i].name, cmd->name, cmd->synopsis);
            return NULL;
        }
    return cmd;
}

int
main (int argc, char *argv [])
{
    ctl_t self = { .client = NULL };
    int rc = s_parse (argc, argv, &self.opts);
    if (rc >= 0)
        return rc;
    const command_t *cmd = s_command (&self.opts);
    if (!cmd)
        return RC_USAGE;
    self.client = flot_client_new (self.opts.endpoint);
    if (!self.client)
        return s_usage_error ("cannot use broker endpoint '%s': %s",
                              self.opts.endpoint, zmq_strerror (zmq_errno ()));
    rc = cmd->run (&self);
    flot_client_destroy (&self.client);
    return rc;
}
