#!/usr/bin/env bash
# The quick start: installs what is missing, builds, starts flotillad in its
# embedded default (broker and actors in one process, clients on
# tcp://127.0.0.1:5555, events on tcp://127.0.0.1:5556) and drives it with a
# short flotctl session. With --keep, flotillad keeps running afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1

bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)"

FLOTILLAD=./build/flotillad
FLOTCTL=./build/flotctl
LOG=$(mktemp /tmp/flotillad.XXXXXX.log)

"$FLOTILLAD" --actors events,echo 2>"$LOG" &
DAEMON=$!
stop () { kill -TERM "$DAEMON" 2>/dev/null || true; wait "$DAEMON" 2>/dev/null || true; }
[ "$KEEP" -eq 1 ] || trap stop EXIT

for _ in $(seq 1 50); do
    "$FLOTCTL" --timeout 200 ping >/dev/null 2>&1 && break
    if ! kill -0 "$DAEMON" 2>/dev/null; then
        echo "flotillad did not start:" >&2
        cat "$LOG" >&2
        exit 1
    fi
    sleep 0.1
done

run () { echo; echo "\$ flotctl $*"; "$FLOTCTL" "$@"; }
run ping
run actors
run call events Publish '{"type":"quickstart.hello","message":"first event"}'
run call events Publish '{"type":"quickstart.hello","deployment":"demo","message":"second event"}'
run call echo Ticks '{"count":3,"interval_ms":50}'
run events --since 1
echo
echo "flotillad log: $LOG"
if [ "$KEEP" -eq 1 ]; then
    echo "flotillad is running (pid $DAEMON); stop it with: kill $DAEMON"
fi
