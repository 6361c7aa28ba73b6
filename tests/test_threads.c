/*
 * test_threads.c — threads at both levels: several contexts on one model in parallel
 * threads, and the pool of threads inside one context (kernels/pool.h).
 *
 * A model is read-only once loaded, so contexts on it may run in parallel threads. Each
 * thread here generates from its own prompt with its own sampler; the tokens must be
 * exactly those of the same work done one after another.
 *
 * The pool: every piece of a task done exactly once, whatever joins and whenever; no
 * participant number used by two threads at once; a participant that stalls (as one the
 * scheduler takes away) delays nobody's result but its own piece; the caller alone when
 * no worker can come; pools started and stopped many times. A context's logits are bit
 * for bit the same with 1, 2, 3 and 4 threads, also while busy threads of this process
 * take the cores away at random moments. The default thread count follows the CPUs the
 * process may run on.
 *
 * Built with -fsanitize=thread (tests/run.sh tsan), this is also the data-race check.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#endif
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "harness.h"
#include "latent.h"
#include "pool.h"

#define N_THREADS 4
#define N_TOKENS 48

typedef struct job {
    const latent_model *model;
    int index;
    latent_token out[N_TOKENS];
    int n_out;
    latent_status status;
} job;

static void *work(void *arg)
{
    job *j = arg;
    latent_context *ctx = NULL;
    latent_sampler *s = NULL;
    latent_context_params cp = latent_context_default_params();
    cp.n_threads = 1;
    cp.kv_chunk = 16;
    latent_sampler_params sp = latent_sampler_default_params();
    sp.seed = 1000 + (uint64_t)j->index;
    j->n_out = 0;
    j->status = latent_context_create(j->model, &cp, &ctx);
    if (!j->status)
        j->status = latent_sampler_create(latent_n_vocab(j->model), &sp, &s);
    latent_token tok = latent_token_bos(j->model);
    for (int i = 0; !j->status && i < N_TOKENS; i++) {
        /* each thread starts from a different first token, so their texts differ */
        if (i == 1)
            tok = (latent_token)(300 + j->index * 17);
        if ((j->status = latent_eval(ctx, &tok, 1)))
            break;
        if ((j->status = latent_sampler_sample(s, latent_context_logits(ctx), &tok)))
            break;
        j->out[j->n_out++] = tok;
    }
    latent_sampler_free(s);
    latent_context_free(ctx);
    return NULL;
}

/* ---------------------------------------------------------------------------
 * The pool
 * ------------------------------------------------------------------------- */

#define POOL_THREADS 4
#define ITEMS 257

typedef struct pool_task {
    int n;                        /* participants asked for */
    int stall_participant;        /* this one sleeps inside its first item (-1: none) */
    _Atomic int64_t next;         /* the first item not taken */
    _Atomic int done[ITEMS];      /* times each item was done */
    _Atomic int in_use[POOL_THREADS + 2];
    _Atomic int bad_participant;  /* a number out of range, or two threads with one number */
} pool_task;

static atomic_uint busy_sink;
static _Atomic int participated[POOL_THREADS]; /* tasks each participant number took part in */

static void pool_task_part(void *arg, int participant)
{
    pool_task *t = arg;
    if (participant < 0 || participant >= t->n || participant >= POOL_THREADS ||
        atomic_exchange(&t->in_use[participant], 1) != 0) {
        atomic_store(&t->bad_participant, 1);
        return;
    }
    atomic_fetch_add(&participated[participant], 1);
    int stalled = 0;
    for (;;) {
        int64_t item = atomic_fetch_add(&t->next, 1);
        if (item >= ITEMS)
            break;
        if (participant == t->stall_participant && !stalled++)
            nanosleep(&(struct timespec){0, 2000000}, NULL);
        volatile unsigned work = 0;
        for (int k = 0; k < 200; k++) /* long enough for workers to overlap */
            work += (unsigned)k;
        atomic_fetch_add_explicit(&busy_sink, work, memory_order_relaxed);
        atomic_fetch_add(&t->done[item], 1);
    }
    atomic_store(&t->in_use[participant], 0);
}

/* Runs one task on pool with n participants; 1 when every item was done once. */
static int run_pool_task(lk_pool *pool, int n, int stall)
{
    static pool_task t;
    t.n = n;
    t.stall_participant = stall;
    atomic_store(&t.next, 0);
    for (int i = 0; i < ITEMS; i++)
        atomic_store(&t.done[i], 0);
    for (int i = 0; i < POOL_THREADS + 2; i++)
        atomic_store(&t.in_use[i], 0);
    atomic_store(&t.bad_participant, 0);
    lk_pool_run(pool, n, pool_task_part, &t);
    int once = 1;
    for (int i = 0; i < ITEMS; i++)
        once &= atomic_load(&t.done[i]) == 1;
    return once && !atomic_load(&t.bad_participant);
}

static void test_pool(void)
{
    static _Alignas(64) char mem[8192];
    CHECK(lk_pool_bytes(POOL_THREADS) <= sizeof mem, "pool bytes %zu", lk_pool_bytes(POOL_THREADS));
    lk_pool *pool = lk_pool_start(mem, POOL_THREADS);
    CHECK(pool && lk_pool_threads(pool) == POOL_THREADS, "a pool of %d threads", POOL_THREADS);
    if (!pool)
        return;
    /* many tasks back to back, each a different team size (over the pool's size too):
     * workers spinning, sleeping, late, joining or finding the task closed */
    int good = 0, runs = 0;
    for (int i = 0; i < 3000; i++, runs++)
        good += run_pool_task(pool, 1 + i % (POOL_THREADS + 1), -1);
    CHECK(good == runs, "%d of %d tasks had every item done once by well-numbered participants", good, runs);
    for (int p = 1; p < POOL_THREADS; p++)
        CHECK(atomic_load(&participated[p]) > 0, "no worker ever took part as number %d (of %d)", p, POOL_THREADS);
    /* pauses between tasks, so the workers fall asleep and must be woken */
    good = runs = 0;
    for (int i = 0; i < 20; i++, runs++) {
        nanosleep(&(struct timespec){0, 3000000}, NULL);
        good += run_pool_task(pool, POOL_THREADS, -1);
    }
    CHECK(good == runs, "after sleeping: %d of %d tasks right", good, runs);
    /* a participant that stalls inside an item, as one the scheduler took away: the others
     * take the rest; its item is waited for */
    good = runs = 0;
    for (int stall = 0; stall < POOL_THREADS; stall++)
        for (int i = 0; i < 5; i++, runs++)
            good += run_pool_task(pool, POOL_THREADS, stall);
    CHECK(good == runs, "with a stalled participant: %d of %d tasks right", good, runs);
    lk_pool_stop(pool);
    /* no workers at all: the caller does everything */
    pool = lk_pool_start(mem, 1);
    CHECK(pool && run_pool_task(pool, POOL_THREADS, -1), "a pool of one thread runs a task of 4 alone");
    CHECK(run_pool_task(NULL, POOL_THREADS, -1), "no pool: the caller alone");
    lk_pool_stop(pool);
    lk_pool_stop(NULL);
    /* started and stopped again and again, sometimes right after a task */
    good = 0;
    for (int i = 0; i < 50; i++) {
        pool = lk_pool_start(mem, 2 + i % 3);
        good += pool && (i % 2 || run_pool_task(pool, 2 + i % 3, -1));
        lk_pool_stop(pool);
    }
    CHECK(good == 50, "%d of 50 pools started, ran and stopped", good);
}

static void test_default_threads(void)
{
    int n = lk_default_threads();
#ifdef __linux__
    cpu_set_t all, one;
    CHECK(sched_getaffinity(0, sizeof all, &all) == 0, "sched_getaffinity");
    CHECK(n >= 1 && n <= CPU_COUNT(&all), "default threads %d, CPUs allowed %d", n, CPU_COUNT(&all));
    if (CPU_COUNT(&all) <= 4)
        CHECK(n == CPU_COUNT(&all), "default threads %d, CPUs allowed %d", n, CPU_COUNT(&all));
    int first = 0;
    while (first < CPU_SETSIZE && !CPU_ISSET(first, &all))
        first++;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    if (sched_setaffinity(0, sizeof one, &one) == 0) {
        int pinned = lk_default_threads();
        sched_setaffinity(0, sizeof all, &all);
        CHECK(pinned == 1, "pinned to one CPU, the default is %d threads", pinned);
    } else {
        SKIP("sched_setaffinity refused: the default thread count under a narrower mask");
    }
#else
    CHECK(n >= 1, "default threads %d", n);
#endif
}

/* ---------------------------------------------------------------------------
 * A context's threads: the same logits whatever their number and interleaving
 * ------------------------------------------------------------------------- */

#define PROMPT 200

static atomic_int spinning;

static void *busy(void *arg)
{
    (void)arg;
    volatile unsigned x = 0;
    while (atomic_load_explicit(&spinning, memory_order_relaxed))
        x++;
    return NULL;
}

/* The logits of every position of a PROMPT-token prompt in batches of 128 (large enough
 * that products and attention are split), or NULL. */
static float *prompt_logits(const latent_model *m, int threads)
{
    latent_context_params cp = latent_context_default_params();
    cp.n_threads = threads;
    cp.n_batch = 128;
    cp.all_logits = 1;
    latent_context *ctx = NULL;
    if (latent_context_create(m, &cp, &ctx) != LATENT_OK)
        return NULL;
    latent_token toks[PROMPT];
    for (int i = 0; i < PROMPT; i++)
        toks[i] = (latent_token)((i * 37 + 11) % latent_n_vocab(m));
    size_t n_vocab = (size_t)latent_n_vocab(m);
    float *out = malloc(PROMPT * n_vocab * sizeof *out);
    if (out && latent_eval(ctx, toks, PROMPT) == LATENT_OK) {
        for (size_t i = 0; i < PROMPT; i++)
            memcpy(out + i * n_vocab, latent_context_logits_at(ctx, i), n_vocab * sizeof *out);
    } else {
        free(out);
        out = NULL;
    }
    latent_context_free(ctx);
    return out;
}

/* The logits after each of GEN tokens generated one at a time (greedy): generation
 * switches between the team and one thread as it measures them (forward.c), every 32
 * tokens at least, so both ways are in these. NULL on failure. */
#define GEN 80

static float *generated_logits(const latent_model *m, int threads)
{
    latent_context_params cp = latent_context_default_params();
    cp.n_threads = threads;
    latent_context *ctx = NULL;
    if (latent_context_create(m, &cp, &ctx) != LATENT_OK)
        return NULL;
    size_t n_vocab = (size_t)latent_n_vocab(m);
    float *out = malloc(GEN * n_vocab * sizeof *out);
    latent_token tok = latent_token_bos(m);
    for (int i = 0; out && i < GEN; i++) {
        if (latent_eval(ctx, &tok, 1) != LATENT_OK) {
            free(out);
            out = NULL;
            break;
        }
        const float *l = latent_context_logits(ctx);
        memcpy(out + (size_t)i * n_vocab, l, n_vocab * sizeof *out);
        tok = 0;
        for (size_t v = 1; v < n_vocab; v++)
            if (l[v] > l[tok])
                tok = (latent_token)v;
    }
    latent_context_free(ctx);
    return out;
}

static void test_context_threads(const latent_model *m)
{
    float *gen_one = generated_logits(m, 1), *gen_two = generated_logits(m, 2);
    CHECK(gen_one && gen_two && memcmp(gen_one, gen_two, GEN * (size_t)latent_n_vocab(m) * sizeof(float)) == 0,
          "%d generated tokens: 2 threads' logits differ from 1 thread's", GEN);
    free(gen_one);
    free(gen_two);

    size_t bytes = PROMPT * (size_t)latent_n_vocab(m) * sizeof(float);
    float *one = prompt_logits(m, 1);
    CHECK(one != NULL, "one thread: %s", latent_last_error());
    for (int threads = 2; one && threads <= 4; threads++) {
        float *many = prompt_logits(m, threads);
        CHECK(many && memcmp(one, many, bytes) == 0, "%d threads: logits differ from 1 thread's", threads);
        free(many);
    }
    /* two busy threads beside a context of 4 on this process: its threads are taken away
     * and given back at moments that differ from run to run */
    pthread_t th[2];
    int started = 0;
    atomic_store(&spinning, 1);
    for (int i = 0; i < 2; i++)
        started += pthread_create(&th[i], NULL, busy, NULL) == 0;
    int same = 0;
    for (int r = 0; one && r < 3; r++) {
        float *many = prompt_logits(m, 4);
        same += many && memcmp(one, many, bytes) == 0;
        free(many);
    }
    atomic_store(&spinning, 0);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    CHECK(same == 3, "with busy threads beside it: %d of 3 runs of 4 threads gave 1 thread's logits", same);
    free(one);
}

int main(void)
{
    test_pool();
    test_default_threads();
    const char *path = test_data_path("models/stories260K.gguf");
    if (!path)
        return test_done();
    latent_model *m = NULL;
    CHECK(latent_model_load(path, NULL, &m) == LATENT_OK, "load: %s", latent_last_error());
    if (!m)
        return test_done();
    test_context_threads(m);
    job serial[N_THREADS], parallel[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        serial[i] = (job){.model = m, .index = i};
        work(&serial[i]);
        parallel[i] = (job){.model = m, .index = i};
    }
    pthread_t th[N_THREADS];
    int started = 0;
    for (int i = 0; i < N_THREADS; i++)
        started += pthread_create(&th[i], NULL, work, &parallel[i]) == 0;
    CHECK(started == N_THREADS, "started %d threads", started);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    int distinct = 0;
    for (int i = 0; i < N_THREADS; i++) {
        CHECK(serial[i].status == LATENT_OK && parallel[i].status == LATENT_OK, "thread %d: %s / %s", i,
              latent_status_str(serial[i].status), latent_status_str(parallel[i].status));
        CHECK(serial[i].n_out == N_TOKENS && parallel[i].n_out == N_TOKENS &&
                  memcmp(serial[i].out, parallel[i].out, sizeof serial[i].out) == 0,
              "thread %d: parallel tokens differ from serial", i);
        distinct += i > 0 && memcmp(serial[i].out, serial[0].out, sizeof serial[0].out) != 0;
    }
    CHECK(distinct == N_THREADS - 1, "the threads' texts should differ (%d of %d do)", distinct, N_THREADS - 1);
    latent_model_free(m);
    return test_done();
}
