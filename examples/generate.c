/*
 * generate — a prompt in, a completion out.
 *
 *     build/generate -m MODEL.gguf -p PROMPT [-n N] [--temp T] [--top-k K] [--top-p P]
 *                    [--min-p M] [--repeat-penalty R] [--seed S] [-t THREADS]
 *                    [--chat] [--system TEXT] [--kv-type f16|f32|q8_0] [--mem-budget BYTES]
 *
 * Only the generated text goes to stdout (the prompt is not echoed), so it can be piped;
 * load time, speeds and peak memory go to stderr. --temp 0 is greedy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "latent.h"

typedef struct options {
    const char *model;
    const char *prompt;
    const char *prompt_file;
    const char *system;
    int n_predict;
    int threads;
    int chat;
    int ids; /* print token ids instead of text (for tests and debugging) */
    size_t mem_budget;
    latent_type kv_type;
    latent_sampler_params sp;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: generate -m MODEL.gguf -p PROMPT [options]\n"
            "  -m, --model FILE        the GGUF model\n"
            "  -p, --prompt TEXT       the prompt (or -f FILE)\n"
            "  -f, --file FILE         read the prompt from a file\n"
            "  -n, --n-predict N       tokens to generate (default 128)\n"
            "  --temp T                temperature; 0 is greedy (default 0.8)\n"
            "  --top-k K               (default 40; 0 off)\n"
            "  --top-p P               (default 0.95; 1 off)\n"
            "  --min-p M               (default 0.05; 0 off)\n"
            "  --repeat-penalty R      (default 1, off)\n"
            "  --seed S                random seed (default: from the clock)\n"
            "  -t, --threads N         threads (default: every core)\n"
            "  --chat                  wrap the prompt in the model's chat template\n"
            "  --system TEXT           a system message (with --chat)\n"
            "  --kv-type f16|f32|q8_0  KV cache entries (default f16)\n"
            "  --mem-budget BYTES      the context's memory budget (64M, 1G, ...)\n"
            "  --ids                   print token ids, one per line, instead of text\n");
}

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->n_predict = 128;
    o->sp = latent_sampler_default_params();
    o->sp.seed = (uint64_t)time(NULL);
    o->kv_type = LATENT_TYPE_F16;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int bad = 0, shared = cli_sampling_flag(argc, argv, &i, &o->sp, &o->kv_type);
        if (shared < 0)
            return -1;
        if (shared > 0)
            continue;
#define VALUE() ((v = cli_value(argc, argv, &i)) != NULL)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            bad = !VALUE() || !(o->model = v);
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            bad = !VALUE() || !(o->prompt = v);
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            bad = !VALUE() || !(o->prompt_file = v);
        } else if (!strcmp(a, "--system")) {
            bad = !VALUE() || !(o->system = v);
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
            bad = !VALUE() || cli_int(a, v, 0, 1 << 30, &o->n_predict);
        } else if (!strcmp(a, "--seed")) {
            bad = !VALUE() || cli_u64(a, v, &o->sp.seed);
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            bad = !VALUE() || cli_int(a, v, 1, 1024, &o->threads);
        } else if (!strcmp(a, "--chat")) {
            o->chat = 1;
        } else if (!strcmp(a, "--ids")) {
            o->ids = 1;
        } else if (!strcmp(a, "--mem-budget")) {
            bad = !VALUE() || cli_bytes(a, v, &o->mem_budget);
        } else {
            cli_error("unknown argument '%s' (try --help)", a);
            bad = 1;
        }
#undef VALUE
        if (bad)
            return -1;
    }
    if (!o->model) {
        cli_error("no model given (-m MODEL.gguf)");
        return -1;
    }
    if (!o->prompt && !o->prompt_file) {
        cli_error("no prompt given (-p TEXT or -f FILE)");
        return -1;
    }
    return 0;
}

/* The text the model sees: the prompt itself, or the chat template around it. NULL on
 * failure (after a message). The caller frees it. */
static char *build_prompt(const latent_model *model, const options *o, const char *prompt)
{
    if (!o->chat)
        return strdup(prompt);
    latent_chat_template tmpl = latent_model_chat_template(model);
    if (tmpl == LATENT_CHAT_RAW)
        fprintf(stderr, "%s: the model names no chat template I know; using the prompt as it is\n",
                cli_program);
    latent_chat_message msgs[2];
    size_t n = 0;
    if (o->system)
        msgs[n++] = (latent_chat_message){"system", o->system};
    msgs[n++] = (latent_chat_message){"user", prompt};
    size_t len = 0;
    latent_status st = latent_chat_format(tmpl, msgs, n, 1, NULL, 0, &len);
    if (st != LATENT_OK && st != LATENT_ERANGE) {
        cli_error("chat template: %s", latent_last_error());
        return NULL;
    }
    char *text = malloc(len + 1);
    if (!text || latent_chat_format(tmpl, msgs, n, 1, text, len + 1, &len) != LATENT_OK) {
        cli_error("chat template: %s", text ? latent_last_error() : "out of memory");
        free(text);
        return NULL;
    }
    return text;
}

/* Generates after the prompt; 0 on success. */
static int run(const options *o, latent_model *model, latent_context *ctx, latent_sampler *sampler,
               const latent_token *prompt, size_t n_prompt)
{
    double t0 = cli_now();
    if (latent_eval(ctx, prompt, n_prompt) != LATENT_OK) {
        cli_error("evaluating the prompt: %s", latent_last_error());
        return -1;
    }
    for (size_t i = 0; i < n_prompt; i++)
        latent_sampler_accept(sampler, prompt[i]);
    double t1 = cli_now();

    latent_decoder *dec = NULL;
    if (latent_decoder_create(model, &dec) != LATENT_OK) {
        cli_error("%s", latent_last_error());
        return -1;
    }
    int rc = 0, n_gen = 0;
    char piece[1024];
    size_t len = 0;
    /* a prompt that ends with BOS: the decoder drops the space SentencePiece puts before
     * the first word after it */
    if (n_prompt > 0 && prompt[n_prompt - 1] == latent_token_bos(model))
        latent_decoder_push(dec, prompt[n_prompt - 1], piece, sizeof piece, &len);
    for (; n_gen < o->n_predict; n_gen++) {
        latent_token tok;
        if (latent_sampler_sample(sampler, latent_context_logits(ctx), &tok) != LATENT_OK) {
            cli_error("sampling: %s", latent_last_error());
            rc = -1;
            break;
        }
        if (latent_token_is_end(model, tok))
            break;
        if (o->ids) {
            printf("%d\n", tok);
        } else if (latent_decoder_push(dec, tok, piece, sizeof piece, &len) == LATENT_OK) {
            fwrite(piece, 1, len, stdout);
            fflush(stdout);
        }
        if (n_gen + 1 < o->n_predict && latent_eval(ctx, &tok, 1) != LATENT_OK) {
            cli_error("after %d tokens: %s", n_gen + 1, latent_last_error());
            rc = -1;
            n_gen++;
            break;
        }
    }
    if (!o->ids && latent_decoder_flush(dec, piece, sizeof piece, &len) == LATENT_OK)
        fwrite(piece, 1, len, stdout);
    if (!o->ids)
        printf("\n");
    fflush(stdout); /* the text ends before the figures on stderr begin */
    latent_decoder_free(dec);
    double t2 = cli_now();

    latent_mem_stats ms;
    latent_context_mem_stats(ctx, &ms);
    fprintf(stderr, "%s: prompt %zu tokens in %.3f s (%.1f tok/s), generated %d tokens in %.3f s (%.2f tok/s)\n",
            cli_program, n_prompt, t1 - t0, n_prompt / (t1 - t0 > 0 ? t1 - t0 : 1e-9), n_gen, t2 - t1,
            n_gen / (t2 - t1 > 0 ? t2 - t1 : 1e-9));
    fprintf(stderr, "%s: KV cache %.2f MiB for %zu tokens, peak RSS %.1f MiB, library heap peak %.1f MiB\n",
            cli_program, ms.kv_bytes / 1048576.0, ms.tokens, cli_peak_rss() / 1048576.0,
            latent_heap_peak_bytes() / 1048576.0);
    return rc;
}

int main(int argc, char **argv)
{
    cli_program = "generate";
    options o;
    if (parse_args(argc, argv, &o))
        return 1;
    char *file_prompt = NULL;
    if (o.prompt_file && !(file_prompt = cli_read_file(o.prompt_file, NULL)))
        return 1;

    double t0 = cli_now();
    latent_model *model = NULL;
    if (latent_model_load(o.model, NULL, &model) != LATENT_OK) {
        cli_error("%s", latent_last_error());
        free(file_prompt);
        return 1;
    }
    fprintf(stderr, "%s: loaded %s in %.3f s\n", cli_program, o.model, cli_now() - t0);

    int rc = 1;
    latent_context *ctx = NULL;
    latent_sampler *sampler = NULL;
    latent_token *toks = NULL;
    size_t n_prompt = 0;
    latent_context_params cp = latent_context_default_params();
    cp.n_threads = o.threads;
    cp.kv_type = o.kv_type;
    cp.mem_budget = o.mem_budget;
    char *text = build_prompt(model, &o, file_prompt ? file_prompt : o.prompt);
    int flags = LATENT_TOKENIZE_ADD_BOS | (o.chat ? LATENT_TOKENIZE_SPECIAL : 0);
    if (!text || !(toks = cli_tokenize(model, text, flags, &n_prompt)))
        goto done;
    if (n_prompt == 0) {
        cli_error("the prompt is empty and the model has no BOS token to start from");
        goto done;
    }
    if (latent_context_create(model, &cp, &ctx) != LATENT_OK ||
        latent_sampler_create(latent_n_vocab(model), &o.sp, &sampler) != LATENT_OK) {
        cli_error("%s", latent_last_error());
        goto done;
    }
    rc = run(&o, model, ctx, sampler, toks, n_prompt) ? 1 : 0;
done:
    free(toks);
    free(text);
    free(file_prompt);
    latent_sampler_free(sampler);
    latent_context_free(ctx);
    latent_model_free(model);
    return rc;
}
