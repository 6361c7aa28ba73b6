/*
 * minimal — the shortest complete use of liblatent: load a model, stream a completion.
 *
 *     cc minimal.c $(pkg-config --cflags --libs latent) -o minimal
 *     ./minimal MODEL.gguf "Once upon a time"
 */
#include <stdio.h>
#include <string.h>

#include <latent.h>

static int print_piece(const char *text, size_t len, latent_token token, void *user)
{
    (void)token, (void)user;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0; /* nonzero would stop the generation */
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: minimal MODEL.gguf PROMPT\n");
        return 1;
    }
    latent_generate_params gp = latent_generate_default_params();
    gp.prompt = argv[2];
    gp.prompt_len = strlen(argv[2]);
    gp.max_tokens = 64;
    gp.on_piece = print_piece;
    latent_model *model = NULL;
    latent_context *ctx = NULL;
    latent_sampler *sampler = NULL;
    latent_status st = latent_model_load(argv[1], NULL, &model);
    if (st == LATENT_OK)
        st = latent_context_create(model, NULL, &ctx);
    if (st == LATENT_OK)
        st = latent_sampler_create(latent_n_vocab(model), NULL, &sampler);
    if (st == LATENT_OK)
        st = latent_generate(ctx, sampler, &gp, NULL);
    printf("\n");
    if (st != LATENT_OK)
        fprintf(stderr, "minimal: %s: %s\n", latent_status_str(st), latent_last_error());
    latent_sampler_free(sampler);
    latent_context_free(ctx);
    latent_model_free(model);
    return st == LATENT_OK ? 0 : 1;
}
