/*  probe_http.c - the HTTP(S) probe: one GET or HEAD through libcurl's
    multi interface (driven by prober.c), healthy when the status is in the
    check's list and, if asked, the body holds the wanted text.
*/
#include "probe.h"
#include "flotilla/template.h"

#define USER_AGENT "flotilla-health/1"

static size_t
s_on_data (char *data, size_t size, size_t nmemb, void *arg)
{
    probe_t *probe = arg;
    size_t bytes = size * nmemb;
    if (probe->want && probe->got_size < PROBE_BODY_MAX) {
        size_t take = bytes;
        if (probe->got_size + take > PROBE_BODY_MAX)
            take = PROBE_BODY_MAX - probe->got_size;
        char *grown = realloc (probe->got, probe->got_size + take + 1);
        if (!grown)
            return 0;
        probe->got = grown;
        memcpy (probe->got + probe->got_size, data, take);
        probe->got_size += take;
        probe->got [probe->got_size] = 0;
    }
    return bytes;
}

int
probe_http_start (probe_t *probe, const flot_check_t *check,
                  const flot_health_context_t *context, char *why, size_t cap)
{
    const char *method = check->head ? "HEAD" : "GET";
    char reason [300];
    char *url = flot_template_expand (check->url, context, NULL, reason, sizeof reason);
    if (!url) {
        snprintf (probe->what, sizeof probe->what, "%s %.300s", method, check->url);
        snprintf (why, cap, "%s: %s", probe->what, reason);
        return -1;
    }
    snprintf (probe->what, sizeof probe->what, "%s %.300s", method, url);
    if (strncasecmp (url, "http://", 7) && strncasecmp (url, "https://", 8)) {
        snprintf (why, cap, "%s: not an http:// or https:// URL", probe->what);
        free (url);
        return -1;
    }
    for (size_t i = 0; i < check->header_count; i++) {
        char *value = flot_template_expand (check->header_values [i], context, NULL,
                                            reason, sizeof reason);
        if (!value || strpbrk (value, "\r\n")) {
            snprintf (why, cap, "%s: header %s: %s", probe->what, check->header_names [i],
                      value ? "the value holds a line break" : reason);
            free (value);
            free (url);
            return -1;
        }
        char *line = malloc (strlen (check->header_names [i]) + strlen (value) + 3);
        sprintf (line, "%s: %s", check->header_names [i], value);
        probe->headers = curl_slist_append (probe->headers, line);
        free (line);
        free (value);
    }
    for (size_t i = 0; i < check->status_count; i++) {
        probe->status_lo [i] = check->status [i].lo;
        probe->status_hi [i] = check->status [i].hi;
    }
    probe->status_count = check->status_count;
    snprintf (probe->status_text, sizeof probe->status_text, "%s", check->status_text);
    if (check->body)
        probe->want = strdup (check->body);

    CURL *easy = probe->easy = curl_easy_init ();
    if (!easy) {
        snprintf (why, cap, "%s: libcurl cannot make a transfer", probe->what);
        free (url);
        return -1;
    }
    curl_easy_setopt (easy, CURLOPT_URL, url);
    free (url);
    curl_easy_setopt (easy, CURLOPT_PRIVATE, (char *) probe);
    curl_easy_setopt (easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (easy, CURLOPT_NOBODY, check->head ? 1L : 0L);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, (long) check->timeout_ms);
    curl_easy_setopt (easy, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt (easy, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt (easy, CURLOPT_USERAGENT, USER_AGENT);
    curl_easy_setopt (easy, CURLOPT_HTTPHEADER, probe->headers);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_on_data);
    curl_easy_setopt (easy, CURLOPT_WRITEDATA, probe);
    curl_easy_setopt (easy, CURLOPT_ERRORBUFFER, probe->errbuf);
    if (check->insecure) {
        curl_easy_setopt (easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt (easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (curl_multi_add_handle (prober_multi (probe->prober), easy) != CURLM_OK) {
        snprintf (why, cap, "%s: libcurl cannot start the transfer", probe->what);
        curl_easy_cleanup (easy);
        probe->easy = NULL;
        return -1;
    }
    return 0;
}

void
probe_http_done (probe_t *probe, CURLcode code)
{
    if (code == CURLE_OPERATION_TIMEDOUT) {
        prober_finish (probe, false, -1, "%s: timed out after %lld ms", probe->what,
                       (long long) probe->timeout_ms);
        return;
    }
    if (code != CURLE_OK) {
        prober_finish (probe, false, -1, "%s: %s", probe->what,
                       probe->errbuf [0] ? probe->errbuf : curl_easy_strerror (code));
        return;
    }
    long status = 0;
    curl_easy_getinfo (probe->easy, CURLINFO_RESPONSE_CODE, &status);
    bool in = false;
    for (size_t i = 0; i < probe->status_count; i++)
        in = in || (status >= probe->status_lo [i] && status <= probe->status_hi [i]);
    if (!in)
        prober_finish (probe, false, (int) status, "%s: status %ld, expected %s",
                       probe->what, status, probe->status_text);
    else
    if (probe->want && !(probe->got && memmem (probe->got, probe->got_size, probe->want, strlen (probe->want))))
        prober_finish (probe, false, (int) status, "%s: status %ld, but the body does not "
                       "contain \"%.100s\"", probe->what, status, probe->want);
    else
        prober_finish (probe, true, (int) status, "%s: status %ld", probe->what, status);
}

void
probe_http_release (probe_t *probe)
{
    if (probe->easy && probe->kind == FLOT_CHECK_HTTP) {
        curl_multi_remove_handle (prober_multi (probe->prober), probe->easy);
        curl_easy_cleanup (probe->easy);
        probe->easy = NULL;
    }
    curl_slist_free_all (probe->headers);
    probe->headers = NULL;
    free (probe->want);
    free (probe->got);
    probe->want = probe->got = NULL;
}
