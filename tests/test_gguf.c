/*
 * test_gguf.c — the GGUF parser and writer on real files and on a hostile corpus.
 *
 * Real files: every GGUF in ../shared parses with the counts, keys and shapes their
 * READMEs state, and stories260K.gguf written back through our writer is byte-identical.
 * Hostile files: a small valid file built here is truncated at every byte, and fields are
 * set to absurd values one by one; each must be LATENT_EFORMAT (or EUNSUPPORTED), never a
 * crash, and cheaply (the sanitizer build checks memory safety).
 * Streams: a device or a pipe is refused or loaded as its first bytes allow, not after
 * it has been read whole (an alarm turns reading forever into a crash).
 */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "latent.h"

static void test_stories260k(void)
{
    const char *path = test_data_path("models/stories260K.gguf");
    if (!path)
        return;
    latent_gguf *g = NULL;
    latent_status st = latent_gguf_open(path, &g);
    CHECK(st == LATENT_OK, "%s", latent_last_error());
    if (st != LATENT_OK)
        return;
    CHECK(latent_gguf_version(g) == 3, "%s", "");
    CHECK(latent_gguf_n_kv(g) == 19, "n_kv %lld", (long long)latent_gguf_n_kv(g));
    CHECK(latent_gguf_n_tensors(g) == 48, "%s", "");
    CHECK(latent_gguf_data_offset(g) == 14176, "data offset %llu",
          (unsigned long long)latent_gguf_data_offset(g));
    CHECK(latent_gguf_alignment(g) == 32, "%s", "");
    CHECK(latent_gguf_is_mapped(g) == 1, "%s", "");
    latent_str arch;
    CHECK(latent_gguf_get_str(g, "general.architecture", &arch) == LATENT_OK && arch.len == 5 &&
          memcmp(arch.ptr, "llama", 5) == 0, "%s", "");
    int64_t n;
    CHECK(latent_gguf_get_int(g, "llama.context_length", &n) == LATENT_OK && n == 2048, "%s", "");
    CHECK(latent_gguf_get_int(g, "llama.block_count", &n) == LATENT_OK && n == 5, "%s", "");
    CHECK(latent_gguf_get_int(g, "llama.embedding_length", &n) == LATENT_OK && n == 64, "%s", "");
    CHECK(latent_gguf_get_int(g, "no.such.key", &n) == LATENT_ENOTFOUND, "%s", "");
    double f;
    CHECK(latent_gguf_get_float(g, "general.architecture", &f) == LATENT_EINVAL, "%s", "");
    int64_t tok = latent_gguf_find_key(g, "tokenizer.ggml.tokens");
    CHECK(tok >= 0 && latent_gguf_kv_type(g, tok) == LATENT_GGUF_ARRAY &&
          latent_gguf_kv_elem_type(g, tok) == LATENT_GGUF_STRING && latent_gguf_kv_count(g, tok) == 512, "%s", "");
    latent_str s;
    CHECK(latent_gguf_kv_str(g, tok, 1, &s) == LATENT_OK && s.len == 3 && memcmp(s.ptr, "<s>", 3) == 0, "%s", "");
    CHECK(latent_gguf_kv_str(g, tok, 3, &s) == LATENT_OK && s.len == 6 && memcmp(s.ptr, "<0x00>", 6) == 0, "%s", "");
    CHECK(latent_gguf_kv_str(g, tok, 512, &s) == LATENT_ERANGE, "%s", "");
    int64_t scores = latent_gguf_find_key(g, "tokenizer.ggml.scores");
    CHECK(scores >= 0 && latent_gguf_kv_float(g, scores, 511, &f) == LATENT_OK, "%s", "");
    const latent_gguf_tensor *t = latent_gguf_find_tensor(g, "token_embd.weight");
    CHECK(t && t->type == LATENT_TYPE_F32 && t->n_dims == 2 && t->ne[0] == 64 && t->ne[1] == 512 &&
          t->size == 64 * 512 * 4, "%s", "");
    t = latent_gguf_find_tensor(g, "blk.4.ffn_down.weight");
    CHECK(t && t->ne[0] == 172 && t->ne[1] == 64, "%s", "");
    t = latent_gguf_find_tensor(g, "blk.0.attn_k.weight");
    CHECK(t && t->ne[0] == 64 && t->ne[1] == 32, "kv dim 32 (4 kv heads of 8)");
    CHECK(latent_gguf_find_tensor(g, "blk.5.attn_k.weight") == NULL, "%s", "");

    /* Write it back: byte-identical. */
    latent_gguf_writer *w = NULL;
    CHECK(latent_gguf_writer_create(&w) == LATENT_OK, "%s", "");
    for (int64_t i = 0; i < latent_gguf_n_kv(g); i++)
        CHECK(latent_gguf_writer_copy_kv(w, g, i) == LATENT_OK, "%s", "");
    for (int64_t i = 0; i < latent_gguf_n_tensors(g); i++) {
        const latent_gguf_tensor *ti = latent_gguf_tensor_at(g, i);
        CHECK(latent_gguf_writer_add_tensor(w, ti->name, ti->type, ti->n_dims, ti->ne, ti->data,
                                            ti->size) == LATENT_OK, "%s", "");
    }
    char out[256];
    snprintf(out, sizeof out, "/tmp/latent-test-gguf-%d.gguf", (int)getpid());
    CHECK(latent_gguf_writer_write(w, out) == LATENT_OK, "%s", latent_last_error());
    latent_gguf_writer_free(w);
    size_t a_len = 0, b_len = 0;
    char *a = test_read_file(path, &a_len), *b = test_read_file(out, &b_len);
    CHECK(a && b && a_len == b_len && memcmp(a, b, a_len) == 0,
          "round trip of stories260K.gguf: %zu vs %zu bytes", a_len, b_len);
    free(a);
    free(b);
    remove(out);
    latent_gguf_free(g);
}

/* Every vocabulary GGUF: parses, 0 tensors, the token count the README gives. */
static void test_vocab_files(void)
{
    static const struct { const char *name; uint64_t tokens; const char *model; } files[] = {
        {"llama-spm", 32000, "llama"},      {"phi-3", 32064, "llama"},
        {"gpt-2", 50257, "gpt2"},           {"deepseek-coder", 32256, "gpt2"},
        {"deepseek-llm", 102400, "gpt2"},   {"falcon", 65024, "gpt2"},
        {"mpt", 50432, "gpt2"},             {"refact", 49216, "gpt2"},
        {"starcoder", 49152, "gpt2"},       {"llama-bpe", 128256, "gpt2"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "vectors/ggml-vocab-%s.gguf", files[i].name);
        const char *path = test_data_path(rel);
        if (!path)
            continue;
        latent_gguf *g = NULL;
        latent_status st = latent_gguf_open(path, &g);
        CHECK(st == LATENT_OK, "%s: %s", files[i].name, latent_last_error());
        if (st != LATENT_OK)
            continue;
        CHECK(latent_gguf_n_tensors(g) == 0, "%s", "");
        int64_t k = latent_gguf_find_key(g, "tokenizer.ggml.tokens");
        CHECK(k >= 0 && latent_gguf_kv_count(g, k) == files[i].tokens, "%s: %llu tokens",
              files[i].name, (unsigned long long)latent_gguf_kv_count(g, k));
        latent_str m;
        CHECK(latent_gguf_get_str(g, "tokenizer.ggml.model", &m) == LATENT_OK &&
              m.len == strlen(files[i].model) && memcmp(m.ptr, files[i].model, m.len) == 0,
              "%s", files[i].name);
        /* Every string of the vocabulary is reachable and inside the file. */
        uint64_t total = 0;
        for (uint64_t j = 0; j < latent_gguf_kv_count(g, k); j++) {
            latent_str s;
            if (latent_gguf_kv_str(g, k, j, &s) == LATENT_OK)
                total += s.len;
        }
        CHECK(total > 0 && total < latent_gguf_size(g), "%s", "");
        latent_gguf_free(g);
    }
    /* The quantization probes: every tensor of known type, sizes as the types say. */
    static const struct { const char *name; uint32_t type; } probes[] = {
        {"f16", LATENT_TYPE_F16},   {"Q2_K", LATENT_TYPE_Q2_K}, {"Q3_K", LATENT_TYPE_Q3_K},
        {"Q4_0", LATENT_TYPE_Q4_0}, {"Q4_1", LATENT_TYPE_Q4_1}, {"Q4_K", LATENT_TYPE_Q4_K},
        {"Q5_0", LATENT_TYPE_Q5_0}, {"Q5_1", LATENT_TYPE_Q5_1}, {"Q5_K", LATENT_TYPE_Q5_K},
        {"Q6_K", LATENT_TYPE_Q6_K}, {"Q8_0", LATENT_TYPE_Q8_0}};
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "vectors/quant/probe-%s.gguf", probes[i].name);
        const char *path = test_data_path(rel);
        if (!path)
            continue;
        latent_gguf *g = NULL;
        CHECK(latent_gguf_open(path, &g) == LATENT_OK, "%s: %s", rel, latent_last_error());
        if (!g)
            continue;
        int found = 0;
        for (int64_t j = 0; j < latent_gguf_n_tensors(g); j++) {
            const latent_gguf_tensor *t = latent_gguf_tensor_at(g, j);
            if (t->n_dims == 2 && t->type == probes[i].type)
                found++;
        }
        CHECK(found > 0, "%s has 2-D tensors of its type", rel);
        latent_gguf_free(g);
    }
}

/* ---- a small valid file, built by hand, and its mutations ---- */

typedef struct buf {
    uint8_t b[4096];
    size_t n;
} buf;

static void put(buf *b, const void *p, size_t n) { memcpy(b->b + b->n, p, n), b->n += n; }
static void u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void u64(buf *b, uint64_t v) { put(b, &v, 8); }
static void str(buf *b, const char *s) { u64(b, strlen(s)), put(b, s, strlen(s)); }

/* Offsets of interesting fields, for the mutation tests. */
static size_t off_n_tensors, off_n_kv, off_str_len, off_arr_count, off_ndims, off_ne0, off_type,
    off_offset, off_second_name;

static void build_small(buf *b)
{
    memset(b, 0, sizeof *b);
    put(b, "GGUF", 4);
    u32(b, 3);
    off_n_tensors = b->n;
    u64(b, 2);
    off_n_kv = b->n;
    u64(b, 4);
    str(b, "general.architecture");
    u32(b, LATENT_GGUF_STRING);
    off_str_len = b->n;
    str(b, "llama");
    str(b, "test.count");
    u32(b, LATENT_GGUF_UINT32);
    u32(b, 7);
    str(b, "test.words");
    u32(b, LATENT_GGUF_ARRAY);
    u32(b, LATENT_GGUF_STRING);
    off_arr_count = b->n;
    u64(b, 3);
    str(b, "a");
    str(b, "bc");
    str(b, "");
    str(b, "test.floats");
    u32(b, LATENT_GGUF_ARRAY);
    u32(b, LATENT_GGUF_FLOAT32);
    u64(b, 2);
    float fl[2] = {1.5f, -2.0f};
    put(b, fl, 8);
    /* tensor 0: f32 [4, 2] at 0; tensor 1: q8_0 [32] at 32 */
    str(b, "w");
    off_ndims = b->n;
    u32(b, 2);
    off_ne0 = b->n;
    u64(b, 4);
    u64(b, 2);
    off_type = b->n;
    u32(b, LATENT_TYPE_F32);
    off_offset = b->n;
    u64(b, 0);
    off_second_name = b->n;
    str(b, "q");
    u32(b, 1);
    u64(b, 32);
    u32(b, LATENT_TYPE_Q8_0);
    u64(b, 32);
    while (b->n % 32)
        b->b[b->n++] = 0;
    for (int i = 0; i < 32 + 34; i++)
        b->b[b->n++] = (uint8_t)i;
}

static void expect_refused(const uint8_t *data, size_t size, const char *what)
{
    latent_gguf *g = NULL;
    latent_status st = latent_gguf_parse(data, size, &g);
    CHECK((st == LATENT_EFORMAT || st == LATENT_EUNSUPPORTED) && g == NULL, "%s: status %d (%s)",
          what, st, latent_last_error());
    latent_gguf_free(g);
}

static void set_u64(buf *b, size_t at, uint64_t v) { memcpy(b->b + at, &v, 8); }
static void set_u32(buf *b, size_t at, uint32_t v) { memcpy(b->b + at, &v, 4); }

static void test_hostile(void)
{
    buf b;
    build_small(&b);
    latent_gguf *g = NULL;
    latent_status st = latent_gguf_parse(b.b, b.n, &g);
    CHECK(st == LATENT_OK, "the small file parses: %s", latent_last_error());
    if (g) {
        int64_t n;
        latent_str s;
        double f;
        CHECK(latent_gguf_get_int(g, "test.count", &n) == LATENT_OK && n == 7, "%s", "");
        int64_t w = latent_gguf_find_key(g, "test.words");
        CHECK(latent_gguf_kv_str(g, w, 1, &s) == LATENT_OK && s.len == 2 && memcmp(s.ptr, "bc", 2) == 0, "%s", "");
        CHECK(latent_gguf_kv_str(g, w, 2, &s) == LATENT_OK && s.len == 0, "%s", "");
        int64_t fi = latent_gguf_find_key(g, "test.floats");
        CHECK(latent_gguf_kv_float(g, fi, 1, &f) == LATENT_OK && f == -2.0, "%s", "");
        const latent_gguf_tensor *q = latent_gguf_find_tensor(g, "q");
        CHECK(q && q->size == 34 && q->offset == 32 && ((const uint8_t *)q->data)[0] == 32, "%s", "");
        latent_gguf_free(g);
    }

    /* Truncation at every byte: the data section is needed by the tensors, so every
     * proper prefix is malformed. */
    clock_t t0 = clock();
    for (size_t n = 0; n < b.n; n++) {
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu bytes", n);
        /* a copy of exactly n bytes, so ASan sees any read past the end */
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.b, n);
        expect_refused(copy, n, what);
        free(copy);
    }

    struct { size_t *at; int width; uint64_t value; const char *what; } muts[] = {
        {&off_n_tensors, 8, UINT64_MAX, "n_tensors = 2^64-1"},
        {&off_n_tensors, 8, 1000000, "n_tensors = 10^6"},
        {&off_n_kv, 8, UINT64_MAX, "n_kv = 2^64-1"},
        {&off_n_kv, 8, 5, "n_kv one too many"},
        {&off_str_len, 8, UINT64_MAX, "string length 2^64-1"},
        {&off_str_len, 8, 1u << 30, "string length 1 GiB"},
        {&off_arr_count, 8, UINT64_MAX / 8, "array count huge"},
        {&off_arr_count, 8, 1000, "array count too large"},
        {&off_ndims, 4, 5, "5 dimensions"},
        {&off_ndims, 4, 0, "0 dimensions"},
        {&off_ne0, 8, UINT64_MAX, "dimension 2^64-1"},
        {&off_ne0, 8, (uint64_t)1 << 62, "dimensions overflow on multiply"},
        {&off_ne0, 8, 1000, "tensor past the end"},
        {&off_type, 4, 4, "removed type id 4"},
        {&off_type, 4, 1000, "type id 1000"},
        {&off_offset, 8, 1, "misaligned offset"},
        {&off_offset, 8, 64, "overlapping tensors"},
        {&off_offset, 8, (uint64_t)-32, "offset wraps around"},
        {&off_offset, 8, 4096, "offset outside the file"},
    };
    for (size_t i = 0; i < sizeof muts / sizeof muts[0]; i++) {
        build_small(&b);
        if (muts[i].width == 8)
            set_u64(&b, *muts[i].at, muts[i].value);
        else
            set_u32(&b, *muts[i].at, (uint32_t)muts[i].value);
        expect_refused(b.b, b.n, muts[i].what);
    }
    /* duplicate tensor name: rename "q" to "w" */
    build_small(&b);
    b.b[off_second_name + 8] = 'w';
    expect_refused(b.b, b.n, "duplicate tensor name");
    /* bad magic, bad version, v1 */
    build_small(&b);
    b.b[0] = 'X';
    expect_refused(b.b, b.n, "bad magic");
    build_small(&b);
    set_u32(&b, 4, 1);
    expect_refused(b.b, b.n, "version 1");
    build_small(&b);
    set_u32(&b, 4, 99);
    expect_refused(b.b, b.n, "version 99");
    /* a huge claimed count must be refused before anything large is allocated */
    build_small(&b);
    set_u64(&b, off_n_kv, (uint64_t)1 << 40);
    size_t before = latent_heap_peak_bytes();
    expect_refused(b.b, b.n, "n_kv 2^40");
    CHECK(latent_heap_peak_bytes() - before < (1u << 20), "refusal allocated %zu bytes",
          latent_heap_peak_bytes() - before);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(secs < 5.0, "hostile corpus took %.2f s", secs);
    CHECK(latent_heap_bytes() == 0, "no leak: %zu bytes held", latent_heap_bytes());

    /* NULLs and errors are statuses, not crashes */
    CHECK(latent_gguf_parse(NULL, 0, &g) == LATENT_EINVAL || latent_gguf_parse(NULL, 0, &g) == LATENT_EFORMAT, "%s", "");
    CHECK(latent_gguf_open("/nonexistent/x.gguf", &g) == LATENT_EIO, "%s", "");
    CHECK(latent_gguf_open("/", &g) == LATENT_EIO, "%s", "");
    CHECK(strstr(latent_last_error(), "/") != NULL, "%s", "");
    latent_gguf_free(NULL);
}

/* Allocation failure anywhere in the parser is LATENT_ENOMEM and leaks nothing. */
static void test_alloc_failures(void)
{
    buf b;
    build_small(&b);
    int failures = 0;
    for (long n = 1; n < 100; n++) {
        latent_gguf *g = NULL;
        test_fail_allocation(n);
        latent_status st = latent_gguf_parse(b.b, b.n, &g);
        test_fail_allocation(0);
        if (st == LATENT_OK) {
            latent_gguf_free(g);
            break;
        }
        failures++;
        CHECK(st == LATENT_ENOMEM && g == NULL, "failing allocation %ld: status %d", n, st);
        CHECK(latent_heap_bytes() == 0, "failing allocation %ld leaks %zu bytes", n, latent_heap_bytes());
    }
    CHECK(failures >= 3, "the parser allocates (%d failure points)", failures);
}

static void test_writer_types(void)
{
    latent_gguf_writer *w = NULL;
    CHECK(latent_gguf_writer_create(&w) == LATENT_OK, "%s", "");
    int8_t i8 = -5;
    uint64_t u64v = UINT64_MAX;
    double f64 = 3.25;
    uint8_t yes = 1;
    int32_t arr[3] = {1, -2, 3};
    const char *words[2] = {"hello", "wörld"};
    CHECK(latent_gguf_writer_add(w, "a.i8", LATENT_GGUF_INT8, &i8) == LATENT_OK, "%s", "");
    CHECK(latent_gguf_writer_add(w, "a.u64", LATENT_GGUF_UINT64, &u64v) == LATENT_OK, "%s", "");
    CHECK(latent_gguf_writer_add(w, "a.f64", LATENT_GGUF_FLOAT64, &f64) == LATENT_OK, "%s", "");
    CHECK(latent_gguf_writer_add(w, "a.bool", LATENT_GGUF_BOOL, &yes) == LATENT_OK, "%s", "");
    CHECK(latent_gguf_writer_add(w, "a.bad", LATENT_GGUF_STRING, "x") == LATENT_EINVAL, "%s", "");
    CHECK(latent_gguf_writer_add_str(w, "a.s", "text", 4) == LATENT_OK, "%s", "");
    CHECK(latent_gguf_writer_add_array(w, "a.arr", LATENT_GGUF_INT32, arr, 3) == LATENT_OK, "%s", "");
    CHECK(latent_gguf_writer_add_str_array(w, "a.words", words, NULL, 2) == LATENT_OK, "%s", "");
    float t[64];
    for (int i = 0; i < 64; i++)
        t[i] = (float)i;
    uint64_t ne[2] = {8, 8};
    CHECK(latent_gguf_writer_add_tensor(w, "t", LATENT_TYPE_F32, 2, ne, t, sizeof t) == LATENT_OK, "%s", "");
    CHECK(latent_gguf_writer_add_tensor(w, "t", LATENT_TYPE_F32, 2, ne, t, sizeof t) == LATENT_EINVAL, "%s", "");
    CHECK(latent_gguf_writer_add_tensor(w, "u", LATENT_TYPE_F32, 2, ne, t, 10) == LATENT_EINVAL, "%s", "");
    char path[256];
    snprintf(path, sizeof path, "/tmp/latent-test-writer-%d.gguf", (int)getpid());
    CHECK(latent_gguf_writer_write(w, path) == LATENT_OK, "%s", latent_last_error());
    latent_gguf_writer_free(w);
    latent_gguf *g = NULL;
    CHECK(latent_gguf_open(path, &g) == LATENT_OK, "%s", latent_last_error());
    if (g) {
        int64_t v;
        uint64_t u;
        double d;
        int bo;
        latent_str s;
        CHECK(latent_gguf_get_int(g, "a.i8", &v) == LATENT_OK && v == -5, "%s", "");
        CHECK(latent_gguf_get_int(g, "a.u64", &v) == LATENT_ERANGE, "%s", "");
        CHECK(latent_gguf_kv_uint(g, latent_gguf_find_key(g, "a.u64"), 0, &u) == LATENT_OK && u == UINT64_MAX, "%s", "");
        CHECK(latent_gguf_get_float(g, "a.f64", &d) == LATENT_OK && d == 3.25, "%s", "");
        CHECK(latent_gguf_get_bool(g, "a.bool", &bo) == LATENT_OK && bo == 1, "%s", "");
        CHECK(latent_gguf_get_str(g, "a.s", &s) == LATENT_OK && s.len == 4, "%s", "");
        int64_t k = latent_gguf_find_key(g, "a.arr");
        CHECK(latent_gguf_kv_int(g, k, 1, &v) == LATENT_OK && v == -2, "%s", "");
        CHECK(latent_gguf_get_int(g, "a.arr", &v) == LATENT_EINVAL, "%s", "");
        k = latent_gguf_find_key(g, "a.words");
        CHECK(latent_gguf_kv_str(g, k, 1, &s) == LATENT_OK && s.len == strlen("wörld"), "%s", "");
        const latent_gguf_tensor *tt = latent_gguf_find_tensor(g, "t");
        CHECK(tt && memcmp(tt->data, t, sizeof t) == 0 && (uintptr_t)tt->data % 32 == 0, "%s", "");
        latent_gguf_free(g);
    }
    remove(path);
}

/* A child writes `size` bytes of `data` and then zeros, forever (until the reader closes);
 * returns the read end's path in `path`, the child's pid in *pid. */
static int endless_pipe(const void *data, size_t size, char *path, size_t cap, pid_t *pid)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    *pid = fork();
    if (*pid < 0)
        return -1;
    if (*pid == 0) {
        close(fds[0]);
        signal(SIGPIPE, SIG_DFL);
        static char zeros[1 << 16];
        const char *p = data;
        while (size) {
            ssize_t w = write(fds[1], p, size);
            if (w <= 0)
                _exit(0);
            p += w, size -= (size_t)w;
        }
        while (write(fds[1], zeros, sizeof zeros) > 0) {
        }
        _exit(0);
    }
    close(fds[1]);
    snprintf(path, cap, "/proc/self/fd/%d", fds[0]);
    return fds[0];
}

static void test_streams(void)
{
    alarm(60);
    latent_gguf *g = NULL;
    latent_status st = latent_gguf_open("/dev/zero", &g);
    CHECK(st == LATENT_EFORMAT && g == NULL && strstr(latent_last_error(), "not a GGUF file"),
          "/dev/zero is refused by its first bytes: %s", latent_last_error());

    const char *model = test_data_path("models/stories260K.gguf");
    size_t size = 0;
    char *bytes = model ? test_read_file(model, &size) : NULL;
    if (!bytes)
        return;
    char path[64];
    pid_t pid;
    int fd = endless_pipe(bytes, size, path, sizeof path, &pid);
    CHECK(fd >= 0, "pipe and fork");
    if (fd >= 0) {
        st = latent_gguf_open(path, &g);
        CHECK(st == LATENT_OK && !latent_gguf_is_mapped(g) && latent_gguf_n_tensors(g) > 0,
              "a model followed by endless zeros through a pipe loads once its bytes are in: %s",
              latent_last_error());
        latent_gguf_free(g);
        g = NULL;
        close(fd);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    free(bytes);
    alarm(0);
}

int main(void)
{
    test_stories260k();
    test_vocab_files();
    test_hostile();
    test_alloc_failures();
    test_writer_types();
    test_streams();
    CHECK(latent_heap_bytes() == 0, "everything freed: %zu bytes held", latent_heap_bytes());
    return test_done();
}
