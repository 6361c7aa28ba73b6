/*
 * layout.c — folded characters onto a cols x rows grid, as a reader expects a page.
 *
 * Text arrives a token at a time, so a word is placed as its letters come. When the next
 * letter would not fit, a word that began mid-row moves whole to the next row; a word
 * already as wide as a row is split instead. Whitespace is placed lazily (owed) when the
 * next word arrives: a row never starts with a space, and a trailing line break does not
 * scroll the wall before there is anything to show below it.
 */
#include <string.h>

#include "wall.h"

enum { OWE_NONE, OWE_SPACE, OWE_LINE, OWE_PARAGRAPH };

static unsigned char *cell(wall_layout *l, int row, int col)
{
    return l->cells + (size_t)row * (size_t)l->cols + (size_t)col;
}

void wall_layout_init(wall_layout *l, int cols, int rows, unsigned char *cells)
{
    l->cols = cols;
    l->rows = rows;
    l->cells = cells;
    wall_layout_clear(l);
}

void wall_layout_clear(wall_layout *l)
{
    memset(l->cells, ' ', (size_t)l->cols * (size_t)l->rows);
    l->row = l->col = l->word = 0;
    l->owed = OWE_NONE;
    l->newlines = 0;
}

/* The cursor to the start of the next row, scrolling the wall up a row at the bottom. */
static void next_row(wall_layout *l)
{
    if (l->row + 1 < l->rows) {
        l->row++;
    } else {
        size_t row_bytes = (size_t)l->cols;
        memmove(l->cells, l->cells + row_bytes, row_bytes * (size_t)(l->rows - 1));
        memset(cell(l, l->rows - 1, 0), ' ', row_bytes);
    }
    l->col = 0;
    l->word = 0;
}

/* Places the whitespace owed before a word. */
static void pay_owed(wall_layout *l)
{
    int owed = l->owed;
    l->owed = OWE_NONE;
    l->newlines = 0;
    if (l->row == 0 && l->col == 0)
        return; /* nothing written yet: no leading space or blank row */
    if (owed == OWE_SPACE && l->col > 0) {
        if (l->col < l->cols)
            *cell(l, l->row, l->col++) = ' ';
        else
            next_row(l); /* the space falls at the row's end: it is the line break */
        l->word = 0;
    } else if (owed == OWE_LINE) {
        if (l->col > 0)
            next_row(l);
    } else if (owed == OWE_PARAGRAPH) {
        if (l->col > 0)
            next_row(l);
        next_row(l); /* the blank row */
    }
}

static void put_word_char(wall_layout *l, unsigned char c)
{
    if (l->owed != OWE_NONE)
        pay_owed(l);
    l->newlines = 0;
    if (l->col == l->cols) {
        int start = l->col - l->word;
        if (l->word > 0 && start > 0) {
            /* The word began mid-row: carry it whole to the next row. The source row is
             * the row above afterwards, scrolled or not. */
            int n = l->word;
            next_row(l);
            unsigned char *src = cell(l, l->row - 1, start);
            memcpy(cell(l, l->row, 0), src, (size_t)n);
            memset(src, ' ', (size_t)n);
            l->col = l->word = n;
        } else {
            next_row(l); /* as wide as the row: split it */
        }
    }
    *cell(l, l->row, l->col++) = c;
    l->word = c == '-' ? 0 : l->word + 1; /* a line may break after a hyphen */
}

void wall_layout_put(wall_layout *l, unsigned char c)
{
    switch (c) {
    case ' ':
    case '\t':
        if (l->owed < OWE_SPACE && !(l->row == 0 && l->col == 0))
            l->owed = OWE_SPACE;
        l->word = 0;
        break;
    case '\n':
        l->newlines++;
        if (l->newlines >= 2)
            l->owed = OWE_PARAGRAPH;
        else if (l->owed < OWE_LINE)
            l->owed = OWE_LINE;
        l->word = 0;
        break;
    default:
        put_word_char(l, c);
    }
}

void wall_layout_paragraph(wall_layout *l)
{
    l->owed = OWE_PARAGRAPH;
    l->word = 0;
}

/* Columns of row r up to its last non-blank cell. */
static int row_length(wall_layout *l, int r)
{
    int n = l->cols;
    while (n > 0 && *cell(l, r, n - 1) == ' ')
        n--;
    return n;
}

void wall_layout_center(wall_layout *l)
{
    int used = l->rows;
    while (used > 0 && row_length(l, used - 1) == 0)
        used--;
    int down = (l->rows - used) / 2;
    for (int r = used - 1; r >= 0; r--) {
        int n = row_length(l, r);
        int right = (l->cols - n) / 2;
        /* Row r moves to row r + down, shifted right; rows are done bottom-up so a
         * source row is read before anything is written over it. */
        memmove(cell(l, r + down, right), cell(l, r, 0), (size_t)n);
        memset(cell(l, r + down, 0), ' ', (size_t)right);
        memset(cell(l, r + down, right + n), ' ', (size_t)(l->cols - right - n));
    }
    for (int r = 0; r < down; r++)
        memset(cell(l, r, 0), ' ', (size_t)l->cols);
    l->row = l->rows - 1;
    l->col = l->cols;
    l->word = 0;
}
