/*  flotilla/loop.h - the event loop every actor runs on.

    Readers (czmq sockets), pollers (file descriptors) and timers, with the
    handler shapes of czmq's zloop. A handler that returns -1 ends the loop.
*/
#ifndef FLOTILLA_LOOP_H_INCLUDED
#define FLOTILLA_LOOP_H_INCLUDED

#include <czmq.h>

typedef zloop_t flot_loop_t;
typedef zloop_fn flot_loop_fn;
typedef zloop_reader_fn flot_loop_reader_fn;
typedef zloop_timer_fn flot_loop_timer_fn;
#define flot_loop_new zloop_new
#define flot_loop_destroy zloop_destroy
#define flot_loop_start zloop_start
#define flot_loop_reader zloop_reader
#define flot_loop_reader_end zloop_reader_end
#define flot_loop_poller zloop_poller
#define flot_loop_poller_end zloop_poller_end
#define flot_loop_poller_set_tolerant zloop_poller_set_tolerant
#define flot_loop_timer zloop_timer
#define flot_loop_timer_end zloop_timer_end

#endif
