/*
 * gguf_write.c — the GGUF writer: metadata and tensors in, an aligned v3 file out.
 *
 * Metadata is encoded into one growing byte buffer as it is added, so copying every
 * entry of a file in order and its tensors in order reproduces that file byte for byte
 * (tensor data is padded to the alignment after every tensor, as the reference writer
 * does).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "kernels.h"

typedef struct pending_tensor {
    char *name;
    uint32_t type;
    uint32_t n_dims;
    uint64_t ne[4];
    const void *data; /* borrowed until write */
    uint64_t size;
} pending_tensor;

struct latent_gguf_writer {
    uint8_t *meta; /* encoded metadata entries */
    size_t meta_len, meta_cap;
    uint64_t n_kv;
    pending_tensor *tensors;
    size_t n_tensors, tensors_cap;
    uint64_t alignment;
};

latent_status latent_gguf_writer_create(latent_gguf_writer **out)
{
    if (!out)
        return lt_fail(LATENT_EINVAL, "latent_gguf_writer_create: NULL argument");
    *out = lt_calloc(NULL, 1, sizeof **out);
    if (!*out)
        return LATENT_ENOMEM;
    (*out)->alignment = 32;
    return LATENT_OK;
}

void latent_gguf_writer_free(latent_gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_tensors; i++)
        lt_free(NULL, w->tensors[i].name);
    lt_free(NULL, w->tensors);
    lt_free(NULL, w->meta);
    lt_free(NULL, w);
}

/* ---- encoding into the metadata buffer ---- */

static int reserve(latent_gguf_writer *w, size_t more)
{
    if (more > SIZE_MAX - w->meta_len)
        return 0;
    size_t need = w->meta_len + more;
    if (need <= w->meta_cap)
        return 1;
    size_t cap = w->meta_cap ? w->meta_cap : 1024;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *m = lt_realloc(NULL, w->meta, cap);
    if (!m)
        return 0;
    w->meta = m;
    w->meta_cap = cap;
    return 1;
}

static void put(latent_gguf_writer *w, const void *p, size_t n)
{
    memcpy(w->meta + w->meta_len, p, n);
    w->meta_len += n;
}

static void put_u32(latent_gguf_writer *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(w, b, 4);
}

static void put_u64(latent_gguf_writer *w, uint64_t v)
{
    put_u32(w, (uint32_t)v);
    put_u32(w, (uint32_t)(v >> 32));
}

static void put_str(latent_gguf_writer *w, const char *s, uint64_t len)
{
    put_u64(w, len);
    put(w, s, (size_t)len);
}

/* Starts an entry: checks the key and reserves room for key, type and `value_bytes`. On
 * failure nothing is written. */
static latent_status begin_kv(latent_gguf_writer *w, const char *key, uint32_t type,
                              size_t value_bytes)
{
    if (!w || !key || !*key)
        return lt_fail(LATENT_EINVAL, "gguf writer: missing key");
    size_t klen = strlen(key);
    if (value_bytes > SIZE_MAX - 12 - klen || !reserve(w, 12 + klen + value_bytes))
        return lt_fail(LATENT_ENOMEM, "gguf writer: out of memory adding '%s'", key);
    put_str(w, key, klen);
    put_u32(w, type);
    w->n_kv++;
    return LATENT_OK;
}

static void note_alignment(latent_gguf_writer *w, const char *key, uint32_t type, const void *v)
{
    if (strcmp(key, "general.alignment") == 0 && type == LATENT_GGUF_UINT32) {
        uint32_t a;
        memcpy(&a, v, 4);
        if (a && (a & (a - 1)) == 0)
            w->alignment = a;
    }
}

latent_status latent_gguf_writer_add(latent_gguf_writer *w, const char *key, latent_gguf_type type,
                                     const void *value)
{
    uint64_t size = lt_gguf_scalar_size(type);
    if (size == 0 || !value)
        return lt_fail(LATENT_EINVAL, "gguf writer: '%s': type %u is not a scalar type",
                       key ? key : "", type);
    latent_status st = begin_kv(w, key, type, (size_t)size);
    if (st != LATENT_OK)
        return st;
    put(w, value, (size_t)size); /* little-endian host: checked when files are parsed */
    note_alignment(w, key, type, value);
    return LATENT_OK;
}

latent_status latent_gguf_writer_add_str(latent_gguf_writer *w, const char *key, const char *str,
                                         size_t len)
{
    if (!str && len)
        return lt_fail(LATENT_EINVAL, "gguf writer: '%s': NULL string", key ? key : "");
    latent_status st = begin_kv(w, key, LATENT_GGUF_STRING, len + 8 < len ? SIZE_MAX : len + 8);
    if (st == LATENT_OK)
        put_str(w, str ? str : "", len);
    return st;
}

latent_status latent_gguf_writer_add_array(latent_gguf_writer *w, const char *key,
                                           latent_gguf_type elem_type, const void *data, uint64_t n)
{
    uint64_t size = lt_gguf_scalar_size(elem_type), bytes;
    if (size == 0 || (!data && n))
        return lt_fail(LATENT_EINVAL, "gguf writer: '%s': bad array element type %u",
                       key ? key : "", elem_type);
    if (lt_mul_overflows(n, size, &bytes) || bytes > SIZE_MAX - 12)
        return lt_fail(LATENT_ENOMEM, "gguf writer: '%s': array too large", key ? key : "");
    latent_status st = begin_kv(w, key, LATENT_GGUF_ARRAY, (size_t)bytes + 12);
    if (st != LATENT_OK)
        return st;
    put_u32(w, elem_type);
    put_u64(w, n);
    put(w, data, (size_t)bytes);
    return LATENT_OK;
}

latent_status latent_gguf_writer_add_str_array(latent_gguf_writer *w, const char *key,
                                               const char *const *strs, const size_t *lens,
                                               uint64_t n)
{
    if (!strs && n)
        return lt_fail(LATENT_EINVAL, "gguf writer: '%s': NULL strings", key ? key : "");
    size_t bytes = 12;
    for (uint64_t j = 0; j < n; j++) {
        size_t len = lens ? lens[j] : strlen(strs[j]);
        if (len > SIZE_MAX - 8 - bytes)
            return lt_fail(LATENT_ENOMEM, "gguf writer: '%s': array too large", key ? key : "");
        bytes += 8 + len;
    }
    latent_status st = begin_kv(w, key, LATENT_GGUF_ARRAY, bytes);
    if (st != LATENT_OK)
        return st;
    put_u32(w, LATENT_GGUF_STRING);
    put_u64(w, n);
    for (uint64_t j = 0; j < n; j++)
        put_str(w, strs[j], lens ? lens[j] : strlen(strs[j]));
    return LATENT_OK;
}

latent_status latent_gguf_writer_copy_kv(latent_gguf_writer *w, const latent_gguf *src, int64_t i)
{
    const char *key = latent_gguf_kv_key(src, i);
    if (!w || !key)
        return lt_fail(LATENT_EINVAL, "gguf writer: no metadata entry %lld to copy", (long long)i);
    uint32_t type = latent_gguf_kv_type(src, i), elem = latent_gguf_kv_elem_type(src, i);
    uint64_t n = latent_gguf_kv_count(src, i);
    if (elem != LATENT_GGUF_STRING) {
        if (type == LATENT_GGUF_ARRAY)
            return latent_gguf_writer_add_array(w, key, elem, latent_gguf_kv_data(src, i), n);
        return latent_gguf_writer_add(w, key, type, latent_gguf_kv_data(src, i));
    }
    latent_str s;
    if (type != LATENT_GGUF_ARRAY) {
        latent_gguf_kv_str(src, i, 0, &s);
        return latent_gguf_writer_add_str(w, key, s.ptr, (size_t)s.len);
    }
    size_t bytes = 12;
    for (uint64_t j = 0; j < n; j++) {
        latent_gguf_kv_str(src, i, j, &s);
        bytes += 8 + (size_t)s.len; /* cannot overflow: these bytes exist in src */
    }
    latent_status st = begin_kv(w, key, LATENT_GGUF_ARRAY, bytes);
    if (st != LATENT_OK)
        return st;
    put_u32(w, LATENT_GGUF_STRING);
    put_u64(w, n);
    for (uint64_t j = 0; j < n; j++) {
        latent_gguf_kv_str(src, i, j, &s);
        put_str(w, s.ptr, s.len);
    }
    return LATENT_OK;
}

latent_status latent_gguf_writer_add_tensor(latent_gguf_writer *w, const char *name, uint32_t type,
                                            uint32_t n_dims, const uint64_t *ne, const void *data,
                                            uint64_t size)
{
    if (!w || !name || !*name || !ne || n_dims == 0 || n_dims > 4 || (!data && size))
        return lt_fail(LATENT_EINVAL, "gguf writer: bad tensor '%s'", name ? name : "(null)");
    const lk_type_traits *t = lk_type(type);
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; d++)
        if (lt_mul_overflows(n, ne[d], &n))
            return lt_fail(LATENT_EINVAL, "gguf writer: tensor '%s' is too large", name);
    if (!t || ne[0] % t->block_size || n / t->block_size * t->block_bytes != size)
        return lt_fail(LATENT_EINVAL, "gguf writer: tensor '%s': %llu bytes do not match its type "
                       "%s and shape", name, (unsigned long long)size, t ? t->name : "(unknown)");
    for (size_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return lt_fail(LATENT_EINVAL, "gguf writer: tensor '%s' added twice", name);
    if (w->n_tensors == w->tensors_cap) {
        size_t cap = w->tensors_cap ? w->tensors_cap * 2 : 64;
        pending_tensor *nt = lt_realloc(NULL, w->tensors, cap * sizeof *nt);
        if (!nt)
            return LATENT_ENOMEM;
        w->tensors = nt;
        w->tensors_cap = cap;
    }
    pending_tensor *pt = &w->tensors[w->n_tensors];
    memset(pt, 0, sizeof *pt);
    pt->name = lt_strndup(NULL, name, strlen(name));
    if (!pt->name)
        return LATENT_ENOMEM;
    pt->type = type;
    pt->n_dims = n_dims;
    for (uint32_t d = 0; d < 4; d++)
        pt->ne[d] = d < n_dims ? ne[d] : 1;
    pt->data = data;
    pt->size = size;
    w->n_tensors++;
    return LATENT_OK;
}

/* ---- writing ---- */

static uint64_t pad_to(uint64_t n, uint64_t alignment)
{
    return (alignment - n % alignment) % alignment;
}

static int write_zeros(FILE *f, uint64_t n)
{
    static const uint8_t zeros[64];
    while (n) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        if (fwrite(zeros, 1, k, f) != k)
            return 0;
        n -= k;
    }
    return 1;
}

static int write_le(FILE *f, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return fwrite(b, 1, (size_t)bytes, f) == (size_t)bytes;
}

static int write_all(latent_gguf_writer *w, FILE *f)
{
    uint64_t pos = 0;
    if (fwrite("GGUF", 1, 4, f) != 4 || !write_le(f, 3, 4) || !write_le(f, w->n_tensors, 8) ||
        !write_le(f, w->n_kv, 8) || fwrite(w->meta, 1, w->meta_len, f) != w->meta_len)
        return 0;
    pos = 24 + w->meta_len;
    uint64_t offset = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const pending_tensor *t = &w->tensors[i];
        size_t len = strlen(t->name);
        if (!write_le(f, len, 8) || fwrite(t->name, 1, len, f) != len || !write_le(f, t->n_dims, 4))
            return 0;
        for (uint32_t d = 0; d < t->n_dims; d++)
            if (!write_le(f, t->ne[d], 8))
                return 0;
        if (!write_le(f, t->type, 4) || !write_le(f, offset, 8))
            return 0;
        pos += 8 + len + 4 + 8ull * t->n_dims + 4 + 8;
        offset += t->size + pad_to(t->size, w->alignment);
    }
    if (w->n_tensors == 0)
        return 1; /* a vocabulary-only file ends after its metadata */
    if (!write_zeros(f, pad_to(pos, w->alignment)))
        return 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const pending_tensor *t = &w->tensors[i];
        if (fwrite(t->data, 1, (size_t)t->size, f) != t->size ||
            !write_zeros(f, pad_to(t->size, w->alignment)))
            return 0;
    }
    return 1;
}

latent_status latent_gguf_writer_write(latent_gguf_writer *w, const char *path)
{
    if (!w || !path)
        return lt_fail(LATENT_EINVAL, "latent_gguf_writer_write: NULL argument");
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return lt_fail(LATENT_EINVAL, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return lt_fail(LATENT_EIO, "%s: %s", tmp, strerror(errno));
    int ok = write_all(w, f);
    int err = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (!ok) {
        remove(tmp);
        return lt_fail(LATENT_EIO, "%s: write failed: %s", path, strerror(err));
    }
    if (rename(tmp, path) != 0) {
        err = errno;
        remove(tmp);
        return lt_fail(LATENT_EIO, "%s: %s", path, strerror(err));
    }
    return LATENT_OK;
}
