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
CORE_LIBS   = $(shell pkg-config --libs $(ABSL_PKGS) libcurl libzstd liburing openssl 2>/dev/null) -lxxhash -lpthread

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

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
