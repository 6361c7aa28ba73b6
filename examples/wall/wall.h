/*
 * wall.h — a wall of sixteen-segment modules: font, UTF-8 fold, layout and backends.
 *
 * The wall knows nothing of models; any program that has text can drive it:
 *
 *     wall_options o = wall_default_options();        // 16 x 6, "auto" backend
 *     for (int i = 1; i < argc; i++) {                // take the wall's own flags
 *         int n = wall_parse_option(&o, argc, argv, i);
 *         if (n < 0) { fprintf(stderr, "%s\n", wall_last_error()); return 1; }
 *         if (n > 0) { i += n - 1; continue; }
 *         ...                                         // the program's own flags
 *     }
 *     wall *w;
 *     if (wall_open(&o, &w) != 0) { fprintf(stderr, "%s\n", wall_last_error()); return 1; }
 *     wall_write(w, piece, strlen(piece));            // as often as text arrives
 *     wall_close(w);
 *
 * Every function that can fail returns -1 and leaves a reason in wall_last_error();
 * nothing here aborts, exits, or prints on its own outside the chosen backend.
 * The only global mutable state is that (thread-local) error string.
 *
 * Segments, bit 0 to bit 16 (the order of the hardware driver):
 *
 *      a1   a2          a1 a2  top halves          g1 g2  middle halves
 *     f  h i j  b       b  c   right, upper/lower  h i j  upper diagonals and centre
 *      g1   g2          d1 d2  bottom halves,      k l m  lower diagonals and centre
 *     e  m l k  c              right then left     dp     the decimal point
 *      d2   d1  dp      e  f   left, lower/upper
 */
#ifndef LT_WALL_H
#define LT_WALL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ======================================================================================
 * The wall: text in, frames out
 * ====================================================================================== */

typedef struct wall wall;

typedef struct wall_options {
    const char *backend;    /* "auto" (term on a terminal, else none), "term", "svg",
                               "frames", "i2c", "none" */
    int cols, rows;         /* the grid, 16 x 6 by default */
    const char *svg_path;   /* svg: the picture, rewritten atomically (FILE.tmp, rename) */
    const char *i2c_device; /* i2c: bus devices, comma-separated, 8 chips per bus
                               ("/dev/i2c-1,/dev/i2c-3"); see the i2c backend below */
    const char *i2c_dry_run;/* i2c: write "DEV 0xAA: bytes" lines here, touch no bus */
    int brightness;         /* i2c: 0..15 (HT16K33 duty 1/16 .. 16/16) */
    FILE *out;              /* term, frames: where to draw (NULL: stdout) */
} wall_options;

/* "auto", 16 x 6, /dev/i2c-1, brightness 15, stdout. Strings are borrowed: they must
 * outlive wall_open (the wall copies what it keeps). */
wall_options wall_default_options(void);

/* Parses the wall's flag at argv[i], if it is one: --display X, --grid CxR, --svg FILE,
 * --i2c DEV[,DEV], --i2c-dry-run FILE, --brightness N (also as --flag=value). --svg,
 * --i2c and --i2c-dry-run also choose their backend. Returns the argv entries consumed
 * (1 or 2), 0 if the flag is not the wall's, -1 on a bad or missing value. */
int wall_parse_option(wall_options *o, int argc, char **argv, int i);
const char *wall_usage(void); /* help lines for those flags */

/* Opens the backend (files, devices). Nothing is drawn until the first change. */
int wall_open(const wall_options *o, wall **out);
/* Flows UTF-8 text in (any byte pieces: a character may be split across calls), then
 * redraws if the wall changed. Text is word-wrapped; the wall scrolls a row when full. */
int wall_write(wall *w, const char *utf8, size_t len);
int wall_paragraph(wall *w); /* a paragraph break: the next word starts after a blank row */
int wall_clear(wall *w);     /* blank wall, cursor home, redrawn */
/* One whole-wall frame (e.g. at death): the wall cleared, `text` wrapped and centred.
 * The next wall_write starts on a clear wall. */
int wall_message(wall *w, const char *text);
void wall_close(wall *w); /* NULL is a no-op; the hardware keeps its last frame */

const char *wall_last_error(void);
const char *wall_backend(const wall *w); /* the backend "auto" became */
/* Copies the masks of the wall as it stands (row-major) into masks[0..n); returns
 * cols*rows (copying min(n, cols*rows)). */
size_t wall_frame(const wall *w, uint32_t *masks, size_t n);

/* ======================================================================================
 * The font (font.c)
 * ====================================================================================== */

enum {
    WALL_A1 = 1u << 0, WALL_A2 = 1u << 1, WALL_B = 1u << 2, WALL_C = 1u << 3,
    WALL_D1 = 1u << 4, WALL_D2 = 1u << 5, WALL_E = 1u << 6, WALL_F = 1u << 7,
    WALL_G1 = 1u << 8, WALL_G2 = 1u << 9, WALL_H = 1u << 10, WALL_I = 1u << 11,
    WALL_J = 1u << 12, WALL_K = 1u << 13, WALL_L = 1u << 14, WALL_M = 1u << 15,
    WALL_DP = 1u << 16,
};

/* The character the fold writes for anything it cannot show (ASCII SUB). Its glyph, a
 * box with both diagonals, is no printable character's. */
#define WALL_PLACEHOLDER '\x1a'

/* The mask of one character: printable ASCII as designed, space 0, anything else the
 * placeholder box. */
uint32_t wall_glyph(unsigned char c);

/* Pairs of characters drawn alike on purpose ("xX": a lowercase x has no other shape
 * on sixteen segments). Every other pair of printable characters differs. */
#define WALL_LOOKALIKES "xX"

/* Where segment s (0..15) lies on a module, as a line from (xy[0], xy[1]) to
 * (xy[2], xy[3]) on a 2 x 2 grid: x 0 left, 1 centre, 2 right; y 0 top, 1 middle,
 * 2 bottom. The decimal point sits right of (2, 2). */
void wall_segment_ends(int s, int xy[4]);

/* ======================================================================================
 * The fold: UTF-8 → what the font can show (fold.c)
 * ====================================================================================== */

/* A streaming UTF-8 decoder; zero-initialise it ({0}). Invalid input (stray continuation
 * bytes, overlong forms, surrogates, past U+10FFFF, truncated sequences) decodes to
 * WALL_BAD_CP, once per maximal ill-formed subsequence. */
typedef struct wall_utf8 {
    uint32_t cp;         /* code point so far */
    unsigned char need;  /* continuation bytes still expected */
    unsigned char lo, hi;/* the range the next continuation byte must fall in */
} wall_utf8;

#define WALL_BAD_CP 0xFFFFFFFFu

/* Feeds one byte; writes the 0, 1 or 2 code points it completes into cp[] and returns
 * their number (2 when it breaks a pending sequence and is itself a character). */
int wall_utf8_push(wall_utf8 *d, unsigned char byte, uint32_t cp[2]);
/* End of input: a pending, unfinished sequence becomes WALL_BAD_CP (returns 1), else 0. */
int wall_utf8_flush(wall_utf8 *d, uint32_t *cp);

#define WALL_FOLD_MAX 4 /* the longest fold of one code point ("<->" "EUR" + NUL) */

/* What one code point shows as: ASCII (accents dropped, quotes straightened, dashes
 * to '-', "..." for an ellipsis, spaces to ' ', "\n" for line breaks), "" for what has
 * no look (zero-width marks, combining accents, variation selectors), and
 * WALL_PLACEHOLDER for the rest. Writes a NUL-terminated string, returns its length. */
int wall_fold_cp(uint32_t cp, char out[WALL_FOLD_MAX]);

/* Folds a piece of a UTF-8 stream into out (state kept in d between pieces). Returns the
 * chars the fold produced; writes at most cap - 1 of them and a NUL (like snprintf).
 * A piece of n bytes folds to at most 3 * n chars. */
size_t wall_fold(wall_utf8 *d, const char *in, size_t n, char *out, size_t cap);

/* ======================================================================================
 * The layout: folded characters → a grid (layout.c)
 * ====================================================================================== */

typedef struct wall_layout {
    int cols, rows;
    unsigned char *cells; /* rows * cols chars, row-major, ' ' blank; borrowed */
    int row, col;         /* where the next character goes (col == cols: row is full) */
    int word;             /* chars of the current word ending at the cursor, this row */
    int owed;             /* whitespace seen, placed lazily before the next word */
    int newlines;         /* consecutive '\n' seen (two make a paragraph) */
} wall_layout;

void wall_layout_init(wall_layout *l, int cols, int rows, unsigned char *cells);
/* One folded character: ' ' and '\t' separate words, '\n' breaks the line, two or more
 * '\n' a paragraph (a blank row); anything else is part of a word (a '-' ends one, so
 * a line may break after it). A word that no longer fits its row moves to the next;
 * a word longer than a row is split; a new row at the bottom scrolls the wall up. */
void wall_layout_put(wall_layout *l, unsigned char c);
void wall_layout_paragraph(wall_layout *l);
void wall_layout_clear(wall_layout *l);
/* Centres the text on the grid, each row and the block of rows (for a message). */
void wall_layout_center(wall_layout *l);

/* ======================================================================================
 * Backends (term.c svg.c frames.c i2c.c): each draws whole frames of cols*rows masks
 * ====================================================================================== */

typedef struct wall_sink {
    void *self;
    int (*draw)(void *self, const uint32_t *masks); /* 0 or -1 + wall_last_error */
    void (*close)(void *self);
} wall_sink;

/* term: ANSI art, each module 5 x 5 characters, lit segments bright amber, unlit ones
 * dim; redrawn in place (cursor moved back up), cursor hidden until close. */
int wall_term_open(const wall_options *o, wall_sink *s);
/* svg: a dark plate, lit segments glowing, unlit ones faint; each frame written to
 * FILE.tmp and renamed over FILE, so a viewer never reads half a picture. */
int wall_svg_open(const wall_options *o, wall_sink *s);
/* frames: one line per frame, cols*rows masks row-major, each as 5 lowercase hex digits,
 * separated by single spaces; flushed after each line. */
int wall_frames_open(const wall_options *o, wall_sink *s);
/* i2c: HT16K33 LED drivers, 8 modules per chip. Module n (row-major) is on chip n / 8,
 * common n % 8; its segment bit s (a1..m, 0..15) is ROW s, so display RAM byte 2c holds
 * bits 0-7 (a1 a2 b c d1 d2 e f) and byte 2c+1 bits 8-15 (g1 g2 h i j k l m) of the
 * module on common c. 8 commons x 17 signals do not fit the chip's 16 rows, so the
 * decimal point is shown as d1 (a '.' reads as a short bar low on the right).
 * An HT16K33 has three address pins: 8 addresses, 0x70..0x77, per bus. Chip k is at
 * 0x70 + k % 8 on bus k / 8 of the --i2c list, so 16 x 6 (12 chips) needs two buses
 * (a second I2C controller, or two channels of a multiplexer).
 * Per chip at open: 0x21 (oscillator on), 0x00 + 16 zero bytes (RAM blank), 0x81
 * (display on, no blink), 0xE0|brightness; per frame, 0x00 + 16 RAM bytes for each
 * chip whose RAM changed. Dry run: each of those writes is a line
 * "DEV 0xAA: 00 11 ..." (bus device, 7-bit address, bytes in hex). */
int wall_i2c_open(const wall_options *o, wall_sink *s);

/* Sets the error string (printf-style) and returns -1: `return wall_fail("...", ...);` */
int wall_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif /* LT_WALL_H */
