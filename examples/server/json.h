/*
 * json.h — the server's JSON: a reader that turns (ptr, size) into a tree, and a writer
 * that appends escaped JSON to a growing buffer.
 *
 * The reader is strict RFC 8259 (no comments, no trailing commas, no NaN), bounded in
 * depth, and copies nothing from the caller's buffer after it returns: strings are
 * decoded (escapes and surrogate pairs) into memory the document owns, each with its
 * length, since a string may hold U+0000. Unpaired surrogates become U+FFFD.
 */
#ifndef LATENT_SERVER_JSON_H
#define LATENT_SERVER_JSON_H

#include <stdarg.h>
#include <stddef.h>

typedef enum json_type {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} json_type;

typedef struct json_value json_value;
struct json_value {
    json_type type;
    const char *key;   /* the member's name inside an object (NUL-terminated), else NULL */
    size_t key_len;
    const char *str;   /* JSON_STRING: decoded UTF-8, NUL-terminated */
    size_t len;        /* JSON_STRING: bytes; JSON_ARRAY / JSON_OBJECT: children */
    double num;        /* JSON_NUMBER */
    const json_value *child; /* first element or member */
    const json_value *next;  /* next sibling */
};

typedef struct json_doc json_doc;

/* Deepest nesting the reader accepts; deeper documents are an error, not a stack overflow. */
#define JSON_MAX_DEPTH 64

/* Parses `size` bytes. On success *out owns the tree (json_free it) and 0 is returned; on
 * failure -1, with a sentence naming the byte offset in err (cap bytes, may be NULL).
 * Out of memory is a failure too ("out of memory"). */
int json_parse(const char *text, size_t size, json_doc **out, char *err, size_t cap);
void json_free(json_doc *doc);
const json_value *json_root(const json_doc *doc);

/* The member `key` of an object, or NULL (also when v is NULL or not an object). */
const json_value *json_get(const json_value *v, const char *key);

/* ---- writer ---- */

/* A growing byte buffer. `failed` turns on at the first allocation failure (or when
 * `limit`, if nonzero, would be passed) and every later append does nothing, so a writer
 * checks once at the end. */
typedef struct strbuf {
    char *data; /* NUL-terminated while len < cap */
    size_t len, cap;
    size_t limit;
    int failed;
} strbuf;

void sb_free(strbuf *sb);
void sb_reset(strbuf *sb);
void sb_append(strbuf *sb, const char *s, size_t n);
void sb_puts(strbuf *sb, const char *s);
__attribute__((format(printf, 2, 3))) void sb_printf(strbuf *sb, const char *fmt, ...);

/* s (n bytes) as a JSON string with its quotes. Control characters are escaped; bytes
 * that are not valid UTF-8 become U+FFFD, so the output is always valid JSON. */
void json_write_string(strbuf *sb, const char *s, size_t n);
/* A finite number in the shortest form that reads back the same (non-finite: null). */
void json_write_number(strbuf *sb, double v);

/* Bytes at the start of s (n bytes) that form complete, valid UTF-8 sequences, stopping
 * before a sequence that the next bytes might still complete. */
size_t utf8_complete_prefix(const char *s, size_t n);

#endif
