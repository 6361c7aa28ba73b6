/*
 * fuzz_tokenizer.c — libFuzzer target for the tokenizers, the decoder and the vocabulary
 * loader (tests/fuzz.sh builds it with ASan + UBSan).
 *
 * The first byte chooses what the rest is:
 *   a vocabulary (llama-spm, llama-bpe, deepseek-llm, falcon from $LATENT_TEST_DATA)
 *   and flags, the rest being text: tokenize, decode; when the text is valid UTF-8 and
 *   special text was not parsed, decoding must give the text back (unless the text
 *   holds SentencePiece's space mark U+2581, or a byte the BPE vocabulary has no token
 *   for);
 *   token ids for the decoder: whatever comes out must be valid UTF-8;
 *   GGUF bytes: parse and build a vocabulary from them (hostile metadata: no crash).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "latent_gguf.h"
#include "tokenizer.h"
#include "unicode.h"

#define N_VOCABS 4
static const char *const names[N_VOCABS] = {"llama-spm", "llama-bpe", "deepseek-llm", "falcon"};
static latent_gguf *ggufs[N_VOCABS];
static struct lt_vocab *vocabs[N_VOCABS];

static void load_vocabs(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    const char *dir = getenv("LATENT_TEST_DATA");
    if (!dir || !*dir)
        dir = "../shared";
    for (int i = 0; i < N_VOCABS; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/vectors/ggml-vocab-%s.gguf", dir, names[i]);
        if (latent_gguf_open(path, &ggufs[i]) != LATENT_OK)
            continue;
        if (lt_vocab_load(ggufs[i], NULL, &vocabs[i]) != LATENT_OK)
            vocabs[i] = NULL;
    }
}

static int valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = lt_utf8_decode(s + i, n - i, &cp);
        if (!l)
            return 0;
        i += l;
    }
    return 1;
}

/* SentencePiece shows spaces as U+2581, so a text holding that mark cannot come back. */
static int has_space_mark(const char *s, size_t n)
{
    for (size_t i = 0; i + 3 <= n; i++)
        if (memcmp(s + i, "\xe2\x96\x81", 3) == 0)
            return 1;
    return 0;
}

/* Byte-level BPE drops a byte its vocabulary has no token for (Falcon lacks a few
 * control bytes), as the reference does: such text cannot come back either. */
static int has_missing_byte(const struct lt_vocab *v, const char *s, size_t n)
{
    for (size_t i = 0; v->type == LT_VOCAB_BPE && i < n; i++)
        if (v->byte_token[(unsigned char)s[i]] < 0)
            return 1;
    return 0;
}

static void fuzz_text(const struct lt_vocab *v, int flags, const char *text, size_t len)
{
    size_t n = 0;
    latent_status st = lt_vocab_tokenize(v, text, len, flags, NULL, 0, &n);
    if (st != LATENT_OK && st != LATENT_ERANGE)
        return;
    latent_token *toks = malloc((n + 1) * sizeof *toks);
    size_t n2 = 0;
    if (!toks || lt_vocab_tokenize(v, text, len, flags, toks, n, &n2) != LATENT_OK || n2 != n)
        abort(); /* the count asked for must be the count written */
    latent_decoder *d = NULL;
    if (lt_decoder_create(v, &d) != LATENT_OK)
        abort();
    /* every byte of text comes out as at most 3 (U+FFFD), special tokens aside */
    int text_ok = valid_utf8((const unsigned char *)text, len);
    size_t piece_cap = 16 + (size_t)v->max_piece, total = 0, k;
    size_t out_cap = 3 * len + n * (size_t)v->max_piece + piece_cap;
    char *out = malloc(out_cap);
    if (!out)
        abort();
    if (v->bos >= 0)
        latent_decoder_push(d, v->bos, out, out_cap, &k);
    for (size_t i = 0; i < n; i++) {
        if (toks[i] < 0 || toks[i] >= v->n_tokens)
            abort();
        /* 16 + the longest piece is always enough when the text is UTF-8 */
        size_t room = text_ok ? piece_cap : out_cap - total;
        if (latent_decoder_push(d, toks[i], out + total, room < out_cap - total ? room : out_cap - total, &k) !=
            LATENT_OK)
            abort();
        total += k;
    }
    if (latent_decoder_flush(d, out + total, out_cap - total, &k) != LATENT_OK)
        abort();
    total += k;
    if (!valid_utf8((const unsigned char *)out, total))
        abort();
    int spm_mark = v->type == LT_VOCAB_SPM && has_space_mark(text, len);
    if (!(flags & LATENT_TOKENIZE_SPECIAL) && !spm_mark && text_ok && !has_missing_byte(v, text, len) &&
        (total != len || memcmp(out, text, len) != 0))
        abort(); /* decode(encode(s)) != s */
    free(out);
    free(toks);
    latent_decoder_free(d);
}

static void fuzz_ids(const struct lt_vocab *v, const uint8_t *data, size_t size)
{
    latent_decoder *d = NULL;
    if (lt_decoder_create(v, &d) != LATENT_OK)
        abort();
    size_t cap = 64 + (size_t)v->max_piece * 4, k;
    char *out = malloc(cap);
    for (size_t i = 0; i + 3 <= size; i += 3) {
        latent_token t = (latent_token)((data[i] | data[i + 1] << 8 | data[i + 2] << 16) % (uint32_t)v->n_tokens);
        if (latent_decoder_push(d, t, out, cap, &k) == LATENT_OK && !valid_utf8((const unsigned char *)out, k))
            abort();
    }
    if (latent_decoder_flush(d, out, cap, &k) != LATENT_OK || !valid_utf8((const unsigned char *)out, k))
        abort();
    free(out);
    latent_decoder_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 4 && memcmp(data, "GGUF", 4) == 0) {
        latent_gguf *g = NULL;
        if (latent_gguf_parse(data, size, &g) == LATENT_OK) {
            struct lt_vocab *v = NULL;
            if (lt_vocab_load(g, NULL, &v) == LATENT_OK) {
                fuzz_text(v, LATENT_TOKENIZE_SPECIAL, "Hello <s> world 123", 19);
                lt_vocab_free(v, NULL);
            }
            latent_gguf_free(g);
        }
        return 0;
    }
    load_vocabs();
    if (size == 0) {
        for (int i = 0; i < N_VOCABS; i++)
            if (vocabs[i])
                fuzz_text(vocabs[i], 0, "", 0);
        return 0;
    }
    uint8_t mode = data[0];
    const struct lt_vocab *v = vocabs[mode % N_VOCABS];
    if (!v)
        return 0;
    if (mode & 0x80)
        fuzz_ids(v, data + 1, size - 1);
    else
        fuzz_text(v, (mode >> 2) & 3, (const char *)data + 1, size - 1);
    return 0;
}
