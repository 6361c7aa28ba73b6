#!/bin/sh
# tests/lint.sh — every C file compiles without a warning under -Wall -Wextra -Wpedantic with
# gcc and clang, and cppcheck finds nothing that tests/cppcheck.supp does not explain.
set -u
cd "$(dirname "$0")/.." || exit 1
failed=0
FLAGS="-std=c11 -O2 -Wall -Wextra -Wpedantic -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
 -Iinclude -Isrc -Ikernels -Iexamples/wall -Itests"
for cc in gcc clang; do
    command -v $cc >/dev/null 2>&1 || { echo "lint: $cc missing"; failed=1; continue; }
    arch=""
    [ "$(uname -m)" = x86_64 ] && arch="-mavx2 -mfma -mf16c"
    for f in src/*.c kernels/*.c examples/*.c examples/wall/*.c examples/server/*.c bench/*.c tests/test_*.c tests/fuzz_*.c; do
        # shellcheck disable=SC2086
        out=$($cc $FLAGS $arch -fopenmp -c "$f" -o /dev/null 2>&1 | grep -E "warning|error")
        [ -z "$out" ] || { echo "$cc: $out"; failed=1; }
    done
done
if command -v cppcheck >/dev/null 2>&1; then
    out=$(cppcheck --std=c11 --enable=warning,portability,performance --quiet --inline-suppr \
        --suppressions-list=tests/cppcheck.supp --error-exitcode=1 \
        -Iinclude -Isrc -Ikernels -Iexamples/wall -D__GNUC__ src kernels examples 2>&1)
    [ $? -eq 0 ] || { echo "$out"; failed=1; }
else
    echo "lint: cppcheck missing (apt-get install cppcheck)"; failed=1
fi
[ $failed -eq 0 ] && echo "lint: clean (gcc, clang -Wpedantic; cppcheck)"
exit $failed
