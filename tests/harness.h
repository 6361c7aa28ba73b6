/*
 * harness.h — the test harness every tests/test_*.c includes.
 *
 * CHECK counts a pass or prints "FAIL file:line: what" and counts a failure; the binary
 * ends with test_done(), which prints "N passed, N failed" (tests/run.sh sums these).
 * Real data is found through LATENT_TEST_DATA (default ../shared); when a file is not
 * there the test says "skip: <what> (<why>)" plainly instead of passing silently.
 */
#ifndef LT_HARNESS_H
#define LT_HARNESS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "latent_gguf.h"

static int test_passed, test_failed, test_skipped;

/* CHECK(cond, "format", args...): the message is required (ISO C wants the macro's ...
 * non-empty; tests/lint.sh compiles the tests with -Wpedantic). */

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (cond) {                                                                        \
            test_passed++;                                                                 \
        } else {                                                                           \
            test_failed++;                                                                 \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                         \
            printf(" " __VA_ARGS__);                                                       \
            printf("\n");                                                                  \
            fflush(stdout);                                                                \
        }                                                                                  \
    } while (0)

/* Prints why something was not tested; counted, never as a pass. */
#define SKIP(...)                                                                          \
    do {                                                                                   \
        test_skipped++;                                                                    \
        printf("skip: " __VA_ARGS__);                                                      \
        printf("\n");                                                                      \
    } while (0)

static inline const char *test_data_dir(void)
{
    const char *d = getenv("LATENT_TEST_DATA");
    return d && *d ? d : "../shared";
}

/* test_data_path("models/stories260K.gguf") → "$LATENT_TEST_DATA/models/stories260K.gguf",
 * or NULL (after a SKIP line naming it) when the file is not there. */
static inline const char *test_data_path(const char *rel)
{
    static char paths[8][1024];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", test_data_dir(), rel);
    struct stat st;
    if (stat(p, &st) != 0) {
        SKIP("%s (not found; set LATENT_TEST_DATA to the folder holding models/ and vectors/)", p);
        return NULL;
    }
    return p;
}

/* A real model that is too big for ../shared (SmolLM2, fetched by examples/fetch-model.sh):
 * looked for in $LATENT_TEST_DATA/models, then $LATENT_MODEL_CACHE (default
 * ~/.cache/liblatent), then models/. When it is nowhere, a SKIP line says so — or, with
 * LATENT_REQUIRE_MODELS=1 (CI sets it), a failure. */
static inline const char *test_model_path(const char *name)
{
    static char paths[4][1024];
    static int next;
    char *p = paths[next++ % 4];
    const char *cache = getenv("LATENT_MODEL_CACHE"), *home = getenv("HOME");
    char dirs[3][768];
    snprintf(dirs[0], sizeof dirs[0], "%s/models", test_data_dir());
    if (cache && *cache)
        snprintf(dirs[1], sizeof dirs[1], "%s", cache);
    else
        snprintf(dirs[1], sizeof dirs[1], "%s/.cache/liblatent", home && *home ? home : "/tmp");
    snprintf(dirs[2], sizeof dirs[2], "models");
    for (int i = 0; i < 3; i++) {
        struct stat st;
        int len = snprintf(p, sizeof paths[0], "%s/%s", dirs[i], name);
        if (len > 0 && (size_t)len < sizeof paths[0] && stat(p, &st) == 0)
            return p;
    }
    const char *require = getenv("LATENT_REQUIRE_MODELS");
    if (require && *require == '1') {
        test_failed++;
        printf("FAIL %s is needed (LATENT_REQUIRE_MODELS=1) but is not in %s, %s or %s: run "
               "examples/fetch-model.sh\n", name, dirs[0], dirs[1], dirs[2]);
    } else {
        SKIP("%s (not in %s, %s or models/; examples/fetch-model.sh fetches it)", name, dirs[0], dirs[1]);
    }
    return NULL;
}

/* 1 when the shell finds `tool`; otherwise a SKIP line naming the Debian package — or,
 * with LATENT_REQUIRE_TOOLS=1 (.ci/run sets it), a failure — and 0. */
static inline int test_have_tool(const char *tool, const char *package)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    if (system(cmd) == 0)
        return 1;
    const char *require = getenv("LATENT_REQUIRE_TOOLS");
    if (require && *require == '1') {
        test_failed++;
        printf("FAIL %s is needed (LATENT_REQUIRE_TOOLS=1) but missing: apt-get install %s\n", tool, package);
    } else {
        SKIP("%s missing (apt-get install %s)", tool, package);
    }
    return 0;
}

/* The library's test controls (latent_test_control), as tests call them. */
__attribute__((unused)) static void test_fail_allocation(long n)
{
    latent_test_control(LATENT_TEST_FAIL_ALLOCATION, n, NULL);
}

__attribute__((unused)) static long test_allocation_count(void)
{
    long n = 0;
    latent_test_control(LATENT_TEST_ALLOCATION_COUNT, 0, &n);
    return n;
}

/* Reads a whole file into malloc'd memory (NUL-terminated); NULL on failure. */
static inline char *test_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        if (size)
            *size = (size_t)n;
    }
    return buf;
}

/* Runs one of our programs: "[$LATENT_RUNNER] $LATENT_BUILD/<command>" (the emulator this
 * test runs under, the build directory it came from), through the shell. Returns system()'s
 * status, after printing the command when it is not 0. */
__attribute__((format(printf, 1, 2), unused)) static int test_run_program(const char *fmt, ...)
{
    const char *build = getenv("LATENT_BUILD"), *runner = getenv("LATENT_RUNNER");
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s/%s", runner ? runner : "", build && *build ? build : "build", args);
    int rc = system(cmd);
    if (rc != 0)
        printf("command exited with %d: %s\n", rc, cmd);
    return rc;
}

static inline int test_done(void)
{
    if (test_skipped)
        printf("(%d skipped)\n", test_skipped);
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif /* LT_HARNESS_H */
