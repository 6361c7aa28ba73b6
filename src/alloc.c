/*
 * alloc.c — the one place liblatent allocates bytes.
 *
 * Each block carries a small header with its size, so frees need no size and budgets
 * stay exact. The process-wide counters and the failure injection are atomics: several
 * contexts may allocate from several threads at once.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* 16 bytes keeps the payload aligned as malloc's is on every target we build for. */
typedef union block_header {
    size_t size;
    max_align_t align;
} block_header;

static atomic_size_t heap_bytes;
static atomic_size_t heap_peak;
static atomic_long allocation_count;
static atomic_long fail_at; /* allocation_count value that fails; 0 = never */

size_t latent_heap_bytes(void) { return atomic_load(&heap_bytes); }
size_t latent_heap_peak_bytes(void) { return atomic_load(&heap_peak); }
latent_status latent_test_control(latent_test_op op, long value, long *out)
{
    switch (op) {
    case LATENT_TEST_FAIL_ALLOCATION:
        atomic_store(&fail_at, value > 0 ? atomic_load(&allocation_count) + value : 0);
        return LATENT_OK;
    case LATENT_TEST_ALLOCATION_COUNT:
        if (!out)
            return lt_fail(LATENT_EINVAL, "latent_test_control: LATENT_TEST_ALLOCATION_COUNT needs out");
        *out = atomic_load(&allocation_count);
        return LATENT_OK;
    }
    return lt_fail(LATENT_EINVAL, "latent_test_control: unknown op %d", (int)op);
}

size_t lt_alloc_cost(size_t size)
{
    return size > SIZE_MAX - sizeof(block_header) ? SIZE_MAX : size + sizeof(block_header);
}

int lt_budget_fits(const lt_budget *budget, size_t size)
{
    if (!budget || budget->limit == 0)
        return 1;
    size_t cost = lt_alloc_cost(size);
    return budget->used <= budget->limit && cost <= budget->limit - budget->used;
}

static int injected_failure(void)
{
    long n = atomic_fetch_add(&allocation_count, 1) + 1;
    long f = atomic_load(&fail_at);
    if (f != 0 && n == f) {
        atomic_store(&fail_at, 0);
        return 1;
    }
    return 0;
}

static void count(lt_budget *budget, size_t cost, int sign)
{
    if (sign > 0) {
        size_t now = atomic_fetch_add(&heap_bytes, cost) + cost;
        size_t peak = atomic_load(&heap_peak);
        while (now > peak && !atomic_compare_exchange_weak(&heap_peak, &peak, now)) {
        }
        if (budget) {
            budget->used += cost;
            if (budget->used > budget->peak)
                budget->peak = budget->used;
        }
    } else {
        atomic_fetch_sub(&heap_bytes, cost);
        if (budget)
            budget->used -= cost;
    }
}

static void *refuse(size_t size, const char *why)
{
    lt_fail(LATENT_ENOMEM, "out of memory: %s %zu bytes", why, size);
    return NULL;
}

void *lt_alloc(lt_budget *budget, size_t size)
{
    if (injected_failure())
        return refuse(size, "failure injected while allocating");
    if (size > SIZE_MAX - sizeof(block_header))
        return refuse(size, "cannot allocate");
    if (!lt_budget_fits(budget, size))
        return refuse(size, "the memory budget has no room for");
    block_header *h = malloc(sizeof *h + size);
    if (!h)
        return refuse(size, "the system refused");
    h->size = size;
    count(budget, lt_alloc_cost(size), +1);
    return h + 1;
}

void *lt_alloc_array(lt_budget *budget, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        lt_fail(LATENT_ENOMEM, "out of memory: %zu elements of %zu bytes", n, size);
        return NULL;
    }
    return lt_alloc(budget, n * size);
}

void *lt_calloc(lt_budget *budget, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        injected_failure(); /* still an attempt, so injection counts stay predictable */
        return refuse(SIZE_MAX, "cannot allocate");
    }
    void *p = lt_alloc(budget, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *lt_realloc(lt_budget *budget, void *ptr, size_t size)
{
    if (!ptr)
        return lt_alloc(budget, size);
    block_header *old = (block_header *)ptr - 1;
    size_t old_size = old->size;
    if (injected_failure())
        return refuse(size, "failure injected while allocating");
    if (size > SIZE_MAX - sizeof(block_header))
        return refuse(size, "cannot allocate");
    /* only the growth is charged: the header is already paid for */
    if (size > old_size && budget && budget->limit &&
        (budget->used > budget->limit || size - old_size > budget->limit - budget->used))
        return refuse(size - old_size, "the memory budget has no room for");
    block_header *h = realloc(old, sizeof *h + size);
    if (!h)
        return refuse(size, "the system refused");
    count(budget, lt_alloc_cost(old_size), -1);
    h->size = size;
    count(budget, lt_alloc_cost(size), +1);
    return h + 1;
}

void lt_free(lt_budget *budget, void *ptr)
{
    if (!ptr)
        return;
    block_header *h = (block_header *)ptr - 1;
    count(budget, lt_alloc_cost(h->size), -1);
    free(h);
}

char *lt_strndup(lt_budget *budget, const char *s, size_t n)
{
    char *d = lt_alloc(budget, n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}
