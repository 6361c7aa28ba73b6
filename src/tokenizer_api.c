/*
 * tokenizer_api.c — the public "Tokens and text" and "Chat templates" functions that
 * take a model: thin wrappers over the vocabulary (tokenizer.c, decoder.c, chat.c),
 * kept apart so the vocabulary can be built and tested on its own.
 */
#include <string.h>

#include "model.h"
#include "tokenizer.h"

static const struct lt_vocab *vocab_of(const latent_model *model)
{
    return model ? lt_model_vocab(model) : NULL;
}

latent_token latent_token_bos(const latent_model *model)
{
    const struct lt_vocab *v = vocab_of(model);
    return v ? v->bos : -1;
}

latent_token latent_token_eos(const latent_model *model)
{
    const struct lt_vocab *v = vocab_of(model);
    return v ? v->eos : -1;
}

int latent_token_is_end(const latent_model *model, latent_token token)
{
    const struct lt_vocab *v = vocab_of(model);
    return v && token >= 0 && lt_vocab_is_eog(v, token);
}

latent_status latent_tokenize(const latent_model *model, const char *text, size_t len, int flags,
                              latent_token *out, size_t cap, size_t *n_out)
{
    const struct lt_vocab *v = vocab_of(model);
    if (!v) {
        if (n_out)
            *n_out = 0;
        return lt_fail(LATENT_EINVAL, "latent_tokenize: no model");
    }
    return lt_vocab_tokenize(v, text, len, flags, out, cap, n_out);
}

latent_status latent_token_piece(const latent_model *model, latent_token token, char *out, size_t cap,
                                 size_t *n_out)
{
    if (n_out)
        *n_out = 0;
    const struct lt_vocab *v = vocab_of(model);
    if (!v || !n_out || (!out && cap))
        return lt_fail(LATENT_EINVAL, "latent_token_piece: NULL argument");
    size_t n;
    const char *p = lt_vocab_piece(v, token, &n);
    if (!p)
        return lt_fail(LATENT_EINVAL, "latent_token_piece: token %d is not in the vocabulary (%d)",
                       (int)token, (int)v->n_tokens);
    *n_out = n;
    if (n > cap)
        return lt_fail(LATENT_ERANGE, "latent_token_piece: %zu bytes do not fit in %zu", n, cap);
    memcpy(out, p, n);
    return LATENT_OK;
}

latent_status latent_decoder_create(const latent_model *model, latent_decoder **out)
{
    return lt_decoder_create(vocab_of(model), out);
}

latent_chat_template latent_model_chat_template(const latent_model *model)
{
    const latent_gguf *g = model ? latent_model_gguf(model) : NULL;
    latent_str s;
    int64_t i = g ? latent_gguf_find_key(g, "tokenizer.chat_template") : -1;
    if (i < 0 || latent_gguf_kv_type(g, i) != LATENT_GGUF_STRING || latent_gguf_kv_str(g, i, 0, &s) != LATENT_OK)
        /* Gemma 3 files converted without a template still speak only gemma's turns */
        return model && model->hp.arch == LT_ARCH_GEMMA3 ? LATENT_CHAT_GEMMA : LATENT_CHAT_RAW;
    return lt_chat_detect(s.ptr, (size_t)s.len);
}
