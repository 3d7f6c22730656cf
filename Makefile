# vol — build, test, benchmark, install.
#   make            build/vol, build/libvolshim.so
#   make test       unit tests, a benchmark smoke run, integration tests (file:// and a real Ceph RGW s3://)
#   make demo       the main job end to end on the embedded default store
#   make bench      benchmarks against native disk and peer tools (bench/README.md)
#   make install PREFIX=/usr/local
# Build on every core unless the caller chose (make -jN).
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc)
endif

PREFIX ?= /usr/local
BUILD  ?= build
CXX    ?= g++

ABSL_PKGS := absl_status absl_statusor absl_strings absl_str_format absl_synchronization \
             absl_flat_hash_map absl_flat_hash_set absl_time
DEPS_STAMP := $(BUILD)/.deps-installed

CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++20 -Wall -Wextra -Wno-unused-parameter -MMD -MP -Iinclude -I.
CORE_CFLAGS = $(shell pkg-config --cflags $(ABSL_PKGS) libcurl libzstd liburing openssl 2>/dev/null)
CORE_LIBS   = $(shell pkg-config --libs $(ABSL_PKGS) libcurl libzstd liburing openssl 2>/dev/null) -lxxhash -lsimdjson -lpthread

# The shim: C-like C++, no exceptions, no RTTI, no libstdc++ at run time.
SHIM_CXXFLAGS = -O2 -g -std=c++20 -fPIC -fno-exceptions -fno-rtti -fvisibility=hidden \
                -Wall -Wextra -Wno-unused-parameter -MMD -MP -Iinclude
SHIM_LDFLAGS  = -shared -nodefaultlibs -Wl,-z,now -Wl,--no-undefined -lc -ldl -lgcc_s

CORE_SRCS  := $(shell find fetcher -name '*.cc' ! -name main.cc | sort)
CORE_OBJS  := $(CORE_SRCS:%.cc=$(BUILD)/%.o)
SHIM_SRCS  := $(sort $(wildcard shim/*.cc))
SHIM_OBJS  := $(SHIM_SRCS:%.cc=$(BUILD)/%.o)
UNIT_SRCS  := $(shell find tests/unit -name '*.cc' | sort)
UNIT_OBJS  := $(UNIT_SRCS:%.cc=$(BUILD)/%.o)
BENCH_SRCS := $(sort $(wildcard bench/*.cc))
BENCH_BINS := $(BENCH_SRCS:%.cc=$(BUILD)/%)

.PHONY: all deps test unit-test integration-test demo bench bench-smoke install clean
all: $(BUILD)/vol $(if $(SHIM_SRCS),$(BUILD)/libvolshim.so)

$(DEPS_STAMP): scripts/install-deps
	@mkdir -p $(@D)
	scripts/install-deps build
	@touch $@
deps: $(DEPS_STAMP)

$(BUILD)/fetcher/%.o: fetcher/%.cc | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(CORE_CFLAGS) -c $< -o $@
$(BUILD)/tests/%.o: tests/%.cc | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(CORE_CFLAGS) -c $< -o $@
$(BUILD)/bench/%.o: bench/%.cc | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(CORE_CFLAGS) -c $< -o $@
$(BUILD)/shim/%.o: shim/%.cc | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(SHIM_CXXFLAGS) -c $< -o $@

$(BUILD)/libvolcore.a: $(CORE_OBJS)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/vol: $(BUILD)/fetcher/main.o $(BUILD)/libvolcore.a
	$(CXX) -o $@ $^ $(CORE_LIBS)
$(BUILD)/libvolshim.so: $(SHIM_OBJS)
	$(CXX) -o $@ $^ $(SHIM_LDFLAGS)
$(BUILD)/unit_tests: $(UNIT_OBJS) $(BUILD)/libvolcore.a
	$(CXX) -o $@ $^ $(CORE_LIBS) -lgmock -lgtest_main -lgtest
$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libvolcore.a
	$(CXX) -o $@ $^ $(CORE_LIBS) -lbenchmark

unit-test: $(BUILD)/unit_tests
	$(BUILD)/unit_tests
integration-test: all
	scripts/install-deps test
	tests/integration/run
# Unit tests first, then the benchmark smoke run, then the integration suites
# (in order, even under -j; the integration summary stays the last line).
test: all $(BUILD)/unit_tests $(BENCH_BINS)
	$(BUILD)/unit_tests
	scripts/install-deps test
	bench/run --smoke
	tests/integration/run

demo: all
	scripts/demo

# Benchmarks (bench/README.md). bench: every case against its comparators in one
# run, with its own Ceph RGW; writes bench/results/latest.{md,json,svg}.
# bench-smoke: the same harness on tiny sizes (part of make test); fails when a
# case broke, never on a missed target.
bench: all $(BENCH_BINS)
	scripts/install-deps bench
	bench/run
bench-smoke: all $(BENCH_BINS)
	scripts/install-deps test
	bench/run --smoke

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/vol
	install -m 755 $(BUILD)/vol $(DESTDIR)$(PREFIX)/bin/vol
	$(if $(SHIM_SRCS),install -m 755 $(BUILD)/libvolshim.so $(DESTDIR)$(PREFIX)/lib/libvolshim.so)
	install -m 644 include/vol/*.h $(DESTDIR)$(PREFIX)/include/vol/

# --- libvol.so, the Python package `vol`, and the version (issue 12) -----------
# The version embedded in vol and libvol: VERSION, and the commit it was built
# from (with -dirty for uncommitted changes). The header is rewritten only when
# that changes, so an unchanged tree rebuilds nothing.
VOL_VERSION := $(shell cat VERSION)
VOL_COMMIT  := $(shell git describe --always --dirty --abbrev=12 --match=NoTagIsEverThis 2>/dev/null || echo unknown)
BUILD_INFO  := $(BUILD)/gen/vol_build_info.h
.PHONY: FORCE install-libvol
$(BUILD_INFO): FORCE
	@mkdir -p $(@D)
	@printf '#define VOL_BUILD_VERSION "%s"\n#define VOL_BUILD_COMMIT "%s"\n' '$(VOL_VERSION)' '$(VOL_COMMIT)' >$@.tmp
	@if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/fetcher/util/version.o: $(BUILD_INFO)
$(BUILD)/fetcher/util/version.o: CXXFLAGS += -I$(BUILD)/gen

# libvol.so: the C API of include/vol/volume.h over the core, whose objects are
# built position-independent for it. Only vol_* symbols are exported.
# (The stamp rebuilds, once, objects compiled before they were PIC.)
$(CORE_OBJS): CXXFLAGS += -fPIC
$(CORE_OBJS): $(BUILD)/.pic-objects
$(BUILD)/.pic-objects:
	@mkdir -p $(@D)
	@touch $@
LIBVOL_OBJS := $(filter $(BUILD)/fetcher/api/%,$(CORE_OBJS))
$(BUILD)/libvol.so: $(LIBVOL_OBJS) $(BUILD)/libvolcore.a fetcher/api/libvol.map
	$(CXX) -shared -o $@ $(LIBVOL_OBJS) $(BUILD)/libvolcore.a $(CORE_LIBS) \
	  -Wl,--version-script=fetcher/api/libvol.map -Wl,-soname,libvol.so -Wl,--no-undefined
all: $(BUILD)/libvol.so

# make install also puts libvol.so in PREFIX/lib and the package in
# PREFIX/lib/vol/python, and registers that directory (a vol.pth file) with
# every Python >= 3.9 it finds (PYTHONS="python3 …" to choose; none with
# DESTDIR, where a package manager does that).
PYTHON_DIR := $(PREFIX)/lib/vol/python
install: install-libvol
install-libvol: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PYTHON_DIR)/vol
	install -m 755 $(BUILD)/libvol.so $(DESTDIR)$(PREFIX)/lib/libvol.so
	install -m 644 python/vol/*.py $(DESTDIR)$(PYTHON_DIR)/vol/
	printf '# Written by make install.\nLIBDIR = "%s"\n' '$(PREFIX)/lib' >$(DESTDIR)$(PYTHON_DIR)/vol/_installed.py
	$(if $(DESTDIR),,scripts/register-python '$(PYTHON_DIR)' $(PYTHONS))

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
