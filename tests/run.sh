#!/bin/sh
# tests/run.sh CONFIG... — build and run every test binary in each configuration, then
# print one line: "N passed, N failed". Exit status non-zero on any failure or crash.
#
#   native    the host build (AVX2 on x86-64 when the CPU has it)
#   scalar    the host build with the scalar kernels forced
#   sanitize  clang (or gcc) with AddressSanitizer + UndefinedBehaviorSanitizer
#   arm       aarch64-linux-gnu-gcc -mcpu=cortex-a72 -static, run under qemu-aarch64 -cpu cortex-a72
#   a76       aarch64 built for the Pi 5's Cortex-A76 (the sdot kernels): test_kernels under
#             qemu-aarch64 -cpu cortex-a76
#   armhf     32-bit ARM (what 32-bit Raspberry Pi OS runs), scalar kernels, under qemu-arm
#   i386      a Pentium II: gcc -m32 -march=pentium2, scalar kernels, no OpenMP, run natively
#   riscv64   riscv64-linux-gnu-gcc, scalar kernels, under qemu-riscv64
#   tsan      clang -fsanitize=thread, no OpenMP: test_threads (one model, contexts in threads)
#   s390x     a big-endian host: only test_endian, which shows that GGUF files are refused
#             with a clear message there (the format is little-endian)
#
# Each test binary prints lines of its own and ends with "N passed, N failed"; a binary
# that crashes or prints no such line counts as one failure.
set -u
cd "$(dirname "$0")/.." || exit 1
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
: "${LATENT_TEST_DATA:=../shared}"
export LATENT_TEST_DATA
total_pass=0
total_fail=0

run_config() {
    config=$1
    runner=""
    unset arch
    case $config in
    native) build=build; flags="" ;;
    scalar) build=build/scalar; flags="SCALAR=1" ;;
    sanitize)
        build=build/asan
        cc=clang; command -v clang >/dev/null 2>&1 || cc=gcc
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
        export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
        ;;
    arm)
        build=build/arm
        if ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || ! command -v qemu-aarch64 >/dev/null 2>&1; then
            echo "arm: FAILED: aarch64-linux-gnu-gcc or qemu-aarch64 missing (apt-get install gcc-aarch64-linux-gnu qemu-user)"
            total_fail=$((total_fail + 1))
            return
        fi
        flags="CC=aarch64-linux-gnu-gcc STATIC=1"
        runner="qemu-aarch64 -cpu cortex-a72"
        ;;
    a76)
        build=build/a76
        cc=aarch64-linux-gnu-gcc
        flags="STATIC=1"
        arch="-mcpu=cortex-a76"
        runner="qemu-aarch64 -cpu cortex-a76"
        ;;
    armhf|riscv64|s390x)
        case $config in
        armhf) cc=arm-linux-gnueabihf-gcc; runner="qemu-arm -cpu cortex-a15"
               arch="-march=armv7-a -mfpu=neon-vfpv4 -mfloat-abi=hard" ;;
        riscv64) cc=riscv64-linux-gnu-gcc; runner="qemu-riscv64"; arch="" ;;
        s390x) cc=s390x-linux-gnu-gcc; runner="qemu-s390x"; arch="" ;;
        esac
        if ! command -v "$cc" >/dev/null 2>&1 || ! command -v "${runner%% *}" >/dev/null 2>&1; then
            echo "$config: FAILED: $cc or ${runner%% *} missing (see .ci/run for the packages)"
            total_fail=$((total_fail + 1))
            return
        fi
        build=build/$config
        flags="STATIC=1 OPENMP=0" # libgomp in a static binary warns about dlopen; aarch64 covers OpenMP
        ;;
    tsan)
        build=build/tsan
        cc=clang; command -v clang >/dev/null 2>&1 || cc=gcc
        export TSAN_OPTIONS=halt_on_error=1
        ;;
    i386)
        build=build/i386
        cc="gcc -m32"
        flags="OPENMP=0"
        arch="-march=pentium2"
        # Debian's x86 <asm/*> headers serve both widths; without gcc-multilib (which
        # conflicts with the cross compilers) -m32 does not look for them there
        [ -d /usr/include/x86_64-linux-gnu/asm ] && arch="$arch -idirafter /usr/include/x86_64-linux-gnu"
        ;;
    *) echo "unknown configuration: $config"; total_fail=$((total_fail + 1)); return ;;
    esac
    echo "== $config: building into $build"
    # shellcheck disable=SC2086
    if [ -n "${arch+set}" ]; then
        target=tests
        [ "$config" = s390x ] && target=$build/tests/test_endian
        [ "$config" = a76 ] && target=$build/tests/test_kernels
        make -s -j"$JOBS" BUILD=$build CC="$cc" $flags ARCH_FLAGS="$arch" $target >/dev/null ||
            { echo "$config: FAILED to build"; total_fail=$((total_fail + 1)); return; }
    elif [ "$config" = tsan ]; then
        make -s -j"$JOBS" BUILD=$build CC=$cc OPT=-O1 OPENMP=0 SAN="-fsanitize=thread" \
            $build/tests/test_threads >/dev/null ||
            { echo "$config: FAILED to build"; total_fail=$((total_fail + 1)); return; }
    elif [ "$config" = sanitize ]; then
        make -s -j"$JOBS" BUILD=$build CC=$cc OPT=-O1 OPENMP=0 \
            SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
            tests >/dev/null || { echo "$config: FAILED to build"; total_fail=$((total_fail + 1)); return; }
    else
        make -s -j"$JOBS" BUILD=$build $flags tests >/dev/null || { echo "$config: FAILED to build"; total_fail=$((total_fail + 1)); return; }
    fi
    ran=0
    for t in "$build"/tests/test_*; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        ran=$((ran + 1))
        out=$(LATENT_BUILD=$build LATENT_RUNNER="$runner" $runner "$t" 2>&1)
        status=$?
        line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
        printf '%s\n' "$out" | grep -E '^(FAIL|skip)' | sed "s/^/  $config $name: /"
        if [ -z "$line" ]; then
            echo "  $config $name: CRASHED or gave no result (status $status)"
            printf '%s\n' "$out" | tail -n 20 | sed 's/^/    | /'
            total_fail=$((total_fail + 1))
            continue
        fi
        p=${line%% passed*}
        f=${line#*passed, }; f=${f%% failed}
        if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
            echo "  $config $name: exit status $status"
            printf '%s\n' "$out" | tail -n 20 | sed 's/^/    | /'
            f=1
        fi
        echo "  $config $name: $line"
        total_pass=$((total_pass + p))
        total_fail=$((total_fail + f))
    done
    if [ "$ran" -eq 0 ]; then
        echo "$config: FAILED: no test binary in $build/tests (did the build make none?)"
        total_fail=$((total_fail + 1))
    fi
}

[ $# -gt 0 ] || set -- native
for c in "$@"; do run_config "$c"; done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
