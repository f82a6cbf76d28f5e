#!/usr/bin/env bash
# test_install: what `cmake --install` puts in a prefix is enough to build a
# client program (flotilla.pc) and an actor in C (flotilla-actor.pc) with
# pkg-config alone, whatever prefix the build was configured with.
# usage: test_install.sh BUILD_DIR SOURCE_DIR [CFLAGS]  (CFLAGS: the
# sanitizer build's, which its libraries need)
set -euo pipefail
BUILD=$1 SRC=$2 EXTRA=${3:-}
TMP=$(mktemp -d /tmp/flotilla-install.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
cmake --install "$BUILD" --prefix "$TMP/prefix" >/dev/null
PC=$(dirname "$(find "$TMP/prefix" -name flotilla.pc | head -1)")
[[ -f $PC/flotilla-actor.pc ]] || { echo "FAIL: no flotilla-actor.pc in $PC"; exit 1; }
export PKG_CONFIG_PATH=$PC
for header in $(ls "$TMP/prefix/include/flotilla"); do
    printf '#include <flotilla/%s>\n' "$header" \
        | cc -std=c11 -Wall -Wextra -Werror -fsyntax-only -x c - $(pkg-config --cflags flotilla) \
        || { echo "FAIL: the installed header $header does not compile alone"; exit 1; }
done
cc -std=c11 -Wall -Wextra -Werror $EXTRA "$SRC/client.c" -o "$TMP/client" \
    $(pkg-config --cflags --libs flotilla)
cc -std=c11 -Wall -Wextra -Werror $EXTRA "$SRC/actor.c" -o "$TMP/actor" \
    $(pkg-config --cflags --libs flotilla-actor)
"$TMP/client" | grep -q "^a GetStatus body of [0-9]* bytes$" || { echo "FAIL: client"; exit 1; }
"$TMP/actor" | grep -q "^actor installed-echo links$" || { echo "FAIL: actor"; exit 1; }
echo "PASS test_install"
