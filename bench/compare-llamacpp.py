#!/usr/bin/env python3
"""compare-llamacpp.py — liblatent against llama.cpp on the same GGUF file.

    python3 bench/compare-llamacpp.py MODEL.gguf PROMPT_FILE [N] [--lib build/liblatent.so]

Tokenizes the prompt (BOS as the vocabulary asks, special tokens parsed) with both engines,
evaluates it, and compares the logits after the prompt (max and RMS difference) and N greedy
tokens (the length of the common prefix), then times N more greedy tokens in each. liblatent is called through ctypes on
build/liblatent.so; llama.cpp through the llama-cpp-python package (pip install
llama-cpp-python: it builds llama.cpp from source, which takes a while; not needed by the
tests). Both use an f16 KV cache and one thread.

To see how far each engine is from the model's own arithmetic, dequantize the file to f32
first (build/quantize IN.gguf OUT.gguf f32) and compare both on that too.
"""
import ctypes
import sys

import numpy as np
from llama_cpp import Llama


class Latent:
    """The few calls of latent.h this comparison needs."""

    class ContextParams(ctypes.Structure):
        _fields_ = [("n_threads", ctypes.c_int32), ("kv_type", ctypes.c_int), ("mem_budget", ctypes.c_size_t),
                    ("n_batch", ctypes.c_int32), ("kv_chunk", ctypes.c_int32), ("all_logits", ctypes.c_int)]

    def __init__(self, lib_path, model_path):
        lib = ctypes.CDLL(lib_path)
        self.lib = lib
        lib.latent_model_load.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
        lib.latent_context_default_params.restype = Latent.ContextParams
        lib.latent_context_create.argtypes = [ctypes.c_void_p, ctypes.POINTER(Latent.ContextParams),
                                              ctypes.POINTER(ctypes.c_void_p)]
        lib.latent_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int,
                                        ctypes.POINTER(ctypes.c_int32), ctypes.c_size_t,
                                        ctypes.POINTER(ctypes.c_size_t)]
        lib.latent_eval.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int32), ctypes.c_size_t]
        lib.latent_context_logits.argtypes = [ctypes.c_void_p]
        lib.latent_context_logits.restype = ctypes.POINTER(ctypes.c_float)
        lib.latent_n_vocab.argtypes = [ctypes.c_void_p]
        lib.latent_last_error.restype = ctypes.c_char_p
        self.model = ctypes.c_void_p()
        if lib.latent_model_load(model_path.encode(), None, ctypes.byref(self.model)) != 0:
            raise RuntimeError(lib.latent_last_error().decode())
        params = lib.latent_context_default_params()
        params.n_threads = 1
        self.ctx = ctypes.c_void_p()
        if lib.latent_context_create(self.model, ctypes.byref(params), ctypes.byref(self.ctx)) != 0:
            raise RuntimeError(lib.latent_last_error().decode())
        self.n_vocab = lib.latent_n_vocab(self.model)

    def tokenize(self, text):
        out = (ctypes.c_int32 * (len(text) + 8))()
        n = ctypes.c_size_t()
        if self.lib.latent_tokenize(self.model, text, len(text), 3, out, len(out), ctypes.byref(n)) != 0:
            raise RuntimeError(self.lib.latent_last_error().decode())
        return list(out[:n.value])

    def eval(self, tokens):
        arr = (ctypes.c_int32 * len(tokens))(*tokens)
        if self.lib.latent_eval(self.ctx, arr, len(tokens)) != 0:
            raise RuntimeError(self.lib.latent_last_error().decode())
        return np.ctypeslib.as_array(self.lib.latent_context_logits(self.ctx), shape=(self.n_vocab,)).copy()


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--lib")]
    lib = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--lib=")), "build/liblatent.so")
    if len(args) < 2:
        sys.exit(__doc__)
    model, prompt, n = args[0], open(args[1], "rb").read(), int(args[2]) if len(args) > 2 else 64

    ours = Latent(lib, model)
    ref = Llama(model_path=model, n_ctx=4096, n_threads=1, verbose=False, logits_all=True, n_batch=512)
    toks_ours = ours.tokenize(prompt)
    toks_ref = ref.tokenize(prompt, add_bos=True, special=True)
    print(f"prompt: {len(toks_ref)} tokens, identical: {toks_ours == toks_ref}")

    logits_ours = ours.eval(toks_ours)
    ref.eval(toks_ref)
    logits_ref = np.array(ref.scores[len(toks_ref) - 1])
    diff = logits_ours - logits_ref
    print(f"logits after the prompt: max |diff| {np.abs(diff).max():.4f}, rms {np.sqrt((diff ** 2).mean()):.4f}")

    same = 0
    for i in range(n):
        a, b = int(np.argmax(logits_ours)), int(np.argmax(logits_ref))
        if a != b:
            break
        same += 1
        logits_ours = ours.eval([a])
        ref.eval([b])
        logits_ref = np.array(ref.scores[ref.n_tokens - 1])
    print(f"greedy: the first {same} of {n} tokens identical")

    # Speed: the same loop for both (evaluate one token, argmax over the logits), one thread,
    # after the prompt; the Python around each call is the same on both sides.
    import time
    for name, step in (("liblatent", lambda t: ours.eval([t])),
                       ("llama.cpp", lambda t: (ref.eval([t]), np.array(ref.scores[ref.n_tokens - 1]))[1])):
        logits, t0 = step(int(toks_ref[-1])), time.perf_counter()
        for _ in range(n):
            logits = step(int(np.argmax(logits)))
        print(f"{name}: {n / (time.perf_counter() - t0):.1f} tokens/s generating (1 thread)")


if __name__ == "__main__":
    main()
