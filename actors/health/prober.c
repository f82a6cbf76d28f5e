/*  prober.c - runs health probes concurrently from one flot_loop.

    libcurl's multi interface drives HTTP(S) (and TCP probes of host names)
    through flot_curl_loop: its sockets are loop pollers and its timeout a
    loop timer, so transfers advance as their sockets get ready. TCP probes of
    addresses are non-blocking connects watched by pollers; command probes
    are child processes watched by their pipe and pidfd, each a program of
    the health actor's hooks directory run there. Each probe has a
    timeout timer. A probe ends exactly once: prober_finish releases it and
    calls its callback, which may start or cancel other probes.
*/
#include "probe.h"
#include "flotilla/curl_loop.h"

#include <stdarg.h>

struct _flot_prober_t {
    flot_loop_t *loop;
    flot_curl_loop_t *curl;
    zhashx_t *probes;           //  id -> probe_t *
    zhashx_t *fds;              //  descriptor -> probe_t *
    zhashx_t *timers;           //  timer id -> probe_t *
    uint64_t next_id;
    char *hooks_dir;            //  where command probes' programs are; NULL: none
};

static char *
s_key (char *buffer, size_t cap, uint64_t n)
{
    snprintf (buffer, cap, "%llx", (unsigned long long) n);
    return buffer;
}

//  --------------------------------------------------------------------------
//  HTTP and TCP transfers

//  flot_curl_loop: a transfer ended.
static void
s_curl_done (CURL *easy, CURLcode code, void *arg)
{
    (void) arg;
    char *private = NULL;
    curl_easy_getinfo (easy, CURLINFO_PRIVATE, &private);
    probe_t *probe = (probe_t *) private;
    if (probe && probe->kind == FLOT_CHECK_TCP)
        probe_tcp_curl_done (probe, code);
    else
    if (probe)
        probe_http_done (probe, code);
}

CURLM *
prober_multi (flot_prober_t *self)
{
    return flot_curl_loop_multi (self->curl);
}

//  --------------------------------------------------------------------------
//  Descriptors and timers of probes

static int
s_on_fd (flot_loop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    flot_prober_t *self = arg;
    char key [32];
    probe_t *probe = zhashx_lookup (self->fds, s_key (key, sizeof key, (uint64_t) item->fd));
    if (!probe)
        return 0;               //  ended in this round
    if (probe->kind == FLOT_CHECK_TCP)
        probe_tcp_event (probe, item->fd, item->revents);
    else
        probe_command_event (probe, item->fd, item->revents);
    return 0;
}

int
prober_watch (flot_prober_t *self, probe_t *probe, int fd, short events)
{
    char key [32];
    zmq_pollitem_t item = { NULL, fd, events, 0 };
    if (flot_loop_poller (self->loop, &item, s_on_fd, self))
        return -1;
    flot_loop_poller_set_tolerant (self->loop, &item);
    zhashx_update (self->fds, s_key (key, sizeof key, (uint64_t) fd), probe);
    return 0;
}

void
prober_unwatch (flot_prober_t *self, int fd)
{
    char key [32];
    zmq_pollitem_t item = { NULL, fd, 0, 0 };
    flot_loop_poller_end (self->loop, &item);
    zhashx_delete (self->fds, s_key (key, sizeof key, (uint64_t) fd));
}

static int
s_on_timer (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    flot_prober_t *self = arg;
    char key [32];
    probe_t *probe = zhashx_lookup (self->timers, s_key (key, sizeof key, (uint64_t) timer_id));
    if (!probe)
        return 0;
    if (timer_id == probe->reap_timer)
        probe_command_reap (probe);
    else
    if (probe->early)
        prober_finish (probe, false, -1, "%s", probe->message);
    else
    if (probe->kind == FLOT_CHECK_COMMAND) {
        //  One shot: forget it, the kill may take a moment.
        zhashx_delete (self->timers, key);
        probe->timer = -1;
        probe_command_timeout (probe);
    }
    else
        prober_finish (probe, false, -1, "%s: timed out after %lld ms", probe->what,
                       (long long) probe->timeout_ms);
    return 0;
}

int
prober_timer (flot_prober_t *self, probe_t *probe, int64_t delay_ms, bool repeat)
{
    char key [32];
    int id = flot_loop_timer (self->loop, (size_t) delay_ms, repeat ? 0 : 1, s_on_timer, self);
    if (id >= 0)
        zhashx_update (self->timers, s_key (key, sizeof key, (uint64_t) id), probe);
    return id;
}

void
prober_timer_end (flot_prober_t *self, int timer)
{
    char key [32];
    if (timer < 0)
        return;
    flot_loop_timer_end (self->loop, timer);
    zhashx_delete (self->timers, s_key (key, sizeof key, (uint64_t) timer));
}

//  --------------------------------------------------------------------------
//  Life of a probe

static void
s_release (flot_prober_t *self, probe_t *probe)
{
    char key [32];
    prober_timer_end (self, probe->timer);
    prober_timer_end (self, probe->reap_timer);
    probe->timer = probe->reap_timer = -1;
    probe_http_release (probe);
    probe_tcp_release (probe);
    probe_command_release (probe);
    zhashx_delete (self->probes, s_key (key, sizeof key, probe->id));
}

void
prober_finish (probe_t *probe, bool healthy, int status_code, const char *format, ...)
{
    flot_probe_result_t result;
    result.healthy = healthy;
    result.status_code = status_code;
    int64_t took = zclock_mono () - probe->started;
    result.duration_ms = took > 0 ? (uint64_t) took : 0;
    va_list args;
    va_start (args, format);
    vsnprintf (result.message, sizeof result.message, format, args);
    va_end (args);
    s_release (probe->prober, probe);
    flot_probe_fn *fn = probe->fn;
    void *arg = probe->arg;
    free (probe);
    fn (&result, arg);
}

uint64_t
flot_prober_start (flot_prober_t *self, const flot_check_t *check,
                   const flot_health_context_t *context, flot_probe_fn *fn, void *arg)
{
    assert (self && check && fn);
    probe_t *probe = calloc (1, sizeof *probe);
    assert (probe);
    probe->prober = self;
    probe->id = ++self->next_id;
    probe->kind = check->kind;
    probe->fn = fn;
    probe->arg = arg;
    probe->started = zclock_mono ();
    probe->timeout_ms = check->timeout_ms;
    probe->timer = probe->reap_timer = -1;
    probe->fd = probe->out_fd = probe->pidfd = -1;
    char key [32];
    zhashx_insert (self->probes, s_key (key, sizeof key, probe->id), probe);
    int rc = check->kind == FLOT_CHECK_HTTP
           ? probe_http_start (probe, check, context, probe->message, sizeof probe->message)
           : check->kind == FLOT_CHECK_TCP
           ? probe_tcp_start (probe, check, context, probe->message, sizeof probe->message)
           : probe_command_start (probe, check, context, probe->message, sizeof probe->message);
    uint64_t id = probe->id;
    if (rc) {
        //  Ends from the loop, like every other result.
        probe->early = true;
        probe->timer = prober_timer (self, probe, 0, false);
    }
    else
    if (probe->timer < 0) {
        //  libcurl times HTTP out itself, with a better sentence; this is
        //  the backstop.
        int64_t delay = probe->timeout_ms + (probe->easy ? 250 : 0);
        probe->timer = prober_timer (self, probe, delay, false);
    }
    return id;
}

void
flot_prober_cancel (flot_prober_t *self, uint64_t id)
{
    char key [32];
    probe_t *probe = zhashx_lookup (self->probes, s_key (key, sizeof key, id));
    if (probe) {
        s_release (self, probe);
        free (probe);
    }
}

size_t
flot_prober_running (flot_prober_t *self)
{
    return zhashx_size (self->probes);
}

const char *
prober_hooks_dir (flot_prober_t *self)
{
    return self->hooks_dir;
}

flot_prober_t *
flot_prober_new (flot_loop_t *loop, const char *hooks_dir)
{
    assert (loop);
    flot_prober_t *self = calloc (1, sizeof *self);
    assert (self);
    self->curl = flot_curl_loop_new (loop, s_curl_done, self);
    if (!self->curl) {
        free (self);
        return NULL;
    }
    self->loop = loop;
    self->hooks_dir = hooks_dir && *hooks_dir ? strdup (hooks_dir) : NULL;
    self->probes = zhashx_new ();
    self->fds = zhashx_new ();
    self->timers = zhashx_new ();
    assert (self->probes && self->fds && self->timers);
    return self;
}

void
flot_prober_destroy (flot_prober_t **self_p)
{
    flot_prober_t *self = *self_p;
    if (!self)
        return;
    probe_t *probe;
    while ((probe = zhashx_first (self->probes))) {
        s_release (self, probe);
        free (probe);
    }
    flot_curl_loop_destroy (&self->curl);
    zhashx_destroy (&self->probes);
    zhashx_destroy (&self->fds);
    zhashx_destroy (&self->timers);
    free (self->hooks_dir);
    free (self);
    *self_p = NULL;
}
