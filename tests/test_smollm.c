/*
 * test_smollm.c — a real instruct model from the internet: SmolLM2-135M-Instruct (Q4_1
 * weights, Q8_0 embedding, a 49,152-token byte-level BPE vocabulary, a chatml template).
 *
 * It loads; its chat template is recognised; text round-trips through its tokenizer;
 * `generate --chat --temp 0` answers a plain question correctly; and under the Cortex-A72
 * emulator its greedy tokens are the x86 build's, token for token.
 */
#include <stdarg.h>
#include <unistd.h>

#include "harness.h"
#include "latent.h"

#define MODEL_NAME "SmolLM2-135M-Instruct.Q4_1.gguf"

/* Runs `[runner] build/PROGRAM args > out`; returns the exit status. */
static int run_to_file(const char *runner, const char *build, const char *out, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s/%s > %s 2>/dev/null", runner ? runner : "", build, args, out);
    int rc = system(cmd);
    if (rc != 0)
        printf("command exited with %d: %s\n", rc, cmd);
    return rc;
}

static void check_model(const char *path)
{
    latent_model *m = NULL;
    CHECK(latent_model_load(path, NULL, &m) == LATENT_OK, "load: %s", latent_last_error());
    if (!m)
        return;
    CHECK(latent_n_vocab(m) == 49152, "%d tokens", latent_n_vocab(m));
    CHECK(latent_model_chat_template(m) == LATENT_CHAT_CHATML, "template %s",
          latent_chat_template_name(latent_model_chat_template(m)));
    const char *text = "The café's 3 cats — naïvely — said: «hello, world!» 🙂\n\tindented";
    latent_token toks[256];
    size_t n = 0;
    CHECK(latent_tokenize(m, text, strlen(text), 0, toks, 256, &n) == LATENT_OK && n > 10,
          "tokenize: %s", latent_last_error());
    char back[1024];
    size_t len = 0;
    latent_decoder *dec = NULL;
    CHECK(latent_decoder_create(m, &dec) == LATENT_OK, "decoder");
    for (size_t i = 0; dec && i < n; i++) {
        size_t k = 0;
        if (latent_decoder_push(dec, toks[i], back + len, sizeof back - len, &k) == LATENT_OK)
            len += k;
    }
    latent_decoder_free(dec);
    CHECK(len == strlen(text) && memcmp(back, text, len) == 0, "round trip: '%.*s'", (int)len, back);

    /* <|im_start|> is one token only when special tokens are parsed */
    const char *special = "<|im_start|>user";
    size_t plain = 0, parsed = 0;
    latent_tokenize(m, special, strlen(special), 0, toks, 256, &plain);
    latent_tokenize(m, special, strlen(special), LATENT_TOKENIZE_SPECIAL, toks, 256, &parsed);
    CHECK(parsed == 2 && plain > 2 && latent_token_is_end(m, toks[0]) == 0, "special: %zu parsed, %zu plain",
          parsed, plain);
    latent_tokenize(m, "<|im_end|>", 10, LATENT_TOKENIZE_SPECIAL, toks, 256, &parsed);
    CHECK(parsed == 1 && latent_token_is_end(m, toks[0]), "<|im_end|> ends a turn");
    latent_model_free(m);
}

static void check_answers(const char *path, const char *build, const char *runner, const char *out)
{
    char args[2048];
    snprintf(args, sizeof args, "generate -m %s --chat --temp 0 -n 24 -p 'What is the capital of France?'", path);
    int rc = run_to_file(runner, build, out, args);
    CHECK(rc == 0, "generate failed");
    char *answer = test_read_file(out, NULL);
    CHECK(answer && strstr(answer, "Paris"), "the answer does not name Paris: '%s'", answer ? answer : "");
    printf("SmolLM2 says: %s", answer ? answer : "(nothing)\n");
    free(answer);
}

/* Under qemu: the emulated A72 build and the host build choose the same greedy tokens. */
static void check_same_as_host(const char *path, const char *build, const char *runner, const char *out)
{
    const char *host_build = "build";
    char host_generate[512], args[2048], host_out[512];
    snprintf(host_generate, sizeof host_generate, "%s/generate", host_build);
    if (access(host_generate, X_OK) != 0) {
        SKIP("comparing with the host: %s is not built (make test builds the native configuration first)",
             host_generate);
        return;
    }
    if (snprintf(host_out, sizeof host_out, "%s.host", out) >= (int)sizeof host_out)
        return;
    snprintf(args, sizeof args, "generate -m %s --temp 0 -n 16 --ids -t 1 -p 'The little robot looked at the stars and'",
             path);
    CHECK(run_to_file(runner, build, out, args) == 0, "emulated generate");
    CHECK(run_to_file("", host_build, host_out, args) == 0, "host generate");
    char *a = test_read_file(out, NULL), *b = test_read_file(host_out, NULL);
    CHECK(a && b && strlen(a) > 16 && strcmp(a, b) == 0, "greedy ids differ between the A72 and the host:\n%s\nvs\n%s",
          a ? a : "", b ? b : "");
    free(a);
    free(b);
    remove(host_out);
}

int main(void)
{
    latent_set_log(NULL, NULL, LATENT_LOG_ERROR);
    const char *path = test_model_path(MODEL_NAME);
    if (!path)
        return test_done();
    const char *build = getenv("LATENT_BUILD"), *runner = getenv("LATENT_RUNNER");
    if (!build || !*build)
        build = "build";
    char out[512];
    const char *dir = getenv("TMPDIR");
    snprintf(out, sizeof out, "%s/latent-smollm-%d.txt", dir && *dir ? dir : "/tmp", (int)getpid());
    check_model(path);
    check_answers(path, build, runner, out);
    if (runner && *runner)
        check_same_as_host(path, build, runner, out);
    remove(out);
    return test_done();
}
