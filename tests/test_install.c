/*
 * test_install.c — another project builds against the installed library.
 *
 * `make install PREFIX=<tmp>`, then examples/minimal.c is compiled with nothing but
 * `pkg-config --cflags --libs latent`, as the README shows, and streams a completion
 * from stories260K. Runs in the native configuration (the others cross-compile or
 * instrument the library, which an installed copy is not).
 */
#include <unistd.h>

#include "harness.h"

/* The README's API example is examples/minimal.c, character for character. */
static void check_readme_example(void)
{
    char *readme = test_read_file("README.md", NULL), *minimal = test_read_file("examples/minimal.c", NULL);
    const char *block = readme ? strstr(readme, "is the whole of it:\n\n```c\n") : NULL;
    CHECK(block && minimal, "README.md or examples/minimal.c missing");
    if (block && minimal) {
        block = strstr(block, "```c\n") + 5;
        const char *end = strstr(block, "```\n");
        CHECK(end && (size_t)(end - block) == strlen(minimal) && memcmp(block, minimal, strlen(minimal)) == 0,
              "the README's example differs from examples/minimal.c");
    }
    free(readme);
    free(minimal);
}

int main(void)
{
    check_readme_example();
    const char *build = getenv("LATENT_BUILD"), *runner = getenv("LATENT_RUNNER");
    const char *model = test_data_path("models/stories260K.gguf");
    if (!build || strcmp(build, "build") != 0 || (runner && *runner)) {
        printf("install test: runs in the native configuration only (this is %s)\n", build ? build : "?");
        return test_done();
    }
    if (system("command -v pkg-config >/dev/null 2>&1") != 0) {
        CHECK(0, "pkg-config is missing (apt-get install pkg-config)");
        return test_done();
    }
    if (!model)
        return test_done();
    char dir[256], cmd[4096];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/latent-install-%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    snprintf(cmd, sizeof cmd, "make -s install PREFIX=%s >/dev/null", dir);
    CHECK(system(cmd) == 0, "make install failed: %s", cmd);
    snprintf(cmd, sizeof cmd,
             "PKG_CONFIG_PATH=%s/lib/pkgconfig cc -std=c11 -o %s/minimal examples/minimal.c "
             "$(PKG_CONFIG_PATH=%s/lib/pkgconfig pkg-config --cflags --libs latent)", dir, dir, dir);
    CHECK(system(cmd) == 0, "building minimal.c with pkg-config failed: %s", cmd);
    snprintf(cmd, sizeof cmd, "LD_LIBRARY_PATH=%s/lib %s/minimal %s 'Once upon a time' > %s/out.txt", dir,
             dir, model, dir);
    CHECK(system(cmd) == 0, "the installed minimal failed: %s", cmd);
    char path[512];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    size_t size = 0;
    char *out = test_read_file(path, &size);
    CHECK(out && size > 20, "minimal printed %zu bytes", size);
    printf("minimal (installed): %s", out ? out : "");
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", dir);
    return test_done();
}
