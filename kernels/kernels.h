/*
 * kernels.h — the small interface the forward pass calls.
 *
 * Three implementations stand behind it: scalar.c (portable C, the oracle, always built),
 * neon.c (ARMv8.0 NEON for the Cortex-A72) and avx2.c (AVX2 + FMA). Each defines the
 * same operations with its own prefix (lk_scalar_, lk_neon_, lk_avx2_); the choice is made
 * here, once, at compile time, and nothing outside kernels/ knows which one runs.
 * Tests call lk_scalar_* and the chosen lk_* side by side to check one against the other.
 *
 * Formats (block structs, dequantizers, reference quantizers) are in quant.h / quant.c:
 * they do not depend on the instruction set.
 *
 * Nothing here allocates: operations that need scratch memory say how much, and the
 * caller passes it in (so every byte is accounted by the caller's budget).
 */
#ifndef LK_KERNELS_H
#define LK_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"

/* ---------------------------------------------------------------------------
 * Types (types.c): what every ggml type id is, including ones we cannot run
 * ------------------------------------------------------------------------- */

typedef struct lk_type_traits {
    const char *name;     /* "q4_K" */
    uint32_t block_size;  /* elements per block */
    uint32_t block_bytes; /* bytes per block */
    int supported;        /* dequantize + matmul implemented */
} lk_type_traits;

/* NULL for an id the GGUF format does not know. */
const lk_type_traits *lk_type(uint32_t type);
/* Bytes of a row of n elements (n a multiple of the block size), 0 on unknown type. */
size_t lk_row_bytes(uint32_t type, int64_t n);

/* ---------------------------------------------------------------------------
 * Formats (quant.c)
 * ------------------------------------------------------------------------- */

float lk_f16_to_f32(uint16_t h);
uint16_t lk_f32_to_f16(float f); /* round to nearest even, as ggml does */
float lk_bf16_to_f32(uint16_t h);
uint16_t lk_f32_to_bf16(float f); /* round to nearest even; NaN stays NaN */

/* n must be a multiple of the type's block size; the type must be supported.
 * Return 0 on success, -1 on an unsupported type or bad n. */
int lk_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);
/* The reference quantizers: byte-identical to ggml's for q4_0 q4_1 q5_0 q5_1 q8_0 (and
 * the float types); the K-quants follow ggml's published search. q8_1 / q8_K are
 * activation formats and are quantized here too. */
int lk_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);

/* ---------------------------------------------------------------------------
 * Operations (scalar.c, avx2.c, neon.c)
 * ------------------------------------------------------------------------- */

/* A weight matrix of `rows` rows, each `cols` elements of `type`, row r starting at
 * data + r * row_stride bytes (row_stride >= lk_row_bytes(type, cols)). */
typedef struct lk_matrix {
    uint32_t type;
    int64_t rows;
    int64_t cols;
    size_t row_stride;
    const void *data;
} lk_matrix;

#define LK_DECLARE_OPS(isa)                                                                 \
    /* Bytes of scratch lk_matmul needs for n_tok activation rows (e.g. quantized x). */   \
    size_t lk_##isa##_matmul_work_size(uint32_t type, int64_t cols, int64_t n_tok);         \
    /* y[t * rows + r] = dot(W row r, x + t * cols), for t < n_tok and r < rows.            \
     * n_threads > 1 splits output rows over that many threads of pool (pool.h; NULL: the   \
     * calling thread alone); the result does not depend on the split. */                  \
    void lk_##isa##_matmul(const lk_matrix *w, const float *x, float *y, int64_t n_tok,     \
                           void *work, lk_pool *pool, int n_threads);                      \
    /* For each of n_sets sets s: out_s[c] += sum over r of a_s[r] * V[r][c], c < v->cols,  \
     * with a_s = a + s * a_stride and out_s = out + s * out_stride (attention's weighted   \
     * sums for the query heads that share V, which is read once for all of them). A set's \
     * floats do not depend on the others. V's type is f32, f16 or q8_0 (the KV cache's). */ \
    void lk_##isa##_accumulate_rows(const lk_matrix *v, const float *a, int64_t a_stride,   \
                                    float *out, int64_t out_stride, int n_sets);           \
    /* out = x / rms(x) * weight, n elements; out may equal x. */                           \
    void lk_##isa##_rmsnorm(float *out, const float *x, const float *weight, int64_t n,    \
                            float eps);                                                    \
    /* Rotates n_heads vectors of head_dim floats. cos_sin holds head_dim/2 (cos, sin)      \
     * pairs from lk_rope_table. neox = 0 pairs (x[2i], x[2i+1]); neox = 1 pairs            \
     * (x[i], x[i + head_dim/2]). */                                                        \
    void lk_##isa##_rope(float *x, int64_t n_heads, int64_t head_dim, const float *cos_sin, \
                         int neox);                                                        \
    /* In place: x = softmax(scale * x), numerically stable (subtracts the max); scale > 0.  \
     * The same floats as scaling first and then taking the softmax. */                     \
    void lk_##isa##_softmax(float *x, int64_t n, float scale);                              \
    /* gate[i] = silu(gate[i]) * up[i] */                                                   \
    void lk_##isa##_silu_mul(float *gate, const float *up, int64_t n);

LK_DECLARE_OPS(scalar)
#if defined(__AVX2__) && defined(__FMA__) && !defined(LATENT_FORCE_SCALAR)
LK_DECLARE_OPS(avx2)
#define LK_ISA_NAME "avx2"
#define LK_OP(name) lk_avx2_##name
#elif defined(__ARM_NEON) && (defined(__aarch64__) || (__ARM_ARCH >= 8 && defined(__ARM_FEATURE_FMA))) && \
    !defined(LATENT_FORCE_SCALAR)
/* AArch64, or ARMv8 in AArch32 with -mfpu=neon-fp-armv8 (32-bit Raspberry Pi OS) */
LK_DECLARE_OPS(neon)
#define LK_ISA_NAME "neon"
#define LK_OP(name) lk_neon_##name
#else
#define LK_ISA_NAME "scalar"
#define LK_OP(name) lk_scalar_##name
#endif

/* The operations the forward pass calls: the instruction set chosen above. */
#define lk_matmul_work_size LK_OP(matmul_work_size)
#define lk_matmul LK_OP(matmul)
#define lk_accumulate_rows LK_OP(accumulate_rows)
#define lk_rmsnorm LK_OP(rmsnorm)
#define lk_rope LK_OP(rope)
#define lk_softmax LK_OP(softmax)
#define lk_silu_mul LK_OP(silu_mul)

/* cos_sin[2i], cos_sin[2i+1] = cos, sin of pos * base^(-2i/head_dim) / factor[i], for
 * i < head_dim/2 (factors: the llama3 rope_freqs tensor, or NULL for 1). Computed in
 * double: it runs once per position, not per head. (scalar.c) */
void lk_rope_table(float *cos_sin, int64_t pos, int64_t head_dim, float base,
                   const float *freq_factors);

#endif /* LK_KERNELS_H */
