/*
 * test_chat.c — chat templates: recognised from real templates, formatted as each model
 * family publishes its prompt format, and the size protocol.
 *
 * The expected prompts are the formats the families document (Meta's Llama 2 and
 * Llama 3 model cards, ChatML, the Zephyr/TinyLlama and Phi-3 templates, Gemma's
 * model card), minus the BOS text that the tokenizer adds as a token.
 */
#include <string.h>

#include "harness.h"
#include "latent.h"
#include "tokenizer.h"

static const latent_chat_message conv[] = {
    {"system", "You are a poet."},
    {"user", "Hi!"},
    {"assistant", "Hello."},
    {"user", "Write a line."},
};

static void check_format(latent_chat_template t, const latent_chat_message *m, size_t n, int add,
                         const char *want)
{
    char out[1024];
    size_t len = 0;
    latent_status st = latent_chat_format(t, m, n, add, out, sizeof out, &len);
    CHECK(st == LATENT_OK && len == strlen(want) && strcmp(out, want) == 0, "%s:\n got [%s]\nwant [%s]",
          latent_chat_template_name(t), st == LATENT_OK ? out : latent_last_error(), want);
}

static void test_formats(void)
{
    check_format(LATENT_CHAT_CHATML, conv, 4, 1,
                 "<|im_start|>system\nYou are a poet.<|im_end|>\n"
                 "<|im_start|>user\nHi!<|im_end|>\n"
                 "<|im_start|>assistant\nHello.<|im_end|>\n"
                 "<|im_start|>user\nWrite a line.<|im_end|>\n"
                 "<|im_start|>assistant\n");
    check_format(LATENT_CHAT_LLAMA3, conv, 4, 1,
                 "<|start_header_id|>system<|end_header_id|>\n\nYou are a poet.<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
                 "<|start_header_id|>user<|end_header_id|>\n\nWrite a line.<|eot_id|>"
                 "<|start_header_id|>assistant<|end_header_id|>\n\n");
    check_format(LATENT_CHAT_LLAMA2, conv, 4, 1,
                 "[INST] <<SYS>>\nYou are a poet.\n<</SYS>>\n\nHi! [/INST] Hello. </s>"
                 "<s>[INST] Write a line. [/INST]");
    check_format(LATENT_CHAT_ZEPHYR, conv, 4, 1,
                 "<|system|>\nYou are a poet.</s>\n<|user|>\nHi!</s>\n<|assistant|>\nHello.</s>\n"
                 "<|user|>\nWrite a line.</s>\n<|assistant|>\n");
    check_format(LATENT_CHAT_PHI3, conv + 1, 3, 1,
                 "<|user|>\nHi!<|end|>\n<|assistant|>\nHello.<|end|>\n<|user|>\nWrite a line.<|end|>\n"
                 "<|assistant|>\n");
    check_format(LATENT_CHAT_GEMMA, conv, 4, 1,
                 "<start_of_turn>user\nYou are a poet.\n\nHi!<end_of_turn>\n"
                 "<start_of_turn>model\nHello.<end_of_turn>\n"
                 "<start_of_turn>user\nWrite a line.<end_of_turn>\n"
                 "<start_of_turn>model\n");
    check_format(LATENT_CHAT_RAW, conv, 4, 1, "You are a poet.Hi!Hello.Write a line.");
    /* the reflection loop's use: one system message, raw, is just its text */
    check_format(LATENT_CHAT_RAW, conv, 1, 1, "You are a poet.");
    /* without add_assistant the turn stays closed */
    check_format(LATENT_CHAT_CHATML, conv + 1, 1, 0, "<|im_start|>user\nHi!<|im_end|>\n");
    check_format(LATENT_CHAT_CHATML, NULL, 0, 1, "<|im_start|>assistant\n");
}

static void test_size_protocol(void)
{
    size_t need = 0, len = 0;
    CHECK(latent_chat_format(LATENT_CHAT_CHATML, conv, 2, 1, NULL, 0, &need) == LATENT_ERANGE && need > 0, "%s", "");
    char *buf = malloc(need + 1);
    memset(buf, 'x', need + 1);
    /* cap counts the NUL: need bytes of room are one too few, and nothing past cap is written */
    CHECK(latent_chat_format(LATENT_CHAT_CHATML, conv, 2, 1, buf, need, &len) == LATENT_ERANGE && len == need, "%s", "");
    CHECK(buf[need] == 'x', "wrote past cap");
    CHECK(latent_chat_format(LATENT_CHAT_CHATML, conv, 2, 1, buf, need + 1, &len) == LATENT_OK && len == need &&
          buf[need] == 0 && strlen(buf) == need, "%s", "");
    free(buf);
    CHECK(latent_chat_format((latent_chat_template)99, conv, 1, 0, NULL, 0, &len) == LATENT_EINVAL, "%s", "");
    latent_chat_message bad = {"user", NULL};
    CHECK(latent_chat_format(LATENT_CHAT_CHATML, &bad, 1, 0, NULL, 0, &len) == LATENT_EINVAL, "%s", "");
    CHECK(latent_chat_format(LATENT_CHAT_CHATML, conv, 1, 0, NULL, 0, NULL) == LATENT_EINVAL, "%s", "");
}

/* Recognition, on excerpts of the templates the models ship (their distinctive parts). */
static void test_detect(void)
{
    static const struct {
        const char *tmpl;
        latent_chat_template want;
    } cases[] = {
        /* Llama 3 Instruct */
        {"{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
         "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
         "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
         "{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}",
         LATENT_CHAT_LLAMA3},
        /* Llama 2 Chat */
        {"{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set "
         "system_message = messages[0]['content'] %}{% endif %}{% for message in loop_messages %}"
         "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + "
         "system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% endif %}{% if message['role'] == "
         "'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% endif %}{% endfor %}",
         LATENT_CHAT_LLAMA2},
        /* TinyLlama 1.1B Chat */
        {"{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + "
         "message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + "
         "message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  "
         "+ message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n"
         "{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}",
         LATENT_CHAT_ZEPHYR},
        /* ChatML (Qwen2, SmolLM) */
        {"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
         "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
         LATENT_CHAT_CHATML},
        /* Gemma */
        {"{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}{% set role = "
         "'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + "
         "message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}",
         LATENT_CHAT_GEMMA},
        {"", LATENT_CHAT_RAW},
        {"{{ messages }}", LATENT_CHAT_RAW},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        latent_chat_template t = lt_chat_detect(cases[i].tmpl, strlen(cases[i].tmpl));
        CHECK(t == cases[i].want, "case %zu: %s, want %s", i, latent_chat_template_name(t),
              latent_chat_template_name(cases[i].want));
    }
    CHECK(lt_chat_detect(NULL, 0) == LATENT_CHAT_RAW, "%s", "");

    /* the template stored in the Phi-3 vocabulary file */
    const char *path = test_data_path("vectors/ggml-vocab-phi-3.gguf");
    latent_gguf *g = NULL;
    if (path && latent_gguf_open(path, &g) == LATENT_OK) {
        latent_str s;
        CHECK(latent_gguf_get_str(g, "tokenizer.chat_template", &s) == LATENT_OK &&
              lt_chat_detect(s.ptr, (size_t)s.len) == LATENT_CHAT_PHI3, "%s", "");
        latent_gguf_free(g);
    }

    static const char *const names[] = {"raw", "llama3", "llama2", "chatml", "zephyr", "phi3", "gemma"};
    for (int t = LATENT_CHAT_RAW; t <= LATENT_CHAT_GEMMA; t++)
        CHECK(strcmp(latent_chat_template_name((latent_chat_template)t), names[t]) == 0, "%s", "");
}

/* A formatted prompt tokenized with special parsing: the template's markers become the
 * vocabulary's special tokens (Phi-3's also eat the newline after them). */
static void test_tokenized(void)
{
    const char *path = test_data_path("vectors/ggml-vocab-phi-3.gguf");
    latent_gguf *g = NULL;
    if (!path || latent_gguf_open(path, &g) != LATENT_OK)
        return;
    struct lt_vocab *v = NULL;
    CHECK(lt_vocab_load(g, NULL, &v) == LATENT_OK, "%s", latent_last_error());
    if (v) {
        char text[256];
        size_t len;
        CHECK(latent_chat_format(LATENT_CHAT_PHI3, conv + 1, 1, 1, text, sizeof text, &len) == LATENT_OK, "%s", "");
        latent_token t[64];
        size_t n = 0;
        CHECK(lt_vocab_tokenize(v, text, len, LATENT_TOKENIZE_SPECIAL | LATENT_TOKENIZE_ADD_BOS, t, 64, &n) ==
              LATENT_OK, "%s", "");
        /* <s> <|user|> ▁Hi ! <|end|> <|assistant|>: the "\n" after each marker is stripped */
        int32_t user = 32010, end = 32007, assistant = 32001;
        CHECK(n >= 5 && t[0] == 1 && t[1] == user && t[n - 2] == end && t[n - 1] == assistant,
              "%zu tokens: %d %d .. %d %d", n, t[0], t[1], n > 1 ? t[n - 2] : -1, t[n - 1]);
        CHECK(lt_vocab_is_eog(v, end) && lt_vocab_is_eog(v, 32000), "%s", "");
        lt_vocab_free(v, NULL);
    }
    latent_gguf_free(g);
}

/* Regression (fuzz_chat): measuring with out = NULL and empty texts copied zero bytes
 * to NULL + offset, undefined behaviour that UBSan reports. Every template, empty roles
 * and contents, measured then formatted. */
static void test_empty_measure(void)
{
    static const latent_chat_template all[] = {LATENT_CHAT_RAW, LATENT_CHAT_LLAMA3, LATENT_CHAT_LLAMA2,
                                               LATENT_CHAT_CHATML, LATENT_CHAT_ZEPHYR, LATENT_CHAT_PHI3,
                                               LATENT_CHAT_GEMMA};
    latent_chat_message m[2] = {{"", ""}, {"user", ""}};
    for (size_t t = 0; t < sizeof all / sizeof all[0]; t++) {
        size_t need = 99, got = 0;
        latent_status st = latent_chat_format(all[t], m, 2, 0, NULL, 0, &need);
        CHECK((st == LATENT_OK && need == 0) || st == LATENT_ERANGE, "template %zu: %s", t, latent_status_str(st));
        char buf[256];
        CHECK(need < sizeof buf && latent_chat_format(all[t], m, 2, 0, buf, sizeof buf, &got) == LATENT_OK && got == need,
              "template %zu: measured %zu, wrote %zu", t, need, got);
    }
}

int main(void)
{
    test_empty_measure();
    test_formats();
    test_size_protocol();
    test_detect();
    test_tokenized();
    return test_done();
}
