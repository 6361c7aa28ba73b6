/*
 * perplexity — how surprised a model is by a text, measured the way llama.cpp's
 * llama-perplexity measures it, so the two numbers can be held side by side.
 *
 *     build/perplexity -m MODEL.gguf -f TEXT [-c N] [-b N] [-t N] [--chunks N]
 *
 * The text is tokenized whole (BOS first where the model uses one) and cut into chunks
 * of -c tokens; what is left over is dropped. Each chunk starts from an empty cache with
 * its first token replaced by BOS (where the model uses one), and only the second half
 * is scored: token i+1 against the logits after token i, for i from c/2 to c-2, so every
 * scored token has at least c/2 tokens of context. The running perplexity is printed
 * after each chunk as "[k]PPL," and the last line is
 *     Final estimate: PPL = X +/- Y
 * with Y the standard error of the mean negative log-likelihood carried through exp.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "latent.h"

typedef struct options {
    const char *model;
    const char *text;
    int n_ctx;
    int n_batch;
    int threads;
    int max_chunks; /* 0: all */
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: perplexity -m MODEL.gguf -f TEXT [options]\n"
            "  -m, --model FILE        the GGUF model\n"
            "  -f, --file FILE         the text to score\n"
            "  -c, --ctx-size N        tokens per chunk (default 512)\n"
            "  -b, --batch-size N      tokens evaluated together (default 512, at most -c)\n"
            "  -t, --threads N         threads (default: every core)\n"
            "  --chunks N              score only the first N chunks (default: all)\n");
}

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->n_ctx = 512;
    o->n_batch = 512;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int bad = 0;
#define VALUE() ((v = cli_value(argc, argv, &i)) != NULL)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            bad = !VALUE() || !(o->model = v);
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            bad = !VALUE() || !(o->text = v);
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            bad = !VALUE() || cli_int(a, v, 4, 1 << 20, &o->n_ctx);
        } else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) {
            bad = !VALUE() || cli_int(a, v, 1, 1 << 16, &o->n_batch);
        } else if (!strcmp(a, "--chunks")) {
            bad = !VALUE() || cli_int(a, v, 1, 1 << 30, &o->max_chunks);
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            bad = !VALUE() || cli_int(a, v, 1, 1024, &o->threads);
        } else {
            cli_error("unknown argument '%s' (try --help)", a);
            bad = 1;
        }
#undef VALUE
        if (bad)
            return -1;
    }
    if (!o->model || !o->text) {
        cli_error("%s", !o->model ? "no model given (-m MODEL.gguf)" : "no text given (-f FILE)");
        return -1;
    }
    if (o->n_batch > o->n_ctx)
        o->n_batch = o->n_ctx;
    return 0;
}

/* -log p(token) under the softmax of logits: the maximum in float and the sum of
 * exponentials in double, as llama-perplexity does, so rounding does not part us. */
static double neg_log_prob(const float *logits, int32_t n_vocab, latent_token token)
{
    float max = logits[0];
    for (int32_t i = 1; i < n_vocab; i++)
        max = logits[i] > max ? logits[i] : max;
    double sum = 0.0;
    for (int32_t i = 0; i < n_vocab; i++)
        sum += expf(logits[i] - max);
    /* the largest logit alone adds 1: the sum is never below it */
    return -((double)(logits[token] - max) - log(fmax(sum, 1.0)));
}

typedef struct tally {
    double nll, nll2; /* sums of -log p and its square */
    long count;
} tally;

/* Scores one chunk of n_ctx tokens (its first already replaced by BOS where needed):
 * evaluated from an empty cache in batches, the second half's predictions added up. */
static latent_status score_chunk(latent_context *ctx, const latent_token *chunk, int n_ctx, int n_batch,
                                 int32_t n_vocab, tally *t)
{
    int first = n_ctx / 2;
    latent_context_reset(ctx);
    for (int b = 0; b < n_ctx; b += n_batch) {
        int n = n_ctx - b < n_batch ? n_ctx - b : n_batch;
        latent_status st = latent_eval(ctx, chunk + b, (size_t)n);
        if (st != LATENT_OK)
            return st;
        for (int i = b; i < b + n; i++) {
            if (i < first || i + 1 >= n_ctx)
                continue;
            double v = neg_log_prob(latent_context_logits_at(ctx, (size_t)(i - b)), n_vocab, chunk[i + 1]);
            t->nll += v;
            t->nll2 += v * v;
            t->count++;
        }
    }
    return LATENT_OK;
}

/* The whole text as tokens (malloc'd), BOS first where the model uses one. */
static latent_token *tokenize_text(const latent_model *model, const char *text, size_t len, size_t *n)
{
    latent_status st = latent_tokenize(model, text, len, LATENT_TOKENIZE_ADD_BOS, NULL, 0, n);
    latent_token *toks = (st == LATENT_OK || st == LATENT_ERANGE) ? malloc((*n ? *n : 1) * sizeof *toks) : NULL;
    if (!toks || latent_tokenize(model, text, len, LATENT_TOKENIZE_ADD_BOS, toks, *n, n) != LATENT_OK) {
        cli_error("tokenizing: %s", latent_last_error());
        free(toks);
        return NULL;
    }
    return toks;
}

/* 1 if the model puts BOS before a text: the empty text then tokenizes to one token. */
static int uses_bos(const latent_model *model)
{
    size_t n = 0;
    latent_token t;
    return latent_tokenize(model, "", 0, LATENT_TOKENIZE_ADD_BOS, &t, 1, &n) == LATENT_OK && n == 1;
}

static int run(const options *o, const latent_model *model, const latent_token *tokens, size_t n_tokens)
{
    if (n_tokens < 2 * (size_t)o->n_ctx) {
        cli_error("you need at least %d tokens to evaluate perplexity with a context of %d (the text has %zu)",
                  2 * o->n_ctx, o->n_ctx, n_tokens);
        return 1;
    }
    latent_context_params cp = latent_context_default_params();
    cp.n_threads = o->threads;
    cp.n_batch = o->n_batch;
    cp.all_logits = 1;
    latent_context *ctx = NULL;
    if (latent_context_create(model, &cp, &ctx) != LATENT_OK) {
        cli_error("%s", latent_last_error());
        return 1;
    }
    int32_t n_vocab = latent_n_vocab(model);
    int bos = uses_bos(model) ? latent_token_bos(model) : -1;
    size_t n_chunks = n_tokens / (size_t)o->n_ctx;
    if (o->max_chunks && (size_t)o->max_chunks < n_chunks)
        n_chunks = (size_t)o->max_chunks;
    latent_token *chunk = malloc((size_t)o->n_ctx * sizeof *chunk);
    tally t = {0, 0, 0};
    int rc = 0;
    double t0 = cli_now();
    fprintf(stderr, "perplexity: %zu tokens, %zu chunks of %d, batch %d, scoring %d tokens per chunk\n",
            n_tokens, n_chunks, o->n_ctx, o->n_batch, o->n_ctx - 1 - o->n_ctx / 2);
    for (size_t c = 0; chunk && c < n_chunks; c++) {
        memcpy(chunk, tokens + c * (size_t)o->n_ctx, (size_t)o->n_ctx * sizeof *chunk);
        if (bos >= 0)
            chunk[0] = bos;
        latent_status st = score_chunk(ctx, chunk, o->n_ctx, o->n_batch, n_vocab, &t);
        if (st != LATENT_OK) {
            cli_error("chunk %zu: %s", c + 1, latent_last_error());
            rc = 1;
            break;
        }
        printf("[%zu]%.4f,", c + 1, exp(t.nll / (double)t.count));
        fflush(stdout);
    }
    if (!chunk) {
        cli_error("out of memory");
        rc = 1;
    }
    printf("\n");
    if (rc == 0) {
        double mean = t.nll / (double)t.count, ppl = exp(mean);
        double var = t.nll2 / (double)t.count - mean * mean;
        if (var > 0 && t.count > 1)
            printf("Final estimate: PPL = %.4f +/- %.5f\n", ppl, sqrt(var / (double)(t.count - 1)) * ppl);
        else
            printf("Final estimate: PPL = %.4f\n", ppl);
        fprintf(stderr, "perplexity: %ld tokens scored in %.1f s\n", t.count, cli_now() - t0);
    }
    free(chunk);
    latent_context_free(ctx);
    return rc;
}

int main(int argc, char **argv)
{
    cli_program = "perplexity";
    options o;
    if (parse_args(argc, argv, &o))
        return 2;
    size_t len = 0;
    char *text = cli_read_file(o.text, &len);
    if (!text)
        return 1;
    latent_model *model = NULL;
    if (latent_model_load(o.model, NULL, &model) != LATENT_OK) {
        cli_error("%s", latent_last_error());
        free(text);
        return 1;
    }
    size_t n_tokens = 0;
    latent_token *tokens = tokenize_text(model, text, len, &n_tokens);
    int rc = tokens ? run(&o, model, tokens, n_tokens) : 1;
    free(tokens);
    free(text);
    latent_model_free(model);
    return rc;
}
