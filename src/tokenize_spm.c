/*
 * tokenize_spm.c — SentencePiece-style BPE ("llama" vocabularies: Llama 2, TinyLlama,
 * Phi-3, llama2.c's tok512).
 *
 * Spaces become U+2581 (and one is put in front when asked). The text is cut into
 * UTF-8 characters; then, repeatedly, the adjacent pair whose concatenation is a token
 * with the highest score is merged (ties: the leftmost pair). A heap of candidate pairs
 * makes that O(n log n). What no token covers at the end goes out as <0xXX> byte tokens.
 */
#include <string.h>

#include "tokenizer.h"
#include "unicode.h"

typedef struct symbol {
    int32_t prev, next; /* neighbours in the chain, -1 at the ends */
    uint32_t off, n;    /* bytes of the escaped text; n = 0 once merged into its left */
} symbol;

static void try_pair(const struct lt_vocab *v, const char *text, const symbol *sym, int32_t l, int32_t r,
                     lt_merge_candidate *heap, size_t *n_heap)
{
    if (l < 0 || r < 0)
        return;
    uint32_t size = sym[l].n + sym[r].n;
    int32_t id = lt_vocab_find(v, text + sym[l].off, size);
    if (id < 0)
        return;
    lt_merge_queue_push(heap, n_heap, (lt_merge_candidate){v->score[id], l, r, (int32_t)size});
}

/* A symbol no token matches, byte by byte: <0xXX>, else the unknown token. */
static void emit_bytes(const struct lt_vocab *v, const char *s, size_t n, lt_token_sink *sink)
{
    for (size_t i = 0; i < n; i++) {
        int32_t id = v->byte_token[(unsigned char)s[i]];
        if (id < 0)
            id = v->unk;
        if (id >= 0)
            lt_sink_push(sink, id);
    }
}

latent_status lt_tokenize_spm(const struct lt_vocab *v, const char *text, size_t len, int prefix_space,
                              lt_token_sink *sink)
{
    size_t n_space = 0;
    for (size_t i = 0; i < len; i++)
        n_space += text[i] == ' ';
    size_t elen = len + 2 * n_space + (prefix_space ? 3 : 0);
    if (elen == 0)
        return LATENT_OK;
    if (elen > UINT32_MAX / 4)
        return lt_fail(LATENT_EINVAL, "latent_tokenize: %zu bytes of text is too long", len);

    /* escape: ' ' -> U+2581 */
    char *e = lt_alloc(NULL, elen);
    symbol *sym = lt_alloc_array(NULL, elen, sizeof *sym);
    lt_merge_candidate *heap = lt_alloc_array(NULL, 3 * elen, sizeof *heap);
    if (!e || !sym || !heap) {
        lt_free(NULL, e);
        lt_free(NULL, sym);
        lt_free(NULL, heap);
        return LATENT_ENOMEM;
    }
    size_t o = 0;
    if (prefix_space) {
        memcpy(e, "\xe2\x96\x81", 3);
        o = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(e + o, "\xe2\x96\x81", 3);
            o += 3;
        } else {
            e[o++] = text[i];
        }
    }

    /* one symbol per character, cut by the lead byte's claim */
    int32_t n_sym = 0;
    for (size_t off = 0; off < elen;) {
        size_t n = lt_utf8_claimed_len((unsigned char)e[off]);
        if (n > elen - off)
            n = elen - off;
        sym[n_sym] = (symbol){n_sym - 1, off + n == elen ? -1 : n_sym + 1, (uint32_t)off, (uint32_t)n};
        n_sym++;
        off += n;
    }

    size_t n_heap = 0;
    for (int32_t i = 1; i < n_sym; i++)
        try_pair(v, e, sym, i - 1, i, heap, &n_heap);
    while (n_heap > 0) {
        lt_merge_candidate b = lt_merge_queue_pop(heap, &n_heap);
        symbol *l = &sym[b.left], *r = &sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != (uint32_t)b.tag)
            continue; /* one side has changed since the pair was proposed */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = b.left;
        try_pair(v, e, sym, l->prev, b.left, heap, &n_heap);
        try_pair(v, e, sym, b.left, l->next, heap, &n_heap);
    }

    for (int32_t i = 0; i != -1; i = sym[i].next) {
        int32_t id = lt_vocab_find(v, e + sym[i].off, sym[i].n);
        if (id >= 0)
            lt_sink_push(sink, id);
        else
            emit_bytes(v, e + sym[i].off, sym[i].n, sink);
    }
    lt_free(NULL, e);
    lt_free(NULL, sym);
    lt_free(NULL, heap);
    return LATENT_OK;
}
