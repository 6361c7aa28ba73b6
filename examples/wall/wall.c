/*
 * wall.c — the wall object: options, text → fold → layout → masks → backend.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wall.h"

#define MAX_SIDE 1024        /* cols, rows */
#define MAX_MODULES 65536    /* cols * rows */

struct wall {
    int cols, rows;
    char *backend;      /* the resolved name */
    wall_sink sink;     /* draw == NULL: backend "none" */
    wall_utf8 utf8;     /* the stream's decoder (a character may span writes) */
    wall_layout layout;
    unsigned char *cells;
    uint32_t *shown;    /* the masks last drawn */
    int drawn;          /* 0 until the first frame went out */
    int fresh;          /* a message is up: the next write clears it first */
};

/* ---- errors ---- */

static _Thread_local char error_text[512];

int wall_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_text, sizeof error_text, fmt, ap);
    va_end(ap);
    return -1;
}

const char *wall_last_error(void)
{
    return error_text;
}

/* ---- options ---- */

wall_options wall_default_options(void)
{
    wall_options o = {0};
    o.backend = "auto";
    o.cols = 16;
    o.rows = 6;
    o.svg_path = "wall.svg";
    o.i2c_device = "/dev/i2c-1";
    o.brightness = 15;
    return o;
}

static const char *const backends[] = {"auto", "term", "svg", "frames", "i2c", "none"};

static int known_backend(const char *name)
{
    for (size_t k = 0; k < sizeof backends / sizeof backends[0]; k++)
        if (strcmp(name, backends[k]) == 0)
            return 1;
    return 0;
}

/* "16x6" → cols, rows; 0 on anything else. */
static int parse_grid(const char *s, int *cols, int *rows)
{
    char *end;
    errno = 0;
    long c = strtol(s, &end, 10);
    if (end == s || (*end != 'x' && *end != 'X') || errno)
        return 0;
    const char *r_text = end + 1;
    long r = strtol(r_text, &end, 10);
    if (end == r_text || *end || errno)
        return 0;
    if (c < 1 || r < 1 || c > MAX_SIDE || r > MAX_SIDE || c * r > MAX_MODULES)
        return 0;
    *cols = (int)c;
    *rows = (int)r;
    return 1;
}

int wall_parse_option(wall_options *o, int argc, char **argv, int i)
{
    static const char *const flags[] = {"--display", "--grid", "--svg", "--i2c",
                                        "--i2c-dry-run", "--brightness"};
    const char *arg = argv[i], *value = NULL;
    int flag = -1, used = 2;
    for (int k = 0; k < (int)(sizeof flags / sizeof flags[0]); k++) {
        size_t n = strlen(flags[k]);
        if (strncmp(arg, flags[k], n) == 0 && (arg[n] == 0 || arg[n] == '=')) {
            flag = k;
            if (arg[n] == '=')
                value = arg + n + 1, used = 1;
        }
    }
    if (flag < 0)
        return 0;
    if (!value) {
        if (i + 1 >= argc)
            return wall_fail("%s needs a value", flags[flag]);
        value = argv[i + 1];
    }
    switch (flag) {
    case 0:
        if (!known_backend(value))
            return wall_fail("--display %s: not one of auto, term, svg, frames, i2c, none",
                             value);
        o->backend = value;
        break;
    case 1:
        if (!parse_grid(value, &o->cols, &o->rows))
            return wall_fail("--grid %s: want COLSxROWS, each 1..%d, at most %d modules",
                             value, MAX_SIDE, MAX_MODULES);
        break;
    case 2:
        if (!*value)
            return wall_fail("--svg needs a file name");
        o->svg_path = value, o->backend = "svg";
        break;
    case 3:
        if (!*value)
            return wall_fail("--i2c needs a device such as /dev/i2c-1");
        o->i2c_device = value, o->backend = "i2c";
        break;
    case 4:
        if (!*value)
            return wall_fail("--i2c-dry-run needs a file name");
        o->i2c_dry_run = value, o->backend = "i2c";
        break;
    case 5: {
        char *end;
        long b = strtol(value, &end, 10);
        if (end == value || *end || b < 0 || b > 15)
            return wall_fail("--brightness %s: want 0..15", value);
        o->brightness = (int)b;
        break;
    }
    }
    return used;
}

const char *wall_usage(void)
{
    return "  --display X          where the wall is drawn: term, svg, frames, i2c, none\n"
           "                       (default: term on a terminal, else none)\n"
           "  --grid COLSxROWS     modules across and down (default 16x6)\n"
           "  --svg FILE           draw into an SVG picture, rewritten as it changes\n"
           "  --i2c DEV[,DEV]      HT16K33 drivers on these I2C buses, 8 chips (0x70..0x77)\n"
           "                       per bus; 16x6 takes 12 chips, so two buses\n"
           "  --i2c-dry-run FILE   write the I2C bytes to FILE instead of the bus\n"
           "  --brightness N       HT16K33 brightness 0..15 (default 15)\n";
}

/* ---- open, close ---- */

static char *copy(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c)
        memcpy(c, s, n);
    return c;
}

int wall_open(const wall_options *opt, wall **out)
{
    *out = NULL;
    wall_options o = opt ? *opt : wall_default_options();
    if (!o.backend)
        o.backend = "auto";
    if (!o.out)
        o.out = stdout;
    if (o.cols < 1 || o.rows < 1 || o.cols > MAX_SIDE || o.rows > MAX_SIDE ||
        o.cols * o.rows > MAX_MODULES)
        return wall_fail("wall: a %d x %d grid is not possible (each side 1..%d, at most "
                         "%d modules)", o.cols, o.rows, MAX_SIDE, MAX_MODULES);
    if (!known_backend(o.backend))
        return wall_fail("wall: no backend '%s'", o.backend);
    if (strcmp(o.backend, "auto") == 0)
        o.backend = isatty(fileno(o.out)) ? "term" : "none";

    size_t n = (size_t)o.cols * (size_t)o.rows;
    wall *w = calloc(1, sizeof *w);
    if (!w)
        return wall_fail("wall: out of memory");
    w->cols = o.cols;
    w->rows = o.rows;
    w->backend = copy(o.backend);
    w->cells = malloc(n);
    w->shown = calloc(n, sizeof *w->shown);
    if (!w->backend || !w->cells || !w->shown) {
        wall_close(w);
        return wall_fail("wall: out of memory for a %d x %d wall", o.cols, o.rows);
    }
    wall_layout_init(&w->layout, w->cols, w->rows, w->cells);

    int rc = 0;
    if (strcmp(o.backend, "term") == 0)
        rc = wall_term_open(&o, &w->sink);
    else if (strcmp(o.backend, "svg") == 0)
        rc = wall_svg_open(&o, &w->sink);
    else if (strcmp(o.backend, "frames") == 0)
        rc = wall_frames_open(&o, &w->sink);
    else if (strcmp(o.backend, "i2c") == 0)
        rc = wall_i2c_open(&o, &w->sink);
    if (rc != 0) {
        w->sink.close = NULL; /* nothing was opened */
        wall_close(w);
        return -1;
    }
    *out = w;
    return 0;
}

void wall_close(wall *w)
{
    if (!w)
        return;
    if (w->sink.close)
        w->sink.close(w->sink.self);
    free(w->backend);
    free(w->cells);
    free(w->shown);
    free(w);
}

const char *wall_backend(const wall *w)
{
    return w ? w->backend : "";
}

size_t wall_frame(const wall *w, uint32_t *masks, size_t n)
{
    if (!w)
        return 0;
    size_t total = (size_t)w->cols * (size_t)w->rows;
    for (size_t k = 0; k < total && k < n; k++)
        masks[k] = wall_glyph(w->cells[k]);
    return total;
}

/* ---- text in, frames out ---- */

/* Draws if the wall differs from what was last drawn (or nothing was yet). */
static int redraw(wall *w)
{
    size_t n = (size_t)w->cols * (size_t)w->rows;
    int changed = !w->drawn;
    for (size_t k = 0; k < n; k++) {
        uint32_t m = wall_glyph(w->cells[k]);
        if (m != w->shown[k])
            w->shown[k] = m, changed = 1;
    }
    if (!changed)
        return 0;
    w->drawn = 1;
    return w->sink.draw ? w->sink.draw(w->sink.self, w->shown) : 0;
}

static void put_cp(wall_layout *l, uint32_t cp)
{
    char s[WALL_FOLD_MAX];
    int n = wall_fold_cp(cp, s);
    for (int k = 0; k < n; k++)
        wall_layout_put(l, (unsigned char)s[k]);
}

int wall_write(wall *w, const char *utf8, size_t len)
{
    if (!w)
        return wall_fail("wall: no wall (did wall_open fail?)");
    if (w->fresh) {
        wall_layout_clear(&w->layout);
        w->fresh = 0;
    }
    for (size_t k = 0; utf8 && k < len; k++) {
        uint32_t cp[2];
        int got = wall_utf8_push(&w->utf8, (unsigned char)utf8[k], cp);
        for (int j = 0; j < got; j++)
            put_cp(&w->layout, cp[j]);
    }
    return redraw(w);
}

int wall_paragraph(wall *w)
{
    if (!w)
        return wall_fail("wall: no wall (did wall_open fail?)");
    uint32_t cp;
    if (wall_utf8_flush(&w->utf8, &cp))
        put_cp(&w->layout, cp);
    wall_layout_paragraph(&w->layout);
    return redraw(w);
}

int wall_clear(wall *w)
{
    if (!w)
        return wall_fail("wall: no wall (did wall_open fail?)");
    w->utf8 = (wall_utf8){0};
    w->fresh = 0;
    wall_layout_clear(&w->layout);
    return redraw(w);
}

int wall_message(wall *w, const char *text)
{
    if (!w)
        return wall_fail("wall: no wall (did wall_open fail?)");
    wall_utf8 d = {0};
    uint32_t cp[2];
    wall_layout_clear(&w->layout);
    for (const char *p = text ? text : ""; *p; p++) {
        int got = wall_utf8_push(&d, (unsigned char)*p, cp);
        for (int j = 0; j < got; j++)
            put_cp(&w->layout, cp[j]);
    }
    if (wall_utf8_flush(&d, cp))
        put_cp(&w->layout, cp[0]);
    wall_layout_center(&w->layout);
    w->fresh = 1;
    return redraw(w);
}
