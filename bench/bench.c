/*
 * bench — which file to put on the device: the speed, memory and quality of each
 * quantization, measured against the machine's own memory bandwidth.
 *
 *     build/bench MODEL.gguf [options]          a high-precision model (f32, f16, bf16),
 *                                               quantized here to each type, then measured
 *     build/bench --synthetic SHAPE [options]   random weights in a real model's shape:
 *                                               speed and memory only
 *
 * For each type: file size and bits per weight, load time, peak resident memory, prompt
 * and generation speed (median, min and max over the repetitions, for each thread count
 * of -t), the bandwidth ceiling (the read bandwidth this program measures on this
 * machine, divided by the bytes one generated token reads) and how much of it is
 * reached, against the best probe of the run and against probes right before and after
 * each repetition (the machine's bandwidth moves with its neighbours); for a real model,
 * perplexity on a text and, against the highest-precision file, the mean KL divergence
 * and top-1 agreement of the next-token distributions.
 *
 * Each type is measured in a child process of its own (fork), so its peak memory is its
 * own and one type's pages do not help or hurt the next. The quantized files live in a
 * temporary directory removed at the end (--dir and --keep to keep them).
 *
 * Instructions on a Cortex-A72 (--insn ARM_BENCH): the files are written here, then an
 * aarch64 build of this program generates n1 and n2 tokens under
 * `qemu-aarch64 -cpu cortex-a72` with ../shared/tools/insncount.c loaded as a plugin; the
 * difference of the counts divided by n2 - n1 is the count per generated token.
 * Emulated time is never reported.
 *
 * Linux (or any POSIX system with fork); the bandwidth probe uses POSIX threads.
 *
 * The parts: bench.c (this: options, measuring, main), bench.h (what they share),
 * synthetic.h (random models in real shapes), bandwidth.h (the read-bandwidth probe),
 * report.h (table, markdown, CSV, JSON, SVG). bench/README.md has the latest results.
 */
#include "bench.h"
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include "bandwidth.h"
#include "report.h"
#include "synthetic.h"

#define USAGE                                                                               \
    "usage: bench MODEL.gguf [options]\n"                                                   \
    "       bench --synthetic SHAPE [options]\n"                                            \
    "\n"                                                                                    \
    "  MODEL.gguf         a high-precision model (f32, f16 or bf16), quantized here to each type\n" \
    "  --synthetic SHAPE  random weights: tinyllama-1.1b llama-3.2-1b llama-3.2-3b qwen2.5-0.5b,\n" \
    "                     or layers=L,dim=D,heads=H,kv_heads=K,ffn=F,vocab=V[,tied=1][,arch=qwen2]\n" \
    "  --types LIST       presets, comma-separated (default f16,q8_0,q6_k,q5_k_m,q4_k_m,q4_0);\n" \
    "                     'file' measures MODEL as it is, whatever its type\n"              \
    "  -t LIST            thread counts to sweep, e.g. 1,2,4 (default: every core)\n"       \
    "  -r N               repetitions (default 3); the median, min and max are reported\n"  \
    "  -p N               prompt tokens (default 64)\n"                                     \
    "  -n N               generated tokens (default 32)\n"                                  \
    "  -b N               prompt tokens per batch (default: the whole prompt, at most 512)\n" \
    "  --text FILE        perplexity text (default bench/data/stories.txt)\n"              \
    "  --ppl-ctx N        tokens per perplexity window (default 256)\n"                     \
    "  --ppl-tokens N     score at most N tokens of the text (default: all of it)\n"        \
    "  --no-quality       skip perplexity, KL and top-1\n"                                  \
    "  --csv | --json | --md   output for machines or for a README (default: a table)\n"    \
    "  --wide             every column in the table (prompt speed, load, RSS, bandwidth, CPU %)\n" \
    "  --svg FILE         chart: generation speed against file size, one point per type\n"  \
    "  --dir DIR          where the quantized files go (default: a temporary directory)\n"  \
    "  --keep             keep them\n"                                                      \
    "  --alternate        repetitions take turns between the thread counts of -t (each count\n" \
    "                     keeps a context throughout): a busy neighbour then weighs on all alike\n" \
    "  --contend N        run N busy loops (other processes) beside each measurement: how\n" \
    "                     the threads fare when another program wants the cores\n"          \
    "  --insn ARM_BENCH   count Cortex-A72 instructions per generated token instead:\n"     \
    "                     ARM_BENCH is an aarch64 build of this program, run under qemu\n"  \
    "  --plugin FILE      the insncount plugin (default build/libinsncount.so)\n"           \
    "  --qemu CMD         default \"qemu-aarch64 -cpu cortex-a72\"\n"                       \
    "  --insn-tokens N1,N2  generated tokens of the two counted runs (default 2,6)\n"        \
    "  --insn-run FILE    what qemu (and perf) run: load FILE, evaluate -p tokens (1), then\n" \
    "                     generate -n tokens (4) on -t threads (1); no measurement\n"

/* ============================================================================
 * Options
 * ========================================================================== */

static char g_types_buf[512];

static int parse_types(options *o, const char *s)
{
    if (strlen(s) >= sizeof g_types_buf)
        return fail("--types: the list is too long");
    strcpy(g_types_buf, s);
    o->n_types = 0;
    for (char *tok = strtok(g_types_buf, ","); tok; tok = strtok(NULL, ",")) {
        for (char *c = tok; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        static const char *known[] = {"file", "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1",
                                      "q5_0", "q5_1", "q2_k", "q3_k", "q3_k_m", "q4_k",
                                      "q4_k_m", "q5_k", "q5_k_m", "q6_k"};
        int ok = 0;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            ok |= !strcmp(tok, known[i]);
        if (!ok)
            return fail("--types: unknown type '%s' (file f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 "
                        "q2_k q3_k q4_k q5_k q6_k q4_k_m q5_k_m)", tok);
        for (int i = 0; i < o->n_types; i++)
            if (!strcmp(o->types[i], tok))
                return fail("--types: '%s' is listed twice", tok);
        if (o->n_types == MAX_ROWS - 1)
            return fail("--types: at most %d types", MAX_ROWS - 1);
        o->types[o->n_types++] = tok;
    }
    if (o->n_types == 0)
        return fail("--types: the list is empty");
    o->types_given = 1;
    return 0;
}

static int parse_list(const char *flag, const char *s, int lo, int hi, int *out, int max, int *n)
{
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return fail("%s: the list is too long", flag);
    strcpy(buf, s);
    *n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == max)
            return fail("%s: at most %d values", flag, max);
        if (parse_int(flag, tok, lo, hi, &out[*n]))
            return -1;
        (*n)++;
    }
    if (*n == 0)
        return fail("%s: the list is empty", flag);
    return 0;
}

static int n_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n <= 1024 ? (int)n : 1;
}

static int parse_args(int argc, char **argv, options *o)
{
    static const char *defaults[] = {"f16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_0"};
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        o->types[o->n_types++] = defaults[i];
    o->threads[0] = n_cores();
    o->n_threads = 1;
    o->reps = 3;
    o->n_prompt = 64;
    o->n_gen = 32;
    o->quality = 1;
    o->text = "bench/data/stories.txt";
    o->ppl_ctx = 256;
    o->format = OUT_TABLE;
    o->plugin = "build/libinsncount.so";
    o->qemu = "qemu-aarch64 -cpu cortex-a72";
    o->insn_n1 = 2;
    o->insn_n2 = 6;
    int n_gen_given = 0, p_given = 0, t_given = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        /* flags that take a value */
        static const char *valued[] = {"--synthetic", "--types", "-t", "-r", "-p", "-n", "-b",
                                       "--text", "--ppl-ctx", "--ppl-tokens", "--svg", "--dir",
                                       "--insn", "--plugin", "--qemu", "--insn-tokens",
                                       "--insn-run", "--contend"};
        const char *v = NULL;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++)
            if (!strcmp(a, valued[k])) {
                if (i + 1 >= argc)
                    return fail("%s needs a value", a);
                v = argv[++i];
            }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(USAGE, stdout);
            exit(0);
        } else if (!strcmp(a, "--synthetic")) {
            o->synthetic = v;
        } else if (!strcmp(a, "--types")) {
            if (parse_types(o, v))
                return -1;
        } else if (!strcmp(a, "-t")) {
            int t[MAX_THREADS], n;
            if (parse_list("-t", v, 1, 1024, t, MAX_THREADS, &n))
                return -1;
            t_given = 1;
            o->n_threads = 0; /* "1,$(nproc)" on one core is "1,1": once is enough */
            for (int k = 0; k < n; k++) {
                int seen = 0;
                for (int q = 0; q < o->n_threads; q++)
                    seen |= o->threads[q] == t[k];
                if (!seen)
                    o->threads[o->n_threads++] = t[k];
            }
        } else if (!strcmp(a, "-r")) {
            if (parse_int(a, v, 1, MAX_REPS, &o->reps))
                return -1;
        } else if (!strcmp(a, "-p")) {
            if (parse_int(a, v, 1, 65536, &o->n_prompt))
                return -1;
            p_given = 1;
        } else if (!strcmp(a, "-n")) {
            if (parse_int(a, v, 1, 65536, &o->n_gen))
                return -1;
            n_gen_given = 1;
        } else if (!strcmp(a, "-b")) {
            if (parse_int(a, v, 1, 4096, &o->n_batch))
                return -1;
        } else if (!strcmp(a, "--text")) {
            o->text = v;
            o->text_given = 1;
        } else if (!strcmp(a, "--ppl-ctx")) {
            if (parse_int(a, v, 2, 4096, &o->ppl_ctx))
                return -1;
        } else if (!strcmp(a, "--ppl-tokens")) {
            if (parse_long(a, v, 1, 100000000L, &o->ppl_tokens))
                return -1;
        } else if (!strcmp(a, "--no-quality")) {
            o->quality = 0;
        } else if (!strcmp(a, "--csv")) {
            o->format = OUT_CSV;
        } else if (!strcmp(a, "--json")) {
            o->format = OUT_JSON;
        } else if (!strcmp(a, "--md")) {
            o->format = OUT_MD;
        } else if (!strcmp(a, "--wide")) {
            o->wide = 1;
        } else if (!strcmp(a, "--svg")) {
            o->svg = v;
        } else if (!strcmp(a, "--dir")) {
            o->dir = v;
        } else if (!strcmp(a, "--keep")) {
            o->keep = 1;
        } else if (!strcmp(a, "--insn")) {
            o->insn_bin = v;
        } else if (!strcmp(a, "--plugin")) {
            o->plugin = v;
        } else if (!strcmp(a, "--qemu")) {
            o->qemu = v;
        } else if (!strcmp(a, "--insn-tokens")) {
            int n2[2], n;
            if (parse_list(a, v, 1, 4096, n2, 2, &n))
                return -1;
            if (n != 2 || n2[1] <= n2[0])
                return fail("--insn-tokens: expected N1,N2 with N1 < N2");
            o->insn_n1 = n2[0];
            o->insn_n2 = n2[1];
        } else if (!strcmp(a, "--insn-run")) {
            o->insn_run = v;
        } else if (!strcmp(a, "--alternate")) {
            o->alternate = 1;
        } else if (!strcmp(a, "--contend")) {
            if (parse_int(a, v, 0, 64, &o->contend))
                return -1;
        } else if (a[0] == '-' && a[1]) {
            return fail("unknown option '%s' (bench --help lists them)", a);
        } else if (o->model) {
            return fail("unexpected argument '%s': one model at a time", a);
        } else {
            o->model = a;
        }
    }
    if (o->insn_run) {
        if (o->model || o->synthetic)
            return fail("--insn-run takes the model itself: no other model or --synthetic");
        if (!n_gen_given)
            o->n_gen = 4;
        if (!p_given)
            o->n_prompt = 1;
        if (!t_given)
            o->threads[0] = 1;
        if (o->n_batch == 0)
            o->n_batch = o->n_prompt < 512 ? o->n_prompt : 512;
        return 0;
    }
    if (!o->model && !o->synthetic)
        return fail("no model: give MODEL.gguf or --synthetic SHAPE\n%s", USAGE);
    if (o->model && o->synthetic)
        return fail("give MODEL.gguf or --synthetic SHAPE, not both");
    if (o->synthetic) {
        o->quality = 0;
        for (int i = 0; i < o->n_types; i++)
            if (!strcmp(o->types[i], "file"))
                return fail("--types: 'file' means the model as it is; --synthetic has none");
    }
    if (o->n_batch == 0)
        o->n_batch = o->n_prompt < 512 ? o->n_prompt : 512;
    if (o->insn_bin)
        o->n_threads = 1, o->threads[0] = 1;
    return 0;
}

/* ============================================================================
 * What a file holds: shape, sizes, the bytes one token reads
 * ========================================================================== */

static int get_key_int(const latent_gguf *g, const char *arch, const char *suffix, int64_t fallback,
                       int *out)
{
    char key[96];
    int64_t v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (latent_gguf_get_int(g, key, &v) != LATENT_OK) {
        if (fallback < 0)
            return fail("key '%s' is missing", key);
        v = fallback;
    }
    if (v < 0 || v > INT32_MAX)
        return fail("key '%s' is out of range", key);
    *out = (int)v;
    return 0;
}

static int model_info_read(const char *path, model_info *mi)
{
    memset(mi, 0, sizeof *mi);
    latent_gguf *g = NULL;
    latent_status st = latent_gguf_open(path, &g);
    if (st)
        return fail_status(st, path);
    int rc = -1;
    latent_str a;
    if (latent_gguf_get_str(g, "general.architecture", &a) != LATENT_OK || a.len == 0 ||
        a.len >= sizeof mi->arch) {
        fail("%s: no general.architecture", path);
        goto done;
    }
    memcpy(mi->arch, a.ptr, a.len);
    if (get_key_int(g, mi->arch, "block_count", -1, &mi->n_layers) ||
        get_key_int(g, mi->arch, "embedding_length", -1, &mi->dim) ||
        get_key_int(g, mi->arch, "attention.head_count", -1, &mi->n_heads) ||
        get_key_int(g, mi->arch, "attention.head_count_kv", mi->n_heads, &mi->n_kv_heads) ||
        get_key_int(g, mi->arch, "feed_forward_length", -1, &mi->ffn))
        goto done;
    if (mi->n_heads <= 0 || mi->n_kv_heads <= 0) {
        fail("%s: no attention heads", path);
        goto done;
    }
    if (get_key_int(g, mi->arch, "attention.key_length", mi->dim / mi->n_heads, &mi->head_dim))
        goto done;
    mi->file_bytes = latent_gguf_size(g);

    uint64_t layer_bytes = 0, vec_bytes = 0, out_bytes = 0, embd_row = 0, embd_bytes = 0;
    uint64_t embd_elems = 0, bytes_by_type[64] = {0};
    const latent_gguf_tensor *out = latent_gguf_find_tensor(g, "output.weight");
    for (int64_t i = 0; i < latent_gguf_n_tensors(g); i++) {
        const latent_gguf_tensor *t = latent_gguf_tensor_at(g, i);
        mi->n_params += t->n_elements;
        mi->tensor_bytes += t->size;
        if (t->n_dims >= 2 && t->type < 64)
            bytes_by_type[t->type] += t->size;
        if (!strcmp(t->name, "token_embd.weight")) {
            embd_bytes = t->size;
            embd_elems = t->n_elements;
            embd_row = t->ne[1] ? t->size / t->ne[1] : 0;
            mi->n_vocab = (int)t->ne[1];
        } else if (t == out) {
            out_bytes = t->size;
            mi->out_weights = t->n_elements;
        } else if (t->n_dims >= 2 && !strncmp(t->name, "blk.", 4)) {
            layer_bytes += t->size;
            mi->layer_weights += t->n_elements;
        } else {
            vec_bytes += t->size;
        }
    }
    if (!embd_bytes) {
        fail("%s: no tensor 'token_embd.weight'", path);
        goto done;
    }
    mi->tied = out == NULL;
    if (mi->tied) { /* the embedding is read whole, as the output matrix */
        out_bytes = embd_bytes;
        mi->out_weights = embd_elems;
        embd_row = 0;
    }
    mi->token_weights = mi->layer_weights + mi->out_weights;
    mi->token_bytes = layer_bytes + out_bytes + vec_bytes + embd_row;
    uint64_t best = 0;
    for (uint32_t t = 0; t < 64; t++)
        if (bytes_by_type[t] > best)
            best = bytes_by_type[t], mi->main_type = t;
    rc = 0;
done:
    latent_gguf_free(g);
    return rc;
}

/* ============================================================================
 * Rows: one file each (the input, or a quantization of it), measured in a child
 * ========================================================================== */

/* Runs fn in a child process; its `out` (size bytes) comes back through a pipe. Returns 0
 * when the child succeeded; the child prints its own reason when it fails. */
typedef int (*child_fn)(void *arg, void *out);

static int run_child(const char *what, child_fn fn, void *arg, void *out, size_t size)
{
    int fds[2];
    if (pipe(fds) != 0)
        return fail("%s: pipe: %s", what, strerror(errno));
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return fail("%s: fork: %s", what, strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        int rc = fn(arg, out);
        if (rc == 0) {
            const char *p = out;
            size_t left = size;
            while (left > 0) {
                ssize_t k = write(fds[1], p, left);
                if (k <= 0) {
                    rc = -1;
                    break;
                }
                p += k;
                left -= (size_t)k;
            }
        }
        clear_progress();
        fflush(stderr);
        _exit(rc == 0 ? 0 : 1);
    }
    close(fds[1]);
    size_t got = 0;
    while (got < size) {
        ssize_t k = read(fds[0], (char *)out + got, size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status))
        return fail("%s: the child process died of signal %d", what, WTERMSIG(status));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1; /* it said why */
    if (got != size)
        return fail("%s: the child process sent %zu of %zu bytes", what, got, size);
    return 0;
}

/* ---- quantizing, in a child: the library holds the whole output until it writes ---- */

typedef struct quant_job {
    const char *in, *out, *preset;
} quant_job;

static void quant_progress(const char *tensor, int64_t i, int64_t n, uint32_t from, uint32_t to,
                           void *user)
{
    const quant_job *j = user;
    (void)from;
    progress(1, "quantizing to %s: %lld/%lld %s (%s)", j->preset, (long long)i + 1, (long long)n,
             tensor, latent_type_name(to));
}

static int quant_child(void *arg, void *out)
{
    quant_job *j = arg;
    (void)out;
    latent_quantize_params qp = latent_quantize_default_params();
    qp.progress = quant_progress;
    qp.user = j;
    latent_status st = latent_quantize_file(j->in, j->out, j->preset, &qp);
    if (st)
        return fail_status(st, "quantizing");
    return 0;
}

typedef struct synth_job {
    const shape *sh;
    const char *path;
} synth_job;

static int synth_child(void *arg, void *out)
{
    synth_job *j = arg;
    (void)out;
    return write_synthetic(j->sh, j->path);
}

/* ---- measuring one file, in a child ---- */

typedef struct measure_job {
    const options *o;
    const row *r;
    const char *text; /* the perplexity text, or NULL */
    size_t text_len;
    const char *ref_path; /* the reference log-probabilities */
    int write_ref;        /* this is the reference: write them */
} measure_job;

static latent_token argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

/* Tokens of `text`, BOS first when the vocabulary has one; NULL after a message. */
static latent_token *tokenize_text(const latent_model *m, const char *text, size_t len, size_t *n)
{
    size_t need = 0;
    latent_status st = latent_tokenize(m, text, len, LATENT_TOKENIZE_ADD_BOS, NULL, 0, &need);
    if (st != LATENT_OK && st != LATENT_ERANGE) {
        fail_status(st, "tokenizing the text");
        return NULL;
    }
    latent_token *t = malloc((need ? need : 1) * sizeof *t);
    if (!t) {
        fail("out of memory tokenizing the text");
        return NULL;
    }
    st = latent_tokenize(m, text, len, LATENT_TOKENIZE_ADD_BOS, t, need, n);
    if (st) {
        free(t);
        fail_status(st, "tokenizing the text");
        return NULL;
    }
    return t;
}

/* The windows the text is scored in: each starts with BOS (when there is one) followed
 * by the next ppl_ctx - 1 tokens of the text; every prediction inside is scored. */
typedef struct ppl_plan {
    const latent_token *body; /* the text without its BOS */
    size_t n_body;
    latent_token bos;         /* -1 if none */
    int win;                  /* body tokens per window */
    size_t n_windows;
    long n_scored;
} ppl_plan;

static void plan_perplexity(const options *o, const latent_token *toks, size_t n,
                            latent_token bos, long max_scored, ppl_plan *p)
{
    memset(p, 0, sizeof *p);
    p->bos = bos;
    p->body = toks;
    p->n_body = n;
    if (bos >= 0 && n > 0 && toks[0] == bos)
        p->body++, p->n_body--;
    p->win = bos >= 0 ? o->ppl_ctx - 1 : o->ppl_ctx;
    if (o->ppl_tokens > 0 && (size_t)o->ppl_tokens < p->n_body)
        p->n_body = (size_t)o->ppl_tokens;
    for (size_t start = 0; start < p->n_body; start += (size_t)p->win) {
        size_t len = p->n_body - start < (size_t)p->win ? p->n_body - start : (size_t)p->win;
        long scored = (long)len - (bos >= 0 ? 0 : 1); /* predictions of body tokens */
        if (scored < 1 || (max_scored > 0 && p->n_scored + scored > max_scored))
            break;
        p->n_windows++;
        p->n_scored += scored;
    }
}

#define REF_MAX_BYTES (1024.0 * MIB)

/* Perplexity, and against the reference (or written as it) the KL divergence and top-1. */
static int measure_quality(const measure_job *j, latent_model *m, measured *res)
{
    const options *o = j->o;
    size_t n_tok = 0;
    latent_token *toks = tokenize_text(m, j->text, j->text_len, &n_tok);
    if (!toks)
        return -1;
    int n_vocab = latent_n_vocab(m);
    /* the reference file holds n_vocab floats per scored token: at most REF_MAX_BYTES */
    ppl_plan pl;
    long max_scored = j->ref_path ? (long)(REF_MAX_BYTES / ((double)n_vocab * sizeof(float))) : 0;
    plan_perplexity(o, toks, n_tok, latent_token_bos(m), max_scored, &pl);
    if (pl.n_scored < 1) {
        free(toks);
        return fail("the text is too short to score (%zu tokens)", n_tok);
    }
    latent_context_params cp = latent_context_default_params();
    cp.n_threads = o->threads[o->n_threads - 1];
    cp.n_batch = o->ppl_ctx < 512 ? o->ppl_ctx : 512;
    cp.all_logits = 1;
    latent_context *ctx = NULL;
    latent_status st = latent_context_create(m, &cp, &ctx);
    if (st) {
        free(toks);
        return fail_status(st, "creating the perplexity context");
    }
    /* the reference's log-probabilities: n_scored rows of n_vocab floats */
    size_t ref_bytes = (size_t)pl.n_scored * (size_t)n_vocab * sizeof(float);
    float *ref = NULL;
    FILE *ref_out = NULL;
    int rc = -1;
    if (j->ref_path && j->write_ref) {
        ref_out = fopen(j->ref_path, "wb");
        if (!ref_out) {
            fail("%s: %s", j->ref_path, strerror(errno));
            goto done;
        }
    } else if (j->ref_path) {
        int fd = open(j->ref_path, O_RDONLY);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) != 0 || (size_t)sb.st_size != ref_bytes) {
            if (fd >= 0)
                close(fd);
            fail("%s: the reference log-probabilities are missing or of another size", j->ref_path);
            goto done;
        }
        ref = mmap(NULL, ref_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (ref == MAP_FAILED) {
            ref = NULL;
            fail("%s: cannot map it", j->ref_path);
            goto done;
        }
    }
    float *lp = malloc((size_t)n_vocab * sizeof *lp);
    latent_token *buf = malloc(((size_t)o->ppl_ctx + 1) * sizeof *buf);
    if (!lp || !buf) {
        free(lp);
        free(buf);
        fail("out of memory scoring the text");
        goto done;
    }
    double nll = 0, kl = 0;
    long agree = 0, k = 0;
    size_t w = 0;
    for (size_t start = 0; w < pl.n_windows; start += (size_t)pl.win, w++) {
        size_t len = pl.n_body - start < (size_t)pl.win ? pl.n_body - start : (size_t)pl.win;
        size_t nb = 0;
        if (pl.bos >= 0)
            buf[nb++] = pl.bos;
        memcpy(buf + nb, pl.body + start, len * sizeof *buf);
        nb += len;
        progress(1, "%s: perplexity window %zu/%zu", j->r->label, w + 1, pl.n_windows);
        latent_context_reset(ctx);
        if ((st = latent_eval(ctx, buf, nb))) {
            free(lp);
            free(buf);
            fail_status(st, "scoring the text");
            goto done;
        }
        for (size_t i = 0; i + 1 < nb; i++, k++) {
            const float *logits = latent_context_logits_at(ctx, i);
            double mx = logits[0], sum = 0;
            for (int v = 1; v < n_vocab; v++)
                mx = logits[v] > mx ? logits[v] : mx;
            for (int v = 0; v < n_vocab; v++)
                sum += exp(logits[v] - mx);
            double lz = mx + log(sum);
            for (int v = 0; v < n_vocab; v++)
                lp[v] = (float)(logits[v] - lz);
            nll -= lp[buf[i + 1]];
            if (ref_out && fwrite(lp, sizeof *lp, (size_t)n_vocab, ref_out) != (size_t)n_vocab) {
                free(lp);
                free(buf);
                fail("%s: write failed", j->ref_path);
                goto done;
            }
            if (ref) {
                const float *rp = ref + (size_t)k * (size_t)n_vocab;
                double d = 0;
                for (int v = 0; v < n_vocab; v++)
                    d += exp((double)rp[v]) * ((double)rp[v] - (double)lp[v]);
                kl += d;
                agree += argmax(rp, n_vocab) == argmax(lp, n_vocab);
            }
        }
    }
    free(lp);
    free(buf);
    res->has_quality = 1;
    res->n_scored = k;
    res->ppl = exp(nll / (double)k);
    res->kl = ref ? kl / (double)k : ref_out ? 0.0 : NAN;
    res->top1 = ref ? (double)agree / (double)k : ref_out ? 1.0 : NAN;
    rc = 0;
done:
    if (ref_out && fclose(ref_out) != 0 && rc == 0)
        rc = fail("%s: write failed", j->ref_path);
    if (ref)
        munmap(ref, ref_bytes);
    latent_context_free(ctx);
    free(toks);
    return rc;
}

/* One probe of a paired ceiling, in the measuring process: the memory so far is noted
 * first, and the probe (its buffer is mapped and unmapped inside) is left out of it. */
static double paired_probe(rss_meter *mem, size_t bytes, int threads)
{
    rss_before_probe(mem);
    double bw = measure_bandwidth(bytes, threads);
    rss_after_probe(mem);
    return bw;
}

static int measure_child(void *arg, void *out)
{
    const measure_job *j = arg;
    const options *o = j->o;
    measured *res = out;
    memset(res, 0, sizeof *res);
    double samples[MAX_REPS];
    rss_meter mem;
    rss_start(&mem);

    /* load: each repetition maps and checks the file afresh (its pages stay cached) */
    latent_model *m = NULL;
    for (int r = 0; r < o->reps; r++) {
        progress(1, "%s: loading (%d/%d)", j->r->label, r + 1, o->reps);
        latent_model_free(m);
        m = NULL;
        double t0 = now();
        latent_status st = latent_model_load(j->r->path, NULL, &m);
        samples[r] = (now() - t0) * 1e3;
        if (st)
            return fail_status(st, j->r->label);
    }
    res->load_ms = summarize(samples, o->reps);
    rss_note(&mem);

    /* the prompt: the text's first tokens, or random ones */
    int n_vocab = latent_n_vocab(m);
    latent_token *prompt = malloc((size_t)o->n_prompt * sizeof *prompt);
    if (!prompt) {
        latent_model_free(m);
        return fail("out of memory");
    }
    size_t n_text = 0;
    latent_token *text_toks = j->text ? tokenize_text(m, j->text, j->text_len, &n_text) : NULL;
    uint64_t seed = 42;
    for (int i = 0; i < o->n_prompt; i++)
        prompt[i] = n_text > 1 ? text_toks[(size_t)i % n_text]
                               : (latent_token)(3 + splitmix(&seed) % (uint64_t)(n_vocab - 3));
    free(text_toks);

    /* the paired probe reads a buffer as large as what one token reads, as the parent's */
    double bpt = (double)j->r->info.token_bytes +
                 kv_bytes_per_token(&j->r->info, o->n_prompt, o->n_gen);
    size_t probe_bytes = bandwidth_buffer(bpt);
    int rc = -1;
    /* with --alternate every thread count has its context from the start and the
     * repetitions take turns; otherwise one thread count after the other */
    latent_context *ctxs[MAX_THREADS] = {0};
    static double pp[MAX_THREADS][MAX_REPS], tg[MAX_THREADS][MAX_REPS], cpu[MAX_THREADS][MAX_REPS];
    static double pair_bw[MAX_THREADS][MAX_REPS], pair_pct[MAX_THREADS][MAX_REPS];
    int per_block = o->alternate ? o->n_threads : 1;
    for (int first = 0; first < o->n_threads; first += per_block) {
        for (int ti = first; ti < first + per_block; ti++) {
            latent_context_params cp = latent_context_default_params();
            cp.n_threads = o->threads[ti];
            cp.n_batch = o->n_batch;
            latent_status st = latent_context_create(m, &cp, &ctxs[ti]);
            if (st) {
                fail_status(st, "creating a context");
                goto done;
            }
            /* a warm-up token: the first touch of the weights and thread start-up are not
             * what a running program pays */
            if ((st = latent_eval(ctxs[ti], prompt, 1))) {
                fail_status(st, "evaluating");
                goto done;
            }
        }
        for (int r = 0; r < o->reps; r++) {
            for (int ti = first; ti < first + per_block; ti++) {
                int threads = o->threads[ti];
                latent_context *ctx = ctxs[ti];
                progress(1, "%s: %d thread%s, repetition %d/%d", j->r->label, threads, threads > 1 ? "s" : "",
                         r + 1, o->reps);
                latent_context_reset(ctx);
                double t0 = now();
                latent_status st = latent_eval(ctx, prompt, (size_t)o->n_prompt);
                if (st) {
                    fail_status(st, "evaluating the prompt");
                    goto done;
                }
                double t1 = now();
                /* the paired ceiling: the machine's bandwidth moves from minute to minute on
                 * a shared host, so this repetition is compared with the bandwidth of its
                 * own moment, probed with as many threads right before and right after it,
                 * outside the timed part */
                double bw0 = paired_probe(&mem, probe_bytes, threads);
                if (bw0 <= 0)
                    goto done;
                double t2 = now(), c2 = cpu_seconds();
                for (int g = 0; g < o->n_gen; g++) {
                    latent_token next = argmax(latent_context_logits(ctx), n_vocab);
                    if ((st = latent_eval(ctx, &next, 1))) {
                        fail_status(st, "generating");
                        goto done;
                    }
                }
                double t3 = now(), c3 = cpu_seconds();
                double bw1 = paired_probe(&mem, probe_bytes, threads);
                if (bw1 <= 0)
                    goto done;
                pp[ti][r] = o->n_prompt / (t1 - t0);
                tg[ti][r] = o->n_gen / (t3 - t2);
                /* below 100%: other programs had the cores part of the time */
                cpu[ti][r] = 100.0 * (c3 - c2) / ((t3 - t2) * threads);
                pair_bw[ti][r] = 0.5 * (bw0 + bw1);
                pair_pct[ti][r] = 100.0 * tg[ti][r] / (pair_bw[ti][r] / bpt);
            }
        }
        for (int ti = first; ti < first + per_block; ti++) {
            thread_run *run = &res->runs[ti];
            run->threads = o->threads[ti];
            run->pp = summarize(pp[ti], o->reps);
            run->tg = summarize(tg[ti], o->reps);
            run->cpu = summarize(cpu[ti], o->reps);
            run->paired_bw = summarize(pair_bw[ti], o->reps).med;
            run->paired_pct = summarize(pair_pct[ti], o->reps);
            latent_mem_stats ms;
            latent_context_mem_stats(ctxs[ti], &ms);
            res->kv_bytes = (double)ms.kv_peak_bytes;
            res->scratch_bytes = (double)ms.scratch_bytes;
            latent_context_free(ctxs[ti]);
            ctxs[ti] = NULL;
        }
    }
    /* peak memory of loading and running, before the perplexity pass's logits, without
     * the probes (rss_meter in bench.h) */
    rss_note(&mem);
    res->peak_rss = mem.peak;
    if (j->text && o->quality && measure_quality(j, m, res))
        goto done;
    rc = 0;
done:
    for (int ti = 0; ti < o->n_threads; ti++)
        latent_context_free(ctxs[ti]);
    free(prompt);
    latent_model_free(m);
    return rc;
}

/* ============================================================================
 * Instructions per token on a Cortex-A72 (qemu + insncount)
 * ========================================================================== */

/* What qemu runs: load, a prompt (one token unless -p), -n generated tokens, on one
 * thread unless -t. Also what `perf record` is pointed at (bench/README.md). */
static int insn_run(const options *o)
{
    latent_model *m = NULL;
    latent_status st = latent_model_load(o->insn_run, NULL, &m);
    if (st)
        return fail_status(st, o->insn_run);
    latent_context_params cp = latent_context_default_params();
    cp.n_threads = o->threads[0];
    cp.n_batch = o->n_batch;
    latent_context *ctx = NULL;
    if ((st = latent_context_create(m, &cp, &ctx))) {
        latent_model_free(m);
        return fail_status(st, "creating a context");
    }
    int n_vocab = latent_n_vocab(m), rc = 0;
    latent_token *prompt = malloc((size_t)o->n_prompt * sizeof *prompt);
    if (!prompt)
        rc = fail("out of memory");
    uint64_t seed = 42;
    for (int i = 0; !rc && i < o->n_prompt; i++) /* BOS, then random tokens */
        prompt[i] = i == 0 && latent_token_bos(m) >= 0
                        ? latent_token_bos(m)
                        : (latent_token)(3 + splitmix(&seed) % (uint64_t)(n_vocab - 3));
    if (!rc && (st = latent_eval(ctx, prompt, (size_t)o->n_prompt)))
        rc = fail_status(st, "evaluating the prompt");
    for (int i = 0; i < o->n_gen && !rc; i++) {
        latent_token t = argmax(latent_context_logits(ctx), n_vocab);
        if ((st = latent_eval(ctx, &t, 1)))
            rc = fail_status(st, "evaluating");
    }
    free(prompt);
    printf("generated %d tokens\n", o->n_gen);
    latent_context_free(ctx);
    latent_model_free(m);
    return rc;
}

/* Runs the aarch64 bench under qemu with the plugin; the guest instruction count. */
static double count_instructions(const options *o, const char *model, int n_tokens)
{
    char *argv[40];
    int argc = 0;
    char qemu[256], ntok[16];
    if (strlen(o->qemu) >= sizeof qemu) {
        fail("--qemu: the command is too long");
        return -1;
    }
    strcpy(qemu, o->qemu);
    for (char *tok = strtok(qemu, " "); tok && argc < 30; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    snprintf(ntok, sizeof ntok, "%d", n_tokens);
    char *rest[] = {"-plugin", (char *)o->plugin, "-d", "plugin", (char *)o->insn_bin,
                    "--insn-run", (char *)model, "-n", ntok, NULL};
    for (int i = 0; rest[i]; i++)
        argv[argc++] = rest[i];
    argv[argc] = NULL;

    int fds[2];
    if (pipe(fds) != 0) {
        fail("pipe: %s", strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fail("fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], 2);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 1);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "bench: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    char buf[8192];
    size_t len = 0;
    ssize_t k;
    while ((k = read(fds[0], buf + len, sizeof buf - 1 - len)) > 0 || (k < 0 && errno == EINTR))
        if (k > 0) {
            len += (size_t)k;
            if (len == sizeof buf - 1) { /* keep the tail: the count is printed last */
                memmove(buf, buf + len / 2, len - len / 2);
                len -= len / 2;
            }
        }
    buf[len] = 0;
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const char *hit = NULL;
    for (const char *p = strstr(buf, "insncount: "); p; p = strstr(p + 1, "insncount: "))
        if (isdigit((unsigned char)p[11]))
            hit = p;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !hit) {
        /* show what it said: the last lines are the reason */
        const char *tail = len > 600 ? buf + len - 600 : buf;
        fail("%s under qemu failed (status %d)%s%s", o->insn_bin,
             WIFEXITED(status) ? WEXITSTATUS(status) : -1, *tail ? ":\n" : "", tail);
        return -1;
    }
    return strtod(hit + 11, NULL);
}

/* ============================================================================
 * The machine
 * ========================================================================== */

static void describe_machine(context_info *ci)
{
    struct utsname u;
    copy_str(ci->machine, sizeof ci->machine, uname(&u) == 0 ? u.machine : "unknown");
    copy_str(ci->cpu, sizeof ci->cpu, ci->machine);
    ci->cores = n_cores();
    FILE *f = fopen("/proc/device-tree/model", "r"); /* "Raspberry Pi 4 Model B Rev 1.4" */
    char line[256];
    if (f) {
        if (fgets(line, sizeof line, f))
            copy_str(ci->cpu, sizeof ci->cpu, line);
        fclose(f);
    } else if ((f = fopen("/proc/cpuinfo", "r"))) {
        unsigned part = 0;
        while (fgets(line, sizeof line, f)) {
            char *colon = strchr(line, ':');
            if (!colon)
                continue;
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            if (!strncmp(line, "model name", 10)) {
                copy_str(ci->cpu, sizeof ci->cpu, v);
                break;
            }
            if (!strncmp(line, "CPU part", 8) && !part)
                part = (unsigned)strtoul(v, NULL, 0);
        }
        fclose(f);
        if (part == 0xd08)
            snprintf(ci->cpu, sizeof ci->cpu, "Cortex-A72");
        else if (part == 0xd03)
            snprintf(ci->cpu, sizeof ci->cpu, "Cortex-A53");
        else if (part == 0xd0b)
            snprintf(ci->cpu, sizeof ci->cpu, "Cortex-A76");
    }
    for (char *c = ci->cpu; *c; c++)
        if (*c == '\n' || *c == ',' || *c == '"' || (unsigned char)*c < 0x20)
            *c = *c == ',' ? ';' : 0;
    double la[1];
    ci->load = getloadavg(la, 1) == 1 ? la[0] : -1;
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ci->date, sizeof ci->date, "%Y-%m-%d %H:%M UTC", &tm);
}

/* ============================================================================
 * Temporary files: removed at the end, and on Ctrl-C
 * ========================================================================== */

static char g_tmp[MAX_ROWS + 4][PATH_MAX];
static char g_tmp_partial[MAX_ROWS + 4][PATH_MAX + 8]; /* g_tmp[i] + ".tmp" */
static int g_n_tmp;
static char g_tmpdir[PATH_MAX];
static int g_own_dir;

static void cleanup(void)
{
    if (getpid() != g_parent)
        return;
    for (int i = 0; i < g_n_tmp; i++)
        if (g_tmp[i][0]) {
            unlink(g_tmp[i]);
            unlink(g_tmp_partial[i]); /* the GGUF writer's path.tmp, if interrupted */
            g_tmp[i][0] = 0;
        }
    if (g_own_dir && g_tmpdir[0])
        rmdir(g_tmpdir);
}

/* ============================================================================
 * Contention (--contend N): busy processes beside the measurement, as another program
 * on the device would be (the wall driver, a compiler, a browser)
 * ========================================================================== */

static pid_t g_contenders[64];
static int g_n_contenders;

static void stop_contenders(void)
{
    if (getpid() != g_parent)
        return;
    for (int i = 0; i < g_n_contenders; i++)
        kill(g_contenders[i], SIGKILL);
    for (int i = 0; i < g_n_contenders; i++)
        while (waitpid(g_contenders[i], NULL, 0) < 0 && errno == EINTR) {
        }
    g_n_contenders = 0;
}

static int start_contenders(int n)
{
    for (int i = 0; i < n && i < (int)(sizeof g_contenders / sizeof g_contenders[0]); i++) {
        pid_t pid = fork();
        if (pid < 0) {
            stop_contenders();
            return fail("--contend: fork: %s", strerror(errno));
        }
        if (pid == 0) {
#ifdef __linux__
            /* never outlive the bench, even when it is killed */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != g_parent)
                _exit(0);
#endif
            /* a session of its own, as another program has: with autogroup scheduling
             * (Linux's default on desktops), the processes of one session share one
             * group's slice of the CPU, and a busy loop in the bench's own session would
             * compete with the bench's threads for that slice alone */
            setsid();
            /* nothing but arithmetic: it takes a core, not memory bandwidth */
            volatile uint64_t spin = 0;
            for (;;)
                spin++;
        }
        g_contenders[g_n_contenders++] = pid;
    }
    return 0;
}

static void on_signal(int sig)
{
    stop_contenders();
    cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static const char *track(const char *path, int keep)
{
    if (keep || g_n_tmp == (int)(sizeof g_tmp / sizeof g_tmp[0]))
        return path;
    copy_str(g_tmp[g_n_tmp], PATH_MAX, path);
    snprintf(g_tmp_partial[g_n_tmp], sizeof g_tmp_partial[0], "%s.tmp", g_tmp[g_n_tmp]);
    g_n_tmp++;
    return path;
}

static void untrack_remove(const char *path)
{
    for (int i = 0; i < g_n_tmp; i++)
        if (!strcmp(g_tmp[i], path)) {
            unlink(g_tmp[i]);
            g_tmp[i][0] = 0;
        }
}

/* ============================================================================
 * main
 * ========================================================================== */

static char *read_text(const options *o, const char *argv0, size_t *len)
{
    const char *path = o->text;
    char alt[PATH_MAX];
    FILE *f = fopen(path, "rb");
    if (!f && !o->text_given) { /* next to the program: build/bench -> bench/data/ */
        const char *slash = strrchr(argv0, '/');
        int dir = slash ? (int)(slash - argv0) : 1;
        snprintf(alt, sizeof alt, "%.*s/../bench/data/stories.txt", dir, slash ? argv0 : ".");
        f = fopen(alt, "rb");
    }
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *g = realloc(buf, cap * 2);
        if (!g) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = g;
        cap *= 2;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* With --dir and --keep, a file an earlier run kept is used again: the synthetic weights
 * are the same on every run, and so is their quantization (unless the quantizer changed). */
static int reuse(const options *o, const char *path)
{
    struct stat sb;
    return o->dir && o->keep && stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0;
}

static int is_float_type(uint32_t t)
{
    return t == LATENT_TYPE_F32 || t == LATENT_TYPE_F16 || t == LATENT_TYPE_BF16;
}

static int bench_main(int argc, char **argv)
{
    options o;
    if (parse_args(argc, argv, &o))
        return 1;
    if (o.insn_run)
        return insn_run(&o) ? 1 : 0;

    context_info ci;
    memset(&ci, 0, sizeof ci);
    describe_machine(&ci);
    shape sh;
    if (o.synthetic && parse_shape(o.synthetic, &sh))
        return 1;
    if (o.insn_bin) {
        if (access(o.insn_bin, R_OK) != 0)
            return fail("--insn: %s: %s", o.insn_bin, strerror(errno)), 1;
        if (access(o.plugin, R_OK) != 0)
            return fail("--plugin: %s: %s (build it: gcc -O2 -shared -fPIC -o %s "
                        "../shared/tools/insncount.c)", o.plugin, strerror(errno), o.plugin), 1;
    }
    if (o.svg && o.insn_bin)
        return fail("--svg charts speed; --insn counts instructions: one or the other"), 1;

    /* the directory for the files */
    if (o.dir) {
        if (mkdir(o.dir, 0777) != 0 && errno != EEXIST)
            return fail("--dir %s: %s", o.dir, strerror(errno)), 1;
        snprintf(g_tmpdir, sizeof g_tmpdir, "%s", o.dir);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(g_tmpdir, sizeof g_tmpdir, "%s/latent-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(g_tmpdir))
            return fail("cannot create a temporary directory %s: %s", g_tmpdir, strerror(errno)), 1;
        g_own_dir = !o.keep;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    atexit(cleanup);
    atexit(stop_contenders);

    /* the source: the model given, or a synthetic one written now */
    char source[PATH_MAX];
    model_info src;
    if (o.synthetic) {
        char name[96];
        snprintf(name, sizeof name, "%s.f16.gguf", sh.name);
        if (path_join(source, sizeof source, g_tmpdir, name))
            return 1;
        snprintf(ci.model, sizeof ci.model, "%s (synthetic)", sh.name);
        if (reuse(&o, source)) {
            progress(0, "reusing %s (kept by an earlier --keep)", source);
        } else {
            progress(0, "writing a synthetic %s with random f16 weights", sh.name);
            double t0 = now();
            synth_job sj = {&sh, track(source, o.keep)};
            char dummy;
            if (run_child("writing the synthetic model", synth_child, &sj, &dummy, 0))
                return 1;
            progress(0, "wrote %s in %.1f s", source, now() - t0);
        }
    } else {
        struct stat sb;
        if (stat(o.model, &sb) != 0)
            return fail("%s: %s", o.model, strerror(errno)), 1;
        if (!S_ISREG(sb.st_mode))
            return fail("%s: not a regular file", o.model), 1;
        snprintf(source, sizeof source, "%s", o.model);
        const char *base = strrchr(o.model, '/');
        snprintf(ci.model, sizeof ci.model, "%s", base ? base + 1 : o.model);
    }
    if (model_info_read(source, &src))
        return 1;
    /* the model's short name: the shape, or "stories260K" for stories260K.gguf */
    char stem[128];
    copy_str(stem, sizeof stem, o.synthetic ? sh.name : ci.model);
    size_t sl = strlen(stem);
    if (sl > 5 && !strcmp(stem + sl - 5, ".gguf"))
        stem[sl - 5] = 0;
    const char *shape_name = stem;
    snprintf(ci.shape, sizeof ci.shape, "%s, %d layers, dim %d, %d/%d heads, ffn %d, vocab %d, "
             "%.1f M weights", src.arch, src.n_layers, src.dim, src.n_heads, src.n_kv_heads, src.ffn,
             src.n_vocab, (double)src.n_params / 1e6);
    const char *src_type = latent_type_name(src.main_type);
    if (!o.synthetic && !is_float_type(src.main_type)) {
        int only_file = o.types_given;
        for (int i = 0; i < o.n_types; i++)
            only_file &= !strcmp(o.types[i], "file");
        if (!only_file)
            return fail("%s is %s, not a high-precision model (f32, f16, bf16): quantizing it again "
                        "would measure two roundings; pass --types file to measure it as it is",
                        o.model, src_type ? src_type : "of an unknown type"), 1;
    }

    /* the perplexity text */
    char *text = NULL;
    size_t text_len = 0;
    if (o.model && !o.insn_bin) { /* the prompt comes from it too */
        text = read_text(&o, argv[0], &text_len);
        if (!text && o.text_given)
            return fail("--text %s: %s", o.text, strerror(errno)), 1;
        if (!text && o.quality)
            progress(0, "no text at %s: skipping perplexity, KL and top-1 (--text FILE)", o.text);
    }

    /* the rows: the input first when it is the reference, then each type */
    static row rows[MAX_ROWS];
    int n_rows = 0;
    if (o.model) {
        int listed = 0;
        for (int i = 0; i < o.n_types; i++)
            listed |= !strcmp(o.types[i], "file");
        if (listed || is_float_type(src.main_type)) {
            row *r = &rows[n_rows++];
            snprintf(r->label, sizeof r->label, "%s", src_type ? src_type : "file");
            snprintf(r->path, sizeof r->path, "%s", source);
            r->is_ref = 1;
        }
    }
    for (int i = 0; i < o.n_types; i++) {
        const char *t = o.types[i];
        if (!strcmp(t, "file"))
            continue;
        if (o.model && src_type && !strcmp(t, src_type) && is_float_type(src.main_type))
            continue; /* the input itself, already the reference */
        row *r = &rows[n_rows++];
        snprintf(r->label, sizeof r->label, "%s", t);
        snprintf(r->preset, sizeof r->preset, "%s", t);
        if (o.synthetic && !strcmp(t, "f16")) { /* the source is that file */
            snprintf(r->path, sizeof r->path, "%s", source);
            r->preset[0] = 0;
            continue;
        }
        char name[200]; /* "tinyllama-1.1b.q4_0.gguf": kept files of two models never mix */
        snprintf(name, sizeof name, "%.120s.%.20s.gguf", stem, t);
        if (path_join(r->path, sizeof r->path, g_tmpdir, name))
            return 1;
        r->temporary = 1;
    }
    if (n_rows == 0)
        return fail("nothing to measure"), 1;

    /* measure each row: quantize, read its sizes, probe the bandwidth, run it in a child */
    char ref_path[PATH_MAX];
    if (path_join(ref_path, sizeof ref_path, g_tmpdir, "reference.logprobs"))
        return 1;
    int have_ref = 0;
    for (int i = 0; i < n_rows; i++) {
        row *r = &rows[i];
        if (r->temporary && reuse(&o, r->path)) {
            progress(0, "reusing %s (kept by an earlier --keep)", r->path);
        } else if (r->temporary) {
            progress(0, "quantizing to %s (%d/%d)", r->preset, i + 1, n_rows);
            double t0 = now();
            quant_job qj = {source, track(r->path, o.keep), r->preset};
            char dummy;
            if (run_child(r->label, quant_child, &qj, &dummy, 0))
                return 1;
            r->quant_s = now() - t0;
        }
        if (model_info_read(r->path, &r->info))
            return 1;
        const char *mt = latent_type_name(r->info.main_type);
        size_t k = mt ? strlen(mt) : 0;
        if (r->preset[0] && mt && (strncasecmp(r->preset, mt, k) || (r->preset[k] && r->preset[k] != '_'))) {
            /* rows not whole blocks of the preset's type: it fell back, as llama.cpp does */
            char lbl[sizeof r->label];
            snprintf(lbl, sizeof lbl, "%.12s (%.8s)", r->preset, mt);
            copy_str(r->label, sizeof r->label, lbl);
        }
        if (o.insn_bin) {
            double c[2];
            int n[2] = {o.insn_n1, o.insn_n2};
            for (int k = 0; k < 2; k++) {
                progress(0, "%s: counting Cortex-A72 instructions for %d generated tokens under qemu",
                         r->label, n[k]);
                if ((c[k] = count_instructions(&o, r->path, n[k])) < 0)
                    return 1;
            }
            r->m.insn_n1 = c[0];
            r->m.insn_n2 = c[1];
            r->m.insn_per_token = (c[1] - c[0]) / (n[1] - n[0]);
        } else {
            double bpt = (double)r->info.token_bytes + kv_bytes_per_token(&r->info, o.n_prompt, o.n_gen);
            for (int ti = 0; ti < o.n_threads; ti++) {
                if (probe_bandwidth(bandwidth_buffer(bpt), o.threads[ti]) <= 0)
                    return 1;
            }
            progress(0, "measuring %s (%d/%d)", r->label, i + 1, n_rows);
            /* the reference writes its log-probabilities for the others to compare with */
            int compare = text && o.quality && n_rows > 1;
            measure_job mj = {&o, r, text, text_len, compare ? ref_path : NULL, 0};
            if (compare && r->is_ref)
                mj.write_ref = 1, have_ref = 1, track(ref_path, 0);
            if (!have_ref) /* no reference row: perplexity only */
                mj.ref_path = NULL;
            if (start_contenders(o.contend))
                return 1;
            int failed = run_child(r->label, measure_child, &mj, &r->m, sizeof r->m);
            stop_contenders();
            if (failed)
                return 1;
        }
        if (r->temporary && !o.keep)
            untrack_remove(r->path);
    }
    /* one more probe of each buffer, then the ceilings: the best bandwidth of the run */
    int n_probed = g_n_bw;
    for (int i = 0; i < n_probed && !o.insn_bin; i++)
        if (probe_bandwidth(g_bw[i].bytes, g_bw[i].threads) <= 0)
            return 1;
    for (int i = 0; i < n_rows && !o.insn_bin; i++) {
        row *r = &rows[i];
        double bpt = (double)r->info.token_bytes + kv_bytes_per_token(&r->info, o.n_prompt, o.n_gen);
        for (int ti = 0; ti < o.n_threads; ti++) {
            thread_run *t = &r->m.runs[ti];
            t->bw = best_bandwidth(bandwidth_buffer(bpt), t->threads);
            t->ceiling = t->bw / bpt;
        }
    }
    clear_progress();

    if (o.insn_bin) {
        print_insn(&o, &ci, shape_name, rows, n_rows);
    } else {
        switch (o.format) {
        case OUT_CSV: print_csv(&o, &ci, rows, n_rows); break;
        case OUT_JSON: print_json(&o, &ci, rows, n_rows); break;
        default:
            print_header(&o, &ci, rows, n_rows, o.format == OUT_MD);
            print_table(&o, &ci, rows, n_rows, o.format == OUT_MD);
            break;
        }
        if (o.svg && write_svg(&o, &ci, rows, n_rows))
            return 1;
    }
    if (o.keep)
        fprintf(stderr, "bench: the files are in %s\n", g_tmpdir);
    free(text);
    fflush(stdout);
    if (ferror(stdout))
        return fail("writing the results failed"), 1;
    return 0;
}

int main(int argc, char **argv)
{
    g_tty = isatty(2);
    g_parent = getpid();
    latent_set_log(log_line, NULL, LATENT_LOG_WARN);
    return bench_main(argc, argv);
}
