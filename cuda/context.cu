// One problem at a time: planning, centroid upload, assignment of streamed
// or pinned rows, and the k-means update over pinned rows (see context.h).
#include <cstring>

#include "context.h"
#include "kernels.h"

namespace pg_ivf::gpu {
namespace {

// Plans and allocates for a new shape.  Memory is planned from what the
// device reports free; if allocation still fails (someone else took memory
// meanwhile) the pin is dropped first, then the budget halved.
void replan(Context& c, size_t k, size_t d, size_t rows_hint, const float* pin, size_t pin_rows) {
    c.release();
    size_t free_bytes = 0;
    size_t total_bytes = 0;
    check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    size_t budget = usable_bytes(free_bytes, c.memory_limit);
    size_t pin_try = pin != nullptr ? pin_rows : 0;
    for (int attempt = 0; attempt < kAllocationTries; ++attempt) {
        MemoryPlan p;
        if (!plan_memory(budget, k, d, rows_hint, pin_try, c.multiprocessors, &p)) break;
        if (c.allocate(p, k, d, pin_try)) {
            c.plan = p;
            c.k = k;
            c.d = d;
            c.pin = pin;
            c.pin_rows = pin_rows;
            if (p.pinned) {
                check(cudaMemcpy(c.x.get(), pin, pin_rows * d * sizeof(float), cudaMemcpyHostToDevice),
                      "copying the training rows to the device");
                check(launch_norms(c.x.get(), pin_rows, d, c.x_norms.get()), "row norms kernel launch");
            }
            c.planned = true;
            return;
        }
        if (pin_try > 0)
            pin_try = 0;
        else
            budget /= 2;
    }
    const double need = (static_cast<double>(k) * (d + 1) * sizeof(float) +
                         static_cast<double>(extra_part_slots(c.multiprocessors)) * 8.0 +
                         static_cast<double>(d + 4) * sizeof(float) * kTileRows) / 1048576.0;
    throw Failure(PG_IVF_CUDA_OUT_OF_MEMORY,
                  "%zu centroids of dimension %zu and one batch need about %.0f MiB of device memory; "
                  "%.0f MiB of %.0f MiB are free%s",
                  k, d, need, static_cast<double>(free_bytes) / 1048576.0,
                  static_cast<double>(total_bytes) / 1048576.0,
                  c.memory_limit > 0 ? " (a memory limit is set)" : "");
}

}  // namespace

// Uploads the centroids (after replanning when the shape changed) and their norms.
void set_centroids_impl(Context& c, const float* centroids, size_t k, size_t d, size_t rows_hint,
                        const float* pin, size_t pin_rows, bool keep) {
    if (centroids == nullptr || k == 0 || d == 0)
        throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "set_centroids needs k >= 1 centroids of d >= 1 dimensions");
    if (k >= static_cast<size_t>(kNoIndex))
        throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "at most %d centroids are supported", kNoIndex - 1);
    if ((pin == nullptr) != (pin_rows == 0))
        throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "pinned rows need both a pointer and a row count");
    use_device(c.device);
    const bool same = c.planned && !c.batch_planned && c.k == k && c.d == d && c.pin == pin && c.pin_rows == pin_rows &&
                      !(c.plan.hint_limited && rows_hint > c.plan.batch_rows);
    if (!same) replan(c, k, d, rows_hint, pin, pin_rows);
    if (same && keep && c.centroids_current) return;
    c.centroids_current = false;
    check(cudaMemcpy(c.centroids.get(), centroids, k * d * sizeof(float), cudaMemcpyHostToDevice),
          "copying the centroids to the device");
    check(launch_norms(c.centroids.get(), k, d, c.centroid_norms.get()), "centroid norms kernel launch");
    c.centroids_current = true;
}

// One batch: rows to the device (unless pinned), the tile kernel, the
// per-row finish, results back.  The copies back synchronize, so an error
// of any kernel of the batch surfaces here.
void assign_impl(Context& c, const float* x, size_t row0, size_t n, int32_t* labels, float* dist2) {
    if (!c.planned) throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "assign before set_centroids");
    if (n == 0) return;
    if (labels == nullptr || dist2 == nullptr) throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "no output arrays");
    if (n > c.plan.batch_rows)
        throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "%zu rows exceed the batch size %zu", n, c.plan.batch_rows);
    use_device(c.device);
    const float* rows;
    const float* norms;
    if (x != nullptr) {
        // The buffer holds the pinned rows in a pinned plan; never overwrite them.
        if (c.plan.pinned)
            throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "rows given to a context that pins its rows");
        check(cudaMemcpy(c.x.get(), x, n * c.d * sizeof(float), cudaMemcpyHostToDevice),
              "copying rows to the device");
        check(launch_norms(c.x.get(), n, c.d, c.x_norms.get()), "row norms kernel launch");
        rows = c.x.get();
        norms = c.x_norms.get();
    } else {
        if (!c.plan.pinned || row0 > c.pin_rows || n > c.pin_rows - row0)
            throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "rows [%zu, %zu) are not pinned", row0, row0 + n);
        rows = c.x.get() + row0 * c.d;
        norms = c.x_norms.get() + row0;
    }
    const Grid grid = plan_grid(n, c.k, c.multiprocessors, c.plan.part_slots);
    TileArgs args;
    args.x = rows;
    args.centroids = c.centroids.get();
    args.centroid_norms = c.centroid_norms.get();
    args.n = n;
    args.k = c.k;
    args.d = c.d;
    args.col_tiles_per_split = grid.col_tiles_per_split;
    args.part_value = c.part_value.get();
    args.part_index = c.part_index.get();
    check(launch_assign(args, grid), "assignment kernel launch");
    check(launch_finish(c.part_value.get(), c.part_index.get(), n, grid.splits, norms, c.labels.get(),
                        c.dist2.get()),
          "finish kernel launch");
    check(cudaMemcpy(labels, c.labels.get(), n * sizeof(int32_t), cudaMemcpyDeviceToHost),
          "running the assignment kernels");
    check(cudaMemcpy(dist2, c.dist2.get(), n * sizeof(float), cudaMemcpyDeviceToHost),
          "copying distances from the device");
}

// The centroid update over the pinned rows (see update in pg_ivf_cuda.h).
// The grouping comes from the host; it is checked there, so a wrong row id
// can never make the kernel read outside the pinned rows.
void update_impl(Context& c, const uint64_t* order, const int64_t* offsets, float* centroids, int* done) {
    *done = 0;
    if (order == nullptr || offsets == nullptr || centroids == nullptr)
        throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "update needs the grouping and an output array");
    if (!c.planned || !c.plan.pinned) return;      // the rows are not here: the host updates
    if (!update_launchable(c.k, c.d)) return;      // beyond one launch's grid: likewise
    const size_t n = c.pin_rows;
    if (offsets[0] != 0 || offsets[c.k] != static_cast<int64_t>(n))
        throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "the grouping covers %lld rows, %zu are pinned",
                      static_cast<long long>(offsets[c.k] - offsets[0]), n);
    for (size_t cl = 0; cl < c.k; ++cl)
        if (offsets[cl + 1] < offsets[cl])
            throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "cluster %zu has a negative row count", cl);
    for (size_t p = 0; p < n; ++p)
        if (order[p] >= n) throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "row id %zu is not pinned", p);
    use_device(c.device);
    check(cudaMemcpy(c.order.get(), order, n * sizeof(uint64_t), cudaMemcpyHostToDevice),
          "copying the row grouping to the device");
    check(cudaMemcpy(c.offsets.get(), offsets, (c.k + 1) * sizeof(int64_t), cudaMemcpyHostToDevice),
          "copying the cluster offsets to the device");
    c.centroids_current = false;  // the kernel overwrites them (their norms are stale too)
    check(launch_update(c.x.get(), c.d, c.order.get(), c.offsets.get(), c.k, c.centroids.get()),
          "update kernel launch");
    check(cudaMemcpy(centroids, c.centroids.get(), c.k * c.d * sizeof(float), cudaMemcpyDeviceToHost),
          "running the update kernel");
    *done = 1;
}

std::unique_ptr<Context> make_context(int device, size_t memory_limit) {
    use_device(device);
    auto c = std::make_unique<Context>();
    c->device = device;
    c->memory_limit = memory_limit;
    check(cudaDeviceGetAttribute(&c->multiprocessors, cudaDevAttrMultiProcessorCount, device),
          "cudaDeviceGetAttribute");
    return c;
}

}  // namespace pg_ivf::gpu
