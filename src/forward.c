/*
 * forward.c — the forward pass of a LLaMA-family transformer, as a list of steps.
 *
 * A batch of tokens goes through every layer together, so each weight matrix is read
 * once per batch (prompt processing) or once per token (generation). The kernels hide
 * the instruction set; this file tells the model's story.
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "context.h"

/* Threads are worth waking only for enough work: handing a task to the pool costs
 * microseconds, which is longer than a small model's whole matrix. */
#define MIN_WORK_PER_THREAD (1 << 17)

static int threads_for(const latent_context *ctx, const lk_matrix *w, int32_t n)
{
    int64_t work = w->rows * w->cols * (int64_t)n;
    int64_t useful = work / MIN_WORK_PER_THREAD;
    return useful < 1 ? 1 : useful < ctx->team ? (int)useful : ctx->team;
}

static void matmul(latent_context *ctx, const lk_matrix *w, const float *x, float *y, int32_t n)
{
    lk_matmul(w, x, y, n, ctx->work, ctx->pool, threads_for(ctx, w, n));
}

static void add_bias(float *rows, const float *bias, int32_t n, int64_t width)
{
    if (!bias)
        return;
    for (int32_t t = 0; t < n; t++)
        for (int64_t i = 0; i < width; i++)
            rows[t * width + i] += bias[i];
}

/* Per-head RMSNorm (qwen3, gemma3): each head_dim-wide head normed with the same weight. */
static void head_norm(float *x, const float *weight, int64_t n_heads, int64_t head_dim, float eps)
{
    if (!weight)
        return;
    for (int64_t h = 0; h < n_heads; h++)
        lk_rmsnorm(x + h * head_dim, x + h * head_dim, weight, head_dim, eps);
}

/* Norms each of n rows of width dim in place (gemma3's norms after attention and FFN). */
static void rows_norm(float *x, const float *weight, int32_t n, int64_t dim, float eps)
{
    if (!weight)
        return;
    for (int32_t t = 0; t < n; t++)
        lk_rmsnorm(x + t * dim, x + t * dim, weight, dim, eps);
}

/* gate[i] = gelu(gate[i]) * up[i], GELU in its tanh approximation (gemma's GeGLU). */
static void gelu_mul(float *gate, const float *up, int64_t n)
{
    const float c = 0.7978845608028654f; /* sqrt(2 / pi) */
    for (int64_t i = 0; i < n; i++) {
        float x = gate[i];
        gate[i] = 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x))) * up[i];
    }
}

/* logits become cap * tanh(logits / cap): gemma's final soft-capping. */
static void soft_cap(float *x, int64_t n, float cap)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = cap * tanhf(x[i] / cap);
}

/* RoPE on the first n_rot dimensions of each head (all of them but in phi4's partial
 * rotary embedding, where each head is turned alone and the rest left as they are). */
static void rope(float *x, int64_t n_heads, int64_t head_dim, int64_t n_rot, const float *cos_sin, int neox)
{
    if (n_rot == head_dim) {
        lk_rope(x, n_heads, head_dim, cos_sin, neox);
        return;
    }
    for (int64_t h = 0; h < n_heads; h++)
        lk_rope(x + h * head_dim, 1, n_rot, cos_sin, neox);
}

static void residual_add(float *x, const float *delta, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] += delta[i];
}

/* Stores token t's keys and values (kv_dim floats each) in the cache's type, head by head. */
static void store_kv(lt_kvcache *kv, int32_t layer, size_t pos, const float *k, const float *v)
{
    for (int32_t h = 0; h < kv->n_kv_heads; h++) {
        lk_quantize_row(kv->type, k + (int64_t)h * kv->head_dim, lt_kv_k(kv, layer, h, pos), kv->head_dim);
        lk_quantize_row(kv->type, v + (int64_t)h * kv->head_dim, lt_kv_v(kv, layer, h, pos), kv->head_dim);
    }
}

/* The query heads that share kv head `kv_head` (GQA: n_heads / n_kv_heads of them, stored
 * side by side) at position `pos` attend to the cached tokens lo..pos (lo = 0, or the
 * first of the last `window` tokens in a sliding-window layer):
 * out = softmax(q · K^T · attn_scale) · V for each. The group's queries are the
 * "tokens" of one matrix product per chunk of keys, so each key row is read once for the
 * whole group; a query's scores do not depend on the queries beside it (kernels.h). */
static void attend(const latent_context *ctx, int32_t layer, int32_t kv_head, size_t pos,
                   const float *q, float *out, float *scores, void *work)
{
    const lt_kvcache *kv = &ctx->kv;
    const lt_hparams *hp = &ctx->model->hp;
    int32_t group = hp->n_heads / hp->n_kv_heads;
    size_t window = (size_t)ctx->model->layers[layer].window;
    size_t n = pos + 1, T = (size_t)kv->chunk_tokens, stride = ctx->scores_cap;
    size_t lo = window && n > window ? n - window : 0;
    float *chunk_scores = scores + (size_t)group * stride; /* group x T, as lk_matmul lays them */

    /* scores: one product of a chunk of cached keys with the group's queries; score i of a
     * row belongs to token lo + i */
    for (size_t c = lo / T; c * T < n; c++) {
        lk_matrix K = lt_kv_k_block(kv, layer, kv_head, c);
        size_t skip = c * T < lo ? lo - c * T : 0;
        if ((size_t)K.rows > n - c * T)
            K.rows = (int64_t)(n - c * T);
        K.data = (const uint8_t *)K.data + skip * K.row_stride;
        K.rows -= (int64_t)skip;
        lk_matmul(&K, q, chunk_scores, group, work, NULL, 1);
        for (int32_t g = 0; g < group; g++)
            memcpy(scores + g * stride + c * T + skip - lo, chunk_scores + g * K.rows, (size_t)K.rows * sizeof(float));
    }
    for (int32_t g = 0; g < group; g++)
        lk_softmax(scores + g * stride, (int64_t)(n - lo), hp->attn_scale);

    /* the weighted sums of the cached values */
    memset(out, 0, (size_t)group * (size_t)hp->head_dim * sizeof *out);
    for (size_t c = lo / T; c * T < n; c++) {
        lk_matrix V = lt_kv_v_block(kv, layer, kv_head, c);
        size_t skip = c * T < lo ? lo - c * T : 0;
        if ((size_t)V.rows > n - c * T)
            V.rows = (int64_t)(n - c * T);
        V.data = (const uint8_t *)V.data + skip * V.row_stride;
        V.rows -= (int64_t)skip;
        lk_accumulate_rows(&V, scores + c * T + skip - lo, (int64_t)stride, out, hp->head_dim, group);
    }
}

/* Attention for a batch, shared by the threads of the pool: items are (token, kv head)
 * pairs, taken one at a time. Each is computed whole by one thread, so results do not
 * depend on the thread count or on who took which. */
typedef struct attention_job {
    latent_context *ctx;
    int32_t layer;
    size_t pos0;
    int64_t items;
    _Alignas(64) _Atomic int64_t next; /* the first item not yet taken */
} attention_job;

static void attention_part(void *arg, int thread)
{
    attention_job *j = arg;
    latent_context *ctx = j->ctx;
    const lt_hparams *hp = &ctx->model->hp;
    int64_t q_dim = (int64_t)hp->n_heads * hp->head_dim;
    int64_t group_dim = (int64_t)(hp->n_heads / hp->n_kv_heads) * hp->head_dim;
    for (;;) {
        int64_t item = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (item >= j->items)
            return;
        int32_t t = (int32_t)(item / hp->n_kv_heads), kv_head = (int32_t)(item % hp->n_kv_heads);
        attend(ctx, j->layer, kv_head, j->pos0 + (size_t)t, ctx->q + t * q_dim + kv_head * group_dim,
               ctx->att + t * q_dim + kv_head * group_dim,
               ctx->scores + (size_t)thread * lt_scores_per_thread(ctx, ctx->scores_cap),
               (uint8_t *)ctx->att_work + (size_t)thread * ctx->att_work_bytes);
    }
}

static void attention(latent_context *ctx, int32_t layer, int32_t n, size_t pos0)
{
    const lt_hparams *hp = &ctx->model->hp;
    int64_t work = (int64_t)n * hp->n_heads * (int64_t)(pos0 + (size_t)n) * hp->head_dim * 2;
    int threads = work / MIN_WORK_PER_THREAD < ctx->team ? (int)(work / MIN_WORK_PER_THREAD) : ctx->team;
    attention_job job = {ctx, layer, pos0, (int64_t)n * hp->n_kv_heads, 0};
    lk_pool_run(ctx->pool, threads, attention_part, &job);
}

static void forward_steps(latent_context *ctx, const latent_token *tokens, int32_t n, size_t pos0,
                          float *logits, int all_logits)
{
    const latent_model *m = ctx->model;
    const lt_hparams *hp = &m->hp;
    int64_t dim = hp->dim, hd = hp->head_dim;
    int64_t q_dim = (int64_t)hp->n_heads * hd, kv_dim = (int64_t)hp->n_kv_heads * hd;
    int64_t ffn = hp->ffn_dim;

    /* token embeddings (gemma scales them by sqrt(dim)) */
    for (int32_t t = 0; t < n; t++) {
        float *x = ctx->x + t * dim;
        lk_dequantize_row(m->token_embd.type,
                          (const uint8_t *)m->token_embd.data + (size_t)tokens[t] * m->token_embd.row_stride,
                          x, dim);
        for (int64_t i = 0; hp->embd_scale != 1.0f && i < dim; i++)
            x[i] *= hp->embd_scale;
    }

    /* rotation angles for each position of the batch, recomputed when a layer's RoPE
     * differs from the previous layer's (gemma's local and global layers) */
    float table_base = 0;
    const float *table_freqs = NULL;

    for (int32_t l = 0; l < hp->n_layers; l++) {
        const lt_layer *L = &m->layers[l];

        if (l == 0 || L->rope_base != table_base || L->rope_freqs != table_freqs) {
            table_base = L->rope_base, table_freqs = L->rope_freqs;
            for (int32_t t = 0; t < n; t++)
                lk_rope_table(ctx->cos_sin + t * hd, (int64_t)(pos0 + (size_t)t), hp->n_rot, table_base, table_freqs);
            for (int64_t i = 0; hp->rope_attn_factor != 1.0f && i < (int64_t)n * hd; i++)
                ctx->cos_sin[i] *= hp->rope_attn_factor; /* LongRoPE's attention factor */
        }

        /* attention rmsnorm */
        for (int32_t t = 0; t < n; t++)
            lk_rmsnorm(ctx->xb + t * dim, ctx->x + t * dim, L->attn_norm, dim, hp->rms_eps);

        /* q, k, v for every token of the batch */
        matmul(ctx, &L->wq, ctx->xb, ctx->q, n);
        matmul(ctx, &L->wk, ctx->xb, ctx->k, n);
        matmul(ctx, &L->wv, ctx->xb, ctx->v, n);
        add_bias(ctx->q, L->bq, n, q_dim);
        add_bias(ctx->k, L->bk, n, kv_dim);
        add_bias(ctx->v, L->bv, n, kv_dim);

        /* q/k norms, then RoPE: rotate queries and keys by their positions */
        head_norm(ctx->q, L->q_norm, (int64_t)n * hp->n_heads, hd, hp->rms_eps);
        head_norm(ctx->k, L->k_norm, (int64_t)n * hp->n_kv_heads, hd, hp->rms_eps);
        for (int32_t t = 0; t < n && !L->no_rope; t++) {
            rope(ctx->q + t * q_dim, hp->n_heads, hd, hp->n_rot, ctx->cos_sin + t * hd, hp->rope_neox);
            rope(ctx->k + t * kv_dim, hp->n_kv_heads, hd, hp->n_rot, ctx->cos_sin + t * hd, hp->rope_neox);
        }

        /* remember keys and values; each token then attends to everything up to itself */
        for (int32_t t = 0; t < n; t++)
            store_kv(&ctx->kv, l, pos0 + (size_t)t, ctx->k + t * kv_dim, ctx->v + t * kv_dim);
        attention(ctx, l, n, pos0);

        /* output projection (normed again in gemma) and residual connection */
        matmul(ctx, &L->wo, ctx->att, ctx->xb, n);
        rows_norm(ctx->xb, L->post_attn_norm, n, dim, hp->rms_eps);
        residual_add(ctx->x, ctx->xb, n * dim);

        /* feed-forward rmsnorm */
        for (int32_t t = 0; t < n; t++)
            lk_rmsnorm(ctx->xb + t * dim, ctx->x + t * dim, L->ffn_norm, dim, hp->rms_eps);

        /* SwiGLU: down(silu(gate(x)) · up(x)) (GeGLU in gemma), normed again in gemma, and
         * residual connection */
        matmul(ctx, &L->w_gate, ctx->xb, ctx->hb, n);
        matmul(ctx, &L->w_up, ctx->xb, ctx->hb2, n);
        if (hp->ffn_gelu)
            gelu_mul(ctx->hb, ctx->hb2, n * ffn);
        else
            lk_silu_mul(ctx->hb, ctx->hb2, n * ffn);
        matmul(ctx, &L->w_down, ctx->hb, ctx->xb, n);
        rows_norm(ctx->xb, L->post_ffw_norm, n, dim, hp->rms_eps);
        residual_add(ctx->x, ctx->xb, n * dim);
    }

    if (!logits)
        return;
    /* final rmsnorm and the classifier: for the last token, or for all of them */
    int32_t first = all_logits ? 0 : n - 1, rows = n - first;
    for (int32_t t = first; t < n; t++)
        lk_rmsnorm(ctx->xb + (t - first) * dim, ctx->x + t * dim, m->output_norm, dim, hp->rms_eps);
    matmul(ctx, &m->output, ctx->xb, logits, rows);
    if (hp->logit_softcap > 0)
        soft_cap(logits, (int64_t)rows * hp->n_vocab, hp->logit_softcap);
}

/* How many threads a generated token gets. Where other programs want the cores, the
 * scheduler often gives a process the same CPU time whatever its number of threads
 * (autogroup, cgroups: a session or a service gets its share), and then the team's
 * hand-offs cost more than its parallelism brings; one thread alone is faster. Which of
 * the two is faster is measured rather than guessed: generation keeps a moving average
 * of a token's time each way, takes the faster, and tries the other every
 * TEAM_PROBE_EVERY tokens, as the machine's neighbours come and go. The results never
 * depend on the choice (pool.h). A batch (a prompt) always gets the team: its products
 * are long enough to share even on a busy machine. */
#define TEAM_PROBE_EVERY 32

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void lt_forward(latent_context *ctx, const latent_token *tokens, int32_t n, size_t pos0,
                float *logits, int all_logits)
{
    ctx->team = ctx->n_threads;
    if (ctx->n_threads == 1 || n != 1) {
        forward_steps(ctx, tokens, n, pos0, logits, all_logits);
        return;
    }
    double *ns = ctx->token_ns; /* 0: not timed yet */
    int preferred = ns[0] > 0 && ns[1] > 0 && ns[0] < ns[1] ? 0 : 1;
    int probe = ++ctx->tokens_timed % TEAM_PROBE_EVERY == 0;
    int choice = probe ? 1 - preferred : preferred;
    ctx->team = choice ? ctx->n_threads : 1;
    double t0 = seconds_now();
    forward_steps(ctx, tokens, n, pos0, logits, all_logits);
    double took = (seconds_now() - t0) * 1e9;
    ns[choice] = ns[choice] > 0 ? ns[choice] + (took - ns[choice]) / 4 : took;
}
