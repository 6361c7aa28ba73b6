/*
 * frames.c — one line per frame: the masks, row-major, as 5-digit hex, space-separated.
 * The format a hardware driver (or a test) reads from a pipe.
 */
#include <stdlib.h>

#include "wall.h"

typedef struct frames {
    FILE *out;
    size_t n; /* masks per frame */
} frames;

static int frames_draw(void *self, const uint32_t *masks)
{
    frames *f = self;
    for (size_t k = 0; k < f->n; k++)
        fprintf(f->out, k ? " %05x" : "%05x", (unsigned)masks[k]);
    fputc('\n', f->out);
    if (fflush(f->out) != 0 || ferror(f->out))
        return wall_fail("frames: cannot write the frame");
    return 0;
}

static void frames_close(void *self)
{
    free(self);
}

int wall_frames_open(const wall_options *o, wall_sink *s)
{
    frames *f = malloc(sizeof *f);
    if (!f)
        return wall_fail("frames: out of memory");
    f->out = o->out ? o->out : stdout;
    f->n = (size_t)o->cols * (size_t)o->rows;
    *s = (wall_sink){f, frames_draw, frames_close};
    return 0;
}
