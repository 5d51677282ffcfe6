# pg_ivf: built with PGXS from C++ sources.
#   make              build pg_ivf.so (and the CUDA module when nvcc is found)
#   make install      install into the PostgreSQL found by pg_config
#   make unit         build and run the GoogleTest unit tests of src/core
#   make check        unit tests, install, then pg_regress and TAP tests on a throwaway cluster
#   make installcheck pg_regress against a server you already run (PGHOST/PGPORT/PGUSER)
#   make upgradecheck 0.1.0 from git history, then this build over it: ALTER EXTENSION UPDATE,
#                     old indexes, catalog against a fresh install, pg_dump (also run by check)

EXTENSION  = pg_ivf
EXTVERSION = 0.2.0
MODULE_big = pg_ivf

PG_CONFIG ?= pg_config

# src/core: pure C++; src/gpu: pure C++, the CUDA module's loader and the
# CPU/GPU assigner factory; src/pg: the glue.  cuda/ builds only
# pg_ivf_cuda.so (cuda/cuda.mk).
CORE_SRCS = $(sort $(wildcard src/core/*.cpp))
GPU_SRCS  = $(sort $(wildcard src/gpu/*.cpp))
PG_SRCS   = $(sort $(wildcard src/pg/*.cpp))
OBJS      = $(CORE_SRCS:.cpp=.o) $(GPU_SRCS:.cpp=.o) $(PG_SRCS:.cpp=.o)

DATA_built = $(EXTENSION)--$(EXTVERSION).sql
# Upgrade scripts from released versions, for ALTER EXTENSION pg_ivf UPDATE.
DATA       = $(wildcard src/sql/upgrade/$(EXTENSION)--*--*.sql)
REGRESS    = $(sort $(patsubst sql/%.sql,%,$(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)
EXTRA_CLEAN = build results regression.diffs regression.out tmp_check log

# How the core's code is generated, in pg_ivf.so and in every test and
# benchmark of it: the float-rounding slack of the bounds and the CPU/GPU
# bit-identity are claims about this code.  -fno-strict-aliasing, -fwrapv and
# -fPIC repeat what PostgreSQL's flags give the library.  OpenMP is the only
# threading; the distance kernels are our own (see docs/ARCHITECTURE.md for
# why no BLAS library is linked).
CORE_CXXFLAGS = -std=c++17 -O3 -fno-math-errno -fno-strict-aliasing -fwrapv -fPIC -fopenmp
PG_CPPFLAGS = -I$(srcdir)/src
PG_CXXFLAGS = $(CORE_CXXFLAGS) -Wno-missing-field-initializers
SHLIB_LINK  = -fopenmp -lstdc++

# The path pg_ivf.so loads the CUDA module from, and only from.
CUDA_MODULE_PATH := $(shell $(PG_CONFIG) --pkglibdir 2>/dev/null)/pg_ivf_cuda.so
src/pg/ivfgpu.o: override CPPFLAGS += -DPG_IVF_CUDA_MODULE_PATH='"$(CUDA_MODULE_PATH)"'

# Bitcode for PostgreSQL's JIT inliner adds nothing for this code.
override with_llvm = no

GTEST_LIBS = -lgtest -lgtest_main -pthread
UNIT_BIN   = build/unit/pg_ivf_unit
UNIT_SRCS  = $(sort $(wildcard test/unit/*.cpp))
UNIT_CXXFLAGS = $(CORE_CXXFLAGS) -g -Wall -Wextra -Wno-unused-parameter -Isrc

# The optional CUDA module, its loader and the GPU tests (check-gpu).
include cuda/cuda.mk

.PHONY: unit check upgradecheck regress tap demo demo-stop bench-micro bench-train

# PGXS's own `check` refuses to run for extensions; ours runs everything on a
# throwaway cluster, so PGXS is left out when `check` is the goal.
ifneq ($(filter check,$(MAKECMDGOALS)),)
check:
	@bash scripts/check.sh
else
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
endif

$(EXTENSION)--$(EXTVERSION).sql: $(sort $(wildcard src/sql/*.sql))
	{ printf '%s\n' '-- complain if script is sourced in psql, rather than via CREATE EXTENSION' \
	    '\echo Use "CREATE EXTENSION pg_ivf" to load this file. \quit'; \
	  cat $^; } > $@

$(UNIT_BIN): $(UNIT_SRCS) $(CORE_SRCS) $(wildcard src/core/*.h)
	@mkdir -p $(dir $@)
	$(CXX) $(UNIT_CXXFLAGS) $(UNIT_SRCS) $(CORE_SRCS) -o $@ $(GTEST_LIBS)

unit: $(UNIT_BIN)
	$(UNIT_BIN) --gtest_brief=1

build/bench/micro_distance: bench/micro_distance.cpp $(CORE_SRCS)
	@mkdir -p $(dir $@)
	$(CXX) $(CORE_CXXFLAGS) -Isrc $^ -o $@ -lbenchmark -pthread

bench-micro: build/bench/micro_distance
	build/bench/micro_distance

build/bench/micro_train: bench/micro_train.cpp $(CORE_SRCS) $(wildcard src/core/*.h)
	@mkdir -p $(dir $@)
	$(CXX) $(CORE_CXXFLAGS) -Isrc bench/micro_train.cpp $(CORE_SRCS) -o $@ -lbenchmark -pthread

bench-train: build/bench/micro_train
	build/bench/micro_train

upgradecheck:
	@PG_CONFIG='$(PG_CONFIG)' bash scripts/upgrade-check.sh

print-version:
	@echo $(EXTVERSION)

print-regress:
	@echo $(REGRESS)

demo:
	@bash scripts/demo.sh

demo-stop:
	@bash scripts/demo-stop.sh

# Every object depends on every header: the headers are few and change together.
$(OBJS): $(wildcard src/core/*.h src/gpu/*.h src/pg/*.h)
