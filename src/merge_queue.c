/*
 * merge_queue.c — the binary heap both subword tokenizers keep their candidate merges in:
 * the highest priority first, ties to the leftmost pair (as SentencePiece and llama.cpp's
 * BPE break them).
 */
#include "tokenizer.h"

static int before(const lt_merge_candidate *a, const lt_merge_candidate *b)
{
    return a->priority > b->priority || (a->priority == b->priority && a->left < b->left);
}

void lt_merge_queue_push(lt_merge_candidate *h, size_t *n, lt_merge_candidate c)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(&c, &h[parent]))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = c;
}

lt_merge_candidate lt_merge_queue_pop(lt_merge_candidate *h, size_t *n)
{
    lt_merge_candidate top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && before(&h[c + 1], &h[c]))
            c++;
        if (!before(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0)
        h[i] = last;
    return top;
}
