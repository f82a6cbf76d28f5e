#!/usr/bin/env python3
"""service.py - the example's stand-in for a fleet: one small HTTP service
that plays every target of examples/canary.yaml.

    service.py PORT STATEDIR

Each target is a folder STATEDIR/<target>/ whose VERSION file the
deployment's hook writes ("2.0 weight=25 step=eu-1/1").

GET /<target>/VERSION   that file, as it is
GET /healthz/<target>   200 "ok" while the target has a VERSION file, else 503
GET /metrics            for Prometheus, per target, for both builds the
                        example knows (1.0, the stable one, and 2.0):
                        web_latency_seconds   a request latency, drawn afresh
                                              each scrape around 100 ms
                        web_error_ratio       the share of failed requests,
                                              around 0.2%
                        Set FLOTILLA_EXAMPLE_SLOW=<version> in the
                        environment to make that version 30% slower and
                        fail 8% of requests, and watch the canary roll back.

It listens on 127.0.0.1 only and exits on SIGTERM.
"""
import http.server
import os
import random
import signal
import sys

VERSIONS = ("1.0", "2.0")


class Handler(http.server.BaseHTTPRequestHandler):
    state = "."

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _targets(self):
        found = {}
        for name in sorted(os.listdir(self.state)):
            try:
                with open(os.path.join(self.state, name, "VERSION")) as f:
                    found[name] = f.read().split()
            except OSError:
                continue
        return found

    def _metrics(self):
        slow = os.environ.get("FLOTILLA_EXAMPLE_SLOW", "")
        lines = ["# TYPE web_latency_seconds gauge", "# TYPE web_error_ratio gauge"]
        for target in self._targets():
            for version in VERSIONS:
                bad = version == slow
                latency = random.gauss(0.130 if bad else 0.100, 0.005)
                errors = max(0.0, random.gauss(0.080 if bad else 0.002, 0.001))
                labels = 'target="%s",version="%s"' % (target, version)
                lines.append("web_latency_seconds{%s} %.6f" % (labels, latency))
                lines.append("web_error_ratio{%s} %.6f" % (labels, errors))
        return "\n".join(lines) + "\n"

    def do_GET(self):
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        if parts == ["metrics"]:
            self._send(200, self._metrics())
        elif len(parts) == 2 and parts[0] == "healthz":
            ok = parts[1] in self._targets()
            self._send(200 if ok else 503, "ok\n" if ok else "no version\n")
        elif len(parts) == 2 and parts[1] == "VERSION" and parts[0] in self._targets():
            self._send(200, " ".join(self._targets()[parts[0]]) + "\n")
        else:
            self._send(404, "not found\n")


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: service.py PORT STATEDIR\n")
        return 2
    Handler.state = sys.argv[2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
