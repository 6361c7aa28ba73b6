/*
 * test_quant.c — the weight formats: f16/bf16 conversion, every dequantizer against
 * hand-built blocks, every quantizer's round-trip error, byte identity with llama.cpp's
 * reference quantizers on ../shared/vectors/quant, K-quant error against the reference,
 * and the public wrappers' errors.
 *
 * The hand-built blocks place each element's bits with a position formula written here
 * from the ggml layouts (element -> byte, bit), not with quant.c's loops, so a mistake in
 * either shows up as a mismatch.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "harness.h"
#include "kernels.h"
#include "latent.h"
#include "quant.h"


static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}
static float rnd_unit(void) { return (float)(rnd() & 0xffffff) / 16777216.0f; } /* [0,1) */
static float rnd_normal(void)
{
    /* sum of four uniforms, centred: close enough to a bell for quantizer tests */
    return (rnd_unit() + rnd_unit() + rnd_unit() + rnd_unit() - 2.0f) * 1.7f;
}

/* ---------------------------------------------------------------------------
 * f16 and bf16
 * ------------------------------------------------------------------------- */

static int f16_is_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }

/* The f16 value nearest to f by search, ties to the even encoding: the oracle for
 * lk_f32_to_f16 on finite inputs below the overflow threshold. */
static uint16_t f16_nearest(float f)
{
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    double a = fabs((double)f);
    /* binary search over the ordered positive encodings 0..0x7bff */
    uint16_t lo = 0, hi = 0x7bff;
    while (hi - lo > 1) {
        uint16_t mid = (uint16_t)((lo + hi) / 2);
        if ((double)lk_f16_to_f32(mid) <= a)
            lo = mid;
        else
            hi = mid;
    }
    double dlo = a - (double)lk_f16_to_f32(lo), dhi = (double)lk_f16_to_f32(hi) - a;
    uint16_t r = dlo < dhi ? lo : dhi < dlo ? hi : ((lo & 1) ? hi : lo);
    return sign | r;
}

static void test_f16(void)
{
    /* every pattern: finite and infinite values round-trip exactly; NaNs stay NaN with
     * their sign and payload, quiet (as F16C converts them) */
    int bad_rt = 0, bad_nan = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = lk_f16_to_f32((uint16_t)h);
        uint16_t back = lk_f32_to_f16(f);
        if (f16_is_nan((uint16_t)h)) {
            if (!isnan(f) || back != (h | 0x200))
                bad_nan++;
        } else if (back != h) {
            bad_rt++;
        }
    }
    CHECK(bad_rt == 0, "%d f16 patterns do not round-trip", bad_rt);
    CHECK(bad_nan == 0, "%d f16 NaN patterns lose NaN-ness, sign or payload", bad_nan);

    /* known values */
    CHECK(lk_f16_to_f32(0x3c00) == 1.0f, "1.0");
    CHECK(lk_f16_to_f32(0xc000) == -2.0f, "-2.0");
    CHECK(lk_f16_to_f32(0x7bff) == 65504.0f, "max half");
    CHECK(lk_f16_to_f32(0x0400) == ldexpf(1, -14), "min normal");
    CHECK(lk_f16_to_f32(0x0001) == ldexpf(1, -24), "min subnormal");
    CHECK(lk_f16_to_f32(0x03ff) == ldexpf(1023, -24), "max subnormal");
    CHECK(bits_of(lk_f16_to_f32(0x8000)) == 0x80000000u, "-0");
    CHECK(isinf(lk_f16_to_f32(0x7c00)) && lk_f16_to_f32(0x7c00) > 0, "+inf");
    CHECK(isinf(lk_f16_to_f32(0xfc00)) && lk_f16_to_f32(0xfc00) < 0, "-inf");

    /* round to nearest even, at the ties */
    CHECK(lk_f32_to_f16(1.0f + ldexpf(1, -11)) == 0x3c00, "tie 1 + 2^-11 goes down to even");
    CHECK(lk_f32_to_f16(1.0f + 3 * ldexpf(1, -11)) == 0x3c02, "tie 1 + 3*2^-11 goes up to even");
    CHECK(lk_f32_to_f16(nextafterf(1.0f + ldexpf(1, -11), 2)) == 0x3c01, "just above a tie");
    CHECK(lk_f32_to_f16(65519.0f) == 0x7bff, "65519 stays finite");
    CHECK(lk_f32_to_f16(65520.0f) == 0x7c00, "65520 (the tie past max) overflows to inf");
    CHECK(lk_f32_to_f16(-1e6f) == 0xfc00, "-1e6 -> -inf");
    CHECK(lk_f32_to_f16(ldexpf(1, -25)) == 0x0000, "2^-25: tie between 0 and min subnormal");
    CHECK(lk_f32_to_f16(nextafterf(ldexpf(1, -25), 1)) == 0x0001, "just above 2^-25");
    CHECK(lk_f32_to_f16(3 * ldexpf(1, -25)) == 0x0002, "1.5 * min subnormal: tie to even 2");
    CHECK(lk_f32_to_f16(ldexpf(1023.5f, -24)) == 0x0400, "max subnormal + half rounds to normal");
    CHECK(lk_f32_to_f16(1e-10f) == 0x0000 && lk_f32_to_f16(-1e-10f) == 0x8000, "underflow keeps sign");
    CHECK(lk_f32_to_f16(FLT_MIN / 4) == 0x0000, "f32 subnormal -> 0");
    CHECK(lk_f32_to_f16(-0.0f) == 0x8000, "-0");
    CHECK(lk_f32_to_f16(INFINITY) == 0x7c00 && lk_f32_to_f16(-INFINITY) == 0xfc00, "inf");
    CHECK(f16_is_nan(lk_f32_to_f16(NAN)), "NaN");
    CHECK(f16_is_nan(lk_f32_to_f16(float_of(0x7f800001u))), "NaN with only low payload bits");
    CHECK(lk_f32_to_f16(float_of(0xffc00000u)) & 0x8000, "negative NaN keeps its sign");

    /* f32 values spread over the whole range against the search oracle (and F16C) */
    int bad = 0, bad_hw = 0, n = 0;
    for (uint64_t u = 0; u < 0x100000000ull; u += 16411) { /* every exponent, ~500 values each */
        float f = float_of((uint32_t)u);
        if (isnan(f))
            continue;
        uint16_t got = lk_f32_to_f16(f);
        uint16_t want = fabsf(f) >= 65520.0f ? (uint16_t)((signbit(f) ? 0x8000 : 0) | 0x7c00)
                                              : f16_nearest(f);
        bad += got != want;
#if defined(__F16C__)
        bad_hw += got != _cvtss_sh(f, 0);
#endif
        n++;
    }
    CHECK(bad == 0, "%d of %d f32 values not rounded to the nearest-even half", bad, n);
    CHECK(bad_hw == 0, "%d of %d f32 values differ from F16C's vcvtps2ph", bad_hw, n);
}

static void test_bf16(void)
{
    /* The format's widening (dequantize_row, memory to memory) keeps every bit pattern,
     * signalling NaNs included. A float *returned* by lk_bf16_to_f32 cannot always: the
     * i386 ABI returns floats in the x87's st(0), and loading a signalling NaN there
     * quiets it (sets mantissa bit 22, payload and sign kept). That one change is allowed
     * there and nowhere else. */
#if defined(__i386__)
    const int returns_quieted = 1;
#else
    const int returns_quieted = 0;
#endif
    static uint16_t all[65536];
    static float wide[65536];
    for (uint32_t h = 0; h < 65536; h++)
        all[h] = (uint16_t)h;
    CHECK(lk_dequantize_row(T_BF16, all, wide, 65536) == 0, "dequantize_row bf16");
    int bad_row = 0;
    for (uint32_t h = 0; h < 65536; h++)
        bad_row += bits_of(wide[h]) != h << 16;
    CHECK(bad_row == 0, "%d bf16 patterns do not widen exactly in dequantize_row", bad_row);

    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = lk_bf16_to_f32((uint16_t)h);
        int nan = (h & 0x7f80) == 0x7f80 && (h & 0x7f);
        int snan = nan && !(h & 0x40);
        uint32_t want = h << 16;
        bad += bits_of(f) != want && !(returns_quieted && snan && bits_of(f) == (want | 0x400000u));
        uint16_t back = lk_f32_to_bf16(f);
        if (nan ? ((back & 0x7f80) != 0x7f80 || !(back & 0x7f) || (back & 0x8000) != (h & 0x8000))
                : back != h)
            bad++;
    }
    CHECK(bad == 0, "%d bf16 patterns do not widen exactly or do not round-trip", bad);
    CHECK(lk_f32_to_bf16(1.0f + ldexpf(1, -8)) == 0x3f80, "tie goes down to even");
    CHECK(lk_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)) == 0x3f82, "tie goes up to even");
    CHECK(lk_f32_to_bf16(nextafterf(1.0f + ldexpf(1, -8), 2)) == 0x3f81, "above a tie rounds up");
    CHECK(lk_f32_to_bf16(FLT_MAX) == 0x7f80, "FLT_MAX rounds to inf");
    CHECK(lk_f32_to_bf16(-0.0f) == 0x8000, "-0");
    CHECK(lk_f32_to_bf16(float_of(0x00010000u)) == 0x0001, "subnormal kept");
    uint16_t nan = lk_f32_to_bf16(float_of(0x7f800001u));
    CHECK((nan & 0x7f80) == 0x7f80 && (nan & 0x7f), "NaN with low payload stays NaN (%04x)", nan);
    CHECK(lk_f32_to_bf16(INFINITY) == 0x7f80, "inf");
}

/* ---------------------------------------------------------------------------
 * Dequantizers against hand-built blocks
 * ------------------------------------------------------------------------- */

/* Small exact halves: d and dmin chosen as powers of two so every expected value is exact */
#define H_1 0x3c00     /* 1.0 */
#define H_HALF 0x3800  /* 0.5 */
#define H_QUART 0x3400 /* 0.25 */
#define H_NEG2 0xc000  /* -2.0 */

static void put_bits(uint8_t *p, int bit, int nbits, int v)
{
    for (int b = 0; b < nbits; b++)
        if ((v >> b) & 1)
            p[(bit + b) / 8] |= (uint8_t)(1 << ((bit + b) % 8));
}

/* q4/q5 of 32: element e's low four bits are the low (e < 16) or high nibble of qs[e % 16];
 * its fifth bit is bit e of qh */
static void put_q4(uint8_t *qs, int e, int q) { put_bits(qs, 8 * (e % 16) + 4 * (e / 16), 4, q & 15); }

static int check_dequant(uint32_t type, const void *blocks, int n, const float *want)
{
    float got[512];
    int rc = lk_dequantize_row(type, blocks, got, n);
    int bad = 0;
    for (int i = 0; i < n; i++)
        if (got[i] != want[i]) {
            if (bad < 3)
                printf("  %s element %d: got %g, want %g\n", lk_type(type)->name, i, got[i], want[i]);
            bad++;
        }
    CHECK(rc == 0 && bad == 0, "%s dequantizes %d elements wrong", lk_type(type)->name, bad);
    return bad;
}

static void test_dequant_simple(void)
{
    float want[512];
    {
        block_q4_0 b[2];
        memset(b, 0, sizeof b);
        b[0].d = H_HALF;
        b[1].d = H_NEG2;
        for (int e = 0; e < 64; e++) {
            int q = (e * 7 + 3) % 16;
            put_q4(b[e / 32].qs, e % 32, q);
            want[e] = (float)(q - 8) * (e < 32 ? 0.5f : -2.0f);
        }
        check_dequant(T_Q4_0, b, 64, want);
    }
    {
        block_q4_1 b[2];
        memset(b, 0, sizeof b);
        b[0].d = H_QUART;
        b[0].m = H_NEG2;
        b[1].d = H_1;
        b[1].m = H_HALF;
        for (int e = 0; e < 64; e++) {
            int q = (e * 5 + 1) % 16;
            put_q4(b[e / 32].qs, e % 32, q);
            want[e] = e < 32 ? (float)q * 0.25f - 2.0f : (float)q + 0.5f;
        }
        check_dequant(T_Q4_1, b, 64, want);
    }
    {
        block_q5_0 b[2];
        memset(b, 0, sizeof b);
        b[0].d = H_HALF;
        b[1].d = H_NEG2;
        for (int e = 0; e < 64; e++) {
            int q = (e * 13 + 5) % 32;
            put_q4(b[e / 32].qs, e % 32, q);
            put_bits(b[e / 32].qh, e % 32, 1, q >> 4);
            want[e] = (float)(q - 16) * (e < 32 ? 0.5f : -2.0f);
        }
        check_dequant(T_Q5_0, b, 64, want);
    }
    {
        block_q5_1 b[2];
        memset(b, 0, sizeof b);
        b[0].d = H_QUART;
        b[0].m = H_NEG2;
        b[1].d = H_1;
        b[1].m = H_HALF;
        for (int e = 0; e < 64; e++) {
            int q = (e * 11 + 2) % 32;
            put_q4(b[e / 32].qs, e % 32, q);
            put_bits(b[e / 32].qh, e % 32, 1, q >> 4);
            want[e] = e < 32 ? (float)q * 0.25f - 2.0f : (float)q + 0.5f;
        }
        check_dequant(T_Q5_1, b, 64, want);
    }
    {
        block_q8_0 b[2];
        b[0].d = H_HALF;
        b[1].d = H_NEG2;
        for (int e = 0; e < 64; e++) {
            int q = e == 0 ? -128 : e == 1 ? 127 : (e * 37) % 255 - 127;
            b[e / 32].qs[e % 32] = (int8_t)q;
            want[e] = (float)q * (e < 32 ? 0.5f : -2.0f);
        }
        check_dequant(T_Q8_0, b, 64, want);
    }
    {
        block_q8_K b[1];
        memset(b, 0, sizeof b);
        b[0].d = 0.125f;
        for (int e = 0; e < 256; e++) {
            b[0].qs[e] = (int8_t)((e * 29) % 255 - 127);
            want[e] = (float)b[0].qs[e] * 0.125f;
        }
        check_dequant(T_Q8_K, b, 256, want);
    }
}

/* K-quant element positions, from the layouts in quant.h (ggml's):
 *   q2_K / q3_K: element e is in half h = e/128; r = e%128 is 2-bit plane r/32 of byte
 *                qs[32h + r%32]; sub-block (scale) e/16. q3_K's high bit: hmask[e%32] bit e/32.
 *   q4_K / q5_K: chunk c = e/64; r = e%64 is the low (r < 32) or high nibble of
 *                qs[32c + r%32]; sub-block e/32; q5_K's fifth bit: qh[r%32] bit 2c + r/32.
 *   q6_K:        half h = e/128, r = e%128, k = r/32, l = r%32: low four bits are the low
 *                (k < 2) or high nibble of ql[64h + l + 32(k%2)], the top two bits are
 *                bits 2k of qh[32h + l]; scale sc[8h + l/16 + 2k]. */

static void put_q2(uint8_t *qs, int e, int q) { put_bits(qs, 8 * (32 * (e / 128) + e % 32) + 2 * ((e % 128) / 32), 2, q); }

/* 6-bit scale j (0..15) of q3_K: low nibble in scales[j%8] (low half for j < 8), top two
 * bits at scales[8 + j%4] bits 2*(j/4) */
static void put_q3_scale(uint8_t *s, int j, int v)
{
    put_bits(s, 8 * (j % 8) + 4 * (j / 8), 4, v & 15);
    put_bits(s, 8 * (8 + j % 4) + 2 * (j / 4), 2, v >> 4);
}

/* 6-bit scale and min j (0..7) of q4_K / q5_K */
static void put_k4_scale(uint8_t *s, int j, int sc, int m)
{
    if (j < 4) {
        put_bits(s, 8 * j, 6, sc);
        put_bits(s, 8 * (j + 4), 6, m);
    } else {
        put_bits(s, 8 * (j + 4), 4, sc & 15);
        put_bits(s, 8 * (j + 4) + 4, 4, m & 15);
        put_bits(s, 8 * (j - 4) + 6, 2, sc >> 4);
        put_bits(s, 8 * j + 6, 2, m >> 4);
    }
}

static void test_dequant_k(void)
{
    float want[512];
    {
        block_q2_K b[2];
        memset(b, 0, sizeof b);
        for (int i = 0; i < 2; i++) {
            b[i].d = i ? H_QUART : H_HALF;
            b[i].dmin = i ? H_1 : H_QUART;
            for (int j = 0; j < 16; j++)
                b[i].scales[j] = (uint8_t)(((j * 7 + i) % 16) | ((j * 3 + 5 * i) % 16) << 4);
        }
        for (int e = 0; e < 512; e++) {
            const block_q2_K *bb = &b[e / 256];
            int q = (e * 5 + e / 7) % 4, s = (e % 256) / 16;
            put_q2(b[e / 256].qs, e % 256, q);
            float d = lk_f16_to_f32(bb->d), dmin = lk_f16_to_f32(bb->dmin);
            want[e] = d * (float)(bb->scales[s] & 15) * (float)q - dmin * (float)(bb->scales[s] >> 4);
        }
        check_dequant(T_Q2_K, b, 512, want);
    }
    {
        block_q3_K b[2];
        memset(b, 0, sizeof b);
        int sc[2][16];
        for (int i = 0; i < 2; i++) {
            b[i].d = i ? H_NEG2 : H_HALF;
            for (int j = 0; j < 16; j++) {
                sc[i][j] = (j * 11 + 17 * i + 3) % 64; /* stored; the scale is this - 32 */
                put_q3_scale(b[i].scales, j, sc[i][j]);
            }
        }
        for (int e = 0; e < 512; e++) {
            int i = e / 256, r = e % 256, q = (e * 3 + e / 5) % 8; /* q - 4 in -4..3 */
            put_q2(b[i].qs, r, q & 3);
            put_bits(b[i].hmask, 8 * (r % 32) + r / 32, 1, q >> 2);
            want[e] = lk_f16_to_f32(b[i].d) * (float)(sc[i][r / 16] - 32) * (float)(q - 4);
        }
        check_dequant(T_Q3_K, b, 512, want);
    }
    for (int five = 0; five < 2; five++) {
        block_q4_K b4[2];
        block_q5_K b5[2];
        memset(b4, 0, sizeof b4);
        memset(b5, 0, sizeof b5);
        int sc[2][8], mn[2][8];
        for (int i = 0; i < 2; i++) {
            lk_half d = i ? H_QUART : H_HALF, dmin = i ? H_HALF : H_1;
            b4[i].d = b5[i].d = d;
            b4[i].dmin = b5[i].dmin = dmin;
            for (int j = 0; j < 8; j++) {
                sc[i][j] = (j * 23 + 40 * i + 7) % 64;
                mn[i][j] = (j * 13 + 9 * i + 60) % 64;
                put_k4_scale(five ? b5[i].scales : b4[i].scales, j, sc[i][j], mn[i][j]);
            }
        }
        for (int e = 0; e < 512; e++) {
            int i = e / 256, r = e % 256, c = r / 64, rr = r % 64;
            int q = (e * 7 + e / 3) % (five ? 32 : 16);
            uint8_t *qs = five ? b5[i].qs : b4[i].qs;
            put_bits(qs, 8 * (32 * c + rr % 32) + 4 * (rr / 32), 4, q & 15);
            if (five)
                put_bits(b5[i].qh, 8 * (rr % 32) + 2 * c + rr / 32, 1, q >> 4);
            float d = lk_f16_to_f32(b4[i].d), dmin = lk_f16_to_f32(b4[i].dmin);
            want[e] = d * (float)sc[i][r / 32] * (float)q - dmin * (float)mn[i][r / 32];
        }
        if (five)
            check_dequant(T_Q5_K, b5, 512, want);
        else
            check_dequant(T_Q4_K, b4, 512, want);
    }
    {
        block_q6_K b[2];
        memset(b, 0, sizeof b);
        for (int i = 0; i < 2; i++) {
            b[i].d = i ? H_QUART : H_NEG2;
            for (int j = 0; j < 16; j++)
                b[i].scales[j] = (int8_t)(j == 0 ? -128 : j == 1 ? 127 : (j * 37 + 11 * i) % 200 - 100);
        }
        for (int e = 0; e < 512; e++) {
            int i = e / 256, r = e % 256, h = r / 128, k = (r % 128) / 32, l = r % 32;
            int q = (e * 19 + e / 9) % 64; /* stored; the value is q - 32 */
            put_bits(b[i].ql, 8 * (64 * h + l + 32 * (k % 2)) + 4 * (k / 2), 4, q & 15);
            put_bits(b[i].qh, 8 * (32 * h + l) + 2 * k, 2, q >> 4);
            int s = b[i].scales[8 * h + l / 16 + 2 * k];
            want[e] = lk_f16_to_f32(b[i].d) * (float)s * (float)(q - 32);
        }
        check_dequant(T_Q6_K, b, 512, want);
    }
    /* float types */
    {
        uint16_t h[4] = {0x3c00, 0xc000, 0x0001, 0x7bff};
        float w[4] = {1.0f, -2.0f, ldexpf(1, -24), 65504.0f};
        check_dequant(T_F16, h, 4, w);
        uint16_t bf[2] = {0x3f80, 0xc0a0};
        float wb[2] = {1.0f, -5.0f};
        check_dequant(T_BF16, bf, 2, wb);
        check_dequant(T_F32, w, 4, w);
    }
    /* refusals: an n that is not a multiple of the block size, types we do not run */
    float out[64];
    block_q4_0 z[2] = {0};
    CHECK(lk_dequantize_row(T_Q4_0, z, out, 33) == -1, "q4_0 n = 33");
    CHECK(lk_dequantize_row(T_Q4_0, z, out, -32) == -1, "negative n");
    CHECK(lk_dequantize_row(16, z, out, 256) == -1, "iq2_xxs has no dequantizer");
    CHECK(lk_dequantize_row(4, z, out, 32) == -1, "type 4 does not exist");
    CHECK(lk_quantize_row(T_Q4_K, out, z, 32) == -1, "q4_K n = 32");
    CHECK(lk_quantize_row(20, out, z, 32) == -1, "iq4_nl has no quantizer");
    CHECK(lk_quantize_row(1000, out, z, 32) == -1, "unknown id");
}

/* ---------------------------------------------------------------------------
 * Quantizer round trips: error bounds on random and edge rows
 * ------------------------------------------------------------------------- */

#define NROW 1024

static const uint32_t QTYPES[] = {T_F16, T_BF16, T_Q4_0, T_Q4_1, T_Q5_0, T_Q5_1, T_Q8_0, T_Q8_1,
                                  T_Q2_K, T_Q3_K, T_Q4_K, T_Q5_K, T_Q6_K, T_Q8_K};
#define N_QTYPES (int)(sizeof QTYPES / sizeof QTYPES[0])

/* The f16 rounding of a block scale s: half an ulp, which is absolute (2^-25) once s is
 * small enough to be a subnormal half. */
static double f16_slack(double s) { return fmax(fabs(s) / 2048, ldexp(1, -25)); }

/* The largest error a value may have, given its block's |max| (amax), range (max - min)
 * and min, for the formats with a closed-form bound; -1 for the K-quants (judged by RMSE).
 * A level k of a scale d stored as f16 is off by at most k * f16_slack(d). */
static double error_bound(uint32_t type, double x, double amax, double range, double min)
{
    double d;
    switch (type) {
    case T_F16: return f16_slack(x);
    case T_BF16: return fabs(x) / 256;
    /* the largest magnitude maps to -8 (-16) exactly; its negation clamps to 7 (15): a step */
    case T_Q4_0: d = amax / 8; return (d + 8 * f16_slack(d)) * 1.0001;
    case T_Q5_0: d = amax / 16; return (d + 16 * f16_slack(d)) * 1.0001;
    case T_Q4_1: d = range / 15; return (d / 2 + 15 * f16_slack(d) + f16_slack(min)) * 1.0001;
    case T_Q5_1: d = range / 31; return (d / 2 + 31 * f16_slack(d) + f16_slack(min)) * 1.0001;
    case T_Q8_0:
    case T_Q8_1: d = amax / 127; return (d / 2 + 127 * f16_slack(d)) * 1.0001;
    case T_Q8_K: return amax / 127 * 0.5 * 1.0001; /* a float scale */
    default: return -1;
    }
}

/* RMSE of a K-quant round trip relative to the row's RMS, on the bell-shaped rows of
 * rnd_normal: the ceilings sit ~1.3x above what the reference search reaches. */
static double k_rel_rmse_ceiling(uint32_t type)
{
    switch (type) {
    case T_Q2_K: return 0.42;
    case T_Q3_K: return 0.23;
    case T_Q4_K: return 0.105;
    case T_Q5_K: return 0.052;
    case T_Q6_K: return 0.026;
    default: return 0;
    }
}

static size_t row_bytes(uint32_t type, int n) { return lk_row_bytes(type, n); }

/* Quantizes and dequantizes x; returns the number of values beyond their bound (or for
 * K-quants checks RMSE), and stores the relative RMSE. */
static int round_trip(uint32_t type, const float *x, int n, float *y, double *rel_rmse)
{
    static uint8_t q[NROW * 4 + 1024];
    int bs = (int)lk_type(type)->block_size, bad = 0;
    memset(q, 0xa5, sizeof q); /* every byte of the output must be written */
    CHECK(lk_quantize_row(type, x, q, n) == 0, "%s quantize", lk_type(type)->name);
    CHECK(lk_dequantize_row(type, q, y, n) == 0, "%s dequantize", lk_type(type)->name);
    double se = 0, sx = 0;
    for (int b0 = 0; b0 < n; b0 += (bs > 1 ? bs : 32)) {
        int len = bs > 1 ? bs : 32;
        double amax = 0, mn = INFINITY, mx = -INFINITY;
        for (int i = b0; i < b0 + len; i++) {
            amax = fmax(amax, fabs(x[i]));
            mn = fmin(mn, x[i]);
            mx = fmax(mx, x[i]);
        }
        for (int i = b0; i < b0 + len; i++) {
            double err = fabs((double)y[i] - (double)x[i]);
            double bound = error_bound(type, x[i], amax, mx - mn, mn);
            if (!(bound < 0 ? isfinite(y[i]) : err <= bound)) {
                if (bad < 3)
                    printf("  %s element %d: x %.9g -> %.9g (err %.3g, bound %.3g)\n",
                           lk_type(type)->name, i, x[i], y[i], err, bound);
                bad++;
            }
            se += err * err;
            sx += (double)x[i] * x[i];
        }
    }
    *rel_rmse = sx > 0 ? sqrt(se / sx) : sqrt(se / n);
    return bad;
}

static void test_round_trips(void)
{
    static float x[NROW], y[NROW];
    for (int t = 0; t < N_QTYPES; t++) {
        uint32_t type = QTYPES[t];
        const char *name = lk_type(type)->name;
        double rel;

        /* bell-shaped random values at three magnitudes */
        const float mags[3] = {1e-3f, 1.0f, 300.0f};
        double worst = 0;
        for (int m = 0; m < 3; m++) {
            for (int i = 0; i < NROW; i++)
                x[i] = rnd_normal() * mags[m];
            int bad = round_trip(type, x, NROW, y, &rel);
            CHECK(bad == 0, "%s: %d random values beyond their bound (scale %g)", name, bad, mags[m]);
            worst = fmax(worst, rel);
        }
        double ceiling = k_rel_rmse_ceiling(type);
        if (ceiling > 0)
            CHECK(worst <= ceiling, "%s: relative RMSE %.4f above %.3f", name, worst, ceiling);
        printf("  %-5s random rows: worst relative RMSE %.5f\n", name, worst);

        /* all zero, and all negative zero: exact zeros back, no NaN */
        for (int neg = 0; neg < 2; neg++) {
            for (int i = 0; i < NROW; i++)
                x[i] = neg ? -0.0f : 0.0f;
            round_trip(type, x, NROW, y, &rel);
            int nonzero = 0;
            for (int i = 0; i < NROW; i++)
                nonzero += y[i] != 0.0f;
            CHECK(nonzero == 0, "%s: %d of an all-%szero row come back nonzero", name, nonzero,
                  neg ? "negative-" : "");
        }

        /* one outlier among small values, in every block: the outlier itself survives */
        for (int i = 0; i < NROW; i++)
            x[i] = rnd_normal() * 0.01f;
        for (int i = 5; i < NROW; i += 256)
            x[i] = (i / 256) % 2 ? -40.0f : 40.0f;
        int bad = round_trip(type, x, NROW, y, &rel);
        CHECK(bad == 0, "%s: outlier row, %d values beyond bound", name, bad);
        int lost = 0;
        for (int i = 5; i < NROW; i += 256)
            lost += fabsf(y[i] - x[i]) > 0.02f * 40.0f;
        CHECK(lost == 0, "%s: %d outliers not reproduced within 2%%", name, lost);

        /* the largest magnitude an f16 holds, both signs, and one-signed rows */
        for (int i = 0; i < NROW; i++)
            x[i] = (i % 3 == 0 ? 65504.0f : (float)(i % 17) * 3000.0f) * (i % 2 ? -1 : 1);
        bad = round_trip(type, x, NROW, y, &rel);
        CHECK(bad == 0, "%s: max-magnitude row, %d values beyond bound", name, bad);
        int nonfinite = 0;
        for (int i = 0; i < NROW; i++)
            nonfinite += !isfinite(y[i]);
        CHECK(nonfinite == 0, "%s: max-magnitude row gives %d non-finite values", name, nonfinite);
        if (ceiling > 0)
            CHECK(rel <= ceiling * 1.5, "%s: max-magnitude row relative RMSE %.4f", name, rel);

        for (int i = 0; i < NROW; i++)
            x[i] = 1.0f + rnd_unit();
        bad = round_trip(type, x, NROW, y, &rel);
        CHECK(bad == 0, "%s: all-positive row, %d values beyond bound", name, bad);
        if (ceiling > 0)
            CHECK(rel <= ceiling, "%s: all-positive row relative RMSE %.4f", name, rel);
    }

    /* q8_1's s is d times the sum of its quants; q8_K's bsums are the sums of 16 */
    for (int i = 0; i < NROW; i++)
        x[i] = rnd_normal();
    block_q8_1 b1[NROW / 32];
    lk_quantize_row(T_Q8_1, x, b1, NROW);
    int bad_s = 0;
    for (int b = 0; b < NROW / 32; b++) {
        int sum = 0;
        float amax = 0;
        for (int j = 0; j < 32; j++) {
            sum += b1[b].qs[j];
            if (fabsf(x[32 * b + j]) > amax) /* not fmaxf: gcc 12 for aarch64 ICEs on it here */
                amax = fabsf(x[32 * b + j]);
        }
        bad_s += b1[b].s != lk_f32_to_f16((float)sum * (amax / 127));
    }
    CHECK(bad_s == 0, "%d q8_1 blocks with s != d * sum(qs)", bad_s);
    block_q8_K bk[NROW / 256];
    lk_quantize_row(T_Q8_K, x, bk, NROW);
    int bad_sums = 0;
    for (int b = 0; b < NROW / 256; b++)
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++)
                sum += bk[b].qs[16 * g + j];
            bad_sums += bk[b].bsums[g] != sum;
        }
    CHECK(bad_sums == 0, "%d q8_K bsums differ from the sums of their 16 quants", bad_sums);
    /* q8_K rounds half to even (ggml's nearest_int) */
    for (int i = 0; i < 256; i++)
        x[i] = 0;
    x[0] = 127.0f; /* the largest magnitude goes to -127: iscale = -1 */
    x[1] = 2.5f;
    x[2] = 3.5f;
    x[3] = -2.5f;
    lk_quantize_row(T_Q8_K, x, bk, 256);
    CHECK(bk[0].qs[0] == -127 && bk[0].qs[1] == -2 && bk[0].qs[2] == -4 && bk[0].qs[3] == 2,
          "q8_K rounding: %d %d %d %d", bk[0].qs[0], bk[0].qs[1], bk[0].qs[2], bk[0].qs[3]);
    CHECK(bk[0].d == -1.0f, "q8_K d = %g", bk[0].d);
    /* q8_0 rounds half away from zero (roundf), as ggml does */
    block_q8_0 b0[1];
    for (int i = 0; i < 32; i++)
        x[i] = 0;
    x[0] = 127.0f; /* d = 1 */
    x[1] = 2.5f;
    x[2] = -2.5f;
    lk_quantize_row(T_Q8_0, x, b0, 32);
    CHECK(b0[0].qs[0] == 127 && b0[0].qs[1] == 3 && b0[0].qs[2] == -3, "q8_0 rounding %d %d %d",
          b0[0].qs[0], b0[0].qs[1], b0[0].qs[2]);
}

/* ---------------------------------------------------------------------------
 * Real tensors: byte identity and RMSE against llama.cpp's quantizations
 * ------------------------------------------------------------------------- */

/* "rmse" of tensor `name` under type `type` in reference-rmse.json; -1 when absent.
 * The file is flat enough that locating the keys in order is a faithful reading. */
static double ref_rmse(const char *json, const char *type, const char *name)
{
    char key[160];
    snprintf(key, sizeof key, "\"%s\": {", type);
    const char *sec = strstr(json, key);
    if (!sec)
        return -1;
    const char *end = strstr(sec + 1, "\n }");
    snprintf(key, sizeof key, "\"%s\": {", name);
    const char *t = strstr(sec, key);
    if (!t || (end && t > end))
        return -1;
    const char *r = strstr(t, "\"rmse\":");
    return r ? strtod(r + 7, NULL) : -1;
}

static double rmse(const float *a, const float *b, uint64_t n)
{
    double se = 0;
    for (uint64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        se += d * d;
    }
    return sqrt(se / (double)n);
}

static void test_real_tensors(void)
{
    const char *f16_path = test_data_path("vectors/quant/probe-f16.gguf");
    const char *json_path = test_data_path("vectors/quant/reference-rmse.json");
    if (!f16_path || !json_path)
        return;
    char *json = test_read_file(json_path, NULL);
    latent_gguf *src = NULL;
    CHECK(json != NULL, "read %s", json_path);
    CHECK(latent_gguf_open(f16_path, &src) == LATENT_OK, "open %s: %s", f16_path, latent_last_error());
    if (!json || !src) {
        free(json);
        latent_gguf_free(src);
        return;
    }

    static const struct {
        const char *file, *json;
        uint32_t type;
        int exact; /* 1: byte identity required */
    } TYPES[] = {
        {"Q4_0", "Q4_0", T_Q4_0, 1}, {"Q4_1", "Q4_1", T_Q4_1, 1}, {"Q5_0", "Q5_0", T_Q5_0, 1},
        {"Q5_1", "Q5_1", T_Q5_1, 1}, {"Q8_0", "Q8_0", T_Q8_0, 1}, {"Q2_K", "Q2_K", T_Q2_K, 0},
        {"Q3_K", "Q3_K", T_Q3_K, 0}, {"Q4_K", "Q4_K", T_Q4_K, 0}, {"Q5_K", "Q5_K", T_Q5_K, 0},
        {"Q6_K", "Q6_K", T_Q6_K, 0},
    };
    /* Ours may be at most this much worse than llama.cpp's per tensor. The searches are
     * ggml's, in ggml's float order, so the honest figure is 1.0; the slack covers a
     * compiler that reorders a sum. */
    const double K_FACTOR = 1.02;

    printf("  %-5s %8s %8s %12s %12s %s\n", "type", "tensors", "same", "rmse ours", "rmse ref",
           "worst ours/ref");
    for (size_t t = 0; t < sizeof TYPES / sizeof TYPES[0]; t++) {
        char rel[64];
        snprintf(rel, sizeof rel, "vectors/quant/probe-%s.gguf", TYPES[t].file);
        const char *path = test_data_path(rel);
        latent_gguf *qf = NULL;
        if (!path)
            continue;
        if (latent_gguf_open(path, &qf) != LATENT_OK) {
            CHECK(0, "open %s: %s", path, latent_last_error());
            continue;
        }
        int n_tensors = 0, n_same = 0;
        double se_ours = 0, se_ref = 0, n_all = 0, worst = 0;
        for (int64_t i = 0; i < latent_gguf_n_tensors(src); i++) {
            const latent_gguf_tensor *s = latent_gguf_tensor_at(src, i);
            if (s->n_dims != 2)
                continue;
            const latent_gguf_tensor *q = latent_gguf_find_tensor(qf, s->name);
            CHECK(q && q->type == TYPES[t].type && q->n_elements == s->n_elements,
                  "%s: tensor %s missing or not %s", path, s->name, TYPES[t].file);
            if (!q || q->type != TYPES[t].type || q->n_elements != s->n_elements)
                continue;
            uint64_t n = s->n_elements, row = s->ne[0];
            size_t qbytes = row_bytes(TYPES[t].type, (int)row) * (n / row);
            float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
            uint8_t *ours = malloc(qbytes);
            if (!x || !y || !ours) {
                CHECK(0, "out of memory");
                free(x), free(y), free(ours);
                continue;
            }
            CHECK(lk_dequantize_row(s->type, s->data, x, (int64_t)n) == 0, "f16 source %s", s->name);
            CHECK(q->size == qbytes, "%s %s: %llu bytes, expected %zu", TYPES[t].file, s->name,
                  (unsigned long long)q->size, qbytes);
            /* row by row, as llama-quantize does (a block never straddles rows anyway) */
            for (uint64_t r = 0; r < n / row; r++)
                lk_quantize_row(TYPES[t].type, x + r * row, ours + r * (qbytes / (n / row)), (int64_t)row);
            int same = q->size == qbytes && memcmp(ours, q->data, qbytes) == 0;
            n_tensors++;
            n_same += same;
            if (TYPES[t].exact)
                CHECK(same, "%s %s: our blocks differ from llama.cpp's", TYPES[t].file, s->name);

            /* their blocks through our dequantizer must give the error the reference
             * recorded: a check of the dequantizer on real data */
            double want = ref_rmse(json, TYPES[t].json, s->name);
            CHECK(want >= 0, "%s %s: no reference RMSE", TYPES[t].json, s->name);
            lk_dequantize_row(q->type, q->data, y, (int64_t)n);
            double theirs = rmse(x, y, n);
            CHECK(fabs(theirs - want) <= 1e-6 * want + 1e-12,
                  "%s %s: dequantized reference RMSE %.9g, json says %.9g", TYPES[t].file,
                  s->name, theirs, want);
            lk_dequantize_row(TYPES[t].type, ours, y, (int64_t)n);
            double mine = rmse(x, y, n);
            double ratio = theirs > 0 ? mine / theirs : (mine > 0 ? INFINITY : 1);
            if (!TYPES[t].exact)
                CHECK(ratio <= K_FACTOR, "%s %s: RMSE %.6g vs reference %.6g (x%.4f)",
                      TYPES[t].file, s->name, mine, theirs, ratio);
            worst = fmax(worst, ratio);
            se_ours += mine * mine * (double)n;
            se_ref += theirs * theirs * (double)n;
            n_all += (double)n;
            free(x), free(y), free(ours);
        }
        printf("  %-5s %8d %8d %12.6g %12.6g %.4f\n", TYPES[t].file, n_tensors, n_same,
               sqrt(se_ours / n_all), sqrt(se_ref / n_all), worst);
        latent_gguf_free(qf);
    }
    latent_gguf_free(src);
    free(json);
}

/* ---------------------------------------------------------------------------
 * The public wrappers
 * ------------------------------------------------------------------------- */

static void test_public(void)
{
    CHECK(latent_type_name(LATENT_TYPE_Q4_K) && !strcmp(latent_type_name(LATENT_TYPE_Q4_K), "q4_K"), "name q4_K");
    CHECK(latent_type_name(LATENT_TYPE_BF16) && !strcmp(latent_type_name(LATENT_TYPE_BF16), "bf16"), "name bf16");
    CHECK(latent_type_name(4) == NULL && latent_type_name(100000) == NULL, "unknown ids have no name");
    CHECK(latent_type_block_size(LATENT_TYPE_Q6_K) == 256 && latent_type_block_bytes(LATENT_TYPE_Q6_K) == 210, "q6_K sizes");
    CHECK(latent_type_block_size(LATENT_TYPE_F16) == 1 && latent_type_block_bytes(LATENT_TYPE_F16) == 2, "f16 sizes");
    CHECK(latent_type_block_size(5) == 0 && latent_type_block_bytes(5) == 0, "unknown id sizes");
    CHECK(latent_type_supported(LATENT_TYPE_Q5_K) && latent_type_supported(LATENT_TYPE_BF16), "supported");
    CHECK(!latent_type_supported(16) && !latent_type_supported(999), "iq2_xxs and unknown unsupported");

    float x[64] = {0}, y[64];
    block_q4_0 q[2];
    CHECK(latent_quantize_row(LATENT_TYPE_Q4_0, x, q, 64) == LATENT_OK, "quantize ok");
    CHECK(latent_dequantize_row(LATENT_TYPE_Q4_0, q, y, 64) == LATENT_OK, "dequantize ok");
    CHECK(latent_quantize_row(LATENT_TYPE_Q4_0, x, q, 0) == LATENT_OK, "n = 0 is an empty row");

    CHECK(latent_quantize_row(LATENT_TYPE_Q4_0, x, q, 33) == LATENT_EINVAL, "n = 33");
    CHECK(strstr(latent_last_error(), "q4_0") != NULL, "message names the type: %s", latent_last_error());
    CHECK(latent_dequantize_row(LATENT_TYPE_Q4_K, q, y, 64) == LATENT_EINVAL, "q4_K n = 64");
    CHECK(strstr(latent_last_error(), "q4_K") != NULL, "message names the type: %s", latent_last_error());
    CHECK(latent_quantize_row(LATENT_TYPE_F32, x, q, -1) == LATENT_EINVAL, "negative n");
    CHECK(latent_quantize_row(16, x, q, 256) == LATENT_EINVAL, "iq2_xxs quantize");
    CHECK(strstr(latent_last_error(), "iq2_xxs") != NULL, "message names iq2_xxs: %s", latent_last_error());
    CHECK(latent_dequantize_row(23, q, y, 256) == LATENT_EINVAL, "iq4_xs dequantize");
    CHECK(strstr(latent_last_error(), "iq4_xs") != NULL, "message names iq4_xs: %s", latent_last_error());
    CHECK(latent_dequantize_row(4, q, y, 32) == LATENT_EINVAL, "id 4");
    CHECK(strstr(latent_last_error(), "4") != NULL, "message names the id: %s", latent_last_error());
    CHECK(latent_quantize_row(LATENT_TYPE_Q8_0, NULL, q, 32) == LATENT_EINVAL, "NULL src");
    CHECK(latent_quantize_row(LATENT_TYPE_Q8_0, x, NULL, 32) == LATENT_EINVAL, "NULL dst");
    CHECK(latent_dequantize_row(LATENT_TYPE_Q8_0, NULL, y, 32) == LATENT_EINVAL, "NULL src");
    CHECK(latent_dequantize_row(LATENT_TYPE_Q8_0, q, NULL, 32) == LATENT_EINVAL, "NULL dst");
}

/* Regression (fuzz_model): activations that overflowed (NaN, infinity) or blocks so small
 * that 1/d is infinite reach the q8 activation quantizers; they must convert without
 * undefined behaviour (the sanitizer build checks) and stay within [-127, 127]. */
static void test_hostile_activations(void)
{
    float x[QK8_0];
    block_q8_0 b0;
    block_q8_1 b1;
    const float fills[] = {NAN, INFINITY, -INFINITY, 1e-40f, -1e-42f, 3e38f};
    for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++) {
        for (int j = 0; j < QK8_0; j++)
            x[j] = j % 3 == 0 ? fills[f] : (j % 3 == 1 ? 1e-41f : -0.5f * (float)j);
        CHECK(lk_quantize_row(LATENT_TYPE_Q8_0, x, &b0, QK8_0) == 0, "q8_0 fill %zu", f);
        CHECK(lk_quantize_row(LATENT_TYPE_Q8_1, x, &b1, QK8_1) == 0, "q8_1 fill %zu", f);
        int ok = 1;
        for (int j = 0; j < QK8_0; j++)
            ok &= b0.qs[j] != -128 && b1.qs[j] != -128; /* int8 holds the rest of the range */
        CHECK(ok, "fill %g: quants outside [-127, 127]", (double)fills[f]);
    }
}

int main(void)
{
    test_hostile_activations();
    test_f16();
    test_bf16();
    test_dequant_simple();
    test_dequant_k();
    test_round_trips();
    test_real_tensors();
    test_public();
    return test_done();
}
