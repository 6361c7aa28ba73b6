/*
 * quant.c — what the bits of every weight format mean, and the reference quantizers.
 *
 * The dequantizers here are the definition of each format (the layouts are ggml's, see
 * quant.h). The quantizers for q4_0 q4_1 q5_0 q5_1 q8_0 and the activation formats
 * q8_1 / q8_K reproduce ggml's reference quantizers bit for bit: the same float
 * operations in the same order, the same rounding (roundf for q8_0/q8_1, round-to-even
 * through nearest_int for q8_K, truncation after +0.5 for the 4/5-bit types). The
 * K-quant search (q2_K .. q6_K) lives in quant_k.c.
 * Compiled without floating-point contraction (-std=c11 for GCC, the pragma below for
 * clang): a fused multiply-add rounds once where ggml rounds twice.
 *
 * IEEE single arithmetic on every FPU: each float operation's result is stored in a float
 * variable (or cast to float) before another operation, a comparison or a conversion to
 * an integer uses it. On SSE, NEON and every other FPU with FLT_EVAL_METHOD 0 this costs
 * nothing; on the x87 (i386 without SSE, FLT_EVAL_METHOD 2) an expression keeps 64
 * mantissa bits until an assignment or a cast (ISO C mode, -fexcess-precision=standard),
 * and only then do we get the same bits as ggml on x86-64. One operation on two floats
 * computed in 80 bits and then rounded to float is the correctly rounded single result
 * (64 >= 2 * 24 + 2 bits, so the double rounding is harmless): rounding after every
 * operation is all it takes. Bit patterns that must survive (NaN payloads) never go
 * through a float register: an x87 load quiets a signalling NaN.
 *
 * Independent of the instruction set: kernels/scalar.c, avx2.c and neon.c all call these.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"
#include "quant_k.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* ggml's reference rounds each product; so must we */
#endif

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---------------------------------------------------------------------------
 * Half and bfloat16
 * ------------------------------------------------------------------------- */

float lk_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0x1f) /* Inf; a NaN keeps its payload and comes back quiet, as F16C does */
        return f32_from_bits(sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0));
    if (exp == 0) {
        if (mant == 0)
            return f32_from_bits(sign);
        /* subnormal: mant * 2^-24; shift the leading one up to the implicit bit */
        int e = -1;
        do {
            mant <<= 1;
            e++;
        } while (!(mant & 0x400));
        return f32_from_bits(sign | (uint32_t)(127 - 15 - e) << 23 | (mant & 0x3ff) << 13);
    }
    return f32_from_bits(sign | (exp + 112) << 23 | mant << 13);
}

uint16_t lk_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) /* NaN: quiet, upper payload kept (as F16C's vcvtps2ph does) */
        return sign | 0x7e00 | (uint16_t)((x >> 13) & 0x3ff);
    if (x >= 0x477ff000u) /* >= 65520 (halfway past 65504 rounds to even: up), or Inf */
        return sign | 0x7c00;
    uint32_t e = x >> 23;
    if (e < 113) {
        /* below 2^-14: a half subnormal, units of 2^-24 */
        uint32_t shift = 126 - e;
        if (shift > 24)
            return sign;
        uint32_t m = (x & 0x7fffff) | 0x800000;
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++; /* may carry into the smallest normal, which is the right encoding */
        return sign | (uint16_t)q;
    }
    uint32_t h = (e - 112) << 10 | (x & 0x7fffff) >> 13;
    uint32_t rem = x & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++; /* a carry out of the mantissa bumps the exponent, as it should */
    return sign | (uint16_t)h;
}

float lk_bf16_to_f32(uint16_t h)
{
    return f32_from_bits((uint32_t)h << 16);
}

uint16_t lk_f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: truncating could leave Inf; force quiet */
        return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

#define H2F(h) lk_f16_to_f32(h)
#define F2H(f) lk_f32_to_f16(f)

/* ---------------------------------------------------------------------------
 * Dequantizers: the definition of each format
 * ------------------------------------------------------------------------- */

static void dequant_q4_0(const block_q4_0 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += QK4_0) {
        float d = H2F(x[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[j] = (float)((x[i].qs[j] & 0x0f) - 8) * d;
            y[j + QK4_0 / 2] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void dequant_q4_1(const block_q4_1 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += QK4_1) {
        float d = H2F(x[i].d), m = H2F(x[i].m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            float v0 = (float)(x[i].qs[j] & 0x0f) * d, v1 = (float)(x[i].qs[j] >> 4) * d;
            y[j] = v0 + m;
            y[j + QK4_1 / 2] = v1 + m;
        }
    }
}

static uint32_t load_qh(const uint8_t qh[4])
{
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

static void dequant_q5_0(const block_q5_0 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += QK5_0) {
        float d = H2F(x[i].d);
        uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < QK5_0 / 2; j++) {
            int lo = (x[i].qs[j] & 0x0f) | ((qh >> j) & 1) << 4;
            int hi = (x[i].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
            y[j] = (float)(lo - 16) * d;
            y[j + QK5_0 / 2] = (float)(hi - 16) * d;
        }
    }
}

static void dequant_q5_1(const block_q5_1 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += QK5_1) {
        float d = H2F(x[i].d), m = H2F(x[i].m);
        uint32_t qh = load_qh(x[i].qh);
        for (int j = 0; j < QK5_1 / 2; j++) {
            int lo = (x[i].qs[j] & 0x0f) | ((qh >> j) & 1) << 4;
            int hi = (x[i].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4;
            float v0 = (float)lo * d, v1 = (float)hi * d;
            y[j] = v0 + m;
            y[j + QK5_1 / 2] = v1 + m;
        }
    }
}

static void dequant_q8_0(const block_q8_0 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += QK8_0) {
        float d = H2F(x[i].d);
        for (int j = 0; j < QK8_0; j++)
            y[j] = (float)x[i].qs[j] * d;
    }
}

static void dequant_q8_1(const block_q8_1 *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += QK8_1) {
        float d = H2F(x[i].d);
        for (int j = 0; j < QK8_1; j++)
            y[j] = (float)x[i].qs[j] * d;
    }
}

/* q2_K: 256 elements as two halves of 128; in each half, 32 bytes of qs hold four
 * 2-bit planes (shift 0, 2, 4, 6), each plane two sub-blocks of 16 with their own
 * 4-bit scale (low nibble) and 4-bit min (high nibble): x = d*sc*q - dmin*m. */
static void dequant_q2_K(const block_q2_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float d = H2F(x[i].d), dmin = H2F(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        for (int half = 0; half < 2; half++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int k = 0; k < 2; k++) {
                    uint8_t sc = x[i].scales[is++];
                    float dl = d * (float)(sc & 0xf), ml = dmin * (float)(sc >> 4);
                    for (int l = 0; l < 16; l++) {
                        float v = dl * (float)((q[16 * k + l] >> shift) & 3);
                        *y++ = v - ml;
                    }
                }
            }
        }
    }
}

/* The sixteen 6-bit q3_K scales: low 4 bits in bytes 0..7 (low nibble for scales 0..7,
 * high nibble for 8..15), the top 2 bits in bytes 8..11, byte 8 + j%4, bits 2*(j/4). */
static int q3_K_scale(const uint8_t s[12], int j)
{
    int lo = j < 8 ? s[j] & 0xf : s[j - 8] >> 4;
    int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (lo | hi << 4) - 32;
}

/* q3_K: laid out as q2_K (halves, 2-bit planes, sub-blocks of 16), plus a high bit per
 * element in hmask (bit = plane index + 4 * half); a clear bit subtracts 4. */
static void dequant_q3_K(const block_q3_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float d = H2F(x[i].d);
        const uint8_t *q = x[i].qs, *hm = x[i].hmask;
        int is = 0;
        uint8_t m = 1;
        for (int half = 0; half < 2; half++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
                for (int k = 0; k < 2; k++) {
                    float dl = d * (float)q3_K_scale(x[i].scales, is++);
                    for (int l = 0; l < 16; l++) {
                        int v = ((q[16 * k + l] >> shift) & 3) - ((hm[16 * k + l] & m) ? 0 : 4);
                        *y++ = dl * (float)v;
                    }
                }
            }
        }
    }
}

/* q4_K: four chunks of 64; each chunk is 32 bytes whose low nibbles are sub-block 2c and
 * high nibbles sub-block 2c+1: x = d*sc*q - dmin*m. */
static void dequant_q4_K(const block_q4_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float d = H2F(x[i].d), dmin = H2F(x[i].dmin);
        const uint8_t *q = x[i].qs;
        for (int is = 0; is < 8; is += 2, q += 32) {
            uint8_t sc, m;
            lk_get_scale_min_k4(is, x[i].scales, &sc, &m);
            float d1 = d * (float)sc, m1 = dmin * (float)m;
            lk_get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            float d2 = d * (float)sc, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++) {
                float v = d1 * (float)(q[l] & 0xf);
                *y++ = v - m1;
            }
            for (int l = 0; l < 32; l++) {
                float v = d2 * (float)(q[l] >> 4);
                *y++ = v - m2;
            }
        }
    }
}

/* q5_K: q4_K plus a fifth bit: element l of sub-block s has it in bit s of qh[l]. */
static void dequant_q5_K(const block_q5_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float d = H2F(x[i].d), dmin = H2F(x[i].dmin);
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        for (int is = 0; is < 8; is += 2, ql += 32) {
            uint8_t sc, m;
            lk_get_scale_min_k4(is, x[i].scales, &sc, &m);
            float d1 = d * (float)sc, m1 = dmin * (float)m;
            lk_get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            float d2 = d * (float)sc, m2 = dmin * (float)m;
            for (int l = 0; l < 32; l++) {
                float v = d1 * (float)((ql[l] & 0xf) + (((qh[l] >> is) & 1) << 4));
                *y++ = v - m1;
            }
            for (int l = 0; l < 32; l++) {
                float v = d2 * (float)((ql[l] >> 4) + (((qh[l] >> (is + 1)) & 1) << 4));
                *y++ = v - m2;
            }
        }
    }
}

/* q6_K: two halves of 128; in a half, element l + 32k (k < 4, l < 32) takes its low
 * nibble from ql[l + 32(k&1)] (low nibble for k < 2, high for k >= 2) and its top two
 * bits from qh[l] bits 2k; scale sc[l/16 + 2k]; x = d * sc * (q - 32). */
static void dequant_q6_K(const block_q6_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float d = H2F(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int half = 0; half < 2; half++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xf) | ((qh[l] >> 0) & 3) << 4) - 32;
                int q2 = ((ql[l + 32] & 0xf) | ((qh[l] >> 2) & 3) << 4) - 32;
                int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
                int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
                /* (d * sc) * q, the product rounded in between as ggml's is */
                float d1 = d * (float)sc[is], d2 = d * (float)sc[is + 2];
                float d3 = d * (float)sc[is + 4], d4 = d * (float)sc[is + 6];
                y[l] = d1 * (float)q1;
                y[l + 32] = d2 * (float)q2;
                y[l + 64] = d3 * (float)q3;
                y[l + 96] = d4 * (float)q4;
            }
        }
    }
}

static void dequant_q8_K(const block_q8_K *x, float *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, y += QK_K)
        for (int j = 0; j < QK_K; j++)
            y[j] = x[i].d * (float)x[i].qs[j];
}

int lk_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n)
{
    const lk_type_traits *t = lk_type(type);
    if (!t || n < 0 || n % t->block_size)
        return -1;
    int64_t nb = n / t->block_size;
    switch (type) {
    case T_F32: memmove(dst, src, (size_t)n * sizeof(float)); return 0;
    case T_F16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = lk_f16_to_f32(((const uint16_t *)src)[i]);
        return 0;
    case T_BF16:
        /* bits to bits: a float load would quiet a signalling NaN on the x87 */
        for (int64_t i = 0; i < n; i++) {
            uint32_t u = (uint32_t)((const uint16_t *)src)[i] << 16;
            memcpy(&dst[i], &u, sizeof u);
        }
        return 0;
    case T_Q4_0: dequant_q4_0(src, dst, nb); return 0;
    case T_Q4_1: dequant_q4_1(src, dst, nb); return 0;
    case T_Q5_0: dequant_q5_0(src, dst, nb); return 0;
    case T_Q5_1: dequant_q5_1(src, dst, nb); return 0;
    case T_Q8_0: dequant_q8_0(src, dst, nb); return 0;
    case T_Q8_1: dequant_q8_1(src, dst, nb); return 0;
    case T_Q2_K: dequant_q2_K(src, dst, nb); return 0;
    case T_Q3_K: dequant_q3_K(src, dst, nb); return 0;
    case T_Q4_K: dequant_q4_K(src, dst, nb); return 0;
    case T_Q5_K: dequant_q5_K(src, dst, nb); return 0;
    case T_Q6_K: dequant_q6_K(src, dst, nb); return 0;
    case T_Q8_K: dequant_q8_K(src, dst, nb); return 0;
    default: return -1;
    }
}

/* ---------------------------------------------------------------------------
 * Reference quantizers: q4_0 q4_1 q5_0 q5_1 q8_0 (weights), q8_1 q8_K (activations)
 * ------------------------------------------------------------------------- */

static void quant_q4_0(const float *x, block_q4_0 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK4_0) {
        /* the signed value of largest magnitude (the first one on ties) maps to -8 */
        float amax = 0, max = 0;
        for (int j = 0; j < QK4_0; j++)
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        float d = max / -8, id = d ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            /* truncation after +8.5 is rounding half up; clamp the +8 end to 15 */
            float x0 = x[j] * id, x1 = x[j + QK4_0 / 2] * id; /* rounded before the add */
            int8_t q0 = (int8_t)(float)(x0 + 8.5f), q1 = (int8_t)(float)(x1 + 8.5f); /* and after */
            uint8_t a = q0 < 15 ? (uint8_t)q0 : 15, b = q1 < 15 ? (uint8_t)q1 : 15;
            y[i].qs[j] = (uint8_t)(a | b << 4);
        }
    }
}

static void quant_q4_1(const float *x, block_q4_1 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK4_1) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < QK4_1; j++) {
            if (x[j] < min)
                min = x[j];
            if (x[j] > max)
                max = x[j];
        }
        float range = max - min;
        float d = range / 15, id = d ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        y[i].m = F2H(min);
        for (int j = 0; j < QK4_1 / 2; j++) {
            float x0 = (float)(x[j] - min) * id, x1 = (float)(x[j + QK4_1 / 2] - min) * id;
            int8_t q0 = (int8_t)(float)(x0 + 0.5f), q1 = (int8_t)(float)(x1 + 0.5f);
            uint8_t a = q0 < 15 ? (uint8_t)q0 : 15, b = q1 < 15 ? (uint8_t)q1 : 15;
            y[i].qs[j] = (uint8_t)(a | b << 4);
        }
    }
}

static void quant_q5_0(const float *x, block_q5_0 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK5_0) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK5_0; j++)
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        float d = max / -16, id = d ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            float x0 = x[j] * id, x1 = x[j + QK5_0 / 2] * id;
            int8_t q0 = (int8_t)(float)(x0 + 16.5f), q1 = (int8_t)(float)(x1 + 16.5f);
            uint8_t a = q0 < 31 ? (uint8_t)q0 : 31, b = q1 < 31 ? (uint8_t)q1 : 31;
            y[i].qs[j] = (uint8_t)((a & 0x0f) | (b & 0x0f) << 4);
            qh |= (uint32_t)(a >> 4) << j | (uint32_t)(b >> 4) << (j + QK5_0 / 2);
        }
        for (int k = 0; k < 4; k++)
            y[i].qh[k] = (uint8_t)(qh >> (8 * k));
    }
}

static void quant_q5_1(const float *x, block_q5_1 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK5_1) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < QK5_1; j++) {
            if (x[j] < min)
                min = x[j];
            if (x[j] > max)
                max = x[j];
        }
        float range = max - min;
        float d = range / 31, id = d ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        y[i].m = F2H(min);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_1 / 2; j++) {
            /* ggml does not clamp here: (max - min) * id rounds to at most 31 */
            float x0 = (float)(x[j] - min) * id, x1 = (float)(x[j + QK5_1 / 2] - min) * id;
            uint8_t a = (uint8_t)(float)(x0 + 0.5f), b = (uint8_t)(float)(x1 + 0.5f);
            y[i].qs[j] = (uint8_t)((a & 0x0f) | (b & 0x0f) << 4);
            qh |= (uint32_t)((a >> 4) & 1) << j | (uint32_t)((b >> 4) & 1) << (j + QK5_1 / 2);
        }
        for (int k = 0; k < 4; k++)
            y[i].qh[k] = (uint8_t)(qh >> (8 * k));
    }
}

/* x * id lies in [-127, 127] for every ordinary block; an activation that overflowed (NaN,
 * infinity) or a block so small that 1/d is infinite must still convert without undefined
 * behaviour: clamped, NaN to 0. */
static int8_t clamp_q8(float v)
{
    return (int8_t)(v >= 127 ? 127 : v <= -127 ? -127 : v == v ? v : 0);
}

static void quant_q8_0(const float *x, block_q8_0 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK8_0) {
        float amax = 0;
        for (int j = 0; j < QK8_0; j++) {
            float v = fabsf(x[j]);
            amax = amax > v ? amax : v;
        }
        float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        for (int j = 0; j < QK8_0; j++) {
            float v = roundf(x[j] * id);
            y[i].qs[j] = clamp_q8(v);
        }
    }
}

/* As q8_0, plus s = d * sum(q) for the min term of q4_1 / q5_1 dot products. */
static void quant_q8_1(const float *x, block_q8_1 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK8_1) {
        float amax = 0;
        for (int j = 0; j < QK8_1; j++) {
            float v = fabsf(x[j]);
            amax = amax > v ? amax : v;
        }
        float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        y[i].d = F2H(d);
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) {
            float v = roundf(x[j] * id);
            y[i].qs[j] = clamp_q8(v);
            sum += y[i].qs[j];
        }
        float s = (float)sum * d;
        y[i].s = F2H(s);
    }
}

/* q8_K: a float scale, the largest magnitude (signed) at -127, round to nearest even,
 * and the sum of every 16 quants for the K-quant dot products' min terms. */
static void quant_q8_K(const float *x, block_q8_K *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK_K; j++) {
            float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (!amax) {
            /* ggml leaves bsums untouched here; ours are zero, which is what they sum to */
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j++) {
            float v0 = iscale * x[j];
            int v = lk_nearest_int(v0);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++)
                sum += y[i].qs[16 * j + l];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}

int lk_quantize_row(uint32_t type, const float *src, void *dst, int64_t n)
{
    const lk_type_traits *t = lk_type(type);
    if (!t || n < 0 || n % t->block_size)
        return -1;
    int64_t nb = n / t->block_size;
    switch (type) {
    case T_F32: memmove(dst, src, (size_t)n * sizeof(float)); return 0;
    case T_F16:
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)dst)[i] = lk_f32_to_f16(src[i]);
        return 0;
    case T_BF16:
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)dst)[i] = lk_f32_to_bf16(src[i]);
        return 0;
    case T_Q4_0: quant_q4_0(src, dst, nb); return 0;
    case T_Q4_1: quant_q4_1(src, dst, nb); return 0;
    case T_Q5_0: quant_q5_0(src, dst, nb); return 0;
    case T_Q5_1: quant_q5_1(src, dst, nb); return 0;
    case T_Q8_0: quant_q8_0(src, dst, nb); return 0;
    case T_Q8_1: quant_q8_1(src, dst, nb); return 0;
    case T_Q8_K: quant_q8_K(src, dst, nb); return 0;
    case T_Q2_K: lk_quantize_q2_K(src, dst, nb); return 0;
    case T_Q3_K: lk_quantize_q3_K(src, dst, nb); return 0;
    case T_Q4_K: lk_quantize_q4_K(src, dst, nb); return 0;
    case T_Q5_K: lk_quantize_q5_K(src, dst, nb); return 0;
    case T_Q6_K: lk_quantize_q6_K(src, dst, nb); return 0;
    default: return -1;
    }
}
