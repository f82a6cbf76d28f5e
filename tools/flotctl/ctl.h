/*  ctl.h - what the files of flotctl share.

    flotctl is the command-line client of Flotilla: one file per group of
    commands (service.c, events.c, spec.c, deployments.c, watch.c,
    analyzer.c, keys.c), main.c for the command line, and for every command
    ctl.c (connecting, calls and error reporting) and output.c (tables,
    text, times, JSON).
    This header holds the state of a run (ctl_t, its options), the exit
    codes, and the functions one file gives the others. A command is a
    function int (ctl_t *self) that returns the exit code.
*/
#ifndef FLOTCTL_CTL_H_INCLUDED
#define FLOTCTL_CTL_H_INCLUDED

#include "flotilla/body.h"
#include "flotilla/client.h"
#include "flotilla/contract_analyzer.h"
#include "flotilla/contract_coordinator.h"
#include "flotilla/json.h"
#include "flotilla/keys.h"
#include "flotilla/resolved.h"
#include "flotilla/subscriber.h"

#define EVENTS_SERVICE      "events"
#define STRATEGY_SERVICE    "strategy"
#define COORDINATOR_SERVICE "coordinator"
#define ANALYZER_SERVICE    "analyzer"
#define IDLE_CHECK_MS       1000        //  follow, watch: Info after this much quiet

//  Exit codes, as --help documents them.
enum {
    RC_OK = 0,              //  success
    RC_ERROR = 1,           //  the service answered with an error (or nonsense)
    RC_USAGE = 2,           //  bad command line
    RC_NO_ANSWER = 3,       //  no answer in time, or a DEADLINE error
    RC_PAUSE = 4,           //  analyze: the analysis asks a person to decide
    RC_SKIPPED = 4          //  watch: completed, with skipped targets
};

//  Options that only some commands take.
enum {
    OPT_FOLLOW = 1, OPT_SINCE = 2, OPT_DEPLOYMENT = 4, OPT_TYPE = 8,
    OPT_EVENTS_EP = 16, OPT_KEY = 32, OPT_FILE = 64, OPT_DRY_RUN = 128,
    OPT_WATCH = 256, OPT_FULL = 512, OPT_REASON = 1024, OPT_TARGET = 2048,
    OPT_ROLE = 4096, OPT_VERSION_ARG = 8192, OPT_DIR = 16384, OPT_SERVICES = 32768,
    OPT_TARGETS = 65536, OPT_OUT = 131072, OPT_NAME = 262144, OPT_FINISH = 524288,
    OPT_CERT = 1048576,         //  --cert or --broker-cert: every command but keys
    OPT_NO_CHECK = 2097152,     //  plan, apply: no hook check
    OPT_QUEUE = 1u << 25,       //  apply: wait behind a deployment that holds a target
    OPT_REPLACE = 1u << 26,     //  apply: abort it first
    OPT_STEP = 1u << 27,        //  logs: one step
    OPT_ALL = 1u << 28,         //  status, plan: every target
    OPT_OFFSET = 1u << 29,      //  status, list: from this index on
    OPT_LIMIT = 1u << 30        //  status, list: this many at most
};
#define OPT_PAGE (1u << 31)     //  status, list, plan: items asked for per call

typedef struct {
    const char *endpoint;
    const char *events_endpoint;
    const char *deployment;
    const char *type;
    const char *key;
    const char *file;           //  plan, apply: the spec file
    const char *reason;         //  abort
    const char *target;         //  analyze, metrics push, retry, skip, logs
    const char *step;           //  logs
    const char *role;           //  metrics push; keys new and allow
    const char *cert;           //  --cert: our key pair (flot_creds_resolve)
    const char *broker_cert;    //  --broker-cert: the broker's public key
    const char *dir;            //  keys: the key directory
    const char *services;       //  keys new, allow: an actor key's services
    const char *targets;        //  keys new, allow: an actor key's routing keys
    const char *out;            //  keys new: the secret's file; create: BASE
    const char *name;           //  keys allow: the key's name
    const char *version;        //  analyze: --version V
    bool timeout_given;         //  analyze: --timeout overrides its own
    uint32_t timeout_ms;
    uint64_t since;
    uint64_t offset;            //  --offset
    uint64_t limit;             //  --limit
    uint64_t page;              //  --page
    bool json;
    bool file_mode;             //  -f is --file (plan, apply), not --follow
    unsigned given;             //  OPT_* bits seen on the command line
    char **args;                //  the command and its arguments
    int nargs;
} options_t;

typedef struct {
    options_t opts;
    flot_client_t *client;
    flot_creds_t creds;         //  what the client connected with
    char endpoint [1024];       //  the endpoint, when the config file gives it
    bool watching;              //  events are printed for watch
    char outcome [FLOT_MAX_NAME + 1];   //  watch: the last deployment.* or
                                        //  rollback.* event's type
} ctl_t;

//  --------------------------------------------------------------------------
//  ctl.c: connecting, calls and error reporting

//  Connects self->client to the broker: the endpoint from --endpoint, else
//  $FLOTILLA_ENDPOINT, else the config file's, else default; credentials
//  from --cert and --broker-cert, their environment variables and the config
//  file (flot_creds_resolve). Returns -1 to go on, or the exit code.
int
    ctl_connect (ctl_t *self, const char *default_endpoint);

//  Closes the client and forgets the credentials.
void
    ctl_disconnect (ctl_t *self);

//  Calls service/command with a msgpack request (NULL for {}). Returns 0 with
//  the decoded reply in *body_p, or -1 with err: the error reply, DEADLINE,
//  or MALFORMED for a reply that is not a body.
int
    ctl_call (ctl_t *self, const char *service, const char *key, const char *command,
              const msgpack_sbuffer *request, flot_body_t **body_p, flot_err_t *err);

//  Calls coordinator command with {"id": id} (coordinator ID).
int
    ctl_call_id (ctl_t *self, const char *command, const char *id,
                 flot_body_t **body_p, flot_err_t *err);

//  Prints why a call failed; returns the exit code for it.
int
    ctl_report (ctl_t *self, const char *service, const char *command,
                const flot_err_t *err);

//  For a reply whose fields are not what the protocol says: prints it;
//  returns RC_ERROR.
int
    ctl_bad_reply (const char *service, const char *command, const flot_err_t *err);

//  Prints 'flotctl: ' and the sentence on stderr; returns rc.
int
    ctl_fail (int rc, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  Prints 'flotctl: ', the sentence and where to find help on stderr;
//  returns RC_USAGE.
int
    ctl_usage_error (const char *format, ...)
    __attribute__ ((format (printf, 1, 2)));

//  True if id can name a deployment (and the topic of its events).
bool
    ctl_id_valid (const char *id);

//  The usage error for a bad deployment id; what: "" for an argument,
//  "--deployment " for the option.
int
    ctl_id_usage_error (const char *what, const char *id);

//  --------------------------------------------------------------------------
//  output.c: tables, text, times and JSON

#define CELL_MAX 128

typedef char cell_t [CELL_MAX];

//  Rows of cells under column headers, printed in aligned columns.
typedef struct {
    const char *const *headers;
    int cols;
    size_t rows;
    cell_t *cells;              //  rows * cols, row after row
} table_t;

int
    ctl_table_init (table_t *self, const char *const *headers, int cols,
                    size_t rows, flot_err_t *err);
void
    ctl_table_destroy (table_t *self);
cell_t *
    ctl_table_row (table_t *self, size_t row);
//  The headers, then every row, each line after indent.
void
    ctl_table_print (table_t *self, const char *indent);

//  One line of cells, two spaces apart, the last one not padded.
void
    ctl_print_cells (const char *indent, const size_t *width, int cols,
                     const char *const *cells);
//  Widens width (cols entries) to fit a line of cells.
void
    ctl_fit_cells (size_t *width, int cols, const char *const *cells);
//  Copies text into a cell, cut short with "..." if it does not fit.
void
    ctl_cell (cell_t cell, const char *text);

//  Prints text on stdout on one line, control characters as '?', padded to
//  width.
void
    ctl_put_cell (const char *text, size_t width);
//  Prints a string on one line: control characters become '?'; none if it
//  is empty.
void
    ctl_put_text (FILE *out, const char *text, const char *none);
//  Appends to the NUL-terminated line, cutting what does not fit.
void
    ctl_append (char *line, size_t cap, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  A duration for people: 850ms, 12.3s, 5m03s, 2h05m, 3d04h.
void
    ctl_duration (uint64_t ms, char *buf, size_t cap);
//  A Unix time in milliseconds, in UTC: 2024-05-01T12:00:03.123Z, or with
//  !date 12:00:03.123Z; "-" for 0 (never).
void
    ctl_utc (uint64_t ms, bool date, char *buf, size_t cap);

//  Prints a msgpack object as JSON, pretty or on one line; returns the exit
//  code.
int
    ctl_print_json (const msgpack_object *obj, bool pretty);

//  --------------------------------------------------------------------------
//  pages.c: replies in pages (SPEC section 18.1), joined into one

//  What a reply's `page` says; paged false for a reply without one (the
//  whole answer).
typedef struct {
    bool paged;
    uint64_t offset, total;
    bool more, cut;
    uint64_t next_offset;       //  when more
    char next_after [FLOT_MAX_ID + 1];  //  a List page's cursor, when more; "" if none
} page_t;

//  The pages of one answer, as they came.
typedef struct {
    flot_body_t **bodies;
    size_t count, capacity;
    char *bytes;                //  the joined reply's msgpack
    msgpack_unpacked joined;
} pages_t;

void
    ctl_pages_init (pages_t *self);
void
    ctl_pages_clear (pages_t *self);
//  Keeps a page's body (taking it); -1 when out of memory.
int
    ctl_pages_add (pages_t *self, flot_body_t **body_p);
//  Reads the `page` of page_owner (a reply, or a map within one): 0, or -1
//  with err if it is not what SPEC 18.1 says.
int
    ctl_page_of (const msgpack_object *page_owner, page_t *page, flot_err_t *err);
#define CTL_PAGE_AFTER UINT64_MAX
//  As ctl_page_of, for a page asked from offset (CTL_PAGE_AFTER: by a
//  cursor, from where its own offset says) that holds held items (named
//  items in the error): -1 also if it says the next starts elsewhere.
int
    ctl_page_next (const msgpack_object *page_owner, uint64_t offset, uint64_t held,
                   const char *items, page_t *page, flot_err_t *err);
//  The pages joined into one reply: the arrays named in lists (NULL-ended)
//  concatenated, at the top and within the maps named in nested; NULL with
//  err on failure. Valid until the next join or clear.
const msgpack_object *
    ctl_pages_join (pages_t *self, const char *const *lists, const char *const *nested,
                    flot_err_t *err);
//  The zone to decode the joined reply into.
msgpack_zone *
    ctl_pages_zone (pages_t *self);

//  --------------------------------------------------------------------------
//  The commands, and what their files give each other

//  service.c
int ctl_cmd_ping (ctl_t *self);
int ctl_cmd_actors (ctl_t *self);
int ctl_cmd_call (ctl_t *self);
int ctl_cmd_strategies (ctl_t *self);

//  events.c
int ctl_cmd_events (ctl_t *self);

//  A subscriber of the events service for this run: --events-endpoint,
//  --deployment and --type, its calls bounded by --timeout. NULL if out of
//  memory.
flot_subscriber_t *
    ctl_subscriber_new (ctl_t *self, uint64_t since);

//  Deals with an item of a subscriber: prints an event, says on stderr that
//  it went live or what news of the feed it brings. Returns -1 to go on, or
//  for FAILED the exit code.
int
    ctl_feed (ctl_t *self, flot_subscriber_t *sub, const flot_subscriber_item_t *item);

//  Deals with the items of a new subscriber until it is live, or (replay
//  only) at its end: what came before is not cut short. Returns -1 once it
//  is live, or the exit code.
int
    ctl_feed_replay (ctl_t *self, flot_subscriber_t *sub);

//  spec.c
int ctl_cmd_plan (ctl_t *self);
int ctl_cmd_apply (ctl_t *self);

//  The spec of --file as the strategy service resolves it (Validate first,
//  for every error): the model a deployment of it would run on. Returns
//  -1 with *spec_p, or an exit code.
int
    ctl_spec_resolve (ctl_t *self, flot_spec_t **spec_p);

//  deployments.c
int ctl_cmd_status (ctl_t *self);
int ctl_cmd_list (ctl_t *self);
int ctl_cmd_pause (ctl_t *self);
int ctl_cmd_resume (ctl_t *self);
int ctl_cmd_promote (ctl_t *self);
int ctl_cmd_abort (ctl_t *self);
int ctl_cmd_retry (ctl_t *self);
int ctl_cmd_logs (ctl_t *self);
int ctl_cmd_skip (ctl_t *self);
int ctl_cmd_rollback (ctl_t *self);

#define TARGET_COLS 8

//  A GetStatus reply, decoded into its body's zone.
typedef flot_coordinator_get_status_reply_t status_t;

//  The reply's targets.
#define STATUS_TARGETS(status) ((const flot_coordinator_target_t *) (status)->targets.items)

int
    ctl_status_parse (flot_body_t *body, status_t *status, flot_err_t *err);
//  One target of a GetStatus reply as a row of TARGET_COLS; '-' for what it
//  lacks.
void
    ctl_target_row (const flot_coordinator_target_t *target, cell_t *row);

//  watch.c
int ctl_cmd_watch (ctl_t *self);

//  Watches deployment id until it ends. Returns the exit code.
int
    ctl_watch (ctl_t *self, const char *id);

//  keys.c: the key directory, no broker
int ctl_cmd_keys (ctl_t *self);

//  flotctl keys --help.
void
    ctl_keys_usage (FILE *out);

//  analyzer.c
int ctl_cmd_analyze (ctl_t *self);
int ctl_cmd_metrics (ctl_t *self);

//  An analysis result (analyzer RESULT): each metric, the score and the
//  recommendation, each line after indent.
void
    ctl_print_analysis (const flot_analyzer_result_t *result, const char *indent);

#endif
