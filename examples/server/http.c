/*
 * http.c — see http.h. The grammar is RFC 9112's, read strictly where leniency has let
 * two parsers disagree about one message (header names, Content-Length, obs-fold) and
 * leniently only about line ends (a bare LF ends a line, as most servers allow).
 */
#include "http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 4, 5))) static int refuse(int status, char *why, size_t cap,
                                                        const char *fmt, ...)
{
    if (why && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, cap, fmt, ap);
        va_end(ap);
    }
    return status;
}

/* RFC 9110 tchar: what a method or a header name may be made of. */
static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int equal_nocase(const char *a, size_t n, const char *b)
{
    size_t m = strlen(b);
    if (n != m)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* 1 when the comma-separated list `v` holds the token `tok` (case-insensitive). */
static int list_has(const char *v, size_t n, const char *tok)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end > start && equal_nocase(v + start, end - start, tok))
            return 1;
    }
    return 0;
}

/* Where the line starting at p ends (its '\n'), or NULL when it has not arrived. */
static const char *line_end(const char *p, const char *end)
{
    return memchr(p, '\n', (size_t)(end - p));
}

static int parse_request_line(const char *p, const char *eol, http_request *req, char *why, size_t cap)
{
    const char *q = p;
    while (q < eol && is_tchar((unsigned char)*q))
        q++;
    if (q == p || q >= eol || *q != ' ')
        return refuse(400, why, cap, "malformed request line (method)");
    req->method = p;
    req->method_len = (size_t)(q - p);
    p = q + 1;
    q = p;
    while (q < eol && (unsigned char)*q > ' ' && (unsigned char)*q < 0x7f)
        q++;
    if (q == p || q >= eol || *q != ' ')
        return refuse(400, why, cap, "malformed request line (target)");
    if (*p != '/' && !(q - p == 1 && *p == '*'))
        return refuse(400, why, cap, "the request target must be a path starting with '/'");
    req->target = p;
    req->target_len = (size_t)(q - p);
    p = q + 1;
    size_t rest = (size_t)(eol - p);
    if (rest && p[rest - 1] == '\r')
        rest--;
    if (rest != 8 || memcmp(p, "HTTP/", 5) || p[5] < '0' || p[5] > '9' || p[6] != '.' || p[7] < '0' ||
        p[7] > '9')
        return refuse(400, why, cap, "malformed request line (version)");
    if (p[5] != '1')
        return refuse(505, why, cap, "only HTTP/1.0 and HTTP/1.1 are served");
    req->minor_version = p[7] - '0';
    return 200;
}

/* Content-Length: digits only, no sign, no list; repeated headers must agree. */
static int parse_content_length(const http_header *h, size_t max_body, int *seen, http_request *req,
                                char *why, size_t cap)
{
    if (h->value_len == 0 || h->value_len > 19)
        return refuse(400, why, cap, "bad Content-Length");
    size_t v = 0;
    for (size_t i = 0; i < h->value_len; i++) {
        char c = h->value[i];
        if (c < '0' || c > '9')
            return refuse(400, why, cap, "bad Content-Length");
        v = v * 10 + (size_t)(c - '0');
    }
    if (*seen && v != req->content_length)
        return refuse(400, why, cap, "conflicting Content-Length headers");
    *seen = 1;
    req->content_length = v;
    if (v > max_body)
        return refuse(413, why, cap, "the body is %zu bytes; the limit is %zu", v, max_body);
    return 200;
}

static int parse_header(const char *p, const char *eol, http_request *req, char *why, size_t cap)
{
    if (*p == ' ' || *p == '\t')
        return refuse(400, why, cap, "folded header lines are not accepted");
    const char *colon = p;
    while (colon < eol && is_tchar((unsigned char)*colon))
        colon++;
    if (colon == p || colon >= eol || *colon != ':')
        return refuse(400, why, cap, "malformed header line");
    const char *v = colon + 1, *ve = eol;
    if (ve > v && ve[-1] == '\r')
        ve--;
    while (v < ve && (*v == ' ' || *v == '\t'))
        v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    for (const char *c = v; c < ve; c++)
        if ((unsigned char)*c < 0x20 && *c != '\t')
            return refuse(400, why, cap, "control character in a header value");
    if (req->n_headers == HTTP_MAX_HEADERS)
        return refuse(431, why, cap, "more than %d header lines", HTTP_MAX_HEADERS);
    http_header *h = &req->headers[req->n_headers++];
    h->name = p;
    h->name_len = (size_t)(colon - p);
    h->value = v;
    h->value_len = (size_t)(ve - v);
    return 200;
}

/* What the headers mean for the connection: body length, keep-alive, 100-continue. */
static int interpret_headers(http_request *req, size_t max_body, char *why, size_t cap)
{
    int seen_length = 0, close = 0, keep = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        const http_header *h = &req->headers[i];
        if (equal_nocase(h->name, h->name_len, "content-length")) {
            int st = parse_content_length(h, max_body, &seen_length, req, why, cap);
            if (st != 200)
                return st;
        } else if (equal_nocase(h->name, h->name_len, "transfer-encoding")) {
            return refuse(501, why, cap, "Transfer-Encoding is not supported; send Content-Length");
        } else if (equal_nocase(h->name, h->name_len, "connection")) {
            close |= list_has(h->value, h->value_len, "close");
            keep |= list_has(h->value, h->value_len, "keep-alive");
        } else if (equal_nocase(h->name, h->name_len, "expect")) {
            if (!equal_nocase(h->value, h->value_len, "100-continue"))
                return refuse(417, why, cap, "only 'Expect: 100-continue' is understood");
            req->expect_continue = 1;
        }
    }
    req->keep_alive = !close && (req->minor_version >= 1 || keep);
    return 200;
}

int http_parse_request(const char *buf, size_t len, size_t max_body, http_request *req, char *why,
                       size_t cap)
{
    memset(req, 0, sizeof *req);
    if (why && cap)
        why[0] = 0;
    const char *p = buf, *end = buf + len;
    /* RFC 9112 2.2: ignore empty lines before the request line */
    while (p < end && (*p == '\r' || *p == '\n'))
        p++;
    const char *eol = line_end(p, end);
    if (!eol)
        return HTTP_INCOMPLETE;
    int st = parse_request_line(p, eol, req, why, cap);
    if (st != 200)
        return st;
    for (p = eol + 1;; p = eol + 1) {
        if (!(eol = line_end(p, end)))
            return HTTP_INCOMPLETE;
        if (eol == p || (eol == p + 1 && *p == '\r'))
            break;
        if ((st = parse_header(p, eol, req, why, cap)) != 200)
            return st;
    }
    req->head_len = (size_t)(eol + 1 - buf);
    return interpret_headers(req, max_body, why, cap);
}

const char *http_header_value(const http_request *req, const char *name, size_t *len)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (equal_nocase(req->headers[i].name, req->headers[i].name_len, name)) {
            *len = req->headers[i].value_len;
            return req->headers[i].value;
        }
    return NULL;
}

int http_method_is(const http_request *req, const char *m)
{
    return req->method_len == strlen(m) && !memcmp(req->method, m, req->method_len);
}

int http_path_is(const http_request *req, const char *path)
{
    size_t n = 0;
    while (n < req->target_len && req->target[n] != '?')
        n++;
    return n == strlen(path) && !memcmp(req->target, path, n);
}

const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

int http_secret_equal(const char *given, size_t given_len, const char *expected, size_t expected_len)
{
    /* every byte of `expected` is visited whatever `given` holds; volatile keeps the
     * compiler from turning the loop into an early-exit memcmp */
    volatile unsigned char diff = (unsigned char)(given_len != expected_len);
    for (size_t i = 0; i < expected_len; i++) {
        unsigned char g = given_len ? (unsigned char)given[i % given_len] : 0;
        diff |= (unsigned char)(g ^ (unsigned char)expected[i]);
    }
    return diff == 0;
}
