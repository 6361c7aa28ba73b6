/*
 * generate.c — prompt in, text out: tokenize, evaluate, then sample and stream pieces
 * until an end token, the caller, or the token limit says stop.
 */
#include <string.h>

#include "context.h"
#include "tokenizer.h"

latent_generate_params latent_generate_default_params(void)
{
    latent_generate_params p;
    memset(&p, 0, sizeof p);
    p.tokenize_flags = LATENT_TOKENIZE_ADD_BOS;
    p.max_tokens = 128;
    return p;
}

latent_status latent_generate(latent_context *ctx, latent_sampler *sampler,
                              const latent_generate_params *params, int32_t *n_generated)
{
    if (n_generated)
        *n_generated = 0;
    if (!ctx || !sampler || !params || (!params->prompt && params->prompt_len) || params->max_tokens < 0)
        return lt_fail(LATENT_EINVAL, "latent_generate: bad argument");
    const char *prompt = params->prompt;
    size_t len = params->prompt_len;
    int flags = params->tokenize_flags;
    int32_t max_tokens = params->max_tokens;
    latent_piece_fn fn = params->on_piece;
    void *user = params->user;
    const latent_model *m = ctx->model;

    /* the prompt: count first, then tokenize into a buffer of the right size */
    size_t n_prompt = 0;
    latent_status st = latent_tokenize(m, prompt, len, flags, NULL, 0, &n_prompt);
    if (st != LATENT_OK && st != LATENT_ERANGE)
        return st;
    latent_token *toks = lt_alloc(NULL, (n_prompt ? n_prompt : 1) * sizeof *toks);
    if (!toks)
        return LATENT_ENOMEM;
    st = latent_tokenize(m, prompt, len, flags, toks, n_prompt, &n_prompt);
    if (st == LATENT_OK && n_prompt == 0 && latent_context_n_tokens(ctx) == 0)
        st = lt_fail(LATENT_EINVAL, "nothing to condition on: the prompt is empty and the "
                     "context holds no tokens (add BOS?)");
    if (st == LATENT_OK)
        st = latent_eval(ctx, toks, n_prompt);
    for (size_t i = 0; st == LATENT_OK && i < n_prompt; i++)
        st = latent_sampler_accept(sampler, toks[i]);
    /* a prompt that is only BOS: the decoder must know, to drop SentencePiece's space */
    int ends_with_bos = n_prompt > 0 && toks[n_prompt - 1] == latent_token_bos(m);
    lt_free(NULL, toks);
    if (st != LATENT_OK)
        return st;

    /* what one push can produce: a held partial character and the longest piece */
    size_t piece_cap = 16 + (size_t)lt_model_vocab(m)->max_piece;
    char *piece = lt_alloc(NULL, piece_cap);
    latent_decoder *dec = NULL;
    if (!piece)
        return LATENT_ENOMEM;
    if ((st = latent_decoder_create(m, &dec)) != LATENT_OK) {
        lt_free(NULL, piece);
        return st;
    }
    size_t none;
    if (ends_with_bos)
        latent_decoder_push(dec, latent_token_bos(m), piece, piece_cap, &none);
    for (int32_t i = 0; i < max_tokens; i++) {
        latent_token tok;
        if ((st = latent_sampler_sample(sampler, latent_context_logits(ctx), &tok)) != LATENT_OK)
            break;
        if (latent_token_is_end(m, tok))
            break;
        size_t n = 0;
        if ((st = latent_decoder_push(dec, tok, piece, piece_cap, &n)) != LATENT_OK)
            break;
        if (n_generated)
            (*n_generated)++;
        if (fn && fn(piece, n, tok, user))
            break;
        if (i + 1 < max_tokens && (st = latent_eval(ctx, &tok, 1)) != LATENT_OK)
            break;
    }
    latent_decoder_free(dec);
    lt_free(NULL, piece);
    return st;
}
