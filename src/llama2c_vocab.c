/*
 * llama2c_vocab.c — llama2.c's tokenizer files (tok512.bin, tokenizer.bin) read into the
 * spelling GGUF vocabularies use, for a converter and for tests.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

/* ============================================================================
 * llama2.c tokenizer files
 * ========================================================================== */

static int32_t rd_i32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

void lt_llama2c_vocab_free(lt_llama2c_vocab *v, lt_budget *budget)
{
    if (!v)
        return;
    if (v->tokens)
        for (int32_t i = 0; i < v->n_tokens; i++)
            lt_free(budget, v->tokens[i]);
    lt_free(budget, v->tokens);
    lt_free(budget, v->lens);
    lt_free(budget, v->scores);
    lt_free(budget, v->types);
    lt_free(budget, v);
}

latent_status lt_llama2c_vocab_parse(const void *data, size_t size, int32_t n_tokens, lt_budget *budget,
                                     lt_llama2c_vocab **out)
{
    if (!out)
        return lt_fail(LATENT_EINVAL, "lt_llama2c_vocab_parse: out is NULL");
    *out = NULL;
    if (!data || n_tokens <= 0)
        return lt_fail(LATENT_EINVAL, "lt_llama2c_vocab_parse: no data or no tokens");
    const unsigned char *p = data;
    if (size < 4 || (size - 4) / 8 < (size_t)n_tokens)
        return lt_fail(LATENT_EFORMAT, "llama2.c tokenizer: %zu bytes cannot hold %d tokens", size,
                       (int)n_tokens);
    lt_llama2c_vocab *v = lt_calloc(budget, 1, sizeof *v);
    if (!v)
        return LATENT_ENOMEM;
    v->max_token_length = rd_i32(p);
    v->tokens = lt_calloc(budget, (size_t)n_tokens, sizeof *v->tokens);
    v->lens = lt_calloc(budget, (size_t)n_tokens, sizeof *v->lens);
    v->scores = lt_calloc(budget, (size_t)n_tokens, sizeof *v->scores);
    v->types = lt_calloc(budget, (size_t)n_tokens, sizeof *v->types);
    if (!v->tokens || !v->lens || !v->scores || !v->types) {
        lt_llama2c_vocab_free(v, budget);
        return LATENT_ENOMEM;
    }
    v->n_tokens = n_tokens;
    size_t at = 4;
    for (int32_t i = 0; i < n_tokens; i++) {
        if (size - at < 8) {
            lt_llama2c_vocab_free(v, budget);
            return lt_fail(LATENT_EFORMAT, "llama2.c tokenizer: token %d starts past the end (offset %zu)",
                           (int)i, at);
        }
        uint32_t bits = (uint32_t)rd_i32(p + at);
        memcpy(&v->scores[i], &bits, 4);
        int32_t len = rd_i32(p + at + 4);
        at += 8;
        if (len < 0 || (size_t)len > size - at) {
            lt_llama2c_vocab_free(v, budget);
            return lt_fail(LATENT_EFORMAT, "llama2.c tokenizer: token %d has length %d at offset %zu",
                           (int)i, (int)len, at - 4);
        }
        const char *s = (const char *)p + at;
        at += (size_t)len;
        /* spelled as SentencePiece spells it */
        int32_t type = 1;
        if (len == 5 && memcmp(s, "<unk>", 5) == 0 && i == 0)
            type = 2;
        if ((len == 5 && memcmp(s, "\n<s>\n", 5) == 0) || (len == 6 && memcmp(s, "\n</s>\n", 6) == 0)) {
            s++;
            len -= 2;
            type = 3;
        }
        if (lt_byte_token_value(s, (size_t)len) >= 0)
            type = 6;
        size_t n_sp = 0;
        for (int32_t k = 0; k < len; k++)
            n_sp += s[k] == ' ';
        char *t = n_sp <= (SIZE_MAX - (size_t)len - 1) / 2 ? lt_alloc(budget, (size_t)len + 2 * n_sp + 1) : NULL;
        if (!t) {
            lt_llama2c_vocab_free(v, budget);
            return LATENT_ENOMEM;
        }
        size_t o = 0;
        for (int32_t k = 0; k < len; k++) {
            if (s[k] == ' ' && type == 1) {
                memcpy(t + o, "\xe2\x96\x81", 3);
                o += 3;
            } else {
                t[o++] = s[k];
            }
        }
        t[o] = 0;
        v->tokens[i] = t;
        v->lens[i] = o;
        v->types[i] = type;
    }
    *out = v;
    return LATENT_OK;
}
