/*
 * font.c — the sixteen-segment font: printable ASCII, the placeholder, segment geometry.
 *
 * Shapes are drawn for reading in running text: lowercase letters have their own shapes
 * in the lower half where one exists (only x shares X's), '0' is slashed so it never
 * reads as 'O', 'S' takes the upper diagonal so it differs from '5', brackets sit on the
 * left, parentheses in the centre, '<' '>' are the diagonal chevrons.
 */
#include "wall.h"

#define A (WALL_A1 | WALL_A2)
#define D (WALL_D1 | WALL_D2)
#define G (WALL_G1 | WALL_G2)
#define A1 WALL_A1
#define A2 WALL_A2
#define B WALL_B
#define C WALL_C
#define D1 WALL_D1
#define D2 WALL_D2
#define E WALL_E
#define F WALL_F
#define G1 WALL_G1
#define G2 WALL_G2
#define H WALL_H
#define I WALL_I
#define J WALL_J
#define K WALL_K
#define L WALL_L
#define M WALL_M
#define DP WALL_DP

/* Index c - 32 for c in ' '..'~'. */
static const uint32_t glyphs[95] = {
    /* ' ' */ 0,
    /* '!' */ I | DP,
    /* '"' */ F | I,
    /* '#' */ B | C | D | G | I | L,
    /* '$' */ A | F | G | C | D | I | L,
    /* '%' */ A1 | F | G1 | I | J | M | G2 | L | C | D1, /* two small boxes and a slash */
    /* '&' */ A1 | H | I | G1 | E | D | K,
    /* ''' */ I,
    /* '(' */ A2 | I | L | D1,
    /* ')' */ A1 | I | L | D2,
    /* '*' */ G | H | I | J | K | L | M,
    /* '+' */ G | I | L,
    /* ',' */ M,
    /* '-' */ G,
    /* '.' */ DP,
    /* '/' */ J | M,
    /* '0' */ A | B | C | D | E | F | J | M,
    /* '1' */ B | C,
    /* '2' */ A | B | G | E | D,
    /* '3' */ A | B | G2 | C | D,
    /* '4' */ F | G | B | C,
    /* '5' */ A | F | G | C | D,
    /* '6' */ A | F | G | E | C | D,
    /* '7' */ A | B | C,
    /* '8' */ A | B | C | D | E | F | G,
    /* '9' */ A | B | C | D | F | G,
    /* ':' */ G1 | D2,
    /* ';' */ G1 | M,
    /* '<' */ J | K,
    /* '=' */ G | D,
    /* '>' */ H | M,
    /* '?' */ A | B | G2 | L,
    /* '@' */ A | B | F | E | D | G2 | I,
    /* 'A' */ A | B | C | E | F | G,
    /* 'B' */ A | B | C | D | G2 | I | L,
    /* 'C' */ A | F | E | D,
    /* 'D' */ A | B | C | D | I | L,
    /* 'E' */ A | F | E | D | G1,
    /* 'F' */ A | F | E | G1,
    /* 'G' */ A | F | E | D | C | G2,
    /* 'H' */ F | E | B | C | G,
    /* 'I' */ A | I | L | D,
    /* 'J' */ B | C | D | E,
    /* 'K' */ F | E | G1 | J | K,
    /* 'L' */ F | E | D,
    /* 'M' */ F | E | B | C | H | J,
    /* 'N' */ F | E | B | C | H | K,
    /* 'O' */ A | B | C | D | E | F,
    /* 'P' */ A | B | F | E | G,
    /* 'Q' */ A | B | C | D | E | F | K,
    /* 'R' */ A | B | F | E | G | K,
    /* 'S' */ A | H | G2 | C | D,
    /* 'T' */ A | I | L,
    /* 'U' */ F | E | D | C | B,
    /* 'V' */ F | E | M | J,
    /* 'W' */ F | E | B | C | M | K,
    /* 'X' */ H | J | K | M,
    /* 'Y' */ H | J | L,
    /* 'Z' */ A | J | M | D,
    /* '[' */ A1 | F | E | D2,
    /* '\' */ H | K,
    /* ']' */ A2 | B | C | D1,
    /* '^' */ M | K,
    /* '_' */ D,
    /* '`' */ H,
    /* 'a' */ G1 | E | D | L,
    /* 'b' */ F | E | G1 | L | D2,
    /* 'c' */ G | E | D,
    /* 'd' */ B | C | G2 | L | D1,
    /* 'e' */ G1 | E | D2 | M,
    /* 'f' */ A2 | I | L | G,
    /* 'g' */ A1 | F | G1 | I | L | D2,
    /* 'h' */ F | E | G1 | L,
    /* 'i' */ L,
    /* 'j' */ L | D2,
    /* 'k' */ I | L | J | K,
    /* 'l' */ F | E,
    /* 'm' */ G | E | L | C,
    /* 'n' */ G | E | C,
    /* 'o' */ G | E | D | C,
    /* 'p' */ A1 | F | G1 | I | E,
    /* 'q' */ A1 | F | G1 | I | L,
    /* 'r' */ E | G1,
    /* 's' */ G2 | K | D1,
    /* 't' */ F | E | G1 | D2,
    /* 'u' */ E | D | C,
    /* 'v' */ E | M,
    /* 'w' */ E | M | K | C,
    /* 'x' */ H | J | K | M, /* = 'X' (WALL_LOOKALIKES) */
    /* 'y' */ F | G | B | C | D,
    /* 'z' */ G1 | M | D2,
    /* '{' */ A2 | I | L | D1 | G1,
    /* '|' */ I | L,
    /* '}' */ A1 | I | L | D2 | G2,
    /* '~' */ G1 | J,
};
_Static_assert(sizeof glyphs / sizeof glyphs[0] == '~' - ' ' + 1, "one glyph per printable");

/* A box with both diagonals: unmistakably not a letter. */
static const uint32_t placeholder = A | B | C | D | E | F | H | J | K | M;

uint32_t wall_glyph(unsigned char c)
{
    if (c >= ' ' && c <= '~')
        return glyphs[c - ' '];
    return placeholder;
}

/* Segment ends on the 2 x 2 grid, in bit order a1 .. m (see wall.h's picture). */
static const signed char ends[16][4] = {
    {0, 0, 1, 0}, /* a1 */ {1, 0, 2, 0}, /* a2 */
    {2, 0, 2, 1}, /* b  */ {2, 1, 2, 2}, /* c  */
    {2, 2, 1, 2}, /* d1 */ {1, 2, 0, 2}, /* d2 */
    {0, 2, 0, 1}, /* e  */ {0, 1, 0, 0}, /* f  */
    {0, 1, 1, 1}, /* g1 */ {1, 1, 2, 1}, /* g2 */
    {0, 0, 1, 1}, /* h  */ {1, 0, 1, 1}, /* i  */
    {2, 0, 1, 1}, /* j  */ {1, 1, 2, 2}, /* k  */
    {1, 1, 1, 2}, /* l  */ {1, 1, 0, 2}, /* m  */
};

void wall_segment_ends(int s, int xy[4])
{
    for (int k = 0; k < 4; k++)
        xy[k] = (s >= 0 && s < 16) ? ends[s][k] : 0;
}
