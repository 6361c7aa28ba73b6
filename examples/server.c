/*
 * server — an OpenAI-compatible HTTP server on liblatent, so that other programs (a
 * home-automation hub, a script, the `openai` Python package) can talk to a model on a Pi.
 *
 *     build/server -m MODEL.gguf [--host 127.0.0.1] [--port 8080] [--parallel N]
 *                  [--queue N] [--api-key KEY] [--mem-budget BYTES] ...
 *
 *   POST /v1/chat/completions   messages through the model's chat template; stream: true
 *                               sends server-sent events ending with "data: [DONE]"
 *   POST /v1/completions        a raw prompt
 *   GET  /v1/models, GET /health
 *   GET  /wall                  (with --wall) the text being generated on the 16 x 6
 *                               sixteen-segment wall, live in a browser
 *
 * One model, N slots (a context each, sharing the model's weights). A connection is a
 * thread; a request that needs a slot waits in a bounded queue (503 when it is full) and
 * a client that goes away gives its slot back before the next token. Every limit (head,
 * body, prompt tokens, read time, a slot's memory) is an error answer, never a crash:
 * the server outlives its clients. Only include/latent.h is used, as any program would.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "latent.h"
#include "server/http.h"
#include "server/json.h"
#include "server/wall_page.h"
#include "wall.h"

#define MAX_STOPS 4
#define MAX_MESSAGES 1024

typedef struct options {
    const char *model;
    const char *host;
    int port;
    int parallel;
    int queue;
    int max_connections;
    const char *api_key;
    size_t max_header;
    size_t max_body;
    int max_prompt_tokens;
    int max_tokens;      /* the most a request may ask for, and what it gets when it does not ask */
    double read_timeout; /* seconds for a whole request to arrive (and for an idle keep-alive) */
    int threads;         /* per slot */
    size_t mem_budget;   /* per slot; 0: none */
    latent_type kv_type;
    int quiet;
    int wall; /* serve /wall: off by default, as it shows what others' requests generate */
    int wall_cols, wall_rows;
} options;

typedef struct slot {
    latent_context *ctx;
    int busy;
} slot;

typedef struct server {
    options o;
    latent_model *model;
    char model_id[256];
    slot *slots;
    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t conn_done;
    int n_waiting;
    struct waiter *line; /* requests waiting for a slot, first come first served */
    int n_conns;
    unsigned long next_id;
    /* the wall (with --wall): one generation at a time writes on it */
    wall *wall;
    pthread_mutex_t wall_mu; /* guards the wall and the fields below */
    pthread_cond_t wall_changed;
    uint32_t *frame; /* the masks as they stand */
    size_t frame_len;
    unsigned long frame_version;
    const void *wall_owner; /* the generation writing, NULL when none */
} server;

typedef struct conn {
    server *srv;
    int fd;
    char *buf; /* the request head (and whatever followed it), max_header bytes */
    size_t used;
    int keep; /* the connection may carry another request after this response */
} conn;

/* Set by SIGINT/SIGTERM, read by every thread: an atomic (lock-free, so a signal
 * handler may store to it), not a volatile, which is no promise across threads. */
static atomic_int stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* ============================================================================
 * Options
 * ========================================================================== */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: server -m MODEL.gguf [options]\n"
            "  -m, --model FILE          the GGUF model\n"
            "  --host ADDR               address to listen on (default 127.0.0.1: this machine only)\n"
            "  --port N                  (default 8080; 0 picks a free port, printed at start)\n"
            "  --parallel N              slots generating at once, one context each (default 1)\n"
            "  --queue N                 requests that may wait for a slot; more get 503 (default 16)\n"
            "  --max-connections N       open connections; more get 503 (default 128)\n"
            "  --api-key KEY             require 'Authorization: Bearer KEY' on /v1/ (or env LATENT_API_KEY)\n"
            "  --mem-budget BYTES        memory per slot: KV cache and scratch (default 256M)\n"
            "  --max-tokens N            the most tokens a request may generate, and the default (1024)\n"
            "  --max-prompt-tokens N     (default 4096)\n"
            "  --max-body BYTES          (default 1M)\n"
            "  --max-header BYTES        (default 16k)\n"
            "  --read-timeout SECONDS    for a whole request to arrive; slower clients are dropped (10)\n"
            "  -t, --threads N           threads per slot (default: the cores shared among the slots)\n"
            "  --kv-type f16|f32|q8_0    KV cache entries (default f16)\n"
            "  --wall                    serve GET /wall: the text being generated, live on a 16 x 6\n"
            "                            sixteen-segment wall in a browser (anyone who can reach the\n"
            "                            port sees what every request generates)\n"
            "  -q, --quiet               no line per request on stderr\n"
            "  --version                 the library's version\n");
}

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->parallel = 1;
    o->queue = 16;
    o->max_connections = 128;
    o->max_header = 16 << 10;
    o->max_body = 1 << 20;
    o->max_prompt_tokens = 4096;
    o->max_tokens = 1024;
    o->read_timeout = 10;
    o->mem_budget = (size_t)256 << 20;
    o->kv_type = LATENT_TYPE_F16;
    o->api_key = getenv("LATENT_API_KEY");
    o->wall_cols = 16;
    o->wall_rows = 6;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int bad = 0;
        float timeout = 0;
#define VALUE() ((v = cli_value(argc, argv, &i)) != NULL)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--version")) {
            printf("latent-server %s\n", latent_version_string());
            exit(0);
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            bad = !VALUE() || !(o->model = v);
        } else if (!strcmp(a, "--host")) {
            bad = !VALUE() || !(o->host = v);
        } else if (!strcmp(a, "--port")) {
            bad = !VALUE() || cli_int(a, v, 0, 65535, &o->port);
        } else if (!strcmp(a, "--parallel") || !strcmp(a, "-np")) {
            bad = !VALUE() || cli_int(a, v, 1, 256, &o->parallel);
        } else if (!strcmp(a, "--queue")) {
            bad = !VALUE() || cli_int(a, v, 0, 100000, &o->queue);
        } else if (!strcmp(a, "--max-connections")) {
            bad = !VALUE() || cli_int(a, v, 1, 100000, &o->max_connections);
        } else if (!strcmp(a, "--api-key")) {
            bad = !VALUE() || !(o->api_key = v);
        } else if (!strcmp(a, "--mem-budget")) {
            bad = !VALUE() || cli_bytes(a, v, &o->mem_budget);
        } else if (!strcmp(a, "--max-tokens")) {
            bad = !VALUE() || cli_int(a, v, 1, 1 << 24, &o->max_tokens);
        } else if (!strcmp(a, "--max-prompt-tokens")) {
            bad = !VALUE() || cli_int(a, v, 1, 1 << 24, &o->max_prompt_tokens);
        } else if (!strcmp(a, "--max-body")) {
            bad = !VALUE() || cli_bytes(a, v, &o->max_body);
        } else if (!strcmp(a, "--max-header")) {
            bad = !VALUE() || cli_bytes(a, v, &o->max_header) ||
                  (o->max_header < 256 && (cli_error("--max-header: at least 256 bytes"), 1));
        } else if (!strcmp(a, "--read-timeout")) {
            bad = !VALUE() || cli_float(a, v, 0.05, 3600, &timeout);
            o->read_timeout = timeout;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            bad = !VALUE() || cli_int(a, v, 1, 1024, &o->threads);
        } else if (!strcmp(a, "--kv-type")) {
            latent_sampler_params unused;
            bad = cli_sampling_flag(argc, argv, &i, &unused, &o->kv_type) != 1;
        } else if (!strcmp(a, "--wall")) {
            o->wall = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else {
            cli_error("unknown argument '%s' (try --help)", a);
            bad = 1;
        }
#undef VALUE
        if (bad)
            return -1;
    }
    if (!o->model) {
        cli_error("no model given (-m MODEL.gguf)");
        return -1;
    }
    if (o->api_key && !*o->api_key) {
        cli_error("--api-key: the key is empty");
        return -1;
    }
    if (o->threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        o->threads = cores > o->parallel ? (int)(cores / o->parallel) : 1;
    }
    return 0;
}

/* ============================================================================
 * Sockets: reading with a deadline, writing all of it
 * ========================================================================== */

static double deadline_after(double seconds)
{
    return cli_now() + seconds;
}

/* Waits until fd is readable or the deadline passes (or the server stops). 1 readable,
 * 0 timed out or stopping, -1 error. Polls in short steps so a stop is seen. */
static int wait_readable(int fd, double deadline)
{
    for (;;) {
        double left = deadline - cli_now();
        if (left <= 0 || stopping)
            return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ms = left > 0.25 ? 250 : (int)(left * 1000) + 1;
        int r = poll(&p, 1, ms);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

/* Reads what is there (at most cap bytes) before the deadline: >0 bytes, 0 the peer
 * closed or the time is up, -1 error. */
static ssize_t read_some(int fd, char *buf, size_t cap, double deadline)
{
    int r = wait_readable(fd, deadline);
    if (r <= 0)
        return r;
    ssize_t n;
    do
        n = recv(fd, buf, cap, 0);
    while (n < 0 && errno == EINTR);
    return n;
}

static int send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* 1 when the client has closed its end (or the connection broke). Data it sent
 * meanwhile (a pipelined request) does not count as leaving. */
static int client_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0)
        return 0;
    if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
        return 1;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* ============================================================================
 * Responses
 * ========================================================================== */

/* keep_alive 0 ends the connection after this response (c->keep: whether the client
 * wanted it kept). */
static int send_response(conn *c, int status, const char *type, const char *body, size_t len, int keep_alive)
{
    c->keep &= keep_alive;
    keep_alive = c->keep;
    /* RFC 9110 11.6.1: a 401 names the scheme it wants. Head and body in one write: two would cost a round trip with delayed ACKs */
    strbuf out = {0};
    sb_printf(&out,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: %s\r\n"
              "Cache-Control: no-store\r\n%s\r\n",
              status, http_reason(status), type, len, keep_alive ? "keep-alive" : "close",
              status == 401 ? "WWW-Authenticate: Bearer\r\n" : "");
    sb_append(&out, body, len);
    int rc = out.failed || send_all(c->fd, out.data, out.len) ? -1 : 0;
    sb_free(&out);
    return rc;
}

static int send_json(conn *c, int status, const strbuf *sb, int keep_alive)
{
    if (sb->failed) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":null}}";
        return send_response(c, 500, "application/json", oom, sizeof oom - 1, 0);
    }
    return send_response(c, status, "application/json", sb->data, sb->len, keep_alive);
}

/* The OpenAI error object: {"error": {"message", "type", "param", "code"}}. */
static void write_error(strbuf *sb, int status, const char *code, const char *message)
{
    const char *type = status == 401   ? "authentication_error"
                       : status >= 500 ? "server_error"
                                       : "invalid_request_error";
    sb_puts(sb, "{\"error\":{\"message\":");
    json_write_string(sb, message, strlen(message));
    sb_printf(sb, ",\"type\":\"%s\",\"param\":null,\"code\":", type);
    if (code)
        json_write_string(sb, code, strlen(code));
    else
        sb_puts(sb, "null");
    sb_puts(sb, "}}");
}

static int send_error(conn *c, int status, const char *code, const char *message, int keep_alive)
{
    strbuf sb = {0};
    write_error(&sb, status, code, message);
    int rc = send_json(c, status, &sb, keep_alive);
    sb_free(&sb);
    return rc;
}

/* ============================================================================
 * A generation request, read from JSON
 * ========================================================================== */

typedef struct gen_request {
    int chat;   /* /v1/chat/completions, else /v1/completions */
    int stream;
    int include_usage;
    int32_t max_tokens;
    latent_sampler_params sp;
    const char *stops[MAX_STOPS]; /* inside the JSON document */
    size_t stop_len[MAX_STOPS];
    int n_stops;
    char *prompt; /* the text the model sees (malloc'd) */
} gen_request;

/* A number member within [lo, hi]; absent leaves *out alone. 0 ok, -1 with err set. */
static int get_number(const json_value *root, const char *key, double lo, double hi, int integer, double *out,
                      char *err, size_t cap)
{
    const json_value *v = json_get(root, key);
    if (!v || v->type == JSON_NULL)
        return 0;
    if (v->type != JSON_NUMBER || !(v->num >= lo && v->num <= hi) || (integer && v->num != (double)(int64_t)v->num)) {
        snprintf(err, cap, "'%s' must be %s from %g to %g", key, integer ? "a whole number" : "a number", lo, hi);
        return -1;
    }
    *out = v->num;
    return 0;
}

static int get_bool(const json_value *root, const char *key, int *out, char *err, size_t cap)
{
    const json_value *v = json_get(root, key);
    if (!v || v->type == JSON_NULL)
        return 0;
    if (v->type != JSON_TRUE && v->type != JSON_FALSE) {
        snprintf(err, cap, "'%s' must be true or false", key);
        return -1;
    }
    *out = v->type == JSON_TRUE;
    return 0;
}

static int read_stops(const json_value *root, gen_request *g, char *err, size_t cap)
{
    const json_value *v = json_get(root, "stop");
    if (!v || v->type == JSON_NULL)
        return 0;
    const json_value *one = v->type == JSON_STRING ? v : NULL;
    if (v->type == JSON_ARRAY && v->len <= MAX_STOPS) {
        for (const json_value *s = v->child; s; s = s->next) {
            if (s->type != JSON_STRING || s->len == 0)
                goto bad;
            g->stops[g->n_stops] = s->str;
            g->stop_len[g->n_stops++] = s->len;
        }
        return 0;
    }
    if (one && one->len > 0) {
        g->stops[0] = one->str;
        g->stop_len[0] = one->len;
        g->n_stops = 1;
        return 0;
    }
bad:
    snprintf(err, cap, "'stop' must be a non-empty string or an array of at most %d of them", MAX_STOPS);
    return -1;
}

/* The sampling and length fields both endpoints share. */
static int read_common(const server *srv, const json_value *root, gen_request *g, char *err, size_t cap)
{
    double temp = g->sp.temperature, top_p = g->sp.top_p, n = 1, seed = 0, max_tokens = srv->o.max_tokens;
    double presence = 0, frequency = 0;
    if (get_number(root, "max_tokens", 1, srv->o.max_tokens, 1, &max_tokens, err, cap) ||
        get_number(root, "max_completion_tokens", 1, srv->o.max_tokens, 1, &max_tokens, err, cap) ||
        get_number(root, "temperature", 0, 2, 0, &temp, err, cap) ||
        get_number(root, "top_p", 0, 1, 0, &top_p, err, cap) ||
        get_number(root, "n", 1, 1, 1, &n, err, cap) ||
        get_number(root, "seed", -9.2e18, 9.2e18, 1, &seed, err, cap) ||
        get_number(root, "presence_penalty", -2, 2, 0, &presence, err, cap) ||
        get_number(root, "frequency_penalty", -2, 2, 0, &frequency, err, cap) ||
        get_bool(root, "stream", &g->stream, err, cap) || read_stops(root, g, err, cap))
        return -1;
    const json_value *so = json_get(root, "stream_options");
    if (so && so->type == JSON_OBJECT && get_bool(so, "include_usage", &g->include_usage, err, cap))
        return -1;
    g->max_tokens = (int32_t)max_tokens;
    g->sp.temperature = (float)temp;
    g->sp.top_p = top_p > 0 ? (float)top_p : 1e-6f; /* 0 means "only the most likely", as greedy */
    g->sp.presence_penalty = (float)presence;
    g->sp.frequency_penalty = (float)frequency;
    const json_value *given_seed = json_get(root, "seed");
    if (given_seed && given_seed->type == JSON_NUMBER)
        g->sp.seed = (uint64_t)(int64_t)seed;
    return 0;
}

/* A message's content: a string, or an array of {"type": "text", "text": ...} parts
 * (joined). NULL content (an assistant turn that called tools) is empty. */
static char *message_text(const json_value *content, char *err, size_t cap)
{
    strbuf sb = {0};
    sb_append(&sb, "", 0);
    if (content && content->type == JSON_STRING) {
        sb_append(&sb, content->str, content->len);
    } else if (content && content->type == JSON_ARRAY) {
        for (const json_value *part = content->child; part; part = part->next) {
            const json_value *type = json_get(part, "type"), *text = json_get(part, "text");
            if (!type || type->type != JSON_STRING || strcmp(type->str, "text") || !text || text->type != JSON_STRING) {
                snprintf(err, cap, "only text content parts are understood");
                sb_free(&sb);
                return NULL;
            }
            sb_append(&sb, text->str, text->len);
        }
    } else if (content && content->type != JSON_NULL) {
        snprintf(err, cap, "a message's 'content' must be a string or an array of text parts");
        sb_free(&sb);
        return NULL;
    }
    if (sb.failed || strlen(sb.data) != sb.len) {
        snprintf(err, cap, sb.failed ? "out of memory" : "a message holds a NUL character");
        sb_free(&sb);
        return NULL;
    }
    return sb.data;
}

/* messages → the prompt text through the model's chat template. */
static int read_messages(const server *srv, const json_value *root, gen_request *g, char *err, size_t cap)
{
    const json_value *msgs = json_get(root, "messages");
    if (!msgs || msgs->type != JSON_ARRAY || msgs->len == 0 || msgs->len > MAX_MESSAGES) {
        snprintf(err, cap, "'messages' must be an array of 1 to %d messages", MAX_MESSAGES);
        return -1;
    }
    latent_chat_message *cm = calloc(msgs->len, sizeof *cm);
    char **texts = calloc(msgs->len, sizeof *texts);
    size_t n = 0;
    int rc = -1;
    if (!cm || !texts) {
        snprintf(err, cap, "out of memory");
        goto done;
    }
    for (const json_value *m = msgs->child; m; m = m->next, n++) {
        const json_value *role = json_get(m, "role");
        static const char *const roles[] = {"system", "user", "assistant", "developer"};
        size_t r = 0;
        while (role && role->type == JSON_STRING && r < 4 && strcmp(role->str, roles[r]))
            r++;
        if (!role || role->type != JSON_STRING || r == 4) {
            snprintf(err, cap, "message %zu: 'role' must be system, user, assistant or developer", n);
            goto done;
        }
        if (!(texts[n] = message_text(json_get(m, "content"), err, cap)))
            goto done;
        cm[n].role = r == 3 ? "system" : roles[r]; /* "developer" is the newer name for system */
        cm[n].content = texts[n];
    }
    latent_chat_template tmpl = latent_model_chat_template(srv->model);
    size_t len = 0;
    latent_status st = latent_chat_format(tmpl, cm, n, 1, NULL, 0, &len);
    if ((st != LATENT_OK && st != LATENT_ERANGE) || !(g->prompt = malloc(len + 1)) ||
        latent_chat_format(tmpl, cm, n, 1, g->prompt, len + 1, &len) != LATENT_OK) {
        snprintf(err, cap, "chat template: %s", g->prompt ? latent_last_error() : "out of memory");
        goto done;
    }
    rc = 0;
done:
    for (size_t i = 0; texts && i < msgs->len; i++)
        free(texts[i]);
    free(texts);
    free(cm);
    return rc;
}

static int read_prompt(const json_value *root, gen_request *g, char *err, size_t cap)
{
    const json_value *p = json_get(root, "prompt");
    if (p && p->type == JSON_ARRAY && p->len == 1)
        p = p->child;
    if (!p || p->type != JSON_STRING) {
        snprintf(err, cap, "'prompt' must be a string (or an array holding one)");
        return -1;
    }
    if (strlen(p->str) != p->len) {
        snprintf(err, cap, "the prompt holds a NUL character");
        return -1;
    }
    if (!(g->prompt = strdup(p->str))) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    return 0;
}

/* ============================================================================
 * Slots: one context each; a bounded queue of requests waiting for one
 * ========================================================================== */

/* A request waiting for a slot, in line: a slot that comes free is handed to the first
 * in line, so a request cannot be overtaken forever by newer ones. */
typedef struct waiter {
    struct waiter *next;
    slot *got; /* set by release_slot */
    int in_line;
    pthread_cond_t handed;
} waiter;

static void leave_line(server *srv, waiter *w)
{
    for (waiter **p = &srv->line; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    w->in_line = 0;
}

/* A slot, marked busy; NULL when the queue is full (*full set) or the client left (or
 * the server is stopping) while it waited. */
static slot *acquire_slot(server *srv, conn *c, int *full)
{
    *full = 0;
    pthread_mutex_lock(&srv->mu);
    slot *got = NULL;
    for (int i = 0; i < srv->o.parallel && !got && !srv->line; i++)
        if (!srv->slots[i].busy)
            got = &srv->slots[i];
    if (got || stopping || srv->n_waiting >= srv->o.queue) {
        if (got)
            got->busy = 1;
        *full = !got && !stopping;
        pthread_mutex_unlock(&srv->mu);
        return got;
    }
    waiter w = {.in_line = 1};
    pthread_cond_init(&w.handed, NULL);
    waiter **tail = &srv->line;
    while (*tail)
        tail = &(*tail)->next;
    *tail = &w;
    srv->n_waiting++;
    while (!w.got && !stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w.handed, &srv->mu, &ts);
        if (!w.got && client_gone(c->fd))
            break;
    }
    if (w.in_line)
        leave_line(srv, &w);
    srv->n_waiting--;
    pthread_mutex_unlock(&srv->mu);
    pthread_cond_destroy(&w.handed);
    return w.got;
}

static void release_slot(server *srv, slot *s)
{
    latent_context_reset(s->ctx); /* an idle slot holds no KV cache */
    pthread_mutex_lock(&srv->mu);
    waiter *first = srv->line;
    if (first) {
        leave_line(srv, first);
        first->got = s; /* still busy: it changes hands */
        pthread_cond_signal(&first->handed);
    } else {
        s->busy = 0;
    }
    pthread_mutex_unlock(&srv->mu);
}

/* ============================================================================
 * The wall: the text of one generation at a time, as frames for /wall/events
 * ========================================================================== */

static void wall_publish(server *srv)
{
    wall_frame(srv->wall, srv->frame, srv->frame_len);
    srv->frame_version++;
    pthread_cond_broadcast(&srv->wall_changed);
}

/* The wall is `owner`'s if no other generation holds it: cleared for its text. */
static void wall_take(server *srv, const void *owner)
{
    if (!srv->wall)
        return;
    pthread_mutex_lock(&srv->wall_mu);
    if (!srv->wall_owner) {
        srv->wall_owner = owner;
        wall_clear(srv->wall);
        wall_publish(srv);
    }
    pthread_mutex_unlock(&srv->wall_mu);
}

static void wall_feed(server *srv, const void *owner, const char *text, size_t len)
{
    if (!srv->wall || !len)
        return;
    pthread_mutex_lock(&srv->wall_mu);
    if (srv->wall_owner == owner) {
        wall_write(srv->wall, text, len);
        wall_publish(srv);
    }
    pthread_mutex_unlock(&srv->wall_mu);
}

/* The text stays on the wall until the next generation takes it. */
static void wall_release(server *srv, const void *owner)
{
    if (!srv->wall)
        return;
    pthread_mutex_lock(&srv->wall_mu);
    if (srv->wall_owner == owner)
        srv->wall_owner = NULL;
    pthread_mutex_unlock(&srv->wall_mu);
}

/* ============================================================================
 * Generation: tokens out as they come, held back only while they might begin a stop
 * ========================================================================== */

typedef struct generation {
    conn *c;
    const gen_request *g;
    char id[48];
    long created;
    strbuf text;    /* everything generated so far (cut at a stop string) */
    size_t emitted; /* bytes of text already sent (streaming) */
    int n_prompt, n_gen;
    const char *finish;
    int gone; /* the client went away */
} generation;

/* The start of the longest suffix of text that begins some stop string: those bytes may
 * yet become a stop, so they are not sent. */
static size_t safe_end(const generation *ge)
{
    size_t len = ge->text.len, end = len;
    for (int s = 0; s < ge->g->n_stops; s++) {
        size_t n = ge->g->stop_len[s];
        for (size_t k = n - 1; k > 0; k--)
            if (k <= len - ge->emitted && !memcmp(ge->text.data + len - k, ge->g->stops[s], k)) {
                if (len - k < end)
                    end = len - k;
                break;
            }
    }
    /* a stop string that ends inside a character would otherwise split it */
    while (end > ge->emitted && end < len && ((unsigned char)ge->text.data[end] & 0xC0) == 0x80)
        end--;
    return end;
}

static const char *find_bytes(const char *hay, size_t n, const char *needle, size_t m)
{
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (hay[i] == needle[0] && !memcmp(hay + i, needle, m))
            return hay + i;
    return NULL;
}

/* 1 (text cut there) when a stop string now appears in the unsent text. */
static int cut_at_stop(generation *ge)
{
    size_t best = SIZE_MAX;
    for (int s = 0; s < ge->g->n_stops; s++) {
        const char *hit = find_bytes(ge->text.data + ge->emitted, ge->text.len - ge->emitted, ge->g->stops[s],
                                 ge->g->stop_len[s]);
        if (hit && (size_t)(hit - ge->text.data) < best)
            best = (size_t)(hit - ge->text.data);
    }
    if (best == SIZE_MAX)
        return 0;
    ge->text.len = best;
    ge->text.data[best] = 0;
    return 1;
}

static void write_usage(strbuf *sb, const generation *ge)
{
    sb_printf(sb, "\"usage\":{\"prompt_tokens\":%d,\"completion_tokens\":%d,\"total_tokens\":%d}", ge->n_prompt,
              ge->n_gen, ge->n_prompt + ge->n_gen);
}

/* One server-sent event: a chunk holding text (or the finish), optionally the usage. */
static int send_chunk(generation *ge, const char *text, size_t len, const char *finish, int usage, int role)
{
    strbuf sb = {0};
    sb_printf(&sb, "data: {\"id\":\"%s\",\"object\":\"%s\",\"created\":%ld,\"model\":", ge->id,
              ge->g->chat ? "chat.completion.chunk" : "text_completion", ge->created);
    json_write_string(&sb, ge->c->srv->model_id, strlen(ge->c->srv->model_id));
    sb_puts(&sb, ",\"choices\":[");
    if (text || finish) {
        sb_puts(&sb, "{\"index\":0,");
        if (ge->g->chat) {
            sb_puts(&sb, "\"delta\":{");
            if (role)
                sb_puts(&sb, "\"role\":\"assistant\"");
            if (text) {
                sb_puts(&sb, role ? ",\"content\":" : "\"content\":");
                json_write_string(&sb, text, len);
            }
            sb_puts(&sb, "},");
        } else {
            sb_puts(&sb, "\"text\":");
            json_write_string(&sb, text ? text : "", text ? len : 0);
            sb_puts(&sb, ",");
        }
        sb_puts(&sb, "\"logprobs\":null,\"finish_reason\":");
        if (finish)
            sb_printf(&sb, "\"%s\"", finish);
        else
            sb_puts(&sb, "null");
        sb_puts(&sb, "}");
    }
    sb_puts(&sb, "]");
    if (usage) {
        sb_puts(&sb, ",");
        write_usage(&sb, ge);
    }
    sb_puts(&sb, "}\n\n");
    int rc = sb.failed || send_all(ge->c->fd, sb.data, sb.len) ? -1 : 0;
    sb_free(&sb);
    if (rc)
        ge->gone = 1;
    return rc;
}

/* Sends the text that can no longer become part of a stop string. */
static void stream_ready_text(generation *ge, size_t end)
{
    if (end > ge->emitted && !ge->gone)
        send_chunk(ge, ge->text.data + ge->emitted, end - ge->emitted, NULL, 0, 0);
    ge->emitted = end;
}

static int send_complete(generation *ge)
{
    strbuf sb = {0};
    sb_printf(&sb, "{\"id\":\"%s\",\"object\":\"%s\",\"created\":%ld,\"model\":", ge->id,
              ge->g->chat ? "chat.completion" : "text_completion", ge->created);
    json_write_string(&sb, ge->c->srv->model_id, strlen(ge->c->srv->model_id));
    sb_puts(&sb, ",\"choices\":[{\"index\":0,");
    if (ge->g->chat) {
        sb_puts(&sb, "\"message\":{\"role\":\"assistant\",\"content\":");
        json_write_string(&sb, ge->text.data ? ge->text.data : "", ge->text.len);
        sb_puts(&sb, "},");
    } else {
        sb_puts(&sb, "\"text\":");
        json_write_string(&sb, ge->text.data ? ge->text.data : "", ge->text.len);
        sb_puts(&sb, ",");
    }
    sb_printf(&sb, "\"logprobs\":null,\"finish_reason\":\"%s\"}],", ge->finish);
    write_usage(&sb, ge);
    sb_puts(&sb, "}");
    int rc = send_json(ge->c, 200, &sb, 1);
    sb_free(&sb);
    return rc;
}

/* Adds the bytes of one token; 1 when a stop string ended the text. */
static int add_text(generation *ge, const char *piece, size_t len)
{
    sb_append(&ge->text, piece, len);
    if (ge->text.failed)
        return 1;
    if (cut_at_stop(ge)) {
        ge->finish = "stop";
        return 1;
    }
    return 0;
}

/* Samples after the evaluated prompt until an end token, a stop string, max_tokens, the
 * slot's memory budget, or the client leaving. */
static void generate_tokens(generation *ge, latent_context *ctx, latent_sampler *sampler, latent_token last_prompt)
{
    const latent_model *model = ge->c->srv->model;
    latent_decoder *dec = NULL;
    char piece[1024];
    size_t len;
    if (latent_decoder_create(model, &dec) != LATENT_OK) {
        ge->finish = "error";
        return;
    }
    if (last_prompt == latent_token_bos(model))
        latent_decoder_push(dec, last_prompt, piece, sizeof piece, &len);
    ge->finish = "length";
    while (ge->n_gen < ge->g->max_tokens && !stopping) {
        latent_token tok;
        if (latent_sampler_sample(sampler, latent_context_logits(ctx), &tok) != LATENT_OK) {
            ge->finish = "error";
            break;
        }
        if (latent_token_is_end(model, tok)) {
            ge->finish = "stop";
            break;
        }
        ge->n_gen++;
        if (latent_decoder_push(dec, tok, piece, sizeof piece, &len) != LATENT_OK)
            len = 0;
        wall_feed(ge->c->srv, ge, piece, len);
        if (len && add_text(ge, piece, len))
            break;
        if (ge->g->stream)
            stream_ready_text(ge, safe_end(ge));
        if (ge->gone || client_gone(ge->c->fd)) {
            ge->gone = 1;
            break;
        }
        /* out of the slot's memory mid-answer: the answer ends there, as at max_tokens */
        if (ge->n_gen < ge->g->max_tokens && latent_eval(ctx, &tok, 1) != LATENT_OK)
            break;
    }
    if (!ge->gone && strcmp(ge->finish, "stop") && latent_decoder_flush(dec, piece, sizeof piece, &len) == LATENT_OK)
        add_text(ge, piece, len);
    latent_decoder_free(dec);
}

/* Evaluates the prompt in a slot and answers, streaming or whole. Returns the HTTP
 * status it answered with (0 when the client left). */
static int run_in_slot(conn *c, const gen_request *g, const latent_token *toks, size_t n_toks, slot *s)
{
    server *srv = c->srv;
    generation ge = {.c = c, .g = g, .n_prompt = (int)n_toks, .created = (long)time(NULL)};
    pthread_mutex_lock(&srv->mu);
    unsigned long id = ++srv->next_id;
    pthread_mutex_unlock(&srv->mu);
    snprintf(ge.id, sizeof ge.id, "%s-%lx%04lx", g->chat ? "chatcmpl" : "cmpl", (unsigned long)ge.created, id);

    latent_sampler *sampler = NULL;
    latent_status st = latent_eval(s->ctx, toks, n_toks);
    if (st == LATENT_ENOMEM) {
        char msg[256];
        snprintf(msg, sizeof msg, "the prompt (%zu tokens) needs more memory than a slot's budget (--mem-budget)", n_toks);
        send_error(c, 400, "context_length_exceeded", msg, 1);
        return 400;
    }
    if (st != LATENT_OK || latent_sampler_create(latent_n_vocab(srv->model), &g->sp, &sampler) != LATENT_OK) {
        send_error(c, 500, NULL, latent_last_error(), 0);
        return 500;
    }
    for (size_t i = 0; i < n_toks; i++)
        latent_sampler_accept(sampler, toks[i]);
    if (g->stream) {
        /* the stream's end is the connection's: no length to announce */
        static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                                   "Connection: close\r\n\r\n";
        c->keep = 0;
        if (send_all(c->fd, head, sizeof head - 1) || (g->chat && send_chunk(&ge, "", 0, NULL, 0, 1)))
            ge.gone = 1;
    }
    wall_take(srv, &ge);
    if (!ge.gone)
        generate_tokens(&ge, s->ctx, sampler, toks[n_toks - 1]);
    wall_release(srv, &ge);
    int status = ge.gone ? 0 : 200;
    if (!ge.gone && ge.text.failed) {
        send_error(c, 500, NULL, "out of memory", 0);
        status = 500;
    } else if (!ge.gone && g->stream) {
        stream_ready_text(&ge, ge.text.len);
        if (!ge.gone)
            send_chunk(&ge, g->chat ? NULL : "", 0, ge.finish, 1, 0);
        if (!ge.gone && g->include_usage)
            send_chunk(&ge, NULL, 0, NULL, 1, 0);
        if (!ge.gone)
            send_all(c->fd, "data: [DONE]\n\n", 14);
    } else if (!ge.gone) {
        send_complete(&ge);
    }
    if (!srv->o.quiet)
        fprintf(stderr, "server: %s %d prompt tokens, %d generated, %s%s\n", ge.id, ge.n_prompt, ge.n_gen,
                ge.finish, ge.gone ? " (client left)" : "");
    sb_free(&ge.text);
    latent_sampler_free(sampler);
    return status;
}

/* ============================================================================
 * Routes
 * ========================================================================== */

static int handle_generation(conn *c, int chat, const char *body, size_t len)
{
    server *srv = c->srv;
    char err[256];
    json_doc *doc = NULL;
    if (json_parse(body, len, &doc, err, sizeof err) != 0)
        return send_error(c, 400, NULL, err, 1), 400;
    gen_request g = {.chat = chat, .sp = latent_sampler_default_params()};
    g.sp.seed = (uint64_t)time(NULL) ^ ((uint64_t)c->fd << 32) ^ (uint64_t)clock();
    const json_value *root = json_root(doc);
    int status = 400;
    latent_token *toks = NULL;
    if (root->type != JSON_OBJECT) {
        send_error(c, 400, NULL, "the body must be a JSON object", 1);
        goto done;
    }
    if (read_common(srv, root, &g, err, sizeof err) ||
        (chat ? read_messages(srv, root, &g, err, sizeof err) : read_prompt(root, &g, err, sizeof err))) {
        send_error(c, 400, NULL, err, 1);
        goto done;
    }
    int flags = LATENT_TOKENIZE_ADD_BOS | (chat ? LATENT_TOKENIZE_SPECIAL : 0);
    size_t n = 0;
    latent_status st = latent_tokenize(srv->model, g.prompt, strlen(g.prompt), flags, NULL, 0, &n);
    if (st == LATENT_ERANGE && n > (size_t)srv->o.max_prompt_tokens) {
        snprintf(err, sizeof err, "the prompt is %zu tokens; this server takes at most %d (--max-prompt-tokens)", n,
                 srv->o.max_prompt_tokens);
        send_error(c, 400, "context_length_exceeded", err, 1);
        goto done;
    }
    if ((st != LATENT_OK && st != LATENT_ERANGE) || !(toks = malloc((n ? n : 1) * sizeof *toks)) ||
        latent_tokenize(srv->model, g.prompt, strlen(g.prompt), flags, toks, n, &n) != LATENT_OK) {
        send_error(c, 500, NULL, toks ? latent_last_error() : "out of memory", 0);
        status = 500;
        goto done;
    }
    if (n == 0) {
        send_error(c, 400, NULL, "the prompt is empty and the model has no BOS token to start from", 1);
        goto done;
    }
    int full;
    slot *s = acquire_slot(srv, c, &full);
    if (!s) {
        if (full)
            send_error(c, 503, NULL, "every slot is busy and the queue is full; try again later", 0);
        status = full ? 503 : 0;
        goto done;
    }
    status = run_in_slot(c, &g, toks, n, s);
    release_slot(srv, s);
done:
    free(toks);
    free(g.prompt);
    json_free(doc);
    return status;
}

static void write_model(strbuf *sb, const server *srv)
{
    sb_puts(sb, "{\"id\":");
    json_write_string(sb, srv->model_id, strlen(srv->model_id));
    sb_printf(sb, ",\"object\":\"model\",\"created\":%ld,\"owned_by\":\"liblatent\"}", (long)time(NULL));
}

/* GET /v1/models, or GET /v1/models/ID (one model, or 404). */
static int handle_models(conn *c, const http_request *req)
{
    strbuf sb = {0};
    int status = 200;
    if (http_path_is(req, "/v1/models")) {
        sb_puts(&sb, "{\"object\":\"list\",\"data\":[");
        write_model(&sb, c->srv);
        sb_puts(&sb, "]}");
    } else {
        size_t n = strlen(c->srv->model_id);
        const char *id = req->target + 11;
        size_t id_len = req->target_len - 11;
        if (id_len == n && !memcmp(id, c->srv->model_id, n))
            write_model(&sb, c->srv);
        else
            write_error(&sb, status = 404, "model_not_found", "this server has one model; GET /v1/models names it");
    }
    send_json(c, status, &sb, 1);
    sb_free(&sb);
    return status;
}

static int handle_health(conn *c)
{
    server *srv = c->srv;
    int idle = 0, waiting;
    pthread_mutex_lock(&srv->mu);
    for (int i = 0; i < srv->o.parallel; i++)
        idle += !srv->slots[i].busy;
    waiting = srv->n_waiting;
    pthread_mutex_unlock(&srv->mu);
    strbuf sb = {0};
    sb_printf(&sb, "{\"status\":\"ok\",\"slots_idle\":%d,\"slots_total\":%d,\"queued\":%d}", idle, srv->o.parallel,
              waiting);
    send_json(c, 200, &sb, 1);
    sb_free(&sb);
    return 200;
}

static int handle_wall_page(conn *c)
{
    strbuf sb = {0};
    wall_page_html(&sb, c->srv->o.wall_cols, c->srv->o.wall_rows, "/wall/events");
    int rc = sb.failed ? send_error(c, 500, NULL, "out of memory", 0)
                       : send_response(c, 200, "text/html; charset=utf-8", sb.data, sb.len, 1);
    sb_free(&sb);
    return rc ? 0 : 200;
}

/* Server-sent events: the wall as it stands, then every change, until the client
 * leaves. A comment line each second finds a client that left without a word. */
static int handle_wall_events(conn *c)
{
    server *srv = c->srv;
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
                               "Connection: close\r\n\r\nretry: 1000\n\n";
    c->keep = 0;
    if (send_all(c->fd, head, sizeof head - 1))
        return 0;
    uint32_t *frame = malloc(srv->frame_len * sizeof *frame);
    strbuf sb = {0};
    unsigned long seen = 0;
    int first = 1;
    while (frame && !stopping && !client_gone(c->fd)) {
        pthread_mutex_lock(&srv->wall_mu);
        if (!first && srv->frame_version == seen) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&srv->wall_changed, &srv->wall_mu, &ts);
        }
        int changed = first || srv->frame_version != seen;
        seen = srv->frame_version;
        memcpy(frame, srv->frame, srv->frame_len * sizeof *frame);
        pthread_mutex_unlock(&srv->wall_mu);
        first = 0;
        sb_reset(&sb);
        if (changed)
            wall_frame_event(&sb, seen, frame, srv->frame_len);
        else
            sb_puts(&sb, ":\n\n");
        if (sb.failed || send_all(c->fd, sb.data, sb.len))
            break;
    }
    sb_free(&sb);
    free(frame);
    return 0; /* the stream ends with the connection */
}

/* 1 when the request carries the server's key (or none is required). */
static int authorized(const server *srv, const http_request *req)
{
    if (!srv->o.api_key)
        return 1;
    size_t n = 0;
    const char *v = http_header_value(req, "authorization", &n);
    if (!v || n < 7 || strncasecmp(v, "Bearer ", 7))
        return 0;
    return http_secret_equal(v + 7, n - 7, srv->o.api_key, strlen(srv->o.api_key));
}

/* Answers one request; returns the status sent (0: the client left). */
static int route(conn *c, const http_request *req, const char *body)
{
    int keep = 1;
    int gen_chat = http_path_is(req, "/v1/chat/completions"), gen_text = http_path_is(req, "/v1/completions");
    int models = http_path_is(req, "/v1/models") ||
                 (req->target_len > 11 && !memcmp(req->target, "/v1/models/", 11) &&
                  !memchr(req->target, '?', req->target_len));
    int health = http_path_is(req, "/health");
    int wall_page = c->srv->wall && http_path_is(req, "/wall");
    int wall_events = c->srv->wall && http_path_is(req, "/wall/events");
    if (!gen_chat && !gen_text && !models && !health && !wall_page && !wall_events)
        return send_error(c, 404, NULL, "no such endpoint", keep), 404;
    int want_post = gen_chat || gen_text;
    if (!http_method_is(req, want_post ? "POST" : "GET"))
        return send_error(c, 405, NULL, want_post ? "use POST" : "use GET", keep), 405;
    if (health)
        return handle_health(c);
    /* a browser's EventSource cannot send a key: --wall is the operator's consent */
    if (wall_page)
        return handle_wall_page(c);
    if (wall_events)
        return handle_wall_events(c);
    if (!authorized(c->srv, req))
        return send_error(c, 401, "invalid_api_key", "a valid API key is needed (Authorization: Bearer KEY)", keep), 401;
    if (models)
        return handle_models(c, req);
    return handle_generation(c, gen_chat, body, req->content_length);
}

/* ============================================================================
 * Connections: read a head, then a body, with one deadline for both
 * ========================================================================== */

/* Reads until the head is complete; returns http_parse_request's status, or 0 when the
 * client closed or was too slow (408 sent if it had started a request). */
static int read_head(conn *c, http_request *req, double deadline, char *why, size_t cap)
{
    for (;;) {
        if (c->used > 0) {
            int st = http_parse_request(c->buf, c->used, c->srv->o.max_body, req, why, cap);
            if (st != HTTP_INCOMPLETE)
                return st;
            if (c->used >= c->srv->o.max_header) {
                snprintf(why, cap, "the request head is larger than %zu bytes", c->srv->o.max_header);
                return 431;
            }
        }
        ssize_t n = read_some(c->fd, c->buf + c->used, c->srv->o.max_header - c->used, deadline);
        if (n <= 0) {
            if (c->used > 0 && cli_now() >= deadline)
                send_error(c, 408, NULL, "the request did not arrive in time", 0);
            return 0;
        }
        c->used += (size_t)n;
    }
}

/* The body (content_length bytes, malloc'd, NUL-terminated): what followed the head in
 * the buffer, then the rest from the socket. NULL when it did not all arrive in time.
 * *consumed: the bytes of the buffer this request used (the head still points there). */
static char *read_body(conn *c, const http_request *req, double deadline, size_t *consumed)
{
    size_t want = req->content_length;
    char *body = malloc(want + 1);
    if (!body)
        return NULL;
    size_t have = c->used - req->head_len;
    if (have > want)
        have = want;
    memcpy(body, c->buf + req->head_len, have);
    *consumed = req->head_len + have;
    while (have < want) {
        ssize_t n = read_some(c->fd, body + have, want - have, deadline);
        if (n <= 0) {
            if (cli_now() >= deadline)
                send_error(c, 408, NULL, "the request body did not arrive in time", 0);
            free(body);
            return NULL;
        }
        have += (size_t)n;
    }
    body[want] = 0;
    return body;
}

static void serve_connection(conn *c)
{
    const options *o = &c->srv->o;
    c->keep = 1;
    while (c->keep && !stopping) {
        http_request req;
        char why[160];
        double deadline = deadline_after(o->read_timeout);
        int st = read_head(c, &req, deadline, why, sizeof why);
        if (st == 0)
            return;
        if (st != 200) {
            send_error(c, st, NULL, why, 0);
            return;
        }
        c->keep = req.keep_alive;
        if (req.expect_continue && req.content_length > 0 && send_all(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25))
            return;
        size_t consumed = 0;
        char *body = read_body(c, &req, deadline, &consumed);
        if (!body)
            return;
        double t0 = cli_now();
        int status = route(c, &req, body);
        free(body);
        if (!o->quiet)
            fprintf(stderr, "server: %.*s %.*s %d %.3f s\n", (int)req.method_len, req.method,
                    (int)(req.target_len > 80 ? 80 : req.target_len), req.target, status, cli_now() - t0);
        if (status == 0)
            return;
        /* the bytes after this request (a pipelined one) stay for the next round */
        memmove(c->buf, c->buf + consumed, c->used - consumed);
        c->used -= consumed;
    }
}

/* Closes after the client has read our last answer: closing a socket with unread input
 * (the rest of a refused 4 MiB body) sends a reset that can destroy the answer in
 * flight, so the input is read and dropped for a moment first. */
static void linger_close(int fd)
{
    shutdown(fd, SHUT_WR);
    double deadline = deadline_after(1.0);
    char sink[4096];
    while (read_some(fd, sink, sizeof sink, deadline) > 0)
        ;
    close(fd);
}

static void *connection_main(void *arg)
{
    conn *c = arg;
    server *srv = c->srv;
    serve_connection(c);
    linger_close(c->fd);
    free(c->buf);
    free(c);
    pthread_mutex_lock(&srv->mu);
    srv->n_conns--;
    pthread_cond_broadcast(&srv->conn_done);
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

/* ============================================================================
 * Listening, accepting, stopping
 * ========================================================================== */

/* Numeric addresses only (and "localhost"): getaddrinfo would pull the resolver into
 * static builds, and a server's listening address is an address, not a name. */
static int listen_on(const char *host, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    socklen_t len;
    if (!strcmp(host, "localhost"))
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        len = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        len = sizeof *v6;
    } else {
        cli_error("--host %s: not an IPv4 or IPv6 address (like 127.0.0.1, 0.0.0.0 or ::)", host);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM, 0), one = 1;
    if (fd >= 0)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 128) != 0) {
        cli_error("cannot listen on %s port %d: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Hands an accepted socket to a thread of its own, or refuses it when there are too
 * many already. */
static void start_connection(server *srv, int fd)
{
    struct timeval tv = {.tv_sec = (time_t)srv->o.read_timeout,
                         .tv_usec = (suseconds_t)((srv->o.read_timeout - (double)(time_t)srv->o.read_timeout) * 1e6)};
    /* a client that stops reading cannot hold a slot for longer than it may take to send */
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn *c = calloc(1, sizeof *c);
    if (c)
        c->buf = malloc(srv->o.max_header);
    pthread_mutex_lock(&srv->mu);
    int room = srv->n_conns < srv->o.max_connections;
    if (room && c && c->buf)
        srv->n_conns++;
    pthread_mutex_unlock(&srv->mu);
    if (!room || !c || !c->buf) {
        conn refused = {.srv = srv, .fd = fd, .keep = 0};
        send_error(&refused, 503, NULL, room ? "out of memory" : "too many connections; try again later", 0);
        close(fd);
        if (c)
            free(c->buf);
        free(c);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* a connection needs little stack (the library's kernels keep small frames); the
     * default 8 MiB times --max-connections would crowd a 32-bit Pi's address space */
    pthread_attr_setstacksize(&attr, (size_t)1 << 20);
    if (pthread_create(&t, &attr, connection_main, c) != 0) {
        close(fd);
        free(c->buf);
        free(c);
        pthread_mutex_lock(&srv->mu);
        srv->n_conns--;
        pthread_mutex_unlock(&srv->mu);
    }
    pthread_attr_destroy(&attr);
}

static void accept_loop(server *srv, int lfd)
{
    while (!stopping) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, 250) <= 0)
            continue;
        int fd = accept(lfd, NULL, NULL);
        if (fd >= 0)
            fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                usleep(100 * 1000); /* out of descriptors: let connections finish */
            continue;
        }
        start_connection(srv, fd);
    }
}

/* The name clients use for the model: the file's name without folder or ".gguf". */
static void model_id_from_path(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".gguf"))
        n -= 5;
    snprintf(out, cap, "%.*s", (int)n, base);
}

static int create_slots(server *srv)
{
    latent_context_params cp = latent_context_default_params();
    cp.n_threads = srv->o.threads;
    cp.kv_type = srv->o.kv_type;
    cp.mem_budget = srv->o.mem_budget;
    srv->slots = calloc((size_t)srv->o.parallel, sizeof *srv->slots);
    if (!srv->slots)
        return -1;
    for (int i = 0; i < srv->o.parallel; i++)
        if (latent_context_create(srv->model, &cp, &srv->slots[i].ctx) != LATENT_OK) {
            cli_error("slot %d: %s", i, latent_last_error());
            return -1;
        }
    return 0;
}

static int open_wall(server *srv)
{
    wall_options wo = wall_default_options();
    wo.backend = "none";
    wo.cols = srv->o.wall_cols;
    wo.rows = srv->o.wall_rows;
    srv->frame_len = (size_t)wo.cols * (size_t)wo.rows;
    if (!(srv->frame = calloc(srv->frame_len, sizeof *srv->frame)) || wall_open(&wo, &srv->wall) != 0) {
        cli_error("the wall: %s", srv->frame ? wall_last_error() : "out of memory");
        return -1;
    }
    return 0;
}

static void free_server(server *srv)
{
    wall_close(srv->wall);
    free(srv->frame);
    pthread_mutex_destroy(&srv->wall_mu);
    pthread_cond_destroy(&srv->wall_changed);
    for (int i = 0; srv->slots && i < srv->o.parallel; i++)
        latent_context_free(srv->slots[i].ctx);
    free(srv->slots);
    latent_model_free(srv->model);
    pthread_mutex_destroy(&srv->mu);
    pthread_cond_destroy(&srv->conn_done);
}

int main(int argc, char **argv)
{
    cli_program = "server";
    static server srv;
    if (parse_args(argc, argv, &srv.o))
        return 1;
    pthread_mutex_init(&srv.mu, NULL);
    pthread_cond_init(&srv.conn_done, NULL);
    pthread_mutex_init(&srv.wall_mu, NULL);
    pthread_cond_init(&srv.wall_changed, NULL);
    model_id_from_path(srv.o.model, srv.model_id, sizeof srv.model_id);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = -1, rc = 1;
    if (latent_model_load(srv.o.model, NULL, &srv.model) != LATENT_OK) {
        cli_error("%s", latent_last_error());
        goto done;
    }
    if (create_slots(&srv) || (srv.o.wall && open_wall(&srv)) || (lfd = listen_on(srv.o.host, srv.o.port)) < 0)
        goto done;
    fprintf(stderr, "server: %s on http://%s:%d with %d slot%s of %d thread%s%s\n", srv.model_id, srv.o.host,
            bound_port(lfd), srv.o.parallel, srv.o.parallel > 1 ? "s" : "", srv.o.threads,
            srv.o.threads > 1 ? "s" : "", srv.o.api_key ? ", API key required" : "");
    /* the port on stdout alone, for scripts that asked for port 0 */
    printf("%d\n", bound_port(lfd));
    fflush(stdout);
    accept_loop(&srv, lfd);
    close(lfd);
    /* stopping: connections see the flag within a poll step and end */
    pthread_mutex_lock(&srv.wall_mu);
    pthread_cond_broadcast(&srv.wall_changed);
    pthread_mutex_unlock(&srv.wall_mu);
    pthread_mutex_lock(&srv.mu);
    while (srv.n_conns > 0)
        pthread_cond_wait(&srv.conn_done, &srv.mu);
    pthread_mutex_unlock(&srv.mu);
    fprintf(stderr, "server: stopped\n");
    rc = 0;
done:
    free_server(&srv);
    return rc;
}
