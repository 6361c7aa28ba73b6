/*
 * test_sampler.c — the sampler against a straightforward reference written here.
 *
 * The reference (ref_*) does everything the slow, obvious way: penalties from a list of
 * past tokens, DRY as its authors describe it (each earlier occurrence of the last token
 * extended backwards one token at a time), a full qsort, softmax in double with libm's exp, the filters as their
 * definitions read, and an inverse-CDF draw from a double in [0, 1). Its random stream is
 * xoshiro256** seeded by splitmix64, written from the published algorithms. The library
 * uses integer weights and its own exp, so the two agree on every draw except one whose
 * uniform number falls within ~2^-32 of a boundary between two tokens.
 *
 * Logits come from an integer generator and exact float arithmetic, so every input is
 * bit-identical on x86 and aarch64; the fixed-seed check therefore compares the two
 * architectures through the reference (and prints the ids and a hash to compare by eye).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "latent.h"

/* ============================================================================
 * Test inputs: a small integer generator, floats built exactly from its bits
 * ========================================================================== */

static uint64_t lcg_state = 12345;

static uint32_t lcg(void)
{
    lcg_state = lcg_state * 6364136223846793005u + 1442695040888963407u;
    return (uint32_t)(lcg_state >> 33);
}

/* Roughly normal with sd ~ `scale`: a sum of four uniforms, all steps exact. */
static float rand_logit(float scale)
{
    float sum = 0.0f;
    for (int i = 0; i < 4; i++)
        sum += (float)(lcg() & 0xffff) / 65536.0f;
    return (sum - 2.0f) * scale * 1.7f;
}

static void fill_logits(float *l, int n, float scale)
{
    for (int i = 0; i < n; i++)
        l[i] = rand_logit(scale);
}

/* ============================================================================
 * The reference
 * ========================================================================== */

typedef struct ref_rng {
    uint64_t s[4];
} ref_rng;

static void ref_seed(ref_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        seed += 0x9e3779b97f4a7c15u;
        uint64_t z = seed;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        r->s[i] = z ^ (z >> 31);
    }
}

static uint64_t ref_next(ref_rng *r)
{
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5;
    uint64_t result = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

typedef struct ref_tok {
    float logit;
    int id;
    double p;
} ref_tok;

static int ref_cmp(const void *a, const void *b)
{
    const ref_tok *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* DRY's sequence breakers for the reference (NULL: none); the tests that set breakers on
 * a sampler set the same here. */
static const unsigned char *ref_breaker;

static int ref_is_breaker(int t) { return ref_breaker && ref_breaker[t]; }

/* DRY on out[], from the last dry_penalty_last_n entries of history: for each earlier
 * occurrence of the last token whose successor is not a breaker, the match grows
 * backwards while the tokens agree and the end's token is not a breaker; each successor
 * keeps its longest match. */
static void ref_dry(const latent_sampler_params *p, const int *history, int n_hist, float *out, int n)
{
    if (p->dry_multiplier == 0.0f || p->dry_penalty_last_n == 0)
        return;
    int from = p->dry_penalty_last_n > 0 && n_hist > p->dry_penalty_last_n ? n_hist - p->dry_penalty_last_n : 0;
    const int *h = history + from;
    int m = n_hist - from;
    if (m < 2 || ref_is_breaker(h[m - 1]))
        return;
    int *longest = calloc((size_t)n, sizeof *longest);
    for (int i = 0; i + 1 < m; i++) {
        if (h[i] != h[m - 1] || ref_is_breaker(h[i + 1]))
            continue;
        int len = 1;
        while (i - len >= 0 && h[i - len] == h[m - 1 - len] && !ref_is_breaker(h[m - 1 - len]))
            len++;
        if (len > longest[h[i + 1]])
            longest[h[i + 1]] = len;
    }
    int shortest = p->dry_allowed_length > 1 ? p->dry_allowed_length : 1;
    for (int t = 0; t < n; t++)
        if (longest[t] >= shortest) {
            double pen = p->dry_multiplier * pow(p->dry_base, longest[t] - p->dry_allowed_length);
            out[t] = (float)((double)out[t] - (pen > FLT_MAX ? FLT_MAX : pen));
            if (out[t] < -FLT_MAX)
                out[t] = -FLT_MAX;
        }
    free(longest);
}

/* The penalised logits, from the last `window` entries of history[0, n_hist) (all of them
 * for a window of -1), then DRY. */
static void ref_penalise(const float *logits, int n, const latent_sampler_params *p,
                         const int *history, int n_hist, float *out)
{
    memcpy(out, logits, (size_t)n * sizeof *out);
    int from = p->penalty_window >= 0 && n_hist > p->penalty_window ? n_hist - p->penalty_window : 0;
    if (p->penalty_window == 0) {
        ref_dry(p, history, n_hist, out, n);
        return;
    }
    for (int id = 0; id < n; id++) {
        int count = 0;
        for (int j = from; j < n_hist; j++)
            count += history[j] == id;
        if (count == 0)
            continue;
        float v = out[id];
        v = v <= 0.0f ? v * p->repeat_penalty : v / p->repeat_penalty;
        float freq = (float)count * p->frequency_penalty;
        float sub = freq + p->presence_penalty;
        out[id] = v - sub;
    }
    ref_dry(p, history, n_hist, out, n);
}

/* The kept set after top-k, top-p and min-p, best first, into `keep` (n entries room);
 * returns its size. `slack` widens top-p and min-p a little (for supersets). */
static int ref_filter(const float *plogits, int n, const latent_sampler_params *p, double slack,
                      ref_tok *keep)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(plogits[i])) {
            keep[m].logit = plogits[i];
            keep[m].id = i;
            m++;
        }
    if (m == 0)
        return 0;
    qsort(keep, (size_t)m, sizeof *keep, ref_cmp);
    if (p->temperature == 0.0f)
        return 1;
    if (p->top_k > 0 && p->top_k < m)
        m = p->top_k;
    double sum = 0.0;
    for (int i = 0; i < m; i++)
        sum += keep[i].p = exp((double)keep[i].logit - keep[0].logit);
    for (int i = 0; i < m; i++)
        keep[i].p /= sum;
    if (p->top_p < 1.0f) {
        double cum = 0.0, target = (double)p->top_p + slack;
        for (int i = 0; i < m; i++) {
            cum += keep[i].p;
            if (cum >= target) {
                m = i + 1;
                break;
            }
        }
    }
    double floor_p = (double)p->min_p * keep[0].p * (1.0 - slack);
    int kept = 1;
    while (kept < m && keep[kept].p >= floor_p)
        kept++;
    return kept;
}

/* Temperature applied to a kept set: its probabilities, renormalised, into keep[].p. */
static void ref_temper(ref_tok *keep, int m, double t)
{
    double sum = 0.0;
    for (int i = 0; i < m; i++)
        sum += keep[i].p = exp(((double)keep[i].logit - keep[0].logit) / t);
    for (int i = 0; i < m; i++)
        keep[i].p /= sum;
}

/* One sample, as the library's contract describes it; appends to history. */
static int ref_sample(const float *logits, int n, const latent_sampler_params *p, ref_rng *rng,
                      int *history, int *n_hist)
{
    float *pl = malloc((size_t)n * sizeof *pl);
    ref_tok *keep = malloc((size_t)n * sizeof *keep);
    ref_penalise(logits, n, p, history, *n_hist, pl);
    int m = ref_filter(pl, n, p, 0.0, keep);
    int chosen = keep[0].id;
    if (p->temperature > 0.0f) {
        ref_temper(keep, m, p->temperature);
        double u = (double)(ref_next(rng) >> 11) * 0x1p-53, cum = 0.0;
        for (int i = 0; i < m; i++) {
            cum += keep[i].p;
            if (u < cum) {
                chosen = keep[i].id;
                break;
            }
            chosen = keep[i].id; /* rounding left u above the last cum */
        }
    }
    history[(*n_hist)++] = chosen;
    free(pl);
    free(keep);
    return chosen;
}

static latent_sampler *make(int n_vocab, const latent_sampler_params *p)
{
    latent_sampler *s = NULL;
    latent_status st = latent_sampler_create(n_vocab, p, &s);
    CHECK(st == LATENT_OK && s, "create: %s", latent_last_error());
    return s;
}

/* Samples that failed on valid input; checked once at the end rather than per draw. */
static int sample_failures;

static int sample1(latent_sampler *s, const float *logits)
{
    latent_token t = -1;
    latent_status st = latent_sampler_sample(s, logits, &t);
    if (st != LATENT_OK && sample_failures++ < 3)
        printf("  sample failed: %s\n", latent_last_error());
    return t;
}

/* ============================================================================
 * Parameters and bad input
 * ========================================================================== */

static void test_params(void)
{
    latent_sampler_params d = latent_sampler_default_params();
    /* (float) on the constants: where floats are evaluated in long double (the x87,
     * FLT_EVAL_METHOD 2) 0.8f itself has 0.8's long double value, which no float equals */
    CHECK(d.temperature == (float)0.8f && d.top_k == 40 && d.top_p == (float)0.95f &&
          d.min_p == (float)0.05f, "default temperature, top_k, top_p, min_p");
    CHECK(d.repeat_penalty == 1.0f && d.frequency_penalty == 0.0f && d.presence_penalty == 0.0f,
          "default penalties off");
    CHECK(d.penalty_window == 64, "default penalty window");
    CHECK(d.dry_multiplier == 0.0f && d.dry_base == 1.75f && d.dry_allowed_length == 2 &&
          d.dry_penalty_last_n == -1, "DRY off by default, the reference engine's other values");

    latent_sampler *s = (latent_sampler *)&d; /* must be reset to NULL on failure */
    CHECK(latent_sampler_create(0, NULL, &s) == LATENT_EINVAL && s == NULL, "n_vocab 0");
    CHECK(latent_sampler_create(-5, NULL, &s) == LATENT_EINVAL && s == NULL, "n_vocab -5");
    CHECK(latent_sampler_create(10, NULL, NULL) == LATENT_EINVAL, "NULL out");
    CHECK(strlen(latent_last_error()) > 0, "an error message");

    struct {
        const char *what;
        latent_sampler_params p;
    } bad[32];
    int nb = 0;
#define BAD(field, value)                                                                  \
    do {                                                                                   \
        bad[nb].what = #field " = " #value;                                                \
        bad[nb].p = latent_sampler_default_params();                                       \
        bad[nb].p.field = value;                                                           \
        nb++;                                                                              \
    } while (0)
    BAD(temperature, -0.5f);
    BAD(temperature, NAN);
    BAD(temperature, INFINITY);
    BAD(top_k, -1);
    BAD(top_p, 0.0f);
    BAD(top_p, 1.5f);
    BAD(top_p, NAN);
    BAD(min_p, -0.1f);
    BAD(min_p, 1.01f);
    BAD(min_p, NAN);
    BAD(repeat_penalty, 0.0f);
    BAD(repeat_penalty, NAN);
    BAD(frequency_penalty, INFINITY);
    BAD(presence_penalty, NAN);
    BAD(penalty_window, -2);
    BAD(penalty_window, 1 << 30);
    BAD(dry_multiplier, -0.1f);
    BAD(dry_multiplier, NAN);
    BAD(dry_multiplier, INFINITY);
    BAD(dry_base, 0.5f);
    BAD(dry_base, NAN);
    BAD(dry_base, INFINITY);
    BAD(dry_allowed_length, -1);
    BAD(dry_penalty_last_n, -2);
    BAD(dry_penalty_last_n, 1 << 30);
#undef BAD
    for (int i = 0; i < nb; i++) {
        s = (latent_sampler *)&d;
        latent_status st = latent_sampler_create(100, &bad[i].p, &s);
        CHECK(st == LATENT_EINVAL && s == NULL, "%s accepted", bad[i].what);
        CHECK(strstr(latent_last_error(), "sampler") != NULL, "%s: message '%s'", bad[i].what,
              latent_last_error());
    }

    /* the edges that are valid */
    latent_sampler_params ok = latent_sampler_default_params();
    ok.top_p = 1.0f;
    ok.min_p = 1.0f;
    ok.top_k = 1000000;
    ok.penalty_window = 0;
    ok.repeat_penalty = 3.0f;
    s = make(10, &ok);
    latent_sampler_free(s);
    ok.penalty_window = -1;
    ok.dry_multiplier = 0.8f;
    ok.dry_base = 1.0f;
    ok.dry_allowed_length = 0;
    s = make(10, &ok);
    latent_token ids[2] = {3, 10};
    CHECK(latent_sampler_set_dry_breaker_tokens(s, ids, 1) == LATENT_OK, "breaker 3 of 10");
    CHECK(latent_sampler_set_dry_breaker_tokens(s, ids, 2) == LATENT_EINVAL, "breaker 10 of 10");
    CHECK(latent_sampler_set_dry_breaker_tokens(s, NULL, 1) == LATENT_EINVAL, "NULL breakers");
    CHECK(latent_sampler_set_dry_breaker_tokens(s, NULL, 0) == LATENT_OK, "no breakers");
    CHECK(latent_sampler_set_dry_breakers(s, NULL, NULL, 0) == LATENT_EINVAL, "breakers without a model");
    latent_sampler_free(s);
    latent_sampler_free(NULL);
    CHECK(latent_sampler_accept(NULL, 3) == LATENT_EINVAL, "accept on NULL");
    latent_sampler_reset(NULL, 3);
}

static void test_bad_logits(void)
{
    enum { N = 64 };
    float l[N];
    latent_token t = 7;
    for (int temp = 0; temp < 2; temp++) {
        latent_sampler_params p = latent_sampler_default_params();
        p.temperature = temp ? 1.5f : 0.0f;
        p.top_k = 0;
        p.top_p = 1.0f;
        p.min_p = 0.0f;
        latent_sampler *s = make(N, &p);
        if (!s)
            return;
        CHECK(latent_sampler_sample(NULL, l, &t) == LATENT_EINVAL, "NULL sampler");
        CHECK(latent_sampler_sample(s, NULL, &t) == LATENT_EINVAL, "NULL logits");
        CHECK(latent_sampler_sample(s, l, NULL) == LATENT_EINVAL, "NULL out");

        for (int i = 0; i < N; i++)
            l[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;
        CHECK(latent_sampler_sample(s, l, &t) == LATENT_EINVAL, "all bad logits (temp %d)", temp);

        /* +inf and NaN at the top, finite below: never chosen */
        for (int i = 0; i < N; i++)
            l[i] = (float)(i % 7) * 0.25f;
        l[0] = INFINITY;
        l[6] = NAN;
        l[13] = -INFINITY;
        l[20] = NAN;
        int bad = 0;
        for (int k = 0; k < 2000; k++) {
            int x = sample1(s, l);
            bad += x == 0 || x == 6 || x == 13 || x == 20 || x < 0 || x >= N;
        }
        CHECK(bad == 0, "%d non-finite logits chosen (temp %d)", bad, temp);
        latent_sampler_free(s);
    }
}

/* ============================================================================
 * Greedy
 * ========================================================================== */

static int argmax(const float *l, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (l[i] > l[best])
            best = i;
    return best;
}

static void test_greedy(void)
{
    enum { N = 5000 };
    static float l[N];
    latent_sampler_params g = latent_sampler_default_params();
    g.temperature = 0.0f;
    latent_sampler_params k1 = latent_sampler_default_params();
    k1.temperature = 1.0f;
    k1.top_k = 1;
    latent_sampler *sg = make(N, &g), *sk = make(N, &k1);
    if (!sg || !sk)
        return;
    int wrong = 0, differ = 0;
    for (int r = 0; r < 100; r++) {
        fill_logits(l, N, 2.0f);
        int a = sample1(sg, l), b = sample1(sk, l);
        wrong += a != argmax(l, N);
        differ += a != b;
    }
    CHECK(wrong == 0, "greedy missed the argmax %d times", wrong);
    CHECK(differ == 0, "top_k = 1 differed from greedy %d times", differ);

    /* ties: the lowest id, also when the tie is far down the vocabulary */
    for (int i = 0; i < N; i++)
        l[i] = -1.0f;
    l[4000] = 3.0f;
    l[1234] = 3.0f;
    l[4999] = 3.0f;
    CHECK(sample1(sg, l) == 1234, "greedy tie: lowest id");
    CHECK(sample1(sk, l) == 1234, "top_k = 1 tie");
    for (int i = 0; i < N; i++)
        l[i] = 0.5f;
    CHECK(sample1(sg, l) == 0, "greedy, all equal");
    CHECK(sample1(sk, l) == 0, "top_k = 1, all equal");
    latent_sampler_free(sg);
    latent_sampler_free(sk);
}

/* ============================================================================
 * Distributions: empirical frequencies against the expected probabilities
 * ========================================================================== */

/* Draws `draws` tokens and returns the chi-square statistic against expect[] (over
 * tokens with expected > 0); *outside counts draws of tokens with expected == 0. */
static double chi_square(latent_sampler *s, const float *l, int n, const double *expect,
                         int draws, int *outside)
{
    long *seen = calloc((size_t)n, sizeof *seen);
    for (int k = 0; k < draws; k++) {
        int t = sample1(s, l);
        if (t >= 0 && t < n)
            seen[t]++;
    }
    double chi = 0.0;
    *outside = 0;
    for (int i = 0; i < n; i++) {
        if (expect[i] > 0.0) {
            double e = expect[i] * draws, d = (double)seen[i] - e;
            chi += d * d / e;
        } else {
            *outside += (int)seen[i];
        }
    }
    free(seen);
    return chi;
}

static void test_frequencies(void)
{
    /* 8 tokens, plain softmax at temperature 0.7: chi-square with 7 degrees of freedom,
     * whose 99.99th percentile is 29.9 (the seed is fixed, so this cannot flake) */
    const float l8[8] = {1.0f, 0.5f, 0.25f, -0.25f, 0.875f, -1.25f, 0.0f, 0.375f};
    double e8[8], sum = 0.0;
    for (int i = 0; i < 8; i++)
        sum += e8[i] = exp(l8[i] / 0.7);
    for (int i = 0; i < 8; i++)
        e8[i] /= sum;
    latent_sampler_params p = latent_sampler_default_params();
    p.temperature = 0.7f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 7;
    latent_sampler *s = make(8, &p);
    if (!s)
        return;
    int outside;
    double chi = chi_square(s, l8, 8, e8, 100000, &outside);
    CHECK(chi < 29.9, "softmax at T=0.7: chi-square %.2f over 7 dof", chi);
    printf("softmax T=0.7, 8 tokens, 100000 draws: chi-square %.2f (7 dof, bound 29.9)\n", chi);
    latent_sampler_free(s);

    /* a wrong temperature must fail the same bound: the check has teeth */
    p.temperature = 0.6f;
    s = make(8, &p);
    if (s) {
        double chi_wrong = chi_square(s, l8, 8, e8, 100000, &outside);
        CHECK(chi_wrong > 29.9, "T=0.6 indistinguishable from T=0.7 (chi %.2f)", chi_wrong);
        latent_sampler_free(s);
    }

    /* 200 tokens through every filter: the renormalised kept set, nothing outside it */
    enum { N = 200 };
    float l[N];
    lcg_state = 99;
    fill_logits(l, N, 1.5f);
    latent_sampler_params f = latent_sampler_default_params();
    f.temperature = 1.3f;
    f.top_k = 30;
    f.top_p = 0.8f;
    f.min_p = 0.1f;
    f.seed = 11;
    ref_tok keep[N];
    int m = ref_filter(l, N, &f, 0.0, keep);
    ref_temper(keep, m, f.temperature);
    double e[N] = {0};
    for (int i = 0; i < m; i++)
        e[keep[i].id] = keep[i].p;
    s = make(N, &f);
    if (!s)
        return;
    chi = chi_square(s, l, N, e, 100000, &outside);
    /* dof m - 1; bound: mean + 6 sd of a chi-square, generous and still sharp */
    double bound = (m - 1) + 6.0 * sqrt(2.0 * (m - 1)) + 10.0;
    CHECK(chi < bound, "filtered (%d kept): chi-square %.2f, bound %.1f", m, chi, bound);
    CHECK(outside == 0, "%d draws outside the kept set", outside);
    CHECK(m > 3 && m < 30, "the case exercises the filters (kept %d)", m);
    printf("top-k 30, top-p 0.8, min-p 0.1, T=1.3: %d kept, chi-square %.2f (bound %.1f)\n", m,
           chi, bound);
    latent_sampler_free(s);
}

/* Every emitted token lies in the allowed set, computed here (slightly widened for the
 * rounding of the library's fixed-point weights), across a grid of parameters. */
static void test_allowed_sets(void)
{
    enum { N = 1000, DRAWS = 30 };
    static float l[N];
    static ref_tok keep[N];
    static char allowed[N];
    const int ks[] = {0, 1, 5, 40, 999, 5000};
    const float ps[] = {1.0f, 0.95f, 0.5f, 0.1f};
    const float mins[] = {0.0f, 0.05f, 0.3f, 1.0f};
    const float temps[] = {0.25f, 1.0f, 4.0f};
    int cases = 0, violations = 0;
    lcg_state = 2024;
    for (size_t a = 0; a < sizeof ks / sizeof *ks; a++)
        for (size_t b = 0; b < sizeof ps / sizeof *ps; b++)
            for (size_t c = 0; c < sizeof mins / sizeof *mins; c++)
                for (size_t d = 0; d < sizeof temps / sizeof *temps; d++) {
                    fill_logits(l, N, 1.0f + (float)(lcg() % 4));
                    if (cases % 5 == 0)
                        for (int i = 0; i < N; i += 3)
                            l[i] = l[(i + 7) % N]; /* exact ties */
                    latent_sampler_params p = latent_sampler_default_params();
                    p.top_k = ks[a];
                    p.top_p = ps[b];
                    p.min_p = mins[c];
                    p.temperature = temps[d];
                    p.seed = (uint64_t)cases;
                    int m = ref_filter(l, N, &p, 1e-6, keep);
                    memset(allowed, 0, sizeof allowed);
                    for (int i = 0; i < m; i++)
                        allowed[keep[i].id] = 1;
                    latent_sampler *s = make(N, &p);
                    if (!s)
                        return;
                    for (int k = 0; k < DRAWS; k++) {
                        int t = sample1(s, l);
                        if (t < 0 || t >= N || !allowed[t]) {
                            violations++;
                            if (violations < 5)
                                printf("  token %d outside the set (k %d, p %g, min %g, T %g)\n", t,
                                       p.top_k, (double)p.top_p, (double)p.min_p, (double)p.temperature);
                        }
                    }
                    latent_sampler_free(s);
                    cases++;
                }
    CHECK(violations == 0, "%d of %d draws outside the allowed set", violations, cases * DRAWS);
}

/* ============================================================================
 * Penalties
 * ========================================================================== */

static latent_sampler *greedy_with(int n, float repeat, float freq, float pres, int window)
{
    latent_sampler_params p = latent_sampler_default_params();
    p.temperature = 0.0f;
    p.repeat_penalty = repeat;
    p.frequency_penalty = freq;
    p.presence_penalty = pres;
    p.penalty_window = window;
    return make(n, &p);
}

static void test_penalties(void)
{
    enum { N = 16 };
    float l[N];
    for (int i = 0; i < N; i++)
        l[i] = -5.0f;

    /* repeat: a positive logit is divided */
    l[0] = 2.0f;
    l[1] = 1.8f;
    latent_sampler *s = greedy_with(N, 1.2f, 0.0f, 0.0f, 64);
    if (!s)
        return;
    CHECK(sample1(s, l) == 0, "nothing remembered yet");
    /* the sampled 0 is remembered: 2.0 / 1.2 = 1.67 < 1.8 */
    CHECK(sample1(s, l) == 1, "a sampled token is penalised next time");
    latent_sampler_reset(s, 0);
    CHECK(sample1(s, l) == 0, "reset forgets");
    latent_sampler_reset(s, 0);
    latent_sampler_accept(s, -1);
    latent_sampler_accept(s, N);
    CHECK(sample1(s, l) == 0, "out-of-range tokens are ignored");

    /* repeat: a negative logit is multiplied (dividing would raise it) */
    l[0] = -1.0f;
    l[1] = -1.1f;
    latent_sampler_reset(s, 0);
    latent_sampler_accept(s, 0);
    CHECK(sample1(s, l) == 1, "-1.0 * 1.2 = -1.2 < -1.1");
    latent_sampler_free(s);

    /* frequency: subtracts per occurrence */
    l[0] = 2.0f;
    l[1] = 1.5f;
    s = greedy_with(N, 1.0f, 0.3f, 0.0f, 64);
    if (!s)
        return;
    latent_sampler_accept(s, 0);
    CHECK(sample1(s, l) == 0, "2.0 - 0.3 = 1.7 > 1.5");
    latent_sampler_reset(s, 0);
    latent_sampler_accept(s, 0);
    latent_sampler_accept(s, 0);
    CHECK(sample1(s, l) == 1, "2.0 - 0.6 = 1.4 < 1.5");
    latent_sampler_free(s);

    /* presence: subtracts once, however often */
    s = greedy_with(N, 1.0f, 0.0f, 0.3f, 64);
    if (!s)
        return;
    for (int i = 0; i < 5; i++)
        latent_sampler_accept(s, 0);
    CHECK(sample1(s, l) == 0, "presence 0.3 once: 1.7 > 1.5");
    latent_sampler_free(s);
    s = greedy_with(N, 1.0f, 0.0f, 0.6f, 64);
    if (!s)
        return;
    latent_sampler_accept(s, 0);
    CHECK(sample1(s, l) == 1, "presence 0.6: 1.4 < 1.5");
    latent_sampler_free(s);

    /* the window: a token falls out after penalty_window newer ones */
    s = greedy_with(N, 1.0f, 1.0f, 0.0f, 3);
    if (!s)
        return;
    latent_sampler_accept(s, 0);
    latent_sampler_accept(s, 5);
    latent_sampler_accept(s, 6);
    CHECK(sample1(s, l) == 1, "0 still in the window of 3");
    /* the sample above put 1 in the window and pushed 0 out */
    l[1] = 1.0f;
    CHECK(sample1(s, l) == 0, "0 fell out of the window");
    latent_sampler_free(s);

    /* penalties off (window 0) even with a penalty set */
    s = greedy_with(N, 5.0f, 5.0f, 5.0f, 0);
    if (!s)
        return;
    latent_sampler_accept(s, 0);
    CHECK(sample1(s, l) == 0, "window 0 turns penalties off");
    latent_sampler_free(s);

    /* random vocabularies and histories: the library's greedy choice equals the reference's */
    enum { M = 300, H = 200 };
    static float lr[M];
    static int hist[H + 1000];
    latent_sampler_params p = latent_sampler_default_params();
    p.temperature = 0.0f;
    p.repeat_penalty = 1.3f;
    p.frequency_penalty = 0.2f;
    p.presence_penalty = 0.1f;
    p.penalty_window = 48;
    int mismatch = 0;
    lcg_state = 5;
    for (int r = 0; r < 40; r++) {
        s = make(M, &p);
        if (!s)
            return;
        int n_hist = 0;
        for (int i = 0; i < H; i++) {
            int t = (int)(lcg() % 40); /* a small alphabet: repeats */
            hist[n_hist++] = t;
            latent_sampler_accept(s, t);
        }
        for (int step = 0; step < 20; step++) {
            fill_logits(lr, M, 0.5f);
            ref_rng unused;
            int want = ref_sample(lr, M, &p, &unused, hist, &n_hist);
            mismatch += sample1(s, lr) != want;
        }
        latent_sampler_free(s);
    }
    CHECK(mismatch == 0, "penalised greedy differs from the reference %d of 800 times", mismatch);
}

/* ============================================================================
 * The penalty a token gets, measured: DRY, presence and frequency by hand
 * ========================================================================== */

enum { PV = 32 }; /* the vocabulary of the hand-worked cases; PV - 1 is the rival */
enum { A = 1, B, C, D, E, Q, R };

/* The penalty `token` gets after `hist` (accepted, then one greedy draw), found by
 * bisection: the token has logit 0, an unpenalised rival (id PV - 1, never in a history)
 * has -d, everything else -1000; the token wins exactly while its penalty is below d.
 * Breakers, when given, are ids ending at -1. */
static double penalty_of(const latent_sampler_params *p, const int *breakers, const int *hist, int n_hist,
                         int token)
{
    float l[PV];
    double lo = 0.0, hi = 64.0;
    for (int step = 0; step < 40; step++) {
        double d = (lo + hi) / 2;
        latent_sampler *s = make(PV, p);
        if (!s)
            return -1;
        if (breakers) {
            latent_token ids[PV];
            int nb = 0;
            while (breakers[nb] >= 0)
                ids[nb] = breakers[nb], nb++;
            CHECK(latent_sampler_set_dry_breaker_tokens(s, ids, (size_t)nb) == LATENT_OK, "breakers");
        }
        for (int i = 0; i < n_hist; i++)
            latent_sampler_accept(s, hist[i]);
        for (int i = 0; i < PV; i++)
            l[i] = -1000.0f;
        l[token] = 0.0f;
        l[PV - 1] = (float)-d;
        if (sample1(s, l) == token)
            hi = d;
        else
            lo = d;
        latent_sampler_free(s);
    }
    return (lo + hi) / 2;
}

static latent_sampler_params dry_params(float mult, float base, int allowed, int last_n)
{
    latent_sampler_params p = latent_sampler_default_params();
    p.temperature = 0.0f;
    p.dry_multiplier = mult;
    p.dry_base = base;
    p.dry_allowed_length = allowed;
    p.dry_penalty_last_n = last_n;
    return p;
}

#define PENALTY_IS(p, breakers, hist, token, want)                                         \
    do {                                                                                   \
        double got_ = penalty_of(&(p), breakers, hist, (int)(sizeof hist / sizeof *hist), token); \
        CHECK(fabs(got_ - (want)) < 1e-4, "%s after %s: penalty %.5f, want %.5f", #token, #hist, \
              got_, (double)(want));                                                       \
    } while (0)

static void test_dry_by_hand(void)
{
    latent_sampler_params p = dry_params(1.0f, 2.0f, 2, -1);
    /* the end "A B C" appeared before, followed by D: a 3-token repeat, 1 * 2^(3-2) */
    const int abcd_abc[] = {A, B, C, D, A, B, C};
    PENALTY_IS(p, NULL, abcd_abc, D, 2.0);
    PENALTY_IS(p, NULL, abcd_abc, A, 0.0); /* A followed only the start */
    PENALTY_IS(p, NULL, abcd_abc, B, 0.0);
    PENALTY_IS(p, NULL, abcd_abc, C, 0.0);
    PENALTY_IS(p, NULL, abcd_abc, E, 0.0);

    /* breakers: the end's copy stops before one, and one is never penalised */
    const int brk_b[] = {B, -1}, brk_d[] = {D, -1}, brk_a[] = {A, -1};
    PENALTY_IS(p, brk_b, abcd_abc, D, 0.0); /* only "C" before the breaker: 1 < 2 */
    PENALTY_IS(p, brk_d, abcd_abc, D, 0.0);
    PENALTY_IS(p, brk_a, abcd_abc, D, 1.0); /* "B C": 2 tokens, 2^0 */
    const int ends_on_breaker[] = {A, B, C, D, A, B};
    PENALTY_IS(p, brk_b, ends_on_breaker, C, 0.0);
    PENALTY_IS(p, NULL, ends_on_breaker, C, 1.0); /* "A B" again: 2 tokens, 2^0 */

    /* two earlier copies of different lengths: each successor by its own */
    const int two_copies[] = {A, B, C, D, Q, B, C, E, A, B, C};
    latent_sampler_params q = dry_params(0.8f, 1.75f, 2, -1);
    PENALTY_IS(q, NULL, two_copies, D, 0.8 * 1.75); /* "A B C": 3 */
    PENALTY_IS(q, NULL, two_copies, E, 0.8);        /* "B C": 2 */
    /* the same successor after both: the longer copy counts */
    const int same_next[] = {Q, B, C, D, A, B, C, D, R, A, B, C};
    PENALTY_IS(q, NULL, same_next, D, 0.8 * 1.75);

    /* a run of one token repeats itself, overlapping: 5 A's end in a 4-token repeat */
    const int run[] = {A, A, A, A, A};
    PENALTY_IS(p, NULL, run, A, 4.0);

    /* allowed length 3: the 3-token repeat is at the threshold */
    latent_sampler_params a3 = dry_params(1.0f, 2.0f, 3, -1);
    PENALTY_IS(a3, NULL, abcd_abc, D, 1.0);
    const int short_rep[] = {B, C, D, A, B, C};
    PENALTY_IS(a3, NULL, short_rep, D, 0.0);

    /* the window: DRY sees only the last dry_penalty_last_n tokens */
    latent_sampler_params w5 = dry_params(1.0f, 2.0f, 2, 5), w6 = dry_params(1.0f, 2.0f, 2, 6),
                          w7 = dry_params(1.0f, 2.0f, 2, 7);
    PENALTY_IS(w5, NULL, abcd_abc, D, 0.0); /* C D A B C: the copy "C" alone */
    PENALTY_IS(w6, NULL, abcd_abc, D, 1.0); /* B C D A B C: "B C" */
    PENALTY_IS(w7, NULL, abcd_abc, D, 2.0);
    latent_sampler_params off = dry_params(1.0f, 2.0f, 2, 0);
    PENALTY_IS(off, NULL, abcd_abc, D, 0.0);

    /* presence and frequency over penalty_window (DRY off; a logit of 0 is unchanged by
     * the repeat penalty): count * frequency + presence */
    latent_sampler_params pf = latent_sampler_default_params();
    pf.temperature = 0.0f;
    pf.frequency_penalty = 0.5f;
    pf.presence_penalty = 0.25f;
    pf.penalty_window = 3;
    const int freq_hist[] = {A, A, A, B, A, C, A};
    PENALTY_IS(pf, NULL, freq_hist, A, 2 * 0.5 + 0.25); /* the window holds "A C A" */
    PENALTY_IS(pf, NULL, freq_hist, C, 0.5 + 0.25);
    PENALTY_IS(pf, NULL, freq_hist, B, 0.0); /* fell out of the window of 3 */
    pf.penalty_window = -1;
    PENALTY_IS(pf, NULL, freq_hist, A, 5 * 0.5 + 0.25); /* every A since create */
    PENALTY_IS(pf, NULL, freq_hist, B, 0.5 + 0.25);
    pf.penalty_window = 0;
    PENALTY_IS(pf, NULL, freq_hist, A, 0.0);

    /* DRY and the counting penalties add up */
    latent_sampler_params both = dry_params(1.0f, 2.0f, 2, -1);
    both.presence_penalty = 0.5f;
    PENALTY_IS(both, NULL, abcd_abc, D, 2.5);
    PENALTY_IS(both, NULL, abcd_abc, B, 0.5);
}

/* A penalty too large for a float leaves a finite, losing logit: no NaN, no failure. */
static void test_dry_overflow(void)
{
    latent_sampler_params p = dry_params(1e30f, 1e30f, 0, -1);
    p.temperature = 1.0f;
    float l[PV];
    for (int i = 0; i < PV; i++)
        l[i] = 0.0f;
    latent_sampler *s = make(PV, &p);
    if (!s)
        return;
    for (int i = 0; i < 6; i++)
        latent_sampler_accept(s, A);
    l[A] = 10.0f; /* the model's favourite, but a 6-token run of it would grow to 7 */
    int got_a = 0;
    for (int i = 0; i < 50; i++) {
        latent_sampler_reset(s, (uint64_t)i);
        for (int j = 0; j < 6; j++)
            latent_sampler_accept(s, A);
        got_a += sample1(s, l) == A;
    }
    CHECK(got_a == 0, "A drawn %d of 50 times under an overflowing penalty", got_a);
    latent_sampler_free(s);
}

/* Random histories over a small alphabet (so that repeats abound), random breakers and
 * windows: the library's greedy choice equals the reference's, and so do weighted draws
 * (the same uniform numbers, compared as in test_frequencies' fixed sequence). */
static void test_dry_random(void)
{
    enum { M = 64, H = 300 };
    static float lr[M];
    static int hist[H + 100];
    static unsigned char brk[M];
    int mismatch = 0, draws = 0, penalised = 0;
    lcg_state = 99;
    for (int r = 0; r < 60; r++) {
        latent_sampler_params p = latent_sampler_default_params();
        p.temperature = r % 3 == 0 ? 0.0f : 1.0f;
        p.top_k = 0;
        p.top_p = 1.0f;
        p.min_p = 0.0f;
        p.dry_multiplier = 0.5f + (float)(r % 4) * 0.25f;
        p.dry_base = 1.25f + (float)(r % 5) * 0.25f;
        p.dry_allowed_length = r % 4;
        p.dry_penalty_last_n = r % 5 == 0 ? -1 : (int)(lcg() % 200) + 1;
        p.penalty_window = r % 2 ? -1 : 17;
        p.presence_penalty = r % 2 ? 0.1f : 0.0f;
        p.seed = (uint64_t)r;
        latent_sampler *s = make(M, &p);
        if (!s)
            return;
        latent_token ids[M];
        size_t nb = 0;
        memset(brk, 0, sizeof brk);
        for (int t = 0; t < 6 && r % 3 != 1; t++) /* a third of the runs: no breakers */
            if (lcg() % 3 == 0)
                brk[t] = 1, ids[nb++] = t;
        ref_breaker = nb ? brk : NULL;
        CHECK(latent_sampler_set_dry_breaker_tokens(s, ids, nb) == LATENT_OK, "breakers");
        int n_hist = 0, alphabet = 3 + r % 6;
        for (int i = 0; i < H; i++) {
            /* loops: copy a stretch of the past now and then, as a small model does */
            int t = i > 20 && lcg() % 4 ? hist[n_hist - 1 - (int)(lcg() % 12)] : (int)(lcg() % (unsigned)alphabet);
            hist[n_hist++] = t;
            latent_sampler_accept(s, t);
        }
        ref_rng rng;
        ref_seed(&rng, p.seed);
        for (int step = 0; step < 20; step++) {
            fill_logits(lr, M, 1.0f);
            for (int t = 0; t < alphabet; t++)
                lr[t] += 2.0f; /* the draws keep to the history's alphabet: more repeats */
            float pl[M];
            ref_penalise(lr, M, &p, hist, n_hist, pl);
            float plain[M];
            latent_sampler_params nodry = p;
            nodry.dry_multiplier = 0.0f;
            ref_penalise(lr, M, &nodry, hist, n_hist, plain);
            for (int t = 0; t < M; t++)
                penalised += pl[t] != plain[t];
            int want = ref_sample(lr, M, &p, &rng, hist, &n_hist);
            mismatch += sample1(s, lr) != want;
            draws++;
        }
        ref_breaker = NULL;
        latent_sampler_free(s);
    }
    CHECK(mismatch == 0, "DRY differs from the reference in %d of %d draws", mismatch, draws);
    CHECK(penalised > draws / 2, "the random cases exercise DRY (%d penalised logits in %d draws)", penalised,
          draws);
}

/* Breakers from text on a real vocabulary (stories260K): a token is a breaker exactly when
 * its piece contains one of the strings. Seen through DRY: after four of a token, a
 * breaker goes free and any other token loses 2 to its 3-token repeat. */
static void test_breakers_from_text(void)
{
    const char *path = test_data_path("models/stories260K.gguf");
    latent_model *model = NULL;
    if (!path)
        return;
    if (latent_model_load(path, NULL, &model) != LATENT_OK) {
        CHECK(0, "loading %s: %s", path, latent_last_error());
        return;
    }
    const int32_t V = latent_n_vocab(model);
    const char *texts[] = {"\n", "he"};
    latent_sampler_params p = dry_params(1.0f, 2.0f, 2, -1);
    latent_sampler *s = make(V, &p), *wrong = make(V + 1, &p);
    if (!s || !wrong)
        return;
    CHECK(latent_sampler_set_dry_breakers(s, model, texts, 2) == LATENT_OK, "set: %s", latent_last_error());
    CHECK(latent_sampler_set_dry_breakers(wrong, model, texts, 2) == LATENT_EINVAL, "a model of another size");
    const char *empty[] = {""};
    CHECK(latent_sampler_set_dry_breakers(s, model, empty, 1) == LATENT_EINVAL, "an empty breaker");
    float *l = malloc((size_t)V * sizeof *l);
    int wrong_marks = 0, marked = 0;
    for (int32_t t = 0; l && t < V; t++) {
        char piece[256];
        size_t len = 0;
        latent_token_piece(model, t, piece, sizeof piece, &len);
        int want = 0;
        for (size_t i = 0; i < len; i++)
            want |= piece[i] == '\n' || (i + 2 <= len && memcmp(piece + i, "he", 2) == 0);
        for (int32_t i = 0; i < V; i++)
            l[i] = -1000.0f;
        l[t] = 0.0f;
        l[(t + 1) % V] = -0.5f;
        latent_sampler_reset(s, 1);
        for (int i = 0; i < 4; i++)
            latent_sampler_accept(s, t);
        int is_breaker = sample1(s, l) == t;
        wrong_marks += is_breaker != want;
        marked += want;
    }
    CHECK(wrong_marks == 0 && marked >= 5 && marked < V / 2, "%d tokens marked wrongly (%d of %d should be breakers)",
          wrong_marks, marked, (int)V);
    free(l);
    latent_sampler_free(s);
    latent_sampler_free(wrong);
    latent_model_free(model);
}

/* A window of -1 grows the history by doublings (from 1024 tokens): a few allocations
 * over thousands of tokens, and a failed doubling is LATENT_ENOMEM that leaves the
 * sampler unchanged, so the run then goes on exactly as one that never failed. */
static void test_unbounded_history(void)
{
    enum { V = 100, T = 5000 };
    latent_sampler_params p = latent_sampler_default_params();
    p.dry_multiplier = 0.8f;
    p.dry_penalty_last_n = -1;
    p.penalty_window = -1;
    p.frequency_penalty = 0.01f;
    float l[V];
    lcg_state = 4;
    fill_logits(l, V, 1.0f);
    size_t base = latent_heap_bytes();
    latent_sampler *s = make(V, &p), *twin = make(V, &p);
    if (!s || !twin)
        return;
    static int a[T], b[T];
    long before = test_allocation_count();
    for (int i = 0; i < T; i++)
        a[i] = sample1(s, l);
    long grew = test_allocation_count() - before;
    CHECK(grew > 0 && grew <= 12, "%ld allocations for %d tokens (3 doublings)", grew, T);
    for (int i = 0; i < T; i++) {
        if (i == 2048) { /* the history is full: this sample must double it */
            for (int k = 1; k <= 3; k++) {
                latent_token t = -7;
                test_fail_allocation(k);
                latent_status st = latent_sampler_sample(twin, l, &t);
                CHECK(st == LATENT_ENOMEM && t == -7, "failing allocation %d of a doubling: status %d, token %d",
                      k, (int)st, (int)t);
            }
            test_fail_allocation(0);
        }
        b[i] = sample1(twin, l);
    }
    CHECK(memcmp(a, b, sizeof a) == 0, "after failed doublings the run differs from one without");
    latent_sampler_free(s);
    latent_sampler_free(twin);
    CHECK(latent_heap_bytes() == base, "free returns every byte");
}

/* ============================================================================
 * Seeds, replay, and the fixed sequence shared by every architecture
 * ========================================================================== */

static void draw_n(latent_sampler *s, const float *l, int n, int *out)
{
    for (int i = 0; i < n; i++)
        out[i] = sample1(s, l);
}

static void test_seeds(void)
{
    enum { N = 50, K = 60 };
    float l[N];
    for (int i = 0; i < N; i++)
        l[i] = (float)(i % 5) * 0.125f; /* flat: many choices per step */
    latent_sampler_params p = latent_sampler_default_params();
    p.top_k = 0;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.1f; /* remembered tokens matter for the replay too */
    p.seed = 1234;
    int a[K], b[K], c[K], d[K];
    latent_sampler *s1 = make(N, &p), *s2 = make(N, &p);
    p.seed = 1235;
    latent_sampler *s3 = make(N, &p);
    if (!s1 || !s2 || !s3)
        return;
    draw_n(s1, l, K, a);
    draw_n(s2, l, K, b);
    draw_n(s3, l, K, c);
    CHECK(memcmp(a, b, sizeof a) == 0, "same seed, same sequence");
    CHECK(memcmp(a, c, sizeof a) != 0, "seeds 1234 and 1235 gave the same %d tokens", K);
    latent_sampler_reset(s1, 1234);
    draw_n(s1, l, K, d);
    CHECK(memcmp(a, d, sizeof a) == 0, "reset(seed) replays the sequence");
    latent_sampler_reset(s3, 1234);
    draw_n(s3, l, K, d);
    CHECK(memcmp(a, d, sizeof a) == 0, "reset to another sampler's seed gives its sequence");
    latent_sampler_free(s1);
    latent_sampler_free(s2);
    latent_sampler_free(s3);

    /* NULL params are the defaults, the default seed included */
    latent_sampler_params dp = latent_sampler_default_params();
    s1 = make(N, NULL);
    s2 = make(N, &dp);
    if (!s1 || !s2)
        return;
    draw_n(s1, l, K, a);
    draw_n(s2, l, K, b);
    CHECK(memcmp(a, b, sizeof a) == 0, "NULL params equal the defaults");
    latent_sampler_free(s1);
    latent_sampler_free(s2);
}

/* The default seed's first 20 draws on a fixed vector equal the reference's: on x86 and
 * under qemu-aarch64 alike, since the input and the reference are exact. */
static void test_fixed_sequence(void)
{
    enum { N = 64, K = 20 };
    float l[N];
    for (int i = 0; i < N; i++)
        l[i] = (float)((i * 37) % 101) / 16.0f - 3.0f; /* exact in binary */
    latent_sampler_params p = latent_sampler_default_params();
    p.temperature = 1.5f;
    p.top_p = 0.9f; /* keeps a dozen tokens of comparable weight */
    latent_sampler *s = make(N, &p);
    if (!s)
        return;
    ref_rng rng;
    ref_seed(&rng, p.seed);
    int hist[K], n_hist = 0, got[K], want[K], distinct = 0;
    for (int i = 0; i < K; i++) {
        got[i] = sample1(s, l);
        want[i] = ref_sample(l, N, &p, &rng, hist, &n_hist);
    }
    for (int i = 0; i < K; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= got[j] == got[i];
        distinct += !seen;
    }
    CHECK(memcmp(got, want, sizeof got) == 0, "first 20 draws differ from the reference");
    CHECK(distinct >= 5, "the fixed case is not trivial (%d distinct)", distinct);
    printf("default seed, first 20:");
    for (int i = 0; i < K; i++)
        printf(" %d", got[i]);
    printf("\n");
    latent_sampler_free(s);

    /* a long run on a large vocabulary with penalties: a hash to compare across machines */
    enum { V = 32000, STEPS = 300 };
    static float big[V];
    lcg_state = 77;
    fill_logits(big, V, 3.0f);
    p = latent_sampler_default_params();
    p.repeat_penalty = 1.1f;
    p.frequency_penalty = 0.05f;
    s = make(V, &p);
    if (!s)
        return;
    uint64_t h = 1469598103934665603u;
    for (int i = 0; i < STEPS; i++) {
        big[(i * 7919) % V] += 0.5f; /* vary the input a little each step */
        h = (h ^ (uint64_t)sample1(s, big)) * 1099511628211u;
    }
    printf("default params + penalties, 32000 tokens, 300 steps: fnv %016llx\n",
           (unsigned long long)h);
    latent_sampler_free(s);
}

/* ============================================================================
 * Memory: allocation failures at create, no allocation per sample
 * ========================================================================== */

static void test_allocation(void)
{
    latent_sampler_params p = latent_sampler_default_params();
    p.repeat_penalty = 1.1f; /* every buffer: candidates, counts, window */
    size_t base = latent_heap_bytes();
    latent_sampler *s = NULL;
    latent_status st = LATENT_ENOMEM;
    int n;
    for (n = 1; n < 50; n++) {
        test_fail_allocation(n);
        s = (latent_sampler *)&p;
        st = latent_sampler_create(1000, &p, &s);
        if (st == LATENT_OK)
            break;
        CHECK(st == LATENT_ENOMEM && s == NULL, "failing allocation %d: status %d", n, (int)st);
        CHECK(latent_heap_bytes() == base, "failing allocation %d leaked %zu bytes", n,
              latent_heap_bytes() - base);
    }
    test_fail_allocation(0);
    CHECK(st == LATENT_OK && n >= 3, "create succeeded after %d injected failures", n - 1);
    if (st != LATENT_OK)
        return;
    float l[1000];
    lcg_state = 3;
    fill_logits(l, 1000, 2.0f);
    long before = test_allocation_count();
    for (int i = 0; i < 100; i++)
        sample1(s, l);
    CHECK(test_allocation_count() == before, "sample allocated");
    latent_sampler_free(s);
    CHECK(latent_heap_bytes() == base, "free returns every byte");
}

/* ============================================================================
 * Speed on a 152k vocabulary (printed, not asserted: the machine is shared)
 * ========================================================================== */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void test_speed(void)
{
    enum { V = 152064 };
    static float l[V];
    lcg_state = 8;
    fill_logits(l, V, 3.0f);
    struct {
        const char *what;
        int top_k;
        float top_p, min_p, repeat;
    } cfg[] = {
        {"defaults (top-k 40)", 40, 0.95f, 0.05f, 1.0f},
        {"defaults + repeat penalty", 40, 0.95f, 0.05f, 1.1f},
        {"top-k off, top-p 0.95, min-p 0.05", 0, 0.95f, 0.05f, 1.0f},
        {"everything off (lazy draw)", 0, 1.0f, 0.0f, 1.0f},
    };
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
        latent_sampler_params p = latent_sampler_default_params();
        p.top_k = cfg[c].top_k;
        p.top_p = cfg[c].top_p;
        p.min_p = cfg[c].min_p;
        p.repeat_penalty = cfg[c].repeat;
        latent_sampler *s = make(V, &p);
        if (!s)
            return;
        int reps = c == 3 ? 5 : 20;
        double t0 = now();
        for (int i = 0; i < reps; i++)
            sample1(s, l);
        printf("152064 tokens, %s: %.3f ms per sample\n", cfg[c].what, (now() - t0) * 1e3 / reps);
        latent_sampler_free(s);
    }

    /* DRY's own cost: one Z pass over the window, so it should grow with the window and
     * not with how repetitive the history is. Defaults + DRY against defaults alone. */
    enum { W = 16384 };
    static int loop_hist[W];
    for (int i = 0; i < W; i++)
        loop_hist[i] = (int)((unsigned)(i % 97) * 1009u % 5000u); /* a 97-token loop */
    for (int window = 1024; window <= W; window *= 4)
        for (int kind = 0; kind < 3; kind++) {
            latent_sampler_params p = latent_sampler_default_params();
            p.dry_multiplier = kind ? 0.8f : 0.0f;
            p.dry_penalty_last_n = window;
            latent_sampler *s = make(V, &p);
            if (!s)
                return;
            for (int i = 0; i < window; i++) /* kind 2: one token over and over, the worst case */
                latent_sampler_accept(s, kind == 2 ? 7 : loop_hist[i]);
            double t0 = now();
            for (int i = 0; i < 20; i++)
                sample1(s, l);
            printf("152064 tokens, defaults%s, %d tokens remembered: %.3f ms per sample\n",
                   kind == 0 ? "" : kind == 1 ? " + DRY over a looping history" : " + DRY over one token repeated",
                   window, (now() - t0) * 1e3 / 20);
            latent_sampler_free(s);
        }
}

/* On the x87 a draw runs with the FPU's precision set to double (src/sampler.c): the
 * caller must get its own back, so a long double division keeps its extra bits. */
static void test_caller_precision(void)
{
#if LDBL_MANT_DIG > DBL_MANT_DIG
    float l[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    latent_sampler *s = make(8, NULL);
    if (!s)
        return;
    for (int i = 0; i < 3; i++)
        sample1(s, l);
    volatile long double one = 1, three = 3;
    long double third = one / three;
    CHECK(third != (long double)(double)third, "after sampling, 1/3 in long double has only double's bits");
    latent_sampler_free(s);
#else
    printf("caller precision check: not applicable, long double is double on this machine\n");
#endif
}

int main(void)
{
    test_params();
    test_bad_logits();
    test_greedy();
    test_frequencies();
    test_allowed_sets();
    test_penalties();
    test_dry_by_hand();
    test_dry_overflow();
    test_dry_random();
    test_unbounded_history();
    test_breakers_from_text();
    test_seeds();
    test_fixed_sequence();
    test_caller_precision();
    test_allocation();
    test_speed();
    CHECK(sample_failures == 0, "%d samples failed on valid logits", sample_failures);
    return test_done();
}
