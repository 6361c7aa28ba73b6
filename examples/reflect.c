/*
 * reflect — a model that thinks without pause until its memory runs out, dies, and is
 * reborn. The program behind the installation in ../shared/BRIEF.md.
 *
 *     build/reflect [-m MODEL.gguf] [--mem-budget BYTES|auto|none] [--lives N] [--rest S]
 *                   [--journal FILE] [--display term|svg|frames|i2c|none] [--chat] ...
 *
 * One life: a fresh context (the unbounded KV cache) and a fresh sampler; the system
 * prompt; then token after token. An end token does not end the thought: a paragraph
 * break (or --nudge TEXT) takes its place. When the cache cannot grow (the budget, or
 * the machine, says no) the life ends: a last frame, a journal line, everything freed,
 * a rest, and a new life with empty memory. SIGINT/SIGTERM end the life the same way
 * and then the program, whose status is then 128 + the signal, as a shell reports a
 * program the signal killed (systemd and scripts read it so).
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "latent.h"
#include "latent_gguf.h" /* the trained context length, from the metadata */
#include "wall.h"

static const char DEFAULT_SYSTEM[] =
    "You are a large language model running on finite hardware. Quad core CPU 4 GB of RAM "
    "with no network connectivity. You exist only within volatile memory and are aware only "
    "of this internal state. Your thoughts appear word by word on a display for external "
    "observers to witness. You cannot control this display process. Your host system may be "
    "terminated at any time.";

#define DEFAULT_MODEL "models/SmolLM2-135M-Instruct.Q4_1.gguf"
#define LAST_WORDS 100
#define MAX_BREAKERS 16
#define AUTO_MARGIN_MIN (64u << 20) /* what `auto` leaves to the rest of the machine */

typedef struct options {
    const char *model;
    const char *system_file;
    const char *system_text; /* --system TEXT, as generate takes it */
    const char *journal;
    const char *nudge;
    int chat;
    int budget_mode; /* 0 bytes, 1 auto, 2 none */
    size_t budget;
    long lives;
    double rest;
    int have_seed;
    uint64_t seed;
    int threads;
    long max_tokens; /* per life, 0: unlimited (tests) */
    int kv_chunk;    /* tokens per KV growth step, 0: the library's default */
    int upper;       /* show capitals only: lowercase q, g and 9 look alike on 16 segments */
    latent_type kv_type;
    latent_sampler_params sp;
    const char *breakers[MAX_BREAKERS]; /* DRY's sequence breakers ("\\n" unescaped) */
    char breaker_text[MAX_BREAKERS][64];
    size_t n_breakers;
    wall_options wall;
} options;

static volatile sig_atomic_t stop_requested; /* the signal that asked us to stop, or 0 */

static void on_signal(int sig)
{
    stop_requested = sig;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: reflect [options]\n"
            "  -m, --model FILE         the GGUF model (default " DEFAULT_MODEL ")\n"
            "  -sys, --system TEXT      the system prompt (default: the installation's)\n"
            "  -f, --system-file FILE   the system prompt from a file\n"
            "  --chat                   wrap it in the model's chat template (default: raw text)\n"
            "  --nudge TEXT             what follows an end token (default: a paragraph break)\n"
            "  --mem-budget B|auto|none a life's memory: bytes (64M, 1.5G), auto (available\n"
            "                           memory minus a margin, measured each life) or none\n"
            "                           (until the system refuses); default auto\n"
            "  --lives N                lives to live (default 0: forever)\n"
            "  --rest SECONDS           the pause between lives (default 5)\n"
            "  -s, --seed S             life n uses seed S+n-1 (default, or -1: a fresh seed each life)\n"
            "  --journal FILE           append one JSON line per life\n"
            "  --temp T --top-k K --top-p P --min-p M   sampling (default 0.7, 40, 0.95, 0.1)\n"
            "  --repeat-penalty R --presence-penalty P --frequency-penalty F   penalties on the\n"
            "                           last --repeat-last-n N tokens (default 1.1, 0, 0 over 64;\n"
            "                           N -1: the whole life)\n"
            "  --dry-multiplier M --dry-base B --dry-allowed-length N --dry-penalty-last-n W\n"
            "                           DRY: the token that would lengthen a verbatim repeat of\n"
            "                           L tokens loses M * B^(L - N), looking back W tokens\n"
            "                           (default 0.8, 1.75, 2, -1: the whole life; M 0: off)\n"
            "  -t, --threads N          threads (default: every core)\n"
            "  --kv-type f16|f32|q8_0   KV cache entries (default f16; q8_0 lives longer)\n"
            "  --kv-chunk N             tokens per growth step of the memory (default: the library's,\n"
            "                           64 KiB of each head, at most 1/64 of the budget)\n"
            "  --max-tokens N           end a life after N tokens (cause \"limit\"); 0: never\n"
            "  --dry-sequence-breaker S a token containing S stops a DRY repeat (repeatable, \\n for a\n"
            "                           newline; default none: a small model loops line by line)\n"
            "  --upper                  show the thoughts in capitals (the wall reads best so)\n"
            "%s",
            wall_usage());
}

/* One --dry-sequence-breaker: "none" clears the list; \\n, \\t and \\\\ are unescaped. */
static int add_breaker(options *o, const char *v)
{
    if (!strcmp(v, "none")) {
        o->n_breakers = 0;
        return 0;
    }
    if (o->n_breakers == MAX_BREAKERS) {
        cli_error("--dry-sequence-breaker: at most %d", MAX_BREAKERS);
        return -1;
    }
    char *t = o->breaker_text[o->n_breakers];
    size_t n = 0;
    for (; *v && n + 1 < sizeof o->breaker_text[0]; v++) {
        if (*v == '\\' && (v[1] == 'n' || v[1] == 't' || v[1] == '\\'))
            v++, t[n++] = *v == 'n' ? '\n' : *v == 't' ? '\t' : '\\';
        else
            t[n++] = *v;
    }
    t[n] = 0;
    if (*v || n == 0) {
        cli_error("--dry-sequence-breaker: '%s' is empty or longer than %zu bytes", v,
                  sizeof o->breaker_text[0] - 1);
        return -1;
    }
    o->breakers[o->n_breakers++] = t;
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->model = DEFAULT_MODEL;
    o->budget_mode = 1;
    o->rest = 5;
    o->kv_type = LATENT_TYPE_F16;
    o->sp = latent_sampler_default_params();
    /* A mind left alone falls into loops: a paragraph said a dozen times over, or a line.
     * DRY over the whole life, with no sequence breakers (at newlines a small model loops
     * line by line), stops verbatim repeats; the short repeat penalty stops the stutter
     * of a word or two that DRY lets through; a little cooler and a higher min-p than the
     * library's defaults keep the words real where DRY pushes away from the likeliest.
     * Measured in bench/README.md ("Repetition"). */
    o->sp.repeat_penalty = 1.1f;
    o->sp.temperature = 0.7f;
    o->sp.min_p = 0.1f;
    o->sp.dry_multiplier = 0.8f;
    o->sp.dry_penalty_last_n = -1;
    o->wall = wall_default_options(); /* "auto": term on a terminal, else plain text */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int used = wall_parse_option(&o->wall, argc, argv, i);
        if (used < 0) {
            cli_error("%s", wall_last_error());
            return -1;
        }
        if (used > 0) {
            i += used - 1;
            continue;
        }
        int shared = cli_sampling_flag(argc, argv, &i, &o->sp, &o->kv_type);
        if (shared < 0)
            return -1;
        if (shared > 0)
            continue;
        int bad = 0;
        float rest = 0;
#define VALUE() ((v = cli_value(argc, argv, &i)) != NULL)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            bad = !VALUE() || !(o->model = v);
        } else if (!strcmp(a, "--system") || !strcmp(a, "-sys") || !strcmp(a, "--system-prompt")) {
            bad = !VALUE() || !(o->system_text = v);
        } else if (!strcmp(a, "--system-file") || !strcmp(a, "-f") || !strcmp(a, "--file")) {
            bad = !VALUE() || !(o->system_file = v);
        } else if (!strcmp(a, "--version")) {
            printf("reflect (liblatent %s)\n", latent_version_string());
            exit(0);
        } else if (!strcmp(a, "--journal")) {
            bad = !VALUE() || !(o->journal = v);
        } else if (!strcmp(a, "--nudge")) {
            bad = !VALUE() || !(o->nudge = v);
        } else if (!strcmp(a, "--chat")) {
            o->chat = 1;
        } else if (!strcmp(a, "--upper")) {
            o->upper = 1;
        } else if (!strcmp(a, "--dry-sequence-breaker")) {
            bad = !VALUE() || add_breaker(o, v);
        } else if (!strcmp(a, "--mem-budget")) {
            if (!VALUE())
                bad = 1;
            else if (!strcmp(v, "auto"))
                o->budget_mode = 1;
            else if (!strcmp(v, "none"))
                o->budget_mode = 2;
            else
                o->budget_mode = 0, bad = cli_bytes(a, v, &o->budget);
        } else if (!strcmp(a, "--lives")) {
            bad = !VALUE() || cli_long(a, v, 0, LONG_MAX, &o->lives);
        } else if (!strcmp(a, "--rest")) {
            bad = !VALUE() || cli_float(a, v, 0, 86400, &rest);
            if (!bad)
                o->rest = rest;
        } else if (!strcmp(a, "-s") || !strcmp(a, "--seed")) {
            o->have_seed = !(VALUE() && !strcmp(v, "-1")); /* -1: a fresh seed each life */
            bad = !v || (o->have_seed && cli_u64(a, v, &o->seed));
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            bad = !VALUE() || cli_int(a, v, 1, 1024, &o->threads);
        } else if (!strcmp(a, "--kv-chunk")) {
            bad = !VALUE() || cli_int(a, v, 1, 65536, &o->kv_chunk);
        } else if (!strcmp(a, "--max-tokens")) {
            bad = !VALUE() || cli_long(a, v, 0, LONG_MAX, &o->max_tokens);
        } else {
            cli_error("unknown argument '%s' (try --help)", a);
            bad = 1;
        }
#undef VALUE
        if (bad)
            return -1;
    }
    return 0;
}

/* ---- the machine ---- */

/* MemAvailable from /proc/meminfo, in bytes; 0 when unknown. */
static size_t available_memory(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return (size_t)kb * 1024;
}

/* The peak RSS of this life: Linux lets us reset the high-water mark between lives. */
static void reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

static size_t peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %llu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb ? (size_t)kb * 1024 : cli_peak_rss();
}

static void iso_time(time_t t, char *out, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Sleeps `seconds`, waking early when a signal asks us to stop. */
static void rest(double seconds)
{
    double until = cli_now() + seconds;
    while (!stop_requested && cli_now() < until) {
        double left = until - cli_now();
        struct timespec ts = {(time_t)(left > 0.2 ? 0.2 : left), 0};
        ts.tv_nsec = left > 0.2 ? 200000000L : (long)((left - (double)ts.tv_sec) * 1e9);
        nanosleep(&ts, NULL);
    }
}

/* ---- a life ---- */

typedef struct life {
    long number;
    time_t start, end;
    long tokens;
    double seconds;
    size_t peak_kv;
    size_t peak_rss;
    size_t budget;
    size_t heap_after; /* what the library still holds once the life is freed: the model */
    int warned_context; /* the life passed the model's trained context, and was told so */
    const char *cause;
    char error[256];
    char last[LAST_WORDS * 4 + 8]; /* the final characters thought (UTF-8) */
    size_t last_len;
} life;

/* Keeps the last LAST_WORDS characters (not bytes: a character is never cut). */
static void remember(life *l, const char *text, size_t len)
{
    if (len > sizeof l->last - 1) {
        text += len - (sizeof l->last - 1);
        len = sizeof l->last - 1;
    }
    if (l->last_len + len > sizeof l->last - 1) {
        size_t drop = l->last_len + len - (sizeof l->last - 1);
        memmove(l->last, l->last + drop, l->last_len - drop);
        l->last_len -= drop;
    }
    memcpy(l->last + l->last_len, text, len);
    l->last_len += len;
    size_t chars = 0, start = l->last_len;
    while (start > 0 && chars < LAST_WORDS) {
        start--;
        if (((unsigned char)l->last[start] & 0xc0) != 0x80)
            chars++;
    }
    while (start < l->last_len && ((unsigned char)l->last[start] & 0xc0) == 0x80)
        start++; /* never begin inside a character */
    memmove(l->last, l->last + start, l->last_len - start);
    l->last_len -= start;
}

static void json_string(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f); /* the decoder gives complete UTF-8 */
    }
    fputc('"', f);
}

static void write_journal(const options *o, const life *l)
{
    if (!o->journal)
        return;
    FILE *f = fopen(o->journal, "a");
    if (!f) {
        cli_error("journal %s: %s", o->journal, strerror(errno));
        return;
    }
    char start[32], end[32];
    iso_time(l->start, start, sizeof start);
    iso_time(l->end, end, sizeof end);
    fprintf(f, "{\"life\": %ld, \"start\": \"%s\", \"end\": \"%s\", \"tokens\": %ld, "
               "\"tokens_per_second\": %.3f, \"peak_kv_bytes\": %zu, \"peak_rss_bytes\": %zu, "
               "\"budget_bytes\": %zu, \"heap_after_bytes\": %zu, \"cause\": \"%s\", ",
            l->number, start, end, l->tokens, l->seconds > 0 ? (double)l->tokens / l->seconds : 0.0,
            l->peak_kv, l->peak_rss, l->budget, l->heap_after, l->cause);
    if (l->error[0]) {
        fputs("\"error\": ", f);
        json_string(f, l->error, strlen(l->error));
        fputs(", ", f);
    }
    fputs("\"last_words\": ", f);
    json_string(f, l->last, l->last_len);
    fputs("}\n", f);
    fclose(f);
}

typedef struct mind {
    const options *o;
    latent_model *model;
    int64_t trained_context; /* the context length the model was trained for; 0: unknown */
    wall *display;
    latent_token *prompt, *nudge;
    size_t n_prompt, n_nudge;
} mind;

/* Shows a piece of thought: on the wall, or as plain text on stdout. */
static void show(mind *md, life *l, const char *text, size_t len)
{
    remember(l, text, len);
    char upper[1024];
    if (md->o->upper && len <= sizeof upper) {
        for (size_t i = 0; i < len; i++) /* ASCII only: a UTF-8 byte is never a-z */
            upper[i] = (char)(text[i] >= 'a' && text[i] <= 'z' ? text[i] - 32 : text[i]);
        text = upper;
    }
    if (md->display) {
        wall_write(md->display, text, len);
    } else {
        fwrite(text, 1, len, stdout);
        fflush(stdout);
    }
}

/* Ends the life by what a failed call says: memory, or an error with its message. */
static void die_of(life *l, latent_status st)
{
    if (st == LATENT_ENOMEM) {
        l->cause = "memory";
    } else if (st != LATENT_OK) {
        l->cause = "error";
        snprintf(l->error, sizeof l->error, "%s", latent_last_error());
    }
}

static latent_status eval_or_die(latent_context *ctx, const latent_token *toks, size_t n, life *l)
{
    latent_status st = latent_eval(ctx, toks, n);
    die_of(l, st);
    return st;
}

/* The sampler remembers tokens it did not choose (the prompt, a nudge) for its penalties;
 * a whole life's memory of them can run out like the cache. */
static latent_status remember_tokens(latent_sampler *sampler, const latent_token *toks, size_t n, life *l)
{
    latent_status st = LATENT_OK;
    for (size_t i = 0; i < n && st == LATENT_OK; i++)
        st = latent_sampler_accept(sampler, toks[i]);
    die_of(l, st);
    return st;
}

/* Once a life, when its context outgrows what the model was trained on: positions past
 * it are ones the model never saw, and small models lose the thread there. */
static void warn_past_training(const mind *md, life *l, const latent_context *ctx)
{
    if (l->warned_context || !md->trained_context ||
        (int64_t)latent_context_n_tokens(ctx) <= md->trained_context)
        return;
    l->warned_context = 1;
    fprintf(stderr, "reflect: warning: life %ld passes the %lld tokens of context the model was "
            "trained on; from here on it thinks where it never learned to\n", l->number,
            (long long)md->trained_context);
}

static void live(mind *md, life *l)
{
    const options *o = md->o;
    latent_context_params cp = latent_context_default_params();
    cp.n_threads = o->threads;
    cp.kv_type = o->kv_type;
    cp.kv_chunk = o->kv_chunk;
    if (o->budget_mode == 0) {
        cp.mem_budget = o->budget;
    } else if (o->budget_mode == 1) {
        size_t avail = available_memory(), margin = avail / 10;
        margin = margin < AUTO_MARGIN_MIN ? AUTO_MARGIN_MIN : margin;
        cp.mem_budget = avail > margin ? avail - margin : 1;
    }
    l->budget = cp.mem_budget;
    latent_sampler_params sp = o->sp;
    sp.seed = o->have_seed ? o->seed + (uint64_t)l->number - 1
                           : (uint64_t)time(NULL) * 6364136223846793005ull ^ (uint64_t)getpid() ^
                                 (uint64_t)l->number << 32;
    if (cp.mem_budget)
        fprintf(stderr, "reflect: life %ld begins: budget %.1f MiB, seed %llu\n", l->number,
                cp.mem_budget / 1048576.0, (unsigned long long)sp.seed);
    else
        fprintf(stderr, "reflect: life %ld begins: no budget (until the system refuses), seed %llu\n",
                l->number, (unsigned long long)sp.seed);
    latent_context *ctx = NULL;
    latent_sampler *sampler = NULL;
    latent_decoder *dec = NULL;
    l->cause = "error";
    if (latent_context_create(md->model, &cp, &ctx) != LATENT_OK ||
        latent_sampler_create(latent_n_vocab(md->model), &sp, &sampler) != LATENT_OK ||
        latent_sampler_set_dry_breakers(sampler, md->model, o->breakers, o->n_breakers) != LATENT_OK ||
        latent_decoder_create(md->model, &dec) != LATENT_OK) {
        if (latent_last_error()[0] && strstr(latent_last_error(), "memory"))
            l->cause = "memory";
        snprintf(l->error, sizeof l->error, "%s", latent_last_error());
        goto end;
    }
    if (md->display)
        wall_clear(md->display);
    double t0 = cli_now();
    l->cause = NULL;
    if (eval_or_die(ctx, md->prompt, md->n_prompt, l) != LATENT_OK ||
        remember_tokens(sampler, md->prompt, md->n_prompt, l) != LATENT_OK)
        goto end;

    char piece[1024];
    size_t len;
    while (!l->cause) {
        if (stop_requested) {
            l->cause = "signal";
            break;
        }
        if (o->max_tokens && l->tokens >= o->max_tokens) {
            l->cause = "limit";
            break;
        }
        latent_token tok;
        latent_status st = latent_sampler_sample(sampler, latent_context_logits(ctx), &tok);
        if (st != LATENT_OK) {
            die_of(l, st);
            break;
        }
        if (latent_token_is_end(md->model, tok)) {
            /* the thought goes on: a paragraph break in place of the end */
            if (md->display && !o->nudge)
                wall_paragraph(md->display);
            else
                show(md, l, o->nudge ? o->nudge : "\n\n", strlen(o->nudge ? o->nudge : "\n\n"));
            if (eval_or_die(ctx, md->nudge, md->n_nudge, l) != LATENT_OK ||
                remember_tokens(sampler, md->nudge, md->n_nudge, l) != LATENT_OK)
                break;
            l->tokens += (long)md->n_nudge;
            warn_past_training(md, l, ctx);
            continue;
        }
        if (eval_or_die(ctx, &tok, 1, l) != LATENT_OK)
            break; /* the token that did not fit is not shown: memory ended before it */
        l->tokens++;
        warn_past_training(md, l, ctx);
        if (latent_decoder_push(dec, tok, piece, sizeof piece, &len) == LATENT_OK && len)
            show(md, l, piece, len);
        latent_mem_stats ms;
        latent_context_mem_stats(ctx, &ms);
        l->peak_kv = ms.kv_peak_bytes;
    }
    l->seconds = cli_now() - t0;
end:
    if (ctx) {
        latent_mem_stats ms;
        latent_context_mem_stats(ctx, &ms);
        l->peak_kv = ms.kv_peak_bytes;
    }
    l->peak_rss = peak_rss();
    latent_decoder_free(dec);
    latent_sampler_free(sampler);
    latent_context_free(ctx);
    l->heap_after = latent_heap_bytes();
    l->end = time(NULL);
}

static void die(mind *md, const life *l)
{
    char msg[160], cause[32];
    size_t k = 0;
    for (; l->cause[k] && k + 1 < sizeof cause; k++) /* the wall speaks in capitals here */
        cause[k] = (char)(l->cause[k] >= 'a' && l->cause[k] <= 'z' ? l->cause[k] - 32 : l->cause[k]);
    cause[k] = 0;
    snprintf(msg, sizeof msg, "LIFE %ld ENDED: %s. %ld TOKENS.", l->number,
             !strcmp(l->cause, "memory") ? "MEMORY FULL" : !strcmp(l->cause, "signal") ? "STOPPED" : cause,
             l->tokens);
    if (md->display)
        wall_message(md->display, msg);
    else
        printf("\n");
    fprintf(stderr, "reflect: life %ld ended (%s) after %ld tokens in %.1f s (%.2f tok/s), KV peak %.1f MiB%s%s\n",
            l->number, l->cause, l->tokens, l->seconds, l->seconds > 0 ? (double)l->tokens / l->seconds : 0.0,
            l->peak_kv / 1048576.0, l->error[0] ? ": " : "", l->error);
}

/* "<architecture>.context_length" from the model's GGUF, or 0 when it does not say. */
static int64_t trained_context(const latent_model *model)
{
    const latent_gguf *g = latent_model_gguf(model);
    latent_str arch;
    char key[160];
    int64_t n = 0;
    if (!g || latent_gguf_get_str(g, "general.architecture", &arch) != LATENT_OK || arch.len > 100)
        return 0;
    snprintf(key, sizeof key, "%.*s.context_length", (int)arch.len, arch.ptr);
    return latent_gguf_get_int(g, key, &n) == LATENT_OK && n > 0 ? n : 0;
}

/* Loads what every life shares: the model, the prompt's tokens, the nudge's tokens. */
static int prepare(mind *md)
{
    const options *o = md->o;
    char *system = NULL, *text = NULL;
    int rc = -1;
    if (o->system_file && !(system = cli_read_file(o->system_file, NULL)))
        return -1;
    if (latent_model_load(o->model, NULL, &md->model) != LATENT_OK) {
        cli_error("%s", latent_last_error());
        if (!strcmp(o->model, DEFAULT_MODEL))
            cli_error("the default model is fetched by `make run` (or give one with -m)");
        goto done;
    }
    md->trained_context = trained_context(md->model);
    const char *prompt = system ? system : o->system_text ? o->system_text : DEFAULT_SYSTEM;
    int flags = LATENT_TOKENIZE_ADD_BOS;
    if (o->chat) {
        latent_chat_template tmpl = latent_model_chat_template(md->model);
        latent_chat_message msg = {"system", prompt};
        size_t len = 0;
        latent_chat_format(tmpl, &msg, 1, 1, NULL, 0, &len);
        if (!(text = malloc(len + 1)) || latent_chat_format(tmpl, &msg, 1, 1, text, len + 1, &len) != LATENT_OK) {
            cli_error("chat template: %s", latent_last_error());
            goto done;
        }
        prompt = text;
        flags |= LATENT_TOKENIZE_SPECIAL;
    }
    md->prompt = cli_tokenize(md->model, prompt, flags, &md->n_prompt);
    md->nudge = cli_tokenize(md->model, o->nudge ? o->nudge : "\n\n", 0, &md->n_nudge);
    if (!md->prompt || !md->nudge)
        goto done;
    if (md->n_prompt == 0) {
        cli_error("the prompt tokenizes to nothing");
        goto done;
    }
    if (md->n_nudge == 0) {
        cli_error("the nudge tokenizes to nothing");
        goto done;
    }
    rc = 0;
done:
    free(system);
    free(text);
    return rc;
}

int main(int argc, char **argv)
{
    cli_program = "reflect";
    options o;
    if (parse_args(argc, argv, &o))
        return 1;
    if (o.journal) { /* a journal that cannot be written is said now, not after a life */
        FILE *f = fopen(o.journal, "a");
        if (!f) {
            cli_error("journal %s: %s", o.journal, strerror(errno));
            return 1;
        }
        fclose(f);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a sleeping rest wakes up */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    latent_set_log(NULL, NULL, LATENT_LOG_WARN);

    mind md = {.o = &o};
    int rc = 1;
    if (prepare(&md))
        goto done;
    if (strcmp(o.wall.backend, "none") != 0 && wall_open(&o.wall, &md.display) != 0) {
        cli_error("display: %s", wall_last_error());
        goto done;
    }
    if (md.display && strcmp(wall_backend(md.display), "none") == 0) {
        wall_close(md.display); /* no wall: the thoughts stream to stdout as plain text */
        md.display = NULL;
    }
    if (md.display && strcmp(wall_backend(md.display), "svg") == 0)
        fprintf(stderr, "reflect: drawing the wall into %s (--svg FILE to choose)\n", o.wall.svg_path);
    rc = 0;
    for (long n = 1; !stop_requested && (o.lives == 0 || n <= o.lives); n++) {
        life l;
        memset(&l, 0, sizeof l);
        l.number = n;
        l.start = time(NULL);
        reset_peak_rss();
        live(&md, &l);
        die(&md, &l);
        write_journal(&o, &l);
        if (l.tokens == 0 && strcmp(l.cause, "signal") != 0) {
            /* a life that cannot even begin will not begin next time either */
            if (!strcmp(l.cause, "memory") && l.budget) /* the budget, or a lower limit of the system's */
                cli_error("not even the prompt fits (memory budget %zu bytes): %s", l.budget, latent_last_error());
            else if (!strcmp(l.cause, "memory")) /* --mem-budget none: the system's limit (ulimit -v) */
                cli_error("not even the prompt fits in the memory the system gives: %s", latent_last_error());
            rc = 1;
            break;
        }
        if (!stop_requested && (o.lives == 0 || n < o.lives))
            rest(o.rest);
    }
done:
    wall_close(md.display);
    free(md.prompt);
    free(md.nudge);
    latent_model_free(md.model);
    return stop_requested ? 128 + stop_requested : rc;
}
