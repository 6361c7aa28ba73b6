/*
 * fold.c — UTF-8 in, what a sixteen-segment font can show out.
 *
 * A model writes curly quotes, dashes, accented names, the odd emoji, and (split across
 * tokens) half characters. The decoder takes bytes one at a time, so a character cut
 * between two writes is whole when its last byte arrives; the fold then maps each code
 * point to ASCII, to nothing, or to the placeholder, so the wall never shows garbage.
 */
#include <string.h>

#include "wall.h"

#define PH "\x1a" /* WALL_PLACEHOLDER as a string */

/* ---- the decoder: Unicode's table of well-formed byte sequences ---- */

static int start(wall_utf8 *d, unsigned char b, uint32_t *cp)
{
    d->lo = 0x80, d->hi = 0xBF;
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xC2 && b <= 0xDF)
        d->need = 1, d->cp = b & 0x1Fu;
    else if (b >= 0xE0 && b <= 0xEF) {
        d->need = 2, d->cp = b & 0x0Fu;
        if (b == 0xE0)
            d->lo = 0xA0; /* below: overlong */
        if (b == 0xED)
            d->hi = 0x9F; /* above: surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        d->need = 3, d->cp = b & 0x07u;
        if (b == 0xF0)
            d->lo = 0x90; /* below: overlong */
        if (b == 0xF4)
            d->hi = 0x8F; /* above: past U+10FFFF */
    } else {
        *cp = WALL_BAD_CP; /* a stray continuation byte, C0, C1, F5..FF */
        return 1;
    }
    return 0;
}

int wall_utf8_push(wall_utf8 *d, unsigned char b, uint32_t cp[2])
{
    if (d->need == 0)
        return start(d, b, &cp[0]);
    if (b >= d->lo && b <= d->hi) {
        d->cp = d->cp << 6 | (b & 0x3Fu);
        d->lo = 0x80, d->hi = 0xBF;
        if (--d->need > 0)
            return 0;
        cp[0] = d->cp;
        return 1;
    }
    /* The sequence broke off: one placeholder for it, and the byte starts afresh. */
    d->need = 0;
    cp[0] = WALL_BAD_CP;
    return 1 + start(d, b, &cp[1]);
}

int wall_utf8_flush(wall_utf8 *d, uint32_t *cp)
{
    if (d->need == 0)
        return 0;
    d->need = 0;
    *cp = WALL_BAD_CP;
    return 1;
}

/* ---- the fold ---- */

/* U+00A0 .. U+00FF. */
static const char *const latin1[96] = {
    " ", "!", "c", "L", PH, "Y", "|", "S", "\"", "(c)", "a", "\"", "-", "", "(R)", "-",
    "o", "+-", "2", "3", "'", "u", "P", ".", ",", "1", "o", "\"", "1/4", "1/2", "3/4", "?",
    "A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E", "I", "I", "I", "I",
    "D", "N", "O", "O", "O", "O", "O", "x", "O", "U", "U", "U", "U", "Y", "TH", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    "d", "n", "o", "o", "o", "o", "o", "/", "o", "u", "u", "u", "u", "y", "th", "y",
};

/* U+0100 .. U+017F (Latin Extended-A) to their base letters; '*' marks the ligatures,
 * which are in `sparse` below. */
static const char latin_ext_a[] =
    "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi**JjKkkLlLlLlLlLlNnNnNnnNnOoOoOo"
    "**RrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs";
_Static_assert(sizeof latin_ext_a == 128 + 1, "one letter per code point U+0100..U+017F");

/* Everything else that has a fold, sorted by code point. */
static const struct {
    uint32_t cp;
    char s[WALL_FOLD_MAX];
} sparse[] = {
    {0x0085, "\n"},  {0x0132, "IJ"},  {0x0133, "ij"},   {0x0152, "OE"},  {0x0153, "oe"},
    {0x0192, "f"},   {0x0218, "S"},   {0x0219, "s"},    {0x021A, "T"},   {0x021B, "t"},
    {0x02B9, "'"},   {0x02BA, "\""},  {0x02BB, "'"},    {0x02BC, "'"},   {0x02C6, "^"},
    {0x02C8, "'"},   {0x02CB, "`"},   {0x02D0, ":"},    {0x02DC, "~"},   {0x037E, ";"},
    {0x2010, "-"},   {0x2011, "-"},   {0x2012, "-"},    {0x2013, "-"},   {0x2014, "-"},
    {0x2015, "-"},   {0x2016, "|"},   {0x2017, "_"},    {0x2018, "'"},   {0x2019, "'"},
    {0x201A, ","},   {0x201B, "'"},   {0x201C, "\""},   {0x201D, "\""},  {0x201E, "\""},
    {0x201F, "\""},  {0x2020, "+"},   {0x2021, "+"},    {0x2022, "*"},   {0x2023, ">"},
    {0x2024, "."},   {0x2025, ".."},  {0x2026, "..."},  {0x2027, "-"},   {0x2028, "\n"},
    {0x2029, "\n\n"}, {0x202F, " "},  {0x2030, "%"},    {0x2031, "%"},   {0x2032, "'"},
    {0x2033, "\""},  {0x2035, "`"},   {0x2039, "'"},    {0x203A, "'"},   {0x203C, "!!"},
    {0x203D, "?!"},  {0x2043, "-"},   {0x2044, "/"},    {0x2047, "??"},  {0x2048, "?!"},
    {0x2049, "!?"},  {0x204E, "*"},   {0x205F, " "},    {0x20AC, "EUR"}, {0x2116, "No"},
    {0x2122, "TM"},  {0x2190, "<-"},  {0x2191, "^"},    {0x2192, "->"},  {0x2193, "v"},
    {0x2194, "<->"}, {0x21D0, "<="},  {0x21D2, "=>"},   {0x21D4, "<=>"}, {0x2212, "-"},
    {0x2215, "/"},   {0x2217, "*"},   {0x2219, "."},    {0x221E, "oo"},  {0x2223, "|"},
    {0x2248, "~"},   {0x2260, "!="},  {0x2261, "="},    {0x2264, "<="},  {0x2265, ">="},
    {0x22C5, "."},   {0x3000, " "},   {0x3001, ","},    {0x3002, "."},
};

/* Ranges that fold to nothing: marks that have no look of their own on a wall. */
static const uint32_t invisible[][2] = {
    {0x0300, 0x036F},   /* combining accents: the base letter is already shown */
    {0x1AB0, 0x1AFF},   {0x1DC0, 0x1DFF}, {0x20D0, 0x20FF}, /* more combining marks */
    {0x200B, 0x200F},   /* zero-width space, non-joiner, joiner, LRM, RLM */
    {0x202A, 0x202E},   {0x2060, 0x206F}, /* bidi embeddings, word joiner, isolates */
    {0xFE00, 0xFE0F},   /* variation selectors (an emoji's VS16) */
    {0xFEFF, 0xFEFF},   /* byte order mark */
    {0x1F3FB, 0x1F3FF}, /* skin tone modifiers: the emoji before is one placeholder */
    {0xE0000, 0xE007F}, /* tags (flag sequences) */
    {0xE0100, 0xE01EF}, /* variation selectors supplement */
};

static int put(char out[WALL_FOLD_MAX], const char *s)
{
    size_t n = strlen(s);
    memcpy(out, s, n + 1);
    return (int)n;
}

int wall_fold_cp(uint32_t cp, char out[WALL_FOLD_MAX])
{
    if (cp < 0x80) {
        if (cp >= 0x20 && cp < 0x7F)
            return put(out, (char[]){(char)cp, 0});
        switch (cp) {
        case '\t': return put(out, " ");
        case '\n': case '\v': case '\f': return put(out, "\n");
        case '\r': return put(out, ""); /* CR LF is one line break */
        default: return put(out, PH);   /* other controls, DEL */
        }
    }
    if (cp >= 0xA0 && cp <= 0xFF)
        return put(out, latin1[cp - 0xA0]);
    if (cp >= 0x100 && cp <= 0x17F && latin_ext_a[cp - 0x100] != '*')
        return put(out, (char[]){latin_ext_a[cp - 0x100], 0});
    if (cp >= 0x2000 && cp <= 0x200A)
        return put(out, " "); /* en quad .. hair space */
    if (cp >= 0xFF01 && cp <= 0xFF5E)
        return put(out, (char[]){(char)(cp - 0xFEE0), 0}); /* fullwidth ASCII */
    for (size_t k = 0; k < sizeof invisible / sizeof invisible[0]; k++)
        if (cp >= invisible[k][0] && cp <= invisible[k][1])
            return put(out, "");
    size_t lo = 0, hi = sizeof sparse / sizeof sparse[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sparse[mid].cp == cp)
            return put(out, sparse[mid].s);
        if (sparse[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return put(out, PH); /* WALL_BAD_CP, emoji, scripts the font lacks, U+FFFD */
}

size_t wall_fold(wall_utf8 *d, const char *in, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t cp[2];
        int got = wall_utf8_push(d, (unsigned char)in[k], cp);
        for (int j = 0; j < got; j++) {
            char s[WALL_FOLD_MAX];
            int m = wall_fold_cp(cp[j], s);
            for (int q = 0; q < m; q++, len++)
                if (len + 1 < cap)
                    out[len] = s[q];
        }
    }
    if (cap > 0)
        out[len < cap ? len : cap - 1] = 0;
    return len;
}
