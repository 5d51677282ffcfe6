# cuda/cuda.mk — the optional CUDA module and the GPU tests; included by the
# Makefile before PGXS (it adds to OBJS and to the `all` and `install` goals).
#
#   make            also builds build/cuda/pg_ivf_cuda.so when nvcc is found (PATH, then
#                   /usr/local/cuda/bin); without nvcc it says so and builds the rest
#   make install    also installs pg_ivf_cuda.so into $(pkglibdir), next to pg_ivf.so
#   make check-gpu  builds and runs build/gpu/pg_ivf_gpu_test: the kernels simulated on
#                   the CPU, the loader and the adapter always; GPU-vs-CPU k-means only
#                   where a device exists (else those tests are skipped, not passed)
#   make NVCC=      builds without the CUDA module
#
# pg_ivf.so never links CUDA: it always contains the loader (src/gpu/), which
# dlopen()s the module from the path the Makefile compiles into it.

# Keeps `all` the default goal: this file is read before PGXS defines it.
all:

NVCC ?= $(or $(shell command -v nvcc 2>/dev/null),$(wildcard /usr/local/cuda/bin/nvcc))

CUDA_MODULE     = build/cuda/pg_ivf_cuda.so
CUDA_OBJS       = $(patsubst cuda/%.cu,build/cuda/%.o,$(sort $(wildcard cuda/*.cu)))
CUDA_HDRS       = $(wildcard cuda/*.h) src/core/kmeans_math.h src/gpu/pg_ivf_cuda.h
# SASS for Ampere (sm_80, also runs on 8.6/8.9) and Hopper (sm_90), PTX of
# compute_90 for anything newer (JIT-compiled by the driver on first use).
CUDA_GENCODE    = -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=[sm_90,compute_90]
CUDA_ARCH_NAMES = SASS sm_80 sm_90; PTX compute_90
NVCC_FLAGS      = -std=c++17 -O3 $(CUDA_GENCODE) -Isrc -Xcompiler -fPIC,-fvisibility=hidden,-Wall \
                  -DPG_IVF_CUDA_ARCHS='"$(CUDA_ARCH_NAMES)"'

GPU_TEST_BIN  = build/gpu/pg_ivf_gpu_test
GPU_TEST_SRCS = $(sort $(wildcard test/unit/gpu/*.cpp))
# The GPU tests need only k-means, PQ training and the CPU assigner from core.
GPU_TEST_CORE = src/core/kmeans.cpp src/core/assign_cpu.cpp src/core/pq.cpp

.PHONY: cuda-module install-cuda uninstall-cuda check-gpu

ifneq ($(NVCC),)
all: $(CUDA_MODULE)
install: install-cuda
uninstall: uninstall-cuda

build/cuda/%.o: cuda/%.cu $(CUDA_HDRS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) -c $< -o $@

# -cudart static: the module depends on nothing CUDA but the driver, which the
# runtime dlopen()s itself; the version script exports pg_ivf_cuda_api only.
$(CUDA_MODULE): $(CUDA_OBJS) cuda/exports.map
	$(NVCC) -shared -cudart static $(CUDA_GENCODE) $(CUDA_OBJS) -o $@ \
		-Xlinker --version-script=cuda/exports.map -Xlinker -z,defs

cuda-module: $(CUDA_MODULE)

install-cuda: $(CUDA_MODULE) installdirs
	$(INSTALL_SHLIB) $(CUDA_MODULE) '$(DESTDIR)$(pkglibdir)/pg_ivf_cuda.so'

uninstall-cuda:
	rm -f '$(DESTDIR)$(pkglibdir)/pg_ivf_cuda.so'
else
all: cuda-module

cuda-module:
	@echo "pg_ivf: nvcc not found (PATH, /usr/local/cuda/bin): pg_ivf_cuda.so is not built; CREATE INDEX will use the CPU"
endif

# Modules of another build, for the loader's ABI handshake tests.
GPU_TEST_STUBS = build/gpu/stub_old_abi.so build/gpu/stub_refuses.so

build/gpu/stub_old_abi.so: test/unit/gpu/stub_module.c src/gpu/pg_ivf_cuda.h
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -Isrc $< -o $@

build/gpu/stub_refuses.so: test/unit/gpu/stub_module.c src/gpu/pg_ivf_cuda.h
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -Isrc -DSTUB_REFUSES $< -o $@

# -I.: the tests run the module's block code and plans (cuda/...) on the CPU.
$(GPU_TEST_BIN): $(GPU_TEST_STUBS) $(GPU_TEST_SRCS) $(wildcard test/unit/gpu/*.h) $(GPU_SRCS) $(GPU_TEST_CORE) $(CUDA_HDRS) \
		$(wildcard src/core/*.h src/gpu/*.h)
	@mkdir -p $(dir $@)
	$(CXX) $(UNIT_CXXFLAGS) -I. -DPG_IVF_CUDA_TEST_MODULE='"$(abspath $(CUDA_MODULE))"' \
		-DPG_IVF_CUDA_TEST_STUBS='"$(abspath build/gpu)"' \
		$(GPU_TEST_SRCS) $(GPU_SRCS) $(GPU_TEST_CORE) -o $@ $(GTEST_LIBS) -ldl

check-gpu: $(GPU_TEST_BIN) $(if $(NVCC),$(CUDA_MODULE))
	$(GPU_TEST_BIN) --gtest_brief=1
