/*  flotilla/loop.h - the event loop every actor runs on (runtime/flot_loop.c).

    Readers (czmq sockets), pollers (file descriptors, or libzmq sockets)
    and timers, with the handler shapes of czmq's zloop. A handler that
    returns -1 ends the loop; so do SIGINT and SIGTERM (czmq's handler sets
    zsys_interrupted), and a loop with nothing left to watch.

    One epoll set, changed as pollers come and go (never rebuilt); a czmq
    socket is watched through its ZMQ_FD and its ZMQ_EVENTS, checked on
    every turn. Timers wait in a min-heap: adding and ending one is
    O(log n), and their ids are not reused. A turn serves the ready sockets,
    then the ready descriptors (at most FLOT_LOOP_EVENTS), then the timers
    that were due when it started (at most FLOT_LOOP_TIMERS, earliest
    first; the rest are served first in the next turn), so that neither
    class starves the other. A reader, poller or timer ended in a turn is
    never called after in that turn; a repeating timer runs at most once a
    turn.
*/
#ifndef FLOTILLA_LOOP_H_INCLUDED
#define FLOTILLA_LOOP_H_INCLUDED

#include <czmq.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FLOT_LOOP_EVENTS 256 //  ready descriptors served per turn, at most
#define FLOT_LOOP_TIMERS 256 //  due timers served per turn, at most

typedef struct _flot_loop_t flot_loop_t;

//  A poller's handler: item is the loop's copy of the poller's item, with
//  revents set (ZMQ_POLLIN, ZMQ_POLLOUT, ZMQ_POLLPRI, ZMQ_POLLERR).
typedef int (flot_loop_fn) (flot_loop_t *loop, zmq_pollitem_t *item, void *arg);
//  A reader's handler: the socket has a message to read.
typedef int (flot_loop_reader_fn) (flot_loop_t *loop, zsock_t *reader, void *arg);
//  A timer's handler, with the id flot_loop_timer gave.
typedef int (flot_loop_timer_fn) (flot_loop_t *loop, int timer_id, void *arg);

//  A new loop, or NULL if the kernel gave no epoll descriptor.
flot_loop_t *
    flot_loop_new (void);

//  Destroys the loop and what it watches (not the sockets or descriptors
//  themselves); safe twice.
void
    flot_loop_destroy (flot_loop_t **self_p);

//  Runs until a handler returns -1 (returns -1), or on SIGINT/SIGTERM or
//  when nothing is left to watch (returns 0).
int
    flot_loop_start (flot_loop_t *self);

//  Calls handler when sock has a message. Returns 0, or -1.
int
    flot_loop_reader (flot_loop_t *self, zsock_t *sock, flot_loop_reader_fn handler,
                      void *arg);

//  Stops reading sock (every reader of it).
void
    flot_loop_reader_end (flot_loop_t *self, zsock_t *sock);

//  Calls handler when item (its socket, else its fd) is ready for its
//  events. A descriptor has at most one poller. Errors (ZMQ_POLLERR: an
//  error or a hang-up): a poller that has one in two turns in a row, with
//  no input left to read, is ended, unless it is tolerant. Returns 0, or
//  -1 with errno (EEXIST: the descriptor has a poller already).
int
    flot_loop_poller (flot_loop_t *self, zmq_pollitem_t *item, flot_loop_fn handler,
                      void *arg);

//  Ends the poller of item's socket, else of its fd.
void
    flot_loop_poller_end (flot_loop_t *self, zmq_pollitem_t *item);

//  The poller of item gets ZMQ_POLLERR in revents, as often as it comes,
//  instead of being ended.
void
    flot_loop_poller_set_tolerant (flot_loop_t *self, zmq_pollitem_t *item);

//  Calls handler after delay ms, times times (0: until ended), delay ms
//  after each call ends. Returns the timer's id (> 0), or -1.
int
    flot_loop_timer (flot_loop_t *self, size_t delay, size_t times,
                     flot_loop_timer_fn handler, void *arg);

//  Ends the timer; returns 0, or -1 if there is no such timer (any more).
int
    flot_loop_timer_end (flot_loop_t *self, int timer_id);

#ifdef __cplusplus
}
#endif

#endif
