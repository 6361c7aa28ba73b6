# liblatent — build with `make`, test with `make test`.
#
#   make                   build/liblatent.a, build/liblatent.so and every program
#   make OPENMP=0          without OpenMP
#   make SCALAR=1          force the portable scalar kernels
#   make test              native + sanitizers (ASan/UBSan) + Cortex-A72 under qemu
#   make test-native | sanitize | test-arm | test-scalar | test-matrix (every chip)
#   make fuzz FUZZ_SECONDS=60
#   make install PREFIX=/usr/local
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
ifeq ($(OPENMP),1)
  CFLAGS += -fopenmp
  LDFLAGS += -fopenmp
endif
ifeq ($(SCALAR),1)
  CPPFLAGS += -DLATENT_FORCE_SCALAR
endif
ifeq ($(STATIC),1)
  LDFLAGS += -static
endif

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

all: $(BUILD)/liblatent.a $(BUILD)/liblatent.so $(EXAMPLES) $(BENCHES) $(BUILD)/latent.pc

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/liblatent.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/liblatent.so: $(LIB_OBJ)
	$(CC) $(LDFLAGS) -shared -o $@ $^ $(LDLIBS)

$(BUILD)/libwall.a: $(WALL_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# Programs link the static library so they run from build/ without LD_LIBRARY_PATH.
$(BUILD)/%: $(BUILD)/obj/examples/%.o $(BUILD)/libwall.a $(BUILD)/liblatent.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%: $(BUILD)/obj/bench/%.o $(BUILD)/liblatent.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(BUILD)/libwall.a $(BUILD)/liblatent.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# pkg-config file for PREFIX; written again at install time, so it names the PREFIX of the
# install (not whichever one the first build saw).
define write_pc
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: latent\nDescription: LLM inference for small CPUs\nVersion: %s\nCflags: -I$${includedir}\nLibs: -L$${libdir} -llatent\nLibs.private: -lm -lpthread%s\n' \
	  '$(PREFIX)' "$$(sed -n 's/^#define LATENT_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)/\2/p' include/latent.h | paste -sd.)" \
	  '$(if $(filter 1,$(OPENMP)), -fopenmp,)' > $(1)
endef

$(BUILD)/latent.pc: Makefile
	@mkdir -p $(dir $@)
	$(call write_pc,$@)

tests: $(TESTS) $(EXAMPLES) $(BENCHES)

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/latent.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/liblatent.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/liblatent.so $(DESTDIR)$(PREFIX)/lib/
	$(call write_pc,$(DESTDIR)$(PREFIX)/lib/pkgconfig/latent.pc)

# ---- tests: tests/run.sh builds each configuration and sums the results ----
test:
	tests/run.sh native sanitize arm
test-native:
	tests/run.sh native
sanitize:
	tests/run.sh sanitize
test-arm:
	tests/run.sh arm
test-scalar:
	tests/run.sh scalar
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

.PHONY: all tests install test test-native sanitize test-arm test-scalar test-matrix fuzz lint clean run
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
