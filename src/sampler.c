/*
 * sampler.c — logits in, one token out: penalties, top-k, top-p, min-p, temperature,
 * and a draw from its own random generator.
 *
 * The chain, in llama.cpp's default order for its common sampler (penalties, top_k,
 * top_p, min_p, temperature, dist):
 *
 *   1. penalties  over the last penalty_window remembered tokens (sampled or accepted):
 *                 repeat divides a positive logit and multiplies one <= 0, then
 *                 count * frequency + presence is subtracted; then DRY's penalty on
 *                 the tokens that would lengthen a verbatim repeat (below).
 *   2. top-k      the k best (logit descending, id ascending) by a bounded heap: one
 *                 comparison per token for most of the vocabulary, no sort of 152k.
 *   3. top-p      the shortest prefix of the kept set, best first, whose probability
 *                 (softmax over the kept set, temperature 1) reaches top_p.
 *   4. min-p      drops tokens whose probability is below min_p * p(best).
 *   5. temperature scales what is left; 6. one draw from it, renormalised.
 *
 * Temperature comes after top-p and min-p, as in llama.cpp since 2024, so that the two
 * cut-offs mean the same thing at every temperature: a hot sampler spreads the
 * probability among the tokens the model found plausible instead of letting the tail
 * in. It is also what a user comparing with llama.cpp under the same flags expects.
 * Temperature 0 is greedy: the argmax of the penalised logits, lowest id on ties, and
 * no random number is consumed. At temperature > 0 every sample consumes exactly one
 * draw (more only in the rejection case of the bounded draw: at most 40 * 2^-32 of the
 * time for a 40-token set), even when only one token is left, so sequences stay aligned.
 *
 * Determinism. The same seed and the same logits give the same token on every machine
 * and with any thread count (the sampler runs on the caller's thread):
 *   - the generator is xoshiro256** seeded by splitmix64, integer only;
 *   - ties are broken by id everywhere, so selection and ordering are total orders;
 *   - probabilities are integer weights, W = floor(2^32 * exp(x)) with x = (logit -
 *     best) / T <= 0, computed by our own exp from IEEE +, -, *, / and the exact
 *     floor and ldexp only (libm's exp promises no particular last bit, and glibc's
 *     x86 build dispatches to an FMA variant), with floating-point contraction off
 *     (ISO C mode for gcc; the pragma below for clang, which would otherwise fuse 21
 *     multiply-adds here) and, on the x87, its precision set to double while a token
 *     is drawn (see fpu_double_begin);
 *   - sums of weights are integer sums (order does not matter) and the draw picks an
 *     integer uniformly below the total (Lemire's multiply-and-reject), then walks the
 *     kept set best first.
 * The cost: a token whose weight at the temperature in use is below 2^-32 of the best
 * one's (about 22 nats below it) is never drawn; with top-p on, neither is one that far
 * below at temperature 1. Otherwise the draw is exact for those weights.
 *
 * DRY. The remembered tokens, reversed, are a string whose every suffix starting at k
 * shares a prefix with the whole: its length Z[k] is how far the text before position
 * n-1-k matches the text before the end, and the token at n-k is what followed that
 * match. The Z-algorithm finds every Z[k] in one pass, each comparison either extending
 * the rightmost match found so far or never repeated: linear in the window, however
 * repetitive the text (the direct search extends each earlier occurrence of the last
 * token backwards, quadratic in a run of one token). The reference engines cap the match
 * length for the same reason; a linear pass needs no cap. The penalty's power is taken by
 * squaring in double, a fixed sequence of IEEE products for a given length.
 *
 * Memory: every buffer is allocated at create, and sample never allocates nor fails on
 * valid input (at least one finite logit), except with a window of -1: the remembered
 * tokens then grow by doubling, and running out of memory is a status that leaves the
 * sampler as it was.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "internal.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* gcc: -std=c11 already implies -ffp-contract=off */
#endif

/* Used when the caller passes NULL params or keeps the default: fixed, so runs repeat. */
#define SAMPLER_DEFAULT_SEED 42u
/* A window beyond this many tokens is a mistake, not a wish (room for twice it: 128 MB). */
#define SAMPLER_MAX_WINDOW (1 << 24)
/* What a window of -1 starts with before its first doubling. */
#define HISTORY_FIRST_CAP 1024
/* Weights are fixed point with 32 fraction bits: the best token weighs 2^32. */
#define WEIGHT_ONE 4294967296.0

typedef struct candidate {
    float logit; /* after penalties */
    int32_t id;
} candidate;

struct latent_sampler {
    latent_sampler_params params;
    int32_t n_vocab;
    int32_t top_k;     /* 0 < top_k < n_vocab, or 0: every valid token is a candidate */
    candidate *cand;   /* (n_vocab) the working set: a heap, then the kept set */
    int32_t *counts;   /* (n_vocab) occurrences of each token in the penalty window; NULL:
                        * the penalties are off */
    /* The remembered tokens, oldest first, contiguous so that DRY reads them as a string.
     * A bounded history keeps `keep` tokens and has room for 2 * keep: when full, the
     * newest `keep` move to the front (amortised one copy per token). keep 0: unbounded
     * (a window of -1), and a full history doubles. NULL when nothing needs it. */
    int32_t *hist;
    size_t hist_len, hist_cap, keep;
    /* DRY, when on: */
    int32_t *dry_z;       /* (hist_cap) the Z-array of the reversed window */
    int32_t *dry_touched; /* (hist_cap) the tokens whose dry_penalty is set this draw */
    size_t n_touched;
    float *dry_penalty;   /* (n_vocab) this draw's penalty; 0 outside dry_touched */
    uint8_t *breaker;     /* (n_vocab) 1: a sequence breaker; NULL: there are none */
    uint64_t rng[4];   /* xoshiro256** state */
};

/* ============================================================================
 * Random numbers: splitmix64 for seeding, xoshiro256** for the stream
 * ========================================================================== */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* splitmix64's outputs are a bijection of its counter, so four in a row are never all
 * zero: any seed, 0 included, gives a valid xoshiro state. */
static void rng_seed(uint64_t s[4], uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        s[i] = splitmix64(&seed);
}

/* The 128-bit product a * b as high and low halves, in portable C11. */
static void mul64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
    uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
    *lo = (mid << 32) | (p00 & 0xffffffffu);
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

/* Uniform in [0, n), n > 0, without bias: floor(x * n / 2^64), rejecting the few x
 * whose low half falls in the 2^64 mod n leftover (Lemire 2019). */
static uint64_t rng_below(uint64_t s[4], uint64_t n)
{
    uint64_t hi, lo;
    mul64(rng_next(s), n, &hi, &lo);
    if (lo < n) {
        uint64_t leftover = (0 - n) % n;
        while (lo < leftover)
            mul64(rng_next(s), n, &hi, &lo);
    }
    return hi;
}

/* ============================================================================
 * Weights: floor(2^32 * exp(x)) for x <= 0, the same bits on every machine
 * ========================================================================== */

/* exp(x) for -23 <= x <= 0 from basic operations only: x = k ln2 + r with |r| <= ln2/2,
 * exp(r) by its Taylor series to r^13 (error below 2^-52 on that interval), then an
 * exact scaling by 2^k. ln2 is split so that k * LN2_HI is exact for |k| < 2^11. */
static double exp_portable(double x)
{
    static const double LN2_HI = 6.93147180369123816490e-01; /* 0x3fe62e42fee00000 */
    static const double LN2_LO = 1.90821492927058770002e-10;
    static const double INV_LN2 = 1.44269504088896338700e+00;
    double k = floor(x * INV_LN2 + 0.5);
    double r = (x - k * LN2_HI) - k * LN2_LO;
    double p = 1.0 / 6227020800.0; /* 1/13! */
    static const double inv_fact[13] = {
        1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0,
        1.0 / 5040.0,      1.0 / 720.0,      1.0 / 120.0,     1.0 / 24.0,     1.0 / 6.0,
        1.0 / 2.0,         1.0,              1.0,
    };
    for (int i = 0; i < 13; i++) {
        double t = p * r; /* two statements: never fused into an FMA */
        p = t + inv_fact[i];
    }
    return ldexp(p, (int)k);
}

/* The x87 (i386 without SSE2 math) computes in 64 mantissa bits and rounds a second time,
 * to 53, when it stores a double: about one exp_portable in 6,000 then ends a bit away
 * from IEEE double arithmetic, and a weight's floor can follow. So the draw runs with
 * the x87's precision control at 53 bits: every +, -, *, / then rounds once, to double,
 * as on SSE2 and NEON (nothing here comes near double's overflow or subnormal range,
 * where the x87's wider exponent would still differ). Floats are unaffected: rounding
 * first to 53 bits and then to 24 gives the single result. The control word belongs to
 * the thread and is restored before sample returns. */
#if defined(__i386__) && !defined(__SSE2_MATH__) && defined(__GNUC__)
typedef uint16_t fpu_state;
static fpu_state fpu_double_begin(void)
{
    uint16_t old, dbl;
    __asm__ volatile("fnstcw %0" : "=m"(old));
    dbl = (uint16_t)((old & ~0x0300u) | 0x0200u); /* precision control 10b: 53 bits */
    __asm__ volatile("fldcw %0" : : "m"(dbl) : "memory");
    return old;
}
static void fpu_double_end(fpu_state old)
{
    __asm__ volatile("fldcw %0" : : "m"(old) : "memory");
}
#else
typedef int fpu_state; /* every other FPU rounds each double operation once already */
static fpu_state fpu_double_begin(void) { return 0; }
static void fpu_double_end(fpu_state old) { (void)old; }
#endif

/* The fixed-point weight of a token x = (logit - best) / T nats below the best. */
static uint64_t weight(double x)
{
    if (!(x > -23.0)) /* exp(-23) * 2^32 < 1; also catches NaN */
        return 0;
    if (x >= 0.0)
        return (uint64_t)WEIGHT_ONE;
    double w = exp_portable(x) * WEIGHT_ONE;
    return w >= WEIGHT_ONE ? (uint64_t)WEIGHT_ONE : (uint64_t)w;
}

/* ============================================================================
 * Candidates: a total order (logit descending, then id ascending) and heaps on it
 * ========================================================================== */

static int better(candidate a, candidate b)
{
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

/* Min-heap on `better` (the root is the worst kept): restores the heap below i. */
static void sift_down_worst(candidate *h, int32_t n, int32_t i)
{
    candidate x = h[i];
    for (;;) {
        int32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && better(h[c], h[c + 1]))
            c++;
        if (!better(x, h[c]))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static void sift_up_worst(candidate *h, int32_t i)
{
    candidate x = h[i];
    while (i > 0) {
        int32_t parent = (i - 1) / 2;
        if (!better(h[parent], x))
            break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = x;
}

/* Max-heap on `better` (the root is the best). */
static void sift_down_best(candidate *h, int32_t n, int32_t i)
{
    candidate x = h[i];
    for (;;) {
        int32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && better(h[c + 1], h[c]))
            c++;
        if (!better(h[c], x))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static int passes_min_p(double x, double min_p_weight)
{
    return min_p_weight == 0.0 || (double)weight(x) >= min_p_weight;
}

/* Moves the best of the max-heap c[0, n) to c[n - 1] and restores the heap c[0, n - 1). */
static void pop_best(candidate *c, int32_t n)
{
    candidate top = c[0];
    c[0] = c[n - 1];
    c[n - 1] = top;
    sift_down_best(c, n - 1, 0);
}

/* ============================================================================
 * Parameters, create, free
 * ========================================================================== */

latent_sampler_params latent_sampler_default_params(void)
{
    latent_sampler_params p;
    memset(&p, 0, sizeof p);
    p.temperature = 0.8f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.repeat_penalty = 1.0f;
    p.frequency_penalty = 0.0f;
    p.presence_penalty = 0.0f;
    p.penalty_window = 64;
    p.seed = SAMPLER_DEFAULT_SEED;
    p.dry_multiplier = 0.0f;
    p.dry_base = 1.75f;
    p.dry_allowed_length = 2;
    p.dry_penalty_last_n = -1;
    return p;
}

static latent_status check_params(const latent_sampler_params *p)
{
    if (!(p->temperature >= 0.0f) || !isfinite(p->temperature))
        return lt_fail(LATENT_EINVAL, "sampler: temperature %g must be finite and >= 0",
                       (double)p->temperature);
    if (p->top_k < 0)
        return lt_fail(LATENT_EINVAL, "sampler: top_k %d must be >= 0 (0: off)", (int)p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return lt_fail(LATENT_EINVAL, "sampler: top_p %g must be in (0, 1] (1: off)",
                       (double)p->top_p);
    if (!(p->min_p >= 0.0f && p->min_p <= 1.0f))
        return lt_fail(LATENT_EINVAL, "sampler: min_p %g must be in [0, 1] (0: off)",
                       (double)p->min_p);
    if (!(p->repeat_penalty > 0.0f) || !isfinite(p->repeat_penalty))
        return lt_fail(LATENT_EINVAL, "sampler: repeat_penalty %g must be finite and > 0 (1: off)",
                       (double)p->repeat_penalty);
    if (!isfinite(p->frequency_penalty) || !isfinite(p->presence_penalty))
        return lt_fail(LATENT_EINVAL, "sampler: frequency_penalty %g and presence_penalty %g "
                       "must be finite", (double)p->frequency_penalty, (double)p->presence_penalty);
    if (p->penalty_window < -1 || p->penalty_window > SAMPLER_MAX_WINDOW)
        return lt_fail(LATENT_EINVAL, "sampler: penalty_window %d must be in [-1, %d] (-1: all)",
                       (int)p->penalty_window, SAMPLER_MAX_WINDOW);
    if (!(p->dry_multiplier >= 0.0f) || !isfinite(p->dry_multiplier))
        return lt_fail(LATENT_EINVAL, "sampler: dry_multiplier %g must be finite and >= 0 (0: off)",
                       (double)p->dry_multiplier);
    if (!(p->dry_base >= 1.0f) || !isfinite(p->dry_base))
        return lt_fail(LATENT_EINVAL, "sampler: dry_base %g must be finite and >= 1",
                       (double)p->dry_base);
    if (p->dry_allowed_length < 0 || p->dry_allowed_length > SAMPLER_MAX_WINDOW)
        return lt_fail(LATENT_EINVAL, "sampler: dry_allowed_length %d must be in [0, %d]",
                       (int)p->dry_allowed_length, SAMPLER_MAX_WINDOW);
    if (p->dry_penalty_last_n < -1 || p->dry_penalty_last_n > SAMPLER_MAX_WINDOW)
        return lt_fail(LATENT_EINVAL, "sampler: dry_penalty_last_n %d must be in [-1, %d] (-1: all)",
                       (int)p->dry_penalty_last_n, SAMPLER_MAX_WINDOW);
    return LATENT_OK;
}

static int penalties_on(const latent_sampler_params *p)
{
    return p->penalty_window != 0 &&
           (p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f);
}

static int dry_on(const latent_sampler_params *p)
{
    return p->dry_multiplier > 0.0f && p->dry_penalty_last_n != 0;
}

/* How many tokens the history must keep: the longest window in use; 0 for unbounded. */
static size_t history_keep(const latent_sampler_params *p)
{
    int32_t pen = penalties_on(p) ? p->penalty_window : 0;
    int32_t dry = dry_on(p) ? p->dry_penalty_last_n : 0;
    if (pen < 0 || dry < 0)
        return 0;
    return (size_t)(pen > dry ? pen : dry);
}

/* Allocates the history with room for `cap` tokens (and DRY's arrays of the same size),
 * copying what is held; on failure nothing changes. */
static latent_status history_resize(latent_sampler *s, size_t cap)
{
    int32_t *hist = lt_alloc(NULL, cap * sizeof *hist);
    int32_t *z = NULL, *touched = NULL;
    if (hist && s->dry_penalty) {
        z = lt_alloc(NULL, cap * sizeof *z);
        touched = lt_alloc(NULL, cap * sizeof *touched);
    }
    if (!hist || (s->dry_penalty && (!z || !touched))) {
        lt_free(NULL, hist);
        lt_free(NULL, z);
        lt_free(NULL, touched);
        return lt_fail(LATENT_ENOMEM, "sampler: no memory for %zu remembered tokens", cap);
    }
    if (s->hist_len)
        memcpy(hist, s->hist, s->hist_len * sizeof *hist);
    lt_free(NULL, s->hist);
    lt_free(NULL, s->dry_z);
    lt_free(NULL, s->dry_touched);
    s->hist = hist;
    s->dry_z = z;
    s->dry_touched = touched;
    s->hist_cap = cap;
    return LATENT_OK;
}

latent_status latent_sampler_create(int32_t n_vocab, const latent_sampler_params *params,
                                    latent_sampler **out)
{
    if (!out)
        return lt_fail(LATENT_EINVAL, "latent_sampler_create: out is NULL");
    *out = NULL;
    if (n_vocab <= 0)
        return lt_fail(LATENT_EINVAL, "latent_sampler_create: n_vocab %d must be > 0", (int)n_vocab);
    latent_sampler_params p = params ? *params : latent_sampler_default_params();
    latent_status st = check_params(&p);
    if (st != LATENT_OK)
        return st;

    latent_sampler *s = lt_calloc(NULL, 1, sizeof *s);
    if (!s)
        return LATENT_ENOMEM;
    s->params = p;
    s->n_vocab = n_vocab;
    s->top_k = p.top_k < n_vocab ? p.top_k : 0;
    s->cand = lt_alloc(NULL, (size_t)n_vocab * sizeof *s->cand);
    if (!s->cand)
        goto nomem;
    if (penalties_on(&p) && !(s->counts = lt_calloc(NULL, (size_t)n_vocab, sizeof *s->counts)))
        goto nomem;
    if (dry_on(&p) && !(s->dry_penalty = lt_calloc(NULL, (size_t)n_vocab, sizeof *s->dry_penalty)))
        goto nomem;
    if (s->counts || s->dry_penalty) {
        s->keep = history_keep(&p);
        if (history_resize(s, s->keep ? 2 * s->keep : HISTORY_FIRST_CAP) != LATENT_OK)
            goto nomem;
    }
    rng_seed(s->rng, p.seed);
    *out = s;
    return LATENT_OK;
nomem:
    latent_sampler_free(s);
    return LATENT_ENOMEM;
}

void latent_sampler_free(latent_sampler *s)
{
    if (!s)
        return;
    lt_free(NULL, s->cand);
    lt_free(NULL, s->counts);
    lt_free(NULL, s->hist);
    lt_free(NULL, s->dry_z);
    lt_free(NULL, s->dry_touched);
    lt_free(NULL, s->dry_penalty);
    lt_free(NULL, s->breaker);
    lt_free(NULL, s);
}

/* ============================================================================
 * The remembered tokens
 * ========================================================================== */

/* Makes room for one more token: a bounded history drops all but its newest `keep`, an
 * unbounded one doubles. Only the doubling can fail, and then nothing changes. */
static latent_status history_make_room(latent_sampler *s)
{
    if (!s->hist || s->hist_len < s->hist_cap)
        return LATENT_OK;
    if (s->keep) {
        memmove(s->hist, s->hist + s->hist_len - s->keep, s->keep * sizeof *s->hist);
        s->hist_len = s->keep;
        return LATENT_OK;
    }
    if (s->hist_cap > SIZE_MAX / (2 * sizeof *s->hist))
        return lt_fail(LATENT_ENOMEM, "sampler: %zu remembered tokens fill the address space",
                       s->hist_len);
    return history_resize(s, 2 * s->hist_cap);
}

/* Appends a token there is room for (history_make_room first). The penalty window slides:
 * the token penalty_window places back leaves the counts (a compaction always keeps it). */
static void history_push(latent_sampler *s, latent_token token)
{
    if (!s->hist || token < 0 || token >= s->n_vocab)
        return; /* never penalised: not worth remembering */
    s->hist[s->hist_len++] = token;
    if (!s->counts)
        return;
    s->counts[token]++;
    size_t w = (size_t)s->params.penalty_window;
    if (s->params.penalty_window > 0 && s->hist_len > w)
        s->counts[s->hist[s->hist_len - 1 - w]]--;
}

latent_status latent_sampler_accept(latent_sampler *s, latent_token token)
{
    if (!s)
        return lt_fail(LATENT_EINVAL, "latent_sampler_accept: NULL sampler");
    latent_status st = history_make_room(s);
    if (st == LATENT_OK)
        history_push(s, token);
    return st;
}

void latent_sampler_reset(latent_sampler *s, uint64_t seed)
{
    if (!s)
        return;
    if (s->counts) {
        size_t w = (size_t)s->params.penalty_window;
        size_t from = s->params.penalty_window > 0 && s->hist_len > w ? s->hist_len - w : 0;
        for (size_t i = from; i < s->hist_len; i++)
            s->counts[s->hist[i]] = 0;
    }
    s->hist_len = 0;
    rng_seed(s->rng, seed);
}

latent_status latent_sampler_set_dry_breaker_tokens(latent_sampler *s, const latent_token *tokens,
                                                    size_t n)
{
    if (!s || (n && !tokens))
        return lt_fail(LATENT_EINVAL, "latent_sampler_set_dry_breaker_tokens: NULL %s",
                       !s ? "sampler" : "tokens");
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= s->n_vocab)
            return lt_fail(LATENT_EINVAL, "sampler: breaker token %d is not in [0, %d)",
                           (int)tokens[i], (int)s->n_vocab);
    uint8_t *mark = n ? lt_calloc(NULL, (size_t)s->n_vocab, 1) : NULL;
    if (n && !mark)
        return LATENT_ENOMEM;
    for (size_t i = 0; i < n; i++)
        mark[tokens[i]] = 1;
    lt_free(NULL, s->breaker);
    s->breaker = mark;
    return LATENT_OK;
}

/* Whether needle (len bytes) occurs in hay (n bytes); pieces may hold NUL bytes. */
static int contains(const char *hay, size_t n, const char *needle, size_t len)
{
    for (size_t i = 0; i + len <= n; i++)
        if (memcmp(hay + i, needle, len) == 0)
            return 1;
    return 0;
}

latent_status latent_sampler_set_dry_breakers(latent_sampler *s, const latent_model *model,
                                              const char *const *texts, size_t n)
{
    if (!s || !model || (n && !texts))
        return lt_fail(LATENT_EINVAL, "latent_sampler_set_dry_breakers: NULL %s",
                       !s ? "sampler" : !model ? "model" : "texts");
    if (latent_n_vocab(model) != s->n_vocab)
        return lt_fail(LATENT_EINVAL, "sampler: the model has %d tokens, the sampler %d",
                       (int)latent_n_vocab(model), (int)s->n_vocab);
    for (size_t j = 0; j < n; j++)
        if (!texts[j] || !texts[j][0])
            return lt_fail(LATENT_EINVAL, "sampler: breaker %zu is empty", j);
    if (!n) {
        lt_free(NULL, s->breaker);
        s->breaker = NULL;
        return LATENT_OK;
    }
    size_t cap = 64;
    uint8_t *mark = lt_calloc(NULL, (size_t)s->n_vocab, 1);
    char *piece = lt_alloc(NULL, cap);
    latent_status st = mark && piece ? LATENT_OK : LATENT_ENOMEM;
    for (int32_t t = 0; t < s->n_vocab && st == LATENT_OK; t++) {
        size_t len = 0;
        st = latent_token_piece(model, t, piece, cap, &len);
        if (st == LATENT_ERANGE) { /* a long piece: grow to it and ask again */
            lt_free(NULL, piece);
            cap = len;
            piece = lt_alloc(NULL, cap);
            st = piece ? latent_token_piece(model, t, piece, cap, &len) : LATENT_ENOMEM;
        }
        for (size_t j = 0; j < n && st == LATENT_OK && !mark[t]; j++)
            mark[t] = (uint8_t)contains(piece, len, texts[j], strlen(texts[j]));
    }
    lt_free(NULL, piece);
    if (st != LATENT_OK) {
        lt_free(NULL, mark);
        return st;
    }
    lt_free(NULL, s->breaker);
    s->breaker = mark;
    return LATENT_OK;
}

/* ============================================================================
 * Sampling
 * ========================================================================== */

static float clamp_finite(float v)
{
    return v > FLT_MAX ? FLT_MAX : v < -FLT_MAX ? -FLT_MAX : v;
}

/* The logit of token i after the penalties; finite logits stay finite (a huge logit
 * that a penalty would push past FLT_MAX is clamped). */
static float penalised(const latent_sampler *s, const float *logits, int32_t i)
{
    float v = logits[i];
    int32_t c = s->counts ? s->counts[i] : 0;
    if (c > 0) {
        if (v <= 0.0f)
            v *= s->params.repeat_penalty;
        else
            v /= s->params.repeat_penalty;
        float scaled = (float)c * s->params.frequency_penalty;
        float sub = clamp_finite(scaled + s->params.presence_penalty);
        v = clamp_finite(clamp_finite(v) - sub); /* two finite floats: never NaN */
    }
    if (s->n_touched && s->dry_penalty[i] > 0.0f)
        v = clamp_finite(v - s->dry_penalty[i]);
    return v;
}

/* ============================================================================
 * DRY: the penalty on the token that would lengthen a verbatim repeat
 * ========================================================================== */

/* multiplier * base^(length - allowed) for a repeat of `length` tokens, as a finite float:
 * the power by squaring, the same products in the same order on every machine. */
static float dry_amount(const latent_sampler_params *p, int32_t length)
{
    int32_t e = length - p->dry_allowed_length;
    double power = 1.0, b = p->dry_base;
    while (e > 0 && power <= FLT_MAX) {
        if (e & 1)
            power *= b;
        e >>= 1;
        b *= b;
    }
    double amount = (double)p->dry_multiplier * power;
    return amount > FLT_MAX ? FLT_MAX : (float)amount;
}

/* The Z-array of the window w[0, n) read backwards (r[k] = w[n - 1 - k]): z[k] is the
 * length of the longest common prefix of r and r[k..], for 1 <= k < n. [lo, hi) is the
 * match reaching furthest right so far, r[lo, hi) = r[0, hi - lo); inside it z[k] starts
 * from what z[k - lo] already knows, so each comparison either moves hi right or ends a
 * loop: at most 2n comparisons in all. */
static void reversed_z(const int32_t *w, size_t n, int32_t *z)
{
    const int32_t *end = w + n - 1; /* r[k] = end[-k] */
    size_t lo = 0, hi = 0;
    for (size_t k = 1; k < n; k++) {
        size_t m = 0;
        if (k < hi) {
            m = (size_t)z[k - lo];
            if (m > hi - k)
                m = hi - k;
        }
        while (k + m < n && end[-(ptrdiff_t)m] == end[-(ptrdiff_t)(k + m)])
            m++;
        if (k + m > hi) {
            lo = k;
            hi = k + m;
        }
        z[k] = (int32_t)m;
    }
}

/* Sets dry_penalty for every token that followed an earlier copy of the text's end, by
 * the longest such copy (see the top of the file). The end's copy may not reach back
 * past a breaker, and a breaker itself is never penalised. */
static void dry_prepare(latent_sampler *s)
{
    const latent_sampler_params *p = &s->params;
    if (!s->dry_penalty || s->hist_len < 2)
        return;
    size_t n = s->hist_len;
    if (p->dry_penalty_last_n > 0 && n > (size_t)p->dry_penalty_last_n)
        n = (size_t)p->dry_penalty_last_n;
    const int32_t *w = s->hist + s->hist_len - n;
    size_t reach = 0; /* how many tokens at the end come before a breaker */
    while (reach < n && !(s->breaker && s->breaker[w[n - 1 - reach]]))
        reach++;
    size_t shortest = p->dry_allowed_length > 1 ? (size_t)p->dry_allowed_length : 1;
    if (reach < shortest)
        return;
    reversed_z(w, n, s->dry_z);
    for (size_t k = 1; k < n; k++) {
        size_t length = (size_t)s->dry_z[k] < reach ? (size_t)s->dry_z[k] : reach;
        int32_t next = w[n - k]; /* what followed the copy ending at w[n - 1 - k] */
        if (length < shortest || (s->breaker && s->breaker[next]))
            continue;
        float amount = dry_amount(p, (int32_t)length);
        if (s->dry_penalty[next] == 0.0f)
            s->dry_touched[s->n_touched++] = next;
        if (amount > s->dry_penalty[next])
            s->dry_penalty[next] = amount;
    }
}

static void dry_clear(latent_sampler *s)
{
    for (size_t i = 0; i < s->n_touched; i++)
        s->dry_penalty[s->dry_touched[i]] = 0.0f;
    s->n_touched = 0;
}

/* ============================================================================
 * Sampling
 * ========================================================================== */

static latent_status sample_greedy(latent_sampler *s, const float *logits, latent_token *out);
static latent_status sample_weighted(latent_sampler *s, const float *logits, latent_token *out);

latent_status latent_sampler_sample(latent_sampler *s, const float *logits, latent_token *out)
{
    if (!s || !logits || !out)
        return lt_fail(LATENT_EINVAL, "latent_sampler_sample: NULL %s",
                       !s ? "sampler" : !logits ? "logits" : "out");
    /* room for the chosen token first: after a failure the sampler is unchanged */
    latent_status st = history_make_room(s);
    if (st != LATENT_OK)
        return st;
    /* the asm's memory clobbers keep every double operation of the draw between the two */
    fpu_state fpu = fpu_double_begin();
    dry_prepare(s);
    if (s->params.temperature == 0.0f)
        st = sample_greedy(s, logits, out);
    else
        st = sample_weighted(s, logits, out);
    dry_clear(s);
    fpu_double_end(fpu);
    if (st == LATENT_OK)
        history_push(s, *out);
    return st;
}

/* Temperature 0: one pass, strict > keeps the lowest id among equals. */
static latent_status sample_greedy(latent_sampler *s, const float *logits, latent_token *out)
{
    const int32_t n = s->n_vocab;
    int32_t best = -1;
    float best_v = 0.0f;
    for (int32_t i = 0; i < n; i++) {
        if (!isfinite(logits[i]))
            continue;
        float v = penalised(s, logits, i);
        if (best < 0 || v > best_v) {
            best = i;
            best_v = v;
        }
    }
    if (best < 0)
        return lt_fail(LATENT_EINVAL, "latent_sampler_sample: all %d logits are NaN or infinite",
                       (int)n);
    *out = best;
    return LATENT_OK;
}

/* Temperature > 0: penalties, top-k, top-p, min-p, temperature and one draw. */
static latent_status sample_weighted(latent_sampler *s, const float *logits, latent_token *out)
{
    const latent_sampler_params *p = &s->params;
    const int32_t n = s->n_vocab;

    /* penalties and top-k: m candidates in cand[0, m), then arranged as a max-heap */
    candidate *c = s->cand;
    int32_t m = 0;
    if (s->top_k > 0) {
        const int32_t k = s->top_k;
        for (int32_t i = 0; i < n; i++) {
            if (!isfinite(logits[i]))
                continue;
            candidate x = {penalised(s, logits, i), i};
            if (m < k) {
                c[m] = x;
                sift_up_worst(c, m++);
            } else if (better(x, c[0])) {
                c[0] = x;
                sift_down_worst(c, m, 0);
            }
        }
    } else {
        for (int32_t i = 0; i < n; i++) {
            if (isfinite(logits[i])) {
                c[m].logit = penalised(s, logits, i);
                c[m].id = i;
                m++;
            }
        }
    }
    if (m == 0)
        return lt_fail(LATENT_EINVAL, "latent_sampler_sample: all %d logits are NaN or infinite",
                       (int)n);
    for (int32_t i = m / 2 - 1; i >= 0; i--)
        sift_down_best(c, m, i);
    const double best = c[0].logit;
    const double t = p->temperature;
    /* min-p on the fixed-point weights at temperature 1: W >= min_p * W(best) */
    const double min_p_weight = (double)p->min_p * WEIGHT_ONE;

    /* The kept set is always a prefix of the best-first order, and every sum below is an
     * integer sum, the same in any order. So only top-p has to pop tokens in order before
     * the draw; otherwise the total is summed straight off the heap array and the draw
     * pops lazily, as deep as the drawn token: O(n) plus its rank times log n, never a
     * sort of the vocabulary. Popped tokens collect at the end of cand, the best at
     * c[m - 1]. */
    int32_t heap = m, chosen = c[0].id;
    uint64_t total = 0, acc = 0;
    if (p->top_p < 1.0f) {
        uint64_t mass = 0, cum = 0;
        for (int32_t i = 0; i < m; i++)
            mass += weight((double)c[i].logit - best);
        const double top_p_mass = (double)p->top_p * (double)mass;
        while (heap > 0) {
            uint64_t w = weight((double)c[0].logit - best);
            if (heap < m && (w == 0 || (double)w < min_p_weight))
                break; /* min-p: every later token weighs no more */
            pop_best(c, heap--);
            cum += w;
            if ((double)cum >= top_p_mass)
                break;
        }
        for (int32_t j = m - 1; j >= heap; j--)
            total += weight(((double)c[j].logit - best) / t);
        uint64_t r = rng_below(s->rng, total);
        for (int32_t j = m - 1; j >= heap; j--) {
            acc += weight(((double)c[j].logit - best) / t);
            if (r < acc) {
                chosen = c[j].id;
                break;
            }
        }
    } else {
        for (int32_t i = 0; i < m; i++)
            if (passes_min_p(c[i].logit - best, min_p_weight))
                total += weight(((double)c[i].logit - best) / t);
        uint64_t r = rng_below(s->rng, total); /* total >= W(best) = 2^32 */
        while (heap > 0) {
            candidate top = c[0];
            pop_best(c, heap--);
            if (passes_min_p(top.logit - best, min_p_weight))
                acc += weight(((double)top.logit - best) / t);
            if (r < acc) {
                chosen = top.id;
                break;
            }
        }
    }
    *out = chosen;
    return LATENT_OK;
}
