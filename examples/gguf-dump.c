/*
 * gguf-dump — what is inside a GGUF file: header, metadata, tensors, totals.
 *
 *     build/gguf-dump FILE [--json] [--no-tensors]
 *
 * general.file_type is named as llama.cpp names it (15: Q4_K_M). --no-tensors leaves out
 * the tensor list (a 3B model has hundreds), keeping the totals. Long arrays (a vocabulary's 128k tokens) are summarised by their type, length and
 * first items. A file that does not parse is one line on stderr and exit status 1.
 */
#include <stdio.h>
#include <string.h>

#include "latent_gguf.h"

#define ARRAY_ITEMS_SHOWN 8
#define TEXT_STRING_SHOWN 72

static int json, no_tensors;

#define USAGE "usage: gguf-dump FILE [--json] [--no-tensors]"

/* general.file_type, in llama.cpp's numbering (llama_ftype): the preset a file was
 * quantized with, which its tensors' types alone do not say (Q4_K_M vs Q4_K_S). */
static const char *file_type_name(uint64_t t)
{
    static const char *const names[] = {
        [0] = "F32",      [1] = "F16",      [2] = "Q4_0",     [3] = "Q4_1",     [4] = "Q4_1_SOME_F16",
        [7] = "Q8_0",     [8] = "Q5_0",     [9] = "Q5_1",     [10] = "Q2_K",    [11] = "Q3_K_S",
        [12] = "Q3_K_M",  [13] = "Q3_K_L",  [14] = "Q4_K_S",  [15] = "Q4_K_M",  [16] = "Q5_K_S",
        [17] = "Q5_K_M",  [18] = "Q6_K",    [19] = "IQ2_XXS", [20] = "IQ2_XS",  [21] = "Q2_K_S",
        [22] = "IQ3_XS",  [23] = "IQ3_XXS", [24] = "IQ1_S",   [25] = "IQ4_NL",  [26] = "IQ3_S",
        [27] = "IQ3_M",   [28] = "IQ2_S",   [29] = "IQ2_M",   [30] = "IQ4_XS",  [31] = "IQ1_M",
        [32] = "BF16",    [36] = "TQ1_0",   [37] = "TQ2_0",
    };
    return t < sizeof names / sizeof names[0] ? names[t] : NULL;
}

/* The name of general.file_type's value, or NULL for any other entry. */
static const char *named_value(const latent_gguf *g, int64_t i)
{
    uint64_t v;
    if (strcmp(latent_gguf_kv_key(g, i), "general.file_type") != 0 ||
        latent_gguf_kv_type(g, i) == LATENT_GGUF_ARRAY || latent_gguf_kv_uint(g, i, 0, &v) != LATENT_OK)
        return NULL;
    return file_type_name(v);
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if the bytes there are not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((len == 2 && c < 0xc2) || (len == 3 && c == 0xe0 && s[1] < 0xa0) ||
        (len == 3 && c == 0xed && s[1] >= 0xa0) || (len == 4 && c == 0xf0 && s[1] < 0x90) ||
        (len == 4 && (c > 0xf4 || (c == 0xf4 && s[1] >= 0x90))))
        return 0; /* overlong, surrogate or beyond U+10FFFF */
    return len;
}

/* Prints a string quoted, escaped for JSON (or for a terminal in text mode); bytes that
 * are not UTF-8 become U+FFFD in JSON and \xNN in text. At most `limit` bytes (0: all). */
static void print_str(latent_str s, size_t limit)
{
    const unsigned char *p = (const unsigned char *)s.ptr;
    size_t n = limit && s.len > limit ? limit : (size_t)s.len;
    putchar('"');
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t len = utf8_len(p + i, n - i);
        if (c == '"' || c == '\\') {
            printf("\\%c", c);
        } else if (c == '\n') {
            printf("\\n");
        } else if (c == '\t') {
            printf("\\t");
        } else if (c < 0x20 || c == 0x7f) {
            printf(json ? "\\u%04x" : "\\x%02x", c);
        } else if (len == 0) {
            printf(json ? "\\ufffd" : "\\x%02x", c);
            len = 1;
        } else {
            fwrite(p + i, 1, len, stdout);
        }
        i += len ? len : 1;
    }
    putchar('"');
    if (n < s.len)
        printf("... (%llu bytes)", (unsigned long long)s.len);
}

static void print_elem(const latent_gguf *g, int64_t i, uint64_t j, latent_gguf_type type)
{
    int64_t iv;
    uint64_t uv;
    double fv;
    latent_str sv;
    switch (type) {
    case LATENT_GGUF_STRING:
        latent_gguf_kv_str(g, i, j, &sv);
        print_str(sv, json ? 0 : TEXT_STRING_SHOWN);
        break;
    case LATENT_GGUF_FLOAT32:
    case LATENT_GGUF_FLOAT64:
        latent_gguf_kv_float(g, i, j, &fv);
        if (fv != fv || fv - fv != 0)
            printf(json ? "null" : "%g", fv); /* JSON has no NaN or infinity */
        else
            printf("%.9g", fv);
        break;
    case LATENT_GGUF_BOOL:
        latent_gguf_kv_int(g, i, j, &iv);
        printf("%s", iv ? "true" : "false");
        break;
    case LATENT_GGUF_UINT8:
    case LATENT_GGUF_UINT16:
    case LATENT_GGUF_UINT32:
    case LATENT_GGUF_UINT64:
        latent_gguf_kv_uint(g, i, j, &uv);
        printf("%llu", (unsigned long long)uv);
        break;
    default:
        latent_gguf_kv_int(g, i, j, &iv);
        printf("%lld", (long long)iv);
        break;
    }
}

static void print_value(const latent_gguf *g, int64_t i)
{
    latent_gguf_type type = latent_gguf_kv_type(g, i), elem = latent_gguf_kv_elem_type(g, i);
    uint64_t n = latent_gguf_kv_count(g, i);
    if (type != LATENT_GGUF_ARRAY) {
        print_elem(g, i, 0, type);
        return;
    }
    uint64_t shown = json || n <= ARRAY_ITEMS_SHOWN ? n : ARRAY_ITEMS_SHOWN;
    if (!json)
        printf("[%s × %llu] ", latent_gguf_type_name(elem), (unsigned long long)n);
    printf("[");
    for (uint64_t j = 0; j < shown; j++) {
        printf(j ? ", " : "");
        print_elem(g, i, j, elem);
    }
    printf(shown < n ? ", ...]" : "]");
}

static void print_shape(const latent_gguf_tensor *t)
{
    printf("[");
    for (uint32_t d = 0; d < t->n_dims; d++)
        printf(d ? ", %llu" : "%llu", (unsigned long long)t->ne[d]);
    printf("]");
}

static void dump_text(const char *path, const latent_gguf *g)
{
    int64_t n_kv = latent_gguf_n_kv(g), n_t = latent_gguf_n_tensors(g);
    printf("%s: GGUF v%u, %llu bytes, %lld metadata entries, %lld tensors, alignment %llu, data at %llu\n",
           path, latent_gguf_version(g), (unsigned long long)latent_gguf_size(g), (long long)n_kv,
           (long long)n_t, (unsigned long long)latent_gguf_alignment(g),
           (unsigned long long)latent_gguf_data_offset(g));
    printf("\nmetadata:\n");
    for (int64_t i = 0; i < n_kv; i++) {
        printf("  %-44s %-8s ", latent_gguf_kv_key(g, i),
               latent_gguf_type_name(latent_gguf_kv_type(g, i)));
        print_value(g, i);
        if (named_value(g, i))
            printf(" (%s)", named_value(g, i));
        printf("\n");
    }
    if (n_t == 0)
        return;
    if (!no_tensors)
        printf("\ntensors:\n  %-36s %-6s %-22s %12s %12s\n", "name", "type", "shape", "offset", "bytes");
    uint64_t bytes = 0, elements = 0;
    for (int64_t i = 0; i < n_t; i++) {
        const latent_gguf_tensor *t = latent_gguf_tensor_at(g, i);
        char shape[64];
        int k = snprintf(shape, sizeof shape, "[");
        for (uint32_t d = 0; d < t->n_dims; d++)
            k += snprintf(shape + k, sizeof shape - (size_t)k, d ? ", %llu" : "%llu",
                          (unsigned long long)t->ne[d]);
        snprintf(shape + k, sizeof shape - (size_t)k, "]");
        const char *type = latent_type_name(t->type);
        if (!no_tensors)
            printf("  %-36s %-6s %-22s %12llu %12llu\n", t->name, type ? type : "?", shape,
                   (unsigned long long)t->offset, (unsigned long long)t->size);
        bytes += t->size;
        elements += t->n_elements;
    }
    printf("\ntotal: %lld tensors, %llu elements, %llu bytes (%.2f MiB), %.3f bits per element\n",
           (long long)n_t, (unsigned long long)elements, (unsigned long long)bytes,
           (double)bytes / (1024.0 * 1024.0), elements ? 8.0 * (double)bytes / (double)elements : 0.0);
}

static void dump_json(const char *path, const latent_gguf *g)
{
    int64_t n_kv = latent_gguf_n_kv(g), n_t = latent_gguf_n_tensors(g);
    latent_str p = {path, strlen(path)};
    printf("{\"file\": ");
    print_str(p, 0);
    printf(", \"version\": %u, \"size\": %llu, \"alignment\": %llu, \"data_offset\": %llu,\n",
           latent_gguf_version(g), (unsigned long long)latent_gguf_size(g),
           (unsigned long long)latent_gguf_alignment(g), (unsigned long long)latent_gguf_data_offset(g));
    printf(" \"metadata\": [");
    for (int64_t i = 0; i < n_kv; i++) {
        latent_gguf_type type = latent_gguf_kv_type(g, i);
        latent_str key = {latent_gguf_kv_key(g, i), strlen(latent_gguf_kv_key(g, i))};
        printf(i ? ",\n  {\"key\": " : "\n  {\"key\": ");
        print_str(key, 0);
        printf(", \"type\": \"%s\"", latent_gguf_type_name(type));
        if (type == LATENT_GGUF_ARRAY)
            printf(", \"elem_type\": \"%s\", \"count\": %llu",
                   latent_gguf_type_name(latent_gguf_kv_elem_type(g, i)),
                   (unsigned long long)latent_gguf_kv_count(g, i));
        printf(", \"value\": ");
        print_value(g, i);
        if (named_value(g, i))
            printf(", \"name\": \"%s\"", named_value(g, i));
        printf("}");
    }
    printf("],\n");
    if (!no_tensors)
        printf(" \"tensors\": [");
    uint64_t bytes = 0, elements = 0;
    for (int64_t i = 0; i < n_t; i++) {
        const latent_gguf_tensor *t = latent_gguf_tensor_at(g, i);
        bytes += t->size;
        elements += t->n_elements;
        if (no_tensors)
            continue;
        latent_str name = {t->name, strlen(t->name)};
        const char *type = latent_type_name(t->type);
        printf(i ? ",\n  {\"name\": " : "\n  {\"name\": ");
        print_str(name, 0);
        printf(", \"type\": \"%s\", \"shape\": ", type ? type : "?");
        print_shape(t);
        printf(", \"offset\": %llu, \"bytes\": %llu}", (unsigned long long)t->offset,
               (unsigned long long)t->size);
    }
    if (!no_tensors)
        printf("],\n");
    printf(" \"total\": {\"tensors\": %lld, \"elements\": %llu, \"bytes\": %llu}}\n",
           (long long)n_t, (unsigned long long)elements, (unsigned long long)bytes);
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--no-tensors") == 0) {
            no_tensors = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("%s\n", USAGE);
            return 0;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "gguf-dump: unexpected argument '%s' (%s)\n", argv[i], USAGE);
            return 1;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fprintf(stderr, "gguf-dump: no file given (%s)\n", USAGE);
        return 1;
    }
    latent_set_log(NULL, NULL, LATENT_LOG_ERROR);
    latent_gguf *g = NULL;
    if (latent_gguf_open(path, &g) != LATENT_OK) {
        const char *why = latent_last_error();
        /* the library's message usually names the file already */
        if (strncmp(why, path, strlen(path)) == 0)
            fprintf(stderr, "gguf-dump: %s\n", why);
        else
            fprintf(stderr, "gguf-dump: %s: %s\n", path, why);
        return 1;
    }
    if (json)
        dump_json(path, g);
    else
        dump_text(path, g);
    latent_gguf_free(g);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "gguf-dump: error writing the output\n");
        return 1;
    }
    return 0;
}
