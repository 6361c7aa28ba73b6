#!/bin/sh
# tests/fuzz.sh [SECONDS] — build every tests/fuzz_*.c as a libFuzzer target (clang,
# ASan + UBSan) and run each for SECONDS (default 60). Seeds come from the real files in
# $LATENT_TEST_DATA (default ../shared), cut to the fuzzer's input size. A crash leaves
# its input in build/fuzz/ and makes this script fail; turn it into a regression test.
set -u
cd "$(dirname "$0")/.." || exit 1
SECONDS_EACH=${1:-60}
: "${LATENT_TEST_DATA:=../shared}"
export LATENT_TEST_DATA
CC=${FUZZ_CC:-clang}
OUT=build/fuzz
MAX_LEN=65536
mkdir -p "$OUT"
command -v "$CC" >/dev/null 2>&1 || { echo "fuzz: $CC not found (apt-get install clang)"; exit 1; }

CFLAGS="-std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -Isrc -Ikernels"
LIB_SRC=$(ls src/*.c kernels/*.c)
failed=0
for target in tests/fuzz_*.c; do
    name=$(basename "$target" .c)
    echo "== $name: building"
    # shellcheck disable=SC2086
    if ! $CC $CFLAGS -o "$OUT/$name" "$target" $LIB_SRC -lm; then
        echo "$name: FAILED to build"; failed=$((failed + 1)); continue
    fi
    corpus="$OUT/corpus-$name"
    mkdir -p "$corpus"
    max_len=$MAX_LEN
    case $name in
    fuzz_model)
        # whole small models: a truncated one only exercises the parser
        max_len=2000000
        for f in "$LATENT_TEST_DATA"/models/*.gguf "$LATENT_TEST_DATA"/vectors/quant/probe-Q4_0.gguf "$LATENT_TEST_DATA"/vectors/quant/probe-Q6_K.gguf; do
            [ -f "$f" ] && cp "$f" "$corpus/"
        done ;;
    fuzz_gguf)
        for f in "$LATENT_TEST_DATA"/models/*.gguf "$LATENT_TEST_DATA"/vectors/*.gguf "$LATENT_TEST_DATA"/vectors/quant/*.gguf; do
            [ -f "$f" ] && head -c $MAX_LEN "$f" > "$corpus/$(basename "$f").head"
        done ;;
    fuzz_tokenizer)
        # the first byte picks the vocabulary, the flags or the decoder (see the target)
        for f in "$LATENT_TEST_DATA"/vectors/*.inp; do
            [ -f "$f" ] || continue
            for mode in 00 01 02 03 04 09 80 81; do
                { printf "\\$(printf '%03o' "0x$mode")"; head -c $((MAX_LEN - 1)) "$f"; } \
                    > "$corpus/$(basename "$f").$mode"
            done
        done ;;
    *)
        for f in "$LATENT_TEST_DATA"/vectors/*.inp; do
            [ -f "$f" ] && head -c $MAX_LEN "$f" > "$corpus/$(basename "$f")"
        done ;;
    esac
    echo "== $name: running for ${SECONDS_EACH}s"
    if ! "$OUT/$name" -max_total_time="$SECONDS_EACH" -max_len=$max_len -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$OUT/$name-" -print_final_stats=1 "$corpus" > "$OUT/$name.log" 2>&1; then
        echo "$name: FAILED (see $OUT/$name.log)"; tail -n 30 "$OUT/$name.log"; failed=$((failed + 1))
    else
        grep -E "stat::number_of_executed_runs|cov:" "$OUT/$name.log" | tail -n 2
        echo "$name: ok"
    fi
done
[ "$failed" -eq 0 ]
