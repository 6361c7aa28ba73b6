/*
 * test_tokenizer.c — the tokenizers against the reference's own vectors.
 *
 * - Every case of the ten vocabularies in ../shared/vectors (46 each) gives exactly the
 *   ids of its .out file (Hugging Face's tokenizers, as llama.cpp checks them), and
 *   decodes back to its text.
 * - The tinyllama cases: special-token text (</s>) parsed, on the Llama 2 vocabulary.
 * - Qwen2 has no vocabulary file: its pre-tokenizer is checked where its published
 *   pattern differs from Llama 3's (\p{N} instead of \p{N}{1,3}).
 * - SmolLM2 (the default model, when fetched): round trips, <|im_start|> is one token
 *   only with special parsing, its template is ChatML.
 * - The streaming decoder on split characters, byte tokens, BOS and ill-formed bytes.
 * - Hostile metadata (wrong types, ids out of range, merges naming no tokens, huge
 *   counts) is LATENT_EFORMAT, and every failed allocation while loading is ENOMEM with
 *   nothing leaked.
 * - The public API (latent_tokenize, pieces, BOS/EOS/end tokens, the decoder, the
 *   model's chat template) on vocabulary files loaded as models.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "latent.h"
#include "tokenizer.h"
#include "unicode.h"

static const char *const vocab_names[] = {
    "llama-spm", "phi-3",  "gpt-2", "deepseek-coder", "deepseek-llm",
    "falcon",    "mpt",    "refact", "starcoder",      "llama-bpe",
};

/* ============================================================================
 * Helpers: vectors, vocabularies
 * ========================================================================== */

typedef struct vcase {
    const char *text;
    size_t len;
    latent_token ids[1024];
    size_t n_ids;
} vcase;

/* Splits an .inp/.out pair into cases; returns how many (0 if a file is missing). */
static size_t read_cases(const char *name, vcase **out, char **inp_buf)
{
    char rel[128];
    snprintf(rel, sizeof rel, "vectors/ggml-vocab-%s.gguf.inp", name);
    const char *ip = test_data_path(rel);
    snprintf(rel, sizeof rel, "vectors/ggml-vocab-%s.gguf.out", name);
    const char *op = test_data_path(rel);
    if (!ip || !op)
        return 0;
    size_t isz, osz;
    char *inp = test_read_file(ip, &isz), *outf = test_read_file(op, &osz);
    if (!inp || !outf) {
        free(inp);
        free(outf);
        return 0;
    }
    static const char sep[] = "\n__ggml_vocab_test__\n";
    size_t n = 0, cap = 64;
    vcase *cs = calloc(cap, sizeof *cs);
    char *p = inp, *o = outf;
    for (;;) {
        char *q = strstr(p, sep);
        if (!q)
            break;
        if (n == cap) {
            cs = realloc(cs, (cap *= 2) * sizeof *cs);
        }
        vcase *c = &cs[n++];
        c->text = p;
        c->len = (size_t)(q - p);
        c->n_ids = 0;
        char *eol = strchr(o, '\n');
        if (eol)
            *eol = 0;
        for (char *s = o; *s;) {
            char *end;
            long id = strtol(s, &end, 10);
            if (end == s)
                break;
            if (c->n_ids < 1024)
                c->ids[c->n_ids++] = (latent_token)id;
            s = end;
        }
        o = eol ? eol + 1 : o + strlen(o);
        p = q + strlen(sep);
    }
    free(outf);
    *out = cs;
    *inp_buf = inp;
    return n;
}

static struct lt_vocab *open_vocab(const char *name, latent_gguf **g)
{
    char rel[128];
    snprintf(rel, sizeof rel, "vectors/ggml-vocab-%s.gguf", name);
    const char *path = test_data_path(rel);
    if (!path)
        return NULL;
    *g = NULL;
    if (latent_gguf_open(path, g) != LATENT_OK) {
        CHECK(0, "%s: %s", name, latent_last_error());
        return NULL;
    }
    struct lt_vocab *v = NULL;
    latent_status st = lt_vocab_load(*g, NULL, &v);
    CHECK(st == LATENT_OK, "%s: %s", name, latent_last_error());
    if (st != LATENT_OK) {
        latent_gguf_free(*g);
        return NULL;
    }
    return v;
}

/* Decodes tokens through the streaming decoder, BOS first (so SentencePiece's leading
 * space is dropped), flushing at the end. Returns malloc'd bytes. */
static char *decode_all(const struct lt_vocab *v, const latent_token *t, size_t n, size_t *len)
{
    latent_decoder *d = NULL;
    if (lt_decoder_create(v, &d) != LATENT_OK)
        return NULL;
    size_t cap = 64 + n * ((size_t)v->max_piece + 16), at = 0, k;
    char *out = malloc(cap + 1);
    if (v->bos >= 0)
        latent_decoder_push(d, v->bos, out, cap, &k);
    for (size_t i = 0; i < n; i++) {
        if (latent_decoder_push(d, t[i], out + at, cap - at, &k) != LATENT_OK)
            break;
        at += k;
    }
    latent_decoder_flush(d, out + at, cap - at, &k);
    at += k;
    latent_decoder_free(d);
    out[at] = 0;
    *len = at;
    return out;
}

static void print_ids(const char *what, const latent_token *t, size_t n)
{
    printf("  %s:", what);
    for (size_t i = 0; i < n && i < 64; i++)
        printf(" %d", (int)t[i]);
    printf("\n");
}

/* ============================================================================
 * The vectors
 * ========================================================================== */

static void test_vectors(void)
{
    for (size_t vi = 0; vi < sizeof vocab_names / sizeof *vocab_names; vi++) {
        const char *name = vocab_names[vi];
        latent_gguf *g;
        struct lt_vocab *v = open_vocab(name, &g);
        if (!v)
            continue;
        vcase *cs;
        char *inp;
        size_t n = read_cases(name, &cs, &inp);
        CHECK(n == 46, "%s: %zu cases", name, n);
        int matched = 0, round = 0;
        for (size_t i = 0; i < n; i++) {
            latent_token toks[1024];
            size_t nt = 0;
            latent_status st = lt_vocab_tokenize(v, cs[i].text, cs[i].len, 0, toks, 1024, &nt);
            int same = st == LATENT_OK && nt == cs[i].n_ids &&
                       memcmp(toks, cs[i].ids, nt * sizeof *toks) == 0;
            matched += same;
            CHECK(same, "%s case %zu '%.*s'", name, i, (int)(cs[i].len > 40 ? 40 : cs[i].len), cs[i].text);
            if (!same) {
                print_ids("got", toks, nt);
                print_ids("want", cs[i].ids, cs[i].n_ids);
            }
            size_t dl;
            char *d = decode_all(v, toks, nt, &dl);
            int rt = d && dl == cs[i].len && memcmp(d, cs[i].text, dl) == 0;
            round += rt;
            CHECK(rt, "%s case %zu: decode(encode(s)) != s ('%s')", name, i, d ? d : "");
            free(d);
            /* the size protocol: too small a buffer says how many are needed */
            if (nt > 0) {
                size_t need = 0;
                CHECK(lt_vocab_tokenize(v, cs[i].text, cs[i].len, 0, toks, nt - 1, &need) == LATENT_ERANGE &&
                      need == nt, "%s", "");
                CHECK(lt_vocab_tokenize(v, cs[i].text, cs[i].len, 0, NULL, 0, &need) == LATENT_ERANGE &&
                      need == nt, "%s", "");
            }
        }
        printf("%s: %d/%zu cases match, %d/%zu round trips\n", name, matched, n, round, n);
        free(cs);
        free(inp);
        lt_vocab_free(v, NULL);
        latent_gguf_free(g);
    }
}

/* TinyLlama's cases: special-token text in the input, parsed (as llama.cpp's --special). */
static void test_tinyllama(void)
{
    latent_gguf *g;
    struct lt_vocab *v = open_vocab("llama-spm", &g);
    if (!v)
        return;
    vcase *cs;
    char *inp;
    size_t n = read_cases("tinyllama", &cs, &inp);
    CHECK(n == 11, "tinyllama: %zu cases", n);
    int matched = 0;
    for (size_t i = 0; i < n; i++) {
        latent_token toks[1024];
        size_t nt = 0;
        latent_status st = lt_vocab_tokenize(v, cs[i].text, cs[i].len, LATENT_TOKENIZE_SPECIAL, toks, 1024, &nt);
        int same = st == LATENT_OK && nt == cs[i].n_ids && memcmp(toks, cs[i].ids, nt * sizeof *toks) == 0;
        matched += same;
        CHECK(same, "tinyllama case %zu '%.*s'", i, (int)cs[i].len, cs[i].text);
        if (!same) {
            print_ids("got", toks, nt);
            print_ids("want", cs[i].ids, cs[i].n_ids);
        }
        /* without special parsing </s> is text, never token 2 */
        CHECK(lt_vocab_tokenize(v, cs[i].text, cs[i].len, 0, toks, 1024, &nt) == LATENT_OK, "%s", "");
        for (size_t k = 0; k < nt; k++)
            CHECK(toks[k] != 2, "tinyllama case %zu: </s> parsed without LATENT_TOKENIZE_SPECIAL", i);
    }
    printf("tinyllama (special): %d/%zu cases match\n", matched, n);
    /* ADD_BOS puts <s> first; the Llama 2 vocabulary asks for it */
    latent_token t[8];
    size_t nt;
    CHECK(lt_vocab_tokenize(v, "Hello", 5, LATENT_TOKENIZE_ADD_BOS, t, 8, &nt) == LATENT_OK && nt == 2 &&
          t[0] == 1 && t[1] == 15043, "%s", "");
    CHECK(lt_vocab_tokenize(v, "", 0, LATENT_TOKENIZE_ADD_BOS, t, 8, &nt) == LATENT_OK && nt == 1 && t[0] == 1, "%s", "");
    free(cs);
    free(inp);
    lt_vocab_free(v, NULL);
    latent_gguf_free(g);
}

/* Qwen2's pattern is Llama 3's with \p{N} for \p{N}{1,3}: digits go one by one. With no
 * Qwen2 vocabulary here, the test uses what the two share: the byte-level alphabet's
 * single characters have the same ids in both (the first 256 of the tiktoken
 * vocabularies they descend from), so a text of digits tokenized by the Llama 3
 * vocabulary under Qwen2's pre-tokenizer must give Qwen2's ids exactly. */
static void test_qwen2(void)
{
    latent_gguf *g;
    struct lt_vocab *v = open_vocab("llama-bpe", &g);
    if (!v)
        return;
    vcase *cs, *ls;
    char *inp, *linp;
    size_t n = read_cases("qwen2", &cs, &inp);
    size_t ln = read_cases("llama-bpe", &ls, &linp);
    CHECK(n == 46 && ln == 46, "qwen2: %zu cases", n);
    int digit_cases = 0, same_words = 0;
    for (size_t i = 0; i < n && i < ln; i++) {
        int only_digits = cs[i].len > 0, has_digit = 0;
        for (size_t k = 0; k < cs[i].len; k++) {
            only_digits &= cs[i].text[k] >= '0' && cs[i].text[k] <= '9';
            uint32_t cp;
            size_t l = lt_utf8_decode((const unsigned char *)cs[i].text + k, cs[i].len - k, &cp);
            if (l && (lt_unicode_flags(cp) & LT_UC_CLASS) == LT_UC_NUMBER)
                has_digit = 1;
            if (l > 1)
                k += l - 1;
        }
        size_t *qw, nq, *lw, nl;
        CHECK(lt_pretokenize(LT_PRE_QWEN2, cs[i].text, cs[i].len, &qw, &nq) == LATENT_OK, "%s", "");
        CHECK(lt_pretokenize(LT_PRE_LLAMA3, cs[i].text, cs[i].len, &lw, &nl) == LATENT_OK, "%s", "");
        /* BPE never merges across words: each word is at least one token */
        CHECK(nq <= cs[i].n_ids, "qwen2 case %zu: %zu words but %zu tokens", i, nq, cs[i].n_ids);
        if (!has_digit) { /* the patterns agree wherever there is no number */
            int eq = nq == nl && (nq == 0 || memcmp(qw, lw, nq * sizeof *qw) == 0);
            same_words += eq;
            CHECK(eq, "qwen2 case %zu: words differ from llama3's without digits", i);
        } else {
            /* digits: one word each */
            size_t start = 0;
            for (size_t k = 0; k < nq; start = qw[k++]) {
                uint32_t cp;
                size_t l = lt_utf8_decode((const unsigned char *)cs[i].text + start, qw[k] - start, &cp);
                if (l && (lt_unicode_flags(cp) & LT_UC_CLASS) == LT_UC_NUMBER)
                    CHECK(qw[k] - start == l, "qwen2 case %zu: a word holds more than one digit", i);
            }
        }
        if (only_digits) {
            digit_cases++;
            struct lt_vocab q = *v;
            q.pre = LT_PRE_QWEN2;
            q.ignore_merges = 0;
            latent_token toks[1024];
            size_t nt = 0;
            CHECK(lt_vocab_tokenize(&q, cs[i].text, cs[i].len, 0, toks, 1024, &nt) == LATENT_OK, "%s", "");
            int same = nt == cs[i].n_ids && memcmp(toks, cs[i].ids, nt * sizeof *toks) == 0;
            CHECK(same, "qwen2 case %zu '%.*s'", i, (int)cs[i].len, cs[i].text);
            if (!same) {
                print_ids("got", toks, nt);
                print_ids("want", cs[i].ids, cs[i].n_ids);
            }
            /* and Llama 3 groups the same digits by three */
            CHECK(ls[i].n_ids == (cs[i].len + 2) / 3, "llama-bpe case %zu: %zu tokens", i, ls[i].n_ids);
        }
        lt_free(NULL, qw);
        lt_free(NULL, lw);
    }
    CHECK(digit_cases == 9, "%d cases of digits", digit_cases);
    printf("qwen2: %d digit cases exact, %d cases without numbers cut as llama3 cuts them\n", digit_cases,
           same_words);
    free(cs);
    free(inp);
    free(ls);
    free(linp);
    lt_vocab_free(v, NULL);
    latent_gguf_free(g);
}

/* ============================================================================
 * SmolLM2, the default model
 * ========================================================================== */

static const char *smollm_path(void)
{
    static char p[1024];
    const char *cache = getenv("LATENT_MODEL_CACHE"), *home = getenv("HOME");
    const char *dirs[3];
    char d1[512], d2[512];
    snprintf(d1, sizeof d1, "%s/models", test_data_dir());
    snprintf(d2, sizeof d2, "%s/.cache/liblatent", home && *home ? home : "/tmp");
    dirs[0] = d1;
    dirs[1] = cache && *cache ? cache : d2;
    dirs[2] = "models";
    for (int i = 0; i < 3; i++) {
        struct stat st;
        snprintf(p, sizeof p, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", dirs[i]);
        if (stat(p, &st) == 0)
            return p;
    }
    SKIP("SmolLM2-135M-Instruct.Q4_1.gguf (not in %s, %s or models/; examples/fetch-model.sh fetches it)", d1,
         dirs[1]);
    return NULL;
}

static void test_smollm(void)
{
    const char *path = smollm_path();
    if (!path)
        return;
    latent_gguf *g = NULL;
    CHECK(latent_gguf_open(path, &g) == LATENT_OK, "%s", latent_last_error());
    if (!g)
        return;
    struct lt_vocab *v = NULL;
    CHECK(lt_vocab_load(g, NULL, &v) == LATENT_OK, "%s", latent_last_error());
    if (!v) {
        latent_gguf_free(g);
        return;
    }
    CHECK(v->n_tokens == 49152 && v->type == LT_VOCAB_BPE && v->pre == LT_PRE_STARCODER, "%s", "");
    CHECK(v->bos == 1 && v->eos == 2 && !v->add_bos, "bos %d eos %d add_bos %d", v->bos, v->eos, v->add_bos);
    CHECK(lt_vocab_is_eog(v, 2) && lt_vocab_is_eog(v, 0), "<|im_end|> and <|endoftext|> end generation");
    static const char text[] =
        "You are a large language model running on finite hardware. Quad core CPU 4 GB of RAM "
        "with no network connectivity. Ünïcödé, 中文, emoji 🦙, numbers 1234567 and\ttabs\n\nnewlines.";
    latent_token toks[512];
    size_t nt = 0;
    CHECK(lt_vocab_tokenize(v, text, strlen(text), 0, toks, 512, &nt) == LATENT_OK && nt > 20, "%s", "");
    size_t dl;
    char *d = decode_all(v, toks, nt, &dl);
    CHECK(d && dl == strlen(text) && memcmp(d, text, dl) == 0, "SmolLM2 round trip: '%s'", d ? d : "");
    free(d);
    /* digits one by one (smollm cuts every \p{N} apart) */
    CHECK(lt_vocab_tokenize(v, "1234567", 7, 0, toks, 512, &nt) == LATENT_OK && nt == 7, "%s", "");
    /* <|im_start|> is one token only when special text is parsed */
    static const char chat[] = "<|im_start|>user\nHi<|im_end|>\n";
    CHECK(lt_vocab_tokenize(v, chat, strlen(chat), LATENT_TOKENIZE_SPECIAL, toks, 512, &nt) == LATENT_OK, "%s", "");
    CHECK(nt >= 4 && toks[0] == 1 && toks[nt - 2] == 2, "special: first %d, %zu tokens", toks[0], nt);
    CHECK(lt_vocab_tokenize(v, chat, strlen(chat), 0, toks, 512, &nt) == LATENT_OK, "%s", "");
    int found = 0;
    for (size_t k = 0; k < nt; k++)
        found |= toks[k] == 1 || toks[k] == 2;
    CHECK(nt > 6 && !found, "plain: <|im_start|> stays text (%zu tokens)", nt);
    d = decode_all(v, toks, nt, &dl);
    CHECK(d && dl == strlen(chat) && memcmp(d, chat, dl) == 0, "%s", "");
    free(d);
    /* the chat template in the file is ChatML */
    latent_str tmpl;
    CHECK(latent_gguf_get_str(g, "tokenizer.chat_template", &tmpl) == LATENT_OK &&
          lt_chat_detect(tmpl.ptr, (size_t)tmpl.len) == LATENT_CHAT_CHATML, "%s", "");
    lt_vocab_free(v, NULL);
    latent_gguf_free(g);
}

/* ============================================================================
 * Decoder and pieces
 * ========================================================================== */

static void test_decoder(void)
{
    latent_gguf *g;
    struct lt_vocab *v = open_vocab("llama-spm", &g);
    if (!v)
        return;
    latent_decoder *d = NULL;
    CHECK(lt_decoder_create(v, &d) == LATENT_OK, "%s", "");
    char out[64];
    size_t n;
    /* "€" = E2 82 AC as three byte tokens: nothing until the last */
    int32_t e2 = v->byte_token[0xe2], x82 = v->byte_token[0x82], xac = v->byte_token[0xac];
    CHECK(e2 >= 0 && x82 >= 0 && xac >= 0, "%s", "");
    CHECK(latent_decoder_push(d, e2, out, sizeof out, &n) == LATENT_OK && n == 0, "%s", "");
    CHECK(latent_decoder_push(d, x82, out, sizeof out, &n) == LATENT_OK && n == 0, "%s", "");
    /* a buffer too small: ERANGE with the size, and nothing lost */
    CHECK(latent_decoder_push(d, xac, out, 2, &n) == LATENT_ERANGE && n == 3, "%s", "");
    CHECK(latent_decoder_push(d, xac, out, sizeof out, &n) == LATENT_OK && n == 3 &&
          memcmp(out, "\xe2\x82\xac", 3) == 0, "%s", "");
    /* an unfinished sequence at the end: flush gives U+FFFD and starts afresh */
    CHECK(latent_decoder_push(d, e2, out, sizeof out, &n) == LATENT_OK && n == 0, "%s", "");
    CHECK(latent_decoder_flush(d, out, sizeof out, &n) == LATENT_OK && n == 3 &&
          memcmp(out, "\xef\xbf\xbd", 3) == 0, "%s", "");
    CHECK(latent_decoder_flush(d, out, sizeof out, &n) == LATENT_OK && n == 0, "%s", "");
    /* a sequence broken by ASCII: U+FFFD for the broken part, then the ASCII */
    int32_t a = v->byte_token['A'];
    CHECK(latent_decoder_push(d, e2, out, sizeof out, &n) == LATENT_OK && n == 0, "%s", "");
    CHECK(latent_decoder_push(d, a, out, sizeof out, &n) == LATENT_OK && n == 4 &&
          memcmp(out, "\xef\xbf\xbd" "A", 4) == 0, "%s", "");
    /* a stray continuation byte */
    CHECK(latent_decoder_push(d, x82, out, sizeof out, &n) == LATENT_OK && n == 3, "%s", "");
    /* BOS: control, no text; the next word loses SentencePiece's space */
    int32_t hello = lt_vocab_find(v, "\xe2\x96\x81" "Hello", 8);
    CHECK(hello == 15043, "%s", "");
    CHECK(latent_decoder_push(d, v->bos, out, sizeof out, &n) == LATENT_OK && n == 0, "%s", "");
    CHECK(latent_decoder_push(d, hello, out, sizeof out, &n) == LATENT_OK && n == 5 && memcmp(out, "Hello", 5) == 0, "%s", "");
    CHECK(latent_decoder_push(d, hello, out, sizeof out, &n) == LATENT_OK && n == 6 &&
          memcmp(out, " Hello", 6) == 0, "%s", "");
    CHECK(latent_decoder_push(d, v->eos, out, sizeof out, &n) == LATENT_OK && n == 0, "%s", "");
    CHECK(latent_decoder_push(d, v->n_tokens, out, sizeof out, &n) == LATENT_EINVAL, "%s", "");
    CHECK(latent_decoder_push(d, -1, out, sizeof out, &n) == LATENT_EINVAL, "%s", "");
    latent_decoder_free(d);
    latent_decoder_free(NULL);

    /* pieces: ▁ as space, byte tokens as their byte, control tokens as their text */
    size_t pn;
    const char *p = lt_vocab_piece(v, hello, &pn);
    CHECK(p && pn == 6 && memcmp(p, " Hello", 6) == 0, "%s", "");
    p = lt_vocab_piece(v, a, &pn);
    CHECK(p && pn == 1 && p[0] == 'A', "%s", "");
    p = lt_vocab_piece(v, v->eos, &pn);
    CHECK(p && pn == 4 && memcmp(p, "</s>", 4) == 0, "%s", "");
    CHECK(lt_vocab_piece(v, -1, &pn) == NULL && lt_vocab_piece(v, v->n_tokens, &pn) == NULL, "%s", "");
    lt_vocab_free(v, NULL);
    latent_gguf_free(g);

    /* byte-level BPE: Ġ is a space, and characters split between tokens are held */
    v = open_vocab("gpt-2", &g);
    if (!v)
        return;
    int32_t world = lt_vocab_find(v, " world", 6);
    p = lt_vocab_piece(v, world, &pn);
    CHECK(world == 995 && p && pn == 6 && memcmp(p, " world", 6) == 0, "Ġworld = %d", world);
    CHECK(lt_decoder_create(v, &d) == LATENT_OK, "%s", "");
    latent_token toks[16];
    size_t nt = 0;
    CHECK(lt_vocab_tokenize(v, "\xf0\x9f\xa6\x99", 4, 0, toks, 16, &nt) == LATENT_OK && nt >= 2, "%s", "");
    size_t total = 0;
    for (size_t k = 0; k < nt; k++) {
        CHECK(latent_decoder_push(d, toks[k], out + total, sizeof out - total, &n) == LATENT_OK, "%s", "");
        CHECK(k + 1 == nt || n == 0, "a partial character came out early");
        total += n;
    }
    CHECK(total == 4 && memcmp(out, "\xf0\x9f\xa6\x99", 4) == 0, "%s", "");
    latent_decoder_free(d);
    lt_vocab_free(v, NULL);
    latent_gguf_free(g);
}

/* Tokenizing must stay about linear: 64 KB of mixed text in well under a second. */
static void test_speed(void)
{
    static const char *const names[] = {"llama-spm", "llama-bpe"};
    for (int k = 0; k < 2; k++) {
        latent_gguf *g;
        struct lt_vocab *v = open_vocab(names[k], &g);
        if (!v)
            continue;
        vcase *cs;
        char *inp;
        size_t n = read_cases(names[k], &cs, &inp);
        size_t len = 0, cap = 1 << 16;
        char *text = malloc(cap);
        while (n > 0 && len < cap - 4096)
            for (size_t i = 0; i < n && len + cs[i].len + 1 < cap; i++) {
                memcpy(text + len, cs[i].text, cs[i].len);
                len += cs[i].len;
                text[len++] = '\n';
            }
        latent_token *toks = malloc(cap * sizeof *toks);
        size_t nt = 0;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        latent_status st = lt_vocab_tokenize(v, text, len, 0, toks, cap, &nt);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        CHECK(st == LATENT_OK && nt > len / 8, "%s", "");
        CHECK(ms < 2000, "%s: %zu bytes took %.1f ms", names[k], len, ms);
        printf("%s: %zu bytes -> %zu tokens in %.2f ms\n", names[k], len, nt, ms);
        size_t dl;
        char *d = decode_all(v, toks, nt, &dl);
        CHECK(d && dl == len && memcmp(d, text, len) == 0, "%s: 64 KB round trip", names[k]);
        free(d);
        free(toks);
        free(text);
        free(cs);
        free(inp);
        lt_vocab_free(v, NULL);
        latent_gguf_free(g);
    }
}

/* ============================================================================
 * Hostile metadata, built here as GGUF bytes
 * ========================================================================== */

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
    uint64_t n_kv;
} buf;

static void put(buf *b, const void *s, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void put_u32(buf *b, uint32_t v) { unsigned char c[4] = {v, v >> 8, v >> 16, v >> 24}; put(b, c, 4); }
static void put_u64(buf *b, uint64_t v) { put_u32(b, (uint32_t)v); put_u32(b, (uint32_t)(v >> 32)); }
static void put_str(buf *b, const char *s) { put_u64(b, strlen(s)); put(b, s, strlen(s)); }
static void key(buf *b, const char *k, uint32_t type) { put_str(b, k); put_u32(b, type); b->n_kv++; }
static void kv_str(buf *b, const char *k, const char *v) { key(b, k, LATENT_GGUF_STRING); put_str(b, v); }
static void kv_u32(buf *b, const char *k, uint32_t v) { key(b, k, LATENT_GGUF_UINT32); put_u32(b, v); }
static void kv_strs(buf *b, const char *k, const char *const *v, size_t n)
{
    key(b, k, LATENT_GGUF_ARRAY);
    put_u32(b, LATENT_GGUF_STRING);
    put_u64(b, n);
    for (size_t i = 0; i < n; i++)
        put_str(b, v[i]);
}
static void kv_i32s(buf *b, const char *k, const int32_t *v, size_t n)
{
    key(b, k, LATENT_GGUF_ARRAY);
    put_u32(b, LATENT_GGUF_INT32);
    put_u64(b, n);
    for (size_t i = 0; i < n; i++)
        put_u32(b, (uint32_t)v[i]);
}

/* A tiny byte-level BPE vocabulary, broken in one way per `variant` (0: intact). */
enum { H_OK, H_TOKENS_INTS, H_TOKENS_SCALAR, H_TYPES_SHORT, H_TYPES_STRINGS, H_BOS_RANGE, H_BOS_NONE,
       H_MERGE_UNKNOWN, H_MERGE_RESULT, H_MERGE_NO_SPACE, H_MERGES_INTS, H_NO_MERGES, H_MODEL_BERT,
       H_PRE_UNKNOWN, H_NO_MODEL, H_NO_TOKENS, H_EMPTY_TOKENS, H_MODEL_INT, H_HUGE_COUNT, H_COUNT };

static buf build_vocab(int variant)
{
    static const char *const tokens[] = {"a", "b", "c", "ab", "abc", "\xc4\xa0", ("\xc4\xa0" "ab"), "<|endoftext|>"};
    static const int32_t types[] = {1, 1, 1, 1, 1, 1, 1, 3};
    const char *merges[] = {"a b", "ab c", "\xc4\xa0 ab"};
    buf body = {0};
    if (variant != H_NO_MODEL) {
        if (variant == H_MODEL_INT)
            kv_u32(&body, "tokenizer.ggml.model", 2);
        else
            kv_str(&body, "tokenizer.ggml.model", variant == H_MODEL_BERT ? "bert" : "gpt2");
    }
    kv_str(&body, "tokenizer.ggml.pre", variant == H_PRE_UNKNOWN ? "no-such-pre" : "gpt-2");
    if (variant == H_TOKENS_INTS)
        kv_i32s(&body, "tokenizer.ggml.tokens", types, 8);
    else if (variant == H_TOKENS_SCALAR)
        kv_str(&body, "tokenizer.ggml.tokens", "a");
    else if (variant == H_EMPTY_TOKENS)
        kv_strs(&body, "tokenizer.ggml.tokens", tokens, 0);
    else if (variant == H_HUGE_COUNT) {
        key(&body, "tokenizer.ggml.tokens", LATENT_GGUF_ARRAY);
        put_u32(&body, LATENT_GGUF_STRING);
        put_u64(&body, 1ull << 40);
        put_str(&body, "a");
    } else if (variant != H_NO_TOKENS)
        kv_strs(&body, "tokenizer.ggml.tokens", tokens, 8);
    if (variant == H_TYPES_STRINGS)
        kv_strs(&body, "tokenizer.ggml.token_type", tokens, 8);
    else
        kv_i32s(&body, "tokenizer.ggml.token_type", types, variant == H_TYPES_SHORT ? 7 : 8);
    if (variant == H_MERGE_UNKNOWN)
        merges[1] = "ab zz";
    if (variant == H_MERGE_RESULT)
        merges[1] = "b c";
    if (variant == H_MERGE_NO_SPACE)
        merges[1] = "abc";
    if (variant == H_MERGES_INTS)
        kv_i32s(&body, "tokenizer.ggml.merges", types, 3);
    else if (variant != H_NO_MERGES)
        kv_strs(&body, "tokenizer.ggml.merges", merges, 3);
    if (variant == H_BOS_RANGE)
        kv_u32(&body, "tokenizer.ggml.bos_token_id", 8);
    else if (variant == H_BOS_NONE)
        kv_u32(&body, "tokenizer.ggml.bos_token_id", 0xffffffffu);
    else
        kv_u32(&body, "tokenizer.ggml.bos_token_id", 7);
    buf b = {0};
    put(&b, "GGUF", 4);
    put_u32(&b, 3);
    put_u64(&b, 0);
    put_u64(&b, body.n_kv);
    put(&b, body.p, body.n);
    free(body.p);
    return b;
}

static void test_hostile(void)
{
    for (int variant = 0; variant < H_COUNT; variant++) {
        buf b = build_vocab(variant);
        latent_gguf *g = NULL;
        latent_status st = latent_gguf_parse(b.p, b.n, &g);
        struct lt_vocab *v = NULL;
        if (st == LATENT_OK)
            st = lt_vocab_load(g, NULL, &v);
        latent_status want = variant == H_OK || variant == H_BOS_NONE ? LATENT_OK
                             : variant == H_MODEL_BERT || variant == H_PRE_UNKNOWN ? LATENT_EUNSUPPORTED
                                                                                    : LATENT_EFORMAT;
        CHECK(st == want, "variant %d: status %d (%s), want %d", variant, (int)st, latent_last_error(), (int)want);
        CHECK((v != NULL) == (st == LATENT_OK), "%s", "");
        if (v) {
            latent_token t[8];
            size_t n;
            CHECK(lt_vocab_tokenize(v, "abc ab", 6, 0, t, 8, &n) == LATENT_OK && n == 2 && t[0] == 4 && t[1] == 6,
                  "variant %d: %zu tokens", variant, n);
            CHECK(v->bos == (variant == H_BOS_NONE ? -1 : 7), "%s", "");
            /* <|endoftext|> ends generation and is cut out only when asked */
            CHECK(lt_vocab_is_eog(v, 7), "%s", "");
            CHECK(lt_vocab_tokenize(v, "<|endoftext|>", 13, LATENT_TOKENIZE_SPECIAL, t, 8, &n) == LATENT_OK &&
                  n == 1 && t[0] == 7, "%s", "");
            lt_vocab_free(v, NULL);
        }
        latent_gguf_free(g);
        free(b.p);
    }

    /* every allocation while loading a real vocabulary, failed in turn */
    const char *path = test_data_path("vectors/ggml-vocab-llama-spm.gguf");
    latent_gguf *g = NULL;
    if (!path || latent_gguf_open(path, &g) != LATENT_OK)
        return;
    size_t base = latent_heap_bytes();
    int n;
    latent_status st = LATENT_ENOMEM;
    for (n = 1; n < 100; n++) {
        struct lt_vocab *v = (struct lt_vocab *)&n;
        lt_budget budget = {0};
        test_fail_allocation(n);
        st = lt_vocab_load(g, &budget, &v);
        test_fail_allocation(0);
        if (st == LATENT_OK) {
            CHECK(budget.used > 0 && budget.used <= budget.peak, "%s", "");
            lt_vocab_free(v, &budget);
            CHECK(budget.used == 0, "the budget gets every byte back");
            break;
        }
        CHECK(st == LATENT_ENOMEM && v == NULL, "failing allocation %d: status %d", n, (int)st);
        CHECK(latent_heap_bytes() == base, "failing allocation %d leaked %zu bytes", n, latent_heap_bytes() - base);
    }
    CHECK(st == LATENT_OK && n > 5, "load succeeded after %d injected failures", n - 1);
    /* and while tokenizing */
    struct lt_vocab *v = NULL;
    if (lt_vocab_load(g, NULL, &v) == LATENT_OK) {
        static const char text[] = "Hello world, </s> and more";
        for (n = 1; n < 20; n++) {
            latent_token t[64];
            size_t nt;
            test_fail_allocation(n);
            st = lt_vocab_tokenize(v, text, sizeof text - 1, LATENT_TOKENIZE_SPECIAL, t, 64, &nt);
            test_fail_allocation(0);
            if (st == LATENT_OK)
                break;
            CHECK(st == LATENT_ENOMEM, "tokenize, failing allocation %d: %d", n, (int)st);
        }
        CHECK(st == LATENT_OK, "%s", "");
        lt_vocab_free(v, NULL);
    }
    CHECK(latent_heap_bytes() == base, "%s", "");
    latent_gguf_free(g);
}

/* llama2.c's tokenizer files, read the way llama.cpp's converter writes GGUF vocabularies:
 * tok512.bin must equal stories260K.gguf's vocabulary (the same model, converted). */
static void test_llama2c(void)
{
    const char *tp = test_data_path("models/tok512.bin");
    const char *gp = test_data_path("models/stories260K.gguf");
    if (!tp || !gp)
        return;
    size_t size;
    char *data = test_read_file(tp, &size);
    latent_gguf *g = NULL;
    CHECK(data && latent_gguf_open(gp, &g) == LATENT_OK, "%s", "");
    if (!data || !g) {
        free(data);
        latent_gguf_free(g);
        return;
    }
    lt_llama2c_vocab *lv = NULL;
    CHECK(lt_llama2c_vocab_parse(data, size, 512, NULL, &lv) == LATENT_OK, "%s", latent_last_error());
    int64_t ti = latent_gguf_find_key(g, "tokenizer.ggml.tokens");
    int64_t si = latent_gguf_find_key(g, "tokenizer.ggml.scores");
    int64_t yi = latent_gguf_find_key(g, "tokenizer.ggml.token_type");
    int same_text = 0, same_score = 0, same_type = 0;
    for (int32_t i = 0; lv && i < 512; i++) {
        latent_str s;
        double sc;
        int64_t ty;
        latent_gguf_kv_str(g, ti, (uint64_t)i, &s);
        latent_gguf_kv_float(g, si, (uint64_t)i, &sc);
        latent_gguf_kv_int(g, yi, (uint64_t)i, &ty);
        same_text += s.len == lv->lens[i] && memcmp(s.ptr, lv->tokens[i], s.len) == 0;
        same_score += (float)sc == lv->scores[i];
        same_type += ty == lv->types[i];
    }
    CHECK(same_text == 512 && same_score == 512 && same_type == 512, "tok512.bin vs stories260K.gguf: %d texts, "
          "%d scores, %d types agree", same_text, same_score, same_type);
    lt_llama2c_vocab_free(lv, NULL);
    /* truncated: EFORMAT at every cut */
    int bad = 0;
    for (size_t cut = 0; cut < size; cut += 97) {
        lv = NULL;
        latent_status st = lt_llama2c_vocab_parse(data, cut, 512, NULL, &lv);
        bad += st != LATENT_EFORMAT || lv != NULL;
        lt_llama2c_vocab_free(lv, NULL);
    }
    CHECK(bad == 0, "%d truncations not refused", bad);
    free(data);
    latent_gguf_free(g);
}

/* ============================================================================
 * The public API, on models loaded as vocabularies
 * ========================================================================== */

static latent_model *load_model(const char *path)
{
    latent_model_params mp = latent_model_default_params();
    mp.vocab_only = 1;
    mp.use_mmap = 1;
    latent_model *m = NULL;
    latent_status st = latent_model_load(path, &mp, &m);
    CHECK(st == LATENT_OK, "%s: %s", path, latent_last_error());
    return m;
}

static void test_public_api(void)
{
    const char *path = test_data_path("vectors/ggml-vocab-llama-spm.gguf");
    latent_model *m = path ? load_model(path) : NULL;
    if (m) {
        CHECK(latent_n_vocab(m) == 32000, "%s", "");
        CHECK(latent_token_bos(m) == 1 && latent_token_eos(m) == 2, "%s", "");
        CHECK(latent_token_is_end(m, 2) && !latent_token_is_end(m, 1) && !latent_token_is_end(m, 15043) &&
              !latent_token_is_end(m, -1) && !latent_token_is_end(m, 32000), "%s", "");
        latent_token t[8];
        size_t n = 0;
        CHECK(latent_tokenize(m, "Hello world", 11, LATENT_TOKENIZE_ADD_BOS, t, 8, &n) == LATENT_OK && n == 3 &&
              t[0] == 1 && t[1] == 15043 && t[2] == 3186, "%s", "");
        CHECK(latent_tokenize(m, "Hello world", 11, 0, t, 1, &n) == LATENT_ERANGE && n == 2, "%s", "");
        CHECK(latent_tokenize(m, "Hello world", 11, 0, NULL, 0, &n) == LATENT_ERANGE && n == 2, "%s", "");
        CHECK(latent_tokenize(m, NULL, 3, 0, t, 8, &n) == LATENT_EINVAL, "%s", "");
        CHECK(latent_tokenize(m, "", 0, 0, t, 8, &n) == LATENT_OK && n == 0, "%s", "");
        char piece[16];
        CHECK(latent_token_piece(m, 15043, piece, sizeof piece, &n) == LATENT_OK && n == 6 &&
              memcmp(piece, " Hello", 6) == 0, "%s", "");
        CHECK(latent_token_piece(m, 15043, piece, 3, &n) == LATENT_ERANGE && n == 6, "%s", "");
        CHECK(latent_token_piece(m, 32000, piece, sizeof piece, &n) == LATENT_EINVAL, "%s", "");
        CHECK(latent_model_chat_template(m) == LATENT_CHAT_RAW, "no template in the file");
        latent_decoder *d = NULL;
        CHECK(latent_decoder_create(m, &d) == LATENT_OK, "%s", "");
        char out[64];
        size_t total = 0, k;
        latent_token hello_world[3] = {1, 15043, 3186};
        for (int i = 0; i < 3; i++) {
            CHECK(latent_decoder_push(d, hello_world[i], out + total, sizeof out - total, &k) == LATENT_OK, "%s", "");
            total += k;
        }
        CHECK(total == 11 && memcmp(out, "Hello world", 11) == 0, "%s", "");
        latent_decoder_free(d);
        latent_model_free(m);
    }
    path = test_data_path("vectors/ggml-vocab-llama-bpe.gguf");
    m = path ? load_model(path) : NULL;
    if (m) {
        CHECK(latent_token_bos(m) == 128000 && latent_token_eos(m) == 128001, "%s", "");
        /* <|eot_id|>, <|eom_id|>, <|end_of_text|> end a turn; <|start_header_id|> does not */
        CHECK(latent_token_is_end(m, 128009) && latent_token_is_end(m, 128008) && latent_token_is_end(m, 128001) &&
              !latent_token_is_end(m, 128006), "%s", "");
        static const char chat[] = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
        latent_token t[16];
        size_t n = 0;
        CHECK(latent_tokenize(m, chat, strlen(chat), LATENT_TOKENIZE_ADD_BOS | LATENT_TOKENIZE_SPECIAL, t, 16, &n) ==
                  LATENT_OK &&
              n == 7 && t[0] == 128000 && t[1] == 128006 && t[3] == 128007 && t[6] == 128009,
              "%zu tokens", n);
        latent_model_free(m);
    }
    path = test_data_path("vectors/ggml-vocab-phi-3.gguf");
    m = path ? load_model(path) : NULL;
    if (m) {
        CHECK(latent_model_chat_template(m) == LATENT_CHAT_PHI3, "%s", "");
        CHECK(latent_token_is_end(m, 32007) && latent_token_is_end(m, 32000), "<|end|> and <|endoftext|>");
        latent_model_free(m);
    }
    path = smollm_path();
    m = path ? load_model(path) : NULL;
    if (m) {
        CHECK(latent_n_vocab(m) == 49152 && latent_model_chat_template(m) == LATENT_CHAT_CHATML, "%s", "");
        CHECK(latent_token_is_end(m, 2) && latent_token_eos(m) == 2, "%s", "");
        latent_model_free(m);
    }
    /* no model */
    size_t n = 1;
    CHECK(latent_token_bos(NULL) == -1 && latent_token_eos(NULL) == -1 && !latent_token_is_end(NULL, 0), "%s", "");
    CHECK(latent_tokenize(NULL, "a", 1, 0, NULL, 0, &n) == LATENT_EINVAL && n == 0, "%s", "");
    latent_decoder *d = NULL;
    CHECK(latent_decoder_create(NULL, &d) == LATENT_EINVAL && d == NULL, "%s", "");
    CHECK(latent_model_chat_template(NULL) == LATENT_CHAT_RAW, "%s", "");
}

int main(void)
{
    test_vectors();
    test_tinyllama();
    test_qwen2();
    test_smollm();
    test_decoder();
    test_speed();
    test_hostile();
    test_llama2c();
    test_public_api();
    return test_done();
}
