#!/usr/bin/env bash
# Runs Flotilla's whole test suite: installs what is missing, builds the
# normal and the sanitizer (ASan + UBSan) trees, and runs every test in both
# (cmocka unit tests, process-level tests with real flotillad and flotctl
# processes, and the valgrind leak check of flotillad).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

JOBS=$(nproc 2>/dev/null || echo 2)

echo "== build (RelWithDebInfo)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS"

echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFLOTILLA_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$JOBS"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan.supp
# The keys each test's flotillad makes for its user on loopback (SPEC 14)
# go in the build tree, not in the home of whoever runs the suite.
export FLOTILLA_HOME=$PWD/build/test-home
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "== tests (RelWithDebInfo, with valgrind)"
ctest --test-dir build -j"$JOBS" --output-on-failure --timeout 300

echo "== tests (sanitizers)"
ctest --test-dir build-asan -j"$JOBS" --output-on-failure --timeout 300 -LE valgrind
