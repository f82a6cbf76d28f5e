/*  provider_prometheus.c - Prometheus queries for the analyzer, without
    blocking it.

    libcurl's multi interface, driven by the actor's loop through
    flot_curl_loop (its sockets are pollers, its timeout a timer): a
    handler only ever starts a transfer, the loop says when one ended, and
    any number of queries run at once. Answers of the HTTP API
    (/api/v1/query, /api/v1/query_range) are read with jansson: every value
    of every series, in the answer's order.
*/
#include "analysis.h"
#include "flotilla/curl_loop.h"
#include "flotilla/log.h"

#include <jansson.h>
#include <math.h>
#include <sys/time.h>

#define WHO "analyzer"
#define MAX_ANSWER  (16 << 20)      //  bytes of one answer
#define MAX_VALUES  1000000         //  values in one answer

typedef struct {
    flot_prometheus_t *owner;
    uint64_t id;
    CURL *easy;
    char *data;
    size_t size, cap;
    bool overflow;
    flot_fetch_fn *fn;
    void *arg;
    char url [64];                  //  for messages: the start of the address
    char errbuf [CURL_ERROR_SIZE];
    void *handle;
} query_t;

struct _flot_prometheus_t {
    flot_curl_loop_t *curl;
    zlistx_t *queries;              //  query_t *
    uint64_t next_id;
};

//  --------------------------------------------------------------------------
//  Reading answers

//  A sample value is a string: "1.5", "NaN", "+Inf", "-Inf".
static int
s_sample (const json_t *pair, double *out)
{
    if (!json_is_array (pair) || json_array_size (pair) != 2)
        return -1;
    const char *text = json_string_value (json_array_get (pair, 1));
    if (!text)
        return -1;
    char *end;
    *out = strtod (text, &end);
    return *end || end == text ? -1 : 0;
}

static int
s_push (double **values, size_t *count, size_t *cap, double value)
{
    if (*count == MAX_VALUES)
        return -1;
    if (*count == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *values = realloc (*values, *cap * sizeof (double));
        assert (*values);
    }
    (*values) [(*count)++] = value;
    return 0;
}

int
flot_prometheus_values (const char *json, size_t size, double **values, size_t *count,
                        char *err, size_t err_cap)
{
    *values = NULL;
    *count = 0;
    json_error_t jerr;
    json_t *root = json_loadb (json, size, 0, &jerr);
    if (!root) {
        snprintf (err, err_cap, "the answer is not JSON: %s", jerr.text);
        return -1;
    }
    int rc = -1;
    size_t cap = 0;
    const char *status = json_string_value (json_object_get (root, "status"));
    json_t *data = json_object_get (root, "data");
    const char *type = json_string_value (json_object_get (data, "resultType"));
    json_t *result = json_object_get (data, "result");
    if (status && streq (status, "error")) {
        const char *etype = json_string_value (json_object_get (root, "errorType"));
        const char *message = json_string_value (json_object_get (root, "error"));
        snprintf (err, err_cap, "Prometheus says: %s%s%s", etype ? etype : "",
                  etype ? ": " : "", message ? message : "an error without a message");
    }
    else
    if (!status || !streq (status, "success") || !type || !result)
        snprintf (err, err_cap, "the answer is not a Prometheus query result");
    else
    if (streq (type, "scalar")) {
        double value;
        if (s_sample (result, &value))
            snprintf (err, err_cap, "a scalar result that is not [time, \"number\"]");
        else
            rc = s_push (values, count, &cap, value);
    }
    else
    if ((streq (type, "vector") || streq (type, "matrix")) && json_is_array (result)) {
        bool matrix = streq (type, "matrix");
        rc = 0;
        for (size_t i = 0; rc == 0 && i < json_array_size (result); i++) {
            json_t *series = json_array_get (result, i);
            json_t *points = json_object_get (series, matrix ? "values" : "value");
            double value;
            if (!matrix) {
                if (s_sample (points, &value)) {
                    snprintf (err, err_cap, "series %zu has no value [time, \"number\"]", i);
                    rc = -1;
                }
                else
                if (s_push (values, count, &cap, value)) {
                    snprintf (err, err_cap, "more than %d values", MAX_VALUES);
                    rc = -1;
                }
                continue;
            }
            if (!json_is_array (points)) {
                snprintf (err, err_cap, "series %zu has no values", i);
                rc = -1;
            }
            for (size_t p = 0; rc == 0 && p < json_array_size (points); p++) {
                if (s_sample (json_array_get (points, p), &value)) {
                    snprintf (err, err_cap, "series %zu, point %zu is not [time, \"number\"]", i, p);
                    rc = -1;
                }
                else
                if (s_push (values, count, &cap, value)) {
                    snprintf (err, err_cap, "more than %d values", MAX_VALUES);
                    rc = -1;
                }
            }
        }
    }
    else
        snprintf (err, err_cap, "a result of type %s, not numbers", type);
    json_decref (root);
    if (rc) {
        free (*values);
        *values = NULL;
        *count = 0;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Transfers

static size_t
s_on_data (char *ptr, size_t size, size_t nmemb, void *userdata)
{
    query_t *query = userdata;
    size_t bytes = size * nmemb;
    if (query->size + bytes > MAX_ANSWER) {
        query->overflow = true;
        return 0;               //  curl stops the transfer
    }
    if (query->size + bytes + 1 > query->cap) {
        query->cap = (query->size + bytes + 1) * 2;
        if (query->cap > MAX_ANSWER + 1)
            query->cap = MAX_ANSWER + 1;
        query->data = realloc (query->data, query->cap);
        assert (query->data);
    }
    memcpy (query->data + query->size, ptr, bytes);
    query->size += bytes;
    query->data [query->size] = 0;
    return bytes;
}

static void
s_query_free (query_t *query)
{
    flot_prometheus_t *self = query->owner;
    flot_curl_loop_remove (self->curl, query->easy);
    curl_easy_cleanup (query->easy);
    zlistx_delete (self->queries, query->handle);
    free (query->data);
    free (query);
}

//  A transfer ended: read the answer, tell the caller, free the query.
static void
s_finish (query_t *query, CURLcode code)
{
    double *values = NULL;
    size_t count = 0;
    char error [512] = "";
    long status = 0;
    curl_easy_getinfo (query->easy, CURLINFO_RESPONSE_CODE, &status);
    if (query->overflow)
        snprintf (error, sizeof error, "%s: the answer is larger than %d MiB",
                  query->url, MAX_ANSWER >> 20);
    else
    if (code != CURLE_OK)
        snprintf (error, sizeof error, "%s: %s", query->url,
                  *query->errbuf ? query->errbuf : curl_easy_strerror (code));
    else {
        char why [400];
        if (flot_prometheus_values (query->data ? query->data : "", query->size,
                                    &values, &count, why, sizeof why)) {
            if (status != 200 && !strstr (why, "Prometheus says"))
                snprintf (error, sizeof error, "%s: HTTP %ld", query->url, status);
            else
                snprintf (error, sizeof error, "%s: %s", query->url, why);
        }
    }
    flot_fetch_fn *fn = query->fn;
    void *arg = query->arg;
    s_query_free (query);
    fn (arg, values, count, *error ? error : NULL);
    free (values);
}

//  flot_curl_loop: a transfer ended.
static void
s_on_done (CURL *easy, CURLcode code, void *arg)
{
    (void) arg;
    query_t *query = NULL;
    curl_easy_getinfo (easy, CURLINFO_PRIVATE, (char **) &query);
    s_finish (query, code);
}

//  --------------------------------------------------------------------------
//  The class

flot_prometheus_t *
flot_prometheus_new (flot_loop_t *loop)
{
    assert (loop);
    flot_prometheus_t *self = calloc (1, sizeof *self);
    assert (self);
    self->curl = flot_curl_loop_new (loop, s_on_done, self);
    if (!self->curl) {
        free (self);
        return NULL;
    }
    self->queries = zlistx_new ();
    return self;
}

void
flot_prometheus_destroy (flot_prometheus_t **self_p)
{
    flot_prometheus_t *self = *self_p;
    if (!self)
        return;
    query_t *query;
    while ((query = zlistx_first (self->queries)))
        s_query_free (query);
    zlistx_destroy (&self->queries);
    flot_curl_loop_destroy (&self->curl);
    free (self);
    *self_p = NULL;
}

//  "%.3f" seconds, for the API's time parameters.
static void
s_seconds (char *out, size_t cap, int64_t ms)
{
    snprintf (out, cap, "%lld.%03lld", (long long) (ms / 1000), (long long) (ms % 1000));
}

uint64_t
flot_prometheus_query (flot_prometheus_t *self, const char *address, const char *query_text,
                       int64_t range_ms, int64_t step_ms, int64_t timeout_ms,
                       flot_fetch_fn *fn, void *arg, char *err, size_t err_cap)
{
    assert (self);
    assert (fn);
    if (strncmp (address, "http://", 7) && strncmp (address, "https://", 8)) {
        snprintf (err, err_cap, "'%s' is not an http:// or https:// URL", address);
        return 0;
    }
    CURL *easy = curl_easy_init ();
    if (!easy) {
        snprintf (err, err_cap, "cannot start a transfer (libcurl)");
        return 0;
    }
    char *escaped = curl_easy_escape (easy, query_text, 0);
    size_t base = strlen (address);
    while (base && address [base - 1] == '/')
        base--;
    size_t cap = base + strlen (escaped) + 200;
    char *url = malloc (cap);
    if (range_ms > 0) {
        struct timeval now;
        gettimeofday (&now, NULL);
        int64_t end = (int64_t) now.tv_sec * 1000 + now.tv_usec / 1000;
        char start_s [32], end_s [32], step_s [32];
        s_seconds (start_s, sizeof start_s, end - range_ms);
        s_seconds (end_s, sizeof end_s, end);
        s_seconds (step_s, sizeof step_s, step_ms > 0 ? step_ms : 5000);
        snprintf (url, cap, "%.*s/api/v1/query_range?query=%s&start=%s&end=%s&step=%s",
                  (int) base, address, escaped, start_s, end_s, step_s);
    }
    else
        snprintf (url, cap, "%.*s/api/v1/query?query=%s", (int) base, address, escaped);
    curl_free (escaped);

    query_t *query = calloc (1, sizeof *query);
    assert (query);
    query->owner = self;
    query->id = ++self->next_id;
    query->easy = easy;
    query->fn = fn;
    query->arg = arg;
    snprintf (query->url, sizeof query->url, "%.*s", (int) (base < 60 ? base : 60), address);
    curl_easy_setopt (easy, CURLOPT_URL, url);
    curl_easy_setopt (easy, CURLOPT_PRIVATE, query);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_on_data);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, query);
    curl_easy_setopt (easy, CURLOPT_ERRORBUFFER, query->errbuf);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, (long) (timeout_ms > 0 ? timeout_ms : 10000));
    curl_easy_setopt (easy, CURLOPT_USERAGENT, "flotilla-analyzer");
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt (easy, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    free (url);
    query->handle = zlistx_add_end (self->queries, query);
    if (flot_curl_loop_add (self->curl, easy)) {
        zlistx_delete (self->queries, query->handle);
        curl_easy_cleanup (easy);
        free (query);
        snprintf (err, err_cap, "cannot start a transfer (libcurl)");
        return 0;
    }
    return query->id;
}

void
flot_prometheus_cancel (flot_prometheus_t *self, uint64_t id)
{
    assert (self);
    for (query_t *query = zlistx_first (self->queries); query; query = zlistx_next (self->queries))
        if (query->id == id) {
            s_query_free (query);
            return;
        }
}
