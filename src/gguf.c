/*
 * gguf.c — the GGUF view: parse (ptr, size), and map or read a file (gguf_write.c writes one).
 *
 * The parser trusts nothing it reads. Every count and length is checked against the
 * bytes that remain before anything is allocated or looped over, so a hostile file is
 * refused in about the time it takes to read its header. It runs in two passes: the
 * first walks and validates the whole header without allocating, the second builds the
 * index with allocations sized by what the first pass actually found.
 *
 * Layout (little-endian): "GGUF", u32 version (2 or 3), u64 n_tensors, u64 n_kv,
 * n_kv × (string key, u32 type, value), n_tensors × (string name, u32 n_dims,
 * u64 ne[n_dims], u32 type, u64 offset), padding to the alignment, tensor data.
 * A string is u64 length + bytes; an array is u32 element type + u64 count + elements.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "kernels.h"

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

typedef struct gguf_kv {
    char *key;               /* NUL-terminated copy */
    uint32_t type;           /* latent_gguf_type */
    uint32_t elem_type;      /* element type for arrays, else == type */
    uint64_t count;          /* elements (1 for scalars) */
    const uint8_t *value;    /* scalar value, string length field, or first array element */
    uint64_t *str_offsets;   /* strings: offset of each element's length field from value */
} gguf_kv;

struct latent_gguf {
    const uint8_t *data;
    uint64_t size;
    void *mapping;           /* mmap'd region (owned), or NULL */
    void *buffer;            /* read-into-memory copy (owned), or NULL */
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;
    int64_t n_kv;
    gguf_kv *kv;
    int64_t *kv_sorted;      /* kv indices sorted by key, for lookup */
    int64_t n_tensors;
    latent_gguf_tensor *tensors;
    int64_t *tensors_sorted; /* tensor indices sorted by name */
    char *names_pool;        /* keys and tensor names, NUL-terminated */
    uint64_t *offsets_pool;  /* string offsets of every string array */
};

/* ============================================================================
 * Reading primitives: a cursor that refuses to pass the end
 * ========================================================================== */

typedef struct cursor {
    const uint8_t *base;
    uint64_t size;
    uint64_t pos;
} cursor;

static uint64_t remaining(const cursor *c) { return c->size - c->pos; }

static latent_status truncated(const cursor *c, uint64_t need, const char *what)
{
    return lt_fail(LATENT_EFORMAT, "truncated at byte %llu: %s needs %llu bytes, %llu remain",
                   (unsigned long long)c->pos, what, (unsigned long long)need,
                   (unsigned long long)remaining(c));
}

static latent_status take(cursor *c, uint64_t n, const char *what, const uint8_t **out)
{
    if (n > remaining(c))
        return truncated(c, n, what);
    *out = c->base + c->pos;
    c->pos += n;
    return LATENT_OK;
}

static uint32_t load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t load_u64(const uint8_t *p) { return load_u32(p) | (uint64_t)load_u32(p + 4) << 32; }

static latent_status read_u32(cursor *c, const char *what, uint32_t *out)
{
    const uint8_t *p = NULL;
    latent_status st = take(c, 4, what, &p);
    if (st == LATENT_OK)
        *out = load_u32(p);
    return st;
}

static latent_status read_u64(cursor *c, const char *what, uint64_t *out)
{
    const uint8_t *p = NULL;
    latent_status st = take(c, 8, what, &p);
    if (st == LATENT_OK)
        *out = load_u64(p);
    return st;
}

static latent_status read_str(cursor *c, const char *what, latent_str *out)
{
    uint64_t start = c->pos, len;
    const uint8_t *p = NULL;
    latent_status st = read_u64(c, what, &len);
    if (st != LATENT_OK)
        return st;
    if (len > remaining(c))
        return lt_fail(LATENT_EFORMAT, "at byte %llu: %s claims %llu bytes, only %llu remain",
                       (unsigned long long)start, what, (unsigned long long)len,
                       (unsigned long long)remaining(c));
    take(c, len, what, &p);
    out->ptr = (const char *)p;
    out->len = len;
    return LATENT_OK;
}

/* Bytes of one scalar of a metadata type; 0 for string, array and unknown ids. */
uint64_t lt_gguf_scalar_size(uint32_t type)
{
    switch (type) {
    case LATENT_GGUF_UINT8: case LATENT_GGUF_INT8: case LATENT_GGUF_BOOL: return 1;
    case LATENT_GGUF_UINT16: case LATENT_GGUF_INT16: return 2;
    case LATENT_GGUF_UINT32: case LATENT_GGUF_INT32: case LATENT_GGUF_FLOAT32: return 4;
    case LATENT_GGUF_UINT64: case LATENT_GGUF_INT64: case LATENT_GGUF_FLOAT64: return 8;
    }
    return 0;
}

const char *latent_gguf_type_name(uint32_t type)
{
    static const char *const names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32",
                                        "float32", "bool", "string", "array", "uint64",
                                        "int64", "float64"};
    return type < sizeof names / sizeof names[0] ? names[type] : NULL;
}

/* ============================================================================
 * Pass one: walk and validate, count what pass two will allocate
 * ========================================================================== */

typedef struct header_stats {
    uint64_t key_bytes;    /* sum of key and tensor-name lengths + NULs */
    uint64_t n_strings;    /* string-array elements (each gets an offset slot) */
} header_stats;

/* Skips one value of `type` (elements of arrays, when in_array). Validates it. */
static latent_status skip_value(cursor *c, uint32_t type, const char *key, uint64_t *n_strings,
                                int in_array)
{
    uint64_t at = c->pos;
    if (type == LATENT_GGUF_STRING) {
        latent_str s;
        (*n_strings)++;
        return read_str(c, "a string value", &s);
    }
    if (type == LATENT_GGUF_ARRAY) {
        uint32_t elem;
        uint64_t count;
        latent_status st = read_u32(c, "an array's element type", &elem);
        if (st == LATENT_OK)
            st = read_u64(c, "an array's length", &count);
        if (st != LATENT_OK)
            return st;
        if (in_array || elem == LATENT_GGUF_ARRAY)
            return lt_fail(LATENT_EUNSUPPORTED, "at byte %llu: key '%s' holds an array of arrays",
                           (unsigned long long)at, key);
        if (elem == LATENT_GGUF_STRING) {
            /* Each string takes at least its 8-byte length: check before looping. */
            if (count > remaining(c) / 8)
                return lt_fail(LATENT_EFORMAT,
                               "at byte %llu: key '%s' claims %llu strings, only %llu bytes remain",
                               (unsigned long long)at, key, (unsigned long long)count,
                               (unsigned long long)remaining(c));
            uint64_t strings_before = *n_strings;
            for (uint64_t j = 0; j < count; j++) {
                st = skip_value(c, LATENT_GGUF_STRING, key, n_strings, 1);
                if (st != LATENT_OK)
                    return lt_fail_prefix(st, "key '%s', element %llu", key,
                                          (unsigned long long)j);
            }
            /* The array's own slot was counted as one string too many: arrays of strings
             * get `count` slots, scalar strings none. */
            *n_strings = strings_before + count;
            return LATENT_OK;
        }
        uint64_t size = lt_gguf_scalar_size(elem), bytes;
        const uint8_t *p = NULL;
        if (size == 0)
            return lt_fail(LATENT_EFORMAT, "at byte %llu: key '%s' has arrays of unknown type %u",
                           (unsigned long long)at, key, elem);
        if (lt_mul_overflows(count, size, &bytes) || bytes > remaining(c))
            return lt_fail(LATENT_EFORMAT,
                           "at byte %llu: key '%s' claims %llu elements of %s, only %llu bytes remain",
                           (unsigned long long)at, key, (unsigned long long)count,
                           latent_gguf_type_name(elem), (unsigned long long)remaining(c));
        return take(c, bytes, "array data", &p);
    }
    uint64_t size = lt_gguf_scalar_size(type);
    const uint8_t *p = NULL;
    if (size == 0)
        return lt_fail(LATENT_EFORMAT, "at byte %llu: key '%s' has unknown value type %u",
                       (unsigned long long)at - 4, key, type);
    return take(c, size, "a value", &p);
}

static latent_status check_name(const latent_str *s, uint64_t at, const char *what)
{
    if (memchr(s->ptr, 0, s->len))
        return lt_fail(LATENT_EFORMAT, "at byte %llu: %s contains a NUL byte",
                       (unsigned long long)at, what);
    if (s->len == 0)
        return lt_fail(LATENT_EFORMAT, "at byte %llu: %s is empty", (unsigned long long)at, what);
    return LATENT_OK;
}

/* The smallest possible metadata entry: an empty key (8), a type (4), a 1-byte value. */
#define MIN_KV_BYTES 13
/* The smallest possible tensor info: name (8), n_dims (4), one dim (8), type (4), offset (8). */
#define MIN_TENSOR_BYTES 32

static latent_status walk_header(cursor *c, uint64_t n_kv, uint64_t n_tensors,
                                 header_stats *stats)
{
    latent_status st;
    if (n_kv > remaining(c) / MIN_KV_BYTES)
        return lt_fail(LATENT_EFORMAT, "the header claims %llu metadata entries, but %llu bytes "
                       "cannot hold that many", (unsigned long long)n_kv,
                       (unsigned long long)remaining(c));
    for (uint64_t i = 0; i < n_kv; i++) {
        uint64_t at = c->pos;
        latent_str key;
        uint32_t type;
        char keybuf[96];
        if ((st = read_str(c, "a metadata key", &key)) != LATENT_OK ||
            (st = check_name(&key, at, "a metadata key")) != LATENT_OK ||
            (st = read_u32(c, "a value type", &type)) != LATENT_OK)
            return lt_fail_prefix(st, "metadata entry %llu", (unsigned long long)i);
        snprintf(keybuf, sizeof keybuf, "%.*s", (int)(key.len < 80 ? key.len : 80), key.ptr);
        if ((st = skip_value(c, type, keybuf, &stats->n_strings, 0)) != LATENT_OK)
            return st;
        stats->key_bytes += key.len + 1;
    }
    if (n_tensors > remaining(c) / MIN_TENSOR_BYTES)
        return lt_fail(LATENT_EFORMAT, "the header claims %llu tensors, but the %llu bytes left "
                       "cannot describe that many", (unsigned long long)n_tensors,
                       (unsigned long long)remaining(c));
    for (uint64_t i = 0; i < n_tensors; i++) {
        uint64_t at = c->pos, ne, offset;
        latent_str name;
        uint32_t n_dims, type;
        if ((st = read_str(c, "a tensor name", &name)) != LATENT_OK ||
            (st = check_name(&name, at, "a tensor name")) != LATENT_OK ||
            (st = read_u32(c, "a tensor's dimension count", &n_dims)) != LATENT_OK)
            return lt_fail_prefix(st, "tensor %llu", (unsigned long long)i);
        if (n_dims == 0 || n_dims > GGUF_MAX_DIMS)
            return lt_fail(LATENT_EFORMAT, "at byte %llu: tensor '%.*s' has %u dimensions (1 to 4 "
                           "allowed)", (unsigned long long)c->pos - 4,
                           (int)(name.len < 80 ? name.len : 80), name.ptr, n_dims);
        for (uint32_t d = 0; d < n_dims; d++)
            if ((st = read_u64(c, "a tensor dimension", &ne)) != LATENT_OK)
                return st;
        if ((st = read_u32(c, "a tensor type", &type)) != LATENT_OK ||
            (st = read_u64(c, "a tensor offset", &offset)) != LATENT_OK)
            return st;
        stats->key_bytes += name.len + 1;
    }
    return LATENT_OK;
}

/* ============================================================================
 * Pass two: build the index
 * ========================================================================== */

/* qsort has no context argument in C11; these sorts are small and rare, so a tiny
 * merge sort over index arrays keeps us portable and stable. */
typedef int (*index_cmp)(int64_t a, int64_t b, const void *ctx);

static void merge_sort(int64_t *idx, int64_t *tmp, int64_t n, index_cmp cmp, const void *ctx)
{
    if (n < 2)
        return;
    int64_t half = n / 2;
    merge_sort(idx, tmp, half, cmp, ctx);
    merge_sort(idx + half, tmp, n - half, cmp, ctx);
    int64_t i = 0, j = half, k = 0;
    while (i < half && j < n)
        tmp[k++] = cmp(idx[j], idx[i], ctx) < 0 ? idx[j++] : idx[i++];
    while (i < half)
        tmp[k++] = idx[i++];
    while (j < n)
        tmp[k++] = idx[j++];
    memcpy(idx, tmp, (size_t)n * sizeof *idx);
}

static int cmp_key(int64_t a, int64_t b, const void *ctx)
{
    const latent_gguf *g = ctx;
    return strcmp(g->kv[a].key, g->kv[b].key);
}

static int cmp_tensor_name(int64_t a, int64_t b, const void *ctx)
{
    const latent_gguf *g = ctx;
    return strcmp(g->tensors[a].name, g->tensors[b].name);
}

static int cmp_tensor_offset(int64_t a, int64_t b, const void *ctx)
{
    const latent_gguf *g = ctx;
    uint64_t x = g->tensors[a].offset, y = g->tensors[b].offset;
    return x < y ? -1 : x > y;
}

static latent_status sorted_index(int64_t n, index_cmp cmp, const latent_gguf *g, int64_t **out)
{
    int64_t *idx = lt_alloc(NULL, (size_t)(n ? n : 1) * sizeof *idx);
    int64_t *tmp = lt_alloc(NULL, (size_t)(n ? n : 1) * sizeof *tmp);
    if (!idx || !tmp) {
        lt_free(NULL, idx);
        lt_free(NULL, tmp);
        return LATENT_ENOMEM;
    }
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    merge_sort(idx, tmp, n, cmp, g);
    lt_free(NULL, tmp);
    *out = idx;
    return LATENT_OK;
}

static void index_kv(latent_gguf *g, cursor *c, char **names, uint64_t **offsets)
{
    for (int64_t i = 0; i < g->n_kv; i++) {
        gguf_kv *kv = &g->kv[i];
        latent_str key;
        read_str(c, "key", &key); /* validated in pass one */
        memcpy(*names, key.ptr, key.len);
        (*names)[key.len] = 0;
        kv->key = *names;
        *names += key.len + 1;
        read_u32(c, "type", &kv->type);
        kv->elem_type = kv->type;
        kv->count = 1;
        if (kv->type == LATENT_GGUF_ARRAY) {
            read_u32(c, "elem", &kv->elem_type);
            read_u64(c, "count", &kv->count);
        }
        kv->value = c->base + c->pos;
        if (kv->elem_type == LATENT_GGUF_STRING) {
            kv->str_offsets = kv->type == LATENT_GGUF_ARRAY ? *offsets : NULL;
            for (uint64_t j = 0; j < kv->count; j++) {
                latent_str s;
                if (kv->str_offsets)
                    kv->str_offsets[j] = c->pos - (uint64_t)(kv->value - c->base);
                read_str(c, "string", &s);
            }
            if (kv->str_offsets)
                *offsets += kv->count;
        } else {
            c->pos += kv->count * lt_gguf_scalar_size(kv->elem_type);
        }
    }
}

static latent_status read_alignment(latent_gguf *g)
{
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t i = latent_gguf_find_key(g, "general.alignment");
    if (i < 0)
        return LATENT_OK;
    if (g->kv[i].type != LATENT_GGUF_UINT32)
        return lt_fail(LATENT_EFORMAT, "general.alignment is a %s, not a uint32",
                       latent_gguf_type_name(g->kv[i].type));
    uint32_t a = load_u32(g->kv[i].value);
    if (a == 0 || (a & (a - 1)) != 0)
        return lt_fail(LATENT_EFORMAT, "general.alignment is %u, not a power of two", a);
    g->alignment = a;
    return LATENT_OK;
}

static latent_status index_tensors(latent_gguf *g, cursor *c, char *names)
{
    for (int64_t i = 0; i < g->n_tensors; i++) {
        latent_gguf_tensor *t = &g->tensors[i];
        latent_str name;
        uint64_t info_at = c->pos;
        read_str(c, "name", &name);
        memcpy(names, name.ptr, name.len);
        names[name.len] = 0;
        t->name = names;
        names += name.len + 1;
        read_u32(c, "n_dims", &t->n_dims);
        uint64_t n = 1;
        for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
            t->ne[d] = 1;
            if (d < t->n_dims)
                read_u64(c, "ne", &t->ne[d]);
            if (t->ne[d] > (uint64_t)INT64_MAX || lt_mul_overflows(n, t->ne[d], &n) ||
                n > (uint64_t)INT64_MAX)
                return lt_fail(LATENT_EFORMAT, "at byte %llu: tensor '%s' has %llu × ... elements, "
                               "which overflows", (unsigned long long)info_at, t->name,
                               (unsigned long long)t->ne[d]);
        }
        t->n_elements = n;
        read_u32(c, "type", &t->type);
        read_u64(c, "offset", &t->offset);
        const lk_type_traits *tt = lk_type(t->type);
        if (!tt)
            return lt_fail(LATENT_EFORMAT, "at byte %llu: tensor '%s' has unknown type id %u",
                           (unsigned long long)info_at, t->name, t->type);
        if (t->ne[0] % tt->block_size)
            return lt_fail(LATENT_EFORMAT, "at byte %llu: tensor '%s' has rows of %llu elements, "
                           "not a multiple of %s's block of %u", (unsigned long long)info_at,
                           t->name, (unsigned long long)t->ne[0], tt->name, tt->block_size);
        /* n / block_size * block_bytes cannot overflow: block_bytes <= 8 * block_size... but
         * check anyway, the table may grow. */
        if (lt_mul_overflows(n / tt->block_size, tt->block_bytes, &t->size))
            return lt_fail(LATENT_EFORMAT, "at byte %llu: tensor '%s' is too large",
                           (unsigned long long)info_at, t->name);
        if (t->offset % g->alignment)
            return lt_fail(LATENT_EFORMAT, "at byte %llu: tensor '%s' data offset %llu is not a "
                           "multiple of the alignment %llu", (unsigned long long)info_at, t->name,
                           (unsigned long long)t->offset, (unsigned long long)g->alignment);
    }

    /* The data section starts at the next aligned offset after the tensor infos. */
    uint64_t data_offset = c->pos;
    if (data_offset % g->alignment)
        data_offset += g->alignment - data_offset % g->alignment;
    g->data_offset = data_offset;
    uint64_t data_size = data_offset <= g->size ? g->size - data_offset : 0;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        latent_gguf_tensor *t = &g->tensors[i];
        uint64_t end;
        if (lt_add_overflows(t->offset, t->size, &end) || end > data_size)
            return lt_fail(LATENT_EFORMAT, "tensor '%s' (%llu bytes at data offset %llu, file byte "
                           "%llu) extends past the end of the file (%llu bytes)", t->name,
                           (unsigned long long)t->size, (unsigned long long)t->offset,
                           (unsigned long long)(data_offset + t->offset),
                           (unsigned long long)g->size);
        t->data = g->data + data_offset + t->offset;
    }
    return LATENT_OK;
}

static latent_status check_unique_keys(latent_gguf *g)
{
    latent_status st = sorted_index(g->n_kv, cmp_key, g, &g->kv_sorted);
    if (st != LATENT_OK)
        return st;
    for (int64_t i = 1; i < g->n_kv; i++)
        if (cmp_key(g->kv_sorted[i - 1], g->kv_sorted[i], g) == 0)
            return lt_fail(LATENT_EFORMAT, "metadata key '%s' appears twice",
                           g->kv[g->kv_sorted[i]].key);
    return LATENT_OK;
}

static latent_status check_tensors(latent_gguf *g)
{
    latent_status st = sorted_index(g->n_tensors, cmp_tensor_name, g, &g->tensors_sorted);
    if (st != LATENT_OK)
        return st;
    for (int64_t i = 1; i < g->n_tensors; i++)
        if (cmp_tensor_name(g->tensors_sorted[i - 1], g->tensors_sorted[i], g) == 0)
            return lt_fail(LATENT_EFORMAT, "tensor name '%s' appears twice",
                           g->tensors[g->tensors_sorted[i]].name);
    int64_t *by_offset;
    if ((st = sorted_index(g->n_tensors, cmp_tensor_offset, g, &by_offset)) != LATENT_OK)
        return st;
    for (int64_t i = 1; i < g->n_tensors; i++) {
        const latent_gguf_tensor *a = &g->tensors[by_offset[i - 1]], *b = &g->tensors[by_offset[i]];
        if (a->size && b->size && a->offset + a->size > b->offset) {
            st = lt_fail(LATENT_EFORMAT, "tensors '%s' and '%s' overlap (data offsets %llu and %llu)",
                         a->name, b->name, (unsigned long long)a->offset,
                         (unsigned long long)b->offset);
            break;
        }
    }
    lt_free(NULL, by_offset);
    return st;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

latent_status latent_gguf_parse(const void *data, size_t size, latent_gguf **out)
{
    if (!out || (!data && size))
        return lt_fail(LATENT_EINVAL, "latent_gguf_parse: NULL argument");
    *out = NULL;
    if (!host_is_little_endian())
        return lt_fail(LATENT_EUNSUPPORTED, "this host is big-endian; GGUF files are little-endian "
                       "and liblatent does not convert them");
    cursor c = {data, size, 0};
    const uint8_t *magic = NULL;
    uint32_t version;
    uint64_t n_tensors, n_kv;
    latent_status st;
    if (size == 0)
        return lt_fail(LATENT_EFORMAT, "the file is empty");
    if ((st = take(&c, 4, "the magic", &magic)) != LATENT_OK)
        return st;
    if (memcmp(magic, "GGUF", 4) != 0)
        return lt_fail(LATENT_EFORMAT, "at byte 0: not a GGUF file (magic %02x %02x %02x %02x)",
                       magic[0], magic[1], magic[2], magic[3]);
    if ((st = read_u32(&c, "the version", &version)) != LATENT_OK)
        return st;
    if (version != 2 && version != 3)
        return lt_fail(version == 1 ? LATENT_EUNSUPPORTED : LATENT_EFORMAT,
                       "at byte 4: GGUF version %u (liblatent reads versions 2 and 3)", version);
    if ((st = read_u64(&c, "the tensor count", &n_tensors)) != LATENT_OK ||
        (st = read_u64(&c, "the metadata count", &n_kv)) != LATENT_OK)
        return st;

    uint64_t header_start = c.pos;
    header_stats stats = {0, 0};
    if ((st = walk_header(&c, n_kv, n_tensors, &stats)) != LATENT_OK)
        return st;

    /* Everything below is sized by what pass one found in the file. */
    latent_gguf *g = lt_calloc(NULL, 1, sizeof *g);
    if (!g)
        return LATENT_ENOMEM;
    g->data = data;
    g->size = size;
    g->version = version;
    g->n_kv = (int64_t)n_kv;
    g->n_tensors = (int64_t)n_tensors;
    g->kv = lt_calloc(NULL, n_kv ? n_kv : 1, sizeof *g->kv);
    g->tensors = lt_calloc(NULL, n_tensors ? n_tensors : 1, sizeof *g->tensors);
    g->names_pool = lt_alloc(NULL, stats.key_bytes ? stats.key_bytes : 1);
    g->offsets_pool = lt_alloc(NULL, (stats.n_strings ? stats.n_strings : 1) * sizeof(uint64_t));
    if (!g->kv || !g->tensors || !g->names_pool || !g->offsets_pool) {
        latent_gguf_free(g);
        return LATENT_ENOMEM;
    }
    c.pos = header_start;
    char *names = g->names_pool;
    uint64_t *offsets = g->offsets_pool;
    index_kv(g, &c, &names, &offsets);
    st = check_unique_keys(g);
    if (st == LATENT_OK)
        st = read_alignment(g);
    if (st == LATENT_OK)
        st = index_tensors(g, &c, names);
    if (st == LATENT_OK)
        st = check_tensors(g);
    if (st != LATENT_OK) {
        latent_gguf_free(g);
        return st;
    }
    *out = g;
    return LATENT_OK;
}

void latent_gguf_free(latent_gguf *g)
{
    if (!g)
        return;
    lt_free(NULL, g->kv);
    lt_free(NULL, g->kv_sorted);
    lt_free(NULL, g->tensors);
    lt_free(NULL, g->tensors_sorted);
    lt_free(NULL, g->names_pool);
    lt_free(NULL, g->offsets_pool);
    if (g->mapping)
        munmap(g->mapping, (size_t)g->size);
    lt_free(NULL, g->buffer);
    lt_free(NULL, g);
}

/* ============================================================================
 * Opening a file: map it, or read it where mapping is impossible (pipes, some
 * filesystems). The weights are never copied when the file can be mapped.
 * ========================================================================== */

/* A pipe or a device has no size to check against: its bytes are read as they arrive, and
 * read no further than needed. The magic and version are checked as soon as they are
 * there (/dev/zero is refused after its first bytes, not after filling memory); each time
 * the buffer doubles, the bytes so far are parsed, and reading stops once they hold a whole
 * model; and never more than the machine's memory is read. */
static int stream_is_hopeless(const char *b, size_t n)
{
    if (n >= 4 && memcmp(b, "GGUF", 4) != 0)
        return 1;
    if (n >= 8) {
        uint32_t version = (uint32_t)(uint8_t)b[4] | (uint32_t)(uint8_t)b[5] << 8 |
                           (uint32_t)(uint8_t)b[6] << 16 | (uint32_t)(uint8_t)b[7] << 24;
        return version != 2 && version != 3;
    }
    return 0;
}

static size_t physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0 || (unsigned long)pages > SIZE_MAX / (unsigned long)page)
        return SIZE_MAX;
    return (size_t)pages * (size_t)page;
}

static latent_status read_whole(int fd, const char *path, int regular, void **buf, size_t *size)
{
    size_t cap = 1 << 16, n = 0, next_parse = 1 << 16, limit = regular ? SIZE_MAX : physical_memory();
    char *b = lt_alloc(NULL, cap);
    if (!b)
        return LATENT_ENOMEM;
    for (;;) {
        if (n == cap) {
            if (n >= limit) {
                lt_free(NULL, b);
                return lt_fail(LATENT_EFORMAT, "%s: not a regular file, and more than this machine's "
                               "memory (%zu bytes) arrived without a whole model", path, limit);
            }
            char *nb = cap > SIZE_MAX / 2 ? NULL : lt_realloc(NULL, b, cap * 2);
            if (!nb) {
                lt_free(NULL, b);
                return LATENT_ENOMEM;
            }
            b = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            lt_free(NULL, b);
            return lt_fail(LATENT_EIO, "%s: %s", path, strerror(errno));
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (regular)
            continue;
        if (stream_is_hopeless(b, n))
            break; /* the parser names what is wrong */
        if (n >= next_parse) {
            next_parse = n * 2;
            latent_gguf *g = NULL;
            if (latent_gguf_parse(b, n, &g) == LATENT_OK) {
                latent_gguf_free(g);
                break;
            }
        }
    }
    *buf = b;
    *size = n;
    return LATENT_OK;
}

latent_status latent_gguf_open(const char *path, latent_gguf **out)
{
    return lt_gguf_open(path, 1, out);
}

latent_status lt_gguf_open(const char *path, int use_mmap, latent_gguf **out)
{
    if (!path || !out)
        return lt_fail(LATENT_EINVAL, "latent_gguf_open: NULL argument");
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return lt_fail(LATENT_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    void *mapping = NULL, *buffer = NULL;
    size_t size = 0;
    latent_status status = LATENT_OK;
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        int err = errno;
        close(fd);
        return lt_fail(LATENT_EIO, "%s: %s", path, S_ISDIR(st.st_mode) ? "is a directory" : strerror(err));
    }
    if (use_mmap && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uint64_t)st.st_size <= SIZE_MAX) {
        size = (size_t)st.st_size;
        mapping = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (mapping == MAP_FAILED)
            mapping = NULL;
    }
    if (!mapping)
        status = read_whole(fd, path, S_ISREG(st.st_mode), &buffer, &size);
    close(fd);
    if (status != LATENT_OK)
        return status;
    const void *data = mapping ? mapping : buffer;
    latent_gguf *g;
    status = latent_gguf_parse(data, size, &g);
    if (status != LATENT_OK) {
        if (mapping)
            munmap(mapping, size);
        lt_free(NULL, buffer);
        return lt_fail_prefix(status, "%s", path);
    }
    g->mapping = mapping;
    g->buffer = buffer;
    *out = g;
    return LATENT_OK;
}

/* ============================================================================
 * Reading the view
 * ========================================================================== */

uint32_t latent_gguf_version(const latent_gguf *g) { return g ? g->version : 0; }
uint64_t latent_gguf_alignment(const latent_gguf *g) { return g ? g->alignment : 0; }
uint64_t latent_gguf_data_offset(const latent_gguf *g) { return g ? g->data_offset : 0; }
uint64_t latent_gguf_size(const latent_gguf *g) { return g ? g->size : 0; }
int latent_gguf_is_mapped(const latent_gguf *g) { return g && g->mapping != NULL; }
int64_t latent_gguf_n_kv(const latent_gguf *g) { return g ? g->n_kv : 0; }
int64_t latent_gguf_n_tensors(const latent_gguf *g) { return g ? g->n_tensors : 0; }

int64_t latent_gguf_find_key(const latent_gguf *g, const char *key)
{
    if (!g || !key)
        return -1;
    int64_t lo = 0, hi = g->n_kv;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->kv[g->kv_sorted[mid]].key, key);
        if (c == 0)
            return g->kv_sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static const gguf_kv *kv_at(const latent_gguf *g, int64_t i)
{
    return g && i >= 0 && i < g->n_kv ? &g->kv[i] : NULL;
}

const char *latent_gguf_kv_key(const latent_gguf *g, int64_t i)
{
    const gguf_kv *kv = kv_at(g, i);
    return kv ? kv->key : NULL;
}

latent_gguf_type latent_gguf_kv_type(const latent_gguf *g, int64_t i)
{
    const gguf_kv *kv = kv_at(g, i);
    return kv ? (latent_gguf_type)kv->type : (latent_gguf_type)-1;
}

latent_gguf_type latent_gguf_kv_elem_type(const latent_gguf *g, int64_t i)
{
    const gguf_kv *kv = kv_at(g, i);
    return kv ? (latent_gguf_type)kv->elem_type : (latent_gguf_type)-1;
}

uint64_t latent_gguf_kv_count(const latent_gguf *g, int64_t i)
{
    const gguf_kv *kv = kv_at(g, i);
    return kv ? kv->count : 0;
}

const void *latent_gguf_kv_data(const latent_gguf *g, int64_t i)
{
    const gguf_kv *kv = kv_at(g, i);
    return kv && kv->elem_type != LATENT_GGUF_STRING ? kv->value : NULL;
}

static latent_status element(const latent_gguf *g, int64_t i, uint64_t j, const gguf_kv **out)
{
    const gguf_kv *kv = kv_at(g, i);
    if (!kv)
        return lt_fail(LATENT_EINVAL, "no metadata entry %lld", (long long)i);
    if (j >= kv->count)
        return lt_fail(LATENT_ERANGE, "'%s' has %llu elements, asked for element %llu", kv->key,
                       (unsigned long long)kv->count, (unsigned long long)j);
    *out = kv;
    return LATENT_OK;
}

/* Reads element j as a signed 128-bit-free pair: is_negative + magnitude. */
static latent_status integer_element(const latent_gguf *g, int64_t i, uint64_t j, int *negative,
                                     uint64_t *magnitude)
{
    const gguf_kv *kv = NULL;
    latent_status st = element(g, i, j, &kv);
    if (st != LATENT_OK)
        return st;
    uint64_t size = lt_gguf_scalar_size(kv->elem_type);
    const uint8_t *p = kv->value + j * size;
    int64_t s = 0;
    uint64_t u = 0;
    int is_signed = 0;
    switch (kv->elem_type) {
    case LATENT_GGUF_UINT8: case LATENT_GGUF_BOOL: u = p[0]; break;
    case LATENT_GGUF_UINT16: u = (uint64_t)p[0] | (uint64_t)p[1] << 8; break;
    case LATENT_GGUF_UINT32: u = load_u32(p); break;
    case LATENT_GGUF_UINT64: u = load_u64(p); break;
    case LATENT_GGUF_INT8: s = (int8_t)p[0]; is_signed = 1; break;
    case LATENT_GGUF_INT16: s = (int16_t)(uint16_t)(p[0] | p[1] << 8); is_signed = 1; break;
    case LATENT_GGUF_INT32: s = (int32_t)load_u32(p); is_signed = 1; break;
    case LATENT_GGUF_INT64: s = (int64_t)load_u64(p); is_signed = 1; break;
    default:
        return lt_fail(LATENT_EINVAL, "'%s' holds %s, not integers", kv->key,
                       latent_gguf_type_name(kv->elem_type));
    }
    if (is_signed) {
        *negative = s < 0;
        *magnitude = s < 0 ? (uint64_t)0 - (uint64_t)s : (uint64_t)s;
    } else {
        *negative = 0;
        *magnitude = u;
    }
    return LATENT_OK;
}

latent_status latent_gguf_kv_int(const latent_gguf *g, int64_t i, uint64_t j, int64_t *out)
{
    int neg;
    uint64_t mag;
    latent_status st = integer_element(g, i, j, &neg, &mag);
    if (st != LATENT_OK)
        return st;
    if (!neg && mag > (uint64_t)INT64_MAX)
        return lt_fail(LATENT_ERANGE, "'%s' = %llu does not fit a signed 64-bit integer",
                       g->kv[i].key, (unsigned long long)mag);
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return LATENT_OK;
}

latent_status latent_gguf_kv_uint(const latent_gguf *g, int64_t i, uint64_t j, uint64_t *out)
{
    int neg;
    uint64_t mag;
    latent_status st = integer_element(g, i, j, &neg, &mag);
    if (st != LATENT_OK)
        return st;
    if (neg)
        return lt_fail(LATENT_ERANGE, "'%s' is negative", g->kv[i].key);
    *out = mag;
    return LATENT_OK;
}

latent_status latent_gguf_kv_float(const latent_gguf *g, int64_t i, uint64_t j, double *out)
{
    const gguf_kv *kv = NULL;
    latent_status st = element(g, i, j, &kv);
    if (st != LATENT_OK)
        return st;
    if (kv->elem_type == LATENT_GGUF_FLOAT32) {
        uint32_t bits = load_u32(kv->value + 4 * j);
        float f;
        memcpy(&f, &bits, 4);
        *out = f;
    } else if (kv->elem_type == LATENT_GGUF_FLOAT64) {
        uint64_t bits = load_u64(kv->value + 8 * j);
        memcpy(out, &bits, 8);
    } else {
        return lt_fail(LATENT_EINVAL, "'%s' holds %s, not floats", kv->key,
                       latent_gguf_type_name(kv->elem_type));
    }
    return LATENT_OK;
}

latent_status latent_gguf_kv_str(const latent_gguf *g, int64_t i, uint64_t j, latent_str *out)
{
    const gguf_kv *kv = NULL;
    latent_status st = element(g, i, j, &kv);
    if (st != LATENT_OK)
        return st;
    if (kv->elem_type != LATENT_GGUF_STRING)
        return lt_fail(LATENT_EINVAL, "'%s' holds %s, not strings", kv->key,
                       latent_gguf_type_name(kv->elem_type));
    const uint8_t *p = kv->value + (kv->str_offsets ? kv->str_offsets[j] : 0);
    out->len = load_u64(p);
    out->ptr = (const char *)p + 8;
    return LATENT_OK;
}

static latent_status scalar_by_key(const latent_gguf *g, const char *key, int64_t *index)
{
    *index = latent_gguf_find_key(g, key);
    if (*index < 0)
        return lt_fail(LATENT_ENOTFOUND, "metadata key '%s' is missing", key ? key : "(null)");
    if (g->kv[*index].type == LATENT_GGUF_ARRAY)
        return lt_fail(LATENT_EINVAL, "'%s' is an array, not a single value", key);
    return LATENT_OK;
}

latent_status latent_gguf_get_int(const latent_gguf *g, const char *key, int64_t *out)
{
    int64_t i;
    latent_status st = scalar_by_key(g, key, &i);
    return st == LATENT_OK ? latent_gguf_kv_int(g, i, 0, out) : st;
}

latent_status latent_gguf_get_float(const latent_gguf *g, const char *key, double *out)
{
    int64_t i;
    latent_status st = scalar_by_key(g, key, &i);
    return st == LATENT_OK ? latent_gguf_kv_float(g, i, 0, out) : st;
}

latent_status latent_gguf_get_bool(const latent_gguf *g, const char *key, int *out)
{
    int64_t i;
    latent_status st = scalar_by_key(g, key, &i);
    if (st != LATENT_OK)
        return st;
    if (g->kv[i].type != LATENT_GGUF_BOOL)
        return lt_fail(LATENT_EINVAL, "'%s' is a %s, not a bool", key,
                       latent_gguf_type_name(g->kv[i].type));
    *out = g->kv[i].value[0] != 0;
    return LATENT_OK;
}

latent_status latent_gguf_get_str(const latent_gguf *g, const char *key, latent_str *out)
{
    int64_t i;
    latent_status st = scalar_by_key(g, key, &i);
    return st == LATENT_OK ? latent_gguf_kv_str(g, i, 0, out) : st;
}

const latent_gguf_tensor *latent_gguf_tensor_at(const latent_gguf *g, int64_t i)
{
    return g && i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const latent_gguf_tensor *latent_gguf_find_tensor(const latent_gguf *g, const char *name)
{
    if (!g || !name)
        return NULL;
    int64_t lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->tensors[g->tensors_sorted[mid]].name, name);
        if (c == 0)
            return &g->tensors[g->tensors_sorted[mid]];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
