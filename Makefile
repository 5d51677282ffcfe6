# pg_ivf: built with PGXS from C++ sources.
#   make              build pg_ivf.so (and the CUDA module when nvcc is found)
#   make install      install into the PostgreSQL found by pg_config
#   make unit         build and run the GoogleTest unit tests of src/core
#   make check        unit tests, install, then pg_regress and TAP tests on a throwaway cluster
#   make installcheck pg_regress against a server you already run (PGHOST/PGPORT/PGUSER)
#   make upgradecheck 0.1.0 from git history, then this build over it: ALTER EXTENSION UPDATE,
#                     old indexes, catalog against a fresh install, pg_dump (also run by check)

# Two extensions from one pg_ivf.so: pg_ivf (its own vector type and the ivf
# index) and pg_ivf_pgvector (the ivf index for pgvector's vector and halfvec;
# requires pgvector).  They cannot share a database (both create the access
# method ivf).
EXTENSION  = pg_ivf pg_ivf_pgvector
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

DATA_built = pg_ivf--$(EXTVERSION).sql pg_ivf_pgvector--$(EXTVERSION).sql
# Upgrade scripts from released versions, for ALTER EXTENSION pg_ivf UPDATE.
DATA       = $(wildcard src/sql/upgrade/pg_ivf--*--*.sql)
REGRESS    = $(sort $(patsubst sql/%.sql,%,$(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=pg_ivf
# pg_ivf_pgvector's tests: run by `make check` only where pgvector is installed.
REGRESS_PGVECTOR = $(sort $(patsubst test/pgvector/sql/%.sql,%,$(wildcard test/pgvector/sql/*.sql)))
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

.PHONY: unit check upgradecheck regress tap demo demo-stop bench-micro bench-train bench-calib

# PGXS's own `check` refuses to run for extensions; ours runs everything on a
# throwaway cluster, so PGXS is left out when `check` is the goal.
ifneq ($(filter check,$(MAKECMDGOALS)),)
check:
	@bash scripts/check.sh
else
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
endif

# pg_ivf: every file of src/sql.  pg_ivf_pgvector: the files of the access
# method and its functions (src/sql/NN_ivf*.sql, which never name pg_ivf's
# vector type), then its operator classes for pgvector's types.
PG_IVF_SQL    = $(sort $(wildcard src/sql/*.sql))
PGVECTOR_SQL  = $(sort $(wildcard src/sql/[0-9][0-9]_ivf*.sql)) $(sort $(wildcard src/sql/pgvector/*.sql))

pg_ivf--$(EXTVERSION).sql: $(PG_IVF_SQL)
	{ printf '%s\n' '-- complain if script is sourced in psql, rather than via CREATE EXTENSION' \
	    '\echo Use "CREATE EXTENSION pg_ivf" to load this file. \quit'; \
	  cat $^; } > $@

pg_ivf_pgvector--$(EXTVERSION).sql: $(PGVECTOR_SQL)
	{ printf '%s\n' '-- complain if script is sourced in psql, rather than via CREATE EXTENSION' \
	    '\echo Use "CREATE EXTENSION pg_ivf_pgvector" to load this file. \quit'; \
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

build/bench/micro_calib: bench/micro_calib.cpp $(CORE_SRCS) $(wildcard src/core/*.h)
	@mkdir -p $(dir $@)
	$(CXX) $(CORE_CXXFLAGS) -Isrc bench/micro_calib.cpp $(CORE_SRCS) -o $@ -lbenchmark -pthread

bench-calib: build/bench/micro_calib
	build/bench/micro_calib

upgradecheck:
	@PG_CONFIG='$(PG_CONFIG)' bash scripts/upgrade-check.sh

print-version:
	@echo $(EXTVERSION)

print-regress:
	@echo $(REGRESS)

print-regress-pgvector:
	@echo $(REGRESS_PGVECTOR)

demo:
	@bash scripts/demo.sh

demo-stop:
	@bash scripts/demo-stop.sh

# Every object depends on every header: the headers are few and change together.
$(OBJS): $(wildcard src/core/*.h src/gpu/*.h src/pg/*.h)
