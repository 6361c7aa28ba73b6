/*
 * quant_k.h — helpers shared by quant.c (formats, simple quantizers) and quant_k.c (the
 * K-quant search). Private to kernels/.
 */
#ifndef LK_QUANT_K_H
#define LK_QUANT_K_H

#include <stdint.h>
#include <string.h>

#include "quant.h"

/* Round to nearest, ties to even, by adding 1.5 * 2^23 (exact for |x| < 2^22): ggml's
 * nearest_int, which the K-quants and q8_K depend on (roundf rounds ties away). The
 * argument is a separate float so no compiler fuses a multiply into the add. */
static inline int lk_nearest_int(float x)
{
    float v = x + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* The eight 6-bit scales and mins of q4_K / q5_K, packed in 12 bytes: for j < 4 the low
 * 6 bits of bytes j (scale) and j + 4 (min); for j >= 4 a nibble of byte j + 4 and the
 * top two bits of bytes j - 4 (scale) and j (min). */
static inline void lk_get_scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xf) | (q[j - 4] >> 6) << 4);
        *m = (uint8_t)((q[j + 4] >> 4) | (q[j] >> 6) << 4);
    }
}

/* The K-quant reference quantizers (quant_k.c): nb blocks of QK_K values each. */
void lk_quantize_q2_K(const float *x, block_q2_K *y, int64_t nb);
void lk_quantize_q3_K(const float *x, block_q3_K *y, int64_t nb);
void lk_quantize_q4_K(const float *x, block_q4_K *y, int64_t nb);
void lk_quantize_q5_K(const float *x, block_q5_K *y, int64_t nb);
void lk_quantize_q6_K(const float *x, block_q6_K *y, int64_t nb);

#endif /* LK_QUANT_K_H */
