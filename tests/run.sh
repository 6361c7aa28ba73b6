#!/bin/sh
# tests/run.sh CONFIG... — build and run every test binary in each configuration, then
# print one line: "N passed, N failed". Exit status non-zero on any failure or crash.
#
#   native    the host build (AVX2 on x86-64 when the CPU has it): every unit test
#   system    the host build: the system tests (SYSTEM_TESTS below: a hundred lives under
#             valgrind, make install and a program built against the installed library)
#   scalar    the host build with the scalar kernels forced
#   sanitize  clang (or gcc) with AddressSanitizer + UndefinedBehaviorSanitizer
#   arm       aarch64-linux-gnu-gcc -mcpu=cortex-a72 -static, run under qemu-aarch64 -cpu cortex-a72
#   a76       aarch64 built for the Pi 5's Cortex-A76 (the sdot kernels): test_kernels under
#             qemu-aarch64 -cpu cortex-a76
#   armhf     32-bit ARM (what 32-bit Raspberry Pi OS runs): ARMv8 in AArch32 with the NEON
#             kernels, under qemu-arm -cpu max (qemu 7.2 has no 32-bit cortex-a72 model)
#   i386      a Pentium II: gcc -m32 -march=pentium2, scalar kernels, no OpenMP, run natively
#   riscv64   riscv64-linux-gnu-gcc, scalar kernels, under qemu-riscv64
#   tsan      clang -fsanitize=thread, no OpenMP: test_threads (one model, contexts in threads)
#   s390x     a big-endian host: only test_endian, which shows that GGUF files are refused
#             with a clear message there (the format is little-endian)
#   clients   real clients of build/server: the official openai package (pip, in the
#             virtualenv build/venv) on stories260K and SmolLM2, and the /wall page in
#             headless Chromium, each script's "N passed, N failed" counted
#   fuzz      tests/fuzz.sh for $FUZZ_SECONDS (default 20) per target: one pass or failure each
#
# Each test binary prints lines of its own and ends with "N passed, N failed"; a binary
# that crashes or prints no such line counts as one failure.
#
# A configuration whose compiler or emulator is not installed says "skip: CONFIG: what is
# missing (apt-get install ...)" and counts nothing, so a fresh machine with only gcc and
# make passes the native tests; with LATENT_REQUIRE_CROSS=1 (.ci/run sets it) it is a failure.
set -u
cd "$(dirname "$0")/.." || exit 1
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
: "${LATENT_TEST_DATA:=../shared}"
export LATENT_TEST_DATA
total_pass=0
total_fail=0
# slow, and needing tools beyond a compiler: run by the system configuration only
SYSTEM_TESTS="test_lives test_install"
# whole programs on real models, a minute or two each under qemu (where they add little to
# the native run but the same flows on NEON): with LATENT_TEST_TIER=quick (make test) an
# emulated configuration leaves them to make check, which runs everything
EMULATED_SLOW="test_reflect test_gemma3 test_chat_cli test_perplexity"

# missing CONFIG WHAT PACKAGES: a toolchain this configuration needs is not installed
missing() {
    if [ "${LATENT_REQUIRE_CROSS:-0}" = 1 ]; then
        echo "$1: FAILED: $2 missing (apt-get install $3; LATENT_REQUIRE_CROSS=1)"
        total_fail=$((total_fail + 1))
    else
        echo "skip: $1: $2 missing (apt-get install $3)"
    fi
}

have() { command -v "$1" >/dev/null 2>&1; }

# The README's cross-compile command, as written there: it must build.
readme_cross_build() {
    cmd=$(grep -m 1 '^make BUILD=build/arm CC=aarch64-linux-gnu-gcc STATIC=1' README.md)
    cmd=$(printf '%s' "${cmd%%#*}" | sed 's/ *$//')
    if [ -z "$cmd" ]; then
        echo "  arm README: FAILED: no cross-compile command found in README.md"
        total_fail=$((total_fail + 1))
    elif sh -c "$cmd -j$JOBS" >/dev/null 2>&1; then
        echo "  arm README: builds as written: $cmd"
        total_pass=$((total_pass + 1))
    else
        echo "  arm README: FAILED: $cmd"
        total_fail=$((total_fail + 1))
    fi
}

# build_with CONFIG MAKE-ARGS...: quiet on success (static links warn about libgomp's dlopen);
# the end of the compiler's output on failure.
build_with() {
    name=$1
    shift
    log=$(mktemp)
    if make -s -j"$JOBS" "$@" >"$log" 2>&1; then
        rm -f "$log"
        return 0
    fi
    echo "$name: FAILED to build"
    tail -n 20 "$log" | sed 's/^/    | /'
    rm -f "$log"
    total_fail=$((total_fail + 1))
    return 1
}

# count CONFIG NAME STATUS OUTPUT: adds what one test binary or script said (its last
# "N passed, N failed" line) to the totals; no such line, or a failing status, is a failure.
count() {
    printf '%s\n' "$4" | grep -E '^(FAIL|skip)' | sed "s/^/  $1 $2: /"
    line=$(printf '%s\n' "$4" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
    if [ -z "$line" ]; then
        echo "  $1 $2: CRASHED or gave no result (status $3)"
        printf '%s\n' "$4" | tail -n 20 | sed 's/^/    | /'
        total_fail=$((total_fail + 1))
        return
    fi
    p=${line%% passed*}
    f=${line#*passed, }; f=${f%% failed}
    if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "  $1 $2: exit status $3"
        printf '%s\n' "$4" | tail -n 20 | sed 's/^/    | /'
        f=1
    fi
    echo "  $1 $2: $line"
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
}

# count_script NAME COMMAND...: runs a test script that ends with "N passed, N failed"
count_script() {
    name=$1
    shift
    out=$("$@" 2>&1)
    count clients "$name" $? "$out"
}

run_clients() {
    echo "== clients: the openai package and Chromium against build/server"
    build_with clients build/server || return
    stories="$LATENT_TEST_DATA/models/stories260K.gguf"
    smol="${LATENT_MODEL_CACHE:-$HOME/.cache/liblatent}/SmolLM2-135M-Instruct.Q4_1.gguf"
    models="$stories"
    [ -f "$smol" ] && models="$models $smol"
    if [ ! -x build/venv/bin/python ] || ! build/venv/bin/python -c 'import openai' 2>/dev/null; then
        if ! python3 -m venv build/venv >/dev/null 2>&1 || ! build/venv/bin/pip install -q openai >/dev/null 2>&1; then
            rm -rf build/venv
            missing clients "a python3 virtualenv with the openai package" "python3-venv, and pip's network"
            return
        fi
    fi
    # shellcheck disable=SC2086
    count_script openai_client.py build/venv/bin/python tests/openai_client.py $models
    if have chromium || have chromium-browser; then
        count_script test_server_browser.py python3 tests/test_server_browser.py "$stories"
    else
        missing clients chromium chromium
    fi
}

run_fuzz() {
    if ! have clang; then
        missing fuzz clang clang
        return
    fi
    echo "== fuzz: every tests/fuzz_*.c for ${FUZZ_SECONDS:-20}s"
    out=$(tests/fuzz.sh "${FUZZ_SECONDS:-20}" 2>&1)
    printf '%s\n' "$out" | grep -E 'FAILED|ok$' | sed 's/^/  fuzz /'
    p=$(printf '%s\n' "$out" | grep -c ': ok$')
    f=$(printf '%s\n' "$out" | grep -c 'FAILED')
    [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && f=1
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
}

run_config() {
    config=$1
    runner=""
    unset arch
    case $config in
    native|system) build=build; flags="" ;;
    scalar) build=build/scalar; flags="SCALAR=1" ;;
    sanitize)
        build=build/asan
        cc=clang; command -v clang >/dev/null 2>&1 || cc=gcc
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
        export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
        ;;
    arm)
        build=build/arm
        have aarch64-linux-gnu-gcc || { missing arm aarch64-linux-gnu-gcc "gcc-aarch64-linux-gnu libc6-dev-arm64-cross"; return; }
        have qemu-aarch64 || { missing arm qemu-aarch64 qemu-user; return; }
        flags="CC=aarch64-linux-gnu-gcc STATIC=1"
        runner="qemu-aarch64 -cpu cortex-a72"
        ;;
    a76)
        build=build/a76
        cc=aarch64-linux-gnu-gcc
        have $cc || { missing a76 $cc "gcc-aarch64-linux-gnu libc6-dev-arm64-cross"; return; }
        have qemu-aarch64 || { missing a76 qemu-aarch64 qemu-user; return; }
        flags="STATIC=1"
        arch="-mcpu=cortex-a76"
        runner="qemu-aarch64 -cpu cortex-a76"
        ;;
    armhf|riscv64|s390x)
        case $config in
        armhf) cc=arm-linux-gnueabihf-gcc; runner="qemu-arm -cpu max" # qemu-arm has no cortex-a72
               arch="-march=armv8-a -mfpu=neon-fp-armv8 -mfloat-abi=hard" ;;
        riscv64) cc=riscv64-linux-gnu-gcc; runner="qemu-riscv64"; arch="" ;;
        s390x) cc=s390x-linux-gnu-gcc; runner="qemu-s390x"; arch="" ;;
        esac
        have "$cc" || { missing "$config" "$cc" "gcc-${cc%-gcc} libc6-dev-$config-cross"; return; }
        have "${runner%% *}" || { missing "$config" "${runner%% *}" qemu-user; return; }
        build=build/$config
        flags="STATIC=1 OPENMP=0" # libgomp in a static binary warns about dlopen; aarch64 covers OpenMP
        ;;
    tsan)
        build=build/tsan
        cc=clang; have clang || cc=gcc
        export TSAN_OPTIONS=halt_on_error=1
        ;;
    i386)
        [ -f /usr/lib32/libc.so ] || [ -f /usr/lib32/libc.a ] ||
            { missing i386 "the 32-bit C library" "libc6-dev-i386 lib32gcc-12-dev"; return; }
        build=build/i386
        cc="gcc -m32"
        flags="OPENMP=0"
        arch="-march=pentium2"
        # Debian's x86 <asm/*> headers serve both widths; without gcc-multilib (which
        # conflicts with the cross compilers) -m32 does not look for them there
        [ -d /usr/include/x86_64-linux-gnu/asm ] && arch="$arch -idirafter /usr/include/x86_64-linux-gnu"
        ;;
    fuzz) run_fuzz; return ;;
    clients) run_clients; return ;;
    *) echo "unknown configuration: $config"; total_fail=$((total_fail + 1)); return ;;
    esac
    echo "== $config: building into $build"
    # shellcheck disable=SC2086
    if [ -n "${arch+set}" ]; then
        target=tests
        [ "$config" = s390x ] && target=$build/tests/test_endian
        [ "$config" = a76 ] && target=$build/tests/test_kernels
        build_with "$config" BUILD=$build CC="$cc" $flags ARCH_FLAGS="$arch" $target || return
    elif [ "$config" = tsan ]; then
        build_with "$config" BUILD=$build CC=$cc OPT=-O1 OPENMP=0 SAN="-fsanitize=thread" \
            $build/tests/test_threads || return
    elif [ "$config" = sanitize ]; then
        build_with "$config" BUILD=$build CC=$cc OPT=-O1 OPENMP=0 \
            SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" tests || return
    else
        build_with "$config" BUILD=$build $flags tests || return
    fi
    [ "$config" = arm ] && readme_cross_build
    ran=0
    for t in "$build"/tests/test_*; do
        [ -x "$t" ] || continue
        name=$(basename "$t")
        case " $SYSTEM_TESTS " in
        *" $name "*) [ "$config" = system ] || continue ;;
        *) [ "$config" = system ] && continue ;;
        esac
        if [ -n "$runner" ]; then
            case " $EMULATED_SLOW " in
            *" $name "*)
                if [ "$config" != arm ]; then
                    echo "  $config $name: left to the native and Cortex-A72 runs (whole programs under emulation)"
                    continue
                elif [ "${LATENT_TEST_TIER:-full}" = quick ]; then
                    echo "  $config $name: left to make check (whole programs under emulation)"
                    continue
                fi ;;
            esac
        fi
        ran=$((ran + 1))
        out=$(LATENT_BUILD=$build LATENT_RUNNER="$runner" $runner "$t" 2>&1)
        count "$config" "$name" $? "$out"
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
