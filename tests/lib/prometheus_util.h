/*  prometheus_util.h - for tests: a real Prometheus scraping a fixture
    server (tests/lib/fixture_server.py) whose metrics the test writes as
    files. Start both, wait until Prometheus is ready and has scraped once,
    and stop both at the end.  */
#ifndef PROMETHEUS_UTIL_H_INCLUDED
#define PROMETHEUS_UTIL_H_INCLUDED

#include <stdbool.h>

typedef struct _prom_fixture_t prom_fixture_t;

//  Starts fixture_server.py (script) on fixture_port and Prometheus
//  (/usr/bin/prometheus, or $PROMETHEUS) on prom_port, scraping it every
//  second. initial: the first metrics file (Prometheus text format), or NULL.
//  Returns NULL, with a line on stderr, if either did not come up.
prom_fixture_t *
    prom_fixture_start (const char *script, int fixture_port, int prom_port,
                        const char *initial);

//  Stops both and removes the temporary directory; safe with NULL.
void
    prom_fixture_stop (prom_fixture_t **self_p);

//  "http://127.0.0.1:PORT" of Prometheus.
const char *
    prom_fixture_url (prom_fixture_t *self);

//  Replaces STATEDIR/NAME.prom with text, atomically. Returns 0 or -1.
int
    prom_fixture_write (prom_fixture_t *self, const char *name, const char *text);

//  Waits until the instant query has a first value equal to expected (within
//  1e-9), up to timeout_ms. Returns true if it came.
bool
    prom_fixture_wait (prom_fixture_t *self, const char *query, double expected,
                       int timeout_ms);

#endif
