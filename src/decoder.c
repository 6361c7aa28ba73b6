/*
 * decoder.c — tokens in, complete UTF-8 out.
 *
 * A token's piece may end in the middle of a character (byte tokens always do, and
 * byte-level BPE often splits a character between two tokens), so the decoder holds an
 * unfinished sequence until the bytes that finish it arrive. Bytes that can never form
 * a character come out as U+FFFD, one per maximal ill-formed part (Unicode's
 * recommended practice), so what leaves the decoder is always valid UTF-8; valid text
 * passes through byte for byte. Control tokens (BOS, EOS, <|im_end|>) produce nothing;
 * SentencePiece's space in front of the first word after BOS is dropped.
 */
#include <string.h>

#include "tokenizer.h"

struct latent_decoder {
    const struct lt_vocab *vocab;
    unsigned char held[4]; /* an unfinished UTF-8 sequence (at most 3 bytes) */
    size_t n_held;
    int after_bos; /* BOS came, and no text since */
};

latent_status lt_decoder_create(const struct lt_vocab *v, latent_decoder **out)
{
    if (!out)
        return lt_fail(LATENT_EINVAL, "latent_decoder_create: out is NULL");
    *out = NULL;
    if (!v)
        return lt_fail(LATENT_EINVAL, "latent_decoder_create: no vocabulary");
    latent_decoder *d = lt_calloc(NULL, 1, sizeof *d);
    if (!d)
        return LATENT_ENOMEM;
    d->vocab = v;
    *out = d;
    return LATENT_OK;
}

void latent_decoder_free(latent_decoder *dec)
{
    lt_free(NULL, dec);
}

/* Output that counts what it could not write. */
typedef struct outbuf {
    char *p;
    size_t cap, n;
} outbuf;

static void put(outbuf *o, const void *s, size_t n)
{
    if (o->n <= o->cap && n <= o->cap - o->n)
        memcpy(o->p + o->n, s, n);
    o->n += n;
}

static void put_replacement(outbuf *o)
{
    put(o, "\xef\xbf\xbd", 3);
}

/* The bytes held + piece, read as one string. */
typedef struct joined {
    const unsigned char *a, *b;
    size_t na, n;
} joined;

static unsigned char at(const joined *j, size_t i)
{
    return i < j->na ? j->a[i] : j->b[i - j->na];
}

/* Writes the complete characters of held + piece to o; returns how many trailing bytes
 * form an unfinished (but so far valid) sequence, to be held. */
static size_t assemble(const joined *j, outbuf *o)
{
    size_t i = 0;
    while (i < j->n) {
        unsigned c = at(j, i);
        if (c < 0x80) {
            unsigned char b = (unsigned char)c;
            put(o, &b, 1);
            i++;
            continue;
        }
        size_t len;
        unsigned lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            lo = c == 0xe0 ? 0xa0 : 0x80;
            hi = c == 0xed ? 0x9f : 0xbf;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            lo = c == 0xf0 ? 0x90 : 0x80;
            hi = c == 0xf4 ? 0x8f : 0xbf;
        } else {
            put_replacement(o); /* a byte that starts nothing */
            i++;
            continue;
        }
        size_t k = 1;
        for (; k < len; k++) {
            if (i + k >= j->n)
                return j->n - i; /* valid so far, not finished: hold it */
            unsigned b = at(j, i + k);
            if (k == 1 ? (b < lo || b > hi) : (b & 0xc0) != 0x80)
                break;
        }
        if (k < len) {
            put_replacement(o); /* the part before the byte that broke it */
            i += k;
            continue;
        }
        for (k = 0; k < len; k++) {
            unsigned char b = at(j, i + k);
            put(o, &b, 1);
        }
        i += len;
    }
    return 0;
}

latent_status latent_decoder_push(latent_decoder *dec, latent_token token, char *out, size_t cap,
                                  size_t *n_out)
{
    if (n_out)
        *n_out = 0;
    if (!dec || !n_out || (!out && cap))
        return lt_fail(LATENT_EINVAL, "latent_decoder_push: NULL argument");
    const struct lt_vocab *v = dec->vocab;
    if (token < 0 || token >= v->n_tokens)
        return lt_fail(LATENT_EINVAL, "latent_decoder_push: token %d is not in the vocabulary (%d)",
                       (int)token, (int)v->n_tokens);
    if (token == v->bos) {
        dec->after_bos = 1;
        return LATENT_OK;
    }
    if (!(v->attr[token] & (LT_TOK_NORMAL | LT_TOK_BYTE | LT_TOK_USER)))
        return LATENT_OK; /* control, unknown, unused: no text */
    size_t n;
    const char *piece = lt_vocab_piece(v, token, &n);
    int had_text = n > 0;
    if (dec->after_bos && v->type == LT_VOCAB_SPM && v->add_space_prefix && n > 0 && piece[0] == ' ') {
        piece++;
        n--;
    }
    outbuf o = {out, cap, 0};
    joined j = {dec->held, (const unsigned char *)piece, dec->n_held, dec->n_held + n};
    size_t hold = assemble(&j, &o);
    *n_out = o.n;
    if (o.n > cap)
        return lt_fail(LATENT_ERANGE, "latent_decoder_push: %zu bytes do not fit in %zu", o.n, cap);
    unsigned char keep[4];
    for (size_t k = 0; k < hold; k++)
        keep[k] = at(&j, j.n - hold + k);
    memcpy(dec->held, keep, hold);
    dec->n_held = hold;
    if (had_text)
        dec->after_bos = 0; /* only the first piece after BOS loses its space */
    return LATENT_OK;
}

latent_status latent_decoder_flush(latent_decoder *dec, char *out, size_t cap, size_t *n_out)
{
    if (n_out)
        *n_out = 0;
    if (!dec || !n_out || (!out && cap))
        return lt_fail(LATENT_EINVAL, "latent_decoder_flush: NULL argument");
    size_t need = dec->n_held ? 3 : 0;
    *n_out = need;
    if (need > cap)
        return lt_fail(LATENT_ERANGE, "latent_decoder_flush: %zu bytes do not fit in %zu", need, cap);
    if (need)
        memcpy(out, "\xef\xbf\xbd", 3);
    dec->n_held = 0;
    dec->after_bos = 0;
    return LATENT_OK;
}
