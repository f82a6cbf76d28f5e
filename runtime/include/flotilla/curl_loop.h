/*  flotilla/curl_loop.h - libcurl's multi interface driven by a flot_loop.

    One CURLM whose sockets are loop pollers and whose timeout is one loop
    timer, so transfers advance as their sockets get ready and a handler
    never blocks. The owner adds easy handles; when one ends, the done
    function given to new is called from the loop with the handle and its
    result (the owner finds its own record through CURLOPT_PRIVATE). Used by
    the analyzer's Prometheus provider and the health actor's prober.
*/
#ifndef FLOTILLA_CURL_LOOP_H_INCLUDED
#define FLOTILLA_CURL_LOOP_H_INCLUDED

#include <czmq.h>
#include <flotilla/loop.h>
#include <curl/curl.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _flot_curl_loop_t flot_curl_loop_t;

//  A transfer ended (code CURLE_OK or the failure). The handle is still in
//  the multi: the function removes it (flot_curl_loop_remove) before it
//  frees it. It may add and remove other handles.
typedef void (flot_curl_done_fn) (CURL *easy, CURLcode code, void *arg);

//  Starts libcurl once per process (curl_global_init). Returns NULL, with a
//  log line, if libcurl cannot start.
flot_curl_loop_t *
    flot_curl_loop_new (flot_loop_t *loop, flot_curl_done_fn *done, void *arg);

//  Ends the loop's pollers and timer and frees the multi. Handles still in
//  it are left to their owner (curl_easy_cleanup).
void
    flot_curl_loop_destroy (flot_curl_loop_t **self_p);

//  Starts a transfer. Returns 0, or -1 if libcurl refuses the handle.
int
    flot_curl_loop_add (flot_curl_loop_t *self, CURL *easy);

//  Stops a transfer (finished or not): its done function is not called
//  after this. The caller still owns the handle.
void
    flot_curl_loop_remove (flot_curl_loop_t *self, CURL *easy);

//  The multi, for code that adds and removes handles itself
//  (curl_multi_add_handle, curl_multi_remove_handle); the loop still drives
//  them and calls done.
CURLM *
    flot_curl_loop_multi (flot_curl_loop_t *self);

#ifdef __cplusplus
}
#endif

#endif
