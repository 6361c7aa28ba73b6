# liblatent — build with `make`, test with `make test`.
#
#   make                   build/liblatent.a, build/liblatent.so and every program
#   make OPENMP=0          without OpenMP (only bench-kernels uses it; the library never)
#   make SCALAR=1          force the portable scalar kernels
#   make test              the quick tier: native + sanitizers (ASan/UBSan) + Cortex-A72
#                          under qemu when its toolchain is here (skip: otherwise)
#   make check             everything CI runs: make test's tier, the system tests (lives
#                          under valgrind, install), every chip, real clients of the server
#                          (openai package, Chromium), and a bounded fuzzing run
#   make test-native | sanitize | test-arm | test-scalar | test-system | test-matrix
#   make fuzz FUZZ_SECONDS=60
#   make install PREFIX=/usr/local, make uninstall PREFIX=/usr/local
#   make run               build everything and start reflect on the default model
#                          (fetched once into models/; RUN_ARGS="--lives 3" to pass flags)
#
# Build outputs go to $(BUILD) (default build/). The test script builds the other
# configurations into build/asan, build/arm and build/scalar by calling this Makefile.

CC ?= cc
ifeq ($(origin CC),default)
CC = cc
endif
BUILD ?= build
OPENMP ?= 1
SCALAR ?= 0
STATIC ?= 0
PREFIX ?= /usr/local
FUZZ_SECONDS ?= 60
CHECK_FUZZ_SECONDS ?= 20
LATENT_TEST_DATA ?= ../shared
export LATENT_TEST_DATA

# Target architecture flags: AVX2 + FMA on x86-64 hosts that have them, Cortex-A72 when
# cross-compiling for aarch64. ARCH_FLAGS= on the command line overrides.
MACHINE := $(shell $(CC) -dumpmachine 2>/dev/null)
ifneq ($(findstring x86_64,$(MACHINE)),)
  ifneq ($(shell grep -c avx2 /proc/cpuinfo 2>/dev/null | head -1),0)
    ARCH_FLAGS ?= -mavx2 -mfma -mf16c
  endif
else ifneq ($(findstring aarch64,$(MACHINE)),)
  ARCH_FLAGS ?= -mcpu=cortex-a72
endif

OPT ?= -O2
CPPFLAGS += -Iinclude -Isrc -Ikernels -Iexamples/wall
CFLAGS += -std=c11 $(OPT) -g -Wall -Wextra -fPIC -MMD -MP $(ARCH_FLAGS)
# K-quant searches compare float results: fused multiply-adds would change which level
# wins, and the quantizers are byte-identical to the reference only without them.
CFLAGS += -ffp-contract=off
CFLAGS += -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
LDLIBS += -lm -lpthread
# SAN: instrumentation for both compiling and linking (tests/run.sh passes
# SAN=-fsanitize=address,undefined and SAN=-fsanitize=thread), added to the flags above
# rather than replacing them.
SAN ?=
CFLAGS += $(SAN)
LDFLAGS += $(SAN)
# The library shares work with its own thread pool (kernels/pool.c): pthreads only.
# OpenMP is used by nothing but bench-kernels' multi-threaded bandwidth probe.
ifeq ($(OPENMP),1)
$(BUILD)/obj/bench/bench-kernels.o: CFLAGS += -fopenmp
$(BUILD)/bench-kernels: LDFLAGS += -fopenmp
endif
ifeq ($(SCALAR),1)
  CPPFLAGS += -DLATENT_FORCE_SCALAR
endif
# STATIC=1 (cross builds run under qemu without a sysroot): the static library and static
# programs only; a shared library cannot be linked -static.
PROG_LDFLAGS :=
ifeq ($(STATIC),1)
  PROG_LDFLAGS += -static
endif

# The shared library's version comes from the header: liblatent.so.MAJOR (its soname)
# links to liblatent.so.MAJOR.MINOR.PATCH, and liblatent.so (for the linker) to the soname.
version_part = $(shell sed -n 's/^\#define LATENT_VERSION_$(1) \([0-9]*\)/\1/p' include/latent.h)
VERSION_MAJOR := $(call version_part,MAJOR)
VERSION := $(VERSION_MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)
SONAME := liblatent.so.$(VERSION_MAJOR)

LIB_SRC := $(wildcard src/*.c) $(wildcard kernels/*.c)
WALL_SRC := $(wildcard examples/wall/*.c)
EXAMPLE_SRC := $(wildcard examples/*.c)
BENCH_SRC := $(wildcard bench/*.c)
TEST_SRC := $(wildcard tests/test_*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
WALL_OBJ := $(WALL_SRC:%.c=$(BUILD)/obj/%.o)
EXAMPLES := $(EXAMPLE_SRC:examples/%.c=$(BUILD)/%)
BENCHES := $(BENCH_SRC:bench/%.c=$(BUILD)/%)
TESTS := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)

SHARED_LIB := $(if $(filter 1,$(STATIC)),,$(BUILD)/liblatent.so.$(VERSION) $(BUILD)/liblatent.so)

all: $(BUILD)/liblatent.a $(SHARED_LIB) $(EXAMPLES) $(BENCHES) $(BUILD)/latent.pc

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/liblatent.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/liblatent.so.$(VERSION): $(LIB_OBJ)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -o $@ $^ $(LDLIBS)

$(BUILD)/liblatent.so: $(BUILD)/liblatent.so.$(VERSION)
	ln -sf liblatent.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

$(BUILD)/libwall.a: $(WALL_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# Programs link the static library so they run from build/ without LD_LIBRARY_PATH.
$(BUILD)/%: $(BUILD)/obj/examples/%.o $(BUILD)/libwall.a $(BUILD)/liblatent.a
	$(CC) $(LDFLAGS) $(PROG_LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%: $(BUILD)/obj/bench/%.o $(BUILD)/liblatent.a
	$(CC) $(LDFLAGS) $(PROG_LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(BUILD)/libwall.a $(BUILD)/liblatent.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(PROG_LDFLAGS) -o $@ $^ $(LDLIBS)

# pkg-config file for PREFIX; written again at install time, so it names the PREFIX of the
# install (not whichever one the first build saw).
define write_pc
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: latent\nDescription: LLM inference for small CPUs\nVersion: %s\nCflags: -I$${includedir}\nLibs: -L$${libdir} -llatent\nLibs.private: -lm -lpthread\n' \
	  '$(PREFIX)' '$(VERSION)' > $(1)
endef

$(BUILD)/latent.pc: Makefile include/latent.h
	@mkdir -p $(dir $@)
	$(call write_pc,$@)

tests: $(TESTS) $(EXAMPLES) $(BENCHES)

# Installed programs are prefixed so they do not collide in PATH (latent-generate, ...);
# the build tree keeps the short names. minimal is the API's example, not a tool.
INSTALL_PROGRAMS := $(filter-out minimal,$(EXAMPLE_SRC:examples/%.c=%)) bench
INSTALLED_FILES := include/latent.h include/latent_gguf.h lib/liblatent.a lib/liblatent.so lib/$(SONAME) \
  lib/liblatent.so.$(VERSION) lib/pkgconfig/latent.pc $(INSTALL_PROGRAMS:%=bin/latent-%)
# generate called as latent-chat starts a conversation (generate -i)
INSTALLED_FILES += bin/latent-chat

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/latent.h include/latent_gguf.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/liblatent.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/liblatent.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf liblatent.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/liblatent.so
	$(call write_pc,$(DESTDIR)$(PREFIX)/lib/pkgconfig/latent.pc)
	for p in $(INSTALL_PROGRAMS); do install -m 755 $(BUILD)/$$p $(DESTDIR)$(PREFIX)/bin/latent-$$p || exit 1; done
	ln -sf latent-generate $(DESTDIR)$(PREFIX)/bin/latent-chat
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1; then ldconfig; fi

# Removes exactly the files install wrote; folders stay (they may have been there before).
uninstall:
	rm -f $(INSTALLED_FILES:%=$(DESTDIR)$(PREFIX)/%)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1; then ldconfig; fi

# ---- tests: tests/run.sh builds each configuration and sums the results ----
test:
	LATENT_TEST_TIER=quick tests/run.sh native sanitize arm
check:
	FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS) tests/run.sh native sanitize arm system scalar tsan a76 armhf i386 riscv64 s390x clients fuzz
test-native:
	tests/run.sh native
sanitize:
	tests/run.sh sanitize
test-arm:
	tests/run.sh arm
test-scalar:
	tests/run.sh scalar
test-system:
	tests/run.sh system
test-matrix:
	tests/run.sh native scalar sanitize tsan arm a76 armhf i386 riscv64 s390x

fuzz:
	tests/fuzz.sh $(FUZZ_SECONDS)

# gcc and clang -Wall -Wextra -Wpedantic over every file, and cppcheck (tests/cppcheck.supp
# explains each finding it lets through)
lint:
	tests/lint.sh

# ---- the installation: reflect on the default model ----
RUN_MODEL ?= models/SmolLM2-135M-Instruct.Q4_1.gguf
RUN_ARGS ?=
run: all
	@examples/fetch-model.sh $(RUN_MODEL)
	$(BUILD)/reflect -m $(RUN_MODEL) $(RUN_ARGS)

clean:
	rm -rf build

.PHONY: all tests install uninstall test check test-native sanitize test-arm test-scalar test-system test-matrix fuzz lint clean run
.SECONDARY:

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- the bench (bench/README.md): which quantization to choose, with evidence ----
#   make bench       stories260K (real, with quality) and a synthetic llama-3.2-1b on this
#                    machine: tables on stdout, charts in bench/*.svg
#   make bench-arm   Cortex-A72 instructions per generated token for the tinyllama-1.1b
#                    shape, counted under qemu with ../shared/tools/insncount.c
#   BENCH_THREADS=1,4 BENCH_ARGS="-r 5 --md" to change what they run
BENCH_THREADS ?= 1,$(shell nproc 2>/dev/null || echo 1)
BENCH_ARGS ?=
bench: $(BUILD)/bench
	$(BUILD)/bench $(LATENT_TEST_DATA)/models/stories260K.gguf -t $(BENCH_THREADS) -r 5 --svg bench/stories260K.svg $(BENCH_ARGS)
	$(BUILD)/bench --synthetic llama-3.2-1b --types q4_0,q4_k_m,q8_0 -t $(BENCH_THREADS) --svg bench/llama-3.2-1b.svg $(BENCH_ARGS)

bench-arm: $(BUILD)/bench
	$(MAKE) BUILD=$(BUILD)/arm CC=aarch64-linux-gnu-gcc STATIC=1 $(BUILD)/arm/bench
	$(CC) -O2 -shared -fPIC -o $(BUILD)/libinsncount.so $(LATENT_TEST_DATA)/tools/insncount.c
	$(BUILD)/bench --synthetic tinyllama-1.1b --types q4_0,q4_k_m,q8_0 --insn $(BUILD)/arm/bench --plugin $(BUILD)/libinsncount.so $(BENCH_ARGS)

.PHONY: bench bench-arm

# ---- the server: examples/server.c and its HTTP/JSON code in examples/server/ ----
SERVER_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard examples/server/*.c))
$(BUILD)/server: $(BUILD)/obj/examples/server.o $(SERVER_OBJ) $(BUILD)/libwall.a $(BUILD)/liblatent.a
	$(CC) $(LDFLAGS) $(PROG_LDFLAGS) -o $@ $^ $(LDLIBS)
