/*
 * tokenize — a text (the argument, or stdin) to token ids, with the model's own tokenizer.
 *
 *     build/tokenize MODEL.gguf [TEXT] [--bos] [--special] [--pieces] [< text]
 *
 * Prints the ids on one line, separated by spaces. --bos adds BOS (when the vocabulary
 * uses one; a model that starts its text without one says so on stderr), --special turns special-token text such as <|eot_id|> into its token,
 * --pieces also prints each token with the text it stands for, one per line
 * ("15043\t' Hello'", bytes outside printable ASCII escaped). Only the vocabulary is
 * loaded, so a 3 GB model starts as fast as a vocabulary file.
 * Bad arguments or an unreadable file: "tokenize: <reason>" on stderr, exit status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "latent.h"

#define USAGE "usage: tokenize MODEL.gguf [TEXT] [--bos] [--special] [--pieces] (no TEXT: stdin)"

/* Reads all of stdin; NULL on failure. */
static char *read_stdin(size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0) {
            if (ferror(stdin)) {
                free(buf);
                return NULL;
            }
            break;
        }
        if (n == cap) {
            char *nb = cap <= SIZE_MAX / 2 ? realloc(buf, cap *= 2) : NULL;
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    *len = n;
    return buf;
}

static void print_piece(const char *p, size_t n)
{
    putchar('\'');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\\' || c == '\'')
            printf("\\%c", c);
        else if (c == '\n')
            printf("\\n");
        else if (c == '\t')
            printf("\\t");
        else if (c < 0x20 || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c); /* UTF-8 passes through: a split character shows as its bytes */
    }
    putchar('\'');
}

int main(int argc, char **argv)
{
    cli_program = "tokenize";
    const char *path = NULL, *arg_text = NULL;
    int flags = 0, pieces = 0, options_end = 0;
    for (int i = 1; i < argc; i++) {
        if (options_end || argv[i][0] != '-' || !argv[i][1]) {
            if (!path) {
                path = argv[i];
            } else if (!arg_text) {
                arg_text = argv[i];
            } else {
                cli_error("one TEXT only (quote it): '%s' is one too many", argv[i]);
                return 1;
            }
        } else if (strcmp(argv[i], "--") == 0) {
            options_end = 1; /* a TEXT that begins with '-' */
        } else if (strcmp(argv[i], "--bos") == 0) {
            flags |= LATENT_TOKENIZE_ADD_BOS;
        } else if (strcmp(argv[i], "--special") == 0) {
            flags |= LATENT_TOKENIZE_SPECIAL;
        } else if (strcmp(argv[i], "--pieces") == 0) {
            pieces = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("%s\n", USAGE);
            return 0;
        } else {
            cli_error("unknown option '%s' (%s)", argv[i], USAGE);
            return 1;
        }
    }
    if (!path) {
        cli_error("no model given (%s)", USAGE);
        return 1;
    }

    latent_model_params mp = latent_model_default_params();
    mp.vocab_only = 1;
    latent_model *model = NULL;
    if (latent_model_load(path, &mp, &model) != LATENT_OK) {
        cli_error("%s", latent_last_error());
        return 1;
    }
    size_t len = arg_text ? strlen(arg_text) : 0;
    char *text = arg_text ? strdup(arg_text) : read_stdin(&len);
    if (!text) {
        cli_error(arg_text ? "out of memory" : "cannot read stdin");
        latent_model_free(model);
        return 1;
    }

    size_t n = 0;
    latent_token bos_only;
    if ((flags & LATENT_TOKENIZE_ADD_BOS) &&
        latent_tokenize(model, "", 0, LATENT_TOKENIZE_ADD_BOS, &bos_only, 1, &n) == LATENT_OK && n == 0)
        fprintf(stderr, "tokenize: --bos: %s; none added\n",
                latent_token_bos(model) < 0 ? "the model has no BOS token"
                                            : "the model starts its text without BOS (add_bos_token is false)");
    latent_token *toks = NULL;
    latent_status st = latent_tokenize(model, text, len, flags, NULL, 0, &n);
    if (st == LATENT_ERANGE || st == LATENT_OK) {
        toks = malloc((n ? n : 1) * sizeof *toks);
        st = toks ? latent_tokenize(model, text, len, flags, toks, n, &n) : LATENT_ENOMEM;
    }
    if (st != LATENT_OK) {
        cli_error("%s", st == LATENT_ENOMEM && !toks ? "out of memory" : latent_last_error());
        free(toks);
        free(text);
        latent_model_free(model);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        printf(i ? " %d" : "%d", (int)toks[i]);
    printf("\n");
    if (pieces) {
        char piece[1024];
        for (size_t i = 0; i < n; i++) {
            size_t pn = 0;
            printf("%d\t", (int)toks[i]);
            if (latent_token_piece(model, toks[i], piece, sizeof piece, &pn) == LATENT_OK)
                print_piece(piece, pn);
            else
                printf("?");
            printf("\n");
        }
    }
    free(toks);
    free(text);
    latent_model_free(model);
    return fflush(stdout) == 0 ? 0 : 1;
}
