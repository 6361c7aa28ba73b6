/*
 * quantize — rewrites a GGUF model with its weights in another type.
 *
 *     build/quantize IN.gguf OUT.gguf TYPE [--pure] [--allow-requantize] [--verbose]
 *
 * TYPE: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k q4_k_m q5_k_m.
 * Without --pure each tensor's type follows what llama.cpp's llama-quantize gives under
 * the same name (see latent_quantize_file in latent.h); --pure gives every 2-D weight
 * the same type. The end is one summary on stderr (tensors per type, size before and
 * after); --verbose adds a line per tensor.
 *
 * A model whose weights are already quantized is refused: quantizing it again rounds
 * twice, and the result is worse than quantizing the original once. --allow-requantize
 * does it anyway.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "latent_gguf.h"

#define USAGE "usage: quantize IN.gguf OUT.gguf TYPE [--pure] [--allow-requantize] [--verbose]; " \
              "TYPE is f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k q4_k_m q5_k_m"

enum { N_TYPE_SLOTS = 64 };

typedef struct tally {
    int verbose;
    int64_t per_type[N_TYPE_SLOTS]; /* tensors written in each type */
} tally;

static void progress(const char *tensor, int64_t i, int64_t n, uint32_t from, uint32_t to, void *user)
{
    tally *t = user;
    if (to < N_TYPE_SLOTS)
        t->per_type[to]++;
    if (t->verbose)
        fprintf(stderr, "quantize: [%3lld/%lld] %-36s %-5s -> %s\n", (long long)i + 1, (long long)n, tensor,
                latent_type_name(from), latent_type_name(to));
}

static void log_line(latent_log_level level, const char *message, void *user)
{
    (void)user;
    fprintf(stderr, "quantize: %s%s\n", level <= LATENT_LOG_WARN ? "warning: " : "", message);
}

static int is_float_type(uint32_t t)
{
    return t == LATENT_TYPE_F32 || t == LATENT_TYPE_F16 || t == LATENT_TYPE_BF16;
}

/* The quantized type holding most of the file's weight bytes, or -1 when every weight is
 * a float. Prints the error and returns -2 when the file cannot be read. */
static int quantized_type(const char *path)
{
    latent_gguf *g = NULL;
    if (latent_gguf_open(path, &g) != LATENT_OK) {
        cli_error("%s", latent_last_error());
        return -2;
    }
    uint64_t bytes[N_TYPE_SLOTS] = {0};
    for (int64_t i = 0; i < latent_gguf_n_tensors(g); i++) {
        const latent_gguf_tensor *t = latent_gguf_tensor_at(g, i);
        if (!is_float_type(t->type) && t->type < N_TYPE_SLOTS) /* others: the library refuses them */
            bytes[t->type] += t->size;
    }
    latent_gguf_free(g);
    int most = -1;
    for (int k = 0; k < N_TYPE_SLOTS; k++)
        if (bytes[k] && (most < 0 || bytes[k] > bytes[most]))
            most = k;
    return most;
}

static double file_mib(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (double)st.st_size / 1048576.0 : 0;
}

static void print_summary(const char *in, const char *out, const char *preset, const tally *t, double seconds)
{
    char types[512] = "";
    size_t at = 0;
    for (uint32_t k = 0; k < N_TYPE_SLOTS && at < sizeof types; k++)
        if (t->per_type[k])
            at += (size_t)snprintf(types + at, sizeof types - at, "%s%lld %s", at ? ", " : "",
                                   (long long)t->per_type[k], latent_type_name(k));
    fprintf(stderr, "quantize: wrote %s (%s) in %.2f s: %.1f MiB -> %.1f MiB; tensors: %s\n", out, preset,
            seconds, file_mib(in), file_mib(out), types);
}

int main(int argc, char **argv)
{
    cli_program = "quantize";
    const char *args[3];
    int n_args = 0, allow_requantize = 0;
    tally t = {0};
    latent_quantize_params qp = latent_quantize_default_params();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--pure")) {
            qp.pure = 1;
        } else if (!strcmp(argv[i], "--allow-requantize")) {
            allow_requantize = 1;
        } else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
            t.verbose = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("%s\n", USAGE);
            return 0;
        } else if (argv[i][0] == '-' || n_args == 3) {
            cli_error("unexpected argument '%s' (%s)", argv[i], USAGE);
            return 1;
        } else {
            args[n_args++] = argv[i];
        }
    }
    if (n_args != 3) {
        cli_error("expected three arguments (%s)", USAGE);
        return 1;
    }
    int already = quantized_type(args[0]);
    if (already == -2)
        return 1;
    if (already >= 0 && !allow_requantize) {
        cli_error("%s is already quantized (%s): quantizing it again rounds twice; start from the f32, f16 "
                  "or bf16 original, or pass --allow-requantize", args[0], latent_type_name((uint32_t)already));
        return 1;
    }
    qp.progress = progress;
    qp.user = &t;
    latent_set_log(log_line, NULL, LATENT_LOG_INFO);
    double t0 = cli_now();
    if (latent_quantize_file(args[0], args[1], args[2], &qp) != LATENT_OK) {
        cli_error("%s", latent_last_error());
        return 1;
    }
    print_summary(args[0], args[1], args[2], &t, cli_now() - t0);
    return 0;
}
