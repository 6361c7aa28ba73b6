/*
 * test_threads.c — one model, several contexts, several threads at once.
 *
 * A model is read-only once loaded, so contexts on it may run in parallel threads. Each
 * thread here generates from its own prompt with its own sampler; the tokens must be
 * exactly those of the same work done one after another. Built with -fsanitize=thread
 * (tests/run.sh tsan), this is also the data-race check.
 */
#include <pthread.h>

#include "harness.h"
#include "latent.h"

#define N_THREADS 4
#define N_TOKENS 48

typedef struct job {
    const latent_model *model;
    int index;
    latent_token out[N_TOKENS];
    int n_out;
    latent_status status;
} job;

static void *work(void *arg)
{
    job *j = arg;
    latent_context *ctx = NULL;
    latent_sampler *s = NULL;
    latent_context_params cp = latent_context_default_params();
    cp.n_threads = 1;
    cp.kv_chunk = 16;
    latent_sampler_params sp = latent_sampler_default_params();
    sp.seed = 1000 + (uint64_t)j->index;
    j->n_out = 0;
    j->status = latent_context_create(j->model, &cp, &ctx);
    if (!j->status)
        j->status = latent_sampler_create(latent_n_vocab(j->model), &sp, &s);
    latent_token tok = latent_token_bos(j->model);
    for (int i = 0; !j->status && i < N_TOKENS; i++) {
        /* each thread starts from a different first token, so their texts differ */
        if (i == 1)
            tok = (latent_token)(300 + j->index * 17);
        if ((j->status = latent_eval(ctx, &tok, 1)))
            break;
        if ((j->status = latent_sampler_sample(s, latent_context_logits(ctx), &tok)))
            break;
        j->out[j->n_out++] = tok;
    }
    latent_sampler_free(s);
    latent_context_free(ctx);
    return NULL;
}

int main(void)
{
    const char *path = test_data_path("models/stories260K.gguf");
    if (!path)
        return test_done();
    latent_model *m = NULL;
    CHECK(latent_model_load(path, NULL, &m) == LATENT_OK, "load: %s", latent_last_error());
    if (!m)
        return test_done();
    job serial[N_THREADS], parallel[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        serial[i] = (job){.model = m, .index = i};
        work(&serial[i]);
        parallel[i] = (job){.model = m, .index = i};
    }
    pthread_t th[N_THREADS];
    int started = 0;
    for (int i = 0; i < N_THREADS; i++)
        started += pthread_create(&th[i], NULL, work, &parallel[i]) == 0;
    CHECK(started == N_THREADS, "started %d threads", started);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    int distinct = 0;
    for (int i = 0; i < N_THREADS; i++) {
        CHECK(serial[i].status == LATENT_OK && parallel[i].status == LATENT_OK, "thread %d: %s / %s", i,
              latent_status_str(serial[i].status), latent_status_str(parallel[i].status));
        CHECK(serial[i].n_out == N_TOKENS && parallel[i].n_out == N_TOKENS &&
                  memcmp(serial[i].out, parallel[i].out, sizeof serial[i].out) == 0,
              "thread %d: parallel tokens differ from serial", i);
        distinct += i > 0 && memcmp(serial[i].out, serial[0].out, sizeof serial[0].out) != 0;
    }
    CHECK(distinct == N_THREADS - 1, "the threads' texts should differ (%d of %d do)", distinct, N_THREADS - 1);
    latent_model_free(m);
    return test_done();
}
