/*  prober.c - runs health probes concurrently from one zloop.

    libcurl's multi interface drives HTTP(S) (and TCP probes of host names):
    its socket callback becomes zloop pollers and its timer callback a zloop
    timer, so transfers advance as their sockets get ready. TCP probes of
    addresses are non-blocking connects watched by pollers; command probes
    are child processes watched by their pipe and pidfd. Each probe has a
    timeout timer. A probe ends exactly once: prober_finish releases it and
    calls its callback, which may start or cancel other probes.
*/
#include "probe.h"
#include "flotilla/log.h"

#include <stdarg.h>

#define WHO "health"

struct _flot_prober_t {
    zloop_t *loop;
    CURLM *multi;
    int curl_timer;             //  -1 when none
    zhashx_t *probes;           //  id -> probe_t *
    zhashx_t *fds;              //  descriptor -> probe_t *
    zhashx_t *timers;           //  timer id -> probe_t *
    uint64_t next_id;
};

static char *
s_key (char *buffer, size_t cap, uint64_t n)
{
    snprintf (buffer, cap, "%llx", (unsigned long long) n);
    return buffer;
}

//  --------------------------------------------------------------------------
//  libcurl's multi interface in zloop

static void
s_curl_check (flot_prober_t *self)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read (self->multi, &left)))
        if (msg->msg == CURLMSG_DONE) {
            char *private = NULL;
            CURLcode code = msg->data.result;
            curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, &private);
            probe_t *probe = (probe_t *) private;
            if (probe && probe->kind == FLOT_CHECK_TCP)
                probe_tcp_curl_done (probe, code);
            else
            if (probe)
                probe_http_done (probe, code);
        }
}

static int
s_on_curl_socket (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    flot_prober_t *self = arg;
    int mask = (item->revents & ZMQ_POLLIN ? CURL_CSELECT_IN : 0)
             | (item->revents & ZMQ_POLLOUT ? CURL_CSELECT_OUT : 0)
             | (item->revents & ZMQ_POLLERR ? CURL_CSELECT_ERR : 0);
    int running;
    curl_multi_socket_action (self->multi, item->fd, mask, &running);
    s_curl_check (self);
    return 0;
}

static int
s_curl_socket (CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void) easy;
    (void) socketp;
    flot_prober_t *self = userp;
    zmq_pollitem_t item = { NULL, fd, 0, 0 };
    zloop_poller_end (self->loop, &item);
    if (what != CURL_POLL_REMOVE) {
        item.events = (what & CURL_POLL_IN ? ZMQ_POLLIN : 0)
                    | (what & CURL_POLL_OUT ? ZMQ_POLLOUT : 0);
        zloop_poller (self->loop, &item, s_on_curl_socket, self);
        zloop_poller_set_tolerant (self->loop, &item);
    }
    return 0;
}

static int
s_on_curl_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    flot_prober_t *self = arg;
    if (timer_id != self->curl_timer)
        return 0;               //  one curl replaced already
    self->curl_timer = -1;
    int running;
    curl_multi_socket_action (self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    s_curl_check (self);
    return 0;
}

static int
s_curl_timer (CURLM *multi, long timeout_ms, void *userp)
{
    (void) multi;
    flot_prober_t *self = userp;
    if (self->curl_timer >= 0)
        zloop_timer_end (self->loop, self->curl_timer);
    self->curl_timer = -1;
    if (timeout_ms >= 0)
        self->curl_timer = zloop_timer (self->loop, (size_t) timeout_ms, 1,
                                        s_on_curl_timer, self);
    return 0;
}

CURLM *
prober_multi (flot_prober_t *self)
{
    return self->multi;
}

//  --------------------------------------------------------------------------
//  Descriptors and timers of probes

static int
s_on_fd (zloop_t *loop, zmq_pollitem_t *item, void *arg)
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
    if (zloop_poller (self->loop, &item, s_on_fd, self))
        return -1;
    zloop_poller_set_tolerant (self->loop, &item);
    zhashx_update (self->fds, s_key (key, sizeof key, (uint64_t) fd), probe);
    return 0;
}

void
prober_unwatch (flot_prober_t *self, int fd)
{
    char key [32];
    zmq_pollitem_t item = { NULL, fd, 0, 0 };
    zloop_poller_end (self->loop, &item);
    zhashx_delete (self->fds, s_key (key, sizeof key, (uint64_t) fd));
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
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
    int id = zloop_timer (self->loop, (size_t) delay_ms, repeat ? 0 : 1, s_on_timer, self);
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
    zloop_timer_end (self->loop, timer);
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
                   const msgpack_object *context, flot_probe_fn *fn, void *arg)
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

flot_prober_t *
flot_prober_new (zloop_t *loop)
{
    assert (loop);
    if (curl_global_init (CURL_GLOBAL_DEFAULT)) {
        flot_error (WHO, "libcurl did not start");
        return NULL;
    }
    flot_prober_t *self = calloc (1, sizeof *self);
    assert (self);
    self->loop = loop;
    self->curl_timer = -1;
    self->multi = curl_multi_init ();
    self->probes = zhashx_new ();
    self->fds = zhashx_new ();
    self->timers = zhashx_new ();
    assert (self->multi && self->probes && self->fds && self->timers);
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETFUNCTION, s_curl_socket);
    curl_multi_setopt (self->multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERFUNCTION, s_curl_timer);
    curl_multi_setopt (self->multi, CURLMOPT_TIMERDATA, self);
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
    if (self->curl_timer >= 0)
        zloop_timer_end (self->loop, self->curl_timer);
    self->curl_timer = -1;
    curl_multi_cleanup (self->multi);
    zhashx_destroy (&self->probes);
    zhashx_destroy (&self->fds);
    zhashx_destroy (&self->timers);
    free (self);
    curl_global_cleanup ();
    *self_p = NULL;
}
