/*
 * context.c — contexts: creation with all fixed scratch up front, evaluation that grows
 * the KV cache first and computes second (so a refusal leaves nothing half-done), and
 * memory statistics.
 */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "context.h"

latent_context_params latent_context_default_params(void)
{
    latent_context_params p;
    memset(&p, 0, sizeof p);
    p.n_threads = 0;
    p.kv_type = LATENT_TYPE_F16;
    p.mem_budget = 0;
    p.n_batch = 32;
    p.kv_chunk = 0;
    p.all_logits = 0;
    return p;
}

static void *scratch(latent_context *ctx, size_t count, size_t size)
{
    void *p = lt_calloc(&ctx->budget, count ? count : 1, size);
    if (p)
        ctx->scratch_bytes += (count ? count : 1) * size;
    return p;
}

static size_t max_work(const latent_model *m, int32_t n_batch)
{
    size_t w = 0;
    const lk_matrix *all[] = {&m->output};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        size_t s = lk_matmul_work_size(all[i]->type, all[i]->cols, n_batch);
        w = s > w ? s : w;
    }
    for (int32_t l = 0; l < m->hp.n_layers; l++) {
        const lt_layer *L = &m->layers[l];
        const lk_matrix *mats[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) {
            size_t s = lk_matmul_work_size(mats[i]->type, mats[i]->cols, n_batch);
            w = s > w ? s : w;
        }
    }
    return w;
}

void latent_context_free(latent_context *ctx)
{
    if (!ctx)
        return;
    lk_pool_stop(ctx->pool);
    lt_kv_destroy(&ctx->kv, &ctx->budget);
    void *bufs[] = {ctx->pool_mem, ctx->x, ctx->xb, ctx->q, ctx->k, ctx->v, ctx->att, ctx->hb, ctx->hb2,
                    ctx->cos_sin, ctx->work, ctx->scores, ctx->att_work, ctx->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        lt_free(&ctx->budget, bufs[i]);
    lt_free(NULL, ctx);
}

latent_status latent_context_create(const latent_model *model, const latent_context_params *params,
                                    latent_context **out)
{
    if (!model || !out)
        return lt_fail(LATENT_EINVAL, "latent_context_create: NULL argument");
    *out = NULL;
    if (!model->layers)
        return lt_fail(LATENT_EINVAL, "the model was loaded with vocab_only: it has no weights");
    latent_context_params p = params ? *params : latent_context_default_params();
    if (p.n_threads < 0 || p.n_threads > 1024 || p.n_batch < 0 || p.n_batch > 4096 ||
        p.kv_chunk < 0 || p.kv_chunk > 65536)
        return lt_fail(LATENT_EINVAL, "context parameters out of range: %d threads, batch %d, "
                       "KV chunk %d", (int)p.n_threads, (int)p.n_batch, (int)p.kv_chunk);
    uint32_t kv_type;
    switch (p.kv_type) {
    case LATENT_TYPE_F16:
    case LATENT_TYPE_F32:
    case LATENT_TYPE_Q8_0: kv_type = p.kv_type; break;
    default:
        return lt_fail(LATENT_EINVAL, "the KV cache holds f16, f32 or q8_0, not %s (type %d)",
                       latent_type_name(p.kv_type) ? latent_type_name(p.kv_type) : "an unknown type",
                       (int)p.kv_type);
    }
    latent_context *ctx = lt_calloc(NULL, 1, sizeof *ctx);
    if (!ctx)
        return LATENT_ENOMEM;
    const lt_hparams *hp = &model->hp;
    ctx->model = model;
    ctx->params = p;
    ctx->budget.limit = p.mem_budget;
    ctx->n_threads = p.n_threads ? p.n_threads : lk_default_threads();
    ctx->n_batch = p.n_batch ? p.n_batch : 32;
    latent_status st = lt_kv_init(&ctx->kv, kv_type, hp->n_layers, hp->n_kv_heads, hp->head_dim,
                                  p.kv_chunk, p.mem_budget);
    if (st != LATENT_OK) {
        latent_context_free(ctx);
        return st;
    }
    size_t B = (size_t)ctx->n_batch, dim = (size_t)hp->dim, hd = (size_t)hp->head_dim;
    size_t q_dim = (size_t)hp->n_heads * hd, kv_dim = (size_t)hp->n_kv_heads * hd;
    size_t ffn = (size_t)hp->ffn_dim;
    ctx->work_bytes = max_work(model, ctx->n_batch);
    ctx->att_work_bytes = lk_matmul_work_size(kv_type, hp->head_dim, hp->n_heads / hp->n_kv_heads);
    /* round per-thread slices up to 64 bytes so threads never share a cache line */
    ctx->att_work_bytes = (ctx->att_work_bytes + 63) / 64 * 64;
    if (!(ctx->x = scratch(ctx, B * dim, sizeof(float))) ||
        !(ctx->xb = scratch(ctx, B * (dim > q_dim ? dim : q_dim), sizeof(float))) ||
        !(ctx->q = scratch(ctx, B * q_dim, sizeof(float))) ||
        !(ctx->k = scratch(ctx, B * kv_dim, sizeof(float))) ||
        !(ctx->v = scratch(ctx, B * kv_dim, sizeof(float))) ||
        !(ctx->att = scratch(ctx, B * q_dim, sizeof(float))) ||
        !(ctx->hb = scratch(ctx, B * ffn, sizeof(float))) ||
        !(ctx->hb2 = scratch(ctx, B * ffn, sizeof(float))) ||
        !(ctx->cos_sin = scratch(ctx, B * hd, sizeof(float))) ||
        !(ctx->work = scratch(ctx, ctx->work_bytes, 1)) ||
        !(ctx->att_work = scratch(ctx, (size_t)ctx->n_threads * ctx->att_work_bytes, 1)) ||
        !(ctx->logits = scratch(ctx, (size_t)hp->n_vocab, sizeof(float))) ||
        lt_kv_preallocate(&ctx->kv, &ctx->budget, 64) != LATENT_OK) {
        latent_context_free(ctx);
        return lt_fail_prefix(LATENT_ENOMEM, "creating a context");
    }
    ctx->logits_cap = 1;
    /* threads last: a context that could not be made never started any */
    if (ctx->n_threads > 1) {
        if (!(ctx->pool_mem = scratch(ctx, lk_pool_bytes(ctx->n_threads) + 63, 1))) {
            latent_context_free(ctx);
            return lt_fail_prefix(LATENT_ENOMEM, "creating a context");
        }
        ctx->pool = lk_pool_start((void *)(((uintptr_t)ctx->pool_mem + 63) & ~(uintptr_t)63), ctx->n_threads);
    }
    *out = ctx;
    return LATENT_OK;
}

void latent_context_reset(latent_context *ctx)
{
    if (!ctx)
        return;
    lt_kv_release(&ctx->kv, &ctx->budget);
    ctx->kv.peak_chunks = 0;
    ctx->logits_rows = 0;
    ctx->warned_context = 0;
}

/* Grows the per-thread attention rows to hold `tokens` scores. */
static latent_status grow_scores(latent_context *ctx, size_t tokens)
{
    if (tokens <= ctx->scores_cap)
        return LATENT_OK;
    /* realloc, so the budget is charged only the growth */
    size_t n = (size_t)ctx->n_threads * lt_scores_per_thread(ctx, tokens);
    float *s = lt_realloc(&ctx->budget, ctx->scores, n * sizeof(float));
    if (!s)
        return LATENT_ENOMEM;
    if (ctx->scores)
        ctx->scratch_bytes -= (size_t)ctx->n_threads * lt_scores_per_thread(ctx, ctx->scores_cap) * sizeof(float);
    ctx->scores = s;
    ctx->scores_cap = tokens;
    ctx->scratch_bytes += n * sizeof(float);
    return LATENT_OK;
}

static latent_status grow_logits(latent_context *ctx, size_t rows)
{
    if (rows <= ctx->logits_cap)
        return LATENT_OK;
    size_t n_vocab = (size_t)ctx->model->hp.n_vocab;
    float *l = lt_alloc(&ctx->budget, rows * n_vocab * sizeof(float));
    if (!l)
        return LATENT_ENOMEM;
    ctx->scratch_bytes += (rows - ctx->logits_cap) * n_vocab * sizeof(float);
    lt_free(&ctx->budget, ctx->logits);
    ctx->logits = l;
    ctx->logits_cap = rows;
    return LATENT_OK;
}

latent_status latent_eval(latent_context *ctx, const latent_token *tokens, size_t n)
{
    if (!ctx || (!tokens && n))
        return lt_fail(LATENT_EINVAL, "latent_eval: NULL argument");
    if (n == 0)
        return LATENT_OK;
    const lt_hparams *hp = &ctx->model->hp;
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return lt_fail(LATENT_EINVAL, "token %zu of %zu is %d, outside the vocabulary of %d",
                           i, n, (int)tokens[i], (int)hp->n_vocab);

    /* First make room for everything; only then compute, so a refusal changes nothing. */
    size_t total = ctx->kv.n_tokens + n;
    size_t chunks_before = ctx->kv.n_chunks;
    latent_status st = lt_kv_reserve(&ctx->kv, &ctx->budget, total);
    if (st == LATENT_OK)
        st = grow_scores(ctx, lt_kv_capacity(&ctx->kv));
    if (st == LATENT_OK && ctx->params.all_logits)
        st = grow_logits(ctx, n);
    if (st != LATENT_OK) {
        while (ctx->kv.n_chunks > chunks_before)
            lt_free(&ctx->budget, ctx->kv.chunks[--ctx->kv.n_chunks]);
        return lt_fail_prefix(st, "evaluating %zu tokens after %zu", n, ctx->kv.n_tokens);
    }

    if (!ctx->warned_context && hp->context_train > 0 && total > (size_t)hp->context_train) {
        lt_log(LATENT_LOG_INFO, "the context (%zu tokens) passes the model's trained length of "
               "%lld; the cache keeps growing, but quality may fall", total,
               (long long)hp->context_train);
        ctx->warned_context = 1;
    }

    size_t pos = ctx->kv.n_tokens;
    size_t n_vocab = (size_t)hp->n_vocab;
    for (size_t start = 0; start < n; start += (size_t)ctx->n_batch) {
        int32_t nb = (int32_t)(n - start < (size_t)ctx->n_batch ? n - start : (size_t)ctx->n_batch);
        int last = start + (size_t)nb == n;
        float *logits = NULL;
        if (ctx->params.all_logits)
            logits = ctx->logits + start * n_vocab;
        else if (last)
            logits = ctx->logits;
        ctx->kv.n_tokens = pos + start + (size_t)nb; /* the rows this batch writes */
        lt_forward(ctx, tokens + start, nb, pos + start, logits, ctx->params.all_logits);
    }
    /* Finite weights can still overflow float arithmetic (a hostile or broken file): say so
     * rather than hand out NaN logits, and keep the context as it was. */
    size_t rows = ctx->params.all_logits ? n : 1;
    for (size_t i = 0; i < rows * n_vocab; i++)
        if (!isfinite(ctx->logits[i])) {
            ctx->kv.n_tokens = pos;
            ctx->logits_rows = 0;
            return lt_fail(LATENT_EFORMAT, "evaluating %zu tokens after %zu: the model's arithmetic "
                           "overflowed (non-finite logits); its weights are not usable", n, pos);
        }
    ctx->kv.n_tokens = total;
    ctx->logits_rows = rows;
    return LATENT_OK;
}

const float *latent_context_logits(const latent_context *ctx)
{
    if (!ctx || ctx->logits_rows == 0)
        return NULL;
    return ctx->logits + (ctx->logits_rows - 1) * (size_t)ctx->model->hp.n_vocab;
}

const float *latent_context_logits_at(const latent_context *ctx, size_t i)
{
    if (!ctx || !ctx->params.all_logits || i >= ctx->logits_rows)
        return NULL;
    return ctx->logits + i * (size_t)ctx->model->hp.n_vocab;
}

size_t latent_context_n_tokens(const latent_context *ctx) { return ctx ? ctx->kv.n_tokens : 0; }

void latent_context_mem_stats(const latent_context *ctx, latent_mem_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!ctx)
        return;
    const latent_model *m = ctx->model;
    int mapped = latent_gguf_is_mapped(m->gguf);
    out->weights_mapped = mapped ? m->weight_bytes : 0;
    out->weights_heap = mapped ? m->budget.used : m->weight_bytes + m->budget.used;
    out->kv_bytes = ctx->kv.n_chunks * ctx->kv.chunk_bytes;
    out->kv_peak_bytes = ctx->kv.peak_chunks * ctx->kv.chunk_bytes;
    out->scratch_bytes = ctx->scratch_bytes;
    out->budget_bytes = ctx->budget.limit;
    out->budget_used = ctx->budget.used;
    out->kv_bytes_per_token = 2 * (size_t)ctx->kv.n_layers * ctx->kv.row_bytes;
    /* a growth step: one chunk, and the attention rows growing by as many tokens */
    size_t row_growth = lt_scores_per_thread(ctx, (size_t)ctx->kv.chunk_tokens) - lt_scores_per_thread(ctx, 0);
    out->kv_chunk_bytes = lt_kv_chunk_cost(&ctx->kv) + (size_t)ctx->n_threads * row_growth * sizeof(float);
    out->tokens = ctx->kv.n_tokens;
    out->tokens_capacity = lt_kv_capacity(&ctx->kv);
}
