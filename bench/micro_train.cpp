// Micro-benchmarks of index training on the CPU: PQ codebook training at the
// shape of a 768-dimensional index, and the cost of the k-means centroid
// update that the GPU backend takes off the host (assignment stubbed out, so
// only the host's share of a Lloyd iteration is timed).
// Run: make bench-train
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "core/kmeans.h"
#include "core/pq.h"

namespace {

using namespace pg_ivf::core;

std::vector<float> uniform_rows(size_t n, size_t d, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> x(n * d);
    for (float& v : x) v = u(rng);
    return x;
}

// 16,384 training rows (what pq_train samples) of 768 dims into 96
// sub-quantizers of 8 dims, 10 iterations, 2 threads.
void BM_PqTrain768(benchmark::State& state) {
    const size_t n = kPqMaxTrainRows, d = 768, m = 96;
    const std::vector<float> x = uniform_rows(n, d, 1);
    std::vector<float> books(kPqCentroids * d);
    CpuAssigner cpu(2);
    for (auto _ : state) {
        pq_train(x.data(), n, d, m, nullptr, nullptr, 10, 1, cpu, Hooks{}, books.data());
        benchmark::DoNotOptimize(books.data());
    }
}
BENCHMARK(BM_PqTrain768)->Unit(benchmark::kMillisecond)->UseRealTime();

// An assigner whose assignment costs nothing (labels change every call, so
// k-means never stops early) and which claims the update (as the GPU does
// when it holds the sample) or leaves it to the host.
struct FreeAssigner final : Assigner {
    bool takes_update;
    int calls = 0;
    explicit FreeAssigner(bool u) : takes_update(u) {}
    void assign(const float*, size_t n, const float*, size_t k, size_t, int32_t* labels, float* dist2,
                const Hooks&) override {
        ++calls;
        for (size_t i = 0; i < n; ++i) {
            labels[i] = static_cast<int32_t>((i * 2654435761u + static_cast<size_t>(calls)) % k);
            dist2[i] = 1.0f;
        }
    }
    bool update_centroids(const float*, size_t, size_t, size_t, const int64_t*, const uint64_t*, float*,
                          const Hooks&) override {
        return takes_update;
    }
};

// 200,000 x 768 into 4,096 lists, 5 iterations: arg 0 = update on the host,
// arg 1 = update taken by the assigner (what stays on the host with a GPU).
void BM_KMeansHostShare(benchmark::State& state) {
    const size_t n = 200000, d = 768, k = 4096;
    static const std::vector<float> x = uniform_rows(n, d, 2);
    KMeansParams p;
    p.k = k;
    p.iterations = 5;
    for (auto _ : state) {
        FreeAssigner a(state.range(0) != 0);
        const KMeansResult r = train_kmeans(x.data(), n, d, p, a, Hooks{});
        benchmark::DoNotOptimize(r.centroids.data());
    }
}
BENCHMARK(BM_KMeansHostShare)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
