/*
 * quantize — rewrites a GGUF model with its weights in another type.
 *
 *     build/quantize IN.gguf OUT.gguf TYPE [--pure]
 *
 * TYPE: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k q4_k_m q5_k_m.
 * Without --pure each tensor's type follows what llama.cpp's llama-quantize gives under
 * the same name (see latent_quantize_file in latent.h); --pure gives every 2-D weight
 * the same type. The types chosen are printed per tensor on stderr.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "latent_gguf.h"

#define USAGE "usage: quantize IN.gguf OUT.gguf TYPE [--pure]\n" \
              "types: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k q4_k_m q5_k_m\n"


static void progress(const char *tensor, int64_t i, int64_t n, uint32_t from, uint32_t to, void *user)
{
    (void)user;
    fprintf(stderr, "quantize: [%3lld/%lld] %-36s %-5s -> %s\n", (long long)i + 1, (long long)n, tensor,
            latent_type_name(from), latent_type_name(to));
}

/* Fallbacks (rows that are not whole blocks) are logged by the library at INFO. */
static void log_line(latent_log_level level, const char *message, void *user)
{
    (void)user;
    fprintf(stderr, "quantize: %s%s\n", level <= LATENT_LOG_WARN ? "warning: " : "", message);
}

int main(int argc, char **argv)
{
    cli_program = "quantize";
    const char *args[3];
    int n_args = 0;
    latent_quantize_params qp = latent_quantize_default_params();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--pure")) {
            qp.pure = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf(USAGE);
            return 0;
        } else if (argv[i][0] == '-' || n_args == 3) {
            cli_error("unexpected argument '%s'\n" USAGE, argv[i]);
            return 1;
        } else {
            args[n_args++] = argv[i];
        }
    }
    if (n_args != 3) {
        cli_error("expected three arguments\n" USAGE);
        return 1;
    }
    qp.progress = progress;
    latent_set_log(log_line, NULL, LATENT_LOG_INFO);
    double t0 = cli_now();
    if (latent_quantize_file(args[0], args[1], args[2], &qp) != LATENT_OK) {
        cli_error("%s", latent_last_error());
        return 1;
    }
    fprintf(stderr, "quantize: wrote %s (%s) in %.2f s\n", args[1], args[2], cli_now() - t0);
    return 0;
}
