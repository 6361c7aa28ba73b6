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

#endif /* LK_ROWS_H */
