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
#include "latent.h"

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

/* Writes a llama2.c header with the given vocab_size and enough zero weights after it. */
static void write_checkpoint(const char *path, int32_t vocab)
{
    int32_t h[7] = {8, 16, 1, 2, 2, vocab, 4};
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fwrite(h, sizeof h, 1, f);
    static const float zeros[4096];
    fwrite(zeros, sizeof zeros, 1, f);
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
        write_checkpoint(ckpt, -1);
        char *msg = run_capture(&rc, "convert-llama2c %s %s %s", ckpt, tok512, out);
        CHECK(rc != 0 && strstr(msg, "vocab_size -1") && count_lines(msg) == 1,
              "vocab_size -1: status %d, said: %s", rc, msg);
        CHECK(access(out, F_OK) != 0, "vocab_size -1 left %s behind", out);
        free(msg);
    }
    remove(ckpt);
    remove(out);
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
    return test_done();
}
