/*
 * rows.h — what the SIMD kernel files (avx2.c, neon.c) share: a kernel that dots a range
 * of rows with up to four tokens, its instantiation for each token count, and the walk
 * over rows in tiles. Only the dot products themselves are written per instruction set.
 */
#ifndef LK_ROWS_H
#define LK_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "pool.h"

#define MAX_TOK 4 /* tokens dotted with one row at a time */
/* Loops over blocks, tokens and sub-blocks have fixed trip counts; GCC at -O2 keeps some
 * as loops, with their vectors spilled to the stack. */
#define UNROLL _Pragma("GCC unroll 16")

/* Rows [0, n_rows) of w (row r at w + r * row_stride) dotted with the tokens' activations
 * (token t's at x + t * x_stride): y[t * y_stride + r]. */
typedef void (*dot_rows_fn)(const char *w, size_t row_stride, int64_t n_rows, const void *x, size_t x_stride,
                            int64_t n, float *y, int64_t y_stride);

/* From kernel##_n(w, x, x_stride, n, out, nt), which dots one row with nt tokens: one
 * function per token count, so its token loops are unrolled and it is inlined into the
 * loop over rows, and kernel##_by_tokens[nt] to find them. */
#define INSTANTIATE_NT(kernel, nt)                                                           \
    static void kernel##_rows_##nt(const char *w, size_t row_stride, int64_t n_rows, const void *x, \
                                   size_t x_stride, int64_t n, float *y, int64_t y_stride)   \
    {                                                                                        \
        for (int64_t r = 0; r < n_rows; r++) {                                               \
            float out[nt];                                                                   \
            kernel##_n(w + (size_t)r * row_stride, x, x_stride, n, out, nt);                 \
            UNROLL                                                                           \
            for (int t = 0; t < nt; t++)                                                     \
                y[t * y_stride + r] = out[t];                                                \
        }                                                                                    \
    }
#define INSTANTIATE(kernel)                                                                  \
    INSTANTIATE_NT(kernel, 1)                                                                \
    INSTANTIATE_NT(kernel, 2)                                                                \
    INSTANTIATE_NT(kernel, 3)                                                                \
    INSTANTIATE_NT(kernel, 4)                                                                \
    static const dot_rows_fn kernel##_by_tokens[MAX_TOK + 1] = {0, kernel##_rows_1, kernel##_rows_2, \
                                                                kernel##_rows_3, kernel##_rows_4};

/* Rows [r0, r1) of y = W x for n_tok tokens whose activations (in the kernel's format, a
 * row of act_row_bytes each) are at act. With a batch, a tile of rows small enough to stay
 * in L1/L2 is dotted with every token, four at a time, before the next tile is read. */
static inline void lk_rows_matmul(const lk_matrix *w, const dot_rows_fn *dot, const char *act, size_t act_row_bytes,
                                  float *y, int64_t n_tok, int64_t r0, int64_t r1)
{
    size_t row_bytes = lk_row_bytes(w->type, w->cols);
    int64_t tile = n_tok == 1 ? r1 - r0 : (row_bytes ? (int64_t)(32768 / row_bytes) : 1);
    if (tile < 1)
        tile = 1;
    for (int64_t rt = r0; rt < r1; rt += tile) {
        int64_t rt_end = rt + tile < r1 ? rt + tile : r1;
        for (int64_t t = 0; t < n_tok; t += MAX_TOK) {
            int nt = n_tok - t < MAX_TOK ? (int)(n_tok - t) : MAX_TOK;
            dot[nt]((const char *)w->data + (size_t)rt * w->row_stride, w->row_stride, rt_end - rt,
                    act + (size_t)t * act_row_bytes, act_row_bytes, w->cols, y + t * w->rows + rt, w->rows);
        }
    }
}

/* A product shared by the threads of a pool: each participant takes pieces of rows
 * (pool.h's row shares) and dots them with every token. */
#define SHARE_PIECE_BYTES 65536

typedef struct rows_job {
    const lk_matrix *w;
    const dot_rows_fn *dot;
    const char *act;
    size_t act_row_bytes;
    float *y;
    int64_t n_tok;
    int64_t piece; /* rows taken at a time */
    int n_shares;
    row_share shares[MAX_SHARES];
} rows_job;

static inline void rows_job_run(void *arg, int participant)
{
    rows_job *j = arg;
    int64_t r0, r1;
    int k = 0;
    while (row_shares_next(j->shares, j->n_shares, participant % j->n_shares, j->piece, &k, &r0, &r1))
        lk_rows_matmul(j->w, j->dot, j->act, j->act_row_bytes, j->y, j->n_tok, r0, r1);
}

/* y = W x for n_tok tokens on up to n_threads threads of pool (NULL: this thread). */
static inline void lk_rows_matmul_pool(const lk_matrix *w, const dot_rows_fn *dot, const char *act,
                                       size_t act_row_bytes, float *y, int64_t n_tok, lk_pool *pool,
                                       int n_threads)
{
    int threads = n_threads < lk_pool_threads(pool) ? n_threads : lk_pool_threads(pool);
    int n = row_shares_count(threads, w->rows);
    if (n == 1) {
        lk_rows_matmul(w, dot, act, act_row_bytes, y, n_tok, 0, w->rows);
        return;
    }
    size_t row_bytes = lk_row_bytes(w->type, w->cols);
    rows_job job; /* not zeroed: only the first n shares are read */
    job.w = w, job.dot = dot, job.act = act, job.act_row_bytes = act_row_bytes, job.y = y, job.n_tok = n_tok;
    job.piece = row_bytes && SHARE_PIECE_BYTES / row_bytes > 0 ? (int64_t)(SHARE_PIECE_BYTES / row_bytes) : 1;
    job.n_shares = n;
    row_shares_init(job.shares, n, w->rows);
    lk_pool_run(pool, n, rows_job_run, &job);
}

#endif /* LK_ROWS_H */
