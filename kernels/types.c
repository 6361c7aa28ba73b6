/*
 * types.c — every tensor type id the GGUF format knows, and whether we run it.
 *
 * The parser needs the size of every type (a file of IQ2 tensors still has a layout we
 * must check), even of those the kernels do not implement; those say supported = 0 and
 * the model loader refuses them by name.
 */
#include "kernels.h"

#define TYPE(id, nm, bs, bb, sup) [id] = {nm, bs, bb, sup}

static const lk_type_traits TYPES[] = {
    TYPE(0, "f32", 1, 4, 1),
    TYPE(1, "f16", 1, 2, 1),
    TYPE(2, "q4_0", 32, 18, 1),
    TYPE(3, "q4_1", 32, 20, 1),
    /* 4, 5: q4_2 and q4_3, removed from the format long ago */
    TYPE(6, "q5_0", 32, 22, 1),
    TYPE(7, "q5_1", 32, 24, 1),
    TYPE(8, "q8_0", 32, 34, 1),
    TYPE(9, "q8_1", 32, 36, 0),
    TYPE(10, "q2_K", 256, 84, 1),
    TYPE(11, "q3_K", 256, 110, 1),
    TYPE(12, "q4_K", 256, 144, 1),
    TYPE(13, "q5_K", 256, 176, 1),
    TYPE(14, "q6_K", 256, 210, 1),
    TYPE(15, "q8_K", 256, 292, 0),
    TYPE(16, "iq2_xxs", 256, 66, 0),
    TYPE(17, "iq2_xs", 256, 74, 0),
    TYPE(18, "iq3_xxs", 256, 98, 0),
    TYPE(19, "iq1_s", 256, 50, 0),
    TYPE(20, "iq4_nl", 32, 18, 0),
    TYPE(21, "iq3_s", 256, 110, 0),
    TYPE(22, "iq2_s", 256, 82, 0),
    TYPE(23, "iq4_xs", 256, 136, 0),
    TYPE(24, "i8", 1, 1, 0),
    TYPE(25, "i16", 1, 2, 0),
    TYPE(26, "i32", 1, 4, 0),
    TYPE(27, "i64", 1, 8, 0),
    TYPE(28, "f64", 1, 8, 0),
    TYPE(29, "iq1_m", 256, 56, 0),
    TYPE(30, "bf16", 1, 2, 1),
    /* 31..33: q4_0_4_4, q4_0_4_8, q4_0_8_8, repacked layouts no longer stored in files */
    TYPE(34, "tq1_0", 256, 54, 0),
    TYPE(35, "tq2_0", 256, 66, 0),
    /* 36..38: iq4_nl_4_4, iq4_nl_4_8, iq4_nl_8_8, likewise removed */
    TYPE(39, "mxfp4", 32, 17, 0),
};

const lk_type_traits *lk_type(uint32_t type)
{
    if (type >= sizeof TYPES / sizeof TYPES[0] || TYPES[type].name == 0)
        return 0;
    return &TYPES[type];
}

size_t lk_row_bytes(uint32_t type, int64_t n)
{
    const lk_type_traits *t = lk_type(type);
    if (!t || n < 0 || n % t->block_size)
        return 0;
    return (size_t)(n / t->block_size) * t->block_bytes;
}
