/*
 * neon.c — the aarch64 kernels (ARMv8.0-A NEON, tuned for the Cortex-A72 of a Pi 4),
 * tested against scalar.c.
 *
 * For now every operation forwards to the scalar oracle, so the aarch64 build links;
 * the NEON kernels replace these one by one.
 */
#include "kernels.h"

#if (defined(__ARM_NEON) || defined(__ARM_NEON__)) && defined(__aarch64__)

size_t lk_neon_matmul_work_size(uint32_t type, int64_t cols, int64_t n_tok)
{
    return lk_scalar_matmul_work_size(type, cols, n_tok);
}

void lk_neon_matmul(const lk_matrix *w, const float *x, float *y, int64_t n_tok, void *work,
                    int n_threads)
{
    lk_scalar_matmul(w, x, y, n_tok, work, n_threads);
}

void lk_neon_accumulate_rows(const lk_matrix *v, const float *a, float *out)
{
    lk_scalar_accumulate_rows(v, a, out);
}

void lk_neon_rmsnorm(float *out, const float *x, const float *weight, int64_t n, float eps)
{
    lk_scalar_rmsnorm(out, x, weight, n, eps);
}

void lk_neon_rope(float *x, int64_t n_heads, int64_t head_dim, const float *cos_sin, int neox)
{
    lk_scalar_rope(x, n_heads, head_dim, cos_sin, neox);
}

void lk_neon_softmax(float *x, int64_t n)
{
    lk_scalar_softmax(x, n);
}

void lk_neon_silu_mul(float *gate, const float *up, int64_t n)
{
    lk_scalar_silu_mul(gate, up, n);
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int lk_neon_not_built;
#endif
