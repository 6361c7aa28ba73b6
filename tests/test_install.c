/*
 * test_install.c — another project builds against the installed library.
 *
 * `make install PREFIX=<tmp>`, then examples/minimal.c is compiled with nothing but
 * `pkg-config --cflags --libs latent` (and the rpath the README shows for a prefix outside
 * the loader's path), as the README shows, and streams a completion from stories260K with
 * no LD_LIBRARY_PATH; again linked statically with `pkg-config --static`. The installed
 * programs run under their prefixed names, and `make uninstall` leaves no file behind.
 * Runs in the system configuration (the others cross-compile or instrument the library,
 * which an installed copy is not).
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

/* Runs a shell command; 0 when it exited with status 0 (the command is printed otherwise). */
static int run(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0)
        printf("command exited with %d: %s\n", rc, cmd);
    return rc;
}

/* The file `dir`/`name` holds a completion of more than 20 bytes. */
static void check_output(const char *dir, const char *name, const char *what)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t size = 0;
    char *out = test_read_file(path, &size);
    CHECK(out && size > 20, "%s printed %zu bytes", what, size);
    printf("%s: %s", what, out ? out : "(nothing)\n");
    free(out);
}

/* The shared library as a Unix package: a versioned file, its soname link, the linker's link. */
static void check_shared_library(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd %s/lib && v=$(readlink liblatent.so.0) && [ -f \"$v\" ] && [ \"$(readlink liblatent.so)\" = liblatent.so.0 ] && "
             "case $v in liblatent.so.0.*.*) ;; *) exit 1 ;; esac && "
             "{ ! command -v readelf >/dev/null || readelf -d \"$v\" | grep -q 'SONAME.*liblatent.so.0'; }",
             dir);
    CHECK(run(cmd) == 0, "lib/liblatent.so -> liblatent.so.0 -> liblatent.so.0.MINOR.PATCH with soname liblatent.so.0");
}

static void check_programs(const char *dir, const char *model)
{
    static const char *const names[] = {"generate", "reflect", "bench", "tokenize", "quantize", "gguf-dump"};
    char cmd[1024];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(cmd, sizeof cmd, "env -u LD_LIBRARY_PATH %s/bin/latent-%s --help > /dev/null 2>&1", dir, names[i]);
        CHECK(run(cmd) == 0, "installed latent-%s answers --help", names[i]);
    }
    snprintf(cmd, sizeof cmd, "[ ! -e %s/bin/minimal ] && [ ! -e %s/bin/latent-minimal ] && [ ! -e %s/bin/generate ]", dir,
             dir, dir);
    CHECK(run(cmd) == 0, "only prefixed tools are installed (no short names, no examples)");
    snprintf(cmd, sizeof cmd, "env -u LD_LIBRARY_PATH %s/bin/latent-generate -m %s -p 'Once upon a time' -n 16 > %s/gen.txt 2>/dev/null",
             dir, model, dir);
    CHECK(run(cmd) == 0, "installed latent-generate runs on stories260K");
    check_output(dir, "gen.txt", "latent-generate (installed)");
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
    if (!test_have_tool("pkg-config", "pkg-config") || !model)
        return test_done();
    char dir[256], cmd[4096];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/latent-install-%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
    snprintf(cmd, sizeof cmd, "make -s install PREFIX=%s >/dev/null", dir);
    CHECK(run(cmd) == 0, "make install");
    check_shared_library(dir);

    /* the README's line for a prefix the dynamic loader does not search: an rpath from pkg-config */
    const char *pc = "PKG_CONFIG_PATH=%s/lib/pkgconfig pkg-config";
    char pkg[512];
    snprintf(pkg, sizeof pkg, pc, dir);
    snprintf(cmd, sizeof cmd,
             "cc -std=c11 -o %s/minimal examples/minimal.c $(%s --cflags --libs latent) -Wl,-rpath,$(%s --variable=libdir latent)",
             dir, pkg, pkg);
    CHECK(run(cmd) == 0, "building minimal.c with pkg-config");
    snprintf(cmd, sizeof cmd, "env -u LD_LIBRARY_PATH %s/minimal %s 'Once upon a time' > %s/out.txt", dir, model, dir);
    CHECK(run(cmd) == 0, "the installed minimal starts without LD_LIBRARY_PATH");
    check_output(dir, "out.txt", "minimal (installed, shared)");

    /* static: everything the archive needs comes from `pkg-config --static` */
    snprintf(cmd, sizeof cmd, "cc -std=c11 -static -o %s/minimal-static examples/minimal.c $(%s --static --cflags --libs latent) 2>%s/static-link.log",
             dir, pkg, dir);
    CHECK(run(cmd) == 0, "linking minimal.c statically with pkg-config --static");
    snprintf(cmd, sizeof cmd, "%s/minimal-static %s 'Once upon a time' > %s/out-static.txt", dir, model, dir);
    CHECK(run(cmd) == 0, "the statically linked minimal runs");
    check_output(dir, "out-static.txt", "minimal (installed, static)");

    check_programs(dir, model);

    /* uninstall removes every file install wrote, and nothing else: our own files stay */
    snprintf(cmd, sizeof cmd, "make -s uninstall PREFIX=%s >/dev/null && [ -z \"$(find %s/bin %s/lib %s/include ! -type d)\" ] && "
             "[ -f %s/minimal ]", dir, dir, dir, dir, dir);
    CHECK(run(cmd) == 0, "make uninstall leaves no installed file behind (and no other file removed)");

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", dir);
    return test_done();
}
