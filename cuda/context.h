// An assignment context of the CUDA module and the operations on it behind
// the C ABI (src/gpu/pg_ivf_cuda.h): context.cu for one problem at a time and
// the centroid update, batch.cu for many small problems.  All throw Failure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "device.h"
#include "plan.h"

namespace pg_ivf::gpu {

// Tries at allocating a plan when another process takes memory meanwhile.
constexpr int kAllocationTries = 6;

// One assignment context: the centroids, the pinned rows or a streaming
// batch buffer, and the outputs, sized by plan_memory(); or, after
// plan_batch, the same buffers holding a batch of problems (plan_batch_memory()).
struct Context {
    int device = 0;
    int multiprocessors = 1;
    size_t memory_limit = 0;
    bool planned = false;
    size_t k = 0;
    size_t d = 0;
    const float* pin = nullptr;     // as requested (kept on the device only if plan.pinned)
    size_t pin_rows = 0;
    MemoryPlan plan;
    DeviceArray<float> centroids;       // k * d
    DeviceArray<float> centroid_norms;  // k
    DeviceArray<float> x;               // pin_rows * d when pinned, else batch_rows * d
    DeviceArray<float> x_norms;         // pin_rows or batch_rows
    DeviceArray<int32_t> labels;        // batch_rows
    DeviceArray<float> dist2;           // batch_rows
    DeviceArray<float> part_value;      // part_slots
    DeviceArray<int32_t> part_index;    // part_slots
    DeviceArray<uint64_t> order;        // pin_rows when pinned: the update's row grouping
    DeviceArray<int64_t> offsets;       // k + 1 when pinned
    bool centroids_current = false;     // `centroids` hold the last set_centroids' values

    // The batch plan: in its buffers above, problem i of a call has its
    // centroids at i * k * d, its partials at i * part_stride, its outputs at
    // i * n; its rows (and norms) in slot resident_slot[x] or, staged, slot i.
    bool batch_planned = false;
    size_t batch_n = 0;
    size_t batch_count = 0;         // problems the batch plan was made for
    BatchPlan batch;
    std::unordered_map<const float*, size_t> resident_slot;
    DeviceArray<const float*> row_ptrs;     // 2 * group: rows, then norms, of each problem
    std::vector<const float*> host_ptrs;    // their host-side staging
    std::vector<float> host_centroids;      // group * k * d, packed for one copy
    std::vector<int32_t> host_labels;       // group * n
    std::vector<float> host_dist2;          // group * n

    // Frees every buffer; the next set_centroids or plan_batch plans afresh.
    void release() {
        planned = false;
        centroids_current = false;
        batch_planned = false;
        order.reset();
        offsets.reset();
        resident_slot.clear();
        row_ptrs.reset();
        std::vector<const float*>().swap(host_ptrs);
        std::vector<float>().swap(host_centroids);
        std::vector<int32_t>().swap(host_labels);
        std::vector<float>().swap(host_dist2);
        centroids.reset();
        centroid_norms.reset();
        x.reset();
        x_norms.reset();
        labels.reset();
        dist2.reset();
        part_value.reset();
        part_index.reset();
    }

    // Allocates every buffer of plan p; false (nothing kept) when the device ran out.
    bool allocate(const MemoryPlan& p, size_t k_, size_t d_, size_t pinned_rows) {
        release();
        const size_t x_rows = p.pinned ? pinned_rows : p.batch_rows;
        const bool ok = centroids.allocate(k_ * d_) && centroid_norms.allocate(k_) && x.allocate(x_rows * d_) &&
                        x_norms.allocate(x_rows) && labels.allocate(p.batch_rows) && dist2.allocate(p.batch_rows) &&
                        part_value.allocate(p.part_slots) && part_index.allocate(p.part_slots) &&
                        (!p.pinned || (order.allocate(pinned_rows) && offsets.allocate(k_ + 1)));
        if (!ok) release();
        return ok;
    }

    // Allocates every buffer of batch plan p; false (nothing kept) when the device ran out.
    bool allocate_batch(const BatchPlan& p, size_t count, size_t n, size_t k_, size_t d_) {
        release();
        const size_t slots = p.resident ? count : p.group;
        const bool ok = x.allocate(slots * n * d_) && x_norms.allocate(slots * n) &&
                        centroids.allocate(p.group * k_ * d_) && centroid_norms.allocate(p.group * k_) &&
                        labels.allocate(p.group * n) && dist2.allocate(p.group * n) &&
                        part_value.allocate(p.group * p.part_stride) && part_index.allocate(p.group * p.part_stride) &&
                        row_ptrs.allocate(2 * p.group);
        if (!ok) {
            release();
            return false;
        }
        host_ptrs.resize(2 * p.group);
        host_centroids.resize(p.group * k_ * d_);
        host_labels.resize(p.group * n);
        host_dist2.resize(p.group * n);
        return true;
    }
};

// A context for a device with what the launches need to know about it.
std::unique_ptr<Context> make_context(int device, size_t memory_limit);

// The ABI's set_centroids, assign and update (see pg_ivf_cuda.h).
void set_centroids_impl(Context& c, const float* centroids, size_t k, size_t d, size_t rows_hint,
                        const float* pin, size_t pin_rows, bool keep);
void assign_impl(Context& c, const float* x, size_t row0, size_t n, int32_t* labels, float* dist2);
void update_impl(Context& c, const uint64_t* order, const int64_t* offsets, float* centroids, int* done);

// The ABI's plan_batch and assign_batch (see pg_ivf_cuda.h).
void plan_batch_impl(Context& c, size_t count, size_t n, size_t k, size_t d, const float* const* x, bool fresh,
                     int* resident, size_t* group);
void assign_batch_impl(Context& c, size_t count, const float* const* x, const float* const* centroids,
                       int32_t* const* labels, float* const* dist2);

}  // namespace pg_ivf::gpu
