/*
 * neon.c — the aarch64 kernels: ARMv8.0-A Advanced SIMD, tuned for the Cortex-A72 of a
 * Raspberry Pi 4 (no sdot/udot, no fp16 arithmetic), tested against scalar.c. The same
 * text builds for ARMv8 in AArch32 (32-bit Raspberry Pi OS) through the section that
 * supplies the AArch64 intrinsics AArch32 lacks.
 *
 * Same scheme as the oracle: the activations are quantized once per call (in NEON, with
 * the reference quantizer's float operations in the same order, so the q8 blocks are
 * lk_quantize_row's bit for bit, only laid out for the loads below), integer dot
 * products are taken per block, and each block's sum is scaled in float by the two
 * block scales.
 *
 * The instruction mix. Without sdot, the integer dot product of 16 signed bytes is
 * smull (8 low lanes) + smlal2 (8 high lanes) into 8 int16 lanes: two instructions for
 * 16 multiply-adds, both on the A72's F0 pipe. Everything else is arranged so that it
 * costs little next to those two:
 *   - products stay in int16 lanes as long as they provably fit: a lane holds at most
 *     32767 / max|w * y| products (the activations are in -127..127, as lk_quantize_row
 *     makes them), so 4-bit blocks of 32 sum whole in a lane, 5- and 6-bit ones over
 *     half or a quarter of a block;
 *   - the lanes of several blocks (or sub-blocks) are then folded together with addp
 *     (pairwise add, F1 pipe) and widened once with saddlp, so four blocks reach four
 *     int32 lanes in 3-5 instructions instead of a horizontal sum each;
 *   - block scales: four 32-element blocks' f16 scales are gathered with four 32-bit
 *     loads, zip/uzp and one fcvtl (q4_1's m comes with d in the same loads), then one
 *     fmul + one fmla per token scale four blocks; K-quant sub-block scales multiply
 *     int32 lanes (mul/mla), still exact;
 *   - constant offsets (q4_0's -8, q5_0's -16) are taken in integers from the sums of the
 *     activation quants, which the activation layout precomputes, instead of per weight.
 * Measured with ../shared/tools/insncount.c (qemu, -mcpu=cortex-a72, a 512 x 4096 matrix,
 * one token, everything a matmul call does): instructions per weight byte, scalar -> NEON,
 *   q4_0 3.07 -> 0.82   q4_1 4.67 -> 0.78   q8_0 1.60 -> 0.45   q4_K 3.90 -> 0.82
 *   q6_K 6.66 -> 0.68   q5_K 4.11 -> 0.95   q5_0 6.33 -> 1.02   q5_1 6.81 -> 0.96
 *   q2_K 12.3 -> 1.50   q3_K 15.0 -> 1.82   f32 1.75 -> 0.19    f16 10.0 -> 0.50
 * (per weight rather than per byte, q4_0 is 0.46 and q2_K 0.49; rows of 576, SmolLM2's
 * width, cost q4_1 0.86 and q8_0 0.50).
 * q4_0's inner loop is 57 instructions per 4 blocks (72 bytes): 16 smull/smlal, 8 to
 * split nibbles, 10 loads, 8 to gather and convert the f16 scales, 8 to fold, offset,
 * convert and accumulate, the rest addressing. A Pi 4 core streams ~1.2 GB/s of the
 * shared ~4.8 GB/s at 1.5 GHz, about 1.25 cycles per byte: under one instruction per byte
 * leaves the four cores memory-bound rather than compute-bound.
 *
 * With __ARM_FEATURE_DOTPROD (ARCH_FLAGS=-mcpu=cortex-a76 for a Pi 5) sdot forms the
 * block and sub-block sums in int32 lanes instead; the default A72 build holds no sdot.
 *
 * A row is dotted with up to four tokens at once: its blocks are loaded and unpacked once
 * and used for each token. Each token keeps its own accumulators and sees the same
 * sequence of operations whatever the number of tokens beside it, so a batch gives bit for
 * bit the results of one token at a time, and the thread split cannot change them either.
 */
#include "kernels.h"

#if defined(__ARM_NEON) && (defined(__aarch64__) || (__ARM_ARCH >= 8 && defined(__ARM_FEATURE_FMA))) && \
    !defined(LATENT_FORCE_SCALAR)

#include <arm_neon.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "quant.h"
#include "rows.h"

#define GROUP 4   /* 32-element blocks whose sums share one vector of four lanes */
#define INLINE static inline __attribute__((always_inline))

/* ---------------------------------------------------------------------------
 * AArch32 (32-bit Raspberry Pi OS, -march=armv8-a -mfpu=neon-fp-armv8): the AArch64
 * intrinsics it lacks, written with the ones it has, under the same names so that the
 * kernels below are one text for both. Each gives the AArch64 instruction's result bit
 * for bit (float sums added in the same pairs). One difference stays, and the tests
 * allow for it: AArch32's Advanced SIMD flushes subnormal floats to zero.
 * ------------------------------------------------------------------------- */
#ifndef __aarch64__
INLINE uint32x2_t vzip1_u32(uint32x2_t a, uint32x2_t b) { return vzip_u32(a, b).val[0]; }
INLINE uint32x2_t vzip2_u32(uint32x2_t a, uint32x2_t b) { return vzip_u32(a, b).val[1]; }
INLINE uint16x4_t vuzp1_u16(uint16x4_t a, uint16x4_t b) { return vuzp_u16(a, b).val[0]; }
INLINE uint16x4_t vuzp2_u16(uint16x4_t a, uint16x4_t b) { return vuzp_u16(a, b).val[1]; }
INLINE int16x8_t vmlal_high_s8(int16x8_t acc, int8x16_t a, int8x16_t b)
{
    return vmlal_s8(acc, vget_high_s8(a), vget_high_s8(b));
}
INLINE int32x4_t vmlal_high_s16(int32x4_t acc, int16x8_t a, int16x8_t b)
{
    return vmlal_s16(acc, vget_high_s16(a), vget_high_s16(b));
}
INLINE int16x8_t vmovl_high_s8(int8x16_t v) { return vmovl_s8(vget_high_s8(v)); }
INLINE uint16x8_t vmovl_high_u8(uint8x16_t v) { return vmovl_u8(vget_high_u8(v)); }
INLINE int32x4_t vmovl_high_s16(int16x8_t v) { return vmovl_s16(vget_high_s16(v)); }
INLINE uint32x4_t vmovl_high_u16(uint16x8_t v) { return vmovl_u16(vget_high_u16(v)); }
INLINE int32x4_t vpaddq_s32(int32x4_t a, int32x4_t b)
{
    return vcombine_s32(vpadd_s32(vget_low_s32(a), vget_high_s32(a)), vpadd_s32(vget_low_s32(b), vget_high_s32(b)));
}
INLINE int16x8_t vpaddq_s16(int16x8_t a, int16x8_t b)
{
    return vcombine_s16(vpadd_s16(vget_low_s16(a), vget_high_s16(a)), vpadd_s16(vget_low_s16(b), vget_high_s16(b)));
}
INLINE int32_t vaddvq_s32(int32x4_t v)
{
    int32x2_t p = vpadd_s32(vget_low_s32(v), vget_high_s32(v));
    return vget_lane_s32(vpadd_s32(p, p), 0);
}
/* faddp's order: (v0 + v1) + (v2 + v3) */
INLINE float vaddvq_f32(float32x4_t v)
{
    float32x2_t p = vpadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(vpadd_f32(p, p), 0);
}
INLINE float vmaxvq_f32(float32x4_t v)
{
    float32x2_t p = vpmax_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(vpmax_f32(p, p), 0);
}
INLINE float32x4_t vfmaq_n_f32(float32x4_t acc, float32x4_t a, float b) { return vfmaq_f32(acc, a, vdupq_n_f32(b)); }
INLINE float32x4_t vdivq_f32(float32x4_t a, float32x4_t b)
{
    float x[4], y[4];
    vst1q_f32(x, a);
    vst1q_f32(y, b);
    for (int i = 0; i < 4; i++)
        x[i] /= y[i];
    return vld1q_f32(x);
}
INLINE uint8x16_t vqtbl1q_u8(uint8x16_t table, uint8x16_t index)
{
    uint8x8x2_t t = {{vget_low_u8(table), vget_high_u8(table)}};
    return vcombine_u8(vtbl2_u8(t, vget_low_u8(index)), vtbl2_u8(t, vget_high_u8(index)));
}
/* f16 -> f32 is an ARMv8 instruction (vcvt.f32.f16); only the C type for it needs
 * -mfp16-format=ieee, which a plain -mfpu=neon-fp-armv8 build does not have. */
INLINE float32x4_t halves_to_f32(uint16x4_t h)
{
    float32x4_t f;
    __asm__("vcvt.f32.f16 %q0, %P1" : "=w"(f) : "w"(h));
    return f;
}
static inline float half_to_float(lk_half h)
{
    return vgetq_lane_f32(halves_to_f32(vdup_n_u16(h)), 0);
}
/* Two doubles, for the sums the oracle takes in double (rmsnorm, softmax). */
typedef struct {
    double v[2];
} float64x2_t;
INLINE float64x2_t vdupq_n_f64(double x) { return (float64x2_t){{x, x}}; }
INLINE float64x2_t vcvt_f64_f32(float32x2_t f)
{
    return (float64x2_t){{vget_lane_f32(f, 0), vget_lane_f32(f, 1)}};
}
INLINE float64x2_t vcvt_high_f64_f32(float32x4_t f) { return vcvt_f64_f32(vget_high_f32(f)); }
INLINE float64x2_t vaddq_f64(float64x2_t a, float64x2_t b) { return (float64x2_t){{a.v[0] + b.v[0], a.v[1] + b.v[1]}}; }
INLINE float64x2_t vfmaq_f64(float64x2_t acc, float64x2_t a, float64x2_t b)
{
    return (float64x2_t){{fma(a.v[0], b.v[0], acc.v[0]), fma(a.v[1], b.v[1], acc.v[1])}};
}
INLINE double vaddvq_f64(float64x2_t a) { return a.v[0] + a.v[1]; }
#else
INLINE float32x4_t halves_to_f32(uint16x4_t h) { return vcvt_f32_f16(vreinterpret_f16_u16(h)); }
static inline float half_to_float(lk_half h)
{
    __fp16 f; /* fcvt: base ARMv8.0 floating point, no fp16 arithmetic needed */
    memcpy(&f, &h, sizeof f);
    return (float)f;
}
#endif

/* The 32-bit word at p (ldr s, immediate offsets). */
INLINE uint32x2_t word_at(const void *p)
{
    uint32_t w;
    memcpy(&w, p, sizeof w);
    return vcreate_u32(w);
}

/* The f16 pairs at the start of four blocks stride bytes apart (d and the next two bytes:
 * q4_1 / q5_1's m): four ldr s, two zip1, one uzp1 per half, one fcvtl per half, where
 * lane loads would each need an address register of their own. */
/* ... of the first nvalid blocks (a compile-time constant); the other lanes are zero. */
INLINE void halves4_words(const char *c, size_t stride, int nvalid, uint16x4_t *v01, uint16x4_t *v23)
{
    uint32x2_t w[4];
    UNROLL
    for (int i = 0; i < 4; i++)
        w[i] = i < nvalid ? word_at(c + i * stride) : vdup_n_u32(0);
    *v01 = vreinterpret_u16_u32(vzip1_u32(w[0], w[1]));
    *v23 = vreinterpret_u16_u32(vzip1_u32(w[2], w[3]));
}
INLINE float32x4_t halves4(const void *p, size_t stride, int nvalid)
{
    uint16x4_t v01, v23;
    halves4_words(p, stride, nvalid, &v01, &v23);
    return halves_to_f32(vuzp1_u16(v01, v23));
}
INLINE void halves4_pairs(const void *p, size_t stride, int nvalid, float32x4_t *first, float32x4_t *second)
{
    uint16x4_t v01, v23;
    halves4_words(p, stride, nvalid, &v01, &v23);
    *first = halves_to_f32(vuzp1_u16(v01, v23));
    *second = halves_to_f32(vuzp2_u16(v01, v23));
}

/* 32 or 64 bytes as separate q registers: plain loads pair into ldp with an immediate
 * offset, where ld1 {v0-v3} only post-increments (one address register per load) and
 * ties its registers together. */
INLINE int8x16x2_t load_s8_x2(const int8_t *p)
{
    int8x16x2_t v = {{vld1q_s8(p), vld1q_s8(p + 16)}};
    return v;
}
INLINE uint8x16x2_t load_u8_x2(const uint8_t *p)
{
    uint8x16x2_t v = {{vld1q_u8(p), vld1q_u8(p + 16)}};
    return v;
}
INLINE int8x16x4_t load_s8_x4(const int8_t *p)
{
    int8x16x4_t v = {{vld1q_s8(p), vld1q_s8(p + 16), vld1q_s8(p + 32), vld1q_s8(p + 48)}};
    return v;
}
INLINE uint8x16x4_t load_u8_x4(const uint8_t *p)
{
    uint8x16x4_t v = {{vld1q_u8(p), vld1q_u8(p + 16), vld1q_u8(p + 32), vld1q_u8(p + 48)}};
    return v;
}

/* 16 weight bytes times 16 activation bytes, into 8 int16 lanes of 2 products each
 * (accumulated onto p). */
INLINE int16x8_t mul16(int8x16_t w, int8x16_t y)
{
    return vmlal_high_s8(vmull_s8(vget_low_s8(w), vget_low_s8(y)), w, y);
}
INLINE int16x8_t mla16(int16x8_t p, int8x16_t w, int8x16_t y)
{
    return vmlal_high_s8(vmlal_s8(p, vget_low_s8(w), vget_low_s8(y)), w, y);
}

#ifdef __ARM_FEATURE_DOTPROD
/* ARMv8.2 dot product (the Cortex-A76 of a Pi 5; never on the A72, where qemu -cpu
 * cortex-a72 would make it SIGILL): 16 products into 4 int32 lanes in one sdot, so the
 * int16 folding below is not needed. Build with ARCH_FLAGS=-mcpu=cortex-a76. */
INLINE int32x4_t dot32(int8x16_t w0, int8x16_t y0, int8x16_t w1, int8x16_t y1)
{
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, y0), w1, y1);
}
#endif

/* ---------------------------------------------------------------------------
 * Activations for the 32-element block types, as the kernels read them. One token:
 *   int8_t  qs[nbp * 32]  the q8_0 (or q8_1) quants, block after block
 *   float   d[nbp]        block scales
 *   float   s[nbp]        q8_1's s (d * sum of the quants, as the f16 the block stores)
 *   int32_t sum[nbp]      sum of the block's quants, for the integer offsets of q4_0/q5_0
 * nbp is the block count rounded up to GROUP, the padding zero, so a group of four never
 * reads past a row. The values are those of lk_quantize_row's blocks, field for field.
 * ------------------------------------------------------------------------- */

static inline int64_t padded_blocks(int64_t nb)
{
    return (nb + GROUP - 1) / GROUP * GROUP;
}

static inline size_t a8_row_bytes(int64_t cols)
{
    return (size_t)padded_blocks(cols / QK8_0) * (QK8_0 + 3 * sizeof(float));
}

typedef struct {
    const int8_t *qs;
    const float *d, *s;
    const int32_t *sum;
} a8_row;

INLINE a8_row a8_at(const void *x, size_t x_stride, int t, int64_t nbp)
{
    const char *base = (const char *)x + (size_t)t * x_stride;
    a8_row r;
    r.qs = (const int8_t *)base;
    r.d = (const float *)(base + nbp * QK8_0);
    r.s = r.d + nbp;
    r.sum = (const int32_t *)(r.s + nbp);
    return r;
}

/* n floats (a multiple of 4) as 32-bit integers rounded the way roundf does (ties away
 * from zero: frinta), after multiplying by id; returns their largest magnitude first. */
static inline float abs_max(const float *x, int n)
{
    float32x4_t m = vdupq_n_f32(0);
    for (int i = 0; i < n; i += 4)
        m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + i)));
    return vmaxvq_f32(m);
}

/* q8_0 / q8_1 as lk_quantize_row makes them, one block of 32: d = amax / 127, the quants
 * roundf(x * (1 / d)), q8_1's s = d * sum; the same float operations in the same order,
 * so the same bits (the scalar oracle quantizes with quant.c, and test_kernels' one-block
 * rows would see a single differing quant). */
static void prepare_a8(uint32_t act_type, const float *x, int64_t cols, void *dst)
{
    int64_t nb = cols / QK8_0, nbp = padded_blocks(nb);
    int8_t *qs = dst;
    float *d = (float *)(qs + nbp * QK8_0), *s = d + nbp;
    int32_t *sum = (int32_t *)(s + nbp);
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * QK8_0;
        float amax = abs_max(xb, QK8_0);
        float db = amax / 127, id = db ? 1.0f / db : 0.0f;
        int32x4_t q[8];
        UNROLL
        for (int i = 0; i < 8; i++)
            q[i] = vcvtq_s32_f32(vrndaq_f32(vmulq_n_f32(vld1q_f32(xb + 4 * i), id)));
        int16x8_t h[4];
        UNROLL
        for (int i = 0; i < 4; i++)
            h[i] = vcombine_s16(vmovn_s32(q[2 * i]), vmovn_s32(q[2 * i + 1]));
        vst1q_s8(qs + b * QK8_0, vcombine_s8(vmovn_s16(h[0]), vmovn_s16(h[1])));
        vst1q_s8(qs + b * QK8_0 + 16, vcombine_s8(vmovn_s16(h[2]), vmovn_s16(h[3])));
        int32_t total = vaddvq_s32(vaddq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3])),
                                             vaddq_s32(vaddq_s32(q[4], q[5]), vaddq_s32(q[6], q[7]))));
        d[b] = half_to_float(lk_f32_to_f16(db));
        s[b] = act_type == T_Q8_1 ? half_to_float(lk_f32_to_f16((float)total * db)) : 0.0f;
        sum[b] = total;
    }
    for (int64_t b = nb; b < nbp; b++) {
        memset(qs + b * QK8_0, 0, QK8_0);
        d[b] = s[b] = 0;
        sum[b] = 0;
    }
}

/* ---------------------------------------------------------------------------
 * Row · tokens kernels. x points at token 0's activation row; token t's is
 * x + t * x_stride bytes. Written for a variable nt, instantiated for nt = 1..4 below so
 * the compiler unrolls the token loops.
 * ------------------------------------------------------------------------- */


/* q4_0, q4_1, q5_0, q5_1: one kernel, the layout chosen at compile time. */
enum { K_Q4_0, K_Q4_1, K_Q5_0, K_Q5_1 };

/* Byte j of the 32 fifth bits of a q5 block (bit j of the little-endian qh) as a mask:
 * elements 0..15 in m_lo, 16..31 in m_hi. tbl spreads qh byte j/8 to byte j, cmtst tests
 * bit j%8. */
INLINE void q5_masks(const uint8_t *qh, uint8x16_t spread_lo, uint8x16_t spread_hi,
                     uint8x16_t bit, uint8x16_t *m_lo, uint8x16_t *m_hi)
{
    uint32_t bits;
    memcpy(&bits, qh, sizeof bits);
    uint8x16_t v = vreinterpretq_u8_u32(vdupq_n_u32(bits));
    *m_lo = vtstq_u8(vqtbl1q_u8(v, spread_lo), bit);
    *m_hi = vtstq_u8(vqtbl1q_u8(v, spread_hi), bit);
}

static const uint8_t Q5_SPREAD[32] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                      2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
static const uint8_t BIT_OF_BYTE[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};

/* Four blocks at a time. Weights are unsigned (nibble, or nibble + 16 * fifth bit); the
 * low nibbles meet activations 0..15 of the block, the high ones 16..31. Per block the 16
 * smull/smlal lanes hold 4 products each; 4-bit blocks fold two addp levels deep in int16
 * (16 products of at most 15 * 127 per lane: 30480), 5-bit ones one level (8 of at most
 * 31 * 127: 31496) before saddlp widens them. q4_0 / q5_0 then subtract 8 / 16 times the
 * block's activation sum, exactly; q4_1 / q5_1 add m * s in float. */
/* One group of four blocks at b (bs bytes each) for every token: acc[t] += the group's
 * four block sums in four lanes. */
INLINE void q4q5_group(const uint8_t *b, size_t bs, int64_t g, const void *x, size_t x_stride, int64_t nbp,
                       float32x4_t *acc, int nt, int kind, int nvalid)
{
    const size_t qs_off = kind == K_Q4_0   ? offsetof(block_q4_0, qs)
                          : kind == K_Q4_1 ? offsetof(block_q4_1, qs)
                          : kind == K_Q5_0 ? offsetof(block_q5_0, qs)
                                           : offsetof(block_q5_1, qs);
    const size_t qh_off = kind == K_Q5_0 ? offsetof(block_q5_0, qh) : offsetof(block_q5_1, qh);
    const int five = kind == K_Q5_0 || kind == K_Q5_1, has_m = kind == K_Q4_1 || kind == K_Q5_1;
    const int offset = kind == K_Q4_0 ? 8 : kind == K_Q5_0 ? 16 : 0;
    const uint8x16_t low4 = vdupq_n_u8(0x0F), sixteen = vdupq_n_u8(16);
    int8x16_t lo[GROUP], hi[GROUP];
    UNROLL
    for (int i = 0; i < GROUP; i++) {
        if (i >= nvalid) {
            lo[i] = hi[i] = vdupq_n_s8(0);
            continue;
        }
        uint8x16_t q = vld1q_u8(b + i * bs + qs_off);
        uint8x16_t l = vandq_u8(q, low4), h = vshrq_n_u8(q, 4);
        if (five) { /* nibble - mask * 16: mask is -1 where the fifth bit is set */
            uint8x16_t m_lo, m_hi;
            q5_masks(b + i * bs + qh_off, vld1q_u8(Q5_SPREAD), vld1q_u8(Q5_SPREAD + 16), vld1q_u8(BIT_OF_BYTE),
                     &m_lo, &m_hi);
            l = vmlsq_u8(l, m_lo, sixteen);
            h = vmlsq_u8(h, m_hi, sixteen);
        }
        lo[i] = vreinterpretq_s8_u8(l);
        hi[i] = vreinterpretq_s8_u8(h);
    }
    float32x4_t dw, mw = vdupq_n_f32(0);
    if (has_m)
        halves4_pairs(b, bs, nvalid, &dw, &mw);
    else
        dw = halves4(b, bs, nvalid);
    UNROLL
    for (int t = 0; t < nt; t++) {
        a8_row a = a8_at(x, x_stride, t, nbp);
        int32x4_t isum;
#ifdef __ARM_FEATURE_DOTPROD
        int32x4_t p[GROUP];
        UNROLL
        for (int i = 0; i < GROUP; i++) {
            if (i >= nvalid) {
                p[i] = vdupq_n_s32(0);
                continue;
            }
            int8x16x2_t y = load_s8_x2(a.qs + (g + i) * QK8_0);
            p[i] = dot32(lo[i], y.val[0], hi[i], y.val[1]);
        }
        isum = vpaddq_s32(vpaddq_s32(p[0], p[1]), vpaddq_s32(p[2], p[3]));
#else
        int16x8_t p[GROUP];
        UNROLL
        for (int i = 0; i < GROUP; i++) {
            if (i >= nvalid) {
                p[i] = vdupq_n_s16(0);
                continue;
            }
            int8x16x2_t y = load_s8_x2(a.qs + (g + i) * QK8_0);
            p[i] = mla16(mul16(lo[i], y.val[0]), hi[i], y.val[1]);
        }
        if (five)
            isum = vpaddq_s32(vpaddlq_s16(vpaddq_s16(p[0], p[1])), vpaddlq_s16(vpaddq_s16(p[2], p[3])));
        else
            isum = vpaddlq_s16(vpaddq_s16(vpaddq_s16(p[0], p[1]), vpaddq_s16(p[2], p[3])));
#endif
        if (offset)
            isum = vmlsq_n_s32(isum, vld1q_s32(a.sum + g), offset);
        float32x4_t d = vmulq_f32(dw, vld1q_f32(a.d + g));
        acc[t] = vfmaq_f32(acc[t], vcvtq_f32_s32(isum), d);
        if (has_m)
            acc[t] = vfmaq_f32(acc[t], mw, vld1q_f32(a.s + g));
    }
}

/* Four blocks at a time. Weights are unsigned (nibble, or nibble + 16 * fifth bit); the
 * low nibbles meet activations 0..15 of the block, the high ones 16..31. Per block the 16
 * smull/smlal lanes hold 4 products each; 4-bit blocks fold two addp levels deep in int16
 * (16 products of at most 15 * 127 per lane: 30480), 5-bit ones one level (8 of at most
 * 31 * 127: 31496) before saddlp widens them. q4_0 / q5_0 then subtract 8 / 16 times the
 * block's activation sum, exactly; q4_1 / q5_1 add m * s in float. In a last, partial
 * group the missing blocks are zero vectors (and their activations zero padding). */
INLINE void dot_q4q5_n(const void *w, const void *x, size_t x_stride, int64_t n, float *out, int nt,
                       int kind)
{
    const size_t bs = kind == K_Q4_0   ? sizeof(block_q4_0)
                      : kind == K_Q4_1 ? sizeof(block_q4_1)
                      : kind == K_Q5_0 ? sizeof(block_q5_0)
                                       : sizeof(block_q5_1);
    int64_t nb = n / QK4_0, nbp = padded_blocks(nb), g = 0;
    float32x4_t acc[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = vdupq_n_f32(0);
    const uint8_t *wb = w;
    for (; g + GROUP <= nb; g += GROUP)
        q4q5_group(wb + g * bs, bs, g, x, x_stride, nbp, acc, nt, kind, GROUP);
    switch (nb - g) { /* a last, partial group */
    case 1: q4q5_group(wb + g * bs, bs, g, x, x_stride, nbp, acc, nt, kind, 1); break;
    case 2: q4q5_group(wb + g * bs, bs, g, x, x_stride, nbp, acc, nt, kind, 2); break;
    case 3: q4q5_group(wb + g * bs, bs, g, x, x_stride, nbp, acc, nt, kind, 3); break;
    default: break;
    }
    UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = vaddvq_f32(acc[t]);
}

INLINE void dot_q4_0_n(const void *w, const void *x, size_t s, int64_t n, float *o, int nt)
{
    dot_q4q5_n(w, x, s, n, o, nt, K_Q4_0);
}
INLINE void dot_q4_1_n(const void *w, const void *x, size_t s, int64_t n, float *o, int nt)
{
    dot_q4q5_n(w, x, s, n, o, nt, K_Q4_1);
}
INLINE void dot_q5_0_n(const void *w, const void *x, size_t s, int64_t n, float *o, int nt)
{
    dot_q4q5_n(w, x, s, n, o, nt, K_Q5_0);
}
INLINE void dot_q5_1_n(const void *w, const void *x, size_t s, int64_t n, float *o, int nt)
{
    dot_q4q5_n(w, x, s, n, o, nt, K_Q5_1);
}

/* q8_0: signed bytes against signed bytes; a lane holds 2 products (2 * 128 * 127 =
 * 32512), so each block widens right away: saddlp + sadalp into 4 int32 lanes, and two
 * addp levels gather four blocks. */
INLINE void q8_0_group(const block_q8_0 *b, int64_t g, const void *x, size_t x_stride, int64_t nbp,
                       float32x4_t *acc, int nt, int nvalid)
{
    int8x16x2_t q[GROUP];
    UNROLL
    for (int i = 0; i < nvalid; i++)
        q[i] = load_s8_x2(b[i].qs);
    float32x4_t dw = halves4(&b[0].d, sizeof *b, nvalid);
    UNROLL
    for (int t = 0; t < nt; t++) {
        a8_row a = a8_at(x, x_stride, t, nbp);
        int32x4_t s[GROUP];
        UNROLL
        for (int i = 0; i < GROUP; i++) {
            if (i >= nvalid) {
                s[i] = vdupq_n_s32(0);
                continue;
            }
            int8x16x2_t y = load_s8_x2(a.qs + (g + i) * QK8_0);
#ifdef __ARM_FEATURE_DOTPROD
            s[i] = dot32(q[i].val[0], y.val[0], q[i].val[1], y.val[1]);
#else
            s[i] = vpadalq_s16(vpaddlq_s16(mul16(q[i].val[0], y.val[0])), mul16(q[i].val[1], y.val[1]));
#endif
        }
        int32x4_t isum = vpaddq_s32(vpaddq_s32(s[0], s[1]), vpaddq_s32(s[2], s[3]));
        acc[t] = vfmaq_f32(acc[t], vcvtq_f32_s32(isum), vmulq_f32(dw, vld1q_f32(a.d + g)));
    }
}

INLINE void dot_q8_0_n(const void *w, const void *x, size_t x_stride, int64_t n, float *out, int nt)
{
    const block_q8_0 *wb = w;
    int64_t nb = n / QK8_0, nbp = padded_blocks(nb), g = 0;
    float32x4_t acc[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = vdupq_n_f32(0);
    for (; g + GROUP <= nb; g += GROUP)
        q8_0_group(wb + g, g, x, x_stride, nbp, acc, nt, GROUP);
    switch (nb - g) { /* a last, partial group */
    case 1: q8_0_group(wb + g, g, x, x_stride, nbp, acc, nt, 1); break;
    case 2: q8_0_group(wb + g, g, x, x_stride, nbp, acc, nt, 2); break;
    case 3: q8_0_group(wb + g, g, x, x_stride, nbp, acc, nt, 3); break;
    default: break;
    }
    UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = vaddvq_f32(acc[t]);
}

/* ---------------------------------------------------------------------------
 * K-quants, against q8_K blocks as lk_quantize_row makes them. Sub-block sums reach
 * int32 lanes through addp / saddlp, then meet their scales with mul / mla (exact); the
 * mins meet q8_K's per-16 sums with smull / smlal.
 * ------------------------------------------------------------------------- */

/* q8_K blocks with the quants first: lk_quantize_row's block_q8_K keeps them at byte 4,
 * and ldp q (two registers, one instruction) takes only immediates that are multiples of
 * 16 from the base register. Same values, field for field. */
typedef struct {
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
    float d;
} a8_K;
_Static_assert(sizeof(a8_K) == sizeof(block_q8_K), "a8_K is a rearranged block_q8_K");

INLINE const a8_K *q8_K_at(const void *x, size_t x_stride, int t, int64_t b)
{
    return (const a8_K *)((const char *)x + (size_t)t * x_stride) + b;
}

/* q8_K as lk_quantize_row makes it: the value of largest magnitude (the first such) maps
 * to -127, quants round to nearest even (frintn, what ggml's nearest_int does by adding
 * 1.5 * 2^23) and stop at 127, bsums are sums of 16, d = 1 / iscale. */
static void prepare_a8_K(const float *x, int64_t cols, a8_K *dst)
{
    for (int64_t b = 0; b < cols / QK_K; b++) {
        const float *xb = x + b * QK_K;
        float amax = abs_max(xb, QK_K);
        if (!amax) {
            memset(&dst[b], 0, sizeof dst[b]);
            continue;
        }
        int first = 0;
        while (first < QK_K - 1 && fabsf(xb[first]) != amax)
            first++;
        float iscale = -127.f / xb[first];
        const int32x4_t top = vdupq_n_s32(127);
        for (int j = 0; j < QK_K / 16; j++) {
            int32x4_t q[4];
            UNROLL
            for (int i = 0; i < 4; i++)
                q[i] = vminq_s32(vcvtq_s32_f32(vrndnq_f32(vmulq_n_f32(vld1q_f32(xb + 16 * j + 4 * i), iscale))), top);
            int16x8_t h0 = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
            int16x8_t h1 = vcombine_s16(vmovn_s32(q[2]), vmovn_s32(q[3]));
            vst1q_s8(dst[b].qs + 16 * j, vcombine_s8(vmovn_s16(h0), vmovn_s16(h1)));
            dst[b].bsums[j] = (int16_t)vaddvq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3])));
        }
        dst[b].d = 1 / iscale;
    }
}

/* The 6-bit scales and mins of a q4_K / q5_K block, as 8 bytes each (layout in
 * scalar.c's k4_scale_min): bytes 0..7 give the low 6 bits of scales 0..3 and mins 0..3
 * and the top 2 bits of the others; bytes 8..11 their low nibbles (scales) and high
 * nibbles (mins). Ten vector instructions where the 32-bit scalar unpacking takes ~22. */
static const int8_t K4_NIBBLE_SHIFT[8] = {0, 0, 0, 0, -4, -4, -4, -4};

INLINE void k4_scales_mins(const uint8_t q[12], uint8x8_t *scales, uint8x8_t *mins)
{
    uint64_t q01;
    uint32_t q2;
    memcpy(&q01, q, 8);
    memcpy(&q2, q + 8, 4);
    uint8x8_t v = vcreate_u8(q01), w = vreinterpret_u8_u32(vdup_n_u32(q2));
    uint8x8_t lo = vand_u8(v, vdup_n_u8(0x3F));                     /* scales 0..3, mins 0..3 */
    uint8x8_t top = vshl_n_u8(vshr_n_u8(v, 6), 4);                  /* their top bits, for 4..7 */
    uint8x8_t nib = vand_u8(vshl_u8(w, vld1_s8(K4_NIBBLE_SHIFT)), vdup_n_u8(0x0F));
    uint8x8_t hi = vorr_u8(nib, top);                               /* scales 4..7, mins 4..7 */
    *scales = vreinterpret_u8_u32(vzip1_u32(vreinterpret_u32_u8(lo), vreinterpret_u32_u8(hi)));
    *mins = vreinterpret_u8_u32(vzip2_u32(vreinterpret_u32_u8(lo), vreinterpret_u32_u8(hi)));
}

/* sum over the 8 sub-blocks of min[s] * (bsums[2s] + bsums[2s+1]) */
INLINE int32x4_t k4_min_sums(const a8_K *xb, int16x8_t mins16)
{
    int16x8_t bs = vpaddq_s16(vld1q_s16(xb->bsums), vld1q_s16(xb->bsums + 8));
    return vmlal_high_s16(vmull_s16(vget_low_s16(bs), vget_low_s16(mins16)), bs, mins16);
}

/* Low nibbles v[0..1] against y[0..31], high nibbles v[2..3] against y[32..63]: two
 * sub-blocks' products as 4 int16 lanes each (4 products per lane). */
static inline __attribute__((always_inline, unused)) int16x8_t k4_pair(const uint8x16_t v[4], const int8_t *y)
{
    int8x16x4_t a = load_s8_x4(y);
    int16x8_t lo = mla16(mul16(vreinterpretq_s8_u8(v[0]), a.val[0]), vreinterpretq_s8_u8(v[1]), a.val[1]);
    int16x8_t hi = mla16(mul16(vreinterpretq_s8_u8(v[2]), a.val[2]), vreinterpretq_s8_u8(v[3]), a.val[3]);
    return vpaddq_s16(lo, hi);
}

/* q4_K and q5_K: 8 sub-blocks of 32 with 6-bit scales and mins; sub-block 2c takes the
 * low nibbles of qs[32c..32c+31], 2c+1 the high ones; q5_K adds bit s of qh[l] as 16.
 * 4-bit sums fold in int16 over a whole sub-block (16 products of at most 15 * 127 per
 * lane), 5-bit sums over half of one (8 of at most 31 * 127). */
INLINE void dot_q4q5_K_n(const void *w, const void *x, size_t x_stride, int64_t n, float *out, int nt,
                         int five)
{
    const size_t bs = five ? sizeof(block_q5_K) : sizeof(block_q4_K);
    float32x4_t acc[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = vdupq_n_f32(0);
    const uint8x16_t low4 = vdupq_n_u8(0x0F), sixteen = vdupq_n_u8(16);
    for (int64_t b = 0; b < n / QK_K; b++) {
        const uint8_t *blk = (const uint8_t *)w + b * bs;
        /* q4_K and q5_K share d, dmin and the scales at the same offsets */
        const block_q4_K *head = (const block_q4_K *)blk;
        const uint8_t *qs = five ? ((const block_q5_K *)blk)->qs : head->qs;
        uint8x8_t scales, mins;
        k4_scales_mins(head->scales, &scales, &mins);
        uint16x8_t sc16 = vmovl_u8(scales);
        int32x4_t sc_lo = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(sc16)));
        int32x4_t sc_hi = vreinterpretq_s32_u32(vmovl_high_u16(sc16));
        int16x8_t mins16 = vreinterpretq_s16_u16(vmovl_u8(mins));
        float dw = half_to_float(head->d), dminw = half_to_float(head->dmin);
        uint8x16x2_t qh = {{vdupq_n_u8(0), vdupq_n_u8(0)}};
        if (five)
            qh = load_u8_x2(((const block_q5_K *)blk)->qh);
        int32x4_t quad[MAX_TOK][2]; /* sub-blocks 0..3 and 4..7 */
        UNROLL
        for (int cp = 0; cp < 2; cp++) {
            uint8x16_t v[2][4]; /* per c: low nibbles (2 vectors), high nibbles (2) */
            UNROLL
            for (int i = 0; i < 2; i++) {
                int c = 2 * cp + i;
                uint8x16x2_t q = load_u8_x2(qs + 32 * c);
                v[i][0] = vandq_u8(q.val[0], low4);
                v[i][1] = vandq_u8(q.val[1], low4);
                v[i][2] = vshrq_n_u8(q.val[0], 4);
                v[i][3] = vshrq_n_u8(q.val[1], 4);
                if (five) { /* + 16 where the bit is set: the cmtst mask is -1 there */
                    uint8x16_t bit_lo = vdupq_n_u8((uint8_t)(1u << (2 * c)));
                    uint8x16_t bit_hi = vdupq_n_u8((uint8_t)(2u << (2 * c)));
                    v[i][0] = vmlsq_u8(v[i][0], vtstq_u8(qh.val[0], bit_lo), sixteen);
                    v[i][1] = vmlsq_u8(v[i][1], vtstq_u8(qh.val[1], bit_lo), sixteen);
                    v[i][2] = vmlsq_u8(v[i][2], vtstq_u8(qh.val[0], bit_hi), sixteen);
                    v[i][3] = vmlsq_u8(v[i][3], vtstq_u8(qh.val[1], bit_hi), sixteen);
                }
            }
            UNROLL
            for (int t = 0; t < nt; t++) {
                const int8_t *y = q8_K_at(x, x_stride, t, b)->qs + 128 * cp;
#ifdef __ARM_FEATURE_DOTPROD
                int32x4_t d[2][2]; /* [c][low, high nibbles]: a sub-block in 4 lanes */
                UNROLL
                for (int i = 0; i < 2; i++) {
                    int8x16x4_t a = load_s8_x4(y + 64 * i);
                    d[i][0] = dot32(vreinterpretq_s8_u8(v[i][0]), a.val[0], vreinterpretq_s8_u8(v[i][1]), a.val[1]);
                    d[i][1] = dot32(vreinterpretq_s8_u8(v[i][2]), a.val[2], vreinterpretq_s8_u8(v[i][3]), a.val[3]);
                }
                quad[t][cp] = vpaddq_s32(vpaddq_s32(d[0][0], d[0][1]), vpaddq_s32(d[1][0], d[1][1]));
#else
                /* sub-blocks 2c, 2c+1: 4 lanes each */
                int16x8_t pair0 = k4_pair(v[0], y), pair1 = k4_pair(v[1], y + 64);
                if (five)
                    quad[t][cp] = vpaddq_s32(vpaddlq_s16(pair0), vpaddlq_s16(pair1));
                else
                    quad[t][cp] = vpaddlq_s16(vpaddq_s16(pair0, pair1));
#endif
            }
        }
        UNROLL
        for (int t = 0; t < nt; t++) {
            const a8_K *xb = q8_K_at(x, x_stride, t, b);
            int32x4_t isum = vmlaq_s32(vmulq_s32(quad[t][0], sc_lo), quad[t][1], sc_hi);
            int32x4_t msum = k4_min_sums(xb, mins16);
            acc[t] = vfmaq_n_f32(acc[t], vcvtq_f32_s32(isum), xb->d * dw);
            acc[t] = vfmsq_f32(acc[t], vcvtq_f32_s32(msum), vdupq_n_f32(xb->d * dminw));
        }
    }
    UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = vaddvq_f32(acc[t]);
}

INLINE void dot_q4_K_n(const void *w, const void *x, size_t s, int64_t n, float *o, int nt)
{
    dot_q4q5_K_n(w, x, s, n, o, nt, 0);
}
INLINE void dot_q5_K_n(const void *w, const void *x, size_t s, int64_t n, float *o, int nt)
{
    dot_q4q5_K_n(w, x, s, n, o, nt, 1);
}

/* q2_K, q3_K, q6_K: 16 sub-blocks of 16, element 128h + 32k + l in sub-block
 * 8h + 2k + (l >= 16). Quants are small and signed (q6_K -32..31, q3_K -4..3, q2_K 0..3),
 * so a half's 8 vectors of 2-product lanes fold in int16 to one lane pair per sub-block
 * (at most 8 * 32 * 127 = 32512), and saddlp gives the 16 sub-block sums as four int32x4
 * to multiply by the scales. */
INLINE int32x4_t half_sums(const int8x16_t q[4][2], const int8_t *y, int32x4_t isum, int32x4_t sc0,
                           int32x4_t sc1)
{
    int8x16x4_t y01 = load_s8_x4(y), y23 = load_s8_x4(y + 64);
#ifdef __ARM_FEATURE_DOTPROD
    /* sub-blocks of 16 in 4 lanes each, two addp levels to one lane each */
    const int32x4_t z = vdupq_n_s32(0);
    int32x4_t a0 = vpaddq_s32(vdotq_s32(z, q[0][0], y01.val[0]), vdotq_s32(z, q[0][1], y01.val[1]));
    int32x4_t a1 = vpaddq_s32(vdotq_s32(z, q[1][0], y01.val[2]), vdotq_s32(z, q[1][1], y01.val[3]));
    int32x4_t a2 = vpaddq_s32(vdotq_s32(z, q[2][0], y23.val[0]), vdotq_s32(z, q[2][1], y23.val[1]));
    int32x4_t a3 = vpaddq_s32(vdotq_s32(z, q[3][0], y23.val[2]), vdotq_s32(z, q[3][1], y23.val[3]));
    isum = vmlaq_s32(isum, vpaddq_s32(a0, a1), sc0);
    return vmlaq_s32(isum, vpaddq_s32(a2, a3), sc1);
#else
    int16x8_t a0 = vpaddq_s16(mul16(q[0][0], y01.val[0]), mul16(q[0][1], y01.val[1]));
    int16x8_t a1 = vpaddq_s16(mul16(q[1][0], y01.val[2]), mul16(q[1][1], y01.val[3]));
    int16x8_t a2 = vpaddq_s16(mul16(q[2][0], y23.val[0]), mul16(q[2][1], y23.val[1]));
    int16x8_t a3 = vpaddq_s16(mul16(q[3][0], y23.val[2]), mul16(q[3][1], y23.val[3]));
    isum = vmlaq_s32(isum, vpaddlq_s16(vpaddq_s16(a0, a1)), sc0);
    return vmlaq_s32(isum, vpaddlq_s16(vpaddq_s16(a2, a3)), sc1);
#endif
}

/* 16 signed bytes -> four int32x4 */
INLINE void widen_s8(int8x16_t v, int32x4_t out[4])
{
    int16x8_t lo = vmovl_s8(vget_low_s8(v)), hi = vmovl_high_s8(v);
    out[0] = vmovl_s16(vget_low_s16(lo));
    out[1] = vmovl_high_s16(lo);
    out[2] = vmovl_s16(vget_low_s16(hi));
    out[3] = vmovl_high_s16(hi);
}

/* q6_K: low 4 bits in ql (k = 0, 1: low nibbles of ql[64h + 32k + l]; k = 2, 3: the high
 * nibbles of the same bytes), high 2 bits at bits 2k of qh[32h + l], minus 32.
 * The -32 is folded into the high bits: flipping bit 1 of each 2-bit field (eor 0xAA)
 * makes it the field minus 2 in two's complement, which an arithmetic shift moves to the
 * top nibble sign-extended; the low nibble is then inserted (sri / bsl). The byte read as
 * int8 is 16 * (hi - 2) + lo = q - 32. */
INLINE void dot_q6_K_n(const void *w, const void *x, size_t x_stride, int64_t n, float *out, int nt)
{
    const block_q6_K *wb = w;
    float32x4_t acc[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = vdupq_n_f32(0);
    const uint8x16_t flip = vdupq_n_u8(0xAA), top4 = vdupq_n_u8(0xF0);
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32x4_t sc[4];
        widen_s8(vld1q_s8(wb[b].scales), sc);
        int32x4_t isum[MAX_TOK];
        UNROLL
        for (int t = 0; t < nt; t++)
            isum[t] = vdupq_n_s32(0);
        UNROLL
        for (int h = 0; h < 2; h++) {
            uint8x16x4_t ql = load_u8_x4(wb[b].ql + 64 * h);
            uint8x16x2_t qh = load_u8_x2(wb[b].qh + 32 * h);
            int8x16_t q[4][2];
            UNROLL
            for (int lh = 0; lh < 2; lh++) {
                int8x16_t f = vreinterpretq_s8_u8(veorq_u8(qh.val[lh], flip));
                uint8x16_t a = ql.val[lh], c = ql.val[2 + lh];
                q[0][lh] = vreinterpretq_s8_u8(vbslq_u8(top4, vreinterpretq_u8_s8(vshrq_n_s8(vshlq_n_s8(f, 6), 2)), a));
                q[1][lh] = vreinterpretq_s8_u8(vbslq_u8(top4, vreinterpretq_u8_s8(vshrq_n_s8(vshlq_n_s8(f, 4), 2)), c));
                q[2][lh] = vreinterpretq_s8_u8(vsriq_n_u8(vreinterpretq_u8_s8(vshrq_n_s8(vshlq_n_s8(f, 2), 2)), a, 4));
                q[3][lh] = vreinterpretq_s8_u8(vsriq_n_u8(vreinterpretq_u8_s8(vshrq_n_s8(f, 2)), c, 4));
            }
            UNROLL
            for (int t = 0; t < nt; t++)
                isum[t] = half_sums((const int8x16_t(*)[2])q, q8_K_at(x, x_stride, t, b)->qs + 128 * h, isum[t],
                                    sc[2 * h], sc[2 * h + 1]);
        }
        float dw = half_to_float(wb[b].d);
        UNROLL
        for (int t = 0; t < nt; t++)
            acc[t] = vfmaq_n_f32(acc[t], vcvtq_f32_s32(isum[t]), q8_K_at(x, x_stride, t, b)->d * dw);
    }
    UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = vaddvq_f32(acc[t]);
}

/* q2_K: 2-bit quants at bits 2k of qs[32h + l]; scales[s] holds the 4-bit scale (low
 * nibble) and min (high) of sub-block s. */
INLINE void dot_q2_K_n(const void *w, const void *x, size_t x_stride, int64_t n, float *out, int nt)
{
    const block_q2_K *wb = w;
    float32x4_t acc[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = vdupq_n_f32(0);
    const uint8x16_t low2 = vdupq_n_u8(3), low4 = vdupq_n_u8(0x0F);
    for (int64_t b = 0; b < n / QK_K; b++) {
        uint8x16_t packed = vld1q_u8(wb[b].scales);
        int32x4_t sc[4];
        widen_s8(vreinterpretq_s8_u8(vandq_u8(packed, low4)), sc);
        uint8x16_t mins = vshrq_n_u8(packed, 4);
        int16x8_t mins_lo = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(mins)));
        int16x8_t mins_hi = vreinterpretq_s16_u16(vmovl_high_u8(mins));
        int32x4_t isum[MAX_TOK];
        UNROLL
        for (int t = 0; t < nt; t++)
            isum[t] = vdupq_n_s32(0);
        UNROLL
        for (int h = 0; h < 2; h++) {
            uint8x16x2_t qs = load_u8_x2(wb[b].qs + 32 * h);
            int8x16_t q[4][2];
            UNROLL
            for (int lh = 0; lh < 2; lh++) {
                uint8x16_t v = qs.val[lh];
                q[0][lh] = vreinterpretq_s8_u8(vandq_u8(v, low2));
                q[1][lh] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 2), low2));
                q[2][lh] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 4), low2));
                q[3][lh] = vreinterpretq_s8_u8(vshrq_n_u8(v, 6));
            }
            UNROLL
            for (int t = 0; t < nt; t++)
                isum[t] = half_sums((const int8x16_t(*)[2])q, q8_K_at(x, x_stride, t, b)->qs + 128 * h, isum[t],
                                    sc[2 * h], sc[2 * h + 1]);
        }
        float dw = half_to_float(wb[b].d), dminw = half_to_float(wb[b].dmin);
        UNROLL
        for (int t = 0; t < nt; t++) {
            const a8_K *xb = q8_K_at(x, x_stride, t, b);
            int16x8_t bs0 = vld1q_s16(xb->bsums), bs1 = vld1q_s16(xb->bsums + 8);
            int32x4_t msum = vmull_s16(vget_low_s16(bs0), vget_low_s16(mins_lo));
            msum = vmlal_high_s16(msum, bs0, mins_lo);
            msum = vmlal_s16(msum, vget_low_s16(bs1), vget_low_s16(mins_hi));
            msum = vmlal_high_s16(msum, bs1, mins_hi);
            acc[t] = vfmaq_n_f32(acc[t], vcvtq_f32_s32(isum[t]), xb->d * dw);
            acc[t] = vfmsq_f32(acc[t], vcvtq_f32_s32(msum), vdupq_n_f32(xb->d * dminw));
        }
    }
    UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = vaddvq_f32(acc[t]);
}

/* q3_K: q2_K's 2-bit layout plus a third bit (bit 4h + k of hmask[l]); a clear bit
 * subtracts 4 (bic + sub against the cmtst mask). The 16 6-bit scales (stored + 32) are
 * unpacked four per 32-bit word as in scalar.c's q3_K_scale. */
INLINE void dot_q3_K_n(const void *w, const void *x, size_t x_stride, int64_t n, float *out, int nt)
{
    const block_q3_K *wb = w;
    float32x4_t acc[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = vdupq_n_f32(0);
    const uint8x16_t low2 = vdupq_n_u8(3), four = vdupq_n_u8(4);
    for (int64_t b = 0; b < n / QK_K; b++) {
        uint32_t a0, a1, a2;
        memcpy(&a0, wb[b].scales, 4);
        memcpy(&a1, wb[b].scales + 4, 4);
        memcpy(&a2, wb[b].scales + 8, 4);
        uint32_t words[4] = {(a0 & 0x0F0F0F0Fu) | (a2 & 0x03030303u) << 4,
                             (a1 & 0x0F0F0F0Fu) | ((a2 >> 2) & 0x03030303u) << 4,
                             ((a0 >> 4) & 0x0F0F0F0Fu) | ((a2 >> 4) & 0x03030303u) << 4,
                             ((a1 >> 4) & 0x0F0F0F0Fu) | ((a2 >> 6) & 0x03030303u) << 4};
        int32x4_t sc[4];
        widen_s8(vsubq_s8(vreinterpretq_s8_u32(vld1q_u32(words)), vdupq_n_s8(32)), sc);
        uint8x16x2_t hm = load_u8_x2(wb[b].hmask);
        int32x4_t isum[MAX_TOK];
        UNROLL
        for (int t = 0; t < nt; t++)
            isum[t] = vdupq_n_s32(0);
        UNROLL
        for (int h = 0; h < 2; h++) {
            uint8x16x2_t qs = load_u8_x2(wb[b].qs + 32 * h);
            int8x16_t q[4][2];
            UNROLL
            for (int k = 0; k < 4; k++) {
                uint8x16_t bit = vdupq_n_u8((uint8_t)(1u << (4 * h + k)));
                UNROLL
                for (int lh = 0; lh < 2; lh++) {
                    uint8x16_t v = vandq_u8(k ? vshrq_n_u8(qs.val[lh], k ? 2 * k : 1) : qs.val[lh], low2);
                    uint8x16_t minus4 = vbicq_u8(four, vtstq_u8(hm.val[lh], bit));
                    q[k][lh] = vreinterpretq_s8_u8(vsubq_u8(v, minus4));
                }
            }
            UNROLL
            for (int t = 0; t < nt; t++)
                isum[t] = half_sums((const int8x16_t(*)[2])q, q8_K_at(x, x_stride, t, b)->qs + 128 * h, isum[t],
                                    sc[2 * h], sc[2 * h + 1]);
        }
        float dw = half_to_float(wb[b].d);
        UNROLL
        for (int t = 0; t < nt; t++)
            acc[t] = vfmaq_n_f32(acc[t], vcvtq_f32_s32(isum[t]), q8_K_at(x, x_stride, t, b)->d * dw);
    }
    UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = vaddvq_f32(acc[t]);
}

/* ---------------------------------------------------------------------------
 * Float weights: 16 elements per step in two accumulators per token, then a vector of 4
 * at a time and a scalar tail (rows of the KV cache can be as short as head_dim).
 * ------------------------------------------------------------------------- */

INLINE float32x4_t load4_f32(const void *p, int64_t i) { return vld1q_f32((const float *)p + i); }
INLINE float32x4_t load4_f16(const void *p, int64_t i)
{
    return halves_to_f32(vld1_u16((const uint16_t *)p + i));
}
INLINE float32x4_t load4_bf16(const void *p, int64_t i)
{
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)p + i), 16));
}
INLINE float load1_f32(const void *p, int64_t i) { return ((const float *)p)[i]; }
INLINE float load1_f16(const void *p, int64_t i) { return half_to_float(((const uint16_t *)p)[i]); }
INLINE float load1_bf16(const void *p, int64_t i) { return lk_bf16_to_f32(((const uint16_t *)p)[i]); }

#define DOT_FLOAT_N(name, load4, load1)                                                      \
    INLINE void name(const void *w, const void *x, size_t x_stride, int64_t n, float *out,   \
                     int nt)                                                                 \
    {                                                                                        \
        float32x4_t acc0[MAX_TOK], acc1[MAX_TOK];                                            \
        UNROLL                                                                               \
        for (int t = 0; t < nt; t++)                                                         \
            acc0[t] = acc1[t] = vdupq_n_f32(0);                                              \
        int64_t i = 0;                                                                       \
        for (; i + 16 <= n; i += 16) {                                                       \
            float32x4_t w0 = load4(w, i), w1 = load4(w, i + 4);                              \
            float32x4_t w2 = load4(w, i + 8), w3 = load4(w, i + 12);                         \
            UNROLL                                                                           \
            for (int t = 0; t < nt; t++) {                                                   \
                const float *xt = (const float *)((const char *)x + t * x_stride) + i;       \
                acc0[t] = vfmaq_f32(acc0[t], w0, vld1q_f32(xt));                             \
                acc1[t] = vfmaq_f32(acc1[t], w1, vld1q_f32(xt + 4));                         \
                acc0[t] = vfmaq_f32(acc0[t], w2, vld1q_f32(xt + 8));                         \
                acc1[t] = vfmaq_f32(acc1[t], w3, vld1q_f32(xt + 12));                        \
            }                                                                                \
        }                                                                                    \
        for (; i + 4 <= n; i += 4) {                                                         \
            float32x4_t w0 = load4(w, i);                                                    \
            UNROLL                                                                           \
            for (int t = 0; t < nt; t++) {                                                   \
                const float *xt = (const float *)((const char *)x + t * x_stride) + i;       \
                acc0[t] = vfmaq_f32(acc0[t], w0, vld1q_f32(xt));                             \
            }                                                                                \
        }                                                                                    \
        UNROLL                                                                               \
        for (int t = 0; t < nt; t++) {                                                       \
            const float *xt = (const float *)((const char *)x + t * x_stride);               \
            float sum = vaddvq_f32(vaddq_f32(acc0[t], acc1[t]));                             \
            for (int64_t j = i; j < n; j++)                                                  \
                sum += load1(w, j) * xt[j];                                                  \
            out[t] = sum;                                                                    \
        }                                                                                    \
    }
DOT_FLOAT_N(dot_f32_n, load4_f32, load1_f32)
DOT_FLOAT_N(dot_f16_n, load4_f16, load1_f16)
DOT_FLOAT_N(dot_bf16_n, load4_bf16, load1_bf16)

INSTANTIATE(dot_q4_0)
INSTANTIATE(dot_q8_0)
INSTANTIATE(dot_q4_K)
INSTANTIATE(dot_q6_K)
INSTANTIATE(dot_q4_1)
INSTANTIATE(dot_q5_0)
INSTANTIATE(dot_q5_1)
INSTANTIATE(dot_q2_K)
INSTANTIATE(dot_q3_K)
INSTANTIATE(dot_q5_K)
INSTANTIATE(dot_f32)
INSTANTIATE(dot_f16)
INSTANTIATE(dot_bf16)

/* ---------------------------------------------------------------------------
 * Matrix products
 * ------------------------------------------------------------------------- */

typedef struct {
    uint32_t activation_type; /* T_F32: the float activations as they are */
    const dot_rows_fn *dot;   /* indexed by the number of tokens, 1..MAX_TOK */
} weight_kind;

static int weight_kind_of(uint32_t type, weight_kind *k)
{
    switch (type) {
    case T_F32: *k = (weight_kind){T_F32, dot_f32_by_tokens}; return 1;
    case T_F16: *k = (weight_kind){T_F32, dot_f16_by_tokens}; return 1;
    case T_BF16: *k = (weight_kind){T_F32, dot_bf16_by_tokens}; return 1;
    case T_Q4_0: *k = (weight_kind){T_Q8_0, dot_q4_0_by_tokens}; return 1;
    case T_Q4_1: *k = (weight_kind){T_Q8_1, dot_q4_1_by_tokens}; return 1;
    case T_Q5_0: *k = (weight_kind){T_Q8_0, dot_q5_0_by_tokens}; return 1;
    case T_Q5_1: *k = (weight_kind){T_Q8_1, dot_q5_1_by_tokens}; return 1;
    case T_Q8_0: *k = (weight_kind){T_Q8_0, dot_q8_0_by_tokens}; return 1;
    case T_Q2_K: *k = (weight_kind){T_Q8_K, dot_q2_K_by_tokens}; return 1;
    case T_Q3_K: *k = (weight_kind){T_Q8_K, dot_q3_K_by_tokens}; return 1;
    case T_Q4_K: *k = (weight_kind){T_Q8_K, dot_q4_K_by_tokens}; return 1;
    case T_Q5_K: *k = (weight_kind){T_Q8_K, dot_q5_K_by_tokens}; return 1;
    case T_Q6_K: *k = (weight_kind){T_Q8_K, dot_q6_K_by_tokens}; return 1;
    default: return 0;
    }
}

/* Bytes of one token's activations as the kernels read them. */
static size_t activation_row_bytes(const weight_kind *k, int64_t cols)
{
    switch (k->activation_type) {
    case T_F32: return (size_t)cols * sizeof(float);
    case T_Q8_K: return lk_row_bytes(T_Q8_K, cols);
    default: return a8_row_bytes(cols);
    }
}

size_t lk_neon_matmul_work_size(uint32_t type, int64_t cols, int64_t n_tok)
{
    weight_kind k;
    if (!weight_kind_of(type, &k))
        return lk_scalar_matmul_work_size(type, cols, n_tok); /* the scalar path runs it */
    if (k.activation_type == T_F32 || n_tok < 1)
        return 0;
    return activation_row_bytes(&k, cols) * (size_t)n_tok;
}

void lk_neon_matmul(const lk_matrix *w, const float *x, float *y, int64_t n_tok, void *work,
                    lk_pool *pool, int n_threads)
{
    weight_kind k;
    if (!weight_kind_of(w->type, &k)) {
        lk_scalar_matmul(w, x, y, n_tok, work, pool, n_threads);
        return;
    }
    if (n_tok < 1 || w->rows < 1)
        return;
    const char *act = (const char *)x;
    size_t act_row_bytes = activation_row_bytes(&k, w->cols);
    if (k.activation_type != T_F32) {
        for (int64_t t = 0; t < n_tok; t++) {
            char *dst = (char *)work + (size_t)t * act_row_bytes;
            if (k.activation_type == T_Q8_K)
                prepare_a8_K(x + t * w->cols, w->cols, (a8_K *)dst);
            else
                prepare_a8(k.activation_type, x + t * w->cols, w->cols, dst);
        }
        act = work;
    }
    lk_rows_matmul_pool(w, k.dot, act, act_row_bytes, y, n_tok, pool, n_threads);
}

/* ---------------------------------------------------------------------------
 * Attention's weighted sum of value rows
 * ------------------------------------------------------------------------- */

/* The 32 values d * q of a q8_0 block of the KV cache; the caller multiplies by the
 * attention weight after (ar * (d * q), as the oracle groups it). */
INLINE void q8_0_values(const block_q8_0 *b, float32x4_t val[8])
{
    float32x4_t dv = vdupq_n_f32(half_to_float(b->d));
    int8x16x2_t q = load_s8_x2(b->qs);
    UNROLL
    for (int h = 0; h < 2; h++) {
        int32x4_t wide[4];
        widen_s8(q.val[h], wide);
        UNROLL
        for (int j = 0; j < 4; j++)
            val[4 * h + j] = vmulq_f32(dv, vcvtq_f32_s32(wide[j]));
    }
}

/* A block of columns is summed in registers over every row and stored once: going through
 * memory row by row would make each row wait for the previous row's store. Each value is
 * converted once and multiplied into every set (the query heads sharing it, two at a time:
 * 16 accumulators and a q8_0 block's 8 values fit the 32 registers); each column of each
 * set still sees its rows in order, as the oracle groups them (ar * value, then the add).
 * One set takes 64 columns at a time, two take 32. Columns past the last whole block go
 * row by row. */
#define ACC_MAX_SETS 2
#define ACC_VECTORS 16 /* accumulators */

INLINE void accumulate_block(const lk_matrix *v, const float *a, int64_t a_stride, float *out, int64_t out_stride,
                             int64_t c0, uint32_t type, int ns)
{
    const int nk = ACC_VECTORS / ns; /* vectors of 4 columns per set */
    float32x4_t acc[ACC_MAX_SETS][ACC_VECTORS];
    const char *base = (const char *)v->data + lk_row_bytes(type, c0);
    UNROLL
    for (int s = 0; s < ns; s++)
        UNROLL
        for (int k = 0; k < nk; k++)
            acc[s][k] = vld1q_f32(out + s * out_stride + c0 + 4 * k);
    for (int64_t r = 0; r < v->rows; r++) {
        const void *row = base + (size_t)r * v->row_stride;
        float ar[ACC_MAX_SETS];
        UNROLL
        for (int s = 0; s < ns; s++)
            ar[s] = a[s * a_stride + r];
        if (type == T_Q8_0) {
            UNROLL
            for (int blk = 0; blk < nk / 8; blk++) {
                float32x4_t val[8];
                q8_0_values((const block_q8_0 *)row + blk, val);
                UNROLL
                for (int j = 0; j < 8; j++)
                    UNROLL
                    for (int s = 0; s < ns; s++)
                        acc[s][8 * blk + j] = vaddq_f32(acc[s][8 * blk + j], vmulq_n_f32(val[j], ar[s]));
            }
        } else {
            UNROLL
            for (int k = 0; k < nk; k++) {
                float32x4_t val = type == T_F32 ? load4_f32(row, 4 * k) : load4_f16(row, 4 * k);
                UNROLL
                for (int s = 0; s < ns; s++)
                    acc[s][k] = vaddq_f32(acc[s][k], vmulq_n_f32(val, ar[s]));
            }
        }
    }
    UNROLL
    for (int s = 0; s < ns; s++)
        UNROLL
        for (int k = 0; k < nk; k++)
            vst1q_f32(out + s * out_stride + c0 + 4 * k, acc[s][k]);
}

/* Columns [c0, n) of one set, row by row. */
static void accumulate_tail(const lk_matrix *v, const float *a, float *out, int64_t c0)
{
    int64_t n = v->cols;
    for (int64_t r = 0; r < v->rows; r++) {
        const void *row = (const char *)v->data + (size_t)r * v->row_stride;
        float ar = a[r];
        if (v->type == T_Q8_0) {
            const block_q8_0 *b = row;
            for (int64_t c = c0; c + QK8_0 <= n; c += QK8_0) {
                float32x4_t val[8];
                q8_0_values(&b[c / QK8_0], val);
                UNROLL
                for (int j = 0; j < 8; j++)
                    vst1q_f32(out + c + 4 * j, vaddq_f32(vld1q_f32(out + c + 4 * j), vmulq_n_f32(val[j], ar)));
            }
            continue;
        }
        int64_t c = c0;
        for (; c + 4 <= n; c += 4) {
            float32x4_t val = v->type == T_F32 ? load4_f32(row, c) : load4_f16(row, c);
            vst1q_f32(out + c, vaddq_f32(vld1q_f32(out + c), vmulq_n_f32(val, ar)));
        }
        for (; c < n; c++)
            out[c] += ar * (v->type == T_F32 ? load1_f32(row, c) : load1_f16(row, c));
    }
}

void lk_neon_accumulate_rows(const lk_matrix *v, const float *a, int64_t a_stride, float *out, int64_t out_stride,
                             int n_sets)
{
    if (v->type != T_F32 && v->type != T_F16 && v->type != T_Q8_0) {
        lk_scalar_accumulate_rows(v, a, a_stride, out, out_stride, n_sets);
        return;
    }
    for (int s0 = 0; s0 < n_sets; s0 += ACC_MAX_SETS) {
        int ns = n_sets - s0 < ACC_MAX_SETS ? n_sets - s0 : ACC_MAX_SETS;
        const float *as = a + s0 * a_stride;
        float *os = out + s0 * out_stride;
        int64_t cols = 4 * ACC_VECTORS / ns, c0 = 0;
        for (; c0 + cols <= v->cols; c0 += cols) {
            switch (v->type * 4 + (uint32_t)ns) {
            case T_F32 * 4 + 1: accumulate_block(v, as, a_stride, os, out_stride, c0, T_F32, 1); break;
            case T_F32 * 4 + 2: accumulate_block(v, as, a_stride, os, out_stride, c0, T_F32, 2); break;
            case T_F16 * 4 + 1: accumulate_block(v, as, a_stride, os, out_stride, c0, T_F16, 1); break;
            case T_F16 * 4 + 2: accumulate_block(v, as, a_stride, os, out_stride, c0, T_F16, 2); break;
            case T_Q8_0 * 4 + 1: accumulate_block(v, as, a_stride, os, out_stride, c0, T_Q8_0, 1); break;
            default: accumulate_block(v, as, a_stride, os, out_stride, c0, T_Q8_0, 2); break;
            }
        }
        for (int s = 0; s < ns; s++)
            accumulate_tail(v, as + s * a_stride, os + s * out_stride, c0);
    }
}

/* ---------------------------------------------------------------------------
 * Element-wise operations
 * ------------------------------------------------------------------------- */

void lk_neon_rmsnorm(float *out, const float *x, const float *weight, int64_t n, float eps)
{
    /* the sum of squares in double, as the oracle takes it */
    float64x2_t acc0 = vdupq_n_f64(0), acc1 = vdupq_n_f64(0);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t v = vld1q_f32(x + i);
        float64x2_t lo = vcvt_f64_f32(vget_low_f32(v)), hi = vcvt_high_f64_f32(v);
        acc0 = vfmaq_f64(acc0, lo, lo);
        acc1 = vfmaq_f64(acc1, hi, hi);
    }
    double sum_sq = vaddvq_f64(vaddq_f64(acc0, acc1));
    for (; i < n; i++)
        sum_sq += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(sum_sq / (double)(n > 0 ? n : 1) + eps));
    float32x4_t vs = vdupq_n_f32(scale);
    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t v = vmulq_f32(vld1q_f32(x + i), vs);
        vst1q_f32(out + i, weight ? vmulq_f32(v, vld1q_f32(weight + i)) : v);
    }
    for (; i < n; i++)
        out[i] = x[i] * scale * (weight ? weight[i] : 1.0f);
}

/* a' = a c - b s, b' = a s + b c with the oracle's separate multiplies and adds, so the
 * results are the scalar ones bit for bit; ld2 / st2 split and rejoin the pairs. */
void lk_neon_rope(float *x, int64_t n_heads, int64_t head_dim, const float *cos_sin, int neox)
{
    int64_t half = head_dim / 2;
    for (int64_t h = 0; h < n_heads; h++) {
        float *v = x + h * head_dim;
        int64_t i = 0;
        for (; i + 4 <= half; i += 4) {
            float32x4x2_t cs = vld2q_f32(cos_sin + 2 * i);
            float32x4_t c = cs.val[0], s = cs.val[1];
            if (neox) {
                float32x4_t a = vld1q_f32(v + i), b = vld1q_f32(v + i + half);
                vst1q_f32(v + i, vsubq_f32(vmulq_f32(a, c), vmulq_f32(b, s)));
                vst1q_f32(v + i + half, vaddq_f32(vmulq_f32(a, s), vmulq_f32(b, c)));
            } else {
                float32x4x2_t ab = vld2q_f32(v + 2 * i), r;
                r.val[0] = vsubq_f32(vmulq_f32(ab.val[0], c), vmulq_f32(ab.val[1], s));
                r.val[1] = vaddq_f32(vmulq_f32(ab.val[0], s), vmulq_f32(ab.val[1], c));
                vst2q_f32(v + 2 * i, r);
            }
        }
        for (; i < half; i++) {
            float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
            float *a = neox ? &v[i] : &v[2 * i];
            float *b = neox ? &v[i + half] : &v[2 * i + 1];
            float a0 = *a, b0 = *b;
            *a = a0 * c - b0 * s;
            *b = a0 * s + b0 * c;
        }
    }
}

/* e^x for 4 floats, within a couple of ulp of expf: x = n ln2 + r with |r| <= ln2 / 2,
 * e^r by a degree-6 polynomial (Cephes' expf coefficients), times 2^n through the exponent
 * bits. Below -87.3 the result is 0 (a masked score must contribute exactly nothing);
 * above 88.37 it saturates near FLT_MAX instead of inf. NaN stays NaN. */
static inline float32x4_t exp4(float32x4_t x)
{
    uint32x4_t underflow = vcltq_f32(x, vdupq_n_f32(-87.3f));
    x = vminq_f32(x, vdupq_n_f32(88.3762626647949f));
    x = vmaxq_f32(x, vdupq_n_f32(-87.3f));
    float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
    r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
    float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
    p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
    p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
    p = vfmaq_f32(vaddq_f32(r, vdupq_n_f32(1.0f)), p, vmulq_f32(r, r));
    /* n is in [-126, 128]: 2^n in two factors so 2^128 does not overflow the exponent */
    int32x4_t ni = vcvtq_s32_f32(n);
    int32x4_t half_n = vshrq_n_s32(ni, 1);
    float32x4_t scale1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(half_n, vdupq_n_s32(127)), 23));
    float32x4_t scale2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vsubq_s32(ni, half_n), vdupq_n_s32(127)), 23));
    float32x4_t result = vmulq_f32(vmulq_f32(p, scale1), scale2);
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(result), underflow));
}

/* The largest of n floats, NaN aside: four vectors of running maxima hide fmax's latency. */
static float max_of(const float *x, int64_t n)
{
    float max = x[0];
    int64_t i = 0;
    if (n >= 16) {
        float32x4_t m0 = vld1q_f32(x), m1 = vld1q_f32(x + 4), m2 = vld1q_f32(x + 8), m3 = vld1q_f32(x + 12);
        for (i = 16; i + 16 <= n; i += 16) {
            m0 = vmaxq_f32(m0, vld1q_f32(x + i));
            m1 = vmaxq_f32(m1, vld1q_f32(x + i + 4));
            m2 = vmaxq_f32(m2, vld1q_f32(x + i + 8));
            m3 = vmaxq_f32(m3, vld1q_f32(x + i + 12));
        }
        max = vmaxvq_f32(vmaxq_f32(vmaxq_f32(m0, m1), vmaxq_f32(m2, m3)));
    }
    for (; i < n; i++)
        if (x[i] > max)
            max = x[i];
    return max;
}

void lk_neon_softmax(float *x, int64_t n, float scale)
{
    if (n < 1)
        return;
    float max = max_of(x, n);
    if (max == -INFINITY) {
        lk_scalar_softmax(x, n, scale);
        return;
    }
    max *= scale; /* rounding is monotonic: the largest scaled score */
    float32x4_t vmax = vdupq_n_f32(max), vscale = vdupq_n_f32(scale);
    float64x2_t acc = vdupq_n_f64(0);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t e = exp4(vsubq_f32(vmulq_f32(vld1q_f32(x + i), vscale), vmax));
        vst1q_f32(x + i, e);
        acc = vaddq_f64(acc, vaddq_f64(vcvt_f64_f32(vget_low_f32(e)), vcvt_high_f64_f32(e)));
    }
    double sum = vaddvq_f64(acc);
    for (; i < n; i++) {
        x[i] = expf((float)(x[i] * scale) - max);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    float32x4_t vinv = vdupq_n_f32(inv);
    for (i = 0; i + 4 <= n; i += 4)
        vst1q_f32(x + i, vmulq_f32(vld1q_f32(x + i), vinv));
    for (; i < n; i++)
        x[i] *= inv;
}

void lk_neon_silu_mul(float *gate, const float *up, int64_t n)
{
    int64_t i = 0;
    const float32x4_t one = vdupq_n_f32(1.0f);
    for (; i + 4 <= n; i += 4) {
        float32x4_t g = vld1q_f32(gate + i);
        float32x4_t silu = vdivq_f32(g, vaddq_f32(one, exp4(vnegq_f32(g))));
        vst1q_f32(gate + i, vmulq_f32(silu, vld1q_f32(up + i)));
    }
    for (; i < n; i++)
        gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int lk_neon_not_built;
#endif
