/*
 * glyphs — renders a text on the wall once.
 *
 *   build/glyphs TEXT [--svg FILE | --frames | --term] [--grid COLSxROWS]
 *
 * Also takes the wall's other flags (--display, --i2c, --i2c-dry-run, --brightness).
 * Without a choice it draws on the terminal, or prints frames when stdout is not one.
 * Needs no model and no part of liblatent: only the wall.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "wall.h"

static int usage_error(const char *reason)
{
    fprintf(stderr, "glyphs: %s (glyphs --help for usage)\n", reason);
    return 1;
}

int main(int argc, char **argv)
{
    wall_options o = wall_default_options();
    o.backend = NULL;
    const char *text = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--frames") == 0) {
            o.backend = "frames";
            continue;
        }
        if (strcmp(argv[i], "--term") == 0) {
            o.backend = "term";
            continue;
        }
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: glyphs TEXT [--svg FILE | --frames | --term] "
                   "[--grid COLSxROWS]\n%s", wall_usage());
            return 0;
        }
        int n = wall_parse_option(&o, argc, argv, i);
        if (n < 0)
            return usage_error(wall_last_error());
        if (n > 0) {
            i += n - 1;
            continue;
        }
        if (argv[i][0] == '-' && argv[i][1] != 0) {
            char reason[256];
            snprintf(reason, sizeof reason, "unknown option %s", argv[i]);
            return usage_error(reason);
        }
        if (text)
            return usage_error("one TEXT only: quote it");
        text = argv[i];
    }
    if (!text)
        return usage_error("no TEXT to render");
    if (!o.backend)
        o.backend = isatty(STDOUT_FILENO) ? "term" : "frames";

    wall *w;
    if (wall_open(&o, &w) != 0) {
        fprintf(stderr, "glyphs: %s\n", wall_last_error());
        return 1;
    }
    int rc = wall_write(w, text, strlen(text));
    if (rc == 0 && wall_paragraph(w) != 0) /* ends a character cut short, if any */
        rc = -1;
    if (rc != 0)
        fprintf(stderr, "glyphs: %s\n", wall_last_error());
    wall_close(w);
    return rc != 0;
}
