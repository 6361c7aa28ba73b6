/*
 * test_wall.c — the wall of sixteen-segment modules: font, fold, layout, backends.
 *
 * Needs no model. Expected frames are written as text and turned into masks with the
 * font; the font itself is checked against the segment order of the issue, spelled out
 * again below, so a table that drifted from the hardware's bit order fails here.
 */
#include <stdint.h>
#include <unistd.h>

#include "harness.h"
#include "wall.h"

/* The order: bit 0..15 = a1 a2 b c d1 d2 e f g1 g2 h i j k l m, bit 16 = dp. */
enum {
    S_A1 = 1 << 0, S_A2 = 1 << 1, S_B = 1 << 2, S_C = 1 << 3, S_D1 = 1 << 4, S_D2 = 1 << 5,
    S_E = 1 << 6, S_F = 1 << 7, S_G1 = 1 << 8, S_G2 = 1 << 9, S_H = 1 << 10, S_I = 1 << 11,
    S_J = 1 << 12, S_K = 1 << 13, S_L = 1 << 14, S_M = 1 << 15, S_DP = 1 << 16,
};
#define PH "\x1a"

static int popcount(uint32_t x)
{
    int n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

/* ==================================================================== the font */

/* Left-right mirror image of a mask. */
static uint32_t mirror(uint32_t m)
{
    static const int pairs[][2] = {{0, 1}, {2, 7}, {3, 6}, {4, 5}, {8, 9}, {10, 12}, {13, 15}};
    uint32_t r = m & (S_I | S_L | S_DP);
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        if (m >> pairs[k][0] & 1)
            r |= 1u << pairs[k][1];
        if (m >> pairs[k][1] & 1)
            r |= 1u << pairs[k][0];
    }
    return r & ~(uint32_t)S_DP;
}

static int listed_lookalike(int p, int q)
{
    const char *l = WALL_LOOKALIKES;
    for (size_t k = 0; l[k] && l[k + 1]; k += 2)
        if ((l[k] == p && l[k + 1] == q) || (l[k] == q && l[k + 1] == p))
            return 1;
    return 0;
}

static void test_font(void)
{
    CHECK(wall_glyph(' ') == 0, "space is blank");
    for (int ch = '!'; ch <= '~'; ch++) {
        uint32_t m = wall_glyph((unsigned char)ch);
        CHECK(m != 0, "'%c' has a glyph", ch);
        CHECK(m < (1u << 17), "'%c' uses bits 0..16 only: %05x", ch, m);
    }
    /* Every pair differs, unless it is a documented look-alike (and those really are). */
    int same = 0;
    for (int p = ' '; p <= '~'; p++)
        for (int q = p + 1; q <= '~'; q++)
            if (wall_glyph((unsigned char)p) == wall_glyph((unsigned char)q)) {
                same++;
                CHECK(listed_lookalike(p, q), "'%c' and '%c' look alike but are not listed",
                      p, q);
            }
    const char *l = WALL_LOOKALIKES;
    for (size_t k = 0; l[k] && l[k + 1]; k += 2)
        CHECK(wall_glyph((unsigned char)l[k]) == wall_glyph((unsigned char)l[k + 1]),
              "'%c' '%c' are listed as look-alikes but differ", l[k], l[k + 1]);
    CHECK(2 * (size_t)same == strlen(WALL_LOOKALIKES), "%d equal pairs", same);

    uint32_t ph = wall_glyph(WALL_PLACEHOLDER);
    CHECK(ph != 0, "the placeholder is visible");
    for (int ch = ' '; ch <= '~'; ch++)
        CHECK(wall_glyph((unsigned char)ch) != ph, "'%c' differs from the placeholder", ch);
    CHECK(wall_glyph(0x7F) == ph && wall_glyph(0x80) == ph && wall_glyph(0) == ph,
          "non-printables draw the placeholder");

    /* Shapes, segment by segment. */
    const uint32_t box = S_A1 | S_A2 | S_B | S_C | S_D1 | S_D2 | S_E | S_F;
    struct {
        char ch;
        uint32_t m;
    } shapes[] = {
        {'1', S_B | S_C},
        {'H', S_F | S_E | S_B | S_C | S_G1 | S_G2},
        {'-', S_G1 | S_G2},
        {'.', S_DP},
        {'_', S_D1 | S_D2},
        {'|', S_I | S_L},
        {'/', S_J | S_M},
        {'\\', S_H | S_K},
        {'+', S_G1 | S_G2 | S_I | S_L},
        {'*', S_G1 | S_G2 | S_H | S_I | S_J | S_K | S_L | S_M},
        {'O', box},
        {'0', box | S_J | S_M},
        {'8', box | S_G1 | S_G2},
        {'T', S_A1 | S_A2 | S_I | S_L},
        {'L', S_F | S_E | S_D1 | S_D2},
        {'X', S_H | S_J | S_K | S_M},
        {'7', S_A1 | S_A2 | S_B | S_C},
        {'=', S_G1 | S_G2 | S_D1 | S_D2},
    };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        CHECK(wall_glyph((unsigned char)shapes[k].ch) == shapes[k].m, "'%c' = %05x, not %05x",
              shapes[k].ch, shapes[k].m, wall_glyph((unsigned char)shapes[k].ch));

    /* Mirror pairs are mirror images. */
    const char *mirrors[] = {"()", "[]", "{}", "<>", "/\\", "bd", "AA", "HH", "MM",
                             "OO", "TT", "WW", "XX", "**", "++", "^^", "||"};
    for (size_t k = 0; k < sizeof mirrors / sizeof mirrors[0]; k++)
        CHECK(mirror(wall_glyph((unsigned char)mirrors[k][0])) ==
                  wall_glyph((unsigned char)mirrors[k][1]),
              "'%c' mirrored is '%c'", mirrors[k][0], mirrors[k][1]);

    /* The geometry follows the words (clockwise from the top left; the inner
     * segments clockwise from the upper-left diagonal). Ends are unordered. */
    static const int want[16][4] = {
        {0, 0, 1, 0}, {1, 0, 2, 0}, {2, 0, 2, 1}, {2, 1, 2, 2}, /* a1 a2 b c */
        {1, 2, 2, 2}, {0, 2, 1, 2}, {0, 1, 0, 2}, {0, 0, 0, 1}, /* d1 d2 e f */
        {0, 1, 1, 1}, {1, 1, 2, 1}, {0, 0, 1, 1}, {1, 0, 1, 1}, /* g1 g2 h i */
        {2, 0, 1, 1}, {1, 1, 2, 2}, {1, 1, 1, 2}, {0, 2, 1, 1}, /* j k l m */
    };
    for (int s = 0; s < 16; s++) {
        int xy[4];
        wall_segment_ends(s, xy);
        int fwd = xy[0] == want[s][0] && xy[1] == want[s][1] && xy[2] == want[s][2] &&
                  xy[3] == want[s][3];
        int back = xy[0] == want[s][2] && xy[1] == want[s][3] && xy[2] == want[s][0] &&
                   xy[3] == want[s][1];
        CHECK(fwd || back, "segment %d lies at (%d,%d)-(%d,%d)", s, xy[0], xy[1], xy[2], xy[3]);
    }
}

/* ==================================================================== the fold */

static const char *fold(const char *in)
{
    static char out[256];
    wall_utf8 d = {0};
    size_t n = wall_fold(&d, in, strlen(in), out, sizeof out);
    uint32_t cp;
    char s[WALL_FOLD_MAX];
    if (wall_utf8_flush(&d, &cp) && n + 2 < sizeof out)
        n += (size_t)wall_fold_cp(cp, s), strcat(out, s);
    return out;
}

static void test_fold(void)
{
    static const char *const cases[][2] = {
        {"abc XYZ 09 ~", "abc XYZ 09 ~"},
        {"é", "e"},
        {"Élan, naïve café, straße", "Elan, naive cafe, strasse"},
        {"Łódź Œuvre Ştefan ĳ", "Lodz OEuvre Stefan ij"},
        {"“quoted”", "\"quoted\""},
        {"‘it’s’", "'it's'"},
        {"a—b–c−d", "a-b-c-d"},
        {"wait…", "wait..."},
        {"a\xc2\xa0" "b", "a b"},                      /* NBSP */
        {"a\xe2\x80\xafz", "a z"},                     /* narrow NBSP */
        {"😀", PH},                                    /* an emoji */
        {"❤️ 👍🏽", PH " " PH},                        /* VS16, a skin tone: still one */
        {"e\xcc\x81", "e"},                            /* e + combining acute */
        {"Ａｂ１", "Ab1"},                             /* fullwidth */
        {"€5 ½ ™ → ≤", "EUR5 1/2 TM -> <="},
        {"«non»", "\"non\""},
        {"zero\xe2\x80\x8bwidth", "zerowidth"},
        {"CR\r\nLF\ttab", "CR\nLF tab"},
        {"para\xe2\x80\xa9next", "para\n\nnext"},
        {"\x01\x7f", PH PH},                           /* controls */
        {"Привет", PH PH PH PH PH PH},                  /* a script the font lacks */
        {"\xef\xbf\xbd", PH},                          /* U+FFFD */
        {"a\x80" "b", "a" PH "b"},                     /* stray continuation byte */
        {"\xff\xfe", PH PH},
        {"\xc0\xaf", PH PH},                           /* overlong '/' */
        {"\xe0\x80\xaf", PH PH PH},                    /* overlong, 3 bytes */
        {"\xed\xa0\x80", PH PH PH},                    /* a surrogate */
        {"\xf4\x90\x80\x80", PH PH PH PH},             /* past U+10FFFF */
        {"\xe2\x80x", PH "x"},                         /* cut short, then ASCII */
        {"\xe2\x80", PH},                              /* cut short at the end */
        {"\xf0\x9f\x98", PH},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *got = fold(cases[k][0]);
        CHECK(strcmp(got, cases[k][1]) == 0, "fold case %zu: got \"%s\"", k, got);
    }

    /* Bytes split across calls: nothing until the character is whole. */
    wall_utf8 d = {0};
    char out[16];
    CHECK(wall_fold(&d, "\xc3", 1, out, sizeof out) == 0 && out[0] == 0, "half an é");
    CHECK(wall_fold(&d, "\xa9!", 2, out, sizeof out) == 2 && strcmp(out, "e!") == 0,
          "the rest of it: \"%s\"", out);
    const char *emoji = "\xf0\x9f\x98\x80";
    size_t total = 0;
    for (int k = 0; k < 4; k++)
        total += wall_fold(&d, emoji + k, 1, out, sizeof out);
    CHECK(total == 1 && strcmp(out, PH) == 0, "an emoji byte by byte is one placeholder");

    /* Truncating output like snprintf. */
    d = (wall_utf8){0};
    CHECK(wall_fold(&d, "…", 3, out, 3) == 3 && strcmp(out, "..") == 0, "truncated: %s", out);

    /* Any bytes at all: only printable ASCII, '\n' and the placeholder come out, at most
     * 3 per byte in. A small deterministic fuzz (ASan and UBSan see it too). */
    uint32_t seed = 12345;
    char in[64], big[3 * 64 + 1];
    int clean = 1, bounded = 1;
    d = (wall_utf8){0};
    for (int round = 0; round < 2000; round++) {
        size_t n = 1 + round % 64;
        for (size_t k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            unsigned v = seed >> 16 & 0xFF;
            in[k] = (char)(round % 3 ? v : (v & 0x3F) | 0xC0 * (v >> 7)); /* some UTF-8ish */
        }
        size_t m = wall_fold(&d, in, n, big, sizeof big);
        bounded &= m <= 3 * n;
        for (size_t k = 0; k < m && k < sizeof big - 1; k++) {
            unsigned char ch = (unsigned char)big[k];
            clean &= (ch >= ' ' && ch <= '~') || ch == '\n' || ch == (unsigned char)*PH;
        }
    }
    CHECK(clean, "the fold only produces what the wall can show");
    CHECK(bounded, "at most 3 chars per byte");
}

/* ==================================================================== layout, frames */

typedef struct run {
    int cols, rows;
    wall *w;
    FILE *out;
} run;

static int run_open(run *r, int cols, int rows)
{
    wall_options o = wall_default_options();
    o.backend = "frames";
    o.cols = cols;
    o.rows = rows;
    o.out = r->out = tmpfile();
    r->cols = cols;
    r->rows = rows;
    r->w = NULL;
    if (!r->out || wall_open(&o, &r->w) != 0) {
        CHECK(0, "open a %dx%d frames wall: %s", cols, rows, wall_last_error());
        return -1;
    }
    return 0;
}

/* Checks the frame lines written so far: the format, their number, and the last one
 * against `rows` strings of text (each padded with spaces to the width). */
static void run_expect(run *r, const char *what, int frames, const char *const *text)
{
    size_t n = (size_t)r->cols * (size_t)r->rows;
    char line[8192];
    int count = 0, format_ok = 1;
    uint32_t last[256] = {0};
    fflush(r->out);
    rewind(r->out);
    while (fgets(line, sizeof line, r->out)) {
        count++;
        const char *p = line;
        for (size_t k = 0; k < n; k++) {
            for (int q = 0; q < 5; q++)
                format_ok &= (p[q] >= '0' && p[q] <= '9') || (p[q] >= 'a' && p[q] <= 'f');
            unsigned v = 0;
            sscanf(p, "%5x", &v);
            if (k < 256)
                last[k] = v;
            p += 5;
            format_ok &= *p == (k + 1 < n ? ' ' : '\n');
            if (*p)
                p++;
        }
        format_ok &= *p == 0;
    }
    fseek(r->out, 0, SEEK_END);
    CHECK(format_ok, "%s: frame lines are %zu x 5 hex digits", what, n);
    CHECK(count == frames, "%s: %d frames, want %d", what, count, frames);
    int same = 1;
    for (int row = 0; row < r->rows; row++) {
        size_t len = strlen(text[row]);
        for (int col = 0; col < r->cols; col++) {
            unsigned char ch = (size_t)col < len ? (unsigned char)text[row][col] : ' ';
            same &= last[row * r->cols + col] == wall_glyph(ch);
        }
    }
    if (!same) {
        printf("  %s: got\n", what);
        for (int row = 0; row < r->rows; row++) {
            printf("  |");
            for (int col = 0; col < r->cols; col++) {
                int found = '?';
                for (int ch = ' '; ch <= '~'; ch++)
                    if (wall_glyph((unsigned char)ch) == last[row * r->cols + col]) {
                        found = ch;
                        break;
                    }
                putchar(found);
            }
            printf("|  want |%s|\n", text[row]);
        }
    }
    CHECK(same, "%s: the last frame", what);
}

static void run_close(run *r)
{
    wall_close(r->w);
    if (r->out)
        fclose(r->out);
}

/* Writes the pieces and checks the last frame and the number of frames. */
static void layout_case(const char *what, int cols, int rows, const char *const *pieces,
                        int frames, const char *const *want)
{
    run r;
    if (run_open(&r, cols, rows) != 0)
        return;
    for (int k = 0; pieces[k]; k++) {
        if (strcmp(pieces[k], "<P>") == 0)
            CHECK(wall_paragraph(r.w) == 0, "paragraph");
        else
            CHECK(wall_write(r.w, pieces[k], strlen(pieces[k])) == 0, "write");
    }
    run_expect(&r, what, frames, want);
    run_close(&r);
}

#define P(...) ((const char *const[]){__VA_ARGS__, NULL})
#define W(...) ((const char *const[]){__VA_ARGS__})

static void test_layout(void)
{
    layout_case("word moves whole", 4, 2, P("ab cd"), 1, W("ab", "cd"));
    layout_case("long word split, then scroll", 4, 2, P("abcdefghij"), 1, W("efgh", "ij"));
    layout_case("scroll when full", 4, 2, P("ab cd ef"), 1, W("cd", "ef"));
    /* Token by token: one frame per write that changes the wall. "th" moves down when
     * "i" arrives; "think" is then wider than a row and splits. */
    layout_case("streamed", 4, 2, P("a ", "thi", "nk"), 3, W("thin", "k"));
    layout_case("space at the row's end", 4, 2, P("abcd ef"), 1, W("abcd", "ef"));
    layout_case("spaces collapse, none leads", 5, 2, P("   ab   cd"), 1, W("ab cd", ""));
    layout_case("break after a hyphen", 4, 2, P("ab-cd"), 1, W("ab-", "cd"));
    layout_case("newline", 4, 3, P("ab\ncd"), 1, W("ab", "cd", ""));
    layout_case("blank lines make one paragraph", 4, 3, P("ab\n\n\n\ncd"), 1,
                W("ab", "", "cd"));
    layout_case("wall_paragraph", 4, 3, P("ab", "<P>", "cd"), 2, W("ab", "", "cd"));
    layout_case("trailing newline waits", 4, 2, P("ab cd\n", "\n"), 1, W("ab", "cd"));
    layout_case("paragraph at the bottom scrolls", 4, 2, P("ab cd\n\nef"), 1, W("", "ef"));
    layout_case("unchanged: no frame", 4, 2, P("ab", " ", "\n"), 1, W("ab", ""));
    layout_case("placeholder is a letter", 4, 1, P("a😀b"), 1, W("a" PH "b"));
    /* The first write draws the (blank) wall even though half a character shows nothing. */
    layout_case("character split across writes", 4, 1, P("\xc3", "\xa9t\xc3", "\xa9"), 3,
                W("ete"));
    /* The installation's prompt: words move down whole, the wall scrolls twice. */
    layout_case("16 x 6 prose", 16, 6,
                P("You are a large language model running on finite hardware. "
                  "Quad core CPU 4 GB of RAM with no network connectivity."),
                1,
                W("running on", "finite hardware.", "Quad core CPU 4", "GB of RAM with",
                  "no network", "connectivity."));

    /* The same prose, one word at a time, all the way: it scrolls. */
    run r;
    if (run_open(&r, 16, 6) == 0) {
        const char *text = "You are a large language model running on finite hardware. "
                           "Quad core CPU 4 GB of RAM with no network connectivity.";
        char word[64];
        int frames = 0;
        for (const char *p = text; *p;) {
            size_t n = strcspn(p + 1, " ") + 1;
            memcpy(word, p, n);
            word[n] = 0;
            wall_write(r.w, word, n);
            frames++;
            p += n;
        }
        run_expect(&r, "16 x 6 word by word: the same page", frames,
                   W("running on", "finite hardware.", "Quad core CPU 4", "GB of RAM with",
                     "no network", "connectivity."));
        run_close(&r);
    }

    /* A message: centred; the next write starts on a clear wall. */
    if (run_open(&r, 4, 3) == 0) {
        wall_write(r.w, "abc", 3);
        CHECK(wall_message(r.w, "HI") == 0, "message");
        run_expect(&r, "message centred", 2, W("", " HI", ""));
        wall_write(r.w, "x", 1);
        run_expect(&r, "after a message", 3, W("x", "", ""));
        CHECK(wall_clear(r.w) == 0, "clear");
        run_expect(&r, "cleared", 4, W("", "", ""));
        run_close(&r);
    }
    if (run_open(&r, 8, 4) == 0) {
        wall_message(r.w, "out of memory");
        run_expect(&r, "message wrapped and centred", 1, W("", " out of", " memory", ""));
        run_close(&r);
    }

    /* wall_frame sees what the backend drew. */
    if (run_open(&r, 4, 2) == 0) {
        uint32_t m[8];
        wall_write(r.w, "Hi", 2);
        CHECK(wall_frame(r.w, m, 8) == 8 && m[0] == wall_glyph('H') && m[1] == wall_glyph('i') &&
                  m[2] == 0 && m[7] == 0,
              "wall_frame");
        run_close(&r);
    }
}

/* A long random stream through a 16 x 6 wall in random pieces: it never breaks, and
 * every cell is something the font draws. */
static void test_stream(void)
{
    wall_options o = wall_default_options();
    o.backend = "none";
    wall *w;
    if (wall_open(&o, &w) != 0) {
        CHECK(0, "open none: %s", wall_last_error());
        return;
    }
    CHECK(strcmp(wall_backend(w), "none") == 0, "backend none");
    static const char *const words[] = {"the ", "thought", "continues", "\n", "\n\n",
                                        "é", "\xe2\x80", "\x94", "😀", "-", "  ",
                                        "supercalifragilisticexpialidocious", "."};
    uint32_t seed = 7;
    int ok = 1;
    for (int k = 0; k < 20000; k++) {
        seed = seed * 1103515245u + 12345u;
        const char *p = words[(seed >> 16) % (sizeof words / sizeof words[0])];
        ok &= wall_write(w, p, strlen(p)) == 0;
        if (k % 997 == 0)
            ok &= wall_paragraph(w) == 0;
    }
    uint32_t m[96];
    CHECK(ok && wall_frame(w, m, 96) == 96, "20000 writes");
    int nonblank = 0;
    for (int k = 0; k < 96; k++)
        nonblank += m[k] != 0;
    CHECK(nonblank > 20, "the wall shows text after a long stream (%d modules lit)", nonblank);
    wall_close(w);
}

/* ==================================================================== SVG */

/* A small XML well-formedness checker: prolog, one root element, nested tags that
 * close in order, quoted attributes, no stray '<' or '&' in text or values. */
static const char *xml_name(const char *p)
{
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':'))
        return NULL;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '_' || *p == ':' || *p == '-' || *p == '.')
        p++;
    return p;
}

static int xml_entity(const char **pp)
{
    static const char *const ents[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (size_t k = 0; k < 5; k++)
        if (strncmp(*pp, ents[k], strlen(ents[k])) == 0) {
            *pp += strlen(ents[k]);
            return 1;
        }
    return 0;
}

static int xml_well_formed(const char *p)
{
    const char *stack[64];
    size_t len[64];
    int depth = 0, roots = 0;
    if (strncmp(p, "<?xml ", 6) == 0) {
        p = strstr(p, "?>");
        if (!p)
            return 0;
        p += 2;
    }
    while (*p) {
        if (*p == '<') {
            if (strncmp(p, "<!--", 4) == 0) {
                p = strstr(p + 4, "-->");
                if (!p)
                    return 0;
                p += 3;
            } else if (p[1] == '/') {
                const char *n = p + 2, *e = xml_name(n);
                if (!e || depth == 0 || (size_t)(e - n) != len[depth - 1] ||
                    strncmp(n, stack[depth - 1], len[depth - 1]) != 0)
                    return 0;
                depth--;
                while (*e == ' ' || *e == '\n')
                    e++;
                if (*e != '>')
                    return 0;
                p = e + 1;
            } else {
                const char *n = p + 1, *e = xml_name(n);
                if (!e || depth == 64 || (depth == 0 && roots++ > 0))
                    return 0;
                stack[depth] = n;
                len[depth] = (size_t)(e - n);
                p = e;
                for (;;) {
                    int space = 0;
                    while (*p == ' ' || *p == '\n' || *p == '\t')
                        p++, space = 1;
                    if (*p == '>') {
                        depth++;
                        p++;
                        break;
                    }
                    if (p[0] == '/' && p[1] == '>') {
                        p += 2;
                        break;
                    }
                    const char *a = xml_name(p);
                    if (!space || !a || a[0] != '=' || (a[1] != '"' && a[1] != '\''))
                        return 0;
                    char q = a[1];
                    p = a + 2;
                    while (*p != q) {
                        if (*p == 0 || *p == '<')
                            return 0;
                        if (*p == '&') {
                            if (!xml_entity(&p))
                                return 0;
                        } else {
                            p++;
                        }
                    }
                    p++;
                }
            }
        } else {
            if (depth == 0 && !(*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
                return 0; /* text outside the root */
            if (*p == '&') {
                if (!xml_entity(&p))
                    return 0;
            } else {
                p++;
            }
        }
    }
    return depth == 0 && roots == 1;
}

/* The number of "M" commands in the d attribute of the path with class `cls`. */
static int path_moves(const char *svg, const char *cls)
{
    char key[64];
    snprintf(key, sizeof key, "class=\"%s\"", cls);
    const char *p = strstr(svg, key);
    if (!p)
        return -1;
    p = strstr(p, " d=\"");
    if (!p)
        return -1;
    int n = 0;
    for (p += 4; *p && *p != '"'; p++)
        n += *p == 'M';
    return n;
}

static void test_svg(void)
{
    CHECK(xml_well_formed("<?xml version=\"1.0\"?><a x=\"1\"><b/>t &amp; u</a>\n"),
          "checker accepts good XML");
    CHECK(!xml_well_formed("<a><b></a></b>"), "checker: crossed tags");
    CHECK(!xml_well_formed("<a x=1/>"), "checker: unquoted attribute");
    CHECK(!xml_well_formed("<a>&</a>"), "checker: bare ampersand");
    CHECK(!xml_well_formed("<a></a><b/>"), "checker: two roots");
    CHECK(!xml_well_formed("<a>"), "checker: unclosed");

    char path[64] = "/tmp/test_wall_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        SKIP("svg: cannot make a temporary file");
        return;
    }
    close(fd);
    char svg_path[80], tmp_path[96];
    snprintf(svg_path, sizeof svg_path, "%s.svg", path);
    snprintf(tmp_path, sizeof tmp_path, "%s.tmp", svg_path);

    wall_options o = wall_default_options();
    char *argv[] = {"t", "--svg", svg_path, "--grid", "8x3"};
    CHECK(wall_parse_option(&o, 5, argv, 1) == 2 && wall_parse_option(&o, 5, argv, 3) == 2,
          "parse --svg --grid");
    CHECK(strcmp(o.backend, "svg") == 0, "--svg chooses svg");
    wall *w;
    if (wall_open(&o, &w) != 0) {
        CHECK(0, "open svg: %s", wall_last_error());
        unlink(path);
        return;
    }
    uint32_t m[24];
    const char *text = "Hello, wall. <&> \"x\" 42";
    CHECK(wall_write(w, text, strlen(text)) == 0, "svg write: %s", wall_last_error());
    wall_frame(w, m, 24);
    wall_close(w);

    char *svg = test_read_file(svg_path, NULL);
    CHECK(svg != NULL, "the svg was written");
    CHECK(access(tmp_path, F_OK) != 0, "no temporary file left behind");
    if (svg) {
        CHECK(xml_well_formed(svg), "the svg is well-formed XML");
        CHECK(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\"") != NULL, "svg root");
        int lit = 0;
        for (int k = 0; k < 24; k++)
            lit += popcount(m[k]);
        CHECK(path_moves(svg, "on") == lit, "lit strokes %d = lit segments %d",
              path_moves(svg, "on"), lit);
        CHECK(path_moves(svg, "off") == 24 * 17 - lit, "unlit strokes %d",
              path_moves(svg, "off"));
    }
    free(svg);
    unlink(svg_path);
    unlink(path);

    o.svg_path = "/nonexistent-dir/wall.svg";
    CHECK(wall_open(&o, &w) == -1 && strstr(wall_last_error(), "nonexistent-dir"),
          "an unwritable svg path fails at open: %s", wall_last_error());
}

/* ==================================================================== i2c dry run */

typedef struct i2c_line {
    char dev[32];
    unsigned addr;
    int n;
    unsigned char b[32];
} i2c_line;

static int read_i2c_lines(const char *path, i2c_line *lines, int max)
{
    FILE *f = fopen(path, "r");
    char buf[512];
    int n = 0;
    if (!f)
        return -1;
    while (fgets(buf, sizeof buf, f) && n < max) {
        i2c_line *l = &lines[n];
        int used;
        if (sscanf(buf, "%31s 0x%x:%n", l->dev, &l->addr, &used) != 2) {
            fclose(f);
            return -1;
        }
        l->n = 0;
        const char *p = buf + used;
        unsigned v;
        int k;
        while (l->n < 32 && sscanf(p, " %2x%n", &v, &k) == 1)
            l->b[l->n++] = (unsigned char)v, p += k;
        n++;
    }
    fclose(f);
    return n;
}

static void test_i2c(void)
{
    char path[64] = "/tmp/test_wall_i2c_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        SKIP("i2c: cannot make a temporary file");
        return;
    }
    close(fd);

    /* One bus holds 8 chips: a 16 x 6 wall (12) on one bus is refused, plainly. */
    wall_options o = wall_default_options();
    o.i2c_dry_run = path;
    o.i2c_device = "/dev/i2c-1";
    wall_sink s;
    CHECK(wall_i2c_open(&o, &s) == -1 && strstr(wall_last_error(), "0x77"),
          "12 chips on one bus: %s", wall_last_error());

    /* A known frame: every printable character, some dots. */
    o.i2c_device = "/dev/i2c-1,/dev/i2c-3";
    o.brightness = 7;
    if (wall_i2c_open(&o, &s) != 0) {
        CHECK(0, "open i2c dry run: %s", wall_last_error());
        unlink(path);
        return;
    }
    uint32_t frame[96] = {0};
    const char *text = "Thinking... 0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklm"
                       "nopqrstuvwxyz !?.,;:'\"()[]";
    for (int k = 0; k < 96 && text[k]; k++)
        frame[k] = wall_glyph((unsigned char)text[k]);
    for (int k = 88; k < 96; k++)
        frame[k] = 0; /* the last chip stays blank: no RAM write for it */
    CHECK(s.draw(s.self, frame) == 0, "draw 1");
    frame[20] = wall_glyph('#');
    CHECK(s.draw(s.self, frame) == 0, "draw 2");
    CHECK(s.draw(s.self, frame) == 0, "draw 3 (unchanged)");
    s.close(s.self);

    i2c_line lines[128];
    int n = read_i2c_lines(path, lines, 128);
    CHECK(n == 12 * 4 + 11 + 1, "%d lines: 12 x 4 init, 11 chips with text, 1 change", n);
    if (n < 0)
        n = 0;
    uint8_t ram[12][16] = {{0}};
    int init_seen[12] = {0}, init_ok = 1, ram_writes[12] = {0}, addr_ok = 1;
    for (int k = 0; k < n; k++) {
        i2c_line *l = &lines[k];
        int bus = strcmp(l->dev, "/dev/i2c-1") == 0 ? 0 : strcmp(l->dev, "/dev/i2c-3") == 0 ? 1 : -1;
        int chip = bus * 8 + (l->addr - 0x70);
        if (bus < 0 || l->addr < 0x70 || l->addr > 0x77 || chip >= 12) {
            addr_ok = 0;
            continue;
        }
        int step = init_seen[chip]++;
        if (step == 0)
            init_ok &= l->n == 1 && l->b[0] == 0x21; /* oscillator on */
        else if (step == 1)
            init_ok &= l->n == 17 && l->b[0] == 0x00; /* RAM cleared */
        else if (step == 2)
            init_ok &= l->n == 1 && l->b[0] == 0x81; /* display on */
        else if (step == 3)
            init_ok &= l->n == 1 && l->b[0] == (0xE0 | 7); /* brightness */
        if (step == 1 || step >= 4) {
            init_ok &= l->n == 17 && l->b[0] == 0x00;
            if (l->n == 17)
                memcpy(ram[chip], l->b + 1, 16);
            ram_writes[chip] += step >= 4;
        }
    }
    CHECK(addr_ok, "chips 0-7 at 0x70-0x77 on the first bus, 8-11 on the second");
    CHECK(init_ok, "each chip: 21, RAM cleared, 81, e7, then RAM writes");
    CHECK(ram_writes[2] == 2 && ram_writes[0] == 1 && ram_writes[11] == 0,
          "only changed chips are rewritten (%d %d %d)", ram_writes[2], ram_writes[0],
          ram_writes[11]);
    int decoded = 1;
    for (int k = 0; k < 96; k++) {
        int chip = k / 8, com = k % 8;
        uint32_t m = (uint32_t)ram[chip][2 * com] | (uint32_t)ram[chip][2 * com + 1] << 8;
        uint32_t want = (frame[k] & 0xFFFF) | (frame[k] & S_DP ? S_D1 : 0);
        if (m != want) {
            decoded = 0;
            printf("  module %d: RAM %04x, frame %05x\n", k, m, frame[k]);
        }
    }
    CHECK(decoded, "the RAM decodes back to the frame (dp shown as d1)");

    /* The same through the wall: text in, dry run out, brightness from the flag. */
    char *argv[] = {"t", "--i2c-dry-run", path, "--grid=8x1", "--brightness", "3"};
    o = wall_default_options();
    int used = 0;
    for (int i = 1; i < 6; i += used) {
        used = wall_parse_option(&o, 6, argv, i);
        CHECK(used > 0, "parse %s", argv[i]);
        if (used <= 0)
            break;
    }
    wall *w;
    if (wall_open(&o, &w) == 0) {
        CHECK(wall_write(w, "Hi.", 3) == 0, "i2c write");
        wall_close(w);
        n = read_i2c_lines(path, lines, 128);
        CHECK(n == 5 && strcmp(lines[0].dev, "/dev/i2c-1") == 0 && lines[0].addr == 0x70 &&
                  lines[3].b[0] == 0xE3,
              "one chip, default bus, brightness 3");
        if (n == 5) {
            const char *want = "Hi.";
            for (int k = 0; k < 3; k++) {
                uint32_t m = (uint32_t)lines[4].b[1 + 2 * k] | (uint32_t)lines[4].b[2 + 2 * k] << 8;
                uint32_t g = wall_glyph((unsigned char)want[k]);
                CHECK(m == ((g & 0xFFFF) | (g & S_DP ? S_D1 : 0)), "module %d", k);
            }
        }
    } else {
        CHECK(0, "open i2c through the wall: %s", wall_last_error());
    }
    unlink(path);
}

/* ==================================================================== options */

static void test_options(void)
{
    struct {
        const char *a, *b;
        int want;
    } cases[] = {
        {"--grid", "4x2", 2},        {"--grid=8x3", NULL, 1},     {"--grid", "0x2", -1},
        {"--grid", "4x", -1},        {"--grid", "x4", -1},        {"--grid", "4x2x", -1},
        {"--grid", "2000x1", -1},    {"--brightness", "16", -1},  {"--brightness=0", NULL, 1},
        {"--brightness", "x", -1},   {"--display", "bogus", -1},  {"--display", "frames", 2},
        {"--gridx", "4x2", 0},       {"--unknown", NULL, 0},      {"TEXT", NULL, 0},
        {"--svg=", NULL, -1},        {"--i2c", "/dev/i2c-9", 2},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        wall_options o = wall_default_options();
        char *argv[3] = {"t", (char *)cases[k].a, (char *)cases[k].b};
        int argc = cases[k].b ? 3 : 2;
        int got = wall_parse_option(&o, argc, argv, 1);
        CHECK(got == cases[k].want, "%s %s: %d, want %d", cases[k].a,
              cases[k].b ? cases[k].b : "", got, cases[k].want);
        if (got < 0)
            CHECK(wall_last_error()[0] != 0, "a reason for %s", cases[k].a);
    }
    wall_options o = wall_default_options();
    char *argv[] = {"t", "--grid"};
    CHECK(wall_parse_option(&o, 2, argv, 1) == -1, "a flag without its value");
    char *argv2[] = {"t", "--grid", "12x4"};
    CHECK(wall_parse_option(&o, 3, argv2, 1) == 2 && o.cols == 12 && o.rows == 4, "12x4");
    const char *u = wall_usage();
    CHECK(strstr(u, "--display") && strstr(u, "--grid") && strstr(u, "--svg") &&
              strstr(u, "--i2c-dry-run") && strstr(u, "--brightness"),
          "usage names every flag");

    wall *w = (wall *)1;
    o = wall_default_options();
    o.cols = 0;
    CHECK(wall_open(&o, &w) == -1 && w == NULL, "a 0-column wall is refused");
    o = wall_default_options();
    o.backend = "nope";
    CHECK(wall_open(&o, &w) == -1, "an unknown backend is refused");
    o = wall_default_options();
    o.out = tmpfile();
    if (o.out && wall_open(&o, &w) == 0) {
        CHECK(strcmp(wall_backend(w), "none") == 0, "auto is none when out is no terminal");
        wall_close(w);
    }
    if (o.out)
        fclose(o.out);
    wall_close(NULL);
    CHECK(wall_write(NULL, "x", 1) == -1 && wall_paragraph(NULL) == -1 &&
              wall_clear(NULL) == -1 && wall_message(NULL, "x") == -1 && wall_frame(NULL, NULL, 0) == 0,
          "a NULL wall is an error, not a crash");
}

/* The term backend draws each frame over the last: the second frame moves back up. */
static void test_term(void)
{
    wall_options o = wall_default_options();
    o.backend = "term";
    o.cols = 2;
    o.rows = 2;
    o.out = tmpfile();
    wall *w;
    if (!o.out || wall_open(&o, &w) != 0) {
        CHECK(0, "open term: %s", wall_last_error());
        return;
    }
    wall_write(w, "A", 1);
    wall_write(w, "B", 1);
    wall_close(w);
    size_t size = (size_t)ftell(o.out);
    char *buf = malloc(size + 1);
    rewind(o.out);
    if (buf && fread(buf, 1, size, o.out) == size) {
        buf[size] = 0;
        int newlines = 0;
        for (size_t k = 0; k < size; k++)
            newlines += buf[k] == '\n';
        CHECK(newlines == 2 * 11, "two frames of 2 x 5 lines + a gap: %d", newlines);
        CHECK(strstr(buf, "\x1b[11A") != NULL, "the second frame moves up 11 lines");
        CHECK(strstr(buf, "\x1b[?25h") != NULL, "the cursor comes back at close");
    }
    free(buf);
    fclose(o.out);
}

int main(void)
{
    test_font();
    test_fold();
    test_layout();
    test_stream();
    test_svg();
    test_i2c();
    test_options();
    test_term();
    return test_done();
}
