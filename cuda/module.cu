// pg_ivf_cuda.so: the C ABI of pg_ivf_cuda.h over the CUDA runtime (linked
// statically, so the module needs nothing but the NVIDIA driver, which the
// runtime itself dlopen()s on first use): the probe and its self-test, and
// the entry points, each of which catches everything and returns a status
// code and a message, so nothing but plain data leaves the module.  The work
// itself is in context.cu and batch.cu, the kernels in kernels.cu.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "context.h"
#include "kernels.h"
#include "gpu/pg_ivf_cuda.h"

#ifndef PG_IVF_CUDA_ARCHS
#define PG_IVF_CUDA_ARCHS "unknown architectures"
#endif
#define PG_IVF_STR2(x) #x
#define PG_IVF_STR(x) PG_IVF_STR2(x)

namespace pg_ivf::gpu {
namespace {

// The oldest GPUs the SASS in this module runs on (sm_80 code runs on 8.x).
constexpr int kMinComputeMajor = 8;

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
