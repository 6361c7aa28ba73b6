/*
 * quant_k.c — the K-quant reference quantizers (q2_K q3_K q4_K q5_K q6_K).
 *
 * These follow ggml's published reference search (no importance matrix): each sub-block
 * of 16 or 32 values gets its own scale (and min) from a small search that minimises a
 * weighted error, then the sub-block scales are themselves quantized to 4 or 6 bits
 * against one f16 super-block scale, and finally every value is re-quantized with the
 * scale it will actually be decoded with. The float operations are written in ggml's
 * order so that, compiled without contraction, the blocks come out the same as
 * llama-quantize's; they are judged by quantize -> dequantize error all the same.
 * As in quant.c, every float operation's result is stored in a float (or cast to one)
 * before anything else uses it, so that the x87's 80-bit registers (i386 without SSE)
 * round as IEEE single arithmetic does and the search makes the same choices there.
 *
 * The three searches:
 *   search_scale_min  (ggml's make_qkx2_quants) — asymmetric x ~ scale * q - min with
 *                     q in 0..nmax: try nstep + 1 inverse scales around nmax / (max - min),
 *                     solve the weighted least squares for (scale, min) at each, keep the best.
 *   search_symmetric  (make_qx_quants, weights x^2) — x ~ scale * q, q in -nmax..nmax-1:
 *                     try 19 inverse scales around -nmax / max, least-squares scale at each.
 *   search_q3         (make_q3_quants) — as above for q3_K, then up to five passes that
 *                     move single values to the level that improves the fit.
 */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"
#include "quant_k.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* a fused multiply-add would change which level wins */
#endif

/* A sub-block whose largest magnitude is below this is all zero (ggml's GROUP_MAX_EPS). */
#define GROUP_MAX_EPS 1e-15f

static inline int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---------------------------------------------------------------------------
 * The searches
 * ------------------------------------------------------------------------- */

/* Fits x[i] ~ scale * L[i] - the_min, L in 0..nmax, minimising sum w[i] * err(i) where err
 * is |diff| (use_abs) or diff^2. Returns scale; *the_min >= 0. aux holds n bytes. */
static float search_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L,
                              float *the_min, uint8_t *aux, float rmin, float rdelta, int nstep,
                              int use_abs)
{
    float min = x[0], max = x[0];
    float sum_w = w[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min)
            min = x[i];
        if (x[i] > max)
            max = x[i];
        sum_w += w[i];
        float wx = w[i] * x[i];
        sum_x += wx;
    }
    if (min > 0) /* the min is subtracted, so it never shifts the range up */
        min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.f;
    }
    float range = max - min;
    float iscale = (float)nmax / range;
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        float t = iscale * (float)(x[i] - min);
        L[i] = (uint8_t)clampi(lk_nearest_int(t), 0, nmax);
        float p = scale * (float)L[i];
        float diff = (float)(p + min) - x[i];
        diff = use_abs ? fabsf(diff) : diff * diff;
        float wd = w[i] * diff;
        best_error += wd;
    }
    for (int is = 0; is <= nstep; is++) {
        float step = rdelta * (float)is;
        float levels = (float)(rmin + step) + (float)nmax;
        range = max - min; /* min is the best fit's so far, as in ggml */
        iscale = levels / range;
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            float t = iscale * (float)(x[i] - min);
            int l = clampi(lk_nearest_int(t), 0, nmax);
            aux[i] = (uint8_t)l;
            float wl = w[i] * (float)l;
            sum_l += wl;
            float wl2 = wl * (float)l, wlx = wl * x[i];
            sum_l2 += wl2;
            sum_xl += wlx;
        }
        /* weighted least squares for x ~ scale * l + m over the two unknowns */
        float D = (float)(sum_w * sum_l2) - (float)(sum_l * sum_l);
        if (D > 0) {
            float num_scale = (float)(sum_w * sum_xl) - (float)(sum_x * sum_l);
            float num_min = (float)(sum_l2 * sum_x) - (float)(sum_l * sum_xl);
            float this_scale = num_scale / D;
            float this_min = num_min / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float err = 0;
            for (int i = 0; i < n; i++) {
                float p = this_scale * (float)aux[i];
                float diff = (float)(p + this_min) - x[i];
                diff = use_abs ? fabsf(diff) : diff * diff;
                float wd = w[i] * diff;
                err += wd;
            }
            if (err < best_error) {
                memcpy(L, aux, (size_t)n);
                best_error = err;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* Fits x[i] ~ scale * (L[i] - nmax), L[i] - nmax in -nmax..nmax-1, weights x[i]^2. The
 * sign of the returned scale puts the largest magnitude at -nmax. */
static float search_symmetric(int n, int nmax, const float *x, int8_t *L)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = (float)-nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        float t = iscale * x[i];
        int l = clampi(lk_nearest_int(t), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        float wx = w * x[i];
        float wxl = wx * (float)l;
        sumlx += wxl;
        float wl = w * (float)l;
        float wl2 = wl * (float)l;
        suml2 += wl2;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0)
            continue;
        float step = 0.1f * (float)is;
        float levels = (float)nmax + step;
        iscale = -levels / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            float t = iscale * x[i];
            int l = clampi(lk_nearest_int(t), -nmax, nmax - 1);
            float w = x[i] * x[i];
            float wx = w * x[i];
            float wxl = wx * (float)l;
            sumlx += wxl;
            float wl = w * (float)l;
            float wl2 = wl * (float)l;
            suml2 += wl2;
        }
        /* scale = sumlx / suml2 lowers the error by sumlx^2 / suml2: keep the largest */
        if (suml2 > 0 && (float)(sumlx * sumlx) > (float)(best * suml2)) {
            for (int i = 0; i < n; i++) {
                float t = iscale * x[i];
                L[i] = (int8_t)(nmax + clampi(lk_nearest_int(t), -nmax, nmax - 1));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* q3_K's sub-block fit: levels -nmax..nmax-1 at -nmax / max, weights x^2, then passes that
 * move one value at a time to its best level for the current fit while the fit improves. */
static float search_q3(int n, int nmax, const float *x, int8_t *L)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = (float)-nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        float t = iscale * x[i];
        int l = clampi(lk_nearest_int(t), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        float wx = w * x[i];
        float wxl = wx * (float)l;
        sumlx += wxl;
        float wl = w * (float)l;
        float wl2 = wl * (float)l;
        suml2 += wl2;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float wx = w * x[i];
            float slx = sumlx - (float)(wx * (float)L[i]);
            if (slx > 0) {
                float wl = w * (float)L[i];
                float sl2 = suml2 - (float)(wl * (float)L[i]);
                float t = x[i] * sl2;
                int new_l = clampi(lk_nearest_int(t / slx), -nmax, nmax - 1);
                if (new_l != L[i]) {
                    slx += (float)(wx * (float)new_l);
                    float wn = w * (float)new_l;
                    sl2 += (float)(wn * (float)new_l);
                    float a = slx * slx, b = sumlx * sumlx;
                    if (sl2 > 0 && (float)(a * suml2) > (float)(b * sl2)) {
                        L[i] = (int8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed)
            break;
    }
    for (int i = 0; i < n; i++)
        L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* ---------------------------------------------------------------------------
 * Packing shared by q2_K and q3_K: two halves of 128, four 2-bit planes per byte
 * ------------------------------------------------------------------------- */

static void pack_2bit_planes(const uint8_t *L, uint8_t *qs)
{
    for (int j = 0; j < QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 |
                                      L[j + l + 96] << 6);
}

/* ---------------------------------------------------------------------------
 * q2_K
 * ------------------------------------------------------------------------- */

void lk_quantize_q2_K(const float *x, block_q2_K *y, int64_t nb)
{
    const float q4scale = 15.f;
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        uint8_t L[QK_K], aux[16];
        float w[16], mins[QK_K / 16], scales[QK_K / 16];
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            for (int l = 0; l < 16; l++)
                w[l] = fabsf(x[16 * j + l]);
            scales[j] = search_scale_min(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], aux, -0.5f,
                                         0.1f, 15, 1);
            if (scales[j] > max_scale)
                max_scale = scales[j];
            if (mins[j] > max_min)
                max_min = mins[j];
        }
        /* 4-bit scales (low nibble) and mins (high nibble) against d and dmin */
        if (max_scale > 0) {
            float iscale = q4scale / max_scale;
            for (int j = 0; j < QK_K / 16; j++) {
                float t = iscale * scales[j];
                y[i].scales[j] = (uint8_t)lk_nearest_int(t);
            }
            y[i].d = lk_f32_to_f16(max_scale / q4scale);
        } else {
            memset(y[i].scales, 0, sizeof y[i].scales);
            y[i].d = lk_f32_to_f16(0.f);
        }
        if (max_min > 0) {
            float iscale = q4scale / max_min;
            for (int j = 0; j < QK_K / 16; j++) {
                float t = iscale * mins[j];
                y[i].scales[j] = (uint8_t)(y[i].scales[j] | lk_nearest_int(t) << 4);
            }
            y[i].dmin = lk_f32_to_f16(max_min / q4scale);
        } else {
            y[i].dmin = lk_f32_to_f16(0.f);
        }
        /* re-quantize every value with the scale and min it will be decoded with */
        for (int j = 0; j < QK_K / 16; j++) {
            float d = lk_f16_to_f32(y[i].d) * (float)(y[i].scales[j] & 0xf);
            if (!d)
                continue;
            float dm = lk_f16_to_f32(y[i].dmin) * (float)(y[i].scales[j] >> 4);
            for (int l = 0; l < 16; l++) {
                float shifted = x[16 * j + l] + dm;
                L[16 * j + l] = (uint8_t)clampi(lk_nearest_int(shifted / d), 0, 3);
            }
        }
        pack_2bit_planes(L, y[i].qs);
    }
}

/* ---------------------------------------------------------------------------
 * q3_K
 * ------------------------------------------------------------------------- */

void lk_quantize_q3_K(const float *x, block_q3_K *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        int8_t L[QK_K];
        float scales[QK_K / 16];
        float max_scale = 0, amax = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            scales[j] = search_q3(16, 4, x + 16 * j, L + 16 * j);
            float a = fabsf(scales[j]);
            if (a > amax) {
                amax = a;
                max_scale = scales[j];
            }
        }
        /* 6-bit signed scales, the one of largest magnitude at -32 */
        memset(y[i].scales, 0, sizeof y[i].scales);
        if (max_scale) {
            float iscale = -32.f / max_scale;
            for (int j = 0; j < QK_K / 16; j++) {
                float t = iscale * scales[j];
                int l = clampi((int8_t)lk_nearest_int(t), -32, 31) + 32;
                if (j < 8)
                    y[i].scales[j] = (uint8_t)(l & 0xf);
                else
                    y[i].scales[j - 8] |= (uint8_t)((l & 0xf) << 4);
                y[i].scales[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
            }
            y[i].d = lk_f32_to_f16(1 / iscale);
        } else {
            y[i].d = lk_f32_to_f16(0.f);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int lo = j < 8 ? y[i].scales[j] & 0xf : y[i].scales[j - 8] >> 4;
            int sc = (lo | ((y[i].scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32;
            float d = lk_f16_to_f32(y[i].d) * (float)sc;
            if (!d)
                continue;
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (int8_t)(clampi(lk_nearest_int(x[16 * j + l] / d), -4, 3) + 4);
        }
        /* the high bit of element j goes to hmask[j % 32], bit j / 32 */
        memset(y[i].hmask, 0, sizeof y[i].hmask);
        uint8_t low[QK_K];
        for (int j = 0; j < QK_K; j++) {
            if (L[j] > 3)
                y[i].hmask[j % 32] |= (uint8_t)(1 << (j / 32));
            low[j] = (uint8_t)(L[j] & 3);
        }
        pack_2bit_planes(low, y[i].qs);
    }
}

/* ---------------------------------------------------------------------------
 * q4_K and q5_K: eight sub-blocks of 32, 6-bit scales and mins
 * ------------------------------------------------------------------------- */

/* The sub-block fits and the packed scales shared by q4_K (nmax 15) and q5_K (nmax 31);
 * fills L with each value's level for the decoded scales. */
static void quantize_k32(const float *x, int nmax, float rmin, float rdelta, int nstep,
                         lk_half *d_out, lk_half *dmin_out, uint8_t packed[K_SCALE_SIZE],
                         uint8_t L[QK_K])
{
    uint8_t aux[32];
    float w[32], mins[QK_K / 32], scales[QK_K / 32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 32; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) {
            float sq = x[32 * j + l] * x[32 * j + l];
            sum_x2 += sq;
        }
        /* volatile: a store that rounds. i386's libm sqrtf returns the x87's fsqrt with
         * all 64 bits, which the compiler takes to be a float already (and it turns
         * (float)sqrt((double)x) into sqrtf(x)); stored, it is the correctly rounded
         * square root, as sqrtf gives on every other machine. Once per 32 values. */
        float mean_x2 = sum_x2 / 32;
        volatile float av_x_rounded = sqrtf(mean_x2);
        float av_x = av_x_rounded;
        for (int l = 0; l < 32; l++)
            w[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = search_scale_min(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], aux, rmin,
                                     rdelta, nstep, 0);
        if (scales[j] > max_scale)
            max_scale = scales[j];
        if (mins[j] > max_min)
            max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < QK_K / 32; j++) {
        float ts = inv_scale * scales[j], tm = inv_min * mins[j];
        uint8_t ls = (uint8_t)lk_nearest_int(ts), lm = (uint8_t)lk_nearest_int(tm);
        ls = ls < 63 ? ls : 63;
        lm = lm < 63 ? lm : 63;
        if (j < 4) {
            packed[j] = ls;
            packed[j + 4] = lm;
        } else {
            packed[j + 4] = (uint8_t)((ls & 0xf) | (lm & 0xf) << 4);
            packed[j - 4] |= (uint8_t)((ls >> 4) << 6);
            packed[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    *d_out = lk_f32_to_f16(max_scale / 63.f);
    *dmin_out = lk_f32_to_f16(max_min / 63.f);
    for (int j = 0; j < QK_K / 32; j++) {
        uint8_t sc, m;
        lk_get_scale_min_k4(j, packed, &sc, &m);
        float d = lk_f16_to_f32(*d_out) * (float)sc;
        if (!d)
            continue;
        float dm = lk_f16_to_f32(*dmin_out) * (float)m;
        for (int l = 0; l < 32; l++) {
            float shifted = x[32 * j + l] + dm;
            L[32 * j + l] = (uint8_t)clampi(lk_nearest_int(shifted / d), 0, nmax);
        }
    }
}

void lk_quantize_q4_K(const float *x, block_q4_K *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        uint8_t L[QK_K];
        quantize_k32(x, 15, -1.f, 0.1f, 20, &y[i].d, &y[i].dmin, y[i].scales, L);
        /* chunk c of 64: sub-block 2c in the low nibbles, 2c+1 in the high */
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                y[i].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + l + 32] << 4);
    }
}

void lk_quantize_q5_K(const float *x, block_q5_K *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        uint8_t L[QK_K];
        quantize_k32(x, 31, -0.5f, 0.1f, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
        /* as q4_K, and the fifth bit of sub-block s in bit s of qh[l] */
        memset(y[i].qh, 0, sizeof y[i].qh);
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++) {
                int l1 = L[64 * c + l], l2 = L[64 * c + l + 32];
                y[i].qh[l] |= (uint8_t)((l1 >> 4) << (2 * c) | (l2 >> 4) << (2 * c + 1));
                y[i].qs[32 * c + l] = (uint8_t)((l1 & 0xf) | (l2 & 0xf) << 4);
            }
    }
}

/* ---------------------------------------------------------------------------
 * q6_K: sixteen sub-blocks of 16, signed 8-bit scales
 * ------------------------------------------------------------------------- */

void lk_quantize_q6_K(const float *x, block_q6_K *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        int8_t L[QK_K];
        float scales[QK_K / 16];
        float max_scale = 0, max_abs_scale = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            scales[j] = search_symmetric(16, 32, x + 16 * j, L + 16 * j);
            float a = fabsf(scales[j]);
            if (a > max_abs_scale) {
                max_abs_scale = a;
                max_scale = scales[j];
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        /* the scale of largest magnitude at -128 (clamped to 127 on the positive side) */
        float iscale = -128.f / max_scale;
        y[i].d = lk_f32_to_f16(1 / iscale);
        for (int j = 0; j < QK_K / 16; j++) {
            float t = iscale * scales[j];
            int v = lk_nearest_int(t);
            y[i].scales[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            float d = lk_f16_to_f32(y[i].d) * (float)y[i].scales[j];
            if (!d)
                continue;
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (int8_t)(clampi(lk_nearest_int(x[16 * j + l] / d), -32, 31) + 32);
        }
        /* see dequant_q6_K in quant.c for where each element's 4 + 2 bits go */
        uint8_t *ql = y[i].ql, *qh = y[i].qh;
        for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32)
            for (int l = 0; l < 32; l++) {
                int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
                ql[l] = (uint8_t)((q1 & 0xf) | (q3 & 0xf) << 4);
                ql[l + 32] = (uint8_t)((q2 & 0xf) | (q4 & 0xf) << 4);
                qh[l] = (uint8_t)(q1 >> 4 | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
            }
    }
}
