/*  ctl.c - flotctl's connection, calls and error reporting.

    ctl_connect finds the broker's endpoint and the credentials to connect
    with (flotilla/keys.h: options, environment, config file, the embedded
    daemon's own keys on loopback). Every command calls services through
    ctl_call (bounded by --timeout) and says what went wrong the same way:
    ctl_report for a failed call (DEADLINE is exit code 3, any other error
    1; a broker that never answered gets a hint about keys), ctl_bad_reply
    for a reply that is not what the protocol says, ctl_fail and
    ctl_usage_error for the rest; ctl_id_valid checks a deployment id given
    on the command line.
*/
#include "ctl.h"

int
ctl_connect (ctl_t *self, const char *default_endpoint)
{
    flot_err_t err;
    if (!self->opts.endpoint) {
        const char *env = getenv ("FLOTILLA_ENDPOINT");
        int found = env && *env ? 0
                  : flot_config_get ("endpoint", self->endpoint, sizeof self->endpoint, &err);
        if (found < 0)
            return ctl_usage_error ("%s", err.message);
        self->opts.endpoint = env && *env ? env : found ? self->endpoint : default_endpoint;
    }
    if (flot_creds_resolve (&self->creds, self->opts.cert, self->opts.broker_cert,
                            self->opts.endpoint, &err))
        return ctl_usage_error ("%s", err.message);
    self->client = flot_client_new_secure (self->opts.endpoint, &self->creds);
    if (!self->client)
        return ctl_usage_error ("cannot use broker endpoint '%s': %s",
                                self->opts.endpoint, zmq_strerror (zmq_errno ()));
    return -1;
}

void
ctl_disconnect (ctl_t *self)
{
    flot_client_destroy (&self->client);
    flot_creds_clear (&self->creds);
}

int
ctl_usage_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "flotctl: ");
    vfprintf (stderr, format, args);
    va_end (args);
    fprintf (stderr, "\nTry 'flotctl --help'.\n");
    return RC_USAGE;
}

//  True if id can name a deployment (and the topic of its events): a spec
//  name, '-' and a number, so 1..FLOT_MAX_ID of [A-Za-z0-9._-], but not
//  "-", which stands for no deployment in topics.
bool
ctl_id_valid (const char *id)
{
    size_t len = strlen (id);
    return len >= 1 && len <= FLOT_MAX_ID && !streq (id, "-")
        && strspn (id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       "0123456789._-") == len;
}

//  what: "" for an argument, "--deployment " for the option.
int
ctl_id_usage_error (const char *what, const char *id)
{
    return ctl_usage_error ("%s'%s' is not a deployment id: 1..%d of [A-Za-z0-9._-], "
                            "not '-'", what, id, FLOT_MAX_ID);
}

//  Prints why a call failed; returns the exit code for it.
int
ctl_report (ctl_t *self, const char *service, const char *command,
            const flot_err_t *err)
{
    if (err->code == FLOT_E_DEADLINE
    &&  strncmp (err->message, FLOT_LINK_DROPPED, strlen (FLOT_LINK_DROPPED)) == 0) {
        fprintf (stderr, "flotctl: DEADLINE (%d): no answer from %s %s (broker %s): "
                 "%s\n", FLOT_E_DEADLINE, service, command, self->opts.endpoint,
                 err->message);
        return RC_NO_ANSWER;
    }
    if (err->code == FLOT_E_DEADLINE && self->client
    &&  !flot_client_answered (self->client)) {
        //  Nothing ever came: no broker there, or the CURVE handshake failed.
        fprintf (stderr, "flotctl: DEADLINE (%d): no answer from %s within %u ms (%s %s): "
                 "is flotillad running, and ", FLOT_E_DEADLINE, self->opts.endpoint,
                 self->opts.timeout_ms, service, command);
        if (self->creds.cert)
            fprintf (stderr, "is this key allowed there (--cert %s, --broker-cert %s)?\n",
                     self->creds.cert_path, self->creds.server_path);
        else
            fprintf (stderr, "does it want a key (--cert, --broker-cert)?\n");
        return RC_NO_ANSWER;
    }
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
int
ctl_call (ctl_t *self, const char *service, const char *key, const char *command,
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
int
ctl_bad_reply (const char *service, const char *command, const flot_err_t *err)
{
    fprintf (stderr, "flotctl: MALFORMED (%d): the reply of %s %s: %s\n",
             FLOT_E_MALFORMED, service, command, err->message);
    return RC_ERROR;
}

//  Prints 'flotctl: ' and the sentence on stderr; returns rc.
int
ctl_fail (int rc, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "flotctl: ");
    vfprintf (stderr, format, args);
    va_end (args);
    fputc ('\n', stderr);
    return rc;
}

//  Calls coordinator command with {"id": id} (coordinator ID).
int
ctl_call_id (ctl_t *self, const char *command, const char *id,
             flot_body_t **body_p, flot_err_t *err)
{
    flot_coordinator_id_t request = { .id = id };
    msgpack_sbuffer sbuf;
    flot_encode_sbuf (&flot_coordinator_id_def, &request, &sbuf);
    int rc = ctl_call (self, COORDINATOR_SERVICE, NULL, command, &sbuf, body_p, err);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}
