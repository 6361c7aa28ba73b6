/*
 * fuzz_model.c — libFuzzer target: bytes → GGUF view → model (hyperparameters, tensor
 * shapes and types, the vocabulary) → one token through a tiny context. Whatever the
 * bytes, the answer is a status, never a crash, a hang or a leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "latent_gguf.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    latent_set_log(NULL, NULL, LATENT_LOG_ERROR);
    latent_gguf *g = NULL;
    if (latent_gguf_parse(data, size, &g) != LATENT_OK)
        return 0;
    latent_model *m = NULL;
    if (lt_model_from_view(g, 0, &m) != LATENT_OK)
        return 0;
    latent_context_params cp = latent_context_default_params();
    cp.n_threads = 1;
    cp.mem_budget = 64u << 20; /* a hostile shape must not make the fuzzer swap */
    latent_context *ctx = NULL;
    if (latent_context_create(m, &cp, &ctx) == LATENT_OK) {
        latent_token t = latent_token_bos(m) >= 0 ? latent_token_bos(m) : 0;
        latent_eval(ctx, &t, 1);
        latent_context_free(ctx);
    }
    latent_model_free(m);
    return 0;
}
