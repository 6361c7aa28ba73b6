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
#define LATENT_VERSION_MINOR 1
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

/* Testing: make the n-th allocation from now fail (n = 1: the next one); 0 disables.
 * Process-wide and thread-safe. */
void latent_debug_fail_allocation(long n);
/* Testing: how many allocations the library has attempted since the process started. */
long latent_debug_allocation_count(void);

/* ============================================================================
 * Tensor types (the GGUF / ggml type ids)
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

/* "q4_K", "f16", ... for any ggml type id the GGUF format knows; NULL for unknown ids. */
const char *latent_type_name(uint32_t type);
/* Elements per block (1 for float types), bytes per block; 0 for unknown ids. */
uint32_t latent_type_block_size(uint32_t type);
uint32_t latent_type_block_bytes(uint32_t type);
/* 1 if liblatent can dequantize and multiply this type. */
int latent_type_supported(uint32_t type);

/* Converts one row of n floats to `type` (n a multiple of the block size), with the
 * reference quantizer. dst must hold n / block_size * block_bytes bytes. */
latent_status latent_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);
/* The inverse: the dequantizer that defines the format. */
latent_status latent_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);

/* ============================================================================
 * GGUF: a read-only view of a file, and a writer
 * ========================================================================== */

typedef enum latent_gguf_type {
    LATENT_GGUF_UINT8 = 0,
    LATENT_GGUF_INT8 = 1,
    LATENT_GGUF_UINT16 = 2,
    LATENT_GGUF_INT16 = 3,
    LATENT_GGUF_UINT32 = 4,
    LATENT_GGUF_INT32 = 5,
    LATENT_GGUF_FLOAT32 = 6,
    LATENT_GGUF_BOOL = 7,
    LATENT_GGUF_STRING = 8,
    LATENT_GGUF_ARRAY = 9,
    LATENT_GGUF_UINT64 = 10,
    LATENT_GGUF_INT64 = 11,
    LATENT_GGUF_FLOAT64 = 12,
} latent_gguf_type;

/* "uint8", "string", "array", ...; NULL for an unknown id. */
const char *latent_gguf_type_name(uint32_t type);

typedef struct latent_gguf latent_gguf;

/* A string inside the file: not NUL-terminated, may hold any bytes. */
typedef struct latent_str {
    const char *ptr;
    uint64_t len;
} latent_str;

typedef struct latent_gguf_tensor {
    const char *name;  /* NUL-terminated copy */
    uint32_t type;     /* latent_type id */
    uint32_t n_dims;   /* 1..4 */
    uint64_t ne[4];    /* elements per dimension; ne[0] is the contiguous row; unused = 1 */
    uint64_t n_elements;
    uint64_t offset;   /* from the start of the data section */
    uint64_t size;     /* bytes */
    const void *data;  /* inside the view's buffer */
} latent_gguf_tensor;

/* Parses a GGUF held in memory. Borrows `data`: it must outlive the view.
 * Every count, length and offset is checked against `size`; a malformed file is
 * LATENT_EFORMAT naming what was wrong and where. */
latent_status latent_gguf_parse(const void *data, size_t size, latent_gguf **out);
/* Maps `path` read-only (reads it into memory where mapping is impossible) and parses it.
 * The view owns the mapping. */
latent_status latent_gguf_open(const char *path, latent_gguf **out);
void latent_gguf_free(latent_gguf *gguf);

uint32_t latent_gguf_version(const latent_gguf *gguf);
uint64_t latent_gguf_alignment(const latent_gguf *gguf);
uint64_t latent_gguf_data_offset(const latent_gguf *gguf); /* where tensor data begins */
uint64_t latent_gguf_size(const latent_gguf *gguf);        /* bytes in the file */
int latent_gguf_is_mapped(const latent_gguf *gguf);       /* 1 if mmap'd, 0 if read */

/* Metadata, by index (0 .. n_kv-1) in file order. */
int64_t latent_gguf_n_kv(const latent_gguf *gguf);
int64_t latent_gguf_find_key(const latent_gguf *gguf, const char *key); /* -1 if absent */
const char *latent_gguf_kv_key(const latent_gguf *gguf, int64_t i);     /* NUL-terminated */
latent_gguf_type latent_gguf_kv_type(const latent_gguf *gguf, int64_t i);
/* For arrays: the element type and the count. For scalars: the type and 1. */
latent_gguf_type latent_gguf_kv_elem_type(const latent_gguf *gguf, int64_t i);
uint64_t latent_gguf_kv_count(const latent_gguf *gguf, int64_t i);
/* Element j of kv i (j = 0 for a scalar), converted. Integers and bools read as int,
 * floats as double; mismatched kinds are LATENT_EINVAL, out-of-range j LATENT_ERANGE. */
latent_status latent_gguf_kv_int(const latent_gguf *gguf, int64_t i, uint64_t j, int64_t *out);
latent_status latent_gguf_kv_uint(const latent_gguf *gguf, int64_t i, uint64_t j, uint64_t *out);
latent_status latent_gguf_kv_float(const latent_gguf *gguf, int64_t i, uint64_t j, double *out);
latent_status latent_gguf_kv_str(const latent_gguf *gguf, int64_t i, uint64_t j, latent_str *out);
/* The raw little-endian bytes of a numeric array (for bulk reads); NULL for strings. */
const void *latent_gguf_kv_data(const latent_gguf *gguf, int64_t i);

/* Typed getters by key. LATENT_ENOTFOUND when absent, LATENT_EINVAL on a type mismatch,
 * LATENT_ERANGE when an integer does not fit. */
latent_status latent_gguf_get_int(const latent_gguf *gguf, const char *key, int64_t *out);
latent_status latent_gguf_get_float(const latent_gguf *gguf, const char *key, double *out);
latent_status latent_gguf_get_bool(const latent_gguf *gguf, const char *key, int *out);
latent_status latent_gguf_get_str(const latent_gguf *gguf, const char *key, latent_str *out);

/* Tensors, by index in file order or by name. The pointers live as long as the view. */
int64_t latent_gguf_n_tensors(const latent_gguf *gguf);
const latent_gguf_tensor *latent_gguf_tensor_at(const latent_gguf *gguf, int64_t i);
const latent_gguf_tensor *latent_gguf_find_tensor(const latent_gguf *gguf, const char *name);

/* The writer collects metadata and tensors, then writes a GGUF v3 file with tensor data
 * aligned to `alignment` (32 by default, or general.alignment when that key is added). */
typedef struct latent_gguf_writer latent_gguf_writer;

latent_status latent_gguf_writer_create(latent_gguf_writer **out);
void latent_gguf_writer_free(latent_gguf_writer *w);

/* Scalar value: `value` points to one element of `type` (bool as uint8). Copies it. */
latent_status latent_gguf_writer_add(latent_gguf_writer *w, const char *key,
                                     latent_gguf_type type, const void *value);
/* Copies the string. */
latent_status latent_gguf_writer_add_str(latent_gguf_writer *w, const char *key,
                                         const char *str, size_t len);
/* Numeric array of n elements of `elem_type`, little-endian. Copies it. */
latent_status latent_gguf_writer_add_array(latent_gguf_writer *w, const char *key,
                                           latent_gguf_type elem_type, const void *data,
                                           uint64_t n);
/* Array of n strings (lens may be NULL for NUL-terminated strings). Copies them. */
latent_status latent_gguf_writer_add_str_array(latent_gguf_writer *w, const char *key,
                                               const char *const *strs, const size_t *lens,
                                               uint64_t n);
/* Copies metadata entry i of `src`, whatever its type. */
latent_status latent_gguf_writer_copy_kv(latent_gguf_writer *w, const latent_gguf *src,
                                         int64_t i);
/* Adds a tensor. Borrows `data` (size bytes) until the file is written. */
latent_status latent_gguf_writer_add_tensor(latent_gguf_writer *w, const char *name,
                                            uint32_t type, uint32_t n_dims,
                                            const uint64_t *ne, const void *data,
                                            uint64_t size);
/* Writes the file (atomically: to path.tmp, then renamed). */
latent_status latent_gguf_writer_write(latent_gguf_writer *w, const char *path);


/* Rewrites a GGUF model with its weights in another type. `preset` is one of f32 f16
 * bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k q4_k_m q5_k_m. Unless `pure`,
 * each tensor's type follows what llama.cpp's llama-quantize gives under the same name
 * (the output matrix in q6_K, more bits for some attn_v and ffn_down layers in the mixed
 * presets; q3_k, q4_k and q5_k are the _M presets, as there). One-dimensional tensors
 * stay f32; a tensor whose rows are not whole blocks of its type falls back to the
 * nearest type that fits (logged at INFO, and visible to `progress`). */
typedef struct latent_quantize_params {
    int pure; /* every 2-D weight in the preset's type */
    /* Called after each tensor (may be NULL): its name, index, count, and types. */
    void (*progress)(const char *tensor, int64_t i, int64_t n, uint32_t from, uint32_t to,
                     void *user);
    void *user;
} latent_quantize_params;

latent_quantize_params latent_quantize_default_params(void);
latent_status latent_quantize_file(const char *in_path, const char *out_path, const char *preset,
                                   const latent_quantize_params *params);

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
/* The GGUF view the model was loaded from; valid as long as the model. */
const latent_gguf *latent_model_gguf(const latent_model *model);

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
    int32_t penalty_window;  /* how many recent tokens the penalties see; default 64 */
    uint64_t seed;           /* the same seed gives the same choices on every machine; default 42 */
} latent_sampler_params;

latent_sampler_params latent_sampler_default_params(void);
latent_status latent_sampler_create(int32_t n_vocab, const latent_sampler_params *params,
                                    latent_sampler **out);
void latent_sampler_free(latent_sampler *sampler);
/* Chooses a token from n_vocab logits (borrowed, not modified) and remembers it for the
 * penalties. */
latent_status latent_sampler_sample(latent_sampler *sampler, const float *logits,
                                    latent_token *out);
/* Remembers a token the sampler did not choose (a prompt token) for the penalties. */
void latent_sampler_accept(latent_sampler *sampler, latent_token token);
/* Forgets the remembered tokens and restarts the random sequence from `seed`. */
void latent_sampler_reset(latent_sampler *sampler, uint64_t seed);

/* ============================================================================
 * Context: a model's working memory. The KV cache has no fixed size: it grows in
 * chunks as tokens arrive, until the context's byte budget (or the machine) says no.
 * ========================================================================== */

typedef struct latent_context latent_context;

typedef enum latent_kv_type {
    LATENT_KV_F16 = 0,  /* the default: half the memory of f32 */
    LATENT_KV_F32 = 1,  /* exact, twice the memory */
    LATENT_KV_Q8_0 = 2, /* about half of f16 again: a longer life (head_dim % 32 == 0) */
} latent_kv_type;

typedef struct latent_context_params {
    int32_t n_threads;      /* threads for matrix products; 0: every core (default) */
    latent_kv_type kv_type; /* default LATENT_KV_F16 */
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

/* Tokenizes `prompt` (with `flags`, e.g. LATENT_TOKENIZE_ADD_BOS), evaluates it after
 * whatever the context already holds, then samples up to max_tokens tokens, streaming
 * each to `fn`. Stops at an end token (not passed to fn), when fn returns nonzero, or at
 * max_tokens. *n_generated (may be NULL) receives the count. On LATENT_ENOMEM the context
 * holds everything evaluated before the failing step. */
latent_status latent_generate(latent_context *ctx, latent_sampler *sampler, const char *prompt,
                              size_t len, int flags, int32_t max_tokens, latent_piece_fn fn,
                              void *user, int32_t *n_generated);

#ifdef __cplusplus
}
#endif
#endif /* LATENT_H */
