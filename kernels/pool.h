/*
 * pool.h — the threads of one context, and the row shares that split a product between
 * whichever of them are running.
 *
 * A context owns a pool of n - 1 workers; the thread that evaluates is the n-th. An
 * operation is a task run by up to n participants at once, each taking pieces of the work
 * until none is left. On a device where other programs want the cores too, the scheduler
 * takes a worker away for a whole time slice now and then. An operation must not wait for
 * it: a worker that has not joined by the time the work is gone never joins (it finds the
 * task closed), so the caller waits only for participants that are inside, and those hold
 * at most one piece. Both kinds of waiting, a worker for the next task and the caller for
 * the last pieces, spin for a few microseconds (operations follow one another that
 * closely while a token is computed) and then sleep, so that a waiting thread gives its
 * core to the thread it waits for instead of holding it for a slice.
 *
 * Which participant computed which piece never changes a result: a piece is computed
 * whole by whoever took it, with the same operations.
 */
#ifndef LK_POOL_H
#define LK_POOL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lk_pool lk_pool;

/* One participant's part of a task: `participant` is 0 for the caller and 1..n-1 for the
 * workers that joined, each number used by one thread at a time (it may index
 * per-thread scratch). The task must finish the work with any number of participants,
 * the caller alone included. */
typedef void (*lk_task)(void *arg, int participant);

/* The threads a context uses when none are asked for: the cores this process may run on
 * (sched_getaffinity) and, where that is more than 4, the physical cores among them
 * (hyperthreads share a core's load and multiply units, which a product keeps busy). */
int lk_default_threads(void);

/* Bytes of a pool for n_threads threads (the caller included); 64-byte aligned memory. */
size_t lk_pool_bytes(int n_threads);
/* Starts n_threads - 1 workers in mem and returns the pool. A worker the system refuses
 * to start is simply missing: the others (or the caller) take its part. */
lk_pool *lk_pool_start(void *mem, int n_threads);
/* Stops and joins the workers; mem may then be freed. NULL is a no-op. */
void lk_pool_stop(lk_pool *pool);
/* Threads the pool was made for (the caller included); 1 for NULL. */
int lk_pool_threads(const lk_pool *pool);
/* Runs task on the calling thread and on up to n - 1 workers; returns when the caller's
 * part has returned and every worker that joined has left. pool NULL or n <= 1: the
 * caller alone, without touching the pool. Not reentrant: a task must not run another
 * task on the same pool with n > 1. */
void lk_pool_run(lk_pool *pool, int n, lk_task task, void *arg);

/* ---------------------------------------------------------------------------
 * Row shares: how a product's rows are split so that no participant waits for another
 * ------------------------------------------------------------------------- */

/* Participant c starts on its own contiguous share and takes it a piece at a time from
 * the front; when it is done it takes pieces from the back of the others' shares. A
 * participant slowed by a neighbour (memory bandwidth is shared) or taken away by the
 * scheduler then leaves its rows to the others, and each share is still read as one
 * stream from the front. A row is computed whole by whichever thread took it, so the
 * result does not depend on who did. */
#define MAX_SHARES 64

typedef struct row_share {
    _Alignas(64) _Atomic uint64_t left; /* the rows not yet taken: first | end << 32 */
} row_share;

/* Shares of n_rows rows (< 2^32) for n participants (n <= MAX_SHARES). */
static inline void row_shares_init(row_share *shares, int n, int64_t rows)
{
    for (int c = 0; c < n; c++) {
        uint64_t first = (uint64_t)(rows * c / n), end = (uint64_t)(rows * (c + 1) / n);
        atomic_init(&shares[c].left, first | end << 32);
    }
}

/* Takes up to `piece` rows from the front (or the back) of what is left of a share:
 * [*r0, *r1), or 0 when nothing is left. */
static inline int row_share_take(row_share *share, int64_t piece, int from_back, int64_t *r0, int64_t *r1)
{
    uint64_t left = atomic_load_explicit(&share->left, memory_order_relaxed);
    for (;;) {
        int64_t first = (int64_t)(left & 0xFFFFFFFFu), end = (int64_t)(left >> 32);
        if (first >= end)
            return 0;
        int64_t n = end - first < piece ? end - first : piece;
        uint64_t rest = from_back ? (uint64_t)first | (uint64_t)(end - n) << 32
                                  : (uint64_t)(first + n) | (uint64_t)end << 32;
        if (atomic_compare_exchange_weak_explicit(&share->left, &left, rest, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *r0 = from_back ? end - n : first;
            *r1 = from_back ? end : first + n;
            return 1;
        }
    }
}

/* The next piece for participant c of n: from its own share (*k == 0), then from the
 * others' (*k counts the shares emptied; start it at 0). 0 when every share is empty. */
static inline int row_shares_next(row_share *shares, int n, int c, int64_t piece, int *k, int64_t *r0,
                                  int64_t *r1)
{
    for (; *k < n; ++*k)
        if (row_share_take(&shares[(c + *k) % n], piece, *k > 0, r0, r1))
            return 1;
    return 0;
}

/* Participants worth having for a product of `rows` rows with `wanted` threads. */
static inline int row_shares_count(int wanted, int64_t rows)
{
    int n = wanted > 1 ? wanted : 1;
    if (n > rows)
        n = (int)rows;
    if (n > MAX_SHARES)
        n = MAX_SHARES;
    if (rows > (int64_t)UINT32_MAX || n < 1) /* a share holds row numbers in 32 bits */
        n = 1;
    return n;
}

#endif /* LK_POOL_H */
