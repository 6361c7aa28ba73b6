/*
 * test_endian.c — which byte order this host has, and what that means for GGUF files.
 *
 * GGUF is little-endian. On a little-endian host the files load; on a big-endian host
 * (s390x, powerpc under qemu) every GGUF is refused with LATENT_EUNSUPPORTED and a
 * message that says why, rather than read as garbage. This test shows which, on the
 * host it runs on.
 */
#include <stdint.h>

#include "harness.h"
#include "latent_gguf.h"

int main(void)
{
    const uint16_t probe = 1;
    int little = *(const uint8_t *)&probe == 1;
    printf("this host is %s-endian\n", little ? "little" : "big");
    const char *path = test_data_path("models/stories260K.gguf");
    if (!path)
        return test_done();
    latent_set_log(NULL, NULL, LATENT_LOG_ERROR);
    latent_gguf *g = NULL;
    latent_status st = latent_gguf_open(path, &g);
    latent_model *m = NULL;
    latent_status mst = latent_model_load(path, NULL, &m);
    if (little) {
        CHECK(st == LATENT_OK && g, "little-endian host: %s", latent_last_error());
        CHECK(mst == LATENT_OK && m, "little-endian host: model: %s", latent_last_error());
    } else {
        CHECK(st == LATENT_EUNSUPPORTED && !g, "big-endian host: %s", latent_status_str(st));
        CHECK(mst == LATENT_EUNSUPPORTED && !m, "big-endian host: model: %s", latent_status_str(mst));
        CHECK(strstr(latent_last_error(), "big-endian") != NULL, "the message says why: %s", latent_last_error());
        printf("refused as expected: %s\n", latent_last_error());
    }
    latent_model_free(m);
    latent_gguf_free(g);
    return test_done();
}
