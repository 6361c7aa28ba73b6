/*
 * test_kernels.c — the chosen instruction set's kernels (lk_matmul etc.: AVX2 on x86,
 * NEON on aarch64, scalar with SCALAR=1) against the scalar oracle in the same binary.
 *
 * Matrix products, for every weight type, on random blocks, on real weights (the probe
 * GGUFs in ../shared/vectors/quant) and on edges: zero blocks, the largest scales and the
 * extreme quants that push the integer lanes to their bounds, negative zero, rows of one
 * block and of many (with a partial group of four blocks at the end), 1..9 tokens so the
 * four-token tiles and their tails run, row strides wider than a row, 1 and 3 threads.
 *
 * Tolerance: both sides take the same quantized activations, so they differ only in the
 * order and fusion of float roundings. With S = sum over the row of |w_j| * |x_j| (w the
 * dequantized weight, split into its scale and min parts where a format has both, x the
 * quantized activation bounded by |x_j| + amax / 127), a sum of n terms rounded in any
 * order is within about n * eps * S of the exact one: we allow (2 * terms + 8) * FLT_EPSILON
 * * S, terms being the row's blocks (elements for float weights).
 *
 * Exact properties checked bit for bit: a batch of tokens gives each token's row exactly
 * as the token alone does, and 3 threads give what 1 thread gives.
 * Elementwise operations are checked against direct double-precision computations.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "kernels.h"
#include "latent.h"
#include "quant.h"
#include "rows.h"

/* ---------------------------------------------------------------------------
 * Deterministic random numbers (xorshift64*)
 * ------------------------------------------------------------------------- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd32(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 0x2545F4914F6CDD1Dull) >> 32);
}

static float rnd_normal(void)
{
    double u1 = ((double)rnd32() + 1.0) / 4294967297.0, u2 = (double)rnd32() / 4294967296.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* ---------------------------------------------------------------------------
 * Weight formats as the test sees them: where the f16 scales sit in a block
 * ------------------------------------------------------------------------- */

typedef struct {
    uint32_t type;
    const char *name;
    int d_off;   /* byte offset of the f16 scale d in a block (-1: float type) */
    int min_off; /* byte offset of the f16 min / dmin (-1: none) */
} wtype;

static const wtype TYPES[] = {
    {T_F32, "f32", -1, -1},   {T_F16, "f16", -1, -1},   {T_BF16, "bf16", -1, -1},
    {T_Q4_0, "q4_0", 0, -1},  {T_Q4_1, "q4_1", 0, 2},   {T_Q5_0, "q5_0", 0, -1},
    {T_Q5_1, "q5_1", 0, 2},   {T_Q8_0, "q8_0", 0, -1},  {T_Q2_K, "q2_K", 80, 82},
    {T_Q3_K, "q3_K", 108, -1}, {T_Q4_K, "q4_K", 0, 2},  {T_Q5_K, "q5_K", 0, 2},
    {T_Q6_K, "q6_K", 208, -1},
};
#define N_TYPES (int)(sizeof TYPES / sizeof TYPES[0])

static uint32_t block_size(uint32_t type) { return lk_type(type)->block_size; }
static uint32_t block_bytes(uint32_t type) { return lk_type(type)->block_bytes; }

static void put_half(uint8_t *p, uint16_t h) { memcpy(p, &h, 2); }

/* How a test row's weights are made. */
enum wmode {
    W_RANDOM_BYTES, /* every bit random, scales set to sane random halves */
    W_QUANTIZED,    /* random normal floats through the reference quantizer */
    W_ZERO,         /* all bytes zero */
    W_ALL_ONES,     /* quant bytes 0xFF (largest quants), largest scales */
    W_ALL_ZERO_Q,   /* quant bytes 0x00 (most negative quants in offset formats), largest scales */
    W_0x80,         /* quant bytes 0x80 (q8_0's -128), largest scales */
    W_NEG_ZERO,     /* scales -0 (f16 0x8000); float weights -0.0 */
    W_NMODES
};
static const char *WMODE_NAME[] = {"random bytes", "quantized", "zero", "all-ones quants",
                                   "zero quants", "0x80 quants", "negative zero"};

static uint16_t random_scale(void)
{
    /* magnitudes from 2^-14 to 2, either sign: the range real files hold */
    float v = ldexpf(0.5f + 0.5f * (float)(rnd32() % 1024) / 1024.0f, -(int)(rnd32() % 15) + 1);
    return lk_f32_to_f16(rnd32() & 1 ? -v : v);
}

/* One row of `cols` elements of `type` at dst, made as `mode` says. */
static void make_row(const wtype *t, enum wmode mode, uint8_t *dst, int64_t cols)
{
    size_t bytes = lk_row_bytes(t->type, cols);
    if (t->d_off < 0) { /* float weights */
        for (int64_t i = 0; i < cols; i++) {
            float v = mode == W_ZERO ? 0.0f : mode == W_NEG_ZERO ? -0.0f : rnd_normal();
            if (mode == W_ALL_ONES || mode == W_ALL_ZERO_Q || mode == W_0x80)
                v = (i & 1 ? -1.0f : 1.0f) * 60000.0f;
            if (t->type == T_F32)
                memcpy(dst + 4 * i, &v, 4);
            else
                put_half(dst + 2 * i, t->type == T_F16 ? lk_f32_to_f16(v) : lk_f32_to_bf16(v));
        }
        return;
    }
    size_t bb = block_bytes(t->type), nb = bytes / bb;
    switch (mode) {
    case W_QUANTIZED: {
        float *f = malloc((size_t)cols * sizeof *f);
        float scale = ldexpf(1.0f, (int)(rnd32() % 8) - 4);
        for (int64_t i = 0; i < cols; i++)
            f[i] = rnd_normal() * scale;
        CHECK(lk_quantize_row(t->type, f, dst, cols) == 0, "quantize %s", t->name);
        free(f);
        return;
    }
    case W_ZERO: memset(dst, 0, bytes); return;
    case W_RANDOM_BYTES:
    case W_NEG_ZERO:
        for (size_t i = 0; i < bytes; i++)
            dst[i] = (uint8_t)rnd32();
        break;
    case W_ALL_ONES: memset(dst, 0xFF, bytes); break;
    case W_ALL_ZERO_Q: memset(dst, 0x00, bytes); break;
    case W_0x80: memset(dst, 0x80, bytes); break;
    default: break;
    }
    for (size_t b = 0; b < nb; b++) {
        uint8_t *blk = dst + b * bb;
        uint16_t d, m;
        if (mode == W_RANDOM_BYTES) {
            d = random_scale();
            m = random_scale();
        } else if (mode == W_NEG_ZERO) {
            d = m = 0x8000;
        } else { /* largest scales: 65504 for the 32-blocks, 2^8 where K-quant scales multiply */
            d = lk_f32_to_f16(t->min_off >= 0 && bb > 34 ? 256.0f : 65504.0f);
            m = lk_f32_to_f16(t->min_off >= 0 && bb > 34 ? 256.0f : -65504.0f);
        }
        put_half(blk + t->d_off, d);
        if (t->min_off >= 0)
            put_half(blk + t->min_off, m);
    }
}

/* How a test's activations are made. */
enum amode { A_NORMAL, A_PLUS, A_MINUS, A_ALTERNATE, A_SPARSE, A_TIES, A_NMODES };
static const char *AMODE_NAME[] = {"normal", "all +", "all -", "alternating", "sparse with -0", "rounding ties"};

static void make_activations(enum amode mode, float *x, int64_t n)
{
    float scale = ldexpf(1.0f, (int)(rnd32() % 10) - 5);
    for (int64_t i = 0; i < n; i++) {
        switch (mode) {
        case A_NORMAL: x[i] = rnd_normal() * scale; break;
        case A_PLUS: x[i] = scale; break;
        case A_MINUS: x[i] = -scale; break;
        case A_ALTERNATE: x[i] = (i & 1) ? -scale : scale; break;
        case A_SPARSE: x[i] = rnd32() % 4 == 0 ? rnd_normal() * scale : (rnd32() & 1 ? -0.0f : 0.0f); break;
        default:
            /* every block's scale exactly 1 (-127 leads each block of 32), the rest k + 0.5:
             * q8_0 rounds these ties away from zero, q8_K to even, and both sides must agree */
            x[i] = i % 32 == 0 ? -127.0f : (float)((int)(rnd32() % 253) - 126) + 0.5f;
            break;
        }
    }
}

/* ---------------------------------------------------------------------------
 * The error bound of one output: S = sum |w_j| |x_j| (see the top of the file)
 * ------------------------------------------------------------------------- */

/* |w_j| of one row, split into |scale part| + |min part| where a format has both (they
 * are summed apart, so rounding follows their sizes, not their difference). */
static void row_abs_weights(const wtype *t, const uint8_t *row, int64_t cols, float *out)
{
    float *w2 = malloc((size_t)cols * sizeof *w2);
    size_t bytes = lk_row_bytes(t->type, cols);
    if (t->min_off >= 0) {
        size_t bb = block_bytes(t->type);
        uint8_t *copy = malloc(bytes);
        memcpy(copy, row, bytes);
        for (size_t b = 0; b < bytes / bb; b++)
            put_half(copy + b * bb + t->min_off, 0);
        lk_dequantize_row(t->type, copy, out, cols);
        memcpy(copy, row, bytes);
        for (size_t b = 0; b < bytes / bb; b++)
            put_half(copy + b * bb + t->d_off, 0);
        lk_dequantize_row(t->type, copy, w2, cols);
        free(copy);
    } else {
        lk_dequantize_row(t->type, row, out, cols);
        memset(w2, 0, (size_t)cols * sizeof *w2);
    }
    for (int64_t j = 0; j < cols; j++)
        out[j] = fabsf(out[j]) + fabsf(w2[j]);
    free(w2);
}

/* S = sum |w_j| * |x_j|, x_j bounded by its quantized value: |x_j| * 1.01 + amax / 127 over
 * the 256 elements around it (which covers both 32- and 256-element activation blocks). */
static double row_magnitude(const wtype *t, const float *absw, const float *x, int64_t cols)
{
    double s = 0;
    for (int64_t j0 = 0; j0 < cols; j0 += 256) {
        int64_t j1 = j0 + 256 < cols ? j0 + 256 : cols;
        double amax = 0;
        for (int64_t j = j0; j < j1; j++)
            amax = fmax(amax, fabs(x[j]));
        for (int64_t j = j0; j < j1; j++) {
            double xq = t->d_off < 0 ? fabs(x[j]) : fabs(x[j]) * 1.01 + amax / 127.0;
            s += absw[j] * xq;
        }
    }
    return s;
}

/* ---------------------------------------------------------------------------
 * Matrix products: the chosen kernels against the oracle
 * ------------------------------------------------------------------------- */

#define MAX_NTOK 9

/* three threads (pool.h) for the products that must not depend on the split */
static lk_pool *g_pool;

typedef struct {
    double worst; /* largest |simd - scalar| / tolerance seen */
    int compared;
} stats;

/* Runs one weight matrix against MAX_NTOK tokens and checks everything the file header
 * promises. */
static void check_matrix(const wtype *t, const lk_matrix *w, const float *x, const char *what,
                         stats *st)
{
    int64_t rows = w->rows, cols = w->cols;
    size_t ws = lk_matmul_work_size(t->type, cols, MAX_NTOK);
    size_t ws_ref = lk_scalar_matmul_work_size(t->type, cols, MAX_NTOK);
    void *work = malloc(ws + 64), *work_ref = malloc(ws_ref + 64);
    float *y = malloc((size_t)(rows * MAX_NTOK) * sizeof *y);
    float *y_ref = malloc((size_t)(rows * MAX_NTOK) * sizeof *y_ref);
    float *y_one = malloc((size_t)rows * sizeof *y_one);
    float *y_alone = malloc((size_t)(rows * MAX_NTOK) * sizeof *y_alone);
    lk_matmul(w, x, y, MAX_NTOK, work, NULL, 1);
    lk_scalar_matmul(w, x, y_ref, MAX_NTOK, work_ref, NULL, 1);

    int64_t nb = cols / block_size(t->type);
    double terms = t->d_off < 0 ? (double)cols : (double)nb;
    float *absw = malloc((size_t)(rows * cols) * sizeof *absw);
    for (int64_t r = 0; r < rows; r++)
        row_abs_weights(t, (const uint8_t *)w->data + (size_t)r * w->row_stride, cols, absw + r * cols);
    int bad = 0;
    for (int64_t tok = 0; tok < MAX_NTOK && bad < 3; tok++) {
        for (int64_t r = 0; r < rows && bad < 3; r++) {
            double s = row_magnitude(t, absw + r * cols, x + tok * cols, cols);
            double tol = (2 * terms + 8) * FLT_EPSILON * s + 1e-30;
            float a = y[tok * rows + r], b = y_ref[tok * rows + r];
            double err = fabs((double)a - (double)b);
            int ok = (isnan(a) && isnan(b)) || err <= tol;
            if (!ok)
                bad++;
            CHECK(ok, "%s %s cols %lld, %s: token %lld row %lld: %s %.9g vs scalar %.9g (err %.3g, tol %.3g)",
                  LK_ISA_NAME, t->name, (long long)cols, what, (long long)tok, (long long)r, LK_ISA_NAME,
                  a, b, err, tol);
            if (tol > 0 && err / tol > st->worst)
                st->worst = err / tol;
            st->compared++;
        }
    }
    /* each token alone, then every batch size 1..9: bit for bit the same rows */
    for (int64_t tok = 0; tok < MAX_NTOK; tok++) {
        lk_matmul(w, x + tok * cols, y_one, 1, work, NULL, 1);
        memcpy(y_alone + tok * rows, y_one, (size_t)rows * sizeof *y_one);
    }
    CHECK(memcmp(y_alone, y, (size_t)(rows * MAX_NTOK) * sizeof *y) == 0,
          "%s %s cols %lld, %s: 9 tokens at once differ from one at a time", LK_ISA_NAME, t->name,
          (long long)cols, what);
    for (int nt = 2; nt < MAX_NTOK; nt++) {
        lk_matmul(w, x, y, nt, work, NULL, 1);
        CHECK(memcmp(y_alone, y, (size_t)(rows * nt) * sizeof *y) == 0,
              "%s %s cols %lld, %s: a batch of %d differs from one token at a time", LK_ISA_NAME, t->name,
              (long long)cols, what, nt);
    }
    /* three threads: the same bits */
    lk_matmul(w, x, y, MAX_NTOK, work, g_pool, 3);
    CHECK(memcmp(y_alone, y, (size_t)(rows * MAX_NTOK) * sizeof *y) == 0,
          "%s %s cols %lld, %s: 3 threads differ from 1", LK_ISA_NAME, t->name, (long long)cols, what);
    lk_scalar_matmul(w, x, y, MAX_NTOK, work_ref, g_pool, 3);
    CHECK(memcmp(y_ref, y, (size_t)(rows * MAX_NTOK) * sizeof *y) == 0,
          "scalar %s cols %lld, %s: 3 threads differ from 1", t->name, (long long)cols, what);
    free(absw);
    free(work);
    free(work_ref);
    free(y);
    free(y_ref);
    free(y_one);
    free(y_alone);
}

static void test_matmul_type(const wtype *t)
{
    /* rows of one block, partial groups of four alone (1, 2, 3) and after full ones (6 =
     * 4 + 2, 11 = 8 + 3), and many */
    static const int64_t small_blocks[] = {1, 2, 3, 6, 11, 64};
    static const int64_t k_blocks[] = {1, 2, 3, 5};
    static const int64_t float_cols[] = {1, 3, 4, 7, 16, 33, 64, 100, 1000};
    const int64_t *lens;
    int n_lens;
    int64_t unit = 1;
    if (t->d_off < 0) {
        lens = float_cols;
        n_lens = (int)(sizeof float_cols / sizeof float_cols[0]);
    } else if (block_size(t->type) == 32) {
        lens = small_blocks;
        n_lens = (int)(sizeof small_blocks / sizeof small_blocks[0]);
        unit = 32;
    } else {
        lens = k_blocks;
        n_lens = (int)(sizeof k_blocks / sizeof k_blocks[0]);
        unit = 256;
    }
    stats st = {0, 0};
    for (int li = 0; li < n_lens; li++) {
        int64_t cols = lens[li] * unit, rows = 7;
        size_t row_bytes = lk_row_bytes(t->type, cols), stride = row_bytes + 32;
        uint8_t *data = malloc(stride * (size_t)rows);
        float *x = malloc((size_t)(cols * MAX_NTOK) * sizeof *x);
        for (int wm = 0; wm < W_NMODES; wm++) {
            if (wm == W_QUANTIZED && t->d_off < 0)
                continue;
            for (int64_t r = 0; r < rows; r++) {
                /* mostly the mode, with a zero row and a random row mixed in */
                enum wmode m = r == 3 ? W_ZERO : r == 5 ? W_RANDOM_BYTES : (enum wmode)wm;
                make_row(t, m, data + (size_t)r * stride, cols);
                memset(data + (size_t)r * stride + row_bytes, 0xA5, stride - row_bytes);
            }
            for (int am = 0; am < A_NMODES; am++) {
                if (wm != W_RANDOM_BYTES && wm != W_QUANTIZED && am != A_NORMAL && am != A_PLUS &&
                    am != A_MINUS)
                    continue;
                if (am == A_TIES && (wm != W_RANDOM_BYTES || t->d_off < 0))
                    continue;
                for (int tok = 0; tok < MAX_NTOK; tok++) /* one token of another mode */
                    make_activations(tok == 4 ? A_NORMAL : (enum amode)am, x + tok * cols, cols);
                lk_matrix w = {t->type, rows, cols, stride, data};
                char what[96];
                snprintf(what, sizeof what, "%s weights, %s activations", WMODE_NAME[wm], AMODE_NAME[am]);
                check_matrix(t, &w, x, what, &st);
            }
        }
        free(data);
        free(x);
    }
    /* more rows than a tile of rows holds, so batches cross tiles */
    {
        int64_t cols = unit == 1 ? 64 : unit * 2, rows = (int64_t)(70000 / lk_row_bytes(t->type, cols)) + 3;
        size_t stride = lk_row_bytes(t->type, cols);
        uint8_t *data = malloc(stride * (size_t)rows);
        float *x = malloc((size_t)(cols * MAX_NTOK) * sizeof *x);
        for (int64_t r = 0; r < rows; r++)
            make_row(t, t->d_off < 0 ? W_RANDOM_BYTES : W_QUANTIZED, data + (size_t)r * stride, cols);
        make_activations(A_NORMAL, x, cols * MAX_NTOK);
        lk_matrix w = {t->type, rows, cols, stride, data};
        check_matrix(t, &w, x, "many rows", &st);
        free(data);
        free(x);
    }
    printf("%-5s %s vs scalar: %d outputs, worst error %.3g of the tolerance\n", t->name, LK_ISA_NAME,
           st.compared, st.worst);
}

/* Real weights: every 2-D tensor of the probe files (zero rows, outlier columns, one-signed
 * rows), against the oracle and against a double-precision dot with the dequantized row. */
static void test_probe_files(void)
{
    static const char *files[] = {"Q2_K", "Q3_K", "Q4_0", "Q4_1", "Q4_K", "Q5_0",
                                  "Q5_1", "Q5_K", "Q6_K", "Q8_0", "f16"};
    for (size_t fi = 0; fi < sizeof files / sizeof files[0]; fi++) {
        char rel[64];
        snprintf(rel, sizeof rel, "vectors/quant/probe-%s.gguf", files[fi]);
        const char *path = test_data_path(rel);
        if (!path)
            continue;
        latent_gguf *g = NULL;
        if (latent_gguf_open(path, &g) != LATENT_OK) {
            CHECK(0, "%s: %s", path, latent_last_error());
            continue;
        }
        stats st = {0, 0};
        int tensors = 0;
        for (int64_t i = 0; i < latent_gguf_n_tensors(g); i++) {
            const latent_gguf_tensor *tt = latent_gguf_tensor_at(g, i);
            if (tt->n_dims != 2 || tt->type == T_F32)
                continue;
            const wtype *t = NULL;
            for (int k = 0; k < N_TYPES; k++)
                if (TYPES[k].type == tt->type)
                    t = &TYPES[k];
            if (!t)
                continue;
            int64_t cols = (int64_t)tt->ne[0], rows = (int64_t)tt->ne[1];
            if (rows > 32)
                rows = 32; /* enough rows to see every pattern, quick under qemu */
            lk_matrix w = {tt->type, rows, cols, lk_row_bytes(tt->type, cols), tt->data};
            float *x = malloc((size_t)(cols * MAX_NTOK) * sizeof *x);
            make_activations(A_NORMAL, x, cols * MAX_NTOK);
            check_matrix(t, &w, x, tt->name, &st);
            /* the oracle itself against a double-precision dot of the dequantized row, with
             * the activations' own quantization error allowed for */
            float *deq = malloc((size_t)cols * sizeof *deq), y[32];
            void *work = malloc(lk_scalar_matmul_work_size(tt->type, cols, 1) + 64);
            lk_scalar_matmul(&w, x, y, 1, work, NULL, 1);
            int bad = 0;
            for (int64_t r = 0; r < rows && bad < 3; r++) {
                lk_dequantize_row(tt->type, (const uint8_t *)tt->data + (size_t)r * w.row_stride, deq, cols);
                double exact = 0, mag = 0;
                for (int64_t j = 0; j < cols; j++) {
                    exact += (double)deq[j] * x[j];
                    mag += fabs((double)deq[j] * x[j]);
                }
                /* q8 activations: each element off by at most amax/254 (and f16 scale
                 * rounding): a relative error of the order of 1%; 5% of S is generous yet
                 * catches a wrong block, sign or scale */
                double tol = t->d_off < 0 ? 1e-5 * mag + 1e-30 : 0.05 * mag + 1e-30;
                int ok = fabs(y[r] - exact) <= tol;
                bad += !ok;
                CHECK(ok, "%s %s row %lld: scalar %.9g vs double %.9g (tol %.3g)", rel, tt->name, (long long)r,
                      y[r], exact, tol);
            }
            free(deq);
            free(work);
            free(x);
            tensors++;
        }
        CHECK(tensors > 0, "%s: no 2-D tensors", rel);
        printf("%s: %d tensors, %s vs scalar worst error %.3g of the tolerance\n", rel, tensors, LK_ISA_NAME,
               st.worst);
        latent_gguf_free(g);
    }
}

/* ---------------------------------------------------------------------------
 * accumulate_rows (the KV cache types)
 * ------------------------------------------------------------------------- */

/* n_sets weighted sums of the same rows (the query heads sharing a kv head), the weights
 * and sums of set s at a + s * A_STRIDE and out + s * OUT_STRIDE: each set within rounding
 * of double precision, the scalar oracle likewise, and each set's floats those of the set
 * computed alone. */
#define ACC_A_STRIDE 19
#define ACC_OUT_STRIDE 171
static void test_accumulate_rows(void)
{
    static const uint32_t types[] = {T_F32, T_F16, T_Q8_0};
    static const int64_t cols_list[] = {1, 5, 32, 64, 100, 128, 160};
    static const int sets_list[] = {1, 2, 3, 4, 5, 7, 8};
    for (size_t ti = 0; ti < 3; ti++) {
        const wtype *t = NULL;
        for (int k = 0; k < N_TYPES; k++)
            if (TYPES[k].type == types[ti])
                t = &TYPES[k];
        for (size_t ci = 0; ci < sizeof cols_list / sizeof cols_list[0]; ci++) {
            int64_t cols = cols_list[ci], rows = 13;
            int ns = sets_list[(ti + ci) % (sizeof sets_list / sizeof sets_list[0])];
            if (t->type == T_Q8_0 && cols % 32)
                continue;
            size_t stride = lk_row_bytes(t->type, cols) + 8, n_out = (size_t)ns * ACC_OUT_STRIDE;
            uint8_t *data = malloc(stride * (size_t)rows);
            float *a = malloc((size_t)ns * ACC_A_STRIDE * sizeof *a), *out = malloc(n_out * sizeof *out);
            float *out_ref = malloc(n_out * sizeof *out), *alone = malloc(n_out * sizeof *out);
            float *deq = malloc((size_t)cols * sizeof *deq);
            double *exact = malloc(n_out * sizeof *exact), *mag = malloc(n_out * sizeof *mag);
            for (int64_t r = 0; r < rows; r++)
                make_row(t, r == 2 ? W_ZERO : r == 4 ? W_NEG_ZERO : t->d_off < 0 ? W_RANDOM_BYTES : W_QUANTIZED,
                         data + (size_t)r * stride, cols);
            for (int64_t i = 0; i < ns * ACC_A_STRIDE; i++)
                a[i] = fabsf(rnd_normal());
            for (size_t i = 0; i < n_out; i++) {
                out[i] = out_ref[i] = alone[i] = rnd_normal(); /* between sets too: must stay */
                exact[i] = out[i];
                mag[i] = fabs(out[i]);
            }
            for (int64_t r = 0; r < rows; r++) {
                lk_dequantize_row(t->type, data + (size_t)r * stride, deq, cols);
                for (int s = 0; s < ns; s++)
                    for (int64_t c = 0; c < cols; c++) {
                        double term = (double)a[s * ACC_A_STRIDE + r] * deq[c];
                        exact[s * ACC_OUT_STRIDE + c] += term;
                        mag[s * ACC_OUT_STRIDE + c] += fabs(term);
                    }
            }
            lk_matrix v = {t->type, rows, cols, stride, data};
            lk_accumulate_rows(&v, a, ACC_A_STRIDE, out, ACC_OUT_STRIDE, ns);
            lk_scalar_accumulate_rows(&v, a, ACC_A_STRIDE, out_ref, ACC_OUT_STRIDE, ns);
            for (int s = 0; s < ns; s++)
                lk_accumulate_rows(&v, a + s * ACC_A_STRIDE, 0, alone + s * ACC_OUT_STRIDE, 0, 1);
            int bad = 0;
            for (size_t i = 0; i < n_out && bad < 3; i++) {
                double tol = (rows + 4) * 2 * FLT_EPSILON * mag[i];
                int ok = fabs(out[i] - exact[i]) <= tol && fabs(out_ref[i] - exact[i]) <= tol &&
                         memcmp(&out[i], &alone[i], sizeof *out) == 0;
                bad += !ok;
                CHECK(ok, "accumulate_rows %s cols %lld, %d sets, [%zu]: %s %.9g (alone %.9g), scalar %.9g, double %.9g",
                      t->name, (long long)cols, ns, i, LK_ISA_NAME, out[i], alone[i], out_ref[i], exact[i]);
            }
            free(data);
            free(a);
            free(out);
            free(out_ref);
            free(alone);
            free(deq);
            free(exact);
            free(mag);
        }
    }
}

/* ---------------------------------------------------------------------------
 * Element-wise operations against double precision
 * ------------------------------------------------------------------------- */

static void test_rmsnorm(void)
{
    static const int64_t lens[] = {1, 3, 4, 7, 64, 257, 2048};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int64_t n = lens[li];
        float *x = malloc((size_t)n * sizeof *x), *wt = malloc((size_t)n * sizeof *wt);
        float *out = malloc((size_t)n * sizeof *out);
        for (int64_t i = 0; i < n; i++) {
            x[i] = rnd_normal() * 3;
            wt[i] = rnd_normal();
        }
        for (int use_w = 0; use_w < 2; use_w++) {
            double ss = 0;
            for (int64_t i = 0; i < n; i++)
                ss += (double)x[i] * x[i];
            double scale = 1.0 / sqrt(ss / (double)n + 1e-5);
            lk_rmsnorm(out, x, use_w ? wt : NULL, n, 1e-5f);
            int bad = 0;
            for (int64_t i = 0; i < n && bad < 3; i++) {
                double exact = x[i] * scale * (use_w ? wt[i] : 1.0);
                int ok = fabs(out[i] - exact) <= 4 * FLT_EPSILON * fabs(exact) + 1e-30;
                bad += !ok;
                CHECK(ok, "rmsnorm n %lld [%lld]: %.9g vs double %.9g", (long long)n, (long long)i, out[i], exact);
            }
        }
        /* in place */
        memcpy(out, x, (size_t)n * sizeof *x);
        lk_rmsnorm(out, out, wt, n, 1e-5f);
        float *out2 = malloc((size_t)n * sizeof *out2);
        lk_rmsnorm(out2, x, wt, n, 1e-5f);
        CHECK(memcmp(out, out2, (size_t)n * sizeof *out) == 0, "rmsnorm n %lld in place differs", (long long)n);
        free(out2);
        free(x);
        free(wt);
        free(out);
    }
}

static void test_rope(void)
{
    static const int64_t dims[] = {2, 6, 8, 12, 64, 128};
    static const int64_t positions[] = {0, 1, 17, 1000, 100000};
    float factors[64];
    for (int i = 0; i < 64; i++)
        factors[i] = 1.0f + (float)i / 4.0f;
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        int64_t hd = dims[di], n_heads = 3, half = hd / 2;
        float *x = malloc((size_t)(hd * n_heads) * sizeof *x), *v = malloc((size_t)(hd * n_heads) * sizeof *v);
        float *cs = malloc((size_t)hd * sizeof *cs);
        for (size_t pi = 0; pi < sizeof positions / sizeof positions[0]; pi++) {
            for (int neox = 0; neox < 2; neox++) {
                for (int use_f = 0; use_f < 2; use_f++) {
                    int64_t pos = positions[pi];
                    float base = 10000.0f;
                    for (int64_t i = 0; i < hd * n_heads; i++)
                        x[i] = v[i] = rnd_normal();
                    lk_rope_table(cs, pos, hd, base, use_f ? factors : NULL);
                    for (int impl = 0; impl < 2; impl++) {
                        memcpy(v, x, (size_t)(hd * n_heads) * sizeof *x);
                        if (impl)
                            lk_scalar_rope(v, n_heads, hd, cs, neox);
                        else
                            lk_rope(v, n_heads, hd, cs, neox);
                        int bad = 0;
                        for (int64_t h = 0; h < n_heads; h++) {
                            for (int64_t i = 0; i < half && bad < 3; i++) {
                                double theta = (double)pos * pow((double)base, -2.0 * (double)i / (double)hd);
                                if (use_f)
                                    theta /= factors[i];
                                int64_t ia = h * hd + (neox ? i : 2 * i), ib = h * hd + (neox ? i + half : 2 * i + 1);
                                double a = x[ia], b = x[ib];
                                double ea = a * cos(theta) - b * sin(theta), eb = a * sin(theta) + b * cos(theta);
                                double tol = 4 * FLT_EPSILON * (fabs(a) + fabs(b)) + 1e-30;
                                int ok = fabs(v[ia] - ea) <= tol && fabs(v[ib] - eb) <= tol;
                                bad += !ok;
                                CHECK(ok, "rope %s dim %lld pos %lld neox %d factors %d head %lld pair %lld: (%.9g, %.9g) vs double (%.9g, %.9g)",
                                      impl ? "scalar" : LK_ISA_NAME, (long long)hd, (long long)pos, neox, use_f,
                                      (long long)h, (long long)i, v[ia], v[ib], ea, eb);
                            }
                        }
                    }
                }
            }
        }
        free(x);
        free(v);
        free(cs);
    }
}

static void test_softmax(void)
{
    static const int64_t lens[] = {1, 2, 3, 4, 7, 8, 33, 1000, 4133};
    static const float scales[] = {1.0f, 0.125f, 0.0883883476f};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int64_t n = lens[li];
        float *x = malloc((size_t)n * sizeof *x), *p = malloc((size_t)n * sizeof *p);
        float *pre = malloc((size_t)n * sizeof *pre);
        for (int masked = 0; masked < 2; masked++) {
            float scale = scales[(li + (size_t)masked) % 3];
            for (int64_t i = 0; i < n; i++)
                x[i] = rnd_normal() * 8 / scale;
            if (masked) /* attention's causal mask: -inf beyond the position, and big gaps */
                for (int64_t i = n / 2 + 1; i < n; i++)
                    x[i] = i % 3 ? -INFINITY : x[i] - 200 / scale;
            x[rnd32() % (uint32_t)n] += 30 / scale; /* the largest score anywhere, not only first */
            memcpy(p, x, (size_t)n * sizeof *x);
            lk_softmax(p, n, scale);
            double max = -INFINITY, sum = 0, total = 0;
            for (int64_t i = 0; i < n; i++)
                max = fmax(max, (double)(x[i] * scale));
            for (int64_t i = 0; i < n; i++)
                sum += exp((double)(x[i] * scale) - max);
            int bad = 0;
            for (int64_t i = 0; i < n && bad < 3; i++) {
                double exact = exp((double)(x[i] * scale) - max) / sum;
                int ok = fabs(p[i] - exact) <= 4e-6 * exact + 1e-37 && (x[i] != -INFINITY || p[i] == 0);
                bad += !ok;
                CHECK(ok, "softmax n %lld masked %d scale %g [%lld]: %.9g vs double %.9g", (long long)n, masked,
                      scale, (long long)i, p[i], exact);
                total += p[i];
            }
            CHECK(fabs(total - 1) <= (n + 4) * FLT_EPSILON, "softmax n %lld masked %d: sums to %.9g", (long long)n,
                  masked, total);
            /* the scale folded in gives the floats of scaling first (attention's results do
             * not depend on where the multiply happens) */
            for (int64_t i = 0; i < n; i++)
                pre[i] = x[i] * scale;
            lk_softmax(pre, n, 1.0f);
            CHECK(memcmp(pre, p, (size_t)n * sizeof *p) == 0, "softmax n %lld scale %g differs from scaling first",
                  (long long)n, scale);
            memcpy(pre, x, (size_t)n * sizeof *x);
            lk_scalar_softmax(pre, n, scale);
            int near = 1;
            for (int64_t i = 0; i < n; i++)
                near &= fabsf(pre[i] - p[i]) <= 4e-6f * pre[i] + 1e-37f;
            CHECK(near, "softmax n %lld scale %g: %s and scalar differ", (long long)n, scale, LK_ISA_NAME);
        }
        /* everything masked: uniform, not NaN */
        for (int64_t i = 0; i < n; i++)
            p[i] = -INFINITY;
        lk_softmax(p, n, 0.125f);
        int uniform = 1;
        for (int64_t i = 0; i < n; i++)
            uniform &= p[i] == (float)(1.0f / (float)n); /* rounded: on x87 the quotient is long double */
        CHECK(uniform, "softmax n %lld of -inf is not uniform", (long long)n);
        free(x);
        free(p);
        free(pre);
    }
}

static void test_silu_mul(void)
{
    static const int64_t lens[] = {1, 4, 5, 64, 1001};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        int64_t n = lens[li];
        float *g = malloc((size_t)n * sizeof *g), *u = malloc((size_t)n * sizeof *u), *out = malloc((size_t)n * sizeof *out);
        for (int64_t i = 0; i < n; i++) {
            g[i] = rnd_normal() * (i % 7 == 0 ? 40 : 4); /* some far into both tails */
            u[i] = rnd_normal();
        }
        if (n > 3)
            g[1] = -0.0f, g[2] = -100.0f, g[3] = 100.0f;
        memcpy(out, g, (size_t)n * sizeof *g);
        lk_silu_mul(out, u, n);
        int bad = 0;
        for (int64_t i = 0; i < n && bad < 3; i++) {
            double exact = (double)g[i] / (1.0 + exp(-(double)g[i])) * u[i];
            /* the SIMD exp saturates near e^88.4, so below g = -88 silu is g / 3e38 rather
             * than g * e^g: an absolute error under 1e-35, nothing to a forward pass */
            int ok = fabs(out[i] - exact) <= 8 * FLT_EPSILON * fabs(exact) + 1e-35;
            bad += !ok;
            CHECK(ok, "silu_mul n %lld [%lld] g %.9g: %.9g vs double %.9g", (long long)n, (long long)i, g[i], out[i],
                  exact);
        }
        free(g);
        free(u);
        free(out);
    }
}

/* ---------------------------------------------------------------------------
 * Row shares (rows.h): how the SIMD products split rows over threads
 * ------------------------------------------------------------------------- */

/* Threads of a team, some of them absent, take pieces in an interleaving chosen at random,
 * each as rows.h's product does (row_shares_next): its own share from the front, then the others' from
 * the back. Every row must be taken exactly once, and a thread's own pieces must follow
 * one another from the front. */
static void test_row_shares(void)
{
    static const int teams[] = {1, 2, 3, 4, 7, MAX_SHARES};
    static const int64_t row_counts[] = {1, 2, 5, 64, 1000, 123457};
    static unsigned char taken[123457];
    int runs = 0;
    for (size_t ti = 0; ti < sizeof teams / sizeof *teams; ti++) {
        for (size_t ri = 0; ri < sizeof row_counts / sizeof *row_counts; ri++) {
            for (int trial = 0; trial < 4; trial++) {
                int n = teams[ti];
                int64_t rows = row_counts[ri], piece = 1 + (int64_t)(rnd32() % 97);
                row_share shares[MAX_SHARES];
                row_shares_init(shares, n, rows);
                memset(taken, 0, (size_t)rows);
                int step[MAX_SHARES], present[MAX_SHARES], n_present = 0;
                int64_t own_next[MAX_SHARES];
                for (int c = 0; c < n; c++) {
                    step[c] = 0;
                    own_next[c] = rows * c / n;
                    present[c] = trial == 0 || c == 0 || rnd32() % 3 != 0; /* thread 0 always */
                    n_present += present[c];
                }
                int ok_order = 1, ok_bounds = 1;
                while (n_present > 0) {
                    int c = (int)(rnd32() % (uint32_t)n);
                    if (!present[c])
                        continue;
                    int64_t r0, r1;
                    if (!row_shares_next(shares, n, c, piece, &step[c], &r0, &r1)) {
                        present[c] = 0;
                        n_present--;
                        continue;
                    }
                    int k = step[c], from = (c + k) % n;
                    if (r0 < rows * from / n || r1 > rows * (from + 1) / n || r0 >= r1 || r1 - r0 > piece)
                        ok_bounds = 0;
                    if (k == 0) {
                        if (r0 != own_next[c])
                            ok_order = 0;
                        own_next[c] = r1;
                    }
                    for (int64_t r = r0; r < r1 && r >= 0 && r < rows; r++)
                        taken[r]++;
                }
                int64_t wrong = 0;
                for (int64_t r = 0; r < rows; r++)
                    wrong += taken[r] != 1;
                CHECK(wrong == 0 && ok_order && ok_bounds,
                      "row shares, team of %d over %lld rows, pieces of %lld: %lld rows not taken exactly "
                      "once, own share in order %d, pieces within their share %d",
                      n, (long long)rows, (long long)piece, (long long)wrong, ok_order, ok_bounds);
                runs++;
            }
        }
    }
    printf("row shares: %d teams (some threads absent), every row taken once\n", runs);
}

int main(void)
{
    printf("kernels: %s against scalar\n", LK_ISA_NAME);
    static _Alignas(64) char pool_mem[4096];
    g_pool = lk_pool_start(pool_mem, 3);
    CHECK(g_pool && lk_pool_bytes(3) <= sizeof pool_mem, "a pool of 3 threads");
    for (int k = 0; k < N_TYPES; k++)
        test_matmul_type(&TYPES[k]);
    test_probe_files();
    test_accumulate_rows();
    test_rmsnorm();
    test_rope();
    test_softmax();
    test_silu_mul();
    test_row_shares();
    lk_pool_stop(g_pool);
    return test_done();
}
