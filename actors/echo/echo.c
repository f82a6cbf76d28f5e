/*  echo.c - the diagnostic actor (service "echo").

    Answers Echo with the body it was given, Sleep after the delay asked for
    (without blocking the actor: a timer answers), and Ticks with a stream of
    numbered messages. Operators use it to check a broker and a host end to
    end (flotctl call echo Echo '{"hi":1}'); the process-level tests use it to
    hold a request open while an actor is killed.
*/
#include "echo.h"
#include "flotilla/contract_echo.h"
#include "flotilla/log.h"

typedef struct {
    flot_actor_t *actor;
    zlistx_t *jobs;             //  job_t *: sleeps and tick streams running
} echo_t;

typedef struct {
    echo_t *echo;
    flot_request_t *request;    //  Sleep: answered when the timer fires
    flot_stream_t *stream;      //  Ticks: pushed to on each timer
    uint64_t slept_ms;
    uint64_t count, sent;
    int timer;
    void *handle;
} job_t;

static void
s_job_destroy (job_t **job_p)
{
    job_t *job = *job_p;
    if (job) {
        flot_loop_timer_end (flot_actor_loop (job->echo->actor), job->timer);
        zlistx_detach (job->echo->jobs, job->handle);
        free (job);
        *job_p = NULL;
    }
}

static job_t *
s_job_new (echo_t *echo)
{
    job_t *job = calloc (1, sizeof *job);
    assert (job);
    job->echo = echo;
    job->handle = zlistx_add_end (echo->jobs, job);
    return job;
}

static void
s_echo (flot_actor_t *actor, flot_request_t *request)
{
    (void) actor;
    //  The body's bytes, unchanged.
    size_t size;
    const void *body = flot_request_body_bytes (request, &size);
    flot_request_reply (&request, body, size);
}

static int
s_sleep_done (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    job_t *job = arg;
    flot_echo_sleep_reply_t reply = { .slept_ms = job->slept_ms };
    flot_request_answer (&job->request, &reply);
    s_job_destroy (&job);
    return 0;
}

static void
s_sleep (flot_actor_t *actor, flot_request_t *request)
{
    echo_t *self = flot_actor_state (actor);
    const flot_echo_sleep_request_t *args = flot_request_args (request);
    uint64_t ms = args->ms;
    job_t *job = s_job_new (self);
    job->request = request;
    job->slept_ms = ms;
    job->timer = flot_loop_timer (flot_actor_loop (actor), ms ? (size_t) ms : 1, 1,
                              s_sleep_done, job);
}

static int
s_tick (flot_loop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    job_t *job = arg;
    flot_actor_t *actor = job->echo->actor;
    if (job->sent == job->count) {
        //  count ticks, then the end of the stream one interval later.
        flot_stream_end (actor, &job->stream, NULL, 0);
        s_job_destroy (&job);
        return 0;
    }
    flot_echo_ticks_stream_t tick = { .tick = ++job->sent };
    flot_stream_push (actor, job->stream, &tick);
    return 0;
}

static void
s_ticks_cancelled (flot_actor_t *actor, flot_stream_t *stream, void *arg)
{
    (void) actor;
    (void) stream;
    job_t *job = arg;
    s_job_destroy (&job);
}

static void
s_ticks (flot_actor_t *actor, flot_request_t *request)
{
    echo_t *self = flot_actor_state (actor);
    const flot_echo_ticks_request_t *args = flot_request_args (request);
    uint64_t count = args->count, interval = args->interval_ms;
    job_t *job = s_job_new (self);
    job->count = count;
    job->stream = flot_request_open_stream (request, s_ticks_cancelled, job);
    job->timer = flot_loop_timer (flot_actor_loop (actor), (size_t) interval,
                              (size_t) count + 1, s_tick, job);
    flot_echo_ticks_reply_t reply = { .stream = flot_stream_id (job->stream) };
    flot_request_answer (&request, &reply);
}

static int
s_start (flot_actor_t *actor)
{
    echo_t *self = calloc (1, sizeof *self);
    assert (self);
    self->actor = actor;
    self->jobs = zlistx_new ();
    flot_actor_set_state (actor, self);
    return 0;
}

static void
s_stop (flot_actor_t *actor)
{
    echo_t *self = flot_actor_state (actor);
    //  Requests and streams still open are answered by the host.
    while (zlistx_size (self->jobs)) {
        job_t *job = zlistx_first (self->jobs);
        s_job_destroy (&job);
    }
    zlistx_destroy (&self->jobs);
    free (self);
}

static const flot_command_t s_commands [] = {
    { "Echo", s_echo },
    { "Sleep", s_sleep },
    { "Ticks", s_ticks },
    { NULL, NULL }
};

const flot_actor_def_t flot_echo_actor = {
    .service = "echo",
    .contract = &flot_echo_contract,
    .commands = s_commands,
    .start = s_start,
    .stop = s_stop
};
