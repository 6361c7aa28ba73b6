/*
 * test_tools.c — the command-line tools as a new user meets them.
 *
 * convert-llama2c writes the vocabulary SentencePiece expects (prompted text then matches
 * llama2.c's own run and llama.cpp's conversion) and refuses a tokenizer or a header that
 * does not fit the checkpoint; quantize, tokenize, glyphs and gguf-dump answer bad input in
 * one line. Each program is run as a user runs it, through the shell.
 */
#include <unistd.h>

#include "harness.h"
#include "latent_gguf.h"

static void tmp_path(char *out, size_t cap, const char *name)
{
    const char *dir = getenv("TMPDIR");
    snprintf(out, cap, "%s/latent-tools-%d-%s", dir && *dir ? dir : "/tmp", (int)getpid(), name);
}

/* Runs a program with stdout and stderr into one temporary file and returns what it wrote
 * (malloc'd, "" when nothing); *status is system()'s. */
__attribute__((format(printf, 2, 3))) static char *run_capture(int *status, const char *fmt, ...)
{
    char args[2048], out[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    tmp_path(out, sizeof out, "output.txt");
    const char *build = getenv("LATENT_BUILD"), *runner = getenv("LATENT_RUNNER");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s/%s > %s 2>&1", runner ? runner : "", build && *build ? build : "build",
             args, out);
    *status = system(cmd);
    char *text = test_read_file(out, NULL);
    remove(out);
    return text ? text : calloc(1, 1);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ============================================================================
 * convert-llama2c
 * ========================================================================== */

/* Converts models/NAME.bin with TOK into out; 0 on success. */
static int convert(const char *name, const char *tok_rel, char *out, size_t cap)
{
    char rel[256];
    snprintf(rel, sizeof rel, "models/%s.bin", name);
    const char *bin = test_data_path(rel), *tok = test_data_path(tok_rel);
    if (!bin || !tok)
        return -1;
    tmp_path(out, cap, name);
    int rc = test_run_program("convert-llama2c %s %s %s 2>/dev/null", bin, tok, out);
    CHECK(rc == 0, "convert-llama2c %s", name);
    return rc;
}

/* The converted vocabulary is spelled as llama.cpp's conversion of the same model spells it
 * (U+2581 for a space): every token and every type. */
static void check_vocabulary_spelling(void)
{
    char out[512];
    const char *ref = test_data_path("models/stories260K.gguf");
    if (!ref || convert("stories260K", "models/tok512.bin", out, sizeof out))
        return;
    latent_gguf *a = NULL, *b = NULL;
    CHECK(latent_gguf_open(out, &a) == LATENT_OK, "converted: %s", latent_last_error());
    CHECK(latent_gguf_open(ref, &b) == LATENT_OK, "reference: %s", latent_last_error());
    int same = 0, n = 0;
    int64_t ka = a ? latent_gguf_find_key(a, "tokenizer.ggml.tokens") : -1;
    int64_t kb = b ? latent_gguf_find_key(b, "tokenizer.ggml.tokens") : -1;
    for (uint64_t i = 0; ka >= 0 && kb >= 0 && i < 512; i++) {
        latent_str x, y;
        int ok = latent_gguf_kv_str(a, ka, i, &x) == LATENT_OK && latent_gguf_kv_str(b, kb, i, &y) == LATENT_OK;
        n++;
        same += ok && x.len == y.len && memcmp(x.ptr, y.ptr, x.len) == 0;
    }
    CHECK(n == 512 && same == n, "converted vocabulary: %d of %d tokens spelled as stories260K.gguf", same, n);
    latent_gguf_free(a);
    latent_gguf_free(b);
    remove(out);
}

/* Prompted greedy text of a converted checkpoint is llama2.c's. The ids are what llama2.c's
 * run.c (karpathy/llama2.c bd18228) encodes for these prompts from the same tokenizer files,
 * the dummy-prefix space included. */
static void check_prompt_ids(const char *name, const char *tok_rel, const char *prompt, const int *want, int n_want)
{
    char out[512];
    if (convert(name, tok_rel, out, sizeof out))
        return;
    latent_model *m = NULL;
    CHECK(latent_model_load(out, NULL, &m) == LATENT_OK, "%s: %s", name, latent_last_error());
    latent_token ids[64];
    size_t n = 0;
    latent_status st = m ? latent_tokenize(m, prompt, strlen(prompt), 0, ids, 64, &n) : LATENT_EINVAL;
    int same = st == LATENT_OK && (int)n == n_want;
    for (int i = 0; same && i < n_want; i++)
        same = ids[i] == want[i];
    CHECK(same, "%s: '%s' is %zu tokens (%d, %d, ...), llama2.c's run.c gives %d (%d, %d, ...)", name, prompt, n,
          n > 0 ? ids[0] : -1, n > 1 ? ids[1] : -1, n_want, want[0], want[1]);
    latent_model_free(m);
    remove(out);
}

/* The same prompt, greedy, on the converted checkpoint and on llama.cpp's conversion of it:
 * the same text. */
static void check_prompted_text(void)
{
    char out[512], a[512], b[512];
    const char *ref = test_data_path("models/stories260K.gguf");
    if (!ref || convert("stories260K", "models/tok512.bin", out, sizeof out))
        return;
    tmp_path(a, sizeof a, "a.txt");
    tmp_path(b, sizeof b, "b.txt");
    const char *flags = "-p 'Lily and Tom went to' --temp 0 -n 48 -t 1 --kv-type f32";
    int rc = test_run_program("generate -m %s %s > %s 2>/dev/null", out, flags, a) |
             test_run_program("generate -m %s %s > %s 2>/dev/null", ref, flags, b);
    char *ta = test_read_file(a, NULL), *tb = test_read_file(b, NULL);
    CHECK(rc == 0 && ta && tb && strlen(ta) > 100 && strcmp(ta, tb) == 0,
          "prompted greedy text: converted\n%s\nllama.cpp's conversion\n%s", ta ? ta : "", tb ? tb : "");
    free(ta);
    free(tb);
    remove(a);
    remove(b);
    remove(out);
}

/* Writes a llama2.c header with the given vocab_size and enough weights after it, every
 * one `weight`. */
static void write_checkpoint(const char *path, int32_t vocab, float weight)
{
    int32_t h[7] = {8, 16, 1, 2, 2, vocab, 4};
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fwrite(h, sizeof h, 1, f);
    static float weights[4096];
    for (int i = 0; i < 4096; i++)
        weights[i] = weight;
    fwrite(weights, sizeof weights, 1, f);
    fclose(f);
}

static void check_converter_refusals(void)
{
    const char *tok512 = test_data_path("models/tok512.bin");
    const char *big = test_data_path("models/tokenizer.bin");
    const char *bin = test_data_path("models/stories260K.bin");
    char out[512], ckpt[512];
    tmp_path(out, sizeof out, "refused.gguf");
    tmp_path(ckpt, sizeof ckpt, "minus1.bin");
    int rc;
    if (bin && big) {
        char *msg = run_capture(&rc, "convert-llama2c %s %s %s", bin, big, out);
        CHECK(rc != 0 && strstr(msg, "32000 tokens") && strstr(msg, "512") && count_lines(msg) == 1,
              "a 32000-token tokenizer for a 512-token model: status %d, said: %s", rc, msg);
        CHECK(access(out, F_OK) != 0, "the refused conversion left %s behind", out);
        free(msg);
    }
    if (tok512) {
        write_checkpoint(ckpt, -1, 0.0f);
        char *msg = run_capture(&rc, "convert-llama2c %s %s %s", ckpt, tok512, out);
        CHECK(rc != 0 && strstr(msg, "vocab_size -1") && count_lines(msg) == 1,
              "vocab_size -1: status %d, said: %s", rc, msg);
        CHECK(access(out, F_OK) != 0, "vocab_size -1 left %s behind", out);
        free(msg);
    }
    /* --f16 and a weight past 65504: refused naming the tensor, not written as infinity */
    char tok3[512];
    tmp_path(tok3, sizeof tok3, "tok3.bin");
    FILE *f = fopen(tok3, "wb");
    if (f) {
        static const char *const pieces[3] = {"<unk>", "\n<s>\n", "\n</s>\n"};
        int32_t max_len = 6;
        fwrite(&max_len, 4, 1, f);
        for (int i = 0; i < 3; i++) {
            float score = 0;
            int32_t len = (int32_t)strlen(pieces[i]);
            fwrite(&score, 4, 1, f), fwrite(&len, 4, 1, f), fwrite(pieces[i], 1, (size_t)len, f);
        }
        fclose(f);
        write_checkpoint(ckpt, 3, 1e5f);
        char *msg = run_capture(&rc, "convert-llama2c %s %s %s --f16", ckpt, tok3, out);
        CHECK(rc != 0 && strstr(msg, "token_embd.weight") && strstr(msg, "100000") && count_lines(msg) == 1,
              "--f16 with a weight of 1e5: status %d, said: %s", rc, msg);
        CHECK(access(out, F_OK) != 0, "--f16 overflow left %s behind", out);
        free(msg);
        CHECK(test_run_program("convert-llama2c %s %s %s 2>/dev/null", ckpt, tok3, out) == 0,
              "the same checkpoint in f32 converts");
        remove(tok3);
    }
    remove(ckpt);
    remove(out);
}

/* ============================================================================
 * quantize
 * ========================================================================== */

/* A GGUF with one 2-D f32 tensor named `name` of ne0 x ne1, every weight `value`. */
static int write_one_tensor(const char *path, const char *name, uint64_t ne0, uint64_t ne1, float value)
{
    static float data[4096];
    for (size_t i = 0; i < 4096; i++)
        data[i] = value * (float)(1 + i % 7) / 7; /* not all equal, so every block has a spread */
    latent_gguf_writer *w = NULL;
    uint64_t ne[2] = {ne0, ne1};
    latent_status st = latent_gguf_writer_create(&w);
    if (!st)
        st = latent_gguf_writer_add_str(w, "general.architecture", "llama", 5);
    if (!st)
        st = latent_gguf_writer_add_tensor(w, name, LATENT_TYPE_F32, 2, ne, data, ne0 * ne1 * sizeof(float));
    if (!st)
        st = latent_gguf_writer_write(w, path);
    latent_gguf_writer_free(w);
    CHECK(st == LATENT_OK, "writing %s: %s", path, latent_last_error());
    return st == LATENT_OK ? 0 : -1;
}

/* Quantizes `in` to `type` and expects a one-line refusal that mentions `want`. */
static void expect_refusal(const char *label, const char *in, const char *type, const char *extra, const char *want)
{
    char out[512];
    tmp_path(out, sizeof out, "refused-q.gguf");
    int rc;
    char *msg = run_capture(&rc, "quantize %s %s %s %s", in, out, type, extra);
    CHECK(rc != 0 && strstr(msg, want) && count_lines(msg) == 1, "%s: status %d, said: %s", label, rc, msg);
    CHECK(access(out, F_OK) != 0, "%s: %s was written anyway", label, out);
    free(msg);
    remove(out);
}

static void check_quantize_refusals(void)
{
    char in[512];
    tmp_path(in, sizeof in, "one.gguf");
    /* a zero dimension divided a row count by zero */
    if (!write_one_tensor(in, "blk.0.attn_q.weight", 0, 32, 1.0f))
        expect_refusal("zero dimension", in, "q8_0", "", "'blk.0.attn_q.weight' has a zero dimension");
    if (!write_one_tensor(in, "blk.0.attn_q.weight", 32, 0, 1.0f))
        expect_refusal("zero rows", in, "q4_0", "", "'blk.0.attn_q.weight' has a zero dimension");
    /* finite weights past f16's 65504, and blocks whose f16 scale overflows */
    if (!write_one_tensor(in, "blk.0.ffn_up.weight", 64, 4, 1e5f))
        expect_refusal("f16 overflow", in, "f16", "", "'blk.0.ffn_up.weight': weights up to 100000");
    if (!write_one_tensor(in, "blk.0.ffn_up.weight", 64, 4, 1e7f))
        expect_refusal("q8_0 scale overflow", in, "q8_0", "", "'blk.0.ffn_up.weight': weights up to 1e+07");
    if (!write_one_tensor(in, "blk.0.ffn_up.weight", 256, 4, 1e9f))
        expect_refusal("q4_k scale overflow", in, "q4_k", "--pure", "'blk.0.ffn_up.weight'");
    /* just inside f16: written, and finite */
    if (!write_one_tensor(in, "blk.0.ffn_up.weight", 64, 4, 6e4f)) {
        char out[512];
        tmp_path(out, sizeof out, "fits.gguf");
        CHECK(test_run_program("quantize %s %s f16 2>/dev/null", in, out) == 0, "6e4 fits f16");
        remove(out);
    }
    remove(in);
}

static void check_quantize_summary_and_requantize(void)
{
    const char *model = test_data_path("models/stories260K.gguf");
    if (!model)
        return;
    char q8[512], again[512];
    tmp_path(q8, sizeof q8, "q8.gguf");
    tmp_path(again, sizeof again, "again.gguf");
    int rc;
    /* every fallen-back tensor was two lines and there was no summary; now at most one line of
     * fallbacks and one of the result: its types and its sizes */
    char *msg = run_capture(&rc, "quantize %s %s q4_k_m", model, q8);
    CHECK(rc == 0 && count_lines(msg) <= 2 && strstr(msg, "MiB ->") && strstr(msg, " q5_0") &&
              strstr(msg, "q4_K -> q5_0 ("), "quantize q4_k_m summary: %s", msg);
    free(msg);
    msg = run_capture(&rc, "quantize %s %s q8_0", model, q8);
    CHECK(rc == 0 && count_lines(msg) <= 2 && strstr(msg, " q8_0"), "quantize q8_0 summary: %s", msg);
    free(msg);
    expect_refusal("re-quantizing", q8, "q4_0", "", "already quantized (q8_0)");
    CHECK(test_run_program("quantize %s %s q4_0 --allow-requantize 2>/dev/null", q8, again) == 0,
          "--allow-requantize");
    latent_gguf *g = NULL;
    CHECK(latent_gguf_open(again, &g) == LATENT_OK && latent_gguf_find_tensor(g, "blk.0.attn_q.weight") &&
              latent_gguf_find_tensor(g, "blk.0.attn_q.weight")->type == LATENT_TYPE_Q4_0,
          "re-quantized file: %s", latent_last_error());
    latent_gguf_free(g);
    expect_refusal("bad flag", model, "q4_0", "--fast", "unexpected argument '--fast'");
    expect_refusal("no type", model, "", "", "expected three arguments");
    remove(q8);
    remove(again);
}

/* ============================================================================
 * Messages
 * ========================================================================== */

static void check_path_once(void)
{
    char bad[512];
    tmp_path(bad, sizeof bad, "not-a-model.gguf");
    FILE *f = fopen(bad, "wb");
    if (!f)
        return;
    fputs("this is not a GGUF file at all", f);
    fclose(f);
    int rc;
    char *msg = run_capture(&rc, "generate -m %s -p hi", bad);
    const char *first = strstr(msg, bad);
    CHECK(rc != 0 && first && !strstr(first + 1, bad) && count_lines(msg) == 1,
          "the path once in the message: %s", msg);
    free(msg);
    msg = run_capture(&rc, "tokenize %s hi", bad);
    first = strstr(msg, bad);
    CHECK(rc != 0 && first && !strstr(first + 1, bad), "tokenize: the path once: %s", msg);
    free(msg);
    remove(bad);
}

/* One line for a bad flag, in every tool. */
static void check_bad_flags(void)
{
    static const char *const commands[] = {
        "tokenize --frobnicate", "tokenize", "quantize --frobnicate", "quantize a b",
        "glyphs --frobnicate", "glyphs", "glyphs a b", "gguf-dump --frobnicate", "generate --frobnicate",
        "convert-llama2c --frobnicate",
    };
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        int rc;
        char *msg = run_capture(&rc, "%s", commands[i]);
        CHECK(rc != 0 && count_lines(msg) == 1, "'%s': status %d, %d lines: %s", commands[i], rc, count_lines(msg),
              msg);
        free(msg);
    }
}

static void check_tokenize_text_and_bos(void)
{
    char out[512];
    if (convert("stories260K", "models/tok512.bin", out, sizeof out))
        return;
    int rc;
    char *ids = run_capture(&rc, "tokenize %s 'Once upon a time' --bos", out);
    CHECK(rc == 0 && !strcmp(ids, "1 403 407 261 378\n"), "tokenize MODEL TEXT --bos: %s", ids);
    free(ids);
    ids = run_capture(&rc, "tokenize %s -- '-Once' < /dev/null", out);
    CHECK(rc == 0 && count_lines(ids) == 1 && ids[0] != '\n', "tokenize MODEL -- -TEXT: %s", ids);
    free(ids);
    remove(out);

    /* a model that asks for no BOS: --bos says so rather than doing nothing in silence */
    const char *smol = test_model_path("SmolLM2-135M-Instruct.Q4_1.gguf");
    if (!smol)
        return;
    char *msg = run_capture(&rc, "tokenize %s 'Once upon a time' --bos", smol);
    CHECK(rc == 0 && strstr(msg, "--bos") && strstr(msg, "none added") && count_lines(msg) == 2,
          "tokenize --bos without BOS: %s", msg);
    free(msg);
    msg = run_capture(&rc, "tokenize %s 'Once upon a time'", smol);
    CHECK(rc == 0 && !strstr(msg, "--bos") && count_lines(msg) == 1, "tokenize without --bos: %s", msg);
    free(msg);
}

static void check_gguf_dump(void)
{
    const char *model = test_data_path("models/stories260K.gguf");
    if (!model)
        return;
    char q[512];
    tmp_path(q, sizeof q, "q4km.gguf");
    if (test_run_program("quantize %s %s q4_k_m 2>/dev/null", model, q) != 0) {
        CHECK(0, "quantize for gguf-dump");
        return;
    }
    int rc;
    char *text = run_capture(&rc, "gguf-dump %s", q);
    CHECK(rc == 0 && strstr(text, "general.file_type") && strstr(text, "15 (Q4_K_M)") &&
              strstr(text, "blk.0.attn_q.weight"), "gguf-dump names the file type and lists tensors");
    free(text);
    text = run_capture(&rc, "gguf-dump %s --no-tensors", q);
    CHECK(rc == 0 && strstr(text, "15 (Q4_K_M)") && !strstr(text, "blk.0.attn_q.weight") && strstr(text, "total:"),
          "gguf-dump --no-tensors: %s", text);
    free(text);
    text = run_capture(&rc, "gguf-dump %s --json --no-tensors", q);
    CHECK(rc == 0 && strstr(text, "\"name\": \"Q4_K_M\"") && !strstr(text, "\"tensors\": [") &&
              strstr(text, "\"total\""), "gguf-dump --json --no-tensors: %s", text);
    free(text);
    remove(q);
}

/* With --mem-budget none the limit is the system's: the message must not call it a budget
 * of 0 bytes. The first step of the cache (65536 tokens, f32) is far past ulimit -v. */
static void check_reflect_system_limit(void)
{
    const char *model = test_data_path("models/stories260K.gguf");
    if (!model)
        return;
    const char *build = getenv("LATENT_BUILD"), *runner = getenv("LATENT_RUNNER");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "(ulimit -v 60000; %s %s/reflect --help) >/dev/null 2>&1", runner ? runner : "",
             build && *build ? build : "build");
    if (system(cmd) != 0) {
        SKIP("reflect under ulimit -v (this build or its emulator cannot start in 60 MB of address space)");
        return;
    }
    char out[512];
    tmp_path(out, sizeof out, "reflect.txt");
    snprintf(cmd, sizeof cmd, "(ulimit -v 60000; %s %s/reflect -m %s --display none --lives 1 --rest 0 -t 1 "
             "--mem-budget none --kv-chunk 65536 --kv-type f32) >/dev/null 2>%s", runner ? runner : "",
             build && *build ? build : "build", model, out);
    int rc = system(cmd);
    char *msg = test_read_file(out, NULL);
    CHECK(rc != 0 && msg && !strstr(msg, "0 bytes)") && strstr(msg, "the system"),
          "reflect under ulimit -v: %s", msg ? msg : "");
    free(msg);
    remove(out);
}

/* ============================================================================
 * bench's table
 * ========================================================================== */

/* The widest line of the table (lines not starting with '#'). */
static int widest_table_line(const char *out)
{
    int widest = 0;
    for (const char *line = out; *line;) {
        const char *end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        if (line[0] != '#' && len > widest)
            widest = len;
        line += len + (end != NULL);
    }
    return widest;
}

static void check_bench_table(void)
{
    const char *model = test_data_path("models/stories260K.gguf");
    if (!model)
        return;
    const char *flags = "--types f16,q4_0 -t 1 -r 1 -p 8 -n 4 --ppl-tokens 300";
    int rc;
    char *out = run_capture(&rc, "bench %s %s", model, flags);
    CHECK(rc == 0 && strstr(out, "gen tok/s") && strstr(out, "% ceiling") && strstr(out, "PPL") &&
              strstr(out, "KL") && !strstr(out, "prompt tok/s") && widest_table_line(out) <= 80,
          "bench's default table: %d columns wide:\n%s", widest_table_line(out), out);
    free(out);
    out = run_capture(&rc, "bench %s %s --wide", model, flags);
    CHECK(rc == 0 && strstr(out, "prompt tok/s") && strstr(out, "paired GB/s") && strstr(out, "top-1"),
          "bench --wide: every column:\n%s", out);
    free(out);
}

/* reflect takes --system as text, as generate does; the file is --system-file. */
static void check_reflect_flags(void)
{
    const char *model = test_data_path("models/stories260K.gguf");
    if (!model)
        return;
    char file[512];
    tmp_path(file, sizeof file, "system.txt");
    FILE *f = fopen(file, "w");
    if (!f)
        return;
    fputs("Once upon a time", f);
    fclose(f);
    const char *common = "--display none --lives 1 --rest 0 --max-tokens 12 --temp 0 -t 1";
    int rc1, rc2, rc3, rc4;
    char *a = run_capture(&rc1, "reflect -m %s --system-file %s --seed 3 %s", model, file, common);
    char *b = run_capture(&rc2, "reflect -m %s --system 'Once upon a time' -s 3 %s", model, common);
    char *c = run_capture(&rc3, "reflect -m %s -sys 'Once upon a time' --seed 3 %s", model, common);
    char *d = run_capture(&rc4, "reflect -m %s --system-prompt 'Once upon a time' --seed 3 %s", model, common);
    int rc5;
    char *e = run_capture(&rc5, "reflect -m %s -f %s --seed 3 %s", model, file, common);
    char *texts[] = {a, b, c, d, e};
    for (int i = 0; i < 5; i++) { /* the thoughts, without the lines before and after them */
        char *nl = strchr(texts[i], '\n');
        if (!strncmp(texts[i], "reflect: life", 13) && nl) /* "life 1 begins: budget ..." */
            memmove(texts[i], nl + 1, strlen(nl + 1) + 1);
        if (strstr(texts[i], "reflect: life"))
            *strstr(texts[i], "reflect: life") = 0;
    }
    CHECK(!rc1 && !rc2 && !rc3 && !rc4 && !rc5 && strlen(a) > 10 && !strcmp(a, b) && !strcmp(b, c) &&
              !strcmp(c, d) && !strcmp(d, e),
          "reflect --system-file, --system, -sys, --system-prompt, -f:\n%s\n%s\n%s\n%s\n%s", a, b, c, d, e);
    free(a), free(b), free(c), free(d), free(e);
    a = run_capture(&rc1, "reflect --version");
    CHECK(!rc1 && !strncmp(a, "reflect (liblatent ", 19), "reflect --version: %s", a);
    free(a);
    remove(file);
}

int main(void)
{
    check_vocabulary_spelling();
    static const int stories_once[] = {403, 407, 261, 378};
    static const int aidreams_dream[] = {303, 281, 269, 435, 447, 275};
    check_prompt_ids("stories260K", "models/tok512.bin", "Once upon a time", stories_once, 4);
    check_prompt_ids("aidreams260K", "models/aidreams_tok512.bin", "I dream of", aidreams_dream, 6);
    check_prompted_text();
    check_converter_refusals();
    check_quantize_refusals();
    check_quantize_summary_and_requantize();
    check_path_once();
    check_bad_flags();
    check_tokenize_text_and_bos();
    check_gguf_dump();
    check_reflect_system_limit();
    check_bench_table();
    check_reflect_flags();
    return test_done();
}
