/*
 * context.h — a context: the KV cache, the scratch the forward pass works in, the logits.
 */
#ifndef LT_CONTEXT_H
#define LT_CONTEXT_H

#include "kvcache.h"
#include "model.h"

struct latent_context {
    const latent_model *model;
    latent_context_params params;
    lt_budget budget;     /* everything below is charged here */
    lt_kvcache kv;
    int32_t n_threads;
    int32_t n_batch;
    lk_pool *pool;        /* n_threads - 1 workers (NULL with one thread) */
    void *pool_mem;       /* the pool's bytes, before 64-byte alignment */
    int32_t team;         /* threads the current forward pass uses: n_threads, or 1 */
    double token_ns[2];   /* a generated token's time, alone [0] and with the team [1] (moving averages) */
    uint32_t tokens_timed;

    /* scratch for n_batch tokens (row t of each is token t of the batch) */
    float *x;             /* n_batch × dim: the residual stream */
    float *xb;            /* n_batch × dim: normalised input of a block */
    float *q;             /* n_batch × q_dim */
    float *k;             /* n_batch × kv_dim */
    float *v;             /* n_batch × kv_dim */
    float *att;           /* n_batch × q_dim: attention output, before wo */
    float *hb;            /* n_batch × ffn_dim: gate, then silu(gate) · up */
    float *hb2;           /* n_batch × ffn_dim: up */
    float *cos_sin;       /* n_batch × head_dim: rope table per position */
    void *work;           /* matmul scratch (quantized activations) */
    size_t work_bytes;
    float *scores;        /* per thread lt_scores_per_thread(scores_cap) floats: the attention
                             rows of one GQA group of query heads, and a chunk's products */
    size_t scores_cap;    /* tokens one attention row holds */
    void *att_work;       /* n_threads × att_work_bytes: one group's quantized query heads */
    size_t att_work_bytes;
    float *logits;        /* logits_rows × n_vocab */
    size_t logits_rows;   /* rows holding logits from the last eval */
    size_t logits_cap;    /* rows allocated */
    size_t scratch_bytes;
    int warned_context;   /* logged once when passing the trained context length */
};

/* Floats of one thread's attention scratch for rows of `tokens` scores: a row for each
 * query head of a group, and the group's scores for one chunk of keys. */
static inline size_t lt_scores_per_thread(const latent_context *ctx, size_t tokens)
{
    size_t group = (size_t)(ctx->model->hp.n_heads / ctx->model->hp.n_kv_heads);
    return group * (tokens + (size_t)ctx->kv.chunk_tokens);
}

/* Runs n tokens (n <= n_batch) at positions pos0.. through the model: writes their keys
 * and values into the cache (which must have room) and, when `logits` is not NULL, the
 * logits of the last token (or of every token, with all_logits) there. Never allocates. */
void lt_forward(latent_context *ctx, const latent_token *tokens, int32_t n, size_t pos0,
                float *logits, int all_logits);

#endif /* LT_CONTEXT_H */
