/*
 * generate — a prompt in, a completion out; or, with -i, a conversation.
 *
 *     build/generate -m MODEL.gguf -p PROMPT [options]
 *     build/generate -m MODEL.gguf -i [-sys TEXT] [options]
 *
 * The flags are the reference engine's spellings where they mean the same thing (-s -1 for
 * a random seed, -c for the context's size in tokens, -sys, -f FILE or -, -r, -b,
 * --verbose-prompt, --version). Only the generated text goes to stdout (the prompt is not
 * echoed), so it can be piped; load time, speeds and peak memory go to stderr. --temp 0
 * is greedy.
 *
 * With -i each line on stdin is the user's turn and the reply streams to stdout; the whole
 * conversation stays in one context, in the model's chat template, so a turn costs only
 * its own tokens. /reset forgets the conversation, /exit or the end of input ends it;
 * Ctrl-C stops a reply and gives the turn back (at the prompt it ends the program).
 * Called by a name that ends in "chat" (a link: latent-chat), it starts in -i.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "latent.h"

#define MAX_STOPS 8

typedef struct options {
    const char *model;
    const char *prompt;
    const char *prompt_file; /* "-": stdin */
    const char *system;
    const char *stops[MAX_STOPS]; /* -r: the reply ends before any of these */
    int n_stops;
    int n_predict;     /* tokens per reply; -1: until an end token, the context or memory */
    int n_predict_set; /* -n given (a conversation's default is -1) */
    int ctx_size;      /* tokens the context may hold; 0: as many as memory allows */
    int threads;
    int batch;
    int chat;
    int interactive;
    int ids; /* print token ids instead of text (for tests and debugging) */
    int verbose_prompt;
    size_t mem_budget;
    latent_type kv_type;
    latent_sampler_params sp;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: generate -m MODEL.gguf -p PROMPT [options]\n"
            "       generate -m MODEL.gguf -i [options]     a conversation on stdin\n"
            "  -m, --model FILE        the GGUF model\n"
            "  -p, --prompt TEXT       the prompt (with -i: the first turn)\n"
            "  -f, --file FILE         read the prompt from a file (- for stdin)\n"
            "  -i, --interactive       chat: each line on stdin is a turn, in the model's template;\n"
            "                          /reset forgets, /exit or end of input ends, Ctrl-C stops a reply\n"
            "  -sys, --system-prompt, --system TEXT\n"
            "                          a system message (implies --chat)\n"
            "  --chat                  wrap the prompt in the model's chat template\n"
            "  -n, --n-predict N       tokens to generate (default 128; with -i, -1: no limit)\n"
            "  -c, --ctx-size N        tokens the context may hold, prompt included (default 0:\n"
            "                          as many as memory allows)\n"
            "  -r, --reverse-prompt, --stop TEXT\n"
            "                          end the reply before TEXT (up to %d of them)\n"
            "  --temp T                temperature; 0 is greedy (default 0.8)\n"
            "  --top-k K               (default 40; 0 off)\n"
            "  --top-p P               (default 0.95; 1 off)\n"
            "  --min-p M               (default 0.05; 0 off)\n"
            "  --repeat-penalty R      (default 1, off)\n"
            "  --presence-penalty P    subtract P once from each recent token (default 0, off)\n"
            "  --frequency-penalty F   subtract F per occurrence of a recent token (default 0, off)\n"
            "  --repeat-last-n N       recent tokens those three see (default 64; 0 off, -1 all)\n"
            "  --dry-multiplier M      DRY: the token that would lengthen a verbatim repeat of\n"
            "                          L tokens loses M * base^(L - allowed) (default 0, off)\n"
            "  --dry-base B            (default 1.75)   --dry-allowed-length N   (default 2)\n"
            "  --dry-penalty-last-n N  recent tokens DRY searches (default -1, all; 0 off)\n"
            "  -s, --seed S            random seed (default or -1: from the clock)\n"
            "  -t, --threads N         threads (default: every core)\n"
            "  -b, --batch-size N      prompt tokens evaluated together (default 32)\n"
            "  --kv-type f16|f32|q8_0  KV cache entries (default f16)\n"
            "  --mem-budget BYTES      the context's memory budget (64M, 1G, ...)\n"
            "  --verbose-prompt        print the prompt's tokens on stderr first\n"
            "  --ids                   print token ids, one per line, instead of text\n"
            "  --version               the library's version\n",
            MAX_STOPS);
}

static uint64_t clock_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid() << 32;
}

static int parse_seed(const char *flag, const char *v, uint64_t *seed)
{
    if (!strcmp(v, "-1")) {
        *seed = clock_seed();
        return 0;
    }
    return cli_u64(flag, v, seed);
}

static int add_stop(options *o, const char *text)
{
    if (!*text || o->n_stops == MAX_STOPS) {
        cli_error(*text ? "at most %d stop texts (-r)" : "-r: an empty stop text would end every reply at once",
                  MAX_STOPS);
        return -1;
    }
    o->stops[o->n_stops++] = text;
    return 0;
}

static int is(const char *a, const char *x, const char *y, const char *z)
{
    return !strcmp(a, x) || (y && !strcmp(a, y)) || (z && !strcmp(a, z));
}

/* One flag (with its value); 0, or -1 after a message. */
static int parse_flag(int argc, char **argv, int *i, options *o)
{
    const char *a = argv[*i], *v = NULL;
#define VALUE() ((v = cli_value(argc, argv, i)) != NULL)
    if (is(a, "-h", "--help", NULL)) {
        usage(stdout);
        exit(0);
    } else if (is(a, "--version", NULL, NULL)) {
        printf("%s (liblatent %s)\n", cli_program, latent_version_string());
        exit(0);
    } else if (is(a, "-m", "--model", NULL)) {
        return !VALUE() || !(o->model = v) ? -1 : 0;
    } else if (is(a, "-p", "--prompt", NULL)) {
        return !VALUE() || !(o->prompt = v) ? -1 : 0;
    } else if (is(a, "-f", "--file", NULL)) {
        return !VALUE() || !(o->prompt_file = v) ? -1 : 0;
    } else if (is(a, "-sys", "--system-prompt", "--system")) {
        o->chat = 1;
        return !VALUE() || !(o->system = v) ? -1 : 0;
    } else if (is(a, "-r", "--reverse-prompt", "--stop")) {
        return !VALUE() || add_stop(o, v) ? -1 : 0;
    } else if (is(a, "-n", "--n-predict", NULL)) {
        o->n_predict_set = 1;
        return !VALUE() || cli_int(a, v, -1, 1 << 30, &o->n_predict) ? -1 : 0;
    } else if (is(a, "-c", "--ctx-size", NULL)) {
        return !VALUE() || cli_int(a, v, 0, 1 << 30, &o->ctx_size) ? -1 : 0;
    } else if (is(a, "-s", "--seed", NULL)) {
        return !VALUE() || parse_seed(a, v, &o->sp.seed) ? -1 : 0;
    } else if (is(a, "-t", "--threads", NULL)) {
        return !VALUE() || cli_int(a, v, 1, 1024, &o->threads) ? -1 : 0;
    } else if (is(a, "-b", "--batch-size", NULL)) {
        return !VALUE() || cli_int(a, v, 1, 1 << 16, &o->batch) ? -1 : 0;
    } else if (is(a, "--mem-budget", NULL, NULL)) {
        return !VALUE() || cli_bytes(a, v, &o->mem_budget) ? -1 : 0;
    } else if (is(a, "-i", "--interactive", "-cnv")) {
        o->interactive = 1;
    } else if (is(a, "--chat", NULL, NULL)) {
        o->chat = 1;
    } else if (is(a, "--ids", NULL, NULL)) {
        o->ids = 1;
    } else if (is(a, "--verbose-prompt", NULL, NULL)) {
        o->verbose_prompt = 1;
    } else {
        cli_error("unknown argument '%s' (try --help)", a);
        return -1;
    }
#undef VALUE
    return 0;
}

static int check_options(const options *o)
{
    const char *why = !o->model                                      ? "no model given (-m MODEL.gguf)"
                      : !o->prompt && !o->prompt_file && !o->interactive ? "no prompt given (-p TEXT, -f FILE or -i)"
                      : o->prompt && o->prompt_file                  ? "-p and -f both give the prompt: choose one"
                      : o->interactive && o->prompt_file && !strcmp(o->prompt_file, "-")
                          ? "-f - reads the prompt from stdin, which -i reads the conversation from"
                      : o->interactive && o->ids ? "--ids prints token ids, not a conversation (-i)"
                                                 : NULL;
    if (why)
        cli_error("%s", why);
    return why ? -1 : 0;
}

static int called_chat(const char *argv0)
{
    size_t n = strlen(argv0);
    return n >= 4 && !strcmp(argv0 + n - 4, "chat");
}

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->interactive = called_chat(argv[0]);
    o->n_predict = 128;
    o->sp = latent_sampler_default_params();
    o->sp.seed = clock_seed();
    o->kv_type = LATENT_TYPE_F16;
    for (int i = 1; i < argc; i++) {
        int shared = cli_sampling_flag(argc, argv, &i, &o->sp, &o->kv_type);
        if (shared < 0 || (shared == 0 && parse_flag(argc, argv, &i, o)))
            return -1;
    }
    if (o->interactive && !o->n_predict_set)
        o->n_predict = -1;
    o->chat |= o->interactive;
    return check_options(o);
}

/* ============================================================================
 * Text that grows
 * ========================================================================== */

typedef struct text {
    char *p; /* NUL-terminated */
    size_t len, cap;
} text;

static int text_add(text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            cli_error("out of memory");
            return -1;
        }
        t->p = p, t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = 0;
    return 0;
}

static char *read_all(FILE *f, const char *name)
{
    text t = {0};
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (text_add(&t, chunk, got)) {
            free(t.p);
            return NULL;
        }
    if (ferror(f) || text_add(&t, "", 0)) {
        cli_error("%s: could not read it", name);
        free(t.p);
        return NULL;
    }
    return t.p;
}

/* The file's text, less the one newline an editor ends a file with. */
static char *read_prompt_file(const char *path)
{
    char *t = strcmp(path, "-") ? cli_read_file(path, NULL) : read_all(stdin, "stdin");
    size_t n = t ? strlen(t) : 0;
    if (n && t[n - 1] == '\n')
        t[--n] = 0;
    if (n && t[n - 1] == '\r')
        t[--n] = 0;
    return t;
}

/* ============================================================================
 * A reply: streamed, held back where a stop text may be starting
 * ========================================================================== */

typedef struct reply {
    text said;    /* every generated token's text: what the context holds after the prompt */
    size_t shown; /* bytes of it written to stdout */
    size_t kept;  /* bytes of it that are the reply (before a stop text) */
    int stopped;  /* a stop text was met */
} reply;

/* Where needle first occurs in s[0..len), or NULL. */
static const char *find(const char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (!memcmp(s + i, needle, n))
            return s + i;
    return NULL;
}

/* How many bytes at the end of s might be the start of a stop text. */
static size_t partial_stop(const options *o, const char *s, size_t len)
{
    size_t hold = 0;
    for (int k = 0; k < o->n_stops; k++) {
        size_t n = strlen(o->stops[k]);
        for (size_t m = n - 1 < len ? n - 1 : len; m > hold; m--)
            if (!memcmp(s + len - m, o->stops[k], m)) {
                hold = m;
                break;
            }
    }
    return hold;
}

/* Writes what can no longer become a stop text (everything when final); notes a stop. */
static void reply_show(const options *o, reply *r, int final)
{
    size_t end = r->said.len, from = r->shown;
    for (int k = 0; k < o->n_stops; k++) {
        const char *hit = find(r->said.p + from, r->said.len - from, o->stops[k]);
        if (hit && (size_t)(hit - r->said.p) < end)
            end = (size_t)(hit - r->said.p), r->stopped = 1;
    }
    r->kept = end;
    if (!r->stopped && !final)
        end -= partial_stop(o, r->said.p, end);
    if (!o->ids && end > r->shown)
        fwrite(r->said.p + r->shown, 1, end - r->shown, stdout);
    fflush(stdout);
    r->shown = end > r->shown ? end : r->shown;
}

/* ============================================================================
 * A session: one model, one context, the text it holds
 * ========================================================================== */

typedef struct session {
    const options *o;
    latent_model *model;
    latent_context *ctx;
    latent_sampler *sampler;
    size_t n_ctx;          /* tokens in the context */
    latent_token last;     /* the last token evaluated */
    text held;             /* the text the context holds (a conversation: formatted) */
    double prompt_s, gen_s; /* time spent on prompts, on replies */
    long n_prompt, n_gen;
} session;

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void print_prompt_tokens(const session *s, const char *prompt, const latent_token *toks, size_t n)
{
    fprintf(stderr, "%s: prompt: '%s'\n%s: %zu tokens in the prompt\n", cli_program, prompt, cli_program, n);
    for (size_t i = 0; i < n; i++) {
        char piece[256];
        size_t len = 0;
        if (latent_token_piece(s->model, toks[i], piece, sizeof piece, &len) != LATENT_OK)
            len = 0;
        fprintf(stderr, "%6d -> '", (int)toks[i]);
        for (size_t k = 0; k < len; k++)
            fprintf(stderr, piece[k] == '\n' ? "\\n" : "%c", piece[k]);
        fprintf(stderr, "'\n");
    }
}

/* Evaluates more text after what the context holds (the first text gets BOS); 0 or -1
 * after a message. */
static int feed(session *s, const char *prompt)
{
    const options *o = s->o;
    int flags = (s->n_ctx == 0 ? LATENT_TOKENIZE_ADD_BOS : 0) | (o->chat ? LATENT_TOKENIZE_SPECIAL : 0);
    size_t n = 0;
    latent_token *toks = cli_tokenize(s->model, prompt, flags, &n);
    if (!toks)
        return -1;
    if (o->verbose_prompt)
        print_prompt_tokens(s, prompt, toks, n);
    int rc = -1;
    double t0 = cli_now();
    if (n == 0 && s->n_ctx == 0)
        cli_error("the prompt is empty and the model has no BOS token to start from");
    else if (o->ctx_size && s->n_ctx + n > (size_t)o->ctx_size)
        cli_error("%zu tokens of prompt%s do not fit in --ctx-size %d", n, s->n_ctx ? " after the conversation" : "",
                  o->ctx_size);
    else if (n && latent_eval(s->ctx, toks, n) != LATENT_OK)
        cli_error("evaluating the prompt: %s", latent_last_error());
    else
        rc = text_add(&s->held, prompt, strlen(prompt));
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            latent_sampler_accept(s->sampler, toks[i]);
        s->n_ctx += n;
        s->last = n ? toks[n - 1] : s->last;
        s->n_prompt += (long)n;
    }
    s->prompt_s += cli_now() - t0;
    free(toks);
    return rc;
}

typedef enum ending { END_TOKEN, END_LIMIT, END_CONTEXT, END_STOP, END_INTERRUPT, END_ERROR } ending;

/* Samples, shows and evaluates one token; the reply's ending, or -1 to go on. */
static int step(session *s, latent_decoder *dec, reply *r, int last_of_reply)
{
    const options *o = s->o;
    latent_token tok;
    if (latent_sampler_sample(s->sampler, latent_context_logits(s->ctx), &tok) != LATENT_OK) {
        cli_error("sampling: %s", latent_last_error());
        return END_ERROR;
    }
    if (latent_token_is_end(s->model, tok))
        return END_TOKEN;
    if (o->ctx_size && s->n_ctx >= (size_t)o->ctx_size)
        return END_CONTEXT;
    char piece[1024];
    size_t len = 0;
    if (o->ids)
        printf("%d\n", tok);
    if (latent_decoder_push(dec, tok, piece, sizeof piece, &len) == LATENT_OK)
        text_add(&r->said, piece, len);
    s->n_gen++;
    reply_show(o, r, 0);
    if (r->stopped)
        return END_STOP;
    /* the last token of a one-shot reply is never looked at again: no need to evaluate it */
    if (last_of_reply && !o->interactive)
        return END_LIMIT;
    if (latent_eval(s->ctx, &tok, 1) != LATENT_OK) {
        cli_error("after %ld tokens: %s", s->n_gen, latent_last_error());
        return END_ERROR;
    }
    s->n_ctx++;
    s->last = tok;
    return last_of_reply ? END_LIMIT : -1;
}

/* Generates one reply after what the context holds, streaming it to stdout. */
static ending generate_reply(session *s, reply *r)
{
    const options *o = s->o;
    latent_decoder *dec = NULL;
    if (latent_decoder_create(s->model, &dec) != LATENT_OK) {
        cli_error("%s", latent_last_error());
        return END_ERROR;
    }
    /* after BOS the decoder drops the space SentencePiece puts before the first word */
    char piece[1024];
    size_t len;
    if (s->last >= 0 && s->last == latent_token_bos(s->model))
        latent_decoder_push(dec, s->last, piece, sizeof piece, &len);
    double t0 = cli_now();
    int end = o->n_predict == 0 ? END_LIMIT : -1;
    for (long n = 1; end < 0; n++) {
        if (interrupted) {
            interrupted = 0;
            end = END_INTERRUPT;
        } else {
            end = step(s, dec, r, o->n_predict > 0 && n >= o->n_predict);
        }
    }
    if (!r->stopped && latent_decoder_flush(dec, piece, sizeof piece, &len) == LATENT_OK)
        text_add(&r->said, piece, len);
    reply_show(o, r, 1);
    latent_decoder_free(dec);
    s->gen_s += cli_now() - t0;
    return (ending)end;
}

static void print_figures(const session *s)
{
    latent_mem_stats ms;
    latent_context_mem_stats(s->ctx, &ms);
    double tp = s->prompt_s > 0 ? s->prompt_s : 1e-9, tg = s->gen_s > 0 ? s->gen_s : 1e-9;
    fprintf(stderr, "%s: prompt %ld tokens in %.3f s (%.1f tok/s), generated %ld tokens in %.3f s (%.2f tok/s)\n",
            cli_program, s->n_prompt, s->prompt_s, (double)s->n_prompt / tp, s->n_gen, s->gen_s,
            (double)s->n_gen / tg);
    fprintf(stderr, "%s: KV cache %.2f MiB for %zu tokens, peak RSS %.1f MiB, library heap peak %.1f MiB\n",
            cli_program, ms.kv_bytes / 1048576.0, ms.tokens, cli_peak_rss() / 1048576.0,
            latent_heap_peak_bytes() / 1048576.0);
}

/* ============================================================================
 * One prompt, one completion
 * ========================================================================== */

/* The conversation (system message, turns) in the model's template, or NULL after a
 * message. With `open`, the assistant's turn is opened at the end. */
static char *format_chat(const session *s, const latent_chat_message *msgs, size_t n, int open)
{
    latent_chat_template tmpl = latent_model_chat_template(s->model);
    size_t len = 0;
    latent_status st = latent_chat_format(tmpl, msgs, n, open, NULL, 0, &len);
    char *out = st == LATENT_OK || st == LATENT_ERANGE ? malloc(len + 1) : NULL;
    if (!out || latent_chat_format(tmpl, msgs, n, open, out, len + 1, &len) != LATENT_OK) {
        cli_error("chat template: %s", out ? latent_last_error() : "out of memory");
        free(out);
        return NULL;
    }
    return out;
}

static void warn_raw_template(const session *s)
{
    if (latent_model_chat_template(s->model) == LATENT_CHAT_RAW)
        fprintf(stderr, "%s: the model names no chat template I know; the turns are one running text\n",
                cli_program);
}

static int complete_once(session *s, const char *user)
{
    const options *o = s->o;
    char *prompt = NULL;
    if (o->chat) {
        latent_chat_message msgs[2];
        size_t n = 0;
        if (o->system)
            msgs[n++] = (latent_chat_message){"system", o->system};
        msgs[n++] = (latent_chat_message){"user", user};
        warn_raw_template(s);
        prompt = format_chat(s, msgs, n, 1);
    } else {
        prompt = strdup(user);
    }
    if (!prompt || feed(s, prompt)) {
        free(prompt);
        return -1;
    }
    free(prompt);
    reply r = {0};
    ending end = generate_reply(s, &r);
    if (!o->ids)
        printf("\n");
    fflush(stdout); /* the text ends before the figures on stderr begin */
    if (end == END_CONTEXT)
        fprintf(stderr, "%s: the context is full (--ctx-size %d)\n", cli_program, o->ctx_size);
    free(r.said.p);
    print_figures(s);
    return end == END_ERROR ? -1 : 0;
}

/* ============================================================================
 * A conversation
 * ========================================================================== */

typedef struct conversation {
    latent_chat_message *msgs;
    size_t n, cap;
} conversation;

static int conversation_add(conversation *c, const char *role, const char *content, size_t len)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        latent_chat_message *m = realloc(c->msgs, cap * sizeof *m);
        if (!m)
            return cli_error("out of memory"), -1;
        c->msgs = m, c->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return cli_error("out of memory"), -1;
    memcpy(copy, content, len);
    copy[len] = 0;
    c->msgs[c->n].role = role;
    c->msgs[c->n].content = copy; /* freed by the conversation's end or reset */
    c->n++;
    return 0;
}

/* Empties the context; the next turn reads the whole conversation again. */
static void forget_context(session *s)
{
    latent_context_reset(s->ctx);
    s->n_ctx = 0;
    s->held.len = 0;
}

/* Forgets every turn (the system message stays) and the context with them. */
static void conversation_reset(session *s, conversation *c)
{
    size_t keep = s->o->system ? 1 : 0;
    while (c->n > keep)
        free((char *)c->msgs[--c->n].content);
    forget_context(s);
    latent_sampler_reset(s->sampler, s->o->sp.seed);
}

/* The user's line as one more turn: only the text after what the context already holds
 * is evaluated. When the template writes the past differently from how it was said (one
 * that trims the turns), the context starts again from the whole conversation. */
static int chat_turn(session *s, conversation *c, const char *line)
{
    if (conversation_add(c, "user", line, strlen(line)))
        return -1;
    char *whole = format_chat(s, c->msgs, c->n, 1);
    if (!whole)
        return -1;
    if (s->held.len && strncmp(whole, s->held.p, s->held.len) != 0)
        forget_context(s);
    int rc = feed(s, whole + s->held.len);
    free(whole);
    if (rc) {
        free((char *)c->msgs[--c->n].content); /* the turn that did not fit is not part of it */
        return -1;
    }
    reply r = {0};
    ending end = generate_reply(s, &r);
    printf("\n");
    fflush(stdout);
    rc = text_add(&s->held, r.said.p ? r.said.p : "", r.said.len) ||
         conversation_add(c, "assistant", r.said.p ? r.said.p : "", r.kept);
    free(r.said.p);
    if (end == END_CONTEXT || end == END_ERROR)
        fprintf(stderr, "%s: %s; /reset starts again\n", cli_program,
                end == END_CONTEXT ? "the context is full (--ctx-size)" : "the reply stopped");
    if (end == END_ERROR)
        forget_context(s); /* its last token was shown but not evaluated: read it all again */
    return rc;
}

/* A line from stdin without its newline (malloc'd in *line), or -1 at the end of input or
 * on Ctrl-C. */
static ssize_t read_line(char **line, size_t *cap)
{
    if (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) { /* a person at a terminal */
        printf("> ");
        fflush(stdout);
    }
    ssize_t n = getline(line, cap, stdin);
    while (n > 0 && ((*line)[n - 1] == '\n' || (*line)[n - 1] == '\r'))
        (*line)[--n] = 0;
    return n;
}

static int chat(session *s)
{
    const options *o = s->o;
    conversation c = {0};
    if (o->system && conversation_add(&c, "system", o->system, strlen(o->system))) {
        free(c.msgs);
        return -1;
    }
    warn_raw_template(s);
    fprintf(stderr, "%s: chatting (template %s): /reset forgets the conversation, /exit or Ctrl-D ends it, "
            "Ctrl-C stops a reply\n", cli_program, latent_chat_template_name(latent_model_chat_template(s->model)));
    struct sigaction sa = {0};
    sa.sa_handler = on_interrupt; /* no SA_RESTART: Ctrl-C at the prompt ends the read */
    sigaction(SIGINT, &sa, NULL);
    char *line = NULL;
    size_t cap = 0;
    if (o->prompt)
        chat_turn(s, &c, o->prompt); /* a turn that fails says why; the conversation goes on */
    while (!interrupted) {
        ssize_t n = read_line(&line, &cap);
        if (n < 0 || !strcmp(line, "/exit") || !strcmp(line, "/quit"))
            break;
        if (!strcmp(line, "/reset")) {
            conversation_reset(s, &c);
            fprintf(stderr, "%s: the conversation is forgotten\n", cli_program);
        } else if (n > 0) {
            chat_turn(s, &c, line);
        }
    }
    if (interrupted && isatty(STDOUT_FILENO))
        printf("\n");
    free(line);
    while (c.n)
        free((char *)c.msgs[--c.n].content);
    free(c.msgs);
    print_figures(s);
    return 0;
}

int main(int argc, char **argv)
{
    cli_program = called_chat(argv[0]) ? "chat" : "generate";
    options o;
    if (parse_args(argc, argv, &o))
        return 1;
    char *file_prompt = NULL;
    if (o.prompt_file && !(file_prompt = read_prompt_file(o.prompt_file)))
        return 1;
    if (file_prompt)
        o.prompt = file_prompt;

    double t0 = cli_now();
    session s = {.o = &o, .last = -1};
    if (latent_model_load(o.model, NULL, &s.model) != LATENT_OK) {
        cli_error("%s", latent_last_error());
        free(file_prompt);
        return 1;
    }
    fprintf(stderr, "%s: loaded %s in %.3f s\n", cli_program, o.model, cli_now() - t0);

    int rc = 1;
    latent_context_params cp = latent_context_default_params();
    cp.n_threads = o.threads;
    cp.kv_type = o.kv_type;
    cp.mem_budget = o.mem_budget;
    if (o.batch)
        cp.n_batch = o.batch;
    if (latent_context_create(s.model, &cp, &s.ctx) != LATENT_OK ||
        latent_sampler_create(latent_n_vocab(s.model), &o.sp, &s.sampler) != LATENT_OK)
        cli_error("%s", latent_last_error());
    else
        rc = (o.interactive ? chat(&s) : complete_once(&s, o.prompt)) ? 1 : 0;
    free(s.held.p);
    free(file_prompt);
    latent_sampler_free(s.sampler);
    latent_context_free(s.ctx);
    latent_model_free(s.model);
    return rc;
}
