/*
 * synthetic.h — models with random weights in the shapes of real ones (TinyLlama 1.1B,
 * Llama 3.2 1B/3B, Qwen2.5 0.5B, or any dimensions), written as f16 GGUF files: what the
 * bench quantizes and runs when speed, not quality, is the question.
 */
#ifndef BENCH_SYNTHETIC_H
#define BENCH_SYNTHETIC_H

#include "bench.h"

/* ============================================================================
 * Synthetic models: real shapes, random weights
 * ========================================================================== */

typedef struct shape {
    char name[64];
    char arch[16];
    int n_layers, dim, n_heads, n_kv_heads, head_dim, ffn, n_vocab, tied, llama3_rope;
    int64_t context;
    float rope_base, rms_eps;
} shape;

static const shape SHAPES[] = {
    {"tinyllama-1.1b", "llama", 22, 2048, 32, 4, 64, 5632, 32000, 0, 0, 2048, 10000.0f, 1e-5f},
    {"llama-3.2-1b", "llama", 16, 2048, 32, 8, 64, 8192, 128256, 1, 1, 131072, 500000.0f, 1e-5f},
    {"llama-3.2-3b", "llama", 28, 3072, 24, 8, 128, 8192, 128256, 1, 1, 131072, 500000.0f, 1e-5f},
    {"qwen2.5-0.5b", "qwen2", 24, 896, 14, 2, 64, 4864, 151936, 1, 0, 32768, 1000000.0f, 1e-6f},
};

static int parse_shape(const char *s, shape *out)
{
    for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++)
        if (!strcmp(s, SHAPES[i].name)) {
            *out = SHAPES[i];
            return 0;
        }
    if (!strchr(s, '='))
        return fail("--synthetic: unknown shape '%s' (tinyllama-1.1b llama-3.2-1b llama-3.2-3b "
                    "qwen2.5-0.5b, or layers=L,dim=D,heads=H,kv_heads=K,ffn=F,vocab=V)", s);
    shape sh = {"", "llama", 0, 0, 0, 0, 0, 0, 32000, 0, 0, 4096, 10000.0f, 1e-5f};
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return fail("--synthetic: the shape is too long");
    strcpy(buf, s);
    for (char *kv = strtok(buf, ","); kv; kv = strtok(NULL, ",")) {
        char *eq = strchr(kv, '=');
        if (!eq)
            return fail("--synthetic: '%s' is not key=value", kv);
        *eq = 0;
        const char *k = kv, *v = eq + 1;
        struct { const char *key; int *field; int lo, hi; } ints[] = {
            {"layers", &sh.n_layers, 1, 1024},  {"dim", &sh.dim, 32, 65536},
            {"heads", &sh.n_heads, 1, 1024},    {"kv_heads", &sh.n_kv_heads, 1, 1024},
            {"head_dim", &sh.head_dim, 2, 1024}, {"ffn", &sh.ffn, 32, 1 << 20},
            {"vocab", &sh.n_vocab, 260, 1 << 22}, {"tied", &sh.tied, 0, 1},
        };
        int found = 0;
        for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
            if (!strcmp(k, ints[i].key)) {
                if (parse_int(ints[i].key, v, ints[i].lo, ints[i].hi, ints[i].field))
                    return -1;
                found = 1;
            }
        if (!strcmp(k, "arch")) {
            if (strcmp(v, "llama") && strcmp(v, "qwen2"))
                return fail("--synthetic: arch must be llama or qwen2, not '%s'", v);
            strcpy(sh.arch, v);
            found = 1;
        }
        if (!found)
            return fail("--synthetic: unknown key '%s' (layers dim heads kv_heads head_dim ffn "
                        "vocab tied arch)", k);
    }
    if (!sh.n_layers || !sh.dim || !sh.n_heads || !sh.ffn)
        return fail("--synthetic: layers, dim, heads and ffn are required");
    if (!sh.n_kv_heads)
        sh.n_kv_heads = sh.n_heads;
    if (!sh.head_dim)
        sh.head_dim = sh.dim / sh.n_heads;
    if (sh.n_heads % sh.n_kv_heads || sh.head_dim % 2 || sh.head_dim * sh.n_heads < 2)
        return fail("--synthetic: heads must be a multiple of kv_heads and head_dim even");
    if (sh.dim % 32 || sh.ffn % 32 || (sh.head_dim * sh.n_heads) % 32)
        return fail("--synthetic: dim, ffn and heads x head_dim must be multiples of 32");
    if (!strcmp(sh.arch, "qwen2"))
        sh.rope_base = 1000000.0f;
    snprintf(sh.name, sizeof sh.name, "L%d-D%d-H%d-KV%d-F%d-V%d", sh.n_layers, sh.dim, sh.n_heads,
             sh.n_kv_heads, sh.ffn, sh.n_vocab);
    *out = sh;
    return 0;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A tensor of rows × cols random f16 values, uniform in ±amp, or f32 `fill` if amp == 0. */
typedef struct syn_tensor {
    char name[64];
    uint32_t type;
    uint32_t n_dims;
    uint64_t ne[2];
    void *data;
    uint64_t size;
} syn_tensor;

static int syn_make(syn_tensor *t, const char *name, int n_dims, uint64_t cols, uint64_t rows,
                    float amp, float fill, uint64_t *seed)
{
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = (uint32_t)n_dims;
    t->ne[0] = cols;
    t->ne[1] = rows;
    t->type = amp > 0 ? LATENT_TYPE_F16 : LATENT_TYPE_F32;
    t->size = cols * rows * (amp > 0 ? 2 : 4);
    t->data = malloc(t->size ? t->size : 1);
    if (!t->data)
        return fail("out of memory writing the synthetic model (%s, %.0f MiB)", name,
                    (double)t->size / MIB);
    if (amp == 0) {
        for (uint64_t i = 0; i < cols * rows; i++)
            ((float *)t->data)[i] = fill;
        return 0;
    }
    float row[4096];
    uint64_t s = splitmix(seed);
    for (uint64_t r = 0; r < rows; r++)
        for (uint64_t c0 = 0; c0 < cols; c0 += 4096) {
            uint64_t n = cols - c0 < 4096 ? cols - c0 : 4096;
            for (uint64_t i = 0; i < n; i++) {
                s ^= s << 13, s ^= s >> 7, s ^= s << 17; /* xorshift64 */
                row[i] = amp * ((float)(s >> 40) * (2.0f / 16777216.0f) - 1.0f);
            }
            latent_quantize_row(LATENT_TYPE_F16, row, (uint16_t *)t->data + r * cols + c0,
                                (int64_t)n);
        }
    return 0;
}

/* Writes a GGUF with sh's shape, f16 matrices, f32 norms and a llama-style vocabulary of
 * n_vocab tokens (<unk> <s> </s>, the 256 byte tokens, then fillers). Runs in a child. */
static int write_synthetic(const shape *sh, const char *path)
{
    int q_dim = sh->n_heads * sh->head_dim, kv_dim = sh->n_kv_heads * sh->head_dim;
    int n_t = 4 + sh->n_layers * 12 + 1;
    syn_tensor *ts = calloc((size_t)n_t, sizeof *ts);
    char **tok = calloc((size_t)sh->n_vocab, sizeof *tok);
    char *tok_buf = malloc((size_t)sh->n_vocab * 16);
    float *scores = malloc((size_t)sh->n_vocab * sizeof *scores);
    int32_t *types = malloc((size_t)sh->n_vocab * sizeof *types);
    latent_gguf_writer *w = NULL;
    int rc = -1, n = 0;
    uint64_t seed = 0x5eed;
    latent_status st;
    if (!ts || !tok || !tok_buf || !scores || !types) {
        fail("out of memory writing the synthetic model");
        goto done;
    }
    for (int i = 0; i < sh->n_vocab; i++) {
        char *p = tok_buf + (size_t)i * 16;
        if (i == 0)
            strcpy(p, "<unk>");
        else if (i == 1)
            strcpy(p, "<s>");
        else if (i == 2)
            strcpy(p, "</s>");
        else if (i < 259)
            snprintf(p, 16, "<0x%02X>", i - 3);
        else
            snprintf(p, 16, "\xe2\x96\x81w%d", i); /* "▁w123": a word piece */
        tok[i] = p;
        scores[i] = i < 259 ? 0.0f : -(float)i;
        types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1;
    }

    /* tensors, in the order llama.cpp's converter writes them */
    float amp_in = sqrtf(3.0f / (float)sh->dim), amp_ffn = sqrtf(3.0f / (float)sh->ffn);
    float amp_o = sqrtf(3.0f / (float)q_dim);
    if (syn_make(&ts[n++], "token_embd.weight", 2, (uint64_t)sh->dim, (uint64_t)sh->n_vocab, 1.0f, 0, &seed))
        goto done;
    if (sh->llama3_rope) { /* llama3 frequency factors: factor 32, low 1, high 4, original 8192 */
        syn_tensor *t = &ts[n++];
        if (syn_make(t, "rope_freqs.weight", 1, (uint64_t)sh->head_dim / 2, 1, 0, 1.0f, &seed))
            goto done;
        for (int i = 0; i < sh->head_dim / 2; i++) {
            double freq = pow(sh->rope_base, -2.0 * i / sh->head_dim), wavelen = 2 * M_PI / freq;
            double f = 1.0;
            if (wavelen > 8192.0 / 1.0)
                f = 32.0;
            else if (wavelen >= 8192.0 / 4.0) {
                double smooth = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
                f = 1.0 / ((1.0 - smooth) / 32.0 + smooth);
            }
            ((float *)t->data)[i] = (float)f;
        }
    }
    for (int l = 0; l < sh->n_layers; l++) {
        char name[64];
        progress(1, "writing the synthetic %s: layer %d/%d", sh->name, l + 1, sh->n_layers);
#define SYN(suffix, nd, cols, rows, amp, fill)                                                 \
        snprintf(name, sizeof name, "blk.%d." suffix, l);                                      \
        if (syn_make(&ts[n++], name, nd, (uint64_t)(cols), (uint64_t)(rows), amp, fill, &seed)) \
            goto done;
        SYN("attn_norm.weight", 1, sh->dim, 1, 0, 1.0f)
        SYN("attn_q.weight", 2, sh->dim, q_dim, amp_in, 0)
        SYN("attn_k.weight", 2, sh->dim, kv_dim, amp_in, 0)
        SYN("attn_v.weight", 2, sh->dim, kv_dim, amp_in, 0)
        if (!strcmp(sh->arch, "qwen2")) {
            SYN("attn_q.bias", 1, q_dim, 1, 0, 0.0f)
            SYN("attn_k.bias", 1, kv_dim, 1, 0, 0.0f)
            SYN("attn_v.bias", 1, kv_dim, 1, 0, 0.0f)
        }
        SYN("attn_output.weight", 2, q_dim, sh->dim, amp_o, 0)
        SYN("ffn_norm.weight", 1, sh->dim, 1, 0, 1.0f)
        SYN("ffn_gate.weight", 2, sh->dim, sh->ffn, amp_in, 0)
        SYN("ffn_up.weight", 2, sh->dim, sh->ffn, amp_in, 0)
        SYN("ffn_down.weight", 2, sh->ffn, sh->dim, amp_ffn, 0)
#undef SYN
    }
    if (syn_make(&ts[n++], "output_norm.weight", 1, (uint64_t)sh->dim, 1, 0, 1.0f, &seed))
        goto done;
    if (!sh->tied && syn_make(&ts[n++], "output.weight", 2, (uint64_t)sh->dim, (uint64_t)sh->n_vocab,
                              amp_in, 0, &seed))
        goto done;

    /* metadata */
    if ((st = latent_gguf_writer_create(&w))) {
        fail_status(st, "creating the synthetic model");
        goto done;
    }
    const char *arch = sh->arch;
    char key[96], gname[96];
    uint32_t u;
    float f;
    uint32_t file_type = 1; /* mostly f16 */
    snprintf(gname, sizeof gname, "synthetic %s", sh->name);
    st = latent_gguf_writer_add_str(w, "general.architecture", arch, strlen(arch));
    if (!st)
        st = latent_gguf_writer_add_str(w, "general.name", gname, strlen(gname));
    if (!st)
        st = latent_gguf_writer_add(w, "general.file_type", LATENT_GGUF_UINT32, &file_type);
#define KEY_U32(suffix, value)                                                                  \
    if (!st) {                                                                                  \
        snprintf(key, sizeof key, "%s." suffix, arch);                                          \
        u = (uint32_t)(value);                                                                  \
        st = latent_gguf_writer_add(w, key, LATENT_GGUF_UINT32, &u);                            \
    }
#define KEY_F32(suffix, value)                                                                  \
    if (!st) {                                                                                  \
        snprintf(key, sizeof key, "%s." suffix, arch);                                          \
        f = (value);                                                                            \
        st = latent_gguf_writer_add(w, key, LATENT_GGUF_FLOAT32, &f);                           \
    }
    KEY_U32("context_length", sh->context)
    KEY_U32("embedding_length", sh->dim)
    KEY_U32("block_count", sh->n_layers)
    KEY_U32("feed_forward_length", sh->ffn)
    KEY_U32("attention.head_count", sh->n_heads)
    KEY_U32("attention.head_count_kv", sh->n_kv_heads)
    KEY_U32("rope.dimension_count", sh->head_dim)
    KEY_U32("vocab_size", sh->n_vocab)
    if (sh->head_dim != sh->dim / sh->n_heads) {
        KEY_U32("attention.key_length", sh->head_dim)
        KEY_U32("attention.value_length", sh->head_dim)
    }
    KEY_F32("rope.freq_base", sh->rope_base)
    KEY_F32("attention.layer_norm_rms_epsilon", sh->rms_eps)
#undef KEY_U32
#undef KEY_F32
    uint32_t ids[3] = {1, 2, 0};
    if (!st)
        st = latent_gguf_writer_add_str(w, "tokenizer.ggml.model", "llama", 5);
    if (!st)
        st = latent_gguf_writer_add_str_array(w, "tokenizer.ggml.tokens", (const char *const *)tok,
                                              NULL, (uint64_t)sh->n_vocab);
    if (!st)
        st = latent_gguf_writer_add_array(w, "tokenizer.ggml.scores", LATENT_GGUF_FLOAT32, scores,
                                          (uint64_t)sh->n_vocab);
    if (!st)
        st = latent_gguf_writer_add_array(w, "tokenizer.ggml.token_type", LATENT_GGUF_INT32, types,
                                          (uint64_t)sh->n_vocab);
    if (!st)
        st = latent_gguf_writer_add(w, "tokenizer.ggml.bos_token_id", LATENT_GGUF_UINT32, &ids[0]);
    if (!st)
        st = latent_gguf_writer_add(w, "tokenizer.ggml.eos_token_id", LATENT_GGUF_UINT32, &ids[1]);
    if (!st)
        st = latent_gguf_writer_add(w, "tokenizer.ggml.unknown_token_id", LATENT_GGUF_UINT32, &ids[2]);
    for (int i = 0; i < n && !st; i++)
        st = latent_gguf_writer_add_tensor(w, ts[i].name, ts[i].type, ts[i].n_dims, ts[i].ne,
                                           ts[i].data, ts[i].size);
    progress(1, "writing the synthetic %s to %s", sh->name, path);
    if (!st)
        st = latent_gguf_writer_write(w, path);
    if (st) {
        fail_status(st, "writing the synthetic model");
        goto done;
    }
    rc = 0;
done:
    latent_gguf_writer_free(w);
    for (int i = 0; ts && i < n_t; i++)
        free(ts[i].data);
    free(ts);
    free(tok);
    free(tok_buf);
    free(scores);
    free(types);
    return rc;
}

#endif /* BENCH_SYNTHETIC_H */
