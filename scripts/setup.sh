#!/usr/bin/env bash
# Installs the Debian packages Flotilla needs to build, test and run, when
# any of them is missing. Safe to run again: it installs nothing that is there.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config git
    libzmq3-dev libczmq-dev libmsgpack-dev libcmocka-dev
    libsqlite3-dev libyaml-dev libcurl4-openssl-dev libjansson-dev
    clang clang-format valgrind python3 python3-zmq python3-msgpack prometheus curl openssl
    iproute2 iputils-ping passwd
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
