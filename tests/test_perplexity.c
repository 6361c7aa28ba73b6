/*
 * test_perplexity.c — build/perplexity computes what it says it computes.
 *
 * On stories260K and bench/data/stories.txt, the program's final line is held against a
 * second computation written here through the public API only, in a different way: each
 * chunk fed one token per eval (no batches, no all_logits), the log-probability taken as
 * -log(sum exp(l_i - l_token)) in double. The two agree to rounding. Then the method's
 * details, each of which moves the number: BOS at the head of every chunk, only the
 * second half scored, the leftover tail dropped; and bad input is refused.
 */
#include <math.h>
#include <stdarg.h>
#include <unistd.h>

#include "harness.h"
#include "latent.h"

#define TEXT "bench/data/stories.txt"

typedef struct estimate {
    double ppl, err;
    int ok;
} estimate;

/* The "Final estimate: PPL = X +/- Y" line of build/perplexity with these arguments. */
static estimate run_perplexity(const char *model, const char *args)
{
    estimate e = {0, 0, 0};
    char out[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(out, sizeof out, "%s/latent-perplexity-%d.out", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    if (test_run_program("perplexity -m %s -f %s %s > %s 2>/dev/null", model, TEXT, args, out) != 0)
        return e;
    char *text = test_read_file(out, NULL);
    const char *line = text ? strstr(text, "\nFinal estimate: PPL = ") : NULL;
    e.ok = line && sscanf(line, "\nFinal estimate: PPL = %lf +/- %lf", &e.ppl, &e.err) == 2;
    free(text);
    remove(out);
    return e;
}

typedef struct method {
    int n_ctx;
    int bos_per_chunk; /* replace each chunk's first token by BOS */
    int first;         /* first position whose prediction is scored */
    size_t max_chunks; /* 0: all */
} method;

/* The same quantity, computed independently: one token per eval. */
static estimate by_hand(const latent_model *m, const latent_token *toks, size_t n_toks, method me)
{
    estimate e = {0, 0, 0};
    latent_context_params cp = latent_context_default_params();
    cp.n_threads = 1;
    latent_context *ctx = NULL;
    if (latent_context_create(m, &cp, &ctx) != LATENT_OK)
        return e;
    int32_t n_vocab = latent_n_vocab(m);
    double sum = 0, sum2 = 0;
    long count = 0;
    for (size_t c = 0; c + 1 <= n_toks / (size_t)me.n_ctx && (!me.max_chunks || c < me.max_chunks); c++) {
        const latent_token *chunk = toks + c * (size_t)me.n_ctx;
        latent_context_reset(ctx);
        for (int i = 0; i < me.n_ctx - 1; i++) {
            latent_token t = i == 0 && me.bos_per_chunk ? latent_token_bos(m) : chunk[i];
            if (latent_eval(ctx, &t, 1) != LATENT_OK)
                goto out;
            if (i < me.first)
                continue;
            const float *l = latent_context_logits(ctx);
            double s = 0;
            for (int32_t k = 0; k < n_vocab; k++)
                s += exp((double)l[k] - (double)l[chunk[i + 1]]);
            double nll = log(s);
            sum += nll, sum2 += nll * nll, count++;
        }
    }
    double mean = sum / (double)count;
    e.ppl = exp(mean);
    e.err = sqrt((sum2 / (double)count - mean * mean) / (double)(count - 1)) * e.ppl;
    e.ok = count > 1;
out:
    latent_context_free(ctx);
    return e;
}

static int close_to(double a, double b, double rel)
{
    return fabs(a - b) <= rel * fabs(b);
}

int main(void)
{
    const char *path = test_data_path("models/stories260K.gguf");
    if (!path)
        return test_done();
    latent_model *m = NULL;
    CHECK(latent_model_load(path, NULL, &m) == LATENT_OK, "load: %s", latent_last_error());
    size_t len = 0, n = 0;
    char *text = test_read_file(TEXT, &len);
    CHECK(text != NULL, "%s is missing", TEXT);
    if (!m || !text)
        return test_done();
    static latent_token toks[1 << 14];
    CHECK(latent_tokenize(m, text, len, LATENT_TOKENIZE_ADD_BOS, toks, 1 << 14, &n) == LATENT_OK && n > 1000,
          "tokenize: %zu tokens", n);

    /* the program, batched (several batches per chunk, a ragged last one), against one
     * token at a time; and its thread count and batch size change nothing that shows */
    estimate prog = run_perplexity(path, "-c 96 -b 40 -t 2");
    estimate hand = by_hand(m, toks, n, (method){96, 1, 48, 0});
    CHECK(prog.ok && hand.ok, "no estimate (program %d, by hand %d)", prog.ok, hand.ok);
    CHECK(close_to(prog.ppl, hand.ppl, 1e-4), "PPL %.6f, by hand %.6f", prog.ppl, hand.ppl);
    CHECK(close_to(prog.err, hand.err, 1e-3), "+/- %.6f, by hand %.6f", prog.err, hand.err);
    estimate one = run_perplexity(path, "-c 96 -b 96 -t 1");
    CHECK(one.ok && close_to(one.ppl, prog.ppl, 1e-4), "-b 96 -t 1 gives %.6f, -b 40 -t 2 %.6f", one.ppl,
          prog.ppl);
    estimate three = run_perplexity(path, "-c 96 --chunks 3");
    estimate three_hand = by_hand(m, toks, n, (method){96, 1, 48, 3});
    CHECK(three.ok && close_to(three.ppl, three_hand.ppl, 1e-4) && !close_to(three.ppl, prog.ppl, 1e-3),
          "--chunks 3: %.6f, by hand %.6f (all chunks %.6f)", three.ppl, three_hand.ppl, prog.ppl);
    CHECK(prog.ppl > 1.5 && prog.ppl < 20, "stories260K on its own kind of text: PPL %.4f", prog.ppl);

    /* each part of the method moves the number, so the match above is not luck */
    estimate no_bos = by_hand(m, toks, n, (method){96, 0, 48, 0});
    estimate all_scored = by_hand(m, toks, n, (method){96, 1, 0, 0});
    estimate other_ctx = run_perplexity(path, "-c 128");
    CHECK(no_bos.ok && !close_to(no_bos.ppl, prog.ppl, 1e-3), "without BOS per chunk: %.6f", no_bos.ppl);
    CHECK(all_scored.ok && !close_to(all_scored.ppl, prog.ppl, 1e-3), "scoring every position: %.6f",
          all_scored.ppl);
    CHECK(other_ctx.ok && !close_to(other_ctx.ppl, prog.ppl, 1e-3), "-c 128: %.6f", other_ctx.ppl);

    /* bad input: a clear refusal, not a crash */
    CHECK(test_run_program("perplexity -m %s -f %s -c 100000 >/dev/null 2>&1", path, TEXT) != 0,
          "a text shorter than two chunks is refused");
    CHECK(test_run_program("perplexity -m %s -f %s -c many >/dev/null 2>&1", path, TEXT) != 0, "-c many");
    CHECK(test_run_program("perplexity -m %s -f /nonexistent >/dev/null 2>&1", path) != 0, "no text file");
    CHECK(test_run_program("perplexity -f %s >/dev/null 2>&1", TEXT) != 0, "no model");

    free(text);
    latent_model_free(m);
    return test_done();
}
