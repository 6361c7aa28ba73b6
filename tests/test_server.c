/*
 * test_server.c — the server's HTTP request parser and JSON reader/writer, on buffers:
 * real requests (as curl and the openai client send them) parse into the right fields;
 * every way a head can be malformed, split, oversized or ambiguous gets the status the
 * server answers with; JSON reads back what it wrote, refuses what RFC 8259 refuses, and
 * the writer's output is valid JSON for any bytes. (test_server_net.c runs the server.)
 */
#include <math.h>
#include <string.h>

#include "harness.h"

/* a test includes the code it proves, as llama2.c's do: these files are the server's,
 * not the library's, so there is no archive to link them from */
#include "../examples/server/http.c"
#include "../examples/server/json.c"

static int parse(const char *text, size_t max_body, http_request *req)
{
    char why[128];
    return http_parse_request(text, strlen(text), max_body, req, why, sizeof why);
}

static void test_real_requests(void)
{
    http_request r;
    const char *curl = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
                       "User-Agent: curl/7.88.1\r\nAccept: */*\r\nContent-Type: application/json\r\n"
                       "Authorization: Bearer sk-secret\r\nContent-Length: 17\r\n\r\n{\"messages\": []}\n";
    CHECK(parse(curl, 1 << 20, &r) == 200, "curl's request parses");
    CHECK(http_method_is(&r, "POST") && !http_method_is(&r, "GET"), "method");
    CHECK(http_path_is(&r, "/v1/chat/completions") && !http_path_is(&r, "/v1/chat"), "path");
    CHECK(r.content_length == 17 && r.minor_version == 1 && r.keep_alive, "length %zu", r.content_length);
    CHECK(r.head_len == strlen(curl) - 17, "head_len %zu", r.head_len);
    size_t n;
    const char *auth = http_header_value(&r, "AUTHORIZATION", &n);
    CHECK(auth && n == 16 && !memcmp(auth, "Bearer sk-secret", 16), "header lookup ignores case");
    CHECK(!http_header_value(&r, "cookie", &n), "absent header");

    /* what httpx (the openai package) sends, with a query string */
    const char *py = "GET /v1/models?limit=1 HTTP/1.1\r\nhost: localhost\r\naccept: application/json\r\n"
                     "connection: keep-alive\r\nx-stainless-lang: python\r\n\r\n";
    CHECK(parse(py, 1 << 20, &r) == 200 && http_path_is(&r, "/v1/models") && r.content_length == 0,
          "httpx GET");
    CHECK(parse("GET /health HTTP/1.0\r\n\r\n", 0, &r) == 200 && !r.keep_alive, "1.0 closes");
    CHECK(parse("GET /health HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 0, &r) == 200 && r.keep_alive,
          "1.0 keep-alive");
    CHECK(parse("GET / HTTP/1.1\r\nConnection: TE, close\r\n\r\n", 0, &r) == 200 && !r.keep_alive,
          "close in a list");
    CHECK(parse("GET / HTTP/1.1\nHost: x\n\n", 0, &r) == 200 && r.n_headers == 1, "bare LF lines");
    CHECK(parse("\r\nGET / HTTP/1.1\r\n\r\n", 0, &r) == 200, "a leading empty line is ignored");
    CHECK(parse("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", 10, &r) == 200 &&
              r.expect_continue,
          "expect 100-continue");
    CHECK(parse("GET / HTTP/1.1\r\nX-Empty:\r\n\r\n", 0, &r) == 200 && r.headers[0].value_len == 0,
          "empty header value");
}

static void test_incomplete(void)
{
    const char *full = "POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n";
    http_request r;
    char why[128];
    /* every cut before the blank line asks for more, never misparses */
    size_t n = strlen(full);
    int all_incomplete = 1;
    for (size_t cut = 0; cut < n; cut++)
        if (http_parse_request(full, cut, 100, &r, why, sizeof why) != HTTP_INCOMPLETE)
            all_incomplete = 0;
    CHECK(all_incomplete, "every prefix of a head is incomplete");
    CHECK(http_parse_request(full, n, 100, &r, why, sizeof why) == 200, "the whole head");
}

static void test_refusals(void)
{
    http_request r;
    static const struct {
        const char *text;
        int status;
    } cases[] = {
        {"GARBAGE\r\n\r\n", 400},
        {"GET\r\n\r\n", 400},
        {"GET  / HTTP/1.1\r\n\r\n", 400},
        {"GET http://evil/ HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\n\r\n", 505},
        {"GET / HTTP/1.1x\r\n\r\n", 400},
        {"GET / FTP/1.1\r\n\r\n", 400},
        {"G(T / HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 1,1\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", 413},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
        {"POST / HTTP/1.1\r\nExpect: something\r\n\r\n", 417},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st = parse(cases[i].text, 1000, &r);
        CHECK(st == cases[i].status, "case %zu: %d, want %d", i, st, cases[i].status);
    }
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", 1000, &r) == 200,
          "repeated equal Content-Length");
    /* 64 headers fit, 65 do not */
    char big[8192];
    size_t n = (size_t)snprintf(big, sizeof big, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < HTTP_MAX_HEADERS; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "X-%d: v\r\n", i);
    snprintf(big + n, sizeof big - n, "\r\n");
    CHECK(parse(big, 0, &r) == 200 && r.n_headers == HTTP_MAX_HEADERS, "64 headers");
    snprintf(big + n, sizeof big - n, "X-extra: v\r\n\r\n");
    CHECK(parse(big, 0, &r) == 431, "65 headers");
}

static void test_secret(void)
{
    CHECK(http_secret_equal("abc", 3, "abc", 3), "equal");
    CHECK(!http_secret_equal("abd", 3, "abc", 3), "last byte differs");
    CHECK(!http_secret_equal("ab", 2, "abc", 3), "prefix");
    CHECK(!http_secret_equal("abcd", 4, "abc", 3), "longer");
    CHECK(!http_secret_equal("", 0, "abc", 3), "empty");
    CHECK(!http_secret_equal("abcabc", 6, "abc", 3), "repeated");
}

static json_doc *read_json(const char *text, char *err, size_t cap)
{
    json_doc *doc = NULL;
    if (json_parse(text, strlen(text), &doc, err, cap) != 0)
        return NULL;
    return doc;
}

static void test_json_read(void)
{
    char err[160];
    const char *req = "{\"model\": \"smol\", \"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"},"
                      " {\"role\": \"user\", \"content\": \"Hi \\\"you\\\"\\n\\u00e9\\ud83d\\ude00\"}],"
                      " \"max_tokens\": 16, \"temperature\": 0.5e0, \"stream\": true, \"stop\": null,"
                      " \"seed\": -12, \"x\": [], \"y\": {}}";
    json_doc *doc = read_json(req, err, sizeof err);
    CHECK(doc != NULL, "a chat request parses: %s", err);
    const json_value *root = json_root(doc);
    CHECK(root && root->type == JSON_OBJECT && root->len == 9, "9 members");
    const json_value *msgs = json_get(root, "messages");
    CHECK(msgs && msgs->type == JSON_ARRAY && msgs->len == 2, "messages");
    const json_value *user = msgs ? msgs->child->next : NULL;
    const json_value *content = json_get(user, "content");
    CHECK(content && content->type == JSON_STRING && content->len == 15 &&
              !memcmp(content->str, "Hi \"you\"\n\xC3\xA9\xF0\x9F\x98\x80", 15),
          "escapes and a surrogate pair decode");
    const json_value *mt = json_get(root, "max_tokens"), *t = json_get(root, "temperature");
    CHECK(mt && mt->type == JSON_NUMBER && mt->num == 16, "int");
    CHECK(t && t->num == 0.5, "float with exponent");
    CHECK(json_get(root, "stream")->type == JSON_TRUE && json_get(root, "stop")->type == JSON_NULL,
          "literals");
    CHECK(json_get(root, "seed")->num == -12, "negative");
    CHECK(json_get(root, "x")->len == 0 && json_get(root, "y")->type == JSON_OBJECT, "empty containers");
    CHECK(!json_get(root, "nope") && !json_get(content, "x"), "absent member");
    json_free(doc);

    doc = read_json("{\"a\":1,\"a\":2}", err, sizeof err);
    CHECK(doc && json_get(json_root(doc), "a")->num == 2, "the last duplicate wins");
    json_free(doc);
    doc = read_json("\"a\\u0000b\\udc00\"", err, sizeof err);
    CHECK(doc && json_root(doc)->len == 6 && !memcmp(json_root(doc)->str, "a\0b\xEF\xBF\xBD", 6),
          "NUL kept with its length; a lone low surrogate becomes U+FFFD");
    json_free(doc);

    static const char *bad[] = {
        "", " ", "{", "[1,]", "{\"a\":1,}", "{a:1}", "[1 2]", "01", "1.", ".5", "-", "1e", "+1",
        "NaN", "Infinity", "tru", "nul", "\"abc", "\"a\nb\"", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"",
        "[1] x", "{\"a\" 1}", "\"\xC0\xAF\"", "\"\xED\xA0\x80\"", "\"\xF5\x80\x80\x80\"", "\"\xE2\x82\"",
    };
    int refused = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        doc = read_json(bad[i], err, sizeof err);
        if (!doc && strstr(err, "byte"))
            refused++;
        else
            printf("accepted bad JSON #%zu: %s\n", i, bad[i]);
        json_free(doc);
    }
    CHECK(refused == (int)(sizeof bad / sizeof bad[0]), "every malformed text refused with an offset");

    /* nesting: at the limit reads, one deeper is an error, far deeper is no stack overflow */
    char deep[200001];
    for (int depth = JSON_MAX_DEPTH; depth <= JSON_MAX_DEPTH + 1; depth++) {
        memset(deep, '[', (size_t)depth + 1);
        memset(deep + depth + 1, ']', (size_t)depth + 1);
        deep[2 * depth + 2] = 0;
        doc = read_json(deep, err, sizeof err);
        CHECK((doc != NULL) == (depth == JSON_MAX_DEPTH), "depth %d", depth + 1);
        json_free(doc);
    }
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = 0;
    CHECK(!read_json(deep, err, sizeof err) && strstr(err, "deeper"), "200000 brackets: %s", err);
}

static void test_json_write(void)
{
    strbuf sb = {0};
    json_write_string(&sb, "a\"\\\n\t\x01\xC3\xA9 \xFF\xE2\x82", 12);
    CHECK(!strcmp(sb.data, "\"a\\\"\\\\\\n\\t\\u0001\xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\""),
          "escaped, invalid bytes as U+FFFD: %s", sb.data);
    /* the writer's output reads back for all 256 single bytes and some pairs */
    int round_trips = 1;
    for (int a = 0; a < 256; a++)
        for (int b = 0; b < 256; b += 17) {
            char in[2] = {(char)a, (char)b};
            sb_reset(&sb);
            json_write_string(&sb, in, 2);
            json_doc *doc = NULL;
            if (json_parse(sb.data, sb.len, &doc, NULL, 0) != 0)
                round_trips = 0;
            else if (utf8_complete_prefix(in, 2) == 2 && !(a & 0x80) && !(b & 0x80) &&
                     (json_root(doc)->len != 2 || memcmp(json_root(doc)->str, in, 2)))
                round_trips = 0;
            json_free(doc);
        }
    CHECK(round_trips, "every written string reads back");
    static const double nums[] = {0, 1, -1, 0.1, 1.0 / 3, 1e300, -2.5e-308, 123456789012345678.0};
    int exact = 1;
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        sb_reset(&sb);
        json_write_number(&sb, nums[i]);
        if (strtod(sb.data, NULL) != nums[i])
            exact = 0;
    }
    CHECK(exact, "numbers read back exactly");
    sb_reset(&sb);
    json_write_number(&sb, 0.1);
    CHECK(!strcmp(sb.data, "0.1"), "shortest form: %s", sb.data);
    sb_reset(&sb);
    json_write_number(&sb, NAN);
    CHECK(!strcmp(sb.data, "null"), "NaN writes null");
    sb_reset(&sb);
    sb.limit = 8;
    sb_puts(&sb, "12345");
    sb_printf(&sb, "%s", "6789");
    CHECK(sb.failed && sb.len == 5, "the limit stops the buffer");
    sb_free(&sb);

    CHECK(utf8_complete_prefix("ab\xE2\x82", 4) == 2, "an unfinished sequence is held");
    CHECK(utf8_complete_prefix("ab\xE2\x82\xAC", 5) == 5, "a finished one is not");
    CHECK(utf8_complete_prefix("a\xFF" "b", 3) == 3, "an invalid byte is passed through");
}

int main(void)
{
    test_real_requests();
    test_incomplete();
    test_refusals();
    test_secret();
    test_json_read();
    test_json_write();
    return test_done();
}
