// Micro-benchmark of the recall calibration CREATE INDEX runs during its
// assign pass: 100 query rows, their exact 10 nearest among every row, fed in
// the build's batches (4,096 rows of 784 dims), on 1 and 2 threads.  Rows
// come from a float32 .npy (PG_IVF_CALIB_NPY, e.g. bench/datasets.py's cached
// fashion-mnist base.npy), else synthetic Fashion-MNIST-like rows (60,000 x
// 784 bytes as floats, half of them zero).
// Run: make bench-calib
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/calibrate.h"

namespace {

using namespace pg_ivf::core;

struct Rows {
    size_t n = 0, d = 0;
    std::vector<float> x;
};

// A 2-d float32 C-order .npy, or an empty Rows when it is not one.
Rows read_npy(const char* path) {
    Rows r;
    FILE* f = std::fopen(path, "rb");
    if (!f) return r;
    char head[10];
    if (std::fread(head, 1, 10, f) == 10 && std::memcmp(head + 1, "NUMPY", 5) == 0) {
        const size_t len = static_cast<unsigned char>(head[8]) | (static_cast<unsigned char>(head[9]) << 8);
        std::string h(len, '\0');
        if (std::fread(&h[0], 1, len, f) == len && h.find("'<f4'") != std::string::npos &&
            h.find("'fortran_order': False") != std::string::npos) {
            const size_t s = h.find("'shape': (");
            if (s != std::string::npos &&
                std::sscanf(h.c_str() + s, "'shape': (%zu, %zu)", &r.n, &r.d) == 2) {
                r.x.resize(r.n * r.d);
                if (std::fread(r.x.data(), sizeof(float), r.x.size(), f) != r.x.size()) r = Rows{};
            }
        }
    }
    std::fclose(f);
    return r;
}

const Rows& rows() {
    static const Rows r = [] {
        if (const char* p = std::getenv("PG_IVF_CALIB_NPY")) {
            Rows f = read_npy(p);
            if (f.n > 0) return f;
            std::fprintf(stderr, "%s: not a 2-d float32 .npy; using synthetic rows\n", p);
        }
        Rows s;
        s.n = 60000;
        s.d = 784;
        s.x.resize(s.n * s.d);
        std::mt19937_64 rng(7);
        std::uniform_int_distribution<int> px(0, 255);
        for (float& v : s.x) v = (rng() & 1) ? static_cast<float>(px(rng)) : 0.0f;
        return s;
    }();
    return r;
}

void BM_CalibrateBuild(benchmark::State& state) {
    const Rows& r = rows();
    const size_t q = 100, k = 10, batch = 4096;
    const int threads = static_cast<int>(state.range(0));
    std::vector<uint64_t> ids(r.n);
    std::vector<int32_t> lists(r.n);
    for (size_t i = 0; i < r.n; ++i) {
        ids[i] = i;
        lists[i] = static_cast<int32_t>(i % 245);
    }
    std::vector<float> queries;
    std::vector<uint64_t> qids;
    for (size_t i = 0; i < q; ++i) {
        const size_t row = (i * 7919) % r.n;
        queries.insert(queries.end(), r.x.begin() + row * r.d, r.x.begin() + (row + 1) * r.d);
        qids.push_back(row);
    }
    for (auto _ : state) {
        NeighbourTracker tracker(Metric::kL2, r.d, k, queries.data(), qids.data(), q);
        for (size_t from = 0; from < r.n; from += batch) {
            const size_t m = std::min(batch, r.n - from);
            tracker.add(r.x.data() + from * r.d, ids.data() + from, lists.data() + from, m, threads, Hooks{});
        }
        benchmark::DoNotOptimize(tracker.neighbours(0).data());
    }
    state.counters["rows"] = static_cast<double>(r.n);
}
BENCHMARK(BM_CalibrateBuild)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
