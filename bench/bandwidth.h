/*
 * bandwidth.h — the machine's own limit: how fast T threads can read a buffer as large
 * as what one generated token reads.
 */
#ifndef BENCH_BANDWIDTH_H
#define BENCH_BANDWIDTH_H

#include "bench.h"

/* ============================================================================
 * Memory read bandwidth: what one pass over the weights can cost at best
 *
 * T threads each stream their slice of a buffer (as the matrix products split rows), with
 * wide integer adds into independent accumulators so the loads are the only limit. The
 * best of several trials is the machine's figure. The buffer is as large as what one
 * token reads (at most 256 MiB, far past any cache): a model that fits in a cache is
 * measured against that cache.
 *
 * Two ceilings come of it. The parent probes before each file and at the end and keeps
 * the best (probe_bandwidth, best_bandwidth: "% best"); the measuring child probes right
 * before and right after each repetition's generation (measure_bandwidth, in bench.c's
 * paired_probe: "% paired"). The buffer is mapped for each probe and unmapped after it,
 * so it is never resident beside the measured model.
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
        fail("bandwidth probe: cannot map a buffer of %.0f MiB: %s", (double)size / MIB,
             strerror(errno));
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

/* The best figure for each buffer size and thread count seen so far. */
static bw_entry g_bw[MAX_ROWS * MAX_THREADS];
static int g_n_bw;

/* Probes again (before every file measured: on a shared machine the figure moves with
 * the neighbours' load) and keeps the best, which is what the machine can do. Returns
 * this probe's figure; 0 after a message. */
static double probe_bandwidth(size_t bytes, int threads)
{
    progress(0, "measuring read bandwidth over %.1f MiB with %d thread%s", (double)bytes / MIB,
             threads, threads > 1 ? "s" : "");
    double bw = measure_bandwidth(bytes, threads);
    for (int i = 0; i < g_n_bw; i++)
        if (g_bw[i].bytes == bytes && g_bw[i].threads == threads) {
            g_bw[i].bw = bw > g_bw[i].bw ? bw : g_bw[i].bw;
            return bw;
        }
    if (g_n_bw < (int)(sizeof g_bw / sizeof g_bw[0]))
        g_bw[g_n_bw++] = (bw_entry){bytes, threads, bw};
    return bw;
}

/* The best probe over `bytes` with `threads` (0 if never probed). */
static double best_bandwidth(size_t bytes, int threads)
{
    for (int i = 0; i < g_n_bw; i++)
        if (g_bw[i].bytes == bytes && g_bw[i].threads == threads)
            return g_bw[i].bw;
    return 0;
}

#endif /* BENCH_BANDWIDTH_H */
