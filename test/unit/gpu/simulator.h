// The CUDA module's assignment, run on the CPU: cuda/tile_assign.h's block
// code driven by a simulated thread block, and a stand-in module that serves
// the C ABI of src/gpu/pg_ivf_cuda.h with it.  Lets the tests check the kernel
// code and the GPU assigner on machines without a GPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "gpu/pg_ivf_cuda.h"
#include "cuda/plan.h"
#include "cuda/tile_assign.h"

namespace pg_ivf::gpu::test {

// A thread block on the CPU.  Phases queue up until sync() (a barrier); then
// every thread runs all queued phases in turn, threads in a shuffled order.
// That is the most any real schedule may do between two barriers, so a
// phase that reads another thread's shared-memory writes without a barrier
// in between sees stale data here and the result comes out wrong.
class HostBlock {
public:
    explicit HostBlock(uint64_t seed) : threads_(kTileThreads), rng_(seed) {}

    template <class Fn>
    void each(Fn&& fn) {
        pending_.emplace_back(std::forward<Fn>(fn));
    }
    void sync() { flush(); }

    // Runs whatever is queued (the end of the kernel is an implicit barrier).
    void flush();

private:
    std::vector<TileThread> threads_;
    std::vector<std::function<void(int, TileThread&)>> pending_;
    std::mt19937_64 rng_;
};

// What the module does for one batch, on the CPU: row norms, plan_grid()
// with `multiprocessors`, every block of assign_block(), then finish_row().
// x: n * d, centroids: k * d; writes labels[n], dist2[n].
void simulate_assign(const float* x, size_t n, const float* centroids, size_t k, size_t d, int multiprocessors,
                     int32_t* labels, float* dist2, uint64_t seed = 1);

// What the module does for one batch launch: per-problem norms, plan_grid()
// over `count` layers, every block of every layer through batch_problem()
// and assign_block(), then finish_batch_row() for every entry.  Problem i:
// x[i] (n * d), centroids[i] (k * d); writes labels[i][n], dist2[i][n].
void simulate_assign_batch(size_t count, const float* const* x, size_t n, const float* const* centroids, size_t k,
                           size_t d, int multiprocessors, int32_t* const* labels, float* const* dist2,
                           uint64_t seed = 1);

// What the update kernel does: cluster_mean() for every (cluster, dimension)
// of a non-empty cluster, one "thread" at a time in a shuffled order.
void simulate_update(const float* x, size_t d, const uint64_t* order, const int64_t* offsets, size_t k,
                     float* centroids, uint64_t seed = 1);

// A PgIvfCudaApi served on the CPU with simulate_assign() and plan_memory():
// the contract GpuAssigner relies on, with knobs for the device's size and
// for injected failures, and a record of the calls.
struct FakeModule {
    size_t free_bytes = size_t{1} << 30;   // what "cudaMemGetInfo" reports
    int multiprocessors = 108;
    int fail_assign_call = -1;             // 0-based assign call that fails, -1: none
    int fail_status = PG_IVF_CUDA_ERROR;
    // Record of calls.
    int creates = 0;
    int destroys = 0;
    int replans = 0;
    int assign_calls = 0;
    int pinned_assign_calls = 0;
    size_t last_batch_rows = 0;
    int fail_batch_call = -1;
    int centroid_uploads = 0;
    int updates = 0;                       // update calls that updated on the "device"
    int update_calls = 0;              // 0-based assign_batch call that fails, -1: none
    int batch_plans = 0;                   // plan_batch calls that (re)planned
    int batch_calls = 0;
    size_t uploaded_problems = 0;          // problems whose rows crossed to the "device"
    size_t largest_batch_call = 0;

    // The table; its functions reach this object through a global, so one
    // FakeModule may be active at a time.
    const PgIvfCudaApi* api();
    ~FakeModule();
};

}  // namespace pg_ivf::gpu::test
