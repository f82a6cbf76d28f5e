/*  flot_loop.c - the event loop every actor runs on (flotilla/loop.h).

    One epoll descriptor holds every poller's file descriptor, added,
    changed and removed as pollers come and go. A czmq socket (a reader, or
    a poller of a libzmq socket) is watched through its ZMQ_FD, which only
    says that something changed: its ZMQ_EVENTS are read on every turn, and
    a socket that still has input keeps the turn's wait at 0. Timers wait in
    a min-heap ordered by when they are due, then by when they were armed;
    a map from id to timer makes ending one O(log n).

    A turn: wait (up to the earliest timer), then serve the ready sockets,
    then the ready descriptors epoll returned (at most FLOT_LOOP_EVENTS;
    level-triggered epoll hands the others out in the next turns), then the
    timers due when the turn started (at most FLOT_LOOP_TIMERS). An item
    ended during the turn is marked dead and freed when the turn ends, so
    that nothing of the turn calls it or reads freed memory.
*/
#include "flotilla/loop.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

typedef enum { S_READER, S_SOCKET, S_FD } s_kind_t;

typedef struct _s_item_t s_item_t;
struct _s_item_t {
    s_kind_t kind;
    zmq_pollitem_t item; //  our copy: the handler gets it, with revents
    zsock_t *sock;       //  S_READER
    void *handle;        //  S_READER, S_SOCKET: the libzmq socket
    int fd;              //  the descriptor in the epoll set
    flot_loop_fn *poller_fn;
    flot_loop_reader_fn *reader_fn;
    void *arg;
    bool tolerant;
    uint32_t gen; //  S_FD: its registration's, in the epoll set's data
    bool dead;  //  ended: never called again
    int errors; //  turns in a row with an error
    s_item_t *next_dead;
};

typedef struct {
    int id;
    size_t delay, times; //  times 0: until ended
    int64_t when;
    uint64_t seq; //  order of arming, among timers due together
    flot_loop_timer_fn *handler;
    void *arg;
    size_t heap_at; //  its place in the heap; S_NOWHERE if not in it
    bool dead;      //  ended while due in this turn
} s_timer_t;

#define S_NOWHERE SIZE_MAX

struct _flot_loop_t {
    int epoll_fd;
    s_item_t **sockets; //  readers and libzmq pollers, in order added
    size_t socket_count, socket_max;
    s_item_t **snapshot; //  the sockets of this turn
    size_t snapshot_max;
    s_item_t **by_fd; //  the poller of each descriptor
    size_t by_fd_max;
    size_t fd_count;
    s_timer_t **heap;
    size_t heap_count, heap_max;
    s_timer_t **due;  //  the timers of this turn
    zhashx_t *timers; //  id -> s_timer_t *
    int last_id;
    uint64_t seq;
    bool in_turn;
    uint32_t gen;   //  the last poller's generation
    s_item_t *dead; //  ended in this turn, freed at its end
    struct epoll_event events [FLOT_LOOP_EVENTS];
};

//  Marks the socket descriptors' events in the epoll set: they only wake us.
//  What epoll's data holds: a descriptor's number and its poller's
//  generation, so that an event of a file that is no longer the poller's
//  (its descriptor closed without an end while a copy of it lives on, and
//  the number given to another) is known and ignored; or S_WAKE, a
//  socket's ZMQ_FD.
#define S_WAKE UINT64_MAX
#define S_DATA(fd, gen) (((uint64_t) (uint32_t) (fd) << 32) | (gen))

//  --------------------------------------------------------------------------
//  The timers' heap

static bool
s_before (const s_timer_t *a, const s_timer_t *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void
s_heap_place (flot_loop_t *self, size_t at, s_timer_t *timer)
{
    self->heap [at] = timer;
    timer->heap_at = at;
}

static void
s_heap_up (flot_loop_t *self, size_t at)
{
    s_timer_t *timer = self->heap [at];
    while (at > 0) {
        size_t parent = (at - 1) / 2;
        if (!s_before (timer, self->heap [parent]))
            break;
        s_heap_place (self, at, self->heap [parent]);
        at = parent;
    }
    s_heap_place (self, at, timer);
}

static void
s_heap_down (flot_loop_t *self, size_t at)
{
    s_timer_t *timer = self->heap [at];
    while (true) {
        size_t child = 2 * at + 1;
        if (child >= self->heap_count)
            break;
        if (child + 1 < self->heap_count
            && s_before (self->heap [child + 1], self->heap [child]))
            child++;
        if (!s_before (self->heap [child], timer))
            break;
        s_heap_place (self, at, self->heap [child]);
        at = child;
    }
    s_heap_place (self, at, timer);
}

static void
s_heap_push (flot_loop_t *self, s_timer_t *timer)
{
    if (self->heap_count == self->heap_max) {
        self->heap_max = self->heap_max ? self->heap_max * 2 : 64;
        self->heap = realloc (self->heap, self->heap_max * sizeof *self->heap);
        assert (self->heap);
    }
    timer->seq = self->seq++;
    self->heap [self->heap_count++] = timer;
    s_heap_up (self, self->heap_count - 1);
}

static void
s_heap_remove (flot_loop_t *self, s_timer_t *timer)
{
    size_t at = timer->heap_at;
    assert (at < self->heap_count && self->heap [at] == timer);
    timer->heap_at = S_NOWHERE;
    s_timer_t *last = self->heap [--self->heap_count];
    if (last == timer)
        return;
    s_heap_place (self, at, last);
    if (at > 0 && s_before (last, self->heap [(at - 1) / 2]))
        s_heap_up (self, at);
    else
        s_heap_down (self, at);
}

//  The timers' map: ids as keys, as they are.
static size_t
s_id_hash (const void *key)
{
    return (size_t) (uintptr_t) key * 2654435761u;
}

static int
s_id_compare (const void *a, const void *b)
{
    return (uintptr_t) a < (uintptr_t) b ? -1 : (uintptr_t) a > (uintptr_t) b;
}

#define S_KEY(id) ((void *) (uintptr_t) (id))

//  --------------------------------------------------------------------------
//  The class

flot_loop_t *
flot_loop_new (void)
{
    flot_loop_t *self = calloc (1, sizeof *self);
    assert (self);
    self->epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
    if (self->epoll_fd < 0) {
        free (self);
        return NULL;
    }
    self->timers = zhashx_new ();
    assert (self->timers);
    zhashx_set_key_hasher (self->timers, s_id_hash);
    zhashx_set_key_comparator (self->timers, s_id_compare);
    zhashx_set_key_duplicator (self->timers, NULL);
    zhashx_set_key_destructor (self->timers, NULL);
    self->due = malloc (FLOT_LOOP_TIMERS * sizeof *self->due);
    assert (self->due);
    return self;
}

static void
s_free_dead (flot_loop_t *self)
{
    while (self->dead) {
        s_item_t *item = self->dead;
        self->dead = item->next_dead;
        free (item);
    }
}

void
flot_loop_destroy (flot_loop_t **self_p)
{
    assert (self_p);
    flot_loop_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->socket_count; i++)
        free (self->sockets [i]);
    for (size_t fd = 0; fd < self->by_fd_max; fd++)
        free (self->by_fd [fd]);
    for (size_t i = 0; i < self->heap_count; i++)
        free (self->heap [i]);
    s_free_dead (self);
    zhashx_destroy (&self->timers);
    free (self->sockets);
    free (self->snapshot);
    free (self->by_fd);
    free (self->heap);
    free (self->due);
    close (self->epoll_fd);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Readers and pollers

static uint32_t
s_epoll_events (short events)
{
    return (events & ZMQ_POLLIN ? EPOLLIN : 0) | (events & ZMQ_POLLOUT ? EPOLLOUT : 0)
           | (events & ZMQ_POLLPRI ? EPOLLPRI : 0);
}

//  An item ended: never called again, freed once no turn can reach it.
static void
s_item_bury (flot_loop_t *self, s_item_t *item)
{
    item->dead = true;
    if (self->in_turn) {
        item->next_dead = self->dead;
        self->dead = item;
    }
    else
        free (item);
}

static int
s_socket_add (flot_loop_t *self, s_item_t *item)
{
    size_t size = sizeof item->fd;
    if (zmq_getsockopt (item->handle, ZMQ_FD, &item->fd, &size))
        return -1;
    struct epoll_event event = { .events = EPOLLIN, .data.u64 = S_WAKE };
    if (epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, item->fd, &event) && errno != EEXIST)
        return -1; //  EEXIST: another item of the same socket
    if (self->socket_count == self->socket_max) {
        self->socket_max = self->socket_max ? self->socket_max * 2 : 8;
        self->sockets = realloc (self->sockets, self->socket_max * sizeof *self->sockets);
        assert (self->sockets);
    }
    self->sockets [self->socket_count++] = item;
    return 0;
}

//  Ends the socket items for which match is true.
static void
s_socket_end (flot_loop_t *self, bool (*match) (s_item_t *, const void *), const void *what)
{
    size_t kept = 0, ended = 0;
    s_item_t *gone [self->socket_count + 1];
    for (size_t i = 0; i < self->socket_count; i++) {
        s_item_t *item = self->sockets [i];
        if (match (item, what))
            gone [ended++] = item;
        else
            self->sockets [kept++] = item;
    }
    self->socket_count = kept;
    for (size_t i = 0; i < ended; i++) {
        bool shared = false;
        for (size_t j = 0; j < kept; j++)
            shared |= self->sockets [j]->fd == gone [i]->fd;
        if (!shared)
            epoll_ctl (self->epoll_fd, EPOLL_CTL_DEL, gone [i]->fd, NULL);
        s_item_bury (self, gone [i]);
    }
}

static bool
s_is_reader_of (s_item_t *item, const void *sock)
{
    return item->kind == S_READER && item->sock == sock;
}

static bool
s_is_poller_of (s_item_t *item, const void *handle)
{
    return item->kind == S_SOCKET && item->handle == handle;
}

int
flot_loop_reader (flot_loop_t *self, zsock_t *sock, flot_loop_reader_fn handler, void *arg)
{
    assert (self && sock && handler);
    s_item_t *item = calloc (1, sizeof *item);
    assert (item);
    item->kind = S_READER;
    item->sock = sock;
    item->handle = zsock_resolve (sock);
    item->item = (zmq_pollitem_t){ item->handle, 0, ZMQ_POLLIN, 0 };
    item->reader_fn = handler;
    item->arg = arg;
    if (s_socket_add (self, item)) {
        free (item);
        return -1;
    }
    return 0;
}

void
flot_loop_reader_end (flot_loop_t *self, zsock_t *sock)
{
    assert (self && sock);
    s_socket_end (self, s_is_reader_of, sock);
}

static void
s_fd_forget (flot_loop_t *self, s_item_t *item)
{
    epoll_ctl (self->epoll_fd, EPOLL_CTL_DEL, item->fd, NULL);
    self->by_fd [item->fd] = NULL;
    self->fd_count--;
    s_item_bury (self, item);
}

int
flot_loop_poller (flot_loop_t *self, zmq_pollitem_t *pollitem, flot_loop_fn handler,
                  void *arg)
{
    assert (self && pollitem && handler);
    s_item_t *item = calloc (1, sizeof *item);
    assert (item);
    item->item = *pollitem;
    item->item.revents = 0;
    item->poller_fn = handler;
    item->arg = arg;
    if (pollitem->socket) {
        item->kind = S_SOCKET;
        item->handle = pollitem->socket;
        if (s_socket_add (self, item)) {
            free (item);
            return -1;
        }
        return 0;
    }
    item->kind = S_FD;
    item->fd = pollitem->fd;
    if (item->fd < 0) {
        free (item);
        errno = EBADF;
        return -1;
    }
    size_t fd = (size_t) item->fd;
    if (fd >= self->by_fd_max) {
        size_t max = self->by_fd_max ? self->by_fd_max : 64;
        while (max <= fd)
            max *= 2;
        self->by_fd = realloc (self->by_fd, max * sizeof *self->by_fd);
        assert (self->by_fd);
        memset (self->by_fd + self->by_fd_max, 0,
                (max - self->by_fd_max) * sizeof *self->by_fd);
        self->by_fd_max = max;
    }
    //  Never 0, and never S_WAKE's half.
    item->gen = ++self->gen ? self->gen : ++self->gen;
    struct epoll_event event = { .events = s_epoll_events (item->item.events),
                                 .data.u64 = S_DATA (item->fd, item->gen) };
    if (epoll_ctl (self->epoll_fd, EPOLL_CTL_ADD, item->fd, &event)) {
        int saved = errno;
        free (item);
        errno = saved;
        return -1; //  EEXIST: the descriptor has a poller
    }
    //  Its old poller's descriptor was closed without an end (the kernel
    //  took it out of the epoll set, so the add worked): that poller goes.
    if (self->by_fd [fd]) {
        s_item_t *stale = self->by_fd [fd];
        self->by_fd [fd] = NULL;
        self->fd_count--;
        s_item_bury (self, stale);
    }
    self->by_fd [fd] = item;
    self->fd_count++;
    return 0;
}

void
flot_loop_poller_end (flot_loop_t *self, zmq_pollitem_t *pollitem)
{
    assert (self && pollitem);
    if (pollitem->socket)
        s_socket_end (self, s_is_poller_of, pollitem->socket);
    else if (pollitem->fd >= 0 && (size_t) pollitem->fd < self->by_fd_max
             && self->by_fd [pollitem->fd])
        s_fd_forget (self, self->by_fd [pollitem->fd]);
}

void
flot_loop_poller_set_tolerant (flot_loop_t *self, zmq_pollitem_t *pollitem)
{
    assert (self && pollitem);
    if (pollitem->socket) {
        for (size_t i = 0; i < self->socket_count; i++)
            if (s_is_poller_of (self->sockets [i], pollitem->socket))
                self->sockets [i]->tolerant = true;
    }
    else if (pollitem->fd >= 0 && (size_t) pollitem->fd < self->by_fd_max
             && self->by_fd [pollitem->fd])
        self->by_fd [pollitem->fd]->tolerant = true;
}

//  --------------------------------------------------------------------------
//  Timers

int
flot_loop_timer (flot_loop_t *self, size_t delay, size_t times, flot_loop_timer_fn handler,
                 void *arg)
{
    assert (self && handler);
    //  Ids count up; past INT_MAX they start again at 1, skipping those in
    //  use, so that ending a timer long gone never ends a new one before
    //  two billion timers have come and gone.
    int id = self->last_id;
    do
        id = id == INT_MAX ? 1 : id + 1;
    while (zhashx_lookup (self->timers, S_KEY (id)));
    self->last_id = id;
    s_timer_t *timer = calloc (1, sizeof *timer);
    assert (timer);
    if (delay > (size_t) INT32_MAX * 1000)
        delay = (size_t) INT32_MAX * 1000; //  some 68 years
    timer->id = id;
    timer->delay = delay;
    timer->times = times;
    timer->handler = handler;
    timer->arg = arg;
    timer->when = zclock_mono () + (int64_t) delay;
    zhashx_insert (self->timers, S_KEY (id), timer);
    s_heap_push (self, timer);
    return id;
}

int
flot_loop_timer_end (flot_loop_t *self, int timer_id)
{
    assert (self);
    s_timer_t *timer = timer_id > 0 ? zhashx_lookup (self->timers, S_KEY (timer_id)) : NULL;
    if (!timer)
        return -1;
    zhashx_delete (self->timers, S_KEY (timer_id));
    if (timer->heap_at != S_NOWHERE) {
        s_heap_remove (self, timer);
        free (timer);
    }
    else
        timer->dead = true; //  due in this turn: freed when it comes
    return 0;
}

//  The wait before the next timer is due: -1 if none.
static int
s_next_timeout (flot_loop_t *self)
{
    if (self->heap_count == 0)
        return -1;
    int64_t wait = self->heap [0]->when - zclock_mono ();
    return wait <= 0 ? 0 : wait > INT_MAX ? INT_MAX : (int) wait;
}

//  --------------------------------------------------------------------------
//  The turns

//  What the socket is ready for of its item's events; 0 if nothing (or it
//  errs). Sets *term when the context is gone.
static short
s_socket_ready (s_item_t *item, bool *term)
{
    int events = 0;
    size_t size = sizeof events;
    if (zmq_getsockopt (item->handle, ZMQ_EVENTS, &events, &size)) {
        if (errno == ETERM)
            *term = true;
        return 0;
    }
    return (short) (events & item->item.events & (ZMQ_POLLIN | ZMQ_POLLOUT));
}

//  Serves the sockets ready now. Returns -1 if a handler ended the loop.
static int
s_serve_sockets (flot_loop_t *self, bool *term)
{
    if (self->snapshot_max < self->socket_count) {
        self->snapshot_max = self->socket_max;
        free (self->snapshot);
        self->snapshot = malloc (self->snapshot_max * sizeof *self->snapshot);
        assert (self->snapshot);
    }
    size_t count = self->socket_count;
    if (count == 0)
        return 0;
    memcpy (self->snapshot, self->sockets, count * sizeof *self->snapshot);
    for (size_t i = 0; i < count; i++) {
        s_item_t *item = self->snapshot [i];
        if (item->dead)
            continue;
        short revents = s_socket_ready (item, term);
        if (*term)
            return 0;
        if (!revents)
            continue;
        item->item.revents = revents;
        int rc = item->kind == S_READER ? item->reader_fn (self, item->sock, item->arg)
                                        : item->poller_fn (self, &item->item, item->arg);
        if (rc == -1)
            return -1;
    }
    return 0;
}

//  Serves the descriptors epoll found ready. Returns -1 if a handler ended
//  the loop.
static int
s_serve_fds (flot_loop_t *self, int count)
{
    for (int i = 0; i < count; i++) {
        uint64_t data = self->events [i].data.u64;
        if (data == S_WAKE)
            continue;
        size_t fd = (size_t) (data >> 32);
        s_item_t *item = fd < self->by_fd_max ? self->by_fd [fd] : NULL;
        if (!item || item->gen != (uint32_t) data || item->dead)
            continue;           //  ended, or a stale file's (see S_DATA)
        uint32_t events = self->events [i].events;
        short revents = (events & EPOLLIN ? ZMQ_POLLIN : 0)
                        | (events & EPOLLOUT ? ZMQ_POLLOUT : 0)
                        | (events & EPOLLPRI ? ZMQ_POLLPRI : 0);
        if (events & (EPOLLERR | EPOLLHUP)) {
            //  As zloop did: a poller that is not tolerant hears of an
            //  error once, and is ended when the next turn has one too;
            //  but not while there is still input to read (a pipe whose
            //  writer has gone, holding its last output).
            if (!item->tolerant && !(revents & ZMQ_POLLIN) && item->errors++) {
                s_fd_forget (self, item);
                continue;
            }
            revents |= ZMQ_POLLERR;
        }
        else
            item->errors = 0;
        item->item.revents = revents & (item->item.events | ZMQ_POLLERR);
        if (!item->item.revents)
            continue;
        if (item->poller_fn (self, &item->item, item->arg) == -1)
            return -1;
    }
    return 0;
}

//  Takes the timers due at now out of the heap, earliest first, at most
//  FLOT_LOOP_TIMERS. Returns how many.
static size_t
s_take_due (flot_loop_t *self, int64_t now)
{
    size_t count = 0;
    while (count < FLOT_LOOP_TIMERS && self->heap_count && self->heap [0]->when <= now) {
        s_timer_t *timer = self->heap [0];
        s_heap_remove (self, timer);
        self->due [count++] = timer;
    }
    return count;
}

//  Calls the due timers (unless call is false); puts back those that
//  repeat. Returns -1 if a handler ended the loop: the timers not called
//  yet go back as they were.
static int
s_serve_timers (flot_loop_t *self, size_t count, bool call)
{
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        s_timer_t *timer = self->due [i];
        if (!timer->dead && call && rc == 0) {
            if (timer->handler (self, timer->id, timer->arg) == -1)
                rc = -1;
            if (!timer->dead && timer->times && --timer->times == 0) {
                zhashx_delete (self->timers, S_KEY (timer->id));
                timer->dead = true;
            }
            if (!timer->dead)
                timer->when = zclock_mono () + (int64_t) timer->delay;
        }
        if (timer->dead)
            free (timer);
        else
            s_heap_push (self, timer);
    }
    return rc;
}

int
flot_loop_start (flot_loop_t *self)
{
    assert (self);
    int rc = 0;
    while (!zsys_interrupted) {
        if (self->socket_count == 0 && self->fd_count == 0 && self->heap_count == 0)
            break; //  nothing can happen any more
        //  A socket may still hold input that its ZMQ_FD will not tell of.
        bool term = false;
        int timeout = s_next_timeout (self);
        for (size_t i = 0; i < self->socket_count && timeout != 0; i++)
            if (s_socket_ready (self->sockets [i], &term))
                timeout = 0;
        if (term)
            break;
        int ready = epoll_wait (self->epoll_fd, self->events, FLOT_LOOP_EVENTS, timeout);
        if (ready < 0) {
            if (errno == EINTR)
                continue; //  zsys_interrupted says if it was SIGINT/SIGTERM
            break;
        }
        self->in_turn = true;
        size_t due = s_take_due (self, zclock_mono ());
        rc = s_serve_sockets (self, &term);
        if (rc == 0 && !term)
            rc = s_serve_fds (self, ready);
        if (s_serve_timers (self, due, rc == 0 && !term) == -1)
            rc = -1;
        s_free_dead (self);
        self->in_turn = false;
        if (rc == -1 || term)
            break;
    }
    return rc;
}
