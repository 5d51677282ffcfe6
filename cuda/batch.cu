// Many small problems of one shape per launch (PQ's sub-quantizers): the
// batch plan and its assignment (see context.h and pg_ivf_cuda.h).
#include <cstring>

#include "context.h"
#include "kernels.h"

namespace pg_ivf::gpu {

// Plans a batch (see plan_batch in pg_ivf_cuda.h).  *group = 0 when not one
// problem fits; the pin-or-halve retries mirror replan().
void plan_batch_impl(Context& c, size_t count, size_t n, size_t k, size_t d, const float* const* x, bool fresh,
                     int* resident, size_t* group) {
    if (count == 0 || n == 0 || k == 0 || d == 0 || x == nullptr)
        throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "plan_batch needs problems with rows, centroids and dimensions");
    if (k >= static_cast<size_t>(kNoIndex))
        throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "at most %d centroids are supported", kNoIndex - 1);
    for (size_t i = 0; i < count; ++i)
        if (x[i] == nullptr) throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "problem %zu has no rows", i);
    use_device(c.device);
    bool same = !fresh && c.batch_planned && c.k == k && c.d == d && c.batch_n == n && count <= c.batch_count;
    if (same && c.batch.resident)
        for (size_t i = 0; i < count && same; ++i) same = c.resident_slot.count(x[i]) != 0;
    if (!same) {
        c.release();
        size_t free_bytes = 0;
        size_t total_bytes = 0;
        check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
        size_t budget = usable_bytes(free_bytes, c.memory_limit);
        bool placed = false;
        for (int attempt = 0; attempt < kAllocationTries && !placed; ++attempt, budget /= 2) {
            BatchPlan p;
            if (!plan_batch_memory(budget, count, n, k, d, c.multiprocessors, &p)) break;
            placed = c.allocate_batch(p, count, n, k, d);
            if (placed) c.batch = p;
        }
        if (!placed) {
            *resident = 0;
            *group = 0;
            return;
        }
        c.k = k;
        c.d = d;
        c.batch_n = n;
        c.batch_count = count;
        if (c.batch.resident) {
            for (size_t i = 0; i < count; ++i) {
                check(cudaMemcpy(c.x.get() + i * n * d, x[i], n * d * sizeof(float), cudaMemcpyHostToDevice),
                      "copying the training rows to the device");
                c.resident_slot.emplace(x[i], i);
            }
            check(launch_norms(c.x.get(), count * n, d, c.x_norms.get()), "row norms kernel launch");
        }
        c.batch_planned = true;
    }
    *resident = c.batch.resident ? 1 : 0;
    *group = c.batch.group;
}

// One launch for count problems: staged rows and all centroids up in one
// copy each, norms, the tile kernel over (row tiles, splits, problems), the
// per-row finish, results back in one copy each and spread to the callers'
// arrays.
void assign_batch_impl(Context& c, size_t count, const float* const* x, const float* const* centroids,
                       int32_t* const* labels, float* const* dist2) {
    if (!c.batch_planned) throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "assign_batch before plan_batch");
    if (count == 0) return;
    if (count > c.batch.group)
        throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "%zu problems exceed the group size %zu", count, c.batch.group);
    if (x == nullptr || centroids == nullptr || labels == nullptr || dist2 == nullptr)
        throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "assign_batch needs rows, centroids and output arrays");
    use_device(c.device);
    const size_t n = c.batch_n;
    const size_t k = c.k;
    const size_t d = c.d;
    for (size_t i = 0; i < count; ++i) {
        if (x[i] == nullptr || centroids[i] == nullptr || labels[i] == nullptr || dist2[i] == nullptr)
            throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "problem %zu lacks rows, centroids or outputs", i);
        size_t slot = i;
        if (c.batch.resident) {
            const auto it = c.resident_slot.find(x[i]);
            if (it == c.resident_slot.end())
                throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "the rows of problem %zu were not given to plan_batch", i);
            slot = it->second;
        } else {
            check(cudaMemcpy(c.x.get() + i * n * d, x[i], n * d * sizeof(float), cudaMemcpyHostToDevice),
                  "copying rows to the device");
        }
        c.host_ptrs[i] = c.x.get() + slot * n * d;
        c.host_ptrs[c.batch.group + i] = c.x_norms.get() + slot * n;
        std::memcpy(c.host_centroids.data() + i * k * d, centroids[i], k * d * sizeof(float));
    }
    if (!c.batch.resident) check(launch_norms(c.x.get(), count * n, d, c.x_norms.get()), "row norms kernel launch");
    check(cudaMemcpy(c.centroids.get(), c.host_centroids.data(), count * k * d * sizeof(float),
                     cudaMemcpyHostToDevice),
          "copying the centroids to the device");
    check(launch_norms(c.centroids.get(), count * k, d, c.centroid_norms.get()), "centroid norms kernel launch");
    check(cudaMemcpy(c.row_ptrs.get(), c.host_ptrs.data(), 2 * c.batch.group * sizeof(const float*),
                     cudaMemcpyHostToDevice),
          "copying row pointers to the device");

    const Grid grid = plan_grid(n, k, c.multiprocessors, c.batch.part_stride, count);
    BatchArgs b;
    b.shape.x = nullptr;
    b.shape.centroids = c.centroids.get();
    b.shape.centroid_norms = c.centroid_norms.get();
    b.shape.n = n;
    b.shape.k = k;
    b.shape.d = d;
    b.shape.col_tiles_per_split = grid.col_tiles_per_split;
    b.shape.part_value = c.part_value.get();
    b.shape.part_index = c.part_index.get();
    b.x = c.row_ptrs.get();
    b.x_norms = c.row_ptrs.get() + c.batch.group;
    b.part_stride = c.batch.part_stride;
    b.labels = c.labels.get();
    b.dist2 = c.dist2.get();
    check(launch_assign_batch(b, grid, count), "batched assignment kernel launch");
    check(launch_finish_batch(b, grid.splits, count * n), "batched finish kernel launch");
    check(cudaMemcpy(c.host_labels.data(), c.labels.get(), count * n * sizeof(int32_t), cudaMemcpyDeviceToHost),
          "running the batched assignment kernels");
    check(cudaMemcpy(c.host_dist2.data(), c.dist2.get(), count * n * sizeof(float), cudaMemcpyDeviceToHost),
          "copying distances from the device");
    for (size_t i = 0; i < count; ++i) {
        std::memcpy(labels[i], c.host_labels.data() + i * n, n * sizeof(int32_t));
        std::memcpy(dist2[i], c.host_dist2.data() + i * n, n * sizeof(float));
    }
}

}  // namespace pg_ivf::gpu
