/*
 * bench.h — what the parts of build/bench share: errors and progress on stderr, time,
 * statistics, the options, what a file holds, and what was measured. Header-only, like
 * the other headers here: the bench is one program (bench.c) in a few readable files.
 */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

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

#include "latent_gguf.h"

/* The instruction set the library's kernels were compiled for: the same test as
 * kernels/kernels.h makes, on the same flags. */
#if defined(__AVX2__) && defined(__FMA__) && !defined(LATENT_FORCE_SCALAR)
#define BENCH_ISA "avx2"
#elif defined(__ARM_NEON) && (defined(__aarch64__) || (__ARM_ARCH >= 8 && defined(__ARM_FEATURE_FMA))) && \
    !defined(LATENT_FORCE_SCALAR)
#define BENCH_ISA "neon"
#else
#define BENCH_ISA "scalar"
#endif

#define MAX_ROWS 24
#define MAX_THREADS 16
#define MAX_REPS 64
#define MIB (1024.0 * 1024.0)

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

/* One "Key:  1234 kB" line of /proc/self/status, in bytes; -1 without one (not Linux). */
static double proc_status_bytes(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    double v = -1;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':') {
            v = strtod(line + n + 1, NULL) * 1024.0;
            break;
        }
    fclose(f);
    return v;
}

/* The most memory a measurement took, without the bandwidth probes made in the same
 * process around each repetition. getrusage's peak cannot leave a probe's buffer out (up
 * to 256 MiB, resident while it is read), so the meter keeps its own peak: Linux's
 * high-water mark (VmHWM) is read before each probe and, once the probe has unmapped its
 * buffer, reset to the resident set of that moment (5 into /proc/self/clear_refs). Where
 * the mark cannot be reset, the current resident set (VmRSS) is read at the same points:
 * what stays between calls (model, KV cache, scratch), without what a call frees before
 * it returns. What a probe leaves resident (the pages of its code and of its threads'
 * stacks: about 0.2 MiB, which a 3 MiB model would show) is the resident set's growth
 * across it, and is taken out too. Without /proc there is only getrusage's peak, and it
 * counts the probes. */
typedef struct rss_meter {
    double peak;   /* bytes */
    double before; /* the resident set when the running probe started; -1: unknown */
    double left;   /* bytes the probes left resident */
    int resets;    /* the high-water mark can be reset */
} rss_meter;

static int reset_peak_rss(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd < 0)
        return 0;
    int ok = write(fd, "5", 1) == 1;
    close(fd);
    return ok;
}

static void rss_start(rss_meter *m)
{
    m->peak = 0;
    m->before = -1;
    m->left = 0;
    m->resets = reset_peak_rss();
}

/* When the figure is wanted (and before each probe). */
static void rss_note(rss_meter *m)
{
    double x = proc_status_bytes(m->resets ? "VmHWM" : "VmRSS");
    x = x < 0 ? peak_rss() : x - m->left;
    m->peak = x > m->peak ? x : m->peak;
}

static void rss_before_probe(rss_meter *m)
{
    rss_note(m);
    m->before = proc_status_bytes("VmRSS");
}

/* After a probe, its buffer unmapped: the mark forgets the probe. */
static void rss_after_probe(rss_meter *m)
{
    double after = proc_status_bytes("VmRSS");
    if (m->before >= 0 && after > m->before)
        m->left += after - m->before;
    if (m->resets)
        m->resets = reset_peak_rss();
}

/* CPU seconds this process has used, all threads. */
static double cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
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
 * What the parts share: options, what a file holds, what was measured
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
    int wide; /* the table with every column (--wide) */
    const char *svg;
    const char *dir;
    int keep;
    const char *insn_bin, *plugin, *qemu;
    int insn_n1, insn_n2;
    const char *insn_run;
    int contend;   /* busy loops run beside each measurement (--contend) */
    int alternate; /* repetitions take turns between thread counts (--alternate) */
} options;

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

typedef struct thread_run {
    int threads;
    stat3 pp, tg;       /* tokens per second */
    stat3 cpu;          /* CPU time the process got while generating / (wall time x threads) */
    double bw;          /* the best read bandwidth of the run, bytes/s (parent) */
    double ceiling;     /* tokens/s if every byte were read at that bandwidth */
    double paired_bw;   /* median over the repetitions of the read bandwidth probed right
                           before and right after each one's generation (their mean), bytes/s */
    stat3 paired_pct;   /* each repetition's generation speed / its own paired ceiling, % */
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

typedef struct context_info {
    char model[128];  /* file name or shape */
    char shape[128];  /* layers, dim, ... */
    char cpu[128];
    char date[64];
    char machine[64];
    int cores;
    double load; /* the 1-minute load average when the bench started (-1: unknown) */
} context_info;

#endif /* BENCH_BENCH_H */
