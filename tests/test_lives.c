/*
 * test_lives.c — a hundred lives under valgrind: no leak, and the process does not grow.
 *
 * build/reflect lives 100 short lives on stories260K (a small budget, so each life ends
 * by memory after a few dozen tokens) under valgrind's memcheck. Memcheck must report no
 * leak and no error (--error-exitcode), every life must die of memory, the library must
 * hold the same bytes after each life, and the process's peak RSS late in the run must not
 * exceed what it was early on (a slow leak through the C library would show there).
 * Runs in the native configuration, where valgrind runs the host binary.
 */
#include <unistd.h>

#include "harness.h"

#define LIVES 100

/* Every life died of memory, the library held the same bytes after each, and (rss) the
 * peak RSS of the last lives is no more than that of the early ones. */
static void check_journal(const char *journal, int rss_check)
{
    FILE *f = fopen(journal, "r");
    char line[4096];
    int n = 0, memory = 0, heap_ok = 1;
    double heap0 = -1, rss_early = 0, rss_late = 0;
    while (f && fgets(line, sizeof line, f)) {
        n++;
        memory += strstr(line, "\"cause\": \"memory\"") != NULL;
        const char *h = strstr(line, "\"heap_after_bytes\": "), *r = strstr(line, "\"peak_rss_bytes\": ");
        double heap = h ? strtod(h + 20, NULL) : -1, rss = r ? strtod(r + 18, NULL) : 0;
        if (n == 1)
            heap0 = heap;
        heap_ok = heap_ok && heap == heap0 && heap > 0;
        if (n >= 5 && n <= 10 && rss > rss_early)
            rss_early = rss;
        if (n > LIVES - 10 && rss > rss_late)
            rss_late = rss;
    }
    if (f)
        fclose(f);
    CHECK(n == LIVES && memory == LIVES, "%d journal lines, %d deaths by memory, for %d lives", n, memory, LIVES);
    CHECK(heap_ok, "the library's heap after a life changed between lives");
    if (rss_check) {
        CHECK(rss_late <= rss_early + 64 * 1024, "peak RSS grew from %.0f to %.0f bytes", rss_early, rss_late);
        printf("%d lives: heap after each life %.0f bytes; peak RSS %.0f -> %.0f\n", n, heap0, rss_early, rss_late);
    } else {
        printf("%d lives under valgrind: no leak, no error; heap after each life %.0f bytes\n", n, heap0);
    }
}

int main(void)
{
    const char *build = getenv("LATENT_BUILD"), *runner = getenv("LATENT_RUNNER");
    const char *model = test_data_path("models/stories260K.gguf");
    if (!build || strcmp(build, "build") != 0 || (runner && *runner)) {
        printf("lives under valgrind: runs in the native configuration only (this is %s)\n",
               build ? build : "?");
        return test_done();
    }
    if (!test_have_tool("valgrind", "valgrind"))
        return test_done();
    if (!model)
        return test_done();
    char journal[256], system_file[300], cmd[2048];
    const char *tmp = getenv("TMPDIR");
    snprintf(journal, sizeof journal, "%s/latent-lives-%d.jsonl", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    snprintf(system_file, sizeof system_file, "%s.prompt", journal);
    remove(journal);
    /* a short prompt keeps each life short: a hundred of them under valgrind in seconds */
    FILE *p = fopen(system_file, "w");
    if (p) {
        fputs("Once upon a time, there was a little robot.", p);
        fclose(p);
    }
    /* memcheck: no leak, no error, over a hundred lives */
    snprintf(cmd, sizeof cmd,
             "valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible "
             "--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=9 "
             "build/reflect -m %s --system-file %s --mem-budget 100k --kv-chunk 16 --lives %d --rest 0 --seed 3 "
             "-t 1 --journal %s --display none > /dev/null 2> %s.log",
             model, system_file, LIVES, journal, journal);
    int rc = system(cmd);
    CHECK(rc == 0, "valgrind reported errors or leaks (status %d): see %s.log", rc, journal);
    check_journal(journal, 0);
    /* without valgrind (whose quarantine of freed blocks grows on its own): the process's
     * memory late in the run is what it was early on */
    remove(journal);
    snprintf(cmd, sizeof cmd,
             "build/reflect -m %s --system-file %s --mem-budget 100k --kv-chunk 16 --lives %d --rest 0 --seed 3 "
             "-t 1 --journal %s --display none > /dev/null 2>&1",
             model, system_file, LIVES, journal);
    CHECK(system(cmd) == 0, "reflect failed: %s", cmd);
    check_journal(journal, 1);
    remove(system_file);
    if (rc == 0) {
        remove(journal);
        snprintf(cmd, sizeof cmd, "%s.log", journal);
        remove(cmd);
    }
    return test_done();
}
