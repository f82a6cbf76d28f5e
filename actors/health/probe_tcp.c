/*  probe_tcp.c - the TCP probe: healthy when a connection to host:port
    opens within the timeout. An address is a non-blocking connect watched
    by the loop; a host name goes through libcurl (CONNECT_ONLY), whose
    resolver does not block the loop.
*/
#include "probe.h"
#include "flotilla/template.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

//  Splits "host:port" or "[v6]:port" into host and port. Returns 0 or -1.
static int
s_split (const char *address, char *host, size_t cap, int *port)
{
    const char *colon = strrchr (address, ':');
    if (!colon || colon == address)
        return -1;
    const char *start = address, *end = colon;
    if (*address == '[') {
        if (colon [-1] != ']')
            return -1;
        start++;
        end--;
    }
    if (end <= start || (size_t) (end - start) >= cap)
        return -1;
    memcpy (host, start, (size_t) (end - start));
    host [end - start] = 0;
    char *rest;
    long value = strtol (colon + 1, &rest, 10);
    if (!colon [1] || *rest || value < 1 || value > 65535)
        return -1;
    *port = (int) value;
    return 0;
}

static int
s_start_curl (probe_t *probe, const char *host, int port, char *why, size_t cap)
{
    char url [400];
    snprintf (url, sizeof url, strchr (host, ':') ? "http://[%s]:%d/" : "http://%s:%d/",
              host, port);
    CURL *easy = probe->easy = curl_easy_init ();
    if (!easy) {
        snprintf (why, cap, "%s: libcurl cannot make a connection", probe->what);
        return -1;
    }
    curl_easy_setopt (easy, CURLOPT_URL, url);
    curl_easy_setopt (easy, CURLOPT_PRIVATE, (char *) probe);
    curl_easy_setopt (easy, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, (long) probe->timeout_ms);
    curl_easy_setopt (easy, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt (easy, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt (easy, CURLOPT_ERRORBUFFER, probe->errbuf);
    if (curl_multi_add_handle (prober_multi (probe->prober), easy) != CURLM_OK) {
        snprintf (why, cap, "%s: libcurl cannot start the connection", probe->what);
        curl_easy_cleanup (easy);
        probe->easy = NULL;
        return -1;
    }
    return 0;
}

int
probe_tcp_start (probe_t *probe, const flot_check_t *check,
                 const flot_health_context_t *context, char *why, size_t cap)
{
    char reason [300], host [256];
    int port;
    char *address = flot_template_expand (check->address, context, NULL, reason, sizeof reason);
    if (!address) {
        snprintf (probe->what, sizeof probe->what, "tcp %.300s", check->address);
        snprintf (why, cap, "%s: %s", probe->what, reason);
        return -1;
    }
    snprintf (probe->what, sizeof probe->what, "tcp %.300s", address);
    int rc = s_split (address, host, sizeof host, &port);
    free (address);
    if (rc) {
        snprintf (why, cap, "%s: not host:port", probe->what);
        return -1;
    }
    struct sockaddr_storage sa;
    socklen_t sa_size;
    memset (&sa, 0, sizeof sa);
    struct sockaddr_in *v4 = (struct sockaddr_in *) &sa;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *) &sa;
    if (inet_pton (AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons ((uint16_t) port);
        sa_size = sizeof *v4;
    }
    else
    if (inet_pton (AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons ((uint16_t) port);
        sa_size = sizeof *v6;
    }
    else
        return s_start_curl (probe, host, port, why, cap);

    probe->fd = socket (sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (probe->fd < 0) {
        snprintf (why, cap, "%s: cannot make a socket: %s", probe->what, strerror (errno));
        return -1;
    }
    if (connect (probe->fd, (struct sockaddr *) &sa, sa_size) && errno != EINPROGRESS) {
        snprintf (why, cap, "%s: %s", probe->what, strerror (errno));
        close (probe->fd);
        probe->fd = -1;
        return -1;
    }
    //  Connected at once or later: the loop tells us either way.
    if (prober_watch (probe->prober, probe, probe->fd, ZMQ_POLLOUT)) {
        snprintf (why, cap, "%s: cannot watch the socket", probe->what);
        close (probe->fd);
        probe->fd = -1;
        return -1;
    }
    return 0;
}

void
probe_tcp_event (probe_t *probe, int fd, short revents)
{
    //  The loop never calls a poller ended earlier, so revents are this
    //  socket's: no poll () of our own to ask it again.
    if (fd != probe->fd || !(revents & (ZMQ_POLLOUT | ZMQ_POLLERR)))
        return;
    int error = 0;
    socklen_t size = sizeof error;
    if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &error, &size))
        error = errno;
    if (error)
        prober_finish (probe, false, -1, "%s: %s", probe->what, strerror (error));
    else
        prober_finish (probe, true, -1, "%s: connected", probe->what);
}

void
probe_tcp_curl_done (probe_t *probe, CURLcode code)
{
    if (code == CURLE_OPERATION_TIMEDOUT)
        prober_finish (probe, false, -1, "%s: timed out after %lld ms", probe->what,
                       (long long) probe->timeout_ms);
    else
    if (code != CURLE_OK)
        prober_finish (probe, false, -1, "%s: %s", probe->what,
                       probe->errbuf [0] ? probe->errbuf : curl_easy_strerror (code));
    else
        prober_finish (probe, true, -1, "%s: connected", probe->what);
}

void
probe_tcp_release (probe_t *probe)
{
    if (probe->fd >= 0) {
        prober_unwatch (probe->prober, probe->fd);
        close (probe->fd);
        probe->fd = -1;
    }
    if (probe->easy && probe->kind == FLOT_CHECK_TCP) {
        curl_multi_remove_handle (prober_multi (probe->prober), probe->easy);
        curl_easy_cleanup (probe->easy);
        probe->easy = NULL;
    }
}
