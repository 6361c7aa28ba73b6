/*
 * term.c — the wall as ANSI art: each module 5 x 5 characters of box drawing, lit
 * segments bright amber, unlit ones dim grey, so the whole plate is visible:
 *
 *     ┌─┬─┐      a1 a2 on the top row, f h i j b on the next, g1 g2 in the middle,
 *     │╲│╱│      e m l k c below, d2 d1 at the bottom; the column after each module
 *     ├─┼─┤      holds its decimal point (and is the gap to the next module).
 *     │╱│╲│
 *     └─┴─┘•
 *
 * Each frame is drawn over the last one: the cursor goes back up by the lines drawn.
 * A wall wider than the terminal (16 modules need 96 columns) drops the gap column
 * (the decimal point then lights the module's bottom-right corner), so 16 modules fit
 * 80 columns; what still does not fit is clipped, keeping the newest (bottom) rows,
 * because a wrapped line would break the redraw in place.
 */
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "wall.h"

#define LIT "\x1b[1;38;5;208m"
#define UNLIT "\x1b[22;38;5;238m"

/* Segment at each cell of the 5 x 5 module; -1 marks a junction. */
static const signed char at[5][5] = {
    {-1, 0, -1, 1, -1},  /*    a1    a2    */
    {7, 10, 11, 12, 2},  /* f  h  i  j  b  */
    {-1, 8, -1, 9, -1},  /*    g1    g2    */
    {6, 15, 14, 13, 3},  /* e  m  l  k  c  */
    {-1, 5, -1, 4, -1},  /*    d2    d1    */
};

/* Junctions by the lines that leave them: up 1, down 2, left 4, right 8. */
static const char *const joint[16] = {" ", "╵", "╷", "│", "╴", "┘", "┐", "┤",
                                      "╶", "└", "┌", "├", "─", "┴", "┬", "┼"};

typedef struct term {
    FILE *out;
    int cols, rows;
    int lines_up; /* lines the last frame took (0 before the first) */
} term;

static int seg_at(int r, int c)
{
    return r >= 0 && r < 5 && c >= 0 && c < 5 ? at[r][c] : -1;
}

/* The lines leaving junction (r, c): those of lit segments, or all when `lit` is 0. */
static int joint_bits(uint32_t m, int r, int c, int lit)
{
    static const int dr[4] = {-1, 1, 0, 0}, dc[4] = {0, 0, -1, 1};
    int bits = 0;
    for (int k = 0; k < 4; k++) {
        int s = seg_at(r + dr[k], c + dc[k]);
        if (s >= 0 && (!lit || (m >> s & 1)))
            bits |= 1 << k;
    }
    return bits;
}

/* One character of the module and whether it is lit. */
static const char *cell(uint32_t m, int r, int c, int *lit)
{
    int s = at[r][c];
    if (s >= 0) {
        *lit = (int)(m >> s & 1);
        if (r % 2 == 0)
            return "─";
        if (c % 2 == 0)
            return "│";
        return (s == 10 || s == 13) ? "╲" : "╱"; /* h, k lean back; j, m forward */
    }
    int bits = joint_bits(m, r, c, 1);
    if (bits) {
        *lit = 1;
        return joint[bits];
    }
    if (r == 2 && c == 2) { /* the centre: a diagonal that passes straight through */
        int back = (m & WALL_H) && (m & WALL_K), fwd = (m & WALL_J) && (m & WALL_M);
        if (back || fwd) {
            *lit = 1;
            return back && fwd ? "╳" : back ? "╲" : "╱";
        }
    }
    *lit = 0;
    return joint[joint_bits(m, r, c, 0)];
}

static int row_lit(const uint32_t *masks, int cols)
{
    for (int c = 0; c < cols; c++)
        if (masks[c])
            return 1;
    return 0;
}

/* The terminal's size, or 0 x 0 when out is no terminal (then nothing is clipped). */
static void term_size(FILE *out, int *width, int *height)
{
    struct winsize ws;
    *width = *height = 0;
    if (isatty(fileno(out)) && ioctl(fileno(out), TIOCGWINSZ, &ws) == 0)
        *width = ws.ws_col, *height = ws.ws_row;
}

static int term_draw(void *self, const uint32_t *masks)
{
    term *t = self;
    int width, height;
    term_size(t->out, &width, &height); /* each frame: the window may have been resized */
    int pitch = width > 0 && width < 6 * t->cols ? 5 : 6;
    int cols = width > 0 && width / pitch < t->cols ? (width / pitch > 0 ? width / pitch : 1)
                                                    : t->cols;
    int first = 0, shown = height > 0 ? height / 6 : t->rows; /* rows that fit */
    if (shown < 1)
        shown = 1;
    if (shown < t->rows) { /* keep the newest text: the window ends at its last row */
        int last = t->rows - 1;
        while (last >= shown && !row_lit(masks + last * t->cols, t->cols))
            last--;
        first = last + 1 - shown;
    }

    if (t->lines_up)
        fprintf(t->out, "\x1b[%dA\r", t->lines_up);
    int lines = 0, lit_now = -1;
    for (int row = first; row < first + shown && row < t->rows; row++) {
        for (int r = 0; r < 6; r++) {
            if (r == 5 && (row == t->rows - 1 || row == first + shown - 1))
                break; /* no gap line under the last row */
            for (int col = 0; col < cols && r < 5; col++) {
                uint32_t m = masks[row * t->cols + col];
                for (int c = 0; c < pitch; c++) {
                    int lit;
                    const char *ch;
                    if (c == 5) {
                        lit = (int)(m >> 16 & 1);
                        ch = r == 4 ? "•" : " ";
                    } else {
                        ch = cell(m, r, c, &lit);
                        if (pitch == 5 && r == 4 && c == 4 && (m & WALL_DP) && !lit)
                            ch = "•", lit = 1; /* no gap column: the dp takes the corner */
                    }
                    if (lit != lit_now)
                        fputs(lit ? LIT : UNLIT, t->out), lit_now = lit;
                    fputs(ch, t->out);
                }
            }
            fputs("\x1b[0m\n", t->out);
            lit_now = -1;
            lines++;
        }
    }
    t->lines_up = lines;
    if (fflush(t->out) != 0 || ferror(t->out))
        return wall_fail("term: cannot write the frame");
    return 0;
}

static void term_close(void *self)
{
    term *t = self;
    fputs("\x1b[0m\x1b[?25h", t->out); /* colours reset, cursor shown again */
    fflush(t->out);
    free(t);
}

int wall_term_open(const wall_options *o, wall_sink *s)
{
    term *t = malloc(sizeof *t);
    if (!t)
        return wall_fail("term: out of memory");
    t->out = o->out ? o->out : stdout;
    t->cols = o->cols;
    t->rows = o->rows;
    t->lines_up = 0;
    fputs("\x1b[?25l", t->out); /* the cursor would blink somewhere on the wall */
    *s = (wall_sink){t, term_draw, term_close};
    return 0;
}
