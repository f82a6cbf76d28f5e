/*  test_spawner.c - the executor's spawning thread: jobs run on a thread of
    its own, in order, and come back through a descriptor that is readable
    exactly while one waits.
*/
#include "spawner.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

typedef struct {
    int index;
    pthread_t thread;           //  where fn ran
    bool blocked;               //  SIGTERM blocked there
    int order;                  //  the how-manieth job fn ran
} job_t;

static int s_ran;               //  jobs run (written by the spawner's thread only)
static volatile int s_stall_ms; //  fn sleeps this long

static void
s_job (void *arg)
{
    job_t *job = arg;
    job->thread = pthread_self ();
    sigset_t mask;
    pthread_sigmask (SIG_SETMASK, NULL, &mask);
    job->blocked = sigismember (&mask, SIGTERM);
    if (s_stall_ms) {
        struct timespec pause = { 0, (long) s_stall_ms * 1000000L };
        nanosleep (&pause, NULL);
    }
    job->order = s_ran++;
}

static bool
s_readable (int fd, int timeout_ms)
{
    struct pollfd item = { .fd = fd, .events = POLLIN };
    return poll (&item, 1, timeout_ms) == 1;
}

static void
test_spawner_runs_jobs_in_order_on_its_thread (void **state)
{
    (void) state;
    s_ran = 0;
    s_stall_ms = 0;
    char why [200];
    spawner_t *spawner = spawner_new (s_job, why, sizeof why);
    assert_non_null (spawner);
    int fd = spawner_fd (spawner);
    assert_false (s_readable (fd, 0));
    assert_null (spawner_take (spawner));
    enum { JOBS = 200 };
    job_t jobs [JOBS];
    memset (jobs, 0, sizeof jobs);
    for (int i = 0; i < JOBS; i++) {
        jobs [i].index = i;
        spawner_push (spawner, &jobs [i]);
    }
    //  Back in the order pushed, each once, readable until the last.
    int taken = 0;
    while (taken < JOBS) {
        assert_true (s_readable (fd, 5000));
        job_t *job;
        while ((job = spawner_take (spawner))) {
            assert_int_equal (job->index, taken);
            assert_int_equal (job->order, taken);
            assert_false (pthread_equal (job->thread, pthread_self ()));
            assert_true (pthread_equal (job->thread, jobs [0].thread));
            assert_true (job->blocked);
            taken++;
        }
    }
    assert_int_equal (spawner_size (spawner), 0);
    assert_false (s_readable (fd, 50));
    spawner_destroy (&spawner);
    assert_null (spawner);
}

static void
test_spawner_drains_before_it_ends (void **state)
{
    (void) state;
    s_ran = 0;
    s_stall_ms = 20;
    char why [200];
    spawner_t *spawner = spawner_new (s_job, why, sizeof why);
    assert_non_null (spawner);
    job_t jobs [5];
    memset (jobs, 0, sizeof jobs);
    for (int i = 0; i < 5; i++)
        spawner_push (spawner, &jobs [i]);
    assert_int_equal (spawner_size (spawner), 5);
    //  Drain: every job run, none taken yet, the thread still there.
    spawner_drain (spawner);
    assert_int_equal (s_ran, 5);
    assert_int_equal (spawner_size (spawner), 5);
    for (int i = 0; i < 5; i++)
        assert_ptr_equal (spawner_take (spawner), &jobs [i]);
    assert_null (spawner_take (spawner));
    //  A job pushed after a drain runs as well.
    s_stall_ms = 0;
    job_t late = { .index = 5 };
    spawner_push (spawner, &late);
    assert_true (s_readable (spawner_fd (spawner), 5000));
    assert_ptr_equal (spawner_take (spawner), &late);
    assert_int_equal (late.order, 5);
    //  Destroy runs what is still queued before the thread ends.
    s_stall_ms = 10;
    job_t last [3];
    memset (last, 0, sizeof last);
    for (int i = 0; i < 3; i++)
        spawner_push (spawner, &last [i]);
    spawner_destroy (&spawner);
    assert_int_equal (s_ran, 9);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_spawner_runs_jobs_in_order_on_its_thread),
        cmocka_unit_test (test_spawner_drains_before_it_ends),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
