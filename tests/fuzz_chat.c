/*
 * fuzz_chat.c — libFuzzer target for the chat templates: recognising a template text of
 * any bytes, and formatting any messages with every template. The size protocol must
 * hold (measure, then format into exactly that much plus the NUL), and the output must
 * contain each message's text.
 *
 * Input: bytes split at 0x00 into pieces; piece 0 is a template text to recognise, then
 * (role, content) pairs. The first byte chooses add_assistant.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "latent.h"
#include "tokenizer.h"

#define MAX_MSGS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = 0;
    char *pieces[2 * MAX_MSGS + 1];
    size_t n_pieces = 0;
    for (char *p = copy + 1; n_pieces < 2 * MAX_MSGS + 1;) {
        pieces[n_pieces++] = p;
        char *end = memchr(p, 0, (size_t)(copy + size - p));
        if (!end || end >= copy + size)
            break;
        p = end + 1;
    }
    (void)lt_chat_detect(pieces[0], strlen(pieces[0]));
    latent_chat_message msgs[MAX_MSGS];
    size_t n = 0;
    for (size_t i = 1; i + 1 < n_pieces && n < MAX_MSGS; i += 2)
        msgs[n++] = (latent_chat_message){pieces[i], pieces[i + 1]};
    static const latent_chat_template all[] = {LATENT_CHAT_RAW, LATENT_CHAT_LLAMA3, LATENT_CHAT_LLAMA2,
                                               LATENT_CHAT_CHATML, LATENT_CHAT_ZEPHYR, LATENT_CHAT_PHI3,
                                               LATENT_CHAT_GEMMA};
    for (size_t t = 0; t < sizeof all / sizeof all[0]; t++) {
        size_t need = 0;
        latent_status st = latent_chat_format(all[t], msgs, n, copy[0] & 1, NULL, 0, &need);
        if (st != LATENT_OK && st != LATENT_ERANGE)
            continue;
        char *out = malloc(need + 1);
        size_t got = 0;
        if (!out)
            continue;
        if (latent_chat_format(all[t], msgs, n, copy[0] & 1, out, need + 1, &got) != LATENT_OK || got != need ||
            strlen(out) != got)
            abort(); /* the size protocol broke */
        if (need > 0 && latent_chat_format(all[t], msgs, n, copy[0] & 1, out, need, &got) != LATENT_ERANGE)
            abort(); /* one byte short must be refused */
        free(out);
    }
    free(copy);
    return 0;
}
