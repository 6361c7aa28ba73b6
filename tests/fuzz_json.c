/*
 * fuzz_json.c — libFuzzer target for the server's JSON reader and writer: any bytes are
 * read or refused (with an offset), never a crash; a tree that was read, written back
 * with json_write_string and json_write_number, reads again into the same tree; and the
 * input written as one JSON string always reads back as valid JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../examples/server/json.h"

static void write_value(strbuf *sb, const json_value *v)
{
    switch (v->type) {
    case JSON_NULL: sb_puts(sb, "null"); break;
    case JSON_FALSE: sb_puts(sb, "false"); break;
    case JSON_TRUE: sb_puts(sb, "true"); break;
    case JSON_NUMBER: json_write_number(sb, v->num); break;
    case JSON_STRING: json_write_string(sb, v->str, v->len); break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        sb_puts(sb, v->type == JSON_ARRAY ? "[" : "{");
        for (const json_value *c = v->child; c; c = c->next) {
            if (c != v->child)
                sb_puts(sb, ",");
            if (v->type == JSON_OBJECT) {
                json_write_string(sb, c->key, c->key_len);
                sb_puts(sb, ":");
            }
            write_value(sb, c);
        }
        sb_puts(sb, v->type == JSON_ARRAY ? "]" : "}");
        break;
    }
}

static int same(const json_value *a, const json_value *b)
{
    if (a->type != b->type || a->len != b->len || a->key_len != b->key_len ||
        (a->key && memcmp(a->key, b->key, a->key_len)))
        return 0;
    if (a->type == JSON_NUMBER)
        return a->num == b->num;
    if (a->type == JSON_STRING)
        return !memcmp(a->str, b->str, a->len);
    const json_value *x = a->child, *y = b->child;
    for (; x && y; x = x->next, y = y->next)
        if (!same(x, y))
            return 0;
    return !x && !y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    json_doc *doc = NULL;
    char err[160];
    strbuf sb = {0};
    if (json_parse(buf, size, &doc, err, sizeof err) == 0) {
        write_value(&sb, json_root(doc));
        json_doc *again = NULL;
        if (sb.failed || json_parse(sb.data, sb.len, &again, err, sizeof err) != 0 ||
            !same(json_root(doc), json_root(again)))
            abort();
        json_free(again);
    } else if (!strstr(err, "byte") && strcmp(err, "out of memory")) {
        abort();
    }
    json_free(doc);
    sb_reset(&sb);
    json_write_string(&sb, buf, size);
    if (json_parse(sb.data, sb.len, &doc, err, sizeof err) != 0 || json_root(doc)->type != JSON_STRING)
        abort();
    json_free(doc);
    sb_free(&sb);
    free(buf);
    return 0;
}
