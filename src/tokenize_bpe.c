/*
 * tokenize_bpe.c — byte-level BPE ("gpt2" vocabularies: GPT-2, Llama 3, SmolLM, Qwen2,
 * StarCoder, Falcon, DeepSeek, MPT ...).
 *
 * The pre-tokenizer cuts the text into words; each word starts as one symbol per byte
 * (the vocabulary is keyed by raw bytes, so GPT-2's byte-to-character alphabet never
 * has to be spelled out here) and the adjacent pair with the lowest merge rank is
 * merged until no pair has a rank (ties: the leftmost). A heap of candidate pairs keeps
 * that O(n log n) per word.
 */
#include <string.h>

#include "tokenizer.h"

typedef struct symbol {
    int32_t id;         /* the token this symbol is, -1 for a byte with no token */
    int32_t prev, next; /* neighbours in the chain, -1 at the ends */
    int32_t alive;      /* 0 once merged into its left neighbour */
} symbol;

/* Lower ranks merge first: the queue puts the highest priority first, so -rank. */
static void try_pair(const struct lt_vocab *v, const symbol *sym, int32_t l, int32_t r,
                     lt_merge_candidate *heap, size_t *n_heap)
{
    if (l < 0 || r < 0)
        return;
    int32_t rank = lt_vocab_merge_rank(v, sym[l].id, sym[r].id);
    if (rank >= 0)
        lt_merge_queue_push(heap, n_heap, (lt_merge_candidate){-(double)rank, l, r, rank});
}

static void bpe_word(const struct lt_vocab *v, const unsigned char *w, size_t n, symbol *sym,
                     lt_merge_candidate *heap, lt_token_sink *sink)
{
    if (v->ignore_merges) {
        int32_t id = lt_vocab_find(v, (const char *)w, n);
        if (id >= 0) {
            lt_sink_push(sink, id);
            return;
        }
    }
    for (size_t i = 0; i < n; i++)
        sym[i] = (symbol){v->byte_token[w[i]], (int32_t)i - 1, i + 1 == n ? -1 : (int32_t)i + 1, 1};
    size_t n_heap = 0;
    for (size_t i = 1; i < n; i++)
        try_pair(v, sym, (int32_t)i - 1, (int32_t)i, heap, &n_heap);
    while (n_heap > 0) {
        lt_merge_candidate p = lt_merge_queue_pop(heap, &n_heap);
        int32_t rank = p.tag;
        symbol *l = &sym[p.left], *r = &sym[p.right];
        /* stale unless both are still there, side by side, and still the merge's halves */
        if (!l->alive || !r->alive || l->next != p.right || l->id != v->merge_left[rank] ||
            r->id != v->merge_right[rank])
            continue;
        l->id = v->merge_result[rank];
        r->alive = 0;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = p.left;
        try_pair(v, sym, l->prev, p.left, heap, &n_heap);
        try_pair(v, sym, p.left, l->next, heap, &n_heap);
    }
    for (int32_t i = 0; i != -1; i = sym[i].next)
        if (sym[i].id >= 0)
            lt_sink_push(sink, sym[i].id); /* a byte the vocabulary lacks is dropped, as in llama.cpp */
}

latent_status lt_tokenize_bpe(const struct lt_vocab *v, const char *text, size_t len, lt_token_sink *sink)
{
    if (len == 0)
        return LATENT_OK;
    size_t *ends = NULL, n_words = 0;
    latent_status st = lt_pretokenize(v->pre, text, len, &ends, &n_words);
    if (st != LATENT_OK)
        return st;
    size_t longest = 0;
    for (size_t i = 0, start = 0; i < n_words; start = ends[i++])
        if (ends[i] - start > longest)
            longest = ends[i] - start;
    symbol *sym = lt_alloc_array(NULL, longest, sizeof *sym);
    lt_merge_candidate *heap = lt_alloc_array(NULL, 3 * longest, sizeof *heap);
    if (!sym || !heap) {
        lt_free(NULL, sym);
        lt_free(NULL, heap);
        lt_free(NULL, ends);
        return LATENT_ENOMEM;
    }
    for (size_t i = 0, start = 0; i < n_words; start = ends[i++])
        bpe_word(v, (const unsigned char *)text + start, ends[i] - start, sym, heap, sink);
    lt_free(NULL, sym);
    lt_free(NULL, heap);
    lt_free(NULL, ends);
    return LATENT_OK;
}
