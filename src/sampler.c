/*
 * sampler.c — logits in, one token out: penalties, top-k, top-p, min-p, temperature,
 * and a draw from its own random generator.
 *
 * The chain, in llama.cpp's default order for its common sampler (penalties, top_k,
 * top_p, min_p, temperature, dist):
 *
 *   1. penalties  over the last penalty_window remembered tokens (sampled or accepted):
 *                 repeat divides a positive logit and multiplies one <= 0, then
 *                 count * frequency + presence is subtracted.
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
 * Memory: every buffer is allocated at create; sample never allocates and never fails on
 * valid input (at least one finite logit).
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
/* A penalty window beyond this many tokens is a mistake, not a wish (64 MB of ring). */
#define SAMPLER_MAX_WINDOW (1 << 24)
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
    int32_t *counts;   /* (n_vocab) occurrences of each token in the window; NULL: no penalties */
    int32_t *window;   /* (penalty_window) ring of the most recent tokens */
    int32_t window_len; /* tokens in the ring */
    int32_t window_pos; /* where the next token goes */
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
    if (p->penalty_window < 0 || p->penalty_window > SAMPLER_MAX_WINDOW)
        return lt_fail(LATENT_EINVAL, "sampler: penalty_window %d must be in [0, %d]",
                       (int)p->penalty_window, SAMPLER_MAX_WINDOW);
    return LATENT_OK;
}

static int penalties_on(const latent_sampler_params *p)
{
    return p->penalty_window > 0 &&
           (p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f);
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
    if (penalties_on(&p)) {
        s->counts = lt_calloc(NULL, (size_t)n_vocab, sizeof *s->counts);
        s->window = lt_alloc(NULL, (size_t)p.penalty_window * sizeof *s->window);
        if (!s->counts || !s->window)
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
    lt_free(NULL, s->window);
    lt_free(NULL, s);
}

/* ============================================================================
 * The window of recent tokens
 * ========================================================================== */

/* Tokens outside [0, n_vocab) are not remembered: they could never be penalised. */
void latent_sampler_accept(latent_sampler *s, latent_token token)
{
    if (!s || !s->counts || token < 0 || token >= s->n_vocab)
        return;
    int32_t cap = s->params.penalty_window;
    if (s->window_len == cap)
        s->counts[s->window[s->window_pos]]--;
    else
        s->window_len++;
    s->window[s->window_pos] = token;
    s->counts[token]++;
    s->window_pos = s->window_pos + 1 == cap ? 0 : s->window_pos + 1;
}

void latent_sampler_reset(latent_sampler *s, uint64_t seed)
{
    if (!s)
        return;
    if (s->counts)
        for (int32_t i = 0; i < s->window_len; i++)
            s->counts[s->window[i]] = 0;
    s->window_len = 0;
    s->window_pos = 0;
    rng_seed(s->rng, seed);
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
    if (c == 0)
        return v;
    if (v <= 0.0f)
        v *= s->params.repeat_penalty;
    else
        v /= s->params.repeat_penalty;
    float scaled = (float)c * s->params.frequency_penalty;
    float sub = clamp_finite(scaled + s->params.presence_penalty);
    return clamp_finite(clamp_finite(v) - sub); /* two finite floats: never NaN */
}

static latent_status sample_weighted(latent_sampler *s, const float *logits, latent_token *out);

latent_status latent_sampler_sample(latent_sampler *s, const float *logits, latent_token *out)
{
    if (!s || !logits || !out)
        return lt_fail(LATENT_EINVAL, "latent_sampler_sample: NULL %s",
                       !s ? "sampler" : !logits ? "logits" : "out");
    const latent_sampler_params *p = &s->params;
    const int32_t n = s->n_vocab;

    /* greedy: one pass, strict > keeps the lowest id among equals */
    if (p->temperature == 0.0f) {
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
        latent_sampler_accept(s, best);
        return LATENT_OK;
    }
    /* the asm's memory clobbers keep every double operation of the draw between the two */
    fpu_state fpu = fpu_double_begin();
    latent_status st = sample_weighted(s, logits, out);
    fpu_double_end(fpu);
    return st;
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
    latent_sampler_accept(s, chosen);
    return LATENT_OK;
}
