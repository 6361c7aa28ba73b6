/*
 * dry-cost — a sampler with a long memory, for counting what DRY costs per sample.
 *
 *     build/dry-cost VOCAB TOKENS [loop|same] [DRY_MULTIPLIER]
 *
 * Fills a sampler's memory with TOKENS tokens (a history looping every 97 tokens, or one
 * token over and over: the worst case of the direct search DRY replaces), then draws ten
 * tokens from fixed logits. Run it under `valgrind --tool=callgrind` with the multiplier
 * 0 and 0.8: the difference in latent_sampler_sample's inclusive count, over ten, is
 * DRY's cost per sample (bench/README.md, "Repetition").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "latent.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: dry-cost VOCAB TOKENS [loop|same] [DRY_MULTIPLIER]\n");
        return 1;
    }
    int n_vocab = atoi(argv[1]), n_tokens = atoi(argv[2]);
    int same = argc > 3 && !strcmp(argv[3], "same");
    latent_sampler_params p = latent_sampler_default_params();
    p.dry_multiplier = argc > 4 ? (float)atof(argv[4]) : 0.8f;
    p.dry_penalty_last_n = -1;
    float *logits = malloc((n_vocab > 0 ? (size_t)n_vocab : 1) * sizeof *logits);
    latent_sampler *s = NULL;
    if (!logits || n_vocab < 5000 || n_tokens < 0 || latent_sampler_create(n_vocab, &p, &s) != LATENT_OK) {
        fprintf(stderr, "dry-cost: %s\n", logits ? "VOCAB >= 5000, TOKENS >= 0, multiplier >= 0" : "no memory");
        free(logits);
        return 1;
    }
    uint32_t x = 1;
    for (int i = 0; i < n_vocab; i++) { /* fixed, spread logits: a realistic candidate set */
        x = x * 1103515245u + 12345u;
        logits[i] = (float)((x >> 8) & 0xffff) / 6553.6f;
    }
    for (int i = 0; i < n_tokens; i++)
        latent_sampler_accept(s, same ? 7 : (latent_token)((unsigned)(i % 97) * 1009u % 5000u));
    latent_token t = 0;
    for (int i = 0; i < 10; i++)
        latent_sampler_sample(s, logits, &t);
    printf("%d\n", (int)t);
    latent_sampler_free(s);
    free(logits);
    return 0;
}
