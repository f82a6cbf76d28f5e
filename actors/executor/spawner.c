/*  spawner.c - the executor's spawning thread. See spawner.h.

    Two lists under one lock: jobs to run and jobs done. The thread takes
    the oldest job to run, runs it unlocked, appends it to the done ones and
    bumps an eventfd that the executor's loop watches.
*/
#include "spawner.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct _node_t {
    void *job;
    struct _node_t *next;
} node_t;

typedef struct {
    node_t *head, *tail;
} list_t;

struct _spawner_t {
    spawner_fn *fn;
    int fd;                     //  eventfd: done jobs wait
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work;        //  a job to run, or the end
    pthread_cond_t idle;        //  nothing left to run
    list_t todo, done;          //  under lock
    size_t pending;             //  pushed, not yet taken
    bool running;               //  the thread runs a job it took from todo
    bool ending;
};

static void
s_append (list_t *list, node_t *node)
{
    node->next = NULL;
    if (list->tail)
        list->tail->next = node;
    else
        list->head = node;
    list->tail = node;
}

static node_t *
s_pop (list_t *list)
{
    node_t *node = list->head;
    if (node) {
        list->head = node->next;
        if (!list->head)
            list->tail = NULL;
    }
    return node;
}

static void *
s_thread (void *arg)
{
    spawner_t *self = arg;
    pthread_mutex_lock (&self->lock);
    for (;;) {
        node_t *node = s_pop (&self->todo);
        if (!node) {
            pthread_cond_broadcast (&self->idle);
            if (self->ending)
                break;
            pthread_cond_wait (&self->work, &self->lock);
            continue;
        }
        self->running = true;
        pthread_mutex_unlock (&self->lock);
        self->fn (node->job);
        pthread_mutex_lock (&self->lock);
        self->running = false;
        s_append (&self->done, node);
        //  Written under the lock, so that spawner_take's second look
        //  cannot miss a job whose bump it cleared.
        eventfd_write (self->fd, 1);
    }
    pthread_mutex_unlock (&self->lock);
    return NULL;
}

spawner_t *
spawner_new (spawner_fn *fn, char *why, size_t size)
{
    spawner_t *self = calloc (1, sizeof *self);
    assert (self);
    self->fn = fn;
    self->fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->fd < 0) {
        snprintf (why, size, "cannot make an eventfd: %s", strerror (errno));
        free (self);
        return NULL;
    }
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->work, NULL);
    pthread_cond_init (&self->idle, NULL);
    //  The thread is born with every signal blocked: none is ever its to
    //  handle, and a child it starts begins with its mask.
    sigset_t all, old;
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &old);
    int rc = pthread_create (&self->thread, NULL, s_thread, self);
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    if (rc) {
        snprintf (why, size, "cannot start the spawning thread: %s", strerror (rc));
        pthread_cond_destroy (&self->idle);
        pthread_cond_destroy (&self->work);
        pthread_mutex_destroy (&self->lock);
        close (self->fd);
        free (self);
        return NULL;
    }
    return self;
}

int
spawner_fd (spawner_t *self)
{
    assert (self);
    return self->fd;
}

void
spawner_push (spawner_t *self, void *job)
{
    assert (self);
    node_t *node = malloc (sizeof *node);
    assert (node);
    node->job = job;
    pthread_mutex_lock (&self->lock);
    assert (!self->ending);
    s_append (&self->todo, node);
    self->pending++;
    pthread_cond_signal (&self->work);
    pthread_mutex_unlock (&self->lock);
}

//  The oldest done job, or NULL.
static void *
s_take_done (spawner_t *self)
{
    pthread_mutex_lock (&self->lock);
    node_t *node = s_pop (&self->done);
    if (node)
        self->pending--;
    pthread_mutex_unlock (&self->lock);
    void *job = node ? node->job : NULL;
    free (node);
    return job;
}

void *
spawner_take (spawner_t *self)
{
    assert (self);
    void *job = s_take_done (self);
    if (job)
        return job;
    //  None: clear the bump, then look again, for a job done in between.
    eventfd_t count;
    eventfd_read (self->fd, &count);
    return s_take_done (self);
}

size_t
spawner_size (spawner_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    size_t size = self->pending;
    pthread_mutex_unlock (&self->lock);
    return size;
}

void
spawner_drain (spawner_t *self)
{
    assert (self);
    pthread_mutex_lock (&self->lock);
    while (self->todo.head || self->running)
        pthread_cond_wait (&self->idle, &self->lock);
    pthread_mutex_unlock (&self->lock);
}

void
spawner_destroy (spawner_t **self_p)
{
    assert (self_p);
    spawner_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock (&self->lock);
    self->ending = true;
    pthread_cond_signal (&self->work);
    pthread_mutex_unlock (&self->lock);
    pthread_join (self->thread, NULL);
    node_t *node;
    while ((node = s_pop (&self->done)))
        free (node);
    pthread_cond_destroy (&self->idle);
    pthread_cond_destroy (&self->work);
    pthread_mutex_destroy (&self->lock);
    close (self->fd);
    free (self);
    *self_p = NULL;
}
