/*
 * fuzz_gguf.c — libFuzzer target for the GGUF parser: any bytes in, a status out, never
 * a crash, a hang or a read outside the buffer. When a file parses, every getter is
 * exercised on every entry, since a view that parses must also be safe to read.
 */
#include <stddef.h>
#include <stdint.h>

#include "latent_gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    latent_gguf *g = NULL;
    if (latent_gguf_parse(data, size, &g) != LATENT_OK)
        return 0;
    for (int64_t i = 0; i < latent_gguf_n_kv(g); i++) {
        uint64_t n = latent_gguf_kv_count(g, i);
        for (uint64_t j = 0; j < n && j < 16; j++) {
            int64_t v;
            uint64_t u;
            double d;
            latent_str s;
            latent_gguf_kv_int(g, i, j, &v);
            latent_gguf_kv_uint(g, i, j, &u);
            latent_gguf_kv_float(g, i, j, &d);
            if (latent_gguf_kv_str(g, i, j, &s) == LATENT_OK && s.len)
                v = ((const volatile char *)s.ptr)[s.len - 1];
        }
        latent_gguf_find_key(g, latent_gguf_kv_key(g, i));
    }
    for (int64_t i = 0; i < latent_gguf_n_tensors(g); i++) {
        const latent_gguf_tensor *t = latent_gguf_tensor_at(g, i);
        if (t->size)
            (void)((const volatile uint8_t *)t->data)[t->size - 1];
        latent_gguf_find_tensor(g, t->name);
    }
    latent_gguf_free(g);
    return 0;
}
