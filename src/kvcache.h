/*
 * kvcache.h — the deliberately unbounded KV cache.
 *
 * No size is fixed up front: the cache grows a chunk of tokens at a time, each chunk one
 * allocation holding every layer's keys and values for those tokens, charged to the
 * context's budget. When a chunk does not fit, growth fails and the cache is as it was.
 */
#ifndef LT_KVCACHE_H
#define LT_KVCACHE_H

#include "internal.h"
#include "kernels.h"

typedef struct lt_kvcache {
    uint32_t type;        /* LATENT_TYPE_F32, _F16 or _Q8_0 */
    int32_t n_layers;
    int32_t n_kv_heads;
    int32_t head_dim;
    int32_t chunk_tokens; /* tokens per chunk */
    size_t head_bytes;    /* one head of one token: lk_row_bytes(type, head_dim) */
    size_t row_bytes;     /* one token's keys (or values) for one layer: n_kv_heads heads */
    size_t chunk_bytes;   /* n_layers × (K, V) × chunk_tokens × row_bytes */
    uint8_t **chunks;     /* n_chunks chunks, in token order */
    size_t n_chunks;
    size_t chunks_cap;
    size_t n_tokens;      /* tokens stored */
    size_t peak_chunks;
} lt_kvcache;

/* chunk_tokens 0: chosen from the size of a head's row and the budget's limit (0: none). */
latent_status lt_kv_init(lt_kvcache *kv, uint32_t type, int32_t n_layers, int32_t n_kv_heads,
                         int32_t head_dim, int32_t chunk_tokens, size_t budget_limit);
/* Makes room for `n_tokens` tokens in total. On failure nothing changes. */
latent_status lt_kv_reserve(lt_kvcache *kv, lt_budget *budget, size_t n_tokens);
/* Frees every chunk (the cache holds no tokens afterwards); keeps the chunk table. */
void lt_kv_release(lt_kvcache *kv, lt_budget *budget);
/* Frees everything. */
void lt_kv_destroy(lt_kvcache *kv, lt_budget *budget);
/* Sizes the chunk table for `chunks` chunks now, so the first growth steps cost only
 * their chunk (it doubles later, when a cache outgrows it). */
latent_status lt_kv_preallocate(lt_kvcache *kv, lt_budget *budget, size_t chunks);
size_t lt_kv_capacity(const lt_kvcache *kv);
/* What one growth step charges a budget, bookkeeping included. */
size_t lt_kv_chunk_cost(const lt_kvcache *kv);

/* Where head `head` of token `t`'s keys (values) of `layer` lives: head_bytes bytes. */
uint8_t *lt_kv_k(const lt_kvcache *kv, int32_t layer, int32_t head, size_t t);
uint8_t *lt_kv_v(const lt_kvcache *kv, int32_t layer, int32_t head, size_t t);

/* The keys (values) of head `head` of `layer` for the tokens of chunk c that are stored,
 * as a matrix the kernels can multiply: one row per token. */
lk_matrix lt_kv_k_block(const lt_kvcache *kv, int32_t layer, int32_t head, size_t c);
lk_matrix lt_kv_v_block(const lt_kvcache *kv, int32_t layer, int32_t head, size_t c);

#endif /* LT_KVCACHE_H */
