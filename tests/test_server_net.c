/*
 * test_server_net.c — build/server on stories260K, driven over real sockets by clients
 * written here byte for byte (so that hostile ones can misbehave exactly):
 *   - a greedy completion says what build/generate says for the same prompt; a streamed
 *     chat completion's deltas join into the text the unstreamed one returns, its last
 *     chunk carries finish_reason and usage, and the stream ends with "data: [DONE]";
 *     a stop string cuts the text before it, streamed or not; usage counts tokens;
 *   - bad JSON, a huge body, an oversized head, a malformed request line, a wrong or
 *     missing API key, a prompt over the token limit and one over a slot's memory each
 *     get their status with an OpenAI error object, and the server keeps serving;
 *   - a slowloris client is dropped after --read-timeout while others are served;
 *     64 connections at once are all answered (200, or 503 once the queue is full);
 *     a client that leaves mid-stream gives its slot back at once;
 *   - pipelined requests and Expect: 100-continue work;
 *   - with --wall, /wall is one self-contained page and /wall/events streams frames: the
 *     last one after a completion is the frame a wall given the same text shows, and a
 *     viewer that reconnects gets the current frame at once;
 *   - after 1000 requests the server stops cleanly on SIGTERM with status 0 (under the
 *     sanitize configuration LeakSanitizer runs at that exit, so a leak fails here).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "wall.h"

#include "../examples/server/json.c"

typedef struct server_proc {
    pid_t pid;
    int port;
} server_proc;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Starts "[runner] build/server -m model --port 0 ARGS" and reads the port it prints. */
static int start_server(server_proc *sp, const char *model, const char *args)
{
    const char *build = getenv("LATENT_BUILD"), *runner = getenv("LATENT_RUNNER");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "exec %s %s/server -m %s --port 0 -q %s 2>>%s/server-test.log", runner ? runner : "",
             build && *build ? build : "build", model, args, build && *build ? build : "build");
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return -1;
    sp->pid = fork();
    if (sp->pid == 0) {
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        close(pipefd[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    char line[32] = {0};
    size_t n = 0;
    struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
    double deadline = now() + 60;
    while (n < sizeof line - 1 && !strchr(line, '\n') && now() < deadline && poll(&p, 1, 1000) >= 0) {
        ssize_t r = read(pipefd[0], line + n, 1);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(pipefd[0]);
    sp->port = atoi(line);
    if (sp->port <= 0) {
        printf("the server did not start: %s\n", cmd);
        kill(sp->pid, SIGKILL);
        waitpid(sp->pid, NULL, 0);
        return -1;
    }
    return 0;
}

/* SIGTERM, then the exit status (-1 when it had to be killed). */
static int stop_server(server_proc *sp)
{
    kill(sp->pid, SIGTERM);
    for (int i = 0; i < 600; i++) {
        int status;
        if (waitpid(sp->pid, &status, WNOHANG) == sp->pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        usleep(50 * 1000);
    }
    kill(sp->pid, SIGKILL);
    waitpid(sp->pid, NULL, 0);
    return -1;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(0x7f000001);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_text(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads until the peer closes or `seconds` pass. */
static void read_all(int fd, strbuf *out, double seconds)
{
    double deadline = now() + seconds;
    char buf[4096];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)((deadline - now()) * 1000);
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return;
        sb_append(out, buf, (size_t)n);
    }
}

typedef struct response {
    int status;
    strbuf raw;
    const char *body; /* inside raw */
    json_doc *doc;    /* the body read as JSON, when it is */
} response;

static void response_free(response *r)
{
    sb_free(&r->raw);
    json_free(r->doc);
    memset(r, 0, sizeof *r);
}

static void parse_response(response *r)
{
    const char *raw = r->raw.data ? r->raw.data : "";
    r->status = !strncmp(raw, "HTTP/1.1 ", 9) ? atoi(raw + 9) : -1;
    const char *sep = strstr(raw, "\r\n\r\n");
    r->body = sep ? sep + 4 : "";
    json_parse(r->body, strlen(r->body), &r->doc, NULL, 0);
}

/* One whole exchange on a fresh connection (the request should say Connection: close). */
static response exchange(int port, const char *request, size_t len)
{
    response r = {0};
    int fd = connect_to(port);
    if (fd < 0) {
        r.status = -1;
        return r;
    }
    /* a refused request may be answered before it is all sent: read the answer anyway */
    send_text(fd, request, len);
    read_all(fd, &r.raw, 60);
    close(fd);
    parse_response(&r);
    return r;
}

static const char *api_key_header = "";

static response post(int port, const char *path, const char *body)
{
    char *req = malloc(strlen(body) + 512);
    int n = sprintf(req, "POST %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n%sContent-Length: %zu\r\n"
                    "Connection: close\r\n\r\n%s", path, api_key_header, strlen(body), body);
    response r = exchange(port, req, (size_t)n);
    free(req);
    return r;
}

static response get(int port, const char *path)
{
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: test\r\n%sConnection: close\r\n\r\n", path,
                     api_key_header);
    return exchange(port, req, (size_t)n);
}

static const json_value *path_get(const json_value *v, const char *a, int index, const char *b)
{
    v = json_get(v, a);
    for (int i = 0; v && i <= index; i++)
        v = i == 0 ? v->child : v->next;
    return b ? json_get(v, b) : v;
}

static const char *str_at(const json_value *v)
{
    return v && v->type == JSON_STRING ? v->str : "";
}

static double num_at(const json_value *v)
{
    return v && v->type == JSON_NUMBER ? v->num : -1;
}

/* The error object's message, or NULL when the body is not one. */
static const char *error_message(const response *r)
{
    const json_value *e = json_get(json_root(r->doc), "error");
    const json_value *m = json_get(e, "message"), *t = json_get(e, "type");
    return m && m->type == JSON_STRING && t && t->type == JSON_STRING ? m->str : NULL;
}

/* The text of a streamed response: every chunk's delta content (or text) joined; the
 * last chunk's finish_reason and usage; whether it ended with [DONE]. */
typedef struct stream_result {
    strbuf text;
    char finish[16];
    int completion_tokens;
    int chunks, done, bad_chunks;
} stream_result;

static void read_stream(const char *body, stream_result *sr)
{
    for (const char *line = body; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, "data: ", 6))
            continue;
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line - 6) : strlen(line + 6);
        if (n == 6 && !strncmp(line + 6, "[DONE]", 6)) {
            sr->done = 1;
            continue;
        }
        json_doc *doc = NULL;
        if (json_parse(line + 6, n, &doc, NULL, 0) != 0) {
            sr->bad_chunks++;
            continue;
        }
        sr->chunks++;
        const json_value *root = json_root(doc), *choice = path_get(root, "choices", 0, NULL);
        const json_value *content = json_get(json_get(choice, "delta"), "content");
        if (!content)
            content = json_get(choice, "text");
        if (content && content->type == JSON_STRING)
            sb_append(&sr->text, content->str, content->len);
        const json_value *fin = json_get(choice, "finish_reason");
        if (fin && fin->type == JSON_STRING)
            snprintf(sr->finish, sizeof sr->finish, "%s", fin->str);
        const json_value *usage = json_get(root, "usage");
        if (usage)
            sr->completion_tokens = (int)num_at(json_get(usage, "completion_tokens"));
        json_free(doc);
    }
}

/* ---- the answers ---- */

static void test_basics(int port)
{
    response r = get(port, "/health");
    CHECK(r.status == 200 && !strcmp(str_at(json_get(json_root(r.doc), "status")), "ok"), "health: %d", r.status);
    response_free(&r);
    r = get(port, "/v1/models");
    const json_value *first = path_get(json_root(r.doc), "data", 0, NULL);
    CHECK(r.status == 200 && !strcmp(str_at(json_get(first, "id")), "stories260K") &&
              !strcmp(str_at(json_get(json_root(r.doc), "object")), "list"),
          "models: %s", r.body);
    response_free(&r);
    r = get(port, "/v1/models/stories260K");
    CHECK(r.status == 200 && !strcmp(str_at(json_get(json_root(r.doc), "id")), "stories260K"), "one model: %s", r.body);
    response_free(&r);
    r = get(port, "/v1/models/stories");
    CHECK(r.status == 404 && error_message(&r), "an unknown model: %d", r.status);
    response_free(&r);
    r = get(port, "/v1/nothing");
    CHECK(r.status == 404 && error_message(&r), "404 with an error object");
    response_free(&r);
    r = get(port, "/v1/completions");
    CHECK(r.status == 405 && error_message(&r), "GET on a POST endpoint");
    response_free(&r);
}

/* A greedy completion says what build/generate says. */
static void test_completion_matches_generate(int port, const char *model)
{
    const char *out = "build/test-server-generate.txt";
    int rc = test_run_program("generate -m %s -p 'Once upon a time' --temp 0 -n 24 -t 1 > %s 2>/dev/null", model, out);
    char *expected = test_read_file(out, NULL);
    CHECK(rc == 0 && expected, "generate ran");
    response r = post(port, "/v1/completions", "{\"prompt\": \"Once upon a time\", \"max_tokens\": 24, \"temperature\": 0}");
    const json_value *root = json_root(r.doc), *choice = path_get(root, "choices", 0, NULL);
    const char *text = str_at(json_get(choice, "text"));
    if (expected) {
        size_t n = strlen(expected);
        if (n && expected[n - 1] == '\n')
            expected[n - 1] = 0;
    }
    CHECK(r.status == 200 && expected && !strcmp(text, expected), "server '%s' vs generate '%s'", text,
          expected ? expected : "");
    const json_value *usage = json_get(root, "usage");
    CHECK(num_at(json_get(usage, "completion_tokens")) == 24 && num_at(json_get(usage, "prompt_tokens")) > 1 &&
              num_at(json_get(usage, "total_tokens")) ==
                  num_at(json_get(usage, "completion_tokens")) + num_at(json_get(usage, "prompt_tokens")),
          "usage: %s", r.body);
    CHECK(!strcmp(str_at(json_get(choice, "finish_reason")), "length") &&
              !strcmp(str_at(json_get(root, "object")), "text_completion"),
          "finish_reason length");
    response_free(&r);
    free(expected);
}

static void test_chat_stream(int port)
{
    const char *body = "{\"messages\": [{\"role\": \"system\", \"content\": \"Tell a story.\"}, {\"role\": \"user\", "
                       "\"content\": \"A cat\"}], \"max_tokens\": 30, \"temperature\": 0, \"stream\": %s}";
    char req[512];
    snprintf(req, sizeof req, body, "false");
    response whole = post(port, "/v1/chat/completions", req);
    const json_value *msg = path_get(json_root(whole.doc), "choices", 0, "message");
    const char *content = str_at(json_get(msg, "content"));
    CHECK(whole.status == 200 && !strcmp(str_at(json_get(msg, "role")), "assistant") && strlen(content) > 10,
          "chat completion: %s", whole.body);
    snprintf(req, sizeof req, body, "true");
    response streamed = post(port, "/v1/chat/completions", req);
    stream_result sr = {0};
    read_stream(streamed.body, &sr);
    CHECK(streamed.status == 200 && strstr(streamed.raw.data, "Content-Type: text/event-stream"), "event stream");
    CHECK(sr.done && sr.bad_chunks == 0 && sr.chunks >= 3, "chunks %d, done %d, bad %d", sr.chunks, sr.done,
          sr.bad_chunks);
    CHECK(sr.text.data && !strcmp(sr.text.data, content), "streamed '%s' vs whole '%s'", sr.text.data ? sr.text.data : "",
          content);
    CHECK(!strcmp(sr.finish, "length") && sr.completion_tokens == 30, "finish %s, usage %d", sr.finish,
          sr.completion_tokens);

    /* a stop string taken from the middle of that answer cuts it there, both ways */
    size_t len = strlen(content);
    char stop[8] = {0};
    memcpy(stop, content + len / 2, 4);
    const char *cut = strstr(content, stop);
    snprintf(req, sizeof req,
             "{\"messages\": [{\"role\": \"system\", \"content\": \"Tell a story.\"}, {\"role\": \"user\", "
             "\"content\": \"A cat\"}], \"max_tokens\": 30, \"temperature\": 0, \"stop\": [\"\\u0001\", %s], \"stream\": %s}",
             "\"STOP\"", "false");
    /* STOP is a placeholder replaced with the 4 bytes of the answer, escaped */
    strbuf sb = {0};
    json_write_string(&sb, stop, 4);
    char *at = strstr(req, "\"STOP\"");
    char with_stop[600];
    snprintf(with_stop, sizeof with_stop, "%.*s%s%s", (int)(at - req), req, sb.data, at + 6);
    response stopped = post(port, "/v1/chat/completions", with_stop);
    const json_value *choice = path_get(json_root(stopped.doc), "choices", 0, NULL);
    const char *stopped_text = str_at(json_get(json_get(choice, "message"), "content"));
    CHECK(stopped.status == 200 && strlen(stopped_text) == (size_t)(cut - content) &&
              !strncmp(stopped_text, content, (size_t)(cut - content)) &&
              !strcmp(str_at(json_get(choice, "finish_reason")), "stop"),
          "stop '%s': '%s' (%s)", stop, stopped_text, stopped.body);
    at = strstr(with_stop, "\"stream\": false");
    memcpy(at, "\"stream\": true ", 15);
    response stopped_stream = post(port, "/v1/chat/completions", with_stop);
    stream_result ss = {0};
    read_stream(stopped_stream.body, &ss);
    CHECK(ss.text.data && !strcmp(ss.text.data, stopped_text) && !strcmp(ss.finish, "stop") && ss.done,
          "streamed stop: '%s'", ss.text.data ? ss.text.data : "");
    sb_free(&sb);
    sb_free(&sr.text);
    sb_free(&ss.text);
    response_free(&whole);
    response_free(&streamed);
    response_free(&stopped);
    response_free(&stopped_stream);

    /* seeds: the same seed repeats the same sampled text */
    const char *seeded = "{\"prompt\": \"The dog\", \"max_tokens\": 20, \"temperature\": 1.0, \"seed\": 1234, "
                         "\"presence_penalty\": 0.5, \"frequency_penalty\": 0.5}";
    response a = post(port, "/v1/completions", seeded), b = post(port, "/v1/completions", seeded);
    const char *ta = str_at(path_get(json_root(a.doc), "choices", 0, "text"));
    const char *tb = str_at(path_get(json_root(b.doc), "choices", 0, "text"));
    CHECK(a.status == 200 && *ta && !strcmp(ta, tb), "seeded: '%s' vs '%s'", ta, tb);
    response_free(&a);
    response_free(&b);
}

/* ---- hostile and malformed requests ---- */

static void expect_error(int port, const char *raw, int status, const char *what)
{
    response r = exchange(port, raw, strlen(raw));
    CHECK(r.status == status && error_message(&r), "%s: %d (want %d) %s", what, r.status, status, r.body);
    response_free(&r);
}

static void test_refusals(int port)
{
    response r = post(port, "/v1/chat/completions", "{\"messages\": [");
    CHECK(r.status == 400 && error_message(&r) && strstr(error_message(&r), "byte"), "bad JSON: %s", r.body);
    response_free(&r);
    static const char *bad_bodies[] = {
        "[]", "{\"messages\": []}", "{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", "{\"messages\": [{\"role\": \"user\", \"content\": \"a\\u0000b\"}]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"temperature\": -1}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 0}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 1.5}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"n\": 2}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stop\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stream\": \"yes\"}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"presence_penalty\": 3}",
    };
    int refused = 0;
    for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
        r = post(port, "/v1/chat/completions", bad_bodies[i]);
        if (r.status == 400 && error_message(&r))
            refused++;
        else
            printf("not refused (%d): %s\n", r.status, bad_bodies[i]);
        response_free(&r);
    }
    CHECK(refused == (int)(sizeof bad_bodies / sizeof bad_bodies[0]), "every bad body gets 400");
    r = post(port, "/v1/completions", "{\"prompt\": 7}");
    CHECK(r.status == 400 && error_message(&r), "a prompt that is not a string");
    response_free(&r);

    expect_error(port, "POST /v1/completions HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 413, "huge body");
    expect_error(port, "GET /health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501, "chunked");
    expect_error(port, "GARBAGE\r\n\r\n", 400, "garbage");
    expect_error(port, "GET /health HTTP/3.0\r\n\r\n", 505, "HTTP/3");
    /* a head past --max-header: the server refuses it before it ends */
    strbuf big = {0};
    sb_puts(&big, "GET /health HTTP/1.1\r\nX-Fill: ");
    for (int i = 0; i < 40000; i++)
        sb_append(&big, "a", 1);
    sb_puts(&big, "\r\n\r\n");
    expect_error(port, big.data, 431, "oversized head");
    sb_free(&big);

    /* a huge body actually sent: refused from its Content-Length, the connection closed */
    size_t n = 4 << 20;
    char *huge = malloc(n + 200);
    int h = sprintf(huge, "POST /v1/completions HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", n);
    memset(huge + h, '{', n);
    r = exchange(port, huge, (size_t)h + n);
    CHECK(r.status == 413, "4 MiB body: %d", r.status);
    response_free(&r);
    free(huge);

    r = post(port, "/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 1}");
    CHECK(r.status == 200, "still serving after the refusals");
    response_free(&r);
}

static void test_pipelining_and_continue(int port)
{
    const char *two = "GET /health HTTP/1.1\r\nHost: a\r\n\r\n"
                      "POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 33\r\nConnection: close\r\n\r\n"
                      "{\"prompt\": \"Hi\", \"max_tokens\": 2}";
    response r = exchange(port, two, strlen(two));
    const char *second = r.raw.data ? strstr(r.raw.data + 1, "HTTP/1.1 200") : NULL;
    CHECK(r.status == 200 && second && strstr(second, "text_completion"), "two pipelined requests: %s",
          r.raw.data ? r.raw.data : "");
    response_free(&r);

    int fd = connect_to(port);
    const char *head = "POST /v1/completions HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 33\r\n"
                       "Connection: close\r\n\r\n";
    send_text(fd, head, strlen(head));
    char buf[64] = {0};
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t got = poll(&p, 1, 5000) > 0 ? recv(fd, buf, sizeof buf - 1, 0) : -1;
    CHECK(got > 0 && !strncmp(buf, "HTTP/1.1 100 Continue\r\n\r\n", 25), "100 Continue: %s", buf);
    send_text(fd, "{\"prompt\": \"Hi\", \"max_tokens\": 2}", 33);
    response rest = {0};
    read_all(fd, &rest.raw, 30);
    close(fd);
    parse_response(&rest);
    CHECK(rest.status == 200, "the body after 100 Continue: %d", rest.status);
    response_free(&rest);
}

/* A client that sends one byte at a time is dropped after --read-timeout (1 s here),
 * and others are served meanwhile. */
static void test_slowloris(int port)
{
    int fd = connect_to(port);
    const char *req = "GET /health HTTP/1.1\r\nHost: slow\r\n\r\n";
    double t0 = now();
    int dropped = 0;
    for (size_t i = 0; i < strlen(req) && !dropped; i++) {
        if (send(fd, req + i, 1, MSG_NOSIGNAL) != 1)
            dropped = 1;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 300) > 0)
            dropped = 1; /* the 408, or the close */
        if (i == 2) {
            response r = get(port, "/health");
            CHECK(r.status == 200, "served while a slow client dribbles");
            response_free(&r);
        }
    }
    strbuf rest = {0};
    read_all(fd, &rest, 5);
    double took = now() - t0;
    CHECK(dropped && took < 4 && (!rest.data || !strstr(rest.data, "\"ok\"")),
          "dropped after %.1f s (%s)", took, rest.data ? rest.data : "");
    sb_free(&rest);
    close(fd);
}

typedef struct client_job {
    int port, status;
} client_job;

static void *one_client(void *arg)
{
    client_job *j = arg;
    response r = post(j->port, "/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 16, \"temperature\": 0}");
    j->status = r.status == 200 && !path_get(json_root(r.doc), "choices", 0, "text") ? -2 : r.status;
    if (r.status == 503 && !error_message(&r))
        j->status = -3;
    response_free(&r);
    return NULL;
}

/* 64 clients at once: with a queue as long as the crowd every one gets its answer; with
 * a short one some get 503 and none is left without an answer. */
static void test_crowd(int port, int expect_all_ok)
{
    enum { N = 64 };
    pthread_t t[N];
    client_job jobs[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (client_job){.port = port};
        pthread_create(&t[i], NULL, one_client, &jobs[i]);
    }
    int ok = 0, busy = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ok += jobs[i].status == 200;
        busy += jobs[i].status == 503;
    }
    if (expect_all_ok)
        CHECK(ok == N, "64 at once, a long queue: %d answered 200, %d 503", ok, busy);
    else
        CHECK(ok + busy == N && ok >= 2 && busy >= 1, "64 at once, a short queue: %d 200 + %d 503", ok, busy);
}

/* A client that leaves mid-stream frees its slot before the next token: with one slot,
 * /health shows it idle almost at once and the next request is served. */
static void test_disconnect(int port)
{
    int fd = connect_to(port);
    const char *body = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 200000, \"stream\": true}";
    char req[512];
    int n = snprintf(req, sizeof req, "POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(body), body);
    send_text(fd, req, (size_t)n);
    char buf[2048];
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t got = poll(&p, 1, 10000) > 0 ? recv(fd, buf, sizeof buf, 0) : -1;
    CHECK(got > 0, "the stream began");
    response h = get(port, "/health");
    CHECK(num_at(json_get(json_root(h.doc), "slots_idle")) == 0, "busy while streaming: %s", h.body);
    response_free(&h);
    close(fd);
    double t0 = now();
    int idle = 0;
    while (!idle && now() - t0 < 2) {
        h = get(port, "/health");
        idle = num_at(json_get(json_root(h.doc), "slots_idle")) == 1;
        response_free(&h);
        if (!idle)
            usleep(10 * 1000);
    }
    CHECK(idle, "the slot came back %.3f s after the client left", now() - t0);

    /* the same for a client waiting for a whole (unstreamed) answer */
    fd = connect_to(port);
    body = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 200000}";
    n = snprintf(req, sizeof req, "POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(body), body);
    send_text(fd, req, (size_t)n);
    usleep(300 * 1000);
    h = get(port, "/health");
    CHECK(num_at(json_get(json_root(h.doc), "slots_idle")) == 0, "busy while generating: %s", h.body);
    response_free(&h);
    close(fd);
    t0 = now();
    idle = 0;
    while (!idle && now() - t0 < 2) {
        h = get(port, "/health");
        idle = num_at(json_get(json_root(h.doc), "slots_idle")) == 1;
        response_free(&h);
        if (!idle)
            usleep(10 * 1000);
    }
    CHECK(idle, "an unstreamed request's slot came back %.3f s after its client left", now() - t0);
    response r = post(port, "/v1/completions", "{\"prompt\": \"x\", \"max_tokens\": 4}");
    CHECK(r.status == 200, "the next request is served");
    response_free(&r);
}

/* With one slot busy and a queue of two, the two requests waiting are served in the
 * order they came, and a third finds the queue full. */
static void test_first_come(int port)
{
    int hold = connect_to(port);
    const char *body = "{\"prompt\": \"Once upon a time\", \"max_tokens\": 200000, \"stream\": true}";
    char req[512];
    int n = snprintf(req, sizeof req, "POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(body), body);
    send_text(hold, req, (size_t)n);
    char buf[256];
    struct pollfd p = {.fd = hold, .events = POLLIN};
    CHECK(poll(&p, 1, 10000) > 0 && recv(hold, buf, sizeof buf, 0) > 0, "the slot is taken");
    const char *small = "POST /v1/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 33\r\nConnection: close\r\n\r\n"
                        "{\"prompt\": \"Hi\", \"max_tokens\": 2}";
    int waiting[3];
    for (int i = 0; i < 3; i++) {
        waiting[i] = connect_to(port);
        send_text(waiting[i], small, strlen(small));
        usleep(150 * 1000); /* each is in line before the next arrives */
    }
    close(hold);
    /* the third's 503 at once, then the answers first to last */
    int order[3], status[3], n_done = 0;
    double t0 = now();
    while (n_done < 3 && now() - t0 < 10) {
        struct pollfd ps[3];
        for (int i = 0; i < 3; i++)
            ps[i] = (struct pollfd){.fd = waiting[i], .events = POLLIN};
        if (poll(ps, 3, 1000) <= 0)
            continue;
        for (int i = 0; i < 3; i++)
            if (waiting[i] >= 0 && (ps[i].revents & POLLIN)) {
                strbuf got = {0};
                read_all(waiting[i], &got, 5);
                close(waiting[i]);
                waiting[i] = -1;
                status[i] = got.data && !strncmp(got.data, "HTTP/1.1 ", 9) ? atoi(got.data + 9) : -1;
                order[n_done++] = i;
                sb_free(&got);
            }
    }
    CHECK(n_done == 3 && order[0] == 2 && order[1] == 0 && order[2] == 1 && status[2] == 503 && status[0] == 200 &&
              status[1] == 200,
          "served in order: %d %d %d", order[0], n_done > 1 ? order[1] : -1, n_done > 2 ? order[2] : -1);
}

/* 1000 requests on keep-alive connections (health, models, completions, errors). */
static void test_many_requests(int port)
{
    int fd = -1, ok = 0;
    for (int i = 0; i < 1000; i++) {
        if (fd < 0)
            fd = connect_to(port);
        char req[512];
        int kind = i % 4, n;
        if (kind == 0)
            n = snprintf(req, sizeof req, "GET /health HTTP/1.1\r\nHost: a\r\n\r\n");
        else if (kind == 1)
            n = snprintf(req, sizeof req, "GET /v1/models HTTP/1.1\r\nHost: a\r\n\r\n");
        else {
            const char *body = kind == 2 ? "{\"prompt\": \"The\", \"max_tokens\": 3}" : "{\"bad\": 1}";
            n = snprintf(req, sizeof req, "POST /v1/%s HTTP/1.1\r\nHost: a\r\nContent-Length: %zu\r\n\r\n%s",
                         kind == 2 ? "completions" : "chat/completions", strlen(body), body);
        }
        if (send_text(fd, req, (size_t)n) != 0) {
            close(fd);
            fd = -1;
            continue;
        }
        /* read one response: head, then Content-Length bytes */
        strbuf in = {0};
        const char *sep = NULL;
        size_t head_len = 0;
        long want = -1;
        char buf[4096];
        while (1) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 10000) <= 0)
                break;
            ssize_t got = recv(fd, buf, sizeof buf, 0);
            if (got <= 0)
                break;
            sb_append(&in, buf, (size_t)got);
            if (!sep && (sep = strstr(in.data, "\r\n\r\n"))) {
                const char *cl = strstr(in.data, "Content-Length: ");
                want = cl ? atol(cl + 16) : -1;
                head_len = (size_t)(sep + 4 - in.data);
            }
            if (sep && want >= 0 && in.len >= head_len + (size_t)want)
                break;
        }
        int status = in.data && !strncmp(in.data, "HTTP/1.1 ", 9) ? atoi(in.data + 9) : -1;
        ok += status == (kind == 3 ? 400 : 200);
        sb_free(&in);
    }
    if (fd >= 0)
        close(fd);
    CHECK(ok == 1000, "1000 requests: %d answered as expected", ok);
}

static void test_api_key(const char *model)
{
    server_proc sp;
    if (start_server(&sp, model, "--api-key sk-right") != 0) {
        CHECK(0, "the server started with --api-key");
        return;
    }
    response r = get(sp.port, "/v1/models");
    CHECK(r.status == 401 && error_message(&r) && strstr(r.raw.data, "WWW-Authenticate: Bearer"), "no key: %d",
          r.status);
    response_free(&r);
    api_key_header = "Authorization: Bearer sk-wrong\r\n";
    r = post(sp.port, "/v1/completions", "{\"prompt\": \"x\"}");
    CHECK(r.status == 401 && error_message(&r), "wrong key: %d", r.status);
    response_free(&r);
    api_key_header = "Authorization: Bearer sk-righ\r\n";
    r = get(sp.port, "/v1/models");
    CHECK(r.status == 401, "a prefix of the key: %d", r.status);
    response_free(&r);
    api_key_header = "Authorization: Bearer sk-right\r\n";
    r = get(sp.port, "/v1/models");
    CHECK(r.status == 200, "the right key: %d", r.status);
    response_free(&r);
    api_key_header = "";
    r = get(sp.port, "/health");
    CHECK(r.status == 200, "health needs no key");
    response_free(&r);
    CHECK(stop_server(&sp) == 0, "stops cleanly");
}

/* The limits a request can meet on a small server: prompt tokens and a slot's memory. */
static void test_limits(const char *model)
{
    server_proc sp;
    if (start_server(&sp, model, "--max-prompt-tokens 300 --mem-budget 400k --kv-type f32") != 0) {
        CHECK(0, "the server started with small limits");
        return;
    }
    strbuf words = {0};
    sb_puts(&words, "{\"prompt\": \"");
    for (int i = 0; i < 400; i++)
        sb_puts(&words, "cat ");
    sb_puts(&words, "\", \"max_tokens\": 4}");
    response r = post(sp.port, "/v1/completions", words.data);
    CHECK(r.status == 400 && error_message(&r) && strstr(error_message(&r), "at most 300") &&
              !strcmp(str_at(json_get(json_get(json_root(r.doc), "error"), "code")), "context_length_exceeded"),
          "too many prompt tokens: %d %s", r.status, r.body);
    response_free(&r);
    /* within the token limit but past what a slot's memory holds */
    words.len = 12 + 4 * 120; /* about 240 tokens: under 300, past the budget's ~190 */
    sb_puts(&words, "\", \"max_tokens\": 4}");
    r = post(sp.port, "/v1/completions", words.data);
    CHECK(r.status == 400 && error_message(&r) && strstr(error_message(&r), "--mem-budget"),
          "a prompt over a slot's memory: %d %s", r.status, r.body);
    response_free(&r);
    sb_free(&words);
    /* within the token limit, the generation runs until the slot's budget ends it */
    r = post(sp.port, "/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 1024}");
    const json_value *usage = json_get(json_root(r.doc), "usage");
    int made = (int)num_at(json_get(usage, "completion_tokens"));
    CHECK(r.status == 200 && made > 0 && made < 1024 &&
              !strcmp(str_at(path_get(json_root(r.doc), "choices", 0, "finish_reason")), "length"),
          "the budget ends an answer: %d tokens (%s)", made, r.body);
    response_free(&r);
    r = post(sp.port, "/v1/completions", "{\"prompt\": \"Once\", \"max_tokens\": 3}");
    CHECK(r.status == 200, "and the slot serves the next one");
    response_free(&r);
    CHECK(stop_server(&sp) == 0, "stops cleanly");
}

/* The last "data:" line of an event stream, masks parsed; returns how many. */
static size_t last_frame(const char *events, uint32_t *masks, size_t cap)
{
    const char *line = NULL;
    for (const char *p = events; (p = strstr(p, "data: ")); p += 6)
        line = p + 6;
    size_t n = 0;
    while (line && n < cap && *line && *line != '\n') {
        char *end;
        masks[n++] = (uint32_t)strtoul(line, &end, 16);
        line = end;
    }
    return n;
}

/* Opens /wall/events and reads what arrives in `seconds`. */
static void read_events(int port, strbuf *out, double seconds)
{
    int fd = connect_to(port);
    const char *req = "GET /wall/events HTTP/1.1\r\nHost: a\r\nAccept: text/event-stream\r\n\r\n";
    send_text(fd, req, strlen(req));
    read_all(fd, out, seconds);
    close(fd);
}

typedef struct events_job {
    int port;
    strbuf got;
} events_job;

static void *watch_wall(void *arg)
{
    events_job *j = arg;
    read_events(j->port, &j->got, 2.0);
    return NULL;
}

static void test_wall(const char *model)
{
    server_proc sp;
    if (start_server(&sp, model, "--wall -t 1") != 0) {
        CHECK(0, "the server started with --wall");
        return;
    }
    response page = get(sp.port, "/wall");
    CHECK(page.status == 200 && strstr(page.raw.data, "text/html") && strstr(page.body, "EventSource(EVENTS)") &&
              strstr(page.body, "\"/wall/events\"") && !strstr(page.body, "src=") && !strstr(page.body, "href=") &&
              !strstr(page.body, "@import"),
          "one self-contained page");
    response_free(&page);

    events_job job = {.port = sp.port};
    pthread_t t;
    pthread_create(&t, NULL, watch_wall, &job);
    usleep(300 * 1000);
    response r = post(sp.port, "/v1/completions", "{\"prompt\": \"Once upon a time\", \"max_tokens\": 40, \"temperature\": 0}");
    const char *text = str_at(path_get(json_root(r.doc), "choices", 0, "text"));
    pthread_join(t, NULL);

    wall_options wo = wall_default_options();
    wo.backend = "none";
    wall *w = NULL;
    uint32_t want[96] = {0}, got[97];
    if (wall_open(&wo, &w) == 0) {
        wall_write(w, text, strlen(text));
        wall_frame(w, want, 96);
        wall_close(w);
    }
    int lit = 0;
    for (int k = 0; k < 96; k++)
        lit += want[k] != 0;
    size_t n = last_frame(job.got.data ? job.got.data : "", got, 97);
    CHECK(r.status == 200 && lit > 10 && n == 96 && !memcmp(got, want, sizeof want),
          "the last frame streamed is the wall of the answer (%zu masks, %d lit): %s", n, lit, text);
    CHECK(job.got.data && strstr(job.got.data, "text/event-stream") && strstr(job.got.data, "retry: "),
          "an event stream with a retry delay");
    response_free(&r);
    sb_free(&job.got);

    /* a viewer arriving (or reconnecting) later is shown the wall as it stands at once */
    strbuf again = {0};
    read_events(sp.port, &again, 0.5);
    n = last_frame(again.data ? again.data : "", got, 97);
    CHECK(n == 96 && !memcmp(got, want, sizeof want), "a reconnect gets the current frame");
    sb_free(&again);
    CHECK(stop_server(&sp) == 0, "stops cleanly with a wall");

    /* without --wall there is no wall */
    if (start_server(&sp, model, "-t 1") == 0) {
        r = get(sp.port, "/wall");
        CHECK(r.status == 404, "no /wall unless asked: %d", r.status);
        response_free(&r);
        CHECK(stop_server(&sp) == 0, "stops cleanly");
    }
}

int main(void)
{
    const char *model = test_data_path("models/stories260K.gguf");
    if (!model)
        return test_done();
    signal(SIGPIPE, SIG_IGN);
    server_proc sp;
    if (start_server(&sp, model, "--parallel 2 --queue 64 --read-timeout 1 -t 1") != 0) {
        CHECK(0, "the server started");
        return test_done();
    }
    test_basics(sp.port);
    test_completion_matches_generate(sp.port, model);
    test_chat_stream(sp.port);
    test_refusals(sp.port);
    test_pipelining_and_continue(sp.port);
    test_slowloris(sp.port);
    test_crowd(sp.port, 1);
    test_many_requests(sp.port);
    CHECK(stop_server(&sp) == 0, "the server stops cleanly after all that (and leaks nothing under LSan)");

    if (start_server(&sp, model, "--parallel 1 --queue 2 -t 1 --max-tokens 1000000") == 0) {
        test_disconnect(sp.port);
        test_first_come(sp.port);
        test_crowd(sp.port, 0);
        CHECK(stop_server(&sp) == 0, "the one-slot server stops cleanly");
    } else {
        CHECK(0, "the one-slot server started");
    }
    test_api_key(model);
    test_limits(model);
    test_wall(model);
    return test_done();
}
