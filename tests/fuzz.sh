#!/bin/sh
# tests/fuzz.sh [SECONDS [TARGET...]] — build every tests/fuzz_*.c (or only the TARGETs
# named, like fuzz_http) as a libFuzzer target (clang, ASan + UBSan) and run each for
# SECONDS (default 60). Seeds come from the real files in
# $LATENT_TEST_DATA (default ../shared), cut to the fuzzer's input size. A crash leaves
# its input in build/fuzz/ and makes this script fail; turn it into a regression test.
set -u
cd "$(dirname "$0")/.." || exit 1
SECONDS_EACH=${1:-60}
[ $# -gt 0 ] && shift
TARGETS=$*
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
# the server's parsers live beside it in examples/, not in the library
SERVER_SRC="examples/server/http.c examples/server/json.c"
# seed_requests DIR: whole requests for fuzz_http, and the same bodies alone for fuzz_json
seed_requests() {
    chat='{"model": "smol", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi \"you\" \u00e9\ud83d\ude00"}], "max_tokens": 16, "temperature": 0.7, "top_p": 0.9, "seed": 7, "stop": ["\n", "END"], "stream": true, "presence_penalty": 0.5, "frequency_penalty": -0.5}'
    text='{"model":"stories260K","prompt":"Once upon a time","max_tokens":8,"temperature":0,"stream":false}'
    parts='{"messages":[{"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]}],"stream_options":{"include_usage":true},"n":1,"logit_bias":null}'
    i=0
    for body in "$chat" "$text" "$parts"; do
        i=$((i + 1))
        printf '%s' "$body" > "$1/body$i.json"
        printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nContent-Type: application/json\r\nAuthorization: Bearer sk-test\r\nContent-Length: %d\r\n\r\n%s' \
            "${#body}" "$body" > "$1/curl$i.http"
        printf 'POST /v1/completions HTTP/1.1\r\nhost: localhost:8080\r\naccept-encoding: gzip, deflate\r\nconnection: keep-alive\r\naccept: application/json\r\ncontent-type: application/json\r\nuser-agent: OpenAI/Python 1.55.0\r\nx-stainless-lang: python\r\nx-stainless-retry-count: 0\r\nauthorization: Bearer sk-test\r\ncontent-length: %d\r\n\r\n%s' \
            "${#body}" "$body" > "$1/httpx$i.http"
    done
    printf 'GET /v1/models HTTP/1.1\r\nHost: localhost\r\n\r\nGET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' > "$1/pipelined.http"
    printf 'POST /v1/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n{}' > "$1/smuggle.http"
}

failed=0
for target in tests/fuzz_*.c; do
    name=$(basename "$target" .c)
    case " ${TARGETS:-$name} " in *" $name "*) ;; *) continue ;; esac
    echo "== $name: building"
    # shellcheck disable=SC2086
    if ! $CC $CFLAGS -o "$OUT/$name" "$target" $LIB_SRC $SERVER_SRC -lm; then
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
    fuzz_http | fuzz_json)
        # real requests as curl and the openai package (httpx) send them, and their bodies
        seed_requests "$corpus" ;;
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
