/*
 * pool.c — the threads of a context (pool.h says what they promise).
 *
 * One word of state says everything a worker needs to join the current task: which task
 * it is (a generation number), how many workers it wants, how many have joined and left,
 * and whether the caller has closed it. Joining is a compare-and-swap on that word, so
 * a worker either joins an open task or finds it closed and keeps out; the caller closes
 * it when its own part returns (by then every piece has been taken) and waits only while
 * joined != left.
 *
 * Sleeping uses one mutex and two condition variables. Each side announces itself in an
 * atomic counter before it checks the state a last time under the mutex, and the other
 * side changes the state before it reads the counter, both sequentially consistent: one
 * of the two always sees the other, so no wake-up is lost, and when nobody sleeps no
 * mutex is touched.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif

#include "pool.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* How long a worker waits for the next task before it sleeps: longer than the serial
 * steps between two products of a token (norms, rope, the residual), shorter than what a
 * program does between tokens. How long the caller waits for the last participants
 * before it sleeps: about one piece of a product. */
#define WORKER_SPIN_NS 50000
#define CALLER_SPIN_NS 20000

/* The state word: left | joined << 12 | want << 24 | closed << 36 | generation << 37.
 * 12 bits hold any team up to 4095 workers (contexts allow 1024 threads). */
#define FIELD_BITS 12
#define FIELD_MASK ((1u << FIELD_BITS) - 1)
#define JOINED_SHIFT FIELD_BITS
#define WANT_SHIFT (2 * FIELD_BITS)
#define CLOSED ((uint64_t)1 << (3 * FIELD_BITS))
#define GEN_SHIFT (3 * FIELD_BITS + 1)
#define MAX_POOL_THREADS 1024

static unsigned left_of(uint64_t s) { return (unsigned)s & FIELD_MASK; }
static unsigned joined_of(uint64_t s) { return (unsigned)(s >> JOINED_SHIFT) & FIELD_MASK; }
static unsigned want_of(uint64_t s) { return (unsigned)(s >> WANT_SHIFT) & FIELD_MASK; }
static uint64_t gen_of(uint64_t s) { return s >> GEN_SHIFT; }

struct lk_pool {
    _Alignas(64) _Atomic uint64_t state;
    _Atomic(lk_task) task; /* the open task: written before its state is published */
    _Atomic(void *) arg;
    _Alignas(64) atomic_int sleeping; /* workers asleep on `wake`, or about to be */
    atomic_int caller_asleep;         /* the caller sleeps on `done`, or is about to */
    atomic_int stopping;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* workers: a new task, or stop */
    pthread_cond_t done; /* the caller: the last participant left */
    int n_threads;       /* asked for, the caller included */
    int n_started;       /* workers running */
    pthread_t workers[];
};

/* ---------------------------------------------------------------------------
 * Waiting
 * ------------------------------------------------------------------------- */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__arm__) && defined(__ARM_ARCH) && __ARM_ARCH >= 7)
    __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spins until ready(pool, token) or for about ns nanoseconds; returns ready's last answer. */
typedef int (*ready_fn)(lk_pool *pool, uint64_t token);

static int spin_until(lk_pool *pool, ready_fn ready, uint64_t token, int64_t ns)
{
    int64_t start = 0;
    for (unsigned i = 1;; i++) {
        if (ready(pool, token))
            return 1;
        cpu_relax();
        if (i % 64 == 0) { /* the clock costs more than a relax: read it now and then */
            int64_t t = now_ns();
            if (!start)
                start = t;
            else if (t - start > ns)
                return ready(pool, token);
        }
    }
}

static int task_posted(lk_pool *pool, uint64_t seen_gen)
{
    return gen_of(atomic_load(&pool->state)) != seen_gen || atomic_load(&pool->stopping);
}

static int all_left(lk_pool *pool, uint64_t unused)
{
    (void)unused;
    uint64_t s = atomic_load(&pool->state);
    return left_of(s) == joined_of(s);
}

/* ---------------------------------------------------------------------------
 * Workers
 * ------------------------------------------------------------------------- */

static void await_task(lk_pool *pool, uint64_t seen_gen)
{
    if (spin_until(pool, task_posted, seen_gen, WORKER_SPIN_NS))
        return;
    pthread_mutex_lock(&pool->lock);
    atomic_fetch_add(&pool->sleeping, 1);
    while (!task_posted(pool, seen_gen))
        pthread_cond_wait(&pool->wake, &pool->lock);
    atomic_fetch_sub(&pool->sleeping, 1);
    pthread_mutex_unlock(&pool->lock);
}

/* Joins task `gen` if it is still open and wants more workers: 1 and the participant
 * number, or 0. */
static int join(lk_pool *pool, uint64_t gen, int *participant)
{
    uint64_t s = atomic_load(&pool->state);
    for (;;) {
        if (gen_of(s) != gen || (s & CLOSED) || joined_of(s) >= want_of(s))
            return 0;
        if (atomic_compare_exchange_weak(&pool->state, &s, s + ((uint64_t)1 << JOINED_SHIFT))) {
            *participant = (int)joined_of(s) + 1;
            return 1;
        }
    }
}

static void leave(lk_pool *pool)
{
    uint64_t s = atomic_fetch_add(&pool->state, 1) + 1;
    if ((s & CLOSED) && left_of(s) == joined_of(s) && atomic_load(&pool->caller_asleep)) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_signal(&pool->done);
        pthread_mutex_unlock(&pool->lock);
    }
}

static void *worker_main(void *p)
{
    lk_pool *pool = p;
    uint64_t seen = gen_of(atomic_load(&pool->state));
    for (;;) {
        await_task(pool, seen);
        if (atomic_load(&pool->stopping))
            return NULL;
        seen = gen_of(atomic_load(&pool->state));
        int participant;
        if (!join(pool, seen, &participant))
            continue;
        lk_task task = atomic_load_explicit(&pool->task, memory_order_relaxed);
        void *arg = atomic_load_explicit(&pool->arg, memory_order_relaxed);
        task(arg, participant);
        leave(pool);
    }
}

/* ---------------------------------------------------------------------------
 * The caller's side
 * ------------------------------------------------------------------------- */

static void post(lk_pool *pool, unsigned want, lk_task task, void *arg)
{
    atomic_store_explicit(&pool->task, task, memory_order_relaxed);
    atomic_store_explicit(&pool->arg, arg, memory_order_relaxed);
    uint64_t gen = gen_of(atomic_load(&pool->state)) + 1;
    atomic_store(&pool->state, gen << GEN_SHIFT | (uint64_t)want << WANT_SHIFT);
    int asleep = atomic_load(&pool->sleeping);
    if (asleep > 0) {
        pthread_mutex_lock(&pool->lock);
        for (int i = 0; i < asleep && i < (int)want; i++)
            pthread_cond_signal(&pool->wake);
        pthread_mutex_unlock(&pool->lock);
    }
}

static void close_and_wait(lk_pool *pool)
{
    uint64_t s = atomic_fetch_or(&pool->state, CLOSED);
    if (left_of(s) == joined_of(s) || spin_until(pool, all_left, 0, CALLER_SPIN_NS))
        return;
    pthread_mutex_lock(&pool->lock);
    atomic_store(&pool->caller_asleep, 1);
    while (!all_left(pool, 0))
        pthread_cond_wait(&pool->done, &pool->lock);
    atomic_store(&pool->caller_asleep, 0);
    pthread_mutex_unlock(&pool->lock);
}

void lk_pool_run(lk_pool *pool, int n, lk_task task, void *arg)
{
    if (!pool || n <= 1 || pool->n_started == 0) {
        task(arg, 0);
        return;
    }
    unsigned want = (unsigned)(n - 1 < pool->n_started ? n - 1 : pool->n_started);
    post(pool, want, task, arg);
    task(arg, 0);
    close_and_wait(pool);
}

/* ---------------------------------------------------------------------------
 * Starting and stopping
 * ------------------------------------------------------------------------- */

size_t lk_pool_bytes(int n_threads)
{
    if (n_threads < 1)
        n_threads = 1;
    if (n_threads > MAX_POOL_THREADS)
        n_threads = MAX_POOL_THREADS;
    size_t bytes = sizeof(lk_pool) + (size_t)(n_threads - 1) * sizeof(pthread_t);
    return (bytes + 63) / 64 * 64;
}

lk_pool *lk_pool_start(void *mem, int n_threads)
{
    if (!mem)
        return NULL;
    if (n_threads < 1)
        n_threads = 1;
    if (n_threads > MAX_POOL_THREADS)
        n_threads = MAX_POOL_THREADS;
    lk_pool *pool = mem;
    atomic_init(&pool->state, 0);
    atomic_init(&pool->task, NULL);
    atomic_init(&pool->arg, NULL);
    atomic_init(&pool->sleeping, 0);
    atomic_init(&pool->caller_asleep, 0);
    atomic_init(&pool->stopping, 0);
    pool->n_threads = n_threads;
    pool->n_started = 0;
    if (pthread_mutex_init(&pool->lock, NULL) != 0)
        return NULL;
    if (pthread_cond_init(&pool->wake, NULL) != 0) {
        pthread_mutex_destroy(&pool->lock);
        return NULL;
    }
    if (pthread_cond_init(&pool->done, NULL) != 0) {
        pthread_cond_destroy(&pool->wake);
        pthread_mutex_destroy(&pool->lock);
        return NULL;
    }
    /* the workers block every signal: the program's handlers run in its own threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < n_threads - 1; i++) {
        if (pthread_create(&pool->workers[pool->n_started], NULL, worker_main, pool) != 0)
            break;
        pool->n_started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pool;
}

void lk_pool_stop(lk_pool *pool)
{
    if (!pool)
        return;
    atomic_store(&pool->stopping, 1);
    pthread_mutex_lock(&pool->lock);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->n_started; i++)
        pthread_join(pool->workers[i], NULL);
    pool->n_started = 0;
    pthread_cond_destroy(&pool->done);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
}

int lk_pool_threads(const lk_pool *pool)
{
    return pool ? pool->n_threads : 1;
}

/* ---------------------------------------------------------------------------
 * The default number of threads
 * ------------------------------------------------------------------------- */

#ifdef __linux__
/* -1 when the file is missing or holds no number */
static long read_topology(int cpu, const char *field)
{
    char path[96];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/%s", cpu, field);
    FILE *f = fopen(path, "r");
    long v = -1;
    if (f) {
        if (fscanf(f, "%ld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

/* Distinct (package, core) pairs among the CPUs of `set`; 0 when the topology is unknown. */
static int physical_cores(const cpu_set_t *set)
{
    int seen[CPU_SETSIZE][2]; /* 8 KiB: on the stack, as contexts are made in several threads */
    int n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, set))
            continue;
        long package = read_topology(cpu, "physical_package_id"), core = read_topology(cpu, "core_id");
        if (package < 0 || core < 0 || package > INT_MAX || core > INT_MAX)
            return 0;
        int known = 0;
        for (int i = 0; i < n && !known; i++)
            known = seen[i][0] == package && seen[i][1] == core;
        if (!known) {
            seen[n][0] = (int)package;
            seen[n][1] = (int)core;
            n++;
        }
    }
    return n;
}
#endif

int lk_default_threads(void)
{
    int n = 0;
#ifdef __linux__
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = CPU_COUNT(&set);
    if (n > 4) {
        int physical = physical_cores(&set);
        if (physical > 0 && physical < n)
            n = physical;
    }
#endif
    if (n < 1) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (int)online : 1;
    }
    return n < MAX_POOL_THREADS ? n : MAX_POOL_THREADS;
}
