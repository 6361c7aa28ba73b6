/*
 * internal.h — what every file under src/ shares: errors, logging, and the one place
 * bytes are allocated. Never included by kernels/ (arrows point down) or by users.
 */
#ifndef LT_INTERNAL_H
#define LT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "latent_gguf.h"

#if defined(__GNUC__)
#define LT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LT_PRINTF(f, a)
#endif

/* ---- errors and logging (latent.c) ---- */

/* Records the message as the thread's last error, logs it at DEBUG, returns `status`:
 * `return lt_fail(LATENT_EFORMAT, "tensor '%s': offset %llu past the end", ...);` */
latent_status lt_fail(latent_status status, const char *fmt, ...) LT_PRINTF(2, 3);
/* Keeps the last error but prefixes it with context: "loading model.gguf: <old>". */
latent_status lt_fail_prefix(latent_status status, const char *fmt, ...) LT_PRINTF(2, 3);
void lt_log(latent_log_level level, const char *fmt, ...) LT_PRINTF(2, 3);

/* ---- allocation (alloc.c) ----
 * A budget is an optional limit on the bytes one object (a model, a context) holds.
 * Every allocation is counted against the budget it names (NULL: only the process-wide
 * counters) and can be failed on purpose through latent_debug_fail_allocation().
 * On failure these return NULL and set the last error to an LATENT_ENOMEM message;
 * callers return LATENT_ENOMEM. A budget is not thread-safe: one object, one thread. */
typedef struct lt_budget {
    size_t limit; /* 0: no limit */
    size_t used;
    size_t peak;
} lt_budget;

void *lt_alloc(lt_budget *budget, size_t size);
void *lt_calloc(lt_budget *budget, size_t count, size_t size); /* zeroed, overflow-checked */
/* lt_alloc of n elements of `size` bytes, refused (ENOMEM) when the product overflows. */
void *lt_alloc_array(lt_budget *budget, size_t n, size_t size);
/* On failure the old block is untouched and still owned by the caller. */
void *lt_realloc(lt_budget *budget, void *ptr, size_t size);
void lt_free(lt_budget *budget, void *ptr);
/* Bytes that lt_alloc(size) would charge (the request plus bookkeeping). */
size_t lt_alloc_cost(size_t size);
/* 1 if `size` more bytes would fit the budget (no allocation is made). */
int lt_budget_fits(const lt_budget *budget, size_t size);
char *lt_strndup(lt_budget *budget, const char *s, size_t n);

/* ---- GGUF (gguf.c) ---- */
/* Bytes of one scalar metadata value of `type`; 0 for string, array and unknown ids. */
uint64_t lt_gguf_scalar_size(uint32_t type);
/* latent_gguf_open, choosing whether to map (1) or read the file into memory (0). */
latent_status lt_gguf_open(const char *path, int use_mmap, latent_gguf **out);

/* ---- overflow-safe arithmetic ---- */
static inline int lt_add_overflows(uint64_t a, uint64_t b, uint64_t *sum)
{
    *sum = a + b;
    return *sum < a;
}
static inline int lt_mul_overflows(uint64_t a, uint64_t b, uint64_t *prod)
{
    if (a != 0 && b > UINT64_MAX / a)
        return 1;
    *prod = a * b;
    return 0;
}

#endif /* LT_INTERNAL_H */
