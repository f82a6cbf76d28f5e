/*  health_server.c - a small real HTTP server for the health tests.  */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "health_server.h"

struct _health_server_t {
    int fd;
    int stop [2];
    pthread_t thread;
    pthread_mutex_t lock;
    int status, delay_ms;
    char body [256];
    char last [4096];
    int requests, active, max_active;
};

typedef struct {
    health_server_t *server;
    int fd;
} conn_t;

static void
s_sleep_ms (int ms)
{
    struct timespec t = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep (&t, NULL);
}

static void *
s_connection (void *arg)
{
    conn_t *conn = arg;
    health_server_t *self = conn->server;
    char request [4096];
    size_t used = 0;
    while (used < sizeof request - 1) {
        struct pollfd item = { conn->fd, POLLIN, 0 };
        if (poll (&item, 1, 2000) != 1)
            break;
        ssize_t got = read (conn->fd, request + used, sizeof request - 1 - used);
        if (got <= 0)
            break;
        used += (size_t) got;
        request [used] = 0;
        if (strstr (request, "\r\n\r\n"))
            break;
    }
    request [used] = 0;
    pthread_mutex_lock (&self->lock);
    snprintf (self->last, sizeof self->last, "%s", request);
    self->requests++;
    int status = self->status, delay = self->delay_ms;
    char body [256];
    snprintf (body, sizeof body, "%s", self->body);
    pthread_mutex_unlock (&self->lock);
    s_sleep_ms (delay);
    char response [512];
    int size = snprintf (response, sizeof response,
                         "HTTP/1.1 %d Test\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         status, strlen (body), strncmp (request, "HEAD", 4) ? body : "");
    //  No longer active once the client can have its answer.
    pthread_mutex_lock (&self->lock);
    self->active--;
    pthread_mutex_unlock (&self->lock);
    if (write (conn->fd, response, (size_t) size) < 0)
        perror ("health_server write");
    close (conn->fd);
    free (conn);
    return NULL;
}

static void *
s_serve (void *arg)
{
    health_server_t *self = arg;
    while (true) {
        struct pollfd items [2] = { { self->fd, POLLIN, 0 }, { self->stop [0], POLLIN, 0 } };
        if (poll (items, 2, -1) < 0 && errno != EINTR)
            break;
        if (items [1].revents)
            break;
        if (!(items [0].revents & POLLIN))
            continue;
        int fd = accept (self->fd, NULL, NULL);
        if (fd < 0)
            continue;
        conn_t *conn = malloc (sizeof *conn);
        conn->server = self;
        conn->fd = fd;
        pthread_mutex_lock (&self->lock);
        if (++self->active > self->max_active)
            self->max_active = self->active;
        pthread_mutex_unlock (&self->lock);
        pthread_t thread;
        pthread_create (&thread, NULL, s_connection, conn);
        pthread_detach (thread);
    }
    return NULL;
}

health_server_t *
health_server_new (int port)
{
    health_server_t *self = calloc (1, sizeof *self);
    self->fd = socket (AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt (self->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (bind (self->fd, (struct sockaddr *) &sa, sizeof sa) || listen (self->fd, 1024)) {
        close (self->fd);
        free (self);
        return NULL;
    }
    self->status = 200;
    strcpy (self->body, "ok");
    pthread_mutex_init (&self->lock, NULL);
    if (pipe (self->stop))
        abort ();
    pthread_create (&self->thread, NULL, s_serve, self);
    return self;
}

void
health_server_destroy (health_server_t **self_p)
{
    health_server_t *self = *self_p;
    if (!self)
        return;
    if (write (self->stop [1], "x", 1) < 0)
        perror ("health_server stop");
    pthread_join (self->thread, NULL);
    close (self->fd);
    //  Connections still being served finish on their own.
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock (&self->lock);
        int active = self->active;
        pthread_mutex_unlock (&self->lock);
        if (!active)
            break;
        s_sleep_ms (10);
    }
    close (self->stop [0]);
    close (self->stop [1]);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

void
health_server_set (health_server_t *self, int status, const char *body, int delay_ms)
{
    pthread_mutex_lock (&self->lock);
    self->status = status;
    snprintf (self->body, sizeof self->body, "%s", body);
    self->delay_ms = delay_ms;
    pthread_mutex_unlock (&self->lock);
}

void
health_server_last (health_server_t *self, char *buf, size_t cap)
{
    pthread_mutex_lock (&self->lock);
    snprintf (buf, cap, "%s", self->last);
    pthread_mutex_unlock (&self->lock);
}

int
health_server_requests (health_server_t *self)
{
    pthread_mutex_lock (&self->lock);
    int n = self->requests;
    pthread_mutex_unlock (&self->lock);
    return n;
}

int
health_server_max_active (health_server_t *self)
{
    pthread_mutex_lock (&self->lock);
    int n = self->max_active;
    pthread_mutex_unlock (&self->lock);
    return n;
}

void
health_server_reset_counts (health_server_t *self)
{
    pthread_mutex_lock (&self->lock);
    self->requests = self->max_active = 0;
    pthread_mutex_unlock (&self->lock);
}
