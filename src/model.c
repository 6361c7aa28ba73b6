/*
 * model.c — a GGUF file becomes a model: hyperparameters read and checked, every tensor
 * bound by name with its shape and type checked against them, weights left in the mapped
 * file. Anything the forward pass could trip over is refused here, with its name.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "quant.h"
#include "tokenizer.h"

latent_model_params latent_model_default_params(void)
{
    latent_model_params p;
    memset(&p, 0, sizeof p);
    p.vocab_only = 0;
    p.use_mmap = 1;
    return p;
}

/* ---- hyperparameters ---- */

/* Reads "<arch>.<suffix>" as an integer in [lo, hi]; `fallback` when absent (< 0: required). */
static latent_status get_hparam(const latent_gguf *g, const char *arch, const char *suffix,
                                int64_t lo, int64_t hi, int64_t fallback, int64_t *out)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    latent_status st = latent_gguf_get_int(g, key, out);
    if (st == LATENT_ENOTFOUND && fallback >= 0) {
        *out = fallback;
        return LATENT_OK;
    }
    if (st == LATENT_ENOTFOUND)
        return lt_fail(LATENT_EFORMAT, "required key '%s' is missing", key);
    if (st != LATENT_OK)
        return lt_fail(LATENT_EFORMAT, "key '%s' is not an integer", key);
    if (*out < lo || *out > hi)
        return lt_fail(LATENT_EFORMAT, "key '%s' is %lld, outside [%lld, %lld]", key,
                       (long long)*out, (long long)lo, (long long)hi);
    return LATENT_OK;
}

static latent_status get_fparam(const latent_gguf *g, const char *arch, const char *suffix,
                                double lo, double hi, double fallback, float *out)
{
    char key[128];
    double v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    latent_status st = latent_gguf_get_float(g, key, &v);
    if (st == LATENT_ENOTFOUND)
        v = fallback;
    else if (st != LATENT_OK)
        return lt_fail(LATENT_EFORMAT, "key '%s' is not a number", key);
    if (!(v >= lo && v <= hi))
        return lt_fail(LATENT_EFORMAT, "key '%s' is %g, outside [%g, %g]", key, v, lo, hi);
    *out = (float)v;
    return LATENT_OK;
}

/* Which layers of a sliding-window model are local: the file's array of booleans
 * (attention.sliding_window_pattern), or a period p (the same key as an integer, default
 * `period`) with every p-th layer global, the last of each run of p. */
static latent_status read_swa_pattern(const latent_gguf *g, const char *arch, int32_t n_layers,
                                      int64_t period, lt_layer *layers, int32_t window)
{
    char key[128];
    snprintf(key, sizeof key, "%s.attention.sliding_window_pattern", arch);
    int64_t i = latent_gguf_find_key(g, key);
    if (i >= 0 && latent_gguf_kv_type(g, i) == LATENT_GGUF_ARRAY) {
        if (latent_gguf_kv_elem_type(g, i) != LATENT_GGUF_BOOL ||
            latent_gguf_kv_count(g, i) < (uint64_t)n_layers)
            return lt_fail(LATENT_EFORMAT, "key '%s' is not %d booleans", key, n_layers);
        const uint8_t *b = latent_gguf_kv_data(g, i);
        for (int32_t l = 0; l < n_layers; l++)
            layers[l].window = b[l] ? window : 0;
        return LATENT_OK;
    }
    latent_status st = get_hparam(g, arch, "attention.sliding_window_pattern", 0, 1 << 16, period, &period);
    if (st)
        return st;
    for (int32_t l = 0; l < n_layers; l++)
        layers[l].window = period == 0 || l % period < period - 1 ? window : 0;
    return LATENT_OK;
}

static latent_status read_arch(const latent_gguf *g, char *arch, size_t cap, lt_hparams *hp)
{
    static const struct { const char *name; lt_arch arch; } known[] = {
        {"llama", LT_ARCH_LLAMA}, {"qwen2", LT_ARCH_QWEN2}, {"qwen3", LT_ARCH_QWEN3},
        {"smollm3", LT_ARCH_SMOLLM3}, {"gemma3", LT_ARCH_GEMMA3}, {"phi3", LT_ARCH_PHI3}};
    latent_str arch_str;
    if (latent_gguf_get_str(g, "general.architecture", &arch_str) != LATENT_OK)
        return lt_fail(LATENT_EFORMAT, "key 'general.architecture' is missing or not a string");
    if (arch_str.len < cap && !memchr(arch_str.ptr, 0, arch_str.len)) {
        memcpy(arch, arch_str.ptr, arch_str.len);
        arch[arch_str.len] = 0;
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
            if (strcmp(arch, known[k].name) == 0) {
                hp->arch = known[k].arch;
                return LATENT_OK;
            }
    }
    return lt_fail(LATENT_EUNSUPPORTED, "architecture '%.*s' is not supported (llama, qwen2, qwen3, smollm3, gemma3, phi3)",
                   (int)(arch_str.len < 64 ? arch_str.len : 64), arch_str.ptr);
}

/* rope.scaling: none, llama3 (the rope_freqs tensor), linear (positions divided by
 * rope.scaling.factor, in the global layers) or longrope (phi3: the rope_factors tensors,
 * and cos and sin scaled by rope.scaling.attn_factor, which may come without the type). */
static latent_status read_rope_scaling(const latent_gguf *g, const char *arch, lt_hparams *hp)
{
    latent_str scaling;
    char key[128];
    hp->rope_scale = 1.0f;
    latent_status st = get_fparam(g, arch, "rope.scaling.attn_factor", 1e-3, 1e3, 1.0, &hp->rope_attn_factor);
    if (st)
        return st;
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    if (latent_gguf_get_str(g, key, &scaling) != LATENT_OK || scaling.len == 0 ||
        (scaling.len == 4 && memcmp(scaling.ptr, "none", 4) == 0) ||
        (scaling.len == 8 && memcmp(scaling.ptr, "longrope", 8) == 0 && hp->arch == LT_ARCH_PHI3) ||
        (scaling.len == 6 && memcmp(scaling.ptr, "llama3", 6) == 0))
        return LATENT_OK;
    if (scaling.len == 6 && memcmp(scaling.ptr, "linear", 6) == 0)
        return get_fparam(g, arch, "rope.scaling.factor", 1e-3, 1e6, 1.0, &hp->rope_scale);
    return lt_fail(LATENT_EUNSUPPORTED, "rope scaling '%.*s' is not supported",
                   (int)(scaling.len < 32 ? scaling.len : 32), scaling.ptr);
}

/* gemma3's own keys: sliding window and its RoPE base, logit soft-capping, the scales. */
static latent_status read_gemma3(const latent_gguf *g, const char *arch, lt_hparams *hp)
{
    int64_t v;
    latent_status st;
    if ((st = get_hparam(g, arch, "attention.sliding_window", 0, INT32_MAX, 0, &v)))
        return st;
    hp->sliding_window = (int32_t)v;
    if ((st = get_fparam(g, arch, "rope.freq_base_swa", 1.0, 1e12, 10000.0, &hp->rope_base_local)))
        return st;
    if ((st = get_fparam(g, arch, "final_logit_softcapping", 0.0, 1e6, 0.0, &hp->logit_softcap)))
        return st;
    /* Google's reference scales queries by 1/sqrt(dim / n_heads) in the 27B model only
     * (query_pre_attn_scalar), by 1/sqrt(head_dim) in the others; llama.cpp tells them
     * apart by the layer count, and so do we. */
    if (hp->n_layers == 62)
        hp->attn_scale = 1.0f / sqrtf((float)(hp->dim / hp->n_heads));
    hp->embd_scale = sqrtf((float)hp->dim);
    hp->ffn_gelu = 1;
    return LATENT_OK;
}

static latent_status read_hparams(const latent_gguf *g, lt_hparams *hp)
{
    char *arch = hp->arch_name;
    latent_status st = read_arch(g, arch, sizeof hp->arch_name, hp);
    if (st)
        return st;
    hp->rope_neox = hp->arch != LT_ARCH_LLAMA && hp->arch != LT_ARCH_SMOLLM3;

    int64_t v;
    if ((st = get_hparam(g, arch, "block_count", 1, 4096, -1, &v)))
        return st;
    hp->n_layers = (int32_t)v;
    if ((st = get_hparam(g, arch, "embedding_length", 1, 1 << 17, -1, &v)))
        return st;
    hp->dim = (int32_t)v;
    if ((st = get_hparam(g, arch, "attention.head_count", 1, 4096, -1, &v)))
        return st;
    hp->n_heads = (int32_t)v;
    if ((st = get_hparam(g, arch, "attention.head_count_kv", 1, 4096, hp->n_heads, &v)))
        return st;
    hp->n_kv_heads = (int32_t)v;
    if ((st = get_hparam(g, arch, "feed_forward_length", 1, 1 << 20, -1, &v)))
        return st;
    hp->ffn_dim = (int32_t)v;
    if ((st = get_hparam(g, arch, "context_length", 1, INT64_MAX, 2048, &v)))
        return st;
    hp->context_train = v;
    /* the head size is key_length where the file says it (qwen3 and gemma3 heads are not
     * dim / n_heads wide), else dim / n_heads */
    int divisible = hp->dim % hp->n_heads == 0;
    if ((st = get_hparam(g, arch, "attention.key_length", 2, 1 << 14, divisible ? hp->dim / hp->n_heads : -1, &v)))
        return divisible ? st : lt_fail(LATENT_EFORMAT, "embedding_length %d is not a multiple of head_count %d "
                                        "and attention.key_length is missing", hp->dim, hp->n_heads);
    hp->head_dim = (int32_t)v;
    if ((st = get_hparam(g, arch, "attention.value_length", 2, 1 << 14, hp->head_dim, &v)))
        return st;
    if (v != hp->head_dim)
        return lt_fail(LATENT_EUNSUPPORTED, "value_length %lld differs from key_length %d",
                       (long long)v, hp->head_dim);
    if ((st = get_hparam(g, arch, "rope.dimension_count", 2, 1 << 14, hp->head_dim, &v)))
        return st;
    if (v > hp->head_dim || v % 2 != 0)
        return lt_fail(LATENT_EFORMAT, "rope.dimension_count %lld: not an even count up to the head's %d",
                       (long long)v, hp->head_dim);
    hp->n_rot = (int32_t)v;
    if (hp->head_dim % 2 != 0)
        return lt_fail(LATENT_EFORMAT, "head dimension %d is odd", hp->head_dim);
    if (hp->n_heads % hp->n_kv_heads != 0)
        return lt_fail(LATENT_EFORMAT, "head_count %d is not a multiple of head_count_kv %d",
                       hp->n_heads, hp->n_kv_heads);
    if ((st = get_fparam(g, arch, "rope.freq_base", 1.0, 1e12, 10000.0, &hp->rope_base)))
        return st;
    if ((st = get_fparam(g, arch, "attention.layer_norm_rms_epsilon", 0.0, 1.0, 1e-5, &hp->rms_eps)))
        return st;
    hp->rope_base_local = hp->rope_base;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    hp->embd_scale = 1.0f;
    if (hp->arch == LT_ARCH_GEMMA3 && (st = read_gemma3(g, arch, hp)))
        return st;
    return read_rope_scaling(g, arch, hp);
}

/* ---- tensors ---- */

/* Offsets of the half-precision scale fields in each block: a non-finite scale is the
 * only way a quantized block can hold NaN or infinity. */
static const uint16_t *scale_offsets(uint32_t type, int *n)
{
    static const uint16_t q_d[] = {0}, q_dm[] = {0, 2};
    static const uint16_t q2k[] = {offsetof(block_q2_K, d), offsetof(block_q2_K, dmin)};
    static const uint16_t q3k[] = {offsetof(block_q3_K, d)};
    static const uint16_t q6k[] = {offsetof(block_q6_K, d)};
    switch (type) {
    case LATENT_TYPE_Q4_0: case LATENT_TYPE_Q5_0: case LATENT_TYPE_Q8_0:
        *n = 1; return q_d;
    case LATENT_TYPE_Q4_1: case LATENT_TYPE_Q5_1: case LATENT_TYPE_Q4_K: case LATENT_TYPE_Q5_K:
        *n = 2; return q_dm;
    case LATENT_TYPE_Q2_K: *n = 2; return q2k;
    case LATENT_TYPE_Q3_K: *n = 1; return q3k;
    case LATENT_TYPE_Q6_K: *n = 1; return q6k;
    default: *n = 0; return NULL;
    }
}

static int half_finite(const uint8_t *p)
{
    uint16_t h = (uint16_t)(p[0] | p[1] << 8);
    return (h & 0x7c00) != 0x7c00;
}

/* 1 if every value the tensor can produce is finite. Reads every scale: touches the
 * pages once, which the first token would do anyway. */
static int tensor_finite(const latent_gguf_tensor *t)
{
    const uint8_t *p = t->data;
    switch (t->type) {
    case LATENT_TYPE_F32:
        for (uint64_t i = 0; i < t->n_elements; i++) {
            float f;
            memcpy(&f, p + 4 * i, 4);
            if (!isfinite(f))
                return 0;
        }
        return 1;
    case LATENT_TYPE_F16:
        for (uint64_t i = 0; i < t->n_elements; i++)
            if (!half_finite(p + 2 * i))
                return 0;
        return 1;
    case LATENT_TYPE_BF16:
        for (uint64_t i = 0; i < t->n_elements; i++)
            if (((p[2 * i] | p[2 * i + 1] << 8) & 0x7f80) == 0x7f80)
                return 0;
        return 1;
    default: {
        int n;
        const uint16_t *offs = scale_offsets(t->type, &n);
        const lk_type_traits *tr = lk_type(t->type);
        uint64_t blocks = t->n_elements / tr->block_size;
        for (uint64_t b = 0; b < blocks; b++)
            for (int k = 0; k < n; k++)
                if (!half_finite(p + b * tr->block_bytes + offs[k]))
                    return 0;
        return 1;
    }
    }
}

typedef struct loader {
    latent_model *m;
    char name[96];
} loader;

static const latent_gguf_tensor *find(loader *ld, const char *name, int layer, int required)
{
    if (layer >= 0)
        snprintf(ld->name, sizeof ld->name, "blk.%d.%s", layer, name);
    else
        snprintf(ld->name, sizeof ld->name, "%s", name);
    const latent_gguf_tensor *t = latent_gguf_find_tensor(ld->m->gguf, ld->name);
    if (!t && required)
        lt_fail(LATENT_EFORMAT, "tensor '%s' is missing", ld->name);
    return t;
}

static latent_status check_type(const latent_gguf_tensor *t)
{
    const lk_type_traits *tr = lk_type(t->type);
    if (!tr || !tr->supported)
        return lt_fail(LATENT_EUNSUPPORTED, "tensor '%s' has type %s, which liblatent cannot run",
                       t->name, tr ? tr->name : "unknown");
    if (!tensor_finite(t))
        return lt_fail(LATENT_EFORMAT, "tensor '%s' holds NaN or infinite values", t->name);
    return LATENT_OK;
}

/* Binds a 2-D weight of `rows` rows by `cols` columns (ne[0] = cols). */
static latent_status bind_matrix(loader *ld, const char *name, int layer, int64_t rows,
                                 int64_t cols, lk_matrix *out)
{
    const latent_gguf_tensor *t = find(ld, name, layer, 1);
    if (!t)
        return LATENT_EFORMAT;
    if (t->n_dims != 2 || t->ne[0] != (uint64_t)cols || t->ne[1] != (uint64_t)rows)
        return lt_fail(LATENT_EFORMAT, "tensor '%s' has shape [%llu, %llu, %llu, %llu], expected [%lld, %lld]",
                       t->name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                       (unsigned long long)t->ne[2], (unsigned long long)t->ne[3],
                       (long long)cols, (long long)rows);
    latent_status st = check_type(t);
    if (st)
        return st;
    out->type = t->type;
    out->rows = rows;
    out->cols = cols;
    out->row_stride = lk_row_bytes(t->type, cols);
    out->data = t->data;
    if (out->row_stride == 0)
        return lt_fail(LATENT_EFORMAT, "tensor '%s': rows of %lld are not whole %s blocks",
                       t->name, (long long)cols, lk_type(t->type)->name);
    ld->m->weight_bytes += (size_t)t->size;
    return LATENT_OK;
}

/* Binds a vector of n floats; f16/bf16 (or misaligned f32) vectors are converted into the
 * model's heap, since the kernels read norms and biases as f32. Absent and optional:
 * *out = NULL. */
static latent_status bind_vector(loader *ld, const char *name, int layer, int64_t n, int required,
                                 const float **out)
{
    *out = NULL;
    const latent_gguf_tensor *t = find(ld, name, layer, required);
    if (!t)
        return required ? LATENT_EFORMAT : LATENT_OK;
    if (t->n_elements != (uint64_t)n || t->ne[0] != (uint64_t)n)
        return lt_fail(LATENT_EFORMAT, "tensor '%s' has %llu elements, expected %lld", t->name,
                       (unsigned long long)t->n_elements, (long long)n);
    if (t->type != LATENT_TYPE_F32 && t->type != LATENT_TYPE_F16 && t->type != LATENT_TYPE_BF16)
        return lt_fail(LATENT_EUNSUPPORTED, "tensor '%s' is %s; vectors must be f32, f16 or bf16",
                       t->name, lk_type(t->type) ? lk_type(t->type)->name : "unknown");
    latent_status st = check_type(t);
    if (st)
        return st;
    latent_model *m = ld->m;
    m->weight_bytes += (size_t)t->size;
    if (t->type == LATENT_TYPE_F32 && (uintptr_t)t->data % sizeof(float) == 0) {
        *out = t->data;
        return LATENT_OK;
    }
    float *f = lt_alloc(&m->budget, (size_t)n * sizeof *f);
    if (!f)
        return LATENT_ENOMEM;
    m->converted[m->n_converted++] = f;
    if (t->type == LATENT_TYPE_F32)
        memcpy(f, t->data, (size_t)n * sizeof *f);
    else
        lk_dequantize_row(t->type, t->data, f, n);
    *out = f;
    return LATENT_OK;
}

/* Vectors per layer (norms, biases) plus the output norm and up to three rope factor
 * vectors at the top (rope_freqs or LongRoPE short, and long): each may need
 * a converted copy. */
#define VECTORS_PER_LAYER 9

/* Each layer's window, RoPE base and frequency factors: sliding-window layers (gemma3) have
 * their own base and no scaling; the others take the file's base, rope_freqs, and linear
 * scaling expressed as factors (a position divided by s turns every angle by 1/s). */
static latent_status bind_layer_rope(latent_model *m)
{
    const lt_hparams *hp = &m->hp;
    const float *global_freqs = m->rope_freqs;
    if (hp->rope_scale != 1.0f) {
        if (m->rope_freqs)
            return lt_fail(LATENT_EUNSUPPORTED, "linear rope scaling together with rope_freqs.weight");
        m->rope_linear = lt_alloc(&m->budget, (size_t)(hp->n_rot / 2) * sizeof *m->rope_linear);
        if (!m->rope_linear)
            return LATENT_ENOMEM;
        for (int32_t i = 0; i < hp->n_rot / 2; i++)
            m->rope_linear[i] = hp->rope_scale;
        global_freqs = m->rope_linear;
    }
    if (hp->sliding_window > 0) {
        latent_status st = read_swa_pattern(m->gguf, hp->arch_name,
                                            hp->n_layers, 6, m->layers, hp->sliding_window);
        if (st)
            return st;
    }
    for (int32_t l = 0; l < hp->n_layers; l++) {
        lt_layer *L = &m->layers[l];
        L->rope_base = L->window ? hp->rope_base_local : hp->rope_base;
        /* SmolLM3 leaves position out of every 4th layer (llama.cpp's n_no_rope_layer_step;
         * the converter writes no key for it) */
        L->no_rope = hp->arch == LT_ARCH_SMOLLM3 && (l + 1) % 4 == 0;
        L->rope_freqs = L->window ? NULL : global_freqs;
    }
    return LATENT_OK;
}

/* LongRoPE (Phi-3.5, Phi-4): two sets of frequency factors, short for contexts within the
 * trained original length and long beyond it. llama.cpp picks one when a context is
 * created, by its size; our cache has no size, and a switch mid-life would leave the
 * cached keys rotated the other way, so we keep the short ones: past the original length
 * (rope.scaling.original_context_length) we stay what the model was first trained as. */
static latent_status bind_longrope(loader *ld)
{
    latent_model *m = ld->m;
    const float *long_factors = NULL;
    int64_t n = m->hp.n_rot / 2;
    latent_status st = bind_vector(ld, "rope_factors_long.weight", -1, n, 0, &long_factors);
    if (!st)
        st = bind_vector(ld, "rope_factors_short.weight", -1, n, long_factors != NULL, &m->rope_freqs);
    return st;
}

/* A view of rows [first, first + rows) of a bound matrix: the fused matrices of phi3 are
 * their parts one after another, row by row. */
static lk_matrix rows_of(const lk_matrix *w, int64_t first, int64_t rows)
{
    lk_matrix v = *w;
    v.rows = rows;
    v.data = (const uint8_t *)w->data + (size_t)first * w->row_stride;
    return v;
}

/* phi3's attn_qkv (q, k, v rows in turn) and ffn_up (gate rows, then up rows). */
static latent_status bind_fused(loader *ld, int l, lt_layer *L)
{
    const lt_hparams *hp = &ld->m->hp;
    int64_t dim = hp->dim, q_dim = (int64_t)hp->n_heads * hp->head_dim;
    int64_t kv_dim = (int64_t)hp->n_kv_heads * hp->head_dim, ffn = hp->ffn_dim;
    lk_matrix qkv, up;
    latent_status st = bind_matrix(ld, "attn_qkv.weight", l, q_dim + 2 * kv_dim, dim, &qkv);
    if (!st)
        st = bind_matrix(ld, "ffn_up.weight", l, 2 * ffn, dim, &up);
    if (st)
        return st;
    L->wq = rows_of(&qkv, 0, q_dim);
    L->wk = rows_of(&qkv, q_dim, kv_dim);
    L->wv = rows_of(&qkv, q_dim + kv_dim, kv_dim);
    L->w_gate = rows_of(&up, 0, ffn);
    L->w_up = rows_of(&up, ffn, ffn);
    return LATENT_OK;
}

static latent_status bind_weights(latent_model *m)
{
    const lt_hparams *hp = &m->hp;
    int64_t dim = hp->dim, q_dim = (int64_t)hp->n_heads * hp->head_dim;
    int64_t kv_dim = (int64_t)hp->n_kv_heads * hp->head_dim, ffn = hp->ffn_dim;
    loader ld = {.m = m};
    latent_status st;

    m->layers = lt_calloc(&m->budget, (size_t)hp->n_layers, sizeof *m->layers);
    m->converted = lt_calloc(&m->budget, (size_t)hp->n_layers * VECTORS_PER_LAYER + 4,
                             sizeof *m->converted);
    if (!m->layers || !m->converted)
        return LATENT_ENOMEM;

    const latent_gguf_tensor *embd = find(&ld, "token_embd.weight", -1, 1);
    if (!embd)
        return LATENT_EFORMAT;
    if (embd->n_dims != 2 || embd->ne[0] != (uint64_t)dim || embd->ne[1] > INT32_MAX)
        return lt_fail(LATENT_EFORMAT, "tensor 'token_embd.weight' has shape [%llu, %llu], expected [%lld, n_vocab]",
                       (unsigned long long)embd->ne[0], (unsigned long long)embd->ne[1], (long long)dim);
    m->hp.n_vocab = (int32_t)embd->ne[1];
    int32_t n_tokens = lt_vocab_size(m->vocab);
    if (n_tokens != m->hp.n_vocab)
        return lt_fail(LATENT_EFORMAT, "the vocabulary has %d tokens but token_embd.weight has %d rows",
                       n_tokens, m->hp.n_vocab);
    if ((st = bind_matrix(&ld, "token_embd.weight", -1, hp->n_vocab, dim, &m->token_embd)))
        return st;
    if ((st = bind_vector(&ld, "output_norm.weight", -1, dim, 1, &m->output_norm)))
        return st;
    if (find(&ld, "output.weight", -1, 0)) {
        if ((st = bind_matrix(&ld, "output.weight", -1, hp->n_vocab, dim, &m->output)))
            return st;
    } else {
        m->output = m->token_embd; /* tied embeddings */
    }
    if ((st = bind_vector(&ld, "rope_freqs.weight", -1, hp->n_rot / 2, 0, &m->rope_freqs)))
        return st;
    if (hp->arch == LT_ARCH_PHI3 && !m->rope_freqs && (st = bind_longrope(&ld)))
        return st;
    if ((st = bind_layer_rope(m)))
        return st;

    int biases = hp->arch == LT_ARCH_QWEN2;
    int qk_norms = hp->arch == LT_ARCH_QWEN3 || hp->arch == LT_ARCH_GEMMA3;
    int post_norms = hp->arch == LT_ARCH_GEMMA3;
    for (int l = 0; l < hp->n_layers; l++) {
        lt_layer *L = &m->layers[l];
        if ((st = bind_vector(&ld, "attn_q_norm.weight", l, hp->head_dim, qk_norms, &L->q_norm)) ||
            (st = bind_vector(&ld, "attn_k_norm.weight", l, hp->head_dim, qk_norms, &L->k_norm)) ||
            (st = bind_vector(&ld, "post_attention_norm.weight", l, dim, post_norms, &L->post_attn_norm)) ||
            (st = bind_vector(&ld, "post_ffw_norm.weight", l, dim, post_norms, &L->post_ffw_norm)))
            return st;
        if (hp->arch == LT_ARCH_PHI3) {
            if ((st = bind_fused(&ld, l, L)) ||
                (st = bind_vector(&ld, "attn_norm.weight", l, dim, 1, &L->attn_norm)) ||
                (st = bind_matrix(&ld, "attn_output.weight", l, dim, q_dim, &L->wo)) ||
                (st = bind_vector(&ld, "ffn_norm.weight", l, dim, 1, &L->ffn_norm)) ||
                (st = bind_matrix(&ld, "ffn_down.weight", l, dim, ffn, &L->w_down)))
                return st;
            continue;
        }
        if ((st = bind_vector(&ld, "attn_norm.weight", l, dim, 1, &L->attn_norm)) ||
            (st = bind_matrix(&ld, "attn_q.weight", l, q_dim, dim, &L->wq)) ||
            (st = bind_matrix(&ld, "attn_k.weight", l, kv_dim, dim, &L->wk)) ||
            (st = bind_matrix(&ld, "attn_v.weight", l, kv_dim, dim, &L->wv)) ||
            (st = bind_matrix(&ld, "attn_output.weight", l, dim, q_dim, &L->wo)) ||
            (st = bind_vector(&ld, "attn_q.bias", l, q_dim, biases, &L->bq)) ||
            (st = bind_vector(&ld, "attn_k.bias", l, kv_dim, biases, &L->bk)) ||
            (st = bind_vector(&ld, "attn_v.bias", l, kv_dim, biases, &L->bv)) ||
            (st = bind_vector(&ld, "ffn_norm.weight", l, dim, 1, &L->ffn_norm)) ||
            (st = bind_matrix(&ld, "ffn_gate.weight", l, ffn, dim, &L->w_gate)) ||
            (st = bind_matrix(&ld, "ffn_up.weight", l, ffn, dim, &L->w_up)) ||
            (st = bind_matrix(&ld, "ffn_down.weight", l, dim, ffn, &L->w_down)))
            return st;
    }
    return LATENT_OK;
}

/* ---- load and free ---- */

void latent_model_free(latent_model *m)
{
    if (!m)
        return;
    for (int32_t i = 0; i < m->n_converted; i++)
        lt_free(&m->budget, m->converted[i]);
    lt_free(&m->budget, m->converted);
    lt_free(&m->budget, m->rope_linear);
    lt_free(&m->budget, m->layers);
    lt_vocab_free(m->vocab, &m->budget);
    latent_gguf_free(m->gguf);
    lt_free(NULL, m);
}

latent_status lt_model_from_view(latent_gguf *gguf, int vocab_only, latent_model **out)
{
    *out = NULL;
    latent_model *m = lt_calloc(NULL, 1, sizeof *m);
    if (!m) {
        latent_gguf_free(gguf);
        return LATENT_ENOMEM;
    }
    m->gguf = gguf;
    latent_status st = lt_vocab_load(m->gguf, &m->budget, &m->vocab);
    if (st == LATENT_OK && vocab_only)
        m->hp.n_vocab = lt_vocab_size(m->vocab);
    else if (st == LATENT_OK && (st = read_hparams(m->gguf, &m->hp)) == LATENT_OK)
        st = bind_weights(m);
    if (st != LATENT_OK) {
        latent_model_free(m);
        return st;
    }
    *out = m;
    return LATENT_OK;
}

latent_status latent_model_load(const char *path, const latent_model_params *params,
                                latent_model **out)
{
    if (!out)
        return lt_fail(LATENT_EINVAL, "latent_model_load: out is NULL");
    *out = NULL;
    if (!path)
        return lt_fail(LATENT_EINVAL, "latent_model_load: path is NULL");
    latent_model_params p = params ? *params : latent_model_default_params();
    latent_gguf *gguf = NULL;
    latent_status st = lt_gguf_open(path, p.use_mmap, &gguf);
    if (st != LATENT_OK)
        return st; /* its message names the path already */
    st = lt_model_from_view(gguf, p.vocab_only, out);
    if (st != LATENT_OK)
        return lt_fail_prefix(st, "%s", path);
    return LATENT_OK;
}

const latent_gguf *latent_model_gguf(const latent_model *model)
{
    return model ? model->gguf : NULL;
}

const struct lt_vocab *lt_model_vocab(const latent_model *model)
{
    return model->vocab;
}

int32_t latent_n_vocab(const latent_model *model)
{
    return model ? model->hp.n_vocab : 0;
}
