/*
 * bench-kernels — the kernel microbenchmark: how fast lk_matmul runs for each weight type
 * on this machine, next to the machine's own memory read bandwidth measured here too.
 *
 *     build/bench-kernels [--types LIST] [-t LIST] [-r N] [--tokens LIST] [--quick] [--csv]
 *
 * What is measured, for each weight type and each thread count of -t:
 *   - matrix x vector (one token, generation): GB/s of weights streamed. W is R x 4096 with
 *     R chosen so that W is at least four times the last-level cache (and 128 MiB), so
 *     every call reads W from memory. Each repetition reads the whole buffer of the
 *     bandwidth probe with the same thread count just before the call. "% bw" is the
 *     kernel's median against the median of every bandwidth pass of the run; "% paired" the
 *     median of each call against its own pass. On a quiet machine the two agree; when a
 *     neighbour takes memory bandwidth, the pair moves together for a memory-bound kernel
 *     but not for one limited by its own instructions, so neither alone is the truth.
 *   - matrix x matrix (a prompt batch of --tokens, 32 and 64 by default): GFLOP/s, counted
 *     as 2 x rows x cols x tokens, on 4096 x 4096 windows of the same W; each repetition
 *     takes the next window, so the weights never come from the cache of a previous one.
 *   - the fixed cost of a call: lk_matmul quantizes the float activations once per call
 *     (q8_0 / q8_1 / q8_K) for every weight type but the float ones, and starts its threads.
 *     With T threads, a call on T rows costs that plus one row per thread, on 9T rows that
 *     plus nine, so (9 t(T rows) - t(9T rows)) / 8 is the fixed cost alone, whatever the
 *     compiled kernels do (quantize on one thread or split it over the team). It is
 *     reported with its share of a 4096 x 4096 product with the same threads; for the float
 *     types it is the call and thread start alone, so the difference is the quantization.
 * Every figure is the median with the min and max over -r repetitions, after a warm-up.
 * Before timing, each type's result is checked against the scalar oracle on a few rows:
 * a fast wrong kernel is not a result.
 *
 * The weights are random floats quantized by lk_quantize_row (the reference quantizers),
 * 32 distinct rows repeated down the matrix: the kernels have no data-dependent branches,
 * so the bytes, not their values, set the speed, and quantizing 128 MiB of K-quants with
 * their search would take minutes.
 *
 * --quick: tiny sizes (a 256-column W, a 8 MiB bandwidth buffer, 2 repetitions), for the
 * aarch64 build under qemu. Emulated timings mean nothing; the output says when the
 * program does not seem to run natively.
 *
 * The report (figures, command, analysis) is bench/KERNELS.md.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels.h"

#define MIB (1024.0 * 1024.0)
#define MAX_THREADS 16  /* entries of -t */
#define MAX_TOKENS 8    /* entries of --tokens */
#define MAX_REPS 1000
#define POOL_ROWS 32    /* distinct quantized rows, repeated down W */
#define CHECK_ROWS 16   /* rows checked against the scalar oracle */

#define USAGE                                                                               \
    "usage: bench-kernels [options]\n"                                                      \
    "  --types LIST   weight types, comma-separated (default: f32,f16,bf16,q8_0,q4_0,q4_1,\n" \
    "                 q5_0,q5_1,q2_K,q3_K,q4_K,q5_K,q6_K)\n"                                \
    "  -t LIST        thread counts, e.g. 1,2 (default: 1 and every online CPU)\n"          \
    "  -r N           repetitions (default 5, 2 with --quick); median [min..max] reported\n" \
    "  --tokens LIST  batch sizes for matrix x matrix (default 32,64)\n"                    \
    "  --min-cpu F    redo a repetition that got less than F of the CPU time it asked for\n" \
    "                 (a neighbour took a core), at most 4 x N times per row (default 0.9; 0: never)\n" \
    "  --quick        tiny sizes: checks the program runs (e.g. under qemu), times nothing\n" \
    "  --csv          one CSV table on stdout (the header lines go to stderr)\n"            \
    "  -h, --help     this text\n"

/* The weight types the issue asks for, in the order reported. */
static const uint32_t ALL_TYPES[] = {0, 1, 30, 8, 2, 3, 6, 7, 10, 11, 12, 13, 14};
#define N_ALL_TYPES (int)(sizeof ALL_TYPES / sizeof ALL_TYPES[0])

/* What lk_matmul turns the activations into for each weight type (the weight_kind tables of
 * kernels/scalar.c, avx2.c and neon.c agree); printed only, never relied on: whether a
 * type needs scratch at all is asked of lk_matmul_work_size. */
static const char *activation_format(uint32_t type)
{
    switch (type) {
    case 2: case 6: case 8: return "q8_0";
    case 3: case 7: return "q8_1";
    case 10: case 11: case 12: case 13: case 14: return "q8_K";
    default: return "f32";
    }
}

typedef struct options {
    uint32_t types[N_ALL_TYPES];
    int n_types;
    int threads[MAX_THREADS];
    int n_threads;
    int tokens[MAX_TOKENS];
    int n_tokens;
    int reps;
    int quick;
    int csv;
} options;

/* ============================================================================
 * Small things: errors, time, statistics, random numbers
 * ========================================================================== */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bench-kernels: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xalloc(size_t bytes, const char *what)
{
    size_t size = (bytes + 63) / 64 * 64; /* aligned_alloc wants a multiple of the alignment */
    void *p = aligned_alloc(64, size ? size : 64);
    if (!p)
        die("out of memory: %.1f MiB for %s", (double)bytes / MIB, what);
    return p;
}

static double clock_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now(void)
{
    return clock_seconds(CLOCK_MONOTONIC);
}

/* How much of the CPU time a timed call asked for it got: CPU time over wall time times
 * threads, 1 when no neighbour took a core away. The CPU time is each thread's own clock
 * (the process clock lags: Linux adds a running thread's time to it only at ticks and
 * switches), read in a parallel region of the same size just before and after the call,
 * which OpenMP runs on the same pool of threads as lk_matmul's. */
typedef struct stopwatch {
    double wall, cpu;
    int threads;
} stopwatch;

static double team_cpu(int threads)
{
#ifdef _OPENMP
    if (threads > 1) {
        double sum = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sum)
        sum += clock_seconds(CLOCK_THREAD_CPUTIME_ID);
        return sum;
    }
#endif
    (void)threads;
    return clock_seconds(CLOCK_THREAD_CPUTIME_ID);
}

static stopwatch stopwatch_start(int threads)
{
    double cpu = team_cpu(threads);
    return (stopwatch){now(), cpu, threads};
}

/* Wall seconds since start; *got: the share of the CPU time asked for. */
static double stopwatch_read(const stopwatch *s, double *got)
{
    double wall = now() - s->wall, cpu = team_cpu(s->threads);
    *got = wall > 0 ? (cpu - s->cpu) / (wall * s->threads) : 1.0;
    return wall;
}

/* A repetition in which a neighbour took a core away (got < g_min_cpu) is done again, at
 * most four times as many times as there are repetitions; the report counts them. */
static double g_min_cpu = 0.9;
static long g_timed, g_redone;

/* 1 when a repetition that got `got` of its CPU is kept; *redos counts this row's redos. */
static int keep(double got, int *redos, int reps)
{
    g_timed++;
    if (got >= g_min_cpu || *redos >= 4 * reps)
        return 1;
    ++*redos;
    g_redone++;
    return 0;
}

typedef struct stats {
    double med, min, max;
} stats;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static stats stats_of(const double *v, int n)
{
    double *s = xalloc((size_t)n * sizeof *v, "statistics");
    memcpy(s, v, (size_t)n * sizeof *v);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double med = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    stats st = {med, s[0], s[n - 1]};
    free(s);
    return st;
}

/* A growing list of measurements. */
typedef struct samples {
    double *v;
    int n, cap;
} samples;

static void add_sample(samples *s, double x)
{
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        double *v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) {
            fputs("bench-kernels: out of memory for the measurements\n", stderr);
            exit(1);
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
}

/* Every read-bandwidth pass kept (GB/s), per entry of -t: the median of those that got their
 * CPU (or of all, if none did) is the figure the kernels are compared with. */
static samples g_bw_passes[MAX_THREADS], g_bw_passes_all[MAX_THREADS];

static void add_bw_pass(int ti, double gbs, double got)
{
    add_sample(&g_bw_passes_all[ti], gbs);
    if (got >= g_min_cpu)
        add_sample(&g_bw_passes[ti], gbs);
}

/* xorshift64*: reproducible inputs without libc's rand. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static double uniform(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545f4914f6cdd1du) >> 11) * 0x1.0p-53;
}

/* Roughly normal (the sum of four uniforms, unit variance), scaled. */
static float normal(double sigma)
{
    double s = uniform() + uniform() + uniform() + uniform() - 2.0;
    return (float)(s * sqrt(3.0) * sigma);
}

/* ============================================================================
 * The machine: CPU model, last-level cache, load, whether we run natively
 * ========================================================================== */

/* The value after "key<spaces>:" on the first matching line of a /proc file, or "". */
static void proc_field(const char *file, const char *key, char *out, size_t cap)
{
    out[0] = 0;
    FILE *f = fopen(file, "r");
    if (!f)
        return;
    char line[512];
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) != 0)
            continue;
        char *p = line + kl;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != ':')
            continue;
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        p[strcspn(p, "\n")] = 0;
        snprintf(out, cap, "%s", p);
        break;
    }
    fclose(f);
}

static void cpu_model(char *out, size_t cap)
{
    proc_field("/proc/cpuinfo", "model name", out, cap);
    if (out[0])
        return;
    /* aarch64 Linux names the core by implementer and part number */
    char impl[64], part[64];
    proc_field("/proc/cpuinfo", "CPU implementer", impl, sizeof impl);
    proc_field("/proc/cpuinfo", "CPU part", part, sizeof part);
    if (!impl[0]) {
        snprintf(out, cap, "unknown");
        return;
    }
    const char *name = NULL;
    if (strtol(impl, NULL, 0) == 0x41) {
        switch (strtol(part, NULL, 0)) {
        case 0xd03: name = "Cortex-A53"; break;
        case 0xd08: name = "Cortex-A72"; break;
        case 0xd0b: name = "Cortex-A76"; break;
        default: break;
        }
    }
    if (name)
        snprintf(out, cap, "%s", name);
    else
        snprintf(out, cap, "implementer %s part %s", impl, part);
    FILE *f = fopen("/proc/device-tree/model", "r"); /* "Raspberry Pi 4 Model B Rev 1.4" */
    if (f) {
        char board[128];
        size_t n = fread(board, 1, sizeof board - 1, f);
        board[n] = 0;
        fclose(f);
        if (n) {
            size_t l = strlen(out);
            snprintf(out + l, cap - l, " (%s)", board);
        }
    }
}

/* Bytes of the highest-level data or unified cache of cpu0, 0 when unknown. */
static size_t last_level_cache(void)
{
    size_t best = 0;
    int best_level = 0;
    for (int i = 0; i < 8; i++) {
        char path[128], buf[64];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE *f = fopen(path, "r");
        if (!f)
            break;
        int level = fgets(buf, sizeof buf, f) ? atoi(buf) : 0;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", i);
        f = fopen(path, "r");
        if (!f)
            continue;
        int instruction = fgets(buf, sizeof buf, f) && strncmp(buf, "Instruction", 11) == 0;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        f = fopen(path, "r");
        if (!f)
            continue;
        size_t size = 0;
        if (fgets(buf, sizeof buf, f)) {
            char *end;
            size = strtoul(buf, &end, 10);
            if (*end == 'K')
                size <<= 10;
            else if (*end == 'M')
                size <<= 20;
        }
        fclose(f);
        if (!instruction && level >= best_level && size) {
            best_level = level;
            best = size;
        }
    }
    return best;
}

static void load_average(char *out, size_t cap)
{
    out[0] = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f)
        return;
    double a, b, c;
    if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
        snprintf(out, cap, "%.2f %.2f %.2f", a, b, c);
    fclose(f);
}

/* What the whole machine did with its CPUs: seconds busy (steal included), in total, and
 * stolen by the hypervisor, since boot (/proc/stat); 0 when unreadable. */
typedef struct machine_time {
    double busy, total, steal, self;
} machine_time;

static machine_time machine_now(void)
{
    machine_time m = {0, 0, 0, 0};
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        m.self = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                 (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return m;
    unsigned long long v[8] = {0};
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]) == 8) {
        double hz = (double)sysconf(_SC_CLK_TCK);
        double total = 0;
        for (int i = 0; i < 8; i++)
            total += (double)v[i];
        m.total = total / hz;
        m.busy = (total - (double)v[3] - (double)v[4]) / hz; /* less idle and iowait */
        m.steal = (double)v[7] / hz;
    }
    fclose(f);
    return m;
}

/* "others used N% of the machine's CPU time, the hypervisor stole M%" between a and b. */
static void describe_neighbours(char *out, size_t cap, machine_time a, machine_time b)
{
    double total = b.total - a.total;
    if (total <= 0) {
        snprintf(out, cap, "unknown (no /proc/stat)");
        return;
    }
    double others = (b.busy - a.busy) - (b.self - a.self) - (b.steal - a.steal);
    snprintf(out, cap, "%.0f%% of the machine's CPU time went to other processes, %.0f%% was "
             "stolen by the hypervisor", others > 0 ? 100.0 * others / total : 0.0,
             100.0 * (b.steal - a.steal) / total);
}

#if defined(__x86_64__) || defined(__i386__)
#define BUILD_ARCH "x86"
#elif defined(__aarch64__)
#define BUILD_ARCH "aarch64"
#elif defined(__arm__)
#define BUILD_ARCH "arm"
#else
#define BUILD_ARCH "other"
#endif

/* 1 when we seem to run on the CPU we were compiled for, 0 when emulated, -1 unknown.
 * Under qemu-user the process is named after the emulator, and /proc/cpuinfo (which
 * qemu 7 passes through) describes the host. `why` says which. */
static int running_natively(char *why, size_t cap)
{
    char comm[64] = "";
    FILE *f = fopen("/proc/self/comm", "r");
    if (f) {
        if (!fgets(comm, sizeof comm, f))
            comm[0] = 0;
        fclose(f);
    }
    if (strncmp(comm, "qemu", 4) == 0) {
        comm[strcspn(comm, "\n")] = 0;
        snprintf(why, cap, "the process is %s", comm);
        return 0;
    }
    char x86[64], arm[64];
    proc_field("/proc/cpuinfo", "vendor_id", x86, sizeof x86);
    proc_field("/proc/cpuinfo", "CPU implementer", arm, sizeof arm);
    const char *build = BUILD_ARCH;
    if (!strcmp(build, "x86") && x86[0])
        return 1;
    if ((!strcmp(build, "aarch64") || !strcmp(build, "arm")) && arm[0] && !x86[0])
        return 1;
    if ((!strcmp(build, "aarch64") || !strcmp(build, "arm")) && x86[0]) {
        snprintf(why, cap, "an %s build on a CPU with vendor_id %s", build, x86);
        return 0;
    }
    if (!strcmp(build, "x86") && arm[0]) {
        snprintf(why, cap, "an x86 build on an ARM CPU");
        return 0;
    }
    snprintf(why, cap, "cannot tell");
    return -1;
}

/* ============================================================================
 * Memory read bandwidth
 *
 * The threads split the buffer in contiguous slices, as lk_matmul splits rows, and each
 * streams its slice through four independent vector accumulators, so the loads are the
 * only limit. One call is one pass over the whole buffer.
 * ========================================================================== */

typedef uint64_t v4u64 __attribute__((vector_size(32)));

static uint64_t read_slice(const v4u64 *p, size_t n)
{
    /* the buffer "may have changed": repeated passes are not folded into one */
    __asm__ __volatile__("" ::: "memory");
    v4u64 a = {0}, b = {0}, c = {0}, d = {0};
    for (size_t i = 0; i + 4 <= n; i += 4) {
        a += p[i];
        b += p[i + 1];
        c += p[i + 2];
        d += p[i + 3];
    }
    v4u64 s = a + b + c + d;
    return s[0] ^ s[1] ^ s[2] ^ s[3];
}

static volatile uint64_t g_sink;

/* Seconds for one pass over n vectors with `threads` threads; *got as stopwatch_read. */
static double read_pass(const v4u64 *buf, size_t n, int threads, double *got)
{
    uint64_t sink = 0;
    stopwatch sw = stopwatch_start(threads);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) if (threads > 1) reduction(^ : sink)
    {
        size_t nt = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
        size_t lo = n * id / nt / 4 * 4, hi = n * (id + 1) / nt / 4 * 4;
        sink ^= read_slice(buf + lo, hi - lo);
    }
#else
    (void)threads;
    sink = read_slice(buf, n);
#endif
    double dt = stopwatch_read(&sw, got);
    g_sink ^= sink;
    return dt;
}

/* ============================================================================
 * One weight type
 * ========================================================================== */

typedef struct sizes {
    int64_t cols;      /* columns of every matrix */
    int64_t window;    /* rows of a matrix x matrix window */
    size_t w_bytes;    /* W is at least this large */
    size_t bw_bytes;   /* the bandwidth probe's buffer */
} sizes;

typedef struct result {
    /* matrix x vector, per thread count */
    stats mv_gbs[MAX_THREADS];
    stats mv_pct[MAX_THREADS]; /* of the paired read bandwidth, percent */
    double mv_seconds[MAX_THREADS];
    double mv_got[MAX_THREADS]; /* median share of the CPU time asked for (stopwatch) */
    /* matrix x matrix, per thread count and batch */
    stats mm_gflops[MAX_THREADS][MAX_TOKENS];
    double mm_seconds[MAX_THREADS][MAX_TOKENS];
    double mm_got[MAX_THREADS][MAX_TOKENS];
    /* the fixed cost of a call (activation preparation, thread start), per thread count, for
     * 1 token ([0]) and each batch ([1 + k]), seconds */
    double prep[MAX_THREADS][MAX_TOKENS + 1];
    int has_prep; /* the activations are quantized (lk_matmul_work_size > 0) */
    int64_t rows;
    size_t bytes;
} result;

/* Largest |a - b| over n values, relative to the largest |b|; the kernels and the scalar
 * oracle see identical quantized activations, so only the float summation order differs. */
static double relative_error(const float *a, const float *b, int64_t n, size_t stride_a,
                             size_t stride_b, int64_t tokens)
{
    double err = 0, scale = 1e-30;
    for (int64_t t = 0; t < tokens; t++)
        for (int64_t i = 0; i < n; i++) {
            double x = a[t * (int64_t)stride_a + i], y = b[t * (int64_t)stride_b + i];
            if (!(fabs(x - y) <= err)) /* also catches NaN */
                err = isnan(x - y) ? INFINITY : fabs(x - y);
            if (fabs(y) > scale)
                scale = fabs(y);
        }
    return err / scale;
}

/* The first CHECK_ROWS rows of w's product, computed by the scalar oracle, against y
 * (y[t * y_rows + r]). Exits on a mismatch. */
static void check_against_scalar(const char *name, const lk_matrix *w, const float *x,
                                 const float *y, int64_t y_rows, int64_t tokens)
{
    lk_matrix head = *w;
    head.rows = w->rows < CHECK_ROWS ? w->rows : CHECK_ROWS;
    size_t ws = lk_scalar_matmul_work_size(w->type, w->cols, tokens);
    void *work = xalloc(ws, "the scalar check");
    float *ref = xalloc((size_t)(head.rows * tokens) * sizeof(float), "the scalar check");
    lk_scalar_matmul(&head, x, ref, tokens, work, NULL, 1);
    double err = relative_error(y, ref, head.rows, (size_t)y_rows, (size_t)head.rows, tokens);
    if (!(err <= 1e-3))
        die("%s: the %s kernel disagrees with the scalar oracle (%lld tokens, relative "
            "error %.3g): not timing a wrong result", name, LK_ISA_NAME, (long long)tokens, err);
    free(ref);
    free(work);
}

/* the threads of the products: as many as the largest -t, started once */
static lk_pool *g_pool;

static void bench_type(uint32_t type, const options *o, const sizes *sz, const v4u64 *bwbuf,
                       result *res)
{
    const lk_type_traits *tr = lk_type(type);
    int64_t cols = sz->cols;
    size_t row_bytes = lk_row_bytes(type, cols);
    /* rows: a whole number of windows, W at least w_bytes */
    int64_t rows = (int64_t)((sz->w_bytes + row_bytes - 1) / row_bytes);
    rows = (rows + sz->window - 1) / sz->window * sz->window;
    if (rows < 2 * sz->window)
        rows = 2 * sz->window;
    int64_t n_windows = rows / sz->window;
    size_t w_size = (size_t)rows * row_bytes;
    res->rows = rows;
    res->bytes = w_size;
    fprintf(stderr, "bench-kernels: %s: W %lld x %lld, %.1f MiB\n", tr->name, (long long)rows,
            (long long)cols, (double)w_size / MIB);

    /* W: POOL_ROWS random rows quantized, repeated; every page written before timing */
    char *w = xalloc(w_size, "W");
    float *src = xalloc((size_t)cols * sizeof(float), "a row of weights");
    for (int r = 0; r < POOL_ROWS; r++) {
        for (int64_t c = 0; c < cols; c++)
            src[c] = normal(0.02);
        if (lk_quantize_row(type, src, w + (size_t)r * row_bytes, cols) != 0)
            die("%s: lk_quantize_row refused a row of %lld", tr->name, (long long)cols);
    }
    for (int64_t r = POOL_ROWS; r < rows; r++)
        memcpy(w + (size_t)r * row_bytes, w + (size_t)(r % POOL_ROWS) * row_bytes, row_bytes);
    free(src);

    int max_tok = 1;
    for (int k = 0; k < o->n_tokens; k++)
        max_tok = o->tokens[k] > max_tok ? o->tokens[k] : max_tok;
    float *x = xalloc((size_t)(max_tok * cols) * sizeof(float), "activations");
    for (int64_t i = 0; i < max_tok * cols; i++)
        x[i] = normal(1.0);
    int64_t y_len = rows > sz->window * max_tok ? rows : sz->window * max_tok;
    float *y = xalloc((size_t)y_len * sizeof(float), "outputs");
    size_t work_size = lk_matmul_work_size(type, cols, max_tok);
    void *work = xalloc(work_size, "activation scratch");
    res->has_prep = lk_matmul_work_size(type, cols, 1) > 0;

    lk_matrix whole = {type, rows, cols, row_bytes, w};
    size_t bw_vec = sz->bw_bytes / sizeof(v4u64);
    double t[MAX_REPS], pct[MAX_REPS], got[MAX_REPS], unused;

    for (int ti = 0; ti < o->n_threads; ti++) {
        int nt = o->threads[ti];

        /* matrix x vector, each call paired with a bandwidth pass just before it */
        lk_matmul(&whole, x, y, 1, work, g_pool, nt); /* warm-up: threads started, pages mapped */
        read_pass(bwbuf, bw_vec, nt, &unused);
        if (ti == 0)
            check_against_scalar(tr->name, &whole, x, y, rows, 1);
        int redos = 0;
        for (int r = 0; r < o->reps;) {
            double got_bw;
            double bw = (double)sz->bw_bytes / read_pass(bwbuf, bw_vec, nt, &got_bw);
            stopwatch sw = stopwatch_start(nt);
            lk_matmul(&whole, x, y, 1, work, g_pool, nt);
            t[r] = stopwatch_read(&sw, &got[r]);
            if (!keep(got[r] < got_bw ? got[r] : got_bw, &redos, o->reps))
                continue;
            add_bw_pass(ti, bw * 1e-9, got_bw);
            pct[r] = 100.0 * ((double)w_size / t[r]) / bw;
            r++;
        }
        stats st = stats_of(t, o->reps);
        res->mv_seconds[ti] = st.med;
        res->mv_got[ti] = stats_of(got, o->reps).med;
        res->mv_gbs[ti] = (stats){w_size / st.med * 1e-9, w_size / st.max * 1e-9, w_size / st.min * 1e-9};
        res->mv_pct[ti] = stats_of(pct, o->reps);

        /* matrix x matrix on windows of `window` rows, a new window each repetition */
        for (int k = 0; k < o->n_tokens; k++) {
            int64_t nt_tok = o->tokens[k];
            lk_matrix win = {type, sz->window, cols, row_bytes, w};
            lk_matmul(&win, x, y, nt_tok, work, g_pool, nt);
            if (ti == 0)
                check_against_scalar(tr->name, &win, x, y, sz->window, nt_tok);
            redos = 0;
            for (int r = 0, next = 1; r < o->reps; next++) {
                win.data = w + (size_t)(next % n_windows * sz->window) * row_bytes;
                stopwatch sw = stopwatch_start(nt);
                lk_matmul(&win, x, y, nt_tok, work, g_pool, nt);
                t[r] = stopwatch_read(&sw, &got[r]);
                r += keep(got[r], &redos, o->reps);
            }
            st = stats_of(t, o->reps);
            res->mm_got[ti][k] = stats_of(got, o->reps).med;
            double flop = 2.0 * (double)sz->window * (double)cols * (double)nt_tok;
            res->mm_seconds[ti][k] = st.med;
            res->mm_gflops[ti][k] = (stats){flop / st.med * 1e-9, flop / st.max * 1e-9, flop / st.min * 1e-9};
        }
    }

    /* The fixed cost of a call, from T and 9T rows with T threads (see the top). Each
     * timing loops for >= 2 ms; a pair in which either half lacked CPU is redone. */
    for (int ti = 0; ti < o->n_threads; ti++) {
        int nt = o->threads[ti];
        lk_matrix a = {type, nt, cols, row_bytes, w}, b = {type, 9 * nt, cols, row_bytes, w};
        for (int k = 0; k <= o->n_tokens; k++) {
            int64_t n_tok = k == 0 ? 1 : o->tokens[k - 1];
            double t0 = now();
            lk_matmul(&b, x, y, n_tok, work, g_pool, nt);
            double single = now() - t0;
            int calls = single > 0 ? (int)(2e-3 / single) + 1 : 1000;
            if (calls > 100000)
                calls = 100000;
            int redos = 0;
            for (int r = 0; r < o->reps;) {
                double got_a, got_b;
                stopwatch sw = stopwatch_start(nt);
                for (int c = 0; c < calls; c++)
                    lk_matmul(&a, x, y, n_tok, work, g_pool, nt);
                double ta = stopwatch_read(&sw, &got_a) / calls;
                sw = stopwatch_start(nt);
                for (int c = 0; c < calls; c++)
                    lk_matmul(&b, x, y, n_tok, work, g_pool, nt);
                double tb = stopwatch_read(&sw, &got_b) / calls;
                t[r] = (9 * ta - tb) / 8;
                r += keep(got_a < got_b ? got_a : got_b, &redos, o->reps);
            }
            double fixed = stats_of(t, o->reps).med;
            res->prep[ti][k] = fixed > 0 ? fixed : 0;
        }
    }
    free(work);
    free(y);
    free(x);
    free(w);
}

/* ============================================================================
 * Arguments
 * ========================================================================== */

/* A comma-separated list of positive integers up to `max`. */
static int parse_int_list(const char *flag, const char *s, int *out, int cap, int max)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > max || (*end != ',' && *end != 0))
            die("%s: '%s' is not a list of whole numbers from 1 to %d", flag, s, max);
        if (n == cap)
            die("%s: at most %d values", flag, cap);
        out[n++] = (int)v;
        if (!*end)
            return n;
        p = end + 1;
    }
}

static int parse_types(const char *s, uint32_t *out)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < N_ALL_TYPES; i++) {
            const char *name = lk_type(ALL_TYPES[i])->name;
            if (strlen(name) == len && strncasecmp(name, p, len) == 0)
                found = i;
        }
        if (found < 0)
            die("--types: unknown weight type '%.*s' (f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 "
                "q2_K q3_K q4_K q5_K q6_K)", (int)len, p);
        for (int i = 0; i < n; i++)
            if (out[i] == ALL_TYPES[found])
                die("--types: '%.*s' is listed twice", (int)len, p);
        out[n++] = ALL_TYPES[found];
        p += len;
        if (*p == ',' && *++p == 0)
            die("--types: empty entry in '%s'", s);
    }
    if (n == 0)
        die("--types: empty list");
    return n;
}

static void parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    int reps = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            exit(0);
        } else if (!strcmp(a, "--quick")) {
            o->quick = 1;
        } else if (!strcmp(a, "--csv")) {
            o->csv = 1;
        } else if (!strcmp(a, "--min-cpu")) {
            if (!has_value)
                die("%s needs a value (try --help)", a);
            const char *v = argv[++i];
            char *end;
            double f = strtod(v, &end);
            if (end == v || *end || !(f >= 0 && f <= 1))
                die("--min-cpu: '%s' is not a number from 0 to 1", v);
            g_min_cpu = f;
        } else if (!strcmp(a, "--types") || !strcmp(a, "-t") || !strcmp(a, "-r") ||
                   !strcmp(a, "--tokens")) {
            if (!has_value)
                die("%s needs a value (try --help)", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--types"))
                o->n_types = parse_types(v, o->types);
            else if (!strcmp(a, "-t"))
                o->n_threads = parse_int_list("-t", v, o->threads, MAX_THREADS, 256);
            else if (!strcmp(a, "--tokens"))
                o->n_tokens = parse_int_list("--tokens", v, o->tokens, MAX_TOKENS, 1024);
            else {
                char *end;
                long n = strtol(v, &end, 10);
                if (end == v || *end || n < 1 || n > MAX_REPS)
                    die("-r: '%s' is not a whole number from 1 to %d", v, MAX_REPS);
                reps = (int)n;
            }
        } else {
            die("unknown argument '%s' (try --help)", a);
        }
    }
    if (!o->n_types) {
        memcpy(o->types, ALL_TYPES, sizeof ALL_TYPES);
        o->n_types = N_ALL_TYPES;
    }
    if (!o->n_threads) {
        o->threads[o->n_threads++] = 1;
#ifdef _OPENMP
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        if (cpus > 1)
            o->threads[o->n_threads++] = cpus > 256 ? 256 : (int)cpus;
#endif
    }
#ifndef _OPENMP
    for (int i = 0; i < o->n_threads; i++)
        if (o->threads[i] > 1)
            die("-t %d: this build has no OpenMP, so one thread only", o->threads[i]);
#endif
    if (!o->n_tokens) {
        o->tokens[o->n_tokens++] = 32;
        o->tokens[o->n_tokens++] = 64;
    }
    o->reps = reps ? reps : o->quick ? 2 : 5;
}

/* ============================================================================
 * Report
 * ========================================================================== */

static const char *fmt_stats(char *buf, size_t cap, stats s, const char *f)
{
    char a[24], b[24], c[24];
    snprintf(a, sizeof a, f, s.med);
    snprintf(b, sizeof b, f, s.min);
    snprintf(c, sizeof c, f, s.max);
    snprintf(buf, cap, "%s [%s..%s]", a, b, c);
    return buf;
}

static const char *fmt_prep(char *buf, size_t cap, const result *r, int ti, int k, double total)
{
    snprintf(buf, cap, "%.1f us = %.1f%%", r->prep[ti][k] * 1e6,
             total > 0 ? 100.0 * r->prep[ti][k] / total : 0.0);
    return buf;
}

int main(int argc, char **argv)
{
    options o;
    parse_args(argc, argv, &o);
    int max_threads = 1;
    for (int i = 0; i < o.n_threads; i++)
        max_threads = o.threads[i] > max_threads ? o.threads[i] : max_threads;
    static _Alignas(64) char pool_mem[1 << 14]; /* lk_pool_bytes(1024), the most a pool takes */
    g_pool = lk_pool_start(pool_mem, max_threads);

    /* the machine */
    char cpu[256], load0[64], load1[64], why[160] = "";
    cpu_model(cpu, sizeof cpu);
    load_average(load0, sizeof load0);
    int native = running_natively(why, sizeof why);
    size_t llc = last_level_cache();
    size_t llc_assumed = llc ? llc : (size_t)32 << 20;
    char date[64];
    time_t tt = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&tt));

    sizes sz;
    if (o.quick) {
        sz = (sizes){256, 64, (size_t)1 << 20, (size_t)8 << 20};
    } else {
        sz.cols = 4096;
        sz.window = 4096;
        sz.w_bytes = 4 * llc_assumed > ((size_t)128 << 20) ? 4 * llc_assumed : (size_t)128 << 20;
        sz.bw_bytes = 8 * llc_assumed > ((size_t)256 << 20) ? 8 * llc_assumed : (size_t)256 << 20;
    }

    FILE *hdr = o.csv ? stderr : stdout;
    fprintf(hdr, "# bench-kernels: lk_matmul, instruction set %s, %s, %s\n", LK_ISA_NAME,
#ifdef _OPENMP
            "OpenMP",
#else
            "no OpenMP",
#endif
            "cc " __VERSION__);
    fprintf(hdr, "cpu:     %s (%s build, %ld online CPUs, last-level cache %s%.0f MiB)%s\n", cpu,
            BUILD_ARCH, sysconf(_SC_NPROCESSORS_ONLN), llc ? "" : "unknown, assumed ",
            (double)llc_assumed / MIB, native == 0 ? ": the host's, not the CPU emulated" : "");
    fprintf(hdr, "date:    %s; load average at start %s\n", date, load0);
    if (native == 0)
        fprintf(hdr, "timing:  NOT NATIVE (%s): emulated timings mean nothing; this run only "
                     "shows that the program and its kernels work\n", why);
    else if (native < 0)
        fprintf(hdr, "timing:  cannot tell whether this runs natively (%s)\n", why);
    if (o.quick)
        fprintf(hdr, "sizes:   --quick: tiny, everything fits in the caches; not a measurement\n");
    fprintf(hdr, "method:  median [min..max] of %d repetitions after a warm-up. The machine may "
                 "be shared: neighbours' load moves every figure, and the cpu columns say how "
                 "much of the CPU each measurement got (not how much memory bandwidth); a "
                 "repetition that got less than %.2f of it is done again (--min-cpu).\n",
            o.reps, g_min_cpu);

    v4u64 *bwbuf = xalloc(sz.bw_bytes, "the bandwidth buffer");
    size_t bw_vec = sz.bw_bytes / sizeof(v4u64);
    for (size_t i = 0; i < bw_vec; i++)
        bwbuf[i] = (v4u64){i, i ^ 1, i ^ 2, i ^ 3};

    /* read bandwidth on its own, per thread count, before the types and after them */
    stats bw[2][MAX_THREADS];
    double bw_got[2][MAX_THREADS];
    static result res[N_ALL_TYPES];
    machine_time m0 = machine_now();
    for (int when = 0; when < 2; when++) {
        for (int ti = 0; ti < o.n_threads; ti++) {
            double v[MAX_REPS], got[MAX_REPS];
            read_pass(bwbuf, bw_vec, o.threads[ti], &got[0]);
            int redos = 0;
            for (int r = 0; r < o.reps;) {
                v[r] = (double)sz.bw_bytes / read_pass(bwbuf, bw_vec, o.threads[ti], &got[r]) * 1e-9;
                if (keep(got[r], &redos, o.reps)) {
                    add_bw_pass(ti, v[r], got[r]);
                    r++;
                }
            }
            bw[when][ti] = stats_of(v, o.reps);
            bw_got[when][ti] = stats_of(got, o.reps).med;
        }
        for (int i = 0; when == 0 && i < o.n_types; i++)
            bench_type(o.types[i], &o, &sz, bwbuf, &res[i]);
    }
    load_average(load1, sizeof load1);
    char neighbours[160];
    describe_neighbours(neighbours, sizeof neighbours, m0, machine_now());
    free(bwbuf);

    stats bw_all[MAX_THREADS];
    for (int ti = 0; ti < o.n_threads; ti++) {
        const samples *sa = g_bw_passes[ti].n ? &g_bw_passes[ti] : &g_bw_passes_all[ti];
        bw_all[ti] = stats_of(sa->v, sa->n);
    }

    char s1[96], s2[96], s3[96], p[64];
    if (o.csv) {
        fprintf(stderr, "redone: %ld of %ld timed repetitions, for getting less than %.2f of the "
                        "CPU; load average at the end %s\nduring the run: %s\n", g_redone,
                g_timed, g_min_cpu, load1, neighbours);
        printf("what,type,threads,tokens,rows,cols,weight_bytes,unit,median,min,max,"
               "pct_of_run_read_bw,pct_paired_median,pct_paired_min,pct_paired_max,cpu_got,"
               "activation_format,fixed_cost_us,fixed_cost_pct\n");
        for (int ti = 0; ti < o.n_threads; ti++)
            printf("read_bw_all,,%d,,,,%zu,GB/s,%.4g,%.4g,%.4g,,,,,,,,\n", o.threads[ti],
                   sz.bw_bytes, bw_all[ti].med, bw_all[ti].min, bw_all[ti].max);
        for (int when = 0; when < 2; when++)
            for (int ti = 0; ti < o.n_threads; ti++)
                printf("read_bw_%s,,%d,,,,%zu,GB/s,%.4g,%.4g,%.4g,,,,,%.3f,,,\n",
                       when ? "after" : "before", o.threads[ti], sz.bw_bytes, bw[when][ti].med,
                       bw[when][ti].min, bw[when][ti].max, bw_got[when][ti]);
        for (int i = 0; i < o.n_types; i++) {
            const result *r = &res[i];
            const char *name = lk_type(o.types[i])->name, *act = activation_format(o.types[i]);
            size_t win_bytes = lk_row_bytes(o.types[i], sz.cols) * (size_t)sz.window;
            for (int ti = 0; ti < o.n_threads; ti++) {
                double per_window = r->mv_seconds[ti] * (double)sz.window / (double)r->rows;
                printf("matvec,%s,%d,1,%lld,%lld,%zu,GB/s,%.4g,%.4g,%.4g,%.4g,%.4g,%.4g,%.4g,%.3f,%s,",
                       name, o.threads[ti], (long long)r->rows, (long long)sz.cols, r->bytes,
                       r->mv_gbs[ti].med, r->mv_gbs[ti].min, r->mv_gbs[ti].max,
                       100.0 * r->mv_gbs[ti].med / bw_all[ti].med, r->mv_pct[ti].med,
                       r->mv_pct[ti].min, r->mv_pct[ti].max, r->mv_got[ti],
                       r->has_prep ? act : "");
                printf("%.4g,%.4g\n", r->prep[ti][0] * 1e6, 100.0 * r->prep[ti][0] / per_window);
                for (int k = 0; k < o.n_tokens; k++) {
                    printf("matmul,%s,%d,%d,%lld,%lld,%zu,GFLOP/s,%.4g,%.4g,%.4g,,,,,%.3f,%s,",
                           name, o.threads[ti], o.tokens[k], (long long)sz.window,
                           (long long)sz.cols, win_bytes, r->mm_gflops[ti][k].med,
                           r->mm_gflops[ti][k].min, r->mm_gflops[ti][k].max, r->mm_got[ti][k],
                           r->has_prep ? act : "");
                    printf("%.4g,%.4g\n", r->prep[ti][k + 1] * 1e6,
                           100.0 * r->prep[ti][k + 1] / r->mm_seconds[ti][k]);
                }
            }
        }
        return 0;
    }

    printf("\ncpu = the share of the CPU time a measurement asked for that it got (1.00: no "
           "neighbour took a core away)\n");
    printf("\nread bandwidth: a streaming read of %.0f MiB, GB/s (1 GB = 1e9 bytes)\n",
           (double)sz.bw_bytes / MIB);
    printf("  all: every pass of the run that got its CPU (%d before the types, one paired with "
           "each matrix x vector call, %d after)\n", o.reps, o.reps);
    printf("  %3s  %-22s %-22s %-5s %-22s %s\n", "thr", "all", "before the types", "cpu",
           "after them", "cpu");
    for (int ti = 0; ti < o.n_threads; ti++)
        printf("  %3d  %-22s %-22s %-5.2f %-22s %.2f\n", o.threads[ti],
               fmt_stats(s3, sizeof s3, bw_all[ti], "%.1f"),
               fmt_stats(s1, sizeof s1, bw[0][ti], "%.1f"), bw_got[0][ti],
               fmt_stats(s2, sizeof s2, bw[1][ti], "%.1f"), bw_got[1][ti]);

    printf("\nmatrix x vector, 1 token: GB/s of weights streamed; W is rows x %lld, read once "
           "per call\n  %% bw: the median against the median of all read-bandwidth passes with "
           "as many threads;\n  %% paired: each call against the pass just before it (median "
           "[min..max]); the two differ when neighbours were busy\n", (long long)sz.cols);
    printf("  act.: the format the activations are quantized to; fixed/call: what a call "
           "costs besides its rows\n  (quantizing them, starting the threads) and its share of "
           "a %lld x %lld product\n", (long long)sz.window, (long long)sz.cols);
    printf("  %-5s %5s %7s %6s %3s  %-20s %5s %-15s %-5s %-5s %s\n", "type", "bits", "rows",
           "MiB", "thr", "GB/s", "% bw", "% paired", "cpu", "act.", "fixed/call");
    for (int i = 0; i < o.n_types; i++) {
        const result *r = &res[i];
        const lk_type_traits *tr = lk_type(o.types[i]);
        for (int ti = 0; ti < o.n_threads; ti++) {
            double per_window = r->mv_seconds[ti] * (double)sz.window / (double)r->rows;
            printf("  %-5s %5.2f %7lld %6.0f %3d  %-20s %5.0f %-15s %-5.2f %-5s %s\n", tr->name,
                   8.0 * tr->block_bytes / tr->block_size, (long long)r->rows,
                   (double)r->bytes / MIB, o.threads[ti],
                   fmt_stats(s1, sizeof s1, r->mv_gbs[ti], "%.1f"),
                   100.0 * r->mv_gbs[ti].med / bw_all[ti].med,
                   fmt_stats(s2, sizeof s2, r->mv_pct[ti], "%.0f"), r->mv_got[ti],
                   r->has_prep ? activation_format(o.types[i]) : "-",
                   fmt_prep(p, sizeof p, r, ti, 0, per_window));
        }
    }

    printf("\nmatrix x matrix: GFLOP/s = 2 x %lld x %lld x tokens / time, on %lld-row windows "
           "of the same W\n", (long long)sz.window, (long long)sz.cols, (long long)sz.window);
    printf("  fixed/call: what a call costs besides its rows (quantizing all the tokens' "
           "activations, starting the threads)\n  and its share of the product\n");
    printf("  %-5s %3s %6s  %-22s %-5s %s\n", "type", "thr", "tokens", "GFLOP/s", "cpu",
           "fixed/call");
    for (int i = 0; i < o.n_types; i++) {
        const result *r = &res[i];
        for (int ti = 0; ti < o.n_threads; ti++)
            for (int k = 0; k < o.n_tokens; k++)
                printf("  %-5s %3d %6d  %-22s %-5.2f %s\n", lk_type(o.types[i])->name,
                       o.threads[ti], o.tokens[k],
                       fmt_stats(s1, sizeof s1, r->mm_gflops[ti][k], "%.1f"), r->mm_got[ti][k],
                       fmt_prep(p, sizeof p, r, ti, k + 1, r->mm_seconds[ti][k]));
    }

    /* the target, reported, never asserted */
    int t2 = -1;
    for (int ti = 0; ti < o.n_threads; ti++)
        if (o.threads[ti] == 2)
            t2 = ti;
    if (t2 >= 0 && !strcmp(BUILD_ARCH, "x86") && native != 0 && !o.quick) {
        printf("\ntarget (x86): matrix x vector with 2 threads at >= 80%% of the read bandwidth "
               "(%.1f GB/s here), %% bw / %% paired:", bw_all[t2].med);
        int any = 0;
        for (int i = 0; i < o.n_types; i++) {
            uint32_t ty = o.types[i];
            if (ty != 2 && ty != 12 && ty != 8)
                continue;
            double pct = 100.0 * res[i].mv_gbs[t2].med / bw_all[t2].med;
            printf(" %s %.0f%%/%.0f%%", lk_type(ty)->name, pct, res[i].mv_pct[t2].med);
            any = 1;
        }
        printf("%s\n", any ? "" : " (q4_0, q4_K, q8_0 not run)");
    }
    printf("\nredone: %ld of %ld timed repetitions, for getting less than %.2f of the CPU; "
           "load average at the end %s\nduring the run: %s\n", g_redone, g_timed, g_min_cpu,
           load1, neighbours);
    return 0;
}
