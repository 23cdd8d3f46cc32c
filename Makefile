# plansync: see README.md.  GNU make.
#
#   make            build ./plansync
#   make deps       install the Debian packages the build and tests need
#   make test       deps, then every test (unit, fuzz corpus replay, end to end)
#   make check      the same under ASan + UBSan (built in build-san/)
#   make demo       deps, build, then run the three-partner demo in ./demo
#   make bench      deps, build, then the benchmarks (results in bench/out/)
#   make stress     the SIGKILL crash campaign, 500 kills
#   make fuzz       libFuzzer targets with clang (build-fuzz/)
#   make install    PREFIX=/usr/local DESTDIR=

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
CC ?= cc
CFLAGS ?= -O2 -g
PKG_CONFIG ?= pkg-config

PKGS = libgit2 yaml-0.1 libsodium libdeflate
TEST_PKGS = cmocka
DEB_PKGS = make gcc libc6-dev libgit2-dev libyaml-dev libsodium-dev \
	libdeflate-dev libcmocka-dev pkg-config git openssh-client openssh-server \
	openssl lighttpd lighttpd-mod-openssl python3 util-linux procps clang-format \
	chromium fonts-liberation

WARN = -std=c11 -Wall -Wextra -Wpedantic -Wstrict-prototypes \
	-Wmissing-prototypes -Wvla -Wwrite-strings -fno-common
ifeq ($(DEVELOPER),1)
WARN += -Werror
endif

BUILD ?= build
ifneq ($(SANITIZE),)
BUILD = build-san
SANFLAGS = -fsanitize=$(SANITIZE) -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
endif

# Goals that compile need the libraries; deps/clean/format do not.
BUILD_GOALS = all plansync test-run bench-run demo-run install tests \
	$(BUILD)/plansync
ifneq ($(filter $(BUILD_GOALS),$(or $(MAKECMDGOALS),all)),)
ifneq ($(shell $(PKG_CONFIG) --exists $(PKGS) && echo yes),yes)
$(error missing libraries: $(PKGS) (run 'make deps'))
endif
endif

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS := $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)

ALL_CFLAGS = $(WARN) $(SANFLAGS) -D_POSIX_C_SOURCE=200809L \
	-D_DEFAULT_SOURCE -I. $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

CORE_SRC = $(sort $(wildcard core/*.c))
SYNC_SRC = $(sort $(wildcard sync/*.c))
CLI_SRC = $(sort $(wildcard cli/*.c))
LIB_OBJ = $(CORE_SRC:%.c=$(BUILD)/%.o) $(SYNC_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ = $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_SRC = $(sort $(wildcard tests/test_*.c))
TEST_BIN = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_HELPER_SRC = $(sort $(wildcard tests/helper_*.c))
TEST_HELPER_OBJ = $(TEST_HELPER_SRC:%.c=$(BUILD)/%.o)
FUZZ_SRC = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_REPLAY = $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/replay/%)
BENCH_HELPER_SRC = $(sort $(wildcard bench/helper_*.c))
BENCH_HELPER_OBJ = $(BENCH_HELPER_SRC:%.c=$(BUILD)/%.o)
BENCH_SRC = $(filter-out $(BENCH_HELPER_SRC),$(sort $(wildcard bench/*.c)))
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all deps test test-run check demo demo-run bench bench-run fuzz banned-check \
	install clean format format-check tests stress

all: plansync

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/libplansync.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/plansync: $(CLI_OBJ) $(BUILD)/libplansync.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libplansync.a $(PKG_LIBS)

plansync: $(BUILD)/plansync
	cp $< $@

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(TEST_HELPER_OBJ) \
		$(BUILD)/libplansync.a
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_HELPER_OBJ) \
		$(BUILD)/libplansync.a $(PKG_LIBS) $(TEST_LIBS)

$(BUILD)/replay/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c \
		$(BUILD)/libplansync.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< tests/fuzz/replay.c \
		$(BUILD)/libplansync.a $(PKG_LIBS)

$(BUILD)/bench/%: bench/%.c $(BENCH_HELPER_OBJ) $(BUILD)/libplansync.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BENCH_HELPER_OBJ) \
		$(BUILD)/libplansync.a $(PKG_LIBS)

tests: $(BUILD)/plansync $(TEST_BIN) $(FUZZ_REPLAY)

# Installs every Debian package the build, the tests and the benchmarks use
# that is not installed yet (dpkg knows, whatever PATH says).
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q 'install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then \
		echo "deps: all present"; \
	else \
		echo "deps: installing" $$missing; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q \
			--no-install-recommends $$missing; \
	fi

test: deps
	@$(MAKE) --no-print-directory test-run

test-run: tests
	@BUILD=$(BUILD) sh tests/run.sh

check: deps
	@$(MAKE) --no-print-directory banned-check
	@$(MAKE) --no-print-directory SANITIZE=address,undefined test-run

banned-check:
	@if grep -nE '\b(strcpy|strcat|sprintf|gets|atoi|sscanf)[[:space:]]*\(' \
	    core/*.[ch] sync/*.[ch] cli/*.[ch] 2>/dev/null; then \
		echo "banned functions used (STYLE.md 27)"; exit 1; fi

demo: deps
	@$(MAKE) --no-print-directory demo-run

demo-run: $(BUILD)/plansync
	cp $(BUILD)/plansync plansync
	rm -rf demo
	./plansync demo demo

# The SIGKILL campaign of make test (50 kills) at 500 kills.
stress: deps
	@$(MAKE) --no-print-directory $(BUILD)/plansync
	PLANSYNC_BIN=$(CURDIR)/$(BUILD)/plansync PLANSYNC_TOP=$(CURDIR) \
		sh tests/e2e/crash.sh 500

bench: deps
	@$(MAKE) --no-print-directory bench-run

bench-run: $(BUILD)/plansync $(BENCH_BIN)
	@BUILD=$(BUILD) sh bench/run.sh

FUZZ_CC ?= clang
FUZZ_FLAGS = -fsanitize=fuzzer,address,undefined -g -O1
fuzz:
	@mkdir -p build-fuzz
	@for f in $(FUZZ_SRC); do \
		n=$$(basename $$f .c); \
		echo "FUZZ $$n"; \
		$(FUZZ_CC) $(WARN) $(FUZZ_FLAGS) -D_POSIX_C_SOURCE=200809L \
			-D_DEFAULT_SOURCE -I. $(PKG_CFLAGS) -o build-fuzz/$$n \
			$$f $(CORE_SRC) $(PKG_LIBS) || exit 1; \
	done
	@echo "run: build-fuzz/fuzz_X tests/fuzz/corpus/X -max_total_time=60"

install: $(BUILD)/plansync
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(BUILD)/plansync $(DESTDIR)$(BINDIR)/plansync
	install -m 0644 doc/plansync.1 $(DESTDIR)$(MANDIR)/man1/plansync.1

FORMAT_FILES = $(wildcard core/*.[ch] sync/*.[ch] cli/*.[ch] tests/*.[ch] \
	tests/fuzz/*.c bench/*.c)
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run -Werror $(FORMAT_FILES)

clean:
	rm -rf build build-san build-fuzz plansync bench/out

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
