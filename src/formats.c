/*
 * formats.c — the public face of the tensor types: names, block sizes, and the reference
 * quantizer / dequantizer for one row. The work is in kernels/ (types.c, quant.c); this
 * file checks the arguments and turns the kernels' -1 into a status with a message.
 */
#include "internal.h"
#include "kernels.h"

const char *latent_type_name(uint32_t type)
{
    const lk_type_traits *t = lk_type(type);
    return t ? t->name : NULL;
}

uint32_t latent_type_block_size(uint32_t type)
{
    const lk_type_traits *t = lk_type(type);
    return t ? t->block_size : 0;
}

uint32_t latent_type_block_bytes(uint32_t type)
{
    const lk_type_traits *t = lk_type(type);
    return t ? t->block_bytes : 0;
}

int latent_type_supported(uint32_t type)
{
    const lk_type_traits *t = lk_type(type);
    return t ? t->supported : 0;
}

/* Checks what both directions share; `what` is "quantize" or "dequantize". q8_1 and
 * q8_K are not weight types (supported = 0) but have both directions, so the test is
 * the kernels' own answer for the type, made before any data is touched. */
static latent_status check_row(const char *what, uint32_t type, const void *src,
                               const void *dst, int64_t n)
{
    const lk_type_traits *t = lk_type(type);
    if (!t)
        return lt_fail(LATENT_EINVAL, "%s: unknown tensor type id %u", what, (unsigned)type);
    if (!src || !dst)
        return lt_fail(LATENT_EINVAL, "%s %s: NULL %s", what, t->name, src ? "dst" : "src");
    if (n < 0 || n % t->block_size)
        return lt_fail(LATENT_EINVAL,
                       "%s %s: n = %lld is not a non-negative multiple of the block size %u",
                       what, t->name, (long long)n, (unsigned)t->block_size);
    return LATENT_OK;
}

latent_status latent_quantize_row(uint32_t type, const float *src, void *dst, int64_t n)
{
    latent_status st = check_row("quantize", type, src, dst, n);
    if (st != LATENT_OK)
        return st;
    if (lk_quantize_row(type, src, dst, n) != 0)
        return lt_fail(LATENT_EINVAL, "quantize: type %s has no quantizer in liblatent",
                       lk_type(type)->name);
    return LATENT_OK;
}

latent_status latent_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n)
{
    latent_status st = check_row("dequantize", type, src, dst, n);
    if (st != LATENT_OK)
        return st;
    if (lk_dequantize_row(type, src, dst, n) != 0)
        return lt_fail(LATENT_EINVAL, "dequantize: type %s has no dequantizer in liblatent",
                       lk_type(type)->name);
    return LATENT_OK;
}
