/*
 * avx2.c — the x86-64 kernels (AVX2 + FMA + F16C), tested against scalar.c.
 *
 * Same scheme as the oracle: the activations are quantized once per call (q8_0 and q8_1
 * by vector code that makes the bytes lk_quantize_row makes, q8_K by lk_quantize_row
 * itself, so both see identical q8 blocks), then each block's integer dot product is taken
 * 32 bytes at a time with maddubs (unsigned x signed bytes -> pairs of int16) and madd
 * (-> int32), and scaled in float by the two block scales. q4_0 and q4_1 read their
 * activations rearranged in groups of eight blocks (see dot_q4_0_n), so that two weight
 * blocks share a register and eight weight scales are converted at once.
 *
 * One parallel region per product: for a large batch each thread first quantizes its
 * share of the activations, then (after a barrier) dots its rows; a single token is
 * quantized before the region, where a barrier would cost more than it saves.
 *
 * A row is dotted with up to four tokens at once: its blocks are loaded and unpacked once
 * and used four times, which is what makes prompt processing compute-bound rather than
 * memory-bound. Each token keeps its own accumulators and sees the same sequence of
 * operations whatever the number of tokens beside it, so a batch gives bit-for-bit the
 * results of one token at a time, and the thread split cannot change them either.
 *
 * Every weight type scalar.c runs has a kernel here; anything else goes to the scalar
 * matmul (which ignores types it does not know).
 */
#include "kernels.h"

#if defined(__AVX2__) && defined(__FMA__)

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "quant.h"
#include "rows.h"


static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float half_to_float(lk_half h)
{
    return _cvtsh_ss(h);
}

/* Signed bytes x, y -> the 8 int32 sums of 4 adjacent products. maddubs wants one unsigned
 * operand: |x| with x's sign moved onto y (y is an activation, never -128). */
static inline __m256i dot_s8(__m256i x, __m256i y)
{
    __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

/* 16 bytes of packed nibbles -> 32 bytes: the low nibbles, then the high nibbles. */
static inline __m256i unpack_nibbles(const uint8_t *qs)
{
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m256i both = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

/* ---------------------------------------------------------------------------
 * Row · tokens kernels. x points at token 0's activation row; token t's is
 * x + t * x_stride bytes. Written for a variable nt, instantiated for nt = 1..4 below so
 * the compiler unrolls the token loops.
 * ------------------------------------------------------------------------- */

/* A product with one token reads each weight once, straight from memory, and the hardware
 * prefetcher alone leaves part of the bandwidth unused. Each kernel asks, per block it
 * starts, for the cache lines STREAM_AHEAD bytes further on (2 to 8 KiB did about as well;
 * 0.5 and 1 KiB gained nothing). One core streaming q4_0 went from 17.2 to 19.6 GB/s, q4_K
 * from 18.9 to 19.8 (a 151 MB matrix, median of 8 alternated runs of the best of 31); the
 * llama-3.2-1b q4_k_m file with two threads from 84.7% to 88.4% of the paired ceiling
 * (bench/README.md); q8_0, which already kept up, neither gained nor lost. Past the end of
 * the matrix the hint is harmless (a prefetch never faults); its address is an integer
 * because such a pointer would leave its object. With several tokens the rows come from
 * cache and nothing is asked. */
#define STREAM_AHEAD 4096

static inline __attribute__((always_inline)) void stream_ahead(const void *block, size_t bytes, int nt)
{
    if (nt > 1)
        return;
    /* each line once: the lines that start within this block's bytes, moved ahead */
    uintptr_t start = (uintptr_t)block + STREAM_AHEAD, end = start + bytes;
    for (uintptr_t line = (start + 63) & ~(uintptr_t)63; line < end; line += 64)
        _mm_prefetch((const char *)line, _MM_HINT_T0);
}

/* One q8_0-activation block step for every token: acc += dw * dx * dot(q, y). */
static inline __attribute__((always_inline)) void
q8_block_step(__m256i q, float dw, const void *x, size_t x_stride, int64_t b, __m256 *acc, int nt)
{
    UNROLL
    for (int t = 0; t < nt; t++) {
        const block_q8_0 *xb = (const block_q8_0 *)((const char *)x + t * x_stride) + b;
        __m256i y = _mm256_loadu_si256((const __m256i *)xb->qs);
        __m256 d = _mm256_set1_ps(dw * half_to_float(xb->d));
        acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8(q, y)), acc[t]);
    }
}

/* q4_0 does not read q8_0 blocks directly: the activations are first rearranged (see
 * prepare_q4_0_groups) in groups of eight blocks (256 columns), for blocks taken two at a
 * time, so one 256-bit register holds the nibbles of two weight blocks as they come from
 * memory (block 2k's 16 bytes in the low lane, 2k+1's in the high lane). Per group:
 *   4 x { lo[32]  activations for the low nibbles: elements 0..15 of block 2k, then 2k+1
 *         hi[32]  for the high nibbles: elements 16..31 of block 2k, then of 2k+1
 *         offset[8] int32: -8 * the sum of the 8 activations each int32 lane of the dot
 *                 product covers (lanes 0..3 block 2k, 4..7 block 2k+1) }
 *   d[8]  the float scales of the eight q8_0 blocks
 * Blocks past the end of the row are zero. The nibbles go to maddubs unsigned as they are,
 * and sum((q - 8) * y) = sum(q * y) - 8 * sum(y) is completed lane by lane in integers, so
 * each int32 lane holds exactly the signed partial sum of its 8 elements (a correction
 * applied once per block would leave lanes that cancel only after scaling, and lose
 * everything to rounding when scales are large). The eight weight scales of a group are
 * converted, and multiplied by the activation scales, once for its four pairs. */
#define Q4_0_PAIR_BYTES 96
#define Q4_0_GROUP_BYTES (4 * Q4_0_PAIR_BYTES + 32)

static inline size_t q4_0_activation_bytes(int64_t nb)
{
    return (size_t)((nb + 7) / 8) * Q4_0_GROUP_BYTES;
}

/* The fp16 scales of eight 18-byte q4_0 blocks as 8 floats. */
static inline __m256 q4_0_scales8(const block_q4_0 *b)
{
    __m128i h = _mm_cvtsi32_si128(b[0].d);
    h = _mm_insert_epi16(h, b[1].d, 1);
    h = _mm_insert_epi16(h, b[2].d, 2);
    h = _mm_insert_epi16(h, b[3].d, 3);
    h = _mm_insert_epi16(h, b[4].d, 4);
    h = _mm_insert_epi16(h, b[5].d, 5);
    h = _mm_insert_epi16(h, b[6].d, 6);
    h = _mm_insert_epi16(h, b[7].d, 7);
    return _mm256_cvtph_ps(h);
}

/* The nibbles of two 16-byte q4 blocks side by side (block 0 in the low lane): low nibbles
 * in *lo, high nibbles in *hi, as unsigned bytes. */
static inline __attribute__((always_inline)) void
unpack_block_pair(const uint8_t *qs0, const uint8_t *qs1, __m256i *lo, __m256i *hi)
{
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    __m256i raw = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)qs0)),
                                          _mm_loadu_si128((const __m128i *)qs1), 1);
    *lo = _mm256_and_si256(raw, low4);
    *hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
}

/* lo · pair[0..31] + hi · pair[32..63] as 16 int16 sums of two products each. */
static inline __m256i pair_products(__m256i lo, __m256i hi, const char *pair)
{
    return _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)pair)),
                            _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(pair + 32))));
}

/* Pair k of a q4_0 group for every token; one permute spreads the pair's two products
 * dw * dx over the four lanes of each block. */
static inline __attribute__((always_inline)) void
q4_0_group_pair(const block_q4_0 *b0, const char *pair0, size_t x_stride, const __m256 *d8, __m256i pick,
                __m256 *acc, int nt)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i lo, hi;
    unpack_block_pair(b0[0].qs, b0[1].qs, &lo, &hi);
    UNROLL
    for (int t = 0; t < nt; t++) {
        const char *pair = pair0 + t * x_stride;
        __m256i p16 = pair_products(lo, hi, pair);
        __m256i isum = _mm256_add_epi32(_mm256_madd_epi16(p16, ones), _mm256_loadu_si256((const __m256i *)(pair + 64)));
        __m256 d = _mm256_permutevar8x32_ps(d8[t], pick);
        acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(isum), acc[t]);
    }
}

static inline __attribute__((always_inline)) void
q4_0_group_step(const block_q4_0 *b, const char *group, size_t x_stride, __m256 *even, __m256 *odd, int nt)
{
    __m256 dw8 = q4_0_scales8(b);
    __m256 d8[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++)
        d8[t] = _mm256_mul_ps(dw8, _mm256_loadu_ps((const float *)(group + t * x_stride + 4 * Q4_0_PAIR_BYTES)));
    q4_0_group_pair(b, group, x_stride, d8, _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1), even, nt);
    q4_0_group_pair(b + 2, group + Q4_0_PAIR_BYTES, x_stride, d8, _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3), odd, nt);
    q4_0_group_pair(b + 4, group + 2 * Q4_0_PAIR_BYTES, x_stride, d8, _mm256_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5), even,
                    nt);
    q4_0_group_pair(b + 6, group + 3 * Q4_0_PAIR_BYTES, x_stride, d8, _mm256_setr_epi32(6, 6, 6, 6, 7, 7, 7, 7), odd,
                    nt);
}

/* Even and odd pairs go to separate accumulators: one chain of dependent FMAs would
 * limit a single token to one pair per FMA latency. Whole groups from the row; the last,
 * partial group from a zeroed copy of its blocks. */
static inline __attribute__((always_inline)) void
dot_q4_0_n(const void *w, const void *x, size_t x_stride, int64_t n, float *out, int nt)
{
    const block_q4_0 *wb = w;
    __m256 even[MAX_TOK], odd[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++)
        even[t] = odd[t] = _mm256_setzero_ps();
    int64_t nb = n / QK4_0, g = 0;
    for (; 8 * g + 8 <= nb; g++) {
        stream_ahead(wb + 8 * g, 8 * sizeof *wb, nt);
        q4_0_group_step(wb + 8 * g, (const char *)x + g * Q4_0_GROUP_BYTES, x_stride, even, odd, nt);
    }
    if (8 * g < nb) {
        block_q4_0 tail[8];
        memset(tail, 0, sizeof tail);
        memcpy(tail, wb + 8 * g, (size_t)(nb - 8 * g) * sizeof *wb);
        q4_0_group_step(tail, (const char *)x + g * Q4_0_GROUP_BYTES, x_stride, even, odd, nt);
    }
    UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = hsum8(_mm256_add_ps(even[t], odd[t]));
}

static inline __attribute__((always_inline)) void
dot_q8_0_n(const void *w, const void *x, size_t x_stride, int64_t n, float *out, int nt)
{
    const block_q8_0 *wb = w;
    __m256 even[MAX_TOK], odd[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++)
        even[t] = odd[t] = _mm256_setzero_ps();
    int64_t nb = n / QK8_0, b = 0;
    for (; b + 2 <= nb; b += 2) {
        stream_ahead(wb + b, 2 * sizeof *wb, nt);
        q8_block_step(_mm256_loadu_si256((const __m256i *)wb[b].qs), half_to_float(wb[b].d), x,
                      x_stride, b, even, nt);
        q8_block_step(_mm256_loadu_si256((const __m256i *)wb[b + 1].qs), half_to_float(wb[b + 1].d), x,
                      x_stride, b + 1, odd, nt);
    }
    if (b < nb)
        q8_block_step(_mm256_loadu_si256((const __m256i *)wb[b].qs), half_to_float(wb[b].d), x,
                      x_stride, b, even, nt);
    UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = hsum8(_mm256_add_ps(even[t], odd[t]));
}

/* The head every q4_K / q5_K block starts with: d and dmin (halves), then twelve bytes of
 * 6-bit scales and mins (layout in scalar.c's k4_scale_min), unpacked from one 16-byte
 * load without leaving the vector unit:
 *   scale_bytes: the eight scales as bytes, repeated in every 64-bit lane (spread_byte);
 *   mins16: the eight mins as int16, each twice (one per 16-element bsum of its sub-block);
 *   d_dmin: [d, d, -dmin, -dmin] in both halves, for k4_accumulate. */
static inline __attribute__((always_inline)) void
k4_unpack_head(const void *block, __m256i *scale_bytes, __m256i *mins16, __m256 *d_dmin)
{
    const __m128i head = _mm_loadu_si128((const __m128i *)block); /* d, dmin, q[0..11] */
    /* low 6 bits: scales 0-3 are q[0..3], scales 4-7 the low nibbles of q[8..11], mins 0-3
     * q[4..7], mins 4-7 the high nibbles of q[8..11] */
    const __m128i low_pick = _mm_setr_epi8(4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m128i keep_low = _mm_setr_epi8(0x3F, 0x3F, 0x3F, 0x3F, 0x0F, 0x0F, 0x0F, 0x0F, 0x3F, 0x3F, 0x3F,
                                           0x3F, 0, 0, 0, 0);
    const __m128i keep_high_nibble = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0F, 0x0F, 0x0F, 0x0F);
    /* bits 4-5 of scales 4-7 and mins 4-7: the top two bits of q[0..3] and q[4..7] */
    const __m128i top_pick = _mm_setr_epi8(-1, -1, -1, -1, 4, 5, 6, 7, -1, -1, -1, -1, 8, 9, 10, 11);
    __m128i low = _mm_shuffle_epi8(head, low_pick);
    __m128i six = _mm_or_si128(_mm_and_si128(low, keep_low), _mm_and_si128(_mm_srli_epi16(low, 4), keep_high_nibble));
    __m128i top = _mm_and_si128(_mm_srli_epi16(_mm_shuffle_epi8(head, top_pick), 2), _mm_set1_epi8(0x30));
    __m128i scales_mins = _mm_or_si128(six, top); /* bytes 0-7 scales, 8-15 mins */
    *scale_bytes = _mm256_broadcastq_epi64(scales_mins);
    *mins16 = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(scales_mins, scales_mins));
    __m128 d = _mm_cvtph_ps(head); /* [d, dmin, -, -] */
    __m128 pair = _mm_xor_ps(_mm_unpacklo_ps(d, d), _mm_setr_ps(0.0f, 0.0f, -0.0f, -0.0f));
    *d_dmin = _mm256_set_m128(pair, pair);
}

/* acc += xd * (d * sum - dmin * m) for a q4_K / q5_K block: the sums of scaled products and
 * of mins times bsums are paired up lane by lane (hadd), so one conversion and one fma
 * take both. */
static inline __m256 k4_accumulate(__m256 acc, __m256i sum, __m256i m, __m256 d_dmin, float xd)
{
    __m256 both = _mm256_cvtepi32_ps(_mm256_hadd_epi32(sum, m));
    return _mm256_fmadd_ps(_mm256_mul_ps(d_dmin, _mm256_set1_ps(xd)), both, acc);
}

/* pshufb controls that spread byte s of a broadcast 8-byte group over all 16-bit lanes
 * (byte s, then a zeroed byte): a table, so the loops below load rather than build them. */
static const uint8_t SPREAD_BYTE[8][32] = {
    {0, 0x80, 0, 0x80, 0, 0x80, 0, 0x80, 0, 0x80, 0, 0x80, 0, 0x80, 0, 0x80, 0, 0x80, 0, 0x80, 0, 0x80, 0, 0x80, 0, 0x80, 0, 0x80, 0, 0x80, 0, 0x80},
    {1, 0x80, 1, 0x80, 1, 0x80, 1, 0x80, 1, 0x80, 1, 0x80, 1, 0x80, 1, 0x80, 1, 0x80, 1, 0x80, 1, 0x80, 1, 0x80, 1, 0x80, 1, 0x80, 1, 0x80, 1, 0x80},
    {2, 0x80, 2, 0x80, 2, 0x80, 2, 0x80, 2, 0x80, 2, 0x80, 2, 0x80, 2, 0x80, 2, 0x80, 2, 0x80, 2, 0x80, 2, 0x80, 2, 0x80, 2, 0x80, 2, 0x80, 2, 0x80},
    {3, 0x80, 3, 0x80, 3, 0x80, 3, 0x80, 3, 0x80, 3, 0x80, 3, 0x80, 3, 0x80, 3, 0x80, 3, 0x80, 3, 0x80, 3, 0x80, 3, 0x80, 3, 0x80, 3, 0x80, 3, 0x80},
    {4, 0x80, 4, 0x80, 4, 0x80, 4, 0x80, 4, 0x80, 4, 0x80, 4, 0x80, 4, 0x80, 4, 0x80, 4, 0x80, 4, 0x80, 4, 0x80, 4, 0x80, 4, 0x80, 4, 0x80, 4, 0x80},
    {5, 0x80, 5, 0x80, 5, 0x80, 5, 0x80, 5, 0x80, 5, 0x80, 5, 0x80, 5, 0x80, 5, 0x80, 5, 0x80, 5, 0x80, 5, 0x80, 5, 0x80, 5, 0x80, 5, 0x80, 5, 0x80},
    {6, 0x80, 6, 0x80, 6, 0x80, 6, 0x80, 6, 0x80, 6, 0x80, 6, 0x80, 6, 0x80, 6, 0x80, 6, 0x80, 6, 0x80, 6, 0x80, 6, 0x80, 6, 0x80, 6, 0x80, 6, 0x80},
    {7, 0x80, 7, 0x80, 7, 0x80, 7, 0x80, 7, 0x80, 7, 0x80, 7, 0x80, 7, 0x80, 7, 0x80, 7, 0x80, 7, 0x80, 7, 0x80, 7, 0x80, 7, 0x80, 7, 0x80, 7, 0x80},
};

static inline __m256i spread_byte(int s)
{
    return _mm256_loadu_si256((const __m256i *)SPREAD_BYTE[s]);
}

static inline __attribute__((always_inline)) void
dot_q4_K_n(const void *w, const void *x, size_t x_stride, int64_t n, float *out, int nt)
{
    const block_q4_K *wb = w;
    __m256 acc[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int64_t b = 0; b < n / QK_K; b++) {
        stream_ahead(wb + b, sizeof *wb, nt);
        __m256i scale_bytes, mins16;
        __m256 d_dmin;
        k4_unpack_head(&wb[b], &scale_bytes, &mins16, &d_dmin);
        __m256i sum[MAX_TOK];
        UNROLL
        for (int t = 0; t < nt; t++)
            sum[t] = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i packed = _mm256_loadu_si256((const __m256i *)(wb[b].qs + 32 * c));
            __m256i lo = _mm256_and_si256(packed, low4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
            __m256i sc_lo = _mm256_shuffle_epi8(scale_bytes, spread_byte(2 * c));
            __m256i sc_hi = _mm256_shuffle_epi8(scale_bytes, spread_byte(2 * c + 1));
            UNROLL
            for (int t = 0; t < nt; t++) {
                const block_q8_K *xb = (const block_q8_K *)((const char *)x + t * x_stride) + b;
                __m256i y0 = _mm256_loadu_si256((const __m256i *)(xb->qs + 64 * c));
                __m256i y1 = _mm256_loadu_si256((const __m256i *)(xb->qs + 64 * c + 32));
                __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y0), sc_lo);
                __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y1), sc_hi);
                sum[t] = _mm256_add_epi32(sum[t], _mm256_add_epi32(p0, p1));
            }
        }
        UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_K *xb = (const block_q8_K *)((const char *)x + t * x_stride) + b;
            __m256i m = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)xb->bsums), mins16);
            acc[t] = k4_accumulate(acc[t], sum[t], m, d_dmin, xb->d);
        }
    }
    UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = hsum8(acc[t]);
}

/* pshufb controls: with the 8 int16 scales of one half of a q6_K block in both 128-bit
 * lanes, put scale 2k in every 16-bit slot of the low lane and 2k+1 in the high lane. */
static const uint8_t Q6_K_SCALE_PICK[4][32] = {
    {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3},
    {4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7},
    {8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11},
    {12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15},
};

/* q6_K: quants are 6 unsigned bits; sum((q - 32) * y) = sum(q * y) - 32 * sum(y), the last
 * from q8_K's per-16 sums (one madd with the scales) and subtracted in integers. */
static inline __attribute__((always_inline)) void
dot_q6_K_n(const void *w, const void *x, size_t x_stride, int64_t n, float *out, int nt)
{
    const block_q6_K *wb = w;
    __m256 acc[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    const __m256i low4 = _mm256_set1_epi8(0x0F), low2 = _mm256_set1_epi8(3);
    for (int64_t b = 0; b < n / QK_K; b++) {
        stream_ahead(wb + b, sizeof *wb, nt);
        __m256i scales16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)wb[b].scales));
        __m256i sum[MAX_TOK];
        UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_K *xb = (const block_q8_K *)((const char *)x + t * x_stride) + b;
            __m256i offset = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)xb->bsums), scales16);
            sum[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5));
        }
        UNROLL
        for (int h = 0; h < 2; h++) {
            __m256i ql0 = _mm256_loadu_si256((const __m256i *)(wb[b].ql + 64 * h));
            __m256i ql1 = _mm256_loadu_si256((const __m256i *)(wb[b].ql + 64 * h + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(wb[b].qh + 32 * h));
            __m256i half_scales = h ? _mm256_permute2x128_si256(scales16, scales16, 0x11)
                                    : _mm256_permute2x128_si256(scales16, scales16, 0x00);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_slli_epi16(_mm256_and_si256(qh, low2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(ql1, low4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), low2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), low2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), low2), 4));
            UNROLL
            for (int k = 0; k < 4; k++) {
                __m256i scale = _mm256_shuffle_epi8(half_scales,
                                                    _mm256_loadu_si256((const __m256i *)Q6_K_SCALE_PICK[k]));
                UNROLL
                for (int t = 0; t < nt; t++) {
                    const block_q8_K *xb = (const block_q8_K *)((const char *)x + t * x_stride) + b;
                    __m256i y = _mm256_loadu_si256((const __m256i *)(xb->qs + 128 * h + 32 * k));
                    sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], y), scale));
                }
            }
        }
        float dw = half_to_float(wb[b].d);
        UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_K *xb = (const block_q8_K *)((const char *)x + t * x_stride) + b;
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xb->d * dw), _mm256_cvtepi32_ps(sum[t]), acc[t]);
        }
    }
    UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = hsum8(acc[t]);
}

/* The fifth bits of a q5 block (bit j of the little-endian qh for element j) as 0x10 in
 * byte j: each 128-bit lane gets the 4 bytes of qh, pshufb sends byte j/8 to byte j, and
 * a compare against bit j%8 turns it into a byte mask. */
static inline __m256i q5_high_bits(const uint8_t qh[4])
{
    uint32_t bits;
    memcpy(&bits, qh, 4);
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201ll);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), spread);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

/* q5_0: quants (nibble | fifth bit) - 16, signed, against q8_0 like q8_0 itself. */
static inline __attribute__((always_inline)) void
dot_q5_0_n(const void *w, const void *x, size_t x_stride, int64_t n, float *out, int nt)
{
    const block_q5_0 *wb = w;
    const __m256i sixteen = _mm256_set1_epi8(16);
    __m256 even[MAX_TOK], odd[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++)
        even[t] = odd[t] = _mm256_setzero_ps();
    int64_t nb = n / QK5_0;
    /* unrolled by two so the accumulators stay in registers */
    for (int64_t b = 0; b < nb; b += 2) {
        stream_ahead(wb + b, 2 * sizeof *wb, nt);
        __m256i q = _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles(wb[b].qs), q5_high_bits(wb[b].qh)), sixteen);
        q8_block_step(q, half_to_float(wb[b].d), x, x_stride, b, even, nt);
        if (b + 1 == nb)
            break;
        q = _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles(wb[b + 1].qs), q5_high_bits(wb[b + 1].qh)), sixteen);
        q8_block_step(q, half_to_float(wb[b + 1].d), x, x_stride, b + 1, odd, nt);
    }
    UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = hsum8(_mm256_add_ps(even[t], odd[t]));
}

/* q4_1 / q5_1 against q8_1: unsigned quants straight into maddubs, plus m * s per block. */
static inline __attribute__((always_inline)) void
q8_1_block_step(__m256i q, float dw, float mw, const void *x, size_t x_stride, int64_t b,
                __m256 *acc, float *acc_m, int nt)
{
    UNROLL
    for (int t = 0; t < nt; t++) {
        const block_q8_1 *xb = (const block_q8_1 *)((const char *)x + t * x_stride) + b;
        __m256i y = _mm256_loadu_si256((const __m256i *)xb->qs);
        __m256i isum = _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), _mm256_set1_epi16(1));
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * half_to_float(xb->d)), _mm256_cvtepi32_ps(isum), acc[t]);
        acc_m[t] += mw * half_to_float(xb->s);
    }
}

static inline __attribute__((always_inline)) void
dot_q5_1_n(const void *w, const void *x, size_t x_stride, int64_t n, float *out, int nt)
{
    const block_q5_1 *wb = w;
    __m256 even[MAX_TOK], odd[MAX_TOK];
    float acc_m[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++) {
        even[t] = odd[t] = _mm256_setzero_ps();
        acc_m[t] = 0;
    }
    int64_t nb = n / QK5_1;
    for (int64_t b = 0; b < nb; b += 2) {
        stream_ahead(wb + b, 2 * sizeof *wb, nt);
        __m256i q = _mm256_or_si256(unpack_nibbles(wb[b].qs), q5_high_bits(wb[b].qh));
        q8_1_block_step(q, half_to_float(wb[b].d), half_to_float(wb[b].m), x, x_stride, b, even, acc_m, nt);
        if (b + 1 == nb)
            break;
        q = _mm256_or_si256(unpack_nibbles(wb[b + 1].qs), q5_high_bits(wb[b + 1].qh));
        q8_1_block_step(q, half_to_float(wb[b + 1].d), half_to_float(wb[b + 1].m), x, x_stride, b + 1, odd,
                        acc_m, nt);
    }
    UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = hsum8(_mm256_add_ps(even[t], odd[t])) + acc_m[t];
}

/* q4_1 reads its activations in groups of eight blocks (256 columns), laid out as q4_0's
 * (one 256-bit register holds the nibbles of two weight blocks as they come from memory),
 * without the offsets: its quants are unsigned and its min term is separate. Per group:
 *   4 x { lo[32]: elements 0..15 of block 2k, then of 2k+1; hi[32]: elements 16..31 }
 *   d[8]  the float scales of the eight q8_1 blocks
 *   s[8]  their s = d * sum(q) (q8_1's, as stored, in float)
 * Blocks past the end of the row are zero. The eight weight scales and mins of a group
 * are converted at once, so the min term is one FMA per group rather than one scalar
 * product per block. */
#define Q4_1_GROUP_BYTES 320

static inline size_t q4_1_activation_bytes(int64_t nb)
{
    return (size_t)((nb + 7) / 8) * Q4_1_GROUP_BYTES;
}

/* The fp16 at byte offset `off` of each of eight 20-byte q4_1 blocks, as 8 floats. */
static inline __m256 q4_1_halves8(const block_q4_1 *b, int m)
{
    __m128i h = _mm_cvtsi32_si128(m ? b[0].m : b[0].d);
    h = _mm_insert_epi16(h, m ? b[1].m : b[1].d, 1);
    h = _mm_insert_epi16(h, m ? b[2].m : b[2].d, 2);
    h = _mm_insert_epi16(h, m ? b[3].m : b[3].d, 3);
    h = _mm_insert_epi16(h, m ? b[4].m : b[4].d, 4);
    h = _mm_insert_epi16(h, m ? b[5].m : b[5].d, 5);
    h = _mm_insert_epi16(h, m ? b[6].m : b[6].d, 6);
    h = _mm_insert_epi16(h, m ? b[7].m : b[7].d, 7);
    return _mm256_cvtph_ps(h);
}

/* Pair k of a q4_1 group for every token. */
static inline __attribute__((always_inline)) void
q4_1_group_pair(const block_q4_1 *b0, const char *group, size_t x_stride, const __m256 *d8, __m256i pick,
                __m256 *acc, int nt)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i lo, hi;
    unpack_block_pair(b0[0].qs, b0[1].qs, &lo, &hi);
    UNROLL
    for (int t = 0; t < nt; t++) {
        const char *pair = group + t * x_stride;
        __m256i p16 = pair_products(lo, hi, pair);
        __m256 d = _mm256_permutevar8x32_ps(d8[t], pick);
        acc[t] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, ones)), acc[t]);
    }
}

static inline __attribute__((always_inline)) void
q4_1_group_step(const block_q4_1 *b, const char *group, size_t x_stride, __m256 *even, __m256 *odd,
                __m256 *acc_m, int nt)
{
    __m256 dw8 = q4_1_halves8(b, 0), mw8 = q4_1_halves8(b, 1);
    __m256 d8[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++) {
        const float *ds = (const float *)(group + t * x_stride + 256);
        d8[t] = _mm256_mul_ps(dw8, _mm256_loadu_ps(ds));
        acc_m[t] = _mm256_fmadd_ps(mw8, _mm256_loadu_ps(ds + 8), acc_m[t]);
    }
    q4_1_group_pair(b, group, x_stride, d8, _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1), even, nt);
    q4_1_group_pair(b + 2, group + 64, x_stride, d8, _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3), odd, nt);
    q4_1_group_pair(b + 4, group + 128, x_stride, d8, _mm256_setr_epi32(4, 4, 4, 4, 5, 5, 5, 5), even, nt);
    q4_1_group_pair(b + 6, group + 192, x_stride, d8, _mm256_setr_epi32(6, 6, 6, 6, 7, 7, 7, 7), odd, nt);
}

/* Whole groups from the row; the last, partial group from a zeroed copy of its blocks. */
static inline __attribute__((always_inline)) void
dot_q4_1_n(const void *w, const void *x, size_t x_stride, int64_t n, float *out, int nt)
{
    const block_q4_1 *wb = w;
    __m256 even[MAX_TOK], odd[MAX_TOK], acc_m[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++)
        even[t] = odd[t] = acc_m[t] = _mm256_setzero_ps();
    int64_t nb = n / QK4_1, g = 0;
    for (; 8 * g + 8 <= nb; g++) {
        stream_ahead(wb + 8 * g, 8 * sizeof *wb, nt);
        q4_1_group_step(wb + 8 * g, (const char *)x + g * Q4_1_GROUP_BYTES, x_stride, even, odd, acc_m, nt);
    }
    if (8 * g < nb) {
        block_q4_1 tail[8];
        memset(tail, 0, sizeof tail);
        memcpy(tail, wb + 8 * g, (size_t)(nb - 8 * g) * sizeof *wb);
        q4_1_group_step(tail, (const char *)x + g * Q4_1_GROUP_BYTES, x_stride, even, odd, acc_m, nt);
    }
    UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = hsum8(_mm256_add_ps(even[t], odd[t])) + hsum8(acc_m[t]);
}

/* q5_K: q4_K plus the fifth bit of element 32s + l in bit s of qh[l]. */
static inline __attribute__((always_inline)) void
dot_q5_K_n(const void *w, const void *x, size_t x_stride, int64_t n, float *out, int nt)
{
    const block_q5_K *wb = w;
    __m256 acc[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    const __m256i low4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    for (int64_t b = 0; b < n / QK_K; b++) {
        stream_ahead(wb + b, sizeof *wb, nt);
        __m256i scale_bytes, mins16;
        __m256 d_dmin;
        k4_unpack_head(&wb[b], &scale_bytes, &mins16, &d_dmin);
        __m256i qh = _mm256_loadu_si256((const __m256i *)wb[b].qh);
        __m256i sum[MAX_TOK];
        UNROLL
        for (int t = 0; t < nt; t++)
            sum[t] = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i packed = _mm256_loadu_si256((const __m256i *)(wb[b].qs + 32 * c));
            __m256i h_lo = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one);
            __m256i h_hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one);
            __m256i lo = _mm256_or_si256(_mm256_and_si256(packed, low4), _mm256_slli_epi16(h_lo, 4));
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(packed, 4), low4),
                                         _mm256_slli_epi16(h_hi, 4));
            __m256i sc_lo = _mm256_shuffle_epi8(scale_bytes, spread_byte(2 * c));
            __m256i sc_hi = _mm256_shuffle_epi8(scale_bytes, spread_byte(2 * c + 1));
            UNROLL
            for (int t = 0; t < nt; t++) {
                const block_q8_K *xb = (const block_q8_K *)((const char *)x + t * x_stride) + b;
                __m256i y0 = _mm256_loadu_si256((const __m256i *)(xb->qs + 64 * c));
                __m256i y1 = _mm256_loadu_si256((const __m256i *)(xb->qs + 64 * c + 32));
                __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y0), sc_lo);
                __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y1), sc_hi);
                sum[t] = _mm256_add_epi32(sum[t], _mm256_add_epi32(p0, p1));
            }
        }
        UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_K *xb = (const block_q8_K *)((const char *)x + t * x_stride) + b;
            __m256i m = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)xb->bsums), mins16);
            acc[t] = k4_accumulate(acc[t], sum[t], m, d_dmin, xb->d);
        }
    }
    UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = hsum8(acc[t]);
}

/* q2_K: 2-bit quants at bits 2j of qs[32h + l] for element 128h + 32j + l; scales[s] has
 * the scale (low nibble) and min (high) of sub-block s = element / 16. The sub-block
 * layout per 32 elements is q6_K's, so its scale picking serves here too. */
static inline __attribute__((always_inline)) void
dot_q2_K_n(const void *w, const void *x, size_t x_stride, int64_t n, float *out, int nt)
{
    const block_q2_K *wb = w;
    __m256 acc[MAX_TOK], acc_min[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = acc_min[t] = _mm256_setzero_ps();
    const __m128i low4 = _mm_set1_epi8(0x0F);
    const __m256i low2 = _mm256_set1_epi8(3);
    for (int64_t b = 0; b < n / QK_K; b++) {
        stream_ahead(wb + b, sizeof *wb, nt);
        __m128i packed_scales = _mm_loadu_si128((const __m128i *)wb[b].scales);
        __m256i scales16 = _mm256_cvtepu8_epi16(_mm_and_si128(packed_scales, low4));
        __m256i mins16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed_scales, 4), low4));
        float dw = half_to_float(wb[b].d), dminw = half_to_float(wb[b].dmin);
        __m256i sum[MAX_TOK];
        UNROLL
        for (int t = 0; t < nt; t++)
            sum[t] = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i q32 = _mm256_loadu_si256((const __m256i *)(wb[b].qs + 32 * h));
            __m256i half_scales = h ? _mm256_permute2x128_si256(scales16, scales16, 0x11)
                                    : _mm256_permute2x128_si256(scales16, scales16, 0x00);
            for (int j = 0; j < 4; j++) {
                __m256i q = _mm256_and_si256(_mm256_srli_epi16(q32, 2 * j), low2);
                __m256i scale = _mm256_shuffle_epi8(half_scales,
                                                    _mm256_loadu_si256((const __m256i *)Q6_K_SCALE_PICK[j]));
                UNROLL
                for (int t = 0; t < nt; t++) {
                    const block_q8_K *xb = (const block_q8_K *)((const char *)x + t * x_stride) + b;
                    __m256i y = _mm256_loadu_si256((const __m256i *)(xb->qs + 128 * h + 32 * j));
                    sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), scale));
                }
            }
        }
        UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_K *xb = (const block_q8_K *)((const char *)x + t * x_stride) + b;
            __m256i m = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)xb->bsums), mins16);
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xb->d * dw), _mm256_cvtepi32_ps(sum[t]), acc[t]);
            acc_min[t] = _mm256_fmadd_ps(_mm256_set1_ps(xb->d * dminw), _mm256_cvtepi32_ps(m), acc_min[t]);
        }
    }
    UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = hsum8(_mm256_sub_ps(acc[t], acc_min[t]));
}

/* q3_K: q2_K's 2-bit layout plus a third bit (bit 4h + j of hmask[l]); the quant is
 * (2 bits | third bit << 2) - 4, the -4 taken from bsums as q6_K takes its -32. The 16
 * 6-bit scales (stored + 32) are unpacked as in scalar.c's q3_K_scale. */
static inline __attribute__((always_inline)) void
dot_q3_K_n(const void *w, const void *x, size_t x_stride, int64_t n, float *out, int nt)
{
    const block_q3_K *wb = w;
    __m256 acc[MAX_TOK];
    UNROLL
    for (int t = 0; t < nt; t++)
        acc[t] = _mm256_setzero_ps();
    const __m256i low2 = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    for (int64_t b = 0; b < n / QK_K; b++) {
        stream_ahead(wb + b, sizeof *wb, nt);
        /* four scales per 32-bit word: low nibbles from bytes 0..7, top bits from 8..11 */
        uint32_t a0, a1, a2;
        memcpy(&a0, wb[b].scales, 4);
        memcpy(&a1, wb[b].scales + 4, 4);
        memcpy(&a2, wb[b].scales + 8, 4);
        __m128i packed = _mm_setr_epi32((int)((a0 & 0x0F0F0F0Fu) | (a2 & 0x03030303u) << 4),
                                        (int)((a1 & 0x0F0F0F0Fu) | ((a2 >> 2) & 0x03030303u) << 4),
                                        (int)(((a0 >> 4) & 0x0F0F0F0Fu) | ((a2 >> 4) & 0x03030303u) << 4),
                                        (int)(((a1 >> 4) & 0x0F0F0F0Fu) | ((a2 >> 6) & 0x03030303u) << 4));
        __m256i scales16 = _mm256_cvtepi8_epi16(_mm_sub_epi8(packed, _mm_set1_epi8(32)));
        __m256i hmask = _mm256_loadu_si256((const __m256i *)wb[b].hmask);
        __m256i sum[MAX_TOK];
        UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_K *xb = (const block_q8_K *)((const char *)x + t * x_stride) + b;
            __m256i offset = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)xb->bsums), scales16);
            sum[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 2));
        }
        for (int h = 0; h < 2; h++) {
            __m256i q32 = _mm256_loadu_si256((const __m256i *)(wb[b].qs + 32 * h));
            __m256i half_scales = h ? _mm256_permute2x128_si256(scales16, scales16, 0x11)
                                    : _mm256_permute2x128_si256(scales16, scales16, 0x00);
            for (int j = 0; j < 4; j++) {
                __m256i third = _mm256_and_si256(_mm256_srli_epi16(hmask, 4 * h + j), one);
                __m256i q = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q32, 2 * j), low2),
                                            _mm256_slli_epi16(third, 2));
                __m256i scale = _mm256_shuffle_epi8(half_scales,
                                                    _mm256_loadu_si256((const __m256i *)Q6_K_SCALE_PICK[j]));
                UNROLL
                for (int t = 0; t < nt; t++) {
                    const block_q8_K *xb = (const block_q8_K *)((const char *)x + t * x_stride) + b;
                    __m256i y = _mm256_loadu_si256((const __m256i *)(xb->qs + 128 * h + 32 * j));
                    sum[t] = _mm256_add_epi32(sum[t], _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), scale));
                }
            }
        }
        float dw = half_to_float(wb[b].d);
        UNROLL
        for (int t = 0; t < nt; t++) {
            const block_q8_K *xb = (const block_q8_K *)((const char *)x + t * x_stride) + b;
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(xb->d * dw), _mm256_cvtepi32_ps(sum[t]), acc[t]);
        }
    }
    UNROLL
    for (int t = 0; t < nt; t++)
        out[t] = hsum8(acc[t]);
}

/* Float weights: 16 elements per step in two accumulators per token, then a scalar tail
 * (rows of the KV cache can be as short as head_dim). */
static inline __m256 load8_f32(const void *p, int64_t i) { return _mm256_loadu_ps((const float *)p + i); }
static inline __m256 load8_f16(const void *p, int64_t i)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + i)));
}
static inline __m256 load8_bf16(const void *p, int64_t i)
{
    __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + i)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
}
static inline float load1_f32(const void *p, int64_t i) { return ((const float *)p)[i]; }
static inline float load1_f16(const void *p, int64_t i) { return _cvtsh_ss(((const uint16_t *)p)[i]); }
static inline float load1_bf16(const void *p, int64_t i) { return lk_bf16_to_f32(((const uint16_t *)p)[i]); }

#define DOT_FLOAT_N(name, load8, load1, elem_bytes)                                          \
    static inline __attribute__((always_inline)) void name(const void *w, const void *x,    \
                                                           size_t x_stride, int64_t n,      \
                                                           float *out, int nt)              \
    {                                                                                        \
        __m256 acc0[MAX_TOK], acc1[MAX_TOK];                                                 \
        UNROLL                                                                               \
        for (int t = 0; t < nt; t++)                                                         \
            acc0[t] = acc1[t] = _mm256_setzero_ps();                                         \
        int64_t i = 0;                                                                       \
        for (; i + 16 <= n; i += 16) {                                                       \
            stream_ahead((const char *)w + i * elem_bytes, 16 * elem_bytes, nt);             \
            __m256 w0 = load8(w, i), w1 = load8(w, i + 8);                                   \
            UNROLL                                                                           \
            for (int t = 0; t < nt; t++) {                                                   \
                const float *xt = (const float *)((const char *)x + t * x_stride);           \
                acc0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xt + i), acc0[t]);             \
                acc1[t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xt + i + 8), acc1[t]);         \
            }                                                                                \
        }                                                                                    \
        UNROLL                                                                               \
        for (int t = 0; t < nt; t++) {                                                       \
            const float *xt = (const float *)((const char *)x + t * x_stride);               \
            float sum = hsum8(_mm256_add_ps(acc0[t], acc1[t]));                              \
            for (int64_t j = i; j < n; j++)                                                  \
                sum += load1(w, j) * xt[j];                                                  \
            out[t] = sum;                                                                    \
        }                                                                                    \
    }
DOT_FLOAT_N(dot_f32_n, load8_f32, load1_f32, 4)
DOT_FLOAT_N(dot_f16_n, load8_f16, load1_f16, 2)
DOT_FLOAT_N(dot_bf16_n, load8_bf16, load1_bf16, 2)

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
    int layout;               /* 0: the activation blocks as they are; LAYOUT_Q4_0, LAYOUT_Q4_1 */
} weight_kind;

enum { LAYOUT_Q4_0 = 1, LAYOUT_Q4_1 = 2 };

static int weight_kind_of(uint32_t type, weight_kind *k)
{
    switch (type) {
    case T_F32: *k = (weight_kind){T_F32, dot_f32_by_tokens, 0}; return 1;
    case T_F16: *k = (weight_kind){T_F32, dot_f16_by_tokens, 0}; return 1;
    case T_BF16: *k = (weight_kind){T_F32, dot_bf16_by_tokens, 0}; return 1;
    case T_Q4_0: *k = (weight_kind){T_Q8_0, dot_q4_0_by_tokens, LAYOUT_Q4_0}; return 1;
    case T_Q8_0: *k = (weight_kind){T_Q8_0, dot_q8_0_by_tokens, 0}; return 1;
    case T_Q4_K: *k = (weight_kind){T_Q8_K, dot_q4_K_by_tokens, 0}; return 1;
    case T_Q6_K: *k = (weight_kind){T_Q8_K, dot_q6_K_by_tokens, 0}; return 1;
    case T_Q4_1: *k = (weight_kind){T_Q8_1, dot_q4_1_by_tokens, LAYOUT_Q4_1}; return 1;
    case T_Q5_0: *k = (weight_kind){T_Q8_0, dot_q5_0_by_tokens, 0}; return 1;
    case T_Q5_1: *k = (weight_kind){T_Q8_1, dot_q5_1_by_tokens, 0}; return 1;
    case T_Q2_K: *k = (weight_kind){T_Q8_K, dot_q2_K_by_tokens, 0}; return 1;
    case T_Q3_K: *k = (weight_kind){T_Q8_K, dot_q3_K_by_tokens, 0}; return 1;
    case T_Q5_K: *k = (weight_kind){T_Q8_K, dot_q5_K_by_tokens, 0}; return 1;
    default: return 0;
    }
}

/* Bytes of one token's activations as the kernels read them. */
static size_t activation_row_bytes(const weight_kind *k, int64_t cols)
{
    if (k->layout == LAYOUT_Q4_0)
        return q4_0_activation_bytes(cols / QK8_0);
    if (k->layout == LAYOUT_Q4_1)
        return q4_1_activation_bytes(cols / QK8_1);
    if (k->activation_type == T_F32)
        return (size_t)cols * sizeof(float);
    return lk_row_bytes(k->activation_type, cols);
}

size_t lk_avx2_matmul_work_size(uint32_t type, int64_t cols, int64_t n_tok)
{
    weight_kind k;
    if (!weight_kind_of(type, &k))
        return lk_scalar_matmul_work_size(type, cols, n_tok); /* the scalar path runs it */
    if (k.activation_type == T_F32 || n_tok < 1)
        return 0;
    return activation_row_bytes(&k, cols) * (size_t)n_tok;
}

/* ---------------------------------------------------------------------------
 * Activation quantization. q8_0 and q8_1 blocks are made here with vector instructions,
 * bit for bit as lk_quantize_row makes them (the oracle's blocks): the same largest
 * magnitude, the same float scale and reciprocal, and roundf done exactly (truncate, then
 * one more unit away from zero when the dropped fraction is at least one half; v - trunc(v)
 * is exact). A block with a NaN or an infinity, or whose largest magnitude is below
 * 127 * 2^-128, goes to lk_quantize_row itself: there the quants are casts of inf or NaN,
 * whatever the oracle's compiler makes of them.
 * ------------------------------------------------------------------------- */

static inline __m256 round_half_away(__m256 v)
{
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 frac = _mm256_andnot_ps(sign_bit, _mm256_sub_ps(v, t));
    __m256 unit = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, sign_bit));
    return _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ), unit));
}

/* 32 floats -> 32 int8 quants and the float scale d, as quant_q8_0 / quant_q8_1 compute
 * them; *sum gets the sum of the quants. Returns 0 (and writes nothing) when the block
 * holds a NaN or an infinity, or its scale is so small that its reciprocal overflows. */
static inline int q8_quantize32(const float *x, int8_t qs[32], float *d_out, int *sum)
{
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 v[4], amax8 = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        amax8 = _mm256_max_ps(amax8, _mm256_and_ps(v[k], abs_mask));
    }
    /* a NaN lane makes max_ps keep amax8's lane, so look for them separately */
    __m256 bad = _mm256_or_ps(_mm256_cmp_ps(_mm256_add_ps(v[0], v[1]), _mm256_add_ps(v[2], v[3]), _CMP_UNORD_Q),
                              _mm256_cmp_ps(amax8, _mm256_set1_ps(INFINITY), _CMP_EQ_OQ));
    if (_mm256_movemask_ps(bad))
        return 0;
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    float amax = _mm_cvtss_f32(m);
    float d = amax / 127, id = d ? 1.0f / d : 0.0f;
    if (id > 3.4e38f) /* d subnormal: x * id overflows, and the cast of roundf is the oracle's to define */
        return 0;
    __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; k++)
        q[k] = _mm256_cvttps_epi32(round_half_away(_mm256_mul_ps(v[k], vid)));
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
    *sum = _mm_cvtsi128_si32(s4);
    /* packs interleave the 128-bit lanes: dwords come out as 0 4 1 5 2 6 3 7 */
    __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)qs, b);
    *d_out = d;
    return 1;
}

static void quantize_q8_0_blocks(const float *x, block_q8_0 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float d;
        int sum;
        if (q8_quantize32(x + 32 * i, y[i].qs, &d, &sum))
            y[i].d = lk_f32_to_f16(d);
        else
            lk_quantize_row(T_Q8_0, x + 32 * i, &y[i], 32);
    }
}

static void quantize_q8_1_blocks(const float *x, block_q8_1 *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++) {
        float d;
        int sum;
        if (q8_quantize32(x + 32 * i, y[i].qs, &d, &sum)) {
            y[i].d = lk_f32_to_f16(d);
            y[i].s = lk_f32_to_f16((float)sum * d);
        } else {
            lk_quantize_row(T_Q8_1, x + 32 * i, &y[i], 32);
        }
    }
}

/* Groups [g0, g1) of one token's q4_0 layout (see dot_q4_0_n) from its float row. */
static void prepare_q4_0_groups(const float *x, int64_t cols, void *dst, int64_t g0, int64_t g1)
{
    int64_t nb = cols / QK8_0;
    for (int64_t g = g0; g < g1; g++) {
        char *group = (char *)dst + g * Q4_0_GROUP_BYTES;
        float *d = (float *)(group + 4 * Q4_0_PAIR_BYTES);
        for (int i = 0; i < 8; i++) {
            int64_t b = 8 * g + i;
            block_q8_0 blk;
            if (b < nb)
                quantize_q8_0_blocks(x + b * QK8_0, &blk, 1);
            else
                memset(&blk, 0, sizeof blk);
            const int8_t *y = blk.qs;
            char *pair = group + Q4_0_PAIR_BYTES * (i / 2);
            memcpy(pair + 16 * (i % 2), y, 16);
            memcpy(pair + 32 + 16 * (i % 2), y + 16, 16);
            int32_t offset[4];
            for (int k = 0; k < 4; k++) {
                int32_t sum = 0;
                for (int j = 0; j < 4; j++)
                    sum += y[4 * k + j] + y[16 + 4 * k + j];
                offset[k] = -8 * sum;
            }
            memcpy(pair + 64 + 16 * (i % 2), offset, sizeof offset);
            d[i] = half_to_float(blk.d);
        }
    }
}

/* Groups [g0, g1) of one token's q4_1 layout (see dot_q4_1_n) from its float row. */
static void prepare_q4_1_groups(const float *x, int64_t cols, void *dst, int64_t g0, int64_t g1)
{
    int64_t nb = cols / QK8_1;
    for (int64_t g = g0; g < g1; g++) {
        char *group = (char *)dst + g * Q4_1_GROUP_BYTES;
        float *d = (float *)(group + 256), *s = d + 8;
        for (int i = 0; i < 8; i++) {
            int64_t b = 8 * g + i;
            block_q8_1 blk;
            if (b < nb)
                quantize_q8_1_blocks(x + b * QK8_1, &blk, 1);
            else
                memset(&blk, 0, sizeof blk);
            int8_t *lo = (int8_t *)group + 64 * (i / 2) + 16 * (i % 2);
            memcpy(lo, blk.qs, 16);
            memcpy(lo + 32, blk.qs + 16, 16);
            d[i] = half_to_float(blk.d);
            s[i] = half_to_float(blk.s);
        }
    }
}

/* Columns [c0, c1) of token t's activations (c0, c1 multiples of 256, or c1 = cols), in
 * the layout the kernels read. Ranges never share a block or a q4_0 pair. */
static void prepare_range(const weight_kind *k, const float *x, int64_t cols, char *act,
                          size_t act_row_bytes, int64_t t, int64_t c0, int64_t c1)
{
    const float *xt = x + t * cols;
    char *dst = act + (size_t)t * act_row_bytes;
    if (k->layout == LAYOUT_Q4_0)
        prepare_q4_0_groups(xt, cols, dst, c0 / 256, (c1 + 255) / 256);
    else if (k->layout == LAYOUT_Q4_1)
        prepare_q4_1_groups(xt, cols, dst, c0 / 256, (c1 + 255) / 256);
    else if (k->activation_type == T_Q8_0)
        quantize_q8_0_blocks(xt + c0, (block_q8_0 *)dst + c0 / QK8_0, (c1 - c0) / QK8_0);
    else if (k->activation_type == T_Q8_1)
        quantize_q8_1_blocks(xt + c0, (block_q8_1 *)dst + c0 / QK8_1, (c1 - c0) / QK8_1);
    else /* q8_K */
        lk_quantize_row(k->activation_type, xt + c0, (block_q8_K *)dst + c0 / QK_K, c1 - c0);
}

/* Quantizing a batch's activations, shared by the threads of a pool: units of 256
 * columns of one token, taken a few at a time. Every unit is quantized whole by whoever
 * took it, the same way. */
#define PREP_UNITS_AT_ONCE 4

typedef struct prep_job {
    const weight_kind *k;
    const float *x;
    int64_t cols, n_tok;
    char *act;
    size_t act_row_bytes;
    int64_t units;
    _Alignas(64) _Atomic int64_t next; /* the first unit not yet taken */
} prep_job;

static void prepare_units(const prep_job *j, int64_t u0, int64_t u1)
{
    int64_t per_tok = (j->cols + 255) / 256;
    for (int64_t u = u0; u < u1; u++) {
        int64_t t = u / per_tok, c0 = u % per_tok * 256, c1 = c0 + 256 < j->cols ? c0 + 256 : j->cols;
        prepare_range(j->k, j->x, j->cols, j->act, j->act_row_bytes, t, c0, c1);
    }
}

static void prep_job_run(void *arg, int participant)
{
    (void)participant;
    prep_job *j = arg;
    for (;;) {
        int64_t u0 = atomic_fetch_add_explicit(&j->next, PREP_UNITS_AT_ONCE, memory_order_relaxed);
        if (u0 >= j->units)
            return;
        prepare_units(j, u0, u0 + PREP_UNITS_AT_ONCE < j->units ? u0 + PREP_UNITS_AT_ONCE : j->units);
    }
}

/* Below this many activation elements the quantization runs on the calling thread alone:
 * sharing it would cost a task of its own, more than the work it shares. */
#define SPLIT_PREP_ELEMENTS 32768

static void prepare(const weight_kind *k, const float *x, int64_t cols, int64_t n_tok, char *act,
                    size_t act_row_bytes, lk_pool *pool, int n_threads)
{
    prep_job j = {k, x, cols, n_tok, act, act_row_bytes, (cols + 255) / 256 * n_tok, 0};
    if (n_threads > 1 && n_tok * cols >= SPLIT_PREP_ELEMENTS)
        lk_pool_run(pool, n_threads, prep_job_run, &j);
    else
        prepare_units(&j, 0, j.units);
}

void lk_avx2_matmul(const lk_matrix *w, const float *x, float *y, int64_t n_tok, void *work,
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
    size_t act_row_bytes = (size_t)w->cols * sizeof(float);
    if (k.activation_type != T_F32) {
        act_row_bytes = activation_row_bytes(&k, w->cols);
        prepare(&k, x, w->cols, n_tok, work, act_row_bytes, pool, n_threads);
        act = work;
    }
    lk_rows_matmul_pool(w, k.dot, act, act_row_bytes, y, n_tok, pool, n_threads);
}

/* ---------------------------------------------------------------------------
 * Attention's weighted sum of value rows
 * ------------------------------------------------------------------------- */

/* Eight floats of row `row` from column c: the f32, f16 or q8_0 value. */
static inline __m256 value8(uint32_t type, const void *row, int64_t c)
{
    if (type == T_Q8_0) {
        const block_q8_0 *b = (const block_q8_0 *)row + c / QK8_0;
        __m128i q = _mm_loadl_epi64((const __m128i *)(b->qs + c % QK8_0));
        return _mm256_mul_ps(_mm256_set1_ps(half_to_float(b->d)), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
    }
    return type == T_F32 ? load8_f32(row, c) : load8_f16(row, c);
}

/* A block of columns is summed in registers over every row and stored once: going through
 * memory row by row would make each row wait for the previous row's store. Each value is
 * converted once and multiplied into every set (the query heads sharing it); each column
 * of each set still sees its rows in order, one fused multiply-add each. Instantiated for
 * each type, number of sets and vectors so the accumulators stay in registers: at most 12
 * of them, beside a broadcast weight per set and the value. */
#define ACC_MAX_SETS 4
static const int acc_vectors[ACC_MAX_SETS + 1] = {0, 8, 6, 4, 2}; /* per set, by sets */

static inline __attribute__((always_inline)) void
accumulate_block(const lk_matrix *v, const float *a, int64_t a_stride, float *out, int64_t out_stride, int64_t c0,
                 uint32_t type, int ns, int nv)
{
    __m256 acc[ACC_MAX_SETS][8];
    UNROLL
    for (int s = 0; s < ns; s++)
        UNROLL
        for (int k = 0; k < nv; k++)
            acc[s][k] = _mm256_loadu_ps(out + s * out_stride + c0 + 8 * k);
    for (int64_t r = 0; r < v->rows; r++) {
        const void *row = (const char *)v->data + (size_t)r * v->row_stride;
        __m256 ar[ACC_MAX_SETS];
        UNROLL
        for (int s = 0; s < ns; s++)
            ar[s] = _mm256_set1_ps(a[s * a_stride + r]);
        UNROLL
        for (int k = 0; k < nv; k++) {
            __m256 value = value8(type, row, c0 + 8 * k);
            UNROLL
            for (int s = 0; s < ns; s++)
                acc[s][k] = _mm256_fmadd_ps(ar[s], value, acc[s][k]);
        }
    }
    UNROLL
    for (int s = 0; s < ns; s++)
        UNROLL
        for (int k = 0; k < nv; k++)
            _mm256_storeu_ps(out + s * out_stride + c0 + 8 * k, acc[s][k]);
}

#define ACC_CASE(ns, nv)                                                                    \
    case (ns) * 16 + (nv): accumulate_block(v, a, a_stride, out, out_stride, c0, type, ns, nv); break;

static inline __attribute__((always_inline)) void
accumulate_block_of(const lk_matrix *v, const float *a, int64_t a_stride, float *out, int64_t out_stride,
                    int64_t c0, uint32_t type, int ns, int nv)
{
    switch (ns * 16 + nv) {
    ACC_CASE(1, 1) ACC_CASE(1, 2) ACC_CASE(1, 3) ACC_CASE(1, 4)
    ACC_CASE(1, 5) ACC_CASE(1, 6) ACC_CASE(1, 7) ACC_CASE(1, 8)
    ACC_CASE(2, 1) ACC_CASE(2, 2) ACC_CASE(2, 3) ACC_CASE(2, 4) ACC_CASE(2, 5) ACC_CASE(2, 6)
    ACC_CASE(3, 1) ACC_CASE(3, 2) ACC_CASE(3, 3) ACC_CASE(3, 4)
    ACC_CASE(4, 1) ACC_CASE(4, 2)
    default: break;
    }
}

void lk_avx2_accumulate_rows(const lk_matrix *v, const float *a, int64_t a_stride, float *out, int64_t out_stride,
                             int n_sets)
{
    if (v->type != T_F32 && v->type != T_F16 && v->type != T_Q8_0) {
        lk_scalar_accumulate_rows(v, a, a_stride, out, out_stride, n_sets);
        return;
    }
    int64_t n = v->cols, vec_end = v->type == T_Q8_0 ? n : n - n % 8;
    for (int s0 = 0; s0 < n_sets; s0 += ACC_MAX_SETS) {
        int ns = n_sets - s0 < ACC_MAX_SETS ? n_sets - s0 : ACC_MAX_SETS;
        const float *as = a + s0 * a_stride;
        float *os = out + s0 * out_stride;
        int64_t step = 8 * acc_vectors[ns];
        for (int64_t c0 = 0; c0 < vec_end; c0 += step) {
            int nv = (int)((vec_end - c0 < step ? vec_end - c0 : step) / 8);
            switch (v->type) {
            case T_F32: accumulate_block_of(v, as, a_stride, os, out_stride, c0, T_F32, ns, nv); break;
            case T_F16: accumulate_block_of(v, as, a_stride, os, out_stride, c0, T_F16, ns, nv); break;
            default: accumulate_block_of(v, as, a_stride, os, out_stride, c0, T_Q8_0, ns, nv); break;
            }
        }
        for (int s = 0; s < ns; s++)
            for (int64_t r = 0; r < v->rows; r++) {
                const void *row = (const char *)v->data + (size_t)r * v->row_stride;
                for (int64_t c = vec_end; c < n; c++)
                    os[s * out_stride + c] += as[s * a_stride + r] *
                                              (v->type == T_F32 ? load1_f32(row, c) : load1_f16(row, c));
            }
    }
}

/* ---------------------------------------------------------------------------
 * Element-wise operations
 * ------------------------------------------------------------------------- */

void lk_avx2_rmsnorm(float *out, const float *x, const float *weight, int64_t n, float eps)
{
    /* the sum of squares in double, as the oracle takes it */
    __m256d acc = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(x + i));
        acc = _mm256_fmadd_pd(v, v, acc);
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, acc);
    double sum_sq = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; i < n; i++)
        sum_sq += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(sum_sq / (double)(n > 0 ? n : 1) + eps));
    __m256 vs = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
        _mm256_storeu_ps(out + i, weight ? _mm256_mul_ps(v, _mm256_loadu_ps(weight + i)) : v);
    }
    for (; i < n; i++)
        out[i] = x[i] * scale * (weight ? weight[i] : 1.0f);
}

void lk_avx2_rope(float *x, int64_t n_heads, int64_t head_dim, const float *cos_sin, int neox)
{
    int64_t half = head_dim / 2;
    for (int64_t h = 0; h < n_heads; h++) {
        float *v = x + h * head_dim;
        int64_t i = 0;
        if (neox) {
            /* x[i] and x[i + half] are in separate vectors: gather 8 (cos, sin) pairs apart */
            for (; i + 8 <= half; i += 8) {
                __m256 p0 = _mm256_loadu_ps(cos_sin + 2 * i), p1 = _mm256_loadu_ps(cos_sin + 2 * i + 8);
                /* even lanes are cos, odd are sin; regroup to 8 cos and 8 sin in order */
                __m256 c = _mm256_shuffle_ps(p0, p1, 0x88), s = _mm256_shuffle_ps(p0, p1, 0xDD);
                c = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(c), 0xD8));
                s = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xD8));
                __m256 a = _mm256_loadu_ps(v + i), b = _mm256_loadu_ps(v + i + half);
                _mm256_storeu_ps(v + i, _mm256_sub_ps(_mm256_mul_ps(a, c), _mm256_mul_ps(b, s)));
                _mm256_storeu_ps(v + i + half, _mm256_add_ps(_mm256_mul_ps(a, s), _mm256_mul_ps(b, c)));
            }
        } else {
            /* 4 pairs per vector: (a, b) * (c, c) -/+ (b, a) * (s, s) */
            for (; i + 4 <= half; i += 4) {
                __m256 cs = _mm256_loadu_ps(cos_sin + 2 * i), ab = _mm256_loadu_ps(v + 2 * i);
                __m256 c = _mm256_moveldup_ps(cs), s = _mm256_movehdup_ps(cs);
                __m256 ba = _mm256_permute_ps(ab, 0xB1);
                _mm256_storeu_ps(v + 2 * i, _mm256_addsub_ps(_mm256_mul_ps(ab, c), _mm256_mul_ps(ba, s)));
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

/* e^x for 8 floats, within a couple of ulp of expf: x = n ln2 + r with |r| <= ln2 / 2,
 * e^r by a degree-6 polynomial (Cephes' expf coefficients), times 2^n through the exponent
 * bits. Below -87.3 the result is 0 (a masked score must contribute exactly nothing);
 * above 88.37 it saturates at FLT_MAX-ish instead of inf. */
static inline __m256 exp8(__m256 x)
{
    __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ);
    x = _mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f));
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    /* n is in [-126, 128]: split 2^n in two factors so 2^128 does not overflow the exponent */
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i half_n = _mm256_srai_epi32(ni, 1);
    __m256 scale1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half_n, _mm256_set1_epi32(127)), 23));
    __m256 scale2 = _mm256_castsi256_ps(
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, half_n), _mm256_set1_epi32(127)), 23));
    __m256 result = _mm256_mul_ps(_mm256_mul_ps(p, scale1), scale2);
    return _mm256_andnot_ps(underflow, result);
}

/* The largest of n floats, NaN aside: four vectors of running maxima hide max_ps's latency. */
static float max_of(const float *x, int64_t n)
{
    float max = x[0];
    int64_t i = 0;
    if (n >= 32) {
        __m256 m[4];
        UNROLL
        for (int k = 0; k < 4; k++)
            m[k] = _mm256_loadu_ps(x + 8 * k);
        for (i = 32; i + 32 <= n; i += 32) {
            UNROLL
            for (int k = 0; k < 4; k++)
                m[k] = _mm256_max_ps(m[k], _mm256_loadu_ps(x + i + 8 * k));
        }
        __m256 v = _mm256_max_ps(_mm256_max_ps(m[0], m[1]), _mm256_max_ps(m[2], m[3]));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
        max = _mm_cvtss_f32(h);
    }
    for (; i < n; i++)
        if (x[i] > max)
            max = x[i];
    return max;
}

void lk_avx2_softmax(float *x, int64_t n, float scale)
{
    if (n < 1)
        return;
    float max = max_of(x, n);
    if (max == -INFINITY) {
        lk_scalar_softmax(x, n, scale);
        return;
    }
    max *= scale; /* rounding is monotonic: the largest scaled score */
    __m256 vmax = _mm256_set1_ps(max), vscale = _mm256_set1_ps(scale);
    __m256d acc = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vscale), vmax));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_pd(acc, _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(e)),
                                               _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1))));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, acc);
    double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; i < n; i++) {
        x[i] = expf((float)(x[i] * scale) - max);
        sum += x[i];
    }
    __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++)
        x[i] *= (float)(1.0 / sum);
}

void lk_avx2_silu_mul(float *gate, const float *up, int64_t n)
{
    int64_t i = 0;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
        __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, e));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++)
        gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int lk_avx2_not_built;
#endif
