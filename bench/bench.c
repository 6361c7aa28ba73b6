/*
 * bench — which file to put on the device: the speed, memory and quality of each
 * quantization, measured against the machine's own memory bandwidth.
 *
 *     build/bench MODEL.gguf [options]          a high-precision model (f32, f16, bf16),
 *                                               quantized here to each type, then measured
 *     build/bench --synthetic SHAPE [options]   random weights in a real model's shape:
 *                                               speed and memory only
 *
 * For each type: file size and bits per weight, load time, peak resident memory, prompt
 * and generation speed (median, min and max over the repetitions, for each thread count
 * of -t), the bandwidth ceiling (the read bandwidth this program measures on this
 * machine, divided by the bytes one generated token reads) and how much of it is
 * reached; for a real model, perplexity on a text and, against the highest-precision
 * file, the mean KL divergence and top-1 agreement of the next-token distributions.
 *
 * Each type is measured in a child process of its own (fork), so its peak memory is its
 * own and one type's pages do not help or hurt the next. The quantized files live in a
 * temporary directory removed at the end (--dir and --keep to keep them).
 *
 * Instructions on a Cortex-A72 (--insn ARM_BENCH): the files are written here, then an
 * aarch64 build of this program generates n1 and n2 tokens under
 * `qemu-aarch64 -cpu cortex-a72` with ../shared/tools/insncount.c loaded as a plugin; the
 * difference of the counts divided by n2 - n1 is the count per generated token.
 * Emulated time is never reported.
 *
 * Linux (or any POSIX system with fork); the bandwidth probe uses POSIX threads.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "latent.h"

/* The instruction set the library's kernels were compiled for: the same test as
 * kernels/kernels.h makes, on the same flags. */
#if defined(__AVX2__) && defined(__FMA__) && !defined(LATENT_FORCE_SCALAR)
#define BENCH_ISA "avx2"
#elif (defined(__ARM_NEON) || defined(__ARM_NEON__)) && defined(__aarch64__) &&            \
    !defined(LATENT_FORCE_SCALAR)
#define BENCH_ISA "neon"
#else
#define BENCH_ISA "scalar"
#endif

#define MAX_ROWS 24
#define MAX_THREADS 16
#define MAX_REPS 64
#define MIB (1024.0 * 1024.0)

#define USAGE                                                                               \
    "usage: bench MODEL.gguf [options]\n"                                                   \
    "       bench --synthetic SHAPE [options]\n"                                            \
    "\n"                                                                                    \
    "  MODEL.gguf         a high-precision model (f32, f16 or bf16), quantized here to each type\n" \
    "  --synthetic SHAPE  random weights: tinyllama-1.1b llama-3.2-1b llama-3.2-3b qwen2.5-0.5b,\n" \
    "                     or layers=L,dim=D,heads=H,kv_heads=K,ffn=F,vocab=V[,tied=1][,arch=qwen2]\n" \
    "  --types LIST       presets, comma-separated (default f16,q8_0,q6_k,q5_k_m,q4_k_m,q4_0);\n" \
    "                     'file' measures MODEL as it is, whatever its type\n"              \
    "  -t LIST            thread counts to sweep, e.g. 1,2,4 (default: every core)\n"       \
    "  -r N               repetitions (default 3); the median, min and max are reported\n"  \
    "  -p N               prompt tokens (default 64)\n"                                     \
    "  -n N               generated tokens (default 32)\n"                                  \
    "  -b N               prompt tokens per batch (default: the whole prompt, at most 512)\n" \
    "  --text FILE        perplexity text (default bench/data/stories.txt)\n"              \
    "  --ppl-ctx N        tokens per perplexity window (default 256)\n"                     \
    "  --ppl-tokens N     score at most N tokens of the text (default: all of it)\n"        \
    "  --no-quality       skip perplexity, KL and top-1\n"                                  \
    "  --csv | --json | --md   output for machines or for a README (default: a table)\n"    \
    "  --svg FILE         chart: generation speed against file size, one point per type\n"  \
    "  --dir DIR          where the quantized files go (default: a temporary directory)\n"  \
    "  --keep             keep them\n"                                                      \
    "  --insn ARM_BENCH   count Cortex-A72 instructions per generated token instead:\n"     \
    "                     ARM_BENCH is an aarch64 build of this program, run under qemu\n"  \
    "  --plugin FILE      the insncount plugin (default build/libinsncount.so)\n"           \
    "  --qemu CMD         default \"qemu-aarch64 -cpu cortex-a72\"\n"                       \
    "  --insn-tokens N1,N2  generated tokens of the two counted runs (default 2,6)\n"        \
    "  --insn-run FILE    (what qemu runs) load FILE, generate -n tokens on one thread\n"

/* ============================================================================
 * Small things: errors, progress, time, statistics
 * ========================================================================== */

static int g_tty;             /* stderr is a terminal: progress rewrites one line */
static int g_progress_dirty;  /* a progress line is on screen */
static pid_t g_parent;        /* the process that owns the temporary files */

static void clear_progress(void)
{
    if (g_tty && g_progress_dirty) {
        fputs("\r\033[K", stderr);
        g_progress_dirty = 0;
    }
}

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
    va_list ap;
    clear_progress();
    va_start(ap, fmt);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -1;
}

/* The library's message, prefixed with `what` unless it already names it. */
static int fail_status(latent_status st, const char *what)
{
    const char *detail = latent_last_error();
    if (!detail || !*detail)
        detail = latent_status_str(st);
    if (strstr(detail, what))
        return fail("%s", detail);
    return fail("%s: %s", what, detail);
}

/* A phase (printed as a line when stderr is not a terminal) or a detail (terminal only). */
__attribute__((format(printf, 2, 3))) static void progress(int detail, const char *fmt, ...)
{
    if (detail && !g_tty)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (g_tty)
        fputs("\r\033[K", stderr);
    fputs("bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    if (g_tty)
        g_progress_dirty = 1;
    else
        fputc('\n', stderr);
    fflush(stderr);
    va_end(ap);
}

static void log_line(latent_log_level level, const char *message, void *user)
{
    (void)user;
    clear_progress();
    fprintf(stderr, "bench: %s%s\n", level <= LATENT_LOG_WARN ? "warning: " : "", message);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The peak resident memory of this process, in bytes. */
static double peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
#ifdef __APPLE__
    return (double)ru.ru_maxrss; /* bytes there */
#else
    return (double)ru.ru_maxrss * 1024.0; /* kilobytes on Linux */
#endif
}

typedef struct stat3 {
    double med, min, max;
} stat3;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static stat3 summarize(double *v, int n)
{
    stat3 s = {0, 0, 0};
    if (n <= 0)
        return s;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    s.min = v[0];
    s.max = v[n - 1];
    s.med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    return s;
}

/* Copies at most cap - 1 bytes of src; always terminated. */
static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* dir/name into out; -1 after a message when it does not fit. */
static int path_join(char *out, size_t cap, const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    if (a + 1 + b >= cap)
        return fail("the path %s/%s is too long", dir, name);
    memcpy(out, dir, a);
    out[a] = '/';
    memcpy(out + a + 1, name, b + 1);
    return 0;
}

static int parse_long(const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || end == s || *end || errno || v < lo || v > hi)
        return fail("%s: '%s' is not a whole number from %ld to %ld", flag, s ? s : "", lo, hi);
    *out = v;
    return 0;
}

static int parse_int(const char *flag, const char *s, int lo, int hi, int *out)
{
    long v;
    if (parse_long(flag, s, lo, hi, &v))
        return -1;
    *out = (int)v;
    return 0;
}

/* ============================================================================
 * Options
 * ========================================================================== */

enum { OUT_TABLE, OUT_MD, OUT_CSV, OUT_JSON };

typedef struct options {
    const char *model;     /* a real model, or NULL */
    const char *synthetic; /* a shape, or NULL */
    const char *types[MAX_ROWS];
    int n_types;
    int types_given;
    int threads[MAX_THREADS];
    int n_threads;
    int reps, n_prompt, n_gen, n_batch;
    int quality; /* 1 unless --no-quality */
    const char *text;
    int text_given;
    int ppl_ctx;
    long ppl_tokens;
    int format;
    const char *svg;
    const char *dir;
    int keep;
    const char *insn_bin, *plugin, *qemu;
    int insn_n1, insn_n2;
    const char *insn_run;
} options;

static char g_types_buf[512];

static int parse_types(options *o, const char *s)
{
    if (strlen(s) >= sizeof g_types_buf)
        return fail("--types: the list is too long");
    strcpy(g_types_buf, s);
    o->n_types = 0;
    for (char *tok = strtok(g_types_buf, ","); tok; tok = strtok(NULL, ",")) {
        for (char *c = tok; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        static const char *known[] = {"file", "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1",
                                      "q5_0", "q5_1", "q2_k", "q3_k", "q3_k_m", "q4_k",
                                      "q4_k_m", "q5_k", "q5_k_m", "q6_k"};
        int ok = 0;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok |= !strcmp(tok, known[i]);
        if (!ok)
            return fail("--types: unknown type '%s' (file f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 "
                        "q2_k q3_k q4_k q5_k q6_k q4_k_m q5_k_m)", tok);
        for (int i = 0; i < o->n_types; i++)
            if (!strcmp(o->types[i], tok))
                return fail("--types: '%s' is listed twice", tok);
        if (o->n_types == MAX_ROWS - 1)
            return fail("--types: at most %d types", MAX_ROWS - 1);
        o->types[o->n_types++] = tok;
    }
    if (o->n_types == 0)
        return fail("--types: the list is empty");
    o->types_given = 1;
    return 0;
}

static int parse_list(const char *flag, const char *s, int lo, int hi, int *out, int max, int *n)
{
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return fail("%s: the list is too long", flag);
    strcpy(buf, s);
    *n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == max)
            return fail("%s: at most %d values", flag, max);
        if (parse_int(flag, tok, lo, hi, &out[*n]))
            return -1;
        (*n)++;
    }
    if (*n == 0)
        return fail("%s: the list is empty", flag);
    return 0;
}

static int n_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n <= 1024 ? (int)n : 1;
}

static int parse_args(int argc, char **argv, options *o)
{
    static const char *defaults[] = {"f16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_0"};
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        o->types[o->n_types++] = defaults[i];
    o->threads[0] = n_cores();
    o->n_threads = 1;
    o->reps = 3;
    o->n_prompt = 64;
    o->n_gen = 32;
    o->quality = 1;
    o->text = "bench/data/stories.txt";
    o->ppl_ctx = 256;
    o->format = OUT_TABLE;
    o->plugin = "build/libinsncount.so";
    o->qemu = "qemu-aarch64 -cpu cortex-a72";
    o->insn_n1 = 2;
    o->insn_n2 = 6;
    int n_gen_given = 0, p_given = 0, t_given = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        /* flags that take a value */
        static const char *valued[] = {"--synthetic", "--types", "-t", "-r", "-p", "-n", "-b",
                                       "--text", "--ppl-ctx", "--ppl-tokens", "--svg", "--dir",
                                       "--insn", "--plugin", "--qemu", "--insn-tokens",
                                       "--insn-run"};
        const char *v = NULL;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            if (!strcmp(a, valued[k])) {
                if (i + 1 >= argc)
                    return fail("%s needs a value", a);
                v = argv[++i];
            }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            exit(0);
        } else if (!strcmp(a, "--synthetic")) {
            o->synthetic = v;
        } else if (!strcmp(a, "--types")) {
            if (parse_types(o, v))
                return -1;
        } else if (!strcmp(a, "-t")) {
            int t[MAX_THREADS], n;
            if (parse_list("-t", v, 1, 1024, t, MAX_THREADS, &n))
                return -1;
            t_given = 1;
            o->n_threads = 0; /* "1,$(nproc)" on one core is "1,1": once is enough */
            for (int k = 0; k < n; k++) {
                int seen = 0;
                for (int q = 0; q < o->n_threads; q++)
                    seen |= o->threads[q] == t[k];
                if (!seen)
                    o->threads[o->n_threads++] = t[k];
            }
        } else if (!strcmp(a, "-r")) {
            if (parse_int(a, v, 1, MAX_REPS, &o->reps))
                return -1;
        } else if (!strcmp(a, "-p")) {
            if (parse_int(a, v, 1, 65536, &o->n_prompt))
                return -1;
            p_given = 1;
        } else if (!strcmp(a, "-n")) {
            if (parse_int(a, v, 1, 65536, &o->n_gen))
                return -1;
            n_gen_given = 1;
        } else if (!strcmp(a, "-b")) {
            if (parse_int(a, v, 1, 4096, &o->n_batch))
                return -1;
        } else if (!strcmp(a, "--text")) {
            o->text = v;
            o->text_given = 1;
        } else if (!strcmp(a, "--ppl-ctx")) {
            if (parse_int(a, v, 2, 4096, &o->ppl_ctx))
                return -1;
        } else if (!strcmp(a, "--ppl-tokens")) {
            if (parse_long(a, v, 1, 100000000L, &o->ppl_tokens))
                return -1;
        } else if (!strcmp(a, "--no-quality")) {
            o->quality = 0;
        } else if (!strcmp(a, "--csv")) {
            o->format = OUT_CSV;
        } else if (!strcmp(a, "--json")) {
            o->format = OUT_JSON;
        } else if (!strcmp(a, "--md")) {
            o->format = OUT_MD;
        } else if (!strcmp(a, "--svg")) {
            o->svg = v;
        } else if (!strcmp(a, "--dir")) {
            o->dir = v;
        } else if (!strcmp(a, "--keep")) {
            o->keep = 1;
        } else if (!strcmp(a, "--insn")) {
            o->insn_bin = v;
        } else if (!strcmp(a, "--plugin")) {
            o->plugin = v;
        } else if (!strcmp(a, "--qemu")) {
            o->qemu = v;
        } else if (!strcmp(a, "--insn-tokens")) {
            int n2[2], n;
            if (parse_list(a, v, 1, 4096, n2, 2, &n))
                return -1;
            if (n != 2 || n2[1] <= n2[0])
                return fail("--insn-tokens: expected N1,N2 with N1 < N2");
            o->insn_n1 = n2[0];
            o->insn_n2 = n2[1];
        } else if (!strcmp(a, "--insn-run")) {
            o->insn_run = v;
        } else if (a[0] == '-' && a[1]) {
            return fail("unknown option '%s' (bench --help lists them)", a);
        } else if (o->model) {
            return fail("unexpected argument '%s': one model at a time", a);
        } else {
            o->model = a;
        }
    }
    if (o->insn_run) {
        if (o->model || o->synthetic)
            return fail("--insn-run takes the model itself: no other model or --synthetic");
        if (!n_gen_given)
            o->n_gen = 4;
        if (!p_given)
            o->n_prompt = 1;
        if (!t_given)
            o->threads[0] = 1;
        if (o->n_batch == 0)
            o->n_batch = o->n_prompt < 512 ? o->n_prompt : 512;
        return 0;
    }
    if (!o->model && !o->synthetic)
        return fail("no model: give MODEL.gguf or --synthetic SHAPE\n%s", USAGE);
    if (o->model && o->synthetic)
        return fail("give MODEL.gguf or --synthetic SHAPE, not both");
    if (o->synthetic) {
        o->quality = 0;
        for (int i = 0; i < o->n_types; i++)
            if (!strcmp(o->types[i], "file"))
                return fail("--types: 'file' means the model as it is; --synthetic has none");
    }
    if (o->n_batch == 0)
        o->n_batch = o->n_prompt < 512 ? o->n_prompt : 512;
    if (o->insn_bin)
        o->n_threads = 1, o->threads[0] = 1;
    return 0;
}

/* ============================================================================
 * What a file holds: shape, sizes, the bytes one token reads
 * ========================================================================== */

typedef struct model_info {
    char arch[32];
    int n_layers, dim, n_heads, n_kv_heads, head_dim, ffn, n_vocab;
    int tied;
    uint32_t main_type;    /* the type holding most of the matrix bytes */
    uint64_t file_bytes;
    uint64_t n_params;     /* elements of every tensor */
    uint64_t tensor_bytes;
    uint64_t layer_weights; /* elements of the matrices inside the layers */
    uint64_t out_weights;   /* elements of the output matrix (the embedding when tied) */
    uint64_t token_weights; /* weights one token multiplies: layers + output */
    uint64_t token_bytes;   /* weight bytes one generated token reads */
} model_info;

static int get_key_int(const latent_gguf *g, const char *arch, const char *suffix, int64_t fallback,
                       int *out)
{
    char key[96];
    int64_t v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (latent_gguf_get_int(g, key, &v) != LATENT_OK) {
        if (fallback < 0)
            return fail("key '%s' is missing", key);
        v = fallback;
    }
    if (v < 0 || v > INT32_MAX)
        return fail("key '%s' is out of range", key);
    *out = (int)v;
    return 0;
}

static int model_info_read(const char *path, model_info *mi)
{
    memset(mi, 0, sizeof *mi);
    latent_gguf *g = NULL;
    latent_status st = latent_gguf_open(path, &g);
    if (st)
        return fail_status(st, path);
    int rc = -1;
    latent_str a;
    if (latent_gguf_get_str(g, "general.architecture", &a) != LATENT_OK || a.len == 0 ||
        a.len >= sizeof mi->arch) {
        fail("%s: no general.architecture", path);
        goto done;
    }
    memcpy(mi->arch, a.ptr, a.len);
    if (get_key_int(g, mi->arch, "block_count", -1, &mi->n_layers) ||
        get_key_int(g, mi->arch, "embedding_length", -1, &mi->dim) ||
        get_key_int(g, mi->arch, "attention.head_count", -1, &mi->n_heads) ||
        get_key_int(g, mi->arch, "attention.head_count_kv", mi->n_heads, &mi->n_kv_heads) ||
        get_key_int(g, mi->arch, "feed_forward_length", -1, &mi->ffn))
        goto done;
    if (mi->n_heads <= 0 || mi->n_kv_heads <= 0) {
        fail("%s: no attention heads", path);
        goto done;
    }
    if (get_key_int(g, mi->arch, "attention.key_length", mi->dim / mi->n_heads, &mi->head_dim))
        goto done;
    mi->file_bytes = latent_gguf_size(g);

    uint64_t layer_bytes = 0, vec_bytes = 0, out_bytes = 0, embd_row = 0, embd_bytes = 0;
    uint64_t embd_elems = 0, bytes_by_type[64] = {0};
    const latent_gguf_tensor *out = latent_gguf_find_tensor(g, "output.weight");
    for (int64_t i = 0; i < latent_gguf_n_tensors(g); i++) {
        const latent_gguf_tensor *t = latent_gguf_tensor_at(g, i);
        mi->n_params += t->n_elements;
        mi->tensor_bytes += t->size;
        if (t->n_dims >= 2 && t->type < 64)
            bytes_by_type[t->type] += t->size;
        if (!strcmp(t->name, "token_embd.weight")) {
            embd_bytes = t->size;
            embd_elems = t->n_elements;
            embd_row = t->ne[1] ? t->size / t->ne[1] : 0;
            mi->n_vocab = (int)t->ne[1];
        } else if (t == out) {
            out_bytes = t->size;
            mi->out_weights = t->n_elements;
        } else if (t->n_dims >= 2 && !strncmp(t->name, "blk.", 4)) {
            layer_bytes += t->size;
            mi->layer_weights += t->n_elements;
        } else {
            vec_bytes += t->size;
        }
    }
    if (!embd_bytes) {
        fail("%s: no tensor 'token_embd.weight'", path);
        goto done;
    }
    mi->tied = out == NULL;
    if (mi->tied) { /* the embedding is read whole, as the output matrix */
        out_bytes = embd_bytes;
        mi->out_weights = embd_elems;
        embd_row = 0;
    }
    mi->token_weights = mi->layer_weights + mi->out_weights;
    mi->token_bytes = layer_bytes + out_bytes + vec_bytes + embd_row;
    uint64_t best = 0;
    for (uint32_t t = 0; t < 64; t++)
        if (bytes_by_type[t] > best)
            best = bytes_by_type[t], mi->main_type = t;
    rc = 0;
done:
    latent_gguf_free(g);
    return rc;
}

/* Bytes of the f16 KV cache one generated token reads, averaged over the generation. */
static double kv_bytes_per_token(const model_info *mi, int n_prompt, int n_gen)
{
    double positions = n_prompt + (n_gen + 1) / 2.0;
    return positions * mi->n_layers * 2.0 * mi->n_kv_heads * mi->head_dim * 2.0;
}

/* Floating-point operations of a prompt of n tokens: every layer's matrices for every
 * token, the output matrix for the last one, and attention over the growing context. */
static double prompt_flops(const model_info *mi, int n)
{
    double q_dim = (double)mi->n_heads * mi->head_dim;
    double attn = 4.0 * q_dim * n * (n + 1) / 2.0 * mi->n_layers;
    return 2.0 * (double)mi->layer_weights * n + 2.0 * (double)mi->out_weights + attn;
}

/* ============================================================================
 * Synthetic models: real shapes, random weights
 * ========================================================================== */

typedef struct shape {
    char name[64];
    char arch[16];
    int n_layers, dim, n_heads, n_kv_heads, head_dim, ffn, n_vocab, tied, llama3_rope;
    int64_t context;
    float rope_base, rms_eps;
} shape;

static const shape SHAPES[] = {
    {"tinyllama-1.1b", "llama", 22, 2048, 32, 4, 64, 5632, 32000, 0, 0, 2048, 10000.0f, 1e-5f},
    {"llama-3.2-1b", "llama", 16, 2048, 32, 8, 64, 8192, 128256, 1, 1, 131072, 500000.0f, 1e-5f},
    {"llama-3.2-3b", "llama", 28, 3072, 24, 8, 128, 8192, 128256, 1, 1, 131072, 500000.0f, 1e-5f},
    {"qwen2.5-0.5b", "qwen2", 24, 896, 14, 2, 64, 4864, 151936, 1, 0, 32768, 1000000.0f, 1e-6f},
};

static int parse_shape(const char *s, shape *out)
{
    for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++)
        if (!strcmp(s, SHAPES[i].name)) {
            *out = SHAPES[i];
            return 0;
        }
    if (!strchr(s, '='))
        return fail("--synthetic: unknown shape '%s' (tinyllama-1.1b llama-3.2-1b llama-3.2-3b "
                    "qwen2.5-0.5b, or layers=L,dim=D,heads=H,kv_heads=K,ffn=F,vocab=V)", s);
    shape sh = {"", "llama", 0, 0, 0, 0, 0, 0, 32000, 0, 0, 4096, 10000.0f, 1e-5f};
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return fail("--synthetic: the shape is too long");
    strcpy(buf, s);
    for (char *kv = strtok(buf, ","); kv; kv = strtok(NULL, ",")) {
        char *eq = strchr(kv, '=');
        if (!eq)
            return fail("--synthetic: '%s' is not key=value", kv);
        *eq = 0;
        const char *k = kv, *v = eq + 1;
        struct { const char *key; int *field; int lo, hi; } ints[] = {
            {"layers", &sh.n_layers, 1, 1024},  {"dim", &sh.dim, 32, 65536},
            {"heads", &sh.n_heads, 1, 1024},    {"kv_heads", &sh.n_kv_heads, 1, 1024},
            {"head_dim", &sh.head_dim, 2, 1024}, {"ffn", &sh.ffn, 32, 1 << 20},
            {"vocab", &sh.n_vocab, 260, 1 << 22}, {"tied", &sh.tied, 0, 1},
        };
        int found = 0;
        for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
            if (!strcmp(k, ints[i].key)) {
                if (parse_int(ints[i].key, v, ints[i].lo, ints[i].hi, ints[i].field))
                    return -1;
                found = 1;
            }
        if (!strcmp(k, "arch")) {
            if (strcmp(v, "llama") && strcmp(v, "qwen2"))
                return fail("--synthetic: arch must be llama or qwen2, not '%s'", v);
            strcpy(sh.arch, v);
            found = 1;
        }
        if (!found)
            return fail("--synthetic: unknown key '%s' (layers dim heads kv_heads head_dim ffn "
                        "vocab tied arch)", k);
    }
    if (!sh.n_layers || !sh.dim || !sh.n_heads || !sh.ffn)
        return fail("--synthetic: layers, dim, heads and ffn are required");
    if (!sh.n_kv_heads)
        sh.n_kv_heads = sh.n_heads;
    if (!sh.head_dim)
        sh.head_dim = sh.dim / sh.n_heads;
    if (sh.n_heads % sh.n_kv_heads || sh.head_dim % 2 || sh.head_dim * sh.n_heads < 2)
        return fail("--synthetic: heads must be a multiple of kv_heads and head_dim even");
    if (sh.dim % 32 || sh.ffn % 32 || (sh.head_dim * sh.n_heads) % 32)
        return fail("--synthetic: dim, ffn and heads x head_dim must be multiples of 32");
    if (!strcmp(sh.arch, "qwen2"))
        sh.rope_base = 1000000.0f;
    snprintf(sh.name, sizeof sh.name, "L%d-D%d-H%d-KV%d-F%d-V%d", sh.n_layers, sh.dim, sh.n_heads,
             sh.n_kv_heads, sh.ffn, sh.n_vocab);
    *out = sh;
    return 0;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A tensor of rows × cols random f16 values, uniform in ±amp, or f32 `fill` if amp == 0. */
typedef struct syn_tensor {
    char name[64];
    uint32_t type;
    uint32_t n_dims;
    uint64_t ne[2];
    void *data;
    uint64_t size;
} syn_tensor;

static int syn_make(syn_tensor *t, const char *name, int n_dims, uint64_t cols, uint64_t rows,
                    float amp, float fill, uint64_t *seed)
{
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = (uint32_t)n_dims;
    t->ne[0] = cols;
    t->ne[1] = rows;
    t->type = amp > 0 ? LATENT_TYPE_F16 : LATENT_TYPE_F32;
    t->size = cols * rows * (amp > 0 ? 2 : 4);
    t->data = malloc(t->size ? t->size : 1);
    if (!t->data)
        return fail("out of memory writing the synthetic model (%s, %.0f MiB)", name,
                    (double)t->size / MIB);
    if (amp == 0) {
        for (uint64_t i = 0; i < cols * rows; i++)
            ((float *)t->data)[i] = fill;
        return 0;
    }
    float row[4096];
    uint64_t s = splitmix(seed);
    for (uint64_t r = 0; r < rows; r++)
        for (uint64_t c0 = 0; c0 < cols; c0 += 4096) {
            uint64_t n = cols - c0 < 4096 ? cols - c0 : 4096;
            for (uint64_t i = 0; i < n; i++) {
                s ^= s << 13, s ^= s >> 7, s ^= s << 17; /* xorshift64 */
                row[i] = amp * ((float)(s >> 40) * (2.0f / 16777216.0f) - 1.0f);
            }
            latent_quantize_row(LATENT_TYPE_F16, row, (uint16_t *)t->data + r * cols + c0,
                                (int64_t)n);
        }
    return 0;
}

/* Writes a GGUF with sh's shape, f16 matrices, f32 norms and a llama-style vocabulary of
 * n_vocab tokens (<unk> <s> </s>, the 256 byte tokens, then fillers). Runs in a child. */
static int write_synthetic(const shape *sh, const char *path)
{
    int q_dim = sh->n_heads * sh->head_dim, kv_dim = sh->n_kv_heads * sh->head_dim;
    int n_t = 4 + sh->n_layers * 12 + 1;
    syn_tensor *ts = calloc((size_t)n_t, sizeof *ts);
    char **tok = calloc((size_t)sh->n_vocab, sizeof *tok);
    char *tok_buf = malloc((size_t)sh->n_vocab * 16);
    float *scores = malloc((size_t)sh->n_vocab * sizeof *scores);
    int32_t *types = malloc((size_t)sh->n_vocab * sizeof *types);
    latent_gguf_writer *w = NULL;
    int rc = -1, n = 0;
    uint64_t seed = 0x5eed;
    latent_status st;
    if (!ts || !tok || !tok_buf || !scores || !types) {
        fail("out of memory writing the synthetic model");
        goto done;
    }
    for (int i = 0; i < sh->n_vocab; i++) {
        char *p = tok_buf + (size_t)i * 16;
        if (i == 0)
            strcpy(p, "<unk>");
        else if (i == 1)
            strcpy(p, "<s>");
        else if (i == 2)
            strcpy(p, "</s>");
        else if (i < 259)
            snprintf(p, 16, "<0x%02X>", i - 3);
        else
            snprintf(p, 16, "\xe2\x96\x81w%d", i); /* "▁w123": a word piece */
        tok[i] = p;
        scores[i] = i < 259 ? 0.0f : -(float)i;
        types[i] = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1;
    }

    /* tensors, in the order llama.cpp's converter writes them */
    float amp_in = sqrtf(3.0f / (float)sh->dim), amp_ffn = sqrtf(3.0f / (float)sh->ffn);
    float amp_o = sqrtf(3.0f / (float)q_dim);
    if (syn_make(&ts[n++], "token_embd.weight", 2, (uint64_t)sh->dim, (uint64_t)sh->n_vocab, 1.0f, 0, &seed))
        goto done;
    if (sh->llama3_rope) { /* llama3 frequency factors: factor 32, low 1, high 4, original 8192 */
        syn_tensor *t = &ts[n++];
        if (syn_make(t, "rope_freqs.weight", 1, (uint64_t)sh->head_dim / 2, 1, 0, 1.0f, &seed))
            goto done;
        for (int i = 0; i < sh->head_dim / 2; i++) {
            double freq = pow(sh->rope_base, -2.0 * i / sh->head_dim), wavelen = 2 * M_PI / freq;
            double f = 1.0;
            if (wavelen > 8192.0 / 1.0)
                f = 32.0;
            else if (wavelen >= 8192.0 / 4.0) {
                double smooth = (8192.0 / wavelen - 1.0) / (4.0 - 1.0);
                f = 1.0 / ((1.0 - smooth) / 32.0 + smooth);
            }
            ((float *)t->data)[i] = (float)f;
        }
    }
    for (int l = 0; l < sh->n_layers; l++) {
        char name[64];
        progress(1, "writing the synthetic %s: layer %d/%d", sh->name, l + 1, sh->n_layers);
#define SYN(suffix, nd, cols, rows, amp, fill)                                                 \
        snprintf(name, sizeof name, "blk.%d." suffix, l);                                      \
        if (syn_make(&ts[n++], name, nd, (uint64_t)(cols), (uint64_t)(rows), amp, fill, &seed)) \
            goto done;
        SYN("attn_norm.weight", 1, sh->dim, 1, 0, 1.0f)
        SYN("attn_q.weight", 2, sh->dim, q_dim, amp_in, 0)
        SYN("attn_k.weight", 2, sh->dim, kv_dim, amp_in, 0)
        SYN("attn_v.weight", 2, sh->dim, kv_dim, amp_in, 0)
        if (!strcmp(sh->arch, "qwen2")) {
            SYN("attn_q.bias", 1, q_dim, 1, 0, 0.0f)
            SYN("attn_k.bias", 1, kv_dim, 1, 0, 0.0f)
            SYN("attn_v.bias", 1, kv_dim, 1, 0, 0.0f)
        }
        SYN("attn_output.weight", 2, q_dim, sh->dim, amp_o, 0)
        SYN("ffn_norm.weight", 1, sh->dim, 1, 0, 1.0f)
        SYN("ffn_gate.weight", 2, sh->dim, sh->ffn, amp_in, 0)
        SYN("ffn_up.weight", 2, sh->dim, sh->ffn, amp_in, 0)
        SYN("ffn_down.weight", 2, sh->ffn, sh->dim, amp_ffn, 0)
#undef SYN
    }
    if (syn_make(&ts[n++], "output_norm.weight", 1, (uint64_t)sh->dim, 1, 0, 1.0f, &seed))
        goto done;
    if (!sh->tied && syn_make(&ts[n++], "output.weight", 2, (uint64_t)sh->dim, (uint64_t)sh->n_vocab,
                              amp_in, 0, &seed))
        goto done;

    /* metadata */
    if ((st = latent_gguf_writer_create(&w))) {
        fail_status(st, "creating the synthetic model");
        goto done;
    }
    const char *arch = sh->arch;
    char key[96], gname[96];
    uint32_t u;
    float f;
    uint32_t file_type = 1; /* mostly f16 */
    snprintf(gname, sizeof gname, "synthetic %s", sh->name);
    st = latent_gguf_writer_add_str(w, "general.architecture", arch, strlen(arch));
    if (!st)
        st = latent_gguf_writer_add_str(w, "general.name", gname, strlen(gname));
    if (!st)
        st = latent_gguf_writer_add(w, "general.file_type", LATENT_GGUF_UINT32, &file_type);
#define KEY_U32(suffix, value)                                                                  \
    if (!st) {                                                                                  \
        snprintf(key, sizeof key, "%s." suffix, arch);                                          \
        u = (uint32_t)(value);                                                                  \
        st = latent_gguf_writer_add(w, key, LATENT_GGUF_UINT32, &u);                            \
    }
#define KEY_F32(suffix, value)                                                                  \
    if (!st) {                                                                                  \
        snprintf(key, sizeof key, "%s." suffix, arch);                                          \
        f = (value);                                                                            \
        st = latent_gguf_writer_add(w, key, LATENT_GGUF_FLOAT32, &f);                           \
    }
    KEY_U32("context_length", sh->context)
    KEY_U32("embedding_length", sh->dim)
    KEY_U32("block_count", sh->n_layers)
    KEY_U32("feed_forward_length", sh->ffn)
    KEY_U32("attention.head_count", sh->n_heads)
    KEY_U32("attention.head_count_kv", sh->n_kv_heads)
    KEY_U32("rope.dimension_count", sh->head_dim)
    KEY_U32("vocab_size", sh->n_vocab)
    if (sh->head_dim != sh->dim / sh->n_heads) {
        KEY_U32("attention.key_length", sh->head_dim)
        KEY_U32("attention.value_length", sh->head_dim)
    }
    KEY_F32("rope.freq_base", sh->rope_base)
    KEY_F32("attention.layer_norm_rms_epsilon", sh->rms_eps)
#undef KEY_U32
#undef KEY_F32
    uint32_t ids[3] = {1, 2, 0};
    if (!st)
        st = latent_gguf_writer_add_str(w, "tokenizer.ggml.model", "llama", 5);
    if (!st)
        st = latent_gguf_writer_add_str_array(w, "tokenizer.ggml.tokens", (const char *const *)tok,
                                              NULL, (uint64_t)sh->n_vocab);
    if (!st)
        st = latent_gguf_writer_add_array(w, "tokenizer.ggml.scores", LATENT_GGUF_FLOAT32, scores,
                                          (uint64_t)sh->n_vocab);
    if (!st)
        st = latent_gguf_writer_add_array(w, "tokenizer.ggml.token_type", LATENT_GGUF_INT32, types,
                                          (uint64_t)sh->n_vocab);
    if (!st)
        st = latent_gguf_writer_add(w, "tokenizer.ggml.bos_token_id", LATENT_GGUF_UINT32, &ids[0]);
    if (!st)
        st = latent_gguf_writer_add(w, "tokenizer.ggml.eos_token_id", LATENT_GGUF_UINT32, &ids[1]);
    if (!st)
        st = latent_gguf_writer_add(w, "tokenizer.ggml.unknown_token_id", LATENT_GGUF_UINT32, &ids[2]);
    for (int i = 0; i < n && !st; i++)
        st = latent_gguf_writer_add_tensor(w, ts[i].name, ts[i].type, ts[i].n_dims, ts[i].ne,
                                           ts[i].data, ts[i].size);
    progress(1, "writing the synthetic %s to %s", sh->name, path);
    if (!st)
        st = latent_gguf_writer_write(w, path);
    if (st) {
        fail_status(st, "writing the synthetic model");
        goto done;
    }
    rc = 0;
done:
    latent_gguf_writer_free(w);
    for (int i = 0; ts && i < n_t; i++)
        free(ts[i].data);
    free(ts);
    free(tok);
    free(tok_buf);
    free(scores);
    free(types);
    return rc;
}

/* ============================================================================
 * Memory read bandwidth: what one pass over the weights can cost at best
 *
 * T threads each stream their slice of a buffer (as the matrix products split rows), with
 * wide integer adds into independent accumulators so the loads are the only limit. The
 * best of several trials is the machine's figure. The buffer is as large as what one
 * token reads (at most 256 MiB, far past any cache): a model that fits in a cache is
 * measured against that cache.
 * ========================================================================== */

typedef uint64_t v4u64 __attribute__((vector_size(32)));

typedef struct bw_barrier {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int count, n, phase;
} bw_barrier;

static void barrier_wait(bw_barrier *b)
{
    pthread_mutex_lock(&b->mu);
    int phase = b->phase;
    if (++b->count == b->n) {
        b->count = 0;
        b->phase++;
        pthread_cond_broadcast(&b->cv);
    } else {
        while (phase == b->phase)
            pthread_cond_wait(&b->cv, &b->mu);
    }
    pthread_mutex_unlock(&b->mu);
}

typedef struct bw_job {
    const v4u64 *p;
    size_t n; /* vectors */
    int passes;
    bw_barrier *bar;
    uint64_t sink;
} bw_job;

/* One pass over n vectors. The empty asm with a memory clobber tells the compiler the
 * buffer may have changed, so repeated passes are not folded into one. */
static uint64_t read_pass(const v4u64 *p, size_t n)
{
    __asm__ __volatile__("" ::: "memory");
    v4u64 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        a0 += p[i];
        a1 += p[i + 1];
        a2 += p[i + 2];
        a3 += p[i + 3];
    }
    for (; i < n; i++)
        a0 += p[i];
    v4u64 s = a0 + a1 + a2 + a3;
    return s[0] + s[1] + s[2] + s[3];
}

static void *bw_worker(void *arg)
{
    bw_job *j = arg;
    barrier_wait(j->bar);
    uint64_t s = 0;
    for (int k = 0; k < j->passes; k++)
        s += read_pass(j->p, j->n);
    j->sink = s;
    barrier_wait(j->bar);
    return NULL;
}

/* Read bandwidth in bytes/s over `bytes` with `threads` threads; 0 after a message. */
static double measure_bandwidth(size_t bytes, int threads)
{
    if (threads > 64)
        threads = 64;
    size_t n_vec = bytes / sizeof(v4u64), step = 4 * (size_t)threads;
    n_vec = (n_vec + step - 1) / step * step;
    size_t size = n_vec * sizeof(v4u64);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        fail("bandwidth probe: cannot map %.0f MiB", (double)size / MIB);
        return 0;
    }
    v4u64 *v = mem;
    for (size_t i = 0; i < n_vec; i++) {
        v4u64 x = {i, i + 1, i + 2, i + 3};
        v[i] = x;
    }
    bw_barrier bar = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, threads, 0};
    bw_job jobs[64];
    pthread_t tid[64];
    size_t per = n_vec / (size_t)threads;
    /* each trial reads at least 512 MiB, and the buffer at least twice */
    int passes = (int)((512.0 * MIB + (double)size - 1) / (double)size);
    if (passes < 2)
        passes = 2;
    double best = 0;
    volatile uint64_t sink = 0;
    for (int trial = 0; trial < 6; trial++) { /* the first only warms up */
        for (int t = 0; t < threads; t++) {
            jobs[t] = (bw_job){v + (size_t)t * per, per, trial == 0 ? 1 : passes, &bar, 0};
            /* the threads wait for the others at the barrier: one missing would hang them */
            if (t > 0 && pthread_create(&tid[t], NULL, bw_worker, &jobs[t]) != 0) {
                fail("bandwidth probe: cannot start %d threads", threads);
                exit(1);
            }
        }
        barrier_wait(&bar);
        double t0 = now();
        uint64_t s = 0;
        for (int k = 0; k < jobs[0].passes; k++)
            s += read_pass(jobs[0].p, jobs[0].n);
        barrier_wait(&bar);
        double dt = now() - t0;
        for (int t = 1; t < threads; t++) {
            pthread_join(tid[t], NULL);
            s += jobs[t].sink;
        }
        sink += s;
        if (trial > 0 && dt > 0) {
            double bw = (double)per * sizeof(v4u64) * threads * jobs[0].passes / dt;
            best = bw > best ? bw : best;
        }
    }
    (void)sink;
    munmap(mem, size);
    return best;
}

/* The buffer measured for a model that reads `token_bytes` per token. */
static size_t bandwidth_buffer(double token_bytes)
{
    double b = token_bytes;
    if (b > 256 * MIB)
        b = 256 * MIB;
    if (b < 64 * 1024)
        b = 64 * 1024;
    return ((size_t)b + 4095) / 4096 * 4096;
}

typedef struct bw_entry {
    size_t bytes;
    int threads;
    double bw;
} bw_entry;

static bw_entry g_bw[MAX_ROWS * MAX_THREADS];
static int g_n_bw;

static double bandwidth(size_t bytes, int threads)
{
    for (int i = 0; i < g_n_bw; i++)
        if (g_bw[i].bytes == bytes && g_bw[i].threads == threads)
            return g_bw[i].bw;
    progress(0, "measuring read bandwidth over %.1f MiB with %d thread%s", (double)bytes / MIB,
             threads, threads > 1 ? "s" : "");
    double bw = measure_bandwidth(bytes, threads);
    if (g_n_bw < (int)(sizeof g_bw / sizeof g_bw[0]))
        g_bw[g_n_bw++] = (bw_entry){bytes, threads, bw};
    return bw;
}

/* ============================================================================
 * Rows: one file each (the input, or a quantization of it), measured in a child
 * ========================================================================== */

typedef struct thread_run {
    int threads;
    stat3 pp, tg;       /* tokens per second */
    double bw;          /* measured read bandwidth, bytes/s (parent) */
    double ceiling;     /* tokens/s if every byte were read at that bandwidth */
} thread_run;

typedef struct measured {
    stat3 load_ms;
    double peak_rss;
    double kv_bytes, scratch_bytes;
    thread_run runs[MAX_THREADS];
    int has_quality;
    double ppl, kl, top1;
    long n_scored;
    double insn_per_token; /* --insn */
    double insn_n1, insn_n2;
} measured;

typedef struct row {
    char label[32];   /* what the table calls it */
    char preset[16];  /* the preset quantized to; "" for a file measured as it is */
    char path[PATH_MAX];
    int is_ref;       /* the highest-precision file: the others are compared with it */
    int temporary;    /* ours to delete */
    double quant_s;   /* seconds to quantize */
    model_info info;
    measured m;
} row;

/* Runs fn in a child process; its `out` (size bytes) comes back through a pipe. Returns 0
 * when the child succeeded; the child prints its own reason when it fails. */
typedef int (*child_fn)(void *arg, void *out);

static int run_child(const char *what, child_fn fn, void *arg, void *out, size_t size)
{
    int fds[2];
    if (pipe(fds) != 0)
        return fail("%s: pipe: %s", what, strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return fail("%s: fork: %s", what, strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        int rc = fn(arg, out);
        if (rc == 0) {
            const char *p = out;
            size_t left = size;
            while (left > 0) {
                ssize_t k = write(fds[1], p, left);
                if (k <= 0) {
                    rc = -1;
                    break;
                }
                p += k;
                left -= (size_t)k;
            }
        }
        clear_progress();
        fflush(stderr);
        _exit(rc == 0 ? 0 : 1);
    }
    close(fds[1]);
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fds[0], (char *)out + got, size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status))
        return fail("%s: the child process died of signal %d", what, WTERMSIG(status));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1; /* it said why */
    if (got != size)
        return fail("%s: the child process sent %zu of %zu bytes", what, got, size);
    return 0;
}

/* ---- quantizing, in a child: the library holds the whole output until it writes ---- */

typedef struct quant_job {
    const char *in, *out, *preset;
} quant_job;

static void quant_progress(const char *tensor, int64_t i, int64_t n, uint32_t from, uint32_t to,
                           void *user)
{
    const quant_job *j = user;
    (void)from;
    progress(1, "quantizing to %s: %lld/%lld %s (%s)", j->preset, (long long)i + 1, (long long)n,
             tensor, latent_type_name(to));
}

static int quant_child(void *arg, void *out)
{
    quant_job *j = arg;
    (void)out;
    latent_quantize_params qp = latent_quantize_default_params();
    qp.progress = quant_progress;
    qp.user = j;
    latent_status st = latent_quantize_file(j->in, j->out, j->preset, &qp);
    if (st)
        return fail_status(st, "quantizing");
    return 0;
}

typedef struct synth_job {
    const shape *sh;
    const char *path;
} synth_job;

static int synth_child(void *arg, void *out)
{
    synth_job *j = arg;
    (void)out;
    return write_synthetic(j->sh, j->path);
}

/* ---- measuring one file, in a child ---- */

typedef struct measure_job {
    const options *o;
    const row *r;
    const char *text; /* the perplexity text, or NULL */
    size_t text_len;
    const char *ref_path; /* the reference log-probabilities */
    int write_ref;        /* this is the reference: write them */
} measure_job;

static latent_token argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* Tokens of `text`, BOS first when the vocabulary has one; NULL after a message. */
static latent_token *tokenize_text(const latent_model *m, const char *text, size_t len, size_t *n)
{
    size_t need = 0;
    latent_status st = latent_tokenize(m, text, len, LATENT_TOKENIZE_ADD_BOS, NULL, 0, &need);
    if (st != LATENT_OK && st != LATENT_ERANGE) {
        fail_status(st, "tokenizing the text");
        return NULL;
    }
    latent_token *t = malloc((need ? need : 1) * sizeof *t);
    if (!t) {
        fail("out of memory tokenizing the text");
        return NULL;
    }
    st = latent_tokenize(m, text, len, LATENT_TOKENIZE_ADD_BOS, t, need, n);
    if (st) {
        free(t);
        fail_status(st, "tokenizing the text");
        return NULL;
    }
    return t;
}

/* The windows the text is scored in: each starts with BOS (when there is one) followed
 * by the next ppl_ctx - 1 tokens of the text; every prediction inside is scored. */
typedef struct ppl_plan {
    const latent_token *body; /* the text without its BOS */
    size_t n_body;
    latent_token bos;         /* -1 if none */
    int win;                  /* body tokens per window */
    size_t n_windows;
    long n_scored;
} ppl_plan;

static void plan_perplexity(const options *o, const latent_token *toks, size_t n,
                            latent_token bos, long max_scored, ppl_plan *p)
{
    memset(p, 0, sizeof *p);
    p->bos = bos;
    p->body = toks;
    p->n_body = n;
    if (bos >= 0 && n > 0 && toks[0] == bos)
        p->body++, p->n_body--;
    p->win = bos >= 0 ? o->ppl_ctx - 1 : o->ppl_ctx;
    if (o->ppl_tokens > 0 && (size_t)o->ppl_tokens < p->n_body)
        p->n_body = (size_t)o->ppl_tokens;
    for (size_t start = 0; start < p->n_body; start += (size_t)p->win) {
        size_t len = p->n_body - start < (size_t)p->win ? p->n_body - start : (size_t)p->win;
        long scored = (long)len - (bos >= 0 ? 0 : 1); /* predictions of body tokens */
        if (scored < 1 || (max_scored > 0 && p->n_scored + scored > max_scored))
            break;
        p->n_windows++;
        p->n_scored += scored;
    }
}

#define REF_MAX_BYTES (1024.0 * MIB)

/* Perplexity, and against the reference (or written as it) the KL divergence and top-1. */
static int measure_quality(const measure_job *j, latent_model *m, measured *res)
{
    const options *o = j->o;
    size_t n_tok = 0;
    latent_token *toks = tokenize_text(m, j->text, j->text_len, &n_tok);
    if (!toks)
        return -1;
    int n_vocab = latent_n_vocab(m);
    /* the reference file holds n_vocab floats per scored token: at most REF_MAX_BYTES */
    ppl_plan pl;
    long max_scored = j->ref_path ? (long)(REF_MAX_BYTES / ((double)n_vocab * sizeof(float))) : 0;
    plan_perplexity(o, toks, n_tok, latent_token_bos(m), max_scored, &pl);
    if (pl.n_scored < 1) {
        free(toks);
        return fail("the text is too short to score (%zu tokens)", n_tok);
    }
    latent_context_params cp = latent_context_default_params();
    cp.n_threads = o->threads[o->n_threads - 1];
    cp.n_batch = o->ppl_ctx < 512 ? o->ppl_ctx : 512;
    cp.all_logits = 1;
    latent_context *ctx = NULL;
    latent_status st = latent_context_create(m, &cp, &ctx);
    if (st) {
        free(toks);
        return fail_status(st, "creating the perplexity context");
    }
    /* the reference's log-probabilities: n_scored rows of n_vocab floats */
    size_t ref_bytes = (size_t)pl.n_scored * (size_t)n_vocab * sizeof(float);
    float *ref = NULL;
    FILE *ref_out = NULL;
    int rc = -1;
    if (j->ref_path && j->write_ref) {
        ref_out = fopen(j->ref_path, "wb");
        if (!ref_out) {
            fail("%s: %s", j->ref_path, strerror(errno));
            goto done;
        }
    } else if (j->ref_path) {
        int fd = open(j->ref_path, O_RDONLY);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) != 0 || (size_t)sb.st_size != ref_bytes) {
            if (fd >= 0)
                close(fd);
            fail("%s: the reference log-probabilities are missing or of another size", j->ref_path);
            goto done;
        }
        ref = mmap(NULL, ref_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (ref == MAP_FAILED) {
            ref = NULL;
            fail("%s: cannot map it", j->ref_path);
            goto done;
        }
    }
    float *lp = malloc((size_t)n_vocab * sizeof *lp);
    latent_token *buf = malloc(((size_t)o->ppl_ctx + 1) * sizeof *buf);
    if (!lp || !buf) {
        free(lp);
        free(buf);
        fail("out of memory scoring the text");
        goto done;
    }
    double nll = 0, kl = 0;
    long agree = 0, k = 0;
    size_t w = 0;
    for (size_t start = 0; w < pl.n_windows; start += (size_t)pl.win, w++) {
        size_t len = pl.n_body - start < (size_t)pl.win ? pl.n_body - start : (size_t)pl.win;
        size_t nb = 0;
        if (pl.bos >= 0)
            buf[nb++] = pl.bos;
        memcpy(buf + nb, pl.body + start, len * sizeof *buf);
        nb += len;
        progress(1, "%s: perplexity window %zu/%zu", j->r->label, w + 1, pl.n_windows);
        latent_context_reset(ctx);
        if ((st = latent_eval(ctx, buf, nb))) {
            free(lp);
            free(buf);
            fail_status(st, "scoring the text");
            goto done;
        }
        for (size_t i = 0; i + 1 < nb; i++, k++) {
            const float *logits = latent_context_logits_at(ctx, i);
            double mx = logits[0], sum = 0;
            for (int v = 1; v < n_vocab; v++)
                mx = logits[v] > mx ? logits[v] : mx;
            for (int v = 0; v < n_vocab; v++)
                sum += exp(logits[v] - mx);
            double lz = mx + log(sum);
            for (int v = 0; v < n_vocab; v++)
                lp[v] = (float)(logits[v] - lz);
            nll -= lp[buf[i + 1]];
            if (ref_out && fwrite(lp, sizeof *lp, (size_t)n_vocab, ref_out) != (size_t)n_vocab) {
                free(lp);
                free(buf);
                fail("%s: write failed", j->ref_path);
                goto done;
            }
            if (ref) {
                const float *rp = ref + (size_t)k * (size_t)n_vocab;
                double d = 0;
                for (int v = 0; v < n_vocab; v++)
                    d += exp((double)rp[v]) * ((double)rp[v] - (double)lp[v]);
                kl += d;
                agree += argmax(rp, n_vocab) == argmax(lp, n_vocab);
            }
        }
    }
    free(lp);
    free(buf);
    res->has_quality = 1;
    res->n_scored = k;
    res->ppl = exp(nll / (double)k);
    res->kl = ref ? kl / (double)k : ref_out ? 0.0 : NAN;
    res->top1 = ref ? (double)agree / (double)k : ref_out ? 1.0 : NAN;
    rc = 0;
done:
    if (ref_out && fclose(ref_out) != 0 && rc == 0)
        rc = fail("%s: write failed", j->ref_path);
    if (ref)
        munmap(ref, ref_bytes);
    latent_context_free(ctx);
    free(toks);
    return rc;
}

static int measure_child(void *arg, void *out)
{
    const measure_job *j = arg;
    const options *o = j->o;
    measured *res = out;
    memset(res, 0, sizeof *res);
    double samples[MAX_REPS], pp[MAX_REPS], tg[MAX_REPS];

    /* load: each repetition maps and checks the file afresh (its pages stay cached) */
    latent_model *m = NULL;
    for (int r = 0; r < o->reps; r++) {
        progress(1, "%s: loading (%d/%d)", j->r->label, r + 1, o->reps);
        latent_model_free(m);
        m = NULL;
        double t0 = now();
        latent_status st = latent_model_load(j->r->path, NULL, &m);
        samples[r] = (now() - t0) * 1e3;
        if (st)
            return fail_status(st, j->r->label);
    }
    res->load_ms = summarize(samples, o->reps);

    /* the prompt: the text's first tokens, or random ones */
    int n_vocab = latent_n_vocab(m);
    latent_token *prompt = malloc((size_t)o->n_prompt * sizeof *prompt);
    if (!prompt) {
        latent_model_free(m);
        return fail("out of memory");
    }
    size_t n_text = 0;
    latent_token *text_toks = j->text ? tokenize_text(m, j->text, j->text_len, &n_text) : NULL;
    uint64_t seed = 42;
    for (int i = 0; i < o->n_prompt; i++)
        prompt[i] = n_text > 1 ? text_toks[(size_t)i % n_text]
                               : (latent_token)(3 + splitmix(&seed) % (uint64_t)(n_vocab - 3));
    free(text_toks);

    int rc = -1;
    latent_context *ctx = NULL;
    for (int ti = 0; ti < o->n_threads; ti++) {
        thread_run *run = &res->runs[ti];
        run->threads = o->threads[ti];
        latent_context_params cp = latent_context_default_params();
        cp.n_threads = o->threads[ti];
        cp.n_batch = o->n_batch;
        latent_status st = latent_context_create(m, &cp, &ctx);
        if (st) {
            fail_status(st, "creating a context");
            goto done;
        }
        /* a warm-up token: the first touch of the weights and thread start-up are not
         * what a running program pays */
        if ((st = latent_eval(ctx, prompt, 1))) {
            fail_status(st, "evaluating");
            goto done;
        }
        for (int r = 0; r < o->reps; r++) {
            progress(1, "%s: %d thread%s, repetition %d/%d", j->r->label, run->threads,
                     run->threads > 1 ? "s" : "", r + 1, o->reps);
            latent_context_reset(ctx);
            double t0 = now();
            if ((st = latent_eval(ctx, prompt, (size_t)o->n_prompt))) {
                fail_status(st, "evaluating the prompt");
                goto done;
            }
            double t1 = now();
            for (int g = 0; g < o->n_gen; g++) {
                latent_token next = argmax(latent_context_logits(ctx), n_vocab);
                if ((st = latent_eval(ctx, &next, 1))) {
                    fail_status(st, "generating");
                    goto done;
                }
            }
            double t2 = now();
            pp[r] = o->n_prompt / (t1 - t0);
            tg[r] = o->n_gen / (t2 - t1);
        }
        run->pp = summarize(pp, o->reps);
        run->tg = summarize(tg, o->reps);
        latent_mem_stats ms;
        latent_context_mem_stats(ctx, &ms);
        res->kv_bytes = (double)ms.kv_peak_bytes;
        res->scratch_bytes = (double)ms.scratch_bytes;
        latent_context_free(ctx);
        ctx = NULL;
    }
    /* peak memory of loading and running, before the perplexity pass's logits */
    res->peak_rss = peak_rss();
    if (j->text && o->quality && measure_quality(j, m, res))
        goto done;
    rc = 0;
done:
    latent_context_free(ctx);
    free(prompt);
    latent_model_free(m);
    return rc;
}

/* ============================================================================
 * Instructions per token on a Cortex-A72 (qemu + insncount)
 * ========================================================================== */

/* What qemu runs: load, a prompt (one token unless -p), -n generated tokens, on one
 * thread unless -t. Also what `perf record` is pointed at (bench/README.md). */
static int insn_run(const options *o)
{
    latent_model *m = NULL;
    latent_status st = latent_model_load(o->insn_run, NULL, &m);
    if (st)
        return fail_status(st, o->insn_run);
    latent_context_params cp = latent_context_default_params();
    cp.n_threads = o->threads[0];
    cp.n_batch = o->n_batch;
    latent_context *ctx = NULL;
    if ((st = latent_context_create(m, &cp, &ctx))) {
        latent_model_free(m);
        return fail_status(st, "creating a context");
    }
    int n_vocab = latent_n_vocab(m), rc = 0;
    latent_token *prompt = malloc((size_t)o->n_prompt * sizeof *prompt);
    if (!prompt)
        rc = fail("out of memory");
    uint64_t seed = 42;
    for (int i = 0; !rc && i < o->n_prompt; i++) /* BOS, then random tokens */
        prompt[i] = i == 0 && latent_token_bos(m) >= 0
                        ? latent_token_bos(m)
                        : (latent_token)(3 + splitmix(&seed) % (uint64_t)(n_vocab - 3));
    if (!rc && (st = latent_eval(ctx, prompt, (size_t)o->n_prompt)))
        rc = fail_status(st, "evaluating the prompt");
    for (int i = 0; i < o->n_gen && !rc; i++) {
        latent_token t = argmax(latent_context_logits(ctx), n_vocab);
        if ((st = latent_eval(ctx, &t, 1)))
            rc = fail_status(st, "evaluating");
    }
    free(prompt);
    printf("generated %d tokens\n", o->n_gen);
    latent_context_free(ctx);
    latent_model_free(m);
    return rc;
}

/* Runs the aarch64 bench under qemu with the plugin; the guest instruction count. */
static double count_instructions(const options *o, const char *model, int n_tokens)
{
    char *argv[40];
    int argc = 0;
    char qemu[256], ntok[16];
    if (strlen(o->qemu) >= sizeof qemu) {
        fail("--qemu: the command is too long");
        return -1;
    }
    strcpy(qemu, o->qemu);
    for (char *tok = strtok(qemu, " "); tok && argc < 30; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    snprintf(ntok, sizeof ntok, "%d", n_tokens);
    char *rest[] = {"-plugin", (char *)o->plugin, "-d", "plugin", (char *)o->insn_bin,
                    "--insn-run", (char *)model, "-n", ntok, NULL};
    for (int i = 0; rest[i]; i++)
        argv[argc++] = rest[i];
    argv[argc] = NULL;

    int fds[2];
    if (pipe(fds) != 0) {
        fail("pipe: %s", strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fail("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], 2);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 1);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "bench: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    char buf[8192];
    size_t len = 0;
    ssize_t k;
    while ((k = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0 || (k < 0 && errno == EINTR))
        if (k > 0) {
            len += (size_t)k;
            if (len == sizeof buf - 1) { /* keep the tail: the count is printed last */
                memmove(buf, buf + len / 2, len - len / 2);
                len -= len / 2;
            }
        }
    buf[len] = 0;
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const char *hit = NULL;
    for (const char *p = strstr(buf, "insncount: "); p; p = strstr(p + 1, "insncount: "))
        if (isdigit((unsigned char)p[11]))
            hit = p;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !hit) {
        /* show what it said: the last lines are the reason */
        const char *tail = len > 600 ? buf + len - 600 : buf;
        fail("%s under qemu failed (status %d)%s%s", o->insn_bin,
             WIFEXITED(status) ? WEXITSTATUS(status) : -1, *tail ? ":\n" : "", tail);
        return -1;
    }
    return strtod(hit + 11, NULL);
}

/* llama.cpp's counts on the same shapes (../shared/tools/README.md, measured 2026-11-22,
 * commit c392e509, -mcpu=cortex-a72, one thread, no dotprod). */
typedef struct insn_ref {
    const char *shape, *preset;
    double insn;
} insn_ref;

static const insn_ref INSN_REFS[] = {
    {"tinyllama-1.1b", "q4_0", 985.9e6},  {"tinyllama-1.1b", "q4_k_m", 954.6e6},
    {"tinyllama-1.1b", "q8_0", 878.4e6},  {"llama-3.2-1b", "q4_0", 1202.5e6},
    {"stories260K", "f32", 1.335e6},
};

static double insn_reference(const char *shape_name, const row *r)
{
    const char *preset = r->preset[0] ? r->preset : latent_type_name(r->info.main_type);
    for (size_t i = 0; i < sizeof INSN_REFS / sizeof INSN_REFS[0]; i++)
        if (!strcmp(shape_name, INSN_REFS[i].shape) && preset && !strcmp(preset, INSN_REFS[i].preset))
            return INSN_REFS[i].insn;
    return 0;
}

/* ============================================================================
 * Output: table, markdown, CSV, JSON, SVG
 * ========================================================================== */

typedef struct context_info {
    char model[128];  /* file name or shape */
    char shape[128];  /* layers, dim, ... */
    char cpu[128];
    char date[64];
    char machine[64];
    int cores;
    double load; /* the 1-minute load average when the bench started (-1: unknown) */
} context_info;

static void fmt_num(char *buf, size_t cap, double x)
{
    if (!isfinite(x))
        snprintf(buf, cap, "-");
    else if (fabs(x) >= 100)
        snprintf(buf, cap, "%.0f", x);
    else if (fabs(x) >= 10)
        snprintf(buf, cap, "%.1f", x);
    else
        snprintf(buf, cap, "%.2f", x);
}

static void fmt_stat(char *buf, size_t cap, stat3 s)
{
    char a[20], b[20], c[20];
    fmt_num(a, sizeof a, s.med);
    fmt_num(b, sizeof b, s.min);
    fmt_num(c, sizeof c, s.max);
    snprintf(buf, cap, "%s (%s..%s)", a, b, c);
}

static double pct_of_ceiling(const thread_run *t)
{
    return t->ceiling > 0 ? 100.0 * t->tg.med / t->ceiling : NAN;
}

static double gflops(const options *o, const row *r, const thread_run *t)
{
    return prompt_flops(&r->info, o->n_prompt) * t->pp.med / o->n_prompt / 1e9;
}

#define N_COLS 15
#define CELL 64

static void print_table(const options *o, const context_info *ci, row *rows, int n_rows, int md)
{
    static const char *head[N_COLS] = {"type", "MiB", "bpw", "load ms", "RSS MiB", "thr",
                                       "prompt tok/s", "GFLOP/s", "gen tok/s", "GB/s",
                                       "ceiling", "% ceil", "PPL", "KL", "top-1"};
    static const int left[N_COLS] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    int quality = 0;
    for (int i = 0; i < n_rows; i++)
        quality |= rows[i].m.has_quality;
    int n_cols = quality ? N_COLS : N_COLS - 3;
    int n_lines = 0;
    for (int i = 0; i < n_rows; i++)
        n_lines += o->n_threads;
    char (*cell)[N_COLS][CELL] = calloc((size_t)n_lines + 1, sizeof *cell);
    if (!cell)
        return;
    for (int c = 0; c < n_cols; c++)
        snprintf(cell[0][c], CELL, "%s", head[c]);
    int line = 1;
    for (int i = 0; i < n_rows; i++) {
        const row *r = &rows[i];
        for (int ti = 0; ti < o->n_threads; ti++, line++) {
            const thread_run *t = &r->m.runs[ti];
            char (*c)[CELL] = cell[line];
            if (ti == 0) {
                copy_str(c[0], CELL - 3, r->label);
                if (r->is_ref && quality)
                    strcat(c[0], " *");
                fmt_num(c[1], CELL, (double)r->info.file_bytes / MIB);
                fmt_num(c[2], CELL, 8.0 * (double)r->info.tensor_bytes / (double)r->info.n_params);
                fmt_num(c[3], CELL, r->m.load_ms.med);
                fmt_num(c[4], CELL, r->m.peak_rss / MIB);
                if (quality && r->m.has_quality) {
                    snprintf(c[12], CELL, "%.4f", r->m.ppl);
                    if (r->is_ref)
                        snprintf(c[13], CELL, "ref"), snprintf(c[14], CELL, "ref");
                    else
                        snprintf(c[13], CELL, "%.5f", r->m.kl),
                            snprintf(c[14], CELL, "%.1f%%", 100 * r->m.top1);
                }
            }
            snprintf(c[5], CELL, "%d", t->threads);
            fmt_stat(c[6], CELL, t->pp);
            fmt_num(c[7], CELL, gflops(o, r, t));
            fmt_stat(c[8], CELL, t->tg);
            double bpt = (double)r->info.token_bytes + kv_bytes_per_token(&r->info, o->n_prompt, o->n_gen);
            fmt_num(c[9], CELL, t->tg.med * bpt / 1e9);
            fmt_num(c[10], CELL, t->ceiling);
            fmt_num(c[11], CELL, pct_of_ceiling(t));
        }
    }
    int width[N_COLS] = {0};
    for (int l = 0; l < n_lines + 1; l++)
        for (int c = 0; c < n_cols; c++) {
            int w = (int)strlen(cell[l][c]);
            width[c] = w > width[c] ? w : width[c];
        }
    if (md) {
        for (int l = 0; l < n_lines + 1; l++) {
            for (int c = 0; c < n_cols; c++)
                printf("| %s ", cell[l][c]);
            printf("|\n");
            if (l == 0) {
                for (int c = 0; c < n_cols; c++)
                    printf("|%s", left[c] ? "---" : "---:");
                printf("|\n");
            }
        }
    } else {
        for (int l = 0; l < n_lines + 1; l++) {
            for (int c = 0; c < n_cols; c++)
                printf(left[c] ? "%-*s" : "%*s", width[c] + (c ? 2 : 0), cell[l][c]);
            printf("\n");
        }
    }
    free(cell);
    (void)ci;
}

static void print_header(const options *o, const context_info *ci, const row *rows, int n_rows,
                         int md)
{
    const char *p = md ? "" : "# ";
    printf("%s%s: %s\n", p, ci->model, ci->shape);
    printf("%s%s, %d cores, %s kernels, %s", p, ci->cpu, ci->cores, BENCH_ISA, ci->date);
    if (ci->load >= 0)
        printf(", load average %.2f at the start", ci->load);
    printf("\n");
    printf("%sprompt %d tokens (batch %d), %d generated, %d repetitions: median (min..max)\n", p,
           o->n_prompt, o->n_batch, o->n_gen, o->reps);
    /* the bandwidth over the largest buffer, per thread count; smaller models are held
     * to the bandwidth over their own size (in --json and --csv) */
    size_t big = 0;
    for (int i = 0; i < g_n_bw; i++)
        big = g_bw[i].bytes > big ? g_bw[i].bytes : big;
    printf("%sread bandwidth measured here over %.0f MiB:", p, (double)big / MIB);
    int k = 0;
    for (int i = 0; i < g_n_bw; i++)
        if (g_bw[i].bytes == big)
            printf("%s %.1f GB/s with %d thread%s", k++ ? "," : "", g_bw[i].bw / 1e9,
                   g_bw[i].threads, g_bw[i].threads > 1 ? "s" : "");
    printf("%s\n", big < 256 * MIB ? " (a model this small is measured against the cache it fits in)" : "");
    int quality = 0;
    for (int i = 0; i < n_rows; i++)
        quality |= rows[i].m.has_quality;
    printf("%sceiling = that bandwidth / bytes one generated token reads (weights + KV); "
           "GB/s = what generation reached\n", p);
    if (quality)
        printf("%sPPL on %s, %ld tokens in windows of %d; KL and top-1 against %s (*)\n", p,
               o->text, rows[0].m.n_scored, o->ppl_ctx, rows[0].label);
    if (md)
        printf("\n");
}

static void print_csv(const options *o, const context_info *ci, row *rows, int n_rows)
{
    printf("model,type,main_type,file_bytes,params,bpw,load_ms_med,load_ms_min,load_ms_max,"
           "peak_rss_bytes,threads,prompt_tokens,pp_tps_med,pp_tps_min,pp_tps_max,pp_gflops,"
           "gen_tokens,tg_tps_med,tg_tps_min,tg_tps_max,bytes_per_token,bandwidth_gbs,"
           "ceiling_tps,ceiling_pct,ppl,kl,top1,scored_tokens,quantize_s\n");
    for (int i = 0; i < n_rows; i++) {
        const row *r = &rows[i];
        for (int ti = 0; ti < o->n_threads; ti++) {
            const thread_run *t = &r->m.runs[ti];
            double bpt = (double)r->info.token_bytes + kv_bytes_per_token(&r->info, o->n_prompt, o->n_gen);
            printf("%s,%s,%s,%llu,%llu,%.4f,%.3f,%.3f,%.3f,%.0f,%d,%d,%.3f,%.3f,%.3f,%.3f,%d,%.3f,"
                   "%.3f,%.3f,%.0f,%.3f,%.3f,%.2f,",
                   ci->model, r->label, latent_type_name(r->info.main_type),
                   (unsigned long long)r->info.file_bytes, (unsigned long long)r->info.n_params,
                   8.0 * (double)r->info.tensor_bytes / (double)r->info.n_params, r->m.load_ms.med,
                   r->m.load_ms.min, r->m.load_ms.max, r->m.peak_rss, t->threads, o->n_prompt,
                   t->pp.med, t->pp.min, t->pp.max, gflops(o, r, t), o->n_gen, t->tg.med, t->tg.min,
                   t->tg.max, bpt, t->bw / 1e9, t->ceiling, pct_of_ceiling(t));
            if (r->m.has_quality)
                printf("%.6f,%.6f,%.6f,%ld,", r->m.ppl, r->m.kl, r->m.top1, r->m.n_scored);
            else
                printf(",,,,");
            printf("%.3f\n", r->quant_s);
        }
    }
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, "%.6g", x);
    else
        fputs("null", f);
}

static void json_stat(FILE *f, const char *key, stat3 s)
{
    fprintf(f, "\"%s\": {\"median\": ", key);
    json_num(f, s.med);
    fputs(", \"min\": ", f);
    json_num(f, s.min);
    fputs(", \"max\": ", f);
    json_num(f, s.max);
    fputs("}", f);
}

static void print_json(const options *o, const context_info *ci, row *rows, int n_rows)
{
    FILE *f = stdout;
    fputs("{\n  \"model\": ", f);
    json_str(f, ci->model);
    fputs(",\n  \"shape\": ", f);
    json_str(f, ci->shape);
    fputs(",\n  \"machine\": {\"cpu\": ", f);
    json_str(f, ci->cpu);
    fprintf(f, ", \"arch\": ");
    json_str(f, ci->machine);
    fprintf(f, ", \"cores\": %d, \"kernels\": \"%s\", \"load_average\": ", ci->cores, BENCH_ISA);
    json_num(f, ci->load);
    fputs(", \"date\": ", f);
    json_str(f, ci->date);
    fprintf(f, "},\n  \"settings\": {\"prompt_tokens\": %d, \"batch\": %d, \"gen_tokens\": %d, "
               "\"repetitions\": %d, \"ppl_ctx\": %d},\n",
            o->n_prompt, o->n_batch, o->n_gen, o->reps, o->ppl_ctx);
    fputs("  \"bandwidth\": [", f);
    for (int i = 0; i < g_n_bw; i++)
        fprintf(f, "%s{\"threads\": %d, \"buffer_bytes\": %zu, \"bytes_per_s\": %.6g}", i ? ", " : "",
                g_bw[i].threads, g_bw[i].bytes, g_bw[i].bw);
    fputs("],\n  \"results\": [\n", f);
    for (int i = 0; i < n_rows; i++) {
        const row *r = &rows[i];
        fputs("    {\"type\": ", f);
        json_str(f, r->label);
        fputs(", \"main_type\": ", f);
        json_str(f, latent_type_name(r->info.main_type));
        fprintf(f, ", \"reference\": %s, \"file_bytes\": %llu, \"params\": %llu, \"bpw\": %.4f, "
                   "\"weights_per_token\": %llu, \"weight_bytes_per_token\": %llu, \"quantize_s\": %.3f, ",
                r->is_ref ? "true" : "false", (unsigned long long)r->info.file_bytes,
                (unsigned long long)r->info.n_params,
                8.0 * (double)r->info.tensor_bytes / (double)r->info.n_params,
                (unsigned long long)r->info.token_weights, (unsigned long long)r->info.token_bytes,
                r->quant_s);
        json_stat(f, "load_ms", r->m.load_ms);
        fprintf(f, ", \"peak_rss_bytes\": %.0f, \"kv_bytes\": %.0f, \"scratch_bytes\": %.0f",
                r->m.peak_rss, r->m.kv_bytes, r->m.scratch_bytes);
        if (r->m.has_quality) {
            fputs(", \"ppl\": ", f);
            json_num(f, r->m.ppl);
            fputs(", \"kl\": ", f);
            json_num(f, r->m.kl);
            fputs(", \"top1\": ", f);
            json_num(f, r->m.top1);
            fprintf(f, ", \"scored_tokens\": %ld", r->m.n_scored);
        }
        fputs(",\n     \"runs\": [", f);
        for (int ti = 0; ti < o->n_threads; ti++) {
            const thread_run *t = &r->m.runs[ti];
            fprintf(f, "%s\n       {\"threads\": %d, ", ti ? "," : "", t->threads);
            json_stat(f, "prompt_tps", t->pp);
            fprintf(f, ", \"prompt_gflops\": %.4g, ", gflops(o, r, t));
            json_stat(f, "gen_tps", t->tg);
            fprintf(f, ", \"bandwidth_bytes_per_s\": %.6g, \"ceiling_tps\": %.6g, \"ceiling_pct\": ",
                    t->bw, t->ceiling);
            json_num(f, pct_of_ceiling(t));
            fputs("}", f);
        }
        fprintf(f, "]}%s\n", i + 1 < n_rows ? "," : "");
    }
    fputs("  ]\n}\n", f);
}

static void svg_text(FILE *f, double x, double y, const char *anchor, int size, const char *fill,
                     const char *s)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\" fill=\"%s\">", x, y,
            anchor, size, fill);
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else
            fputc(*s, f);
    }
    fputs("</text>\n", f);
}

/* "Nice" tick step for a range. */
static double tick_step(double range)
{
    double raw = range / 5, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/* The thread count the chart shows: the one with the fastest generation over all types. */
static int best_thread_index(const options *o, const row *rows, int n_rows)
{
    int best = 0;
    double best_sum = -1;
    for (int ti = 0; ti < o->n_threads; ti++) {
        double sum = 0;
        for (int i = 0; i < n_rows; i++)
            sum += rows[i].m.runs[ti].tg.med;
        if (sum > best_sum)
            best_sum = sum, best = ti;
    }
    return best;
}

typedef struct svg_box {
    double x0, y0, x1, y1;
} svg_box;

static int boxes_overlap(const svg_box *a, const svg_box *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

static int write_svg(const options *o, const context_info *ci, row *rows, int n_rows)
{
    FILE *f = fopen(o->svg, "w");
    if (!f)
        return fail("%s: %s", o->svg, strerror(errno));
    const int W = 800, H = 480, L = 70, R = 210, T = 60, B = 56;
    const double pw = W - L - R, ph = H - T - B;
    int ti = best_thread_index(o, rows, n_rows);
    double xmax = 0, ymeas = 0, yceil = 0;
    for (int i = 0; i < n_rows; i++) {
        double x = (double)rows[i].info.file_bytes / MIB;
        const thread_run *t = &rows[i].m.runs[ti];
        xmax = x > xmax ? x : xmax;
        ymeas = t->tg.max > ymeas ? t->tg.max : ymeas;
        yceil = t->ceiling > yceil ? t->ceiling : yceil;
    }
    /* ceilings far above every measurement (a model that fits in a cache) would flatten
     * the points: they are then marked at the top edge with their value */
    double ymax = yceil <= 2.5 * ymeas ? yceil * 1.1 : ymeas * 1.35;
    xmax *= 1.12;
    if (!(xmax > 0) || !(ymax > 0))
        xmax = ymax = 1;
#define SX(x) (L + (x) / xmax * pw)
#define SY(y) (T + ph - ((y) < ymax ? (y) : ymax) / ymax * ph)
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n", W, H, W, H);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    char buf[256];
    snprintf(buf, sizeof buf, "%.100s: generation speed against file size, %d thread%s", ci->model,
             o->threads[ti], o->threads[ti] > 1 ? "s" : "");
    svg_text(f, L, 24, "start", 15, "#111", buf);
    snprintf(buf, sizeof buf, "%.100s, %s kernels, %s", ci->cpu, BENCH_ISA, ci->date);
    svg_text(f, L, 42, "start", 11, "#555", buf);
    /* grid, ticks, frame, axis titles */
    double xs = tick_step(xmax), ys = tick_step(ymax);
    for (double x = 0; x <= xmax + 1e-9; x += xs) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", SX(x), T,
                SX(x), T + ph);
        fmt_num(buf, sizeof buf, x);
        svg_text(f, SX(x), T + ph + 16, "middle", 11, "#333", buf);
    }
    for (double y = 0; y <= ymax + 1e-9; y += ys) {
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", L, SY(y),
                L + pw, SY(y));
        fmt_num(buf, sizeof buf, y);
        svg_text(f, L - 6, SY(y) + 4, "end", 11, "#333", buf);
    }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>\n",
            L, T, pw, ph);
    svg_text(f, L + pw / 2, H - 16, "middle", 12, "#111", "file size (MiB)");
    fprintf(f, "<text x=\"18\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" fill=\"#111\" "
               "transform=\"rotate(-90 18 %.1f)\">generated tokens/s</text>\n", T + ph / 2, T + ph / 2);

    /* markers: the ceiling (hollow), the measured median with a bar from min to max; the
     * labels below keep clear of them */
    svg_box obstacles[2 * MAX_ROWS];
    double shown_x[MAX_ROWS];
    int n_shown = 0;
    for (int i = 0; i < n_rows; i++) {
        const thread_run *t = &rows[i].m.runs[ti];
        double x = SX((double)rows[i].info.file_bytes / MIB);
        if (t->ceiling > 0) {
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9ab\" "
                       "stroke-dasharray=\"3,3\"/>\n", x, SY(t->tg.med), x, SY(t->ceiling));
            if (t->ceiling <= ymax) {
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"none\" stroke=\"#57a\"/>\n",
                        x, SY(t->ceiling));
            } else { /* off the chart: an arrow head at the top and the value */
                fprintf(f, "<path d=\"M%.1f %d l-5 8 h10 z\" fill=\"#57a\"/>\n", x, T + 1);
                fmt_num(buf, sizeof buf, t->ceiling);
                for (int k = 0; k < n_shown; k++)
                    if (fabs(x - shown_x[k]) < 11)
                        buf[0] = 0; /* too close to another value to be read */
                if (buf[0])
                    shown_x[n_shown++] = x;
                fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"9\" fill=\"#57a\" "
                           "transform=\"rotate(-90 %.1f %d)\">%s</text>\n", x + 3, T + 50, x + 3, T + 50, buf);
            }
        }
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#c33\" "
                   "stroke-width=\"2\"/>\n", x, SY(t->tg.min), x, SY(t->tg.max));
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"#c33\"/>\n", x, SY(t->tg.med));
        obstacles[2 * i] = (svg_box){x - 6, SY(t->tg.med) - 6, x + 6, SY(t->tg.med) + 6};
        obstacles[2 * i + 1] = (svg_box){x - 2, SY(t->tg.max) - 1, x + 2, SY(t->tg.min) + 1};
    }
    /* labels: beside each point, moved up or down until they overlap no other label, with
     * a thin line back to the point when moved */
    svg_box placed[MAX_ROWS];
    int n_placed = 0;
    for (int i = 0; i < n_rows; i++) {
        const row *r = &rows[i];
        const thread_run *t = &r->m.runs[ti];
        char q[112];
        if (r->m.has_quality && r->is_ref)
            snprintf(q, sizeof q, "%.31s: PPL %.3f (reference)", r->label, r->m.ppl);
        else if (r->m.has_quality)
            snprintf(q, sizeof q, "%.31s: PPL %.3f, KL %.4f", r->label, r->m.ppl, r->m.kl);
        else
            snprintf(q, sizeof q, "%.31s: %.0f%% of ceiling", r->label, pct_of_ceiling(t));
        double px = SX((double)r->info.file_bytes / MIB), py = SY(t->tg.med);
        double w = 6.1 * (double)strlen(q), h = 13;
        int right = px + 8 + w <= L + pw;
        svg_box b = {0, 0, 0, 0};
        for (int k = 0; k < 40; k++) {
            double dy = (k % 2 ? 1 : -1) * 14.0 * ((k + 1) / 2);
            double y = py - 4 + dy;
            if (y - h < T || y > T + ph - 2)
                continue;
            b = (svg_box){right ? px + 8 : px - 8 - w, y - h + 2, right ? px + 8 + w : px - 8, y + 3};
            int clash = 0;
            for (int p = 0; p < n_placed && !clash; p++)
                clash = boxes_overlap(&b, &placed[p]);
            for (int p = 0; p < 2 * n_rows && !clash; p++)
                clash = p / 2 != i && boxes_overlap(&b, &obstacles[p]);
            if (!clash)
                break;
        }
        placed[n_placed++] = b;
        double ty = b.y1 - 3;
        if (fabs(ty - (py + 4)) > 8)
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#bbb\"/>\n", px, py,
                    right ? b.x0 - 1 : b.x1 + 1, ty - 4);
        svg_text(f, right ? b.x0 : b.x1, ty, right ? "start" : "end", 11, "#222", q);
    }
    /* legend */
    double lx = L + pw + 18;
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%d\" r=\"4.5\" fill=\"#c33\"/>\n", lx, T + 10);
    svg_text(f, lx + 10, T + 14, "start", 11, "#222", "measured: the median,");
    svg_text(f, lx + 10, T + 28, "start", 11, "#222", "bar from min to max");
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%d\" r=\"5\" fill=\"none\" stroke=\"#57a\"/>\n", lx, T + 50);
    svg_text(f, lx + 10, T + 54, "start", 11, "#222", "ceiling: read bandwidth");
    svg_text(f, lx + 10, T + 68, "start", 11, "#222", "measured here / bytes");
    svg_text(f, lx + 10, T + 82, "start", 11, "#222", "one token reads");
    snprintf(buf, sizeof buf, "prompt %d, generated %d,", o->n_prompt, o->n_gen);
    svg_text(f, lx, T + 110, "start", 11, "#555", buf);
    snprintf(buf, sizeof buf, "%d repetitions", o->reps);
    svg_text(f, lx, T + 124, "start", 11, "#555", buf);
    if (rows[0].m.has_quality) {
        svg_text(f, lx, T + 148, "start", 11, "#555", "PPL: perplexity on the text;");
        svg_text(f, lx, T + 162, "start", 11, "#555", "KL: mean KL divergence from");
        svg_text(f, lx, T + 176, "start", 11, "#555", "the reference, per token");
    }
    fputs("</svg>\n", f);
#undef SX
#undef SY
    if (fclose(f) != 0)
        return fail("%s: write failed", o->svg);
    return 0;
}

static void print_insn(const options *o, const context_info *ci, const char *shape_name, row *rows,
                       int n_rows)
{
    int md = o->format == OUT_MD;
    if (o->format == OUT_CSV) {
        printf("model,type,file_bytes,weights_per_token,weight_bytes_per_token,insn_n1,insn_n2,"
               "insn_per_token,insn_per_weight,insn_per_weight_byte,reference_insn,ratio\n");
        for (int i = 0; i < n_rows; i++) {
            const row *r = &rows[i];
            double ref = insn_reference(shape_name, r);
            printf("%s,%s,%llu,%llu,%llu,%.0f,%.0f,%.0f,%.4f,%.4f,%.0f,%.4f\n", ci->model, r->label,
                   (unsigned long long)r->info.file_bytes, (unsigned long long)r->info.token_weights,
                   (unsigned long long)r->info.token_bytes, r->m.insn_n1, r->m.insn_n2,
                   r->m.insn_per_token, r->m.insn_per_token / (double)r->info.token_weights,
                   r->m.insn_per_token / (double)r->info.token_bytes, ref,
                   ref > 0 ? r->m.insn_per_token / ref : NAN);
        }
        return;
    }
    if (o->format == OUT_JSON) {
        printf("{\n  \"model\": ");
        json_str(stdout, ci->model);
        printf(",\n  \"cpu\": \"cortex-a72 (qemu-aarch64, instructions counted)\", \"date\": ");
        json_str(stdout, ci->date);
        printf(",\n  \"tokens\": [%d, %d],\n  \"results\": [\n", o->insn_n1, o->insn_n2);
        for (int i = 0; i < n_rows; i++) {
            const row *r = &rows[i];
            double ref = insn_reference(shape_name, r);
            printf("    {\"type\": ");
            json_str(stdout, r->label);
            printf(", \"weights_per_token\": %llu, \"weight_bytes_per_token\": %llu, "
                   "\"insn_per_token\": %.0f, \"insn_per_weight\": %.4f, \"insn_per_weight_byte\": %.4f, "
                   "\"reference_insn\": ",
                   (unsigned long long)r->info.token_weights, (unsigned long long)r->info.token_bytes,
                   r->m.insn_per_token, r->m.insn_per_token / (double)r->info.token_weights,
                   r->m.insn_per_token / (double)r->info.token_bytes);
            json_num(stdout, ref > 0 ? ref : NAN);
            printf("}%s\n", i + 1 < n_rows ? "," : "");
        }
        printf("  ]\n}\n");
        return;
    }
    const char *p = md ? "" : "# ";
    printf("%s%s: %s\n", p, ci->model, ci->shape);
    printf("%sCortex-A72 instructions per generated token (qemu-aarch64 -cpu cortex-a72 + insncount, "
           "one thread): (count(%d) - count(%d)) / %d, %s\n", p, o->insn_n2, o->insn_n1,
           o->insn_n2 - o->insn_n1, ci->date);
    printf("%sreference: llama.cpp c392e509 on the same shape (../shared/tools/README.md); target <= 0.8x\n",
           p);
    if (md)
        printf("\n| type | MiB | insn/token | per weight | per weight byte | llama.cpp | ratio | target |\n"
               "|---|---:|---:|---:|---:|---:|---:|---|\n");
    else
        printf("%-10s %8s %14s %11s %16s %12s %7s  %s\n", "type", "MiB", "insn/token", "per weight",
               "per weight byte", "llama.cpp", "ratio", "target");
    for (int i = 0; i < n_rows; i++) {
        const row *r = &rows[i];
        double ref = insn_reference(shape_name, r);
        char refs[32] = "-", ratio[32] = "-", target[32] = "-";
        if (ref > 0) {
            snprintf(refs, sizeof refs, ref < 1e7 ? "%.3f M" : "%.1f M", ref / 1e6);
            snprintf(ratio, sizeof ratio, "%.3f", r->m.insn_per_token / ref);
            snprintf(target, sizeof target, "%s", r->m.insn_per_token <= 0.8 * ref ? "met" : "not met");
        }
        char ipt[32];
        snprintf(ipt, sizeof ipt, r->m.insn_per_token < 1e7 ? "%.3f M" : "%.1f M",
                 r->m.insn_per_token / 1e6);
        if (md)
            printf("| %s | %.1f | %s | %.3f | %.3f | %s | %s | %s |\n", r->label,
                   (double)r->info.file_bytes / MIB, ipt,
                   r->m.insn_per_token / (double)r->info.token_weights,
                   r->m.insn_per_token / (double)r->info.token_bytes, refs, ratio, target);
        else
            printf("%-10s %8.1f %14s %11.3f %16.3f %12s %7s  %s\n", r->label,
                   (double)r->info.file_bytes / MIB, ipt,
                   r->m.insn_per_token / (double)r->info.token_weights,
                   r->m.insn_per_token / (double)r->info.token_bytes, refs, ratio, target);
    }
}

/* ============================================================================
 * The machine
 * ========================================================================== */

static void describe_machine(context_info *ci)
{
    struct utsname u;
    copy_str(ci->machine, sizeof ci->machine, uname(&u) == 0 ? u.machine : "unknown");
    copy_str(ci->cpu, sizeof ci->cpu, ci->machine);
    ci->cores = n_cores();
    FILE *f = fopen("/proc/device-tree/model", "r"); /* "Raspberry Pi 4 Model B Rev 1.4" */
    char line[256];
    if (f) {
        if (fgets(line, sizeof line, f))
            copy_str(ci->cpu, sizeof ci->cpu, line);
        fclose(f);
    } else if ((f = fopen("/proc/cpuinfo", "r"))) {
        unsigned part = 0;
        while (fgets(line, sizeof line, f)) {
            char *colon = strchr(line, ':');
            if (!colon)
                continue;
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            if (!strncmp(line, "model name", 10)) {
                copy_str(ci->cpu, sizeof ci->cpu, v);
                break;
            }
            if (!strncmp(line, "CPU part", 8) && !part)
                part = (unsigned)strtoul(v, NULL, 0);
        }
        fclose(f);
        if (part == 0xd08)
            snprintf(ci->cpu, sizeof ci->cpu, "Cortex-A72");
        else if (part == 0xd03)
            snprintf(ci->cpu, sizeof ci->cpu, "Cortex-A53");
        else if (part == 0xd0b)
            snprintf(ci->cpu, sizeof ci->cpu, "Cortex-A76");
    }
    for (char *c = ci->cpu; *c; c++)
        if (*c == '\n' || *c == ',' || *c == '"' || (unsigned char)*c < 0x20)
            *c = *c == ',' ? ';' : 0;
    double la[1];
    ci->load = getloadavg(la, 1) == 1 ? la[0] : -1;
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ci->date, sizeof ci->date, "%Y-%m-%d %H:%M UTC", &tm);
}

/* ============================================================================
 * Temporary files: removed at the end, and on Ctrl-C
 * ========================================================================== */

static char g_tmp[MAX_ROWS + 4][PATH_MAX];
static int g_n_tmp;
static char g_tmpdir[PATH_MAX];
static int g_own_dir;

static void cleanup(void)
{
    if (getpid() != g_parent)
        return;
    for (int i = 0; i < g_n_tmp; i++)
        if (g_tmp[i][0]) {
            unlink(g_tmp[i]);
            g_tmp[i][0] = 0;
        }
    if (g_own_dir && g_tmpdir[0])
        rmdir(g_tmpdir);
}

static void on_signal(int sig)
{
    cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static const char *track(const char *path, int keep)
{
    if (keep || g_n_tmp == (int)(sizeof g_tmp / sizeof g_tmp[0]))
        return path;
    snprintf(g_tmp[g_n_tmp++], PATH_MAX, "%s", path);
    return path;
}

static void untrack_remove(const char *path)
{
    for (int i = 0; i < g_n_tmp; i++)
        if (!strcmp(g_tmp[i], path)) {
            unlink(g_tmp[i]);
            g_tmp[i][0] = 0;
        }
}

/* ============================================================================
 * main
 * ========================================================================== */

static char *read_text(const options *o, const char *argv0, size_t *len)
{
    const char *path = o->text;
    char alt[PATH_MAX];
    FILE *f = fopen(path, "rb");
    if (!f && !o->text_given) { /* next to the program: build/bench -> bench/data/ */
        const char *slash = strrchr(argv0, '/');
        int dir = slash ? (int)(slash - argv0) : 1;
        snprintf(alt, sizeof alt, "%.*s/../bench/data/stories.txt", dir, slash ? argv0 : ".");
        f = fopen(alt, "rb");
    }
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *g = realloc(buf, cap * 2);
        if (!g) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = g;
        cap *= 2;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* With --dir and --keep, a file an earlier run kept is used again: the synthetic weights
 * are the same on every run, and so is their quantization (unless the quantizer changed). */
static int reuse(const options *o, const char *path)
{
    struct stat sb;
    return o->dir && o->keep && stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0;
}

static int is_float_type(uint32_t t)
{
    return t == LATENT_TYPE_F32 || t == LATENT_TYPE_F16 || t == LATENT_TYPE_BF16;
}

static int bench_main(int argc, char **argv)
{
    options o;
    if (parse_args(argc, argv, &o))
        return 1;
    if (o.insn_run)
        return insn_run(&o) ? 1 : 0;

    context_info ci;
    memset(&ci, 0, sizeof ci);
    describe_machine(&ci);
    shape sh;
    if (o.synthetic && parse_shape(o.synthetic, &sh))
        return 1;
    if (o.insn_bin) {
        if (access(o.insn_bin, R_OK) != 0)
            return fail("--insn: %s: %s", o.insn_bin, strerror(errno)), 1;
        if (access(o.plugin, R_OK) != 0)
            return fail("--plugin: %s: %s (build it: gcc -O2 -shared -fPIC -o %s "
                        "../shared/tools/insncount.c)", o.plugin, strerror(errno), o.plugin), 1;
    }
    if (o.svg && o.insn_bin)
        return fail("--svg charts speed; --insn counts instructions: one or the other"), 1;

    /* the directory for the files */
    if (o.dir) {
        if (mkdir(o.dir, 0777) != 0 && errno != EEXIST)
            return fail("--dir %s: %s", o.dir, strerror(errno)), 1;
        snprintf(g_tmpdir, sizeof g_tmpdir, "%s", o.dir);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(g_tmpdir, sizeof g_tmpdir, "%s/latent-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(g_tmpdir))
            return fail("cannot create a temporary directory %s: %s", g_tmpdir, strerror(errno)), 1;
        g_own_dir = !o.keep;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    atexit(cleanup);

    /* the source: the model given, or a synthetic one written now */
    char source[PATH_MAX];
    model_info src;
    if (o.synthetic) {
        char name[96];
        snprintf(name, sizeof name, "%s.f16.gguf", sh.name);
        if (path_join(source, sizeof source, g_tmpdir, name))
            return 1;
        snprintf(ci.model, sizeof ci.model, "%s (synthetic)", sh.name);
        if (reuse(&o, source)) {
            progress(0, "reusing %s (kept by an earlier --keep)", source);
        } else {
            progress(0, "writing a synthetic %s with random f16 weights", sh.name);
            double t0 = now();
            synth_job sj = {&sh, track(source, o.keep)};
            char dummy;
            if (run_child("writing the synthetic model", synth_child, &sj, &dummy, 0))
                return 1;
            progress(0, "wrote %s in %.1f s", source, now() - t0);
        }
    } else {
        struct stat sb;
        if (stat(o.model, &sb) != 0)
            return fail("%s: %s", o.model, strerror(errno)), 1;
        if (!S_ISREG(sb.st_mode))
            return fail("%s: not a regular file", o.model), 1;
        snprintf(source, sizeof source, "%s", o.model);
        const char *base = strrchr(o.model, '/');
        snprintf(ci.model, sizeof ci.model, "%s", base ? base + 1 : o.model);
    }
    if (model_info_read(source, &src))
        return 1;
    /* the model's short name: the shape, or "stories260K" for stories260K.gguf */
    char stem[128];
    copy_str(stem, sizeof stem, o.synthetic ? sh.name : ci.model);
    size_t sl = strlen(stem);
    if (sl > 5 && !strcmp(stem + sl - 5, ".gguf"))
        stem[sl - 5] = 0;
    const char *shape_name = stem;
    snprintf(ci.shape, sizeof ci.shape, "%s, %d layers, dim %d, %d/%d heads, ffn %d, vocab %d, "
             "%.1f M weights", src.arch, src.n_layers, src.dim, src.n_heads, src.n_kv_heads, src.ffn,
             src.n_vocab, (double)src.n_params / 1e6);
    const char *src_type = latent_type_name(src.main_type);
    if (!o.synthetic && !is_float_type(src.main_type)) {
        int only_file = o.types_given;
        for (int i = 0; i < o.n_types; i++)
            only_file &= !strcmp(o.types[i], "file");
        if (!only_file)
            return fail("%s is %s, not a high-precision model (f32, f16, bf16): quantizing it again "
                        "would measure two roundings; pass --types file to measure it as it is",
                        o.model, src_type ? src_type : "of an unknown type"), 1;
    }

    /* the perplexity text */
    char *text = NULL;
    size_t text_len = 0;
    if (o.model && !o.insn_bin) { /* the prompt comes from it too */
        text = read_text(&o, argv[0], &text_len);
        if (!text && o.text_given)
            return fail("--text %s: %s", o.text, strerror(errno)), 1;
        if (!text && o.quality)
            progress(0, "no text at %s: skipping perplexity, KL and top-1 (--text FILE)", o.text);
    }

    /* the rows: the input first when it is the reference, then each type */
    static row rows[MAX_ROWS];
    int n_rows = 0;
    if (o.model) {
        int listed = 0;
        for (int i = 0; i < o.n_types; i++)
            listed |= !strcmp(o.types[i], "file");
        if (listed || is_float_type(src.main_type)) {
            row *r = &rows[n_rows++];
            snprintf(r->label, sizeof r->label, "%s", src_type ? src_type : "file");
            snprintf(r->path, sizeof r->path, "%s", source);
            r->is_ref = 1;
        }
    }
    for (int i = 0; i < o.n_types; i++) {
        const char *t = o.types[i];
        if (!strcmp(t, "file"))
            continue;
        if (o.model && src_type && !strcmp(t, src_type) && is_float_type(src.main_type))
            continue; /* the input itself, already the reference */
        row *r = &rows[n_rows++];
        snprintf(r->label, sizeof r->label, "%s", t);
        snprintf(r->preset, sizeof r->preset, "%s", t);
        if (o.synthetic && !strcmp(t, "f16")) { /* the source is that file */
            snprintf(r->path, sizeof r->path, "%s", source);
            r->preset[0] = 0;
            continue;
        }
        char name[200]; /* "tinyllama-1.1b.q4_0.gguf": kept files of two models never mix */
        snprintf(name, sizeof name, "%.120s.%.20s.gguf", stem, t);
        if (path_join(r->path, sizeof r->path, g_tmpdir, name))
            return 1;
        r->temporary = 1;
    }
    if (n_rows == 0)
        return fail("nothing to measure"), 1;

    /* measure each row: quantize, read its sizes, probe the bandwidth, run it in a child */
    char ref_path[PATH_MAX];
    if (path_join(ref_path, sizeof ref_path, g_tmpdir, "reference.logprobs"))
        return 1;
    int have_ref = 0;
    for (int i = 0; i < n_rows; i++) {
        row *r = &rows[i];
        if (r->temporary && reuse(&o, r->path)) {
            progress(0, "reusing %s (kept by an earlier --keep)", r->path);
        } else if (r->temporary) {
            progress(0, "quantizing to %s (%d/%d)", r->preset, i + 1, n_rows);
            double t0 = now();
            quant_job qj = {source, track(r->path, o.keep), r->preset};
            char dummy;
            if (run_child(r->label, quant_child, &qj, &dummy, 0))
                return 1;
            r->quant_s = now() - t0;
        }
        if (model_info_read(r->path, &r->info))
            return 1;
        const char *mt = latent_type_name(r->info.main_type);
        size_t k = mt ? strlen(mt) : 0;
        if (r->preset[0] && mt && (strncasecmp(r->preset, mt, k) || (r->preset[k] && r->preset[k] != '_'))) {
            /* rows not whole blocks of the preset's type: it fell back, as llama.cpp does */
            char lbl[sizeof r->label];
            snprintf(lbl, sizeof lbl, "%.12s (%.8s)", r->preset, mt);
            copy_str(r->label, sizeof r->label, lbl);
        }
        if (o.insn_bin) {
            double c[2];
            int n[2] = {o.insn_n1, o.insn_n2};
            for (int k = 0; k < 2; k++) {
                progress(0, "%s: counting Cortex-A72 instructions for %d generated tokens under qemu",
                         r->label, n[k]);
                if ((c[k] = count_instructions(&o, r->path, n[k])) < 0)
                    return 1;
            }
            r->m.insn_n1 = c[0];
            r->m.insn_n2 = c[1];
            r->m.insn_per_token = (c[1] - c[0]) / (n[1] - n[0]);
        } else {
            double bpt = (double)r->info.token_bytes + kv_bytes_per_token(&r->info, o.n_prompt, o.n_gen);
            for (int ti = 0; ti < o.n_threads; ti++) {
                double bw = bandwidth(bandwidth_buffer(bpt), o.threads[ti]);
                if (bw <= 0)
                    return 1;
            }
            progress(0, "measuring %s (%d/%d)", r->label, i + 1, n_rows);
            /* the reference writes its log-probabilities for the others to compare with */
            int compare = text && o.quality && n_rows > 1;
            measure_job mj = {&o, r, text, text_len, compare ? ref_path : NULL, 0};
            if (compare && r->is_ref)
                mj.write_ref = 1, have_ref = 1, track(ref_path, 0);
            if (!have_ref) /* no reference row: perplexity only */
                mj.ref_path = NULL;
            if (run_child(r->label, measure_child, &mj, &r->m, sizeof r->m))
                return 1;
            for (int ti = 0; ti < o.n_threads; ti++) {
                thread_run *t = &r->m.runs[ti];
                t->bw = bandwidth(bandwidth_buffer(bpt), t->threads);
                t->ceiling = t->bw / bpt;
            }
        }
        if (r->temporary && !o.keep)
            untrack_remove(r->path);
    }
    clear_progress();

    if (o.insn_bin) {
        print_insn(&o, &ci, shape_name, rows, n_rows);
    } else {
        switch (o.format) {
        case OUT_CSV: print_csv(&o, &ci, rows, n_rows); break;
        case OUT_JSON: print_json(&o, &ci, rows, n_rows); break;
        default:
            print_header(&o, &ci, rows, n_rows, o.format == OUT_MD);
            print_table(&o, &ci, rows, n_rows, o.format == OUT_MD);
            break;
        }
        if (o.svg && write_svg(&o, &ci, rows, n_rows))
            return 1;
    }
    if (o.keep)
        fprintf(stderr, "bench: the files are in %s\n", g_tmpdir);
    free(text);
    fflush(stdout);
    if (ferror(stdout))
        return fail("writing the results failed"), 1;
    return 0;
}

int main(int argc, char **argv)
{
    g_tty = isatty(2);
    g_parent = getpid();
    latent_set_log(log_line, NULL, LATENT_LOG_WARN);
    return bench_main(argc, argv);
}
