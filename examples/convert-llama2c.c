/*
 * convert-llama2c — a llama2.c checkpoint and its tokenizer become one GGUF file.
 *
 *     build/convert-llama2c CHECKPOINT.bin TOKENIZER.bin OUT.gguf [--f16]
 *
 * The checkpoint is llama2.c's legacy format: seven int32 (dim, hidden_dim, n_layers,
 * n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means the classifier is
 * stored separately), then the f32 weights in a fixed order. The tokenizer file is
 * max_token_length, then per token a float score, an int32 length and the bytes; it does not
 * store its count, so a file with more or fewer tokens than the checkpoint's vocab_size is
 * refused rather than cut. Its pieces spell a space ' ' where a GGUF SentencePiece vocabulary
 * spells U+2581, so they are respelled (otherwise every prompt falls back to byte tokens).
 * llama2.c rotates interleaved pairs, as GGUF's llama architecture does, so the weights
 * are written as they are: a row-major (out, in) matrix is ggml's ne = [in, out].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "latent_gguf.h"

typedef struct checkpoint {
    int32_t dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len;
    int shared_classifier;
    float *data;
    size_t n_floats;
} checkpoint;

typedef struct vocab {
    char **tokens;
    size_t *lens;
    float *scores;
    int32_t *types;
    int32_t n;
} vocab;

static int read_checkpoint(const char *path, checkpoint *c)
{
    size_t size;
    char *bytes = cli_read_file(path, &size);
    if (!bytes)
        return -1;
    int32_t h[7];
    if (size < sizeof h) {
        cli_error("%s: %zu bytes is too short for a llama2.c checkpoint header", path, size);
        free(bytes);
        return -1;
    }
    memcpy(h, bytes, sizeof h);
    c->dim = h[0], c->hidden = h[1], c->n_layers = h[2], c->n_heads = h[3], c->n_kv_heads = h[4];
    c->shared_classifier = h[5] > 0;
    c->vocab = h[5] > 0 ? h[5] : -h[5];
    c->seq_len = h[6];
    if (c->vocab < 3) {
        cli_error("%s: vocab_size %d: the vocabulary needs at least <unk>, <s> and </s>", path, h[5]);
        free(bytes);
        return -1;
    }
    if (c->dim <= 0 || c->dim > 65536 || c->hidden <= 0 || c->hidden > 1 << 20 || c->n_layers <= 0 ||
        c->n_layers > 1024 || c->n_heads <= 0 || c->dim % c->n_heads || c->n_kv_heads <= 0 ||
        c->n_heads % c->n_kv_heads || c->vocab < 3 || c->vocab > 1 << 22 || c->seq_len <= 0 ||
        (c->dim / c->n_heads) % 2) {
        cli_error("%s: the header (dim %d, hidden %d, layers %d, heads %d/%d, vocab %d, seq_len %d) "
                  "does not describe a llama2.c model", path, h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
        free(bytes);
        return -1;
    }
    uint64_t dim = (uint64_t)c->dim, L = (uint64_t)c->n_layers, hid = (uint64_t)c->hidden;
    uint64_t kv = dim / (uint64_t)c->n_heads * (uint64_t)c->n_kv_heads;
    uint64_t hs = dim / (uint64_t)c->n_heads;
    uint64_t need = (uint64_t)c->vocab * dim + L * (2 * dim + 2 * dim * dim + 2 * dim * kv + 3 * dim * hid) +
                    dim + (uint64_t)c->seq_len * hs + (c->shared_classifier ? 0 : (uint64_t)c->vocab * dim);
    if ((size - sizeof h) / sizeof(float) < need) {
        cli_error("%s: %zu bytes of weights, the header needs %llu", path, size - sizeof h,
                  (unsigned long long)need * sizeof(float));
        free(bytes);
        return -1;
    }
    c->n_floats = (size - sizeof h) / sizeof(float);
    c->data = malloc(c->n_floats * sizeof(float));
    if (!c->data) {
        cli_error("out of memory");
        free(bytes);
        return -1;
    }
    memcpy(c->data, bytes + sizeof h, c->n_floats * sizeof(float));
    free(bytes);
    return 0;
}

static void free_vocab(vocab *v)
{
    for (int32_t i = 0; v->tokens && i < v->n; i++)
        free(v->tokens[i]);
    free(v->tokens);
    free(v->lens);
    free(v->scores);
    free(v->types);
}

/* Token types as GGUF stores them (SentencePiece's): normal, unknown, control, byte. */
enum { TOKEN_NORMAL = 1, TOKEN_UNKNOWN = 2, TOKEN_CONTROL = 3, TOKEN_BYTE = 6 };

/* A tokenizer file does not store its count: the tokens left after the checkpoint's n,
 * counted so the refusal can name both sizes. */
static int32_t count_more_tokens(const char *bytes, size_t size, size_t at, int *exact)
{
    int32_t more = 0;
    while (size - at >= 8) {
        int32_t len;
        memcpy(&len, bytes + at + 4, 4);
        if (len < 0 || (size_t)len > size - at - 8)
            break;
        at += 8 + (size_t)len;
        more++;
    }
    *exact = at == size;
    return more;
}

/* SentencePiece spells a space as U+2581; llama2.c's export wrote plain spaces. Byte and
 * control tokens keep their spelling. */
static char *sentencepiece_spelling(const char *s, size_t len, size_t *out_len)
{
    size_t spaces = 0, o = 0;
    for (size_t k = 0; k < len; k++)
        spaces += s[k] == ' ';
    char *t = malloc(len + 2 * spaces + 1);
    if (!t)
        return NULL;
    for (size_t k = 0; k < len; k++) {
        if (s[k] == ' ') {
            memcpy(t + o, "\xe2\x96\x81", 3);
            o += 3;
        } else {
            t[o++] = s[k];
        }
    }
    t[o] = 0;
    *out_len = o;
    return t;
}

static int read_vocab(const char *path, int32_t n, vocab *v)
{
    size_t size, at = 4;
    char *bytes = cli_read_file(path, &size);
    if (!bytes)
        return -1;
    v->n = n;
    v->tokens = calloc((size_t)n, sizeof *v->tokens);
    v->lens = calloc((size_t)n, sizeof *v->lens);
    v->scores = calloc((size_t)n, sizeof *v->scores);
    v->types = calloc((size_t)n, sizeof *v->types);
    if (!v->tokens || !v->lens || !v->scores || !v->types) {
        cli_error("out of memory");
        goto fail;
    }
    for (int32_t i = 0; i < n; i++) {
        int32_t len;
        if (size < at + 8) {
            cli_error("%s: ends at token %d of the %d the checkpoint needs", path, i, n);
            goto fail;
        }
        memcpy(&v->scores[i], bytes + at, 4);
        memcpy(&len, bytes + at + 4, 4);
        at += 8;
        if (len < 0 || (size_t)len > size - at) {
            cli_error("%s: token %d claims %d bytes at offset %zu", path, i, len, at - 4);
            goto fail;
        }
        const char *s = bytes + at;
        at += (size_t)len;
        /* llama2.c wraps BOS and EOS in newlines for its own printing */
        if (i == 1 && len == 5 && !memcmp(s, "\n<s>\n", 5))
            s = "<s>", len = 3;
        else if (i == 2 && len == 6 && !memcmp(s, "\n</s>\n", 6))
            s = "</s>", len = 4;
        unsigned byte;
        char tail, spelled[7] = {0};
        if (len == 6)
            memcpy(spelled, s, 6);
        v->types[i] = i == 0 ? TOKEN_UNKNOWN
                      : i <= 2 ? TOKEN_CONTROL
                      : len == 6 && sscanf(spelled, "<0x%2X%c", &byte, &tail) == 2 && tail == '>'
                          ? TOKEN_BYTE
                          : TOKEN_NORMAL;
        if (v->types[i] == TOKEN_NORMAL)
            v->tokens[i] = sentencepiece_spelling(s, (size_t)len, &v->lens[i]);
        else if ((v->tokens[i] = malloc((size_t)len + 1)) != NULL)
            memcpy(v->tokens[i], s, (size_t)len), v->tokens[i][len] = 0, v->lens[i] = (size_t)len;
        if (!v->tokens[i]) {
            cli_error("out of memory");
            goto fail;
        }
    }
    if (at != size) {
        int exact;
        int32_t more = count_more_tokens(bytes, size, at, &exact);
        cli_error("%s holds %s%d tokens, the checkpoint's vocabulary %d: not this model's tokenizer", path,
                  exact ? "" : "at least ", n + more, n);
        goto fail;
    }
    free(bytes);
    return 0;
fail:
    free(bytes);
    free_vocab(v);
    return -1;
}

typedef struct writer {
    latent_gguf_writer *w;
    int f16;
    void *keep[4096]; /* converted tensors live until the file is written */
    int n_keep;
    int failed;
} writer;

/* The largest finite f16 is 65504: past it a weight would be written as infinity. */
static int fits_f16(const char *name, const float *data, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (!(data[i] >= -65504.0f && data[i] <= 65504.0f)) {
            cli_error("%s: a weight of %g does not fit in f16; convert without --f16", name, (double)data[i]);
            return 0;
        }
    return 1;
}

static void add_tensor(writer *wr, const char *name, const float *data, uint64_t ne0, uint64_t ne1)
{
    uint64_t ne[2] = {ne0, ne1}, n = ne0 * ne1;
    uint32_t dims = ne1 > 1 ? 2 : 1;
    if (wr->failed)
        return;
    const void *bytes = data;
    uint32_t type = LATENT_TYPE_F32;
    uint64_t size = n * sizeof(float);
    if (wr->f16 && dims == 2) { /* norms stay f32, as llama.cpp keeps them */
        if (!fits_f16(name, data, n)) {
            wr->failed = 1;
            return;
        }
        uint16_t *h = malloc(n * sizeof *h);
        if (!h || wr->n_keep == (int)(sizeof wr->keep / sizeof wr->keep[0]) ||
            latent_quantize_row(LATENT_TYPE_F16, data, h, (int64_t)n) != LATENT_OK) {
            cli_error("converting %s to f16 failed", name);
            free(h);
            wr->failed = 1;
            return;
        }
        wr->keep[wr->n_keep++] = h;
        bytes = h, type = LATENT_TYPE_F16, size = n * sizeof *h;
    }
    if (latent_gguf_writer_add_tensor(wr->w, name, type, dims, ne, bytes, size) != LATENT_OK) {
        cli_error("%s: %s", name, latent_last_error());
        wr->failed = 1;
    }
}

static int add_u32(latent_gguf_writer *w, const char *key, uint32_t v)
{
    return latent_gguf_writer_add(w, key, LATENT_GGUF_UINT32, &v) != LATENT_OK;
}

static int add_metadata(latent_gguf_writer *w, const checkpoint *c, const vocab *v)
{
    float eps = 1e-5f;
    uint8_t yes = 1, no = 0;
    const char *name = "llama2.c";
    int bad = latent_gguf_writer_add_str(w, "general.architecture", "llama", 5) ||
              latent_gguf_writer_add_str(w, "general.name", name, strlen(name)) ||
              add_u32(w, "llama.context_length", (uint32_t)c->seq_len) ||
              add_u32(w, "llama.embedding_length", (uint32_t)c->dim) ||
              add_u32(w, "llama.feed_forward_length", (uint32_t)c->hidden) ||
              add_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads) ||
              add_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads) ||
              add_u32(w, "llama.block_count", (uint32_t)c->n_layers) ||
              add_u32(w, "llama.rope.dimension_count", (uint32_t)(c->dim / c->n_heads)) ||
              latent_gguf_writer_add(w, "llama.attention.layer_norm_rms_epsilon", LATENT_GGUF_FLOAT32, &eps) ||
              latent_gguf_writer_add_str(w, "tokenizer.ggml.model", "llama", 5) ||
              latent_gguf_writer_add_str_array(w, "tokenizer.ggml.tokens", (const char *const *)v->tokens,
                                               v->lens, (uint64_t)v->n) ||
              latent_gguf_writer_add_array(w, "tokenizer.ggml.scores", LATENT_GGUF_FLOAT32, v->scores,
                                           (uint64_t)v->n) ||
              latent_gguf_writer_add_array(w, "tokenizer.ggml.token_type", LATENT_GGUF_INT32, v->types,
                                           (uint64_t)v->n) ||
              add_u32(w, "tokenizer.ggml.unknown_token_id", 0) ||
              add_u32(w, "tokenizer.ggml.bos_token_id", 1) || add_u32(w, "tokenizer.ggml.eos_token_id", 2) ||
              latent_gguf_writer_add(w, "tokenizer.ggml.add_bos_token", LATENT_GGUF_BOOL, &yes) ||
              latent_gguf_writer_add(w, "tokenizer.ggml.add_eos_token", LATENT_GGUF_BOOL, &no);
    if (bad)
        cli_error("writing metadata: %s", latent_last_error());
    return bad;
}

static void add_weights(writer *wr, const checkpoint *c)
{
    uint64_t dim = (uint64_t)c->dim, hid = (uint64_t)c->hidden, L = (uint64_t)c->n_layers;
    uint64_t kv = dim / (uint64_t)c->n_heads * (uint64_t)c->n_kv_heads, hs = dim / (uint64_t)c->n_heads;
    const float *p = c->data;
    const float *embd = p;
    p += (uint64_t)c->vocab * dim;
    const float *att_norm = p; p += L * dim;
    const float *wq = p; p += L * dim * dim;
    const float *wk = p; p += L * kv * dim;
    const float *wv = p; p += L * kv * dim;
    const float *wo = p; p += L * dim * dim;
    const float *ffn_norm = p; p += L * dim;
    const float *w1 = p; p += L * hid * dim;
    const float *w2 = p; p += L * dim * hid;
    const float *w3 = p; p += L * hid * dim;
    const float *final_norm = p; p += dim;
    p += (uint64_t)c->seq_len * hs; /* freq_cis_real and _imag: recomputed from the position */
    const float *cls = c->shared_classifier ? NULL : p;

    add_tensor(wr, "token_embd.weight", embd, dim, (uint64_t)c->vocab);
    add_tensor(wr, "output_norm.weight", final_norm, dim, 1);
    if (cls)
        add_tensor(wr, "output.weight", cls, dim, (uint64_t)c->vocab);
    char name[64];
    for (uint64_t l = 0; l < L; l++) {
#define LAYER(suffix, base, ne0, ne1)                                               \
        snprintf(name, sizeof name, "blk.%llu." suffix, (unsigned long long)l);     \
        add_tensor(wr, name, (base) + l * (ne0) * (ne1), ne0, ne1);
        LAYER("attn_norm.weight", att_norm, dim, 1)
        LAYER("attn_q.weight", wq, dim, dim)
        LAYER("attn_k.weight", wk, dim, kv)
        LAYER("attn_v.weight", wv, dim, kv)
        LAYER("attn_output.weight", wo, dim, dim)
        LAYER("ffn_norm.weight", ffn_norm, dim, 1)
        LAYER("ffn_gate.weight", w1, dim, hid)
        LAYER("ffn_down.weight", w2, hid, dim)
        LAYER("ffn_up.weight", w3, dim, hid)
#undef LAYER
    }
}

int main(int argc, char **argv)
{
    cli_program = "convert-llama2c";
    const char *paths[3];
    int n_paths = 0, f16 = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--f16")) {
            f16 = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: convert-llama2c CHECKPOINT.bin TOKENIZER.bin OUT.gguf [--f16]\n");
            return 0;
        } else if (argv[i][0] == '-' || n_paths == 3) {
            cli_error("unexpected argument '%s' (usage: convert-llama2c CHECKPOINT.bin TOKENIZER.bin OUT.gguf [--f16])", argv[i]);
            return 1;
        } else {
            paths[n_paths++] = argv[i];
        }
    }
    if (n_paths != 3) {
        cli_error("usage: convert-llama2c CHECKPOINT.bin TOKENIZER.bin OUT.gguf [--f16]");
        return 1;
    }
    checkpoint c = {0};
    vocab v = {0};
    if (read_checkpoint(paths[0], &c))
        return 1;
    if (read_vocab(paths[1], c.vocab, &v)) {
        free(c.data);
        return 1;
    }
    writer wr = {.f16 = f16};
    int rc = 1;
    if (latent_gguf_writer_create(&wr.w) != LATENT_OK) {
        cli_error("%s", latent_last_error());
    } else if (!add_metadata(wr.w, &c, &v)) {
        add_weights(&wr, &c);
        if (!wr.failed && latent_gguf_writer_write(wr.w, paths[2]) != LATENT_OK)
            cli_error("%s", latent_last_error());
        else if (!wr.failed) {
            fprintf(stderr, "%s: %s: %d layers, dim %d, %d tokens, %s\n", cli_program, paths[2],
                    c.n_layers, c.dim, c.vocab, f16 ? "f16" : "f32");
            rc = 0;
        }
    }
    latent_gguf_writer_free(wr.w);
    for (int i = 0; i < wr.n_keep; i++)
        free(wr.keep[i]);
    free_vocab(&v);
    free(c.data);
    return rc;
}
