# python.sh - sourced by the process tests that run Python peers (written
# from protocol/SPEC.md with Debian's python3-zmq and python3-msgpack).
#
# Sets PY to the first python3 that imports zmq and msgpack: the first
# python3 on PATH may be another one (pyenv). PY is empty if there is none.
PY=
for candidate in /usr/bin/python3 python3; do
    if "$candidate" -c 'import zmq, msgpack' 2>/dev/null; then
        PY=$candidate
        break
    fi
done
