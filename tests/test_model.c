/*
 * test_model.c — a model file that parses but lies is refused by name, and running out of
 * memory anywhere in load, context creation, evaluation or generation is a status that
 * leaks nothing and leaves the objects usable.
 *
 * The lying files are stories260K.gguf rewritten with one thing wrong each.
 */
#include <math.h>
#include <unistd.h>

#include "harness.h"
#include "latent.h"

static const char *src_path;

typedef struct lie {
    const char *what;
    const char *drop_key;     /* metadata key left out */
    const char *set_key;      /* uint32 metadata key overridden ... */
    uint32_t set_value;       /* ... with this */
    const char *drop_tensor;  /* tensor left out */
    const char *bad_tensor;   /* tensor changed: */
    int reshape;              /*   its two dimensions swapped (a wrong shape) */
    int poison;               /*   a NaN written into it */
    int huge;                 /*   every value 3e38: finite, but the arithmetic overflows */
    uint32_t retype;          /*   declared as this type id instead (0: unchanged) */
    int shrink_vocab;         /* vocabulary written one token short */
    const char *arch;         /* general.architecture replaced */
    latent_status expect;
    const char *message;      /* a word the error must contain */
} lie;

static void tmp_path(char *out, size_t cap, const char *name)
{
    const char *dir = getenv("TMPDIR");
    snprintf(out, cap, "%s/latent-model-%d-%s", dir && *dir ? dir : "/tmp", (int)getpid(), name);
}

/* Writes src with the lie told; 0 on success. */
static int write_lie(const latent_gguf *src, const lie *l, const char *out)
{
    latent_gguf_writer *w = NULL;
    if (latent_gguf_writer_create(&w) != LATENT_OK)
        return -1;
    int rc = 0;
    void *copies[64];
    int n_copies = 0;
    for (int64_t i = 0; i < latent_gguf_n_kv(src) && !rc; i++) {
        const char *key = latent_gguf_kv_key(src, i);
        if (l->drop_key && !strcmp(key, l->drop_key))
            continue;
        if (l->set_key && !strcmp(key, l->set_key)) {
            rc = latent_gguf_writer_add(w, key, LATENT_GGUF_UINT32, &l->set_value) != LATENT_OK;
        } else if (l->arch && !strcmp(key, "general.architecture")) {
            rc = latent_gguf_writer_add_str(w, key, l->arch, strlen(l->arch)) != LATENT_OK;
        } else if (l->shrink_vocab && !strncmp(key, "tokenizer.ggml.", 15) &&
                   latent_gguf_kv_type(src, i) == LATENT_GGUF_ARRAY) {
            uint64_t n = latent_gguf_kv_count(src, i) - 1;
            if (latent_gguf_kv_elem_type(src, i) == LATENT_GGUF_STRING) {
                const char **strs = malloc(n * sizeof *strs);
                size_t *lens = malloc(n * sizeof *lens);
                for (uint64_t j = 0; strs && lens && j < n; j++) {
                    latent_str s;
                    latent_gguf_kv_str(src, i, j, &s);
                    strs[j] = s.ptr, lens[j] = (size_t)s.len;
                }
                rc = !strs || !lens || latent_gguf_writer_add_str_array(w, key, strs, lens, n) != LATENT_OK;
                free(strs);
                free(lens);
            } else {
                rc = latent_gguf_writer_add_array(w, key, latent_gguf_kv_elem_type(src, i),
                                                  latent_gguf_kv_data(src, i), n) != LATENT_OK;
            }
        } else {
            rc = latent_gguf_writer_copy_kv(w, src, i) != LATENT_OK;
        }
    }
    for (int64_t i = 0; i < latent_gguf_n_tensors(src) && !rc; i++) {
        const latent_gguf_tensor *t = latent_gguf_tensor_at(src, i);
        if (l->drop_tensor && !strcmp(t->name, l->drop_tensor))
            continue;
        uint64_t ne[4] = {t->ne[0], t->ne[1], t->ne[2], t->ne[3]};
        uint32_t type = t->type;
        const void *data = t->data;
        uint64_t size = t->size;
        if (l->bad_tensor && !strcmp(t->name, l->bad_tensor)) {
            if (l->reshape) {
                ne[0] = t->ne[1];
                ne[1] = t->ne[0];
            }
            if (l->retype) { /* same shape, the bytes that type would need */
                type = l->retype;
                size = t->n_elements / latent_type_block_size(type) * latent_type_block_bytes(type);
            }
            if (l->huge && n_copies < 64) {
                float *copy = malloc(t->size);
                for (uint64_t k = 0; copy && k < t->n_elements; k++)
                    copy[k] = 3e38f;
                copies[n_copies++] = copy;
                data = copy;
            }
            if (l->poison && n_copies < 64) {
                float *copy = malloc(t->size);
                memcpy(copy, t->data, t->size);
                copy[t->n_elements / 2] = NAN;
                copies[n_copies++] = copy;
                data = copy;
            }
        }
        rc = latent_gguf_writer_add_tensor(w, t->name, type, t->n_dims, ne, data, size) != LATENT_OK;
    }
    if (!rc)
        rc = latent_gguf_writer_write(w, out) != LATENT_OK;
    latent_gguf_writer_free(w);
    for (int i = 0; i < n_copies; i++)
        free(copies[i]);
    return rc;
}

static void check_lies(void)
{
    static const lie lies[] = {
        {.what = "no block_count", .drop_key = "llama.block_count", .expect = LATENT_EFORMAT,
         .message = "block_count"},
        {.what = "head_count 0", .set_key = "llama.attention.head_count", .set_value = 0,
         .expect = LATENT_EFORMAT, .message = "head_count"},
        {.what = "head_count 7 (not dividing 64)", .set_key = "llama.attention.head_count",
         .set_value = 7, .expect = LATENT_EFORMAT, .message = "head_count"},
        {.what = "head_count_kv 3", .set_key = "llama.attention.head_count_kv", .set_value = 3,
         .expect = LATENT_EFORMAT, .message = "head_count_kv"},
        {.what = "block_count 6 (one layer short)", .set_key = "llama.block_count", .set_value = 6,
         .expect = LATENT_EFORMAT, .message = "blk.5"},
        {.what = "absurd block_count", .set_key = "llama.block_count", .set_value = 4000000000u,
         .expect = LATENT_EFORMAT, .message = "block_count"},
        {.what = "feed_forward_length wrong", .set_key = "llama.feed_forward_length", .set_value = 173,
         .expect = LATENT_EFORMAT, .message = "ffn_gate"},
        {.what = "attn_k shape swapped", .bad_tensor = "blk.2.attn_k.weight", .reshape = 1,
         .expect = LATENT_EFORMAT, .message = "attn_k"},
        {.what = "missing attn_v", .drop_tensor = "blk.3.attn_v.weight", .expect = LATENT_EFORMAT,
         .message = "blk.3.attn_v.weight"},
        {.what = "missing output_norm", .drop_tensor = "output_norm.weight", .expect = LATENT_EFORMAT,
         .message = "output_norm"},
        {.what = "NaN in a norm", .bad_tensor = "blk.1.ffn_norm.weight", .poison = 1,
         .expect = LATENT_EFORMAT, .message = "NaN"},
        {.what = "NaN in a matrix", .bad_tensor = "blk.4.ffn_up.weight", .poison = 1,
         .expect = LATENT_EFORMAT, .message = "NaN"},
        {.what = "vocabulary one short of the embedding", .shrink_vocab = 1, .expect = LATENT_EFORMAT,
         .message = "vocabulary"},
        {.what = "unknown architecture", .arch = "mamba", .expect = LATENT_EUNSUPPORTED,
         .message = "mamba"},
        {.what = "unsupported tensor type", .bad_tensor = "blk.0.attn_q.weight", .retype = 20 /* iq4_nl */,
         .expect = LATENT_EUNSUPPORTED, .message = "attn_q"},
    };
    latent_gguf *src = NULL;
    if (latent_gguf_open(src_path, &src) != LATENT_OK) {
        CHECK(0, "open: %s", latent_last_error());
        return;
    }
    char path[512];
    tmp_path(path, sizeof path, "lie.gguf");
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        const lie *l = &lies[i];
        if (write_lie(src, l, path) != 0) {
            CHECK(0, "%s: could not write the file: %s", l->what, latent_last_error());
            continue;
        }
        latent_model *m = NULL;
        size_t heap = latent_heap_bytes();
        latent_status st = latent_model_load(path, NULL, &m);
        const char *err = latent_last_error();
        /* a parser refusal is as good as a loader refusal, if it says why */
        CHECK(st == l->expect,
              "%s: %s (%s)", l->what, latent_status_str(st), err);
        CHECK(m == NULL && strstr(err, l->message) != NULL, "%s: message '%s' lacks '%s'", l->what, err,
              l->message);
        CHECK(latent_heap_bytes() == heap, "%s: refusal leaked %zu bytes", l->what, latent_heap_bytes() - heap);
        printf("refused: %-40s %s\n", l->what, err);
        latent_model_free(m);
    }
    remove(path);
    latent_gguf_free(src);
}

/* Fails the 1st, 2nd, ... allocation of `op` until it succeeds; each failure must be
 * LATENT_ENOMEM and give back every byte. Returns how many allocations the op makes. */
#define INJECT(label, setup, op, undo)                                                          \
    do {                                                                                        \
        int n_fail = 1, ok = 0;                                                                 \
        for (; n_fail < 10000 && !ok; n_fail++) {                                              \
            setup;                                                                              \
            size_t before = latent_heap_bytes();                                                \
            test_fail_allocation(n_fail);                                               \
            latent_status st_ = (op);                                                           \
            test_fail_allocation(0);                                                    \
            if (st_ == LATENT_OK) {                                                             \
                ok = 1;                                                                         \
            } else {                                                                            \
                CHECK(st_ == LATENT_ENOMEM, "%s: allocation %d failed gives %s", label, n_fail, \
                      latent_status_str(st_));                                                  \
                CHECK(latent_heap_bytes() == before, "%s: allocation %d failed leaks %zu", label, \
                      n_fail, latent_heap_bytes() - before);                                    \
            }                                                                                   \
            undo;                                                                               \
        }                                                                                       \
        CHECK(ok, "%s never succeeded", label);                                                 \
        printf("%s: survives each of its %d allocations failing\n", label, n_fail - 2);        \
    } while (0)

static latent_status generate_once(latent_model *m, const latent_context_params *cp, latent_sampler *s)
{
    latent_generate_params gp = latent_generate_default_params();
    gp.prompt = "Once upon a time";
    gp.prompt_len = 16;
    gp.max_tokens = 12;
    latent_context *ctx = NULL;
    latent_status st = latent_context_create(m, cp, &ctx);
    if (st == LATENT_OK)
        st = latent_generate(ctx, s, &gp, NULL);
    if (st == LATENT_ENOMEM && latent_context_n_tokens(ctx) > 0) {
        /* what was evaluated is still there and the context still works */
        latent_token t = latent_token_bos(m);
        test_fail_allocation(0);
        if (latent_eval(ctx, &t, 1) != LATENT_OK)
            st = LATENT_EINVAL;
    }
    latent_context_free(ctx);
    return st;
}

/* Finite weights whose arithmetic overflows: the model loads, but evaluation says so
 * (LATENT_EFORMAT) instead of handing out NaN logits, and the context keeps its tokens.
 * (fuzz_model found the NaN reaching the activation quantizer's float-to-int cast.) */
static void check_overflow(void)
{
    latent_gguf *src = NULL;
    if (latent_gguf_open(src_path, &src) != LATENT_OK)
        return;
    char path[512];
    tmp_path(path, sizeof path, "huge.gguf");
    const lie l = {.what = "huge norm", .bad_tensor = "blk.0.attn_norm.weight", .huge = 1};
    CHECK(write_lie(src, &l, path) == 0, "writing the file: %s", latent_last_error());
    latent_model *m = NULL;
    latent_context *ctx = NULL;
    CHECK(latent_model_load(path, NULL, &m) == LATENT_OK, "finite weights load: %s", latent_last_error());
    if (m && latent_context_create(m, NULL, &ctx) == LATENT_OK) {
        latent_token t[3] = {1, 300, 301};
        latent_status st = latent_eval(ctx, t, 3);
        CHECK(st == LATENT_EFORMAT && strstr(latent_last_error(), "overflow"), "overflow: %s (%s)",
              latent_status_str(st), latent_last_error());
        CHECK(latent_context_n_tokens(ctx) == 0, "the failed eval kept %zu tokens", latent_context_n_tokens(ctx));
    }
    latent_context_free(ctx);
    latent_model_free(m);
    remove(path);
    latent_gguf_free(src);
}

static void check_allocation_failures(void)
{
    latent_model *m = NULL;
    INJECT("model load", m = NULL, latent_model_load(src_path, NULL, &m), if (m) latent_model_free(m));

    CHECK(latent_model_load(src_path, NULL, &m) == LATENT_OK, "load");
    if (!m)
        return;
    latent_context *ctx = NULL;
    latent_context_params cp = latent_context_default_params();
    cp.kv_chunk = 4;
    INJECT("context create", ctx = NULL, latent_context_create(m, &cp, &ctx), latent_context_free(ctx));

    /* eval: each failure leaves the context as it was, and it then evaluates correctly */
    latent_context *ref = NULL;
    CHECK(latent_context_create(m, &cp, &ref) == LATENT_OK, "create");
    latent_token prompt[10];
    for (int i = 0; i < 10; i++)
        prompt[i] = (latent_token)(1 + 37 * i % 500);
    CHECK(latent_eval(ref, prompt, 10) == LATENT_OK, "reference eval");
    int n_vocab = latent_n_vocab(m);
    CHECK(latent_context_create(m, &cp, &ctx) == LATENT_OK, "create");
    CHECK(latent_eval(ctx, prompt, 3) == LATENT_OK, "eval");
    INJECT("eval", (void)0, latent_eval(ctx, prompt + 3, 7),
           CHECK(latent_context_n_tokens(ctx) == 3 || latent_context_n_tokens(ctx) == 10, "tokens %zu",
                 latent_context_n_tokens(ctx)));
    float worst = 0;
    const float *a = latent_context_logits(ctx), *b = latent_context_logits(ref);
    for (int i = 0; a && b && i < n_vocab; i++)
        worst = fmaxf(worst, fabsf(a[i] - b[i]));
    CHECK(a && b && worst <= 1e-5f && latent_context_n_tokens(ctx) == 10,
          "after failed evals, logits differ by %g", worst);
    latent_context_free(ctx);
    latent_context_free(ref);

    /* generation */
    latent_sampler *s = NULL;
    latent_sampler_params sp = latent_sampler_default_params();
    sp.temperature = 0;
    INJECT("sampler create", s = NULL, latent_sampler_create(n_vocab, &sp, &s), latent_sampler_free(s));
    CHECK(latent_sampler_create(n_vocab, &sp, &s) == LATENT_OK, "sampler");
    /* a context, a generation and the free: whatever fails, nothing stays behind (the
     * context keeps what it evaluated before the failure until it is freed) */
    INJECT("generate", (void)0, generate_once(m, &cp, s), (void)0);
    latent_sampler_free(s);
    latent_model_free(m);
}

static void check_vocab_only(void)
{
    latent_model *m = NULL;
    latent_model_params mp = latent_model_default_params();
    mp.vocab_only = 1;
    CHECK(latent_model_load(src_path, &mp, &m) == LATENT_OK, "vocab_only load: %s", latent_last_error());
    CHECK(m && latent_n_vocab(m) == 512, "vocab_only: %d tokens", m ? latent_n_vocab(m) : 0);
    latent_context *ctx = NULL;
    CHECK(m && latent_context_create(m, NULL, &ctx) == LATENT_EINVAL && !ctx,
          "a context on a vocabulary-only model is refused");
    latent_model_free(m);
    mp = latent_model_default_params();
    mp.use_mmap = 0;
    CHECK(latent_model_load(src_path, &mp, &m) == LATENT_OK, "read (not mapped) load: %s", latent_last_error());
    if (m && latent_context_create(m, NULL, &ctx) == LATENT_OK) {
        latent_mem_stats s;
        latent_context_mem_stats(ctx, &s);
        CHECK(s.weights_mapped == 0 && s.weights_heap >= 1171200, "read weights are on the heap: %zu",
              s.weights_heap);
        latent_context_free(ctx);
    }
    latent_model_free(m);
    CHECK(latent_model_load("/nonexistent/model.gguf", NULL, &m) == LATENT_EIO && !m, "missing file");
    CHECK(latent_model_load(NULL, NULL, &m) == LATENT_EINVAL, "NULL path");
}

int main(void)
{
    latent_set_log(NULL, NULL, LATENT_LOG_ERROR);
    src_path = test_data_path("models/stories260K.gguf");
    if (src_path) {
        check_lies();
        check_overflow();
        check_allocation_failures();
        check_vocab_only();
    }
    return test_done();
}
