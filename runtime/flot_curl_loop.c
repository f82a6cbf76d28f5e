/*  flot_curl_loop.c - libcurl's multi interface in a flot_loop.

    curl says which sockets to watch (each becomes a tolerant loop poller
    on its descriptor) and when to call it back (one loop timer); the
    handlers hand the events back to curl_multi_socket_action, and the
    transfers that ended are read with curl_multi_info_read and given to
    the owner's done function. The loop never calls a poller or a timer
    once ended; the handlers still check that the descriptor is watched
    and that the timer is the current one, and do nothing otherwise. See
    flotilla/curl_loop.h.
*/
#include "flotilla/curl_loop.h"
#include "flotilla/log.h"

#include <pthread.h>

struct _flot_curl_loop_t {
    flot_loop_t *loop;
    CURLM *multi;
    flot_curl_done_fn *done;
    void *arg;
    int timer;                  //  curl's timeout, -1 if none
    zhashx_t *fds;              //  descriptors watched for curl
};

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static CURLcode s_global_rc;

static void
s_global_init (void)
{
    s_global_rc = curl_global_init (CURL_GLOBAL_DEFAULT);
}

static char *
s_key (char *buffer, size_t cap, int fd)
{
    snprintf (buffer, cap, "%d", fd);
    return buffer;
}

//  Hands every transfer that ended to the owner.
static void
s_check_done (flot_curl_loop_t *self)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read (self->multi, &left)))
        if (msg->msg == CURLMSG_DONE)
            self->done (msg->easy_handle, msg->data.result, self->arg);
}

static int
s_on_socket (flot_loop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    flot_curl_loop_t *self = arg;
    char key [16];
    if (!zhashx_lookup (self->fds, s_key (key, sizeof key, item->fd)))
        return 0;               //  curl let it go in this round
    int mask = (item->revents & ZMQ_POLLIN ? CURL_CSELECT_IN : 0)
             | (item->revents & ZMQ_POLLOUT ? CURL_CSELECT_OUT : 0)
             | (item->revents & ZMQ_POLLERR ? CURL_CSELECT_ERR : 0);
    int running;
    curl_multi_socket_action (self->multi, item->fd, mask, &running);
    s_check_done (self);
    return 0;
}

static int
s_on_timer (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    flot_curl_loop_t *self = arg;
    if (timer_id != self->timer)
        return 0;               //  one curl replaced already
    self->timer = -1;
    int running;
    curl_multi_socket_action (self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    s_check_done (self);
    return 0;
}

static void
s_unwatch (flot_curl_loop_t *self, int fd)
{
    char key [16];
    zmq_pollitem_t item = { NULL, fd, 0, 0 };
    flot_loop_poller_end (self->loop, &item);
    zhashx_delete (self->fds, s_key (key, sizeof key, fd));
}

//  curl: watch socket fd for what (or stop watching it).
static int
s_curl_socket (CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void) easy;
    (void) socketp;
    flot_curl_loop_t *self = userp;
    s_unwatch (self, fd);
    if (what == CURL_POLL_REMOVE)
        return 0;
    zmq_pollitem_t item = { NULL, fd, 0, 0 };
    item.events = (what & CURL_POLL_IN ? ZMQ_POLLIN : 0)
                | (what & CURL_POLL_OUT ? ZMQ_POLLOUT : 0);
    if (flot_loop_poller (self->loop, &item, s_on_socket, self))
        return -1;              //  curl fails the transfers on this socket
    flot_loop_poller_set_tolerant (self->loop, &item);
    char key [16];
    zhashx_update (self->fds, s_key (key, sizeof key, fd), self);
    return 0;
}

//  curl: call us back in timeout_ms (-1: never).
static int
s_curl_timer (CURLM *multi, long timeout_ms, void *userp)
{
    (void) multi;
    flot_curl_loop_t *self = userp;
    if (self->timer >= 0)
        flot_loop_timer_end (self->loop, self->timer);
    self->timer = -1;
    if (timeout_ms >= 0)
        self->timer = flot_loop_timer (self->loop, (size_t) timeout_ms, 1, s_on_timer, self);
    return 0;
}

//  --------------------------------------------------------------------------
//  The class

flot_curl_loop_t *
flot_curl_loop_new (flot_loop_t *loop, flot_curl_done_fn *done, void *arg)
{
    assert (loop);
    assert (done);
    pthread_once (&s_once, s_global_init);
    if (s_global_rc != CURLE_OK) {
        flot_error ("curl", "libcurl did not start: %s", curl_easy_strerror (s_global_rc));
        return NULL;
    }
    CURLM *multi = curl_multi_init ();
    if (!multi) {
        flot_error ("curl", "libcurl cannot make a multi handle");
        return NULL;
    }
    flot_curl_loop_t *self = calloc (1, sizeof *self);
    assert (self);
    self->loop = loop;
    self->multi = multi;
    self->done = done;
    self->arg = arg;
    self->timer = -1;
    self->fds = zhashx_new ();
    assert (self->fds);
    curl_multi_setopt (multi, CURLMOPT_SOCKETFUNCTION, s_curl_socket);
    curl_multi_setopt (multi, CURLMOPT_SOCKETDATA, self);
    curl_multi_setopt (multi, CURLMOPT_TIMERFUNCTION, s_curl_timer);
    curl_multi_setopt (multi, CURLMOPT_TIMERDATA, self);
    return self;
}

void
flot_curl_loop_destroy (flot_curl_loop_t **self_p)
{
    flot_curl_loop_t *self = *self_p;
    if (!self)
        return;
    //  curl may still tell us of sockets and its timer while it closes.
    curl_multi_cleanup (self->multi);
    if (self->timer >= 0)
        flot_loop_timer_end (self->loop, self->timer);
    //  Connections curl kept open leave no poller behind.
    const char *key;
    while (zhashx_first (self->fds)) {
        key = (const char *) zhashx_cursor (self->fds);
        s_unwatch (self, atoi (key));
    }
    zhashx_destroy (&self->fds);
    free (self);
    *self_p = NULL;
}

int
flot_curl_loop_add (flot_curl_loop_t *self, CURL *easy)
{
    assert (self);
    assert (easy);
    return curl_multi_add_handle (self->multi, easy) == CURLM_OK ? 0 : -1;
}

void
flot_curl_loop_remove (flot_curl_loop_t *self, CURL *easy)
{
    assert (self);
    if (easy)
        curl_multi_remove_handle (self->multi, easy);
}

CURLM *
flot_curl_loop_multi (flot_curl_loop_t *self)
{
    assert (self);
    return self->multi;
}
