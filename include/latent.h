/*
 * latent.h — the only door into liblatent.
 *
 * liblatent runs LLaMA-family language models from GGUF files on small CPUs.
 * The data flows one way, and so does this header:
 *
 *     file → GGUF view → model → context (KV cache) → logits → sampler → token → text
 *
 * Conventions
 *   - Every fallible function returns a latent_status. On failure, latent_last_error()
 *     holds a sentence saying what went wrong (per thread, valid until the next failure).
 *   - Objects are opaque. Each has a create/free pair; free(NULL) does nothing.
 *   - Parameter structs are passed as `const latent_x_params *`; NULL means defaults,
 *     and latent_x_default_params() returns those defaults for you to change.
 *   - Running out of memory is LATENT_ENOMEM, an ordinary status: the library never
 *     aborts, exits or prints to stdout. Log lines go to the callback (stderr if none).
 *   - Ownership is written next to each function: "borrows" (the caller keeps it),
 *     "takes ownership", "valid until ...".
 */
#ifndef LATENT_H
#define LATENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================
 * Version
 * ========================================================================== */

#define LATENT_VERSION_MAJOR 0
#define LATENT_VERSION_MINOR 2
#define LATENT_VERSION_PATCH 0
#define LATENT_VERSION \
    (LATENT_VERSION_MAJOR * 1000000 + LATENT_VERSION_MINOR * 1000 + LATENT_VERSION_PATCH)

/* The version of the library actually linked (compare with LATENT_VERSION). */
int latent_version(void);
/* "0.1.0"; static storage. */
const char *latent_version_string(void);

/* ============================================================================
 * Status codes, errors, logging
 * ========================================================================== */

typedef enum latent_status {
    LATENT_OK = 0,
    LATENT_EINVAL = -1,       /* an argument is out of range or NULL */
    LATENT_ENOMEM = -2,       /* an allocation failed or would exceed a budget */
    LATENT_EIO = -3,          /* a file could not be opened, read, mapped or written */
    LATENT_EFORMAT = -4,      /* a file is malformed (the message names the byte offset) */
    LATENT_EUNSUPPORTED = -5, /* well-formed, but not something liblatent runs */
    LATENT_ENOTFOUND = -6,    /* a key, tensor or token is not there */
    LATENT_ERANGE = -7,       /* an output buffer is too small (the needed size is returned) */
} latent_status;

/* A short fixed description of a status ("out of memory"); static storage. */
const char *latent_status_str(latent_status status);

/* The detailed message of the last failure in the calling thread, or "" if none.
 * Valid until the next liblatent call in this thread that fails. */
const char *latent_last_error(void);

typedef enum latent_log_level {
    LATENT_LOG_ERROR = 0,
    LATENT_LOG_WARN = 1,
    LATENT_LOG_INFO = 2,
    LATENT_LOG_DEBUG = 3,
} latent_log_level;

/* `message` has no trailing newline and is valid only during the call. */
typedef void (*latent_log_fn)(latent_log_level level, const char *message, void *user);

/* Routes log lines at or below `max_level` to `fn` (NULL: stderr, the default).
 * Process-wide; call it before creating objects in other threads. */
void latent_set_log(latent_log_fn fn, void *user, latent_log_level max_level);

/* ============================================================================
 * Memory accounting and failure injection
 *
 * Every allocation in the library goes through one place. These let a program see
 * how much the library holds, and let tests fail allocations on purpose.
 * ========================================================================== */

/* Bytes the library currently holds on the heap, process-wide (mapped files excluded). */
size_t latent_heap_bytes(void);
/* The highest latent_heap_bytes() seen since the process started. */
size_t latent_heap_peak_bytes(void);

/* Tests' control of the library: what a test harness needs and a program never does. */
typedef enum latent_test_op {
    /* make the value-th allocation from now fail (1: the next one); 0 disables.
     * Process-wide and thread-safe. */
    LATENT_TEST_FAIL_ALLOCATION = 1,
    /* *out = how many allocations the library has attempted since the process started */
    LATENT_TEST_ALLOCATION_COUNT = 2,
} latent_test_op;

/* LATENT_EINVAL for an unknown op (or a NULL out where one is needed). */
latent_status latent_test_control(latent_test_op op, long value, long *out);

/* ============================================================================
 * Tensor types (the GGUF / ggml type ids): of weights, and of the KV cache
 * ========================================================================== */

typedef enum latent_type {
    LATENT_TYPE_F32 = 0,
    LATENT_TYPE_F16 = 1,
    LATENT_TYPE_Q4_0 = 2,
    LATENT_TYPE_Q4_1 = 3,
    LATENT_TYPE_Q5_0 = 6,
    LATENT_TYPE_Q5_1 = 7,
    LATENT_TYPE_Q8_0 = 8,
    LATENT_TYPE_Q8_1 = 9,
    LATENT_TYPE_Q2_K = 10,
    LATENT_TYPE_Q3_K = 11,
    LATENT_TYPE_Q4_K = 12,
    LATENT_TYPE_Q5_K = 13,
    LATENT_TYPE_Q6_K = 14,
    LATENT_TYPE_Q8_K = 15,
    LATENT_TYPE_BF16 = 30,
} latent_type;


/* ============================================================================
 * Model: weights and vocabulary, read-only once loaded, shared by contexts
 * ========================================================================== */

typedef struct latent_model latent_model;
typedef int32_t latent_token;

typedef struct latent_model_params {
    int vocab_only; /* load only the tokenizer (a vocabulary GGUF has no tensors) */
    int use_mmap;   /* 1: map the file (default); 0: read it into memory */
} latent_model_params;

latent_model_params latent_model_default_params(void);
/* Loads a GGUF model. Refuses architectures, tensor types and shapes it cannot run with
 * LATENT_EUNSUPPORTED or LATENT_EFORMAT naming the offender. */
latent_status latent_model_load(const char *path, const latent_model_params *params,
                                latent_model **out);
void latent_model_free(latent_model *model);

/* ============================================================================
 * Tokens and text
 * ========================================================================== */

enum {
    LATENT_TOKENIZE_ADD_BOS = 1 << 0, /* prepend BOS when the vocabulary uses one */
    LATENT_TOKENIZE_SPECIAL = 1 << 1, /* recognise special-token text ("<|eot_id|>") */
};

int32_t latent_n_vocab(const latent_model *model);
latent_token latent_token_bos(const latent_model *model); /* -1 if none */
latent_token latent_token_eos(const latent_model *model); /* -1 if none */
/* 1 if the token ends a turn or the text (EOS, EOT, <|im_end|>, ...). */
int latent_token_is_end(const latent_model *model, latent_token token);

/* Text (len bytes, any bytes) to tokens. Writes at most `cap` tokens to `out` and the
 * count to *n_out; when cap is too small, returns LATENT_ERANGE with *n_out the count
 * needed. */
latent_status latent_tokenize(const latent_model *model, const char *text, size_t len,
                              int flags, latent_token *out, size_t cap, size_t *n_out);
/* The bytes of one token as it appears in text (byte tokens as their byte, the
 * SentencePiece space as ' '). Not NUL-terminated; LATENT_ERANGE with *n_out the size
 * needed when cap is too small. A piece may end inside a UTF-8 sequence: use a
 * latent_decoder for streaming. */
latent_status latent_token_piece(const latent_model *model, latent_token token, char *out,
                                 size_t cap, size_t *n_out);

/* A streaming decoder: tokens in, complete UTF-8 out (a partial sequence is held until
 * the bytes that finish it arrive). It drops the leading space SentencePiece puts on
 * the first word after BOS. */
typedef struct latent_decoder latent_decoder;
latent_status latent_decoder_create(const latent_model *model, latent_decoder **out);
void latent_decoder_free(latent_decoder *dec);
/* Appends the bytes `token` completes to out (at most cap; 16 + the longest piece is
 * always enough) and their count to *n_out. */
latent_status latent_decoder_push(latent_decoder *dec, latent_token token, char *out,
                                  size_t cap, size_t *n_out);
/* Whatever is still held (an unfinished sequence, as U+FFFD), then starts afresh. */
latent_status latent_decoder_flush(latent_decoder *dec, char *out, size_t cap, size_t *n_out);

/* ============================================================================
 * Chat templates (recognised from tokenizer.chat_template, not executed)
 * ========================================================================== */

typedef enum latent_chat_template {
    LATENT_CHAT_RAW = 0, /* no template: the messages' text, concatenated */
    LATENT_CHAT_LLAMA3,
    LATENT_CHAT_LLAMA2,
    LATENT_CHAT_CHATML,
    LATENT_CHAT_ZEPHYR,
    LATENT_CHAT_PHI3,
    LATENT_CHAT_GEMMA,
} latent_chat_template;

typedef struct latent_chat_message {
    const char *role;    /* "system", "user", "assistant" */
    const char *content; /* NUL-terminated */
} latent_chat_message;

/* The template the model's metadata names, or LATENT_CHAT_RAW. */
latent_chat_template latent_model_chat_template(const latent_model *model);
/* "llama3", "chatml", ...; "raw" */
const char *latent_chat_template_name(latent_chat_template tmpl);
/* Formats n messages; with add_assistant, opens the assistant's turn. out holds cap bytes,
 * the terminating NUL included: the text (*n_out bytes) fits when cap >= *n_out + 1, else
 * LATENT_ERANGE with *n_out the length needed. out may be NULL with cap 0 to measure. */
latent_status latent_chat_format(latent_chat_template tmpl, const latent_chat_message *msgs,
                                 size_t n, int add_assistant, char *out, size_t cap,
                                 size_t *n_out);

/* ============================================================================
 * Sampler: logits → token
 * ========================================================================== */

typedef struct latent_sampler latent_sampler;

typedef struct latent_sampler_params {
    float temperature;       /* 0: greedy (argmax, lowest id on ties); default 0.8 */
    int32_t top_k;           /* keep the k most likely; 0: off; default 40 */
    float top_p;             /* keep the smallest set with this much mass; 1: off; default 0.95 */
    float min_p;             /* drop tokens below min_p * p(most likely); 0: off; default 0.05 */
    float repeat_penalty;    /* divide positive logits (multiply negative) of recent tokens; 1: off */
    float frequency_penalty; /* subtract per occurrence in the window; 0: off */
    float presence_penalty;  /* subtract once if present in the window; 0: off */
    int32_t penalty_window;  /* how many recent tokens the three penalties above see (the
                              * reference engine's repeat_last_n): 0 off, -1 every token
                              * remembered since create or reset; default 64 */
    uint64_t seed;           /* the same seed gives the same choices on every machine; default 42 */
    /* DRY ("don't repeat yourself"): when the last L remembered tokens also appear earlier,
     * the token that followed them there would make the repeat L + 1 long; once L reaches
     * dry_allowed_length its logit loses dry_multiplier * dry_base^(L - dry_allowed_length)
     * (the longest such L for each token). A repeat does not reach back across a sequence
     * breaker (latent_sampler_set_dry_breakers), and a breaker is never penalised. */
    float dry_multiplier;       /* 0: off (default); 0.8 is the reference engine's usual value */
    float dry_base;             /* >= 1: how fast the penalty grows with L; default 1.75 */
    int32_t dry_allowed_length; /* repeats this long go free; default 2 */
    int32_t dry_penalty_last_n; /* how many recent tokens DRY searches: 0 off, -1 (default)
                                 * every token remembered since create or reset */
} latent_sampler_params;

latent_sampler_params latent_sampler_default_params(void);
latent_status latent_sampler_create(int32_t n_vocab, const latent_sampler_params *params,
                                    latent_sampler **out);
void latent_sampler_free(latent_sampler *sampler);
/* Chooses a token from n_vocab logits (borrowed, not modified) and remembers it for the
 * penalties. Allocates nothing, unless a window is -1: then the remembered tokens grow
 * (4 bytes each for the penalties, 12 with DRY, in doublings), and LATENT_ENOMEM leaves
 * the sampler as it was. */
latent_status latent_sampler_sample(latent_sampler *sampler, const float *logits,
                                    latent_token *out);
/* Remembers a token the sampler did not choose (a prompt token) for the penalties. Tokens
 * outside [0, n_vocab) are ignored. LATENT_ENOMEM only as for sample. */
latent_status latent_sampler_accept(latent_sampler *sampler, latent_token token);
/* Forgets the remembered tokens and restarts the random sequence from `seed` (the DRY
 * breakers stay). */
void latent_sampler_reset(latent_sampler *sampler, uint64_t seed);
/* DRY's sequence breakers: these n tokens (borrowed) replace the previous set; n = 0
 * clears it (the default: no breakers). Ids outside [0, n_vocab) are LATENT_EINVAL. */
latent_status latent_sampler_set_dry_breaker_tokens(latent_sampler *sampler,
                                                    const latent_token *tokens, size_t n);
/* The same from text: every token of `model` whose piece contains one of the n strings
 * (borrowed, non-empty) is a breaker. A string that only a run of several tokens spells
 * breaks nothing. The reference engine's set is "\n", ":", "\"", "*"; newlines let a
 * small model loop line by line, so reflect chooses its own (examples/reflect.c). */
latent_status latent_sampler_set_dry_breakers(latent_sampler *sampler, const latent_model *model,
                                              const char *const *texts, size_t n);

/* ============================================================================
 * Context: a model's working memory. The KV cache has no fixed size: it grows in
 * chunks as tokens arrive, until the context's byte budget (or the machine) says no.
 * ========================================================================== */

typedef struct latent_context latent_context;

typedef struct latent_context_params {
    int32_t n_threads;      /* threads for matrix products and attention (the context starts
                               n_threads - 1 of its own); 0 (default): the CPUs this process
                               may run on, the physical cores among them when more than 4 */
    latent_type kv_type;    /* the cache's type: LATENT_TYPE_F16 (default: half the memory of
                             * f32), LATENT_TYPE_F32 (exact) or LATENT_TYPE_Q8_0 (about half
                             * of f16 again, a longer life; head_dim % 32 == 0) */
    size_t mem_budget;      /* bytes this context may hold (KV + scratch); 0: no limit */
    int32_t n_batch;        /* prompt tokens evaluated together; default 32 */
    int32_t kv_chunk;       /* tokens per KV growth step; 0 (default): enough that a step
                             * holds 64 KiB of each head's keys (attention streams them),
                             * at most 1/64 of mem_budget, at least 64 tokens */
    int all_logits;         /* keep the logits of every position of each eval (perplexity) */
} latent_context_params;

latent_context_params latent_context_default_params(void);
/* Borrows `model`: it must outlive the context. Several contexts may share one model,
 * each used by one thread at a time. */
latent_status latent_context_create(const latent_model *model, const latent_context_params *params,
                                    latent_context **out);
void latent_context_free(latent_context *ctx);
/* Forgets every token and releases the KV cache's memory. */
void latent_context_reset(latent_context *ctx);

/* Appends n tokens and computes their logits. On any failure (LATENT_ENOMEM when the
 * cache cannot grow) the context is exactly as it was before the call. */
latent_status latent_eval(latent_context *ctx, const latent_token *tokens, size_t n);
/* The logits after the last evaluated token: latent_n_vocab() floats. Valid until the
 * next eval, reset or free. NULL before the first eval. */
const float *latent_context_logits(const latent_context *ctx);
/* With all_logits: the logits after token i (0-based) of the last eval; else NULL. */
const float *latent_context_logits_at(const latent_context *ctx, size_t i);
/* Tokens held in the cache. */
size_t latent_context_n_tokens(const latent_context *ctx);

typedef struct latent_mem_stats {
    size_t weights_mapped;  /* tensor bytes read from the mapped file */
    size_t weights_heap;    /* tensor bytes the model holds on the heap (0 when mapped) */
    size_t kv_bytes;        /* the KV cache now */
    size_t kv_peak_bytes;   /* the most the KV cache has held since create or reset */
    size_t scratch_bytes;   /* activations, logits, work buffers */
    size_t budget_bytes;    /* the context's budget (0: none) */
    size_t budget_used;     /* bytes charged against it now (KV + scratch + bookkeeping) */
    size_t kv_bytes_per_token;
    size_t kv_chunk_bytes;  /* what one growth step costs, bookkeeping included */
    size_t tokens;          /* tokens held */
    size_t tokens_capacity; /* tokens the cache holds before it must grow again */
} latent_mem_stats;

void latent_context_mem_stats(const latent_context *ctx, latent_mem_stats *out);

/* ============================================================================
 * Generation: prompt in, pieces of text out through a callback
 * ========================================================================== */

/* Called with each piece of complete UTF-8 text (len may be 0 while a multi-byte
 * character is incomplete) and the token that produced it. Return nonzero to stop. */
typedef int (*latent_piece_fn)(const char *text, size_t len, latent_token token, void *user);

typedef struct latent_generate_params {
    const char *prompt;     /* borrowed; may be NULL when prompt_len is 0 */
    size_t prompt_len;      /* bytes of prompt */
    int tokenize_flags;     /* e.g. LATENT_TOKENIZE_ADD_BOS; default LATENT_TOKENIZE_ADD_BOS */
    int32_t max_tokens;     /* tokens to sample at most; default 128 */
    latent_piece_fn on_piece; /* may be NULL */
    void *user;             /* passed to on_piece */
} latent_generate_params;

latent_generate_params latent_generate_default_params(void);

/* Tokenizes params->prompt, evaluates it after whatever the context already holds, then
 * samples up to max_tokens tokens, streaming each to on_piece. Stops at an end token (not
 * passed to on_piece), when on_piece returns nonzero, or at max_tokens. *n_generated (may
 * be NULL) receives the count. On LATENT_ENOMEM the context holds everything evaluated
 * before the failing step. */
latent_status latent_generate(latent_context *ctx, latent_sampler *sampler,
                              const latent_generate_params *params, int32_t *n_generated);

#ifdef __cplusplus
}
#endif
#endif /* LATENT_H */
