// pg_ivf_cuda.so: the C ABI of pg_ivf_cuda.h over the CUDA runtime (linked
// statically, so the module needs nothing but the NVIDIA driver, which the
// runtime itself dlopen()s on first use).  Inside, C++ with exceptions and
// RAII device buffers; every entry point catches everything and returns a
// status code and a message, so nothing but plain data leaves the module.
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <unordered_map>
#include <vector>

#include "kernels.h"
#include "pg_ivf_cuda.h"
#include "plan.h"

#ifndef PG_IVF_CUDA_ARCHS
#define PG_IVF_CUDA_ARCHS "unknown architectures"
#endif
#define PG_IVF_STR2(x) #x
#define PG_IVF_STR(x) PG_IVF_STR2(x)

namespace pg_ivf::gpu {
namespace {

// The oldest GPUs the SASS in this module runs on (sm_80 code runs on 8.x).
constexpr int kMinComputeMajor = 8;
// Tries at allocating a plan when another process takes memory meanwhile.
constexpr int kAllocationTries = 6;

// A failure with its ABI status; turned into a code and a message at the boundary.
class Failure : public std::exception {
public:
    Failure(int status, const char* fmt, ...) __attribute__((format(printf, 3, 4))) : status_(status) {
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(message_, sizeof(message_), fmt, ap);
        va_end(ap);
    }
    int status() const { return status_; }
    const char* what() const noexcept override { return message_; }

private:
    int status_;
    char message_[400];
};

// The ABI status a runtime error means for the caller.
int status_of(cudaError_t e) {
    switch (e) {
        case cudaErrorMemoryAllocation:
            return PG_IVF_CUDA_OUT_OF_MEMORY;
        case cudaErrorInsufficientDriver:
        case cudaErrorUnsupportedPtxVersion:
        case cudaErrorCallRequiresNewerDriver:
            return PG_IVF_CUDA_OLD_DRIVER;
        case cudaErrorStubLibrary:
            return PG_IVF_CUDA_NO_DRIVER;
        case cudaErrorNoDevice:
        case cudaErrorInvalidDevice:
        case cudaErrorDevicesUnavailable:
            return PG_IVF_CUDA_NO_DEVICE;
        case cudaErrorNoKernelImageForDevice:
            return PG_IVF_CUDA_UNSUPPORTED_DEVICE;
        default:
            return PG_IVF_CUDA_ERROR;
    }
}

// Throws the Failure for a runtime error, naming the step that failed.
void check(cudaError_t e, const char* what) {
    if (e == cudaSuccess) return;
    (void)cudaGetLastError();  // clear a non-sticky error so the context stays usable
    throw Failure(status_of(e), "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

// The driver library, checked once: without it the runtime's own message
// ("driver version is insufficient") would blame a driver that is not there.
void require_driver() {
    static void* handle = nullptr;
    if (handle != nullptr) return;
    handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = dlerror();
        throw Failure(PG_IVF_CUDA_NO_DRIVER, "%s", why != nullptr ? why : "libcuda.so.1 cannot be loaded");
    }
}

// Makes `device` current for this thread; every entry point calls it first.
void use_device(int device) {
    require_driver();
    check(cudaSetDevice(device), "cudaSetDevice");
}

// A device allocation freed by its destructor, so every error path frees it.
template <class T>
class DeviceArray {
public:
    DeviceArray() = default;
    DeviceArray(const DeviceArray&) = delete;
    DeviceArray& operator=(const DeviceArray&) = delete;
    ~DeviceArray() { reset(); }

    // False when the device is out of memory (the caller may shrink and
    // retry); throws on any other error.
    bool allocate(size_t count) {
        reset();
        if (count == 0) return true;
        void* p = nullptr;
        const cudaError_t e = cudaMalloc(&p, count * sizeof(T));
        if (e == cudaErrorMemoryAllocation) {
            (void)cudaGetLastError();
            return false;
        }
        check(e, "cudaMalloc");
        ptr_ = static_cast<T*>(p);
        return true;
    }
    void reset() {
        if (ptr_ != nullptr) cudaFree(ptr_);
        ptr_ = nullptr;
    }
    T* get() const { return ptr_; }

private:
    T* ptr_ = nullptr;
};

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

// A context for a device with what the launches need to know about it.
std::unique_ptr<Context> make_context(int device, size_t memory_limit) {
    use_device(device);
    auto c = std::make_unique<Context>();
    c->device = device;
    c->memory_limit = memory_limit;
    check(cudaDeviceGetAttribute(&c->multiprocessors, cudaDevAttrMultiProcessorCount, device),
          "cudaDeviceGetAttribute");
    return c;
}

// Runs every path once on data with known answers: assignment of streamed
// and of pinned rows (two row tiles and a partial one, two column tiles, two
// dimension steps, so the bounds, the split merge and the tie-free arg-min
// are all exercised), the update over the pinned rows, and a batch of three
// problems.  All values are small multiples of 1/16, so every product and
// sum is exact and the expected distance is exactly 1/16.
void self_test(int device) {
    constexpr size_t n = 300;
    constexpr size_t k = 200;
    constexpr size_t d = 19;
    std::vector<float> x(n * d, 1.0f);
    std::vector<float> c(k * d, 1.0f);
    for (size_t i = 0; i < n; ++i) x[i * d] = static_cast<float>(i % k) + 0.25f;
    for (size_t j = 0; j < k; ++j) c[j * d] = static_cast<float>(j);
    std::vector<int32_t> labels(n, -1);
    std::vector<float> dist2(n, -1.0f);
    std::unique_ptr<Context> ctx = make_context(device, 0);
    const auto expect_labels = [&](const char* path) {
        for (size_t i = 0; i < n; ++i)
            if (labels[i] != static_cast<int32_t>(i % k) || dist2[i] != 0.0625f)
                throw Failure(PG_IVF_CUDA_ERROR,
                              "self-test (%s): row %zu went to centroid %d at squared distance %g, expected %zu at "
                              "0.0625",
                              path, i, labels[i], static_cast<double>(dist2[i]), i % k);
    };
    set_centroids_impl(*ctx, c.data(), k, d, n, nullptr, 0, false);
    assign_impl(*ctx, x.data(), 0, n, labels.data(), dist2.data());
    expect_labels("streamed rows");

    // Pinned rows, then the update over them: clusters 0..99 hold two rows,
    // 100..199 one; the device must give the host's cluster_mean() bits.
    set_centroids_impl(*ctx, c.data(), k, d, n, x.data(), n, false);
    if (ctx->plan.pinned) {
        std::fill(labels.begin(), labels.end(), -1);
        assign_impl(*ctx, nullptr, 0, n, labels.data(), dist2.data());
        expect_labels("pinned rows");
        std::vector<int64_t> offsets(k + 1, 0);
        std::vector<uint64_t> order;
        for (size_t cl = 0; cl < k; ++cl) {
            for (size_t i = cl; i < n; i += k) order.push_back(i);
            offsets[cl + 1] = static_cast<int64_t>(order.size());
        }
        std::vector<float> updated(k * d, -1.0f);
        int done = 0;
        update_impl(*ctx, order.data(), offsets.data(), updated.data(), &done);
        if (done)
            for (size_t cl = 0; cl < k; ++cl)
                for (size_t j = 0; j < d; ++j) {
                    const float want = core::cluster_mean(x.data(), d, order.data(), offsets[cl], offsets[cl + 1], j);
                    if (updated[cl * d + j] != want)
                        throw Failure(PG_IVF_CUDA_ERROR, "self-test: update gave %g for centroid %zu dimension %zu, "
                                      "expected %g", static_cast<double>(updated[cl * d + j]), cl, j,
                                      static_cast<double>(want));
                }
    }

    // The batched path: problem p reads the rows rotated by 7p places and
    // the centroids rotated by p places, so a wrong per-problem offset in
    // any buffer (rows, norms, centroids, partials, outputs) shows.  Batches
    // are optional: a device too full for these three is not failed for it.
    constexpr size_t problems = 3;
    std::vector<float> rows(problems * n * d);
    std::vector<float> rotated(problems * k * d);
    for (size_t p = 0; p < problems; ++p) {
        for (size_t i = 0; i < n; ++i)
            std::memcpy(rows.data() + (p * n + i) * d, x.data() + ((i + 7 * p) % n) * d, d * sizeof(float));
        for (size_t j = 0; j < k; ++j)
            std::memcpy(rotated.data() + (p * k + j) * d, c.data() + ((j + p) % k) * d, d * sizeof(float));
    }
    std::vector<int32_t> blabels(problems * n, -1);
    std::vector<float> bdist2(problems * n, -1.0f);
    const float* xs[problems];
    const float* cs[problems];
    int32_t* ls[problems];
    float* ds[problems];
    for (size_t p = 0; p < problems; ++p) {
        xs[p] = rows.data() + p * n * d;
        cs[p] = rotated.data() + p * k * d;
        ls[p] = blabels.data() + p * n;
        ds[p] = bdist2.data() + p * n;
    }
    int resident = 0;
    size_t group = 0;
    plan_batch_impl(*ctx, problems, n, k, d, xs, true, &resident, &group);
    if (group < problems) return;
    assign_batch_impl(*ctx, problems, xs, cs, ls, ds);
    for (size_t p = 0; p < problems; ++p)
        for (size_t i = 0; i < n; ++i) {
            const size_t want = (((i + 7 * p) % n) % k + k - p) % k;
            if (ls[p][i] != static_cast<int32_t>(want) || ds[p][i] != 0.0625f)
                throw Failure(PG_IVF_CUDA_ERROR,
                              "self-test: batch problem %zu row %zu went to centroid %d at squared distance %g, "
                              "expected %zu at 0.0625",
                              p, i, ls[p][i], static_cast<double>(ds[p][i]), want);
        }
}

// Copies a message into the caller's buffer (always NUL-terminated).
void write_message(char* err, size_t errlen, const char* message) {
    if (err != nullptr && errlen > 0) std::snprintf(err, errlen, "%s", message);
}

// Runs fn and turns whatever it throws into a status and a message.
template <class Fn>
int guarded(char* err, size_t errlen, Fn&& fn) noexcept {
    try {
        fn();
        return PG_IVF_CUDA_OK;
    } catch (const Failure& f) {
        write_message(err, errlen, f.what());
        return f.status();
    } catch (const std::bad_alloc&) {
        write_message(err, errlen, "out of host memory in the CUDA module");
        return PG_IVF_CUDA_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        write_message(err, errlen, e.what());
        return PG_IVF_CUDA_ERROR;
    } catch (...) {
        write_message(err, errlen, "unknown exception in the CUDA module");
        return PG_IVF_CUDA_ERROR;
    }
}

// ---- the ABI -------------------------------------------------------------

// Driver, device, capability and a self-test, in that order; info is filled as far as it got.
int api_probe(int device, PgIvfCudaDeviceInfo* info, char* err, size_t errlen) {
    if (info == nullptr) {
        write_message(err, errlen, "probe needs an info struct");
        return PG_IVF_CUDA_INVALID_ARGUMENT;
    }
    std::memset(info, 0, sizeof(*info));
    info->device = device;
    return guarded(err, errlen, [&] {
        check(cudaRuntimeGetVersion(&info->runtime_version), "cudaRuntimeGetVersion");
        require_driver();
        check(cudaDriverGetVersion(&info->driver_version), "cudaDriverGetVersion");
        if (info->driver_version == 0) throw Failure(PG_IVF_CUDA_NO_DRIVER, "the CUDA driver reports no version");
        if (info->driver_version / 1000 < info->runtime_version / 1000)
            throw Failure(PG_IVF_CUDA_OLD_DRIVER, "the driver supports CUDA %d.%d; this module needs CUDA %d.x",
                          info->driver_version / 1000, info->driver_version % 1000 / 10,
                          info->runtime_version / 1000);
        check(cudaGetDeviceCount(&info->device_count), "cudaGetDeviceCount");
        if (device < 0 || device >= info->device_count)
            throw Failure(PG_IVF_CUDA_NO_DEVICE, "device %d does not exist (%d visible)", device,
                          info->device_count);
        cudaDeviceProp p;
        check(cudaGetDeviceProperties(&p, device), "cudaGetDeviceProperties");
        std::snprintf(info->name, sizeof(info->name), "%s", p.name);
        info->compute_major = p.major;
        info->compute_minor = p.minor;
        info->multiprocessors = p.multiProcessorCount;
        info->total_memory = p.totalGlobalMem;
        if (p.major < kMinComputeMajor)
            throw Failure(PG_IVF_CUDA_UNSUPPORTED_DEVICE,
                          "%s has compute capability %d.%d; this module runs on %d.0 and newer (%s)", p.name,
                          p.major, p.minor, kMinComputeMajor, PG_IVF_CUDA_ARCHS);
        use_device(device);
        self_test(device);
        size_t free_bytes = 0;
        size_t total_bytes = 0;
        check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
        info->free_memory = free_bytes;
    });
}

// Free and total device memory now (ivf_gpu_info).
int api_memory(int device, uint64_t* free_bytes, uint64_t* total_bytes, char* err, size_t errlen) {
    return guarded(err, errlen, [&] {
        if (free_bytes == nullptr || total_bytes == nullptr)
            throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "memory needs two output pointers");
        use_device(device);
        size_t f = 0;
        size_t t = 0;
        check(cudaMemGetInfo(&f, &t), "cudaMemGetInfo");
        *free_bytes = f;
        *total_bytes = t;
    });
}

// A context for one assigner; nothing large is allocated until set_centroids.
int api_create(int device, uint64_t memory_limit, void** ctx, char* err, size_t errlen) {
    return guarded(err, errlen, [&] {
        if (ctx == nullptr) throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "create needs an output pointer");
        *ctx = nullptr;
        *ctx = make_context(device, static_cast<size_t>(memory_limit)).release();
    });
}

// Frees the context and its device buffers; safe on NULL.
void api_destroy(void* ctx) {
    auto* c = static_cast<Context*>(ctx);
    if (c == nullptr) return;
    (void)cudaSetDevice(c->device);  // cudaFree in the destructors needs the device current
    delete c;
}

// See pg_ivf_cuda.h: uploads centroids, (re)plans buffers when the shape changes.
int api_set_centroids(void* ctx, const float* centroids, size_t k, size_t d, size_t rows_hint, const float* pin,
                      size_t pin_rows, int keep, int* pinned, size_t* batch_rows, char* err, size_t errlen) {
    return guarded(err, errlen, [&] {
        if (ctx == nullptr || pinned == nullptr || batch_rows == nullptr)
            throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "set_centroids needs a context and output pointers");
        auto& c = *static_cast<Context*>(ctx);
        set_centroids_impl(c, centroids, k, d, rows_hint, pin, pin_rows, keep != 0);
        *pinned = c.plan.pinned ? 1 : 0;
        *batch_rows = c.plan.batch_rows;
    });
}

// One batch of at most batch_rows rows, synchronously.
int api_assign(void* ctx, const float* x, size_t row0, size_t n, int32_t* labels, float* dist2, char* err,
               size_t errlen) {
    return guarded(err, errlen, [&] {
        if (ctx == nullptr) throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "assign needs a context");
        assign_impl(*static_cast<Context*>(ctx), x, row0, n, labels, dist2);
    });
}

// See pg_ivf_cuda.h: the k-means update on the pinned rows.
int api_update(void* ctx, const uint64_t* order, const int64_t* offsets, float* centroids, int* done, char* err,
               size_t errlen) {
    return guarded(err, errlen, [&] {
        if (ctx == nullptr || done == nullptr)
            throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "update needs a context and an output flag");
        update_impl(*static_cast<Context*>(ctx), order, offsets, centroids, done);
    });
}

// See pg_ivf_cuda.h: plans (and uploads) a batch of problems of one shape.
int api_plan_batch(void* ctx, size_t count, size_t n, size_t k, size_t d, const float* const* x, int fresh,
                   int* resident, size_t* group, char* err, size_t errlen) {
    return guarded(err, errlen, [&] {
        if (ctx == nullptr || resident == nullptr || group == nullptr)
            throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "plan_batch needs a context and output pointers");
        plan_batch_impl(*static_cast<Context*>(ctx), count, n, k, d, x, fresh != 0, resident, group);
    });
}

// Up to group problems in one launch, synchronously.
int api_assign_batch(void* ctx, size_t count, const float* const* x, const float* const* centroids,
                     int32_t* const* labels, float* const* dist2, char* err, size_t errlen) {
    return guarded(err, errlen, [&] {
        if (ctx == nullptr) throw Failure(PG_IVF_CUDA_INVALID_ARGUMENT, "assign_batch needs a context");
        assign_batch_impl(*static_cast<Context*>(ctx), count, x, centroids, labels, dist2);
    });
}

const PgIvfCudaApi kApi = {
    PG_IVF_CUDA_ABI_VERSION,
    sizeof(PgIvfCudaApi),
    "nvcc " PG_IVF_STR(__CUDACC_VER_MAJOR__) "." PG_IVF_STR(__CUDACC_VER_MINOR__) "; " PG_IVF_CUDA_ARCHS,
    api_probe,
    api_memory,
    api_create,
    api_destroy,
    api_set_centroids,
    api_assign,
    api_update,
    api_plan_batch,
    api_assign_batch,
};

}  // namespace
}  // namespace pg_ivf::gpu

// The module's one exported symbol (see cuda/exports.map).
extern "C" __attribute__((visibility("default"))) const PgIvfCudaApi* pg_ivf_cuda_api(uint32_t abi_version) {
    return abi_version == PG_IVF_CUDA_ABI_VERSION ? &pg_ivf::gpu::kApi : nullptr;
}
