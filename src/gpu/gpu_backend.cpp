// Loader of pg_ivf_cuda.so and the GPU assigner over its C ABI (see gpu_backend.h).
#include "gpu_backend.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace pg_ivf::gpu {
namespace {

// The probe's result for this process (a PostgreSQL backend), filled once.
bool g_probed = false;
BackendState g_state;
const PgIvfCudaApi* g_api = nullptr;

// Records why the backend is not usable, prefixed with its category.
void set_reason(BackendState& s, int status, const char* detail) {
    s.usable = false;
    s.status = status;
    std::snprintf(s.reason, sizeof(s.reason), "%s: %s", status_category(status),
                  detail != nullptr && detail[0] != '\0' ? detail : "no detail");
}

// What both assignment paths refuse, as the CPU assigner does.
void check_shape(size_t n, size_t k) {
    if (n > 0 && k == 0) throw std::invalid_argument("k-means assignment needs at least one centroid");
    if (k >= static_cast<size_t>(std::numeric_limits<int32_t>::max()))
        throw std::invalid_argument("GPU assignment supports fewer than 2^31 - 1 centroids");
}

// With d == 0 every centroid is at distance 0: the lowest index wins.
void assign_without_dimensions(size_t n, int32_t* labels, float* dist2) {
    std::fill(labels, labels + n, 0);
    std::fill(dist2, dist2 + n, 0.0f);
}

}  // namespace

// Short enough for an error DETAIL, specific enough to act on.
const char* status_category(int status) {
    switch (status) {
        case PG_IVF_CUDA_OK:
            return "usable";
        case PG_IVF_CUDA_NO_DRIVER:
            return "no NVIDIA driver";
        case PG_IVF_CUDA_OLD_DRIVER:
            return "NVIDIA driver too old";
        case PG_IVF_CUDA_NO_DEVICE:
            return "no CUDA device";
        case PG_IVF_CUDA_UNSUPPORTED_DEVICE:
            return "GPU not supported";
        case PG_IVF_CUDA_OUT_OF_MEMORY:
            return "out of GPU memory";
        case PG_IVF_CUDA_INVALID_ARGUMENT:
            return "invalid request to the CUDA module";
        case PG_IVF_CUDA_MODULE_MISSING:
            return "CUDA module not installed";
        case PG_IVF_CUDA_MODULE_UNLOADABLE:
            return "CUDA module cannot be loaded";
        default:
            return "CUDA error";
    }
}

// stat, dlopen, the ABI handshake, then the module's own probe.  The module
// is never dlclose()d: it holds the CUDA runtime, whose state lives until exit.
BackendState load_backend(const char* module_path, const PgIvfCudaApi** api) {
    BackendState s;
    std::memset(&s, 0, sizeof(s));
    *api = nullptr;
    std::snprintf(s.module_path, sizeof(s.module_path), "%s", module_path);
    char detail[400];

    struct stat st;
    if (stat(module_path, &st) != 0) {
        std::snprintf(detail, sizeof(detail), "%s does not exist (pg_ivf was built without nvcc)", module_path);
        set_reason(s, PG_IVF_CUDA_MODULE_MISSING, detail);
        return s;
    }
    void* handle = dlopen(module_path, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = dlerror();
        set_reason(s, PG_IVF_CUDA_MODULE_UNLOADABLE, why != nullptr ? why : module_path);
        return s;
    }
    auto entry = reinterpret_cast<PgIvfCudaApiFn>(dlsym(handle, PG_IVF_CUDA_ENTRY));
    if (entry == nullptr) {
        std::snprintf(detail, sizeof(detail), "%s has no symbol %s", module_path, PG_IVF_CUDA_ENTRY);
        set_reason(s, PG_IVF_CUDA_MODULE_UNLOADABLE, detail);
        return s;
    }
    const PgIvfCudaApi* table = entry(PG_IVF_CUDA_ABI_VERSION);
    if (table == nullptr || table->abi_version != PG_IVF_CUDA_ABI_VERSION ||
        table->struct_size < sizeof(PgIvfCudaApi)) {
        std::snprintf(detail, sizeof(detail),
                      "%s does not speak ABI version %d of this pg_ivf; install both from one build",
                      module_path, PG_IVF_CUDA_ABI_VERSION);
        set_reason(s, PG_IVF_CUDA_MODULE_UNLOADABLE, detail);
        return s;
    }
    std::snprintf(s.module_build, sizeof(s.module_build), "%s", table->build != nullptr ? table->build : "");

    char err[400] = "";
    const int status = table->probe(0, &s.info, err, sizeof(err));
    if (status != PG_IVF_CUDA_OK) {
        set_reason(s, status, err);
        return s;
    }
    s.usable = true;
    s.status = PG_IVF_CUDA_OK;
    *api = table;
    return s;
}

// The first call loads and probes; a backend never loads the module twice.
const BackendState& probe_backend(const char* module_path) {
    if (!g_probed) {
        g_state = load_backend(module_path, &g_api);
        g_probed = true;
    }
    return g_state;
}

// Only a usable probe hands out the table.
const PgIvfCudaApi* backend_api() { return g_probed && g_state.usable ? g_api : nullptr; }

void mark_backend_unusable(const char* detail) {
    char text[400];
    std::snprintf(text, sizeof(text), "an earlier GPU call of this process failed: %s", detail);
    g_probed = true;
    g_api = nullptr;
    set_reason(g_state, PG_IVF_CUDA_ERROR, text);
}

// Cheap: the device context is created by the first assign().
GpuAssigner::GpuAssigner(const PgIvfCudaApi* api, int device, const float* resident, size_t resident_rows,
                         uint64_t memory_limit, const float* fixed_centroids)
    : api_(api), device_(device), resident_(resident), resident_rows_(resident_rows),
      fixed_centroids_(fixed_centroids), memory_limit_(memory_limit) {
    if (api_ == nullptr) throw std::invalid_argument("GpuAssigner needs the CUDA module's table");
}

// Frees the context and with it all device memory of this assigner.
GpuAssigner::~GpuAssigner() {
    if (ctx_ != nullptr) api_->destroy(ctx_);
}

// A CUDA error (not a resource or argument problem) may have left the
// process's context broken: later builds of this backend avoid the GPU.
void GpuAssigner::fail(int status, const char* step, const char* detail) {
    if (status == PG_IVF_CUDA_ERROR) mark_backend_unusable(detail);
    throw std::runtime_error(std::string("GPU ") + step + ": " + status_category(status) + ": " + detail);
}

// The device context, created on first use.
void GpuAssigner::ensure_context() {
    if (ctx_ != nullptr) return;
    char err[400] = "";
    const int status = api_->create(device_, memory_limit_, &ctx_, err, sizeof(err));
    if (status != PG_IVF_CUDA_OK) {
        ctx_ = nullptr;
        fail(status, "setup", err);
    }
}

// Same contract as CpuAssigner::assign(); batches come from the module's plan.
void GpuAssigner::assign(const float* x, size_t n, const float* centroids, size_t k, size_t d, int32_t* labels,
                         float* dist2, const core::Hooks& hooks) {
    check_shape(n, k);
    pinned_ = false;
    if (n == 0) return;
    if (d == 0) {
        assign_without_dimensions(n, labels, dist2);
        return;
    }
    ensure_context();
    char err[400] = "";
    int status;
    const bool resident = resident_ != nullptr && x == resident_ && n == resident_rows_;
    // The fixed centroids went up with the previous call: the module keeps them.
    const bool keep = centroids == fixed_centroids_ && centroids == last_centroids_ && k == pinned_k_ &&
                      d == pinned_d_;
    int pinned = 0;
    size_t batch = 0;
    last_centroids_ = nullptr;
    status = api_->set_centroids(ctx_, centroids, k, d, n, resident ? x : nullptr, resident ? n : 0, keep ? 1 : 0,
                                 &pinned, &batch, err, sizeof(err));
    if (status != PG_IVF_CUDA_OK) fail(status, "centroid upload", err);
    last_centroids_ = centroids;
    if (batch == 0) fail(PG_IVF_CUDA_ERROR, "centroid upload", "the module planned empty batches");
    pinned_ = pinned != 0;
    pinned_k_ = k;
    pinned_d_ = d;
    for (size_t row0 = 0; row0 < n; row0 += batch) {
        const size_t m = std::min(batch, n - row0);
        status = api_->assign(ctx_, pinned_ ? nullptr : x + row0 * d, row0, m, labels + row0, dist2 + row0, err,
                              sizeof(err));
        if (status != PG_IVF_CUDA_OK) fail(status, "assignment", err);
        if (hooks.cancelled()) throw core::Cancelled();
        hooks.report(row0 + m, n);
    }
}

// Only right after an assign() that read exactly these rows pinned: the
// module's centroids are then the ones the grouping came from.
bool GpuAssigner::update_centroids(const float* x, size_t n, size_t k, size_t d, const int64_t* offsets,
                                   const uint64_t* order, float* centroids, const core::Hooks&) {
    // The module's centroids must be the ones of that assign(): an update
    // (or anything else) since then changed them.
    if (ctx_ == nullptr || !pinned_ || x != resident_ || n != resident_rows_ || k != pinned_k_ ||
        d != pinned_d_ || centroids != last_centroids_)
        return false;
    char err[400] = "";
    int done = 0;
    last_centroids_ = nullptr;  // the update overwrites the module's copy
    const int status = api_->update(ctx_, order, offsets, centroids, &done, err, sizeof(err));
    if (status != PG_IVF_CUDA_OK) fail(status, "centroid update", err);
    if (done != 0) ++device_updates_;
    return done != 0;
}

// Same results as assign() on each job; the module plans how many problems
// one launch takes, and this loop polls the hooks between launches.
void GpuAssigner::assign_batch(const core::AssignJob* jobs, size_t count, size_t n, size_t k, size_t d,
                               const core::Hooks& hooks) {
    if (count == 0) return;
    check_shape(n, k);
    batch_resident_ = false;
    batch_group_ = 0;
    pinned_ = false;  // a batch plan replaces the pinned rows' plan and the centroids
    last_centroids_ = nullptr;
    if (n == 0) return;
    if (d == 0) {
        for (size_t i = 0; i < count; ++i) assign_without_dimensions(n, jobs[i].labels, jobs[i].dist2);
        return;
    }
    ensure_context();
    std::vector<const float*> x(count);
    std::vector<const float*> centroids(count);
    std::vector<int32_t*> labels(count);
    std::vector<float*> dist2(count);
    for (size_t i = 0; i < count; ++i) {
        x[i] = jobs[i].x;
        centroids[i] = jobs[i].centroids;
        labels[i] = jobs[i].labels;
        dist2[i] = jobs[i].dist2;
    }
    char err[400] = "";
    int resident = 0;
    size_t group = 0;
    int status = api_->plan_batch(ctx_, count, n, k, d, x.data(), fresh_ ? 1 : 0, &resident, &group, err,
                                  sizeof(err));
    if (status != PG_IVF_CUDA_OK) fail(status, "batch planning", err);
    if (group == 0) {
        // Not one problem fits beside its buffers: stream each by itself.
        fresh_ = true;
        core::Assigner::assign_batch(jobs, count, n, k, d, hooks);
        return;
    }
    fresh_ = false;
    batch_resident_ = resident != 0;
    batch_group_ = std::min(group, count);
    for (size_t i0 = 0; i0 < count; i0 += group) {
        const size_t m = std::min(group, count - i0);
        status = api_->assign_batch(ctx_, m, x.data() + i0, centroids.data() + i0, labels.data() + i0,
                                    dist2.data() + i0, err, sizeof(err));
        if (status != PG_IVF_CUDA_OK) fail(status, "batched assignment", err);
        if (hooks.cancelled()) throw core::Cancelled();
    }
}

}  // namespace pg_ivf::gpu
