/*
 * cli.h — what the example programs share: strict number parsing for flags (an absurd
 * flag is an error message, not a surprise), a clock, and the process's peak memory.
 * Header-only so each example stays one file plus the library.
 */
#ifndef LATENT_CLI_H
#define LATENT_CLI_H

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "latent.h"

/* The program's name for error messages; each main() sets it first. */
static const char *cli_program __attribute__((unused)) = "latent";

__attribute__((format(printf, 1, 2))) static inline void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cli_program);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* The value after flag argv[*i], advancing *i; NULL (after a message) when missing. */
static inline const char *cli_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_error("%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

static inline int cli_long(const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || end == s || *end || errno || v < lo || v > hi) {
        cli_error("%s: '%s' is not a whole number from %ld to %ld", flag, s ? s : "", lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static inline int cli_int(const char *flag, const char *s, int lo, int hi, int *out)
{
    long v;
    if (cli_long(flag, s, lo, hi, &v))
        return -1;
    *out = (int)v;
    return 0;
}

static inline int cli_u64(const char *flag, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = s && *s != '-' ? strtoull(s, &end, 0) : 0;
    if (!s || *s == '-' || end == s || *end || errno) {
        cli_error("%s: '%s' is not a non-negative whole number", flag, s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

static inline int cli_float(const char *flag, const char *s, double lo, double hi, float *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || end == s || *end || errno || !(v >= lo && v <= hi)) {
        cli_error("%s: '%s' is not a number from %g to %g", flag, s ? s : "", lo, hi);
        return -1;
    }
    *out = (float)v;
    return 0;
}

/* "64M", "1.5G", "4096", "512k": bytes (binary units). */
static inline int cli_bytes(const char *flag, const char *s, size_t *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    double unit = 1;
    if (s && end != s && *end) {
        switch (*end == 'i' ? 0 : (*end | 0x20)) {
        case 'k': unit = 1024.0; break;
        case 'm': unit = 1024.0 * 1024; break;
        case 'g': unit = 1024.0 * 1024 * 1024; break;
        case 't': unit = 1024.0 * 1024 * 1024 * 1024; break;
        default: unit = 0; break;
        }
        end++;
        if (*end == 'i')
            end++;
        if ((*end | 0x20) == 'b')
            end++;
    }
    v *= unit;
    if (!s || end == s || *end || errno || !(v >= 1) || v >= 0x1p62) {
        cli_error("%s: '%s' is not a size in bytes (like 4096, 64M or 1.5G)", flag, s ? s : "");
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

/* The flags every generating program shares, with the reference engine's names: --temp
 * --top-k --top-p --min-p --repeat-penalty --repeat-last-n --presence-penalty
 * --frequency-penalty --dry-multiplier --dry-base --dry-allowed-length
 * --dry-penalty-last-n (into *sp) and --kv-type (into *kv). Returns 1 when argv[*i] was one
 * of them (its value consumed), 0 when it was not, -1 on a bad or missing value. */
static inline int cli_sampling_flag(int argc, char **argv, int *i, latent_sampler_params *sp,
                                    latent_type *kv)
{
    /* a float field, or an int field when i is set; [lo, hi] is what the flag accepts */
    const struct {
        const char *name;
        float *f;
        int32_t *i;
        double lo, hi;
    } flags[] = {
        {"--temp", &sp->temperature, NULL, 0, 100},
        {"--top-k", NULL, &sp->top_k, 0, 1 << 30},
        {"--top-p", &sp->top_p, NULL, 1e-6, 1},
        {"--min-p", &sp->min_p, NULL, 0, 1},
        {"--repeat-penalty", &sp->repeat_penalty, NULL, 0.01, 100},
        {"--repeat-last-n", NULL, &sp->penalty_window, -1, 1 << 24},
        {"--presence-penalty", &sp->presence_penalty, NULL, -100, 100},
        {"--frequency-penalty", &sp->frequency_penalty, NULL, -100, 100},
        {"--dry-multiplier", &sp->dry_multiplier, NULL, 0, 1000},
        {"--dry-base", &sp->dry_base, NULL, 1, 1000},
        {"--dry-allowed-length", NULL, &sp->dry_allowed_length, 0, 1 << 24},
        {"--dry-penalty-last-n", NULL, &sp->dry_penalty_last_n, -1, 1 << 24},
    };
    const char *a = argv[*i], *v;
    size_t k = 0, n = sizeof flags / sizeof flags[0];
    while (k < n && strcmp(a, flags[k].name))
        k++;
    if (k == n && strcmp(a, "--kv-type"))
        return 0;
    if (!(v = cli_value(argc, argv, i)))
        return -1;
    if (k < n && flags[k].f)
        return cli_float(a, v, flags[k].lo, flags[k].hi, flags[k].f) ? -1 : 1;
    if (k < n) {
        int x;
        if (cli_int(a, v, (int)flags[k].lo, (int)flags[k].hi, &x))
            return -1;
        *flags[k].i = x;
        return 1;
    }
    static const struct { const char *name; latent_type type; } kv_types[] = {
        {"f16", LATENT_TYPE_F16}, {"f32", LATENT_TYPE_F32}, {"q8_0", LATENT_TYPE_Q8_0}};
    for (size_t t = 0; t < sizeof kv_types / sizeof kv_types[0]; t++)
        if (!strcmp(v, kv_types[t].name)) {
            *kv = kv_types[t].type;
            return 1;
        }
    cli_error("--kv-type: '%s' is not f16, f32 or q8_0", v);
    return -1;
}

/* Text to tokens in a malloc'd array (*n of them); NULL after a message on failure. */
static inline latent_token *cli_tokenize(const latent_model *model, const char *text, int flags, size_t *n)
{
    latent_status st = latent_tokenize(model, text, strlen(text), flags, NULL, 0, n);
    if (st != LATENT_OK && st != LATENT_ERANGE) {
        cli_error("tokenizing: %s", latent_last_error());
        return NULL;
    }
    latent_token *toks = malloc((*n ? *n : 1) * sizeof *toks);
    if (!toks || latent_tokenize(model, text, strlen(text), flags, toks, *n, n) != LATENT_OK) {
        cli_error("tokenizing: %s", toks ? latent_last_error() : "out of memory");
        free(toks);
        return NULL;
    }
    return toks;
}

static inline double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The process's peak resident memory in bytes (0 when unknown). */
static inline size_t cli_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (size_t)ru.ru_maxrss * 1024; /* Linux reports kilobytes */
}

/* Reads a whole file into malloc'd memory, NUL-terminated; NULL (after a message) on failure. */
static inline char *cli_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_error("%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1)
            break;
        char *grown = realloc(buf, cap * 2);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (!buf || failed) {
        cli_error("%s: could not read the file", path);
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    if (len)
        *len = n;
    return buf;
}

#endif /* LATENT_CLI_H */
