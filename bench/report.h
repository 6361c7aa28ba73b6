/*
 * report.h — the results for people (an aligned table, markdown for a README, an SVG
 * chart) and for machines (CSV, JSON), and the Cortex-A72 instruction counts.
 */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include "bandwidth.h"

/* llama.cpp's counts on the same shapes (../shared/tools/README.md, measured 2026-11-22,
 * commit c392e509, -mcpu=cortex-a72, one thread, no dotprod). */
typedef struct insn_ref {
    const char *shape, *preset;
    double insn;
} insn_ref;

static const insn_ref INSN_REFS[] = {
    {"tinyllama-1.1b", "q4_0", 985.9e6},  {"tinyllama-1.1b", "q4_k_m", 954.6e6},
    {"tinyllama-1.1b", "q8_0", 878.4e6},  {"llama-3.2-1b", "q4_0", 1202.5e6},
    {"stories260K", "f32", 1.335e6},
};

static double insn_reference(const char *shape_name, const row *r)
{
    const char *preset = r->preset[0] ? r->preset : latent_type_name(r->info.main_type);
    for (size_t i = 0; i < sizeof INSN_REFS / sizeof INSN_REFS[0]; i++)
        if (!strcmp(shape_name, INSN_REFS[i].shape) && preset && !strcmp(preset, INSN_REFS[i].preset))
            return INSN_REFS[i].insn;
    return 0;
}

/* ============================================================================
 * Output: table, markdown, CSV, JSON, SVG
 * ========================================================================== */

static void fmt_num(char *buf, size_t cap, double x)
{
    if (!isfinite(x))
        snprintf(buf, cap, "-");
    else if (fabs(x) >= 100)
        snprintf(buf, cap, "%.0f", x);
    else if (fabs(x) >= 10)
        snprintf(buf, cap, "%.1f", x);
    else
        snprintf(buf, cap, "%.2f", x);
}

static void fmt_stat(char *buf, size_t cap, stat3 s)
{
    char a[20], b[20], c[20];
    fmt_num(a, sizeof a, s.med);
    fmt_num(b, sizeof b, s.min);
    fmt_num(c, sizeof c, s.max);
    snprintf(buf, cap, "%s (%s..%s)", a, b, c);
}

static double pct_of_ceiling(const thread_run *t)
{
    return t->ceiling > 0 ? 100.0 * t->tg.med / t->ceiling : NAN;
}

static double gflops(const options *o, const row *r, const thread_run *t)
{
    return prompt_flops(&r->info, o->n_prompt) * t->pp.med / o->n_prompt / 1e9;
}

#define N_COLS 18
#define CELL 64

/* The columns shown: all of them with --wide; by default the ones a person choosing a
 * type reads (type, size, threads when several, generation speed, how near the ceiling,
 * quality), which fit a terminal. Returns how many. */
static int shown_columns(const options *o, int n_cols, int *cols)
{
    static const int compact[] = {0, 1, 5, 8, 12, 15, 16};
    int n = 0;
    for (int c = 0; c < n_cols; c++)
        cols[n++] = c;
    if (o->wide)
        return n;
    n = 0;
    for (size_t k = 0; k < sizeof compact / sizeof compact[0]; k++)
        if (compact[k] < n_cols && (compact[k] != 5 || o->n_threads > 1))
            cols[n++] = compact[k];
    return n;
}

static void print_table(const options *o, const context_info *ci, row *rows, int n_rows, int md)
{
    static const char *head[N_COLS] = {"type", "MiB", "bpw", "load ms", "RSS MiB", "thr",
                                       "prompt tok/s", "GFLOP/s", "gen tok/s", "CPU %", "GB/s",
                                       "ceiling", "% best", "paired GB/s", "% paired", "PPL",
                                       "KL", "top-1"};
    static const int left[N_COLS] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    int quality = 0;
    for (int i = 0; i < n_rows; i++)
        quality |= rows[i].m.has_quality;
    int compared = quality && n_rows > 1 && rows[0].is_ref; /* KL and top-1 columns */
    int n_cols = compared ? N_COLS : quality ? N_COLS - 2 : N_COLS - 3;
    int cols[N_COLS], n_shown = shown_columns(o, n_cols, cols);
    int n_lines = 0;
    for (int i = 0; i < n_rows; i++)
        n_lines += o->n_threads;
    char (*cell)[N_COLS][CELL] = calloc((size_t)n_lines + 1, sizeof *cell);
    if (!cell)
        return;
    for (int c = 0; c < n_cols; c++)
        snprintf(cell[0][c], CELL, "%s", head[c]);
    if (!o->wide)
        snprintf(cell[0][12], CELL, "%% ceiling");
    int line = 1;
    for (int i = 0; i < n_rows; i++) {
        const row *r = &rows[i];
        for (int ti = 0; ti < o->n_threads; ti++, line++) {
            const thread_run *t = &r->m.runs[ti];
            char (*c)[CELL] = cell[line];
            if (ti == 0) {
                copy_str(c[0], CELL - 3, r->label);
                if (r->is_ref && compared)
                    strcat(c[0], " *");
                fmt_num(c[1], CELL, (double)r->info.file_bytes / MIB);
                fmt_num(c[2], CELL, 8.0 * (double)r->info.tensor_bytes / (double)r->info.n_params);
                fmt_num(c[3], CELL, r->m.load_ms.med);
                fmt_num(c[4], CELL, r->m.peak_rss / MIB);
                if (quality && r->m.has_quality) {
                    snprintf(c[15], CELL, "%.4f", r->m.ppl);
                    if (!compared || r->is_ref)
                        snprintf(c[16], CELL, "ref"), snprintf(c[17], CELL, "ref");
                    else
                        snprintf(c[16], CELL, "%.5f", r->m.kl),
                            snprintf(c[17], CELL, "%.1f%%", 100 * r->m.top1);
                }
            }
            snprintf(c[5], CELL, "%d", t->threads);
            fmt_stat(c[6], CELL, t->pp);
            fmt_num(c[7], CELL, gflops(o, r, t));
            if (o->wide)
                fmt_stat(c[8], CELL, t->tg);
            else
                fmt_num(c[8], CELL, t->tg.med);
            snprintf(c[9], CELL, "%.0f", t->cpu.med);
            double bpt = (double)r->info.token_bytes + kv_bytes_per_token(&r->info, o->n_prompt, o->n_gen);
            fmt_num(c[10], CELL, t->tg.med * bpt / 1e9);
            fmt_num(c[11], CELL, t->ceiling);
            fmt_num(c[12], CELL, pct_of_ceiling(t));
            fmt_num(c[13], CELL, t->paired_bw / 1e9);
            fmt_stat(c[14], CELL, t->paired_pct);
        }
    }
    int width[N_COLS] = {0};
    for (int l = 0; l < n_lines + 1; l++)
        for (int c = 0; c < n_cols; c++) {
            int w = (int)strlen(cell[l][c]);
            width[c] = w > width[c] ? w : width[c];
        }
    if (md) {
        for (int l = 0; l < n_lines + 1; l++) {
            for (int k = 0; k < n_shown; k++)
                printf("| %s ", cell[l][cols[k]]);
            printf("|\n");
            if (l == 0) {
                for (int k = 0; k < n_shown; k++)
                    printf("|%s", left[cols[k]] ? "---" : "---:");
                printf("|\n");
            }
        }
    } else {
        for (int l = 0; l < n_lines + 1; l++) {
            for (int k = 0; k < n_shown; k++)
                printf(left[cols[k]] ? "%-*s" : "%*s", width[cols[k]] + (k ? 2 : 0), cell[l][cols[k]]);
            printf("\n");
        }
    }
    free(cell);
    (void)ci;
}

static void print_header(const options *o, const context_info *ci, const row *rows, int n_rows,
                         int md)
{
    const char *p = md ? "" : "# ";
    printf("%s%s: %s\n", p, ci->model, ci->shape);
    printf("%s%s, %d cores, %s kernels, %s", p, ci->cpu, ci->cores, BENCH_ISA, ci->date);
    if (ci->load >= 0)
        printf(", load average %.2f at the start", ci->load);
    if (o->contend)
        printf(", %d busy loop%s beside the measurement (--contend)", o->contend, o->contend > 1 ? "s" : "");
    if (o->alternate)
        printf(", repetitions alternating between thread counts");
    const char *wait = getenv("OMP_WAIT_POLICY");
    if (wait && *wait)
        printf(", OMP_WAIT_POLICY=%s", wait);
    printf("\n");
    if (ci->load >= 0.5 * ci->cores)
        printf("%sthe machine was busy: other programs took CPU time from these figures (compare thread "
               "counts with --alternate)\n", p);
    printf("%sprompt %d tokens (batch %d), %d generated, %d repetitions: %s\n", p, o->n_prompt, o->n_batch,
           o->n_gen, o->reps, o->wide ? "median (min..max)" : "medians (--wide: min..max, and every column)");
    /* the bandwidth over the largest buffer, per thread count; smaller models are held
     * to the bandwidth over their own size (in --json and --csv) */
    size_t big = 0;
    for (int i = 0; i < g_n_bw; i++)
        big = g_bw[i].bytes > big ? g_bw[i].bytes : big;
    printf("%sread bandwidth, the best probe of the run, over %.0f MiB (what one token reads, at "
           "most 256):", p, (double)big / MIB);
    int k = 0;
    for (int i = 0; i < g_n_bw; i++)
        if (g_bw[i].bytes == big)
            printf("%s %.1f GB/s with %d thread%s", k++ ? "," : "", g_bw[i].bw / 1e9,
                   g_bw[i].threads, g_bw[i].threads > 1 ? "s" : "");
    printf("\n");
    for (int i = 0; i < g_n_bw; i++)
        if (g_bw[i].bytes != big) {
            printf("%s(smaller files are held to the bandwidth over their own size, which may fit in "
                   "a cache: see --json)\n", p);
            break;
        }
    int quality = 0;
    for (int i = 0; i < n_rows; i++)
        quality |= rows[i].m.has_quality;
    if (!o->wide) {
        printf("%s%% ceiling = gen tok/s / (that best bandwidth / bytes one generated token reads, "
               "weights + KV)\n", p);
    } else {
        printf("%sGB/s = what generation reached; ceiling = that best bandwidth / bytes one generated "
               "token reads (weights + KV); %% best = gen tok/s / ceiling;\n", p);
        printf("%s%% paired = gen tok/s / paired ceiling, repetition by repetition: the same probe "
               "with the same threads right before and right after the repetition's generation, their "
               "mean / bytes per token (a neighbour taking memory bandwidth moves both); paired GB/s = "
               "the median of those means\n", p);
        printf("%sCPU %% = CPU time used while generating / (wall time x threads): below 100, threads "
               "sat idle (another program had the core, or the work was too small to split)\n", p);
    }
    if (quality)
        printf("%sPPL on %s, %ld tokens in windows of %d", p, o->text, rows[0].m.n_scored,
               o->ppl_ctx);
    if (quality && n_rows > 1 && rows[0].is_ref)
        printf("; KL and top-1 against %s (*)", rows[0].label);
    if (quality)
        printf("\n");
    if (md)
        printf("\n");
}

static void print_csv(const options *o, const context_info *ci, row *rows, int n_rows)
{
    printf("model,type,main_type,file_bytes,params,bpw,load_ms_med,load_ms_min,load_ms_max,"
           "peak_rss_bytes,threads,prompt_tokens,pp_tps_med,pp_tps_min,pp_tps_max,pp_gflops,"
           "gen_tokens,tg_tps_med,tg_tps_min,tg_tps_max,cpu_pct,bytes_per_token,best_bandwidth_gbs,"
           "best_ceiling_tps,best_pct,paired_bandwidth_gbs,paired_pct_med,paired_pct_min,"
           "paired_pct_max,ppl,kl,top1,scored_tokens,quantize_s\n");
    for (int i = 0; i < n_rows; i++) {
        const row *r = &rows[i];
        for (int ti = 0; ti < o->n_threads; ti++) {
            const thread_run *t = &r->m.runs[ti];
            double bpt = (double)r->info.token_bytes + kv_bytes_per_token(&r->info, o->n_prompt, o->n_gen);
            printf("%s,%s,%s,%llu,%llu,%.4f,%.3f,%.3f,%.3f,%.0f,%d,%d,%.3f,%.3f,%.3f,%.3f,%d,%.3f,"
                   "%.3f,%.3f,%.1f,%.0f,%.3f,%.3f,%.2f,%.3f,%.2f,%.2f,%.2f,",
                   ci->model, r->label, latent_type_name(r->info.main_type),
                   (unsigned long long)r->info.file_bytes, (unsigned long long)r->info.n_params,
                   8.0 * (double)r->info.tensor_bytes / (double)r->info.n_params, r->m.load_ms.med,
                   r->m.load_ms.min, r->m.load_ms.max, r->m.peak_rss, t->threads, o->n_prompt,
                   t->pp.med, t->pp.min, t->pp.max, gflops(o, r, t), o->n_gen, t->tg.med, t->tg.min,
                   t->tg.max, t->cpu.med, bpt, t->bw / 1e9, t->ceiling, pct_of_ceiling(t),
                   t->paired_bw / 1e9, t->paired_pct.med, t->paired_pct.min, t->paired_pct.max);
            if (r->m.has_quality)
                printf("%.6f,%.6f,%.6f,%ld,", r->m.ppl, r->m.kl, r->m.top1, r->m.n_scored);
            else
                printf(",,,,");
            printf("%.3f\n", r->quant_s);
        }
    }
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, "%.6g", x);
    else
        fputs("null", f);
}

static void json_stat(FILE *f, const char *key, stat3 s)
{
    fprintf(f, "\"%s\": {\"median\": ", key);
    json_num(f, s.med);
    fputs(", \"min\": ", f);
    json_num(f, s.min);
    fputs(", \"max\": ", f);
    json_num(f, s.max);
    fputs("}", f);
}

static void print_json(const options *o, const context_info *ci, row *rows, int n_rows)
{
    FILE *f = stdout;
    fputs("{\n  \"model\": ", f);
    json_str(f, ci->model);
    fputs(",\n  \"shape\": ", f);
    json_str(f, ci->shape);
    fputs(",\n  \"machine\": {\"cpu\": ", f);
    json_str(f, ci->cpu);
    fprintf(f, ", \"arch\": ");
    json_str(f, ci->machine);
    fprintf(f, ", \"cores\": %d, \"kernels\": \"%s\", \"load_average\": ", ci->cores, BENCH_ISA);
    json_num(f, ci->load);
    fputs(", \"omp_wait_policy\": ", f);
    json_str(f, getenv("OMP_WAIT_POLICY") ? getenv("OMP_WAIT_POLICY") : "");
    fputs(", \"date\": ", f);
    json_str(f, ci->date);
    fprintf(f, "},\n  \"settings\": {\"prompt_tokens\": %d, \"batch\": %d, \"gen_tokens\": %d, "
               "\"repetitions\": %d, \"ppl_ctx\": %d},\n",
            o->n_prompt, o->n_batch, o->n_gen, o->reps, o->ppl_ctx);
    fputs("  \"bandwidth\": [", f);
    for (int i = 0; i < g_n_bw; i++)
        fprintf(f, "%s{\"threads\": %d, \"buffer_bytes\": %zu, \"bytes_per_s\": %.6g}", i ? ", " : "",
                g_bw[i].threads, g_bw[i].bytes, g_bw[i].bw);
    fputs("],\n  \"results\": [\n", f);
    for (int i = 0; i < n_rows; i++) {
        const row *r = &rows[i];
        fputs("    {\"type\": ", f);
        json_str(f, r->label);
        fputs(", \"main_type\": ", f);
        json_str(f, latent_type_name(r->info.main_type));
        fprintf(f, ", \"reference\": %s, \"file_bytes\": %llu, \"params\": %llu, \"bpw\": %.4f, "
                   "\"weights_per_token\": %llu, \"weight_bytes_per_token\": %llu, \"quantize_s\": %.3f, ",
                r->is_ref ? "true" : "false", (unsigned long long)r->info.file_bytes,
                (unsigned long long)r->info.n_params,
                8.0 * (double)r->info.tensor_bytes / (double)r->info.n_params,
                (unsigned long long)r->info.token_weights, (unsigned long long)r->info.token_bytes,
                r->quant_s);
        json_stat(f, "load_ms", r->m.load_ms);
        fprintf(f, ", \"peak_rss_bytes\": %.0f, \"kv_bytes\": %.0f, \"scratch_bytes\": %.0f",
                r->m.peak_rss, r->m.kv_bytes, r->m.scratch_bytes);
        if (r->m.has_quality) {
            fputs(", \"ppl\": ", f);
            json_num(f, r->m.ppl);
            fputs(", \"kl\": ", f);
            json_num(f, r->m.kl);
            fputs(", \"top1\": ", f);
            json_num(f, r->m.top1);
            fprintf(f, ", \"scored_tokens\": %ld", r->m.n_scored);
        }
        fputs(",\n     \"runs\": [", f);
        for (int ti = 0; ti < o->n_threads; ti++) {
            const thread_run *t = &r->m.runs[ti];
            fprintf(f, "%s\n       {\"threads\": %d, ", ti ? "," : "", t->threads);
            json_stat(f, "prompt_tps", t->pp);
            fprintf(f, ", \"prompt_gflops\": %.4g, ", gflops(o, r, t));
            json_stat(f, "gen_tps", t->tg);
            fputs(", ", f);
            json_stat(f, "cpu_pct", t->cpu);
            fprintf(f, ", \"best_bandwidth_bytes_per_s\": %.6g, \"best_ceiling_tps\": %.6g, "
                       "\"best_pct\": ", t->bw, t->ceiling);
            json_num(f, pct_of_ceiling(t));
            fprintf(f, ", \"paired_bandwidth_bytes_per_s\": %.6g, ", t->paired_bw);
            json_stat(f, "paired_pct", t->paired_pct);
            fputs("}", f);
        }
        fprintf(f, "]}%s\n", i + 1 < n_rows ? "," : "");
    }
    fputs("  ]\n}\n", f);
}

static void svg_text(FILE *f, double x, double y, const char *anchor, int size, const char *fill,
                     const char *s)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\" fill=\"%s\">", x, y,
            anchor, size, fill);
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else
            fputc(*s, f);
    }
    fputs("</text>\n", f);
}

/* "Nice" tick step for a range. */
static double tick_step(double range)
{
    double raw = range / 5, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/* The thread count the chart shows: the one with the fastest generation over all types. */
static int best_thread_index(const options *o, const row *rows, int n_rows)
{
    int best = 0;
    double best_sum = -1;
    for (int ti = 0; ti < o->n_threads; ti++) {
        double sum = 0;
        for (int i = 0; i < n_rows; i++)
            sum += rows[i].m.runs[ti].tg.med;
        if (sum > best_sum)
            best_sum = sum, best = ti;
    }
    return best;
}

typedef struct svg_box {
    double x0, y0, x1, y1;
} svg_box;

static int boxes_overlap(const svg_box *a, const svg_box *b)
{
    return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1;
}

static int write_svg(const options *o, const context_info *ci, row *rows, int n_rows)
{
    FILE *f = fopen(o->svg, "w");
    if (!f)
        return fail("%s: %s", o->svg, strerror(errno));
    const int W = 800, H = 480, L = 70, R = 210, T = 60, B = 56;
    const double pw = W - L - R, ph = H - T - B;
    int ti = best_thread_index(o, rows, n_rows);
    double xmax = 0, ymeas = 0, yceil = 0;
    for (int i = 0; i < n_rows; i++) {
        double x = (double)rows[i].info.file_bytes / MIB;
        const thread_run *t = &rows[i].m.runs[ti];
        xmax = x > xmax ? x : xmax;
        ymeas = t->tg.max > ymeas ? t->tg.max : ymeas;
        yceil = t->ceiling > yceil ? t->ceiling : yceil;
    }
    /* ceilings far above every measurement (a model that fits in a cache) would flatten
     * the points: they are then marked at the top edge with their value */
    double ymax = yceil <= 2.5 * ymeas ? yceil * 1.1 : ymeas * 1.35;
    xmax *= 1.12;
    if (!(xmax > 0) || !(ymax > 0))
        xmax = ymax = 1;
#define SX(x) (L + (x) / xmax * pw)
#define SY(y) (T + ph - ((y) < ymax ? (y) : ymax) / ymax * ph)
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n", W, H, W, H);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    char buf[256];
    snprintf(buf, sizeof buf, "%.100s: generation speed against file size, %d thread%s", ci->model,
             o->threads[ti], o->threads[ti] > 1 ? "s" : "");
    svg_text(f, L, 24, "start", 15, "#111", buf);
    snprintf(buf, sizeof buf, "%.100s, %s kernels, %s", ci->cpu, BENCH_ISA, ci->date);
    svg_text(f, L, 42, "start", 11, "#555", buf);
    /* grid, ticks, frame, axis titles */
    double xs = tick_step(xmax), ys = tick_step(ymax);
    for (double x = 0; x <= xmax + 1e-9; x += xs) {
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", SX(x), T,
                SX(x), T + ph);
        fmt_num(buf, sizeof buf, x);
        svg_text(f, SX(x), T + ph + 16, "middle", 11, "#333", buf);
    }
    for (double y = 0; y <= ymax + 1e-9; y += ys) {
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", L, SY(y),
                L + pw, SY(y));
        fmt_num(buf, sizeof buf, y);
        svg_text(f, L - 6, SY(y) + 4, "end", 11, "#333", buf);
    }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888\"/>\n",
            L, T, pw, ph);
    svg_text(f, L + pw / 2, H - 16, "middle", 12, "#111", "file size (MiB)");
    fprintf(f, "<text x=\"18\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"12\" fill=\"#111\" "
               "transform=\"rotate(-90 18 %.1f)\">generated tokens/s</text>\n", T + ph / 2, T + ph / 2);

    /* markers: the ceiling (hollow), the measured median with a bar from min to max; the
     * labels below keep clear of them */
    svg_box obstacles[3 * MAX_ROWS];
    int n_obst = 0;
    double shown_x[MAX_ROWS];
    int n_shown = 0;
    for (int i = 0; i < n_rows; i++) {
        const thread_run *t = &rows[i].m.runs[ti];
        double x = SX((double)rows[i].info.file_bytes / MIB);
        if (t->ceiling > 0) {
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#9ab\" "
                       "stroke-dasharray=\"3,3\"/>\n", x, SY(t->tg.med), x, SY(t->ceiling));
            if (t->ceiling <= ymax) {
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"none\" stroke=\"#57a\"/>\n",
                        x, SY(t->ceiling));
            } else { /* off the chart: an arrow head at the top and the value */
                fprintf(f, "<path d=\"M%.1f %d l-5 8 h10 z\" fill=\"#57a\"/>\n", x, T + 1);
                fmt_num(buf, sizeof buf, t->ceiling);
                for (int k = 0; k < n_shown; k++)
                    if (fabs(x - shown_x[k]) < 11)
                        buf[0] = 0; /* too close to another value to be read */
                if (buf[0]) {
                    shown_x[n_shown++] = x;
                    obstacles[n_obst++] = (svg_box){x - 6, T, x + 6, T + 56};
                }
                fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"9\" fill=\"#57a\" "
                           "transform=\"rotate(-90 %.1f %d)\">%s</text>\n", x + 3, T + 50, x + 3, T + 50, buf);
            }
        }
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#c33\" "
                   "stroke-width=\"2\"/>\n", x, SY(t->tg.min), x, SY(t->tg.max));
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"#c33\"/>\n", x, SY(t->tg.med));
        obstacles[n_obst++] = (svg_box){x - 6, SY(t->tg.med) - 6, x + 6, SY(t->tg.med) + 6};
        obstacles[n_obst++] = (svg_box){x - 2, SY(t->tg.max) - 1, x + 2, SY(t->tg.min) + 1};
    }
    /* labels: beside each point, moved up or down until they overlap no other label, with
     * a thin line back to the point when moved */
    svg_box placed[MAX_ROWS];
    int n_placed = 0;
    for (int i = 0; i < n_rows; i++) {
        const row *r = &rows[i];
        const thread_run *t = &r->m.runs[ti];
        char q[112];
        if (r->m.has_quality && r->is_ref)
            snprintf(q, sizeof q, "%.31s: PPL %.3f (reference)", r->label, r->m.ppl);
        else if (r->m.has_quality)
            snprintf(q, sizeof q, "%.31s: PPL %.3f, KL %.4f", r->label, r->m.ppl, r->m.kl);
        else
            snprintf(q, sizeof q, "%.31s: %.0f%% of ceiling", r->label, pct_of_ceiling(t));
        double px = SX((double)r->info.file_bytes / MIB), py = SY(t->tg.med);
        double w = 6.1 * (double)strlen(q), h = 13;
        int right = px + 8 + w <= L + pw;
        svg_box b = {0, 0, 0, 0};
        for (int k = 0; k < 40; k++) {
            double dy = (k % 2 ? 1 : -1) * 14.0 * ((k + 1) / 2);
            double y = py - 4 + dy;
            if (y - h < T || y > T + ph - 2)
                continue;
            b = (svg_box){right ? px + 8 : px - 8 - w, y - h + 2, right ? px + 8 + w : px - 8, y + 3};
            int clash = 0;
            for (int p = 0; p < n_placed && !clash; p++)
                clash = boxes_overlap(&b, &placed[p]);
            /* the point's own marker and bar may touch its label */
            svg_box own = {px - 6, py - 6, px + 6, py + 6};
            for (int p = 0; p < n_obst && !clash; p++)
                clash = boxes_overlap(&b, &obstacles[p]) &&
                        !(obstacles[p].x0 <= own.x1 && obstacles[p].x1 >= own.x0 &&
                          fabs((obstacles[p].x0 + obstacles[p].x1) / 2 - px) < 0.5);
            if (!clash)
                break;
        }
        placed[n_placed++] = b;
        double ty = b.y1 - 3;
        if (fabs(ty - (py + 4)) > 8)
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#bbb\"/>\n", px, py,
                    right ? b.x0 - 1 : b.x1 + 1, ty - 4);
        svg_text(f, right ? b.x0 : b.x1, ty, right ? "start" : "end", 11, "#222", q);
    }
    /* legend */
    double lx = L + pw + 18;
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%d\" r=\"4.5\" fill=\"#c33\"/>\n", lx, T + 10);
    svg_text(f, lx + 10, T + 14, "start", 11, "#222", "measured: the median,");
    svg_text(f, lx + 10, T + 28, "start", 11, "#222", "bar from min to max");
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%d\" r=\"5\" fill=\"none\" stroke=\"#57a\"/>\n", lx, T + 50);
    svg_text(f, lx + 10, T + 54, "start", 11, "#222", "ceiling: read bandwidth");
    svg_text(f, lx + 10, T + 68, "start", 11, "#222", "measured here / bytes");
    svg_text(f, lx + 10, T + 82, "start", 11, "#222", "one token reads");
    snprintf(buf, sizeof buf, "prompt %d, generated %d,", o->n_prompt, o->n_gen);
    svg_text(f, lx, T + 110, "start", 11, "#555", buf);
    snprintf(buf, sizeof buf, "%d repetitions", o->reps);
    svg_text(f, lx, T + 124, "start", 11, "#555", buf);
    if (rows[0].m.has_quality) {
        svg_text(f, lx, T + 148, "start", 11, "#555", "PPL: perplexity on the text;");
        svg_text(f, lx, T + 162, "start", 11, "#555", "KL: mean KL divergence from");
        svg_text(f, lx, T + 176, "start", 11, "#555", "the reference, per token");
    }
    fputs("</svg>\n", f);
#undef SX
#undef SY
    if (fclose(f) != 0)
        return fail("%s: write failed", o->svg);
    return 0;
}

static void print_insn(const options *o, const context_info *ci, const char *shape_name, row *rows,
                       int n_rows)
{
    int md = o->format == OUT_MD;
    if (o->format == OUT_CSV) {
        printf("model,type,file_bytes,weights_per_token,weight_bytes_per_token,insn_n1,insn_n2,"
               "insn_per_token,insn_per_weight,insn_per_weight_byte,reference_insn,ratio\n");
        for (int i = 0; i < n_rows; i++) {
            const row *r = &rows[i];
            double ref = insn_reference(shape_name, r);
            printf("%s,%s,%llu,%llu,%llu,%.0f,%.0f,%.0f,%.4f,%.4f,%.0f,%.4f\n", ci->model, r->label,
                   (unsigned long long)r->info.file_bytes, (unsigned long long)r->info.token_weights,
                   (unsigned long long)r->info.token_bytes, r->m.insn_n1, r->m.insn_n2,
                   r->m.insn_per_token, r->m.insn_per_token / (double)r->info.token_weights,
                   r->m.insn_per_token / (double)r->info.token_bytes, ref,
                   ref > 0 ? r->m.insn_per_token / ref : NAN);
        }
        return;
    }
    if (o->format == OUT_JSON) {
        printf("{\n  \"model\": ");
        json_str(stdout, ci->model);
        printf(",\n  \"cpu\": \"cortex-a72 (qemu-aarch64, instructions counted)\", \"date\": ");
        json_str(stdout, ci->date);
        printf(",\n  \"tokens\": [%d, %d],\n  \"results\": [\n", o->insn_n1, o->insn_n2);
        for (int i = 0; i < n_rows; i++) {
            const row *r = &rows[i];
            double ref = insn_reference(shape_name, r);
            printf("    {\"type\": ");
            json_str(stdout, r->label);
            printf(", \"weights_per_token\": %llu, \"weight_bytes_per_token\": %llu, "
                   "\"insn_per_token\": %.0f, \"insn_per_weight\": %.4f, \"insn_per_weight_byte\": %.4f, "
                   "\"reference_insn\": ",
                   (unsigned long long)r->info.token_weights, (unsigned long long)r->info.token_bytes,
                   r->m.insn_per_token, r->m.insn_per_token / (double)r->info.token_weights,
                   r->m.insn_per_token / (double)r->info.token_bytes);
            json_num(stdout, ref > 0 ? ref : NAN);
            printf("}%s\n", i + 1 < n_rows ? "," : "");
        }
        printf("  ]\n}\n");
        return;
    }
    const char *p = md ? "" : "# ";
    printf("%s%s: %s\n", p, ci->model, ci->shape);
    printf("%sCortex-A72 instructions per generated token (qemu-aarch64 -cpu cortex-a72 + insncount, "
           "one thread): (count(%d) - count(%d)) / %d, %s\n", p, o->insn_n2, o->insn_n1,
           o->insn_n2 - o->insn_n1, ci->date);
    printf("%sreference: llama.cpp c392e509 on the same shape (../shared/tools/README.md); target <= 0.8x\n",
           p);
    if (md)
        printf("\n| type | MiB | insn/token | per weight | per weight byte | llama.cpp | ratio | target |\n"
               "|---|---:|---:|---:|---:|---:|---:|---|\n");
    else
        printf("%-10s %8s %14s %11s %16s %12s %7s  %s\n", "type", "MiB", "insn/token", "per weight",
               "per weight byte", "llama.cpp", "ratio", "target");
    for (int i = 0; i < n_rows; i++) {
        const row *r = &rows[i];
        double ref = insn_reference(shape_name, r);
        char refs[32] = "-", ratio[32] = "-", target[32] = "-";
        if (ref > 0) {
            snprintf(refs, sizeof refs, ref < 1e7 ? "%.3f M" : "%.1f M", ref / 1e6);
            snprintf(ratio, sizeof ratio, "%.3f", r->m.insn_per_token / ref);
            snprintf(target, sizeof target, "%s", r->m.insn_per_token <= 0.8 * ref ? "met" : "not met");
        }
        char ipt[32];
        snprintf(ipt, sizeof ipt, r->m.insn_per_token < 1e7 ? "%.3f M" : "%.1f M",
                 r->m.insn_per_token / 1e6);
        if (md)
            printf("| %s | %.1f | %s | %.3f | %.3f | %s | %s | %s |\n", r->label,
                   (double)r->info.file_bytes / MIB, ipt,
                   r->m.insn_per_token / (double)r->info.token_weights,
                   r->m.insn_per_token / (double)r->info.token_bytes, refs, ratio, target);
        else
            printf("%-10s %8.1f %14s %11.3f %16.3f %12s %7s  %s\n", r->label,
                   (double)r->info.file_bytes / MIB, ipt,
                   r->m.insn_per_token / (double)r->info.token_weights,
                   r->m.insn_per_token / (double)r->info.token_bytes, refs, ratio, target);
    }
}

#endif /* BENCH_REPORT_H */
