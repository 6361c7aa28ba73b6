/*
 * pretokenize.c — the pre-tokenizers of byte-level BPE vocabularies, as hand-written
 * scanners over Unicode categories (no regex library).
 *
 * Each vocabulary names its pre-tokenizer (tokenizer.ggml.pre). A pre-tokenizer is a
 * list of steps; each step cuts every piece the previous steps left, and keeps both the
 * parts it matches and the parts between (Hugging Face's "isolated" split). Most steps
 * are one regex each, scanned leftmost-first with greedy repetition as a regex engine
 * would; the two big patterns (GPT-2's and Llama 3's) are written out as the
 * alternatives they are. They follow llama.cpp's, which reproduce the Hugging Face
 * tokenizers on the published test vectors, including two details of how llama.cpp
 * evaluates patterns that it does not hand-write: in a pattern with \p{..} classes, a
 * character outside ASCII counts only by its category (and as \s when it is White_Space),
 * and in a pattern without them a White_Space character outside ASCII matches only \s.
 *
 * Text that is not UTF-8 is cut here as if each stray byte were U+FFFD, but the words
 * keep the original bytes, so byte-level BPE still spells them exactly.
 */
#include <string.h>

#include "tokenizer.h"
#include "unicode.h"

/* ============================================================================
 * Names
 * ========================================================================== */

static const struct {
    const char *name;
    lt_pre_type pre;
} pre_names[] = {
    {"default", LT_PRE_DEFAULT},
    {"gpt-2", LT_PRE_GPT2},        {"gpt2", LT_PRE_GPT2},          {"mpt", LT_PRE_GPT2},
    {"olmo", LT_PRE_GPT2},         {"phi-2", LT_PRE_GPT2},         {"jais", LT_PRE_GPT2},
    {"roberta-bpe", LT_PRE_GPT2},  {"gigachat", LT_PRE_GPT2},      {"jina-es", LT_PRE_GPT2},
    {"jina-de", LT_PRE_GPT2},      {"jina-v1-en", LT_PRE_GPT2},    {"jina-v2-es", LT_PRE_GPT2},
    {"jina-v2-de", LT_PRE_GPT2},   {"jina-v2-code", LT_PRE_GPT2},  {"trillion", LT_PRE_GPT2},
    {"llama-bpe", LT_PRE_LLAMA3},  {"llama3", LT_PRE_LLAMA3},      {"llama-v3", LT_PRE_LLAMA3},
    {"falcon3", LT_PRE_LLAMA3},    {"dbrx", LT_PRE_LLAMA3},        {"smaug-bpe", LT_PRE_LLAMA3},
    {"qwen2", LT_PRE_QWEN2},       {"stablelm2", LT_PRE_QWEN2},    {"megrez", LT_PRE_QWEN2},
    {"deepseek-r1-qwen", LT_PRE_QWEN2},
    {"starcoder", LT_PRE_STARCODER}, {"refact", LT_PRE_STARCODER}, {"smollm", LT_PRE_STARCODER},
    {"command-r", LT_PRE_STARCODER}, {"codeshell", LT_PRE_STARCODER}, {"exaone", LT_PRE_STARCODER},
    {"minerva-7b", LT_PRE_STARCODER},
    {"falcon", LT_PRE_FALCON},
    {"deepseek-llm", LT_PRE_DEEPSEEK_LLM},
    {"deepseek-coder", LT_PRE_DEEPSEEK_CODER},
};

int lt_pre_type_from_name(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof pre_names / sizeof *pre_names; i++)
        if (strlen(pre_names[i].name) == len && memcmp(pre_names[i].name, name, len) == 0)
            return (int)pre_names[i].pre;
    return -1;
}

const char *lt_pre_type_name(lt_pre_type pre)
{
    static const char *const names[] = {"default", "gpt-2", "llama3", "qwen2", "starcoder",
                                        "falcon", "deepseek-llm", "deepseek-coder"};
    return (unsigned)pre < sizeof names / sizeof *names ? names[pre] : "?";
}

/* ============================================================================
 * The text as code points
 * ========================================================================== */

typedef struct cptext {
    uint32_t *cp; /* code points (U+FFFD for a byte that starts no UTF-8 sequence) */
    uint8_t *fl;  /* their LT_UC_* flags */
    size_t *off;  /* byte offset of each; off[n] = the text's length */
    size_t n;
} cptext;

static int cls(const cptext *t, size_t i) { return t->fl[i] & LT_UC_CLASS; }
static int is_space(const cptext *t, size_t i) { return (t->fl[i] & LT_UC_SPACE) != 0; }
static int is_letter(const cptext *t, size_t i) { return cls(t, i) == LT_UC_LETTER; }
static int is_number(const cptext *t, size_t i) { return cls(t, i) == LT_UC_NUMBER; }
static int is_punct(const cptext *t, size_t i) { return cls(t, i) == LT_UC_PUNCT; }
/* [^\s\p{L}\p{N}] */
static int is_other(const cptext *t, size_t i) { return !is_space(t, i) && !is_letter(t, i) && !is_number(t, i); }

/* A character as a pattern without \p{..} sees it: White_Space outside ASCII is U+000B. */
static uint32_t wide(const cptext *t, size_t i)
{
    return t->cp[i] > 0x7f && is_space(t, i) ? 0x0b : t->cp[i];
}

/* ============================================================================
 * Cutting: a list of word ends (code point indices), refined step by step
 * ========================================================================== */

typedef struct cuts {
    size_t *end;
    size_t n;
} cuts;

static void cut(cuts *c, size_t end)
{
    if (c->n == 0 ? end > 0 : c->end[c->n - 1] < end)
        c->end[c->n++] = end;
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static void split_gpt2(const cptext *t, size_t s, size_t e, cuts *out)
{
    for (size_t pos = s; pos < e;) {
        uint32_t c = t->cp[pos];
        if (c == '\'' && pos + 1 < e) {
            uint32_t c1 = t->cp[pos + 1];
            if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
                cut(out, pos += 2);
                continue;
            }
            if (pos + 2 < e) {
                uint32_t c2 = t->cp[pos + 2];
                if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
                    cut(out, pos += 3);
                    continue;
                }
            }
        }
        size_t q = pos + (c == ' '); /* after the optional space */
        if (q < e && is_letter(t, q)) {
            for (pos = q; pos < e && is_letter(t, pos); pos++) {
            }
            cut(out, pos);
            continue;
        }
        if (q < e && is_number(t, q)) {
            for (pos = q; pos < e && is_number(t, pos); pos++) {
            }
            cut(out, pos);
            continue;
        }
        if (q < e && is_other(t, q)) {
            for (pos = q; pos < e && is_other(t, pos); pos++) {
            }
            cut(out, pos);
            continue;
        }
        size_t ws = 0;
        while (pos + ws < e && is_space(t, pos + ws))
            ws++;
        if (ws > 1 && pos + ws < e) { /* \s+(?!\S): leave the last one to the next word */
            cut(out, pos += ws - 1);
            continue;
        }
        if (ws > 0) {
            cut(out, pos += ws);
            continue;
        }
        cut(out, ++pos);
    }
}

/* Llama 3 (max_digits 3), Qwen2 (1):
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 * \s*[\r\n]+|\s+(?!\S)|\s+ */
static uint32_t ascii_lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }
static int is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }

static void split_llama3(const cptext *t, size_t s, size_t e, size_t max_digits, cuts *out)
{
    for (size_t pos = s; pos < e;) {
        uint32_t c = t->cp[pos];
        if (c == '\'' && pos + 1 < e) {
            uint32_t c1 = ascii_lower(t->cp[pos + 1]);
            if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
                cut(out, pos += 2);
                continue;
            }
            if (pos + 2 < e) {
                uint32_t c2 = ascii_lower(t->cp[pos + 2]);
                if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
                    cut(out, pos += 3);
                    continue;
                }
            }
        }
        /* [^\r\n\p{L}\p{N}]?\p{L}+ */
        if (!is_crlf(c) && !is_number(t, pos) &&
            (is_letter(t, pos) || (pos + 1 < e && is_letter(t, pos + 1)))) {
            for (pos++; pos < e && is_letter(t, pos); pos++) {
            }
            cut(out, pos);
            continue;
        }
        /* \p{N}{1,max} */
        if (is_number(t, pos)) {
            size_t run = 0;
            for (; pos < e && is_number(t, pos); pos++) {
                if (++run == max_digits) {
                    cut(out, pos + 1);
                    run = 0;
                }
            }
            cut(out, pos);
            continue;
        }
        /*  ?[^\s\p{L}\p{N}]+[\r\n]* (a lone space at the very end falls here too) */
        size_t q = pos + (c == ' ');
        if ((q < e && is_other(t, q)) || q == e) {
            for (pos = q; pos < e && is_other(t, pos); pos++) {
            }
            while (pos < e && is_crlf(t->cp[pos]))
                pos++;
            cut(out, pos);
            continue;
        }
        size_t ws = 0, last_crlf_end = 0;
        while (pos + ws < e && is_space(t, pos + ws)) {
            if (is_crlf(t->cp[pos + ws]))
                last_crlf_end = pos + ws + 1;
            ws++;
        }
        if (last_crlf_end > 0) { /* \s*[\r\n]+ */
            cut(out, pos = last_crlf_end);
            continue;
        }
        if (ws > 1 && pos + ws < e) { /* \s+(?!\S) */
            cut(out, pos += ws - 1);
            continue;
        }
        if (ws > 0) {
            cut(out, pos += ws);
            continue;
        }
        cut(out, ++pos);
    }
}

/* The single-regex steps: each says how long a match starting at i is (0: none). */
typedef enum step {
    STEP_GPT2,
    STEP_LLAMA3,
    STEP_QWEN2,
    STEP_DIGIT,          /* \p{N} */
    STEP_DIGITS,         /* \p{N}+ */
    STEP_ASCII_DIGITS3,  /* [0-9][0-9][0-9] */
    STEP_PUNCT_DEFAULT,  /* [\p{P}\$\+<=>\^~\|]+ */
    STEP_PUNCT_FALCON,   /* [\p{P}\$\+<=>\^~\|`]+ */
    STEP_CRLF,           /* [\r\n] */
    STEP_SPACE_LETTERS,  /* \s?\p{L}+ */
    STEP_SPACE_PUNCTS,   /* \s?\p{P}+ */
    STEP_DS_LETTERS,     /* \s?[A-Za-zµÀ-ÖØ-öø-ƺ...]+ (deepseek-llm's letters) */
    STEP_DS_PUNCTS,      /* \s?[!-/:-~！-／：-～‘-‟　-。]+ */
    STEP_TRAILING_SPACE, /* \s+$ */
    STEP_CJK,            /* [一-龥ࠀ-一가-퟿]+ */
    STEP_END,
} step;

/* deepseek-llm's letter class, as code point ranges */
static const uint32_t ds_letters[][2] = {
    {0x41, 0x5A},       {0x61, 0x7A},       {0xB5, 0xB5},       {0xC0, 0xD6},       {0xD8, 0xF6},
    {0xF8, 0x1BA},      {0x1BC, 0x1BF},     {0x1C4, 0x293},     {0x295, 0x2AF},     {0x370, 0x373},
    {0x376, 0x377},     {0x37B, 0x37D},     {0x37F, 0x37F},     {0x386, 0x386},     {0x388, 0x38A},
    {0x38C, 0x38C},     {0x38E, 0x3A1},     {0x3A3, 0x3F5},     {0x3F7, 0x481},     {0x48A, 0x52F},
    {0x531, 0x556},     {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},   {0x1C90, 0x1CBA},
    {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},   {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},
    {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},   {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},
    {0x1F5B, 0x1F5B},   {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},   {0x1FD6, 0x1FDB},
    {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},   {0x2102, 0x2102},   {0x2107, 0x2107},
    {0x210A, 0x2113},   {0x2115, 0x2115},   {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},
    {0x2128, 0x2128},   {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
    {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},   {0x2C7E, 0x2CE4},
    {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},   {0xA680, 0xA69B},   {0xA722, 0xA76F},
    {0xA771, 0xA787},   {0xA78B, 0xA78E},   {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},
    {0xFF21, 0xFF3A},   {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};

static const uint32_t ds_puncts[][2] = {
    {0x21, 0x2F}, {0x3A, 0x7E}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}, {0x2018, 0x201F}, {0x3000, 0x3002},
};

static const uint32_t cjk[][2] = {{0x4E00, 0x9FA5}, {0x800, 0x4E00}, {0xAC00, 0xD7FF}};

static int in_ranges(uint32_t c, const uint32_t (*r)[2], size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (c >= r[i][0] && c <= r[i][1])
            return 1;
    return 0;
}

static int is_symbol_extra(uint32_t c, int backtick)
{
    return c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '~' || c == '|' ||
           (backtick && c == '`');
}

/* Does the class repeated by `st` hold character i? */
static int in_class(step st, const cptext *t, size_t i)
{
    switch (st) {
    case STEP_DIGIT:
    case STEP_DIGITS:
        return is_number(t, i);
    case STEP_ASCII_DIGITS3:
        return t->cp[i] >= '0' && t->cp[i] <= '9';
    case STEP_PUNCT_DEFAULT:
        return is_punct(t, i) || is_symbol_extra(t->cp[i], 0);
    case STEP_PUNCT_FALCON:
        return is_punct(t, i) || is_symbol_extra(t->cp[i], 1);
    case STEP_CRLF:
        return is_crlf(t->cp[i]);
    case STEP_SPACE_LETTERS:
        return is_letter(t, i);
    case STEP_SPACE_PUNCTS:
        return is_punct(t, i);
    case STEP_DS_LETTERS:
        return in_ranges(wide(t, i), ds_letters, sizeof ds_letters / sizeof *ds_letters);
    case STEP_DS_PUNCTS:
        return in_ranges(wide(t, i), ds_puncts, sizeof ds_puncts / sizeof *ds_puncts);
    case STEP_TRAILING_SPACE:
        return is_space(t, i);
    case STEP_CJK:
        return in_ranges(wide(t, i), cjk, sizeof cjk / sizeof *cjk);
    default:
        return 0;
    }
}

static size_t match_at(step st, const cptext *t, size_t i, size_t e)
{
    size_t j = i;
    switch (st) {
    case STEP_DIGIT:
    case STEP_CRLF:
        return in_class(st, t, i);
    case STEP_ASCII_DIGITS3:
        return i + 3 <= e && in_class(st, t, i) && in_class(st, t, i + 1) && in_class(st, t, i + 2) ? 3 : 0;
    case STEP_SPACE_LETTERS:
    case STEP_SPACE_PUNCTS:
    case STEP_DS_LETTERS:
    case STEP_DS_PUNCTS:
        /* \s? then one or more: with the space if what follows starts the run */
        if (is_space(t, i) && i + 1 < e && in_class(st, t, i + 1))
            j = i + 1;
        break;
    case STEP_TRAILING_SPACE:
        while (j < e && is_space(t, j))
            j++;
        return j == e ? e - i : 0;
    default:
        break;
    }
    while (j < e && in_class(st, t, j))
        j++;
    return j - i;
}

/* Applies one step to the piece [s, e). */
static void split_step(step st, const cptext *t, size_t s, size_t e, cuts *out)
{
    if (st == STEP_GPT2) {
        split_gpt2(t, s, e, out);
        return;
    }
    if (st == STEP_LLAMA3 || st == STEP_QWEN2) {
        split_llama3(t, s, e, st == STEP_LLAMA3 ? 3 : 1, out);
        return;
    }
    for (size_t i = s; i < e;) {
        size_t m = match_at(st, t, i, e);
        if (m == 0) {
            i++;
            continue;
        }
        cut(out, i); /* what lies between matches is a piece of its own */
        cut(out, i += m);
    }
    cut(out, e);
}

static const step steps_of[][7] = {
    [LT_PRE_DEFAULT] = {STEP_PUNCT_DEFAULT, STEP_GPT2, STEP_DIGITS, STEP_ASCII_DIGITS3, STEP_END},
    [LT_PRE_GPT2] = {STEP_GPT2, STEP_END},
    [LT_PRE_LLAMA3] = {STEP_LLAMA3, STEP_END},
    [LT_PRE_QWEN2] = {STEP_QWEN2, STEP_END},
    [LT_PRE_STARCODER] = {STEP_DIGIT, STEP_GPT2, STEP_END},
    [LT_PRE_FALCON] = {STEP_PUNCT_FALCON, STEP_GPT2, STEP_ASCII_DIGITS3, STEP_END},
    [LT_PRE_DEEPSEEK_LLM] = {STEP_CRLF, STEP_DS_LETTERS, STEP_DS_PUNCTS, STEP_TRAILING_SPACE, STEP_CJK,
                             STEP_DIGITS, STEP_END},
    [LT_PRE_DEEPSEEK_CODER] = {STEP_CRLF, STEP_SPACE_LETTERS, STEP_SPACE_PUNCTS, STEP_CJK, STEP_DIGIT,
                               STEP_END},
};

latent_status lt_pretokenize(lt_pre_type pre, const char *text, size_t len, size_t **ends, size_t *n_words)
{
    *ends = NULL;
    *n_words = 0;
    if ((unsigned)pre >= sizeof steps_of / sizeof *steps_of)
        return lt_fail(LATENT_EINVAL, "pre-tokenizer %d unknown", (int)pre);
    if (len == 0)
        return LATENT_OK;
    if (len > SIZE_MAX / 32)
        return lt_fail(LATENT_EINVAL, "latent_tokenize: %zu bytes of text is too long", len);

    cptext t;
    t.cp = lt_alloc_array(NULL, len, sizeof *t.cp);
    t.fl = lt_alloc(NULL, len);
    t.off = lt_alloc_array(NULL, len + 1, sizeof *t.off);
    cuts a = {lt_alloc_array(NULL, len, sizeof(size_t)), 0};
    cuts b = {lt_alloc_array(NULL, len, sizeof(size_t)), 0};
    latent_status st = LATENT_OK;
    if (!t.cp || !t.fl || !t.off || !a.end || !b.end) {
        st = LATENT_ENOMEM;
        goto done;
    }
    t.n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t l = lt_utf8_decode((const unsigned char *)text + i, len - i, &cp);
        if (l == 0) {
            cp = 0xfffd;
            l = 1;
        }
        t.cp[t.n] = cp;
        t.fl[t.n] = lt_unicode_flags(cp);
        t.off[t.n++] = i;
        i += l;
    }
    t.off[t.n] = len;

    a.end[a.n++] = t.n;
    for (const step *s = steps_of[pre]; *s != STEP_END; s++) {
        b.n = 0;
        for (size_t k = 0, start = 0; k < a.n; start = a.end[k++])
            split_step(*s, &t, start, a.end[k], &b);
        cuts tmp = a;
        a = b;
        b = tmp;
    }
    /* code point ends -> byte ends, in place */
    for (size_t k = 0; k < a.n; k++)
        a.end[k] = t.off[a.end[k]];
    *ends = a.end;
    *n_words = a.n;
    a.end = NULL;
done:
    lt_free(NULL, t.cp);
    lt_free(NULL, t.fl);
    lt_free(NULL, t.off);
    lt_free(NULL, a.end);
    lt_free(NULL, b.end);
    return st;
}
