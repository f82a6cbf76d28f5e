#!/usr/bin/env python3
"""fixture_server.py - a small HTTP server that tests control through files.

    fixture_server.py PORT STATEDIR

GET /metrics       the concatenation of STATEDIR/*.prom (Prometheus text
                   format), in name order; a test changes the metrics by
                   rewriting those files (write a temporary file, then rename).
GET /health/NAME   the HTTP status read from STATEDIR/health/NAME (a number
                   on the first line; the rest of the file, if any, is the
                   body), default 200 with the body "ok".
Anything else is 404. It listens on 127.0.0.1 only, and exits on SIGTERM.

To give Prometheus something to scrape, as tests/lib/prometheus_util.c does
(and a bash test can do the same):

    python3 tests/lib/fixture_server.py 25510 "$STATE" &
    cat > "$STATE/prometheus.yml" <<EOF
    global: {scrape_interval: 1s, evaluation_interval: 1s}
    scrape_configs:
      - job_name: fixture
        static_configs: [{targets: ['127.0.0.1:25510']}]
    EOF
    prometheus --config.file="$STATE/prometheus.yml" \
        --storage.tsdb.path="$STATE/tsdb" \
        --web.listen-address=127.0.0.1:25900 &
    # ready when GET http://127.0.0.1:25900/-/ready answers 200, and
    # scraped once when the query up{job="fixture"} has a value.
"""
import http.server
import os
import signal
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    state = "."

    def log_message(self, fmt, *args):   # quiet: tests read their own output
        pass

    def _send(self, status, body, ctype="text/plain; charset=utf-8"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            parts = []
            for name in sorted(os.listdir(self.state)):
                if name.endswith(".prom"):
                    try:
                        with open(os.path.join(self.state, name), "rb") as f:
                            parts.append(f.read())
                    except OSError:
                        pass        # renamed away meanwhile: skip it
            body = b"".join(p if p.endswith(b"\n") or not p else p + b"\n" for p in parts)
            self._send(200, body, "text/plain; version=0.0.4; charset=utf-8")
        elif path.startswith("/health/") and "/" not in path[len("/health/"):] \
                and path[len("/health/"):] not in ("", ".", ".."):
            name = path[len("/health/"):]
            status, body = 200, "ok"
            try:
                with open(os.path.join(self.state, "health", name)) as f:
                    text = f.read()
                first, _, rest = text.partition("\n")
                status = int(first.strip() or "200")
                body = rest if rest else ("ok" if status < 400 else "not ok")
            except FileNotFoundError:
                pass
            except ValueError:
                status, body = 500, "bad status file"
            self._send(status, body)
        else:
            self._send(404, "not found")

    do_HEAD = do_GET


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: fixture_server.py PORT STATEDIR\n")
        return 2
    Handler.state = sys.argv[2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
