/*
 * scalar.c — the portable kernels: the oracle every SIMD file is tested against, and the
 * production path on machines without SIMD (Pentium II, riscv).
 *
 * Plain C written from the block layouts in quant.h. A matrix product quantizes the
 * activations once (q8_0, q8_1 or q8_K, whichever the weight type pairs with), then takes
 * integer dot products block by block and scales each block's sum by the two block
 * scales. Float weights (f32, f16, bf16) are dotted with the float activations.
 */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"

/* ---------------------------------------------------------------------------
 * Dot products of one weight row with one activation row (float or quantized)
 * ------------------------------------------------------------------------- */

typedef float (*vec_dot_fn)(const void *w, const void *x, int64_t n);

static float dot_f32(const void *w, const void *x, int64_t n)
{
    const float *a = w, *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

static float dot_f16(const void *w, const void *x, int64_t n)
{
    const uint16_t *a = w;
    const float *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += lk_f16_to_f32(a[i]) * b[i];
    return sum;
}

static float dot_bf16(const void *w, const void *x, int64_t n)
{
    const uint16_t *a = w;
    const float *b = x;
    float sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += lk_bf16_to_f32(a[i]) * b[i];
    return sum;
}

static float dot_q4_0(const void *w, const void *x, int64_t n)
{
    const block_q4_0 *wb = w;
    const block_q8_0 *xb = x;
    float sum = 0;
    for (int64_t b = 0; b < n / QK4_0; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            int lo = (wb[b].qs[j] & 0x0F) - 8, hi = (wb[b].qs[j] >> 4) - 8;
            isum += lo * xb[b].qs[j] + hi * xb[b].qs[j + QK4_0 / 2];
        }
        sum += lk_f16_to_f32(wb[b].d) * lk_f16_to_f32(xb[b].d) * (float)isum;
    }
    return sum;
}

/* q4_1 · q8_1: sum(d*q + m) * y = d * dy * sum(q * qy) + m * (dy * sum(qy)), the last
 * factor being the s the q8_1 block stores. */
static float dot_q4_1(const void *w, const void *x, int64_t n)
{
    const block_q4_1 *wb = w;
    const block_q8_1 *xb = x;
    float sum = 0;
    for (int64_t b = 0; b < n / QK4_1; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK4_1 / 2; j++)
            isum += (wb[b].qs[j] & 0x0F) * xb[b].qs[j] + (wb[b].qs[j] >> 4) * xb[b].qs[j + QK4_1 / 2];
        sum += lk_f16_to_f32(wb[b].d) * lk_f16_to_f32(xb[b].d) * (float)isum +
               lk_f16_to_f32(wb[b].m) * lk_f16_to_f32(xb[b].s);
    }
    return sum;
}

/* the fifth bit of element j of a q5 block is bit j of the little-endian qh */
static uint32_t q5_high_bits(const uint8_t qh[4])
{
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

static float dot_q5_0(const void *w, const void *x, int64_t n)
{
    const block_q5_0 *wb = w;
    const block_q8_0 *xb = x;
    float sum = 0;
    for (int64_t b = 0; b < n / QK5_0; b++) {
        uint32_t qh = q5_high_bits(wb[b].qh);
        int32_t isum = 0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            int lo = ((wb[b].qs[j] & 0x0F) | ((qh >> j) & 1) << 4) - 16;
            int hi = ((wb[b].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - 16;
            isum += lo * xb[b].qs[j] + hi * xb[b].qs[j + QK5_0 / 2];
        }
        sum += lk_f16_to_f32(wb[b].d) * lk_f16_to_f32(xb[b].d) * (float)isum;
    }
    return sum;
}

static float dot_q5_1(const void *w, const void *x, int64_t n)
{
    const block_q5_1 *wb = w;
    const block_q8_1 *xb = x;
    float sum = 0;
    for (int64_t b = 0; b < n / QK5_1; b++) {
        uint32_t qh = q5_high_bits(wb[b].qh);
        int32_t isum = 0;
        for (int j = 0; j < QK5_1 / 2; j++) {
            int lo = (wb[b].qs[j] & 0x0F) | ((qh >> j) & 1) << 4;
            int hi = (wb[b].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
            isum += lo * xb[b].qs[j] + hi * xb[b].qs[j + QK5_1 / 2];
        }
        sum += lk_f16_to_f32(wb[b].d) * lk_f16_to_f32(xb[b].d) * (float)isum +
               lk_f16_to_f32(wb[b].m) * lk_f16_to_f32(xb[b].s);
    }
    return sum;
}

static float dot_q8_0(const void *w, const void *x, int64_t n)
{
    const block_q8_0 *wb = w;
    const block_q8_0 *xb = x;
    float sum = 0;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK8_0; j++)
            isum += wb[b].qs[j] * xb[b].qs[j];
        sum += lk_f16_to_f32(wb[b].d) * lk_f16_to_f32(xb[b].d) * (float)isum;
    }
    return sum;
}

/* The K-quants all end the same way: per 256-block, sum over sub-blocks of
 * scale * (integer dot of the sub-block), times d, minus dmin * sum of min * (sum of the
 * activation quants in the sub-block), which q8_K precomputes per 16 as bsums. */

/* q2_K: 16 sub-blocks of 16; element 128h + 32j + l is bits 2j..2j+1 of qs[32h + l];
 * scales[s] holds the 4-bit scale (low) and min (high) of sub-block s = element / 16. */
static float dot_q2_K(const void *w, const void *x, int64_t n)
{
    const block_q2_K *wb = w;
    const block_q8_K *xb = x;
    float sum = 0;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t scaled = 0, mins = 0;
        for (int h = 0; h < 2; h++) {
            for (int j = 0; j < 4; j++) {
                for (int half = 0; half < 2; half++) {
                    int s = 8 * h + 2 * j + half;
                    int32_t isum = 0;
                    for (int l = 16 * half; l < 16 * half + 16; l++)
                        isum += ((wb[b].qs[32 * h + l] >> (2 * j)) & 3) * xb[b].qs[128 * h + 32 * j + l];
                    scaled += (wb[b].scales[s] & 0x0F) * isum;
                    mins += (wb[b].scales[s] >> 4) * xb[b].bsums[s];
                }
            }
        }
        sum += xb[b].d * (lk_f16_to_f32(wb[b].d) * (float)scaled - lk_f16_to_f32(wb[b].dmin) * (float)mins);
    }
    return sum;
}

/* q3_K: 16 signed 6-bit scales (stored + 32): the low 4 bits of scale s are a nibble of
 * scales[s % 8] (low nibble for s < 8), the high 2 bits are bits 2(s/4).. of scales[8 + s%4]. */
static int q3_K_scale(const uint8_t scales[12], int s)
{
    int low = s < 8 ? scales[s] & 0x0F : scales[s - 8] >> 4;
    int high = (scales[8 + s % 4] >> (2 * (s / 4))) & 3;
    return (low | high << 4) - 32;
}

/* element 128h + 32j + l: 2 low bits as in q2_K, the third bit is bit 4h + j of hmask[l];
 * a clear bit subtracts 4, so quants run -4..3. */
static float dot_q3_K(const void *w, const void *x, int64_t n)
{
    const block_q3_K *wb = w;
    const block_q8_K *xb = x;
    float sum = 0;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t scaled = 0;
        for (int h = 0; h < 2; h++) {
            for (int j = 0; j < 4; j++) {
                for (int half = 0; half < 2; half++) {
                    int32_t isum = 0;
                    for (int l = 16 * half; l < 16 * half + 16; l++) {
                        int q = (wb[b].qs[32 * h + l] >> (2 * j)) & 3;
                        if (!((wb[b].hmask[l] >> (4 * h + j)) & 1))
                            q -= 4;
                        isum += q * xb[b].qs[128 * h + 32 * j + l];
                    }
                    scaled += q3_K_scale(wb[b].scales, 8 * h + 2 * j + half) * isum;
                }
            }
        }
        sum += xb[b].d * lk_f16_to_f32(wb[b].d) * (float)scaled;
    }
    return sum;
}

/* q4_K / q5_K: 8 sub-blocks of 32 with a 6-bit scale and a 6-bit min each, packed in 12
 * bytes: sub-blocks 0..3 in the low 6 bits of bytes 0..3 (scale) and 4..7 (min); 4..7 take
 * their low 4 bits from the nibbles of bytes 8..11 and their high 2 from the top bits of
 * bytes 0..7. */
static void k4_scale_min(const uint8_t q[12], int s, int *scale, int *min)
{
    if (s < 4) {
        *scale = q[s] & 63;
        *min = q[s + 4] & 63;
    } else {
        *scale = (q[s + 4] & 0x0F) | (q[s - 4] >> 6) << 4;
        *min = (q[s + 4] >> 4) | (q[s] >> 6) << 4;
    }
}

/* q4_K: sub-block 2c takes the low nibbles of qs[32c .. 32c+31], sub-block 2c+1 the high. */
static float dot_q4_K(const void *w, const void *x, int64_t n)
{
    const block_q4_K *wb = w;
    const block_q8_K *xb = x;
    float sum = 0;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t scaled = 0, mins = 0;
        for (int s = 0; s < 8; s++) {
            int scale, min, shift = 4 * (s & 1);
            k4_scale_min(wb[b].scales, s, &scale, &min);
            const uint8_t *qs = wb[b].qs + 32 * (s / 2);
            int32_t isum = 0;
            for (int l = 0; l < 32; l++)
                isum += ((qs[l] >> shift) & 0x0F) * xb[b].qs[32 * s + l];
            scaled += scale * isum;
            mins += min * (xb[b].bsums[2 * s] + xb[b].bsums[2 * s + 1]);
        }
        sum += xb[b].d * (lk_f16_to_f32(wb[b].d) * (float)scaled - lk_f16_to_f32(wb[b].dmin) * (float)mins);
    }
    return sum;
}

/* q5_K: as q4_K, plus the fifth bit of element 32s + l in bit s of qh[l]. */
static float dot_q5_K(const void *w, const void *x, int64_t n)
{
    const block_q5_K *wb = w;
    const block_q8_K *xb = x;
    float sum = 0;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t scaled = 0, mins = 0;
        for (int s = 0; s < 8; s++) {
            int scale, min, shift = 4 * (s & 1);
            k4_scale_min(wb[b].scales, s, &scale, &min);
            const uint8_t *qs = wb[b].qs + 32 * (s / 2);
            int32_t isum = 0;
            for (int l = 0; l < 32; l++) {
                int q = ((qs[l] >> shift) & 0x0F) | ((wb[b].qh[l] >> s) & 1) << 4;
                isum += q * xb[b].qs[32 * s + l];
            }
            scaled += scale * isum;
            mins += min * (xb[b].bsums[2 * s] + xb[b].bsums[2 * s + 1]);
        }
        sum += xb[b].d * (lk_f16_to_f32(wb[b].d) * (float)scaled - lk_f16_to_f32(wb[b].dmin) * (float)mins);
    }
    return sum;
}

/* q6_K: element 128h + 32k + l (k = 0..3) has its low 4 bits in ql[64h + 32(k&1) + l]
 * (low nibble for k < 2, high for k >= 2) and its high 2 bits in bits 2k.. of qh[32h + l];
 * the quant is those 6 bits - 32, scaled by the signed scales[element / 16]. */
static float dot_q6_K(const void *w, const void *x, int64_t n)
{
    const block_q6_K *wb = w;
    const block_q8_K *xb = x;
    float sum = 0;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t scaled = 0;
        for (int h = 0; h < 2; h++) {
            for (int k = 0; k < 4; k++) {
                const uint8_t *ql = wb[b].ql + 64 * h + 32 * (k & 1);
                for (int half = 0; half < 2; half++) {
                    int32_t isum = 0;
                    for (int l = 16 * half; l < 16 * half + 16; l++) {
                        int low = (ql[l] >> (4 * (k >> 1))) & 0x0F;
                        int high = (wb[b].qh[32 * h + l] >> (2 * k)) & 3;
                        isum += ((low | high << 4) - 32) * xb[b].qs[128 * h + 32 * k + l];
                    }
                    scaled += wb[b].scales[8 * h + 2 * k + half] * isum;
                }
            }
        }
        sum += xb[b].d * lk_f16_to_f32(wb[b].d) * (float)scaled;
    }
    return sum;
}

/* ---------------------------------------------------------------------------
 * Matrix products
 * ------------------------------------------------------------------------- */

/* The activation format a weight type is dotted with, and its dot product. */
typedef struct {
    uint32_t activation_type; /* T_F32: the float activations are used as they are */
    vec_dot_fn dot;
} weight_kind;

static int weight_kind_of(uint32_t type, weight_kind *k)
{
    switch (type) {
    case T_F32: *k = (weight_kind){T_F32, dot_f32}; return 1;
    case T_F16: *k = (weight_kind){T_F32, dot_f16}; return 1;
    case T_BF16: *k = (weight_kind){T_F32, dot_bf16}; return 1;
    case T_Q4_0: *k = (weight_kind){T_Q8_0, dot_q4_0}; return 1;
    case T_Q4_1: *k = (weight_kind){T_Q8_1, dot_q4_1}; return 1;
    case T_Q5_0: *k = (weight_kind){T_Q8_0, dot_q5_0}; return 1;
    case T_Q5_1: *k = (weight_kind){T_Q8_1, dot_q5_1}; return 1;
    case T_Q8_0: *k = (weight_kind){T_Q8_0, dot_q8_0}; return 1;
    case T_Q2_K: *k = (weight_kind){T_Q8_K, dot_q2_K}; return 1;
    case T_Q3_K: *k = (weight_kind){T_Q8_K, dot_q3_K}; return 1;
    case T_Q4_K: *k = (weight_kind){T_Q8_K, dot_q4_K}; return 1;
    case T_Q5_K: *k = (weight_kind){T_Q8_K, dot_q5_K}; return 1;
    case T_Q6_K: *k = (weight_kind){T_Q8_K, dot_q6_K}; return 1;
    default: return 0;
    }
}

size_t lk_scalar_matmul_work_size(uint32_t type, int64_t cols, int64_t n_tok)
{
    weight_kind k;
    if (!weight_kind_of(type, &k) || k.activation_type == T_F32 || n_tok < 1)
        return 0;
    return lk_row_bytes(k.activation_type, cols) * (size_t)n_tok;
}

/* Rows [r0, r1) for every token. Rows are taken a few kilobytes at a time and each tile is
 * dotted with every token before moving on, so with a batch of tokens the tile is read
 * from memory once and from cache n_tok - 1 times. */
static void matmul_rows(const lk_matrix *w, const weight_kind *k, const char *act,
                        size_t act_row_bytes, float *y, int64_t n_tok, int64_t r0, int64_t r1)
{
    size_t row_bytes = lk_row_bytes(w->type, w->cols);
    int64_t tile = row_bytes ? (int64_t)(16384 / row_bytes) : 1;
    if (tile < 1)
        tile = 1;
    for (int64_t rt = r0; rt < r1; rt += tile) {
        int64_t rt_end = rt + tile < r1 ? rt + tile : r1;
        for (int64_t t = 0; t < n_tok; t++) {
            const char *xt = act + (size_t)t * act_row_bytes;
            for (int64_t r = rt; r < rt_end; r++)
                y[t * w->rows + r] = k->dot((const char *)w->data + (size_t)r * w->row_stride, xt, w->cols);
        }
    }
}

/* A product shared by the threads of a pool (pool.h's row shares, a few tiles at a time). */
typedef struct scalar_job {
    const lk_matrix *w;
    weight_kind k;
    const char *act;
    size_t act_row_bytes;
    float *y;
    int64_t n_tok, piece;
    int n_shares;
    row_share shares[MAX_SHARES];
} scalar_job;

static void scalar_job_run(void *arg, int participant)
{
    scalar_job *j = arg;
    int64_t r0, r1;
    int k = 0;
    while (row_shares_next(j->shares, j->n_shares, participant % j->n_shares, j->piece, &k, &r0, &r1))
        matmul_rows(j->w, &j->k, j->act, j->act_row_bytes, j->y, j->n_tok, r0, r1);
}

void lk_scalar_matmul(const lk_matrix *w, const float *x, float *y, int64_t n_tok, void *work,
                      lk_pool *pool, int n_threads)
{
    weight_kind k;
    if (!weight_kind_of(w->type, &k) || n_tok < 1 || w->rows < 1)
        return;
    const char *act = (const char *)x;
    size_t act_row_bytes = (size_t)w->cols * sizeof(float);
    if (k.activation_type != T_F32) {
        act_row_bytes = lk_row_bytes(k.activation_type, w->cols);
        for (int64_t t = 0; t < n_tok; t++)
            lk_quantize_row(k.activation_type, x + t * w->cols, (char *)work + (size_t)t * act_row_bytes,
                            w->cols);
        act = work;
    }
    int threads = n_threads < lk_pool_threads(pool) ? n_threads : lk_pool_threads(pool);
    int n = row_shares_count(threads, w->rows);
    if (n == 1) {
        matmul_rows(w, &k, act, act_row_bytes, y, n_tok, 0, w->rows);
        return;
    }
    size_t row_bytes = lk_row_bytes(w->type, w->cols);
    scalar_job j; /* not zeroed: only the first n shares are read */
    j.w = w, j.k = k, j.act = act, j.act_row_bytes = act_row_bytes, j.y = y, j.n_tok = n_tok;
    j.piece = row_bytes && 65536 / row_bytes > 0 ? (int64_t)(65536 / row_bytes) : 1;
    j.n_shares = n;
    row_shares_init(j.shares, n, w->rows);
    lk_pool_run(pool, n, scalar_job_run, &j);
}

/* ---------------------------------------------------------------------------
 * Attention's weighted sum of value rows
 * ------------------------------------------------------------------------- */

static void accumulate_set(const lk_matrix *v, const float *a, float *out)
{
    for (int64_t r = 0; r < v->rows; r++) {
        const void *row = (const char *)v->data + (size_t)r * v->row_stride;
        float ar = a[r];
        switch (v->type) {
        case T_F32: {
            const float *f = row;
            for (int64_t c = 0; c < v->cols; c++)
                out[c] += ar * f[c];
            break;
        }
        case T_F16: {
            const uint16_t *h = row;
            for (int64_t c = 0; c < v->cols; c++)
                out[c] += ar * lk_f16_to_f32(h[c]);
            break;
        }
        case T_Q8_0: {
            const block_q8_0 *b = row;
            for (int64_t c = 0; c < v->cols; c++)
                out[c] += ar * (lk_f16_to_f32(b[c / QK8_0].d) * (float)b[c / QK8_0].qs[c % QK8_0]);
            break;
        }
        default: return;
        }
    }
}

void lk_scalar_accumulate_rows(const lk_matrix *v, const float *a, int64_t a_stride, float *out,
                               int64_t out_stride, int n_sets)
{
    for (int s = 0; s < n_sets; s++)
        accumulate_set(v, a + s * a_stride, out + s * out_stride);
}

/* ---------------------------------------------------------------------------
 * Element-wise operations
 * ------------------------------------------------------------------------- */

void lk_scalar_rmsnorm(float *out, const float *x, const float *weight, int64_t n, float eps)
{
    double sum_sq = 0; /* in double: dim is in the thousands and this runs once per token */
    for (int64_t i = 0; i < n; i++)
        sum_sq += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(sum_sq / (double)(n > 0 ? n : 1) + eps));
    for (int64_t i = 0; i < n; i++)
        out[i] = x[i] * scale * (weight ? weight[i] : 1.0f);
}

void lk_scalar_rope(float *x, int64_t n_heads, int64_t head_dim, const float *cos_sin, int neox)
{
    int64_t half = head_dim / 2;
    for (int64_t h = 0; h < n_heads; h++) {
        float *v = x + h * head_dim;
        for (int64_t i = 0; i < half; i++) {
            float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
            float *a = neox ? &v[i] : &v[2 * i];
            float *b = neox ? &v[i + half] : &v[2 * i + 1];
            float a0 = *a, b0 = *b;
            *a = a0 * c - b0 * s;
            *b = a0 * s + b0 * c;
        }
    }
}

void lk_rope_table(float *cos_sin, int64_t pos, int64_t head_dim, float base,
                   const float *freq_factors)
{
    for (int64_t i = 0; i < head_dim / 2; i++) {
        double theta = (double)pos * pow((double)base, -2.0 * (double)i / (double)head_dim);
        if (freq_factors)
            theta /= (double)freq_factors[i];
        cos_sin[2 * i] = (float)cos(theta);
        cos_sin[2 * i + 1] = (float)sin(theta);
    }
}

void lk_scalar_softmax(float *x, int64_t n, float scale)
{
    if (n < 1)
        return;
    float max = x[0];
    for (int64_t i = 1; i < n; i++)
        if (x[i] > max)
            max = x[i];
    if (max == -INFINITY) { /* everything masked: no preference, rather than NaN */
        for (int64_t i = 0; i < n; i++)
            x[i] = 1.0f / (float)n;
        return;
    }
    /* rounding is monotonic: the largest scaled score is the scaled largest score. The
     * casts round each product to float where the FPU keeps more (x87). */
    max *= scale;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf((float)(x[i] * scale) - max);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

void lk_scalar_silu_mul(float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}
