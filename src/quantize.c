/*
 * quantize.c — a GGUF model rewritten with its weights in another type, choosing each
 * tensor's type the way llama.cpp's llama-quantize does under the same preset name, so
 * a file made here behaves like one downloaded from the internet.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "kernels.h"

typedef enum mix { MIX_NONE, MIX_Q2_K, MIX_Q3_K_M, MIX_K_M } mix;

typedef struct preset {
    const char *name;
    uint32_t base;      /* the type most 2-D tensors get */
    uint32_t file_type; /* general.file_type, llama.cpp's numbering */
    mix rules;          /* which per-tensor rules apply */
} preset;

static const preset PRESETS[] = {
    {"f32", LATENT_TYPE_F32, 0, MIX_NONE},        {"f16", LATENT_TYPE_F16, 1, MIX_NONE},
    {"bf16", LATENT_TYPE_BF16, 32, MIX_NONE},     {"q8_0", LATENT_TYPE_Q8_0, 7, MIX_NONE},
    {"q4_0", LATENT_TYPE_Q4_0, 2, MIX_NONE},      {"q4_1", LATENT_TYPE_Q4_1, 3, MIX_NONE},
    {"q5_0", LATENT_TYPE_Q5_0, 8, MIX_NONE},      {"q5_1", LATENT_TYPE_Q5_1, 9, MIX_NONE},
    {"q2_k", LATENT_TYPE_Q2_K, 10, MIX_Q2_K},     {"q3_k", LATENT_TYPE_Q3_K, 12, MIX_Q3_K_M},
    {"q3_k_m", LATENT_TYPE_Q3_K, 12, MIX_Q3_K_M}, {"q4_k", LATENT_TYPE_Q4_K, 15, MIX_K_M},
    {"q4_k_m", LATENT_TYPE_Q4_K, 15, MIX_K_M},    {"q5_k", LATENT_TYPE_Q5_K, 17, MIX_K_M},
    {"q5_k_m", LATENT_TYPE_Q5_K, 17, MIX_K_M},    {"q6_k", LATENT_TYPE_Q6_K, 18, MIX_NONE},
};

latent_quantize_params latent_quantize_default_params(void)
{
    latent_quantize_params p;
    memset(&p, 0, sizeof p);
    return p;
}

static const preset *find_preset(const char *name)
{
    char lower[16];
    size_t n = 0;
    for (; name[n] && n + 1 < sizeof lower; n++)
        lower[n] = (char)(name[n] >= 'A' && name[n] <= 'Z' ? name[n] + 32 : name[n]);
    lower[n] = 0;
    for (size_t i = 0; i < sizeof PRESETS / sizeof PRESETS[0]; i++)
        if (!strcmp(lower, PRESETS[i].name) && !name[n])
            return &PRESETS[i];
    return NULL;
}

static int is_float_type(uint32_t t)
{
    return t == LATENT_TYPE_F32 || t == LATENT_TYPE_F16 || t == LATENT_TYPE_BF16;
}

/* llama.cpp's choice of layers that get more bits: the first and last eighth, and every
 * third layer between. */
static int use_more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

typedef struct plan {
    const preset *p;
    int pure;
    int has_output;
    int n_layers;
    int i_attn_v, n_attn_v; /* attn_v tensors seen so far, and in all */
} plan;

/* The type llama.cpp would give this 2-D tensor under the preset. */
static uint32_t choose_type(plan *pl, const latent_gguf_tensor *t)
{
    uint32_t type = pl->p->base;
    if (pl->pure || is_float_type(type) || type == LATENT_TYPE_Q8_0)
        return type; /* float presets and q8_0: every matrix the same */
    const char *name = t->name;
    int layer = -1;
    sscanf(name, "blk.%d.", &layer);
    if (!strcmp(name, "output.weight") || (!pl->has_output && !strcmp(name, "token_embd.weight")))
        return t->ne[0] % 256 ? LATENT_TYPE_Q8_0 : LATENT_TYPE_Q6_K;
    if (ends_with(name, "attn_v.weight")) {
        int i = pl->i_attn_v++;
        if (pl->p->rules == MIX_Q2_K)
            return LATENT_TYPE_Q3_K;
        if (pl->p->rules == MIX_Q3_K_M)
            return i < 2 ? LATENT_TYPE_Q5_K : LATENT_TYPE_Q4_K;
        if (pl->p->rules == MIX_K_M && use_more_bits(i, pl->n_attn_v))
            return LATENT_TYPE_Q6_K;
    } else if (ends_with(name, "ffn_down.weight") && layer >= 0) {
        if (pl->p->rules == MIX_Q2_K)
            return LATENT_TYPE_Q3_K;
        if (pl->p->rules == MIX_Q3_K_M)
            return layer < pl->n_layers / 16 ? LATENT_TYPE_Q5_K : LATENT_TYPE_Q4_K;
        if (pl->p->rules == MIX_K_M && use_more_bits(layer, pl->n_layers))
            return LATENT_TYPE_Q6_K;
    } else if (ends_with(name, "attn_output.weight")) {
        if (pl->p->rules == MIX_Q2_K)
            return LATENT_TYPE_Q3_K;
        if (pl->p->rules == MIX_Q3_K_M)
            return LATENT_TYPE_Q4_K;
    }
    return type;
}

/* The nearest type whose blocks divide a row of `cols` (llama.cpp's fallbacks, with
 * q4_0 standing in for iq4_nl, which liblatent does not implement). */
static uint32_t fitting_type(uint32_t type, uint64_t cols)
{
    if (cols % lk_type(type)->block_size == 0)
        return type;
    switch (type) {
    case LATENT_TYPE_Q2_K: case LATENT_TYPE_Q3_K: type = LATENT_TYPE_Q4_0; break;
    case LATENT_TYPE_Q4_K: type = LATENT_TYPE_Q5_0; break;
    case LATENT_TYPE_Q5_K: type = LATENT_TYPE_Q5_1; break;
    case LATENT_TYPE_Q6_K: type = LATENT_TYPE_Q8_0; break;
    default: break;
    }
    return cols % lk_type(type)->block_size == 0 ? type : LATENT_TYPE_F16;
}

/* Largest magnitude in a row, for the message when it does not fit a type. */
static float row_amax(const float *x, uint64_t n)
{
    float m = 0;
    for (uint64_t i = 0; i < n; i++)
        m = fmaxf(m, fabsf(x[i]));
    return m;
}

/* A finite weight can still overflow the type: past 65504 in f16, or a block whose scale
 * (its largest weight over the quant range) does not fit the scale's f16. Reading the row
 * back is the one check that holds for every type. */
static latent_status check_row_fits(const latent_gguf_tensor *t, uint32_t type, const uint8_t *q,
                                    const float *x, float *back, uint64_t cols, uint64_t row)
{
    lk_dequantize_row(type, q, back, (int64_t)cols);
    for (uint64_t c = 0; c < cols; c++)
        if (!isfinite(back[c]))
            return lt_fail(LATENT_ERANGE, "tensor '%s': weights up to %g (row %llu) overflow %s; keep it "
                           "in a wider type (f32, bf16)", t->name, (double)row_amax(x, cols),
                           (unsigned long long)row, lk_type(type)->name);
    return LATENT_OK;
}

/* Converts tensor t to `type` into a new buffer of *size bytes. */
static latent_status convert(const latent_gguf_tensor *t, uint32_t type, void **out, uint64_t *size)
{
    uint64_t cols = t->ne[0], rows = cols ? t->n_elements / cols : 0;
    if (rows == 0)
        return lt_fail(LATENT_EFORMAT, "tensor '%s' has a zero dimension: no weights to quantize", t->name);
    size_t in_row = lk_row_bytes(t->type, (int64_t)cols), out_row = lk_row_bytes(type, (int64_t)cols);
    uint64_t total;
    if (lt_mul_overflows(rows, out_row, &total) || total > SIZE_MAX - 1 || cols > SIZE_MAX / 2 / sizeof(float))
        return lt_fail(LATENT_ENOMEM, "tensor '%s' is too large to convert", t->name);
    float *f = lt_alloc(NULL, 2 * (size_t)cols * sizeof *f);
    uint8_t *buf = lt_alloc(NULL, (size_t)total + 1);
    latent_status st = f && buf ? LATENT_OK : LATENT_ENOMEM;
    for (uint64_t r = 0; r < rows && !st; r++) {
        lk_dequantize_row(t->type, (const uint8_t *)t->data + r * in_row, f, (int64_t)cols);
        for (uint64_t c = 0; c < cols && !st; c++)
            if (!isfinite(f[c]))
                st = lt_fail(LATENT_EFORMAT, "tensor '%s' holds NaN or infinite values (row %llu)", t->name,
                             (unsigned long long)r);
        if (!st) {
            lk_quantize_row(type, f, buf + r * out_row, (int64_t)cols);
            st = check_row_fits(t, type, buf + r * out_row, f, f + cols, cols, r);
        }
    }
    lt_free(NULL, f);
    if (st) {
        lt_free(NULL, buf);
        return st;
    }
    *out = buf;
    *size = total;
    return LATENT_OK;
}

/* Tensors whose rows were not whole blocks of the type chosen, by (chosen, used) pair, so
 * a model with hundreds of them gets one line, not hundreds. */
typedef struct fallbacks {
    uint32_t chosen[8], used[8];
    int count[8];
    int n_pairs, total;
} fallbacks;

static void note_fallback(fallbacks *fb, uint32_t chosen, uint32_t used)
{
    fb->total++;
    for (int i = 0; i < fb->n_pairs; i++)
        if (fb->chosen[i] == chosen && fb->used[i] == used) {
            fb->count[i]++;
            return;
        }
    if (fb->n_pairs < 8) {
        fb->chosen[fb->n_pairs] = chosen, fb->used[fb->n_pairs] = used;
        fb->count[fb->n_pairs++] = 1;
    }
}

static void log_fallbacks(const fallbacks *fb)
{
    if (!fb->total)
        return;
    char line[512];
    int at = snprintf(line, sizeof line, "%d tensor%s with rows that are not whole blocks got the nearest type "
                      "that fits:", fb->total, fb->total == 1 ? "" : "s");
    for (int i = 0; i < fb->n_pairs && at > 0 && (size_t)at < sizeof line; i++)
        at += snprintf(line + at, sizeof line - (size_t)at, "%s %s -> %s (%d)", i ? "," : "",
                       lk_type(fb->chosen[i])->name, lk_type(fb->used[i])->name, fb->count[i]);
    lt_log(LATENT_LOG_INFO, "%s", line);
}

static latent_status copy_metadata(latent_gguf_writer *w, const latent_gguf *in, const preset *p)
{
    latent_status st = LATENT_OK;
    for (int64_t i = 0; i < latent_gguf_n_kv(in) && !st; i++) {
        const char *key = latent_gguf_kv_key(in, i);
        if (strcmp(key, "general.file_type") && strcmp(key, "general.quantization_version"))
            st = latent_gguf_writer_copy_kv(w, in, i);
    }
    uint32_t version = 2;
    if (!st)
        st = latent_gguf_writer_add(w, "general.file_type", LATENT_GGUF_UINT32, &p->file_type);
    if (!st && !is_float_type(p->base))
        st = latent_gguf_writer_add(w, "general.quantization_version", LATENT_GGUF_UINT32, &version);
    return st;
}

static latent_status quantize(const latent_gguf *in, const char *out_path, const preset *p,
                              const latent_quantize_params *qp, void **bufs)
{
    latent_gguf_writer *w = NULL;
    latent_status st = latent_gguf_writer_create(&w);
    if (!st)
        st = copy_metadata(w, in, p);
    int64_t n = latent_gguf_n_tensors(in);
    plan pl = {.p = p, .pure = qp->pure, .has_output = latent_gguf_find_tensor(in, "output.weight") != NULL};
    for (int64_t i = 0; i < n; i++) {
        const latent_gguf_tensor *t = latent_gguf_tensor_at(in, i);
        int layer;
        if (sscanf(t->name, "blk.%d.", &layer) == 1 && layer >= pl.n_layers && layer < 1 << 20)
            pl.n_layers = layer + 1;
        pl.n_attn_v += ends_with(t->name, "attn_v.weight");
    }
    fallbacks fb = {0};
    for (int64_t i = 0; i < n && !st; i++) {
        const latent_gguf_tensor *t = latent_gguf_tensor_at(in, i);
        const lk_type_traits *tr = lk_type(t->type);
        if (!tr || !tr->supported) {
            st = lt_fail(LATENT_EUNSUPPORTED, "tensor '%s' has type %s, which liblatent cannot read",
                         t->name, tr ? tr->name : "unknown");
            break;
        }
        uint32_t chosen = t->n_dims >= 2 ? choose_type(&pl, t) : LATENT_TYPE_F32;
        uint32_t type = fitting_type(chosen, t->ne[0]);
        if (type != chosen)
            note_fallback(&fb, chosen, type);
        uint64_t size = 0;
        if ((st = convert(t, type, &bufs[i], &size)))
            break;
        st = latent_gguf_writer_add_tensor(w, t->name, type, t->n_dims, t->ne, bufs[i], size);
        if (!st && qp->progress)
            qp->progress(t->name, i, n, t->type, type, qp->user);
    }
    if (!st)
        log_fallbacks(&fb);
    if (!st)
        st = latent_gguf_writer_write(w, out_path);
    latent_gguf_writer_free(w);
    return st;
}

latent_status latent_quantize_file(const char *in_path, const char *out_path, const char *preset_name,
                                   const latent_quantize_params *params)
{
    if (!in_path || !out_path || !preset_name)
        return lt_fail(LATENT_EINVAL, "latent_quantize_file: NULL argument");
    const preset *p = find_preset(preset_name);
    if (!p)
        return lt_fail(LATENT_EINVAL, "unknown quantization type '%s' (f32 f16 bf16 q8_0 q4_0 q4_1 "
                       "q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k q4_k_m q5_k_m)", preset_name);
    latent_quantize_params qp = params ? *params : latent_quantize_default_params();
    latent_gguf *in = NULL;
    latent_status st = latent_gguf_open(in_path, &in);
    if (st)
        return st;
    int64_t n = latent_gguf_n_tensors(in);
    void **bufs = lt_calloc(NULL, (size_t)n + 1, sizeof *bufs);
    st = bufs ? quantize(in, out_path, p, &qp, bufs) : LATENT_ENOMEM;
    for (int64_t i = 0; bufs && i < n; i++)
        lt_free(NULL, bufs[i]);
    lt_free(NULL, bufs);
    latent_gguf_free(in);
    if (st)
        return lt_fail_prefix(st, "quantizing %s", in_path);
    return LATENT_OK;
}
