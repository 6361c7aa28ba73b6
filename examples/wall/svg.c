/*
 * svg.c — a picture of the wall: a dark plate, lit segments glowing amber, unlit ones
 * faint, each module leaning forward a little like real LED modules. All unlit segments
 * are one path and all lit ones another (one "M x y L x y" per segment, the decimal
 * point a zero-length round-capped dot), so a 16 x 6 frame is a few tens of kilobytes.
 * Every frame goes to FILE.tmp and is renamed over FILE: a viewer that reloads the
 * file never sees half a picture.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wall.h"

#define UX 18.0    /* px per grid step across (a module is 2 steps wide) */
#define UY 30.0    /* px per grid step down */
#define PITCH_X 58 /* module to module */
#define PITCH_Y 88
#define MARGIN 28
#define GAP 4.5    /* px cut off each end of a segment, so segments stand apart */
#define SLANT 0.14 /* tan of the forward lean */

typedef struct svg {
    char *path, *tmp;
    int cols, rows;
} svg;

/* Module (row, col)'s grid point (x, y) in px, leaning forward about its middle. */
static void point(int row, int col, double x, double y, double *px, double *py)
{
    *px = MARGIN + col * PITCH_X + x * UX + (1.0 - y) * UY * SLANT;
    *py = MARGIN + row * PITCH_Y + y * UY;
}

/* The segments (and dots) of every module that are lit (or unlit), as path commands. */
static void segments(FILE *f, const svg *v, const uint32_t *masks, unsigned lit)
{
    for (int row = 0; row < v->rows; row++) {
        for (int col = 0; col < v->cols; col++) {
            uint32_t m = masks[row * v->cols + col];
            for (int s = 0; s < 16; s++) {
                if ((m >> s & 1) != lit)
                    continue;
                int e[4];
                double x0, y0, x1, y1;
                wall_segment_ends(s, e);
                point(row, col, e[0], e[1], &x0, &y0);
                point(row, col, e[2], e[3], &x1, &y1);
                double dx = x1 - x0, dy = y1 - y0, cut = GAP / sqrt(dx * dx + dy * dy);
                fprintf(f, "M%.1f %.1fL%.1f %.1f", x0 + dx * cut, y0 + dy * cut,
                        x1 - dx * cut, y1 - dy * cut);
            }
            if ((m >> 16 & 1) == lit) {
                double x, y;
                point(row, col, 2.45, 2.0, &x, &y);
                fprintf(f, "M%.1f %.1fl0 0", x, y);
            }
        }
    }
}

static int svg_draw(void *self, const uint32_t *masks)
{
    svg *v = self;
    int w = 2 * MARGIN + (v->cols - 1) * PITCH_X + (int)(2 * UX) + 12;
    int h = 2 * MARGIN + (v->rows - 1) * PITCH_Y + (int)(2 * UY);
    FILE *f = fopen(v->tmp, "w");
    if (!f)
        return wall_fail("svg: cannot write %s: %s", v->tmp, strerror(errno));
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\">\n"
            "<defs><filter id=\"glow\" x=\"-20%%\" y=\"-20%%\" width=\"140%%\" "
            "height=\"140%%\"><feGaussianBlur stdDeviation=\"3.5\" result=\"blur\"/>"
            "<feMerge><feMergeNode in=\"blur\"/><feMergeNode in=\"blur\"/>"
            "<feMergeNode in=\"SourceGraphic\"/></feMerge></filter></defs>\n"
            "<rect width=\"%d\" height=\"%d\" rx=\"12\" fill=\"#0c0c0e\"/>\n",
            w, h, w, h, w, h);
    fputs("<path class=\"off\" fill=\"none\" stroke=\"#ff8c28\" stroke-opacity=\"0.09\" "
          "stroke-width=\"6\" stroke-linecap=\"round\" d=\"",
          f);
    segments(f, v, masks, 0);
    fputs("\"/>\n<path class=\"on\" fill=\"none\" stroke=\"#ffa548\" stroke-width=\"6\" "
          "stroke-linecap=\"round\" filter=\"url(#glow)\" d=\"",
          f);
    segments(f, v, masks, 1);
    fputs("\"/>\n</svg>\n", f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        remove(v->tmp);
        return wall_fail("svg: cannot write %s", v->tmp);
    }
    if (rename(v->tmp, v->path) != 0) {
        int e = errno;
        remove(v->tmp);
        return wall_fail("svg: cannot rename %s to %s: %s", v->tmp, v->path, strerror(e));
    }
    return 0;
}

static void svg_close(void *self)
{
    svg *v = self;
    free(v->path);
    free(v->tmp);
    free(v);
}

int wall_svg_open(const wall_options *o, wall_sink *s)
{
    if (!o->svg_path || !*o->svg_path)
        return wall_fail("svg: no file to draw into (--svg FILE)");
    size_t n = strlen(o->svg_path);
    svg *v = calloc(1, sizeof *v);
    if (v) {
        v->path = malloc(n + 1);
        v->tmp = malloc(n + 5);
    }
    if (!v || !v->path || !v->tmp) {
        if (v)
            svg_close(v);
        return wall_fail("svg: out of memory");
    }
    memcpy(v->path, o->svg_path, n + 1);
    memcpy(v->tmp, o->svg_path, n);
    memcpy(v->tmp + n, ".tmp", 5);
    FILE *probe = fopen(v->tmp, "w"); /* say now, not at the first frame, if it cannot be */
    if (!probe) {
        wall_fail("svg: cannot write %s: %s", v->tmp, strerror(errno));
        svg_close(v);
        return -1;
    }
    fclose(probe);
    remove(v->tmp);
    v->cols = o->cols;
    v->rows = o->rows;
    *s = (wall_sink){v, svg_draw, svg_close};
    return 0;
}
