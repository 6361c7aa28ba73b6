/*
 * latent_gguf.h — the formats door of liblatent, for tools: the GGUF view and writer,
 * the weight types' tables and reference (de)quantizers, and the model quantizer.
 *
 * A program that only runs models needs latent.h alone; gguf-dump, quantize,
 * convert-llama2c and bench include this header too. It follows latent.h's conventions.
 */
#ifndef LATENT_GGUF_H
#define LATENT_GGUF_H

#include "latent.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================
 * Weight types: names, block sizes, and the reference (de)quantizers
 * ========================================================================== */

/* "q4_K", "f16", ... for any ggml type id the GGUF format knows; NULL for unknown ids. */
const char *latent_type_name(uint32_t type);
/* Elements per block (1 for float types), bytes per block; 0 for unknown ids. */
uint32_t latent_type_block_size(uint32_t type);
uint32_t latent_type_block_bytes(uint32_t type);
/* 1 if liblatent can dequantize and multiply this type. */
int latent_type_supported(uint32_t type);

/* Converts one row of n floats to `type` (n a multiple of the block size), with the
 * reference quantizer. dst must hold n / block_size * block_bytes bytes. */
latent_status latent_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);
/* The inverse: the dequantizer that defines the format. */
latent_status latent_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);

/* ============================================================================
 * GGUF: a read-only view of a file, and a writer
 * ========================================================================== */

typedef enum latent_gguf_type {
    LATENT_GGUF_UINT8 = 0,
    LATENT_GGUF_INT8 = 1,
    LATENT_GGUF_UINT16 = 2,
    LATENT_GGUF_INT16 = 3,
    LATENT_GGUF_UINT32 = 4,
    LATENT_GGUF_INT32 = 5,
    LATENT_GGUF_FLOAT32 = 6,
    LATENT_GGUF_BOOL = 7,
    LATENT_GGUF_STRING = 8,
    LATENT_GGUF_ARRAY = 9,
    LATENT_GGUF_UINT64 = 10,
    LATENT_GGUF_INT64 = 11,
    LATENT_GGUF_FLOAT64 = 12,
} latent_gguf_type;

/* "uint8", "string", "array", ...; NULL for an unknown id. */
const char *latent_gguf_type_name(uint32_t type);

typedef struct latent_gguf latent_gguf;

/* A string inside the file: not NUL-terminated, may hold any bytes. */
typedef struct latent_str {
    const char *ptr;
    uint64_t len;
} latent_str;

typedef struct latent_gguf_tensor {
    const char *name;  /* NUL-terminated copy */
    uint32_t type;     /* latent_type id */
    uint32_t n_dims;   /* 1..4 */
    uint64_t ne[4];    /* elements per dimension; ne[0] is the contiguous row; unused = 1 */
    uint64_t n_elements;
    uint64_t offset;   /* from the start of the data section */
    uint64_t size;     /* bytes */
    const void *data;  /* inside the view's buffer */
} latent_gguf_tensor;

/* Parses a GGUF held in memory. Borrows `data`: it must outlive the view.
 * Every count, length and offset is checked against `size`; a malformed file is
 * LATENT_EFORMAT naming what was wrong and where. */
latent_status latent_gguf_parse(const void *data, size_t size, latent_gguf **out);
/* Maps `path` read-only (reads it into memory where mapping is impossible) and parses it.
 * The view owns the mapping. */
latent_status latent_gguf_open(const char *path, latent_gguf **out);
void latent_gguf_free(latent_gguf *gguf);

uint32_t latent_gguf_version(const latent_gguf *gguf);
uint64_t latent_gguf_alignment(const latent_gguf *gguf);
uint64_t latent_gguf_data_offset(const latent_gguf *gguf); /* where tensor data begins */
uint64_t latent_gguf_size(const latent_gguf *gguf);        /* bytes in the file */
int latent_gguf_is_mapped(const latent_gguf *gguf);       /* 1 if mmap'd, 0 if read */

/* Metadata, by index (0 .. n_kv-1) in file order. */
int64_t latent_gguf_n_kv(const latent_gguf *gguf);
int64_t latent_gguf_find_key(const latent_gguf *gguf, const char *key); /* -1 if absent */
const char *latent_gguf_kv_key(const latent_gguf *gguf, int64_t i);     /* NUL-terminated */
latent_gguf_type latent_gguf_kv_type(const latent_gguf *gguf, int64_t i);
/* For arrays: the element type and the count. For scalars: the type and 1. */
latent_gguf_type latent_gguf_kv_elem_type(const latent_gguf *gguf, int64_t i);
uint64_t latent_gguf_kv_count(const latent_gguf *gguf, int64_t i);
/* Element j of kv i (j = 0 for a scalar), converted. Integers and bools read as int,
 * floats as double; mismatched kinds are LATENT_EINVAL, out-of-range j LATENT_ERANGE. */
latent_status latent_gguf_kv_int(const latent_gguf *gguf, int64_t i, uint64_t j, int64_t *out);
latent_status latent_gguf_kv_uint(const latent_gguf *gguf, int64_t i, uint64_t j, uint64_t *out);
latent_status latent_gguf_kv_float(const latent_gguf *gguf, int64_t i, uint64_t j, double *out);
latent_status latent_gguf_kv_str(const latent_gguf *gguf, int64_t i, uint64_t j, latent_str *out);
/* The raw little-endian bytes of a numeric array (for bulk reads); NULL for strings. */
const void *latent_gguf_kv_data(const latent_gguf *gguf, int64_t i);

/* Typed getters by key. LATENT_ENOTFOUND when absent, LATENT_EINVAL on a type mismatch,
 * LATENT_ERANGE when an integer does not fit. */
latent_status latent_gguf_get_int(const latent_gguf *gguf, const char *key, int64_t *out);
latent_status latent_gguf_get_float(const latent_gguf *gguf, const char *key, double *out);
latent_status latent_gguf_get_bool(const latent_gguf *gguf, const char *key, int *out);
latent_status latent_gguf_get_str(const latent_gguf *gguf, const char *key, latent_str *out);

/* Tensors, by index in file order or by name. The pointers live as long as the view. */
int64_t latent_gguf_n_tensors(const latent_gguf *gguf);
const latent_gguf_tensor *latent_gguf_tensor_at(const latent_gguf *gguf, int64_t i);
const latent_gguf_tensor *latent_gguf_find_tensor(const latent_gguf *gguf, const char *name);

/* The writer collects metadata and tensors, then writes a GGUF v3 file with tensor data
 * aligned to `alignment` (32 by default, or general.alignment when that key is added). */
typedef struct latent_gguf_writer latent_gguf_writer;

latent_status latent_gguf_writer_create(latent_gguf_writer **out);
void latent_gguf_writer_free(latent_gguf_writer *w);

/* Scalar value: `value` points to one element of `type` (bool as uint8). Copies it. */
latent_status latent_gguf_writer_add(latent_gguf_writer *w, const char *key,
                                     latent_gguf_type type, const void *value);
/* Copies the string. */
latent_status latent_gguf_writer_add_str(latent_gguf_writer *w, const char *key,
                                         const char *str, size_t len);
/* Numeric array of n elements of `elem_type`, little-endian. Copies it. */
latent_status latent_gguf_writer_add_array(latent_gguf_writer *w, const char *key,
                                           latent_gguf_type elem_type, const void *data,
                                           uint64_t n);
/* Array of n strings (lens may be NULL for NUL-terminated strings). Copies them. */
latent_status latent_gguf_writer_add_str_array(latent_gguf_writer *w, const char *key,
                                               const char *const *strs, const size_t *lens,
                                               uint64_t n);
/* Copies metadata entry i of `src`, whatever its type. */
latent_status latent_gguf_writer_copy_kv(latent_gguf_writer *w, const latent_gguf *src,
                                         int64_t i);
/* Adds a tensor. Borrows `data` (size bytes) until the file is written. */
latent_status latent_gguf_writer_add_tensor(latent_gguf_writer *w, const char *name,
                                            uint32_t type, uint32_t n_dims,
                                            const uint64_t *ne, const void *data,
                                            uint64_t size);
/* Writes the file (atomically: to path.tmp, then renamed). */
latent_status latent_gguf_writer_write(latent_gguf_writer *w, const char *path);


/* Rewrites a GGUF model with its weights in another type. `preset` is one of f32 f16
 * bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k q4_k_m q5_k_m. Unless `pure`,
 * each tensor's type follows what llama.cpp's llama-quantize gives under the same name
 * (the output matrix in q6_K, more bits for some attn_v and ffn_down layers in the mixed
 * presets; q3_k, q4_k and q5_k are the _M presets, as there). One-dimensional tensors
 * stay f32; a tensor whose rows are not whole blocks of its type falls back to the
 * nearest type that fits (logged at INFO, and visible to `progress`). */
typedef struct latent_quantize_params {
    int pure; /* every 2-D weight in the preset's type */
    /* Called after each tensor (may be NULL): its name, index, count, and types. */
    void (*progress)(const char *tensor, int64_t i, int64_t n, uint32_t from, uint32_t to,
                     void *user);
    void *user;
} latent_quantize_params;

latent_quantize_params latent_quantize_default_params(void);
latent_status latent_quantize_file(const char *in_path, const char *out_path, const char *preset,
                                   const latent_quantize_params *params);

/* The GGUF view the model was loaded from; valid as long as the model. */
const latent_gguf *latent_model_gguf(const latent_model *model);

#ifdef __cplusplus
}
#endif
#endif /* LATENT_GGUF_H */
