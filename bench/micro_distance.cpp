// Micro-benchmark of the distance kernels per SIMD level, on one in-cache
// pair of vectors so it measures the kernel and not memory bandwidth.
// Build: g++ -std=c++17 -O3 bench/micro_distance.cpp src/core/distance*.cpp -lbenchmark -pthread
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "core/distance.h"

namespace {

using pg_ivf::core::Kernels;
using pg_ivf::core::kernels_for;
using pg_ivf::core::SimdLevel;

// Inputs of length d at a 1-float offset, as rows read from a page would be.
struct Inputs {
    std::vector<float> a, b, step, table;
    std::vector<uint8_t> code;
    explicit Inputs(size_t d) : a(d + 1), b(d + 1), step(d + 1), table(d * 256), code(d + 1) {
        std::mt19937 rng(42);
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        for (size_t i = 0; i <= d; ++i) {
            a[i] = u(rng);
            b[i] = u(rng);
            step[i] = 0.01f;
            code[i] = static_cast<uint8_t>(rng());
        }
        for (float& t : table) t = u(rng);
    }
};

// Returns the table or marks the run skipped, so every level has a row.
const Kernels* table_or_skip(benchmark::State& state, SimdLevel level) {
    const Kernels* k = kernels_for(level);
    if (k == nullptr) state.SkipWithError("SIMD level not supported by this CPU");
    return k;
}

void BM_l2_squared(benchmark::State& state, SimdLevel level) {
    const Kernels* k = table_or_skip(state, level);
    if (k == nullptr) return;
    size_t d = static_cast<size_t>(state.range(0));
    Inputs in(d);
    for (auto _ : state) {
        float r = k->l2_squared(in.a.data() + 1, in.b.data() + 1, d);
        benchmark::DoNotOptimize(r);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(d));
}

void BM_dot(benchmark::State& state, SimdLevel level) {
    const Kernels* k = table_or_skip(state, level);
    if (k == nullptr) return;
    size_t d = static_cast<size_t>(state.range(0));
    Inputs in(d);
    for (auto _ : state) {
        float r = k->dot(in.a.data() + 1, in.b.data() + 1, d);
        benchmark::DoNotOptimize(r);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(d));
}

void BM_sq8_l2_squared(benchmark::State& state, SimdLevel level) {
    const Kernels* k = table_or_skip(state, level);
    if (k == nullptr) return;
    size_t d = static_cast<size_t>(state.range(0));
    Inputs in(d);
    for (auto _ : state) {
        float r = k->sq8_l2_squared(in.a.data() + 1, in.step.data() + 1, in.code.data() + 1, d);
        benchmark::DoNotOptimize(r);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(d));
}

// The integer key kernel on the same codes: t and w as a query's grid and
// weights would be (t in [0, 255], w <= kSq8IntMaxWeight).
void BM_sq8_l2_int(benchmark::State& state, SimdLevel level) {
    const Kernels* k = table_or_skip(state, level);
    if (k == nullptr) return;
    size_t d = static_cast<size_t>(state.range(0));
    Inputs in(d);
    std::vector<int16_t> t(d + 1), w(d + 1);
    for (size_t i = 0; i <= d; ++i) {
        t[i] = static_cast<int16_t>(in.code[d - i]);
        w[i] = static_cast<int16_t>(i % (pg_ivf::core::kSq8IntMaxWeight + 1));
    }
    for (auto _ : state) {
        uint64_t r = k->sq8_l2_int(t.data() + 1, w.data() + 1, in.code.data() + 1, d);
        benchmark::DoNotOptimize(r);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(d));
}

// m sub-quantizers; the table (m * 1 KiB) stays in L1/L2 for these sizes.
void BM_pq_adc(benchmark::State& state, SimdLevel level) {
    const Kernels* k = table_or_skip(state, level);
    if (k == nullptr) return;
    size_t m = static_cast<size_t>(state.range(0));
    Inputs in(m);
    for (auto _ : state) {
        float r = k->pq_adc(in.table.data(), in.code.data() + 1, m);
        benchmark::DoNotOptimize(r);
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(m));
}

#define PG_IVF_BENCH_LEVELS(fn, ...)                                                   \
    BENCHMARK_CAPTURE(fn, scalar, SimdLevel::kScalar)->__VA_ARGS__;    \
    BENCHMARK_CAPTURE(fn, avx2, SimdLevel::kAvx2)->__VA_ARGS__;        \
    BENCHMARK_CAPTURE(fn, avx512, SimdLevel::kAvx512)->__VA_ARGS__

PG_IVF_BENCH_LEVELS(BM_l2_squared, ArgName("d")->Arg(128)->Arg(784)->Arg(1536));
PG_IVF_BENCH_LEVELS(BM_dot, ArgName("d")->Arg(784));
PG_IVF_BENCH_LEVELS(BM_sq8_l2_squared, ArgName("d")->Arg(128)->Arg(784)->Arg(1536));
PG_IVF_BENCH_LEVELS(BM_sq8_l2_int, ArgName("d")->Arg(128)->Arg(784)->Arg(1536));
PG_IVF_BENCH_LEVELS(BM_pq_adc, ArgName("m")->Arg(16)->Arg(64)->Arg(192));

}  // namespace

BENCHMARK_MAIN();
