/*
 * http.h — the server's HTTP/1.1: a request-head parser on (ptr, size) and the pieces of
 * a response. It knows nothing of sockets: the server reads bytes, asks the parser
 * whether the head is complete, then reads Content-Length bytes of body.
 *
 * What it accepts is deliberately narrow: origin-form targets, HTTP/1.0 and 1.1, a body
 * only by Content-Length (no chunked uploads; a request with Transfer-Encoding is
 * refused with 501 rather than misread, which is what request smuggling feeds on).
 */
#ifndef LATENT_SERVER_HTTP_H
#define LATENT_SERVER_HTTP_H

#include <stddef.h>

#define HTTP_MAX_HEADERS 64

typedef struct http_header {
    const char *name, *value; /* inside the caller's buffer, not NUL-terminated */
    size_t name_len, value_len;
} http_header;

typedef struct http_request {
    const char *method, *target; /* inside the caller's buffer, not NUL-terminated */
    size_t method_len, target_len;
    int minor_version;           /* HTTP/1.x */
    http_header headers[HTTP_MAX_HEADERS];
    size_t n_headers;
    size_t head_len;             /* bytes of request line and headers, final blank line included */
    size_t content_length;       /* 0 when absent */
    int keep_alive;              /* the connection may carry another request after this one */
    int expect_continue;         /* "Expect: 100-continue" */
} http_request;

enum {
    HTTP_INCOMPLETE = 0, /* the head has not ended yet: read more */
};

/* Parses the request head at the start of buf (len bytes). Returns HTTP_INCOMPLETE when
 * the blank line ending the head has not arrived, else an HTTP status: 200 when the head
 * is well formed (*req filled), or the status to refuse it with (400 malformed, 431 too
 * many headers, 501 Transfer-Encoding, 505 not HTTP/1.x, 413 a Content-Length above
 * max_body). `why` (cap bytes) receives a sentence for the error. */
int http_parse_request(const char *buf, size_t len, size_t max_body, http_request *req, char *why,
                       size_t cap);

/* The value of header `name` (case-insensitive), or NULL; *len its length. */
const char *http_header_value(const http_request *req, const char *name, size_t *len);

/* 1 when the method is exactly `m`; 1 when the target's path (before any '?') is `path`. */
int http_method_is(const http_request *req, const char *m);
int http_path_is(const http_request *req, const char *path);

/* "OK", "Bad Request", ... for the statuses the server sends; "Error" otherwise. */
const char *http_reason(int status);

/* Compares a presented secret with the expected one in time that depends only on their
 * lengths, never on where they first differ. 1 when equal. */
int http_secret_equal(const char *given, size_t given_len, const char *expected, size_t expected_len);

#endif
