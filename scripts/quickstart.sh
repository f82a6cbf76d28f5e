#!/usr/bin/env bash
# The quick start: installs what is missing, builds, starts flotillad in its
# embedded default (broker and actors in one process, clients on
# tcp://127.0.0.1:5555, events on tcp://127.0.0.1:5556) and rolls out a
# canary of web 2.0 across four local targets, shown live by flotctl watch.
# Each target is a VERSION file under examples/state/, served over HTTP on
# 127.0.0.1:8090 by a tiny local service; the deployment's hook writes it.
# With --keep, flotillad and the service keep running afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1

bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)"

FLOTILLAD=$PWD/build/flotillad
FLOTCTL=$PWD/build/flotctl
RUN=$(mktemp -d /tmp/flotilla-quickstart.XXXXXX)
LOG=$RUN/flotillad.log

# Every target starts on version 1.0.
rm -rf examples/state
for target in eu-1 eu-2 us-1 us-2; do
    mkdir -p "examples/state/$target"
    echo "1.0 weight=0" > "examples/state/$target/VERSION"
done
python3 -m http.server 8090 --bind 127.0.0.1 --directory examples/state \
    >"$RUN/http.log" 2>&1 &
HTTP=$!
"$FLOTILLAD" --store "$RUN/flotilla.db" 2>"$LOG" &
DAEMON=$!
stop () {
    kill -TERM "$DAEMON" "$HTTP" 2>/dev/null || true
    wait "$DAEMON" "$HTTP" 2>/dev/null || true
}
[ "$KEEP" -eq 1 ] || trap stop EXIT

for _ in $(seq 1 50); do
    "$FLOTCTL" --timeout 200 call coordinator List >/dev/null 2>&1 && break
    if ! kill -0 "$DAEMON" 2>/dev/null; then
        echo "flotillad did not start:" >&2
        cat "$LOG" >&2
        exit 1
    fi
    sleep 0.1
done

show_versions () {
    for target in eu-1 eu-2 us-1 us-2; do
        printf '  %-5s %s\n' "$target" \
            "$(curl -s "http://127.0.0.1:8090/$target/VERSION" || echo '(no answer)')"
    done
}

run () { echo; echo "\$ flotctl $*"; "$FLOTCTL" "$@"; }
run ping
run actors
echo; echo "Versions served before:"; show_versions
run plan -f examples/canary.yaml
run apply -f examples/canary.yaml --watch
run list
echo; echo "Versions served after:"; show_versions
echo
echo "flotillad log: $LOG"
if [ "$KEEP" -eq 1 ]; then
    echo "flotillad (pid $DAEMON) and the version service (pid $HTTP) are running;"
    echo "stop them with: kill $DAEMON $HTTP"
fi
