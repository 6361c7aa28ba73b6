/*
 * json.c — see json.h. The reader builds its nodes in a growing array linked by index
 * (the array moves as it grows), then lays them out once as json_value with pointers.
 * Decoded strings never outgrow their source text, so one buffer of the input's size
 * holds them all.
 */
#include "json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct node {
    json_type type;
    int has_key;
    size_t key_off, key_len; /* into the string buffer */
    size_t str_off, len;
    double num;
    long first, last, next; /* indices; -1 for none */
} node;

struct json_doc {
    json_value *values; /* values[0] is the root */
    char *strings;
};

typedef struct parser {
    const char *start, *p, *end;
    node *nodes;
    size_t n, cap;
    char *strings;
    size_t strings_len;
    char *err;
    size_t errcap;
    int failed;
} parser;

__attribute__((format(printf, 2, 3))) static long fail(parser *ps, const char *fmt, ...)
{
    if (ps->failed)
        return -1;
    ps->failed = 1;
    if (ps->err && ps->errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err, ps->errcap, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static size_t offset(const parser *ps)
{
    return (size_t)(ps->p - ps->start);
}

static void skip_space(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static long new_node(parser *ps, json_type type)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 16;
        node *grown = realloc(ps->nodes, cap * sizeof *grown);
        if (!grown)
            return fail(ps, "out of memory");
        ps->nodes = grown;
        ps->cap = cap;
    }
    node *nd = &ps->nodes[ps->n];
    memset(nd, 0, sizeof *nd);
    nd->type = type;
    nd->first = nd->last = nd->next = -1;
    return (long)ps->n++;
}

static void add_child(parser *ps, long parent, long child)
{
    node *pa = &ps->nodes[parent];
    if (pa->last < 0)
        pa->first = child;
    else
        ps->nodes[pa->last].next = child;
    pa->last = child;
    pa->len++;
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at s (n bytes available): 1-4, 0 when invalid, or
 * -1 when the bytes so far are a valid but unfinished start. */
static int utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    int len;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n)
            return -1;
        unsigned b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
            return 0;
    }
    return len;
}

size_t utf8_complete_prefix(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        int len = utf8_seq((const unsigned char *)s + i, n - i);
        if (len < 0)
            break;
        i += len ? (size_t)len : 1;
    }
    return i;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- reader ---- */

static int hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            v |= (uint32_t)((c | 0x20) - 'a' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* Reads the \u escape after "\u" at ps->p (a pair when it is a high surrogate). */
static int unicode_escape(parser *ps, uint32_t *cp)
{
    if (ps->end - ps->p < 4 || hex4(ps->p, cp))
        return (int)fail(ps, "JSON: bad \\u escape at byte %zu", offset(ps));
    ps->p += 4;
    if (*cp >= 0xD800 && *cp <= 0xDBFF) {
        uint32_t lo;
        if (ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u' && !hex4(ps->p + 2, &lo) &&
            lo >= 0xDC00 && lo <= 0xDFFF) {
            ps->p += 6;
            *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
        } else {
            *cp = 0xFFFD;
        }
    } else if (*cp >= 0xDC00 && *cp <= 0xDFFF) {
        *cp = 0xFFFD;
    }
    return 0;
}

/* Decodes the string at ps->p (just past its opening quote) into the string buffer. */
static int read_string(parser *ps, size_t *off, size_t *len)
{
    char *out = ps->strings + ps->strings_len;
    size_t n = 0;
    while (ps->p < ps->end) {
        unsigned char c = (unsigned char)*ps->p;
        if (c == '"') {
            ps->p++;
            out[n] = 0;
            *off = ps->strings_len;
            *len = n;
            ps->strings_len += n + 1;
            return 0;
        }
        if (c < 0x20)
            return (int)fail(ps, "JSON: control character in a string at byte %zu", offset(ps));
        if (c == '\\') {
            if (ps->end - ps->p < 2)
                break;
            char e = ps->p[1];
            ps->p += 2;
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                static const char decoded[] = "\"\\/\b\f\n\r\t";
                out[n++] = decoded[simple - "\"\\/bfnrt"];
            } else if (e == 'u') {
                uint32_t cp = 0;
                if (unicode_escape(ps, &cp))
                    return -1;
                n += put_utf8(out + n, cp);
            } else {
                return (int)fail(ps, "JSON: bad escape at byte %zu", offset(ps) - 2);
            }
            continue;
        }
        int seq = utf8_seq((const unsigned char *)ps->p, (size_t)(ps->end - ps->p));
        if (seq <= 0)
            return (int)fail(ps, "JSON: invalid UTF-8 at byte %zu", offset(ps));
        memcpy(out + n, ps->p, (size_t)seq);
        n += (size_t)seq;
        ps->p += seq;
    }
    return (int)fail(ps, "JSON: unterminated string at byte %zu", offset(ps));
}

static long read_number(parser *ps)
{
    const char *s = ps->p, *p = s, *end = ps->end;
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (p < end && *p >= '1' && *p <= '9')
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    else
        return fail(ps, "JSON: unexpected %s at byte %zu", p < end ? "character" : "end", (size_t)(p - ps->start));
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9')
            return fail(ps, "JSON: a digit must follow '.' at byte %zu", (size_t)(p - ps->start));
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9')
            return fail(ps, "JSON: a digit must follow the exponent at byte %zu", (size_t)(p - ps->start));
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    char buf[320];
    size_t n = (size_t)(p - s);
    if (n >= sizeof buf)
        return fail(ps, "JSON: number too long at byte %zu", offset(ps));
    memcpy(buf, s, n);
    buf[n] = 0;
    long id = new_node(ps, JSON_NUMBER);
    if (id < 0)
        return -1;
    double v = strtod(buf, NULL);
    if (!isfinite(v))
        return fail(ps, "JSON: number out of range at byte %zu", offset(ps));
    ps->nodes[id].num = v;
    ps->p = p;
    return id;
}

static long read_value(parser *ps, int depth);

/* An array or object; ps->p is just past its opening bracket. */
static long read_container(parser *ps, json_type type, int depth)
{
    char close = type == JSON_ARRAY ? ']' : '}';
    long id = new_node(ps, type);
    if (id < 0)
        return -1;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return id;
    }
    for (;;) {
        size_t key_off = 0, key_len = 0;
        if (type == JSON_OBJECT) {
            skip_space(ps);
            if (ps->p >= ps->end || *ps->p != '"')
                return fail(ps, "JSON: expected a member name at byte %zu", offset(ps));
            ps->p++;
            if (read_string(ps, &key_off, &key_len))
                return -1;
            skip_space(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return fail(ps, "JSON: expected ':' at byte %zu", offset(ps));
            ps->p++;
        }
        long child = read_value(ps, depth + 1);
        if (child < 0)
            return -1;
        if (type == JSON_OBJECT) {
            ps->nodes[child].has_key = 1;
            ps->nodes[child].key_off = key_off;
            ps->nodes[child].key_len = key_len;
        }
        add_child(ps, id, child);
        skip_space(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return id;
        }
        return fail(ps, "JSON: expected ',' or '%c' at byte %zu", close, offset(ps));
    }
}

static long read_literal(parser *ps, const char *word, json_type type)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
        return fail(ps, "JSON: unexpected character at byte %zu", offset(ps));
    ps->p += n;
    return new_node(ps, type);
}

static long read_value(parser *ps, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return fail(ps, "JSON: nested deeper than %d at byte %zu", JSON_MAX_DEPTH, offset(ps));
    skip_space(ps);
    if (ps->p >= ps->end)
        return fail(ps, "JSON: unexpected end at byte %zu", offset(ps));
    switch (*ps->p) {
    case '{':
        ps->p++;
        return read_container(ps, JSON_OBJECT, depth);
    case '[':
        ps->p++;
        return read_container(ps, JSON_ARRAY, depth);
    case '"': {
        ps->p++;
        size_t off, len;
        if (read_string(ps, &off, &len))
            return -1;
        long id = new_node(ps, JSON_STRING);
        if (id >= 0) {
            ps->nodes[id].str_off = off;
            ps->nodes[id].len = len;
        }
        return id;
    }
    case 't': return read_literal(ps, "true", JSON_TRUE);
    case 'f': return read_literal(ps, "false", JSON_FALSE);
    case 'n': return read_literal(ps, "null", JSON_NULL);
    default: return read_number(ps);
    }
}

/* Lays the nodes out as json_value with pointers. */
static json_doc *build(parser *ps)
{
    json_doc *doc = malloc(sizeof *doc);
    json_value *values = calloc(ps->n, sizeof *values);
    if (!doc || !values) {
        free(doc);
        free(values);
        fail(ps, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < ps->n; i++) {
        const node *nd = &ps->nodes[i];
        json_value *v = &values[i];
        v->type = nd->type;
        if (nd->has_key) {
            v->key = ps->strings + nd->key_off;
            v->key_len = nd->key_len;
        }
        if (nd->type == JSON_STRING)
            v->str = ps->strings + nd->str_off;
        v->len = nd->len;
        v->num = nd->num;
        v->child = nd->first >= 0 ? &values[nd->first] : NULL;
        v->next = nd->next >= 0 ? &values[nd->next] : NULL;
    }
    doc->values = values;
    doc->strings = ps->strings;
    return doc;
}

int json_parse(const char *text, size_t size, json_doc **out, char *err, size_t cap)
{
    parser ps = {.start = text, .p = text, .end = text + size, .err = err, .errcap = cap};
    *out = NULL;
    if (err && cap)
        err[0] = 0;
    ps.strings = malloc(size + 1);
    if (!ps.strings)
        return (int)fail(&ps, "out of memory");
    long root = read_value(&ps, 0);
    if (root >= 0) {
        skip_space(&ps);
        if (ps.p != ps.end)
            fail(&ps, "JSON: unexpected text after the value at byte %zu", offset(&ps));
    }
    json_doc *doc = ps.failed ? NULL : build(&ps);
    free(ps.nodes);
    if (!doc) {
        free(ps.strings);
        return -1;
    }
    *out = doc;
    return 0;
}

void json_free(json_doc *doc)
{
    if (!doc)
        return;
    free(doc->values);
    free(doc->strings);
    free(doc);
}

const json_value *json_root(const json_doc *doc)
{
    return doc ? &doc->values[0] : NULL;
}

const json_value *json_get(const json_value *v, const char *key)
{
    if (!v || v->type != JSON_OBJECT)
        return NULL;
    size_t n = strlen(key);
    const json_value *found = NULL;
    /* the last of duplicate names wins, as in most readers */
    for (const json_value *c = v->child; c; c = c->next)
        if (c->key_len == n && !memcmp(c->key, key, n))
            found = c;
    return found;
}

/* ---- writer ---- */

void sb_free(strbuf *sb)
{
    free(sb->data);
    memset(sb, 0, sizeof *sb);
}

void sb_reset(strbuf *sb)
{
    sb->len = 0;
    sb->failed = 0;
    if (sb->data)
        sb->data[0] = 0;
}

static int sb_reserve(strbuf *sb, size_t more)
{
    if (sb->failed)
        return -1;
    if (more > SIZE_MAX / 2 - sb->len || (sb->limit && sb->len + more > sb->limit)) {
        sb->failed = 1;
        return -1;
    }
    size_t need = sb->len + more + 1;
    if (need <= sb->cap)
        return 0;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < need)
        cap *= 2;
    char *grown = realloc(sb->data, cap);
    if (!grown) {
        sb->failed = 1;
        return -1;
    }
    sb->data = grown;
    sb->cap = cap;
    return 0;
}

void sb_append(strbuf *sb, const char *s, size_t n)
{
    if (sb_reserve(sb, n))
        return;
    if (n)
        memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = 0;
}

void sb_puts(strbuf *sb, const char *s)
{
    sb_append(sb, s, strlen(s));
}

void sb_printf(strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        sb->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        sb_append(sb, small, (size_t)n);
        return;
    }
    if (sb_reserve(sb, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void json_write_string(strbuf *sb, const char *s, size_t n)
{
    sb_append(sb, "\"", 1);
    size_t run = 0; /* start of the bytes not yet written */
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        int seq = c < 0x80 ? 1 : utf8_seq((const unsigned char *)s + i, n - i);
        const char *esc = NULL;
        char ubuf[8];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20) {
            snprintf(ubuf, sizeof ubuf, "\\u%04x", c);
            esc = ubuf;
        } else if (seq <= 0) {
            esc = "\xEF\xBF\xBD";
            seq = 1;
        }
        if (esc) {
            sb_append(sb, s + run, i - run);
            sb_puts(sb, esc);
            i += (size_t)(seq > 0 ? seq : 1);
            run = i;
        } else {
            i += (size_t)seq;
        }
    }
    sb_append(sb, s + run, n - run);
    sb_append(sb, "\"", 1);
}

void json_write_number(strbuf *sb, double v)
{
    if (!isfinite(v)) {
        sb_puts(sb, "null");
        return;
    }
    char buf[40];
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    sb_puts(sb, buf);
}
