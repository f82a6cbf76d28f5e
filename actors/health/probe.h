/*  probe.h - private to actors/health: one running probe, and what the
    prober (prober.c) and the three kinds of probes (probe_http.c,
    probe_tcp.c, probe_command.c) call of each other.

    The prober owns every probe. Loop callbacks never carry a probe
    pointer: pollers carry the prober and find the probe by its descriptor,
    timers carry the prober and find it by timer id. So a callback for a
    probe already ended (the loop no longer delivers one, but a probe may
    end while another's callback runs) finds nothing and does nothing.
*/
#ifndef FLOTILLA_HEALTH_PROBE_H_INCLUDED
#define FLOTILLA_HEALTH_PROBE_H_INCLUDED

#include "health.h"
#include <curl/curl.h>

#define PROBE_TAIL 512          //  command output kept for the message
#define PROBE_BODY_MAX (1 << 20)    //  response bytes searched for http.body

typedef struct _probe_t probe_t;

struct _probe_t {
    flot_prober_t *prober;
    uint64_t id;
    flot_check_kind_t kind;
    flot_probe_fn *fn;
    void *arg;
    int64_t started;            //  zclock_mono
    int64_t timeout_ms;
    int timer;                  //  the timeout, or -1
    bool early;                 //  failed to start: ends with message at once
    char message [512];
    char what [400];            //  "GET http://...", "tcp host:port", "command ./x"
    //  http
    CURL *easy;
    struct curl_slist *headers;
    char *want;                 //  body substring wanted, or NULL
    char *got;                  //  the response so far
    size_t got_size;
    int status_lo [FLOT_CHECK_MAX_STATUS], status_hi [FLOT_CHECK_MAX_STATUS];
    size_t status_count;
    char status_text [128];
    char errbuf [CURL_ERROR_SIZE];
    //  tcp
    int fd;                     //  -1 when none
    //  command
    pid_t pid;                  //  0 when none
    int out_fd, pidfd;          //  -1 when none
    int reap_timer;             //  without a pidfd: polls waitpid
    char tail [PROBE_TAIL];
    size_t tail_size;
    bool timed_out;
};

//  For the kinds: descriptors and timers of a probe.
int  prober_watch (flot_prober_t *self, probe_t *probe, int fd, short events);
void prober_unwatch (flot_prober_t *self, int fd);
int  prober_timer (flot_prober_t *self, probe_t *probe, int64_t delay_ms, bool repeat);
void prober_timer_end (flot_prober_t *self, int timer);
CURLM *prober_multi (flot_prober_t *self);
//  The absolute hooks directory command probes run from, or NULL: none.
const char *prober_hooks_dir (flot_prober_t *self);

//  End the probe with a result: releases it, calls its callback, frees it.
void prober_finish (probe_t *probe, bool healthy, int status_code, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

//  Each kind: start (0, or -1 with a sentence in why), an event on one of
//  its descriptors, its timeout, and the release of what it holds.
int  probe_http_start (probe_t *probe, const flot_check_t *check,
                       const flot_health_context_t *context, char *why, size_t cap);
void probe_http_done (probe_t *probe, CURLcode code);
void probe_http_release (probe_t *probe);

int  probe_tcp_start (probe_t *probe, const flot_check_t *check,
                      const flot_health_context_t *context, char *why, size_t cap);
void probe_tcp_event (probe_t *probe, int fd, short revents);
void probe_tcp_curl_done (probe_t *probe, CURLcode code);
void probe_tcp_release (probe_t *probe);

int  probe_command_start (probe_t *probe, const flot_check_t *check,
                          const flot_health_context_t *context, char *why, size_t cap);
void probe_command_event (probe_t *probe, int fd, short revents);
void probe_command_timeout (probe_t *probe);
void probe_command_reap (probe_t *probe);
void probe_command_release (probe_t *probe);

#endif
