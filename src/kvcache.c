/*
 * kvcache.c — the unbounded KV cache: chunks, accounting, and growth that either
 * succeeds whole or leaves the cache untouched.
 *
 * Chunk layout: for each layer, the keys of chunk_tokens tokens, then their values; within
 * each, head by head, that head's rows of consecutive tokens one after another. A head of a
 * chunk is therefore one contiguous matrix (attention's scores for it are one lk_matmul
 * call) and attention streams it: with every token's heads side by side instead, one
 * head's pass read a third of each row's bytes (SmolLM2) and the heads made separate passes
 * over the same lines, which left attention at long context waiting on memory.
 */
#include <string.h>

#include "kvcache.h"

/* Left to us, a chunk holds enough tokens that one head's keys (or values) in it span at
 * least this many bytes. Attention reads a head chunk after chunk, and each chunk is a
 * separate allocation: at 64 tokens a run was 8 KiB (SmolLM2, f16) and generation at 3000
 * tokens of context ran at 44 tok/s with one thread; 256 tokens (32 KiB) gave 50 and 512
 * tokens (64 KiB) 57-64. The price is a coarser growth step (SmolLM2 12 MB, Llama 3.2 3B
 * 28 MB), under 1% of a 4 GB Pi's headroom; under a byte budget a step stays within
 * 1/KV_BUDGET_STEPS of it, so a small budget still grows (and dies) in fine steps. */
#define KV_HEAD_RUN_BYTES 65536
#define KV_BUDGET_STEPS 64
#define KV_MIN_CHUNK_TOKENS 64
#define KV_MAX_CHUNK_TOKENS 4096

static int32_t default_chunk_tokens(size_t head_bytes, size_t token_bytes, size_t budget_limit)
{
    size_t tokens = (KV_HEAD_RUN_BYTES + head_bytes - 1) / head_bytes;
    tokens = (tokens + KV_MIN_CHUNK_TOKENS - 1) / KV_MIN_CHUNK_TOKENS * KV_MIN_CHUNK_TOKENS;
    if (tokens > KV_MAX_CHUNK_TOKENS)
        tokens = KV_MAX_CHUNK_TOKENS;
    if (budget_limit && token_bytes) {
        size_t fits = budget_limit / KV_BUDGET_STEPS / token_bytes / KV_MIN_CHUNK_TOKENS * KV_MIN_CHUNK_TOKENS;
        if (tokens > fits)
            tokens = fits;
    }
    return (int32_t)(tokens < KV_MIN_CHUNK_TOKENS ? KV_MIN_CHUNK_TOKENS : tokens);
}

latent_status lt_kv_init(lt_kvcache *kv, uint32_t type, int32_t n_layers, int32_t n_kv_heads,
                         int32_t head_dim, int32_t chunk_tokens, size_t budget_limit)
{
    memset(kv, 0, sizeof *kv);
    size_t head_bytes = lk_row_bytes(type, head_dim);
    if (head_bytes == 0)
        return lt_fail(LATENT_EUNSUPPORTED, "a %s KV cache needs the head size (%d) to be a "
                       "multiple of %u", lk_type(type) ? lk_type(type)->name : "?", (int)head_dim,
                       lk_type(type) ? lk_type(type)->block_size : 0);
    if (chunk_tokens == 0)
        chunk_tokens = default_chunk_tokens(head_bytes, head_bytes * 2 * (size_t)n_kv_heads * (size_t)n_layers,
                                            budget_limit);
    if (chunk_tokens < 1)
        return lt_fail(LATENT_EINVAL, "KV chunk of %d tokens", (int)chunk_tokens);
    kv->type = type;
    kv->n_layers = n_layers;
    kv->n_kv_heads = n_kv_heads;
    kv->head_dim = head_dim;
    kv->chunk_tokens = chunk_tokens;
    kv->head_bytes = head_bytes;
    kv->row_bytes = head_bytes * (size_t)n_kv_heads;
    uint64_t bytes;
    if (lt_mul_overflows((uint64_t)n_layers * 2 * (uint64_t)chunk_tokens, kv->row_bytes, &bytes) ||
        bytes > SIZE_MAX / 2)
        return lt_fail(LATENT_EINVAL, "KV chunk too large");
    kv->chunk_bytes = (size_t)bytes;
    return LATENT_OK;
}

size_t lt_kv_capacity(const lt_kvcache *kv) { return kv->n_chunks * (size_t)kv->chunk_tokens; }

size_t lt_kv_chunk_cost(const lt_kvcache *kv) { return lt_alloc_cost(kv->chunk_bytes); }

latent_status lt_kv_reserve(lt_kvcache *kv, lt_budget *budget, size_t n_tokens)
{
    size_t need = (n_tokens + (size_t)kv->chunk_tokens - 1) / (size_t)kv->chunk_tokens;
    if (need <= kv->n_chunks)
        return LATENT_OK;
    if (need > kv->chunks_cap) {
        size_t cap = kv->chunks_cap ? kv->chunks_cap : 16;
        while (cap < need)
            cap *= 2;
        if (lt_kv_preallocate(kv, budget, cap) != LATENT_OK)
            return lt_fail_prefix(LATENT_ENOMEM, "growing the KV cache to %zu tokens", n_tokens);
    }
    size_t had = kv->n_chunks;
    while (kv->n_chunks < need) {
        uint8_t *chunk = lt_alloc(budget, kv->chunk_bytes);
        if (!chunk) {
            while (kv->n_chunks > had)
                lt_free(budget, kv->chunks[--kv->n_chunks]);
            return lt_fail_prefix(LATENT_ENOMEM, "growing the KV cache to %zu tokens", n_tokens);
        }
        kv->chunks[kv->n_chunks++] = chunk;
    }
    if (kv->n_chunks > kv->peak_chunks)
        kv->peak_chunks = kv->n_chunks;
    return LATENT_OK;
}

void lt_kv_release(lt_kvcache *kv, lt_budget *budget)
{
    while (kv->n_chunks)
        lt_free(budget, kv->chunks[--kv->n_chunks]);
    kv->n_tokens = 0;
}

void lt_kv_destroy(lt_kvcache *kv, lt_budget *budget)
{
    lt_kv_release(kv, budget);
    lt_free(budget, kv->chunks);
    kv->chunks = NULL;
    kv->chunks_cap = 0;
}

latent_status lt_kv_preallocate(lt_kvcache *kv, lt_budget *budget, size_t chunks)
{
    if (chunks <= kv->chunks_cap)
        return LATENT_OK;
    uint8_t **c = lt_realloc(budget, kv->chunks, chunks * sizeof *c);
    if (!c)
        return LATENT_ENOMEM;
    kv->chunks = c;
    kv->chunks_cap = chunks;
    return LATENT_OK;
}

static uint8_t *layer_base(const lt_kvcache *kv, int32_t layer, size_t c, int values)
{
    size_t block = (size_t)kv->chunk_tokens * kv->row_bytes;
    return kv->chunks[c] + ((size_t)layer * 2 + (size_t)values) * block;
}

/* Head `head`'s rows of chunk c: chunk_tokens rows of head_bytes, one after another. */
static uint8_t *head_base(const lt_kvcache *kv, int32_t layer, int32_t head, size_t c, int values)
{
    return layer_base(kv, layer, c, values) + (size_t)head * (size_t)kv->chunk_tokens * kv->head_bytes;
}

uint8_t *lt_kv_k(const lt_kvcache *kv, int32_t layer, int32_t head, size_t t)
{
    size_t T = (size_t)kv->chunk_tokens;
    return head_base(kv, layer, head, t / T, 0) + (t % T) * kv->head_bytes;
}

uint8_t *lt_kv_v(const lt_kvcache *kv, int32_t layer, int32_t head, size_t t)
{
    size_t T = (size_t)kv->chunk_tokens;
    return head_base(kv, layer, head, t / T, 1) + (t % T) * kv->head_bytes;
}

static lk_matrix block(const lt_kvcache *kv, int32_t layer, int32_t head, size_t c, int values)
{
    size_t T = (size_t)kv->chunk_tokens, first = c * T;
    size_t rows = kv->n_tokens - first < T ? kv->n_tokens - first : T;
    lk_matrix m;
    m.type = kv->type;
    m.rows = (int64_t)rows;
    m.cols = kv->head_dim;
    m.row_stride = kv->head_bytes;
    m.data = head_base(kv, layer, head, c, values);
    return m;
}

lk_matrix lt_kv_k_block(const lt_kvcache *kv, int32_t layer, int32_t head, size_t c)
{
    return block(kv, layer, head, c, 0);
}

lk_matrix lt_kv_v_block(const lt_kvcache *kv, int32_t layer, int32_t head, size_t c)
{
    return block(kv, layer, head, c, 1);
}
