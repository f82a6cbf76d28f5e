/*  prometheus_util.c - a real Prometheus and the fixture server it scrapes,
    for tests (see prometheus_util.h). Uses libcurl's easy interface to
    wait: tests may block, actors may not.  */
#include "prometheus_util.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct _prom_fixture_t {
    char dir [256];
    char url [64];
    pid_t fixture, prometheus;
};

typedef struct {
    char *data;
    size_t size;
} buffer_t;

static size_t
s_write (char *ptr, size_t size, size_t nmemb, void *userdata)
{
    buffer_t *buffer = userdata;
    size_t bytes = size * nmemb;
    buffer->data = realloc (buffer->data, buffer->size + bytes + 1);
    memcpy (buffer->data + buffer->size, ptr, bytes);
    buffer->size += bytes;
    buffer->data [buffer->size] = 0;
    return bytes;
}

//  GET url; returns the HTTP status (0 if no answer) and the body (free it).
static long
s_get (const char *url, char **body)
{
    CURL *easy = curl_easy_init ();
    buffer_t buffer = { NULL, 0 };
    curl_easy_setopt (easy, CURLOPT_URL, url);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, &buffer);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    if (curl_easy_perform (easy) == CURLE_OK)
        curl_easy_getinfo (easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup (easy);
    if (body)
        *body = buffer.data;
    else
        free (buffer.data);
    return status;
}

static void
s_sleep_ms (int ms)
{
    struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
    nanosleep (&ts, NULL);
}

static pid_t
s_spawn (char *const argv [], const char *log)
{
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen (&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2 (&actions, 1, 2);
    pid_t pid = 0;
    int rc = posix_spawnp (&pid, argv [0], &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy (&actions);
    if (rc) {
        fprintf (stderr, "prometheus_util: cannot run %s: %s\n", argv [0], strerror (rc));
        return 0;
    }
    return pid;
}

int
prom_fixture_write (prom_fixture_t *self, const char *name, const char *text)
{
    char tmp [512], path [512];
    snprintf (tmp, sizeof tmp, "%s/.%s.tmp", self->dir, name);
    snprintf (path, sizeof path, "%s/%s.prom", self->dir, name);
    FILE *file = fopen (tmp, "w");
    if (!file)
        return -1;
    fputs (text, file);
    fclose (file);
    return rename (tmp, path);
}

const char *
prom_fixture_url (prom_fixture_t *self)
{
    return self->url;
}

bool
prom_fixture_wait (prom_fixture_t *self, const char *query, double expected, int timeout_ms)
{
    CURL *easy = curl_easy_init ();
    char *escaped = curl_easy_escape (easy, query, 0);
    curl_easy_cleanup (easy);
    char url [1024];
    snprintf (url, sizeof url, "%s/api/v1/query?query=%s", self->url, escaped);
    curl_free (escaped);
    for (int waited = 0; waited < timeout_ms; waited += 200) {
        char *body = NULL;
        if (s_get (url, &body) == 200 && body) {
            //  "value":[1700000000.123,"1"]
            char *value = strstr (body, "\"value\":[");
            char *quote = value ? strchr (value + 9, '"') : NULL;
            if (quote) {
                double got = strtod (quote + 1, NULL);
                if (got - expected < 1e-9 && expected - got < 1e-9) {
                    free (body);
                    return true;
                }
            }
        }
        free (body);
        s_sleep_ms (200);
    }
    return false;
}

prom_fixture_t *
prom_fixture_start (const char *script, int fixture_port, int prom_port, const char *initial)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
    prom_fixture_t *self = calloc (1, sizeof *self);
    snprintf (self->dir, sizeof self->dir, "/tmp/flot-prom-XXXXXX");
    if (!mkdtemp (self->dir)) {
        fprintf (stderr, "prometheus_util: mkdtemp: %s\n", strerror (errno));
        free (self);
        return NULL;
    }
    snprintf (self->url, sizeof self->url, "http://127.0.0.1:%d", prom_port);
    if (initial)
        prom_fixture_write (self, "initial", initial);
    char path [512], log [512], port [16], config [600], tsdb [600], listen [64];
    snprintf (path, sizeof path, "%s/prometheus.yml", self->dir);
    FILE *file = fopen (path, "w");
    fprintf (file,
             "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
             "scrape_configs:\n"
             "  - job_name: fixture\n"
             "    static_configs: [{targets: ['127.0.0.1:%d']}]\n", fixture_port);
    fclose (file);
    snprintf (log, sizeof log, "%s/log", self->dir);
    snprintf (port, sizeof port, "%d", fixture_port);
    char *fixture_argv [] = { "python3", (char *) script, port, self->dir, NULL };
    self->fixture = s_spawn (fixture_argv, log);
    const char *binary = getenv ("PROMETHEUS") ? getenv ("PROMETHEUS") : "/usr/bin/prometheus";
    snprintf (config, sizeof config, "--config.file=%s", path);
    snprintf (tsdb, sizeof tsdb, "--storage.tsdb.path=%s/tsdb", self->dir);
    snprintf (listen, sizeof listen, "--web.listen-address=127.0.0.1:%d", prom_port);
    char *prom_argv [] = { (char *) binary, config, tsdb, listen, "--log.level=warn", NULL };
    self->prometheus = s_spawn (prom_argv, log);
    char ready [128];
    snprintf (ready, sizeof ready, "%s/-/ready", self->url);
    bool up = self->fixture && self->prometheus;
    int waited = 0;
    while (up && s_get (ready, NULL) != 200 && waited < 30000) {
        s_sleep_ms (100);
        waited += 100;
    }
    //  Scraped once: the fixture's target is up.
    if (!up || waited >= 30000 || !prom_fixture_wait (self, "up{job=\"fixture\"}", 1, 30000)) {
        fprintf (stderr, "prometheus_util: Prometheus did not come up; its log:\n");
        char command [600];
        snprintf (command, sizeof command, "cat '%s' >&2", log);
        if (system (command) != 0)
            fprintf (stderr, "(no log)\n");
        prom_fixture_stop (&self);
        return NULL;
    }
    return self;
}

void
prom_fixture_stop (prom_fixture_t **self_p)
{
    prom_fixture_t *self = *self_p;
    if (!self)
        return;
    if (self->prometheus) {
        kill (self->prometheus, SIGTERM);
        waitpid (self->prometheus, NULL, 0);
    }
    if (self->fixture) {
        kill (self->fixture, SIGTERM);
        waitpid (self->fixture, NULL, 0);
    }
    char command [400];
    snprintf (command, sizeof command, "rm -rf '%s'", self->dir);
    if (system (command) != 0)
        fprintf (stderr, "prometheus_util: could not remove %s\n", self->dir);
    free (self);
    *self_p = NULL;
}
