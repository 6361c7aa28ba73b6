/*
 * tokenizer.c — the vocabulary: built from a GGUF's tokenizer.* metadata, checked as it
 * is read (hostile metadata is LATENT_EFORMAT, never a crash). Tokenizing starts in
 * tokenize.c; llama2.c's tokenizer files are read in llama2c_vocab.c.
 *
 * What llama.cpp does at load time is mirrored here because it changes the tokens:
 * token types become attributes; tokens named like <|eot_id|> or <|im_end|> are made
 * control tokens and end generation; Phi-3's special tokens eat the whitespace after
 * them; a llama3 vocabulary takes a word whole when it is a token.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"
#include "unicode.h"

/* ============================================================================
 * Hash tables
 * ========================================================================== */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h ^ (h >> 29);
}

static uint64_t hash_pair(int32_t a, int32_t b)
{
    uint64_t h = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 31);
}

/* A table for n keys: the smallest power of two >= 1.5n (and >= 16), as a mask; 0 if
 * that overflows. Linear probing stays short at that load. */
static uint32_t table_mask_for(uint64_t n)
{
    uint64_t size = 16;
    while (size < n + n / 2) {
        size <<= 1;
        if (size > (1ull << 31))
            return 0;
    }
    return (uint32_t)(size - 1);
}

static const char *key_of(const struct lt_vocab *v, int32_t id, size_t *len)
{
    *len = v->key_off[id + 1] - v->key_off[id];
    return v->key + v->key_off[id];
}

int32_t lt_vocab_find(const struct lt_vocab *v, const char *s, size_t len)
{
    if (len == 0)
        return -1;
    for (uint32_t i = (uint32_t)hash_bytes(s, len) & v->table_mask;; i = (i + 1) & v->table_mask) {
        int32_t id = v->table[i];
        if (id < 0)
            return -1;
        size_t klen;
        const char *k = key_of(v, id, &klen);
        if (klen == len && memcmp(k, s, len) == 0)
            return id;
    }
}

/* Later ids replace earlier ones with the same key (llama.cpp's token_to_id does too). */
static void table_insert(struct lt_vocab *v, int32_t id)
{
    size_t len;
    const char *s = key_of(v, id, &len);
    for (uint32_t i = (uint32_t)hash_bytes(s, len) & v->table_mask;; i = (i + 1) & v->table_mask) {
        int32_t old = v->table[i];
        if (old < 0) {
            v->table[i] = id;
            return;
        }
        size_t klen;
        const char *k = key_of(v, old, &klen);
        if (klen == len && memcmp(k, s, len) == 0) {
            v->table[i] = id;
            return;
        }
    }
}

int32_t lt_vocab_merge_rank(const struct lt_vocab *v, int32_t a, int32_t b)
{
    if (a < 0 || b < 0 || !v->merge_table)
        return -1;
    for (uint32_t i = (uint32_t)hash_pair(a, b) & v->merge_mask;; i = (i + 1) & v->merge_mask) {
        int32_t r = v->merge_table[i];
        if (r < 0)
            return -1;
        if (v->merge_left[r] == a && v->merge_right[r] == b)
            return r;
    }
}

/* ============================================================================
 * Reading the metadata
 * ========================================================================== */

#define KEY_MODEL "tokenizer.ggml.model"
#define KEY_PRE "tokenizer.ggml.pre"
#define KEY_TOKENS "tokenizer.ggml.tokens"
#define KEY_SCORES "tokenizer.ggml.scores"
#define KEY_TYPES "tokenizer.ggml.token_type"
#define KEY_MERGES "tokenizer.ggml.merges"

/* An optional string; absent leaves *out empty. */
static latent_status get_opt_str(const latent_gguf *g, const char *key, latent_str *out)
{
    out->ptr = "";
    out->len = 0;
    int64_t i = latent_gguf_find_key(g, key);
    if (i < 0)
        return LATENT_OK;
    if (latent_gguf_kv_type(g, i) != LATENT_GGUF_STRING || latent_gguf_kv_str(g, i, 0, out) != LATENT_OK)
        return lt_fail(LATENT_EFORMAT, "%s is a %s, not a string", key,
                       latent_gguf_type_name(latent_gguf_kv_type(g, i)));
    return LATENT_OK;
}

/* An optional bool (an integer is taken as one too); absent leaves *out alone. */
static latent_status get_opt_bool(const latent_gguf *g, const char *key, int *out)
{
    int64_t i = latent_gguf_find_key(g, key), v;
    if (i < 0)
        return LATENT_OK;
    if (latent_gguf_kv_type(g, i) == LATENT_GGUF_ARRAY || latent_gguf_kv_int(g, i, 0, &v) != LATENT_OK)
        return lt_fail(LATENT_EFORMAT, "%s is a %s, not a bool", key,
                       latent_gguf_type_name(latent_gguf_kv_type(g, i)));
    *out = v != 0;
    return LATENT_OK;
}

/* An optional token id: absent leaves *out alone; -1 and 0xFFFFFFFF mean "none". */
static latent_status get_opt_id(const latent_gguf *g, const char *key, int32_t n_tokens, int32_t *out)
{
    int64_t i = latent_gguf_find_key(g, key), v;
    if (i < 0)
        return LATENT_OK;
    if (latent_gguf_kv_type(g, i) == LATENT_GGUF_ARRAY || latent_gguf_kv_int(g, i, 0, &v) != LATENT_OK)
        return lt_fail(LATENT_EFORMAT, "%s is a %s, not a token id", key,
                       latent_gguf_type_name(latent_gguf_kv_type(g, i)));
    if (v == -1 || v == 0xffffffffll) {
        *out = -1;
        return LATENT_OK;
    }
    if (v < 0 || v >= n_tokens)
        return lt_fail(LATENT_EFORMAT, "%s = %lld is not a token id (the vocabulary has %d)", key,
                       (long long)v, (int)n_tokens);
    *out = (int32_t)v;
    return LATENT_OK;
}

/* An array of `elem_kind` with exactly n elements (n = 0: any count, returned). */
static latent_status get_array(const latent_gguf *g, const char *key, int want_string, int64_t *index,
                               uint64_t *count)
{
    *index = latent_gguf_find_key(g, key);
    if (*index < 0)
        return LATENT_ENOTFOUND;
    latent_gguf_type et = latent_gguf_kv_elem_type(g, *index);
    int is_string = et == LATENT_GGUF_STRING;
    if (latent_gguf_kv_type(g, *index) != LATENT_GGUF_ARRAY || is_string != want_string ||
        et == LATENT_GGUF_ARRAY)
        return lt_fail(LATENT_EFORMAT, "%s is %s of %s, not an array of %s", key,
                       latent_gguf_kv_type(g, *index) == LATENT_GGUF_ARRAY ? "an array" : "a scalar",
                       latent_gguf_type_name(et), want_string ? "strings" : "numbers");
    *count = latent_gguf_kv_count(g, *index);
    return LATENT_OK;
}

static int str_is(latent_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

/* ============================================================================
 * Pieces and keys
 * ========================================================================== */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* "<0xHH>" -> the byte, else -1. */
int lt_byte_token_value(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    int hi = hexval(s[3]), lo = hexval(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Decodes byte-level text into raw bytes at out (room for n). Returns the length, and
 * *exact = 1 when every character was in the alphabet; characters outside it are copied
 * as they are (invalid UTF-8 byte by byte). */
static size_t byte_level_decode(const char *s, size_t n, char *out, int *exact)
{
    size_t o = 0;
    *exact = 1;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t l = lt_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        int b = l ? lt_cp_to_byte(cp) : -1;
        if (b >= 0) {
            out[o++] = (char)b;
            i += l;
        } else {
            *exact = 0;
            if (!l)
                l = 1;
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        }
    }
    return o;
}

/* Writes token i's piece (and for BPE its key) after the previous token's. */
static void build_piece_and_key(struct lt_vocab *v, int32_t i, uint32_t *piece_at, uint32_t *key_at)
{
    const char *t = v->text + v->text_off[i];
    size_t n = v->text_off[i + 1] - v->text_off[i];
    char *p = v->piece + *piece_at;
    size_t pn = 0;
    uint8_t a = v->attr[i];

    if (v->type == LT_VOCAB_SPM) {
        int b;
        if ((a & LT_TOK_BYTE) && (b = lt_byte_token_value(t, n)) >= 0) {
            p[pn++] = (char)b;
        } else if (a & LT_TOK_NORMAL) {
            for (size_t j = 0; j < n;) {
                if (j + 3 <= n && memcmp(t + j, "\xe2\x96\x81", 3) == 0) {
                    p[pn++] = ' ';
                    j += 3;
                } else {
                    p[pn++] = t[j++];
                }
            }
        } else {
            memcpy(p, t, n);
            pn = n;
        }
    } else {
        int exact;
        size_t kn = byte_level_decode(t, n, v->key + *key_at, &exact);
        v->has_key[i] = (uint8_t)exact;
        if (a & LT_TOK_NORMAL) {
            memcpy(p, v->key + *key_at, kn);
            pn = kn;
        } else {
            memcpy(p, t, n);
            pn = n;
        }
        *key_at += (uint32_t)kn;
        v->key_off[i + 1] = *key_at;
    }
    *piece_at += (uint32_t)pn;
    v->piece_off[i + 1] = *piece_at;
    if ((int32_t)pn > v->max_piece)
        v->max_piece = (int32_t)pn;
}

/* ============================================================================
 * Special tokens by name (what llama.cpp infers from the text of tokens)
 * ========================================================================== */

/* End of a turn (a candidate for EOT when the file names none). */
static const char *const eot_names[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>",
    ("<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"), /* DeepSeek */
    "<end_of_utterance>",
};
/* End of generation. */
static const char *const eog_names[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
    "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
};
/* Fill-in-the-middle padding, repository and file separators: they end generation too. */
static const char *const fim_end_names[] = {
    "<|fim_pad|>", "<fim-pad>", "<PAD>", "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
    "<|file_sep|>",
};

static int text_in(const char *t, size_t n, const char *const *names, size_t n_names)
{
    for (size_t k = 0; k < n_names; k++)
        if (strlen(names[k]) == n && memcmp(names[k], t, n) == 0)
            return 1;
    return 0;
}

/* The id whose stored text is exactly `name` (the last such), or -1. */
static int32_t find_text(const struct lt_vocab *v, const char *name)
{
    size_t n = strlen(name);
    for (int32_t i = v->n_tokens - 1; i >= 0; i--) {
        size_t tn = 0;
        const char *t = lt_vocab_text(v, i, &tn);
        if (tn == n && memcmp(t, name, n) == 0)
            return i;
    }
    return -1;
}

static int add_eog(struct lt_vocab *v, int32_t id)
{
    if (id < 0)
        return 0;
    for (int32_t k = 0; k < v->n_eog; k++)
        if (v->eog[k] == id)
            return 0;
    v->eog[v->n_eog++] = id;
    return 1;
}

int lt_vocab_is_eog(const struct lt_vocab *v, int32_t id)
{
    for (int32_t k = 0; k < v->n_eog; k++)
        if (v->eog[k] == id)
            return 1;
    return 0;
}

/* Which of the name lists a token's text is in: 1 EOT candidate, 2 EOG, 4 FIM end. */
static int special_name_kind(const char *t, size_t n)
{
    if (n == 0 || n > 40 || (t[0] != '<' && t[0] != '_'))
        return 0;
    return text_in(t, n, eot_names, sizeof eot_names / sizeof *eot_names) |
           text_in(t, n, eog_names, sizeof eog_names / sizeof *eog_names) << 1 |
           text_in(t, n, fim_end_names, sizeof fim_end_names / sizeof *fim_end_names) << 2;
}

/* Marks tokens by name as llama.cpp does (each named one becomes a control token), picks
 * the EOT when the file names none, and collects the end-of-generation set. */
static latent_status detect_specials(struct lt_vocab *v, lt_budget *budget)
{
    size_t cap = 3; /* eos, eot, eom */
    for (int32_t i = 0; i < v->n_tokens; i++) {
        size_t n;
        const char *t = lt_vocab_text(v, i, &n);
        cap += (special_name_kind(t, n) & 6) != 0;
    }
    v->eog = lt_alloc_array(budget, cap, sizeof *v->eog);
    if (!v->eog)
        return LATENT_ENOMEM;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        size_t n;
        const char *t = lt_vocab_text(v, i, &n);
        int kind = special_name_kind(t, n);
        if (!kind)
            continue;
        if ((kind & 1) && v->eot < 0)
            v->eot = i;
        if (!(v->attr[i] & LT_TOK_CONTROL))
            v->attr[i] = LT_TOK_CONTROL;
        if (kind & 6)
            add_eog(v, i);
    }
    add_eog(v, v->eos);
    add_eog(v, v->eot);
    add_eog(v, v->eom);
    return LATENT_OK;
}

/* Sort keys for the tokens cut out of text: longest first, equal lengths by id. */
static int u64_ascending(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return a < b ? -1 : a > b;
}

static int name_has_phi3(latent_str name)
{
    for (size_t i = 0; i < name.len; i++) {
        const char *s = name.ptr + i;
        size_t left = name.len - i;
        char low[5];
        for (size_t k = 0; k < 5 && k < left; k++)
            low[k] = (char)(s[k] >= 'A' && s[k] <= 'Z' ? s[k] + 32 : s[k]);
        if (left >= 5 && memcmp(low, "phi-3", 5) == 0)
            return 1;
        if (left >= 4 && memcmp(low, "phi3", 4) == 0)
            return 1;
    }
    return 0;
}

/* ============================================================================
 * Loading
 * ========================================================================== */

/* Which tokenizer (SentencePiece or byte-level BPE) and which pre-tokenizer. */
static latent_status load_kind(struct lt_vocab *v, const latent_gguf *g)
{
    latent_status st;
    latent_str model;
    if ((st = get_opt_str(g, KEY_MODEL, &model)) != LATENT_OK)
        return st;
    if (model.len == 0)
        return lt_fail(LATENT_EFORMAT, "no tokenizer: %s is missing", KEY_MODEL);
    if (str_is(model, "llama"))
        v->type = LT_VOCAB_SPM;
    else if (str_is(model, "gpt2"))
        v->type = LT_VOCAB_BPE;
    else
        return lt_fail(LATENT_EUNSUPPORTED, "tokenizer '%.*s' is not one liblatent has (llama, gpt2)",
                       (int)(model.len > 64 ? 64 : model.len), model.ptr);

    latent_str pre;
    if ((st = get_opt_str(g, KEY_PRE, &pre)) != LATENT_OK)
        return st;
    v->pre = LT_PRE_DEFAULT;
    if (v->type == LT_VOCAB_BPE && pre.len > 0) {
        int p = lt_pre_type_from_name(pre.ptr, pre.len);
        if (p < 0)
            return lt_fail(LATENT_EUNSUPPORTED, "pre-tokenizer '%.*s' is not one liblatent knows",
                           (int)(pre.len > 64 ? 64 : pre.len), pre.ptr);
        v->pre = (lt_pre_type)p;
    } else if (v->type == LT_VOCAB_BPE) {
        lt_log(LATENT_LOG_WARN, "no %s: using the default pre-tokenizer; tokens may differ from "
               "the model's training", KEY_PRE);
    }
    v->ignore_merges = v->type == LT_VOCAB_BPE && v->pre == LT_PRE_LLAMA3;
    return LATENT_OK;
}

/* The tokens' text, and room for everything kept per token. */
static latent_status load_tokens(struct lt_vocab *v, const latent_gguf *g, lt_budget *budget)
{
    int64_t ti;
    uint64_t n;
    latent_status st = get_array(g, KEY_TOKENS, 1, &ti, &n);
    if (st == LATENT_ENOTFOUND)
        return lt_fail(LATENT_EFORMAT, "no tokenizer: %s is missing", KEY_TOKENS);
    if (st != LATENT_OK)
        return st;
    if (n == 0 || n > INT32_MAX / 2)
        return lt_fail(LATENT_EFORMAT, "%s has %llu tokens", KEY_TOKENS, (unsigned long long)n);
    v->n_tokens = (int32_t)n;
    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) {
        latent_str s;
        if ((st = latent_gguf_kv_str(g, ti, i, &s)) != LATENT_OK)
            return lt_fail(LATENT_EFORMAT, "%s[%llu] unreadable", KEY_TOKENS, (unsigned long long)i);
        total += s.len;
        if (total > UINT32_MAX / 2)
            return lt_fail(LATENT_EFORMAT, "%s: %llu bytes of token text is more than liblatent takes",
                           KEY_TOKENS, (unsigned long long)total);
    }
    size_t nt = (size_t)n;
    v->text_off = lt_alloc_array(budget, nt + 1, sizeof *v->text_off);
    v->piece_off = lt_alloc_array(budget, nt + 1, sizeof *v->piece_off);
    v->text = lt_alloc(budget, total + 1);
    v->piece = lt_alloc(budget, total + 1);
    v->score = v->type == LT_VOCAB_SPM ? lt_calloc(budget, nt, sizeof *v->score) : NULL;
    v->attr = lt_alloc(budget, nt);
    if (!v->text_off || !v->piece_off || !v->text || !v->piece || (!v->score && v->type == LT_VOCAB_SPM) ||
        !v->attr)
        return LATENT_ENOMEM;
    if (v->type == LT_VOCAB_BPE) {
        v->key_off = lt_alloc_array(budget, nt + 1, sizeof *v->key_off);
        v->key = lt_alloc(budget, total + 1);
        v->has_key = lt_alloc(budget, nt);
        if (!v->key_off || !v->key || !v->has_key)
            return LATENT_ENOMEM;
    } else {
        v->key_off = v->text_off; /* SPM looks tokens up by their text */
        v->key = v->text;
    }
    uint32_t at = 0;
    v->text_off[0] = 0;
    for (size_t i = 0; i < nt; i++) {
        latent_str s;
        latent_gguf_kv_str(g, ti, i, &s);
        memcpy(v->text + at, s.ptr, (size_t)s.len);
        at += (uint32_t)s.len;
        v->text_off[i + 1] = at;
    }
    return LATENT_OK;
}

/* SentencePiece's merge scores, and each token's type (normal, control, byte, ...). */
static latent_status load_scores_and_types(struct lt_vocab *v, const latent_gguf *g)
{
    uint64_t n = (uint64_t)v->n_tokens;
    size_t nt = (size_t)n;
    int64_t si;
    uint64_t sn;
    latent_status st = get_array(g, KEY_SCORES, 0, &si, &sn);
    if (st == LATENT_OK) {
        latent_gguf_type et = latent_gguf_kv_elem_type(g, si);
        if (sn != n || (et != LATENT_GGUF_FLOAT32 && et != LATENT_GGUF_FLOAT64))
            return lt_fail(LATENT_EFORMAT, "%s: %llu %s for %llu tokens", KEY_SCORES,
                           (unsigned long long)sn, latent_gguf_type_name(et), (unsigned long long)n);
        for (size_t i = 0; v->score && i < nt; i++) { /* only SentencePiece merges by score */
            double d = 0;
            latent_gguf_kv_float(g, si, i, &d);
            v->score[i] = (float)d;
        }
    } else if (st != LATENT_ENOTFOUND) {
        return st;
    }
    int64_t yi;
    uint64_t yn;
    st = get_array(g, KEY_TYPES, 0, &yi, &yn);
    if (st == LATENT_OK) {
        latent_gguf_type et = latent_gguf_kv_elem_type(g, yi);
        if (yn != n || et == LATENT_GGUF_FLOAT32 || et == LATENT_GGUF_FLOAT64)
            return lt_fail(LATENT_EFORMAT, "%s: %llu %s for %llu tokens", KEY_TYPES,
                           (unsigned long long)yn, latent_gguf_type_name(et), (unsigned long long)n);
        for (size_t i = 0; i < nt; i++) {
            int64_t t = 0;
            if (latent_gguf_kv_int(g, yi, i, &t) != LATENT_OK)
                t = 0;
            static const uint8_t attr_of_type[7] = {0, LT_TOK_NORMAL, LT_TOK_UNKNOWN, LT_TOK_CONTROL,
                                                    LT_TOK_USER, LT_TOK_UNUSED, LT_TOK_BYTE};
            v->attr[i] = t >= 0 && t <= 6 ? attr_of_type[t] : 0;
        }
    } else if (st == LATENT_ENOTFOUND) {
        memset(v->attr, LT_TOK_NORMAL, nt);
    } else {
        return st;
    }
    return LATENT_OK;
}

/* BOS, EOS and the other special ids, and whether to add BOS, EOS and a leading space. */
static latent_status load_special_ids(struct lt_vocab *v, const latent_gguf *g, lt_budget *budget)
{
    latent_status st;
    v->bos = v->eos = v->eot = v->eom = v->unk = v->pad = -1;
    if (v->type == LT_VOCAB_SPM) {
        v->unk = v->n_tokens > 0 ? 0 : -1;
        v->bos = v->n_tokens > 1 ? 1 : -1;
        v->eos = v->n_tokens > 2 ? 2 : -1;
    }
    if ((st = get_opt_id(g, "tokenizer.ggml.bos_token_id", v->n_tokens, &v->bos)) != LATENT_OK ||
        (st = get_opt_id(g, "tokenizer.ggml.eos_token_id", v->n_tokens, &v->eos)) != LATENT_OK ||
        (st = get_opt_id(g, "tokenizer.ggml.eot_token_id", v->n_tokens, &v->eot)) != LATENT_OK ||
        (st = get_opt_id(g, "tokenizer.ggml.eom_token_id", v->n_tokens, &v->eom)) != LATENT_OK ||
        (st = get_opt_id(g, "tokenizer.ggml.unknown_token_id", v->n_tokens, &v->unk)) != LATENT_OK ||
        (st = get_opt_id(g, "tokenizer.ggml.padding_token_id", v->n_tokens, &v->pad)) != LATENT_OK)
        return st;
    v->add_bos = v->type == LT_VOCAB_SPM || v->pre == LT_PRE_LLAMA3;
    v->add_eos = 0;
    v->add_space_prefix = v->type == LT_VOCAB_SPM;
    if ((st = get_opt_bool(g, "tokenizer.ggml.add_bos_token", &v->add_bos)) != LATENT_OK ||
        (st = get_opt_bool(g, "tokenizer.ggml.add_eos_token", &v->add_eos)) != LATENT_OK ||
        (st = get_opt_bool(g, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix)) != LATENT_OK)
        return st;
    if (v->add_bos && v->bos < 0)
        v->add_bos = 0;
    return detect_specials(v, budget);
}

/* Each token's printable piece and lookup key, and the hash table from key to id. */
static latent_status build_lookup(struct lt_vocab *v, lt_budget *budget)
{
    uint32_t piece_at = 0, key_at = 0;
    v->piece_off[0] = 0;
    if (v->type == LT_VOCAB_BPE)
        v->key_off[0] = 0;
    for (int32_t i = 0; i < v->n_tokens; i++)
        build_piece_and_key(v, i, &piece_at, &key_at);
    v->table_mask = table_mask_for((uint64_t)v->n_tokens);
    if (!v->table_mask)
        return lt_fail(LATENT_EFORMAT, "%s: too many tokens", KEY_TOKENS);
    v->table = lt_alloc_array(budget, (size_t)v->table_mask + 1, sizeof *v->table);
    if (!v->table)
        return LATENT_ENOMEM;
    memset(v->table, 0xff, ((size_t)v->table_mask + 1) * sizeof *v->table);
    for (int32_t i = 0; i < v->n_tokens; i++) {
        if (v->key_off[i + 1] == v->key_off[i] || (v->type == LT_VOCAB_BPE && !v->has_key[i]))
            continue;
        table_insert(v, i);
    }
    return LATENT_OK;
}

/* The token for each byte, where text has no token of its own. */
static void find_byte_tokens(struct lt_vocab *v)
{
    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        if (v->type == LT_VOCAB_SPM) {
            static const char hex[] = "0123456789ABCDEF";
            char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
            int32_t id = lt_vocab_find(v, name, 6);
            v->byte_token[b] = id >= 0 ? id : lt_vocab_find(v, &c, 1);
        } else {
            v->byte_token[b] = lt_vocab_find(v, &c, 1);
        }
    }
}

/* Byte-level BPE's merges: pairs of tokens, by rank, with the token each pair becomes. */
static latent_status load_merges(struct lt_vocab *v, const latent_gguf *g, lt_budget *budget)
{
    int64_t mi;
    uint64_t mn;
    latent_status st = get_array(g, KEY_MERGES, 1, &mi, &mn);
    if (st == LATENT_ENOTFOUND)
        return lt_fail(LATENT_EFORMAT, "a gpt2 tokenizer without %s", KEY_MERGES);
    if (st != LATENT_OK)
        return st;
    if (mn > INT32_MAX / 4)
        return lt_fail(LATENT_EFORMAT, "%s has %llu entries", KEY_MERGES, (unsigned long long)mn);
    size_t nm = (size_t)mn;
    v->merge_left = lt_alloc_array(budget, nm + 1, sizeof(int32_t));
    v->merge_right = lt_alloc_array(budget, nm + 1, sizeof(int32_t));
    v->merge_result = lt_alloc_array(budget, nm + 1, sizeof(int32_t));
    v->merge_mask = table_mask_for(mn);
    if (!v->merge_mask)
        return lt_fail(LATENT_EFORMAT, "%s: too many merges", KEY_MERGES);
    v->merge_table = lt_alloc_array(budget, (size_t)v->merge_mask + 1, sizeof(int32_t));
    if (!v->merge_left || !v->merge_right || !v->merge_result || !v->merge_table)
        return LATENT_ENOMEM;
    memset(v->merge_table, 0xff, ((size_t)v->merge_mask + 1) * sizeof(int32_t));
    char *buf = NULL;
    size_t buf_cap = 0;
    int32_t r = 0;
    for (size_t k = 0; k < nm; k++) {
        latent_str s;
        latent_gguf_kv_str(g, mi, k, &s);
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', (size_t)s.len - 1) : NULL;
        if (!sp) {
            lt_free(NULL, buf);
            return lt_fail(LATENT_EFORMAT, "%s[%zu] is not two tokens separated by a space",
                           KEY_MERGES, k);
        }
        size_t la = (size_t)(sp - s.ptr), lb = (size_t)s.len - la - 1;
        if (buf_cap < s.len) {
            char *nb = lt_realloc(NULL, buf, (size_t)s.len);
            if (!nb) {
                lt_free(NULL, buf);
                return LATENT_ENOMEM;
            }
            buf = nb;
            buf_cap = (size_t)s.len;
        }
        int ea, eb;
        size_t ra = byte_level_decode(s.ptr, la, buf, &ea);
        size_t rb = byte_level_decode(sp + 1, lb, buf + ra, &eb);
        int32_t a = ea ? lt_vocab_find(v, buf, ra) : -1;
        int32_t b = eb ? lt_vocab_find(v, buf + ra, rb) : -1;
        int32_t c = ea && eb ? lt_vocab_find(v, buf, ra + rb) : -1;
        if (a < 0 || b < 0 || c < 0) {
            lt_free(NULL, buf);
            return lt_fail(LATENT_EFORMAT, "%s[%zu] '%.*s' names %s that is not in the vocabulary",
                           KEY_MERGES, k, (int)(s.len > 64 ? 64 : s.len), s.ptr,
                           a < 0 || b < 0 ? "a token" : "a merged token");
        }
        if (lt_vocab_merge_rank(v, a, b) >= 0)
            continue; /* a repeated pair keeps its first (lowest) rank */
        v->merge_left[r] = a;
        v->merge_right[r] = b;
        v->merge_result[r] = c;
        uint32_t i = (uint32_t)hash_pair(a, b) & v->merge_mask;
        while (v->merge_table[i] >= 0)
            i = (i + 1) & v->merge_mask;
        v->merge_table[i] = r++;
    }
    lt_free(NULL, buf);
    v->n_merges = r;
    return LATENT_OK;
}

/* The special tokens that are cut out of text before tokenizing, longest first. */
static latent_status collect_specials(struct lt_vocab *v, lt_budget *budget)
{
    int32_t ns = 0;
    for (int32_t i = 0; i < v->n_tokens; i++)
        if ((v->attr[i] & (LT_TOK_CONTROL | LT_TOK_USER | LT_TOK_UNKNOWN)) &&
            v->text_off[i + 1] > v->text_off[i])
            ns++;
    uint64_t *keys = lt_alloc_array(NULL, (size_t)ns + 1, sizeof *keys);
    v->specials = lt_alloc_array(budget, (size_t)ns + 1, sizeof *v->specials);
    if (!keys || !v->specials) {
        lt_free(NULL, keys);
        return LATENT_ENOMEM;
    }
    ns = 0;
    for (int32_t i = 0; i < v->n_tokens; i++)
        if ((v->attr[i] & (LT_TOK_CONTROL | LT_TOK_USER | LT_TOK_UNKNOWN)) &&
            v->text_off[i + 1] > v->text_off[i])
            keys[ns++] = (uint64_t)(UINT32_MAX - (v->text_off[i + 1] - v->text_off[i])) << 32 | (uint32_t)i;
    qsort(keys, (size_t)ns, sizeof *keys, u64_ascending);
    for (int32_t k = 0; k < ns; k++)
        v->specials[k] = (int32_t)(keys[k] & 0xffffffffu);
    lt_free(NULL, keys);
    v->n_specials = ns;
    return LATENT_OK;
}

/* Phi-3's special tokens swallow the whitespace after them (its tokenizer.json says so
 * per token; GGUF does not carry it, so llama.cpp keys it on the model's name). */
static void mark_phi3_rstrip(struct lt_vocab *v, const latent_gguf *g)
{
    latent_str name;
    if (get_opt_str(g, "general.name", &name) == LATENT_OK && name_has_phi3(name)) {
        for (int32_t k = 0; k < v->n_specials; k++)
            v->attr[v->specials[k]] |= LT_TOK_RSTRIP;
        int32_t id = find_text(v, "</s>");
        if (id >= 0)
            v->attr[id] |= LT_TOK_RSTRIP;
        static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
        for (size_t k = 0; k < 3; k++)
            if ((id = find_text(v, keep[k])) >= 0)
                v->attr[id] &= (uint8_t)~LT_TOK_RSTRIP;
    }
}

static latent_status load(struct lt_vocab *v, const latent_gguf *g, lt_budget *budget)
{
    latent_status st;
    if ((st = load_kind(v, g)) != LATENT_OK || (st = load_tokens(v, g, budget)) != LATENT_OK ||
        (st = load_scores_and_types(v, g)) != LATENT_OK || (st = load_special_ids(v, g, budget)) != LATENT_OK ||
        (st = build_lookup(v, budget)) != LATENT_OK)
        return st;
    find_byte_tokens(v);
    if (v->type == LT_VOCAB_BPE && (st = load_merges(v, g, budget)) != LATENT_OK)
        return st;
    if ((st = collect_specials(v, budget)) != LATENT_OK)
        return st;
    mark_phi3_rstrip(v, g);
    return LATENT_OK;
}

latent_status lt_vocab_load(const latent_gguf *gguf, lt_budget *budget, struct lt_vocab **out)
{
    if (!out)
        return lt_fail(LATENT_EINVAL, "lt_vocab_load: out is NULL");
    *out = NULL;
    if (!gguf)
        return lt_fail(LATENT_EINVAL, "lt_vocab_load: gguf is NULL");
    struct lt_vocab *v = lt_calloc(budget, 1, sizeof *v);
    if (!v)
        return LATENT_ENOMEM;
    latent_status st = load(v, gguf, budget);
    if (st != LATENT_OK) {
        lt_vocab_free(v, budget);
        return st;
    }
    *out = v;
    return LATENT_OK;
}

void lt_vocab_free(struct lt_vocab *v, lt_budget *budget)
{
    if (!v)
        return;
    if (v->key != v->text)
        lt_free(budget, v->key);
    if (v->key_off != v->text_off)
        lt_free(budget, v->key_off);
    lt_free(budget, v->text);
    lt_free(budget, v->text_off);
    lt_free(budget, v->piece);
    lt_free(budget, v->piece_off);
    lt_free(budget, v->has_key);
    lt_free(budget, v->score);
    lt_free(budget, v->attr);
    lt_free(budget, v->table);
    lt_free(budget, v->merge_left);
    lt_free(budget, v->merge_right);
    lt_free(budget, v->merge_result);
    lt_free(budget, v->merge_table);
    lt_free(budget, v->specials);
    lt_free(budget, v->eog);
    lt_free(budget, v);
}

int32_t lt_vocab_size(const struct lt_vocab *v)
{
    return v ? v->n_tokens : 0;
}
