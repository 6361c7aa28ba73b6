/*
 * chat.c — chat templates, recognised rather than run.
 *
 * A GGUF carries its chat format as a Jinja template (tokenizer.chat_template). Like
 * llama.cpp, liblatent does not execute Jinja: it looks for substrings that only one
 * family's template has, and formats messages with that family's rules written in C.
 * The formatted text holds special-token text ("<|im_start|>"): tokenize it with
 * LATENT_TOKENIZE_SPECIAL (and ADD_BOS where the model uses one).
 */
#include <string.h>

#include "tokenizer.h"

static int has(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (s[i] == needle[0] && memcmp(s + i, needle, k) == 0)
            return 1;
    return 0;
}

latent_chat_template lt_chat_detect(const char *t, size_t n)
{
    if (!t || n == 0)
        return LATENT_CHAT_RAW;
    if (has(t, n, "<|im_start|>"))
        return LATENT_CHAT_CHATML;
    if ((n >= 7 && memcmp(t, "mistral", 7) == 0) || has(t, n, "[INST]"))
        return LATENT_CHAT_LLAMA2;
    if (has(t, n, "<|assistant|>") && has(t, n, "<|end|>"))
        return LATENT_CHAT_PHI3;
    /* Zephyr's family (TinyLlama's chat model included): <|user|> ... eos, then <|assistant|> */
    if (has(t, n, "<|user|>") && (has(t, n, "<|assistant|>") || has(t, n, "<|endoftext|>")))
        return LATENT_CHAT_ZEPHYR;
    if (has(t, n, "<start_of_turn>"))
        return LATENT_CHAT_GEMMA;
    if (has(t, n, "<|start_header_id|>") && has(t, n, "<|end_header_id|>"))
        return LATENT_CHAT_LLAMA3;
    return LATENT_CHAT_RAW;
}

const char *latent_chat_template_name(latent_chat_template tmpl)
{
    switch (tmpl) {
    case LATENT_CHAT_RAW: return "raw";
    case LATENT_CHAT_LLAMA3: return "llama3";
    case LATENT_CHAT_LLAMA2: return "llama2";
    case LATENT_CHAT_CHATML: return "chatml";
    case LATENT_CHAT_ZEPHYR: return "zephyr";
    case LATENT_CHAT_PHI3: return "phi3";
    case LATENT_CHAT_GEMMA: return "gemma";
    }
    return "unknown";
}

/* ============================================================================
 * Formatting
 * ========================================================================== */

typedef struct text {
    char *p;
    size_t cap, n; /* n counts everything, written or not */
} text;

static void put_n(text *o, const char *s, size_t n)
{
    if (n && o->p && o->n <= o->cap && n <= o->cap - o->n) /* measuring: p may be NULL */
        memcpy(o->p + o->n, s, n);
    o->n += n;
}

static void put(text *o, const char *s)
{
    put_n(o, s, strlen(s));
}

/* s without leading and trailing whitespace (the templates that call .strip()) */
static void put_trimmed(text *o, const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (*s == ' ' || (*s >= '\t' && *s <= '\r')))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || (s[n - 1] >= '\t' && s[n - 1] <= '\r')))
        n--;
    put_n(o, s, n);
}

static int role_is(const latent_chat_message *m, const char *role)
{
    return strcmp(m->role, role) == 0;
}

static void format(latent_chat_template tmpl, const latent_chat_message *msgs, size_t n, int add_assistant,
                   text *o)
{
    switch (tmpl) {
    case LATENT_CHAT_RAW:
        for (size_t i = 0; i < n; i++)
            put(o, msgs[i].content);
        break;

    case LATENT_CHAT_CHATML: /* <|im_start|>role\ncontent<|im_end|>\n */
        for (size_t i = 0; i < n; i++) {
            put(o, "<|im_start|>");
            put(o, msgs[i].role);
            put(o, "\n");
            put(o, msgs[i].content);
            put(o, "<|im_end|>\n");
        }
        if (add_assistant)
            put(o, "<|im_start|>assistant\n");
        break;

    case LATENT_CHAT_LLAMA3: /* BOS comes from the tokenizer */
        for (size_t i = 0; i < n; i++) {
            put(o, "<|start_header_id|>");
            put(o, msgs[i].role);
            put(o, "<|end_header_id|>\n\n");
            put_trimmed(o, msgs[i].content);
            put(o, "<|eot_id|>");
        }
        if (add_assistant)
            put(o, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        break;

    case LATENT_CHAT_LLAMA2: {
        /* Meta's format: [INST] <<SYS>>\nsys\n<</SYS>>\n\nuser [/INST] answer </s><s>[INST] ...
         * The first <s> comes from the tokenizer (ADD_BOS). */
        int in_turn = 1;
        put(o, "[INST] ");
        for (size_t i = 0; i < n; i++) {
            if (!in_turn) {
                put(o, "<s>[INST] ");
                in_turn = 1;
            }
            if (role_is(&msgs[i], "system")) {
                put(o, "<<SYS>>\n");
                put_trimmed(o, msgs[i].content);
                put(o, "\n<</SYS>>\n\n");
            } else if (role_is(&msgs[i], "user")) {
                put_trimmed(o, msgs[i].content);
                put(o, " [/INST]");
            } else {
                put(o, " ");
                put_trimmed(o, msgs[i].content);
                put(o, " </s>");
                in_turn = 0;
            }
        }
        /* the assistant's turn is already open after [/INST] */
        break;
    }

    case LATENT_CHAT_ZEPHYR: /* <|role|>\ncontent</s>\n (TinyLlama, Zephyr) */
        for (size_t i = 0; i < n; i++) {
            put(o, "<|");
            put(o, msgs[i].role);
            put(o, "|>\n");
            put(o, msgs[i].content);
            put(o, "</s>\n");
        }
        if (add_assistant)
            put(o, "<|assistant|>\n");
        break;

    case LATENT_CHAT_PHI3: /* <|role|>\ncontent<|end|>\n */
        for (size_t i = 0; i < n; i++) {
            put(o, "<|");
            put(o, msgs[i].role);
            put(o, "|>\n");
            put(o, msgs[i].content);
            put(o, "<|end|>\n");
        }
        if (add_assistant)
            put(o, "<|assistant|>\n");
        break;

    case LATENT_CHAT_GEMMA: {
        /* Gemma has no system role: a system message goes in front of the next user turn. */
        const char *system = NULL;
        for (size_t i = 0; i < n; i++) {
            if (role_is(&msgs[i], "system")) {
                system = msgs[i].content;
                continue;
            }
            int model = role_is(&msgs[i], "assistant");
            put(o, "<start_of_turn>");
            put(o, model ? "model" : msgs[i].role);
            put(o, "\n");
            if (system && !model) {
                put_trimmed(o, system);
                put(o, "\n\n");
                system = NULL;
            }
            put_trimmed(o, msgs[i].content);
            put(o, "<end_of_turn>\n");
        }
        if (add_assistant) {
            if (system) { /* a system message with no user turn after it */
                put(o, "<start_of_turn>user\n");
                put_trimmed(o, system);
                put(o, "<end_of_turn>\n");
            }
            put(o, "<start_of_turn>model\n");
        }
        break;
    }
    }
}

latent_status latent_chat_format(latent_chat_template tmpl, const latent_chat_message *msgs, size_t n,
                                 int add_assistant, char *out, size_t cap, size_t *n_out)
{
    if (n_out)
        *n_out = 0;
    if (!n_out || (!msgs && n) || (!out && cap))
        return lt_fail(LATENT_EINVAL, "latent_chat_format: NULL argument");
    if ((unsigned)tmpl > LATENT_CHAT_GEMMA)
        return lt_fail(LATENT_EINVAL, "latent_chat_format: template %d unknown", (int)tmpl);
    for (size_t i = 0; i < n; i++)
        if (!msgs[i].role || !msgs[i].content)
            return lt_fail(LATENT_EINVAL, "latent_chat_format: message %zu has no role or content", i);
    text o = {out, cap, 0};
    format(tmpl, msgs, n, add_assistant, &o);
    *n_out = o.n;
    if (o.n >= cap) /* the NUL needs room too */
        return lt_fail(LATENT_ERANGE, "latent_chat_format: %zu bytes and a NUL do not fit in %zu", o.n, cap);
    out[o.n] = 0;
    return LATENT_OK;
}
