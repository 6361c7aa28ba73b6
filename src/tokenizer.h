/*
 * tokenizer.h — the vocabulary and the tokenizers behind "Tokens and text" in latent.h.
 *
 * A vocabulary is built once from a GGUF's tokenizer.* metadata and is read-only after
 * that, so any number of threads may tokenize with it at once. Two algorithms:
 *   SPM ("llama"): SentencePiece-style BPE, merging the adjacent pair whose token has the
 *       highest score, with <0xXX> byte tokens for what no token covers (tokenize_spm.c);
 *   BPE ("gpt2"): byte-level BPE, merging the pair with the lowest merge rank, after a
 *       pre-tokenizer chosen by tokenizer.ggml.pre cuts the text into words
 *       (pretokenize.c, tokenize_bpe.c).
 * Before either runs, special tokens are cut out of the text (all user-defined tokens,
 * and control tokens only when the caller asks) — tokenizer.c.
 * The results match llama.cpp's (and so Hugging Face's) token for token.
 */
#ifndef LT_TOKENIZER_H
#define LT_TOKENIZER_H

#include "internal.h"

struct lt_vocab;

/* Builds the tokenizer from the GGUF's tokenizer.* metadata; everything charged to budget. */
latent_status lt_vocab_load(const latent_gguf *gguf, lt_budget *budget, struct lt_vocab **out);
void lt_vocab_free(struct lt_vocab *vocab, lt_budget *budget);
int32_t lt_vocab_size(const struct lt_vocab *vocab);
/* "<0xHH>" (a byte token's text) -> the byte, else -1. */
int lt_byte_token_value(const char *s, size_t n);

/* Candidate merges of two neighbouring symbols, best first: the highest priority, then
 * the leftmost. Both tokenizers keep one: byte-level BPE with priority -rank, SentencePiece
 * with the merged token's score. `tag` lets the tokenizer tell a stale candidate (BPE: the
 * merge's rank; SentencePiece: the pair's length in bytes when it was proposed). */
typedef struct lt_merge_candidate {
    double priority;
    int32_t left, right; /* the symbols */
    int32_t tag;
} lt_merge_candidate;

/* A binary heap in h[0 .. *n-1]; the caller sizes h for every push. */
void lt_merge_queue_push(lt_merge_candidate *h, size_t *n, lt_merge_candidate c);
lt_merge_candidate lt_merge_queue_pop(lt_merge_candidate *h, size_t *n);

/* ---- the vocabulary ---- */

typedef enum lt_vocab_type {
    LT_VOCAB_SPM, /* tokenizer.ggml.model = "llama" */
    LT_VOCAB_BPE, /* tokenizer.ggml.model = "gpt2" */
} lt_vocab_type;

/* How a byte-level BPE vocabulary cuts text into words (tokenizer.ggml.pre). */
typedef enum lt_pre_type {
    LT_PRE_DEFAULT,        /* "default" or absent */
    LT_PRE_GPT2,           /* gpt-2, mpt, olmo, phi-2, jais, roberta-bpe, ... */
    LT_PRE_LLAMA3,         /* llama-bpe, llama3, dbrx, smaug-bpe, falcon3 (digits by 3) */
    LT_PRE_QWEN2,          /* qwen2, stablelm2, megrez, deepseek-r1-qwen (digits one by one) */
    LT_PRE_STARCODER,      /* starcoder, refact, smollm, command-r, codeshell, exaone, ... */
    LT_PRE_FALCON,         /* falcon */
    LT_PRE_DEEPSEEK_LLM,   /* deepseek-llm */
    LT_PRE_DEEPSEEK_CODER, /* deepseek-coder */
} lt_pre_type;

/* Token attributes (from tokenizer.ggml.token_type, then adjusted by name). */
enum {
    LT_TOK_NORMAL = 1 << 0,
    LT_TOK_UNKNOWN = 1 << 1,
    LT_TOK_CONTROL = 1 << 2,
    LT_TOK_USER = 1 << 3,   /* user-defined: always cut out of text before tokenizing */
    LT_TOK_UNUSED = 1 << 4,
    LT_TOK_BYTE = 1 << 5,   /* <0xXX> */
    LT_TOK_RSTRIP = 1 << 6, /* eats the whitespace after it when cut out of text */
    LT_TOK_LSTRIP = 1 << 7, /* eats the whitespace before it */
};

struct lt_vocab {
    lt_vocab_type type;
    lt_pre_type pre;
    int32_t n_tokens;
    /* Three byte arenas, token i at [off[i], off[i+1]) of each:
     *   text:  the token as stored in the file ("▁the", "Ġthe", "<|eot_id|>");
     *   key:   what the tokenizer looks tokens up by — the text itself for SPM, the raw
     *          bytes for BPE (byte-level alphabet decoded; tokens that are not spelled in
     *          that alphabet have no key and are never produced by merging);
     *   piece: what the token means as text (▁ as space, <0x41> as 'A', Ġ as space). */
    char *text, *key, *piece;
    uint32_t *text_off, *key_off, *piece_off; /* n_tokens + 1 each */
    uint8_t *has_key;                         /* n_tokens: 1 if key is valid (BPE) */
    float *score;                             /* SPM: n_tokens (0 when the file has none); BPE: NULL */
    uint8_t *attr;                            /* n_tokens LT_TOK_* */
    int32_t max_piece;                        /* the longest piece, bytes */

    /* key -> id, open addressing (-1 empty); later ids win on equal keys, as in llama.cpp */
    int32_t *table;
    uint32_t table_mask;

    /* BPE merges, by rank: (left, right) -> result, looked up through merge_table */
    int32_t n_merges;
    int32_t *merge_left, *merge_right, *merge_result;
    int32_t *merge_table; /* rank, -1 empty */
    uint32_t merge_mask;
    int ignore_merges; /* llama3: a word that is a token is taken whole */

    int32_t byte_token[256]; /* SPM: <0xXX>; BPE: the token of that single raw byte; -1 */

    /* special ids, -1 when none */
    int32_t bos, eos, eot, eom, unk, pad;
    int add_bos, add_space_prefix;
    int add_eos; /* read, never applied: a prompt to continue must not end in EOS */

    /* tokens that are cut out of text (control, user-defined, unknown), longest first */
    int32_t *specials;
    int32_t n_specials;
    /* tokens that end a turn or the text (EOS, EOT, <|im_end|>, ...) */
    int32_t *eog;
    int32_t n_eog;
};

/* The token whose key is these bytes, or -1. */
int32_t lt_vocab_find(const struct lt_vocab *v, const char *s, size_t len);
/* The rank of merging tokens a and b, or -1. */
int32_t lt_vocab_merge_rank(const struct lt_vocab *v, int32_t a, int32_t b);

/* ---- tokenizing ---- */

/* Where tokens go: written while they fit in cap, always counted in n. */
typedef struct lt_token_sink {
    latent_token *out;
    size_t cap;
    size_t n;
} lt_token_sink;

static inline void lt_sink_push(lt_token_sink *sink, latent_token t)
{
    if (sink->n < sink->cap)
        sink->out[sink->n] = t;
    sink->n++;
}

/* The whole pipeline: special tokens, then SPM or BPE on each stretch of text.
 * flags: LATENT_TOKENIZE_*. LATENT_ERANGE when cap is too small (sink.n says how many). */
latent_status lt_vocab_tokenize(const struct lt_vocab *v, const char *text, size_t len,
                                int flags, latent_token *out, size_t cap, size_t *n_out);

/* One stretch of text without special tokens (prefix_space: SPM's leading ▁). */
latent_status lt_tokenize_spm(const struct lt_vocab *v, const char *text, size_t len,
                              int prefix_space, lt_token_sink *sink);
latent_status lt_tokenize_bpe(const struct lt_vocab *v, const char *text, size_t len,
                              lt_token_sink *sink);

/* Pre-tokenizing (pretokenize.c): cuts text into words the way `pre` does. On success
 * *ends (lt_alloc'd with a NULL budget, freed by the caller with lt_free) holds *n_words
 * ascending byte offsets, each the end of a word; the last is len. */
latent_status lt_pretokenize(lt_pre_type pre, const char *text, size_t len, size_t **ends,
                             size_t *n_words);
/* The pre-tokenizer a tokenizer.ggml.pre name selects; -1 if liblatent does not know it. */
int lt_pre_type_from_name(const char *name, size_t len);
const char *lt_pre_type_name(lt_pre_type pre);

/* ---- reading back ---- */

/* The piece of a token (see struct lt_vocab); NULL for ids out of range. */
static inline const char *lt_vocab_piece(const struct lt_vocab *v, int32_t id, size_t *len)
{
    if (id < 0 || id >= v->n_tokens)
        return NULL;
    *len = v->piece_off[id + 1] - v->piece_off[id];
    return v->piece + v->piece_off[id];
}
static inline const char *lt_vocab_text(const struct lt_vocab *v, int32_t id, size_t *len)
{
    if (id < 0 || id >= v->n_tokens)
        return NULL;
    *len = v->text_off[id + 1] - v->text_off[id];
    return v->text + v->text_off[id];
}
int lt_vocab_is_eog(const struct lt_vocab *v, int32_t id);

/* The streaming decoder and chat templates on a vocabulary / a template text, for the
 * public functions that take a model (tokenizer_api.c). */
latent_status lt_decoder_create(const struct lt_vocab *v, latent_decoder **out);
latent_chat_template lt_chat_detect(const char *tmpl, size_t len);

/* ---- llama2.c tokenizer files (tok512.bin, tokenizer.bin), for the converter ----
 * Format: int32 max_token_length, then per token: float32 score, int32 length, bytes.
 * The result is spelled the way llama.cpp's converter writes a GGUF vocabulary: spaces
 * as U+2581, "\n<s>\n" and "\n</s>\n" as "<s>" and "</s>", with token types (1 normal,
 * 2 unknown for id 0, 3 control for ids 1 and 2, 6 byte for <0xXX>). */
typedef struct lt_llama2c_vocab {
    int32_t n_tokens;
    char **tokens;   /* each followed by a NUL (which lens[i] does not count) */
    size_t *lens;    /* bytes of each token */
    float *scores;
    int32_t *types;
    int32_t max_token_length;
} lt_llama2c_vocab;

/* Reads n_tokens tokens (the count is in the model file, not the tokenizer file). */
latent_status lt_llama2c_vocab_parse(const void *data, size_t size, int32_t n_tokens,
                                     lt_budget *budget, lt_llama2c_vocab **out);
void lt_llama2c_vocab_free(lt_llama2c_vocab *v, lt_budget *budget);

#endif /* LT_TOKENIZER_H */
