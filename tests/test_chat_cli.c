/*
 * test_chat_cli.c — generate as a user drives it: the reference engine's flags, and -i, a
 * conversation through a pipe.
 *
 * The flags are checked against what they promise on stories260K, greedy: -s, -c, -sys,
 * -f (and - for stdin), -r, -b, --verbose-prompt, --version. The conversation: each line is
 * a turn and gets its reply; the second reply is the one a fresh context gives for the
 * whole conversation as one prompt (so the context really kept it, and nothing twice);
 * /reset forgets, /exit and the end of input end it; Ctrl-C stops a reply and the
 * program goes on to the next turn.
 */
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "latent.h"

static const char *model;

static void tmp_path(char *out, size_t cap, const char *name)
{
    const char *dir = getenv("TMPDIR");
    snprintf(out, cap, "%s/latent-chat-%d-%s", dir && *dir ? dir : "/tmp", (int)getpid(), name);
}

/* Runs "generate ARGS" (stdout only, stderr to err when not NULL) and returns its stdout
 * (malloc'd, "" when nothing); *status is system()'s. */
__attribute__((format(printf, 3, 4))) static char *generate(int *status, char **err, const char *fmt, ...)
{
    char args[2048], out[512], errp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    tmp_path(out, sizeof out, "out.txt");
    tmp_path(errp, sizeof errp, "err.txt");
    const char *build = getenv("LATENT_BUILD"), *runner = getenv("LATENT_RUNNER");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s/generate -m %s %s > %s 2> %s", runner ? runner : "",
             build && *build ? build : "build", model, args, out, errp);
    *status = system(cmd);
    char *text = test_read_file(out, NULL);
    if (err) {
        *err = test_read_file(errp, NULL);
        if (!*err)
            *err = calloc(1, 1);
    }
    remove(out);
    remove(errp);
    return text ? text : calloc(1, 1);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

#define GREEDY "--temp 0 -t 1 --kv-type f32"

/* ============================================================================
 * Flags
 * ========================================================================== */

static void check_seed(void)
{
    int rc1, rc2, rc3, rc4;
    char *a = generate(&rc1, NULL, "-p 'Once upon a time' -n 40 -t 1 -s 5");
    char *b = generate(&rc2, NULL, "-p 'Once upon a time' -n 40 -t 1 --seed 5");
    char *c = generate(&rc3, NULL, "-p 'Once upon a time' -n 40 -t 1 -s -1");
    char *d = generate(&rc4, NULL, "-p 'Once upon a time' -n 40 -t 1 -s -1");
    CHECK(!rc1 && !rc2 && strlen(a) > 20 && !strcmp(a, b), "-s 5 and --seed 5 sample the same:\n%s\n%s", a, b);
    CHECK(!rc3 && !rc4 && strcmp(c, d) != 0, "-s -1 twice: two different seeds, yet the same text:\n%s", c);
    free(a), free(b), free(c), free(d);
}

static void check_ctx_size(void)
{
    int rc;
    char *err;
    /* the prompt is 5 tokens (BOS, Once, upon, a, time): 12 leave room for 7 */
    char *ids = generate(&rc, &err, "-p 'Once upon a time' -n 100 --ids -c 12 " GREEDY);
    CHECK(rc == 0 && count_lines(ids) == 7 && strstr(err, "full"), "-c 12: %d tokens generated (%s)", count_lines(ids),
          err);
    free(ids), free(err);
    ids = generate(&rc, &err, "-p 'Once upon a time' -n 100 --ids --ctx-size 4 " GREEDY);
    CHECK(rc != 0 && strstr(err, "--ctx-size 4"), "a prompt longer than -c 4: status %d, %s", rc, err);
    free(ids), free(err);
}

/* With no chat template (stories260K) the system message and the prompt are one text. */
static void check_system(void)
{
    int rc0, rc1, rc2, rc3;
    char *plain = generate(&rc0, NULL, "-p 'Once upon a time' -n 24 " GREEDY);
    char *a = generate(&rc1, NULL, "-sys 'Once upon' -p ' a time' -n 24 " GREEDY);
    char *b = generate(&rc2, NULL, "--system-prompt 'Once upon' -p ' a time' -n 24 " GREEDY);
    char *c = generate(&rc3, NULL, "--system 'Once upon' -p ' a time' -n 24 " GREEDY);
    CHECK(!rc0 && !rc1 && !rc2 && !rc3 && strlen(plain) > 20 && !strcmp(plain, a) && !strcmp(a, b) && !strcmp(b, c),
          "-sys, --system-prompt, --system: the system text before the prompt:\n%s\n%s\n%s\n%s", plain, a, b, c);
    free(plain), free(a), free(b), free(c);
}

static void check_file(void)
{
    char path[512];
    tmp_path(path, sizeof path, "prompt.txt");
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    fputs("Once upon a time\n", f); /* the newline an editor adds is not part of the prompt */
    fclose(f);
    int rc0, rc1, rc2;
    char *plain = generate(&rc0, NULL, "-p 'Once upon a time' -n 24 " GREEDY);
    char *file = generate(&rc1, NULL, "-f %s -n 24 " GREEDY, path);
    char *in = generate(&rc2, NULL, "-f - -n 24 " GREEDY " < %s", path);
    CHECK(!rc0 && !rc1 && !rc2 && strlen(plain) > 20 && !strcmp(plain, file) && !strcmp(file, in),
          "-p, -f FILE and -f - give the same text:\n%s\n%s\n%s", plain, file, in);
    free(plain), free(file), free(in);
    remove(path);
}

/* -r: the text stops just before the stop text, which is not printed. */
static void check_stop(void)
{
    int rc0, rc1, rc2;
    char *plain = generate(&rc0, NULL, "-p 'Once upon a time' -n 40 " GREEDY);
    char *a = generate(&rc1, NULL, "-p 'Once upon a time' -n 40 -r 'named' " GREEDY);
    char *b = generate(&rc2, NULL, "-p 'Once upon a time' -n 40 --stop 'park' --reverse-prompt 'little' " GREEDY);
    const char *named = strstr(plain, "named"), *little = strstr(plain, "little");
    CHECK(!rc0 && !rc1 && named && strlen(a) == (size_t)(named - plain) + 1 && !strncmp(a, plain, strlen(a) - 1) &&
              a[strlen(a) - 1] == '\n', "-r named:\n%s\nout of\n%s", a, plain);
    CHECK(!rc2 && little && strlen(b) == (size_t)(little - plain) + 1 && !strncmp(b, plain, strlen(b) - 1),
          "two stop texts, the first met ends it:\n%s\nout of\n%s", b, plain);
    free(plain), free(a), free(b);
}

static void check_other_flags(void)
{
    int rc, rc1;
    char *err;
    char *a = generate(&rc, NULL, "-p 'Once upon a time there was a dog' -n 24 -b 1 " GREEDY);
    char *b = generate(&rc1, NULL, "-p 'Once upon a time there was a dog' -n 24 --batch-size 64 " GREEDY);
    CHECK(!rc && !rc1 && strlen(a) > 20 && !strcmp(a, b), "-b 1 and --batch-size 64: same text\n%s\n%s", a, b);
    free(a), free(b);
    a = generate(&rc, &err, "-p 'Once upon a time' -n 4 --verbose-prompt " GREEDY);
    CHECK(!rc && strstr(err, "5 tokens in the prompt") && strstr(err, "403 -> ' Once'"), "--verbose-prompt: %s", err);
    free(a), free(err);
    a = generate(&rc, NULL, "--version");
    CHECK(!rc && !strncmp(a, "generate (liblatent ", 20), "--version: %s", a);
    free(a);
}

/* ============================================================================
 * The conversation
 * ========================================================================== */

static void check_conversation(void)
{
    char in[512];
    tmp_path(in, sizeof in, "turns.txt");
    FILE *f = fopen(in, "w");
    if (!f)
        return;
    fputs("Once upon a time\nLily saw a cat\n/exit\nnever read\n", f);
    fclose(f);
    int rc;
    char *err;
    char *out = generate(&rc, &err, "-i -n 12 " GREEDY " < %s", in);
    char reply1[512] = "", reply2[512] = "";
    const char *nl = strchr(out, '\n');
    if (nl && (size_t)(nl - out) < sizeof reply1) {
        memcpy(reply1, out, (size_t)(nl - out));
        reply1[nl - out] = 0;
        snprintf(reply2, sizeof reply2, "%s", nl + 1);
    }
    CHECK(rc == 0 && count_lines(out) == 2 && strlen(reply1) > 10, "two turns, two replies, /exit: status %d\n%s%s",
          rc, out, err);
    free(err);

    /* the second reply is what a fresh context gives for the whole conversation (no
     * template: the turns are one text; each line begins with a space, as a prompt does) */
    int rc2;
    char *whole = generate(&rc2, NULL, "-p 'Once upon a time%s Lily saw a cat' -n 12 " GREEDY, reply1);
    CHECK(rc2 == 0 && strlen(whole) > 5 && !strcmp(reply2, whole), "the second reply\n%s\nalone\n%s", reply2, whole);
    free(whole);

    /* /reset: the same line after it gets the first reply again; the end of input ends */
    f = fopen(in, "w");
    if (f) {
        fputs("Once upon a time\n/reset\nOnce upon a time\n", f);
        fclose(f);
        char *again = generate(&rc, NULL, "-i -n 12 " GREEDY " < %s", in);
        char expect[1100];
        snprintf(expect, sizeof expect, "%s\n%s\n", reply1, reply1);
        CHECK(rc == 0 && !strcmp(again, expect), "/reset forgets:\n%s", again);
        free(again);
    }
    free(out);
    remove(in);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) + 1e-9 * (double)(now.tv_nsec - t0->tv_nsec);
}

/* Reads what the child writes until `want` bytes came (want 0: until its end of output),
 * waiting at most `seconds`. Returns 1 when it got what it waited for. */
static int read_until(int fd, size_t want, double seconds)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t got = 0;
    char buf[4096];
    while (seconds_since(&t0) < seconds) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return want == 0;
        got += (size_t)n;
        if (want && got >= want)
            return 1;
    }
    return 0;
}

static int wait_exit(pid_t pid, int *status, double seconds)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (seconds_since(&t0) < seconds) {
        if (waitpid(pid, status, WNOHANG) == pid)
            return 1;
        usleep(20000);
    }
    return 0;
}

/* Ctrl-C in the middle of a reply that would otherwise run until memory is full: the
 * reply stops, the next turn is read, /exit ends with status 0. */
static void check_interrupt(void)
{
    int to_child[2], from_child[2];
    if (pipe(to_child) || pipe(from_child))
        return;
    const char *build = getenv("LATENT_BUILD"), *runner = getenv("LATENT_RUNNER");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "exec %s %s/generate -m %s -i -n -1 --mem-budget 256M -t 1 --temp 0 2>/dev/null",
             runner ? runner : "", build && *build ? build : "build", model);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(to_child[0], 0);
        dup2(from_child[1], 1);
        close(to_child[1]);
        close(from_child[0]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    const char *turn = "Once upon a time\n";
    CHECK(write(to_child[1], turn, strlen(turn)) == (ssize_t)strlen(turn), "writing the turn");
    CHECK(read_until(from_child[0], 16, 120), "no reply began within two minutes");
    kill(pid, SIGINT);
    const char *bye = "/exit\n";
    CHECK(write(to_child[1], bye, strlen(bye)) == (ssize_t)strlen(bye), "writing /exit");
    close(to_child[1]);
    /* the rest of the interrupted reply, then the end of output when the program ends: far
     * sooner than the reply would have filled 256 MB */
    int status = 0;
    int ended = read_until(from_child[0], 0, 120) && wait_exit(pid, &status, 30);
    if (!ended) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    CHECK(ended, "Ctrl-C did not end the reply: the program ran on");
    CHECK(ended && WIFEXITED(status) && WEXITSTATUS(status) == 0, "after Ctrl-C and /exit: %s %d",
          WIFSIGNALED(status) ? "killed by signal" : "exit status",
          WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    close(from_child[0]);
}

/* Greedy reply (at most n tokens, f32 cache, one thread) of a fresh context to the
 * messages in the model's template; into out. */
static void fresh_reply(latent_model *m, const latent_chat_message *msgs, size_t n_msgs, int n, char *out,
                        size_t cap)
{
    out[0] = 0;
    char text[4096];
    size_t len = 0, n_toks = 0, o = 0;
    latent_token toks[1024];
    latent_context_params cp = latent_context_default_params();
    cp.kv_type = LATENT_TYPE_F32;
    cp.n_threads = 1;
    latent_context *ctx = NULL;
    latent_decoder *dec = NULL;
    if (latent_chat_format(latent_model_chat_template(m), msgs, n_msgs, 1, text, sizeof text, &len) != LATENT_OK ||
        latent_tokenize(m, text, len, LATENT_TOKENIZE_ADD_BOS | LATENT_TOKENIZE_SPECIAL, toks, 1024, &n_toks) ||
        latent_context_create(m, &cp, &ctx) || latent_decoder_create(m, &dec) || latent_eval(ctx, toks, n_toks)) {
        CHECK(0, "the fresh context: %s", latent_last_error());
        latent_context_free(ctx);
        latent_decoder_free(dec);
        return;
    }
    for (int i = 0; i < n; i++) {
        const float *l = latent_context_logits(ctx);
        latent_token best = 0;
        for (latent_token k = 1; k < latent_n_vocab(m); k++)
            best = l[k] > l[best] ? k : best;
        if (latent_token_is_end(m, best))
            break;
        size_t got = 0;
        if (latent_decoder_push(dec, best, out + o, cap - o - 1, &got) == LATENT_OK)
            o += got;
        if (i + 1 < n && latent_eval(ctx, &best, 1) != LATENT_OK)
            break;
    }
    size_t got = 0;
    if (latent_decoder_flush(dec, out + o, cap - o - 1, &got) == LATENT_OK)
        o += got;
    out[o] = 0;
    latent_decoder_free(dec);
    latent_context_free(ctx);
}

/* A model with a chat template (ChatML): each reply is the fresh context's reply to the
 * conversation so far, so the second turn added only its own tokens to what was there. */
static void check_template_conversation(void)
{
    const char *smol = test_model_path("SmolLM2-135M-Instruct.Q4_1.gguf");
    if (!smol)
        return;
    char in[512];
    tmp_path(in, sizeof in, "smol-turns.txt");
    FILE *f = fopen(in, "w");
    if (!f)
        return;
    fputs("What is the capital of France?\nAnd of Italy?\n", f);
    fclose(f);
    const char *saved = model;
    model = smol;
    int rc;
    char *out = generate(&rc, NULL, "-i -sys 'You are brief.' -n 24 " GREEDY " < %s", in);
    model = saved;
    remove(in);
    char reply1[1024] = "", reply2[1024] = "";
    const char *nl = strchr(out, '\n');
    if (nl && (size_t)(nl - out) < sizeof reply1) {
        memcpy(reply1, out, (size_t)(nl - out));
        reply1[nl - out] = 0;
        snprintf(reply2, sizeof reply2, "%s", nl + 1);
        if (*reply2)
            reply2[strlen(reply2) - 1] = 0;
    }
    CHECK(rc == 0 && count_lines(out) == 2, "two ChatML turns: status %d\n%s", rc, out);
    free(out);
    latent_model *m = NULL;
    if (latent_model_load(smol, NULL, &m) != LATENT_OK) {
        CHECK(0, "%s", latent_last_error());
        return;
    }
    latent_chat_message msgs[4] = {{"system", "You are brief."}, {"user", "What is the capital of France?"},
                                   {"assistant", reply1}, {"user", "And of Italy?"}};
    char want[1024];
    fresh_reply(m, msgs, 2, 24, want, sizeof want);
    CHECK(strlen(want) > 0 && !strcmp(reply1, want), "first reply\n%s\nfresh\n%s", reply1, want);
    fresh_reply(m, msgs, 4, 24, want, sizeof want);
    CHECK(strlen(want) > 0 && !strcmp(reply2, want), "second reply\n%s\nfresh, the whole conversation\n%s", reply2,
          want);
    latent_model_free(m);
}

/* Called through a link named latent-chat, generate starts in -i. */
static void check_chat_name(void)
{
    const char *build = getenv("LATENT_BUILD"), *runner = getenv("LATENT_RUNNER");
    char target[4096], link[512], in[512], out[512], cmd[8192];
    snprintf(cmd, sizeof cmd, "%s/generate", build && *build ? build : "build");
    if (!realpath(cmd, target)) {
        CHECK(0, "no %s", cmd);
        return;
    }
    tmp_path(link, sizeof link, "latent-chat");
    tmp_path(in, sizeof in, "chat-in.txt");
    tmp_path(out, sizeof out, "chat-out.txt");
    remove(link);
    FILE *f = fopen(in, "w");
    if (symlink(target, link) != 0 || !f) {
        CHECK(0, "cannot make the link %s", link);
        if (f)
            fclose(f);
        return;
    }
    fputs("Once upon a time\nLily saw a cat\n", f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s %s -m %s -n 12 " GREEDY " < %s > %s 2>/dev/null", runner ? runner : "", link, model,
             in, out);
    int rc = system(cmd), rc2;
    char *via_link = test_read_file(out, NULL);
    char *via_i = generate(&rc2, NULL, "-i -n 12 " GREEDY " < %s", in);
    CHECK(rc == 0 && rc2 == 0 && via_link && count_lines(via_link) == 2 && !strcmp(via_link, via_i),
          "latent-chat is generate -i:\n%s\n%s", via_link ? via_link : "", via_i);
    free(via_link);
    free(via_i);
    remove(link);
    remove(in);
    remove(out);
}

int main(void)
{
    model = test_data_path("models/stories260K.gguf");
    if (!model)
        return test_done();
    check_seed();
    check_ctx_size();
    check_system();
    check_file();
    check_stop();
    check_other_flags();
    check_conversation();
    check_interrupt();
    check_chat_name();
    check_template_conversation();
    return test_done();
}
