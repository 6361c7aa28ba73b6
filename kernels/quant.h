/*
 * quant.h — the weight formats, as block structs.
 *
 * The layouts are ggml's (GGUF files store these blocks byte for byte). Each struct has a
 * size check; the dequantizers in quant.c are the definition of what the bits mean.
 * A "half" is an IEEE binary16 stored little-endian; we keep it as raw uint16_t bits.
 */
#ifndef LK_QUANT_H
#define LK_QUANT_H

#include <stdint.h>

typedef uint16_t lk_half;

/* ggml type ids (the GGUF numbering; traits in types.c), short for the kernels */
enum {
    T_F32 = 0,
    T_F16 = 1,
    T_Q4_0 = 2,
    T_Q4_1 = 3,
    T_Q5_0 = 6,
    T_Q5_1 = 7,
    T_Q8_0 = 8,
    T_Q8_1 = 9,
    T_Q2_K = 10,
    T_Q3_K = 11,
    T_Q4_K = 12,
    T_Q5_K = 13,
    T_Q6_K = 14,
    T_Q8_K = 15,
    T_BF16 = 30,
};

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK_K 256
#define K_SCALE_SIZE 12

/* 4.5 bits: x = d * (q - 8), q in 0..15; low nibbles hold elements 0..15, high 16..31 */
typedef struct {
    lk_half d;
    uint8_t qs[QK4_0 / 2];
} block_q4_0;
_Static_assert(sizeof(block_q4_0) == 18, "block_q4_0 is 18 bytes");

/* 5 bits: x = d * q + m */
typedef struct {
    lk_half d;
    lk_half m;
    uint8_t qs[QK4_1 / 2];
} block_q4_1;
_Static_assert(sizeof(block_q4_1) == 20, "block_q4_1 is 20 bytes");

/* 5.5 bits: x = d * (q - 16), the fifth bit of element j in bit j of qh */
typedef struct {
    lk_half d;
    uint8_t qh[4];
    uint8_t qs[QK5_0 / 2];
} block_q5_0;
_Static_assert(sizeof(block_q5_0) == 22, "block_q5_0 is 22 bytes");

/* 6 bits: x = d * q + m */
typedef struct {
    lk_half d;
    lk_half m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
} block_q5_1;
_Static_assert(sizeof(block_q5_1) == 24, "block_q5_1 is 24 bytes");

/* 8.5 bits: x = d * q */
typedef struct {
    lk_half d;
    int8_t qs[QK8_0];
} block_q8_0;
_Static_assert(sizeof(block_q8_0) == 34, "block_q8_0 is 34 bytes");

/* activations for q4_1 / q5_1 dot products: s = d * sum(qs) */
typedef struct {
    lk_half d;
    lk_half s;
    int8_t qs[QK8_1];
} block_q8_1;
_Static_assert(sizeof(block_q8_1) == 36, "block_q8_1 is 36 bytes");

/* 2.625 bits: 16 sub-blocks of 16, 4-bit scale and 4-bit min per sub-block */
typedef struct {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    lk_half d;
    lk_half dmin;
} block_q2_K;
_Static_assert(sizeof(block_q2_K) == 84, "block_q2_K is 84 bytes");

/* 3.4375 bits: 16 sub-blocks of 16, 6-bit scales, high bit in hmask */
typedef struct {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];
    lk_half d;
} block_q3_K;
_Static_assert(sizeof(block_q3_K) == 110, "block_q3_K is 110 bytes");

/* 4.5 bits: 8 sub-blocks of 32, 6-bit scales and mins packed in 12 bytes */
typedef struct {
    lk_half d;
    lk_half dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
} block_q4_K;
_Static_assert(sizeof(block_q4_K) == 144, "block_q4_K is 144 bytes");

/* 5.5 bits: as q4_K plus a fifth bit per element in qh */
typedef struct {
    lk_half d;
    lk_half dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;
_Static_assert(sizeof(block_q5_K) == 176, "block_q5_K is 176 bytes");

/* 6.5625 bits: low 4 bits in ql, high 2 in qh, 16 signed 8-bit scales */
typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    lk_half d;
} block_q6_K;
_Static_assert(sizeof(block_q6_K) == 210, "block_q6_K is 210 bytes");

/* activations for K-quant dot products: float scale, sums of each 16 quants */
typedef struct {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_K;
_Static_assert(sizeof(block_q8_K) == 292, "block_q8_K is 292 bytes");

#endif /* LK_QUANT_H */
