/*
 * avx2.c — the x86-64 kernels (AVX2 + FMA + F16C), tested against scalar.c.
 *
 * Operations not accelerated yet forward to the scalar oracle, so every operation exists.
 */
#include "kernels.h"

#if defined(__AVX2__) && defined(__FMA__)

size_t lk_avx2_matmul_work_size(uint32_t type, int64_t cols, int64_t n_tok)
{
    return lk_scalar_matmul_work_size(type, cols, n_tok);
}

void lk_avx2_matmul(const lk_matrix *w, const float *x, float *y, int64_t n_tok, void *work,
                    int n_threads)
{
    lk_scalar_matmul(w, x, y, n_tok, work, n_threads);
}

void lk_avx2_accumulate_rows(const lk_matrix *v, const float *a, float *out)
{
    lk_scalar_accumulate_rows(v, a, out);
}

void lk_avx2_rmsnorm(float *out, const float *x, const float *weight, int64_t n, float eps)
{
    lk_scalar_rmsnorm(out, x, weight, n, eps);
}

void lk_avx2_rope(float *x, int64_t n_heads, int64_t head_dim, const float *cos_sin, int neox)
{
    lk_scalar_rope(x, n_heads, head_dim, cos_sin, neox);
}

void lk_avx2_softmax(float *x, int64_t n)
{
    lk_scalar_softmax(x, n);
}

void lk_avx2_silu_mul(float *gate, const float *up, int64_t n)
{
    lk_scalar_silu_mul(gate, up, n);
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int lk_avx2_not_built;
#endif
