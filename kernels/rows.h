/*
 * rows.h — what the SIMD kernel files (avx2.c, neon.c) share: a kernel that dots a range
 * of rows with up to four tokens, its instantiation for each token count, and the walk
 * over rows in tiles. Only the dot products themselves are written per instruction set.
 */
#ifndef LK_ROWS_H
#define LK_ROWS_H

#include <stdatomic.h>
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

/* The rows of one product shared by the threads of a region. Thread c starts on its own
 * contiguous share and takes it a piece at a time from the front; when it is done it takes
 * pieces from the back of the others' shares. A thread slowed by a neighbour (memory
 * bandwidth is shared) then does not leave the others waiting at the region's end, and
 * each share is still read as one stream from the front. A row is computed whole by
 * whichever thread took it, so the result does not depend on who did. A team smaller
 * than planned is fine too: the missing threads' shares are taken by the others. */
#define MAX_SHARES 64
#define SHARE_PIECE_BYTES 65536

typedef struct row_share {
    _Alignas(64) _Atomic uint64_t left; /* the rows not yet taken: first | end << 32 */
} row_share;

static inline void row_shares_init(row_share *shares, int n, int64_t rows)
{
    for (int c = 0; c < n; c++) {
        uint64_t first = (uint64_t)(rows * c / n), end = (uint64_t)(rows * (c + 1) / n);
        atomic_init(&shares[c].left, first | end << 32);
    }
}

/* Takes up to `piece` rows from the front (or the back) of what is left of a share:
 * [*r0, *r1), or 0 when nothing is left. */
static inline int row_share_take(row_share *share, int64_t piece, int from_back, int64_t *r0, int64_t *r1)
{
    uint64_t left = atomic_load_explicit(&share->left, memory_order_relaxed);
    for (;;) {
        int64_t first = (int64_t)(left & 0xFFFFFFFFu), end = (int64_t)(left >> 32);
        if (first >= end)
            return 0;
        int64_t n = end - first < piece ? end - first : piece;
        uint64_t rest = from_back ? (uint64_t)first | (uint64_t)(end - n) << 32
                                  : (uint64_t)(first + n) | (uint64_t)end << 32;
        if (atomic_compare_exchange_weak_explicit(&share->left, &left, rest, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *r0 = from_back ? end - n : first;
            *r1 = from_back ? end : first + n;
            return 1;
        }
    }
}

/* Thread c of a team of n_shares' size: its own share, then the others'. */
static inline void lk_rows_matmul_shared(const lk_matrix *w, const dot_rows_fn *dot, const char *act,
                                         size_t act_row_bytes, float *y, int64_t n_tok, row_share *shares,
                                         int n_shares, int c)
{
    size_t row_bytes = lk_row_bytes(w->type, w->cols);
    int64_t piece = row_bytes ? (int64_t)(SHARE_PIECE_BYTES / row_bytes) : 1;
    if (piece < 1)
        piece = 1;
    int64_t r0, r1;
    for (int k = 0; k < n_shares; k++) {
        row_share *share = &shares[(c + k) % n_shares];
        while (row_share_take(share, piece, k > 0, &r0, &r1))
            lk_rows_matmul(w, dot, act, act_row_bytes, y, n_tok, r0, r1);
    }
}

#endif /* LK_ROWS_H */
