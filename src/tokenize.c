/*
 * tokenize.c — the first step of tokenizing: special tokens are cut out of the text (all
 * user-defined tokens, control tokens only when the caller asks), then SPM or BPE runs on
 * each stretch of text between them.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

/* ============================================================================
 * Tokenizing: cutting special tokens out, then SPM or BPE on what is left
 * ========================================================================== */

/* A stretch of the input: text [off, off + len), or one special token. */
typedef struct fragment {
    int32_t token; /* -1: text */
    size_t off, len;
} fragment;

typedef struct fragment_list {
    fragment *f;
    size_t n, cap;
} fragment_list;

static int frag_push(fragment_list *l, int32_t token, size_t off, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        fragment *nf = lt_realloc(NULL, l->f, cap * sizeof *nf);
        if (!nf)
            return 0;
        l->f = nf;
        l->cap = cap;
    }
    l->f[l->n++] = (fragment){token, off, len};
    return 1;
}

/* memmem is a GNU extension: the first occurrence of t[0..tn) in s[0..n), or NULL. */
static const char *find_bytes(const char *s, size_t n, const char *t, size_t tn)
{
    while (n >= tn) {
        const char *p = memchr(s, t[0], n - tn + 1);
        if (!p)
            return NULL;
        if (memcmp(p, t, tn) == 0)
            return p;
        n -= (size_t)(p - s) + 1;
        s = p + 1;
    }
    return NULL;
}

static int is_c_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* For every special token, longest first, every text fragment is cut at each of its
 * occurrences, left to right (llama.cpp's order; it decides overlaps). */
static latent_status partition(const struct lt_vocab *v, const char *text, size_t len, int special,
                               fragment_list *out)
{
    fragment_list a = {0}, b = {0};
    if (!frag_push(&a, -1, 0, len))
        return LATENT_ENOMEM;
    /* Which byte pairs occur in the text: most special tokens can be ruled out at once. */
    uint8_t *pairs = NULL;
    if (v->n_specials > 0 && len >= 2) {
        pairs = lt_calloc(NULL, 65536 / 8, 1);
        if (!pairs) {
            lt_free(NULL, a.f);
            return LATENT_ENOMEM;
        }
        for (size_t i = 0; i + 1 < len; i++) {
            unsigned p = (unsigned char)text[i] << 8 | (unsigned char)text[i + 1];
            pairs[p >> 3] |= (uint8_t)(1u << (p & 7));
        }
    }
    for (int32_t k = 0; k < v->n_specials; k++) {
        int32_t id = v->specials[k];
        uint8_t attr = v->attr[id];
        if (!special && (attr & (LT_TOK_CONTROL | LT_TOK_UNKNOWN)))
            continue; /* only user-defined tokens are cut out of plain text */
        size_t tn = 0;
        const char *t = lt_vocab_text(v, id, &tn);
        if (tn > len)
            continue;
        if (tn >= 2) {
            unsigned p = (unsigned char)t[0] << 8 | (unsigned char)t[1];
            if (!(pairs[p >> 3] & (1u << (p & 7))))
                continue;
        }
        b.n = 0;
        for (size_t fi = 0; fi < a.n; fi++) {
            fragment fr = a.f[fi];
            if (fr.token >= 0 || fr.len < tn) {
                if (!frag_push(&b, fr.token, fr.off, fr.len))
                    goto oom;
                continue;
            }
            size_t off = fr.off, end = fr.off + fr.len;
            for (;;) {
                const char *m = find_bytes(text + off, end - off, t, tn);
                if (!m) {
                    if (end > off && !frag_push(&b, -1, off, end - off))
                        goto oom;
                    break;
                }
                size_t mo = (size_t)(m - text), left_end = mo;
                if (attr & LT_TOK_LSTRIP)
                    while (left_end > off && is_c_space(text[left_end - 1]))
                        left_end--;
                if (left_end > off && !frag_push(&b, -1, off, left_end - off))
                    goto oom;
                if (!frag_push(&b, id, mo, tn))
                    goto oom;
                off = mo + tn;
                if (attr & LT_TOK_RSTRIP)
                    while (off < end && is_c_space(text[off]))
                        off++;
            }
        }
        fragment_list t2 = a;
        a = b;
        b = t2;
    }
    lt_free(NULL, pairs);
    lt_free(NULL, b.f);
    *out = a;
    return LATENT_OK;
oom:
    lt_free(NULL, pairs);
    lt_free(NULL, a.f);
    lt_free(NULL, b.f);
    return LATENT_ENOMEM;
}

latent_status lt_vocab_tokenize(const struct lt_vocab *v, const char *text, size_t len, int flags,
                                latent_token *out, size_t cap, size_t *n_out)
{
    if (n_out)
        *n_out = 0;
    if (!v || !n_out || (!text && len) || (!out && cap))
        return lt_fail(LATENT_EINVAL, "latent_tokenize: NULL argument");
    lt_token_sink sink = {out, cap, 0};
    int prev_special = 1; /* SPM puts its ▁ before the text's first word */
    if ((flags & LATENT_TOKENIZE_ADD_BOS) && v->add_bos && v->bos >= 0)
        lt_sink_push(&sink, v->bos);
    latent_status st = LATENT_OK;
    if (len > 0) {
        fragment_list frags;
        if ((st = partition(v, text, len, flags & LATENT_TOKENIZE_SPECIAL, &frags)) != LATENT_OK)
            return st;
        for (size_t i = 0; i < frags.n && st == LATENT_OK; i++) {
            fragment fr = frags.f[i];
            if (fr.token >= 0) {
                lt_sink_push(&sink, fr.token);
                prev_special = 1;
            } else if (v->type == LT_VOCAB_SPM) {
                st = lt_tokenize_spm(v, text + fr.off, fr.len, v->add_space_prefix && prev_special, &sink);
                prev_special = 0;
            } else {
                st = lt_tokenize_bpe(v, text + fr.off, fr.len, &sink);
            }
        }
        lt_free(NULL, frags.f);
        if (st != LATENT_OK)
            return st;
    }
    *n_out = sink.n;
    if (sink.n > cap)
        return lt_fail(LATENT_ERANGE, "latent_tokenize: %zu tokens do not fit in %zu", sink.n, cap);
    return LATENT_OK;
}
